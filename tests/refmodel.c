/* SPDX-License-Identifier: MIT */
/*
 * The reference model of the randomized tests and their random workload:
 * see refmodel.h.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "refmodel.h"

/* ------------------------------------------------------------------------
 * Failure reports
 */

static void (*context_fn)(FILE *out, void *arg);
static void *context_arg;

void rm_set_context(void (*fn)(FILE *out, void *arg), void *arg)
{
	context_fn = fn;
	context_arg = arg;
}

void rm_report(const char *file, int line, const char *what,
	       const char *fmt, ...)
{
	const char *base = strrchr(file, '/');
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "\nFAILED %s:%d: %s\n  ", base ? base + 1 : file, line,
		what);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	if (context_fn)
		context_fn(stderr, context_arg);
	_fail(file, line);
}

void rm_step(struct rm_log *L, long op, const char *fmt, ...)
{
	va_list ap;

	memmove(L->hist[1], L->hist[0], sizeof(L->hist) - sizeof(L->hist[0]));
	memmove(L->hist_op + 1, L->hist_op,
		sizeof(L->hist_op) - sizeof(L->hist_op[0]));
	memcpy(L->hist[0], L->desc, sizeof(L->desc));
	L->hist_op[0] = L->desc_op;
	L->desc_op = op;
	va_start(ap, fmt);
	vsnprintf(L->desc, sizeof(L->desc), fmt, ap);
	va_end(ap);
}

void rm_log_print(const struct rm_log *L, FILE *out)
{
	fprintf(out, "  operation #%ld: %s\n  steps before it:\n", L->desc_op,
		L->desc);
	for (int i = 7; i >= 0; i--)
		if (L->hist[i][0])
			fprintf(out, "    op #%ld: %s\n", L->hist_op[i],
				L->hist[i]);
}

/* ------------------------------------------------------------------------
 * The model: a sorted array of disjoint ranges.
 */

/* Index of the first range that ends after iova (n if none). */
static size_t rm_lower(const struct rm_model *m, uint64_t iova)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (rm_end(&m->r[mid]) <= iova)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const struct rm_range *rm_find(const struct rm_model *m, uint64_t iova)
{
	size_t i = rm_lower(m, iova);

	return i < m->n && m->r[i].iova <= iova ? &m->r[i] : NULL;
}

bool rm_overlaps(const struct rm_model *m, uint64_t iova, uint64_t size)
{
	size_t i = rm_lower(m, iova);

	return i < m->n && m->r[i].iova < iova + size;
}

void rm_insert(struct rm_model *m, const struct rm_range *nr)
{
	size_t i = rm_lower(m, nr->iova);

	assert_false(rm_overlaps(m, nr->iova, nr->size));
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

static void rm_delete(struct rm_model *m, size_t i)
{
	m->bytes -= m->r[i].size;
	memmove(&m->r[i], &m->r[i + 1], (m->n - i - 1) * sizeof(*m->r));
	m->n--;
}

uint64_t rm_remove(struct rm_model *m, uint64_t iova, uint64_t size)
{
	uint64_t end = iova + size, removed = 0;
	size_t i;

	while ((i = rm_lower(m, iova)) < m->n && m->r[i].iova < end) {
		struct rm_range r = m->r[i];
		uint64_t lo = r.iova > iova ? r.iova : iova;
		uint64_t hi = rm_end(&r) < end ? rm_end(&r) : end;

		removed += hi - lo;
		rm_delete(m, i);
		if (r.iova < iova) {
			struct rm_range left = { r.iova, iova - r.iova, r.pa,
						 r.prot };
			rm_insert(m, &left);
		}
		if (rm_end(&r) > end) {
			struct rm_range right = { end, rm_end(&r) - end,
						  r.pa + (end - r.iova),
						  r.prot };
			rm_insert(m, &right);
		}
	}
	return removed;
}

void rm_verify(const struct rm_model *m)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < m->n; i++) {
		const struct rm_range *r = &m->r[i];
		CHECK(r->size && (i == 0 || rm_end(&m->r[i - 1]) <= r->iova),
		      "model corrupt at %zu", i);
		sum += r->size;
	}
	CHECK_EQ(sum, m->bytes, "model bytes");
}

void rm_free(struct rm_model *m)
{
	free(m->r);
	memset(m, 0, sizeof(*m));
}

/* ------------------------------------------------------------------------
 * The workload
 */

uint64_t rm_config_seed(uint64_t base, size_t ci, unsigned vi)
{
	uint64_t s = base ^ (UINT64_C(0x9e3779b97f4a7c15) * (ci + 1)) ^
		     ((uint64_t)vi << 56);

	return trand(&s);
}

void rm_work_init(struct rm_work *W, const struct tcfg *c,
		  struct iopgt_domain *dom, uint64_t seed)
{
	uint64_t w;

	W->rng = seed;
	W->dom = dom;
	{
		uint64_t lv[8];

		CHECK(tcfg_leaf_sizes(dom, lv) >= 2,
		      "expected superpages in %s", c->name);
		W->s1 = lv[1];
	}
	W->nsizes = tcfg_all_sizes(dom, W->sizes);
	W->gran = W->sizes[0];
	W->top = W->sizes[W->nsizes - 1];
	{
		struct iopgt_info info;

		iopgt_domain_info(dom, &info, sizeof(info));
		W->lo_end = info.iova_last + 1;
		W->hi_base = info.iova_upper;
	}
	W->oas_end = UINT64_C(1) << c->oas;
	/* Windows where ranges collide often: one across the middle of
	 * the input space (a boundary at every level, and between
	 * concatenated root tables), one at its top; where the format
	 * sign-extends, those of the lower half and a third at the bottom
	 * of the upper half (the root's upper entries). */
	w = UINT64_C(4) << 30;
	if (w > W->lo_end / 4)
		w = W->lo_end / 4;
	W->win_size = w;
	W->win_base[0] = W->lo_end / 2 - w / 2;
	W->win_base[1] = W->lo_end - w;
	W->nwin = 2;
	if (W->hi_base)
		W->win_base[W->nwin++] = W->hi_base;
	/* A domain that grows (iopgt_config.ias_max): the two above are
	 * beyond its first root; a third at the bottom lies under it, so
	 * that ranges mapped there before the domain grows are walked and
	 * changed through the roots added above it. */
	{
		struct iopgt_info info;

		iopgt_domain_info(dom, &info, sizeof(info));
		if (info.ias_max)
			W->win_base[W->nwin++] = 0;
	}
	/* Every valid protection of the format, as the registry lists them
	 * (test_badinput and test_formats check them against the specs). */
	W->nprots = 0;
	for (unsigned p = 0; p < 32; p++)
		if (tformat(c->format)->prots & (UINT32_C(1) << p))
			W->prots[W->nprots++] = p;
}

void rm_work_fini(struct rm_work *W)
{
	rm_free(&W->m);
	W->dom = NULL;
}

uint64_t rm_below(struct rm_work *W, uint64_t n)
{
	return n ? trand(&W->rng) % n : 0;
}

void rm_destroy_checked(struct iopgt_domain **dom, struct talloc *ta)
{
	iopgt_domain_destroy(*dom);
	*dom = NULL;
	CHECK_EQ(ta->table_allocs, ta->table_frees, "table pages leaked");
	CHECK_EQ(ta->meta_allocs, ta->meta_frees, "descriptors leaked");
	CHECK_EQ(ta->live_bytes, 0, "table bytes leaked");
	talloc_fini(ta);
}

bool rm_chance(struct rm_work *W, unsigned pct)
{
	return rm_below(W, 100) < pct;
}

enum rm_op rm_pick_op(struct rm_work *W)
{
	unsigned k = (unsigned)rm_below(W, 100);
	/* Keep the windows from filling up: unmap more when full. */
	bool full = W->m.bytes > W->win_size / 2;

	if (k < (full ? 30u : 45u))
		return RM_MAP;
	if (k < 75)
		return RM_UNMAP;
	if (k < 93)
		return RM_PROBE;
	return RM_REMAP;
}

static uint64_t gen_size(struct rm_work *W)
{
	uint64_t g = W->gran, s1 = W->s1, top = W->top, sz;
	unsigned k = (unsigned)rm_below(W, 100);

	if (k < 25)
		sz = g;                                   /* one page */
	else if (k < 45)
		sz = g * (2 + rm_below(W, 1100));         /* a run of pages */
	else if (k < 65)
		sz = s1 * (1 + rm_below(W, 3));           /* superpages */
	else if (k < 75)                                  /* like 1G + 6M */
		sz = top + (top > s1 ? 3 * s1 : s1) +
		     (rm_chance(W, 50) ? 0 : g * (1 + rm_below(W, 7)));
	else if (k < 90)
		sz = g * (1 + rm_below(W, 2 * s1 / g));   /* anything */
	else
		sz = top * (1 + rm_below(W, 2));          /* top-level leaves */
	if (sz > W->win_size / 2)
		sz = W->win_size / 2;
	return sz;
}

/* A random iova for size bytes in one of the windows. */
static uint64_t gen_iova(struct rm_work *W, uint64_t size)
{
	uint64_t g = W->gran, align, base = W->win_base[rm_below(W, W->nwin)];
	uint64_t off;
	unsigned k = (unsigned)rm_below(W, 100);
	uint64_t skew = 0;

	if (k < 40)
		align = g;
	else if (k < 70)
		align = W->s1;
	else if (k < 85)
		align = W->top;
	else {
		align = W->s1; /* a few pages off a superpage boundary */
		skew = g * (1 + rm_below(W, 4));
	}
	off = rm_below(W, (W->win_size - size) / align + 1) * align + skew;
	if (off + size > W->win_size)
		off -= skew;
	return base + off;
}

static int which_window(const struct rm_work *W, uint64_t iova)
{
	for (int w = 0; w < (int)W->nwin; w++)
		if (iova >= W->win_base[w] &&
		    iova - W->win_base[w] < W->win_size)
			return w;
	return -1;
}

static bool in_window(const struct rm_work *W, uint64_t iova, uint64_t size,
		      int w)
{
	return w >= 0 && iova >= W->win_base[w] &&
	       iova - W->win_base[w] <= W->win_size - size &&
	       size <= W->win_size;
}

static const struct rm_range *random_range(struct rm_work *W)
{
	return W->m.n ? &W->m.r[rm_below(W, W->m.n)] : NULL;
}

static uint64_t gen_pa(struct rm_work *W, uint64_t iova, uint64_t size)
{
	uint64_t top = W->top, lim = W->oas_end - size - top;
	unsigned k = (unsigned)rm_below(W, 100);

	/* Not congruent: every leaf is a smallest page. Keep those ranges
	 * small, mostly, so the dumps stay quick. */
	if (k >= 90 && (size <= 4 * W->s1 || rm_chance(W, 10)))
		return rm_below(W, lim / W->gran) * W->gran;
	if (k >= 75) /* congruent up to the second size only */
		return rm_below(W, lim / top) * top + (iova & (W->s1 - 1)) +
		       (top > W->s1 ? W->s1 : 0);
	return rm_below(W, lim / top) * top + (iova & (top - 1));
}

void rm_gen_map(struct rm_work *W, uint64_t *iova_out, uint64_t *size_out,
		uint64_t *pa_out, unsigned *prot_out)
{
	uint64_t size = gen_size(W), iova = 0, pa;
	unsigned prot = W->prots[rm_below(W, W->nprots)];
	const struct rm_range *r = rm_chance(W, 45) ? random_range(W) : NULL;
	bool placed = false;

	pa = 0;
	if (r) {
		int w = which_window(W, r->iova);
		unsigned k = (unsigned)rm_below(W, 100);

		if (k < 40) { /* overlapping r */
			iova = r->iova - size +
			       W->gran * (1 + rm_below(W, (size + r->size) /
								  W->gran - 1));
			placed = in_window(W, iova, size, w);
			pa = gen_pa(W, iova, size);
		} else if (k < 75) { /* right after r, often contiguous */
			iova = rm_end(r);
			placed = in_window(W, iova, size, w);
			if (rm_chance(W, 70)) {
				pa = r->pa + r->size;
				prot = r->prot;
			} else {
				pa = gen_pa(W, iova, size);
			}
		} else { /* right before r, often contiguous */
			iova = r->iova - size;
			placed = in_window(W, iova, size, w) &&
				 r->pa >= size;
			if (rm_chance(W, 70) && r->pa >= size) {
				pa = r->pa - size;
				prot = r->prot;
			} else {
				pa = gen_pa(W, iova, size);
			}
		}
		if (pa + size > W->oas_end)
			placed = false;
	}
	if (!placed) {
		iova = gen_iova(W, size);
		pa = gen_pa(W, iova, size);
	}
	*iova_out = iova;
	*size_out = size;
	*pa_out = pa;
	*prot_out = prot;
}

const char *rm_gen_unmap(struct rm_work *W, uint64_t *iova, uint64_t *size)
{
	const struct rm_range *r = random_range(W);
	unsigned k = (unsigned)rm_below(W, 100);
	uint64_t g = W->gran;

	if (r && k < 25) {
		*iova = r->iova;
		*size = r->size;
		return "one model range";
	} else if (r && k < 50) {
		uint64_t off = g * rm_below(W, r->size / g);
		uint64_t len = g * (1 + rm_below(W, (r->size - off) / g));
		*iova = r->iova + off;
		*size = len;
		return "part of a model range";
	} else if (r && k < 70) {
		int w = which_window(W, r->iova);
		uint64_t lo = r->iova - g * rm_below(W, 8);
		uint64_t hi = rm_end(r) + g * rm_below(W, 8) +
			      W->s1 * rm_below(W, 2);

		if (in_window(W, lo, hi - lo, w)) {
			*iova = lo;
			*size = hi - lo;
			return "around a model range";
		}
		*iova = r->iova;
		*size = r->size;
		return "one model range";
	} else if (k < 98) {
		*size = gen_size(W);
		*iova = gen_iova(W, *size);
		return "random";
	} else {
		unsigned w = (unsigned)rm_below(W, W->nwin);
		*iova = W->win_base[w];
		*size = W->win_size;
		return "a whole window";
	}
}

uint64_t rm_gen_point(struct rm_work *W, unsigned pct)
{
	const struct rm_range *r = random_range(W);

	if (r && rm_chance(W, pct))
		return r->iova + rm_below(W, r->size);
	return W->win_base[rm_below(W, W->nwin)] + rm_below(W, W->win_size);
}

bool rm_gen_hole(struct rm_work *W, struct rm_range *piece)
{
	const struct rm_range *r = random_range(W);
	uint64_t g = W->gran, off;

	if (!r || r->size < 2 * g)
		return false;
	off = g * rm_below(W, r->size / g);
	piece->iova = r->iova + off;
	piece->size = g * (1 + rm_below(W, (r->size - off) / g));
	if (rm_chance(W, 50) && piece->size > W->s1) /* mostly small holes */
		piece->size = g * (1 + rm_below(W, W->s1 / g));
	if (piece->size > r->size - off)
		piece->size = r->size - off;
	piece->pa = r->pa + off;
	piece->prot = r->prot;
	return true;
}

uint64_t rm_best_leaf(const struct rm_work *W, uint64_t x, uint64_t iova,
		      uint64_t size, uint64_t pa)
{
	for (unsigned i = W->nsizes; i-- > 0;) {
		uint64_t s = W->sizes[i], b = x & ~(s - 1);
		/* (b - iova + s, not b + s: the range may end at 2^64.) */
		if (((pa ^ iova) & (s - 1)) == 0 && b >= iova &&
		    b - iova + s <= size)
			return s;
	}
	return 0; /* not reached: the smallest size always fits */
}

/* ------------------------------------------------------------------------
 * Checks
 */

static bool is_leaf_size(const struct rm_work *W, uint64_t sz)
{
	for (unsigned i = 0; i < W->nsizes; i++)
		if (W->sizes[i] == sz)
			return true;
	return false;
}

void rm_check_leaf(struct rm_work *W, uint64_t iova, uint64_t size,
		   uint64_t pa, unsigned prot, const char *where)
{
	uint64_t x = iova, end = iova + size;

	CHECK(is_leaf_size(W, size), "%s: leaf size 0x%" PRIx64
	      " is not a leaf size of the domain", where, size);
	CHECK(!(iova & (size - 1)) && !(pa & (size - 1)),
	      "%s: leaf iova 0x%" PRIx64 " pa 0x%" PRIx64
	      " not aligned to its size 0x%" PRIx64, where, iova, pa, size);
	while (x < end) {
		const struct rm_range *r = rm_find(&W->m, x);

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
		if (W->one_range)
			CHECK(r->iova <= iova && rm_end(r) >= end,
			      "%s: NO_COALESCE, but leaf iova 0x%" PRIx64
			      " size 0x%" PRIx64 " is not inside one map's range "
			      "[0x%" PRIx64 ", +0x%" PRIx64 ")", where, iova,
			      size, r->iova, r->size);
		x = rm_end(r);
	}
}

uint64_t rm_check_lookup(struct rm_work *W, uint64_t x, const char *where)
{
	const struct rm_range *r = rm_find(&W->m, x);
	struct iopgt_translation tr;
	int ret;

	memset(&tr, 0xcc, sizeof(tr));
	ret = iopgt_lookup(W->dom, x, &tr);
	W->lookups++;
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
	/* With devices attached, they may have set the dirty bit. Without,
	 * only a coalesced superpage over writable leaves may be dirty (it
	 * starts dirty: the device could dirty a leaf of the table it
	 * replaced until that table's flush). */
	if (W->clean)
		CHECK(tr.dirty == 0 || rm_may_start_dirty(tr.leaf_size, tr.prot,
							  W->gran),
		      "%s: lookup 0x%" PRIx64 " dirty without any device "
		      "access", where, x);
	CHECK(is_leaf_size(W, tr.leaf_size), "%s: lookup 0x%" PRIx64
	      " leaf size 0x%" PRIx64, where, x, tr.leaf_size);
	rm_check_leaf(W, x & ~(tr.leaf_size - 1), tr.leaf_size,
		      tr.pa - (x & (tr.leaf_size - 1)), tr.prot, where);
	return tr.leaf_size;
}

void rm_check_new_range(struct rm_work *W, uint64_t iova, uint64_t size,
			uint64_t pa, int npoints)
{
	for (int i = 0; i < npoints; i++) {
		uint64_t x = i == 0 ? iova
			   : i == 1 ? iova + size - 1
				    : iova + rm_below(W, size);
		uint64_t want = rm_best_leaf(W, x, iova, size, pa);
		uint64_t got = rm_check_lookup(W, x, "after map");

		if (W->one_range)
			CHECK(got == want, "after map: leaf at 0x%" PRIx64
			      " is 0x%" PRIx64 ", the range allows exactly 0x%"
			      PRIx64, x, got, want);
		else
			CHECK(got >= want, "after map: leaf at 0x%" PRIx64
			      " is 0x%" PRIx64 ", the range allows 0x%" PRIx64,
			      x, got, want);
	}
}

void rm_check_failed_map(struct rm_work *W, uint64_t iova, uint64_t size)
{
	rm_check_lookup(W, iova, "after failed map (first byte)");
	rm_check_lookup(W, iova + size - 1, "after failed map (last)");
	for (int i = 0; i < 4; i++)
		rm_check_lookup(W, iova + rm_below(W, size),
				"after failed map");
}

void rm_check_unmapped(struct rm_work *W, uint64_t iova, uint64_t size)
{
	rm_check_lookup(W, iova, "after unmap (first byte)");
	rm_check_lookup(W, iova + size - 1, "after unmap (last byte)");
	rm_check_lookup(W, iova + rm_below(W, size), "after unmap");
	if (iova && rm_in_space(W, iova - 1))
		rm_check_lookup(W, iova - 1, "after unmap (byte before)");
	if (rm_in_space(W, iova + size))
		rm_check_lookup(W, iova + size, "after unmap (byte after)");
}

struct leaf_walk {
	struct rm_work *W;
	uint64_t bytes;
	unsigned long leaves;
};

static int walk_leaf(void *arg, const struct tleaf *l)
{
	struct leaf_walk *w = arg;

	if (w->W->clean)
		CHECK(!l->dirty || rm_may_start_dirty(l->size, l->prot,
						      w->W->gran),
		      "dump: leaf at 0x%" PRIx64 " dirty", l->iova);
	rm_check_leaf(w->W, l->iova, l->size, l->pa, l->prot, "dump");
	w->bytes += l->size;
	w->leaves++;
	return 0;
}

void rm_compare_domain(struct rm_work *W)
{
	struct leaf_walk w = { W, 0, 0 };

	/* Model -> domain. */
	for (size_t i = 0; i < W->m.n; i++) {
		const struct rm_range *r = &W->m.r[i];
		rm_check_lookup(W, r->iova, "full compare (first byte)");
		rm_check_lookup(W, rm_end(r) - 1, "full compare (last byte)");
		rm_check_lookup(W, r->iova + r->size / 2,
				"full compare (middle)");
		if (r->iova && rm_in_space(W, r->iova - 1))
			rm_check_lookup(W, r->iova - 1,
					"full compare (byte before)");
		if (rm_in_space(W, rm_end(r)))
			rm_check_lookup(W, rm_end(r),
					"full compare (byte after)");
	}
	/* Domain -> model: every leaf is in the model, and they add up. The
	 * dump reads entries atomically: devices may set accessed/dirty bits
	 * meanwhile. */
	tfor_each_leaf(W->dom, walk_leaf, &w);
	CHECK_EQ(w.bytes, W->m.bytes, "bytes mapped by the leaves in the "
		 "tables against the model");
}
