/* SPDX-License-Identifier: MIT */
/*
 * The deferred worker strategy (hosted builds): freeing table pages is
 * taken off the threads that sync, as a hypervisor frees page-table pages
 * from a per-CPU tasklet after the IOMMU flush.
 *
 *   walker  the epoch's (pt_walk_enter): the worker frees a table once
 *           the epoch has advanced twice since its sync, or once no
 *           walker is counted.
 *   retire  the syncing thread tags its batch with the epoch (after the
 *           fence that pairs with the walkers') and pushes it, whole, on
 *           its own queue for the domain: a stack that only this thread
 *           pushes on and only the worker takes whole, so the push is an
 *           uncontended compare-and-swap. It wakes the worker only when
 *           the domain's pending pages were zero: the worker is never
 *           woken for an empty queue, and never twice for one burst.
 *   worker  one thread per domain takes every queue whole, advances the
 *           epoch, frees what is due at most PT_WORKER_BATCH pages at a
 *           time with a sched_yield() between batches, and waits a little
 *           for walkers when nothing is due; it sleeps while nothing is
 *           pending.
 *   exit    a thread that exits hands the pages on its queues to the
 *           domain's orphan list, which the worker drains like a queue,
 *           and frees the queue for the next thread (a thread-specific
 *           key's destructor), so no page is lost.
 *   bound   a sync after which more than PT_WORKER_MAX_PENDING pages are
 *           queued waits until the worker has brought them under it
 *           (iopgt_stats.reclaim_waits counts those syncs), so the memory
 *           waiting stays bounded when the worker falls behind.
 *   poll, barrier (iopgt_reclaim, destroy)  wait until nothing is pending.
 *
 * A queue is found through a small per-thread table of (domain, id,
 * queue); a domain's queues hang on the domain, so that the worker sees
 * every one and destroy frees them. A registry of live domains (one
 * mutex, taken at create, destroy and thread exit) keeps a thread that
 * exits from handing pages to a domain destroyed meanwhile.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <sched.h>
#include <time.h>

#include "pt.h"

#define PT_WORKER_BATCH 512 /* pages freed between two yields */
/* Pages a domain's queues may hold before a sync waits for the worker to
 * bring them back under it: RCU's default bound. Without it, a storm of
 * unmaps on a machine whose worker gets less CPU than the unmapping
 * threads queued pages without limit. */
#define PT_WORKER_MAX_PENDING PT_PENDING_DEFAULT
#define PT_WORKER_TL 8      /* domains a thread keeps its queue for */

struct wq {
	_Atomic(struct pt_table *) head; /* pushed by its thread, taken whole */
	struct wq *next;                 /* the domain's queues */
	_Atomic(int) owned;              /* a live thread pushes on it */
};

struct worker {
	struct iopgt_domain *dom;
	uint64_t id;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t work, idle;
	struct wq *queues; /* append only, under mu */
	_Atomic(struct pt_table *) orphans;
	bool stop;
	struct worker *next_live; /* the registry */
};

/* The registry of live domains of this strategy. */
static pthread_mutex_t live_mu = PTHREAD_MUTEX_INITIALIZER;
static struct worker *live;
static uint64_t next_id = 1;

/* Each thread's queues, and the key whose destructor hands them on. */
static _Thread_local struct {
	struct worker *w;
	uint64_t id;
	struct wq *q;
} tl[PT_WORKER_TL];
static _Thread_local unsigned tl_clock;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t exit_key;

static struct worker *worker_of(const struct iopgt_domain *dom)
{
	return dom->strat_state;
}

/* The pages queued and not yet freed: the domain's waiting count, which
 * no one else changes in a domain of this strategy. */
static _Atomic uint64_t *pending(struct worker *w)
{
	return &w->dom->st.pages_waiting;
}

/* Push the chain first..last (linked by next) on *head. */
static void push_chain(_Atomic(struct pt_table *) *head, struct pt_table *first,
		       struct pt_table *last)
{
	struct pt_table *h = atomic_load_explicit(head, memory_order_relaxed);

	do {
		last->next = h;
	} while (!atomic_compare_exchange_weak_explicit(
		head, &h, first, memory_order_release, memory_order_relaxed));
}

static bool is_live(const struct worker *w, uint64_t id)
{
	for (const struct worker *l = live; l; l = l->next_live)
		if (l == w && l->id == id)
			return true;
	return false;
}

/* Thread exit: hand every queue's pages to its domain's orphans (the
 * splice of a dead CPU's list onto a live one) and give the queue up. */
static void thread_exit(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&live_mu);
	for (unsigned i = 0; i < PT_WORKER_TL; i++) {
		struct worker *w = tl[i].w;
		struct pt_table *first, *last;

		if (!w || !is_live(w, tl[i].id)) {
			tl[i].w = NULL;
			continue;
		}
		first = atomic_exchange_explicit(&tl[i].q->head, NULL,
						 memory_order_acquire);
		if (first && (w->dom->hooks & PT_HOOK_BREAK_HANDOVER)) {
			/* Broken on purpose: the pages are dropped (and no
			 * longer counted), never freed. */
			unsigned long n = 1;

			for (last = first; last->next; last = last->next)
				n++;
			atomic_fetch_sub_explicit(pending(w), n,
						  memory_order_acq_rel);
		} else if (first) {
			for (last = first; last->next; last = last->next)
				;
			push_chain(&w->orphans, first, last);
		}
		atomic_store_explicit(&tl[i].q->owned, 0, memory_order_release);
		tl[i].w = NULL;
	}
	pthread_mutex_unlock(&live_mu);
}

static void make_key(void)
{
	pthread_key_create(&exit_key, thread_exit);
}

/* This thread's queue for w, or NULL (no memory). */
static struct wq *my_queue(struct worker *w)
{
	struct iopgt_domain *dom = w->dom;
	struct wq *q;
	unsigned slot;

	for (unsigned i = 0; i < PT_WORKER_TL; i++)
		if (tl[i].w == w && tl[i].id == w->id)
			return tl[i].q;
	pthread_once(&key_once, make_key);
	/* Any non-NULL value makes the destructor run at exit. */
	pthread_setspecific(exit_key, (void *)1);
	pthread_mutex_lock(&w->mu);
	for (q = w->queues; q; q = q->next) {
		int free_q = 0;

		if (atomic_compare_exchange_strong_explicit(
			    &q->owned, &free_q, 1, memory_order_acquire,
			    memory_order_relaxed))
			break;
	}
	if (!q) {
		q = dom->cfg.mem.meta_alloc(dom->cfg.mem.arg, sizeof(*q));
		if (q) {
			atomic_init(&q->head, NULL);
			atomic_init(&q->owned, 1);
			q->next = w->queues;
			w->queues = q;
		}
	}
	pthread_mutex_unlock(&w->mu);
	if (!q)
		return NULL;
	/* A full table gives up its oldest queue: its pages stay on it,
	 * where the worker finds them, and another thread may take it. */
	slot = tl_clock++ % PT_WORKER_TL;
	if (tl[slot].w) {
		pthread_mutex_lock(&live_mu);
		if (is_live(tl[slot].w, tl[slot].id))
			atomic_store_explicit(&tl[slot].q->owned, 0,
					      memory_order_release);
		pthread_mutex_unlock(&live_mu);
	}
	tl[slot].w = w;
	tl[slot].id = w->id;
	tl[slot].q = q;
	return q;
}

static void worker_retire(struct iopgt_domain *dom, struct pt_table *list,
			  unsigned long n)
{
	struct worker *w = worker_of(dom);
	struct pt_table *tail;
	struct wq *q = my_queue(w);
	uint64_t was;

	/* Pairs with the fence in pt_walk_enter(), as the epoch's retire. */
	atomic_thread_fence(memory_order_seq_cst);
	tail = iopgt__epoch_tag(dom, list);
	/* Counted before it is visible, so the worker never frees more than
	 * pending says. Without a queue (no memory for one) the orphans take
	 * the pages. Only the sync that found nothing pending wakes the
	 * worker. */
	was = atomic_fetch_add_explicit(pending(w), n, memory_order_acq_rel);
	push_chain(q ? &q->head : &w->orphans, list, tail);
	pt_stat_add(&dom->st.deferred, 1);
	if (was && was + n <= PT_WORKER_MAX_PENDING)
		return;
	pthread_mutex_lock(&w->mu);
	if (!was)
		pthread_cond_signal(&w->work);
	if (was + n > PT_WORKER_MAX_PENDING) {
		/* Over the bound: wait, outside any walker section (sync
		 * enters none), for the worker to catch up. It is awake:
		 * it sleeps only while nothing is pending. */
		pt_stat_add(&dom->st.sync_waits, 1);
		while (atomic_load_explicit(pending(w), memory_order_acquire) >
		       PT_WORKER_MAX_PENDING)
			pthread_cond_wait(&w->idle, &w->mu);
	}
	pthread_mutex_unlock(&w->mu);
}

/* Take every queue whole onto *held. */
static void collect(struct worker *w, struct pt_table **held)
{
	struct wq *q;

	pthread_mutex_lock(&w->mu);
	q = w->queues;
	pthread_mutex_unlock(&w->mu);
	for (; q; q = q->next) {
		struct pt_table *t = atomic_exchange_explicit(
			&q->head, NULL, memory_order_acquire);
		while (t) {
			struct pt_table *next = t->next;
			t->next = *held;
			*held = t;
			t = next;
		}
	}
	for (struct pt_table *t = atomic_exchange_explicit(
		     &w->orphans, NULL, memory_order_acquire);
	     t;) {
		struct pt_table *next = t->next;
		t->next = *held;
		*held = t;
		t = next;
	}
}

/* Free what of *held is due, PT_WORKER_BATCH pages at a time; returns
 * how many were freed. */
static unsigned long free_due(struct worker *w, struct pt_table **held)
{
	struct iopgt_domain *dom = w->dom;
	struct pt_table *keep = NULL, *batch = NULL, *t = *held;
	unsigned long freed = 0, nb = 0;
	bool all;
	uint64_t g;

	iopgt__epoch_advance(dom);
	atomic_thread_fence(memory_order_seq_cst);
	all = iopgt__epoch_quiet(dom);
	g = atomic_load_explicit(&dom->epoch, memory_order_seq_cst);
	while (t) {
		struct pt_table *next = t->next;

		if (all || t->epoch + 2 <= g) {
			t->next = batch;
			batch = t;
			if (++nb == PT_WORKER_BATCH) {
				freed += iopgt__release_by(dom, batch,
							   PT_BY_WORKER);
				batch = NULL;
				nb = 0;
				sched_yield();
			}
		} else {
			t->next = keep;
			keep = t;
		}
		t = next;
	}
	if (batch)
		freed += iopgt__release_by(dom, batch, PT_BY_WORKER);
	*held = keep;
	return freed;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct pt_table *held = NULL;

	for (;;) {
		unsigned long freed;

		pthread_mutex_lock(&w->mu);
		while (!w->stop &&
		       !atomic_load_explicit(pending(w), memory_order_acquire))
			pthread_cond_wait(&w->work, &w->mu);
		if (w->stop &&
		    !atomic_load_explicit(pending(w), memory_order_acquire)) {
			pthread_mutex_unlock(&w->mu);
			break;
		}
		pthread_mutex_unlock(&w->mu);
		PT_YIELD(w->dom, PT_Y_WORKER_COLLECT, 0, 0);
		collect(w, &held);
		freed = free_due(w, &held);
		if (freed) {
			uint64_t was = atomic_fetch_sub_explicit(
				pending(w), freed, memory_order_acq_rel);

			/* Nothing left (the barrier's waiters), or back under
			 * the bound (syncs that wait for it). */
			if (was == freed ||
			    (was > PT_WORKER_MAX_PENDING &&
			     was - freed <= PT_WORKER_MAX_PENDING)) {
				pthread_mutex_lock(&w->mu);
				pthread_cond_broadcast(&w->idle);
				pthread_mutex_unlock(&w->mu);
			}
		} else {
			/* Walkers hold the epoch back, or the pages are still
			 * on their way onto a queue: let them move on. */
			struct timespec ts = { 0, 100 * 1000 };

			nanosleep(&ts, NULL);
		}
	}
	return NULL;
}

/* Wait until nothing is pending (every page queued so far is freed). */
static void worker_barrier(struct iopgt_domain *dom)
{
	struct worker *w = worker_of(dom);

	pthread_mutex_lock(&w->mu);
	while (atomic_load_explicit(pending(w), memory_order_acquire)) {
		pthread_cond_signal(&w->work);
		pthread_cond_wait(&w->idle, &w->mu);
	}
	pthread_mutex_unlock(&w->mu);
}

static int worker_setup(struct iopgt_domain *dom)
{
	struct worker *w = dom->cfg.mem.meta_alloc(dom->cfg.mem.arg,
						   sizeof(*w));

	if (!w)
		return -ENOMEM;
	pt_memset(w, 0, sizeof(*w));
	w->dom = dom;
	atomic_init(&w->orphans, NULL);
	if (pthread_mutex_init(&w->mu, NULL))
		goto fail_mu;
	if (pthread_cond_init(&w->work, NULL))
		goto fail_work;
	if (pthread_cond_init(&w->idle, NULL))
		goto fail_idle;
	dom->strat_state = w;
	pthread_mutex_lock(&live_mu);
	w->id = next_id++;
	w->next_live = live;
	live = w;
	pthread_mutex_unlock(&live_mu);
	if (pthread_create(&w->th, NULL, worker_main, w)) {
		pthread_mutex_lock(&live_mu);
		live = w->next_live;
		pthread_mutex_unlock(&live_mu);
		pthread_cond_destroy(&w->idle);
		goto fail_idle;
	}
	return 0;
fail_idle:
	pthread_cond_destroy(&w->work);
fail_work:
	pthread_mutex_destroy(&w->mu);
fail_mu:
	dom->strat_state = NULL;
	dom->cfg.mem.meta_free(dom->cfg.mem.arg, w, sizeof(*w));
	return -ENOMEM;
}

static void worker_teardown(struct iopgt_domain *dom)
{
	struct worker *w = worker_of(dom);
	struct worker **p;

	/* Out of the registry first: a thread that exits from now on leaves
	 * this domain's queues alone. */
	pthread_mutex_lock(&live_mu);
	for (p = &live; *p != w; p = &(*p)->next_live)
		;
	*p = w->next_live;
	pthread_mutex_unlock(&live_mu);
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_signal(&w->work);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->th, NULL);
	while (w->queues) {
		struct wq *q = w->queues;

		w->queues = q->next;
		dom->cfg.mem.meta_free(dom->cfg.mem.arg, q, sizeof(*q));
	}
	pthread_cond_destroy(&w->idle);
	pthread_cond_destroy(&w->work);
	pthread_mutex_destroy(&w->mu);
	dom->strat_state = NULL;
	dom->cfg.mem.meta_free(dom->cfg.mem.arg, w, sizeof(*w));
}

const struct pt_strategy iopgt__strategy_worker = {
	.name = "worker",
	.walk = PT_WALK_EPOCH,
	.setup = worker_setup,
	.teardown = worker_teardown,
	.retire = worker_retire,
	.poll = worker_barrier,
	.barrier = worker_barrier,
};
