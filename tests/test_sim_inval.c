/* SPDX-License-Identifier: MIT */
/*
 * The simulated IOMMU's invalidation commands (sim/inval.c,
 * iopgt_sim_invalidate): for each IOMMU, commands written here by hand
 * from the specifications drop exactly the IOTLB entries they name (the
 * pages translate again by walk) and nothing else (the others still hit
 * the IOTLB), keep or drop the paging-structure entries as their
 * leaf-only flag says (a walk starts from the paging-structure cache, or
 * from the root), do nothing for another domain, and a malformed command
 * is a violation with no effect.
 *
 * Then the library's encoders (iopgt_inval_encode) against the
 * simulator, one domain per IOMMU and a format it walks: random map,
 * unmap and sync with translations between find no violation; and each
 * way of breaking the commands on their way (the command hook) is seen:
 * the last command left out, the non-leaf flag cleared on a WALK range, a
 * mask or range one step too small, a wrong SMMUv3 TTL. These parts skip,
 * saying so, while an encoder is not there (-EOPNOTSUPP).
 *
 * Set IOPGT_SEED to replay the randomized part.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "iopgt_sim.h"
#include "testhook.h"

static uint64_t g_seed;

#define BIT(n) (UINT64_C(1) << (n))
#define BASE UINT64_C(0x2000000) /* 32 MiB: in every input space here */

struct ienv {
	struct iopgt_sim *sim;
	struct iopgt_domain *dom;
	struct iopgt_inval_config ic;
	struct iopgt_info info;
	uint64_t page;
	const char *name;
};

/* The first test configuration of format fmt with that granule. */
static const struct tcfg *find_cfg(enum iopgt_format fmt, unsigned granule)
{
	for (size_t i = 0; i < n_tcfgs; i++)
		if (tcfgs[i].format == fmt && tcfgs[i].granule == granule)
			return &tcfgs[i];
	fail_msg("no configuration of format %d granule %u", fmt, granule);
	return NULL;
}

/* A domain of fmt/granule on a new simulator. With inval, its flushes go
 * out as commands of iommu (flags, ids as given; granule and levels
 * taken at attach); else through the simulator's plain flush callbacks
 * and ic only describes the domain for hand-built commands. */
static void ienv_open(struct ienv *e, enum iopgt_format fmt, unsigned granule,
		      enum iopgt_iommu iommu, unsigned flags, uint32_t did,
		      uint32_t pasid, bool inval, int table_cache,
		      bool all_sizes)
{
	const struct tcfg *c = find_cfg(fmt, granule);
	struct iopgt_sim_config scfg;
	struct iopgt_config cfg;

	memset(e, 0, sizeof(*e));
	e->name = c->name;
	iopgt_sim_config_init(&scfg);
	scfg.arena_size = UINT64_C(256) << 20;
	assert_int_equal(iopgt_sim_create(&scfg, &e->sim), 0);
	tcfg_config(c, &cfg);
	if (all_sizes)
		cfg.leaf_sizes = 0; /* pages of several entries too */
	if (table_cache >= 0)
		cfg.table_cache = (unsigned)table_cache;
	/* Every test here syncs each batch before the next: the tables an
	 * unmap empties are reported as such (IOPGT_RANGE_WALK_EMPTY). */
	cfg.options |= IOPGT_OPT_ONE_GATHER;
	iopgt_sim_domain_config(e->sim, &cfg);
	e->ic.size = sizeof(e->ic);
	e->ic.iommu = iommu;
	e->ic.flags = flags;
	e->ic.max_addr_mask = 9;
	e->ic.domain_id = did;
	e->ic.pasid = pasid;
	if (inval)
		iopgt_sim_inval_ops(e->sim, &e->ic, &cfg);
	assert_int_equal(iopgt_domain_create(&cfg, &e->dom), 0);
	assert_int_equal(iopgt_sim_attach(e->sim, e->dom), 0);
	iopgt_domain_info(e->dom, &e->info, sizeof(e->info));
	e->page = BIT(e->info.granule);
	e->ic.granule = e->info.granule;
	e->ic.levels = e->info.levels;
}

static void ienv_close(struct ienv *e)
{
	iopgt_sim_detach(e->sim);
	iopgt_domain_destroy(e->dom);
	iopgt_sim_destroy(e->sim);
}

static uint64_t viol(struct ienv *e, enum iopgt_sim_violation_kind k)
{
	struct iopgt_sim_stats st;

	iopgt_sim_get_stats(e->sim, &st);
	return st.violations[k];
}

static void expect_clean(struct ienv *e)
{
	if (iopgt_sim_violations(e->sim)) {
		fprintf(stderr, "%s: ", e->name);
		iopgt_sim_print_violations(e->sim, stderr);
	}
	assert_int_equal(iopgt_sim_violations(e->sim), 0);
}

/* Map [iova, iova + size) to pa, announced and completed in the model
 * (set-up: nothing translates meanwhile). */
static void map_ok(struct ienv *e, uint64_t iova, uint64_t pa, uint64_t size)
{
	struct iopgt_gather g;

	assert_int_equal(iopgt_sim_model_begin_map(e->sim, iova, size, pa,
						   IOPGT_PROT_READ |
							   IOPGT_PROT_WRITE),
			 0);
	iopgt_gather_init(&g, sizeof(g));
	assert_int_equal(iopgt_map(e->dom, iova, pa, size,
				   IOPGT_PROT_READ | IOPGT_PROT_WRITE, &g),
			 0);
	assert_int_equal(iopgt_sync(e->dom, &g), 0);
	assert_int_equal(iopgt_sim_model_end(e->sim, iova, size), 0);
}

static void unmap_ok(struct ienv *e, uint64_t iova, uint64_t size)
{
	struct iopgt_gather g;

	assert_int_equal(iopgt_sim_model_begin_unmap(e->sim, iova, size), 0);
	iopgt_gather_init(&g, sizeof(g));
	assert_true(iopgt_unmap(e->dom, iova, size, &g) >= 0);
	assert_int_equal(iopgt_sync(e->dom, &g), 0);
	assert_int_equal(iopgt_sim_model_end(e->sim, iova, size), 0);
}

/* Translate a mapped iova (a read); whether it came from the IOTLB. */
static bool hit(struct ienv *e, uint64_t iova)
{
	struct iopgt_sim_result r;

	assert_int_equal(iopgt_sim_translate(e->sim, iova, IOPGT_SIM_READ, &r),
			 0);
	return r.iotlb_hit;
}

/* Translate a mapped iova that is not in the IOTLB: whether its walk
 * started from the paging-structure cache. */
static bool walk_from_psc(struct ienv *e, uint64_t iova)
{
	struct iopgt_sim_stats a, b;

	iopgt_sim_get_stats(e->sim, &a);
	assert_false(hit(e, iova));
	iopgt_sim_get_stats(e->sim, &b);
	return b.psc_hits > a.psc_hits;
}

/* Translate pages [0, n) of size pg from base: page i must hit the
 * IOTLB unless bit i of dropped is set (then it must walk). Every page is
 * cached again after. */
static void expect_hits(struct ienv *e, uint64_t base, unsigned n,
			uint64_t pg, uint64_t dropped, int line)
{
	for (unsigned i = 0; i < n; i++) {
		bool h = hit(e, base + i * pg);

		if (h != !(dropped >> i & 1)) {
			fprintf(stderr,
				"%s, line %d: page %u (0x%" PRIx64
				") %s the IOTLB\n",
				e->name, line, i, base + i * pg,
				h ? "hit" : "missed");
			fail();
		}
	}
}
#define EXPECT_HITS(e, base, n, pg, dropped) \
	expect_hits(e, base, n, pg, dropped, __LINE__)

/* Execute one hand-built command. */
static void run1(struct ienv *e, uint64_t dw0, uint64_t dw1)
{
	struct iopgt_inval_cmd c = { { dw0, dw1 }, 0, 0 };

	assert_int_equal(iopgt_sim_invalidate(e->sim, &e->ic, &c, 1), 0);
}

/* A malformed command: one more bad-command violation, nothing dropped. */
static void expect_bad(struct ienv *e, uint64_t dw0, uint64_t dw1,
		       uint64_t base, unsigned n, int line)
{
	uint64_t v0 = viol(e, IOPGT_SIM_V_BAD_COMMAND);

	run1(e, dw0, dw1);
	if (viol(e, IOPGT_SIM_V_BAD_COMMAND) != v0 + 1) {
		fprintf(stderr, "%s, line %d: 0x%016" PRIx64 " 0x%016" PRIx64
				" not refused\n", e->name, line, dw0, dw1);
		fail();
	}
	expect_hits(e, base, n, e->page, 0, line);
}
#define EXPECT_BAD(e, dw0, dw1, base, n) \
	expect_bad(e, dw0, dw1, base, n, __LINE__)

/* 16 pages from BASE, all translated once (cached). */
static void setup16(struct ienv *e)
{
	map_ok(e, BASE, UINT64_C(0x80000000), 16 * e->page);
	for (unsigned i = 0; i < 16; i++)
		(void)hit(e, BASE + i * e->page);
	EXPECT_HITS(e, BASE, 16, e->page, 0);
}

/* ------------------------------------------------------------------------
 * Known answers: VT-d (Intel VT-d specification §6.5.2.3, §6.5.2.4)
 */

/* Type 2 IOTLB Invalidate: type 3:0 = 2, G 5:4, DID 31:16; dw1 AM 5:0,
 * IH 6, ADDR 63:12. */
static uint64_t vtd2(unsigned g, uint32_t did)
{
	return 2 | (uint64_t)g << 4 | (uint64_t)did << 16;
}
/* Type 6 PASID-based-IOTLB Invalidate: G 5:4, DID 31:16, PASID 51:32. */
static uint64_t vtd6(unsigned g, uint32_t did, uint32_t pasid)
{
	return 6 | (uint64_t)g << 4 | (uint64_t)did << 16 |
	       (uint64_t)pasid << 32;
}
static uint64_t vtd_addr(uint64_t addr, unsigned am, unsigned ih)
{
	return addr | (uint64_t)ih << 6 | am;
}

static void test_kat_vtd_second_stage(void **state)
{
	struct ienv e;
	uint64_t p4;

	(void)state;
	ienv_open(&e, IOPGT_FMT_VTDSS, 12, IOPGT_IOMMU_VTD, IOPGT_INVAL_RANGES,
		  5, 0, false, -1, false);
	setup16(&e);
	p4 = BASE + 4 * e.page;
	/* Page-selective, AM 2: pages 4..7, IH 1: the paging-structure
	 * entries stay. */
	run1(&e, vtd2(3, 5), vtd_addr(p4, 2, 1));
	assert_true(walk_from_psc(&e, p4));
	EXPECT_HITS(&e, BASE, 16, e.page, 0x00f0 & ~0x10);
	/* The same with IH 0: the walk starts from the root. */
	run1(&e, vtd2(3, 5), vtd_addr(p4, 2, 0));
	assert_false(walk_from_psc(&e, p4));
	EXPECT_HITS(&e, BASE, 16, e.page, 0x00f0 & ~0x10);
	/* AM 0 at page 9: that page alone. */
	run1(&e, vtd2(3, 5), vtd_addr(BASE + 9 * e.page, 0, 0));
	EXPECT_HITS(&e, BASE, 16, e.page, 0x0200);
	/* Another domain id, and a PASID-based descriptor (first stage
	 * only): nothing. */
	run1(&e, vtd2(3, 6), vtd_addr(p4, 2, 0));
	run1(&e, vtd6(3, 5, 0), vtd_addr(p4, 2, 0));
	EXPECT_HITS(&e, BASE, 16, e.page, 0);
	/* Domain-selective: everything. */
	run1(&e, vtd2(2, 5), 0);
	EXPECT_HITS(&e, BASE, 16, e.page, 0xffff);
	/* Malformed: ADDR not aligned to AM, AM above MAMV, reserved bits,
	 * granularity 00b, an unknown type. */
	EXPECT_BAD(&e, vtd2(3, 5), vtd_addr(BASE + 5 * e.page, 2, 0), BASE,
		   16);
	EXPECT_BAD(&e, vtd2(3, 5), vtd_addr(0, 10, 0), BASE, 16);
	EXPECT_BAD(&e, vtd2(3, 5) | BIT(40), vtd_addr(p4, 2, 0), BASE, 16);
	EXPECT_BAD(&e, vtd2(3, 5), vtd_addr(p4, 2, 0) | BIT(8), BASE, 16);
	EXPECT_BAD(&e, vtd2(0, 5), 0, BASE, 16);
	EXPECT_BAD(&e, 7, 0, BASE, 16);
	assert_int_equal(iopgt_sim_violations(e.sim),
			 viol(&e, IOPGT_SIM_V_BAD_COMMAND));
	/* Without page-selective invalidation (CAP_REG.PSI) G = 11b is
	 * refused. */
	e.ic.flags = 0;
	EXPECT_BAD(&e, vtd2(3, 5), vtd_addr(p4, 2, 0), BASE, 16);
	ienv_close(&e);
}

static void test_kat_vtd_first_stage(void **state)
{
	struct ienv e;
	uint64_t p2;

	(void)state;
	ienv_open(&e, IOPGT_FMT_X86_64, 12, IOPGT_IOMMU_VTD,
		  IOPGT_INVAL_RANGES | IOPGT_INVAL_FIRST_STAGE, 5, 0x1234,
		  false, -1, false);
	setup16(&e);
	p2 = BASE + 2 * e.page;
	/* Page-selective within PASID, AM 1: pages 2 and 3. */
	run1(&e, vtd6(3, 5, 0x1234), vtd_addr(p2, 1, 1));
	assert_true(walk_from_psc(&e, p2));
	EXPECT_HITS(&e, BASE, 16, e.page, 0x0008);
	run1(&e, vtd6(3, 5, 0x1234), vtd_addr(p2, 1, 0));
	assert_false(walk_from_psc(&e, p2));
	EXPECT_HITS(&e, BASE, 16, e.page, 0x0008);
	/* Another PASID, another DID, the second-stage descriptor:
	 * nothing. */
	run1(&e, vtd6(3, 5, 0x1235), vtd_addr(p2, 1, 0));
	run1(&e, vtd6(3, 4, 0x1234), vtd_addr(p2, 1, 0));
	run1(&e, vtd2(3, 5), vtd_addr(p2, 1, 0));
	run1(&e, vtd2(2, 5), 0);
	EXPECT_HITS(&e, BASE, 16, e.page, 0);
	/* All of the PASID; then global invalidation (type 2, G 01b). */
	run1(&e, vtd6(2, 5, 0x1234), 0);
	EXPECT_HITS(&e, BASE, 16, e.page, 0xffff);
	run1(&e, vtd2(1, 0), 0);
	EXPECT_HITS(&e, BASE, 16, e.page, 0xffff);
	/* Malformed: granularity 01b, reserved bits 63:52. */
	EXPECT_BAD(&e, vtd6(1, 5, 0x1234), 0, BASE, 16);
	EXPECT_BAD(&e, vtd6(3, 5, 0x1234) | BIT(60), vtd_addr(p2, 1, 0), BASE,
		   16);
	EXPECT_BAD(&e, vtd6(3, 5, 0x1234), vtd_addr(BASE + e.page, 1, 0),
		   BASE, 16);
	ienv_close(&e);
}

/* ------------------------------------------------------------------------
 * Known answers: AMD (AMD IOMMU specification §2.4.3 INVALIDATE_IOMMU_PAGES:
 * word 0 PASID 19:0; word 1 DomainID 15:0, opcode 31:28; word 2 S 0, PDE
 * 1, GN 2, Address 31:12; word 3 Address 63:32)
 */

static uint64_t amd0(uint32_t domid, uint32_t pasid)
{
	return pasid | (uint64_t)domid << 32 | UINT64_C(3) << 60;
}
static uint64_t amd1(uint64_t addr, unsigned s, unsigned pde, unsigned gn)
{
	return addr | s | pde << 1 | gn << 2;
}

static void test_kat_amd(void **state)
{
	struct ienv e;
	uint64_t p8 = BASE + 8 * 4096;

	(void)state;
	ienv_open(&e, IOPGT_FMT_AMDV1, 12, IOPGT_IOMMU_AMD, IOPGT_INVAL_RANGES,
		  7, 0, false, -1, false);
	setup16(&e);
	/* S = 0: the page at Address; PDE = 0 keeps the PDE cache. */
	run1(&e, amd0(7, 0), amd1(BASE + 3 * 4096, 0, 0, 0));
	assert_true(walk_from_psc(&e, BASE + 3 * 4096));
	EXPECT_HITS(&e, BASE, 16, 4096, 0);
	/* S = 1, Address bits 13:12 ones, bit 14 zero: 32K from page 8
	 * (pages 8..15). */
	run1(&e, amd0(7, 0), amd1(p8 | 0x3000, 1, 0, 0));
	assert_true(walk_from_psc(&e, p8));
	EXPECT_HITS(&e, BASE, 16, 4096, 0xff00 & ~0x0100);
	/* S = 1, bit 12 zero: 8K (pages 4, 5), PDE = 1. */
	run1(&e, amd0(7, 0), amd1(BASE + 4 * 4096, 1, 1, 0));
	assert_false(walk_from_psc(&e, BASE + 4 * 4096));
	EXPECT_HITS(&e, BASE, 16, 4096, 0x0020);
	/* Another DomainID; GN = 1 (guest tables) on host tables:
	 * nothing. */
	run1(&e, amd0(8, 0), amd1(p8 | 0x3000, 1, 1, 0));
	run1(&e, amd0(7, 0), amd1(p8 | 0x3000, 1, 1, 1));
	EXPECT_HITS(&e, BASE, 16, 4096, 0);
	/* Everything: S = 1, Address bits 62:12 ones. */
	run1(&e, amd0(7, 0), amd1(UINT64_C(0x7ffffffffffff000), 1, 1, 0));
	EXPECT_HITS(&e, BASE, 16, 4096, 0xffff);
	/* Malformed: reserved bits of words 0, 1 and 2, S = 1 with every
	 * address bit set, another opcode. */
	EXPECT_BAD(&e, amd0(7, 0) | BIT(25), amd1(BASE, 0, 1, 0), BASE, 16);
	EXPECT_BAD(&e, amd0(7, 0) | BIT(50), amd1(BASE, 0, 1, 0), BASE, 16);
	EXPECT_BAD(&e, amd0(7, 0), amd1(BASE, 0, 1, 0) | BIT(5), BASE, 16);
	EXPECT_BAD(&e, amd0(7, 0), amd1(UINT64_C(0xfffffffffffff000), 1, 1, 0),
		   BASE, 16);
	EXPECT_BAD(&e, (amd0(7, 0) & ~(UINT64_C(0xf) << 60)) |
			       UINT64_C(4) << 60,
		   amd1(BASE, 0, 1, 0), BASE, 16);
	ienv_close(&e);
}

/* ------------------------------------------------------------------------
 * Known answers: SMMUv3 (IHI 0070 §4.4: opcode 7:0, NUM 16:12, SCALE
 * 24:20, VMID 47:32, ASID 63:48; dw1 Leaf 0, TTL 9:8, TG 11:10, Address
 * from bit 12)
 */

static uint64_t smmu0(unsigned op, unsigned num, unsigned scale,
		      uint32_t vmid, uint32_t asid)
{
	return op | (uint64_t)num << 12 | (uint64_t)scale << 20 |
	       (uint64_t)vmid << 32 | (uint64_t)asid << 48;
}
static uint64_t smmu1(uint64_t addr, unsigned leaf, unsigned ttl,
		      unsigned tg)
{
	return addr | leaf | ttl << 8 | tg << 10;
}

static void test_kat_smmuv3(void **state)
{
	struct ienv e;
	uint64_t p4 = BASE + 4 * 4096, blk = BASE + IOPGT_SZ_2M;

	(void)state;
	ienv_open(&e, IOPGT_FMT_ARM_S2, 12, IOPGT_IOMMU_SMMUV3,
		  IOPGT_INVAL_RANGES, 3, 0, false, -1, false);
	setup16(&e);
	/* A 2M block after the pages. */
	map_ok(&e, blk, UINT64_C(0x40000000), IOPGT_SZ_2M);
	(void)hit(&e, blk);
	assert_true(hit(&e, blk + 4096));
	/* CMD_TLBI_S2_IPA, TG 4K, NUM 3, SCALE 0: pages 4..7, Leaf 1. */
	run1(&e, smmu0(0x2a, 3, 0, 3, 0), smmu1(p4, 1, 0, 1));
	assert_true(walk_from_psc(&e, p4));
	EXPECT_HITS(&e, BASE, 16, 4096, 0x00e0);
	/* NUM 0, SCALE 2: the same four pages, Leaf 0. */
	run1(&e, smmu0(0x2a, 0, 2, 3, 0), smmu1(p4, 0, 0, 1));
	assert_false(walk_from_psc(&e, p4));
	EXPECT_HITS(&e, BASE, 16, 4096, 0x00e0);
	/* TG 0: the entry containing the address. */
	run1(&e, smmu0(0x2a, 0, 0, 3, 0), smmu1(BASE + 10 * 4096, 1, 0, 0));
	EXPECT_HITS(&e, BASE, 16, 4096, 0x0400);
	/* TTL 3 (level 3, 4K pages) does not reach the 2M block; TTL 2
	 * does; TTL 3 reaches a page. */
	run1(&e, smmu0(0x2a, 0, 0, 3, 0), smmu1(blk, 1, 3, 1));
	assert_true(hit(&e, blk));
	run1(&e, smmu0(0x2a, 0, 0, 3, 0), smmu1(blk, 1, 2, 1));
	assert_false(hit(&e, blk));
	run1(&e, smmu0(0x2a, 0, 0, 3, 0), smmu1(BASE, 1, 2, 1));
	EXPECT_HITS(&e, BASE, 16, 4096, 0);
	run1(&e, smmu0(0x2a, 0, 0, 3, 0), smmu1(BASE, 1, 3, 1));
	EXPECT_HITS(&e, BASE, 16, 4096, 0x0001);
	/* Another VMID; stage 1 commands (CMD_TLBI_NH_VA, NH_ALL) on a
	 * stage 2 domain; a 16K TG on a 4K domain: nothing. */
	run1(&e, smmu0(0x2a, 15, 0, 4, 0), smmu1(BASE, 0, 0, 1));
	run1(&e, smmu0(0x12, 15, 0, 3, 0), smmu1(BASE, 0, 0, 1));
	run1(&e, smmu0(0x10, 0, 0, 3, 0), 0);
	run1(&e, smmu0(0x2a, 0, 0, 3, 0), smmu1(BASE, 0, 0, 2));
	EXPECT_HITS(&e, BASE, 16, 4096, 0);
	/* CMD_TLBI_S12_VMALL: everything of the VMID. */
	run1(&e, smmu0(0x28, 0, 0, 3, 0), 0);
	EXPECT_HITS(&e, BASE, 16, 4096, 0xffff);
	assert_false(hit(&e, blk));
	/* Malformed: an unknown opcode, RES0 bits, an IPA above bit 51,
	 * NUM with TG 0, a range without RIL. */
	EXPECT_BAD(&e, smmu0(0x2b, 0, 0, 3, 0), smmu1(BASE, 0, 0, 1), BASE,
		   16);
	EXPECT_BAD(&e, smmu0(0x2a, 0, 0, 3, 0) | BIT(9), smmu1(BASE, 0, 0, 1),
		   BASE, 16);
	EXPECT_BAD(&e, smmu0(0x2a, 0, 0, 3, 0), smmu1(BASE, 0, 0, 1) | BIT(3),
		   BASE, 16);
	EXPECT_BAD(&e, smmu0(0x2a, 0, 0, 3, 0), smmu1(BASE | BIT(55), 0, 0, 1),
		   BASE, 16);
	EXPECT_BAD(&e, smmu0(0x2a, 3, 0, 3, 0), smmu1(BASE, 0, 0, 0), BASE,
		   16);
	e.ic.flags = 0;
	EXPECT_BAD(&e, smmu0(0x2a, 3, 0, 3, 0), smmu1(BASE, 0, 0, 1), BASE,
		   16);
	/* CMD_SYNC (0x46) invalidates nothing; CS 3 or MSI fields are
	 * malformed here. */
	run1(&e, 0x46, 0);
	EXPECT_HITS(&e, BASE, 16, e.page, 0);
	EXPECT_BAD(&e, 0x46 | 3u << 12, 0, BASE, 16);
	EXPECT_BAD(&e, 0x46 | UINT64_C(5) << 32, 0, BASE, 16);
	/* Nested (a stage 1 above): CMD_TLBI_NH_ALL after stage-2
	 * commands in one batch needs a CMD_SYNC between (4.4, 4.7.3). */
	e.ic.flags = IOPGT_INVAL_RANGES | IOPGT_INVAL_NESTED;
	{
		const struct iopgt_inval_cmd ok[3] = {
			{ { smmu0(0x2a, 0, 0, 3, 0), smmu1(BASE, 0, 0, 1) },
			  0, 0 },
			{ { 0x46, 0 }, 0, 0 },
			{ { smmu0(0x10, 0, 0, 3, 0), 0 }, 0, 0 },
		};
		const struct iopgt_inval_cmd no_sync[2] = { ok[0], ok[2] };
		uint64_t v0 = viol(&e, IOPGT_SIM_V_BAD_COMMAND);

		assert_int_equal(iopgt_sim_invalidate(e.sim, &e.ic, ok, 3), 0);
		assert_int_equal(viol(&e, IOPGT_SIM_V_BAD_COMMAND), v0);
		assert_int_equal(
			iopgt_sim_invalidate(e.sim, &e.ic, no_sync, 2), 0);
		assert_int_equal(viol(&e, IOPGT_SIM_V_BAD_COMMAND), v0 + 1);
		/* Not nested: no order to keep. */
		e.ic.flags = IOPGT_INVAL_RANGES;
		assert_int_equal(
			iopgt_sim_invalidate(e.sim, &e.ic, no_sync, 2), 0);
		assert_int_equal(viol(&e, IOPGT_SIM_V_BAD_COMMAND), v0 + 1);
	}
	ienv_close(&e);
}

/* ------------------------------------------------------------------------
 * Known answers: RISC-V IOMMU (specification 1.0 §3.1.1 IOTINVAL: opcode
 * 6:0 = 1, func3 9:7 (VMA 0, GVMA 1), AV 10, PSCID 31:12, PSCV 32, GV 33,
 * NL 34 (Non-leaf PTE Invalidation extension), GSCID 59:44; dw1 S 9
 * (Address Range Invalidation extension), ADDR[63:12] 61:10)
 */

static uint64_t rv0(unsigned func, bool av, bool gv, uint32_t gscid,
		    bool pscv, uint32_t pscid, bool nl)
{
	return 1 | (uint64_t)func << 7 | (uint64_t)av << 10 |
	       (uint64_t)pscid << 12 | (uint64_t)pscv << 32 |
	       (uint64_t)gv << 33 | (uint64_t)nl << 34 |
	       (uint64_t)gscid << 44;
}
static uint64_t rv1(uint64_t addr, bool s)
{
	return (addr >> 12) << 10 | (uint64_t)s << 9;
}

static void test_kat_riscv(void **state)
{
	struct ienv e;
	uint64_t p4 = BASE + 4 * 4096;

	(void)state;
	/* x86-64 tables standing for a 4K second-stage table (GVMA). */
	ienv_open(&e, IOPGT_FMT_X86_64, 12, IOPGT_IOMMU_RISCV,
		  IOPGT_INVAL_RANGES, 9, 0, false, -1, false);
	setup16(&e);
	/* GVMA, GV, AV: the leaf entry of ADDR; non-leaf entries kept. */
	run1(&e, rv0(1, 1, 1, 9, 0, 0, 0), rv1(p4, 0));
	assert_true(walk_from_psc(&e, p4));
	EXPECT_HITS(&e, BASE, 16, 4096, 0);
	/* NL = 1: the non-leaf entries too. */
	run1(&e, rv0(1, 1, 1, 9, 0, 0, 1), rv1(p4, 0));
	assert_false(walk_from_psc(&e, p4));
	EXPECT_HITS(&e, BASE, 16, 4096, 0);
	/* S = 1, ADDR[12] ones, ADDR[13] zero: 16K (pages 4..7). */
	run1(&e, rv0(1, 1, 1, 9, 0, 0, 0), rv1(p4 | 0x1000, 1));
	EXPECT_HITS(&e, BASE, 16, 4096, 0x00f0);
	/* Another GSCID; IOTINVAL.VMA (first stage): nothing. */
	run1(&e, rv0(1, 1, 1, 8, 0, 0, 1), rv1(p4, 0));
	run1(&e, rv0(0, 1, 0, 0, 0, 0, 1), rv1(p4, 0));
	run1(&e, rv0(0, 0, 0, 0, 0, 0, 0), 0);
	EXPECT_HITS(&e, BASE, 16, 4096, 0);
	/* AV = 0: everything of the GSCID. */
	run1(&e, rv0(1, 0, 1, 9, 0, 0, 0), 0);
	EXPECT_HITS(&e, BASE, 16, 4096, 0xffff);
	/* Malformed: PSCV with GVMA, func3 2, another opcode, reserved bits
	 * 63:60, ADDR all ones with S. */
	EXPECT_BAD(&e, rv0(1, 1, 1, 9, 1, 0, 0), rv1(p4, 0), BASE, 16);
	EXPECT_BAD(&e, rv0(2, 1, 1, 9, 0, 0, 0), rv1(p4, 0), BASE, 16);
	EXPECT_BAD(&e, rv0(1, 1, 1, 9, 0, 0, 0) + 1, rv1(p4, 0), BASE, 16);
	EXPECT_BAD(&e, rv0(1, 1, 1, 9, 0, 0, 0) | BIT(62), rv1(p4, 0), BASE,
		   16);
	EXPECT_BAD(&e, rv0(1, 1, 1, 9, 0, 0, 0), UINT64_C(0x3ffffffffffffc00) |
							 BIT(9),
		   BASE, 16);
	/* Without the extensions NL and S are reserved. */
	e.ic.flags = 0;
	EXPECT_BAD(&e, rv0(1, 1, 1, 9, 0, 0, 1), rv1(p4, 0), BASE, 16);
	EXPECT_BAD(&e, rv0(1, 1, 1, 9, 0, 0, 0), rv1(p4, 1), BASE, 16);
	/* A first-stage domain, the address space PSCID of GSCID's VM:
	 * IOTINVAL.VMA with GV, its GSCID, PSCV and its PSCID. */
	e.ic.flags = IOPGT_INVAL_RANGES | IOPGT_INVAL_FIRST_STAGE;
	e.ic.pasid = 0x77;
	run1(&e, rv0(0, 1, 1, 9, 1, 0x77, 0), rv1(p4, 0));
	EXPECT_HITS(&e, BASE, 16, 4096, 0x0010);
	/* Another PSCID, another GSCID, a host address space (GV = 0), a
	 * GVMA: nothing. */
	run1(&e, rv0(0, 1, 1, 9, 1, 0x78, 0), rv1(p4, 0));
	run1(&e, rv0(0, 1, 1, 8, 1, 0x77, 0), rv1(p4, 0));
	run1(&e, rv0(0, 1, 0, 0, 1, 0x77, 0), rv1(p4, 0));
	run1(&e, rv0(1, 0, 1, 9, 0, 0, 0), 0);
	EXPECT_HITS(&e, BASE, 16, 4096, 0);
	/* PSCV = 0: every address space of the VM. */
	run1(&e, rv0(0, 0, 1, 9, 0, 0, 0), 0);
	EXPECT_HITS(&e, BASE, 16, 4096, 0xffff);
	/* A first stage over a Bare G-stage (IOPGT_INVAL_SINGLE_STAGE): the
	 * host's address space PSCID, IOTINVAL.VMA with GV = 0; a VM's (GV
	 * = 1, any GSCID) is another. */
	e.ic.flags = IOPGT_INVAL_RANGES | IOPGT_INVAL_FIRST_STAGE |
		     IOPGT_INVAL_SINGLE_STAGE;
	e.ic.domain_id = 0;
	run1(&e, rv0(0, 1, 0, 0, 1, 0x77, 0), rv1(p4, 0));
	EXPECT_HITS(&e, BASE, 16, 4096, 0x0010);
	run1(&e, rv0(0, 1, 1, 0, 1, 0x77, 0), rv1(p4, 0));
	run1(&e, rv0(0, 1, 1, 9, 1, 0x77, 0), rv1(p4, 0));
	EXPECT_HITS(&e, BASE, 16, 4096, 0);
	ienv_close(&e);
}

/* Bad configurations and arguments. */
static void test_invalidate_args(void **state)
{
	struct ienv e;
	struct iopgt_inval_cmd c = { { 0, 0 }, 0, 0 };

	(void)state;
	ienv_open(&e, IOPGT_FMT_X86_64, 12, IOPGT_IOMMU_VTD, 0, 1, 0, false,
		  -1, false);
	assert_int_equal(iopgt_sim_invalidate(e.sim, NULL, &c, 1), -EINVAL);
	assert_int_equal(iopgt_sim_invalidate(e.sim, &e.ic, NULL, 1), -EINVAL);
	e.ic.domain_id = 0x10000; /* DID is 16 bits */
	assert_int_equal(iopgt_sim_invalidate(e.sim, &e.ic, &c, 1), -EINVAL);
	e.ic.domain_id = 1;
	e.ic.iommu = (enum iopgt_iommu)9;
	assert_int_equal(iopgt_sim_invalidate(e.sim, &e.ic, &c, 1), -EINVAL);
	e.ic.iommu = IOPGT_IOMMU_SMMUV3;
	e.ic.pasid = 0x10000; /* ASID is 16 bits */
	assert_int_equal(iopgt_sim_invalidate(e.sim, &e.ic, &c, 1), -EINVAL);
	e.ic.pasid = 0;
	assert_int_equal(iopgt_sim_invalidate(e.sim, &e.ic, &c, 0), 0);
	iopgt_sim_detach(e.sim);
	assert_int_equal(iopgt_sim_invalidate(e.sim, &e.ic, &c, 1), -ENODEV);
	assert_int_equal(iopgt_sim_attach(e.sim, e.dom), 0);
	ienv_close(&e);
}

/* ------------------------------------------------------------------------
 * The library's encoders against the simulator
 */

struct icase {
	const char *what;
	enum iopgt_format format;
	unsigned granule;
	enum iopgt_iommu iommu;
	unsigned flags;
};

#define RANGES IOPGT_INVAL_RANGES
#define FIRST IOPGT_INVAL_FIRST_STAGE

static const struct icase icases[] = {
	{ "vtd/x86_64", IOPGT_FMT_X86_64, 12, IOPGT_IOMMU_VTD, RANGES | FIRST },
	{ "vtd/vtdss", IOPGT_FMT_VTDSS, 12, IOPGT_IOMMU_VTD, RANGES },
	{ "amd/amdv1", IOPGT_FMT_AMDV1, 12, IOPGT_IOMMU_AMD, RANGES },
	{ "amd/x86_64 (guest, GN)", IOPGT_FMT_X86_64, 12, IOPGT_IOMMU_AMD,
	  RANGES | FIRST },
	{ "smmuv3/arm_s2 4k", IOPGT_FMT_ARM_S2, 12, IOPGT_IOMMU_SMMUV3,
	  RANGES },
	{ "smmuv3/arm_s2 16k", IOPGT_FMT_ARM_S2, 14, IOPGT_IOMMU_SMMUV3,
	  RANGES },
	{ "smmuv3/arm_s2 64k", IOPGT_FMT_ARM_S2, 16, IOPGT_IOMMU_SMMUV3,
	  RANGES },
	{ "smmuv3/arm_s2 4k, no RIL", IOPGT_FMT_ARM_S2, 12,
	  IOPGT_IOMMU_SMMUV3, 0 },
	{ "riscv/x86_64 second stage", IOPGT_FMT_X86_64, 12,
	  IOPGT_IOMMU_RISCV, RANGES },
	{ "riscv/x86_64 first stage", IOPGT_FMT_X86_64, 12, IOPGT_IOMMU_RISCV,
	  RANGES | FIRST },
	{ "riscv/x86_64, no NL or S", IOPGT_FMT_X86_64, 12, IOPGT_IOMMU_RISCV,
	  0 },
	{ "riscv/x86_64 first stage, Bare", IOPGT_FMT_X86_64, 12,
	  IOPGT_IOMMU_RISCV, RANGES | FIRST | IOPGT_INVAL_SINGLE_STAGE },
};
#define N_ICASES (sizeof(icases) / sizeof(icases[0]))

#define DID 0x2a
#define PASID 0x15

/* Whether the encoder of iommu is there; if not, say so. */
static bool encoder_ready(enum iopgt_iommu iommu, const char *what)
{
	struct iopgt_inval_config c;
	struct iopgt_flush_range r = {
		.iova = 0,
		.last = 4095,
		.kind = IOPGT_FLUSH_MODIFIED,
	};
	int rc;

	memset(&c, 0, sizeof(c));
	c.size = sizeof(c);
	c.iommu = iommu;
	c.flags = RANGES;
	c.granule = 12;
	c.levels = 4;
	c.max_addr_mask = 9;
	rc = iopgt_inval_encode(&c, &r, 1, NULL, 0);
	if (rc == -EOPNOTSUPP) {
		printf("SKIP %s: iopgt_inval_encode returns -EOPNOTSUPP for "
		       "this IOMMU (its encoder is not written yet)\n",
		       what);
		return false;
	}
	return true;
}

static void open_case(struct ienv *e, const struct icase *ic, int table_cache,
		      bool all_sizes)
{
	/* A first stage alone has no GSCID (RISC-V). */
	ienv_open(e, ic->format, ic->granule, ic->iommu, ic->flags,
		  ic->flags & IOPGT_INVAL_SINGLE_STAGE ? 0 : DID,
		  ic->flags & FIRST ? PASID : 0, true, table_cache, all_sizes);
	e->name = ic->what;
}

/* Translate iova, whatever the result (the model checks it). */
static void touch(struct ienv *e, uint64_t iova)
{
	struct iopgt_sim_result r;

	(void)iopgt_sim_translate(e->sim, iova, IOPGT_SIM_READ, &r);
}

/* Random map, unmap and sync in a window of 4 level-0 tables' span, the
 * pages of each range translated before and after every change. */
static void random_run(const struct icase *ic, uint64_t seed)
{
	struct ienv e;
	uint64_t rng = seed, span, win, pages;
	uint8_t *mapped;
	struct iopgt_sim_stats st;

	open_case(&e, ic, 0, true);
	span = e.page << 9; /* a level-0 table's span */
	win = 4 * span;
	pages = win / e.page;
	mapped = calloc(pages, 1);
	assert_non_null(mapped);
	for (unsigned op = 0; op < 300; op++) {
		uint64_t first = trand(&rng) % pages, n, i;
		bool free_run = true;

		switch (trand(&rng) % 8) {
		case 0: /* a whole table's span: a superpage where allowed */
			first &= ~(uint64_t)511;
			n = 512;
			break;
		case 1: case 2:
			n = 1;
			break;
		default:
			n = 1 + trand(&rng) % 24;
			break;
		}
		if (first + n > pages)
			n = pages - first;
		for (i = 0; i < n; i++)
			free_run &= !mapped[first + i];
		for (i = 0; i < n; i += 1 + n / 16)
			touch(&e, BASE + (first + i) * e.page);
		if (free_run && trand(&rng) % 3) {
			map_ok(&e, BASE + first * e.page,
			       UINT64_C(0x80000000) + first * e.page,
			       n * e.page);
			memset(mapped + first, 1, n);
		} else if (!free_run) {
			unmap_ok(&e, BASE + first * e.page, n * e.page);
			memset(mapped + first, 0, n);
		}
		for (i = 0; i < n; i++)
			touch(&e, BASE + (first + i) * e.page);
		for (i = 0; i < 4; i++)
			touch(&e, BASE + trand(&rng) % pages * e.page);
	}
	unmap_ok(&e, BASE, win);
	for (uint64_t p = 0; p < pages; p += 7)
		touch(&e, BASE + p * e.page);
	expect_clean(&e);
	iopgt_sim_get_stats(e.sim, &st);
	assert_true(st.inval_commands > 0);
	assert_true(st.invalidations[IOPGT_FLUSH_WALK] > 0);
	free(mapped);
	ienv_close(&e);
}

/* iopgt_flush_all through the IOMMU's command for everything: what was
 * cached is gone (the next translation misses the IOTLB), no command is
 * bad, for every IOMMU and stage (an SMMUv3 stage-2 command takes a
 * 52-bit IPA only). */
static void test_flush_all(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ICASES; i++) {
		struct ienv e;
		struct iopgt_gather g;

		if (!encoder_ready(icases[i].iommu, icases[i].what))
			continue;
		open_case(&e, &icases[i], 0, false);
		map_ok(&e, BASE, UINT64_C(0x80000000), 4 * e.page);
		(void)hit(&e, BASE);
		assert_true(hit(&e, BASE));
		iopgt_gather_init(&g, sizeof(g));
		assert_int_equal(iopgt_flush_all(e.dom, &g), 0);
		assert_false(hit(&e, BASE));
		unmap_ok(&e, BASE, 4 * e.page);
		expect_clean(&e);
		ienv_close(&e);
	}
}

static void test_encoders_random(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ICASES; i++) {
		if (!encoder_ready(icases[i].iommu, icases[i].what))
			continue;
		random_run(&icases[i], g_seed + i);
	}
}

/* ---- negative twins: the commands broken on their way ---- */

struct brk {
	const struct icase *ic;
	unsigned changed; /* commands the hook altered */
};

static void hook_drop_last(void *arg, struct iopgt_inval_cmd *cmd,
			   unsigned *n)
{
	struct brk *b = arg;

	(void)cmd;
	if (*n) {
		(*n)--;
		b->changed++;
	}
}

/* Clear the flag that makes a command drop paging-structure entries:
 * VT-d IH set, AMD PDE cleared, SMMUv3 Leaf set, RISC-V NL cleared. */
static void hook_leaf_only(void *arg, struct iopgt_inval_cmd *cmd,
			   unsigned *n)
{
	struct brk *b = arg;

	for (unsigned i = 0; i < *n; i++) {
		uint64_t *w = cmd[i].dw, old0 = w[0], old1 = w[1];

		switch (b->ic->iommu) {
		case IOPGT_IOMMU_VTD:
			if (((w[0] & 0xf) == 2 || (w[0] & 0xf) == 6) &&
			    ((w[0] >> 4) & 3) == 3)
				w[1] |= BIT(6);
			break;
		case IOPGT_IOMMU_AMD:
			if (w[0] >> 60 == 3)
				w[1] &= ~BIT(1);
			break;
		case IOPGT_IOMMU_SMMUV3:
			if ((w[0] & 0xff) == 0x2a || (w[0] & 0xff) == 0x12)
				w[1] |= 1;
			break;
		case IOPGT_IOMMU_RISCV:
			w[0] &= ~BIT(34);
			break;
		}
		b->changed += old0 != w[0] || old1 != w[1];
	}
}

/* One step smaller: VT-d AM - 1; AMD and RISC-V (S = 1) the range's
 * first zero bit one lower (or S = 0 from 8K); SMMUv3 NUM - 1, or SCALE
 * - 1 with NUM 0. Single-page commands stay. */
static void hook_shrink(void *arg, struct iopgt_inval_cmd *cmd, unsigned *n)
{
	struct brk *b = arg;

	for (unsigned i = 0; i < *n; i++) {
		uint64_t *w = cmd[i].dw, old0 = w[0], old1 = w[1];

		switch (b->ic->iommu) {
		case IOPGT_IOMMU_VTD:
			if (((w[0] >> 4) & 3) == 3 && (w[1] & 0x3f))
				w[1]--;
			break;
		case IOPGT_IOMMU_AMD:
			if (w[0] >> 60 == 3 && (w[1] & 1)) {
				unsigned k = (unsigned)__builtin_ctzll(
					~w[1] & ~(BIT(12) - 1));

				if (k == 12)
					w[1] &= ~UINT64_C(1);
				else if (k < 64)
					w[1] &= ~BIT(k - 1);
			}
			break;
		case IOPGT_IOMMU_SMMUV3:
			if ((w[1] >> 10) & 3) {
				if ((w[0] >> 12) & 0x1f)
					w[0] -= UINT64_C(1) << 12;
				else if ((w[0] >> 20) & 0x1f)
					w[0] -= UINT64_C(1) << 20;
			}
			break;
		case IOPGT_IOMMU_RISCV:
			if ((w[0] & 0x7f) == 1 && (w[1] & BIT(9))) {
				unsigned x = (unsigned)__builtin_ctzll(
					~(w[1] >> 10));

				if (x == 0)
					w[1] &= ~BIT(9);
				else
					w[1] &= ~BIT(10 + x - 1);
			}
			break;
		}
		b->changed += old0 != w[0] || old1 != w[1];
	}
}

/* SMMUv3: a TTL that names another level than the one it had. */
static void hook_ttl(void *arg, struct iopgt_inval_cmd *cmd, unsigned *n)
{
	struct brk *b = arg;

	for (unsigned i = 0; i < *n; i++) {
		unsigned ttl = (unsigned)(cmd[i].dw[1] >> 8) & 3;

		if (ttl) {
			cmd[i].dw[1] &= ~(UINT64_C(3) << 8);
			cmd[i].dw[1] |= (uint64_t)(ttl == 3 ? 2 : 3) << 8;
			b->changed++;
		}
	}
}

static void hook_none(void *arg, struct iopgt_inval_cmd *cmd, unsigned *n)
{
	(void)arg;
	(void)cmd;
	*n = 0;
}

/* The end of a scenario: its violations; with clean, none may be. */
static uint64_t scenario_end(struct ienv *e, bool clean)
{
	uint64_t n = iopgt_sim_violations(e->sim);

	if (clean)
		expect_clean(e);
	ienv_close(e);
	return n;
}

/* Eight pages mapped in a fresh table, translated, unmapped and synced,
 * translated again: with the hook, the result must show violations;
 * without it, none. Returns the violations. */
static uint64_t scenario_pages(const struct icase *ic,
			       void (*fn)(void *, struct iopgt_inval_cmd *,
					  unsigned *),
			       struct brk *b)
{
	struct ienv e;

	open_case(&e, ic, 0, false);
	map_ok(&e, BASE, UINT64_C(0x80000000), 8 * e.page);
	/* A neighbour that keeps the table in place. */
	map_ok(&e, BASE + 16 * e.page, UINT64_C(0x90000000), e.page);
	for (unsigned i = 0; i < 8; i++)
		assert_false(hit(&e, BASE + i * e.page));
	iopgt_sim_set_cmd_hook(e.sim, fn, b);
	unmap_ok(&e, BASE, 8 * e.page);
	iopgt_sim_set_cmd_hook(e.sim, NULL, NULL);
	for (unsigned i = 0; i < 8; i++)
		touch(&e, BASE + i * e.page);
	return scenario_end(&e, !fn);
}

/* One page alone in its table's span, translated (its table enters the
 * paging-structure cache), unmapped (the table is freed: a WALK range),
 * translated again. */
static uint64_t scenario_table(const struct icase *ic,
			       void (*fn)(void *, struct iopgt_inval_cmd *,
					  unsigned *),
			       struct brk *b)
{
	struct ienv e;
	uint64_t n, span;

	open_case(&e, ic, 0, false);
	/* A level-0 table spans page * page / 8 bytes; a page two such
	 * spans away keeps the tables above it linked, so that the WALK
	 * range is the one table's span. */
	span = e.page * (e.page / 8);
	map_ok(&e, (BASE & ~(span - 1)) + 2 * span, UINT64_C(0x90000000),
	       e.page);
	map_ok(&e, BASE, UINT64_C(0x80000000), e.page);
	assert_false(hit(&e, BASE));
	iopgt_sim_set_cmd_hook(e.sim, fn, b);
	unmap_ok(&e, BASE, e.page);
	iopgt_sim_set_cmd_hook(e.sim, NULL, NULL);
	touch(&e, BASE);
	n = viol(&e, IOPGT_SIM_V_STALE_WALK_CACHE);
	if (!fn)
		expect_clean(&e);
	ienv_close(&e);
	return n;
}

static void report(const struct icase *ic, const char *twin, uint64_t v,
		   unsigned changed)
{
	printf("  %-28s %-14s commands changed %u, violations %" PRIu64 "\n",
	       ic->what, twin, changed, v);
}

/* A hook that changed commands must have made violations. One that found
 * nothing to change (the encoder wrote a command for everything, or one
 * per page) is reported, and the run must then be clean. */
static void expect_broken(const struct icase *ic, const char *twin,
			  uint64_t v, unsigned changed)
{
	if (!changed) {
		printf("  NOTE %s, %s: no command the hook could change\n",
		       ic->what, twin);
		assert_int_equal(v, 0);
		return;
	}
	assert_true(v > 0);
}

/* The commands a sync wrote, unchanged: how many, and the bytes their
 * addresses cover. */
struct tally {
	unsigned n;
	uint64_t bytes;
};

static void hook_tally(void *arg, struct iopgt_inval_cmd *cmd, unsigned *n)
{
	struct tally *t = arg;

	for (unsigned i = 0; i < *n; i++) {
		uint64_t b = cmd[i].last - cmd[i].iova + 1; /* 0: all */

		t->n++;
		if (cmd[i].last < cmd[i].iova)
			continue; /* a sync: no bytes */
		t->bytes = !b || t->bytes + b < t->bytes ? UINT64_MAX
							 : t->bytes + b;
	}
}

/* Two pages, each alone in its level-0 table, in two level-1 tables far
 * apart, translated (both paths enter the paging-structure cache),
 * unmapped in one sync: each table is unlinked empty, and its WALK range
 * (IOPGT_RANGE_WALK_EMPTY) costs one command of one page, where the
 * spans are a level-1 table's each. Translated again: no violation. */
static void scenario_walk_empty(const struct icase *ic)
{
	struct ienv e;
	struct iopgt_gather g;
	struct tally t = { 0, 0 };
	uint64_t s0, s1, a, b;

	open_case(&e, ic, 0, false);
	s0 = e.page * (e.page / 8);
	s1 = s0 * (e.page / 8);
	/* Neighbours keep the level-1 tables' parents in place. */
	a = 2 * s1 + s0 + 3 * e.page;
	b = 4 * s1 + 2 * s0 + 5 * e.page;
	map_ok(&e, 3 * s1, UINT64_C(0x90000000), e.page);
	map_ok(&e, a, UINT64_C(0x80000000), e.page);
	map_ok(&e, b, UINT64_C(0x88000000), e.page);
	assert_false(hit(&e, a));
	assert_false(hit(&e, b));
	assert_int_equal(iopgt_sim_model_begin_unmap(e.sim, a, e.page), 0);
	assert_int_equal(iopgt_sim_model_begin_unmap(e.sim, b, e.page), 0);
	iopgt_gather_init(&g, sizeof(g));
	assert_int_equal(iopgt_unmap(e.dom, a, e.page, &g), (int64_t)e.page);
	assert_int_equal(iopgt_unmap(e.dom, b, e.page, &g), (int64_t)e.page);
	/* Two leaf ranges; the level-0 and level-1 tables of each page in
	 * one WALK range of its own, over empty tables. */
	assert_int_equal(g.nr_ranges, 4);
	for (unsigned i = 0; i < g.nr_ranges; i++) {
		const struct iopgt_flush_range *r = &g.ranges[i];

		if (r->kind != IOPGT_FLUSH_WALK)
			continue;
		assert_true(r->flags & IOPGT_RANGE_WALK_EMPTY);
		assert_int_equal(r->walk_levels, 3);
		assert_int_equal(BIT(r->walk_shift), s0);
		assert_int_equal(r->last - r->iova + 1, s1);
		assert_true(r->walk_iova == (a & ~(s0 - 1)) ||
			    r->walk_iova == (b & ~(s0 - 1)));
	}
	iopgt_sim_set_cmd_hook(e.sim, hook_tally, &t);
	assert_int_equal(iopgt_sync(e.dom, &g), 0);
	iopgt_sim_set_cmd_hook(e.sim, NULL, NULL);
	assert_int_equal(iopgt_sim_model_end(e.sim, a, e.page), 0);
	assert_int_equal(iopgt_sim_model_end(e.sim, b, e.page), 0);
	touch(&e, a);
	touch(&e, b);
	expect_clean(&e);
	printf("  %-28s walk over empty tables: %u commands, %" PRIu64
	       " bytes for 2 pages\n",
	       ic->what, t.n, t.bytes);
	/* Without RISC-V's NL, a WALK is a command for everything. */
	if (ic->iommu != IOPGT_IOMMU_RISCV || (ic->flags & RANGES)) {
		assert_int_equal(t.n, 4);
		assert_int_equal(t.bytes, 4 * e.page);
	}
	ienv_close(&e);
}

/* Two pages in two neighbouring level-0 tables, translated (the
 * paging-structure cache holds both tables), unmapped in one call: each
 * table is emptied and unlinked, and its WALK range (over empty tables)
 * must stay apart from the other's and from the clear inside it. With
 * PT_HOOK_BREAK_WALK_MERGE the gather merges them all into one range
 * over empty tables with one table's page: the other table stays in the
 * paging-structure cache and the cleared leaves in the IOTLB. Returns the
 * violations of a translation of each page after the sync. */
static uint64_t scenario_walk_merge(const struct icase *ic, bool broken)
{
	struct ienv e;
	uint64_t s0, s1, r;

	open_case(&e, ic, 0, false);
	s0 = e.page * (e.page / 8);
	s1 = s0 * (e.page / 8);
	r = 2 * s1;
	map_ok(&e, r + 4 * s0, UINT64_C(0x90000000), e.page);
	map_ok(&e, r + e.page, UINT64_C(0x80000000), e.page);
	map_ok(&e, r + s0 + e.page, UINT64_C(0x88000000), e.page);
	assert_false(hit(&e, r + e.page));
	assert_false(hit(&e, r + s0 + e.page));
	if (broken)
		iopgt__set_test_hooks(e.dom, PT_HOOK_BREAK_WALK_MERGE);
	unmap_ok(&e, r, 2 * s0);
	iopgt__set_test_hooks(e.dom, 0);
	touch(&e, r + e.page);
	touch(&e, r + s0 + e.page);
	return scenario_end(&e, !broken);
}

/* VT-d: a 2M leaf, translated (the IOTLB holds it), unmapped. The
 * encoder's AM is 9; one step smaller (hook_shrink) names half the page,
 * and the simulator, as VT-d allows (§11.4.8.2), keeps the large page's
 * entry: the next translation hits it. Returns the violations. */
static uint64_t scenario_large_page(const struct icase *ic,
				    void (*fn)(void *, struct iopgt_inval_cmd *,
					       unsigned *),
				    struct brk *b)
{
	struct ienv e;
	uint64_t big = BIT(21), x = 4 * BIT(21);

	open_case(&e, ic, 0, false);
	map_ok(&e, x + big, UINT64_C(0x90000000), e.page); /* the table */
	map_ok(&e, x, UINT64_C(0x80000000), big);
	assert_false(hit(&e, x + big / 2 + e.page));
	assert_true(hit(&e, x + big / 2 + e.page));
	iopgt_sim_set_cmd_hook(e.sim, fn, b);
	unmap_ok(&e, x, big);
	iopgt_sim_set_cmd_hook(e.sim, NULL, NULL);
	touch(&e, x + big / 2 + e.page);
	return scenario_end(&e, !fn);
}

static void test_vtd_large_page(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ICASES; i++) {
		const struct icase *ic = &icases[i];
		struct brk b = { ic, 0 };
		uint64_t v;

		if (ic->iommu != IOPGT_IOMMU_VTD)
			continue;
		assert_int_equal(scenario_large_page(ic, NULL, NULL), 0);
		v = scenario_large_page(ic, hook_shrink, &b);
		report(ic, "mask below 2M", v, b.changed);
		assert_true(b.changed > 0 && v > 0);
	}
}

static void test_walk_empty(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ICASES; i++) {
		const struct icase *ic = &icases[i];
		uint64_t v;

		if (!encoder_ready(ic->iommu, ic->what))
			continue;
		scenario_walk_empty(ic);
		assert_int_equal(scenario_walk_merge(ic, false), 0);
		/* Without NL, RISC-V invalidates everything for a WALK. */
		if (ic->iommu == IOPGT_IOMMU_RISCV && !(ic->flags & RANGES))
			continue;
		if (IOPGT_DEBUG < 1)
			continue; /* PT_HOOK_BREAK_WALK_MERGE: debug builds */
		v = scenario_walk_merge(ic, true);
		report(ic, "walk merged", v, 1);
		assert_true(v > 0);
	}
}

static void test_encoders_broken(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ICASES; i++) {
		const struct icase *ic = &icases[i];
		struct brk b = { ic, 0 };
		uint64_t v;

		if (!encoder_ready(ic->iommu, ic->what))
			continue;
		/* The scenarios as they are: clean. */
		assert_int_equal(scenario_pages(ic, NULL, NULL), 0);
		assert_int_equal(scenario_table(ic, NULL, NULL), 0);

		v = scenario_pages(ic, hook_drop_last, &b);
		report(ic, "drop last", v, b.changed);
		assert_true(b.changed > 0 && v > 0);

		/* Leaf-only on the WALK range: only where the IOMMU has a
		 * flag for it (RISC-V: NL, with the extension; without
		 * it a WALK range is the whole space). */
		if (ic->iommu != IOPGT_IOMMU_RISCV || (ic->flags & RANGES)) {
			b.changed = 0;
			v = scenario_table(ic, hook_leaf_only, &b);
			report(ic, "leaf-only walk", v, b.changed);
			expect_broken(ic, "leaf-only walk", v, b.changed);
		}

		/* A range one step smaller: where commands carry ranges
		 * (not SMMUv3 without RIL, nor RISC-V without S). */
		if (ic->flags & RANGES) {
			b.changed = 0;
			v = scenario_pages(ic, hook_shrink, &b);
			report(ic, "shrunk range", v, b.changed);
			expect_broken(ic, "shrunk range", v, b.changed);
		}
	}
}

/* SMMUv3's TTL: a wrong level misses the leaf. A sync's flush_range
 * carries no leaf sizes, so its commands may carry no TTL; the commands
 * for the precise range (leaf-only, 4K leaves) are then written here,
 * with the sync's own commands left out. */
static void test_encoder_smmuv3_ttl(void **state)
{
	const struct icase *ic = &icases[4];

	(void)state;
	assert_int_equal(ic->iommu, IOPGT_IOMMU_SMMUV3);
	if (!encoder_ready(ic->iommu, ic->what))
		return;
	for (int broken = 0; broken < 2; broken++) {
		struct brk b = { ic, 0 };
		struct iopgt_inval_cmd cmd[16];
		struct iopgt_flush_range r = {
			.iova = BASE,
			.last = BASE + 4 * 4096 - 1,
			.leaf_sizes = IOPGT_SZ_4K,
			.kind = IOPGT_FLUSH_MODIFIED,
			.flags = IOPGT_RANGE_LEAF_ONLY,
		};
		struct ienv e;
		unsigned n;
		int rc;

		open_case(&e, ic, -1, false);
		map_ok(&e, BASE, UINT64_C(0x80000000), 16 * 4096);
		for (unsigned i = 0; i < 4; i++)
			assert_false(hit(&e, BASE + i * 4096));
		iopgt_sim_set_cmd_hook(e.sim, hook_none, NULL);
		assert_int_equal(iopgt_sim_model_begin_unmap(e.sim, BASE,
							     4 * 4096),
				 0);
		{
			struct iopgt_gather g;

			iopgt_gather_init(&g, sizeof(g));
			assert_int_equal(iopgt_unmap(e.dom, BASE, 4 * 4096,
						     &g),
					 4 * 4096);
			assert_int_equal(iopgt_sync(e.dom, &g), 0);
		}
		iopgt_sim_set_cmd_hook(e.sim, NULL, NULL);
		rc = iopgt_inval_encode(&e.ic, &r, 1, cmd, 16);
		assert_true(rc > 0);
		n = (unsigned)rc;
		if (broken)
			hook_ttl(&b, cmd, &n);
		assert_int_equal(iopgt_sim_invalidate(e.sim, &e.ic, cmd, n), 0);
		assert_int_equal(iopgt_sim_model_end(e.sim, BASE, 4 * 4096), 0);
		for (unsigned i = 0; i < 4; i++)
			touch(&e, BASE + i * 4096);
		if (!broken) {
			expect_clean(&e);
		} else {
			report(ic, "wrong TTL", iopgt_sim_violations(e.sim),
			       b.changed);
			if (!b.changed)
				printf("  (the encoder wrote no TTL for a "
				       "leaf-only 4K range)\n");
			assert_true(b.changed > 0);
			assert_true(viol(&e, IOPGT_SIM_V_STALE_TRANSLATION) >
				    0);
		}
		ienv_close(&e);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kat_vtd_second_stage),
		cmocka_unit_test(test_kat_vtd_first_stage),
		cmocka_unit_test(test_kat_amd),
		cmocka_unit_test(test_kat_smmuv3),
		cmocka_unit_test(test_kat_riscv),
		cmocka_unit_test(test_invalidate_args),
		cmocka_unit_test(test_encoders_random),
		cmocka_unit_test(test_flush_all),
		cmocka_unit_test(test_encoders_broken),
		cmocka_unit_test(test_encoder_smmuv3_ttl),
		cmocka_unit_test(test_walk_empty),
		cmocka_unit_test(test_vtd_large_page),
	};

	g_seed = tseed(UINT64_C(0x1a7a11d5eed));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
