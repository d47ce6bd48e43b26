/* SPDX-License-Identifier: MIT */
/*
 * Bad input of every kind, for every format configuration in tcfgs[]: each
 * call must return the exact errno and leave the domain as it was: the
 * full dump (tdump) before and after is the same string, and
 * table_pages_live has not moved. Calls rejected up front must not touch
 * the gather or allocate; a map that fails part-way (an overlap found
 * after some leaves were written, or an allocation failure) rolls back,
 * and once its gather is synced the dump is again the one from before.
 *
 * On failure the configuration and the step are printed (see tctx).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

/* ------------------------------------------------------------------------
 * A populated domain
 */

/* What populate() mapped. */
struct layout {
	uint64_t A;  /* 4 smallest pages at A, one at A + 8 s0 */
	uint64_t C1; /* one leaf of size s1 */
	uint64_t C2; /* one leaf of size top (three sizes only), else 0 */
};

/* Small pages, a middle-size superpage and (with three sizes) a top-size
 * one, in separate tables; fits the smallest input space (8 top-size
 * leaves with the 64K granule). */
static void populate(struct tdom *d, struct layout *L)
{
	uint64_t s0 = d->s[0], s1 = d->s[1];

	EXPECT(d->n >= 2);
	L->A = 2 * d->top + s1;
	L->C1 = 4 * d->top + 2 * s1;
	L->C2 = d->n > 2 ? 6 * d->top : 0;
	tmap_ok(d, L->A, tpa_for(d, L->A), 4 * s0, RW);
	tmap_ok(d, L->A + 8 * s0, tpa_for(d, L->A + 8 * s0), s0, RW);
	tmap_ok(d, L->C1, tpa_for(d, L->C1), s1, RW);
	if (L->C2)
		tmap_ok(d, L->C2, tpa_for(d, L->C2), d->top, RW);
}

/* The domain of c, populated; no table cache, so that the live pages are
 * exactly the tree. */
static void topen_populated(struct tdom *d, struct layout *L,
			    const struct tcfg *c, unsigned options)
{
	topen(d, c, options, 0, 0);
	populate(d, L);
}

/* ------------------------------------------------------------------------
 * "Nothing changed"
 */

struct snap {
	char *dump;
	uint64_t live, allocs, split, coalesced;
	size_t nflush;
};

static void snap_take(struct tdom *d, struct snap *s)
{
	struct iopgt_stats st;

	iopgt_get_stats(d->dom, &st, sizeof(st));
	s->dump = tdump(d->dom);
	s->live = st.table_pages_live;
	s->split = st.split;
	s->coalesced = st.coalesced;
	s->allocs = d->ta.table_allocs + d->ta.meta_allocs;
	s->nflush = d->tf.n;
}

static void snap_check(struct tdom *d, struct snap *s, int line)
{
	struct iopgt_stats st;
	char *now = tdump(d->dom);

	iopgt_get_stats(d->dom, &st, sizeof(st));
	tstreq_at(s->dump, now, __FILE__, line);
	EQ_AT(st.table_pages_live, s->live, line);
	EQ_AT(st.split, s->split, line);
	EQ_AT(st.coalesced, s->coalesced, line);
	EQ_AT(tcheck_counts(d->dom), 0, line);
	free(now);
}

static void snap_free(struct snap *s)
{
	free(s->dump);
}

static void gather_untouched(struct tdom *d, const struct iopgt_gather *g,
			     const struct snap *s, int line)
{
	EQ_AT(g->iova, UINT64_MAX, line);
	EQ_AT(g->last, 0, line);
	EQ_AT(g->kind, IOPGT_FLUSH_NONE, line);
	EQ_AT(g->nr_tables, 0, line);
	EXPECT_AT(g->tables == NULL, line);
	EQ_AT(d->tf.n, s->nflush, line);
	/* Rejected before anything was allocated. */
	EQ_AT(d->ta.table_allocs + d->ta.meta_allocs, s->allocs, line);
}

/* A map rejected up front: exact errno, gather untouched, no change. */
static void bad_map_at(struct tdom *d, uint64_t iova, uint64_t pa,
		       uint64_t size, unsigned prot, int err, int line)
{
	struct snap s;
	struct iopgt_gather g;

	snap_take(d, &s);
	iopgt_gather_init(&g, sizeof(g));
	EQ_AT(iopgt_map(d->dom, iova, pa, size, prot, &g), err, line);
	gather_untouched(d, &g, &s, line);
	snap_check(d, &s, line);
	snap_free(&s);
}
#define BAD_MAP(d, iova, pa, size, prot, err) \
	bad_map_at(d, iova, pa, size, prot, err, __LINE__)

/* An unmap rejected up front. */
static void bad_unmap_at(struct tdom *d, uint64_t iova, uint64_t size,
			 int err, int line)
{
	struct snap s;
	struct iopgt_gather g;

	snap_take(d, &s);
	iopgt_gather_init(&g, sizeof(g));
	EQ_AT(iopgt_unmap(d->dom, iova, size, &g), err, line);
	gather_untouched(d, &g, &s, line);
	snap_check(d, &s, line);
	snap_free(&s);
}
#define BAD_UNMAP(d, iova, size, err) bad_unmap_at(d, iova, size, err, __LINE__)

/* A map that overlaps: -EEXIST. If it wrote leaves first ([iova,
 * written_last], written_last >= iova), its gather must ask for their
 * flush; once synced, the dump is the one from before. */
static void overlap_at(struct tdom *d, uint64_t iova, uint64_t size,
		       uint64_t written_last, int line)
{
	struct snap s;
	struct iopgt_gather g;

	snap_take(d, &s);
	iopgt_gather_init(&g, sizeof(g));
	EQ_AT(iopgt_map(d->dom, iova, tpa_for(d, iova), size, RW, &g), -EEXIST,
	      line);
	EQ_AT(d->tf.n, s.nflush, line); /* map never flushes */
	EQ_AT(tcheck_counts(d->dom), 0, line);
	if (written_last >= iova) {
		/* Leaves were present for a while: the device may have
		 * cached them. */
		EXPECT_AT(g.kind >= IOPGT_FLUSH_MODIFIED, line);
		EXPECT_AT(g.iova <= iova && g.last >= written_last, line);
	}
	iopgt_sync(d->dom, &g);
	snap_check(d, &s, line);
	snap_free(&s);
}
#define OVERLAP(d, iova, size, wl) overlap_at(d, iova, size, wl, __LINE__)
#define NOTHING_WRITTEN 0

/* Offsets that break granule alignment: below 4K, and 4K multiples for
 * the larger granules. */
static unsigned misalignments(const struct tdom *d, uint64_t off[8])
{
	unsigned n = 0;

	off[n++] = 1;
	off[n++] = 0x800;
	off[n++] = d->s[0] - 1;
	off[n++] = d->s[0] / 2 + 8;
	if (d->s[0] > 0x1000) {
		off[n++] = 0x1000;
		off[n++] = d->s[0] - 0x1000;
	}
	return n;
}

/* ------------------------------------------------------------------------
 * Tests
 */

static void test_bad_alignment(void **state)
{
	(void)state;
	for (size_t k = 0; k < n_tcfgs; k++) {
		const struct tcfg *c = &tcfgs[k];
		struct tdom d;
		struct layout L;
		uint64_t off[8], X, P;
		unsigned no;

		CTX("%s", c->name);
		topen_populated(&d, &L, c, 0);
		no = misalignments(&d, off);
		X = L.C2 ? 7 * d.top : 5 * d.top; /* free space */
		P = tpa_for(&d, X);
		for (unsigned i = 0; i < no; i++) {
			CTX("%s misaligned by 0x%" PRIx64, c->name, off[i]);
			BAD_MAP(&d, X + off[i], P, d.s[0], RW, -EINVAL);
			BAD_MAP(&d, X, P + off[i], d.s[0], RW, -EINVAL);
			BAD_MAP(&d, X, P, d.s[0] + off[i], RW, -EINVAL);
			BAD_MAP(&d, X, P, off[i], RW, -EINVAL);
			BAD_MAP(&d, X + off[i], P + off[i], d.s[0], RW,
				-EINVAL);
			/* Over a mapping: alignment is checked first. */
			BAD_MAP(&d, L.A + off[i], P, d.s[0], RW, -EINVAL);
			BAD_MAP(&d, L.C1, P + off[i], d.s[1], RW, -EINVAL);
			/* A superpage-sized request that is misaligned. */
			BAD_MAP(&d, X, P, d.s[1] + off[i], RW, -EINVAL);

			BAD_UNMAP(&d, L.A + off[i], d.s[0], -EINVAL);
			BAD_UNMAP(&d, L.A, d.s[0] + off[i], -EINVAL);
			BAD_UNMAP(&d, L.A, off[i], -EINVAL);
			BAD_UNMAP(&d, L.C1 + off[i], d.s[0], -EINVAL);
			BAD_UNMAP(&d, L.C1, d.s[1] - off[i], -EINVAL);
		}
		tclose(&d);
	}
}

static void test_bad_size(void **state)
{
	(void)state;
	for (size_t k = 0; k < n_tcfgs; k++) {
		const struct tcfg *c = &tcfgs[k];
		struct tdom d;
		struct layout L;
		uint64_t s0, P;

		CTX("%s", c->name);
		topen_populated(&d, &L, c, 0);
		s0 = d.s[0];
		P = tpa_for(&d, 0);

		CTX("%s size 0", c->name);
		BAD_MAP(&d, 0, P, 0, RW, -EINVAL);
		BAD_MAP(&d, L.A, P, 0, RW, -EINVAL);
		BAD_UNMAP(&d, 0, 0, -EINVAL);
		BAD_UNMAP(&d, L.A, 0, -EINVAL);
		BAD_UNMAP(&d, L.C1 + s0, 0, -EINVAL);

		/* iova + size wraps past 2^64. */
		CTX("%s wrap", c->name);
		BAD_MAP(&d, UINT64_MAX - s0 + 1, P, 2 * s0, RW, -EINVAL);
		BAD_MAP(&d, 2 * s0, P, UINT64_MAX - s0 + 1, RW, -EINVAL);
		BAD_MAP(&d, L.A, P, UINT64_MAX - s0 + 1, RW, -EINVAL);
		BAD_MAP(&d, UINT64_MAX - 3 * s0 + 1, P, 8 * s0, RW, -EINVAL);
		BAD_UNMAP(&d, UINT64_MAX - s0 + 1, 2 * s0, -EINVAL);
		BAD_UNMAP(&d, L.A, UINT64_MAX - s0 + 1, -EINVAL);
		BAD_UNMAP(&d, 2 * s0, UINT64_MAX - s0 + 1, -EINVAL);
		tclose(&d);
	}
}

static void test_bad_range(void **state)
{
	(void)state;
	for (size_t k = 0; k < n_tcfgs; k++) {
		const struct tcfg *c = &tcfgs[k];
		struct tdom d;
		struct layout L;
		uint64_t s0, T, P, O;

		CTX("%s", c->name);
		topen_populated(&d, &L, c, 0);
		s0 = d.s[0];
		T = d.end;
		P = tpa_for(&d, 0);
		O = UINT64_C(1) << c->oas;

		/* IOVA beyond the input size (T: 2^ias), or beyond its lower
		 * half where the format sign-extends (T: 2^(ias-1), the
		 * first non-canonical IOVA). */
		CTX("%s beyond ias", c->name);
		BAD_MAP(&d, T, P, s0, RW, -ERANGE);
		BAD_MAP(&d, T - s0, P, 2 * s0, RW, -ERANGE);
		BAD_MAP(&d, T - d.top, P, 2 * d.top, RW, -ERANGE);
		BAD_MAP(&d, 0, P, T + s0, RW, -ERANGE);
		BAD_MAP(&d, L.A, P, T, RW, -ERANGE);
		BAD_MAP(&d, UINT64_C(1) << 63, P, s0, RW, -ERANGE);
		BAD_MAP(&d, 2 * T, P, T, RW, -ERANGE);
		BAD_UNMAP(&d, T, s0, -ERANGE);
		BAD_UNMAP(&d, T - s0, 2 * s0, -ERANGE);
		BAD_UNMAP(&d, 0, T + s0, -ERANGE);
		BAD_UNMAP(&d, L.C1, T, -ERANGE);
		EXPECT_ERR(&d, T, -ERANGE);
		EXPECT_ERR(&d, T + L.A, -ERANGE);
		EXPECT_ERR(&d, UINT64_C(1) << 63, -ERANGE);
		EXPECT_ERR(&d, T - 1, -ENOENT);
		if (!d.upper) {
			/* Nothing at the top of the 64-bit space. */
			BAD_MAP(&d, UINT64_MAX - s0 + 1, P, s0, RW, -ERANGE);
			BAD_UNMAP(&d, UINT64_MAX - s0 + 1, s0, -ERANGE);
			EXPECT_ERR(&d, UINT64_MAX, -ERANGE);
			EXPECT_ERR(&d, UINT64_MAX - T + 1, -ERANGE);
		} else {
			/* The upper half: canonical from d.upper on; below
			 * it, down to T, the hole; no range crosses it. */
			CTX("%s the hole below the upper half", c->name);
			EQ(d.upper, 0 - T); /* 2^64 - 2^(ias-1) */
			BAD_MAP(&d, d.upper - s0, P, s0, RW, -ERANGE);
			BAD_MAP(&d, d.upper - s0, P, 2 * s0, RW, -ERANGE);
			BAD_MAP(&d, d.upper - d.top, P, d.top, RW, -ERANGE);
			BAD_MAP(&d, T - s0, P, d.upper - T + 2 * s0, RW,
				-ERANGE);
			BAD_MAP(&d, 0, P, d.upper + s0, RW, -ERANGE);
			BAD_MAP(&d, UINT64_C(1) << 62, P, s0, RW, -ERANGE);
			BAD_MAP(&d, T + (UINT64_C(1) << 62), P, s0, RW,
				-ERANGE);
			BAD_UNMAP(&d, d.upper - s0, s0, -ERANGE);
			BAD_UNMAP(&d, d.upper - s0, 2 * s0, -ERANGE);
			BAD_UNMAP(&d, T - s0, d.upper - T + 2 * s0, -ERANGE);
			BAD_UNMAP(&d, 0, d.upper + s0, -ERANGE);
			EXPECT_ERR(&d, d.upper - 1, -ERANGE);
			EXPECT_ERR(&d, d.upper - T, -ERANGE);
			EXPECT_ERR(&d, d.upper, -ENOENT);
			EXPECT_ERR(&d, UINT64_MAX, -ENOENT);
			EXPECT_ERR(&d, 0 - L.A, -ENOENT);
			/* Wrapping past 2^64 stays -EINVAL. */
			BAD_MAP(&d, UINT64_MAX - s0 + 1, P, 2 * s0, RW,
				-EINVAL);
		}
		/* The IOVA aliased below 2^ias is mapped; the one above is
		 * still out of range. */
		EXPECT_TR(&d, L.A, tpa_for(&d, L.A), s0, RW);

		/* PA beyond the output size. */
		CTX("%s beyond oas", c->name);
		BAD_MAP(&d, 0, O, s0, RW, -ERANGE);
		BAD_MAP(&d, 0, O - s0, 2 * s0, RW, -ERANGE);
		BAD_MAP(&d, 0, O - d.top, d.top + s0, RW, -ERANGE);
		BAD_MAP(&d, 0, O + d.top, d.top, RW, -ERANGE);
		BAD_MAP(&d, 0, UINT64_C(1) << 63, s0, RW, -ERANGE);
		BAD_MAP(&d, 0, UINT64_MAX - s0 + 1, s0, RW, -ERANGE);
		BAD_MAP(&d, 0, UINT64_MAX - s0 + 1, 2 * s0, RW, -ERANGE);
		/* Even where the IOVA is taken, the PA is checked first. */
		BAD_MAP(&d, L.A, O, s0, RW, -ERANGE);
		/* The last page below 2^oas is fine. */
		{
			struct snap s;

			snap_take(&d, &s);
			tmap_ok(&d, 0, O - s0, s0, RW);
			EXPECT_TR(&d, s0 - 1, O - 1, s0, RW);
			tunmap_ok(&d, 0, s0, s0);
			snap_check(&d, &s, __LINE__);
			snap_free(&s);
		}
		tclose(&d);
	}
}

static void test_overlap(void **state)
{
	(void)state;
	for (size_t k = 0; k < n_tcfgs; k++) {
		const struct tcfg *c = &tcfgs[k];
		struct tdom d;
		struct layout L;
		uint64_t s0, s1, A;

		CTX("%s", c->name);
		topen_populated(&d, &L, c, 0);
		s0 = d.s[0];
		s1 = d.s[1];
		A = L.A; /* [A, A + 4 s0) and [A + 8 s0, A + 9 s0) mapped */

		CTX("%s overlap small pages", c->name);
		OVERLAP(&d, A, 4 * s0, NOTHING_WRITTEN);          /* same */
		OVERLAP(&d, A, s0, NOTHING_WRITTEN);              /* first */
		OVERLAP(&d, A + 3 * s0, s0, NOTHING_WRITTEN);     /* last */
		OVERLAP(&d, A + s0, 2 * s0, NOTHING_WRITTEN);     /* middle */
		OVERLAP(&d, A + 2 * s0, 4 * s0, NOTHING_WRITTEN); /* its end */
		OVERLAP(&d, A + 3 * s0, 6 * s0, NOTHING_WRITTEN); /* both */
		/* Free first, then taken: the free part is mapped and rolled
		 * back. Within the same table: */
		OVERLAP(&d, A + 4 * s0, 5 * s0, A + 8 * s0 - 1);
		OVERLAP(&d, A + 7 * s0, 2 * s0, A + 8 * s0 - 1);
		/* From the preceding, empty, table (created, then dropped): */
		OVERLAP(&d, A - 2 * s0, 3 * s0, A - 1);
		OVERLAP(&d, A - 2 * s0, 12 * s0, A - 1);
		/* Covering the whole mapping: */
		OVERLAP(&d, A - s0, 6 * s0, A - 1);
		/* A superpage first, then the overlap: */
		OVERLAP(&d, A - s1, s1 + s0, A - 1);
		OVERLAP(&d, A - s1 - s0, s1 + 2 * s0, A - 1);
		if (d.n > 2) {
			/* A top-size leaf, a middle one, then the overlap. */
			OVERLAP(&d, A - s1 - d.top, d.top + s1 + s0, A - 1);
		}
		/* The maps rolled back left the mappings intact. */
		EXPECT_TR(&d, A, tpa_for(&d, A), s0, RW);
		EXPECT_TR(&d, A + 8 * s0, tpa_for(&d, A + 8 * s0), s0, RW);
		EXPECT_ERR(&d, A - s0, -ENOENT);
		EXPECT_ERR(&d, A + 4 * s0, -ENOENT);
		tclose(&d);
	}
}

static void test_overlap_superpage(void **state)
{
	(void)state;
	for (size_t k = 0; k < n_tcfgs; k++) {
		const struct tcfg *c = &tcfgs[k];
		struct tdom d;
		struct layout L;
		uint64_t s0, s1, C1, top;

		CTX("%s", c->name);
		topen_populated(&d, &L, c, 0);
		s0 = d.s[0];
		s1 = d.s[1];
		top = d.top;
		C1 = L.C1; /* [C1, C1 + s1) is one leaf */

		CTX("%s overlap superpage", c->name);
		OVERLAP(&d, C1, s1, NOTHING_WRITTEN);
		OVERLAP(&d, C1, s0, NOTHING_WRITTEN);
		OVERLAP(&d, C1 + 5 * s0, s0, NOTHING_WRITTEN);
		OVERLAP(&d, C1 + s1 - s0, s0, NOTHING_WRITTEN);
		OVERLAP(&d, C1 + s1 - s0, 2 * s0, NOTHING_WRITTEN);
		OVERLAP(&d, C1 + s1 - s0, s1 + s0, NOTHING_WRITTEN);
		OVERLAP(&d, C1 - s0, 2 * s0, C1 - 1);
		OVERLAP(&d, C1 - s1, 2 * s1, C1 - 1);
		OVERLAP(&d, C1 - s1 - s0, 2 * s1 + 2 * s0, C1 - 1);
		if (d.n > 2) {
			uint64_t T1 = C1 & ~(top - 1);
			/* A top-size leaf over the table holding C1. */
			OVERLAP(&d, T1, top, NOTHING_WRITTEN);
			OVERLAP(&d, T1 - top, 2 * top, T1 - 1);
			/* Overlaps with the top-size leaf. */
			OVERLAP(&d, L.C2, top, NOTHING_WRITTEN);
			OVERLAP(&d, L.C2 + top / 2, s1, NOTHING_WRITTEN);
			OVERLAP(&d, L.C2 + top - s0, 2 * s0, NOTHING_WRITTEN);
			OVERLAP(&d, L.C2 - s0, 2 * s0, L.C2 - 1);
			OVERLAP(&d, L.C2 - s1, 2 * s1, L.C2 - 1);
		}
		EXPECT_TR(&d, C1 + 7, tpa_for(&d, C1) + 7, s1, RW);
		EXPECT_ERR(&d, C1 - s0, -ENOENT);
		tclose(&d);
	}
}

static void test_bad_prot(void **state)
{
	static const unsigned bad_common[] = {
		0,
		IOPGT_PROT_EXEC,
		IOPGT_PROT_MMIO,
		IOPGT_PROT_EXEC | IOPGT_PROT_MMIO,
		IOPGT_PROT_READ | (1u << 5),
		RW | (1u << 6),
		IOPGT_PROT_READ | (1u << 31),
		1u << 5,
		~0u,
	};
	/* Combinations a format may or may not express: each format's
	 * registry entry says which (tests/test_formats.c checks that
	 * against the specifications); those it does not are -EINVAL, those
	 * it does map. */
	static const unsigned maybe[] = {
		IOPGT_PROT_WRITE, /* x86, ARM S1, RISC-V: no write-only */
		IOPGT_PROT_WRITE | IOPGT_PROT_EXEC,
		IOPGT_PROT_WRITE | IOPGT_PROT_USER,
		IOPGT_PROT_USER,
		IOPGT_PROT_READ | IOPGT_PROT_USER, /* ARM S2: no user bit */
		RW | IOPGT_PROT_USER,
		RW | IOPGT_PROT_USER | IOPGT_PROT_EXEC,
		/* ARM S2: Device memory is never executable */
		IOPGT_PROT_READ | IOPGT_PROT_EXEC | IOPGT_PROT_MMIO,
		RW | IOPGT_PROT_EXEC | IOPGT_PROT_MMIO,
	};
	unsigned bad[sizeof(maybe) / sizeof(maybe[0])];
	unsigned ok[sizeof(maybe) / sizeof(maybe[0])];

	(void)state;
	for (size_t k = 0; k < n_tcfgs; k++) {
		const struct tcfg *c = &tcfgs[k];
		uint32_t prots = tformat(c->format)->prots;
		size_t nbad = 0, nok = 0;
		struct tdom d;
		struct layout L;
		uint64_t X, sizes[3];

		for (size_t i = 0; i < sizeof(maybe) / sizeof(maybe[0]); i++) {
			if (prots & (UINT32_C(1) << maybe[i]))
				ok[nok++] = maybe[i];
			else
				bad[nbad++] = maybe[i];
		}
		CTX("%s", c->name);
		topen_populated(&d, &L, c, 0);
		X = L.C2 ? 7 * d.top : 5 * d.top; /* free space */
		sizes[0] = d.s[0];
		sizes[1] = d.s[1];
		sizes[2] = 3 * d.s[0];
		for (unsigned z = 0; z < 3; z++) {
			for (size_t i = 0;
			     i < sizeof(bad_common) / sizeof(bad_common[0]);
			     i++) {
				CTX("%s prot 0x%x size 0x%" PRIx64, c->name,
				    bad_common[i], sizes[z]);
				BAD_MAP(&d, X, tpa_for(&d, X), sizes[z],
					bad_common[i], -EINVAL);
			}
			for (size_t i = 0; i < nbad; i++) {
				CTX("%s prot 0x%x size 0x%" PRIx64, c->name,
				    bad[i], sizes[z]);
				BAD_MAP(&d, X, tpa_for(&d, X), sizes[z], bad[i],
					-EINVAL);
			}
			/* Checked before the overlap. */
			BAD_MAP(&d, L.A, tpa_for(&d, L.A), sizes[z], 0,
				-EINVAL);
			for (size_t i = 0; i < nok; i++) {
				struct snap s;

				CTX("%s ok prot 0x%x size 0x%" PRIx64, c->name,
				    ok[i], sizes[z]);
				snap_take(&d, &s);
				tmap_ok(&d, X, tpa_for(&d, X), sizes[z], ok[i]);
				EXPECT_TR(&d, X + sizes[z] - 1,
					  tpa_for(&d, X) + sizes[z] - 1,
					  z == 1 ? d.s[1] : d.s[0], ok[i]);
				tunmap_ok(&d, X, sizes[z], sizes[z]);
				snap_check(&d, &s, __LINE__);
				snap_free(&s);
			}
		}
		tclose(&d);
	}
}

static void test_unmap_hole(void **state)
{
	(void)state;
	for (size_t k = 0; k < n_tcfgs; k++) {
		const struct tcfg *c = &tcfgs[k];
		struct tdom d;
		struct layout L;
		uint64_t s0, A, holes[8][2];
		unsigned nh = 0;

		CTX("%s", c->name);
		topen_populated(&d, &L, c, 0);
		s0 = d.s[0];
		A = L.A;
		/* Beside mappings in the same table, between them, in
		 * space with no table at all, and around a superpage. */
		holes[nh][0] = A + 4 * s0, holes[nh++][1] = s0;
		holes[nh][0] = A + 4 * s0, holes[nh++][1] = 4 * s0;
		holes[nh][0] = A - s0, holes[nh++][1] = s0;
		holes[nh][0] = A - d.s[1], holes[nh++][1] = d.s[1];
		holes[nh][0] = 0, holes[nh++][1] = d.s[1] + s0;
		holes[nh][0] = L.C1 - 2 * s0, holes[nh++][1] = 2 * s0;
		holes[nh][0] = L.C1 + d.s[1], holes[nh++][1] = 3 * s0;
		holes[nh][0] = d.end - d.top, holes[nh++][1] = d.top;
		for (unsigned i = 0; i < nh; i++) {
			struct snap s;
			struct iopgt_gather g;

			CTX("%s hole 0x%" PRIx64 " + 0x%" PRIx64, c->name,
			    holes[i][0], holes[i][1]);
			snap_take(&d, &s);
			iopgt_gather_init(&g, sizeof(g));
			EQ(iopgt_unmap(d.dom, holes[i][0], holes[i][1], &g), 0);
			EQ(g.nr_tables, 0);
			EQ(d.tf.n, s.nflush);
			iopgt_sync(d.dom, &g);
			snap_check(&d, &s, __LINE__);
			snap_free(&s);
		}
		tclose(&d);
	}
}

/* Allocation failure part-way through a map: -ENOMEM and, once the gather
 * is synced, the domain as before. */
static void test_enomem_rollback(void **state)
{
	(void)state;
	for (size_t k = 0; k < n_tcfgs; k++) {
		const struct tcfg *c = &tcfgs[k];
		struct tdom d;
		struct layout L;
		struct snap s;
		uint64_t D, len, s0;
		int r = -ENOMEM;
		long f;

		CTX("%s", c->name);
		topen_populated(&d, &L, c, 0);
		s0 = d.s[0];
		/* Across a level-0 table boundary in empty space, with a
		 * superpage in the middle: several tables to allocate. */
		D = d.n == 2 ? d.top : 3 * d.top + d.s[1];
		len = 2 * s0 + d.s[1] + 2 * s0;
		snap_take(&d, &s);
		for (f = 1; f < 64; f++) {
			struct iopgt_gather g;

			CTX("%s enomem fail_after %ld", c->name, f);
			d.ta.fail_after = f;
			iopgt_gather_init(&g, sizeof(g));
			r = tmap_g(&d, D - 2 * s0, tpa_for(&d, D - 2 * s0), len,
				   RW, &g, 1);
			d.ta.fail_after = 0;
			tsync(&d, &g);
			if (r != -ENOMEM)
				break;
			EQ(d.ta.failures, (uint64_t)f);
			snap_check(&d, &s, __LINE__);
			EXPECT_ERR(&d, D - 2 * s0, -ENOENT);
		}
		CTX("%s enomem", c->name);
		EXPECT(f > 2); /* some allocations were made to fail */
		EQ(r, 0);
		EXPECT_TR(&d, D, tpa_for(&d, D), d.s[1], RW);
		EXPECT_TR(&d, D - 2 * s0, tpa_for(&d, D - 2 * s0), s0, RW);
		tunmap_ok(&d, D - 2 * s0, len, len);
		snap_check(&d, &s, __LINE__);
		snap_free(&s);
		tclose(&d);
	}
}

/* With IOPGT_OPT_NO_RECLAIM, emptied tables stay; a map that replaces
 * such tables by a superpage and then finds an overlap must still leave
 * the tables as they were. */
static void test_rollback_no_reclaim(void **state)
{
	(void)state;
	for (size_t k = 0; k < n_tcfgs; k++) {
		const struct tcfg *c = &tcfgs[k];
		struct tdom d;
		struct layout L;
		uint64_t s0, A;

		CTX("%s", c->name);
		topen_populated(&d, &L, c, IOPGT_OPT_NO_RECLAIM);
		s0 = d.s[0];
		A = L.A;
		/* An emptied table just below A. */
		tmap_ok(&d, A - s0, tpa_for(&d, A - s0), s0, RW);
		tunmap_ok(&d, A - s0, s0, s0);
		CTX("%s no_reclaim: overlap after free part", c->name);
		OVERLAP(&d, A - 2 * s0, 3 * s0, A - 1);
		OVERLAP(&d, A - s0, 2 * s0, A - 1);
		/* The superpage would cover the emptied table. */
		CTX("%s no_reclaim: superpage over emptied table, then overlap",
		    c->name);
		OVERLAP(&d, A - d.s[1], d.s[1] + s0, A - 1);
		tclose(&d);
	}
}

/* ------------------------------------------------------------------------
 * Table memory the hardware cannot reach
 */

/* topen() with table memory at hardware addresses the test chooses
 * (talloc's pa_next, from pa on): returns what iopgt_domain_create
 * returned; on success d is open as topen leaves it. */
static int topen_at(struct tdom *d, const struct tcfg *c, uint64_t pa,
		    uint64_t skew)
{
	int r;

	memset(d, 0, sizeof(*d));
	d->c = c;
	tcfg_config(c, &d->cfg);
	d->cfg.table_cache = 0;
	talloc_init(&d->ta);
	d->ta.pa_next = pa;
	d->ta.pa_skew = skew;
	talloc_ops(&d->ta, &d->cfg.mem);
	d->cfg.phys_to_virt = talloc_p2v;
	tflush_init(&d->tf, NULL);
	tflush_ops(&d->tf, &d->cfg.flush);
	r = iopgt_domain_create(&d->cfg, &d->dom);
	if (r) {
		EXPECT(d->dom == NULL);
		/* Whatever create took, it gave back. */
		EQ(d->ta.table_allocs, d->ta.table_frees);
		EQ(d->ta.meta_allocs, d->ta.meta_frees);
		EQ(d->ta.live_bytes, 0);
		talloc_fini(&d->ta);
		tflush_fini(&d->tf);
		return r;
	}
	iopgt_domain_info(d->dom, &d->info, sizeof(d->info));
	d->n = tcfg_leaf_sizes(d->dom, d->s);
	EXPECT(d->n >= 1);
	d->top = d->s[d->n - 1];
	d->end = d->info.iova_last + 1;
	d->upper = d->info.iova_upper;
	d->pa0 = (UINT64_C(1) << (c->oas - 2)) + 5 * d->top;
	EQ(tcheck_counts(d->dom), 0);
	return 0;
}

/* The end of the highest table (arg: uint64_t, the largest so far). */
static int highest_table(void *arg, const struct iopgt_table_info *t)
{
	uint64_t *end = arg, e = t->pa + (uint64_t)t->entries * 8;

	if (e > *end)
		*end = e;
	return 0;
}

/* Table pages the hardware could not walk to: at or above 2^oas (the
 * domain's output size, not the format's widest), or a root that is not
 * aligned to its whole size (a concatenated root to all its tables).
 * create refuses such a root (-ERANGE, -EINVAL); a map or an unmap
 * whose new table lies there fails with -ENOMEM and changes nothing,
 * and the page goes back. Every format, with a small oas. */
static void test_table_beyond_oas(void **state)
{
	(void)state;
	for (size_t k = 0; k < n_tcfgs; k++) {
		const struct iopgt_format_info *fi = tformat(tcfgs[k].format);
		struct tcfg c = tcfgs[k];
		uint64_t O, s0, s1, A, root, low;
		struct iopgt_gather g;
		struct tdom d;
		struct snap s;

		/* The smallest oas of at least 36 bits the format offers,
		 * with an ias it takes beside it. */
		c.oas = 36;
		while (c.oas < 64 && !(fi->oas_values & (UINT64_C(1) << c.oas)))
			c.oas++;
		if (c.oas > fi->oas_max)
			c.oas = fi->oas_max;
		if (c.ias > c.oas && c.oas >= fi->ias_min)
			c.ias = c.oas;
		O = UINT64_C(1) << c.oas;

		CTX("%s oas %u ias %u: root at 2^oas", c.name, c.oas, c.ias);
		EQ(topen_at(&d, &c, O, 0), -ERANGE);
		EQ(d.ta.table_allocs, 1);

		/* The root just below 2^oas is fine; then every table page
		 * offered lies above it. */
		CTX("%s oas %u ias %u: root below 2^oas", c.name, c.oas, c.ias);
		EQ(topen_at(&d, &c, O / 2, 0), 0);
		root = d.info.root_pa;
		EXPECT(root >= O / 2 && root < O);
		tclose(&d);
		EQ(topen_at(&d, &c, O - ((uint64_t)d.info.root_tables
					 << d.info.granule),
			    0),
		   0);
		EXPECT(d.info.root_pa < O);
		s0 = d.s[0];
		s1 = d.n > 1 ? d.s[1] : 0;
		A = 3 * d.top;
		d.ta.pa_next = O;

		CTX("%s oas %u ias %u: map, table at 2^oas", c.name, c.oas,
		    c.ias);
		snap_take(&d, &s);
		iopgt_gather_init(&g, sizeof(g));
		EQ(iopgt_map(d.dom, A, tpa_for(&d, A), s0, RW, &g), -ENOMEM);
		EQ(g.nr_tables, 0);
		iopgt_sync(d.dom, &g);
		snap_check(&d, &s, __LINE__);
		snap_free(&s);
		EXPECT(d.ta.table_allocs > 1);
		EQ(d.ta.table_allocs, d.ta.table_frees + 1); /* the root */
		EXPECT_NOENT(&d, A);

		/* Below it again: the same map succeeds. */
		CTX("%s oas %u ias %u: map, tables below", c.name, c.oas,
		    c.ias);
		d.ta.pa_next = O / 4;
		if (s1) {
			tmap_ok(&d, A, tpa_for(&d, A), s1, RW);
			EXPECT_TR(&d, A + s0, tpa_for(&d, A + s0), s1, RW);

			/* An unmap that must split the superpage, with its
			 * new table above 2^oas: nothing changes. */
			CTX("%s oas %u ias %u: split, table at 2^oas", c.name,
			    c.oas, c.ias);
			low = d.ta.pa_next;
			d.ta.pa_next = O;
			snap_take(&d, &s);
			iopgt_gather_init(&g, sizeof(g));
			EQ(iopgt_unmap(d.dom, A + s0, s0, &g), -ENOMEM);
			EQ(g.kind, IOPGT_FLUSH_NONE);
			iopgt_sync(d.dom, &g);
			snap_check(&d, &s, __LINE__);
			snap_free(&s);
			EXPECT_TR(&d, A + s0, tpa_for(&d, A + s0), s1, RW);
			d.ta.pa_next = low; /* no pa twice */
			tunmap_ok(&d, A + s0, s0, s0);
			tunmap_ok(&d, A, s1, s1 - s0);
		} else {
			tmap_ok(&d, A, tpa_for(&d, A), s0, RW);
			EXPECT_TR(&d, A, tpa_for(&d, A), s0, RW);
			tunmap_ok(&d, A, s0, s0);
		}
		tclose(&d);

		/* The built-in allocator (pa = va) keeps its tables below
		 * 2^oas too. */
		CTX("%s oas %u ias %u: built-in allocator", c.name, c.oas,
		    c.ias);
		{
			struct iopgt_config cfg;
			struct iopgt_domain *dom;
			struct iopgt_info info;
			uint64_t reach = 0;

			tcfg_config(&c, &cfg);
			EQ(iopgt_domain_create(&cfg, &dom), 0);
			iopgt_domain_info(dom, &info, sizeof(info));
			iopgt_gather_init(&g, sizeof(g));
			for (uint64_t i = 0; i < 4; i++)
				EQ(iopgt_map(dom, (2 * i + 1) * d.top + s0,
					     O / 2 + i * d.top, s0, RW, &g),
				   0);
			EQ(iopgt_sync(dom, &g), 0);
			EQ(iopgt_for_each_table(dom, highest_table, &reach), 0);
			EXPECT(reach > info.root_pa && reach <= O);
			iopgt_domain_destroy(dom);
		}

		/* A root aligned to one table but not to its whole size
		 * (concatenated), or to nothing. */
		c = tcfgs[k];
		CTX("%s: root misaligned", c.name);
		EQ(topen_at(&d, &c, UINT64_C(1) << 32, 0), 0);
		root = (uint64_t)d.info.root_tables << d.info.granule;
		tclose(&d);
		if (root > (UINT64_C(1) << c.granule)) {
			CTX("%s: concatenated root aligned to one table",
			    c.name);
			EQ(topen_at(&d, &c, UINT64_C(1) << 32,
				    UINT64_C(1) << c.granule),
			   -EINVAL);
		}
		CTX("%s: root aligned to half its size", c.name);
		EQ(topen_at(&d, &c, UINT64_C(1) << 32, root / 2), -EINVAL);
	}
}

/* An optional argument selects tests by name (cmocka's filter). */
int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_alignment),
		cmocka_unit_test(test_bad_size),
		cmocka_unit_test(test_bad_range),
		cmocka_unit_test(test_overlap),
		cmocka_unit_test(test_overlap_superpage),
		cmocka_unit_test(test_bad_prot),
		cmocka_unit_test(test_unmap_hole),
		cmocka_unit_test(test_enomem_rollback),
		cmocka_unit_test(test_rollback_no_reclaim),
		cmocka_unit_test(test_table_beyond_oas),
	};

	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
