/* SPDX-License-Identifier: MIT */
/*
 * A deterministic scheduler for race scenarios (tests/test_races.c).
 *
 * Controlled threads run one library call each. They stop where a rule
 * says: at a named yield point of the engine (enum pt_yield_point in
 * src/testhook.h, reached through the domain's yield hook in a debug
 * build), matched by point, table level and table IOVA and counted to an
 * occurrence; inside a table during a lookup (the walk hook, matched by the
 * table's physical address); or on a trap page (a table page made
 * inaccessible, for the windows no yield point covers). The test then
 * releases them in the order the scenario needs, so the same interleaving
 * runs every time.
 *
 * A thread that reports PT_Y_WAIT_FROZEN is "blocked": it waits for a
 * table another (stopped) thread holds frozen, and the scenario may then
 * release that other thread. Every wait of the test has a timeout: a
 * thread that does not get where it is expected is reported by name with
 * the last point it reported; a thread that never finishes (a hang in the
 * library) is reported, every stopped thread is released, and if the hang
 * still does not resolve the process prints why and exits (_exit(1)), so
 * that CI never hangs.
 *
 * Failures are counted (sched_violation) rather than thrown, so that a
 * scenario can still clean up; sched_free returns the count.
 *
 * Also here, because the trap and the use-after-free check share one
 * SIGSEGV handler: a table allocator (struct smem) that gives every table
 * page its own mapping, keeps freed pages mapped but inaccessible until the
 * end (a later access is reported as a violation, then allowed, so the
 * scenario goes on), and keeps freed descriptors intact (so a walker that
 * holds a freed descriptor reads stale data, not freed heap).
 */
#ifndef IOPGT_TEST_SCHED_H
#define IOPGT_TEST_SCHED_H

#include <stddef.h>
#include <stdint.h>

#include "iopgt.h"
#include "testhook.h"

/* Pseudo points, after the engine's: inside a table during a lookup (walk
 * hook; level and iova of the table), and a fault on the trap page. */
#define SCHED_P_WALK (PT_Y_COUNT + 0)
#define SCHED_P_TRAP (PT_Y_COUNT + 1)
#define SCHED_NPOINTS (PT_Y_COUNT + 2)

#define SCHED_ANY_LEVEL (-1)
#define SCHED_ANY_IOVA UINT64_MAX

enum sched_state {
	SCHED_NEW = 1 << 0,     /* created, not started */
	SCHED_RUNNING = 1 << 1,
	SCHED_STOPPED = 1 << 2, /* at a rule (or the trap), until released */
	SCHED_BLOCKED = 1 << 3, /* reported PT_Y_WAIT_FROZEN, still waiting */
	SCHED_DONE = 1 << 4,    /* its function returned */
};

struct sched;
struct sched_thread;

/* The name of a point (yield or pseudo). */
const char *sched_point_name(unsigned point);

/* 1 if the library calls yield hooks (a debug build), 0 if not: probes a
 * lookup, a map and an unmap on dom with a counting hook. */
int sched_hooks_available(struct iopgt_domain *dom);

/* A scheduler for one scenario on dom (installs the yield and walk hooks;
 * `what` prefixes every message). Timeouts: IOPGT_RACE_TIMEOUT_MS (2000). */
struct sched *sched_new(struct iopgt_domain *dom, const char *what, ...)
	__attribute__((format(printf, 2, 3)));
/* Remove the hooks from the domain (before it is destroyed); s stays
 * usable for messages. */
void sched_detach(struct sched *s);
/* Join what is left, remove the hooks (unless detached) and free s.
 * Returns the violations counted. */
unsigned long sched_free(struct sched *s);

/* Count a violation and print it with the scenario's name. */
void sched_violation(struct sched *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
unsigned long sched_violations(const struct sched *s);
/* Print a note with the scenario's name (not a failure). */
void sched_note(struct sched *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A thread that will run fn(arg); not started. */
struct sched_thread *sched_thread(struct sched *s, const char *name,
				  void (*fn)(void *arg), void *arg);
/* Stop at the occurrence-th time (1: the first) the thread reaches point
 * with a matching level and iova (SCHED_ANY_*). Set before sched_start or
 * while the thread is stopped. */
void sched_stop_at(struct sched_thread *t, unsigned point, int level,
		   uint64_t iova, unsigned occurrence);
/* Stop when a lookup of the thread enters the table at pa. */
void sched_stop_in_table(struct sched_thread *t, uint64_t pa,
			 unsigned occurrence);
void sched_start(struct sched_thread *t);
/* The thread's state now, without waiting. */
enum sched_state sched_state(const struct sched_thread *t);

/* Wait until the thread's state is one of mask (enum sched_state bits) and
 * return it. A timeout is a hang: reported, recovered if it can be (every
 * stopped thread released), else the process exits; returns the state
 * after recovery. */
enum sched_state sched_wait(struct sched_thread *t, unsigned mask);
/* Resume a stopped thread; it runs to its next rule. If it stopped on the
 * trap, the trap is disarmed first. */
void sched_release(struct sched_thread *t);
/* Wait until the thread is done (a hang as above) and join it. */
void sched_join(struct sched_thread *t);
/* Where the thread stopped last (valid while SCHED_STOPPED). */
void sched_stopped_at(const struct sched_thread *t, unsigned *point,
		      unsigned *level, uint64_t *iova);
const char *sched_name(const struct sched_thread *t);
/* How often it reported PT_Y_WAIT_FROZEN, in all. */
unsigned long sched_waits(const struct sched_thread *t);

/* Run fn(arg) on a new thread and wait for it (a hang as above): for the
 * calls that must complete. */
void sched_run(struct sched *s, const char *name, void (*fn)(void *arg),
	       void *arg);

/* The trap: make [va, va + len) inaccessible (page aligned, table pages
 * of an smem allocator); the next access stops the thread that makes it
 * (SCHED_P_TRAP) until it is released (which disarms the trap first). */
void sched_trap_arm(struct sched *s, const void *va, size_t len);
void sched_trap_disarm(struct sched *s);

/* ---- the table allocator ---- */

struct smem;

struct smem *smem_new(void);
/* Fill mem with its callbacks. */
void smem_ops(struct smem *m, struct iopgt_mem_ops *mem);
/* Called on every table_free, with the page's pa, in the freeing thread. */
void smem_on_free(struct smem *m, void (*fn)(void *arg, uint64_t pa),
		  void *arg);
/* Counts: table pages and descriptors allocated and freed; accesses to
 * freed pages seen (and the first, described in buf). */
struct smem_counts {
	uint64_t table_allocs, table_frees, meta_allocs, meta_frees;
	uint64_t double_frees;
	uint64_t uaf;  /* accesses to freed table pages */
	char first_uaf[160];
};
void smem_counts(struct smem *m, struct smem_counts *c);
/* True if pa is a table page this allocator freed. */
int smem_is_freed(struct smem *m, uint64_t pa);
/* Unmap everything, free the kept descriptors and m. */
void smem_free(struct smem *m);

#endif
