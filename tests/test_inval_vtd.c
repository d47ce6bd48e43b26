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

#include "inval_test.h"

#define DID 0x1234u
#define PASID 0xabcdeu

static struct iopgt_inval_config vcfg(unsigned flags)
{
	struct iopgt_inval_config c = inval_cfg(IOPGT_IOMMU_VTD, flags);

	c.max_addr_mask = 9;
	c.domain_id = DID;
	c.pasid = PASID;
	return c;
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
	/* RISC-V's alone. */
	c = vcfg(IOPGT_INVAL_RANGES | IOPGT_INVAL_FIRST_STAGE |
		 IOPGT_INVAL_SINGLE_STAGE);
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

	(void)state;
	inval_check_enospc(&c, 0x3000ull, 0x4002ull);
}

/* iopgt_inval_config_init on real domains: vtdss is second stage, x86_64
 * first stage. */
static void test_config_init(void **state)
{
	struct iopgt_inval_cmd out;

	(void)state;
	inval_config_init_cmd(IOPGT_FMT_VTDSS, IOPGT_IOMMU_VTD, &out);
	assert_int_equal(out.dw[0], 0x70032ull);
	assert_int_equal(out.dw[1], 0x200009ull);
	inval_config_init_cmd(IOPGT_FMT_X86_64, IOPGT_IOMMU_VTD, &out);
	assert_int_equal(out.dw[0], 0x0000000900070036ull);
	assert_int_equal(out.dw[1], 0x200009ull);
}

/* ---- the cover against every cover of small ranges ---- */

/* Commands of one range, decoded: sorted, disjoint and contiguous, over
 * [iova, last] rounded to pages; returns bytes beyond. */
static uint64_t check_cover(const struct iopgt_inval_config *c,
			    const struct iopgt_flush_range *r,
			    const struct iopgt_inval_cmd *out, int n,
			    uint64_t lo, uint64_t hi)
{
	struct vdesc d;

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
	}
	return inval_cover_excess(out, n, lo, hi);
}

/* Blocks of at most 2^MAMV pages, MAMV 0 to 7. */
static void test_brute(void **state)
{
	(void)state;
	inval_test_brute(vcfg(IOPGT_INVAL_RANGES), 0x7d1a5eedull, true,
			 check_cover);
}

/* ---- random ranges anywhere in the space ---- */

static void test_random(void **state)
{
	uint64_t seed = inval_seed("test_random", 0x5eed0bd1ull), rs = seed;
	long iters = titers("IOPGT_TEST_ITERS", 3000);
	enum { MAXC = 512 };
	static struct iopgt_inval_cmd out[MAXC], one[MAXC];

	(void)state;
	for (long it = 0; it < iters; it++) {
		struct iopgt_inval_config c = vcfg(IOPGT_INVAL_RANGES);
		struct iopgt_flush_range r[4];
		unsigned nr = 1 + (unsigned)(trand(&rs) % 4);
		int n, total = 0;
		bool fell_back = false;

		inval_rand_ids(&rs, &c);
		c.max_addr_mask = (unsigned)(trand(&rs) % 54);
		c.max_commands = MAXC;
		c.slack = inval_rand_slack(&rs);
		inval_rand_ranges(&rs, r, nr);

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
			inval_check_alone(&c, &r[i], one, n, check_cover, seed,
					  it);
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
		inval_check_concat(&c, r, nr, out, one, MAXC);
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
