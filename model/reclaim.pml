/* SPDX-License-Identifier: MIT */
/*
 * The reclaim strategies that free on a thread of their own, at the level
 * of their queues, wake-ups and waits (docs/protocol.md, "The reclaim
 * strategies' model"). The writers' protocol and the epoch are checked in
 * protocol.pml; here a walker's protection is abstracted as a read-side
 * section, and "no walker that could hold a table remains" as a grace
 * period: a retired batch records which walkers were inside at its retire
 * (after its unlink and flush), and is due once each of them has left the
 * section it was in. That is what the epoch's two advances give the
 * worker, and what liburcu's grace period gives RCU.
 *
 * STRAT 1, RCU (src/reclaim_rcu.c): a sync retires its batch as one
 * callback, unless BOUND pages would then be pending: then the syncer
 * waits for a grace period itself and frees directly. A callback thread
 * runs the callbacks in order, each after its grace period. Destroy's
 * barrier waits for every callback queued.
 *
 * STRAT 2, the worker (src/reclaim_worker.c): a sync adds its pages to
 * pending (fetch-add), pushes them on its own thread's queue and, if
 * pending was 0, wakes the worker under the mutex. The worker sleeps
 * (condition variable) while nothing is pending, takes every queue and the
 * orphans whole, frees what is due, and subtracts what it freed; the one
 * that brings pending to 0 signals the barrier. A syncing thread exits
 * after its syncs: its queue is spliced onto the orphans. Destroy's
 * barrier waits until nothing is pending, then stops the worker.
 *
 * Checks (assert names, as in protocol.pml):
 *   walker_no_freed  a walker never reads a table that was freed;
 *   final_freed      at the end, after the barrier, every retired table is
 *                    freed (nothing lost) and nothing is pending;
 *   deadlock         (an invalid end state) no wait is left hanging: no
 *                    lost wake-up, no barrier that never returns.
 * Broken variants (-D...):
 *   RCU_NO_GRACE     the callback runs without waiting for the grace
 *                    period: walker_no_freed.
 *   WORKER_NO_WAIT   the worker frees without waiting for walkers:
 *                    walker_no_freed.
 *   WORKER_LOST_EXIT a thread that exits drops its queue (and its count):
 *                    final_freed.
 *   WORKER_WAKE_UNLOCKED the sync's wake-up is sent without the mutex, and
 *                    before its pages are counted: a lost wake-up
 *                    (deadlock: the barrier waits for ever).
 */

#ifndef STRAT
#define STRAT 2
#endif
#ifndef WALKERS
#define WALKERS 2
#endif
#define SYNCERS 2
#ifndef PER
#define PER 1 /* tables each syncer unlinks and retires, one a sync */
#endif
#define TABLES (SYNCERS * PER)
#ifndef BOUND
#define BOUND 1 /* RCU: pages that may wait in callbacks */
#endif

#define LINKED 0
#define RETIRED 1
#define FREED 2

/* Checks and witnesses, as in protocol.pml: CHECK(name, cond) fails with
 * the name in pan's message; the names are hidden, always 0. */
#define CHECK(name, c)	assert((c) || name)
hidden byte walker_no_freed;	/* a walker read a freed table */
hidden byte double_free;	/* a table freed twice, or never retired */
hidden byte final_freed;	/* at the end: a retired table not freed, or
				 * pages still counted pending */
#ifdef WITNESS
hidden byte witness;
#define REACH(n, c)	assert(!(WITNESS == (n) && (c)) || witness)
#else
#define REACH(n, c)	skip
#endif

byte state[TABLES];
/* Walkers' read-side sections: in[w] while inside, gen[w] counts the
 * sections it has left. */
bool in[WALKERS];
byte gen[WALKERS];
/* A batch's grace period: the walkers inside at its retire, and their gen
 * then. One batch per table here (each sync retires one table). */
bool snap_in[TABLES * WALKERS];
byte snap_gen[TABLES * WALKERS];
byte done_syncers;
/* Scratch of the d_steps below, set before use inside the same d_step:
 * not state (a value kept across steps goes to a local). */
hidden byte w, i, t2;
hidden byte due;

inline snapshot(t)
{
	w = 0;
	do
	:: w < WALKERS ->
		snap_in[t * WALKERS + w] = in[w];
		snap_gen[t * WALKERS + w] = gen[w];
		w++
	:: else -> break
	od
}

/* due = 1 once every walker inside at t's retire has left (use inside a
 * d_step). */
inline grace_over(t, due)
{
	due = 1;
	w = 0;
	do
	:: w < WALKERS ->
		if
		:: snap_in[t * WALKERS + w] && in[w] &&
		   gen[w] == snap_gen[t * WALKERS + w] -> due = 0
		:: else
		fi;
		w++
	:: else -> break
	od
}

inline free_table(t)
{
	CHECK(double_free, state[t] == RETIRED);
	state[t] = FREED
}

/* A walker: enter, load a pointer to a table that is linked at the load,
 * use it, leave. */
proctype walker(byte me)
{
	byte t;

	d_step { in[me] = 1 };
	/* the load: any table linked at that moment, or none */
	do
	:: atomic { t < TABLES && state[t] == LINKED -> break }
	:: t < TABLES -> t++
	:: t >= TABLES -> goto out
	od;
	/* the read of the table, any time later inside the section */
	CHECK(walker_no_freed, state[t] != FREED);
	/* W1, W2: a walker still reads a table retired under it */
	REACH(1, state[t] == RETIRED);
out:
	skip;
	d_step { in[me] = 0; gen[me]++ }
}

/* At the end: every table retired and freed, nothing pending. */
inline check_final()
{
	atomic {
		i = 0;
		do
		:: i < TABLES ->
			CHECK(final_freed, state[i] == FREED);
			i++
		:: else -> break
		od;
		CHECK(final_freed, pending == 0)
	}
}

#if STRAT == 1
/* ---------------------------------------------------------------- RCU */
chan callbacks = [TABLES] of { byte };
byte pending; /* pages in callbacks not yet run */
bool cb_idle = 1;

proctype callback_thread()
{
	byte t;
	bool ok;

end:	do
	:: atomic { callbacks ? t -> cb_idle = 0 };
#ifndef RCU_NO_GRACE
		do
		:: d_step { grace_over(t, due); ok = due }; if :: ok -> break :: else fi
		od;
#endif
		free_table(t);
		d_step { pending--; cb_idle = 1; t = 0 }
	od
}

proctype syncer(byte me)
{
	byte t = me * PER, k = 0;
	bool ok;

	do
	:: k < PER ->
		state[t] = RETIRED; /* unlinked, and the flush done */
		d_step { snapshot(t) };
		if
		:: atomic { pending + 1 <= BOUND -> pending++ };
			callbacks ! t
		:: else ->
			/* over the bound: synchronize_rcu, then free */
			REACH(2, 1);
			do
			:: d_step { grace_over(t, due); ok = due }; if :: ok -> break :: else fi
			od;
			free_table(t)
		fi;
		t++;
		k++
	:: else -> break
	od;
	skip;
	d_step { done_syncers++ }
}

init {
	atomic {
		i = 0;
		do
		:: i < WALKERS -> run walker(i); i++
		:: else -> break
		od;
		run syncer(0);
		run syncer(1);
		run callback_thread()
	}
	done_syncers == SYNCERS;
	/* destroy: rcu_barrier */
	(len(callbacks) == 0 && cb_idle);
	check_final()
}
#endif

#if STRAT == 2
/* ------------------------------------------------------------- worker */
byte queue[SYNCERS]; /* bit t: table t on that syncer's queue */
byte orphans;
byte pending;
bool stop;
/* The mutex and the two condition variables: a waiter is woken only by
 * a signal sent while it waits. */
bool mu;
bool work_waiting, work_signal;
bool idle_waiting, idle_signal;

inline lock() { atomic { mu == 0 -> mu = 1 } }
inline unlock() { mu = 0 }

/* pthread_cond_wait(&work, &mu): release, wait for a signal, take back. */
inline wait_work()
{
	atomic { work_waiting = 1; work_signal = 0; mu = 0 };
	atomic { work_signal -> work_waiting = 0; work_signal = 0 };
	lock()
}
inline signal_work() { d_step { if :: work_waiting -> work_signal = 1 :: else fi } }
inline wait_idle()
{
	atomic { idle_waiting = 1; idle_signal = 0; mu = 0 };
	atomic { idle_signal -> idle_waiting = 0; idle_signal = 0 };
	lock()
}
inline signal_idle() { d_step { if :: idle_waiting -> idle_signal = 1 :: else fi } }

proctype worker()
{
	byte held, freed, prev;

	do
	:: lock();
		do
		:: !stop && pending == 0 -> wait_work()
		:: else -> break
		od;
		if
		:: stop && pending == 0 -> unlock(); break
		:: else
		fi;
		unlock();
		/* take every queue whole, then the orphans */
		d_step { held = held | queue[0]; queue[0] = 0 };
		d_step { held = held | queue[1]; queue[1] = 0 };
		d_step { held = held | orphans; orphans = 0 };
		/* what is due, freed in one step (the grace period's end is
		 * what orders it after the walkers) */
		d_step {
			freed = 0;
			t2 = 0;
			do
			:: t2 < TABLES ->
				if
				:: held & (1 << t2) ->
#ifdef WORKER_NO_WAIT
					due = 1;
#else
					grace_over(t2, due);
#endif
					if
					:: due ->
						free_table(t2);
						held = held & ~(1 << t2);
						freed++
					:: else
					fi
				:: else
				fi;
				t2++
			:: else -> break
			od
		};
		if
		:: freed ->
			d_step { prev = pending; pending = pending - freed };
			if
			:: prev == freed -> lock(); signal_idle(); unlock()
			:: else
			fi;
			d_step { prev = 0; freed = 0 }
		:: else /* nothing due: wait a little (another round) */
			REACH(4, held != 0)
		fi
	od
}

proctype syncer(byte me)
{
	byte t = me * PER, k = 0, prev;

	do
	:: k < PER ->
		state[t] = RETIRED; /* unlinked, and the flush done */
		d_step { snapshot(t) }; /* the epoch tag */
#ifdef WORKER_WAKE_UNLOCKED
		if :: pending == 0 -> signal_work() :: else fi;
		d_step { prev = pending; pending++ };
		queue[me] = queue[me] | (1 << t);
#else
		d_step { prev = pending; pending++ };
		queue[me] = queue[me] | (1 << t);
		if
		:: prev == 0 -> lock(); signal_work(); unlock()
		:: else
		fi;
		prev = 0;
#endif
		t++;
		k++
	:: else -> break
	od;
	/* thread exit: splice the queue onto the orphans */
	skip;
#ifdef WORKER_LOST_EXIT
	d_step {
		t = queue[me];
		queue[me] = 0;
		k = 0;
		do
		:: k < TABLES -> if :: t & (1 << k) -> pending-- :: else fi; k++
		:: else -> break
		od
	};
#else
	/* W3: a thread exits with pages on its queue */
	REACH(3, queue[me] != 0);
	d_step { orphans = orphans | queue[me]; queue[me] = 0 };
#endif
	d_step { done_syncers++ }
}

init {
	atomic {
		i = 0;
		do
		:: i < WALKERS -> run walker(i); i++
		:: else -> break
		od;
		run syncer(0);
		run syncer(1);
		run worker()
	}
	done_syncers == SYNCERS;
	/* The worker, once woken, frees everything by itself: no lost
	 * wake-up (the barrier below would otherwise hide one, since it
	 * signals the worker too). */
	pending == 0;
	/* destroy: the barrier, then stop the worker */
	lock();
	do
	:: pending -> signal_work(); wait_idle()
	:: else -> break
	od;
	stop = 1;
	signal_work();
	unlock();
	check_final()
}
#endif
