/* SPDX-License-Identifier: MIT */
/*
 * Table memory: hardware table pages, their descriptors, and the cache of
 * zeroed tables. A table that unmap emptied is already all zero, so keeping
 * a few for reuse saves both the allocator and the zeroing of a fresh page.
 */
#include "pt.h"

static size_t meta_size(const struct iopgt_domain *dom, unsigned level)
{
	size_t n = level ? pt_nr_entries(&dom->geo, level) : 0;
	return sizeof(struct pt_table) + n * sizeof(struct pt_table *);
}

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

/* A descriptor with `nchild` child slots and a zeroed page of `size` bytes. */
static struct pt_table *table_new(struct iopgt_domain *dom, size_t msize,
				  size_t size, bool child)
{
	struct iopgt_mem_ops *mem = &dom->cfg.mem;
	struct pt_table *t = mem->meta_alloc(mem->arg, msize);
	uint64_t pa = 0;
	void *va;

	if (!t)
		return NULL;
	va = mem->table_alloc(dom->table_arg, size, &pa);
	if (!va) {
		mem->meta_free(mem->arg, t, msize);
		return NULL;
	}
	if ((pa & (dom->geo.table_size - 1)) ||
	    (pa >> dom->eng->max_oas)) {
		/* The entry cannot hold this address: unusable memory. */
		mem->table_free(dom->table_arg, va, pa, size);
		mem->meta_free(mem->arg, t, msize);
		return NULL;
	}
	pt_memset(t, 0, msize);
	pt_memset(va, 0, size);
	t->va = va;
	t->pa = pa;
	t->child = child ? (void *)(t + 1) : NULL;
	pt_stat_add(&dom->st.pages_alloc, 1);
	pt_stat_add(&dom->st.meta_bytes, msize);
	stat_live(dom, 1, (int64_t)size);
	return t;
}

static void table_delete(struct iopgt_domain *dom, struct pt_table *t,
			 size_t msize, size_t size)
{
	struct iopgt_mem_ops *mem = &dom->cfg.mem;

	mem->table_free(dom->table_arg, (void *)t->va, t->pa, size);
	mem->meta_free(mem->arg, t, msize);
	pt_stat_add(&dom->st.pages_freed, 1);
	atomic_fetch_sub_explicit(&dom->st.meta_bytes, msize,
				  memory_order_relaxed);
	stat_live(dom, -1, -(int64_t)size);
}

struct pt_table *iopgt__table_alloc(struct iopgt_domain *dom, unsigned level,
				uint64_t owner)
{
	unsigned kind = level > 0;
	struct pt_table *t = NULL;

	for (unsigned i = 0; i < dom->cache_limit; i++) {
		_Atomic(struct pt_table *) *slot = &dom->cache[kind][i];
		if (atomic_load_explicit(slot, memory_order_relaxed) &&
		    (t = atomic_exchange_explicit(slot, NULL,
						  memory_order_acquire))) {
			atomic_fetch_sub_explicit(&dom->st.pages_cached, 1,
						  memory_order_relaxed);
			break;
		}
	}
	if (!t) {
		t = table_new(dom, meta_size(dom, level), dom->geo.table_size,
			      kind);
		if (!t)
			return NULL;
	}
	t->level = (uint8_t)level;
	t->shift = (uint8_t)pt_shift(&dom->geo, level);
	t->mask = dom->geo.mask[level];
	t->owner = owner;
	t->flags = 0;
	t->next = NULL;
	t->iova = 0;
	atomic_store_explicit(&t->st, 0, memory_order_relaxed);
	return t;
}

/* A table going back for reuse must be all zero: entries and child
 * pointers. */
static void assert_zero(const struct iopgt_domain *dom, const struct pt_table *t)
{
	size_t n = dom->geo.table_size / sizeof(uint64_t);

	if (IOPGT_DEBUG < 2)
		return;
	for (size_t i = 0; i < n; i++)
		pt_assert_expensive("a released table has no entry",
				    atomic_load_explicit(&t->va[i],
							 memory_order_relaxed) == 0);
	if (t->child)
		for (size_t i = 0; i < pt_nr_entries(&dom->geo, t->level); i++)
			pt_assert_expensive(
				"a released table has no child",
				atomic_load_explicit(&t->child[i],
						     memory_order_relaxed) == NULL);
}

void iopgt__table_release(struct iopgt_domain *dom, struct pt_table *t)
{
	unsigned kind = t->level > 0;

	if (t->flags & PT_F_DIRTY) {
		pt_memset((void *)t->va, 0, dom->geo.table_size);
		if (t->child)
			pt_memset((void *)t->child, 0,
			       pt_nr_entries(&dom->geo, t->level) *
				       sizeof(struct pt_table *));
		t->flags = 0;
	}
	assert_zero(dom, t);
	for (unsigned i = 0; i < dom->cache_limit; i++) {
		struct pt_table *empty = NULL;
		if (atomic_compare_exchange_strong_explicit(
			    &dom->cache[kind][i], &empty, t,
			    memory_order_release, memory_order_relaxed)) {
			pt_stat_add(&dom->st.pages_cached, 1);
			return;
		}
	}
	table_delete(dom, t, meta_size(dom, t->level), dom->geo.table_size);
}

void iopgt__table_free_unpublished(struct iopgt_domain *dom, struct pt_table *t)
{
	iopgt__table_release(dom, t);
}

/* Free a table for good (destroy), whatever its contents. */
void iopgt__table_delete(struct iopgt_domain *dom, struct pt_table *t)
{
	table_delete(dom, t, meta_size(dom, t->level), dom->geo.table_size);
}

void iopgt__cache_trim(struct iopgt_domain *dom)
{
	for (unsigned kind = 0; kind < 2; kind++) {
		for (unsigned i = 0; i < PT_CACHE_SLOTS; i++) {
			struct pt_table *t = atomic_exchange_explicit(
				&dom->cache[kind][i], NULL,
				memory_order_acquire);
			if (t) {
				atomic_fetch_sub_explicit(&dom->st.pages_cached,
							  1, memory_order_relaxed);
				iopgt__table_delete(dom, t);
			}
		}
	}
}

static size_t root_meta_size(const struct iopgt_domain *dom)
{
	return sizeof(struct pt_table) +
	       pt_nr_entries(&dom->geo, dom->geo.levels - 1) *
		       sizeof(struct pt_table *);
}

struct pt_table *iopgt__root_alloc(struct iopgt_domain *dom)
{
	struct pt_table *t = table_new(dom, root_meta_size(dom),
				       dom->geo.root_size, true);

	if (t) {
		unsigned top = dom->geo.levels - 1;
		t->level = (uint8_t)top;
		t->shift = (uint8_t)pt_shift(&dom->geo, top);
		t->mask = dom->geo.mask[top];
	}
	return t;
}

void iopgt__root_free(struct iopgt_domain *dom, struct pt_table *t)
{
	table_delete(dom, t, root_meta_size(dom), dom->geo.root_size);
}
