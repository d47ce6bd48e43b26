/* SPDX-License-Identifier: MIT */
/*
 * iopgt_inval_encode: a gather's ranges as one IOMMU's invalidation
 * commands. The encoders themselves are in inval_<iommu>.c.
 */
#include "inval.h"

/* The first version of struct iopgt_inval_config: what a caller's must
 * hold at least. */
#define INVAL_CONFIG_SIZE_V1                                                \
	(offsetof(struct iopgt_inval_config, max_commands) +                \
	 sizeof(((struct iopgt_inval_config *)0)->max_commands))

/* The most commands one call writes (max_commands above it is taken as
 * this), so that the count always fits the int returned. */
#define INVAL_MAX_COMMANDS (1u << 20)

static pt_inval_encoder *const encoders[] = {
	[IOPGT_IOMMU_VTD] = iopgt__inval_vtd,
	[IOPGT_IOMMU_AMD] = iopgt__inval_amd,
	[IOPGT_IOMMU_SMMUV3] = iopgt__inval_smmuv3,
	[IOPGT_IOMMU_RISCV] = iopgt__inval_riscv,
};

static pt_inval_encoder *encoder(enum iopgt_iommu iommu)
{
	return (unsigned)iommu < sizeof(encoders) / sizeof(encoders[0])
		       ? encoders[iommu]
		       : NULL;
}

const char *iopgt_iommu_name(enum iopgt_iommu iommu)
{
	static const char *const names[] = {
		[IOPGT_IOMMU_VTD] = "vtd", [IOPGT_IOMMU_AMD] = "amd",
		[IOPGT_IOMMU_SMMUV3] = "smmuv3", [IOPGT_IOMMU_RISCV] = "riscv",
	};

	return encoder(iommu) ? names[iommu] : "unknown";
}

int iopgt_inval_config_init(const struct iopgt_domain *dom,
			    enum iopgt_iommu iommu,
			    struct iopgt_inval_config *c, size_t size)
{
	if (!dom || !c || size < INVAL_CONFIG_SIZE_V1 ||
	    size > PT_STRUCT_SIZE_MAX || !encoder(iommu))
		return -EINVAL;
	pt_memset(c, 0, size);
	c->size = (uint32_t)size;
	c->iommu = iommu;
	c->flags = IOPGT_INVAL_RANGES;
	/* The registry says which stage the format is (x86_64: VT-d's first
	 * stage, and AMD's guest tables; the others second stage). */
	if (iopgt__format(dom->cfg.format)->first_stage)
		c->flags |= IOPGT_INVAL_FIRST_STAGE;
	c->granule = dom->geo.granule;
	c->levels = dom->geo.levels;
	c->max_addr_mask = 9;
	return 0;
}

/* A WALK_EMPTY range's smallest table: a WALK, aligned, no smaller than
 * a page and inside the range. */
static bool walk_ok(const struct iopgt_inval_config *c,
		    const struct iopgt_flush_range *r)
{
	uint64_t m;

	if (!(r->flags & IOPGT_RANGE_WALK_EMPTY))
		return true;
	if (r->kind != IOPGT_FLUSH_WALK || r->walk_shift < c->granule ||
	    r->walk_shift > 64)
		return false;
	m = r->walk_shift == 64 ? UINT64_MAX
				: (UINT64_C(1) << r->walk_shift) - 1;
	return !(r->walk_iova & m) && r->walk_iova >= r->iova &&
	       (r->walk_iova | m) <= r->last;
}

int iopgt_inval_encode(const struct iopgt_inval_config *c,
		       const struct iopgt_flush_range *r, unsigned nr,
		       struct iopgt_inval_cmd *out, unsigned max)
{
	struct pt_inval_out o = { NULL, 0, 0 };
	pt_inval_encoder *enc;
	unsigned limit;
	bool all;
	int err;

	if (!c || c->size < INVAL_CONFIG_SIZE_V1 ||
	    c->size > PT_STRUCT_SIZE_MAX || !(enc = encoder(c->iommu)) ||
	    (nr && !r) || (max && !out))
		return -EINVAL;
	for (unsigned i = 0; i < nr; i++)
		if (r[i].last < r[i].iova || r[i].kind == IOPGT_FLUSH_NONE ||
		    r[i].kind >= IOPGT_FLUSH_KINDS || !walk_ok(c, &r[i]))
			return -EINVAL;
	if (!nr)
		return 0;
	/* Count first: past max_commands, one command for everything. */
	err = enc(c, r, nr, false, &o);
	if (err)
		return err;
	limit = c->max_commands ? c->max_commands : 64;
	if (limit > INVAL_MAX_COMMANDS)
		limit = INVAL_MAX_COMMANDS;
	all = o.n > limit;
	o = (struct pt_inval_out){ out, max, 0 };
	err = enc(c, r, nr, all, &o);
	if (err)
		return err;
	return o.n > max && out ? -ENOSPC : (int)o.n;
}
