/* SPDX-License-Identifier: MIT */
/*
 * iopgt_inval_encode() for the AMD IOMMU: known answers from the AMD I/O
 * Virtualization Technology (IOMMU) Specification, rev 3.x, 2.4.3
 * INVALIDATE_IOMMU_PAGES, the cover against a brute-force search of every
 * cover of small ranges, and random ranges checked from the commands as a
 * small decoder of this file reads them.
 */
#include <stdlib.h>
#include <string.h>

#include "inval_test.h"

#define DOM 0x1234u
#define PASID 0xabcdeu

/* Word 1: opcode 03h in bits 31:28, DomainID in 15:0 (2.4.3). */
#define DW0_2ND 0x3000123400000000ull
/* Word 0: PASID in bits 19:0, with GN = 1. */
#define DW0_1ST 0x30001234000abcdeull

static struct iopgt_inval_config acfg(unsigned flags)
{
	struct iopgt_inval_config c = inval_cfg(IOPGT_IOMMU_AMD, flags);

	c.domain_id = DOM;
	c.pasid = PASID;
	return c;
}

/* ---- an independent decoder ---- */

struct acmd {
	unsigned opcode, domain, pasid, s, pde, gn;
	uint64_t iova, last; /* bytes invalidated */
};

/* Read a command as 2.4.3 lays it out (words 0-3); fail on a reserved bit
 * set or an S = 1 address without a zero bit. */
static void adecode(const struct iopgt_inval_cmd *cmd, struct acmd *d)
{
	uint32_t w[4] = { (uint32_t)cmd->dw[0], (uint32_t)(cmd->dw[0] >> 32),
			  (uint32_t)cmd->dw[1], (uint32_t)(cmd->dw[1] >> 32) };
	uint64_t addr = ((uint64_t)w[3] << 32) | (w[2] & 0xfffff000u);

	d->pasid = w[0] & 0xfffff;
	assert_int_equal(w[0] >> 20, 0);           /* 31:20 reserved */
	d->domain = w[1] & 0xffff;
	assert_int_equal((w[1] >> 16) & 0xfff, 0); /* 27:16 reserved */
	d->opcode = w[1] >> 28;
	d->s = w[2] & 1;
	d->pde = (w[2] >> 1) & 1;
	d->gn = (w[2] >> 2) & 1;
	assert_int_equal(w[2] & 0xff8, 0);         /* 11:3 reserved */
	if (!d->gn)
		assert_int_equal(d->pasid, 0);
	if (!d->s) {
		d->iova = addr;
		d->last = addr + 0xfff;
		return;
	}
	/* the size: the first zero bit at or above Address[12], bit b,
	 * makes the block 2^(b + 1) bytes */
	for (unsigned b = 12; b < 64; b++) {
		if (addr & ((uint64_t)1 << b))
			continue;
		if (b == 63) {
			d->iova = 0;
			d->last = UINT64_MAX;
		} else {
			uint64_t mask = ((uint64_t)2 << b) - 1;

			d->iova = addr & ~mask;
			d->last = d->iova | mask;
		}
		return;
	}
	d->iova = 0;
	d->last = 0;
	fail_msg("S = 1 with Address[63:12] all ones");
}

/* ---- known answers ---- */

static void test_single_page(void **state)
{
	struct iopgt_inval_config c = acfg(0);

	(void)state;
	/* 2.4.3: S = 0, one page; PDE (word 2 bit 1) = 1; Address[31:12]
	 * in word 2 bits 31:12 */
	expect1(&c, rng(0x12345000, 0x12345fff, IOPGT_FLUSH_MODIFIED, 0),
		DW0_2ND, 0x0000000012345002ull, 0x12345000, 0x12345fff);
	/* Address[63:32] in word 3 */
	expect1(&c, rng(0xabcd12345000ull, 0xabcd12345fffull,
			IOPGT_FLUSH_MODIFIED, IOPGT_RANGE_LEAF_ONLY),
		DW0_2ND, 0x0000abcd12345000ull, 0xabcd12345000ull,
		0xabcd12345fffull);
	/* the last page of the space: S = 0, Address all ones */
	expect1(&c, rng(0xfffffffffffff000ull, UINT64_MAX,
			IOPGT_FLUSH_MODIFIED, 0),
		DW0_2ND, 0xfffffffffffff002ull, 0xfffffffffffff000ull,
		UINT64_MAX);
}

static void test_blocks(void **state)
{
	struct iopgt_inval_config c = acfg(IOPGT_INVAL_RANGES);

	(void)state;
	/* 2.4.3: S = 1 and Address[12] = 0: 8K */
	expect1(&c, rng(0x2000, 0x3fff, IOPGT_FLUSH_MODIFIED, 0), DW0_2ND,
		0x2003ull, 0x2000, 0x3fff);
	/* 2M at 40200000h: Address[19:12] ones, [20] zero; S = 1; PDE = 0
	 * for a leaf-only change */
	expect1(&c, rng(0x40200000, 0x403fffff, IOPGT_FLUSH_MODIFIED,
			IOPGT_RANGE_LEAF_ONLY),
		DW0_2ND, 0x402ff001ull, 0x40200000, 0x403fffff);
	/* 1G at 1G: Address[28:12] ones, [29] zero */
	expect1(&c, rng(0x40000000, 0x7fffffff, IOPGT_FLUSH_MODIFIED, 0),
		DW0_2ND, 0x5ffff003ull, 0x40000000, 0x7fffffff);
	/* 4G at 4G: bits 30:12 ones, bit 31 zero; word 3 = 1 */
	expect1(&c, rng(0x100000000ull, 0x1ffffffffull, IOPGT_FLUSH_WALK, 0),
		DW0_2ND, 0x000000017ffff003ull, 0x100000000ull,
		0x1ffffffffull);
	/* the whole space: 7FFF_FFFF_FFFF_F000h with S = 1 */
	expect1(&c, rng(0, UINT64_MAX, IOPGT_FLUSH_WALK, 0), DW0_2ND,
		0x7ffffffffffff003ull, 0, UINT64_MAX);
	/* the upper half: bits 62:12 ones, bit 63 of the address set */
	expect1(&c, rng(0x8000000000000000ull, UINT64_MAX, IOPGT_FLUSH_WALK,
			0),
		DW0_2ND, 0xbffffffffffff003ull, 0x8000000000000000ull,
		UINT64_MAX);
}

/* Pages 3 .. 16: 3, 4-7, 8-15, 16 (the canonical decomposition). */
static void test_unaligned(void **state)
{
	struct iopgt_inval_config c = acfg(0);
	struct iopgt_flush_range r = rng(0x3000, 0x10fff, IOPGT_FLUSH_ADDED, 0);
	struct iopgt_inval_cmd out[4];
	/* 2.4.3: 3000h S = 0; 4000h-7FFFh: Address[12] = 1, [13] = 0;
	 * 8000h-FFFFh: [13:12] = 11b, [14] = 0; 10000h S = 0; PDE = 1 */
	static const uint64_t dw1[4] = { 0x3002, 0x5003, 0xb003, 0x10002 };
	static const uint64_t iova[4] = { 0x3000, 0x4000, 0x8000, 0x10000 };
	static const uint64_t last[4] = { 0x3fff, 0x7fff, 0xffff, 0x10fff };

	(void)state;
	assert_int_equal(enc(&c, &r, 1, NULL, 0), 4);
	assert_int_equal(enc(&c, &r, 1, out, 4), 4);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(out[i].dw[0], DW0_2ND);
		assert_int_equal(out[i].dw[1], dw1[i]);
		assert_int_equal(out[i].iova, iova[i]);
		assert_int_equal(out[i].last, last[i]);
	}
}

static void test_slack(void **state)
{
	struct iopgt_inval_config c = acfg(0);
	struct iopgt_flush_range r = rng(0x3000, 0x10fff, IOPGT_FLUSH_ADDED, 0);
	struct iopgt_flush_range r2 = rng(0x1000, 0x2fff, IOPGT_FLUSH_ADDED, 0);
	struct iopgt_inval_cmd out[4];

	(void)state;
	/* 3 pages of slack: 0-FFFFh (Address[14:12] ones, [15] zero) and
	 * the page 10000h */
	c.slack = 3 * PG;
	assert_int_equal(enc(&c, &r, 1, out, 4), 2);
	assert_int_equal(out[0].dw[1], 0x7003ull);
	assert_int_equal(out[1].dw[1], 0x10002ull);
	c.slack = 3 * PG - 1;
	assert_int_equal(enc(&c, &r, 1, NULL, 0), 4);
	/* 18 pages: 0-1FFFFh in one: [15:12] ones, [16] zero */
	c.slack = 18 * PG;
	assert_int_equal(enc(&c, &r, 1, out, 4), 1);
	assert_int_equal(out[0].dw[1], 0xf003ull);
	assert_int_equal(out[0].last, 0x1ffff);
	/* ties go to the fewest bytes: pages 1 and 2 exactly */
	c.slack = PG;
	assert_int_equal(enc(&c, &r2, 1, out, 4), 2);
	assert_int_equal(out[0].dw[1], 0x1002ull);
	assert_int_equal(out[1].dw[1], 0x2002ull);
	c.slack = 2 * PG;
	assert_int_equal(enc(&c, &r2, 1, out, 4), 1);
	assert_int_equal(out[0].dw[1], 0x1003ull); /* 0-3FFFh */
	/* no bound on the size: a range of all but the first page, with a
	 * page of slack, is the all-pages command */
	c.slack = PG;
	r = rng(0x1000, UINT64_MAX, IOPGT_FLUSH_MODIFIED, 0);
	assert_int_equal(enc(&c, &r, 1, out, 4), 1);
	assert_int_equal(out[0].dw[1], 0x7ffffffffffff003ull);
	c.slack = 0;
	assert_int_equal(enc(&c, &r, 1, NULL, 0), 52);
}

/* PDE (word 2 bit 1): 0 only for a leaf-only change, never for WALK. */
static void test_pde(void **state)
{
	struct iopgt_inval_config c = acfg(0);
	struct {
		unsigned kind, flags;
		uint64_t pde;
	} t[] = {
		{ IOPGT_FLUSH_ADDED, 0, 2 },
		{ IOPGT_FLUSH_ADDED, IOPGT_RANGE_LEAF_ONLY, 0 },
		{ IOPGT_FLUSH_MODIFIED, 0, 2 },
		{ IOPGT_FLUSH_MODIFIED, IOPGT_RANGE_LEAF_ONLY, 0 },
		{ IOPGT_FLUSH_WALK, 0, 2 },
		{ IOPGT_FLUSH_WALK, IOPGT_RANGE_LEAF_ONLY, 2 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct iopgt_flush_range r = rng(0x200000, 0x3fffff, t[i].kind,
						 t[i].flags);
		struct iopgt_inval_cmd out;

		assert_int_equal(enc(&c, &r, 1, &out, 1), 1);
		assert_int_equal(out.dw[1], 0x2ff001ull | t[i].pde);
	}
}

static void test_first_stage(void **state)
{
	struct iopgt_inval_config c = acfg(IOPGT_INVAL_FIRST_STAGE);
	struct iopgt_flush_range r = rng(0x12345000, 0x12345fff,
					 IOPGT_FLUSH_MODIFIED, 0);
	struct iopgt_inval_cmd out[2];

	(void)state;
	/* 2.4.3: GN (word 2 bit 2) = 1 and the PASID in word 0 */
	assert_int_equal(enc(&c, &r, 1, out, 2), 1);
	assert_int_equal(out[0].dw[0], DW0_1ST);
	assert_int_equal(out[0].dw[1], 0x12345006ull);
	/* second stage: GN = 0, PASID 0 whatever c->pasid holds */
	c.flags = 0;
	assert_int_equal(enc(&c, &r, 1, out, 2), 1);
	assert_int_equal(out[0].dw[0], DW0_2ND);
	assert_int_equal(out[0].dw[1], 0x12345002ull);
}

/* Past max_commands: the all-pages command, PDE = 1. */
static void test_all(void **state)
{
	struct iopgt_inval_config c = acfg(0);
	struct iopgt_flush_range r[3] = {
		rng(0x1000, 0x1fff, IOPGT_FLUSH_MODIFIED, IOPGT_RANGE_LEAF_ONLY),
		rng(0x5000, 0x5fff, IOPGT_FLUSH_MODIFIED, IOPGT_RANGE_LEAF_ONLY),
		rng(0x9000, 0x9fff, IOPGT_FLUSH_ADDED, IOPGT_RANGE_LEAF_ONLY),
	};
	struct iopgt_inval_cmd out[4];

	(void)state;
	assert_int_equal(enc(&c, r, 3, out, 4), 3);
	c.max_commands = 2;
	assert_int_equal(enc(&c, r, 3, NULL, 0), 1);
	assert_int_equal(enc(&c, r, 3, out, 4), 1);
	assert_int_equal(out[0].dw[0], DW0_2ND);
	assert_int_equal(out[0].dw[1], 0x7ffffffffffff003ull);
	assert_int_equal(out[0].iova, 0);
	assert_int_equal(out[0].last, UINT64_MAX);
	c.flags = IOPGT_INVAL_FIRST_STAGE;
	assert_int_equal(enc(&c, r, 3, out, 4), 1);
	assert_int_equal(out[0].dw[0], DW0_1ST);
	assert_int_equal(out[0].dw[1], 0x7ffffffffffff007ull);
	/* pages 1 and 2: two commands, past max_commands 1 */
	{
		struct iopgt_flush_range big = rng(0x1000, 0x2fff,
						   IOPGT_FLUSH_MODIFIED, 0);

		c = acfg(0);
		assert_int_equal(enc(&c, &big, 1, NULL, 0), 2);
		c.max_commands = 1;
		assert_int_equal(enc(&c, &big, 1, out, 4), 1);
		assert_int_equal(out[0].dw[1], 0x7ffffffffffff003ull);
	}
}

static void test_einval(void **state)
{
	struct iopgt_inval_config c = acfg(0);
	struct iopgt_flush_range r = rng(0x1000, 0x1fff, IOPGT_FLUSH_MODIFIED, 0);
	struct iopgt_inval_cmd out[2];

	(void)state;
	c.domain_id = 0xffff; /* DomainID is 16 bits (2.4.3) */
	assert_int_equal(enc(&c, &r, 1, out, 2), 1);
	assert_int_equal(out[0].dw[0], 0x3000ffff00000000ull);
	c.domain_id = 0x10000;
	assert_int_equal(enc(&c, &r, 1, out, 2), -EINVAL);
	c = acfg(IOPGT_INVAL_FIRST_STAGE);
	c.pasid = 0xfffff; /* PASID is 20 bits (2.4.3) */
	assert_int_equal(enc(&c, &r, 1, out, 2), 1);
	assert_int_equal(out[0].dw[0], 0x30001234000fffffull);
	c.pasid = 0x100000;
	assert_int_equal(enc(&c, &r, 1, out, 2), -EINVAL);
	c = acfg(0);
	for (unsigned g = 0; g < 20; g++) {
		c.granule = g;
		assert_int_equal(enc(&c, &r, 1, out, 2),
				 g == 12 ? 1 : -EINVAL);
	}
	c = acfg(IOPGT_INVAL_NESTED);
	assert_int_equal(enc(&c, &r, 1, out, 2), -EINVAL);
	/* RISC-V's alone. */
	c = acfg(IOPGT_INVAL_FIRST_STAGE | IOPGT_INVAL_SINGLE_STAGE);
	assert_int_equal(enc(&c, &r, 1, out, 2), -EINVAL);
	c = acfg(0);
	r = rng(0x2000, 0x1fff, IOPGT_FLUSH_MODIFIED, 0);
	assert_int_equal(enc(&c, &r, 1, out, 2), -EINVAL);
	r = rng(0x1000, 0x1fff, IOPGT_FLUSH_NONE, 0);
	assert_int_equal(enc(&c, &r, 1, out, 2), -EINVAL);
	r = rng(0x1000, 0x1fff, 7, 0);
	assert_int_equal(enc(&c, &r, 1, out, 2), -EINVAL);
}

static void test_enospc(void **state)
{
	struct iopgt_inval_config c = acfg(0);

	(void)state;
	inval_check_enospc(&c, 0x3002ull, 0x5003ull);
}

/* iopgt_inval_config_init on real domains: amdv1 is the v1 (host)
 * table, x86_64 the v2 (guest) one. */
static void test_config_init(void **state)
{
	struct iopgt_inval_cmd out;

	(void)state;
	inval_config_init_cmd(IOPGT_FMT_AMDV1, IOPGT_IOMMU_AMD, &out);
	assert_int_equal(out.dw[0], 0x3000000700000000ull);
	assert_int_equal(out.dw[1], 0x2ff003ull);
	inval_config_init_cmd(IOPGT_FMT_X86_64, IOPGT_IOMMU_AMD, &out);
	assert_int_equal(out.dw[0], 0x3000000700000009ull);
	assert_int_equal(out.dw[1], 0x2ff007ull);
}

/* ---- the cover against every cover of small ranges ---- */

/* Commands of one range, decoded: contiguous over [lo, hi]; returns the
 * bytes beyond. */
static uint64_t check_cover(const struct iopgt_inval_config *c,
			    const struct iopgt_flush_range *r,
			    const struct iopgt_inval_cmd *out, int n,
			    uint64_t lo, uint64_t hi)
{
	struct acmd d;
	bool gn = c->flags & IOPGT_INVAL_FIRST_STAGE;

	for (int i = 0; i < n; i++) {
		adecode(&out[i], &d);
		assert_int_equal(d.iova, out[i].iova);
		assert_int_equal(d.last, out[i].last);
		assert_int_equal(d.opcode, 3);
		assert_int_equal(d.domain, c->domain_id);
		assert_int_equal(d.gn, gn);
		assert_int_equal(d.pasid, gn ? c->pasid : 0);
		assert_int_equal(d.pde, !((r->flags & IOPGT_RANGE_LEAF_ONLY) &&
					  r->kind != IOPGT_FLUSH_WALK));
	}
	return inval_cover_excess(out, n, lo, hi);
}

/* Any block size: AMD's S bit names every power of two. */
static void test_brute(void **state)
{
	(void)state;
	inval_test_brute(acfg(0), 0xa3d1a5eedull, false, check_cover);
}

/* ---- random ranges anywhere in the space ---- */

static void test_random(void **state)
{
	uint64_t seed = inval_seed("test_random", 0x5eed0a3dull), rs = seed;
	long iters = titers("IOPGT_TEST_ITERS", 3000);
	enum { MAXC = 256 };
	static struct iopgt_inval_cmd out[MAXC], one[MAXC];

	(void)state;
	for (long it = 0; it < iters; it++) {
		struct iopgt_inval_config c = acfg(IOPGT_INVAL_RANGES);
		struct iopgt_flush_range r[4];
		unsigned nr = 1 + (unsigned)(trand(&rs) % 4);
		int n, total = 0;

		inval_rand_ids(&rs, &c);
		c.max_commands = MAXC;
		c.slack = inval_rand_slack(&rs);
		inval_rand_ranges(&rs, r, nr);
		/* without a size bound a range never needs more than 104
		 * commands (two per bit of a 52-bit page number): each
		 * range alone is a cover within the slack */
		for (unsigned i = 0; i < nr; i++) {
			n = enc(&c, &r[i], 1, one, MAXC);
			assert_true(n >= 1 && n <= 104);
			inval_check_alone(&c, &r[i], one, n, check_cover, seed,
					  it);
			total += n;
		}
		n = enc(&c, r, nr, out, MAXC);
		if (total > MAXC) {
			assert_int_equal(n, 1);
			assert_int_equal(out[0].dw[1] & ~0x4ull,
					 0x7ffffffffffff003ull);
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
		cmocka_unit_test(test_blocks),
		cmocka_unit_test(test_unaligned),
		cmocka_unit_test(test_slack),
		cmocka_unit_test(test_pde),
		cmocka_unit_test(test_first_stage),
		cmocka_unit_test(test_all),
		cmocka_unit_test(test_einval),
		cmocka_unit_test(test_enospc),
		cmocka_unit_test(test_config_init),
		cmocka_unit_test(test_brute),
		cmocka_unit_test(test_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
