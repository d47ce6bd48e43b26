/* SPDX-License-Identifier: MIT */
/*
 * The generic algorithms: map, unmap (with split), lookup, coalesce and the
 * reclaim of emptied tables. This file is a template: a per-format source
 * (src/fmt_*.c) includes its format header, defines PT_ENGINE (a C name) and
 * then includes this file, so each format gets its own copy compiled with
 * its entry helpers inlined. Nothing here tests which format it is.
 *
 * Ownership (why writers need no lock): a table whose whole span lies inside
 * a call's range is touched by that call alone (and by lock-free readers).
 * Tables whose span reaches beyond it may be shared with writers of disjoint
 * ranges; on those, entries are only added or removed through the counting
 * helpers of pt.h, tables are installed by compare-and-swap, and a table is
 * unlinked or coalesced only after freezing its count (PT_DEAD).
 */
#ifndef PT_ENGINE
#error "define PT_ENGINE and include a format header before engine.h"
#endif

#define PT_CAT_(a, b) a##_##b
#define PT_CAT(a, b) PT_CAT_(a, b)
#define PT(x) PT_CAT(PT_ENGINE, x)

static inline uint64_t PT(size)(const struct pt_geo *geo, unsigned level)
{
	return UINT64_C(1) << pt_shift(geo, level);
}

/* The child of table entry e = t[idx], or NULL while its installer has not
 * published it yet or e is stale: the caller reloads e and tries again. */
static inline struct pt_table *PT(child_of)(const struct pt_table *t,
					    unsigned idx, uint64_t e)
{
	struct pt_table *c = pt_child(t, idx);
	return c && c->pa == fmt_table_pa(e) ? c : NULL;
}

/* The largest allowed leaf level that iova, pa and the length allow. */
static inline unsigned PT(pick_level)(const struct pt_geo *geo, uint64_t iova,
				      uint64_t pa, uint64_t last)
{
	for (unsigned level = geo->max_leaf_level; level > 0; level--) {
		uint64_t mask = PT(size)(geo, level) - 1;
		if ((geo->leaf_levels & (1u << level)) &&
		    !((iova | pa) & mask) && last - iova >= mask)
			return level;
	}
	return 0;
}

static inline bool PT(may_reclaim)(const struct pt_op *op,
				   const struct pt_table *t)
{
	if (!(op->dom->cfg.options & IOPGT_OPT_NO_RECLAIM))
		return true;
	return op->rollback && op->owner && t->owner == op->owner;
}

/* ------------------------------------------------------------------------
 * Unlinking
 */

/* Add every table of the subtree under t to the gather. Its entries are
 * left as they were (hardware may still walk them until the WALK flush), so
 * each page is marked to be zeroed before reuse. */
static void PT(gather_subtree)(struct pt_op *op, struct pt_table *t)
{
	if (t->child) {
		unsigned n = pt_nr_entries(&op->dom->geo, t->level);
		for (unsigned i = 0; i < n; i++) {
			struct pt_table *c = pt_child(t, i);
			if (c)
				PT(gather_subtree)(op, c);
		}
	}
	if (atomic_load_explicit(&t->used, memory_order_relaxed) & ~PT_DEAD)
		t->flags |= PT_F_DIRTY;
	pt_gather_table(op->dom, op->g, t);
}

/* True if no leaf lies under t. Only called on subtrees inside the
 * caller's range, which nobody else writes. */
static bool PT(subtree_empty)(const struct pt_op *op, const struct pt_table *t)
{
	unsigned n;

	if (!(atomic_load_explicit(&t->used, memory_order_acquire) & ~PT_DEAD))
		return true;
	if (!t->child)
		return false;
	n = pt_nr_entries(&op->dom->geo, t->level);
	for (unsigned i = 0; i < n; i++) {
		uint64_t e = pt_load(t, i);
		struct pt_table *c;
		if (!e)
			continue;
		if (!fmt_is_table(e, t->level))
			return false;
		c = PT(child_of)(t, i, e);
		if (!c || !PT(subtree_empty)(op, c))
			return false;
	}
	return true;
}

/* t[idx] = e points to child c, which the caller emptied: if nobody refilled
 * it meanwhile, freeze c, clear the entry and gather c. Returns true if c
 * was unlinked; *left is then t's remaining count. */
static bool PT(unlink_empty)(struct pt_op *op, struct pt_table *t,
			     unsigned idx, struct pt_table *c, uint32_t *left)
{
	if (!PT(may_reclaim)(op, c) || !pt_freeze(c, 0))
		return false;
	/* t holds this entry, so its count is >= 1 and t cannot be frozen
	 * (empty-frozen needs 0, coalesce-frozen needs no table entries). */
	pt_clear_run(t, idx, 1, NULL, left);
	atomic_store_explicit(&t->child[idx], NULL, memory_order_release);
	pt_gather_table(op->dom, op->g, c);
	return true;
}

/* ------------------------------------------------------------------------
 * Map
 */

/* A superpage at t[idx] (level `level`) where an empty subtree e stands. */
static int PT(replace_subtree)(struct pt_op *op, struct pt_table *t,
			       unsigned idx, uint64_t e, uint64_t leaf)
{
	struct pt_table *c = PT(child_of)(t, idx, e);

	if (!c)
		return -EAGAIN;
	if (!PT(subtree_empty)(op, c))
		return -EEXIST;
	if (!pt_replace(t, idx, &e, leaf))
		return -EAGAIN;
	atomic_store_explicit(&t->child[idx], NULL, memory_order_release);
	PT(gather_subtree)(op, c);
	return 0;
}

/* Remember a table this map filled, with the walk to it, to try coalescing
 * it once the whole map has succeeded. Only the tables at the two ends of a
 * range can coalesce (a table the range covers wholly would have been
 * mapped with the larger leaf had alignment allowed it), so the first and
 * the latest candidate are kept. */
static void PT(add_cand)(struct pt_op *op, unsigned level,
			 struct pt_table *const path[PT_MAX_LEVELS],
			 const unsigned idx[PT_MAX_LEVELS])
{
	struct pt_cand *c = &op->cand[op->ncand ? 1 : 0];
	unsigned top = op->dom->geo.levels - 1;

	if (op->ncand < 2)
		op->ncand++;
	c->level = level;
	for (unsigned l = level + 1; l <= top; l++) {
		c->path[l] = path[l];
		c->idx[l] = idx[l];
	}
}

/* Map one run of leaves at `level` starting at iova, within one table.
 * *done receives the bytes mapped. */
static int PT(map_run)(struct pt_op *op, uint64_t iova, uint64_t pa,
		       uint64_t last, unsigned level, uint64_t *done)
{
	struct iopgt_domain *dom = op->dom;
	const struct pt_geo *geo = &dom->geo;
	uint64_t e, sz = PT(size)(geo, level);
	struct pt_table *t, *path[PT_MAX_LEVELS];
	unsigned lvl, idx, n, i, pidx[PT_MAX_LEVELS];
	uint32_t used;
	int r;

retry:
	t = dom->root;
	lvl = geo->levels - 1;
	while (lvl > level) {
		idx = pt_index(geo, lvl, iova);
		path[lvl] = t;
		pidx[lvl] = idx;
		e = pt_load(t, idx);
		if (!e) {
			struct pt_table *c;

			if (!op->owner)
				op->owner = atomic_fetch_add_explicit(
					&dom->next_owner, 1,
					memory_order_relaxed) + 1;
			c = pt_table_alloc(dom, lvl - 1, op->owner);
			if (!c)
				return -ENOMEM;
			c->iova = iova & ~(PT(size)(geo, lvl) - 1);
			r = pt_set_table(t, idx, fmt_make_table(c->pa), &e);
			if (!r) {
				atomic_store_explicit(&t->child[idx], c,
						      memory_order_release);
				t = c;
				lvl--;
				continue;
			}
			/* Lost the race (use the winner's table), or t is
			 * being unlinked (start again from the root). */
			pt_table_free_unpublished(dom, c);
			if (r == -ESTALE) {
				pt_relax();
				goto retry;
			}
		}
		if (fmt_is_table(e, lvl)) {
			struct pt_table *c = PT(child_of)(t, idx, e);
			if (!c) {
				pt_relax();
				continue;
			}
			t = c;
			lvl--;
			continue;
		}
		return -EEXIST; /* a larger leaf already covers iova */
	}

	idx = pt_index(geo, level, iova);
	n = pt_nr_entries(geo, level) - idx;
	/* Whole leaves left: last - iova + 1 cannot wrap (ias <= 57). */
	if ((uint64_t)n > (last - iova + 1) >> pt_shift(geo, level))
		n = (unsigned)((last - iova + 1) >> pt_shift(geo, level));
	for (i = 0; i < n; i++) {
		e = pt_load(t, idx + i);
		if (!e)
			continue;
		if (i)
			break; /* map what precedes; the next run sees it */
		if (!fmt_is_table(e, level))
			return -EEXIST;
		r = PT(replace_subtree)(op, t, idx, e,
					fmt_make_leaf(pa, level, op->attrs));
		if (r == -EAGAIN)
			goto retry;
		if (r)
			return r;
		*done = sz;
		return 0;
	}
	if (!pt_set_run(t, idx, i, fmt_make_leaf(pa, level, op->attrs), sz,
			&used))
		goto retry; /* t was frozen for unlinking meanwhile */
	if (dom->cfg.options & IOPGT_OPT_CACHING_MODE)
		pt_gather_range(op->g, iova, iova + i * sz - 1,
				IOPGT_FLUSH_ADDED);
	if (used == pt_nr_entries(geo, level) && level < geo->levels - 1 &&
	    (geo->leaf_levels & (2u << level)))
		PT(add_cand)(op, level, path, pidx);
	*done = i * sz;
	return 0;
}

/* Replace the full table t (level L, entry pidx of p) by one superpage if
 * its leaves form one aligned, contiguous run with equal attributes. */
static bool PT(try_coalesce)(struct pt_op *op, struct pt_table *t,
			     struct pt_table *p, unsigned pidx)
{
	const struct pt_geo *geo = &op->dom->geo;
	unsigned L = t->level, n = pt_nr_entries(geo, L);
	uint64_t sz = PT(size)(geo, L), base, key, hw = 0, e, old;
	bool frozen = false;

	if (atomic_load_explicit(&t->used, memory_order_relaxed) != n)
		return false;
again:
	e = pt_load(t, 0);
	if (!e || fmt_is_table(e, L))
		goto fail;
	base = fmt_leaf_pa(e, pt_shift(geo, L));
	if (base & (PT(size)(geo, L + 1) - 1))
		goto fail;
	key = fmt_leaf_attrs(e, L);
	for (unsigned i = 0; i < n; i++) {
		e = pt_load(t, i);
		if (!e || fmt_is_table(e, L) ||
		    fmt_leaf_pa(e, pt_shift(geo, L)) != base + i * sz ||
		    fmt_leaf_attrs(e, L) != key)
			goto fail;
		hw |= e & FMT_HW_BITS;
	}
	if (!frozen) {
		/* Freeze, then look again: an unmap and a map by others may
		 * have replaced an entry between the scan and the freeze. */
		if (!pt_freeze(t, n))
			return false;
		frozen = true;
		hw = 0;
		goto again;
	}
	old = fmt_make_table(t->pa);
	if (!pt_replace(p, pidx, &old, fmt_make_leaf(base, L + 1, key) | hw))
		goto fail;
	atomic_store_explicit(&p->child[pidx], NULL, memory_order_release);
	t->flags |= PT_F_DIRTY;
	pt_gather_table(op->dom, op->g, t);
	pt_stat_add(&op->dom->st.coalesced, 1);
	return true;
fail:
	if (frozen) /* nobody changes a frozen count: restore it */
		atomic_store_explicit(&t->used, n, memory_order_release);
	return false;
}

/* Coalesce a filled table, then its parents while each one succeeds. The
 * table is found again through the parent (the walker count keeps the
 * recorded path alive; the parent entry says whether it still holds it). */
static void PT(coalesce_cand)(struct pt_op *op, const struct pt_cand *c)
{
	const struct pt_geo *geo = &op->dom->geo;
	unsigned top = geo->levels - 1;

	for (unsigned l = c->level; l < top; l++) {
		struct pt_table *p = c->path[l + 1], *t;
		unsigned i = c->idx[l + 1];
		uint64_t e = pt_load(p, i);

		if (!(geo->leaf_levels & (2u << l)) || !fmt_is_table(e, l + 1) ||
		    !(t = PT(child_of)(p, i, e)) || !PT(try_coalesce)(op, t, p, i))
			break;
	}
}

static int64_t PT(unmap_walk)(struct pt_op *op, uint64_t iova, uint64_t last);

static int PT(map)(struct iopgt_domain *dom, uint64_t iova, uint64_t pa,
		   uint64_t last, uint64_t attrs, struct iopgt_gather *g)
{
	const struct pt_geo *geo = &dom->geo;
	struct pt_op op = { .dom = dom, .g = g, .attrs = attrs };
	uint64_t cur = iova, done = 0;
	int r;

	pt_walk_enter(dom);
	for (;;) {
		uint64_t cpa = pa + (cur - iova);
		r = PT(map_run)(&op, cur, cpa, last,
				PT(pick_level)(geo, cur, cpa, last), &done);
		if (r || done > last - cur)
			break;
		cur += done;
	}
	if (r) {
		/* Roll back: clear the leaves this call wrote, then drop the
		 * tables it created that are still empty. */
		op.rollback = true;
		if (cur > iova)
			PT(unmap_walk)(&op, iova, cur - 1);
		if (op.owner) {
			op.prune = true;
			PT(unmap_walk)(&op, iova, last);
		}
	} else if (!(dom->cfg.options & IOPGT_OPT_NO_COALESCE)) {
		for (unsigned k = 0; k < op.ncand; k++)
			PT(coalesce_cand)(&op, &op.cand[k]);
	}
	pt_walk_leave(dom);
	return r;
}

/* ------------------------------------------------------------------------
 * Unmap
 */

/* Clear [iova, last] inside table t. Leaves must lie wholly inside (the
 * caller split the ends first); a leaf that does not is -EAGAIN, and so is
 * a table frozen under us by a coalesce. *emptied: this call brought t's
 * count to zero. In prune mode leaves are kept and only empty tables owned
 * by the call are unlinked. */
static int PT(unmap_table)(struct pt_op *op, struct pt_table *t, uint64_t iova,
			   uint64_t last, uint64_t *bytes, bool *emptied)
{
	const struct pt_geo *geo = &op->dom->geo;
	unsigned lvl = t->level, shift = pt_shift(geo, lvl);
	uint64_t sz = UINT64_C(1) << shift;
	unsigned i = pt_index(geo, lvl, iova), end = pt_index(geo, lvl, last);
	unsigned run = 0, run_n = 0;
	uint32_t left = UINT32_MAX;
	uint64_t base = t->iova;
	int r;

	for (; i <= end + 1; i++) {
		uint64_t e = i <= end ? pt_load(t, i) : 0;
		uint64_t s = base + ((uint64_t)i << shift);

		if (e && !fmt_is_table(e, lvl) && !op->prune) {
			if (s < iova || s + (sz - 1) > last)
				return -EAGAIN;
			if (!run_n)
				run = i;
			run_n++;
			continue;
		}
		if (run_n) {
			uint64_t rs = base + ((uint64_t)run << shift);
			if (!pt_clear_run(t, run, run_n, NULL, &left))
				return -EAGAIN; /* frozen by a coalesce */
			*bytes += run_n * sz;
			pt_gather_range(op->g, rs, rs + run_n * sz - 1,
					IOPGT_FLUSH_MODIFIED);
			run_n = 0;
		}
		if (e && fmt_is_table(e, lvl)) {
			struct pt_table *c = PT(child_of)(t, i, e);
			bool ce = false;

			if (!c) {
				pt_relax();
				i--;
				continue;
			}
			r = PT(unmap_table)(op, c, s < iova ? iova : s,
					    last - s < sz - 1 ? last
							      : s + (sz - 1),
					    bytes, &ce);
			if (r)
				return r;
			if (op->prune)
				ce = c->owner == op->owner &&
				     !atomic_load_explicit(&c->used,
							   memory_order_acquire);
			if (ce)
				PT(unlink_empty)(op, t, i, c, &left);
		}
	}
	*emptied = left == 0;
	return 0;
}

/* Split leaves so that none straddles addr. Spare tables come from op. */
static int PT(split_at)(struct pt_op *op, uint64_t addr)
{
	struct iopgt_domain *dom = op->dom;
	const struct pt_geo *geo = &dom->geo;
	struct pt_table *t = dom->root;
	unsigned lvl = geo->levels - 1;

	for (;;) {
		unsigned idx = pt_index(geo, lvl, addr), n, shift;
		uint64_t e = pt_load(t, idx), old, sz;
		struct pt_table *c;

		if (!e)
			return 0;
		if (fmt_is_table(e, lvl)) {
			if (!(c = PT(child_of)(t, idx, e))) {
				pt_relax();
				continue;
			}
			t = c;
			lvl--;
			continue;
		}
		sz = PT(size)(geo, lvl);
		if (!(addr & (sz - 1)))
			return 0;
		/* lvl > 0: addr is granule aligned, so a level-0 leaf
		 * never straddles it. */
		c = op->spare[lvl - 1];
		if (c)
			op->spare[lvl - 1] = c->next;
		else if (!(c = pt_table_alloc(dom, lvl - 1, 0)))
			return -ENOMEM;
		c->next = NULL;
		c->iova = addr & ~(sz - 1);
		shift = pt_shift(geo, lvl - 1);
		n = pt_nr_entries(geo, lvl - 1);
		pt_set_run(c, 0, n,
			   fmt_make_leaf(fmt_leaf_pa(e, pt_shift(geo, lvl)),
					 lvl - 1, fmt_leaf_attrs(e, lvl)) |
				   (e & FMT_HW_BITS),
			   UINT64_C(1) << shift, NULL);
		old = e;
		if (!pt_replace(t, idx, &old, fmt_make_table(c->pa))) {
			/* The hardware set a bit or another unmap split it:
			 * empty the spare and look again. */
			pt_clear_run(c, 0, n, NULL, &(uint32_t){0});
			c->next = op->spare[lvl - 1];
			op->spare[lvl - 1] = c;
			continue;
		}
		atomic_store_explicit(&t->child[idx], c, memory_order_release);
		pt_stat_add(&dom->st.split, 1);
		t = c;
		lvl--;
	}
}

/* How many tables per level splitting at addr needs, walking from t at
 * lvl; read-only. */
static void PT(count_split)(struct pt_op *op, struct pt_table *t, unsigned lvl,
			    uint64_t addr, unsigned need[PT_MAX_LEVELS])
{
	const struct pt_geo *geo = &op->dom->geo;

	for (;;) {
		unsigned idx = pt_index(geo, lvl, addr);
		uint64_t e = pt_load(t, idx);
		struct pt_table *c;

		if (!e)
			return;
		if (fmt_is_table(e, lvl)) {
			if (!(c = PT(child_of)(t, idx, e))) {
				pt_relax();
				continue;
			}
			t = c;
			lvl--;
			continue;
		}
		while (lvl > 0 && (addr & (PT(size)(geo, lvl) - 1)))
			need[--lvl]++;
		return;
	}
}

/* count_split for both a and b (a < b), sharing the walk while their paths
 * do. Returns the total number of tables needed. */
static unsigned PT(count_split2)(struct pt_op *op, uint64_t a, uint64_t b,
				 bool has_b, unsigned need[PT_MAX_LEVELS])
{
	const struct pt_geo *geo = &op->dom->geo;
	struct pt_table *t = op->dom->root;
	unsigned lvl = geo->levels - 1, total = 0;

	for (;;) {
		unsigned idx = pt_index(geo, lvl, a);
		uint64_t e;
		struct pt_table *c;

		if (!has_b || pt_index(geo, lvl, b) != idx ||
		    !fmt_is_table(e = pt_load(t, idx), lvl)) {
			PT(count_split)(op, t, lvl, a, need);
			if (has_b)
				PT(count_split)(op, t, lvl, b, need);
			break;
		}
		if (!(c = PT(child_of)(t, idx, e))) {
			pt_relax();
			continue;
		}
		t = c;
		lvl--;
	}
	for (unsigned l = 0; l < PT_MAX_LEVELS; l++)
		total += need[l];
	return total;
}

static void PT(free_spares)(struct pt_op *op)
{
	for (unsigned l = 0; l < PT_MAX_LEVELS; l++) {
		while (op->spare[l]) {
			struct pt_table *c = op->spare[l];
			op->spare[l] = c->next;
			pt_table_free_unpublished(op->dom, c);
		}
	}
}

/* Split both ends of [iova, last] with every table allocated up front, so
 * that an allocation failure changes nothing. */
static int PT(split_ends)(struct pt_op *op, uint64_t iova, uint64_t last)
{
	const struct pt_geo *geo = &op->dom->geo;
	unsigned need[PT_MAX_LEVELS] = { 0 };
	bool top = last == (UINT64_C(1) << geo->ias) - 1;
	int r;

	if (!PT(count_split2)(op, iova, last + 1, !top, need))
		return 0; /* no leaf straddles either end */
	for (unsigned l = 0; l < PT_MAX_LEVELS; l++) {
		while (need[l]--) {
			struct pt_table *c = pt_table_alloc(op->dom, l, 0);
			if (!c) {
				PT(free_spares)(op);
				return -ENOMEM;
			}
			c->next = op->spare[l];
			op->spare[l] = c;
		}
	}
	r = PT(split_at)(op, iova);
	if (!r && !top)
		r = PT(split_at)(op, last + 1);
	return r;
}

/* Unmap (or, in prune mode, drop empty owned tables) over [iova, last];
 * the caller is a counted walker. */
static int64_t PT(unmap_walk)(struct pt_op *op, uint64_t iova, uint64_t last)
{
	uint64_t bytes = 0;
	bool emptied;
	int r;

	for (;;) {
		if (!op->prune) {
			r = PT(split_ends)(op, iova, last);
			if (r)
				break;
		}
		r = PT(unmap_table)(op, op->dom->root, iova, last, &bytes,
				    &emptied);
		if (r != -EAGAIN)
			break;
		pt_relax();
	}
	PT(free_spares)(op);
	if (r && bytes == 0)
		return r;
	return (int64_t)bytes;
}

static int64_t PT(unmap)(struct iopgt_domain *dom, uint64_t iova,
			 uint64_t last, struct iopgt_gather *g)
{
	struct pt_op op = { .dom = dom, .g = g };
	int64_t r;

	pt_walk_enter(dom);
	r = PT(unmap_walk)(&op, iova, last);
	pt_walk_leave(dom);
	return r;
}

/* ------------------------------------------------------------------------
 * Lookup: lock-free; the hardware's own walk, read-only.
 */

static int PT(lookup)(struct iopgt_domain *dom, uint64_t iova,
		      struct iopgt_translation *out)
{
	const struct pt_geo *geo = &dom->geo;
	struct pt_table *t = dom->root;
	unsigned lvl = geo->levels - 1;
	int r = -ENOENT;

	pt_walk_enter(dom);
	for (;;) {
		unsigned idx = pt_index(geo, lvl, iova), shift;
		uint64_t e = pt_load(t, idx);

		if (!e)
			break;
		if (fmt_is_table(e, lvl)) {
			struct pt_table *c = PT(child_of)(t, idx, e);
			if (!c) {
				pt_relax();
				continue;
			}
			if (__builtin_expect(dom->walk_hook != NULL, 0))
				dom->walk_hook(dom->walk_hook_arg, c);
			t = c;
			lvl--;
			continue;
		}
		shift = pt_shift(geo, lvl);
		out->leaf_size = UINT64_C(1) << shift;
		out->pa = fmt_leaf_pa(e, shift) | (iova & (out->leaf_size - 1));
		out->prot = fmt_leaf_prot(e);
		out->dirty = fmt_leaf_dirty(e);
		r = 0;
		break;
	}
	pt_walk_leave(dom);
	return r;
}

/* ------------------------------------------------------------------------
 * The format's entry points
 */

static bool PT(is_table)(uint64_t e, unsigned level)
{
	return fmt_is_table(e, level);
}

static void PT(decode_leaf)(uint64_t e, unsigned level,
			    const struct pt_geo *geo,
			    struct iopgt_translation *out)
{
	unsigned shift = pt_shift(geo, level);
	out->leaf_size = UINT64_C(1) << shift;
	out->pa = fmt_leaf_pa(e, shift);
	out->prot = fmt_leaf_prot(e);
	out->dirty = fmt_leaf_dirty(e);
}

const struct pt_engine PT(engine) = {
	.name = FMT_NAME,
	.format = FMT_FORMAT,
	.max_oas = FMT_MAX_OAS,
	.geometry = fmt_geometry,
	.format_leaf_levels = fmt_leaf_levels,
	.prot_attrs = fmt_prot_attrs,
	.map = PT(map),
	.unmap = PT(unmap),
	.lookup = PT(lookup),
	.is_table = PT(is_table),
	.decode_leaf = PT(decode_leaf),
	.table_pa = fmt_table_pa,
};
