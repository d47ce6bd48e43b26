/* SPDX-License-Identifier: MIT */
/*
 * The deterministic scheduler of the race scenarios; see sched.h.
 *
 * Every wait is a poll of atomics with short sleeps, on both sides: a
 * thread stopped on the trap waits inside a SIGSEGV handler, where only
 * atomics and nanosleep are safe, and the ordering of a scenario comes
 * from the states, never from the timing.
 */
#define _GNU_SOURCE /* MAP_ANONYMOUS, siginfo */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "sched.h"

#define MAX_THREADS 16
#define MAX_RULES 8

struct rule {
	unsigned point;
	int level;
	uint64_t iova; /* SCHED_ANY_IOVA: any; for SCHED_P_WALK: table pa */
	unsigned occurrence, hits;
	int fired;
};

struct sched_thread {
	struct sched *s;
	char name[32];
	void (*fn)(void *arg);
	void *arg;
	pthread_t th;
	int started, joined;
	_Atomic int state;
	_Atomic unsigned go; /* release generation */
	struct rule rules[MAX_RULES];
	unsigned nrules;
	/* Last point reported, for messages. */
	_Atomic unsigned last_point, last_level;
	_Atomic uint64_t last_iova;
	_Atomic unsigned long npoints, nwaits;
	/* Where it stopped (written before state becomes SCHED_STOPPED). */
	unsigned stop_point, stop_level;
	uint64_t stop_iova;
};

struct sched {
	struct iopgt_domain *dom;
	char what[160];
	unsigned timeout_ms;
	_Atomic int free_run; /* a hang was found: no thread stops any more */
	_Atomic unsigned long hook_calls;
	unsigned long violations;
	struct sched_thread *threads[MAX_THREADS];
	unsigned nthreads;
};

static _Thread_local struct sched_thread *cur;

static const char *const point_names[SCHED_NPOINTS] = {
	[PT_Y_ENTER_EPOCH_READ] = "PT_Y_ENTER_EPOCH_READ",
	[PT_Y_ADVANCE_CHECKED] = "PT_Y_ADVANCE_CHECKED",
	[PT_Y_COALESCE_SCANNED] = "PT_Y_COALESCE_SCANNED",
	[PT_Y_COALESCE_FROZEN] = "PT_Y_COALESCE_FROZEN",
	[PT_Y_INSTALL_DONE] = "PT_Y_INSTALL_DONE",
	[PT_Y_FILL_RESERVED] = "PT_Y_FILL_RESERVED",
	[PT_Y_FILL_BLOCKED] = "PT_Y_FILL_BLOCKED",
	[PT_Y_WAIT_FROZEN] = "PT_Y_WAIT_FROZEN",
	[PT_Y_UNLINK_FROZEN] = "PT_Y_UNLINK_FROZEN",
	[PT_Y_DIRTY_CLEARED] = "PT_Y_DIRTY_CLEARED",
	[PT_Y_FILL_STORED] = "PT_Y_FILL_STORED",
	[PT_Y_CLEAR_PROBED] = "PT_Y_CLEAR_PROBED",
	[PT_Y_UNLINK_THAW] = "PT_Y_UNLINK_THAW",
	[PT_Y_COALESCE_GAVE_UP] = "PT_Y_COALESCE_GAVE_UP",
	[PT_Y_GROW_CALL] = "PT_Y_GROW_CALL",
	[PT_Y_MERGE_SCANNED] = "PT_Y_MERGE_SCANNED",
	[PT_Y_LEAF_READ] = "PT_Y_LEAF_READ",
	[PT_Y_WORKER_COLLECT] = "PT_Y_WORKER_COLLECT",
	[SCHED_P_WALK] = "walk (lookup inside a table)",
	[SCHED_P_TRAP] = "trap (table page access)",
};

const char *sched_point_name(unsigned point)
{
	return point < SCHED_NPOINTS && point_names[point] ? point_names[point]
							   : "(none)";
}

static const char *state_name(int st)
{
	switch (st) {
	case SCHED_NEW: return "not started";
	case SCHED_RUNNING: return "running";
	case SCHED_STOPPED: return "stopped";
	case SCHED_BLOCKED: return "blocked (PT_Y_WAIT_FROZEN)";
	case SCHED_DONE: return "done";
	}
	return "?";
}

static void mask_names(unsigned mask, char *buf, size_t n)
{
	buf[0] = 0;
	for (int b = SCHED_NEW; b <= SCHED_DONE; b <<= 1)
		if (mask & (unsigned)b)
			snprintf(buf + strlen(buf), n - strlen(buf), "%s%s",
				 buf[0] ? " or " : "", state_name(b));
}

static void nap(long ns)
{
	struct timespec t = { 0, ns };
	nanosleep(&t, NULL);
}

static uint64_t now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------------
 * Stops
 */

/* Stop here until released (or until a hang frees every thread). Also runs
 * in the SIGSEGV handler: atomics and nanosleep only. */
static void stop_here(struct sched_thread *t, unsigned point, unsigned level,
		      uint64_t iova)
{
	struct sched *s = t->s;
	unsigned g = atomic_load(&t->go);
	int st = SCHED_STOPPED;

	t->stop_point = point;
	t->stop_level = level;
	t->stop_iova = iova;
	atomic_store(&t->state, SCHED_STOPPED);
	while (atomic_load(&t->go) == g && !atomic_load(&s->free_run))
		nap(50 * 1000);
	/* sched_release set RUNNING before it released; a hang did not. */
	atomic_compare_exchange_strong(&t->state, &st, SCHED_RUNNING);
}

static void on_point(struct sched_thread *t, unsigned point, unsigned level,
		     uint64_t iova, uint64_t pa)
{
	struct sched *s = t->s;
	int st;

	atomic_store(&t->last_point, point);
	atomic_store(&t->last_level, level);
	atomic_store(&t->last_iova, iova);
	atomic_fetch_add(&t->npoints, 1);
	if (point == PT_Y_WAIT_FROZEN) {
		/* Waiting for a frozen table: let the scenario see it, and
		 * do not burn the CPU the holder may need. */
		atomic_fetch_add(&t->nwaits, 1);
		st = SCHED_RUNNING;
		atomic_compare_exchange_strong(&t->state, &st, SCHED_BLOCKED);
		nap(20 * 1000);
		return;
	}
	st = SCHED_BLOCKED;
	atomic_compare_exchange_strong(&t->state, &st, SCHED_RUNNING);
	if (atomic_load(&s->free_run))
		return;
	for (unsigned i = 0; i < t->nrules; i++) {
		struct rule *r = &t->rules[i];
		if (r->fired || r->point != point)
			continue;
		if (point == SCHED_P_WALK) {
			if (r->iova != pa)
				continue;
		} else if ((r->level != SCHED_ANY_LEVEL &&
			    (unsigned)r->level != level) ||
			   (r->iova != SCHED_ANY_IOVA && r->iova != iova)) {
			continue;
		}
		if (++r->hits == r->occurrence) {
			r->fired = 1;
			stop_here(t, point, level, iova);
			return;
		}
	}
}

static void yield_hook(void *arg, unsigned point, unsigned level,
		       uint64_t iova)
{
	struct sched *s = arg;
	struct sched_thread *t = cur;

	atomic_fetch_add(&s->hook_calls, 1);
	if (t && t->s == s)
		on_point(t, point, level, iova, 0);
}

/* The walk hook gives the descriptor; its level and IOVA are not public:
 * report the pa alone. */
static void walk_hook(void *arg, const void *table)
{
	struct sched *s = arg;
	struct sched_thread *t = cur;

	if (t && t->s == s)
		on_point(t, SCHED_P_WALK, 0, 0, iopgt__table_pa(table));
}

/* ------------------------------------------------------------------------
 * The probe
 */

static _Atomic unsigned long probe_calls;

static void probe_hook(void *arg, unsigned point, unsigned level,
		       uint64_t iova)
{
	(void)arg;
	(void)point;
	(void)level;
	(void)iova;
	atomic_fetch_add(&probe_calls, 1);
}

int sched_hooks_available(struct iopgt_domain *dom)
{
	struct iopgt_translation tr;
	struct iopgt_gather g;
	struct iopgt_info info;

	iopgt_domain_info(dom, &info, sizeof(info));
	atomic_store(&probe_calls, 0);
	iopgt__set_yield_hook(dom, probe_hook, NULL);
	iopgt_gather_init(&g, sizeof(g));
	(void)iopgt_lookup(dom, 0, &tr);
	if (iopgt_map(dom, 0, 0, UINT64_C(1) << info.granule, IOPGT_PROT_READ,
		      &g) == 0)
		(void)iopgt_unmap(dom, 0, UINT64_C(1) << info.granule, &g);
	iopgt_sync(dom, &g);
	iopgt__set_yield_hook(dom, NULL, NULL);
	return atomic_load(&probe_calls) != 0;
}

/* ------------------------------------------------------------------------
 * The scheduler
 */

struct sched *sched_new(struct iopgt_domain *dom, const char *what, ...)
{
	struct sched *s = calloc(1, sizeof(*s));
	va_list ap;

	assert_non_null(s);
	s->dom = dom;
	va_start(ap, what);
	vsnprintf(s->what, sizeof(s->what), what, ap);
	va_end(ap);
	s->timeout_ms = (unsigned)tenv_long("IOPGT_RACE_TIMEOUT_MS", 2000);
	iopgt__set_yield_hook(dom, yield_hook, s);
	iopgt__set_walk_hook(dom, walk_hook, s);
	return s;
}

unsigned long sched_free(struct sched *s)
{
	unsigned long v = s->violations;

	for (unsigned i = 0; i < s->nthreads; i++) {
		struct sched_thread *t = s->threads[i];
		if (t->started && !t->joined)
			sched_join(t);
		free(t);
	}
	sched_detach(s);
	free(s);
	return v;
}

void sched_detach(struct sched *s)
{
	if (!s->dom)
		return;
	iopgt__set_yield_hook(s->dom, NULL, NULL);
	iopgt__set_walk_hook(s->dom, NULL, NULL);
	s->dom = NULL;
}

/* "[what] " + prefix + the message, one line on stderr. */
static void sched_vlog(const struct sched *s, const char *prefix,
		       const char *fmt, va_list ap)
{
	fprintf(stderr, "[%s] %s", s->what, prefix);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	fflush(stderr);
}

void sched_violation(struct sched *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sched_vlog(s, "FAIL: ", fmt, ap);
	va_end(ap);
	s->violations++;
}

unsigned long sched_violations(const struct sched *s)
{
	return s->violations;
}

void sched_note(struct sched *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sched_vlog(s, "", fmt, ap);
	va_end(ap);
}

struct sched_thread *sched_thread(struct sched *s, const char *name,
				  void (*fn)(void *arg), void *arg)
{
	struct sched_thread *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	assert_true(s->nthreads < MAX_THREADS);
	t->s = s;
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->fn = fn;
	t->arg = arg;
	atomic_store(&t->state, SCHED_NEW);
	atomic_store(&t->last_point, SCHED_NPOINTS);
	s->threads[s->nthreads++] = t;
	return t;
}

static void add_rule(struct sched_thread *t, unsigned point, int level,
		     uint64_t iova, unsigned occurrence)
{
	struct rule *r;

	assert_true(t->nrules < MAX_RULES);
	assert_true(occurrence >= 1);
	r = &t->rules[t->nrules++];
	memset(r, 0, sizeof(*r));
	r->point = point;
	r->level = level;
	r->iova = iova;
	r->occurrence = occurrence;
}

void sched_stop_at(struct sched_thread *t, unsigned point, int level,
		   uint64_t iova, unsigned occurrence)
{
	add_rule(t, point, level, iova, occurrence);
}

void sched_stop_in_table(struct sched_thread *t, uint64_t pa,
			 unsigned occurrence)
{
	add_rule(t, SCHED_P_WALK, SCHED_ANY_LEVEL, pa, occurrence);
}

static void *thread_main(void *arg)
{
	struct sched_thread *t = arg;

	cur = t;
	t->fn(t->arg);
	cur = NULL;
	atomic_store(&t->state, SCHED_DONE);
	return NULL;
}

enum sched_state sched_state(const struct sched_thread *t)
{
	return (enum sched_state)atomic_load(&t->state);
}

void sched_start(struct sched_thread *t)
{
	assert_int_equal(atomic_load(&t->state), SCHED_NEW);
	atomic_store(&t->state, SCHED_RUNNING);
	t->started = 1;
	assert_int_equal(pthread_create(&t->th, NULL, thread_main, t), 0);
}

static void describe(FILE *out, const struct sched_thread *t)
{
	unsigned p = atomic_load(&t->last_point);

	fprintf(out, "  thread %s: %s", t->name,
		state_name(atomic_load(&t->state)));
	if (atomic_load(&t->state) == SCHED_STOPPED)
		fprintf(out, " at %s (level %u, iova 0x%" PRIx64 ")",
			sched_point_name(t->stop_point), t->stop_level,
			t->stop_iova);
	fprintf(out, "; last point %s", sched_point_name(p));
	if (p < SCHED_NPOINTS)
		fprintf(out, " (level %u, iova 0x%" PRIx64 ")",
			atomic_load(&t->last_level), atomic_load(&t->last_iova));
	fprintf(out, ", %lu points, %lu PT_Y_WAIT_FROZEN\n",
		atomic_load(&t->npoints), atomic_load(&t->nwaits));
}

static void trap_release_all(void);

/* A wait timed out: report, free every thread, and wait for them all; if
 * one still does not finish, exit. */
static void hang(struct sched *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void hang(struct sched *s, const char *fmt, ...)
{
	uint64_t deadline;
	va_list ap;
	int all;

	fprintf(stderr, "[%s] FAIL (hang): ", s->what);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	for (unsigned i = 0; i < s->nthreads; i++)
		describe(stderr, s->threads[i]);
	s->violations++;
	/* Let every thread run free: the stopped ones may be what the
	 * others wait for. */
	atomic_store(&s->free_run, 1);
	trap_release_all();
	deadline = now_ms() + s->timeout_ms;
	do {
		all = 1;
		for (unsigned i = 0; i < s->nthreads; i++) {
			int st = atomic_load(&s->threads[i]->state);
			if (st != SCHED_DONE && st != SCHED_NEW)
				all = 0;
		}
		if (all)
			break;
		nap(200 * 1000);
	} while (now_ms() < deadline);
	if (all) {
		fprintf(stderr, "[%s] every thread finished once all were "
				"released: the hang waited on a stopped "
				"thread\n",
			s->what);
		fflush(stderr);
		return;
	}
	fprintf(stderr, "[%s] still not finished %u ms after every thread "
			"was released: a hang in the library; exiting\n",
		s->what, s->timeout_ms);
	for (unsigned i = 0; i < s->nthreads; i++)
		describe(stderr, s->threads[i]);
	fflush(stderr);
	_exit(1);
}

enum sched_state sched_wait(struct sched_thread *t, unsigned mask)
{
	struct sched *s = t->s;
	uint64_t deadline = now_ms() + s->timeout_ms;
	char want[96];
	int st;

	for (;;) {
		st = atomic_load(&t->state);
		if ((unsigned)st & mask)
			return (enum sched_state)st;
		if (st == SCHED_DONE)
			return SCHED_DONE;
		if (now_ms() >= deadline)
			break;
		nap(100 * 1000);
	}
	mask_names(mask, want, sizeof(want));
	hang(s, "thread %s is not %s after %u ms", t->name, want,
	     s->timeout_ms);
	return (enum sched_state)atomic_load(&t->state);
}

void sched_release(struct sched_thread *t)
{
	if (atomic_load(&t->state) != SCHED_STOPPED)
		return;
	if (t->stop_point == SCHED_P_TRAP)
		sched_trap_disarm(t->s);
	atomic_store(&t->state, SCHED_RUNNING);
	atomic_fetch_add(&t->go, 1);
}

void sched_join(struct sched_thread *t)
{
	if (!t->started || t->joined)
		return;
	if (sched_wait(t, SCHED_DONE) != SCHED_DONE)
		return; /* recovered from a hang in another state: cannot
			 * happen, hang() exits unless all are done */
	pthread_join(t->th, NULL);
	t->joined = 1;
}

void sched_stopped_at(const struct sched_thread *t, unsigned *point,
		      unsigned *level, uint64_t *iova)
{
	*point = t->stop_point;
	*level = t->stop_level;
	*iova = t->stop_iova;
}

const char *sched_name(const struct sched_thread *t)
{
	return t->name;
}

unsigned long sched_waits(const struct sched_thread *t)
{
	return atomic_load(&t->nwaits);
}

void sched_run(struct sched *s, const char *name, void (*fn)(void *arg),
	       void *arg)
{
	struct sched_thread *t = sched_thread(s, name, fn, arg);

	sched_start(t);
	sched_join(t);
}

/* ------------------------------------------------------------------------
 * SIGSEGV: the trap, and accesses to freed table pages
 */

static struct {
	_Atomic int armed;
	_Atomic uintptr_t lo, hi;
	struct sched *s;
} trap;

struct spage {
	uintptr_t va;
	size_t size, map_size;
	void *map;
	_Atomic int freed;
};

#define SMEM_MAX_PAGES 8192

struct smem {
	pthread_mutex_t mu;
	struct spage pages[SMEM_MAX_PAGES];
	_Atomic size_t npages;
	void **kept;
	size_t nkept, capkept;
	uint64_t table_allocs, table_frees, meta_allocs, meta_frees;
	uint64_t double_frees;
	_Atomic uint64_t uaf;
	_Atomic uintptr_t uaf_addr;
	_Atomic(const char *) uaf_thread;
	void (*on_free)(void *arg, uint64_t pa);
	void *on_free_arg;
};

static _Atomic(struct smem *) active_smem;
static struct sigaction old_segv;
static pthread_once_t segv_once = PTHREAD_ONCE_INIT;

static void segv(int sig, siginfo_t *si, void *uc)
{
	uintptr_t a = (uintptr_t)si->si_addr;
	struct smem *m = atomic_load(&active_smem);

	(void)uc;
	if (atomic_load(&trap.armed) && a >= atomic_load(&trap.lo) &&
	    a < atomic_load(&trap.hi)) {
		struct sched_thread *t = cur;
		if (t && t->s == trap.s) {
			atomic_store(&t->last_point, SCHED_P_TRAP);
			stop_here(t, SCHED_P_TRAP, 0, (uint64_t)a);
		}
		/* Released (the trap disarmed first), or not ours to stop:
		 * wait until the page is accessible again. */
		while (atomic_load(&trap.armed))
			nap(50 * 1000);
		return;
	}
	if (m) {
		size_t n = atomic_load(&m->npages);
		for (size_t i = 0; i < n; i++) {
			struct spage *p = &m->pages[i];
			if (a < p->va || a >= p->va + p->size ||
			    !atomic_load(&p->freed))
				continue;
			if (atomic_fetch_add(&m->uaf, 1) == 0) {
				atomic_store(&m->uaf_addr, a);
				atomic_store(&m->uaf_thread,
					     cur ? cur->name : "(main)");
			}
			/* Let it go on reading the poison. */
			mprotect((void *)p->va, p->size,
				 PROT_READ | PROT_WRITE);
			return;
		}
	}
	/* Not ours: the default action, at the same access. */
	sigaction(sig, &old_segv, NULL);
	if (old_segv.sa_handler == SIG_IGN)
		signal(sig, SIG_DFL);
}

static void segv_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = segv;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &old_segv);
}

void sched_trap_arm(struct sched *s, const void *va, size_t len)
{
	pthread_once(&segv_once, segv_install);
	trap.s = s;
	atomic_store(&trap.lo, (uintptr_t)va);
	atomic_store(&trap.hi, (uintptr_t)va + len);
	atomic_store(&trap.armed, 1);
	assert_int_equal(mprotect((void *)va, len, PROT_NONE), 0);
}

void sched_trap_disarm(struct sched *s)
{
	(void)s;
	if (!atomic_load(&trap.armed))
		return;
	assert_int_equal(mprotect((void *)atomic_load(&trap.lo),
				  atomic_load(&trap.hi) - atomic_load(&trap.lo),
				  PROT_READ | PROT_WRITE),
			 0);
	atomic_store(&trap.armed, 0);
}

static void trap_release_all(void)
{
	if (atomic_load(&trap.armed)) {
		mprotect((void *)atomic_load(&trap.lo),
			 atomic_load(&trap.hi) - atomic_load(&trap.lo),
			 PROT_READ | PROT_WRITE);
		atomic_store(&trap.armed, 0);
	}
}

/* ------------------------------------------------------------------------
 * The table allocator
 */

static void *sm_table_alloc(void *arg, size_t size, uint64_t *pa)
{
	struct smem *m = arg;
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	size_t len = (size + pg - 1) / pg * pg, map_size = len + size;
	uint8_t *map, *va;
	size_t n;

	/* Aligned to the table's size (a 64K table at a 64K boundary). */
	map = mmap(NULL, map_size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED)
		return NULL;
	va = (uint8_t *)(((uintptr_t)map + size - 1) / size * size);
	memset(va, 0x5a, size); /* the library must zero it */
	pthread_mutex_lock(&m->mu);
	n = atomic_load(&m->npages);
	if (n == SMEM_MAX_PAGES) {
		pthread_mutex_unlock(&m->mu);
		munmap(map, map_size);
		return NULL;
	}
	m->pages[n].va = (uintptr_t)va;
	m->pages[n].size = size;
	m->pages[n].map = map;
	m->pages[n].map_size = map_size;
	atomic_store(&m->pages[n].freed, 0);
	atomic_store(&m->npages, n + 1);
	m->table_allocs++;
	pthread_mutex_unlock(&m->mu);
	*pa = (uint64_t)(uintptr_t)va;
	return va;
}

static void sm_table_free(void *arg, void *va, uint64_t pa, size_t size)
{
	struct smem *m = arg;
	size_t n;

	pthread_mutex_lock(&m->mu);
	n = atomic_load(&m->npages);
	for (size_t i = n; i-- > 0;) {
		struct spage *p = &m->pages[i];
		if (p->va != (uintptr_t)va)
			continue;
		if (atomic_load(&p->freed)) {
			m->double_frees++;
			break;
		}
		tpoison_freed(va, size);
		atomic_store(&p->freed, 1);
		mprotect(va, size, PROT_NONE);
		break;
	}
	m->table_frees++;
	pthread_mutex_unlock(&m->mu);
	if (m->on_free)
		m->on_free(m->on_free_arg, pa);
}

static void *sm_meta_alloc(void *arg, size_t size)
{
	struct smem *m = arg;
	void *p = malloc(size);

	if (p) {
		pthread_mutex_lock(&m->mu);
		m->meta_allocs++;
		pthread_mutex_unlock(&m->mu);
	}
	return p;
}

/* Kept, intact, until smem_free: a walker holding a freed descriptor
 * reads stale data, which the page checks then catch. */
static void sm_meta_free(void *arg, void *ptr, size_t size)
{
	struct smem *m = arg;

	(void)size;
	pthread_mutex_lock(&m->mu);
	if (m->nkept == m->capkept) {
		m->capkept = m->capkept ? 2 * m->capkept : 64;
		m->kept = realloc(m->kept, m->capkept * sizeof(*m->kept));
		assert_non_null(m->kept);
	}
	m->kept[m->nkept++] = ptr;
	m->meta_frees++;
	pthread_mutex_unlock(&m->mu);
}

struct smem *smem_new(void)
{
	struct smem *m = calloc(1, sizeof(*m));

	assert_non_null(m);
	pthread_mutex_init(&m->mu, NULL);
	pthread_once(&segv_once, segv_install);
	atomic_store(&active_smem, m);
	return m;
}

void smem_ops(struct smem *m, struct iopgt_mem_ops *mem)
{
	mem->table_alloc = sm_table_alloc;
	mem->table_free = sm_table_free;
	mem->meta_alloc = sm_meta_alloc;
	mem->meta_free = sm_meta_free;
	mem->arg = m;
}

void smem_on_free(struct smem *m, void (*fn)(void *arg, uint64_t pa),
		  void *arg)
{
	m->on_free_arg = arg;
	m->on_free = fn;
}

void smem_counts(struct smem *m, struct smem_counts *c)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_lock(&m->mu);
	c->table_allocs = m->table_allocs;
	c->table_frees = m->table_frees;
	c->meta_allocs = m->meta_allocs;
	c->meta_frees = m->meta_frees;
	c->double_frees = m->double_frees;
	pthread_mutex_unlock(&m->mu);
	c->uaf = atomic_load(&m->uaf);
	if (c->uaf)
		snprintf(c->first_uaf, sizeof(c->first_uaf),
			 "thread %s accessed freed table memory at 0x%" PRIxPTR,
			 atomic_load(&m->uaf_thread),
			 atomic_load(&m->uaf_addr));
}

int smem_is_freed(struct smem *m, uint64_t pa)
{
	size_t n = atomic_load(&m->npages);

	for (size_t i = n; i-- > 0;)
		if (m->pages[i].va == (uintptr_t)pa)
			return atomic_load(&m->pages[i].freed);
	return 0;
}

void smem_free(struct smem *m)
{
	struct smem *self = m;

	atomic_compare_exchange_strong(&active_smem, &self, NULL);
	for (size_t i = 0; i < atomic_load(&m->npages); i++)
		munmap(m->pages[i].map, m->pages[i].map_size);
	for (size_t i = 0; i < m->nkept; i++)
		free(m->kept[i]);
	free(m->kept);
	pthread_mutex_destroy(&m->mu);
	free(m);
}
