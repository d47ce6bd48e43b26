/* SPDX-License-Identifier: MIT */
/*
 * The default table allocator of a hosted build: table pages carved from
 * larger chunks of anonymous memory from mmap.
 *
 * Why: a table page must be aligned to its size. aligned_alloc(4096, 4096)
 * in glibc takes a 4K-aligned piece out of a bigger block and keeps the
 * rest as headers and fragments, so a 4K table costs about 8 KiB of
 * resident memory (and the fragments slow later allocations down). Pages
 * carved from aligned chunks cost their own size and nothing more.
 *
 * How:
 *  - Sizes 4K, 8K, 16K and 32K (a size class each) come from 2 MiB chunks
 *    aligned to 2 MiB. A chunk is split into slots of its class's size;
 *    slots are aligned to their size because the chunk is aligned to 2 MiB.
 *  - Sizes of 64K and more (concatenated roots, 64K-granule tables) get a
 *    mapping each: too few of them fit in a chunk to be worth carving.
 *  - Alignment: map the size first; if the kernel did not place it aligned,
 *    map size + alignment - 4K instead and unmap the unaligned head and
 *    tail. Mappings are mostly placed next to the previous one, so the
 *    first try is usually aligned already and costs one mmap.
 *  - RSS: a chunk hands out never-used slots lazily, with a bump index, so
 *    the slots nobody asked for are never touched and cost no resident
 *    memory. Freed slots go on a list per chunk, linked through their first
 *    word, and are handed out again before new ones. A chunk whose slots
 *    are all free again is unmapped, except one per class, kept so that a
 *    domain allocating and freeing around a chunk boundary does not mmap
 *    and munmap on every table. Chunks are marked MADV_NOHUGEPAGE: where
 *    transparent huge pages are enabled "always", the kernel would
 *    otherwise back a whole aligned 2 MiB chunk with a huge page at the
 *    first touch, 2 MiB of RSS for one table. Large mappings of 2 MiB
 *    multiples (segments) are marked the same while the domain has less
 *    than 2 MiB of large mappings, and MADV_HUGEPAGE after
 *    (huge_advice()).
 *  - Metadata: the chunk header lives in the first slot of its chunk and is
 *    found from any slot by masking the address with the chunk size (as
 *    mimalloc finds its segments). No global address-to-chunk map, no
 *    lookup and no lock to find it, and no malloc next to every mmap. The
 *    cost is one slot per chunk: 1/512 of a 4K chunk, 1/128 of a 16K one,
 *    of which only the first 4K page is ever touched, so 4 KiB of RSS per
 *    2 MiB chunk (0.2%). The header is never handed out, so the hardware
 *    never walks it.
 *  - Concurrency: one mutex per size class (on its own cache line) guards
 *    the class's chunk lists and the chunks' headers and free lists. The
 *    locked section is a few loads and stores; mmap and munmap run outside
 *    it. Two threads finding the class full at once may both map a chunk;
 *    the one that comes back second unmaps its own and takes a slot from
 *    the other.
 *
 *  - Reach: pa = va, so a domain whose output address size lies below the
 *    process's address space (oas 32 to 46 on x86-64) needs its table
 *    pages below 2^oas. The allocator is created with that limit; as long
 *    as mmap's own choice lies below it, nothing changes; once it does
 *    not, mappings are placed by hint from 1 GiB up (map_low()).
 *
 * Under AddressSanitizer a freed slot is poisoned until handed out again,
 * as the heap allocator would, so use-after-free of a table page is still
 * reported.
 */
#define _GNU_SOURCE
#include <assert.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "alloc_default.h"

#if defined(__SANITIZE_ADDRESS__)
#define ALLOC_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ALLOC_ASAN 1
#endif
#endif
#ifdef ALLOC_ASAN
#include <sanitizer/asan_interface.h>
#define poison(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define unpoison(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define poison(p, n) ((void)(p), (void)(n))
#define unpoison(p, n) ((void)(p), (void)(n))
#endif

#define CHUNK_SHIFT 21
#define CHUNK_SIZE ((size_t)1 << CHUNK_SHIFT)
#define MIN_SHIFT 12   /* smallest page: 4K */
#define LARGE_SHIFT 16 /* from 64K on, a mapping per page */
#define NR_CLASSES (LARGE_SHIFT - MIN_SHIFT)
#define MAX_SHIFT 30   /* refuse sizes beyond 1 GiB */

struct link {
	struct link *next, *prev;
};

/* Header of a chunk, in its first slot. */
struct chunk {
	struct link link;  /* on its class's avail or full list */
	void *free;        /* freed slots, linked through their first word */
	unsigned bump;     /* next never-used slot */
	unsigned nslots;   /* slots in the chunk, the header's included */
	unsigned used;     /* slots handed out and not freed */
	unsigned shift;    /* log2 of the slot size */
};

struct size_class {
	alignas(64) pthread_mutex_t lock;
	struct link avail; /* chunks with a free or never-used slot */
	struct link full;  /* chunks without */
	unsigned nempty;   /* chunks on avail with no slot in use */
};

struct iopgt__chunks {
	struct size_class cls[NR_CLASSES];
	alignas(64) _Atomic size_t mapped; /* bytes: chunks and large pages */
	_Atomic size_t large_mapped;       /* bytes: large pages alone */
	uint64_t limit;       /* every mapping ends at or below it; 0: none */
	_Atomic bool low;     /* mmap's choice went beyond limit: place by
	                       * hint (map_low) */
	_Atomic uintptr_t hint; /* where map_low tries first */
};

static void list_init(struct link *h)
{
	h->next = h->prev = h;
}

static bool list_empty(const struct link *h)
{
	return h->next == h;
}

static void list_insert(struct link *l, struct link *prev, struct link *next)
{
	l->prev = prev;
	l->next = next;
	prev->next = l;
	next->prev = l;
}

static void list_del(struct link *l)
{
	l->prev->next = l->next;
	l->next->prev = l->prev;
}

static struct chunk *chunk_of_link(struct link *l)
{
	return (struct chunk *)((char *)l - offsetof(struct chunk, link));
}

static bool chunk_has_room(const struct chunk *ch)
{
	return ch->free || ch->bump < ch->nslots;
}

/* A fresh mapping of size bytes aligned to align (a power of two, at least
 * 4K), wherever mmap puts it; NULL if out of memory. */
static void *map_anywhere(size_t size, size_t align)
{
	const int prot = PROT_READ | PROT_WRITE;
	const int flags = MAP_PRIVATE | MAP_ANONYMOUS;
	uintptr_t p, a, end;
	size_t over;
	void *m;

	m = mmap(NULL, size, prot, flags, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	if (!((uintptr_t)m & (align - 1)))
		return m;
	munmap(m, size);

	/* mmap returns at least 4K-aligned addresses. */
	over = size + align - 4096;
	if (over < size)
		return NULL;
	m = mmap(NULL, over, prot, flags, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	p = (uintptr_t)m;
	a = (p + align - 1) & ~(uintptr_t)(align - 1);
	end = p + over;
	if (a > p)
		munmap(m, a - p);
	if (end > a + size)
		munmap((void *)(a + size), end - (a + size));
	return (void *)a;
}

/* map_low() starts at 1 GiB: below 2 GiB, which stays application memory
 * under the sanitizers (AddressSanitizer's shadow begins just under 2^31
 * on x86-64), and above the first 16 MiB, where a program linked at a
 * fixed address and its heap lie. */
#define LOW_START ((uintptr_t)1 << 30)
#define LOW_FLOOR ((uintptr_t)1 << 24)
#define LOW_TRIES 64

static bool below_limit(const struct iopgt__chunks *c, const void *m,
			size_t size)
{
	return !c->limit || (uint64_t)(uintptr_t)m + size <= c->limit;
}

/* A mapping of size bytes aligned to align that ends at or below
 * c->limit, placed by hint: from where the last one ended, stepping over
 * what is taken by growing strides, starting again from the floor when
 * past the limit. NULL after LOW_TRIES attempts. A hint never replaces
 * an existing mapping (MAP_FIXED_NOREPLACE, or a plain hint where that is
 * unknown: the kernel then places it elsewhere, and it is given back). */
static void *map_low(struct iopgt__chunks *c, size_t size, size_t align)
{
	const int prot = PROT_READ | PROT_WRITE;
#ifdef MAP_FIXED_NOREPLACE
	const int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE;
#else
	const int flags = MAP_PRIVATE | MAP_ANONYMOUS;
#endif
	uint64_t top = c->limit;
	uintptr_t a = atomic_load_explicit(&c->hint, memory_order_relaxed);
	uint64_t step = size;

	if (top > (uint64_t)UINTPTR_MAX)
		top = (uint64_t)UINTPTR_MAX;
	if (!a)
		a = LOW_START;
	for (unsigned i = 0; i < LOW_TRIES; i++) {
		void *m;

		a = (a + align - 1) & ~(uintptr_t)(align - 1);
		if (a < LOW_FLOOR || (uint64_t)a + size > top) {
			a = (LOW_FLOOR + align - 1) & ~(uintptr_t)(align - 1);
			step = size;
			if ((uint64_t)a + size > top)
				return NULL;
		}
		m = mmap((void *)a, size, prot, flags, -1, 0);
		if (m == (void *)a) {
			atomic_store_explicit(&c->hint, a + size,
					      memory_order_relaxed);
			return m;
		}
		if (m != MAP_FAILED)
			munmap(m, size);
		a += (uintptr_t)step;
		if (step < ((uint64_t)1 << 30))
			step *= 2;
	}
	return NULL;
}

/* A fresh mapping of size bytes aligned to align, below c->limit. */
static void *map_aligned(struct iopgt__chunks *c, size_t size, size_t align)
{
	void *m;

	if (!atomic_load_explicit(&c->low, memory_order_relaxed)) {
		m = map_anywhere(size, align);
		if (!m || below_limit(c, m, size))
			return m;
		munmap(m, size);
		atomic_store_explicit(&c->low, true, memory_order_relaxed);
	}
	return map_low(c, size, align);
}

static void unmap(struct iopgt__chunks *c, void *va, size_t size)
{
	unpoison(va, size);
	munmap(va, size);
	atomic_fetch_sub_explicit(&c->mapped, size, memory_order_relaxed);
}

static struct chunk *chunk_new(struct iopgt__chunks *c, unsigned shift)
{
	struct chunk *ch = map_aligned(c, CHUNK_SIZE, CHUNK_SIZE);

	if (!ch)
		return NULL;
	atomic_fetch_add_explicit(&c->mapped, CHUNK_SIZE, memory_order_relaxed);
	/* Errors ignored: a kernel without THP has nothing to disable. */
#ifdef MADV_NOHUGEPAGE
	madvise(ch, CHUNK_SIZE, MADV_NOHUGEPAGE);
#endif
	ch->free = NULL;
	ch->bump = 1; /* slot 0 holds this header */
	ch->nslots = (unsigned)(CHUNK_SIZE >> shift);
	ch->used = 0;
	ch->shift = shift;
	return ch;
}

/* log2 of size if it is a power of two we serve, else 0. */
static unsigned size_shift(size_t size)
{
	unsigned s;

	if (size & (size - 1))
		return 0;
	for (s = MIN_SHIFT; s <= MAX_SHIFT; s++)
		if (size == (size_t)1 << s)
			return s;
	return 0;
}

struct iopgt__chunks *iopgt__chunks_create(uint64_t limit)
{
	struct iopgt__chunks *c = aligned_alloc(alignof(struct iopgt__chunks),
						sizeof(*c));
	unsigned k;

	if (!c)
		return NULL;
	memset(c, 0, sizeof(*c));
	for (k = 0; k < NR_CLASSES; k++) {
		struct size_class *sc = &c->cls[k];

		if (pthread_mutex_init(&sc->lock, NULL))
			goto fail;
		list_init(&sc->avail);
		list_init(&sc->full);
	}
	atomic_init(&c->mapped, 0);
	c->limit = limit;
	return c;
fail:
	while (k--)
		pthread_mutex_destroy(&c->cls[k].lock);
	free(c);
	return NULL;
}

static void unmap_list(struct iopgt__chunks *c, struct link *h)
{
	while (!list_empty(h)) {
		struct link *l = h->next;

		list_del(l);
		unmap(c, chunk_of_link(l), CHUNK_SIZE);
	}
}

void iopgt__chunks_destroy(struct iopgt__chunks *c)
{
	if (!c)
		return;
	for (unsigned k = 0; k < NR_CLASSES; k++) {
		struct size_class *sc = &c->cls[k];

		unmap_list(c, &sc->avail);
		unmap_list(c, &sc->full);
		pthread_mutex_destroy(&sc->lock);
	}
	free(c);
}

/* Take a slot of ch, the first chunk on sc->avail. Under sc->lock. */
static void *slot_take(struct size_class *sc, struct chunk *ch)
{
	void *va;

	if (!ch->used)
		sc->nempty--;
	if (ch->free) {
		va = ch->free;
		unpoison(va, (size_t)1 << ch->shift);
		ch->free = *(void **)va;
	} else {
		/* Never used since the chunk was mapped or last emptied (a
		 * kept chunk's slots were poisoned when they were freed). */
		va = (char *)ch + ((size_t)ch->bump++ << ch->shift);
		unpoison(va, (size_t)1 << ch->shift);
	}
	ch->used++;
	if (!chunk_has_room(ch)) {
		list_del(&ch->link);
		list_insert(&ch->link, sc->full.prev, &sc->full);
	}
	return va;
}

static void *class_alloc(struct iopgt__chunks *c, unsigned shift)
{
	struct size_class *sc = &c->cls[shift - MIN_SHIFT];
	struct chunk *fresh = NULL;
	void *va;

	pthread_mutex_lock(&sc->lock);
	if (list_empty(&sc->avail)) {
		pthread_mutex_unlock(&sc->lock);
		fresh = chunk_new(c, shift);
		if (!fresh)
			return NULL;
		pthread_mutex_lock(&sc->lock);
		/* Room may have appeared meanwhile (another thread's new
		 * chunk, or a free): then use it and unmap this chunk. */
		if (list_empty(&sc->avail)) {
			list_insert(&fresh->link, &sc->avail, sc->avail.next);
			sc->nempty++;
			fresh = NULL;
		}
	}
	va = slot_take(sc, chunk_of_link(sc->avail.next));
	pthread_mutex_unlock(&sc->lock);
	if (fresh)
		unmap(c, fresh, CHUNK_SIZE);
	return va;
}

static void class_free(struct iopgt__chunks *c, void *va, unsigned shift)
{
	struct size_class *sc = &c->cls[shift - MIN_SHIFT];
	struct chunk *ch = (struct chunk *)((uintptr_t)va & ~(CHUNK_SIZE - 1));
	struct chunk *gone = NULL, *keep = NULL;
	bool was_full;

	pthread_mutex_lock(&sc->lock);
	assert(ch->shift == shift && (void *)ch != va);
	assert(ch->used > 0);
	was_full = !chunk_has_room(ch);
	*(void **)va = ch->free;
	ch->free = va;
	poison(va, (size_t)1 << shift);
	ch->used--;
	if (!ch->used) {
		list_del(&ch->link);
		if (sc->nempty) {
			gone = ch;
		} else {
			/* Kept empty, but its pages go back to the system
			 * first (below, outside the lock): off every list and
			 * reset to never-used slots meanwhile, so nobody takes
			 * a slot from it; counted already, so that no second
			 * chunk is kept. */
			keep = ch;
			ch->free = NULL;
			ch->bump = 1;
			sc->nempty++;
		}
	} else if (was_full) {
		/* Nearly full: first in line, to be filled up again. */
		list_del(&ch->link);
		list_insert(&ch->link, &sc->avail, sc->avail.next);
	}
	pthread_mutex_unlock(&sc->lock);
	if (gone)
		unmap(c, gone, CHUNK_SIZE);
	if (keep) {
		size_t slot = (size_t)1 << shift;

		madvise((char *)keep + slot, CHUNK_SIZE - slot, MADV_DONTNEED);
		pthread_mutex_lock(&sc->lock);
		/* Last in line, so partly used chunks fill up first. */
		list_insert(&keep->link, sc->avail.prev, &sc->avail);
		pthread_mutex_unlock(&sc->lock);
	}
}

/* Transparent huge pages for large mappings (segments), but only once
 * the domain has 2 MiB of them mapped already (chunks of small pages, such
 * as the one a 4K root comes from, do not count): a domain that outgrew its first
 * segment fills the next ones too, and its lookups then miss the TLB on
 * nearly every table they touch (a random lookup in a large domain reads
 * two lines of different tables; with 4K pages each costs a page walk,
 * which in a virtual machine is a nested walk of up to 24 loads). One
 * huge page maps a whole 2 MiB segment. The first segment stays on 4K
 * pages, so a small domain holds only the pages it touched. */
static void huge_advice(void *va, size_t size, size_t mapped_before)
{
#if defined(MADV_HUGEPAGE) && defined(MADV_NOHUGEPAGE)
	const size_t huge = (size_t)2 << 20;

	if (size % huge || (uintptr_t)va % huge)
		return;
	madvise(va, size,
		mapped_before >= huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
#else
	(void)va, (void)size, (void)mapped_before;
#endif
}

void *iopgt__chunks_alloc(void *arg, size_t size, uint64_t *pa)
{
	struct iopgt__chunks *c = arg;
	unsigned shift = size_shift(size);
	void *va;

	if (!shift)
		return NULL;
	if (shift < LARGE_SHIFT) {
		va = class_alloc(c, shift);
	} else {
		va = map_aligned(c, size, size);
		if (va) {
			atomic_fetch_add_explicit(&c->mapped, size,
						  memory_order_relaxed);
			huge_advice(va, size,
				    atomic_fetch_add_explicit(
					    &c->large_mapped, size,
					    memory_order_relaxed));
		}
	}
	if (va)
		*pa = (uint64_t)(uintptr_t)va;
	return va;
}

void iopgt__chunks_free(void *arg, void *va, uint64_t pa, size_t size)
{
	struct iopgt__chunks *c = arg;
	unsigned shift = size_shift(size);

	(void)pa;
	assert(shift);
	if (!va || !shift)
		return; /* not a size this allocator hands out */
	if (shift < LARGE_SHIFT) {
		class_free(c, va, shift);
	} else {
		atomic_fetch_sub_explicit(&c->large_mapped, size,
					  memory_order_relaxed);
		unmap(c, va, size);
	}
}

size_t iopgt__chunks_mapped_bytes(struct iopgt__chunks *c)
{
	return atomic_load_explicit(&c->mapped, memory_order_relaxed);
}
