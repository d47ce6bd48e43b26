/* SPDX-License-Identifier: MIT */
/*
 * Reclaim strategies: how a table that was unlinked, and whose flush has
 * completed, is freed while lock-free walkers may still be reading it
 * (rule 5). The domain's strategy is fixed at create (iopgt_config.strategy;
 * pt.h, "Reclaim strategies", has the interface):
 *
 *   epoch        the default: every call counts itself as a walker under
 *                the parity of the domain's epoch; a retired table waits,
 *                tagged with the epoch, until the epoch has advanced twice
 *                (pt_walk_enter in pt.h; docs/protocol.md has the argument).
 *   after-flush  no concurrent walker by contract (the caller serializes
 *                every call on the domain): a table is freed as soon as its
 *                flush has completed, and a call marks nothing.
 *   rcu          the application's liburcu flavor (reclaim_rcu.c, hosted
 *                builds with liburcu's headers).
 */
#include "pt.h"

unsigned long iopgt__release_by(struct iopgt_domain *dom, struct pt_table *t,
				unsigned who)
{
	uint64_t t0 = dom->clock_ns ? dom->clock_ns() : 0;
	unsigned long n = iopgt__release_list(dom, t);

	if (dom->clock_ns)
		pt_stat_add(&dom->st.free_ns[who], dom->clock_ns() - t0);
	pt_stat_add(&dom->st.freed_by[who], n);
	return n;
}

/* Walkers of a strategy with enter and leave (PT_WALK_CALL), and a walker
 * counted under both of the epoch's parities: out of line, off the path of
 * the default. */
pt_walk_t iopgt__walk_enter_call(struct iopgt_domain *dom)
{
	dom->walk_call.enter();
	return PT_WALK_T_CALL;
}

void iopgt__walk_leave_slow(struct iopgt_domain *dom, pt_walk_t w)
{
	if (w == PT_WALK_T_CALL) {
		dom->walk_call.leave();
		return;
	}
	/* The epoch's walker, counted under both parities: the two counters
	 * are adjacent in their shard, the even one 16-byte aligned. */
	w &= ~(pt_walk_t)1;
	atomic_fetch_sub_explicit((_Atomic long *)w, 1, memory_order_release);
	atomic_fetch_sub_explicit((_Atomic long *)(w ^ sizeof(long)), 1,
				  memory_order_release);
}

/* ------------------------------------------------------------------------
 * The epoch.
 */

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

struct pt_table *iopgt__epoch_tag(struct iopgt_domain *dom,
				  struct pt_table *list)
{
	uint64_t tag = atomic_load_explicit(&dom->epoch, memory_order_seq_cst);

	for (;; list = list->next) {
		list->epoch = tag;
		if (!list->next)
			return list;
	}
}

/* Reclaim tables that were unlinked and whose flush has completed: now if
 * no walker is counted, else once the epoch has advanced twice. */
static void epoch_retire(struct iopgt_domain *dom, struct pt_table *list,
			 unsigned long n)
{
	/* Pairs with the fence in pt_walk_enter(). */
	atomic_thread_fence(memory_order_seq_cst);
	if (no_walkers(dom)) {
		iopgt__release_by(dom, list, PT_BY_CALLER);
		return;
	}
	wait_list(dom, list, iopgt__epoch_tag(dom, list), n);
	try_advance(dom);
}

void iopgt__reclaim_waiting(struct iopgt_domain *dom)
{
	struct pt_table *list, *keep = NULL, *keep_tail = NULL, *due = NULL;
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
	all = no_walkers(dom);
	g = atomic_load_explicit(&dom->epoch, memory_order_seq_cst);
	while (list) {
		struct pt_table *t = list;

		list = t->next;
		n++;
		if (all || t->epoch + 2 <= g) {
			t->next = due;
			due = t;
			continue;
		}
		t->next = keep;
		keep = t;
		if (!keep_tail)
			keep_tail = t;
		kept++;
	}
	iopgt__release_by(dom, due, PT_BY_CALLER);
	atomic_fetch_sub_explicit(&dom->st.pages_waiting, n,
				  memory_order_relaxed);
	if (keep)
		wait_list(dom, keep, keep_tail, kept);
}

void iopgt__epoch_advance(struct iopgt_domain *dom)
{
	try_advance(dom);
	try_advance(dom);
}

bool iopgt__epoch_quiet(struct iopgt_domain *dom)
{
	return no_walkers(dom);
}

/* The barrier (destroy) is a poll: no call runs any more, so no walker
 * is counted, and what waits is freed. */
static const struct pt_strategy strategy_epoch = {
	.name = "epoch",
	.walk = PT_WALK_EPOCH,
	.retire = epoch_retire,
	.poll = iopgt__reclaim_waiting,
	.barrier = iopgt__reclaim_waiting,
};

/* ------------------------------------------------------------------------
 * After the flush, at once: no concurrent walker.
 */

static void after_flush_retire(struct iopgt_domain *dom, struct pt_table *list,
			       unsigned long n)
{
	(void)n;
	iopgt__release_by(dom, list, PT_BY_CALLER);
}

static void nothing(struct iopgt_domain *dom)
{
	(void)dom;
}

static const struct pt_strategy strategy_after_flush = {
	.name = "after-flush",
	.walk = PT_WALK_NONE,
	.retire = after_flush_retire,
	.poll = nothing,
	.barrier = nothing,
};

#if __STDC_HOSTED__
extern const struct pt_strategy iopgt__strategy_worker;
#endif

const struct pt_strategy *iopgt__strategy(const struct iopgt_config *cfg,
					  int *err)
{
	*err = 0;
	switch (cfg->strategy) {
	case IOPGT_STRATEGY_EPOCH:
		if (!cfg->rcu_flavor && !cfg->rcu_max_pending)
			return &strategy_epoch;
		break;
	case IOPGT_STRATEGY_AFTER_FLUSH:
		if (!cfg->rcu_flavor && !cfg->rcu_max_pending)
			return &strategy_after_flush;
		break;
	case IOPGT_STRATEGY_WORKER:
#if __STDC_HOSTED__
		if (!cfg->rcu_flavor && !cfg->rcu_max_pending)
			return &iopgt__strategy_worker;
		break;
#else
		*err = -EOPNOTSUPP;
		return NULL;
#endif
	case IOPGT_STRATEGY_RCU:
#if defined(IOPGT_HAVE_RCU) && IOPGT_HAVE_RCU
		if (cfg->rcu_flavor)
			return &iopgt__strategy_rcu;
		break;
#else
		*err = -EOPNOTSUPP;
		return NULL;
#endif
	default:
		break;
	}
	*err = -EINVAL;
	return NULL;
}

const char *iopgt_strategy_name(enum iopgt_strategy s)
{
	static const char *const names[] = { "epoch", "after-flush", "rcu",
					     "worker" };

	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s]
							       : "unknown";
}
