/* SPDX-License-Identifier: MIT */
/*
 * iopgt bench lookup: lookups in a large, sparse set of smallest-page
 * mappings, against the latency of one cache-missing load measured in the
 * same run.
 *
 * The set
 *   SIZE bytes of distinct pages of the format's smallest size (4K, or the
 *   16K/64K granule), each mapped by an iopgt_map() call of its own (in
 *   ascending IOVA order, found through perm's inverse), in a domain created with IOPGT_OPT_NO_COALESCE, to a PA that is not
 *   contiguous with its neighbours': only smallest-page leaves exist.
 *   The pages are perm(0..n-1) for a keyed pseudo-random bijection perm of
 *   the pages of a window of K x SIZE (--spread K, rounded up to a power of
 *   two) at a random window-aligned IOVA: a random subset, no page twice,
 *   computed rather than stored, so no array competes with the tables for
 *   the caches and no load but the walk's is in the loop.
 *   Page perm(i) is mapped to PA perm(i + 1 mod n) * page: the window offset
 *   of the next page of one random cycle through the whole set.
 *
 * The lookups, in timed batches of 250, median over the batches
 *   independent: the IOVA of lookup k is perm(random mod n), computed from
 *     a xorshift generator: nothing links one lookup to the next, so the
 *     CPU may overlap them (throughput).
 *   --dependent: the IOVA of lookup k + 1 is window base + the PA lookup k
 *     returned: the chain follows the cycle, and no lookup can start before
 *     the previous one's walk has ended (latency of a walk).
 *   In the same rounds, in an order that rotates from round to round: a
 *   batch of lookups, the same loop with iopgt_lookup replaced by an empty
 *   function (the loop's own cost, included in ns_per_lookup, not
 *   subtracted), and a batch of as many dependent loads of two pointer
 *   chases (bench_util.h), one on transparent huge pages (ns_per_miss_load:
 *   memory latency alone, as `bench ops` measures it), one on 4K pages
 *   (ns_per_miss_load_4k: a TLB miss on top, as for table memory of the
 *   built-in allocator, which is not on huge pages). The ratios are the
 *   median over the rounds of each round's lookup time over its load
 *   time: paired in time, so that a slow stretch of a shared machine
 *   weighs on both sides of a ratio.
 *
 * Under valgrind only the lookups run: exactly N, once, between
 * CALLGRIND_ZERO_STATS + CALLGRIND_START_INSTRUMENTATION and
 * CALLGRIND_STOP_INSTRUMENTATION + CALLGRIND_DUMP_STATS_AT, so that with
 * --instr-atstart=no and --cache-sim=yes the dump holds the lookups' own
 * instructions and cache misses, without the mapping phase.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "bench_cli.h"
#include "bench_callgrind.h"
#include "bench_util.h"
#include "cli.h"
#include "iopgt.h"
#include "strategy.h"

static const char lookup_usage[] =
	"usage: iopgt bench lookup --set SIZE [--dependent] [--lookups N]\n"
	"                          [--seed S] [--spread K] [--miss-buffer SIZE]\n"
	"                          [FORMAT OPTIONS] [--strategy S] [--json]\n"
	"\n"
	"Map a random set of distinct pages of the smallest size (4K; the granule\n"
	"for arm_s2 16k/64k) totalling SIZE bytes, then time N lookups of random\n"
	"mapped IOVAs, next to the latency of one cache-missing load measured in\n"
	"the same run.\n"
	"\n"
	"The set. Each page is mapped by an iopgt_map() of its own (in ascending\n"
	"IOVA order), to a PA not contiguous with its neighbours', in a domain\n"
	"with IOPGT_OPT_NO_COALESCE: only smallest-page leaves exist, no\n"
	"superpage can form. The pages are drawn at random, none twice, from a\n"
	"window of K x SIZE (--spread, rounded up to a power of two) at a random\n"
	"IOVA aligned to the window, as a random IOVA allocator scatters its\n"
	"allocations over a space larger than what is mapped at any time: at\n"
	"K = 4 a leaf table holds about 128 of its 512 entries and a 64-byte\n"
	"line of entries about 2 mapped pages, so lookups rarely share a line,\n"
	"and the tables are larger than a dense set's (table_bytes says how\n"
	"large). K = 1 maps the whole window.\n"
	"\n"
	"The lookups, timed in batches of 250, the median over the batches:\n"
	"  default      independent: each IOVA comes from a random number (a few\n"
	"               multiplications, no memory access), so lookups may\n"
	"               overlap in the CPU: throughput\n"
	"  --dependent  each IOVA is derived from the PA the previous lookup\n"
	"               returned (every page is mapped to the offset of the next\n"
	"               page of one random cycle through the set), so no lookup\n"
	"               starts before the previous walk ends: the latency of a\n"
	"               walk, cold when the tables are larger than the caches\n"
	"In the same rounds, in a rotating order: the loop with iopgt_lookup\n"
	"replaced by an empty function (its own cost, included, not subtracted),\n"
	"and as many loads of a pointer chase through a random cycle over a\n"
	"buffer about as large as the tables, once on huge pages\n"
	"(ns_per_miss_load: the memory latency, as in 'bench ops') and once on\n"
	"4K pages (ns_per_miss_load_4k: a TLB miss too, as table memory from the\n"
	"built-in allocator, which avoids huge pages).\n"
	"ratio_to_miss_load (_4k): the median over the rounds of each round's\n"
	"time per lookup / time per load (paired in time: on a busy machine a\n"
	"slow stretch weighs on both sides of the ratio). 'quartiles' gives the\n"
	"25th and 75th percentiles of the batches, for the spread.\n"
	"\n"
	"Under valgrind only the N lookups run, once, between callgrind's\n"
	"ZERO_STATS + START_INSTRUMENTATION and STOP_INSTRUMENTATION +\n"
	"DUMP_STATS (nothing is timed; the mapping is not instrumented):\n"
	"  valgrind --tool=callgrind --cache-sim=yes --instr-atstart=no \\\n"
	"      iopgt bench lookup --set 64G --lookups 100000\n"
	"then L1 misses per lookup = (D1mr + D1mw + I1mr) / N from the dump\n"
	"('bench/run-all.sh cachesim' computes it).\n"
	"\n"
	"options:\n"
	"  --set SIZE          bytes to map, with k, M, G, T suffixes (required)\n"
	"  --dependent         dependent lookups (latency), not independent\n"
	"  --lookups N         lookups (default 1000000)\n"
	"  --seed S            seed of the set, its order and the window (default 1)\n"
	"  --spread K          window = K x SIZE, rounded up to a power of two\n"
	"                      (default 4; 1 to 65536)\n"
	"  --miss-buffer SIZE  pointer-chase buffer, a power of two (default: the\n"
	"                      one nearest the table bytes, at least 256M)\n"
	"  --strategy S        the domain's reclaim strategy (below): what a\n"
	"                      lookup pays to be a walker; under rcu-qsbr a\n"
	"                      quiescent state is announced once a round,\n"
	"                      outside the timed batches\n"
	"  --json              print one JSON object\n"
	"  -h, --help          this text\n"
	"\n"
	"format options:\n";

#define PROT_RW (IOPGT_PROT_READ | IOPGT_PROT_WRITE)
#define BATCH 250u
#define WARMUP_ROUNDS 10u
#define MAP_SYNC_EVERY 1024u
#define MIN_MISS_BYTES (UINT64_C(256) << 20)

struct lk {
	struct iopgt_domain *dom;
	uint64_t base;  /* the window's first IOVA */
	uint64_t pages; /* mapped: perm(0 .. pages - 1) */
	unsigned shift; /* log2 of the page */
	struct bench_perm perm; /* over the window's pages */
	uint64_t sink;
};

static inline uint64_t xs64(uint64_t x)
{
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return x;
}

/* IOVA of the i-th page of the set, and the PA it is mapped to. */
static uint64_t set_iova(const struct lk *L, uint64_t i)
{
	return L->base + (bench_perm(&L->perm, i) << L->shift);
}

static uint64_t set_pa(const struct lk *L, uint64_t i)
{
	return bench_perm(&L->perm, i + 1 == L->pages ? 0 : i + 1) << L->shift;
}

/* iopgt_lookup's stand-in for the loop's own cost. */
static int __attribute__((noinline))
nop_lookup(struct iopgt_domain *dom, uint64_t iova,
	   struct iopgt_translation *out)
{
	int r = 0;

	(void)dom;
	(void)iova;
	out->pa = 0;
	__asm__ __volatile__("" : "+r"(r) : : "memory");
	return r;
}

typedef int lookup_fn(struct iopgt_domain *, uint64_t,
		      struct iopgt_translation *);

/* Inlined into the wrappers below, where fn is a constant: direct calls. */
static inline __attribute__((always_inline)) int
loop_indep(struct lk *L, uint64_t n, uint64_t *rng, lookup_fn *fn)
{
	const struct bench_perm perm = L->perm;
	uint64_t s = *rng, sink = 0, pages = L->pages, base = L->base;
	struct iopgt_translation tr;
	unsigned shift = L->shift;
	int err = 0;

	for (uint64_t k = 0; k < n; k++) {
		uint64_t i;

		s = xs64(s);
		i = (uint64_t)(((unsigned __int128)s * pages) >> 64);
		err |= fn(L->dom, base + (bench_perm(&perm, i) << shift), &tr);
		sink += tr.pa;
	}
	*rng = s;
	L->sink += sink;
	return err;
}

static inline __attribute__((always_inline)) int
loop_dep(struct lk *L, uint64_t n, uint64_t *cur, lookup_fn *fn)
{
	uint64_t iova = *cur, base = L->base;
	struct iopgt_translation tr;
	int err = 0;

	for (uint64_t k = 0; k < n; k++) {
		err |= fn(L->dom, iova, &tr);
		iova = base + tr.pa;
	}
	*cur = iova;
	return err;
}

static int __attribute__((noinline))
lookups_indep(struct lk *L, uint64_t n, uint64_t *state)
{
	return loop_indep(L, n, state, iopgt_lookup);
}

static int __attribute__((noinline))
lookups_dep(struct lk *L, uint64_t n, uint64_t *state)
{
	return loop_dep(L, n, state, iopgt_lookup);
}

static int __attribute__((noinline))
nops_indep(struct lk *L, uint64_t n, uint64_t *state)
{
	return loop_indep(L, n, state, nop_lookup);
}

static int __attribute__((noinline))
nops_dep(struct lk *L, uint64_t n, uint64_t *state)
{
	return loop_dep(L, n, state, nop_lookup);
}

/* Exactly n lookups between the callgrind requests. */
static int __attribute__((noinline))
cg_lookups(struct lk *L, uint64_t n, bool dependent, uint64_t *state)
{
	int err;

	CALLGRIND_ZERO_STATS;
	CALLGRIND_START_INSTRUMENTATION;
	err = dependent ? lookups_dep(L, n, state) : lookups_indep(L, n, state);
	CALLGRIND_STOP_INSTRUMENTATION;
	CALLGRIND_DUMP_STATS_AT("iopgt bench lookup: the lookups");
	return err;
}

struct tcount {
	uint64_t tables, leaf_tables, leaf_used;
};

static int count_table(void *arg, const struct iopgt_table_info *t)
{
	struct tcount *c = arg;

	c->tables++;
	if (t->level == 0) {
		c->leaf_tables++;
		c->leaf_used += t->used;
	}
	return 0;
}

static uint64_t pow2_at_least(uint64_t v)
{
	uint64_t p = 1;

	while (p < v && p <= UINT64_MAX / 2)
		p <<= 1;
	return p;
}

static unsigned log2_of(uint64_t v)
{
	unsigned b = 0;

	while (v > 1) {
		v >>= 1;
		b++;
	}
	return b;
}

static void json_ns(const char *key, double v, bool present)
{
	if (present)
		printf(", \"%s\": %.2f", key, v);
	else
		printf(", \"%s\": null", key);
}

static void json_ratio(const char *key, double v, bool present)
{
	if (present)
		printf(", \"%s\": %.3f", key, v);
	else
		printf(", \"%s\": null", key);
}

enum {
	OPT_JSON = CLI_OPT_CMD,
	OPT_SET,
	OPT_DEPENDENT,
	OPT_LOOKUPS,
	OPT_SEED,
	OPT_SPREAD,
	OPT_MISS_BUFFER,
	OPT_STRATEGY,
};

int bench_lookup_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_OPTIONS_FORMAT,
		{ "set", required_argument, NULL, OPT_SET },
		{ "dependent", no_argument, NULL, OPT_DEPENDENT },
		{ "lookups", required_argument, NULL, OPT_LOOKUPS },
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "spread", required_argument, NULL, OPT_SPREAD },
		{ "miss-buffer", required_argument, NULL, OPT_MISS_BUFFER },
		{ "strategy", required_argument, NULL, OPT_STRATEGY },
		{ "json", no_argument, NULL, OPT_JSON },
		CLI_OPTION_HELP,
		CLI_OPTIONS_END,
	};
	static const char cmd[] = "iopgt bench lookup";
	struct iopgt_config cfg;
	struct iopgt_info info;
	struct iopgt_stats st;
	struct iopgt_gather g;
	struct tcount tc = { 0, 0, 0 };
	struct bench_chase huge, small;
	struct lk L;
	const struct cli_strategy *strat = cli_strategy_find("epoch");
	uint64_t set = 0, lookups = 1000000, seed = 1, spread = 4;
	uint64_t miss_bytes = 0, page, wpages, window, seeds, state = 0;
	uint64_t rounds = 0, t0, t1;
	double *s_lk = NULL, *s_nop = NULL, *s_miss = NULL, *s_miss4k = NULL;
	double *s_ratio = NULL, *s_ratio4k = NULL, ratio = 0, ratio4k = 0;
	double lk_ns = 0, nop_ns = 0, miss_ns = 0, miss4k_ns = 0, clock_ns = 0;
	double q[3][2] = { { 0, 0 }, { 0, 0 }, { 0, 0 } };
	double map_s;
	bool json = false, dependent = false, have_set = false;
	bool valgrind = RUNNING_ON_VALGRIND, late_usage = false;
	unsigned wbits, ibits;
	char b0[24], b1[24], b2[24];
	int ret = 1, r, opt, err = 0;

	memset(&L, 0, sizeof(L));
	memset(&huge, 0, sizeof(huge));
	memset(&small, 0, sizeof(small));
	bench_opts_begin(&cfg);
	while ((opt = bench_getopt(argc, argv, longopts, cmd, lookup_usage,
				   &cfg)) != -1) {
		switch (opt) {
		case BENCH_OPT_HELP:
			return 0;
		case OPT_JSON:
			json = true;
			break;
		case OPT_DEPENDENT:
			dependent = true;
			break;
		case OPT_SET:
			if (cli_size_arg(cmd, "--set", optarg, 1, UINT64_MAX,
					 &set))
				goto usage;
			have_set = true;
			break;
		case OPT_LOOKUPS:
			if (cli_count_arg(cmd, "--lookups", optarg, 1,
					  1000000000, &lookups))
				goto usage;
			break;
		case OPT_SEED:
			if (cli_count_arg(cmd, "--seed", optarg, 0, UINT64_MAX,
					  &seed))
				goto usage;
			break;
		case OPT_SPREAD:
			if (cli_count_arg(cmd, "--spread", optarg, 1, 65536,
					  &spread))
				goto usage;
			break;
		case OPT_MISS_BUFFER:
			if (cli_size_arg(cmd, "--miss-buffer", optarg, 4096,
					 UINT64_C(1) << 40, &miss_bytes))
				goto usage;
			if (miss_bytes & (miss_bytes - 1)) {
				fprintf(stderr, "%s: bad value for "
						"--miss-buffer: '%s' (a power "
						"of two)\n",
					cmd, optarg);
				goto usage;
			}
			break;
		case OPT_STRATEGY:
			if (cli_strategy_arg(cmd, optarg, &strat))
				goto usage;
			break;
		default:
			goto usage;
		}
	}
	if (bench_opts_end(argc, argv, cmd, &cfg))
		goto usage;
	if (!have_set) {
		fprintf(stderr, "%s: --set SIZE is required (the bytes to "
				"map, e.g. --set 64G)\n",
			cmd);
		goto usage;
	}

	cfg.options |= IOPGT_OPT_NO_COALESCE;
	cli_strategy_apply(strat, &cfg);
	/* This thread makes every call, registered with the RCU flavor (if
	 * any) from before the first to after the destroy. */
	cli_strategy_thread_begin(strat);
	r = iopgt_domain_create(&cfg, &L.dom);
	if (r) {
		fprintf(stderr, "%s: cannot create a %s domain: %s\n", cmd,
			cli_format_desc(&cfg), strerror(-r));
		cli_strategy_thread_end(strat);
		return 1;
	}
	iopgt_domain_info(L.dom, &info, sizeof(info));
	L.shift = info.granule;
	page = UINT64_C(1) << info.granule;
	if (set % page) {
		fprintf(stderr, "%s: bad value for --set: %s is not a multiple "
				"of the %s page\n",
			cmd, bench_size_str(set, b0, sizeof(b0)),
			bench_size_str(page, b1, sizeof(b1)));
		late_usage = true;
		goto out;
	}
	L.pages = set / page;
	if (L.pages > (UINT64_C(1) << 62) / spread) {
		wbits = 64;
	} else {
		wpages = pow2_at_least(L.pages * spread);
		wbits = log2_of(wpages);
	}
	/* The window lies in the input space, in its lower half where the
	 * format sign-extends: ibits bits. */
	ibits = 64 - (unsigned)__builtin_clzll(info.iova_last);
	if (wbits + info.granule > ibits ||
	    wbits + info.granule > info.oas) {
		fprintf(stderr, "%s: --set %s x --spread %" PRIu64 " does not "
				"fit the %u-bit input or the %u-bit output "
				"space of %s\n",
			cmd, bench_size_str(set, b0, sizeof(b0)), spread,
			info.ias, info.oas, cli_format_desc(&cfg));
		late_usage = true;
		goto out;
	}
	window = UINT64_C(1) << (wbits + info.granule);
	seeds = seed;
	{
		unsigned free_bits = ibits - wbits - info.granule;
		uint64_t idx = bench_splitmix(&seeds);

		idx = free_bits ? idx & ((UINT64_C(1) << free_bits) - 1) : 0;
		L.base = free_bits ? idx << (wbits + info.granule) : 0;
	}
	bench_perm_init(&L.perm, wbits, bench_splitmix(&seeds));

	/* The set, one page per call, in ascending IOVA order (through the
	 * inverse of perm), synced every MAP_SYNC_EVERY maps. */
	iopgt_gather_init(&g, sizeof(g));
	t0 = bench_now_ns();
	for (uint64_t x = 0, done = 0; done < L.pages; x++) {
		uint64_t i = bench_perm_inverse(&L.perm, x);

		if (i >= L.pages)
			continue;
		r = iopgt_map(L.dom, set_iova(&L, i), set_pa(&L, i), page,
			      PROT_RW, &g);
		if (r) {
			iopgt_sync(L.dom, &g);
			fprintf(stderr, "%s: map of page %" PRIu64 " of %" PRIu64
					" at IOVA 0x%" PRIx64 " failed: %s\n",
				cmd, done, L.pages, set_iova(&L, i),
				strerror(-r));
			goto out;
		}
		if (++done % MAP_SYNC_EVERY == 0) {
			iopgt_sync(L.dom, &g);
			cli_strategy_quiescent(strat);
		}
	}
	iopgt_sync(L.dom, &g);
	t1 = bench_now_ns();
	map_s = (double)(t1 - t0) / 1e9;

	/* Check a sample of the set (and so the chain) once. */
	for (uint64_t k = 0; k < 1000 && k < L.pages; k++) {
		uint64_t i = L.pages <= 1000 ? k : k * (L.pages / 1000);
		struct iopgt_translation tr;

		r = iopgt_lookup(L.dom, set_iova(&L, i), &tr);
		if (r || tr.pa != set_pa(&L, i) || tr.leaf_size != page) {
			fprintf(stderr, "%s: lookup of IOVA 0x%" PRIx64 ": %s, "
					"pa 0x%" PRIx64 " leaf %" PRIu64
					"; expected pa 0x%" PRIx64
					" leaf %" PRIu64 "\n",
				cmd, set_iova(&L, i), r ? strerror(-r) : "ok",
				r ? 0 : tr.pa, r ? 0 : tr.leaf_size,
				set_pa(&L, i), page);
			goto out;
		}
	}
	iopgt_get_stats(L.dom, &st, sizeof(st));
	iopgt_for_each_table(L.dom, count_table, &tc);

	state = dependent ? set_iova(&L, 0) : bench_splitmix(&seeds) | 1;
	if (valgrind) {
		if (cg_lookups(&L, lookups, dependent, &state)) {
			fprintf(stderr, "%s: a lookup failed\n", cmd);
			goto out;
		}
		goto report;
	}

	if (!miss_bytes) {
		/* The power of two nearest the table bytes. */
		miss_bytes = pow2_at_least(st.table_bytes_live);
		if (miss_bytes / 4 * 3 > st.table_bytes_live)
			miss_bytes /= 2;
		if (miss_bytes < MIN_MISS_BYTES)
			miss_bytes = MIN_MISS_BYTES;
	}
	if (bench_chase_init(&huge, miss_bytes, 1, bench_splitmix(&seeds)) ||
	    bench_chase_init(&small, miss_bytes, 0, bench_splitmix(&seeds))) {
		fprintf(stderr, "%s: cannot allocate two pointer-chase buffers "
				"of %s\n",
			cmd, bench_size_str(miss_bytes, b0, sizeof(b0)));
		goto out;
	}
	rounds = (lookups + BATCH - 1) / BATCH;
	s_lk = malloc(rounds * sizeof(double));
	s_nop = malloc(rounds * sizeof(double));
	s_miss = malloc(rounds * sizeof(double));
	s_miss4k = malloc(rounds * sizeof(double));
	s_ratio = malloc(rounds * sizeof(double));
	s_ratio4k = malloc(rounds * sizeof(double));
	if (!s_lk || !s_nop || !s_miss || !s_miss4k || !s_ratio ||
	    !s_ratio4k) {
		fprintf(stderr, "%s: out of memory\n", cmd);
		goto out;
	}
	clock_ns = bench_clock_ns();
	for (uint64_t k = 0; k < WARMUP_ROUNDS + rounds; k++) {
		bool keep = k >= WARMUP_ROUNDS;
		uint64_t j = k - WARMUP_ROUNDS, nop_state = state;
		uint64_t b = BATCH;
		double lk = 0, nop = 0, m = 0, m4 = 0;

		if (keep)
			b = lookups / rounds + (j < lookups % rounds);
		/* The four batches in a rotating order: none always
		 * follows the same one. */
		for (unsigned step = 0; step < 4; step++) {
			switch ((step + k) % 4) {
			case 0:
				t0 = bench_now_ns();
				err |= dependent ? lookups_dep(&L, b, &state)
						 : lookups_indep(&L, b, &state);
				t1 = bench_now_ns();
				lk = (double)(t1 - t0) / b;
				break;
			case 1:
				t0 = bench_now_ns();
				err |= dependent
					       ? nops_dep(&L, b, &nop_state)
					       : nops_indep(&L, b, &nop_state);
				t1 = bench_now_ns();
				nop = (double)(t1 - t0) / b;
				break;
			case 2:
				m = bench_chase_run(&huge, (unsigned)b);
				break;
			default:
				m4 = bench_chase_run(&small, (unsigned)b);
				break;
			}
		}
		/* QSBR: once a round, outside the timed batches. */
		cli_strategy_quiescent(strat);
		if (keep) {
			s_lk[j] = lk;
			s_nop[j] = nop;
			s_miss[j] = m;
			s_miss4k[j] = m4;
			s_ratio[j] = lk / m;
			s_ratio4k[j] = lk / m4;
		}
	}
	if (err) {
		fprintf(stderr, "%s: a lookup failed\n", cmd);
		goto out;
	}
	lk_ns = bench_median(s_lk, rounds);
	nop_ns = bench_median(s_nop, rounds);
	miss_ns = bench_median(s_miss, rounds);
	miss4k_ns = bench_median(s_miss4k, rounds);
	ratio = bench_median(s_ratio, rounds);
	ratio4k = bench_median(s_ratio4k, rounds);
	/* bench_median sorted them: the quartiles, for the spread. */
	q[0][0] = s_lk[rounds / 4];
	q[0][1] = s_lk[rounds * 3 / 4];
	q[1][0] = s_miss[rounds / 4];
	q[1][1] = s_miss[rounds * 3 / 4];
	q[2][0] = s_miss4k[rounds / 4];
	q[2][1] = s_miss4k[rounds * 3 / 4];

report:
	if (json) {
		bool t = !valgrind;

		printf("{\"format\": \"%s\", \"levels\": %u, \"granule\": %" PRIu64
		       ", \"ias\": %u, \"set_bytes\": %" PRIu64
		       ", \"pages\": %" PRIu64 ", \"spread\": %" PRIu64
		       ", \"window_bytes\": %" PRIu64 ", \"window_base\": %" PRIu64
		       ", \"seed\": %" PRIu64 ", \"dependent\": %s"
		       ", \"lookups\": %" PRIu64 ", \"table_bytes\": %" PRIu64
		       ", \"tables\": %" PRIu64 ", \"leaf_tables\": %" PRIu64
		       ", \"entries_per_leaf_table\": %.1f"
		       ", \"map_seconds\": %.3f, \"under_valgrind\": %s"
		       ", \"strategy\": \"%s\"",
		       iopgt_format_name(info.format), info.levels, page,
		       info.ias, set, L.pages, spread, window, L.base, seed,
		       dependent ? "true" : "false", lookups,
		       st.table_bytes_live, tc.tables, tc.leaf_tables,
		       tc.leaf_tables ? (double)tc.leaf_used / tc.leaf_tables
				      : 0.0,
		       map_s, valgrind ? "true" : "false", strat->name);
		json_ns("ns_per_lookup", lk_ns, t);
		json_ns("ns_per_loop_alone", nop_ns, t);
		json_ns("ns_per_miss_load", miss_ns, t);
		json_ratio("ratio_to_miss_load", ratio, t);
		json_ns("ns_per_miss_load_4k", miss4k_ns, t);
		json_ratio("ratio_to_miss_load_4k", ratio4k, t);
		if (t)
			printf(", \"quartiles\": {\"ns_per_lookup\": [%.2f, %.2f], "
			       "\"ns_per_miss_load\": [%.2f, %.2f], "
			       "\"ns_per_miss_load_4k\": [%.2f, %.2f]}",
			       q[0][0], q[0][1], q[1][0], q[1][1], q[2][0],
			       q[2][1]);
		else
			printf(", \"quartiles\": null");
		if (t)
			printf(", \"miss_buffer_bytes\": %" PRIu64
			       ", \"miss_buffer_thp_bytes\": %" PRIu64
			       ", \"miss_buffer_4k_thp_bytes\": %" PRIu64
			       ", \"batches\": %" PRIu64
			       ", \"clock_ns\": %.1f}\n",
			       miss_bytes, huge.thp_bytes, small.thp_bytes,
			       rounds, clock_ns);
		else
			printf(", \"miss_buffer_bytes\": null, "
			       "\"miss_buffer_thp_bytes\": null, "
			       "\"miss_buffer_4k_thp_bytes\": null, "
			       "\"batches\": null, \"clock_ns\": null}\n");
	} else {
		printf("iopgt bench lookup: %s, strategy %s, %s set: %" PRIu64
		       " %s pages drawn at random from a %s window at "
		       "0x%" PRIx64 " (spread %" PRIu64 ", seed %" PRIu64
		       "), each mapped on its own\n",
		       cli_format_desc(&cfg), strat->name,
		       bench_size_str(set, b0, sizeof(b0)),
		       L.pages, bench_size_str(page, b1, sizeof(b1)),
		       bench_size_str(window, b2, sizeof(b2)), L.base, spread,
		       seed);
		printf("tables: %" PRIu64 " bytes (%.1f MiB) in %" PRIu64
		       " tables, %" PRIu64 " leaf tables with %.1f entries "
		       "each on average; mapped in %.2f s\n",
		       st.table_bytes_live,
		       (double)st.table_bytes_live / (1 << 20), tc.tables,
		       tc.leaf_tables,
		       tc.leaf_tables ? (double)tc.leaf_used / tc.leaf_tables
				      : 0.0,
		       map_s);
		if (valgrind) {
			printf("under valgrind: %" PRIu64 " %s lookups ran "
			       "between the callgrind requests; nothing "
			       "timed\n",
			       lookups, dependent ? "dependent" : "independent");
		} else {
			printf("%" PRIu64 " %s lookups in %" PRIu64 " batches; "
			       "median ns per lookup\n",
			       lookups,
			       dependent ? "dependent (latency)"
					 : "independent (throughput)",
			       rounds);
			printf("  lookup                   %8.2f  (batches: "
			       "quartiles %.2f, %.2f)\n",
			       lk_ns, q[0][0], q[0][1]);
			printf("  the loop alone           %8.2f  (included "
			       "above, not subtracted)\n",
			       nop_ns);
			printf("  miss load, huge pages    %8.2f  (quartiles %.2f, "
			       "%.2f; ratio lookup / miss %.3f; %s buffer, "
			       "%" PRIu64 " MiB on THP)\n",
			       miss_ns, q[1][0], q[1][1], ratio,
			       bench_size_str(miss_bytes, b0, sizeof(b0)),
			       huge.thp_bytes >> 20);
			printf("  miss load, 4K pages      %8.2f  (quartiles %.2f, "
			       "%.2f; ratio lookup / miss %.3f)\n",
			       miss4k_ns, q[2][0], q[2][1], ratio4k);
			printf("ratios: the median over the batches of each "
			       "round's lookup / miss load\n");
			printf("clock_gettime pair: %.1f ns per batch, not "
			       "subtracted\n",
			       clock_ns);
		}
	}
	ret = 0;
out:
	bench_chase_free(&huge);
	bench_chase_free(&small);
	free(s_lk);
	free(s_nop);
	free(s_miss);
	free(s_miss4k);
	free(s_ratio);
	free(s_ratio4k);
	iopgt_domain_destroy(L.dom);
	cli_strategy_thread_end(strat);
	if (late_usage)
		return cli_usage_error(cmd);
	return ret;
usage:
	return cli_usage_error(cmd);
}
