/* SPDX-License-Identifier: MIT */
/*
 * Intel VT-d second-stage paging entries: the tables a VT-d remapping unit
 * walks for legacy-mode context entries (second-level translation) and for
 * scalable-mode PASID entries with PGTT = second-stage or nested.
 *
 * Implements (Intel Virtualization Technology for Directed I/O
 * Architecture Specification, section 3.7 "Second-Stage Translation"
 * (3-, 4- and 5-level tables for 39-, 48- and 57-bit AGAW; 2M and 1G
 * pages where SLLPS allows them), section 9.8 "Second-Stage Paging
 * Entries" (the SS-PML5E, SS-PML4E, SS-PDPE, SS-PDE and SS-PTE formats)):
 *
 *   bit 0      R     reads allowed
 *   bit 1      W     writes allowed
 *   bit 2      X     execute requests allowed (Figure 9-8 note: ignored by
 *                    the hardware unless ECAP.ERS is set and the
 *                    scalable-mode PASID entry has SSEE = 1; with it
 *                    ignored, an execute request needs R only)
 *   5:3        EMT   extended memory type (leaves; used when the PASID
 *                    entry enables it, ignored otherwise): 6 write-back,
 *                    0 uncacheable
 *   bit 6      IPAT  ignore PAT (leaves)
 *   bit 7      PS    leaf at SS-PDPE (1G) or SS-PDE (2M); ignored in
 *                    SS-PTE, reserved in SS-PML4E and SS-PML5E
 *   bit 8      A     accessed (set by the hardware when second-stage A/D
 *                    is enabled, in every entry it uses)
 *   bit 9      D     dirty (leaves; set by the hardware on a write with
 *                    second-stage A/D enabled)
 *   bit 11     SNP   snoop: forces the access to snoop processor caches
 *                    (leaves; with ECAP.SC)
 *   51:12      address of the next table or of the 4K page; 51:21 for 2M
 *              and 51:30 for 1G pages, the bits below reserved. Bits at
 *              and above the hardware address width are reserved.
 *
 * There is no present bit: an entry is present when R or W is set (section
 * 3.7: an entry with both clear is not present). Zero is the only empty
 * entry the library writes, and every entry it writes has R or W set, so
 * the engine's "non-zero is present" holds.
 *
 * Levels here: 0 = SS-PTE, 1 = SS-PDE, 2 = SS-PDPE, 3 = SS-PML4E,
 * 4 = SS-PML5E. Permissions are ANDed down the walk, so table entries grant
 * R, W and X and the leaf decides. Table entries and leaves carry A already
 * set, so the hardware never has to write a table entry or a leaf on a
 * read, and only D on a write.
 */
#ifndef IOPGT_FMT_VTDSS_H
#define IOPGT_FMT_VTDSS_H

#include "../pt.h"

#define FMT_FORMAT IOPGT_FMT_VTDSS
#define FMT_MAX_OAS 52
#define FMT_GRANULE 12
#define FMT_BITS 9

#define VTDSS_R (UINT64_C(1) << 0)
#define VTDSS_W (UINT64_C(1) << 1)
#define VTDSS_X (UINT64_C(1) << 2)
#define VTDSS_EMT_SHIFT 3
#define VTDSS_EMT_MASK (UINT64_C(7) << VTDSS_EMT_SHIFT)
#define VTDSS_EMT_UC (UINT64_C(0) << VTDSS_EMT_SHIFT)
#define VTDSS_EMT_WB (UINT64_C(6) << VTDSS_EMT_SHIFT)
#define VTDSS_IPAT (UINT64_C(1) << 6)
#define VTDSS_PS (UINT64_C(1) << 7)
#define VTDSS_A (UINT64_C(1) << 8)
#define VTDSS_D (UINT64_C(1) << 9)
#define VTDSS_SNP (UINT64_C(1) << 11)
#define VTDSS_ADDR UINT64_C(0x000ffffffffff000)

/* What the hardware sets with second-stage A/D enabled: A on any access,
 * D on a write (section 3.7, "Accessed and Dirty Flags"). */
#define FMT_HW_BITS (VTDSS_A | VTDSS_D)
#define FMT_HW_ACCESSED VTDSS_A
#define FMT_HW_DIRTY VTDSS_D

/* Bits 58:52 are ignored (section 9.8: 61:52 in every entry). */
#define FMT_SW_BITS UINT64_C(0x07f0000000000000)

/* A table entry is the next table's address plus R, W and A at every
 * level, and the hardware never changes it (A is preset). */
#define FMT_TABLE_LINEAR 1

/* Second-stage input addresses are not sign-extended: the input must lie
 * below 2^MGAW (section 3.7). */
#define FMT_INPUT_SIGN_EXTEND 0

/* Leaves: SS-PTE (4K), SS-PDE with PS (2M), SS-PDPE with PS (1G). Which
 * superpages a unit walks is in CAP_REG.SLLPS; cfg.leaf_sizes narrows. */
static inline uint64_t fmt_leaf_sizes(unsigned level, const struct pt_geo *geo)
{
	(void)geo;
	return level < 3 ? UINT64_C(1) << (FMT_GRANULE + FMT_BITS * level) : 0;
}
#define fmt_leaf_sizes fmt_leaf_sizes

/* A present entry (R or W) above level 0 without PS. The engine asks
 * about empty entries too, which have no present bit to fail. */
static inline bool fmt_is_table(uint64_t e, unsigned level)
{
	return level > 0 && (e & (VTDSS_R | VTDSS_W)) && !(e & VTDSS_PS);
}
#define fmt_is_table fmt_is_table

static inline uint64_t fmt_table_pa(uint64_t e, unsigned level)
{
	(void)level;
	return e & VTDSS_ADDR;
}
#define fmt_table_pa fmt_table_pa

static inline uint64_t fmt_make_table(uint64_t pa, unsigned level)
{
	(void)level;
	return pa | VTDSS_R | VTDSS_W | VTDSS_X | VTDSS_A;
}
#define fmt_make_table fmt_make_table

static inline uint64_t fmt_leaf_pa(uint64_t e, unsigned level)
{
	return e & VTDSS_ADDR &
	       ~((UINT64_C(1) << (FMT_GRANULE + FMT_BITS * level)) - 1);
}
#define fmt_leaf_pa fmt_leaf_pa

static inline uint64_t fmt_make_leaf(uint64_t pa, unsigned level,
				     uint64_t attrs)
{
	return pa | attrs | (level ? VTDSS_PS : 0);
}
#define fmt_make_leaf fmt_make_leaf

static inline uint64_t fmt_leaf_attrs(uint64_t e, unsigned level)
{
	(void)level;
	return e & ~(VTDSS_ADDR | VTDSS_PS | FMT_HW_BITS);
}
#define fmt_leaf_attrs fmt_leaf_attrs

/* R and W are separate bits, so write-only is exact. Normal memory is
 * write-back; IOPGT_PROT_MMIO is uncacheable with IPAT, so that no PAT
 * type can make it cacheable. PT_PROT_SNOOP (IOPGT_OPT_FORCE_SNOOP) sets
 * SNP. IOPGT_PROT_EXEC sets X (with R or W: an entry with both clear is
 * not present). There is no user/supervisor bit: USER is -EINVAL. */
static inline int fmt_prot_attrs(unsigned prot, uint64_t *attrs)
{
	uint64_t a = VTDSS_A;

	if (prot & ~(unsigned)(IOPGT_PROT_READ | IOPGT_PROT_WRITE |
			       IOPGT_PROT_EXEC | IOPGT_PROT_MMIO |
			       PT_PROT_SNOOP))
		return -EINVAL;
	if (!(prot & (IOPGT_PROT_READ | IOPGT_PROT_WRITE)))
		return -EINVAL;
	if (prot & IOPGT_PROT_READ)
		a |= VTDSS_R;
	if (prot & IOPGT_PROT_WRITE)
		a |= VTDSS_W;
	if (prot & IOPGT_PROT_EXEC)
		a |= VTDSS_X;
	if (prot & IOPGT_PROT_MMIO)
		a |= VTDSS_EMT_UC | VTDSS_IPAT;
	else
		a |= VTDSS_EMT_WB;
	if (prot & PT_PROT_SNOOP)
		a |= VTDSS_SNP;
	*attrs = a;
	return 0;
}
#define fmt_prot_attrs fmt_prot_attrs

/* R and W are bits 0 and 1 like IOPGT_PROT_READ and IOPGT_PROT_WRITE; X
 * is EXEC; MMIO is EMT uncacheable (the library writes write-back
 * otherwise). */
static inline unsigned fmt_leaf_prot(uint64_t e, unsigned level)
{
	_Static_assert(IOPGT_PROT_READ == VTDSS_R &&
			       IOPGT_PROT_WRITE == VTDSS_W,
		       "protection bits no longer line up with VT-d bits");
	(void)level;
	return (unsigned)(e & (VTDSS_R | VTDSS_W)) |
	       (e & VTDSS_X ? IOPGT_PROT_EXEC : 0) |
	       ((e & VTDSS_EMT_MASK) == VTDSS_EMT_UC ? IOPGT_PROT_MMIO : 0);
}
#define fmt_leaf_prot fmt_leaf_prot

/* The hardware's view: present when R or W is set. */
static inline bool fmt_entry_valid(uint64_t e, unsigned level)
{
	(void)level;
	return (e & (VTDSS_R | VTDSS_W)) != 0;
}
#define fmt_entry_valid fmt_entry_valid

/* Geometry (section 3.7): AGAW 39 walks 3 levels, 48 four and 57 five
 * (CAP_REG.SAGAW lists those a unit supports). The input must lie below
 * 2^MGAW, which may be smaller than the AGAW, so ias 40..48 walks 4
 * levels with the root indexing its top ias - 39 bits, and 49..57 five;
 * 39 walks 3. A unit whose MGAW is below 39 takes ias 39: the library
 * never maps above what the caller asks. One 4K root. */
static inline int fmt_geometry(const struct iopgt_config *cfg,
			       struct pt_geo *geo)
{
	if (cfg->granule != 12 || cfg->ias < 39 || cfg->ias > 57 ||
	    cfg->oas < 32 || cfg->oas > FMT_MAX_OAS)
		return -EINVAL;
	geo->granule = 12;
	geo->bits = 9;
	geo->levels = cfg->ias > 48 ? 5 : cfg->ias > 39 ? 4 : 3;
	geo->root_bits = cfg->ias - (12 + 9 * (geo->levels - 1));
	geo->root_tables = 1;
	/* The AGAW the context or PASID entry's AW field encodes:
	 * 39 (3 levels), 48 (4), 57 (5); the root is SS-PML<levels>. */
	geo->start_level = geo->levels;
	geo->table_size = 4096;
	geo->root_size = 4096;
	return 0;
}
#define fmt_geometry fmt_geometry

/* The values a driver programs (iopgt_hw_config). AW (section 9.3 for the
 * context entry, 9.6 for the PASID entry): 1 for a 39-bit AGAW (3
 * levels), 2 for 48 (4), 3 for 57 (5); CAP_REG.SAGAW must list it.
 * Legacy-mode context entry: SSPTPTR in bits 63:12, AW in bits 66:64.
 * Scalable-mode PASID entry: SSPTPTR (63:12), PGTT 0b010 (second-stage
 * only, bits 8:6), AW (4:2). */
static inline void fmt_hw_config(const struct pt_geo *geo, uint64_t root,
				 struct iopgt_hw_config *hw)
{
	uint64_t aw = geo->levels - 2;

	hw->vtd_context[0] = root;
	hw->vtd_context[1] = aw;
	hw->vtd_pasid[0] = root | (UINT64_C(2) << 6) | (aw << 2);
}
#define fmt_hw_config fmt_hw_config

#endif /* IOPGT_FMT_VTDSS_H */
