/* SPDX-License-Identifier: MIT */
/*
 * AMD IOMMU v1 page tables: the host translation tables an AMD IOMMU walks
 * for a device whose device table entry has V = TV = 1 and Mode 1..6.
 *
 * Implements (AMD I/O Virtualization Technology (IOMMU) Specification,
 * document 48882, section 2.2.2 "Device Table" (DTE Mode, the page table
 * root pointer) and section 2.2.3 "I/O Page Tables for Host Translations"
 * (the PDE and PTE formats, Next Level, the page sizes)):
 *
 *   bit 0      PR    present
 *   bit 5      A     accessed (the IOMMU sets it when the DTE enables
 *                    hardware A/D updates)
 *   bit 6      D     dirty (PTEs)
 *   11:9       NextLevel: in a PDE, the level of the table it points to
 *                    (1..6); 0 in a PTE, whose page then has its level's
 *                    size; 7 in a PTE whose page size is encoded in the
 *                    address (below)
 *   51:12      address of the next table or of the page
 *   58:52      reserved, zero
 *   bit 59     U     (ATS: untranslated accesses only; never set here)
 *   bit 60     FC    force coherent (PTEs)
 *   bit 61     IR    reads allowed
 *   bit 62     IW    writes allowed
 *
 * The specification numbers levels from the PTEs up: a level-1 table holds
 * 4K PTEs, level 2 covers 2M an entry, level 3 1G, and so on; here level 0
 * is the specification's level 1. A PDE at level L (library) names a table
 * of the specification's level L, so its NextLevel is L: no level is
 * skipped. Permissions IR and IW are ANDed down the walk, so PDEs grant
 * both and the leaf decides. PDEs carry A already set, so the IOMMU never
 * has to write one.
 *
 * Page sizes (section 2.2.3, "Example Page Size Encodings"): a PTE with
 * NextLevel 0 maps its level's size (4K, 2M, 1G); one with NextLevel 7
 * maps any larger power of two: the address field, from bit 12 up, holds
 * t one bits and then a zero, and the page is 2^(13 + t) bytes (bit 12
 * clear: 8K; bits 13:12 = 01b: 16K; ...). Such a page sits in the table
 * whose entries are the largest not above its size, and its PTE is
 * repeated in each of the 2 to 256 entries it covers: the engine's leaf
 * spans, k = 13 + t - (12 + 9 * level) items of 2^k.
 */
#ifndef IOPGT_FMT_AMDV1_H
#define IOPGT_FMT_AMDV1_H

#include "../pt.h"

#define FMT_FORMAT IOPGT_FMT_AMDV1
#define FMT_MAX_OAS 52
#define FMT_GRANULE 12
#define FMT_BITS 9

#define AMD_PR (UINT64_C(1) << 0)
#define AMD_A (UINT64_C(1) << 5)
#define AMD_D (UINT64_C(1) << 6)
#define AMD_NL_SHIFT 9
#define AMD_NL_MASK (UINT64_C(7) << AMD_NL_SHIFT)
#define AMD_FC (UINT64_C(1) << 60)
#define AMD_IR (UINT64_C(1) << 61)
#define AMD_IW (UINT64_C(1) << 62)
#define AMD_ADDR UINT64_C(0x000ffffffffff000)

/* The IOMMU sets A on an access and D on a write, when the DTE's HAD
 * field enables hardware updates (section 2.2.3, "Accessed and Dirty
 * bits"). */
#define FMT_HW_BITS (AMD_A | AMD_D)
#define FMT_HW_ACCESSED AMD_A
#define FMT_HW_DIRTY AMD_D

/* Bit 63 is ignored (section 2.2.3); 58:52 are reserved, not free. */
#define FMT_SW_BITS (UINT64_C(1) << 63)

/* A PDE is its table's address plus PR, A, IR, IW and the constant
 * NextLevel of its level: fmt_make_table(0, L) + pa, never changed by the
 * hardware (A preset). */
#define FMT_TABLE_LINEAR 1

/* Host translation input addresses are not sign-extended. */
#define FMT_INPUT_SIGN_EXTEND 0

/* The device table entry holds the root pointer (51:12) and Mode (11:9),
 * the number of levels, in one 64-bit word (section 2.2.2.1), and a PDE
 * names a table of any lower level by its NextLevel (section 2.2.3): a
 * domain can grow by a root above the old one, pointing the DTE at it
 * with one store and an INVALIDATE_DEVTAB_ENTRY (section 2.4.2). */
#define FMT_GROWS 1

/* Leaves at the specification's levels 1, 2 and 3: every power of two
 * from 4K to 256G, the level's own size with NextLevel 0 and the 8 sizes
 * above it with NextLevel 7. A 512G page (a level-4 entry) is not offered:
 * implementations have an erratum there, and common drivers do not use
 * it; nor are the sizes above it, which would be groups in a level-4
 * table whose one-entry size is missing. */
static inline uint64_t fmt_leaf_sizes(unsigned level, const struct pt_geo *geo)
{
	(void)geo;
	return level < 3 ? UINT64_C(0x1ff) << (FMT_GRANULE + FMT_BITS * level)
			 : 0;
}
#define fmt_leaf_sizes fmt_leaf_sizes

#define FMT_LEAF_SPANS 1

/* log2 of the entries a NextLevel-7 PTE at level is repeated in: the
 * page's log2 size, 13 plus the one bits from bit 12 up, less the level's
 * entry size; 0 for NextLevel 0. */
static inline unsigned fmt_leaf_span(uint64_t e, unsigned level)
{
	if ((e & AMD_NL_MASK) != AMD_NL_MASK)
		return 0;
	return 13u + (unsigned)__builtin_ctzll(~(e >> 12)) -
	       (FMT_GRANULE + FMT_BITS * level);
}
#define fmt_leaf_span fmt_leaf_span

/* A page of 2^k entries at level: NextLevel 7, and below the page's size
 * the encoding's one bits from bit 12 up to the bit below its top, whose
 * zero ends them (pa is aligned to the page, so those bits were 0). */
static inline uint64_t fmt_make_leaf_span(uint64_t pa, unsigned level,
					  unsigned k, uint64_t attrs)
{
	unsigned lg = FMT_GRANULE + FMT_BITS * level + k;

	return pa | (((UINT64_C(1) << (lg - 1)) - 1) & ~UINT64_C(0xfff)) |
	       AMD_NL_MASK | attrs;
}
#define fmt_make_leaf_span fmt_make_leaf_span

/* Every entry of the group holds the same PTE: fmt_span_step is the
 * contract's default, 0. */

/* A present entry above level 0 whose NextLevel names a table (1..6):
 * PR and NextLevel together are PR + (n << 9), so one subtraction and one
 * unsigned comparison test both (PR clear, or n 0 or 7, falls outside). */
static inline bool fmt_is_table(uint64_t e, unsigned level)
{
	return level > 0 &&
	       (e & (AMD_PR | AMD_NL_MASK)) - (AMD_PR | UINT64_C(1) << AMD_NL_SHIFT) <
		       UINT64_C(6) << AMD_NL_SHIFT;
}
#define fmt_is_table fmt_is_table

static inline uint64_t fmt_table_pa(uint64_t e, unsigned level)
{
	(void)level;
	return e & AMD_ADDR;
}
#define fmt_table_pa fmt_table_pa

static inline uint64_t fmt_make_table(uint64_t pa, unsigned level)
{
	return pa | AMD_PR | AMD_A | AMD_IR | AMD_IW |
	       (uint64_t)level << AMD_NL_SHIFT;
}
#define fmt_make_table fmt_make_table

/* NextLevel 0: the address field above the level's size. NextLevel 7:
 * the address field without the encoding, whose one bits from bit 12 up
 * x & (x + 4K) clears (its zero bit is clear already). */
static inline uint64_t fmt_leaf_pa(uint64_t e, unsigned level)
{
	uint64_t x = e & AMD_ADDR;

	if ((e & AMD_NL_MASK) == AMD_NL_MASK)
		return x & (x + 0x1000);
	return x & ~((UINT64_C(1) << (FMT_GRANULE + FMT_BITS * level)) - 1);
}
#define fmt_leaf_pa fmt_leaf_pa

/* NextLevel 0: a page of the level's size. */
static inline uint64_t fmt_make_leaf(uint64_t pa, unsigned level,
				     uint64_t attrs)
{
	(void)level;
	return pa | attrs;
}
#define fmt_make_leaf fmt_make_leaf

static inline uint64_t fmt_leaf_attrs(uint64_t e, unsigned level)
{
	(void)level;
	return e & ~(AMD_ADDR | AMD_NL_MASK | FMT_HW_BITS);
}
#define fmt_leaf_attrs fmt_leaf_attrs

/* IR and IW are separate bits, so write-only is exact. PT_PROT_SNOOP
 * (IOPGT_OPT_FORCE_SNOOP) sets FC. The format has no memory type (the
 * host's decides), no user/supervisor and no execute permission: MMIO,
 * USER and EXEC are -EINVAL. */
static inline int fmt_prot_attrs(unsigned prot, uint64_t *attrs)
{
	uint64_t a = AMD_PR | AMD_A;

	if (prot & ~(unsigned)(IOPGT_PROT_READ | IOPGT_PROT_WRITE |
			       PT_PROT_SNOOP))
		return -EINVAL;
	if (!(prot & (IOPGT_PROT_READ | IOPGT_PROT_WRITE)))
		return -EINVAL;
	if (prot & IOPGT_PROT_READ)
		a |= AMD_IR;
	if (prot & IOPGT_PROT_WRITE)
		a |= AMD_IW;
	if (prot & PT_PROT_SNOOP)
		a |= AMD_FC;
	*attrs = a;
	return 0;
}
#define fmt_prot_attrs fmt_prot_attrs

static inline unsigned fmt_leaf_prot(uint64_t e, unsigned level)
{
	(void)level;
	return (unsigned)(e >> 61) & (IOPGT_PROT_READ | IOPGT_PROT_WRITE);
}
#define fmt_leaf_prot fmt_leaf_prot

static inline bool fmt_entry_valid(uint64_t e, unsigned level)
{
	(void)level;
	return (e & AMD_PR) != 0;
}
#define fmt_entry_valid fmt_entry_valid

/* Geometry (section 2.2.3): DTE Mode N walks N levels and translates
 * 12 + 9N bits (N = 6: all 64, the top table indexing bits 63:57). Offered
 * here: ias 39 walks 3 levels, 40..48 four, 49..57 five and 58..63 six,
 * the root indexing the top ias - 12 - 9 * (levels - 1) bits (Modes 1
 * and 2, 21 and 30 bits, are not offered). */
static inline int fmt_geometry(const struct iopgt_config *cfg,
			       struct pt_geo *geo)
{
	if (cfg->granule != 12 || cfg->ias < 39 || cfg->ias > 63 ||
	    cfg->oas < 32 || cfg->oas > FMT_MAX_OAS)
		return -EINVAL;
	geo->granule = 12;
	geo->bits = 9;
	geo->levels = cfg->ias > 57 ? 6 : cfg->ias > 48 ? 5 : cfg->ias > 39 ? 4 : 3;
	geo->root_bits = cfg->ias - (12 + 9 * (geo->levels - 1));
	geo->root_tables = 1;
	geo->start_level = geo->levels; /* the DTE's Mode */
	geo->table_size = 4096;
	geo->root_size = 4096;
	return 0;
}
#define fmt_geometry fmt_geometry

/* The values a driver programs (iopgt_hw_config): the device table entry's
 * bits 63:0 (section 2.2.2.1): Mode (11:9) = levels and the page table
 * root pointer (51:12). The driver adds V, TV, IR, IW, HAD and the rest. */
static inline void fmt_hw_config(const struct pt_geo *geo, uint64_t root,
				 struct iopgt_hw_config *hw)
{
	hw->amd_dte = root | (uint64_t)geo->levels << 9;
}
#define fmt_hw_config fmt_hw_config

#endif /* IOPGT_FMT_AMDV1_H */
