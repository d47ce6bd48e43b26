/* SPDX-License-Identifier: MIT */
/*
 * Invalidation commands (iopgt_inval_encode): what the encoders of each
 * IOMMU share. Each encoder (inval_<iommu>.c) writes a gather's ranges as
 * its IOMMU's commands through pt_inval_emit; inval.c checks the
 * arguments, counts the commands first and falls back to one command for
 * everything when they are more than max_commands.
 */
#ifndef IOPGT_INVAL_H
#define IOPGT_INVAL_H

#include "pt.h"

/* Where the commands go: cmd[0 .. max - 1] (cmd NULL: only counted);
 * n counts every command emitted, also those past max. */
struct pt_inval_out {
	struct iopgt_inval_cmd *cmd;
	unsigned max;
	unsigned n;
};

static inline void pt_inval_emit(struct pt_inval_out *o, uint64_t dw0,
				 uint64_t dw1, uint64_t iova, uint64_t last)
{
	if (o->cmd && o->n < o->max) {
		struct iopgt_inval_cmd *c = &o->cmd[o->n];

		c->dw[0] = dw0;
		c->dw[1] = dw1;
		c->iova = iova;
		c->last = last;
	}
	o->n++;
}

/* What the encoders cover for r: r itself, but for a WALK over tables
 * that were empty (IOPGT_RANGE_WALK_EMPTY): the page at walk_iova, a WALK
 * of any size. Every cached entry left of those tables named one of them
 * from the table above, and each lies on walk_iova's path: an address's
 * non-leaf invalidation drops the paging-structure entries used to
 * translate it (VT-d 6.5.2.3 with IH=0; AMD IOMMU 2.4.3,
 * INVALIDATE_IOMMU_PAGES with PDE=1; SMMUv3, IHI 0070 4.4, with Leaf=0;
 * RISC-V IOMMU 4.1.1 and 9.2 with NL=1). */
static inline struct iopgt_flush_range
pt_inval_target(const struct iopgt_inval_config *c,
		const struct iopgt_flush_range *r)
{
	struct iopgt_flush_range t = *r;

	if (r->flags & IOPGT_RANGE_WALK_EMPTY) {
		t.iova = r->walk_iova;
		t.last = r->walk_iova + ((UINT64_C(1) << c->granule) - 1);
		t.leaf_sizes = 0;
		t.flags = IOPGT_RANGE_ANY_SIZE;
	}
	return t;
}

/* One encoder per IOMMU. With all false, the commands of every range of
 * r[0 .. nr - 1] (checked: last >= iova, kind ADDED, MODIFIED or WALK);
 * with all true, the one command that invalidates everything of the
 * domain (or PASID, ASID) c describes, r ignored. 0, or -EINVAL for a c
 * this IOMMU cannot take (granule, ids, flags). */
typedef int pt_inval_encoder(const struct iopgt_inval_config *c,
			     const struct iopgt_flush_range *r, unsigned nr,
			     bool all, struct pt_inval_out *o);
pt_inval_encoder iopgt__inval_vtd, iopgt__inval_amd, iopgt__inval_smmuv3,
	iopgt__inval_riscv;

#endif /* IOPGT_INVAL_H */
