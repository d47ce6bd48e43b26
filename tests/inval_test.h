/* SPDX-License-Identifier: MIT */
/*
 * What the tests of iopgt_inval_encode() (test_inval_<iommu>.c) share:
 * ranges, the encode calls and the check of a command's words; for the
 * IOMMUs whose commands name aligned power-of-two blocks of 4K pages
 * (VT-d, AMD), the brute-force search of the fewest blocks, the check of
 * a cover's order and extent, and the draws of the randomized tests. Each
 * test keeps its IOMMU's decoder and known answers.
 */
#ifndef IOPGT_TEST_INVAL_H
#define IOPGT_TEST_INVAL_H

#include <string.h>

#include "common.h"

#define PG 0x1000u

/* A configuration for iommu with flags and 4K pages; nothing else set. */
static inline struct iopgt_inval_config inval_cfg(enum iopgt_iommu iommu,
						  unsigned flags)
{
	struct iopgt_inval_config c;

	memset(&c, 0, sizeof(c));
	c.size = sizeof(c);
	c.iommu = iommu;
	c.flags = flags;
	c.granule = 12;
	return c;
}

/* The range [iova, last] of kind, with flags; nothing else set. */
static inline struct iopgt_flush_range rng(uint64_t iova, uint64_t last,
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

/* The range of size bytes from iova, of leaf_sizes; a WALK range with
 * walk_levels 1. */
static inline struct iopgt_flush_range rng_size(uint64_t iova, uint64_t size,
						uint64_t leaf_sizes,
						unsigned kind, unsigned flags)
{
	struct iopgt_flush_range r = rng(iova, iova + size - 1, kind, flags);

	r.leaf_sizes = leaf_sizes;
	if (kind == IOPGT_FLUSH_WALK)
		r.walk_levels = 1;
	return r;
}

static inline int enc(const struct iopgt_inval_config *c,
		      const struct iopgt_flush_range *r, unsigned nr,
		      struct iopgt_inval_cmd *out, unsigned max)
{
	return iopgt_inval_encode(c, r, nr, out, max);
}

/* Encode r[0 .. nr - 1] into out[0 .. 7], filled with 0xee first. */
static inline int enc8(const struct iopgt_inval_config *c,
		       const struct iopgt_flush_range *r, unsigned nr,
		       struct iopgt_inval_cmd *out)
{
	memset(out, 0xee, 8 * sizeof(*out));
	return iopgt_inval_encode(c, r, nr, out, 8);
}

/* A command's exact words, and iova/last. */
static inline void expect(const struct iopgt_inval_cmd *cmd, uint64_t dw0,
			  uint64_t dw1, uint64_t iova, uint64_t last)
{
	assert_int_equal(cmd->dw[0], dw0);
	assert_int_equal(cmd->dw[1], dw1);
	assert_int_equal(cmd->iova, iova);
	assert_int_equal(cmd->last, last);
}

/* One command expected for r, counted and written: exact words, and
 * iova/last. */
static inline void expect1(const struct iopgt_inval_config *c,
			   struct iopgt_flush_range r, uint64_t dw0,
			   uint64_t dw1, uint64_t iova, uint64_t last)
{
	struct iopgt_inval_cmd out[2];

	memset(out, 0, sizeof(out));
	assert_int_equal(enc(c, &r, 1, NULL, 0), 1);
	assert_int_equal(enc(c, &r, 1, out, 2), 1);
	expect(&out[0], dw0, dw1, iova, last);
}

/* The one command for the 2M at 2M, MODIFIED, that iommu takes with the
 * configuration iopgt_inval_config_init() gives for a domain of fmt, with
 * domain id 7 and PASID 9. */
static inline void inval_config_init_cmd(enum iopgt_format fmt,
					 enum iopgt_iommu iommu,
					 struct iopgt_inval_cmd *out)
{
	struct iopgt_config cfg;
	struct iopgt_domain *dom = NULL;
	struct iopgt_inval_config c;
	struct iopgt_flush_range r = rng(0x200000, 0x3fffff,
					 IOPGT_FLUSH_MODIFIED, 0);

	assert_int_equal(iopgt_config_init(&cfg, sizeof(cfg), fmt), 0);
	assert_int_equal(iopgt_domain_create(&cfg, &dom), 0);
	assert_int_equal(iopgt_inval_config_init(dom, iommu, &c, sizeof(c)),
			 0);
	c.domain_id = 7;
	c.pasid = 9;
	assert_int_equal(enc(&c, &r, 1, out, 1), 1);
	iopgt_domain_destroy(dom);
}

/* Pages 3 to 16, ADDED, four commands, into room for two: -ENOSPC with
 * the first two written (dw[1] dw1_0 and dw1_1) and the third untouched;
 * counted with out NULL, 4. */
static inline void inval_check_enospc(const struct iopgt_inval_config *c,
				      uint64_t dw1_0, uint64_t dw1_1)
{
	struct iopgt_flush_range r = rng(0x3000, 0x10fff, IOPGT_FLUSH_ADDED, 0);
	struct iopgt_inval_cmd out[3];

	memset(out, 0xa5, sizeof(out));
	assert_int_equal(enc(c, &r, 1, out, 2), -ENOSPC);
	assert_int_equal(out[0].dw[1], dw1_0);
	assert_int_equal(out[1].dw[1], dw1_1);
	assert_int_equal(out[2].dw[0], 0xa5a5a5a5a5a5a5a5ull);
	assert_int_equal(enc(c, &r, 1, NULL, 0), 4);
}

/* The seed of a randomized test (tseed()), printed with its name. */
static inline uint64_t inval_seed(const char *test, uint64_t dflt)
{
	uint64_t seed = tseed(dflt);

	printf("%s: seed %#" PRIx64 " (%s=... to replay)\n", test, seed,
	       TSEED_ENV);
	return seed;
}

/* ---- covers by aligned power-of-two blocks of pages ---- */

/* Commands of one range, each already held to the caller's decoder
 * (its iova and last among them): sorted, disjoint and contiguous, from
 * at most lo to at least hi; returns the bytes beyond [lo, hi]. */
static inline uint64_t inval_cover_excess(const struct iopgt_inval_cmd *out,
					  int n, uint64_t lo, uint64_t hi)
{
	assert_true(n >= 1);
	assert_true(out[0].iova <= lo);
	for (int i = 1; i < n; i++) {
		/* the greedy walk writes them in address order */
		assert_true(out[i - 1].last != UINT64_MAX);
		assert_int_equal(out[i].iova, out[i - 1].last + 1);
	}
	assert_true(out[n - 1].last >= hi);
	return (lo - out[0].iova) + (out[n - 1].last - hi);
}

#define INVAL_WIN 160

/* The fewest blocks (then pages beyond) covering pages [s, e) within
 * slack pages, blocks of at most 2^k pages: every start and end within the
 * slack, each interval's fewest blocks by dynamic programming. */
static inline void inval_brute(uint64_t s, uint64_t e, uint64_t slack,
			       unsigned k, uint64_t *count, uint64_t *excess)
{
	uint64_t lo = s - (slack < s ? slack : s);
	static uint64_t f[INVAL_WIN + 1];

	*count = UINT64_MAX;
	*excess = UINT64_MAX;
	for (uint64_t y = e; y <= e + slack; y++) {
		assert_true(y - lo <= INVAL_WIN);
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

/* A test's check of one range's n commands in out, over the bytes
 * [lo, hi]: returns the bytes beyond them. */
typedef uint64_t inval_cover_fn(const struct iopgt_inval_config *c,
				const struct iopgt_flush_range *r,
				const struct iopgt_inval_cmd *out, int n,
				uint64_t lo, uint64_t hi);

/* Random small ranges (within 48 pages, ragged ends in their pages) with
 * up to 32 pages of slack (and a fraction of a page), on configuration
 * base: as few commands as inval_brute's search finds, and check_cover's
 * bytes beyond as few as its. With vary_mask, a max_addr_mask of 0 to 7 is
 * drawn, the largest block; else blocks of any size. */
static inline void inval_test_brute(struct iopgt_inval_config base,
				    uint64_t seed_dflt, bool vary_mask,
				    inval_cover_fn *check_cover)
{
	uint64_t seed = inval_seed("test_brute", seed_dflt), rs = seed;
	long iters = titers("IOPGT_TEST_ITERS", 1500);
	struct iopgt_inval_cmd out[INVAL_WIN];

	for (long it = 0; it < iters; it++) {
		struct iopgt_inval_config c = base;
		uint64_t start = (trand(&rs) % 1024) * 64;
		uint64_t s = start + trand(&rs) % 64;
		uint64_t e = s + 1 + trand(&rs) % 48;
		uint64_t slack = trand(&rs) % 33, bc, be, ex;
		unsigned k = 63;
		struct iopgt_flush_range r;
		int n;

		if (trand(&rs) % 4 == 0)
			slack = 0;
		if (vary_mask) {
			c.max_addr_mask = (unsigned)(trand(&rs) % 8);
			k = c.max_addr_mask;
		}
		c.max_commands = INVAL_WIN;
		c.slack = slack * PG + trand(&rs) % PG;
		r = rng(s * PG + trand(&rs) % PG, e * PG - 1 - trand(&rs) % PG,
			IOPGT_FLUSH_MODIFIED, 0);
		if (r.last < r.iova)
			r.last = r.iova;
		inval_brute(s, e, slack, k, &bc, &be);
		n = enc(&c, &r, 1, out, INVAL_WIN);
		if (n != (int)bc)
			fail_msg("seed %#" PRIx64 " it %ld: pages %" PRIu64
				 "-%" PRIu64 " slack %" PRIu64 " blocks of at "
				 "most 2^%u pages: %d commands, fewest "
				 "%" PRIu64,
				 seed, it, s, e - 1, slack, k, n, bc);
		ex = check_cover(&c, &r, out, n, s * PG, e * PG - 1);
		assert_int_equal(ex, be * PG);
	}
}

/* ---- the draws of the randomized tests ---- */

/* An address of 0 to 64 random bits. */
static inline uint64_t rand_addr(uint64_t *rs)
{
	unsigned bits = (unsigned)(trand(rs) % 65);

	return bits == 64 ? trand(rs) : trand(rs) & ((1ull << bits) - 1);
}

/* First or second stage, a 16-bit domain id and a 20-bit PASID. */
static inline void inval_rand_ids(uint64_t *rs, struct iopgt_inval_config *c)
{
	if (trand(rs) & 1)
		c->flags |= IOPGT_INVAL_FIRST_STAGE;
	c->domain_id = (uint32_t)(trand(rs) & 0xffff);
	c->pasid = (uint32_t)(trand(rs) & 0xfffff);
}

/* No slack, less than 64 pages, a random address, or no bound. */
static inline uint64_t inval_rand_slack(uint64_t *rs)
{
	switch (trand(rs) % 4) {
	case 0: return 0;
	case 1: return trand(rs) % (64 * PG);
	case 2: return rand_addr(rs);
	default: return UINT64_MAX;
	}
}

/* nr ranges anywhere in the space, up to its end, of each kind, leaf-only
 * or not. */
static inline void inval_rand_ranges(uint64_t *rs,
				     struct iopgt_flush_range *r, unsigned nr)
{
	for (unsigned i = 0; i < nr; i++) {
		uint64_t a = rand_addr(rs), len = rand_addr(rs) >>
						  (trand(rs) % 64);

		r[i] = rng(a, len > UINT64_MAX - a ? UINT64_MAX : a + len,
			   1 + (unsigned)(trand(rs) % 3),
			   (unsigned)(trand(rs) & 1));
	}
}

/* r alone, its n commands in one: a cover of its pages that check_cover
 * finds within the slack, and as many commands counted with out NULL. */
static inline void inval_check_alone(const struct iopgt_inval_config *c,
				     const struct iopgt_flush_range *r,
				     const struct iopgt_inval_cmd *one, int n,
				     inval_cover_fn *check_cover,
				     uint64_t seed, long it)
{
	uint64_t lo = r->iova & ~0xfffull;
	uint64_t hi = r->last | 0xfff;

	if (check_cover(c, r, one, n, lo, hi) > c->slack)
		fail_msg("seed %#" PRIx64 " it %ld: beyond slack", seed, it);
	/* counting with out NULL agrees */
	assert_int_equal(enc(c, r, 1, NULL, 0), n);
}

/* The commands of r[0 .. nr - 1] encoded at once, in out: each range's
 * commands in turn (one: room for max). */
static inline void inval_check_concat(const struct iopgt_inval_config *c,
				      const struct iopgt_flush_range *r,
				      unsigned nr,
				      const struct iopgt_inval_cmd *out,
				      struct iopgt_inval_cmd *one, unsigned max)
{
	for (unsigned i = 0, at = 0; i < nr; i++) {
		int m = enc(c, &r[i], 1, one, max);

		assert_memory_equal(&out[at], one, (size_t)m * sizeof(*one));
		at += (unsigned)m;
	}
}

#endif /* IOPGT_TEST_INVAL_H */
