/* SPDX-License-Identifier: MIT */
/*
 * Gathers and sync.
 *
 * A table unlinked by map or unmap goes into the caller's gather. sync
 * issues the flush the gather needs (a WALK over the span of every unlinked
 * table), and only then hands the tables to the domain's reclaim strategy
 * (reclaim.c), which frees them once no walker can hold them.
 */
#include "pt.h"
#include "testhook.h"

const char iopgt__unbound;

int iopgt_gather_init(struct iopgt_gather *g, size_t size)
{
	if (!g || size < PT_GATHER_SIZE_V1 || size > PT_STRUCT_SIZE_MAX)
		return -EINVAL;
	pt_memset(g, 0, size);
	g->size = (uint32_t)size;
	g->iova = UINT64_MAX;
	g->last = 0;
	g->kind = IOPGT_FLUSH_NONE;
	g->dom = PT_UNBOUND;
	return 0;
}

/* Forget g's ranges once flushed (its tables stay). */
static inline void ranges_reset(struct iopgt_gather *g)
{
	g->iova = UINT64_MAX;
	g->last = 0;
	g->kind = IOPGT_FLUSH_NONE;
	if (g->priv_flags & PT_G_RANGES) {
		/* pt_gather_range() writes a batch's first range into slot
		 * 0 without the WALK fields, which only WALK ranges set. */
		g->ranges[0].walk_shift = 0;
		g->ranges[0].walk_iova = 0;
		g->nr_ranges = 0;
	}
}

/* Empty g after its sync. It stays bound to its domain; being empty, it
 * may be bound to another by its next use. */
static inline void gather_reset(struct iopgt_gather *g)
{
	ranges_reset(g);
	g->nr_tables = 0;
	g->tables = NULL;
}

/* The open gather of a IOPGT_OPT_ONE_GATHER domain, synced: no batch is
 * open any more, and g is opened again (bound) by its next use. */
static __attribute__((noinline)) void gather_close(struct iopgt_domain *dom,
						   struct iopgt_gather *g)
{
	dom->one_g = NULL;
	g->dom = PT_UNBOUND;
	PT_G_STAMP(g) = 0;
	PT_G_SHARD(g) = 0;
}

/* Whether g holds nothing: no range to flush, no table to reclaim. */
static inline bool gather_empty(const struct iopgt_gather *g)
{
	return !g->tables && g->iova == UINT64_MAX;
}

/* Whether g may be bound (to dom): set up by iopgt_gather_init, and not
 * holding another domain's state. */
static bool gather_bindable(const struct iopgt_domain *dom,
			    const struct iopgt_gather *g)
{
	if (!dom || !g)
		return false;
	if (g->size < PT_GATHER_SIZE_V1 || !g->dom) {
		pt_assert("the gather was set up by iopgt_gather_init", false);
		return false;
	}
	return g->dom == PT_UNBOUND || gather_empty(g);
}

int iopgt__gather_bind(struct iopgt_domain *dom, struct iopgt_gather *g)
{
	if (!gather_bindable(dom, g))
		return -EINVAL;
	g->dom = dom;
	PT_G_STAMP(g) = dom->stamp;
	PT_G_SHARD(g) = (uintptr_t)pt_shard(dom);
	g->priv_flags = 0;
	if (g->size >= PT_GATHER_SIZE_V2) {
		g->priv_flags = PT_G_RANGES |
				dom->cfg.gather_policy << PT_G_POLICY_SHIFT;
		g->nr_ranges = 0;
	}
	return 0;
}

int iopgt__gather_open(struct iopgt_domain *dom, struct iopgt_gather *g)
{
	int r;

	/* A gather that cannot be bound is -EINVAL whatever is open. */
	if (gather_bindable(dom, g) &&
	    (dom->cfg.options & IOPGT_OPT_ONE_GATHER) && dom->one_g &&
	    dom->one_g != g)
		return -EBUSY;
	r = iopgt__gather_bind(dom, g);
	if (!r && (dom->cfg.options & IOPGT_OPT_ONE_GATHER))
		dom->one_g = g;
	return r;
}

void iopgt__gather_unopen(struct iopgt_domain *dom, struct iopgt_gather *g)
{
	if (dom && g && dom->one_g == g && gather_empty(g))
		gather_close(dom, g);
}

/* The ranges a gather of this policy holds. */
static unsigned policy_ranges(unsigned policy)
{
	return policy == IOPGT_GATHER_UNION || policy == IOPGT_GATHER_DISJOINT
		       ? 1
		       : IOPGT_GATHER_RANGES;
}

/* ADDED ranges stay apart from MODIFIED and WALK ones. */
static bool same_class(const struct iopgt_flush_range *a,
		       const struct iopgt_flush_range *b)
{
	return (a->kind == IOPGT_FLUSH_ADDED) == (b->kind == IOPGT_FLUSH_ADDED);
}

/* Both ranges unlink only empty tables, and the smallest table of one
 * lies inside the smallest of the other (spans are aligned powers of two:
 * nested or apart), so that one page lies in every table of both. */
static bool walk_nested(const struct iopgt_flush_range *a,
			const struct iopgt_flush_range *b, bool brk)
{
	unsigned s = a->walk_shift > b->walk_shift ? a->walk_shift
						   : b->walk_shift;

	if (brk) /* PT_HOOK_BREAK_WALK_MERGE: anything with either */
		return (a->flags | b->flags) & IOPGT_RANGE_WALK_EMPTY;
	if (!(a->flags & b->flags & IOPGT_RANGE_WALK_EMPTY))
		return false;
	return s >= 64 || (a->walk_iova >> s) == (b->walk_iova >> s);
}

/* Merging a and b would keep what one page of WALK_EMPTY saves: true
 * unless exactly one of them is WALK_EMPTY, or both are but far apart. */
static bool walk_mergeable(const struct iopgt_flush_range *a,
			   const struct iopgt_flush_range *b, bool brk)
{
	return !((a->flags | b->flags) & IOPGT_RANGE_WALK_EMPTY) ||
	       walk_nested(a, b, brk);
}

/* Widen a to cover b too, with the hints of both: the leaf sizes of both
 * (a size known for either part is kept, whatever the other says), any
 * size if either may hold any, leaf-only only if both were, the highest
 * kind; WALK_EMPTY only if both were with a page in every table (the
 * smaller table's span is kept): merged with anything else, the range is
 * a WALK over all of it. */
static void range_merge(struct iopgt_flush_range *a,
			const struct iopgt_flush_range *b, bool brk)
{
	const bool empty = walk_nested(a, b, brk);
	const bool a_empty = a->flags & IOPGT_RANGE_WALK_EMPTY;

	if (b->iova < a->iova)
		a->iova = b->iova;
	if (b->last > a->last)
		a->last = b->last;
	a->leaf_sizes |= b->leaf_sizes;
	a->flags = (a->flags & b->flags & IOPGT_RANGE_LEAF_ONLY) |
		   ((a->flags | b->flags) & IOPGT_RANGE_ANY_SIZE);
	a->walk_levels |= b->walk_levels;
	if (b->kind > a->kind)
		a->kind = b->kind;
	if (empty) {
		if ((b->flags & IOPGT_RANGE_WALK_EMPTY) &&
		    (!a_empty || b->walk_shift < a->walk_shift)) {
			a->walk_shift = b->walk_shift;
			a->walk_iova = b->walk_iova;
		}
		a->flags |= IOPGT_RANGE_WALK_EMPTY;
	} else {
		a->walk_shift = 0;
		a->walk_iova = 0;
	}
}

/* Bytes a range's commands cover, less one: one page for WALK_EMPTY (its
 * commands' size; any page is counted the same here). */
static uint64_t range_cost(const struct iopgt_flush_range *r)
{
	return (r->flags & IOPGT_RANGE_WALK_EMPTY) ? 0 : r->last - r->iova;
}

/* The bytes that merging a and b would add to what their commands cover,
 * plus one for ranges apart (1 if they touch, 0 or 1 if they overlap, and
 * more if the merge loses a WALK_EMPTY): only its order matters. */
static uint64_t range_gap(const struct iopgt_flush_range *a,
			  const struct iopgt_flush_range *b, bool brk)
{
	struct iopgt_flush_range m = *a;
	uint64_t ca = range_cost(a), cb = range_cost(b), cm, sum;

	range_merge(&m, b, brk);
	cm = range_cost(&m);
	sum = ca + cb < ca ? UINT64_MAX : ca + cb;
	return cm > sum ? cm - sum : 0;
}

/* The union of g's ranges, as the first fields report it. */
static void ranges_union(struct iopgt_gather *g)
{
	g->iova = UINT64_MAX;
	g->last = 0;
	g->kind = IOPGT_FLUSH_NONE;
	for (unsigned i = 0; i < g->nr_ranges; i++) {
		const struct iopgt_flush_range *r = &g->ranges[i];

		if (r->iova < g->iova)
			g->iova = r->iova;
		if (r->last > g->last)
			g->last = r->last;
		if (r->kind > g->kind)
			g->kind = r->kind;
	}
}

static void flush_ranges(struct iopgt_domain *dom, struct iopgt_gather *g);

void iopgt__gather_add(struct iopgt_gather *g,
		       const struct iopgt_flush_range *x)
{
	const unsigned policy =
		(g->priv_flags & PT_G_POLICY_MASK) >> PT_G_POLICY_SHIFT;
	const unsigned cap = policy_ranges(policy);
	const bool brk = PT_BROKEN((const struct iopgt_domain *)g->dom,
				   PT_HOOK_BREAK_WALK_MERGE);
	struct iopgt_flush_range *r = g->ranges;
	unsigned n = g->nr_ranges, bi = 0, bj = 0;
	uint64_t best = UINT64_MAX;
	struct iopgt_flush_range y;

	/* Inside a range of its class whose kind includes x's (a MODIFIED
	 * clear inside an unlinked table's WALK): nothing to add but the
	 * hints. A range x holds the same way goes into x. Neither changes
	 * a byte of what is flushed. */
	for (unsigned i = 0; i < n; i++) {
		if (!same_class(&r[i], x))
			continue;
		/* (A WALK_EMPTY range takes nothing in: it would be a WALK
		 * over all of it then.) */
		if (r[i].kind > x->kind && r[i].iova <= x->iova &&
		    r[i].last >= x->last &&
		    (brk || !(r[i].flags & IOPGT_RANGE_WALK_EMPTY))) {
			range_merge(&r[i], x, brk);
			return;
		}
		if (x->kind > r[i].kind && x->iova <= r[i].iova &&
		    x->last >= r[i].last &&
		    (brk || !(x->flags & IOPGT_RANGE_WALK_EMPTY))) {
			y = *x;
			range_merge(&y, &r[i], brk);
			r[i] = r[--n];
			g->nr_ranges = n;
			x = &y;
			i--;
		}
	}

	/* Widen a range of the same kind that x touches, then fold in any
	 * other that the widened one now touches. The hints of both then
	 * hold for the whole: touching ranges cost one command where two
	 * sets of hints would cost two. */
	for (unsigned i = 0; i < n; i++) {
		if (r[i].kind != x->kind ||
		    !pt_touch(r[i].iova, r[i].last, x->iova, x->last) ||
		    !walk_mergeable(&r[i], x, brk))
			continue;
		range_merge(&r[i], x, brk);
		for (unsigned j = 0; j < n; j++) {
			if (j == i || r[j].kind != r[i].kind ||
			    !pt_touch(r[i].iova, r[i].last, r[j].iova,
				      r[j].last) ||
			    !walk_mergeable(&r[i], &r[j], brk))
				continue;
			range_merge(&r[i], &r[j], brk);
			r[j] = r[--n];
			if (i == n)
				i = j;
			j = (unsigned)-1; /* look at all again */
		}
		g->nr_ranges = n;
		return;
	}
	if (n < cap) {
		r[n] = *x;
		g->nr_ranges = n + 1;
		return;
	}
	switch (policy) {
	case IOPGT_GATHER_UNION:
		range_merge(&r[0], x, brk);
		return;
	case IOPGT_GATHER_EARLY:
	case IOPGT_GATHER_DISJOINT:
		/* The union already took x in: flush what g held, then hold
		 * x alone. */
		flush_ranges((struct iopgt_domain *)g->dom, g);
		r[0] = *x;
		g->nr_ranges = 1;
		ranges_union(g);
		return;
	default:
		break;
	}
	/* MERGE: of the ranges and x, merge the two of one class whose merge
	 * adds the fewest bytes (x is index n). With two classes among nine,
	 * some class has two. */
	for (unsigned i = 0; i <= n; i++) {
		const struct iopgt_flush_range *a = i < n ? &r[i] : x;

		for (unsigned j = i + 1; j <= n; j++) {
			const struct iopgt_flush_range *b = j < n ? &r[j] : x;
			uint64_t gap;

			if (!same_class(a, b))
				continue;
			gap = range_gap(a, b, brk);
			if (gap < best || (gap == best && a->kind == b->kind)) {
				best = gap;
				bi = i;
				bj = j;
			}
		}
	}
	if (bj == n) {
		range_merge(&r[bi], x, brk);
	} else {
		range_merge(&r[bi], &r[bj], brk);
		r[bj] = *x;
	}
}

void iopgt__gather_table(struct iopgt_domain *dom, struct iopgt_gather *g,
			 struct pt_table *t, bool empty)
{
	uint64_t span = pt_table_span(&dom->geo, t->level);

	pt_assert("a root is never unlinked", !pt_pinned(t));
	if (t->iova < g->iova)
		g->iova = t->iova;
	if (t->iova + span - 1 > g->last)
		g->last = t->iova + span - 1;
	g->kind = IOPGT_FLUSH_WALK;
	if (g->priv_flags & PT_G_RANGES) {
		struct iopgt_flush_range r = {
			.iova = t->iova,
			.last = t->iova + span - 1,
			.kind = IOPGT_FLUSH_WALK,
			.flags = IOPGT_RANGE_ANY_SIZE,
			.walk_levels = 1u << t->level,
		};

		/* Only g's batch can hold unflushed clears of t when g is the
		 * domain's one open gather (IOPGT_OPT_ONE_GATHER). A policy
		 * of one range (UNION, DISJOINT) would keep the range apart
		 * from the clears inside it only by flushing them first,
		 * which neither does for a change its range holds: a WALK
		 * over the span there. */
		if (empty && dom->one_g == g &&
		    policy_ranges((g->priv_flags & PT_G_POLICY_MASK) >>
				  PT_G_POLICY_SHIFT) > 1) {
			r.flags |= IOPGT_RANGE_WALK_EMPTY;
			r.walk_iova = t->iova;
			r.walk_shift = span ? (unsigned)__builtin_ctzll(span) : 64;
		}
		iopgt__gather_add(g, &r);
	}
	if (IOPGT_DEBUG)
		atomic_fetch_add_explicit(&dom->gathered, 1,
					  memory_order_relaxed);
	t->next = g->tables;
	g->tables = t;
	g->nr_tables++;
}

/* Hand the n ranges r to the flush callbacks, and count them. */
static void issue_ranges(struct iopgt_domain *dom,
			 const struct iopgt_flush_range *r, unsigned n)
{
	struct pt_shard *sh = pt_shard(dom);

	if (dom->cfg.flush_ranges) {
		dom->cfg.flush_ranges(dom->cfg.flush.arg, r, n);
	} else {
		for (unsigned i = 0; i < n; i++)
			dom->cfg.flush.flush_range(dom->cfg.flush.arg,
						   r[i].iova, r[i].last,
						   (enum iopgt_flush_kind)r[i]
							   .kind);
	}
	for (unsigned i = 0; i < n; i++)
		pt_stat_add(&sh->flushes[r[i].kind], 1);
}

/* The test hooks' flushes: none, or every WALK narrowed to a leaf-only
 * MODIFIED (broken on purpose: rules 1 and 2). */
static __attribute__((noinline)) void
issue_hooked(struct iopgt_domain *dom, const struct iopgt_flush_range *r,
	     unsigned n)
{
	struct iopgt_flush_range narrowed[IOPGT_GATHER_RANGES];

	if (dom->hooks & PT_HOOK_SKIP_FLUSH)
		return;
	for (unsigned i = 0; i < n; i++) {
		narrowed[i] = r[i];
		if (narrowed[i].kind > IOPGT_FLUSH_MODIFIED) {
			narrowed[i].kind = IOPGT_FLUSH_MODIFIED;
			narrowed[i].flags = (narrowed[i].flags &
					     ~(uint32_t)IOPGT_RANGE_WALK_EMPTY) |
					    IOPGT_RANGE_LEAF_ONLY;
			narrowed[i].walk_levels = 0;
			narrowed[i].walk_shift = 0;
			narrowed[i].walk_iova = 0;
		}
	}
	issue_ranges(dom, narrowed, n);
}

/* Flush g's ranges (a gather that keeps them), count them, and forget
 * them. */
static void flush_ranges(struct iopgt_domain *dom, struct iopgt_gather *g)
{
	const unsigned n = g->nr_ranges;

	if (n) {
		if (dom->hooks & (PT_HOOK_SKIP_FLUSH | PT_HOOK_LEAF_ONLY_FLUSH))
			issue_hooked(dom, g->ranges, n);
		else
			issue_ranges(dom, g->ranges, n);
	}
	ranges_reset(g);
}

/* A gather of the first version's size (no ranges) on a domain that
 * takes flush_ranges: its union, as one range of any size that is not
 * leaf-only (every level below the root for a WALK). */
static __attribute__((noinline)) void flush_union(struct iopgt_domain *dom,
						  struct iopgt_gather *g)
{
	const struct iopgt_flush_range r = {
		.iova = g->iova,
		.last = g->last,
		.kind = g->kind,
		.flags = IOPGT_RANGE_ANY_SIZE,
		.walk_levels = g->kind == IOPGT_FLUSH_WALK
				       ? (1u << (dom->geo.levels - 1)) - 1
				       : 0,
	};

	if (g->kind != IOPGT_FLUSH_NONE && g->iova <= g->last) {
		if (dom->hooks & (PT_HOOK_SKIP_FLUSH | PT_HOOK_LEAF_ONLY_FLUSH))
			issue_hooked(dom, &r, 1);
		else
			issue_ranges(dom, &r, 1);
	}
	ranges_reset(g);
}

static void flush(struct iopgt_domain *dom, struct iopgt_gather *g, bool all)
{
	enum iopgt_flush_kind kind = g->kind;

	if (!all && (g->priv_flags & PT_G_RANGES))
		return flush_ranges(dom, g);
	if (!all && dom->cfg.flush_ranges)
		return flush_union(dom, g);
	if (dom->hooks & PT_HOOK_SKIP_FLUSH)
		return;
	if ((dom->hooks & PT_HOOK_LEAF_ONLY_FLUSH) &&
	    kind > IOPGT_FLUSH_MODIFIED)
		kind = IOPGT_FLUSH_MODIFIED;
	if (all) {
		dom->cfg.flush.flush_all(dom->cfg.flush.arg);
		pt_stat_add(&pt_shard(dom)->flush_all, 1);
	} else if (kind != IOPGT_FLUSH_NONE && g->iova <= g->last) {
		dom->cfg.flush.flush_range(dom->cfg.flush.arg, g->iova,
					   g->last, kind);
		pt_stat_add(&pt_shard(dom)->flushes[kind], 1);
	}
}

/* Give g, synced on an out-of-line path, the shard of the thread that
 * syncs it now: a gather bound on one thread and used on another moves
 * to its user's line at the first such sync (PT_G_SHARD). */
static inline void take_shard(struct iopgt_domain *dom, struct iopgt_gather *g)
{
	PT_G_SHARD(g) = (uintptr_t)pt_shard(dom);
}

static void sync_gather(struct iopgt_domain *dom, struct iopgt_gather *g,
			bool all)
{
	struct pt_table *list = g->tables;
	unsigned long n = g->nr_tables;

	if (list && (dom->hooks & PT_HOOK_FREE_BEFORE_FLUSH)) {
		iopgt__release_list(dom, list); /* broken on purpose: rule 2 */
		list = NULL;
	}
	if (IOPGT_DEBUG)
		atomic_fetch_sub_explicit(&dom->gathered, (long)n,
					  memory_order_relaxed);
	flush(dom, g, all);
	if (list)
		dom->strat->retire(dom, list, n);
	if (atomic_load_explicit(&dom->waiting, memory_order_relaxed))
		iopgt__reclaim_waiting(dom);
	gather_reset(g);
	if (dom->one_g == g)
		gather_close(dom, g);
	else
		take_shard(dom, g);
}

static __attribute__((noinline)) int sync_bind(struct iopgt_domain *dom,
						      struct iopgt_gather *g)
{
	int r;

	/* IOPGT_OPT_ONE_GATHER: an empty gather (unbound, or synced on
	 * another domain) has nothing to flush while another is open, and
	 * stays closed: its sync succeeds, as any empty gather's does. */
	if (dom && dom->one_g && dom->one_g != g && gather_bindable(dom, g) &&
	    gather_empty(g)) {
		if (atomic_load_explicit(&dom->waiting, memory_order_relaxed))
			iopgt__reclaim_waiting(dom);
		return 0;
	}
	r = iopgt__gather_open(dom, g);

	return r ? r : iopgt_sync(dom, g);
}

/* iopgt_sync with tables to reclaim, or in a domain of sync_other. */
static __attribute__((noinline)) int sync_tables(struct iopgt_domain *dom,
						 struct iopgt_gather *g)
{
	sync_gather(dom, g, false);
	return 0;
}

/* Forget the one range of g, flushed (sync_flush): its union, and its
 * count of ranges where it keeps them. */
static inline void forget_range(struct iopgt_gather *g)
{
	g->kind = IOPGT_FLUSH_NONE;
	g->iova = UINT64_MAX;
	g->last = 0;
	if (g->priv_flags & PT_G_RANGES)
		g->nr_ranges = 0;
}

/* sync_flush's cases but its common one (no flush_ranges, no open
 * gather: the domain is not of sync_other). */
static __attribute__((noinline)) int sync_flush_other(struct iopgt_domain *dom,
						      struct iopgt_gather *g)
{
	enum iopgt_flush_kind kind = g->kind;

	if ((g->priv_flags & PT_G_RANGES) && g->nr_ranges > 1) {
		flush_ranges(dom, g);
	} else {
		/* One range (or a gather without ranges): the union is
		 * it. */
		if (g->iova <= g->last) {
			dom->cfg.flush.flush_range(dom->cfg.flush.arg, g->iova,
						   g->last, kind);
			pt_stat_add(&pt_shard(dom)->flushes[kind], 1);
		}
		forget_range(g);
	}
	if (atomic_load_explicit(&dom->waiting, memory_order_relaxed))
		iopgt__reclaim_waiting(dom);
	take_shard(dom, g);
	return 0;
}

/* iopgt_sync with no table to reclaim, in a domain not of sync_other (no
 * flush_ranges, no open gather to close): at most one flush. The common
 * case (one range, no tables waiting) forgets the range and counts it
 * before the call, so that nothing is left to do after it and the path
 * keeps no value across it. */
static __attribute__((noinline)) int sync_flush(struct iopgt_domain *dom,
						struct iopgt_gather *g)
{
	const uint64_t iova = g->iova, last = g->last;
	const enum iopgt_flush_kind kind = g->kind;

	if (((g->priv_flags & PT_G_RANGES) && g->nr_ranges > 1) ||
	    iova > last ||
	    atomic_load_explicit(&dom->waiting, memory_order_relaxed))
		return sync_flush_other(dom, g);
	forget_range(g);
	pt_stat_add(&pt_gshard(g)->flushes[kind], 1);
	dom->cfg.flush.flush_range(dom->cfg.flush.arg, iova, last, kind);
	return 0;
}

static __attribute__((noinline)) int sync_waiting(struct iopgt_domain *dom)
{
	iopgt__reclaim_waiting(dom);
	return 0;
}

/* The cases that do something are out of line and reached by tail calls,
 * so that the common one that does nothing (after maps into empty entries
 * without caching mode) saves no registers. */
int iopgt_sync(struct iopgt_domain *dom, struct iopgt_gather *g)
{
	if (!pt_gather_bound(dom, g))
		return sync_bind(dom, g);
	if (g->tables || dom->sync_other)
		return sync_tables(dom, g);
	if (g->kind != IOPGT_FLUSH_NONE)
		return sync_flush(dom, g);
	g->iova = UINT64_MAX;
	g->last = 0;
	if (atomic_load_explicit(&dom->waiting, memory_order_relaxed))
		return sync_waiting(dom);
	return 0;
}

const char *iopgt_gather_policy_name(enum iopgt_gather_policy p)
{
	static const char *const names[] = { "merge", "union", "early",
					     "disjoint" };

	return (unsigned)p < IOPGT_GATHER_POLICIES ? names[p] : "unknown";
}

int iopgt_flush_all(struct iopgt_domain *dom, struct iopgt_gather *g)
{
	int r = pt_gather_use(dom, g);

	if (r)
		return r;
	sync_gather(dom, g, true);
	return 0;
}

/* Unlink the empty tables kept linked for reuse (iopgt_domain.idle), with
 * one WALK flush for them all. */
static void evict_idle(struct iopgt_domain *dom)
{
	struct iopgt_gather g;

	iopgt_gather_init(&g, sizeof(g));
	iopgt__gather_bind(dom, &g);
	for (unsigned i = 0; i < dom->cache_limit; i++) {
		uint64_t key = atomic_exchange_explicit(&dom->idle[i], 0,
							memory_order_relaxed);
		if (key)
			dom->eng->evict(dom, key, &g);
	}
	iopgt_sync(dom, &g);
}

int iopgt_reclaim(struct iopgt_domain *dom)
{
	if (!dom)
		return -EINVAL;
	evict_idle(dom);
	dom->strat->poll(dom);
	iopgt__cache_trim(dom);
	return 0;
}
