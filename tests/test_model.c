/* SPDX-License-Identifier: MIT */
/*
 * Randomized test of map, unmap and lookup against a reference model, for
 * every format configuration and with the default options, NO_RECLAIM and
 * NO_COALESCE.
 *
 * The model is a sorted array of disjoint mapped ranges (iova, size, pa,
 * prot), one entry per successful map call, cut by unmaps; it is never
 * merged. What the library must match:
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
 * (operations per configuration and variant), IOPGT_TEST_CFG (run only the
 * configurations whose name contains this string).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define DEFAULT_SEED UINT64_C(0x10b97a5eed)
#define DEFAULT_ITERS 1500
#define FULL_EVERY 100 /* operations between full comparisons */
#define COUNT_EVERY 1  /* operations between recounts of every table */

/* ------------------------------------------------------------------------
 * The reference model: a sorted array of disjoint ranges.
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
 * One run: one configuration, one set of options.
 */

struct run {
	const struct tcfg *c;
	const char *variant;
	unsigned options;
	uint64_t base_seed, seed, rng;
	long op;          /* index of the current operation */
	char desc[192];   /* the current operation */
	char hist[8][192]; /* the operations before it */

	struct talloc ta;
	struct iopgt_domain *dom;
	struct iopgt_gather g;
	struct model m;

	uint64_t sizes[8];
	unsigned nsizes;
	uint64_t gran, s1, top; /* smallest, second and largest leaf */
	uint64_t win_base[2], win_size;
	uint64_t ias_end, oas_end; /* 2^ias, 2^oas */
	unsigned prots[16], nprots;
	unsigned batch, pending; /* ops per sync, ops not yet synced */

	/* what was exercised */
	unsigned long maps, eexist, unmaps, remaps, lookups, fulls;
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
	fprintf(stderr, "\nFAILED test_model.c:%d: %s\n  ", line, what);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	if (R) {
		fprintf(stderr,
			"  config %s, variant %s, base seed 0x%" PRIx64
			", config seed 0x%" PRIx64 "\n"
			"  replay: IOPGT_SEED=0x%" PRIx64
			" IOPGT_TEST_CFG=%s test_model\n"
			"  operation #%ld: %s\n  operations before it:\n",
			R->c->name, R->variant, R->base_seed, R->seed,
			R->base_seed, R->c->name, R->op, R->desc);
		for (int i = 7; i >= 0; i--)
			if (R->hist[i][0])
				fprintf(stderr, "    op #%ld: %s\n",
					R->op - 1 - i, R->hist[i]);
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
	memcpy(R->hist[0], R->desc, sizeof(R->desc));
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

/* A leaf [iova, iova + size) -> pa with prot must lie in mapped model ranges
 * with one pa offset and one prot; with NO_COALESCE in a single range. */
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
		if (R->options & IOPGT_OPT_NO_COALESCE)
			CHECK(r->iova <= iova && mend(r) >= end,
			      "%s: NO_COALESCE, but leaf iova 0x%" PRIx64
			      " size 0x%" PRIx64 " is not inside one map's range "
			      "[0x%" PRIx64 ", +0x%" PRIx64 ")", where, iova,
			      size, r->iova, r->size);
		x = mend(r);
	}
}

/* Look x up and compare with the model; returns the leaf size (0 if
 * unmapped). */
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
	CHECK(tr.dirty == 0, "%s: lookup 0x%" PRIx64 " dirty without any "
	      "device access", where, x);
	CHECK(is_leaf_size(R, tr.leaf_size), "%s: lookup 0x%" PRIx64
	      " leaf size 0x%" PRIx64, where, x, tr.leaf_size);
	check_leaf(R, x & ~(tr.leaf_size - 1), tr.leaf_size,
		   tr.pa - (x & (tr.leaf_size - 1)), tr.prot, where);
	return tr.leaf_size;
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

	CHECK(!l->dirty, "dump: leaf at 0x%" PRIx64 " dirty", l->iova);
	check_leaf(w->R, l->iova, l->size, l->pa, l->prot, "dump");
	w->bytes += l->size;
	w->leaves++;
	return 0;
}

static void check_cheap(struct run *R)
{
	struct iopgt_stats st;

	/* Recounting every table is the most expensive check here: every
	 * few operations is enough to place a miscount. */
	if (R->op % COUNT_EVERY == 0)
		CHECK_EQ(tcheck_counts(R->dom), 0,
			 "tables whose count is wrong");
	iopgt_get_stats(R->dom, &st);
	CHECK_EQ(st.table_pages_live, R->ta.table_allocs - R->ta.table_frees,
		 "table_pages_live against the allocator");
}

static void check_full(struct run *R)
{
	struct leaf_walk w = { R, 0, 0 };
	uint64_t sum = 0;
	unsigned empty;

	R->fulls++;
	/* The model itself: sorted, disjoint, bytes add up. */
	for (size_t i = 0; i < R->m.n; i++) {
		const struct mrange *r = &R->m.r[i];
		CHECK(r->size && (i == 0 || mend(&R->m.r[i - 1]) <= r->iova),
		      "model corrupt at %zu", i);
		sum += r->size;
	}
	CHECK_EQ(sum, R->m.bytes, "model bytes");
	/* Model -> domain. */
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
	/* Domain -> model: every leaf is in the model, and they add up. */
	tfor_each_leaf(R->dom, walk_leaf, &w);
	CHECK_EQ(w.bytes, R->m.bytes, "bytes mapped by the leaves in the "
		 "tables against the model");
	tcount_tables(R->dom, &empty);
	if (!(R->options & IOPGT_OPT_NO_RECLAIM))
		CHECK_EQ(empty, 0, "empty tables left in the tree");
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
	R->batch = chance(R, 75) ? 1 : 2 + (unsigned)below(R, 3);
}

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
	 * small, mostly, so the dumps stay quick. */
	if (k >= 90 && (size <= 4 * R->s1 || chance(R, 10)))
		return below(R, lim / R->gran) * R->gran;
	if (k >= 75) /* congruent up to the second size only */
		return below(R, lim / top) * top + (iova & (R->s1 - 1)) +
		       (top > R->s1 ? R->s1 : 0);
	return below(R, lim / top) * top + (iova & (top - 1));
}

/* After a successful map of [iova, iova + size) -> pa, check a few points
 * of the range: model match, and the leaf at least as large as the range
 * allows there (exactly that with NO_COALESCE). */
static void check_new_range(struct run *R, uint64_t iova, uint64_t size,
			    uint64_t pa)
{
	for (int i = 0; i < 8; i++) {
		uint64_t x = i == 0 ? iova
			   : i == 1 ? iova + size - 1
				    : iova + below(R, size);
		uint64_t want = best_leaf(R, x, iova, size, pa);
		uint64_t got = check_lookup(R, x, "after map");

		if (R->options & IOPGT_OPT_NO_COALESCE)
			CHECK(got == want, "after map: leaf at 0x%" PRIx64
			      " is 0x%" PRIx64 ", the range allows exactly 0x%"
			      PRIx64, x, got, want);
		else
			CHECK(got >= want, "after map: leaf at 0x%" PRIx64
			      " is 0x%" PRIx64 ", the range allows 0x%" PRIx64,
			      x, got, want);
	}
}

static void do_map(struct run *R, uint64_t iova, uint64_t size, uint64_t pa,
		   unsigned prot)
{
	bool ov = model_overlaps(&R->m, iova, size);
	char *before = NULL;
	int ret;

	begin_op(R, "map iova 0x%" PRIx64 " size 0x%" PRIx64 " pa 0x%" PRIx64
		 " prot 0x%x (model: %s)", iova, size, pa, prot,
		 ov ? "overlap" : "free");
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
			if (strcmp(before, after)) {
				tdump_diff(stderr, before, after);
				report(__LINE__, "dump unchanged",
				       "map failed with -EEXIST but the tables "
				       "changed (see the difference above)");
			}
			free(after);
			free(before);
		}
		check_lookup(R, iova, "after failed map (first byte)");
		check_lookup(R, iova + size - 1, "after failed map (last)");
		for (int i = 0; i < 4; i++)
			check_lookup(R, iova + below(R, size),
				     "after failed map");
	} else {
		struct mrange nr = { iova, size, pa, prot };
		CHECK_EQ(ret, 0, "map into a free range");
		model_insert(&R->m, &nr);
		check_new_range(R, iova, size, pa);
	}
	maybe_sync(R);
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

static void do_unmap(struct run *R, uint64_t iova, uint64_t size,
		     const char *why)
{
	uint64_t expect;
	int64_t ret;

	begin_op(R, "unmap iova 0x%" PRIx64 " size 0x%" PRIx64 " (%s)", iova,
		 size, why);
	expect = model_remove(&R->m, iova, size);
	ret = iopgt_unmap(R->dom, iova, size, &R->g);
	R->unmaps++;
	R->unmapped += expect;
	CHECK_EQ(ret, expect, "bytes unmapped");
	check_lookup(R, iova, "after unmap (first byte)");
	check_lookup(R, iova + size - 1, "after unmap (last byte)");
	check_lookup(R, iova + below(R, size), "after unmap");
	if (iova)
		check_lookup(R, iova - 1, "after unmap (byte before)");
	if (iova + size < R->ias_end)
		check_lookup(R, iova + size, "after unmap (byte after)");
	maybe_sync(R);
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

static void op_lookup(struct run *R)
{
	const struct mrange *r = random_range(R);
	uint64_t x;

	if (r && chance(R, 60))
		x = r->iova + below(R, r->size);
	else
		x = R->win_base[below(R, 2)] + below(R, R->win_size);
	begin_op(R, "lookup 0x%" PRIx64, x);
	check_lookup(R, x, "lookup");
}

/* Unmap part of a range and map it back as it was: with coalescing, the
 * leaf comes back at least as large as before. */
static void op_remap(struct run *R)
{
	const struct mrange *r = random_range(R);
	struct mrange piece;
	uint64_t g = R->gran, off, before, after;
	int ret;

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
		 " pa 0x%" PRIx64 " prot 0x%x", piece.iova, piece.size,
		 piece.pa, piece.prot);
	ret = iopgt_map(R->dom, piece.iova, piece.pa, piece.size, piece.prot,
			&R->g);
	CHECK_EQ(ret, 0, "map back the hole");
	model_insert(&R->m, &piece);
	R->remaps++;
	after = check_lookup(R, piece.iova, "remap, after");
	if (R->options & IOPGT_OPT_NO_COALESCE)
		CHECK_EQ(after, best_leaf(R, piece.iova, piece.iova,
					  piece.size, piece.pa),
			 "leaf size after remap without coalescing");
	else
		CHECK(after >= before, "leaf at 0x%" PRIx64 " was 0x%" PRIx64
		      " before the hole was unmapped and mapped back as it "
		      "was, and is 0x%" PRIx64 ": not coalesced", piece.iova,
		      before, after);
	maybe_sync(R);
}

/* ------------------------------------------------------------------------
 * The driver
 */

static long env_long(const char *name, long dflt)
{
	const char *s = getenv(name);
	return s && *s ? strtol(s, NULL, 0) : dflt;
}

static void setup_run(struct run *R)
{
	struct iopgt_config cfg;
	uint64_t w;

	talloc_init(&R->ta);
	tcfg_config(R->c, &cfg);
	cfg.options = R->options;
	talloc_ops(&R->ta, &cfg.mem);
	CHECK_EQ(iopgt_domain_create(&cfg, &R->dom), 0, "domain create");
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

static void finish_run(struct run *R)
{
	struct iopgt_stats st;
	unsigned empty, tables;

	/* Unmap everything. */
	for (int w = 0; w < 2; w++)
		do_unmap(R, R->win_base[w], R->win_size, "final, whole window");
	CHECK_EQ(R->m.n, 0, "model ranges left");
	iopgt_sync(R->dom, &R->g);
	check_full(R);
	iopgt_reclaim(R->dom);
	iopgt_get_stats(R->dom, &st);
	tables = tcount_tables(R->dom, &empty);
	if (R->options & IOPGT_OPT_NO_RECLAIM)
		CHECK_EQ(st.table_pages_live, tables,
			 "tables live after unmapping everything (NO_RECLAIM: "
			 "the tables in the tree)");
	else
		CHECK_EQ(st.table_pages_live, 1,
			 "tables live after unmapping everything");
	CHECK_EQ(st.table_pages_cached, 0, "cached tables after reclaim");
	CHECK_EQ(st.table_pages_waiting, 0, "waiting tables after reclaim");

	CHECK_EQ(tcheck_counts(R->dom), 0, "tables whose count is wrong");
	print_message("  %-18s %-11s seed 0x%016" PRIx64 ": %lu maps (%lu "
		      "-EEXIST), %lu unmaps (%" PRIu64 " MiB), %lu remaps, "
		      "%lu lookups, %lu full compares, %" PRIu64 " split, %"
		      PRIu64 " coalesced, peak %" PRIu64 " tables\n",
		      R->c->name, R->variant, R->seed, R->maps, R->eexist,
		      R->unmaps, R->unmapped >> 20, R->remaps, R->lookups,
		      R->fulls, st.split, st.coalesced, st.table_pages_peak);
	/* The workload did exercise what it is meant to. */
	if (R->op >= 500) {
		CHECK(R->eexist > 0, "no map collided");
		CHECK(st.split > 0, "no superpage was split");
		if (!(R->options & IOPGT_OPT_NO_COALESCE))
			CHECK(st.coalesced > 0, "nothing was coalesced");
		else
			CHECK_EQ(st.coalesced, 0, "coalesced with NO_COALESCE");
	}

	iopgt_domain_destroy(R->dom);
	R->dom = NULL;
	CHECK_EQ(R->ta.table_allocs, R->ta.table_frees, "table pages leaked");
	CHECK_EQ(R->ta.meta_allocs, R->ta.meta_frees, "descriptors leaked");
	CHECK_EQ(R->ta.live_bytes, 0, "table bytes leaked");
	talloc_fini(&R->ta);
	free(R->m.r);
}

static void run_one(const struct tcfg *c, size_t ci, unsigned options,
		    const char *variant, unsigned vi)
{
	struct run *R = calloc(1, sizeof(*R));
	long iters = env_long("IOPGT_TEST_ITERS", DEFAULT_ITERS);
	uint64_t s;

	assert_non_null(R);
	cur_run = R;
	R->c = c;
	R->options = options;
	R->variant = variant;
	R->base_seed = tseed(DEFAULT_SEED);
	s = R->base_seed ^ (UINT64_C(0x9e3779b97f4a7c15) * (ci + 1)) ^
	    ((uint64_t)vi << 56);
	R->seed = trand(&s);
	R->rng = R->seed;
	setup_run(R);

	for (R->op = 0; R->op < iters; R->op++) {
		unsigned k = (unsigned)below(R, 100);
		/* Keep the windows from filling up: unmap more when full. */
		bool full = R->m.bytes > R->win_size / 2;

		if (k < (full ? 30u : 45u))
			op_map(R);
		else if (k < 75)
			op_unmap(R);
		else if (k < 93)
			op_lookup(R);
		else
			op_remap(R);
		check_cheap(R);
		if (R->op % FULL_EVERY == FULL_EVERY - 1)
			check_full(R);
	}
	finish_run(R);
	cur_run = NULL;
	free(R);
}

static void run_variant(unsigned options, const char *variant, unsigned vi)
{
	const char *only = getenv("IOPGT_TEST_CFG");

	print_message("base seed 0x%" PRIx64 " (set IOPGT_SEED to replay)\n",
		      tseed(DEFAULT_SEED));
	for (size_t i = 0; i < n_tcfgs; i++) {
		if (only && *only && !strstr(tcfgs[i].name, only))
			continue;
		run_one(&tcfgs[i], i, options, variant, vi);
	}
}

static void test_model_default(void **state)
{
	(void)state;
	run_variant(0, "default", 0);
}

static void test_model_no_reclaim(void **state)
{
	(void)state;
	run_variant(IOPGT_OPT_NO_RECLAIM, "no_reclaim", 1);
}

static void test_model_no_coalesce(void **state)
{
	(void)state;
	run_variant(IOPGT_OPT_NO_COALESCE, "no_coalesce", 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_model_default),
		cmocka_unit_test(test_model_no_reclaim),
		cmocka_unit_test(test_model_no_coalesce),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
