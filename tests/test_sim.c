/* SPDX-License-Identifier: MIT */
/*
 * The simulated IOMMU (sim/): its translations agree with iopgt_lookup, its
 * caches and accessed/dirty bits behave as hardware's, device threads find
 * no violation while a driver maps and unmaps correctly, and each of its
 * checks fires when a safety rule is broken on purpose (src/testhook.h):
 *
 *   PT_HOOK_SKIP_FLUSH          stale IOTLB translation after the sync
 *   PT_HOOK_LEAF_ONLY_FLUSH     freed / reused table still in the
 *                               paging-structure cache
 *   PT_HOOK_FREE_BEFORE_FLUSH   table freed and reused before its flush
 *   no IOPGT_OPT_CACHING_MODE   cached non-present result never flushed
 *
 * Each broken scenario is driven step by step from the test thread, and
 * the same scenario without the hook must report no violation. Set
 * IOPGT_SEED to replay the randomized parts.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "iopgt_sim.h"
#include "pt.h"
#include "testhook.h"

static uint64_t g_seed;

struct env {
	const struct tcfg *c;
	struct iopgt_sim *sim;
	struct iopgt_domain *dom;
	struct iopgt_info info;
	uint64_t sizes[8];
	unsigned nsizes;
	uint64_t page;     /* smallest leaf */
	uint64_t space;    /* the lower part of the input space: 2^ias, or
	                    * 2^(ias-1) where the format sign-extends */
	uint64_t pa_limit; /* 2^oas */
};

static void env_init(struct env *e, const struct tcfg *c,
		     const struct iopgt_sim_config *scfg, unsigned options,
		     unsigned table_cache)
{
	struct iopgt_config cfg;

	memset(e, 0, sizeof(*e));
	e->c = c;
	assert_int_equal(iopgt_sim_create(scfg, &e->sim), 0);
	tcfg_config(c, &cfg);
	cfg.options = options;
	cfg.table_cache = table_cache;
	iopgt_sim_mem_ops(e->sim, &cfg.mem);
	iopgt_sim_flush_ops(e->sim, &cfg.flush);
	assert_int_equal(iopgt_domain_create(&cfg, &e->dom), 0);
	assert_int_equal(iopgt_sim_attach(e->sim, e->dom), 0);
	iopgt_domain_info(e->dom, &e->info, sizeof(e->info));
	e->nsizes = tcfg_leaf_sizes(e->dom, e->sizes);
	e->page = e->sizes[0];
	e->space = e->info.iova_last + 1;
	e->pa_limit = UINT64_C(1) << e->info.oas;
}

static void env_fini(struct env *e)
{
	struct iopgt_sim_stats st;

	iopgt_sim_detach(e->sim);
	iopgt_domain_destroy(e->dom);
	iopgt_sim_get_stats(e->sim, &st);
	/* Every table page the domain took from the arena came back. */
	assert_int_equal(st.pages_live, 0);
	assert_int_equal(st.pages_alloc, st.pages_freed);
	iopgt_sim_destroy(e->sim);
}

static void sim_cfg(struct iopgt_sim_config *s, unsigned quarantine)
{
	iopgt_sim_config_init(s);
	s->quarantine = quarantine;
	s->arena_size = UINT64_C(256) << 20;
}

/* The driver's side: announce to the model, call the library, sync, and
 * complete the announcement. */
static int drv_map(struct env *e, uint64_t iova, uint64_t pa, uint64_t size,
		   unsigned prot)
{
	struct iopgt_gather g;
	int rc;

	assert_int_equal(iopgt_sim_model_begin_map(e->sim, iova, size, pa,
						   prot), 0);
	iopgt_gather_init(&g, sizeof(g));
	rc = iopgt_map(e->dom, iova, pa, size, prot, &g);
	iopgt_sync(e->dom, &g);
	if (rc)
		assert_int_equal(iopgt_sim_model_cancel(e->sim, iova, size), 0);
	else
		assert_int_equal(iopgt_sim_model_end(e->sim, iova, size), 0);
	return rc;
}

static int64_t drv_unmap(struct env *e, uint64_t iova, uint64_t size)
{
	struct iopgt_gather g;
	int64_t n;

	assert_int_equal(iopgt_sim_model_begin_unmap(e->sim, iova, size), 0);
	iopgt_gather_init(&g, sizeof(g));
	n = iopgt_unmap(e->dom, iova, size, &g);
	iopgt_sync(e->dom, &g);
	assert_int_equal(iopgt_sim_model_end(e->sim, iova, size), 0);
	return n;
}

static uint64_t sim_viol(struct env *e, enum iopgt_sim_violation_kind k)
{
	struct iopgt_sim_stats st;

	iopgt_sim_get_stats(e->sim, &st);
	return st.violations[k];
}

static void expect_clean(struct env *e)
{
	if (iopgt_sim_violations(e->sim)) {
		fprintf(stderr, "%s: ", e->c->name);
		iopgt_sim_print_violations(e->sim, stderr);
	}
	assert_int_equal(iopgt_sim_violations(e->sim), 0);
}

/* ------------------------------------------------------------------------
 * Translations equal iopgt_lookup; IOTLB hits; faults
 */

/* Compare one translation of the sim with the library's lookup. */
static void compare_one(struct env *e, uint64_t iova, unsigned access)
{
	struct iopgt_translation t;
	struct iopgt_sim_result r;
	int lrc = iopgt_lookup(e->dom, iova, &t);
	int src = iopgt_sim_translate(e->sim, iova, access, &r);

	if (lrc) {
		assert_int_equal(lrc, -ENOENT);
		assert_int_equal(src, -EFAULT);
		assert_int_equal(r.fault, IOPGT_SIM_FAULT_NOT_PRESENT);
		return;
	}
	if ((access & IOPGT_SIM_WRITE) && !(t.prot & IOPGT_PROT_WRITE)) {
		assert_int_equal(src, -EFAULT);
		assert_int_equal(r.fault, IOPGT_SIM_FAULT_PERMISSION);
		return;
	}
	assert_int_equal(src, 0);
	assert_int_equal(r.pa, t.pa);
	assert_int_equal(r.leaf_size, t.leaf_size);
	assert_int_equal(r.prot, t.prot);
}

static void test_translate_matches_lookup(void **state)
{
	(void)state;
	for (size_t ci = 0; ci < n_tcfgs; ci++) {
		uint64_t rng = g_seed + ci, region, maxsz;
		struct iopgt_sim_stats st;
		struct env e;
		unsigned nreg, used[16] = { 0 };
		struct { uint64_t iova, size; } m[16];
		unsigned nm = 0;

		env_init(&e, &tcfgs[ci], NULL, 0, 8);
		/* Disjoint regions, each able to hold a few of the largest
		 * leaves (but at most 1G ones). */
		maxsz = e.sizes[e.nsizes - 1];
		if (maxsz > IOPGT_SZ_1G)
			maxsz = IOPGT_SZ_1G;
		region = maxsz * 4;
		if (region > e.space / 16)
			region = e.space / 16;
		nreg = 16;
		for (unsigned i = 0; i < 12; i++) {
			unsigned r = (unsigned)(trand(&rng) % nreg);
			uint64_t s = e.sizes[trand(&rng) % e.nsizes], size, iova,
				 pa;
			unsigned prot = trand(&rng) % 3 == 0
						? IOPGT_PROT_READ
						: IOPGT_PROT_READ |
							  IOPGT_PROT_WRITE;

			if (used[r] || s * 2 > region)
				continue;
			used[r] = 1;
			size = s * (1 + trand(&rng) % 2);
			iova = (uint64_t)r * (e.space / nreg) +
			       (trand(&rng) % (region / s - 2)) * s;
			pa = (trand(&rng) % (e.pa_limit / s - 4)) * s;
			assert_int_equal(drv_map(&e, iova, pa, size, prot), 0);
			m[nm].iova = iova;
			m[nm].size = size;
			nm++;
		}
		assert_true(nm > 0);
		for (unsigned k = 0; k < 400; k++) {
			unsigned i = (unsigned)(trand(&rng) % nm);
			uint64_t off = trand(&rng) % (m[i].size + 4 * e.page);
			uint64_t iova = (m[i].iova + off) & (e.space - 1);
			unsigned a = trand(&rng) & 1 ? IOPGT_SIM_WRITE
						     : IOPGT_SIM_READ;

			compare_one(&e, iova, a);
			compare_one(&e, iova, a); /* again: from the IOTLB */
		}
		for (unsigned r = 0; r < nreg; r++) /* unmapped regions */
			if (!used[r])
				compare_one(&e, (uint64_t)r * (e.space / nreg) +
							e.page,
					    IOPGT_SIM_READ);
		iopgt_sim_get_stats(e.sim, &st);
		assert_true(st.iotlb_hits > 0);
		assert_true(st.walks > 0);
		assert_true(st.faults[IOPGT_SIM_FAULT_NOT_PRESENT] > 0);
		expect_clean(&e);

		/* Beyond the input size, or, where the format sign-extends,
		 * not canonical: a range fault before any walk. The upper
		 * half translates, through the root's upper entries, as the
		 * library looks it up. */
		{
			struct iopgt_sim_result r;
			uint64_t U = e.info.iova_upper, walks;
			uint64_t bad[4] = { e.space, UINT64_C(1) << 63,
					    U ? U - e.page : UINT64_MAX,
					    U ? 0 - 2 * U : e.space * 2 - 1 };

			iopgt_sim_get_stats(e.sim, &st);
			walks = st.walks;
			for (unsigned i = 0; i < 4; i++) {
				assert_int_equal(
					iopgt_sim_translate(e.sim, bad[i],
							    IOPGT_SIM_READ, &r),
					-EFAULT);
				assert_int_equal(r.fault,
						 IOPGT_SIM_FAULT_RANGE);
			}
			iopgt_sim_get_stats(e.sim, &st);
			assert_int_equal(st.walks, walks);
			if (U) {
				uint64_t big = e.sizes[e.nsizes - 1];

				assert_int_equal(
					drv_map(&e, U, big, e.page,
						IOPGT_PROT_READ |
							IOPGT_PROT_WRITE),
					0);
				assert_int_equal(
					drv_map(&e, 0 - big, 2 * big, big,
						IOPGT_PROT_READ),
					0);
				compare_one(&e, U, IOPGT_SIM_WRITE);
				compare_one(&e, U + e.page - 1, IOPGT_SIM_READ);
				compare_one(&e, U + e.page, IOPGT_SIM_READ);
				compare_one(&e, 0 - big, IOPGT_SIM_READ);
				compare_one(&e, UINT64_MAX, IOPGT_SIM_READ);
				compare_one(&e, UINT64_MAX, IOPGT_SIM_WRITE);
				assert_int_equal(
					iopgt_sim_translate(e.sim, UINT64_MAX,
							    IOPGT_SIM_READ,
							    &r),
					0);
				assert_int_equal(r.pa, 3 * big - 1);
				assert_int_equal(drv_unmap(&e, U, e.page),
						 (int64_t)e.page);
				assert_int_equal(drv_unmap(&e, 0 - big, big),
						 (int64_t)big);
				compare_one(&e, U, IOPGT_SIM_READ);
				compare_one(&e, UINT64_MAX, IOPGT_SIM_READ);
			}
		}
		expect_clean(&e);
		env_fini(&e);
	}
}

/* A repeat is an IOTLB hit, a superpage is one IOTLB entry, and a write to
 * a read-only leaf faults. */
static void test_iotlb_and_faults(void **state)
{
	(void)state;
	for (size_t ci = 0; ci < n_tcfgs; ci++) {
		struct iopgt_sim_result r;
		struct env e;
		uint64_t big, iova;

		env_init(&e, &tcfgs[ci], NULL, 0, 8);
		big = e.sizes[1];
		iova = e.space / 2;
		assert_int_equal(drv_map(&e, iova, big * 3, big,
					 IOPGT_PROT_READ | IOPGT_PROT_WRITE),
				 0);
		assert_int_equal(iopgt_sim_translate(e.sim, iova + 5,
						     IOPGT_SIM_READ, &r), 0);
		assert_false(r.iotlb_hit);
		assert_int_equal(r.pa, big * 3 + 5);
		assert_int_equal(r.leaf_size, big);
		/* Elsewhere in the same superpage: the same IOTLB entry. */
		assert_int_equal(iopgt_sim_translate(e.sim, iova + big - 8,
						     IOPGT_SIM_READ, &r), 0);
		assert_true(r.iotlb_hit);
		assert_int_equal(r.pa, big * 4 - 8);

		assert_int_equal(drv_map(&e, iova + big, 0, e.page,
					 IOPGT_PROT_READ), 0);
		assert_int_equal(iopgt_sim_translate(e.sim, iova + big,
						     IOPGT_SIM_WRITE, &r),
				 -EFAULT);
		assert_int_equal(r.fault, IOPGT_SIM_FAULT_PERMISSION);
		assert_int_equal(iopgt_sim_translate(e.sim, iova + big + e.page,
						     IOPGT_SIM_READ, &r),
				 -EFAULT);
		assert_int_equal(r.fault, IOPGT_SIM_FAULT_NOT_PRESENT);
		expect_clean(&e);
		env_fini(&e);
	}
}

static int count_dirty(void *arg, uint64_t iova, uint64_t size)
{
	(void)iova;
	(void)size;
	++*(unsigned *)arg;
	return 0;
}

/* x86: the walker sets the dirty bit on a write, as hardware does; after
 * read-and-clear and its flush, the next write sets it again. */
static void test_dirty_bits(void **state)
{
	(void)state;
	for (size_t ci = 0; ci < n_tcfgs; ci++) {
		struct iopgt_translation t;
		struct iopgt_sim_result r;
		struct iopgt_gather g;
		struct iopgt_sim_stats st;
		struct env e;
		uint64_t iova = IOPGT_SZ_1G + 3 * IOPGT_SZ_4K, leaf;
		unsigned ndirty = 0;

		if (!(tformat(tcfgs[ci].format)->flags & IOPGT_FORMAT_DIRTY))
			continue;
		env_init(&e, &tcfgs[ci], NULL, 0, 8);
		assert_true(e.dom->eng->hw_dirty != 0);
		assert_int_equal(drv_map(&e, iova, 0x1234000, IOPGT_SZ_4K,
					 IOPGT_PROT_READ | IOPGT_PROT_WRITE),
				 0);
		assert_int_equal(iopgt_sim_translate(e.sim, iova,
						     IOPGT_SIM_READ, &r), 0);
		assert_int_equal(iopgt_lookup(e.dom, iova, &t), 0);
		assert_false(t.dirty);
		assert_int_equal(iopgt_sim_peek(e.sim, iova, &leaf, NULL), 0);
		assert_true(leaf & e.dom->eng->hw_accessed);
		/* A write through the IOTLB entry of the read walks again to
		 * set the dirty bit. */
		assert_int_equal(iopgt_sim_translate(e.sim, iova,
						     IOPGT_SIM_WRITE, &r), 0);
		assert_false(r.iotlb_hit);
		assert_int_equal(iopgt_lookup(e.dom, iova, &t), 0);
		assert_true(t.dirty);
		/* Now the IOTLB knows the leaf is dirty. */
		assert_int_equal(iopgt_sim_translate(e.sim, iova,
						     IOPGT_SIM_WRITE, &r), 0);
		assert_true(r.iotlb_hit);

		iopgt_gather_init(&g, sizeof(g));
		assert_int_equal(iopgt_read_and_clear_dirty(
					 e.dom, iova, IOPGT_SZ_4K, 0, count_dirty,
					 &ndirty, &g), 0);
		assert_int_equal(ndirty, 1);
		iopgt_sync(e.dom, &g);
		assert_int_equal(iopgt_lookup(e.dom, iova, &t), 0);
		assert_false(t.dirty);
		assert_int_equal(iopgt_sim_translate(e.sim, iova,
						     IOPGT_SIM_WRITE, &r), 0);
		assert_false(r.iotlb_hit); /* the sync flushed it */
		assert_int_equal(iopgt_lookup(e.dom, iova, &t), 0);
		assert_true(t.dirty);
		iopgt_sim_get_stats(e.sim, &st);
		assert_true(st.ad_updates >= 2);
		assert_true(st.invalidations[IOPGT_FLUSH_MODIFIED] >= 1);
		expect_clean(&e);
		env_fini(&e);
	}
}

/* ------------------------------------------------------------------------
 * Device threads while a driver maps and unmaps correctly
 */

#define SLOTS 32

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t translations(struct env *e)
{
	struct iopgt_sim_stats st;

	iopgt_sim_get_stats(e->sim, &st);
	return st.translations;
}

static void test_devices_concurrent(void **state)
{
	(void)state;
	for (size_t ci = 0; ci < n_tcfgs; ci++) {
		struct iopgt_sim_pattern p = {
			.seed = g_seed + ci, .write_pct = 30, .unmapped_pct = 20,
		};
		struct iopgt_sim_config scfg;
		struct iopgt_sim_stats st;
		struct iopgt_stats ds;
		struct env e;
		uint64_t rng = g_seed ^ (ci << 20), slot, big;
		double t0;
		struct { uint64_t size; int mapped; } s[SLOTS];

		sim_cfg(&scfg, 16);
		env_init(&e, &tcfgs[ci], &scfg, 0, 2);
		memset(s, 0, sizeof(s));
		big = e.nsizes > 1 ? e.sizes[1] : e.page * 8;
		slot = big * 2;
		if (slot * SLOTS > e.space)
			slot = e.space / SLOTS;
		assert_int_equal(iopgt_sim_device_start(e.sim, 2, &p), 0);
		t0 = now_s();
		for (unsigned op = 0; op < 300 || (now_s() - t0 < 2.0 &&
						   translations(&e) < 20000);
		     op++) {
			unsigned i = (unsigned)(trand(&rng) % SLOTS);
			uint64_t base = (uint64_t)i * slot;

			if (!s[i].mapped) {
				uint64_t size = trand(&rng) & 1
							? big
							: e.page * (1 + trand(&rng) % 16);
				unsigned prot = IOPGT_PROT_READ |
						(trand(&rng) & 1 ? IOPGT_PROT_WRITE
								 : 0);
				uint64_t pa = (trand(&rng) %
					       (e.pa_limit / big - 1)) * big;

				if (size > slot)
					size = slot;
				assert_int_equal(drv_map(&e, base, pa, size,
							 prot), 0);
				s[i].size = size;
				s[i].mapped = 1;
			} else if (trand(&rng) % 4 == 0 && s[i].size > e.page) {
				/* A partial unmap (splits a superpage); the
				 * next visit unmaps the rest. */
				uint64_t n = s[i].size / e.page;
				uint64_t at = (trand(&rng) % n) * e.page;

				assert_true(drv_unmap(&e, base + at, e.page) >= 0);
				s[i].size = s[i].size; /* holes are fine */
				if (trand(&rng) & 1)
					s[i].mapped = 1;
			} else {
				assert_true(drv_unmap(&e, base, s[i].size) >= 0);
				s[i].mapped = 0;
			}
		}
		iopgt_sim_device_stop(e.sim);
		for (unsigned i = 0; i < SLOTS; i++)
			if (s[i].mapped)
				drv_unmap(&e, (uint64_t)i * slot, s[i].size);
		iopgt_reclaim(e.dom);
		iopgt_sim_get_stats(e.sim, &st);
		iopgt_get_stats(e.dom, &ds, sizeof(ds));
		fprintf(stderr,
			"%-18s translations %" PRIu64 " iotlb %.0f%% walks %"
			PRIu64 " psc_hits %" PRIu64 " faults %" PRIu64
			" invalidations %" PRIu64 "/%" PRIu64 "/%" PRIu64 "\n",
			e.c->name, st.translations, 100 * st.iotlb_hit_rate,
			st.walks, st.psc_hits,
			st.faults[IOPGT_SIM_FAULT_NOT_PRESENT] +
				st.faults[IOPGT_SIM_FAULT_PERMISSION],
			st.invalidations[IOPGT_FLUSH_MODIFIED],
			st.invalidations[IOPGT_FLUSH_WALK],
			st.invalidate_all);
		assert_true(st.translations > 1000);
		assert_true(st.invalidations[IOPGT_FLUSH_WALK] > 0);
		/* The arena holds what the domain holds: the root alone. */
		assert_int_equal(st.pages_live, ds.table_pages_live);
		assert_int_equal(ds.table_pages_live, 1);
		expect_clean(&e);
		env_fini(&e);
	}
}

/* ------------------------------------------------------------------------
 * Each check shown to fire
 */

/* A table-sized IOVA far from 0 inside the space, and a page in it. */
static uint64_t iova_x(const struct env *e)
{
	return e->space / 4 + 5 * e->page;
}

/* Far from iova_x: another entry of the root (in the upper half where
 * the input is sign-extended: the lower one may be a single root entry). */
static uint64_t iova_y(const struct env *e)
{
	if (e->info.iova_upper)
		return e->info.iova_upper + 9 * e->page;
	return e->space / 2 + 9 * e->page;
}

/* Rule 1: with the flush skipped, the unmapped page still translates from
 * the IOTLB after the sync. */
static void skip_flush(const struct tcfg *c, bool broken)
{
	struct iopgt_sim_config scfg;
	struct iopgt_sim_result r;
	struct env e;
	uint64_t x;

	sim_cfg(&scfg, 0);
	env_init(&e, c, &scfg, 0, 0);
	x = iova_x(&e);
	assert_int_equal(drv_map(&e, x, 0x200000, e.page,
				 IOPGT_PROT_READ | IOPGT_PROT_WRITE), 0);
	assert_int_equal(iopgt_sim_translate(e.sim, x, IOPGT_SIM_READ, &r), 0);
	if (broken)
		iopgt__set_test_hooks(e.dom, PT_HOOK_SKIP_FLUSH);
	assert_int_equal(drv_unmap(&e, x, e.page), (int64_t)e.page);
	iopgt__set_test_hooks(e.dom, 0);
	if (broken) {
		assert_int_equal(iopgt_sim_translate(e.sim, x, IOPGT_SIM_READ,
						     &r), 0);
		assert_true(r.iotlb_hit);
		assert_true(sim_viol(&e, IOPGT_SIM_V_STALE_TRANSLATION) > 0);
	} else {
		assert_int_equal(iopgt_sim_translate(e.sim, x, IOPGT_SIM_READ,
						     &r), -EFAULT);
		assert_int_equal(r.fault, IOPGT_SIM_FAULT_NOT_PRESENT);
		expect_clean(&e);
	}
	env_fini(&e);
}

static void test_neg_skip_flush(void **state)
{
	(void)state;
	for (size_t ci = 0; ci < n_tcfgs; ci++) {
		skip_flush(&tcfgs[ci], false);
		skip_flush(&tcfgs[ci], true);
	}
}

/* Rule 2: a table unlinked with only a leaf flush stays in the
 * paging-structure cache; once freed (and, with reuse, handed to another
 * part of the tree) the next walk through the cached pointer is caught. */
static void leaf_only_flush(const struct tcfg *c, bool broken, bool reuse)
{
	struct iopgt_sim_config scfg;
	struct iopgt_sim_result r;
	struct iopgt_sim_violation v;
	struct iopgt_sim_stats st;
	struct env e;
	uint64_t x, y;

	sim_cfg(&scfg, 0); /* freed pages are reused at once */
	env_init(&e, c, &scfg, 0, 0);
	x = iova_x(&e);
	y = iova_y(&e);
	assert_int_equal(drv_map(&e, x, 0x200000, e.page,
				 IOPGT_PROT_READ | IOPGT_PROT_WRITE), 0);
	assert_int_equal(iopgt_sim_translate(e.sim, x, IOPGT_SIM_READ, &r), 0);
	if (broken)
		iopgt__set_test_hooks(e.dom, PT_HOOK_LEAF_ONLY_FLUSH);
	assert_int_equal(drv_unmap(&e, x, e.page), (int64_t)e.page);
	iopgt__set_test_hooks(e.dom, 0);
	iopgt_sim_get_stats(e.sim, &st);
	assert_true(st.pages_freed > 0); /* the emptied tables are gone */
	if (reuse)
		assert_int_equal(drv_map(&e, y, 0x400000, e.page,
					 IOPGT_PROT_READ), 0);
	assert_int_equal(iopgt_sim_translate(e.sim, x, IOPGT_SIM_READ, &r),
			 -EFAULT);
	if (!broken) {
		assert_int_equal(r.fault, IOPGT_SIM_FAULT_NOT_PRESENT);
		expect_clean(&e);
		env_fini(&e);
		return;
	}
	assert_int_equal(r.fault, IOPGT_SIM_FAULT_VIOLATION);
	assert_true(sim_viol(&e, IOPGT_SIM_V_STALE_WALK_CACHE) > 0);
	assert_int_equal(iopgt_sim_violation_get(e.sim, 0, &v), 0);
	assert_int_equal(v.kind, IOPGT_SIM_V_STALE_WALK_CACHE);
	assert_int_equal(v.rule, 2);
	assert_int_equal(v.iova, x);
	if (reuse) {
		/* The cached page is allocated again, under a new
		 * generation: caught by the generation, not the state. */
		uint32_t gen;
		assert_int_equal(iopgt_sim_page_state(e.sim, v.page_pa, &gen),
				 1);
		assert_true(gen > 0);
		assert_non_null(strstr(v.what, "reused"));
		/* The reused page serves y correctly. */
		assert_int_equal(iopgt_sim_translate(e.sim, y, IOPGT_SIM_READ,
						     &r), 0);
		assert_int_equal(r.pa, 0x400000);
	} else {
		assert_int_equal(iopgt_sim_page_state(e.sim, v.page_pa, NULL),
				 0);
	}
	assert_int_equal(sim_viol(&e, IOPGT_SIM_V_STALE_TRANSLATION), 0);
	env_fini(&e);
}

static void test_neg_leaf_only_flush(void **state)
{
	(void)state;
	for (size_t ci = 0; ci < n_tcfgs; ci++) {
		leaf_only_flush(&tcfgs[ci], false, false);
		leaf_only_flush(&tcfgs[ci], true, false);
	}
}

/* The same with the freed page reused before the walk: the generation
 * check catches a cached pointer to a page that is allocated again. */
static void test_neg_cached_reused_page(void **state)
{
	(void)state;
	for (size_t ci = 0; ci < n_tcfgs; ci++) {
		leaf_only_flush(&tcfgs[ci], false, true);
		leaf_only_flush(&tcfgs[ci], true, true);
	}
}

/* Rule 2(a): tables freed before their flush. At the moment the flush is
 * issued (inside the sync) the test maps elsewhere, which reuses the freed
 * pages, and translates a neighbour of the unmapped page: its walk starts
 * from the paging-structure cache, not yet flushed. */
struct fbf {
	struct env *e;
	int armed;
	int rc;
	struct iopgt_sim_result r;
};

static void fbf_hook(void *arg, uint64_t iova, uint64_t last, unsigned kind)
{
	struct fbf *f = arg;
	struct env *e = f->e;
	uint64_t x = iova_x(e);

	(void)iova;
	(void)last;
	(void)kind;
	if (!f->armed)
		return;
	f->armed = 0;
	assert_int_equal(drv_map(e, iova_y(e), 0x400000, e->page,
				 IOPGT_PROT_READ), 0);
	f->rc = iopgt_sim_translate(e->sim, x + e->page, IOPGT_SIM_READ, &f->r);
}

static void free_before_flush(const struct tcfg *c, bool broken)
{
	struct iopgt_sim_config scfg;
	struct iopgt_sim_result r;
	struct env e;
	struct fbf f;
	uint64_t x;

	sim_cfg(&scfg, 0);
	env_init(&e, c, &scfg, 0, 0);
	x = iova_x(&e);
	memset(&f, 0, sizeof(f));
	f.e = &e;
	assert_int_equal(drv_map(&e, x, 0x200000, e.page,
				 IOPGT_PROT_READ | IOPGT_PROT_WRITE), 0);
	assert_int_equal(iopgt_sim_translate(e.sim, x, IOPGT_SIM_READ, &r), 0);
	iopgt_sim_set_flush_hook(e.sim, fbf_hook, &f);
	f.armed = 1;
	if (broken)
		iopgt__set_test_hooks(e.dom, PT_HOOK_FREE_BEFORE_FLUSH);
	assert_int_equal(drv_unmap(&e, x, e.page), (int64_t)e.page);
	iopgt__set_test_hooks(e.dom, 0);
	iopgt_sim_set_flush_hook(e.sim, NULL, NULL);
	assert_int_equal(f.armed, 0); /* the flush was issued */
	assert_int_equal(f.rc, -EFAULT);
	if (broken) {
		assert_int_equal(f.r.fault, IOPGT_SIM_FAULT_VIOLATION);
		assert_true(sim_viol(&e, IOPGT_SIM_V_STALE_WALK_CACHE) > 0);
	} else {
		/* The unlinked table is still there, empty. */
		assert_int_equal(f.r.fault, IOPGT_SIM_FAULT_NOT_PRESENT);
		expect_clean(&e);
	}
	env_fini(&e);
}

static void test_neg_free_before_flush(void **state)
{
	(void)state;
	for (size_t ci = 0; ci < n_tcfgs; ci++) {
		free_before_flush(&tcfgs[ci], false);
		free_before_flush(&tcfgs[ci], true);
	}
}

/* Caching mode: the IOMMU caches a non-present result; a domain that does
 * not know it issues no flush for a map into empty entries, and the
 * mapping stays invisible. */
static void caching_mode(const struct tcfg *c, bool broken)
{
	struct iopgt_sim_config scfg;
	struct iopgt_sim_result r;
	struct iopgt_sim_stats st;
	struct env e;
	uint64_t x;

	sim_cfg(&scfg, 8);
	scfg.caching_mode = true;
	env_init(&e, c, &scfg, broken ? 0 : IOPGT_OPT_CACHING_MODE, 8);
	x = iova_x(&e);
	assert_int_equal(iopgt_sim_translate(e.sim, x, IOPGT_SIM_READ, &r),
			 -EFAULT);
	assert_int_equal(drv_map(&e, x, 0x200000, e.page, IOPGT_PROT_READ), 0);
	iopgt_sim_get_stats(e.sim, &st);
	if (broken) {
		assert_int_equal(iopgt_sim_translate(e.sim, x, IOPGT_SIM_READ,
						     &r), -EFAULT);
		assert_true(r.iotlb_hit);
		assert_true(sim_viol(&e, IOPGT_SIM_V_LOST_MAPPING) > 0);
	} else {
		assert_true(st.invalidations[IOPGT_FLUSH_ADDED] > 0);
		assert_int_equal(iopgt_sim_translate(e.sim, x, IOPGT_SIM_READ,
						     &r), 0);
		assert_int_equal(r.pa, 0x200000);
		expect_clean(&e);
	}
	env_fini(&e);
}

static void test_neg_caching_mode(void **state)
{
	(void)state;
	for (size_t ci = 0; ci < n_tcfgs; ci++) {
		caching_mode(&tcfgs[ci], false);
		caching_mode(&tcfgs[ci], true);
	}
}

/* The walker's own read check: a walk after the domain (and so its root)
 * was destroyed reads a freed page. */
static void test_neg_walk_reads_freed_root(void **state)
{
	struct iopgt_sim_violation v;
	struct iopgt_sim_result r;
	struct iopgt_config cfg;
	struct iopgt_domain *dom;
	struct iopgt_sim *sim;
	struct iopgt_info info;

	(void)state;
	assert_int_equal(iopgt_sim_create(NULL, &sim), 0);
	tcfg_config(&tcfgs[0], &cfg);
	iopgt_sim_mem_ops(sim, &cfg.mem);
	iopgt_sim_flush_ops(sim, &cfg.flush);
	assert_int_equal(iopgt_domain_create(&cfg, &dom), 0);
	assert_int_equal(iopgt_sim_attach(sim, dom), 0);
	iopgt_domain_info(dom, &info, sizeof(info));
	assert_int_equal(iopgt_sim_translate(sim, 0x1000, IOPGT_SIM_READ, &r),
			 -EFAULT);
	assert_int_equal(r.fault, IOPGT_SIM_FAULT_NOT_PRESENT);
	assert_int_equal(iopgt_sim_violations(sim), 0);
	iopgt_domain_destroy(dom); /* still attached: broken on purpose */
	assert_int_equal(iopgt_sim_translate(sim, 0x1000, IOPGT_SIM_READ, &r),
			 -EFAULT);
	assert_int_equal(r.fault, IOPGT_SIM_FAULT_VIOLATION);
	assert_int_equal(iopgt_sim_violation_get(sim, 0, &v), 0);
	assert_int_equal(v.kind, IOPGT_SIM_V_USE_AFTER_FREE);
	assert_int_equal(v.page_pa, info.root_pa);
	assert_non_null(strstr(v.what, "the root"));
	iopgt_sim_detach(sim);
	iopgt_sim_destroy(sim);
}

/* table_free of something the arena never handed out. */
static void test_neg_bad_free(void **state)
{
	struct iopgt_mem_ops mem;
	struct iopgt_sim *sim;
	uint64_t pa;
	void *va;

	(void)state;
	assert_int_equal(iopgt_sim_create(NULL, &sim), 0);
	iopgt_sim_mem_ops(sim, &mem);
	va = mem.table_alloc(mem.arg, 4096, &pa);
	assert_non_null(va);
	assert_int_equal(pa & 4095, 0);
	assert_int_equal(iopgt_sim_page_state(sim, pa, NULL), 1);
	mem.table_free(mem.arg, va, pa, 4096);
	assert_int_equal(iopgt_sim_page_state(sim, pa, NULL), 0);
	assert_int_equal(iopgt_sim_violations(sim), 0);
	mem.table_free(mem.arg, va, pa, 4096); /* double free */
	assert_int_equal(iopgt_sim_violations(sim), 1);
	iopgt_sim_destroy(sim);
}

/* The model: transitions accept the old and the new state. */
static void test_model_transitions(void **state)
{
	struct env e;
	struct iopgt_gather g;
	struct iopgt_sim_result r;
	uint64_t x;

	(void)state;
	env_init(&e, &tcfgs[0], NULL, 0, 8);
	x = iova_x(&e);
	assert_int_equal(drv_map(&e, x, 0x200000, 4 * e.page,
				 IOPGT_PROT_READ), 0);
	assert_int_equal(iopgt_sim_translate(e.sim, x + e.page,
					     IOPGT_SIM_READ, &r), 0);
	/* Unmap the second page, not yet synced: the IOTLB still answers,
	 * and the model accepts it while the unmap is in transition. */
	assert_int_equal(iopgt_sim_model_begin_unmap(e.sim, x + e.page,
						     e.page), 0);
	iopgt_gather_init(&g, sizeof(g));
	assert_int_equal(iopgt_unmap(e.dom, x + e.page, e.page, &g),
			 (int64_t)e.page);
	assert_int_equal(iopgt_sim_translate(e.sim, x + e.page,
					     IOPGT_SIM_READ, &r), 0);
	assert_true(r.iotlb_hit);
	assert_int_equal(iopgt_sim_violations(e.sim), 0);
	/* The neighbours keep their PAs through the segment split. */
	assert_int_equal(iopgt_sim_translate(e.sim, x + 2 * e.page + 8,
					     IOPGT_SIM_READ, &r), 0);
	assert_int_equal(r.pa, 0x200000 + 2 * e.page + 8);
	iopgt_sync(e.dom, &g);
	assert_int_equal(iopgt_sim_model_end(e.sim, x + e.page, e.page), 0);
	assert_int_equal(iopgt_sim_translate(e.sim, x + e.page,
					     IOPGT_SIM_READ, &r), -EFAULT);
	expect_clean(&e);
	/* Completing the model without the library having unmapped: the
	 * translation that succeeds now is a stale one. */
	assert_int_equal(iopgt_sim_model_unmapped(e.sim, x, e.page), 0);
	assert_int_equal(iopgt_sim_translate(e.sim, x, IOPGT_SIM_READ, &r), 0);
	assert_int_equal(sim_viol(&e, IOPGT_SIM_V_STALE_TRANSLATION), 1);
	/* And a model that says mapped where nothing is: a lost mapping. */
	assert_int_equal(iopgt_sim_model_mapped(e.sim, x + 8 * e.page, e.page,
						0x800000, IOPGT_PROT_READ), 0);
	assert_int_equal(iopgt_sim_translate(e.sim, x + 8 * e.page,
					     IOPGT_SIM_READ, &r), -EFAULT);
	assert_int_equal(sim_viol(&e, IOPGT_SIM_V_LOST_MAPPING), 1);
	/* A wrong PA. */
	assert_int_equal(iopgt_sim_model_mapped(e.sim, x + 3 * e.page, e.page,
						0x900000, IOPGT_PROT_READ), 0);
	assert_int_equal(iopgt_sim_translate(e.sim, x + 3 * e.page,
					     IOPGT_SIM_READ, &r), 0);
	assert_int_equal(sim_viol(&e, IOPGT_SIM_V_WRONG_TRANSLATION), 1);
	drv_unmap(&e, x, 16 * e.page);
	env_fini(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_translate_matches_lookup),
		cmocka_unit_test(test_iotlb_and_faults),
		cmocka_unit_test(test_dirty_bits),
		cmocka_unit_test(test_model_transitions),
		cmocka_unit_test(test_devices_concurrent),
		cmocka_unit_test(test_neg_skip_flush),
		cmocka_unit_test(test_neg_leaf_only_flush),
		cmocka_unit_test(test_neg_cached_reused_page),
		cmocka_unit_test(test_neg_free_before_flush),
		cmocka_unit_test(test_neg_caching_mode),
		cmocka_unit_test(test_neg_walk_reads_freed_root),
		cmocka_unit_test(test_neg_bad_free),
	};

	g_seed = tseed((uint64_t)time(NULL));
	fprintf(stderr, "test_sim: %s=0x%" PRIx64 "\n", TSEED_ENV, g_seed);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
