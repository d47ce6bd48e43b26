/* SPDX-License-Identifier: MIT */
/*
 * Reclaim rules of DESIGN.md, each shown to hold and shown to be caught
 * when broken on purpose through the test hooks of src/testhook.h:
 *
 *   rule 2(a) and 3: an unlinked table page is freed only after a WALK
 *     flush (or flush_all) covering its whole span, issued after the
 *     operation that unlinked it began. Checked against a shared event
 *     clock of the recording allocator and flush fake. Broken with
 *     PT_HOOK_FREE_BEFORE_FLUSH, PT_HOOK_SKIP_FLUSH, PT_HOOK_LEAF_ONLY_FLUSH.
 *   rule 2(b) and 5: a table a lock-free walker is inside is not freed
 *     until the walker leaves; the walker sees the old contents or empty
 *     entries. A lookup is held inside a table through the walk hook while
 *     another thread unlinks that table; for every reclaim strategy that
 *     allows concurrent walkers (the epoch, the worker, RCU with each
 *     liburcu flavor). Broken with PT_HOOK_IGNORE_WALKERS, which makes the
 *     domain's strategy free at once (a test-only strategy).
 *   RCU's bound: past rcu_max_pending pages, or without memory for its
 *     batch, a sync waits for a grace period itself and frees directly.
 *   rule 4: after unmapping everything only the root is left. Shown to be
 *     caught with IOPGT_OPT_NO_RECLAIM, which keeps emptied tables.
 *
 * Every check is a function returning how many violations it saw, so the
 * positive test asserts zero and the negative test asserts more than zero.
 * Set IOPGT_SEED to replay the randomized parts.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "strategy.h"
#include "testhook.h"

typedef int (*sync_fn)(struct iopgt_domain *, struct iopgt_gather *);

static uint64_t g_seed;

/* Under ThreadSanitizer, strategies that free on a thread of their own
 * are left out: liburcu is not built for it, so it cannot see a grace
 * period order a reader's loads before the callback thread's free; and
 * the worker frees into this file's allocator and event clock, which are
 * one thread's. stress_concurrent runs the worker under TSan. */
static bool tsan_skipped(const struct cli_strategy *s)
{
	static bool said;

	if (!TSAN || (!s->flavor && s->strategy != IOPGT_STRATEGY_WORKER))
		return false;
	if (!said)
		fprintf(stderr, "test_reclaim: RCU and worker strategies "
				"skipped under ThreadSanitizer\n");
	said = true;
	return true;
}

/* Geometry of a configuration as the tests need it. */
struct geo {
	uint64_t page, sz1, sz2; /* sizes of a level 0, 1 and 2 entry */
	unsigned n0;             /* entries of a non-root table */
	unsigned nsizes;         /* leaf sizes offered */
	uint64_t space;          /* the lower part of the input space:
	                          * 2^ias, or 2^(ias-1) where the format
	                          * sign-extends */
	uint64_t pa_mask;        /* keeps an identity PA inside oas */
	unsigned levels;
};

static void geo_of(struct iopgt_domain *dom, struct geo *g)
{
	struct iopgt_info info;
	uint64_t sizes[8];
	unsigned m;

	iopgt_domain_info(dom, &info, sizeof(info));
	g->nsizes = tcfg_leaf_sizes(dom, sizes);
	g->page = UINT64_C(1) << info.granule;
	g->n0 = 1u << (info.granule - 3);
	g->sz1 = g->page * g->n0;
	g->sz2 = g->sz1 * g->n0;
	g->space = info.iova_last + 1;
	m = info.ias < info.oas ? info.ias : info.oas;
	g->pa_mask = (UINT64_C(1) << m) - 1;
	g->levels = info.levels;
}

static uint64_t pa_of(const struct geo *g, uint64_t iova)
{
	return iova & g->pa_mask;
}

/* ------------------------------------------------------------------------
 * Rule 2(a) and 3: flush before free
 */

/* A table seen in the tree, and when it was last seen there. */
struct trec {
	uint64_t pa, iova, span;
	unsigned level;
	uint64_t seen; /* clock just before the operation it was last seen
	                * before: its unlink came after this */
	int gone;
};

struct fcheck {
	uint64_t clock; /* shared event clock */
	struct talloc ta;
	struct tflush tf;
	struct iopgt_domain *dom;
	struct geo geo;
	struct iopgt_gather g;
	sync_fn sync;
	const char *what; /* for messages */
	struct trec *tabs;
	size_t n, cap;
	unsigned long frees, violations, unknown;
	uint64_t rng;
	const struct cli_strategy *strat;
};

static struct trec *fc_find(struct fcheck *fc, uint64_t pa)
{
	for (size_t i = 0; i < fc->n; i++)
		if (fc->tabs[i].pa == pa && !fc->tabs[i].gone)
			return &fc->tabs[i];
	return NULL;
}

static int fc_snap_one(void *arg, const struct iopgt_table_info *t)
{
	struct fcheck *fc = arg;
	struct trec *r = fc_find(fc, t->pa);

	if (!r) {
		if (fc->n == fc->cap) {
			fc->cap = fc->cap ? fc->cap * 2 : 64;
			fc->tabs = realloc(fc->tabs, fc->cap * sizeof(*fc->tabs));
			assert_non_null(fc->tabs);
		}
		r = &fc->tabs[fc->n++];
		memset(r, 0, sizeof(*r));
		r->pa = t->pa;
	}
	r->iova = t->iova;
	r->span = t->span;
	r->level = t->level;
	r->seen = fc->clock;
	return 0;
}

/* Record the tree before an operation. */
static void fc_begin(struct fcheck *fc)
{
	iopgt_for_each_table(fc->dom, fc_snap_one, fc);
}

static void fc_on_free(void *arg, uint64_t pa, size_t size, uint64_t when)
{
	struct fcheck *fc = arg;
	struct trec *r = fc_find(fc, pa);

	(void)size;
	fc->frees++;
	if (!r) {
		/* Never in the tree at an operation's start. The scenarios
		 * never create and unlink a table within one call (no map
		 * fails part-way), so this is a table that was never
		 * published: a spare that a split allocated and did not
		 * need. It needs no flush. */
		fc->unknown++;
		return;
	}
	r->gone = 1;
	if (!tflush_walk_covers(&fc->tf, r->iova, r->iova + (r->span - 1),
				r->seen, when)) {
		if (fc->violations < 4)
			fprintf(stderr,
				"%s: L%u table iova 0x%" PRIx64 " span 0x%" PRIx64
				" freed at t=%" PRIu64 " without a WALK flush"
				" over its span in (%" PRIu64 ", %" PRIu64 ")\n",
				fc->what, r->level, r->iova, r->span, when,
				r->seen, when);
		fc->violations++;
	}
}

static void fc_init(struct fcheck *fc, const struct tcfg *c,
		    const struct cli_strategy *strat, unsigned options,
		    sync_fn sync, unsigned hooks, const char *what)
{
	struct iopgt_config cfg;

	memset(fc, 0, sizeof(*fc));
	fc->strat = strat;
	cli_strategy_thread_begin(strat);
	fc->what = what;
	fc->sync = sync;
	talloc_init(&fc->ta);
	fc->ta.clock = &fc->clock;
	fc->ta.on_free = fc_on_free;
	fc->ta.on_free_arg = fc;
	tflush_init(&fc->tf, &fc->clock);
	tcfg_config(c, &cfg);
	cli_strategy_apply(strat, &cfg);
	cfg.options = options;
	cfg.table_cache = 0; /* every reclaimed table is really freed */
	talloc_ops(&fc->ta, &cfg.mem);
	tflush_ops(&fc->tf, &cfg.flush);
	assert_int_equal(iopgt_domain_create(&cfg, &fc->dom), 0);
	iopgt__set_test_hooks(fc->dom, hooks);
	geo_of(fc->dom, &fc->geo);
	iopgt_gather_init(&fc->g, sizeof(fc->g));
	fc->rng = g_seed;
}

/* Destroy (which frees without flushing, as allowed) and return the
 * violations seen. */
static unsigned long fc_fini(struct fcheck *fc, unsigned long *frees)
{
	struct iopgt_stats st;
	unsigned long v;

	/* RCU (QSBR, this thread online): the callbacks run now, while
	 * this thread waits in the barrier. */
	if (fc->strat->flavor)
		iopgt_reclaim(fc->dom);
	v = fc->violations;
	iopgt_get_stats(fc->dom, &st, sizeof(st));
	assert_int_equal(st.table_pages_waiting, 0);
	assert_int_equal(tcheck_counts(fc->dom), 0);
	fc->ta.on_free = NULL;
	iopgt_domain_destroy(fc->dom);
	assert_int_equal(fc->ta.live_bytes, 0);
	assert_int_equal(fc->ta.meta_allocs, fc->ta.meta_frees);
	talloc_fini(&fc->ta);
	tflush_fini(&fc->tf);
	free(fc->tabs);
	if (frees)
		*frees = fc->frees;
	cli_strategy_thread_end(fc->strat);
	return v;
}

static void fc_map(struct fcheck *fc, uint64_t iova, uint64_t size)
{
	fc_begin(fc);
	assert_int_equal(iopgt_map(fc->dom, iova, pa_of(&fc->geo, iova), size,
				   IOPGT_PROT_READ | IOPGT_PROT_WRITE, &fc->g),
			 0);
	fc->sync(fc->dom, &fc->g);
}

static void fc_unmap(struct fcheck *fc, uint64_t iova, uint64_t size,
		     int64_t expect)
{
	int64_t r;

	fc_begin(fc);
	r = iopgt_unmap(fc->dom, iova, size, &fc->g);
	if (expect >= 0)
		assert_int_equal(r, expect);
	else
		assert_true(r >= 0);
	fc->sync(fc->dom, &fc->g);
}

/* Scenario: single pages far apart, unmapped one by one; each unmap
 * empties its leaf table and the tables above it. */
static void sc_unmap_empties(struct fcheck *fc)
{
	const struct geo *g = &fc->geo;
	uint64_t iovas[] = {
		0,
		g->sz1 * 3 + g->page * 5,
		g->sz1 * 3 + g->page * 6, /* same leaf table */
		g->space - g->page,       /* the very last page */
		g->space / 2 + g->sz1,
	};
	size_t n = sizeof(iovas) / sizeof(iovas[0]);

	for (size_t i = 0; i < n; i++)
		fc_map(fc, iovas[i], g->page);
	for (size_t i = 0; i < n; i++)
		fc_unmap(fc, iovas[i], g->page, (int64_t)g->page);
}

/* Scenario: coalescing maps. A leaf table with all but one entry is
 * completed, so it is replaced by a superpage; where the format has a
 * third leaf size, two levels coalesce in one map. */
static uint64_t coalesced(struct fcheck *fc)
{
	struct iopgt_stats st;

	iopgt_get_stats(fc->dom, &st, sizeof(st));
	return st.coalesced;
}

static void sc_coalesce(struct fcheck *fc)
{
	const struct geo *g = &fc->geo;
	uint64_t b = g->sz1 * 3, before;

	fc_map(fc, b, g->sz1 - g->page);
	before = coalesced(fc);
	fc_map(fc, b + g->sz1 - g->page, g->page);
	assert_int_equal(coalesced(fc), before + 1);

	if (g->nsizes >= 3) {
		uint64_t c = g->sz2;
		/* sz1 superpages for all but the last block, then the last
		 * block as pages. */
		fc_map(fc, c, g->sz2 - g->sz1);
		fc_map(fc, c + g->sz2 - g->sz1, g->sz1 - g->page);
		before = coalesced(fc);
		fc_map(fc, c + g->sz2 - g->page, g->page);
		assert_int_equal(coalesced(fc), before + 2);
	}
	/* Split one superpage again and complete it, then remove
	 * everything. */
	fc_unmap(fc, b + g->page, g->page, (int64_t)g->page);
	before = coalesced(fc);
	fc_map(fc, b + g->page, g->page);
	assert_int_equal(coalesced(fc), before + 1);
	fc_unmap(fc, 0, g->space, -1);
}

/* Scenario (IOPGT_OPT_NO_RECLAIM): a superpage mapped where emptied tables
 * were kept unlinks that whole subtree (rule 3). */
static void sc_superpage_over_empty(struct fcheck *fc)
{
	const struct geo *g = &fc->geo;
	uint64_t b = g->sz1 * 3;

	fc_map(fc, b + g->page * 7, g->page);
	fc_unmap(fc, b + g->page * 7, g->page, (int64_t)g->page);
	fc_map(fc, b, g->sz1); /* over the kept, empty leaf table */
	if (g->nsizes >= 3) {
		uint64_t c = g->sz2;
		fc_map(fc, c + g->sz1 * 5 + g->page * 3, g->page);
		fc_map(fc, c + g->sz1 * 9, g->sz1);
		fc_unmap(fc, c, g->sz2, (int64_t)(g->sz1 + g->page));
		fc_map(fc, c, g->sz2); /* over an empty two-level subtree */
	}
}

/* True if nothing in [iova, iova + size) is mapped. */
static int range_unmapped(struct iopgt_domain *dom, const struct geo *g,
			  uint64_t iova, uint64_t size)
{
	struct iopgt_translation tr;

	for (uint64_t o = 0; o < size; o += g->page)
		if (iopgt_lookup(dom, iova + o, &tr) != -ENOENT)
			return 0;
	return 1;
}

/* Scenario: random maps, partial unmaps (splits) and coalescing, then one
 * unmap of everything. Maps go only where nothing is mapped: a map that
 * fails part-way unlinks tables it created itself, which no snapshot saw. */
static void sc_unmap_all(struct fcheck *fc)
{
	const struct geo *g = &fc->geo;
	uint64_t region = g->sz1 * 8 < g->space ? g->sz1 * 8 : g->space;
	uint64_t pages = region / g->page;
	const unsigned rw = IOPGT_PROT_READ | IOPGT_PROT_WRITE;

	for (int i = 0; i < 60; i++) {
		uint64_t r = trand(&fc->rng);
		uint64_t iova, size;

		switch (r % 4) {
		case 0: /* a run of pages */
			iova = (trand(&fc->rng) % pages) * g->page;
			size = (1 + trand(&fc->rng) % 64) * g->page;
			break;
		case 1: /* a superpage */
			iova = (trand(&fc->rng) % (region / g->sz1)) * g->sz1;
			size = g->sz1;
			break;
		case 2: /* fill the holes of a leaf table: it coalesces */
			iova = (trand(&fc->rng) % (region / g->sz1)) * g->sz1;
			for (uint64_t o = 0; o < g->sz1;) {
				uint64_t n = 0;
				while (o + n < g->sz1 &&
				       range_unmapped(fc->dom, g, iova + o + n,
						      g->page))
					n += g->page;
				if (n) {
					fc_begin(fc);
					assert_int_equal(
						iopgt_map(fc->dom, iova + o,
							  pa_of(g, iova + o), n,
							  rw, &fc->g),
						0);
				}
				o += n ? n : g->page;
			}
			fc->sync(fc->dom, &fc->g);
			continue;
		default: /* unmap a piece */
			iova = (trand(&fc->rng) % pages) * g->page;
			size = (1 + trand(&fc->rng) % (2 * g->n0)) * g->page;
			if (iova + size > region)
				size = region - iova;
			fc_unmap(fc, iova, size, -1);
			continue;
		}
		if (iova + size > region)
			size = region - iova;
		if (range_unmapped(fc->dom, g, iova, size))
			fc_map(fc, iova, size);
	}
	assert_int_equal(tcheck_counts(fc->dom), 0);
	fc_unmap(fc, 0, g->space, -1);
}

struct scenario {
	const char *name;
	void (*fn)(struct fcheck *fc);
	unsigned options;
};

static const struct scenario scenarios[] = {
	{ "unmap_empties", sc_unmap_empties, 0 },
	{ "coalesce", sc_coalesce, 0 },
	{ "superpage_over_empty", sc_superpage_over_empty,
	  IOPGT_OPT_NO_RECLAIM },
	{ "unmap_all", sc_unmap_all, 0 },
};
#define N_SCENARIOS (sizeof(scenarios) / sizeof(scenarios[0]))

/* Run one scenario and return the number of table frees that were not
 * preceded by a covering WALK flush. */
static unsigned long flush_violations(const struct tcfg *c,
				      const struct cli_strategy *strat,
				      const struct scenario *s, int all,
				      unsigned hooks, unsigned long *frees)
{
	struct fcheck fc;
	char what[200];

	snprintf(what, sizeof(what),
		 "%s %s %s %s hooks 0x%x seed 0x%" PRIx64, c->name,
		 strat->name, s->name, all ? "flush_all" : "sync", hooks,
		 g_seed);
	fc_init(&fc, c, strat, s->options, all ? iopgt_flush_all : iopgt_sync,
		hooks, what);
	s->fn(&fc);
	return fc_fini(&fc, frees);
}

/* The strategies the flush checks run with: the checker's clock and
 * allocator are one thread's, so RCU runs with QSBR, whose callbacks wait
 * for this thread's quiescent state: they run only inside the barrier of
 * fc_fini, while this thread waits. */
static const char *const flush_strategies[] = { "epoch", "after-flush",
						"rcu-qsbr" };
#define N_FLUSH_STRATEGIES \
	(sizeof(flush_strategies) / sizeof(flush_strategies[0]))

static void test_flush_before_free(void **state)
{
	(void)state;
	for (size_t k = 0; k < N_FLUSH_STRATEGIES; k++)
		for (size_t i = 0; i < n_tcfgs; i++)
			for (size_t s = 0; s < N_SCENARIOS; s++)
				for (int all = 0; all < 2; all++) {
					const struct cli_strategy *st =
						cli_strategy_find(
							flush_strategies[k]);
					unsigned long frees = 0, v;

					if (tsan_skipped(st))
						continue;
					v = flush_violations(&tcfgs[i], st,
							     &scenarios[s], all,
							     0, &frees);
					assert_int_equal(v, 0);
					assert_true(frees > 0); /* not vacuous */
				}
}

/* Each hook breaks rule 2(a) in its own way; the same checker must see it
 * in every scenario. A leaf-only flush is not a violation with flush_all,
 * which invalidates everything whatever the kind. */
static void negative_flush(unsigned hooks, int with_flush_all)
{
	for (size_t k = 0; k < N_FLUSH_STRATEGIES; k++) {
		const struct cli_strategy *st =
			cli_strategy_find(flush_strategies[k]);

		if (tsan_skipped(st))
			continue;
		for (size_t i = 0; i < n_tcfgs; i++)
			for (size_t s = 0; s < N_SCENARIOS; s++)
				for (int all = 0; all <= with_flush_all;
				     all++) {
					unsigned long frees = 0;
					unsigned long v = flush_violations(
						&tcfgs[i], st, &scenarios[s],
						all, hooks, &frees);
					if (v == 0)
						fprintf(stderr,
							"%s %s %s %s: hooks "
							"0x%x not detected\n",
							tcfgs[i].name, st->name,
							scenarios[s].name,
							all ? "flush_all"
							    : "sync",
							hooks);
					assert_true(frees > 0);
					assert_true(v > 0);
				}
	}
}

static void test_neg_free_before_flush(void **state)
{
	(void)state;
	negative_flush(PT_HOOK_FREE_BEFORE_FLUSH, 1);
}

static void test_neg_skip_flush(void **state)
{
	(void)state;
	negative_flush(PT_HOOK_SKIP_FLUSH, 1);
}

static void test_neg_leaf_only_flush(void **state)
{
	(void)state;
	negative_flush(PT_HOOK_LEAF_ONLY_FLUSH, 0);
}

/* ------------------------------------------------------------------------
 * Rule 2(b) and 5: walkers
 */

/* Descriptors are kept (not freed) until the end, so that a walker which
 * the broken library let run into a freed table reads the poisoned page
 * through an intact descriptor instead of crashing. The talloc must stay
 * the first member: talloc's callbacks receive this structure as theirs. */
struct qalloc {
	struct talloc ta;
	void **kept;
	size_t n, cap;
};

static void q_meta_free(void *arg, void *ptr, size_t size)
{
	struct qalloc *q = arg;

	(void)size;
	if (q->n == q->cap) {
		q->cap = q->cap ? q->cap * 2 : 64;
		q->kept = realloc(q->kept, q->cap * sizeof(*q->kept));
		assert_non_null(q->kept);
	}
	q->kept[q->n++] = ptr;
	q->ta.meta_frees++;
}

static void q_fini(struct qalloc *q)
{
	for (size_t i = 0; i < q->n; i++)
		free(q->kept[i]);
	free(q->kept);
	talloc_fini(&q->ta);
}

enum grace_kind {
	GRACE_UNMAP,    /* the leaf table is emptied by unmap */
	GRACE_UPPER,    /* the walker is in the level-1 table; both go */
	GRACE_COALESCE, /* the full leaf table is replaced by a superpage */
};

struct grace {
	const struct cli_strategy *strat;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct iopgt_domain *dom;
	uint64_t target; /* pa of the table to hold the walker in */
	uint64_t iova;
	int paused, release, done;
	int r;
	struct iopgt_translation tr;
	/* on_free bookkeeping */
	int target_freed;
};

static void grace_hook(void *arg, const void *table)
{
	struct grace *gr = arg;

	if (iopgt__table_pa(table) != gr->target)
		return;
	pthread_mutex_lock(&gr->mu);
	if (!gr->paused) {
		gr->paused = 1;
		pthread_cond_broadcast(&gr->cv);
		while (!gr->release)
			pthread_cond_wait(&gr->cv, &gr->mu);
	}
	pthread_mutex_unlock(&gr->mu);
}

static void *grace_walker(void *arg)
{
	struct grace *gr = arg;

	cli_strategy_thread_begin(gr->strat);
	int r = iopgt_lookup(gr->dom, gr->iova, &gr->tr);
	cli_strategy_thread_end(gr->strat);

	pthread_mutex_lock(&gr->mu);
	gr->r = r;
	gr->done = 1;
	pthread_cond_broadcast(&gr->cv);
	pthread_mutex_unlock(&gr->mu);
	return NULL;
}

static void grace_on_free(void *arg, uint64_t pa, size_t size, uint64_t when)
{
	struct grace *gr = arg;

	(void)size;
	(void)when;
	if (pa == gr->target)
		gr->target_freed = 1;
}

struct find_table {
	uint64_t iova;
	unsigned level;
	uint64_t pa;
	uint64_t span_iova, span;
};

static int find_table_one(void *arg, const struct iopgt_table_info *t)
{
	struct find_table *f = arg;

	if (t->level == f->level && f->iova >= t->iova &&
	    f->iova - t->iova < t->span) {
		f->pa = t->pa;
		f->span_iova = t->iova;
		f->span = t->span;
		return 1;
	}
	return 0;
}

/* Hold a lookup inside a table while another thread unlinks that table
 * and syncs. Returns the violations of rules 2(b) and 5 seen: the table
 * freed while the walker was inside, or a lookup answer that is neither
 * the old translation nor (where the IOVA was unmapped) -ENOENT. Also
 * asserts what must hold in any case (the WALK flush, the final free).
 * -1: the case does not exist in this configuration. */
static int grace_violations(const struct tcfg *c,
			    const struct cli_strategy *strat,
			    enum grace_kind kind, int use_reclaim,
			    unsigned hooks)
{
	struct qalloc q;
	struct iopgt_config cfg;
	struct iopgt_gather g;
	struct iopgt_stats st;
	struct tflush tf;
	struct grace gr;
	struct geo geo;
	struct find_table ft;
	pthread_t th;
	uint64_t clock = 0, t0, iova, base;
	int v = 0;
	const unsigned rw = IOPGT_PROT_READ | IOPGT_PROT_WRITE;

	memset(&q, 0, sizeof(q));
	talloc_init(&q.ta);
	q.ta.clock = &clock;
	tflush_init(&tf, &clock);
	tcfg_config(c, &cfg);
	cli_strategy_apply(strat, &cfg);
	cfg.table_cache = 0;
	talloc_ops(&q.ta, &cfg.mem);
	cfg.mem.meta_free = q_meta_free;
	cfg.mem.arg = &q;
	tflush_ops(&tf, &cfg.flush);

	memset(&gr, 0, sizeof(gr));
	gr.strat = strat;
	cli_strategy_thread_begin(strat);
	pthread_mutex_init(&gr.mu, NULL);
	pthread_cond_init(&gr.cv, NULL);
	assert_int_equal(iopgt_domain_create(&cfg, &gr.dom), 0);
	iopgt__set_test_hooks(gr.dom, hooks);
	geo_of(gr.dom, &geo);
	iopgt_gather_init(&g, sizeof(g));

	base = geo.sz1 * 5;
	iova = base + geo.page * 3;
	if (kind == GRACE_COALESCE)
		assert_int_equal(iopgt_map(gr.dom, base, pa_of(&geo, base),
					   geo.sz1 - geo.page, rw, &g),
				 0);
	else
		assert_int_equal(iopgt_map(gr.dom, iova, pa_of(&geo, iova),
					   geo.page, rw, &g),
				 0);
	iopgt_sync(gr.dom, &g);

	memset(&ft, 0, sizeof(ft));
	ft.iova = iova;
	ft.level = kind == GRACE_UPPER ? 1 : 0;
	assert_int_equal(iopgt_for_each_table(gr.dom, find_table_one, &ft), 1);
	if (kind == GRACE_UPPER && ft.span >= geo.space) {
		/* Level 1 is the root here: nothing above it to unlink. */
		v = -1;
		goto out;
	}
	gr.target = ft.pa;
	gr.iova = iova;
	q.ta.on_free = grace_on_free;
	q.ta.on_free_arg = &gr;
	iopgt__set_walk_hook(gr.dom, grace_hook, &gr);

	assert_int_equal(pthread_create(&th, NULL, grace_walker, &gr), 0);
	pthread_mutex_lock(&gr.mu);
	while (!gr.paused && !gr.done)
		pthread_cond_wait(&gr.cv, &gr.mu);
	pthread_mutex_unlock(&gr.mu);
	if (!gr.paused) {
		fprintf(stderr, "%s: the lookup never entered table pa 0x%" PRIx64
				" (returned %d, pa 0x%" PRIx64 ")\n",
			c->name, gr.target, gr.r, gr.tr.pa);
		fail();
	}

	/* The walker is inside the target table. Unlink it and sync. */
	t0 = clock;
	if (kind == GRACE_COALESCE) {
		uint64_t last = base + geo.sz1 - geo.page;
		assert_int_equal(iopgt_map(gr.dom, last, pa_of(&geo, last),
					   geo.page, rw, &g),
				 0);
	} else {
		assert_int_equal(iopgt_unmap(gr.dom, iova, geo.page, &g),
				 (int64_t)geo.page);
	}
	assert_true(g.nr_tables > 0);
	iopgt_sync(gr.dom, &g);
	assert_true(tflush_walk_covers(&tf, ft.span_iova,
				       ft.span_iova + ft.span - 1, t0,
				       UINT64_MAX));
	if (strat->flavor || strat->strategy == IOPGT_STRATEGY_WORKER) {
		/* Time for a grace period that does not wait for the walker
		 * to end, and its callback to run (QSBR: this thread,
		 * offline, is not the one it waits for), or for the worker
		 * to free what it should not. */
		struct timespec ts = { 0, 20 * 1000 * 1000 };

		cli_strategy_offline(strat);
		nanosleep(&ts, NULL);
		cli_strategy_online(strat);
	}

	iopgt_get_stats(gr.dom, &st, sizeof(st));
	if (gr.target_freed || talloc_is_freed(&q.ta, gr.target)) {
		fprintf(stderr, "%s: table pa 0x%" PRIx64
				" freed while a walker was inside it\n",
			c->name, gr.target);
		v++;
	} else {
		/* Held back, and visible as such. */
		assert_true(st.table_pages_waiting > 0);
	}

	pthread_mutex_lock(&gr.mu);
	gr.release = 1;
	pthread_cond_broadcast(&gr.cv);
	pthread_mutex_unlock(&gr.mu);
	assert_int_equal(pthread_join(th, NULL), 0);
	iopgt__set_walk_hook(gr.dom, NULL, NULL);

	/* Old translation, or empty (not after a coalesce: iova stayed
	 * mapped throughout). Anything else is another table's data. */
	if (gr.r == 0) {
		if (gr.tr.pa != pa_of(&geo, iova) ||
		    gr.tr.prot != rw) {
			fprintf(stderr, "%s: walker read garbage: pa 0x%" PRIx64
					" size 0x%" PRIx64 " prot 0x%x\n",
				c->name, gr.tr.pa, gr.tr.leaf_size, gr.tr.prot);
			v++;
		}
	} else if (gr.r != -ENOENT || kind == GRACE_COALESCE) {
		fprintf(stderr, "%s: walker returned %d\n", c->name, gr.r);
		v++;
	}

	/* Now the walker has left: the next sync or reclaim frees it (with
	 * RCU, the callback: iopgt_reclaim or the application's barrier waits
	 * for it). */
	if (use_reclaim) {
		iopgt_reclaim(gr.dom);
	} else if (strat->strategy == IOPGT_STRATEGY_WORKER) {
		/* The worker frees by itself, with no call to wake it. */
		for (int i = 0; i < 5000; i++) {
			struct timespec ts = { 0, 1000 * 1000 };

			iopgt_get_stats(gr.dom, &st, sizeof(st));
			if (!st.table_pages_waiting)
				break;
			nanosleep(&ts, NULL);
		}
	} else {
		cli_strategy_barrier(strat);
		iopgt_gather_init(&g, sizeof(g));
		iopgt_sync(gr.dom, &g);
	}
	iopgt_get_stats(gr.dom, &st, sizeof(st));
	assert_int_equal(st.table_pages_waiting, 0);
	assert_true(talloc_is_freed(&q.ta, gr.target));
	assert_true(gr.target_freed);
	assert_int_equal(tcheck_counts(gr.dom), 0);

out:
	q.ta.on_free = NULL;
	iopgt_domain_destroy(gr.dom);
	assert_int_equal(q.ta.live_bytes, 0);
	assert_int_equal(q.ta.meta_allocs, q.ta.meta_frees);
	q_fini(&q);
	tflush_fini(&tf);
	pthread_mutex_destroy(&gr.mu);
	pthread_cond_destroy(&gr.cv);
	cli_strategy_thread_end(strat);
	return v;
}

/* The strategies that allow walkers concurrent with reclaim: every one
 * but after-flush. The epoch runs on every configuration; each RCU flavor
 * on the representative one and one other (the flavor does not meet the
 * format). */
static bool grace_strategy(const struct cli_strategy *s)
{
	return s->strategy != IOPGT_STRATEGY_AFTER_FLUSH && !tsan_skipped(s);
}

static bool grace_config(const struct cli_strategy *s, size_t i)
{
	return s->strategy == IOPGT_STRATEGY_EPOCH || i == 0 ||
	       !strcmp(tcfgs[i].name, tcfg_representative());
}

static void test_walker_grace(void **state)
{
	unsigned ns;
	const struct cli_strategy *ss = cli_strategies(&ns);

	(void)state;
	for (unsigned si = 0; si < ns; si++) {
		if (!grace_strategy(&ss[si]))
			continue;
		for (size_t i = 0; i < n_tcfgs; i++) {
			if (!grace_config(&ss[si], i))
				continue;
			for (int k = GRACE_UNMAP; k <= GRACE_COALESCE; k++)
				for (int rec = 0; rec < 2; rec++) {
					int v = grace_violations(
						&tcfgs[i], &ss[si], k, rec, 0);
					if (v > 0)
						fprintf(stderr,
							"strategy %s\n",
							ss[si].name);
					assert_true(v <= 0);
				}
		}
	}
}

static void test_neg_ignore_walkers(void **state)
{
	unsigned ns;
	const struct cli_strategy *ss = cli_strategies(&ns);

	(void)state;
	for (unsigned si = 0; si < ns; si++) {
		if (!grace_strategy(&ss[si]))
			continue;
		for (size_t i = 0; i < n_tcfgs; i++) {
			if (!grace_config(&ss[si], i))
				continue;
			for (int k = GRACE_UNMAP; k <= GRACE_COALESCE; k++) {
				int v = grace_violations(
					&tcfgs[i], &ss[si], k, 0,
					PT_HOOK_IGNORE_WALKERS);
				if (!v)
					fprintf(stderr,
						"strategy %s: not caught\n",
						ss[si].name);
				assert_true(v != 0);
			}
		}
	}
}

/* ------------------------------------------------------------------------
 * RCU: one callback per batch, the bound, and destroy's barrier
 */

struct balloc {
	struct talloc ta; /* first: talloc's callbacks take this as theirs */
	void *(*meta_alloc)(void *arg, size_t size);
	int fail_meta;    /* refuse the next meta_alloc */
};

static void *b_meta_alloc(void *arg, size_t size)
{
	struct balloc *b = arg;

	if (b->fail_meta) {
		b->fail_meta = 0;
		return NULL;
	}
	return b->meta_alloc(arg, size);
}

enum rcu_end { RCU_END_RECLAIM, RCU_END_DESTROY };

/* Unlink a few tables in one batch and sync: with max_pending below the
 * batch, or with its record refused, the sync must wait for a grace
 * period itself and free them before it returns; else they wait in one
 * callback, freed by iopgt_reclaim's barrier or, with nothing else,
 * destroy's. Either way nothing leaks. */
static void rcu_batch_case(const struct tcfg *c,
			   const struct cli_strategy *strat,
			   uint64_t max_pending, int fail_meta,
			   enum rcu_end end)
{
	struct balloc b;
	struct iopgt_config cfg;
	struct iopgt_domain *dom;
	struct iopgt_gather g;
	struct iopgt_stats st0, st;
	struct geo geo;
	unsigned long n;
	const bool expect_wait = fail_meta || max_pending == 1;

	memset(&b, 0, sizeof(b));
	talloc_init(&b.ta);
	cli_strategy_thread_begin(strat);
	tcfg_config(c, &cfg);
	cli_strategy_apply(strat, &cfg);
	cfg.rcu_max_pending = max_pending;
	cfg.table_cache = 0;
	talloc_ops(&b.ta, &cfg.mem);
	b.meta_alloc = cfg.mem.meta_alloc;
	cfg.mem.meta_alloc = b_meta_alloc;
	cfg.mem.arg = &b;
	assert_int_equal(iopgt_domain_create(&cfg, &dom), 0);
	geo_of(dom, &geo);
	iopgt_gather_init(&g, sizeof(g));
	for (uint64_t k = 1; k <= 3; k++)
		assert_int_equal(iopgt_map(dom, geo.sz1 * k,
					   pa_of(&geo, geo.sz1 * k), geo.page,
					   IOPGT_PROT_READ, &g),
				 0);
	iopgt_sync(dom, &g);
	iopgt_get_stats(dom, &st0, sizeof(st0));
	for (uint64_t k = 1; k <= 3; k++)
		assert_int_equal(iopgt_unmap(dom, geo.sz1 * k, geo.page, &g),
				 (int64_t)geo.page);
	n = g.nr_tables;
	assert_true(n >= 3);
	b.fail_meta = fail_meta;
	iopgt_sync(dom, &g);
	assert_int_equal(b.fail_meta, 0); /* the sync asked for a record */
	iopgt_get_stats(dom, &st, sizeof(st));
	if (expect_wait) {
		assert_int_equal(st.reclaim_waits, 1);
		assert_int_equal(st.table_pages_waiting, 0);
		assert_int_equal(st.table_pages_freed - st0.table_pages_freed,
				 n);
	} else {
		assert_int_equal(st.reclaim_waits, 0);
	}
	if (end == RCU_END_RECLAIM) {
		assert_int_equal(iopgt_reclaim(dom), 0);
		iopgt_get_stats(dom, &st, sizeof(st));
		assert_int_equal(st.table_pages_waiting, 0);
		assert_int_equal(st.table_pages_freed - st0.table_pages_freed,
				 n);
	}
	iopgt_domain_destroy(dom);
	assert_int_equal(b.ta.live_bytes, 0);
	assert_int_equal(b.ta.meta_allocs, b.ta.meta_frees);
	talloc_fini(&b.ta);
	cli_strategy_thread_end(strat);
}

static void test_rcu_batches(void **state)
{
	unsigned ns;
	const struct cli_strategy *ss = cli_strategies(&ns);

	(void)state;
	for (unsigned si = 0; si < ns; si++) {
		if (!ss[si].flavor || tsan_skipped(&ss[si]))
			continue;
		for (size_t i = 0; i < n_tcfgs; i++) {
			if (!grace_config(&ss[si], i))
				continue;
			rcu_batch_case(&tcfgs[i], &ss[si], 0, 0,
				       RCU_END_RECLAIM);
			rcu_batch_case(&tcfgs[i], &ss[si], 0, 0,
				       RCU_END_DESTROY);
			rcu_batch_case(&tcfgs[i], &ss[si], 1, 0,
				       RCU_END_RECLAIM);
			rcu_batch_case(&tcfgs[i], &ss[si], 0, 1,
				       RCU_END_DESTROY);
		}
	}
}

/* ------------------------------------------------------------------------
 * The worker: a thread that exits hands its queue on
 */

struct hold {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int at, release;
	struct iopgt_domain *dom;
	struct geo geo;
};

/* The worker's yield point: hold it before it takes the queues. */
static void hold_worker(void *arg, unsigned point, unsigned level,
			uint64_t iova)
{
	struct hold *h = arg;

	(void)level;
	(void)iova;
	if (point != PT_Y_WORKER_COLLECT)
		return;
	pthread_mutex_lock(&h->mu);
	h->at = 1;
	pthread_cond_broadcast(&h->cv);
	while (!h->release)
		pthread_cond_wait(&h->cv, &h->mu);
	pthread_mutex_unlock(&h->mu);
}

/* h set up around a new domain of configuration c with the worker
 * strategy and no table kept for reuse, its tables from ta. */
static void hold_domain(const struct tcfg *c, struct hold *h,
			struct talloc *ta)
{
	struct iopgt_config cfg;

	memset(h, 0, sizeof(*h));
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cv, NULL);
	talloc_init(ta);
	tcfg_config(c, &cfg);
	cfg.strategy = IOPGT_STRATEGY_WORKER;
	cfg.table_cache = 0;
	talloc_ops(ta, &cfg.mem);
	assert_int_equal(iopgt_domain_create(&cfg, &h->dom), 0);
	geo_of(h->dom, &h->geo);
}

/* A thread that unmaps three pages (emptying their tables), syncs and
 * exits while the worker is held before it takes the queues. */
static void *unmap_and_exit(void *arg)
{
	struct hold *h = arg;
	struct iopgt_gather g;

	iopgt_gather_init(&g, sizeof(g));
	for (uint64_t k = 1; k <= 3; k++)
		assert_int_equal(iopgt_unmap(h->dom, h->geo.sz1 * k,
					     h->geo.page, &g),
				 (int64_t)h->geo.page);
	iopgt_sync(h->dom, &g);
	/* Exit only once the worker, woken by the sync, is held. */
	pthread_mutex_lock(&h->mu);
	while (!h->at)
		pthread_cond_wait(&h->cv, &h->mu);
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

/* Returns the table pages beyond the root left after everything was
 * unmapped and reclaimed: 0 unless the exiting thread's pages were lost. */
static uint64_t handover_lost(const struct tcfg *c, unsigned hooks)
{
	struct talloc ta;
	struct iopgt_gather g;
	struct iopgt_stats st;
	struct hold h;
	pthread_t th;
	uint64_t lost;

	hold_domain(c, &h, &ta);
	iopgt__set_test_hooks(h.dom, hooks);
	iopgt_gather_init(&g, sizeof(g));
	for (uint64_t k = 1; k <= 3; k++)
		assert_int_equal(iopgt_map(h.dom, h.geo.sz1 * k,
					   pa_of(&h.geo, h.geo.sz1 * k),
					   h.geo.page, IOPGT_PROT_READ, &g),
				 0);
	iopgt_sync(h.dom, &g);
	iopgt__set_yield_hook(h.dom, hold_worker, &h);

	assert_int_equal(pthread_create(&th, NULL, unmap_and_exit, &h), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	/* The worker was woken by the sync, and is held: the pages are
	 * still queued, handed on (or dropped) by the thread's exit. */
	pthread_mutex_lock(&h.mu);
	h.release = 1;
	pthread_cond_broadcast(&h.cv);
	pthread_mutex_unlock(&h.mu);
	assert_int_equal(iopgt_reclaim(h.dom), 0);
	iopgt__set_yield_hook(h.dom, NULL, NULL);
	iopgt_get_stats(h.dom, &st, sizeof(st));
	assert_int_equal(st.table_pages_waiting, 0);
	lost = st.table_pages_live - 1;
	if (!lost) {
		assert_true(st.freed_by_worker >= 3); /* the worker paid */
		assert_int_equal(st.freed_by_callers, 0);
	}
	iopgt_domain_destroy(h.dom);
	assert_int_equal(ta.live_bytes, 0);
	talloc_fini(&ta);
	pthread_mutex_destroy(&h.mu);
	pthread_cond_destroy(&h.cv);
	return lost;
}

static void test_worker_handover(void **state)
{
	(void)state;
	if (tsan_skipped(cli_strategy_find("worker")))
		skip();
	if (IOPGT_DEBUG < 1) {
		fprintf(stderr, "test_reclaim: handover skipped: no yield "
				"hooks (IOPGT_DEBUG=0)\n");
		skip();
	}
	for (size_t i = 0; i < n_tcfgs; i++) {
		assert_int_equal(handover_lost(&tcfgs[i], 0), 0);
		/* Dropped at exit: the pages are never freed. */
		assert_true(handover_lost(&tcfgs[i], PT_HOOK_BREAK_HANDOVER) > 0);
	}
}

/* The worker's bound: a sync that leaves more than 4096 pages queued
 * waits until the worker has freed enough. The worker is held before it
 * takes the queues while a thread's sync retires BOUND_PAGES + 4 tables:
 * that sync must not return (and must count one wait) until the worker
 * is let go. */
#define BOUND_PAGES 4096u

struct bound_run {
	struct hold *h;
	uint64_t base, n;
	atomic_int done;
};

static void *retire_many(void *arg)
{
	struct bound_run *b = arg;
	struct hold *h = b->h;
	struct iopgt_gather g;

	iopgt_gather_init(&g, sizeof(g));
	assert_int_equal(iopgt_unmap(h->dom, b->base, b->n * h->geo.sz1, &g),
			 (int64_t)(b->n * h->geo.page));
	iopgt_sync(h->dom, &g);
	atomic_store(&b->done, 1);
	return NULL;
}

static void worker_bound_case(const struct tcfg *c)
{
	struct talloc ta;
	struct iopgt_gather g;
	struct iopgt_stats st;
	struct bound_run b;
	struct hold h;
	pthread_t th;
	struct timespec ts = { 0, 20 * 1000 * 1000 };

	memset(&b, 0, sizeof(b));
	hold_domain(c, &h, &ta);
	b.h = &h;
	b.n = BOUND_PAGES + 4;
	/* Leaf tables of their own, in the span of level-2 entries from the
	 * second on, so that the table above them stays. */
	b.base = h.geo.sz2;
	if (b.n * h.geo.page > (UINT64_C(64) << 20) ||
	    b.base + (b.n + 1) * h.geo.sz1 > h.geo.space) {
		iopgt_domain_destroy(h.dom);
		talloc_fini(&ta);
		return;
	}
	iopgt_gather_init(&g, sizeof(g));
	for (uint64_t k = 0; k <= b.n; k++)
		assert_int_equal(iopgt_map(h.dom, b.base + h.geo.sz1 * k,
					   pa_of(&h.geo, h.geo.sz1 * k),
					   h.geo.page, IOPGT_PROT_READ, &g),
				 0);
	iopgt_sync(h.dom, &g);
	iopgt__set_yield_hook(h.dom, hold_worker, &h);
	assert_int_equal(pthread_create(&th, NULL, retire_many, &b), 0);
	pthread_mutex_lock(&h.mu);
	while (!h.at)
		pthread_cond_wait(&h.cv, &h.mu);
	pthread_mutex_unlock(&h.mu);
	/* The sync has queued its pages and woken the worker, held now. */
	for (;;) {
		iopgt_get_stats(h.dom, &st, sizeof(st));
		if (st.reclaim_waits || atomic_load(&b.done))
			break;
		nanosleep(&ts, NULL);
	}
	nanosleep(&ts, NULL);
	assert_int_equal(atomic_load(&b.done), 0); /* still waiting */
	assert_int_equal(st.reclaim_waits, 1);
	assert_true(st.table_pages_waiting >= b.n);
	pthread_mutex_lock(&h.mu);
	h.release = 1;
	pthread_cond_broadcast(&h.cv);
	pthread_mutex_unlock(&h.mu);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(atomic_load(&b.done), 1);
	iopgt_get_stats(h.dom, &st, sizeof(st));
	assert_true(st.table_pages_waiting <= BOUND_PAGES);
	assert_int_equal(iopgt_reclaim(h.dom), 0);
	iopgt__set_yield_hook(h.dom, NULL, NULL);
	iopgt_get_stats(h.dom, &st, sizeof(st));
	assert_int_equal(st.table_pages_waiting, 0);
	assert_true(st.freed_by_worker >= b.n);
	assert_int_equal(iopgt_unmap(h.dom, b.base + h.geo.sz1 * b.n,
				     h.geo.page, &g),
			 (int64_t)h.geo.page);
	iopgt_sync(h.dom, &g);
	iopgt_domain_destroy(h.dom);
	assert_int_equal(ta.live_bytes, 0);
	talloc_fini(&ta);
	pthread_mutex_destroy(&h.mu);
	pthread_cond_destroy(&h.cv);
}

static void test_worker_bound(void **state)
{
	(void)state;
	if (tsan_skipped(cli_strategy_find("worker")))
		skip();
	if (IOPGT_DEBUG < 1) {
		fprintf(stderr, "test_reclaim: worker bound skipped: no yield "
				"hooks (IOPGT_DEBUG=0)\n");
		skip();
	}
	for (size_t i = 0; i < n_tcfgs; i++)
		worker_bound_case(&tcfgs[i]);
}

/* A configuration the strategy cannot take is refused. */
static void test_strategy_config(void **state)
{
	struct iopgt_config cfg;
	struct iopgt_domain *dom;
	struct iopgt_info info;
	unsigned ns;
	const struct cli_strategy *ss = cli_strategies(&ns);

	(void)state;
	tcfg_config(&tcfgs[0], &cfg);
	cfg.strategy = IOPGT_STRATEGY_RCU; /* no flavor */
	assert_int_equal(iopgt_domain_create(&cfg, &dom), -EINVAL);
	cfg.strategy = 77;
	assert_int_equal(iopgt_domain_create(&cfg, &dom), -EINVAL);
	cfg.strategy = IOPGT_STRATEGY_EPOCH;
	cfg.rcu_max_pending = 5; /* RCU's alone */
	assert_int_equal(iopgt_domain_create(&cfg, &dom), -EINVAL);
	cfg.rcu_max_pending = 0;
	cfg.rcu_flavor = cli_strategy_find("rcu-memb")->flavor;
	assert_int_equal(iopgt_domain_create(&cfg, &dom), -EINVAL);
	for (unsigned si = 0; si < ns; si++) {
		tcfg_config(&tcfgs[0], &cfg);
		cli_strategy_apply(&ss[si], &cfg);
		assert_int_equal(iopgt_domain_create(&cfg, &dom), 0);
		assert_int_equal(iopgt_domain_info(dom, &info, sizeof(info)),
				 0);
		assert_int_equal(info.strategy, ss[si].strategy);
		iopgt_domain_destroy(dom);
	}
	assert_string_equal(iopgt_strategy_name(IOPGT_STRATEGY_RCU), "rcu");
	assert_string_equal(iopgt_strategy_name(IOPGT_STRATEGY_AFTER_FLUSH),
			    "after-flush");
	assert_string_equal(iopgt_strategy_name((enum iopgt_strategy)9),
			    "unknown");
}

/* ------------------------------------------------------------------------
 * Rule 4: unmapping everything leaves the root alone
 */

/* Map and unmap at random (splits and coalescing included), then unmap
 * everything piece by piece. Returns the table pages beyond the root that
 * are still held (in the tree, waiting or cached) after a reclaim; also
 * checks that the allocator agrees with the library. */
static uint64_t rule4_extra_pages(const struct tcfg *c, unsigned options,
				  unsigned table_cache)
{
	struct talloc ta;
	struct iopgt_config cfg;
	struct iopgt_domain *dom;
	struct iopgt_gather g;
	struct iopgt_stats st;
	struct geo geo;
	uint64_t root_bytes, region, rng = g_seed ^ 0x4u, extra;
	const unsigned rw = IOPGT_PROT_READ | IOPGT_PROT_WRITE;

	talloc_init(&ta);
	tcfg_config(c, &cfg);
	cfg.options = options;
	cfg.table_cache = table_cache;
	talloc_ops(&ta, &cfg.mem);
	assert_int_equal(iopgt_domain_create(&cfg, &dom), 0);
	root_bytes = ta.live_bytes;
	geo_of(dom, &geo);
	iopgt_gather_init(&g, sizeof(g));
	region = geo.sz1 * 6 < geo.space ? geo.sz1 * 6 : geo.space;

	for (int i = 0; i < 80; i++) {
		uint64_t r = trand(&rng);
		uint64_t iova = (trand(&rng) % (region / geo.page)) * geo.page;
		uint64_t size;

		switch (r % 3) {
		case 0:
			size = (1 + trand(&rng) % (geo.n0 + 8)) * geo.page;
			break;
		case 1:
			iova &= ~(geo.sz1 - 1);
			size = geo.sz1;
			break;
		default:
			size = (1 + trand(&rng) % 16) * geo.page;
			if (iova + size > region)
				size = region - iova;
			assert_true(iopgt_unmap(dom, iova, size, &g) >= 0);
			iopgt_sync(dom, &g);
			continue;
		}
		if (iova + size > region)
			size = region - iova;
		(void)iopgt_map(dom, iova, pa_of(&geo, iova), size, rw, &g);
		iopgt_sync(dom, &g);
	}
	/* Some pages far away too, so upper levels fill and empty. */
	assert_int_equal(iopgt_map(dom, geo.space - geo.page,
				   pa_of(&geo, geo.space - geo.page), geo.page,
				   rw, &g),
			 0);
	iopgt_sync(dom, &g);
	assert_int_equal(tcheck_counts(dom), 0);

	/* Unmap in pieces that do not line up with any table. */
	for (uint64_t iova = 0; iova < region;) {
		uint64_t size = (1 + trand(&rng) % (3 * geo.n0)) * geo.page;
		if (size > region - iova)
			size = region - iova;
		assert_true(iopgt_unmap(dom, iova, size, &g) >= 0);
		iopgt_sync(dom, &g);
		iova += size;
	}
	assert_int_equal(iopgt_unmap(dom, geo.space - geo.page, geo.page, &g),
			 (int64_t)geo.page);
	iopgt_sync(dom, &g);
	assert_int_equal(tcheck_counts(dom), 0);
	iopgt_reclaim(dom);

	iopgt_get_stats(dom, &st, sizeof(st));
	assert_int_equal(st.table_pages_waiting, 0);
	assert_int_equal(st.table_pages_cached, 0);
	assert_int_equal(ta.live_bytes, theld_bytes(dom));
	assert_true(st.table_pages_live >= 1);
	extra = st.table_pages_live - 1;
	if (!extra)
		assert_int_equal(ta.live_bytes, root_bytes);
	else
		assert_true(ta.live_bytes > root_bytes);
	iopgt_domain_destroy(dom);
	assert_int_equal(ta.live_bytes, 0);
	assert_int_equal(ta.meta_allocs, ta.meta_frees);
	talloc_fini(&ta);
	return extra;
}

static void test_unmap_all_leaves_root(void **state)
{
	(void)state;
	for (size_t i = 0; i < n_tcfgs; i++) {
		assert_int_equal(rule4_extra_pages(&tcfgs[i], 0, 0), 0);
		/* With the table cache the reclaim empties it too. */
		assert_int_equal(rule4_extra_pages(&tcfgs[i], 0, 8), 0);
	}
}

/* The same checker sees kept tables when reclaim is switched off. */
static void test_neg_no_reclaim_keeps_tables(void **state)
{
	(void)state;
	for (size_t i = 0; i < n_tcfgs; i++)
		assert_true(rule4_extra_pages(&tcfgs[i], IOPGT_OPT_NO_RECLAIM,
					      0) > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flush_before_free),
		cmocka_unit_test(test_neg_free_before_flush),
		cmocka_unit_test(test_neg_skip_flush),
		cmocka_unit_test(test_neg_leaf_only_flush),
		cmocka_unit_test(test_walker_grace),
		cmocka_unit_test(test_neg_ignore_walkers),
		cmocka_unit_test(test_rcu_batches),
		cmocka_unit_test(test_worker_handover),
		cmocka_unit_test(test_worker_bound),
		cmocka_unit_test(test_strategy_config),
		cmocka_unit_test(test_unmap_all_leaves_root),
		cmocka_unit_test(test_neg_no_reclaim_keeps_tables),
	};

	g_seed = tseed(0x5eed2a11);
	fprintf(stderr, "test_reclaim: seed 0x%" PRIx64 " (%s to replay)\n",
		g_seed, TSEED_ENV);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
