/* SPDX-License-Identifier: MIT */
/*
 * Per-behaviour tests of map, unmap and lookup, run for every format
 * configuration in tcfgs[]: leaf sizes and levels, superpage selection,
 * split, coalesce, superpages over empty tables, reclaim of emptied tables,
 * the top of the input range, flush kinds and domain geometry. Every step
 * also recounts each table's entries (tcheck_counts).
 *
 * On failure the configuration and the step are printed (see tctx).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "pt.h" /* the tables' state words, for test_uncounted */

/* ------------------------------------------------------------------------
 * Helpers on top of the shared domain fixture (common.h)
 */

/* Bytes of IOVA one entry at `level` covers. */
static uint64_t lsize(const struct tdom *d, unsigned level)
{
	return UINT64_C(1) << (d->info.granule + (d->info.granule - 3) * level);
}

/* Tables and leaves per level, from the library's own counts. */
struct tcnt {
	unsigned tables[8];
	uint64_t used[8];
	uint64_t leaves[8];
	unsigned total;
};

static int cnt_cb(void *arg, const struct iopgt_table_info *t)
{
	struct tcnt *c = arg;

	if (t->level < 8) {
		c->tables[t->level]++;
		c->used[t->level] += t->used;
	}
	c->total++;
	return 0;
}

static void tcount(struct tdom *d, struct tcnt *c)
{
	memset(c, 0, sizeof(*c));
	EQ(iopgt_for_each_table(d->dom, cnt_cb, c), 0);
	/* Each table but the root is pointed to by one entry a level up. */
	for (unsigned l = 0; l < 8; l++)
		c->leaves[l] = c->used[l] - (l > 0 ? c->tables[l - 1] : 0);
	EQ(c->tables[d->info.levels - 1], 1);
}

/* Leaves of each level, as expected: the levels not listed must be 0. */
static void expect_leaves_at(struct tdom *d, const uint64_t want[8], int line)
{
	struct tcnt c;

	tcount(d, &c);
	for (unsigned l = 0; l < d->info.levels; l++) {
		if (c.leaves[l] != want[l]) {
			fprintf(stderr,
				"[%s] line %d: %" PRIu64 " leaves of 0x%" PRIx64
				" at level %u, expected %" PRIu64 "\n",
				tctx, line, c.leaves[l], lsize(d, l), l,
				want[l]);
			_fail(__FILE__, line);
		}
	}
}
#define EXPECT_LEAVES(d, ...)                                 \
	do {                                                  \
		const uint64_t w_[8] = { __VA_ARGS__ };       \
		expect_leaves_at(d, w_, __LINE__);            \
	} while (0)

struct tfind {
	unsigned level;
	uint64_t iova;
	int found;
	struct iopgt_table_info ti;
};

static int find_cb(void *arg, const struct iopgt_table_info *t)
{
	struct tfind *f = arg;

	if (t->level == f->level && f->iova >= t->iova &&
	    f->iova - t->iova < t->span) {
		f->ti = *t;
		f->found++;
	}
	return 0;
}

/* The table at `level` whose span holds iova; 0 if there is none. */
static int find_table(struct tdom *d, unsigned level, uint64_t iova,
		      struct iopgt_table_info *ti)
{
	struct tfind f = { .level = level, .iova = iova };

	EQ(iopgt_for_each_table(d->dom, find_cb, &f), 0);
	EXPECT(f.found <= 1);
	if (f.found)
		*ti = f.ti;
	return f.found;
}

/* Protections worth a leaf each; every format tries those it offers (its
 * registry entry's prots: tests/test_formats.c checks those against the
 * specifications). */
static const unsigned all_prots[] = {
	IOPGT_PROT_READ,
	IOPGT_PROT_WRITE,
	RW,
	IOPGT_PROT_READ | IOPGT_PROT_EXEC,
	RW | IOPGT_PROT_EXEC,
	RW | IOPGT_PROT_EXEC | IOPGT_PROT_USER,
	IOPGT_PROT_READ | IOPGT_PROT_MMIO,
	RW | IOPGT_PROT_USER | IOPGT_PROT_MMIO,
	IOPGT_PROT_WRITE | IOPGT_PROT_EXEC | IOPGT_PROT_MMIO,
};

static const unsigned *fmt_prots(const struct tcfg *c, size_t *n)
{
	static unsigned out[sizeof(all_prots) / sizeof(all_prots[0])];
	uint32_t ok = tformat(c->format)->prots;

	*n = 0;
	for (size_t i = 0; i < sizeof(all_prots) / sizeof(all_prots[0]); i++)
		if (ok & (UINT32_C(1) << all_prots[i]))
			out[(*n)++] = all_prots[i];
	return out;
}

/* ------------------------------------------------------------------------
 * 1. Every leaf size at every level that allows it
 */

static void test_leaf_each_size(void **state)
{
	(void)state;
	for (size_t k = 0; k < n_tcfgs; k++) {
		const struct tcfg *c = &tcfgs[k];
		struct tdom d;
		size_t np;
		const unsigned *prots = fmt_prots(c, &np);

		CTX("%s", c->name);
		topen(&d, c, 0, 0, 0);
		for (unsigned i = 0; i < d.n; i++) {
			uint64_t sz = d.s[i], iova = 3 * sz;
			uint64_t pa = d.pa0 + 5 * sz;
			unsigned levels = d.info.levels;

			EQ(sz, lsize(&d, i));
			for (size_t p = 0; p < np; p++) {
				struct iopgt_gather g;
				struct iopgt_table_info ti;
				struct tcnt cnt;
				unsigned prot = prots[p];

				CTX("%s leaf 0x%" PRIx64 " prot 0x%x", c->name,
				    sz, prot);
				iopgt_gather_init(&g, sizeof(g));
				EQ(tmap_g(&d, iova, pa, sz, prot, &g, 1), 0);
				EQ(g.kind, IOPGT_FLUSH_NONE);
				EQ(g.nr_tables, 0);
				tsync(&d, &g);
				EQ(d.tf.n, 0);

				EXPECT_TR(&d, iova, pa, sz, prot);
				EXPECT_TR(&d, iova + sz - 1, pa + sz - 1, sz,
					  prot);
				EXPECT_TR(&d, iova + sz / 2 + 0x123,
					  pa + sz / 2 + 0x123, sz, prot);
				EXPECT_NOENT(&d, iova - d.s[0]);
				EXPECT_NOENT(&d, iova - 1);
				EXPECT_NOENT(&d, iova + sz);

				/* One table on each level from the root down
				 * to the leaf's; nothing below. */
				tcount(&d, &cnt);
				for (unsigned l = 0; l < levels; l++)
					EQ(cnt.tables[l], l >= i ? 1 : 0);
				EQ(cnt.total, levels - i);
				EQ(tlive(&d), levels - i);
				for (unsigned l = 0; l < levels; l++)
					EQ(cnt.leaves[l], l == i ? 1 : 0);
				EXPECT(find_table(&d, i, iova, &ti));
				EQ(ti.used, 1);
				EQ(ti.iova, i == levels - 1
						    ? 0
						    : iova & ~(lsize(&d, i + 1) - 1));
				EQ(ti.span, i == levels - 1 ? UINT64_C(1) << d.info.ias
							    : lsize(&d, i + 1));

				iopgt_gather_init(&g, sizeof(g));
				EQ(tunmap_g(&d, iova, sz, &g), sz);
				EQ(g.kind, i < levels - 1 ? IOPGT_FLUSH_WALK
							  : IOPGT_FLUSH_MODIFIED);
				EQ(g.nr_tables, levels - 1 - i);
				EXPECT(g.iova <= iova &&
				       g.last >= iova + sz - 1);
				tsync(&d, &g);
				EXPECT_NOENT(&d, iova);
				EXPECT_NOENT(&d, iova + sz - 1);
				EQ(tlive(&d), 1);
				tcount(&d, &cnt);
				EQ(cnt.total, 1);
				EQ(cnt.used[levels - 1], 0);
				d.tf.n = 0;
			}
		}
		tclose(&d);
	}
}

/* Output addresses 0 and the highest the domain's oas reaches, for every
 * leaf size and protection: the address field's lowest and highest bits
 * round-trip through the format's encoding. */
static void test_leaf_pa_extremes(void **state)
{
	(void)state;
	for (size_t k = 0; k < n_tcfgs; k++) {
		const struct tcfg *c = &tcfgs[k];
		struct tdom d;
		size_t np;
		const unsigned *prots = fmt_prots(c, &np);

		CTX("%s", c->name);
		topen(&d, c, 0, 0, 0);
		for (unsigned i = 0; i < d.n; i++) {
			uint64_t sz = d.s[i], iova = 3 * sz;
			const uint64_t pas[2] = {
				0, (UINT64_C(1) << d.info.oas) - sz
			};

			for (size_t p = 0; p < np; p++)
				for (int x = 0; x < 2; x++) {
					struct iopgt_gather g;

					CTX("%s leaf 0x%" PRIx64 " pa 0x%" PRIx64
					    " prot 0x%x",
					    c->name, sz, pas[x], prots[p]);
					tmap_ok(&d, iova, pas[x], sz, prots[p]);
					EXPECT_TR(&d, iova, pas[x], sz, prots[p]);
					EXPECT_TR(&d, iova + sz - 1,
						  pas[x] + sz - 1, sz,
						  prots[p]);
					iopgt_gather_init(&g, sizeof(g));
					EQ(tunmap_g(&d, iova, sz, &g), sz);
					tsync(&d, &g);
					EXPECT_NOENT(&d, iova);
					d.tf.n = 0;
				}
		}
		/* One past the highest output address: -ERANGE. */
		{
			struct iopgt_gather g;

			iopgt_gather_init(&g, sizeof(g));
			EQ(tmap_g(&d, 0, UINT64_C(1) << d.info.oas, d.s[0],
				  IOPGT_PROT_READ | IOPGT_PROT_WRITE, &g, 0),
			   -ERANGE);
		}
		tclose(&d);
	}
}

/* ------------------------------------------------------------------------
 * 2. Superpage selection
 */

static void test_superpage_selection(void **state)
{
	(void)state;
	for (size_t k = 0; k < n_tcfgs; k++) {
		const struct tcfg *c = &tcfgs[k];
		struct tdom d;
		uint64_t B, P, top, mid, s0;

		CTX("%s", c->name);
		topen(&d, c, 0, 0, 0);
		if (d.n < 2) {
			tclose(&d);
			continue;
		}
		top = d.top;
		mid = d.s[d.n - 2];
		s0 = d.s[0];
		B = 2 * top;
		P = d.pa0;

		/* top + 3 mid at top-aligned IOVA and PA: 1 + 3 leaves. */
		CTX("%s top+3mid", c->name);
		tmap_ok(&d, B, P, top + 3 * mid, RW);
		EXPECT_TR(&d, B, P, top, RW);
		EXPECT_TR(&d, B + top / 2 + 0x10, P + top / 2 + 0x10, top, RW);
		EXPECT_TR(&d, B + top - 1, P + top - 1, top, RW);
		EXPECT_TR(&d, B + top, P + top, mid, RW);
		EXPECT_TR(&d, B + top + 2 * mid + 5, P + top + 2 * mid + 5, mid,
			  RW);
		EXPECT_TR(&d, B + top + 3 * mid - 1, P + top + 3 * mid - 1, mid,
			  RW);
		EXPECT_NOENT(&d, B + top + 3 * mid);
		EXPECT_NOENT(&d, B - 1);
		{
			uint64_t w[8] = { 0 };
			w[d.n - 1] = 1;
			w[d.n - 2] += 3;
			expect_leaves_at(&d, w, __LINE__);
		}
		tunmap_ok(&d, B, top + 3 * mid, top + 3 * mid);
		EQ(tlive(&d), 1);

		/* With three sizes: top + 3 mid + 2 smallest. */
		if (d.n == 3) {
			CTX("%s top+3mid+2small", c->name);
			tmap_ok(&d, B, P, top + 3 * mid + 2 * s0, RW);
			EXPECT_LEAVES(&d, 2, 3, 1);
			EXPECT_TR(&d, B + top + 3 * mid + s0,
				  P + top + 3 * mid + s0, s0, RW);
			EXPECT_NOENT(&d, B + top + 3 * mid + 2 * s0);
			tunmap_ok(&d, B, top + 3 * mid + 2 * s0,
				  top + 3 * mid + 2 * s0);
			EQ(tlive(&d), 1);
		}

		/* PA not aligned like the IOVA: smallest leaves only. */
		CTX("%s pa off by granule", c->name);
		tmap_ok(&d, B, P + s0, 2 * d.s[1], RW);
		EXPECT_LEAVES(&d, 2 * d.s[1] / s0);
		EXPECT_TR(&d, B, P + s0, s0, RW);
		EXPECT_TR(&d, B + d.s[1] + 3 * s0 + 7, P + d.s[1] + 4 * s0 + 7,
			  s0, RW);
		EXPECT_TR(&d, B + 2 * d.s[1] - 1, P + s0 + 2 * d.s[1] - 1, s0,
			  RW);
		tunmap_ok(&d, B, 2 * d.s[1], 2 * d.s[1]);

		/* IOVA not aligned, PA aligned: the same. */
		CTX("%s iova off by granule", c->name);
		tmap_ok(&d, B + s0, P, 2 * d.s[1], RW);
		EXPECT_LEAVES(&d, 2 * d.s[1] / s0);
		EXPECT_TR(&d, B + s0, P, s0, RW);
		EXPECT_TR(&d, B + d.s[1], P + d.s[1] - s0, s0, RW);
		tunmap_ok(&d, B + s0, 2 * d.s[1], 2 * d.s[1]);

		/* PA aligned to the middle size only: middle leaves. */
		if (d.n == 3) {
			CTX("%s pa off by mid", c->name);
			tmap_ok(&d, B, P + d.s[1], top, RW);
			EXPECT_LEAVES(&d, 0, top / d.s[1], 0);
			EXPECT_TR(&d, B + top - 1, P + d.s[1] + top - 1, d.s[1],
				  RW);
			tunmap_ok(&d, B, top, top);
		}

		/* Recomputed along the range: small, mid, small. */
		CTX("%s recompute small-mid-small", c->name);
		{
			uint64_t iv = B + d.s[1] - s0, pa = P + d.s[1] - s0;
			uint64_t len = s0 + d.s[1] + s0;

			tmap_ok(&d, iv, pa, len, RW);
			EXPECT_LEAVES(&d, 2, 1);
			EXPECT_TR(&d, iv, pa, s0, RW);
			EXPECT_TR(&d, iv + s0, pa + s0, d.s[1], RW);
			EXPECT_TR(&d, iv + s0 + d.s[1] - 1,
				  pa + s0 + d.s[1] - 1, d.s[1], RW);
			EXPECT_TR(&d, iv + s0 + d.s[1], pa + s0 + d.s[1], s0,
				  RW);
			EXPECT_NOENT(&d, iv - s0);
			EXPECT_NOENT(&d, iv + len);
			tunmap_ok(&d, iv, len, len);
		}
		if (d.n == 3) {
			uint64_t m = d.s[1];
			uint64_t iv = B + top - m - s0, pa = P + top - m - s0;
			uint64_t len = s0 + m + top + m + s0;

			CTX("%s recompute s-m-top-m-s", c->name);
			tmap_ok(&d, iv, pa, len, RW);
			EXPECT_LEAVES(&d, 2, 2, 1);
			EXPECT_TR(&d, iv, pa, s0, RW);
			EXPECT_TR(&d, iv + s0, pa + s0, m, RW);
			EXPECT_TR(&d, iv + s0 + m, pa + s0 + m, top, RW);
			EXPECT_TR(&d, iv + s0 + m + top, pa + s0 + m + top, m,
				  RW);
			EXPECT_TR(&d, iv + len - 1, pa + len - 1, s0, RW);
			tunmap_ok(&d, iv, len, len);
		}

		/* Mixed sizes from separate calls, PAs out of order. */
		CTX("%s mixed", c->name);
		{
			uint64_t m = d.s[1];

			tmap_ok(&d, B, P + 4 * m, m, RW);
			tmap_ok(&d, B + m, P + 2 * s0, s0,
			        IOPGT_PROT_READ);
			tmap_ok(&d, B + m + s0, P + 9 * s0, 3 * s0, RW);
			tmap_ok(&d, B + 2 * m, P, m, RW);
			EXPECT_TR(&d, B + 1, P + 4 * m + 1, m, RW);
			EXPECT_TR(&d, B + m, P + 2 * s0, s0, IOPGT_PROT_READ);
			EXPECT_TR(&d, B + m + 3 * s0, P + 11 * s0, s0, RW);
			EXPECT_NOENT(&d, B + m + 4 * s0);
			EXPECT_TR(&d, B + 3 * m - 1, P + m - 1, m, RW);
			EXPECT_LEAVES(&d, 4, 2);
			tunmap_ok(&d, B, 3 * m, 2 * m + 4 * s0);
		}
		EQ(tlive(&d), 1);
		tclose(&d);
	}
}

static uint64_t all_items(const uint64_t *s, unsigned n)
{
	uint64_t all = 0;

	for (unsigned i = 0; i < n; i++)
		all |= s[i];
	return all;
}

static void test_leaf_sizes_config(void **state)
{
	(void)state;
	for (size_t k = 0; k < n_tcfgs; k++) {
		const struct tcfg *c = &tcfgs[k];
		struct iopgt_config cfg;
		struct iopgt_domain *dom = (void *)1;
		struct tdom d;
		uint64_t s[8], top, P;
		unsigned n, bits = c->granule - 3;

		CTX("%s", c->name);
		topen(&d, c, 0, 0, 0);
		n = d.n;
		memcpy(s, d.s, sizeof(s));
		tclose(&d);

		/* Explicitly all sizes: the same as 0. */
		{
			uint64_t all = 0;
			for (unsigned i = 0; i < n; i++)
				all |= s[i];
			topen(&d, c, 0, 0, all);
			EQ(d.info.leaf_sizes, all);
			tclose(&d);
		}

		/* Every size, leaf spans included (TSIZES_ALL: 0); a span
		 * (2 items of level 0) is offered iff the format has one. */
		topen(&d, c, 0, 0, TSIZES_ALL);
		const uint64_t every = d.info.leaf_sizes;
		const bool span0 = (every & (s[0] << 1)) != 0;
		EXPECT((every & all_items(s, n)) == all_items(s, n));
		tclose(&d);

		/* Invalid sets. */
		tcfg_config(c, &cfg);
		cfg.leaf_sizes = s[0] >> 1; /* never a leaf size */
		EQ(iopgt_domain_create(&cfg, &dom), -EINVAL);
		EXPECT(dom == NULL);
		cfg.leaf_sizes = s[0] | (s[0] << 1);
		if (span0) {
			/* The smallest leaf and its 2-item span. */
			topen(&d, c, 0, 0, s[0] | (s[0] << 1));
			EQ(d.info.leaf_sizes, s[0] | (s[0] << 1));
			tclose(&d);
		} else {
			EQ(iopgt_domain_create(&cfg, &dom), -EINVAL);
		}
		if (n > 1 && (every & (s[1] << 1))) {
			/* A span without its level's one-item leaf. */
			cfg.leaf_sizes = s[0] | (s[1] << 1);
			EQ(iopgt_domain_create(&cfg, &dom), -EINVAL);
		}
		/* The size one level above the largest is not offered. */
		cfg.leaf_sizes = s[0] | (n > 1 ? s[1] : 0) | (s[n - 1] << bits);
		EQ(iopgt_domain_create(&cfg, &dom), -EINVAL);
		/* A size of another granule (unless it is a span here). */
		cfg.leaf_sizes = s[0] | (c->granule == 12 ? IOPGT_SZ_16K
							  : IOPGT_SZ_4K);
		if (!(every & cfg.leaf_sizes & ~s[0]))
			EQ(iopgt_domain_create(&cfg, &dom), -EINVAL);
		if (n >= 2) {
			cfg.leaf_sizes = s[1]; /* no smallest size */
			EQ(iopgt_domain_create(&cfg, &dom), -EINVAL);
		}
		if (n >= 3) {
			cfg.leaf_sizes = s[0] | s[2]; /* a gap */
			EQ(iopgt_domain_create(&cfg, &dom), -EINVAL);
			cfg.leaf_sizes = s[1] | s[2];
			EQ(iopgt_domain_create(&cfg, &dom), -EINVAL);
		}
		if (c->format == IOPGT_FMT_X86_64 ||
		    (c->granule == 12 && n == 3)) {
			cfg.leaf_sizes = IOPGT_SZ_4K | IOPGT_SZ_1G;
			EQ(iopgt_domain_create(&cfg, &dom), -EINVAL);
		}

		if (n < 2)
			continue;
		top = s[n - 1];

		/* Smallest size only: everything is small leaves, and a full
		 * table is never coalesced. */
		CTX("%s leaf_sizes=smallest", c->name);
		topen(&d, c, 0, 0, s[0]);
		EQ(d.info.leaf_sizes, s[0]);
		EQ(d.n, 1);
		P = (UINT64_C(1) << (c->oas - 2)) + 5 * top;
		tmap_ok(&d, 2 * top, P, 2 * s[1], RW);
		EXPECT_LEAVES(&d, 2 * s[1] / s[0]);
		EXPECT_TR(&d, 2 * top + s[1], P + s[1], s[0], RW);
		{
			uint64_t co = tstats(&d).coalesced;
			uint64_t B = 4 * top, E = s[1] / s[0];
			for (uint64_t i = 0; i < E; i++) {
				struct iopgt_gather g;
				iopgt_gather_init(&g, sizeof(g));
				EQ(tmap_g(&d, B + i * s[0], P + i * s[0], s[0],
					  RW, &g, i + 1 == E),
				   0);
				iopgt_sync(d.dom, &g);
			}
			EQ(tstats(&d).coalesced, co);
			EXPECT_TR(&d, B, P, s[0], RW);
		}
		tclose(&d);

		if (n < 3)
			continue;
		/* Two smallest: top-aligned ranges become middle leaves. */
		CTX("%s leaf_sizes=two smallest", c->name);
		topen(&d, c, 0, 0, s[0] | s[1]);
		EQ(d.info.leaf_sizes, s[0] | s[1]);
		tmap_ok(&d, 2 * top, P, top, RW);
		EXPECT_LEAVES(&d, 0, top / s[1], 0);
		EXPECT_TR(&d, 2 * top + top / 2, P + top / 2, s[1], RW);
		EQ(tstats(&d).coalesced, 0);
		tclose(&d);
	}
}

/* ------------------------------------------------------------------------
 * 3. Split
 */

static void test_split(void **state)
{
	(void)state;
	for (size_t k = 0; k < n_tcfgs; k++) {
		const struct tcfg *c = &tcfgs[k];
		struct tdom d;
		uint64_t B, P, top, sub, s0, h, sp;
		unsigned n;

		CTX("%s", c->name);
		topen(&d, c, 0, 0, 0);
		n = d.n;
		if (n < 2) {
			tclose(&d);
			continue;
		}
		top = d.top;
		sub = d.s[n - 2];
		s0 = d.s[0];
		B = 2 * top;
		P = d.pa0;
		h = top / 2 + 3 * s0; /* offset of the hole */

		/* A hole inside one superpage. */
		CTX("%s hole", c->name);
		tmap_ok(&d, B, P, top, RW);
		sp = tstats(&d).split;
		{
			struct iopgt_gather g;
			iopgt_gather_init(&g, sizeof(g));
			EQ(tunmap_g(&d, B + h, s0, &g), s0);
			EXPECT(g.kind >= IOPGT_FLUSH_MODIFIED);
			EXPECT(g.iova <= B + h && g.last >= B + h + s0 - 1);
			tsync(&d, &g);
		}
		EQ(tstats(&d).split, sp + (n - 1));
		EXPECT_TR(&d, B, P, sub, RW);
		EXPECT_TR(&d, B + h - s0, P + h - s0, s0, RW);
		EXPECT_TR(&d, B + h - 1, P + h - 1, s0, RW);
		EXPECT_NOENT(&d, B + h);
		EXPECT_NOENT(&d, B + h + s0 - 1);
		EXPECT_TR(&d, B + h + s0, P + h + s0, s0, RW);
		EXPECT_TR(&d, B + top - 1, P + top - 1, sub, RW);
		if (n == 3) {
			EXPECT_TR(&d, B + h - d.s[1] + 5, P + h - d.s[1] + 5,
				  d.s[1], RW);
			EXPECT_LEAVES(&d, d.s[1] / s0 - 1, top / d.s[1] - 1, 0);
		} else {
			EXPECT_LEAVES(&d, top / s0 - 1, 0);
		}

		/* Filling the hole coalesces back to the one superpage. */
		CTX("%s refill hole", c->name);
		{
			uint64_t co = tstats(&d).coalesced;
			tmap_ok(&d, B + h, P + h, s0, RW);
			EQ(tstats(&d).coalesced, co + (n - 1));
			EXPECT_TR(&d, B + h, P + h, top, RW);
			{
				uint64_t w[8] = { 0 };
				w[n - 1] = 1;
				expect_leaves_at(&d, w, __LINE__);
			}
		}
		tunmap_ok(&d, B, top, top);
		EQ(tlive(&d), 1);

		/* An unmap straddling two superpages splits both. */
		CTX("%s straddle", c->name);
		tmap_ok(&d, B, P, 2 * top, RW);
		sp = tstats(&d).split;
		tunmap_ok(&d, B + top - 2 * s0, 4 * s0, 4 * s0);
		EQ(tstats(&d).split, sp + 2 * (n - 1));
		EXPECT_TR(&d, B, P, sub, RW);
		EXPECT_TR(&d, B + top - 3 * s0, P + top - 3 * s0, s0, RW);
		EXPECT_NOENT(&d, B + top - 2 * s0);
		EXPECT_NOENT(&d, B + top - 1);
		EXPECT_NOENT(&d, B + top);
		EXPECT_NOENT(&d, B + top + s0);
		EXPECT_TR(&d, B + top + 2 * s0, P + top + 2 * s0, s0, RW);
		EXPECT_TR(&d, B + 2 * top - 1, P + 2 * top - 1, sub, RW);
		/* What is left of each. */
		tunmap_ok(&d, B, top - 2 * s0, top - 2 * s0);
		EXPECT_NOENT(&d, B);
		EXPECT_TR(&d, B + top + 2 * s0, P + top + 2 * s0, s0, RW);
		tunmap_ok(&d, B, 2 * top, top - 2 * s0);
		EQ(tlive(&d), 1);

		/* A whole superpage plus part of the next, in one call. */
		CTX("%s one and a part", c->name);
		tmap_ok(&d, B, P, 2 * top, RW);
		tunmap_ok(&d, B, top + s0, top + s0);
		EXPECT_NOENT(&d, B + top);
		EXPECT_TR(&d, B + top + s0, P + top + s0, s0, RW);
		EXPECT_TR(&d, B + 2 * top - 1, P + 2 * top - 1, sub, RW);
		tunmap_ok(&d, B, 2 * top, top - s0);
		EQ(tlive(&d), 1);

		/* The split table cannot be allocated: nothing changes. */
		CTX("%s split enomem", c->name);
		tmap_ok(&d, B, P, top, RW);
		{
			char *before = tdump(d.dom);
			uint64_t live = tlive(&d);
			long f;
			int64_t r = -ENOMEM;

			sp = tstats(&d).split;
			for (f = 1; f < 64 && r == -ENOMEM; f++) {
				struct iopgt_gather g;
				char *after;

				CTX("%s split enomem fail_after %ld", c->name,
				    f);
				d.ta.fail_after = f;
				iopgt_gather_init(&g, sizeof(g));
				r = tunmap_g(&d, B + h, s0, &g);
				d.ta.fail_after = 0;
				if (r != -ENOMEM) {
					tsync(&d, &g);
					break;
				}
				EQ(g.nr_tables, 0);
				EQ(g.kind, IOPGT_FLUSH_NONE);
				tsync(&d, &g);
				after = tdump(d.dom);
				STREQ(before, after);
				free(after);
				EQ(tlive(&d), live);
				EQ(tstats(&d).split, sp);
				EXPECT_TR(&d, B + h, P + h, top, RW);
			}
			CTX("%s split enomem", c->name);
			/* At least the first allocation failed. */
			EXPECT(f > 1);
			EQ(r, s0);
			EQ(tstats(&d).split, sp + (n - 1));
			EXPECT_NOENT(&d, B + h);
			free(before);
		}
		tunmap_ok(&d, B, top, top - s0);
		EQ(tlive(&d), 1);

		if (n < 3) {
			tclose(&d);
			continue;
		}

		/* A two-page hole across a middle-size boundary inside one
		 * top-size leaf: three tables at once (one middle-level, two
		 * smallest-level); all or nothing under allocation failure. */
		CTX("%s hole across a middle boundary", c->name);
		tmap_ok(&d, B, P, top, RW);
		{
			uint64_t m = d.s[1], hb = B + 7 * m - s0;
			char *before = tdump(d.dom);
			uint64_t live = tlive(&d);
			int64_t r = -ENOMEM;
			long f;

			sp = tstats(&d).split;
			for (f = 1; f < 64; f++) {
				struct iopgt_gather g;
				char *after;

				CTX("%s hole across, fail_after %ld", c->name, f);
				d.ta.fail_after = f;
				iopgt_gather_init(&g, sizeof(g));
				r = tunmap_g(&d, hb, 2 * s0, &g);
				d.ta.fail_after = 0;
				tsync(&d, &g);
				if (r != -ENOMEM)
					break;
				after = tdump(d.dom);
				STREQ(before, after);
				free(after);
				EQ(tlive(&d), live);
				EQ(tstats(&d).split, sp);
			}
			CTX("%s hole across a middle boundary", c->name);
			EXPECT(f > 1);
			EQ(r, 2 * s0);
			EQ(tstats(&d).split, sp + 3);
			EQ(tlive(&d), live + 3);
			EXPECT_TR(&d, hb - s0, P + 7 * m - 2 * s0, s0, RW);
			EXPECT_NOENT(&d, hb);
			EXPECT_NOENT(&d, hb + s0);
			EXPECT_TR(&d, hb + 2 * s0, P + 7 * m + s0, s0, RW);
			EXPECT_TR(&d, B, P, m, RW);
			EXPECT_TR(&d, B + top - 1, P + top - 1, m, RW);
			EXPECT_LEAVES(&d, 2 * (m / s0 - 1), top / m - 2, 0);
			free(before);
		}
		tunmap_ok(&d, B, top, top - 2 * s0);
		EQ(tlive(&d), 1);

		/* The two ends split leaves of different sizes. */
		CTX("%s ends in a middle and a top leaf", c->name);
		{
			uint64_t m = d.s[1];

			tmap_ok(&d, B + top - m, P + top - m, m + top, RW);
			EXPECT_LEAVES(&d, 0, 1, 1);
			sp = tstats(&d).split;
			tunmap_ok(&d, B + top - 3 * s0, 8 * s0, 8 * s0);
			EQ(tstats(&d).split, sp + 3);
			EXPECT_TR(&d, B + top - m, P + top - m, s0, RW);
			EXPECT_TR(&d, B + top - 4 * s0, P + top - 4 * s0, s0,
				  RW);
			EXPECT_NOENT(&d, B + top - 3 * s0);
			EXPECT_NOENT(&d, B + top + 4 * s0);
			EXPECT_TR(&d, B + top + 5 * s0, P + top + 5 * s0, s0,
				  RW);
			EXPECT_TR(&d, B + top + m, P + top + m, m, RW);
			EXPECT_LEAVES(&d, m / s0 - 3 + m / s0 - 5,
				      top / m - 1, 0);
			tunmap_ok(&d, B, 2 * top, m + top - 8 * s0);
		}
		EQ(tlive(&d), 1);
		tclose(&d);
	}
}

/* ------------------------------------------------------------------------
 * 4. Coalesce
 */

/* Map the table's worth of smallest pages at B one by one, PA from pa(i),
 * prot from prot(i); returns the gather of the last map (unsynced). */
static void map_pages(struct tdom *d, uint64_t B, uint64_t n,
		      const uint64_t *pas, const unsigned *prots,
		      struct iopgt_gather *last)
{
	uint64_t s0 = d->s[0];

	for (uint64_t i = 0; i < n; i++) {
		struct iopgt_gather g;
		int check = i % 1024 == 0 || i + 1 == n;

		iopgt_gather_init(&g, sizeof(g));
		EQ(tmap_g(d, B + i * s0, pas[i], s0, prots[i], &g, check), 0);
		if (i + 1 == n) {
			*last = g;
			break;
		}
		EQ(g.kind, IOPGT_FLUSH_NONE);
		EQ(g.nr_tables, 0);
		iopgt_sync(d->dom, &g);
	}
}

static void test_coalesce(void **state)
{
	(void)state;
	for (size_t k = 0; k < n_tcfgs; k++) {
		const struct tcfg *c = &tcfgs[k];
		struct tdom d;
		uint64_t B, P, s0, s1, E, co, *pas;
		unsigned *prots;
		struct iopgt_gather g;

		CTX("%s", c->name);
		topen(&d, c, 0, CACHE_DEFAULT, 0);
		if (d.n < 2) {
			tclose(&d);
			continue;
		}
		s0 = d.s[0];
		s1 = d.s[1];
		E = s1 / s0;
		B = 2 * d.top + s1;
		P = d.pa0 + s1;
		pas = calloc(E, sizeof(*pas));
		prots = calloc(E, sizeof(*prots));
		EXPECT(pas && prots);

		/* The last of E contiguous pages makes a superpage. */
		CTX("%s coalesce", c->name);
		for (uint64_t i = 0; i < E; i++) {
			pas[i] = P + i * s0;
			prots[i] = RW;
		}
		co = tstats(&d).coalesced;
		map_pages(&d, B, E - 1, pas, prots, &g);
		tsync(&d, &g);
		EXPECT_TR(&d, B, P, s0, RW);
		EQ(tstats(&d).coalesced, co);
		iopgt_gather_init(&g, sizeof(g));
		EQ(tmap_g(&d, B + (E - 1) * s0, pas[E - 1], s0, RW, &g, 1), 0);
		EQ(g.kind, IOPGT_FLUSH_WALK);
		EXPECT(g.nr_tables >= 1);
		EXPECT(g.iova <= B && g.last >= B + s1 - 1);
		tsync(&d, &g);
		EQ(tstats(&d).coalesced, co + 1);
		EXPECT_TR(&d, B, P, s1, RW);
		EXPECT_TR(&d, B + 5 * s0 + 7, P + 5 * s0 + 7, s1, RW);
		EXPECT_TR(&d, B + s1 - 1, P + s1 - 1, s1, RW);
		{
			uint64_t w[8] = { 0 };
			w[1] = 1;
			expect_leaves_at(&d, w, __LINE__);
		}
		tunmap_ok(&d, B, s1, s1);

		/* Two calls of half a table each. */
		CTX("%s coalesce two halves", c->name);
		co = tstats(&d).coalesced;
		tmap_ok(&d, B, P, s1 / 2, RW);
		EQ(tstats(&d).coalesced, co);
		tmap_ok(&d, B + s1 / 2, P + s1 / 2, s1 / 2, RW);
		EQ(tstats(&d).coalesced, co + 1);
		EXPECT_TR(&d, B + 3 * s0, P + 3 * s0, s1, RW);
		tunmap_ok(&d, B, s1, s1);

		/* A call that fills a table from the front, after its last
		 * page was mapped first. */
		CTX("%s coalesce filled from the front", c->name);
		co = tstats(&d).coalesced;
		tmap_ok(&d, B + s1 - s0, P + s1 - s0, s0, RW);
		tmap_ok(&d, B, P, s1 - s0, RW);
		EQ(tstats(&d).coalesced, co + 1);
		EXPECT_TR(&d, B + s1 - s0, P + s1 - s0, s1, RW);
		tunmap_ok(&d, B, s1, s1);

		/* One call that completes the tables at both of its ends,
		 * with a whole superpage between them. */
		CTX("%s coalesce both ends", c->name);
		co = tstats(&d).coalesced;
		tmap_ok(&d, B, P, s0, RW);
		tmap_ok(&d, B + 3 * s1 - s0, P + 3 * s1 - s0, s0, RW);
		tmap_ok(&d, B + s0, P + s0, 3 * s1 - 2 * s0, RW);
		EQ(tstats(&d).coalesced, co + 2);
		EXPECT_TR(&d, B, P, s1, RW);
		EXPECT_TR(&d, B + s1 + s0, P + s1 + s0, s1, RW);
		EXPECT_TR(&d, B + 3 * s1 - 1, P + 3 * s1 - 1, s1, RW);
		{
			uint64_t w[8] = { 0 };
			w[1] = 3;
			expect_leaves_at(&d, w, __LINE__);
		}
		tunmap_ok(&d, B, 3 * s1, 3 * s1);

		/* Not coalesced: one page with other attributes. */
		CTX("%s refused: attrs", c->name);
		co = tstats(&d).coalesced;
		prots[E / 2] = IOPGT_PROT_READ;
		map_pages(&d, B, E, pas, prots, &g);
		EQ(g.nr_tables, 0);
		tsync(&d, &g);
		EQ(tstats(&d).coalesced, co);
		EXPECT_TR(&d, B, P, s0, RW);
		EXPECT_TR(&d, B + (E / 2) * s0, P + (E / 2) * s0, s0,
			  IOPGT_PROT_READ);
		EXPECT_LEAVES(&d, E);
		tunmap_ok(&d, B, s1, s1);
		prots[E / 2] = RW;

		/* Not coalesced: PA not contiguous. */
		CTX("%s refused: pa", c->name);
		pas[E / 3] = P + (E / 3 + 1) * s0;
		map_pages(&d, B, E, pas, prots, &g);
		tsync(&d, &g);
		EQ(tstats(&d).coalesced, co);
		EXPECT_TR(&d, B + (E / 3) * s0, P + (E / 3 + 1) * s0, s0, RW);
		EXPECT_LEAVES(&d, E);
		tunmap_ok(&d, B, s1, s1);

		/* Not coalesced: contiguous, but the PA is not aligned. */
		CTX("%s refused: pa alignment", c->name);
		for (uint64_t i = 0; i < E; i++)
			pas[i] = P + (i + 1) * s0;
		map_pages(&d, B, E, pas, prots, &g);
		tsync(&d, &g);
		EQ(tstats(&d).coalesced, co);
		EXPECT_TR(&d, B, P + s0, s0, RW);
		EXPECT_LEAVES(&d, E);
		tunmap_ok(&d, B, s1, s1);
		tclose(&d);

		/* Not coalesced: IOPGT_OPT_NO_COALESCE. */
		CTX("%s refused: NO_COALESCE", c->name);
		topen(&d, c, IOPGT_OPT_NO_COALESCE, CACHE_DEFAULT, 0);
		for (uint64_t i = 0; i < E; i++)
			pas[i] = P + i * s0;
		map_pages(&d, B, E, pas, prots, &g);
		EQ(g.nr_tables, 0);
		tsync(&d, &g);
		EQ(tstats(&d).coalesced, 0);
		EXPECT_TR(&d, B, P, s0, RW);
		EXPECT_LEAVES(&d, E);
		/* Nor a table filled in one call. */
		tmap_ok(&d, B + s1, P + s1, s1 / 2, RW);
		tmap_ok(&d, B + s1 + s1 / 2, P + s1 + s1 / 2, s1 / 2, RW);
		EQ(tstats(&d).coalesced, 0);
		EXPECT_TR(&d, B + s1, P + s1, s0, RW);
		tunmap_ok(&d, B, 2 * s1, 2 * s1);
		tclose(&d);

		if (d.n == 3) {
			uint64_t top = d.top, E1 = top / s1;

			/* Cascade: the last page completes a middle leaf,
			 * which completes a top leaf. */
			CTX("%s cascade", c->name);
			topen(&d, c, 0, CACHE_DEFAULT, 0);
			B = 2 * top;
			P = d.pa0;
			for (uint64_t i = 0; i < E; i++)
				pas[i] = P + (E1 - 1) * s1 + i * s0;
			tmap_ok(&d, B, P, (E1 - 1) * s1, RW);
			EQ(tstats(&d).coalesced, 0);
			map_pages(&d, B + (E1 - 1) * s1, E, pas, prots, &g);
			EQ(g.kind, IOPGT_FLUSH_WALK);
			EQ(g.nr_tables, 2);
			EXPECT(g.iova <= B && g.last >= B + top - 1);
			tsync(&d, &g);
			EQ(tstats(&d).coalesced, 2);
			EXPECT_TR(&d, B + 12345 * s0 + 9, P + 12345 * s0 + 9,
				  top, RW);
			EXPECT_TR(&d, B + top - 1, P + top - 1, top, RW);
			EXPECT_LEAVES(&d, 0, 0, 1);
			tunmap_ok(&d, B, top, top);
			tclose(&d);

			/* With the top size excluded, the cascade stops at
			 * the middle size. */
			CTX("%s cascade limited", c->name);
			topen(&d, c, 0, CACHE_DEFAULT, s0 | s1);
			tmap_ok(&d, B, P, (E1 - 1) * s1, RW);
			map_pages(&d, B + (E1 - 1) * s1, E, pas, prots, &g);
			EQ(g.nr_tables, 1);
			tsync(&d, &g);
			EQ(tstats(&d).coalesced, 1);
			EXPECT_TR(&d, B + top - 1, P + top - 1, s1, RW);
			EXPECT_LEAVES(&d, 0, E1, 0);
			tunmap_ok(&d, B, top, top);
			tclose(&d);
		}
		free(pas);
		free(prots);
	}
}

/* ------------------------------------------------------------------------
 * 5. A superpage over emptied tables (reclaim off)
 */

static void superpage_over_empty_tables(unsigned options)
{
	for (size_t k = 0; k < n_tcfgs; k++) {
		const struct tcfg *c = &tcfgs[k];
		struct tdom d;
		uint64_t B, P, s0;

		CTX("%s options 0x%x", c->name, options);
		topen(&d, c, options, 0, 0);
		s0 = d.s[0];
		P = d.pa0;
		for (unsigned j = 1; j < d.n; j++) {
			uint64_t sz = d.s[j], live;
			struct iopgt_gather g;
			char *before, *after;

			B = (2 + 2 * j) * d.top; /* a subtree of its own */

			CTX("%s over empty, leaf 0x%" PRIx64, c->name, sz);
			tmap_ok(&d, B + sz - s0, P, s0, RW);
			live = tlive(&d);
			tunmap_ok(&d, B + sz - s0, s0, s0);
			EQ(tlive(&d), live); /* the tables stay */
			for (unsigned l = 0; l < j; l++) {
				struct iopgt_table_info ti;
				EXPECT(find_table(&d, l, B + sz - s0, &ti));
				EQ(ti.used, l ? 1 : 0); /* only the child */
			}

			iopgt_gather_init(&g, sizeof(g));
			EQ(tmap_g(&d, B, P, sz, RW, &g, 1), 0);
			EQ(g.kind, IOPGT_FLUSH_WALK);
			EQ(g.nr_tables, j);
			EXPECT(g.iova <= B && g.last >= B + sz - 1);
			tsync(&d, &g);
			EQ(tlive(&d), live - j);
			EXPECT_TR(&d, B + sz - s0, P + sz - s0, sz, RW);
			EXPECT_TR(&d, B, P, sz, RW);
			tunmap_ok(&d, B, sz, sz);

			/* With a live mapping underneath: -EEXIST, no
			 * change. */
			CTX("%s over live, leaf 0x%" PRIx64, c->name, sz);
			tmap_ok(&d, B + sz - s0, P + 7 * sz, s0, RW);
			before = tdump(d.dom);
			live = tlive(&d);
			iopgt_gather_init(&g, sizeof(g));
			EQ(tmap_g(&d, B, P, sz, RW, &g, 1), -EEXIST);
			tsync(&d, &g);
			after = tdump(d.dom);
			STREQ(before, after);
			free(after);
			free(before);
			EQ(tlive(&d), live);
			EXPECT_TR(&d, B + sz - s0, P + 7 * sz, s0, RW);
			EXPECT_NOENT(&d, B);
			tunmap_ok(&d, B + sz - s0, s0, s0);
		}
		tclose(&d);
	}
}

static void test_superpage_over_empty_tables(void **state)
{
	(void)state;
	superpage_over_empty_tables(IOPGT_OPT_NO_RECLAIM);
	/* The same without counts: emptiness is then found by a scan. */
	superpage_over_empty_tables(IOPGT_OPT_NO_RECLAIM |
				    IOPGT_OPT_NO_COALESCE);
}

/* A table kept empty (NO_RECLAIM) under the last entry of a table whose
 * other entries hold contiguous leaves: the map that puts the last leaf
 * over the kept subtree fills the table, which then coalesces into the
 * leaf of the level above, as it does when no empty table stands there.
 * For each leaf size that has a larger one above it. */
static void coalesce_over_empty_tables(unsigned options)
{
	for (size_t k = 0; k < n_tcfgs; k++) {
		const struct tcfg *c = &tcfgs[k];
		struct tdom d;
		uint64_t s0, P;

		CTX("%s options 0x%x", c->name, options);
		topen(&d, c, options, 0, 0);
		s0 = d.s[0];
		P = d.pa0;
		for (unsigned j = 1; j + 1 < d.n; j++) {
			uint64_t sz = d.s[j], up = d.s[j + 1], E = up / sz;
			uint64_t B = (2 + 2 * j) * d.top, co, live;
			struct iopgt_gather g;

			CTX("%s options 0x%x, leaf 0x%" PRIx64 " under 0x%"
			    PRIx64, c->name, options, sz, up);
			/* Tables down to level 0 under the last entry, kept
			 * empty. */
			tmap_ok(&d, B + up - s0, P + up - s0, s0, RW);
			tunmap_ok(&d, B + up - s0, s0, s0);
			co = tstats(&d).coalesced;
			tmap_ok(&d, B, P, (E - 1) * sz, RW);
			EQ(tstats(&d).coalesced, co);
			live = tlive(&d);

			/* The last leaf replaces the kept subtree (j tables)
			 * and completes the table, which goes too. */
			iopgt_gather_init(&g, sizeof(g));
			EQ(tmap_g(&d, B + (E - 1) * sz, P + (E - 1) * sz, sz,
				  RW, &g, 1),
			   0);
			EQ(g.kind, IOPGT_FLUSH_WALK);
			EQ(g.nr_tables, j + 1);
			EXPECT(g.iova <= B && g.last >= B + up - 1);
			tsync(&d, &g);
			EQ(tstats(&d).coalesced, co + 1);
			EQ(tlive(&d), live - (j + 1));
			EXPECT(tflush_walk_covers(&d.tf, B, B + up - 1, 0,
						  UINT64_MAX));
			EXPECT_TR(&d, B, P, up, RW);
			EXPECT_TR(&d, B + up - 1, P + up - 1, up, RW);
			{
				uint64_t w[8] = { 0 };
				w[j + 1] = 1;
				expect_leaves_at(&d, w, __LINE__);
			}
			tunmap_ok(&d, B, up, up);
		}
		tclose(&d);
	}
}

static void test_coalesce_over_empty_tables(void **state)
{
	(void)state;
	coalesce_over_empty_tables(IOPGT_OPT_NO_RECLAIM);
	/* Without counts, a probe stands for the count. */
	coalesce_over_empty_tables(IOPGT_OPT_NO_RECLAIM | IOPGT_OPT_NO_COUNTS);
}

struct st_arg {
	struct iopgt_domain *dom;
	bool written;
};

/* Is the table's state word (pt.h) not zero? */
static int st_nonzero(void *arg, const struct iopgt_table_info *ti)
{
	struct st_arg *a = arg;

	a->written |= atomic_load_explicit(&tdesc(a->dom, ti->va)->st,
					   memory_order_relaxed) != 0;
	return 0;
}

static bool some_state_word_written(struct tdom *d)
{
	struct st_arg a = { d->dom, false };

	iopgt_for_each_table(d->dom, st_nonzero, &a);
	return a.written;
}

/* A domain that does not ask for counts (the default; NO_COUNTS names
 * it), which still coalesces, and reclaims unless NO_RECLAIM, or one that
 * neither reclaims nor coalesces, keeps no counts: its maps and unmaps
 * write no table's state word (so writers of disjoint ranges under one
 * table share no written line but their entries), but for the freeze of a
 * table it unlinks or coalesces. Twin: the same operations on a counted
 * domain (IOPGT_OPT_COUNTS with NO_RECLAIM) do write them, so the check
 * can fail. Also: a failed map leaves the
 * mappings as they were and, without counts and without reclaim, the
 * tables it created in place, empty (nothing tells them from a
 * neighbour's, whose fills do not check for an unlink there); with
 * reclaim it unlinks them, as with counts. Nothing leaks. */
static void test_uncounted(void **state)
{
	const unsigned opts[5] = {
		IOPGT_OPT_NO_RECLAIM | IOPGT_OPT_NO_COALESCE,
		IOPGT_OPT_NO_RECLAIM | IOPGT_OPT_COUNTS, /* the twin */
		IOPGT_OPT_NO_COUNTS | IOPGT_OPT_NO_RECLAIM,
		IOPGT_OPT_NO_COUNTS,
		0,
	};

	(void)state;
	for (size_t k = 0; k < n_tcfgs; k++) {
		const struct tcfg *c = &tcfgs[k];

		for (unsigned o = 0; o < 5; o++) {
			const bool twin = o == 1;
			/* a failed map keeps the tables it created */
			const bool keeps = !twin &&
					   (opts[o] & IOPGT_OPT_NO_RECLAIM);
			struct tdom d;
			uint64_t B, P, s0, live;
			unsigned j;

			CTX("%s options 0x%x", c->name, opts[o]);
			topen(&d, c, opts[o], CACHE_DEFAULT, 0);
			/* info reports the options as configured */
			EQ(d.info.options, opts[o]);
			s0 = d.s[0];
			P = d.pa0;
			B = 2 * d.top;
			/* Single pages, a run, each leaf size, unmapped again
			 * in pieces and whole (splits). */
			tmap_ok(&d, B, P, s0, RW);
			tmap_ok(&d, B + 4 * s0, P + 4 * s0, 3 * s0, RW);
			for (j = 1; j < d.n; j++)
				tmap_ok(&d, B + d.s[j] * 2, P + d.s[j] * 2,
					d.s[j], RW);
			EXPECT_TR(&d, B, P, s0, RW);
			EXPECT_TR(&d, B + 5 * s0, P + 5 * s0, s0, RW);
			EQ(some_state_word_written(&d), twin);
			if (o == 0) {
				/* No section either: a single page maps and
				 * unmaps even in a leaf table marked frozen
				 * (with counts that would wait forever; and
				 * with NO_COUNTS, whose clears wait for a
				 * coalescer to let go of a frozen table). */
				struct iopgt_table_info ti;
				struct iopgt_gather g;
				struct pt_table *t;

				EXPECT(find_table(&d, 0, B, &ti));
				t = pt_desc(d.dom,
					    (pt_entry_t *)(uintptr_t)ti.va);
				iopgt_gather_init(&g, sizeof(g));
				atomic_fetch_or(&t->st, PT_ST_F);
				EQ(iopgt_map(d.dom, B + 9 * s0, P + 9 * s0, s0,
					     RW, &g),
				   0);
				EXPECT_TR(&d, B + 9 * s0, P + 9 * s0, s0, RW);
				EQ(iopgt_unmap(d.dom, B + 9 * s0, s0, &g),
				   (int64_t)s0);
				atomic_fetch_and(&t->st, ~PT_ST_F);
				tsync(&d, &g);
				EXPECT_NOENT(&d, B + 9 * s0);
			}
			tunmap_ok(&d, B, s0, s0);
			tunmap_ok(&d, B + 5 * s0, s0, s0);
			for (j = 1; j < d.n; j++) {
				tunmap_ok(&d, B + d.s[j] * 2 + s0, s0, s0);
				EXPECT_TR(&d, B + d.s[j] * 2, P + d.s[j] * 2,
					  s0, RW);
			}
			/* Left: two of the run's pages, each leaf but the
			 * page unmapped from it. */
			live = 2 * s0;
			for (j = 1; j < d.n; j++)
				live += d.s[j] - s0;
			tunmap_ok(&d, B, 4 * d.top, live);
			EXPECT_NOENT(&d, B + 4 * s0);
			/* (the twin's upper tables still count their table
			 * entries) */
			EQ(some_state_word_written(&d), twin);
			EQ(tcheck_counts(d.dom), 0);

			/* Maps where new tables are needed, failing on the
			 * k-th allocation, k = 1, 2, ... until one succeeds:
			 * nothing is mapped by a failed one; the tables it
			 * created stay without counts and reclaim (and some
			 * did, where more than one was needed), and go
			 * otherwise. */
			{
				uint64_t X = d.end / 2 + d.top; /* fresh */
				bool grew = false;
				int r = -ENOMEM;

				for (long f = 1; f < 32 && r; f++) {
					struct iopgt_gather g;

					live = tlive(&d);
					iopgt_gather_init(&g, sizeof(g));
					d.ta.fail_after = f;
					r = tmap_g(&d, X, P, s0, RW, &g, 1);
					d.ta.fail_after = 0;
					iopgt_sync(d.dom, &g);
					if (!r)
						break;
					EQ(r, -ENOMEM);
					EXPECT_NOENT(&d, X);
					if (!keeps)
						EQ(tlive(&d), live);
					else
						EXPECT(tlive(&d) >= live);
					grew |= tlive(&d) > live;
				}
				EQ(r, 0);
				EXPECT(grew == (keeps && d.info.levels >= 3));
				EXPECT_TR(&d, X, P, s0, RW);
				tunmap_ok(&d, X, s0, s0);
			}
			tclose(&d);
		}
	}
}

/* ------------------------------------------------------------------------
 * 6. Reclaim of emptied tables
 */

struct tmapping {
	uint64_t iova, size, leaf; /* leaf: size of the leaf at the end */
};

/* An assortment of mappings that share and cross tables; fits in the
 * smallest input space (8 top-size leaves with the 64K granule). */
static unsigned assorted(const struct tdom *d, struct tmapping m[8])
{
	uint64_t s0 = d->s[0], s1 = d->n > 1 ? d->s[1] : 64 * s0;
	uint64_t top = d->top > s1 ? d->top : s1;
	uint64_t l1 = d->n > 1 ? s1 : s0;
	unsigned n = 0;

	m[n++] = (struct tmapping){ 0, s0, s0 };
	m[n++] = (struct tmapping){ s1 + 3 * s0, 5 * s0, s0 };
	m[n++] = (struct tmapping){ 2 * top, top, d->top >= top ? d->top : s0 };
	m[n++] = (struct tmapping){ 4 * top - 2 * s0, 4 * s0, s0 };
	m[n++] = (struct tmapping){ 5 * top - s1 / 2 + s0, s1 + 2 * s0, s0 };
	m[n++] = (struct tmapping){ d->end - 2 * top, s1, l1 };
	m[n++] = (struct tmapping){ d->end - s0, s0, s0 };
	return n;
}

static uint64_t map_assorted(struct tdom *d, struct tmapping m[8],
			     unsigned *nm)
{
	uint64_t total = 0;

	*nm = assorted(d, m);
	for (unsigned i = 0; i < *nm; i++) {
		tmap_ok(d, m[i].iova, tpa_for(d, m[i].iova), m[i].size, RW);
		total += m[i].size;
	}
	for (unsigned i = 0; i < *nm; i++) {
		EXPECT_TR(d, m[i].iova, tpa_for(d, m[i].iova),
			  m[i].size == m[i].leaf ? m[i].leaf : d->s[0], RW);
		EXPECT_TR(d, m[i].iova + m[i].size - 1,
			  tpa_for(d, m[i].iova) + m[i].size - 1, m[i].leaf, RW);
	}
	return total;
}

static void expect_empty(struct tdom *d, struct tmapping m[8], unsigned nm)
{
	for (unsigned i = 0; i < nm; i++) {
		EXPECT_NOENT(d, m[i].iova);
		EXPECT_NOENT(d, m[i].iova + m[i].size - 1);
	}
}

static void test_reclaim(void **state)
{
	(void)state;
	for (size_t k = 0; k < n_tcfgs; k++) {
		const struct tcfg *c = &tcfgs[k];
		struct tmapping m[8];
		struct tdom d;
		struct iopgt_gather g;
		struct tcnt cnt;
		uint64_t total, live;
		unsigned nm;

		/* One unmap of everything; no table cache. */
		CTX("%s one unmap", c->name);
		topen(&d, c, 0, 0, 0);
		total = map_assorted(&d, m, &nm);
		live = tlive(&d);
		EXPECT(live > 1);
		iopgt_gather_init(&g, sizeof(g));
		EQ(tunmap_g(&d, 0, d.end, &g), total);
		EQ(g.kind, IOPGT_FLUSH_WALK);
		EQ(g.nr_tables, live - 1);
		EQ(tlive(&d), live); /* nothing freed before the sync */
		tsync(&d, &g);
		EQ(tlive(&d), 1);
		tcount(&d, &cnt);
		EQ(cnt.total, 1);
		EQ(cnt.used[d.info.levels - 1], 0);
		expect_empty(&d, m, nm);
		/* Again, to see that nothing was left behind. */
		total = map_assorted(&d, m, &nm);
		EQ(tlive(&d), live);
		tunmap_ok(&d, 0, d.end, total);
		EQ(tlive(&d), 1);
		tclose(&d);

		/* Piecewise, one gather for the whole batch. */
		CTX("%s piecewise batch", c->name);
		topen(&d, c, 0, 0, 0);
		map_assorted(&d, m, &nm);
		iopgt_gather_init(&g, sizeof(g));
		for (unsigned i = nm; i-- > 0;) {
			uint64_t h = m[i].size / 2 & ~(d.s[0] - 1);
			/* A hole first (splits a superpage), then the two
			 * sides. */
			if (h) {
				EQ(tunmap_g(&d, m[i].iova + h, d.s[0], &g),
				   d.s[0]);
				EQ(tunmap_g(&d, m[i].iova, h, &g), h);
				EQ(tunmap_g(&d, m[i].iova + h, m[i].size - h,
					    &g),
				   m[i].size - h - d.s[0]);
			} else {
				EQ(tunmap_g(&d, m[i].iova, m[i].size, &g),
				   m[i].size);
			}
		}
		tsync(&d, &g);
		EQ(tlive(&d), 1);
		expect_empty(&d, m, nm);
		tclose(&d);

		/* Piecewise, synced after each unmap. */
		CTX("%s piecewise sync", c->name);
		topen(&d, c, 0, 0, 0);
		map_assorted(&d, m, &nm);
		for (unsigned i = 0; i < nm; i++)
			tunmap_ok(&d, m[i].iova, m[i].size, m[i].size);
		EQ(tlive(&d), 1);
		tclose(&d);

		/* The default table cache keeps a few; reclaim returns
		 * them. */
		CTX("%s table cache", c->name);
		topen(&d, c, 0, CACHE_DEFAULT, 0);
		total = map_assorted(&d, m, &nm);
		tunmap_ok(&d, 0, d.end, total);
		/* A table whose whole span the unmap covered (the lower
		 * half's one root entry, x86 at ias 40) is kept linked. */
		EXPECT(tlive(&d) >= 1 && tlive(&d) <= 1 + 8);
		EXPECT(tstats(&d).table_pages_cached >= 1);
		EQ(d.ta.live_bytes, theld_bytes(d.dom));
		iopgt_reclaim(d.dom);
		EQ(tlive(&d), 1);
		EQ(tstats(&d).table_pages_cached, 0);
		EQ(tstats(&d).segment_bytes_live, 0);
		EQ(d.ta.table_allocs - d.ta.table_frees, 1);
		tclose(&d);

		/* No reclaim: the tables stay, empty. */
		CTX("%s NO_RECLAIM", c->name);
		topen(&d, c, IOPGT_OPT_NO_RECLAIM, 0, 0);
		total = map_assorted(&d, m, &nm);
		live = tlive(&d);
		{
			struct tcnt before;
			tcount(&d, &before);
			iopgt_gather_init(&g, sizeof(g));
			EQ(tunmap_g(&d, 0, d.end, &g), total);
			EQ(g.nr_tables, 0);
			tsync(&d, &g);
			EQ(tlive(&d), live);
			tcount(&d, &cnt);
			EQ(cnt.total, before.total);
			for (unsigned l = 0; l < d.info.levels; l++) {
				EQ(cnt.tables[l], before.tables[l]);
				EQ(cnt.leaves[l], 0);
			}
		}
		expect_empty(&d, m, nm);
		tclose(&d);
	}
}

/* ------------------------------------------------------------------------
 * 7. The top of the input range
 */

struct leaf_find {
	uint64_t iova;
	struct tleaf l;
	int found;
};

static int leaf_find_cb(void *arg, const struct tleaf *l)
{
	struct leaf_find *f = arg;

	if (f->iova - l->iova < l->size) {
		f->l = *l;
		f->found++;
	}
	return 0;
}

struct dirty_runs {
	uint64_t iova[8], size[8];
	unsigned n;
};

static int dirty_run_cb(void *arg, uint64_t iova, uint64_t size)
{
	struct dirty_runs *r = arg;

	if (r->n < 8) {
		r->iova[r->n] = iova;
		r->size[r->n] = size;
	}
	r->n++;
	return 0;
}

/* The upper half of a format that sign-extends its input (x86-64:
 * canonical addresses, 0xffff800000000000 and up at ias 48): every leaf
 * size at its bottom and at the top of the 64-bit space, a split and a
 * coalesce there, the tables and leaves the dump and the table walk name
 * (sign-extended), dirty tracking, and the lower half unaffected. Formats
 * without it have no upper half (iova_upper 0; test_bad_range refuses the
 * top of the 64-bit space for them). */
static void test_upper_half(void **state)
{
	(void)state;
	for (size_t k = 0; k < n_tcfgs; k++) {
		const struct tcfg *c = &tcfgs[k];
		struct iopgt_gather g;
		struct tdom d;
		uint64_t U, s0, P;

		CTX("%s", c->name);
		topen(&d, c, 0, 0, 0);
		U = d.upper;
		s0 = d.s[0];
		P = d.pa0;
		EQ(d.info.iova_last, d.end - 1);
		if (!U) {
			EQ(d.end, UINT64_C(1) << c->ias);
			EQ(tformat(c->format)->flags & IOPGT_FORMAT_SIGN_EXTEND,
			   0);
			tclose(&d);
			continue;
		}
		EXPECT(tformat(c->format)->flags & IOPGT_FORMAT_SIGN_EXTEND);
		EQ(d.end, UINT64_C(1) << (c->ias - 1));
		EQ(U, 0 - d.end);

		for (unsigned i = 0; i < d.n; i++) {
			uint64_t sz = d.s[i], T = 0 - sz;
			struct iopgt_table_info ti;
			struct leaf_find f;

			CTX("%s upper half, leaf 0x%" PRIx64, c->name, sz);
			tmap_ok(&d, U, P, sz, RW);
			tmap_ok(&d, T, P + 2 * d.top, sz, RW);
			EXPECT_TR(&d, U, P, sz, RW);
			EXPECT_TR(&d, U + sz - 1, P + sz - 1, sz, RW);
			EXPECT_TR(&d, T, P + 2 * d.top, sz, RW);
			EXPECT_TR(&d, UINT64_MAX, P + 2 * d.top + sz - 1, sz,
				  RW);
			EXPECT_ERR(&d, U - 1, -ERANGE);
			EXPECT_NOENT(&d, U + sz);
			EXPECT_NOENT(&d, T - 1);
			/* Not aliased in the lower half. */
			EXPECT_NOENT(&d, 0);
			EXPECT_NOENT(&d, d.end - sz);
			/* The table walk and the dump name them by their
			 * sign-extended IOVAs. */
			if (i + 1 < d.info.levels) {
				EXPECT(find_table(&d, i, U, &ti));
				EQ(ti.iova, U & ~(ti.span - 1));
				EXPECT(find_table(&d, i, UINT64_MAX, &ti));
				EQ(ti.iova, 0 - ti.span);
			}
			memset(&f, 0, sizeof(f));
			f.iova = U;
			tfor_each_leaf(d.dom, leaf_find_cb, &f);
			EQ(f.found, 1);
			EQ(f.l.iova, U);
			EQ(f.l.size, sz);
			memset(&f, 0, sizeof(f));
			f.iova = UINT64_MAX;
			tfor_each_leaf(d.dom, leaf_find_cb, &f);
			EQ(f.found, 1);
			EQ(f.l.iova, T);
			/* The whole upper half at once. */
			iopgt_gather_init(&g, sizeof(g));
			EQ(tunmap_g(&d, U, 0 - U, &g), 2 * sz);
			EQ(g.iova, U);
			EQ(g.last, UINT64_MAX);
			tsync(&d, &g);
			EXPECT_NOENT(&d, U);
			EXPECT_NOENT(&d, UINT64_MAX);
			EQ(tlive(&d), 1);
		}

		if (d.n >= 2) {
			uint64_t s1 = d.s[1], T = 0 - d.top;

			/* Split at the top of the 64-bit space: the last
			 * page of a superpage. */
			CTX("%s upper half, split at the top", c->name);
			tmap_ok(&d, T, P, d.top, RW);
			tunmap_ok(&d, 0 - s0, s0, s0);
			EXPECT_NOENT(&d, UINT64_MAX);
			EXPECT_TR(&d, 0 - 2 * s0, P + d.top - 2 * s0, s0, RW);
			EXPECT_TR(&d, T, P, d.s[d.n - 2], RW);
			tunmap_ok(&d, T, d.top, d.top - s0);
			EQ(tlive(&d), 1);

			/* A range ending at 2^64, mixing sizes. */
			CTX("%s upper half, mixed at the top", c->name);
			tmap_ok(&d, 0 - s1 - s0, P + s1 - s0, s1 + s0, RW);
			EXPECT_TR(&d, 0 - s1 - s0, P + s1 - s0, s0, RW);
			EXPECT_TR(&d, UINT64_MAX, P + 2 * s1 - 1, s1, RW);
			tunmap_ok(&d, 0 - s1 - s0, s1 + s0, s1 + s0);

			/* Coalesced at the bottom of the upper half; dirty
			 * tracking reports it (a writable superpage made by
			 * a coalesce starts dirty) at its own IOVA. */
			CTX("%s upper half, coalesce", c->name);
			tmap_ok(&d, U, P, s1 - s0, RW);
			iopgt_gather_init(&g, sizeof(g));
			EQ(tmap_g(&d, U + s1 - s0, P + s1 - s0, s0, RW, &g, 1),
			   0);
			EQ(g.kind, IOPGT_FLUSH_WALK);
			EXPECT(g.iova <= U && g.last >= U + s1 - 1);
			tsync(&d, &g);
			EXPECT_TR(&d, U + s0, P + s0, s1, RW);
			if (tformat(c->format)->flags & IOPGT_FORMAT_DIRTY) {
				struct dirty_runs r = { .n = 0 };

				iopgt_gather_init(&g, sizeof(g));
				EQ(iopgt_read_and_clear_dirty(d.dom, U, 0 - U,
							      0, dirty_run_cb,
							      &r, &g),
				   0);
				EQ(r.n, 1);
				EQ(r.iova[0], U);
				EQ(r.size[0], s1);
				EQ(g.iova, U);
				tsync(&d, &g);
				EQ(iopgt_read_and_clear_dirty(
					   d.dom, U - s1, 2 * s1, 0,
					   dirty_run_cb, &r, &g),
				   -ERANGE);
			}
			tunmap_ok(&d, U, s1, s1);
			EQ(tlive(&d), 1);
		}

		/* The lower half next to it: the same offsets, apart. */
		CTX("%s both halves", c->name);
		tmap_ok(&d, 0, P, s0, RW);
		tmap_ok(&d, U, P + d.top, s0, RW);
		tmap_ok(&d, d.end - s0, P + 2 * d.top, s0, RW);
		EXPECT_TR(&d, 0, P, s0, RW);
		EXPECT_TR(&d, U, P + d.top, s0, RW);
		EXPECT_TR(&d, d.end - s0, P + 2 * d.top, s0, RW);
		tunmap_ok(&d, 0, d.end, 2 * s0);
		EXPECT_TR(&d, U, P + d.top, s0, RW);
		tunmap_ok(&d, U, 0 - U, s0);
		tclose(&d);
	}
}

static void test_top_of_range(void **state)
{
	(void)state;
	for (size_t k = 0; k < n_tcfgs; k++) {
		const struct tcfg *c = &tcfgs[k];
		struct tdom d;
		uint64_t T, s0, P;
		struct iopgt_gather g;

		CTX("%s", c->name);
		topen(&d, c, 0, 0, 0);
		T = d.end;
		s0 = d.s[0];
		P = d.pa0;
		for (unsigned i = 0; i < d.n; i++) {
			uint64_t sz = d.s[i];

			CTX("%s top leaf 0x%" PRIx64, c->name, sz);
			tmap_ok(&d, T - sz, P, sz, RW);
			EXPECT_TR(&d, T - 1, P + sz - 1, sz, RW);
			EXPECT_TR(&d, T - sz, P, sz, RW);
			EXPECT_NOENT(&d, T - sz - 1);
			EXPECT_ERR(&d, T, -ERANGE);
			iopgt_gather_init(&g, sizeof(g));
			EQ(tmap_g(&d, T - s0, P, s0, RW, &g, 1), -EEXIST);
			tsync(&d, &g);
			tunmap_ok(&d, T - sz, sz, sz);
			EXPECT_NOENT(&d, T - 1);
			EQ(tlive(&d), 1);
		}

		/* A range ending at the top, mixing sizes. */
		if (d.n >= 2) {
			uint64_t len = d.s[1] + s0;
			CTX("%s mixed at top", c->name);
			tmap_ok(&d, T - len, P + d.s[1] - s0, len, RW);
			EXPECT_TR(&d, T - len, P + d.s[1] - s0, s0, RW);
			EXPECT_TR(&d, T - 1, P + 2 * d.s[1] - 1, d.s[1], RW);
			EXPECT_LEAVES(&d, 1, 1);
			tunmap_ok(&d, T - len, len, len);

			/* Split at the top: the last page of a superpage. */
			CTX("%s split at top", c->name);
			tmap_ok(&d, T - d.top, P, d.top, RW);
			tunmap_ok(&d, T - s0, s0, s0);
			EXPECT_NOENT(&d, T - 1);
			EXPECT_TR(&d, T - 2 * s0, P + d.top - 2 * s0, s0, RW);
			EXPECT_TR(&d, T - d.top, P, d.s[d.n - 2], RW);
			tunmap_ok(&d, T - d.top, d.top, d.top - s0);
			EQ(tlive(&d), 1);
		}

		/* Past the top: -ERANGE, nothing mapped. */
		CTX("%s past top", c->name);
		iopgt_gather_init(&g, sizeof(g));
		EQ(tmap_g(&d, T - s0, P, 2 * s0, RW, &g, 1), -ERANGE);
		EQ(tmap_g(&d, T, P, s0, RW, &g, 1), -ERANGE);
		EQ(tmap_g(&d, T - d.top, P, d.top + s0, RW, &g, 1), -ERANGE);
		EQ(tunmap_g(&d, T - s0, 2 * s0, &g), -ERANGE);
		EQ(tunmap_g(&d, T, s0, &g), -ERANGE);
		EQ(g.kind, IOPGT_FLUSH_NONE);
		EQ(g.nr_tables, 0);
		EQ(tlive(&d), 1);
		EXPECT_NOENT(&d, T - s0);
		tclose(&d);
	}
}

/* ------------------------------------------------------------------------
 * 8. Flush kinds
 */

static void expect_rec(struct tdom *d, size_t idx, uint64_t iova,
		       uint64_t last, unsigned kind)
{
	EXPECT(d->tf.n > idx);
	EQ(d->tf.recs[idx].iova, iova);
	EQ(d->tf.recs[idx].last, last);
	EQ(d->tf.recs[idx].kind, kind);
}

static void expect_flush_stats(struct tdom *d)
{
	uint64_t by[IOPGT_FLUSH_KINDS + 1] = { 0 };
	struct iopgt_stats st = tstats(d);

	for (size_t i = 0; i < d->tf.n; i++)
		by[d->tf.recs[i].kind]++;
	EQ(by[IOPGT_FLUSH_NONE], 0); /* NONE is never sent */
	for (unsigned k = 0; k < IOPGT_FLUSH_KINDS; k++)
		EQ(st.flushes[k], by[k]);
	EQ(st.flush_all, by[IOPGT_FLUSH_KINDS]);
}

static void test_flush_kinds(void **state)
{
	(void)state;
	for (size_t k = 0; k < n_tcfgs; k++) {
		const struct tcfg *c = &tcfgs[k];
		struct tdom d;
		struct iopgt_gather g;
		uint64_t B, P, s0, s1;

		CTX("%s", c->name);
		topen(&d, c, 0, 0, 0);
		s0 = d.s[0];
		s1 = lsize(&d, 1); /* a level-0 table's span */
		B = 2 * (d.top > s1 ? d.top : s1);
		P = d.pa0;

		/* Filling empty entries, no caching mode: NONE, no flush. */
		CTX("%s map none", c->name);
		iopgt_gather_init(&g, sizeof(g));
		EQ(tmap_g(&d, B, P, 8 * s0, RW, &g, 1), 0);
		EQ(tmap_g(&d, B + s1, P + s1, s0, RW, &g, 1), 0);
		EQ(g.kind, IOPGT_FLUSH_NONE);
		EQ(g.nr_tables, 0);
		iopgt_sync(d.dom, &g);
		EQ(d.tf.n, 0);
		expect_flush_stats(&d);
		/* An empty gather: no flush either. */
		iopgt_sync(d.dom, &g);
		EQ(d.tf.n, 0);

		/* Unmap inside a table that stays: MODIFIED, the range. */
		CTX("%s unmap modified", c->name);
		iopgt_gather_init(&g, sizeof(g));
		EQ(tunmap_g(&d, B + 2 * s0, 3 * s0, &g), 3 * s0);
		EQ(g.kind, IOPGT_FLUSH_MODIFIED);
		EQ(g.iova, B + 2 * s0);
		EQ(g.last, B + 5 * s0 - 1);
		EQ(g.nr_tables, 0);
		EQ(d.tf.n, 0);
		tsync(&d, &g);
		EQ(d.tf.n, 1);
		expect_rec(&d, 0, B + 2 * s0, B + 5 * s0 - 1,
			   IOPGT_FLUSH_MODIFIED);
		expect_flush_stats(&d);

		/* Unmap that empties a table: WALK over its whole span. */
		CTX("%s unmap walk", c->name);
		iopgt_gather_init(&g, sizeof(g));
		EQ(tunmap_g(&d, B, 8 * s0, &g), 5 * s0);
		EQ(g.kind, IOPGT_FLUSH_WALK);
		EQ(g.nr_tables, 1);
		EQ(g.iova, B);
		EQ(g.last, B + s1 - 1);
		EQ(d.tf.n, 1);
		tsync(&d, &g);
		EQ(d.tf.n, 2);
		expect_rec(&d, 1, B, B + s1 - 1, IOPGT_FLUSH_WALK);
		expect_flush_stats(&d);
		EXPECT_TR(&d, B + s1, P + s1, s0, RW);

		/* flush_all: once, through flush_all only. */
		CTX("%s flush_all", c->name);
		iopgt_gather_init(&g, sizeof(g));
		EQ(tunmap_g(&d, B + s1, s0, &g), s0);
		EXPECT(g.nr_tables >= 1);
		iopgt_flush_all(d.dom, &g);
		EQ(g.nr_tables, 0);
		EQ(d.tf.n, 3);
		expect_rec(&d, 2, 0, UINT64_MAX, IOPGT_FLUSH_KINDS);
		EQ(tstats(&d).flush_all, 1);
		expect_flush_stats(&d);
		EQ(tlive(&d), 1);
		tclose(&d);

		/* Caching mode: ADDED with exactly the mapped range. */
		CTX("%s caching mode", c->name);
		topen(&d, c, IOPGT_OPT_CACHING_MODE, 0, 0);
		iopgt_gather_init(&g, sizeof(g));
		EQ(tmap_g(&d, B + s0, P, 3 * s0, RW, &g, 1), 0);
		EQ(g.kind, IOPGT_FLUSH_ADDED);
		EQ(g.iova, B + s0);
		EQ(g.last, B + 4 * s0 - 1);
		EQ(d.tf.n, 0);
		tsync(&d, &g);
		EQ(d.tf.n, 1);
		expect_rec(&d, 0, B + s0, B + 4 * s0 - 1, IOPGT_FLUSH_ADDED);
		/* A range of several sizes: one ADDED over all of it. */
		if (d.n >= 2) {
			uint64_t iv = B + d.top - s0, len = s0 + d.top + s0;
			iopgt_gather_init(&g, sizeof(g));
			EQ(tmap_g(&d, iv, tpa_for(&d, iv), len, RW, &g, 1), 0);
			EQ(g.kind, IOPGT_FLUSH_ADDED);
			EQ(g.iova, iv);
			EQ(g.last, iv + len - 1);
			tsync(&d, &g);
			expect_rec(&d, 1, iv, iv + len - 1, IOPGT_FLUSH_ADDED);
			tunmap_ok(&d, iv, len, len);
		}
		/* Unmap in caching mode is still MODIFIED / WALK. */
		iopgt_gather_init(&g, sizeof(g));
		EQ(tunmap_g(&d, B + s0, s0, &g), s0);
		EQ(g.kind, IOPGT_FLUSH_MODIFIED);
		tsync(&d, &g);
		iopgt_gather_init(&g, sizeof(g));
		EQ(tunmap_g(&d, B + 2 * s0, 2 * s0, &g), 2 * s0);
		EQ(g.kind, IOPGT_FLUSH_WALK);
		tsync(&d, &g);
		expect_flush_stats(&d);
		{
			struct iopgt_stats st = tstats(&d);
			EXPECT(st.flushes[IOPGT_FLUSH_ADDED] >= 1);
			EXPECT(st.flushes[IOPGT_FLUSH_MODIFIED] >= 1);
			EXPECT(st.flushes[IOPGT_FLUSH_WALK] >= 1);
		}
		EQ(tlive(&d), 1);
		tclose(&d);
	}
}

/* ------------------------------------------------------------------------
 * 9. Geometry and configuration checks
 */

struct geo_want {
	enum iopgt_format format;
	unsigned granule, ias;
	unsigned levels, start_level, root_tables;
	uint64_t leaf_sizes;
};

static const struct geo_want geo_known[] = {
	{ IOPGT_FMT_X86_64, 12, 48, 4, 4, 1,
	  IOPGT_SZ_4K | IOPGT_SZ_2M | IOPGT_SZ_1G },
	{ IOPGT_FMT_X86_64, 12, 57, 5, 5, 1,
	  IOPGT_SZ_4K | IOPGT_SZ_2M | IOPGT_SZ_1G },
	{ IOPGT_FMT_ARM_S2, 12, 48, 4, 0, 1,
	  IOPGT_SZ_4K | IOPGT_SZ_2M | IOPGT_SZ_1G },
	{ IOPGT_FMT_ARM_S2, 12, 40, 3, 1, 2,
	  IOPGT_SZ_4K | IOPGT_SZ_2M | IOPGT_SZ_1G },
	{ IOPGT_FMT_ARM_S2, 12, 32, 2, 2, 4, IOPGT_SZ_4K | IOPGT_SZ_2M },
	{ IOPGT_FMT_ARM_S2, 14, 48, 3, 1, 2, IOPGT_SZ_16K | IOPGT_SZ_32M },
	{ IOPGT_FMT_ARM_S2, 14, 40, 2, 2, 16, IOPGT_SZ_16K | IOPGT_SZ_32M },
	{ IOPGT_FMT_ARM_S2, 16, 48, 3, 1, 1, IOPGT_SZ_64K | IOPGT_SZ_512M },
	{ IOPGT_FMT_ARM_S2, 16, 44, 2, 2, 4, IOPGT_SZ_64K | IOPGT_SZ_512M },
	{ IOPGT_FMT_ARM_S2, 16, 32, 2, 2, 1, IOPGT_SZ_64K | IOPGT_SZ_512M },
};

static void check_geometry(struct tdom *d, const struct geo_want *w)
{
	struct iopgt_table_info ti;
	unsigned bits = w->granule - 3;
	uint64_t root_entries =
		UINT64_C(1) << (w->ias - w->granule - bits * (w->levels - 1));

	EQ(d->info.format, w->format);
	EQ(d->info.ias, w->ias);
	EQ(d->info.granule, w->granule);
	EQ(d->info.levels, w->levels);
	EQ(d->info.start_level, w->start_level);
	EQ(d->info.root_tables, w->root_tables);
	EQ(d->info.leaf_sizes, w->leaf_sizes);
	EQ(d->info.options, d->cfg.options);
	EXPECT(d->info.root_pa != 0);
	EQ(d->info.root_pa % ((uint64_t)w->root_tables << w->granule), 0);
	/* The root as the tree shows it. */
	EXPECT(find_table(d, w->levels - 1, 0, &ti));
	EQ(ti.pa, d->info.root_pa);
	EQ(ti.entries, root_entries);
	EQ(ti.span, UINT64_C(1) << w->ias);
	EQ(ti.used, 0);
	/* Root tables beyond one are whole tables of 2^bits entries. */
	if (w->root_tables > 1)
		EQ(root_entries, (uint64_t)w->root_tables << bits);
	EQ(d->ta.live_bytes, (uint64_t)w->root_tables << w->granule);
	EQ(tlive(d), 1);
}

static void test_geometry(void **state)
{
	(void)state;
	/* The known geometries, whatever tcfgs[] holds. */
	for (size_t i = 0; i < sizeof(geo_known) / sizeof(geo_known[0]); i++) {
		const struct geo_want *w = &geo_known[i];
		struct tcfg c = { "known", w->format, w->ias,
				  w->format == IOPGT_FMT_X86_64 ? 52 : 48,
				  w->granule };
		struct tdom d;

		CTX("known fmt %d granule %u ias %u", w->format, w->granule,
		    w->ias);
		topen(&d, &c, 0, 0, 0);
		check_geometry(&d, w);
		tclose(&d);
	}
	/* Every configuration of the table. */
	for (size_t k = 0; k < n_tcfgs; k++) {
		const struct tcfg *c = &tcfgs[k];
		struct tdom d;
		size_t i;

		CTX("%s", c->name);
		topen(&d, c, 0, 0, 0);
		EQ(d.info.oas, c->oas);
		for (i = 0; i < sizeof(geo_known) / sizeof(geo_known[0]); i++) {
			const struct geo_want *w = &geo_known[i];
			if (w->format == c->format && w->granule == c->granule &&
			    w->ias == c->ias) {
				check_geometry(&d, w);
				break;
			}
		}
		if (i == sizeof(geo_known) / sizeof(geo_known[0])) {
			/* Not in the list: at least self-consistent. */
			unsigned b = c->granule - 3;
			EXPECT(d.info.levels >= 2);
			EXPECT(c->granule + b * (d.info.levels - 1) < c->ias);
			EXPECT(c->granule + b * d.info.levels + 4 >= c->ias);
		}
		tclose(&d);
	}
}

static int try_create(const struct iopgt_config *cfg)
{
	struct iopgt_domain *dom = (void *)1;
	struct talloc ta;
	struct iopgt_config c = *cfg;
	int r;

	talloc_init(&ta);
	talloc_ops(&ta, &c.mem);
	/* Table memory every oas reaches. */
	ta.pa_next = UINT64_C(1) << 32;
	c.phys_to_virt = talloc_p2v;
	r = iopgt_domain_create(&c, &dom);
	if (r) {
		EXPECT(dom == NULL);
	} else {
		EXPECT(dom != NULL);
		iopgt_domain_destroy(dom);
	}
	EQ(ta.table_allocs, ta.table_frees);
	EQ(ta.meta_allocs, ta.meta_frees);
	talloc_fini(&ta);
	return r;
}

static void test_bad_config(void **state)
{
	struct iopgt_config cfg;
	struct iopgt_domain *dom = (void *)1;

	(void)state;
	CTX("config defaults");
	EQ(iopgt_config_init(&cfg, sizeof(cfg), IOPGT_FMT_X86_64), 0);
	EQ(cfg.ias, 48);
	EQ(cfg.oas, 52);
	EQ(cfg.granule, 12);
	EQ(try_create(&cfg), 0);
	EQ(iopgt_config_init(&cfg, sizeof(cfg), IOPGT_FMT_ARM_S2), 0);
	EQ(cfg.ias, 48);
	EQ(cfg.oas, 48);
	EQ(cfg.granule, 12);
	EQ(try_create(&cfg), 0);
	EQ(iopgt_config_init(&cfg, sizeof(cfg), (enum iopgt_format)0), -EINVAL);
	EQ(iopgt_config_init(&cfg, sizeof(cfg), (enum iopgt_format)999), -EINVAL);
	EQ(iopgt_domain_create(NULL, &dom), -EINVAL);

	CTX("arm_s2 bad config");
	iopgt_config_init(&cfg, sizeof(cfg), IOPGT_FMT_ARM_S2);
	cfg.oas = 39;
	EQ(try_create(&cfg), -EINVAL);
	cfg.oas = 49;
	EQ(try_create(&cfg), -EINVAL);
	cfg.oas = 52;
	EQ(try_create(&cfg), -EINVAL);
	cfg.oas = 40;
	EQ(try_create(&cfg), -EINVAL); /* ias 48 beyond oas 40 */
	cfg.ias = 40;
	EQ(try_create(&cfg), 0);
	cfg.ias = 48;
	cfg.oas = 48;
	cfg.ias = 31;
	EQ(try_create(&cfg), -EINVAL);
	cfg.ias = 49;
	EQ(try_create(&cfg), -EINVAL);
	cfg.ias = 32;
	EQ(try_create(&cfg), 0);
	cfg.ias = 48;
	for (unsigned g = 0; g < 20; g++) {
		cfg.granule = g;
		CTX("arm_s2 granule %u", g);
		EQ(try_create(&cfg), g == 12 || g == 14 || g == 16 ? 0
								   : -EINVAL);
	}

	CTX("x86_64 bad config");
	iopgt_config_init(&cfg, sizeof(cfg), IOPGT_FMT_X86_64);
	cfg.ias = 39;
	EQ(try_create(&cfg), -EINVAL);
	cfg.ias = 58;
	EQ(try_create(&cfg), -EINVAL);
	cfg.ias = 57;
	EQ(try_create(&cfg), 0);
	cfg.ias = 48;
	cfg.oas = 53;
	EQ(try_create(&cfg), -EINVAL);
	cfg.oas = 52;
	cfg.granule = 14;
	EQ(try_create(&cfg), -EINVAL);
	cfg.granule = 16;
	EQ(try_create(&cfg), -EINVAL);
	cfg.granule = 12;

	CTX("bad options / format");
	for (unsigned b = 4; b < 32; b++) {
		if ((1u << b) == IOPGT_OPT_COUNTS ||
		    (1u << b) == IOPGT_OPT_ONE_GATHER)
			continue;
		cfg.options = 1u << b;
		EQ(try_create(&cfg), -EINVAL);
	}
	cfg.options = IOPGT_OPT_CACHING_MODE | IOPGT_OPT_NO_RECLAIM |
		      IOPGT_OPT_NO_COALESCE | IOPGT_OPT_NO_COUNTS;
	EQ(try_create(&cfg), 0);
	cfg.options = IOPGT_OPT_CACHING_MODE | IOPGT_OPT_NO_RECLAIM |
		      IOPGT_OPT_NO_COALESCE | IOPGT_OPT_COUNTS;
	EQ(try_create(&cfg), 0);
	/* Counts and none at once: a contradiction. */
	cfg.options = IOPGT_OPT_COUNTS | IOPGT_OPT_NO_COUNTS;
	EQ(try_create(&cfg), -EINVAL);
	cfg.options = 0;
	cfg.format = (enum iopgt_format)0;
	EQ(try_create(&cfg), -EINVAL);
	cfg.format = (enum iopgt_format)7;
	EQ(try_create(&cfg), -EINVAL);

	/* The root cannot be allocated: -ENOMEM, nothing leaks. */
	for (size_t k = 0; k < n_tcfgs; k++) {
		struct talloc ta;

		CTX("%s create enomem", tcfgs[k].name);
		tcfg_config(&tcfgs[k], &cfg);
		for (long f = 1; f <= 2; f++) {
			talloc_init(&ta);
			talloc_ops(&ta, &cfg.mem);
			ta.fail_after = f;
			dom = (void *)1;
			EQ(iopgt_domain_create(&cfg, &dom), -ENOMEM);
			EXPECT(dom == NULL);
			EQ(ta.failures, 1);
			EQ(ta.table_allocs, ta.table_frees);
			EQ(ta.meta_allocs, ta.meta_frees);
			talloc_fini(&ta);
		}
	}
}

/* An optional argument selects tests by name (cmocka's filter). */
int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_geometry),
		cmocka_unit_test(test_bad_config),
		cmocka_unit_test(test_leaf_each_size),
		cmocka_unit_test(test_leaf_pa_extremes),
		cmocka_unit_test(test_superpage_selection),
		cmocka_unit_test(test_leaf_sizes_config),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_coalesce),
		cmocka_unit_test(test_superpage_over_empty_tables),
		cmocka_unit_test(test_coalesce_over_empty_tables),
		cmocka_unit_test(test_uncounted),
		cmocka_unit_test(test_reclaim),
		cmocka_unit_test(test_top_of_range),
		cmocka_unit_test(test_upper_half),
		cmocka_unit_test(test_flush_kinds),
	};

	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
