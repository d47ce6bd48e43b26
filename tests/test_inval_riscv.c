/* SPDX-License-Identifier: MIT */
/*
 * iopgt_inval_encode() for the RISC-V IOMMU: known answers worked out by
 * hand from the IOTINVAL layout of the RISC-V IOMMU specification (4.1.1
 * "IOMMU Page-Table cache invalidation commands"; 9.2 non-leaf and 9.3
 * address-range invalidation extensions), and a randomized check of the
 * covers against an independent decoder and a brute-force search.
 *
 * Layout used by the expected words:
 *   dw0: opcode 6:0 (IOTINVAL 1), func3 9:7 (VMA 0, GVMA 1), AV 10,
 *        PSCID 31:12, PSCV 32, GV 33, NL 34, GSCID 59:44
 *   dw1: S 9, ADDR[63:12] in 61:10; S=1: the first 0 bit of ADDR at X
 *        makes a NAPOT range of 2^(X+1) 4K pages
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "inval_test.h"

#define S1 IOPGT_INVAL_FIRST_STAGE
#define RNG IOPGT_INVAL_RANGES
#define LEAF IOPGT_RANGE_LEAF_ONLY
#define MOD IOPGT_FLUSH_MODIFIED
#define WALK IOPGT_FLUSH_WALK

static struct iopgt_inval_config cfg(unsigned flags)
{
	struct iopgt_inval_config c = inval_cfg(IOPGT_IOMMU_RISCV, flags);

	c.levels = 4;
	return c;
}

/* One 4K page: IOTINVAL.GVMA and IOTINVAL.VMA with AV=1 (4.1.1). */
static void test_page(void **state)
{
	struct iopgt_inval_config c = cfg(RNG);
	struct iopgt_flush_range r = rng_size(0x12345000, 0x1000,
		IOPGT_SZ_4K, MOD, LEAF);
	struct iopgt_inval_cmd out[8];

	(void)state;
	c.domain_id = 0x1234;
	assert_int_equal(enc8(&c, &r, 1, out), 1);
	/* opcode 1 | GVMA 0x80 | AV 0x400 | GV bit 33 | GSCID 0x1234 at
	 * 59:44; ADDR = page 0x12345 at 61:10, S=0, NL=0. */
	expect(&out[0], 0x0123400200000481, 0x00000000048d1400, 0x12345000,
	       0x12345fff);

	c = cfg(S1 | RNG);
	c.domain_id = 5;
	c.pasid = 0xabcde;
	assert_int_equal(enc8(&c, &r, 1, out), 1);
	/* VMA (func3 0), PSCID 0xabcde at 31:12, PSCV bit 32, GV, GSCID 5. */
	expect(&out[0], 0x00005003abcde401, 0x00000000048d1400, 0x12345000,
	       0x12345fff);

	/* Without the extensions: the same words (S and NL unused). */
	c.flags = S1;
	assert_int_equal(enc8(&c, &r, 1, out), 1);
	expect(&out[0], 0x00005003abcde401, 0x00000000048d1400, 0x12345000,
	       0x12345fff);

	/* A first stage over a Bare G-stage: GV 0 (the host's address
	 * spaces), no GSCID; PSCV and PSCID as before. */
	c.flags = S1 | RNG | IOPGT_INVAL_SINGLE_STAGE;
	c.domain_id = 0;
	assert_int_equal(enc8(&c, &r, 1, out), 1);
	expect(&out[0], 0x00000001abcde401, 0x00000000048d1400, 0x12345000,
	       0x12345fff);
	/* A GSCID, or no first stage, has no meaning there: -EINVAL. */
	c.domain_id = 5;
	assert_int_equal(enc8(&c, &r, 1, out), -EINVAL);
	c.domain_id = 0;
	c.flags = RNG | IOPGT_INVAL_SINGLE_STAGE;
	assert_int_equal(enc8(&c, &r, 1, out), -EINVAL);
	c.flags = S1 | RNG | IOPGT_INVAL_SINGLE_STAGE | IOPGT_INVAL_NESTED;
	assert_int_equal(enc8(&c, &r, 1, out), -EINVAL);
}

/* NAPOT ranges (9.3) and NL (9.2). */
static void test_napot(void **state)
{
	struct iopgt_inval_config c = cfg(RNG);
	struct iopgt_flush_range r = rng_size(0x40200000, IOPGT_SZ_2M,
		IOPGT_SZ_2M, MOD, LEAF);
	struct iopgt_inval_cmd out[8];

	(void)state;
	assert_int_equal(enc8(&c, &r, 1, out), 1);
	/* 512 pages from page 0x40200: X = 8, ADDR = 0x402ff, S (0x200). */
	expect(&out[0], 0x0000000200000481, 0x00000000100bfe00, 0x40200000,
	       0x403fffff);
	/* A table entry changed (no LEAF_ONLY): NL=1, bit 34. */
	r.flags = 0;
	assert_int_equal(enc8(&c, &r, 1, out), 1);
	expect(&out[0], 0x0000000600000481, 0x00000000100bfe00, 0x40200000,
	       0x403fffff);
	/* WALK: NL=1. */
	r = rng_size(0x40200000, IOPGT_SZ_2M, 0, WALK, 0);
	assert_int_equal(enc8(&c, &r, 1, out), 1);
	expect(&out[0], 0x0000000600000481, 0x00000000100bfe00, 0x40200000,
	       0x403fffff);

	/* 33 pages from page 0x100: 32 (X = 4, ADDR 0x10f) and 1. */
	r = rng_size(0x100000, 33 * 0x1000, IOPGT_SZ_4K, MOD, LEAF);
	assert_int_equal(enc8(&c, &r, 1, out), 2);
	expect(&out[0], 0x0000000200000481, 0x0000000000043e00, 0x100000,
	       0x11ffff);
	expect(&out[1], 0x0000000200000481, 0x0000000000048000, 0x120000,
	       0x120fff);
	/* 31 pages of slack: 64 pages (X = 5, ADDR 0x11f) in one. */
	c.slack = 31 * 0x1000;
	assert_int_equal(enc8(&c, &r, 1, out), 1);
	expect(&out[0], 0x0000000200000481, 0x0000000000047e00, 0x100000,
	       0x13ffff);
	c.slack = 31 * 0x1000 - 1;
	assert_int_equal(enc8(&c, &r, 1, out), 2);

	/* Pages 1..3: [1, 2) and [2, 4) (X = 0: 2 pages, ADDR 2). */
	c.slack = 0;
	r = rng_size(0x1000, 0x3000, IOPGT_SZ_4K, MOD, LEAF);
	assert_int_equal(enc8(&c, &r, 1, out), 2);
	expect(&out[0], 0x0000000200000481, 0x400, 0x1000, 0x1fff);
	expect(&out[1], 0x0000000200000481, 0xa00, 0x2000, 0x3fff);

	/* The whole space: ADDR's MSB 0 and every other bit 1. */
	r = rng_size(0, 0, 0, MOD, LEAF);
	r.last = UINT64_MAX;
	assert_int_equal(enc8(&c, &r, 1, out), 1);
	expect(&out[0], 0x0000000200000481, 0x1ffffffffffffe00, 0, UINT64_MAX);
}

/* Without the extensions: one command per leaf; WALK: AV=0. */
static void test_base(void **state)
{
	struct iopgt_inval_config c = cfg(0);
	struct iopgt_flush_range r[2] = {
		rng_size(0x40200000, 2 * IOPGT_SZ_2M, IOPGT_SZ_2M, MOD, LEAF),
		rng_size(0x7000, 0x2000, IOPGT_SZ_2M | IOPGT_SZ_4K, MOD, 0),
	};
	struct iopgt_inval_cmd out[8];

	(void)state;
	c.domain_id = 9;
	assert_int_equal(enc8(&c, r, 2, out), 4);
	/* Each 2M leaf once, at its start; then the two pages. */
	expect(&out[0], 0x0000900200000481, 0x10080000, 0x40200000, 0x403fffff);
	expect(&out[1], 0x0000900200000481, 0x10100000, 0x40400000, 0x405fffff);
	expect(&out[2], 0x0000900200000481, 0x1c00, 0x7000, 0x7fff);
	expect(&out[3], 0x0000900200000481, 0x2000, 0x8000, 0x8fff);

	/* A WALK range: AV=0 leaves the ADDR out, and the whole call is that
	 * one command (AV=1 drops only leaf entries, 4.1.1). */
	r[1] = rng_size(0x200000, 0x1000, 0, WALK, 0);
	assert_int_equal(enc8(&c, r, 2, out), 1);
	expect(&out[0], 0x0000900200000081, 0, 0, UINT64_MAX);
	c = cfg(S1);
	c.domain_id = 9;
	c.pasid = 3;
	assert_int_equal(enc8(&c, r, 2, out), 1);
	expect(&out[0], 0x0000900300003001, 0, 0, UINT64_MAX);
}

static void test_fallback_errors(void **state)
{
	struct iopgt_inval_config c = cfg(0);
	struct iopgt_flush_range r = rng_size(0x100000, 65 * 0x1000,
		IOPGT_SZ_4K, MOD, LEAF);
	struct iopgt_inval_cmd out[8];

	(void)state;
	c.domain_id = 0xffff;
	/* 65 > 64 (max_commands 0): AV=0. */
	assert_int_equal(enc8(&c, &r, 1, out), 1);
	expect(&out[0], 0x0ffff00200000081, 0, 0, UINT64_MAX);
	c.max_commands = 65;
	assert_int_equal(iopgt_inval_encode(&c, &r, 1, NULL, 0), 65);
	assert_int_equal(enc8(&c, &r, 1, out), -ENOSPC);
	expect(&out[7], 0x0ffff00200000481, 0x41c00, 0x107000, 0x107fff);
	/* The whole 64-bit space one page at a time is counted, not
	 * walked, and falls back. */
	r.iova = 0;
	r.last = UINT64_MAX;
	r.leaf_sizes = 0;
	assert_int_equal(enc8(&c, &r, 1, out), 1);

	c = cfg(0);
	c.domain_id = 0x10000;
	assert_int_equal(enc8(&c, &r, 1, out), -EINVAL);
	c = cfg(S1);
	c.pasid = 0x100000;
	assert_int_equal(enc8(&c, &r, 1, out), -EINVAL);
	c.pasid = 0xfffff;
	assert_int_equal(enc8(&c, &r, 1, out), 1);
	c = cfg(0);
	c.granule = 14;
	assert_int_equal(enc8(&c, &r, 1, out), -EINVAL);
	c = cfg(1u << 9);
	assert_int_equal(enc8(&c, &r, 1, out), -EINVAL);
	/* NESTED: nothing more to write (GVMA covers combined entries). */
	c = cfg(IOPGT_INVAL_NESTED | RNG);
	r = rng_size(0x1000, 0x1000, IOPGT_SZ_4K, MOD, LEAF);
	assert_int_equal(enc8(&c, &r, 1, out), 1);
}

/* ---- randomized covers ---- */

struct dec {
	uint64_t first, end; /* 4K pages, [first, end) */
	bool av, nl;
};

static void decode(const struct iopgt_inval_cmd *cmd, bool s1,
		   const struct iopgt_inval_config *c, unsigned unit_lg2,
		   struct dec *d)
{
	uint64_t w0 = cmd->dw[0], w1 = cmd->dw[1], a;

	assert_int_equal(w0 & 0x7f, 1);
	assert_int_equal((w0 >> 7) & 7, s1 ? 0 : 1);
	assert_int_equal((w0 >> 32) & 1, s1);       /* PSCV */
	assert_int_equal((w0 >> 33) & 1, 1);        /* GV */
	assert_int_equal((w0 >> 44) & 0xffff, c->domain_id);
	assert_int_equal((w0 >> 12) & 0xfffff, s1 ? c->pasid : 0);
	/* Reserved: 11, 43:35, 63:60; dw1 8:0, 63:62. */
	assert_int_equal(w0 & 0xf0000ff800000800, 0);
	assert_int_equal(w1 & 0xc0000000000001ff, 0);
	d->av = w0 >> 10 & 1;
	d->nl = w0 >> 34 & 1;
	if (!d->av) {
		assert_int_equal(w1, 0);
		d->first = 0;
		d->end = UINT64_C(1) << 52;
		return;
	}
	a = (w1 >> 10) & ((UINT64_C(1) << 52) - 1);
	if (w1 & 0x200) {
		unsigned x = (unsigned)__builtin_ctzll(~a);
		uint64_t n = UINT64_C(2) << x;

		d->first = a & ~(n - 1);
		d->end = d->first + n;
	} else {
		/* One address: the leaf that holds it, of the unit. */
		unsigned sh = unit_lg2 - 12;

		d->first = a >> sh << sh;
		d->end = d->first + (UINT64_C(1) << sh);
	}
}

/* Blocks of the greedy tiling of [x, y) (small values). */
static unsigned tile(uint64_t x, uint64_t y)
{
	unsigned n = 0;

	while (x < y) {
		uint64_t sz = 1;

		while (!(x & (2 * sz - 1)) && x + 2 * sz <= y)
			sz *= 2;
		x += sz;
		n++;
	}
	return n;
}

/* The fewest NAPOT blocks that cover [a, b) within slack pages, by
 * trying every interval around it. */
static unsigned brute(uint64_t a, uint64_t b, uint64_t slack)
{
	unsigned best = ~0u;

	for (uint64_t l = 0; l <= slack && l <= a; l++)
		for (uint64_t rr = 0; l + rr <= slack; rr++) {
			unsigned n = tile(a - l, b + rr);

			if (n < best)
				best = n;
		}
	return best;
}

static int cmp_dec(const void *a, const void *b)
{
	const struct dec *x = a, *y = b;

	return x->first < y->first ? -1 : x->first > y->first;
}

#define RAND_CMDS 1024

static void test_random(void **state)
{
	uint64_t seed = inval_seed("test_random", 0x715cc0de), s = seed;
	long iters = titers("IOPGT_INVAL_ITERS", 20000);
	struct iopgt_inval_cmd *out = calloc(RAND_CMDS, sizeof(*out));
	struct dec *d = calloc(RAND_CMDS, sizeof(*d));

	(void)state;
	assert_non_null(out);
	assert_non_null(d);
	for (long it = 0; it < iters; it++) {
		bool s1 = trand(&s) & 1, ext = trand(&s) % 4 != 0;
		bool small = trand(&s) & 1;
		struct iopgt_inval_config c =
			cfg((s1 ? S1 : 0) | (ext ? RNG : 0));
		struct iopgt_flush_range r;
		unsigned lvl = (unsigned)(trand(&s) % 3), unit_lg2 = 12;
		uint64_t tf, tn, slackp, units, start;
		int n;

		c.domain_id = (uint32_t)(trand(&s) & 0xffff);
		c.pasid = (uint32_t)(trand(&s) & 0xfffff);
		c.max_commands = RAND_CMDS;
		c.slack = small ? (trand(&s) % 40) << 12
				: trand(&s) >> (trand(&s) % 64);
		if (trand(&s) % 4 == 0)
			c.slack = 0;
		memset(&r, 0, sizeof(r));
		r.kind = (uint32_t)(1 + trand(&s) % 3);
		r.flags = trand(&s) & 1 ? LEAF : 0;
		switch (trand(&s) % 4) {
		case 0:
			r.leaf_sizes = 0;
			break;
		case 1:
			r.leaf_sizes = IOPGT_SZ_4K | IOPGT_SZ_2M;
			break;
		default:
			r.leaf_sizes = UINT64_C(1) << (12 + 9 * lvl);
		}
		if (r.kind == WALK)
			r.leaf_sizes = 0;
		if (r.leaf_sizes && !(r.leaf_sizes & (r.leaf_sizes - 1)))
			unit_lg2 = 12 + 9 * lvl;
		if (small && unit_lg2 == 12) {
			units = 1 + trand(&s) % 100;
			start = trand(&s) % 300;
		} else {
			units = 1 + trand(&s) % (ext ? UINT64_C(1) << 30 : 500);
			start = trand(&s) % (UINT64_C(1) << (60 - unit_lg2));
		}
		r.iova = start << unit_lg2;
		r.last = ((start + units) << unit_lg2) - 1;
		if (trand(&s) % 8 == 0) {
			r.iova += trand(&s) % (UINT64_C(1) << unit_lg2);
			r.last -= trand(&s) % (UINT64_C(1) << unit_lg2);
			if (r.last < r.iova)
				r.last = r.iova;
		}
		tf = (r.iova >> unit_lg2) << (unit_lg2 - 12);
		tn = ((r.last >> unit_lg2) + 1 - (r.iova >> unit_lg2))
		     << (unit_lg2 - 12);
		slackp = c.slack >> 12;

		n = iopgt_inval_encode(&c, &r, 1, out, RAND_CMDS);
		assert_true(n >= 1);
		for (int i = 0; i < n; i++) {
			decode(&out[i], s1, &c, ext ? 12 : unit_lg2, &d[i]);
			assert_int_equal(d[i].first << 12, out[i].iova);
			assert_int_equal((d[i].end << 12) - 1, out[i].last);
		}
		if (!ext && r.kind == WALK) {
			assert_int_equal(n, 1);
			assert_false(d[0].av);
			continue;
		}
		if (!ext && (uint64_t)n != tn >> (unit_lg2 - 12)) {
			/* Past max_commands: AV=0. */
			assert_true(tn >> (unit_lg2 - 12) > RAND_CMDS);
			assert_int_equal(n, 1);
			assert_false(d[0].av);
			continue;
		}
		for (int i = 0; i < n; i++) {
			assert_true(d[i].av);
			assert_int_equal(d[i].nl, ext && (r.kind == WALK ||
							  !(r.flags & LEAF)));
		}
		qsort(d, (size_t)n, sizeof(*d), cmp_dec);
		for (int i = 1; i < n; i++)
			assert_int_equal(d[i].first, d[i - 1].end);
		assert_true(d[0].first <= tf && d[n - 1].end >= tf + tn);
		assert_true(d[n - 1].end - d[0].first - tn <= slackp);
		if (ext && small && tf < 512 && slackp < 64)
			assert_int_equal(n, brute(tf, tf + tn, slackp));
		if (ext)
			assert_true(n <= 2 * 52);
	}
	free(out);
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_page),
		cmocka_unit_test(test_napot),
		cmocka_unit_test(test_base),
		cmocka_unit_test(test_fallback_errors),
		cmocka_unit_test(test_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
