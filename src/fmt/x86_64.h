/* SPDX-License-Identifier: MIT */
/*
 * x86-64 paging entries, as walked by Intel VT-d first-stage translation and
 * AMD IOMMU v2 (guest) tables.
 *
 * Implements (Intel SDM Vol. 3A, section 4.5, "4-Level Paging and 5-Level
 * Paging": Tables 4-15 to 4-20 (formats of PML5E, PML4E, PDPTE, PDE, PTE);
 * Intel VT-d specification 4.x, section 9.7 "First-Stage Paging Entries"):
 *
 *   bit 0      P     present
 *   bit 1      R/W   writes allowed (reads are implied by P)
 *   bit 2      U/S   user-mode accesses allowed
 *   bit 3      PWT   write-through
 *   bit 4      PCD   cache disable
 *   bit 5      A     accessed (hardware sets it)
 *   bit 6      D     dirty (leaves; hardware sets it)
 *   bit 7      PS    leaf at PDPTE (1G) or PDE (2M); reserved in PML4E/PML5E
 *   bit 12     PAT   in 1G/2M leaves (never set here)
 *   51:12      address of the next table or of the 4K page; 51:21 for 2M
 *              leaves and 51:30 for 1G leaves, the bits below reserved
 *   bit 63     XD    execute disable
 *
 * Levels here: 0 = PTE, 1 = PDE, 2 = PDPTE, 3 = PML4E, 4 = PML5E. Hardware
 * ANDs permissions down the walk, so table entries grant everything and the
 * leaf decides. Table entries carry A already set, so the walker never has to
 * write them.
 */
#ifndef IOPGT_FMT_X86_64_H
#define IOPGT_FMT_X86_64_H

#include "../pt.h"

#define FMT_FORMAT IOPGT_FMT_X86_64
#define FMT_MAX_OAS 52
/* log2 of a table page and of its entries: fixed for the format. */
#define FMT_GRANULE 12
#define FMT_BITS 9

#define X86_P (UINT64_C(1) << 0)
#define X86_RW (UINT64_C(1) << 1)
#define X86_US (UINT64_C(1) << 2)
#define X86_PWT (UINT64_C(1) << 3)
#define X86_PCD (UINT64_C(1) << 4)
#define X86_A (UINT64_C(1) << 5)
#define X86_D (UINT64_C(1) << 6)
#define X86_PS (UINT64_C(1) << 7)
#define X86_XD (UINT64_C(1) << 63)
#define X86_ADDR UINT64_C(0x000ffffffffff000)

/* Bits the hardware may set in a leaf on its own: ignored when comparing
 * leaves for coalescing, and carried into the superpage that replaces them. */
#define FMT_HW_BITS (X86_A | X86_D)

/* What the hardware sets in a leaf: A on any access, D on a write. */
#define FMT_HW_ACCESSED X86_A
#define FMT_HW_DIRTY X86_D

/* Bits 58:52 of every entry are ignored by the hardware (SDM Tables
 * 4-15..4-20; 62:59 are protection keys, for the CPU only). */
#define FMT_SW_BITS UINT64_C(0x07f0000000000000)

/* A table entry is the next table's address plus constant bits, at every
 * level, and the hardware never changes it (A is preset). */
#define FMT_TABLE_LINEAR 1

/* Inputs are canonical: sign-extended from bit ias - 1 (47 with 4-level
 * paging at ias 48, 56 with 5-level at 57): VT-d first-stage translation
 * requires canonical input addresses (VT-d specification, 3.6
 * "First-Stage Translation"), and AMD IOMMU v2 tables, as the CPU's,
 * sign-extend, so PML4E 256 maps 0xffff800000000000. The walk indexes the
 * full 48 or 57 bits whatever the ias (fmt_geometry), so a smaller ias
 * takes the low and high entries of the root. */
#define FMT_INPUT_SIGN_EXTEND 1

/* Leaves: PTE (4K), PDE with PS (2M), PDPTE with PS (1G); one size each. */
static inline uint64_t fmt_leaf_sizes(unsigned level, const struct pt_geo *geo)
{
	(void)geo;
	return level < 3 ? UINT64_C(1) << (FMT_GRANULE + FMT_BITS * level) : 0;
}
#define fmt_leaf_sizes fmt_leaf_sizes

static inline bool fmt_is_table(uint64_t e, unsigned level)
{
	return level > 0 && (e & X86_P) && !(e & X86_PS);
}
#define fmt_is_table fmt_is_table

static inline uint64_t fmt_table_pa(uint64_t e, unsigned level)
{
	(void)level;
	return e & X86_ADDR;
}
#define fmt_table_pa fmt_table_pa

static inline uint64_t fmt_make_table(uint64_t pa, unsigned level)
{
	(void)level;
	return pa | X86_P | X86_RW | X86_US | X86_A;
}
#define fmt_make_table fmt_make_table

/* Output address of a leaf at `level`: the address bits above the leaf's
 * alignment (PAT, bit 12 of large leaves, falls below it). */
static inline uint64_t fmt_leaf_pa(uint64_t e, unsigned level)
{
	return e & X86_ADDR &
	       ~((UINT64_C(1) << (FMT_GRANULE + FMT_BITS * level)) - 1);
}
#define fmt_leaf_pa fmt_leaf_pa

/* A leaf at `level` for pa (aligned to the leaf size) with attributes from
 * fmt_prot_attrs() or fmt_leaf_attrs(). */
static inline uint64_t fmt_make_leaf(uint64_t pa, unsigned level,
				     uint64_t attrs)
{
	return pa | attrs | (level ? X86_PS : 0);
}
#define fmt_make_leaf fmt_make_leaf

/* The attributes of a leaf, as fmt_make_leaf() takes them: everything but
 * the address, the level's own bits and the hardware-managed bits. */
static inline uint64_t fmt_leaf_attrs(uint64_t e, unsigned level)
{
	(void)level;
	return e & ~(X86_ADDR | X86_PS | FMT_HW_BITS);
}
#define fmt_leaf_attrs fmt_leaf_attrs

static inline int fmt_prot_attrs(unsigned prot, uint64_t *attrs)
{
	uint64_t a = X86_P | X86_A;

	if (prot & ~(unsigned)(IOPGT_PROT_READ | IOPGT_PROT_WRITE |
			       IOPGT_PROT_EXEC | IOPGT_PROT_USER |
			       IOPGT_PROT_MMIO))
		return -EINVAL;
	if (!(prot & IOPGT_PROT_READ)) /* present implies readable */
		return -EINVAL;
	if (prot & IOPGT_PROT_WRITE)
		a |= X86_RW;
	if (prot & IOPGT_PROT_USER)
		a |= X86_US;
	if (!(prot & IOPGT_PROT_EXEC))
		a |= X86_XD;
	if (prot & IOPGT_PROT_MMIO)
		a |= X86_PCD | X86_PWT;
	*attrs = a;
	return 0;
}
#define fmt_prot_attrs fmt_prot_attrs

/* Branch-free: IOPGT_PROT_WRITE is bit 1 like R/W, IOPGT_PROT_MMIO bit 4
 * like PCD, IOPGT_PROT_USER bit 3 (U/S is bit 2), EXEC is !XD. */
static inline unsigned fmt_leaf_prot(uint64_t e, unsigned level)
{
	_Static_assert(IOPGT_PROT_WRITE == X86_RW && IOPGT_PROT_MMIO == X86_PCD &&
			       IOPGT_PROT_USER == X86_US << 1 &&
			       IOPGT_PROT_EXEC == 4,
		       "protection bits no longer line up with x86 bits");
	(void)level;
	return IOPGT_PROT_READ | (unsigned)(e & (X86_RW | X86_PCD)) |
	       (unsigned)((e & X86_US) << 1) | (unsigned)((~e >> 63) << 2);
}
#define fmt_leaf_prot fmt_leaf_prot

/* The hardware's view: present. */
static inline bool fmt_entry_valid(uint64_t e, unsigned level)
{
	(void)level;
	return (e & X86_P) != 0;
}
#define fmt_entry_valid fmt_entry_valid

/* Geometry: 4-level paging for ias 40..48, 5-level for ias 49..57. One 4K
 * root, 512 entries a table. The root indexes all 9 bits of the walk
 * (47:39 or 56:48) whatever the ias: the input is sign-extended, so with
 * ias below 48 (57) the lower half takes the root's first 2^(ias-40)
 * (2^(ias-49)) entries and the upper half its last ones. */
static inline int fmt_geometry(const struct iopgt_config *cfg,
			       struct pt_geo *geo)
{
	if (cfg->granule != 12 || cfg->ias < 40 || cfg->ias > 57 ||
	    cfg->oas < 32 || cfg->oas > FMT_MAX_OAS)
		return -EINVAL;
	geo->granule = 12;
	geo->bits = 9;
	geo->levels = cfg->ias > 48 ? 5 : 4;
	geo->root_bits = 9;
	geo->root_tables = 1;
	geo->start_level = geo->levels; /* PML4 = 4, PML5 = 5 */
	geo->table_size = 4096;
	geo->root_size = 4096;
	return 0;
}
#define fmt_geometry fmt_geometry

/* The values a driver programs (iopgt_hw_config): a VT-d scalable-mode
 * PASID-table entry for first-stage translation (VT-d §9.6): PGTT 0b001
 * (first-stage only, bits 8:6), AW (4:2) 2 for 4-level and 3 for 5-level
 * paging, FSPTPTR (bits 191:140, the root) and FSPM (131:130: 0 4-level,
 * 1 5-level; 5-level needs CAP_REG.FS5LP). */
static inline void fmt_hw_config(const struct pt_geo *geo, uint64_t root,
				 struct iopgt_hw_config *hw)
{
	uint64_t five = geo->levels == 5;

	hw->vtd_pasid[0] = (UINT64_C(1) << 6) | ((2 + five) << 2);
	hw->vtd_pasid[2] = root | (five << 2);
}
#define fmt_hw_config fmt_hw_config

#endif /* IOPGT_FMT_X86_64_H */
