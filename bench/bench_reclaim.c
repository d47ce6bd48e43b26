/* SPDX-License-Identifier: MIT */
/*
 * iopgt bench reclaim: an unmap storm, and what each reclaim strategy makes
 * of it. A round maps one page (the granule) at the start of each of K leaf
 * tables' spans, syncs, then unmaps the K tables' whole span in one call and
 * syncs: the K emptied leaf tables are unlinked, flushed and handed to the
 * strategy by that sync. A page mapped just past the span keeps the table
 * above them linked, so a round retires exactly K table pages. The domain
 * keeps no table for reuse (table_cache 0), so every emptied table is freed.
 *
 * Two phases on one domain, one thread making every call:
 *
 *   paced  after each round, wait (polling iopgt_get_stats, announcing
 *          quiescent states under QSBR) until no page of the domain waits:
 *          the latency from the sync's return to the last page's free. For
 *          the strategies that free in the sync (epoch with no walker,
 *          after-flush) it is the poll's own cost.
 *   storm  rounds back to back, not waiting: the most pages waiting after
 *          any sync (the memory held for walkers), the syncs that waited
 *          for a grace period themselves (RCU over rcu_max_pending), and,
 *          once everything queued has been freed, who freed the pages and
 *          the time they spent on it, and the batches handed to the
 *          strategy's thread (deferred_batches: RCU callbacks or worker
 *          queue pushes).
 *
 * sync_ns is the time of the unmap's sync alone: what the unmapping thread
 * pays for the flush, the hand-over, and any freeing or waiting it does.
 * --per-page makes the RCU strategy queue one callback per page instead of
 * one per batch (a test-only strategy of the test hooks).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "bench_cli.h"
#include "bench_util.h"
#include "cli.h"
#include "iopgt.h"
#include "strategy.h"
#include "testhook.h"

static const char reclaim_usage[] =
	"usage: iopgt bench reclaim [--tables K] [--rounds R] [--per-page]\n"
	"                           [--rcu-max-pending N] [FORMAT OPTIONS]\n"
	"                           [--strategy S] [--json]\n"
	"\n"
	"An unmap storm. A round maps one page at the start of each of K leaf\n"
	"tables' spans, syncs, unmaps their whole span in one call and syncs:\n"
	"K table pages are unlinked and handed to the reclaim strategy (the\n"
	"domain keeps none for reuse: table_cache 0). One thread makes every\n"
	"call. Two phases on one domain:\n"
	"  paced  after each round, wait until no page of the domain waits for\n"
	"         walkers: latency_ns, from the sync's return to the last\n"
	"         page's free (medians and largest over the rounds)\n"
	"  storm  R rounds back to back: waiting_peak_pages, the most pages\n"
	"         waiting after any sync (memory held); reclaim_waits, syncs\n"
	"         that waited for a grace period themselves; then, once all is\n"
	"         freed, deferred_batches (RCU callbacks or worker queue\n"
	"         pushes), pages freed and nanoseconds spent freeing by the\n"
	"         caller's thread and by the strategy's (freed_by_callers,\n"
	"         freed_by_worker, free_ns_callers, free_ns_worker)\n"
	"Both report rounds, pages, ns_per_round (median) and sync_ns (median\n"
	"time of the unmap's sync: what the unmapping thread pays).\n"
	"\n"
	"options:\n"
	"  --tables K           leaf tables emptied per round (default 64; 1 to\n"
	"                       the entries of a table less one)\n"
	"  --rounds R           storm rounds (default 2000; paced: R/10, at\n"
	"                       least 10)\n"
	"  --per-page           RCU only: one callback per table page instead\n"
	"                       of one per sync's batch (a test-only strategy)\n"
	"  --rcu-max-pending N  RCU only: the domain's bound on pages waiting\n"
	"                       in callbacks (iopgt_config.rcu_max_pending;\n"
	"                       default 0, the library's 4096)\n"
	"  --strategy S         the domain's reclaim strategy (below); under\n"
	"                       rcu-qsbr a quiescent state is announced after\n"
	"                       each round and while waiting\n"
	"  --json               print one JSON object\n"
	"  -h, --help           this text\n"
	"\n"
	"format options:\n";

enum {
	OPT_JSON = CLI_OPT_CMD,
	OPT_TABLES,
	OPT_ROUNDS,
	OPT_PER_PAGE,
	OPT_MAX_PENDING,
	OPT_STRATEGY
};

/* Give up waiting for the strategy to free after this long. */
#define WAIT_LIMIT_NS (UINT64_C(10) * 1000000000)

struct phase {
	uint64_t rounds, pages;
	double ns_per_round, sync_ns;   /* medians */
	double latency_ns, latency_max; /* paced: median and largest */
	uint64_t waiting_peak;          /* storm: pages */
	struct iopgt_stats d;           /* counters' deltas over the phase */
};

struct ctx {
	struct iopgt_domain *dom;
	const struct cli_strategy *strat;
	uint64_t base, span, page; /* span: one leaf table's */
	unsigned tables;
};

static uint64_t waiting(const struct iopgt_domain *dom)
{
	struct iopgt_stats st;

	iopgt_get_stats(dom, &st, sizeof(st));
	return st.table_pages_waiting;
}

/* Wait until no page waits; the time taken, or UINT64_MAX past the
 * limit. */
static uint64_t wait_freed(const struct ctx *c, uint64_t t0)
{
	uint64_t t;

	for (;;) {
		t = bench_now_ns();
		if (!waiting(c->dom))
			return t - t0;
		if (t - t0 > WAIT_LIMIT_NS)
			return UINT64_MAX;
		if (c->strat->qsbr)
			cli_strategy_quiescent(c->strat);
		sched_yield();
	}
}

/* One round: map K pages, sync, unmap their span, sync. The time of the
 * whole round and of the last sync; 0, or -1 with a message. */
static int round_once(const struct ctx *c, struct iopgt_gather *g,
		      uint64_t *round_ns, uint64_t *sync_ns)
{
	uint64_t t0, t1, t2, len = c->span * c->tables;
	int err = 0;
	int64_t n;

	t0 = bench_now_ns();
	for (unsigned k = 0; k < c->tables; k++) {
		uint64_t iova = c->base + k * c->span;
		err |= iopgt_map(c->dom, iova, iova, c->page,
				 IOPGT_PROT_READ | IOPGT_PROT_WRITE, g);
	}
	err |= iopgt_sync(c->dom, g);
	n = iopgt_unmap(c->dom, c->base, len, g);
	t1 = bench_now_ns();
	err |= iopgt_sync(c->dom, g);
	t2 = bench_now_ns();
	if (err || n != (int64_t)(c->page * c->tables)) {
		fprintf(stderr, "iopgt bench reclaim: a map, unmap or sync "
				"failed (unmap returned %" PRId64 ")\n",
			n);
		return -1;
	}
	*round_ns = t2 - t0;
	*sync_ns = t2 - t1;
	return 0;
}

static void delta(struct iopgt_stats *d, const struct iopgt_stats *a,
		  const struct iopgt_stats *b)
{
	memset(d, 0, sizeof(*d));
	d->table_pages_freed = b->table_pages_freed - a->table_pages_freed;
	d->reclaim_waits = b->reclaim_waits - a->reclaim_waits;
	d->deferred_batches = b->deferred_batches - a->deferred_batches;
	d->freed_by_callers = b->freed_by_callers - a->freed_by_callers;
	d->freed_by_worker = b->freed_by_worker - a->freed_by_worker;
	d->free_ns_callers = b->free_ns_callers - a->free_ns_callers;
	d->free_ns_worker = b->free_ns_worker - a->free_ns_worker;
}

static int run_phase(const struct ctx *c, struct phase *p, uint64_t rounds,
		     bool paced)
{
	double *rn = calloc(rounds, sizeof(*rn));
	double *sn = calloc(rounds, sizeof(*sn));
	double *lat = paced ? calloc(rounds, sizeof(*lat)) : NULL;
	struct iopgt_stats a, b;
	struct iopgt_gather g;
	uint64_t r_ns, s_ns, w;
	int ret = -1;

	if (!rn || !sn || (paced && !lat)) {
		fprintf(stderr, "iopgt bench reclaim: out of memory\n");
		goto out;
	}
	memset(p, 0, sizeof(*p));
	iopgt_gather_init(&g, sizeof(g));
	iopgt_get_stats(c->dom, &a, sizeof(a));
	for (uint64_t i = 0; i < rounds; i++) {
		if (round_once(c, &g, &r_ns, &s_ns))
			goto out;
		rn[i] = (double)r_ns;
		sn[i] = (double)s_ns;
		if (paced) {
			w = wait_freed(c, bench_now_ns());
			if (w == UINT64_MAX)
				goto stuck;
			lat[i] = (double)w;
			if (lat[i] > p->latency_max)
				p->latency_max = lat[i];
			continue;
		}
		w = waiting(c->dom);
		if (w > p->waiting_peak)
			p->waiting_peak = w;
		if (c->strat->qsbr)
			cli_strategy_quiescent(c->strat);
	}
	/* Everything queued freed, so that the counters are complete. */
	if (wait_freed(c, bench_now_ns()) == UINT64_MAX)
		goto stuck;
	iopgt_get_stats(c->dom, &b, sizeof(b));
	delta(&p->d, &a, &b);
	p->rounds = rounds;
	p->pages = p->d.table_pages_freed;
	p->ns_per_round = bench_median(rn, rounds);
	p->sync_ns = bench_median(sn, rounds);
	if (paced)
		p->latency_ns = bench_median(lat, rounds);
	ret = 0;
	goto out;
stuck:
	fprintf(stderr, "iopgt bench reclaim: pages still waiting after %u s "
			"(strategy %s)\n",
		(unsigned)(WAIT_LIMIT_NS / 1000000000), c->strat->name);
out:
	free(rn);
	free(sn);
	free(lat);
	return ret;
}

/* The span of one leaf table: the lowest level's, from the tree. */
static int leaf_span_fn(void *arg, const struct iopgt_table_info *t)
{
	if (t->level == 0)
		*(uint64_t *)arg = t->span;
	return 0;
}

static void json_phase(const char *name, const struct phase *p, bool paced)
{
	printf("\"%s\": {\"rounds\": %" PRIu64 ", \"pages\": %" PRIu64
	       ", \"ns_per_round\": %.1f, \"sync_ns\": %.1f",
	       name, p->rounds, p->pages, p->ns_per_round, p->sync_ns);
	if (paced)
		printf(", \"latency_ns\": %.1f, \"latency_max_ns\": %.1f",
		       p->latency_ns, p->latency_max);
	else
		printf(", \"waiting_peak_pages\": %" PRIu64, p->waiting_peak);
	printf(", \"deferred_batches\": %" PRIu64 ", \"reclaim_waits\": "
	       "%" PRIu64 ", \"freed_by_callers\": %" PRIu64
	       ", \"freed_by_worker\": %" PRIu64 ", \"free_ns_callers\": "
	       "%" PRIu64 ", \"free_ns_worker\": %" PRIu64 "}",
	       p->d.deferred_batches, p->d.reclaim_waits,
	       p->d.freed_by_callers, p->d.freed_by_worker,
	       p->d.free_ns_callers, p->d.free_ns_worker);
}

/* A line of the text table: a count, or nanoseconds as milliseconds, of
 * each phase. */
static void row_u(const char *name, uint64_t paced, uint64_t storm)
{
	printf("%-28s %14" PRIu64 " %14" PRIu64 "\n", name, paced, storm);
}

static void row_ms(const char *name, uint64_t paced_ns, uint64_t storm_ns)
{
	printf("%-28s %14.3f %14.3f\n", name, (double)paced_ns / 1e6,
	       (double)storm_ns / 1e6);
}

int bench_reclaim_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_OPTIONS_FORMAT,
		{ "tables", required_argument, NULL, OPT_TABLES },
		{ "rounds", required_argument, NULL, OPT_ROUNDS },
		{ "per-page", no_argument, NULL, OPT_PER_PAGE },
		{ "rcu-max-pending", required_argument, NULL, OPT_MAX_PENDING },
		{ "strategy", required_argument, NULL, OPT_STRATEGY },
		{ "json", no_argument, NULL, OPT_JSON },
		CLI_OPTION_HELP,
		CLI_OPTIONS_END,
	};
	static const char cmd[] = "iopgt bench reclaim";
	struct iopgt_config cfg;
	struct iopgt_info info;
	struct ctx c;
	struct phase paced, storm;
	const struct cli_strategy *strat = cli_strategy_find("epoch");
	uint64_t tables = 64, rounds = 2000, max_pending = 0, entries;
	bool json = false, per_page = false, have_max = false;
	struct iopgt_gather g;
	int ret = 1, r, opt;

	memset(&c, 0, sizeof(c));
	bench_opts_begin(&cfg);
	while ((opt = bench_getopt(argc, argv, longopts, cmd, reclaim_usage,
				   &cfg)) != -1) {
		switch (opt) {
		case BENCH_OPT_HELP:
			return 0;
		case OPT_JSON:
			json = true;
			break;
		case OPT_PER_PAGE:
			per_page = true;
			break;
		case OPT_TABLES:
			if (cli_count_arg(cmd, "--tables", optarg, 1,
					  UINT64_C(1) << 20, &tables))
				goto usage;
			break;
		case OPT_ROUNDS:
			if (cli_count_arg(cmd, "--rounds", optarg, 1,
					  UINT64_C(1) << 30, &rounds))
				goto usage;
			break;
		case OPT_MAX_PENDING:
			if (cli_count_arg(cmd, "--rcu-max-pending", optarg, 0,
					  UINT64_MAX, &max_pending))
				goto usage;
			have_max = true;
			break;
		case OPT_STRATEGY:
			if (cli_strategy_arg(cmd, optarg, &strat))
				goto usage;
			break;
		default:
			goto usage;
		}
	}
	if (bench_opts_end(argc, argv, cmd, &cfg))
		goto usage;
	if ((per_page || have_max) && !strat->flavor) {
		fprintf(stderr, "%s: %s needs an RCU strategy (rcu-memb, "
				"rcu-mb, rcu-qsbr or rcu-bp)\n",
			cmd, per_page ? "--per-page" : "--rcu-max-pending");
		goto usage;
	}
	cli_strategy_apply(strat, &cfg);
	cfg.table_cache = 0;
	cfg.rcu_max_pending = max_pending;
	c.strat = strat;
	c.tables = (unsigned)tables;

	cli_strategy_thread_begin(strat);
	r = iopgt_domain_create(&cfg, &c.dom);
	if (r) {
		fprintf(stderr, "%s: cannot create a %s domain: %s\n", cmd,
			cli_format_desc(&cfg), strerror(-r));
		goto out;
	}
	if (per_page)
		iopgt__set_test_hooks(c.dom, PT_HOOK_RCU_PER_PAGE);
	iopgt_domain_info(c.dom, &info, sizeof(info));
	c.page = UINT64_C(1) << info.granule;
	/* One page at 0 shows the leaf table's span; the K tables start at
	 * the next span of the table above, and the anchor follows them. */
	iopgt_gather_init(&g, sizeof(g));
	r = iopgt_map(c.dom, 0, 0, c.page, IOPGT_PROT_READ, &g);
	if (!r)
		r = iopgt_sync(c.dom, &g);
	if (!r)
		r = iopgt_for_each_table(c.dom, leaf_span_fn, &c.span);
	if (r || !c.span) {
		fprintf(stderr, "%s: cannot find the leaf table's span\n", cmd);
		goto out;
	}
	entries = c.span / c.page;
	if (tables >= entries) {
		fprintf(stderr, "%s: bad value for --tables: '%" PRIu64
				"' (at most %" PRIu64 " with this format)\n",
			cmd, tables, entries - 1);
		ret = cli_usage_error(cmd);
		goto out;
	}
	c.base = c.span * entries; /* the second table's span above */
	r = iopgt_map(c.dom, c.base + tables * c.span, 0, c.page,
		      IOPGT_PROT_READ, &g);
	if (!r)
		r = iopgt_sync(c.dom, &g);
	if (r) {
		fprintf(stderr, "%s: cannot map the anchor page: %s\n", cmd,
			strerror(-r));
		goto out;
	}

	if (run_phase(&c, &paced, rounds / 10 < 10 ? 10 : rounds / 10, true) ||
	    run_phase(&c, &storm, rounds, false))
		goto out;

	if (json) {
		printf("{\"format\": \"%s\", \"levels\": %u, \"granule\": %" PRIu64
		       ", \"strategy\": \"%s\", \"per_page\": %s, "
		       "\"rcu_max_pending\": %" PRIu64 ", \"tables\": %" PRIu64
		       ", \"page_bytes\": %" PRIu64 ", ",
		       iopgt_format_name(info.format), info.levels, c.page,
		       strat->name, per_page ? "true" : "false", max_pending,
		       tables, c.page);
		json_phase("paced", &paced, true);
		printf(", ");
		json_phase("storm", &storm, false);
		printf("}\n");
	} else {
		printf("%s: %s, strategy %s%s, %" PRIu64 " tables a round%s\n",
		       cmd, cli_format_desc(&cfg), strat->name,
		       per_page ? " (one callback per page)" : "", tables,
		       have_max ? ", rcu_max_pending set" : "");
		printf("%-28s %14s %14s\n", "", "paced", "storm");
		row_u("rounds", paced.rounds, storm.rounds);
		row_u("pages freed", paced.pages, storm.pages);
		printf("%-28s %14.1f %14.1f\n", "ns per round (median)",
		       paced.ns_per_round, storm.ns_per_round);
		printf("%-28s %14.1f %14.1f\n", "sync ns (median)",
		       paced.sync_ns, storm.sync_ns);
		printf("%-28s %14.1f %14s\n", "latency to free ns (median)",
		       paced.latency_ns, "");
		printf("%-28s %14.1f %14s\n", "latency to free ns (max)",
		       paced.latency_max, "");
		printf("%-28s %14s %14" PRIu64 "\n", "pages waiting (peak)", "",
		       storm.waiting_peak);
		row_u("batches deferred", paced.d.deferred_batches,
		      storm.d.deferred_batches);
		row_u("syncs that waited", paced.d.reclaim_waits,
		      storm.d.reclaim_waits);
		row_u("freed by the caller", paced.d.freed_by_callers,
		      storm.d.freed_by_callers);
		row_u("freed by the strategy", paced.d.freed_by_worker,
		      storm.d.freed_by_worker);
		row_ms("ms freeing, caller", paced.d.free_ns_callers,
		       storm.d.free_ns_callers);
		row_ms("ms freeing, strategy", paced.d.free_ns_worker,
		       storm.d.free_ns_worker);
	}
	ret = 0;
out:
	iopgt_domain_destroy(c.dom);
	cli_strategy_thread_end(strat);
	return ret;
usage:
	return cli_usage_error(cmd);
}
