/* SPDX-License-Identifier: MIT */
/*
 * The IOMMUs' invalidation commands, executed against the simulator's
 * caches.
 *
 * Each IOMMU's commands are decoded here from the command words, by code
 * written from its specification (the section is cited beside each
 * decoder), never by the library's encoder and never from the iova and
 * last the encoder notes beside the words. A command becomes an effect on
 * the attached domain's caches:
 *   none      it names another domain, PASID, ASID, VMID or address
 *             space, or another stage's tables;
 *   all       every IOTLB and paging-structure entry;
 *   a range   the IOTLB entries overlapping [iova, last] of the levels the
 *             command allows (SMMUv3's TTL), and, unless the command keeps
 *             them (VT-d IH = 1, AMD PDE = 0, SMMUv3 Leaf = 1, RISC-V
 *             without NL), the paging-structure entries whose table's span
 *             overlaps it.
 * Where a specification lets the hardware drop more than a command names
 * (a coarser invalidation is always allowed), the simulator drops exactly
 * what it names: a command that misses an entry leaves it cached, and the
 * model then reports the translation that uses it.
 *
 * A command that does not decode (an unknown opcode or granularity, a
 * reserved bit set, a field the IOMMU's capabilities leave reserved, an
 * address not aligned to its mask) is a violation and has no effect,
 * where hardware would stop its queue with an error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "sim_int.h"

#define BIT(n) (UINT64_C(1) << (n))
/* Bits h..l of x. */
#define FIELD(x, h, l) (((x) >> (l)) & ((UINT64_C(2) << ((h) - (l))) - 1))
/* A mask of bits h..l. */
#define MASK(h, l) (((UINT64_C(2) << ((h) - (l))) - 1) << (l))

enum eff_kind { EFF_NONE, EFF_ALL, EFF_RANGE };

struct eff {
	enum eff_kind kind;
	uint64_t iova, last;
	unsigned levels; /* IOTLB entries of these walker levels (bit l) */
	bool psc;        /* paging-structure entries of the range too */
	bool whole;      /* a present leaf only if the range holds all of
	                  * it (VT-d) */
};

struct dec {
	const struct iopgt_sim *sim;
	const struct iopgt_inval_config *c;
	bool first;   /* the domain is a first-stage table */
	bool ranges;  /* IOPGT_INVAL_RANGES: the optional fields exist */
	bool s2_open; /* SMMUv3: a CMD_TLBI_S2_IPA since the last
	               * CMD_SYNC of the batch */
	char why[120];
};

static int bad(struct dec *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int bad(struct dec *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->why, sizeof(d->why), fmt, ap);
	va_end(ap);
	return -1;
}

/* [base, base + 2^size_log2 - 1], the whole space when size_log2 is 64. */
static void eff_range(struct eff *e, uint64_t base, unsigned size_log2,
		      bool psc)
{
	e->kind = EFF_RANGE;
	if (size_log2 >= 64) {
		e->iova = 0;
		e->last = UINT64_MAX;
	} else {
		e->iova = base & ~(BIT(size_log2) - 1);
		e->last = e->iova + (BIT(size_log2) - 1);
	}
	e->levels = ~0u;
	e->psc = psc;
}

/* ------------------------------------------------------------------------
 * Intel VT-d (Intel Virtualization Technology for Directed I/O,
 * Architecture Specification, §6.5.2 "Invalidation Descriptors"). A
 * descriptor's type is bits 3:0 with bits 11:9 above them (Type[6:4]).
 */

/* The page-selective part common to both descriptors: dw1 holds AM (bits
 * 5:0), IH (bit 6), bits 11:7 reserved and ADDR (bits 63:12). 2^AM pages
 * of 4K, naturally aligned: ADDR must have its low AM page-number bits
 * clear (§6.5.2.3, "Address Mask"), and AM must not exceed CAP_REG.MAMV
 * (max_addr_mask). IH = 1: no paging-structure entry changed, those
 * caches may be kept; IH = 0: the paging-structure-cache entries for the
 * range are invalidated too. */
static int vtd_psi(struct dec *d, uint64_t dw1, struct eff *e)
{
	unsigned am = (unsigned)FIELD(dw1, 5, 0);
	uint64_t addr = dw1 & MASK(63, 12);

	if (!d->ranges)
		return bad(d, "page-selective granularity without CAP_REG.PSI");
	if (am > d->c->max_addr_mask)
		return bad(d, "AM %u above MAMV %u", am, d->c->max_addr_mask);
	if (12 + am < 64 && (addr & ((BIT(12) << am) - 1)))
		return bad(d, "ADDR 0x%" PRIx64 " not aligned to AM %u", addr,
			   am);
	if (12 + am >= 64 && addr)
		return bad(d, "ADDR 0x%" PRIx64 " not aligned to AM %u", addr,
			   am);
	eff_range(e, addr, 12 + am, !FIELD(dw1, 6, 6));
	/* A large page's translation goes only with an AM of at least its
	 * order (§11.4.8.2, IVA_REG, the AM field: 9 for a 2M page, 18 for
	 * 1G): hardware may keep it for a smaller one, and so does this
	 * model. */
	e->whole = true;
	return 0;
}

static int dec_vtd(struct dec *d, const struct iopgt_inval_cmd *cmd,
		   struct eff *e)
{
	uint64_t dw0 = cmd->dw[0], dw1 = cmd->dw[1];
	unsigned type = (unsigned)(FIELD(dw0, 3, 0) | FIELD(dw0, 11, 9) << 4);
	unsigned g = (unsigned)FIELD(dw0, 5, 4);
	uint32_t did = (uint32_t)FIELD(dw0, 31, 16);

	switch (type) {
	case 2:
		/* §6.5.2.3 IOTLB Invalidate Descriptor: G (5:4), DW (6), DR
		 * (7), bit 8 reserved, bits 15:12 reserved, DID (31:16),
		 * bits 63:32 reserved. G: 01b global, 10b domain-selective,
		 * 11b page-selective-within-domain; 00b reserved. It reaches
		 * second-stage (and pass-through) translations; first-stage
		 * ones are the PASID-based descriptor's (type 6), except by
		 * global invalidation. */
		if (dw0 & (BIT(8) | MASK(15, 12) | MASK(63, 32)))
			return bad(d, "reserved bits set in dw0");
		if (dw1 & MASK(11, 7))
			return bad(d, "reserved bits 11:7 set in dw1");
		if (g == 0)
			return bad(d, "reserved granularity 00b");
		if (g == 1) {
			e->kind = EFF_ALL;
			return 0;
		}
		if (g == 3 && vtd_psi(d, dw1, e))
			return -1;
		if (d->first || did != d->c->domain_id) {
			e->kind = EFF_NONE;
			return 0;
		}
		if (g == 2)
			e->kind = EFF_ALL;
		return 0;
	case 6:
		/* §6.5.2.4 PASID-based-IOTLB Invalidate Descriptor: G (5:4),
		 * bits 8:6 and 15:12 reserved, DID (31:16), PASID (51:32),
		 * bits 63:52 reserved. G: 10b all of the PASID (its
		 * non-global entries), 11b page-selective-within-PASID; 00b
		 * and 01b reserved. It reaches first-stage translations. The
		 * simulator keeps no global entries, so 10b drops
		 * everything of the PASID. */
		if (dw0 & (MASK(8, 6) | MASK(15, 12) | MASK(63, 52)))
			return bad(d, "reserved bits set in dw0");
		if (dw1 & MASK(11, 7))
			return bad(d, "reserved bits 11:7 set in dw1");
		if (g < 2)
			return bad(d, "reserved granularity %u", g);
		if (g == 3 && vtd_psi(d, dw1, e))
			return -1;
		if (!d->first || did != d->c->domain_id ||
		    FIELD(dw0, 51, 32) != d->c->pasid) {
			e->kind = EFF_NONE;
			return 0;
		}
		if (g == 2)
			e->kind = EFF_ALL;
		return 0;
	default:
		return bad(d, "descriptor type %u is no IOTLB invalidation",
			   type);
	}
}

/* ------------------------------------------------------------------------
 * AMD IOMMU (AMD I/O Virtualization Technology (IOMMU) Specification,
 * §2.4 "Commands"). dw[0] holds the command's words 0 and 1 (word 0 in
 * bits 31:0), dw[1] words 2 and 3; the opcode is word 1 bits 31:28.
 */

static int dec_amd(struct dec *d, const struct iopgt_inval_cmd *cmd,
		   struct eff *e)
{
	uint64_t dw0 = cmd->dw[0], dw1 = cmd->dw[1];
	unsigned op = (unsigned)FIELD(dw0, 63, 60);

	switch (op) {
	case 0x3: {
		/* §2.4.3 INVALIDATE_IOMMU_PAGES: word 0 PASID (19:0), bits
		 * 31:20 reserved; word 1 DomainID (15:0), bits 27:16
		 * reserved; word 2 S (bit 0), PDE (bit 1), GN (bit 2), bits
		 * 11:3 reserved, Address[31:12] (31:12); word 3
		 * Address[63:32]. GN = 1: the guest (PASID's) translations,
		 * GN = 0: the host (GPA) ones, PASID ignored. S = 0: the 4K
		 * page at Address; S = 1: the first zero bit of Address at
		 * or above bit 12, at position k, makes the range 2^(k + 1)
		 * bytes, naturally aligned (bit 12 zero: 8K; bits 62:12 ones
		 * and bit 63 zero: everything). PDE = 1: the page directory
		 * (paging-structure) entries of the range too; PDE = 0: only
		 * the PTEs. */
		uint64_t addr = dw1 & MASK(63, 12);
		unsigned size_log2 = 12;
		bool gn = FIELD(dw1, 2, 2);

		if (dw0 & (MASK(31, 20) | MASK(59, 48)))
			return bad(d, "reserved bits set in words 0-1");
		if (dw1 & MASK(11, 3))
			return bad(d, "reserved bits 11:3 set in word 2");
		if (FIELD(dw1, 0, 0)) {
			uint64_t zeros = ~addr & MASK(63, 12);

			if (!zeros)
				return bad(d, "S = 1 with Address all ones: "
					      "no size");
			size_log2 = (unsigned)__builtin_ctzll(zeros) + 1;
		}
		if (FIELD(dw0, 47, 32) != d->c->domain_id || gn != d->first ||
		    (gn && FIELD(dw0, 19, 0) != d->c->pasid)) {
			e->kind = EFF_NONE;
			return 0;
		}
		eff_range(e, addr, size_log2, FIELD(dw1, 1, 1));
		return 0;
	}
	case 0x8:
		/* §2.4.9 INVALIDATE_IOMMU_ALL: every field but the opcode
		 * reserved. */
		if ((dw0 & ~MASK(63, 60)) || dw1)
			return bad(d, "reserved bits set");
		e->kind = EFF_ALL;
		return 0;
	default:
		return bad(d, "opcode %xh is no page invalidation", op);
	}
}

/* ------------------------------------------------------------------------
 * Arm SMMUv3 (Arm System Memory Management Unit Architecture
 * Specification, IHI 0070, §4.4 "TLB invalidation"). Opcode in dw0 bits
 * 7:0.
 */

/* The address-based part of CMD_TLBI_NH_VA and CMD_TLBI_S2_IPA: dw0 NUM
 * (16:12), SCALE (24:20); dw1 Leaf (0), TTL (9:8), TG (11:10), Address
 * (from bit 12). TG = 0: one address, every entry that contains it; TG
 * != 0 (the granule: 01b 4K, 10b 16K, 11b 64K; only with
 * SMMU_IDR3.RIL): (NUM + 1) << SCALE granules from Address. TTL != 0:
 * only entries of that translation table level (01b, 10b, 11b: levels
 * 1, 2, 3; level 3 holds the granule's pages, so the walker's level is
 * 3 - TTL). With TG = 0 the simulator still takes a non-zero TTL as a
 * level (the stricter reading). A TG not the domain's granule names
 * entries of another granule: none of the domain's. Leaf = 1: only leaf
 * entries (walk caches kept). */
static int smmu_va(struct dec *d, uint64_t dw0, uint64_t dw1, uint64_t addr,
		   struct eff *e)
{
	unsigned num = (unsigned)FIELD(dw0, 16, 12);
	unsigned scale = (unsigned)FIELD(dw0, 24, 20);
	unsigned ttl = (unsigned)FIELD(dw1, 9, 8);
	unsigned tg = (unsigned)FIELD(dw1, 11, 10);
	bool leaf = FIELD(dw1, 0, 0);
	unsigned granule = d->sim->geo.granule;

	if (dw1 & MASK(7, 1))
		return bad(d, "reserved bits 7:1 set in dw1");
	if (!tg) {
		if (num || scale)
			return bad(d, "NUM or SCALE with TG = 0");
		eff_range(e, addr, 0, !leaf);
	} else {
		unsigned tg_log2 = 10 + 2 * tg;
		uint64_t n = (uint64_t)(num + 1) << scale, bytes;

		if (!d->ranges)
			return bad(d, "TG without SMMU_IDR3.RIL");
		if (addr & (BIT(tg_log2) - 1))
			return bad(d, "Address 0x%" PRIx64
				      " not aligned to TG", addr);
		if (tg_log2 != granule) {
			e->kind = EFF_NONE;
			return 0;
		}
		e->kind = EFF_RANGE;
		e->iova = addr;
		e->psc = !leaf;
		e->levels = ~0u;
		bytes = n << tg_log2;
		if (n >> (64 - tg_log2) || addr + bytes - 1 < addr)
			e->last = UINT64_MAX;
		else
			e->last = addr + bytes - 1;
	}
	if (ttl)
		e->levels = 1u << (3 - ttl);
	return 0;
}

static int dec_smmuv3(struct dec *d, const struct iopgt_inval_cmd *cmd,
		      struct eff *e)
{
	uint64_t dw0 = cmd->dw[0], dw1 = cmd->dw[1];
	unsigned op = (unsigned)FIELD(dw0, 7, 0);
	uint32_t vmid = (uint32_t)FIELD(dw0, 47, 32);
	uint32_t asid = (uint32_t)FIELD(dw0, 63, 48);
	bool vmid_ok = vmid == d->c->domain_id;

	switch (op) {
	case 0x10: /* CMD_TLBI_NH_ALL: VMID (47:32); the rest RES0. All
		    * stage 1 entries of the VMID. */
		if ((dw0 & (MASK(31, 8) | MASK(63, 48))) || dw1)
			return bad(d, "RES0 bits set");
		/* Nested: after stage-2 commands, only once they have
		 * completed (a CMD_SYNC between), or a walk between may
		 * combine a stage-1 entry with a stale stage-2 one. */
		if ((d->c->flags & IOPGT_INVAL_NESTED) && d->s2_open)
			return bad(d, "CMD_TLBI_NH_ALL after CMD_TLBI_S2_IPA "
				      "without a CMD_SYNC between");
		e->kind = d->first && vmid_ok ? EFF_ALL : EFF_NONE;
		return 0;
	case 0x46: /* CMD_SYNC: CS 13:12 (3 reserved), and MSI fields,
		    * which only CS = SIG_IRQ uses (4.7.3): none here. It
		    * invalidates nothing; what follows it starts once what
		    * precedes it has completed. */
		if (FIELD(dw0, 13, 12) == 3)
			return bad(d, "CMD_SYNC with CS 3 (reserved)");
		if ((dw0 & ~(MASK(7, 0) | MASK(13, 12))) || dw1)
			return bad(d, "CMD_SYNC with MSI fields (no SIG_IRQ "
				      "here)");
		d->s2_open = false;
		e->kind = EFF_NONE;
		return 0;
	case 0x11: /* CMD_TLBI_NH_ASID: ASID (63:48), VMID (47:32). */
		if ((dw0 & MASK(31, 8)) || dw1)
			return bad(d, "RES0 bits set");
		e->kind = d->first && vmid_ok && asid == d->c->pasid
				  ? EFF_ALL
				  : EFF_NONE;
		return 0;
	case 0x12: /* CMD_TLBI_NH_VA: ASID, VMID, the address part; dw0
		    * bits 11:8, 19:17, 31:25 RES0. */
	case 0x13: /* CMD_TLBI_NH_VAA: the same for every ASID (63:48
		    * RES0). */
		if (dw0 & (MASK(11, 8) | MASK(19, 17) | MASK(31, 25)) ||
		    (op == 0x13 && (dw0 & MASK(63, 48))))
			return bad(d, "RES0 bits set in dw0");
		if (smmu_va(d, dw0, dw1, dw1 & MASK(63, 12), e))
			return -1;
		if (!d->first || !vmid_ok || (op == 0x12 && asid != d->c->pasid))
			e->kind = EFF_NONE;
		return 0;
	case 0x28: /* CMD_TLBI_S12_VMALL: VMID; all stage 1, stage 2 and
		    * combined entries of the VMID. */
		if ((dw0 & (MASK(31, 8) | MASK(63, 48))) || dw1)
			return bad(d, "RES0 bits set");
		e->kind = vmid_ok ? EFF_ALL : EFF_NONE;
		return 0;
	case 0x2a: /* CMD_TLBI_S2_IPA: VMID, the address part with the IPA
		    * in dw1 bits 51:12 (63:52 RES0); stage 2 entries. */
		if (dw0 & (MASK(11, 8) | MASK(19, 17) | MASK(31, 25) |
			   MASK(63, 48)))
			return bad(d, "RES0 bits set in dw0");
		if (dw1 & MASK(63, 52))
			return bad(d, "RES0 bits 63:52 set in dw1");
		if (smmu_va(d, dw0, dw1, dw1 & MASK(51, 12), e))
			return -1;
		d->s2_open = true;
		if (d->first || !vmid_ok)
			e->kind = EFF_NONE;
		return 0;
	default:
		return bad(d, "opcode 0x%02x is no TLB invalidation", op);
	}
}

/* ------------------------------------------------------------------------
 * RISC-V IOMMU (The RISC-V IOMMU Architecture Specification, version
 * 1.0, §3.1.1 "IOMMU Page-Table cache invalidation commands"; the
 * Non-leaf PTE Invalidation (NL) and Address Range Invalidation (S)
 * extensions, chapter "IOMMU Extensions"). IOTINVAL: opcode 1 (bits 6:0),
 * func3 (9:7) 0 VMA, 1 GVMA; AV (10), bit 11 reserved, PSCID (31:12),
 * PSCV (32), GV (33), bits 43:34 reserved (bit 34: NL with
 * capabilities.NL), GSCID (59:44), bits 63:60 reserved; dw1 bits 9:0
 * reserved (bit 9, command bit 73: S with capabilities.S), ADDR[63:12]
 * (61:10), bits 63:62 reserved. An address-based IOTINVAL drops only the
 * entries holding leaf PTEs of ADDR, unless NL = 1 (then every level's).
 * S = 1: ADDR is a NAPOT range, its first zero bit from ADDR[12] at
 * position X giving 2^(X + 1) pages of 4K (all ones: unspecified). The
 * simulator models one stage, and the domain id is the GSCID: a
 * second-stage domain is the G-stage table of the VM of GSCID domain_id,
 * reached by IOTINVAL.GVMA; a first-stage domain is the address space
 * PSCID pasid of that VM (a device whose G-stage is in use, taken as the
 * identity), reached by IOTINVAL.VMA with GV = 1 and that GSCID, or, with
 * IOPGT_INVAL_SINGLE_STAGE (G-stage Bare, no GSCID), the host's address
 * space PSCID, reached by IOTINVAL.VMA with GV = 0. A command with GV = 0
 * names host address spaces only, in IOTINVAL.VMA; in IOTINVAL.GVMA,
 * every VM.
 */

static int dec_riscv(struct dec *d, const struct iopgt_inval_cmd *cmd,
		     struct eff *e)
{
	uint64_t dw0 = cmd->dw[0], dw1 = cmd->dw[1];
	unsigned op = (unsigned)FIELD(dw0, 6, 0);
	unsigned func = (unsigned)FIELD(dw0, 9, 7);
	bool av = FIELD(dw0, 10, 10), pscv = FIELD(dw0, 32, 32);
	bool gv = FIELD(dw0, 33, 33);
	bool nl = d->ranges && FIELD(dw0, 34, 34);
	bool s = d->ranges && FIELD(dw1, 9, 9);
	uint64_t a = FIELD(dw1, 61, 10); /* ADDR[63:12] */
	uint64_t rsvd0 = BIT(11) | MASK(43, 35) | MASK(63, 60);
	uint64_t rsvd1 = MASK(8, 0) | MASK(63, 62);
	unsigned size_log2 = 12;

	if (op != 1)
		return bad(d, "opcode %u is no IOTINVAL", op);
	if (func > 1)
		return bad(d, "reserved IOTINVAL func3 %u", func);
	if (!d->ranges) {
		rsvd0 |= BIT(34);
		rsvd1 |= BIT(9);
	}
	if ((dw0 & rsvd0) || (dw1 & rsvd1))
		return bad(d, "reserved bits set");
	if (func == 1 && pscv)
		return bad(d, "IOTINVAL.GVMA with PSCV = 1");
	if (av && s) {
		if (a == MASK(51, 0))
			return bad(d, "S = 1 with ADDR all ones");
		size_log2 = 12 + (unsigned)__builtin_ctzll(~a) + 1;
	}
	if (func == 0) {
		/* IOTINVAL.VMA: the address spaces of GSCID's VM (GV = 1),
		 * or the host's (GV = 0; a first stage over a Bare G-stage,
		 * IOPGT_INVAL_SINGLE_STAGE), all of them or PSCID's
		 * (PSCV). */
		bool bare = d->c->flags & IOPGT_INVAL_SINGLE_STAGE;

		if (!d->first || gv == bare ||
		    (gv && FIELD(dw0, 59, 44) != d->c->domain_id) ||
		    (pscv && FIELD(dw0, 31, 12) != d->c->pasid)) {
			e->kind = EFF_NONE;
			return 0;
		}
	} else {
		/* IOTINVAL.GVMA: GV = 0, every VM, any address. */
		if (d->first ||
		    (gv && FIELD(dw0, 59, 44) != d->c->domain_id)) {
			e->kind = EFF_NONE;
			return 0;
		}
		if (!gv)
			av = false;
	}
	if (!av) {
		e->kind = EFF_ALL;
		return 0;
	}
	eff_range(e, a << 12, size_log2, nl);
	return 0;
}

/* ------------------------------------------------------------------------
 * Execution
 */

static const char *iommu_name(enum iopgt_iommu iommu)
{
	switch (iommu) {
	case IOPGT_IOMMU_VTD:
		return "VT-d";
	case IOPGT_IOMMU_AMD:
		return "AMD";
	case IOPGT_IOMMU_SMMUV3:
		return "SMMUv3";
	case IOPGT_IOMMU_RISCV:
		return "RISC-V";
	}
	return "?";
}

/* The ids fit the IOMMU's fields: VT-d DID 16 bits and PASID 20, AMD
 * DomainID 16 and PASID 20, SMMUv3 VMID and ASID 16, RISC-V GSCID 16 and
 * PSCID 20. */
static int check_config(const struct iopgt_inval_config *c)
{
	unsigned pasid_bits;

	switch (c->iommu) {
	case IOPGT_IOMMU_VTD:
	case IOPGT_IOMMU_AMD:
	case IOPGT_IOMMU_RISCV:
		pasid_bits = 20;
		break;
	case IOPGT_IOMMU_SMMUV3:
		pasid_bits = 16;
		break;
	default:
		return -EINVAL;
	}
	if (c->domain_id >> 16 || c->pasid >> pasid_bits)
		return -EINVAL;
	/* A first stage alone: RISC-V's, without a GSCID. */
	if ((c->flags & IOPGT_INVAL_SINGLE_STAGE) &&
	    (c->iommu != IOPGT_IOMMU_RISCV ||
	     !(c->flags & IOPGT_INVAL_FIRST_STAGE) || c->domain_id))
		return -EINVAL;
	return 0;
}

/* Execute n commands; inv held exclusively. */
static void run_cmds(struct iopgt_sim *sim, const struct iopgt_inval_config *c,
		     const struct iopgt_inval_cmd *cmd, unsigned n)
{
	struct dec d = {
		.sim = sim,
		.c = c,
		.first = c->flags & IOPGT_INVAL_FIRST_STAGE,
		.ranges = c->flags & IOPGT_INVAL_RANGES,
	};

	for (unsigned i = 0; i < n; i++) {
		struct eff e = { .kind = EFF_NONE };
		int rc;

		d.why[0] = 0;
		switch (c->iommu) {
		case IOPGT_IOMMU_VTD:
			rc = dec_vtd(&d, &cmd[i], &e);
			break;
		case IOPGT_IOMMU_AMD:
			rc = dec_amd(&d, &cmd[i], &e);
			break;
		case IOPGT_IOMMU_SMMUV3:
			rc = dec_smmuv3(&d, &cmd[i], &e);
			break;
		default:
			rc = dec_riscv(&d, &cmd[i], &e);
			break;
		}
		if (rc) {
			sim_violation(sim, IOPGT_SIM_V_BAD_COMMAND, 0, 0, 0,
				      "%s command %u of %u (0x%016" PRIx64
				      " 0x%016" PRIx64 "): %s; not executed",
				      iommu_name(c->iommu), i, n, cmd[i].dw[0],
				      cmd[i].dw[1], d.why);
			continue;
		}
		sim_count(&sim->st.inval_cmds);
		if (e.kind == EFF_ALL) {
			sim_drop_everything(sim);
		} else if (e.kind == EFF_RANGE) {
			sim_drop_iotlb(sim, e.iova, e.last, e.levels, e.whole);
			if (e.psc)
				sim_drop_psc(sim, e.iova, e.last);
		}
	}
}

int iopgt_sim_invalidate(struct iopgt_sim *sim,
			 const struct iopgt_inval_config *c,
			 const struct iopgt_inval_cmd *cmd, unsigned n)
{
	if (!sim || !c || (n && !cmd) || check_config(c))
		return -EINVAL;
	if (!sim->dom)
		return -ENODEV;
	pthread_rwlock_wrlock(&sim->inv);
	run_cmds(sim, c, cmd, n);
	pthread_rwlock_unlock(&sim->inv);
	return 0;
}

/* ------------------------------------------------------------------------
 * The domain's flush callbacks, as commands
 */

#define STACK_CMDS 64

/* Write the commands of r[0 .. nr - 1] with c, let the hook see them, and
 * execute them as one batch. */
static void send(struct iopgt_sim *sim, const struct iopgt_inval_config *c,
		 const struct iopgt_flush_range *r, unsigned nr)
{
	struct iopgt_inval_cmd stack[STACK_CMDS], *buf = stack;
	int n = iopgt_inval_encode(c, r, nr, buf, STACK_CMDS);
	unsigned un;

	if (n == -ENOSPC) {
		int need = iopgt_inval_encode(c, r, nr, NULL, 0);

		buf = need > 0 ? calloc((size_t)need, sizeof(*buf)) : NULL;
		n = buf ? iopgt_inval_encode(c, r, nr, buf, (unsigned)need)
			: -ENOMEM;
	}
	if (n < 0) {
		sim_violation(sim, IOPGT_SIM_V_BAD_COMMAND, r[0].iova, 0, 0,
			      "%s: iopgt_inval_encode returned %d for %u "
			      "ranges (first [0x%" PRIx64 ", 0x%" PRIx64
			      "] kind %u): nothing invalidated",
			      iommu_name(c->iommu), n, nr, r[0].iova,
			      r[0].last, r[0].kind);
	} else {
		un = (unsigned)n;
		if (sim->cmd_hook) {
			sim->cmd_hook(sim->cmd_hook_arg, buf, &un);
			if (un > (unsigned)n)
				un = (unsigned)n;
		}
		pthread_rwlock_wrlock(&sim->inv);
		run_cmds(sim, c, buf, un);
		pthread_rwlock_unlock(&sim->inv);
	}
	if (buf != stack)
		free(buf);
}

static void inval_flush_ranges(void *arg, const struct iopgt_flush_range *r,
			       unsigned nr)
{
	struct iopgt_sim *sim = arg;

	for (unsigned i = 0; i < nr; i++) {
		if (sim->flush_hook)
			sim->flush_hook(sim->flush_hook_arg, r[i].iova,
					r[i].last, r[i].kind);
		if (r[i].kind < IOPGT_FLUSH_KINDS)
			sim_count(&sim->st.inval[r[i].kind]);
	}
	/* Nothing is cached before the attach (which empties the caches),
	 * and the configuration is complete only from then on. */
	if (!nr || !sim->dom)
		return;
	send(sim, &sim->inval, r, nr);
}

/* A range given alone (flush_range: a gather without per-range detail):
 * of any size, not leaf-only, and for WALK every level below the root,
 * which asks the encoder for the most a range can need. */
static void inval_flush_range(void *arg, uint64_t iova, uint64_t last,
			      enum iopgt_flush_kind kind)
{
	struct iopgt_sim *sim = arg;
	struct iopgt_flush_range r = {
		.iova = iova,
		.last = last,
		.kind = kind,
		.flags = IOPGT_RANGE_ANY_SIZE,
	};

	if (kind == IOPGT_FLUSH_NONE || kind >= IOPGT_FLUSH_KINDS) {
		if (sim->flush_hook)
			sim->flush_hook(sim->flush_hook_arg, iova, last, kind);
		return;
	}
	if (kind == IOPGT_FLUSH_WALK && sim->dom)
		r.walk_levels = (1u << (sim->geo.levels - 1)) - 1;
	inval_flush_ranges(arg, &r, 1);
}

static void inval_flush_all(void *arg)
{
	struct iopgt_sim *sim = arg;
	/* The IOMMU's command for everything of the domain: two pages far
	 * apart inside any input space (an SMMUv3 stage-2 IPA has 52 bits,
	 * so no range over the whole 64-bit space), with at most one command
	 * allowed, which the encoder answers with its command for
	 * everything. */
	const uint64_t page = UINT64_C(1) << (sim->inval.granule
						      ? sim->inval.granule
						      : 12);
	struct iopgt_flush_range all[2] = {
		{ .iova = 0, .last = page - 1, .kind = IOPGT_FLUSH_WALK,
		  .flags = IOPGT_RANGE_ANY_SIZE, .walk_levels = 1 },
		{ .iova = 4 * page, .last = 5 * page - 1,
		  .kind = IOPGT_FLUSH_WALK, .flags = IOPGT_RANGE_ANY_SIZE,
		  .walk_levels = 1 },
	};
	struct iopgt_inval_config c;

	if (sim->flush_hook)
		sim->flush_hook(sim->flush_hook_arg, 0, UINT64_MAX,
				IOPGT_FLUSH_KINDS);
	sim_count(&sim->st.inval_all);
	if (!sim->dom)
		return;
	c = sim->inval;
	c.max_commands = 1;
	send(sim, &c, all, 2);
}

void iopgt_sim_inval_ops(struct iopgt_sim *sim,
			 const struct iopgt_inval_config *c,
			 struct iopgt_config *cfg)
{
	size_t sz = c->size < sizeof(sim->inval_given) ? c->size
						       : sizeof(sim->inval_given);

	memset(&sim->inval_given, 0, sizeof(sim->inval_given));
	memcpy(&sim->inval_given, c, sz);
	sim->inval_given.size = sizeof(sim->inval_given);
	sim->inval = sim->inval_given;
	sim->inval_on = true;
	cfg->flush_ranges = inval_flush_ranges;
	cfg->flush.flush_range = inval_flush_range;
	cfg->flush.flush_all = inval_flush_all;
	cfg->flush.arg = sim;
}

int sim_inval_attach(struct iopgt_sim *sim)
{
	if (!sim->inval_on)
		return 0;
	sim->inval = sim->inval_given;
	if (!sim->inval.granule)
		sim->inval.granule = sim->geo.granule;
	if (!sim->inval.levels)
		sim->inval.levels = sim->geo.levels;
	if (sim->inval.granule != sim->geo.granule ||
	    sim->inval.levels != sim->geo.levels)
		return -EINVAL;
	return 0;
}

void iopgt_sim_set_cmd_hook(struct iopgt_sim *sim,
			    void (*fn)(void *arg, struct iopgt_inval_cmd *cmd,
				       unsigned *n),
			    void *arg)
{
	sim->cmd_hook = fn;
	sim->cmd_hook_arg = arg;
}
