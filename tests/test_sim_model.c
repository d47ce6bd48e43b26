/* SPDX-License-Identifier: MIT */
/*
 * The randomized reference-model test of the core library (test_model.c),
 * run again with the simulated IOMMU attached (sim/, docs/sim.md), for
 * every format configuration.
 *
 * The domain's tables live in the simulator's memory and its flushes go to
 * the simulator's caches; the table cache is off, so every reclaimed table
 * goes back to the arena and a late walk of it is caught. Device threads
 * translate random IOVAs of the mapped ranges (and of their neighbours)
 * from start to end, while the test thread maps and unmaps at random:
 * single pages, runs, superpage-aligned ranges, ranges that split
 * superpages, neighbours that continue another range's output addresses
 * (so tables fill up and coalesce), holes punched and mapped back; mostly
 * one operation per sync, sometimes a batch of several.
 *
 * Two models are kept:
 *   - the simulator's: every map and unmap is announced before the call
 *     (model_begin_map / model_begin_unmap) and completed after the sync
 *     that flushed it (model_end, or model_cancel for a map that failed).
 *     The simulator checks every translation of every device against it,
 *     and every table read against the page states: no violation may be
 *     found;
 *   - the test's own (as test_model.c): map returns -EEXIST exactly when
 *     it overlaps, unmap returns exactly the bytes mapped, lookup agrees;
 *     and when no operation is pending, a translation by the test thread
 *     agrees with lookup and the model (PA, leaf size, protection, faults).
 *
 * At the end of each configuration the devices must have done real work
 * (translations, IOTLB hits, walks started from the paging-structure
 * cache, WALK invalidations), everything is unmapped, and the arena holds
 * the root alone.
 *
 * The negative run drives the same workload on a domain whose syncs issue
 * no flush (PT_HOOK_SKIP_FLUSH): the devices must see violations, which
 * shows that the concurrent checker is live.
 *
 * Environment: IOPGT_SEED (base seed, printed on failure), IOPGT_TEST_ITERS
 * (operations per configuration), IOPGT_TEST_CFG (run only configurations
 * whose name contains this string), IOPGT_SIM_DEVICES (device threads,
 * default 2).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "iopgt_sim.h"
#include "testhook.h"

#define DEFAULT_SEED UINT64_C(0x5111de0b5eed)
#define DEFAULT_ITERS 4000
#define DEFAULT_DEVICES 2
#define FULL_EVERY 150   /* operations between full comparisons */
#define COUNT_EVERY 8    /* operations between recounts of every table */
#define MAX_PENDING 6    /* operations per sync, at most */
#define XLATE_POINTS 4   /* test-thread translations after each sync */
/* Device translations each configuration must see while the driver runs,
 * per device thread. */
#define MIN_DEV_TRANSLATIONS 500

/* ------------------------------------------------------------------------
 * The test's own model: a sorted array of disjoint mapped ranges.
 */

struct mrange {
	uint64_t iova, size, pa;
	unsigned prot;
};

struct model {
	struct mrange *r;
	size_t n, cap;
	uint64_t bytes;
};

static uint64_t mend(const struct mrange *r)
{
	return r->iova + r->size;
}

/* Index of the first range that ends after iova (n if none). */
static size_t model_lower(const struct model *m, uint64_t iova)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (mend(&m->r[mid]) <= iova)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static const struct mrange *model_find(const struct model *m, uint64_t iova)
{
	size_t i = model_lower(m, iova);

	return i < m->n && m->r[i].iova <= iova ? &m->r[i] : NULL;
}

static bool model_overlaps(const struct model *m, uint64_t iova,
			   uint64_t size)
{
	size_t i = model_lower(m, iova);

	return i < m->n && m->r[i].iova < iova + size;
}

static void model_insert(struct model *m, const struct mrange *nr)
{
	size_t i = model_lower(m, nr->iova);

	assert_false(model_overlaps(m, nr->iova, nr->size));
	if (m->n == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 256;
		m->r = realloc(m->r, m->cap * sizeof(*m->r));
		assert_non_null(m->r);
	}
	memmove(&m->r[i + 1], &m->r[i], (m->n - i) * sizeof(*m->r));
	m->r[i] = *nr;
	m->n++;
	m->bytes += nr->size;
}

static void model_delete(struct model *m, size_t i)
{
	m->bytes -= m->r[i].size;
	memmove(&m->r[i], &m->r[i + 1], (m->n - i - 1) * sizeof(*m->r));
	m->n--;
}

/* Remove [iova, iova + size); returns the bytes that were mapped in it. */
static uint64_t model_remove(struct model *m, uint64_t iova, uint64_t size)
{
	uint64_t end = iova + size, removed = 0;
	size_t i;

	while ((i = model_lower(m, iova)) < m->n && m->r[i].iova < end) {
		struct mrange r = m->r[i];
		uint64_t lo = r.iova > iova ? r.iova : iova;
		uint64_t hi = mend(&r) < end ? mend(&r) : end;

		removed += hi - lo;
		model_delete(m, i);
		if (r.iova < iova) {
			struct mrange left = { r.iova, iova - r.iova, r.pa,
					       r.prot };
			model_insert(m, &left);
		}
		if (mend(&r) > end) {
			struct mrange right = { end, mend(&r) - end,
						r.pa + (end - r.iova), r.prot };
			model_insert(m, &right);
		}
	}
	return removed;
}

/* ------------------------------------------------------------------------
 * One run: one configuration on one simulator.
 */

/* An operation called but not yet synced. */
struct pend {
	uint64_t iova, size;
	bool failed; /* a map that returned an error: cancel, not end */
};

struct run {
	const struct tcfg *c;
	const char *variant;
	bool broken;      /* PT_HOOK_SKIP_FLUSH: violations expected */
	bool caching;     /* caching mode in the simulator and the domain */
	unsigned quarantine;
	unsigned ndev;
	uint64_t base_seed, seed, rng;
	long op;           /* index of the current operation */
	char desc[192];    /* the current step */
	long desc_op;      /* the operation it belongs to */
	char hist[8][192]; /* the steps before it */
	long hist_op[8];

	struct iopgt_sim *sim;
	struct iopgt_domain *dom;
	struct iopgt_gather g;
	struct model m;
	struct pend pend[MAX_PENDING];
	unsigned npend, batch;

	uint64_t sizes[8];
	unsigned nsizes;
	uint64_t gran, s1, top; /* smallest, second and largest leaf */
	uint64_t win_base[2], win_size;
	uint64_t ias_end, oas_end; /* 2^ias, 2^oas */
	unsigned prots[32], nprots;

	/* what was exercised */
	unsigned long maps, eexist, unmaps, remaps, lookups, fulls;
	unsigned long syncs, batches, cancels, early_syncs;
	unsigned long xlates, xlates_exact;
	uint64_t unmapped;
};

static struct run *cur_run; /* for the failure report */

static void report(int line, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void report(int line, const char *what, const char *fmt, ...)
{
	struct run *R = cur_run;
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "\nFAILED test_sim_model.c:%d: %s\n  ", line, what);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	if (R) {
		fprintf(stderr,
			"  config %s, variant %s, base seed 0x%" PRIx64
			", config seed 0x%" PRIx64 ", %u device threads\n"
			"  replay: IOPGT_SEED=0x%" PRIx64
			" IOPGT_TEST_CFG=%s test_sim_model\n"
			"  operation #%ld: %s\n  steps before it:\n",
			R->c->name, R->variant, R->base_seed, R->seed,
			R->ndev, R->base_seed, R->c->name, R->op, R->desc);
		for (int i = 7; i >= 0; i--)
			if (R->hist[i][0])
				fprintf(stderr, "    op #%ld: %s\n",
					R->hist_op[i], R->hist[i]);
		if (R->sim && iopgt_sim_violations(R->sim))
			iopgt_sim_print_violations(R->sim, stderr);
	}
	_fail(__FILE__, line);
}

#define CHECK(cond, ...)                                                    \
	do {                                                                \
		if (!(cond))                                                \
			report(__LINE__, #cond, __VA_ARGS__);               \
	} while (0)

#define CHECK_EQ(a, b, what)                                                \
	do {                                                                \
		int64_t a_ = (int64_t)(a), b_ = (int64_t)(b);               \
		if (a_ != b_)                                               \
			report(__LINE__, #a " == " #b,                      \
			       "%s: got %" PRId64 " (0x%" PRIx64              \
			       "), expected %" PRId64 " (0x%" PRIx64 ")",     \
			       what, a_, (uint64_t)a_, b_, (uint64_t)b_);     \
	} while (0)

static uint64_t rnd(struct run *R)
{
	return trand(&R->rng);
}

static uint64_t below(struct run *R, uint64_t n)
{
	return n ? rnd(R) % n : 0;
}

static bool chance(struct run *R, unsigned pct)
{
	return below(R, 100) < pct;
}

static void begin_op(struct run *R, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void begin_op(struct run *R, const char *fmt, ...)
{
	va_list ap;

	memmove(R->hist[1], R->hist[0], sizeof(R->hist) - sizeof(R->hist[0]));
	memmove(R->hist_op + 1, R->hist_op,
		sizeof(R->hist_op) - sizeof(R->hist_op[0]));
	memcpy(R->hist[0], R->desc, sizeof(R->desc));
	R->hist_op[0] = R->desc_op;
	R->desc_op = R->op;
	va_start(ap, fmt);
	vsnprintf(R->desc, sizeof(R->desc), fmt, ap);
	va_end(ap);
}

static bool is_leaf_size(const struct run *R, uint64_t sz)
{
	for (unsigned i = 0; i < R->nsizes; i++)
		if (R->sizes[i] == sz)
			return true;
	return false;
}

/* The largest leaf size whose aligned block around x lies in
 * [iova, iova + size) with pa congruent to iova modulo that size. */
static uint64_t best_leaf(const struct run *R, uint64_t x, uint64_t iova,
			  uint64_t size, uint64_t pa)
{
	for (unsigned i = R->nsizes; i-- > 0;) {
		uint64_t s = R->sizes[i], b = x & ~(s - 1);
		if (((pa ^ iova) & (s - 1)) == 0 && b >= iova &&
		    b + s <= iova + size)
			return s;
	}
	return 0; /* not reached: the smallest size always fits */
}

/* A leaf [iova, iova + size) -> pa with prot must lie in mapped model
 * ranges with one pa offset and one prot. */
static void check_leaf(struct run *R, uint64_t iova, uint64_t size,
		       uint64_t pa, unsigned prot, const char *where)
{
	uint64_t x = iova, end = iova + size;

	CHECK(is_leaf_size(R, size), "%s: leaf size 0x%" PRIx64
	      " is not a leaf size of the domain", where, size);
	CHECK(!(iova & (size - 1)) && !(pa & (size - 1)),
	      "%s: leaf iova 0x%" PRIx64 " pa 0x%" PRIx64
	      " not aligned to its size 0x%" PRIx64, where, iova, pa, size);
	while (x < end) {
		const struct mrange *r = model_find(&R->m, x);

		CHECK(r != NULL, "%s: leaf iova 0x%" PRIx64 " size 0x%" PRIx64
		      " covers 0x%" PRIx64 ", which the model has unmapped",
		      where, iova, size, x);
		CHECK(r->pa + (x - r->iova) == pa + (x - iova),
		      "%s: leaf iova 0x%" PRIx64 " size 0x%" PRIx64 " pa 0x%"
		      PRIx64 " gives 0x%" PRIx64 " -> 0x%" PRIx64
		      ", model range [0x%" PRIx64 ", +0x%" PRIx64 ") -> 0x%"
		      PRIx64 " gives 0x%" PRIx64, where, iova, size, pa, x,
		      pa + (x - iova), r->iova, r->size, r->pa,
		      r->pa + (x - r->iova));
		CHECK(r->prot == prot, "%s: leaf iova 0x%" PRIx64
		      " size 0x%" PRIx64 " prot 0x%x, model range at 0x%" PRIx64
		      " prot 0x%x", where, iova, size, prot, r->iova, r->prot);
		x = mend(r);
	}
}

/* Look x up and compare with the model; returns the leaf size (0 if
 * unmapped). The devices may have set the dirty bit: not checked. */
static uint64_t check_lookup(struct run *R, uint64_t x, const char *where)
{
	const struct mrange *r = model_find(&R->m, x);
	struct iopgt_translation tr;
	int ret;

	memset(&tr, 0xcc, sizeof(tr));
	ret = iopgt_lookup(R->dom, x, &tr);
	R->lookups++;
	if (!r) {
		CHECK(ret == -ENOENT, "%s: lookup 0x%" PRIx64 " returned %d "
		      "(pa 0x%" PRIx64 " leaf 0x%" PRIx64 "), the model has it "
		      "unmapped", where, x, ret, tr.pa, tr.leaf_size);
		return 0;
	}
	CHECK(ret == 0, "%s: lookup 0x%" PRIx64 " returned %d, the model has "
	      "it in [0x%" PRIx64 ", +0x%" PRIx64 ") -> 0x%" PRIx64, where, x,
	      ret, r->iova, r->size, r->pa);
	CHECK(tr.pa == r->pa + (x - r->iova), "%s: lookup 0x%" PRIx64
	      " gave pa 0x%" PRIx64 ", model 0x%" PRIx64, where, x, tr.pa,
	      r->pa + (x - r->iova));
	CHECK(tr.prot == r->prot, "%s: lookup 0x%" PRIx64 " gave prot 0x%x, "
	      "model 0x%x", where, x, tr.prot, r->prot);
	CHECK(is_leaf_size(R, tr.leaf_size), "%s: lookup 0x%" PRIx64
	      " leaf size 0x%" PRIx64, where, x, tr.leaf_size);
	check_leaf(R, x & ~(tr.leaf_size - 1), tr.leaf_size,
		   tr.pa - (x & (tr.leaf_size - 1)), tr.prot, where);
	return tr.leaf_size;
}

static bool prot_allows(unsigned prot, enum iopgt_sim_access a)
{
	return a == IOPGT_SIM_WRITE ? (prot & IOPGT_PROT_WRITE) != 0
				    : (prot & IOPGT_PROT_READ) != 0;
}

/* Translate x from the test thread, as a device would. The simulator
 * checks the result against its model in any case; with no operation
 * pending (nothing in transition) the result must also be exactly what
 * lookup and the test's model say. */
static void check_xlate(struct run *R, uint64_t x, const char *where)
{
	enum iopgt_sim_access a = chance(R, 40) ? IOPGT_SIM_WRITE
						: IOPGT_SIM_READ;
	const char *an = a == IOPGT_SIM_WRITE ? "write" : "read";
	const struct mrange *r = model_find(&R->m, x);
	struct iopgt_translation tr;
	struct iopgt_sim_result res;
	int lrc, src;

	lrc = iopgt_lookup(R->dom, x, &tr);
	src = iopgt_sim_translate(R->sim, x, a, &res);
	R->xlates++;
	if (R->broken || R->npend)
		return;
	R->xlates_exact++;
	if (!r) {
		CHECK(lrc == -ENOENT, "%s: lookup 0x%" PRIx64 " returned %d, "
		      "the model has it unmapped", where, x, lrc);
		CHECK(src == -EFAULT && res.fault == IOPGT_SIM_FAULT_NOT_PRESENT,
		      "%s: %s of 0x%" PRIx64 " returned %d fault %s (pa 0x%"
		      PRIx64 " leaf 0x%" PRIx64 " %s), expected a not-present "
		      "fault", where, an, x, src,
		      iopgt_sim_fault_name(res.fault), res.pa, res.leaf_size,
		      res.iotlb_hit ? "from the IOTLB" : "by a walk");
		return;
	}
	CHECK(lrc == 0, "%s: lookup 0x%" PRIx64 " returned %d, the model has "
	      "it mapped", where, x, lrc);
	if (!prot_allows(r->prot, a)) {
		CHECK(src == -EFAULT && res.fault == IOPGT_SIM_FAULT_PERMISSION,
		      "%s: %s of 0x%" PRIx64 " (prot 0x%x) returned %d fault "
		      "%s, expected a permission fault", where, an, x, r->prot,
		      src, iopgt_sim_fault_name(res.fault));
		return;
	}
	CHECK(src == 0, "%s: %s of 0x%" PRIx64 " returned %d fault %s (level "
	      "%u), the model has it mapped to 0x%" PRIx64 " prot 0x%x", where,
	      an, x, src, iopgt_sim_fault_name(res.fault), res.level,
	      r->pa + (x - r->iova), r->prot);
	CHECK(res.pa == tr.pa && res.pa == r->pa + (x - r->iova),
	      "%s: %s of 0x%" PRIx64 " gave pa 0x%" PRIx64 " (%s), lookup 0x%"
	      PRIx64 ", model 0x%" PRIx64, where, an, x, res.pa,
	      res.iotlb_hit ? "IOTLB" : "walk", tr.pa, r->pa + (x - r->iova));
	CHECK(res.prot == tr.prot && res.prot == r->prot,
	      "%s: %s of 0x%" PRIx64 " gave prot 0x%x, lookup 0x%x, model 0x%x",
	      where, an, x, res.prot, tr.prot, r->prot);
	CHECK(res.leaf_size == tr.leaf_size,
	      "%s: %s of 0x%" PRIx64 " gave leaf 0x%" PRIx64 " (%s), lookup "
	      "0x%" PRIx64, where, an, x, res.leaf_size,
	      res.iotlb_hit ? "IOTLB" : "walk", tr.leaf_size);
}

/* ------------------------------------------------------------------------
 * Whole-domain checks
 */

struct leaf_walk {
	struct run *R;
	uint64_t bytes;
	unsigned long leaves;
};

static int walk_leaf(void *arg, const struct tleaf *l)
{
	struct leaf_walk *w = arg;

	check_leaf(w->R, l->iova, l->size, l->pa, l->prot, "dump");
	w->bytes += l->size;
	w->leaves++;
	return 0;
}

static void check_cheap(struct run *R)
{
	if (R->op % COUNT_EVERY == 0)
		CHECK_EQ(tcheck_counts(R->dom), 0,
			 "tables whose count is wrong");
}

static void check_full(struct run *R)
{
	struct leaf_walk w = { R, 0, 0 };
	unsigned empty;

	R->fulls++;
	for (size_t i = 0; i < R->m.n; i++) {
		const struct mrange *r = &R->m.r[i];
		check_lookup(R, r->iova, "full compare (first byte)");
		check_lookup(R, mend(r) - 1, "full compare (last byte)");
		check_lookup(R, r->iova + r->size / 2, "full compare (middle)");
		if (r->iova)
			check_lookup(R, r->iova - 1,
				     "full compare (byte before)");
		if (mend(r) < R->ias_end)
			check_lookup(R, mend(r), "full compare (byte after)");
	}
	/* The dump reads entries atomically: the devices may set
	 * accessed/dirty bits meanwhile. */
	tfor_each_leaf(R->dom, walk_leaf, &w);
	CHECK_EQ(w.bytes, R->m.bytes, "bytes mapped by the leaves in the "
		 "tables against the model");
	tcount_tables(R->dom, &empty);
	CHECK_EQ(empty, 0, "empty tables left in the tree");
	CHECK_EQ(tcheck_counts(R->dom), 0, "tables whose count is wrong");
}

/* ------------------------------------------------------------------------
 * Announce, call, sync, complete
 */

static bool pend_overlaps(const struct run *R, uint64_t iova, uint64_t size)
{
	for (unsigned i = 0; i < R->npend; i++)
		if (R->pend[i].iova < iova + size &&
		    iova < R->pend[i].iova + R->pend[i].size)
			return true;
	return false;
}

/* Sync the batch, then complete its operations in the simulator's model,
 * newest first: a range that a later operation of the batch touched takes
 * that operation's state, and a failed map (which never overlaps an
 * earlier pending operation, see announce) falls back to the state before
 * it only where no later operation changed it. */
static void sync_batch(struct run *R)
{
	if (!R->npend)
		return;
	iopgt_sync(R->dom, &R->g);
	R->syncs++;
	if (R->npend > 1)
		R->batches++;
	CHECK(R->g.nr_tables == 0 && R->g.tables == NULL &&
	      R->g.kind == IOPGT_FLUSH_NONE,
	      "sync left %lu tables / kind %d in the gather", R->g.nr_tables,
	      (int)R->g.kind);
	for (unsigned i = R->npend; i-- > 0;) {
		const struct pend *p = &R->pend[i];
		int rc = p->failed
				 ? iopgt_sim_model_cancel(R->sim, p->iova, p->size)
				 : iopgt_sim_model_end(R->sim, p->iova, p->size);

		CHECK_EQ(rc, 0, "completing an operation in the sim's model");
	}
	R->npend = 0;
	/* Mostly one operation per sync; sometimes a batch of up to six. */
	R->batch = chance(R, 70) ? 1 : 2 + (unsigned)below(R, MAX_PENDING - 1);
	/* A violation is reported at the operation that let it happen (or
	 * shortly after: the devices find it when they next touch it). */
	if (!R->broken)
		CHECK_EQ(iopgt_sim_violations(R->sim), 0,
			 "violations found by the simulator");
}

static void maybe_sync(struct run *R)
{
	if (R->npend >= R->batch)
		sync_batch(R);
}

/* Before an operation on [iova, iova + size) that will fail (if fail):
 * a failed map is cancelled, which puts its range back to the state before
 * its first pending announcement. So it must not share a batch with an
 * earlier pending operation on its range: sync those first. */
static void announce(struct run *R, uint64_t iova, uint64_t size, bool fail)
{
	if (R->npend == MAX_PENDING || (fail && pend_overlaps(R, iova, size))) {
		if (R->npend)
			R->early_syncs++;
		sync_batch(R);
	}
}

static void pend_push(struct run *R, uint64_t iova, uint64_t size,
		      bool failed)
{
	R->pend[R->npend].iova = iova;
	R->pend[R->npend].size = size;
	R->pend[R->npend].failed = failed;
	R->npend++;
	if (failed)
		R->cancels++;
}

/* After a sync: a few test-thread translations of the range. */
static void xlate_range(struct run *R, uint64_t iova, uint64_t size,
			const char *where)
{
	if (R->npend)
		return;
	check_xlate(R, iova, where);
	check_xlate(R, iova + size - 1, where);
	for (int i = 2; i < XLATE_POINTS; i++)
		check_xlate(R, iova + below(R, size), where);
	if (iova)
		check_xlate(R, iova - 1, where);
	if (iova + size < R->ias_end)
		check_xlate(R, iova + size, where);
}

/* ------------------------------------------------------------------------
 * Random operations
 */

static uint64_t gen_size(struct run *R)
{
	uint64_t g = R->gran, s1 = R->s1, top = R->top, sz;
	unsigned k = (unsigned)below(R, 100);

	if (k < 25)
		sz = g;                                   /* one page */
	else if (k < 45)
		sz = g * (2 + below(R, 1100));            /* a run of pages */
	else if (k < 65)
		sz = s1 * (1 + below(R, 3));              /* superpages */
	else if (k < 75)                                  /* like 1G + 6M */
		sz = top + (top > s1 ? 3 * s1 : s1) +
		     (chance(R, 50) ? 0 : g * (1 + below(R, 7)));
	else if (k < 90)
		sz = g * (1 + below(R, 2 * s1 / g));      /* anything */
	else
		sz = top * (1 + below(R, 2));             /* top-level leaves */
	if (sz > R->win_size / 2)
		sz = R->win_size / 2;
	return sz;
}

/* A random iova for size bytes in one of the windows. */
static uint64_t gen_iova(struct run *R, uint64_t size)
{
	uint64_t g = R->gran, align, base = R->win_base[below(R, 2)], off;
	unsigned k = (unsigned)below(R, 100);
	uint64_t skew = 0;

	if (k < 40)
		align = g;
	else if (k < 70)
		align = R->s1;
	else if (k < 85)
		align = R->top;
	else {
		align = R->s1; /* a few pages off a superpage boundary */
		skew = g * (1 + below(R, 4));
	}
	off = below(R, (R->win_size - size) / align + 1) * align + skew;
	if (off + size > R->win_size)
		off -= skew;
	return base + off;
}

static int which_window(const struct run *R, uint64_t iova)
{
	for (int w = 0; w < 2; w++)
		if (iova >= R->win_base[w] &&
		    iova - R->win_base[w] < R->win_size)
			return w;
	return -1;
}

static bool in_window(const struct run *R, uint64_t iova, uint64_t size,
		      int w)
{
	return w >= 0 && iova >= R->win_base[w] &&
	       iova - R->win_base[w] <= R->win_size - size &&
	       size <= R->win_size;
}

static const struct mrange *random_range(struct run *R)
{
	return R->m.n ? &R->m.r[below(R, R->m.n)] : NULL;
}

static uint64_t gen_pa(struct run *R, uint64_t iova, uint64_t size)
{
	uint64_t top = R->top, lim = R->oas_end - size - top;
	unsigned k = (unsigned)below(R, 100);

	/* Not congruent: every leaf is a smallest page. Keep those ranges
	 * small, mostly. */
	if (k >= 90 && (size <= 4 * R->s1 || chance(R, 10)))
		return below(R, lim / R->gran) * R->gran;
	if (k >= 75) /* congruent up to the second size only */
		return below(R, lim / top) * top + (iova & (R->s1 - 1)) +
		       (top > R->s1 ? R->s1 : 0);
	return below(R, lim / top) * top + (iova & (top - 1));
}

static void do_map(struct run *R, uint64_t iova, uint64_t size, uint64_t pa,
		   unsigned prot)
{
	bool ov = model_overlaps(&R->m, iova, size);
	int ret, rc;

	begin_op(R, "map iova 0x%" PRIx64 " size 0x%" PRIx64 " pa 0x%" PRIx64
		 " prot 0x%x (model: %s, %u pending)", iova, size, pa, prot,
		 ov ? "overlap" : "free", R->npend);
	announce(R, iova, size, ov);
	rc = iopgt_sim_model_begin_map(R->sim, iova, size, pa, prot);
	CHECK_EQ(rc, 0, "model_begin_map");
	ret = iopgt_map(R->dom, iova, pa, size, prot, &R->g);
	R->maps++;
	pend_push(R, iova, size, ret != 0);
	if (ov) {
		R->eexist++;
		CHECK_EQ(ret, -EEXIST, "map over a mapped range");
		check_lookup(R, iova, "after failed map (first byte)");
		check_lookup(R, iova + size - 1, "after failed map (last)");
		for (int i = 0; i < 4; i++)
			check_lookup(R, iova + below(R, size),
				     "after failed map");
	} else {
		struct mrange nr = { iova, size, pa, prot };

		CHECK_EQ(ret, 0, "map into a free range");
		model_insert(&R->m, &nr);
		for (int i = 0; i < 6; i++) {
			uint64_t x = i == 0 ? iova
				   : i == 1 ? iova + size - 1
					    : iova + below(R, size);
			uint64_t want = best_leaf(R, x, iova, size, pa);
			uint64_t got = check_lookup(R, x, "after map");

			CHECK(got >= want, "after map: leaf at 0x%" PRIx64
			      " is 0x%" PRIx64 ", the range allows 0x%" PRIx64,
			      x, got, want);
		}
	}
	/* In transition now: the simulator accepts the old or the new
	 * state, and checks it. */
	check_xlate(R, iova + below(R, size), "map, before its sync");
	maybe_sync(R);
	xlate_range(R, iova, size, "after map and sync");
}

static void do_unmap(struct run *R, uint64_t iova, uint64_t size,
		     const char *why)
{
	uint64_t expect;
	int64_t ret;
	int rc;

	begin_op(R, "unmap iova 0x%" PRIx64 " size 0x%" PRIx64 " (%s, %u "
		 "pending)", iova, size, why, R->npend);
	announce(R, iova, size, false);
	rc = iopgt_sim_model_begin_unmap(R->sim, iova, size);
	CHECK_EQ(rc, 0, "model_begin_unmap");
	expect = model_remove(&R->m, iova, size);
	ret = iopgt_unmap(R->dom, iova, size, &R->g);
	R->unmaps++;
	R->unmapped += expect;
	pend_push(R, iova, size, false);
	CHECK_EQ(ret, expect, "bytes unmapped");
	check_lookup(R, iova, "after unmap (first byte)");
	check_lookup(R, iova + size - 1, "after unmap (last byte)");
	check_lookup(R, iova + below(R, size), "after unmap");
	if (iova)
		check_lookup(R, iova - 1, "after unmap (byte before)");
	if (iova + size < R->ias_end)
		check_lookup(R, iova + size, "after unmap (byte after)");
	check_xlate(R, iova + below(R, size), "unmap, before its sync");
	maybe_sync(R);
	xlate_range(R, iova, size, "after unmap and sync");
}

static void op_map(struct run *R)
{
	uint64_t size = gen_size(R), iova = 0, pa;
	unsigned prot = R->prots[below(R, R->nprots)];
	const struct mrange *r = chance(R, 45) ? random_range(R) : NULL;
	bool placed = false;

	pa = 0;
	if (r) {
		int w = which_window(R, r->iova);
		unsigned k = (unsigned)below(R, 100);

		if (k < 40) { /* overlapping r */
			iova = r->iova - size +
			       R->gran * (1 + below(R, (size + r->size) /
							     R->gran - 1));
			placed = in_window(R, iova, size, w);
			pa = gen_pa(R, iova, size);
		} else if (k < 75) { /* right after r, often contiguous */
			iova = mend(r);
			placed = in_window(R, iova, size, w);
			if (chance(R, 70)) {
				pa = r->pa + r->size;
				prot = r->prot;
			} else {
				pa = gen_pa(R, iova, size);
			}
		} else { /* right before r, often contiguous */
			iova = r->iova - size;
			placed = in_window(R, iova, size, w) &&
				 r->pa >= size;
			if (chance(R, 70) && r->pa >= size) {
				pa = r->pa - size;
				prot = r->prot;
			} else {
				pa = gen_pa(R, iova, size);
			}
		}
		if (pa + size > R->oas_end)
			placed = false;
	}
	if (!placed) {
		iova = gen_iova(R, size);
		pa = gen_pa(R, iova, size);
	}
	do_map(R, iova, size, pa, prot);
}

static void op_unmap(struct run *R)
{
	const struct mrange *r = random_range(R);
	unsigned k = (unsigned)below(R, 100);
	uint64_t g = R->gran;

	if (r && k < 25) {
		do_unmap(R, r->iova, r->size, "one model range");
	} else if (r && k < 50) {
		uint64_t off = g * below(R, r->size / g);
		uint64_t len = g * (1 + below(R, (r->size - off) / g));
		do_unmap(R, r->iova + off, len, "part of a model range");
	} else if (r && k < 70) {
		int w = which_window(R, r->iova);
		uint64_t lo = r->iova - g * below(R, 8);
		uint64_t hi = mend(r) + g * below(R, 8) + R->s1 * below(R, 2);

		if (in_window(R, lo, hi - lo, w))
			do_unmap(R, lo, hi - lo, "around a model range");
		else
			do_unmap(R, r->iova, r->size, "one model range");
	} else if (k < 98) {
		uint64_t size = gen_size(R);
		do_unmap(R, gen_iova(R, size), size, "random");
	} else {
		unsigned w = (unsigned)below(R, 2);
		do_unmap(R, R->win_base[w], R->win_size, "a whole window");
	}
}

/* Lookups and test-thread translations of random points. */
static void op_probe(struct run *R)
{
	for (int i = 0; i < 4; i++) {
		const struct mrange *r = random_range(R);
		uint64_t x;

		if (r && chance(R, 70))
			x = r->iova + below(R, r->size);
		else
			x = R->win_base[below(R, 2)] + below(R, R->win_size);
		begin_op(R, "probe 0x%" PRIx64 " (%u pending)", x, R->npend);
		check_lookup(R, x, "probe");
		check_xlate(R, x, "probe");
	}
}

/* Unmap part of a range and map it back as it was: with coalescing, the
 * leaf comes back at least as large as before. */
static void op_remap(struct run *R)
{
	const struct mrange *r = random_range(R);
	struct mrange piece;
	uint64_t g = R->gran, off, before, after;
	int ret, rc;

	if (!r || r->size < 2 * g)
		return;
	off = g * below(R, r->size / g);
	piece.iova = r->iova + off;
	piece.size = g * (1 + below(R, (r->size - off) / g));
	if (chance(R, 50) && piece.size > R->s1) /* mostly small holes */
		piece.size = g * (1 + below(R, R->s1 / g));
	if (piece.size > r->size - off)
		piece.size = r->size - off;
	piece.pa = r->pa + off;
	piece.prot = r->prot;
	begin_op(R, "remap: lookup 0x%" PRIx64, piece.iova);
	before = check_lookup(R, piece.iova, "remap, before");
	do_unmap(R, piece.iova, piece.size, "remap, hole");
	begin_op(R, "remap: map iova 0x%" PRIx64 " size 0x%" PRIx64
		 " pa 0x%" PRIx64 " prot 0x%x (%u pending)", piece.iova,
		 piece.size, piece.pa, piece.prot, R->npend);
	announce(R, piece.iova, piece.size, false);
	rc = iopgt_sim_model_begin_map(R->sim, piece.iova, piece.size,
				       piece.pa, piece.prot);
	CHECK_EQ(rc, 0, "model_begin_map");
	ret = iopgt_map(R->dom, piece.iova, piece.pa, piece.size, piece.prot,
			&R->g);
	pend_push(R, piece.iova, piece.size, ret != 0);
	CHECK_EQ(ret, 0, "map back the hole");
	model_insert(&R->m, &piece);
	R->remaps++;
	after = check_lookup(R, piece.iova, "remap, after");
	CHECK(after >= before, "leaf at 0x%" PRIx64 " was 0x%" PRIx64
	      " before the hole was unmapped and mapped back as it "
	      "was, and is 0x%" PRIx64 ": not coalesced", piece.iova,
	      before, after);
	maybe_sync(R);
	xlate_range(R, piece.iova, piece.size, "after remap and sync");
}

/* ------------------------------------------------------------------------
 * The driver
 */

static long env_long(const char *name, long dflt)
{
	const char *s = getenv(name);
	return s && *s ? strtol(s, NULL, 0) : dflt;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void setup_run(struct run *R)
{
	struct iopgt_sim_config scfg;
	struct iopgt_config cfg;
	uint64_t w;
	int rc;

	iopgt_sim_config_init(&scfg);
	scfg.arena_size = UINT64_C(256) << 20;
	scfg.quarantine = R->quarantine;
	scfg.caching_mode = R->caching;
	rc = iopgt_sim_create(&scfg, &R->sim);
	CHECK_EQ(rc, 0, "sim create");
	tcfg_config(R->c, &cfg);
	cfg.options = R->caching ? IOPGT_OPT_CACHING_MODE : 0;
	cfg.table_cache = 0; /* every reclaimed table goes to the arena */
	iopgt_sim_mem_ops(R->sim, &cfg.mem);
	iopgt_sim_flush_ops(R->sim, &cfg.flush);
	rc = iopgt_domain_create(&cfg, &R->dom);
	CHECK_EQ(rc, 0, "domain create");
	rc = iopgt_sim_attach(R->sim, R->dom);
	CHECK_EQ(rc, 0, "sim attach");
	if (R->broken)
		iopgt__set_test_hooks(R->dom, PT_HOOK_SKIP_FLUSH);
	iopgt_gather_init(&R->g);
	R->nsizes = tcfg_leaf_sizes(R->dom, R->sizes);
	CHECK(R->nsizes >= 2, "expected superpages in %s", R->c->name);
	R->gran = R->sizes[0];
	R->s1 = R->sizes[1];
	R->top = R->sizes[R->nsizes - 1];
	R->ias_end = UINT64_C(1) << R->c->ias;
	R->oas_end = UINT64_C(1) << R->c->oas;
	/* Two windows where ranges collide often: one across the middle of
	 * the input space (a boundary at every level, and between
	 * concatenated root tables), one at its top. */
	w = UINT64_C(4) << 30;
	if (w > R->ias_end / 4)
		w = R->ias_end / 4;
	R->win_size = w;
	R->win_base[0] = R->ias_end / 2 - w / 2;
	R->win_base[1] = R->ias_end - w;
	/* Every valid protection of the format. */
	R->nprots = 0;
	for (unsigned p = 0; p < 32; p++) {
		bool ok = R->c->format == IOPGT_FMT_X86_64
				  ? (p & IOPGT_PROT_READ)
				  : (p & (IOPGT_PROT_READ | IOPGT_PROT_WRITE)) &&
					    !(p & IOPGT_PROT_USER);
		if (ok)
			R->prots[R->nprots++] = p;
	}
	R->batch = 1;
}

static uint64_t dev_translations(struct run *R)
{
	struct iopgt_sim_stats st;

	iopgt_sim_get_stats(R->sim, &st);
	return st.translations - R->xlates;
}

static void finish_run(struct run *R, double t0, uint64_t dev0)
{
	struct iopgt_sim_stats st;
	struct iopgt_stats ds;
	uint64_t devx, viol;
	double t1;

	begin_op(R, "end of the random operations");
	sync_batch(R);
	devx = dev_translations(R) - dev0;
	iopgt_sim_device_stop(R->sim);
	t1 = now_s();
	iopgt_sim_get_stats(R->sim, &st);
	iopgt_get_stats(R->dom, &ds);
	viol = iopgt_sim_violations(R->sim);
	print_message(
		"  %-17s %-10s seed 0x%016" PRIx64 " %.1fs: %lu maps (%lu "
		"-EEXIST), %lu unmaps (%" PRIu64 " MiB), %lu remaps, %lu syncs "
		"(%lu batched, %lu early), %" PRIu64 " split, %" PRIu64
		" coalesced; devices %u: %" PRIu64 " translations, iotlb %.0f%%, "
		"%" PRIu64 " psc hits, %" PRIu64 " a/d; test thread %lu (%lu "
		"exact); invalidations %" PRIu64 "/%" PRIu64 "/%" PRIu64
		" (added/modified/walk); violations %" PRIu64 "\n",
		R->c->name, R->variant, R->seed, t1 - t0, R->maps, R->eexist,
		R->unmaps, R->unmapped >> 20, R->remaps, R->syncs, R->batches,
		R->early_syncs, ds.split, ds.coalesced, R->ndev, devx,
		100 * st.iotlb_hit_rate, st.psc_hits, st.ad_updates, R->xlates,
		R->xlates_exact, st.invalidations[IOPGT_FLUSH_ADDED],
		st.invalidations[IOPGT_FLUSH_MODIFIED],
		st.invalidations[IOPGT_FLUSH_WALK], viol);
	if (R->broken) {
		for (unsigned k = 0; k < IOPGT_SIM_V_KINDS; k++)
			if (st.violations[k])
				print_message("    %-18s %" PRIu64 "\n",
					      iopgt_sim_violation_name(k),
					      st.violations[k]);
		CHECK(viol > 0, "no violation found although every sync "
		      "skipped its flush: the concurrent checker is not live");
	} else {
		CHECK_EQ(viol, 0, "violations found by the simulator");
	}
	/* The devices did real work while the driver ran. */
	CHECK(devx >= (uint64_t)MIN_DEV_TRANSLATIONS * R->ndev,
	      "only %" PRIu64 " device translations during the run", devx);
	CHECK(st.iotlb_hits > 0, "no IOTLB hit");
	CHECK(st.psc_hits > 0, "no walk started from the paging-structure "
	      "cache");
	CHECK(st.faults[IOPGT_SIM_FAULT_NOT_PRESENT] > 0, "no fault");
	if (!R->broken) {
		CHECK(st.invalidations[IOPGT_FLUSH_WALK] > 0,
		      "no WALK invalidation");
		if (R->caching)
			CHECK(st.invalidations[IOPGT_FLUSH_ADDED] > 0 ||
			      st.invalidations[IOPGT_FLUSH_MODIFIED] > 0,
			      "caching mode, but no invalidation of added "
			      "entries");
	}
	CHECK(R->xlates_exact > 0 || R->broken,
	      "no translation of the test thread was compared");
	if (R->op >= 500) {
		CHECK(R->eexist > 0, "no map collided");
		CHECK(ds.split > 0, "no superpage was split");
		CHECK(ds.coalesced > 0, "nothing was coalesced");
	}
	check_full(R);

	/* Unmap everything; with no device left, the test thread's
	 * translations still go through the checker. */
	for (int w = 0; w < 2; w++)
		do_unmap(R, R->win_base[w], R->win_size, "final, whole window");
	sync_batch(R);
	CHECK_EQ(R->m.n, 0, "model ranges left");
	check_full(R);
	iopgt_reclaim(R->dom);
	iopgt_get_stats(R->dom, &ds);
	iopgt_sim_get_stats(R->sim, &st);
	CHECK_EQ(ds.table_pages_live, 1, "tables live after unmapping "
		 "everything and reclaim");
	CHECK_EQ(ds.table_pages_waiting, 0, "tables waiting after reclaim");
	CHECK_EQ(st.pages_live, 1, "arena blocks live after unmapping "
		 "everything and reclaim (the root alone)");
	if (!R->broken)
		CHECK_EQ(iopgt_sim_violations(R->sim), 0,
			 "violations found by the simulator");

	iopgt_sim_detach(R->sim);
	iopgt_domain_destroy(R->dom);
	R->dom = NULL;
	iopgt_sim_get_stats(R->sim, &st);
	CHECK_EQ(st.pages_live, 0, "arena blocks leaked");
	CHECK_EQ(st.pages_alloc, st.pages_freed, "table pages leaked");
	CHECK_EQ(st.violations[IOPGT_SIM_V_BAD_FREE], 0, "bad table_free");
	iopgt_sim_destroy(R->sim);
	R->sim = NULL;
	free(R->m.r);
}

static void run_one(const struct tcfg *c, size_t ci, bool broken,
		    const char *variant, unsigned vi)
{
	struct run *R = calloc(1, sizeof(*R));
	long iters = env_long("IOPGT_TEST_ITERS", DEFAULT_ITERS);
	long ndev = env_long("IOPGT_SIM_DEVICES", DEFAULT_DEVICES);
	struct iopgt_sim_pattern p;
	uint64_t s, dev0;
	double t0;
	int rc;

	assert_non_null(R);
	cur_run = R;
	R->c = c;
	R->broken = broken;
	R->variant = variant;
	R->ndev = ndev < 1 ? 1 : ndev > 64 ? 64 : (unsigned)ndev;
	R->base_seed = tseed(DEFAULT_SEED);
	s = R->base_seed ^ (UINT64_C(0x9e3779b97f4a7c15) * (ci + 1)) ^
	    ((uint64_t)vi << 56);
	R->seed = trand(&s);
	R->rng = R->seed;
	/* Half the configurations reuse freed table pages at once (the
	 * generation check then catches a stale walk cache), the other
	 * half after a quarantine; every third one caches non-present
	 * results (caching mode, ADDED invalidations). */
	R->quarantine = ci % 2 ? 16 : 0;
	R->caching = ci % 3 == 2;
	setup_run(R);

	memset(&p, 0, sizeof(p));
	p.seed = R->seed ^ UINT64_C(0xde7);
	p.write_pct = 30;
	p.unmapped_pct = 20;
	rc = iopgt_sim_device_start(R->sim, R->ndev, &p);
	CHECK_EQ(rc, 0, "device start");
	t0 = now_s();
	dev0 = dev_translations(R);

	for (R->op = 0; R->op < iters; R->op++) {
		unsigned k = (unsigned)below(R, 100);
		/* Keep the windows from filling up: unmap more when full. */
		bool full = R->m.bytes > R->win_size / 2;

		if (k < (full ? 30u : 45u))
			op_map(R);
		else if (k < 75)
			op_unmap(R);
		else if (k < 93)
			op_probe(R);
		else
			op_remap(R);
		check_cheap(R);
		if (R->op % FULL_EVERY == FULL_EVERY - 1)
			check_full(R);
	}
	finish_run(R, t0, dev0);
	cur_run = NULL;
	free(R);
}

static void test_sim_model(void **state)
{
	const char *only = getenv("IOPGT_TEST_CFG");

	(void)state;
	print_message("base seed 0x%" PRIx64 " (set IOPGT_SEED to replay)\n",
		      tseed(DEFAULT_SEED));
	for (size_t i = 0; i < n_tcfgs; i++) {
		if (only && *only && !strstr(tcfgs[i].name, only))
			continue;
		run_one(&tcfgs[i], i, false,
			i % 3 == 2 ? "caching" : "default", 0);
	}
}

/* The oracle is live: the same workload with every flush skipped must be
 * caught by the devices. */
static void test_sim_model_skip_flush(void **state)
{
	(void)state;
	run_one(&tcfgs[0], 0, true, "skip_flush", 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sim_model),
		cmocka_unit_test(test_sim_model_skip_flush),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
