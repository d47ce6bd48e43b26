/* SPDX-License-Identifier: MIT */
/*
 * iopgt_inval_encode() for Arm SMMUv3: known answers worked out by hand
 * from the command layouts of the SMMUv3 specification (Arm IHI 0070,
 * chapter 4 "Commands": 4.1.1 opcodes, 4.4 TLB invalidation), and a
 * randomized check of the covers against an independent decoder of the
 * command words.
 *
 * Field layout used by the expected words (IHI 0070, 4.4):
 *   dw0: opcode 7:0, NUM 16:12, SCALE 24:20, VMID 47:32, ASID 63:48
 *   dw1: Leaf 0, TTL 9:8, TG 11:10, Address 63:12 / IPA 51:12
 *   opcodes: NH_ALL 0x10, NH_ASID 0x11, NH_VA 0x12, S12_VMALL 0x28,
 *            S2_IPA 0x2a
 *   TG: 1 4K, 2 16K, 3 64K; 0 one address (NUM, SCALE, TTL 0)
 *   Range: (NUM + 1) * 2^SCALE granules from Address
 *   TTL: level of the leaf, pages at 3 (4K: 2M at 2, 1G at 1)
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "inval_test.h"

#define S2 0u
#define S1 IOPGT_INVAL_FIRST_STAGE
#define RIL IOPGT_INVAL_RANGES
#define NESTED IOPGT_INVAL_NESTED
#define LEAF IOPGT_RANGE_LEAF_ONLY
#define MOD IOPGT_FLUSH_MODIFIED
#define WALK IOPGT_FLUSH_WALK

static struct iopgt_inval_config cfg(unsigned flags, unsigned granule)
{
	struct iopgt_inval_config c = inval_cfg(IOPGT_IOMMU_SMMUV3, flags);

	c.granule = granule;
	c.levels = granule == 12 ? 4 : 3;
	return c;
}

/* One 4K page on each stage (4.4: CMD_TLBI_S2_IPA, CMD_TLBI_NH_VA). */
static void test_page_4k(void **state)
{
	struct iopgt_inval_config c = cfg(S2 | RIL, 12);
	struct iopgt_flush_range r = rng_size(0x12345000, 0x1000,
		IOPGT_SZ_4K, MOD, LEAF);
	struct iopgt_inval_cmd out[8];

	(void)state;
	c.domain_id = 0x1234;
	assert_int_equal(enc8(&c, &r, 1, out), 1);
	/* S2_IPA 0x2a, VMID 0x1234 at 47:32; IPA, TG=1 (0x400), TTL=3
	 * (0x300), Leaf=1; NUM=SCALE=0: one granule. */
	expect(&out[0], 0x000012340000002a, 0x0000000012345701, 0x12345000,
	       0x12345fff);

	c = cfg(S1 | RIL, 12);
	c.domain_id = 5;
	c.pasid = 0xabcd;
	r = rng_size(0xffff800012345000, 0x1000, IOPGT_SZ_4K, MOD, LEAF);
	assert_int_equal(enc8(&c, &r, 1, out), 1);
	/* NH_VA 0x12, ASID 0xabcd at 63:48, VMID 5; the whole VA 63:12. */
	expect(&out[0], 0xabcd000500000012, 0xffff800012345701,
	       0xffff800012345000, 0xffff800012345fff);
}

/* Block leaves: one range command with TTL of the block's level. */
static void test_block_ttl(void **state)
{
	struct iopgt_inval_config c = cfg(S2 | RIL, 12);
	struct iopgt_flush_range r = rng_size(0x40200000, IOPGT_SZ_2M,
		IOPGT_SZ_2M, MOD, LEAF);
	struct iopgt_inval_cmd out[8];

	(void)state;
	c.domain_id = 1;
	assert_int_equal(enc8(&c, &r, 1, out), 1);
	/* 2M = 512 granules = (0 + 1) * 2^9: SCALE=9 (0x900000); TTL=2
	 * (0x200), TG=1, Leaf. */
	expect(&out[0], 0x000000010090002a, 0x0000000040200601, 0x40200000,
	       0x403fffff);

	r = rng_size(0x40000000, IOPGT_SZ_1G, IOPGT_SZ_1G, MOD, LEAF);
	assert_int_equal(enc8(&c, &r, 1, out), 1);
	/* 1G = 2^18 granules: SCALE=18 (0x1200000); TTL=1 (level 1). */
	expect(&out[0], 0x000000010120002a, 0x0000000040000501, 0x40000000,
	       0x7fffffff);

	/* Three 2M leaves: 3 * 512 = 3 * 2^9 granules, NUM=2 (0x2000). */
	r = rng_size(0x40200000, 3 * IOPGT_SZ_2M, IOPGT_SZ_2M, MOD, LEAF);
	assert_int_equal(enc8(&c, &r, 1, out), 1);
	expect(&out[0], 0x000000010090202a, 0x0000000040200601, 0x40200000,
	       0x407fffff);

	/* Two sizes changed: no TTL, a range over granules. */
	r = rng_size(0x40200000, IOPGT_SZ_2M, IOPGT_SZ_2M | IOPGT_SZ_4K, MOD,
		     LEAF);
	assert_int_equal(enc8(&c, &r, 1, out), 1);
	expect(&out[0], 0x000000010090002a, 0x0000000040200401, 0x40200000,
	       0x403fffff);

	/* One size, but other sizes may be cached (IOPGT_RANGE_ANY_SIZE):
	 * no TTL either. */
	r = rng_size(0x40200000, IOPGT_SZ_2M, IOPGT_SZ_2M, MOD,
		LEAF | IOPGT_RANGE_ANY_SIZE);
	assert_int_equal(enc8(&c, &r, 1, out), 1);
	expect(&out[0], 0x000000010090002a, 0x0000000040200401, 0x40200000,
	       0x403fffff);
	/* Without range invalidation: one command a granule, not one for
	 * the leaf (512: past max_commands, the command for everything). */
	c = cfg(S2, 12);
	c.domain_id = 1;
	c.max_commands = 1024;
	assert_int_equal(iopgt_inval_encode(&c, &r, 1, NULL, 0), 512);
	r.flags = LEAF;
	assert_int_equal(iopgt_inval_encode(&c, &r, 1, NULL, 0), 1);
}

/* 33 pages: not (NUM + 1) * 2^SCALE, so 32 + 1, or 34 with slack. */
static void test_range_33(void **state)
{
	struct iopgt_inval_config c = cfg(S2 | RIL, 12);
	struct iopgt_flush_range r = rng_size(0x100000, 33 * 0x1000,
		IOPGT_SZ_4K, MOD, LEAF);
	struct iopgt_inval_cmd out[8];

	(void)state;
	assert_int_equal(enc8(&c, &r, 1, out), 2);
	/* 32 = 1 * 2^5: NUM=0, SCALE=5 (0x500000). */
	expect(&out[0], 0x000000000050002a, 0x0000000000100701, 0x100000,
	       0x11ffff);
	/* 1 granule with TTL=3. */
	expect(&out[1], 0x000000000000002a, 0x0000000000120701, 0x120000,
	       0x120fff);

	/* One page of slack: 34 = 17 * 2^1, NUM=16 (0x10000), SCALE=1. */
	c.slack = 0x1000;
	assert_int_equal(enc8(&c, &r, 1, out), 1);
	expect(&out[0], 0x000000000011002a, 0x0000000000100701, 0x100000,
	       0x121fff);
	/* Slack one byte short of the page: two commands again. */
	c.slack = 0xfff;
	assert_int_equal(enc8(&c, &r, 1, out), 2);

	/* Leaf size unknown: no TTL; the single granule then goes as the
	 * one-address command (TG=0), since TG != 0 with NUM, SCALE and TTL
	 * all 0 is reserved. */
	c.slack = 0;
	r = rng_size(0x100000, 33 * 0x1000, 0, MOD, 0);
	assert_int_equal(enc8(&c, &r, 1, out), 2);
	expect(&out[0], 0x000000000050002a, 0x0000000000100400, 0x100000,
	       0x11ffff);
	expect(&out[1], 0x000000000000002a, 0x0000000000120000, 0x120000,
	       0x120fff);

	/* 63 pages: 62 (31 * 2^1: NUM=30, SCALE=1) and 1. */
	r = rng_size(0x100000, 63 * 0x1000, IOPGT_SZ_4K, MOD, LEAF);
	assert_int_equal(enc8(&c, &r, 1, out), 2);
	expect(&out[0], 0x000000000011e02a, 0x0000000000100701, 0x100000,
	       0x13dfff);
	expect(&out[1], 0x000000000000002a, 0x000000000013e701, 0x13e000,
	       0x13efff);
	/* 97 = 96 + 1: 96 = 3 * 2^5, NUM=2 (0x2000), SCALE=5. */
	r = rng_size(0x100000, 97 * 0x1000, IOPGT_SZ_4K, MOD, LEAF);
	assert_int_equal(enc8(&c, &r, 1, out), 2);
	expect(&out[0], 0x000000000050202a, 0x0000000000100701, 0x100000,
	       0x15ffff);
	expect(&out[1], 0x000000000000002a, 0x0000000000160701, 0x160000,
	       0x160fff);
	/* 1023 = 0x3ff: 0x3e0 (31 * 2^5) then 31 pages. */
	r = rng_size(0, 1023 * 0x1000, IOPGT_SZ_4K, MOD, LEAF);
	assert_int_equal(enc8(&c, &r, 1, out), 2);
	expect(&out[0], 0x000000000051e02a, 0x0000000000000701, 0, 0x3dffff);
	expect(&out[1], 0x000000000001e02a, 0x00000000003e0701, 0x3e0000,
	       0x3fefff);
	/* 1025 = 1024 + 1: 32 * 2^5 = 1024 is NUM=0 SCALE=10. */
	r = rng_size(0, 1025 * 0x1000, IOPGT_SZ_4K, MOD, LEAF);
	assert_int_equal(enc8(&c, &r, 1, out), 2);
	expect(&out[0], 0x0000000000a0002a, 0x0000000000000701, 0, 0x3fffff);
	expect(&out[1], 0x000000000000002a, 0x0000000000400701, 0x400000,
	       0x400fff);
	/* 0x421 = 1057 pages: 0x420 (33 * 2^5) is not a range size, 0x400
	 * and 0x21 neither; two 0x400 that overlap. */
	r = rng_size(0, 0x421 * 0x1000, IOPGT_SZ_4K, MOD, LEAF);
	assert_int_equal(enc8(&c, &r, 1, out), 2);
	expect(&out[0], 0x0000000000a0002a, 0x0000000000000701, 0, 0x3fffff);
	expect(&out[1], 0x0000000000a0002a, 0x0000000000021701, 0x21000,
	       0x420fff);
}

/* 16K and 64K granules: TG 2 and 3 (4.4, TG). */
static void test_granules(void **state)
{
	struct iopgt_inval_config c = cfg(S2 | RIL, 14);
	struct iopgt_flush_range r = rng_size(0x14000, 0x4000,
		IOPGT_SZ_16K, MOD, LEAF);
	struct iopgt_inval_cmd out[8];

	(void)state;
	assert_int_equal(enc8(&c, &r, 1, out), 1);
	expect(&out[0], 0x2a, 0x14b01, 0x14000, 0x17fff);
	/* 32M block at 16K: 2^11 granules, TTL=2. */
	r = rng_size(0x2000000, IOPGT_SZ_32M, IOPGT_SZ_32M, MOD, LEAF);
	assert_int_equal(enc8(&c, &r, 1, out), 1);
	expect(&out[0], 0xb0002a, 0x2000a01, 0x2000000, 0x3ffffff);

	c = cfg(S2 | RIL, 16);
	r = rng_size(0x30000, 0x10000, IOPGT_SZ_64K, MOD, LEAF);
	assert_int_equal(enc8(&c, &r, 1, out), 1);
	expect(&out[0], 0x2a, 0x30f01, 0x30000, 0x3ffff);
	/* 512M block at 64K: 2^13 granules, TTL=2. */
	r = rng_size(0x20000000, IOPGT_SZ_512M, IOPGT_SZ_512M, MOD, LEAF);
	assert_int_equal(enc8(&c, &r, 1, out), 1);
	expect(&out[0], 0xd0002a, 0x20000e01, 0x20000000, 0x3fffffff);
	/* Without ranges, a 64K page: TG=0, the address only. */
	c = cfg(S2, 16);
	r = rng_size(0x30000, 0x10000, IOPGT_SZ_64K, MOD, LEAF);
	assert_int_equal(enc8(&c, &r, 1, out), 1);
	expect(&out[0], 0x2a, 0x30001, 0x30000, 0x3ffff);
}

/* Leaf=1 only for LEAF_ONLY ranges that are not WALK; WALK: no TTL. */
static void test_leaf(void **state)
{
	struct iopgt_inval_config c = cfg(S2 | RIL, 12);
	struct iopgt_flush_range r = rng_size(0x200000, 0x1000, IOPGT_SZ_4K,
					      MOD, 0);
	struct iopgt_inval_cmd out[8];

	(void)state;
	assert_int_equal(enc8(&c, &r, 1, out), 1);
	expect(&out[0], 0x2a, 0x200700, 0x200000, 0x200fff);
	/* A WALK range of one page: Leaf=0, TTL=0, hence TG=0. */
	r = rng_size(0x200000, 0x1000, 0, WALK, LEAF);
	assert_int_equal(enc8(&c, &r, 1, out), 1);
	expect(&out[0], 0x2a, 0x200000, 0x200000, 0x200fff);
	/* A WALK range of 2M, even one that claims a leaf size. */
	r = rng_size(0x200000, IOPGT_SZ_2M, IOPGT_SZ_2M, WALK, LEAF);
	assert_int_equal(enc8(&c, &r, 1, out), 1);
	expect(&out[0], 0x90002a, 0x200400, 0x200000, 0x3fffff);
	/* ADDED (caching mode) with LEAF_ONLY: Leaf=1. */
	r = rng_size(0x200000, 0x1000, IOPGT_SZ_4K, IOPGT_FLUSH_ADDED, LEAF);
	assert_int_equal(enc8(&c, &r, 1, out), 1);
	expect(&out[0], 0x2a, 0x200701, 0x200000, 0x200fff);
}

/* Nested: a CMD_SYNC and one CMD_TLBI_NH_ALL (VMID) after the stage-2
 * commands. */
static void test_nested(void **state)
{
	struct iopgt_inval_config c = cfg(S2 | RIL | NESTED, 12);
	struct iopgt_flush_range r[2] = {
		rng_size(0x1000, 0x1000, IOPGT_SZ_4K, MOD, LEAF),
		rng_size(0x200000, IOPGT_SZ_2M, IOPGT_SZ_2M, MOD, LEAF),
	};
	struct iopgt_inval_cmd out[8];

	(void)state;
	c.domain_id = 7;
	assert_int_equal(iopgt_inval_encode(&c, r, 2, out, 8), 4);
	expect(&out[0], 0x000000070000002a, 0x1701, 0x1000, 0x1fff);
	expect(&out[1], 0x000000070090002a, 0x200601, 0x200000, 0x3fffff);
	/* CMD_SYNC, CS = SIG_NONE (4.7.3): the stage-2 commands complete
	 * before CMD_TLBI_NH_ALL; it invalidates nothing (an empty range). */
	expect(&out[2], 0x46, 0, UINT64_MAX, 0);
	expect(&out[3], 0x0000000700000010, 0, 0, UINT64_MAX);
	/* Past max_commands: CMD_TLBI_S12_VMALL alone, which covers the
	 * combined entries too. */
	c.max_commands = 1;
	assert_int_equal(iopgt_inval_encode(&c, r, 2, out, 8), 1);
	expect(&out[0], 0x0000000700000028, 0, 0, UINT64_MAX);
	/* Stage 1 has no nested form. */
	c = cfg(S1 | RIL | NESTED, 12);
	assert_int_equal(iopgt_inval_encode(&c, r, 2, out, 8), -EINVAL);
	/* RISC-V's alone. */
	c = cfg(S1 | RIL | IOPGT_INVAL_SINGLE_STAGE, 12);
	assert_int_equal(iopgt_inval_encode(&c, r, 2, out, 8), -EINVAL);
}

/* Past max_commands (default 64), one command for everything. */
static void test_fallback(void **state)
{
	struct iopgt_inval_config c = cfg(S2, 12);
	struct iopgt_flush_range r = rng_size(0x100000, 65 * 0x1000,
		IOPGT_SZ_4K, MOD, LEAF);
	struct iopgt_inval_cmd out[8];

	(void)state;
	c.domain_id = 0x8001;
	assert_int_equal(iopgt_inval_encode(&c, &r, 1, out, 8), 1);
	expect(&out[0], 0x0000800100000028, 0, 0, UINT64_MAX);
	c = cfg(S1, 12);
	c.domain_id = 2;
	c.pasid = 0x77;
	assert_int_equal(iopgt_inval_encode(&c, &r, 1, out, 8), 1);
	expect(&out[0], 0x0077000200000011, 0, 0, UINT64_MAX);
	/* max_commands 4: four pages go one by one, five do not. */
	c.max_commands = 4;
	r = rng_size(0x100000, 4 * 0x1000, IOPGT_SZ_4K, MOD, LEAF);
	assert_int_equal(iopgt_inval_encode(&c, &r, 1, out, 8), 4);
	for (unsigned i = 0; i < 4; i++)
		expect(&out[i], 0x0077000200000012, 0x100001 + i * 0x1000,
		       0x100000 + i * 0x1000, 0x100fff + i * 0x1000);
	r = rng_size(0x100000, 5 * 0x1000, IOPGT_SZ_4K, MOD, LEAF);
	assert_int_equal(iopgt_inval_encode(&c, &r, 1, out, 8), 1);
	expect(&out[0], 0x0077000200000011, 0, 0, UINT64_MAX);
	/* A WALK range over the whole 64-bit space without ranges: 2^52
	 * commands, counted (not looped over), far past the limit. */
	c = cfg(S1, 12);
	r = rng_size(0, 0, 0, WALK, 0);
	r.last = UINT64_MAX;
	assert_int_equal(iopgt_inval_encode(&c, &r, 1, out, 8), 1);
	expect(&out[0], 0x11, 0, 0, UINT64_MAX);
}

/* Without ranges: one command per leaf (TG=0), its block reported. */
static void test_no_ranges(void **state)
{
	struct iopgt_inval_config c = cfg(S2, 12);
	struct iopgt_flush_range r = rng_size(0x40200000, 2 * IOPGT_SZ_2M,
		IOPGT_SZ_2M, MOD, LEAF);
	struct iopgt_inval_cmd out[8];

	(void)state;
	c.domain_id = 3;
	assert_int_equal(enc8(&c, &r, 1, out), 2);
	expect(&out[0], 0x000000030000002a, 0x40200001, 0x40200000, 0x403fffff);
	expect(&out[1], 0x000000030000002a, 0x40400001, 0x40400000, 0x405fffff);
	/* Two sizes: one per granule. */
	r = rng_size(0x40200000, 0x4000, IOPGT_SZ_2M | IOPGT_SZ_4K, MOD, 0);
	assert_int_equal(enc8(&c, &r, 1, out), 4);
	for (unsigned i = 0; i < 4; i++)
		expect(&out[i], 0x000000030000002a, 0x40200000 + i * 0x1000,
		       0x40200000 + i * 0x1000, 0x40200fff + i * 0x1000);
}

static void test_errors(void **state)
{
	struct iopgt_inval_config c = cfg(S2 | RIL, 12);
	struct iopgt_flush_range r = rng_size(0x100000, 33 * 0x1000,
		IOPGT_SZ_4K, MOD, LEAF);
	struct iopgt_inval_cmd out[8];

	(void)state;
	c.domain_id = 0x10000;
	assert_int_equal(iopgt_inval_encode(&c, &r, 1, out, 8), -EINVAL);
	c = cfg(S1 | RIL, 12);
	c.pasid = 0x10000;
	assert_int_equal(iopgt_inval_encode(&c, &r, 1, out, 8), -EINVAL);
	c.pasid = 0xffff;
	c.domain_id = 0xffff;
	assert_int_equal(iopgt_inval_encode(&c, &r, 1, out, 8), 2);
	for (unsigned g = 0; g < 64; g++) {
		c = cfg(S2 | RIL, g);
		int n = iopgt_inval_encode(&c, &r, 1, out, 8);

		if (g == 12 || g == 14 || g == 16)
			assert_true(n > 0);
		else
			assert_int_equal(n, -EINVAL);
	}
	c = cfg(S2 | RIL | (1u << 8), 12);
	assert_int_equal(iopgt_inval_encode(&c, &r, 1, out, 8), -EINVAL);
	/* An IPA above 52 bits has no field. */
	c = cfg(S2 | RIL, 12);
	r = rng_size(UINT64_C(1) << 52, 0x1000, IOPGT_SZ_4K, MOD, LEAF);
	assert_int_equal(iopgt_inval_encode(&c, &r, 1, out, 8), -EINVAL);
	r = rng_size((UINT64_C(1) << 52) - 0x1000, 0x1000, IOPGT_SZ_4K, MOD,
		     LEAF);
	assert_int_equal(iopgt_inval_encode(&c, &r, 1, out, 8), 1);
	expect(&out[0], 0x2a, 0x000ffffffffff701, (UINT64_C(1) << 52) - 0x1000,
	       (UINT64_C(1) << 52) - 1);

	/* Counting, and -ENOSPC with the first commands written. */
	r = rng_size(0x100000, 33 * 0x1000, IOPGT_SZ_4K, MOD, LEAF);
	assert_int_equal(iopgt_inval_encode(&c, &r, 1, NULL, 0), 2);
	memset(out, 0, sizeof(out));
	assert_int_equal(iopgt_inval_encode(&c, &r, 1, out, 1), -ENOSPC);
	expect(&out[0], 0x50002a, 0x100701, 0x100000, 0x11ffff);
	assert_int_equal(out[1].dw[0], 0);
}

/* ---- randomized covers against an independent decoder ---- */

struct dec {
	unsigned op, num, scale, ttl, tg, leaf;
	uint64_t vmid, asid, addr;
	uint64_t first, end; /* granules covered, [first, end) */
};

static void decode(const struct iopgt_inval_cmd *cmd, bool s1, unsigned g,
		   unsigned unit_lg2, struct dec *d)
{
	uint64_t w0 = cmd->dw[0], w1 = cmd->dw[1];

	d->op = w0 & 0xff;
	d->num = (w0 >> 12) & 31;
	d->scale = (w0 >> 20) & 31;
	d->vmid = (w0 >> 32) & 0xffff;
	d->asid = w0 >> 48;
	d->leaf = w1 & 1;
	d->ttl = (w1 >> 8) & 3;
	d->tg = (w1 >> 10) & 3;
	d->addr = s1 ? w1 >> 12 << 12 : (w1 << 12 >> 24) << 12;
	/* Bits no field of these commands uses. */
	assert_int_equal(w0 & 0x00000000fe0e0f00, 0);
	assert_int_equal(w1 & 0xfe, 0);
	if (!s1)
		assert_int_equal(w1 >> 52, 0);
	if (!d->tg) {
		/* One address: the entry that holds it, of the range's
		 * unit. */
		d->first = (d->addr >> unit_lg2 << unit_lg2) >> g;
		d->end = d->first + (UINT64_C(1) << (unit_lg2 - g));
	} else {
		assert_int_equal(10 + 2 * d->tg, g);
		d->first = d->addr >> g;
		d->end = d->first + ((uint64_t)(d->num + 1) << d->scale);
	}
}

/* The smallest (NUM + 1) * 2^SCALE >= n that is a multiple of unit
 * granules, by trying every NUM and SCALE; 0 if none. */
static uint64_t least_cmd(uint64_t n, uint64_t unit)
{
	uint64_t best = 0;

	for (unsigned sc = 0; sc < 32; sc++)
		for (uint64_t k = 1; k <= 32; k++) {
			uint64_t v = k << sc;

			if (v >= n && v % unit == 0 && (!best || v < best))
				best = v;
		}
	return best;
}

static int cmp_dec(const void *a, const void *b)
{
	const struct dec *x = a, *y = b;

	return x->first < y->first ? -1 : x->first > y->first;
}

#define RAND_CMDS 4096

static void test_random(void **state)
{
	uint64_t seed = inval_seed("test_random", 0x5a17c0de), s = seed;
	long iters = titers("IOPGT_INVAL_ITERS", 20000);
	struct iopgt_inval_cmd *out = calloc(RAND_CMDS, sizeof(*out));
	struct dec *d = calloc(RAND_CMDS, sizeof(*d));

	(void)state;
	assert_non_null(out);
	assert_non_null(d);
	for (long it = 0; it < iters; it++) {
		static const unsigned gs[] = { 12, 14, 16 };
		unsigned g = gs[trand(&s) % 3], bits = g - 3;
		bool s1 = trand(&s) & 1, ril = trand(&s) % 4 != 0;
		struct iopgt_inval_config c =
			cfg((s1 ? S1 : S2) | (ril ? RIL : 0), g);
		struct iopgt_flush_range r;
		unsigned lvl = (unsigned)(trand(&s) % 3), unit_lg2 = g, ttl = 0;
		uint64_t sizes, tf, tn, slackp, maxunits;
		int n;

		c.domain_id = (uint32_t)(trand(&s) & 0xffff);
		c.pasid = (uint32_t)(trand(&s) & 0xffff);
		c.max_commands = RAND_CMDS;
		switch (trand(&s) % 4) {
		case 0:
			c.slack = 0;
			break;
		case 1:
			c.slack = trand(&s) % (64 << g);
			break;
		case 2:
			c.slack = (trand(&s) % 8) << g;
			break;
		default:
			c.slack = trand(&s) >> (trand(&s) % 64);
		}
		memset(&r, 0, sizeof(r));
		r.kind = (uint32_t)(1 + trand(&s) % 3);
		r.flags = trand(&s) & 1 ? LEAF : 0;
		switch (trand(&s) % 4) {
		case 0:
			sizes = 0;
			break;
		case 1:
			sizes = (UINT64_C(1) << g) |
				(UINT64_C(1) << (g + bits));
			break;
		default:
			sizes = UINT64_C(1) << (g + lvl * bits);
		}
		r.leaf_sizes = r.kind == WALK ? 0 : sizes;
		if (r.leaf_sizes && !(r.leaf_sizes & (r.leaf_sizes - 1))) {
			unit_lg2 = g + lvl * bits;
			if (lvl < c.levels && (lvl < 2 || g == 12))
				ttl = 3 - lvl;
		}
		/* The range: whole units (a gather's are), in the lower half
		 * of the space the stage addresses, at most 2^44 granules
		 * (a few hundred commands); now and then a ragged one. */
		maxunits = ril ? (trand(&s) % 8 ? 5000 : UINT64_C(1) << 40)
			       : 300;
		{
			uint64_t space = UINT64_C(1) << (s1 ? 63 : 52);
			uint64_t half = (space >> 1) >> unit_lg2;
			uint64_t cap = (UINT64_C(1) << 44) >> (unit_lg2 - g);
			uint64_t units = 1 + trand(&s) % maxunits;
			uint64_t start = (trand(&s) % half) << unit_lg2;

			if (units > cap)
				units = cap;
			if (units > half)
				units = half;
			r.iova = start;
			r.last = start + (units << unit_lg2) - 1;
			if (trand(&s) % 8 == 0) {
				r.iova += trand(&s) % (UINT64_C(1) << unit_lg2);
				r.last -= trand(&s) % (UINT64_C(1) << unit_lg2);
				if (r.last < r.iova)
					r.last = r.iova;
			}
		}
		tf = (r.iova >> unit_lg2 << unit_lg2) >> g;
		tn = ((r.last >> unit_lg2) + 1 - (r.iova >> unit_lg2))
		     << (unit_lg2 - g);
		slackp = c.slack >> g;

		n = iopgt_inval_encode(&c, &r, 1, out, RAND_CMDS);
		assert_true(n >= 1);
		if (!ril)
			assert_int_equal((uint64_t)n,
					 tn >> (unit_lg2 - g));
		for (int i = 0; i < n; i++) {
			decode(&out[i], s1, g, unit_lg2, &d[i]);
			assert_int_equal(d[i].op, s1 ? 0x12 : 0x2a);
			assert_int_equal(d[i].vmid, c.domain_id);
			assert_int_equal(d[i].asid, s1 ? c.pasid : 0);
			assert_int_equal(d[i].leaf,
					 r.kind != WALK && (r.flags & LEAF));
			assert_int_equal(d[i].first << g, out[i].iova);
			assert_int_equal((d[i].end << g) - 1, out[i].last);
			if (!d[i].tg) {
				assert_int_equal(d[i].num | d[i].scale, 0);
				assert_int_equal(d[i].ttl, 0);
			} else {
				/* TG != 0 with NUM, SCALE and TTL 0 is
				 * reserved. */
				assert_true(d[i].num | d[i].scale | d[i].ttl);
				assert_int_equal(d[i].ttl, ttl);
			}
			if (d[i].ttl) {
				unsigned blk = (3 - d[i].ttl) * bits;
				uint64_t m = (UINT64_C(1) << blk) - 1;

				assert_int_equal(d[i].first & m, 0);
				assert_int_equal(d[i].end & m, 0);
			}
		}
		/* Coverage: the commands' union is one interval that holds
		 * the target and reaches at most the slack beyond it. */
		qsort(d, (size_t)n, sizeof(*d), cmp_dec);
		{
			uint64_t lo = d[0].first, hi = d[0].end;

			for (int i = 1; i < n; i++) {
				assert_true(d[i].first <= hi);
				if (d[i].end > hi)
					hi = d[i].end;
			}
			assert_true(lo <= tf && hi >= tf + tn);
			assert_true(hi - lo - tn <= slackp);
		}
		/* The fewest commands: one if a range size fits the target
		 * within the slack, else two (each covers at most 2^36
		 * granules; past 2^37, one more than the least). */
		if (ril && tn <= UINT64_C(1) << 37) {
			uint64_t v = least_cmd(tn, UINT64_C(1)
							   << (unit_lg2 - g));
			bool one = v && v - tn <= slackp;

			if (n != (one ? 1 : 2))
				printf("it %ld: g %u s1 %d iova %#" PRIx64
				       " last %#" PRIx64 " sizes %#" PRIx64
				       " slack %#" PRIx64 ": %d commands\n",
				       it, g, s1, r.iova, r.last, r.leaf_sizes,
				       c.slack, n);
			assert_int_equal(n, one ? 1 : 2);
		} else if (ril) {
			uint64_t least = (tn + (UINT64_C(1) << 36) - 1) >> 36;

			assert_true((uint64_t)n >= least &&
				    (uint64_t)n <= least + 1);
		}
	}
	free(out);
	free(d);
}

/* Several ranges: the concatenation of each one's commands. */
static void test_multi(void **state)
{
	struct iopgt_inval_config c = cfg(S1 | RIL, 12);
	struct iopgt_flush_range r[3] = {
		rng_size(0x100000, 33 * 0x1000, IOPGT_SZ_4K, MOD, LEAF),
		rng_size(0x40200000, IOPGT_SZ_2M, IOPGT_SZ_2M, MOD, LEAF),
		rng_size(0x7000, 0x1000, 0, WALK, 0),
	};
	struct iopgt_inval_cmd all[8], one[8];
	int n = 0;

	(void)state;
	assert_int_equal(iopgt_inval_encode(&c, r, 3, all, 8), 4);
	for (unsigned i = 0; i < 3; i++) {
		int k = enc8(&c, &r[i], 1, one);

		assert_memory_equal(&all[n], one, (size_t)k * sizeof(one[0]));
		n += k;
	}
	assert_int_equal(n, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_page_4k),
		cmocka_unit_test(test_block_ttl),
		cmocka_unit_test(test_range_33),
		cmocka_unit_test(test_granules),
		cmocka_unit_test(test_leaf),
		cmocka_unit_test(test_nested),
		cmocka_unit_test(test_fallback),
		cmocka_unit_test(test_no_ranges),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_multi),
		cmocka_unit_test(test_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
