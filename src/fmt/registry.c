/* SPDX-License-Identifier: MIT */
/*
 * The format registry: the one table of the formats this library offers.
 * The library (iopgt_config_init, iopgt_domain_create's choice of engine,
 * iopgt_format_name, iopgt_format_info), the tool's --format, the simulator
 * and the tests all take their formats from here, through
 * iopgt_format_info() outside the library. Adding a format adds one entry
 * (docs/formats.md, "Adding a format").
 *
 * Each compiled engine (src/fmt_<x>.c: a format header, then engine.h) is
 * named here for the granule it serves. The ias and oas ranges are the
 * ones the format's fmt_geometry accepts for every granule it offers
 * (tests/test_formats.c holds each entry to its engines).
 */
#include "../pt.h"

extern const struct pt_engine iopgt__engine_x86_64;
extern const struct pt_engine iopgt__engine_vtdss;
extern const struct pt_engine iopgt__engine_amdv1;
extern const struct pt_engine iopgt__engine_arm_s2_4k;
extern const struct pt_engine iopgt__engine_arm_s2_16k;
extern const struct pt_engine iopgt__engine_arm_s2_64k;

const struct pt_format iopgt__formats[] = {
	{
		.format = IOPGT_FMT_X86_64,
		.name = "x86_64",
		.description = "x86-64 paging (Intel VT-d first stage, AMD "
			       "IOMMU v2), 4 or 5 levels",
		.granules = { { 12, &iopgt__engine_x86_64 } },
		.ias_min = 40, .ias_max = 57,
		.oas_min = 32, .oas_max = 52,
		.ias_default = 48, .oas_default = 52,
		/* VT-d's first-stage table (VT-d 3.x, chapter 3.6); AMD's
		 * guest (v2) table is the same format. */
		.iommu = IOPGT_IOMMU_VTD, .first_stage = true,
	},
	{
		.format = IOPGT_FMT_ARM_S2,
		.name = "arm_s2",
		.description = "ARM VMSAv8-64 LPAE stage 2, 4K/16K/64K "
			       "granules, concatenated roots",
		.granules = { { 12, &iopgt__engine_arm_s2_4k },
			      { 14, &iopgt__engine_arm_s2_16k },
			      { 16, &iopgt__engine_arm_s2_64k } },
		.ias_min = 32, .ias_max = 48,
		.oas_min = 32, .oas_max = 48,
		/* VTCR_EL2.PS sizes: 32, 36, 40, 42, 44, 48 bits. */
		.oas_values = (UINT64_C(1) << 32) | (UINT64_C(1) << 36) |
			      (UINT64_C(1) << 40) | (UINT64_C(1) << 42) |
			      (UINT64_C(1) << 44) | (UINT64_C(1) << 48),
		.ias_default = 48, .oas_default = 48,
		.iommu = IOPGT_IOMMU_SMMUV3, /* an SMMUv3 stage-2 table */
	},
	{
		.format = IOPGT_FMT_VTDSS,
		.name = "vtdss",
		.description = "Intel VT-d second stage, 3, 4 or 5 levels",
		.granules = { { 12, &iopgt__engine_vtdss } },
		.ias_min = 39, .ias_max = 57,
		.oas_min = 32, .oas_max = 52,
		.ias_default = 48, .oas_default = 52,
		.iommu = IOPGT_IOMMU_VTD,
	},
	{
		.format = IOPGT_FMT_AMDV1,
		.name = "amdv1",
		.description = "AMD IOMMU v1 (host) tables, 3 to 6 levels",
		.granules = { { 12, &iopgt__engine_amdv1 } },
		.ias_min = 39, .ias_max = 63,
		.oas_min = 32, .oas_max = 52,
		.ias_default = 48, .oas_default = 52,
		.iommu = IOPGT_IOMMU_AMD,
	},
};

const unsigned iopgt__nformats =
	sizeof(iopgt__formats) / sizeof(iopgt__formats[0]);

const struct pt_format *iopgt__format(enum iopgt_format fmt)
{
	for (unsigned i = 0; i < iopgt__nformats; i++)
		if (iopgt__formats[i].format == fmt)
			return &iopgt__formats[i];
	return NULL;
}

const struct pt_engine *iopgt__engine(enum iopgt_format fmt, unsigned granule)
{
	const struct pt_format *f = iopgt__format(fmt);

	if (!f)
		return NULL;
	for (unsigned i = 0; i < 4 && f->granules[i].granule; i++) {
		const struct pt_engine *eng = f->granules[i].eng;

		if (f->granules[i].granule != granule)
			continue;
		pt_assert("a registry entry names engines of its own format "
			  "and granule",
			  eng->format == fmt && eng->granule == granule &&
				  eng->max_oas == f->oas_max);
		return eng;
	}
	return NULL;
}
