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

	pt_assert("a root is never unlinked", !pt_pinned(t));
	pt_gather_range(g, t->iova, t->iova + span - 1, IOPGT_FLUSH_WALK);
	if (IOPGT_DEBUG)
		atomic_fetch_add_explicit(&dom->gathered, 1,
					  memory_order_relaxed);
	t->next = g->tables;
	g->tables = t;
	g->nr_tables++;
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
	dom->strat->poll(dom);
	iopgt__cache_trim(dom);
	return 0;
}
