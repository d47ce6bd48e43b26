/* SPDX-License-Identifier: MIT */
/*
 * AMD IOMMU INVALIDATE_IOMMU_PAGES commands (AMD I/O Virtualization
 * Technology (IOMMU) Specification, rev 3.x, section 2.4.3). The command
 * is four 32-bit words; dw[0] holds word 0 in bits 31:0 and word 1 in bits
 * 63:32, dw[1] words 2 and 3:
 *
 *   word 0  bits 19:0   PASID (GN = 1)
 *   word 1  bits 15:0   DomainID
 *           bits 31:28  opcode, 03h
 *   word 2  bit 0       S: the address names more than one page
 *           bit 1       PDE: invalidate page directory entries as well
 *           bit 2       GN: the PASID is valid (guest, v2, tables)
 *           bits 31:12  Address[31:12]
 *   word 3  bits 31:0   Address[63:32]
 *
 * With S = 1 the size is given by the address itself: the lowest zero bit
 * of Address at or above bit 12, bit n - 1, makes the block 2^n bytes
 * (Address[12] = 0: 8K; Address[12] = 1, Address[13] = 0: 16K; ...), the
 * bits below it set to 1. Address 7FFF_FFFF_FFFF_F000h with S = 1 is every
 * page. Each range is covered by the fewest such blocks within c->slack
 * (inval_pow2.h); any block up to the whole space can be named.
 */
#include "inval_pow2.h"

#define AMD_OPCODE_INV_IOMMU_PAGES UINT64_C(0x3)
#define AMD_OPCODE_SHIFT 60        /* word 1 bits 31:28 */
#define AMD_DOMAIN_SHIFT 32        /* word 1 bits 15:0 */
#define AMD_DOMAIN_MAX 0xffffu
#define AMD_PASID_MAX 0xfffffu     /* word 0 bits 19:0 */
#define AMD_S (UINT64_C(1) << 0)   /* word 2 bit 0 */
#define AMD_PDE (UINT64_C(1) << 1) /* word 2 bit 1 */
#define AMD_GN (UINT64_C(1) << 2)  /* word 2 bit 2 */
#define AMD_ALL_PAGES UINT64_C(0x7ffffffffffff000)

#define AMD_GRANULE 12u
#define AMD_SPACE_LG2 (64u - AMD_GRANULE) /* 2^52 pages: 64-bit addresses */

static int amd_check(const struct iopgt_inval_config *c)
{
	/* IOPGT_INVAL_RANGES is accepted and changes nothing: every
	 * INVALIDATE_IOMMU_PAGES takes a size. */
	if (c->granule != AMD_GRANULE ||
	    (c->flags & ~(unsigned)(IOPGT_INVAL_FIRST_STAGE |
				    IOPGT_INVAL_RANGES)) ||
	    c->domain_id > AMD_DOMAIN_MAX || c->pasid > AMD_PASID_MAX)
		return -EINVAL;
	return 0;
}

/* Word 2 and 3 (dw[1]) for the block of 2^n bytes at iova (aligned to it,
 * 12 <= n <= 64), flags (PDE, GN) or'ed in by the caller. */
static uint64_t amd_address(uint64_t iova, unsigned n)
{
	if (n == AMD_GRANULE)
		return iova;
	/* bits 12 .. n - 2 set, bit n - 1 clear (it is clear in the aligned
	 * iova); n = 64 gives AMD_ALL_PAGES */
	return ((iova | ((UINT64_C(1) << (n - 1)) - 1)) &
		~((UINT64_C(1) << AMD_GRANULE) - 1)) |
	       AMD_S;
}

int iopgt__inval_amd(const struct iopgt_inval_config *c,
		     const struct iopgt_flush_range *r, unsigned nr, bool all,
		     struct pt_inval_out *o)
{
	uint64_t dw0, gn = 0;
	int err = amd_check(c);

	if (err)
		return err;
	dw0 = AMD_OPCODE_INV_IOMMU_PAGES << AMD_OPCODE_SHIFT |
	      (uint64_t)c->domain_id << AMD_DOMAIN_SHIFT;
	if (c->flags & IOPGT_INVAL_FIRST_STAGE) {
		/* Guest (v2) tables are looked up by PASID: GN = 1. */
		dw0 |= c->pasid;
		gn = AMD_GN;
	}
	if (all) {
		pt_inval_emit(o, dw0, AMD_ALL_PAGES | AMD_S | AMD_PDE | gn, 0,
			      UINT64_MAX);
		return 0;
	}

	for (unsigned i = 0; i < nr; i++) {
		const struct iopgt_flush_range ti = pt_inval_target(c, &r[i]),
					       *ri = &ti;
		/* PDE = 0 keeps the cached page directory entries: only
		 * leaves changed. Never for WALK, whose unlinked tables'
		 * entries must go. */
		uint64_t pde = (ri->flags & IOPGT_RANGE_LEAF_ONLY) &&
				       ri->kind != IOPGT_FLUSH_WALK
			       ? 0
			       : AMD_PDE;
		struct pt_pow2_cover cv;
		uint64_t p;

		/* Pages [first, end): the range rounded out to whole pages;
		 * the slack counts beyond them. */
		pt_pow2_best(ri->iova >> AMD_GRANULE,
			     (ri->last >> AMD_GRANULE) + 1,
			     c->slack >> AMD_GRANULE, AMD_SPACE_LG2,
			     AMD_SPACE_LG2, &cv);
		for (p = cv.first; p < cv.end && o->cmd && o->n < o->max;
		     cv.count--) {
			unsigned k = pt_pow2_order(p, cv.end, AMD_SPACE_LG2,
						   AMD_SPACE_LG2);
			unsigned n = k + AMD_GRANULE;
			uint64_t iova = p << AMD_GRANULE;
			/* 2 << 63 wraps to 0: the whole space ends at
			 * UINT64_MAX */
			uint64_t last = iova + ((UINT64_C(2) << (n - 1)) - 1);

			pt_inval_emit(o, dw0, amd_address(iova, n) | pde | gn,
				      iova, last);
			p += UINT64_C(1) << k;
		}
		pt_pow2_skip(o, cv.count);
	}
	return 0;
}
