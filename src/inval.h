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
