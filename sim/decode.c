/* SPDX-License-Identifier: MIT */
/*
 * The simulator's own decoding of table entries, written from the
 * specifications. Nothing here includes the library's format headers or
 * calls its format code: the walker must read an entry as the hardware
 * would, so that a bit the library gets wrong in both its encoder and its
 * decoder (which its own lookup cannot see) makes the simulator disagree
 * with the model.
 *
 * One descriptor (struct sim_fmt) per format and granule, found by
 * sim_fmt_find() when a domain is attached. Levels are the walker's: 0 is
 * the smallest leaf's level, the root is the domain's levels - 1.
 *
 * A further format is one more descriptor in fmts[] below, with its own
 * functions beside it, each bit cited from its specification. Its
 * descriptor is found by its enum iopgt_format value and granule; a format
 * with none makes iopgt_sim_attach() fail with -ENOTSUP.
 */
#define _GNU_SOURCE
#include "sim_int.h"

#define BIT(n) (UINT64_C(1) << (n))
/* Bits hi..lo (inclusive); empty if hi < lo. */
#define BITS(hi, lo) \
	((hi) < (lo) ? 0 : (~UINT64_C(0) >> (63 - (hi))) & ~(BIT(lo) - 1))

static const unsigned prot_all = IOPGT_PROT_READ | IOPGT_PROT_WRITE |
				 IOPGT_PROT_EXEC | IOPGT_PROT_USER |
				 IOPGT_PROT_MMIO;

/* ------------------------------------------------------------------------
 * x86-64 paging, as Intel VT-d first-stage translation and AMD IOMMU v2
 * (guest) tables walk it.
 *
 * Intel SDM Vol. 3A, section 4.5 "4-Level Paging and 5-Level Paging",
 * Tables 4-15 to 4-20 (the formats of PML5E, PML4E, PDPTE, PDE and PTE);
 * section 4.6 "Access Rights"; section 4.8 "Accessed and Dirty Flags".
 * Intel VT-d specification, section 9.7 "First-Stage Paging Entries",
 * which takes the same layout. Levels: 0 PTE, 1 PDE, 2 PDPTE, 3 PML4E,
 * 4 PML5E.
 */

#define PG_P BIT(0)    /* present */
#define PG_RW BIT(1)   /* 0: writes not allowed */
#define PG_US BIT(2)   /* 0: user-mode accesses not allowed */
#define PG_PWT BIT(3)  /* page-level write-through (a PAT index bit) */
#define PG_PCD BIT(4)  /* page-level cache disable (a PAT index bit) */
#define PG_A BIT(5)    /* accessed */
#define PG_D BIT(6)    /* dirty (entries that map a page) */
#define PG_PS BIT(7)   /* page size: maps a page (PDPTE, PDE) */
#define PG_XD BIT(63)  /* execute-disable */
/* The address field: bits 51:12 (bits M-1:12 with MAXPHYADDR M, 51:M
 * reserved; the walker holds the result to oas, the simulated M). */
#define PG_ADDR BITS(51, 12)

/* Bits 62:52 are ignored in every entry (protection keys, bits 62:59,
 * apply to user-mode CPU accesses only, not to a device's requests). */

static bool x86_valid(const struct sim_fmt *f, uint64_t e, unsigned level)
{
	(void)f;
	(void)level;
	/* P = 0: not present, whatever the other bits (Tables 4-15..4-20,
	 * "Present; must be 1 to ..."). */
	return (e & PG_P) != 0;
}

static bool x86_reserved(const struct sim_fmt *f, uint64_t e, unsigned level)
{
	(void)f;
	/* PS is reserved (must be 0) in a PML5E and a PML4E (Tables 4-15,
	 * 4-16): neither maps a page. */
	if (level >= 3)
		return (e & PG_PS) != 0;
	/* A PDPTE that maps a 1-GByte page reserves bits 29:13, a PDE that
	 * maps a 2-MByte page bits 20:13; bit 12 is PAT there (Tables 4-17,
	 * 4-19). */
	if (level >= 1 && (e & PG_PS))
		return (e & BITS(12 + 9 * level - 1, 13)) != 0;
	return false;
}

static bool x86_is_table(const struct sim_fmt *f, uint64_t e, unsigned level)
{
	(void)f;
	/* A PTE always maps a page (its bit 7 is PAT, Table 4-20); above, PS
	 * = 0 references the next paging structure. */
	return level > 0 && !(e & PG_PS);
}

static uint64_t x86_table_pa(const struct sim_fmt *f, uint64_t e,
			     unsigned level)
{
	(void)f;
	(void)level;
	return e & PG_ADDR; /* 4K-aligned next structure, bits 51:12 */
}

/* Section 4.6.1 "Determination of Access Rights": a write is allowed only
 * if R/W = 1 in every paging-structure entry that controls the
 * translation, a user-mode access only if U/S = 1 in every one, and an
 * instruction fetch only if XD = 0 in every one. PCD and PWT of a table
 * entry concern the cacheability of the next paging structure only, not
 * the page's memory type. */
static unsigned x86_table_prot(const struct sim_fmt *f, uint64_t e,
			       unsigned level)
{
	unsigned allow = prot_all;

	(void)f;
	(void)level;
	if (!(e & PG_RW))
		allow &= ~(unsigned)IOPGT_PROT_WRITE;
	if (!(e & PG_US))
		allow &= ~(unsigned)IOPGT_PROT_USER;
	if (e & PG_XD)
		allow &= ~(unsigned)IOPGT_PROT_EXEC;
	return allow;
}

static enum iopgt_sim_fault x86_leaf(const struct sim_fmt *f, uint64_t e,
				     unsigned level, uint64_t *pa,
				     uint64_t *size, unsigned *prot)
{
	unsigned p = IOPGT_PROT_READ; /* a present page is readable */

	(void)f;
	/* 4K (PTE), 2M (PDE) or 1G (PDPTE), aligned to its size: the
	 * address bits below the size are PAT and reserved bits there. */
	*size = BIT(12 + 9 * level);
	*pa = e & PG_ADDR & ~(*size - 1);
	if (e & PG_RW)
		p |= IOPGT_PROT_WRITE;
	if (e & PG_US)
		p |= IOPGT_PROT_USER;
	if (!(e & PG_XD))
		p |= IOPGT_PROT_EXEC;
	/* The memory type is the PAT entry that PAT:PCD:PWT selects (SDM
	 * Vol. 3A, "Page Attribute Table (PAT)"). With the PAT's power-up
	 * value (WB, WT, UC-, UC, WB, WT, UC-, UC) every index with PCD set
	 * is UC- or UC: uncached, i.e. device memory. */
	if (e & PG_PCD)
		p |= IOPGT_PROT_MMIO;
	*prot = p;
	return IOPGT_SIM_FAULT_NONE;
}

/* Section 4.8: the accessed flag is set in an entry that maps a page on
 * any access through it, the dirty flag on a write (after the access
 * rights allowed it). Table entries carry A too; the walker leaves those
 * alone (the library presets A in them, so hardware never writes one). */
static uint64_t x86_hw_bits(const struct sim_fmt *f, uint64_t e,
			    unsigned level, unsigned access)
{
	(void)f;
	(void)e;
	(void)level;
	return PG_A | (access & IOPGT_SIM_WRITE ? PG_D : 0);
}

/* ------------------------------------------------------------------------
 * ARM VMSAv8-64 stage 2, granules 4K, 16K and 64K, 48-bit output
 * addresses (no FEAT_LPA or FEAT_LPA2).
 *
 * Arm Architecture Reference Manual for A-profile (DDI 0487), chapter D8:
 * "Translation table descriptor formats" (D8.3: invalid, table, block and
 * page descriptors for each granule), the stage 2 attribute fields of
 * block and page descriptors ("Stage 2 data access permissions": S2AP;
 * "Stage 2 memory type and Cacheability attributes when FEAT_S2FWB is
 * disabled": MemAttr; "Execute-never controls": XN, with FEAT_XNX two
 * bits), and "The Access flag" / "Hardware management of the Access flag
 * and dirty state" (FEAT_HAFDBS). Levels: walker level L is lookup level
 * 3 - L.
 */

#define S2_VALID BIT(0)
#define S2_TYPE BIT(1)           /* 1: table (lookup levels 0-2) or page
                                  * (level 3); 0: block */
#define S2_MEMATTR_HI BITS(5, 4) /* MemAttr[3:2] (MemAttr is bits 5:2);
                                  * 0b00: Device memory */
#define S2_S2AP_R BIT(6)         /* S2AP[0]: reads allowed */
#define S2_S2AP_W BIT(7)         /* S2AP[1]: writes allowed */
#define S2_AF BIT(10)            /* Access flag */
#define S2_XN BITS(54, 53)       /* XN[1:0]; without FEAT_XNX, bit 53 is
                                  * RES0 and bit 54 is XN */
/* Output address and next-level table address: bits 47:g for granule g.
 * Bits 49:48 are RES0 (FEAT_LPA2 makes them address bits for 4K and 16K);
 * so are bits g-1:12 (for 64K, FEAT_LPA puts address bits 51:48 there). */
#define S2_ADDR BITS(47, 12)
#define S2_ADDR_HI_RES0 BITS(49, 48)

/* Is a block descriptor allowed at this level? Lookup level 2 (walker level
 * 1) for every granule, lookup level 1 (walker level 2) for the 4K granule
 * only: a 16K or 64K level-1 block, and a 4K level-0 one, need 52-bit
 * addressing. Elsewhere 0b01 is invalid (a Translation fault). */
static bool s2_block_level(const struct sim_fmt *f, unsigned level)
{
	return (f->leaf_levels & ~1u & (1u << level)) != 0;
}

static bool s2_valid(const struct sim_fmt *f, uint64_t e, unsigned level)
{
	if (!(e & S2_VALID))
		return false; /* bit 0 = 0: invalid, a Translation fault */
	/* At lookup level 3, 0b01 is reserved and behaves as invalid; 0b11
	 * is a page. Above it 0b11 is a table, 0b01 a block where blocks are
	 * allowed. */
	if (level == 0)
		return (e & S2_TYPE) != 0;
	return (e & S2_TYPE) || s2_block_level(f, level);
}

/* The simulator takes a RES0 bit set to 1 in the address fields as a
 * malformed entry (the strictest reading): a library writing one is then
 * caught, not excused. */
static bool s2_reserved(const struct sim_fmt *f, uint64_t e, unsigned level)
{
	unsigned low; /* the bits below this are not address bits */

	if (e & S2_ADDR_HI_RES0)
		return true;
	if (level > 0 && !(e & S2_TYPE)) /* a block: bits n-1:g RES0 */
		low = f->granule + f->bits * level;
	else /* a table or a page: address bits 47:g, g-1:12 RES0 */
		low = f->granule;
	return (e & BITS(low - 1, 12)) != 0;
}

static bool s2_is_table(const struct sim_fmt *f, uint64_t e, unsigned level)
{
	(void)f;
	return level > 0 && (e & S2_TYPE);
}

static uint64_t s2_table_pa(const struct sim_fmt *f, uint64_t e,
			    unsigned level)
{
	(void)level;
	return e & S2_ADDR & ~(BIT(f->granule) - 1);
}

/* Stage 2 table descriptors carry no permissions (the hierarchical
 * APTable/XNTable controls are stage 1's): the leaf alone decides. */
static unsigned s2_table_prot(const struct sim_fmt *f, uint64_t e,
			      unsigned level)
{
	(void)f;
	(void)e;
	(void)level;
	return prot_all;
}

static enum iopgt_sim_fault s2_leaf(const struct sim_fmt *f, uint64_t e,
				    unsigned level, uint64_t *pa,
				    uint64_t *size, unsigned *prot)
{
	unsigned p = 0;

	/* A page (level 3) or a block: 2^(g + (g - 3) * L) bytes, the output
	 * address aligned to it. The Contiguous bit (52) is a hint that
	 * lets a TLB cache a run of entries as one; this walker caches each
	 * entry alone, as it may, so it does not change the translation. */
	*size = BIT(f->granule + f->bits * level);
	*pa = e & S2_ADDR & ~(*size - 1);
	/* Hardware management of the Access flag is off (VTCR_EL2.HA = 0,
	 * an SMMU's STE.S2HA = 0), as the library's tables are written for:
	 * every leaf has AF set by software. A leaf with AF = 0 is then an
	 * Access flag fault, not a translation. */
	if (!(e & S2_AF))
		return IOPGT_SIM_FAULT_ACCESS_FLAG;
	/* S2AP[0] allows reads, S2AP[1] writes. With hardware management of
	 * dirty state off (VTCR_EL2.HD = 0) the DBM bit (51) is ignored: a
	 * write needs S2AP[1]. */
	if (e & S2_S2AP_R)
		p |= IOPGT_PROT_READ;
	if (e & S2_S2AP_W)
		p |= IOPGT_PROT_WRITE;
	/* XN[1:0] = 0b00: executable at EL1 and EL0; 0b10 neither. With
	 * FEAT_XNX, 0b01 and 0b11 make it executable at one of them only:
	 * the simulator counts execute permission only when both allow it. */
	if (!(e & S2_XN))
		p |= IOPGT_PROT_EXEC;
	/* MemAttr[3:2] = 0b00: Device memory (MemAttr[1:0] its kind, nGnRnE
	 * to GRE); anything else is Normal memory with the outer and inner
	 * cacheability of MemAttr[3:2] and [1:0]. */
	if (!(e & S2_MEMATTR_HI))
		p |= IOPGT_PROT_MMIO;
	/* Stage 2 has no user/privileged distinction: never USER. */
	*prot = p;
	return IOPGT_SIM_FAULT_NONE;
}

/* The hardware writes nothing into stage 2 descriptors while HA and HD are
 * off. With them on (FEAT_HAFDBS) it would set AF on any access and, in a
 * leaf with DBM = 1 and S2AP[1] = 0 (writable-clean), S2AP[1] on a write
 * (write permission then being S2AP[1] or DBM): this function and s2_leaf
 * are where that would go. */
static uint64_t s2_hw_bits(const struct sim_fmt *f, uint64_t e,
			   unsigned level, unsigned access)
{
	(void)f;
	(void)e;
	(void)level;
	(void)access;
	return 0;
}

/* ------------------------------------------------------------------------
 * Intel VT-d second stage.
 *
 * Intel Virtualization Technology for Directed I/O Architecture
 * Specification, section 3.7 "Second-Stage Translation" (3, 4 or 5 levels
 * for a 39-, 48- or 57-bit AGAW; 2M and 1G pages; access rights; accessed
 * and dirty flags with second-stage A/D enabled) and section 9.8
 * "Second-Stage Paging Entries" (SS-PML5E, SS-PML4E, SS-PDPE, SS-PDE and
 * SS-PTE). Levels: 0 SS-PTE, 1 SS-PDE, 2 SS-PDPE, 3 SS-PML4E, 4 SS-PML5E.
 */

#define VT_R BIT(0)               /* reads allowed */
#define VT_W BIT(1)               /* writes allowed */
#define VT_X BIT(2)               /* execute requests allowed (with
                                   * ECAP.ERS and the PASID entry's SSEE;
                                   * the simulator takes them enabled) */
#define VT_EMT BITS(5, 3)         /* extended memory type (pages) */
#define VT_PS BIT(7)              /* page size: maps a page (SS-PDPE,
                                   * SS-PDE); ignored in an SS-PTE */
#define VT_A BIT(8)               /* accessed */
#define VT_D BIT(9)               /* dirty (pages) */
#define VT_SNP BIT(11)            /* snoop (pages, with ECAP.SC) */
#define VT_ADDR BITS(51, 12)

/* No present bit: an entry with R and W both 0 is not present (3.7). */
static bool vtd_valid(const struct sim_fmt *f, uint64_t e, unsigned level)
{
	(void)f;
	(void)level;
	return (e & (VT_R | VT_W)) != 0;
}

/* Section 9.8: PS is reserved in an SS-PML5E and an SS-PML4E; bit 11 is
 * reserved in an entry that references a table (SNP exists in pages
 * only); a 2M or 1G page reserves its address bits below its size. */
static bool vtd_reserved(const struct sim_fmt *f, uint64_t e, unsigned level)
{
	(void)f;
	if (level >= 3 && (e & VT_PS))
		return true;
	if (level > 0 && !(e & VT_PS))
		return (e & VT_SNP) != 0;
	if (level > 0)
		return (e & BITS(12 + 9 * level - 1, 12)) != 0;
	return false;
}

static bool vtd_is_table(const struct sim_fmt *f, uint64_t e, unsigned level)
{
	(void)f;
	return level > 0 && !(e & VT_PS);
}

static uint64_t vtd_table_pa(const struct sim_fmt *f, uint64_t e,
			     unsigned level)
{
	(void)f;
	(void)level;
	return e & VT_ADDR;
}

/* Section 3.7, access rights: a read needs R, a write W and an execute
 * request X in every entry of the walk (Figure 9-8, with execute requests
 * enabled). There is no user/supervisor distinction. */
static unsigned vtd_table_prot(const struct sim_fmt *f, uint64_t e,
			       unsigned level)
{
	unsigned allow = prot_all;

	(void)f;
	(void)level;
	if (!(e & VT_R))
		allow &= ~(unsigned)IOPGT_PROT_READ;
	if (!(e & VT_W))
		allow &= ~(unsigned)IOPGT_PROT_WRITE;
	if (!(e & VT_X))
		allow &= ~(unsigned)IOPGT_PROT_EXEC;
	return allow;
}

static enum iopgt_sim_fault vtd_leaf(const struct sim_fmt *f, uint64_t e,
				     unsigned level, uint64_t *pa,
				     uint64_t *size, unsigned *prot)
{
	unsigned p = 0;

	(void)f;
	*size = BIT(12 + 9 * level);
	*pa = e & VT_ADDR & ~(*size - 1);
	if (e & VT_R)
		p |= IOPGT_PROT_READ;
	if (e & VT_W)
		p |= IOPGT_PROT_WRITE;
	if (e & VT_X)
		p |= IOPGT_PROT_EXEC;
	/* EMT 0 is uncacheable (the memory-type encodings of section 3.7,
	 * "Memory Type"; IPAT keeps a PAT type from changing it): device
	 * memory. */
	if (!(e & VT_EMT))
		p |= IOPGT_PROT_MMIO;
	*prot = p;
	return IOPGT_SIM_FAULT_NONE;
}

/* With second-stage A/D enabled (the PASID entry's SSADE): A on any
 * access through a page, D on a write. */
static uint64_t vtd_hw_bits(const struct sim_fmt *f, uint64_t e,
			    unsigned level, unsigned access)
{
	(void)f;
	(void)e;
	(void)level;
	return VT_A | (access & IOPGT_SIM_WRITE ? VT_D : 0);
}

/* ------------------------------------------------------------------------
 * AMD IOMMU v1: the host translation tables.
 *
 * AMD I/O Virtualization Technology (IOMMU) Specification (48882), section
 * 2.2.3 "I/O Page Tables for Host Translations": the I/O page directory
 * entry (PDE) and I/O page table entry (PTE) formats and their field
 * tables, the Next Level field, and the page sizes of PTEs with Next Level
 * 7 (the table of example page size encodings). Section 2.2.2 "Device
 * Table Entry Format": Mode (bits 11:9; 1 to 6 is the number of levels, 0
 * disables translation, 7 is reserved), HAD (bits 8:7, the host access
 * and dirty updates), IR and IW (bits 61, 62).
 *
 * The specification counts levels from 1 (4K entries) up to Mode (the
 * root); walker level L is its level L + 1. An entry at its level N covers
 * 2^(12 + 9(N - 1)) bytes, 512 entries of 8 bytes a 4K table; the root of a
 * 6-level table indexes IOVA bits 63:57 (128 entries). The simulated
 * device table entry has Mode = the domain's levels, IR = IW = 1 (the
 * tables alone decide) and HAD = 11b (accessed and dirty bits updated).
 */

#define AMD_PR BIT(0)             /* present */
#define AMD_A BIT(5)              /* accessed */
#define AMD_D BIT(6)              /* dirty (a PTE; ignored in a PDE) */
#define AMD_NL_SHIFT 9
#define AMD_NL BITS(11, 9)        /* Next Level */
#define AMD_ADDR BITS(51, 12)     /* next table address, page address */
#define AMD_PDE_RSVD BITS(60, 52) /* reserved in a PDE */
#define AMD_PTE_RSVD BITS(58, 52) /* reserved in a PTE */
#define AMD_U BIT(59)             /* a PTE: not for ATS translation
                                   * requests (untranslated access only) */
#define AMD_FC BIT(60)            /* a PTE: force coherent */
#define AMD_IR BIT(61)            /* reads allowed */
#define AMD_IW BIT(62)            /* writes allowed */
/* Bits 4:1 and 63 are ignored, bits 8:7 of a PTE and 8:6 of a PDE. */

/* Next Level: 0 a PTE of the level's size; 1 to 6 a PDE, the level of the
 * table it points to; 7 a PTE whose size the address field encodes. */
static unsigned amd_next_level(uint64_t e)
{
	return (unsigned)((e & AMD_NL) >> AMD_NL_SHIFT);
}

/* log2 of the size a Next Level 7 PTE encodes; 0 if it encodes none. The
 * address field, from bit 12 up, holds t one bits then a zero: the page is
 * 2^(12 + 1 + t) bytes (bit 12 = 0: 8K; bits 13:12 = 01b: 16K; bits 14:12
 * = 011b: 32K; ...), and the bits below its size are not address bits. A
 * field of 40 one bits (51:12) has no zero bit: no size. */
static unsigned amd_nl7_log2(uint64_t e)
{
	uint64_t zeros = ~(e >> 12) & (BIT(40) - 1);

	return zeros ? 13 + (unsigned)__builtin_ctzll(zeros) : 0;
}

static bool amd_valid(const struct sim_fmt *f, uint64_t e, unsigned level)
{
	(void)f;
	(void)level;
	/* PR = 0: not present, whatever the other bits. */
	return (e & AMD_PR) != 0;
}

/* A malformed entry makes an IO_PAGE_FAULT event with RZ set (a reserved
 * bit set, or a Next Level the level cannot have): the walk faults
 * reserved. */
static bool amd_reserved(const struct sim_fmt *f, uint64_t e, unsigned level)
{
	unsigned nl = amd_next_level(e), lg = f->granule + f->bits * level;

	if (nl >= 1 && nl <= 6) {
		/* A PDE: bits 60:52 reserved. Its Next Level names the level
		 * below (walker level `level`): one equal to or above its
		 * own is invalid, and so (in the simulator) is a smaller one,
		 * which the specification allows to skip levels whose IOVA
		 * bits are zero. The simulator does not walk skipped levels;
		 * the library's tables have none. At level 1 a PDE can point
		 * nowhere: 0 and 7 only. */
		return (e & AMD_PDE_RSVD) || nl != level;
	}
	/* A PTE: bits 58:52 reserved. */
	if (e & AMD_PTE_RSVD)
		return true;
	if (nl == 0) {
		/* The level's size, 4K, 2M, 1G, ...: the simulator takes
		 * address bits below the page's alignment as malformed (the
		 * strictest reading), like the other formats' large leaves. */
		return (e & BITS(lg - 1, 12)) != 0;
	}
	/* Next Level 7: a page larger than the level's size and smaller than
	 * the next level's, replicated in each of the 2 to 256 entries it
	 * covers (8K to 1M at level 1, 4M to 512M at level 2, 2G to 256G at
	 * level 3, ...). The level's own size is Next Level 0 (hardware need
	 * not take 7 for it); a smaller size, or one that would fill the
	 * whole table, or beyond, has no entries of its own at this level. */
	{
		unsigned s = amd_nl7_log2(e);

		return !(s > lg && s < lg + f->bits);
	}
}

static bool amd_is_table(const struct sim_fmt *f, uint64_t e, unsigned level)
{
	unsigned nl = amd_next_level(e);

	(void)f;
	(void)level;
	return nl != 0 && nl != 7;
}

static uint64_t amd_table_pa(const struct sim_fmt *f, uint64_t e,
			     unsigned level)
{
	(void)f;
	(void)level;
	return e & AMD_ADDR; /* 4K-aligned next table, bits 51:12 */
}

/* Section 2.2.3: the IR and IW bits of the device table entry and of every
 * PDE and the PTE of the walk are ANDed: a PDE without IW denies writes to
 * everything below it. There are no execute, user or memory-type controls
 * in these tables. */
static unsigned amd_table_prot(const struct sim_fmt *f, uint64_t e,
			       unsigned level)
{
	unsigned allow = prot_all;

	(void)f;
	(void)level;
	if (!(e & AMD_IR))
		allow &= ~(unsigned)IOPGT_PROT_READ;
	if (!(e & AMD_IW))
		allow &= ~(unsigned)IOPGT_PROT_WRITE;
	return allow;
}

static enum iopgt_sim_fault amd_leaf(const struct sim_fmt *f, uint64_t e,
				     unsigned level, uint64_t *pa,
				     uint64_t *size, unsigned *prot)
{
	unsigned p = 0;

	/* Next Level 0: the level's size; 7: the encoded size (amd_reserved
	 * refused sizes that are not the level's to hold). Either way the
	 * output address is the address field above the size: for 7 that
	 * drops the encoding's one bits and its zero bit. The page may span
	 * several entries of the level: the size is the whole page's and the
	 * address its first byte's, whichever of the replicas was read. */
	if (amd_next_level(e) == 7)
		*size = BIT(amd_nl7_log2(e));
	else
		*size = BIT(f->granule + f->bits * level);
	*pa = e & AMD_ADDR & ~(*size - 1);
	if (e & AMD_IR)
		p |= IOPGT_PROT_READ;
	if (e & AMD_IW)
		p |= IOPGT_PROT_WRITE;
	/* No memory type (FC only forces the request coherent, U only
	 * concerns ATS requests): never MMIO, USER or EXEC. */
	*prot = p;
	return IOPGT_SIM_FAULT_NONE;
}

/* With the device table entry's HAD = 11b the hardware sets A in a PTE on
 * any access through it and D on a write, in the entry it read: of a page
 * replicated over several entries, only that one. */
static uint64_t amd_hw_bits(const struct sim_fmt *f, uint64_t e,
			    unsigned level, unsigned access)
{
	(void)f;
	(void)e;
	(void)level;
	return AMD_A | (access & IOPGT_SIM_WRITE ? AMD_D : 0);
}

/* ------------------------------------------------------------------------
 * The formats
 */

#define X86_64_OPS                                                          \
	.valid = x86_valid, .reserved = x86_reserved,                       \
	.is_table = x86_is_table, .table_pa = x86_table_pa,                 \
	.table_prot = x86_table_prot, .leaf = x86_leaf,                     \
	.hw_bits = x86_hw_bits

#define VTDSS_OPS                                                           \
	.valid = vtd_valid, .reserved = vtd_reserved,                       \
	.is_table = vtd_is_table, .table_pa = vtd_table_pa,                 \
	.table_prot = vtd_table_prot, .leaf = vtd_leaf,                     \
	.hw_bits = vtd_hw_bits

#define AMDV1_OPS                                                           \
	.valid = amd_valid, .reserved = amd_reserved,                       \
	.is_table = amd_is_table, .table_pa = amd_table_pa,                 \
	.table_prot = amd_table_prot, .leaf = amd_leaf,                     \
	.hw_bits = amd_hw_bits

#define ARM_S2_OPS                                                          \
	.valid = s2_valid, .reserved = s2_reserved,                         \
	.is_table = s2_is_table, .table_pa = s2_table_pa,                   \
	.table_prot = s2_table_prot, .leaf = s2_leaf, .hw_bits = s2_hw_bits

static const struct sim_fmt fmts[] = {
	/* 512 entries a table; 4K, 2M and 1G pages (1G where the IOMMU
	 * reports 1-GByte page support, assumed here); 4 or 5 levels. */
	{ .format = IOPGT_FMT_X86_64, .granule = 12, .bits = 9,
	  .max_levels = 5, .leaf_levels = 0x7, .name = "x86-64 paging",
	  X86_64_OPS },
	/* Stage 2: at most 4 lookup levels (0-3); pages at level 3, blocks
	 * as s2_block_level() says. */
	{ .format = IOPGT_FMT_ARM_S2, .granule = 12, .bits = 9,
	  .max_levels = 4, .leaf_levels = 0x7, .name = "Arm stage 2, 4K",
	  ARM_S2_OPS },
	{ .format = IOPGT_FMT_ARM_S2, .granule = 14, .bits = 11,
	  .max_levels = 4, .leaf_levels = 0x3, .name = "Arm stage 2, 16K",
	  ARM_S2_OPS },
	{ .format = IOPGT_FMT_ARM_S2, .granule = 16, .bits = 13,
	  .max_levels = 3, .leaf_levels = 0x3, .name = "Arm stage 2, 64K",
	  ARM_S2_OPS },
	/* 512 entries a table; 4K, 2M and 1G pages (1G where CAP_REG.SLLPS
	 * says so, assumed here); 3, 4 or 5 levels. */
	{ .format = IOPGT_FMT_VTDSS, .granule = 12, .bits = 9,
	  .max_levels = 5, .leaf_levels = 0x7, .name = "VT-d second stage",
	  VTDSS_OPS },
	/* 512 entries a table (128 in the root of 6 levels); 1 to 6 levels
	 * (the device table entry's Mode; the library uses 3 to 6); a PTE at
	 * any level, of the level's size or, with Next Level 7, larger. */
	{ .format = IOPGT_FMT_AMDV1, .granule = 12, .bits = 9,
	  .max_levels = 6, .leaf_levels = 0x3f, .name = "AMD IOMMU v1",
	  AMDV1_OPS },
};

const struct sim_fmt *sim_fmt_find(enum iopgt_format format, unsigned granule)
{
	for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++)
		if (fmts[i].format == format && fmts[i].granule == granule)
			return &fmts[i];
	return NULL;
}
