/* SPDX-License-Identifier: MIT */
/*
 * iopgt bench iova-stress: the pattern of the public iova_stress benchmark.
 * For each 2 MiB step across the span: map one page (4K; the granule for the
 * 16K and 64K formats), iopgt_sync, unmap it, iopgt_sync. Each step lands in
 * a level-0 table of its own (at the 4K granule), so without reclaim every
 * step leaves an empty table behind; with reclaim the emptied table is
 * unlinked and returned at the sync.
 *
 * Reported per run: pairs, seconds and ns_per_pair of the loop itself,
 * peak_table_bytes (iopgt_stats.table_bytes_peak: every table page held from
 * the allocator, root included, at the worst moment), final_table_bytes
 * (table_bytes_live after the loop and one more iopgt_sync). iopgt_reclaim()
 * is NOT called before the final reading: it is what the domain holds,
 * including zeroed tables it keeps in its table cache for reuse.
 *
 * --both runs a reclaiming and a non-reclaiming domain in one process,
 * alternating chunks of steps between them (and which goes first), so that
 * noise on the machine hits both alike.
 *
 * Its domains take IOPGT_OPT_ONE_GATHER (one thread, a sync after each
 * call), so the WALK range of a table a step empties costs one command.
 *
 * Invalidation, untimed: the same steps (at most 64Ki) run again on a
 * third domain whose syncs are encoded as the format's IOMMU's commands
 * (iopgt_inval_encode; VT-d with MAMV 18, as the demo): iommu,
 * over_invalidation (bytes the commands of ADDED and MODIFIED ranges
 * cover, per byte unmapped), over_invalidation_with_walks (WALK ranges'
 * commands too), commands_per_sync, and their counts under
 * "invalidation". Commands for everything count in global_commands, not
 * in the bytes.
 *
 * Process memory, read after the final readings and before the domains
 * are destroyed: rss_bytes (resident now, /proc/self/statm), rss_base_bytes
 * (resident before the domains were created), rss_peak_bytes (getrusage
 * ru_maxrss, the peak of the whole process, or rss_bytes if larger: the
 * kernel's counters lag a little; max_rss_bytes is ru_maxrss alone, as
 * before), rss_per_table_byte (rss_bytes over the final
 * table bytes) and rss_growth_per_table_byte (rss_bytes - rss_base_bytes
 * over the final table bytes). RSS belongs to the process, not a domain:
 * with --both the two domains grow it together, so these keys are at the
 * top level and the table bytes they divide by are the sum of both runs'.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "bench_cli.h"
#include "bench_util.h"
#include "cli.h"
#include "iopgt.h"
#include "strategy.h"

static const char stress_usage[] =
	"usage: iopgt bench iova-stress [--span SIZE] [--no-reclaim | --both]\n"
	"                               [FORMAT OPTIONS] [--strategy S] [--json]\n"
	"\n"
	"For each 2 MiB step across the span: map one page (4K, or the granule),\n"
	"sync, unmap it, sync. Reports the pairs, the time per pair and the table\n"
	"memory: peak, and final (after one more sync, without iopgt_reclaim, so\n"
	"tables the domain keeps cached for reuse count). Also the process's\n"
	"resident memory before the domains are destroyed, its peak, and its\n"
	"ratio to the final table bytes (with --both: of both domains together).\n"
	"Then, untimed, the same steps (at most 65536) on another domain whose\n"
	"syncs are written as the format's IOMMU's invalidation commands\n"
	"(iopgt_inval_encode): commands per sync, and bytes their addresses\n"
	"cover per byte unmapped, without and with the WALK ranges\n"
	"(over_invalidation, over_invalidation_with_walks; --gather-policy\n"
	"chooses the policy).\n"
	"\n"
	"options:\n"
	"  --span SIZE   IOVA span, a multiple of 2M (default 1T; suffixes k M G T)\n"
	"  --no-reclaim  keep emptied tables (IOPGT_OPT_NO_RECLAIM)\n"
	"  --both        run with and without reclaim side by side, interleaved\n"
	"                in chunks, and report both and the ratio of ns per pair\n"
	"                (reclaim / no reclaim)\n"
	"  --strategy S  the domains' reclaim strategy (below); under rcu-qsbr\n"
	"                a quiescent state is announced after each step (its\n"
	"                cost is in ns per pair), and the table memory counts\n"
	"                the tables waiting for grace periods\n"
	"  --json        print one JSON object\n"
	"  -h, --help    this text\n"
	"\n"
	"format options:\n";

#define STEP (UINT64_C(2) << 20)
#define CHUNK 4096u /* steps per chunk in --both */

struct run {
	bool reclaim;
	struct iopgt_domain *dom;
	uint64_t page;  /* bytes mapped per step */
	uint64_t pairs;
	uint64_t ns;
	struct iopgt_stats st; /* after the loop and one more sync */
};

/* Steps [from, to) on r's domain; adds the time taken to r->ns. */
static int run_steps(struct run *r, const struct cli_strategy *strat,
		     uint64_t from, uint64_t to)
{
	struct iopgt_gather g;
	uint64_t t0, t1, page = r->page;
	/* Tested here, not in the loop: the other strategies pay nothing
	 * for QSBR's needs. */
	bool qsbr = strat->qsbr;
	int64_t bad = 0;
	int err = 0;

	iopgt_gather_init(&g, sizeof(g));
	t0 = bench_now_ns();
	for (uint64_t s = from; s < to; s++) {
		uint64_t iova = s * STEP;
		err |= iopgt_map(r->dom, iova, iova, page,
				 IOPGT_PROT_READ | IOPGT_PROT_WRITE, &g);
		iopgt_sync(r->dom, &g);
		bad |= iopgt_unmap(r->dom, iova, page, &g) ^ (int64_t)page;
		iopgt_sync(r->dom, &g);
		/* With reclaim every step frees a table: a quiescent state
		 * a step lets the grace periods keep up, rather than the
		 * syncs waiting for them once rcu_max_pending pages wait. */
		if (qsbr)
			cli_strategy_quiescent(strat);
	}
	t1 = bench_now_ns();
	if (err || bad) {
		fprintf(stderr, "iopgt bench iova-stress: map or unmap failed "
				"between 0x%" PRIx64 " and 0x%" PRIx64 "\n",
			from * STEP, to * STEP);
		return -1;
	}
	r->ns += t1 - t0;
	r->pairs += to - from;
	return 0;
}

/* What the syncs of a counting pass asked of the format's IOMMU: each
 * range encoded alone (iopgt_inval_encode), the bytes its commands cover,
 * and the commands of each sync's ranges together. */
struct tally {
	struct iopgt_inval_config ic;
	struct iopgt_inval_cmd cmd[64]; /* max_commands: at most 64 */
	uint64_t bytes;      /* of ADDED and MODIFIED ranges' commands */
	uint64_t walk_bytes; /* of WALK ranges' commands */
	uint64_t commands;
	uint64_t global;     /* commands for everything (no bytes) */
	uint64_t calls;
	int err;
};

static void tally_ranges(void *arg, const struct iopgt_flush_range *r,
			 unsigned nr)
{
	struct tally *t = arg;
	int n;

	t->calls++;
	for (unsigned i = 0; i < nr; i++) {
		n = iopgt_inval_encode(&t->ic, &r[i], 1, t->cmd, 64);
		if (n < 0) {
			t->err = n;
			return;
		}
		*(r[i].kind == IOPGT_FLUSH_WALK ? &t->walk_bytes : &t->bytes) +=
			cli_cmd_bytes(t->cmd, n, &t->global);
	}
	n = iopgt_inval_encode(&t->ic, r, nr, NULL, 0);
	if (n < 0)
		t->err = n;
	else
		t->commands += (uint64_t)n;
}

/* The same steps as the timed runs (at most 64Ki of them), untimed, on a
 * domain of cfg whose syncs go to tally_ranges: what they cost the
 * format's IOMMU. 0, or -1 with a message. */
static int count_pass(const struct iopgt_config *cfg, bool reclaim,
		      const struct cli_strategy *strat, uint64_t steps,
		      struct tally *t, struct run *r)
{
	struct iopgt_config c = *cfg;
	enum iopgt_iommu iommu = cli_format_find(cfg->format)->iommu;
	int rc;

	memset(t, 0, sizeof(*t));
	memset(r, 0, sizeof(*r));
	r->reclaim = reclaim;
	if (!reclaim)
		c.options |= IOPGT_OPT_NO_RECLAIM;
	c.flush_ranges = tally_ranges;
	c.flush.arg = t;
	rc = iopgt_domain_create(&c, &r->dom);
	if (!rc)
		rc = iopgt_inval_config_init(r->dom, iommu, &t->ic,
					     sizeof(t->ic));
	if (rc) {
		fprintf(stderr, "iopgt bench iova-stress: no %s commands for a "
				"%s domain: %s\n",
			iopgt_iommu_name(iommu), cli_format_desc(cfg),
			strerror(-rc));
		return -1;
	}
	/* VT-d: as the demo, MAMV 18 (servers commonly report it). */
	t->ic.max_addr_mask = 18;
	{
		struct iopgt_info info;

		iopgt_domain_info(r->dom, &info, sizeof(info));
		r->page = UINT64_C(1) << info.granule;
	}
	if (run_steps(r, strat, 0, steps < 65536 ? steps : 65536))
		return -1;
	if (t->err) {
		fprintf(stderr, "iopgt bench iova-stress: iopgt_inval_encode: "
				"%s\n",
			strerror(-t->err));
		return -1;
	}
	return 0;
}

static void finish(struct run *r)
{
	struct iopgt_gather g;

	iopgt_gather_init(&g, sizeof(g));
	iopgt_sync(r->dom, &g);
	iopgt_get_stats(r->dom, &r->st, sizeof(r->st));
}

static double ns_per_pair(const struct run *r)
{
	return r->pairs ? (double)r->ns / (double)r->pairs : 0;
}

static double per_byte(uint64_t a, uint64_t b)
{
	return b ? (double)a / (double)b : 0;
}

static void json_run(const struct run *r)
{
	printf("{\"pairs\": %" PRIu64 ", \"seconds\": %.6f, \"ns_per_pair\": "
	       "%.1f, \"peak_table_bytes\": %" PRIu64
	       ", \"final_table_bytes\": %" PRIu64 ", \"reclaim\": %s, "
	       "\"final_table_pages\": %" PRIu64
	       ", \"final_cached_pages\": %" PRIu64
	       ", \"table_allocs\": %" PRIu64 "}",
	       r->pairs, (double)r->ns / 1e9, ns_per_pair(r),
	       r->st.table_bytes_peak, r->st.table_bytes_live,
	       r->reclaim ? "true" : "false", r->st.table_pages_live,
	       r->st.table_pages_cached, r->st.table_pages_alloc);
}

enum {
	OPT_JSON = CLI_OPT_CMD,
	OPT_BOTH,
	OPT_NO_RECLAIM,
	OPT_SPAN,
	OPT_STRATEGY
};

int bench_stress_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_OPTIONS_FORMAT,
		{ "span", required_argument, NULL, OPT_SPAN },
		{ "no-reclaim", no_argument, NULL, OPT_NO_RECLAIM },
		{ "both", no_argument, NULL, OPT_BOTH },
		{ "strategy", required_argument, NULL, OPT_STRATEGY },
		{ "json", no_argument, NULL, OPT_JSON },
		CLI_OPTION_HELP,
		CLI_OPTIONS_END,
	};
	static const char cmd[] = "iopgt bench iova-stress";
	struct iopgt_config cfg;
	struct iopgt_info info;
	struct run runs[2];
	const struct cli_strategy *strat = cli_strategy_find("epoch");
	uint64_t span = UINT64_C(1) << 40, steps;
	uint64_t rss_base, rss_end, rss_peak, max_rss, rss_growth;
	uint64_t table_bytes = 0;
	bool json = false, both = false, no_reclaim = false;
	struct tally tally;
	struct run counted;
	uint64_t changed;
	unsigned nruns, k;
	char b0[24], b1[24];
	int ret = 1, r, opt;

	memset(runs, 0, sizeof(runs));
	memset(&counted, 0, sizeof(counted));
	bench_opts_begin(&cfg);
	while ((opt = bench_getopt(argc, argv, longopts, cmd, stress_usage,
				   &cfg)) != -1) {
		switch (opt) {
		case BENCH_OPT_HELP:
			return 0;
		case OPT_JSON:
			json = true;
			break;
		case OPT_BOTH:
			both = true;
			break;
		case OPT_NO_RECLAIM:
			no_reclaim = true;
			break;
		case OPT_SPAN:
			if (cli_size_arg(cmd, "--span", optarg, 0, UINT64_MAX,
					 &span))
				goto usage;
			if (!span || span % STEP) {
				fprintf(stderr, "%s: bad value for --span: "
						"'%s' (a non-zero multiple of "
						"2M)\n",
					cmd, optarg);
				goto usage;
			}
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
	if (both && no_reclaim) {
		fprintf(stderr, "iopgt bench iova-stress: --both already runs "
				"without reclaim; drop --no-reclaim\n");
		goto usage;
	}
	if (cfg.ias < 64 && span > UINT64_C(1) << cfg.ias) {
		fprintf(stderr, "iopgt bench iova-stress: --span %s exceeds the "
				"%u-bit input space\n",
			bench_size_str(span, b0, sizeof(b0)), cfg.ias);
		return 2;
	}
	steps = span / STEP;
	cli_strategy_apply(strat, &cfg);
	/* One thread, a sync after each call: the tables a step empties are
	 * flushed with one command (IOPGT_RANGE_WALK_EMPTY). */
	cfg.options |= IOPGT_OPT_ONE_GATHER;

	nruns = both ? 2 : 1;
	rss_base = bench_rss_bytes();
	runs[0].reclaim = !no_reclaim;
	runs[1].reclaim = false;
	/* This thread makes every call, registered with the RCU flavor (if
	 * any) from before the first to after the destroys. */
	cli_strategy_thread_begin(strat);
	for (k = 0; k < nruns; k++) {
		struct iopgt_config c = cfg;

		if (!runs[k].reclaim)
			c.options |= IOPGT_OPT_NO_RECLAIM;
		r = iopgt_domain_create(&c, &runs[k].dom);
		if (r) {
			fprintf(stderr, "iopgt bench iova-stress: cannot create "
					"a %s domain: %s\n",
				cli_format_desc(&cfg), strerror(-r));
			goto out;
		}
		iopgt_domain_info(runs[k].dom, &info, sizeof(info));
		runs[k].page = UINT64_C(1) << info.granule;
	}
	if (runs[0].page > STEP) {
		fprintf(stderr, "iopgt bench iova-stress: the granule is larger "
				"than the 2 MiB step\n");
		goto out;
	}

	for (uint64_t s = 0, n = 0; s < steps; s += CHUNK, n++) {
		uint64_t e = steps - s < CHUNK ? steps : s + CHUNK;
		for (k = 0; k < nruns; k++) {
			/* Alternate which run goes first. */
			struct run *rr = &runs[(k + n) % nruns];
			if (run_steps(rr, strat, s, e))
				goto out;
		}
	}
	for (k = 0; k < nruns; k++) {
		finish(&runs[k]);
		table_bytes += runs[k].st.table_bytes_live;
	}
	rss_end = bench_rss_bytes();
	max_rss = bench_max_rss_bytes();
	rss_peak = max_rss > rss_end ? max_rss : rss_end;
	rss_growth = rss_end > rss_base ? rss_end - rss_base : 0;
	if (count_pass(&cfg, runs[0].reclaim, strat, steps, &tally, &counted))
		goto out;
	changed = counted.pairs * counted.page;

	if (json) {
		printf("{\"format\": \"%s\", \"levels\": %u, \"granule\": %" PRIu64
		       ", \"span\": %" PRIu64 ", \"strategy\": \"%s\", "
		       "\"gather_policy\": \"%s\", ",
		       iopgt_format_name(info.format), info.levels,
		       runs[0].page, span, strat->name,
		       iopgt_gather_policy_name(
			       (enum iopgt_gather_policy)cfg.gather_policy));
		printf("\"iommu\": \"%s\", \"over_invalidation\": %.4f, "
		       "\"over_invalidation_with_walks\": %.4f, "
		       "\"commands_per_sync\": %.4f, \"invalidation\": "
		       "{\"pairs\": %" PRIu64 ", \"changed_bytes\": %" PRIu64
		       ", \"invalidated_bytes\": %" PRIu64
		       ", \"walk_bytes\": %" PRIu64 ", \"commands\": %" PRIu64
		       ", \"global_commands\": %" PRIu64
		       ", \"flush_calls\": %" PRIu64 "}, ",
		       iopgt_iommu_name(tally.ic.iommu),
		       per_byte(tally.bytes, changed),
		       per_byte(tally.bytes + tally.walk_bytes, changed),
		       per_byte(tally.commands, tally.calls), counted.pairs,
		       changed, tally.bytes, tally.walk_bytes, tally.commands,
		       tally.global, tally.calls);
		if (both) {
			printf("\"reclaim\": ");
			json_run(&runs[0]);
			printf(", \"no_reclaim\": ");
			json_run(&runs[1]);
			printf(", \"ratio\": %.3f",
			       ns_per_pair(&runs[0]) / ns_per_pair(&runs[1]));
		} else {
			/* One run: its keys at the top level. */
			printf("\"pairs\": %" PRIu64 ", \"seconds\": %.6f, "
			       "\"ns_per_pair\": %.1f, \"peak_table_bytes\": "
			       "%" PRIu64 ", \"final_table_bytes\": %" PRIu64
			       ", \"reclaim\": %s, \"final_table_pages\": "
			       "%" PRIu64 ", \"final_cached_pages\": %" PRIu64
			       ", \"table_allocs\": %" PRIu64,
			       runs[0].pairs, (double)runs[0].ns / 1e9,
			       ns_per_pair(&runs[0]),
			       runs[0].st.table_bytes_peak,
			       runs[0].st.table_bytes_live,
			       runs[0].reclaim ? "true" : "false",
			       runs[0].st.table_pages_live,
			       runs[0].st.table_pages_cached,
			       runs[0].st.table_pages_alloc);
		}
		printf(", \"max_rss_bytes\": %" PRIu64 ", \"rss_bytes\": %" PRIu64
		       ", \"rss_base_bytes\": %" PRIu64 ", \"rss_peak_bytes\": "
		       "%" PRIu64 ", \"rss_per_table_byte\": %.4f, "
		       "\"rss_growth_per_table_byte\": %.4f}\n",
		       max_rss, rss_end, rss_base, rss_peak,
		       per_byte(rss_end, table_bytes),
		       per_byte(rss_growth, table_bytes));
	} else {
		printf("iopgt bench iova-stress: %s, strategy %s, span %s: "
		       "%" PRIu64 " x (map %s, sync, unmap, sync), one per "
		       "2M\n",
		       cli_format_desc(&cfg), strat->name,
		       bench_size_str(span, b0, sizeof(b0)), steps,
		       bench_size_str(runs[0].page, b1, sizeof(b1)));
		printf("%-28s", "");
		for (k = 0; k < nruns; k++)
			printf(" %14s", runs[k].reclaim ? "reclaim" : "no reclaim");
		printf("\n%-28s", "pairs");
		for (k = 0; k < nruns; k++)
			printf(" %14" PRIu64, runs[k].pairs);
		printf("\n%-28s", "seconds");
		for (k = 0; k < nruns; k++)
			printf(" %14.3f", (double)runs[k].ns / 1e9);
		printf("\n%-28s", "ns per pair");
		for (k = 0; k < nruns; k++)
			printf(" %14.1f", ns_per_pair(&runs[k]));
		printf("\n%-28s", "peak table bytes");
		for (k = 0; k < nruns; k++)
			printf(" %14" PRIu64, runs[k].st.table_bytes_peak);
		printf("\n%-28s", "final table bytes");
		for (k = 0; k < nruns; k++)
			printf(" %14" PRIu64, runs[k].st.table_bytes_live);
		printf("\n%-28s", "  of which cached for reuse");
		for (k = 0; k < nruns; k++)
			printf(" %14" PRIu64, runs[k].st.table_pages_cached *
						      runs[k].page);
		printf("\n%-28s", "table allocations");
		for (k = 0; k < nruns; k++)
			printf(" %14" PRIu64, runs[k].st.table_pages_alloc);
		printf("\nprocess RSS before destroy: %.1f MiB (%.1f MiB over the "
		       "start), peak %.1f MiB\n",
		       (double)rss_end / (1 << 20),
		       (double)rss_growth / (1 << 20),
		       (double)rss_peak / (1 << 20));
		printf("RSS per final table byte%s: %.3f (growth only: %.3f)\n",
		       both ? " (both domains)" : "",
		       per_byte(rss_end, table_bytes),
		       per_byte(rss_growth, table_bytes));
		if (both) {
			double ratio = ns_per_pair(&runs[0]) /
				       ns_per_pair(&runs[1]);
			printf("ratio ns per pair, reclaim / no reclaim: %.3f "
			       "(target <= 1: %s)\n",
			       ratio, ratio <= 1 ? "met" : "NOT met");
		}
		printf("%s commands (untimed, %" PRIu64 " steps, policy %s): "
		       "%.3f commands per sync; bytes invalidated per byte "
		       "unmapped %.3f (%.3f with WALK ranges)\n",
		       iopgt_iommu_name(tally.ic.iommu), counted.pairs,
		       iopgt_gather_policy_name(
			       (enum iopgt_gather_policy)cfg.gather_policy),
		       per_byte(tally.commands, tally.calls),
		       per_byte(tally.bytes, changed),
		       per_byte(tally.bytes + tally.walk_bytes, changed));
		if (runs[0].reclaim) {
			bool ok = runs[0].st.table_bytes_peak <= 65536 &&
				  runs[0].st.table_bytes_live <= 65536;
			printf("reclaim: peak and final table memory <= 64 KiB: "
			       "%s\n",
			       ok ? "met" : "NOT met");
		}
	}
	ret = 0;
out:
	for (k = 0; k < 2; k++)
		iopgt_domain_destroy(runs[k].dom);
	iopgt_domain_destroy(counted.dom);
	cli_strategy_thread_end(strat);
	return ret;
usage:
	return cli_usage_error(cmd);
}
