/* SPDX-License-Identifier: MIT */
/*
 * The formats, bit for bit, and the registry that lists them.
 *
 * Known answers: a few entries per format and level are made through the
 * public API (iopgt_map) and the raw table memory (iopgt_for_each_table
 * gives each table's va) is compared with values written out here from the
 * specifications, independently of the library's format headers:
 *   x86_64: Intel SDM Vol. 3A, section 4.5, Tables 4-15 to 4-20 (PML5E,
 *           PML4E, PDPTE (table or 1G page), PDE (table or 2M page), PTE);
 *   arm_s2: Arm ARM DDI 0487, "Translation table descriptor formats"
 *           (table, block and page descriptors, D8.3) and "Attribute
 *           fields in stage 2 Block and Page descriptors";
 *   vtdss:  Intel VT-d specification, section 9.8 (SS-PML5E, SS-PML4E,
 *           SS-PDPE, SS-PDE and SS-PTE formats);
 *   amdv1:  AMD IOMMU specification (48882), section 2.2.3 (PDE and PTE
 *           formats, Next Level) and 2.2.2 (the DTE's Mode and root).
 * A new format adds its own known answers here.
 *
 * The registry: every entry iopgt_format_info() lists agrees with what
 * the library does with that format: its name, the defaults
 * iopgt_config_init() fills, the ias and oas it accepts for each granule
 * (and nothing outside), the leaf sizes and levels of the default
 * configuration, the protections iopgt_map() accepts and dirty tracking.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

/* The enum values compiled callers hold (the ABI): one line per format,
 * never renumbered. */
_Static_assert(IOPGT_FMT_X86_64 == 1, "format value");
_Static_assert(IOPGT_FMT_ARM_S2 == 2, "format value");
_Static_assert(IOPGT_FMT_VTDSS == 3, "format value");
_Static_assert(IOPGT_FMT_AMDV1 == 4, "format value");

#define B(n) (UINT64_C(1) << (n))

/* ---- raw entries through the public API ---- */

struct find {
	unsigned level;
	uint64_t iova;
	const struct iopgt_table_info *hit;
	struct iopgt_table_info ti;
	int found;
};

static int find_table(void *arg, const struct iopgt_table_info *t)
{
	struct find *f = arg;

	if (t->level == f->level && f->iova >= t->iova &&
	    f->iova - t->iova < t->span) {
		f->ti = *t;
		f->found = 1;
		return 1;
	}
	return 0;
}

/* The table at `level` whose span holds iova. */
static struct iopgt_table_info table_at(struct iopgt_domain *dom,
					unsigned level, uint64_t iova)
{
	struct find f = { .level = level, .iova = iova };

	iopgt_for_each_table(dom, find_table, &f);
	CTX("no level-%u table holds iova 0x%" PRIx64, level, iova);
	EXPECT(f.found);
	return f.ti;
}

/* The raw entry for iova in the table at `level`. */
static uint64_t raw(struct iopgt_domain *dom, unsigned level, uint64_t iova)
{
	struct iopgt_table_info t = table_at(dom, level, iova);
	uint64_t per = t.span / t.entries;

	return ((const uint64_t *)t.va)[(iova - t.iova) / per];
}

/* The hardware address of the table at `level` whose span holds iova. */
static uint64_t table_pa(struct iopgt_domain *dom, unsigned level,
			 uint64_t iova)
{
	return table_at(dom, level, iova).pa;
}

static struct iopgt_domain *open_dom(enum iopgt_format fmt, unsigned granule,
				     unsigned ias, unsigned oas)
{
	struct iopgt_config cfg;
	struct iopgt_domain *dom;

	iopgt_config_init(&cfg, sizeof(cfg), fmt);
	cfg.granule = granule;
	cfg.ias = ias;
	cfg.oas = oas;
	cfg.options = IOPGT_OPT_NO_COALESCE;
	CTX("create %s granule %u ias %u oas %u", iopgt_format_name(fmt),
	    granule, ias, oas);
	EQ(iopgt_domain_create(&cfg, &dom), 0);
	return dom;
}

static void map_ok(struct iopgt_domain *dom, uint64_t iova, uint64_t pa,
		   uint64_t size, unsigned prot)
{
	struct iopgt_gather g;

	iopgt_gather_init(&g, sizeof(g));
	CTX("map 0x%" PRIx64 " -> 0x%" PRIx64 " size 0x%" PRIx64 " prot 0x%x",
	    iova, pa, size, prot);
	EQ(iopgt_map(dom, iova, pa, size, prot, &g), 0);
	EQ(iopgt_sync(dom, &g), 0);
}

/* ---- x86-64 paging ---- */

/* SDM Vol. 3A, Tables 4-15..4-20: bit 0 P, 1 R/W, 2 U/S, 3 PWT, 4 PCD,
 * 5 A, 6 D, 7 PS (PDPTE/PDE: maps a page), 63 XD; the address at 51:12
 * (table, 4K page), 51:21 (2M page), 51:30 (1G page). */
#define X_P B(0)
#define X_RW B(1)
#define X_US B(2)
#define X_PWT B(3)
#define X_PCD B(4)
#define X_A B(5)
#define X_PS B(7)
#define X_XD B(63)

static void x86_known(unsigned ias)
{
	struct iopgt_domain *dom = open_dom(IOPGT_FMT_X86_64, 12, ias, 52);
	unsigned top = ias > 48 ? 4 : 3;
	/* 4K, read/write, no exec: a PTE. */
	const uint64_t i4k = 0x7f0000123000, p4k = 0x000fedcba9876000;
	/* 2M, read + exec: a PDE with PS. */
	const uint64_t i2m = 0x7f0000400000, p2m = 0x0000000abc200000;
	/* 1G, read/write/user/mmio, no exec: a PDPTE with PS. */
	const uint64_t i1g = 0x7f0040000000, p1g = 0x0000004fc0000000;

	map_ok(dom, i4k, p4k, B(12), IOPGT_PROT_READ | IOPGT_PROT_WRITE);
	map_ok(dom, i2m, p2m, B(21), IOPGT_PROT_READ | IOPGT_PROT_EXEC);
	map_ok(dom, i1g, p1g, B(30),
	       IOPGT_PROT_READ | IOPGT_PROT_WRITE | IOPGT_PROT_USER |
		       IOPGT_PROT_MMIO);

	CTX("x86_64 ias %u: PTE", ias);
	EQ(raw(dom, 0, i4k), p4k | X_P | X_RW | X_A | X_XD);
	CTX("x86_64 ias %u: PDE, 2M page", ias);
	EQ(raw(dom, 1, i2m), p2m | X_P | X_A | X_PS);
	CTX("x86_64 ias %u: PDPTE, 1G page", ias);
	EQ(raw(dom, 2, i1g),
	   p1g | X_P | X_RW | X_US | X_PWT | X_PCD | X_A | X_PS | X_XD);
	/* Tables: P, R/W, U/S and A (permissions ANDed down the walk),
	 * the next table's address, no PS. */
	for (unsigned l = 1; l <= top; l++) {
		CTX("x86_64 ias %u: table entry at level %u", ias, l);
		EQ(raw(dom, l, i4k),
		   table_pa(dom, l - 1, i4k) | X_P | X_RW | X_US | X_A);
	}
	/* Lookup reads them back. */
	{
		struct iopgt_translation tr;

		CTX("x86_64 ias %u: lookup", ias);
		EQ(iopgt_lookup(dom, i2m + 0x1234, &tr), 0);
		EQ(tr.pa, p2m + 0x1234);
		EQ(tr.leaf_size, B(21));
		EQ(tr.prot, IOPGT_PROT_READ | IOPGT_PROT_EXEC);
	}
	iopgt_domain_destroy(dom);
}

/* Canonical input addresses (SDM Vol. 3A 4.5; VT-d 3.6): bits 63:ias-1
 * equal. The walk indexes the PML4 (PML5) with bits 47:39 (56:48) whatever
 * the ias, so the upper half's first IOVA, 2^64 - 2^(ias-1), lies in root
 * entry 512 - 2^(ias-1 - rootshift): 256 at ias 48 and 57, 511 at ias 40;
 * the top of the 64-bit space in entry 511. Between the halves: -ERANGE. */
static void x86_upper_known(unsigned ias)
{
	struct iopgt_domain *dom = open_dom(IOPGT_FMT_X86_64, 12, ias, 52);
	unsigned top = ias > 48 ? 4 : 3, rs = 12 + 9 * top;
	uint64_t lo = B(ias - 1), iu = 0 - lo, ih = 0 - B(12);
	const uint64_t pu = 0x0000000123456000, ph = 0x00000000fedcb000;
	const uint64_t *root;
	struct iopgt_translation tr;
	struct iopgt_table_info t;
	struct iopgt_info info;

	CTX("x86_64 ias %u: the upper half", ias);
	iopgt_domain_info(dom, &info, sizeof(info));
	EQ(info.iova_last, lo - 1);
	EQ(info.iova_upper, iu);
	map_ok(dom, iu, pu, B(12), IOPGT_PROT_READ | IOPGT_PROT_WRITE);
	map_ok(dom, ih, ph, B(12), IOPGT_PROT_READ);
	root = table_at(dom, top, 0).va;
	/* The root is a full 4K table whatever the ias. */
	EQ(table_at(dom, top, 0).entries, 512);
	t = table_at(dom, top - 1, iu);
	EQ(t.iova, iu);
	EQ(root[512 - (lo >> rs)], t.pa | X_P | X_RW | X_US | X_A);
	EQ(root[511], table_at(dom, top - 1, ih).pa | X_P | X_RW | X_US | X_A);
	EQ(table_at(dom, 0, ih).iova, 0 - B(21));
	EQ(raw(dom, 0, iu), pu | X_P | X_RW | X_A | X_XD);
	EQ(raw(dom, 0, ih), ph | X_P | X_A | X_XD);
	/* Nothing else in the root: the lower half's entries are free. */
	for (unsigned i = 0; i < 512; i++)
		if (i != 511 && i != 512 - (lo >> rs))
			EQ(root[i], 0);
	EQ(iopgt_lookup(dom, iu + 0x123, &tr), 0);
	EQ(tr.pa, pu + 0x123);
	EQ(iopgt_lookup(dom, UINT64_MAX, &tr), 0);
	EQ(tr.pa, ph + 0xfff);
	EQ(iopgt_lookup(dom, iu - 1, &tr), -ERANGE);
	EQ(iopgt_lookup(dom, lo, &tr), -ERANGE);
	EQ(iopgt_lookup(dom, lo - 1, &tr), -ENOENT);
	iopgt_domain_destroy(dom);
}

/* The protections a format expresses, from the specifications: the
 * registry's prots (which iopgt_map() follows) must be exactly these. */
static uint32_t prots_where(int (*ok)(unsigned p))
{
	uint32_t set = 0;

	for (unsigned p = 0; p < 32; p++)
		if (ok(p))
			set |= UINT32_C(1) << p;
	return set;
}

/* x86: present implies readable, so READ is required (no write-only);
 * R/W, U/S, XD, PCD|PWT express the rest. */
static int x86_prot_ok(unsigned p)
{
	return (p & IOPGT_PROT_READ) != 0;
}

static void test_x86_64_known(void **state)
{
	(void)state;
	CTX("x86_64 protections and dirty bit");
	EQ(tformat(IOPGT_FMT_X86_64)->prots, prots_where(x86_prot_ok));
	EXPECT(tformat(IOPGT_FMT_X86_64)->flags & IOPGT_FORMAT_DIRTY);
	/* Linear addresses and physical addresses are sized apart. */
	EXPECT(!(tformat(IOPGT_FMT_X86_64)->flags &
		 IOPGT_FORMAT_IAS_WITHIN_OAS));
	x86_known(48); /* 4-level: PML4E, PDPTE, PDE, PTE */
	x86_known(57); /* 5-level: PML5E on top */
	EXPECT(tformat(IOPGT_FMT_X86_64)->flags & IOPGT_FORMAT_SIGN_EXTEND);
	x86_upper_known(48); /* PML4E 256: 0xffff800000000000 */
	x86_upper_known(57); /* PML5E 256: 0xff00000000000000 */
	x86_upper_known(40); /* PML4E 511: 0xffffff8000000000 */
}

static int try_create(enum iopgt_format fmt, unsigned g, unsigned ias,
		      unsigned oas);

/* ---- ARM stage 2 ---- */

/* Descriptors: bits 1:0 0b11 table (levels 0..2) or page (level 3), 0b01
 * block; stage 2 attributes: MemAttr 5:2 (0b1111 Normal WB, 0b0001
 * Device-nGnRE), S2AP 7:6 (bit 6 read, bit 7 write), SH 9:8 (0b11 inner
 * shareable), AF bit 10, XN bit 54; output address 47:g. */
#define S2_TABLE UINT64_C(3)
#define S2_PAGE UINT64_C(3)
#define S2_BLOCK UINT64_C(1)
#define S2_NORMAL (UINT64_C(0xf) << 2)
#define S2_DEVICE (UINT64_C(0x1) << 2)
#define S2_R B(6)
#define S2_W B(7)
#define S2_ISH (UINT64_C(3) << 8)
#define S2_AF B(10)
#define S2_XN B(54)

static void arm_known(unsigned g, unsigned ias)
{
	struct iopgt_domain *dom = open_dom(IOPGT_FMT_ARM_S2, g, ias, 48);
	struct iopgt_info info;
	unsigned b = g - 3;
	uint64_t page = B(g), block = B(g + b);
	/* A page: read/write, no exec, normal memory. */
	uint64_t ip = B(ias - 1) + 5 * page, pp = UINT64_C(0x0000fedc00000000) +
						  7 * page;
	/* A level-1 block (2M, 32M, 512M): read, device memory (never
	 * executable). */
	uint64_t ib = B(ias - 1) + 3 * block, pb = UINT64_C(0x0000123400000000) +
						  block;
	/* A level-2 block, 4K granule only (1G): write-only, no exec. */
	uint64_t ig = B(ias - 1) + B(31), pg = UINT64_C(0x00000abc40000000);

	iopgt_domain_info(dom, &info, sizeof(info));
	map_ok(dom, ip, pp, page, IOPGT_PROT_READ | IOPGT_PROT_WRITE);
	map_ok(dom, ib, pb, block, IOPGT_PROT_READ | IOPGT_PROT_MMIO);
	CTX("arm_s2 %uk ias %u: page descriptor", 1u << (g - 10), ias);
	EQ(raw(dom, 0, ip),
	   pp | S2_PAGE | S2_NORMAL | S2_R | S2_W | S2_ISH | S2_AF | S2_XN);
	CTX("arm_s2 %uk ias %u: level-2 block descriptor", 1u << (g - 10), ias);
	EQ(raw(dom, 1, ib), pb | S2_BLOCK | S2_DEVICE | S2_R | S2_AF | S2_XN);
	if (g == 12 && info.levels > 2) {
		map_ok(dom, ig, pg, B(30), IOPGT_PROT_WRITE);
		CTX("arm_s2 4k ias %u: level-1 block descriptor", ias);
		EQ(raw(dom, 2, ig),
		   pg | S2_BLOCK | S2_NORMAL | S2_W | S2_ISH | S2_AF | S2_XN);
	}
	/* Table descriptors: 0b11 and the next table's address. */
	for (unsigned l = 1; l < info.levels; l++) {
		CTX("arm_s2 %uk ias %u: table descriptor at level %u",
		    1u << (g - 10), ias, l);
		EQ(raw(dom, l, ip), table_pa(dom, l - 1, ip) | S2_TABLE);
	}
	iopgt_domain_destroy(dom);
}

/* Stage 2: S2AP has separate read and write bits (write-only allowed),
 * no user/privileged distinction; XN and MemAttr express the rest, but
 * Device memory must be execute-never (Arm ARM DDI 0487, B2.7.2 "Device
 * memory": a Device location not marked execute-never is a programming
 * error). */
static int arm_s2_prot_ok(unsigned p)
{
	return (p & (IOPGT_PROT_READ | IOPGT_PROT_WRITE)) &&
	       !(p & IOPGT_PROT_USER) &&
	       (p & (IOPGT_PROT_MMIO | IOPGT_PROT_EXEC)) !=
		       (IOPGT_PROT_MMIO | IOPGT_PROT_EXEC);
}

static void test_arm_s2_known(void **state)
{
	(void)state;
	CTX("arm_s2 protections, no dirty state (DBM unused)");
	EQ(tformat(IOPGT_FMT_ARM_S2)->prots, prots_where(arm_s2_prot_ok));
	EXPECT(!(tformat(IOPGT_FMT_ARM_S2)->flags & IOPGT_FORMAT_DIRTY));
	/* VTTBR_EL2 translates IPAs from 0 up: no upper half. */
	EXPECT(!(tformat(IOPGT_FMT_ARM_S2)->flags & IOPGT_FORMAT_SIGN_EXTEND));
	/* The IPA size is bounded by the PA size (AArch64.S2MinTxSZ: the
	 * smallest T0SZ is 64 - PAMax; SMMUv3: stage 2 takes at most IAS =
	 * OAS bits): ias > oas is refused, ias == oas taken. */
	CTX("arm_s2 ias within oas");
	EXPECT(tformat(IOPGT_FMT_ARM_S2)->flags & IOPGT_FORMAT_IAS_WITHIN_OAS);
	EQ(try_create(IOPGT_FMT_ARM_S2, 12, 48, 40), -EINVAL);
	EQ(try_create(IOPGT_FMT_ARM_S2, 12, 41, 40), -EINVAL);
	EQ(try_create(IOPGT_FMT_ARM_S2, 16, 33, 32), -EINVAL);
	EQ(try_create(IOPGT_FMT_ARM_S2, 12, 40, 40), 0);
	EQ(try_create(IOPGT_FMT_ARM_S2, 14, 36, 40), 0);
	EQ(try_create(IOPGT_FMT_ARM_S2, 16, 32, 32), 0);
	arm_known(12, 48); /* start level 0 */
	arm_known(12, 40); /* start level 1, 2 concatenated tables */
	arm_known(12, 32); /* start level 2, 4 concatenated tables */
	arm_known(14, 48);
	arm_known(14, 40);
	arm_known(16, 48);
	arm_known(16, 44);
}

/* ---- Intel VT-d second stage ---- */

/* Section 9.8: bit 0 R, 1 W, 2 X, 5:3 EMT (6 write-back, 0 uncacheable),
 * 6 IPAT, 7 PS (SS-PDPE/SS-PDE: maps a page), 8 A, 9 D, 11 SNP; the
 * address at 51:12 (table, 4K page), 51:21 (2M), 51:30 (1G). No present
 * bit: R or W makes an entry present. */
#define V_R B(0)
#define V_W B(1)
#define V_WB (UINT64_C(6) << 3)
#define V_X B(2)
#define V_IPAT B(6)
#define V_PS B(7)
#define V_A B(8)
#define V_SNP B(11)

static void vtdss_known(unsigned ias, unsigned options)
{
	struct iopgt_config cfg;
	struct iopgt_domain *dom;
	struct iopgt_info info;
	/* 4K read/write: an SS-PTE. */
	const uint64_t i4k = 0x7f0000123000 & (B(ias) - 1),
		       p4k = 0x000fedcba9876000;
	/* 2M read-only, MMIO: an SS-PDE with PS. */
	const uint64_t i2m = 0x7f0000400000 & (B(ias) - 1),
		       p2m = 0x0000000abc200000;
	/* 1G write-only: an SS-PDPE with PS. */
	const uint64_t i1g = 0x7f0040000000 & (B(ias) - 1),
		       p1g = 0x0000004fc0000000;
	/* 4K read and execute: an SS-PTE with X (Figure 9-8, bit 2). */
	const uint64_t ix = i4k + B(12), px = 0x0000000123456000;
	const uint64_t snp = options & IOPGT_OPT_FORCE_SNOOP ? V_SNP : 0;

	iopgt_config_init(&cfg, sizeof(cfg), IOPGT_FMT_VTDSS);
	cfg.ias = ias;
	cfg.options = IOPGT_OPT_NO_COALESCE | options;
	CTX("create vtdss ias %u options 0x%x", ias, options);
	EQ(iopgt_domain_create(&cfg, &dom), 0);
	iopgt_domain_info(dom, &info, sizeof(info));
	EQ(info.levels, ias > 48 ? 5u : ias > 39 ? 4u : 3u);

	map_ok(dom, i4k, p4k, B(12), IOPGT_PROT_READ | IOPGT_PROT_WRITE);
	map_ok(dom, i2m, p2m, B(21), IOPGT_PROT_READ | IOPGT_PROT_MMIO);
	map_ok(dom, i1g, p1g, B(30), IOPGT_PROT_WRITE);
	map_ok(dom, ix, px, B(12), IOPGT_PROT_READ | IOPGT_PROT_EXEC);

	CTX("vtdss ias %u: SS-PTE", ias);
	EQ(raw(dom, 0, i4k), p4k | V_R | V_W | V_WB | V_A | snp);
	EQ(raw(dom, 0, ix), px | V_R | V_X | V_WB | V_A | snp);
	CTX("vtdss ias %u: SS-PDE, 2M page", ias);
	EQ(raw(dom, 1, i2m), p2m | V_R | V_IPAT | V_PS | V_A | snp);
	CTX("vtdss ias %u: SS-PDPE, 1G page", ias);
	EQ(raw(dom, 2, i1g), p1g | V_W | V_WB | V_PS | V_A | snp);
	/* Tables: R, W, X and A (ANDed down the walk; A preset), the next
	 * table's address, never PS or SNP. */
	for (unsigned l = 1; l < info.levels; l++) {
		CTX("vtdss ias %u: table entry at level %u", ias, l);
		EQ(raw(dom, l, i4k),
		   table_pa(dom, l - 1, i4k) | V_R | V_W | V_X | V_A);
	}
	{
		struct iopgt_translation tr;

		CTX("vtdss ias %u: lookup", ias);
		EQ(iopgt_lookup(dom, i2m + 0x1234, &tr), 0);
		EQ(tr.pa, p2m + 0x1234);
		EQ(tr.leaf_size, B(21));
		EQ(tr.prot, IOPGT_PROT_READ | IOPGT_PROT_MMIO);
		EQ(iopgt_lookup(dom, i1g + 0x12345678, &tr), 0);
		EQ(tr.pa, p1g + 0x12345678);
		EQ(tr.prot, IOPGT_PROT_WRITE);
		EQ(iopgt_lookup(dom, ix + 0x10, &tr), 0);
		EQ(tr.pa, px + 0x10);
		EQ(tr.prot, IOPGT_PROT_READ | IOPGT_PROT_EXEC);
	}
	iopgt_domain_destroy(dom);
}

/* R and W are separate bits (write-only allowed), one of them needed for
 * the entry to be present; X for execute; no user/supervisor; MMIO through
 * the memory type. */
static int vtdss_prot_ok(unsigned p)
{
	return (p & (IOPGT_PROT_READ | IOPGT_PROT_WRITE)) &&
	       !(p & IOPGT_PROT_USER);
}

static void test_vtdss_known(void **state)
{
	(void)state;
	CTX("vtdss protections, dirty bit, snoop");
	EQ(tformat(IOPGT_FMT_VTDSS)->prots, prots_where(vtdss_prot_ok));
	EXPECT(tformat(IOPGT_FMT_VTDSS)->flags & IOPGT_FORMAT_DIRTY);
	EXPECT(tformat(IOPGT_FMT_VTDSS)->flags & IOPGT_FORMAT_SNOOP);
	vtdss_known(39, 0); /* 3 levels: SS-PDPE on top */
	vtdss_known(48, 0); /* 4 levels: SS-PML4E */
	vtdss_known(57, 0); /* 5 levels: SS-PML5E */
	vtdss_known(48, IOPGT_OPT_FORCE_SNOOP);
}

/* ---- AMD IOMMU v1 ---- */

/* Section 2.2.3: bit 0 PR, 5 A, 6 D, 11:9 NextLevel (0: a PTE of the
 * level's size; 1..6: the level of the table named), 51:12 the address,
 * 60 FC, 61 IR, 62 IW. The specification's levels count from 1 at the
 * 4K PTEs. */
#define A_PR B(0)
#define A_A B(5)
#define A_NL(n) ((uint64_t)(n) << 9)
#define A_FC B(60)
#define A_IR B(61)
#define A_IW B(62)

static void amdv1_known(unsigned ias, unsigned options)
{
	struct iopgt_config cfg;
	struct iopgt_domain *dom;
	struct iopgt_info info;
	/* 4K read/write: a level-1 PTE. */
	const uint64_t i4k = 0x7f0000123000 & (B(ias) - 1),
		       p4k = 0x000fedcba9876000;
	/* 2M read-only: a level-2 PTE (NextLevel 0). */
	const uint64_t i2m = 0x7f0000400000 & (B(ias) - 1),
		       p2m = 0x0000000abc200000;
	/* 1G write-only: a level-3 PTE. */
	const uint64_t i1g = 0x7f0040000000 & (B(ias) - 1),
		       p1g = 0x0000004fc0000000;
	const uint64_t fc = options & IOPGT_OPT_FORCE_SNOOP ? A_FC : 0;

	iopgt_config_init(&cfg, sizeof(cfg), IOPGT_FMT_AMDV1);
	cfg.ias = ias;
	cfg.options = IOPGT_OPT_NO_COALESCE | options;
	CTX("create amdv1 ias %u options 0x%x", ias, options);
	EQ(iopgt_domain_create(&cfg, &dom), 0);
	iopgt_domain_info(dom, &info, sizeof(info));
	EQ(info.levels, ias > 57 ? 6u : ias > 48 ? 5u : ias > 39 ? 4u : 3u);
	EQ(info.start_level, info.levels); /* the DTE's Mode */

	map_ok(dom, i4k, p4k, B(12), IOPGT_PROT_READ | IOPGT_PROT_WRITE);
	map_ok(dom, i2m, p2m, B(21), IOPGT_PROT_READ);
	map_ok(dom, i1g, p1g, B(30), IOPGT_PROT_WRITE);

	CTX("amdv1 ias %u: level-1 PTE", ias);
	EQ(raw(dom, 0, i4k), p4k | A_PR | A_A | A_IR | A_IW | fc);
	CTX("amdv1 ias %u: level-2 PTE, 2M page", ias);
	EQ(raw(dom, 1, i2m), p2m | A_PR | A_A | A_IR | fc);
	CTX("amdv1 ias %u: level-3 PTE, 1G page", ias);
	EQ(raw(dom, 2, i1g), p1g | A_PR | A_A | A_IW | fc);
	/* PDEs: PR, A, IR, IW and NextLevel = the specification's level of
	 * the table named (its library level + 1), never FC. */
	for (unsigned l = 1; l < info.levels; l++) {
		CTX("amdv1 ias %u: PDE at level %u", ias, l + 1);
		EQ(raw(dom, l, i4k), table_pa(dom, l - 1, i4k) | A_PR | A_A |
					     A_IR | A_IW | A_NL(l));
	}
	{
		struct iopgt_translation tr;

		CTX("amdv1 ias %u: lookup", ias);
		EQ(iopgt_lookup(dom, i2m + 0x1234, &tr), 0);
		EQ(tr.pa, p2m + 0x1234);
		EQ(tr.leaf_size, B(21));
		EQ(tr.prot, IOPGT_PROT_READ);
		EQ(iopgt_lookup(dom, i1g + 0x12345678, &tr), 0);
		EQ(tr.pa, p1g + 0x12345678);
		EQ(tr.prot, IOPGT_PROT_WRITE);
	}
	iopgt_domain_destroy(dom);
}

/* IR and IW are separate (write-only allowed); no memory type, user or
 * execute bits. */
static int amdv1_prot_ok(unsigned p)
{
	return (p & (IOPGT_PROT_READ | IOPGT_PROT_WRITE)) &&
	       !(p & (IOPGT_PROT_USER | IOPGT_PROT_EXEC | IOPGT_PROT_MMIO));
}

static void test_amdv1_known(void **state)
{
	(void)state;
	CTX("amdv1 protections, dirty bit, force coherent");
	EQ(tformat(IOPGT_FMT_AMDV1)->prots, prots_where(amdv1_prot_ok));
	EXPECT(tformat(IOPGT_FMT_AMDV1)->flags & IOPGT_FORMAT_DIRTY);
	EXPECT(tformat(IOPGT_FMT_AMDV1)->flags & IOPGT_FORMAT_SNOOP);
	amdv1_known(39, 0); /* Mode 3 */
	amdv1_known(48, 0); /* Mode 4 */
	amdv1_known(57, 0); /* Mode 5 */
	amdv1_known(63, 0); /* Mode 6: the root indexes bits 62:57 */
	amdv1_known(48, IOPGT_OPT_FORCE_SNOOP);
}

/* ---- the values a driver programs (iopgt_hw_config) ---- */

static struct iopgt_hw_config hw_of(enum iopgt_format fmt, unsigned granule,
				    unsigned ias, unsigned oas,
				    struct iopgt_info *info)
{
	struct iopgt_domain *dom = open_dom(fmt, granule, ias, oas);
	struct iopgt_hw_config hw;

	memset(&hw, 0xa5, sizeof(hw));
	EQ(iopgt_hw_config(dom, &hw, sizeof(hw)), 0);
	iopgt_domain_info(dom, info, sizeof(*info));
	EQ(hw.format, fmt);
	EQ(hw.levels, info->levels);
	EQ(hw.root, info->root_pa);
	iopgt_domain_destroy(dom);
	return hw;
}

/* Each word computed by hand from its specification. */
static void test_hw_config(void **state)
{
	struct iopgt_hw_config hw;
	struct iopgt_info in;
	const uint64_t zero2[2] = { 0, 0 }, zero4[4] = { 0, 0, 0, 0 };

	(void)state;
	/* x86_64: VT-d scalable-mode PASID entry (§9.6) for first-stage
	 * translation: PGTT 0b001 at 8:6, AW at 4:2 (2: 4-level, 3:
	 * 5-level); FSPTPTR at 191:140, FSPM at 131:130. */
	CTX("x86_64 4-level");
	hw = hw_of(IOPGT_FMT_X86_64, 12, 48, 52, &in);
	EQ(hw.vtd_pasid[0], 0x48);
	EQ(hw.vtd_pasid[1], 0);
	EQ(hw.vtd_pasid[2], in.root_pa);
	EQ(hw.vtd_pasid[3], 0);
	EXPECT(!memcmp(hw.vtd_context, zero2, sizeof(zero2)));
	EQ(hw.arm_vttbr, 0);
	EQ(hw.arm_vtcr, 0);
	CTX("x86_64 5-level");
	hw = hw_of(IOPGT_FMT_X86_64, 12, 57, 52, &in);
	EQ(hw.vtd_pasid[0], 0x4c);
	EQ(hw.vtd_pasid[2], in.root_pa | 4);

	/* vtdss: context entry (§9.3) SSPTPTR 63:12, AW 66:64; PASID entry
	 * SSPTPTR, PGTT 0b010, AW. */
	CTX("vtdss 3 levels");
	hw = hw_of(IOPGT_FMT_VTDSS, 12, 39, 52, &in);
	EQ(hw.vtd_context[0], in.root_pa);
	EQ(hw.vtd_context[1], 1);
	EQ(hw.vtd_pasid[0], in.root_pa | 0x84);
	EQ(hw.vtd_pasid[2], 0);
	EQ(hw.smmu_ste[0], 0);
	CTX("vtdss 4 levels");
	hw = hw_of(IOPGT_FMT_VTDSS, 12, 48, 52, &in);
	EQ(hw.vtd_context[1], 2);
	EQ(hw.vtd_pasid[0], in.root_pa | 0x88);
	CTX("vtdss 5 levels");
	hw = hw_of(IOPGT_FMT_VTDSS, 12, 57, 40, &in);
	EQ(hw.vtd_context[1], 3);
	EQ(hw.vtd_pasid[0], in.root_pa | 0x8c);

	/* arm_s2: VTCR_EL2 T0SZ 5:0, SL0 7:6, IRGN0 9:8 = 01, ORGN0 11:10 =
	 * 01, SH0 13:12 = 11, TG0 15:14, PS 18:16, RES1 bit 31; the SMMUv3
	 * STE's word 2 holds the same 19 bits at 50:32 and S2AA64 at 51,
	 * word 3 S2TTB at 51:4. */
	CTX("arm_s2 4K ias 48 oas 48: start level 0 (SL0 0b10), PS 0b101");
	hw = hw_of(IOPGT_FMT_ARM_S2, 12, 48, 48, &in);
	EQ(hw.arm_vttbr, in.root_pa);
	EQ(hw.arm_vtcr, UINT64_C(0x80053590));
	EQ(hw.smmu_ste[0], UINT64_C(0x000d359000000000));
	EQ(hw.smmu_ste[1], in.root_pa);
	EXPECT(!memcmp(hw.vtd_pasid, zero4, sizeof(zero4)));
	CTX("arm_s2 4K ias 40 oas 40: start level 1 (SL0 0b01), 2 tables");
	hw = hw_of(IOPGT_FMT_ARM_S2, 12, 40, 40, &in);
	EQ(in.root_tables, 2);
	EQ(hw.arm_vttbr, in.root_pa);
	EQ(in.root_pa & 0x1fff, 0); /* aligned to the whole root */
	EQ(hw.arm_vtcr, UINT64_C(0x80023558));
	CTX("arm_s2 16K ias 40 oas 40: start level 2 (SL0 0b01), TG0 0b10");
	hw = hw_of(IOPGT_FMT_ARM_S2, 14, 40, 40, &in);
	EQ(hw.arm_vtcr, UINT64_C(0x8002b558));
	EQ(hw.smmu_ste[0], UINT64_C(0x000ab55800000000));
	CTX("arm_s2 64K ias 36 oas 36: start level 2 (SL0 0b01), TG0 0b01");
	hw = hw_of(IOPGT_FMT_ARM_S2, 16, 36, 36, &in);
	EQ(hw.arm_vtcr, UINT64_C(0x8001755c));

	/* amdv1: DTE bits 63:0, Mode (11:9) = levels, root (51:12). */
	CTX("amdv1 Mode 4 and 6");
	hw = hw_of(IOPGT_FMT_AMDV1, 12, 48, 52, &in);
	EQ(hw.amd_dte, in.root_pa | 0x800);
	EQ(hw.vtd_pasid[0], 0);
	hw = hw_of(IOPGT_FMT_AMDV1, 12, 63, 52, &in);
	EQ(hw.amd_dte, in.root_pa | 0xc00);
	CTX("the other formats leave the DTE word zero");
	hw = hw_of(IOPGT_FMT_VTDSS, 12, 48, 52, &in);
	EQ(hw.amd_dte, 0);

	CTX("iopgt_hw_config: bad arguments, short structure");
	{
		struct iopgt_domain *dom = open_dom(IOPGT_FMT_VTDSS, 12, 48, 52);
		uint64_t words[2] = { 7, 7 };

		EQ(iopgt_hw_config(NULL, &hw, sizeof(hw)), -EINVAL);
		EQ(iopgt_hw_config(dom, NULL, sizeof(hw)), -EINVAL);
		/* Only the first 8 bytes (format and levels) are written. */
		EQ(iopgt_hw_config(dom, (struct iopgt_hw_config *)words,
				   sizeof(words[0])),
		   0);
		EQ(words[1], 7);
		iopgt_domain_destroy(dom);
	}
}

/* ---- the registry ---- */

static int dirty_cb(void *arg, uint64_t iova, uint64_t size)
{
	(void)arg;
	(void)iova;
	(void)size;
	return 0;
}

static int try_create(enum iopgt_format fmt, unsigned g, unsigned ias,
		      unsigned oas)
{
	struct iopgt_config cfg;
	struct iopgt_domain *dom;
	int r;

	iopgt_config_init(&cfg, sizeof(cfg), fmt);
	cfg.granule = g;
	cfg.ias = ias;
	cfg.oas = oas;
	cfg.segment_size = UINT64_C(2) << g;
	r = iopgt_domain_create(&cfg, &dom);
	if (!r)
		iopgt_domain_destroy(dom);
	return r;
}

/* Each format names the IOMMU whose table it is, and the invalidation
 * configuration of a domain of it follows: its stage, granule and levels,
 * and one page's commands. */
static void test_registry_iommu(void **state)
{
	struct iopgt_format_info fi;

	(void)state;
	for (unsigned n = 0; !iopgt_format_info(n, &fi, sizeof(fi)); n++) {
		struct iopgt_config cfg;
		struct iopgt_domain *dom;
		struct iopgt_info info;
		struct iopgt_inval_config ic;
		const struct iopgt_flush_range r = {
			.iova = 0,
			.last = B(fi.granule_default) - 1,
			.kind = IOPGT_FLUSH_MODIFIED,
		};

		CTX("format %s", fi.name);
		EXPECT(strcmp(iopgt_iommu_name((enum iopgt_iommu)fi.iommu),
			      "unknown"));
		EQ(iopgt_config_init(&cfg, sizeof(cfg), fi.format), 0);
		EQ(iopgt_domain_create(&cfg, &dom), 0);
		iopgt_domain_info(dom, &info, sizeof(info));
		EQ(iopgt_inval_config_init(dom, (enum iopgt_iommu)fi.iommu, &ic,
					   sizeof(ic)),
		   0);
		EQ(ic.iommu, fi.iommu);
		EQ(!!(ic.flags & IOPGT_INVAL_FIRST_STAGE),
		   !!(fi.flags & IOPGT_FORMAT_FIRST_STAGE));
		EQ(ic.granule, info.granule);
		EQ(ic.levels, info.levels);
		EQ(iopgt_inval_encode(&ic, &r, 1, NULL, 0), 1);
		EQ(iopgt_inval_config_init(dom, (enum iopgt_iommu)0, &ic,
					   sizeof(ic)),
		   -EINVAL);
		EQ(iopgt_inval_config_init(dom, (enum iopgt_iommu)fi.iommu, &ic,
					   offsetof(struct iopgt_inval_config,
						    max_commands)),
		   -EINVAL);
		iopgt_domain_destroy(dom);
	}
}

static void test_registry(void **state)
{
	struct iopgt_format_info fi;
	unsigned n;

	(void)state;
	for (n = 0; !iopgt_format_info(n, &fi, sizeof(fi)); n++) {
		struct iopgt_config cfg;
		struct iopgt_domain *dom;
		struct iopgt_info info;
		struct iopgt_gather g;

		CTX("format %u (%s)", n, fi.name);
		EXPECT(fi.name && fi.description);
		EXPECT(!strcmp(iopgt_format_name(fi.format), fi.name));
		EXPECT(fi.granules & B(fi.granule_default));
		EXPECT(fi.ias_min <= fi.ias_default &&
		       fi.ias_default <= fi.ias_max);
		EXPECT(fi.oas_values & B(fi.oas_default));
		EXPECT(fi.oas_values & B(fi.oas_min));
		EXPECT(fi.oas_values & B(fi.oas_max));
		EXPECT(!(fi.oas_values & ~(B(fi.oas_max + 1) - B(fi.oas_min))));
		EXPECT(fi.prots && !(fi.prots & 1)); /* prot 0 never */

		/* iopgt_config_init fills what the registry says. */
		EQ(iopgt_config_init(&cfg, sizeof(cfg), fi.format), 0);
		EQ(cfg.granule, fi.granule_default);
		EQ(cfg.ias, fi.ias_default);
		EQ(cfg.oas, fi.oas_default);

		/* Every granule accepts the whole ias range and every oas
		 * value, and nothing outside; where the format bounds the
		 * ias by the oas (IOPGT_FORMAT_IAS_WITHIN_OAS), every pair
		 * with ias <= oas and none with ias > oas. */
		for (unsigned gr = 0; gr < 64; gr++) {
			if (!(fi.granules & B(gr))) {
				if (gr >= 10 && gr <= 20) {
					CTX("%s granule %u not offered",
					    fi.name, gr);
					EQ(try_create(fi.format, gr,
						      fi.ias_default,
						      fi.oas_default),
					   -EINVAL);
				}
				continue;
			}
			for (unsigned ias = fi.ias_min - 1;
			     ias <= fi.ias_max + 1; ias++) {
				CTX("%s granule %u ias %u", fi.name, gr, ias);
				EQ(try_create(fi.format, gr, ias,
					      fi.oas_default),
				   ias < fi.ias_min || ias > fi.ias_max
					   ? -EINVAL
					   : 0);
			}
			for (unsigned oas = fi.oas_min - 1;
			     oas <= fi.oas_max + 1; oas++) {
				const bool within =
					fi.flags & IOPGT_FORMAT_IAS_WITHIN_OAS;
				unsigned ias = fi.ias_default;

				if (within && ias > oas && oas >= fi.ias_min)
					ias = oas;
				CTX("%s granule %u ias %u oas %u", fi.name, gr,
				    ias, oas);
				EQ(try_create(fi.format, gr, ias, oas),
				   fi.oas_values & B(oas) ? 0 : -EINVAL);
				if (!(fi.oas_values & B(oas)) ||
				    oas + 1 < fi.ias_min ||
				    oas + 1 > fi.ias_max)
					continue;
				CTX("%s granule %u ias %u oas %u", fi.name, gr,
				    oas + 1, oas);
				EQ(try_create(fi.format, gr, oas + 1, oas),
				   within ? -EINVAL : 0);
			}
		}

		/* IOPGT_OPT_FORCE_SNOOP where the flag says so. */
		cfg.options = IOPGT_OPT_FORCE_SNOOP;
		CTX("%s force snoop", fi.name);
		dom = NULL;
		EQ(iopgt_domain_create(&cfg, &dom),
		   fi.flags & IOPGT_FORMAT_SNOOP ? 0 : -EINVAL);
		if (dom)
			iopgt_domain_destroy(dom);
		cfg.options = 0;

		/* The default configuration's leaf sizes and levels. */
		EQ(iopgt_domain_create(&cfg, &dom), 0);
		iopgt_domain_info(dom, &info, sizeof(info));
		EQ(info.leaf_sizes, fi.leaf_sizes);
		EQ(info.levels, fi.levels_default);
		EQ(info.granule, fi.granule_default);

		/* Protections: map accepts exactly those listed. */
		iopgt_gather_init(&g, sizeof(g));
		for (unsigned p = 0; p < 32; p++) {
			int r = iopgt_map(dom, 0, B(30), B(fi.granule_default),
					  p, &g);
			CTX("%s prot 0x%x", fi.name, p);
			EQ(r, fi.prots & B(p) ? 0 : -EINVAL);
			if (!r)
				EQ(iopgt_unmap(dom, 0, B(fi.granule_default),
					       &g),
				   (int64_t)B(fi.granule_default));
		}
		/* Dirty tracking where the flag says so. */
		CTX("%s dirty", fi.name);
		EQ(iopgt_read_and_clear_dirty(dom, 0, B(fi.granule_default), 0,
					      dirty_cb, NULL, &g),
		   fi.flags & IOPGT_FORMAT_DIRTY ? 0 : -EOPNOTSUPP);
		EQ(iopgt_sync(dom, &g), 0);
		iopgt_domain_destroy(dom);
	}
	CTX("registry");
	EXPECT(n >= 4);
	EQ(iopgt_format_info(n, &fi, sizeof(fi)), -ENOENT);
	EQ(iopgt_format_info(UINT32_MAX, &fi, sizeof(fi)), -ENOENT);
	EQ(iopgt_format_info(0, NULL, sizeof(fi)), -EINVAL);
	/* Every configuration the tests loop over comes from here. */
	EXPECT(n_tcfgs >= n);
	EQ(strcmp(iopgt_format_name((enum iopgt_format)0), "unknown"), 0);
	EQ(iopgt_config_init(&(struct iopgt_config){ 0 },
			     sizeof(struct iopgt_config),
			     (enum iopgt_format)0),
	   -EINVAL);
}

/* The test configurations: stable names, each level count covered. */
static void test_tcfgs(void **state)
{
	static const char *const names[] = {
		"x86_64/5lvl",     "x86_64/4lvl",      "x86_64/ias40",
		"arm_s2/4k/ias48", "arm_s2/4k/ias40",  "arm_s2/4k/ias32",
		"arm_s2/16k/ias48", "arm_s2/16k/ias40", "arm_s2/16k/ias32",
		"arm_s2/64k/ias48", "arm_s2/64k/ias44", "arm_s2/64k/ias32",
		"vtdss/5lvl",      "vtdss/4lvl",       "vtdss/3lvl",
		"amdv1/6lvl",      "amdv1/5lvl",       "amdv1/4lvl",
		"amdv1/3lvl",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t k;

		for (k = 0; k < n_tcfgs; k++)
			if (!strcmp(tcfgs[k].name, names[i]))
				break;
		CTX("configuration %s", names[i]);
		EXPECT(k < n_tcfgs);
	}
	CTX("representative configurations");
	EQ(strcmp(tcfg_representative(), "x86_64/4lvl,arm_s2/4k/ias48,"
					 "arm_s2/16k/ias40,arm_s2/64k/ias44,"
					 "vtdss/4lvl,amdv1/4lvl"),
	   0);
	for (size_t k = 0; k < n_tcfgs; k++)
		for (size_t j = 0; j < k; j++) {
			CTX("configuration names %s, %s", tcfgs[j].name,
			    tcfgs[k].name);
			EXPECT(strcmp(tcfgs[j].name, tcfgs[k].name));
		}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_x86_64_known),
		cmocka_unit_test(test_arm_s2_known),
		cmocka_unit_test(test_vtdss_known),
		cmocka_unit_test(test_amdv1_known),
		cmocka_unit_test(test_hw_config),
		cmocka_unit_test(test_registry),
		cmocka_unit_test(test_registry_iommu),
		cmocka_unit_test(test_tcfgs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
