/* SPDX-License-Identifier: MIT */
/*
 * iopgt_inval_encode() for Intel VT-d: known answers from the VT-d
 * specification (Intel Virtualization Technology for Directed I/O,
 * Architecture Specification, rev 3.x/4.x: 6.5.2.3 IOTLB Invalidate
 * Descriptor, 6.5.2.4 PASID-based-IOTLB Invalidate Descriptor, 11.4.2
 * CAP_REG.PSI and MAMV), the cover against a brute-force search of every
 * cover of small ranges, and random ranges checked from the descriptors
 * as a small decoder of this file reads them.
 */
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define DID 0x1234u
#define PASID 0xabcdeu
#define PG 0x1000u

static struct iopgt_inval_config vcfg(unsigned flags)
{
	struct iopgt_inval_config c;

	memset(&c, 0, sizeof(c));
	c.size = sizeof(c);
	c.iommu = IOPGT_IOMMU_VTD;
	c.flags = flags;
	c.granule = 12;
	c.max_addr_mask = 9;
	c.domain_id = DID;
	c.pasid = PASID;
	return c;
}

static struct iopgt_flush_range rng(uint64_t iova, uint64_t last,
				    unsigned kind, unsigned flags)
{
	struct iopgt_flush_range r;

	memset(&r, 0, sizeof(r));
	r.iova = iova;
	r.last = last;
	r.kind = kind;
	r.flags = flags;
	return r;
}

/* ---- an independent decoder ---- */

struct vdesc {
	unsigned type, g, did, pasid, am, ih;
	uint64_t iova, last; /* bytes invalidated */
};

/* Read a descriptor as 6.5.2.3/6.5.2.4 lay it out; fail on a reserved bit
 * set or an address not aligned to its mask. */
static void vdecode(const struct iopgt_inval_cmd *cmd, struct vdesc *d)
{
	uint64_t lo = cmd->dw[0], hi = cmd->dw[1];

	d->type = (unsigned)(lo & 0xf);
	d->g = (unsigned)(lo >> 4) & 3;
	d->did = (unsigned)(lo >> 16) & 0xffff;
	d->pasid = 0;
	/* bits 15:6: DW, DR (left 0), reserved, type[6:4] (0), reserved */
	assert_int_equal(lo & 0xffc0, 0);
	if (d->type == 2) {
		assert_int_equal(lo >> 32, 0); /* 63:32 reserved */
		assert_true(d->g == 2 || d->g == 3);
	} else {
		assert_int_equal(d->type, 6);
		d->pasid = (unsigned)(lo >> 32) & 0xfffff;
		assert_int_equal(lo >> 52, 0); /* 63:52 reserved */
		assert_true(d->g == 2 || d->g == 3);
	}
	d->am = (unsigned)(hi & 0x3f);
	d->ih = (unsigned)(hi >> 6) & 1;
	assert_int_equal(hi & 0xf80, 0); /* 75:71 reserved */
	if (d->g == 2) {
		assert_int_equal(hi, 0);
		d->iova = 0;
		d->last = UINT64_MAX;
		return;
	}
	assert_true(d->am <= 52);
	d->iova = hi & ~(uint64_t)0xfff;
	if (d->am == 52) {
		assert_int_equal(d->iova, 0);
		d->last = UINT64_MAX;
		return;
	}
	{
		uint64_t size = (uint64_t)1 << (d->am + 12);

		assert_int_equal(d->iova & (size - 1), 0);
		d->last = d->iova + size - 1;
	}
}

static int enc(const struct iopgt_inval_config *c,
	       const struct iopgt_flush_range *r, unsigned nr,
	       struct iopgt_inval_cmd *out, unsigned max)
{
	return iopgt_inval_encode(c, r, nr, out, max);
}

/* One descriptor expected: exact words, and iova/last. */
static void expect1(const struct iopgt_inval_config *c,
		    struct iopgt_flush_range r, uint64_t dw0, uint64_t dw1,
		    uint64_t iova, uint64_t last)
{
	struct iopgt_inval_cmd out[2];

	memset(out, 0, sizeof(out));
	assert_int_equal(enc(c, &r, 1, NULL, 0), 1);
	assert_int_equal(enc(c, &r, 1, out, 2), 1);
	assert_int_equal(out[0].dw[0], dw0);
	assert_int_equal(out[0].dw[1], dw1);
	assert_int_equal(out[0].iova, iova);
	assert_int_equal(out[0].last, last);
}

/* ---- known answers ---- */

static void test_single_page(void **state)
{
	struct iopgt_inval_config c = vcfg(IOPGT_INVAL_RANGES);

	(void)state;
	/* 6.5.2.3: type 2 (bits 3:0), G = 11b page-selective-within-domain
	 * (bits 5:4), DID 1234h (bits 31:16); ADDR (127:76) 12345000h,
	 * IH (70) 0, AM (69:64) 0. */
	expect1(&c, rng(0x12345000, 0x12345fff, IOPGT_FLUSH_MODIFIED, 0),
		0x0000000012340032ull, 0x0000000012345000ull, 0x12345000,
		0x12345fff);
	/* one byte in the page: the page */
	expect1(&c, rng(0x12345800, 0x12345800, IOPGT_FLUSH_MODIFIED, 0),
		0x0000000012340032ull, 0x0000000012345000ull, 0x12345000,
		0x12345fff);
	/* the last page of the 64-bit space: ADDR[63:12] all ones */
	expect1(&c, rng(0xfffffffffffff000ull, UINT64_MAX,
			IOPGT_FLUSH_MODIFIED, 0),
		0x0000000012340032ull, 0xfffffffffffff000ull,
		0xfffffffffffff000ull, UINT64_MAX);
}

static void test_2m_block(void **state)
{
	struct iopgt_inval_config c = vcfg(IOPGT_INVAL_RANGES);

	(void)state;
	/* 6.5.2.3: AM = 9 masks ADDR[20:12], 512 pages; IH (bit 70, dw[1]
	 * bit 6) = 1 for a leaf-only change: 40200000h | 40h | 9. */
	expect1(&c, rng(0x40200000, 0x403fffff, IOPGT_FLUSH_MODIFIED,
			IOPGT_RANGE_LEAF_ONLY),
		0x0000000012340032ull, 0x0000000040200049ull, 0x40200000,
		0x403fffff);
}

/* Pages 3 .. 16: 3, 4-7, 8-15, 16 (the canonical decomposition). */
static void test_unaligned(void **state)
{
	struct iopgt_inval_config c = vcfg(IOPGT_INVAL_RANGES);
	struct iopgt_flush_range r = rng(0x3000, 0x10fff, IOPGT_FLUSH_ADDED, 0);
	struct iopgt_inval_cmd out[4];
	/* 6.5.2.3: ADDR | AM, aligned to 2^AM pages */
	static const uint64_t dw1[4] = { 0x3000, 0x4002, 0x8003, 0x10000 };
	static const uint64_t last[4] = { 0x3fff, 0x7fff, 0xffff, 0x10fff };

	(void)state;
	assert_int_equal(enc(&c, &r, 1, NULL, 0), 4);
	assert_int_equal(enc(&c, &r, 1, out, 4), 4);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(out[i].dw[0], 0x12340032ull);
		assert_int_equal(out[i].dw[1], dw1[i]);
		assert_int_equal(out[i].iova, dw1[i] & ~0xfffull);
		assert_int_equal(out[i].last, last[i]);
	}
}

static void test_slack(void **state)
{
	struct iopgt_inval_config c = vcfg(IOPGT_INVAL_RANGES);
	struct iopgt_flush_range r = rng(0x3000, 0x10fff, IOPGT_FLUSH_ADDED, 0);
	struct iopgt_flush_range r2 = rng(0x1000, 0x2fff, IOPGT_FLUSH_ADDED, 0);
	struct iopgt_inval_cmd out[4];

	(void)state;
	/* 3 pages of slack: pages 0-15 (AM 4) and 16, 3 pages beyond */
	c.slack = 3 * PG;
	assert_int_equal(enc(&c, &r, 1, out, 4), 2);
	assert_int_equal(out[0].dw[1], 0x0004ull);
	assert_int_equal(out[1].dw[1], 0x10000ull);
	/* a byte short of 3 pages: the exact 4 */
	c.slack = 3 * PG - 1;
	assert_int_equal(enc(&c, &r, 1, NULL, 0), 4);
	/* 18 pages: pages 0-31 in one (AM 5) */
	c.slack = 18 * PG;
	assert_int_equal(enc(&c, &r, 1, out, 4), 1);
	assert_int_equal(out[0].dw[1], 0x0005ull);
	assert_int_equal(out[0].last, 0x1ffff);
	c.slack = 17 * PG;
	assert_int_equal(enc(&c, &r, 1, NULL, 0), 2);
	/* Pages 1-2 take two however one page of slack is spent (0-1 and
	 * 2, or 1 and 2-3): the tie goes to the fewest bytes, exact. */
	c.slack = PG;
	assert_int_equal(enc(&c, &r2, 1, out, 4), 2);
	assert_int_equal(out[0].dw[1], 0x1000ull);
	assert_int_equal(out[1].dw[1], 0x2000ull);
	/* two pages of slack: 0-3 */
	c.slack = 2 * PG;
	assert_int_equal(enc(&c, &r2, 1, out, 4), 1);
	assert_int_equal(out[0].dw[1], 0x0002ull);
}

static void test_max_addr_mask(void **state)
{
	struct iopgt_inval_config c = vcfg(IOPGT_INVAL_RANGES);
	struct iopgt_flush_range r = rng(0x400000, 0x7fffff,
					 IOPGT_FLUSH_MODIFIED, 0);
	struct iopgt_inval_cmd out[2];

	(void)state;
	/* 4M at 4M: MAMV 9 (11.4.2) allows 2M blocks only */
	assert_int_equal(enc(&c, &r, 1, out, 2), 2);
	assert_int_equal(out[0].dw[1], 0x400009ull);
	assert_int_equal(out[1].dw[1], 0x600009ull);
	c.max_addr_mask = 10;
	assert_int_equal(enc(&c, &r, 1, out, 2), 1);
	assert_int_equal(out[0].dw[1], 0x40000aull);
	/* MAMV 0: 1024 single pages, past max_commands (64): one
	 * domain-selective descriptor; with room for them, all of them */
	c.max_addr_mask = 0;
	assert_int_equal(enc(&c, &r, 1, out, 2), 1);
	assert_int_equal(out[0].dw[0], 0x12340022ull);
	c.max_commands = 1024;
	assert_int_equal(enc(&c, &r, 1, NULL, 0), 1024);
	/* the whole space: AM 52 at 0 when MAMV allows it */
	c = vcfg(IOPGT_INVAL_RANGES);
	c.max_addr_mask = 63;
	r = rng(0, UINT64_MAX, IOPGT_FLUSH_WALK, 0);
	assert_int_equal(enc(&c, &r, 1, out, 2), 1);
	assert_int_equal(out[0].dw[0], 0x12340032ull);
	assert_int_equal(out[0].dw[1], 52);
	assert_int_equal(out[0].iova, 0);
	assert_int_equal(out[0].last, UINT64_MAX);
	/* MAMV above the 6-bit AM field: not a value the hardware has */
	c.max_addr_mask = 64;
	assert_int_equal(enc(&c, &r, 1, out, 2), -EINVAL);
}

/* IH (bit 70): 1 only for a leaf-only change, never for WALK. */
static void test_ih(void **state)
{
	struct iopgt_inval_config c = vcfg(IOPGT_INVAL_RANGES);
	struct {
		unsigned kind, flags;
		uint64_t ih;
	} t[] = {
		{ IOPGT_FLUSH_ADDED, 0, 0 },
		{ IOPGT_FLUSH_ADDED, IOPGT_RANGE_LEAF_ONLY, 0x40 },
		{ IOPGT_FLUSH_MODIFIED, 0, 0 },
		{ IOPGT_FLUSH_MODIFIED, IOPGT_RANGE_LEAF_ONLY, 0x40 },
		{ IOPGT_FLUSH_WALK, 0, 0 },
		{ IOPGT_FLUSH_WALK, IOPGT_RANGE_LEAF_ONLY, 0 },
	};

	(void)state;
	for (unsigned s = 0; s < 2; s++) {
		c.flags = IOPGT_INVAL_RANGES | (s ? IOPGT_INVAL_FIRST_STAGE : 0);
		for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
			struct iopgt_flush_range r = rng(0x200000, 0x3fffff,
							 t[i].kind,
							 t[i].flags);
			struct iopgt_inval_cmd out;

			assert_int_equal(enc(&c, &r, 1, &out, 1), 1);
			assert_int_equal(out.dw[1], 0x200009ull | t[i].ih);
		}
	}
}

static void test_first_stage(void **state)
{
	struct iopgt_inval_config c =
		vcfg(IOPGT_INVAL_RANGES | IOPGT_INVAL_FIRST_STAGE);
	struct iopgt_flush_range r[2] = {
		rng(0x12345000, 0x12345fff, IOPGT_FLUSH_MODIFIED, 0),
		rng(0x40200000, 0x403fffff, IOPGT_FLUSH_MODIFIED,
		    IOPGT_RANGE_LEAF_ONLY),
	};
	struct iopgt_inval_cmd out[2];

	(void)state;
	/* 6.5.2.4: type 6, G = 11b page-selective-within-PASID, DID
	 * (31:16), PASID ABCDEh (51:32); dw[1] as 6.5.2.3 */
	assert_int_equal(enc(&c, r, 2, out, 2), 2);
	assert_int_equal(out[0].dw[0], 0x000abcde12340036ull);
	assert_int_equal(out[0].dw[1], 0x12345000ull);
	assert_int_equal(out[1].dw[0], 0x000abcde12340036ull);
	assert_int_equal(out[1].dw[1], 0x40200049ull);
	/* without page-selective invalidation: G = 10b PASID-selective,
	 * non-global, no address */
	c.flags = IOPGT_INVAL_FIRST_STAGE;
	assert_int_equal(enc(&c, r, 2, out, 2), 1);
	assert_int_equal(out[0].dw[0], 0x000abcde12340026ull);
	assert_int_equal(out[0].dw[1], 0);
	assert_int_equal(out[0].iova, 0);
	assert_int_equal(out[0].last, UINT64_MAX);
	/* second stage has no PASID field: 63:32 stay zero */
	c = vcfg(IOPGT_INVAL_RANGES);
	assert_int_equal(enc(&c, r, 1, out, 2), 1);
	assert_int_equal(out[0].dw[0] >> 32, 0);
}

static void test_domain_selective(void **state)
{
	struct iopgt_inval_config c = vcfg(0);
	struct iopgt_flush_range r[3] = {
		rng(0x1000, 0x1fff, IOPGT_FLUSH_MODIFIED, 0),
		rng(0x5000, 0x5fff, IOPGT_FLUSH_WALK, 0),
		rng(0x9000, 0x9fff, IOPGT_FLUSH_ADDED, 0),
	};
	struct iopgt_inval_cmd out[4];

	(void)state;
	/* No PSI (11.4.2): one domain-selective descriptor (6.5.2.3, G =
	 * 10b) for the whole call, not one per range. */
	assert_int_equal(enc(&c, r, 3, NULL, 0), 1);
	assert_int_equal(enc(&c, r, 3, out, 4), 1);
	assert_int_equal(out[0].dw[0], 0x12340022ull);
	assert_int_equal(out[0].dw[1], 0);
	assert_int_equal(out[0].iova, 0);
	assert_int_equal(out[0].last, UINT64_MAX);
	/* with PSI, 3; past max_commands 2, the same one descriptor */
	c.flags = IOPGT_INVAL_RANGES;
	assert_int_equal(enc(&c, r, 3, out, 4), 3);
	c.max_commands = 2;
	assert_int_equal(enc(&c, r, 3, out, 4), 1);
	assert_int_equal(out[0].dw[0], 0x12340022ull);
	assert_int_equal(out[0].dw[1], 0);
	c.max_commands = 3;
	assert_int_equal(enc(&c, r, 3, out, 4), 3);
}

/* A superpage's translation needs an AM of at least its order (11.4.8.2
 * IVA_REG, AM); a page of a 2M leaf takes the 2M block. */
static void test_leaf_sizes(void **state)
{
	struct iopgt_inval_config c = vcfg(IOPGT_INVAL_RANGES);
	struct iopgt_flush_range r = rng(0x40234000, 0x40234fff,
					 IOPGT_FLUSH_MODIFIED, 0);
	struct iopgt_inval_cmd out[2];

	(void)state;
	r.leaf_sizes = IOPGT_SZ_4K | IOPGT_SZ_2M;
	assert_int_equal(enc(&c, &r, 1, out, 2), 1);
	assert_int_equal(out[0].dw[1], 0x40200009ull);
	assert_int_equal(out[0].iova, 0x40200000);
	assert_int_equal(out[0].last, 0x403fffff);
	/* 4K leaves only: the page */
	r.leaf_sizes = IOPGT_SZ_4K;
	assert_int_equal(enc(&c, &r, 1, out, 2), 1);
	assert_int_equal(out[0].dw[1], 0x40234000ull);
	/* a 1G leaf with MAMV 9: no AM can name it, domain-selective */
	r.leaf_sizes = IOPGT_SZ_1G;
	assert_int_equal(enc(&c, &r, 1, out, 2), 1);
	assert_int_equal(out[0].dw[0], 0x12340022ull);
	c.max_addr_mask = 18;
	assert_int_equal(enc(&c, &r, 1, out, 2), 1);
	assert_int_equal(out[0].dw[1], 0x40000012ull);
	/* a 2M leaf with MAMV 8: two AM 8 blocks would not name it */
	r.leaf_sizes = IOPGT_SZ_2M;
	c.max_addr_mask = 8;
	assert_int_equal(enc(&c, &r, 1, out, 2), 1);
	assert_int_equal(out[0].dw[0], 0x12340022ull);
	assert_int_equal(out[0].dw[1], 0);
	/* the domain-selective descriptor stands for every range of the
	 * call, as without PSI */
	{
		struct iopgt_flush_range two[2] = {
			rng(0x1000, 0x1fff, IOPGT_FLUSH_MODIFIED, 0), r
		};

		assert_int_equal(enc(&c, two, 2, out, 2), 1);
		assert_int_equal(out[0].dw[0], 0x12340022ull);
	}
}

static void test_einval(void **state)
{
	struct iopgt_inval_config c = vcfg(IOPGT_INVAL_RANGES);
	struct iopgt_flush_range r = rng(0x1000, 0x1fff, IOPGT_FLUSH_MODIFIED, 0);
	struct iopgt_inval_cmd out[2];

	(void)state;
	c.domain_id = 0xffff; /* DID is 16 bits (6.5.2.3) */
	assert_int_equal(enc(&c, &r, 1, out, 2), 1);
	c.domain_id = 0x10000;
	assert_int_equal(enc(&c, &r, 1, out, 2), -EINVAL);
	c = vcfg(IOPGT_INVAL_RANGES | IOPGT_INVAL_FIRST_STAGE);
	c.pasid = 0xfffff; /* PASID is 20 bits (6.5.2.4) */
	assert_int_equal(enc(&c, &r, 1, out, 2), 1);
	c.pasid = 0x100000;
	assert_int_equal(enc(&c, &r, 1, out, 2), -EINVAL);
	c = vcfg(IOPGT_INVAL_RANGES);
	for (unsigned g = 0; g < 20; g++) {
		c.granule = g;
		assert_int_equal(enc(&c, &r, 1, out, 2),
				 g == 12 ? 1 : -EINVAL);
	}
	c = vcfg(IOPGT_INVAL_RANGES | IOPGT_INVAL_NESTED);
	assert_int_equal(enc(&c, &r, 1, out, 2), -EINVAL);
	c = vcfg(IOPGT_INVAL_RANGES);
	r = rng(0x2000, 0x1fff, IOPGT_FLUSH_MODIFIED, 0);
	assert_int_equal(enc(&c, &r, 1, out, 2), -EINVAL);
	r = rng(0x1000, 0x1fff, IOPGT_FLUSH_NONE, 0);
	assert_int_equal(enc(&c, &r, 1, out, 2), -EINVAL);
	r = rng(0x1000, 0x1fff, IOPGT_FLUSH_KINDS, 0);
	assert_int_equal(enc(&c, &r, 1, out, 2), -EINVAL);
	r = rng(0x1000, 0x1fff, IOPGT_FLUSH_MODIFIED, 0);
	assert_int_equal(enc(&c, NULL, 1, out, 2), -EINVAL);
	assert_int_equal(enc(&c, &r, 0, out, 2), 0);
}

static void test_enospc(void **state)
{
	struct iopgt_inval_config c = vcfg(IOPGT_INVAL_RANGES);
	struct iopgt_flush_range r = rng(0x3000, 0x10fff, IOPGT_FLUSH_ADDED, 0);
	struct iopgt_inval_cmd out[3];

	(void)state;
	memset(out, 0xa5, sizeof(out));
	assert_int_equal(enc(&c, &r, 1, out, 2), -ENOSPC);
	/* the first two written, the third untouched */
	assert_int_equal(out[0].dw[1], 0x3000ull);
	assert_int_equal(out[1].dw[1], 0x4002ull);
	assert_int_equal(out[2].dw[0], 0xa5a5a5a5a5a5a5a5ull);
	/* counting: out NULL */
	assert_int_equal(enc(&c, &r, 1, NULL, 0), 4);
}

/* iopgt_inval_config_init on real domains: vtdss is second stage, x86_64
 * first stage. */
static void test_config_init(void **state)
{
	static const enum iopgt_format fmt[2] = { IOPGT_FMT_VTDSS,
						  IOPGT_FMT_X86_64 };

	(void)state;
	for (int i = 0; i < 2; i++) {
		struct iopgt_config cfg;
		struct iopgt_domain *dom = NULL;
		struct iopgt_inval_config c;
		struct iopgt_flush_range r = rng(0x200000, 0x3fffff,
						 IOPGT_FLUSH_MODIFIED, 0);
		struct iopgt_inval_cmd out;

		assert_int_equal(iopgt_config_init(&cfg, sizeof(cfg), fmt[i]),
				 0);
		assert_int_equal(iopgt_domain_create(&cfg, &dom), 0);
		assert_int_equal(iopgt_inval_config_init(dom, IOPGT_IOMMU_VTD,
							 &c, sizeof(c)),
				 0);
		c.domain_id = 7;
		c.pasid = 9;
		assert_int_equal(enc(&c, &r, 1, &out, 1), 1);
		if (i == 0)
			assert_int_equal(out.dw[0], 0x70032ull);
		else
			assert_int_equal(out.dw[0], 0x0000000900070036ull);
		assert_int_equal(out.dw[1], 0x200009ull);
		iopgt_domain_destroy(dom);
	}
}

/* ---- the cover against every cover of small ranges ---- */

#define WIN 160

/* The fewest blocks (then pages beyond) covering pages [s, e) within
 * slack pages, blocks of at most 2^k pages: every start and end within the
 * slack, each interval's fewest blocks by dynamic programming. */
static void brute(uint64_t s, uint64_t e, uint64_t slack, unsigned k,
		  uint64_t *count, uint64_t *excess)
{
	uint64_t lo = s - (slack < s ? slack : s);
	static uint64_t f[WIN + 1];

	*count = UINT64_MAX;
	*excess = UINT64_MAX;
	for (uint64_t y = e; y <= e + slack; y++) {
		assert_true(y - lo <= WIN);
		f[y - lo] = 0;
		for (uint64_t p = y; p-- > lo;) {
			uint64_t best = UINT64_MAX;

			for (unsigned b = 0; b <= k && b < 40; b++) {
				uint64_t n = (uint64_t)1 << b;

				if (p % n || p + n > y)
					continue;
				if (f[p + n - lo] + 1 < best)
					best = f[p + n - lo] + 1;
			}
			f[p - lo] = best;
		}
		for (uint64_t x = lo; x <= s; x++) {
			uint64_t ex = (s - x) + (y - e);

			if (ex > slack)
				continue;
			if (f[x - lo] < *count ||
			    (f[x - lo] == *count && ex < *excess)) {
				*count = f[x - lo];
				*excess = ex;
			}
		}
	}
}

/* Commands of one range, decoded: sorted, disjoint and contiguous, over
 * [iova, last] rounded to pages; returns bytes beyond. */
static uint64_t check_cover(const struct iopgt_inval_config *c,
			    const struct iopgt_flush_range *r,
			    const struct iopgt_inval_cmd *out, int n,
			    uint64_t lo, uint64_t hi)
{
	struct vdesc d, prev = { 0 };

	(void)r;
	assert_true(n >= 1);
	for (int i = 0; i < n; i++) {
		vdecode(&out[i], &d);
		assert_int_equal(d.iova, out[i].iova);
		assert_int_equal(d.last, out[i].last);
		assert_int_equal(d.did, c->domain_id);
		assert_int_equal(d.type, (c->flags & IOPGT_INVAL_FIRST_STAGE)
						 ? 6
						 : 2);
		if (d.type == 6)
			assert_int_equal(d.pasid, c->pasid);
		assert_int_equal(d.g, 3);
		assert_true(d.am <= c->max_addr_mask);
		assert_int_equal(d.ih, (r->flags & IOPGT_RANGE_LEAF_ONLY) &&
					       r->kind != IOPGT_FLUSH_WALK);
		if (i) {
			/* the greedy walk writes them in address order */
			assert_true(prev.last != UINT64_MAX);
			assert_int_equal(d.iova, prev.last + 1);
		} else {
			assert_true(d.iova <= lo);
		}
		prev = d;
	}
	assert_true(prev.last >= hi);
	vdecode(&out[0], &d);
	return (lo - d.iova) + (prev.last - hi);
}

static void test_brute(void **state)
{
	uint64_t seed = tseed(0x7d1a5eedull), rs;
	long iters = titers("IOPGT_TEST_ITERS", 1500);
	struct iopgt_inval_cmd out[WIN];

	(void)state;
	printf("test_brute: seed %#" PRIx64 " (%s)\n", seed, TSEED_ENV);
	rs = seed;
	for (long it = 0; it < iters; it++) {
		struct iopgt_inval_config c = vcfg(IOPGT_INVAL_RANGES);
		uint64_t base = (trand(&rs) % 1024) * 64;
		uint64_t s = base + trand(&rs) % 64;
		uint64_t e = s + 1 + trand(&rs) % 48;
		uint64_t slack = trand(&rs) % 33, bc, be, ex;
		struct iopgt_flush_range r;
		int n;

		if (trand(&rs) % 4 == 0)
			slack = 0;
		c.max_addr_mask = (unsigned)(trand(&rs) % 8);
		c.max_commands = WIN;
		c.slack = slack * PG + trand(&rs) % PG;
		r = rng(s * PG + trand(&rs) % PG, e * PG - 1 - trand(&rs) % PG,
			IOPGT_FLUSH_MODIFIED, 0);
		if (r.last < r.iova)
			r.last = r.iova;
		brute(s, e, slack, c.max_addr_mask, &bc, &be);
		n = enc(&c, &r, 1, out, WIN);
		if (n != (int)bc)
			fail_msg("seed %#" PRIx64 " it %ld: pages %" PRIu64
				 "-%" PRIu64 " slack %" PRIu64 " mask %u: %d "
				 "commands, fewest %" PRIu64,
				 seed, it, s, e - 1, slack, c.max_addr_mask, n,
				 bc);
		ex = check_cover(&c, &r, out, n, s * PG, e * PG - 1);
		assert_int_equal(ex, be * PG);
	}
}

/* ---- random ranges anywhere in the space ---- */

static uint64_t rand_addr(uint64_t *rs)
{
	unsigned bits = (unsigned)(trand(rs) % 65);

	return bits == 64 ? trand(rs) : trand(rs) & ((1ull << bits) - 1);
}

static void test_random(void **state)
{
	uint64_t seed = tseed(0x5eed0bd1ull), rs;
	long iters = titers("IOPGT_TEST_ITERS", 3000);
	enum { MAXC = 512 };
	static struct iopgt_inval_cmd out[MAXC], one[MAXC];

	(void)state;
	printf("test_random: seed %#" PRIx64 " (%s)\n", seed, TSEED_ENV);
	rs = seed;
	for (long it = 0; it < iters; it++) {
		struct iopgt_inval_config c = vcfg(IOPGT_INVAL_RANGES);
		struct iopgt_flush_range r[4];
		unsigned nr = 1 + (unsigned)(trand(&rs) % 4);
		int n, total = 0;
		bool fell_back = false;

		if (trand(&rs) & 1)
			c.flags |= IOPGT_INVAL_FIRST_STAGE;
		c.domain_id = (uint32_t)(trand(&rs) & 0xffff);
		c.pasid = (uint32_t)(trand(&rs) & 0xfffff);
		c.max_addr_mask = (unsigned)(trand(&rs) % 54);
		c.max_commands = MAXC;
		switch (trand(&rs) % 4) {
		case 0: c.slack = 0; break;
		case 1: c.slack = trand(&rs) % (64 * PG); break;
		case 2: c.slack = rand_addr(&rs); break;
		default: c.slack = UINT64_MAX; break;
		}
		for (unsigned i = 0; i < nr; i++) {
			uint64_t a = rand_addr(&rs), len = rand_addr(&rs) >>
							   (trand(&rs) % 64);

			r[i] = rng(a, len > UINT64_MAX - a ? UINT64_MAX : a + len,
				   1 + (unsigned)(trand(&rs) % 3),
				   (unsigned)(trand(&rs) & 1));
		}

		/* each range alone: a cover within the slack, or (past
		 * MAXC commands) the domain-selective fallback */
		for (unsigned i = 0; i < nr; i++) {
			uint64_t lo = r[i].iova & ~0xfffull;
			uint64_t hi = r[i].last | 0xfff;

			n = enc(&c, &r[i], 1, one, MAXC);
			assert_true(n >= 1);
			if (n == 1 && (one[0].dw[0] >> 4 & 3) == 2) {
				/* fallback: the exact cover alone is longer
				 * than max_commands */
				uint64_t p = lo >> 12, end = (hi >> 12) + 1;
				long k = 0;

				while (p < end && k <= MAXC) {
					unsigned b = p ? (unsigned)__builtin_ctzll(p) : 52;

					while ((b && p + (1ull << b) > end) ||
					       b > c.max_addr_mask)
						b--;
					p += 1ull << b;
					k++;
				}
				assert_true(k > MAXC);
				fell_back = true;
				continue;
			}
			if (check_cover(&c, &r[i], one, n, lo, hi) > c.slack)
				fail_msg("seed %#" PRIx64 " it %ld: beyond slack",
					 seed, it);
			/* counting with out NULL agrees */
			assert_int_equal(enc(&c, &r[i], 1, NULL, 0), n);
			total += n;
		}
		/* all at once: the ranges' commands in order, unless the
		 * total passes max_commands */
		n = enc(&c, r, nr, out, MAXC);
		if (fell_back || total > MAXC) {
			assert_int_equal(n, 1);
			assert_int_equal(out[0].dw[0] >> 4 & 3, 2);
			continue;
		}
		assert_int_equal(n, total);
		for (unsigned i = 0, at = 0; i < nr; i++) {
			int m = enc(&c, &r[i], 1, one, MAXC);

			assert_memory_equal(&out[at], one, (size_t)m * sizeof(*one));
			at += (unsigned)m;
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_page),
		cmocka_unit_test(test_2m_block),
		cmocka_unit_test(test_unaligned),
		cmocka_unit_test(test_slack),
		cmocka_unit_test(test_max_addr_mask),
		cmocka_unit_test(test_ih),
		cmocka_unit_test(test_first_stage),
		cmocka_unit_test(test_domain_selective),
		cmocka_unit_test(test_leaf_sizes),
		cmocka_unit_test(test_einval),
		cmocka_unit_test(test_enospc),
		cmocka_unit_test(test_config_init),
		cmocka_unit_test(test_brute),
		cmocka_unit_test(test_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
