/* SPDX-License-Identifier: MIT */
/*
 * Gathers, sync and the after-flush reclaim of unlinked tables.
 *
 * A table unlinked by map or unmap goes into the caller's gather. sync
 * issues the flush the gather needs (a WALK over the span of every unlinked
 * table), and only then reclaims the tables: at once if no walker is
 * counted, else they wait on the domain, tagged with the epoch, until the
 * epoch has advanced twice (see pt_walk_enter in pt.h).
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

/* Empty g after its sync. It stays bound to its domain; being empty, it
 * may be bound to another by its next use. */
static inline void gather_reset(struct iopgt_gather *g)
{
	g->iova = UINT64_MAX;
	g->last = 0;
	g->kind = IOPGT_FLUSH_NONE;
	g->nr_tables = 0;
	g->tables = NULL;
}

int iopgt__gather_bind(const struct iopgt_domain *dom, struct iopgt_gather *g)
{
	if (!dom || !g)
		return -EINVAL;
	if (g->size < PT_GATHER_SIZE_V1 || !g->dom) {
		pt_assert("the gather was set up by iopgt_gather_init", false);
		return -EINVAL;
	}
	if (g->dom != PT_UNBOUND && (g->tables || g->iova != UINT64_MAX))
		return -EINVAL; /* holds another domain's state */
	g->dom = dom;
	return 0;
}

void iopgt__gather_table(struct iopgt_domain *dom, struct iopgt_gather *g,
		     struct pt_table *t)
{
	uint64_t span = pt_table_span(&dom->geo, t->level);

	pt_assert("the root is never unlinked", t != dom->root);
	pt_gather_range(g, t->iova, t->iova + span - 1, IOPGT_FLUSH_WALK);
	if (IOPGT_DEBUG)
		atomic_fetch_add_explicit(&dom->gathered, 1,
					  memory_order_relaxed);
	t->next = g->tables;
	g->tables = t;
	g->nr_tables++;
}

static unsigned long release_list(struct iopgt_domain *dom, struct pt_table *t)
{
	unsigned long n = 0;

	while (t) {
		struct pt_table *next = t->next;
		iopgt__table_release(dom, t);
		t = next;
		n++;
	}
	return n;
}

/* True if some walker is counted under parity p. Each walker's count is
 * read once, in seq_cst order, on the shard it uses; the arguments below
 * are about one walker and the read of its own shard, so they hold for a
 * sum read shard by shard as for one counter. */
static bool walkers_of(struct iopgt_domain *dom, unsigned p)
{
	for (unsigned s = 0; s < PT_SHARDS; s++)
		if (atomic_load_explicit(&dom->shards[s].walkers[p],
					 memory_order_seq_cst))
			return true;
	return false;
}

/* True if no walker is counted at all. The caller's unlinks precede its
 * seq_cst fence; a walker not counted here entered after it and sees them. */
static bool no_walkers(struct iopgt_domain *dom)
{
	return !walkers_of(dom, 0) && !walkers_of(dom, 1);
}

/* Advance the epoch from g to g + 1 if no walker of epoch g - 1 remains:
 * they are counted under the parity that g + 1's walkers will use. The
 * epoch is read before the counter, so a check never stands for an epoch
 * older than the one it advances; a walker that the check misses counted
 * itself after it, and its re-check of the epoch (pt_walk_enter) then
 * reads g or later. */
static void try_advance(struct iopgt_domain *dom)
{
	uint64_t g = atomic_load_explicit(&dom->epoch, memory_order_seq_cst);

	if (!walkers_of(dom, (unsigned)(g + 1) & 1)) {
		PT_YIELD(dom, PT_Y_ADVANCE_CHECKED, 0, g);
		atomic_compare_exchange_strong_explicit(&dom->epoch, &g, g + 1,
							memory_order_seq_cst,
							memory_order_relaxed);
	}
}

static void wait_list(struct iopgt_domain *dom, struct pt_table *list,
		      struct pt_table *tail, unsigned long n)
{
	struct pt_table *head;

	head = atomic_load_explicit(&dom->waiting, memory_order_relaxed);
	do {
		tail->next = head;
	} while (!atomic_compare_exchange_weak_explicit(
		&dom->waiting, &head, list, memory_order_release,
		memory_order_relaxed));
	pt_stat_add(&dom->st.pages_waiting, n);
}

/* Reclaim tables that were unlinked and whose flush has completed: now if
 * no walker is counted, else once the epoch has advanced twice. */
static void reclaim_list(struct iopgt_domain *dom, struct pt_table *list,
			 unsigned long n)
{
	struct pt_table *tail = list;
	uint64_t tag;

	/* Pairs with the fence in pt_walk_enter(). */
	atomic_thread_fence(memory_order_seq_cst);
	if ((dom->hooks & PT_HOOK_IGNORE_WALKERS) || no_walkers(dom)) {
		release_list(dom, list);
		return;
	}
	tag = atomic_load_explicit(&dom->epoch, memory_order_seq_cst);
	for (;; tail = tail->next) {
		tail->epoch = tag;
		if (!tail->next)
			break;
	}
	wait_list(dom, list, tail, n);
	try_advance(dom);
}

void iopgt__reclaim_waiting(struct iopgt_domain *dom)
{
	struct pt_table *list, *keep = NULL, *keep_tail = NULL;
	unsigned long n = 0, kept = 0;
	bool all;
	uint64_t g;

	if (!atomic_load_explicit(&dom->waiting, memory_order_relaxed))
		return;
	try_advance(dom);
	try_advance(dom);
	list = atomic_exchange_explicit(&dom->waiting, NULL,
					memory_order_acquire);
	atomic_thread_fence(memory_order_seq_cst);
	all = (dom->hooks & PT_HOOK_IGNORE_WALKERS) || no_walkers(dom);
	g = atomic_load_explicit(&dom->epoch, memory_order_seq_cst);
	while (list) {
		struct pt_table *t = list;

		list = t->next;
		n++;
		if (all || t->epoch + 2 <= g) {
			iopgt__table_release(dom, t);
			continue;
		}
		t->next = keep;
		keep = t;
		if (!keep_tail)
			keep_tail = t;
		kept++;
	}
	atomic_fetch_sub_explicit(&dom->st.pages_waiting, n,
				  memory_order_relaxed);
	if (keep)
		wait_list(dom, keep, keep_tail, kept);
}

static void flush(struct iopgt_domain *dom, struct iopgt_gather *g, bool all)
{
	enum iopgt_flush_kind kind = g->kind;

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

static void sync_gather(struct iopgt_domain *dom, struct iopgt_gather *g,
			bool all)
{
	struct pt_table *list = g->tables;
	unsigned long n = g->nr_tables;

	if (list && (dom->hooks & PT_HOOK_FREE_BEFORE_FLUSH)) {
		release_list(dom, list); /* broken on purpose: rule 2 */
		list = NULL;
	}
	if (IOPGT_DEBUG)
		atomic_fetch_sub_explicit(&dom->gathered, (long)n,
					  memory_order_relaxed);
	flush(dom, g, all);
	if (list)
		reclaim_list(dom, list, n);
	if (atomic_load_explicit(&dom->waiting, memory_order_relaxed))
		iopgt__reclaim_waiting(dom);
	gather_reset(g);
}

static __attribute__((noinline)) int sync_bind(struct iopgt_domain *dom,
						      struct iopgt_gather *g)
{
	int r = iopgt__gather_bind(dom, g);

	return r ? r : iopgt_sync(dom, g);
}

/* iopgt_sync with tables to reclaim or a test hook. */
static __attribute__((noinline)) int sync_tables(struct iopgt_domain *dom,
						 struct iopgt_gather *g)
{
	sync_gather(dom, g, false);
	return 0;
}

/* iopgt_sync with no table to reclaim: at most one flush. */
static __attribute__((noinline)) int sync_flush(struct iopgt_domain *dom,
						struct iopgt_gather *g)
{
	enum iopgt_flush_kind kind = g->kind;

	if (g->iova <= g->last) {
		dom->cfg.flush.flush_range(dom->cfg.flush.arg, g->iova, g->last,
					   kind);
		pt_stat_add(&pt_shard(dom)->flushes[kind], 1);
	}
	g->kind = IOPGT_FLUSH_NONE;
	g->iova = UINT64_MAX;
	g->last = 0;
	if (atomic_load_explicit(&dom->waiting, memory_order_relaxed))
		iopgt__reclaim_waiting(dom);
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
	if (g->tables || dom->hooks)
		return sync_tables(dom, g);
	if (g->kind != IOPGT_FLUSH_NONE)
		return sync_flush(dom, g);
	g->iova = UINT64_MAX;
	g->last = 0;
	if (atomic_load_explicit(&dom->waiting, memory_order_relaxed))
		return sync_waiting(dom);
	return 0;
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
	g.dom = dom;
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
	iopgt__reclaim_waiting(dom);
	iopgt__cache_trim(dom);
	return 0;
}
