/* SPDX-License-Identifier: MIT */
/*
 * Arm SMMUv3 TLB invalidation commands (Arm IHI 0070, "SMMU architecture
 * version 3", chapter 4 "Commands").
 *
 * Stage 2: CMD_TLBI_S2_IPA per range with the VMID, CMD_TLBI_S12_VMALL
 * for everything; nested (a stage 1 above the table), one CMD_TLBI_NH_ALL
 * after them. Stage 1: CMD_TLBI_NH_VA with the ASID and VMID,
 * CMD_TLBI_NH_ASID for everything.
 *
 * A range is first widened to whole granules, and to whole leaves when
 * its leaf_sizes is one size that is the size of a level's entry and it
 * may hold no other (no IOPGT_RANGE_ANY_SIZE; the
 * TLB holds those entries whole): the target. "Beyond the range" below
 * means beyond the target; for the ranges a gather reports, which are
 * aligned to their leaves, the two are the same.
 *
 * Without range invalidation (SMMU_IDR3.RIL 0, no IOPGT_INVAL_RANGES)
 * each command names one address (TG 0): one per leaf of the target, or
 * one per granule when the leaf size is not one known size.
 *
 * With it, a command covers (NUM + 1) * 2^SCALE granules from its address
 * (NUM, SCALE 5 bits each: at most 32 * 2^31 = 2^36 granules), and the
 * address needs no alignment beyond the granule (and the TTL level's
 * block, below). The cover of a target of N granules with the fewest
 * commands:
 *   - N of that form: one command, exactly the target.
 *   - else the smallest such size M >= N, if M - N granules fit in the
 *     slack: one command of M granules from the target's start (or ending
 *     at its end, near the top of the address space).
 *   - else two: the largest such size A <= N from the start, and either
 *     the rest N - A after it when that has the form, or another A ending
 *     at the target's end. The two then overlap, which costs nothing: a
 *     command invalidates what it covers however often, and A >= N / 2.
 *   - above 2^37 granules, commands of 2^36 from the start until at most
 *     2^37 remain, which then go as above. Each command covers at most
 *     2^36, so none can do with fewer.
 * The smallest M >= N of the form is N rounded up to a multiple of 2^s,
 * s = max(0, log2(N) - 4): 5 significant bits. The largest A <= N is N
 * rounded down the same way.
 */
#include "inval.h"
#include "inval_pow2.h"

/* Command opcodes (IHI 0070, 4.1.1 "Command opcodes"). */
#define SMMU_OP_TLBI_NH_ALL	0x10
#define SMMU_OP_TLBI_NH_ASID	0x11
#define SMMU_OP_TLBI_NH_VA	0x12
#define SMMU_OP_TLBI_S12_VMALL	0x28
#define SMMU_OP_TLBI_S2_IPA	0x2a
#define SMMU_OP_CMD_SYNC	0x46 /* CS 13:12 0: SIG_NONE, no MSI */

/* Fields of the TLB invalidation commands (IHI 0070, 4.4 "TLB
 * invalidation": CMD_TLBI_NH_VA, CMD_TLBI_S2_IPA and the others). The
 * first doubleword: opcode 7:0, NUM 16:12, SCALE 24:20, VMID 47:32, ASID
 * 63:48. The second: Leaf 0, TTL 9:8, TG 11:10, Address 63:12
 * (CMD_TLBI_NH_VA) or IPA 51:12 (CMD_TLBI_S2_IPA). */
#define SMMU_TLBI_0_NUM_SHIFT	12
#define SMMU_TLBI_0_SCALE_SHIFT	20
#define SMMU_TLBI_0_VMID_SHIFT	32
#define SMMU_TLBI_0_ASID_SHIFT	48
#define SMMU_TLBI_1_LEAF	UINT64_C(1)
#define SMMU_TLBI_1_TTL_SHIFT	8
#define SMMU_TLBI_1_TG_SHIFT	10
#define SMMU_TLBI_1_VA_MASK	UINT64_C(0xfffffffffffff000)
#define SMMU_TLBI_1_IPA_MASK	UINT64_C(0x000ffffffffff000)

/* VMID and ASID: 16 bits (SMMU_IDR0.VMID16, ASID16). */
#define SMMU_ID_MAX		0xffffu
/* IPA: 52 bits at most (IPA 51:12; IHI 0070, 3.4 "Address sizes"). */
#define SMMU_IPA_BITS		52
/* Range: (NUM + 1) * 2^SCALE granules, NUM and SCALE 0..31. */
#define SMMU_RANGE_MAX_LG2	36

#define SMMU_INVAL_FLAGS                                                    \
	(IOPGT_INVAL_FIRST_STAGE | IOPGT_INVAL_RANGES | IOPGT_INVAL_NESTED)

struct smmu_enc {
	struct pt_inval_out *o;
	uint64_t dw0;       /* opcode and ids of the by-address command */
	uint64_t addr_mask; /* Address or IPA field */
	uint64_t space;     /* granules in the address space */
	uint64_t slack;     /* granules beyond a range a cover may reach */
	unsigned g;         /* log2 granule */
	unsigned levels;
	bool ranges;
};

/* TG: the translation granule of a range command (IHI 0070, 4.4, the TG
 * field: 0b01 4KB, 0b10 16KB, 0b11 64KB; 0b00 a command for one
 * address, no range). */
static uint64_t smmu_tg(unsigned g)
{
	return (g - 10) / 2;
}

/* The library level whose entries are 2^lg2 bytes, or -1 if none is: the
 * levels below the root each resolve g - 3 bits (an entry is 8 bytes). */
static int smmu_level(unsigned g, unsigned lg2)
{
	unsigned bits = g - 3;

	if (lg2 < g || lg2 >= 64 || (lg2 - g) % bits)
		return -1;
	return (int)((lg2 - g) / bits);
}

/* TTL, the level of the leaf entries a range command invalidates, in the
 * Arm numbering (pages at level 3, library level l at 3 - l), or 0 (no
 * hint, always allowed) when the field cannot say it: TTL 0b01 (level 1)
 * is taken only with the 4K granule (1G blocks); with 16K it needs
 * SMMU_IDR5.DS and with 64K 52-bit addresses, blocks this library does
 * not make. A level the domain does not have gets no hint either. */
static unsigned smmu_ttl(const struct smmu_enc *e, unsigned lg2)
{
	int l = smmu_level(e->g, lg2);

	if (l < 0 || (unsigned)l >= e->levels || l > 2 ||
	    (l == 2 && e->g != 12))
		return 0;
	return 3u - (unsigned)l;
}

/* Whether n granules are (NUM + 1) * 2^SCALE, NUM and SCALE 0..31; if so
 * their fields, with the smallest NUM. */
static bool smmu_range_fields(uint64_t n, unsigned *num, unsigned *scale)
{
	unsigned t = (unsigned)__builtin_ctzll(n);
	uint64_t c = n >> t;

	if (c > 32)
		return false;
	if (t > 31) {
		c <<= t - 31;
		t = 31;
		if (c > 32)
			return false;
	}
	*num = (unsigned)c - 1;
	*scale = t;
	return true;
}

/* n granules rounded down, or up, to a multiple of 2^s with s = log2(n) -
 * 4 (0 below 16): the largest range size <= n, the smallest >= n (n <=
 * 2^36). */
static uint64_t smmu_range_round(uint64_t n, bool up)
{
	unsigned h = pt_pow2_log2(n), s = h > 4 ? h - 4 : 0;
	uint64_t m = (UINT64_C(1) << s) - 1;

	return up ? (n + m) & ~m : n & ~m;
}

/* One command for the granules [f, f + n): a range (TG, NUM, SCALE,
 * TTL), or for one granule without a TTL, the command for one address:
 * with TG != 0, TTL, NUM and SCALE all 0 is a reserved combination
 * (IHI 0070, 4.4, the range fields), and TG 0 invalidates the entries for
 * that address at any level. */
static void smmu_range_cmd(const struct smmu_enc *e, uint64_t f, uint64_t n,
			   unsigned ttl, bool leaf)
{
	uint64_t addr = f << e->g, last = ((f + n) << e->g) - 1;
	uint64_t dw0 = e->dw0, dw1 = (addr & e->addr_mask) | leaf;
	unsigned num = 0, scale = 0;

	if (n != 1 || ttl) {
		smmu_range_fields(n, &num, &scale);
		dw0 |= (uint64_t)num << SMMU_TLBI_0_NUM_SHIFT |
		       (uint64_t)scale << SMMU_TLBI_0_SCALE_SHIFT;
		dw1 |= (uint64_t)ttl << SMMU_TLBI_1_TTL_SHIFT |
		       smmu_tg(e->g) << SMMU_TLBI_1_TG_SHIFT;
	}
	pt_pow2_cmd(e->o, dw0, dw1, addr, last);
}

/* The fewest range commands for the granules [f, f + n), n >= 1, as the
 * file's head describes. All of f, n and the sizes chosen are multiples
 * of the unit (the leaf's granules when ttl is set): with a TTL, the
 * Address must be aligned to that level's block (IHI 0070, 4.4, the TTL
 * field; as for the Arm ARM's TLBI RVAE1 and RIPAS2E1). */
static void smmu_cover(const struct smmu_enc *e, uint64_t f, uint64_t n,
		       unsigned ttl, bool leaf)
{
	const uint64_t max = UINT64_C(1) << SMMU_RANGE_MAX_LG2;
	unsigned num = 0, scale = 0;
	uint64_t a;

	while (n > 2 * max) {
		smmu_range_cmd(e, f, max, ttl, leaf);
		f += max;
		n -= max;
	}
	if (smmu_range_fields(n, &num, &scale)) {
		smmu_range_cmd(e, f, n, ttl, leaf);
		return;
	}
	if (n < max) {
		a = smmu_range_round(n, true);
		if (a - n <= e->slack) {
			if (e->space - f >= a) {
				smmu_range_cmd(e, f, a, ttl, leaf);
				return;
			}
			if (f + n >= a) {
				smmu_range_cmd(e, f + n - a, a, ttl, leaf);
				return;
			}
		}
	}
	a = n > max ? max : smmu_range_round(n, false);
	smmu_range_cmd(e, f, a, ttl, leaf);
	if (smmu_range_fields(n - a, &num, &scale))
		smmu_range_cmd(e, f + a, n - a, ttl, leaf);
	else
		smmu_range_cmd(e, f + n - a, a, ttl, leaf);
}

static int smmu_range(const struct smmu_enc *e,
		      const struct iopgt_flush_range *r)
{
	bool walk = r->kind == IOPGT_FLUSH_WALK;
	/* Leaf: only the last level's entries (IHI 0070, 4.4, the Leaf
	 * field); a table entry changed, or a table unlinked, needs the
	 * walk caches too. */
	bool leaf = !walk && (r->flags & IOPGT_RANGE_LEAF_ONLY);
	unsigned u = e->g, ttl = 0;
	uint64_t first, last;

	if (e->addr_mask == SMMU_TLBI_1_IPA_MASK && r->last >> SMMU_IPA_BITS)
		return -EINVAL;
	/* A WALK range's tables may have held leaves of any size. */
	if (!walk && !(r->flags & IOPGT_RANGE_ANY_SIZE) && r->leaf_sizes &&
	    !(r->leaf_sizes & (r->leaf_sizes - 1)) &&
	    smmu_level(e->g, pt_pow2_log2(r->leaf_sizes)) >= 0) {
		u = pt_pow2_log2(r->leaf_sizes);
		ttl = smmu_ttl(e, u);
	}
	/* The target, in units of 2^u bytes. */
	first = r->iova >> u;
	last = r->last >> u;
	if (e->ranges) {
		smmu_cover(e, first << (u - e->g),
			   (last - first + 1) << (u - e->g), ttl, leaf);
		return 0;
	}
	/* One command per unit, TG 0: NUM, SCALE and TTL are then 0. */
	for (uint64_t i = first;; i++) {
		uint64_t addr = i << u;

		if (!pt_pow2_room(e->o)) {
			pt_pow2_skip(e->o, last - i + 1);
			break;
		}
		pt_inval_emit(e->o, e->dw0, (addr & e->addr_mask) | leaf, addr,
			      addr + ((UINT64_C(1) << u) - 1));
		if (i == last)
			break;
	}
	return 0;
}

int iopgt__inval_smmuv3(const struct iopgt_inval_config *c,
			const struct iopgt_flush_range *r, unsigned nr,
			bool all, struct pt_inval_out *o)
{
	bool s1 = c->flags & IOPGT_INVAL_FIRST_STAGE;
	uint64_t vmid = (uint64_t)c->domain_id << SMMU_TLBI_0_VMID_SHIFT;
	uint64_t asid = (uint64_t)c->pasid << SMMU_TLBI_0_ASID_SHIFT;
	struct smmu_enc e;

	if ((c->granule != 12 && c->granule != 14 && c->granule != 16) ||
	    (c->flags & ~(unsigned)SMMU_INVAL_FLAGS) ||
	    c->domain_id > SMMU_ID_MAX ||
	    (s1 && (c->pasid > SMMU_ID_MAX || (c->flags & IOPGT_INVAL_NESTED))))
		return -EINVAL;

	if (all) {
		/* CMD_TLBI_NH_ASID: stage 1 entries of the ASID and VMID.
		 * CMD_TLBI_S12_VMALL: every stage 1 and stage 2 entry of the
		 * VMID, the combined ones of a nested table included, so
		 * no CMD_TLBI_NH_ALL follows (IHI 0070, 4.4). */
		if (s1)
			pt_pow2_cmd(o, SMMU_OP_TLBI_NH_ASID | asid | vmid, 0,
				    0, UINT64_MAX);
		else
			pt_pow2_cmd(o, SMMU_OP_TLBI_S12_VMALL | vmid, 0, 0,
				    UINT64_MAX);
		return 0;
	}

	e.o = o;
	e.g = c->granule;
	e.levels = c->levels;
	e.ranges = c->flags & IOPGT_INVAL_RANGES;
	e.slack = c->slack >> e.g;
	if (s1) {
		e.dw0 = SMMU_OP_TLBI_NH_VA | asid | vmid;
		e.addr_mask = SMMU_TLBI_1_VA_MASK;
		e.space = UINT64_C(1) << (64 - e.g);
	} else {
		e.dw0 = SMMU_OP_TLBI_S2_IPA | vmid;
		e.addr_mask = SMMU_TLBI_1_IPA_MASK;
		e.space = UINT64_C(1) << (SMMU_IPA_BITS - e.g);
	}
	for (unsigned i = 0; i < nr; i++) {
		const struct iopgt_flush_range ti = pt_inval_target(c, &r[i]);
		int err = smmu_range(&e, &ti);

		if (err)
			return err;
	}
	/* CMD_TLBI_S2_IPA need not invalidate entries that combine stage 1
	 * and stage 2 (IHI 0070, 4.4, CMD_TLBI_S2_IPA; as TLBI IPAS2E1 in
	 * the Arm ARM): with a stage 1 above this table, those go with
	 * CMD_TLBI_NH_ALL for the VMID, once, last. Commands may complete
	 * out of order, and a walk between the two could combine a stage-1
	 * entry with a stage-2 entry not yet invalidated; so a CMD_SYNC
	 * (CS = SIG_NONE: no signal; 4.7.3) first, whose consumption waits
	 * for the stage-2 commands to complete (as DSB between TLBI IPAS2E1
	 * and TLBI VMALLE1 on a CPU). It invalidates nothing: an empty
	 * range. */
	if (!s1 && (c->flags & IOPGT_INVAL_NESTED) && nr) {
		pt_pow2_cmd(o, SMMU_OP_CMD_SYNC, 0, UINT64_MAX, 0);
		pt_pow2_cmd(o, SMMU_OP_TLBI_NH_ALL | vmid, 0, 0, UINT64_MAX);
	}
	return 0;
}
