/* SPDX-License-Identifier: MIT */
/*
 * The randomized reference-model test of the core library (test_model.c),
 * run again with the simulated IOMMU attached (sim/, docs/sim.md), for
 * every format configuration.
 *
 * The domain's tables live in the simulator's memory and its flushes go to
 * the simulator's caches; the table cache is off, so every reclaimed table
 * goes back to the arena and a late walk of it is caught. Device threads
 * translate random IOVAs of the mapped ranges (and of their neighbours)
 * from start to end, while the test thread maps and unmaps at random:
 * single pages, runs, superpage-aligned ranges, ranges that split
 * superpages, neighbours that continue another range's output addresses
 * (so tables fill up and coalesce), holes punched and mapped back; mostly
 * one operation per sync, sometimes a batch of several.
 *
 * Two models are kept:
 *   - the simulator's: every map and unmap is announced before the call
 *     (model_begin_map / model_begin_unmap) and completed after the sync
 *     that flushed it (model_end, or model_cancel for a map that failed).
 *     The simulator checks every translation of every device against it,
 *     and every table read against the page states: no violation may be
 *     found;
 *   - the test's own (as test_model.c): map returns -EEXIST exactly when
 *     it overlaps, unmap returns exactly the bytes mapped, lookup agrees;
 *     and when no operation is pending, a translation by the test thread
 *     agrees with lookup and the model (PA, leaf size, protection, faults).
 *
 * At the end of each configuration the devices must have done real work
 * (translations, IOTLB hits, walks started from the paging-structure
 * cache, WALK invalidations), everything is unmapped, and the arena holds
 * the root alone.
 *
 * The negative run drives the same workload on a domain whose syncs issue
 * no flush (PT_HOOK_SKIP_FLUSH): the devices must see violations, which
 * shows that the concurrent checker is live.
 *
 * Environment: IOPGT_SEED (base seed, printed on failure), IOPGT_TEST_ITERS
 * (operations per configuration; default UNIT_ITERS times IOPGT_TEST_SCALE,
 * see titers()), IOPGT_TEST_CFG (run only the configurations it
 * selects: tcfg_wanted()), IOPGT_SIM_DEVICES (device threads,
 * default 2).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "refmodel.h"
#include "iopgt_sim.h"
#include "testhook.h"

#define DEFAULT_SEED UINT64_C(0x5111de0b5eed)
/* Operations per configuration in the unit tier: every run collides,
 * splits and coalesces (checked from 500 on) and its devices have time to
 * translate. The long tier runs IOPGT_TEST_SCALE times as many. */
#define UNIT_ITERS 1000
#define DEFAULT_DEVICES 2
#define FULL_EVERY 150   /* operations between full comparisons */
#define COUNT_EVERY 8    /* operations between recounts of every table */
#define MAX_PENDING 6    /* operations per sync, at most */
#define XLATE_POINTS 4   /* test-thread translations after each sync */
/* Device translations each configuration must see while the driver runs,
 * per device thread. */
#define MIN_DEV_TRANSLATIONS 500

/* ------------------------------------------------------------------------
 * One run: one configuration on one simulator.
 */

/* An operation called but not yet synced. */
struct pend {
	uint64_t iova, size;
	bool failed; /* a map that returned an error: cancel, not end */
};

struct run {
	const struct tcfg *c;
	const char *variant;
	bool broken;      /* PT_HOOK_SKIP_FLUSH: violations expected */
	bool caching;     /* caching mode in the simulator and the domain */
	bool counts;      /* IOPGT_OPT_COUNTS */
	/* Flushes as an IOMMU's commands (iopgt_sim_inval_ops), with these
	 * IOPGT_INVAL_* flags; 0: the simulator's abstract flushes. */
	enum iopgt_iommu iommu;
	unsigned iflags;
	bool spans;       /* the domain has leaves of several items */
	bool grow;        /* grows up to the format's largest ias */
	unsigned levels0, grows; /* its levels at first, levels grown */
	unsigned quarantine;
	unsigned ndev;
	uint64_t base_seed, seed;
	long iters;        /* operations to run */
	long op;           /* index of the current operation */
	struct rm_log log; /* its steps and the ones before */

	struct iopgt_sim *sim;
	struct iopgt_domain *dom;
	struct iopgt_gather g;
	struct rm_work w; /* the test's model and the random workload */
	struct pend pend[MAX_PENDING];
	unsigned npend, batch;

	/* what was exercised */
	unsigned long maps, eexist, unmaps, remaps, fulls;
	unsigned long syncs, batches, cancels, early_syncs;
	unsigned long xlates, xlates_exact;
	uint64_t unmapped;
};

/* The failure report's context. */
static void print_context(FILE *out, void *arg)
{
	struct run *R = arg;

	if (R->iommu)
		fprintf(out, "  flushes as commands of IOMMU %u, flags %#x\n",
			(unsigned)R->iommu, R->iflags);
	fprintf(out,
		"  config %s, variant %s%s%s, base seed 0x%" PRIx64
		", config seed 0x%" PRIx64 ", %u device threads\n"
		"  replay: IOPGT_SEED=0x%" PRIx64 " IOPGT_TEST_ITERS=%ld"
		" IOPGT_SIM_DEVICES=%u IOPGT_TEST_CFG=%s test_sim_model\n",
		R->c->name, R->variant, R->counts ? ", counts" : "",
		R->caching ? ", caching mode" : "", R->base_seed, R->seed,
		R->ndev,
		R->base_seed, R->iters, R->ndev, R->c->name);
	rm_log_print(&R->log, out);
	if (R->sim && iopgt_sim_violations(R->sim))
		iopgt_sim_print_violations(R->sim, out);
}

static bool prot_allows(unsigned prot, enum iopgt_sim_access a)
{
	return a == IOPGT_SIM_WRITE ? (prot & IOPGT_PROT_WRITE) != 0
				    : (prot & IOPGT_PROT_READ) != 0;
}

/* Translate x from the test thread, as a device would. The simulator
 * checks the result against its model in any case; with no operation
 * pending (nothing in transition) the result must also be exactly what
 * lookup and the test's model say. */
static void check_xlate(struct run *R, uint64_t x, const char *where)
{
	enum iopgt_sim_access a = rm_chance(&R->w, 40) ? IOPGT_SIM_WRITE
						: IOPGT_SIM_READ;
	const char *an = a == IOPGT_SIM_WRITE ? "write" : "read";
	const struct rm_range *r = rm_find(&R->w.m, x);
	struct iopgt_translation tr;
	struct iopgt_sim_result res;
	int lrc, src;

	lrc = iopgt_lookup(R->dom, x, &tr);
	src = iopgt_sim_translate(R->sim, x, a, &res);
	R->xlates++;
	if (R->broken || R->npend)
		return;
	R->xlates_exact++;
	if (!r) {
		CHECK(lrc == -ENOENT, "%s: lookup 0x%" PRIx64 " returned %d, "
		      "the model has it unmapped", where, x, lrc);
		/* (A growing domain's root may not reach x yet: the
		 * hardware faults on the range.) */
		CHECK(src == -EFAULT &&
			      (res.fault == IOPGT_SIM_FAULT_NOT_PRESENT ||
			       (R->grow && res.fault == IOPGT_SIM_FAULT_RANGE)),
		      "%s: %s of 0x%" PRIx64 " returned %d fault %s (pa 0x%"
		      PRIx64 " leaf 0x%" PRIx64 " %s), expected a not-present "
		      "fault", where, an, x, src,
		      iopgt_sim_fault_name(res.fault), res.pa, res.leaf_size,
		      res.iotlb_hit ? "from the IOTLB" : "by a walk");
		return;
	}
	CHECK(lrc == 0, "%s: lookup 0x%" PRIx64 " returned %d, the model has "
	      "it mapped", where, x, lrc);
	if (!prot_allows(r->prot, a)) {
		CHECK(src == -EFAULT && res.fault == IOPGT_SIM_FAULT_PERMISSION,
		      "%s: %s of 0x%" PRIx64 " (prot 0x%x) returned %d fault "
		      "%s, expected a permission fault", where, an, x, r->prot,
		      src, iopgt_sim_fault_name(res.fault));
		return;
	}
	CHECK(src == 0, "%s: %s of 0x%" PRIx64 " returned %d fault %s (level "
	      "%u), the model has it mapped to 0x%" PRIx64 " prot 0x%x", where,
	      an, x, src, iopgt_sim_fault_name(res.fault), res.level,
	      r->pa + (x - r->iova), r->prot);
	CHECK(res.pa == tr.pa && res.pa == r->pa + (x - r->iova),
	      "%s: %s of 0x%" PRIx64 " gave pa 0x%" PRIx64 " (%s), lookup 0x%"
	      PRIx64 ", model 0x%" PRIx64, where, an, x, res.pa,
	      res.iotlb_hit ? "IOTLB" : "walk", tr.pa, r->pa + (x - r->iova));
	CHECK(res.prot == tr.prot && res.prot == r->prot,
	      "%s: %s of 0x%" PRIx64 " gave prot 0x%x, lookup 0x%x, model 0x%x",
	      where, an, x, res.prot, tr.prot, r->prot);
	/* Leaves rewritten in place within a table (a span split by an
	 * unmap, or leaves coalesced into a span) translate as before, so
	 * nothing is flushed for them: an IOTLB entry cached before may give
	 * the old leaf's size (the translation itself is checked above). */
	CHECK(res.leaf_size == tr.leaf_size ||
		      (res.iotlb_hit && R->spans),
	      "%s: %s of 0x%" PRIx64 " gave leaf 0x%" PRIx64 " (%s), lookup "
	      "0x%" PRIx64, where, an, x, res.leaf_size,
	      res.iotlb_hit ? "IOTLB" : "walk", tr.leaf_size);
}

/* ------------------------------------------------------------------------
 * Whole-domain checks
 */

static void check_cheap(struct run *R)
{
	if (R->op % COUNT_EVERY == 0)
		CHECK_EQ(tcheck_counts(R->dom), 0,
			 "tables whose count is wrong");
}

static void check_full(struct run *R)
{
	unsigned empty;

	R->fulls++;
	rm_compare_domain(&R->w);
	tcount_tables(R->dom, &empty);
	/* (A growing domain's roots below the current one stay, pinned,
	 * empty or not.) */
	CHECK(empty <= R->grows, "empty tables left in the tree: %u", empty);
	CHECK_EQ(tcheck_counts(R->dom), 0, "tables whose count is wrong");
}

/* ------------------------------------------------------------------------
 * Announce, call, sync, complete
 */

static bool pend_overlaps(const struct run *R, uint64_t iova, uint64_t size)
{
	for (unsigned i = 0; i < R->npend; i++)
		if (R->pend[i].iova < iova + size &&
		    iova < R->pend[i].iova + R->pend[i].size)
			return true;
	return false;
}

/* Sync the batch, then complete its operations in the simulator's model,
 * newest first: a range that a later operation of the batch touched takes
 * that operation's state, and a failed map (which never overlaps an
 * earlier pending operation, see announce) falls back to the state before
 * it only where no later operation changed it. */
static void sync_batch(struct run *R)
{
	if (!R->npend)
		return;
	iopgt_sync(R->dom, &R->g);
	R->syncs++;
	if (R->npend > 1)
		R->batches++;
	CHECK(R->g.nr_tables == 0 && R->g.tables == NULL &&
	      R->g.kind == IOPGT_FLUSH_NONE,
	      "sync left %lu tables / kind %d in the gather", R->g.nr_tables,
	      (int)R->g.kind);
	for (unsigned i = R->npend; i-- > 0;) {
		const struct pend *p = &R->pend[i];
		int rc = p->failed
				 ? iopgt_sim_model_cancel(R->sim, p->iova, p->size)
				 : iopgt_sim_model_end(R->sim, p->iova, p->size);

		CHECK_EQ(rc, 0, "completing an operation in the sim's model");
	}
	R->npend = 0;
	/* Mostly one operation per sync; sometimes a batch of up to six. */
	R->batch = rm_chance(&R->w, 70)
			   ? 1
			   : 2 + (unsigned)rm_below(&R->w, MAX_PENDING - 1);
	/* A violation is reported at the operation that let it happen (or
	 * shortly after: the devices find it when they next touch it). */
	if (!R->broken)
		CHECK_EQ(iopgt_sim_violations(R->sim), 0,
			 "violations found by the simulator");
}

static void maybe_sync(struct run *R)
{
	if (R->npend >= R->batch)
		sync_batch(R);
}

/* Before an operation on [iova, iova + size) that will fail (if fail):
 * a failed map is cancelled, which puts its range back to the state before
 * its first pending announcement. So it must not share a batch with an
 * earlier pending operation on its range: sync those first. */
static void announce(struct run *R, uint64_t iova, uint64_t size, bool fail)
{
	if (R->npend == MAX_PENDING || (fail && pend_overlaps(R, iova, size))) {
		if (R->npend)
			R->early_syncs++;
		sync_batch(R);
	}
}

static void pend_push(struct run *R, uint64_t iova, uint64_t size,
		      bool failed)
{
	R->pend[R->npend].iova = iova;
	R->pend[R->npend].size = size;
	R->pend[R->npend].failed = failed;
	R->npend++;
	if (failed)
		R->cancels++;
}

/* After a sync: a few test-thread translations of the range. */
static void xlate_range(struct run *R, uint64_t iova, uint64_t size,
			const char *where)
{
	if (R->npend)
		return;
	check_xlate(R, iova, where);
	check_xlate(R, iova + size - 1, where);
	for (int i = 2; i < XLATE_POINTS; i++)
		check_xlate(R, iova + rm_below(&R->w, size), where);
	if (iova && rm_in_space(&R->w, iova - 1))
		check_xlate(R, iova - 1, where);
	if (rm_in_space(&R->w, iova + size))
		check_xlate(R, iova + size, where);
}

/* ------------------------------------------------------------------------
 * Random operations
 */

static void do_map(struct run *R, uint64_t iova, uint64_t size, uint64_t pa,
		   unsigned prot)
{
	bool ov = rm_overlaps(&R->w.m, iova, size);
	int ret, rc;

	rm_step(&R->log, R->op, "map iova 0x%" PRIx64 " size 0x%" PRIx64
		" pa 0x%" PRIx64 " prot 0x%x (model: %s, %u pending)", iova,
		size, pa, prot, ov ? "overlap" : "free", R->npend);
	announce(R, iova, size, ov);
	rc = iopgt_sim_model_begin_map(R->sim, iova, size, pa, prot);
	CHECK_EQ(rc, 0, "model_begin_map");
	ret = iopgt_map(R->dom, iova, pa, size, prot, &R->g);
	R->maps++;
	pend_push(R, iova, size, ret != 0);
	if (ov) {
		R->eexist++;
		CHECK_EQ(ret, -EEXIST, "map over a mapped range");
		rm_check_failed_map(&R->w, iova, size);
	} else {
		struct rm_range nr = { iova, size, pa, prot };

		CHECK_EQ(ret, 0, "map into a free range");
		rm_insert(&R->w.m, &nr);
		rm_check_new_range(&R->w, iova, size, pa, 6);
	}
	/* In transition now: the simulator accepts the old or the new
	 * state, and checks it. */
	check_xlate(R, iova + rm_below(&R->w, size), "map, before its sync");
	maybe_sync(R);
	xlate_range(R, iova, size, "after map and sync");
}

static void do_unmap(struct run *R, uint64_t iova, uint64_t size,
		     const char *why)
{
	uint64_t expect;
	int64_t ret;
	int rc;

	rm_step(&R->log, R->op, "unmap iova 0x%" PRIx64 " size 0x%" PRIx64
		" (%s, %u pending)", iova, size, why, R->npend);
	announce(R, iova, size, false);
	rc = iopgt_sim_model_begin_unmap(R->sim, iova, size);
	CHECK_EQ(rc, 0, "model_begin_unmap");
	expect = rm_remove(&R->w.m, iova, size);
	ret = iopgt_unmap(R->dom, iova, size, &R->g);
	R->unmaps++;
	R->unmapped += expect;
	pend_push(R, iova, size, false);
	CHECK_EQ(ret, expect, "bytes unmapped");
	rm_check_unmapped(&R->w, iova, size);
	check_xlate(R, iova + rm_below(&R->w, size), "unmap, before its sync");
	maybe_sync(R);
	xlate_range(R, iova, size, "after unmap and sync");
}

static void op_map(struct run *R)
{
	uint64_t iova, size, pa;
	unsigned prot;

	rm_gen_map(&R->w, &iova, &size, &pa, &prot);
	do_map(R, iova, size, pa, prot);
}

static void op_unmap(struct run *R)
{
	uint64_t iova, size;
	const char *why = rm_gen_unmap(&R->w, &iova, &size);

	do_unmap(R, iova, size, why);
}

/* Lookups and test-thread translations of random points. */
static void op_probe(struct run *R)
{
	for (int i = 0; i < 4; i++) {
		uint64_t x = rm_gen_point(&R->w, 70);

		rm_step(&R->log, R->op, "probe 0x%" PRIx64 " (%u pending)", x,
			R->npend);
		rm_check_lookup(&R->w, x, "probe");
		check_xlate(R, x, "probe");
	}
}

/* Unmap part of a range and map it back as it was: with coalescing, the
 * leaf comes back at least as large as before. */
static void op_remap(struct run *R)
{
	struct rm_range piece;
	uint64_t before, after;
	int ret, rc;

	if (!rm_gen_hole(&R->w, &piece))
		return;
	rm_step(&R->log, R->op, "remap: lookup 0x%" PRIx64, piece.iova);
	before = rm_check_lookup(&R->w, piece.iova, "remap, before");
	do_unmap(R, piece.iova, piece.size, "remap, hole");
	rm_step(&R->log, R->op, "remap: map iova 0x%" PRIx64 " size 0x%"
		PRIx64 " pa 0x%" PRIx64 " prot 0x%x (%u pending)", piece.iova,
		piece.size, piece.pa, piece.prot, R->npend);
	announce(R, piece.iova, piece.size, false);
	rc = iopgt_sim_model_begin_map(R->sim, piece.iova, piece.size,
				       piece.pa, piece.prot);
	CHECK_EQ(rc, 0, "model_begin_map");
	ret = iopgt_map(R->dom, piece.iova, piece.pa, piece.size, piece.prot,
			&R->g);
	pend_push(R, piece.iova, piece.size, ret != 0);
	CHECK_EQ(ret, 0, "map back the hole");
	rm_insert(&R->w.m, &piece);
	R->remaps++;
	after = rm_check_lookup(&R->w, piece.iova, "remap, after");
	CHECK(after >= before, "leaf at 0x%" PRIx64 " was 0x%" PRIx64
	      " before the hole was unmapped and mapped back as it "
	      "was, and is 0x%" PRIx64 ": not coalesced", piece.iova,
	      before, after);
	maybe_sync(R);
	xlate_range(R, piece.iova, piece.size, "after remap and sync");
}

/* ------------------------------------------------------------------------
 * The driver
 */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The driver's grow callback: point the device at the new root (the
 * device table entry's root and Mode, and its invalidation), while the
 * devices translate. */
static int grow_cb(void *arg, const struct iopgt_hw_config *hw)
{
	struct run *R = arg;

	rm_step(&R->log, R->op, "grown to %u levels, root 0x%" PRIx64,
		hw->levels, hw->root);
	CHECK(hw->levels > R->levels0 + R->grows, "grown to %u levels after "
	      "%u from %u", hw->levels, R->grows, R->levels0);
	R->grows = hw->levels - R->levels0;
	return iopgt_sim_set_root(R->sim, hw);
}

static void setup_run(struct run *R)
{
	struct iopgt_sim_config scfg;
	struct iopgt_config cfg;
	int rc;

	iopgt_sim_config_init(&scfg);
	scfg.arena_size = UINT64_C(256) << 20;
	scfg.quarantine = R->quarantine;
	scfg.caching_mode = R->caching;
	rc = iopgt_sim_create(&scfg, &R->sim);
	CHECK_EQ(rc, 0, "sim create");
	tcfg_config(R->c, &cfg);
	cfg.leaf_sizes = 0; /* every size, leaf spans included */
	cfg.options = (R->caching ? IOPGT_OPT_CACHING_MODE : 0) |
		      (R->counts ? IOPGT_OPT_COUNTS : 0);
	cfg.table_cache = 0; /* every reclaimed table goes to the arena */
	if (R->grow) {
		cfg.ias_max = tformat(R->c->format)->ias_max;
		cfg.grow = grow_cb;
		cfg.grow_arg = R;
	}
	iopgt_sim_mem_ops(R->sim, &cfg.mem);
	iopgt_sim_flush_ops(R->sim, &cfg.flush);
	if (R->iommu) {
		struct iopgt_inval_config ic;

		memset(&ic, 0, sizeof(ic));
		ic.size = sizeof(ic);
		ic.iommu = R->iommu;
		ic.flags = R->iflags;
		ic.max_addr_mask = 18; /* granule and levels: at attach */
		iopgt_sim_inval_ops(R->sim, &ic, &cfg);
	}
	rc = iopgt_domain_create(&cfg, &R->dom);
	CHECK_EQ(rc, 0, "domain create");
	{
		struct iopgt_info info;

		iopgt_domain_info(R->dom, &info, sizeof(info));
		R->levels0 = info.levels;
	}
	{
		uint64_t lv[8], all[TCFG_MAX_SIZES];

		R->spans = tcfg_all_sizes(R->dom, all) !=
			   tcfg_leaf_sizes(R->dom, lv);
	}
	rc = iopgt_sim_attach(R->sim, R->dom);
	CHECK_EQ(rc, 0, "sim attach");
	if (R->broken)
		iopgt__set_test_hooks(R->dom, PT_HOOK_SKIP_FLUSH);
	iopgt_gather_init(&R->g, sizeof(R->g));
	rm_work_init(&R->w, R->c, R->dom, R->seed);
	R->batch = 1;
}

static uint64_t dev_translations(struct run *R)
{
	struct iopgt_sim_stats st;

	iopgt_sim_get_stats(R->sim, &st);
	return st.translations - R->xlates;
}

static void finish_run(struct run *R, double t0, uint64_t dev0)
{
	struct iopgt_sim_stats st;
	struct iopgt_stats ds;
	uint64_t devx, viol;
	double t1;

	rm_step(&R->log, R->op, "end of the random operations");
	sync_batch(R);
	devx = dev_translations(R) - dev0;
	iopgt_sim_device_stop(R->sim);
	t1 = now_s();
	iopgt_sim_get_stats(R->sim, &st);
	iopgt_get_stats(R->dom, &ds, sizeof(ds));
	viol = iopgt_sim_violations(R->sim);
	print_message(
		"  %-17s %-10s seed 0x%016" PRIx64 " %.1fs: %lu maps (%lu "
		"-EEXIST), %lu unmaps (%" PRIu64 " MiB), %lu remaps, %lu syncs "
		"(%lu batched, %lu early), %" PRIu64 " split, %" PRIu64
		" coalesced; devices %u: %" PRIu64 " translations, iotlb %.0f%%, "
		"%" PRIu64 " psc hits, %" PRIu64 " a/d; test thread %lu (%lu "
		"exact); invalidations %" PRIu64 "/%" PRIu64 "/%" PRIu64
		" (added/modified/walk); violations %" PRIu64 "\n",
		R->c->name, R->variant, R->seed, t1 - t0, R->maps, R->eexist,
		R->unmaps, R->unmapped >> 20, R->remaps, R->syncs, R->batches,
		R->early_syncs, ds.split, ds.coalesced, R->ndev, devx,
		100 * st.iotlb_hit_rate, st.psc_hits, st.ad_updates, R->xlates,
		R->xlates_exact, st.invalidations[IOPGT_FLUSH_ADDED],
		st.invalidations[IOPGT_FLUSH_MODIFIED],
		st.invalidations[IOPGT_FLUSH_WALK], viol);
	if (R->broken) {
		for (unsigned k = 0; k < IOPGT_SIM_V_KINDS; k++)
			if (st.violations[k])
				print_message("    %-18s %" PRIu64 "\n",
					      iopgt_sim_violation_name(k),
					      st.violations[k]);
		CHECK(viol > 0, "no violation found although every sync "
		      "skipped its flush: the concurrent checker is not live");
	} else {
		CHECK_EQ(viol, 0, "violations found by the simulator");
	}
	/* The devices did real work while the driver ran. */
	CHECK(devx >= (uint64_t)MIN_DEV_TRANSLATIONS * R->ndev,
	      "only %" PRIu64 " device translations during the run", devx);
	CHECK(st.iotlb_hits > 0, "no IOTLB hit");
	CHECK(st.psc_hits > 0, "no walk started from the paging-structure "
	      "cache");
	CHECK(st.faults[IOPGT_SIM_FAULT_NOT_PRESENT] > 0, "no fault");
	if (!R->broken) {
		CHECK(st.invalidations[IOPGT_FLUSH_WALK] > 0,
		      "no WALK invalidation");
		if (R->caching)
			CHECK(st.invalidations[IOPGT_FLUSH_ADDED] > 0 ||
			      st.invalidations[IOPGT_FLUSH_MODIFIED] > 0,
			      "caching mode, but no invalidation of added "
			      "entries");
	}
	CHECK(R->xlates_exact > 0 || R->broken,
	      "no translation of the test thread was compared");
	if (R->op >= 500) {
		CHECK(R->eexist > 0, "no map collided");
		CHECK(ds.split > 0, "no superpage was split");
		CHECK(ds.coalesced > 0, "nothing was coalesced");
	}
	check_full(R);

	/* Unmap everything; with no device left, the test thread's
	 * translations still go through the checker. */
	for (unsigned w = 0; w < R->w.nwin; w++)
		do_unmap(R, R->w.win_base[w], R->w.win_size,
			 "final, whole window");
	sync_batch(R);
	CHECK_EQ(R->w.m.n, 0, "model ranges left");
	check_full(R);
	iopgt_reclaim(R->dom);
	iopgt_get_stats(R->dom, &ds, sizeof(ds));
	iopgt_sim_get_stats(R->sim, &st);
	if (R->grow)
		CHECK(R->grows > 0, "the domain never grew");
	CHECK_EQ(ds.table_pages_live, 1 + R->grows, "tables live after "
		 "unmapping everything and reclaim");
	CHECK_EQ(ds.table_pages_waiting, 0, "tables waiting after reclaim");
	CHECK_EQ(st.pages_live, 1 + R->grows, "arena blocks live after "
		 "unmapping everything and reclaim (the roots alone)");
	if (!R->broken)
		CHECK_EQ(iopgt_sim_violations(R->sim), 0,
			 "violations found by the simulator");

	iopgt_sim_detach(R->sim);
	iopgt_domain_destroy(R->dom);
	R->dom = NULL;
	iopgt_sim_get_stats(R->sim, &st);
	CHECK_EQ(st.pages_live, 0, "arena blocks leaked");
	CHECK_EQ(st.pages_alloc, st.pages_freed, "table pages leaked");
	CHECK_EQ(st.violations[IOPGT_SIM_V_BAD_FREE], 0, "bad table_free");
	iopgt_sim_destroy(R->sim);
	R->sim = NULL;
	rm_work_fini(&R->w);
}

/* The operations, by what rm_pick_op draws. */
static void (*const ops[])(struct run *R) = {
	[RM_MAP] = op_map,
	[RM_UNMAP] = op_unmap,
	[RM_PROBE] = op_probe,
	[RM_REMAP] = op_remap,
};

static void run_one(const struct tcfg *c, size_t ci, bool broken,
		    const char *variant, unsigned vi, bool grow)
{
	struct run *R = calloc(1, sizeof(*R));
	long iters = titers("IOPGT_TEST_ITERS", UNIT_ITERS);
	long ndev = tenv_long("IOPGT_SIM_DEVICES", DEFAULT_DEVICES);
	struct iopgt_sim_pattern p;
	uint64_t dev0;
	double t0;
	int rc;

	assert_non_null(R);
	rm_set_context(print_context, R);
	R->c = c;
	R->broken = broken;
	R->grow = grow;
	R->variant = variant;
	R->iters = iters;
	R->ndev = ndev < 1 ? 1 : ndev > 64 ? 64 : (unsigned)ndev;
	R->base_seed = tseed(DEFAULT_SEED);
	R->seed = rm_config_seed(R->base_seed, ci, vi);
	/* Half the configurations reuse freed table pages at once (the
	 * generation check then catches a stale walk cache), the other
	 * half after a quarantine; every third one caches non-present
	 * results (caching mode, ADDED invalidations); in two of every
	 * four the domain keeps counts (in the others, by default, none). */
	R->quarantine = ci % 2 ? 16 : 0;
	R->caching = ci % 3 == 2;
	R->counts = ci % 4 >= 2;
	/* In every other configuration the flushes reach the simulator as
	 * the commands of an IOMMU that takes the granule, the IOMMUs taking
	 * turns, with and without ranges (VT-d: page-selective; SMMUv3:
	 * range invalidation; RISC-V: NL and NAPOT ranges), first stage and
	 * second: the encoders then meet every gather the workload makes,
	 * and the simulator holds their commands to each IOMMU's rules. */
	if (ci % 2) {
		static const enum iopgt_iommu at4k[] = {
			IOPGT_IOMMU_SMMUV3, IOPGT_IOMMU_VTD, IOPGT_IOMMU_AMD,
			IOPGT_IOMMU_RISCV,
		};
		const unsigned k = (unsigned)(ci / 2);

		const struct iopgt_format_info *f = tformat(c->format);
		/* The highest IOVA the domain takes. */
		const unsigned ias = grow ? f->ias_max : c->ias;
		const uint64_t top = (f->flags & IOPGT_FORMAT_SIGN_EXTEND) ||
					     ias >= 64
				     ? UINT64_MAX
				     : (UINT64_C(1) << ias) - 1;

		R->iommu = c->granule == 12 ? at4k[k % 4] : IOPGT_IOMMU_SMMUV3;
		R->iflags = (k / 4 % 2 ? 0 : IOPGT_INVAL_RANGES) |
			    (k % 3 == 1 ? IOPGT_INVAL_FIRST_STAGE : 0);
		/* An SMMUv3 stage-2 IPA has 52 bits, a RISC-V IOTINVAL
		 * address 56: wider spaces take the stage-1 command (whose
		 * VA field has 64), or VT-d. */
		if (R->iommu == IOPGT_IOMMU_SMMUV3 && top >> 52)
			R->iflags |= IOPGT_INVAL_FIRST_STAGE;
		if (R->iommu == IOPGT_IOMMU_RISCV && top >> 56)
			R->iommu = IOPGT_IOMMU_VTD;
	}
	setup_run(R);

	memset(&p, 0, sizeof(p));
	p.seed = R->seed ^ UINT64_C(0xde7);
	p.write_pct = 30;
	p.unmapped_pct = 20;
	rc = iopgt_sim_device_start(R->sim, R->ndev, &p);
	CHECK_EQ(rc, 0, "device start");
	t0 = now_s();
	dev0 = dev_translations(R);

	for (R->op = 0; R->op < iters; R->op++) {
		ops[rm_pick_op(&R->w)](R);
		check_cheap(R);
		if (R->op % FULL_EVERY == FULL_EVERY - 1)
			check_full(R);
	}
	finish_run(R, t0, dev0);
	rm_set_context(NULL, NULL);
	free(R);
}

static void test_sim_model(void **state)
{
	(void)state;
	print_message("base seed 0x%" PRIx64 " (set IOPGT_SEED to replay), "
		      "%ld operations per configuration\n",
		      tseed(DEFAULT_SEED), titers("IOPGT_TEST_ITERS",
						  UNIT_ITERS));
	for (size_t i = 0; i < n_tcfgs; i++) {
		if (!tcfg_wanted(&tcfgs[i]))
			continue;
		run_one(&tcfgs[i], i, false,
			i % 3 == 2 ? "caching" : "default", 0, false);
	}
}

/* A domain that grows while the devices translate, on the first
 * configuration of each format that grows whose ias fills its levels
 * (the workload's windows: the bottom, under the first root, and the
 * middle and top of the largest input space). */
static void test_sim_model_grow(void **state)
{
	unsigned n = 0;

	(void)state;
	for (size_t i = 0; i < n_tcfgs; i++) {
		if (!tcfg_grows_first(i))
			continue;
		n++;
		if (tcfg_wanted(&tcfgs[i]))
			run_one(&tcfgs[i], i, false, "grow", 2, true);
	}
	assert_true(n > 0); /* AMD v1 is in every run's configurations */
}

/* The oracle is live: the same workload with every flush skipped must be
 * caught by the devices. Not under ThreadSanitizer: with its flushes
 * skipped, the library reuses table pages that the devices still walk
 * through their stale caches, so a device's read races with the zeroing of
 * a reused page by construction (that read is the violation this test
 * wants). The ASan and plain builds run it. */
static void test_sim_model_skip_flush(void **state)
{
	(void)state;
	if (TSAN)
		skip();
	run_one(&tcfgs[0], 0, true, "skip_flush", 1, false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sim_model),
		cmocka_unit_test(test_sim_model_skip_flush),
		cmocka_unit_test(test_sim_model_grow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
