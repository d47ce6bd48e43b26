/* SPDX-License-Identifier: MIT */
/*
 * Allocation failure at every allocation of every operation.
 *
 * For each format configuration and each scenario (a pre-state and one map
 * or unmap), the operation first runs once without failure to count the
 * allocations it makes (table pages and descriptors, counted together by the
 * recording allocator). Then, on a fresh identical domain for each k, the
 * k-th allocation fails: the call must return -ENOMEM (k within the count)
 * or succeed (k one past it), and after a failure
 *   - the tables are exactly as before the call (the dump, taken after
 *     syncing the gather the failed call may have grown),
 *   - the table and descriptor memory held is as before (after sync and
 *     reclaim, which empty the table cache on both sides),
 *   - the same call then succeeds and leaves what the clean run left,
 *   - and destroying the domain leaks nothing.
 * Domain creation with a failing root allocation must fail cleanly too, and
 * a randomized run checks that a domain that saw many failed calls ends up
 * identical to one that never saw them.
 *
 * Environment: IOPGT_SEED (randomized part), IOPGT_TEST_ITERS (operations
 * per configuration in the randomized part; default UNIT_ITERS times
 * IOPGT_TEST_SCALE, see titers()), IOPGT_TEST_CFG (only the
 * configurations whose name contains this string).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define DEFAULT_SEED UINT64_C(0xa110cfa11)
/* Randomized operations per configuration in the unit tier (from 100 on,
 * some call must have failed); the long tier runs IOPGT_TEST_SCALE times
 * as many. The exhaustive part does not depend on it. */
#define UNIT_ITERS 100

/* ------------------------------------------------------------------------
 * Test environment: one domain on a recording allocator.
 */

struct env {
	const struct tcfg *c;
	unsigned options;
	struct talloc ta;
	struct iopgt_domain *dom;
	struct iopgt_gather g;
	uint64_t sz[8];
	unsigned n;
	uint64_t gran, s1, top;
	uint64_t mid;   /* the middle of the input space (of its lower
	                 * half where the format sign-extends) */
	uint64_t pbase; /* output address congruent with mid */
	struct iopgt_stats st0; /* before the operation */
	unsigned tables0;       /* tables in the tree before it */
	unsigned lvl;           /* straddle scenarios: level of the leaves */
};

/* What is being run, for failure reports. */
static const char *cur_cfg = "", *cur_what = "";
static long cur_k = -1;

#define CHECK(cond, ...)                                                    \
	do {                                                                \
		if (!(cond)) {                                              \
			fflush(stdout);                                     \
			fprintf(stderr, "\nFAILED test_allocfail.c:%d: %s\n  ", \
				__LINE__, #cond);                           \
			fprintf(stderr, __VA_ARGS__);                       \
			fprintf(stderr, "\n  config %s, %s, failing "       \
				"allocation k = %ld\n", cur_cfg, cur_what,  \
				cur_k);                                     \
			_fail(__FILE__, __LINE__);                          \
		}                                                           \
	} while (0)

#define CHECK_EQ(a, b, what)                                                \
	do {                                                                \
		int64_t a_ = (int64_t)(a), b_ = (int64_t)(b);               \
		CHECK(a_ == b_, "%s: got %" PRId64 " (0x%" PRIx64           \
		      "), expected %" PRId64 " (0x%" PRIx64 ")", what, a_,   \
		      (uint64_t)a_, b_, (uint64_t)b_);                       \
	} while (0)

static void env_open(struct env *e, const struct tcfg *c, unsigned options)
{
	struct iopgt_config cfg;

	memset(e, 0, sizeof(*e));
	e->c = c;
	e->options = options;
	talloc_init(&e->ta);
	tcfg_config(c, &cfg);
	cfg.options = options;
	talloc_ops(&e->ta, &cfg.mem);
	CHECK_EQ(iopgt_domain_create(&cfg, &e->dom), 0, "domain create");
	iopgt_gather_init(&e->g, sizeof(e->g));
	e->n = tcfg_leaf_sizes(e->dom, e->sz);
	CHECK(e->n >= 2, "no superpage size");
	e->gran = e->sz[0];
	e->s1 = e->sz[1];
	e->top = e->sz[e->n - 1];
	{
		struct iopgt_info info;

		/* The middle of the lower part of the input space (all of
		 * it, unless the format sign-extends). */
		iopgt_domain_info(e->dom, &info, sizeof(info));
		e->mid = (info.iova_last >> 1) + 1;
	}
	e->pbase = UINT64_C(1) << (c->oas - 2);
}

/* Destroy the domain; nothing may leak. */
static void env_close(struct env *e)
{
	iopgt_sync(e->dom, &e->g);
	iopgt_domain_destroy(e->dom);
	e->dom = NULL;
	CHECK_EQ(e->ta.table_allocs, e->ta.table_frees, "table pages leaked");
	CHECK_EQ(e->ta.meta_allocs, e->ta.meta_frees, "descriptors leaked");
	CHECK_EQ(e->ta.live_bytes, 0, "table bytes leaked");
	talloc_fini(&e->ta);
}

static uint64_t allocs(const struct env *e)
{
	return e->ta.table_allocs + e->ta.meta_allocs;
}

/* An output address congruent with iova modulo every leaf size. */
static uint64_t PA(const struct env *e, uint64_t iova)
{
	return e->pbase + (iova - e->mid);
}

static void must_map(struct env *e, uint64_t iova, uint64_t size)
{
	CHECK_EQ(iopgt_map(e->dom, iova, PA(e, iova), size, RW, &e->g), 0,
		 "setup map");
}

static void must_unmap(struct env *e, uint64_t iova, uint64_t size)
{
	CHECK_EQ(iopgt_unmap(e->dom, iova, size, &e->g), (int64_t)size,
		 "setup unmap");
}

/* Leaf size at iova, 0 if unmapped. */
static uint64_t leaf_at(struct env *e, uint64_t iova)
{
	struct iopgt_translation tr;
	int r = iopgt_lookup(e->dom, iova, &tr);

	if (r == -ENOENT)
		return 0;
	CHECK_EQ(r, 0, "lookup");
	CHECK_EQ(tr.pa, PA(e, iova), "lookup pa");
	CHECK_EQ(tr.prot, RW, "lookup prot");
	return tr.leaf_size;
}

/* Where the scenarios below work: a top-size aligned region just above the
 * middle of the input space, with room for three top-size leaves even when
 * the space is only 4 GiB. Each scenario runs on its own domain. */
static uint64_t region(const struct env *e)
{
	return e->mid + e->top;
}

/* ------------------------------------------------------------------------
 * Scenarios: a pre-state, one operation, its expected result, and checks
 * of a successful run.
 */

struct scen {
	const char *name;
	unsigned options;
	void (*setup)(struct env *e);
	int64_t (*op)(struct env *e);
	int64_t (*expect)(struct env *e);
	void (*check_ok)(struct env *e); /* after success, before sync */
};

static void setup_none(struct env *e)
{
	(void)e;
}

static int64_t expect_zero(struct env *e)
{
	(void)e;
	return 0;
}

static struct iopgt_stats stats(struct env *e)
{
	struct iopgt_stats st;

	iopgt_get_stats(e->dom, &st, sizeof(st));
	return st;
}

/* Map into an empty domain a range that needs a table at every level below
 * the root and leaves of every size: top + s1 + 3 pages (or s1 + 3 pages). */
static uint64_t empty_iova(struct env *e)
{
	return region(e);
}

static uint64_t empty_size(struct env *e)
{
	return e->top + (e->n == 3 ? e->s1 : 0) + 3 * e->gran;
}

static int64_t op_map_empty(struct env *e)
{
	uint64_t iova = empty_iova(e);
	return iopgt_map(e->dom, iova, PA(e, iova), empty_size(e), RW, &e->g);
}

static void check_map_empty(struct env *e)
{
	uint64_t iova = empty_iova(e), last = iova + empty_size(e) - 1;
	struct iopgt_info info;

	iopgt_domain_info(e->dom, &info, sizeof(info));
	CHECK_EQ(leaf_at(e, iova), e->top, "leaf at the start");
	CHECK_EQ(leaf_at(e, iova + e->top), e->n == 3 ? e->s1 : e->gran,
		 "leaf after the largest one");
	CHECK_EQ(leaf_at(e, last), e->gran, "leaf at the end");
	CHECK_EQ(tcount_tables(e->dom, NULL) - e->tables0, info.levels - 1,
		 "new tables (one per level below the root)");
	CHECK_EQ(e->g.kind, e->options & IOPGT_OPT_CACHING_MODE
				    ? IOPGT_FLUSH_ADDED
				    : IOPGT_FLUSH_NONE,
		 "flush kind of a map into empty entries");
}

/* A range across the middle of the input space (a boundary at every level,
 * and between concatenated root tables), next to an existing mapping: new
 * tables at several levels on the right, one on the left. */
static void setup_new_tables(struct env *e)
{
	must_map(e, e->mid - 3 * e->s1, e->gran);
}

static int64_t op_map_new_tables(struct env *e)
{
	uint64_t iova = e->mid - e->s1 - 3 * e->gran;
	return iopgt_map(e->dom, iova, PA(e, iova), 2 * e->s1 + 6 * e->gran,
			 RW, &e->g);
}

static void check_new_tables(struct env *e)
{
	CHECK_EQ(leaf_at(e, e->mid - e->s1 - 3 * e->gran), e->gran,
		 "first page");
	CHECK_EQ(leaf_at(e, e->mid - e->s1), e->s1, "superpage left of mid");
	CHECK_EQ(leaf_at(e, e->mid), e->s1, "superpage right of mid");
	CHECK_EQ(leaf_at(e, e->mid + e->s1 + 2 * e->gran), e->gran,
		 "last page");
	CHECK_EQ(leaf_at(e, e->mid - 3 * e->s1), e->gran, "existing page");
}

/* A top-size block mapped but for its last page; the map of that page and
 * the first page of the next block (which needs new tables) makes the block
 * one leaf again. A failure at the new tables must undo the first page and
 * coalesce nothing. */
static uint64_t coal_base(struct env *e)
{
	return region(e);
}

static void setup_coalesce(struct env *e)
{
	must_map(e, coal_base(e), e->top - e->gran);
}

static int64_t op_map_coalesce(struct env *e)
{
	uint64_t iova = coal_base(e) + e->top - e->gran;
	return iopgt_map(e->dom, iova, PA(e, iova), 2 * e->gran, RW, &e->g);
}

static void check_coalesce(struct env *e)
{
	struct iopgt_stats st = stats(e);

	CHECK_EQ(leaf_at(e, coal_base(e)), e->top, "coalesced leaf");
	CHECK_EQ(leaf_at(e, coal_base(e) + e->top), e->gran, "next page");
	CHECK_EQ(st.coalesced - e->st0.coalesced, e->n - 1,
		 "tables coalesced");
}

/* Unmap one page out of a top-size leaf: split down to the smallest size,
 * one new table per level below it. */
static uint64_t split_base(struct env *e)
{
	return region(e);
}

static uint64_t split_page(struct env *e)
{
	return split_base(e) + (e->n == 3 ? e->s1 : 0) + e->s1 / 2;
}

static void setup_split(struct env *e)
{
	must_map(e, split_base(e), e->top);
}

static int64_t op_unmap_split(struct env *e)
{
	return iopgt_unmap(e->dom, split_page(e), e->gran, &e->g);
}

static int64_t expect_one_page(struct env *e)
{
	return (int64_t)e->gran;
}

static void check_split(struct env *e)
{
	uint64_t x = split_page(e);
	struct iopgt_stats st = stats(e);

	CHECK_EQ(leaf_at(e, x), 0, "the unmapped page");
	CHECK_EQ(leaf_at(e, x - e->gran), e->gran, "page before");
	CHECK_EQ(leaf_at(e, x + e->gran), e->gran, "page after");
	CHECK_EQ(leaf_at(e, split_base(e)), e->n == 3 ? e->s1 : e->gran,
		 "start of the split leaf");
	CHECK_EQ(st.split - e->st0.split, e->n - 1, "superpages split");
	CHECK_EQ(tcount_tables(e->dom, NULL) - e->tables0, e->n - 1,
		 "new tables");
}

/* Unmap four pages across the boundary of two adjacent leaves of size
 * sz[lvl] (the top size, or the second one): both are split, at each end
 * down to the smallest size. The setup records lvl for the op and checks. */
static uint64_t straddle_base(struct env *e)
{
	return region(e);
}

static void setup_straddle(struct env *e, unsigned lvl)
{
	e->lvl = lvl;
	must_map(e, straddle_base(e), 2 * e->sz[lvl]);
}

static void setup_straddle_top(struct env *e)
{
	setup_straddle(e, e->n - 1);
}

static void setup_straddle_s1(struct env *e)
{
	setup_straddle(e, 1);
}

static int64_t op_unmap_straddle(struct env *e)
{
	return iopgt_unmap(e->dom,
			   straddle_base(e) + e->sz[e->lvl] - 2 * e->gran,
			   4 * e->gran, &e->g);
}

static int64_t expect_four_pages(struct env *e)
{
	return (int64_t)(4 * e->gran);
}

static void check_straddle(struct env *e)
{
	uint64_t b = straddle_base(e) + e->sz[e->lvl];
	struct iopgt_stats st = stats(e);

	CHECK_EQ(leaf_at(e, b - 2 * e->gran), 0, "unmapped, left");
	CHECK_EQ(leaf_at(e, b + e->gran), 0, "unmapped, right");
	CHECK_EQ(leaf_at(e, b - 3 * e->gran), e->gran, "page left");
	CHECK_EQ(leaf_at(e, b + 2 * e->gran), e->gran, "page right");
	CHECK_EQ(leaf_at(e, straddle_base(e)), e->sz[e->lvl - 1],
		 "start of the left leaf");
	CHECK_EQ(st.split - e->st0.split, 2 * e->lvl, "superpages split");
	CHECK_EQ(tcount_tables(e->dom, NULL) - e->tables0, 2 * e->lvl,
		 "new tables");
}

/* NO_RECLAIM: a page mapped and unmapped leaves its (empty) tables; a
 * superpage mapped there replaces them, and the page after it needs a new
 * table. */
static uint64_t over_base(struct env *e)
{
	return region(e);
}

static void setup_over_empty(struct env *e)
{
	must_map(e, over_base(e), e->gran);
	must_unmap(e, over_base(e), e->gran);
}

static int64_t op_map_over_empty(struct env *e)
{
	uint64_t iova = over_base(e);
	return iopgt_map(e->dom, iova, PA(e, iova), e->s1 + e->gran, RW,
			 &e->g);
}

static void check_over_empty(struct env *e)
{
	CHECK_EQ(leaf_at(e, over_base(e)), e->s1, "superpage");
	CHECK_EQ(leaf_at(e, over_base(e) + e->s1), e->gran, "page after");
}

/* NO_RECLAIM: a map that first fills entries of a kept empty table, then
 * needs a new one. Undoing it must keep the empty table (it is not the
 * call's own). */
static int64_t op_map_into_kept(struct env *e)
{
	uint64_t iova = over_base(e) + e->s1 - 2 * e->gran;
	return iopgt_map(e->dom, iova, PA(e, iova), 4 * e->gran, RW, &e->g);
}

static void check_into_kept(struct env *e)
{
	CHECK_EQ(leaf_at(e, over_base(e) + e->s1 - 2 * e->gran), e->gran,
		 "first page");
	CHECK_EQ(leaf_at(e, over_base(e) + e->s1 + e->gran), e->gran,
		 "last page");
	CHECK_EQ(tcount_tables(e->dom, NULL) - e->tables0, 1, "new tables");
}

static const struct scen scens[] = {
	{ "map into an empty domain", 0, setup_none, op_map_empty,
	  expect_zero, check_map_empty },
	{ "map needing tables at several levels", 0, setup_new_tables,
	  op_map_new_tables, expect_zero, check_new_tables },
	{ "map that coalesces", 0, setup_coalesce, op_map_coalesce,
	  expect_zero, check_coalesce },
	{ "unmap splitting a top-size leaf", 0, setup_split, op_unmap_split,
	  expect_one_page, check_split },
	{ "unmap straddling two top-size leaves", 0, setup_straddle_top,
	  op_unmap_straddle, expect_four_pages, check_straddle },
	{ "unmap straddling two second-size leaves", 0, setup_straddle_s1,
	  op_unmap_straddle, expect_four_pages, check_straddle },
	{ "map with caching mode", IOPGT_OPT_CACHING_MODE, setup_none,
	  op_map_empty, expect_zero, check_map_empty },
	{ "unmap splitting, NO_RECLAIM", IOPGT_OPT_NO_RECLAIM, setup_split,
	  op_unmap_split, expect_one_page, check_split },
	{ "map into kept empty tables, NO_RECLAIM", IOPGT_OPT_NO_RECLAIM,
	  setup_over_empty, op_map_into_kept, expect_zero, check_into_kept },
	{ "superpage over empty tables, NO_RECLAIM", IOPGT_OPT_NO_RECLAIM,
	  setup_over_empty, op_map_over_empty, expect_zero, check_over_empty },
};

/* A fresh domain in the scenario's pre-state, synced, cache emptied. */
static void prepare(struct env *e, const struct tcfg *c, const struct scen *s)
{
	env_open(e, c, s->options);
	s->setup(e);
	iopgt_sync(e->dom, &e->g);
	iopgt_reclaim(e->dom);
	e->st0 = stats(e);
	e->tables0 = tcount_tables(e->dom, NULL);
}

/* Tables after sync and reclaim: the tree holds them all, and (unless
 * NO_RECLAIM) none is empty. */
static void check_tables_settled(struct env *e)
{
	struct iopgt_stats st;
	unsigned empty, tables;

	iopgt_sync(e->dom, &e->g);
	iopgt_reclaim(e->dom);
	st = stats(e);
	tables = tcount_tables(e->dom, &empty);
	CHECK_EQ(st.table_pages_live, tables, "tables live against the tree");
	CHECK_EQ(st.table_pages_live, e->ta.table_allocs - e->ta.table_frees,
		 "tables live against the allocator");
	if (!(e->options & IOPGT_OPT_NO_RECLAIM))
		CHECK_EQ(empty, 0, "empty tables in the tree");
	CHECK_EQ(tcheck_counts(e->dom), 0, "tables whose count is wrong");
}

/* Sync e's gather; the tables must then dump as `want`. */
static void expect_dump(struct env *e, const char *want, const char *what)
{
	char *now;

	iopgt_sync(e->dom, &e->g);
	now = tdump(e->dom);
	if (strcmp(want, now)) {
		tdump_diff(stderr, want, now);
		CHECK(0, "%s (see the difference above)", what);
	}
	free(now);
}

static void run_scenario(const struct tcfg *c, const struct scen *s)
{
	struct env e;
	uint64_t n_allocs, a0;
	int64_t want, r;
	char *dump_ok;

	cur_what = s->name;
	cur_k = 0;
	/* The clean run: count the allocations, keep the result. */
	prepare(&e, c, s);
	want = s->expect(&e);
	a0 = allocs(&e);
	r = s->op(&e);
	CHECK_EQ(r, want, "result without failures");
	n_allocs = allocs(&e) - a0;
	/* Every scenario needs at least one new table (with one table page
	 * a segment, each is an allocation). */
	CHECK(n_allocs >= 1, "the operation allocated %" PRIu64
	      " times: the scenario tests nothing", n_allocs);
	s->check_ok(&e);
	iopgt_sync(e.dom, &e.g);
	dump_ok = tdump(e.dom);
	check_tables_settled(&e);
	env_close(&e);

	for (uint64_t k = 1; k <= n_allocs + 1; k++) {
		struct iopgt_stats st;
		char *before;
		uint64_t fails;

		cur_k = (long)k;
		prepare(&e, c, s);
		before = tdump(e.dom);
		e.ta.fail_after = (long)k;
		r = s->op(&e);
		fails = e.ta.failures;
		e.ta.fail_after = 0;
		if (k > n_allocs) {
			CHECK_EQ(fails, 0, "allocations refused one past the "
				 "count");
			CHECK_EQ(r, want, "result one past the count");
			expect_dump(&e, dump_ok, "success gave other tables "
				    "than the clean run");
			free(before);
			env_close(&e);
			continue;
		}
		CHECK_EQ(fails, 1, "the k-th allocation was not made");
		CHECK_EQ(r, -ENOMEM, "result when the k-th allocation fails");
		/* The tables are as before. */
		expect_dump(&e, before, "the failed call changed the tables");
		CHECK_EQ(tcheck_counts(e.dom), 0, "tables whose count is wrong");
		/* So is the memory held. */
		iopgt_reclaim(e.dom);
		st = stats(&e);
		CHECK_EQ(st.table_pages_live, e.st0.table_pages_live,
			 "table pages live after the failed call");
		CHECK_EQ(st.meta_bytes_live, e.st0.meta_bytes_live,
			 "descriptor bytes live after the failed call");
		CHECK_EQ(st.table_pages_live,
			 e.ta.table_allocs - e.ta.table_frees,
			 "table pages live against the allocator");
		CHECK_EQ(tcount_tables(e.dom, NULL), e.tables0,
			 "tables in the tree after the failed call");
		/* And the same call now gives what the clean run gave. */
		e.st0 = stats(&e);
		r = s->op(&e);
		CHECK_EQ(r, want, "the call retried after the failure");
		s->check_ok(&e);
		expect_dump(&e, dump_ok, "the retried call gave other tables "
			    "than the clean run");
		free(before);
		check_tables_settled(&e);
		env_close(&e);
	}
	print_message("  %-18s %-42s %3" PRIu64 " allocations\n", c->name,
		      s->name, n_allocs);
	free(dump_ok);
	cur_k = -1;
}

static bool selected(const struct tcfg *c)
{
	return tcfg_wanted(c);
}

static void test_scenarios(void **state)
{
	(void)state;
	for (size_t i = 0; i < n_tcfgs; i++) {
		if (!selected(&tcfgs[i]))
			continue;
		cur_cfg = tcfgs[i].name;
		for (size_t j = 0; j < sizeof(scens) / sizeof(scens[0]); j++)
			run_scenario(&tcfgs[i], &scens[j]);
	}
}

/* ------------------------------------------------------------------------
 * Domain creation
 */

static void test_create(void **state)
{
	(void)state;
	cur_what = "domain create";
	for (size_t i = 0; i < n_tcfgs; i++) {
		struct iopgt_config cfg;
		struct iopgt_domain *dom;
		struct talloc ta;
		uint64_t n_allocs;

		if (!selected(&tcfgs[i]))
			continue;
		cur_cfg = tcfgs[i].name;
		cur_k = 0;
		talloc_init(&ta);
		tcfg_config(&tcfgs[i], &cfg);
		talloc_ops(&ta, &cfg.mem);
		CHECK_EQ(iopgt_domain_create(&cfg, &dom), 0, "create");
		n_allocs = ta.table_allocs + ta.meta_allocs;
		CHECK_EQ(ta.table_allocs, 1, "table allocations of a domain "
			 "(the root)");
		iopgt_domain_destroy(dom);
		CHECK_EQ(ta.table_frees, 1, "root freed");
		CHECK_EQ(ta.meta_frees, ta.meta_allocs, "descriptors freed");
		talloc_fini(&ta);

		for (uint64_t k = 1; k <= n_allocs + 1; k++) {
			int r;

			cur_k = (long)k;
			talloc_init(&ta);
			talloc_ops(&ta, &cfg.mem);
			ta.fail_after = (long)k;
			dom = (struct iopgt_domain *)(uintptr_t)1; /* reset? */
			r = iopgt_domain_create(&cfg, &dom);
			if (k <= n_allocs) {
				CHECK_EQ(ta.failures, 1, "allocation refused");
				CHECK_EQ(r, -ENOMEM, "create, k-th allocation "
					 "failing");
				CHECK(dom == NULL, "*out not NULL on failure");
			} else {
				CHECK_EQ(ta.failures, 0, "allocations refused");
				CHECK_EQ(r, 0, "create one past the count");
				iopgt_domain_destroy(dom);
			}
			CHECK_EQ(ta.table_allocs, ta.table_frees,
				 "table pages leaked");
			CHECK_EQ(ta.meta_allocs, ta.meta_frees,
				 "descriptors leaked");
			talloc_fini(&ta);
		}
	}
	cur_k = -1;
}

/* ------------------------------------------------------------------------
 * Randomized: random maps and unmaps with an early allocation failing,
 * on one domain, and the same calls without failures on a shadow domain.
 * A call that failed must leave no trace (its tables as before), a call
 * that did not must give the shadow's result, and the two domains must
 * stay identical.
 */

struct rnd_run {
	struct env a, b; /* a sees failures, b does not */
	uint64_t rng, base, span;
	unsigned long ops, enomem, eexist;
	long last_equal; /* the last op after which a and b compared equal */
	char desc[128];  /* the current op */
};

static uint64_t rbelow(struct rnd_run *R, uint64_t n)
{
	return n ? trand(&R->rng) % n : 0;
}

/* a and b must have the same tables. b never saw a failure and saw only
 * the calls that succeeded on a, so this checks both that a failed call
 * left no trace and that the calls after it behaved the same. */
static void rnd_compare(struct rnd_run *R, long i, const char *what)
{
	char *da, *db;

	iopgt_sync(R->a.dom, &R->a.g);
	iopgt_sync(R->b.dom, &R->b.g);
	da = tdump(R->a.dom);
	db = tdump(R->b.dom);
	if (strcmp(db, da)) {
		tdump_diff(stderr, db, da);
		CHECK(0, "op %ld (%s): %s; the domain that saw failures "
		      "differs from the one that did not (- without, + with); "
		      "they were equal after op %ld", i, R->desc, what,
		      R->last_equal);
	}
	R->last_equal = i;
	free(da);
	free(db);
}

static void rnd_op(struct rnd_run *R, long i)
{
	struct env *a = &R->a;
	uint64_t g = a->gran, s1 = a->s1, size, iova, pa;
	unsigned k = (unsigned)rbelow(R, 100);
	bool map = rbelow(R, 100) < 55;
	int64_t ra, rb;
	long fail_after;

	/* Sizes from a page to a few superpages, at alignments that give
	 * superpages and that cut them. */
	if (k < 35)
		size = g * (1 + rbelow(R, 8));
	else if (k < 60)
		size = g * (1 + rbelow(R, 3 * s1 / g));
	else if (k < 85)
		size = s1 * (1 + rbelow(R, 3));
	else
		size = a->top * (1 + rbelow(R, 2));
	if (size > R->span / 2)
		size = R->span / 2;
	iova = R->base + rbelow(R, (R->span - size) / g + 1) * g;
	if (rbelow(R, 2)) { /* superpage aligned */
		iova &= ~(s1 - 1);
		if (iova < R->base)
			iova += s1;
	}
	/* Mostly congruent with iova (superpages); small ranges sometimes
	 * not (pages only). */
	if (size <= 64 * g && !rbelow(R, 4))
		pa = a->pbase + rbelow(R, 1u << 20) * g;
	else
		pa = PA(a, iova);
	/* Mostly the first or second allocation (a call that needs one
	 * table makes two), sometimes a later one. */
	fail_after = 1 + (long)rbelow(R, rbelow(R, 4) ? 2 : 8);
	snprintf(R->desc, sizeof(R->desc), "%s iova 0x%" PRIx64 " size 0x%"
		 PRIx64 " pa 0x%" PRIx64 ", allocation %ld failing",
		 map ? "map" : "unmap", iova, size, pa, fail_after);

	a->ta.failures = 0;
	a->ta.fail_after = fail_after;
	if (map)
		ra = iopgt_map(a->dom, iova, pa, size, RW, &a->g);
	else
		ra = iopgt_unmap(a->dom, iova, size, &a->g);
	a->ta.fail_after = 0;
	R->ops++;
	if (ra == -ENOMEM) {
		R->enomem++;
		CHECK(a->ta.failures == 1, "op %ld (%s): -ENOMEM without a "
		      "refused allocation", i, R->desc);
		rnd_compare(R, i, "failed with -ENOMEM");
		return;
	}
	CHECK(a->ta.failures == 0, "op %ld (%s): an allocation was refused "
	      "but the call returned %" PRId64, i, R->desc, ra);
	if (map)
		rb = iopgt_map(R->b.dom, iova, pa, size, RW, &R->b.g);
	else
		rb = iopgt_unmap(R->b.dom, iova, size, &R->b.g);
	CHECK(ra == rb, "op %ld (%s): returned %" PRId64 ", without any "
	      "earlier failure %" PRId64, i, R->desc, ra, rb);
	if (ra == -EEXIST)
		R->eexist++;
	if (i % 8 == 7)
		rnd_compare(R, i, "succeeded");
}

static void rnd_config(const struct tcfg *c, size_t ci, unsigned options,
		       uint64_t seed0, long iters)
{
	struct rnd_run R;
	int64_t ra, rb;
	/* Each configuration's own seed follows from its name, which is
	 * stable, not from its place in the list, which depends on the
	 * formats the registry offers. */
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	uint64_t s;

	(void)ci;
	for (const char *p = c->name; *p; p++)
		h = (h ^ (unsigned char)*p) * UINT64_C(0x100000001b3);
	s = seed0 ^ h ^ ((uint64_t)options << 48);
	memset(&R, 0, sizeof(R));
	R.rng = trand(&s);
	env_open(&R.a, c, options);
	env_open(&R.b, c, options);
	/* A window across the middle of four top-size leaves, or of 32
	 * second-size ones if that is more (so that calls keep needing new
	 * tables). */
	R.span = 4 * R.a.top;
	if (R.span < 32 * R.a.s1)
		R.span = 32 * R.a.s1;
	if (R.span > R.a.mid)
		R.span = R.a.mid;
	R.base = R.a.mid - R.span / 2;
	R.last_equal = -1;
	for (long i = 0; i < iters; i++)
		rnd_op(&R, i);
	snprintf(R.desc, sizeof(R.desc), "none");
	rnd_compare(&R, iters, "the end");
	ra = iopgt_unmap(R.a.dom, R.base, R.span, &R.a.g);
	rb = iopgt_unmap(R.b.dom, R.base, R.span, &R.b.g);
	CHECK_EQ(ra, rb, "final unmap, with and without failures");
	check_tables_settled(&R.a);
	check_tables_settled(&R.b);
	/* Some call did fail. (Two-level configurations with 64K tables,
	 * NO_RECLAIM above all, allocate only a handful of tables in all.) */
	CHECK(R.enomem >= 1 || iters < 100, "none of %lu calls failed",
	      R.ops);
	print_message("  %-18s options 0x%x seed 0x%016" PRIx64 ": %lu calls, "
		      "%lu -ENOMEM, %lu -EEXIST\n", c->name, options, seed0,
		      R.ops, R.enomem, R.eexist);
	env_close(&R.a);
	env_close(&R.b);
}

static void run_random(unsigned options)
{
	uint64_t seed = tseed(DEFAULT_SEED);
	long iters = titers("IOPGT_TEST_ITERS", UNIT_ITERS);

	static char what[128];

	snprintf(what, sizeof(what), "randomized, options 0x%x, replay with "
		 "IOPGT_SEED=0x%" PRIx64 " IOPGT_TEST_ITERS=%ld", options, seed,
		 iters);
	cur_what = what;
	cur_k = -1;
	print_message("base seed 0x%" PRIx64 " (set IOPGT_SEED to replay), "
		      "%ld operations per configuration\n", seed, iters);
	for (size_t i = 0; i < n_tcfgs; i++) {
		if (!selected(&tcfgs[i]))
			continue;
		cur_cfg = tcfgs[i].name;
		rnd_config(&tcfgs[i], i, options, seed, iters);
	}
}

static void test_random_default(void **state)
{
	(void)state;
	run_random(0);
}

/* With counts: without them, a map that fails in a domain that does not
 * reclaim keeps the empty tables it created (iopgt.h), which the domain
 * that saw no failure does not have. */
static void test_random_no_reclaim(void **state)
{
	(void)state;
	run_random(IOPGT_OPT_NO_RECLAIM | IOPGT_OPT_COUNTS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create),
		cmocka_unit_test(test_scenarios),
		cmocka_unit_test(test_random_default),
		cmocka_unit_test(test_random_no_reclaim),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
