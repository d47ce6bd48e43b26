/* SPDX-License-Identifier: MIT */
/*
 * The generic algorithms: map, unmap (with split), lookup, coalesce and the
 * reclaim of emptied tables. This file is a template: a per-format source
 * (src/fmt_*.c) includes its format header, defines PT_ENGINE (a C name) and
 * then includes this file, so each format gets its own copy compiled with
 * its entry helpers inlined. Nothing here tests which format it is.
 *
 * Ownership (why writers need no lock): a table whose whole span lies inside
 * a call's range is touched by that call alone (and by lock-free readers).
 * Tables whose span reaches beyond it may be shared with writers of disjoint
 * ranges; on those, entries are only added or removed through the counting
 * helpers of pt.h, tables are installed by compare-and-swap, and a table is
 * unlinked or coalesced only after freezing it (the state word, pt.h).
 */
#ifndef PT_ENGINE
#error "define PT_ENGINE and include a format header before engine.h"
#endif

/* What the format header must give, checked; defaults for the rest. */
#include "fmt/contract.h"

#define PT_CAT_(a, b) a##_##b
#define PT_CAT(a, b) PT_CAT_(a, b)
#define PT(x) PT_CAT(PT_ENGINE, x)

static inline uint64_t PT(size)(const struct pt_geo *geo, unsigned level)
{
	return UINT64_C(1) << pt_shift(geo, level);
}

/* The sizes t's stale marks name (PT_F_STALE: leaves split into t or
 * coalesced out of one of its entries, which may still be cached). */
static inline uint64_t PT(stale_sizes)(const struct pt_geo *geo,
				       const struct pt_table *t)
{
	unsigned b = atomic_load_explicit(&t->flags, memory_order_relaxed) >>
		     PT_F_STALE_SHIFT;
	uint64_t s = 0;

	while (__builtin_expect(b != 0, 0)) {
		s |= PT(size)(geo, (unsigned)__builtin_ctz(b));
		b &= b - 1;
	}
	return s;
}

/* The leaf sizes a flush range reports for leaves of level changed in
 * table t (iopgt_flush_range.leaf_sizes): the level's size and t's stale
 * sizes; *any is IOPGT_RANGE_ANY_SIZE where leaves of that level may span
 * several entries, so that a TLB may hold them at a larger size. */
static inline uint64_t PT(hint)(const struct pt_geo *geo,
				const struct pt_table *t, unsigned level,
				uint32_t *any)
{
	*any = FMT_LEAF_SPANS && geo->spans[level] ? IOPGT_RANGE_ANY_SIZE : 0;
	return PT(size)(geo, level) | PT(stale_sizes)(geo, t);
}

/* The descriptor of the table that table entry e (at level) names: the
 * entry alone gives it (pt_p2v, pt_desc). */
static inline struct pt_table *PT(child)(const struct iopgt_domain *dom,
					 uint64_t e, unsigned level)
{
	return pt_desc(dom, pt_p2v(dom, fmt_table_pa(e, level)));
}

/* The first IOVA of entry i of table t: its span's start plus i entries,
 * sign-extended where the format sign-extends its input (the root's
 * entries of the upper half; a no-op below the root). */
static inline uint64_t PT(entry_iova)(const struct iopgt_domain *dom,
				      const struct pt_table *t, unsigned i)
{
	uint64_t a = t->iova + ((uint64_t)i << t->shift);

	(void)dom;
	return FMT_INPUT_SIGN_EXTEND ? pt_sext(dom, a) : a;
}

/* ------------------------------------------------------------------------
 * The cursor: every descent of every operation goes through it. It stands
 * on one table (va, at level) and remembers the tables it came through.
 * It reads entries only (the hardware's walk); writers ask it for the
 * descriptor of a table on its path when they change that table.
 */

struct pt_cur {
	unsigned level;
	unsigned idx;     /* of the entry last loaded */
	unsigned shift;   /* of an entry's span at level */
	unsigned mask;    /* index mask at level */
	pt_entry_t *va;   /* the table at level */
	uint64_t e;       /* the entry last loaded */
	/* The domain's constants, copied so that they stay in registers
	 * across the acquire loads of a walk. */
	uintptr_t off;
	void *(*p2v)(void *arg, uint64_t pa);
	/* The root the walk started from (a growing domain's may have grown
	 * since: the tree below it is the same): its level and descriptor. */
	unsigned top;
	struct pt_table *topt;
	pt_entry_t *up[PT_MAX_LEVELS];   /* up[l]: the table at level l > level */
	unsigned upidx[PT_MAX_LEVELS];   /* the entry taken in up[l] */
};

/* Start at the root. fixed (a constant, PT_ROOT_*): the caller is a hot
 * path compiled for the epoch's walker alone (PT_WALK_EPOCH), which only
 * domains that never grow take (a growing domain is dom->top.other, pt.h),
 * so its root is the first one: read in place, not through the published
 * pointer, which would cost the lookup five instructions. PT_ROOT_L3 and
 * PT_ROOT_L4: that root is also one whole table at level 3 or 4 (a 4- or
 * 5-level walk), so its level, shift and index mask are the compiler's
 * constants (pt_root_whole()). */
static inline __attribute__((always_inline)) void
PT(cur_root_k)(const struct iopgt_domain *dom, struct pt_cur *c,
	       const unsigned fixed)
{
	const struct pt_topv *tv = fixed ? &dom->top.first : pt_top(dom);
	const unsigned whole = fixed == PT_ROOT_L3   ? 3
			       : fixed == PT_ROOT_L4 ? 4
						     : 0;

	pt_assert("a growing domain takes the out-of-line paths",
		  !fixed || !dom->ias_max);
	pt_assert("PT_ROOT_L3 and L4 name a whole table at that level",
		  !whole || (tv->level == whole &&
			     tv->shift == FMT_GRANULE + whole * FMT_BITS &&
			     tv->mask == (1u << FMT_BITS) - 1));
	c->top = whole ? whole : tv->level;
	c->topt = tv->t;
	c->level = c->top;
	c->shift = whole ? FMT_GRANULE + whole * FMT_BITS : tv->shift;
	c->mask = whole ? (1u << FMT_BITS) - 1 : tv->mask;
	c->va = tv->va;
	c->off = dom->va_off;
	c->p2v = dom->cfg.phys_to_virt;
}

static inline void PT(cur_root)(const struct iopgt_domain *dom,
				struct pt_cur *c)
{
	PT(cur_root_k)(dom, c, PT_ROOT_PUBLISHED);
}

/* Load the entry for iova in the cursor's table. Acquire: a table entry
 * publishes the child's contents (pt_set_table). */
static inline uint64_t PT(cur_load)(const struct iopgt_domain *dom,
				    struct pt_cur *c, uint64_t iova)
{
	(void)dom;
	c->idx = (unsigned)(iova >> c->shift) & c->mask;
	return c->e = atomic_load_explicit(&c->va[c->idx],
					   memory_order_acquire);
}

/* Step into the table that the loaded entry (a table entry) names. */
static inline void PT(cur_down)(const struct iopgt_domain *dom,
				struct pt_cur *c)
{
	uint64_t pa = fmt_table_pa(c->e, c->level);

	c->up[c->level] = c->va;
	c->upidx[c->level] = c->idx;
	c->va = __builtin_expect(c->p2v != NULL, 0)
			? c->p2v(dom->cfg.mem.arg, pa)
			: (pt_entry_t *)(pa + c->off);
	c->level--;
	c->shift -= FMT_BITS;
	c->mask = (1u << FMT_BITS) - 1;
}

/* Descend toward iova down to level `stop` at most, stopping early at an
 * entry that is not a table entry (empty, or a leaf). Returns the entry
 * the cursor stands on. */
static inline uint64_t PT(cur_seek)(const struct iopgt_domain *dom,
				    struct pt_cur *c, uint64_t iova,
				    unsigned stop)
{
	for (;;) {
		uint64_t e = PT(cur_load)(dom, c, iova);
		if (c->level == stop || !fmt_is_table(e, c->level))
			return e;
		PT(cur_down)(dom, c);
	}
}

/* cur_seek(..., 0) for the hot paths (lookup, single-page map and unmap):
 * the same steps, without recording the path (the cursor's up[] is not
 * set: a caller that needs the path walks again). Below the root the
 * shift and index mask of each level are the format's constants. With
 * FMT_TABLE_LINEAR the next table's CPU address is the entry plus one
 * constant: a table entry is exactly fmt_make_table(0, level) + pa (the
 * library writes it so and the hardware never changes it), so pa + off =
 * e + (off - fmt_make_table(0, level)); otherwise the address is decoded
 * with fmt_table_pa. A level costs about as many instructions as the
 * hardware's walk takes steps. to0 (a constant): the caller uses the
 * cursor only where the walk reaches level 0; a walk that ends above it
 * sets the cursor's level alone (then not 0), so that the walk's levels
 * need not be carried to its end. */
static inline __attribute__((always_inline)) uint64_t
PT(cur_leaf_p2v)(const struct iopgt_domain *dom, struct pt_cur *c,
		 uint64_t iova, const bool may_p2v, const bool to0)
{
	const uint64_t below = (UINT64_C(1) << FMT_BITS) - 1;
	pt_entry_t *va = c->va;
	unsigned level = c->level, idx;
	uint64_t e;

	idx = (unsigned)(iova >> c->shift) & c->mask;
	e = atomic_load_explicit(&va[idx], memory_order_acquire);
	if (FMT_TABLE_LINEAR &&
	    (!may_p2v || __builtin_expect(c->p2v == NULL, 1))) {
		/* Unrolled: each level's step with its own constants, entered
		 * at the root's level. A table entry is the likely case (a
		 * page's walk meets one a level): so laid out, the steps fall
		 * through to each other and to the end, which is then not a
		 * padded jump target. */
		const uintptr_t off = c->off;
#define PT_LEAF_STEP(L)                                                      \
	step##L:                                                             \
		if (FMT_GRANULE + FMT_BITS * (L) >= 64 ||                   \
		    __builtin_expect(!fmt_is_table(e, L), 0)) {              \
			level = L;                                           \
			if (to0)                                             \
				goto above;                                  \
			goto out;                                            \
		}                                                            \
		va = (pt_entry_t *)(uintptr_t)(                              \
			e + (off - (uintptr_t)fmt_make_table(0, L)));        \
		idx = (unsigned)(iova >> ((FMT_GRANULE + FMT_BITS * (L - 1)) \
					  & 63)) &                           \
		      below;                                                 \
		e = atomic_load_explicit(&va[idx], memory_order_acquire);
		_Static_assert(PT_MAX_LEVELS == 6, "PT_LEAF_STEP: one per level");
		/* Entered by compares, not a jump table (a bounds check, two
		 * loads, an addition and an indirect jump): first the root of
		 * a 4-level tree, the common geometry, then that of a 5-level
		 * one; level > 3 tested apart, so that the compiler does not
		 * turn the chain of equalities back into a table. */
		if (__builtin_expect(level == 3, 1))
			goto step3;
		if (level > 3) {
			if (level == 4)
				goto step4;
			goto step5;
		}
		if (level == 2)
			goto step2;
		/* (to0: level 0 is never the root, and the root's entry
		 * stays out of the values carried to the end) */
		if (to0 || level == 1)
			goto step1;
		goto step0;
		PT_LEAF_STEP(5)
		PT_LEAF_STEP(4)
		PT_LEAF_STEP(3)
		PT_LEAF_STEP(2)
		PT_LEAF_STEP(1)
	step0:
		level = 0;
#undef PT_LEAF_STEP
		goto out;
	}
	while (level && fmt_is_table(e, level)) {
		pt_assert_expensive(
			"a table entry is fmt_make_table(pa, level)",
			e == fmt_make_table(fmt_table_pa(e, level), level));
		if (may_p2v && __builtin_expect(c->p2v != NULL, 0))
			va = c->p2v(dom->cfg.mem.arg, fmt_table_pa(e, level));
		else if (FMT_TABLE_LINEAR)
			va = (pt_entry_t *)(uintptr_t)(
				e + (c->off -
				     (uintptr_t)fmt_make_table(0, level)));
		else
			va = (pt_entry_t *)(uintptr_t)(
				fmt_table_pa(e, level) + c->off);
		level--;
		idx = (unsigned)(iova >> (FMT_GRANULE + FMT_BITS * level)) &
		      below;
		e = atomic_load_explicit(&va[idx], memory_order_acquire);
	}
out:
	if (to0) {
		if (level)
			goto above;
		/* level 0 is never the root */
		c->level = 0;
		c->shift = FMT_GRANULE;
		c->mask = (unsigned)below;
	} else if (level != c->level) {
		c->level = level;
		c->shift = FMT_GRANULE + FMT_BITS * level;
		c->mask = (unsigned)below;
	}
	c->va = va;
	c->idx = idx;
	return c->e = e;
above:
	c->level = level;
	return c->e = e;
}

/* cur_leaf for any domain: with the embedder's phys_to_virt, if it gave
 * one. may_p2v = false above is for callers that checked it is NULL: their
 * walk then makes no call. */
static inline __attribute__((always_inline)) uint64_t
PT(cur_leaf)(const struct iopgt_domain *dom, struct pt_cur *c, uint64_t iova)
{
	return PT(cur_leaf_p2v)(dom, c, iova, true, false);
}

/* The descriptor of the table at `level` on the cursor's path (level at
 * or above the cursor's). */
static inline struct pt_table *PT(cur_table)(const struct iopgt_domain *dom,
					     const struct pt_cur *c,
					     unsigned level)
{
	if (level == c->top)
		return c->topt;
	return pt_desc(dom, level == c->level ? c->va : c->up[level]);
}

/* The largest allowed leaf level that iova, pa and the length allow. A
 * level's alignment implies every lower one's, so stop at the first that
 * fails. */
static inline unsigned PT(pick_level)(const struct pt_geo *geo, uint64_t iova,
				      uint64_t pa, uint64_t last)
{
	unsigned level = 0;

	while (level < geo->max_leaf_level) {
		uint64_t mask = geo->leaf_mask[level + 1];
		if (((iova | pa) & mask) || last - iova < mask)
			break;
		level++;
	}
	return level;
}

/* At the level pick_level chose, the largest leaf span in use (2^k items,
 * k >= 1) that iova, pa and the length allow; 0: one item. A span is
 * smaller than one item of the level above, so the level comes first. */
static inline unsigned PT(pick_span)(const struct pt_geo *geo, unsigned level,
				     uint64_t iova, uint64_t pa, uint64_t last)
{
	unsigned set = FMT_LEAF_SPANS ? geo->spans[level] : 0;

	while (set) {
		unsigned k = 31u - (unsigned)__builtin_clz(set);
		uint64_t mask = ((geo->leaf_mask[level] + 1) << k) - 1;

		if (!((iova | pa) & mask) && last - iova >= mask)
			return k;
		set &= ~(1u << k);
	}
	return 0;
}

/* The largest leaf that fits at item pos of a group, len items long: 2^s
 * items with pos aligned to them, s a span in use at level or 0. */
static inline unsigned PT(span_fit)(const struct pt_geo *geo, unsigned level,
				    unsigned pos, unsigned len)
{
	unsigned s = 31u - (unsigned)__builtin_clz(len);

	if (pos && (unsigned)__builtin_ctz(pos) < s)
		s = (unsigned)__builtin_ctz(pos);
	while (s && !(geo->spans[level] & (1u << s)))
		s--;
	return s;
}

/* Does leaf e (at lvl, where addr's walk ends) span several items with
 * addr inside it, not on its edge? Splitting at addr then rewrites its
 * group (PT(span_split)). Never for formats without leaf spans. */
static inline bool PT(span_cut)(const struct iopgt_domain *dom, uint64_t e,
				unsigned lvl, uint64_t addr)
{
	unsigned k = fmt_leaf_span(e, lvl);

	return k && (addr & (((dom->geo.leaf_mask[lvl] + 1) << k) - 1)) &&
	       !PT_BROKEN(dom, PT_HOOK_BREAK_SPAN_CUT);
}

/* Write the leaves of gn items at level lvl that map pa0 on into va[0]
 * .. va[gn - 1]: the largest aligned spans in use that do not cross item
 * cut or cut2 (cut <= cut2 <= gn), and single items; each with hw. xchg:
 * the entries are live (exchanged, and any hardware bit found in one that
 * hw lacks goes into every entry); else stores into a table no one can
 * see yet. */
static void PT(write_pieces)(const struct pt_geo *geo, pt_entry_t *va,
				 unsigned gn, unsigned lvl, uint64_t pa0,
				 uint64_t attrs, uint64_t hw, unsigned cut,
				 unsigned cut2, bool xchg)
{
	const unsigned sh = pt_shift(geo, lvl);
	uint64_t found = 0;

	for (unsigned pos = 0; pos < gn;) {
		const unsigned lim = pos < cut ? cut : pos < cut2 ? cut2 : gn;
		const unsigned s = PT(span_fit)(geo, lvl, pos, lim - pos);
		const uint64_t pa = pa0 + ((uint64_t)pos << sh);
		uint64_t ne = (s ? fmt_make_leaf_span(pa, lvl, s, attrs)
				 : fmt_make_leaf(pa, lvl, attrs)) |
			      hw;
		const uint64_t st = s ? fmt_span_step(lvl, s) : 0;

		for (unsigned j = 0; j < 1u << s; j++, ne += st) {
			if (xchg)
				found |= atomic_exchange_explicit(
					&va[pos + j], ne, memory_order_relaxed);
			else
				atomic_store_explicit(&va[pos + j], ne,
						      memory_order_relaxed);
		}
		pos += 1u << s;
	}
	/* A bit the hardware set in a replaced entry, not in hw: into every
	 * new entry (the caller took hw from a read before the rewrite). */
	found &= FMT_HW_BITS & ~hw;
	for (unsigned j = 0; found && j < gn; j++)
		atomic_fetch_or_explicit(&va[j], found, memory_order_relaxed);
}

/* May this call unlink the empty table t? A failed map undoing itself
 * unlinks only the tables it created: an empty table that was there
 * before (kept for reuse, or under NO_RECLAIM) stays, so the tables end as
 * they were. Otherwise yes, unless NO_RECLAIM. */
static inline bool PT(may_reclaim)(const struct pt_op *op,
				   const struct pt_table *t)
{
	/* Without counts, an unlink is safe against fills made without a
	 * section only where those fills check for it (pt.h): in a domain
	 * that reclaims. Elsewhere even a failed map keeps the tables it
	 * created. */
	if (!pt_counted(op->dom) &&
	    (op->dom->cfg.options & IOPGT_OPT_NO_RECLAIM))
		return false;
	if (pt_pinned(t))
		return false; /* a root (a growing domain's too) */
	if (op->rollback)
		return op->owner && t->owner == op->owner;
	return !(op->dom->cfg.options & IOPGT_OPT_NO_RECLAIM);
}

/* ------------------------------------------------------------------------
 * Unlinking
 */

/* Add every table of the subtree under t to the gather. Its entries are
 * left as they were (hardware may still walk them until the WALK flush), so
 * each page is marked to be zeroed before reuse. */
static void PT(gather_subtree)(struct pt_op *op, struct pt_table *t)
{
	if (t->level) {
		unsigned n = pt_nr_entries(&op->dom->geo, t->level);
		for (unsigned i = 0; i < n; i++) {
			uint64_t e = pt_load(t, i);
			if (fmt_is_table(e, t->level))
				PT(gather_subtree)(op, PT(child)(op->dom, e,
								  t->level));
		}
	}
	/* (Without counts, a caller overlapping the superpage's range may
	 * still store a leaf into t after the scan: always zero it.) */
	if (!pt_counted(op->dom) || pt_used(op->dom, t))
		t->flags |= PT_F_DIRTY;
	/* Not empty: a cache may hold any of its entries. */
	iopgt__gather_table(op->dom, op->g, t, false);
}

/* Unfreeze every table of the subtree under t (frozen by freeze_subtree). */
static void PT(unfreeze_subtree)(struct pt_op *op, struct pt_table *t)
{
	if (t->level) {
		unsigned n = pt_nr_entries(&op->dom->geo, t->level);
		for (unsigned i = 0; i < n; i++) {
			uint64_t e = pt_load(t, i);
			if (fmt_is_table(e, t->level))
				PT(unfreeze_subtree)(op, PT(child)(op->dom, e,
								   t->level));
		}
	}
	pt_unfreeze(t);
}

/* Freeze every table of the subtree under t, top down, and check that no
 * leaf lies in it: a superpage is about to replace it. Only called on
 * subtrees inside the caller's range. 0: all frozen, no leaf. Else nothing
 * stays frozen and the result is -EEXIST (a leaf) or -EAGAIN (a writer is
 * inside one of the tables). */
static int PT(freeze_subtree)(struct pt_op *op, struct pt_table *t)
{
	unsigned n, i;
	int r = 0;

	if (!pt_freeze_any(t))
		return -EAGAIN;
	if (!pt_used(op->dom, t))
		return 0;
	if (!t->level) {
		pt_unfreeze(t);
		return -EEXIST;
	}
	n = pt_nr_entries(&op->dom->geo, t->level);
	for (i = 0; i < n; i++) {
		uint64_t e = pt_load(t, i);
		struct pt_table *c;

		if (!e)
			continue;
		if (!fmt_is_table(e, t->level)) {
			r = -EEXIST;
			break;
		}
		c = PT(child)(op->dom, e, t->level);
		if ((r = PT(freeze_subtree)(op, c)))
			break;
	}
	if (!r)
		return 0;
	while (i--) {
		uint64_t e = pt_load(t, i);
		if (fmt_is_table(e, t->level))
			PT(unfreeze_subtree)(op, PT(child)(op->dom, e,
							   t->level));
	}
	pt_unfreeze(t);
	return r;
}

/* Any of the eight entries from p on in use? Written out and or-ed one
 * by one: compilers keep a loop of atomic loads as a loop, and load a
 * single expression into eight registers. */
static inline bool PT(line_used)(const pt_entry_t *p)
{
	uint64_t any;

#define PT_OR(i) any |= atomic_load_explicit(&p[i], memory_order_relaxed)
	any = atomic_load_explicit(&p[0], memory_order_relaxed);
	PT_OR(1);
	PT_OR(2);
	PT_OR(3);
	PT_OR(4);
	PT_OR(5);
	PT_OR(6);
	PT_OR(7);
#undef PT_OR
	return any != 0;
}

/* Without counts: may the table of n entries at va, in which entries
 * lo..hi were just cleared, be empty? Its first, middle and last entries,
 * the lines of eight that hold lo and hi, and, for a run of more than one
 * line, the lines on either side of it, are. Cheap, and false at once
 * while other entries of the lines are in use; the unlink's scan decides.
 * The lines beside a cleared run are where a neighbour's mappings most
 * often are: without them a run cleared up to a line short of a
 * neighbour's page sent the table to a scan (512 loads at a 4K granule)
 * that found it in use. A single entry's clear does not read them: its
 * own line holds its nearest neighbours, and two writers of interleaved
 * pages of one table, each of whose unmaps may empty it, lost a third of
 * their speed to the reads of each other's lines. */
/* PT(may_be_empty) but for lo's line, which the caller found empty. */
static inline bool PT(may_be_empty_beyond)(const pt_entry_t *va, unsigned n,
					   unsigned lo, unsigned hi)
{
	const unsigned a = lo & ~7u, b = hi & ~7u;

#define PT_LOAD(p, i) atomic_load_explicit(&(p)[i], memory_order_relaxed)
	if (PT_LOAD(va, 0) | PT_LOAD(va, n / 2) | PT_LOAD(va, n - 1))
		return false;
	if (b == a)
		return true;
	return !PT(line_used)(va + b) && !(a && PT(line_used)(va + a - 8)) &&
	       !(b + 8 < n && PT(line_used)(va + b + 8));
#undef PT_LOAD
}

static inline bool PT(may_be_empty)(const pt_entry_t *va, unsigned n,
				    unsigned lo, unsigned hi)
{
	/* lo's line first, which the clear just wrote and which a dense
	 * table fails at once (n is a power of two, at least 8). */
	return !PT(line_used)(va + (lo & ~7u)) &&
	       PT(may_be_empty_beyond)(va, n, lo, hi);
}

/* The index of c's first entry in use from `from` on, or past its end.
 * A line of eight at a time: its eight loads are independent and one test
 * covers them (an unlink's scan of an empty 4K table: 64 tests, not 512).
 * An entry seen in use and cleared before its line is read again counts
 * as empty, as if the one-at-a-time scan had read it then. */
static inline unsigned PT(first_used)(const struct pt_table *c, unsigned from)
{
	const pt_entry_t *va = c->va;
	const unsigned n = c->mask + 1u;
	unsigned i = from;

	for (; i < n && (i & 7u); i++)
		if (atomic_load_explicit(&va[i], memory_order_relaxed))
			return i;
	for (; i + 8u <= n; i += 8u)
		if (PT(line_used)(va + i))
			for (unsigned j = i; j < i + 8u; j++)
				if (atomic_load_explicit(&va[j],
							 memory_order_relaxed))
					return j;
	for (; i < n; i++) /* a table of fewer than eight entries */
		if (atomic_load_explicit(&va[i], memory_order_relaxed))
			return i;
	return n;
}

/* t[idx] points to child c, which the caller emptied: if nobody refilled
 * it or is inside it meanwhile, freeze c, clear the entry and gather c.
 * Returns true if c was unlinked; *st is then t's state after the clear
 * (0: t is empty too, with nobody inside). */
static bool PT(unlink_empty)(struct pt_op *op, struct pt_table *t,
			     unsigned idx, struct pt_table *c, uint64_t *st)
{
	uint64_t old = fmt_make_table(c->pa, t->level);
	const bool counted = pt_counted(op->dom);

	if (!PT(may_reclaim)(op, c) || !pt_freeze(c, 0))
		return false;
	/* Without counts the scan decides, after the freeze; the fence pairs
	 * with a filler's (pt.h): the scan sees its new leaf, or the filler
	 * sees F and maps again once c is gone. An entry found: unfreeze and
	 * read c again. A clear that emptied c meanwhile found it frozen and
	 * left it to this call (its own freeze failed), so if c now reads
	 * empty, freeze it again: else it could stay linked, empty, for
	 * good. */
	while (!counted) {
		unsigned at;

		pt_fence_sc();
		at = PT_BROKEN(op->dom, PT_HOOK_BREAK_UNLINK_SCAN)
			     ? c->mask + 1u
			     : PT(first_used)(c, 0);
		if (at > c->mask)
			break;
		PT_YIELD(op->dom, PT_Y_UNLINK_THAW, c->level, c->iova);
		pt_unfreeze(c);
		/* The fence pairs with the clearer's: either the reading
		 * below sees its clear, or its freeze sees the unfreeze. */
		pt_fence_sc();
		if (PT_BROKEN(op->dom, PT_HOOK_BREAK_THAW_RETRY) ||
		    atomic_load_explicit(&c->va[at], memory_order_relaxed) ||
		    PT(first_used)(c, 0) <= c->mask || !pt_freeze(c, 0))
			return false;
	}
	PT_YIELD(op->dom, PT_Y_UNLINK_FROZEN, c->level, c->iova);
	/* t holds the entry naming c, so its count is at least one: whoever
	 * froze t (a coalesce, which will see this table entry; a superpage
	 * map, which will find c frozen) unfreezes it soon. */
	while (!pt_open_excl(t))
		PT_WAIT_FROZEN(op->dom, t->level, t->iova);
	if (!atomic_compare_exchange_strong_explicit(&t->va[idx], &old, 0,
						     memory_order_release,
						     memory_order_relaxed)) {
		/* Someone else replaced the entry: only an overlapping
		 * caller can, and c is theirs to dispose of. */
		pt_close_excl(t, 0);
		return false;
	}
	*st = pt_close_excl(t, counted ? 1 : 0);
	if (!counted) {
		/* A filler that found c frozen may have stored into it after
		 * the scan (it maps again elsewhere): zero c before reuse. And
		 * no count says whether t is empty now: its probe does. */
		c->flags |= PT_F_DIRTY;
		pt_fence_sc(); /* as after any clear: pairs with a neighbour
				* clearing t, so one of the two probes sees
				* both clears */
		*st = !pt_pinned(t) &&
				      PT(may_be_empty)(t->va, t->mask + 1u, idx,
						       idx)
			      ? 0
			      : 1;
	}
	/* c is empty: each entry it held was cleared by a clear that its
	 * caller's gather reports, or by an unlink of the table it named
	 * (its own WALK range). A filler that stored into c after the scan
	 * (without counts) reports its leaves itself (PT(fill_lost)). */
	iopgt__gather_table(op->dom, op->g, c, true);
	return true;
}

/* Unlink the table kept idle under key if it is still empty, and the
 * tables above it that this empties. */
static void PT(evict_key)(struct pt_op *op, uint64_t key)
{
	struct iopgt_domain *dom = op->dom;
	unsigned level = (unsigned)(key & 0xfff) - 1;
	uint64_t iova = key & ~(uint64_t)0xfff;
	struct pt_table *t;
	struct pt_cur cur;

	PT(cur_root)(dom, &cur);
	PT(cur_seek)(dom, &cur, iova, level);
	if (cur.level != level || level >= cur.top)
		return; /* gone meanwhile */
	t = PT(cur_table)(dom, &cur, level);
	for (unsigned l = level + 1; l <= cur.top; l++) {
		struct pt_table *p = PT(cur_table)(dom, &cur, l);
		uint64_t st = 1;

		if (atomic_load_explicit(&t->st, memory_order_relaxed) ||
		    !PT(unlink_empty)(op, p, cur.upidx[l], t, &st) || st)
			break;
		t = p;
	}
}

/* Is t kept in one of the domain's idle slots (PT(park))? */
static inline bool PT(parked)(const struct iopgt_domain *dom,
			      const struct pt_table *t)
{
	const uint64_t key = t->iova | (t->level + 1u);

	for (unsigned i = 0; i < dom->cache_limit; i++)
		if (atomic_load_explicit(&dom->idle[i], memory_order_relaxed) ==
		    key)
			return true;
	return false;
}

/* t was left empty, with nobody inside, by this call: keep it linked for
 * the next map to reuse, in one of the domain's idle slots; if they are
 * all taken, the oldest is evicted (unlinked, if still empty) to make
 * room. Two writers that share a table and take turns emptying it then
 * stop unlinking and re-creating it in a loop. False: no slots at all
 * (table_cache 0), so the caller unlinks t now. */
static bool PT(park)(struct pt_op *op, struct pt_table *t)
{
	struct iopgt_domain *dom = op->dom;
	unsigned n = dom->cache_limit;
	uint64_t key = t->iova | (t->level + 1u), old;

	if (!n || op->rollback || !PT(may_reclaim)(op, t))
		return false;
	/* Already kept (emptied before and reused since): nothing to write,
	 * so writers that take turns emptying a table do not share a line
	 * here. */
	if (PT(parked)(dom, t))
		return true;
	for (unsigned i = 0; i < n; i++) {
		old = 0;
		if (!atomic_load_explicit(&dom->idle[i], memory_order_relaxed) &&
		    atomic_compare_exchange_strong_explicit(
			    &dom->idle[i], &old, key, memory_order_relaxed,
			    memory_order_relaxed))
			return true;
	}
	old = atomic_exchange_explicit(
		&dom->idle[atomic_fetch_add_explicit(&dom->idle_clock, 1,
						     memory_order_relaxed) %
			   n],
		key, memory_order_relaxed);
	if (old && old != key)
		PT(evict_key)(op, old);
	return true;
}

/* ------------------------------------------------------------------------
 * Map
 */

/* A superpage at t[idx] (level `level`) where an empty subtree e stands. */
static int PT(replace_subtree)(struct pt_op *op, struct pt_table *t,
			       unsigned idx, uint64_t e, uint64_t leaf)
{
	struct pt_table *c = PT(child)(op->dom, e, t->level);
	int r;

	r = PT(freeze_subtree)(op, c);
	if (r)
		return r;
	if (pt_replace(t, idx, &e, leaf)) {
		/* t is frozen (start again from the root) or the entry
		 * changed: only an overlapping caller can do that. */
		PT(unfreeze_subtree)(op, c);
		return -EAGAIN;
	}
	/* Keep it on the call until the whole map has succeeded. */
	c->next = op->replaced;
	op->replaced = c;
	return 0;
}

/* A failed map put superpages where the empty subtree c stood and has
 * cleared them again: link c back, so the tables are as before. */
static void PT(relink)(struct pt_op *op, struct pt_table *c)
{
	struct iopgt_domain *dom = op->dom;
	struct pt_cur cur;
	uint64_t e;

	PT(cur_root)(dom, &cur);
	e = PT(cur_seek)(dom, &cur, c->iova, c->level + 1u);
	if (cur.level == c->level + 1u && !e &&
	    !pt_set_table(dom, PT(cur_table)(dom, &cur, cur.level), cur.idx,
			  fmt_make_table(c->pa, cur.level), &e)) {
		PT(unfreeze_subtree)(op, c);
		return;
	}
	PT(gather_subtree)(op, c); /* cannot happen: reclaim it instead */
}

/* Without counts: may the table of n entries at va, in which entry idx
 * was just filled, be full? Its first, middle and last entries, idx's
 * line of eight, and the entries just outside that line are present.
 * Cheap, and false at once while a table is filled in order either way
 * (the next line is empty); the coalescer's scan decides. */
static inline bool PT(may_be_full)(const pt_entry_t *va, unsigned n,
				   unsigned idx)
{
	unsigned k = idx & ~7u, end = k + 8 < n ? k + 8 : n;

#define PT_PRESENT(i) atomic_load_explicit(&va[i], memory_order_relaxed)
	if (!PT_PRESENT(0) || !PT_PRESENT(n - 1) || !PT_PRESENT(n / 2) ||
	    (end < n && !PT_PRESENT(end)) || (k && !PT_PRESENT(k - 1)))
		return false;
	for (; k < end; k++)
		if (!PT_PRESENT(k))
			return false;
#undef PT_PRESENT
	return true;
}

/* Remember a table this map filled, to try coalescing it once the whole
 * map has succeeded. Only the tables at the two ends of a range can
 * coalesce (a table the range covers wholly would have been mapped with
 * the larger leaf had alignment allowed it), so the first and the latest
 * candidate are kept. */
static void PT(add_cand)(struct pt_op *op, unsigned level, uint64_t iova)
{
	struct pt_cand *c = &op->cand[op->ncand ? 1 : 0];

	if (op->ncand < 2)
		op->ncand++;
	c->level = level;
	c->iova = iova;
}

/* Without counts, in a domain that reclaims: this call stored leaves for
 * iova into the level-0 table t without a section, fenced, and found t
 * frozen (pt.h): an unlinker's scan may have missed them. Wait until t is
 * unfrozen (the leaves stand) or no longer linked. Then, if a superpage
 * stands in its place, a coalescer replaced t, and its rescan saw the
 * leaves: they stand in the superpage. Otherwise t was unlinked as
 * empty: returns true, and the caller maps again from the root. Inside
 * the caller's walker section, so t is not freed meanwhile. */
static __attribute__((noinline)) bool
PT(fill_met_freeze)(struct iopgt_domain *dom, struct pt_table *t,
		    uint64_t iova)
{
	const unsigned up = t->level + 1;
	const uint64_t named = fmt_make_table(t->pa, up);
	struct pt_cur cur;
	uint64_t e;

	for (;;) {
		if (!(atomic_load_explicit(&t->st, memory_order_acquire) &
		      PT_ST_F))
			return false;
		PT(cur_root)(dom, &cur);
		e = PT(cur_seek)(dom, &cur, iova, up);
		if (cur.level != up || e != named)
			break;
		PT_WAIT_FROZEN(dom, t->level, t->iova);
	}
	return !e || fmt_is_table(e, cur.level);
}

/* A filler's leaves [iova, last] of size sz, stored into a level-0 table
 * that was then unlinked as empty (fill_met_freeze true): the IOMMU may
 * have walked the table and cached them before it was unlinked, and the
 * unlinker's WALK range, which takes the table for empty
 * (IOPGT_RANGE_WALK_EMPTY), does not drop them. The filler reports them:
 * they are mapped again the same way, or the map fails and they must not
 * be left cached. */
static __attribute__((noinline)) void
PT(fill_lost)(struct iopgt_gather *g, uint64_t iova, uint64_t last,
	      uint64_t sz)
{
	pt_gather_range(g, iova, last, IOPGT_FLUSH_MODIFIED, sz, 0);
}

/* The filler's half of the fence pair with an unlinker (pt.h), after it
 * stored leaves into t without a section: true if t is frozen. Inline in
 * the single-page map, which follows up out of line (PT(map_met)). */
static inline bool PT(fill_fenced)(struct iopgt_domain *dom,
				   const struct pt_table *t)
{
	(void)dom; /* for the yield point alone */
	PT_YIELD(dom, PT_Y_FILL_STORED, t->level, t->iova);
	pt_fence_sc();
	return (atomic_load_explicit(&t->st, memory_order_relaxed) &
		PT_ST_F) != 0;
}

/* A fill without a section in a domain that reclaims, after its stores:
 * true if the leaves just stored into t must be mapped again. */
static inline bool PT(fill_check)(struct iopgt_domain *dom, struct pt_table *t,
				  uint64_t iova)
{
	if (!PT(fill_fenced)(dom, t) ||
	    PT_BROKEN(dom, PT_HOOK_BREAK_FILL_CHECK))
		return false;
	return PT(fill_met_freeze)(dom, t, iova);
}

/* A map redone from the root (a table it had filled was unlinked or
 * coalesced meanwhile: fill_met_freeze) meets leaf e at `level` covering
 * iova. If the leaf is the map's own work, taken into a superpage by a
 * coalesce (and perhaps split again since), the bytes from iova to the
 * leaf's end are done: returns them; else 0 (-EEXIST stands). Callers
 * never overlap, and the map stored into an empty slot, so a leaf in the
 * redone range that translates iova to pa with the map's attributes can
 * only be its own. */
static uint64_t PT(own_leaf)(const struct pt_op *op, uint64_t e,
			     unsigned level, uint64_t iova, uint64_t pa)
{
	uint64_t m;

	if (__builtin_expect(!op->redo, 1) || iova > op->redo_last ||
	    PT_BROKEN(op->dom, PT_HOOK_BREAK_OWN_LEAF))
		return 0;
	m = (UINT64_C(1) << (FMT_GRANULE + FMT_BITS * level +
			     fmt_leaf_span(e, level))) - 1;
	if ((fmt_leaf_pa(e, level) | (iova & m)) != pa ||
	    fmt_leaf_attrs(e, level) !=
		    fmt_leaf_attrs(fmt_make_leaf(0, level, op->attrs), level))
		return 0;
	/* No further than the redone range, even for a leaf that reaches
	 * past it. */
	return (m - (iova & m)) < op->redo_last - iova ? m - (iova & m) + 1
						       : op->redo_last - iova + 1;
}

/* Fill the entries idx.. of t, at most n (a multiple of 2^k, idx aligned
 * to it), group by group with leaves of 2^k items mapping pa on, stopping
 * at the first group with an entry in use (own: but for entries of this
 * very leaf, which took empty tables' places, PT(map_run)). Inside a section the caller opened (it owns these
 * slots, as for pt_fill). Returns how many entries it covered; *added,
 * how many of them were empty. A walk may meet a group half written: the
 * entries written translate as the whole leaf does, the others are
 * empty. */
static unsigned PT(fill_spans)(struct pt_table *t, unsigned idx, unsigned n,
			       uint64_t pa, unsigned level, unsigned k,
			       uint64_t attrs, bool own, unsigned *added)
{
	const unsigned gn = 1u << k;
	const uint64_t step = fmt_span_step(level, k);
	const uint64_t gsz = UINT64_C(1) << (FMT_GRANULE + FMT_BITS * level + k);
	pt_entry_t *p = t->va + idx;
	unsigned i, j, a = 0;

	for (i = 0; i < n; i += gn, pa += gsz) {
		const uint64_t e0 = fmt_make_leaf_span(pa, level, k, attrs);
		uint64_t e = e0;
		unsigned empty = 0;

		if (!own) {
			/* All empty, or stop: one test for the group (gn is
			 * a power of two, at least 2), then the stores. */
			pt_entry_t *q = p + i, *const qe = q + gn;
			uint64_t any = 0;

#define PT_LD(x) atomic_load_explicit(&q[x], memory_order_relaxed)
#define PT_ST(x, v) atomic_store_explicit(&q[x], (v), memory_order_relaxed)
			if (gn == 2) {
				any = PT_LD(0) | PT_LD(1);
			} else {
				for (; q < qe; q += 4)
					any |= PT_LD(0) | PT_LD(1) | PT_LD(2) |
					       PT_LD(3);
				q = p + i;
			}
			if (any)
				break;
			if (gn == 2) {
				PT_ST(0, e);
				PT_ST(1, e + step);
			} else {
				for (; q < qe; q += 4, e += 4 * step) {
					PT_ST(0, e);
					PT_ST(1, e + step);
					PT_ST(2, e + 2 * step);
					PT_ST(3, e + 3 * step);
				}
			}
#undef PT_LD
#undef PT_ST
			a += gn;
			continue;
		}

		for (j = 0; j < gn; j++, e += step) {
			uint64_t x = atomic_load_explicit(&p[i + j],
							  memory_order_relaxed);
			if (!x)
				empty++;
			else if ((x ^ e) & ~FMT_HW_BITS)
				goto out;
		}
		for (j = 0, e = e0; j < gn; j++, e += step)
			if (!atomic_load_explicit(&p[i + j],
						  memory_order_relaxed))
				atomic_store_explicit(&p[i + j], e,
						      memory_order_relaxed);
		a += empty;
	}
out:
	*added = a;
	return i;
}

/* Clear the entries idx .. idx + n - 1 of t that hold e0 + j * step (hardware
 * bits aside): items of a group that a failed map had put in the places of
 * empty tables, so that those tables can be linked back. Returns how many
 * it cleared. */
static unsigned PT(clear_items)(struct iopgt_domain *dom, struct pt_table *t,
				unsigned idx, unsigned n, uint64_t e0,
				uint64_t step)
{
	uint32_t k = 0;

	while (!pt_open_excl(t))
		PT_WAIT_FROZEN(dom, t->level, t->iova);
	for (unsigned j = 0; j < n; j++) {
		uint64_t x = pt_load(t, idx + j);

		if (x && !((x ^ (e0 + j * step)) & ~FMT_HW_BITS)) {
			atomic_store_explicit(&t->va[idx + j], 0,
					      memory_order_relaxed);
			k++;
		}
	}
	pt_close_excl(t, pt_counted(dom) ? k : 0);
	return k;
}

/* Map one run of leaves at `level` starting at iova, within one table:
 * leaves of one item, or (k >= 1) of 2^k items. *done receives the bytes
 * mapped. */
static int PT(map_run)(struct pt_op *op, uint64_t iova, uint64_t pa,
		       uint64_t last, unsigned level, unsigned k,
		       uint64_t *done)
{
	struct iopgt_domain *dom = op->dom;
	const struct pt_geo *geo = &dom->geo;
	uint64_t e, sz = geo->leaf_mask[level] + 1;
	const bool counted = pt_counted(dom);
	struct pt_table *t;
	struct pt_cur cur;
	unsigned idx, n, i, added;
	bool own = false; /* the first group's items replaced empty tables */
	uint64_t st;
	int r;

retry:
	PT(cur_root)(dom, &cur);
	while ((e = PT(cur_seek)(dom, &cur, iova, level)), cur.level > level) {
		struct pt_table *c;

		if (e) {
			/* a larger leaf already covers iova */
			*done = PT(own_leaf)(op, e, cur.level, iova, pa);
			return *done ? 0 : -EEXIST;
		}
		t = PT(cur_table)(dom, &cur, cur.level);
		if (!op->owner)
			op->owner = atomic_fetch_add_explicit(
				&dom->next_owner, 1, memory_order_relaxed) + 1;
		c = iopgt__table_alloc(dom, cur.level - 1, op->owner);
		if (!c)
			return -ENOMEM;
		c->iova = iova & ~(PT(size)(geo, cur.level) - 1);
		/* The one publication point: the entry names the table, and
		 * everything a walker or writer needs follows from it. */
		r = pt_set_table(dom, t, cur.idx,
				 fmt_make_table(c->pa, cur.level), &e);
		if (!r) {
			PT_YIELD(dom, PT_Y_INSTALL_DONE, c->level, c->iova);
			cur.e = fmt_make_table(c->pa, cur.level);
			PT(cur_down)(dom, &cur);
			continue;
		}
		/* Lost the race (use the winner's table, or fail on its
		 * leaf), or t is frozen (start again from the root). */
		iopgt__table_free_unpublished(dom, c);
		if (r == -ESTALE) {
			PT_WAIT_FROZEN(dom, t->level, t->iova);
			goto retry;
		}
		if (!fmt_is_table(e, cur.level)) {
			*done = PT(own_leaf)(op, e, cur.level, iova, pa);
			return *done ? 0 : -EEXIST;
		}
		cur.e = e;
		PT(cur_down)(dom, &cur);
	}
	t = PT(cur_table)(dom, &cur, level);

	idx = cur.idx;
	n = pt_nr_entries(geo, level) - idx;
	/* Whole leaves left: last - iova + 1 cannot wrap (ias <= 57). */
	if ((uint64_t)n > (last - iova + 1) >> pt_shift(geo, level))
		n = (unsigned)((last - iova + 1) >> pt_shift(geo, level));
	if (FMT_LEAF_SPANS && geo->spans[level]) {
		/* Whole groups: at least one (pick_span), idx aligned to
		 * it. */
		const unsigned more = geo->spans[level] & ~((2u << k) - 1);

		n &= ~((1u << k) - 1);
		if (own)
			n = 1u << k; /* that group alone */
		/* Up to where a larger span may start, if iova and pa can
		 * both be aligned to it: the next run picks again. */
		if (more) {
			const uint64_t m = (sz << __builtin_ctz(more)) - 1;

			if (!((iova ^ pa) & m) &&
			    (uint64_t)n > ((iova | m) - iova + 1) / sz)
				n = (unsigned)(((iova | m) - iova + 1) / sz);
		}
	}
	/* Fill what is empty, up to the first entry that is not; the next
	 * run starts there. */
	/* Without counts, leaves above level 0 go in inside the table's
	 * exclusive section (counting nothing), which keeps an overlapping
	 * caller's install out between pt_fill's check and its store, so no
	 * table entry is overwritten and its table lost; level 0 holds no
	 * table entries. Groups of a leaf span go in inside it at level 0
	 * too, so that a group is never half written when an unlinker or
	 * a coalescer scans. */
	const bool excl = !counted && (level || (FMT_LEAF_SPANS && k));
	if (counted) {
		if (!pt_open(t, n)) {
			/* Frozen: being unlinked or coalesced. */
			PT_WAIT_FROZEN(dom, t->level, t->iova);
			goto retry;
		}
		PT_YIELD(dom, PT_Y_FILL_RESERVED, level, t->iova);
	} else if (excl && !pt_open_excl(t)) {
		PT_WAIT_FROZEN(dom, t->level, t->iova);
		goto retry;
	}
	/* Consecutive leaves differ by fmt_leaf_step, not by the size. */
	if (FMT_LEAF_SPANS && k) {
		i = PT(fill_spans)(t, idx, n, pa, level, k, op->attrs, own,
				   &added);
	} else {
		i = pt_fill(t, idx, n, fmt_make_leaf(pa, level, op->attrs),
			    fmt_leaf_step(level));
		added = i;
	}
	if (counted) {
		st = pt_close(t, n - added);
	} else {
		if (excl)
			pt_close_excl(t, 0);
		else if (i && pt_uc_reclaim(dom) &&
			 PT(fill_check)(dom, t, iova)) {
			/* t was unlinked, or coalesced and split again: map
			 * again, where the leaves may be found standing */
			PT(fill_lost)(op->g, iova, iova + i * sz - 1, sz);
			op->redo = true;
			op->redo_last = iova + i * sz - 1;
			goto retry;
		}
		/* No count: a probe stands for "full" (try_coalesce scans). */
		st = i && !(dom->cfg.options & IOPGT_OPT_NO_COALESCE) &&
				     PT(may_be_full)(t->va,
						     pt_nr_entries(geo, level),
						     idx + i - 1)
			     ? pt_nr_entries(geo, level)
			     : 0;
	}
	if (!i && FMT_LEAF_SPANS && k) {
		/* An entry of the first group is in use. Kept empty tables:
		 * the leaf takes their places, one by one (replace_subtree),
		 * and the fill then completes the group. A leaf: map the
		 * group item by item, which fails on it (or finds it this
		 * map's own, PT(own_leaf)). */
		const uint64_t step = fmt_span_step(level, k);
		const uint64_t e0 = fmt_make_leaf_span(pa, level, k, op->attrs);
		bool leaf = false;
		unsigned j;

		for (j = 0; j < 1u << k && !leaf; j++) {
			e = pt_load(t, idx + j);
			leaf = e && !fmt_is_table(e, level) &&
			       (!own || ((e ^ (e0 + j * step)) & ~FMT_HW_BITS));
		}
		for (j = 0; j < 1u << k && !leaf; j++) {
			e = pt_load(t, idx + j);
			if (!e || !fmt_is_table(e, level))
				continue;
			r = PT(replace_subtree)(op, t, idx + j, e,
						e0 + j * step);
			if (r && r != -EAGAIN) {
				/* A leaf in that subtree: clear the items
				 * put in the tables' places so far (the
				 * failed map links the tables back). */
				/* The items were live: a walk may have cached
				 * the group's page; a failed map's gather
				 * reports what it rolled back. */
				if (PT(clear_items)(op->dom, t, idx, 1u << k,
						    e0, step))
					pt_gather_range(op->g, iova,
							iova + ((sz << k) - 1),
							IOPGT_FLUSH_MODIFIED,
							sz << k,
							IOPGT_RANGE_ANY_SIZE);
				return r;
			}
			if (r)
				goto retry;
			own = true;
		}
		if (!leaf)
			goto retry;
		uint64_t gl = iova + ((sz << k) - 1);

		return PT(map_run)(op, iova, pa, gl < last ? gl : last, level,
				   0, done);
	}
	if (!i) {
		PT_YIELD(dom, PT_Y_FILL_BLOCKED, level, t->iova);
		e = pt_load(t, idx);
		if (!e)
			goto retry; /* an empty table kept for reuse was just
				     * unlinked by the writer evicting it */
		if (!fmt_is_table(e, level)) {
			*done = PT(own_leaf)(op, e, level, iova, pa);
			return *done ? 0 : -EEXIST;
		}
		r = PT(replace_subtree)(op, t, idx, e,
					fmt_make_leaf(pa, level, op->attrs));
		if (r == -EAGAIN)
			goto retry;
		if (r)
			return r;
		/* Its WALK comes once the map succeeds; the leaf is an
		 * entry added as well. */
		if (dom->cfg.options & IOPGT_OPT_CACHING_MODE)
			pt_gather_range(op->g, iova, iova + sz - 1,
					IOPGT_FLUSH_ADDED, 0, 0);
		/* The leaf took the place of a table entry, which the count
		 * (or the probe) already held: if t was full but for the
		 * subtree, it is full of leaves now and may coalesce, as
		 * if no empty table had stood there. */
		if (level < geo->levels - 1 &&
		    (geo->leaf_levels & (2u << level)) &&
		    !(dom->cfg.options & IOPGT_OPT_NO_COALESCE) &&
		    (counted ? pt_count(t) == pt_nr_entries(geo, level)
			     : PT(may_be_full)(t->va,
					       pt_nr_entries(geo, level), idx)))
			PT(add_cand)(op, level, iova);
		*done = sz;
		return 0;
	}
	if (dom->cfg.options & IOPGT_OPT_CACHING_MODE)
		pt_gather_range(op->g, iova, iova + i * sz - 1,
				IOPGT_FLUSH_ADDED, 0, 0);
	if (pt_st_count(st) == pt_nr_entries(geo, level) &&
	    level < geo->levels - 1 &&
	    (geo->leaf_levels & (2u << level)))
		PT(add_cand)(op, level, iova);
	*done = i * sz;
	return 0;
}

/* Replace the full table t (level L, entry pidx of p) by one superpage if
 * its leaves form one aligned, contiguous run with equal attributes. */
static bool PT(group_contig)(const struct pt_table *t, unsigned g0,
			     unsigned gn, uint64_t sz, uint64_t *base,
			     uint64_t *key, uint64_t *hw);

static bool PT(try_coalesce)(struct pt_op *op, struct pt_table *t,
			     struct pt_table *p, unsigned pidx)
{
	struct iopgt_domain *dom = op->dom;
	const struct pt_geo *geo = &dom->geo;
	unsigned L = t->level, n = pt_nr_entries(geo, L);
	uint64_t sz = PT(size)(geo, L), base, key, hw, old, leaf;
	bool frozen = false;
	int r;

	/* Full, with nobody inside, not frozen (without counts, C is 0 and
	 * the scans decide). */
	const uint64_t want = pt_counted(dom) ? n : 0;

	if (atomic_load_explicit(&t->st, memory_order_relaxed) != want ||
	    pt_pinned(t))
		return false;
again:
	/* The whole table as one group: leaves mapping one contiguous run,
	 * aligned to the next level's size, with equal attributes; the
	 * hardware bits of all of them. */
	if (!PT(group_contig)(t, 0, n, sz, &base, &key, &hw))
		goto fail;
	if (!frozen) {
		/* Freeze, then look again: the first scan raced with writers;
		 * once frozen, no entry of t changes any more. */
		PT_YIELD(dom, PT_Y_COALESCE_SCANNED, L, t->iova);
		if (!pt_freeze(t, want))
			return false;
		/* Without counts, leaves are cleared without a section: the
		 * fence pairs with the clearer's (pt.h, pt_uncounted_options), so
		 * the rescan sees its clear or it sees F. */
		if (!want)
			atomic_thread_fence(memory_order_seq_cst);
		frozen = true;
		goto again;
	}
	PT_YIELD(dom, PT_Y_COALESCE_FROZEN, L, t->iova);
	leaf = fmt_make_leaf(base, L + 1, key) | hw;
	/* The device may still walk t and set a dirty bit in one of its
	 * leaves until the WALK flush of t completes, and that bit would be
	 * lost with t: a superpage over writable leaves starts dirty, so
	 * dirty tracking reports it at worst once too often, never too
	 * rarely. */
	if (FMT_HW_DIRTY != 0 &&
	    (fmt_leaf_prot(leaf, L + 1) & IOPGT_PROT_WRITE))
		leaf |= FMT_HW_DIRTY;
	/* Until t's WALK flush, which may wait in this gather while another
	 * syncs first, the TLB may hold t's leaves (and whatever t's span
	 * may hold) under the superpage: unmaps of it report those sizes. */
	atomic_fetch_or_explicit(
		&p->flags,
		(uint8_t)(PT_F_STALE(L) |
			  (atomic_load_explicit(&t->flags,
						memory_order_relaxed) &
			   ~PT_F_DIRTY)),
		memory_order_relaxed);
	for (;;) {
		old = fmt_make_table(t->pa, L + 1);
		r = pt_replace(p, pidx, &old, leaf);
		if (!r)
			break;
		if (r != -ESTALE)
			goto fail; /* p no longer names t: not ours */
		/* p is frozen: its freezer sees this table entry and gives
		 * up, or finds t frozen and gives up. */
		PT_WAIT_FROZEN(dom, p->level, p->iova);
	}
	t->flags |= PT_F_DIRTY;
	/* Full of leaves, which caches may hold: a WALK over all of t. */
	iopgt__gather_table(dom, op->g, t, false);
	pt_stat_add(&dom->st.coalesced, 1);
	return true;
fail:
	if (frozen) {
		PT_YIELD(dom, PT_Y_COALESCE_GAVE_UP, L, t->iova);
		pt_unfreeze(t);
	}
	return false;
}

/* Does the aligned group of gn entries from g0 of t (level L) map one
 * contiguous run of output, aligned to the whole group, with equal
 * attributes? *base: its first byte; *key: the attributes; *hw: the
 * hardware bits of its entries, OR-ed. */
static bool PT(group_contig)(const struct pt_table *t, unsigned g0,
			     unsigned gn, uint64_t sz, uint64_t *base,
			     uint64_t *key, uint64_t *hw)
{
	const unsigned L = t->level;
	uint64_t e = pt_load(t, g0), h = 0;

	if (!e || fmt_is_table(e, L))
		return false;
	*base = fmt_leaf_pa(e, L);
	*key = fmt_leaf_attrs(e, L);
	if (*base & (gn * sz - 1))
		return false;
	for (unsigned j = 0; j < gn; j++) {
		e = pt_load(t, g0 + j);
		if (!e || fmt_is_table(e, L) ||
		    fmt_leaf_pa(e, L) +
				    ((g0 + j) & ((1u << fmt_leaf_span(e, L)) - 1)) *
					    sz !=
			    *base + j * sz ||
		    fmt_leaf_attrs(e, L) != *key)
			return false;
		h |= e & FMT_HW_BITS;
	}
	*hw = h;
	return true;
}

/* Coalescing within a table (leaf spans): make the leaf holding entry idx
 * of t one of the largest span in use whose aligned group maps one
 * contiguous, aligned run with equal attributes, if that is larger than
 * it is. A group that fails fails every larger one holding it, so the
 * sizes are tried upward. With counts, inside t's exclusive section,
 * which keeps every other writer of t out (each opens a section).
 * Without them, t frozen, as a coalescer freezes it, and the group read
 * after the freeze and a fence: the writers that take sections (range
 * clears at this level, cuts of a group, installs) are kept out by the
 * freeze; a fill without a section writes an empty entry, and a complete
 * group holds none; a single leaf's clear without a section is a
 * compare-and-swap from the leaf it read, then a fence and a read of F
 * (PT(unmap_one)), so either the read below sees the clear and the
 * group is not merged, or the clear sees F, waits for the unfreeze and
 * unmaps its page again if the rewrite mapped it again
 * (PT(clear_met_freeze)); a clear after the rewrite fails its
 * compare-and-swap and cuts the group (the general path). Pinned tables
 * (roots) are not frozen, and not merged without counts. Translations do
 * not change: nothing to flush. Hardware bits set meanwhile in a replaced
 * entry go into every entry of the new leaf, as for a split. */
static void PT(merge_spans)(struct pt_op *op, struct pt_table *t,
			    unsigned idx)
{
	const struct pt_geo *geo = &op->dom->geo;
	const unsigned L = t->level;
	const uint64_t sz = PT(size)(geo, L);
	unsigned set = geo->spans[L], best = 0, k;
	uint64_t base = 0, key = 0, hw = 0, b, kk, h, e;
	const bool counted = pt_counted(op->dom);

	if (counted) {
		if (!pt_open_excl(t))
			return; /* frozen: being unlinked or coalesced */
	} else {
		/* Fails while anybody is inside t or t is frozen (being
		 * unlinked, coalesced or merged by another writer). */
		if (pt_pinned(t) || !pt_freeze(t, 0))
			return;
		pt_fence_sc();
	}
	e = pt_load(t, idx);
	if (!e || fmt_is_table(e, L))
		goto out;
	set &= ~((2u << fmt_leaf_span(e, L)) - 1);
	for (; set; set &= set - 1) {
		k = (unsigned)__builtin_ctz(set);
		if ((1u << k) > t->mask + 1u ||
		    !PT(group_contig)(t, idx & ~((1u << k) - 1), 1u << k, sz,
				      &b, &kk, &h))
			break;
		best = k;
		base = b;
		key = kk;
		hw = h;
		/* The next size's group holds this one: a map that left
		 * its other half empty (the common case) fails at once. */
		if (set & (set - 1)) {
			unsigned kn = (unsigned)__builtin_ctz(set & (set - 1));

			if (!pt_load(t, (idx & ~((1u << kn) - 1)) +
					   (((idx >> k) & 1) ? 0
							     : (1u << k))))
				break;
		}
	}
	if (best) {
		const unsigned gn = 1u << best, g0 = idx & ~(gn - 1);

		PT_YIELD(op->dom, PT_Y_MERGE_SCANNED, L, t->iova);

		PT(write_pieces)(geo, t->va + g0, gn, L, base, key, hw, gn, gn,
				 true);
		/* (Not counted in coalesced: that counts tables replaced,
		 * each with its WALK flush.) */
	}
out:
	if (counted)
		pt_close_excl(t, 0);
	else
		pt_unfreeze(t);
}

/* Coalesce within the table that holds the leaf at iova (leaf spans), if
 * its level has spans in use. */
static void PT(merge_at)(struct pt_op *op, uint64_t iova)
{
	struct iopgt_domain *dom = op->dom;
	struct pt_cur cur;
	uint64_t e;

	PT(cur_root)(dom, &cur);
	e = PT(cur_seek)(dom, &cur, iova, 0);
	if (e && !fmt_is_table(e, cur.level) && dom->geo.spans[cur.level])
		PT(merge_spans)(op, PT(cur_table)(dom, &cur, cur.level),
				cur.idx);
}

/* Coalesce a filled table, then its parents while each one succeeds. */
static void PT(coalesce_cand)(struct pt_op *op, const struct pt_cand *cand)
{
	struct iopgt_domain *dom = op->dom;
	const struct pt_geo *geo = &dom->geo;
	struct pt_cur cur;

	/* Find the table again, recording the walk to it. */
	PT(cur_root)(dom, &cur);
	PT(cur_seek)(dom, &cur, cand->iova, cand->level);
	if (cur.level != cand->level)
		return; /* changed meanwhile: nothing to do */
	unsigned l;

	for (l = cand->level; l < cur.top; l++) {
		if (!(geo->leaf_levels & (2u << l)) ||
		    !PT(try_coalesce)(op, PT(cur_table)(dom, &cur, l),
				      PT(cur_table)(dom, &cur, l + 1),
				      cur.upidx[l + 1]))
			break;
	}
	/* The superpage made may coalesce within its own table (leaf
	 * spans). */
	if (FMT_LEAF_SPANS && l > cand->level &&
	    (geo->span_levels >> l & 1))
		PT(merge_at)(op, cand->iova);
}

static int64_t PT(unmap_walk)(struct pt_op *op, uint64_t iova, uint64_t last);

/* Initialise what every call uses; the arrays are set up when needed. */
static inline void PT(op_init)(struct pt_op *op, struct iopgt_domain *dom,
			       struct iopgt_gather *g)
{
	op->dom = dom;
	op->g = g;
	op->owner = 0;
	op->attrs = 0;
	op->rollback = false;
	op->prune = false;
	op->spares = false;
	op->redo = false;
	op->ncand = 0;
	op->replaced = NULL;
	op->cut_iova = 1;
	op->cut_last = 0;
}

/* The options the single-leaf paths test: none where plain (a constant),
 * the path compiled for the default domain (dom->top.map_path and
 * unmap_path PT_PATH_PLAIN: without counts, reclaiming and coalescing,
 * pt_path_plain), so that those paths make no test of them. */
static inline unsigned PT(hot_options)(const struct iopgt_domain *dom,
				       const bool plain)
{
	pt_assert("a plain path's domain is plain",
		  !plain || pt_path_plain(dom));
	return plain ? 0 : dom->cfg.options;
}

/* The entry after p in its level-0 table, the first after the last: the
 * bits of p + 1 inside the table, those of p above. */
static inline pt_entry_t *PT(l0_next)(const pt_entry_t *p)
{
	const uintptr_t size = sizeof(pt_entry_t) << FMT_BITS;
	const uintptr_t a = (uintptr_t)p;

	return (pt_entry_t *)(a ^ ((a ^ (a + sizeof(*p))) & (size - 1)));
}

/* Map one smallest page where its tables exist already: the common case,
 * kept short and free of the general path's state. Returns 0 or -EEXIST
 * when done, 1 when the general path must do it (a table is missing, a
 * leaf is in the way, or the table was frozen meanwhile); nothing has
 * changed then. *follow: 1 if the page completed its table (with
 * counts); without counts, in a domain that coalesces, the entry written,
 * for the caller's probe (PT(map_probe)). fixed: as for cur_root_k, and
 * the domain is not in caching mode (dom->top.map_path), so that the
 * page's gather, a call, is not there to make the path save registers.
 * plain: as for PT(hot_options). */
static inline __attribute__((always_inline)) int
PT(map_one)(struct iopgt_domain *dom, struct iopgt_gather *g, uint64_t iova,
	    uint64_t pa, uint64_t attrs, uintptr_t *follow, const bool may_p2v,
	    const unsigned fixed, const bool plain)
{
	const unsigned o = PT(hot_options)(dom, plain);
	struct pt_table *t;
	struct pt_cur cur;
	uint64_t st;

	pt_assert("a domain in caching mode takes map's out-of-line paths",
		  !fixed || !(dom->cfg.options & IOPGT_OPT_CACHING_MODE));
	PT(cur_root_k)(dom, &cur, fixed);
	if (PT(cur_leaf_p2v)(dom, &cur, iova, may_p2v, true))
		return cur.level ? 1 : -EEXIST;
	if (cur.level)
		return 1;
	if (plain || !pt_counted(dom)) {
		/* From here on, the entry's address alone: the table's and
		 * the IOVA are found from it where needed (pt_desc,
		 * PT(map_probe)), so that the path keeps few values. */
		pt_entry_t *const p = &cur.va[cur.idx];

		/* The slot is this call's, and nothing else to count. A
		 * store and a fence, not one locked exchange: the entry's line
		 * is shared with neighbours' writers, and a locked operation
		 * on it cost two writers 10-25% of their throughput (bench
		 * writers), where the fence's is on this thread's stack. */
		atomic_store_explicit(p, fmt_make_leaf(pa, 0, attrs),
				      memory_order_relaxed);
		if (!fixed && (dom->cfg.options & IOPGT_OPT_CACHING_MODE))
			pt_gather_range(g, iova, iova + dom->granule_mask,
					IOPGT_FLUSH_ADDED, 0, 0);
		/* In a domain that reclaims, the filler's half of the fence
		 * pair with an unlinker (pt.h); if t is frozen, the caller
		 * follows up out of line (PT(map_met)). */
		if (!(o & IOPGT_OPT_NO_RECLAIM) &&
		    PT(fill_fenced)(dom, pt_desc(dom, p))) {
			*follow = (uintptr_t)p | 2;
			return 0;
		}
		/* The probe for a full table, out of line (PT(map_probe)),
		 * after coalescing within it if the page's pair is mapped
		 * (PT(map_merge)). The probe's first read is here: with the
		 * next entry empty the table is not full, and the call is
		 * saved (a table filled in order always stops here). */
		if (!(o & IOPGT_OPT_NO_COALESCE)) {
			if (FMT_LEAF_SPANS && dom->geo.spans[0] &&
			    /* the pair's other entry: p's index with its
			     * lowest bit flipped (tables are page aligned) */
			    atomic_load_explicit(
				    (pt_entry_t *)((uintptr_t)p ^ sizeof(*p)),
				    memory_order_relaxed))
				*follow = (uintptr_t)pt_desc(dom, p) | 4;
			else if (atomic_load_explicit(PT(l0_next)(p),
						      memory_order_relaxed))
				*follow = (uintptr_t)p;
		}
		return 0;
	}
	t = pt_desc(dom, cur.va); /* level 0 is never the root */
	if (!pt_open(t, 1))
		return 1;
	/* The slot is this call's (writers' ranges are disjoint). */
	atomic_store_explicit(&cur.va[cur.idx], fmt_make_leaf(pa, 0, attrs),
			      memory_order_relaxed);
	st = pt_close(t, 0);
	if (!fixed && (dom->cfg.options & IOPGT_OPT_CACHING_MODE))
		pt_gather_range(g, iova, iova + dom->granule_mask,
				IOPGT_FLUSH_ADDED, 0, 0);
	*follow = pt_st_count(st) == t->mask + 1;
	/* With leaf spans, a page whose neighbour in its pair is mapped may
	 * coalesce with it within the table: tagged 4 with t (descriptors
	 * are 64-byte aligned), for PT(map_merge). */
	if (FMT_LEAF_SPANS && dom->geo.spans[0] &&
	    !(dom->cfg.options & IOPGT_OPT_NO_COALESCE) &&
	    atomic_load_explicit(&cur.va[cur.idx ^ 1], memory_order_relaxed))
		*follow |= (uintptr_t)t | 4;
	return 0;
}

static int PT(coalesce_page)(struct iopgt_domain *dom, struct iopgt_gather *g,
			    uint64_t iova);

/* The single page at iova, just mapped into the level-0 table t inside
 * the walker section w, has its pair's other page mapped: coalesce within
 * t (PT(merge_spans)), leave, and coalesce t itself if the page filled it
 * (full; without counts, if the probe says it may be full). */
static __attribute__((noinline)) int
PT(map_merge)(struct iopgt_domain *dom, struct iopgt_gather *g, uint64_t iova,
	      uintptr_t follow, pt_walk_t w)
{
	struct pt_table *t = (struct pt_table *)(follow & ~(uintptr_t)63);
	struct pt_op op;
	bool full = follow & 1;

	PT(op_init)(&op, dom, g);
	PT(merge_spans)(&op, t, pt_tindex(t, iova));
	if (!pt_counted(dom))
		full = PT(may_be_full)(t->va, t->mask + 1u,
				       pt_tindex(t, iova));
	pt_walk_leave(dom, w);
	if (full && (dom->geo.leaf_levels & 2))
		return PT(coalesce_page)(dom, g, iova);
	return 0;
}

/* Everything but the single-page fast path: runs of leaves re-chosen along
 * the range, rollback on failure, then coalescing. */
static __attribute__((noinline)) int
PT(map_range)(struct iopgt_domain *dom, uint64_t iova, uint64_t pa,
	      uint64_t last, uint64_t attrs, struct iopgt_gather *g, bool redo)
{
	const struct pt_geo *geo = &dom->geo;
	struct pt_op op;
	uint64_t cur = iova, done = 0;
	int r;

	PT(op_init)(&op, dom, g);
	op.attrs = attrs;
	op.redo = redo;
	op.redo_last = last;
	for (;;) {
		uint64_t cpa = pa + (cur - iova);
		unsigned level = PT(pick_level)(geo, cur, cpa, last);

		r = PT(map_run)(&op, cur, cpa, last, level,
				PT(pick_span)(geo, level, cur, cpa, last),
				&done);
		if (r || done > last - cur)
			break;
		cur += done;
	}
	if (r) {
		/* Roll back: clear the leaves this call wrote, then drop the
		 * tables it created that are still empty. */
		op.rollback = true;
		if (cur > iova)
			PT(unmap_walk)(&op, iova, cur - 1);
		if (op.owner && (pt_counted(dom) || pt_uc_reclaim(dom))) {
			op.prune = true;
			PT(unmap_walk)(&op, iova, last);
		}
	}
	while (op.replaced) {
		struct pt_table *c = op.replaced;
		op.replaced = c->next;
		if (r)
			PT(relink)(&op, c);
		else
			PT(gather_subtree)(&op, c);
	}
	if (!r && !(dom->cfg.options & IOPGT_OPT_NO_COALESCE)) {
		for (unsigned k = 0; k < op.ncand; k++)
			PT(coalesce_cand)(&op, &op.cand[k]);
		/* Within tables, the range's ends only: inside it, the map
		 * chose the largest leaves the range allows. */
		if (FMT_LEAF_SPANS && dom->geo.span_levels) {
			PT(merge_at)(&op, iova);
			if ((last ^ iova) > dom->granule_mask)
				PT(merge_at)(&op, last);
		}
	}
	return r;
}

/* The single page at iova, mapped by a call that has left, filled its
 * level-0 table: try to coalesce (the walk starts again at the root). */
static __attribute__((noinline)) int
PT(coalesce_page)(struct iopgt_domain *dom, struct iopgt_gather *g,
		  uint64_t iova)
{
	struct pt_op op;
	struct pt_cand cand = { .level = 0, .iova = iova };
	pt_walk_t w = pt_walk_enter(dom);

	PT(op_init)(&op, dom, g);
	PT(coalesce_cand)(&op, &cand);
	pt_walk_leave(dom, w);
	return 0;
}

/* Without counts, a single page was just written into entry p of a
 * level-0 table, inside the walker section w: probe the table for "full",
 * leave, and try to coalesce if it may be. The page's IOVA is the
 * entry's. */
static __attribute__((noinline)) int
PT(map_probe)(struct iopgt_domain *dom, struct iopgt_gather *g,
	      const pt_entry_t *p, pt_walk_t w)
{
	const unsigned n = pt_nr_entries(&dom->geo, 0);
	const struct pt_table *t = pt_desc(dom, p);
	const unsigned idx = (unsigned)(p - t->va);
	const uint64_t iova = PT(entry_iova)(dom, t, idx);
	bool full = (dom->geo.leaf_levels & 2) &&
		    PT(may_be_full)(t->va, n, idx);

	pt_walk_leave(dom, w);
	return full ? PT(coalesce_page)(dom, g, iova) : 0;
}

/* Without counts, the single page (pa, attrs) was just written into entry
 * p of a level-0 table, inside the walker section w, and the table was
 * found frozen: wait for the freezer, map again if it unlinked the table,
 * and leave. The page's IOVA is the entry's (six arguments: the fast path
 * reaches here by a tail call). */
static __attribute__((noinline)) int
PT(map_met)(struct iopgt_domain *dom, struct iopgt_gather *g, uint64_t pa,
	    uint64_t attrs, const pt_entry_t *p, pt_walk_t w)
{
	struct pt_table *t = pt_desc(dom, p);
	const uint64_t iova = PT(entry_iova)(dom, t, (unsigned)(p - t->va));
	int r = 0;

	if (!PT_BROKEN(dom, PT_HOOK_BREAK_FILL_CHECK) &&
	    PT(fill_met_freeze)(dom, t, iova)) {
		PT(fill_lost)(g, iova, iova + dom->granule_mask,
			      dom->granule_mask + 1);
		r = PT(map_range)(dom, iova, pa, iova + dom->granule_mask,
				  attrs, g, true);
	}
	pt_walk_leave(dom, w);
	return r;
}

/* The general map, a call of its own. */
static __attribute__((noinline)) int
PT(map_general)(struct iopgt_domain *dom, uint64_t iova, uint64_t pa,
		uint64_t last, uint64_t attrs, struct iopgt_gather *g)
{
	pt_walk_t w = pt_walk_enter(dom);
	int r = PT(map_range)(dom, iova, pa, last, attrs, g, false);

	pt_walk_leave(dom, w);
	return r;
}

/* A single page the fast path gave up on (nothing changed), inside its
 * walker section w. */
static __attribute__((noinline)) int
PT(map_page_general)(struct iopgt_domain *dom, uint64_t iova, uint64_t pa,
		     uint64_t attrs, struct iopgt_gather *g, pt_walk_t w)
{
	int r = PT(map_range)(dom, iova, pa, iova + dom->granule_mask, attrs,
			      g, false);

	pt_walk_leave(dom, w);
	return r;
}

/* The single-page path makes no call but tail calls, so that it saves no
 * registers: anything else goes on out of line (a range, a table to
 * create), or (a table to coalesce, which walks again from the root)
 * leaves and starts a call of its own. may_p2v: the walk may call the
 * embedder's phys_to_virt (PT(map_other)); otherwise it is NULL. walk:
 * the walker's kind, a constant (PT_WALK_EPOCH: pt_walk_try_epoch, which
 * on a failed try sends the call to PT(map_general); else
 * pt_walk_enter_sk). */
static inline __attribute__((always_inline)) int
PT(map_body)(struct iopgt_domain *dom, uint64_t iova, uint64_t pa,
	     uint64_t last, uint64_t attrs, struct iopgt_gather *g,
	     const bool may_p2v, const unsigned walk, const unsigned fixed,
	     const bool plain)
{
	uintptr_t follow = 0;
	int r;

	if (last - iova != dom->granule_mask)
		return PT(map_general)(dom, iova, pa, last, attrs, g);
	pt_walk_t w;

	if (walk != PT_WALK_EPOCH)
		w = pt_walk_enter_sk(dom, pt_gshard(g), walk);
	else if (__builtin_expect(!pt_walk_try_epoch(dom, pt_gshard(g), &w),
				  0))
		return PT(map_general)(dom, iova, pa, last, attrs, g);
	r = PT(map_one)(dom, g, iova, pa, attrs, &follow, may_p2v, fixed,
			plain);
	if (r > 0)
		return PT(map_page_general)(dom, iova, pa, attrs, g, w);
	if (FMT_LEAF_SPANS && __builtin_expect(follow & 4, 0))
		return PT(map_merge)(dom, g, iova, follow, w);
	/* follow: 1, the page filled its table (counted); else the entry
	 * written, for the probe of a domain without counts, or, tagged
	 * with bit 1, its table found frozen after the store */
	if (__builtin_expect(follow > 1, 0)) {
		if (follow & 2)
			return PT(map_met)(dom, g, pa, attrs,
					   (const pt_entry_t *)(follow - 2),
					   w);
		return PT(map_probe)(dom, g, (const pt_entry_t *)follow, w);
	}
	pt_walk_leave_k(dom, w, walk);
	if (__builtin_expect(follow, 0) && (dom->geo.leaf_levels & 2) &&
	    !(PT(hot_options)(dom, plain) & IOPGT_OPT_NO_COALESCE))
		return PT(coalesce_page)(dom, g, iova);
	return r;
}

/* Domains of dom->top.other, out of line, each variant a function of its
 * own so that one's calls do not make the others save registers: without
 * a walker (after-flush) and with a walker that calls its strategy (RCU),
 * the same path with that walker; with the embedder's phys_to_virt (or
 * the epoch's walker, here only because a test set a walk hook), the
 * path whose walks call it and whose entry asks the domain. */
static __attribute__((noinline)) int
PT(map_none)(struct iopgt_domain *dom, uint64_t iova, uint64_t pa,
	     uint64_t last, uint64_t attrs, struct iopgt_gather *g)
{
	return PT(map_body)(dom, iova, pa, last, attrs, g, false, PT_WALK_NONE,
			    PT_ROOT_PUBLISHED, false);
}

static __attribute__((noinline)) int
PT(map_call)(struct iopgt_domain *dom, uint64_t iova, uint64_t pa,
	     uint64_t last, uint64_t attrs, struct iopgt_gather *g)
{
	return PT(map_body)(dom, iova, pa, last, attrs, g, false, PT_WALK_CALL,
			    PT_ROOT_PUBLISHED, false);
}

static __attribute__((noinline)) int
PT(map_any)(struct iopgt_domain *dom, uint64_t iova, uint64_t pa,
	    uint64_t last, uint64_t attrs, struct iopgt_gather *g)
{
	return PT(map_body)(dom, iova, pa, last, attrs, g, true, PT_WALK_ANY,
			    PT_ROOT_PUBLISHED, false);
}

/* The epoch's walker, from the published root: a growing domain's. */
static __attribute__((noinline)) int
PT(map_epoch)(struct iopgt_domain *dom, uint64_t iova, uint64_t pa,
	      uint64_t last, uint64_t attrs, struct iopgt_gather *g)
{
	return PT(map_body)(dom, iova, pa, last, attrs, g, false,
			    PT_WALK_EPOCH, PT_ROOT_PUBLISHED, false);
}

/* The hot path's domain with options (dom->top.map_path PT_PATH_OPTS): the
 * same path, which tests them. */
static __attribute__((noinline)) int
PT(map_opts)(struct iopgt_domain *dom, uint64_t iova, uint64_t pa,
	     uint64_t last, uint64_t attrs, struct iopgt_gather *g)
{
	return PT(map_body)(dom, iova, pa, last, attrs, g, false,
			    PT_WALK_EPOCH, PT_ROOT_FIRST, false);
}

/* The hot path's plain domain without a walker (PT_PATH_NOWALK). */
static __attribute__((noinline)) int
PT(map_nowalk)(struct iopgt_domain *dom, uint64_t iova, uint64_t pa,
	       uint64_t last, uint64_t attrs, struct iopgt_gather *g)
{
	return PT(map_body)(dom, iova, pa, last, attrs, g, false, PT_WALK_NONE,
			    PT_ROOT_FIRST, true);
}

/* The same with a strategy's walker that it calls (PT_PATH_CALL). */
static __attribute__((noinline)) int
PT(map_plain_call)(struct iopgt_domain *dom, uint64_t iova, uint64_t pa,
		   uint64_t last, uint64_t attrs, struct iopgt_gather *g)
{
	return PT(map_body)(dom, iova, pa, last, attrs, g, false, PT_WALK_CALL,
			    PT_ROOT_FIRST, true);
}

/* Out of line, entered by a tail call: its call of iopgt__grow would make
 * PT(map) save registers on every path. */
static __attribute__((noinline)) int
PT(map_other)(struct iopgt_domain *dom, uint64_t iova, uint64_t pa,
	      uint64_t last, uint64_t attrs, struct iopgt_gather *g)
{
	if (dom->ias_max && last > pt_top(dom)->last) {
		int r = iopgt__grow(dom, last);

		if (r)
			return r;
	}
	if (dom->cfg.phys_to_virt)
		return PT(map_any)(dom, iova, pa, last, attrs, g);
	if (dom->top.walk == PT_WALK_EPOCH) /* growing, or a test's hook */
		return PT(map_epoch)(dom, iova, pa, last, attrs, g);
	if (dom->top.walk == PT_WALK_NONE)
		return PT(map_none)(dom, iova, pa, last, attrs, g);
	return PT(map_call)(dom, iova, pa, last, attrs, g);
}

/* The paths other than the hot one, chosen out of line: the hot path
 * then tests the path's byte alone, without keeping it. */
static __attribute__((noinline)) int
PT(map_cold)(struct iopgt_domain *dom, uint64_t iova, uint64_t pa,
	     uint64_t last, uint64_t attrs, struct iopgt_gather *g)
{
	if (dom->top.map_path == PT_PATH_OPTS)
		return PT(map_opts)(dom, iova, pa, last, attrs, g);
	if (dom->top.map_path == PT_PATH_NOWALK)
		return PT(map_nowalk)(dom, iova, pa, last, attrs, g);
	if (dom->top.map_path == PT_PATH_CALL)
		return PT(map_plain_call)(dom, iova, pa, last, attrs, g);
	return PT(map_other)(dom, iova, pa, last, attrs, g);
}

static int PT(map)(struct iopgt_domain *dom, uint64_t iova, uint64_t pa,
		   uint64_t last, unsigned prot, struct iopgt_gather *g)
{
	uint64_t attrs;

	if (prot >= 32 || !(attrs = dom->prot_attrs[prot]))
		return -EINVAL;
	if (__builtin_expect(dom->top.map_path != PT_PATH_PLAIN, 0))
		return PT(map_cold)(dom, iova, pa, last, attrs, g);
	return PT(map_body)(dom, iova, pa, last, attrs, g, false,
			    PT_WALK_EPOCH, PT_ROOT_FIRST, true);
}

/* One smallest page, any domain (iopgt_domain.hot). */
static int PT(map_page)(struct iopgt_domain *dom, uint64_t iova, uint64_t pa,
			uint64_t size, unsigned prot, struct iopgt_gather *g)
{
	return PT(map)(dom, iova, pa, iova + (size - 1), prot, g);
}

/* One smallest page on a path of pt_set_paths(): PT(map) without the
 * tests of the length and of the path, which it made; the path's walker
 * and root compiled in. */
static inline __attribute__((always_inline)) int
PT(map_page_root)(struct iopgt_domain *dom, uint64_t iova, uint64_t pa,
		  unsigned prot, struct iopgt_gather *g, const unsigned walk,
		  const unsigned root)
{
	uint64_t attrs;

	if (prot >= 32 || !(attrs = dom->prot_attrs[prot]))
		return -EINVAL;
	return PT(map_body)(dom, iova, pa, iova + dom->granule_mask, attrs, g,
			    false, walk, root, true);
}

static int PT(map_page_plain)(struct iopgt_domain *dom, uint64_t iova,
			      uint64_t pa, uint64_t size, unsigned prot,
			      struct iopgt_gather *g)
{
	(void)size; /* dom->granule_mask + 1 */
	return PT(map_page_root)(dom, iova, pa, prot, g, PT_WALK_EPOCH,
				 PT_ROOT_FIRST);
}

/* ------------------------------------------------------------------------
 * Unmap
 */

/* Are groups merged at level in this domain without counts
 * (pt_uc_excl)? Then a range clear there takes the table's exclusive
 * section, and a single leaf's clear is a compare-and-swap that looks
 * again (PT(merged_back)). */
static inline bool PT(uc_clear_excl)(const struct iopgt_domain *dom,
				     unsigned level)
{
	return FMT_LEAF_SPANS && pt_uc_excl(dom, level);
}

/* May a merge within a table at level have written back what a clear
 * without a section cleared, so that the clear must look again (not in
 * the broken twins of races_merge_clear_uncounted)? */
static inline bool PT(merge_recheck)(const struct iopgt_domain *dom,
				     unsigned level)
{
	return PT(uc_clear_excl)(dom, level) &&
	       !PT_BROKEN(dom, PT_HOOK_BREAK_MERGE_RECHECK);
}

/* Is any entry of t in [iova, last] (clipped to t's span) in use? */
static bool PT(range_used)(const struct pt_table *t, uint64_t iova,
			   uint64_t last)
{
	const uint64_t lo = iova < t->iova ? t->iova : iova;
	const uint64_t n = (last - t->iova) >> t->shift;
	const unsigned end = n > t->mask ? t->mask : (unsigned)n;
	unsigned i = (unsigned)((lo - t->iova) >> t->shift);

	for (; i <= end; i++)
		if (atomic_load_explicit(&t->va[i], memory_order_relaxed))
			return true;
	return false;
}

/* Without counts, this call cleared [iova, last] in t without a section
 * and then found t frozen (pt.h, pt_uncounted_options): a coalescer may have
 * scanned t before the clear. Wait until it gives up (t unfrozen: the
 * clear stands; returns true, and the caller probes t for "empty": an
 * unlinker that froze t meanwhile may have given up on it; false with
 * PT_HOOK_BREAK_WAIT_PROBE) or has
 * replaced t; then what was cleared may be mapped again by the superpage,
 * so unmap the range again from the root (whatever that finds, the bytes
 * were counted by the first clear). A merge within t (PT(merge_spans))
 * also unfreezes t, after writing its group back over the clear if its
 * read came first: an entry of the range found in use once t is unfrozen
 * was mapped again so (writers own their ranges), and the range is
 * unmapped again from the root too. Inside the caller's walker section,
 * so t is not freed meanwhile. */
static __attribute__((noinline)) bool
PT(clear_met_freeze)(struct iopgt_domain *dom, struct iopgt_gather *g,
		     struct pt_table *t, uint64_t iova, uint64_t last)
{
	const unsigned up = t->level + 1;
	const uint64_t named = fmt_make_table(t->pa, up);
	struct pt_op op;
	struct pt_cur cur;

	for (;;) {
		PT_WAIT_FROZEN(dom, t->level, t->iova);
		if (!(atomic_load_explicit(&t->st, memory_order_acquire) &
		      PT_ST_F)) {
			if (PT(merge_recheck)(dom, t->level) &&
			    PT(range_used)(t, iova, last))
				break;
			return !PT_BROKEN(dom, PT_HOOK_BREAK_WAIT_PROBE);
		}
		PT(cur_root)(dom, &cur);
		if (PT(cur_seek)(dom, &cur, iova, up) != named ||
		    cur.level != up)
			break;
	}
	PT(op_init)(&op, dom, g);
	(void)PT(unmap_walk)(&op, iova, last);
	return false;
}

/* After a clear without a section: in a domain that coalesces, the
 * clearer's half of the Dekker pair with a coalescer (true: t is frozen);
 * in one that reclaims, the fence that lets one of two clearers emptying
 * a table together see the other's clear in its probe (pt.h). locked: the
 * clear was this thread's last read-modify-write (a compare-and-swap), so
 * the fence may be the one it made (pt_fence_after_locked). o: the
 * domain's options (PT(hot_options)). */
static inline bool PT(clear_met)(const struct pt_table *t, const bool locked,
				 const unsigned o)
{
	if ((o & IOPGT_OPT_NO_COALESCE) && (o & IOPGT_OPT_NO_RECLAIM))
		return false;
	if (locked)
		pt_fence_after_locked();
	else
		pt_fence_sc();
	return !(o & IOPGT_OPT_NO_COALESCE) &&
	       (atomic_load_explicit(&t->st, memory_order_relaxed) & PT_ST_F);
}

/* After a single leaf's clear without a section (a compare-and-swap) at
 * level, in a domain whose tables merge groups there (pt_uc_excl), and
 * after clear_met found t not frozen: did a merge write the entry p back?
 * A merge that read the group before the clear unfreezes t once it has
 * rewritten it, so the clear's read of F may come after the unfreeze and
 * miss the freeze altogether; the read of F (ordered by this acquire
 * fence) then sees the unfreeze, and the entry read here the rewrite.
 * The caller then follows up as for a frozen t (PT(clear_met_freeze)):
 * the page is unmapped again from the root. */
static inline bool PT(merged_back)(struct iopgt_domain *dom,
				   const pt_entry_t *p, unsigned level)
{
	if (!PT(merge_recheck)(dom, level))
		return false;
	atomic_thread_fence(memory_order_acquire);
	return atomic_load_explicit(p, memory_order_relaxed) != 0;
}

/* Is entry idx of t an item of a leaf spanning several items that
 * reaches past it: below it (hi false), or above it (hi true)? */
static inline bool PT(span_out)(const struct pt_table *t, unsigned idx,
				bool hi)
{
	uint64_t e = pt_load(t, idx);
	unsigned k, m;

	if (!e || fmt_is_table(e, t->level) || !(k = fmt_leaf_span(e, t->level)))
		return false;
	m = (1u << k) - 1;
	return hi ? (idx & m) != m : (idx & m) != 0;
}

/* The runs of entries an unmap cleared in one table, between the holes
 * it passed over, so that the gather gets the entries changed and not
 * the empty ones between (gathered after the table's section closes, so
 * that a policy that flushes at once never does it inside one). Past
 * PT_RUNS runs the last one is widened over the holes. */
#define PT_RUNS 32
struct pt_runs {
	unsigned n;
	unsigned open; /* first entry of the run being cleared; ~0u: none */
	unsigned lo[PT_RUNS], hi[PT_RUNS];
};

static inline void pt_runs_init(struct pt_runs *r)
{
	r->n = 0;
	r->open = ~0u;
}

/* Entry idx was empty: the run before it ends there. */
static inline void pt_runs_hole(struct pt_runs *r, unsigned idx)
{
	if (r->open == ~0u)
		return;
	if (r->n < PT_RUNS) {
		r->lo[r->n] = r->open;
		r->hi[r->n++] = idx - 1;
	} else {
		r->hi[PT_RUNS - 1] = idx - 1;
	}
	r->open = ~0u;
}

/* Entry idx was present and is cleared. */
static inline void pt_runs_leaf(struct pt_runs *r, unsigned idx)
{
	if (r->open == ~0u)
		r->open = idx;
}

/* Four entries from at, cleared: the runs around the empty ones. Returns
 * whether the last run is closed (the fourth was empty). */
static __attribute__((noinline)) bool
pt_runs_four(struct pt_runs *r, unsigned at, uint64_t e0, uint64_t e1,
	     uint64_t e2, uint64_t e3)
{
	const uint64_t e[4] = { e0, e1, e2, e3 };

	for (unsigned j = 0; j < 4; j++) {
		if (e[j])
			pt_runs_leaf(r, at + j);
		else
			pt_runs_hole(r, at + j);
	}
	return r->open == ~0u;
}

/* Gather the runs of t's entries (each of sz bytes) up to entry last as
 * MODIFIED ranges with the hints of t's leaves. A run that ends before it
 * starts (only an overlapping caller, against the rules, can make one: an
 * entry seen present, then read empty) is left out. */
static void PT(gather_runs)(struct pt_op *op, struct pt_runs *r,
			    const struct pt_table *t, uint64_t sz,
			    unsigned last)
{
	uint32_t any;
	const uint64_t sizes = PT(hint)(&op->dom->geo, t, t->level, &any);

	pt_runs_hole(r, last + 1);
	for (unsigned j = 0; j < r->n; j++)
		if (r->lo[j] <= r->hi[j])
			pt_gather_range(op->g,
					PT(entry_iova)(op->dom, t, r->lo[j]),
					PT(entry_iova)(op->dom, t, r->hi[j]) +
						(sz - 1),
					IOPGT_FLUSH_MODIFIED, sizes, any);
}

/* Clear [iova, last] inside table t. Leaves must lie wholly inside (the
 * caller split the ends first); a leaf that does not is -EAGAIN, and so is
 * a table frozen under us by a coalesce. *emptied: this call brought t's
 * count to zero. In prune mode leaves are kept and only empty tables owned
 * by the call are unlinked. */
static int PT(unmap_table)(struct pt_op *op, struct pt_table *t, uint64_t iova,
			   uint64_t last, uint64_t *bytes, bool *emptied)
{
	unsigned lvl = t->level, shift = t->shift;
	uint64_t sz = UINT64_C(1) << shift, base = t->iova;
	unsigned i = pt_tindex(t, iova), end = pt_tindex(t, last);
	const unsigned i0 = i, end0 = end;
	uint64_t st = UINT64_MAX; /* t's state after this call's last change */
	const bool counted = pt_counted(op->dom);
	/* Level 0's clears take t's exclusive section with counts, and
	 * without them where coalescing within t rewrites groups of it
	 * (pt_uc_excl). */
	const bool excl = counted || (!lvl && PT(uc_clear_excl)(op->dom, 0));
	int r;

	/* A leaf of several items at either end must lie wholly inside too:
	 * clearing part of its group would leave replicas that map what was
	 * unmapped. The ends' split rewrote such a group; one found here
	 * (inside the exclusive section, where no coalescing within t can
	 * make one) is one made since (start again, and split). */
	const bool spans = FMT_LEAF_SPANS && !op->prune &&
			   op->dom->geo.spans[lvl] &&
			   !PT_BROKEN(op->dom, PT_HOOK_BREAK_SPAN_CUT);

	if (!lvl) {
		/* Only leaves here, each inside the range: one pass inside the
		 * exclusive section clears what is present. */
		pt_entry_t *p = t->va;
		unsigned first = 0, lastc = 0;
		struct pt_runs runs;
		uint32_t k = 0;

		*emptied = false;
		if (op->prune)
			return 0;
		if (excl && !pt_open_excl(t)) {
			PT_WAIT_FROZEN(op->dom, t->level, t->iova);
			return -EAGAIN;
		}
		if (spans &&
		    (PT(span_out)(t, i, false) || PT(span_out)(t, end, true))) {
			if (excl)
				pt_close_excl(t, 0);
			return -EAGAIN;
		}
		/* The first and the last entry present, then everything
		 * between without a branch per entry: nobody else writes an
		 * entry of t while X is set (opens wait; the hardware sets
		 * A/D bits in present entries only), so storing zero over an
		 * empty entry changes nothing. Without counts there is no X,
		 * but these entries are this call's alone and level 0 holds
		 * no table entry: a caller that breaks the rule and maps
		 * into the range meanwhile may lose that page, nothing
		 * more. */
		while (i <= end &&
		       !atomic_load_explicit(&p[i], memory_order_relaxed))
			i++;
		while (end > i &&
		       !atomic_load_explicit(&p[end], memory_order_relaxed))
			end--;
		first = i;
		lastc = end;
		pt_runs_init(&runs);
		if (i <= end) {
			pt_entry_t *q = p + i, *qe = p + end;
			/* Whether the run is closed (after a hole): the one
			 * test the loop makes besides its count. */
			bool closed = false;

			runs.open = i;
			/* Four at a time, the four counts added as a tree:
			 * one add an entry into one count would be a chain
			 * of dependent adds that sets the pace of the whole
			 * loop. */
			for (; qe - q >= 3; q += 4) {
				uint64_t e0 = atomic_load_explicit(
					&q[0], memory_order_relaxed);
				uint64_t e1 = atomic_load_explicit(
					&q[1], memory_order_relaxed);
				uint64_t e2 = atomic_load_explicit(
					&q[2], memory_order_relaxed);
				uint64_t e3 = atomic_load_explicit(
					&q[3], memory_order_relaxed);
				uint32_t c4;

				atomic_store_explicit(&q[0], 0,
						      memory_order_relaxed);
				atomic_store_explicit(&q[1], 0,
						      memory_order_relaxed);
				atomic_store_explicit(&q[2], 0,
						      memory_order_relaxed);
				atomic_store_explicit(&q[3], 0,
						      memory_order_relaxed);
				c4 = (uint32_t)((e0 != 0) + (e1 != 0)) +
				     (uint32_t)((e2 != 0) + (e3 != 0));
				k += c4;
				/* A hole among the four, or after a hole: the
				 * runs around it (rare in unmaps of what was
				 * mapped), out of line. */
				if (__builtin_expect(c4 != 4 || closed, 0))
					closed = pt_runs_four(
						&runs, (unsigned)(q - p), e0,
						e1, e2, e3);
			}
			for (; q <= qe; q++) {
				uint64_t e = atomic_load_explicit(
					q, memory_order_relaxed);
				atomic_store_explicit(q, 0,
						      memory_order_relaxed);
				k += e != 0;
				if (e)
					pt_runs_leaf(&runs, (unsigned)(q - p));
				else
					pt_runs_hole(&runs, (unsigned)(q - p));
			}
		}
		st = counted ? pt_close_excl(t, k)
		     : excl  ? (pt_close_excl(t, 0), 1)
			     : 1;
		if (k) {
			*bytes += k * sz;
			PT(gather_runs)(op, &runs, t, sz, lastc);
			/* Without counts: the clearer's half of the Dekker
			 * pair with a coalescer, then the probe for an
			 * emptied table (pt.h). */
			bool stands = true; /* false: t was replaced */

			if (!counted &&
			    PT(clear_met)(t, false, op->dom->cfg.options))
				stands = PT(clear_met_freeze)(
					op->dom, op->g, t, base + first * sz,
					base + (lastc + 1) * sz - 1);
			if (stands && !counted && pt_uc_reclaim(op->dom) &&
			    PT(may_be_empty)(p, t->mask + 1u, first, lastc))
				st = 0;
			*emptied = st == 0;
		} else if (!counted && pt_uc_reclaim(op->dom)) {
			/* Nothing to clear: t may have been empty before
			 * (kept for reuse); the unmap passes through it, so
			 * it goes too, as with counts. */
			*emptied = PT(may_be_empty)(p, t->mask + 1u, i0, end0);
		}
		return 0;
	}
	/* Upper levels: the leaves in one pass inside the exclusive section,
	 * up to the next table entry, which is unmapped below, outside the
	 * section; and so on. In prune mode leaves are kept. */
	/* Only the range's first and last entries can hold a leaf that
	 * sticks out of it. */
	const unsigned out_lo = PT(entry_iova)(op->dom, t, i) < iova ? i : ~0u;
	const unsigned out_hi =
		PT(entry_iova)(op->dom, t, end) + (sz - 1) > last ? end : ~0u;
	const bool prune = op->prune;
	while (i <= end) {
		pt_entry_t *p = t->va;
		unsigned first = end + 1, lastc = 0;
		uint32_t k = 0;
		struct pt_table *c;
		uint64_t e = 0, s;
		bool ce = false, straddle = false;
		struct pt_runs runs;

		pt_runs_init(&runs);

		/* The exclusive section, with or without counts: it keeps
		 * installs and splits (shared sections) out while leaves are
		 * cleared with plain stores, and orders this call after the
		 * installs of the children it descends into. Without counts
		 * it counts nothing (k = 0 at the close). */
		if (!pt_open_excl(t)) {
			/* Frozen by a coalesce (or, without counts, by an
			 * overlapping superpage map): start again from the
			 * root. */
			PT_WAIT_FROZEN(op->dom, t->level, t->iova);
			return -EAGAIN;
		}
		if (spans && ((i == i0 && PT(span_out)(t, i0, false)) ||
			      PT(span_out)(t, end0, true))) {
			pt_close_excl(t, 0);
			return -EAGAIN;
		}
		for (; i <= end; i++) {
			e = atomic_load_explicit(&p[i], memory_order_relaxed);
			if (!e)
				continue;
			if (fmt_is_table(e, lvl))
				break;
			if (prune)
				continue;
			if (__builtin_expect(i == out_lo || i == out_hi, 0)) {
				straddle = true;
				break;
			}
			/* From the first leaf to clear on, the entries up to
			 * the last one (or the one before, if that one may
			 * stick out) need no check but "a table entry?". */
			const unsigned stop = out_hi == end ? end - 1 : end;
			if (first > end)
				first = i;
			pt_runs_leaf(&runs, i);
			atomic_store_explicit(&p[i], 0, memory_order_relaxed);
			k++;
			lastc = i;
			for (i++; i <= stop; i++) {
				e = atomic_load_explicit(&p[i],
							 memory_order_relaxed);
				if (!e) {
					pt_runs_hole(&runs, i);
					continue;
				}
				if (fmt_is_table(e, lvl))
					break;
				pt_runs_leaf(&runs, i);
				atomic_store_explicit(&p[i], 0,
						      memory_order_relaxed);
				k++;
				lastc = i;
			}
			if (i <= stop)
				break; /* at a table entry */
			i--; /* the outer loop looks at the rest */
		}
		st = pt_close_excl(t, counted ? k : 0);
		if (!counted)
			st = 1; /* no count: never "emptied" */
		if (k) {
			*bytes += k * sz;
			PT(gather_runs)(op, &runs, t, sz, lastc);
		}
		if (straddle)
			return -EAGAIN; /* a leaf the ends' split missed */
		if (i > end)
			break;
		c = PT(child)(op->dom, e, lvl);
		s = PT(entry_iova)(op->dom, t, i);
		r = PT(unmap_table)(op, c, s < iova ? iova : s,
				    last - s < sz - 1 ? last : s + (sz - 1),
				    bytes, &ce);
		if (r)
			return r;
		/* Without counts, ce is the child's probe (in prune mode, the
		 * owner alone), and the unlink's scan decides. */
		if (op->prune)
			ce = c->owner == op->owner && (!counted || !pt_count(c));
		else if (counted && !ce)
			/* Empty before this call (kept for reuse): the unmap
			 * passes through it, so it goes too. */
			ce = !atomic_load_explicit(&c->st,
						   memory_order_relaxed);
		if (ce)
			PT(unlink_empty)(op, t, i, c, &st);
		i++;
	}
	*emptied = st == 0;
	/* Without counts, st says nothing (1) but after an unlink: the
	 * table may be empty once its range is unmapped, and a probe tells. */
	if (!counted && !*emptied && pt_uc_reclaim(op->dom) &&
	    !pt_pinned(t)) {
		pt_fence_sc(); /* as after any clear (above) */
		*emptied = PT(may_be_empty)(t->va, t->mask + 1u, i0, end0);
	}
	return 0;
}

/* Rewrite the leaf of 2^k items that e (at lvl, entry idx of t) belongs to
 * as smaller leaves none of which straddles addr: the largest aligned
 * spans in use, and single items; the item holding addr alone if addr is
 * not on an item's edge (the caller then splits that item into a table).
 * Inside t's exclusive section, which keeps other writers out of t (an
 * unmap of another part of the same leaf waits, then finds it rewritten).
 * Every address translates as before, so nothing is flushed. The hardware
 * may set A/D in any replica until the rewrite: each bit set in one goes
 * into every new leaf (a dirty bit is reported at worst too often, never
 * lost). 0; -EAGAIN if the group changed (look again); -ESTALE if t is
 * frozen. */
static int PT(span_split)(struct pt_op *op, struct pt_table *t, unsigned idx,
			  uint64_t e, unsigned lvl, uint64_t addr)
{
	const struct pt_geo *geo = &op->dom->geo;
	const unsigned k = fmt_leaf_span(e, lvl), gn = 1u << k;
	const unsigned g0 = idx & ~(gn - 1), sh = pt_shift(geo, lvl);
	const uint64_t pa0 = fmt_leaf_pa(e, lvl), attrs = fmt_leaf_attrs(e, lvl);
	const uint64_t want = fmt_make_leaf_span(pa0, lvl, k, attrs) &
			      ~FMT_HW_BITS;
	const uint64_t step = fmt_span_step(lvl, k);
	/* The new leaves' edges: the item holding addr starts at cut; cut2
	 * is its end if addr is inside it, else cut again. */
	const unsigned cut = (unsigned)(addr >> sh) & (gn - 1);
	const unsigned cut2 = (addr & ((UINT64_C(1) << sh) - 1)) ? cut + 1 : cut;
	uint64_t hw = 0;
	unsigned j;

	if (!pt_open_excl(t))
		return -ESTALE;
	for (j = 0; j < gn; j++) {
		uint64_t x = pt_load(t, g0 + j);

		if ((x & ~FMT_HW_BITS) != ((want + j * step) & ~FMT_HW_BITS)) {
			pt_close_excl(t, 0);
			return -EAGAIN;
		}
		hw |= x & FMT_HW_BITS;
	}
	PT(write_pieces)(geo, t->va + g0, gn, lvl, pa0, attrs, hw, cut, cut2,
			 true);
	pt_close_excl(t, 0);
	pt_stat_add(&op->dom->st.split, 1);
	return 0;
}

/* Split leaves so that none straddles addr. Spare tables come from op. */
/* A leaf of size bytes at base was split (or its group rewritten) by an
 * unmap: the part of it the unmap clears may be cached at that size, so
 * it joins the gather with it (sizes: that size and the stale sizes of
 * its table; any: IOPGT_RANGE_ANY_SIZE for a group). */
static void PT(gather_cut)(struct pt_op *op, uint64_t base, uint64_t size,
			   uint64_t sizes, uint32_t any)
{
	uint64_t lo = base > op->cut_iova ? base : op->cut_iova;
	uint64_t hi = base + (size - 1) < op->cut_last ? base + (size - 1)
						       : op->cut_last;

	if (lo <= hi)
		pt_gather_range(op->g, lo, hi, IOPGT_FLUSH_MODIFIED, sizes,
				any);
}

static int PT(split_at)(struct pt_op *op, uint64_t addr)
{
	struct iopgt_domain *dom = op->dom;
	const struct pt_geo *geo = &dom->geo;
	struct pt_cur cur;

	PT(cur_root)(dom, &cur);
	for (;;) {
		uint64_t e = PT(cur_seek)(dom, &cur, addr, 0), old, sz;
		unsigned lvl = cur.level, n;
		struct pt_table *c, *t;
		int r;

		if (!e)
			return 0;
		/* A leaf of several items with addr inside: rewrite its group
		 * first, then look again (at the item holding addr, if addr
		 * is not on an item's edge). */
		if (FMT_LEAF_SPANS && PT(span_cut)(dom, e, lvl, addr)) {
			const uint64_t gsz = PT(size)(geo, lvl)
					     << fmt_leaf_span(e, lvl);

			struct pt_table *st = PT(cur_table)(dom, &cur, lvl);

			r = PT(span_split)(op, st, cur.idx, e, lvl, addr);
			if (!r)
				PT(gather_cut)(op, addr & ~(gsz - 1), gsz,
					       gsz | PT(stale_sizes)(geo, st),
					       IOPGT_RANGE_ANY_SIZE);
			if (r == -ESTALE) {
				PT_WAIT_FROZEN(dom, lvl, addr);
				PT(cur_root)(dom, &cur);
			}
			continue;
		}
		/* A level-0 leaf of one item (addr is granule aligned, so one
		 * never straddles it). */
		if (!lvl)
			return 0;
		sz = PT(size)(geo, lvl);
		if (!(addr & (sz - 1)))
			return 0;
		c = op->spare[lvl - 1];
		if (c)
			op->spare[lvl - 1] = c->next;
		else if (!(c = iopgt__table_alloc(dom, lvl - 1, 0)))
			return -ENOMEM;
		c->next = NULL;
		c->iova = addr & ~(sz - 1);
		n = pt_nr_entries(geo, lvl - 1);
		if (FMT_LEAF_SPANS && geo->spans[lvl - 1]) {
			/* As large leaves as the level's spans allow around
			 * addr (and the item holding it, if it is inside
			 * one). */
			const unsigned sh = pt_shift(geo, lvl - 1);
			const unsigned cut = (unsigned)(addr >> sh) & (n - 1);

			PT(write_pieces)(geo, c->va, n, lvl - 1,
					 fmt_leaf_pa(e, lvl),
					 fmt_leaf_attrs(e, lvl),
					 e & FMT_HW_BITS, cut,
					 addr & ((UINT64_C(1) << sh) - 1)
						 ? cut + 1
						 : cut,
					 false);
			atomic_store_explicit(&c->st, pt_counted(dom) ? n : 0,
					      memory_order_relaxed);
		} else {
			pt_init_run(c, 0, n,
				    fmt_make_leaf(fmt_leaf_pa(e, lvl), lvl - 1,
						  fmt_leaf_attrs(e, lvl)) |
					    (e & FMT_HW_BITS),
				    fmt_leaf_step(lvl - 1),
				    pt_counted(dom) ? n : 0);
		}
		t = PT(cur_table)(dom, &cur, lvl);
		/* Until the split's flush, which may wait in this gather while
		 * another syncs first, the TLB may hold the leaf's size (and
		 * any that t's span may hold) for every entry of c. */
		atomic_store_explicit(
			&c->flags,
			(uint8_t)((atomic_load_explicit(&c->flags,
							memory_order_relaxed) &
				   PT_F_DIRTY) |
				  (atomic_load_explicit(&t->flags,
							memory_order_relaxed) &
				   ~PT_F_DIRTY) |
				  PT_F_STALE(lvl)),
			memory_order_relaxed);
		old = e;
		r = pt_replace(t, cur.idx, &old, fmt_make_table(c->pa, lvl));
		if (r) {
			/* The hardware set a bit, another unmap split it, or
			 * t is frozen (a coalesce is replacing it: start
			 * again from the root): empty the spare, look again. */
			pt_init_run(c, 0, n, 0, 0, 0);
			c->next = op->spare[lvl - 1];
			op->spare[lvl - 1] = c;
			if (r == -ESTALE) {
				PT_WAIT_FROZEN(dom, t->level, t->iova);
				PT(cur_root)(dom, &cur);
			}
			continue;
		}
		pt_stat_add(&dom->st.split, 1);
		PT(gather_cut)(op, addr & ~(sz - 1), sz,
			       sz | PT(stale_sizes)(geo, t), 0);
		cur.e = fmt_make_table(c->pa, lvl);
		PT(cur_down)(dom, &cur);
	}
}

/* The tables a leaf at lvl needs to be split down to where addr is a
 * leaf boundary. */
static inline void PT(count_split_leaf)(const struct pt_geo *geo, unsigned lvl,
					uint64_t addr,
					unsigned need[PT_MAX_LEVELS])
{
	while (lvl > 0 && (addr & (PT(size)(geo, lvl) - 1)))
		need[--lvl]++;
}

/* How many tables per level splitting at addr needs, walking on from the
 * cursor; read-only. *cut: a leaf of several items must be rewritten. */
static void PT(count_split)(struct pt_op *op, struct pt_cur cur, uint64_t addr,
			    unsigned need[PT_MAX_LEVELS], bool *cut)
{
	uint64_t e = PT(cur_seek)(op->dom, &cur, addr, 0);

	if (e) {
		*cut |= PT(span_cut)(op->dom, e, cur.level, addr);
		PT(count_split_leaf)(&op->dom->geo, cur.level, addr, need);
	}
}

/* count_split for both a and b (a < b), sharing the walk while their paths
 * do. Returns the total number of tables needed. */
static unsigned PT(count_split2)(struct pt_op *op, uint64_t a, uint64_t b,
				 bool has_b, unsigned need[PT_MAX_LEVELS],
				 bool *cut)
{
	const struct iopgt_domain *dom = op->dom;
	const struct pt_geo *geo = &dom->geo;
	unsigned total = 0;
	struct pt_cur cur;

	PT(cur_root)(dom, &cur);
	for (;;) {
		unsigned lvl = cur.level;
		uint64_t e;

		if (!has_b || pt_index(geo, lvl, b) != pt_index(geo, lvl, a)) {
			PT(count_split)(op, cur, a, need, cut);
			if (has_b)
				PT(count_split)(op, cur, b, need, cut);
			break;
		}
		e = PT(cur_load)(dom, &cur, a);
		if (!e)
			break;
		if (!fmt_is_table(e, lvl)) {
			/* One leaf holds both ends: they share each table
			 * its split needs while they lie in the same entry
			 * of the level above. */
			*cut |= PT(span_cut)(dom, e, lvl, a) ||
				PT(span_cut)(dom, e, lvl, b);
			while (lvl > 0) {
				uint64_t m = PT(size)(geo, lvl) - 1;
				bool na = a & m, nb = b & m;

				if (!na && !nb)
					break;
				if (!na || !nb || (a & ~m) != (b & ~m)) {
					PT(count_split_leaf)(geo, lvl, a, need);
					PT(count_split_leaf)(geo, lvl, b, need);
					break;
				}
				need[--lvl]++;
			}
			break;
		}
		PT(cur_down)(dom, &cur);
	}
	for (unsigned l = 0; l < PT_MAX_LEVELS; l++)
		total += need[l];
	return total;
}

static void PT(free_spares)(struct pt_op *op)
{
	if (!op->spares)
		return;
	for (unsigned l = 0; l < PT_MAX_LEVELS; l++) {
		while (op->spare[l]) {
			struct pt_table *c = op->spare[l];
			op->spare[l] = c->next;
			iopgt__table_free_unpublished(op->dom, c);
		}
	}
}

/* Split both ends of [iova, last] with every table allocated up front, so
 * that an allocation failure changes nothing. */
static int PT(split_ends)(struct pt_op *op, uint64_t iova, uint64_t last)
{
	const struct iopgt_domain *dom = op->dom;
	unsigned need[PT_MAX_LEVELS] = { 0 };
	/* last + 1 lies beyond the input space (or its lower half, or
	 * wraps): no leaf can straddle it. */
	bool top = last == UINT64_MAX ||
		   ((last + 1 + dom->in_bias) & dom->ias_mask);
	bool cut = false;
	int r;

	if (!PT(count_split2)(op, iova, last + 1, !top, need, &cut) && !cut)
		return 0; /* no leaf straddles either end */
	if (!op->spares) {
		pt_memset(op->spare, 0, sizeof(op->spare));
		op->spares = true;
	}
	for (unsigned l = 0; l < PT_MAX_LEVELS; l++) {
		while (need[l]--) {
			struct pt_table *c = iopgt__table_alloc(op->dom, l, 0);
			if (!c) {
				PT(free_spares)(op);
				return -ENOMEM;
			}
			c->next = op->spare[l];
			op->spare[l] = c;
		}
	}
	op->cut_iova = iova;
	op->cut_last = last;
	r = PT(split_at)(op, iova);
	if (!r && !top)
		r = PT(split_at)(op, last + 1);
	op->cut_iova = 1;
	op->cut_last = 0;
	return r;
}

/* Descend to the lowest table that holds all of [iova, last]; the cursor
 * stands on it and records the walk. Returns false if nothing is mapped
 * there. *need_split is set if a leaf straddles an end of the range. */
static bool PT(descend_range)(struct pt_op *op, uint64_t iova, uint64_t last,
			      struct pt_cur *cur, bool *need_split)
{
	const struct iopgt_domain *dom = op->dom;
	const struct pt_geo *geo = &dom->geo;

	*need_split = false;
	PT(cur_root)(dom, cur);
	while (cur->level > 0) {
		unsigned shift = pt_shift(geo, cur->level);
		uint64_t e, sz;

		if (iova >> shift != last >> shift)
			break; /* the range spans entries of this table */
		e = PT(cur_load)(dom, cur, iova);
		if (!e)
			return false;
		if (fmt_is_table(e, cur->level)) {
			PT(cur_down)(dom, cur);
			continue;
		}
		/* One leaf holds the whole range: it must lie inside it. */
		sz = PT(size)(geo, cur->level) << fmt_leaf_span(e, cur->level);
		*need_split = (iova & (sz - 1)) || ((last + 1) & (sz - 1));
		return true;
	}
	if (cur->level > 0 || FMT_LEAF_SPANS) {
		/* The ends lie in different entries of the table: a leaf
		 * straddles one if the entry holding it is a leaf larger than
		 * the alignment of that end (at level 0, only a leaf of
		 * several items can). */
		unsigned need[PT_MAX_LEVELS] = { 0 };
		uint64_t span = pt_table_span(geo, cur->level);
		bool cut = false;

		PT(count_split)(op, *cur, iova, need, &cut);
		if (!span || (last | (span - 1)) != last)
			PT(count_split)(op, *cur, last + 1, need, &cut);
		for (unsigned l = 0; l < cur->level; l++)
			*need_split |= need[l] != 0;
		*need_split |= cut;
	}
	return true;
}

/* Unmap (or, in prune mode, drop empty owned tables) over [iova, last];
 * the caller is a counted walker. */
static int64_t PT(unmap_walk)(struct pt_op *op, uint64_t iova, uint64_t last)
{
	struct iopgt_domain *dom = op->dom;
	struct pt_table *t;
	struct pt_cur cur;
	uint64_t bytes = 0;
	bool emptied, need_split;
	int r;

	if (op->prune) {
		/* Rare (a failed map): walk the whole range from the root. */
		do {
			r = PT(unmap_table)(op, pt_top(op->dom)->t, iova,
					    last, &bytes, &emptied);
		} while (r == -EAGAIN);
		return r;
	}
	for (;;) {
		if (!PT(descend_range)(op, iova, last, &cur, &need_split)) {
			r = 0;
			break;
		}
		t = PT(cur_table)(dom, &cur, cur.level);
		if (need_split) {
			r = PT(split_ends)(op, iova, last);
			if (r)
				break;
			continue; /* walk again through the new tables */
		}
		emptied = false;
		r = PT(unmap_table)(op, t, iova, last, &bytes, &emptied);
		if (r == -EAGAIN) {
			pt_relax();
			continue;
		}
		/* Unlink the tables this call emptied, upward. (A table left
		 * empty by an earlier attempt that had to start again counts:
		 * the freeze at zero decides.) */
		if (!emptied && !pt_pinned(t) && !op->prune &&
		    pt_counted(dom))
			emptied = !atomic_load_explicit(&t->st,
							memory_order_relaxed);
		if (emptied && !pt_pinned(t)) {
			PT_YIELD(dom, PT_Y_CLEAR_PROBED, t->level, t->iova);
			if (PT(park)(op, t))
				emptied = false;
		}
		for (unsigned l = t->level + 1; emptied && l <= cur.top;
		     l++) {
			uint64_t st = 1;
			struct pt_table *p = PT(cur_table)(dom, &cur, l);
			PT(unlink_empty)(op, p, cur.upidx[l], t, &st);
			emptied = st == 0;
			t = p;
		}
		break;
	}
	PT(free_spares)(op);
	if (r && bytes == 0)
		return r;
	return (int64_t)bytes;
}

/* The single leaf unmapped from t emptied it: unlink the tables it
 * emptied, upward along the walk. */
static __attribute__((noinline)) void
PT(unlink_up)(struct iopgt_domain *dom, struct iopgt_gather *g,
	      uint64_t iova, struct pt_table *t)
{
	struct pt_op op;
	struct pt_cur cur;
	uint64_t st = 0;

	PT(op_init)(&op, dom, g);
	PT_YIELD(dom, PT_Y_CLEAR_PROBED, t->level, t->iova);
	if (PT(park)(&op, t))
		return;
	/* The fast path kept no path: walk to t again, recording it (only
	 * this call changes iova's tables, so the walk ends at t). */
	PT(cur_root)(dom, &cur);
	PT(cur_seek)(dom, &cur, iova, t->level);
	if (cur.level != t->level || pt_desc(dom, cur.va) != t)
		return;
	for (unsigned l = t->level + 1; !st && l <= cur.top; l++) {
		struct pt_table *p = PT(cur_table)(dom, &cur, l);
		st = 1;
		PT(unlink_empty)(&op, p, cur.upidx[l], t, &st);
		t = p;
	}
}

/* Clear the one entry idx of t, at level, which the caller's walk read as
 * a leaf of one item, inside t's exclusive section. False, with nothing
 * cleared, if t is frozen or the entry is no longer such a leaf: an item
 * of a group (coalescing within t made it one after the walk read it) or
 * a table entry. Only an overlapping caller can have put a table there
 * since the walk (a split of the leaf, or an install after unmapping it),
 * and clearing that entry would cut the table loose: still live, never
 * gathered, and with walkers inside it that would wait for good on its
 * parent once that is unlinked. The general path (false) unmaps whatever
 * is there. *old: the entry cleared (0 if it was empty). */
static inline bool PT(clear_item)(struct iopgt_domain *dom,
				  struct pt_table *t, unsigned level,
				  unsigned idx, uint64_t *st, uint64_t *old,
				  bool counted)
{
	uint64_t x;

	(void)dom;
	if (!pt_open_excl(t))
		return false;
	x = pt_load(t, idx);
	if (x && ((fmt_is_table(x, level) &&
		   !PT_BROKEN(dom, PT_HOOK_BREAK_LEAF_CLEAR)) ||
		  (FMT_LEAF_SPANS && fmt_leaf_span(x, level)))) {
		pt_close_excl(t, 0);
		return false;
	}
	atomic_store_explicit(&t->va[idx], 0, memory_order_relaxed);
	*st = pt_close_excl(t, counted && x != 0);
	*old = x;
	return true;
}

/* Unmap exactly one leaf, of any size, or nothing: the common cases, kept
 * short. [iova, last] must be one leaf's span: what iova's walk reaches
 * is then either an empty entry whose span holds the whole range (nothing
 * mapped: 0), or the leaf itself, cleared in its table's exclusive
 * section. Returns the bytes unmapped, or -1 when the general path must
 * do it (a larger leaf to split, smaller leaves, a table being installed
 * or frozen); nothing has changed then. */
static inline __attribute__((always_inline)) int64_t
PT(unmap_one)(struct iopgt_domain *dom, struct iopgt_gather *g, uint64_t iova,
	      uint64_t last, const bool granule, struct pt_table **follow,
	      const bool may_p2v, const unsigned fixed, const bool plain)
{
	const unsigned o = PT(hot_options)(dom, plain);
	struct pt_table *t;
	struct pt_cur cur;
	uint64_t st, span, was;

	PT(cur_root_k)(dom, &cur, fixed);
	if (!PT(cur_leaf_p2v)(dom, &cur, iova, may_p2v, granule)) {
		/* An empty entry: nothing mapped in its span */
		return !granule && (iova ^ last) >> cur.shift ? -1 : 0;
	}
	if (granule) {
		/* the constant case: a level-0 leaf, never in the root */
		if (cur.level)
			return -1; /* a superpage: split it */
		span = dom->granule_mask + 1;
		/* (a page of at most 64 KiB: the return value is positive,
		 * and the caller's test for an error is known false) */
		if ((int64_t)span <= 0)
			__builtin_unreachable();
		t = pt_desc(dom, cur.va);
		if (FMT_LEAF_SPANS && fmt_leaf_span(cur.e, 0) &&
		    !PT_BROKEN(dom, PT_HOOK_BREAK_SPAN_CUT)) {
			/* An item of a group: PT(unmap_item), with counts or
			 * where the clears take the exclusive section */
			if (!pt_counted(dom) && !pt_uc_excl(dom, 0))
				return -1;
			*follow = t;
			return -2;
		}
	} else {
		span = UINT64_C(1) << cur.shift;
		if (last - iova != span - 1 ||
		    fmt_leaf_span(cur.e, cur.level))
			return -1; /* a superpage to split, smaller leaves */
		t = PT(cur_table)(dom, &cur, cur.level);
	}
	if (plain || __builtin_expect(!pt_counted(dom), 0)) {
		/* No section, no count: the leaf is this call's. Level 0
		 * holds no table entry, so a store clears it; above, a
		 * compare-and-swap, so that an overlapping caller's split of
		 * the leaf (a table entry) is never overwritten and lost, and
		 * at level 0 too where groups are merged, so that a group
		 * rewritten since the walk is never cut by one store. */
		uint64_t old = cur.e;
		bool locked = false;

		if (granule && !PT(uc_clear_excl)(dom, 0)) {
			/* A store and clear_met's fence, not a locked
			 * exchange on a line neighbours write (PT(map_one)).
			 * The out-of-line follow-up below takes the entry's
			 * address alone and finds the table from it. */
			pt_entry_t *const p = &cur.va[cur.idx];

			atomic_store_explicit(p, 0, memory_order_relaxed);
			/* A range the gather cannot take in line (any but a
			 * batch's first, or one whose table has stale sizes
			 * to name): out of line, with the rest
			 * (PT(unmap_page_gather)), so that no call is left
			 * here for the path to save registers around. */
			if ((atomic_load_explicit(&t->flags,
						  memory_order_relaxed) >>
			     PT_F_STALE_SHIFT) ||
			    !pt_gather_range_first(g, iova, last,
						   IOPGT_FLUSH_MODIFIED, span,
						   0)) {
				*follow = (struct pt_table *)((uintptr_t)p | 4);
				return (int64_t)span;
			}
			if (pt_pinned(t))
				return (int64_t)span;
			if (PT(clear_met)(t, false, o))
				*follow = (struct pt_table *)((uintptr_t)t |
							      1);
			else if (!(o & IOPGT_OPT_NO_RECLAIM) &&
				 !atomic_load_explicit(PT(l0_next)(p),
						       memory_order_relaxed))
				*follow = (struct pt_table *)((uintptr_t)t |
							      2);
			return (int64_t)span;
		} else if (!atomic_compare_exchange_strong_explicit(
				   &cur.va[cur.idx], &old, 0,
				   memory_order_relaxed, memory_order_relaxed)) {
			/* Changed meanwhile (merged into a group by a
			 * neighbour's map, where groups are merged: an item
			 * of it now): the general path. */
			return -1;
		} else {
			locked = true;
			PT_YIELD(dom, PT_Y_LEAF_CLEARED, cur.level, t->iova);
		}
		pt_gather_range(g, iova, last, IOPGT_FLUSH_MODIFIED,
				span | PT(stale_sizes)(&dom->geo, t), 0);
		if (pt_pinned(t))
			return (int64_t)span; /* never frozen nor unlinked */
		/* A coalescer froze t meanwhile, or t may be empty now (in a
		 * domain that reclaims): the caller follows up, out of line
		 * (PT(unmap_follow)). The probe's first read is here, after
		 * the fence of clear_met: with the entry after the cleared
		 * one in use, t is not empty, and the call is saved. */
		/* locked: nothing between the compare-and-swap and here
		 * may be half of a fence pair (the gather is this call's). */
		if (PT(clear_met)(t, locked, o) ||
		    PT(merged_back)(dom, &cur.va[cur.idx], cur.level))
			*follow = (struct pt_table *)((uintptr_t)t | 1);
		else if (!(o & IOPGT_OPT_NO_RECLAIM) &&
			 !atomic_load_explicit(
				 &cur.va[(cur.idx + 1) & cur.mask],
				 memory_order_relaxed))
			*follow = (struct pt_table *)((uintptr_t)t | 2);
		return (int64_t)span;
	}
	PT_YIELD(dom, PT_Y_LEAF_READ, cur.level, t->iova);
	if (!PT(clear_item)(dom, t, granule ? 0 : cur.level, cur.idx, &st,
			    &was, true))
		return -1;
	if (!was)
		return 0; /* an overlapping caller unmapped it first */
	pt_gather_range(g, iova, last, IOPGT_FLUSH_MODIFIED,
			span | PT(stale_sizes)(&dom->geo, t), 0);
	/* Emptied: the caller parks or unlinks it (out of line), unless
	 * emptied tables stay where they are. */
	if (__builtin_expect(!st, 0) && !pt_pinned(t) &&
	    !(dom->cfg.options & IOPGT_OPT_NO_RECLAIM))
		*follow = t;
	return (int64_t)span;
}

/* Everything but the single-leaf fast path: inside the caller's walker
 * section w, or, if w is 0, a call of its own. */
static __attribute__((noinline)) int64_t
PT(unmap_range)(struct iopgt_domain *dom, uint64_t iova, uint64_t last,
		struct iopgt_gather *g, pt_walk_t w)
{
	struct pt_op op;
	int64_t r;

	if (!w)
		w = pt_walk_enter(dom);

	PT(op_init)(&op, dom, g);
	r = PT(unmap_walk)(&op, iova, last);
	pt_walk_leave(dom, w);
	return r;
}

/* The single leaf's unmap (r bytes at iova) needs a follow-up, then the
 * call ends (still inside its walker section w): f is the table it
 * emptied, to dispose of, or, tagged 1, the table it found frozen after a
 * clear without a section (PT(clear_met_freeze)), or, tagged 2, the table
 * of such a clear in a domain that reclaims, to probe for "empty" (out of
 * line, so that the probe does not weigh on the fast path's registers).
 * Descriptors are 64-byte aligned, so the tags are free. */
static __attribute__((noinline)) int64_t
PT(unmap_follow)(struct iopgt_domain *dom, struct iopgt_gather *g,
		 uint64_t iova, struct pt_table *f, pt_walk_t w, int64_t r)
{
	const uintptr_t tag = (uintptr_t)f & 3;

	f = (struct pt_table *)((uintptr_t)f - tag);
	/* Tag 1: t was frozen after the clear; once the freezer gave up, t
	 * is still linked: probe it as an unfrozen clear does. (Tag 2 goes
	 * to PT(unmap_probe), which passes t on untagged.) */
	if (tag && (!PT(clear_met_freeze)(dom, g, f, iova,
					  iova + (uint64_t)r - 1) ||
		    !pt_uc_reclaim(dom) ||
		    !PT(may_be_empty)(f->va, f->mask + 1u, pt_tindex(f, iova),
				      pt_tindex(f, iova))))
		f = NULL;
	if (f)
		PT(unlink_up)(dom, g, iova, f);
	pt_walk_leave(dom, w);
	return r;
}

/* Tag 2 of unmap_follow: the probe alone, with no call unless it says
 * "may be empty", so that it saves no registers. A table already kept
 * for reuse (PT(park)) is left as it is, whatever the probe would say:
 * parking it again would change nothing, and the probe's reads of the
 * table's first, middle and last entries are of lines that the writers of
 * other parts of the table store to. So the probe reads the cleared
 * entry's own line, then the idle slots (a line that only parks and
 * evictions write), and only then the rest. */
static __attribute__((noinline)) int64_t
PT(unmap_probe)(struct iopgt_domain *dom, struct iopgt_gather *g,
		uint64_t iova, struct pt_table *f, pt_walk_t w, int64_t r)
{
	struct pt_table *t = (struct pt_table *)((uintptr_t)f - 2);
	const unsigned i = pt_tindex(t, iova);

	if (__builtin_expect(!PT(line_used)(t->va + (i & ~7u)) &&
				     !PT(parked)(dom, t) &&
				     PT(may_be_empty_beyond)(t->va,
							     t->mask + 1u, i,
							     i),
			     0))
		return PT(unmap_follow)(dom, g, iova, t, w, r);
	pt_walk_leave(dom, w);
	return r;
}

/* Tag 4 of unmap_one's follow-up: the single page at iova was cleared
 * from entry p of a level-0 table without a section (no counts), and its
 * range is for the gather's out-of-line add (not a batch's first range,
 * pt_gather_range_first()): add it, then the rest of the inline path's
 * follow-ups, for the table found from p. Nothing in between is half of a
 * fence pair: the gather is this call's. */
static __attribute__((noinline)) int64_t
PT(unmap_page_gather)(struct iopgt_domain *dom, struct iopgt_gather *g,
		      uint64_t iova, const pt_entry_t *p, pt_walk_t w,
		      int64_t r)
{
	struct pt_table *t = pt_desc(dom, p);
	const unsigned o = dom->cfg.options;

	pt_gather_range(g, iova, iova + dom->granule_mask,
			IOPGT_FLUSH_MODIFIED,
			(uint64_t)r | PT(stale_sizes)(&dom->geo, t), 0);
	if (!pt_pinned(t)) {
		if (PT(clear_met)(t, false, o))
			return PT(unmap_follow)(
				dom, g, iova,
				(struct pt_table *)((uintptr_t)t | 1), w, r);
		if (!(o & IOPGT_OPT_NO_RECLAIM) &&
		    !atomic_load_explicit(PT(l0_next)(p),
					  memory_order_relaxed))
			return PT(unmap_probe)(
				dom, g, iova,
				(struct pt_table *)((uintptr_t)t | 2), w, r);
	}
	pt_walk_leave(dom, w);
	return r;
}

/* The smallest page at iova is an item of a group in the level-0 table t
 * (a counted domain, or one without counts whose clears there take the
 * exclusive section, pt_uc_excl; inside the walker section w): rewrite
 * the group so that the item stands alone (PT(span_split) at its two
 * edges), clear it, and unlink t if that emptied it (without counts, if
 * the probe says it may have), without the general path's walks. If t is
 * frozen, or coalescing made the item part of a group again before the
 * clear, the general path does it. */
static __attribute__((noinline)) int64_t
PT(unmap_item)(struct iopgt_domain *dom, struct iopgt_gather *g,
	       uint64_t iova, uint64_t last, struct pt_table *t, pt_walk_t w)
{
	const unsigned idx = pt_tindex(t, iova);
	struct pt_op op;
	uint64_t e, st, old;

	PT(op_init)(&op, dom, g);
	while ((e = pt_load(t, idx)) && fmt_leaf_span(e, 0)) {
		const unsigned g0 = idx & ~((1u << fmt_leaf_span(e, 0)) - 1);

		/* The cut below the item, or, where the group starts at it,
		 * the cut above it. */
		if (PT(span_split)(&op, t, idx, e, 0,
				   g0 == idx ? last + 1 : iova) == -ESTALE)
			return PT(unmap_range)(dom, iova, last, g, w);
	}
	if (!PT(clear_item)(dom, t, 0, idx, &st, &old, pt_counted(dom)))
		return PT(unmap_range)(dom, iova, last, g, w);
	if (old) {
		/* The item was part of a larger leaf until the split: any
		 * size may be cached. */
		pt_gather_range(g, iova, last, IOPGT_FLUSH_MODIFIED,
				PT(stale_sizes)(&dom->geo, t),
				IOPGT_RANGE_ANY_SIZE);
		if (!pt_counted(dom)) {
			/* The clear was inside the section, so no freezer
			 * came between it and here; the fence lets one of two
			 * clearers emptying t together see the other's clear
			 * in its probe (pt.h). */
			if (pt_uc_reclaim(dom)) {
				atomic_thread_fence(memory_order_seq_cst);
				return PT(unmap_probe)(
					dom, g, iova,
					(struct pt_table *)((uintptr_t)t | 2),
					w, (int64_t)(last - iova + 1));
			}
		} else if (!st && !(dom->cfg.options & IOPGT_OPT_NO_RECLAIM))
			PT(unlink_up)(dom, g, iova, t);
	}
	pt_walk_leave(dom, w);
	return old ? (int64_t)(last - iova + 1) : 0;
}

/* One leaf's unmap (granule: the smallest), inside a walker section of
 * its own. Like map, the single-leaf path makes no call but tail calls,
 * which take its walker section with them; may_p2v as for map. */
static inline __attribute__((always_inline)) int64_t
PT(unmap_leaf)(struct iopgt_domain *dom, uint64_t iova, uint64_t last,
	       struct iopgt_gather *g, const bool granule, const bool may_p2v,
	       const unsigned walk, const unsigned fixed, const bool plain)
{
	struct pt_table *follow = NULL;
	pt_walk_t w;

	if (walk != PT_WALK_EPOCH)
		w = pt_walk_enter_sk(dom, pt_gshard(g), walk);
	else if (__builtin_expect(!pt_walk_try_epoch(dom, pt_gshard(g), &w),
				  0))
		return PT(unmap_range)(dom, iova, last, g, 0);
	int64_t r = PT(unmap_one)(dom, g, iova, last, granule, &follow,
				  may_p2v, fixed, plain);

	if (FMT_LEAF_SPANS && __builtin_expect(r == -2, 0))
		return PT(unmap_item)(dom, g, iova, last, follow, w);
	if (__builtin_expect(follow != NULL, 0)) {
		if (granule && ((uintptr_t)follow & 4))
			return PT(unmap_page_gather)(
				dom, g, iova,
				(pt_entry_t *)((uintptr_t)follow - 4), w, r);
		if ((uintptr_t)follow & 2)
			return PT(unmap_probe)(dom, g, iova, follow, w, r);
		return PT(unmap_follow)(dom, g, iova, follow, w, r);
	}
	if (r < 0)
		return PT(unmap_range)(dom, iova, last, g, w);
	pt_walk_leave_k(dom, w, walk);
	return r;
}

static inline __attribute__((always_inline)) int64_t
PT(unmap_body)(struct iopgt_domain *dom, uint64_t iova, uint64_t last,
	       struct iopgt_gather *g, const bool may_p2v,
	       const unsigned walk, const unsigned fixed, const bool plain)
{
	/* One leaf's span (the length a power of two, iova aligned to it)
	 * tries the fast path first. */
	if (last - iova == dom->granule_mask)
		return PT(unmap_leaf)(dom, iova, last, g, true, may_p2v,
				      walk, fixed, plain);
	if (!(((last - iova) & (last - iova + 1)) | (iova & (last - iova))))
		return PT(unmap_leaf)(dom, iova, last, g, false, may_p2v,
				      walk, fixed, plain);
	return PT(unmap_range)(dom, iova, last, g, 0);
}

/* Domains of dom->top.other, as for map. */
static __attribute__((noinline)) int64_t
PT(unmap_none)(struct iopgt_domain *dom, uint64_t iova, uint64_t last,
	       struct iopgt_gather *g)
{
	return PT(unmap_body)(dom, iova, last, g, false, PT_WALK_NONE,
			      PT_ROOT_PUBLISHED, false);
}

static __attribute__((noinline)) int64_t
PT(unmap_call)(struct iopgt_domain *dom, uint64_t iova, uint64_t last,
	       struct iopgt_gather *g)
{
	return PT(unmap_body)(dom, iova, last, g, false, PT_WALK_CALL,
			      PT_ROOT_PUBLISHED, false);
}

static __attribute__((noinline)) int64_t
PT(unmap_any)(struct iopgt_domain *dom, uint64_t iova, uint64_t last,
	      struct iopgt_gather *g)
{
	return PT(unmap_body)(dom, iova, last, g, true, PT_WALK_ANY,
			      PT_ROOT_PUBLISHED, false);
}

static __attribute__((noinline)) int64_t
PT(unmap_epoch)(struct iopgt_domain *dom, uint64_t iova, uint64_t last,
		struct iopgt_gather *g)
{
	return PT(unmap_body)(dom, iova, last, g, false, PT_WALK_EPOCH,
			      PT_ROOT_PUBLISHED, false);
}

/* The hot path's domain with options, as for map. */
static __attribute__((noinline)) int64_t
PT(unmap_opts)(struct iopgt_domain *dom, uint64_t iova, uint64_t last,
	       struct iopgt_gather *g)
{
	return PT(unmap_body)(dom, iova, last, g, false, PT_WALK_EPOCH,
			      PT_ROOT_FIRST, false);
}

static inline int64_t PT(unmap_other)(struct iopgt_domain *dom, uint64_t iova,
				      uint64_t last, struct iopgt_gather *g)
{
	/* (The walks below read the root again: grown meanwhile, it holds
	 * more.) */
	if (!pt_cut_to_root(dom, pt_top(dom), iova, &last))
		return 0;
	if (dom->cfg.phys_to_virt)
		return PT(unmap_any)(dom, iova, last, g);
	if (dom->top.walk == PT_WALK_EPOCH) /* growing, or a test's hook */
		return PT(unmap_epoch)(dom, iova, last, g);
	if (dom->top.walk == PT_WALK_NONE)
		return PT(unmap_none)(dom, iova, last, g);
	return PT(unmap_call)(dom, iova, last, g);
}

/* The hot path, in functions of their own: the registers they save are
 * not saved on the way to the others. One granule page has one of its
 * own, so that the frame of the larger leaves' path (which records its
 * walk) is not built for it. */
static __attribute__((noinline)) int64_t
PT(unmap_plain_page)(struct iopgt_domain *dom, uint64_t iova,
		     uint64_t size, struct iopgt_gather *g)
{
	(void)size; /* dom->granule_mask + 1 */
	return PT(unmap_leaf)(dom, iova, iova + dom->granule_mask, g, true,
			      false, PT_WALK_EPOCH, PT_ROOT_FIRST, true);
}

static __attribute__((noinline)) int64_t
PT(unmap_plain_big)(struct iopgt_domain *dom, uint64_t iova, uint64_t last,
		    struct iopgt_gather *g)
{
	/* As PT(unmap_body), past its first test. */
	if (!(((last - iova) & (last - iova + 1)) | (iova & (last - iova))))
		return PT(unmap_leaf)(dom, iova, last, g, false, false,
				      PT_WALK_EPOCH, PT_ROOT_FIRST, true);
	return PT(unmap_range)(dom, iova, last, g, 0);
}

static inline int64_t PT(unmap_plain)(struct iopgt_domain *dom, uint64_t iova,
				      uint64_t last, struct iopgt_gather *g)
{
	if (last - iova == dom->granule_mask)
		return PT(unmap_plain_page)(dom, iova, last - iova + 1, g);
	return PT(unmap_plain_big)(dom, iova, last, g);
}

/* As PT(map_nowalk). */
static __attribute__((noinline)) int64_t
PT(unmap_nowalk)(struct iopgt_domain *dom, uint64_t iova, uint64_t last,
		 struct iopgt_gather *g)
{
	return PT(unmap_body)(dom, iova, last, g, false, PT_WALK_NONE,
			      PT_ROOT_FIRST, true);
}

/* As PT(map_plain_call). */
static __attribute__((noinline)) int64_t
PT(unmap_plain_call)(struct iopgt_domain *dom, uint64_t iova, uint64_t last,
		     struct iopgt_gather *g)
{
	return PT(unmap_body)(dom, iova, last, g, false, PT_WALK_CALL,
			      PT_ROOT_FIRST, true);
}

/* As PT(map_cold). */
static __attribute__((noinline)) int64_t
PT(unmap_cold)(struct iopgt_domain *dom, uint64_t iova, uint64_t last,
	       struct iopgt_gather *g)
{
	if (dom->top.unmap_path == PT_PATH_OPTS)
		return PT(unmap_opts)(dom, iova, last, g);
	if (dom->top.unmap_path == PT_PATH_NOWALK)
		return PT(unmap_nowalk)(dom, iova, last, g);
	if (dom->top.unmap_path == PT_PATH_CALL)
		return PT(unmap_plain_call)(dom, iova, last, g);
	return PT(unmap_other)(dom, iova, last, g);
}

static int64_t PT(unmap)(struct iopgt_domain *dom, uint64_t iova,
			 uint64_t last, struct iopgt_gather *g)
{
	if (__builtin_expect(dom->top.unmap_path != PT_PATH_PLAIN, 0))
		return PT(unmap_cold)(dom, iova, last, g);
	return PT(unmap_plain)(dom, iova, last, g);
}

/* One smallest page, any domain (iopgt_domain.hot); in a domain of
 * PT_PATH_PLAIN, PT(unmap_plain_page) is called directly. */
static int64_t PT(unmap_page)(struct iopgt_domain *dom, uint64_t iova,
			      uint64_t size, struct iopgt_gather *g)
{
	return PT(unmap)(dom, iova, iova + (size - 1), g);
}

/* The single-page map and unmap of the other paths iopgt_domain.hot
 * takes: PT_PATH_PLAIN from a root of PT_ROOT_L3 or L4 (_l3, _l4), and
 * PT_PATH_NOWALK and PT_PATH_CALL (as PT(map_nowalk),
 * PT(map_plain_call)), each with its walker and root compiled in. */
#define PT_PAGE_ENTRIES(sfx, walk, root)                                     \
	static int PT(map_page_##sfx)(struct iopgt_domain *dom, uint64_t iova, \
				      uint64_t pa, uint64_t size,              \
				      unsigned prot, struct iopgt_gather *g)   \
	{                                                                    \
		(void)size; /* dom->granule_mask + 1 */                      \
		return PT(map_page_root)(dom, iova, pa, prot, g, walk, root); \
	}                                                                    \
	static int64_t PT(unmap_page_##sfx)(struct iopgt_domain *dom,         \
					    uint64_t iova, uint64_t size,     \
					    struct iopgt_gather *g)           \
	{                                                                    \
		(void)size;                                                  \
		return PT(unmap_leaf)(dom, iova, iova + dom->granule_mask, g, \
				      true, false, walk, root, true);        \
	}
PT_PAGE_ENTRIES(l3, PT_WALK_EPOCH, PT_ROOT_L3)
PT_PAGE_ENTRIES(l4, PT_WALK_EPOCH, PT_ROOT_L4)
PT_PAGE_ENTRIES(nowalk, PT_WALK_NONE, PT_ROOT_FIRST)
PT_PAGE_ENTRIES(call, PT_WALK_CALL, PT_ROOT_FIRST)
#undef PT_PAGE_ENTRIES

/* ------------------------------------------------------------------------
 * Lookup: lock-free; the hardware's own walk, read-only.
 */

/* The walk, compiled twice: with the test hook (hooked = true) and without
 * it, so the hook costs nothing per level in normal use. */
static inline __attribute__((always_inline)) int
PT(lookup_walk)(struct iopgt_domain *dom, uint64_t iova,
		struct iopgt_translation *out, bool hooked, const bool fast,
		const unsigned fixed)
{
	struct pt_cur cur;
	unsigned shift;
	uint64_t e;

	/* The hardware's own walk: one entry a level, nothing else read. A
	 * table unlinked meanwhile still holds its old (or emptied) entries,
	 * which were a state of the tree during this call. */
	PT(cur_root_k)(dom, &cur, fixed);
	if (!hooked) {
		e = PT(cur_leaf_p2v)(dom, &cur, iova, !fast, false);
	} else {
		for (;;) {
			dom->walk_hook(dom->walk_hook_arg,
				       PT(cur_table)(dom, &cur, cur.level));
			e = PT(cur_load)(dom, &cur, iova);
			if (!fmt_is_table(e, cur.level))
				break;
			PT(cur_down)(dom, &cur);
		}
	}
	if (!e)
		return -ENOENT;
	/* cur.shift, written so that fmt_leaf_pa's mask shares it. */
	shift = FMT_GRANULE + FMT_BITS * cur.level + fmt_leaf_span(e, cur.level);
	out->leaf_size = UINT64_C(1) << shift;
	out->pa = fmt_leaf_pa(e, cur.level) | (iova & (out->leaf_size - 1));
	out->prot = fmt_leaf_prot(e, cur.level);
	out->dirty = fmt_leaf_dirty(e, cur.level);
	out->reserved[0] = 0;
	out->reserved[1] = 0;
	return 0;
}

/* The whole call with a test hook or the embedder's phys_to_virt, out of
 * line and entered by a tail call: the common path then makes no call at
 * all and saves no registers. Also where a hot lookup's try of the epoch
 * failed (PT(lookup_fast)). */
static __attribute__((noinline)) int
PT(lookup_general)(struct iopgt_domain *dom, uint64_t iova,
		   struct iopgt_translation *out)
{
	pt_walk_t w = pt_walk_enter(dom);
	int r;

	if (dom->walk_hook)
		r = PT(lookup_walk)(dom, iova, out, true, false,
				    PT_ROOT_PUBLISHED);
	else
		r = PT(lookup_walk)(dom, iova, out, false, false,
				    PT_ROOT_PUBLISHED);
	pt_walk_leave(dom, w);
	return r;
}

/* The lookup of the hot path, with a walker of kind walk (a constant). */
static inline __attribute__((always_inline)) int
PT(lookup_fast)(struct iopgt_domain *dom, uint64_t iova,
		struct iopgt_translation *out, const unsigned walk,
		const unsigned fixed)
{
	pt_walk_t w;

	if (walk != PT_WALK_EPOCH)
		w = pt_walk_enter_k(dom, walk);
	else if (__builtin_expect(!pt_walk_try_epoch(dom, pt_shard(dom), &w),
				  0))
		return PT(lookup_general)(dom, iova, out);
	int r = PT(lookup_walk)(dom, iova, out, false, true, fixed);

	pt_walk_leave_k(dom, w, walk);
	return r;
}

/* Domains of dom->top.other: the hot path with no walker or one that
 * calls its strategy, each a function of its own; with a test's walk hook
 * or the embedder's phys_to_virt, the general one. */
static __attribute__((noinline)) int
PT(lookup_none)(struct iopgt_domain *dom, uint64_t iova,
		struct iopgt_translation *out)
{
	return PT(lookup_fast)(dom, iova, out, PT_WALK_NONE, PT_ROOT_PUBLISHED);
}

static __attribute__((noinline)) int
PT(lookup_call)(struct iopgt_domain *dom, uint64_t iova,
		struct iopgt_translation *out)
{
	return PT(lookup_fast)(dom, iova, out, PT_WALK_CALL, PT_ROOT_PUBLISHED);
}

static __attribute__((noinline)) int
PT(lookup_epoch)(struct iopgt_domain *dom, uint64_t iova,
		 struct iopgt_translation *out)
{
	return PT(lookup_fast)(dom, iova, out, PT_WALK_EPOCH,
			       PT_ROOT_PUBLISHED);
}

/* A domain of PT_PATH_NOWALK (no walker, no hook, no phys_to_virt, a
 * fixed root). */
static __attribute__((noinline)) int
PT(lookup_nowalk)(struct iopgt_domain *dom, uint64_t iova,
		  struct iopgt_translation *out)
{
	return PT(lookup_fast)(dom, iova, out, PT_WALK_NONE, PT_ROOT_FIRST);
}

static inline int PT(lookup_other)(struct iopgt_domain *dom, uint64_t iova,
				   struct iopgt_translation *out)
{
	if (dom->top.unmap_path == PT_PATH_NOWALK)
		return PT(lookup_nowalk)(dom, iova, out);
	if (dom->ias_max && iova > pt_top(dom)->last)
		return -ENOENT; /* above the root's span: nothing mapped */
	if (dom->walk_hook || dom->cfg.phys_to_virt)
		return PT(lookup_general)(dom, iova, out);
	if (dom->top.walk == PT_WALK_EPOCH) /* growing */
		return PT(lookup_epoch)(dom, iova, out);
	if (dom->top.walk == PT_WALK_NONE)
		return PT(lookup_none)(dom, iova, out);
	return PT(lookup_call)(dom, iova, out);
}

/* A domain not of top.other (iopgt_domain.hot). */
static __attribute__((noinline)) int
PT(lookup_plain)(struct iopgt_domain *dom, uint64_t iova,
		 struct iopgt_translation *out)
{
	return PT(lookup_fast)(dom, iova, out, PT_WALK_EPOCH, PT_ROOT_FIRST);
}

/* The same from a root of PT_ROOT_L3 or L4. */
static int PT(lookup_plain_l3)(struct iopgt_domain *dom, uint64_t iova,
			       struct iopgt_translation *out)
{
	return PT(lookup_fast)(dom, iova, out, PT_WALK_EPOCH, PT_ROOT_L3);
}

static int PT(lookup_plain_l4)(struct iopgt_domain *dom, uint64_t iova,
			       struct iopgt_translation *out)
{
	return PT(lookup_fast)(dom, iova, out, PT_WALK_EPOCH, PT_ROOT_L4);
}

static int PT(lookup)(struct iopgt_domain *dom, uint64_t iova,
		      struct iopgt_translation *out)
{
	if (__builtin_expect(dom->top.other, 0))
		return PT(lookup_other)(dom, iova, out);
	return PT(lookup_plain)(dom, iova, out);
}

/* ------------------------------------------------------------------------
 * Dirty tracking: lock-free, like lookup.
 */

struct pt_dirty {
	struct iopgt_domain *dom;
	int (*fn)(void *arg, uint64_t iova, uint64_t size);
	void *arg;
	unsigned flags;
	struct iopgt_gather *g;
	uint64_t run, run_end; /* the run being gathered; run_end 0: none */
};

/* Report the run gathered so far. */
static int PT(dirty_flush)(struct pt_dirty *d)
{
	int r = 0;

	if (d->run_end) {
		r = d->fn(d->arg, d->run, d->run_end - d->run);
		d->run_end = 0;
	}
	return r;
}

/* Report and clear the dirty leaves of [iova, last] in the table at va
 * (level, whose span starts at base): like lookup, it reads entries only. */
static int PT(dirty_table)(struct pt_dirty *d, pt_entry_t *va, unsigned level,
			   uint64_t base, uint64_t iova, uint64_t last)
{
	const struct pt_geo *geo = &d->dom->geo;
	unsigned shift = pt_shift(geo, level);
	uint64_t sz = UINT64_C(1) << shift;
	unsigned i = pt_index(geo, level, iova), end = pt_index(geo, level, last);
	int r;

	for (; i <= end; i++) {
		/* Sign-extended: the root's entries of an upper half. */
		uint64_t s = base + ((uint64_t)i << shift);

		if (FMT_INPUT_SIGN_EXTEND)
			s = pt_sext(d->dom, s);
		uint64_t e = atomic_load_explicit(&va[i], memory_order_acquire);

		if (!e)
			continue;
		if (fmt_is_table(e, level)) {
			r = PT(dirty_table)(d,
					    pt_p2v(d->dom, fmt_table_pa(e, level)),
					    level - 1, s, s < iova ? iova : s,
					    last - s < sz - 1 ? last
							      : s + (sz - 1));
			if (r)
				return r;
			continue;
		}
		/* A leaf of 2^k items: the hardware sets D in the replica it
		 * read, so the leaf is dirty if any of its group is, and is
		 * reported once, whole, and cleared in every replica. */
		uint64_t lsz = sz;
		unsigned g0 = i, gn = 1, k;
		bool dirty;

		if (FMT_LEAF_SPANS && (k = fmt_leaf_span(e, level))) {
			gn = 1u << k;
			g0 = i & ~(gn - 1);
			lsz = sz << k;
			s = base + ((uint64_t)g0 << shift);
			if (FMT_INPUT_SIGN_EXTEND)
				s = pt_sext(d->dom, s);
			dirty = false;
			for (unsigned j = 0; j < gn; j++)
				dirty |= fmt_leaf_dirty(
					atomic_load_explicit(&va[g0 + j],
							     memory_order_relaxed),
					level);
			i = g0 + gn - 1;
		} else {
			dirty = fmt_leaf_dirty(e, level);
		}
		if (!dirty)
			continue;
		/* Report the run so far before touching this leaf: if the
		 * callback stops the walk, nothing it was not given has been
		 * cleared. */
		if (d->run_end != s) {
			r = PT(dirty_flush)(d);
			if (r)
				return r;
			d->run = s;
		}
		if (!(d->flags & IOPGT_DIRTY_NO_CLEAR)) {
			/* The hardware may be setting bits meanwhile: clear
			 * only the dirty bit, atomically. */
			for (unsigned j = 0; j < gn; j++)
				atomic_fetch_and_explicit(&va[g0 + j],
							  ~FMT_HW_DIRTY,
							  memory_order_relaxed);
			/* The leaf's own size; the walk has no descriptor
			 * in hand for its table's stale sizes: any. */
			pt_gather_range(d->g, s, s + (lsz - 1),
					IOPGT_FLUSH_MODIFIED, lsz,
					IOPGT_RANGE_ANY_SIZE);
			PT_YIELD(d->dom, PT_Y_DIRTY_CLEARED, level, base);
		}
		d->run_end = s + lsz;
	}
	return 0;
}

static int PT(dirty)(struct iopgt_domain *dom, uint64_t iova, uint64_t last,
		     unsigned flags,
		     int (*fn)(void *arg, uint64_t iova, uint64_t size),
		     void *arg, struct iopgt_gather *g)
{
	struct pt_dirty d = { dom, fn, arg, flags, g, 0, 0 };
	const struct pt_topv *tv;
	pt_walk_t w;
	int r;

	if (FMT_HW_DIRTY == 0) /* the format keeps no dirty state */
		return -EOPNOTSUPP;
	w = pt_walk_enter(dom);
	tv = pt_top(dom);
	if (!pt_cut_to_root(dom, tv, iova, &last)) {
		pt_walk_leave(dom, w);
		return 0;
	}
	r = PT(dirty_table)(&d, tv->va, tv->level, 0, iova, last);
	if (!r)
		r = PT(dirty_flush)(&d);
	pt_walk_leave(dom, w);
	return r;
}

static void PT(evict)(struct iopgt_domain *dom, uint64_t key,
		      struct iopgt_gather *g)
{
	struct pt_op op;
	pt_walk_t w = pt_walk_enter(dom);

	PT(op_init)(&op, dom, g);
	PT(evict_key)(&op, key);
	pt_walk_leave(dom, w);
}

/* ------------------------------------------------------------------------
 * The format's entry points
 */

static bool PT(is_table)(uint64_t e, unsigned level)
{
	return fmt_is_table(e, level);
}

static void PT(decode_leaf)(uint64_t e, unsigned level,
			    const struct pt_geo *geo,
			    struct iopgt_translation *out)
{
	unsigned shift = pt_shift(geo, level) + fmt_leaf_span(e, level);
	out->leaf_size = UINT64_C(1) << shift;
	out->pa = fmt_leaf_pa(e, level);
	out->prot = fmt_leaf_prot(e, level);
	out->dirty = fmt_leaf_dirty(e, level);
	out->reserved[0] = 0;
	out->reserved[1] = 0;
}

static bool PT(entry_valid)(uint64_t e, unsigned level)
{
	return fmt_entry_valid(e, level);
}

static uint64_t PT(table_pa)(uint64_t e, unsigned level)
{
	return fmt_table_pa(e, level);
}

static uint64_t PT(make_table)(uint64_t pa, unsigned level)
{
	return fmt_make_table(pa, level);
}

/* fmt_geometry, held to the engine's compile-time constants. */
static int PT(geometry)(const struct iopgt_config *cfg, struct pt_geo *geo)
{
	int r;

	if (FMT_IAS_WITHIN_OAS && cfg->ias > cfg->oas)
		return -EINVAL;
	r = fmt_geometry(cfg, geo);
	if (r)
		return r;
	pt_assert("fmt_geometry gives the engine's FMT_GRANULE and FMT_BITS",
		  geo->granule == FMT_GRANULE && geo->bits == FMT_BITS &&
			  geo->levels >= 1 && geo->levels <= PT_MAX_LEVELS);
	return 0;
}

static uint64_t PT(leaf_sizes)(unsigned level, const struct pt_geo *geo)
{
	return fmt_leaf_sizes(level, geo);
}

const struct pt_engine PT_CAT(iopgt__engine, PT_ENGINE) = {
	.format = FMT_FORMAT,
	.granule = FMT_GRANULE,
	.max_oas = FMT_MAX_OAS,
	.geometry = PT(geometry),
	.leaf_sizes = PT(leaf_sizes),
	.prot_attrs = fmt_prot_attrs,
	.map = PT(map),
	.unmap = PT(unmap),
	.lookup = PT(lookup),
	.map_page = {
		[PT_PATH_PLAIN] = PT(map_page_plain),
		[PT_PATH_OPTS] = PT(map_page),
		[PT_PATH_OTHER] = PT(map_page),
		[PT_PATH_NOWALK] = PT(map_page_nowalk),
		[PT_PATH_CALL] = PT(map_page_call),
	},
	.map_page_whole = { PT(map_page_l3), PT(map_page_l4) },
	.unmap_page = {
		[PT_PATH_PLAIN] = PT(unmap_plain_page),
		[PT_PATH_OPTS] = PT(unmap_page),
		[PT_PATH_OTHER] = PT(unmap_page),
		[PT_PATH_NOWALK] = PT(unmap_page_nowalk),
		[PT_PATH_CALL] = PT(unmap_page_call),
	},
	.unmap_page_whole = { PT(unmap_page_l3), PT(unmap_page_l4) },
	.lookup_path = {
		[PT_PATH_PLAIN] = PT(lookup_plain),
		[PT_PATH_OPTS] = PT(lookup), /* (never a lookup's path) */
		[PT_PATH_OTHER] = PT(lookup),
		[PT_PATH_NOWALK] = PT(lookup_nowalk),
		[PT_PATH_CALL] = PT(lookup_call),
	},
	.lookup_whole = { PT(lookup_plain_l3), PT(lookup_plain_l4) },
	.is_table = PT(is_table),
	.decode_leaf = PT(decode_leaf),
	.table_pa = PT(table_pa),
	.entry_valid = PT(entry_valid),
	.dirty = PT(dirty),
	.evict = PT(evict),
	.hw_accessed = FMT_HW_ACCESSED,
	.hw_dirty = FMT_HW_DIRTY,
	.sw_bits = FMT_SW_BITS,
	.hw_config = fmt_hw_config,
	.ias_within_oas = FMT_IAS_WITHIN_OAS,
	.input_sign_extend = FMT_INPUT_SIGN_EXTEND,
	.grows = FMT_GROWS,
	.make_table = PT(make_table),
};
