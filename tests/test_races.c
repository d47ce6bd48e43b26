/* SPDX-License-Identifier: MIT */
/*
 * Races an adversarial review found in the engine, each as one
 * deterministic interleaving: threads stop at the named yield points of
 * the engine (src/testhook.h, debug builds) and a scheduler (sched.h)
 * releases them in the order that goes wrong. What must hold is the
 * protocol's (docs/protocol.md, docs/design.md); the 0.2.0 engine failed
 * each of these tests, which is what shows they can fail (1b, which 0.2.0
 * could not run, fails with the clearer's check of F removed).
 *
 *   lost_unmap        1. a coalesce from a stale scan maps an unmapped
 *                        page again
 *   lost_unmap_uncounted
 *                     1b. the same without counts (IOPGT_OPT_NO_COUNTS),
 *                        where the clear takes no section: two
 *                        interleavings
 *   map_unlink_uncounted
 *                     1c. without counts, a map stores into a table that
 *                        an unlink has frozen and scanned: three
 *                        interleavings, and two broken twins that must
 *                        fail
 *   unlink_thaw_uncounted
 *                     1d. without counts, an unlinker's scan finds an
 *                        entry that a clear then removes: the table
 *                        must still go (five variants, two of them
 *                        broken twins)
 *   map_redo_own_uncounted
 *                     1e. without counts, a map redone from the root finds
 *                        its own leaf, coalesced and split again meanwhile
 *                        (and a broken twin)
 *   freed_entry       2. an entry goes on naming a freed table; later
 *   freed_entry_trap     calls in that range spin (three interleavings)
 *   freed_entry_frozen
 *   count_clobber     3. a failed coalesce overwrites a concurrent
 *                        give-back of the count
 *   epoch_uaf         4. a walker counted under an old parity is inside a
 *                        table the epoch scheme frees
 *   epoch_try         4b. a hot path's walker (map, unmap, lookup) that
 *                        read the epoch before an advance is counted under
 *                        the new parity (and broken twins)
 *   coalesce_dirty    5. a dirty bit set during a coalesce is lost
 *   dirty_stop        6. read_and_clear_dirty clears a bit it never
 *                        reports when its callback stops it
 *   lookup_install    7. a lookup waits for an installer that is stopped
 *   overlap_stress    8. overlapping writers (a caller bug) are contained:
 *                        no crash, hang or double free, and nothing left
 *                        after destroy (label stress); without counts,
 *                        no table page lost from the tree either
 *   evicted_kept      9. a superpage map meets an emptied table kept for
 *                        reuse, which another writer evicts meanwhile
 *
 * The sizes come from each domain's iopgt_domain_info (leaf sizes, levels,
 * granule); a scenario that needs what a configuration lacks (a third leaf
 * size, a hardware dirty bit) skips it. Without yield hooks (IOPGT_DEBUG=0)
 * the scenarios skip. Every wait has a timeout (IOPGT_RACE_TIMEOUT_MS,
 * default 2000): a hang is reported and, if it does not resolve, ends the
 * process. Run one test by name: test_races lost_unmap.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "pt.h" /* the engine's hardware dirty bit, for the "device" */
#include "sched.h"

/* ------------------------------------------------------------------------
 * A domain for one scenario
 */

struct rdom {
	const struct tcfg *c;
	struct smem *m;
	struct iopgt_domain *dom;
	uint64_t s[8]; /* leaf sizes, smallest first: s[i] is level i's */
	unsigned n;
	unsigned levels, n0;
	uint64_t page, pa_base, space;
	uint64_t hw_dirty; /* the leaf bit the hardware sets on a write */
	uint64_t root_pa;
};

/* table_cache 0 unless a scenario needs emptied tables kept for reuse:
 * then every table reclaimed is really freed. */
static void ropen_sizes(struct rdom *d, const struct tcfg *c, unsigned cache,
			unsigned options, uint64_t leaf_sizes)
{
	struct iopgt_config cfg;
	struct iopgt_info info;

	memset(d, 0, sizeof(*d));
	d->c = c;
	d->m = smem_new();
	tcfg_config(c, &cfg);
	cfg.table_cache = cache;
	cfg.options = options;
	if (leaf_sizes)
		cfg.leaf_sizes = leaf_sizes == TSIZES_ALL ? 0 : leaf_sizes;
	smem_ops(d->m, &cfg.mem);
	assert_int_equal(iopgt_domain_create(&cfg, &d->dom), 0);
	iopgt_domain_info(d->dom, &info, sizeof(info));
	d->n = tcfg_leaf_sizes(d->dom, d->s);
	d->levels = info.levels;
	d->page = UINT64_C(1) << info.granule;
	d->n0 = 1u << (info.granule - 3);
	d->space = info.iova_last + 1; /* the lower part of the input space */
	d->pa_base = UINT64_C(1) << (info.oas - 2);
	d->hw_dirty = d->dom->eng->hw_dirty;
	d->root_pa = info.root_pa;
}

/* One-item leaves (the levels' sizes) only. */
static void ropen_opts(struct rdom *d, const struct tcfg *c, unsigned cache,
		       unsigned options)
{
	ropen_sizes(d, c, cache, options, 0);
}

/* Does d's domain map leaves of two smallest pages? */
static bool rpairs(struct rdom *d)
{
	uint64_t sz[TCFG_MAX_SIZES];
	unsigned n = tcfg_all_sizes(d->dom, sz);

	return n >= 2 && sz[1] == 2 * d->page;
}

/* A scenario that the configuration cannot run: free the domain; no
 * violations. */
static unsigned long rdrop(struct rdom *d)
{
	iopgt_domain_destroy(d->dom);
	smem_free(d->m);
	return 0;
}

/* The scenarios of the counted protocol: counts asked for. */
static void ropen_cache(struct rdom *d, const struct tcfg *c, unsigned cache)
{
	ropen_opts(d, c, cache, IOPGT_OPT_COUNTS);
}

static void ropen(struct rdom *d, const struct tcfg *c)
{
	ropen_cache(d, c, 0);
}

/* The identity-like output address of iova: keeps every alignment. */
static uint64_t rpa(const struct rdom *d, uint64_t iova)
{
	return d->pa_base + iova;
}

static const unsigned RWP = IOPGT_PROT_READ | IOPGT_PROT_WRITE;

/* A table of the tree at level, holding iova. */
struct rtable {
	unsigned level;
	uint64_t iova, pa, span;
	void *va;
	size_t bytes;
	unsigned used;
	int found;
};

static int find_cb(void *arg, const struct iopgt_table_info *t)
{
	struct rtable *f = arg;

	if (t->level != f->level || f->iova < t->iova ||
	    f->iova - t->iova >= t->span)
		return 0;
	f->pa = t->pa;
	f->va = (void *)(uintptr_t)t->va;
	f->bytes = (size_t)t->entries * sizeof(uint64_t);
	f->iova = t->iova;
	f->span = t->span;
	f->used = t->used;
	f->found = 1;
	return 1;
}

static int rfind(struct rdom *d, unsigned level, uint64_t iova,
		 struct rtable *f)
{
	memset(f, 0, sizeof(*f));
	f->level = level;
	f->iova = iova;
	iopgt_for_each_table(d->dom, find_cb, f);
	return f->found;
}

/* Set the hardware dirty bit in the leaf that translates iova, with a
 * compare-and-swap on the table memory, as the simulated IOMMU does (only
 * if the entry is still the leaf it read). Returns 1 if it did. */
static int rset_dirty(struct rdom *d, uint64_t iova)
{
	for (unsigned l = 0; l < d->levels; l++) {
		struct rtable f;
		_Atomic uint64_t *p;
		uint64_t e;

		if (!rfind(d, l, iova, &f))
			continue;
		p = (_Atomic uint64_t *)f.va + (iova - f.iova) / (f.span / (f.bytes / 8));
		e = atomic_load(p);
		if (!e || d->dom->eng->is_table(e, l))
			continue;
		return atomic_compare_exchange_strong(p, &e, e | d->hw_dirty);
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * Calls run by controlled threads
 */

enum rop_kind { ROP_MAP, ROP_UNMAP, ROP_LOOKUP, ROP_RECLAIM, ROP_DIRTY };

struct rop {
	struct rdom *d;
	enum rop_kind kind;
	uint64_t iova, size;
	int sync;          /* sync its gather after the call */
	int bind;          /* bind its gather first (an empty sync), so that
	                    * a single page's call takes the domain's own
	                    * entry point (iopgt_domain.hot), not the path
	                    * that binds */
	int64_t ret;
	struct iopgt_translation tr;
	/* ROP_DIRTY: the runs reported */
	uint64_t run_iova[16], run_size[16];
	unsigned nruns;
	/* The gather's ranges after the call, before any sync */
	struct iopgt_flush_range ranges[IOPGT_GATHER_RANGES];
	unsigned nr_ranges;
};

/* Whether o's gather held a range of kind at least `kind` (and not a WALK
 * over empty tables, which costs one page) holding iova. */
static bool rop_covers(const struct rop *o, uint64_t iova, unsigned kind)
{
	for (unsigned i = 0; i < o->nr_ranges; i++) {
		const struct iopgt_flush_range *r = &o->ranges[i];

		if (r->kind >= kind && r->iova <= iova && iova <= r->last &&
		    !(r->flags & IOPGT_RANGE_WALK_EMPTY))
			return true;
	}
	return false;
}

static int rop_dirty_cb(void *arg, uint64_t iova, uint64_t size)
{
	struct rop *o = arg;

	if (o->nruns < 16) {
		o->run_iova[o->nruns] = iova;
		o->run_size[o->nruns] = size;
	}
	o->nruns++;
	return 0;
}

static void rop_run(void *arg)
{
	struct rop *o = arg;
	struct iopgt_gather g;

	iopgt_gather_init(&g, sizeof(g));
	if (o->bind)
		iopgt_sync(o->d->dom, &g);
	switch (o->kind) {
	case ROP_MAP:
		o->ret = iopgt_map(o->d->dom, o->iova, rpa(o->d, o->iova),
				   o->size, RWP, &g);
		break;
	case ROP_UNMAP:
		o->ret = iopgt_unmap(o->d->dom, o->iova, o->size, &g);
		break;
	case ROP_LOOKUP:
		memset(&o->tr, 0, sizeof(o->tr));
		o->ret = iopgt_lookup(o->d->dom, o->iova, &o->tr);
		break;
	case ROP_RECLAIM:
		o->ret = iopgt_reclaim(o->d->dom);
		break;
	case ROP_DIRTY:
		o->nruns = 0;
		o->ret = iopgt_read_and_clear_dirty(o->d->dom, o->iova, o->size,
						    0, rop_dirty_cb, o, &g);
		break;
	}
	o->nr_ranges = g.nr_ranges;
	memcpy(o->ranges, g.ranges, sizeof(o->ranges));
	if (o->sync)
		iopgt_sync(o->d->dom, &g);
}

static struct rop rop(struct rdom *d, enum rop_kind kind, uint64_t iova,
		      uint64_t size)
{
	struct rop o;

	memset(&o, 0, sizeof(o));
	o.d = d;
	o.kind = kind;
	o.iova = iova;
	o.size = size;
	/* Writers sync their gather; a lookup or a reclaim has none (a sync
	 * would also reclaim, which scenario 4 must control). */
	o.sync = kind == ROP_MAP || kind == ROP_UNMAP || kind == ROP_DIRTY;
	return o;
}

/* One call on a watchdog thread: it must complete. */
static int64_t rcall(struct sched *s, struct rdom *d, enum rop_kind kind,
		     uint64_t iova, uint64_t size, struct iopgt_translation *tr)
{
	struct rop o = rop(d, kind, iova, size);
	char name[64];
	static const char *const kinds[] = { "map", "unmap", "lookup",
					     "reclaim", "dirty" };

	snprintf(name, sizeof(name), "%s 0x%" PRIx64, kinds[kind], iova);
	sched_run(s, name, rop_run, &o);
	if (tr)
		*tr = o.tr;
	return o.ret;
}

/* Set-up calls (no other thread runs): must succeed. */
static void rmap(struct rdom *d, uint64_t iova, uint64_t size)
{
	struct iopgt_gather g;

	iopgt_gather_init(&g, sizeof(g));
	assert_int_equal(iopgt_map(d->dom, iova, rpa(d, iova), size, RWP, &g),
			 0);
	iopgt_sync(d->dom, &g);
}

/* ------------------------------------------------------------------------
 * Checks
 */

/* Lookup of iova (on a watchdog thread) is unmapped (mapped = 0), or maps
 * rpa(iova) in a leaf of leaf bytes (0: any size). */
static void rexpect(struct sched *s, struct rdom *d, uint64_t iova,
		    int mapped, uint64_t leaf, const char *why)
{
	struct iopgt_translation tr;
	int64_t r = rcall(s, d, ROP_LOOKUP, iova, 0, &tr);

	if (!mapped && r != -ENOENT)
		sched_violation(s, "lookup 0x%" PRIx64 " = %" PRId64
				   " (pa 0x%" PRIx64 ", leaf 0x%" PRIx64
				   "): expected -ENOENT: %s",
				iova, r, tr.pa, tr.leaf_size, why);
	if (mapped && (r != 0 || tr.pa != rpa(d, iova) ||
		       (leaf && tr.leaf_size != leaf)))
		sched_violation(s, "lookup 0x%" PRIx64 " = %" PRId64
				   " (pa 0x%" PRIx64 ", leaf 0x%" PRIx64
				   "): expected pa 0x%" PRIx64
				   " in a leaf of 0x%" PRIx64 ": %s",
				iova, r, tr.pa, tr.leaf_size, rpa(d, iova),
				leaf, why);
}

/* Unmap everything, sync, reclaim: the root alone is left, counts match;
 * destroy: every page and descriptor went back, once, and no freed table
 * page was touched. Then free the scheduler and return its violations. */
static unsigned long rclose(struct sched *s, struct rdom *d)
{
	struct iopgt_stats st;
	struct smem_counts mc;
	unsigned bad;

	if (rcall(s, d, ROP_UNMAP, 0, d->space, NULL) < 0)
		sched_violation(s, "unmapping everything failed");
	rcall(s, d, ROP_RECLAIM, 0, 0, NULL);
	iopgt_get_stats(d->dom, &st, sizeof(st));
	if (d->dom->cfg.options & IOPGT_OPT_NO_RECLAIM) {
		/* the emptied tables stay, every one in the tree */
		unsigned reach = tcount_tables(d->dom, NULL);

		if (st.table_pages_live != reach || st.table_pages_waiting)
			sched_violation(s, "after unmapping everything: %"
					   PRIu64 " table pages live, %u in "
					   "the tree, %" PRIu64 " waiting",
					st.table_pages_live, reach,
					st.table_pages_waiting);
	} else if (st.table_pages_live != 1 || st.table_pages_waiting) {
		sched_violation(s, "after unmapping everything: %" PRIu64
				   " table pages live (expected the root "
				   "alone), %" PRIu64 " waiting",
				st.table_pages_live, st.table_pages_waiting);
	}
	bad = tcheck_counts(d->dom);
	if (bad)
		sched_violation(s, "%u tables' counts differ from their "
				   "entries after unmapping everything",
				bad);
	sched_detach(s);
	iopgt_domain_destroy(d->dom);
	d->dom = NULL;
	smem_counts(d->m, &mc);
	if (mc.table_allocs != mc.table_frees || mc.meta_allocs != mc.meta_frees)
		sched_violation(s, "leak: %" PRIu64 " table pages allocated, %"
				   PRIu64 " freed; %" PRIu64
				   " descriptors allocated, %" PRIu64 " freed",
				mc.table_allocs, mc.table_frees, mc.meta_allocs,
				mc.meta_frees);
	if (mc.double_frees)
		sched_violation(s, "%" PRIu64 " table pages freed twice",
				mc.double_frees);
	if (mc.uaf)
		sched_violation(s, "%" PRIu64 " accesses to freed table pages; "
				   "first: %s",
				mc.uaf, mc.first_uaf);
	smem_free(d->m);
	return sched_free(s);
}

/* Skip the test when the library has no yield hooks. */
static void require_hooks(void)
{
	struct iopgt_config cfg;
	struct iopgt_domain *dom;
	int ok;

	iopgt_config_init(&cfg, sizeof(cfg), IOPGT_FMT_X86_64);
	assert_int_equal(iopgt_domain_create(&cfg, &dom), 0);
	ok = sched_hooks_available(dom);
	iopgt_domain_destroy(dom);
	if (ok)
		return;
	if (IOPGT_DEBUG >= 1) {
		fprintf(stderr, "test_races: IOPGT_DEBUG=%d but the library "
				"reported no yield point: PT_YIELD is not "
				"wired\n",
			IOPGT_DEBUG);
		fail();
	}
	fprintf(stderr, "test_races: skipped: the library has no yield hooks "
			"(a release build, IOPGT_DEBUG=0)\n");
	skip();
}

/* After a scenario on configuration c: stop at the first configuration
 * that failed (the others fail alike), with the number of violations. */
#define SCENARIO_END(v)                                                     \
	do {                                                                \
		if (v) {                                                    \
			fprintf(stderr, "%lu violation(s)\n", (v));         \
			fail();                                             \
		}                                                           \
	} while (0)

/* Release the stopped thread c for good once the other thread o is done,
 * or as soon as o blocks (PT_Y_WAIT_FROZEN: it waits for what c holds
 * frozen); then wait for o. Returns o's final state. */
static void finish_with(struct sched_thread *o, struct sched_thread *c)
{
	enum sched_state st = sched_wait(o, SCHED_DONE | SCHED_BLOCKED);

	if (st == SCHED_BLOCKED) {
		sched_release(c);
		sched_join(c);
	}
	sched_join(o);
}

/* ------------------------------------------------------------------------
 * 1. Lost unmap
 *
 * A level-1 table T at B holds n0 - 1 level-1 leaves and, in its last
 * entry, a level-0 table holding all pages but the last, with output
 * addresses as if the whole of T's span were one level-2 leaf. Thread C
 * maps the last page: the leaf table coalesces into a level-1 leaf, T is
 * then full, and C freezes and rescans it: stop there (COALESCE_FROZEN for
 * level 1). Thread S unmaps the first page (a split of T's first leaf)
 * and syncs. C goes on. In 0.2.0 C replaced T by a level-2 leaf from its
 * scan: the first page is mapped again, and the split's table leaks. Now
 * S waits (PT_Y_WAIT_FROZEN) while T is frozen and then splits the
 * new level-2 leaf.
 */

struct coal {
	uint64_t B;  /* T's span: [B, B + s[2]) */
	struct rop c_op;
	struct sched_thread *C;
};

/* Set T up and start C with a stop at (point, level) on T's tables.
 * Returns 0 if C stopped there. */
static int coal_setup(struct sched *s, struct rdom *d, struct coal *k,
		      unsigned point, unsigned level)
{
	uint64_t s1 = d->s[1], s2 = d->s[2], B = 0;

	k->B = B;
	rmap(d, B, s2 - s1);                   /* n0 - 1 level-1 leaves */
	rmap(d, B + s2 - s1, s1 - d->page);    /* all pages but the last */
	k->c_op = rop(d, ROP_MAP, B + s2 - d->page, d->page);
	k->C = sched_thread(s, "C (map of the last page)", rop_run, &k->c_op);
	sched_stop_at(k->C, point, (int)level, level ? B : B + s2 - s1, 1);
	sched_start(k->C);
	if (sched_wait(k->C, SCHED_STOPPED | SCHED_DONE) != SCHED_STOPPED) {
		sched_violation(s, "C never reached %s for the level-%u table "
				   "(map returned %" PRId64 ")",
				sched_point_name(point), level, k->c_op.ret);
		return -1;
	}
	return 0;
}

static unsigned long lost_unmap_on(const struct tcfg *c)
{
	struct rdom d;
	struct sched *s;
	struct coal k;
	struct rop so;
	struct sched_thread *S;

	ropen(&d, c);
	if (d.n < 3)
		return rdrop(&d);
	s = sched_new(d.dom, "lost_unmap %s", c->name);
	if (coal_setup(s, &d, &k, PT_Y_COALESCE_FROZEN, 1) == 0) {
		so = rop(&d, ROP_UNMAP, k.B, d.page);
		S = sched_thread(s, "S (unmap of the first page)", rop_run, &so);
		sched_start(S);
		finish_with(S, k.C);
		sched_release(k.C);
		sched_join(k.C);
		if (so.ret != (int64_t)d.page)
			sched_violation(s, "S's unmap returned %" PRId64, so.ret);
		if (k.c_op.ret != 0)
			sched_violation(s, "C's map returned %" PRId64,
					k.c_op.ret);
		rexpect(s, &d, k.B, 0, 0,
			"the first page was unmapped (and synced) before C's "
			"coalesce completed: a lost unmap");
		rexpect(s, &d, k.B + d.page, 1, 0, "the second page");
		rexpect(s, &d, k.B + d.s[2] - d.page, 1, 0, "the last page");
	}
	return rclose(s, &d);
}

static void test_lost_unmap(void **state)
{
	(void)state;
	require_hooks();
	for (size_t i = 0; i < n_tcfgs; i++) {
		unsigned long v = lost_unmap_on(&tcfgs[i]);
		SCENARIO_END(v);
	}
}

/* ------------------------------------------------------------------------
 * 1b. Lost unmap without counts
 *
 * A domain created with NO_COUNTS clears a page with one store and no
 * section, so it meets a coalescer by a pair of fences instead (pt.h):
 * the clearer stores, fences and reads the table's F; the coalescer
 * freezes, fences and rescans. The leaf table L at 0 holds every page but
 * the last, with output addresses as if its span were one level-1 leaf.
 * Thread C maps the last page: L looks full, and C's coalesce stops at
 * `point` on L. Thread S unmaps L's first page and syncs; C goes on.
 *   COALESCE_FROZEN (C froze L and its rescan saw the page): S finds F
 *     set, waits (PT_Y_WAIT_FROZEN) until C has replaced L by a level-1
 *     leaf, and unmaps the page again from it. Without S's check, the
 *     superpage maps the page again after S's unmap returned: a lost
 *     unmap.
 *   COALESCE_SCANNED (C's first scan saw the page, C not yet frozen): S's
 *     clear goes through; C's rescan under the freeze finds the page gone
 *     and gives up.
 * Either way the first page ends unmapped, the others mapped.
 */
static unsigned long lost_unmap_uc_on(const struct tcfg *c, unsigned point)
{
	struct rdom d;
	struct sched *s;
	struct rop co, so;
	struct sched_thread *C, *S;

	ropen_opts(&d, c, 0, IOPGT_OPT_NO_COUNTS);
	if (d.n < 2)
		return rdrop(&d);
	s = sched_new(d.dom, "lost_unmap_uc %s %s", c->name,
		      sched_point_name(point));
	rmap(&d, 0, d.s[1] - d.page);
	co = rop(&d, ROP_MAP, d.s[1] - d.page, d.page);
	C = sched_thread(s, "C (map of the last page)", rop_run, &co);
	sched_stop_at(C, point, 0, 0, 1);
	sched_start(C);
	if (sched_wait(C, SCHED_STOPPED | SCHED_DONE) != SCHED_STOPPED) {
		sched_violation(s, "C never reached %s for the leaf table "
				   "(map returned %" PRId64 ")",
				sched_point_name(point), co.ret);
	} else {
		so = rop(&d, ROP_UNMAP, 0, d.page);
		S = sched_thread(s, "S (unmap of the first page)", rop_run,
				 &so);
		sched_start(S);
		finish_with(S, C);
		sched_release(C);
		sched_join(C);
		if (so.ret != (int64_t)d.page)
			sched_violation(s, "S's unmap returned %" PRId64,
					so.ret);
		if (co.ret != 0)
			sched_violation(s, "C's map returned %" PRId64, co.ret);
		rexpect(s, &d, 0, 0, 0,
			"the first page was unmapped (and synced) while C "
			"coalesced its table: a lost unmap");
		rexpect(s, &d, d.page, 1, 0, "the second page");
		rexpect(s, &d, d.s[1] - d.page, 1, 0, "the last page");
	}
	return rclose(s, &d);
}

static void test_lost_unmap_uncounted(void **state)
{
	(void)state;
	require_hooks();
	for (size_t i = 0; i < n_tcfgs; i++) {
		unsigned long v = lost_unmap_uc_on(&tcfgs[i],
						   PT_Y_COALESCE_FROZEN);
		SCENARIO_END(v);
		v = lost_unmap_uc_on(&tcfgs[i], PT_Y_COALESCE_SCANNED);
		SCENARIO_END(v);
	}
}

/* ------------------------------------------------------------------------
 * 1c. A map meets an unlink without counts
 *
 * A domain created with NO_COUNTS (and table_cache 0, so that an emptied
 * table is unlinked at once) fills a page with one store and no section,
 * and unlinks an emptied table after a freeze and a scan of it: the filler
 * stores, fences and reads the table's F; the unlinker freezes, fences and
 * scans (pt.h). The leaf table L at B (one leaf table's span) holds one
 * page, its first; a page of the leaf table at 0, under the same parent,
 * keeps the upper tables. Thread U unmaps L's page; thread M maps page 17
 * of L (outside the lines U's probe reads).
 *   UNLINK_FROZEN: U stops after its freeze and scan found L empty. M
 *     stores into L, finds F set and waits (PT_Y_WAIT_FROZEN); U unlinks
 *     L; M maps its page again, into a new table. Twin: with M's check
 *     broken on purpose (PT_HOOK_BREAK_FILL_CHECK), M's map returns 0 with
 *     its page in the unlinked L: "a lost map", which the check must
 *     report.
 *   FILL_STORED: M stops after its store, before its fence. U clears,
 *     probes, freezes, and its scan finds M's page: U gives up and
 *     unfreezes L; M finds F clear.
 *   CLEAR_PROBED: U stops after its probe read L empty, before its
 *     freeze; M maps its page (store, fence, F clear) and returns. Only
 *     U's scan under the freeze can see the page now, and it must
 *     (PT_Y_UNLINK_THAW). Twin: with the scan off
 *     (PT_HOOK_BREAK_UNLINK_SCAN), U trusts its probe and unlinks L with
 *     M's page in it: a lost map.
 * Either way M's page ends mapped, L's first page unmapped.
 */
static unsigned long map_unlink_uc_on(const struct tcfg *c, unsigned point,
				      unsigned hooks)
{
	struct rdom d;
	struct sched *s;
	struct rop uo, mo;
	struct sched_thread *U, *M;
	uint64_t B, P;

	ropen_opts(&d, c, 0, IOPGT_OPT_NO_COUNTS);
	if (d.levels < 2)
		return rdrop(&d);
	if (hooks)
		iopgt__set_test_hooks(d.dom, hooks);
	s = sched_new(d.dom, "map_unlink_uc %s %s%s", c->name,
		      sched_point_name(point),
		      hooks == PT_HOOK_BREAK_FILL_CHECK
			      ? " (broken twin: the filler's check off)"
		      : hooks ? " (broken twin: no scan under the freeze)"
			      : "");
	B = d.page * d.n0;
	P = B + 17 * d.page;
	rmap(&d, 0, d.page);
	rmap(&d, B, d.page);
	uo = rop(&d, ROP_UNMAP, B, d.page);
	mo = rop(&d, ROP_MAP, P, d.page);
	U = sched_thread(s, "U (unmap of L's only page)", rop_run, &uo);
	M = sched_thread(s, "M (map of L's page 17)", rop_run, &mo);
	if (point == PT_Y_UNLINK_FROZEN) {
		sched_stop_at(U, point, 0, B, 1);
		sched_start(U);
		if (sched_wait(U, SCHED_STOPPED | SCHED_DONE) !=
		    SCHED_STOPPED) {
			sched_violation(s, "U never froze L (unmap returned %"
					   PRId64 ")",
					uo.ret);
			sched_start(M);
			sched_join(M);
		} else {
			/* M blocks on the frozen L (or, in the twin, ends):
			 * then U goes on. */
			sched_start(M);
			sched_wait(M, SCHED_DONE | SCHED_BLOCKED);
			sched_release(U);
			sched_join(U);
			sched_join(M);
			/* U's WALK takes L for empty: M's leaf, stored into
			 * L after U's scan, may have been cached from L, and
			 * M reports it itself (PT(fill_lost)). */
			if (!hooks && !rop_covers(&mo, P, IOPGT_FLUSH_MODIFIED))
				sched_violation(s, "M's leaf stored into the "
						   "unlinked L is not in M's "
						   "gather");
		}
	} else if (point == PT_Y_CLEAR_PROBED) {
		sched_stop_at(U, point, 0, B, 1);
		sched_start(U);
		if (sched_wait(U, SCHED_STOPPED | SCHED_DONE) !=
		    SCHED_STOPPED) {
			sched_violation(s, "U never probed L empty (unmap "
					   "returned %" PRId64 ")",
					uo.ret);
			sched_start(M);
			sched_join(M);
		} else {
			/* M's store, fence and read of F all come before
			 * U's freeze: only U's scan can see M's page. */
			sched_start(M);
			if (sched_wait(M, SCHED_DONE | SCHED_BLOCKED) !=
			    SCHED_DONE)
				sched_violation(s, "M waited on L before U "
						   "froze it");
			sched_stop_at(U, PT_Y_UNLINK_THAW, 0, B, 1);
			sched_release(U);
			if (sched_wait(U, SCHED_STOPPED | SCHED_DONE) ==
			    SCHED_STOPPED)
				sched_release(U);
			else if (!hooks)
				sched_violation(s, "U's scan under the freeze "
						   "never found M's page");
			sched_join(U);
			sched_join(M);
		}
	} else {
		sched_stop_at(M, point, 0, B, 1);
		sched_start(M);
		if (sched_wait(M, SCHED_STOPPED | SCHED_DONE) !=
		    SCHED_STOPPED) {
			sched_violation(s, "M never reached %s (map returned %"
					   PRId64 ")",
					sched_point_name(point), mo.ret);
			sched_start(U);
			sched_join(U);
		} else {
			sched_start(U);
			finish_with(U, M);
			sched_release(M);
			sched_join(M);
		}
	}
	if (uo.ret != (int64_t)d.page)
		sched_violation(s, "U's unmap returned %" PRId64, uo.ret);
	if (mo.ret != 0)
		sched_violation(s, "M's map returned %" PRId64, mo.ret);
	rexpect(s, &d, P, 1, d.page,
		"M's map returned while U unlinked the table it stored "
		"into: a lost map");
	rexpect(s, &d, B, 0, 0, "L's first page, unmapped by U");
	rexpect(s, &d, 0, 1, d.page, "the page that keeps the upper tables");
	return rclose(s, &d);
}

static void test_map_unlink_uncounted(void **state)
{
	(void)state;
	require_hooks();
	for (size_t i = 0; i < n_tcfgs; i++) {
		unsigned long v = map_unlink_uc_on(&tcfgs[i],
						   PT_Y_UNLINK_FROZEN, 0);
		SCENARIO_END(v);
		v = map_unlink_uc_on(&tcfgs[i], PT_Y_FILL_STORED, 0);
		SCENARIO_END(v);
		v = map_unlink_uc_on(&tcfgs[i], PT_Y_CLEAR_PROBED, 0);
		SCENARIO_END(v);
		/* The twins: the same interleavings with the filler's check,
		 * or the unlinker's scan, broken must be caught. */
		v = map_unlink_uc_on(&tcfgs[i], PT_Y_UNLINK_FROZEN,
				     PT_HOOK_BREAK_FILL_CHECK);
		if (!v) {
			fprintf(stderr, "%s: the broken twin went unnoticed\n",
				tcfgs[i].name);
			fail();
		}
		v = map_unlink_uc_on(&tcfgs[i], PT_Y_CLEAR_PROBED,
				     PT_HOOK_BREAK_UNLINK_SCAN);
		if (!v) {
			fprintf(stderr, "%s: the broken twin (no scan) went "
					"unnoticed\n",
				tcfgs[i].name);
			fail();
		}
		fprintf(stderr, "%s: both broken twins were caught, as they "
				"must be\n",
			tcfgs[i].name);
	}
}

/* ------------------------------------------------------------------------
 * 1c'. Coalescing within a table without counts meets a clear
 *
 * A domain created with NO_COUNTS whose smallest pages pair up into a leaf
 * of two items (AMD v1's 8K, or any format with a leaf size of twice the
 * granule) coalesces within a table: a map whose page completes a
 * contiguous pair rewrites both entries as one leaf, with the table frozen
 * (PT(merge_spans)); a single page's clear takes no section: it
 * compare-and-swaps the entry, fences and reads the table's F. Page A
 * (entry 0 of the leaf table at B) is mapped; thread M maps page A + 1
 * page, with the output address that makes the pair contiguous, and stops
 * once it has frozen the table and read the pair contiguous, before the
 * rewrite (PT_Y_MERGE_SCANNED); thread U unmaps A. U's clear comes after
 * M's read, so M's rewrite maps A again: U finds F, and must wait for the
 * unfreeze (it cannot finish while M is stopped there), then find A
 * mapped again, and unmap it again from the root (splitting the pair).
 * Late: U stops after its clear, before it reads F (PT_Y_LEAF_CLEARED),
 * and M rewrites the pair and unfreezes the table meanwhile: U's read of
 * F misses the freeze altogether, and U must see A mapped again by the
 * entry alone, and unmap it again.
 * Twin, both ways: with U not looking again once the table is unfrozen
 * (PT_HOOK_BREAK_MERGE_RECHECK), U returns with A mapped by M's rewrite:
 * "a lost unmap", which the check must report.
 */
static unsigned long merge_clear_uc_on(const struct tcfg *c, unsigned hooks,
				       bool late)
{
	struct rdom d;
	struct sched *s;
	struct rop uo, mo;
	struct sched_thread *U, *M;
	uint64_t B;

	ropen_sizes(&d, c, 0, IOPGT_OPT_NO_COUNTS, TSIZES_ALL);
	if (!rpairs(&d))
		return rdrop(&d); /* no leaf of two pages */
	if (hooks)
		iopgt__set_test_hooks(d.dom, hooks);
	s = sched_new(d.dom, "merge_clear_uc%s %s%s", late ? " (late)" : "",
		      c->name,
		      hooks ? " (broken twin: the clear does not look again)"
			    : "");
	B = d.page * d.n0;
	rmap(&d, B, d.page);
	uo = rop(&d, ROP_UNMAP, B, d.page);
	mo = rop(&d, ROP_MAP, B + d.page, d.page);
	U = sched_thread(s, "U (unmap of page A)", rop_run, &uo);
	M = sched_thread(s, "M (map of A's pair)", rop_run, &mo);
	sched_stop_at(M, PT_Y_MERGE_SCANNED, 0, B, 1);
	if (late)
		sched_stop_at(U, PT_Y_LEAF_CLEARED, 0, B, 1);
	sched_start(M);
	if (sched_wait(M, SCHED_STOPPED | SCHED_DONE) != SCHED_STOPPED) {
		sched_violation(s, "M never saw the pair contiguous (map "
				   "returned %" PRId64 ")",
				mo.ret);
		sched_start(U);
		if (late && sched_wait(U, SCHED_STOPPED | SCHED_DONE) ==
				    SCHED_STOPPED)
			sched_release(U);
		sched_join(U);
	} else if (late) {
		sched_start(U);
		if (sched_wait(U, SCHED_STOPPED | SCHED_DONE) !=
		    SCHED_STOPPED) {
			sched_violation(s, "U never cleared A without a "
					   "section");
			sched_release(M);
			sched_join(M);
		} else {
			/* M rewrites the pair and unfreezes before U reads
			 * F. */
			sched_release(M);
			sched_join(M);
			sched_release(U);
		}
		sched_join(U);
	} else {
		sched_start(U);
		/* U waits for M's unfreeze: give it time to get there (it
		 * cannot get further). */
		for (int k = 0; k < 50 && sched_state(U) != SCHED_DONE; k++)
			usleep(2000);
		if (sched_state(U) == SCHED_DONE)
			sched_violation(s, "U's unmap finished while M held the "
					   "table frozen");
		sched_release(M);
		sched_join(M);
		sched_join(U);
	}
	if (uo.ret != (int64_t)d.page)
		sched_violation(s, "U's unmap returned %" PRId64, uo.ret);
	if (mo.ret != 0)
		sched_violation(s, "M's map returned %" PRId64, mo.ret);
	rexpect(s, &d, B, 0, 0,
		"U's unmap returned while M rewrote the pair with it: a lost "
		"unmap");
	rexpect(s, &d, B + d.page, 1, d.page, "M's page, alone again");
	return rclose(s, &d);
}

static void test_merge_clear_uncounted(void **state)
{
	unsigned ran = 0;

	(void)state;
	require_hooks();
	for (size_t i = 0; i < n_tcfgs; i++) {
		struct rdom d;
		unsigned long v;
		bool pairs;

		ropen_sizes(&d, &tcfgs[i], 0, IOPGT_OPT_NO_COUNTS,
			    TSIZES_ALL);
		pairs = rpairs(&d);
		rdrop(&d);
		if (!pairs)
			continue;
		for (int late = 0; late < 2; late++) {
			v = merge_clear_uc_on(&tcfgs[i], 0, late);
			SCENARIO_END(v);
			/* The twin: the same interleaving with a clear that
			 * does not look again after the unfreeze must be
			 * caught. */
			v = merge_clear_uc_on(&tcfgs[i],
					      PT_HOOK_BREAK_MERGE_RECHECK, late);
			if (!v) {
				fprintf(stderr,
					"%s%s: the broken twin went "
					"unnoticed\n",
					tcfgs[i].name, late ? " (late)" : "");
				fail();
			}
			fprintf(stderr,
				"%s%s: the broken twin was caught, as it must "
				"be\n",
				tcfgs[i].name, late ? " (late)" : "");
		}
		ran++;
	}
	if (!ran)
		skip(); /* no configuration with a leaf of two pages */
}

/* ------------------------------------------------------------------------
 * 1d. An unlink without counts meets a clear that empties its table
 *
 * NO_COUNTS, table_cache 0. The leaf table L at B (one leaf table's span)
 * holds its first page and the `vn` pages from page 17 on (outside the
 * lines the first page's probe reads); a page of the leaf table at 0 keeps
 * the upper tables. Thread U unmaps L's first page: its probe reads L
 * empty, it freezes L, its scan finds page 17, and it stops before it
 * unfreezes (PT_Y_UNLINK_THAW). Thread V unmaps the pages from 17 on
 * (vn = 1: the single-leaf path; 2: the general one).
 *   NO_COALESCE: V's probe reads L empty, but its freeze fails (U holds
 *     L), so it leaves L to U. U goes on: it unfreezes L, reads it again,
 *     finds it empty, freezes it again and unlinks it.
 *   coalescing: V's clear finds L frozen (it cannot tell an unlinker from
 *     a coalescer) and waits (PT_Y_WAIT_FROZEN); U goes on as above, or,
 *     with U's second reading off (PT_HOOK_BREAK_THAW_RETRY), gives up:
 *     V, once L is unfrozen, probes it and unlinks it.
 * Twins: with every way back off (U's second reading, and with coalescing
 * V's probe after its wait: PT_HOOK_BREAK_WAIT_PROBE), L stays linked,
 * empty, for good, which the check must report.
 */
static unsigned long unlink_thaw_uc_on(const struct tcfg *c, unsigned options,
				       unsigned hooks, unsigned vn, bool *ran)
{
	struct rdom d;
	struct sched *s;
	struct rop uo, vo;
	struct rtable f;
	struct sched_thread *U, *V;
	const bool coalescing = !(options & IOPGT_OPT_NO_COALESCE);
	enum sched_state vst;
	uint64_t B, P;

	ropen_opts(&d, c, 0, options);
	*ran = d.levels >= 2;
	if (!*ran)
		return rdrop(&d);
	if (hooks)
		iopgt__set_test_hooks(d.dom, hooks);
	s = sched_new(d.dom, "unlink_thaw_uc %s %s, V unmaps %u page(s)%s",
		      c->name, coalescing ? "coalescing" : "NO_COALESCE", vn,
		      hooks ? " (with ways back broken on purpose)" : "");
	B = d.page * d.n0;
	P = B + 17 * d.page;
	rmap(&d, 0, d.page);
	rmap(&d, B, d.page);
	rmap(&d, P, vn * d.page);
	uo = rop(&d, ROP_UNMAP, B, d.page);
	vo = rop(&d, ROP_UNMAP, P, vn * d.page);
	U = sched_thread(s, "U (unmap of L's first page)", rop_run, &uo);
	V = sched_thread(s, "V (unmap from page 17)", rop_run, &vo);
	sched_stop_at(U, PT_Y_UNLINK_THAW, 0, B, 1);
	sched_start(U);
	if (sched_wait(U, SCHED_STOPPED | SCHED_DONE) != SCHED_STOPPED) {
		sched_violation(s, "U's scan never found page 17 under its "
				   "freeze (unmap returned %" PRId64 ")",
				uo.ret);
		sched_start(V);
	} else {
		sched_start(V);
		vst = sched_wait(V, SCHED_DONE | SCHED_BLOCKED);
		if (coalescing && vst != SCHED_BLOCKED)
			sched_violation(s, "V's clear never found L frozen");
		sched_release(U);
	}
	sched_join(U);
	sched_join(V);
	if (uo.ret != (int64_t)d.page)
		sched_violation(s, "U's unmap returned %" PRId64, uo.ret);
	if (vo.ret != (int64_t)(vn * d.page))
		sched_violation(s, "V's unmap returned %" PRId64, vo.ret);
	if (rfind(&d, 0, B, &f))
		sched_violation(s, "L (pa 0x%" PRIx64 ") is still linked, "
				   "with %u entries in use, after all its "
				   "pages were unmapped: an emptied table "
				   "kept for good",
				f.pa, f.used);
	rexpect(s, &d, B, 0, 0, "L's first page, unmapped by U");
	rexpect(s, &d, P, 0, 0, "page 17, unmapped by V");
	rexpect(s, &d, 0, 1, d.page, "the page that keeps the upper tables");
	return rclose(s, &d);
}

static void test_unlink_thaw_uncounted(void **state)
{
	static const struct {
		unsigned options, hooks;
		bool twin;
	} v[] = {
		{ IOPGT_OPT_NO_COUNTS | IOPGT_OPT_NO_COALESCE, 0, false },
		{ IOPGT_OPT_NO_COUNTS, 0, false },
		{ IOPGT_OPT_NO_COUNTS, PT_HOOK_BREAK_THAW_RETRY, false },
		{ IOPGT_OPT_NO_COUNTS | IOPGT_OPT_NO_COALESCE,
		  PT_HOOK_BREAK_THAW_RETRY, true },
		{ IOPGT_OPT_NO_COUNTS,
		  PT_HOOK_BREAK_THAW_RETRY | PT_HOOK_BREAK_WAIT_PROBE, true },
	};

	unsigned twins = 0;

	(void)state;
	require_hooks();
	for (size_t i = 0; i < n_tcfgs; i++) {
		for (size_t k = 0; k < sizeof(v) / sizeof(v[0]); k++) {
			for (unsigned vn = 1; vn <= 2; vn++) {
				bool ran;
				unsigned long n = unlink_thaw_uc_on(
					&tcfgs[i], v[k].options, v[k].hooks,
					vn, &ran);

				if (!v[k].twin) {
					SCENARIO_END(n);
					continue;
				}
				if (!ran)
					continue;
				twins++;
				if (!n) {
					fprintf(stderr,
						"%s: broken twin %zu, %u "
						"page(s), went unnoticed\n",
						tcfgs[i].name, k, vn);
					fail();
				}
			}
		}
	}
	fprintf(stderr, "%u broken twins were caught, as they must be\n",
		twins);
	assert_true(twins > 0);
}

/* ------------------------------------------------------------------------
 * 1e. A map without counts, redone, finds its own leaf
 *
 * NO_COUNTS (which coalesces and reclaims), table_cache 0. The leaf table
 * L at 0 holds every page but its last three, W, X and Y, with output
 * addresses as if its span were one level-1 leaf. Thread M maps Y (pages
 * = 1: the single-page path) or X and Y (pages = 2: the general one, a
 * run of two) and stops after its stores, before its fence
 * (PT_Y_FILL_STORED). Thread A maps the rest (W, or W and X): L is full,
 * and A coalesces it into a level-1 leaf (its rescan under the freeze
 * reads M's pages). Thread S unmaps page 0, which splits that leaf into a
 * new table L'. M goes on: L is frozen for good (replaced) and its parent
 * entry names L', so M maps its pages again from the root, and finds its
 * own leaves there: M's map succeeded. Twin: with the redo's check of its
 * own leaf off (PT_HOOK_BREAK_OWN_LEAF), M returns -EEXIST for pages it
 * mapped, which the check must report.
 */
static unsigned long map_redo_own_uc_on(const struct tcfg *c, unsigned pages,
					bool broken, bool *ran)
{
	struct rdom d;
	struct sched *s;
	struct rop mo;
	struct sched_thread *M;
	uint64_t W, Mi;
	int64_t r;

	ropen_opts(&d, c, 0, IOPGT_OPT_NO_COUNTS);
	*ran = d.n >= 2;
	if (!*ran)
		return rdrop(&d);
	if (broken)
		iopgt__set_test_hooks(d.dom, PT_HOOK_BREAK_OWN_LEAF);
	s = sched_new(d.dom, "map_redo_own_uc %s, M maps %u page(s)%s",
		      c->name, pages,
		      broken ? " (broken twin: own leaf not recognised)" : "");
	W = d.s[1] - 3 * d.page;
	Mi = d.s[1] - pages * d.page;
	rmap(&d, 0, W);
	mo = rop(&d, ROP_MAP, Mi, pages * d.page);
	M = sched_thread(s, "M (map of the last pages)", rop_run, &mo);
	sched_stop_at(M, PT_Y_FILL_STORED, 0, 0, 1);
	sched_start(M);
	if (sched_wait(M, SCHED_STOPPED | SCHED_DONE) != SCHED_STOPPED) {
		sched_violation(s, "M never stored its pages (map returned %"
				   PRId64 ")",
				mo.ret);
	} else {
		r = rcall(s, &d, ROP_MAP, W, Mi - W, NULL);
		if (r)
			sched_violation(s, "A's map returned %" PRId64, r);
		rexpect(s, &d, W, 1, d.s[1],
			"A's map filled L, which it coalesced");
		r = rcall(s, &d, ROP_UNMAP, 0, d.page, NULL);
		if (r != (int64_t)d.page)
			sched_violation(s, "S's unmap returned %" PRId64, r);
		sched_release(M);
	}
	sched_join(M);
	if (mo.ret != 0)
		sched_violation(s, "M's map returned %" PRId64 " for pages "
				   "that it mapped (a coalesce took them, a "
				   "split kept them)",
				mo.ret);
	for (uint64_t p = W; p < d.s[1]; p += d.page)
		rexpect(s, &d, p, 1, d.page, "one of the last three pages");
	rexpect(s, &d, 0, 0, 0, "page 0, unmapped by S");
	rexpect(s, &d, d.page, 1, d.page, "page 1");
	return rclose(s, &d);
}

static void test_map_redo_own_uncounted(void **state)
{
	unsigned twins = 0;

	(void)state;
	require_hooks();
	for (size_t i = 0; i < n_tcfgs; i++) {
		for (unsigned pages = 1; pages <= 2; pages++) {
			bool ran;
			unsigned long v = map_redo_own_uc_on(&tcfgs[i], pages,
							     false, &ran);

			SCENARIO_END(v);
			if (!ran)
				continue;
			v = map_redo_own_uc_on(&tcfgs[i], pages, true, &ran);
			if (!v) {
				fprintf(stderr, "%s, %u page(s): the broken "
						"twin went unnoticed\n",
					tcfgs[i].name, pages);
				fail();
			}
			twins++;
		}
	}
	fprintf(stderr, "%u broken twins were caught, as they must be\n",
		twins);
	assert_true(twins > 0);
}

/* ------------------------------------------------------------------------
 * 1f. An unmap of one superpage meets an overlapping caller's split
 *
 * A level-1 leaf at B (entry 2 of the first level-1 table); a page at 0
 * keeps the upper tables. Thread A unmaps [B, B + s1): its walk reads the
 * leaf, and it stops before the clear (PT_Y_LEAF_READ). Thread S unmaps
 * B's first page (a caller bug: the two ranges overlap): it splits the
 * leaf into a level-0 table T and clears the page. A goes on: inside the
 * section it finds a table entry where its walk read the leaf, and its
 * general path unmaps what T holds (s1 - page bytes), which empties T and
 * unlinks it. A clear that stored over the table entry instead cut T
 * loose: A's unmap returned s1, T stayed allocated and out of the tree
 * (rclose: two table pages left), and a writer still inside T waited for
 * good on the level-1 table once that was unlinked (seen as a hang of the
 * overlapping writers' stress test).
 * Run with counts, and without them where the level-1 leaves are cleared
 * inside the section too (levels with leaf spans, all sizes allowed;
 * elsewhere a compare-and-swap of the leaf is the clear, and A does not
 * stop). Twin: PT_HOOK_BREAK_LEAF_CLEAR must be caught.
 */
static unsigned long leaf_clear_on(const struct tcfg *c, unsigned options,
				   unsigned hooks, bool *ran)
{
	struct rdom d;
	struct sched *s;
	struct rop ao, so;
	struct sched_thread *A, *S;
	uint64_t B, s1;

	ropen_sizes(&d, c, 0, options,
		    options & IOPGT_OPT_COUNTS ? 0 : TSIZES_ALL);
	*ran = false;
	if (d.n < 2 || d.levels < 3)
		return rdrop(&d);
	s1 = d.s[1];
	B = 2 * s1;
	if (hooks)
		iopgt__set_test_hooks(d.dom, hooks);
	s = sched_new(d.dom, "leaf_clear %s%s%s", c->name,
		      options & IOPGT_OPT_COUNTS ? "" : " without counts",
		      hooks ? " (the table check broken on purpose)" : "");
	rmap(&d, 0, d.page);
	rmap(&d, B, s1);
	ao = rop(&d, ROP_UNMAP, B, s1);
	A = sched_thread(s, "A (unmap of the level-1 leaf)", rop_run, &ao);
	sched_stop_at(A, PT_Y_LEAF_READ, 1, SCHED_ANY_IOVA, 1);
	sched_start(A);
	if (sched_wait(A, SCHED_STOPPED | SCHED_DONE) != SCHED_STOPPED) {
		/* Without counts, a level whose leaves are cleared by a
		 * compare-and-swap, outside the section: not this race. */
		if (options & IOPGT_OPT_COUNTS)
			sched_violation(s, "A never reached PT_Y_LEAF_READ "
					   "(unmap returned %" PRId64 ")",
					ao.ret);
		sched_join(A);
		return rclose(s, &d);
	}
	*ran = true;
	so = rop(&d, ROP_UNMAP, B, d.page);
	S = sched_thread(s, "S (unmap of the leaf's first page)", rop_run,
			 &so);
	sched_start(S);
	finish_with(S, A);
	sched_release(A);
	sched_join(A);
	if (so.ret != (int64_t)d.page)
		sched_violation(s, "S's unmap returned %" PRId64, so.ret);
	if (ao.ret != (int64_t)(s1 - d.page))
		sched_violation(s, "A's unmap returned %" PRId64 ", expected "
				   "0x%" PRIx64 " (the leaf but the page S "
				   "unmapped first)",
				ao.ret, s1 - d.page);
	rexpect(s, &d, B, 0, 0, "the leaf's first page, unmapped by S");
	rexpect(s, &d, B + d.page, 0, 0, "the leaf's second page, by A");
	rexpect(s, &d, B + s1 - d.page, 0, 0, "the leaf's last page, by A");
	rexpect(s, &d, 0, 1, d.page, "the page that keeps the upper tables");
	return rclose(s, &d);
}

static void test_leaf_clear_table(void **state)
{
	static const unsigned opts[] = { IOPGT_OPT_COUNTS,
					 IOPGT_OPT_NO_COUNTS };
	unsigned ran[2] = { 0, 0 };

	(void)state;
	require_hooks();
	for (unsigned o = 0; o < 2; o++) {
		for (size_t i = 0; i < n_tcfgs; i++) {
			unsigned long v;
			bool r;

			v = leaf_clear_on(&tcfgs[i], opts[o], 0, &r);
			SCENARIO_END(v);
			if (!r)
				continue;
			v = leaf_clear_on(&tcfgs[i], opts[o],
					  PT_HOOK_BREAK_LEAF_CLEAR, &r);
			if (!v) {
				fprintf(stderr, "%s: the broken twin went "
						"unnoticed\n",
					tcfgs[i].name);
				fail();
			}
			ran[o]++;
		}
	}
	fprintf(stderr, "leaf_clear: %u configurations with counts, %u "
			"without; each broken twin was caught, as it must "
			"be\n",
		ran[0], ran[1]);
	assert_true(ran[0] > 0);
}

/* ------------------------------------------------------------------------
 * 2. An entry naming a freed table
 *
 * T as in 1. C stops before the freeze (COALESCE_SCANNED for level 1).
 * S unmaps [page, s1) (splitting T's first leaf into a leaf table N that
 * keeps page 0), then [0, page), which empties N: N is unlinked and freed
 * after S's sync. C goes on. Every later lookup, map and unmap in [0, s1)
 * must complete (each runs on a watchdog thread) and give the right
 * answer; nothing may touch N's freed page.
 *
 * The interleaving as stated leaves the 0.2.0 engine correct (S's unlink
 * drops T's count, and C's freeze fails). The defect it aims at needs S's
 * unlink of N to run while T is frozen by C: variant "trap" stops C inside
 * its rescan of the frozen T (a trap on T's page: no yield point lies
 * between a freeze and a failed rescan) and runs S's second unmap there;
 * in 0.2.0 the unlink's clear of T's entry is refused and ignored, N is
 * freed, and T's entry keeps naming it once C restores T. Variant "frozen"
 * stops C after its rescan succeeded (COALESCE_FROZEN), with the same S.
 * Now S waits for the frozen T (PT_Y_WAIT_FROZEN) in both, and C is let
 * go on.
 */

enum fe_variant { FE_SCANNED, FE_TRAP, FE_FROZEN };
static const char *const fe_names[] = { "scanned", "trap", "frozen" };

static unsigned long freed_entry_on(const struct tcfg *c, enum fe_variant v)
{
	struct rdom d;
	struct sched *s;
	struct coal k;
	struct rop s1op, s2op;
	struct sched_thread *S1, *S2;
	struct rtable T;
	uint64_t s1;

	ropen(&d, c);
	if (d.n < 3)
		return rdrop(&d);
	s1 = d.s[1];
	s = sched_new(d.dom, "freed_entry/%s %s", fe_names[v], c->name);
	if (coal_setup(s, &d, &k,
		       v == FE_FROZEN ? PT_Y_COALESCE_FROZEN
				      : PT_Y_COALESCE_SCANNED,
		       1))
		goto out;
	assert_true(rfind(&d, 1, k.B, &T));

	s1op = rop(&d, ROP_UNMAP, k.B + d.page, s1 - d.page);
	S1 = sched_thread(s, "S (unmap [page, s1))", rop_run, &s1op);
	sched_start(S1);
	finish_with(S1, k.C);

	s2op = rop(&d, ROP_UNMAP, k.B, d.page);
	S2 = sched_thread(s, "S (unmap [0, page))", rop_run, &s2op);
	if (v == FE_TRAP) {
		/* C freezes T and is stopped in its rescan. */
		sched_trap_arm(s, T.va, T.bytes);
		sched_release(k.C);
		if (sched_wait(k.C, SCHED_STOPPED | SCHED_DONE) !=
		    SCHED_STOPPED)
			sched_note(s, "C did not touch T after SCANNED");
		sched_trap_disarm(s); /* C, if trapped, stays stopped */
	}
	sched_start(S2);
	finish_with(S2, k.C);
	sched_release(k.C);
	sched_join(k.C);

	if (s1op.ret != (int64_t)(s1 - d.page))
		sched_violation(s, "S's unmap of [page, s1) returned %" PRId64,
				s1op.ret);
	if (s2op.ret != (int64_t)d.page)
		sched_violation(s, "S's unmap of [0, page) returned %" PRId64,
				s2op.ret);
	/* Later calls in [0, s1) complete, with the right answers. */
	rexpect(s, &d, k.B, 0, 0, "unmapped by S");
	rexpect(s, &d, k.B + d.page, 0, 0, "unmapped by S");
	rexpect(s, &d, k.B + s1 - d.page, 0, 0, "unmapped by S");
	rexpect(s, &d, k.B + s1, 1, 0, "never unmapped");
	if (rcall(s, &d, ROP_MAP, k.B + 3 * d.page, d.page, NULL) != 0)
		sched_violation(s, "a later map of one page in [0, s1) failed");
	rexpect(s, &d, k.B + 3 * d.page, 1, d.page, "mapped again");
	if (rcall(s, &d, ROP_UNMAP, k.B, s1, NULL) != (int64_t)d.page)
		sched_violation(s, "a later unmap of [0, s1) did not unmap the "
				   "one page mapped there");
	if (rcall(s, &d, ROP_MAP, k.B, s1, NULL) != 0)
		sched_violation(s, "a later map of [0, s1) as one leaf failed");
	/* A leaf of at least s1: T, full again, may coalesce further. */
	rexpect(s, &d, k.B + d.page, 1, 0, "mapped again");
out:
	return rclose(s, &d);
}

static void freed_entry(enum fe_variant v)
{
	require_hooks();
	for (size_t i = 0; i < n_tcfgs; i++) {
		unsigned long n = freed_entry_on(&tcfgs[i], v);
		SCENARIO_END(n);
	}
}

static void test_freed_entry(void **state)
{
	(void)state;
	freed_entry(FE_SCANNED);
}

static void test_freed_entry_trap(void **state)
{
	(void)state;
	freed_entry(FE_TRAP);
}

static void test_freed_entry_frozen(void **state)
{
	(void)state;
	freed_entry(FE_FROZEN);
}

/* ------------------------------------------------------------------------
 * 3. Count clobbered
 *
 * A leaf table L at B holds every page but the last. C maps the last page
 * and stops before the freeze (COALESCE_SCANNED for level 0). U unmaps
 * pages a and b (L holds n0 - 2). F maps [a, a + 2 pages), which overlaps
 * the mapped page a + 1: F's fill reserves 2 (L's count is n0, "full")
 * and stops (FILL_RESERVED) before its stores. C goes on: in 0.2.0 it
 * freezes L at n0 and is stopped inside its rescan (a trap on L's page).
 * F goes on: it fills a, finds a + 1 taken and gives one back into the
 * frozen count; it then waits for L. C's rescan fails (b is empty) and
 * restores the count with a plain store of n0, overwriting F's give-back:
 * one more than the entries, for good. F fails with -EEXIST and rolls back.
 * Must hold: the counts match; once everything in L is unmapped L is
 * reclaimed (the root alone in the stats) and a later level-1 map over
 * L's span succeeds. Now C cannot freeze L while F is inside its open
 * section, so C never reaches the trap.
 */

static unsigned long count_clobber_on(const struct tcfg *c)
{
	struct rdom d;
	struct sched *s;
	struct rop cop, fop;
	struct sched_thread *C, *F;
	struct rtable L;
	uint64_t B, s1, a, b;
	enum sched_state st;
	unsigned bad;

	ropen(&d, c);
	s1 = d.s[1];
	B = s1 * 3;
	a = B + 10 * d.page;
	b = B + 20 * d.page;
	s = sched_new(d.dom, "count_clobber %s", c->name);
	rmap(&d, B, s1 - d.page);
	cop = rop(&d, ROP_MAP, B + s1 - d.page, d.page);
	C = sched_thread(s, "C (map of the last page)", rop_run, &cop);
	sched_stop_at(C, PT_Y_COALESCE_SCANNED, 0, B, 1);
	sched_start(C);
	if (sched_wait(C, SCHED_STOPPED | SCHED_DONE) != SCHED_STOPPED) {
		sched_violation(s, "C never reached PT_Y_COALESCE_SCANNED for "
				   "the leaf table");
		goto out;
	}
	assert_true(rfind(&d, 0, B, &L));
	if (rcall(s, &d, ROP_UNMAP, a, d.page, NULL) != (int64_t)d.page ||
	    rcall(s, &d, ROP_UNMAP, b, d.page, NULL) != (int64_t)d.page)
		sched_violation(s, "U's unmaps failed");

	fop = rop(&d, ROP_MAP, a, 2 * d.page);
	F = sched_thread(s, "F (map of [a, a + 2 pages))", rop_run, &fop);
	sched_stop_at(F, PT_Y_FILL_RESERVED, 0, B, 1);
	sched_start(F);
	if (sched_wait(F, SCHED_STOPPED | SCHED_DONE | SCHED_BLOCKED) !=
	    SCHED_STOPPED)
		sched_violation(s, "F never reached PT_Y_FILL_RESERVED");

	sched_trap_arm(s, L.va, L.bytes);
	sched_release(C);
	st = sched_wait(C, SCHED_STOPPED | SCHED_DONE);
	sched_trap_disarm(s); /* C, if trapped, stays stopped */
	sched_release(F);
	if (st == SCHED_STOPPED)
		finish_with(F, C);
	sched_join(F);
	sched_release(C);
	sched_join(C);

	if (cop.ret != 0)
		sched_violation(s, "C's map returned %" PRId64, cop.ret);
	if (fop.ret != -EEXIST)
		sched_violation(s, "F's map returned %" PRId64
				   ", expected -EEXIST",
				fop.ret);
	bad = tcheck_counts(d.dom);
	if (bad)
		sched_violation(s, "%u table count(s) differ from the entries "
				   "after C's failed coalesce and F's give-back",
				bad);
	rexpect(s, &d, a, 0, 0, "F's map failed");
	rexpect(s, &d, a + d.page, 1, 0, "mapped before");
	rexpect(s, &d, b, 0, 0, "unmapped by U");
	/* Everything in L unmapped: L must be reclaimed. */
	rcall(s, &d, ROP_UNMAP, B, s1, NULL);
	rcall(s, &d, ROP_RECLAIM, 0, 0, NULL);
	{
		struct iopgt_stats st2;
		iopgt_get_stats(d.dom, &st2, sizeof(st2));
		if (st2.table_pages_live != 1)
			sched_violation(s, "after unmapping all of L's span: "
					   "%" PRIu64 " table pages live, "
					   "expected the root alone",
					st2.table_pages_live);
	}
	if (rcall(s, &d, ROP_MAP, B, s1, NULL) != 0)
		sched_violation(s, "a later map of one level-1 leaf over L's "
				   "span failed");
	rexpect(s, &d, B + d.page, 1, s1, "mapped as one leaf");
out:
	return rclose(s, &d);
}

static void test_count_clobber(void **state)
{
	(void)state;
	require_hooks();
	for (size_t i = 0; i < n_tcfgs; i++) {
		unsigned long v = count_clobber_on(&tcfgs[i]);
		SCENARIO_END(v);
	}
}

/* ------------------------------------------------------------------------
 * 4. Epoch use-after-free
 *
 * W, a lookup of a page in leaf table X, reads the epoch E and stops
 * before its increment (ENTER_EPOCH_READ). H, a lookup held inside the
 * root, is counted while main unmaps a page in leaf table Y and syncs: Y
 * waits, and the epoch advances to E + 1. H leaves. A (iopgt_reclaim)
 * reads the counter of E's parity, zero, and stops before its CAS
 * (ADVANCE_CHECKED). W goes on: in 0.2.0 it counts itself under E's parity
 * and walks into X, where it is held (walk hook). Main unmaps X's page and
 * syncs: X waits, tagged E + 1. A goes on: its CAS (from a stale check)
 * and the next advance take the epoch to E + 3, and X is freed while W is
 * inside it. Must hold: X is not freed while W is inside (table_free
 * callback, stats), W reads no freed page, and X is freed once W left.
 */

struct epoch_ctx {
	struct sched *s;
	uint64_t x_pa;
	struct sched_thread *W;
	_Atomic int w_inside;
	_Atomic int x_freed_inside;
};

static void epoch_on_free(void *arg, uint64_t pa)
{
	struct epoch_ctx *e = arg;

	if (pa == e->x_pa && atomic_load(&e->w_inside))
		atomic_store(&e->x_freed_inside, 1);
}

static unsigned long epoch_uaf_on(const struct tcfg *c)
{
	struct rdom d;
	struct epoch_ctx e;
	struct rop wop, hop, aop;
	struct sched_thread *H, *A;
	struct rtable X;
	struct iopgt_stats st;
	uint64_t s1, by, bx;

	ropen(&d, c);
	memset(&e, 0, sizeof(e));
	s1 = d.s[1];
	by = s1 + 3 * d.page;
	bx = 3 * s1 + 7 * d.page;
	e.s = sched_new(d.dom, "epoch_uaf %s", c->name);
	rmap(&d, by, d.page);
	rmap(&d, bx, d.page);
	assert_true(rfind(&d, 0, bx, &X));
	e.x_pa = X.pa;
	smem_on_free(d.m, epoch_on_free, &e);

	wop = rop(&d, ROP_LOOKUP, bx, 0);
	e.W = sched_thread(e.s, "W (lookup in X)", rop_run, &wop);
	sched_stop_at(e.W, PT_Y_ENTER_EPOCH_READ, SCHED_ANY_LEVEL,
		      SCHED_ANY_IOVA, 1);
	sched_stop_in_table(e.W, X.pa, 1);
	sched_start(e.W);
	if (sched_wait(e.W, SCHED_STOPPED | SCHED_DONE) != SCHED_STOPPED) {
		sched_violation(e.s, "W never reached PT_Y_ENTER_EPOCH_READ");
		goto out;
	}
	hop = rop(&d, ROP_LOOKUP, by, 0);
	H = sched_thread(e.s, "H (lookup held in the root)", rop_run, &hop);
	sched_stop_in_table(H, d.root_pa, 1);
	sched_start(H);
	if (sched_wait(H, SCHED_STOPPED | SCHED_DONE) != SCHED_STOPPED)
		sched_violation(e.s, "H never entered the root");
	/* Y retires while H is counted: it waits, the epoch advances. */
	if (rcall(e.s, &d, ROP_UNMAP, by, d.page, NULL) != (int64_t)d.page)
		sched_violation(e.s, "unmap of Y's page failed");
	sched_release(H);
	sched_join(H);

	aop = rop(&d, ROP_RECLAIM, 0, 0);
	A = sched_thread(e.s, "A (iopgt_reclaim)", rop_run, &aop);
	sched_stop_at(A, PT_Y_ADVANCE_CHECKED, SCHED_ANY_LEVEL, SCHED_ANY_IOVA,
		      1);
	sched_start(A);
	if (sched_wait(A, SCHED_STOPPED | SCHED_DONE) != SCHED_STOPPED)
		sched_violation(e.s, "A never reached PT_Y_ADVANCE_CHECKED");

	sched_release(e.W);
	if (sched_wait(e.W, SCHED_STOPPED | SCHED_DONE) != SCHED_STOPPED) {
		sched_violation(e.s, "W never entered X");
	} else {
		atomic_store(&e.w_inside, 1);
		/* X retires while W is inside it. */
		if (rcall(e.s, &d, ROP_UNMAP, bx, d.page, NULL) !=
		    (int64_t)d.page)
			sched_violation(e.s, "unmap of X's page failed");
		if (smem_is_freed(d.m, X.pa))
			sched_violation(e.s, "X freed by the unmapping sync "
					   "while W is inside it");
	}
	sched_release(A);
	sched_join(A);
	iopgt_get_stats(d.dom, &st, sizeof(st));
	if (atomic_load(&e.x_freed_inside) || smem_is_freed(d.m, X.pa))
		sched_violation(e.s, "X (leaf table, pa 0x%" PRIx64 ") was "
				   "freed while walker W was inside it (W "
				   "read the epoch before an advance and "
				   "counted itself under the old parity; the "
				   "advancer's CAS came from a check made "
				   "before W's increment); %" PRIu64
				   " pages waiting",
				X.pa, st.table_pages_waiting);
	else if (!st.table_pages_waiting)
		sched_violation(e.s, "X is neither freed nor waiting");
	atomic_store(&e.w_inside, 0);
	sched_release(e.W);
	sched_join(e.W);
	if (wop.ret != -ENOENT &&
	    !(wop.ret == 0 && wop.tr.pa == rpa(&d, bx)))
		sched_violation(e.s, "W's lookup returned %" PRId64 " pa 0x%" PRIx64
				     ": neither the old translation nor -ENOENT",
				wop.ret, wop.tr.pa);
	/* W has left: X goes at the next reclaim. */
	rcall(e.s, &d, ROP_RECLAIM, 0, 0, NULL);
	if (!smem_is_freed(d.m, X.pa))
		sched_violation(e.s, "X not freed once the walker left");
out:
	smem_on_free(d.m, NULL, NULL);
	return rclose(e.s, &d);
}

static void test_epoch_uaf(void **state)
{
	(void)state;
	require_hooks();
	for (size_t i = 0; i < n_tcfgs; i++) {
		unsigned long v = epoch_uaf_on(&tcfgs[i]);
		SCENARIO_END(v);
	}
}

/* ------------------------------------------------------------------------
 * 4b. A hot path's walker that enters across an advance
 *
 * The single-page paths enter the epoch by trying (pt_walk_try_epoch): a
 * walker that finds the epoch advanced between its read and its increment
 * takes its count back and starts over on the general path. The default
 * domain (no counts: the hot paths), with no walk hook (which would send
 * every call to the general paths), and gathers bound before the call (so
 * that it takes the domain's own entry point, iopgt_domain.hot). W, a
 * single-page map, unmap or lookup in leaf table X, reads the epoch E and
 * stops before its increment (ENTER_EPOCH_READ). H, a map of a page in
 * leaf table Z, stops after its store (FILL_STORED), counted under E's
 * parity, while main unmaps the one page of leaf table Y and syncs: Y
 * waits, and the epoch advances once, to E + 1 (H holds back the next).
 * H finishes; W goes on. Must hold: wherever W stops inside its walker
 * section (the map after its store, the unmap once its clear left X
 * looking empty), it is counted under the parity of E + 1 and not of E
 * (under E's, an advancer that checked that parity before W's increment
 * could free X while W is in it, as in scenario 4); W's call does what it
 * should; once every call returned, no walker is counted. The lookup has
 * no stop inside its section: its run checks the start over alone, and
 * has no twin.
 */

static long walkers_under(struct iopgt_domain *dom, unsigned p)
{
	long n = 0;

	for (unsigned i = 0; i < PT_SHARDS; i++)
		n += atomic_load(&dom->shards[i].walkers[p]);
	return n;
}

static unsigned long epoch_try_on(const struct tcfg *c, enum rop_kind kind,
				  unsigned hooks, bool *ran)
{
	static const char *const names[] = { "map", "unmap", "lookup" };
	struct rdom d;
	struct sched *s;
	struct rop wop, hop;
	struct sched_thread *W, *H;
	uint64_t s1, by, bx, bz, wi, e0, e1;

	ropen_opts(&d, c, 0, 0);
	*ran = false;
	if (d.dom->top.other)
		return rdrop(&d); /* no hot path (a domain that grows) */
	*ran = true;
	iopgt__set_test_hooks(d.dom, hooks);
	s1 = d.s[1];
	by = s1 + 3 * d.page;
	bx = 3 * s1 + 7 * d.page;
	bz = 5 * s1 + 2 * d.page;
	rmap(&d, by, d.page);
	rmap(&d, bx, d.page);
	rmap(&d, bz, d.page);
	s = sched_new(d.dom, "epoch_try %s %s%s", c->name, names[kind],
		      hooks ? " (broken twin: the try goes on)" : "");
	iopgt__set_walk_hook(d.dom, NULL, NULL); /* the hot paths */

	/* W maps X's second page, unmaps its one page, or looks it up. */
	wi = kind == ROP_MAP ? bx + d.page : bx;
	wop = rop(&d, kind, wi, kind == ROP_LOOKUP ? 0 : d.page);
	wop.bind = 1;
	W = sched_thread(s, "W (in X)", rop_run, &wop);
	sched_stop_at(W, PT_Y_ENTER_EPOCH_READ, SCHED_ANY_LEVEL,
		      SCHED_ANY_IOVA, 1);
	sched_stop_at(W, kind == ROP_MAP ? PT_Y_FILL_STORED : PT_Y_CLEAR_PROBED,
		      SCHED_ANY_LEVEL, SCHED_ANY_IOVA, 1);
	sched_start(W);
	if (sched_wait(W, SCHED_STOPPED | SCHED_DONE) != SCHED_STOPPED) {
		sched_violation(s, "W never reached PT_Y_ENTER_EPOCH_READ");
		goto out;
	}
	e0 = atomic_load(&d.dom->epoch);
	hop = rop(&d, ROP_MAP, bz + d.page, d.page);
	hop.sync = 0; /* (a sync would reclaim Y, advancing the epoch) */
	hop.bind = 1;
	H = sched_thread(s, "H (map in Z)", rop_run, &hop);
	sched_stop_at(H, PT_Y_FILL_STORED, SCHED_ANY_LEVEL, SCHED_ANY_IOVA,
		      1);
	sched_start(H);
	if (sched_wait(H, SCHED_STOPPED | SCHED_DONE) != SCHED_STOPPED)
		sched_violation(s, "H never reached PT_Y_FILL_STORED");
	if (rcall(s, &d, ROP_UNMAP, by, d.page, NULL) != (int64_t)d.page)
		sched_violation(s, "unmap of Y's page failed");
	sched_release(H);
	sched_join(H);
	if (hop.ret != 0)
		sched_violation(s, "H's map returned %" PRId64, hop.ret);
	e1 = atomic_load(&d.dom->epoch);
	if (e1 != e0 + 1)
		sched_violation(s, "the epoch went from %" PRIu64 " to %" PRIu64
				   ", not one advance",
				e0, e1);

	sched_release(W);
	while (sched_wait(W, SCHED_STOPPED | SCHED_DONE) == SCHED_STOPPED) {
		/* W is inside its walker section, in X. */
		if (walkers_under(d.dom, (unsigned)e0 & 1))
			sched_violation(s, "W, in X, is counted under the "
					   "parity of epoch %" PRIu64 ", which "
					   "it read before the advance to %"
					   PRIu64 " (its try must give up and "
					   "start over): an advancer that "
					   "checked that parity before W's "
					   "increment may free X while W is in "
					   "it",
					e0, e1);
		if (!walkers_under(d.dom, (unsigned)e1 & 1))
			sched_violation(s, "W, in X, is not counted under the "
					   "parity of epoch %" PRIu64,
					e1);
		sched_release(W);
	}
	sched_join(W);
	if (kind == ROP_MAP && wop.ret != 0)
		sched_violation(s, "W's map returned %" PRId64, wop.ret);
	if (kind == ROP_UNMAP && wop.ret != (int64_t)d.page)
		sched_violation(s, "W's unmap returned %" PRId64, wop.ret);
	if (kind == ROP_LOOKUP &&
	    (wop.ret != 0 || wop.tr.pa != rpa(&d, bx)))
		sched_violation(s, "W's lookup returned %" PRId64
				   " pa 0x%" PRIx64,
				wop.ret, wop.tr.pa);
	if (walkers_under(d.dom, 0) || walkers_under(d.dom, 1))
		sched_violation(s, "%ld and %ld walkers counted under the "
				   "parities once every call returned",
				walkers_under(d.dom, 0),
				walkers_under(d.dom, 1));
	rexpect(s, &d, wi, kind != ROP_UNMAP, d.page, "W's page");
out:
	return rclose(s, &d);
}

static void test_epoch_try(void **state)
{
	unsigned ran = 0;

	(void)state;
	require_hooks();
	for (size_t i = 0; i < n_tcfgs; i++) {
		for (int k = ROP_MAP; k <= ROP_LOOKUP; k++) {
			bool hot;
			unsigned long v = epoch_try_on(&tcfgs[i], k, 0, &hot);

			SCENARIO_END(v);
			if (!hot)
				break;
			ran++;
			if (k == ROP_LOOKUP)
				continue; /* no stop inside: no twin */
			/* The twin: a try that goes on under the old parity
			 * must be caught. */
			v = epoch_try_on(&tcfgs[i], k,
					 PT_HOOK_BREAK_TRY_EPOCH, &hot);
			if (!v) {
				fprintf(stderr,
					"%s %s: the broken twin went "
					"unnoticed\n",
					tcfgs[i].name,
					k == ROP_MAP ? "map" : "unmap");
				fail();
			}
			fprintf(stderr,
				"%s %s: the broken twin was caught, as it "
				"must be\n",
				tcfgs[i].name, k == ROP_MAP ? "map" : "unmap");
		}
	}
	assert_true(ran > 0);
}

/* ------------------------------------------------------------------------
 * 5. A dirty bit lost by a coalesce
 *
 * Leaf table L at B holds all pages but the last (writable). C maps the
 * last page and stops after its rescan gathered the hardware bits
 * (COALESCE_FROZEN for level 0). The "device" sets the dirty bit of page
 * 7 in L's memory, as the IOMMU may until the WALK flush. C goes on. Must
 * hold: read_and_clear_dirty reports page 7 (now: a superpage made from
 * leaves is dirty if any leaf was dirty or writable).
 */

static unsigned long coalesce_dirty_on(const struct tcfg *c)
{
	struct rdom d;
	struct sched *s;
	struct rop cop, dop;
	struct sched_thread *C;
	uint64_t B, s1, x;
	int found = 0;

	ropen(&d, c);
	if (!d.hw_dirty) /* the format keeps no dirty state */
		return rdrop(&d);
	s1 = d.s[1];
	B = 3 * s1;
	x = B + 7 * d.page;
	s = sched_new(d.dom, "coalesce_dirty %s", c->name);
	rmap(&d, B, s1 - d.page);
	cop = rop(&d, ROP_MAP, B + s1 - d.page, d.page);
	C = sched_thread(s, "C (map of the last page)", rop_run, &cop);
	sched_stop_at(C, PT_Y_COALESCE_FROZEN, 0, B, 1);
	sched_start(C);
	if (sched_wait(C, SCHED_STOPPED | SCHED_DONE) != SCHED_STOPPED) {
		sched_violation(s, "C never reached PT_Y_COALESCE_FROZEN");
		goto out;
	}
	if (!rset_dirty(&d, x))
		sched_violation(s, "the device found no leaf at 0x%" PRIx64, x);
	sched_release(C);
	sched_join(C);
	dop = rop(&d, ROP_DIRTY, B, s1);
	sched_run(s, "read_and_clear_dirty", rop_run, &dop);
	for (unsigned i = 0; i < dop.nruns && i < 16; i++)
		if (dop.run_iova[i] <= x &&
		    x - dop.run_iova[i] < dop.run_size[i])
			found = 1;
	if (dop.ret != 0 || !found)
		sched_violation(s, "the dirty bit the device set at 0x%" PRIx64
				   " while its table was being coalesced is "
				   "lost: read_and_clear_dirty returned %" PRId64
				   " and reported %u run(s) (%s)",
				x, dop.ret, dop.nruns,
				dop.nruns ? "none covers it" : "none");
out:
	return rclose(s, &d);
}

static void test_coalesce_dirty(void **state)
{
	(void)state;
	require_hooks();
	for (size_t i = 0; i < n_tcfgs; i++) {
		unsigned long v = coalesce_dirty_on(&tcfgs[i]);
		SCENARIO_END(v);
	}
}

/* ------------------------------------------------------------------------
 * 6. read_and_clear_dirty clears what it never reports
 *
 * Two dirty leaves A and B, not adjacent; a callback that returns
 * non-zero on its first call stops the walk after A's run. Must hold: a
 * second call reports B (its bit was not cleared unreported). No threads.
 */

struct stop_cb {
	unsigned calls;
	uint64_t iova[8], size[8];
};

static int stop_first(void *arg, uint64_t iova, uint64_t size)
{
	struct stop_cb *k = arg;

	if (k->calls < 8) {
		k->iova[k->calls] = iova;
		k->size[k->calls] = size;
	}
	k->calls++;
	return 1;
}

static int record_all(void *arg, uint64_t iova, uint64_t size)
{
	struct stop_cb *k = arg;

	if (k->calls < 8) {
		k->iova[k->calls] = iova;
		k->size[k->calls] = size;
	}
	k->calls++;
	return 0;
}

static unsigned long dirty_stop_on(const struct tcfg *c)
{
	struct rdom d;
	struct sched *s;
	struct iopgt_gather g;
	struct stop_cb k1, k2;
	uint64_t B, xa, xb;
	int r, seen_b = 0;

	ropen(&d, c);
	if (!d.hw_dirty)
		return rdrop(&d);
	B = 3 * d.s[1];
	xa = B + d.page;
	xb = B + 5 * d.page;
	s = sched_new(d.dom, "dirty_stop %s", c->name);
	rmap(&d, B, 8 * d.page);
	if (!rset_dirty(&d, xa) || !rset_dirty(&d, xb))
		sched_violation(s, "the device found no leaves to dirty");
	iopgt_gather_init(&g, sizeof(g));
	memset(&k1, 0, sizeof(k1));
	r = iopgt_read_and_clear_dirty(d.dom, B, 8 * d.page, 0, stop_first,
				       &k1, &g);
	iopgt_sync(d.dom, &g);
	if (r != 1 || k1.calls != 1 || k1.iova[0] != xa)
		sched_violation(s, "the first call returned %d after %u "
				   "callback(s) (first run 0x%" PRIx64
				   "), expected 1 after one, for 0x%" PRIx64,
				r, k1.calls, k1.iova[0], xa);
	memset(&k2, 0, sizeof(k2));
	r = iopgt_read_and_clear_dirty(d.dom, B, 8 * d.page, 0, record_all,
				       &k2, &g);
	iopgt_sync(d.dom, &g);
	for (unsigned i = 0; i < k2.calls && i < 8; i++)
		if (k2.iova[i] <= xb && xb - k2.iova[i] < k2.size[i])
			seen_b = 1;
	if (r != 0 || !seen_b)
		sched_violation(s, "the second call reported %u run(s), none "
				   "covering 0x%" PRIx64
				   ": its dirty bit was cleared by the first "
				   "call, which stopped before reporting it",
				k2.calls, xb);
	return rclose(s, &d);
}

static void test_dirty_stop(void **state)
{
	(void)state;
	require_hooks();
	for (size_t i = 0; i < n_tcfgs; i++) {
		unsigned long v = dirty_stop_on(&tcfgs[i]);
		SCENARIO_END(v);
	}
}

/* ------------------------------------------------------------------------
 * 7. Lookup waits for an installer
 *
 * Map of one page where no table exists: stop the installer after the CAS
 * that publishes each new table in turn (INSTALL_DONE at level l). A
 * lookup of that page must complete (watchdog) with -ENOENT: in 0.2.0 it
 * spins until the installer publishes the child descriptor.
 */

static unsigned long lookup_install_on(const struct tcfg *c, unsigned level)
{
	struct rdom d;
	struct sched *s;
	struct rop iop;
	struct sched_thread *I;
	struct iopgt_translation tr;
	uint64_t v;
	int64_t r;

	ropen(&d, c);
	v = 5 * d.s[d.n - 1] + 3 * d.page;
	if (v >= d.space)
		v = d.space / 2 + 3 * d.page;
	s = sched_new(d.dom, "lookup_install %s level %u", c->name, level);
	iop = rop(&d, ROP_MAP, v, d.page);
	I = sched_thread(s, "I (map installing tables)", rop_run, &iop);
	sched_stop_at(I, PT_Y_INSTALL_DONE, (int)level, SCHED_ANY_IOVA, 1);
	sched_start(I);
	if (sched_wait(I, SCHED_STOPPED | SCHED_DONE) != SCHED_STOPPED) {
		sched_violation(s, "I never reached PT_Y_INSTALL_DONE for a "
				   "level-%u table",
				level);
		goto out;
	}
	r = rcall(s, &d, ROP_LOOKUP, v, 0, &tr);
	if (r != -ENOENT)
		sched_violation(s, "the lookup returned %" PRId64
				   ", expected -ENOENT",
				r);
	sched_release(I);
	sched_join(I);
	if (iop.ret)
		sched_violation(s, "I's map returned %" PRId64, iop.ret);
	rexpect(s, &d, v, 1, d.page, "mapped by I");
out:
	return rclose(s, &d);
}

static void test_lookup_install(void **state)
{
	(void)state;
	require_hooks();
	for (size_t i = 0; i < n_tcfgs; i++) {
		struct iopgt_config cfg;
		struct iopgt_domain *dom;
		struct iopgt_info info;

		tcfg_config(&tcfgs[i], &cfg);
		assert_int_equal(iopgt_domain_create(&cfg, &dom), 0);
		iopgt_domain_info(dom, &info, sizeof(info));
		iopgt_domain_destroy(dom);
		for (unsigned l = info.levels - 1; l-- > 0;) {
			unsigned long v = lookup_install_on(&tcfgs[i], l);
			SCENARIO_END(v);
		}
	}
}

/* ------------------------------------------------------------------------
 * 9. A map meets a kept table that is evicted meanwhile
 *
 * An unmap empties the leaf table under a level-1 entry and the domain
 * keeps it, linked and empty, for reuse. M maps a level-1 leaf there: its
 * fill stops at the entry (a table entry, not empty) and M is stopped
 * after closing its section (FILL_BLOCKED), before it reads the entry
 * again to decide. iopgt_reclaim() evicts the kept table: the entry is
 * now empty. M must start again and map its leaf; before the fix found by
 * the stress test it took the empty entry for a leaf in its way and
 * failed with -EEXIST.
 */

static unsigned long evicted_kept_on(const struct tcfg *c)
{
	struct rdom d;
	struct sched *s;
	struct rop mop;
	struct sched_thread *M;
	struct rtable kept;
	uint64_t B;

	ropen_cache(&d, c, 4);
	if (d.n < 2 || 4 * d.s[1] > d.space)
		return rdrop(&d);
	B = 3 * d.s[1];
	s = sched_new(d.dom, "evicted_kept %s", c->name);
	if (rcall(s, &d, ROP_MAP, B + d.page, d.page, NULL) != 0 ||
	    rcall(s, &d, ROP_UNMAP, B + d.page, d.page, NULL) !=
		    (int64_t)d.page) {
		sched_violation(s, "the set-up map or unmap failed");
		goto out;
	}
	if (!rfind(&d, 0, B, &kept)) {
		sched_violation(s, "the emptied leaf table at 0x%" PRIx64
				   " was not kept",
				B);
		goto out;
	}
	mop = rop(&d, ROP_MAP, B, d.s[1]);
	M = sched_thread(s, "M (map of a level-1 leaf)", rop_run, &mop);
	sched_stop_at(M, PT_Y_FILL_BLOCKED, 1, SCHED_ANY_IOVA, 1);
	sched_start(M);
	if (sched_wait(M, SCHED_STOPPED | SCHED_DONE) != SCHED_STOPPED) {
		sched_violation(s, "M never reached PT_Y_FILL_BLOCKED at "
				   "level 1");
		sched_join(M);
		goto out;
	}
	rcall(s, &d, ROP_RECLAIM, 0, 0, NULL);
	if (rfind(&d, 0, B, &kept))
		sched_violation(s, "iopgt_reclaim() left the kept table "
				   "linked");
	sched_release(M);
	sched_join(M);
	if (mop.ret)
		sched_violation(s, "M's map returned %" PRId64
				   ": it took the entry emptied by the "
				   "eviction for a leaf in its way",
				mop.ret);
	else
		rexpect(s, &d, B, 1, d.s[1], "mapped by M");
out:
	return rclose(s, &d);
}

static void test_evicted_kept(void **state)
{
	(void)state;
	require_hooks();
	for (size_t i = 0; i < n_tcfgs; i++) {
		unsigned long v = evicted_kept_on(&tcfgs[i]);
		SCENARIO_END(v);
	}
}

/* ------------------------------------------------------------------------
 * 8. Overlapping writers are contained
 *
 * Writers whose ranges overlap break the header's contract, and the
 * library owes them no particular tables; but it must not crash, hang,
 * free a table twice or lose one. Four writers map and unmap random,
 * overlapping ranges of a few level-1 entries (across a table boundary
 * where the space allows), a fifth thread looks up and reads dirty bits;
 * then everything is unmapped and the domain destroyed: every table page
 * and descriptor went back exactly once. (IOPGT_RACE_WRITERS=1 runs one
 * writer: no overlap, a check of the harness itself.) Randomized with a fixed seed
 * (printed; IOPGT_SEED replays), IOPGT_RACE_OPS operations per writer
 * (scaled by IOPGT_TEST_SCALE) within IOPGT_RACE_SECONDS per configuration
 * (2, scaled), configurations IOPGT_RACE_CONFIGS ("all", or names; default
 * one per format and granule, tcfg_representative()); no progress for IOPGT_RACE_STALL seconds (30) is a hang: the
 * process reports it and exits.
 */

#define OV_MAX_WRITERS 8
#define OV_MAGIC UINT64_C(0x0b5e55ed7ab1e5)
#define OV_QUARANTINE 256

/* A page is allocated at twice its size: the page, then its record. */
struct ov_rec {
	uint64_t magic;
	uint64_t freed;
};

struct ov_alloc {
	pthread_mutex_t mu;
	uint64_t table_allocs, table_frees, meta_allocs, meta_frees;
	uint64_t double_frees, unknown_frees;
	void *q[OV_QUARANTINE]; /* freed pages, poisoned, kept a while */
	unsigned qn, qhead;
};

static void *ov_table_alloc(void *arg, size_t size, uint64_t *pa)
{
	struct ov_alloc *a = arg;
	uint8_t *p = aligned_alloc(size, 2 * size);
	struct ov_rec *r;

	if (!p)
		return NULL;
	memset(p, 0x5a, size);
	r = (struct ov_rec *)(p + size);
	r->magic = OV_MAGIC;
	r->freed = 0;
	pthread_mutex_lock(&a->mu);
	a->table_allocs++;
	pthread_mutex_unlock(&a->mu);
	*pa = (uint64_t)(uintptr_t)p;
	return p;
}

static void ov_table_free(void *arg, void *va, uint64_t pa, size_t size)
{
	struct ov_alloc *a = arg;
	struct ov_rec *r = (struct ov_rec *)((uint8_t *)va + size);
	void *out = NULL;

	(void)pa;
	pthread_mutex_lock(&a->mu);
	a->table_frees++;
	if (r->magic != OV_MAGIC) {
		a->unknown_frees++;
	} else if (r->freed) {
		a->double_frees++;
	} else {
		r->freed = 1;
		tpoison_freed(va, size);
		if (a->qn == OV_QUARANTINE) {
			out = a->q[a->qhead];
			a->q[a->qhead] = va;
			a->qhead = (a->qhead + 1) % OV_QUARANTINE;
		} else {
			a->q[(a->qhead + a->qn++) % OV_QUARANTINE] = va;
		}
	}
	pthread_mutex_unlock(&a->mu);
	free(out);
}

static void *ov_meta_alloc(void *arg, size_t size)
{
	struct ov_alloc *a = arg;
	struct ov_rec *r = malloc(sizeof(*r) + size);

	if (!r)
		return NULL;
	r->magic = OV_MAGIC;
	r->freed = 0;
	pthread_mutex_lock(&a->mu);
	a->meta_allocs++;
	pthread_mutex_unlock(&a->mu);
	return r + 1;
}

static void ov_meta_free(void *arg, void *ptr, size_t size)
{
	struct ov_alloc *a = arg;
	struct ov_rec *r = (struct ov_rec *)ptr - 1;
	int ok;

	(void)size;
	pthread_mutex_lock(&a->mu);
	a->meta_frees++;
	ok = r->magic == OV_MAGIC && !r->freed;
	if (r->magic != OV_MAGIC)
		a->unknown_frees++;
	else if (r->freed)
		a->double_frees++;
	pthread_mutex_unlock(&a->mu);
	if (ok) {
		r->magic = 0;
		free(r);
	}
}

struct ov_run {
	struct iopgt_domain *dom;
	const struct tcfg *c;
	uint64_t seed;
	uint64_t base, len, page, s1, pa_base;
	unsigned n0, writers;
	unsigned long ops;
	uint64_t deadline_ms;
	_Atomic unsigned long progress;
	_Atomic int stop;
};

struct ov_thread {
	struct ov_run *R;
	unsigned id;
	uint64_t rng;
	pthread_t th;
	unsigned long done;
};

static uint64_t ov_now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

static uint64_t ov_rnd(struct ov_thread *t, uint64_t n)
{
	return n ? trand(&t->rng) % n : 0;
}

/* A range inside the run's window: [*iova, *iova + *size). */
static void ov_range(struct ov_thread *t, uint64_t *iova, uint64_t *size)
{
	struct ov_run *R = t->R;
	uint64_t pages = R->len / R->page, k = ov_rnd(t, 100), n;

	if (k < 35) {
		n = 1;
	} else if (k < 65) {
		n = 1 + ov_rnd(t, 64);
	} else if (k < 85) {
		*iova = R->base + ov_rnd(t, R->len / R->s1) * R->s1;
		*size = R->s1 * (1 + ov_rnd(t, 2));
		if (*iova + *size > R->base + R->len)
			*size = R->base + R->len - *iova;
		return;
	} else {
		n = 1 + ov_rnd(t, R->n0 + 16);
	}
	if (n > pages)
		n = pages;
	*iova = R->base + ov_rnd(t, pages - n + 1) * R->page;
	*size = n * R->page;
}

static void *ov_writer(void *arg)
{
	struct ov_thread *t = arg;
	struct ov_run *R = t->R;
	struct iopgt_gather g;
	struct iopgt_translation tr;

	iopgt_gather_init(&g, sizeof(g));
	for (t->done = 0; t->done < R->ops && !atomic_load(&R->stop);
	     t->done++) {
		uint64_t iova, size, k = ov_rnd(t, 100);

		if (t->done % 64 == 0 && ov_now_ms() >= R->deadline_ms)
			break;
		ov_range(t, &iova, &size);
		if (k < 45)
			(void)iopgt_map(R->dom, iova, R->pa_base + iova, size,
					RWP, &g);
		else if (k < 85)
			(void)iopgt_unmap(R->dom, iova, size, &g);
		else
			(void)iopgt_lookup(R->dom, iova, &tr);
		if (ov_rnd(t, 4))
			iopgt_sync(R->dom, &g);
		atomic_fetch_add_explicit(&R->progress, 1,
					  memory_order_relaxed);
	}
	iopgt_sync(R->dom, &g);
	return NULL;
}

static int ov_dirty_cb(void *arg, uint64_t iova, uint64_t size)
{
	(void)arg;
	(void)iova;
	(void)size;
	return 0;
}

static void *ov_reader(void *arg)
{
	struct ov_thread *t = arg;
	struct ov_run *R = t->R;
	struct iopgt_gather g;
	struct iopgt_translation tr;
	unsigned long n = 0;

	iopgt_gather_init(&g, sizeof(g));
	while (!atomic_load(&R->stop)) {
		uint64_t iova = R->base + ov_rnd(t, R->len / R->page) * R->page;
		int r = iopgt_lookup(R->dom, iova, &tr);

		/* Whatever the tables hold, a hit is one of the writers'
		 * translations (they all map pa_base + iova). */
		if (r == 0 && tr.pa != R->pa_base + iova) {
			fprintf(stderr, "overlap_stress %s seed 0x%" PRIx64
					": lookup 0x%" PRIx64 " gave pa 0x%" PRIx64
					", no writer's\n",
				R->c->name, R->seed, iova, tr.pa);
			fflush(stderr);
			_exit(1);
		}
		if (++n % 64 == 0) {
			(void)iopgt_read_and_clear_dirty(R->dom, R->base, R->len,
							 0, ov_dirty_cb, NULL,
							 &g);
			iopgt_sync(R->dom, &g);
		}
		if (n % 1024 == 0)
			iopgt_reclaim(R->dom);
	}
	iopgt_sync(R->dom, &g);
	return NULL;
}

struct ov_final {
	struct ov_run *R;
	_Atomic int done;
	int64_t r;
};

static void *ov_unmap_all(void *arg)
{
	struct ov_final *f = arg;
	struct iopgt_gather g;

	iopgt_gather_init(&g, sizeof(g));
	f->r = iopgt_unmap(f->R->dom, f->R->base, f->R->len, &g);
	iopgt_sync(f->R->dom, &g);
	iopgt_reclaim(f->R->dom);
	atomic_store(&f->done, 1);
	return NULL;
}

/* Wait (polling progress) until *done; a stall is a hang: exit. */
static void ov_watch(struct ov_run *R, _Atomic int *done, const char *what)
{
	unsigned stall = (unsigned)tenv_long("IOPGT_RACE_STALL", 30);
	unsigned long last = (unsigned long)-1;
	uint64_t since = ov_now_ms();

	while (!atomic_load(done)) {
		unsigned long p = atomic_load(&R->progress);
		struct timespec ts = { 0, 100 * 1000 * 1000 };

		if (p != last) {
			last = p;
			since = ov_now_ms();
		} else if (ov_now_ms() - since > stall * 1000ull) {
			fprintf(stderr,
				"overlap_stress: FAIL (hang): %s: no progress for "
				"%u s on %s, seed 0x%" PRIx64 " (replay: %s=0x%"
				PRIx64 " IOPGT_RACE_CONFIGS=%s); exiting\n",
				what, stall, R->c->name, R->seed, TSEED_ENV,
				R->seed, R->c->name);
			fflush(stderr);
			_exit(1);
		}
		nanosleep(&ts, NULL);
	}
}

struct ov_join {
	struct ov_thread *ts;
	unsigned n;
	_Atomic int done;
	struct ov_run *R;
};

static void *ov_joiner(void *arg)
{
	struct ov_join *j = arg;

	for (unsigned i = 0; i < j->n; i++) {
		if (i == j->R->writers)
			atomic_store(&j->R->stop, 1); /* writers done */
		pthread_join(j->ts[i].th, NULL);
	}
	atomic_store(&j->done, 1);
	return NULL;
}

static void overlap_on(const struct tcfg *c, uint64_t seed, unsigned cache,
		       unsigned options)
{
	struct ov_alloc a;
	struct iopgt_config cfg;
	struct iopgt_info info;
	struct ov_run R;
	struct ov_thread ts[OV_MAX_WRITERS + 1];
	struct ov_join j;
	struct ov_final f;
	pthread_t jt, ft;
	uint64_t sizes[8], span1, space, t0 = ov_now_ms();
	unsigned long ops = 0;
	unsigned n;

	memset(&a, 0, sizeof(a));
	pthread_mutex_init(&a.mu, NULL);
	memset(&R, 0, sizeof(R));
	tcfg_config(c, &cfg);
	cfg.options = options;
	cfg.table_cache = cache;
	cfg.mem.table_alloc = ov_table_alloc;
	cfg.mem.table_free = ov_table_free;
	cfg.mem.meta_alloc = ov_meta_alloc;
	cfg.mem.meta_free = ov_meta_free;
	cfg.mem.arg = &a;
	assert_int_equal(iopgt_domain_create(&cfg, &R.dom), 0);
	/* Overlapping writers break the contract on purpose: the counts may
	 * drift, so destroy must not check them (memory must stay safe). */
	iopgt__set_test_hooks(R.dom, PT_HOOK_OVERLAP);
	iopgt_domain_info(R.dom, &info, sizeof(info));
	n = tcfg_leaf_sizes(R.dom, sizes);
	assert_true(n >= 2);
	R.c = c;
	R.seed = seed;
	R.page = sizes[0];
	R.s1 = sizes[1];
	R.n0 = 1u << (info.granule - 3);
	R.pa_base = UINT64_C(1) << (info.oas - 2);
	space = info.iova_last + 1; /* the lower part of the input space */
	span1 = R.s1 * R.n0; /* a level-1 table's span */
	/* Four level-1 entries, across a level-1 table boundary if the
	 * space has one. */
	R.base = span1 + 2 * R.s1 <= space ? span1 - 2 * R.s1 : 0;
	R.len = 4 * R.s1 <= space - R.base ? 4 * R.s1 : space - R.base;
	R.ops = (unsigned long)titers("IOPGT_RACE_OPS", 20000);
	/* IOPGT_RACE_WRITERS=1 checks the harness itself: no overlap. */
	R.writers = (unsigned)tenv_long("IOPGT_RACE_WRITERS", 4);
	if (R.writers < 1 || R.writers > OV_MAX_WRITERS)
		R.writers = 4;
	R.deadline_ms = t0 + 1000 * (uint64_t)titers("IOPGT_RACE_SECONDS", 2);
	fprintf(stderr, "overlap_stress: %s, cache %u, options 0x%x, seed 0x%"
			PRIx64 ", window [0x%" PRIx64 ", +0x%" PRIx64 ")\n",
		c->name, cache, options, seed, R.base, R.len);
	fflush(stderr);

	for (unsigned i = 0; i <= R.writers; i++) {
		ts[i].R = &R;
		ts[i].id = i;
		ts[i].rng = seed * 0x9e3779b97f4a7c15u + i + 1;
		assert_int_equal(pthread_create(&ts[i].th, NULL,
						i < R.writers ? ov_writer
							      : ov_reader,
						&ts[i]),
				 0);
	}
	memset(&j, 0, sizeof(j));
	j.ts = ts;
	j.n = R.writers + 1;
	j.R = &R;
	assert_int_equal(pthread_create(&jt, NULL, ov_joiner, &j), 0);
	ov_watch(&R, &j.done, "the writers");
	pthread_join(jt, NULL);
	for (unsigned i = 0; i < R.writers; i++)
		ops += ts[i].done;

	memset(&f, 0, sizeof(f));
	f.R = &R;
	assert_int_equal(pthread_create(&ft, NULL, ov_unmap_all, &f), 0);
	ov_watch(&R, &f.done, "unmapping everything");
	pthread_join(ft, NULL);
	/* Without counts every table page still allocated is in the tree
	 * (none lost by a fill over an overlapping caller's install). With
	 * counts, overlapping callers can still leave a table page that is
	 * no longer in the tree until destroy; not checked there. */
	if (toptions_uncounted(options)) {
		struct iopgt_stats st;
		unsigned reach = tcount_tables(R.dom, NULL);

		iopgt_get_stats(R.dom, &st, sizeof(st));
		if (st.table_pages_live !=
		    reach + st.table_pages_waiting) {
			fprintf(stderr, "overlap_stress: FAIL on %s, seed 0x%"
					PRIx64 ", options 0x%x: %" PRIu64
					" table pages live, %u in the tree, %"
					PRIu64 " waiting\n",
				c->name, seed, options, st.table_pages_live,
				reach, st.table_pages_waiting);
			fail();
		}
	}
	iopgt_domain_destroy(R.dom);
	fprintf(stderr, "overlap_stress: %s: %lu operations in %.1f s; tables "
			"%" PRIu64 " allocated, %" PRIu64 " freed; descriptors %"
			PRIu64 "/%" PRIu64 "\n",
		c->name, ops, (double)(ov_now_ms() - t0) / 1000,
		a.table_allocs, a.table_frees, a.meta_allocs, a.meta_frees);
	if (f.r < 0 || a.table_allocs != a.table_frees ||
	    a.meta_allocs != a.meta_frees || a.double_frees ||
	    a.unknown_frees) {
		fprintf(stderr, "overlap_stress: FAIL on %s, seed 0x%" PRIx64
				" (replay: %s=0x%" PRIx64 " IOPGT_RACE_CONFIGS=%s):"
				" final unmap %" PRId64 "; %" PRIu64
				" table pages leaked, %" PRIu64
				" descriptors leaked, %" PRIu64
				" double frees, %" PRIu64 " frees of unknown "
				"memory\n",
			c->name, seed, TSEED_ENV, seed, c->name, f.r,
			a.table_allocs - a.table_frees,
			a.meta_allocs - a.meta_frees, a.double_frees,
			a.unknown_frees);
		fail();
	}
	for (unsigned i = 0; i < a.qn; i++)
		free(a.q[(a.qhead + i) % OV_QUARANTINE]);
	pthread_mutex_destroy(&a.mu);
}

/* The race of a superpage's fill and a page's table install at one
 * address, which the random overlaps above rarely meet: one thread maps
 * and unmaps one second-size leaf at X, the other one smallest page at X,
 * for 300 ms, on a domain without counts (where no section keeps the
 * install out of the fill). Then every table page still allocated must
 * be in the tree: a fill that stored its leaf over the install's table
 * entry loses that table (it stays allocated, unreachable). */
struct ovf {
	struct iopgt_domain *dom;
	uint64_t x, size;
	_Atomic int *stop;
	unsigned long n;
};

static void *ovf_main(void *arg)
{
	struct ovf *f = arg;
	struct iopgt_gather g;

	iopgt_gather_init(&g, sizeof(g));
	while (!atomic_load_explicit(f->stop, memory_order_relaxed)) {
		(void)iopgt_map(f->dom, f->x, f->x, f->size,
				IOPGT_PROT_READ | IOPGT_PROT_WRITE, &g);
		(void)iopgt_unmap(f->dom, f->x, f->size, &g);
		iopgt_sync(f->dom, &g);
		f->n++;
	}
	return NULL;
}

static void overlap_fill_on(const struct tcfg *c)
{
	struct iopgt_config cfg;
	struct iopgt_stats st;
	struct iopgt_gather g;
	struct tsalloc ta;
	uint64_t sizes[8];
	struct ovf f[2];
	pthread_t th[2];
	_Atomic int stop = 0;
	unsigned reach;

	tcfg_config(c, &cfg);
	cfg.options = IOPGT_OPT_NO_RECLAIM | IOPGT_OPT_NO_COALESCE;
	/* Both threads allocate and free table memory (mem_ops may be
	 * called concurrently): the thread-safe allocator. */
	tsalloc_init(&ta, 4096);
	tsalloc_ops(&ta, &cfg.mem);
	assert_int_equal(iopgt_domain_create(&cfg, &f[0].dom), 0);
	iopgt__set_test_hooks(f[0].dom, PT_HOOK_OVERLAP);
	assert_true(tcfg_leaf_sizes(f[0].dom, sizes) >= 2);
	for (unsigned i = 0; i < 2; i++) {
		f[i].dom = f[0].dom;
		f[i].x = 4 * sizes[1];
		f[i].size = sizes[1 - i];
		f[i].stop = &stop;
		f[i].n = 0;
		assert_int_equal(pthread_create(&th[i], NULL, ovf_main, &f[i]),
				 0);
	}
	usleep(300 * 1000);
	atomic_store(&stop, 1);
	for (unsigned i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	iopgt_gather_init(&g, sizeof(g));
	(void)iopgt_unmap(f[0].dom, f[0].x, sizes[1], &g);
	iopgt_sync(f[0].dom, &g);
	iopgt_reclaim(f[0].dom);
	iopgt_get_stats(f[0].dom, &st, sizeof(st));
	reach = tcount_tables(f[0].dom, NULL);
	fprintf(stderr, "overlap_fill: %s: %lu superpage and %lu page "
			"map/unmap pairs; %" PRIu64 " table pages live, %u in "
			"the tree\n",
		c->name, f[0].n, f[1].n, st.table_pages_live, reach);
	if (st.table_pages_live != reach + st.table_pages_waiting) {
		fprintf(stderr, "overlap_fill: FAIL on %s: %" PRIu64
				" table pages live, %u in the tree, %" PRIu64
				" waiting\n",
			c->name, st.table_pages_live, reach,
			st.table_pages_waiting);
		fail();
	}
	iopgt_domain_destroy(f[0].dom);
	assert_true(ta.table_allocs == ta.table_frees);
	assert_true(ta.meta_allocs == ta.meta_frees);
	tsalloc_fini(&ta);
}

static void test_overlap_stress(void **state)
{
	const char *configs = getenv("IOPGT_RACE_CONFIGS");
	uint64_t seed = tseed(0x0e71a9);
	unsigned ran = 0;

	(void)state;
	if (!configs || !*configs)
		configs = tcfg_representative();
	for (size_t i = 0; i < n_tcfgs; i++) {
		if (!tname_in_list(configs, tcfgs[i].name))
			continue;
		overlap_on(&tcfgs[i], seed + i, ran % 2 ? 8 : 0,
			   IOPGT_OPT_COUNTS);
		/* And domains without counts (the default), where no
		 * section keeps an overlapping writer out and only the
		 * compare-and-swap of table entries does. */
		overlap_on(&tcfgs[i], seed + i, 8,
			   IOPGT_OPT_NO_RECLAIM | IOPGT_OPT_NO_COALESCE);
		overlap_on(&tcfgs[i], seed + i, 8, IOPGT_OPT_NO_COUNTS);
		overlap_fill_on(&tcfgs[i]);
		ran++;
	}
	assert_true(ran > 0);
}

/* ------------------------------------------------------------------------
 * Tests by name: test_races [NAME...] runs those only.
 */

int main(int argc, char **argv)
{
	const struct CMUnitTest all[] = {
		cmocka_unit_test(test_lost_unmap),
		cmocka_unit_test(test_lost_unmap_uncounted),
		cmocka_unit_test(test_map_unlink_uncounted),
		cmocka_unit_test(test_unlink_thaw_uncounted),
		cmocka_unit_test(test_map_redo_own_uncounted),
		cmocka_unit_test(test_leaf_clear_table),
		cmocka_unit_test(test_merge_clear_uncounted),
		cmocka_unit_test(test_freed_entry),
		cmocka_unit_test(test_freed_entry_trap),
		cmocka_unit_test(test_freed_entry_frozen),
		cmocka_unit_test(test_count_clobber),
		cmocka_unit_test(test_epoch_uaf),
		cmocka_unit_test(test_epoch_try),
		cmocka_unit_test(test_coalesce_dirty),
		cmocka_unit_test(test_dirty_stop),
		cmocka_unit_test(test_lookup_install),
		cmocka_unit_test(test_evicted_kept),
	};
	/* The stress tier's, by name only. */
	const struct CMUnitTest stress[] = {
		cmocka_unit_test(test_overlap_stress),
	};
	struct CMUnitTest sel[sizeof(all) / sizeof(all[0]) + 1];
	size_t n = 0;

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]) + 1; i++) {
		const struct CMUnitTest *t = i < sizeof(all) / sizeof(all[0])
						     ? &all[i]
						     : &stress[0];
		int want = argc < 2 && t != &stress[0];
		for (int a = 1; a < argc; a++)
			if (!strcmp(t->name + strlen("test_"), argv[a]) ||
			    !strcmp(t->name, argv[a]))
				want = 1;
		if (want)
			sel[n++] = *t;
	}
	if (!n) {
		fprintf(stderr, "test_races: no test named");
		for (int a = 1; a < argc; a++)
			fprintf(stderr, " %s", argv[a]);
		fprintf(stderr, "\n");
		return 2;
	}
	return _cmocka_run_group_tests("test_races", sel, n, NULL, NULL);
}
