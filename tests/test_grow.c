/* SPDX-License-Identifier: MIT */
/*
 * Domains whose root level grows (iopgt_config.ias_max), for every format
 * of the registry that offers it (IOPGT_FORMAT_GROWS) and every one of its
 * configurations whose input size fills its levels: what create accepts,
 * a map that grows the domain by one level and by several, the values the
 * grow callback is given (the new root's entry 0 names the old root, as
 * the hardware reads it), what is unchanged by a failed growth (callback
 * error, allocation failure), and writers and readers racing a growth.
 * Formats without it refuse ias_max. And every root, growing or not, is
 * pinned: never parked for reuse nor unlinked when emptied. The simulator's side (walks through
 * the new root, the negative twins of the growth's two ordering rules) is
 * in test_sim.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "pt.h" /* the descriptors and idle slots, for test_roots_pinned */

/* What the grow callback saw, and what it answers. */
struct grow_rec {
	unsigned calls;
	struct iopgt_hw_config hw[8];
	unsigned levels;      /* the levels walked before the call */
	uint64_t linked[8];   /* the table the new roots lead to, down
	                       * their entries 0, during the call */
	unsigned others[8];   /* their other entries that were not zero */
	int ret;               /* the callback's return */
	struct iopgt_domain *dom;
	unsigned levels_in_call; /* the levels info reported during the call */
};

static int grow_cb(void *arg, const struct iopgt_hw_config *hw)
{
	struct grow_rec *g = arg;
	struct iopgt_info info;

	if (g->calls < 8) {
		uint64_t pa = hw->root;

		g->hw[g->calls] = *hw;
		/* The new roots as the hardware will read them (built-in
		 * allocator: a table's CPU address is its pa), down entry 0
		 * of each to the old root. Every format that grows has 4K
		 * tables of 512 entries. */
		g->others[g->calls] = 0;
		for (unsigned l = hw->levels; l > g->levels; l--) {
			const uint64_t *e = (const uint64_t *)(uintptr_t)pa;

			for (unsigned i = 1; i < 512; i++)
				g->others[g->calls] += e[i] != 0;
			pa = e[0] & UINT64_C(0x000ffffffffff000);
		}
		g->linked[g->calls] = pa;
	}
	if (!g->ret)
		g->levels = hw->levels;
	g->calls++;
	/* Walks do not start from the new root before the hardware has it
	 * (the call returns 0): info still names the old one. */
	if (g->dom) {
		iopgt_domain_info(g->dom, &info, sizeof(info));
		g->levels_in_call = info.levels;
	}
	return g->ret;
}

/* Bits of input a root with `levels` levels covers: the granule and the
 * index bits of each level (non-root tables are full). */
static unsigned width(const struct iopgt_info *info, unsigned levels)
{
	return info->granule + (info->granule - 3) * levels;
}

/* topen (common.c) for a growing domain up to ias_max, the callback
 * recording into g; for threads (ts not NULL), on ts, the thread-safe
 * allocator, and without the flush recorder (which is not thread-safe
 * either): no-op flushes; close it with gclose_ts. */
static void gopen(struct tdom *d, const struct tcfg *c, unsigned ias_max,
		  struct grow_rec *g, struct tsalloc *ts)
{
	const bool threads = ts != NULL;

	memset(d, 0, sizeof(*d));
	memset(g, 0, sizeof(*g));
	d->c = c;
	tcfg_config(c, &d->cfg);
	d->cfg.leaf_sizes = 0;
	d->cfg.ias_max = ias_max;
	d->cfg.grow = grow_cb;
	d->cfg.grow_arg = g;
	talloc_init(&d->ta);
	tflush_init(&d->tf, NULL);
	if (threads) {
		tsalloc_init(ts, 0);
		tsalloc_ops(ts, &d->cfg.mem);
	} else {
		talloc_ops(&d->ta, &d->cfg.mem);
		tflush_ops(&d->tf, &d->cfg.flush);
	}
	EQ(iopgt_domain_create(&d->cfg, &d->dom), 0);
	iopgt_domain_info(d->dom, &d->info, sizeof(d->info));
	d->n = tcfg_leaf_sizes(d->dom, d->s);
	d->top = d->s[d->n - 1];
	d->end = d->info.iova_last + 1;
	d->pa0 = (UINT64_C(1) << (c->oas - 2)) + 5 * d->top;
	g->dom = d->dom;
	g->levels = d->info.levels;
	EQ(tcheck_counts(d->dom), 0);
}

/* A map, synced; what it returned. */
static int gmap(struct tdom *d, uint64_t iova, uint64_t pa, uint64_t size)
{
	struct iopgt_gather g;
	int r;

	iopgt_gather_init(&g, sizeof(g));
	r = tmap_g(d, iova, pa, size, RW, &g, 1);
	tsync(d, &g);
	return r;
}

/* tclose for a domain of gopen(..., ts): nothing leaks from ts. */
static void gclose_ts(struct tdom *d, struct tsalloc *ts)
{
	EQ(tcheck_counts(d->dom), 0);
	iopgt_domain_destroy(d->dom);
	d->dom = NULL;
	EQ(ts->table_allocs, ts->table_frees);
	EQ(ts->meta_allocs, ts->meta_frees);
	EQ(ts->live_bytes, 0);
	tsalloc_fini(ts);
	talloc_fini(&d->ta);
	tflush_fini(&d->tf);
}

static struct iopgt_info ginfo(const struct tdom *d)
{
	struct iopgt_info info;

	iopgt_domain_info(d->dom, &info, sizeof(info));
	return info;
}

/* ------------------------------------------------------------------------
 * Configuration
 */

static void test_grow_config(void **state)
{
	(void)state;
	for (size_t i = 0; i < n_tcfgs; i++) {
		const struct tcfg *c = &tcfgs[i];
		const struct iopgt_format_info *f = tformat(c->format);
		struct iopgt_config cfg;
		struct iopgt_domain *dom = NULL;
		struct grow_rec g = { 0 };
		struct iopgt_info info;

		CTX("%s config", c->name);
		tcfg_config(c, &cfg);
		cfg.grow = grow_cb;
		cfg.grow_arg = &g;
		if (!(f->flags & IOPGT_FORMAT_GROWS)) {
			/* Refused: the hardware cannot take a new root and
			 * its levels in one write. */
			cfg.ias_max = f->ias_max;
			EQ(iopgt_domain_create(&cfg, &dom), -EINVAL);
			continue;
		}
		/* A callback without ias_max, ias_max without one, ias_max
		 * not above ias, or beyond the format's. */
		cfg.ias_max = 0;
		EQ(iopgt_domain_create(&cfg, &dom), -EINVAL);
		cfg.grow = NULL;
		cfg.ias_max = f->ias_max;
		EQ(iopgt_domain_create(&cfg, &dom), -EINVAL);
		cfg.grow = grow_cb;
		cfg.ias_max = c->ias;
		EQ(iopgt_domain_create(&cfg, &dom), -EINVAL);
		cfg.ias_max = f->ias_max + 1;
		EQ(iopgt_domain_create(&cfg, &dom), -EINVAL);
		cfg.ias_max = f->ias_max;
		if (!tcfg_grows(c)) {
			/* A root whose levels the ias does not fill, or
			 * nothing to grow to. */
			EQ(iopgt_domain_create(&cfg, &dom), -EINVAL);
			continue;
		}
		EQ(iopgt_domain_create(&cfg, &dom), 0);
		iopgt_domain_info(dom, &info, sizeof(info));
		EQ(info.ias, c->ias);
		EQ(info.ias_max, f->ias_max);
		EQ(info.iova_last, (UINT64_C(1) << f->ias_max) - 1);
		EQ(width(&info, info.levels), c->ias);
		EQ(g.calls, 0);
		iopgt_domain_destroy(dom);
	}
}

/* ------------------------------------------------------------------------
 * Growing
 */

/* When the hardware was given the new root (call k), it led to the old
 * one down entry 0 of each new root, as any table entry of its level
 * would (the address, bits 51:12 in every 4K format), and nothing else
 * was in them. */
static void check_link(const struct grow_rec *g, unsigned k,
		       uint64_t old_root)
{
	EQ(g->linked[k], old_root);
	EQ(g->others[k], 0);
}

static void test_grow_map(void **state)
{
	(void)state;
	for (size_t i = 0; i < n_tcfgs; i++) {
		const struct tcfg *c = &tcfgs[i];
		const unsigned ias_max = tformat(c->format)->ias_max;
		struct grow_rec g;
		struct tdom d;
		struct iopgt_info info, before;
		uint64_t s0, s1, hi, lvl0, root0;

		if (!tcfg_grows(c))
			continue;
		CTX("%s grow by one", c->name);
		gopen(&d, c, ias_max, &g, NULL);
		s0 = d.s[0];
		s1 = d.s[1];
		lvl0 = d.info.levels;
		root0 = d.info.root_pa;
		/* Below the root's span: no growth. */
		tmap_ok(&d, 0, tpa_for(&d, 0), s0, RW);
		tmap_ok(&d, (UINT64_C(1) << c->ias) - s1,
			tpa_for(&d, (UINT64_C(1) << c->ias) - s1), s1, RW);
		EQ(g.calls, 0);
		/* Above it, nothing yet, and unmap finds nothing there. */
		hi = UINT64_C(1) << c->ias;
		EXPECT_NOENT(&d, hi);
		EXPECT_NOENT(&d, d.end - s0);
		tunmap_ok(&d, hi, s0, 0);
		EQ(g.calls, 0);

		/* One level: one call, with the new root and its levels. */
		before = ginfo(&d);
		tmap_ok(&d, hi, tpa_for(&d, hi), s0, RW);
		EQ(g.calls, 1);
		EQ(g.levels_in_call, lvl0);
		EQ(g.hw[0].levels, lvl0 + 1);
		EQ(g.hw[0].format, c->format);
		EXPECT(g.hw[0].root != root0);
		check_link(&g, 0, root0);
		info = ginfo(&d);
		EQ(info.levels, lvl0 + 1);
		EQ(info.ias, width(&info, lvl0 + 1));
		EQ(info.root_pa, g.hw[0].root);
		EQ(info.iova_last, before.iova_last);
		{
			struct iopgt_hw_config now;

			EQ(iopgt_hw_config(d.dom, &now, sizeof(now)), 0);
			EXPECT(memcmp(&now, &g.hw[0], sizeof(now)) == 0);
		}
		/* Everything mapped before translates as it did. */
		EXPECT_TR(&d, 0, tpa_for(&d, 0), s0, RW);
		EXPECT_TR(&d, hi - s1, tpa_for(&d, hi - s1), s1, RW);
		EXPECT_TR(&d, hi, tpa_for(&d, hi), s0, RW);

		/* Several levels at once: one call, for the top. */
		CTX("%s grow to the top", c->name);
		tmap_ok(&d, d.end - s0, tpa_for(&d, d.end - s0), s0, RW);
		EQ(g.calls, 2);
		info = ginfo(&d);
		EQ(info.ias, ias_max);
		EQ(info.levels, g.hw[1].levels);
		EQ(info.root_pa, g.hw[1].root);
		EXPECT(info.levels > lvl0 + 1);
		check_link(&g, 1, g.hw[0].root);
		EXPECT_TR(&d, 0, tpa_for(&d, 0), s0, RW);
		EXPECT_TR(&d, hi, tpa_for(&d, hi), s0, RW);
		EXPECT_TR(&d, d.end - s0, tpa_for(&d, d.end - s0), s0, RW);
		/* Nothing more to grow; past the end stays refused. */
		EQ(gmap(&d, d.end, 0, s0), -ERANGE);
		EQ(gmap(&d, d.end - s0, 0, 2 * s0), -ERANGE);
		EQ(g.calls, 2);

		/* Unmap everything in one call: the roots stay, pinned,
		 * and nothing else. */
		CTX("%s unmap all", c->name);
		tunmap_ok(&d, 0, d.end, 3 * s0 + s1);
		iopgt_reclaim(d.dom);
		EQ(tlive(&d), info.levels - lvl0 + 1);
		EQ(tcount_tables(d.dom, NULL), info.levels - lvl0 + 1);
		/* and the domain works on */
		tmap_ok(&d, hi + s1, tpa_for(&d, hi + s1), s1, RW);
		EXPECT_TR(&d, hi + s1, tpa_for(&d, hi + s1), s1, RW);
		tunmap_ok(&d, hi + s1, s1, s1);
		tclose(&d);
	}
}

/* A failed growth changes nothing: the callback's error (and a positive
 * return, as -EIO), or no memory for the new root. */
static void test_grow_fail(void **state)
{
	(void)state;
	for (size_t i = 0; i < n_tcfgs; i++) {
		const struct tcfg *c = &tcfgs[i];
		struct grow_rec g;
		struct tdom d;
		struct iopgt_info info;
		uint64_t hi, live, s0;

		if (!tcfg_grows(c))
			continue;
		CTX("%s grow fails", c->name);
		gopen(&d, c, tformat(c->format)->ias_max, &g, NULL);
		s0 = d.s[0];
		hi = d.end - s0;
		tmap_ok(&d, 0, tpa_for(&d, 0), s0, RW);
		live = tlive(&d);
		EXPECT(live >= 1);
		g.ret = -EBUSY;
		EQ(gmap(&d, hi, tpa_for(&d, hi), s0), -EBUSY);
		EQ(g.calls, 1);
		g.ret = 1;
		EQ(gmap(&d, hi, tpa_for(&d, hi), s0), -EIO);
		EQ(g.calls, 2);
		iopgt_reclaim(d.dom); /* no page kept for reuse */
		d.ta.fail_after = 1;
		EQ(gmap(&d, hi, tpa_for(&d, hi), s0),
		   -ENOMEM);
		EQ(g.calls, 2); /* never asked to take a root it cannot have */
		d.ta.fail_after = 0;
		info = ginfo(&d);
		EQ(info.levels, d.info.levels);
		EQ(info.root_pa, d.info.root_pa);
		EQ(tlive(&d), live);
		EXPECT_NOENT(&d, hi);
		EXPECT_TR(&d, 0, tpa_for(&d, 0), s0, RW);
		/* and then it grows */
		g.ret = 0;
		tmap_ok(&d, hi, tpa_for(&d, hi), s0, RW);
		EQ(g.calls, 3);
		EXPECT_TR(&d, hi, tpa_for(&d, hi), s0, RW);
		tunmap_ok(&d, 0, d.end, 2 * s0);
		tclose(&d);
	}
}

/* ------------------------------------------------------------------------
 * Growing under concurrency: each writer maps and unmaps its own pages
 * at its own height (one below the first root's span, the others at the
 * bottom of each higher level's span), so that the first maps of the
 * higher writers race to grow the domain, while readers look up a fixed
 * mapping under the first root all along.
 */

#define GW 3 /* writers */

struct race {
	struct tdom *d;
	uint64_t base[GW];
	uint64_t fixed, s0;
	atomic_bool stop;
	atomic_uint bad;
	unsigned rounds;
};

struct warg {
	struct race *r;
	unsigned k;
};

static void *writer(void *p)
{
	struct warg *a = p;
	struct race *r = a->r;
	struct iopgt_gather g;
	uint64_t iova = r->base[a->k];

	iopgt_gather_init(&g, sizeof(g));
	for (unsigned n = 0; n < r->rounds; n++) {
		uint64_t pa = tpa_for(r->d, iova);
		struct iopgt_translation t;

		if (iopgt_map(r->d->dom, iova, pa, r->s0, RW, &g) ||
		    iopgt_lookup(r->d->dom, iova, &t) || t.pa != pa ||
		    iopgt_unmap(r->d->dom, iova, r->s0, &g) != (int64_t)r->s0)
			atomic_fetch_add(&r->bad, 1);
		iopgt_sync(r->d->dom, &g);
	}
	return NULL;
}

static void *reader(void *p)
{
	struct race *r = p;
	uint64_t pa = tpa_for(r->d, r->fixed);

	while (!atomic_load(&r->stop)) {
		struct iopgt_translation t;

		if (iopgt_lookup(r->d->dom, r->fixed, &t) || t.pa != pa)
			atomic_fetch_add(&r->bad, 1);
	}
	return NULL;
}

static void test_grow_race(void **state)
{
	(void)state;
	for (size_t i = 0; i < n_tcfgs; i++) {
		const struct tcfg *c = &tcfgs[i];
		struct grow_rec g;
		struct tdom d;
		struct race r = { .d = &d };
		struct warg wa[GW];
		struct tsalloc ts;
		pthread_t w[GW], rd;
		struct iopgt_info info;

		if (!tcfg_grows(c))
			continue;
		/* Each round is a new domain: the growth races anew. */
		for (unsigned round = 0; round < (TSAN ? 4u : 20u); round++) {
			CTX("%s race, round %u", c->name, round);
			gopen(&d, c, tformat(c->format)->ias_max, &g, &ts);
			r.s0 = d.s[0];
			r.rounds = 50;
			atomic_store(&r.bad, 0);
			atomic_store(&r.stop, false);
			r.fixed = r.s0 * 3;
			tmap_ok(&d, r.fixed, tpa_for(&d, r.fixed), r.s0, RW);
			r.base[0] = (UINT64_C(1) << c->ias) - r.s0;
			for (unsigned k = 1; k < GW; k++) {
				unsigned lv = d.info.levels + k;

				r.base[k] = lv >= 7 || width(&d.info, lv - 1) >=
							       tformat(c->format)
								       ->ias_max
						    ? d.end - r.s0 * k
						    : UINT64_C(1)
							      << width(&d.info,
								       lv - 1);
			}
			EXPECT(pthread_create(&rd, NULL, reader, &r) == 0);
			for (unsigned k = 0; k < GW; k++) {
				wa[k] = (struct warg){ &r, k };
				EXPECT(pthread_create(&w[k], NULL, writer,
						      &wa[k]) == 0);
			}
			for (unsigned k = 0; k < GW; k++)
				pthread_join(w[k], NULL);
			atomic_store(&r.stop, true);
			pthread_join(rd, NULL);
			EQ(atomic_load(&r.bad), 0);
			/* Grown to hold every writer, each level once: the
			 * calls name ever more levels. */
			info = ginfo(&d);
			EXPECT(g.calls >= 1 && g.calls <= GW - 1);
			for (unsigned k = 1; k < g.calls; k++)
				EXPECT(g.hw[k].levels > g.hw[k - 1].levels);
			EQ(g.hw[g.calls - 1].root, info.root_pa);
			EXPECT_TR(&d, r.fixed, tpa_for(&d, r.fixed), r.s0, RW);
			tunmap_ok(&d, r.fixed, r.s0, r.s0);
			iopgt_reclaim(d.dom);
			EQ(tlive(&d), info.levels - d.info.levels + 1);
			gclose_ts(&d, &ts);
		}
	}
}

/* ------------------------------------------------------------------------
 * Every root is pinned, growing or not: an unmap that empties the root
 * (counted or not) never parks it in the idle slots nor takes it for a
 * table it could unlink; nor does one that empties a growing domain's
 * first root, below the current one.
 */

static bool idle_holds(struct iopgt_domain *dom, uint64_t key)
{
	for (unsigned i = 0; i < PT_IDLE_SLOTS; i++)
		if (atomic_load(&dom->idle[i]) == key)
			return true;
	return false;
}

static void test_roots_pinned(void **state)
{
	(void)state;
	for (size_t i = 0; i < n_tcfgs; i++) {
		const struct tcfg *c = &tcfgs[i];

		for (unsigned v = 0; v < 2; v++) {
			const unsigned opt = v ? IOPGT_OPT_COUNTS : 0;
			struct grow_rec g;
			struct tdom d;
			const struct pt_table *root;
			uint64_t key, s0;

			CTX("%s roots pinned, options 0x%x", c->name, opt);
			if (tcfg_grows(c)) {
				gopen(&d, c, tformat(c->format)->ias_max, &g,
				      NULL);
			} else {
				topen(&d, c, opt, CACHE_DEFAULT, 0);
			}
			s0 = d.s[0];
			root = pt_top(d.dom)->t;
			EXPECT(root->pinned);
			key = root->iova | (root->level + 1u);
			/* Two pages in the root's first and last entries, then
			 * all of it unmapped at once, then each alone. */
			tmap_ok(&d, 0, tpa_for(&d, 0), s0, RW);
			tmap_ok(&d, d.end - s0, tpa_for(&d, d.end - s0), s0, RW);
			tunmap_ok(&d, 0, d.end, 2 * s0);
			EXPECT(!idle_holds(d.dom, key));
			tmap_ok(&d, 0, tpa_for(&d, 0), s0, RW);
			tunmap_ok(&d, 0, s0, s0);
			EXPECT(!idle_holds(d.dom, key));
			if (d.cfg.ias_max) {
				/* The growing domain's first root, emptied
				 * below its grown one, stays linked. */
				EXPECT(pt_top(d.dom)->t != root);
				EXPECT(root->pinned);
				EXPECT(!idle_holds(d.dom, key));
				iopgt_reclaim(d.dom);
				EXPECT(tcount_tables(d.dom, NULL) ==
				       ginfo(&d).levels - d.info.levels + 1);
			}
			tclose(&d);
			if (d.cfg.ias_max)
				break; /* one growing run a configuration */
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grow_config),
		cmocka_unit_test(test_grow_map),
		cmocka_unit_test(test_grow_fail),
		cmocka_unit_test(test_grow_race),
		cmocka_unit_test(test_roots_pinned),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
