/* SPDX-License-Identifier: MIT */
/*
 * The RCU strategy: liburcu, with the flavor the application chose
 * (iopgt_config.rcu_flavor: memb, mb, qsbr, bp or signal, through liburcu's
 * struct rcu_flavor_struct, as its rculfhash takes it). The library calls
 * the flavor only through that structure, so it links no flavor itself.
 *
 *   walker  every public call that reads the tree holds the flavor's
 *           read-side lock for its whole length (nested inside the
 *           caller's own, if the caller holds one). Under QSBR that lock
 *           is empty: a call does no atomic read-modify-write for the
 *           walker at all, and the application's threads announce their
 *           quiescent states as QSBR requires.
 *   retire  the tables one sync frees go to RCU as one callback (one
 *           call_rcu for the batch, not one a page). While more than
 *           rcu_max_pending pages wait in callbacks of the domain, or if
 *           the batch's record cannot be allocated, the syncing thread
 *           waits for a grace period itself (synchronize_rcu) and frees
 *           the batch directly: nothing is lost, and memory waiting for
 *           grace periods stays bounded.
 *   poll    (iopgt_reclaim) and barrier (destroy) wait for every callback
 *           queued so far (rcu_barrier), so that each of the domain's has
 *           run.
 *
 * Callbacks run on liburcu's call_rcu thread: they return pages to their
 * segments under the segment lock, like any release, and may call
 * table_free.
 */
#include <urcu/call-rcu.h>
#include <urcu/compiler.h>
#include <urcu/flavor.h>

#include "pt.h"

struct rcu_batch {
	struct rcu_head head;
	struct iopgt_domain *dom;
	struct pt_table *list;
	unsigned long n;
};

static const struct rcu_flavor_struct *flavor(const struct iopgt_domain *dom)
{
	return dom->cfg.rcu_flavor;
}

/* Walkers call the flavor's read-side lock and unlock directly. */
static int rcu_setup(struct iopgt_domain *dom)
{
	dom->walk_call.enter = flavor(dom)->read_lock;
	dom->walk_call.leave = flavor(dom)->read_unlock;
	return 0;
}

uint64_t iopgt__rcu_max_pending(const struct iopgt_domain *dom)
{
	return dom->cfg.rcu_max_pending ? dom->cfg.rcu_max_pending
					: PT_PENDING_DEFAULT;
}

static void rcu_free_batch(struct rcu_head *head)
{
	struct rcu_batch *b = caa_container_of(head, struct rcu_batch, head);
	struct iopgt_domain *dom = b->dom;
	unsigned long n = b->n;

	iopgt__release_by(dom, b->list, PT_BY_WORKER);
	dom->cfg.mem.meta_free(dom->cfg.mem.arg, b, sizeof(*b));
	/* Last: the barrier's caller may destroy the domain once it reads 0
	 * (the barrier waits for the callback to return in any case). */
	atomic_fetch_sub_explicit(&dom->st.pages_waiting, n,
				  memory_order_release);
}

bool iopgt__rcu_defer(struct iopgt_domain *dom, struct pt_table *list,
		      unsigned long n)
{
	struct rcu_batch *b = dom->cfg.mem.meta_alloc(dom->cfg.mem.arg,
						      sizeof(*b));

	if (!b)
		return false;
	b->dom = dom;
	b->list = list;
	b->n = n;
	pt_stat_add(&dom->st.pages_waiting, n);
	pt_stat_add(&dom->st.deferred, 1);
	flavor(dom)->update_call_rcu(&b->head, rcu_free_batch);
	return true;
}

static void rcu_retire(struct iopgt_domain *dom, struct pt_table *list,
		       unsigned long n)
{
	/* The domain's waiting pages are its callbacks' (the epoch's list
	 * is not used by this strategy). Over the bound, or with no record:
	 * wait here, outside any read-side section of ours (sync enters
	 * none). */
	if (atomic_load_explicit(&dom->st.pages_waiting,
				 memory_order_relaxed) + n >
		    iopgt__rcu_max_pending(dom) ||
	    !iopgt__rcu_defer(dom, list, n)) {
		flavor(dom)->update_synchronize_rcu();
		pt_stat_add(&dom->st.sync_waits, 1);
		iopgt__release_by(dom, list, PT_BY_CALLER);
	}
}

static void rcu_barrier_all(struct iopgt_domain *dom)
{
	if (atomic_load_explicit(&dom->st.pages_waiting, memory_order_acquire))
		flavor(dom)->barrier();
}

const struct pt_strategy iopgt__strategy_rcu = {
	.name = "rcu",
	.walk = PT_WALK_CALL,
	.setup = rcu_setup,
	.retire = rcu_retire,
	.poll = rcu_barrier_all,
	.barrier = rcu_barrier_all,
};
