/* SPDX-License-Identifier: MIT */
/*
 * The default table allocator (src/alloc_default.c), driven directly:
 * alignment of every size, no overlap, reuse of freed slots, chunks given
 * back when all their slots are free, threads allocating and freeing each
 * other's pages, destroy, the huge-page advice for segments, and the
 * limit below which a domain's tables must lie.
 */
#define _DEFAULT_SOURCE /* mincore */
#include <stdatomic.h>
#include <sys/mman.h>
#include <unistd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc_default.h"
#include "common.h"

#define K4 ((size_t)4096)
#define CHUNK ((size_t)2 << 20)
/* An allocator with nothing live keeps at most one empty chunk for each of
 * its four chunked sizes (4K..32K). */
#define MAX_KEPT (4 * CHUNK)

static void *alloc_ok(struct iopgt__chunks *c, size_t size)
{
	uint64_t pa = 0;
	void *va = iopgt__chunks_alloc(c, size, &pa);

	assert_non_null(va);
	assert_int_equal(pa, (uint64_t)(uintptr_t)va);
	assert_int_equal((uintptr_t)va & (size - 1), 0);
	return va;
}

static void free_page(struct iopgt__chunks *c, void *va, size_t size)
{
	iopgt__chunks_free(c, va, (uint64_t)(uintptr_t)va, size);
}

static void test_alignment(void **state)
{
	struct iopgt__chunks *c = iopgt__chunks_create(0);
	void *va[3];

	(void)state;
	assert_non_null(c);
	assert_int_equal(iopgt__chunks_mapped_bytes(c), 0);
	for (size_t size = K4; size <= ((size_t)1 << 20); size <<= 1) {
		/* Several of each, so a second and third slot are checked. */
		for (unsigned i = 0; i < 3; i++) {
			va[i] = alloc_ok(c, size);
			memset(va[i], (int)i + 1, size);
		}
		for (unsigned i = 0; i < 3; i++) {
			unsigned char *p = va[i];
			assert_int_equal(p[0], i + 1);
			assert_int_equal(p[size - 1], i + 1);
			free_page(c, va[i], size);
		}
	}
	/* Large pages are unmapped at once; chunks kept at most one each. */
	assert_true(iopgt__chunks_mapped_bytes(c) <= MAX_KEPT);
	iopgt__chunks_destroy(c);
}

static void test_bad_sizes(void **state)
{
	static const size_t bad[] = { 0, 1, 2048, 4095, 6144, 12288, 65535 };
	struct iopgt__chunks *c = iopgt__chunks_create(0);
	uint64_t pa = 7;

	(void)state;
	assert_non_null(c);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_null(iopgt__chunks_alloc(c, bad[i], &pa));
	assert_int_equal(pa, 7);
	assert_int_equal(iopgt__chunks_mapped_bytes(c), 0);
	iopgt__chunks_destroy(c);
	iopgt__chunks_destroy(NULL);
}

struct page {
	uintptr_t va;
	size_t size;
};

static int cmp_page(const void *a, const void *b)
{
	const struct page *x = a, *y = b;

	return (x->va > y->va) - (x->va < y->va);
}

static int cmp_uintptr(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;

	return (x > y) - (x < y);
}

static void stamp(const struct page *p, uint64_t tag)
{
	uint64_t *w = (uint64_t *)p->va;

	w[0] = tag;
	w[p->size / 8 - 1] = ~tag;
}

static void check_stamp(const struct page *p, uint64_t tag)
{
	const uint64_t *w = (const uint64_t *)p->va;

	assert_int_equal(w[0], tag);
	assert_int_equal(w[p->size / 8 - 1], ~tag);
}

/* Many live pages of mixed sizes: none overlaps another; freed slots are
 * handed out again before the allocator maps more. */
static void test_overlap_and_reuse(void **state)
{
	enum { N = 1800 };
	static const size_t sizes[] = { 4096, 4096, 4096, 8192, 16384,
					32768, 4096, 16384, 65536 };
	struct iopgt__chunks *c = iopgt__chunks_create(0);
	struct page *pg = calloc(N, sizeof(*pg));
	struct page *sorted = calloc(N, sizeof(*sorted));
	uintptr_t *freed = calloc(N, sizeof(*freed));
	bool *taken = calloc(N, sizeof(*taken));
	size_t mapped, nfreed = 0;

	(void)state;
	assert_non_null(c);
	assert_non_null(pg);
	assert_non_null(sorted);
	assert_non_null(freed);
	assert_non_null(taken);
	for (unsigned i = 0; i < N; i++) {
		pg[i].size = sizes[i % (sizeof(sizes) / sizeof(sizes[0]))];
		pg[i].va = (uintptr_t)alloc_ok(c, pg[i].size);
		stamp(&pg[i], i);
	}
	memcpy(sorted, pg, N * sizeof(*pg));
	qsort(sorted, N, sizeof(*sorted), cmp_page);
	for (unsigned i = 0; i + 1 < N; i++)
		assert_true(sorted[i].va + sorted[i].size <= sorted[i + 1].va);
	for (unsigned i = 0; i < N; i++)
		check_stamp(&pg[i], i);

	/* Free every other chunked page, then ask for as many again: all
	 * must come from the freed slots, with no new mapping. */
	for (unsigned i = 0; i < N; i += 2) {
		if (pg[i].size >= 65536)
			continue;
		free_page(c, (void *)pg[i].va, pg[i].size);
		freed[nfreed++] = pg[i].va;
	}
	qsort(freed, nfreed, sizeof(*freed), cmp_uintptr);
	mapped = iopgt__chunks_mapped_bytes(c);
	for (unsigned i = 0; i < N; i += 2) {
		uintptr_t *f;

		if (pg[i].size >= 65536)
			continue;
		pg[i].va = (uintptr_t)alloc_ok(c, pg[i].size);
		f = bsearch(&pg[i].va, freed, nfreed, sizeof(*freed),
			    cmp_uintptr);
		assert_non_null(f);
		assert_false(taken[f - freed]);
		taken[f - freed] = true;
		stamp(&pg[i], i);
	}
	assert_int_equal(iopgt__chunks_mapped_bytes(c), mapped);
	for (unsigned i = 0; i < N; i++) {
		check_stamp(&pg[i], i);
		free_page(c, (void *)pg[i].va, pg[i].size);
	}
	assert_true(iopgt__chunks_mapped_bytes(c) <= MAX_KEPT);
	iopgt__chunks_destroy(c);
	free(taken);
	free(freed);
	free(sorted);
	free(pg);
}

/* Pages of [addr, addr + len) resident in memory. */
static size_t resident_pages(uintptr_t addr, size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), n = len / page, r = 0;
	unsigned char *vec = malloc(n);

	assert_non_null(vec);
	assert_int_equal(mincore((void *)addr, len, vec), 0);
	for (size_t i = 0; i < n; i++)
		r += vec[i] & 1;
	free(vec);
	return r;
}

/* A chunk whose slots are all free is unmapped, except one kept empty,
 * whose pages go back to the system. */
static void test_chunk_returned(void **state)
{
	enum { MAX = 4096 };
	struct iopgt__chunks *c = iopgt__chunks_create(0);
	uintptr_t *va = calloc(MAX, sizeof(*va));
	uintptr_t first, second;
	unsigned n = 0;
	void *big;

	(void)state;
	assert_non_null(c);
	assert_non_null(va);
	/* Fill three chunks and start a fourth. */
	while (iopgt__chunks_mapped_bytes(c) < 4 * CHUNK) {
		assert_true(n < MAX);
		va[n++] = (uintptr_t)alloc_ok(c, K4);
	}
	assert_int_equal(iopgt__chunks_mapped_bytes(c), 4 * CHUNK);
	first = va[0] & ~(CHUNK - 1);
	second = va[n - 2] & ~(CHUNK - 1);
	assert_true(first != second);

	/* All of the first chunk's pages: it becomes the one kept empty. */
	for (unsigned i = 0; i < n; i++)
		if ((va[i] & ~(CHUNK - 1)) == first) {
			free_page(c, (void *)va[i], K4);
			va[i] = 0;
		}
	assert_int_equal(iopgt__chunks_mapped_bytes(c), 4 * CHUNK);
	/* Kept mapped, but its pages (all but the header's) are no longer
	 * resident: an idle domain holds no memory it does not use. */
	assert_int_equal(resident_pages(first + K4, CHUNK - K4), 0);
	/* All of another's: unmapped, as one is kept already. */
	for (unsigned i = 0; i < n; i++)
		if (va[i] && (va[i] & ~(CHUNK - 1)) == second) {
			free_page(c, (void *)va[i], K4);
			va[i] = 0;
		}
	assert_int_equal(iopgt__chunks_mapped_bytes(c), 3 * CHUNK);

	/* Large pages are mapped and unmapped one by one. */
	big = alloc_ok(c, (size_t)1 << 20);
	assert_int_equal(iopgt__chunks_mapped_bytes(c),
			 3 * CHUNK + ((size_t)1 << 20));
	free_page(c, big, (size_t)1 << 20);
	assert_int_equal(iopgt__chunks_mapped_bytes(c), 3 * CHUNK);

	for (unsigned i = 0; i < n; i++)
		if (va[i])
			free_page(c, (void *)va[i], K4);
	assert_int_equal(iopgt__chunks_mapped_bytes(c), CHUNK);
	/* The kept chunk serves the next page. */
	va[0] = (uintptr_t)alloc_ok(c, K4);
	assert_int_equal(iopgt__chunks_mapped_bytes(c), CHUNK);
	free_page(c, (void *)va[0], K4);
	iopgt__chunks_destroy(c);
	free(va);
}

/* ---- threads ---- */

enum { NTHREADS = 4, LIVE = 48, ITERS = 3000, SWAPS = 16 };

struct shared {
	struct iopgt__chunks *c;
	/* Pages handed between threads: each freed by whoever takes it. */
	_Atomic uintptr_t swap[SWAPS];
};

struct worker {
	struct shared *sh;
	unsigned id;
	uint64_t rng;
};

static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* A page carries its size and a tag, checked by whoever frees it. */
static uintptr_t tagged_alloc(struct iopgt__chunks *c, size_t size,
			      uint64_t tag)
{
	uint64_t *w = alloc_ok(c, size);

	w[0] = tag;
	w[1] = size;
	w[size / 8 - 1] = ~tag;
	return (uintptr_t)w;
}

static void tagged_free(struct iopgt__chunks *c, uintptr_t va)
{
	uint64_t *w = (uint64_t *)va;
	size_t size = w[1];

	assert_true(size >= K4 && !(size & (size - 1)));
	assert_int_equal(w[size / 8 - 1], ~w[0]);
	w[0] = 0;
	free_page(c, w, size);
}

static void *worker_main(void *arg)
{
	static const size_t sizes[] = { 4096, 4096, 4096, 4096, 4096,
					16384, 16384, 8192, 32768 };
	struct worker *wk = arg;
	struct shared *sh = wk->sh;
	uintptr_t live[LIVE] = { 0 };

	for (unsigned it = 0; it < ITERS; it++) {
		uint64_t r = next_rand(&wk->rng);
		unsigned i = (unsigned)(r % LIVE);
		size_t size = sizes[(r >> 8) % (sizeof(sizes) / sizeof(sizes[0]))];

		if ((r >> 20) % 512 == 0)
			size = (size_t)1 << 16 << ((r >> 28) % 5); /* 64K..1M */
		if (live[i]) {
			if ((r >> 32) % 4 == 0) {
				unsigned s = (unsigned)((r >> 40) % SWAPS);
				live[i] = atomic_exchange(&sh->swap[s], live[i]);
			}
			if (live[i])
				tagged_free(sh->c, live[i]);
		}
		live[i] = tagged_alloc(sh->c, size,
				       ((uint64_t)wk->id << 32) | it);
	}
	for (unsigned i = 0; i < LIVE; i++)
		if (live[i])
			tagged_free(sh->c, live[i]);
	return NULL;
}

static void test_threads(void **state)
{
	struct shared sh;
	struct worker wk[NTHREADS];
	pthread_t th[NTHREADS];

	(void)state;
	memset(&sh, 0, sizeof(sh));
	sh.c = iopgt__chunks_create(0);
	assert_non_null(sh.c);
	for (unsigned t = 0; t < NTHREADS; t++) {
		wk[t].sh = &sh;
		wk[t].id = t + 1;
		wk[t].rng = 0x9e3779b97f4a7c15ull * (t + 1);
		assert_int_equal(pthread_create(&th[t], NULL, worker_main,
						&wk[t]), 0);
	}
	for (unsigned t = 0; t < NTHREADS; t++)
		assert_int_equal(pthread_join(th[t], NULL), 0);
	for (unsigned s = 0; s < SWAPS; s++) {
		uintptr_t va = atomic_load(&sh.swap[s]);
		if (va)
			tagged_free(sh.c, va);
	}
	assert_true(iopgt__chunks_mapped_bytes(sh.c) <= MAX_KEPT);
	iopgt__chunks_destroy(sh.c);
}

/* The VmFlags of the mapping holding va in /proc/self/smaps, or "" if
 * there is no such file (then the test has nothing to check). */
static void vm_flags(const void *va, char *out, size_t n)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	bool in = false;

	out[0] = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 &&
		    strchr(line, '-') == line + strspn(line, "0123456789abcdef"))
			in = (uintptr_t)va >= lo && (uintptr_t)va < hi;
		else if (in && !strncmp(line, "VmFlags:", 8)) {
			size_t l = strlen(line + 8);

			if (l >= n)
				l = n - 1;
			memcpy(out, line + 8, l);
			out[l] = 0;
			break;
		}
	}
	fclose(f);
}

/* Segments (2 MiB mappings): the domain's first stays on 4K pages (nh:
 * MADV_NOHUGEPAGE), later ones ask for huge pages (hg: MADV_HUGEPAGE), so
 * that a large domain's lookups do not miss the TLB on every table. */
static void test_huge_advice(void **state)
{
	struct iopgt__chunks *c = iopgt__chunks_create(0);
	char fa[256], fb[256];
	void *root, *a, *b;

	(void)state;
	assert_non_null(c);
	/* A small page first, as a domain's 4K root: its 2 MiB chunk is
	 * not a segment and must not count. */
	root = alloc_ok(c, K4);
	a = alloc_ok(c, CHUNK);
	b = alloc_ok(c, CHUNK);
	vm_flags(a, fa, sizeof(fa));
	vm_flags(b, fb, sizeof(fb));
	if (fa[0]) {
		assert_non_null(strstr(fa, " nh"));
		assert_null(strstr(fa, " hg"));
		assert_non_null(strstr(fb, " hg"));
		assert_null(strstr(fb, " nh"));
	}
	free_page(c, b, CHUNK);
	free_page(c, a, CHUNK);
	free_page(c, root, K4);
	/* again from none: the first segment is advised nh again */
	a = alloc_ok(c, CHUNK);
	vm_flags(a, fa, sizeof(fa));
	if (fa[0])
		assert_non_null(strstr(fa, " nh"));
	free_page(c, a, CHUNK);
	assert_true(iopgt__chunks_mapped_bytes(c) <= MAX_KEPT);
	iopgt__chunks_destroy(c);
}

/* Destroy unmaps what is still mapped: kept chunks, and (against the
 * rules, but harmlessly) pages never freed. */
static void test_destroy(void **state)
{
	struct iopgt__chunks *c = iopgt__chunks_create(0);

	(void)state;
	assert_non_null(c);
	for (size_t size = K4; size < 65536; size <<= 1)
		free_page(c, alloc_ok(c, size), size);
	assert_int_equal(iopgt__chunks_mapped_bytes(c), MAX_KEPT);
	alloc_ok(c, K4);
	alloc_ok(c, 16384);
	iopgt__chunks_destroy(c);
}

/* An allocator with a limit (a domain's 2^oas, since pa = va) places
 * everything below it, chunks and large pages alike, even where mmap's
 * own choice lies above it. */
static void test_limit(void **state)
{
	static const unsigned lims[] = { 32, 36, 40 };

	(void)state;
	for (unsigned k = 0; k < sizeof(lims) / sizeof(lims[0]); k++) {
		const uint64_t limit = UINT64_C(1) << lims[k];
		struct iopgt__chunks *c = iopgt__chunks_create(limit);
		void *va[6][5]; /* 4K, 16K, ... 4M */
		unsigned n = 0;

		assert_non_null(c);
		for (size_t size = K4; size <= ((size_t)4 << 20); size <<= 2) {
			for (unsigned i = 0; i < 5; i++) {
				va[n][i] = alloc_ok(c, size);
				assert_true((uint64_t)(uintptr_t)va[n][i] + size <=
					    limit);
				memset(va[n][i], 0x33, size);
			}
			n++;
		}
		n = 0;
		for (size_t size = K4; size <= ((size_t)4 << 20); size <<= 2) {
			for (unsigned i = 0; i < 5; i++)
				free_page(c, va[n][i], size);
			n++;
		}
		iopgt__chunks_destroy(c);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alignment),
		cmocka_unit_test(test_bad_sizes),
		cmocka_unit_test(test_overlap_and_reuse),
		cmocka_unit_test(test_chunk_returned),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_destroy),
		cmocka_unit_test(test_huge_advice),
		cmocka_unit_test(test_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
