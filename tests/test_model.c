/* SPDX-License-Identifier: MIT */
/*
 * Randomized test of map, unmap and lookup against a reference model, for
 * every format configuration and with the default options (no counts),
 * COUNTS, NO_RECLAIM and NO_COALESCE each with counts, both together (a
 * domain that needs no counts), the embedder's phys_to_virt, and the
 * after-flush strategy (no walker).
 *
 * The model (refmodel.h) is a sorted array of disjoint mapped ranges
 * (iova, size, pa, prot), one entry per successful map call, cut by unmaps;
 * it is never merged. What the library must match:
 *   - map returns -EEXIST exactly when the model overlaps, and then changes
 *     nothing; 0 otherwise;
 *   - unmap returns the bytes the model had in the range;
 *   - lookup returns the model's pa (with the offset) and prot, and a leaf
 *     that lies wholly in mapped model ranges with one pa offset and one
 *     prot (coalescing may join ranges of several map calls; with
 *     NO_COALESCE the leaf lies in one range). Right after a map, the leaf at
 *     each point of the new range is at least the largest one the range, its
 *     pa and the point allow (exactly that one with NO_COALESCE).
 * Periodically the whole domain is compared with the model, both ways:
 * every model range is looked up, and every leaf in the tables (read back
 * through iopgt_dump) is checked against the model, their sizes summing to
 * the model's bytes. At the end everything is unmapped and nothing may
 * leak.
 *
 * Environment: IOPGT_SEED (base seed, printed on failure), IOPGT_TEST_ITERS
 * (operations per configuration and variant; default UNIT_ITERS times
 * IOPGT_TEST_SCALE, see titers()), IOPGT_TEST_CFG (run only the
 * configurations it selects: tcfg_wanted()).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "refmodel.h"

#define DEFAULT_SEED UINT64_C(0x10b97a5eed)
/* Operations per configuration and variant in the unit tier: enough for
 * every run to collide, split and coalesce (checked from 500 on). The long
 * tier runs IOPGT_TEST_SCALE times as many. */
#define UNIT_ITERS 600
#define FULL_EVERY 100 /* operations between full comparisons */
#define COUNT_EVERY 4  /* operations between recounts of every table */

/* ------------------------------------------------------------------------
 * One run: one configuration, one set of options.
 */

struct run {
	const struct tcfg *c;
	const char *variant;
	unsigned strategy; /* enum iopgt_strategy */
	bool p2v; /* table pa is not va plus a constant: phys_to_virt */
	bool grow; /* up to the format's largest ias (iopgt_config.ias_max) */
	unsigned levels0, grows; /* levels at first, growth calls */
	unsigned options;
	uint64_t base_seed, seed;
	long iters;       /* operations to run */
	long op;          /* index of the current operation */
	struct rm_log log; /* its steps and the ones before */

	struct talloc ta;
	struct iopgt_domain *dom;
	struct iopgt_gather g;
	struct rm_work w; /* the model and the random workload */
	unsigned batch, pending; /* ops per sync, ops not yet synced */
	unsigned idle_max; /* emptied tables the domain may keep linked */

	/* what was exercised */
	unsigned long maps, eexist, unmaps, remaps, fulls;
	uint64_t unmapped;
};

/* The failure report's context. */
static void print_context(FILE *out, void *arg)
{
	struct run *R = arg;

	fprintf(out,
		"  config %s, variant %s, base seed 0x%" PRIx64
		", config seed 0x%" PRIx64 "\n"
		"  replay: IOPGT_SEED=0x%" PRIx64
		" IOPGT_TEST_ITERS=%ld IOPGT_TEST_CFG=%s test_model\n",
		R->c->name, R->variant, R->base_seed, R->seed, R->base_seed,
		R->iters, R->c->name);
	rm_log_print(&R->log, out);
}

/* ------------------------------------------------------------------------
 * Whole-domain checks
 */

static void check_cheap(struct run *R)
{
	struct iopgt_stats st;

	/* Recounting every table is the most expensive check here (a
	 * quarter of the test's time under ASan): every few operations is
	 * enough to place a miscount, which stays until a later operation
	 * happens to undo it, and the failure report lists the steps since
	 * the last recount. */
	if (R->op % COUNT_EVERY == 0)
		CHECK_EQ(tcheck_counts(R->dom), 0,
			 "tables whose count is wrong");
	iopgt_get_stats(R->dom, &st, sizeof(st));
	CHECK_EQ(R->ta.live_bytes, theld_bytes(R->dom),
		 "bytes the allocator holds against the root and segments");
	CHECK(st.table_pages_live + st.table_pages_cached <=
		      R->ta.table_allocs - R->ta.table_frees,
	      "table pages live (%" PRIu64 ") and cached (%" PRIu64 ") fit "
	      "in what the allocator gave (%" PRIu64 ")",
	      st.table_pages_live, st.table_pages_cached,
	      R->ta.table_allocs - R->ta.table_frees);
}

static void check_full(struct run *R)
{
	unsigned empty;

	R->fulls++;
	rm_verify(&R->w.m);
	rm_compare_domain(&R->w);
	tcount_tables(R->dom, &empty);
	/* Up to table_cache emptied tables stay linked for reuse until
	 * iopgt_reclaim (check_final reclaims and expects none). */
	if (!(R->options & IOPGT_OPT_NO_RECLAIM))
		CHECK(empty <= R->idle_max + R->grows,
		      "empty tables left in the tree: %u, more than the %u "
		      "kept for reuse and the %u roots a growth passed over",
		      empty, R->idle_max, R->grows);
	CHECK_EQ(tcheck_counts(R->dom), 0, "tables whose count is wrong");
	check_cheap(R);
}

/* ------------------------------------------------------------------------
 * Random operations
 */

static void maybe_sync(struct run *R)
{
	if (++R->pending < R->batch)
		return;
	iopgt_sync(R->dom, &R->g);
	CHECK(R->g.nr_tables == 0 && R->g.tables == NULL,
	      "sync left tables in the gather");
	R->pending = 0;
	/* Mostly one op per sync; sometimes a batch of up to four. */
	R->batch = rm_chance(&R->w, 75) ? 1 : 2 + (unsigned)rm_below(&R->w, 3);
}

static void do_map(struct run *R, uint64_t iova, uint64_t size, uint64_t pa,
		   unsigned prot)
{
	bool ov = rm_overlaps(&R->w.m, iova, size);
	char *before = NULL;
	int ret;

	rm_step(&R->log, R->op, "map iova 0x%" PRIx64 " size 0x%" PRIx64
		" pa 0x%" PRIx64 " prot 0x%x (model: %s)", iova, size, pa,
		prot, ov ? "overlap" : "free");
	/* A full before/after dump now and then (they are slow). */
	if (ov && R->eexist % 16 == 0)
		before = tdump(R->dom);
	ret = iopgt_map(R->dom, iova, pa, size, prot, &R->g);
	R->maps++;
	if (ov) {
		R->eexist++;
		CHECK_EQ(ret, -EEXIST, "map over a mapped range");
		if (before) {
			char *after = tdump(R->dom);
			/* Without counts the tables the call created stay
			 * (holding no leaf): every other table is still there
			 * and the leaves are as before. */
			if (toptions_uncounted(R->options)) {
				char msg[256];

				if (tcheck_kept_tables(before, after, msg,
						       sizeof(msg)))
					rm_report(__FILE__, __LINE__,
						  "tables kept", "%s", msg);
				tleaf_lines(before);
				tleaf_lines(after);
			}
			if (strcmp(before, after)) {
				tdump_diff(stderr, before, after);
				rm_report(__FILE__, __LINE__, "dump unchanged",
					  "map failed with -EEXIST but the "
					  "tables changed (see the difference "
					  "above)");
			}
			free(after);
			free(before);
		}
		rm_check_failed_map(&R->w, iova, size);
	} else {
		struct rm_range nr = { iova, size, pa, prot };
		CHECK_EQ(ret, 0, "map into a free range");
		rm_insert(&R->w.m, &nr);
		rm_check_new_range(&R->w, iova, size, pa, 8);
	}
	maybe_sync(R);
}

static void op_map(struct run *R)
{
	uint64_t iova, size, pa;
	unsigned prot;

	rm_gen_map(&R->w, &iova, &size, &pa, &prot);
	do_map(R, iova, size, pa, prot);
}

static void do_unmap(struct run *R, uint64_t iova, uint64_t size,
		     const char *why)
{
	uint64_t expect;
	int64_t ret;

	rm_step(&R->log, R->op, "unmap iova 0x%" PRIx64 " size 0x%" PRIx64
		" (%s)", iova, size, why);
	expect = rm_remove(&R->w.m, iova, size);
	ret = iopgt_unmap(R->dom, iova, size, &R->g);
	R->unmaps++;
	R->unmapped += expect;
	CHECK_EQ(ret, expect, "bytes unmapped");
	rm_check_unmapped(&R->w, iova, size);
	maybe_sync(R);
}

static void op_unmap(struct run *R)
{
	uint64_t iova, size;
	const char *why = rm_gen_unmap(&R->w, &iova, &size);

	do_unmap(R, iova, size, why);
}

static void op_lookup(struct run *R)
{
	uint64_t x = rm_gen_point(&R->w, 60);

	rm_step(&R->log, R->op, "lookup 0x%" PRIx64, x);
	rm_check_lookup(&R->w, x, "lookup");
}

/* Unmap part of a range and map it back as it was: with coalescing, the
 * leaf comes back at least as large as before. */
static void op_remap(struct run *R)
{
	struct rm_range piece;
	uint64_t before, after;
	int ret;

	if (!rm_gen_hole(&R->w, &piece))
		return;
	rm_step(&R->log, R->op, "remap: lookup 0x%" PRIx64, piece.iova);
	before = rm_check_lookup(&R->w, piece.iova, "remap, before");
	do_unmap(R, piece.iova, piece.size, "remap, hole");
	rm_step(&R->log, R->op, "remap: map iova 0x%" PRIx64 " size 0x%"
		PRIx64 " pa 0x%" PRIx64 " prot 0x%x", piece.iova, piece.size,
		piece.pa, piece.prot);
	ret = iopgt_map(R->dom, piece.iova, piece.pa, piece.size, piece.prot,
			&R->g);
	CHECK_EQ(ret, 0, "map back the hole");
	rm_insert(&R->w.m, &piece);
	R->remaps++;
	after = rm_check_lookup(&R->w, piece.iova, "remap, after");
	if (R->options & IOPGT_OPT_NO_COALESCE)
		CHECK_EQ(after, rm_best_leaf(&R->w, piece.iova, piece.iova,
					     piece.size, piece.pa),
			 "leaf size after remap without coalescing");
	else
		/* With counts or without, a hole unmapped and mapped back
		 * coalesces again, within its table too (leaf spans). */
		CHECK(after >= before, "leaf at 0x%" PRIx64 " was 0x%" PRIx64
		      " before the hole was unmapped and mapped back as it "
		      "was, and is 0x%" PRIx64 ": not coalesced", piece.iova,
		      before, after);
	maybe_sync(R);
}

/* ------------------------------------------------------------------------
 * The driver
 */

/* The grow callback: no hardware to point; count the calls, which must
 * name ever more levels. */
static int grow_cb(void *arg, const struct iopgt_hw_config *hw)
{
	struct run *R = arg;

	rm_step(&R->log, R->op, "grown to %u levels, root 0x%" PRIx64,
		hw->levels, hw->root);
	CHECK(hw->levels > R->levels0 + R->grows,
	      "grown to %u levels after %u growths from %u", hw->levels,
	      R->grows, R->levels0);
	R->grows = hw->levels - R->levels0;
	return 0;
}

static void setup_run(struct run *R)
{
	struct iopgt_config cfg;

	talloc_init(&R->ta);
	tcfg_config(R->c, &cfg);
	cfg.leaf_sizes = 0; /* every size, leaf spans included */
	cfg.options = R->options;
	cfg.strategy = R->strategy;
	talloc_ops(&R->ta, &cfg.mem);
	if (R->p2v) {
		R->ta.remap = true;
		cfg.phys_to_virt = talloc_p2v;
	}
	if (R->grow) {
		cfg.ias_max = tformat(R->c->format)->ias_max;
		cfg.grow = grow_cb;
		cfg.grow_arg = R;
	}
	R->idle_max = cfg.table_cache < 32 ? cfg.table_cache : 32;
	CHECK_EQ(iopgt_domain_create(&cfg, &R->dom), 0, "domain create");
	{
		struct iopgt_info info;

		iopgt_domain_info(R->dom, &info, sizeof(info));
		R->levels0 = info.levels;
	}
	iopgt_gather_init(&R->g, sizeof(R->g));
	rm_work_init(&R->w, R->c, R->dom, R->seed);
	R->w.one_range = (R->options & IOPGT_OPT_NO_COALESCE) != 0;
	R->w.clean = true;
	R->batch = 1;
}

static void finish_run(struct run *R)
{
	struct iopgt_stats st;
	unsigned empty, tables;

	/* Unmap everything. */
	for (unsigned w = 0; w < R->w.nwin; w++)
		do_unmap(R, R->w.win_base[w], R->w.win_size,
			 "final, whole window");
	CHECK_EQ(R->w.m.n, 0, "model ranges left");
	iopgt_sync(R->dom, &R->g);
	check_full(R);
	iopgt_reclaim(R->dom);
	iopgt_get_stats(R->dom, &st, sizeof(st));
	tables = tcount_tables(R->dom, &empty);
	if (R->options & IOPGT_OPT_NO_RECLAIM)
		CHECK_EQ(st.table_pages_live, tables,
			 "tables live after unmapping everything (NO_RECLAIM: "
			 "the tables in the tree)");
	else
		/* The root, and any a growing domain added above it. */
		CHECK_EQ(st.table_pages_live, 1 + R->grows,
			 "tables live after unmapping everything");
	CHECK_EQ(st.table_pages_cached, 0, "cached tables after reclaim");
	CHECK_EQ(st.table_pages_waiting, 0, "waiting tables after reclaim");

	CHECK_EQ(tcheck_counts(R->dom), 0, "tables whose count is wrong");
	print_message("  %-18s %-11s seed 0x%016" PRIx64 ": %lu maps (%lu "
		      "-EEXIST), %lu unmaps (%" PRIu64 " MiB), %lu remaps, "
		      "%lu lookups, %lu full compares, %" PRIu64 " split, %"
		      PRIu64 " coalesced, peak %" PRIu64 " tables\n",
		      R->c->name, R->variant, R->seed, R->maps, R->eexist,
		      R->unmaps, R->unmapped >> 20, R->remaps, R->w.lookups,
		      R->fulls, st.split, st.coalesced, st.table_pages_peak);
	/* The workload did exercise what it is meant to. */
	if (R->grow)
		CHECK(R->grows > 0, "the domain never grew");
	if (R->op >= 500) {
		CHECK(R->eexist > 0, "no map collided");
		CHECK(st.split > 0, "no superpage was split");
		if (!(R->options & IOPGT_OPT_NO_COALESCE))
			CHECK(st.coalesced > 0, "nothing was coalesced");
		else
			CHECK_EQ(st.coalesced, 0, "coalesced with NO_COALESCE");
	}

	rm_destroy_checked(&R->dom, &R->ta);
	rm_work_fini(&R->w);
}

/* The operations, by what rm_pick_op draws. */
static void (*const ops[])(struct run *R) = {
	[RM_MAP] = op_map,
	[RM_UNMAP] = op_unmap,
	[RM_PROBE] = op_lookup,
	[RM_REMAP] = op_remap,
};

static void run_one(const struct tcfg *c, size_t ci, unsigned options,
		    const char *variant, unsigned vi, bool p2v, bool grow,
		    unsigned strategy)
{
	struct run *R = calloc(1, sizeof(*R));
	long iters = titers("IOPGT_TEST_ITERS", UNIT_ITERS);

	assert_non_null(R);
	rm_set_context(print_context, R);
	R->c = c;
	R->options = options;
	R->variant = variant;
	R->p2v = p2v;
	R->grow = grow;
	R->strategy = strategy;
	R->iters = iters;
	R->base_seed = tseed(DEFAULT_SEED);
	R->seed = rm_config_seed(R->base_seed, ci, vi);
	setup_run(R);

	for (R->op = 0; R->op < iters; R->op++) {
		ops[rm_pick_op(&R->w)](R);
		check_cheap(R);
		if (R->op % FULL_EVERY == FULL_EVERY - 1)
			check_full(R);
	}
	finish_run(R);
	rm_set_context(NULL, NULL);
	free(R);
}

static void run_strategy(unsigned options, const char *variant, unsigned vi,
			 bool p2v, unsigned strategy)
{
	print_message("base seed 0x%" PRIx64 " (set IOPGT_SEED to replay), "
		      "%ld operations per configuration\n",
		      tseed(DEFAULT_SEED), titers("IOPGT_TEST_ITERS",
						  UNIT_ITERS));
	for (size_t i = 0; i < n_tcfgs; i++) {
		if (!tcfg_wanted(&tcfgs[i]))
			continue;
		run_one(&tcfgs[i], i, options, variant, vi, p2v, false,
			strategy);
	}
}

static void run_variant(unsigned options, const char *variant, unsigned vi,
			bool p2v)
{
	run_strategy(options, variant, vi, p2v, IOPGT_STRATEGY_EPOCH);
}

static void test_model_default(void **state)
{
	(void)state;
	run_variant(0, "default", 0, false);
}

static void test_model_no_reclaim(void **state)
{
	(void)state;
	run_variant(IOPGT_OPT_NO_RECLAIM | IOPGT_OPT_COUNTS, "no_reclaim", 1,
		    false);
}

static void test_model_no_coalesce(void **state)
{
	(void)state;
	run_variant(IOPGT_OPT_NO_COALESCE | IOPGT_OPT_COUNTS, "no_coalesce", 2,
		    false);
}

/* Both: the domain keeps no counts. */
static void test_model_uncounted(void **state)
{
	(void)state;
	run_variant(IOPGT_OPT_NO_RECLAIM | IOPGT_OPT_NO_COALESCE,
		    "uncounted", 3, false);
}

/* The embedder's phys_to_virt: every table's pa is its CPU address moved
 * by one of three offsets, so that a walk that added a constant instead
 * would read the wrong memory (and the allocator's checks on free catch a
 * pa given back wrong). */
static void test_model_phys_to_virt(void **state)
{
	(void)state;
	run_variant(0, "phys_to_virt", 5, true);
}

/* Counts (IOPGT_OPT_COUNTS): full and empty tables known from them,
 * without probes and scans. (The default keeps none.) */
static void test_model_counts(void **state)
{
	(void)state;
	run_variant(IOPGT_OPT_COUNTS, "counts", 7, false);
}

/* After-flush reclaim (no walker: the calls here never overlap), whose
 * default domain has a map and unmap path of its own. */
static void test_model_after_flush(void **state)
{
	(void)state;
	run_strategy(0, "after_flush", 9, false, IOPGT_STRATEGY_AFTER_FLUSH);
}

/* A domain that grows, on the first configuration of each format that
 * grows whose ias fills its levels: from there to the
 * format's largest ias, the windows of the workload at the bottom (under
 * the first root), in the middle and at the top of that space. */
static void test_model_grow(void **state)
{
	unsigned n = 0;

	(void)state;
	for (size_t i = 0; i < n_tcfgs; i++) {
		if (!tcfg_grows_first(i))
			continue;
		n++;
		if (tcfg_wanted(&tcfgs[i]))
			run_one(&tcfgs[i], i, 0, "grow", 8, false, true,
				IOPGT_STRATEGY_EPOCH);
	}
	assert_true(n > 0); /* AMD v1 is in every run's configurations */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_model_default),
		cmocka_unit_test(test_model_no_reclaim),
		cmocka_unit_test(test_model_no_coalesce),
		cmocka_unit_test(test_model_uncounted),
		cmocka_unit_test(test_model_phys_to_virt),
		cmocka_unit_test(test_model_counts),
		cmocka_unit_test(test_model_after_flush),
		cmocka_unit_test(test_model_grow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
