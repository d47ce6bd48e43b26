/* SPDX-License-Identifier: MIT */
/*
 * The format contract: what a format header (src/fmt/<x>.h) gives the
 * engine. engine.h includes this file after the format header and before
 * the engine, so every compiled engine (src/fmt_<x>.c) is checked here:
 * an item that is missing stops the build with an #error naming it, and
 * an optional item left out gets the default below.
 *
 * Levels are the library's: 0 is the smallest leaf's level, the root is
 * geo->levels - 1 (the architecture's own numbering stays in the format
 * header and in fmt_geometry's start_level). An entry is one 64-bit word,
 * read and written with single atomic 64-bit accesses in the CPU's byte
 * order (only little-endian walkers are supported). Zero is the only empty
 * entry: the engine writes zero to clear, and treats any non-zero entry as
 * present, so a format without a present bit (VT-d second stage) must
 * never produce a non-zero entry the hardware ignores.
 *
 * Functions are static inline in the format header. So that the
 * preprocessor can see them, each one is followed by a marker of the same
 * name: `#define fmt_is_table fmt_is_table`. The engine calls only what is
 * listed here.
 *
 * ---- Required constants ----
 *
 *   FMT_FORMAT     the enum iopgt_format value this engine implements (the
 *                  registry, src/fmt/registry.c, maps the value to the
 *                  engine; each granule has an engine of its own).
 *   FMT_GRANULE    log2 bytes of a (non-root) table page, which is also
 *                  the smallest leaf: 12, 14 or 16. A compile-time
 *                  constant of the compiled engine: the hot walk shifts by
 *                  it.
 *   FMT_BITS       index bits of a non-root table: FMT_GRANULE - 3 (8-byte
 *                  entries filling the page). An entry at level L spans
 *                  2^(FMT_GRANULE + FMT_BITS * L) bytes of input; only the
 *                  root may index a different number of bits (geometry).
 *   FMT_MAX_OAS    the largest output address size (bits) the format can
 *                  encode; the registry's oas_max must equal it.
 *
 * ---- Required functions ----
 *
 *   int fmt_geometry(const struct iopgt_config *cfg, struct pt_geo *geo)
 *       Check cfg->{granule, ias, oas} and fill geo: granule (=
 *       FMT_GRANULE), bits (= FMT_BITS), levels (at most PT_MAX_LEVELS),
 *       root_bits (index bits of the root: fewer than bits for a partial
 *       root, more for concatenated or widened roots), root_tables,
 *       start_level (the architecture's number of the root level),
 *       table_size and root_size (bytes; the root is one allocation
 *       aligned to its size). 0 or -EINVAL.
 *   uint64_t fmt_leaf_sizes(unsigned level, const struct pt_geo *geo)
 *       The byte sizes a leaf at `level` may have in this geometry, as a
 *       set: bit k set means a leaf of 2^k bytes. A leaf of one item has
 *       the level's entry size, 2^(FMT_GRANULE + FMT_BITS * level); larger
 *       bits are leaves spanning 2^j contiguous items of one table (see
 *       fmt_leaf_span). 0: no leaf at that level. Called with geo filled
 *       by fmt_geometry and pt_geo_finish, level < geo->levels.
 *   bool fmt_is_table(uint64_t e, unsigned level)
 *       e is a table entry (names a table at level - 1). Never true at
 *       level 0, and never for e == 0: the engine asks about empty
 *       entries too (a format without a present bit must test for one
 *       of its permission bits).
 *   uint64_t fmt_make_table(uint64_t pa, unsigned level)
 *       The table entry at `level` that names the table page at hardware
 *       address pa (aligned to the table size) for the level below. It
 *       grants every permission (the hardware ANDs them down the walk, so
 *       the leaf decides) and presets any bit the hardware would otherwise
 *       set in it (accessed): the engine compares and swaps table entries
 *       by value, so the hardware must never change one.
 *   uint64_t fmt_table_pa(uint64_t e, unsigned level)
 *       The hardware address of the table that table entry e at `level`
 *       names: fmt_table_pa(fmt_make_table(pa, l), l) == pa.
 *   uint64_t fmt_make_leaf(uint64_t pa, unsigned level, uint64_t attrs)
 *       The one-item leaf at `level` mapping pa (aligned to the level's
 *       entry size) with attrs (from fmt_prot_attrs or fmt_leaf_attrs).
 *   uint64_t fmt_leaf_pa(uint64_t e, unsigned level)
 *       The output address of the first byte of the leaf that e (a leaf
 *       entry at `level`) belongs to; for a leaf spanning 2^k items, the
 *       start of the whole span, whichever item's entry e is. The address
 *       is decoded, not masked in place: a format may keep it shifted
 *       (RISC-V's PPN) or split.
 *   uint64_t fmt_leaf_attrs(uint64_t e, unsigned level)
 *       The attributes of leaf e as fmt_make_leaf takes them: everything
 *       but the address, the level's and span's own encoding bits and
 *       FMT_HW_BITS. Two leaves with equal attrs differ only in address
 *       and hardware-set bits (coalescing compares them).
 *   unsigned fmt_leaf_prot(uint64_t e, unsigned level)
 *       The IOPGT_PROT_* bits of leaf e (what lookup reports).
 *   int fmt_prot_attrs(unsigned prot, uint64_t *attrs)
 *       The leaf attributes for an IOPGT_PROT_* value, or -EINVAL if the
 *       format cannot express it exactly (never widened). Must give a
 *       non-zero attrs. The domain tabulates it for prot 0..31 at create.
 *
 * ---- Optional, with their defaults ----
 *
 *   FMT_TABLE_LINEAR (0)
 *       1 if a table entry at level L is exactly fmt_make_table(0, L) + pa
 *       and the hardware never changes table entries: the hot walk
 *       (cur_leaf) then finds the next table's CPU address with one
 *       addition, e + (va_off - fmt_make_table(0, L)). 0: it decodes
 *       fmt_table_pa(e, L) and translates that (va_off, or phys_to_virt).
 *   uint64_t fmt_leaf_step(unsigned level)
 *       What a one-item leaf's entry value changes by from one item to the
 *       next contiguous one, for runs the engine builds by adding it (map
 *       fills, splits): fmt_make_leaf(pa + size, l, a) ==
 *       fmt_make_leaf(pa, l, a) + fmt_leaf_step(l). Default: the level's
 *       entry size (the address sits in place). RISC-V: size >> 2.
 *   unsigned fmt_leaf_span(uint64_t e, unsigned level)      (default 0)
 *       log2 of the items leaf e spans (AMD v1 NextLevel=7 sizes, ARM's
 *       contiguous hint, RISC-V Svnapot): a leaf of 2^k items of one table
 *       is written in each of its 2^k entries (a group, aligned to 2^k).
 *   FMT_LEAF_SPANS (0)
 *       1 if the format offers multi-item leaves; it then defines
 *       uint64_t fmt_make_leaf_span(uint64_t pa, unsigned level,
 *                                   unsigned k, uint64_t attrs)
 *       the entry of the first item of a leaf of 2^k items at pa (aligned
 *       to the whole span), and may define uint64_t fmt_span_step(unsigned
 *       level, unsigned k), what each following item's entry adds (default
 *       0: identical replicas, AMD and RISC-V; the item size: ARM, whose
 *       output address increments). fmt_leaf_attrs must drop the span's encoding, so that
 *       a span and a one-item leaf of equal permissions compare equal.
 *       The engine then maps a range with the largest spans that fit
 *       (within the sizes in use), rewrites a span in place into smaller
 *       spans and items when an unmap cuts it, coalesces a table full of
 *       them into the next level's leaf, and reports and clears dirty
 *       state per span. A level offers spans only with its one-item leaf.
 *   FMT_HW_BITS (0), FMT_HW_ACCESSED (0), FMT_HW_DIRTY (0)
 *       Leaf bits the hardware may set on its own: ignored when comparing
 *       leaves, carried into splits and coalesced superpages, and, for a
 *       simulated walker, the bit it sets on any access (ACCESSED) and on
 *       a write (DIRTY). ACCESSED and DIRTY lie in HW_BITS.
 *   bool fmt_leaf_dirty(uint64_t e, unsigned level)
 *       The hardware dirty state of leaf e. Default: e & FMT_HW_DIRTY.
 *       Dirty tracking (iopgt_read_and_clear_dirty) is offered iff
 *       FMT_HW_DIRTY != 0; it clears the state by clearing FMT_HW_DIRTY.
 *   bool fmt_entry_valid(uint64_t e, unsigned level)
 *       The hardware would accept e at `level` as a table or leaf entry
 *       (x86 P set; ARM bit 0 set and, at the last level, type 0b11; VT-d
 *       second stage R or W set). The engine writes only such entries or
 *       zero. The simulated IOMMU does not call it: it decodes entries
 *       with its own code, written from the specifications. Default:
 *       e != 0.
 *   FMT_SW_BITS (0)
 *       Leaf bits the hardware ignores (available to software). The
 *       library writes none; a test hook moves a permission bit there to
 *       make an encoding bug only the hardware's decoding can see.
 *   void fmt_hw_config(const struct pt_geo *geo, uint64_t root,
 *                      struct iopgt_hw_config *hw)
 *       Fill the words of struct iopgt_hw_config that the format's
 *       hardware takes (root is the root table's hardware address; hw
 *       arrives zeroed with format, levels and root set). Default: none.
 *   FMT_IAS_WITHIN_OAS (0)
 *       1 if the input address size may not exceed the output address
 *       size (ARM stage 2: the IPA is bounded by the PA size). The engine
 *       then refuses such a configuration before fmt_geometry sees it, and
 *       iopgt_format_info() says so (IOPGT_FORMAT_IAS_WITHIN_OAS).
 *   FMT_GROWS (0)
 *       1 if a domain's root level may grow while the hardware walks it:
 *       the hardware takes the root and its level in one write (AMD v1:
 *       the device table entry's Mode and root), so that a new root
 *       whose entry 0 names the old one can take over with no flush.
 *       Such a format's fmt_geometry must give full non-root tables at
 *       every level up to its most levels; it may not sign-extend; and a
 *       growing domain whose leaves reach above its first root's level is
 *       refused (a pinned root is never replaced by a leaf). The
 *       domain then accepts iopgt_config.ias_max (iopgt_format_info():
 *       IOPGT_FORMAT_GROWS).
 *   FMT_INPUT_SIGN_EXTEND (0)
 *       1 if the hardware sign-extends input addresses from bit ias - 1
 *       (x86 canonical addresses, RISC-V Sv39/48/57 first stage, ARM TTB1):
 *       the input space is then [0, 2^(ias-1)) and the upper half
 *       [2^64 - 2^(ias-1), 2^64); everything between is refused (-ERANGE)
 *       and no range may cross from one half to the other. fmt_geometry
 *       must then give a root that indexes the hardware's whole walk
 *       width (shift of the root plus root_bits: 48 for x86 4-level),
 *       whatever the ias, so that an upper-half IOVA indexes the entry
 *       the hardware reads; the first IOVA of root entry i is then i's
 *       offset sign-extended from that width (pt_sext). 0: inputs below
 *       2^ias.
 */
#ifndef IOPGT_FMT_CONTRACT_H
#define IOPGT_FMT_CONTRACT_H

#include "../pt.h"

/* ---- required constants ---- */

#ifndef FMT_FORMAT
#error "format header: FMT_FORMAT (the enum iopgt_format value) missing"
#endif
#ifndef FMT_GRANULE
#error "format header: FMT_GRANULE (log2 bytes of a table page) missing"
#endif
#ifndef FMT_BITS
#error "format header: FMT_BITS (index bits of a non-root table) missing"
#endif
#ifndef FMT_MAX_OAS
#error "format header: FMT_MAX_OAS (largest output address size, bits) missing"
#endif

_Static_assert(FMT_GRANULE >= 12 && FMT_GRANULE <= 16,
	       "format header: FMT_GRANULE must be 12..16");
_Static_assert(FMT_BITS == FMT_GRANULE - 3,
	       "format header: FMT_BITS must be FMT_GRANULE - 3 (8-byte "
	       "entries filling a table page)");
_Static_assert(FMT_MAX_OAS >= 32 && FMT_MAX_OAS <= 64,
	       "format header: FMT_MAX_OAS must be 32..64");

/* ---- required functions (each with its marker) ---- */

#ifndef fmt_geometry
#error "format header: fmt_geometry(cfg, geo) (levels, root, concatenation) missing, or its marker #define fmt_geometry fmt_geometry"
#endif
#ifndef fmt_leaf_sizes
#error "format header: fmt_leaf_sizes(level, geo) (bitmap of leaf byte sizes at a level) missing, or its marker"
#endif
#ifndef fmt_is_table
#error "format header: fmt_is_table(e, level) missing, or its marker"
#endif
#ifndef fmt_make_table
#error "format header: fmt_make_table(pa, level) missing, or its marker"
#endif
#ifndef fmt_table_pa
#error "format header: fmt_table_pa(e, level) missing, or its marker"
#endif
#ifndef fmt_make_leaf
#error "format header: fmt_make_leaf(pa, level, attrs) missing, or its marker"
#endif
#ifndef fmt_leaf_pa
#error "format header: fmt_leaf_pa(e, level) (output address of a leaf) missing, or its marker"
#endif
#ifndef fmt_leaf_attrs
#error "format header: fmt_leaf_attrs(e, level) missing, or its marker"
#endif
#ifndef fmt_leaf_prot
#error "format header: fmt_leaf_prot(e, level) (IOPGT_PROT_* of a leaf) missing, or its marker"
#endif
#ifndef fmt_prot_attrs
#error "format header: fmt_prot_attrs(prot, attrs) missing, or its marker"
#endif

/* ---- optional items: defaults ---- */

#ifndef FMT_TABLE_LINEAR
#define FMT_TABLE_LINEAR 0
#endif
#if FMT_TABLE_LINEAR != 0 && FMT_TABLE_LINEAR != 1
#error "format header: FMT_TABLE_LINEAR must be 0 or 1"
#endif

#ifndef FMT_HW_BITS
#define FMT_HW_BITS UINT64_C(0)
#endif
#ifndef FMT_HW_ACCESSED
#define FMT_HW_ACCESSED UINT64_C(0)
#endif
#ifndef FMT_HW_DIRTY
#define FMT_HW_DIRTY UINT64_C(0)
#endif
_Static_assert(((FMT_HW_ACCESSED | FMT_HW_DIRTY) & ~FMT_HW_BITS) == 0,
	       "format header: FMT_HW_ACCESSED and FMT_HW_DIRTY must lie in "
	       "FMT_HW_BITS");

#ifndef FMT_INPUT_SIGN_EXTEND
#define FMT_INPUT_SIGN_EXTEND 0
#endif

#ifndef FMT_GROWS
#define FMT_GROWS 0
#endif
#if FMT_GROWS && FMT_INPUT_SIGN_EXTEND
#error "format header: a format that grows may not sign-extend its input"
#endif

#ifndef FMT_SW_BITS
#define FMT_SW_BITS UINT64_C(0)
#endif

#ifndef FMT_IAS_WITHIN_OAS
#define FMT_IAS_WITHIN_OAS 0
#endif
#if FMT_IAS_WITHIN_OAS != 0 && FMT_IAS_WITHIN_OAS != 1
#error "format header: FMT_IAS_WITHIN_OAS must be 0 or 1"
#endif

#ifndef FMT_LEAF_SPANS
#define FMT_LEAF_SPANS 0
#endif

#ifndef fmt_leaf_step
static inline uint64_t fmt_leaf_step(unsigned level)
{
	return UINT64_C(1) << (FMT_GRANULE + FMT_BITS * level);
}
#define fmt_leaf_step fmt_leaf_step
#endif

#ifndef fmt_leaf_span
static inline unsigned fmt_leaf_span(uint64_t e, unsigned level)
{
	(void)e;
	(void)level;
	return 0;
}
#define fmt_leaf_span fmt_leaf_span
#endif

#if FMT_LEAF_SPANS
#ifndef fmt_make_leaf_span
#error "format header: FMT_LEAF_SPANS is 1 but fmt_make_leaf_span(pa, level, k, attrs) is missing, or its marker"
#endif
#else
#ifdef fmt_make_leaf_span
#error "format header: fmt_make_leaf_span defined but FMT_LEAF_SPANS is not 1"
#endif
/* Not supported: no multi-item leaf can be made (0 is the empty entry). */
static inline uint64_t fmt_make_leaf_span(uint64_t pa, unsigned level,
					  unsigned k, uint64_t attrs)
{
	(void)pa;
	(void)level;
	(void)k;
	(void)attrs;
	return 0;
}
#define fmt_make_leaf_span fmt_make_leaf_span
#endif

#ifndef fmt_span_step
/* Identical replicas (AMD v1, RISC-V Svnapot). */
static inline uint64_t fmt_span_step(unsigned level, unsigned k)
{
	(void)level;
	(void)k;
	return 0;
}
#define fmt_span_step fmt_span_step
#endif

#ifndef fmt_leaf_dirty
static inline bool fmt_leaf_dirty(uint64_t e, unsigned level)
{
	(void)level;
	return (e & FMT_HW_DIRTY) != 0;
}
#define fmt_leaf_dirty fmt_leaf_dirty
#endif

#ifndef fmt_hw_config
static inline void fmt_hw_config(const struct pt_geo *geo, uint64_t root,
				 struct iopgt_hw_config *hw)
{
	(void)geo;
	(void)root;
	(void)hw;
}
#define fmt_hw_config fmt_hw_config
#endif

#ifndef fmt_entry_valid
static inline bool fmt_entry_valid(uint64_t e, unsigned level)
{
	(void)level;
	return e != 0;
}
#define fmt_entry_valid fmt_entry_valid
#endif

#endif /* IOPGT_FMT_CONTRACT_H */
