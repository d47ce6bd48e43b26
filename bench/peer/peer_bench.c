/* SPDX-License-Identifier: MIT */
/*
 * peer-bench: the measurements of `iopgt bench ops` and `iopgt bench
 * lookup`, taken of a peer, Linux's io-pgtable-arm (ARM LPAE, 4K granule,
 * 48-bit input, stage 2 by default), compiled in userspace by
 * bench/peer/build.sh from Debian's linux-source package. The same program
 * can be built against libiopgt instead (-DPB_IOPGT; binary
 * peer-bench-iopgt), so that both libraries can also be measured by one and
 * the same harness.
 *
 * The measurements follow bench/bench_ops.c (read it for the method):
 * steady state with a neighbour leaf in the last entry of every table used,
 * every map and unmap followed by its own sync, batches of 64 single-leaf
 * calls or 8 calls of 256 leaves timed with bench_now_ns() (bench_util.c,
 * the same helper), rounds that interleave all cases, medians over the
 * rounds, a dependent chain of lookups, and, as references measured in the
 * same process, the store limit and the latency of a cache-missing load.
 * The JSON keys are those of `iopgt bench ops --json`.
 *
 * For the peer, "map" is io_pgtable_ops.map_pages (one call of pgcount
 * pages of one size, as the kernel's iommu_map makes it, repeated if the
 * call stops at the end of a table), "unmap" is unmap_pages, "lookup" is
 * iova_to_phys, and "sync" is this program's own: the tlb_add_page callback
 * merges each unmapped page into one range in the gather, as an IOMMU
 * driver does, and the sync passes a non-empty range to a flush function
 * that only counts. iopgt's benchmark runs with its default, no-op flush
 * callbacks; this is the same.
 *
 * `lookup --set SIZE`: SIZE bytes of 4K pages mapped at consecutive IOVAs,
 * each to a page of a random permutation of SIZE bytes of physical
 * addresses (so no two neighbours are contiguous and nothing can become a
 * superpage), then looked up in a random order: independent lookups (the
 * next IOVA comes from a random generator) or, with --dependent, a chain
 * (the next IOVA is the PA the lookup returned: the permutation is one
 * cycle through the set, Sattolo's algorithm). The median over samples of
 * 4096 lookups, in ns per lookup; JSON keys set_bytes, lookups,
 * ns_per_lookup, as `iopgt bench lookup`.
 *
 * --callgrind-op OP --iters N (ops) and --callgrind --iters N (lookup) run
 * exactly N operations between CALLGRIND_START_INSTRUMENTATION and
 * CALLGRIND_STOP_INSTRUMENTATION, in a function named bench_cg_loop, so
 * that the loop's own cost can be subtracted as for iopgt. Run under
 * valgrind --tool=callgrind --instr-atstart=no [--cache-sim=yes].
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bench_callgrind.h"
#include "bench_util.h"

#define GRANULE_SHIFT 12u
#define BITS 9u      /* index bits of a table */
#define LEVELS 4u    /* 48-bit input, 4K granule */
#define IAS 48u
#define PA_OFF (UINT64_C(1) << 46) /* pa = iova + PA_OFF: never 0 */

#define SINGLE_BATCH 64u
#define MULTI_BATCH 8u
#define MULTI_COUNT 256u
_Static_assert(MULTI_BATCH == BENCH_STORE_PAGES &&
	       MULTI_COUNT == BENCH_STORE_COUNT, "store limit layout");
#define LOOKUP_CHAIN 256u
#define LOOKUP_PAGES 64u
#define WARMUP_ROUNDS 20u
#define SET_BATCH 4096u     /* lookups per sample of `lookup` */
#define SET_PA_BASE (UINT64_C(1) << 40)

/* ------------------------------------------------------------------------
 * The two backends. Each is a handful of static functions that the
 * compiler may inline into the loops, as iopgt's calls are direct calls.
 */

#ifdef PB_IOPGT

#include "iopgt.h"

#define PB_IMPL "iopgt"

struct be {
	struct iopgt_domain *dom;
	struct iopgt_gather g;
	int stage;
};

static int be_create(struct be *b, int stage)
{
	struct iopgt_config cfg;
	int r;

	if (stage != 2) {
		fprintf(stderr, "peer-bench-iopgt: iopgt has ARM stage 2 "
				"only (--stage 2)\n");
		return -EINVAL;
	}
	b->stage = stage;
	iopgt_config_init(&cfg, sizeof(cfg), IOPGT_FMT_ARM_S2);
	cfg.ias = IAS;
	cfg.granule = GRANULE_SHIFT;
	r = iopgt_domain_create(&cfg, &b->dom);
	if (r)
		return r;
	iopgt_gather_init(&b->g, sizeof(b->g));
	return 0;
}

static void be_destroy(struct be *b)
{
	iopgt_domain_destroy(b->dom);
}

static inline __attribute__((always_inline)) int
be_map(struct be *b, uint64_t iova, uint64_t pa, uint64_t pgsize,
       uint64_t pgcount)
{
	return iopgt_map(b->dom, iova, pa, pgsize * pgcount,
			 IOPGT_PROT_READ | IOPGT_PROT_WRITE, &b->g);
}

/* Bytes unmapped. */
static inline __attribute__((always_inline)) int64_t
be_unmap(struct be *b, uint64_t iova, uint64_t pgsize, uint64_t pgcount)
{
	return iopgt_unmap(b->dom, iova, pgsize * pgcount, &b->g);
}

static inline __attribute__((always_inline)) void be_sync(struct be *b)
{
	iopgt_sync(b->dom, &b->g);
}

/* PA of iova, or 0 if unmapped. */
static inline __attribute__((always_inline)) uint64_t
be_lookup(struct be *b, uint64_t iova)
{
	struct iopgt_translation tr;

	return iopgt_lookup(b->dom, iova, &tr) ? 0 : tr.pa;
}

static const char *be_format(const struct be *b)
{
	(void)b;
	return "arm_s2";
}

static uint64_t be_table_bytes(const struct be *b)
{
	struct iopgt_stats st;

	if (iopgt_get_stats(b->dom, &st, sizeof(st)))
		return 0;
	return st.table_bytes_live;
}

static void be_print_counts(const struct be *b, bool json)
{
	struct iopgt_stats st;

	if (iopgt_get_stats(b->dom, &st, sizeof(st)))
		return;
	if (json)
		printf("\"flush_range_calls\": %" PRIu64 ", ",
		       st.flushes[0] + st.flushes[1] + st.flushes[2] +
			       st.flushes[3]);
	else
		printf("flush_range calls: %" PRIu64 " (none %" PRIu64
		       ", modified %" PRIu64 ", walk %" PRIu64 ")\n",
		       st.flushes[0] + st.flushes[1] + st.flushes[2] +
			       st.flushes[3],
		       st.flushes[0], st.flushes[2], st.flushes[3]);
}

#else /* the peer */

#include <linux/io-pgtable.h>

#define PB_IMPL "linux-io-pgtable-arm"

struct be {
	struct io_pgtable_ops *ops;
	struct io_pgtable_cfg cfg;
	struct iommu_iotlb_gather gather;
	struct device dev;
	int stage;
	/* Calls of the flush callbacks and of the sync's flush. */
	unsigned long tlb_flush_all, tlb_flush_walk, tlb_add_page, syncs,
		sync_flushes;
};

static void gather_reset(struct iommu_iotlb_gather *g)
{
	g->start = ULONG_MAX;
	g->end = 0;
	g->pgsize = 0;
	g->queued = false;
}

static void cb_tlb_flush_all(void *cookie)
{
	((struct be *)cookie)->tlb_flush_all++;
}

static void cb_tlb_flush_walk(unsigned long iova, size_t size, size_t granule,
			      void *cookie)
{
	(void)iova, (void)size, (void)granule;
	((struct be *)cookie)->tlb_flush_walk++;
}

/* As an IOMMU driver's tlb_add_page: merge the page into the gather's
 * range, flushed at the next sync. */
static void cb_tlb_add_page(struct iommu_iotlb_gather *g, unsigned long iova,
			    size_t granule, void *cookie)
{
	unsigned long end = iova + granule - 1;

	((struct be *)cookie)->tlb_add_page++;
	if (!g)
		return;
	if (iova < g->start)
		g->start = iova;
	if (end > g->end)
		g->end = end;
	g->pgsize = granule;
}

static const struct iommu_flush_ops flush_ops = {
	.tlb_flush_all = cb_tlb_flush_all,
	.tlb_flush_walk = cb_tlb_flush_walk,
	.tlb_add_page = cb_tlb_add_page,
};

/* The invalidation a driver's iotlb_sync would issue: counted only. */
static void __attribute__((noinline))
flush_range(struct be *b, unsigned long start, unsigned long end,
	    size_t pgsize)
{
	__asm__ __volatile__("" ::"r"(start), "r"(end), "r"(pgsize)
			     : "memory");
	b->sync_flushes++;
}

static int be_create(struct be *b, int stage)
{
	memset(b, 0, sizeof(*b));
	b->stage = stage;
	b->dev.numa_node = NUMA_NO_NODE;
	b->cfg.pgsize_bitmap = SZ_4K | SZ_2M | SZ_1G;
	b->cfg.ias = IAS;
	b->cfg.oas = 48;
	b->cfg.coherent_walk = true; /* no DMA API calls: see README.md */
	b->cfg.tlb = &flush_ops;
	b->cfg.iommu_dev = &b->dev;
	gather_reset(&b->gather);
	b->ops = alloc_io_pgtable_ops(stage == 1 ? ARM_64_LPAE_S1
						 : ARM_64_LPAE_S2,
				      &b->cfg, b);
	return b->ops ? 0 : -ENOMEM;
}

static void be_destroy(struct be *b)
{
	free_io_pgtable_ops(b->ops);
}

/* What the kernel's iommu_map and iommu_unmap do when one call is not
 * enough (map_pages and unmap_pages stop at the end of a table): call again
 * for the rest. Off the measured path: every measured call is done in one. */
static int __attribute__((noinline, cold))
be_map_rest(struct be *b, uint64_t iova, uint64_t pa, uint64_t pgsize,
	    uint64_t pgcount, size_t mapped)
{
	while (mapped < pgsize * pgcount) {
		size_t more = 0;
		int r;

		if (!mapped || mapped % pgsize)
			return -EIO;
		iova += mapped;
		pa += mapped;
		pgcount -= mapped / pgsize;
		r = b->ops->map_pages(b->ops, iova, pa, pgsize, pgcount,
				      IOMMU_READ | IOMMU_WRITE, GFP_KERNEL,
				      &more);
		if (r)
			return r;
		mapped = more;
	}
	return 0;
}

static int64_t __attribute__((noinline, cold))
be_unmap_rest(struct be *b, uint64_t iova, uint64_t pgsize, uint64_t pgcount,
	      size_t done)
{
	int64_t total = (int64_t)done;

	while (done && !(done % pgsize) && done < pgsize * pgcount) {
		iova += done;
		pgcount -= done / pgsize;
		done = b->ops->unmap_pages(b->ops, iova, pgsize, pgcount,
					   &b->gather);
		total += (int64_t)done;
	}
	return total;
}

static inline __attribute__((always_inline)) int
be_map(struct be *b, uint64_t iova, uint64_t pa, uint64_t pgsize,
       uint64_t pgcount)
{
	size_t mapped = 0;
	int r = b->ops->map_pages(b->ops, iova, pa, pgsize, pgcount,
				  IOMMU_READ | IOMMU_WRITE, GFP_KERNEL,
				  &mapped);

	if (__builtin_expect(r || mapped == pgsize * pgcount, 1))
		return r;
	return be_map_rest(b, iova, pa, pgsize, pgcount, mapped);
}

/* Bytes unmapped. */
static inline __attribute__((always_inline)) int64_t
be_unmap(struct be *b, uint64_t iova, uint64_t pgsize, uint64_t pgcount)
{
	size_t n = b->ops->unmap_pages(b->ops, iova, pgsize, pgcount,
				       &b->gather);

	if (__builtin_expect(n == pgsize * pgcount, 1))
		return (int64_t)n;
	return be_unmap_rest(b, iova, pgsize, pgcount, n);
}

/* The driver's iotlb_sync: flush the gathered range, if any, and empty
 * the gather. A call, as iopgt_sync is. */
static void __attribute__((noinline)) peer_iotlb_sync(struct be *b)
{
	b->syncs++;
	if (b->gather.start != ULONG_MAX) {
		flush_range(b, b->gather.start, b->gather.end,
			    b->gather.pgsize);
		gather_reset(&b->gather);
	}
}

static inline __attribute__((always_inline)) void be_sync(struct be *b)
{
	peer_iotlb_sync(b);
}

static inline __attribute__((always_inline)) uint64_t
be_lookup(struct be *b, uint64_t iova)
{
	return b->ops->iova_to_phys(b->ops, iova);
}

static const char *be_format(const struct be *b)
{
	return b->stage == 1 ? "arm_lpae_s1" : "arm_lpae_s2";
}

extern unsigned long peer_shim_pages_live;

static uint64_t be_table_bytes(const struct be *b)
{
	(void)b;
	return (uint64_t)peer_shim_pages_live << PAGE_SHIFT;
}

static void be_print_counts(const struct be *b, bool json)
{
	if (json)
		printf("\"callbacks\": {\"tlb_flush_all\": %lu, "
		       "\"tlb_flush_walk\": %lu, \"tlb_add_page\": %lu, "
		       "\"syncs\": %lu, \"sync_flushes\": %lu}, ",
		       b->tlb_flush_all, b->tlb_flush_walk, b->tlb_add_page,
		       b->syncs, b->sync_flushes);
	else
		printf("callbacks: tlb_flush_all %lu, tlb_flush_walk %lu, "
		       "tlb_add_page %lu; syncs %lu, of which flushed %lu\n",
		       b->tlb_flush_all, b->tlb_flush_walk, b->tlb_add_page,
		       b->syncs, b->sync_flushes);
}

#endif

/* ------------------------------------------------------------------------
 * Geometry: 4 levels of 512-entry tables, level 0 the lowest.
 */

static uint64_t entry_size(unsigned level)
{
	return UINT64_C(1) << (GRANULE_SHIFT + BITS * level);
}

static uint64_t table_span(unsigned level)
{
	return entry_size(level) << BITS;
}

static unsigned table_entries(void)
{
	return 1u << BITS;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* IOVA for n consecutive level-`level` tables under one parent (as
 * bench_ops.c's region()). */
static uint64_t region_next;

static int region(unsigned level, unsigned n, uint64_t *base)
{
	uint64_t span = table_span(level), cur = align_up(region_next, span);
	uint64_t top = UINT64_C(1) << IAS;

	if (level + 2 < LEVELS) {
		uint64_t pspan = table_span(level + 1);
		if (cur / pspan != (cur + n * span - 1) / pspan)
			cur = align_up(cur, pspan);
	}
	if (cur >= top || n * span > top - cur)
		return -ERANGE;
	*base = cur;
	region_next = cur + n * span;
	return 0;
}

struct ops_case {
	const char *name;
	unsigned level;
	unsigned count;
	unsigned batch;
	uint64_t base;
	double *map_s, *unmap_s;
	double map_ns, unmap_ns;
};

static uint64_t case_iova(const struct ops_case *c, unsigned j)
{
	if (c->count == 1)
		return c->base + j * entry_size(c->level);
	return c->base + j * table_span(c->level);
}

static int fail(const char *what, uint64_t iova, int64_t r)
{
	fprintf(stderr, "peer-bench: %s at 0x%" PRIx64 " failed: %s\n", what,
		iova, r < 0 ? strerror((int)-r) : "short unmap");
	return -1;
}

static int case_setup(struct be *b, struct ops_case *c)
{
	uint64_t sz = entry_size(c->level);
	unsigned tables = c->count == 1 ? 1 : c->batch;

	for (unsigned t = 0; t < tables; t++) {
		uint64_t iova = c->base + t * table_span(c->level) +
				(table_entries() - 1) * sz;
		int r = be_map(b, iova, iova + PA_OFF, sz, 1);

		be_sync(b);
		if (r)
			return fail("map of the neighbour leaf", iova, r);
	}
	/* Check once that a call maps what it should. */
	{
		uint64_t iova = case_iova(c, 0), last = c->count * sz - 1;
		int r = be_map(b, iova, iova + PA_OFF, sz, c->count);
		int64_t u;

		be_sync(b);
		if (r)
			return fail("map", iova, r);
		if (be_lookup(b, iova + last) != iova + last + PA_OFF) {
			fprintf(stderr, "peer-bench: %s: wrong translation\n",
				c->name);
			return -1;
		}
		u = be_unmap(b, iova, sz, c->count);
		be_sync(b);
		if (u != (int64_t)(c->count * sz))
			return fail("unmap", iova, u);
	}
	return 0;
}

static int case_sample(struct be *b, struct ops_case *c, unsigned rep)
{
	uint64_t sz = entry_size(c->level), size = c->count * sz, t0, t1, t2;
	int64_t bad = 0;
	int err = 0;

	t0 = bench_now_ns();
	for (unsigned j = 0; j < c->batch; j++) {
		uint64_t iova = case_iova(c, j);
		err |= be_map(b, iova, iova + PA_OFF, sz, c->count);
		be_sync(b);
	}
	t1 = bench_now_ns();
	for (unsigned j = 0; j < c->batch; j++) {
		bad |= be_unmap(b, case_iova(c, j), sz, c->count) ^
		       (int64_t)size;
		be_sync(b);
	}
	t2 = bench_now_ns();
	if (err || bad) {
		fprintf(stderr, "peer-bench: %s: map or unmap failed\n",
			c->name);
		return -1;
	}
	if (c->map_s) {
		c->map_s[rep] = (double)(t1 - t0) / c->batch;
		c->unmap_s[rep] = (double)(t2 - t1) / c->batch;
	}
	return 0;
}

static int lookup_sample(struct be *b, uint64_t base, double *out)
{
	uint64_t sz = entry_size(0), mask = LOOKUP_PAGES * sz - 1;
	uint64_t iova = base, pa = 0, t0, t1;
	int err = 0;

	t0 = bench_now_ns();
	for (unsigned i = 0; i < LOOKUP_CHAIN; i++) {
		pa = be_lookup(b, iova);
		err |= !pa;
		/* pa == iova + PA_OFF: the next IOVA depends on the answer. */
		iova = base + ((pa - PA_OFF - base + sz) & mask);
	}
	t1 = bench_now_ns();
	if (err) {
		fprintf(stderr, "peer-bench: lookup failed\n");
		return -1;
	}
	if (out)
		*out = (double)(t1 - t0) / LOOKUP_CHAIN;
	return 0;
}

/* ------------------------------------------------------------------------
 * Instruction counts (ops): exactly `iters` operations in bench_cg_loop,
 * laid out as bench_ops.c lays them out.
 */

enum cg_op { CG_NONE, CG_MAP, CG_UNMAP, CG_LOOKUP, CG_MAP256, CG_UNMAP256 };

static bool cg_multi(enum cg_op op)
{
	return op == CG_MAP256 || op == CG_UNMAP256;
}

static void __attribute__((noinline)) bench_cg_nop(uint64_t iova)
{
	bench_barrier();
	(void)iova;
}

static int __attribute__((noinline))
bench_cg_loop(struct be *b, enum cg_op op, uint64_t base, unsigned long iters)
{
	uint64_t sz = entry_size(0), span = table_span(0);
	unsigned per = cg_multi(op) ? 1 : table_entries() - 2, i = 0;
	uint64_t tbase = base, iova = base;
	int64_t err = 0;

	CALLGRIND_START_INSTRUMENTATION;
	for (unsigned long k = 0; k < iters; k++) {
		switch (op) {
		case CG_MAP:
			err |= be_map(b, iova, iova + PA_OFF, sz, 1);
			be_sync(b);
			break;
		case CG_UNMAP:
			err |= be_unmap(b, iova, sz, 1) ^ (int64_t)sz;
			be_sync(b);
			break;
		case CG_LOOKUP:
			err |= !be_lookup(b, iova);
			break;
		case CG_MAP256:
			err |= be_map(b, iova, iova + PA_OFF, sz, MULTI_COUNT);
			be_sync(b);
			break;
		case CG_UNMAP256:
			err |= be_unmap(b, iova, sz, MULTI_COUNT) ^
			       (int64_t)(MULTI_COUNT * sz);
			be_sync(b);
			break;
		case CG_NONE:
			bench_cg_nop(iova);
			break;
		}
		iova += sz;
		if (++i == per) {
			i = 0;
			tbase += span;
			iova = tbase;
		}
	}
	CALLGRIND_STOP_INSTRUMENTATION;
	return err ? -1 : 0;
}

static int run_callgrind(struct be *b, enum cg_op op, const char *opname,
			 unsigned long iters)
{
	unsigned per = cg_multi(op) ? MULTI_COUNT : table_entries() - 2;
	unsigned long tables = cg_multi(op) ? iters : (iters + per - 1) / per;
	uint64_t sz = entry_size(0), span = table_span(0), base = 0;

	if (tables > (UINT64_C(1) << IAS) / span) {
		fprintf(stderr, "peer-bench: --iters too large\n");
		return 2;
	}
	for (unsigned long t = 0; t < tables; t++) {
		uint64_t first = base + t * span, nb = first + (per + 1) * sz;
		uint64_t n = cg_multi(op) || t + 1 < tables ? per
							    : iters - t * per;
		int r = be_map(b, nb, nb + PA_OFF, sz, 1);

		be_sync(b);
		if (r) {
			fail("map of the neighbour leaf", nb, r);
			return 1;
		}
		if (op == CG_UNMAP || op == CG_LOOKUP || op == CG_UNMAP256) {
			r = be_map(b, first, first + PA_OFF, sz, n);
			be_sync(b);
			if (r) {
				fail("map", first, r);
				return 1;
			}
		}
	}
	if (bench_cg_loop(b, op, base, iters)) {
		fprintf(stderr, "peer-bench: %s failed\n", opname);
		return 1;
	}
	printf("callgrind-op %s: %lu operations over %lu tables between "
	       "CALLGRIND_START/STOP_INSTRUMENTATION%s\n",
	       opname, iters, tables,
#ifdef HAVE_CALLGRIND_H
	       ""
#else
	       " (built without valgrind/callgrind.h: nothing is counted)"
#endif
	);
	return 0;
}

/* ------------------------------------------------------------------------
 * Options
 */

static int parse_count(const char *opt, const char *s, uint64_t lo,
		       uint64_t hi, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < lo || v > hi) {
		fprintf(stderr, "peer-bench: bad value for %s: '%s' (%" PRIu64
				"..%" PRIu64 ")\n",
			opt, s, lo, hi);
		return -1;
	}
	*out = v;
	return 0;
}

/* "64M", "1G", "4096": bytes, a multiple of 4K. */
static int parse_size(const char *opt, const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (!errno && end != s && *s != '-') {
		switch (*end) {
		case 'K': case 'k': shift = 10; end++; break;
		case 'M': case 'm': shift = 20; end++; break;
		case 'G': case 'g': shift = 30; end++; break;
		case 'T': case 't': shift = 40; end++; break;
		default: break;
		}
		if (!*end && v && v <= (UINT64_C(1) << (44 - shift)) &&
		    !((v << shift) & (entry_size(0) - 1))) {
			*out = (uint64_t)v << shift;
			return 0;
		}
	}
	fprintf(stderr, "peer-bench: bad value for %s: '%s' (bytes, a "
			"multiple of 4K, up to 16T; K, M, G, T suffixes)\n",
		opt, s);
	return -1;
}

static void json_num(const char *key, double v, bool comma)
{
	printf("\"%s\": %.1f%s", key, v, comma ? ", " : "");
}

static const char usage[] =
	"usage: peer-bench ops [--stage 1|2] [--reps N] [--json]\n"
	"       peer-bench ops [--stage 1|2] --callgrind-op OP [--iters N]\n"
	"       peer-bench lookup --set SIZE [--dependent] [--samples N] "
	"[--json]\n"
	"       peer-bench lookup --set SIZE [--dependent] --callgrind "
	"[--iters N]\n"
	"\n"
	"ops: the measurements of `iopgt bench ops` (bench/bench_ops.c), taken\n"
	"of " PB_IMPL ", 4K granule, 48-bit input, 4 levels: median ns of map\n"
	"and unmap (each followed by its sync) of one 4K, 2M and 1G leaf, of\n"
	"256x4K and 256x2M in one call, of a lookup (dependent chain), the\n"
	"store limit and the load-miss latency. --callgrind-op OP (map4k,\n"
	"unmap4k, lookup, map256x4k, unmap256x4k, none) runs exactly N\n"
	"operations (default 100000) in bench_cg_loop between\n"
	"CALLGRIND_START/STOP_INSTRUMENTATION.\n"
	"\n"
	"lookup: SIZE bytes (K, M, G suffixes) of 4K pages mapped at consecutive\n"
	"IOVAs to a random permutation of physical pages, looked up in random\n"
	"order: independent lookups, or a dependent chain (--dependent); median\n"
	"ns per lookup over samples of 4096 (default 201 samples after 20\n"
	"warm-up ones). --callgrind: N lookups (default 100000) warm the\n"
	"simulated caches, then the statistics are zeroed and N more are\n"
	"counted, in bench_cg_loop.\n"
	"\n"
	"--stage 1 uses ARM_64_LPAE_S1 (the peer only); the default is stage 2\n"
	"(ARM_64_LPAE_S2), iopgt's arm_s2 format.\n";

/* The synopsis (the text up to its first empty line) and a pointer to the
 * rest. */
static int usage_error(void)
{
	const char *end = strstr(usage, "\n\n");

	fprintf(stderr, "%.*s\n(peer-bench --help says more)\n",
		(int)(end - usage), usage);
	return 2;
}

/* ------------------------------------------------------------------------
 * ops
 */

static int ops_main(int argc, char **argv)
{
	uint64_t reps = 2000, iters = 100000, stage = 2;
	bool json = false, iters_set = false;
	const char *cg_name = NULL;
	enum cg_op cg_op = CG_NONE;
	struct ops_case cases[5];
	double *store_s = NULL, *lookup_s = NULL;
	double store_ns, lookup_ns, miss_ns, clock_ns;
	uint64_t *pages[MULTI_BATCH] = { NULL };
	uint64_t lookup_base;
	struct be b;
	int ret = 1;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--json")) {
			json = true;
		} else if (!strcmp(a, "--reps") && v) {
			if (parse_count(a, v, 3, 100000000, &reps))
				return usage_error();
			i++;
		} else if (!strcmp(a, "--iters") && v) {
			if (parse_count(a, v, 1, 100000000, &iters))
				return usage_error();
			iters_set = true;
			i++;
		} else if (!strcmp(a, "--stage") && v) {
			if (parse_count(a, v, 1, 2, &stage))
				return usage_error();
			i++;
		} else if (!strcmp(a, "--callgrind-op") && v) {
			static const char *const names[] = {
				"none", "map4k", "unmap4k", "lookup",
				"map256x4k", "unmap256x4k",
			};
			unsigned k;

			for (k = 0; k < 6; k++)
				if (!strcmp(v, names[k]))
					break;
			if (k == 6) {
				fprintf(stderr, "peer-bench: bad value for "
						"--callgrind-op: '%s'\n",
					v);
				return usage_error();
			}
			cg_op = (enum cg_op)k;
			cg_name = v;
			i++;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			printf("%s", usage);
			return 0;
		} else {
			fprintf(stderr, "peer-bench ops: unexpected '%s'\n", a);
			return usage_error();
		}
	}
	if ((iters_set && !cg_name) || (cg_name && json)) {
		fprintf(stderr, "peer-bench ops: --iters goes with "
				"--callgrind-op, --json without it\n");
		return usage_error();
	}
	if (be_create(&b, (int)stage)) {
		fprintf(stderr, "peer-bench: cannot create the page table\n");
		return 1;
	}
	if (cg_name) {
		ret = run_callgrind(&b, cg_op, cg_name, iters);
		be_destroy(&b);
		return ret;
	}

	{
		const struct ops_case init[5] = {
			{ "4k", 0, 1, SINGLE_BATCH, 0, 0, 0, 0, 0 },
			{ "2m", 1, 1, SINGLE_BATCH, 0, 0, 0, 0, 0 },
			{ "1g", 2, 1, SINGLE_BATCH, 0, 0, 0, 0, 0 },
			{ "256x4k", 0, MULTI_COUNT, MULTI_BATCH, 0, 0, 0, 0, 0 },
			{ "256x2m", 1, MULTI_COUNT, MULTI_BATCH, 0, 0, 0, 0, 0 },
		};
		memcpy(cases, init, sizeof(cases));
	}
	for (unsigned k = 0; k < 5; k++) {
		struct ops_case *c = &cases[k];

		if (region(c->level, c->count == 1 ? 1 : c->batch, &c->base)) {
			fprintf(stderr, "peer-bench: input space too small\n");
			goto out;
		}
		c->map_s = malloc(reps * sizeof(double));
		c->unmap_s = malloc(reps * sizeof(double));
		if (!c->map_s || !c->unmap_s)
			goto nomem;
		if (case_setup(&b, c))
			goto out;
	}
	if (region(0, 1, &lookup_base))
		goto out;
	{
		uint64_t sz = entry_size(0);
		int r = be_map(&b, lookup_base, lookup_base + PA_OFF, sz,
			       LOOKUP_PAGES);

		be_sync(&b);
		if (r) {
			fail("map", lookup_base, r);
			goto out;
		}
	}
	store_s = malloc(reps * sizeof(double));
	lookup_s = malloc(reps * sizeof(double));
	if (!store_s || !lookup_s)
		goto nomem;
	for (unsigned k = 0; k < MULTI_BATCH; k++) {
		pages[k] = aligned_alloc(4096, 4096);
		if (!pages[k])
			goto nomem;
		memset(pages[k], 0, 4096);
	}

	clock_ns = bench_clock_ns();
	for (unsigned long rep = 0; rep < WARMUP_ROUNDS + reps; rep++) {
		bool keep = rep >= WARMUP_ROUNDS;
		unsigned long k = rep - WARMUP_ROUNDS;

		for (unsigned c = 0; c < 5; c++)
			if (case_sample(&b, &cases[c], keep ? (unsigned)k : 0))
				goto out;
		if (lookup_sample(&b, lookup_base, keep ? &lookup_s[k] : NULL))
			goto out;
		{
			double s = bench_store_sample(pages, entry_size(0));
			if (keep)
				store_s[k] = s;
		}
	}
	for (unsigned c = 0; c < 5; c++) {
		cases[c].map_ns = bench_median(cases[c].map_s, reps);
		cases[c].unmap_ns = bench_median(cases[c].unmap_s, reps);
	}
	lookup_ns = bench_median(lookup_s, reps);
	store_ns = bench_median(store_s, reps);
	miss_ns = bench_load_miss(NULL);
	if (miss_ns < 0)
		goto nomem;

	if (json) {
		printf("{\"impl\": \"%s\", \"format\": \"%s\", \"levels\": %u, "
		       "\"granule\": %" PRIu64 ", \"ias\": %u, ",
		       PB_IMPL, be_format(&b), LEVELS, entry_size(0), IAS);
		for (unsigned c = 0; c < 3; c++)
			printf("\"leaf_%s_bytes\": %" PRIu64 ", ",
			       cases[c].name, entry_size(cases[c].level));
		for (unsigned pass = 0; pass < 2; pass++)
			for (unsigned c = 0; c < 5; c++) {
				char key[32];
				snprintf(key, sizeof(key), "%s_%s_ns",
					 pass ? "unmap" : "map", cases[c].name);
				json_num(key,
					 pass ? cases[c].unmap_ns
					      : cases[c].map_ns,
					 true);
			}
		be_print_counts(&b, true);
		json_num("clock_ns", clock_ns, true);
		json_num("lookup_ns", lookup_ns, true);
		json_num("store_limit_256x4k_ns", store_ns, true);
		json_num("load_miss_ns", miss_ns, false);
		printf("}\n");
	} else {
		printf("peer-bench ops: %s %s, 4K granule, 48-bit, %u levels, "
		       "%" PRIu64 " rounds; median ns per call (map/unmap "
		       "include their sync)\n",
		       PB_IMPL, be_format(&b), LEVELS, reps);
		printf("%-26s %10s %10s\n", "", "map", "unmap");
		for (unsigned c = 0; c < 5; c++)
			printf("%-26s %10.1f %10.1f\n", cases[c].name,
			       cases[c].map_ns, cases[c].unmap_ns);
		printf("%-26s %10.1f  (dependent chain of %u)\n", "lookup",
		       lookup_ns, LOOKUP_CHAIN);
		printf("%-26s %10.1f  (256 plain 8-byte stores, warm page)\n",
		       "store limit 256 entries", store_ns);
		printf("%-26s %10.1f  (pointer chase, 256M buffer)\n",
		       "load miss", miss_ns);
		printf("clock_gettime pair: %.1f ns per sample, not "
		       "subtracted\n",
		       clock_ns);
		be_print_counts(&b, false);
	}
	ret = 0;
	goto out;
nomem:
	fprintf(stderr, "peer-bench: out of memory\n");
out:
	for (unsigned k = 0; k < MULTI_BATCH; k++)
		free(pages[k]);
	for (unsigned c = 0; c < 5; c++) {
		free(cases[c].map_s);
		free(cases[c].unmap_s);
	}
	free(store_s);
	free(lookup_s);
	be_destroy(&b);
	return ret;
}

/* ------------------------------------------------------------------------
 * lookup --set SIZE
 */

struct set {
	uint64_t base;  /* first IOVA */
	uint64_t pages;
};

/* Page i of the set (IOVA base + i * 4K) maps PA SET_PA_BASE + next[i] * 4K
 * where next is one random cycle through all pages. */
static int set_map(struct be *b, struct set *s, uint64_t bytes)
{
	uint64_t n = bytes >> GRANULE_SHIFT, seed = 0x2545f4914f6cdd1du;
	uint32_t *next = malloc(n * sizeof(*next));

	if (!next)
		return -ENOMEM;
	for (uint64_t i = 0; i < n; i++)
		next[i] = (uint32_t)i;
	for (uint64_t i = n - 1; i > 0; i--) { /* Sattolo */
		uint64_t j = bench_xorshift(&seed) % i;
		uint32_t t = next[i];
		next[i] = next[j];
		next[j] = t;
	}
	s->base = UINT64_C(1) << 39;
	s->pages = n;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t iova = s->base + (i << GRANULE_SHIFT);
		int r = be_map(b, iova,
			       SET_PA_BASE + ((uint64_t)next[i] << GRANULE_SHIFT),
			       entry_size(0), 1);
		if (r) {
			free(next);
			return fail("map", iova, r);
		}
		if ((i & 511) == 511 || i + 1 == n)
			be_sync(b);
	}
	free(next);
	return 0;
}

/* n independent lookups at random pages of the set; returns a sum of the
 * PAs (0 if one failed: every PA is non-zero). */
static inline __attribute__((always_inline)) uint64_t
set_independent(struct be *b, const struct set *s, uint64_t *rng,
		unsigned long n)
{
	uint64_t sum = 0, x = *rng;
	bool ok = true;

	for (unsigned long i = 0; i < n; i++) {
		uint64_t idx, pa;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		idx = ((x & 0xffffffffu) * s->pages) >> 32;
		pa = be_lookup(b, s->base + (idx << GRANULE_SHIFT));
		ok &= pa != 0;
		sum += pa;
	}
	*rng = x;
	return ok ? sum | 1 : 0;
}

/* n lookups, each at the page the previous one's PA names. */
static inline __attribute__((always_inline)) uint64_t
set_dependent(struct be *b, const struct set *s, uint64_t *iova,
	      unsigned long n)
{
	uint64_t v = *iova, pa = 1;

	for (unsigned long i = 0; i < n && pa; i++) {
		pa = be_lookup(b, v);
		v = s->base + (pa - SET_PA_BASE);
	}
	*iova = v;
	return pa;
}

/* The counted pass, in a function whose name starts with bench_cg_loop as
 * the ops' loop does, so that scripts subtract its own cost the same way:
 * `iters` lookups warm the simulated caches, the statistics are zeroed,
 * then `iters` more are counted. */
static int __attribute__((noinline))
bench_cg_loop_set(struct be *b, const struct set *s, bool dep,
		  unsigned long iters, uint64_t *state)
{
	uint64_t r;

	CALLGRIND_START_INSTRUMENTATION;
	r = dep ? set_dependent(b, s, state, iters)
		: set_independent(b, s, state, iters);
	CALLGRIND_ZERO_STATS;
	r = r && (dep ? set_dependent(b, s, state, iters)
		      : set_independent(b, s, state, iters));
	CALLGRIND_STOP_INSTRUMENTATION;
	return r ? 0 : -1;
}

static int lookup_main(int argc, char **argv)
{
	uint64_t set_bytes = 0, samples = 201, iters = 100000, stage = 2;
	bool json = false, dep = false, cg = false, iters_set = false;
	double *ns = NULL, clock_ns, med;
	struct set s;
	struct be b;
	int ret = 1;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--json")) {
			json = true;
		} else if (!strcmp(a, "--dependent")) {
			dep = true;
		} else if (!strcmp(a, "--callgrind")) {
			cg = true;
		} else if (!strcmp(a, "--set") && v) {
			if (parse_size(a, v, &set_bytes))
				return usage_error();
			i++;
		} else if (!strcmp(a, "--samples") && v) {
			if (parse_count(a, v, 3, 100000000, &samples))
				return usage_error();
			i++;
		} else if (!strcmp(a, "--iters") && v) {
			if (parse_count(a, v, 1, 1000000000, &iters))
				return usage_error();
			iters_set = true;
			i++;
		} else if (!strcmp(a, "--stage") && v) {
			if (parse_count(a, v, 1, 2, &stage))
				return usage_error();
			i++;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			printf("%s", usage);
			return 0;
		} else {
			fprintf(stderr, "peer-bench lookup: unexpected '%s'\n",
				a);
			return usage_error();
		}
	}
	if (!set_bytes) {
		fprintf(stderr, "peer-bench lookup: --set SIZE is required\n");
		return usage_error();
	}
	if ((iters_set && !cg) || (cg && json)) {
		fprintf(stderr, "peer-bench lookup: --iters goes with "
				"--callgrind, --json without it\n");
		return usage_error();
	}
	if (set_bytes >> GRANULE_SHIFT > UINT32_MAX) {
		fprintf(stderr, "peer-bench lookup: --set too large\n");
		return 2;
	}
	if (be_create(&b, (int)stage)) {
		fprintf(stderr, "peer-bench: cannot create the page table\n");
		return 1;
	}
	if (set_map(&b, &s, set_bytes))
		goto out;

	if (cg) {
		uint64_t state = dep ? s.base : 0x9e3779b97f4a7c15u;

		if (bench_cg_loop_set(&b, &s, dep, iters, &state))
			goto failed;
		printf("callgrind lookup: %" PRIu64 " %s lookups over a set of "
		       "%" PRIu64 " bytes between "
		       "CALLGRIND_START/STOP_INSTRUMENTATION, after as many "
		       "to warm the caches%s\n",
		       iters, dep ? "dependent" : "independent", set_bytes,
#ifdef HAVE_CALLGRIND_H
		       ""
#else
		       " (built without valgrind/callgrind.h: nothing is "
		       "counted)"
#endif
		);
		ret = 0;
		goto out;
	}

	ns = malloc(samples * sizeof(*ns));
	if (!ns) {
		fprintf(stderr, "peer-bench: out of memory\n");
		goto out;
	}
	clock_ns = bench_clock_ns();
	{
		uint64_t state = dep ? s.base : 0x9e3779b97f4a7c15u;
		volatile uint64_t sink;

		for (uint64_t k = 0; k < WARMUP_ROUNDS + samples; k++) {
			uint64_t t0 = bench_now_ns(), t1, r;

			r = dep ? set_dependent(&b, &s, &state, SET_BATCH)
				: set_independent(&b, &s, &state, SET_BATCH);
			t1 = bench_now_ns();
			if (!r)
				goto failed;
			sink = r;
			(void)sink;
			if (k >= WARMUP_ROUNDS)
				ns[k - WARMUP_ROUNDS] =
					(double)(t1 - t0) / SET_BATCH;
		}
	}
	med = bench_median(ns, samples);
	if (json) {
		printf("{\"impl\": \"%s\", \"format\": \"%s\", \"granule\": "
		       "%" PRIu64 ", \"set_bytes\": %" PRIu64 ", \"pages\": "
		       "%" PRIu64 ", \"dependent\": %s, \"lookups\": %" PRIu64
		       ", \"table_bytes\": %" PRIu64 ", \"clock_ns\": %.1f, "
		       "\"ns_per_lookup\": %.2f}\n",
		       PB_IMPL, be_format(&b), entry_size(0), set_bytes,
		       s.pages, dep ? "true" : "false", samples * SET_BATCH,
		       be_table_bytes(&b), clock_ns, med);
	} else {
		char b0[24];

		printf("peer-bench lookup: %s %s, set of %s (%" PRIu64
		       " 4K pages, %" PRIu64 " bytes of tables), %s lookups\n",
		       PB_IMPL, be_format(&b),
		       bench_size_str(set_bytes, b0, sizeof(b0)), s.pages,
		       be_table_bytes(&b), dep ? "dependent" : "independent");
		printf("%.2f ns per lookup (median of %" PRIu64 " samples of %u; "
		       "clock_gettime pair %.1f ns per sample, not "
		       "subtracted)\n",
		       med, samples, SET_BATCH, clock_ns);
	}
	ret = 0;
	goto out;
failed:
	fprintf(stderr, "peer-bench lookup: a lookup failed\n");
out:
	free(ns);
	be_destroy(&b);
	return ret;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "ops"))
		return ops_main(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "lookup"))
		return lookup_main(argc - 1, argv + 1);
	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		printf("%s", usage);
		return 0;
	}
	return usage_error();
}
