/* SPDX-License-Identifier: MIT */
/*
 * iopgt demo: the library at work on the simulated IOMMU (sim/), with
 * device threads translating while the mapper maps, unmaps and syncs.
 *
 *   1. a VM with a passthrough device: guest RAM mapped with superpages,
 *      in chunks, one sync per chunk;
 *   2. a NIC: an RX ring kept full and a bursty TX ring of page-sized
 *      buffers, unmapped and mapped again in batches (one sync per batch)
 *      while the device threads stream DMA to them and to guest RAM;
 *   3. dirty tracking over guest RAM, where the format has a dirty bit;
 *   4. teardown: unmap everything, sync, reclaim, destroy.
 *
 * The mapper keeps the simulator's reference model: it announces every map
 * and unmap before the call and completes it after the sync that flushed
 * it. The simulator checks every translation against the model and every
 * table read against the state of the page; the summary ends with the
 * number of violations found.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "cli.h"
#include "demo.h"
#include "iopgt.h"
#include "iopgt_sim.h"
#include "strategy.h"
#include "testhook.h"

#define KiB (UINT64_C(1) << 10)
#define MiB (UINT64_C(1) << 20)
#define GiB (UINT64_C(1) << 30)

/* The simulated host's physical memory: table pages in the simulator's
 * arena, guest RAM at a fixed offset above it, then the pool the ring
 * buffers come from. */
#define ARENA_PA    (1 * GiB)
#define ARENA_SIZE  (256 * MiB)
#define HOST_RAM_PA (2 * GiB)
/* Guest RAM below 4G ends here (a device hole up to 4G), the rest of it
 * starts at 4G. */
#define LOW_RAM_END (3 * GiB + 512 * MiB)

#define BATCH 32         /* ring buffers per batch, one sync per batch */
#define MAX_RING 65536
#define MAX_PASSES 8

static const char demo_usage[] =
	"usage: iopgt demo [FORMAT OPTIONS] [OPTIONS]\n"
	"\n"
	"Run the library on the simulated IOMMU with device threads translating\n"
	"(DMA) while the mapper works, and check every translation:\n"
	"  1. guest RAM of a VM with a passthrough device, mapped with superpages\n"
	"     in chunks of 1G, one sync per chunk (below 4G up to 3.5G, the rest\n"
	"     from 4G; host PA = guest address + 2G);\n"
	"  2. a NIC: an RX ring kept full (device writes) and a bursty TX ring\n"
	"     (device reads) of page-sized buffers at the middle of the IOVA\n"
	"     space (at the start of its upper half where IOVAs are\n"
	"     sign-extended: x86_64), unmapped and mapped again in batches of\n"
	"     32 with one sync per batch, while the devices stream DMA to them\n"
	"     and to guest RAM;\n"
	"  3. dirty tracking: read and clear the dirty bits of guest RAM a few\n"
	"     times while the devices write (formats whose hardware keeps dirty\n"
	"     state: see iopgt formats);\n"
	"  4. teardown: unmap everything, sync, reclaim, destroy.\n"
	"The mapper announces each map and unmap to the simulator's reference\n"
	"model and completes it after the sync. The domain is created with\n"
	"table_cache = 0 and one table page a segment, so every table page the\n"
	"library frees and reuses goes through the simulator's allocator and\n"
	"its generation checks.\n"
	"Prints a summary ending with 'violations: N'; exits 1 if N > 0.\n"
	"A progress bar is drawn on stderr when it is a terminal.\n"
	"\n"
	"options (--opt VALUE or --opt=VALUE):\n"
	"  --ram SIZE        guest RAM (default 4G; k, M, G, T suffixes): a\n"
	"                    multiple of the page, at most half the IOVA space\n"
	"  --ring N          buffers per ring, 1..65536 (default 512)\n"
	"  --ops N           ring map and unmap calls in phase 2, 0..10^12\n"
	"                    (default 1000000)\n"
	"  --devices N       device threads, 1..64 (default 2)\n"
	"  --seed N          seed of the buffer addresses and the devices,\n"
	"                    0..2^64-1 (default 1)\n"
	"  --caching-mode    the IOMMU caches non-present entries: maps need\n"
	"                    ADDED flushes\n"
	"  --counts          the domain keeps entry counts in its tables\n"
	"                    (IOPGT_OPT_COUNTS; by default it keeps none)\n"
	"  --iommu NAME      the IOMMU whose invalidation commands each sync\n"
	"                    writes (iopgt_inval_encode) and the simulator\n"
	"                    executes under that IOMMU's rules: vtd, amd,\n"
	"                    smmuv3, riscv, or none (the simulator's abstract\n"
	"                    flushes); default: the format's own IOMMU\n"
	"                    (iopgt formats)\n"
	"  --break WHAT      break a safety rule on purpose, to see the simulator\n"
	"                    catch it: skip-flush (sync issues no invalidation)\n"
	"                    or leaf-only-flush (WALK flushes sent as MODIFIED)\n"
	"  --small           a quick run (CI, sanitizers): the defaults become\n"
	"                    --ram 1536M --ring 64 --ops 300000, and 3 dirty\n"
	"                    passes\n"
	"  --strategy S      the domain's reclaim strategy (below); the mapper\n"
	"                    is the only thread that calls the library (it\n"
	"                    announces a quiescent state after each sync under\n"
	"                    rcu-qsbr); the device threads only read tables\n"
	"  --json            print the summary as one JSON object\n"
	"  -h, --help        this text\n"
	"The order of the options does not matter: the defaults (those of\n"
	"--small with it) are set first, then every option given explicitly, so\n"
	"'--small --ops 1000' and '--ops 1000 --small' both run 1000 operations.\n"
	"\n"
	"format options:\n";

struct ring {
	uint64_t iova;  /* first buffer's IOVA */
	unsigned prot;
	unsigned n;     /* slots */
	unsigned head;  /* next slot to map */
	unsigned tail;  /* next slot to unmap */
	unsigned busy;  /* slots mapped */
};

struct demo {
	/* options */
	struct iopgt_config cfg;
	uint64_t ram, ops, seed;
	unsigned nring, devices;
	unsigned dirty_passes, dirty_ms;
	bool json, caching_mode, counts, quiet;
	unsigned hooks;      /* --break: PT_HOOK_* */
	const struct cli_strategy *strat; /* in cfg; what this thread owes */

	struct iopgt_sim *sim;
	struct iopgt_domain *dom;
	struct iopgt_info info;
	struct iopgt_hw_config hw;
	unsigned grown; /* growths of the root (--ias-max) */
	uint64_t page;       /* smallest leaf */
	uint64_t leaf_sizes[64];
	unsigned nleaf;
	bool devices_on;

	struct { uint64_t iova, size; } slot[2];
	unsigned nslots;
	uint64_t ram_top;    /* end of the highest guest RAM slot */
	uint64_t piece;      /* guest RAM is announced to the model in pieces */
	struct ring rx, tx;
	uint64_t pool_pa, pool_pages;
	uint64_t rng;

	/* counts */
	uint64_t maps, unmaps, syncs, sync_none;
	uint64_t phase2_ops;
	uint64_t dirty_bytes;
	uint64_t dirty_pass[MAX_PASSES]; /* bytes found by each pass */
	int dirty_rc;         /* 0, or -EOPNOTSUPP */
	uint64_t leaves[64];  /* guest RAM leaves by size index */
	uint64_t root_pages, root_bytes, after_unmap_pages, after_unmap_bytes;
	uint64_t reclaim_waits; /* syncs that waited for a grace period */
	/* who freed table pages: the mapper (caller) or the strategy's
	 * own thread; pages and nanoseconds */
	uint64_t freed_by[2], free_ns[2];
	struct iopgt_sim_stats sst;
	double t0, seconds, phase_s[4];

	/* Invalidation: the IOMMU whose commands syncs write (0: the
	 * simulator's abstract flushes), the simulator's own callbacks, and
	 * what was flushed for what was changed. */
	int iommu;                 /* -1: the format's */
	struct iopgt_inval_config ic;
	struct iopgt_flush_ops sim_ops;
	struct iopgt_inval_cmd *cmd;
	unsigned ncmd;
	int inval_err;             /* iopgt_inval_encode() failed: why */
	struct inval_count {
		uint64_t changed;      /* bytes mapped (caching mode),
		                        * unmapped or dirty-cleared */
		uint64_t invalidated;  /* bytes the commands (or ranges)
		                        * of ADDED and MODIFIED ranges
		                        * cover, commands for everything
		                        * left out */
		uint64_t walk_bytes;   /* the same, of WALK ranges: each
		                        * unlinked table's whole span */
		uint64_t commands, global; /* commands; for everything */
		uint64_t ranges[IOPGT_FLUSH_KINDS]; /* by kind */
		uint64_t added_bytes;  /* of ADDED ranges */
		uint64_t mapped;       /* bytes mapped */
		uint64_t unmapped_pages;
		uint64_t flush_calls;  /* syncs (and early flushes) that
		                        * flushed */
	} inv, inv_rings;

	/* progress bar */
	bool tty, bar;
	uint64_t bar_ns;
};

/* ------------------------------------------------------------------------
 * Small helpers
 */

static uint64_t rnd(struct demo *d)
{
	uint64_t z = (d->rng += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static double now_s(void)
{
	return (double)bench_now_ns() / 1e9;
}

/* "4 GiB", "3.62 GiB", "64 KiB", "123 bytes". */
static const char *human(uint64_t b, char *buf, size_t len)
{
	static const char *const unit[] = { "KiB", "MiB", "GiB", "TiB" };
	double v = (double)b;
	int u = -1;

	while (v >= 1024 && u < 3) {
		v /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%" PRIu64 " bytes", b);
	else if (v == (double)(uint64_t)v)
		snprintf(buf, len, "%.0f %s", v, unit[u]);
	else
		snprintf(buf, len, "%.2f %s", v, unit[u]);
	return buf;
}

static void bar(struct demo *d, const char *what, uint64_t done,
		uint64_t total)
{
	enum { W = 32 };
	static const char hashes[W + 1] = "################################";
	uint64_t t = bench_now_ns();
	unsigned fill, pct;

	if (!d->tty || !total || (done < total && d->bar &&
				  t - d->bar_ns < 100 * 1000 * 1000))
		return;
	if (done > total)
		done = total;
	d->bar_ns = t;
	d->bar = true;
	fill = (unsigned)(done * W / total);
	pct = (unsigned)(done * 100 / total);
	fprintf(stderr, "\r%-24s [%.*s%*s] %3u%%", what, (int)fill, hashes,
		(int)(W - fill), "", pct);
	if (d->devices_on) {
		struct iopgt_sim_stats st;

		iopgt_sim_get_stats(d->sim, &st);
		fprintf(stderr, "  %" PRIu64 " translations", st.translations);
	}
	fflush(stderr);
}

static void bar_done(struct demo *d)
{
	if (d->bar)
		fputs("\r\033[K", stderr);
	d->bar = false;
}

static int fail(struct demo *d, const char *what, uint64_t iova, int rc)
{
	bar_done(d);
	fprintf(stderr, "iopgt demo: %s at IOVA 0x%" PRIx64 ": %s\n", what,
		iova, strerror(-rc));
	return rc;
}

/* ------------------------------------------------------------------------
 * The mapper: announce to the model, call the library, sync, complete
 */

/* ------------------------------------------------------------------------
 * Invalidation: the domain's flush callbacks. A sync's ranges become the
 * IOMMU's commands (iopgt_inval_encode), which the simulator executes
 * under that IOMMU's rules (iopgt_sim_invalidate); without an IOMMU they
 * go to the simulator's abstract flushes. Only the mapper syncs.
 */

/* Room for n commands in d->cmd; false if there is none. */
static bool cmd_room(struct demo *d, int n)
{
	struct iopgt_inval_cmd *c;

	if (n <= (int)d->ncmd)
		return true;
	c = realloc(d->cmd, (size_t)n * sizeof(*c));
	if (!c)
		return false;
	d->cmd = c;
	d->ncmd = (unsigned)n;
	return true;
}

/* The commands for r[0 .. nr - 1] in d->cmd: how many, or an error. */
static int encode(struct demo *d, const struct iopgt_flush_range *r,
		  unsigned nr)
{
	int n = iopgt_inval_encode(&d->ic, r, nr, NULL, 0);

	if (n < 0)
		return n;
	if (!cmd_room(d, n))
		return -ENOMEM;
	return iopgt_inval_encode(&d->ic, r, nr, d->cmd, d->ncmd);
}

static void demo_flush_ranges(void *arg, const struct iopgt_flush_range *r,
			      unsigned nr)
{
	struct demo *d = arg;
	int n;

	d->inv.flush_calls++;
	for (unsigned i = 0; i < nr; i++) {
		uint64_t *bytes = r[i].kind == IOPGT_FLUSH_WALK
					  ? &d->inv.walk_bytes
					  : &d->inv.invalidated;

		d->inv.ranges[r[i].kind]++;
		if (r[i].kind == IOPGT_FLUSH_ADDED)
			d->inv.added_bytes += r[i].last - r[i].iova + 1;
		if (!d->ic.iommu) {
			d->sim_ops.flush_range(d->sim_ops.arg, r[i].iova,
					       r[i].last,
					       (enum iopgt_flush_kind)r[i].kind);
			*bytes += r[i].last - r[i].iova + 1;
			d->inv.commands++;
			continue;
		}
		/* What each range's own commands cover (the call below
		 * writes the same commands for all of them at once); a
		 * command for everything is counted apart. */
		n = encode(d, &r[i], 1);
		*bytes += cli_cmd_bytes(d->cmd, n, NULL);
	}
	if (!d->ic.iommu)
		return;
	n = encode(d, r, nr);
	if (n < 0) {
		/* Nothing to execute: the simulator sees the stale entries
		 * this leaves (a violation), and the summary says why. */
		d->inval_err = n;
		return;
	}
	(void)cli_cmd_bytes(d->cmd, n, &d->inv.global);
	d->inv.commands += (uint64_t)n;
	iopgt_sim_invalidate(d->sim, &d->ic, d->cmd, (unsigned)n);
}

/* A range alone (a gather without ranges; not the demo's). */
static void demo_flush_range(void *arg, uint64_t iova, uint64_t last,
			     enum iopgt_flush_kind kind)
{
	struct demo *d = arg;
	struct iopgt_flush_range r = {
		.iova = iova,
		.last = last,
		.kind = kind,
		.walk_levels = kind == IOPGT_FLUSH_WALK
				       ? (1u << (d->info.levels - 1)) - 1
				       : 0,
	};

	demo_flush_ranges(arg, &r, 1);
}

static void demo_flush_all(void *arg)
{
	struct demo *d = arg;

	d->inv.flush_calls++;
	d->inv.commands++;
	d->inv.global++;
	d->sim_ops.flush_all(d->sim_ops.arg);
}

static void drv_sync(struct demo *d, struct iopgt_gather *g)
{
	if (g->kind == IOPGT_FLUSH_NONE)
		d->sync_none++;
	iopgt_sync(d->dom, g);
	d->syncs++;
	/* Between two batches no call is in progress: QSBR's quiescent
	 * state, so that the tables this sync retired can be freed. */
	cli_strategy_quiescent(d->strat);
}

/* Announce and map; the caller syncs (also after a failure) and then ends
 * the model's range. */
static int drv_map(struct demo *d, uint64_t iova, uint64_t pa, uint64_t size,
		   unsigned prot, uint64_t piece, struct iopgt_gather *g)
{
	int rc;

	for (uint64_t off = 0; off < size; off += piece) {
		uint64_t n = size - off < piece ? size - off : piece;

		rc = iopgt_sim_model_begin_map(d->sim, iova + off, n, pa + off,
					       prot);
		if (rc)
			return fail(d, "model", iova, rc);
	}
	rc = iopgt_map(d->dom, iova, pa, size, prot, g);
	if (rc)
		return fail(d, "map", iova, rc);
	d->maps++;
	d->inv.mapped += size;
	if (d->caching_mode)
		d->inv.changed += size;
	return 0;
}

static int drv_unmap(struct demo *d, uint64_t iova, uint64_t size,
		     struct iopgt_gather *g)
{
	int64_t n;
	int rc = iopgt_sim_model_begin_unmap(d->sim, iova, size);

	if (rc)
		return fail(d, "model", iova, rc);
	n = iopgt_unmap(d->dom, iova, size, g);
	if (n < 0)
		return fail(d, "unmap", iova, (int)n);
	d->inv.changed += (uint64_t)n;
	d->inv.unmapped_pages += (uint64_t)n / d->page;
	if ((uint64_t)n != size) {
		bar_done(d);
		fprintf(stderr,
			"iopgt demo: unmap of 0x%" PRIx64 " bytes at IOVA 0x%" PRIx64
			" unmapped 0x%" PRIx64 "\n",
			size, iova, (uint64_t)n);
		return -EIO;
	}
	d->unmaps++;
	return 0;
}

static int model_end(struct demo *d, uint64_t iova, uint64_t size)
{
	int rc = iopgt_sim_model_end(d->sim, iova, size);

	return rc ? fail(d, "model", iova, rc) : 0;
}

/* ------------------------------------------------------------------------
 * Set-up
 */

/* A growing domain's grow callback (--ias-max): the driver points the
 * device at the new root, as it would write the AMD device table entry's
 * root and Mode and invalidate it; the devices keep translating. */
static int demo_grow(void *arg, const struct iopgt_hw_config *hw)
{
	struct demo *d = arg;
	int rc = iopgt_sim_set_root(d->sim, hw);

	if (!rc) {
		/* What the summary reports: the root in use at the end. */
		unsigned ias = d->info.granule + (d->info.granule - 3) *
						     hw->levels;

		/* The roots stay until destroy: what is left after
		 * unmapping everything is all of them. */
		d->root_pages += hw->levels - d->info.levels;
		d->root_bytes += (uint64_t)(hw->levels - d->info.levels)
				 << d->info.granule;
		d->grown++;
		d->hw = *hw;
		d->info.levels = hw->levels;
		d->info.ias = ias < d->cfg.ias_max ? ias : d->cfg.ias_max;
		d->info.root_pa = hw->root;
	}
	return rc;
}

static int setup(struct demo *d)
{
	struct iopgt_sim_config sc;
	struct iopgt_stats st;
	uint64_t oas_top, rings, rings_last, ram_end, window;
	int rc;

	iopgt_sim_config_init(&sc);
	sc.arena_size = ARENA_SIZE;
	sc.base_pa = ARENA_PA;
	sc.caching_mode = d->caching_mode;
	sc.max_reports = 8;
	rc = iopgt_sim_create(&sc, &d->sim);
	if (rc) {
		fprintf(stderr, "iopgt demo: cannot create the simulator: %s\n",
			strerror(-rc));
		return rc;
	}
	/* Every table the library frees goes back to the simulator's
	 * allocator: its generation checks see every reuse (docs/sim.md). */
	d->cfg.table_cache = 0;
	if (d->caching_mode)
		d->cfg.options |= IOPGT_OPT_CACHING_MODE;
	if (d->counts)
		d->cfg.options |= IOPGT_OPT_COUNTS;
	/* One thread maps and unmaps, and syncs each batch before the
	 * next: the tables an unmap empties are flushed with one command
	 * (IOPGT_RANGE_WALK_EMPTY). */
	d->cfg.options |= IOPGT_OPT_ONE_GATHER;
	iopgt_sim_domain_config(d->sim, &d->cfg);
	d->sim_ops = d->cfg.flush;
	d->cfg.flush.flush_range = demo_flush_range;
	d->cfg.flush.flush_all = demo_flush_all;
	d->cfg.flush.arg = d;
	d->cfg.flush_ranges = demo_flush_ranges;
	if (d->cfg.ias_max) {
		d->cfg.grow = demo_grow;
		d->cfg.grow_arg = d;
	}
	rc = iopgt_domain_create(&d->cfg, &d->dom);
	if (rc) {
		fprintf(stderr, "iopgt demo: cannot create a %s domain: %s\n",
			cli_format_desc(&d->cfg), strerror(-rc));
		return rc;
	}
	iopgt__set_test_hooks(d->dom, d->hooks);
	if (d->iommu < 0)
		d->iommu = (int)cli_format_find(d->cfg.format)->iommu;
	if (d->iommu) {
		const struct iopgt_flush_range probe = {
			.iova = 0, .last = d->cfg.granule < 64
				? (UINT64_C(1) << d->cfg.granule) - 1 : 0,
			.kind = IOPGT_FLUSH_MODIFIED,
		};

		rc = iopgt_inval_config_init(d->dom, (enum iopgt_iommu)d->iommu,
					     &d->ic, sizeof(d->ic));
		/* An IOMMU that cannot take this domain (its granule) says
		 * so now, not at the first sync. */
		/* VT-d: servers commonly report MAMV 18 (a 1G block at 4K),
		 * which the 1G leaves of guest RAM need; the library's
		 * default is the 2M that every page-selective IOMMU takes. */
		d->ic.max_addr_mask = 18;
		if (!rc) {
			rc = iopgt_inval_encode(&d->ic, &probe, 1, NULL, 0);
			rc = rc < 0 ? rc : 0;
		}
		if (rc) {
			fprintf(stderr, "iopgt demo: no %s commands for a %s "
					"domain: %s\n",
				iopgt_iommu_name((enum iopgt_iommu)d->iommu),
				cli_format_desc(&d->cfg), strerror(-rc));
			return rc;
		}
	}
	rc = iopgt_sim_attach(d->sim, d->dom);
	if (rc) {
		fprintf(stderr, "iopgt demo: cannot attach the domain: %s\n",
			strerror(-rc));
		return rc;
	}
	iopgt_domain_info(d->dom, &d->info, sizeof(d->info));
	iopgt_hw_config(d->dom, &d->hw, sizeof(d->hw));
	for (unsigned b = 0; b < 64; b++)
		if (d->info.leaf_sizes & (UINT64_C(1) << b))
			d->leaf_sizes[d->nleaf++] = UINT64_C(1) << b;
	d->page = d->leaf_sizes[0];
	iopgt_get_stats(d->dom, &st, sizeof(st));
	d->root_pages = st.table_pages_live;
	d->root_bytes = st.table_bytes_live;

	/* Guest RAM. */
	if (!d->ram || d->ram % d->page) {
		fprintf(stderr, "iopgt demo: --ram must be a non-zero multiple "
				"of the page size (%" PRIu64 ")\n", d->page);
		return -EINVAL;
	}
	d->slot[0].iova = 0;
	d->slot[0].size = d->ram < LOW_RAM_END ? d->ram : LOW_RAM_END;
	d->nslots = 1;
	if (d->ram > LOW_RAM_END) {
		d->slot[1].iova = 4 * GiB;
		d->slot[1].size = d->ram - LOW_RAM_END;
		d->nslots = 2;
	}
	d->ram_top = d->slot[d->nslots - 1].iova + d->slot[d->nslots - 1].size;

	/* The rings: at the start of the upper half of the IOVA space where
	 * the format sign-extends its input (x86: the first canonical IOVA
	 * above the hole, 0xffff800000000000 at ias 48), else from the
	 * middle of the IOVA space up; guest RAM below them. */
	if (d->info.iova_upper) {
		rings = d->info.iova_upper;
		rings_last = UINT64_MAX;
		ram_end = d->info.iova_last + 1;
	} else {
		rings = (d->info.iova_last >> 1) + 1;
		rings_last = d->info.iova_last;
		ram_end = rings;
	}
	window = (d->nring * d->page + GiB - 1) & ~(GiB - 1);
	d->rx = (struct ring){ .iova = rings,
			       .prot = IOPGT_PROT_READ | IOPGT_PROT_WRITE,
			       .n = d->nring };
	d->tx = (struct ring){ .iova = rings + window,
			       .prot = IOPGT_PROT_READ, .n = d->nring };
	if (d->ram_top > ram_end || d->tx.iova < rings ||
	    d->tx.iova + (window - 1) > rings_last ||
	    d->tx.iova + (window - 1) < d->tx.iova) {
		fprintf(stderr, "iopgt demo: guest RAM (ending at 0x%" PRIx64
				") and the rings do not fit in a %u-bit IOVA "
				"space; use a smaller --ram or --ring\n",
			d->ram_top, d->info.ias);
		return -ERANGE;
	}
	/* Half of the devices' accesses go to guest RAM: the model picks a
	 * segment at random, so guest RAM is announced in as many pieces as
	 * the rings have buffers. */
	d->piece = d->page;
	while (d->piece * 2 * d->nring < d->ram)
		d->piece *= 2;

	/* Host memory: guest RAM at HOST_RAM_PA + guest address, then a pool
	 * of buffers eight times the rings' size. */
	d->pool_pa = (HOST_RAM_PA + d->ram_top + GiB - 1) & ~(GiB - 1);
	d->pool_pages = (uint64_t)d->nring * 16;
	oas_top = d->info.oas >= 64 ? UINT64_MAX : UINT64_C(1) << d->info.oas;
	if (d->pool_pa + d->pool_pages * d->page > oas_top) {
		fprintf(stderr, "iopgt demo: the host memory for %s of guest "
				"RAM does not fit in a %u-bit output address\n",
			human(d->ram, (char[40]){ 0 }, 40), d->info.oas);
		return -ERANGE;
	}
	d->rng = d->seed * UINT64_C(0x2545f4914f6cdd1d) + 1;
	return 0;
}

/* Stop the device threads; joining them may take a while, so offline
 * (QSBR) meanwhile. */
static void devices_stop(struct demo *d)
{
	cli_strategy_offline(d->strat);
	iopgt_sim_device_stop(d->sim);
	cli_strategy_online(d->strat);
	d->devices_on = false;
}

static void teardown_objects(struct demo *d)
{
	if (d->sim) {
		devices_stop(d);
		iopgt_sim_detach(d->sim);
	}
	iopgt_domain_destroy(d->dom);
	d->dom = NULL;
}

/* ------------------------------------------------------------------------
 * Phase 1: guest RAM
 */

static int phase_ram(struct demo *d)
{
	unsigned prot = IOPGT_PROT_READ | IOPGT_PROT_WRITE;
	uint64_t done = 0;

	for (unsigned s = 0; s < d->nslots; s++) {
		for (uint64_t off = 0; off < d->slot[s].size; off += GiB) {
			uint64_t iova = d->slot[s].iova + off;
			uint64_t n = d->slot[s].size - off < GiB
					     ? d->slot[s].size - off
					     : GiB;
			struct iopgt_gather g;
			int rc;

			iopgt_gather_init(&g, sizeof(g));
			rc = drv_map(d, iova, HOST_RAM_PA + iova, n, prot,
				     d->piece, &g);
			drv_sync(d, &g);
			if (rc || (rc = model_end(d, iova, n)))
				return rc;
			done += n;
			bar(d, "phase 1: guest RAM", done, d->ram);
		}
	}
	bar_done(d);
	/* Which leaves the library chose. */
	for (unsigned s = 0; s < d->nslots; s++) {
		uint64_t iova = d->slot[s].iova, end = iova + d->slot[s].size;

		while (iova < end) {
			struct iopgt_translation t;
			int rc = iopgt_lookup(d->dom, iova, &t);

			if (rc)
				return fail(d, "lookup", iova, rc);
			for (unsigned i = 0; i < d->nleaf; i++)
				if (d->leaf_sizes[i] == t.leaf_size)
					d->leaves[i]++;
			iova = (iova & ~(t.leaf_size - 1)) + t.leaf_size;
		}
	}
	return 0;
}

static const char *leaves_str(struct demo *d, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = 0;
	for (unsigned i = d->nleaf; i-- > 0;) {
		char sz[24];

		if (!d->leaves[i])
			continue;
		o += (size_t)snprintf(buf + o, len - o, "%s%" PRIu64 " x %s",
				      o ? " + " : "", d->leaves[i],
				      bench_size_str(d->leaf_sizes[i], sz,
						     sizeof(sz)));
		if (o >= len)
			break;
	}
	return buf;
}

/* ------------------------------------------------------------------------
 * Phase 2: the rings
 */

static uint64_t slot_iova(const struct demo *d, const struct ring *r,
			  unsigned slot)
{
	return r->iova + (uint64_t)slot * d->page;
}

/* End the model over k slots from `from`, which may wrap. */
static int ring_end(struct demo *d, struct ring *r, unsigned from, unsigned k)
{
	unsigned first = k < r->n - from ? k : r->n - from;
	int rc = 0;

	if (first)
		rc = model_end(d, slot_iova(d, r, from), first * d->page);
	if (!rc && k > first)
		rc = model_end(d, r->iova, (k - first) * d->page);
	return rc;
}

/* Post k fresh buffers at the head: map each, one sync. */
static int ring_post(struct demo *d, struct ring *r, unsigned k)
{
	struct iopgt_gather g;
	unsigned from = r->head;
	int rc = 0;

	if (k > r->n - r->busy)
		k = r->n - r->busy;
	if (!k)
		return 0;
	iopgt_gather_init(&g, sizeof(g));
	for (unsigned i = 0; i < k && !rc; i++) {
		uint64_t pa = d->pool_pa + (rnd(d) % d->pool_pages) * d->page;

		rc = drv_map(d, slot_iova(d, r, r->head), pa, d->page, r->prot,
			     d->page, &g);
		r->head = (r->head + 1) % r->n;
	}
	drv_sync(d, &g);
	if (rc)
		return rc;
	r->busy += k;
	return ring_end(d, r, from, k);
}

/* Complete k buffers at the tail: unmap each, one sync. */
static int ring_complete(struct demo *d, struct ring *r, unsigned k)
{
	struct iopgt_gather g;
	unsigned from = r->tail;
	int rc = 0;

	if (k > r->busy)
		k = r->busy;
	if (!k)
		return 0;
	iopgt_gather_init(&g, sizeof(g));
	for (unsigned i = 0; i < k && !rc; i++) {
		rc = drv_unmap(d, slot_iova(d, r, r->tail), d->page, &g);
		r->tail = (r->tail + 1) % r->n;
	}
	drv_sync(d, &g);
	if (rc)
		return rc;
	r->busy -= k;
	return ring_end(d, r, from, k);
}

static int start_devices(struct demo *d)
{
	struct iopgt_sim_pattern p = {
		.seed = d->seed,
		.write_pct = 40,
		.unmapped_pct = 2,
	};
	int rc = iopgt_sim_device_start(d->sim, d->devices, &p);

	if (rc)
		return fail(d, "device start", 0, rc);
	d->devices_on = true;
	return 0;
}

static int phase_rings(struct demo *d)
{
	uint64_t start = d->maps + d->unmaps;
	unsigned batch = d->nring < BATCH ? d->nring : BATCH;
	int rc;

	/* The driver fills its RX ring before the device starts. */
	while (d->rx.busy < d->rx.n)
		if ((rc = ring_post(d, &d->rx, batch)))
			return rc;
	if ((rc = start_devices(d)))
		return rc;
	for (;;) {
		uint64_t done = d->maps + d->unmaps - start;
		unsigned k;

		if (done >= d->ops)
			break;
		bar(d, "phase 2: NIC rings", done, d->ops);
		/* RX: the device filled a batch; hand fresh buffers back. */
		if ((rc = ring_complete(d, &d->rx, batch)) ||
		    (rc = ring_post(d, &d->rx, batch)))
			return rc;
		/* TX: a burst of packets, then a completion that often
		 * cleans up everything sent (and empties the ring). */
		k = 1 + (unsigned)(rnd(d) % batch);
		if ((rc = ring_post(d, &d->tx, k)))
			return rc;
		k = rnd(d) % 4 == 0 ? d->tx.busy
				    : (unsigned)(rnd(d) % (d->tx.busy + 1));
		while (k && !rc) {
			unsigned b = k < batch ? k : batch;

			rc = ring_complete(d, &d->tx, b);
			k -= b;
		}
		if (rc)
			return rc;
	}
	d->phase2_ops = d->maps + d->unmaps - start;
	bar_done(d);
	return 0;
}

/* ------------------------------------------------------------------------
 * Phase 3: dirty tracking
 */

static int count_dirty(void *arg, uint64_t iova, uint64_t size)
{
	(void)iova;
	*(uint64_t *)arg += size;
	return 0;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
			       .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* "4 GiB, 3.5 GiB, 4 GiB" */
static const char *passes_str(struct demo *d, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = 0;
	for (unsigned i = 0; i < d->dirty_passes && o < len; i++) {
		char b[32];

		o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? ", " : "",
				      human(d->dirty_pass[i], b, sizeof(b)));
	}
	return buf;
}

static int phase_dirty(struct demo *d)
{
	for (unsigned pass = 0; pass < d->dirty_passes; pass++) {
		struct iopgt_gather g;
		uint64_t bytes = 0;

		/* Let the devices write for a while, then harvest (QSBR:
		 * offline, not holding up grace periods, while asleep). */
		cli_strategy_offline(d->strat);
		sleep_ms(d->dirty_ms);
		cli_strategy_online(d->strat);
		iopgt_gather_init(&g, sizeof(g));
		for (unsigned s = 0; s < d->nslots; s++) {
			int rc = iopgt_read_and_clear_dirty(
				d->dom, d->slot[s].iova, d->slot[s].size, 0,
				count_dirty, &bytes, &g);

			if (rc) {
				if (g.iova != UINT64_MAX || g.nr_tables)
					drv_sync(d, &g);
				if (rc != -EOPNOTSUPP)
					return fail(d, "read_and_clear_dirty",
						    d->slot[s].iova, rc);
				d->dirty_rc = rc;
				bar_done(d);
				return 0;
			}
		}
		drv_sync(d, &g);
		d->dirty_bytes += bytes;
		d->inv.changed += bytes; /* cleared: the leaves changed */
		d->dirty_pass[pass] = bytes;
		bar(d, "phase 3: dirty tracking", pass + 1, d->dirty_passes);
	}
	bar_done(d);
	return 0;
}

/* ------------------------------------------------------------------------
 * Phase 4: teardown
 */

static int phase_teardown(struct demo *d)
{
	struct iopgt_stats st;
	int rc;

	/* The driver stops the rings with the device still running. */
	while (d->rx.busy)
		if ((rc = ring_complete(d, &d->rx, BATCH)))
			return rc;
	while (d->tx.busy)
		if ((rc = ring_complete(d, &d->tx, BATCH)))
			return rc;
	/* The VM goes away: guest RAM, a chunk per sync. */
	for (unsigned s = 0; s < d->nslots; s++) {
		for (uint64_t off = 0; off < d->slot[s].size; off += GiB) {
			uint64_t iova = d->slot[s].iova + off;
			uint64_t n = d->slot[s].size - off < GiB
					     ? d->slot[s].size - off
					     : GiB;
			struct iopgt_gather g;

			iopgt_gather_init(&g, sizeof(g));
			rc = drv_unmap(d, iova, n, &g);
			drv_sync(d, &g);
			if (rc || (rc = model_end(d, iova, n)))
				return rc;
		}
	}
	devices_stop(d);
	/* Nothing is mapped: the device faults everywhere it used to reach. */
	for (unsigned s = 0; s < d->nslots; s++) {
		struct iopgt_sim_result res;

		iopgt_sim_translate(d->sim, d->slot[s].iova, IOPGT_SIM_READ,
				    &res);
	}
	{
		struct iopgt_sim_result res;

		iopgt_sim_translate(d->sim, d->rx.iova, IOPGT_SIM_WRITE, &res);
		iopgt_sim_translate(d->sim, d->tx.iova, IOPGT_SIM_READ, &res);
	}
	iopgt_reclaim(d->dom);
	iopgt_get_stats(d->dom, &st, sizeof(st));
	d->after_unmap_pages = st.table_pages_live;
	d->after_unmap_bytes = st.table_bytes_live;
	d->reclaim_waits = st.reclaim_waits;
	d->freed_by[0] = st.freed_by_callers;
	d->freed_by[1] = st.freed_by_worker;
	d->free_ns[0] = st.free_ns_callers;
	d->free_ns[1] = st.free_ns_worker;
	iopgt_sim_detach(d->sim);
	iopgt_domain_destroy(d->dom);
	d->dom = NULL;
	return 0;
}

/* ------------------------------------------------------------------------
 * Output
 */

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static const char *const flush_names[] = { "none", "added", "modified",
					   "walk" };

static uint64_t flushes(const struct demo *d, unsigned k)
{
	return k == IOPGT_FLUSH_NONE ? d->sync_none : d->inv.ranges[k];
}

/* Bytes invalidated per byte changed (0 if nothing changed). */
static double over(const struct inval_count *c)
{
	return c->changed ? (double)c->invalidated / (double)c->changed : 0;
}

/* Commands per flush (a sync that flushed, or an early flush). */
static double per_flush(const struct inval_count *c)
{
	return c->flush_calls ? (double)c->commands / (double)c->flush_calls
			      : 0;
}

static void print_json_inval(const char *name, const struct inval_count *c)
{
	printf(", \"%s\": {\"changed_bytes\": %" PRIu64
	       ", \"invalidated_bytes\": %" PRIu64
	       ", \"walk_bytes\": %" PRIu64
	       ", \"over_invalidation\": %.4f, \"commands\": %" PRIu64
	       ", \"commands_per_sync\": %.4f, \"global_commands\": %" PRIu64
	       ", \"walk_per_page_unmapped\": %.6f"
	       ", \"added_bytes\": %" PRIu64 ", \"mapped_bytes\": %" PRIu64 "}",
	       name, c->changed, c->invalidated, c->walk_bytes, over(c),
	       c->commands,
	       per_flush(c), c->global,
	       c->unmapped_pages ? (double)c->ranges[IOPGT_FLUSH_WALK] /
					   (double)c->unmapped_pages
				 : 0,
	       c->added_bytes, c->mapped);
}

static int checks_failed(const struct demo *d)
{
	return d->after_unmap_pages != d->root_pages ||
	       d->sst.bytes_live != 0 ||
	       d->sst.pages_alloc != d->sst.pages_freed;
}

static void print_json(struct demo *d, uint64_t viol)
{
	const struct iopgt_sim_stats *s = &d->sst;

	printf("{\"format\": ");
	json_str(iopgt_format_name(d->info.format));
	printf(", \"config\": ");
	json_str(cli_format_desc(&d->cfg));
	printf(", \"strategy\": ");
	json_str(d->strat->name);
	printf(", \"levels\": %u, \"granule\": %" PRIu64
	       ", \"ias\": %u, \"oas\": %u",
	       d->info.levels, d->page, d->info.ias, d->info.oas);
	if (d->cfg.ias_max)
		printf(", \"ias_max\": %u, \"grown\": %u", d->cfg.ias_max,
		       d->grown);
	printf(", \"ram_bytes\": %" PRIu64 ", \"ring\": %u, \"devices\": %u"
	       ", \"seed\": %" PRIu64 ", \"caching_mode\": %s"
	       ", \"counts\": %s, \"one_gather\": %s",
	       d->ram, d->nring, d->devices, d->seed,
	       d->caching_mode ? "true" : "false",
	       d->counts ? "true" : "false",
	       (d->cfg.options & IOPGT_OPT_ONE_GATHER) ? "true" : "false");
	printf(", \"maps\": %" PRIu64 ", \"unmaps\": %" PRIu64
	       ", \"syncs\": %" PRIu64,
	       d->maps, d->unmaps, d->syncs);
	printf(", \"translations\": %" PRIu64 ", \"iotlb_hit_rate\": %.4f"
	       ", \"walks\": %" PRIu64,
	       s->translations, s->iotlb_hit_rate, s->walks);
	printf(", \"faults\": {\"not_present\": %" PRIu64
	       ", \"permission\": %" PRIu64 ", \"reserved\": %" PRIu64
	       ", \"range\": %" PRIu64 "}",
	       s->faults[IOPGT_SIM_FAULT_NOT_PRESENT],
	       s->faults[IOPGT_SIM_FAULT_PERMISSION],
	       s->faults[IOPGT_SIM_FAULT_RESERVED],
	       s->faults[IOPGT_SIM_FAULT_RANGE]);
	printf(", \"flushes\": {");
	for (unsigned k = 0; k < IOPGT_FLUSH_KINDS; k++)
		printf("\"%s\": %" PRIu64 ", ", flush_names[k], flushes(d, k));
	printf("\"all\": %" PRIu64 "}", s->invalidate_all);
	printf(", \"gather_policy\": ");
	json_str(iopgt_gather_policy_name(
		(enum iopgt_gather_policy)d->cfg.gather_policy));
	printf(", \"iommu\": ");
	json_str(d->ic.iommu ? iopgt_iommu_name(d->ic.iommu) : "none");
	printf(", \"over_invalidation\": %.4f, \"commands_per_sync\": %.4f"
	       ", \"over_invalidation_with_walks\": %.4f",
	       over(&d->inv), per_flush(&d->inv),
	       d->inv.changed ? (double)(d->inv.invalidated +
					  d->inv.walk_bytes) /
					 (double)d->inv.changed
			      : 0);
	print_json_inval("invalidation", &d->inv);
	print_json_inval("rings_invalidation", &d->inv_rings);
	printf(", \"table_pages_allocated\": %" PRIu64
	       ", \"table_pages_freed\": %" PRIu64
	       ", \"peak_table_bytes\": %" PRIu64
	       ", \"after_unmap_table_bytes\": %" PRIu64
	       ", \"final_table_bytes\": %" PRIu64,
	       s->pages_alloc, s->pages_freed, s->bytes_peak,
	       d->after_unmap_bytes, s->bytes_live);
	printf(", \"reclaim_waits\": %" PRIu64, d->reclaim_waits);
	printf(", \"freed_by_callers\": %" PRIu64
	       ", \"freed_by_worker\": %" PRIu64
	       ", \"free_ns_callers\": %" PRIu64
	       ", \"free_ns_worker\": %" PRIu64,
	       d->freed_by[0], d->freed_by[1], d->free_ns[0], d->free_ns[1]);
	if (d->dirty_rc)
		printf(", \"dirty_supported\": false, \"dirty_bytes\": 0");
	else
		printf(", \"dirty_supported\": true, \"dirty_bytes\": %" PRIu64,
		       d->dirty_bytes);
	printf(", \"seconds\": %.3f, \"checks_ok\": %s, \"violations\": %" PRIu64,
	       d->seconds, checks_failed(d) ? "false" : "true", viol);
	printf(", \"violation_reports\": [");
	for (unsigned i = 0; i < viol && i < 8; i++) {
		struct iopgt_sim_violation v;

		if (iopgt_sim_violation_get(d->sim, i, &v))
			break;
		printf("%s", i ? ", " : "");
		json_str(v.what);
	}
	printf("]}\n");
}

/* What a driver would program (iopgt_hw_config): its non-zero words. */
static void print_hw(const struct iopgt_hw_config *hw)
{
	const struct {
		const char *name;
		uint64_t v;
	} w[] = {
		{ "VT-d context entry[0]", hw->vtd_context[0] },
		{ "[1]", hw->vtd_context[1] },
		{ "VT-d PASID entry[0]", hw->vtd_pasid[0] },
		{ "[1]", hw->vtd_pasid[1] },
		{ "[2]", hw->vtd_pasid[2] },
		{ "[3]", hw->vtd_pasid[3] },
		{ "AMD DTE[63:0]", hw->amd_dte },
		{ "VTTBR_EL2", hw->arm_vttbr },
		{ "VTCR_EL2", hw->arm_vtcr },
		{ "SMMUv3 STE[2]", hw->smmu_ste[0] },
		{ "[3]", hw->smmu_ste[1] },
	};
	bool any = false;

	printf("  driver values");
	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		if (w[i].v) {
			printf("%s%s 0x%" PRIx64, any ? ", " : " ", w[i].name,
			       w[i].v);
			any = true;
		}
	printf("%s\n", any ? "" : " root table alone");
}

static void print_summary(struct demo *d, uint64_t viol)
{
	const struct iopgt_sim_stats *s = &d->sst;
	char b1[32], b2[32], b3[256];

	printf("summary\n");
	printf("  format        %s, %u levels, %s pages, %u-bit IOVA, "
	       "%u-bit PA\n",
	       cli_format_desc(&d->cfg), d->info.levels,
	       bench_size_str(d->page, b1, sizeof(b1)), d->info.ias,
	       d->info.oas);
	print_hw(&d->hw);
	if (d->cfg.ias_max)
		printf("  root          grew %u times, up to %u-bit IOVA at "
		       "most\n", d->grown, d->cfg.ias_max);
	printf("  operations    %" PRIu64 " maps, %" PRIu64 " unmaps, %" PRIu64
	       " syncs\n",
	       d->maps, d->unmaps, d->syncs);
	printf("  translations  %" PRIu64 " by %u device threads, IOTLB hit "
	       "rate %.1f%%, %" PRIu64 " walks\n",
	       s->translations, d->devices, 100.0 * s->iotlb_hit_rate,
	       s->walks);
	printf("  faults        %" PRIu64 " not present, %" PRIu64
	       " permission (writes to TX buffers), %" PRIu64 " reserved\n",
	       s->faults[IOPGT_SIM_FAULT_NOT_PRESENT],
	       s->faults[IOPGT_SIM_FAULT_PERMISSION],
	       s->faults[IOPGT_SIM_FAULT_RESERVED]);
	printf("  flushes       none %" PRIu64 " (syncs that needed none), "
	       "added %" PRIu64
	       ", modified %" PRIu64 ", walk %" PRIu64 ", all %" PRIu64 "\n",
	       flushes(d, 0), flushes(d, 1), flushes(d, 2), flushes(d, 3),
	       s->invalidate_all);
	printf("  invalidation  gather policy %s, %s commands: %" PRIu64
	       " (%.2f per flush, %" PRIu64 " for everything), %.2f bytes "
	       "invalidated per byte changed by ADDED and MODIFIED commands "
	       "(NIC rings: %.2f, %.4f WALK flushes per page unmapped)\n"
	       "                WALK flushes over unlinked tables' spans: %s\n",
	       iopgt_gather_policy_name(
		       (enum iopgt_gather_policy)d->cfg.gather_policy),
	       d->ic.iommu ? iopgt_iommu_name(d->ic.iommu) : "abstract",
	       d->inv.commands, per_flush(&d->inv), d->inv.global,
	       over(&d->inv), over(&d->inv_rings),
	       d->inv_rings.unmapped_pages
		       ? (double)d->inv_rings.ranges[IOPGT_FLUSH_WALK] /
				 (double)d->inv_rings.unmapped_pages
		       : 0,
	       human(d->inv.walk_bytes, b3, sizeof(b3)));
	if (d->inval_err)
		printf("  invalidation  commands could not be written: %s\n",
		       strerror(-d->inval_err));
	printf("  table pages   %" PRIu64 " allocated, %" PRIu64 " freed\n",
	       s->pages_alloc, s->pages_freed);
	printf("  reclaim       strategy %s", d->strat->name);
	/* Only an RCU sync waits (over rcu_max_pending, or no memory). */
	if (d->strat->strategy == IOPGT_STRATEGY_RCU)
		printf(", %" PRIu64 " sync%s waited for a grace period",
		       d->reclaim_waits, d->reclaim_waits == 1 ? "" : "s");
	/* Who paid for freeing: the mapper's syncs, or the strategy's own
	 * thread (the worker, RCU's callbacks). */
	printf("; freed by the mapper %" PRIu64 " pages (%.0f us), by its "
	       "own thread %" PRIu64 " (%.0f us)\n",
	       d->freed_by[0], (double)d->free_ns[0] / 1e3, d->freed_by[1],
	       (double)d->free_ns[1] / 1e3);
	printf("  table memory  peak %" PRIu64 " bytes (%s), %" PRIu64
	       " bytes after unmapping everything (%s), final %" PRIu64
	       " bytes\n",
	       s->bytes_peak, human(s->bytes_peak, b2, sizeof(b2)),
	       d->after_unmap_bytes,
	       d->after_unmap_pages != d->root_pages ? "NOT the root alone"
	       : d->grown ? "the roots alone" : "the root alone",
	       s->bytes_live);
	if (d->dirty_rc)
		printf("  dirty         dirty tracking: not supported by this "
		       "format\n");
	else
		printf("  dirty         %" PRIu64 " bytes found in %u passes "
		       "over guest RAM (%s)\n",
		       d->dirty_bytes, d->dirty_passes,
		       passes_str(d, b3, sizeof(b3)));
	printf("  duration      %.2f s\n", d->seconds);
	if (checks_failed(d))
		printf("  CHECK FAILED  table memory after unmapping "
		       "everything: %" PRIu64 " pages (root: %" PRIu64
		       "); after destroy: %" PRIu64 " bytes, %" PRIu64
		       " allocated vs %" PRIu64 " freed\n",
		       d->after_unmap_pages, d->root_pages, s->bytes_live,
		       s->pages_alloc, s->pages_freed);
	printf("violations: %" PRIu64 "\n", viol);
	if (!viol)
		return;
	for (unsigned k = 0; k < IOPGT_SIM_V_KINDS; k++)
		if (s->violations[k])
			printf("  %-20s %" PRIu64 "\n",
			       iopgt_sim_violation_name(k), s->violations[k]);
	printf("the first ones:\n");
	for (unsigned i = 0; i < viol && i < 5; i++) {
		struct iopgt_sim_violation v;

		if (iopgt_sim_violation_get(d->sim, i, &v))
			break;
		printf("  %s", iopgt_sim_violation_name(v.kind));
		if (v.rule)
			printf(" (rule %u)", v.rule);
		printf(", IOVA 0x%" PRIx64 ": %s\n", v.iova, v.what);
	}
}

/* ------------------------------------------------------------------------
 * The command
 */

static int run(struct demo *d)
{
	char b1[64], b2[256];
	double t;
	int rc;

	d->t0 = now_s();
	if ((rc = setup(d)))
		return rc;
	if (!d->quiet)
		printf("iopgt demo: %s on the simulated IOMMU, strategy %s, "
		       "%u device threads, seed %" PRIu64 "\n",
		       cli_format_desc(&d->cfg), d->strat->name, d->devices,
		       d->seed);
	fflush(stdout);

	t = now_s();
	if ((rc = phase_ram(d)))
		return rc;
	d->phase_s[0] = now_s() - t;
	if (!d->quiet)
		printf("  1. guest RAM   %s at IOVA 0x0 in %u slot%s: %s leaves, "
		       "%" PRIu64 " sync%s (%.2f s)\n",
		       human(d->ram, b1, sizeof(b1)), d->nslots,
		       d->nslots > 1 ? "s" : "", leaves_str(d, b2, sizeof(b2)),
		       d->syncs, d->syncs == 1 ? "" : "s", d->phase_s[0]);
	fflush(stdout);

	t = now_s();
	{
		/* The rings' own invalidation figures: the difference. */
		const struct inval_count before = d->inv;
		uint64_t *a = (uint64_t *)&d->inv_rings;
		const uint64_t *x = (const uint64_t *)&d->inv,
			       *b = (const uint64_t *)&before;

		if ((rc = phase_rings(d)))
			return rc;
		for (size_t i = 0; i < sizeof(before) / sizeof(uint64_t); i++)
			a[i] = x[i] - b[i];
	}
	d->phase_s[1] = now_s() - t;
	if (!d->quiet)
		printf("  2. NIC rings   RX and TX, %u buffers of %s each at IOVA "
		       "0x%" PRIx64 ": %" PRIu64 " maps and unmaps in batches "
		       "of %u (%.2f s)\n",
		       d->nring, bench_size_str(d->page, b1, sizeof(b1)),
		       d->rx.iova, d->phase2_ops,
		       d->nring < BATCH ? d->nring : BATCH, d->phase_s[1]);
	fflush(stdout);

	t = now_s();
	if ((rc = phase_dirty(d)))
		return rc;
	d->phase_s[2] = now_s() - t;
	if (!d->quiet) {
		if (d->dirty_rc)
			printf("  3. dirty       dirty tracking: not supported "
			       "by this format\n");
		else
			printf("  3. dirty       %u passes over guest RAM, %u ms "
			       "apart, while the devices write: %s dirty "
			       "(%.2f s)\n",
			       d->dirty_passes, d->dirty_ms,
			       passes_str(d, b2, sizeof(b2)), d->phase_s[2]);
	}
	fflush(stdout);

	t = now_s();
	if ((rc = phase_teardown(d)))
		return rc;
	d->phase_s[3] = now_s() - t;
	if (!d->quiet)
		printf("  4. teardown    unmapped everything: %s of tables left "
		       "(the root%s); destroyed (%.2f s)\n",
		       human(d->after_unmap_bytes, b1, sizeof(b1)),
		       d->after_unmap_pages != d->root_pages ? " and more"
		       : d->grown ? "s alone" : " alone",
		       d->phase_s[3]);
	d->seconds = now_s() - d->t0;
	return 0;
}

enum {
	OPT_JSON = CLI_OPT_CMD,
	OPT_BREAK,
	OPT_CACHING_MODE,
	OPT_COUNTS,
	OPT_SMALL,
	OPT_RAM,
	OPT_RING,
	OPT_OPS,
	OPT_DEVICES,
	OPT_SEED,
	OPT_STRATEGY,
	OPT_IOMMU,
};

int demo_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_OPTIONS_FORMAT,
		{ "json", no_argument, NULL, OPT_JSON },
		{ "break", required_argument, NULL, OPT_BREAK },
		{ "caching-mode", no_argument, NULL, OPT_CACHING_MODE },
		{ "counts", no_argument, NULL, OPT_COUNTS },
		{ "small", no_argument, NULL, OPT_SMALL },
		{ "ram", required_argument, NULL, OPT_RAM },
		{ "ring", required_argument, NULL, OPT_RING },
		{ "ops", required_argument, NULL, OPT_OPS },
		{ "devices", required_argument, NULL, OPT_DEVICES },
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "strategy", required_argument, NULL, OPT_STRATEGY },
		{ "iommu", required_argument, NULL, OPT_IOMMU },
		CLI_OPTION_HELP,
		CLI_OPTIONS_END,
	};
	static const char cmd[] = "iopgt demo";
	/* The options that --small presets, as given: applied after it. */
	const char *ram = NULL;
	uint64_t ring = 0, ops = 0, v, page, top;
	bool small = false, ring_set = false, ops_set = false;
	struct demo d;
	uint64_t viol;
	int c, rc;

	memset(&d, 0, sizeof(d));
	cli_opts_begin();
	cli_format_begin(&d.cfg);
	d.devices = 2;
	d.seed = 1;
	d.dirty_ms = 2;
	d.strat = cli_strategy_find("epoch");
	d.iommu = -1;
	while ((c = cli_getopt(argc, argv, ":h", longopts, cmd)) != -1) {
		int k = cli_format_opt(cmd, c, optarg, &d.cfg);

		if (k < 0)
			return cli_usage_error(cmd);
		if (k)
			continue;
		switch (c) {
		case 'h':
			printf("%s%s\nreclaim strategy:\n%s", demo_usage,
			       cli_format_help(), cli_strategy_help());
			return 0;
		case OPT_JSON:
			d.json = true;
			break;
		case OPT_BREAK: {
			static const struct { const char *name; unsigned h; }
			brk[] = {
				{ "skip-flush", PT_HOOK_SKIP_FLUSH },
				{ "leaf-only-flush", PT_HOOK_LEAF_ONLY_FLUSH },
			};
			unsigned j;

			for (j = 0; j < 2 && strcmp(optarg, brk[j].name); j++)
				;
			if (j == 2) {
				fprintf(stderr, "%s: bad value for --break: "
						"'%s' (skip-flush or "
						"leaf-only-flush)\n",
					cmd, optarg);
				return cli_usage_error(cmd);
			}
			d.hooks |= brk[j].h;
			break;
		}
		case OPT_CACHING_MODE:
			d.caching_mode = true;
			break;
		case OPT_COUNTS:
			d.counts = true;
			break;
		case OPT_SMALL:
			small = true;
			break;
		case OPT_RAM:
			/* Checked against the format's page and IOVA space
			 * below. */
			if (cli_size_arg(cmd, "--ram", optarg, 0, UINT64_MAX,
					 &v))
				return cli_usage_error(cmd);
			ram = optarg;
			break;
		case OPT_RING:
			if (cli_count_arg(cmd, "--ring", optarg, 1, MAX_RING,
					  &ring))
				return cli_usage_error(cmd);
			ring_set = true;
			break;
		case OPT_OPS:
			if (cli_count_arg(cmd, "--ops", optarg, 0,
					  UINT64_C(1000000000000), &ops))
				return cli_usage_error(cmd);
			ops_set = true;
			break;
		case OPT_DEVICES:
			if (cli_count_arg(cmd, "--devices", optarg, 1, 64, &v))
				return cli_usage_error(cmd);
			d.devices = (unsigned)v;
			break;
		case OPT_SEED:
			if (cli_count_arg(cmd, "--seed", optarg, 0, UINT64_MAX,
					  &d.seed))
				return cli_usage_error(cmd);
			break;
		case OPT_STRATEGY:
			if (cli_strategy_arg(cmd, optarg, &d.strat))
				return cli_usage_error(cmd);
			break;
		case OPT_IOMMU:
			d.iommu = -2;
			if (!strcmp(optarg, "none"))
				d.iommu = 0;
			for (unsigned i = 1; i <= IOPGT_IOMMU_RISCV; i++)
				if (!strcmp(optarg,
					    iopgt_iommu_name((enum iopgt_iommu)i)))
					d.iommu = (int)i;
			if (d.iommu == -2) {
				fprintf(stderr, "%s: bad value for --iommu: "
						"'%s' (vtd, amd, smmuv3, riscv "
						"or none)\n",
					cmd, optarg);
				return cli_usage_error(cmd);
			}
			break;
		default:
			return cli_usage_error(cmd);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", cmd,
			argv[optind]);
		return cli_usage_error(cmd);
	}
	if (cli_format_end(cmd, &d.cfg))
		return cli_usage_error(cmd);
	/* After the format options: --format starts a fresh configuration. */
	cli_strategy_apply(d.strat, &d.cfg);

	/* The defaults, or --small's; then what was given explicitly. */
	if (small) {
		d.ram = GiB + 512 * MiB;
		d.nring = 64;
		d.ops = 300000;
		d.dirty_passes = 3;
	} else {
		d.ram = 4 * GiB;
		d.nring = 512;
		d.ops = 1000000;
		d.dirty_passes = 5;
	}
	if (ring_set)
		d.nring = (unsigned)ring;
	if (ops_set)
		d.ops = ops;
	if (ram) {
		/* Guest RAM sits in the lower half of the IOVA space, the
		 * rings in the upper half (setup() checks the details). */
		page = UINT64_C(1) << d.cfg.granule;
		top = d.cfg.ias >= 64 ? UINT64_C(1) << 63
				      : UINT64_C(1) << (d.cfg.ias - 1);
		cli_parse_size(ram, &d.ram);
		if (!d.ram || d.ram % page) {
			fprintf(stderr, "%s: bad value for --ram: '%s' (a "
					"non-zero multiple of the %" PRIu64
					"-byte page)\n",
				cmd, ram, page);
			return cli_usage_error(cmd);
		}
		if (d.ram > top) {
			fprintf(stderr, "%s: bad value for --ram: '%s' (more "
					"than half the %u-bit IOVA space)\n",
				cmd, ram, d.cfg.ias);
			return cli_usage_error(cmd);
		}
	}
	d.quiet = d.json;
	d.tty = isatty(STDERR_FILENO);

	/* This thread is the mapper, the only one that calls the library:
	 * registered with the RCU flavor (if any) from before the domain's
	 * creation to after its destroy. */
	cli_strategy_thread_begin(d.strat);
	rc = run(&d);
	if (rc) {
		bar_done(&d);
		teardown_objects(&d);
		cli_strategy_thread_end(d.strat);
		viol = d.sim ? iopgt_sim_violations(d.sim) : 0;
		if (viol)
			iopgt_sim_print_violations(d.sim, stderr);
		iopgt_sim_destroy(d.sim);
		free(d.cmd);
		return 1;
	}
	cli_strategy_thread_end(d.strat);
	iopgt_sim_get_stats(d.sim, &d.sst);
	viol = iopgt_sim_violations(d.sim);
	if (d.json)
		print_json(&d, viol);
	else
		print_summary(&d, viol);
	iopgt_sim_destroy(d.sim);
	free(d.cmd);
	return viol || checks_failed(&d) ? 1 : 0;
}

/* ------------------------------------------------------------------------
 * iopgt dump --demo
 */

int demo_dump(const struct iopgt_config *cfg, unsigned flags)
{
	struct demo d;
	char b1[64], b2[256];
	int rc;

	memset(&d, 0, sizeof(d));
	d.cfg = *cfg;
	/* `iopgt dump` takes no --strategy: its domains have the default,
	 * which asks nothing of this thread. */
	d.strat = cli_strategy_find("epoch");
	d.ram = GiB + 4 * MiB;
	d.nring = 8;
	d.seed = 1;
	d.quiet = true;
	rc = setup(&d);
	if (!rc)
		rc = phase_ram(&d);
	if (!rc)
		rc = ring_post(&d, &d.rx, 8);
	if (!rc)
		rc = ring_post(&d, &d.tx, 3);
	if (!rc) {
		printf("# %s: guest RAM %s at IOVA 0 (host PA 0x%" PRIx64
		       "): %s leaves;\n# RX ring: 8 buffers from IOVA 0x%" PRIx64
		       ", TX ring: 3 buffers from IOVA 0x%" PRIx64 "\n",
		       cli_format_desc(&d.cfg),
		       bench_size_str(d.ram, b1, sizeof(b1)),
		       (uint64_t)HOST_RAM_PA, leaves_str(&d, b2, sizeof(b2)),
		       d.rx.iova, d.tx.iova);
		if (iopgt_dump(d.dom, cli_print_line, stdout, flags))
			rc = -EIO;
	}
	teardown_objects(&d);
	iopgt_sim_destroy(d.sim);
	free(d.cmd);
	return rc ? 1 : 0;
}
