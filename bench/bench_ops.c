/* SPDX-License-Identifier: MIT */
/*
 * iopgt bench ops: the median cost of single operations, measured into
 * tables that already exist, next to two references measured in the same
 * process: the store limit (plain stores into a warm table page) and the
 * latency of one cache-missing dependent load.
 *
 * Method
 *   - One domain. Every case has its own IOVA region, and each table the
 *     case maps into holds one "neighbour" leaf in its last entry for the
 *     whole run, so map never allocates and unmap never frees a table: both
 *     are measured in the steady state.
 *   - A sample times a batch of calls with CLOCK_MONOTONIC (64 calls of one
 *     leaf, or 8 calls of 256 leaves, each into its own table) and divides
 *     by the batch. Each call is followed by its own iopgt_sync. The clock's
 *     own cost is measured and printed, not subtracted.
 *   - Samples of all cases are interleaved round by round, so drift and
 *     noise hit every case alike; the median over the rounds is reported.
 *   - lookup: 256 lookups per sample, each IOVA computed from the PA the
 *     previous one returned (a dependent chain: latency, not throughput).
 *   - The store limit: 256 8-byte volatile (plain, unvectorised) stores of
 *     leaf-like values into each of 8 preallocated, already-touched table
 *     pages per sample, exactly the writes map_256x4k has to make.
 *   - load_miss: pointer chasing through a 256 MiB buffer (one pointer per
 *     64-byte line, one random cycle through all lines), 4096 dependent
 *     loads per sample. Transparent huge pages are requested for the buffer
 *     so that the figure is the memory latency and not a TLB miss on top.
 *
 * Sizes for other granules: the keys are named after the 4K-granule sizes;
 * for another granule "4k" means the granule (16K, 64K), "2m" the next leaf
 * size (32M, 512M) and "1g" the third leaf size, which the 16K and 64K
 * stage-2 formats do not have (reported as null). "256x4k" is 256 granule
 * leaves in one call, "256x2m" 256 next-size leaves. The JSON says which
 * byte sizes were used (leaf_4k_bytes, leaf_2m_bytes, leaf_1g_bytes).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bench.h"
#include "bench_cli.h"
#include "bench_callgrind.h"
#include "bench_util.h"
#include "cli.h"
#include "iopgt.h"
#include "strategy.h"

static const char ops_usage[] =
	"usage: iopgt bench ops [FORMAT OPTIONS] [--no-reclaim] [--no-coalesce]\n"
	"                       [--counts] [--strategy S]\n"
	"                       [--reps N] [--json]\n"
	"       iopgt bench ops [FORMAT OPTIONS] [--no-reclaim] [--no-coalesce]\n"
	"                       [--counts] [--strategy S]\n"
	"                       --callgrind-op OP [--iters N]\n"
	"\n"
	"Median nanoseconds of map and unmap (each followed by iopgt_sync) of one\n"
	"4K, 2M and 1G leaf, of 256 4K leaves in one call (1 MiB) and 256 2M\n"
	"leaves in one call (512 MiB), all into tables that already exist, and of\n"
	"a lookup. Measured in the same run: the store limit (256 plain 8-byte\n"
	"stores into a warm table page) and the latency of one cache-missing\n"
	"dependent load; the ratios of the targets are printed.\n"
	"\n"
	"For the 16K and 64K granules the 4K/2M/1G names stand for the format's\n"
	"first, second and third leaf sizes (16K/32M, 64K/512M; no third: null).\n"
	"\n"
	"options:\n"
	"  --reps N          rounds of samples (default 2000, at least 3)\n"
	"  --json            print one JSON object instead of a table\n"
	"  --callgrind-op OP run exactly N operations OP inside\n"
	"                    CALLGRIND_START/STOP_INSTRUMENTATION and exit; OP is\n"
	"                    map4k (map of one granule page into an existing table,\n"
	"                    then iopgt_sync), unmap4k (unmap of one, then sync),\n"
	"                    map2m, unmap2m, map1g, unmap1g (the same with one\n"
	"                    leaf of the second or third size), lookup,\n"
	"                    map256x4k / unmap256x4k, map256x2m / unmap256x2m\n"
	"                    (256 leaves in one call, then sync), or none (the\n"
	"                    loop alone). Run under\n"
	"                    valgrind --tool=callgrind --instr-atstart=no\n"
	"  --iters N         operations for --callgrind-op (default 100000)\n"
	"  --no-reclaim      the domain keeps emptied tables\n"
	"                    (IOPGT_OPT_NO_RECLAIM)\n"
	"  --no-coalesce     the domain never coalesces (IOPGT_OPT_NO_COALESCE);\n"
	"                    with --no-reclaim it keeps no entry counts\n"
	"  --counts          the domain keeps entry counts (IOPGT_OPT_COUNTS);\n"
	"                    by default it keeps none, and coalesces and\n"
	"                    reclaims by probes and scans\n"
	"  --no-counts       the default, named (IOPGT_OPT_NO_COUNTS)\n"
	"  --strategy S      the domain's reclaim strategy (below); under\n"
	"                    rcu-qsbr a quiescent state is announced once a\n"
	"                    round, outside the timed calls\n"
	"  -h, --help        this text\n"
	"\n"
	"format options:\n";

#define PROT_RW (IOPGT_PROT_READ | IOPGT_PROT_WRITE)
#define SINGLE_BATCH 64u  /* calls per sample, one leaf each */
#define MULTI_BATCH 8u    /* calls per sample, 256 leaves each */
#define MULTI_COUNT 256u  /* leaves per call in the 256x cases */
/* The store limit writes what the 256x4k case writes. */
_Static_assert(MULTI_BATCH == BENCH_STORE_PAGES &&
	       MULTI_COUNT == BENCH_STORE_COUNT, "store limit layout");
#define LOOKUP_CHAIN 256u /* dependent lookups per sample */
#define LOOKUP_PAGES 64u  /* distinct pages the chain goes round */
#define WARMUP_ROUNDS 20u

/* What the benchmark needs to know of the domain's geometry. */
struct bgeo {
	unsigned levels;
	unsigned granule;    /* log2 of the smallest leaf */
	unsigned bits;       /* index bits of a non-root table */
	uint64_t leaf_sizes; /* from iopgt_domain_info */
	uint64_t top;        /* end of the lower input space: 2^ias, or
	                      * 2^(ias-1) where the format sign-extends */
	size_t table_size;
	uint64_t next;       /* region allocator: first free IOVA */
};

static uint64_t entry_size(const struct bgeo *g, unsigned level)
{
	return UINT64_C(1) << (g->granule + g->bits * level);
}

static uint64_t table_span(const struct bgeo *g, unsigned level)
{
	return entry_size(g, level) << g->bits;
}

static unsigned table_entries(const struct bgeo *g)
{
	return 1u << g->bits;
}

static bool leaf_ok(const struct bgeo *g, unsigned level)
{
	return level < g->levels - 1 && (g->leaf_sizes & entry_size(g, level));
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* IOVA for n consecutive level-`level` tables (level below the root), all
 * under one parent table unless the parent is the root. */
static int region(struct bgeo *g, unsigned level, unsigned n, uint64_t *base)
{
	uint64_t span = table_span(g, level), cur = align_up(g->next, span);

	if (level + 2 < g->levels) {
		uint64_t pspan = table_span(g, level + 1);
		if (cur / pspan != (cur + n * span - 1) / pspan)
			cur = align_up(cur, pspan);
	}
	if (cur >= g->top || n * span > g->top - cur)
		return -ERANGE;
	*base = cur;
	g->next = cur + n * span;
	return 0;
}

/* One timed case: map then unmap of `count` leaves at `level`. */
struct ops_case {
	const char *name;  /* key infix: "4k", "256x4k", ... */
	unsigned level;
	unsigned count;    /* leaves per call */
	unsigned batch;    /* calls per sample */
	bool present;      /* the format has this leaf size */
	uint64_t base;
	double *map_s, *unmap_s;
	double map_ns, unmap_ns;
};

/* IOVA of the j-th call of case c. */
static uint64_t case_iova(const struct bgeo *g, const struct ops_case *c,
			  unsigned j)
{
	if (c->count == 1)
		return c->base + j * entry_size(g, c->level);
	return c->base + j * table_span(g, c->level);
}

static int fail(const char *what, uint64_t iova, int64_t r)
{
	fprintf(stderr, "iopgt bench ops: %s at 0x%" PRIx64 " failed: %s\n",
		what, iova, r < 0 ? strerror((int)-r) : "short unmap");
	return -1;
}

/* Map the neighbour leaf of each table the case uses: the last entry. */
static int case_setup(struct iopgt_domain *dom, const struct bgeo *g,
		      struct ops_case *c)
{
	uint64_t sz = entry_size(g, c->level);
	unsigned tables = c->count == 1 ? 1 : c->batch;
	struct iopgt_gather gat;

	iopgt_gather_init(&gat, sizeof(gat));
	for (unsigned t = 0; t < tables; t++) {
		uint64_t iova = c->base + t * table_span(g, c->level) +
				(table_entries(g) - 1) * sz;
		int r = iopgt_map(dom, iova, iova, sz, PROT_RW, &gat);
		iopgt_sync(dom, &gat);
		if (r)
			return fail("map of the neighbour leaf", iova, r);
	}
	/* Check once that a call maps leaves of the intended size. */
	{
		uint64_t iova = case_iova(g, c, 0);
		struct iopgt_translation tr;
		int64_t u;
		int r = iopgt_map(dom, iova, iova, c->count * sz, PROT_RW, &gat);

		iopgt_sync(dom, &gat);
		if (r)
			return fail("map", iova, r);
		r = iopgt_lookup(dom, iova + c->count * sz - 1, &tr);
		if (r || tr.leaf_size != sz) {
			fprintf(stderr, "iopgt bench ops: %s: expected leaves "
					"of %" PRIu64 " bytes, found %" PRIu64
					"\n",
				c->name, sz, r ? 0 : tr.leaf_size);
			return -1;
		}
		u = iopgt_unmap(dom, iova, c->count * sz, &gat);
		iopgt_sync(dom, &gat);
		if (u != (int64_t)(c->count * sz))
			return fail("unmap", iova, u);
	}
	return 0;
}

static int case_sample(struct iopgt_domain *dom, const struct bgeo *g,
		       struct ops_case *c, unsigned rep)
{
	uint64_t size = c->count * entry_size(g, c->level), t0, t1, t2;
	struct iopgt_gather gat;
	int64_t bad = 0;
	int err = 0;

	iopgt_gather_init(&gat, sizeof(gat));
	t0 = bench_now_ns();
	for (unsigned j = 0; j < c->batch; j++) {
		uint64_t iova = case_iova(g, c, j);
		err |= iopgt_map(dom, iova, iova, size, PROT_RW, &gat);
		iopgt_sync(dom, &gat);
	}
	t1 = bench_now_ns();
	for (unsigned j = 0; j < c->batch; j++) {
		bad |= iopgt_unmap(dom, case_iova(g, c, j), size, &gat) ^
		       (int64_t)size;
		iopgt_sync(dom, &gat);
	}
	t2 = bench_now_ns();
	if (err || bad) {
		fprintf(stderr, "iopgt bench ops: %s: map or unmap failed\n",
			c->name);
		return -1;
	}
	if (c->map_s) {
		c->map_s[rep] = (double)(t1 - t0) / c->batch;
		c->unmap_s[rep] = (double)(t2 - t1) / c->batch;
	}
	return 0;
}

/* A chain of dependent lookups over LOOKUP_PAGES mapped leaves at base. */
static int lookup_sample(struct iopgt_domain *dom, const struct bgeo *g,
			 uint64_t base, double *out)
{
	uint64_t sz = entry_size(g, 0), mask = LOOKUP_PAGES * sz - 1;
	uint64_t iova = base, t0, t1;
	struct iopgt_translation tr;
	int err = 0;

	tr.pa = base;
	t0 = bench_now_ns();
	for (unsigned i = 0; i < LOOKUP_CHAIN; i++) {
		err |= iopgt_lookup(dom, iova, &tr);
		/* pa == iova here: the next IOVA depends on the answer. */
		iova = base + ((tr.pa - base + sz) & mask);
	}
	t1 = bench_now_ns();
	if (err) {
		fprintf(stderr, "iopgt bench ops: lookup failed\n");
		return -1;
	}
	if (out)
		*out = (double)(t1 - t0) / LOOKUP_CHAIN;
	return 0;
}

/* ------------------------------------------------------------------------
 * Instruction counts: exactly `iters` operations between the callgrind
 * client requests, in a function of its own (also usable with
 * valgrind --toggle-collect='bench_cg_loop*': optimised builds rename it).
 */

enum cg_op { CG_NONE, CG_MAP, CG_UNMAP, CG_LOOKUP, CG_MAP256, CG_UNMAP256 };

/* The names of --callgrind-op: the operation, and the level of its
 * leaves (0: the smallest page; 1 and 2: the second and third sizes). */
static const struct cg_name {
	const char *name;
	enum cg_op op;
	unsigned level;
} cg_names[] = {
	{ "map4k", CG_MAP, 0 },		{ "unmap4k", CG_UNMAP, 0 },
	{ "map2m", CG_MAP, 1 },		{ "unmap2m", CG_UNMAP, 1 },
	{ "map1g", CG_MAP, 2 },		{ "unmap1g", CG_UNMAP, 2 },
	{ "lookup", CG_LOOKUP, 0 },	{ "map256x4k", CG_MAP256, 0 },
	{ "unmap256x4k", CG_UNMAP256, 0 }, { "map256x2m", CG_MAP256, 1 },
	{ "unmap256x2m", CG_UNMAP256, 1 }, { "none", CG_NONE, 0 },
};
#define CG_NAMES (sizeof(cg_names) / sizeof(cg_names[0]))

static const struct cg_name *cg_lookup(const char *name)
{
	for (size_t k = 0; k < CG_NAMES; k++)
		if (!strcmp(cg_names[k].name, name))
			return &cg_names[k];
	return NULL;
}

static bool cg_multi(enum cg_op op)
{
	return op == CG_MAP256 || op == CG_UNMAP256;
}

static void __attribute__((noinline)) bench_cg_nop(uint64_t iova)
{
	bench_barrier();
	(void)iova;
}

/* Single operations go to entries 0..E-3 of consecutive level-0 tables;
 * entry E-2 stays empty and E-1 holds the neighbour leaf, so no table ever
 * becomes full (a full table of contiguous leaves would be coalesced). The
 * 256-leaf operations use entries 0..255 of one table each. */
static int __attribute__((noinline))
bench_cg_loop(struct iopgt_domain *dom, const struct bgeo *g, enum cg_op op,
	      unsigned lvl, uint64_t base, unsigned long iters)
{
	uint64_t sz = entry_size(g, lvl), span = table_span(g, lvl);
	unsigned per = cg_multi(op) ? 1 : table_entries(g) - 2, i = 0;
	uint64_t tbase = base, iova = base;
	struct iopgt_translation tr;
	struct iopgt_gather gat;
	int64_t err = 0;

	iopgt_gather_init(&gat, sizeof(gat));
	CALLGRIND_START_INSTRUMENTATION;
	for (unsigned long k = 0; k < iters; k++) {
		switch (op) {
		case CG_MAP:
			err |= iopgt_map(dom, iova, iova, sz, PROT_RW, &gat);
			iopgt_sync(dom, &gat);
			break;
		case CG_UNMAP:
			err |= iopgt_unmap(dom, iova, sz, &gat) ^ (int64_t)sz;
			iopgt_sync(dom, &gat);
			break;
		case CG_LOOKUP:
			err |= iopgt_lookup(dom, iova, &tr);
			break;
		case CG_MAP256:
			err |= iopgt_map(dom, iova, iova, MULTI_COUNT * sz,
					 PROT_RW, &gat);
			iopgt_sync(dom, &gat);
			break;
		case CG_UNMAP256:
			err |= iopgt_unmap(dom, iova, MULTI_COUNT * sz, &gat) ^
			       (int64_t)(MULTI_COUNT * sz);
			iopgt_sync(dom, &gat);
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

static int run_callgrind(struct iopgt_domain *dom, const struct bgeo *g,
			 enum cg_op op, unsigned lvl, const char *opname,
			 unsigned long iters, const struct cli_strategy *strat)
{
	unsigned per = cg_multi(op) ? MULTI_COUNT : table_entries(g) - 2;
	unsigned long tables = cg_multi(op) ? iters : (iters + per - 1) / per;
	uint64_t sz = entry_size(g, lvl), span = table_span(g, lvl), base = 0;
	struct iopgt_gather gat;
	int r;

	if (tables > g->top / span) {
		fprintf(stderr, "iopgt bench ops: --iters too large for this "
				"input size\n");
		return 2;
	}
	iopgt_gather_init(&gat, sizeof(gat));
	for (unsigned long t = 0; t < tables; t++) {
		uint64_t first = base + t * span, nb = first + (per + 1) * sz;
		uint64_t n = cg_multi(op) || t + 1 < tables ? per
							    : iters - t * per;

		r = iopgt_map(dom, nb, nb, sz, PROT_RW, &gat);
		iopgt_sync(dom, &gat);
		if (r) {
			fail("map of the neighbour leaf", nb, r);
			return 1;
		}
		if (op == CG_UNMAP || op == CG_LOOKUP || op == CG_UNMAP256) {
			r = iopgt_map(dom, first, first, n * sz, PROT_RW, &gat);
			iopgt_sync(dom, &gat);
			if (r) {
				fail("map", first, r);
				return 1;
			}
		}
		cli_strategy_quiescent(strat);
	}
	/* None inside the counted loop: its instructions would be counted.
	 * Its operations free no table (every table keeps a neighbour), so
	 * no grace period is waited for meanwhile. */
	if (bench_cg_loop(dom, g, op, lvl, base, iters)) {
		fprintf(stderr, "iopgt bench ops: %s failed\n", opname);
		return 1;
	}
	printf("callgrind-op %s: %lu operations over %lu tables between "
	       "CALLGRIND_START/STOP_INSTRUMENTATION%s\n",
	       opname, iters, tables,
#ifdef HAVE_CALLGRIND_H
	       ""
#else
	       " (built without valgrind/callgrind.h: use "
	       "--toggle-collect='bench_cg_loop*')"
#endif
	);
	return 0;
}

/* ------------------------------------------------------------------------
 * Output
 */

static void json_num(const char *key, double v, bool present, bool comma)
{
	if (present)
		printf("\"%s\": %.1f%s", key, v, comma ? ", " : "");
	else
		printf("\"%s\": null%s", key, comma ? ", " : "");
}

static const char *verdict(double ratio, double target)
{
	return ratio <= target ? "met" : "NOT met";
}

enum {
	OPT_JSON = CLI_OPT_CMD,
	OPT_REPS,
	OPT_ITERS,
	OPT_CALLGRIND_OP,
	OPT_NO_RECLAIM,
	OPT_NO_COALESCE,
	OPT_NO_COUNTS,
	OPT_COUNTS,
	OPT_STRATEGY
};

int bench_ops_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_OPTIONS_FORMAT,
		{ "reps", required_argument, NULL, OPT_REPS },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "callgrind-op", required_argument, NULL, OPT_CALLGRIND_OP },
		{ "iters", required_argument, NULL, OPT_ITERS },
		{ "no-reclaim", no_argument, NULL, OPT_NO_RECLAIM },
		{ "no-coalesce", no_argument, NULL, OPT_NO_COALESCE },
		{ "no-counts", no_argument, NULL, OPT_NO_COUNTS },
		{ "counts", no_argument, NULL, OPT_COUNTS },
		{ "strategy", required_argument, NULL, OPT_STRATEGY },
		CLI_OPTION_HELP,
		CLI_OPTIONS_END,
	};
	static const char cmd[] = "iopgt bench ops";
	struct iopgt_config cfg;
	struct iopgt_domain *dom = NULL;
	struct iopgt_info info;
	struct bgeo g;
	const struct cli_strategy *strat = cli_strategy_find("epoch");
	uint64_t reps = 2000, iters = 100000;
	bool json = false, iters_set = false;
	unsigned options = 0;
	const char *cg_name = NULL;
	enum cg_op cg_op = CG_NONE;
	unsigned cg_level = 0;
	struct ops_case cases[5];
	double *store_s = NULL, *lookup_s = NULL;
	double store_ns, lookup_ns, miss_ns, clock_ns;
	uint64_t *pages[MULTI_BATCH] = { NULL };
	uint64_t lookup_base;
	long thp = -1;
	char b0[24], b1[24], b2[24];
	int ret = 1, r, opt;

	memset(cases, 0, sizeof(cases));
	bench_opts_begin(&cfg);
	while ((opt = bench_getopt(argc, argv, longopts, cmd, ops_usage,
				   &cfg)) != -1) {
		switch (opt) {
		case BENCH_OPT_HELP:
			return 0;
		case OPT_JSON:
			json = true;
			break;
		case OPT_NO_RECLAIM:
			options |= IOPGT_OPT_NO_RECLAIM;
			break;
		case OPT_NO_COALESCE:
			options |= IOPGT_OPT_NO_COALESCE;
			break;
		case OPT_NO_COUNTS:
			options |= IOPGT_OPT_NO_COUNTS;
			break;
		case OPT_COUNTS:
			options |= IOPGT_OPT_COUNTS;
			break;
		case OPT_STRATEGY:
			if (cli_strategy_arg(cmd, optarg, &strat))
				goto usage;
			break;
		case OPT_REPS:
			if (cli_count_arg(cmd, "--reps", optarg, 3, 100000000,
					  &reps))
				goto usage;
			break;
		case OPT_ITERS:
			if (cli_count_arg(cmd, "--iters", optarg, 1, 100000000,
					  &iters))
				goto usage;
			iters_set = true;
			break;
		case OPT_CALLGRIND_OP: {
			const struct cg_name *n = cg_lookup(optarg);

			if (!n) {
				fprintf(stderr, "%s: bad value for "
						"--callgrind-op: '%s' (",
					cmd, optarg);
				for (size_t k = 0; k < CG_NAMES; k++)
					fprintf(stderr, "%s%s", k ? ", " : "",
						cg_names[k].name);
				fprintf(stderr, ")\n");
				goto usage;
			}
			cg_op = n->op;
			cg_level = n->level;
			cg_name = optarg;
			break;
		}
		default:
			goto usage;
		}
	}
	if (bench_opts_end(argc, argv, cmd, &cfg))
		goto usage;
	cfg.options |= options;
	cli_strategy_apply(strat, &cfg);
	if (iters_set && !cg_name) {
		fprintf(stderr, "iopgt bench ops: --iters goes with "
				"--callgrind-op\n");
		goto usage;
	}
	if (cg_name && json) {
		fprintf(stderr, "iopgt bench ops: --json does not go with "
				"--callgrind-op\n");
		goto usage;
	}

	/* This thread makes every call, and is registered with the RCU
	 * flavor (if any) from before the first to after the destroy. */
	cli_strategy_thread_begin(strat);
	r = iopgt_domain_create(&cfg, &dom);
	if (r) {
		fprintf(stderr, "iopgt bench ops: cannot create a %s domain: "
				"%s\n",
			cli_format_desc(&cfg), strerror(-r));
		cli_strategy_thread_end(strat);
		return 1;
	}
	iopgt_domain_info(dom, &info, sizeof(info));
	memset(&g, 0, sizeof(g));
	g.levels = info.levels;
	g.granule = info.granule;
	g.bits = info.granule - 3;
	g.leaf_sizes = info.leaf_sizes;
	/* The input space, or its lower half where the format sign-extends
	 * (iova_last: 2^ias - 1 or 2^(ias-1) - 1). */
	g.top = info.iova_last == UINT64_MAX ? UINT64_MAX : info.iova_last + 1;
	g.table_size = (size_t)1 << info.granule;
	if (g.levels < 3) {
		fprintf(stderr, "iopgt bench ops: %s has %u levels; the "
				"benchmark needs at least 3\n",
			cli_format_desc(&cfg), g.levels);
		goto out;
	}

	if (cg_name) {
		if (cg_level && !leaf_ok(&g, cg_level)) {
			fprintf(stderr, "iopgt bench ops: %s has no leaf of "
					"level %u for --callgrind-op %s\n",
				cli_format_desc(&cfg), cg_level, cg_name);
			goto out;
		}
		ret = run_callgrind(dom, &g, cg_op, cg_level, cg_name, iters,
				    strat);
		goto out;
	}

	{
		const struct ops_case init[5] = {
			{ "4k", 0, 1, SINGLE_BATCH, 0, 0, 0, 0, 0, 0 },
			{ "2m", 1, 1, SINGLE_BATCH, 0, 0, 0, 0, 0, 0 },
			{ "1g", 2, 1, SINGLE_BATCH, 0, 0, 0, 0, 0, 0 },
			{ "256x4k", 0, MULTI_COUNT, MULTI_BATCH, 0, 0, 0, 0,
			  0, 0 },
			{ "256x2m", 1, MULTI_COUNT, MULTI_BATCH, 0, 0, 0, 0,
			  0, 0 },
		};
		memcpy(cases, init, sizeof(cases));
	}
	for (unsigned k = 0; k < 5; k++) {
		struct ops_case *c = &cases[k];

		c->present = leaf_ok(&g, c->level);
		if (!c->present)
			continue;
		if (region(&g, c->level, c->count == 1 ? 1 : c->batch,
			   &c->base)) {
			fprintf(stderr, "iopgt bench ops: the input space of "
					"%s is too small for the benchmark\n",
				cli_format_desc(&cfg));
			goto out;
		}
		c->map_s = malloc(reps * sizeof(double));
		c->unmap_s = malloc(reps * sizeof(double));
		if (!c->map_s || !c->unmap_s)
			goto nomem;
		if (case_setup(dom, &g, c))
			goto out;
		cli_strategy_quiescent(strat);
	}
	if (region(&g, 0, 1, &lookup_base)) {
		fprintf(stderr, "iopgt bench ops: the input space is too "
				"small for the benchmark\n");
		goto out;
	}
	{
		struct iopgt_gather gat;
		uint64_t sz = entry_size(&g, 0);

		iopgt_gather_init(&gat, sizeof(gat));
		r = iopgt_map(dom, lookup_base, lookup_base, LOOKUP_PAGES * sz,
			      PROT_RW, &gat);
		iopgt_sync(dom, &gat);
		if (r) {
			fail("map", lookup_base, r);
			goto out;
		}
	}
	store_s = malloc(reps * sizeof(double));
	lookup_s = malloc(reps * sizeof(double));
	if (!store_s || !lookup_s)
		goto nomem;
	for (unsigned b = 0; b < MULTI_BATCH; b++) {
		pages[b] = aligned_alloc(g.table_size, g.table_size);
		if (!pages[b])
			goto nomem;
		memset(pages[b], 0, g.table_size);
	}

	clock_ns = bench_clock_ns();
	/* Rounds: one sample of every case each. */
	for (unsigned long rep = 0; rep < WARMUP_ROUNDS + reps; rep++) {
		bool keep = rep >= WARMUP_ROUNDS;
		unsigned long k = rep - WARMUP_ROUNDS;

		for (unsigned c = 0; c < 5; c++) {
			struct ops_case *oc = &cases[c];
			if (!oc->present)
				continue;
			if (case_sample(dom, &g, oc, keep ? (unsigned)k : 0))
				goto out;
		}
		if (lookup_sample(dom, &g, lookup_base,
				  keep ? &lookup_s[k] : NULL))
			goto out;
		{
			double s = bench_store_sample(pages, entry_size(&g, 0));
			if (keep)
				store_s[k] = s;
		}
		/* QSBR: once a round, between the timed batches (the steady
		 * state frees no table, so nothing waits on it). */
		cli_strategy_quiescent(strat);
	}
	for (unsigned c = 0; c < 5; c++) {
		if (!cases[c].present)
			continue;
		cases[c].map_ns = bench_median(cases[c].map_s, reps);
		cases[c].unmap_ns = bench_median(cases[c].unmap_s, reps);
	}
	lookup_ns = bench_median(lookup_s, reps);
	store_ns = bench_median(store_s, reps);
	miss_ns = bench_load_miss(&thp);
	if (miss_ns < 0) {
		fprintf(stderr, "iopgt bench ops: cannot allocate the "
				"pointer-chasing buffer\n");
		goto out;
	}

	if (json) {
		printf("{\"format\": \"%s\", \"levels\": %u, \"granule\": %" PRIu64
		       ", \"ias\": %u, \"options\": %u, \"strategy\": \"%s\", "
		       "\"gather_policy\": \"%s\", ",
		       iopgt_format_name(info.format), info.levels,
		       entry_size(&g, 0), info.ias, options, strat->name,
		       iopgt_gather_policy_name(
			       (enum iopgt_gather_policy)cfg.gather_policy));
		for (unsigned c = 0; c < 3; c++) {
			if (cases[c].present)
				printf("\"leaf_%s_bytes\": %" PRIu64 ", ",
				       cases[c].name,
				       entry_size(&g, cases[c].level));
			else
				printf("\"leaf_%s_bytes\": null, ",
				       cases[c].name);
		}
		for (unsigned pass = 0; pass < 2; pass++) {
			for (unsigned c = 0; c < 5; c++) {
				char key[32];
				snprintf(key, sizeof(key), "%s_%s_ns",
					 pass ? "unmap" : "map", cases[c].name);
				json_num(key,
					 pass ? cases[c].unmap_ns
					      : cases[c].map_ns,
					 cases[c].present, true);
			}
		}
		json_num("lookup_ns", lookup_ns, true, true);
		json_num("store_limit_256x4k_ns", store_ns, true, true);
		json_num("load_miss_ns", miss_ns, true, false);
		printf("}\n");
	} else {
		printf("iopgt bench ops: %s", cli_format_desc(&cfg));
		/* The description names the levels only of a format with
		 * one granule (cli_format_desc). */
		if (!strstr(cli_format_desc(&cfg), "-level"))
			printf(", %u levels", info.levels);
		if (options & IOPGT_OPT_NO_RECLAIM)
			printf(", no reclaim");
		if (options & IOPGT_OPT_NO_COALESCE)
			printf(", no coalesce");
		if (options & IOPGT_OPT_COUNTS)
			printf(", counts");
		printf(", strategy %s", strat->name);
		printf(", %lu rounds; median ns per call (map/unmap include "
		       "their iopgt_sync)\n",
		       reps);
		printf("%-26s %10s %10s\n", "", "map", "unmap");
		for (unsigned c = 0; c < 5; c++) {
			struct ops_case *oc = &cases[c];
			char label[64];
			uint64_t sz = entry_size(&g, oc->level);

			if (oc->count == 1)
				snprintf(label, sizeof(label), "%s (%s)",
					 oc->name,
					 bench_size_str(sz, b0, sizeof(b0)));
			else
				snprintf(label, sizeof(label), "%s (%ux%s = %s)",
					 oc->name, oc->count,
					 bench_size_str(sz, b0, sizeof(b0)),
					 bench_size_str(sz * oc->count, b1,
							sizeof(b1)));
			if (oc->present)
				printf("%-26s %10.1f %10.1f\n", label,
				       oc->map_ns, oc->unmap_ns);
			else
				printf("%-26s %10s %10s  (no such leaf in "
				       "this format)\n",
				       oc->name, "-", "-");
		}
		printf("%-26s %10.1f  (dependent chain of %u)\n", "lookup",
		       lookup_ns, LOOKUP_CHAIN);
		printf("%-26s %10.1f  (256 plain 8-byte stores, warm page)\n",
		       "store limit 256 entries", store_ns);
		printf("%-26s %10.1f  (pointer chase, %s buffer, THP %ld KiB)\n",
		       "load miss", miss_ns,
		       bench_size_str(BENCH_LOAD_MISS_BYTES, b2, sizeof(b2)),
		       thp);
		printf("clock_gettime pair: %.1f ns per sample, not subtracted "
		       "(spread over %u or %u calls a sample)\n",
		       clock_ns, SINGLE_BATCH, MULTI_BATCH);
		printf("\nratios against the targets\n");
		if (cases[3].present)
			printf("  map_256x4k / store_limit  %6.2f  (target <= 3: "
			       "%s)\n",
			       cases[3].map_ns / store_ns,
			       verdict(cases[3].map_ns / store_ns, 3));
		printf("  map_4k / load_miss        %6.2f  (target <= 10: %s)\n",
		       cases[0].map_ns / miss_ns,
		       verdict(cases[0].map_ns / miss_ns, 10));
		printf("  lookup / load_miss        %6.2f  (target <= 10: %s)\n",
		       lookup_ns / miss_ns, verdict(lookup_ns / miss_ns, 10));
	}
	ret = 0;
	goto out;
nomem:
	fprintf(stderr, "iopgt bench ops: out of memory\n");
out:
	for (unsigned b = 0; b < MULTI_BATCH; b++)
		free(pages[b]);
	for (unsigned c = 0; c < 5; c++) {
		free(cases[c].map_s);
		free(cases[c].unmap_s);
	}
	free(store_s);
	free(lookup_s);
	iopgt_domain_destroy(dom);
	cli_strategy_thread_end(strat);
	return ret;
usage:
	return cli_usage_error(cmd);
}
