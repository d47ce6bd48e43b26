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
 *   PT_HOOK_SWAP_WRITE_BIT      write permission encoded in the wrong bit,
 *                               consistently in the library's encoder and
 *                               decoder: seen only by the simulator's own
 *                               decoding
 *   PT_HOOK_BREAK_SPAN_CUT      an unmap clears its part of a leaf of
 *                               several items and leaves the rest naming
 *                               the whole leaf: a walk through the rest
 *                               caches the unmapped part again
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
#include "sim_int.h"
#include "testhook.h"

static uint64_t g_seed;
static bool g_all_sizes; /* env_init: every leaf size, spans included */
/* env_init: a growing domain (up to the format's largest ias) whose grow
 * callback is this, with this arg. */
static int (*g_grow)(void *arg, const struct iopgt_hw_config *hw);
static void *g_grow_arg;

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
	if (g_all_sizes)
		cfg.leaf_sizes = 0;
	cfg.options = options;
	cfg.table_cache = table_cache;
	if (g_grow) {
		cfg.ias_max = tformat(c->format)->ias_max;
		cfg.grow = g_grow;
		cfg.grow_arg = g_grow_arg;
	}
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
 * The simulator's own decoding, entry by entry, against values written
 * from the specifications (not with the library's format code)
 */

#define B(n) (UINT64_C(1) << (n))
/* Bits hi..lo (inclusive). */
#define BITS(hi, lo) ((~UINT64_C(0) >> (63 - (hi))) & ~(B(lo) - 1))

/* x86-64 paging (Intel SDM Vol. 3A, 4.5, Tables 4-15..4-20; 4.6; 4.8). */
static void test_decode_x86_64(void **state)
{
	const struct sim_fmt *f = sim_fmt_find(IOPGT_FMT_X86_64, 12);
	const uint64_t PG_P = B(0), PG_RW = B(1), PG_US = B(2), PG_PWT = B(3),
		       PG_PCD = B(4), PG_A = B(5), PG_D = B(6), PG_PS = B(7),
		       PG_XD = B(63);
	uint64_t pa, size;
	unsigned prot;

	(void)state;
	assert_non_null(f);
	assert_null(sim_fmt_find(IOPGT_FMT_X86_64, 14));
	assert_false(f->valid(f, 0, 0));
	assert_false(f->valid(f, PG_RW | PG_US | 0x1000, 2)); /* P clear */
	assert_true(f->valid(f, PG_P, 0));
	/* A PML4E (level 3) or PML5E (level 4) names a table; PS there is
	 * reserved. */
	assert_true(f->is_table(f, 0x5000 | PG_P | PG_RW, 3));
	assert_false(f->reserved(f, 0x5000 | PG_P | PG_RW, 3));
	assert_int_equal(f->table_pa(f, 0x5000 | PG_P | PG_RW | PG_XD, 3),
			 0x5000);
	assert_true(f->reserved(f, 0x5000 | PG_P | PG_PS, 3));
	assert_true(f->reserved(f, 0x5000 | PG_P | PG_PS, 4));
	/* A PTE's bit 7 is PAT: always a leaf. */
	assert_false(f->is_table(f, 0x5000 | PG_P | PG_PS, 0));
	assert_false(f->reserved(f, 0x5000 | PG_P | PG_PS, 0));
	/* A 2M PDE: bit 12 is PAT, bits 20:13 reserved. */
	assert_false(f->is_table(f, 0x40000000 | PG_P | PG_PS, 1));
	assert_false(f->reserved(f, 0x40000000 | B(12) | PG_P | PG_PS, 1));
	assert_true(f->reserved(f, 0x40000000 | B(13) | PG_P | PG_PS, 1));
	assert_int_equal(f->leaf(f, 0x40000000 | B(12) | PG_P | PG_PS, 1, &pa,
				 &size, &prot),
			 IOPGT_SIM_FAULT_NONE);
	assert_int_equal(pa, 0x40000000);
	assert_int_equal(size, IOPGT_SZ_2M);
	/* A 1G PDPTE: bits 29:13 reserved. */
	assert_true(f->reserved(f, 0x40000000 | B(29) | PG_P | PG_PS, 2));
	assert_int_equal(f->leaf(f, 0x40000000 | PG_P | PG_PS, 2, &pa, &size,
				 &prot),
			 IOPGT_SIM_FAULT_NONE);
	assert_int_equal(size, IOPGT_SZ_1G);
	/* Protection of a PTE: present reads, R/W, U/S, !XD, PCD. */
	assert_int_equal(f->leaf(f, 0x7000 | PG_P, 0, &pa, &size, &prot),
			 IOPGT_SIM_FAULT_NONE);
	assert_int_equal(pa, 0x7000);
	assert_int_equal(size, IOPGT_SZ_4K);
	assert_int_equal(prot, IOPGT_PROT_READ | IOPGT_PROT_EXEC);
	f->leaf(f, 0x7000 | PG_P | PG_RW | PG_US | PG_PCD | PG_PWT | PG_XD, 0,
		&pa, &size, &prot);
	assert_int_equal(prot, IOPGT_PROT_READ | IOPGT_PROT_WRITE |
				       IOPGT_PROT_USER | IOPGT_PROT_MMIO);
	/* Table entries take away what they do not grant. */
	assert_int_equal(f->table_prot(f, 0x5000 | PG_P | PG_RW | PG_US, 2) &
				 (IOPGT_PROT_WRITE | IOPGT_PROT_USER |
				  IOPGT_PROT_EXEC),
			 IOPGT_PROT_WRITE | IOPGT_PROT_USER | IOPGT_PROT_EXEC);
	assert_int_equal(f->table_prot(f, 0x5000 | PG_P | PG_XD, 2) &
				 (IOPGT_PROT_WRITE | IOPGT_PROT_USER |
				  IOPGT_PROT_EXEC),
			 0);
	/* A on any access, D on a write; bits 58:52 are ignored. */
	assert_int_equal(f->hw_bits(f, 0x7000 | PG_P, 0, IOPGT_SIM_READ), PG_A);
	assert_int_equal(f->hw_bits(f, 0x7000 | PG_P, 0, IOPGT_SIM_WRITE),
			 PG_A | PG_D);
	assert_false(f->reserved(f, 0x7000 | PG_P | B(58) | B(52), 0));
}

/* Arm stage 2 (Arm ARM DDI 0487, D8: descriptor formats, S2AP, MemAttr,
 * XN, AF). */
static void test_decode_arm_s2(void **state)
{
	const struct sim_fmt *f4 = sim_fmt_find(IOPGT_FMT_ARM_S2, 12);
	const struct sim_fmt *f16 = sim_fmt_find(IOPGT_FMT_ARM_S2, 14);
	const struct sim_fmt *f64 = sim_fmt_find(IOPGT_FMT_ARM_S2, 16);
	const uint64_t S2_TABLE = 3, S2_PAGE = 3, S2_BLOCK = 1, S2_R = B(6),
		       S2_W = B(7), S2_AF = B(10), S2_XN = B(54),
		       S2_NORMAL = UINT64_C(0xf) << 2,
		       S2_DEVICE = UINT64_C(0x1) << 2,
		       S2_SH = UINT64_C(3) << 8;
	uint64_t pa, size;
	unsigned prot;

	(void)state;
	assert_non_null(f4);
	assert_non_null(f16);
	assert_non_null(f64);
	/* Bit 0 clear: invalid. At lookup level 3 (our 0) 0b01 is reserved,
	 * invalid; 0b11 is a page. */
	assert_false(f4->valid(f4, 0x5000 | 2, 1));
	assert_false(f4->valid(f4, 0x5000 | S2_BLOCK | S2_AF, 0));
	assert_true(f4->valid(f4, 0x5000 | S2_PAGE | S2_AF, 0));
	assert_false(f4->is_table(f4, 0x5000 | S2_PAGE, 0));
	/* Blocks: 4K at lookup levels 1 and 2 (our 2, 1), not 0 (our 3);
	 * 16K and 64K at lookup level 2 only. */
	assert_true(f4->valid(f4, 0x40000000 | S2_BLOCK | S2_AF, 2));
	assert_true(f4->valid(f4, 0x200000 | S2_BLOCK | S2_AF, 1));
	assert_false(f4->valid(f4, S2_BLOCK | S2_AF, 3));
	assert_true(f16->valid(f16, 0x2000000 | S2_BLOCK | S2_AF, 1));
	assert_false(f16->valid(f16, S2_BLOCK | S2_AF, 2));
	assert_true(f64->valid(f64, 0x20000000 | S2_BLOCK | S2_AF, 1));
	assert_false(f64->valid(f64, S2_BLOCK | S2_AF, 2));
	/* Tables: bits 47:g; bits g-1:12 and 49:48 RES0. */
	assert_true(f4->is_table(f4, 0x5000 | S2_TABLE, 1));
	assert_int_equal(f4->table_pa(f4, 0x5000 | S2_TABLE | B(58), 1),
			 0x5000);
	assert_false(f4->reserved(f4, 0x5000 | S2_TABLE, 1));
	assert_true(f4->reserved(f4, 0x5000 | S2_TABLE | B(48), 1));
	assert_true(f16->reserved(f16, 0x5000 | S2_TABLE, 1)); /* bit 12 */
	assert_false(f16->reserved(f16, 0x4000 | S2_TABLE, 1));
	assert_true(f64->reserved(f64, 0x11000 | S2_TABLE, 1));
	/* A 2M block: bits 20:12 RES0. */
	assert_true(f4->reserved(f4, 0x201000 | S2_BLOCK | S2_AF, 1));
	assert_false(f4->reserved(f4, 0x200000 | S2_BLOCK | S2_AF, 1));
	assert_int_equal(f4->leaf(f4,
				  0x200000 | S2_BLOCK | S2_AF | S2_R | S2_W |
					  S2_NORMAL | S2_SH,
				  1, &pa, &size, &prot),
			 IOPGT_SIM_FAULT_NONE);
	assert_int_equal(pa, 0x200000);
	assert_int_equal(size, IOPGT_SZ_2M);
	assert_int_equal(prot, IOPGT_PROT_READ | IOPGT_PROT_WRITE |
				       IOPGT_PROT_EXEC);
	/* S2AP[0] read, S2AP[1] write, XN, Device memory. */
	f64->leaf(f64, 0x30000 | S2_PAGE | S2_AF | S2_W | S2_XN | S2_DEVICE, 0,
		  &pa, &size, &prot);
	assert_int_equal(pa, 0x30000);
	assert_int_equal(size, IOPGT_SZ_64K);
	assert_int_equal(prot, IOPGT_PROT_WRITE | IOPGT_PROT_MMIO);
	f16->leaf(f16, 0x2000000 | S2_BLOCK | S2_AF | S2_R | S2_XN | S2_NORMAL,
		  1, &pa, &size, &prot);
	assert_int_equal(size, IOPGT_SZ_32M);
	assert_int_equal(prot, IOPGT_PROT_READ);
	/* AF clear: an access flag fault (hardware AF management off). */
	assert_int_equal(f4->leaf(f4, 0x5000 | S2_PAGE | S2_R | S2_W | S2_NORMAL,
				  0, &pa, &size, &prot),
			 IOPGT_SIM_FAULT_ACCESS_FLAG);
	/* No permissions in table descriptors, no bits set by hardware. */
	assert_int_equal(f4->table_prot(f4, 0x5000 | S2_TABLE, 1) &
				 (IOPGT_PROT_READ | IOPGT_PROT_WRITE),
			 IOPGT_PROT_READ | IOPGT_PROT_WRITE);
	assert_int_equal(f4->hw_bits(f4, 0x5000 | S2_PAGE | S2_AF | S2_W, 0,
				     IOPGT_SIM_WRITE),
			 0);
}

/* Intel VT-d second stage (VT-d spec 3.7, 9.8): no present bit. */
static void test_decode_vtdss(void **state)
{
	const struct sim_fmt *f = sim_fmt_find(IOPGT_FMT_VTDSS, 12);
	const uint64_t V_R = B(0), V_W = B(1), V_WB = UINT64_C(6) << 3,
		       V_IPAT = B(6), V_PS = B(7), V_A = B(8), V_D = B(9),
		       V_SNP = B(11);
	uint64_t pa, size;
	unsigned prot;

	(void)state;
	assert_non_null(f);
	/* R and W both clear: not present, whatever else is set. */
	assert_false(f->valid(f, 0, 0));
	assert_false(f->valid(f, 0x5000 | V_A | V_WB, 1));
	assert_true(f->valid(f, 0x5000 | V_W, 0));
	/* Tables above level 0 without PS; PS reserved in SS-PML4E/PML5E,
	 * SNP in table entries. */
	assert_true(f->is_table(f, 0x5000 | V_R | V_W | V_A, 3));
	assert_int_equal(f->table_pa(f, 0x5000 | V_R | V_W | V_A, 3), 0x5000);
	assert_false(f->reserved(f, 0x5000 | V_R | V_W | V_A, 3));
	assert_true(f->reserved(f, 0x5000 | V_R | V_PS, 3));
	assert_true(f->reserved(f, 0x5000 | V_R | V_PS, 4));
	assert_true(f->reserved(f, 0x5000 | V_R | V_SNP, 2));
	/* An SS-PTE's bit 7 is ignored: a leaf. */
	assert_false(f->is_table(f, 0x5000 | V_R | V_PS, 0));
	/* A 2M SS-PDE: bits 20:12 reserved. */
	assert_true(f->reserved(f, 0x201000 | V_R | V_PS, 1));
	assert_false(f->reserved(f, 0x200000 | V_R | V_PS | V_SNP, 1));
	assert_int_equal(f->leaf(f, 0x40200000 | V_R | V_W | V_PS | V_WB, 1,
				 &pa, &size, &prot),
			 IOPGT_SIM_FAULT_NONE);
	assert_int_equal(pa, 0x40200000);
	assert_int_equal(size, IOPGT_SZ_2M);
	assert_int_equal(prot, IOPGT_PROT_READ | IOPGT_PROT_WRITE);
	/* Write-only, uncacheable (EMT 0, IPAT): device memory. */
	f->leaf(f, 0x40000000 | V_W | V_PS | V_IPAT, 2, &pa, &size, &prot);
	assert_int_equal(size, IOPGT_SZ_1G);
	assert_int_equal(prot, IOPGT_PROT_WRITE | IOPGT_PROT_MMIO);
	/* Table entries take away R or W. */
	assert_int_equal(f->table_prot(f, 0x5000 | V_R, 2) &
				 (IOPGT_PROT_READ | IOPGT_PROT_WRITE),
			 IOPGT_PROT_READ);
	/* A on any access, D on a write. */
	assert_int_equal(f->hw_bits(f, 0x7000 | V_R, 0, IOPGT_SIM_READ), V_A);
	assert_int_equal(f->hw_bits(f, 0x7000 | V_W, 0, IOPGT_SIM_WRITE),
			 V_A | V_D);
}

/* AMD IOMMU v1 host tables (AMD IOMMU spec 2.2.3: PDE and PTE formats,
 * Next Level, the page size encoding of Next Level 7; 2.2.2: DTE Mode and
 * HAD). Walker level L is the specification's level L + 1. */
static void test_decode_amdv1(void **state)
{
	const struct sim_fmt *f = sim_fmt_find(IOPGT_FMT_AMDV1, 12);
	const uint64_t A_PR = B(0), A_A = B(5), A_D = B(6), A_U = B(59),
		       A_FC = B(60), A_IR = B(61), A_IW = B(62),
		       A_IGN = B(63) | B(4) | B(1) | B(8) | B(7);
#define NL(n) ((uint64_t)(n) << 9)
	uint64_t pa, size;
	unsigned prot;

	(void)state;
	assert_non_null(f);
	assert_null(sim_fmt_find(IOPGT_FMT_AMDV1, 14));
	assert_int_equal(f->granule, 12);
	assert_int_equal(f->bits, 9);
	assert_int_equal(f->max_levels, 6); /* DTE.Mode 1..6 */
	assert_int_equal(f->leaf_levels, 0x3f);

	/* PR clear: not present, whatever else is set. */
	assert_false(f->valid(f, 0, 0));
	assert_false(f->valid(f, 0x5000 | NL(1) | A_IR | A_IW | A_A, 1));
	assert_true(f->valid(f, A_PR, 0));

	/* A PDE at each level above the first names the table of the level
	 * below; ignored bits (63, 8:6, 4:1) change nothing, bits 60:52 are
	 * reserved (FC and U exist in PTEs only). */
	for (unsigned l = 1; l < 6; l++) {
		uint64_t pde = 0x5000 | A_PR | NL(l) | A_IR | A_IW;

		assert_true(f->valid(f, pde, l));
		assert_false(f->reserved(f, pde, l));
		assert_false(f->reserved(f, pde | A_IGN | A_A | A_D, l));
		assert_true(f->is_table(f, pde, l));
		assert_int_equal(f->table_pa(f, pde | A_IGN, l), 0x5000);
		assert_true(f->reserved(f, pde | B(52), l));
		assert_true(f->reserved(f, pde | A_U, l));
		assert_true(f->reserved(f, pde | A_FC, l));
		/* Next Level at or above its own level: invalid. */
		assert_true(f->reserved(f, (pde & ~NL(7)) | NL(l + 1), l));
	}
	/* A skipped level (level 4 pointing at level 2) is not walked. */
	assert_true(f->reserved(f, 0x5000 | A_PR | NL(2) | A_IR | A_IW, 3));
	/* At level 1 a PDE has nowhere to point. */
	assert_true(f->reserved(f, 0x5000 | A_PR | NL(1) | A_IR | A_IW, 0));

	/* Next Level 0 at levels 1..3: a 4K, 2M or 1G page; address bits
	 * below a large page's alignment are malformed. */
	assert_false(f->is_table(f, 0x7000 | A_PR | A_IR, 0));
	assert_false(f->reserved(f, 0x7000 | A_PR | A_IR | A_IGN, 0));
	assert_int_equal(f->leaf(f, 0x7000 | A_PR | A_IR | A_IW, 0, &pa, &size,
				 &prot),
			 IOPGT_SIM_FAULT_NONE);
	assert_int_equal(pa, 0x7000);
	assert_int_equal(size, IOPGT_SZ_4K);
	assert_int_equal(prot, IOPGT_PROT_READ | IOPGT_PROT_WRITE);
	assert_false(f->is_table(f, 0x40200000 | A_PR | A_IR, 1));
	assert_false(f->reserved(f, 0x40200000 | A_PR | A_IR, 1));
	assert_true(f->reserved(f, 0x40201000 | A_PR | A_IR, 1));
	f->leaf(f, 0x40200000 | A_PR | A_IR, 1, &pa, &size, &prot);
	assert_int_equal(pa, 0x40200000);
	assert_int_equal(size, IOPGT_SZ_2M);
	assert_int_equal(prot, IOPGT_PROT_READ);
	assert_false(f->reserved(f, 0x40000000 | A_PR | A_IW, 2));
	assert_true(f->reserved(f, 0x40000000 | B(29) | A_PR | A_IW, 2));
	f->leaf(f, 0x40000000 | A_PR | A_IW, 2, &pa, &size, &prot);
	assert_int_equal(pa, 0x40000000);
	assert_int_equal(size, IOPGT_SZ_1G);
	assert_int_equal(prot, IOPGT_PROT_WRITE);
	/* And at level 4: 512G. */
	assert_false(f->reserved(f, B(39) | A_PR | A_IR, 3));
	f->leaf(f, B(39) | A_PR | A_IR, 3, &pa, &size, &prot);
	assert_int_equal(size, B(39));

	/* Next Level 7: t one bits from address bit 12 up, then a zero, make
	 * a 2^(13 + t) page; the output address drops them. */
	/* 8K at level 1: bit 12 = 0 (bit 13 an address bit). */
	assert_false(f->reserved(f, 0x12345e000 | A_PR | NL(7) | A_IR, 0));
	f->leaf(f, 0x12345e000 | A_PR | NL(7) | A_IR, 0, &pa, &size, &prot);
	assert_int_equal(pa, 0x12345e000);
	assert_int_equal(size, 8192);
	/* 16K: bits 13:12 = 01b. */
	f->leaf(f, 0x12345c000 | B(12) | A_PR | NL(7) | A_IR, 0, &pa, &size,
		&prot);
	assert_int_equal(pa, 0x12345c000);
	assert_int_equal(size, IOPGT_SZ_16K);
	/* 64K: bits 15:12 = 0111b. */
	assert_false(f->reserved(f, 0x123450000 | 0x7000 | A_PR | NL(7), 0));
	f->leaf(f, 0x123450000 | 0x7000 | A_PR | NL(7) | A_IR | A_IW, 0, &pa,
		&size, &prot);
	assert_int_equal(pa, 0x123450000);
	assert_int_equal(size, IOPGT_SZ_64K);
	assert_int_equal(prot, IOPGT_PROT_READ | IOPGT_PROT_WRITE);
	/* 1M, the largest at level 1: bits 19:12 = 0111_1111b. */
	assert_false(f->reserved(f, 0x123400000 | 0x7f000 | A_PR | NL(7), 0));
	f->leaf(f, 0x123400000 | 0x7f000 | A_PR | NL(7), 0, &pa, &size, &prot);
	assert_int_equal(pa, 0x123400000);
	assert_int_equal(size, B(20));
	/* 2M would fill the whole level-1 table (a level-2 PTE's size), 4M
	 * more than it: not at level 1. */
	assert_true(f->reserved(f, 0x123400000 | 0xff000 | A_PR | NL(7), 0));
	assert_true(f->reserved(f, 0x123400000 | 0x1ff000 | A_PR | NL(7), 0));
	/* 4M at level 2: bits 20:12 all ones, bit 21 zero. */
	assert_false(f->reserved(f, 0x40400000 | 0x1ff000 | A_PR | NL(7), 1));
	f->leaf(f, 0x40400000 | 0x1ff000 | A_PR | NL(7) | A_IR, 1, &pa, &size,
		&prot);
	assert_int_equal(pa, 0x40400000);
	assert_int_equal(size, B(22));
	assert_int_equal(prot, IOPGT_PROT_READ);
	/* Not larger than the level's own size: 8K or 2M (the latter is Next
	 * Level 0) at level 2. */
	assert_true(f->reserved(f, 0x40400000 | A_PR | NL(7), 1));
	assert_true(f->reserved(f, 0x40400000 | 0xff000 | A_PR | NL(7), 1));
	/* 4G at level 3: bits 30:12 all ones, bit 31 zero; 2G too. */
	assert_false(f->reserved(f, B(32) | BITS(30, 12) | A_PR | NL(7), 2));
	f->leaf(f, B(32) | BITS(30, 12) | A_PR | NL(7) | A_IW, 2, &pa, &size,
		&prot);
	assert_int_equal(pa, B(32));
	assert_int_equal(size, B(32));
	assert_int_equal(prot, IOPGT_PROT_WRITE);
	assert_false(f->reserved(f, B(31) | BITS(29, 12) | A_PR | NL(7), 2));
	/* 2^52 at level 5 (bits 50:12 ones); the root of 6 levels holds only
	 * its own 2^57 entries (no larger size fits the field); a field of
	 * all ones encodes no size. */
	assert_false(f->reserved(f, BITS(50, 12) | A_PR | NL(7), 4));
	f->leaf(f, BITS(50, 12) | A_PR | NL(7), 4, &pa, &size, &prot);
	assert_int_equal(pa, 0);
	assert_int_equal(size, B(52));
	assert_true(f->reserved(f, BITS(50, 12) | A_PR | NL(7), 5));
	assert_true(f->reserved(f, BITS(51, 12) | A_PR | NL(7), 0));

	/* PTE bits 58:52 are reserved; U (59), FC (60) and 63 are not, and
	 * make no memory type: never MMIO, USER or EXEC. */
	assert_true(f->reserved(f, 0x7000 | A_PR | B(52), 0));
	assert_true(f->reserved(f, 0x7000 | A_PR | B(58), 0));
	assert_true(f->reserved(f, 0x12345e000 | A_PR | NL(7) | B(55), 0));
	assert_false(f->reserved(f, 0x7000 | A_PR | A_U | A_FC | B(63), 0));
	f->leaf(f, 0x7000 | A_PR | A_U | A_FC | A_IR | A_IW, 0, &pa, &size,
		&prot);
	assert_int_equal(prot, IOPGT_PROT_READ | IOPGT_PROT_WRITE);
	/* IR and IW alone, neither (present, but no access). */
	f->leaf(f, 0x7000 | A_PR | A_IW, 0, &pa, &size, &prot);
	assert_int_equal(prot, IOPGT_PROT_WRITE);
	f->leaf(f, 0x7000 | A_PR, 0, &pa, &size, &prot);
	assert_int_equal(prot, 0);

	/* A PDE takes away what it does not grant. */
	assert_int_equal(f->table_prot(f, 0x5000 | A_PR | NL(1) | A_IR | A_IW,
				       1) &
				 (IOPGT_PROT_READ | IOPGT_PROT_WRITE),
			 IOPGT_PROT_READ | IOPGT_PROT_WRITE);
	assert_int_equal(f->table_prot(f, 0x5000 | A_PR | NL(1) | A_IR, 1) &
				 (IOPGT_PROT_READ | IOPGT_PROT_WRITE),
			 IOPGT_PROT_READ);
	assert_int_equal(f->table_prot(f, 0x5000 | A_PR | NL(2) | A_IW, 2) &
				 (IOPGT_PROT_READ | IOPGT_PROT_WRITE),
			 IOPGT_PROT_WRITE);
	assert_int_equal(f->table_prot(f, 0x5000 | A_PR | NL(1), 1) &
				 (IOPGT_PROT_READ | IOPGT_PROT_WRITE),
			 0);

	/* HAD = 11b: A on any access, D on a write. */
	assert_int_equal(f->hw_bits(f, 0x7000 | A_PR | A_IR, 0, IOPGT_SIM_READ),
			 A_A);
	assert_int_equal(f->hw_bits(f, 0x7000 | A_PR | A_IW, 0,
				    IOPGT_SIM_WRITE),
			 A_A | A_D);
#undef NL
}

/* What iopgt_sim_attach sets, for tables written by hand: a 3-level AMD v1
 * table (DTE.Mode 3, 39-bit IOVA) at root_pa. The library offers no AMD v1
 * domain to attach yet; `dom` only marks the simulator attached. */
static void hand_attach_amdv1(struct iopgt_sim *sim, uint64_t root_pa,
			      struct iopgt_domain *dom)
{
	sim->fmt = sim_fmt_find(IOPGT_FMT_AMDV1, 12);
	assert_non_null(sim->fmt);
	memset(&sim->geo, 0, sizeof(sim->geo));
	sim->geo.levels = 3;
	sim->geo.granule = 12;
	sim->geo.bits = 9;
	sim->geo.root_bits = 9;
	sim->geo.root_tables = 1;
	sim->geo.ias = 39;
	sim->geo.oas = 52;
	sim->geo.table_size = 4096;
	sim->geo.root_size = 4096;
	pt_geo_finish(&sim->geo);
	sim->leaf_levels = sim->fmt->leaf_levels & 7;
	sim->max_leaf_level = 2;
	atomic_store(&sim->root, root_pa | 3);
	sim->oas = 52;
	sim->format = IOPGT_FMT_AMDV1;
	sim->dom = dom;
}

static void expect_tr(struct iopgt_sim *sim, uint64_t iova, unsigned access,
		      uint64_t pa, uint64_t size, bool hit)
{
	struct iopgt_sim_result r;

	assert_int_equal(iopgt_sim_translate(sim, iova, access, &r), 0);
	assert_int_equal(r.pa, pa);
	assert_int_equal(r.leaf_size, size);
	assert_int_equal(r.iotlb_hit, hit);
}

/* The walker over AMD v1 tables written by hand from the specification:
 * pages that span several entries of their level (Next Level 7) translate
 * from every slot, from the IOTLB too, which caches them slot by slot, all
 * slots from one walk (so an invalidation that misses a slot leaves it
 * stale); A and D go to the entry walked; a PDE without IW makes writes
 * below it fault. */
static void test_walk_amdv1_hand_tables(void **state)
{
	const uint64_t PR = B(0), A = B(5), D = B(6), IR = B(61), IW = B(62);
#define NL(n) ((uint64_t)(n) << 9)
	static struct iopgt_domain fake;
	struct iopgt_sim_config scfg;
	struct iopgt_sim_result r;
	struct iopgt_sim_stats st;
	struct iopgt_sim *sim;
	uint64_t pa[4], *t[4]; /* root, level 2, level 1, level 1 read-only */

	(void)state;
	sim_cfg(&scfg, 64);
	assert_int_equal(iopgt_sim_create(&scfg, &sim), 0);
	for (int i = 0; i < 4; i++) {
		t[i] = sim_table_alloc(sim, 4096, &pa[i]);
		assert_non_null(t[i]);
		memset(t[i], 0, 4096);
	}
	/* Level 3 -> level 2 -> level 1; the second level-1 table below a
	 * PDE that grants reads only. */
	t[0][0] = pa[1] | PR | NL(2) | IR | IW;
	t[1][0] = pa[2] | PR | NL(1) | IR | IW;
	t[1][1] = pa[3] | PR | NL(1) | IR;
	/* 8K at IOVA 0x2000: two level-1 slots. */
	t[2][2] = t[2][3] = 0x90002000 | PR | NL(7) | IR | IW;
	/* 64K at 0x10000: sixteen slots, bits 15:12 = 0111b. */
	for (int i = 16; i < 32; i++)
		t[2][i] = 0x90010000 | 0x7000 | PR | NL(7) | IR | IW;
	/* 4M at 0x400000: two level-2 slots, bits 20:12 all ones. */
	t[1][2] = t[1][3] = 0x80400000 | 0x1ff000 | PR | NL(7) | IR | IW;
	/* 4K at 0x200000, writable in its PTE only. */
	t[3][0] = 0x90100000 | PR | IR | IW;
	hand_attach_amdv1(sim, pa[0], &fake);
	assert_int_equal(iopgt_sim_model_mapped(sim, 0x2000, 0x2000, 0x90002000,
					     RW),
			 0);
	assert_int_equal(iopgt_sim_model_mapped(sim, 0x10000, 0x10000, 0x90010000,
					     RW),
			 0);
	assert_int_equal(iopgt_sim_model_mapped(sim, 0x400000, 0x400000,
					     0x80400000, RW),
			 0);
	assert_int_equal(iopgt_sim_model_mapped(sim, 0x200000, 0x1000, 0x90100000,
					     IOPGT_PROT_READ),
			 0);

	/* A walk through one slot caches every slot of the page, each with
	 * its own part of it. */
	expect_tr(sim, 0x2010, IOPGT_SIM_READ, 0x90002010, 0x2000, false);
	expect_tr(sim, 0x3020, IOPGT_SIM_READ, 0x90003020, 0x2000, true);
	expect_tr(sim, 0x2010, IOPGT_SIM_READ, 0x90002010, 0x2000, true);
	expect_tr(sim, 0x1f123, IOPGT_SIM_READ, 0x9001f123, 0x10000, false);
	expect_tr(sim, 0x1f123, IOPGT_SIM_READ, 0x9001f123, 0x10000, true);
	expect_tr(sim, 0x10000, IOPGT_SIM_READ, 0x90010000, 0x10000, true);
	expect_tr(sim, 0x7ff123, IOPGT_SIM_READ, 0x807ff123, 0x400000, false);
	expect_tr(sim, 0x7ff123, IOPGT_SIM_READ, 0x807ff123, 0x400000, true);
	expect_tr(sim, 0x400000, IOPGT_SIM_READ, 0x80400000, 0x400000, true);

	/* A in the slot walked only; a write walks again (the cached page
	 * is not known dirty) and sets A and D in its own slot only. */
	assert_true(t[2][2] & A);
	assert_false(t[2][3] & A);
	assert_false(t[2][3] & D);
	expect_tr(sim, 0x3020, IOPGT_SIM_WRITE, 0x90003020, 0x2000, false);
	assert_true(t[2][3] & A);
	assert_true(t[2][3] & D);
	assert_false(t[2][2] & D);
	expect_tr(sim, 0x3020, IOPGT_SIM_WRITE, 0x90003020, 0x2000, true);

	/* The PDE's missing IW denies the write its PTE allows. */
	assert_int_equal(iopgt_sim_translate(sim, 0x200010, IOPGT_SIM_READ, &r),
			 0);
	assert_int_equal(r.pa, 0x90100010);
	assert_int_equal(r.prot, IOPGT_PROT_READ);
	assert_int_equal(iopgt_sim_translate(sim, 0x200010, IOPGT_SIM_WRITE,
					     &r),
			 -EFAULT);
	assert_int_equal(r.fault, IOPGT_SIM_FAULT_PERMISSION);
	assert_int_equal(iopgt_sim_violations(sim), 0);

	/* Unmap the 8K page, invalidating its first 4K only: the second slot
	 * still translates from the IOTLB (stale), until it is flushed. */
	assert_int_equal(iopgt_sim_model_begin_unmap(sim, 0x2000, 0x2000), 0);
	t[2][2] = t[2][3] = 0;
	sim_flush_range(sim, 0x2000, 0x2fff, IOPGT_FLUSH_MODIFIED);
	assert_int_equal(iopgt_sim_model_end(sim, 0x2000, 0x2000), 0);
	assert_int_equal(iopgt_sim_translate(sim, 0x2010, IOPGT_SIM_READ, &r),
			 -EFAULT);
	assert_int_equal(r.fault, IOPGT_SIM_FAULT_NOT_PRESENT);
	assert_int_equal(iopgt_sim_translate(sim, 0x3020, IOPGT_SIM_READ, &r),
			 0);
	assert_true(r.iotlb_hit);
	iopgt_sim_get_stats(sim, &st);
	assert_int_equal(st.violations[IOPGT_SIM_V_STALE_TRANSLATION], 1);
	sim_flush_range(sim, 0x3000, 0x3fff, IOPGT_FLUSH_MODIFIED);
	assert_int_equal(iopgt_sim_translate(sim, 0x3020, IOPGT_SIM_READ, &r),
			 -EFAULT);
	assert_int_equal(r.fault, IOPGT_SIM_FAULT_NOT_PRESENT);
	assert_int_equal(iopgt_sim_violations(sim), 1);

	iopgt_sim_detach(sim);
	for (int i = 0; i < 4; i++)
		sim_table_free(sim, t[i], pa[i], 4096);
	iopgt_sim_destroy(sim);
#undef NL
}

/* The tests' poison for freed table pages (TPOISON_FREED) reads, in every
 * format of the registry, as a leaf or as invalid, never as a table entry
 * a walker still inside a freed page would follow. */
static void test_poison_never_a_table(void **state)
{
	struct iopgt_format_info fi;

	(void)state;
	for (unsigned n = 0; !iopgt_format_info(n, &fi, sizeof(fi)); n++)
		for (unsigned g = 0; g < 64; g++) {
			const struct sim_fmt *f;

			if (!(fi.granules & (UINT64_C(1) << g)))
				continue;
			f = sim_fmt_find(fi.format, g);
			assert_non_null(f);
			for (unsigned l = 0; l < f->max_levels; l++)
				assert_false(f->valid(f, TPOISON_FREED, l) &&
					     f->is_table(f, TPOISON_FREED, l));
		}
}

/* A format the simulator has no decoder for is not walked: attach fails
 * (format value 5 is after the last one). */
static void test_decode_unknown_format(void **state)
{
	enum iopgt_format saved;
	struct env e;

	(void)state;
	assert_null(sim_fmt_find((enum iopgt_format)5, 12));
	assert_null(sim_fmt_find((enum iopgt_format)0, 12));
	env_init(&e, &tcfgs[0], NULL, 0, 8);
	iopgt_sim_detach(e.sim);
	saved = e.dom->cfg.format;
	e.dom->cfg.format = (enum iopgt_format)5;
	assert_int_equal(iopgt_sim_attach(e.sim, e.dom), -ENOTSUP);
	e.dom->cfg.format = saved;
	assert_int_equal(iopgt_sim_attach(e.sim, e.dom), 0);
	env_fini(&e);
}

/* x86: the walker ANDs permissions down the walk. A table entry that
 * denies writes denies them below it, whatever the leaf says; the
 * paging-structure cache keeps the rights it combined until an
 * invalidation (Intel SDM Vol. 3A, 4.10.3.1). */
static void test_table_entry_permissions(void **state)
{
	(void)state;
	for (size_t ci = 0; ci < n_tcfgs; ci++) {
		const unsigned rw = IOPGT_PROT_READ | IOPGT_PROT_WRITE;
		struct iopgt_sim_stats st0, st;
		struct iopgt_flush_ops fo;
		struct iopgt_sim_result r;
		struct env e;
		pt_entry_t *root;
		unsigned top;
		uint64_t x;

		if (tcfgs[ci].format != IOPGT_FMT_X86_64)
			continue;
		env_init(&e, &tcfgs[ci], NULL, 0, 8);
		iopgt_sim_flush_ops(e.sim, &fo);
		x = e.space / 4 + 5 * e.page;
		assert_int_equal(drv_map(&e, x, 0x200000, 2 * e.page, rw), 0);
		assert_int_equal(iopgt_sim_translate(e.sim, x, IOPGT_SIM_WRITE,
						     &r), 0);
		assert_int_equal(r.prot, rw);
		expect_clean(&e);

		/* Clear R/W (bit 1) in the root's entry, then invalidate. */
		top = pt_top(e.dom)->level;
		root = &pt_top(e.dom)->va[pt_index(&e.dom->geo, top, x)];
		atomic_fetch_and(root, ~B(1));
		fo.flush_all(fo.arg);
		assert_int_equal(iopgt_sim_translate(e.sim, x, IOPGT_SIM_WRITE,
						     &r), -EFAULT);
		assert_int_equal(r.fault, IOPGT_SIM_FAULT_PERMISSION);
		assert_int_equal(iopgt_sim_translate(e.sim, x, IOPGT_SIM_READ,
						     &r), 0);
		assert_int_equal(r.prot, IOPGT_PROT_READ);
		/* The model was told writable: a lost mapping and a wrong
		 * protection. */
		assert_int_equal(sim_viol(&e, IOPGT_SIM_V_LOST_MAPPING), 1);
		assert_int_equal(sim_viol(&e, IOPGT_SIM_V_WRONG_TRANSLATION),
				 1);

		/* R/W back, without an invalidation: a walk for the next page
		 * (not in the IOTLB) starts from the paging-structure cache,
		 * which still holds read-only. */
		atomic_fetch_or(root, B(1));
		iopgt_sim_get_stats(e.sim, &st0);
		assert_int_equal(iopgt_sim_translate(e.sim, x + e.page,
						     IOPGT_SIM_WRITE, &r),
				 -EFAULT);
		assert_int_equal(r.fault, IOPGT_SIM_FAULT_PERMISSION);
		assert_false(r.iotlb_hit);
		iopgt_sim_get_stats(e.sim, &st);
		assert_int_equal(st.psc_hits, st0.psc_hits + 1);
		fo.flush_all(fo.arg);
		assert_int_equal(iopgt_sim_translate(e.sim, x + e.page,
						     IOPGT_SIM_WRITE, &r), 0);
		assert_int_equal(r.prot, rw);
		assert_int_equal(sim_viol(&e, IOPGT_SIM_V_LOST_MAPPING), 2);
		drv_unmap(&e, x, 2 * e.page);
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

/* An encoding bug mirrored in the library's encoder and decoder: with
 * PT_HOOK_SWAP_WRITE_BIT the leaves keep write permission in a bit the
 * hardware ignores, and the domain's engine decodes it back, so
 * iopgt_lookup still reports READ|WRITE. Only a walker that reads entries
 * as the hardware does sees read-only leaves: the device's write faults
 * where the model says writable (a lost mapping), and its read translates
 * with a protection the model does not grant. The hook is set before the
 * simulator is given the domain, so that a simulator taking the domain's
 * own decoding at attach would find nothing wrong. */
static void swap_write_bit(const struct tcfg *c, bool broken)
{
	const unsigned rw = IOPGT_PROT_READ | IOPGT_PROT_WRITE;
	struct iopgt_translation t;
	struct iopgt_sim_result r;
	struct env e;
	uint64_t x, wbit, leaf;
	int rc;

	env_init(&e, c, NULL, 0, 8);
	x = iova_x(&e);
	/* The format's write bit, as the library tabulates it. */
	wbit = e.dom->prot_attrs[rw] ^ e.dom->prot_attrs[IOPGT_PROT_READ];
	iopgt_sim_detach(e.sim);
	if (broken)
		iopgt__set_test_hooks(e.dom, PT_HOOK_SWAP_WRITE_BIT);
	assert_int_equal(iopgt_sim_attach(e.sim, e.dom), 0);
	assert_int_equal(drv_map(&e, x, 0x200000, e.page, rw), 0);

	/* The library sees a writable page either way. */
	assert_int_equal(iopgt_lookup(e.dom, x, &t), 0);
	assert_int_equal(t.pa, 0x200000);
	assert_int_equal(t.prot, rw);
	/* What the tables hold: the write bit only without the hook. */
	assert_int_equal(iopgt_sim_peek(e.sim, x, &leaf, NULL), 0);
	assert_int_equal((leaf & wbit) != 0, !broken);

	/* The device writes, then reads. */
	rc = iopgt_sim_translate(e.sim, x, IOPGT_SIM_WRITE, &r);
	if (broken) {
		assert_int_equal(rc, -EFAULT);
		assert_int_equal(r.fault, IOPGT_SIM_FAULT_PERMISSION);
		assert_int_equal(sim_viol(&e, IOPGT_SIM_V_LOST_MAPPING), 1);
	} else {
		assert_int_equal(rc, 0);
		assert_int_equal(r.prot, rw);
	}
	assert_int_equal(iopgt_sim_translate(e.sim, x + 8, IOPGT_SIM_READ,
					     &r), 0);
	assert_int_equal(r.pa, 0x200008);
	if (broken) {
		assert_int_equal(r.prot & rw, IOPGT_PROT_READ);
		assert_int_equal(sim_viol(&e, IOPGT_SIM_V_WRONG_TRANSLATION),
				 1);
		assert_true(iopgt_sim_violations(e.sim) > 0);
	} else {
		expect_clean(&e);
	}
	drv_unmap(&e, x, e.page);
	iopgt__set_test_hooks(e.dom, 0);
	env_fini(&e);
}

static void test_neg_swap_write_bit(void **state)
{
	(void)state;
	for (size_t ci = 0; ci < n_tcfgs; ci++) {
		swap_write_bit(&tcfgs[ci], false);
		swap_write_bit(&tcfgs[ci], true);
	}
}

/* A leaf of two smallest items (a span: AMD v1's 8K page, its entry
 * written in both slots), unmapped by half. The unmap must rewrite the
 * other slot as a page of its own before it clears one: with
 * PT_HOOK_BREAK_SPAN_CUT it clears its slot only, the other still names
 * the 8K page, and a device whose walk goes through that slot caches the
 * whole page (as an IOTLB may), then translates the unmapped half from it.
 * Returns false if the configuration has no such leaf. */
static bool span_cut(const struct tcfg *c, bool broken)
{
	const unsigned rw = IOPGT_PROT_READ | IOPGT_PROT_WRITE;
	struct iopgt_translation t;
	struct iopgt_sim_result r;
	struct env e;
	uint64_t x;
	int rc;

	g_all_sizes = true;
	env_init(&e, c, NULL, 0, 8);
	g_all_sizes = false;
	if (!(e.info.leaf_sizes & (e.page << 1))) {
		env_fini(&e);
		return false;
	}
	x = e.space / 4; /* aligned to the pair */
	if (broken)
		iopgt__set_test_hooks(e.dom, PT_HOOK_BREAK_SPAN_CUT);
	assert_int_equal(drv_map(&e, x, 0x200000, 2 * e.page, rw), 0);
	assert_int_equal(iopgt_lookup(e.dom, x + e.page, &t), 0);
	assert_int_equal(t.leaf_size, 2 * e.page);
	assert_int_equal(drv_unmap(&e, x, e.page), (int64_t)e.page);
	/* Nothing of the pair is cached yet: the walk for the second half
	 * reads its own slot. */
	assert_int_equal(iopgt_sim_translate(e.sim, x + e.page, IOPGT_SIM_READ,
					     &r), 0);
	assert_int_equal(r.pa, 0x200000 + e.page);
	rc = iopgt_sim_translate(e.sim, x, IOPGT_SIM_READ, &r);
	if (broken) {
		/* Translated from the cached 8K page, which the model has
		 * unmapped since the sync. */
		assert_int_equal(rc, 0);
		assert_int_equal(r.pa, 0x200000);
		assert_true(sim_viol(&e, IOPGT_SIM_V_STALE_TRANSLATION) >= 1);
	} else {
		assert_int_equal(rc, -EFAULT);
		assert_int_equal(r.fault, IOPGT_SIM_FAULT_NOT_PRESENT);
		assert_int_equal(iopgt_lookup(e.dom, x + e.page, &t), 0);
		assert_int_equal(t.leaf_size, e.page);
		expect_clean(&e);
	}
	/* (Still broken: the half left is cleared alone, as it stands.) */
	assert_int_equal(drv_unmap(&e, x + e.page, e.page), (int64_t)e.page);
	iopgt__set_test_hooks(e.dom, 0);
	env_fini(&e);
	return true;
}

static void test_neg_span_cut(void **state)
{
	unsigned n = 0;

	(void)state;
	for (size_t ci = 0; ci < n_tcfgs; ci++) {
		if (!span_cut(&tcfgs[ci], false))
			continue;
		/* The twin's hook exists in debug builds only. */
		if (IOPGT_DEBUG >= 1)
			assert_true(span_cut(&tcfgs[ci], true));
		n++;
	}
	/* AMD v1 is in every test run's configurations. */
	assert_true(n > 0);
}

/* ------------------------------------------------------------------------
 * A root that grows (AMD v1): the device walks each new root once the
 * driver's grow callback points it there, and both rules of a growth
 * have a negative twin: the new root links the old one before the
 * hardware is given it (else what was mapped is lost the moment the
 * device walks the new root), and walks start from the new root only
 * after that (else a map into the new range returns while the device
 * still walks the old root, and faults there).
 */

enum grow_mode { GROW_OK, GROW_BREAK_LINK, GROW_BREAK_ORDER, GROW_NO_DTE };

struct grow_drv {
	struct env *e;
	enum grow_mode mode;
	uint64_t old;     /* mapped before the growth */
	uint64_t early;   /* what the yield hook maps, into the new range */
	unsigned calls;
	int old_rc;       /* the device's translation of old in the call */
	bool hook_ran, hook_mapped;
};

static int sim_grow_cb(void *arg, const struct iopgt_hw_config *hw)
{
	struct grow_drv *gd = arg;
	struct iopgt_sim_result r;

	gd->calls++;
	/* The driver: the DTE's Mode and root, in one store, and the
	 * entry's invalidation. */
	if (gd->mode != GROW_NO_DTE)
		assert_int_equal(iopgt_sim_set_root(gd->e->sim, hw), 0);
	/* A device access meanwhile, through the new root. */
	gd->old_rc = iopgt_sim_translate(gd->e->sim, gd->old, IOPGT_SIM_READ,
					 &r);
	return 0;
}

/* At PT_Y_GROW_CALL, just before the callback: if walks already start
 * from the new root, another thread's map into the new range finds no
 * need to grow and completes, and its device then accesses it. */
static void grow_yield(void *arg, unsigned point, unsigned level,
		       uint64_t iova)
{
	struct grow_drv *gd = arg;
	struct iopgt_sim_result r;
	struct iopgt_info info;

	(void)iova;
	if (point != PT_Y_GROW_CALL || gd->hook_ran)
		return;
	gd->hook_ran = true;
	iopgt_domain_info(gd->e->dom, &info, sizeof(info));
	if (info.levels != level + 1)
		return; /* the old root still: such a map would wait */
	gd->hook_mapped = true;
	assert_int_equal(drv_map(gd->e, gd->early, 0x400000, gd->e->page,
				 IOPGT_PROT_READ), 0);
	iopgt_sim_translate(gd->e->sim, gd->early, IOPGT_SIM_READ, &r);
}

/* One growth by one level in mode; false if c does not grow. */
static bool grow_run(const struct tcfg *c, enum grow_mode mode)
{
	struct grow_drv gd = { .mode = mode };
	struct iopgt_sim_result r;
	struct iopgt_info info;
	struct env e;
	uint64_t hi;

	if (!tcfg_grows(c))
		return false;
	g_grow = sim_grow_cb;
	g_grow_arg = &gd;
	env_init(&e, c, NULL, 0, 8);
	g_grow = NULL;
	gd.e = &e;
	if (mode == GROW_BREAK_LINK)
		iopgt__set_test_hooks(e.dom, PT_HOOK_BREAK_GROW_LINK);
	if (mode == GROW_BREAK_ORDER)
		iopgt__set_test_hooks(e.dom, PT_HOOK_BREAK_GROW_ORDER);
	iopgt__set_yield_hook(e.dom, grow_yield, &gd);
	hi = UINT64_C(1) << c->ias; /* the first IOVA the root cannot hold */
	gd.old = 5 * e.page;
	gd.early = hi + 64 * e.page;
	assert_int_equal(drv_map(&e, gd.old, 0x200000, e.page,
				 IOPGT_PROT_READ), 0);
	/* Beyond the root's levels: the device faults, and nothing says
	 * mapped there. */
	assert_int_equal(iopgt_sim_translate(e.sim, hi, IOPGT_SIM_READ, &r),
			 -EFAULT);
	assert_int_equal(r.fault, IOPGT_SIM_FAULT_RANGE);
	expect_clean(&e);

	assert_int_equal(drv_map(&e, hi, 0x300000, e.page, IOPGT_PROT_READ),
			 0);
	assert_int_equal(gd.calls, 1);
	assert_true(gd.hook_ran || IOPGT_DEBUG < 1); /* a debug build's yield */
	iopgt_domain_info(e.dom, &info, sizeof(info));
	assert_int_equal(info.levels, e.info.levels + 1);
	iopgt_sim_translate(e.sim, hi, IOPGT_SIM_READ, &r);
	iopgt_sim_translate(e.sim, gd.old, IOPGT_SIM_READ, &r);
	switch (mode) {
	case GROW_OK:
		assert_int_equal(gd.old_rc, 0);
		assert_false(gd.hook_mapped);
		expect_clean(&e);
		break;
	case GROW_BREAK_LINK:
		/* The device walked the new root before its entry 0 named
		 * the old one: a mapping lost, for as long as that lasted. */
		assert_int_equal(gd.old_rc, -EFAULT);
		assert_true(sim_viol(&e, IOPGT_SIM_V_LOST_MAPPING) >= 1);
		break;
	case GROW_BREAK_ORDER:
		/* A map into the new range returned while the device still
		 * walked the old root: its access faulted. */
		assert_true(gd.hook_mapped);
		assert_true(sim_viol(&e, IOPGT_SIM_V_LOST_MAPPING) >= 1);
		break;
	case GROW_NO_DTE:
		/* A driver that never points the device at the new root:
		 * the new range stays out of reach. */
		assert_true(sim_viol(&e, IOPGT_SIM_V_LOST_MAPPING) >= 1);
		break;
	}
	iopgt__set_test_hooks(e.dom, 0);
	iopgt__set_yield_hook(e.dom, NULL, NULL);
	drv_unmap(&e, 0, e.space);
	env_fini(&e);
	return true;
}

static void test_grow(void **state)
{
	unsigned n = 0;

	(void)state;
	for (size_t ci = 0; ci < n_tcfgs; ci++) {
		if (!grow_run(&tcfgs[ci], GROW_OK))
			continue;
		n++;
		assert_true(grow_run(&tcfgs[ci], GROW_NO_DTE));
		/* The twins' hooks and the yield point that checks the
		 * callback's order exist in debug builds only. */
		if (IOPGT_DEBUG < 1)
			continue;
		assert_true(grow_run(&tcfgs[ci], GROW_BREAK_LINK));
		assert_true(grow_run(&tcfgs[ci], GROW_BREAK_ORDER));
	}
	assert_true(n > 0); /* AMD v1 is in every run's configurations */
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
		cmocka_unit_test(test_decode_x86_64),
		cmocka_unit_test(test_decode_arm_s2),
		cmocka_unit_test(test_decode_vtdss),
		cmocka_unit_test(test_poison_never_a_table),
		cmocka_unit_test(test_decode_amdv1),
		cmocka_unit_test(test_walk_amdv1_hand_tables),
		cmocka_unit_test(test_decode_unknown_format),
		cmocka_unit_test(test_table_entry_permissions),
		cmocka_unit_test(test_model_transitions),
		cmocka_unit_test(test_devices_concurrent),
		cmocka_unit_test(test_neg_skip_flush),
		cmocka_unit_test(test_neg_leaf_only_flush),
		cmocka_unit_test(test_neg_cached_reused_page),
		cmocka_unit_test(test_neg_free_before_flush),
		cmocka_unit_test(test_neg_caching_mode),
		cmocka_unit_test(test_neg_walk_reads_freed_root),
		cmocka_unit_test(test_neg_bad_free),
		cmocka_unit_test(test_neg_swap_write_bit),
		cmocka_unit_test(test_neg_span_cut),
		cmocka_unit_test(test_grow),
	};

	g_seed = tseed((uint64_t)time(NULL));
	fprintf(stderr, "test_sim: %s=0x%" PRIx64 "\n", TSEED_ENV, g_seed);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
