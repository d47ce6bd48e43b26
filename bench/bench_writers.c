/* SPDX-License-Identifier: MIT */
/*
 * iopgt bench writers: N threads that map and unmap pages of disjoint IOVA
 * ranges that share one leaf table and every table above it.
 *
 * Layout
 *   One region of one leaf table's span (2 MiB with 4K pages; 32 MiB, 512
 *   MiB with the 16K, 64K granules) at the middle of the input space (of
 *   its lower half where IOVAs are sign-extended). Thread t of N owns E / N
 *   of its E pages:
 *     interleaved (the default): pages t, t + N, t + 2N, ..., so that
 *       neighbours' entries sit side by side in the same cache lines of
 *       the same leaf table, under the same upper tables: every store of
 *       one thread is to a line the others store to;
 *     blocks: pages t * E / N to (t + 1) * E / N - 1, one run each, as
 *       threads that allocate IOVAs from ranges of their own do: the same
 *       leaf table and upper tables, but (with E / N a multiple of 8, as
 *       for 1 to 64 threads on 8-byte entries) no line that two threads
 *       store to.
 *   One page of the next
 *   region (the next leaf table, under the same parent) stays mapped for the
 *   whole run, so the upper tables never empty: only the shared leaf table
 *   can be emptied, unlinked and created again.
 *
 * One op: iopgt_map of one page (IOVA = PA), iopgt_unmap of it, iopgt_sync
 *   of the thread's own gather. Each thread cycles through its pages.
 *
 * Rounds: each configuration runs for --seconds in total, in rounds of about
 *   100 ms; the configurations take turns round by round (which goes first
 *   rotates), so noise on the machine hits them alike. Threads are created
 *   for each round, released together, and stopped by a flag after the
 *   round's time. A round's rate is its ops over the time from the first
 *   thread's start to the last one's stop; ops_per_second is the median
 *   over the rounds.
 *
 * Configurations, each with a domain of its own:
 *   N threads, and (N > 1) 1 thread, on the default table cache: ops/s and
 *     table_allocs_per_op, the table pages obtained from table_alloc per op
 *     (iopgt_stats.table_pages_alloc over all rounds / ops). Tables served
 *     from the domain's cache of emptied tables are not allocations.
 *   the same with table_cache = 0: every table the engine creates then
 *     comes from table_alloc, so its allocations per op are the tables
 *     created per op (tables_created_per_op). The count is of these runs,
 *     whose speed differs; it describes the same pattern.
 *   scaling = ops_per_second(N) / ops_per_second(1), from the same run.
 *   cpu_share: the threads' CPU time (CLOCK_THREAD_CPUTIME_ID) over N times
 *     their wall time; below 1 when other processes took the cores.
 *   ops_per_cpu_second: all rounds' ops over the threads' CPU time.
 *
 * Readers (--readers R): R more threads look up the writers' pages in
 *   turn (iopgt_lookup, IOVA = PA checked on every hit) while the writers
 *   of the N- and 1-thread configurations run, and alone in a fifth
 *   configuration (no writer, the pages all unmapped): lookups_per_second
 *   of each, the median over rounds of the readers' lookups over their
 *   time. Readers hold the after-flush mutex across each lookup, and
 *   announce a quiescent state after each under rcu-qsbr, as writers do.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "bench_cli.h"
#include "bench_util.h"
#include "cli.h"
#include "iopgt.h"
#include "strategy.h"

static const char writers_usage[] =
	"usage: iopgt bench writers [--threads N] [--seconds S] [--no-reclaim]\n"
	"                           [--no-coalesce] [--counts] [FORMAT OPTIONS]\n"
	"                           [--strategy S] [--layout L] [--readers R]\n"
	"                           [--json]\n"
	"\n"
	"N threads map and unmap pages of disjoint IOVA ranges that share their\n"
	"tables. One op is iopgt_map of one page, iopgt_unmap of it and\n"
	"iopgt_sync of the thread's own gather. Reports all threads' ops per\n"
	"second together, and the scaling against 1 thread measured in the same\n"
	"run, round by round.\n"
	"\n"
	"Layout: one leaf table's span (2M with 4K pages) at the middle of the\n"
	"input space (of its lower half where IOVAs are sign-extended); with\n"
	"--layout interleaved (the default) thread t owns its pages t, t+N,\n"
	"t+2N, ..., so neighbours' entries share cache lines, the leaf table and\n"
	"every table above it; with --layout blocks thread t owns one run of\n"
	"E/N pages (E entries per table), so threads share the tables but no\n"
	"line they store to (for E/N a multiple of 8). A page of the next\n"
	"leaf table stays mapped, so the upper tables never empty: with reclaim\n"
	"the shared leaf table is unlinked whenever all threads' pages are\n"
	"unmapped at once, and the next map creates it again.\n"
	"\n"
	"Reported for N threads and for 1 thread:\n"
	"  ops_per_second         median over rounds of about 100 ms\n"
	"  table_allocs_per_op    table pages from table_alloc per op\n"
	"                         (iopgt_stats.table_pages_alloc deltas); tables\n"
	"                         reused from the domain's table cache are not\n"
	"                         counted\n"
	"  tables_created_per_op  tables created per op, including those the\n"
	"                         cache would serve: the allocations per op of a\n"
	"                         second pair of runs whose domains have\n"
	"                         table_cache = 0 (so every creation allocates)\n"
	"  scaling                ops_per_second / that of 1 thread (1 if N = 1)\n"
	"  cpu_share              the threads' CPU time / (N x wall time): below 1\n"
	"                         when other processes held the cores\n"
	"  ops_per_cpu_second     ops / the threads' CPU time, for a busy machine\n"
	"  lookups_per_second     with --readers: the readers' lookups per second\n"
	"                         (median over rounds) while the writers run;\n"
	"                         readers_alone: the same with no writer\n"
	"\n"
	"options:\n"
	"  --threads N    writer threads (default 2; 1 to 64)\n"
	"  --seconds S    run time of each of the (up to four) configurations,\n"
	"                 in rounds of 100 ms taken in turn (default 1; 0.01 to\n"
	"                 3600)\n"
	"  --no-reclaim   keep emptied tables (IOPGT_OPT_NO_RECLAIM)\n"
	"  --no-coalesce  never coalesce (IOPGT_OPT_NO_COALESCE); with\n"
	"                 --no-reclaim the domain keeps no entry counts\n"
	"  --counts       keep entry counts (IOPGT_OPT_COUNTS); by default the\n"
	"                 domains keep none, and coalesce and reclaim by probes\n"
	"                 and scans\n"
	"  --no-counts    the default, named (IOPGT_OPT_NO_COUNTS)\n"
	"  --strategy S   the domains' reclaim strategy (below). after-flush\n"
	"                 requires the caller to serialize its calls: each op\n"
	"                 (map, unmap, sync) then holds a mutex of the\n"
	"                 benchmark, with any number of threads, so the figures\n"
	"                 are those of a caller with a lock of its own. Under\n"
	"                 rcu-qsbr each thread announces a quiescent state\n"
	"                 after each op (its cost is in the figures)\n"
	"  --layout L     interleaved (default) or blocks: which pages each\n"
	"                 thread owns (above)\n"
	"  --readers R    R more threads look up the writers' pages, one after\n"
	"                 the other, while the writers run (not in the\n"
	"                 table_cache=0 runs), and alone in a run of their own\n"
	"                 (default 0; 0 to 64)\n"
	"  --json         print one JSON object\n"
	"  -h, --help     this text\n"
	"\n"
	"format options:\n";

#define PROT_RW (IOPGT_PROT_READ | IOPGT_PROT_WRITE)
#define ROUND_NS 100000000.0
#define WARMUP_NS 20000000u

struct shared {
	struct iopgt_domain *dom;
	const struct cli_strategy *strat;
	uint64_t base;
	uint64_t page;
	unsigned threads, per;
	bool blocks; /* --layout blocks */
	unsigned entries;
	atomic_bool stop;
	pthread_mutex_t lock; /* with cond: the start */
	pthread_cond_t cond;
	bool go;
	/* after-flush: held across each op, as that strategy requires of
	 * its callers (no two calls on the domain overlap in time). */
	pthread_mutex_t *serial;
};

struct writer {
	pthread_t tid;
	struct shared *sh;
	unsigned t;
	uint64_t ops, t0, t1, cpu_ns;
	const char *failed; /* "map", "unmap", "lookup" */
	uint64_t bad_iova;
	int64_t bad_r;
};

/* One configuration: a domain and its thread counts. */
struct conf {
	unsigned threads, readers;
	bool no_cache;
	struct iopgt_domain *dom;
	double *rate;     /* ops/s of each round */
	unsigned nrounds;
	uint64_t ops, allocs;
	double cpu_ns, wall_ns; /* summed over threads and rounds */
	double ops_per_second;
	double *lrate;    /* lookups/s of each round, with readers */
	uint64_t lookups;
	double lookups_per_second;
};

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A writer's or reader's start: register with the strategy, wait for the
 * others to be created (offline under QSBR meanwhile), and note the time. */
static void thread_start(struct shared *sh, struct writer *w)
{
	cli_strategy_thread_begin(sh->strat);
	cli_strategy_offline(sh->strat);
	pthread_mutex_lock(&sh->lock);
	while (!sh->go)
		pthread_cond_wait(&sh->cond, &sh->lock);
	pthread_mutex_unlock(&sh->lock);
	cli_strategy_online(sh->strat);
	w->t0 = bench_now_ns();
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	struct shared *sh = w->sh;
	struct iopgt_gather g;
	uint64_t page = sh->page, c0;
	pthread_mutex_t *serial = sh->serial;
	/* Tested here, not in the loop: the default strategies pay nothing
	 * for the others' needs. */
	bool qsbr = sh->strat->qsbr;
	unsigned j = 0;

	iopgt_gather_init(&g, sizeof(g));
	thread_start(sh, w);
	c0 = thread_cpu_ns();
	while (!atomic_load_explicit(&sh->stop, memory_order_relaxed)) {
		uint64_t iova =
			sh->base +
			(sh->blocks ? (uint64_t)w->t * sh->per + j
				    : w->t + (uint64_t)sh->threads * j) *
				page;
		int64_t u;
		int r;

		if (++j == sh->per)
			j = 0;
		if (serial)
			pthread_mutex_lock(serial);
		r = iopgt_map(sh->dom, iova, iova, page, PROT_RW, &g);
		if (r) {
			w->failed = "map";
			w->bad_iova = iova;
			w->bad_r = r;
			if (serial)
				pthread_mutex_unlock(serial);
			break;
		}
		u = iopgt_unmap(sh->dom, iova, page, &g);
		if (u != (int64_t)page) {
			w->failed = "unmap";
			w->bad_iova = iova;
			w->bad_r = u;
			if (serial)
				pthread_mutex_unlock(serial);
			break;
		}
		iopgt_sync(sh->dom, &g);
		if (serial)
			pthread_mutex_unlock(serial);
		if (qsbr)
			cli_strategy_quiescent(sh->strat);
		w->ops++;
	}
	if (serial)
		pthread_mutex_lock(serial);
	iopgt_sync(sh->dom, &g);
	if (serial)
		pthread_mutex_unlock(serial);
	w->cpu_ns = thread_cpu_ns() - c0;
	w->t1 = bench_now_ns();
	cli_strategy_thread_end(sh->strat);
	return NULL;
}

/* A reader: lookups of the writers' pages in turn, until stopped. A hit
 * must translate IOVA to the same PA (the writers map IOVA = PA); a miss
 * is -ENOENT. */
static void *reader_main(void *arg)
{
	struct writer *w = arg;
	struct shared *sh = w->sh;
	uint64_t page = sh->page, c0;
	pthread_mutex_t *serial = sh->serial;
	bool qsbr = sh->strat->qsbr;
	unsigned j = w->t * 7;

	thread_start(sh, w);
	c0 = thread_cpu_ns();
	while (!atomic_load_explicit(&sh->stop, memory_order_relaxed)) {
		uint64_t iova = sh->base + (uint64_t)(j % sh->entries) * page;
		struct iopgt_translation tr;
		int r;

		j++;
		if (serial)
			pthread_mutex_lock(serial);
		r = iopgt_lookup(sh->dom, iova, &tr);
		if (serial)
			pthread_mutex_unlock(serial);
		if (r != -ENOENT && (r || tr.pa != iova)) {
			w->failed = "lookup";
			w->bad_iova = iova;
			w->bad_r = r ? r : -EIO;
			break;
		}
		if (qsbr)
			cli_strategy_quiescent(sh->strat);
		w->ops++;
	}
	w->cpu_ns = thread_cpu_ns() - c0;
	w->t1 = bench_now_ns();
	cli_strategy_thread_end(sh->strat);
	return NULL;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000u),
			       (long)(ns % 1000000000u) };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* One round of c for ns nanoseconds; counted unless warm-up. */
static int run_round(struct conf *c, const struct cli_strategy *strat,
		     uint64_t base, uint64_t page, unsigned entries,
		     bool blocks, uint64_t ns, int round)
{
	static const char cmd[] = "iopgt bench writers";
	struct writer w[128];
	struct shared sh;
	struct iopgt_stats s0, s1;
	pthread_mutex_t serial;
	uint64_t ops = 0, first = UINT64_MAX, last = 0;
	uint64_t lookups = 0, lfirst = UINT64_MAX, llast = 0;
	unsigned n = c->threads, all = n + c->readers, started = 0;
	int ret = 0;

	memset(w, 0, sizeof(w));
	memset(&sh, 0, sizeof(sh));
	sh.dom = c->dom;
	sh.strat = strat;
	if (strat->strategy == IOPGT_STRATEGY_AFTER_FLUSH) {
		pthread_mutex_init(&serial, NULL);
		sh.serial = &serial;
	}
	sh.base = base;
	sh.page = page;
	sh.threads = n;
	sh.per = n ? entries / n : 0;
	sh.entries = entries;
	sh.blocks = blocks;
	atomic_init(&sh.stop, false);
	pthread_mutex_init(&sh.lock, NULL);
	pthread_cond_init(&sh.cond, NULL);
	iopgt_get_stats(c->dom, &s0, sizeof(s0));
	/* This thread makes no call until the writers are joined, and waits
	 * for them: under QSBR it must not hold up their grace periods. */
	cli_strategy_offline(strat);
	for (unsigned t = 0; t < all; t++) {
		w[t].sh = &sh;
		w[t].t = t < n ? t : t - n;
		if (pthread_create(&w[t].tid, NULL,
				   t < n ? writer_main : reader_main, &w[t])) {
			fprintf(stderr, "%s: cannot create thread %u\n", cmd,
				t);
			atomic_store(&sh.stop, true);
			ret = -1;
			break;
		}
		started++;
	}
	/* Release them together. */
	pthread_mutex_lock(&sh.lock);
	sh.go = true;
	pthread_cond_broadcast(&sh.cond);
	pthread_mutex_unlock(&sh.lock);
	if (!ret)
		sleep_ns(ns);
	atomic_store(&sh.stop, true);
	for (unsigned t = 0; t < started; t++)
		pthread_join(w[t].tid, NULL);
	cli_strategy_online(strat);
	pthread_cond_destroy(&sh.cond);
	pthread_mutex_destroy(&sh.lock);
	if (sh.serial)
		pthread_mutex_destroy(sh.serial);
	iopgt_get_stats(c->dom, &s1, sizeof(s1));
	for (unsigned t = 0; t < started; t++) {
		if (w[t].failed) {
			fprintf(stderr, "%s: %s %u: %s of 0x%" PRIx64
					" failed: %s\n",
				cmd, t < n ? "thread" : "reader", w[t].t,
				w[t].failed, w[t].bad_iova,
				w[t].bad_r == -EIO ? "wrong address"
				: w[t].bad_r < 0   ? strerror((int)-w[t].bad_r)
						   : "short unmap");
			ret = -1;
		}
		if (t >= n) {
			lookups += w[t].ops;
			if (w[t].t0 < lfirst)
				lfirst = w[t].t0;
			if (w[t].t1 > llast)
				llast = w[t].t1;
			continue;
		}
		ops += w[t].ops;
		if (w[t].t0 < first)
			first = w[t].t0;
		if (w[t].t1 > last)
			last = w[t].t1;
	}
	if (ret || round < 0)
		return ret;
	if (n)
		c->rate[round] = last > first ? (double)ops * 1e9 /
							(double)(last - first)
					      : 0;
	if (c->readers) {
		c->lrate[round] = llast > lfirst ? (double)lookups * 1e9 /
							   (double)(llast - lfirst)
						 : 0;
		c->lookups += lookups;
	}
	c->ops += ops;
	c->allocs += s1.table_pages_alloc - s0.table_pages_alloc;
	for (unsigned t = 0; t < n; t++) {
		c->cpu_ns += (double)w[t].cpu_ns;
		c->wall_ns += (double)(w[t].t1 - w[t].t0);
	}
	return 0;
}

static double per_op(uint64_t v, uint64_t ops)
{
	return ops ? (double)v / (double)ops : 0;
}

static double cpu_share(const struct conf *c)
{
	return c->wall_ns > 0 ? c->cpu_ns / c->wall_ns : 0;
}

/* All rounds' ops over the threads' CPU time: the rate the threads would
 * have had with the cores to themselves, if time waiting for a core were
 * the only difference. */
static double ops_per_cpu_second(const struct conf *c)
{
	return c->cpu_ns > 0 ? (double)c->ops * 1e9 / c->cpu_ns : 0;
}

static int parse_seconds(const char *cmd, const char *val, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = val && *val >= '0' && *val <= '9' ? strtod(val, &end) : -1;
	if (v < 0 || errno || *end || v < 0.01 || v > 3600) {
		fprintf(stderr, "%s: bad value for --seconds: '%s' (a decimal "
				"number from 0.01 to 3600)\n",
			cmd, val ? val : "");
		return -1;
	}
	*out = v;
	return 0;
}

enum {
	OPT_JSON = CLI_OPT_CMD,
	OPT_THREADS,
	OPT_SECONDS,
	OPT_NO_RECLAIM,
	OPT_NO_COALESCE,
	OPT_NO_COUNTS,
	OPT_COUNTS,
	OPT_STRATEGY,
	OPT_LAYOUT,
	OPT_READERS
};

int bench_writers_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_OPTIONS_FORMAT,
		{ "threads", required_argument, NULL, OPT_THREADS },
		{ "seconds", required_argument, NULL, OPT_SECONDS },
		{ "no-reclaim", no_argument, NULL, OPT_NO_RECLAIM },
		{ "no-coalesce", no_argument, NULL, OPT_NO_COALESCE },
		{ "no-counts", no_argument, NULL, OPT_NO_COUNTS },
		{ "counts", no_argument, NULL, OPT_COUNTS },
		{ "strategy", required_argument, NULL, OPT_STRATEGY },
		{ "layout", required_argument, NULL, OPT_LAYOUT },
		{ "readers", required_argument, NULL, OPT_READERS },
		{ "json", no_argument, NULL, OPT_JSON },
		CLI_OPTION_HELP,
		CLI_OPTIONS_END,
	};
	static const char cmd[] = "iopgt bench writers";
	struct iopgt_config cfg;
	struct iopgt_info info;
	struct conf confs[5];
	const struct cli_strategy *strat = cli_strategy_find("epoch");
	uint64_t threads = 2, readers = 0, page = 0, base = 0, round_ns;
	double seconds = 1;
	bool json = false, no_reclaim = false, no_coalesce = false;
	bool no_counts = false, counts = false, blocks = false;
	unsigned nconf, rounds, entries = 0;
	char b0[24], b1[24], who[64];
	int ret = 1, r, opt;

	memset(confs, 0, sizeof(confs));
	bench_opts_begin(&cfg);
	while ((opt = bench_getopt(argc, argv, longopts, cmd, writers_usage,
				   &cfg)) != -1) {
		switch (opt) {
		case BENCH_OPT_HELP:
			return 0;
		case OPT_JSON:
			json = true;
			break;
		case OPT_THREADS:
			if (cli_count_arg(cmd, "--threads", optarg, 1, 64,
					  &threads))
				goto usage;
			break;
		case OPT_READERS:
			if (cli_count_arg(cmd, "--readers", optarg, 0, 64,
					  &readers))
				goto usage;
			break;
		case OPT_SECONDS:
			if (parse_seconds(cmd, optarg, &seconds))
				goto usage;
			break;
		case OPT_NO_COALESCE:
			no_coalesce = true;
			break;
		case OPT_NO_COUNTS:
			no_counts = true;
			break;
		case OPT_COUNTS:
			counts = true;
			break;
		case OPT_NO_RECLAIM:
			no_reclaim = true;
			break;
		case OPT_STRATEGY:
			if (cli_strategy_arg(cmd, optarg, &strat))
				goto usage;
			break;
		case OPT_LAYOUT:
			if (!strcmp(optarg, "blocks")) {
				blocks = true;
			} else if (!strcmp(optarg, "interleaved")) {
				blocks = false;
			} else {
				fprintf(stderr,
					"%s: bad value for --layout: '%s' "
					"(interleaved or blocks)\n",
					cmd, optarg);
				goto usage;
			}
			break;
		default:
			goto usage;
		}
	}
	if (bench_opts_end(argc, argv, cmd, &cfg))
		goto usage;
	if (no_reclaim)
		cfg.options |= IOPGT_OPT_NO_RECLAIM;
	if (no_coalesce)
		cfg.options |= IOPGT_OPT_NO_COALESCE;
	if (no_counts)
		cfg.options |= IOPGT_OPT_NO_COUNTS;
	if (counts)
		cfg.options |= IOPGT_OPT_COUNTS;
	cli_strategy_apply(strat, &cfg);

	/* N threads, 1 thread; the same with table_cache = 0; with
	 * readers, they alone last. */
	nconf = 0;
	for (unsigned nc = 0; nc < 2; nc++) {
		confs[nconf].threads = (unsigned)threads;
		confs[nconf].readers = nc ? 0 : (unsigned)readers;
		confs[nconf++].no_cache = nc;
		if (threads > 1) {
			confs[nconf].threads = 1;
			confs[nconf].readers = nc ? 0 : (unsigned)readers;
			confs[nconf++].no_cache = nc;
		}
	}
	if (readers)
		confs[nconf++].readers = (unsigned)readers;
	rounds = (unsigned)(seconds * 1e9 / ROUND_NS);
	if (rounds * ROUND_NS < seconds * 1e9)
		rounds++;
	round_ns = (uint64_t)(seconds * 1e9 / rounds);

	/* This thread creates, checks and destroys the domains. */
	cli_strategy_thread_begin(strat);
	for (unsigned k = 0; k < nconf; k++) {
		struct iopgt_config c = cfg;
		struct iopgt_gather g;

		if (confs[k].no_cache)
			c.table_cache = 0;
		r = iopgt_domain_create(&c, &confs[k].dom);
		if (r) {
			fprintf(stderr, "%s: cannot create a %s domain: %s\n",
				cmd, cli_format_desc(&cfg), strerror(-r));
			goto out;
		}
		confs[k].rate = calloc(rounds, sizeof(double));
		confs[k].lrate = calloc(rounds, sizeof(double));
		if (!confs[k].rate || !confs[k].lrate) {
			fprintf(stderr, "%s: out of memory\n", cmd);
			goto out;
		}
		iopgt_domain_info(confs[k].dom, &info, sizeof(info));
		page = UINT64_C(1) << info.granule;
		entries = 1u << (info.granule - 3);
		/* The middle of the input space (of its lower half where
		 * the format sign-extends). */
		base = (info.iova_last >> 1) + 1;
		if (info.levels < 3 || threads > entries) {
			fprintf(stderr, "%s: %s has too few levels or entries "
					"for the layout\n",
				cmd, cli_format_desc(&cfg));
			goto out;
		}
		/* The page that keeps the upper tables: the next leaf table. */
		iopgt_gather_init(&g, sizeof(g));
		r = iopgt_map(confs[k].dom, base + entries * page,
			      base + entries * page, page, PROT_RW, &g);
		iopgt_sync(confs[k].dom, &g);
		if (r) {
			fprintf(stderr, "%s: map at 0x%" PRIx64 " failed: %s\n",
				cmd, base + entries * page, strerror(-r));
			goto out;
		}
	}

	for (unsigned k = 0; k < nconf; k++)
		if (run_round(&confs[k], strat, base, page, entries, blocks,
			      WARMUP_NS, -1))
			goto out;
	for (unsigned rd = 0; rd < rounds; rd++)
		for (unsigned k = 0; k < nconf; k++)
			if (run_round(&confs[(k + rd) % nconf], strat, base,
				      page, entries, blocks, round_ns,
				      (int)rd))
				goto out;
	for (unsigned k = 0; k < nconf; k++) {
		struct iopgt_translation tr;

		confs[k].ops_per_second = bench_median(confs[k].rate, rounds);
		confs[k].lookups_per_second =
			bench_median(confs[k].lrate, rounds);
		/* Every writer's page is unmapped, the kept page is not. */
		for (unsigned e = 0; e <= entries; e++) {
			int want = e == entries ? 0 : -ENOENT;

			r = iopgt_lookup(confs[k].dom, base + e * page, &tr);
			if (r != want) {
				fprintf(stderr, "%s: after the run, lookup of "
						"0x%" PRIx64 " gave %d, not "
						"%d\n",
					cmd, base + e * page, r, want);
				goto out;
			}
		}
	}

	{
		struct conf *n = &confs[0], *one = threads > 1 ? &confs[1] : n;
		struct conf *nn = &confs[threads > 1 ? 2 : 1];
		struct conf *onen = threads > 1 ? &confs[3] : nn;
		/* 1 thread is its own baseline (1, even if a round on a
		 * starved machine counted no operation). */
		double scaling = threads == 1 ? 1.0
				 : one->ops_per_second > 0
				 ? n->ops_per_second / one->ops_per_second
				 : 0.0;
		double scaling_nc = threads == 1 ? 1.0
				    : onen->ops_per_second > 0
				    ? nn->ops_per_second / onen->ops_per_second
				    : 0.0;

		if (json) {
			printf("{\"format\": \"%s\", \"levels\": %u, "
			       "\"granule\": %" PRIu64 ", \"threads\": %u, "
			       "\"reclaim\": %s, \"coalesce\": %s, "
			       "\"counts\": %s, \"strategy\": \"%s\", "
			       "\"layout\": \"%s\", "
			       "\"gather_policy\": \"%s\", "
			       "\"seconds\": %.3f, "
			       "\"rounds\": %u, \"pages_per_thread\": %u, "
			       "\"ops\": %" PRIu64 ", \"ops_per_second\": %.0f, "
			       "\"table_allocs_per_op\": %.4f, "
			       "\"tables_created_per_op\": %.4f, "
			       "\"scaling\": %.3f, \"cpu_share\": %.3f, "
			       "\"ops_per_cpu_second\": %.0f",
			       iopgt_format_name(info.format), info.levels, page,
			       n->threads, no_reclaim ? "false" : "true",
			       no_coalesce ? "false" : "true",
			       counts && !(no_reclaim && no_coalesce)
				       ? "true"
				       : "false",
			       strat->name,
			       blocks ? "blocks" : "interleaved",
			       iopgt_gather_policy_name(
				       (enum iopgt_gather_policy)
					       cfg.gather_policy),
			       seconds, rounds,
			       entries / n->threads, n->ops,
			       n->ops_per_second, per_op(n->allocs, n->ops),
			       per_op(nn->allocs, nn->ops), scaling,
			       cpu_share(n), ops_per_cpu_second(n));
			if (threads > 1)
				printf(", \"one_thread\": {\"ops\": %" PRIu64
				       ", \"ops_per_second\": %.0f, "
				       "\"table_allocs_per_op\": %.4f, "
				       "\"tables_created_per_op\": %.4f, "
				       "\"cpu_share\": %.3f, "
				       "\"ops_per_cpu_second\": %.0f}",
				       one->ops, one->ops_per_second,
				       per_op(one->allocs, one->ops),
				       per_op(onen->allocs, onen->ops),
				       cpu_share(one), ops_per_cpu_second(one));
			printf(", \"no_cache\": {\"ops_per_second\": %.0f, "
			       "\"one_thread_ops_per_second\": %.0f, "
			       "\"scaling\": %.3f}",
			       nn->ops_per_second, onen->ops_per_second,
			       scaling_nc);
			printf(", \"readers\": %u", (unsigned)readers);
			if (readers)
				printf(", \"lookups_per_second\": %.0f, "
				       "\"one_thread_lookups_per_second\": "
				       "%.0f, \"readers_alone\": "
				       "{\"lookups_per_second\": %.0f}",
				       n->lookups_per_second,
				       one->lookups_per_second,
				       confs[nconf - 1].lookups_per_second);
			printf("}\n");
		} else {
			if (blocks)
				snprintf(who, sizeof(who),
					 "pages t*%u to t*%u+%u", entries /
					 n->threads, entries / n->threads,
					 entries / n->threads - 1);
			else
				snprintf(who, sizeof(who),
					 "pages t, t+%u, t+%u, ...", n->threads,
					 2 * n->threads);
			printf("iopgt bench writers: %s, %s%s%s, strategy "
			       "%s%s, %u thread%s on one "
			       "%s leaf table (thread t: %s), "
			       "one op = map + unmap + sync of one %s page; "
			       "%u round%s of %.0f ms per configuration\n",
			       cli_format_desc(&cfg),
			       no_reclaim ? "no reclaim" : "reclaim",
			       no_coalesce ? ", no coalesce" : "",
			       counts ? ", counts" : "", strat->name,
			       strat->strategy == IOPGT_STRATEGY_AFTER_FLUSH
				       ? " (ops serialized by a mutex)"
				       : "",
			       n->threads,
			       n->threads > 1 ? "s" : "",
			       bench_size_str(entries * page, b0, sizeof(b0)),
			       who, bench_size_str(page, b1, sizeof(b1)),
			       rounds,
			       rounds > 1 ? "s" : "", round_ns / 1e6);
			printf("%-28s %14s %14s\n", "", "table cache",
			       "table_cache=0");
			for (unsigned k = 0; k < (threads > 1 ? 2u : 1u); k++) {
				struct conf *a = &confs[k];
				struct conf *b = &confs[k + (threads > 1 ? 2 : 1)];

				printf("%u thread%s\n", a->threads,
				       a->threads > 1 ? "s" : "");
				printf("  %-26s %14.0f %14.0f\n",
				       "ops per second (median)",
				       a->ops_per_second, b->ops_per_second);
				printf("  %-26s %14.4f %14.4f\n",
				       "table allocs per op",
				       per_op(a->allocs, a->ops),
				       per_op(b->allocs, b->ops));
				printf("  %-26s %14.3f %14.3f\n", "cpu share",
				       cpu_share(a), cpu_share(b));
				printf("  %-26s %14.0f %14.0f\n",
				       "ops per CPU second", ops_per_cpu_second(a),
				       ops_per_cpu_second(b));
			}
			printf("tables created per op (the table_cache=0 "
			       "runs' allocations): %.4f",
			       per_op(nn->allocs, nn->ops));
			if (threads > 1)
				printf(" with %u threads, %.4f with 1",
				       n->threads,
				       per_op(onen->allocs, onen->ops));
			printf("\nscaling, ops/s of %u threads / 1 thread: "
			       "%.3f (table_cache=0: %.3f)\n",
			       n->threads, scaling, scaling_nc);
			if (readers) {
				printf("lookups per second of %u reader%s "
				       "(median): %.0f with %u writer%s",
				       (unsigned)readers,
				       readers > 1 ? "s" : "",
				       n->lookups_per_second, n->threads,
				       n->threads > 1 ? "s" : "");
				if (threads > 1)
					printf(", %.0f with 1",
					       one->lookups_per_second);
				printf(", %.0f alone\n",
				       confs[nconf - 1].lookups_per_second);
			}
		}
	}
	ret = 0;
out:
	for (unsigned k = 0; k < 5; k++) {
		iopgt_domain_destroy(confs[k].dom);
		free(confs[k].rate);
		free(confs[k].lrate);
	}
	cli_strategy_thread_end(strat);
	return ret;
usage:
	return cli_usage_error(cmd);
}
