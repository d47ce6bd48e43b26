/* SPDX-License-Identifier: MIT */
/*
 * Covers of a range by naturally aligned power-of-two blocks: what the
 * encoders of IOMMUs whose commands name such a block (VT-d's ADDR and
 * address mask, AMD's Address with the S bit) share.
 *
 * Vocabulary:
 *   page   one granule; the blocks are counted in pages, numbered from
 *          address 0. A space of 2^space_lg2 pages (52 for 4K pages over
 *          64 bits) is the largest block, so that page numbers and their
 *          end (at most 2^space_lg2) fit a uint64_t.
 *   block  2^k pages starting at a multiple of 2^k, k <= max_lg2 (the
 *          largest block the command takes).
 *   cover  [first, end) in pages: the union of a range's blocks. Blocks of
 *          a cover with the fewest commands never overlap (two aligned
 *          blocks that overlap nest, and the inner one is useless), so a
 *          cover is an interval that holds the range, cut into blocks.
 *
 * The cover with the fewest blocks, among those that reach at most
 * `slack` pages beyond the range (ties: the fewest pages), is found
 * exactly:
 *
 *  1. The fewest blocks that tile an interval [x, y) is the canonical
 *     decomposition: with h the highest bit in which x and y - 1 differ
 *     and P the multiple of 2^h between them, [x, P) takes one block per
 *     set bit of P - x and [P, y) one per set bit of y - P (unless the
 *     interval is one block of 2^(h+1)); a bit above max_lg2 takes
 *     2^(bit - max_lg2) blocks of the largest size instead of one.
 *     pt_pow2_count() is that number, pt_pow2_order() the greedy walk that
 *     writes it (from x, each time the largest aligned block that fits).
 *
 *  2. Only the starts x = first with its low i bits cleared, and the ends
 *     y = end rounded up to a multiple of 2^j, can be best. Any other
 *     start x lies strictly between two of them, t - 2^i < x < t with t
 *     an odd multiple of 2^i; no block of a tiling of [x, y) crosses t (a
 *     block holding t - 1 and t is aligned to 2^(i+1) and would start at
 *     t - 2^i, before x), so dropping the blocks below t gives a cover of
 *     the range with fewer blocks and fewer pages. The same holds at the
 *     end. pt_pow2_best() tries every such pair (at most 53 * 53, and only
 *     those within the slack) with the count of step 1.
 *
 * tests/test_inval_vtd.c holds the result against a brute-force search of
 * every cover of small ranges.
 */
#ifndef IOPGT_INVAL_POW2_H
#define IOPGT_INVAL_POW2_H

#include "inval.h"

static inline unsigned pt_pow2_popcount(uint64_t v)
{
	/* Without the compiler's builtin, which may call libgcc's
	 * __popcountdi2: the freestanding core needs memset and memcpy
	 * alone. */
	v = v - ((v >> 1) & UINT64_C(0x5555555555555555));
	v = (v & UINT64_C(0x3333333333333333)) +
	    ((v >> 2) & UINT64_C(0x3333333333333333));
	v = (v + (v >> 4)) & UINT64_C(0x0f0f0f0f0f0f0f0f);
	return (unsigned)((v * UINT64_C(0x0101010101010101)) >> 56);
}

/* floor(log2(v)), v != 0. */
static inline unsigned pt_pow2_log2(uint64_t v)
{
	return 63u - (unsigned)__builtin_clzll(v);
}

/* Blocks of at most 2^max_lg2 pages in a run of len pages that the
 * canonical decomposition cuts by the set bits of len: one per bit up to
 * max_lg2, 2^(bit - max_lg2) per bit above. */
static inline uint64_t pt_pow2_run(uint64_t len, unsigned max_lg2)
{
	return pt_pow2_popcount(len & ((UINT64_C(1) << max_lg2) - 1)) +
	       (len >> max_lg2);
}

/* The fewest blocks of at most 2^max_lg2 pages that tile [x, y), x < y,
 * max_lg2 < 64. */
static inline uint64_t pt_pow2_count(uint64_t x, uint64_t y,
				     unsigned max_lg2)
{
	unsigned h;
	uint64_t p;

	if (y - x == 1)
		return 1;
	h = pt_pow2_log2(x ^ (y - 1));
	/* h < 63: x and y - 1 are below 2^63 pages */
	if (!(x & ((UINT64_C(2) << h) - 1)) && y - x == UINT64_C(2) << h)
		return pt_pow2_run(y - x, max_lg2);
	p = (y - 1) >> h << h;
	return pt_pow2_run(p - x, max_lg2) + pt_pow2_run(y - p, max_lg2);
}

/* Order (log2 pages) of the block that starts at p in the canonical
 * decomposition of [p, y), p < y <= 2^space_lg2: the largest block aligned
 * at p that ends at or before y, and at most 2^max_lg2 pages. */
static inline unsigned pt_pow2_order(uint64_t p, uint64_t y,
				     unsigned max_lg2, unsigned space_lg2)
{
	unsigned k = p ? (unsigned)__builtin_ctzll(p) : space_lg2;
	unsigned fit = pt_pow2_log2(y - p);

	if (k > fit)
		k = fit;
	return k < max_lg2 ? k : max_lg2;
}

struct pt_pow2_cover {
	uint64_t first, end; /* pages [first, end) */
	uint64_t count;      /* blocks that tile them */
	uint64_t excess;     /* pages beyond the range */
};

/* The cover of the pages [first, end) (first < end <= 2^space_lg2,
 * max_lg2 <= space_lg2 < 63) with the fewest blocks of at most 2^max_lg2
 * pages that reaches at most slack pages beyond them; of those, the one
 * with the fewest pages beyond (then the highest start: the first tried). */
static inline void pt_pow2_best(uint64_t first, uint64_t end,
				uint64_t slack, unsigned max_lg2,
				unsigned space_lg2, struct pt_pow2_cover *best)
{
	uint64_t prev_x = UINT64_MAX;

	best->first = first;
	best->end = end;
	best->count = pt_pow2_count(first, end, max_lg2);
	best->excess = 0;
	if (!slack)
		return;
	for (unsigned i = 0; i <= space_lg2; i++) {
		uint64_t x = first & ~((UINT64_C(1) << i) - 1);
		uint64_t prev_y = UINT64_MAX;

		if (first - x > slack)
			break;
		if (x == prev_x)
			continue;
		prev_x = x;
		for (unsigned j = 0; j <= space_lg2; j++) {
			uint64_t m = (UINT64_C(1) << j) - 1;
			uint64_t y = (end + m) & ~m;
			uint64_t excess = (first - x) + (y - end), n;

			if (excess > slack)
				break;
			if (y == prev_y)
				continue;
			prev_y = y;
			n = pt_pow2_count(x, y, max_lg2);
			if (n < best->count ||
			    (n == best->count && excess < best->excess)) {
				best->first = x;
				best->end = y;
				best->count = n;
				best->excess = excess;
			}
		}
	}
}

/* Count n commands that are not written (those past the caller's array,
 * or all of them when only counting): pt_inval_emit's count, without the
 * loop, saturated. */
static inline void pt_pow2_skip(struct pt_inval_out *o, uint64_t n)
{
	uint64_t total = (uint64_t)o->n + n;

	o->n = total > ~0u ? ~0u : (unsigned)total;
}

/* Whether the caller's array takes another command. */
static inline bool pt_pow2_room(const struct pt_inval_out *o)
{
	return o->cmd && o->n < o->max;
}

/* One command: written if the array takes it, else counted as
 * pt_pow2_skip counts. */
static inline void pt_pow2_cmd(struct pt_inval_out *o, uint64_t dw0,
			       uint64_t dw1, uint64_t iova, uint64_t last)
{
	if (pt_pow2_room(o))
		pt_inval_emit(o, dw0, dw1, iova, last);
	else
		pt_pow2_skip(o, 1);
}

#endif /* IOPGT_INVAL_POW2_H */
