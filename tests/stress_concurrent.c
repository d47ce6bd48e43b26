/* SPDX-License-Identifier: MIT */
/*
 * Rules 5 and 6 of DESIGN.md under real concurrency.
 *
 * Writer threads own disjoint IOVA slices that deliberately share tables:
 *   A  chunks of a few pages, interleaved between writers inside the same
 *      leaf tables. Each writer fills its chunks, holds them a while, and
 *      drains them, so leaf tables fill up and coalesce into a superpage
 *      while a neighbour is still mapping or already unmapping (splitting
 *      the superpage again) in the same table.
 *   B  level-1 blocks, neighbours in the same level-1 table: mapped as one
 *      superpage or in parts, unmapped whole or in parts (splits), so leaf
 *      tables are installed and reclaimed next to a neighbour's.
 *   D  (formats with three levels or more) one page per writer, each in
 *      its own level-1 table under one shared level-2 table, so the upper
 *      tables are installed by compare-and-swap races and emptied and
 *      reclaimed while the neighbour installs into them.
 * Each writer checks every change it makes against its own model with
 * lookup. Reader threads look up random IOVAs across all slices at once:
 * every PA is the identity of its IOVA, so any hit is validated, and a miss
 * is fine. They also call iopgt_reclaim now and then. At the end: every
 * model matches lookup exactly, table counts match the entries, unmapping
 * everything leaves the root alone, and nothing leaks.
 *
 * Options (command line, else environment, else default):
 *   -w N  IOPGT_STRESS_WRITERS  writer threads (2)
 *   -r N  IOPGT_STRESS_READERS  reader threads (1)
 *   -i N  IOPGT_STRESS_OPS      operations per writer per configuration
 *                               (400000; 150000 under ASan, 30000 under
 *                               TSan)
 *   -d N  IOPGT_STRESS_SECONDS  seconds per configuration at most (10)
 *   -c S  IOPGT_STRESS_CONFIGS  "all", or configuration names separated by
 *                               commas (default: one per format and granule,
 *                               tcfg_representative())
 *   -s N  IOPGT_SEED            seed
 *   -t N  IOPGT_STRESS_STALL    seconds without progress that count as a
 *                               hang (60)
 *   -m S  IOPGT_STRESS_MODE     "default" (the above), or "edge": see
 *                               below
 *   -S S  IOPGT_STRESS_STRATEGY the reclaim strategy of every domain
 *                               (tools/strategy.h): epoch (default),
 *                               rcu-memb (or rcu), rcu-mb, rcu-qsbr,
 *                               rcu-bp; not after-flush, whose callers
 *                               serialize every call
 *   -y N  IOPGT_STRESS_YIELD    percent of the passes through the
 *                               engine's named race points (src/
 *                               testhook.h, PT_Y_*: the writers' install,
 *                               fill, freeze, coalesce, unlink, thaw and
 *                               clear windows, the walker's entry, the
 *                               dirty scan, the worker's collection) at
 *                               which the thread yields its CPU (2; 0:
 *                               none), so that the other threads run
 *                               inside those windows, whatever the
 *                               strategy
 * IOPGT_TEST_SCALE (the long tier) multiplies the default operations and
 * seconds. A failure prints the configuration, the strategy and the seed.
 *
 * Under RCU, every thread that calls the library (the main thread too) is
 * registered with the flavor for its whole life, and each of its loops
 * announces a quiescent state once per iteration (QSBR; a no-op
 * otherwise). The main thread goes offline while it waits for the others:
 * under QSBR an online thread blocked in pthread_join would hold up every
 * grace period, and with it the writers' syncs (over rcu_max_pending they
 * wait for one) and the readers' iopgt_reclaim (rcu_barrier), until the
 * watchdog reported a hang. Every other configuration bounds the pages
 * waiting in RCU callbacks tightly (rcu_max_pending), so that syncs also
 * wait for grace periods themselves while the others walk. The broken
 * rule (PT_HOOK_IGNORE_WALKERS) frees without a grace period under RCU,
 * and must be caught the same way.
 *
 * Mode edge: one table at the level just below the domain's largest leaf
 * (level 1 where the largest leaf is a level-2 one) is kept about one leaf
 * short of full, so that it coalesces into that largest leaf and is split
 * again over and over, with both races at once. Four writers own its
 * entries round-robin; each makes a hole in one of its entries (the whole
 * entry, or a run of pages inside it, which splits the leaf or the
 * superpage above it), checks it, maps it back (as one leaf or in pieces,
 * which coalesce back up), checks it, and holds a while. Beside them a
 * lookup thread, a dirty-tracking thread (read_and_clear_dirty; it stops
 * where the format has no dirty state) and a "device" that sets the
 * hardware accessed and dirty bits in the leaves it looks up (from inside
 * the lookup's walk, as an IOMMU would, where the format has such bits).
 * Each writer's model is exact (its entries are mapped but for its one
 * hole): an unmap must return the hole's bytes, a map must succeed, and
 * lookups must agree, during the run and at the end, when every leaf of
 * the span is also checked against the models (a lost unmap anywhere shows
 * there). Then: unmapping everything leaves the root alone, nothing leaks,
 * and no progress for the stall time is a hang. Every other configuration
 * keeps counts (IOPGT_OPT_COUNTS, with a table cache of 8); the others keep
 * none (the default, and no table cache). Configurations: all
 * (every one has a leaf above 2M; the level is derived from
 * iopgt_domain_info's leaf sizes, never from the format), IOPGT_STRESS_
 * SECONDS (default 1, scaled) each.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "pt.h" /* the engine's hardware bits, for the edge mode's device */
#include "strategy.h"
#include "testhook.h"

#define MAX_WRITERS 64
#define PARTS 8 /* parts of a B block */
/* RCU: the pages that may wait in callbacks (rcu_max_pending), in the
 * configurations that bound them tightly (the others: the library's
 * default, which these short runs seldom reach). */
#define TIGHT_RCU_PENDING 16

static struct {
	unsigned writers, readers;
	unsigned long ops;
	const char *configs;
	uint64_t seed;
	unsigned stall;
	unsigned seconds; /* per configuration; 0: no limit */
	int negative;
	const char *mode;
	const struct cli_strategy *strat;
	int seconds_set, configs_set;
	unsigned yield_pct;
} opt;

/* Yields injected at the engine's race points (IOPGT_STRESS_YIELD). */
static atomic_ulong yields;

static void yield_hook(void *arg, unsigned point, unsigned level,
		       uint64_t iova)
{
	static _Thread_local uint64_t rng;

	(void)arg;
	(void)point;
	(void)level;
	(void)iova;
	if (!rng)
		rng = (uint64_t)(uintptr_t)&rng | 1; /* one stream a thread */
	if (trand(&rng) % 100 < opt.yield_pct) {
		atomic_fetch_add_explicit(&yields, 1, memory_order_relaxed);
		sched_yield();
	}
}

/* Every domain of the run yields at the race points, if asked. */
static void set_yields(struct iopgt_domain *dom)
{
	if (opt.yield_pct)
		iopgt__set_yield_hook(dom, yield_hook, NULL);
}

/* One configuration's run. */
struct run {
	const struct tcfg *c;
	struct iopgt_domain *dom;
	uint64_t page, sz1, sz2, space, pa_mask;
	uint64_t leaf_sizes; /* OR of the sizes */
	unsigned n0;
	/* A */
	uint64_t a0;
	unsigned a_tables, chunk_pages, chunks;
	uint8_t *a_mapped; /* per page */
	/* B */
	uint64_t b0, part;
	unsigned blocks;
	uint8_t *b_mapped; /* per block part */
	/* D */
	int has_d;
	uint64_t d0;
	uint8_t d_mapped[MAX_WRITERS];

	unsigned writers;
	unsigned long ops; /* per writer */
	int negative;     /* rule broken on purpose: count, do not fail */
	struct timespec deadline;
	uint64_t seed;
	atomic_int stop;
	atomic_ulong garbage; /* bad reader answers (negative runs) */
	atomic_ulong progress;
	atomic_ulong lookups, hits;
	atomic_ulong a_super; /* A pages seen inside a superpage */
};

static struct run *cur_run; /* for failure messages */
static const struct tcfg *cur_cfg; /* the same, in mode edge */
static _Thread_local int is_reader; /* see slow_hook() */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "stress_concurrent: FAIL: ");
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n  config %s, strategy %s, seed 0x%" PRIx64
			" (replay: %s=0x%" PRIx64 " or -s 0x%" PRIx64
			", with -S %s)\n",
		cur_run ? cur_run->c->name : cur_cfg ? cur_cfg->name : "?",
		opt.strat ? opt.strat->name : "?", opt.seed, TSEED_ENV,
		opt.seed, opt.seed, opt.strat ? opt.strat->name : "?");
	fflush(stderr);
	abort();
}

static uint64_t pa_of(const struct run *R, uint64_t iova)
{
	return iova & R->pa_mask;
}

/* A lookup answer for an IOVA that some writer may have mapped: -ENOENT, or
 * the identity translation with a leaf size the domain offers. */
static void check_any(struct run *R, uint64_t iova, int r,
		      const struct iopgt_translation *tr, const char *who)
{
	if (r == -ENOENT)
		return;
	if (r != 0)
		die("%s: lookup 0x%" PRIx64 " returned %d", who, iova, r);
	if (tr->pa != pa_of(R, iova) || tr->prot != RW ||
	    !(tr->leaf_size & R->leaf_sizes) ||
	    (tr->leaf_size & (tr->leaf_size - 1)))
		die("%s: lookup 0x%" PRIx64 " gave pa 0x%" PRIx64 " size 0x%" PRIx64
		    " prot 0x%x: not what any writer mapped",
		    who, iova, tr->pa, tr->leaf_size, tr->prot);
}

/* What the owner of iova knows: mapped (identity) or not. Returns the
 * leaf size if mapped. */
static uint64_t check_own(struct run *R, uint64_t iova, int mapped,
			  const char *what)
{
	struct iopgt_translation tr;
	int r = iopgt_lookup(R->dom, iova, &tr);

	if (mapped && r != 0)
		die("%s: 0x%" PRIx64 " should be mapped, lookup returned %d", what,
		    iova, r);
	if (!mapped && r != -ENOENT)
		die("%s: 0x%" PRIx64 " should be unmapped, lookup returned %d"
		    " (pa 0x%" PRIx64 ")",
		    what, iova, r, tr.pa);
	if (!mapped)
		return 0;
	check_any(R, iova, r, &tr, what);
	return tr.leaf_size;
}

/* ------------------------------------------------------------------------
 * Writers
 */

struct writer {
	struct run *R;
	unsigned id;
	uint64_t rng;
	struct iopgt_gather g;
	pthread_t th;
	/* A: fill, hold, drain */
	int a_fill;
	long a_hold;
	unsigned long a_pages; /* own pages mapped */
	unsigned a_own;        /* own chunks */
	unsigned *a_list;      /* their global indices */
	int a_straddle;        /* owns the two chunks around the boundary
	                        * between the two leaf tables of A */
	/* B */
	int b_fill;
	unsigned long b_parts;
	unsigned b_own;
	unsigned long ops;
};

static uint64_t rnd(struct writer *w, uint64_t n)
{
	return n ? trand(&w->rng) % n : 0;
}

static void w_map(struct writer *w, uint64_t iova, uint64_t size,
		  const char *what)
{
	int r = iopgt_map(w->R->dom, iova, pa_of(w->R, iova), size, RW, &w->g);

	if (r)
		die("writer %u: %s: map 0x%" PRIx64 "+0x%" PRIx64 " returned %d",
		    w->id, what, iova, size, r);
}

static void w_unmap(struct writer *w, uint64_t iova, uint64_t size,
		    uint64_t expect, const char *what)
{
	int64_t r = iopgt_unmap(w->R->dom, iova, size, &w->g);

	if (r != (int64_t)expect)
		die("writer %u: %s: unmap 0x%" PRIx64 "+0x%" PRIx64
		    " returned %" PRId64 ", expected %" PRIu64,
		    w->id, what, iova, size, r, expect);
}

/* Chunks go to writers in pairs, (0), (1, 2), (3, 4), ..., so that each
 * writer's neighbours are other writers' chunks and one writer owns both
 * chunks around the boundary between the two leaf tables (an even number
 * of chunks per table). */
static unsigned a_owner(const struct run *R, unsigned chunk)
{
	return (chunk + 1) / 2 % R->writers;
}

/* Own chunk k of writer w (k < a_own) as a global chunk index. */
static unsigned a_chunk(const struct writer *w, unsigned k)
{
	return w->a_list[k];
}

static uint64_t a_iova(const struct run *R, unsigned chunk, unsigned pg)
{
	return R->a0 + ((uint64_t)chunk * R->chunk_pages + pg) * R->page;
}

static void a_check_chunk(struct writer *w, unsigned chunk)
{
	struct run *R = w->R;

	for (unsigned p = 0; p < R->chunk_pages; p++) {
		unsigned i = chunk * R->chunk_pages + p;
		/* A superpage here was coalesced from several writers' pages:
		 * a leaf table of region A holds every writer's chunks. */
		if (check_own(R, a_iova(R, chunk, p), R->a_mapped[i], "A") >=
		    R->sz1)
			atomic_fetch_add_explicit(&R->a_super, 1,
						  memory_order_relaxed);
	}
}

/* One step of region A: map a run of unmapped pages of a chunk (fill), or
 * unmap a piece of a chunk (drain), with a hold in between. */
static void w_step_a(struct writer *w)
{
	struct run *R = w->R;
	unsigned cp = R->chunk_pages, start = (unsigned)rnd(w, w->a_own);
	unsigned chunk = 0, k, p = 0, q;
	int found = 0;

	if (w->a_hold > 0) {
		/* Everything own is mapped; neighbours may coalesce it. */
		w->a_hold--;
		if (!w->a_hold)
			w->a_fill = 0;
		a_check_chunk(w, a_chunk(w, start));
		return;
	}
	for (k = 0; k < w->a_own && !found; k++) {
		chunk = a_chunk(w, (start + k) % w->a_own);
		for (p = 0; p < cp; p++)
			if (R->a_mapped[chunk * cp + p] == !w->a_fill) {
				found = 1;
				break;
			}
	}
	if (!found)
		die("writer %u: region A model lost count", w->id);

	if (w->a_straddle && rnd(w, 6) == 0) {
		/* Across the boundary between the two leaf tables: a map
		 * that fills both, or an unmap that splits whichever of them
		 * has just coalesced into a superpage. */
		unsigned bc = R->n0 / cp, lo = (bc - 1) * cp, n = 0;
		unsigned a = lo + (unsigned)rnd(w, cp);
		unsigned b = bc * cp + (unsigned)rnd(w, cp);
		for (unsigned i = lo; i < lo + 2 * cp; i++)
			n += R->a_mapped[i];
		if (w->a_fill && !n) {
			w_map(w, a_iova(R, bc - 1, 0), 2 * cp * R->page,
			      "A straddle");
			memset(&R->a_mapped[lo], 1, 2 * cp);
			w->a_pages += 2 * cp;
		} else if (!w->a_fill) {
			n = 0;
			for (unsigned i = a; i <= b; i++)
				n += R->a_mapped[i];
			w_unmap(w, R->a0 + (uint64_t)a * R->page,
				(uint64_t)(b - a + 1) * R->page,
				(uint64_t)n * R->page, "A straddle");
			memset(&R->a_mapped[a], 0, b - a + 1);
			w->a_pages -= n;
		}
		a_check_chunk(w, bc - 1);
		a_check_chunk(w, bc);
		chunk = bc - 1;
		goto full_or_empty;
	}
	if (w->a_fill) {
		/* From an unmapped page p, a run of unmapped pages. */
		uint64_t want = 1 + rnd(w, cp);
		for (q = p; q < cp && q - p < want && !R->a_mapped[chunk * cp + q];
		     q++)
			;
		w_map(w, a_iova(R, chunk, p), (uint64_t)(q - p) * R->page,
		      "A fill");
		for (unsigned i = p; i < q; i++)
			R->a_mapped[chunk * cp + i] = 1;
		w->a_pages += q - p;
	} else {
		/* A piece of the chunk around mapped page p, holes fine. */
		unsigned a = (unsigned)rnd(w, p + 1);
		unsigned b = p + (unsigned)rnd(w, cp - p);
		unsigned n = 0;
		for (unsigned i = a; i <= b; i++)
			n += R->a_mapped[chunk * cp + i];
		w_unmap(w, a_iova(R, chunk, a), (uint64_t)(b - a + 1) * R->page,
			(uint64_t)n * R->page, "A drain");
		for (unsigned i = a; i <= b; i++)
			R->a_mapped[chunk * cp + i] = 0;
		w->a_pages -= n;
	}
	a_check_chunk(w, chunk);
full_or_empty:
	if (w->a_fill && w->a_pages == (unsigned long)w->a_own * cp) {
		/* Full: hold it a while, or drain at once. */
		w->a_hold = rnd(w, 4) ? (long)rnd(w, 3 * w->a_own) : 0;
		if (!w->a_hold)
			w->a_fill = 0;
	} else if (!w->a_fill && !w->a_pages) {
		w->a_fill = 1;
	}
}

static uint64_t b_iova(const struct run *R, unsigned block, unsigned part)
{
	return R->b0 + block * R->sz1 + part * R->part;
}

static void b_check_block(struct writer *w, unsigned block)
{
	struct run *R = w->R;

	for (unsigned p = 0; p < PARTS; p++) {
		int m = R->b_mapped[block * PARTS + p];
		uint64_t s = b_iova(R, block, p);
		check_own(R, s, m, "B");
		check_own(R, s + R->part - R->page, m, "B");
		check_own(R, s + rnd(w, R->part / R->page) * R->page, m, "B");
	}
}

/* One step of region B: whole blocks (superpages) and parts of blocks. */
static void w_step_b(struct writer *w)
{
	struct run *R = w->R;
	unsigned k = (unsigned)rnd(w, w->b_own), block = 0, p = 0, n = 0;
	int found = 0;

	for (unsigned j = 0; j < w->b_own && !found; j++) {
		block = ((k + j) % w->b_own) * R->writers + w->id;
		for (p = 0; p < PARTS; p++)
			if (R->b_mapped[block * PARTS + p] == !w->b_fill) {
				found = 1;
				break;
			}
	}
	if (!found)
		die("writer %u: region B model lost count", w->id);
	for (unsigned i = 0; i < PARTS; i++)
		n += R->b_mapped[block * PARTS + i];

	if (w->b_fill) {
		if (!n && rnd(w, 2)) {
			w_map(w, b_iova(R, block, 0), R->sz1, "B block");
			memset(&R->b_mapped[block * PARTS], 1, PARTS);
			w->b_parts += PARTS;
		} else {
			w_map(w, b_iova(R, block, p), R->part, "B part");
			R->b_mapped[block * PARTS + p] = 1;
			w->b_parts++;
		}
		if (w->b_parts == (unsigned long)w->b_own * PARTS)
			w->b_fill = 0;
	} else {
		if (rnd(w, 3) == 0) {
			w_unmap(w, b_iova(R, block, 0), R->sz1, n * R->part,
				"B block");
			memset(&R->b_mapped[block * PARTS], 0, PARTS);
			w->b_parts -= n;
		} else {
			/* Parts p..q, holes fine: splits a superpage. */
			unsigned q = p + (unsigned)rnd(w, 3), m = 0;
			if (q >= PARTS)
				q = PARTS - 1;
			for (unsigned i = p; i <= q; i++)
				m += R->b_mapped[block * PARTS + i];
			w_unmap(w, b_iova(R, block, p), (q - p + 1) * R->part,
				m * R->part, "B parts");
			for (unsigned i = p; i <= q; i++)
				R->b_mapped[block * PARTS + i] = 0;
			w->b_parts -= m;
		}
		if (!w->b_parts)
			w->b_fill = 1;
	}
	b_check_block(w, block);
}

static uint64_t d_iova(const struct run *R, unsigned id)
{
	return R->d0 + id * R->sz2 + (id + 1) * R->page;
}

/* One step of region D: toggle the writer's lone page. */
static void w_step_d(struct writer *w)
{
	struct run *R = w->R;
	uint64_t iova = d_iova(R, w->id);

	if (R->d_mapped[w->id]) {
		w_unmap(w, iova, R->page, R->page, "D");
		R->d_mapped[w->id] = 0;
	} else {
		w_map(w, iova, R->page, "D");
		R->d_mapped[w->id] = 1;
	}
	check_own(R, iova, R->d_mapped[w->id], "D");
}

static int past(const struct timespec *t)
{
	struct timespec now;

	if (!t->tv_sec)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > t->tv_sec ||
	       (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	struct run *R = w->R;

	cli_strategy_thread_begin(opt.strat);
	iopgt_gather_init(&w->g, sizeof(w->g));
	for (w->ops = 0; w->ops < R->ops && !atomic_load(&R->stop); w->ops++) {
		uint64_t r = rnd(w, 100);

		/* Between two operations, no walk is under way (QSBR). */
		cli_strategy_quiescent(opt.strat);

		if (w->ops % 256 == 0 &&
		    (past(&R->deadline) ||
		     (R->negative && atomic_load(&R->garbage)))) {
			atomic_store(&R->stop, 1);
			break;
		}

		if (r < 55)
			w_step_a(w);
		else if (r < 85 || !R->has_d)
			w_step_b(w);
		else
			w_step_d(w);
		/* Sync after most operations, sometimes after a batch. */
		if (rnd(w, 4))
			iopgt_sync(R->dom, &w->g);
		atomic_fetch_add_explicit(&R->progress, 1, memory_order_relaxed);
	}
	iopgt_sync(R->dom, &w->g);
	cli_strategy_thread_end(opt.strat);
	return NULL;
}

/* ------------------------------------------------------------------------
 * Readers
 */

struct reader {
	struct run *R;
	unsigned id;
	uint64_t rng;
	pthread_t th;
};

/* Lookups between two of a reader's iopgt_reclaim calls. Under RCU each
 * is an rcu_barrier: a grace period, and liburcu's call_rcu thread, which
 * sleeps 10 ms after each batch of callbacks. Every 4096 lookups, the
 * readers spent most of their time waiting there (10 to 40 times fewer
 * lookups than with the epoch), so less often. */
static unsigned long reclaim_every(void)
{
	return opt.strat->flavor ? 65536 : 4096;
}

static void *reader_main(void *arg)
{
	struct reader *rd = arg;
	struct run *R = rd->R;
	uint64_t a_len = (uint64_t)R->a_tables * R->sz1;
	uint64_t b_len = (uint64_t)R->blocks * R->sz1;
	unsigned long n = 0, hits = 0;

	is_reader = 1;
	cli_strategy_thread_begin(opt.strat);
	while (!atomic_load_explicit(&R->stop, memory_order_relaxed)) {
		uint64_t r = trand(&rd->rng), iova;
		struct iopgt_translation tr;
		int ret;

		/* First in the loop, which has a continue. */
		cli_strategy_quiescent(opt.strat);
		switch (r % 8) {
		case 0: case 1: case 2: case 3:
			iova = R->a0 + (trand(&rd->rng) % (a_len / R->page)) *
					       R->page;
			break;
		case 4: case 5: case 6:
			iova = R->b0 + (trand(&rd->rng) % (b_len / R->page)) *
					       R->page;
			break;
		default:
			if (R->has_d) {
				iova = d_iova(R, (unsigned)(trand(&rd->rng) %
							    R->writers));
				break;
			}
			/* An address nobody maps. */
			iova = R->b0 + b_len + (trand(&rd->rng) % 16) * R->page;
			if (iova >= R->space)
				continue;
			ret = iopgt_lookup(R->dom, iova, &tr);
			if (ret != -ENOENT)
				die("reader %u: 0x%" PRIx64 " is mapped by nobody,"
				    " lookup returned %d",
				    rd->id, iova, ret);
			continue;
		}
		ret = iopgt_lookup(R->dom, iova, &tr);
		if (R->negative) {
			if (ret == 0 && (tr.pa != pa_of(R, iova) ||
					 tr.prot != RW ||
					 !(tr.leaf_size & R->leaf_sizes)))
				atomic_fetch_add(&R->garbage, 1);
		} else {
			check_any(R, iova, ret, &tr, "reader");
		}
		hits += ret == 0;
		if (++n % reclaim_every() == 0)
			iopgt_reclaim(R->dom);
	}
	atomic_fetch_add(&R->lookups, n);
	atomic_fetch_add(&R->hits, hits);
	cli_strategy_thread_end(opt.strat);
	return NULL;
}

/* ------------------------------------------------------------------------
 * Watchdog: a hang in the library (a walker spinning on a slot that never
 * settles, a sync waiting for a grace period that never ends) must fail
 * with the seed, not time out silently. It never calls the library, so it
 * is no RCU reader: its sleeps hold up no grace period.
 */

struct watchdog {
	struct run *R;
	atomic_int done;
	pthread_t th;
};

static void *watchdog_main(void *arg)
{
	struct watchdog *wd = arg;
	const struct timespec tick = { 0, 100 * 1000 * 1000 };
	unsigned long last = (unsigned long)-1;
	unsigned idle = 0; /* ticks */

	while (!atomic_load(&wd->done)) {
		unsigned long p = atomic_load(&wd->R->progress);
		nanosleep(&tick, NULL);
		if (p == last) {
			if (++idle >= 10 * opt.stall)
				die("no writer progress for %u s: a hang",
				    opt.stall);
		} else {
			idle = 0;
		}
		last = p;
	}
	return NULL;
}

/* ------------------------------------------------------------------------
 * One configuration
 */

static int any_leaf(void *arg, const struct tleaf *l)
{
	(void)arg;
	(void)l;
	return 1;
}

/* Unmap [0, space) through g, sync and reclaim: the root alone remains
 * (with `keep`, IOPGT_OPT_NO_RECLAIM: no leaf remains). */
static void unmap_everything(struct iopgt_domain *dom, uint64_t space,
			     struct iopgt_gather *g, bool keep)
{
	struct iopgt_stats st;

	if (iopgt_unmap(dom, 0, space, g) < 0)
		die("unmap everything");
	iopgt_sync(dom, g);
	iopgt_reclaim(dom);
	iopgt_get_stats(dom, &st, sizeof(st));
	if (keep) {
		if (tfor_each_leaf(dom, any_leaf, NULL))
			die("a leaf left after unmapping everything");
		return;
	}
	if (st.table_pages_live != 1 || st.table_pages_waiting ||
	    st.table_pages_cached)
		die("after unmapping everything: %" PRIu64 " table pages live, %"
		    PRIu64 " waiting, %" PRIu64 " cached",
		    st.table_pages_live, st.table_pages_waiting,
		    st.table_pages_cached);
}

/* After the domain is destroyed: every table and metadata page is back. */
static void check_no_leak(const struct tsalloc *ta)
{
	if (ta->live_bytes || ta->table_allocs != ta->table_frees ||
	    ta->meta_allocs != ta->meta_frees)
		die("leak: %" PRIu64 " table bytes live, tables %" PRIu64 "/%" PRIu64
		    ", meta %" PRIu64 "/%" PRIu64,
		    ta->live_bytes, ta->table_allocs, ta->table_frees,
		    ta->meta_allocs, ta->meta_frees);
}

static void final_check(struct run *R)
{
	for (unsigned c = 0; c < R->chunks; c++)
		for (unsigned p = 0; p < R->chunk_pages; p++)
			check_own(R, a_iova(R, c, p),
				  R->a_mapped[c * R->chunk_pages + p], "final A");
	for (unsigned b = 0; b < R->blocks; b++)
		for (unsigned p = 0; p < PARTS; p++)
			for (uint64_t o = 0; o < R->part; o += R->page)
				check_own(R, b_iova(R, b, p) + o,
					  R->b_mapped[b * PARTS + p], "final B");
	if (R->has_d)
		for (unsigned w = 0; w < R->writers; w++)
			check_own(R, d_iova(R, w), R->d_mapped[w], "final D");
}

/* How one configuration is run. */
struct mode {
	unsigned writers;
	unsigned table_cache;
	unsigned hooks;    /* PT_HOOK_* */
	int slow_readers;  /* readers linger in every table they enter */
	int negative;      /* count bad reader answers instead of failing */
	unsigned options;  /* IOPGT_OPT_* */
	unsigned seconds;  /* 0: no limit */
	uint64_t rcu_max_pending; /* RCU: iopgt_config's (0: its default) */
};

/* Reader threads (not the writers, whose own checks would then slow
 * them) linger inside each table they step into, longer than a writer
 * takes from unlinking a table to freeing it in its sync, so that a table
 * unlinked and freed meanwhile (when the walker rule is broken) is read
 * after it was freed. Between the unmap and its sync a writer checks its
 * block or chunk with up to 64 lookups (64K granule): under ASan that
 * outlasted 30 us, and the broken rule's run then went unnoticed for 8 s
 * in one run of ten on arm_s2/64k (with any strategy); with 100 us every
 * run caught it within a second. */
#define SLOW_LINGER_NS 100000L

static void slow_hook(void *arg, const void *table)
{
	struct timespec t0, t;

	(void)arg;
	(void)table;
	if (!is_reader)
		return;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do
		clock_gettime(CLOCK_MONOTONIC, &t);
	while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) <
	       SLOW_LINGER_NS);
}

/* Descriptors of freed tables, kept (intact) while readers may still use
 * them in a negative run: they read the poisoned page instead of freed
 * memory. */
static struct {
	pthread_mutex_t mu;
	void **p;
	size_t n, cap;
	void (*meta_free)(void *, void *, size_t);
} kept = { .mu = PTHREAD_MUTEX_INITIALIZER };

static void keep_meta_free(void *arg, void *ptr, size_t size)
{
	(void)arg;
	(void)size;
	pthread_mutex_lock(&kept.mu);
	if (kept.n == kept.cap) {
		kept.cap = kept.cap ? kept.cap * 2 : 1024;
		kept.p = realloc(kept.p, kept.cap * sizeof(*kept.p));
		if (!kept.p)
			die("out of memory");
	}
	kept.p[kept.n++] = ptr;
	pthread_mutex_unlock(&kept.mu);
}

static void kept_release(void *arg)
{
	for (size_t i = 0; i < kept.n; i++)
		kept.meta_free(arg, kept.p[i], 0);
	free(kept.p);
	kept.p = NULL;
	kept.n = kept.cap = 0;
}

static unsigned long run_config(const struct tcfg *c, const struct mode *m)
{
	struct run *R = calloc(1, sizeof(*R));
	struct writer *ws = calloc(m->writers, sizeof(*ws));
	struct reader *rs = calloc(opt.readers ? opt.readers : 1, sizeof(*rs));
	unsigned table_cache = m->table_cache;
	struct tsalloc ta;
	struct iopgt_config cfg;
	struct iopgt_info info;
	struct iopgt_stats st;
	struct iopgt_gather g;
	struct watchdog wd;

	unsigned levels;
	unsigned long ops = 0, garbage;
	time_t t0 = time(NULL);

	if (!R || !ws || !rs)
		die("out of memory");
	cur_run = R;
	R->c = c;
	R->writers = m->writers;
	R->negative = m->negative;
	/* A negative run goes on until it sees something, or its time is
	 * up. */
	R->ops = m->negative ? (unsigned long)-1 : opt.ops;
	R->seed = opt.seed;
	if (m->seconds) {
		clock_gettime(CLOCK_MONOTONIC, &R->deadline);
		R->deadline.tv_sec += m->seconds;
	}
	/* A bounded quarantine: recently freed pages stay poisoned. A
	 * negative run keeps them all, and the descriptors too. */
	tsalloc_init(&ta, m->negative ? 0 : 4096);
	tcfg_config(c, &cfg);
	cfg.leaf_sizes = 0; /* every size, leaf spans included */
	cfg.table_cache = table_cache;
	cfg.options = m->options;
	cli_strategy_apply(opt.strat, &cfg);
	if (opt.strat->flavor)
		cfg.rcu_max_pending = m->rcu_max_pending;
	tsalloc_ops(&ta, &cfg.mem);
	if (m->negative) {
		kept.meta_free = cfg.mem.meta_free;
		cfg.mem.meta_free = keep_meta_free;
	}
	if (iopgt_domain_create(&cfg, &R->dom))
		die("domain create");
	iopgt__set_test_hooks(R->dom, m->hooks);
	set_yields(R->dom);
	if (m->slow_readers)
		iopgt__set_walk_hook(R->dom, slow_hook, NULL);
	iopgt_domain_info(R->dom, &info, sizeof(info));
	R->leaf_sizes = info.leaf_sizes; /* spans included */
	levels = info.levels;
	R->page = UINT64_C(1) << info.granule;
	R->n0 = 1u << (info.granule - 3);
	R->sz1 = R->page * R->n0;
	R->sz2 = R->sz1 * R->n0;
	R->space = info.iova_last + 1; /* the lower part of the input space */
	R->pa_mask = (UINT64_C(1) << (info.ias < info.oas ? info.ias : info.oas)) - 1;

	/* A: two leaf tables of interleaved chunks, 128 chunks a table. */
	R->a0 = 0;
	R->a_tables = 2;
	R->chunk_pages = R->n0 / 128 ? R->n0 / 128 : 1;
	R->chunks = R->a_tables * (R->n0 / R->chunk_pages);
	if (R->chunks < 2 * R->writers)
		die("too many writers for region A");
	R->a_mapped = calloc((size_t)R->a_tables * R->n0, 1);
	/* B: level-1 blocks after A, in the same level-1 table. */
	R->b0 = R->a0 + (uint64_t)R->a_tables * R->sz1;
	R->part = R->sz1 / PARTS;
	{
		uint64_t room = (R->space - R->b0) / R->sz1;
		uint64_t per = R->n0 - R->a_tables; /* same table */
		uint64_t nb = 4 * (uint64_t)R->writers;
		if (nb > 16 && R->writers <= 4)
			nb = 16;
		if (nb > room)
			nb = room;
		if (levels > 2 && nb > per)
			nb = per;
		R->blocks = (unsigned)(nb - nb % R->writers);
	}
	if (R->blocks < R->writers)
		die("too many writers for region B");
	R->b_mapped = calloc((size_t)R->blocks * PARTS, 1);
	/* D: one level-2 table's span, away from A and B, with a page per
	 * writer in its own level-1 table. */
	R->has_d = levels >= 4 && R->writers <= R->n0 &&
		   R->sz2 * R->n0 * 2 <= R->space;
	R->d0 = R->has_d ? R->sz2 * R->n0 : 0;
	if (!R->a_mapped || !R->b_mapped)
		die("out of memory");

	for (unsigned i = 0; i < m->writers; i++) {
		struct writer *w = &ws[i];
		w->R = R;
		w->id = i;
		w->rng = opt.seed * 31 + i * 0x9e3779b97f4a7c15u +
			 (uint64_t)(c - tcfgs) * 0x51ed27u;
		w->a_fill = w->b_fill = 1;
		w->a_list = calloc(R->chunks, sizeof(*w->a_list));
		if (!w->a_list)
			die("out of memory");
		for (unsigned ch = 0; ch < R->chunks; ch++)
			if (a_owner(R, ch) == i)
				w->a_list[w->a_own++] = ch;
		{
			unsigned bc = R->n0 / R->chunk_pages;
			w->a_straddle = a_owner(R, bc - 1) == i &&
					a_owner(R, bc) == i;
		}
		w->b_own = R->blocks / R->writers;
	}
	for (unsigned i = 0; i < opt.readers; i++) {
		rs[i].R = R;
		rs[i].id = i;
		rs[i].rng = opt.seed * 77 + i + 1000;
	}
	memset(&wd, 0, sizeof(wd));
	wd.R = R;
	/* This thread calls the library again only once all the others
	 * are joined: offline meanwhile (QSBR), or its wait in pthread_join
	 * would hold up every grace period the others wait for. */
	cli_strategy_offline(opt.strat);
	if (pthread_create(&wd.th, NULL, watchdog_main, &wd))
		die("pthread_create");
	for (unsigned i = 0; i < opt.readers; i++)
		if (pthread_create(&rs[i].th, NULL, reader_main, &rs[i]))
			die("pthread_create");
	for (unsigned i = 0; i < m->writers; i++)
		if (pthread_create(&ws[i].th, NULL, writer_main, &ws[i]))
			die("pthread_create");
	for (unsigned i = 0; i < m->writers; i++) {
		pthread_join(ws[i].th, NULL);
		ops += ws[i].ops;
	}
	atomic_store(&R->stop, 1);
	for (unsigned i = 0; i < opt.readers; i++)
		pthread_join(rs[i].th, NULL);
	atomic_store(&wd.done, 1);
	pthread_join(wd.th, NULL);
	cli_strategy_online(opt.strat);

	/* Every model matches, every count matches. */
	final_check(R);
	if (tcheck_counts(R->dom))
		die("table counts do not match the entries");
	iopgt_get_stats(R->dom, &st, sizeof(st));
	iopgt__set_walk_hook(R->dom, NULL, NULL);
	printf("%-18s %s%u writers, cache %u, options 0x%x: %lu ops, %lu lookups (%lu hits%s%lu"
	       " bad), coalesced %" PRIu64 " (A pages seen coalesced %lu), split %"
	       PRIu64 ", tables alloc %" PRIu64 " peak %" PRIu64
	       ", waiting %" PRIu64 ", %lds\n",
	       c->name, m->negative ? "BROKEN RULE, " : "", m->writers,
	       table_cache, m->options, ops, atomic_load(&R->lookups),
	       atomic_load(&R->hits), ", ", atomic_load(&R->garbage),
	       st.coalesced,
	       atomic_load(&R->a_super),
	       st.split, st.table_pages_alloc, st.table_pages_peak,
	       st.table_pages_waiting, (long)(time(NULL) - t0));
	if (opt.strat->flavor)
		printf("%-18s   %s, rcu_max_pending %" PRIu64 ": %" PRIu64
		       " syncs waited for a grace period\n",
		       "", opt.strat->name, cfg.rcu_max_pending,
		       st.reclaim_waits);
	fflush(stdout);
	if (!m->negative && ops >= 2000 * m->writers &&
	    ((!st.coalesced && !(m->options & IOPGT_OPT_NO_COALESCE)) ||
	     !st.split))
		die("the run never coalesced or never split: it proves little");

	/* Unmap everything: the root alone remains. */
	iopgt_gather_init(&g, sizeof(g));
	unmap_everything(R->dom, R->space, &g,
			 (m->options & IOPGT_OPT_NO_RECLAIM) != 0);
	if (tcheck_counts(R->dom))
		die("table counts do not match after unmapping everything");
	iopgt_domain_destroy(R->dom);
	if (m->negative)
		kept_release(&ta);
	check_no_leak(&ta);
	tsalloc_fini(&ta);
	garbage = atomic_load(&R->garbage);
	for (unsigned i = 0; i < m->writers; i++)
		free(ws[i].a_list);
	free(R->a_mapped);
	free(R->b_mapped);
	free(R);
	free(ws);
	free(rs);
	cur_run = NULL;
	return garbage;
}

/* ------------------------------------------------------------------------
 * Mode edge: coalesce and split racing on one table kept one leaf short
 * of full (see the top of this file)
 */

#define EDGE_WRITERS 4

struct edge {
	const struct tcfg *c;
	struct iopgt_domain *dom;
	uint64_t page, leaf, span; /* smallest leaf, T's entry, T's span */
	uint64_t base, pa_mask, leaf_sizes;
	unsigned n0, L;
	uint64_t hw_bits; /* what the device sets in a leaf (0: nothing) */
	unsigned long ops;
	struct timespec deadline;
	atomic_int stop;
	atomic_ulong *progress; /* the watchdog's */
	atomic_ulong lookups, dirty_runs, device_sets;
};

struct edge_writer {
	struct edge *E;
	unsigned id;
	uint64_t rng;
	struct iopgt_gather g;
	pthread_t th;
	uint64_t hole, hole_end; /* its one unmapped range; equal: none */
	unsigned long ops, holes, fills;
};

static _Thread_local uint64_t device_iova; /* 0: not the device */
static struct edge *device_edge;

static uint64_t e_rnd(struct edge_writer *w, uint64_t n)
{
	return n ? trand(&w->rng) % n : 0;
}

static uint64_t e_pa(const struct edge *E, uint64_t iova)
{
	return iova & E->pa_mask;
}

/* Writer w's model of page x (its own): mapped unless in its hole. */
static int e_mapped(const struct edge_writer *w, uint64_t x)
{
	return !(x >= w->hole && x < w->hole_end);
}

static unsigned e_owner(const struct edge *E, uint64_t x)
{
	return (unsigned)((x - E->base) / E->leaf % EDGE_WRITERS);
}

static void e_check(struct edge_writer *w, uint64_t x, const char *what)
{
	struct edge *E = w->E;
	struct iopgt_translation tr;
	int r = iopgt_lookup(E->dom, x, &tr), m = e_mapped(w, x);

	if (!m && r != -ENOENT)
		die("writer %u: %s: 0x%" PRIx64 " is unmapped, lookup returned"
		    " %d (pa 0x%" PRIx64 ", leaf 0x%" PRIx64 "): a lost unmap",
		    w->id, what, x, r, tr.pa, tr.leaf_size);
	if (m && (r || tr.pa != e_pa(E, x) || tr.prot != RW ||
		  !(tr.leaf_size & E->leaf_sizes)))
		die("writer %u: %s: 0x%" PRIx64 " is mapped, lookup returned %d"
		    " (pa 0x%" PRIx64 ", leaf 0x%" PRIx64 ")",
		    w->id, what, x, r, tr.pa, tr.leaf_size);
}

/* The ends, a random page and the neighbours of [a, b). */
static void e_check_range(struct edge_writer *w, uint64_t a, uint64_t b,
			  const char *what)
{
	struct edge *E = w->E;
	uint64_t x = a + e_rnd(w, (b - a) / E->page) * E->page;

	e_check(w, a, what);
	e_check(w, b - E->page, what);
	e_check(w, x, what);
	if (a > E->base && e_owner(E, a - E->page) == w->id)
		e_check(w, a - E->page, what);
	if (b < E->base + E->span && e_owner(E, b) == w->id)
		e_check(w, b, what);
}

static void e_map(struct edge_writer *w, uint64_t a, uint64_t size)
{
	int r = iopgt_map(w->E->dom, a, e_pa(w->E, a), size, RW, &w->g);

	if (r)
		die("writer %u: map 0x%" PRIx64 "+0x%" PRIx64 " returned %d",
		    w->id, a, size, r);
}

static void edge_hole(struct edge_writer *w)
{
	struct edge *E = w->E;
	unsigned own = E->n0 / EDGE_WRITERS;
	uint64_t entry = E->base +
			 (e_rnd(w, own) * EDGE_WRITERS + w->id) * E->leaf;
	uint64_t pages = E->leaf / E->page, a = entry, b = entry + E->leaf;
	int64_t r;

	if (pages > 1 && e_rnd(w, 2)) {
		/* A run of pages inside the entry: splits it (and the
		 * superpage above, if the table has coalesced). */
		uint64_t n = 1 + e_rnd(w, e_rnd(w, 4) ? 8 : pages - 1);
		a = entry + e_rnd(w, pages - n + 1) * E->page;
		b = a + n * E->page;
	}
	r = iopgt_unmap(E->dom, a, b - a, &w->g);
	if (r != (int64_t)(b - a))
		die("writer %u: unmap 0x%" PRIx64 "+0x%" PRIx64 " returned %"
		    PRId64 ": its pages were all mapped",
		    w->id, a, b - a, r);
	w->hole = a;
	w->hole_end = b;
	w->holes++;
	e_check_range(w, a, b, "after making a hole");
}

static void edge_fill(struct edge_writer *w)
{
	struct edge *E = w->E;
	uint64_t a = w->hole, b = w->hole_end, len = b - a;

	if (len >= 2 * E->page && e_rnd(w, 2)) {
		/* In two pieces: the second completes the table below. */
		uint64_t m = a + (1 + e_rnd(w, len / E->page - 1)) * E->page;
		e_map(w, m, b - m);
		e_map(w, a, m - a);
	} else {
		e_map(w, a, len);
	}
	w->hole = w->hole_end = 0;
	w->fills++;
	e_check_range(w, a, b, "after filling the hole");
}

static void *edge_writer_main(void *arg)
{
	struct edge_writer *w = arg;
	struct edge *E = w->E;
	long hold = 0;

	cli_strategy_thread_begin(opt.strat);
	iopgt_gather_init(&w->g, sizeof(w->g));
	for (w->ops = 0; w->ops < E->ops && !atomic_load(&E->stop); w->ops++) {
		cli_strategy_quiescent(opt.strat);
		if (w->ops % 64 == 0 && past(&E->deadline))
			break;
		if (w->hole != w->hole_end) {
			edge_fill(w);
			hold = (long)e_rnd(w, 6);
		} else if (hold > 0) {
			/* Everything own mapped: neighbours may coalesce. */
			uint64_t x = E->base +
				     e_rnd(w, E->span / E->page) * E->page;
			hold--;
			if (e_owner(E, x) == w->id)
				e_check(w, x, "holding");
		} else {
			edge_hole(w);
		}
		if (e_rnd(w, 4))
			iopgt_sync(E->dom, &w->g);
		atomic_fetch_add_explicit(E->progress, 1, memory_order_relaxed);
	}
	/* Leave no hole: the end state is the full table, or its
	 * superpage. */
	if (w->hole != w->hole_end && e_rnd(w, 2))
		edge_fill(w);
	iopgt_sync(E->dom, &w->g);
	cli_strategy_thread_end(opt.strat);
	return NULL;
}

static void *edge_lookup_main(void *arg)
{
	struct edge *E = arg;
	uint64_t rng = opt.seed * 77 + 1;
	unsigned long n = 0;

	cli_strategy_thread_begin(opt.strat);
	while (!atomic_load_explicit(&E->stop, memory_order_relaxed)) {
		uint64_t x = E->base + trand(&rng) % (E->span / E->page) * E->page;
		struct iopgt_translation tr;
		int r;

		cli_strategy_quiescent(opt.strat);
		r = iopgt_lookup(E->dom, x, &tr);

		if (r != -ENOENT &&
		    (r || tr.pa != e_pa(E, x) || tr.prot != RW ||
		     !(tr.leaf_size & E->leaf_sizes)))
			die("lookup thread: 0x%" PRIx64 " returned %d, pa 0x%" PRIx64
			    " leaf 0x%" PRIx64 ": not what any writer mapped",
			    x, r, tr.pa, tr.leaf_size);
		if (++n % reclaim_every() == 0)
			iopgt_reclaim(E->dom);
	}
	atomic_fetch_add(&E->lookups, n);
	cli_strategy_thread_end(opt.strat);
	return NULL;
}

static int edge_dirty_cb(void *arg, uint64_t iova, uint64_t size)
{
	struct edge *E = arg;

	if (iova < E->base || size > E->span ||
	    iova - E->base > E->span - size)
		die("dirty thread: run 0x%" PRIx64 "+0x%" PRIx64
		    " outside the table's span",
		    iova, size);
	atomic_fetch_add_explicit(&E->dirty_runs, 1, memory_order_relaxed);
	return 0;
}

static void *edge_dirty_main(void *arg)
{
	struct edge *E = arg;
	struct iopgt_gather g;

	cli_strategy_thread_begin(opt.strat);
	iopgt_gather_init(&g, sizeof(g));
	while (!atomic_load_explicit(&E->stop, memory_order_relaxed)) {
		int r;

		cli_strategy_quiescent(opt.strat);
		r = iopgt_read_and_clear_dirty(E->dom, E->base, E->span, 0,
					       edge_dirty_cb, E, &g);
		if (r == -EOPNOTSUPP)
			break; /* the format keeps no dirty state */
		if (r)
			die("dirty thread: read_and_clear_dirty returned %d", r);
		iopgt_sync(E->dom, &g);
	}
	iopgt_sync(E->dom, &g);
	cli_strategy_thread_end(opt.strat);
	return NULL;
}

/* The walk hook: in the device's lookups only, set the hardware bits in
 * the leaf the walk reaches, with a compare-and-swap that fails if the
 * entry changed meanwhile (as the simulated IOMMU does). Inside the
 * lookup, so the table cannot be reclaimed under it. */
static void edge_device_hook(void *arg, const void *table)
{
	const struct pt_table *t = table;
	struct edge *E = device_edge;
	_Atomic uint64_t *p;
	uint64_t e;

	(void)arg;
	if (!device_iova)
		return;
	p = &t->va[pt_tindex(t, device_iova)];
	e = atomic_load_explicit(p, memory_order_acquire);
	if (!e || E->dom->eng->is_table(e, t->level) ||
	    (e & E->hw_bits) == E->hw_bits)
		return;
	if (atomic_compare_exchange_strong(p, &e, e | E->hw_bits))
		atomic_fetch_add_explicit(&E->device_sets, 1,
					  memory_order_relaxed);
}

static void *edge_device_main(void *arg)
{
	struct edge *E = arg;
	uint64_t rng = opt.seed * 91 + 7;

	if (!E->hw_bits)
		return NULL; /* nothing the hardware sets in this format */
	cli_strategy_thread_begin(opt.strat);
	while (!atomic_load_explicit(&E->stop, memory_order_relaxed)) {
		struct iopgt_translation tr;

		cli_strategy_quiescent(opt.strat);
		device_iova = E->base +
			      trand(&rng) % (E->span / E->page) * E->page;
		(void)iopgt_lookup(E->dom, device_iova, &tr);
		device_iova = 0;
	}
	cli_strategy_thread_end(opt.strat);
	return NULL;
}

/* Every leaf of the span against the writers' models: at the end, with
 * nothing running. */
struct edge_sweep {
	struct edge *E;
	struct edge_writer *ws;
	uint64_t bytes;
};

static int edge_sweep_leaf(void *arg, const struct tleaf *l)
{
	struct edge_sweep *S = arg;
	struct edge *E = S->E;

	if (l->iova + l->size <= E->base || l->iova >= E->base + E->span)
		return 0;
	if (l->pa != e_pa(E, l->iova))
		die("final: leaf 0x%" PRIx64 "+0x%" PRIx64 " maps pa 0x%" PRIx64,
		    l->iova, l->size, l->pa);
	for (unsigned i = 0; i < EDGE_WRITERS; i++) {
		const struct edge_writer *w = &S->ws[i];
		if (w->hole != w->hole_end && l->iova < w->hole_end &&
		    w->hole < l->iova + l->size)
			die("final: leaf 0x%" PRIx64 "+0x%" PRIx64 " covers writer"
			    " %u's hole 0x%" PRIx64 "..0x%" PRIx64 ": a lost "
			    "unmap",
			    l->iova, l->size, i, w->hole, w->hole_end);
	}
	S->bytes += l->size;
	return 0;
}

static void run_edge(const struct tcfg *c)
{
	struct edge *E = calloc(1, sizeof(*E));
	struct edge_writer ws[EDGE_WRITERS];
	pthread_t lt, dt, vt;
	struct tsalloc ta;
	struct iopgt_config cfg;
	struct iopgt_info info;
	struct iopgt_stats st;
	struct iopgt_gather g;
	struct edge_sweep S;
	struct watchdog wd;
	struct run wr; /* the watchdog's view: progress only */
	uint64_t sizes[8], holes = 0;
	unsigned nsizes;
	unsigned long ops = 0, fills = 0, nh = 0;
	time_t t0 = time(NULL);

	if (!E)
		die("out of memory");
	cur_cfg = c;
	E->c = c;
	tsalloc_init(&ta, 4096);
	tcfg_config(c, &cfg);
	cfg.leaf_sizes = 0; /* every size, leaf spans included */
	cfg.table_cache = (c - tcfgs) % 2 ? 0 : 8;
	/* With counts where tables are kept, without (the default) where
	 * every emptied table is unlinked: both protocols race here. */
	cfg.options = (c - tcfgs) % 2 ? 0 : IOPGT_OPT_COUNTS;
	cli_strategy_apply(opt.strat, &cfg);
	if (opt.strat->flavor && !cfg.table_cache)
		cfg.rcu_max_pending = TIGHT_RCU_PENDING;
	tsalloc_ops(&ta, &cfg.mem);
	if (iopgt_domain_create(&cfg, &E->dom))
		die("domain create");
	set_yields(E->dom);
	iopgt_domain_info(E->dom, &info, sizeof(info));
	nsizes = tcfg_leaf_sizes(E->dom, sizes);
	E->leaf_sizes = info.leaf_sizes; /* spans included */
	if (nsizes < 2 || sizes[nsizes - 1] <= (UINT64_C(2) << 20)) {
		printf("%-18s edge: skipped (no leaf above 2M)\n", c->name);
		iopgt_domain_destroy(E->dom);
		tsalloc_fini(&ta);
		free(E);
		return;
	}
	/* T: the table whose entries are the second largest leaves; it
	 * coalesces into the largest. */
	E->L = nsizes - 2;
	E->page = sizes[0];
	E->leaf = sizes[E->L];
	E->span = sizes[E->L + 1];
	E->n0 = (unsigned)(E->span / E->leaf);
	E->base = 2 * E->span <= info.iova_last + 1 ? E->span : 0;
	E->pa_mask = (UINT64_C(1) << (info.ias < info.oas ? info.ias : info.oas)) - 1;
	E->hw_bits = E->dom->eng->hw_accessed | E->dom->eng->hw_dirty;
	E->ops = opt.ops;
	clock_gettime(CLOCK_MONOTONIC, &E->deadline);
	E->deadline.tv_sec += opt.seconds;
	device_edge = E;
	iopgt__set_walk_hook(E->dom, edge_device_hook, NULL);

	/* One leaf short of full: every entry but the last. */
	iopgt_gather_init(&g, sizeof(g));
	if (iopgt_map(E->dom, E->base, e_pa(E, E->base), E->span - E->leaf, RW,
		      &g))
		die("edge: initial map");
	iopgt_sync(E->dom, &g);

	for (unsigned i = 0; i < EDGE_WRITERS; i++) {
		struct edge_writer *w = &ws[i];
		memset(w, 0, sizeof(*w));
		w->E = E;
		w->id = i;
		w->rng = opt.seed * 31 + i * 0x9e3779b97f4a7c15u +
			 (uint64_t)(c - tcfgs) * 0x51ed27u;
	}
	/* The last entry is writer (n0 - 1) % 4's hole to begin with. */
	ws[(E->n0 - 1) % EDGE_WRITERS].hole = E->base + E->span - E->leaf;
	ws[(E->n0 - 1) % EDGE_WRITERS].hole_end = E->base + E->span;

	memset(&wr, 0, sizeof(wr));
	wr.c = c;
	E->progress = &wr.progress;
	memset(&wd, 0, sizeof(wd));
	wd.R = &wr;
	/* Offline until every thread is joined, as in run_config(). */
	cli_strategy_offline(opt.strat);
	if (pthread_create(&wd.th, NULL, watchdog_main, &wd) ||
	    pthread_create(&lt, NULL, edge_lookup_main, E) ||
	    pthread_create(&dt, NULL, edge_dirty_main, E) ||
	    pthread_create(&vt, NULL, edge_device_main, E))
		die("pthread_create");
	for (unsigned i = 0; i < EDGE_WRITERS; i++)
		if (pthread_create(&ws[i].th, NULL, edge_writer_main, &ws[i]))
			die("pthread_create");
	for (unsigned i = 0; i < EDGE_WRITERS; i++)
		pthread_join(ws[i].th, NULL);
	atomic_store(&E->stop, 1);
	pthread_join(lt, NULL);
	pthread_join(dt, NULL);
	pthread_join(vt, NULL);
	atomic_store(&wd.done, 1);
	pthread_join(wd.th, NULL);
	cli_strategy_online(opt.strat);
	iopgt__set_walk_hook(E->dom, NULL, NULL);

	/* The models, exactly. */
	for (unsigned i = 0; i < EDGE_WRITERS; i++) {
		struct edge_writer *w = &ws[i];
		ops += w->ops;
		fills += w->fills;
		nh += w->holes;
		holes += w->hole_end - w->hole;
		for (unsigned k = 0; k < E->n0 / EDGE_WRITERS; k++) {
			uint64_t a = E->base + (k * EDGE_WRITERS + i) * E->leaf;
			e_check_range(w, a, a + E->leaf, "final");
		}
		if (w->hole != w->hole_end)
			e_check_range(w, w->hole, w->hole_end, "final hole");
	}
	memset(&S, 0, sizeof(S));
	S.E = E;
	S.ws = ws;
	tfor_each_leaf(E->dom, edge_sweep_leaf, &S);
	if (S.bytes != E->span - holes)
		die("final: the leaves of the span cover 0x%" PRIx64 " bytes, the"
		    " models 0x%" PRIx64,
		    S.bytes, E->span - holes);
	if (tcheck_counts(E->dom))
		die("table counts do not match the entries");
	iopgt_get_stats(E->dom, &st, sizeof(st));
	printf("%-18s edge: %u writers, cache %u: %lu ops (%lu holes, %lu fills),"
	       " %lu lookups, %lu dirty runs, %lu device A/D sets, coalesced %"
	       PRIu64 ", split %" PRIu64 ", %lds\n",
	       c->name, EDGE_WRITERS, cfg.table_cache, ops, nh, fills,
	       atomic_load(&E->lookups), atomic_load(&E->dirty_runs),
	       atomic_load(&E->device_sets), st.coalesced, st.split,
	       (long)(time(NULL) - t0));
	if (opt.strat->flavor)
		printf("%-18s   %s, rcu_max_pending %" PRIu64 ": %" PRIu64
		       " syncs waited for a grace period\n",
		       "", opt.strat->name, cfg.rcu_max_pending,
		       st.reclaim_waits);
	fflush(stdout);
	if (ops >= 2000 && (!st.coalesced || !st.split))
		die("the run never coalesced or never split: it proves little");

	/* Unmap everything: the root alone remains; nothing leaks. */
	unmap_everything(E->dom, info.iova_last + 1, &g, false);
	iopgt_domain_destroy(E->dom);
	check_no_leak(&ta);
	tsalloc_fini(&ta);
	device_edge = NULL;
	cur_cfg = NULL;
	free(E);
}

/* ------------------------------------------------------------------------
 * Options
 */

static unsigned long num(const char *s, const char *what)
{
	char *end;
	unsigned long v = strtoul(s, &end, 0);

	if (!*s || *end) {
		fprintf(stderr, "stress_concurrent: bad %s '%s'\n", what, s);
		exit(2);
	}
	return v;
}

static const char *env_or(const char *name, const char *dflt)
{
	const char *v = getenv(name);
	return v && *v ? v : dflt;
}

/* Environment variable name, else dflt times IOPGT_TEST_SCALE. */
static unsigned long env_scaled(const char *name, unsigned long dflt,
				const char *what)
{
	const char *v = getenv(name);
	return v && *v ? num(v, what) : (unsigned long)titers(name, (long)dflt);
}

/* The strategy called name, if it allows concurrent walkers; else exit
 * 2. */
static const struct cli_strategy *strategy_arg(const char *name)
{
	const struct cli_strategy *s = cli_strategy_find(name);

	if (!s) {
		fprintf(stderr, "stress_concurrent: unknown strategy '%s' "
				"(one of epoch, rcu-memb, rcu, rcu-mb, "
				"rcu-qsbr, rcu-bp)\n",
			name);
		exit(2);
	}
	if (s->strategy == IOPGT_STRATEGY_AFTER_FLUSH) {
		/* Its callers serialize every call: the walkers this test
		 * races against writers would break rule 5 by design. */
		fprintf(stderr, "stress_concurrent: strategy %s needs callers "
				"that serialize every call on the domain: it "
				"cannot run concurrent walkers\n",
			s->name);
		exit(2);
	}
	return s;
}

int main(int argc, char **argv)
{
	const char *strat_name;
	unsigned ran = 0;
	int ch;

	opt.writers = (unsigned)num(env_or("IOPGT_STRESS_WRITERS", "2"),
				    "writers");
	opt.readers = (unsigned)num(env_or("IOPGT_STRESS_READERS", "1"),
				    "readers");
	opt.ops = env_scaled("IOPGT_STRESS_OPS",
			     TSAN ? 30000 : ASAN ? 150000 : 400000, "ops");
	opt.seconds = (unsigned)env_scaled("IOPGT_STRESS_SECONDS", 10,
					   "seconds");
	opt.configs = env_or("IOPGT_STRESS_CONFIGS", tcfg_representative());
	opt.stall = (unsigned)num(env_or("IOPGT_STRESS_STALL", "60"), "stall");
	/* Breaking the walker rule makes freed memory be read on purpose,
	 * which ThreadSanitizer rightly reports: not under it. */
	opt.negative = (int)num(env_or("IOPGT_STRESS_NEGATIVE", TSAN ? "0" : "1"),
				"negative");
	opt.seed = tseed(0x5eed5eed);
	opt.mode = env_or("IOPGT_STRESS_MODE", "default");
	opt.yield_pct = (unsigned)num(env_or("IOPGT_STRESS_YIELD", "2"),
				      "yield");
	strat_name = env_or("IOPGT_STRESS_STRATEGY", "epoch");
	opt.seconds_set = getenv("IOPGT_STRESS_SECONDS") &&
			  *getenv("IOPGT_STRESS_SECONDS");
	opt.configs_set = getenv("IOPGT_STRESS_CONFIGS") &&
			  *getenv("IOPGT_STRESS_CONFIGS");
	while ((ch = getopt(argc, argv, "w:r:i:d:c:s:t:n:m:S:y:")) != -1) {
		switch (ch) {
		case 'w': opt.writers = (unsigned)num(optarg, "writers"); break;
		case 'r': opt.readers = (unsigned)num(optarg, "readers"); break;
		case 'i': opt.ops = num(optarg, "ops"); break;
		case 'd':
			opt.seconds = (unsigned)num(optarg, "seconds");
			opt.seconds_set = 1;
			break;
		case 'c':
			opt.configs = optarg;
			opt.configs_set = 1;
			break;
		case 's': opt.seed = num(optarg, "seed"); break;
		case 't': opt.stall = (unsigned)num(optarg, "stall"); break;
		case 'n': opt.negative = (int)num(optarg, "negative"); break;
		case 'm': opt.mode = optarg; break;
		case 'S': strat_name = optarg; break;
		case 'y': opt.yield_pct = (unsigned)num(optarg, "yield"); break;
		default:
			fprintf(stderr,
				"usage: %s [-w writers] [-r readers] [-i ops] "
				"[-d seconds] [-c configs|all] [-s seed] "
				"[-t stall-seconds] [-n 0|1] [-m default|edge] "
				"[-S strategy] [-y yield-percent]\n",
				argv[0]);
			return 2;
		}
	}
	if (!opt.writers || opt.writers > MAX_WRITERS || !opt.stall ||
	    !opt.readers || opt.yield_pct > 100) {
		fprintf(stderr, "stress_concurrent: 1..%d writers, 1 or more "
				"readers\n",
			MAX_WRITERS);
		return 2;
	}
	opt.strat = strategy_arg(strat_name);
	if (strcmp(opt.mode, "edge") && strcmp(opt.mode, "default")) {
		fprintf(stderr, "stress_concurrent: unknown mode '%s'\n",
			opt.mode);
		return 2;
	}
	/* This thread creates, checks and destroys every domain: an RCU
	 * reader too, from here to the end. */
	cli_strategy_thread_begin(opt.strat);
	if (!strcmp(opt.mode, "edge")) {
		/* Every configuration, a short while each, unless told. */
		if (!opt.configs_set)
			opt.configs = "all";
		if (!opt.seconds_set)
			opt.seconds = (unsigned)titers("IOPGT_STRESS_SECONDS", 1);
		printf("stress_concurrent: mode edge, strategy %s, %u writers, "
		       "%lu ops each (at most %u s), seed 0x%" PRIx64
		       " (%s to replay)\n",
		       opt.strat->name, EDGE_WRITERS, opt.ops, opt.seconds,
		       opt.seed, TSEED_ENV);
		for (size_t i = 0; i < n_tcfgs; i++) {
			/* Between two domains, none of this thread's walks is
			 * under way (QSBR). */
			cli_strategy_quiescent(opt.strat);
			if (!tname_in_list(opt.configs, tcfgs[i].name))
				continue;
			ran++;
			run_edge(&tcfgs[i]);
		}
		goto out;
	}
	printf("stress_concurrent: strategy %s, %u writers, %u readers, %lu "
	       "ops each (at most %u s), seed 0x%" PRIx64 " (%s to replay)\n",
	       opt.strat->name, opt.writers, opt.readers, opt.ops, opt.seconds,
	       opt.seed, TSEED_ENV);
	for (size_t i = 0; i < n_tcfgs; i++) {
		unsigned short_run = opt.seconds && opt.seconds < 2 ? opt.seconds
								   : 2;
		/* Alternate: the cache reuses pages at once; without it every
		 * page is freed and poisoned. */
		struct mode m = { .writers = opt.writers,
				  .table_cache = ran % 2 ? 0 : 8,
				  .seconds = opt.seconds };
		struct mode slow = { .writers = 1, .slow_readers = 1,
				     .seconds = short_run };

		cli_strategy_quiescent(opt.strat); /* as in mode edge */
		if (!tname_in_list(opt.configs, tcfgs[i].name))
			continue;
		/* Under RCU, every other configuration (those without the
		 * cache, where every unlinked table is freed) keeps few
		 * pages in callbacks: most syncs that free tables then wait
		 * for a grace period themselves, while readers walk. */
		if (ran % 2)
			m.rcu_max_pending = TIGHT_RCU_PENDING;
		ran++;
		run_config(&tcfgs[i], &m);
		/* The default keeps no counts: clears without a section meet
		 * the coalescer's freeze, and fills the unlinker's, by a pair
		 * of fences. The same with neither reclaim nor coalescing:
		 * page maps and unmaps and leaf fills open no section;
		 * installs and splits still race by compare-and-swap. And
		 * with counts (IOPGT_OPT_COUNTS): every map and unmap in a
		 * section of its table. */
		{
			struct mode u = m;

			u.options = IOPGT_OPT_NO_RECLAIM |
				    IOPGT_OPT_NO_COALESCE;
			u.seconds = short_run;
			run_config(&tcfgs[i], &u);
			u.options = IOPGT_OPT_COUNTS;
			run_config(&tcfgs[i], &u);
		}
		/* Rule 5 with readers that linger in each table while a
		 * writer unlinks and frees tables: nothing bad is read... */
		run_config(&tcfgs[i], &slow);
		if (!opt.negative)
			continue;
		/* ...and the same readers do read freed tables when the
		 * walker rule is broken (under RCU, tables are then freed
		 * without a grace period). */
		slow.hooks = PT_HOOK_IGNORE_WALKERS;
		slow.negative = 1;
		slow.seconds = 4 * short_run;
		if (!run_config(&tcfgs[i], &slow)) {
			cur_cfg = &tcfgs[i]; /* for the message */
			die("readers saw nothing wrong with the walker rule "
			    "broken (PT_HOOK_IGNORE_WALKERS)");
		}
	}
out:
	cli_strategy_thread_end(opt.strat);
	if (!ran) {
		fprintf(stderr, "stress_concurrent: no configuration matches '%s'\n",
			opt.configs);
		return 2;
	}
	printf("stress_concurrent: OK (%lu yields injected at the race "
	       "points, %u%% of passes)\n",
	       atomic_load(&yields), opt.yield_pct);
	return 0;
}
