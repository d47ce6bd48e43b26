/* SPDX-License-Identifier: MIT */
/*
 * Precise gathers: what a sync reports, range by range, against a
 * reference of what each batch changed, for every configuration and
 * gather policy, with and without caching mode.
 *
 *   covered   every page a batch unmapped lies in a MODIFIED or WALK range
 *             whose leaf sizes hold the size the page was mapped at (or
 *             are 0, any); in caching mode every page it mapped lies in an
 *             ADDED range.
 *   exact     no ADDED or MODIFIED range holds a page the batch did not map
 *             or unmap (EARLY and DISJOINT always; MERGE when the batch's
 *             changes fit its ranges); WALK ranges are whole table spans.
 *   hints     WALK ranges name their levels and are never leaf-only.
 *
 * UNION, the policy of earlier versions, is the twin: the exactness check
 * must catch it reporting bytes the batch did not change.
 *
 * IOPGT_SEED replays a run (the seed is printed with each failure);
 * IOPGT_TEST_ITERS sets the batches per configuration;
 * IOPGT_GATHER_DEBUG=1 prints each operation and, on a failure, the
 * ranges and the runs of pages changed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define DEFAULT_SEED 0x9a7e5eedULL
#define UNIT_BATCHES 150
#define MAX_RECS 4096
#define WPAGES 2048 /* pages in the test's window */
/* The runs of cleared entries an unmap reports apart in one table (more
 * are reported with the holes after the last: iopgt.h, EARLY). */
#define RUNS_PER_TABLE 32

struct rec {
	struct iopgt_flush_range r[MAX_RECS];
	unsigned n;
	unsigned calls;
	unsigned max_per_call;
	unsigned ranges_calls; /* flush_range calls (must be 0) */
	unsigned all;
};

static void rec_ranges(void *arg, const struct iopgt_flush_range *r,
		       unsigned nr)
{
	struct rec *x = arg;

	assert_true(nr >= 1);
	x->calls++;
	if (nr > x->max_per_call)
		x->max_per_call = nr;
	for (unsigned i = 0; i < nr; i++) {
		assert_true(x->n < MAX_RECS);
		x->r[x->n++] = r[i];
	}
}

static void rec_range(void *arg, uint64_t iova, uint64_t last,
		      enum iopgt_flush_kind kind)
{
	struct rec *x = arg;

	(void)iova;
	(void)last;
	(void)kind;
	x->ranges_calls++;
}

static void rec_all(void *arg)
{
	((struct rec *)arg)->all++;
}

struct gdom {
	struct iopgt_domain *dom;
	struct iopgt_info info;
	struct rec rec;
	uint64_t s[8];
	unsigned n;
};

/* The table cache of the domains opened, or -1: the configuration's. */
static int g_table_cache = -1;

/* Domain structures from recycle_alloc: the block freed last is given
 * again to the next request of its size, so that a new domain lands at
 * the address of the one destroyed before it. */
static bool g_recycle;
static struct {
	void *p;
	size_t size;
} recycled;

static void *recycle_alloc(void *arg, size_t size)
{
	void *p = recycled.p;

	(void)arg;
	if (p && recycled.size == size) {
		recycled.p = NULL;
		return p;
	}
	return malloc(size);
}

static void recycle_free(void *arg, void *ptr, size_t size)
{
	(void)arg;
	free(recycled.p);
	recycled.p = ptr;
	recycled.size = size;
}

static int gopen_sizes(struct gdom *d, const struct tcfg *c,
		       unsigned options, unsigned policy, bool ranges_cb,
		       bool all_sizes)
{
	struct iopgt_config cfg;
	int r;

	memset(d, 0, sizeof(*d));
	tcfg_config(c, &cfg);
	if (all_sizes)
		cfg.leaf_sizes = 0; /* leaf spans too (AMD v1) */
	if (g_table_cache >= 0)
		cfg.table_cache = (unsigned)g_table_cache;
	cfg.options = options;
	cfg.gather_policy = policy;
	cfg.flush.flush_range = rec_range;
	cfg.flush.flush_all = rec_all;
	cfg.flush.arg = &d->rec;
	if (ranges_cb)
		cfg.flush_ranges = rec_ranges;
	if (g_recycle) {
		cfg.mem.meta_alloc = recycle_alloc;
		cfg.mem.meta_free = recycle_free;
	}
	r = iopgt_domain_create(&cfg, &d->dom);
	if (r)
		return r;
	iopgt_domain_info(d->dom, &d->info, sizeof(d->info));
	d->n = tcfg_leaf_sizes(d->dom, d->s);
	return 0;
}

static int gopen(struct gdom *d, const struct tcfg *c, unsigned options,
		 unsigned policy, bool ranges_cb)
{
	return gopen_sizes(d, c, options, policy, ranges_cb, false);
}

static void gclose(struct gdom *d)
{
	iopgt_domain_destroy(d->dom);
}

/* Whether size is the size of one entry of a level (not a leaf of
 * several entries). */
static bool item_size(const struct gdom *d, uint64_t size)
{
	for (unsigned i = 0; i < d->n; i++)
		if (d->s[i] == size)
			return true;
	return false;
}

/* The span of a table whose entries are at level l. */
static uint64_t table_span(const struct gdom *d, unsigned l)
{
	unsigned b = d->info.granule + (d->info.granule - 3) * (l + 1);

	return b >= 64 ? 0 : UINT64_C(1) << b;
}

/* ---- the randomized check ---- */

enum { P_NONE = 0, P_MAPPED = 1, P_UNMAPPED = 2 };

struct world {
	struct gdom d;
	uint64_t base;          /* the window's first IOVA */
	uint64_t ps;            /* its page size (the granule) */
	uint64_t sp;            /* a superpage size, if the domain has one */
	bool mapped[WPAGES];
	uint64_t leaf[WPAGES];  /* the leaf size each mapped page had */
	uint8_t changed[WPAGES]; /* this batch: P_MAPPED / P_UNMAPPED */
	uint64_t seed;
	const char *cname;
	unsigned policy, options;
	uint64_t excess;        /* bytes reported beyond what changed */
	uint64_t checked;       /* batches whose exactness was checked */
	uint64_t walks;         /* WALK ranges seen */
	uint64_t walk_empty;    /* of them, over empty tables */
};

static uint64_t page_iova(const struct world *w, unsigned p)
{
	return w->base + (uint64_t)p * w->ps;
}

static bool in_range(const struct iopgt_flush_range *r, uint64_t a)
{
	return r->iova <= a && a <= r->last;
}

/* What r's commands invalidate of the leaves: r, but one page at
 * walk_iova for a WALK over empty tables (iopgt_inval_encode does so). */
static struct iopgt_flush_range eff(const struct gdom *d,
				    const struct iopgt_flush_range *r)
{
	struct iopgt_flush_range e = *r;

	if (r->flags & IOPGT_RANGE_WALK_EMPTY) {
		e.iova = r->walk_iova;
		e.last = r->walk_iova + (d->s[0] - 1);
		e.flags = IOPGT_RANGE_ANY_SIZE;
		e.leaf_sizes = 0;
	}
	return e;
}

/* Map a run of pages [p, p + n) if all are free; a superpage if sp and
 * the run is one. */
static void op_map(struct world *w, struct iopgt_gather *g, unsigned p,
		   unsigned n)
{
	uint64_t iova = page_iova(w, p);

	for (unsigned i = 0; i < n; i++)
		if (w->mapped[p + i] || w->changed[p + i])
			return; /* a page changed twice: keep batches simple */
	if (getenv("IOPGT_GATHER_DEBUG"))
		fprintf(stderr, "map %u +%u\n", p, n);
	EQ(iopgt_map(w->d.dom, iova, iova, (uint64_t)n * w->ps, RW, g), 0);
	for (unsigned i = 0; i < n; i++) {
		struct iopgt_translation tr;

		EQ(iopgt_lookup(w->d.dom, page_iova(w, p + i), &tr), 0);
		w->mapped[p + i] = true;
		w->leaf[p + i] = tr.leaf_size;
		w->changed[p + i] = P_MAPPED;
	}
}

static void op_unmap(struct world *w, struct iopgt_gather *g, unsigned p,
		     unsigned n)
{
	uint64_t bytes = 0;

	for (unsigned i = 0; i < n; i++)
		if (w->changed[p + i])
			return;
	for (unsigned i = 0; i < n; i++)
		bytes += w->mapped[p + i] ? w->ps : 0;
	EQ(iopgt_unmap(w->d.dom, page_iova(w, p), (uint64_t)n * w->ps, g),
	   bytes);
	for (unsigned i = 0; i < n; i++) {
		if (!w->mapped[p + i])
			continue;
		w->mapped[p + i] = false;
		w->changed[p + i] = P_UNMAPPED;
	}
}

/* Maximal runs of pages changed the same way. */
static unsigned change_runs(const struct world *w)
{
	unsigned runs = 0;

	for (unsigned p = 0; p < WPAGES; p++)
		if (w->changed[p] &&
		    (!p || w->changed[p - 1] != w->changed[p]))
			runs++;
	return runs;
}

static void check_batch(struct world *w, unsigned cap)
{
	const struct rec *x = &w->d.rec;
	const bool caching = w->options & IOPGT_OPT_CACHING_MODE;
	unsigned walks = 0;
	bool exact;

	EXPECT(x->max_per_call <= cap);
	EQ(x->ranges_calls, 0);
	for (unsigned i = 0; i < x->n; i++) {
		const struct iopgt_flush_range *r = &x->r[i];

		EXPECT(r->iova <= r->last);
		EXPECT(r->kind >= IOPGT_FLUSH_ADDED &&
		       r->kind <= IOPGT_FLUSH_WALK);
		EQ(r->reserved[0], 0);
		/* One range: the clears inside a table's WALK join it. */
		if (cap == 1)
			EXPECT(!(r->flags & IOPGT_RANGE_WALK_EMPTY));
		if (r->flags & IOPGT_RANGE_WALK_EMPTY) {
			/* The smallest table: aligned, inside the range,
			 * one of the levels unlinked. */
			EQ(r->kind, IOPGT_FLUSH_WALK);
			EXPECT(r->walk_shift < 64);
			EQ(r->walk_iova &
				   ((UINT64_C(1) << r->walk_shift) - 1),
			   0);
			EXPECT(r->walk_iova >= r->iova &&
			       r->walk_iova +
					       ((UINT64_C(1) << r->walk_shift) -
						1) <=
				       r->last);
			EXPECT(r->walk_shift >= 12);
			w->walk_empty++;
		} else {
			EQ(r->walk_shift, 0);
			EQ(r->walk_iova, 0);
		}
		if (r->kind == IOPGT_FLUSH_WALK) {
			unsigned l = (unsigned)__builtin_ctz(r->walk_levels | 0x100);

			walks++;
			w->walks++;
			EXPECT(r->walk_levels != 0);
			EXPECT(!(r->flags & IOPGT_RANGE_LEAF_ONLY));
			/* Whole spans of the smallest table unlinked, unless
			 * a full MERGE gather merged a MODIFIED range in. */
			if (w->policy != IOPGT_GATHER_MERGE &&
			    w->policy != IOPGT_GATHER_UNION) {
				EQ(r->iova & (table_span(&w->d, l) - 1), 0);
				EQ((r->last + 1) & (table_span(&w->d, l) - 1),
				   0);
			}
		} else {
			EQ(r->walk_levels, 0);
		}
		if (r->kind == IOPGT_FLUSH_ADDED)
			EXPECT(caching);
	}
	/* Covered, with the size each page was mapped at. */
	for (unsigned p = 0; p < WPAGES; p++) {
		uint64_t a = page_iova(w, p);
		bool ok = false;

		if (w->changed[p] == P_UNMAPPED) {
			/* The page's range, and, for the leaf the TLB may
			 * hold it in, a range inside that leaf with its size
			 * (an invalidation anywhere in a leaf drops it). */
			const uint64_t l0 = a & ~(w->leaf[p] - 1);
			bool sized = false;

			for (unsigned i = 0; i < x->n; i++) {
				const struct iopgt_flush_range e =
					eff(&w->d, &x->r[i]);
				const struct iopgt_flush_range *r = &e;

				if (r->kind < IOPGT_FLUSH_MODIFIED)
					continue;
				ok |= in_range(r, a);
				/* The size listed; or a WALK over the whole
				 * leaf; or, for a leaf of several entries
				 * (AMD v1), any size. */
				sized |= r->iova <= l0 + (w->leaf[p] - 1) &&
					 r->last >= l0 &&
					 ((r->leaf_sizes & w->leaf[p]) ||
					  (r->kind == IOPGT_FLUSH_WALK &&
					   r->iova <= l0 &&
					   r->last >= l0 + (w->leaf[p] - 1)) ||
					  ((r->flags & IOPGT_RANGE_ANY_SIZE) &&
					   !item_size(&w->d, w->leaf[p])));
			}
			ok &= sized;
			if (!(ok && sized) && getenv("IOPGT_GATHER_DEBUG"))
				for (unsigned j = 0; j < x->n; j++)
					fprintf(stderr, "  range %#" PRIx64 "-%#" PRIx64
						" kind %u leaf %#" PRIx64 "\n",
						x->r[j].iova, x->r[j].last,
						x->r[j].kind, x->r[j].leaf_sizes);
			CTX("%s policy %u options %#x seed %" PRIu64
			    ": page %#" PRIx64 " unmapped, leaf %#" PRIx64,
			    w->cname, w->policy, w->options, w->seed, a,
			    w->leaf[p]);
			EXPECT(ok);
		} else if (w->changed[p] == P_MAPPED && caching) {
			for (unsigned i = 0; i < x->n && !ok; i++)
				ok = (x->r[i].kind == IOPGT_FLUSH_ADDED ||
				      w->policy == IOPGT_GATHER_UNION) &&
				     in_range(&x->r[i], a);
			CTX("%s policy %u seed %" PRIu64
			    ": page %#" PRIx64 " mapped in caching mode",
			    w->cname, w->policy, w->seed, a);
			EXPECT(ok);
		}
	}
	/* Exact: ADDED and MODIFIED ranges hold changed pages only. A
	 * MERGE gather is exact when the changes fit its ranges. */
	exact = ((w->policy == IOPGT_GATHER_EARLY ||
		  w->policy == IOPGT_GATHER_DISJOINT) &&
		 change_runs(w) <= RUNS_PER_TABLE) ||
		(w->policy == IOPGT_GATHER_MERGE &&
		 change_runs(w) + walks <= IOPGT_GATHER_RANGES);
	for (unsigned i = 0; i < x->n; i++) {
		const struct iopgt_flush_range *r = &x->r[i];
		uint64_t extra = 0;

		if (r->kind == IOPGT_FLUSH_WALK)
			continue;
		if (r->iova < w->base ||
		    r->last > page_iova(w, WPAGES - 1) + w->ps - 1) {
			extra = 1; /* outside the window: nothing changed */
		} else {
			for (uint64_t a = r->iova; a <= r->last; a += w->ps) {
				unsigned p = (unsigned)((a - w->base) / w->ps);

				if (r->kind == IOPGT_FLUSH_ADDED
					    ? w->changed[p] != P_MAPPED
					    : w->changed[p] != P_UNMAPPED)
					extra += w->ps;
			}
		}
		w->excess += extra;
		if (exact && extra) {
			for (unsigned j = 0; j < x->n; j++)
				fprintf(stderr, "  range %#" PRIx64 "-%#" PRIx64
					" kind %u leaf %#" PRIx64 " flags %u\n",
					x->r[j].iova, x->r[j].last,
					x->r[j].kind, x->r[j].leaf_sizes,
					x->r[j].flags);
			for (unsigned p = 0; p < WPAGES; p++)
				if (w->changed[p] &&
				    (!p || w->changed[p - 1] != w->changed[p]))
					fprintf(stderr, "  run from %#" PRIx64
						" %s\n", page_iova(w, p),
						w->changed[p] == P_MAPPED
							? "mapped"
							: "unmapped");
		}
		if (exact) {
			CTX("%s policy %u options %#x seed %" PRIu64
			    ": range %#" PRIx64 "-%#" PRIx64 " kind %u "
			    "holds %" PRIu64 " bytes not changed",
			    w->cname, w->policy, w->options, w->seed, r->iova,
			    r->last, r->kind, extra);
			EQ(extra, 0);
		}
	}
	w->checked += exact;
}

/* After a batch's flushes, what a TLB may hold for a page is its leaf
 * now: a superpage split by the batch was invalidated (its unmapped part
 * with the superpage's size), one coalesced by it was unlinked with a
 * WALK. Look again at the pages of every superpage-sized block the batch
 * changed. */
static void refresh_leaves(struct world *w)
{
	const unsigned per = w->sp ? (unsigned)(w->sp / w->ps) : 1;

	if (!w->sp)
		return;
	for (unsigned b = 0; b < WPAGES; b += per) {
		bool touched = false;

		for (unsigned q = b; q < b + per && !touched; q++)
			touched = w->changed[q] != P_NONE;
		for (unsigned q = b; touched && q < b + per; q++) {
			struct iopgt_translation tr;

			if (!w->mapped[q])
				continue;
			EQ(iopgt_lookup(w->d.dom, page_iova(w, q), &tr), 0);
			w->leaf[q] = tr.leaf_size;
		}
	}
}

/* WALK ranges the policies that keep several ranges reported, and of
 * them those over empty tables. */
static uint64_t walks_multi, walk_empty_multi;

static void run_world(const struct tcfg *c, unsigned policy,
		      unsigned options, bool all_sizes, uint64_t seed,
		      long batches, uint64_t *excess)
{
	struct world *w = calloc(1, sizeof(*w));
	const unsigned cap = policy == IOPGT_GATHER_UNION ||
					     policy == IOPGT_GATHER_DISJOINT
				     ? 1
				     : IOPGT_GATHER_RANGES;
	struct iopgt_gather g;
	uint64_t rs = seed;

	assert_non_null(w);
	w->seed = seed;
	w->cname = c->name;
	w->policy = policy;
	w->options = options;
	/* One gather at a time, synced after each batch: the tables an
	 * unmap empties are reported as such (IOPGT_RANGE_WALK_EMPTY). */
	EQ(gopen_sizes(&w->d, c, options | IOPGT_OPT_ONE_GATHER, policy, true,
		       all_sizes),
	   0);
	w->ps = w->d.s[0];
	w->sp = w->d.n > 1 && w->d.s[1] <= WPAGES / 4 * w->ps ? w->d.s[1] : 0;
	/* A window aligned to four times its size, a table span in. */
	w->base = 4 * WPAGES * w->ps;
	iopgt_gather_init(&g, sizeof(g));
	for (long b = 0; b < batches; b++) {
		unsigned ops = 1 + (unsigned)(trand(&rs) % 6);

		memset(w->changed, 0, sizeof(w->changed));
		w->d.rec.n = 0;
		w->d.rec.calls = 0;
		w->d.rec.max_per_call = 0;
		for (unsigned o = 0; o < ops; o++) {
			uint64_t v = trand(&rs);
			unsigned n = 1 + (unsigned)(v >> 8) % 48;
			unsigned p = (unsigned)(v >> 20) % (WPAGES - n);

			switch (v % 4) {
			case 0:
			case 1:
				op_map(w, &g, p, n);
				break;
			case 2:
				if (w->sp) { /* a superpage, or a run in one */
					unsigned per = (unsigned)(w->sp / w->ps);

					p -= p % per;
					if (v & 0x10)
						n = per;
					if (p + n > WPAGES)
						break;
					op_map(w, &g, p, n);
				}
				break;
			default:
				if (getenv("IOPGT_GATHER_DEBUG"))
					fprintf(stderr, "unmap %u +%u\n", p, n * (v & 0x20 ? 8 : 1));
				op_unmap(w, &g, p, n * (v & 0x20 ? 8 : 1) <
							  WPAGES - p
						    ? n * (v & 0x20 ? 8 : 1)
						    : WPAGES - p);
				break;
			}
		}
		EXPECT(g.nr_ranges <= cap);
		EQ(iopgt_sync(w->d.dom, &g), 0);
		EQ(g.nr_ranges, 0);
		EQ(g.kind, IOPGT_FLUSH_NONE);
		EQ(g.iova, UINT64_MAX);
		check_batch(w, cap);
		refresh_leaves(w);
	}
	/* Empty the window: the last batch's checks, then nothing left. */
	w->d.rec.n = 0;
	*excess += w->excess;
	if (policy != IOPGT_GATHER_UNION)
		EXPECT(w->checked > 0);
	if (policy == IOPGT_GATHER_MERGE || policy == IOPGT_GATHER_EARLY) {
		walks_multi += w->walks;
		walk_empty_multi += w->walk_empty;
	}
	gclose(&w->d);
	free(w);
}

static void test_random(void **state)
{
	const long batches = titers("IOPGT_TEST_ITERS", UNIT_BATCHES);
	const uint64_t base_seed = tseed(DEFAULT_SEED);

	(void)state;
	for (size_t i = 0; i < n_tcfgs; i++) {
		const struct tcfg *c = &tcfgs[i];
		uint64_t union_excess = 0;
		const uint64_t walks0 = walks_multi, empty0 = walk_empty_multi;

		if (!tcfg_wanted(c))
			continue;
		for (unsigned cm = 0; cm < 2; cm++) {
			for (unsigned pol = 0; pol < IOPGT_GATHER_POLICIES;
			     pol++) {
				uint64_t excess = 0;
				uint64_t seed = base_seed + i * 16 + cm * 4 + pol;

				run_world(c, pol,
					  cm ? IOPGT_OPT_CACHING_MODE : 0,
					  false, seed, batches, &excess);
				if (pol == IOPGT_GATHER_UNION)
					union_excess += excess;

			}
		}
		/* Leaves of several entries, where the format has them. */
		if (tcfg_item_sizes(c) != tformat(c->format)->leaf_sizes) {
			uint64_t excess = 0;

			for (unsigned pol = 0; pol < IOPGT_GATHER_POLICIES;
			     pol += 2)
				run_world(c, pol, IOPGT_OPT_CACHING_MODE, true,
					  base_seed + i * 16 + 8 + pol,
					  batches, &excess);
		}
		/* The twin: the union reports what did not change, and the
		 * check above sees it. */
		CTX("%s: the union policy's excess", c->name);
		EXPECT(union_excess > 0);
		/* Tables emptied one by one are reported so by the policies
		 * that keep several ranges (the one-range policies merge them
		 * with the clears inside, and lose it). */
		CTX("%s: %" PRIu64 " of %" PRIu64
		    " WALK ranges over empty tables",
		    c->name, walk_empty_multi - empty0, walks_multi - walks0);
		EXPECT(walks_multi == walks0 || walk_empty_multi > empty0);
	}
}

/* ---- directed cases ---- */

/* Whether rec holds a WALK range over empty tables; *walks: WALK ranges. */
static bool rec_walk_empty(const struct rec *x, unsigned *walks)
{
	bool empty = false;

	*walks = 0;
	for (unsigned i = 0; i < x->n; i++) {
		*walks += x->r[i].kind == IOPGT_FLUSH_WALK;
		empty |= (x->r[i].flags & IOPGT_RANGE_WALK_EMPTY) != 0;
	}
	return empty;
}

/* Two gathers on one table: A clears X and has not synced when B clears
 * Y, the table's last entry, and unlinks it. The IOTLB may still hold X
 * from the table until A syncs, so B's WALK must cover the whole span: no
 * IOPGT_RANGE_WALK_EMPTY without IOPGT_OPT_ONE_GATHER. With it, B's unmap
 * is refused (-EBUSY, nothing done) until A is synced, then B's WALK
 * carries the flag. Also: a sync of another, empty gather while A is open
 * does nothing and succeeds. */
static void test_one_gather(void **state)
{
	(void)state;
	for (size_t i = 0; i < n_tcfgs; i++) {
		const struct tcfg *c = &tcfgs[i];
		struct gdom d;
		struct iopgt_gather a, b, e;
		struct iopgt_translation t;
		uint64_t span0, x, y;
		unsigned walks;

		CTX("%s, two gathers", c->name);
		g_table_cache = 0; /* an emptied table is unlinked at once */
		EQ(gopen(&d, c, 0, IOPGT_GATHER_MERGE, true), 0);
		span0 = table_span(&d, 0);
		x = 2 * span0;
		y = x + d.s[0];
		if (x + 2 * span0 > d.info.iova_last) {
			gclose(&d);
			g_table_cache = -1;
			continue;
		}
		iopgt_gather_init(&a, sizeof(a));
		iopgt_gather_init(&b, sizeof(b));
		iopgt_gather_init(&e, sizeof(e));
		/* A neighbour keeps the tables above in place. */
		EQ(iopgt_map(d.dom, x + span0, x + span0, d.s[0], RW, &a), 0);
		EQ(iopgt_map(d.dom, x, x, 2 * d.s[0], RW, &a), 0);
		EQ(iopgt_sync(d.dom, &a), 0);
		EQ(iopgt_unmap(d.dom, x, d.s[0], &a), (int64_t)d.s[0]);
		EQ(iopgt_unmap(d.dom, y, d.s[0], &b), (int64_t)d.s[0]);
		d.rec.n = 0;
		EQ(iopgt_sync(d.dom, &b), 0);
		EXPECT(!rec_walk_empty(&d.rec, &walks));
		EQ(walks, 1);
		EQ(iopgt_sync(d.dom, &a), 0);
		gclose(&d);

		CTX("%s, IOPGT_OPT_ONE_GATHER", c->name);
		EQ(gopen(&d, c, IOPGT_OPT_ONE_GATHER, IOPGT_GATHER_MERGE, true),
		   0);
		EQ(iopgt_map(d.dom, x + span0, x + span0, d.s[0], RW, &a), 0);
		EQ(iopgt_map(d.dom, x, x, 2 * d.s[0], RW, &a), 0);
		EQ(iopgt_sync(d.dom, &a), 0);
		EQ(iopgt_unmap(d.dom, x, d.s[0], &a), (int64_t)d.s[0]);
		EQ(iopgt_unmap(d.dom, y, d.s[0], &b), -EBUSY);
		EQ(iopgt_map(d.dom, x + 3 * span0, 0, d.s[0], RW, &b), -EBUSY);
		EQ(iopgt_flush_all(d.dom, &b), -EBUSY);
		EQ(iopgt_lookup(d.dom, y, &t), 0); /* nothing done */
		EQ(iopgt_sync(d.dom, &e), 0);       /* empty: nothing to do */
		EQ(iopgt_sync(d.dom, &a), 0);
		d.rec.n = 0;
		EQ(iopgt_unmap(d.dom, y, d.s[0], &b), (int64_t)d.s[0]);
		/* A is closed: using it now waits for B. */
		EQ(iopgt_unmap(d.dom, x + span0, d.s[0], &a), -EBUSY);
		EQ(iopgt_sync(d.dom, &b), 0);
		EXPECT(rec_walk_empty(&d.rec, &walks));
		EQ(walks, 1);
		EQ(iopgt_unmap(d.dom, x + span0, d.s[0], &a), (int64_t)d.s[0]);
		EQ(iopgt_sync(d.dom, &a), 0);
		/* A call that fails leaving its gather empty closes it. */
		EQ(iopgt_unmap(d.dom, x + 1, d.s[0], &e), -EINVAL);
		EQ(iopgt_map(d.dom, x, x, d.s[0], RW, &a), 0);
		EQ(iopgt_sync(d.dom, &a), 0);
		gclose(&d);
		g_table_cache = -1;
	}
}

/* A gather left bound to a destroyed domain (synced, so usable on any
 * domain) and used on a new domain that the allocator put at the same
 * address: it binds to the new domain as to any other. With
 * IOPGT_OPT_ONE_GATHER it is refused while another gather is open (its
 * sync, having nothing to flush, succeeds), and it
 * takes the new domain's policy (two far pages: two ranges under merge,
 * where the old domain's union gave one). */
static void test_gather_reused_address(void **state)
{
	(void)state;
	g_recycle = true;
	for (size_t i = 0; i < n_tcfgs; i++) {
		const struct tcfg *c = &tcfgs[i];
		struct iopgt_domain *old;
		struct iopgt_gather a, b;
		struct gdom d;
		uint64_t span0, x, y;

		CTX("%s", c->name);
		EQ(gopen(&d, c, 0, IOPGT_GATHER_UNION, true), 0);
		span0 = table_span(&d, 0);
		x = 2 * span0;
		y = x + 2 * span0;
		if (y + span0 > d.info.iova_last) {
			gclose(&d);
			continue;
		}
		iopgt_gather_init(&a, sizeof(a));
		iopgt_gather_init(&b, sizeof(b));
		EQ(iopgt_map(d.dom, x, x, d.s[0], RW, &b), 0);
		EQ(iopgt_sync(d.dom, &b), 0);
		old = d.dom;
		gclose(&d);

		EQ(gopen(&d, c, IOPGT_OPT_ONE_GATHER, IOPGT_GATHER_MERGE, true),
		   0);
		EXPECT(d.dom == old); /* the case under test */
		EQ(iopgt_map(d.dom, x, x, d.s[0], RW, &a), 0);
		EQ(iopgt_map(d.dom, y, y, d.s[0], RW, &b), -EBUSY);
		EQ(iopgt_sync(d.dom, &b), 0); /* empty: nothing to do */
		EQ(iopgt_sync(d.dom, &a), 0);
		EQ(iopgt_map(d.dom, y, y, d.s[0], RW, &b), 0);
		EQ(iopgt_sync(d.dom, &b), 0);
		EQ(iopgt_unmap(d.dom, x, d.s[0], &b), (int64_t)d.s[0]);
		EQ(iopgt_unmap(d.dom, y, d.s[0], &b), (int64_t)d.s[0]);
		d.rec.n = 0;
		EQ(iopgt_sync(d.dom, &b), 0);
		EXPECT(d.rec.n >= 2);
		gclose(&d);
	}
	g_recycle = false;
	free(recycled.p);
	recycled.p = NULL;
}

/* Two pages far apart in one batch, in caching mode: two ADDED ranges of
 * one page each (the union asked for the whole span between them); their
 * unmap: MODIFIED pages inside the WALK ranges of the tables unlinked,
 * nothing between. */
static void test_far_pages(void **state)
{
	(void)state;
	for (size_t i = 0; i < n_tcfgs; i++) {
		const struct tcfg *c = &tcfgs[i];
		struct gdom d;
		struct iopgt_gather g;
		uint64_t a, b, total = 0;

		CTX("%s", c->name);
		EQ(gopen(&d, c, IOPGT_OPT_CACHING_MODE, IOPGT_GATHER_MERGE,
			 true),
		   0);
		a = d.s[0];
		b = d.n > 2 ? d.s[2] : table_span(&d, 1);
		if (b > d.info.iova_last / 2) {
			gclose(&d);
			continue;
		}
		iopgt_gather_init(&g, sizeof(g));
		EQ(iopgt_map(d.dom, a, a, d.s[0], RW, &g), 0);
		EQ(iopgt_map(d.dom, b, b, d.s[0], RW, &g), 0);
		EQ(g.nr_ranges, 2);
		EQ(iopgt_sync(d.dom, &g), 0);
		EQ(d.rec.n, 2);
		EQ(d.rec.calls, 1);
		for (unsigned k = 0; k < 2; k++) {
			EQ(d.rec.r[k].kind, IOPGT_FLUSH_ADDED);
			EQ(d.rec.r[k].last - d.rec.r[k].iova + 1, d.s[0]);
			/* A non-present result may be cached at any size, and
			 * a table may have been installed where an empty entry
			 * was cached. */
			EQ(d.rec.r[k].leaf_sizes, 0);
			EQ(d.rec.r[k].flags, IOPGT_RANGE_ANY_SIZE);
		}
		EXPECT(d.rec.r[0].iova == a || d.rec.r[1].iova == a);

		/* Another page beside the first, in its table: still not
		 * leaf-only (another gather may have installed the table). */
		d.rec.n = 0;
		EQ(iopgt_map(d.dom, a + d.s[0], a + d.s[0], d.s[0], RW, &g), 0);
		EQ(iopgt_sync(d.dom, &g), 0);
		EQ(d.rec.n, 1);
		EQ(d.rec.r[0].flags, IOPGT_RANGE_ANY_SIZE);

		d.rec.n = 0;
		EQ(iopgt_unmap(d.dom, a, 2 * d.s[0], &g), 2 * d.s[0]);
		EQ(iopgt_unmap(d.dom, b, d.s[0], &g), d.s[0]);
		EQ(iopgt_sync(d.dom, &g), 0);
		for (unsigned k = 0; k < d.rec.n; k++) {
			const struct iopgt_flush_range *r = &d.rec.r[k];

			EXPECT(in_range(r, a) || in_range(r, b));
			EXPECT(r->kind >= IOPGT_FLUSH_MODIFIED);
			total += r->last - r->iova + 1;
		}
		/* At most the tables' spans, far below the distance. */
		EXPECT(total <= 2 * table_span(&d, d.n > 2 ? 1 : 0));
		gclose(&d);
	}
}

/* A batch that maps and unmaps: the ADDED range stays apart from the
 * MODIFIED one, and each is exact. */
static void test_added_apart(void **state)
{
	(void)state;
	for (size_t i = 0; i < n_tcfgs; i++) {
		const struct tcfg *c = &tcfgs[i];
		struct gdom d;
		struct iopgt_gather g;
		uint64_t p, base;
		bool added = false, modified = false;

		CTX("%s", c->name);
		EQ(gopen(&d, c, IOPGT_OPT_CACHING_MODE, IOPGT_GATHER_MERGE,
			 true),
		   0);
		p = d.s[0];
		base = table_span(&d, 0) * 2;
		iopgt_gather_init(&g, sizeof(g));
		EQ(iopgt_map(d.dom, base, base, 8 * p, RW, &g), 0);
		EQ(iopgt_sync(d.dom, &g), 0);
		d.rec.n = 0;
		EQ(iopgt_unmap(d.dom, base, 2 * p, &g), 2 * p);
		EQ(iopgt_map(d.dom, base + 8 * p, base + 8 * p, p, RW, &g), 0);
		EQ(g.kind, IOPGT_FLUSH_MODIFIED); /* the union's */
		EQ(iopgt_sync(d.dom, &g), 0);
		EQ(d.rec.n, 2);
		for (unsigned k = 0; k < 2; k++) {
			const struct iopgt_flush_range *r = &d.rec.r[k];

			if (r->kind == IOPGT_FLUSH_ADDED) {
				added = true;
				EQ(r->iova, base + 8 * p);
				EQ(r->last, base + 9 * p - 1);
				EQ(r->flags, IOPGT_RANGE_ANY_SIZE);
			} else {
				modified = true;
				EQ(r->kind, IOPGT_FLUSH_MODIFIED);
				EQ(r->iova, base);
				EQ(r->last, base + 2 * p - 1);
				EQ(r->flags, IOPGT_RANGE_LEAF_ONLY);
				EQ(r->leaf_sizes, p);
			}
		}
		EXPECT(added && modified);
		gclose(&d);
	}
}

/* Open d on c for the superpage tests (merging gather, flush_ranges
 * callback): its smallest leaf size in *p and the next in *sp; false, with
 * d closed, when c has one leaf size. */
static bool gopen_split(struct gdom *d, const struct tcfg *c, uint64_t *sp,
			uint64_t *p)
{
	EQ(gopen(d, c, 0, IOPGT_GATHER_MERGE, true), 0);
	if (d->n < 2) {
		gclose(d);
		return false;
	}
	*sp = d->s[1];
	*p = d->s[0];
	return true;
}

/* An unmap inside a superpage splits it: the page's range carries the
 * superpage's size too, which the TLB may hold (an SMMU TTL of the page's
 * level alone would miss it). */
static void test_split_size(void **state)
{
	(void)state;
	for (size_t i = 0; i < n_tcfgs; i++) {
		const struct tcfg *c = &tcfgs[i];
		struct gdom d;
		struct iopgt_gather g;
		uint64_t sp, p;

		CTX("%s", c->name);
		if (!gopen_split(&d, c, &sp, &p))
			continue;
		iopgt_gather_init(&g, sizeof(g));
		EQ(iopgt_map(d.dom, sp, sp, sp, RW, &g), 0);
		EQ(iopgt_sync(d.dom, &g), 0);
		d.rec.n = 0;
		EQ(iopgt_unmap(d.dom, sp + 3 * p, p, &g), p);
		EQ(iopgt_sync(d.dom, &g), 0);
		EQ(d.rec.n, 1);
		EQ(d.rec.r[0].iova, sp + 3 * p);
		EQ(d.rec.r[0].last, sp + 4 * p - 1);
		EQ(d.rec.r[0].kind, IOPGT_FLUSH_MODIFIED);
		EQ(d.rec.r[0].leaf_sizes, sp | p);
		EQ(d.rec.r[0].flags, IOPGT_RANGE_LEAF_ONLY);
		gclose(&d);
	}
}

/* Leaf sizes pending in another gather. A superpage split by one gather
 * may still be cached when another, unmapping another page of it, syncs
 * first: that page's range lists the superpage's size. A table coalesced
 * by one gather may still have its leaves cached when another unmaps the
 * superpage: its range lists their size. */
static void test_stale_sizes(void **state)
{
	(void)state;
	for (size_t i = 0; i < n_tcfgs; i++) {
		const struct tcfg *c = &tcfgs[i];
		struct gdom d;
		struct iopgt_gather ga, gb;
		uint64_t sp, p;

		CTX("%s", c->name);
		if (!gopen_split(&d, c, &sp, &p))
			continue;
		iopgt_gather_init(&ga, sizeof(ga));
		iopgt_gather_init(&gb, sizeof(gb));
		EQ(iopgt_map(d.dom, sp, sp, sp, RW, &ga), 0);
		EQ(iopgt_sync(d.dom, &ga), 0);
		EQ(iopgt_unmap(d.dom, sp, p, &ga), p); /* splits, in ga */
		d.rec.n = 0;
		EQ(iopgt_unmap(d.dom, sp + 8 * p, p, &gb), p);
		EQ(iopgt_sync(d.dom, &gb), 0);
		EQ(d.rec.n, 1);
		EQ(d.rec.r[0].leaf_sizes, sp | p);
		EQ(iopgt_sync(d.dom, &ga), 0);
		EQ(iopgt_unmap(d.dom, sp, sp, &ga), sp - 2 * p);
		EQ(iopgt_sync(d.dom, &ga), 0);

		/* A table filled by ga coalesces; gb unmaps the superpage
		 * before ga syncs. */
		EQ(iopgt_map(d.dom, sp, sp, sp - p, RW, &ga), 0);
		EQ(iopgt_sync(d.dom, &ga), 0);
		EQ(iopgt_map(d.dom, sp + sp - p, sp + sp - p, p, RW, &ga), 0);
		if (ga.nr_tables) { /* coalesced */
			struct iopgt_translation tr;

			EQ(iopgt_lookup(d.dom, sp, &tr), 0);
			EQ(tr.leaf_size, sp);
			d.rec.n = 0;
			EQ(iopgt_unmap(d.dom, sp, sp, &gb), sp);
			EQ(iopgt_sync(d.dom, &gb), 0);
			EXPECT(d.rec.n >= 1);
			EQ(d.rec.r[0].leaf_sizes & (sp | p), sp | p);
		} else {
			EQ(iopgt_unmap(d.dom, sp, sp, &gb), sp);
			EQ(iopgt_sync(d.dom, &gb), 0);
		}
		EQ(iopgt_sync(d.dom, &ga), 0);
		gclose(&d);
	}
}

/* Without flush_ranges, flush_range is called once per range; policies
 * past the last are refused; EARLY flushes from inside the call that
 * fills it. */
static void test_callbacks_policies(void **state)
{
	const struct tcfg *c = &tcfgs[0];
	struct gdom d;
	struct iopgt_gather g;
	uint64_t p;

	(void)state;
	CTX("%s", c->name);
	EQ(gopen(&d, c, 0, IOPGT_GATHER_POLICIES, true), -EINVAL);
	EQ(gopen(&d, c, 0, IOPGT_GATHER_MERGE, false), 0);
	p = d.s[0];
	iopgt_gather_init(&g, sizeof(g));
	for (unsigned k = 0; k < 4; k++)
		EQ(iopgt_map(d.dom, (4 * k + 8) * p, 0, p, RW, &g), 0);
	EQ(iopgt_sync(d.dom, &g), 0);
	for (unsigned k = 0; k < 4; k++)
		EQ(iopgt_unmap(d.dom, (4 * k + 8) * p, p, &g), p);
	EQ(g.nr_ranges, 4);
	EQ(iopgt_sync(d.dom, &g), 0);
	EQ(d.rec.ranges_calls, 4);
	EQ(d.rec.calls, 0);
	{
		struct iopgt_stats st;

		EQ(iopgt_get_stats(d.dom, &st, sizeof(st)), 0);
		EQ(st.flushes[IOPGT_FLUSH_MODIFIED], 4);
	}
	gclose(&d);

	EQ(gopen(&d, c, 0, IOPGT_GATHER_EARLY, true), 0);
	iopgt_gather_init(&g, sizeof(g));
	for (unsigned k = 0; k < IOPGT_GATHER_RANGES + 1; k++)
		EQ(iopgt_map(d.dom, (4 * k + 8) * p, 0, p, RW, &g), 0);
	EQ(iopgt_sync(d.dom, &g), 0);
	for (unsigned k = 0; k < IOPGT_GATHER_RANGES + 1; k++)
		EQ(iopgt_unmap(d.dom, (4 * k + 8) * p, p, &g), p);
	/* The ninth range flushed the eight before it, from the unmap. */
	EQ(d.rec.calls, 1);
	EQ(d.rec.n, IOPGT_GATHER_RANGES);
	EQ(g.nr_ranges, 1);
	EQ(iopgt_sync(d.dom, &g), 0);
	EQ(d.rec.calls, 2);
	EQ(d.rec.n, IOPGT_GATHER_RANGES + 1);
	gclose(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_callbacks_policies),
		cmocka_unit_test(test_one_gather),
		cmocka_unit_test(test_gather_reused_address),
		cmocka_unit_test(test_far_pages),
		cmocka_unit_test(test_added_apart),
		cmocka_unit_test(test_split_size),
		cmocka_unit_test(test_stale_sizes),
		cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
