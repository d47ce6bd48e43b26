/* SPDX-License-Identifier: MIT */
/*
 * Table memory: segments, table pages and their descriptors.
 *
 * The library asks table_alloc for segments (cfg.segment_size bytes,
 * aligned to that size) and carves table pages out of them. The last
 * pages of a segment hold the descriptors of all its pages, 64 bytes each,
 * in page order; the descriptor of the first of these pages, which is no
 * table, is the segment's header. (Tables first: a segment of two pages
 * starts with its one table, which keeps allocator traces readable.) So the descriptor of the table at CPU
 * address va is found by arithmetic alone (pt_desc() in pt.h): mask va down
 * to its segment, index by the page number. Walkers never read
 * descriptors; writers read the one of each table they change.
 *
 * A page that goes back is zeroed (if it was written) and kept on its
 * segment's free list; a segment whose pages are all free goes back to
 * table_free, except one kept for reuse while table_cache is not zero.
 * The root is one allocation of its own, with its descriptor in the
 * domain.
 */
#include "pt.h"

static void stat_max(_Atomic uint64_t *peak, uint64_t v)
{
	uint64_t old = atomic_load_explicit(peak, memory_order_relaxed);
	while (old < v && !atomic_compare_exchange_weak_explicit(
				  peak, &old, v, memory_order_relaxed,
				  memory_order_relaxed))
		;
}

static void stat_live(struct iopgt_domain *dom, int64_t pages, int64_t bytes)
{
	uint64_t p = atomic_fetch_add_explicit(&dom->st.pages_live,
					       (uint64_t)pages,
					       memory_order_relaxed) + (uint64_t)pages;
	uint64_t b = atomic_fetch_add_explicit(&dom->st.bytes_live,
					       (uint64_t)bytes,
					       memory_order_relaxed) + (uint64_t)bytes;
	if (pages > 0) {
		stat_max(&dom->st.pages_peak, p);
		stat_max(&dom->st.bytes_peak, b);
	}
}

/* ------------------------------------------------------------------------
 * The segment lock: short critical sections (list and free-list updates);
 * the allocator callbacks are never called under it. Freestanding: no
 * mutex, so a spinning lock.
 */

static void seg_lock(struct iopgt_domain *dom)
{
	while (atomic_exchange_explicit(&dom->seg_lock, 1,
					memory_order_acquire))
		while (atomic_load_explicit(&dom->seg_lock,
					    memory_order_relaxed))
			pt_relax();
}

static void seg_unlock(struct iopgt_domain *dom)
{
	atomic_store_explicit(&dom->seg_lock, 0, memory_order_release);
}

/* The header of the segment at CPU address base: the descriptor slot of
 * its first descriptor page. */
static struct pt_seg *seg_hdr(const struct iopgt_domain *dom, uintptr_t base)
{
	return (struct pt_seg *)(void *)((struct pt_table *)(base +
							     dom->seg_desc_off) +
					 (dom->seg_pages - dom->seg_meta_pages));
}

static uintptr_t seg_base(const struct iopgt_domain *dom, const void *p)
{
	return (uintptr_t)p & ~dom->seg_mask;
}

static struct pt_seg *seg_of(const struct iopgt_domain *dom,
			     const struct pt_table *t)
{
	return seg_hdr(dom, seg_base(dom, t));
}

/* Table pages a segment holds. */
static unsigned seg_tables(const struct iopgt_domain *dom)
{
	return dom->seg_pages - dom->seg_meta_pages;
}

static void avail_add(struct iopgt_domain *dom, struct pt_seg *s)
{
	s->prev = NULL;
	s->next = dom->seg_avail;
	if (s->next)
		s->next->prev = s;
	dom->seg_avail = s;
	s->on_avail = 1;
}

static void avail_del(struct iopgt_domain *dom, struct pt_seg *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		dom->seg_avail = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->on_avail = 0;
}

/* Whether the hardware can walk to size bytes at pa: they lie below
 * 2^oas, the domain's output address size (an ARM walk to a table beyond
 * it is an Address size fault; an x86 table address above MAXPHYADDR sets
 * reserved bits). */
static bool reachable(const struct iopgt_domain *dom, uint64_t pa, size_t size)
{
	uint64_t last = pa + (size - 1);

	return last >= pa && !(last & dom->oas_mask);
}

/* A new segment from table_alloc, its descriptor pages zeroed and its
 * header set up; NULL if the allocation failed or the memory is unusable
 * (beyond the output address size, which the allocator may not know of;
 * or, breaking its contract, misaligned or at another CPU-to-hardware
 * offset than the rest while there is no phys_to_virt). */
static struct pt_seg *seg_new(struct iopgt_domain *dom)
{
	struct iopgt_mem_ops *mem = &dom->cfg.mem;
	size_t size = (size_t)dom->seg_mask + 1;
	uint64_t pa = 0;
	char *va = mem->table_alloc(dom->table_arg, size, &pa);
	struct pt_seg *s;

	if (!va)
		return NULL;
	if (!reachable(dom, pa, size)) {
		mem->table_free(dom->table_arg, va, pa, size);
		return NULL;
	}
	/* A growing domain's root is a segment's page: its first segment,
	 * made before the domain has a root, fixes the offset. */
	if (!dom->root && !dom->seg_all)
		dom->va_off = (uintptr_t)va - pa;
	if (((uintptr_t)va & dom->seg_mask) ||
	    (pa & (dom->geo.table_size - 1)) ||
	    (!dom->cfg.phys_to_virt &&
	     (uintptr_t)va - pa != dom->va_off)) {
		pt_assert("table_alloc returned memory the library can use "
			  "(aligned to its size; with no phys_to_virt, at the "
			  "root's CPU-to-hardware offset)",
			  false);
		mem->table_free(dom->table_arg, va, pa, size);
		return NULL;
	}
	pt_memset(va + dom->seg_desc_off, 0,
		  (size_t)dom->seg_meta_pages << dom->table_shift);
	s = seg_hdr(dom, (uintptr_t)va);
	s->pa = pa;
	s->bump = 0;
	s->used = 0;
	s->nfree = 0;
	s->free = NULL;
	pt_stat_add(&dom->st.segments, 1);
	return s;
}

/* Take s off the list of all segments; the caller holds the lock. */
static void all_del(struct iopgt_domain *dom, struct pt_seg *s)
{
	struct pt_seg **p = &dom->seg_all;

	while (*p != s)
		p = &(*p)->all;
	*p = s->all;
}

static void seg_delete(struct iopgt_domain *dom, struct pt_seg *s)
{
	struct iopgt_mem_ops *mem = &dom->cfg.mem;

	mem->table_free(dom->table_arg, (void *)seg_base(dom, s), s->pa,
			(size_t)dom->seg_mask + 1);
	atomic_fetch_sub_explicit(&dom->st.segments, 1, memory_order_relaxed);
}

/* A page of s with its descriptor; the caller holds the lock and s has
 * room. *fresh: the page was never used (its contents are not zero). */
static struct pt_table *seg_take(struct iopgt_domain *dom, struct pt_seg *s,
				 bool *fresh)
{
	struct pt_table *t;

	if (s->free) {
		t = s->free;
		s->free = t->next;
		s->nfree--;
		*fresh = false;
	} else {
		unsigned i = s->bump++;
		uintptr_t base = seg_base(dom, s);
		t = (struct pt_table *)(base + dom->seg_desc_off) + i;
		t->va = (pt_entry_t *)(base + ((uintptr_t)i << dom->table_shift));
		t->pa = s->pa + ((uint64_t)i << dom->table_shift);
		*fresh = true;
	}
	if (!s->used++)
		dom->seg_empty--; /* it was empty: kept for reuse */
	if (!s->free && s->bump == seg_tables(dom))
		avail_del(dom, s);
	return t;
}

/* A zeroed table page for `level`, owned by `owner`. NULL if a segment
 * could not be allocated. */
struct pt_table *iopgt__table_alloc(struct iopgt_domain *dom, unsigned level,
				    uint64_t owner)
{
	struct pt_table *t;
	struct pt_seg *s;
	bool fresh;

	seg_lock(dom);
	while (!dom->seg_avail) {
		seg_unlock(dom);
		s = seg_new(dom);
		if (!s)
			return NULL;
		seg_lock(dom);
		s->all = dom->seg_all;
		dom->seg_all = s;
		avail_add(dom, s);
		dom->seg_empty++;
	}
	t = seg_take(dom, dom->seg_avail, &fresh);
	seg_unlock(dom);
	if (fresh)
		pt_memset((void *)t->va, 0, dom->geo.table_size);
	t->level = (uint8_t)level;
	t->shift = (uint8_t)pt_shift(&dom->geo, level);
	t->mask = dom->geo.mask[level];
	t->owner = owner;
	t->flags = 0;
	t->pinned = 0;
	t->next = NULL;
	t->iova = 0;
	t->epoch = 0;
	atomic_store_explicit(&t->st, 0, memory_order_relaxed);
	pt_stat_add(&dom->st.pages_alloc, 1);
	stat_live(dom, 1, (int64_t)dom->geo.table_size);
	return t;
}

/* A table going back for reuse must be all zero. */
static void assert_zero(const struct iopgt_domain *dom, const struct pt_table *t)
{
	size_t n = dom->geo.table_size / sizeof(uint64_t);

	if (IOPGT_DEBUG < 2)
		return;
	for (size_t i = 0; i < n; i++)
		pt_assert_expensive("a released table has no entry",
				    atomic_load_explicit(&t->va[i],
							 memory_order_relaxed) == 0);
}

/* How many segments with no page in use are kept for reuse. */
static unsigned seg_keep(const struct iopgt_domain *dom)
{
	return dom->cache_limit ? 1 : 0;
}

/* Pages given back under one hold of the segment lock, at most. */
#define RELEASE_BATCH 64

/* Give the pages of the list t (linked by next) back to their segments:
 * zero those that may hold entries, then take the segment lock once for
 * up to RELEASE_BATCH pages, so that a thread freeing many (the worker,
 * RCU's callbacks) and one allocating take turns on the lock's line per
 * batch, not per page. Segments left with no page in use beyond the one
 * kept go back to table_free after the lock is dropped. Returns how many
 * pages. */
unsigned long iopgt__release_list(struct iopgt_domain *dom,
				  struct pt_table *t)
{
	unsigned long total = 0;

	while (t) {
		struct pt_table *rest = t, *p, *next;
		struct pt_seg *gone = NULL, *s;
		unsigned n = 0;

		for (; rest && n < RELEASE_BATCH; rest = rest->next, n++) {
			if (atomic_load_explicit(&rest->flags,
						 memory_order_relaxed) &
			    PT_F_DIRTY) {
				pt_memset((void *)rest->va, 0,
					  dom->geo.table_size);
				atomic_store_explicit(&rest->flags, 0,
						      memory_order_relaxed);
			}
			assert_zero(dom, rest);
		}
		pt_stat_add(&dom->st.pages_freed, n);
		stat_live(dom, -(int64_t)n, -(int64_t)n * dom->geo.table_size);
		seg_lock(dom);
		for (p = t; p != rest; p = next) {
			next = p->next;
			s = seg_of(dom, p);
			p->next = s->free;
			s->free = p;
			s->nfree++;
			if (!s->on_avail)
				avail_add(dom, s);
			if (!--s->used && ++dom->seg_empty > seg_keep(dom)) {
				avail_del(dom, s);
				all_del(dom, s);
				dom->seg_empty--;
				s->next = gone; /* on no list now */
				gone = s;
			}
		}
		seg_unlock(dom);
		while (gone) {
			s = gone;
			gone = s->next;
			seg_delete(dom, s);
		}
		total += n;
		t = rest;
	}
	return total;
}

void iopgt__table_release(struct iopgt_domain *dom, struct pt_table *t)
{
	t->next = NULL;
	iopgt__release_list(dom, t);
}

void iopgt__table_free_unpublished(struct iopgt_domain *dom, struct pt_table *t)
{
	iopgt__table_release(dom, t);
}

/* Return the segments with no page in use (iopgt_reclaim). */
void iopgt__cache_trim(struct iopgt_domain *dom)
{
	for (;;) {
		struct pt_seg *s, *gone = NULL;

		seg_lock(dom);
		for (s = dom->seg_avail; s; s = s->next) {
			if (!s->used) {
				avail_del(dom, s);
				all_del(dom, s);
				dom->seg_empty--;
				gone = s;
				break;
			}
		}
		seg_unlock(dom);
		if (!gone)
			return;
		seg_delete(dom, gone);
	}
}

/* Free every segment (destroy: no table is in use any more). */
void iopgt__segments_destroy(struct iopgt_domain *dom)
{
	struct pt_seg *s = dom->seg_all;

	while (s) {
		struct pt_seg *next = s->all;
		seg_delete(dom, s);
		s = next;
	}
	dom->seg_all = NULL;
	dom->seg_avail = NULL;
	dom->seg_empty = 0;
}

/* Pages of the kept empty segments: for the statistics. */
uint64_t iopgt__pages_cached(struct iopgt_domain *dom)
{
	unsigned n;

	/* Under the lock: a release (another thread's sync, or a strategy's
	 * own thread) may be changing it. */
	seg_lock(dom);
	n = dom->seg_empty;
	seg_unlock(dom);
	return (uint64_t)n * seg_tables(dom);
}

struct pt_table *iopgt__root_alloc(struct iopgt_domain *dom, int *err)
{
	struct iopgt_mem_ops *mem = &dom->cfg.mem;
	struct pt_table *t = &dom->root_desc;
	size_t size = dom->geo.root_size;
	uint64_t pa = 0;
	void *va = mem->table_alloc(dom->table_arg, size, &pa);
	unsigned top = dom->geo.levels - 1;

	*err = -ENOMEM;
	if (!va)
		return NULL;
	/* The whole root aligned to its size: a concatenated root is one
	 * block of root_tables pages, aligned to all of them (the base
	 * register holds its address with the bits below that size zero). */
	if (((uintptr_t)va & (size - 1)) || (pa & (size - 1)))
		*err = -EINVAL;
	else if (!reachable(dom, pa, size))
		*err = -ERANGE;
	else
		*err = 0;
	if (*err) {
		mem->table_free(dom->table_arg, va, pa, size);
		return NULL;
	}
	pt_memset(va, 0, size);
	pt_memset(t, 0, sizeof(*t));
	t->pinned = 1; /* never unlinked, parked or coalesced */
	t->va = va;
	t->pa = pa;
	t->level = (uint8_t)top;
	t->shift = (uint8_t)pt_shift(&dom->geo, top);
	t->mask = dom->geo.mask[top];
	dom->va_off = (uintptr_t)va - pa;
	pt_stat_add(&dom->st.pages_alloc, 1);
	stat_live(dom, 1, (int64_t)size);
	return t;
}

void iopgt__root_free(struct iopgt_domain *dom, struct pt_table *t)
{
	struct iopgt_mem_ops *mem = &dom->cfg.mem;

	mem->table_free(dom->table_arg, (void *)t->va, t->pa,
			dom->geo.root_size);
	pt_stat_add(&dom->st.pages_freed, 1);
	stat_live(dom, -1, -(int64_t)dom->geo.root_size);
}
