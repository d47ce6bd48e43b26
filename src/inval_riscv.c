/* SPDX-License-Identifier: MIT */
/*
 * RISC-V IOMMU page-table cache invalidation commands (RISC-V IOMMU
 * Architecture Specification: the base, version 1.0, 4.1.1 "IOMMU
 * Page-Table cache invalidation commands" (3.1.1 in the 1.0.0 document);
 * and its ratified extensions 9.2 "Non-leaf PTE Invalidation Extension"
 * and 9.3 "Address Range Invalidation Extension", version 1.0 each).
 *
 * Second stage: IOTINVAL.GVMA with GV=1 and the GSCID (domain_id). First
 * stage: IOTINVAL.VMA with PSCV=1 and the PSCID (pasid), and GV=1 with the
 * GSCID: the first-stage table of a device whose G-stage is in use (the
 * VM address space of GSCID). A first-stage table of a device whose
 * G-stage is Bare is a host address space, which commands with GV=0
 * name: with IOPGT_INVAL_SINGLE_STAGE (no GSCID).
 *
 * A range is first widened to whole 4K pages, and to whole leaves when
 * its leaf_sizes is one size that is the size of a level's entry and it
 * may hold no other (no IOPGT_RANGE_ANY_SIZE): the
 * target; "beyond the range" means beyond it (for the ranges a gather
 * reports, the same).
 *
 * Base (no IOPGT_INVAL_RANGES): AV=1 invalidates only the leaf entries
 * for its address, so one command per leaf of the target (or per 4K page
 * when the leaf size is not one known size); a WALK range, whose non-leaf
 * entries are gone, takes AV=0, the whole address space of the ids, and
 * then that one command is all the call writes.
 *
 * With the extensions (capabilities.NL and capabilities.S, both): NL=1
 * when non-leaf entries changed (WALK, or a range without LEAF_ONLY),
 * and each command a NAPOT block of 2^k pages (S=1 for k >= 1): the
 * fewest blocks that cover the target within the slack
 * (src/inval_pow2.h).
 */
#include "inval.h"
#include "inval_pow2.h"

/* The first doubleword: opcode 6:0 (IOTINVAL = 1), func3 9:7 (VMA 0,
 * GVMA 1), AV 10, PSCID 31:12, PSCV 32, GV 33, NL 34 (9.2), GSCID 59:44.
 * The second: ADDR[63:12] in 61:10, S at 9 (bit 73 of the command, 9.3). */
#define RV_OP_IOTINVAL		UINT64_C(1)
#define RV_IOTINVAL_VMA		(UINT64_C(0) << 7)
#define RV_IOTINVAL_GVMA	(UINT64_C(1) << 7)
#define RV_IOTINVAL_AV		(UINT64_C(1) << 10)
#define RV_IOTINVAL_PSCID_SHIFT	12
#define RV_IOTINVAL_PSCV	(UINT64_C(1) << 32)
#define RV_IOTINVAL_GV		(UINT64_C(1) << 33)
#define RV_IOTINVAL_NL		(UINT64_C(1) << 34)
#define RV_IOTINVAL_GSCID_SHIFT	44
#define RV_IOTINVAL_S		(UINT64_C(1) << 9)
#define RV_IOTINVAL_ADDR_SHIFT	10

#define RV_PSCID_MAX		0xfffffu /* 20 bits */
#define RV_GSCID_MAX		0xffffu  /* 16 bits */
/* 4K pages; 2^52 of them span the 64-bit space, the largest NAPOT range
 * ADDR can name (its MSB 0, every other bit 1). */
#define RV_PAGE_LG2		12
#define RV_SPACE_LG2		(64 - RV_PAGE_LG2)
/* Levels of Sv39/Sv48/Sv57 and their G-stage forms: 9 bits each. */
#define RV_LEVEL_BITS		9

#define RV_INVAL_FLAGS                                                      \
	(IOPGT_INVAL_FIRST_STAGE | IOPGT_INVAL_RANGES | IOPGT_INVAL_NESTED | \
	 IOPGT_INVAL_SINGLE_STAGE)

/* log2 of a range's leaf size when it is one size, a level's entry (4K,
 * 2M, 1G, 512G, 256T) and not a WALK; else the page's. */
static unsigned rv_unit(const struct iopgt_flush_range *r)
{
	uint64_t s = r->leaf_sizes;
	unsigned lg2;

	if (r->kind == IOPGT_FLUSH_WALK || (r->flags & IOPGT_RANGE_ANY_SIZE) ||
	    !s || (s & (s - 1)))
		return RV_PAGE_LG2;
	lg2 = pt_pow2_log2(s);
	if (lg2 < RV_PAGE_LG2 || (lg2 - RV_PAGE_LG2) % RV_LEVEL_BITS)
		return RV_PAGE_LG2;
	return lg2;
}

/* The NAPOT blocks of the fewest commands for the target of r. */
static void rv_range_napot(struct pt_inval_out *o, uint64_t dw0,
			   const struct iopgt_flush_range *r, uint64_t slack)
{
	unsigned u = rv_unit(r);
	uint64_t first = (r->iova >> u) << (u - RV_PAGE_LG2);
	uint64_t end = ((r->last >> u) + 1) << (u - RV_PAGE_LG2);
	struct pt_pow2_cover cov;
	uint64_t done = 0;

	/* NL=1: the address-specific invalidation also drops non-leaf
	 * entries for the addresses (9.2.1, 9.2.2). */
	if (r->kind == IOPGT_FLUSH_WALK || !(r->flags & IOPGT_RANGE_LEAF_ONLY))
		dw0 |= RV_IOTINVAL_NL;
	pt_pow2_best(first, end, slack, RV_SPACE_LG2, RV_SPACE_LG2, &cov);
	for (uint64_t p = cov.first; p < cov.end; done++) {
		unsigned k = pt_pow2_order(p, cov.end, RV_SPACE_LG2,
					   RV_SPACE_LG2);
		uint64_t dw1 = p << RV_IOTINVAL_ADDR_SHIFT;

		if (!pt_pow2_room(o)) {
			pt_pow2_skip(o, cov.count - done);
			return;
		}
		/* S=1: ADDR names 2^(X + 1) pages, X the position of its
		 * lowest 0 bit (9.3); one page is S=0. */
		if (k)
			dw1 |= RV_IOTINVAL_S |
			       ((UINT64_C(1) << (k - 1)) - 1)
				       << RV_IOTINVAL_ADDR_SHIFT;
		pt_inval_emit(o, dw0, dw1, p << RV_PAGE_LG2,
			      ((p + (UINT64_C(1) << k)) << RV_PAGE_LG2) - 1);
		p += UINT64_C(1) << k;
	}
}

/* AV=1 for each leaf (or 4K page) of the target of r: each drops the
 * leaf entries for its address, whatever their size (4.1.1). */
static void rv_range_pages(struct pt_inval_out *o, uint64_t dw0,
			   const struct iopgt_flush_range *r)
{
	unsigned u = rv_unit(r);
	uint64_t first = r->iova >> u, last = r->last >> u;

	for (uint64_t i = first;; i++) {
		uint64_t addr = i << u;

		if (!pt_pow2_room(o)) {
			pt_pow2_skip(o, last - i + 1);
			return;
		}
		pt_inval_emit(o, dw0,
			      addr >> RV_PAGE_LG2 << RV_IOTINVAL_ADDR_SHIFT,
			      addr, addr + ((UINT64_C(1) << u) - 1));
		if (i == last)
			return;
	}
}

/* IOPGT_INVAL_NESTED needs nothing more here: IOTINVAL.GVMA also drops
 * the entries that map a guest virtual address straight through a guest
 * physical address it names (4.1.1, the note on IOTINVAL.GVMA). */
int iopgt__inval_riscv(const struct iopgt_inval_config *c,
		       const struct iopgt_flush_range *r, unsigned nr, bool all,
		       struct pt_inval_out *o)
{
	bool s1 = c->flags & IOPGT_INVAL_FIRST_STAGE;
	/* A first stage alone (iohgatp Bare): GV=0 names the host's
	 * address spaces, and the GSCID field is unused (4.1.1). */
	bool bare = c->flags & IOPGT_INVAL_SINGLE_STAGE;
	uint64_t dw0 = RV_OP_IOTINVAL;

	if (c->granule != RV_PAGE_LG2 ||
	    (c->flags & ~(unsigned)RV_INVAL_FLAGS) ||
	    c->domain_id > RV_GSCID_MAX || (s1 && c->pasid > RV_PSCID_MAX) ||
	    (bare && (!s1 || c->domain_id ||
		      (c->flags & IOPGT_INVAL_NESTED))))
		return -EINVAL;
	if (!bare)
		dw0 |= RV_IOTINVAL_GV |
		       (uint64_t)c->domain_id << RV_IOTINVAL_GSCID_SHIFT;
	if (s1)
		dw0 |= RV_IOTINVAL_VMA | RV_IOTINVAL_PSCV |
		       (uint64_t)c->pasid << RV_IOTINVAL_PSCID_SHIFT;
	else
		dw0 |= RV_IOTINVAL_GVMA;

	/* Without NL, address-specific commands leave non-leaf entries
	 * (4.1.1: AV=1 invalidates entries "that contain first-stage leaf
	 * page table entries", GVMA "leaf second-stage page table
	 * entries"): a WALK range takes AV=0, the whole space. */
	if (!all && !(c->flags & IOPGT_INVAL_RANGES))
		for (unsigned i = 0; i < nr; i++)
			if (r[i].kind == IOPGT_FLUSH_WALK)
				all = true;
	if (all) {
		/* AV=0: every entry of the PSCID in the GSCID's VM space
		 * (VMA; with GV=0 in the host's), or of the GSCID's VM
		 * spaces (GVMA). */
		pt_pow2_cmd(o, dw0, 0, 0, UINT64_MAX);
		return 0;
	}
	dw0 |= RV_IOTINVAL_AV;
	for (unsigned i = 0; i < nr; i++) {
		const struct iopgt_flush_range ti = pt_inval_target(c, &r[i]);

		if (c->flags & IOPGT_INVAL_RANGES)
			rv_range_napot(o, dw0, &ti, c->slack >> RV_PAGE_LG2);
		else
			rv_range_pages(o, dw0, &ti);
	}
	return 0;
}
