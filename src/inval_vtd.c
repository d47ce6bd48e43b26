/* SPDX-License-Identifier: MIT */
/*
 * Intel VT-d invalidation descriptors (Intel Virtualization Technology for
 * Directed I/O, Architecture Specification, rev 3.x/4.x, section 6.5.2
 * "Queued Invalidation Interface"):
 *
 *   second stage  IOTLB Invalidate Descriptor (6.5.2.3), type 2
 *   first stage   PASID-based-IOTLB Invalidate Descriptor (6.5.2.4), type 6
 *
 * Both are 128-bit descriptors; dw[0] holds bits 63:0, dw[1] bits 127:64.
 * A page-selective descriptor names 2^AM pages at ADDR (ADDR aligned to
 * them, AM at most CAP_REG.MAMV, 11.4.2); each range is covered by the
 * fewest such blocks within c->slack (inval_pow2.h). Without page-selective
 * invalidation (CAP_REG.PSI clear: no IOPGT_INVAL_RANGES), and when asked
 * for everything, one domain-selective (second stage) or PASID-selective
 * (first stage) descriptor stands for the whole call.
 */
#include "inval_pow2.h"

/* Bits 3:0 of both descriptors: the type (bits 11:9 hold type[6:4],
 * zero for both). */
#define VTD_TYPE_IOTLB 0x2u       /* 6.5.2.3 */
#define VTD_TYPE_PIOTLB 0x6u      /* 6.5.2.4 */
/* Bits 5:4, granularity G. IOTLB Invalidate (6.5.2.3): 01b global,
 * 10b domain-selective, 11b page-selective-within-domain.
 * PASID-based-IOTLB Invalidate (6.5.2.4): 10b PASID-selective (all of the
 * PASID's mappings but global ones), 11b page-selective-within-PASID. */
#define VTD_G_SHIFT 4
#define VTD_G_DOMAIN 2u
#define VTD_G_PASID 2u
#define VTD_G_PAGE 3u
/* Bits 31:16: DID, the domain id (16 bits) in both descriptors. */
#define VTD_DID_SHIFT 16
#define VTD_DID_MAX 0xffffu
/* PASID-based-IOTLB Invalidate: bits 51:32, the PASID (20 bits). */
#define VTD_PASID_SHIFT 32
#define VTD_PASID_MAX 0xfffffu
/* Upper quadword (dw[1]) of both: bits 5:0 (descriptor bits 69:64) AM,
 * bit 6 (70) IH, bits 63:12 (127:76) ADDR[63:12]. */
#define VTD_AM_MAX 63u
#define VTD_IH (UINT64_C(1) << 6)
/* The IOTLB Invalidate Descriptor's drain bits, DW (bit 6) and DR (bit 7),
 * are left 0. Hardware honours them only where CAP_REG.DWD/DRD (11.4.2)
 * are set, which this configuration does not carry; hardware of major
 * version 2 or later (VER_REG) performs the drains an invalidation needs
 * without them, and reports DWD/DRD as 1 only for older software. A
 * driver for version 1 hardware that reports DWD/DRD ors bits 7:6 into
 * dw[0] itself. The PASID-based descriptor has no drain bits (bits 8:6
 * are reserved). */

#define VTD_GRANULE 12u
#define VTD_SPACE_LG2 (64u - VTD_GRANULE) /* 2^52 pages: 64-bit addresses */

static int vtd_check(const struct iopgt_inval_config *c)
{
	if (c->granule != VTD_GRANULE ||
	    (c->flags & ~(unsigned)(IOPGT_INVAL_FIRST_STAGE |
				    IOPGT_INVAL_RANGES)) ||
	    c->domain_id > VTD_DID_MAX || c->pasid > VTD_PASID_MAX ||
	    c->max_addr_mask > VTD_AM_MAX)
		return -EINVAL;
	return 0;
}

/* dw[0] of this call's descriptors of granularity g: type, G, DID and,
 * first stage, the PASID. */
static uint64_t vtd_dw0(const struct iopgt_inval_config *c, unsigned g)
{
	uint64_t dw0 = (uint64_t)g << VTD_G_SHIFT |
		       (uint64_t)c->domain_id << VTD_DID_SHIFT;

	if (c->flags & IOPGT_INVAL_FIRST_STAGE)
		return dw0 | VTD_TYPE_PIOTLB |
		       (uint64_t)c->pasid << VTD_PASID_SHIFT;
	return dw0 | VTD_TYPE_IOTLB;
}

/* Order (log2 pages) of the largest leaf size the range lists (0 when it
 * lists only 4K, or none; sizes a range with IOPGT_RANGE_ANY_SIZE may hold
 * besides are those of ADDED results, of the leaves of a WALK range's
 * tables, which lie inside it, and of AMD v1's leaves of several entries,
 * which VT-d never walks). The AM of a descriptor that
 * invalidates a superpage's translation must be at least the superpage's
 * order (11.4.8.2 IVA_REG, AM: "when invalidating mapping for a 2MB page,
 * software must specify an address mask value of at least 9"), so the
 * range is first rounded out to such leaves: a superpage split by an unmap
 * is cached whole, though only part of it is in the range. */
static unsigned vtd_leaf_order(const struct iopgt_flush_range *r)
{
	uint64_t big = r->leaf_sizes >> VTD_GRANULE;

	return big ? pt_pow2_log2(big) : 0;
}

int iopgt__inval_vtd(const struct iopgt_inval_config *c,
		     const struct iopgt_flush_range *r, unsigned nr, bool all,
		     struct pt_inval_out *o)
{
	unsigned max_lg2;
	int err = vtd_check(c);

	if (err)
		return err;
	max_lg2 = c->max_addr_mask < VTD_SPACE_LG2 ? c->max_addr_mask
						   : VTD_SPACE_LG2;
	/* No page-selective invalidation (CAP_REG.PSI = 0, 11.4.2): each
	 * range needs the whole domain, so one descriptor does for all. So
	 * does a superpage the largest AM cannot name. */
	if (!(c->flags & IOPGT_INVAL_RANGES))
		all = true;
	for (unsigned i = 0; i < nr && !all; i++)
		if (vtd_leaf_order(&r[i]) > max_lg2)
			all = true;
	if (all) {
		/* Domain-selective (6.5.2.3) or PASID-selective (6.5.2.4):
		 * no address, dw[1] zero. */
		pt_inval_emit(o, vtd_dw0(c, (c->flags & IOPGT_INVAL_FIRST_STAGE)
						 ? VTD_G_PASID
						 : VTD_G_DOMAIN),
			      0, 0, UINT64_MAX);
		return 0;
	}

	for (unsigned i = 0; i < nr; i++) {
		const struct iopgt_flush_range ti = pt_inval_target(c, &r[i]),
					       *ri = &ti;
		uint64_t dw0 = vtd_dw0(c, VTD_G_PAGE);
		/* IH = 1: only leaf entries changed, the paging-structure
		 * caches may be kept (6.5.2.3, 6.5.2.4). Never for WALK,
		 * whose unlinked tables' cached entries must go. */
		uint64_t ih = (ri->flags & IOPGT_RANGE_LEAF_ONLY) &&
				      ri->kind != IOPGT_FLUSH_WALK
			      ? VTD_IH
			      : 0;
		unsigned z = vtd_leaf_order(ri);
		uint64_t zmask = (UINT64_C(1) << z) - 1;
		struct pt_pow2_cover cv;
		uint64_t p;

		/* Pages [first, end): the range rounded out to whole pages
		 * and to its largest leaf; the slack counts beyond them. */
		pt_pow2_best((ri->iova >> VTD_GRANULE) & ~zmask,
			     ((ri->last >> VTD_GRANULE) | zmask) + 1,
			     c->slack >> VTD_GRANULE, max_lg2, VTD_SPACE_LG2,
			     &cv);
		for (p = cv.first; p < cv.end && o->cmd && o->n < o->max;
		     cv.count--) {
			unsigned am = pt_pow2_order(p, cv.end, max_lg2,
						    VTD_SPACE_LG2);
			uint64_t iova = p << VTD_GRANULE;
			/* 2 << 63 wraps to 0: the whole space ends at
			 * UINT64_MAX */
			uint64_t last = iova +
					((UINT64_C(2) << (am + VTD_GRANULE - 1)) -
					 1);

			pt_inval_emit(o, dw0, iova | ih | am, iova, last);
			p += UINT64_C(1) << am;
		}
		pt_pow2_skip(o, cv.count);
	}
	return 0;
}
