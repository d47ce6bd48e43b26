/* SPDX-License-Identifier: MIT */
/*
 * ARM VMSAv8-64 stage 2 translation table descriptors (LPAE long format), as
 * used by KVM arm64 and by the SMMU for stage 2. Compiled once per granule:
 * define ARM_S2_GRANULE (12, 14 or 16) before including this header.
 *
 * Implements (Arm Architecture Reference Manual for A-profile, DDI 0487:
 * "Translation table descriptor formats" (table, block and page descriptors
 * for the 4KB, 16KB and 64KB granules; D8.3 in recent issues, D4.3 in
 * Armv8.0 ones), "Attribute fields in stage 2 Block and Page descriptors"
 * (S2AP, MemAttr, SH, AF, XN), "Concatenated translation tables for the
 * initial stage 2 lookup" and VTCR_EL2.{T0SZ, SL0, PS}; without
 * FEAT_LPA/LPA2, so addresses are at most 48 bits):
 *
 *   bits 1:0   0b11 table (levels 0-2) or page (level 3); 0b01 block; bit 0
 *              clear: invalid
 *   5:2        MemAttr (stage 2, FEAT_S2FWB not used): 0b1111 Normal
 *              Write-Back inner and outer; 0b0001 Device-nGnRE
 *   7:6        S2AP: bit 6 reads allowed, bit 7 writes allowed
 *   9:8        SH: 0b11 inner shareable
 *   10         AF access flag (always set here: no access-flag faults)
 *   47:g       output address (g = granule bits); for a table, the next
 *              table's address
 *   52         Contiguous hint (never set here)
 *   54         XN (XN[1]; XN[0] = bit 53 only with FEAT_XNX, left 0);
 *              always set with Device memory (B2.7.2 "Device memory")
 *
 * Levels here count up from the leaf: our level 0 is architecture level 3.
 * Blocks: 4K granule at levels 1 and 2 (1G, 2M), 16K at level 2 (32M), 64K
 * at level 2 (512M); level-1 blocks of the 16K/64K granules need FEAT_LPA2 /
 * 52-bit addresses and are not offered.
 */
#ifndef IOPGT_FMT_ARM_S2_H
#define IOPGT_FMT_ARM_S2_H

#include "../pt.h"

#ifndef ARM_S2_GRANULE
#error "define ARM_S2_GRANULE (12, 14 or 16) before including arm_s2.h"
#endif

#define FMT_FORMAT IOPGT_FMT_ARM_S2
#define FMT_MAX_OAS 48
/* log2 of a table page and of its entries (8-byte descriptors): fixed for
 * each granule's engine. */
#define FMT_GRANULE ARM_S2_GRANULE
#define FMT_BITS (ARM_S2_GRANULE - 3)

#define S2_VALID (UINT64_C(1) << 0)
#define S2_TYPE_MASK UINT64_C(3)
#define S2_TYPE_TABLE UINT64_C(3) /* also "page" at level 3 */
#define S2_TYPE_BLOCK UINT64_C(1)
#define S2_MEMATTR_SHIFT 2
#define S2_MEMATTR_MASK (UINT64_C(0xf) << S2_MEMATTR_SHIFT)
#define S2_MEMATTR_NORMAL_WB (UINT64_C(0xf) << S2_MEMATTR_SHIFT)
#define S2_MEMATTR_DEVICE_nGnRE (UINT64_C(0x1) << S2_MEMATTR_SHIFT)
#define S2_AP_R (UINT64_C(1) << 6)
#define S2_AP_W (UINT64_C(1) << 7)
#define S2_SH_IS (UINT64_C(3) << 8)
#define S2_AF (UINT64_C(1) << 10)
#define S2_XN (UINT64_C(1) << 54)
#define S2_ADDR \
	(((UINT64_C(1) << 48) - 1) & ~((UINT64_C(1) << ARM_S2_GRANULE) - 1))

/* The access flag is always set by software here, and dirty state (DBM) is
 * not used, so the hardware changes no leaf bits on its own: FMT_HW_BITS,
 * FMT_HW_ACCESSED and FMT_HW_DIRTY keep their default, 0. */

/* Bits 58:55 of block and page descriptors are reserved for software
 * use. */
#define FMT_SW_BITS UINT64_C(0x0780000000000000)

/* A table descriptor is the next table's address plus 0b11, at every level,
 * and the hardware never changes it. */
#define FMT_TABLE_LINEAR 1

/* The input (IPA) size may not exceed the output size. The Arm ARM bounds
 * the stage 2 IPA by the PA size the implementation supports: the smallest
 * VTCR_EL2.T0SZ is 64 - PAMax (pseudocode AArch64.S2MinTxSZ, PAMax from
 * ID_AA64MMFR0_EL1.PARange; only an AArch32 EL1 may use 40 bits over a
 * smaller PA size), and a smaller T0SZ either faults at level 0 or is
 * taken as that minimum (AArch64.S2TxSZFaults, CONSTRAINED UNPREDICTABLE).
 * The start level depends on it too: starting at level 0 with the 4K
 * granule, or at level 1 with 16K or 64K, is invalid below a 44-bit (16K:
 * 42-bit) PAMax (AArch64.S2InvalidSL). An SMMUv3 likewise takes stage 2
 * inputs of at most IAS bits, which is OAS for the AArch64 table format
 * (SMMUv3 specification, IHI 0070, 3.4 "Address sizes"). VTCR_EL2.PS may
 * be set below PARange, but the library knows only oas and takes it as
 * the PA size (as KVM does: PS from PARange, no IPA size above it). */
#define FMT_IAS_WITHIN_OAS 1

/* Blocks at levels 1 and 2 (4K granule: 2M and 1G) or at level 1 (16K,
 * 64K: 32M, 512M); pages at level 0. The contiguous hint (a run of 16, 32
 * or 128 entries) is not used. */
static inline uint64_t fmt_leaf_sizes(unsigned level, const struct pt_geo *geo)
{
	(void)geo;
	return level < (ARM_S2_GRANULE == 12 ? 3u : 2u)
		       ? UINT64_C(1) << (FMT_GRANULE + FMT_BITS * level)
		       : 0;
}
#define fmt_leaf_sizes fmt_leaf_sizes

static inline bool fmt_is_table(uint64_t e, unsigned level)
{
	return level > 0 && (e & S2_TYPE_MASK) == S2_TYPE_TABLE;
}
#define fmt_is_table fmt_is_table

static inline uint64_t fmt_table_pa(uint64_t e, unsigned level)
{
	(void)level;
	return e & S2_ADDR;
}
#define fmt_table_pa fmt_table_pa

static inline uint64_t fmt_make_table(uint64_t pa, unsigned level)
{
	(void)level;
	return pa | S2_TYPE_TABLE;
}
#define fmt_make_table fmt_make_table

static inline uint64_t fmt_leaf_pa(uint64_t e, unsigned level)
{
	return e & S2_ADDR &
	       ~((UINT64_C(1) << (FMT_GRANULE + FMT_BITS * level)) - 1);
}
#define fmt_leaf_pa fmt_leaf_pa

static inline uint64_t fmt_make_leaf(uint64_t pa, unsigned level,
				     uint64_t attrs)
{
	return pa | attrs | (level ? S2_TYPE_BLOCK : S2_TYPE_TABLE);
}
#define fmt_make_leaf fmt_make_leaf

static inline uint64_t fmt_leaf_attrs(uint64_t e, unsigned level)
{
	(void)level;
	return e & ~(S2_ADDR | S2_TYPE_MASK);
}
#define fmt_leaf_attrs fmt_leaf_attrs

static inline int fmt_prot_attrs(unsigned prot, uint64_t *attrs)
{
	uint64_t a = S2_AF;

	if (prot & ~(unsigned)(IOPGT_PROT_READ | IOPGT_PROT_WRITE |
			       IOPGT_PROT_EXEC | IOPGT_PROT_MMIO))
		return -EINVAL; /* includes USER: stage 2 has no such bit */
	if (!(prot & (IOPGT_PROT_READ | IOPGT_PROT_WRITE)))
		return -EINVAL;
	/* Device memory is never executable: Arm ARM DDI 0487, B2.7.2
	 * "Device memory": hardware does not stop (speculative) instruction
	 * fetches from a Device location unless it is execute-never, so
	 * every Device location must be marked execute-never, and leaving
	 * one executable is a programming error. (An instruction fetch that
	 * reaches stage 2 Device memory is not even a fault: the stage 2
	 * translation pseudocode, AArch64.S2Translate, treats the memory as
	 * Normal Non-cacheable for it.) So Device-nGnRE is refused with
	 * EXEC, as KVM's stage 2 refuses an executable device mapping. */
	if ((prot & IOPGT_PROT_MMIO) && (prot & IOPGT_PROT_EXEC))
		return -EINVAL;
	if (prot & IOPGT_PROT_READ)
		a |= S2_AP_R;
	if (prot & IOPGT_PROT_WRITE)
		a |= S2_AP_W;
	if (!(prot & IOPGT_PROT_EXEC))
		a |= S2_XN;
	if (prot & IOPGT_PROT_MMIO)
		a |= S2_MEMATTR_DEVICE_nGnRE;
	else
		a |= S2_MEMATTR_NORMAL_WB | S2_SH_IS;
	*attrs = a;
	return 0;
}
#define fmt_prot_attrs fmt_prot_attrs

/* Branch-free: S2AP (bits 7:6) lines up with IOPGT_PROT_READ|WRITE
 * shifted by 6; EXEC is !XN; MMIO is MemAttr[3:2] == 0 (Device). */
static inline unsigned fmt_leaf_prot(uint64_t e, unsigned level)
{
	_Static_assert(IOPGT_PROT_READ == 1 && IOPGT_PROT_WRITE == 2 &&
			       IOPGT_PROT_EXEC == 4 && IOPGT_PROT_MMIO == 16,
		       "protection bits no longer line up with S2AP");
	(void)level;
	return (unsigned)((e >> 6) & 3) | (unsigned)(((~e >> 54) & 1) << 2) |
	       (unsigned)(!(e & (UINT64_C(0xc) << S2_MEMATTR_SHIFT)) << 4);
}
#define fmt_leaf_prot fmt_leaf_prot

/* The hardware's view: bit 0 (valid) set, and at the last level only
 * 0b11 (page); 0b01 there is reserved and treated as invalid. */
static inline bool fmt_entry_valid(uint64_t e, unsigned level)
{
	return level ? (e & S2_VALID) != 0
		     : (e & S2_TYPE_MASK) == S2_TYPE_TABLE;
}
#define fmt_entry_valid fmt_entry_valid

/*
 * Start level and concatenation (VTCR_EL2.SL0 / T0SZ): the root is the
 * shallowest level that needs at most 16 concatenated tables, with at least
 * two levels walked (the choice KVM arm64 makes). For g granule bits and
 * b = g - 3 bits a level: levels = ceil((ias - 4 - g) / b), at least 2.
 *   4K:  ias 48 -> start level 0, 1 table;  40 -> level 1, 2 tables;
 *        32 -> level 2, 4 tables.
 *   16K: ias 48 -> level 1, 2 tables;  40 -> level 2, 16 tables.
 *   64K: ias 48 -> level 1, 64 entries;  44 -> level 2, 4 tables.
 * oas must be one of the VTCR_EL2.PS sizes: 32, 36, 40, 42, 44, 48, and
 * at least ias (FMT_IAS_WITHIN_OAS, which the engine checks).
 */
static inline int fmt_geometry(const struct iopgt_config *cfg,
			       struct pt_geo *geo)
{
	unsigned g = ARM_S2_GRANULE, b = g - 3, levels, rb;

	if (cfg->granule != g || cfg->ias < 32 || cfg->ias > 48)
		return -EINVAL;
	switch (cfg->oas) {
	case 32: case 36: case 40: case 42: case 44: case 48:
		break;
	default:
		return -EINVAL;
	}
	levels = (cfg->ias - 4 - g + b - 1) / b;
	if (levels < 2)
		levels = 2;
	rb = cfg->ias - (g + b * (levels - 1));
	if (rb > b + 4)
		return -EINVAL;
	geo->granule = g;
	geo->bits = b;
	geo->levels = levels;
	geo->root_bits = rb;
	geo->root_tables = rb > b ? 1u << (rb - b) : 1;
	geo->start_level = 4 - levels;
	geo->table_size = (size_t)1 << g;
	geo->root_size = geo->table_size * geo->root_tables;
	return 0;
}
#define fmt_geometry fmt_geometry

/* The values a driver programs (iopgt_hw_config), from the Arm ARM's
 * VTTBR_EL2 and VTCR_EL2 descriptions and the SMMUv3 specification's
 * Stream Table Entry (section 5.2), whose S2* fields at bits 178:160
 * repeat VTCR_EL2's bits 18:0:
 *   T0SZ  = 64 - ias;
 *   SL0   the start level: 4K granule 0b00 level 2, 0b01 level 1, 0b10
 *         level 0; 16K and 64K 0b00 level 3, 0b01 level 2, 0b10 level 1;
 *   IRGN0, ORGN0 = 0b01 (Normal, Write-Back Read-Allocate
 *         Write-Allocate), SH0 = 0b11 (Inner Shareable): the tables live
 *         in Normal Write-Back memory and the walker is coherent;
 *   TG0   0b00 4K, 0b01 64K, 0b10 16K;
 *   PS    0b000 32 bits, 0b001 36, 0b010 40, 0b011 42, 0b100 44, 0b101 48;
 *   bit 31 of VTCR_EL2 is RES1; STE.S2AA64 (bit 179) selects the AArch64
 *   table format; STE.S2TTB (bits 243:196) is the root. */
static inline void fmt_hw_config(const struct pt_geo *geo, uint64_t root,
				 struct iopgt_hw_config *hw)
{
	uint64_t sl0, tg, ps, vtcr;

	sl0 = (ARM_S2_GRANULE == 12 ? 2 : 3) - geo->start_level;
	tg = ARM_S2_GRANULE == 12 ? 0 : ARM_S2_GRANULE == 16 ? 1 : 2;
	switch (geo->oas) {
	case 32: ps = 0; break;
	case 36: ps = 1; break;
	case 40: ps = 2; break;
	case 42: ps = 3; break;
	case 44: ps = 4; break;
	default: ps = 5; break; /* 48: fmt_geometry takes no other */
	}
	vtcr = (64 - (uint64_t)geo->ias) | sl0 << 6 | UINT64_C(1) << 8 |
	       UINT64_C(1) << 10 | UINT64_C(3) << 12 | tg << 14 | ps << 16;
	hw->arm_vttbr = root;
	hw->arm_vtcr = vtcr | UINT64_C(1) << 31;
	hw->smmu_ste[0] = vtcr << 32 | UINT64_C(1) << 51;
	hw->smmu_ste[1] = root & UINT64_C(0x000ffffffffffff0);
}
#define fmt_hw_config fmt_hw_config

#endif /* IOPGT_FMT_ARM_S2_H */
