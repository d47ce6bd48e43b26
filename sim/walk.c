/* SPDX-License-Identifier: MIT */
/*
 * The walker, the IOTLB, the paging-structure cache and invalidation.
 *
 * The walker reads only the hardware tables in the arena, from the root PA
 * down, with 64-bit acquire loads, and decodes entries with the
 * simulator's own decoder (decode.c, written from the specifications),
 * never with the library's format code, and never looks at the library's
 * descriptors. Permissions are ANDed down the walk, as the hardware does.
 * Around every entry it reads it checks the state of the page: a read of a
 * page that is not allocated is a use after free.
 *
 * IOTLB: sets x ways of leaf translations. An entry is tagged with the
 * leaf's level and iova >> shift[level]; the set is a hash of both. A
 * lookup probes one set per level that may hold leaves, so superpages need
 * no special index. A page larger than an entry of its level (AMD v1's
 * Next Level 7 pages, one entry replicated in every slot the page covers)
 * is cached per slot: each IOTLB entry covers one slot's span, with that
 * slot's output address, and keeps the page's size to report; a walk
 * through any one entry of the page caches all its slots. An invalidation
 * then drops exactly the slots it overlaps, which is stricter than a TLB
 * holding the whole page (one that misses part of the page is caught), and
 * a slot cleared while another entry still names the page is translated
 * from the cache (caught too). Non-present results (caching mode) are cached as level-0 entries
 * marked negative.
 *
 * Paging-structure cache: per level below the root, a few fully
 * associative entries mapping the IOVA prefix a table covers
 * (iova >> shift[level + 1]) to the table's PA, the permissions the table
 * entries above it grant (as hardware caches them with the pointer: Intel
 * SDM Vol. 3A, 4.10.3.1 "Caches for Paging Structures") and its page's
 * state word (allocated bit and generation) when it was cached. A walk
 * starts from the deepest hit. Using an entry whose page's state word
 * changed since (freed, or freed and reused) is a stale walk cache: a WALK
 * flush that should have dropped it was missing.
 *
 * Invalidation takes `inv` exclusively, so it waits for every translation
 * that started before it (translations hold it shared from start to
 * finish): the invalidation-wait of real hardware.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sim_int.h"

int sim_caches_init(struct iopgt_sim *sim)
{
	unsigned sets = sim->cfg.iotlb_sets, ways = sim->cfg.iotlb_ways;
	pthread_rwlockattr_t a;

	sim->tlb = aligned_alloc(64, sets * sizeof(*sim->tlb));
	if (!sim->tlb)
		return -ENOMEM;
	memset(sim->tlb, 0, sets * sizeof(*sim->tlb));
	for (unsigned i = 0; i < sets; i++) {
		sim->tlb[i].ways = calloc(ways, sizeof(struct sim_tlb_ent));
		if (!sim->tlb[i].ways)
			return -ENOMEM; /* sim_caches_fini frees what exists */
		pthread_mutex_init(&sim->tlb[i].mu, NULL);
	}
	while ((1u << sim->tlb_bits) < sets)
		sim->tlb_bits++;
	sim->psc = calloc((size_t)PT_MAX_LEVELS * sim->cfg.psc_entries,
			  sizeof(*sim->psc));
	if (!sim->psc)
		return -ENOMEM;
	pthread_mutex_init(&sim->psc_mu, NULL);
	/* Writers first: device threads translate back to back, and a
	 * reader-preferring lock would starve the invalidations. */
	pthread_rwlockattr_init(&a);
	pthread_rwlockattr_setkind_np(
		&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&sim->inv, &a);
	pthread_rwlockattr_destroy(&a);
	return 0;
}

void sim_caches_fini(struct iopgt_sim *sim)
{
	if (sim->tlb) {
		for (unsigned i = 0; i < sim->cfg.iotlb_sets; i++) {
			if (!sim->tlb[i].ways)
				break;
			free(sim->tlb[i].ways);
			pthread_mutex_destroy(&sim->tlb[i].mu);
		}
		free(sim->tlb);
		sim->tlb = NULL;
	}
	if (sim->psc) {
		free(sim->psc);
		sim->psc = NULL;
		pthread_mutex_destroy(&sim->psc_mu);
		pthread_rwlock_destroy(&sim->inv);
	}
}

/* ------------------------------------------------------------------------
 * IOTLB
 */

static struct sim_tlb_set *tlb_set(struct iopgt_sim *sim, uint64_t tag,
				   unsigned level)
{
	uint64_t h = (tag ^ ((uint64_t)level << 58)) *
		     UINT64_C(0x9e3779b97f4a7c15);

	return &sim->tlb[sim->tlb_bits ? h >> (64 - sim->tlb_bits) : 0];
}

/* Copy the entry that covers iova into *out; false on a miss. */
static bool tlb_lookup(struct iopgt_sim *sim, uint64_t iova,
		       struct sim_tlb_ent *out)
{
	for (unsigned l = 0; l <= sim->max_leaf_level; l++) {
		uint64_t tag = iova >> sim->geo.shift[l];
		struct sim_tlb_set *s;

		if (!(sim->leaf_levels & (1u << l)))
			continue;
		s = tlb_set(sim, tag, l);
		pthread_mutex_lock(&s->mu);
		for (unsigned w = 0; w < sim->cfg.iotlb_ways; w++) {
			struct sim_tlb_ent *e = &s->ways[w];
			if (e->valid && e->level == l && e->tag == tag) {
				e->stamp = ++s->clock;
				*out = *e;
				pthread_mutex_unlock(&s->mu);
				return true;
			}
		}
		pthread_mutex_unlock(&s->mu);
	}
	return false;
}

static void tlb_insert(struct iopgt_sim *sim, const struct sim_tlb_ent *n)
{
	struct sim_tlb_set *s = tlb_set(sim, n->tag, n->level);
	struct sim_tlb_ent *victim = NULL;

	pthread_mutex_lock(&s->mu);
	for (unsigned w = 0; w < sim->cfg.iotlb_ways; w++) {
		struct sim_tlb_ent *e = &s->ways[w];
		if (e->valid && e->level == n->level && e->tag == n->tag) {
			victim = e;
			break;
		}
		if (!victim || (victim->valid &&
				(!e->valid || e->stamp < victim->stamp)))
			victim = e;
	}
	*victim = *n;
	victim->valid = 1;
	victim->stamp = ++s->clock;
	pthread_mutex_unlock(&s->mu);
}

/* Drop the IOTLB entries of these walker levels (bit l; a negative entry
 * counts as level 0) that overlap [iova, last]; all: every entry. whole:
 * a present leaf's entries only if the range holds the whole leaf (VT-d's
 * rule for large pages). Called with inv held exclusively. */
static void tlb_drop_levels(struct iopgt_sim *sim, uint64_t iova,
			    uint64_t last, bool all, unsigned levels,
			    bool whole)
{
	for (unsigned i = 0; i < sim->cfg.iotlb_sets; i++) {
		struct sim_tlb_set *s = &sim->tlb[i];

		pthread_mutex_lock(&s->mu);
		for (unsigned w = 0; w < sim->cfg.iotlb_ways; w++) {
			struct sim_tlb_ent *e = &s->ways[w];
			unsigned sh = sim->geo.shift[e->level];
			uint64_t start = e->tag << sh;
			uint64_t end = start + ((UINT64_C(1) << sh) - 1);

			if (!e->valid || !(levels & (1u << e->level)) ||
			    (!all && (start > last || iova > end)))
				continue;
			if (whole && !all && !e->neg && e->size_log2 < 64) {
				uint64_t m = (UINT64_C(1) << e->size_log2) - 1;

				if ((start & ~m) < iova || (start | m) > last)
					continue;
			}
			e->valid = 0;
		}
		pthread_mutex_unlock(&s->mu);
	}
}

static void tlb_drop(struct iopgt_sim *sim, uint64_t iova, uint64_t last,
		     bool all)
{
	tlb_drop_levels(sim, iova, last, all, ~0u, false);
}

/* ------------------------------------------------------------------------
 * Paging-structure cache
 */

static struct sim_psc_ent *psc_level(struct iopgt_sim *sim, unsigned level)
{
	return &sim->psc[(size_t)level * sim->cfg.psc_entries];
}

/* The deepest cached table on iova's path: its level, PA, the permissions
 * granted above it and its state word when cached. */
static bool psc_lookup(struct iopgt_sim *sim, uint64_t iova, unsigned *level,
		       uint64_t *pa, uint32_t *state, unsigned *allow)
{
	pthread_mutex_lock(&sim->psc_mu);
	for (unsigned l = 0; l + 1 < sim->geo.levels; l++) {
		struct sim_psc_ent *c = psc_level(sim, l);
		uint64_t prefix = iova >> sim->geo.shift[l + 1];

		for (unsigned i = 0; i < sim->cfg.psc_entries; i++) {
			if (c[i].valid && c[i].prefix == prefix) {
				c[i].stamp = ++sim->psc_clock;
				*level = l;
				*pa = c[i].pa;
				*state = c[i].state;
				*allow = c[i].allow;
				pthread_mutex_unlock(&sim->psc_mu);
				return true;
			}
		}
	}
	pthread_mutex_unlock(&sim->psc_mu);
	return false;
}

static void psc_insert(struct iopgt_sim *sim, unsigned level, uint64_t iova,
		       uint64_t pa, uint32_t state, unsigned allow)
{
	struct sim_psc_ent *c = psc_level(sim, level), *victim = NULL;
	uint64_t prefix = iova >> sim->geo.shift[level + 1];

	pthread_mutex_lock(&sim->psc_mu);
	for (unsigned i = 0; i < sim->cfg.psc_entries; i++) {
		if (c[i].valid && c[i].prefix == prefix) {
			victim = &c[i];
			break;
		}
		if (!victim || (victim->valid &&
				(!c[i].valid || c[i].stamp < victim->stamp)))
			victim = &c[i];
	}
	victim->prefix = prefix;
	victim->pa = pa;
	victim->state = state;
	victim->allow = allow;
	victim->valid = 1;
	victim->stamp = ++sim->psc_clock;
	pthread_mutex_unlock(&sim->psc_mu);
}

/* Drop the entries whose table's span overlaps [iova, last]. */
static void psc_drop(struct iopgt_sim *sim, uint64_t iova, uint64_t last,
		     bool all)
{
	pthread_mutex_lock(&sim->psc_mu);
	for (unsigned l = 0; l + 1 < sim->geo.levels; l++) {
		struct sim_psc_ent *c = psc_level(sim, l);
		unsigned sh = sim->geo.shift[l + 1];

		for (unsigned i = 0; i < sim->cfg.psc_entries; i++) {
			uint64_t start = c[i].prefix << sh;
			uint64_t end = start + ((UINT64_C(1) << sh) - 1);

			if (c[i].valid &&
			    (all || (start <= last && iova <= end)))
				c[i].valid = 0;
		}
	}
	pthread_mutex_unlock(&sim->psc_mu);
}

void sim_caches_drop_all(struct iopgt_sim *sim)
{
	pthread_rwlock_wrlock(&sim->inv);
	tlb_drop(sim, 0, UINT64_MAX, true);
	psc_drop(sim, 0, UINT64_MAX, true);
	pthread_rwlock_unlock(&sim->inv);
}

void sim_drop_iotlb(struct iopgt_sim *sim, uint64_t iova, uint64_t last,
		    unsigned levels, bool whole)
{
	tlb_drop_levels(sim, iova, last, false, levels, whole);
}

void sim_drop_psc(struct iopgt_sim *sim, uint64_t iova, uint64_t last)
{
	psc_drop(sim, iova, last, false);
}

void sim_drop_everything(struct iopgt_sim *sim)
{
	tlb_drop(sim, 0, UINT64_MAX, true);
	psc_drop(sim, 0, UINT64_MAX, true);
}

/* ------------------------------------------------------------------------
 * Invalidation: the domain's flush callbacks
 */

void sim_flush_range(void *arg, uint64_t iova, uint64_t last,
		     enum iopgt_flush_kind kind)
{
	struct iopgt_sim *sim = arg;

	if (sim->flush_hook)
		sim->flush_hook(sim->flush_hook_arg, iova, last, kind);
	pthread_rwlock_wrlock(&sim->inv);
	if ((unsigned)kind < IOPGT_FLUSH_KINDS)
		sim_count(&sim->st.inval[kind]);
	if (kind >= IOPGT_FLUSH_ADDED)
		tlb_drop(sim, iova, last, false);
	if (kind >= IOPGT_FLUSH_WALK)
		psc_drop(sim, iova, last, false);
	pthread_rwlock_unlock(&sim->inv);
}

void sim_flush_all(void *arg)
{
	struct iopgt_sim *sim = arg;

	if (sim->flush_hook)
		sim->flush_hook(sim->flush_hook_arg, 0, UINT64_MAX,
				IOPGT_FLUSH_KINDS);
	pthread_rwlock_wrlock(&sim->inv);
	sim_count(&sim->st.inval_all);
	tlb_drop(sim, 0, UINT64_MAX, true);
	psc_drop(sim, 0, UINT64_MAX, true);
	pthread_rwlock_unlock(&sim->inv);
}

/* ------------------------------------------------------------------------
 * The walker
 */

static bool prot_allows(unsigned prot, unsigned access)
{
	if ((access & IOPGT_SIM_READ) && !(prot & IOPGT_PROT_READ))
		return false;
	if ((access & IOPGT_SIM_WRITE) && !(prot & IOPGT_PROT_WRITE))
		return false;
	return true;
}

static const char *access_name(unsigned access)
{
	return access & IOPGT_SIM_WRITE ? "write" : "read";
}

/* How the walk reached the current table, for violation reports. */
struct how {
	char s[120];
};

static int fault(struct iopgt_sim_result *res, enum iopgt_sim_fault f,
		 unsigned level)
{
	res->fault = f;
	res->level = level;
	return -EFAULT;
}

/* One walk. peek: no caches, no accessed/dirty bits, nothing recorded.
 * Returns 0, -EFAULT (res->fault), or -EAGAIN if the leaf changed under an
 * accessed/dirty update (the caller walks again). *leaf receives the leaf
 * entry on success. */
static int walk(struct iopgt_sim *sim, uint64_t iova, unsigned access,
		bool peek, struct iopgt_sim_result *res, uint64_t *leaf)
{
	const struct pt_geo *geo = &sim->geo;
	const struct sim_fmt *fmt = sim->fmt;
	uint64_t root = atomic_load_explicit(&sim->root, memory_order_acquire);
	unsigned top = (unsigned)(root & 0xfff) - 1, l = top;
	uint64_t pa = root & ~(uint64_t)0xfff;
	uint32_t cached, expect;

	/* Fewer levels than the domain's most (a growing domain's root):
	 * the hardware faults on an input its levels do not reach (AMD:
	 * the address bits above those Mode translates must be zero,
	 * section 2.2.2.1), so no walk reads the root's index from the
	 * bits it cannot see. */
	if (top < geo->levels - 1 &&
	    iova >> (geo->shift[top] + geo->bits))
		return fault(res, IOPGT_SIM_FAULT_RANGE, top);
	/* The permissions the table entries walked so far grant. */
	unsigned allow = ~0u;
	struct how how;

	/* The state word each table page must still have when the walk
	 * reads it: the one it had when the walk chose it (read from the
	 * paging-structure cache, or just after the table entry naming it).
	 * A page freed and reused in between (a WALK flush waits for every
	 * walk that started before it, so only a missing one lets that
	 * happen) is reported, and the walk reads and writes nothing of it:
	 * an accessed/dirty update into another table's entry would corrupt
	 * the library's tree, as real hardware would. */
	expect = sim_frame(sim, pa) < 0
			 ? 0
			 : sim_frame_state(sim, sim_frame(sim, pa));
	snprintf(how.s, sizeof(how.s), "the root");
	if (!peek) {
		sim_count(&sim->st.walks);
		if (psc_lookup(sim, iova, &l, &pa, &cached, &allow)) {
			int64_t f = sim_frame(sim, pa);
			uint32_t now = sim_frame_state(sim, f);

			sim_count(&sim->st.psc_hits);
			if (now != cached) {
				sim_violation(
					sim, IOPGT_SIM_V_STALE_WALK_CACHE, iova,
					pa, access,
					"%s walk started from the cached "
					"level-%u table at 0x%" PRIx64
					" (generation %u), but that page was %s "
					"(now generation %u): no WALK flush "
					"dropped the paging-structure cache",
					access_name(access), l, pa, cached >> 1,
					now & SIM_ALLOCATED ? "freed and reused"
							    : "freed",
					now >> 1);
				return fault(res, IOPGT_SIM_FAULT_VIOLATION, l);
			}
			snprintf(how.s, sizeof(how.s),
				 "the paging-structure cache (level %u)", l);
			expect = cached;
		}
	}
	for (;;) {
		unsigned idx = (unsigned)(iova >> geo->shift[l]) & geo->mask[l];
		uint64_t epa = pa + (uint64_t)idx * sizeof(uint64_t);
		int64_t f = sim_frame(sim, epa);
		_Atomic uint64_t *p = sim_entry_ptr(sim, epa);
		uint32_t s1 = sim_frame_state(sim, f), s2;
		enum iopgt_sim_fault lf;
		uint64_t e, want, lpa, lsize;
		unsigned prot;

		if (!(s1 & SIM_ALLOCATED)) {
			if (!peek)
				sim_violation(
					sim, IOPGT_SIM_V_USE_AFTER_FREE, iova,
					pa, access,
					"%s walk read entry %u of the level-%u "
					"table at 0x%" PRIx64 ", reached through "
					"%s, but the page is free (generation "
					"%u)",
					access_name(access), idx, l, pa,
					how.s, s1 >> 1);
			return fault(res, IOPGT_SIM_FAULT_VIOLATION, l);
		}
		if (!peek && f >= 0 && s1 != expect) {
			sim_violation(
				sim, IOPGT_SIM_V_USE_AFTER_FREE, iova, pa,
				access,
				"%s walk reached the level-%u table at "
				"0x%" PRIx64 " through %s, but the page was "
				"freed and reused since (generation %u, now "
				"%u)",
				access_name(access), l, pa, how.s,
				expect >> 1, s1 >> 1);
			return fault(res, IOPGT_SIM_FAULT_VIOLATION, l);
		}
		e = atomic_load_explicit(p, memory_order_acquire);
		s2 = sim_frame_state(sim, f);
		if (s2 != s1) {
			if (!peek)
				sim_violation(
					sim, IOPGT_SIM_V_USE_AFTER_FREE, iova,
					pa, access,
					"%s walk read entry %u of the level-%u "
					"table at 0x%" PRIx64 ", reached through "
					"%s, while the page was freed",
					access_name(access), idx, l, pa, how.s);
			return fault(res, IOPGT_SIM_FAULT_VIOLATION, l);
		}
		if (!peek && l < top) {
			int64_t fb = sim_frame(sim, pa);
			psc_insert(sim, l, iova, pa, sim_frame_state(sim, fb),
				   allow);
		}

		/* What the hardware takes for a valid entry is the format's
		 * (x86 P; ARM bit 0, 0b11 at the last level, 0b01 only where
		 * blocks are allowed); zero, the library's only empty value,
		 * never is. */
		if (!fmt->valid(fmt, e, l)) {
			if (!peek && sim->cfg.caching_mode) {
				struct sim_tlb_ent n = {
					.tag = iova >> geo->shift[0],
					.level = 0,
					.neg = 1,
				};
				tlb_insert(sim, &n);
			}
			return fault(res, IOPGT_SIM_FAULT_NOT_PRESENT, l);
		}
		if (fmt->reserved(fmt, e, l))
			return fault(res, IOPGT_SIM_FAULT_RESERVED, l);
		if (fmt->is_table(fmt, e, l)) {
			uint64_t tpa = fmt->table_pa(fmt, e, l);

			/* Beyond the output size: an Address size fault on
			 * ARM, reserved bits set on x86. */
			if ((tpa & (geo->table_size - 1)) ||
			    (sim->oas < 64 &&
			     ((tpa + geo->table_size - 1) >> sim->oas)) ||
			    sim_frame(sim, tpa) < 0 ||
			    sim_frame(sim, tpa + geo->table_size - 1) < 0)
				return fault(res, IOPGT_SIM_FAULT_RESERVED, l);
			snprintf(how.s, sizeof(how.s),
				 "entry %u of the level-%u table at 0x%" PRIx64,
				 idx, l, pa);
			/* The child's state word while the entry still names
			 * it (else walk again). */
			expect = sim_frame_state(sim, sim_frame(sim, tpa));
			if (!peek &&
			    atomic_load_explicit(p, memory_order_acquire) != e)
				return -EAGAIN;
			allow &= fmt->table_prot(fmt, e, l);
			pa = tpa;
			l--;
			continue;
		}

		/* A leaf (the format's valid() and reserved() refused one
		 * where the specification allows none). */
		lf = fmt->leaf(fmt, e, l, &lpa, &lsize, &prot);
		if (lf != IOPGT_SIM_FAULT_NONE)
			return fault(res, lf, l);
		if (sim->oas < 64 && ((lpa + lsize - 1) >> sim->oas))
			return fault(res, IOPGT_SIM_FAULT_RESERVED, l);
		prot &= allow;
		res->pa = lpa + (iova & (lsize - 1));
		res->leaf_size = lsize;
		res->prot = prot;
		res->level = l;
		*leaf = e;
		if (peek)
			return 0;
		if (!prot_allows(prot, access))
			return fault(res, IOPGT_SIM_FAULT_PERMISSION, l);

		/* The bits the hardware sets (x86: accessed on any access,
		 * dirty on a write), set atomically and only if the leaf is
		 * still the one that was read: a plain OR into an entry
		 * cleared meanwhile would leave a non-zero, non-present entry
		 * behind. */
		want = fmt->hw_bits(fmt, e, l, access);
		if (want && (e & want) != want) {
			uint64_t old = e;

			if (!atomic_compare_exchange_strong_explicit(
				    p, &old, e | want, memory_order_acq_rel,
				    memory_order_acquire))
				return -EAGAIN;
			sim_count(&sim->st.ad_updates);
			e |= want;
			*leaf = e;
		}
		{
			/* Dirty: a write through it would set nothing more
			 * (also where the format keeps no dirty state). */
			uint64_t wbits = fmt->hw_bits(fmt, e, l,
						      IOPGT_SIM_WRITE);
			/* The slot's span within the leaf: the whole leaf,
			 * unless the page spans several entries of its level
			 * (then this slot's part of it). A walk through one
			 * entry of such a page caches every slot of the page,
			 * as an IOTLB holding the whole page would: a slot
			 * whose own entry was cleared while another entry
			 * still names the page is then translated from the
			 * cache, and the model calls that stale. */
			uint64_t slot = UINT64_C(1) << geo->shift[l];
			uint64_t first = (iova & ~(lsize - 1)) >> geo->shift[l];
			uint64_t nslots = lsize > slot ? lsize / slot : 1;
			struct sim_tlb_ent n = {
				.tag = iova >> geo->shift[l],
				.pa = lpa + (iova & (lsize - 1) & ~(slot - 1)),
				.prot = prot,
				.level = (uint8_t)l,
				.size_log2 = (uint8_t)__builtin_ctzll(lsize),
				.dirty = !(wbits & ~e),
			};
			for (uint64_t j = 0; j < nslots; j++) {
				if (nslots > 1) {
					n.tag = first + j;
					n.pa = lpa + j * slot;
				}
				tlb_insert(sim, &n);
			}
		}
		return 0;
	}
}

static int translate(struct iopgt_sim *sim, uint64_t iova, unsigned access,
		     struct iopgt_sim_result *res)
{
	struct sim_tlb_ent te;
	uint64_t leaf;
	int rc;

	if (tlb_lookup(sim, iova, &te)) {
		if (te.neg) {
			sim_count(&sim->st.negative_hits);
			res->iotlb_hit = true;
			return fault(res, IOPGT_SIM_FAULT_NOT_PRESENT, 0);
		}
		res->pa = te.pa + (iova & ((UINT64_C(1)
					    << sim->geo.shift[te.level]) - 1));
		res->leaf_size = UINT64_C(1) << te.size_log2;
		res->prot = te.prot;
		res->level = te.level;
		if (!prot_allows(te.prot, access)) {
			res->iotlb_hit = true;
			return fault(res, IOPGT_SIM_FAULT_PERMISSION, te.level);
		}
		if (!(access & IOPGT_SIM_WRITE) || te.dirty) {
			res->iotlb_hit = true;
			sim_count(&sim->st.iotlb_hits);
			return 0;
		}
		/* A write through a leaf not known dirty: walk to set the
		 * dirty bit, as hardware does. */
	}
	do {
		memset(res, 0, sizeof(*res));
		rc = walk(sim, iova, access, false, res, &leaf);
	} while (rc == -EAGAIN);
	return rc;
}

int iopgt_sim_translate(struct iopgt_sim *sim, uint64_t iova,
			enum iopgt_sim_access access,
			struct iopgt_sim_result *res)
{
	uint64_t v0;
	int rc;

	memset(res, 0, sizeof(*res));
	if (!sim->dom)
		return -ENODEV;
	sim_count(&sim->st.translations);
	/* Beyond the input size, or, where the format sign-extends (x86),
	 * not canonical: the hardware faults before it walks. */
	if ((iova + sim->in_bias) & sim->ias_mask) {
		sim_count(&sim->st.faults[IOPGT_SIM_FAULT_RANGE]);
		return fault(res, IOPGT_SIM_FAULT_RANGE, sim->geo.levels - 1);
	}
	pthread_rwlock_rdlock(&sim->inv);
	v0 = atomic_load_explicit(&sim->model.seq, memory_order_acquire);
	rc = translate(sim, iova, access, res);
	sim_model_check(sim, iova, access, rc, res, v0);
	pthread_rwlock_unlock(&sim->inv);
	if (rc)
		sim_count(&sim->st.faults[res->fault]);
	return rc;
}

int iopgt_sim_peek(struct iopgt_sim *sim, uint64_t iova, uint64_t *entry,
		   unsigned *level)
{
	struct iopgt_sim_result res;
	uint64_t leaf = 0;
	int rc;

	memset(&res, 0, sizeof(res));
	if (!sim->dom)
		return -ENODEV;
	if ((iova + sim->in_bias) & sim->ias_mask)
		return -ENOENT;
	rc = walk(sim, iova, IOPGT_SIM_READ, true, &res, &leaf);
	if (rc)
		return res.fault == IOPGT_SIM_FAULT_NOT_PRESENT ? -ENOENT
								 : -EFAULT;
	*entry = leaf;
	if (level)
		*level = res.level;
	return 0;
}
