/* SPDX-License-Identifier: MIT */
/*
 * Domains: configuration, create and destroy, the checks every public call
 * makes before it reaches a format's engine, statistics and inspection.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "pt.h"
#include "testhook.h"

#define DEFAULT_TABLE_CACHE 8

const char *iopgt_format_name(enum iopgt_format fmt)
{
	switch (fmt) {
	case IOPGT_FMT_X86_64:
		return "x86_64";
	case IOPGT_FMT_ARM_S2:
		return "arm_s2";
	}
	return "unknown";
}

const char *iopgt_flush_kind_name(enum iopgt_flush_kind kind)
{
	static const char *const names[] = { "none", "added", "modified",
					     "walk" };
	return (unsigned)kind < IOPGT_FLUSH_KINDS ? names[kind] : "unknown";
}

int iopgt_config_init(struct iopgt_config *cfg, enum iopgt_format fmt)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->format = fmt;
	cfg->granule = 12;
	cfg->table_cache = DEFAULT_TABLE_CACHE;
	switch (fmt) {
	case IOPGT_FMT_X86_64:
		cfg->ias = 48;
		cfg->oas = 52;
		return 0;
	case IOPGT_FMT_ARM_S2:
		cfg->ias = 48;
		cfg->oas = 48;
		return 0;
	}
	return -EINVAL;
}

static const struct pt_engine *pick_engine(const struct iopgt_config *cfg)
{
	switch (cfg->format) {
	case IOPGT_FMT_X86_64:
		return &x86_64_engine;
	case IOPGT_FMT_ARM_S2:
		switch (cfg->granule) {
		case 12:
			return &arm_s2_4k_engine;
		case 14:
			return &arm_s2_16k_engine;
		case 16:
			return &arm_s2_64k_engine;
		}
		break;
	}
	return NULL;
}

/* Leaf levels from cfg->leaf_sizes: sizes the format offers at levels that
 * exist, every level from 0 up to the largest, no gaps. */
static int pick_leaf_levels(const struct pt_engine *eng,
			    const struct iopgt_config *cfg, struct pt_geo *geo)
{
	unsigned offered = eng->format_leaf_levels() &
			   ((1u << geo->levels) - 1);
	unsigned mask = 0, level;
	uint64_t sizes = cfg->leaf_sizes, known = 0;

	for (level = 0; level < geo->levels; level++) {
		uint64_t sz = UINT64_C(1) << pt_shift(geo, level);
		if (!(offered & (1u << level)))
			continue;
		known |= sz;
		if (!sizes || (sizes & sz))
			mask |= 1u << level;
	}
	if (sizes & ~known)
		return -EINVAL; /* a size this format cannot hold */
	if (!(mask & 1) || (mask & (mask + 1)))
		return -EINVAL; /* no smallest size, or a gap */
	geo->leaf_levels = mask;
	for (level = 0; mask >> (level + 1); level++)
		;
	geo->max_leaf_level = level;
	return 0;
}

static void noop_flush_range(void *arg, uint64_t iova, uint64_t last,
			     enum iopgt_flush_kind kind)
{
	(void)arg;
	(void)iova;
	(void)last;
	(void)kind;
}

static void noop_flush_all(void *arg)
{
	(void)arg;
}

int iopgt_domain_create(const struct iopgt_config *cfg,
			struct iopgt_domain **out)
{
	const struct pt_engine *eng;
	struct iopgt_domain *dom;
	struct pt_geo geo;
	size_t size;
	int r;

	if (!cfg || !out)
		return -EINVAL;
	*out = NULL;
	eng = pick_engine(cfg);
	if (!eng)
		return -EINVAL;
	if (cfg->options & ~(unsigned)(IOPGT_OPT_CACHING_MODE |
				       IOPGT_OPT_NO_RECLAIM |
				       IOPGT_OPT_NO_COALESCE))
		return -EINVAL;
	memset(&geo, 0, sizeof(geo));
	r = eng->geometry(cfg, &geo);
	if (r)
		return r;
	geo.ias = cfg->ias;
	geo.oas = cfg->oas;
	pt_geo_finish(&geo);
	r = pick_leaf_levels(eng, cfg, &geo);
	if (r)
		return r;

	size = (sizeof(*dom) + 63) & ~(size_t)63;
	dom = aligned_alloc(64, size);
	if (!dom)
		return -ENOMEM;
	memset(dom, 0, size);
	dom->eng = eng;
	dom->geo = geo;
	dom->cfg = *cfg;
	pt_mem_defaults(&dom->cfg.mem);
	if (!dom->cfg.flush.flush_range)
		dom->cfg.flush.flush_range = noop_flush_range;
	if (!dom->cfg.flush.flush_all)
		dom->cfg.flush.flush_all = noop_flush_all;
	dom->cache_limit = cfg->table_cache < PT_CACHE_SLOTS ? cfg->table_cache
							      : PT_CACHE_SLOTS;
	dom->granule_mask = (UINT64_C(1) << geo.granule) - 1;
	dom->ias_mask = ~((UINT64_C(1) << geo.ias) - 1);
	dom->oas_mask = ~((UINT64_C(1) << geo.oas) - 1);
	for (unsigned prot = 0; prot < 32; prot++) {
		uint64_t attrs;
		if (!eng->prot_attrs(prot, &attrs))
			dom->prot_attrs[prot] = attrs; /* never 0: P or AF */
	}
	dom->root = pt_root_alloc(dom);
	if (!dom->root) {
		free(dom);
		return -ENOMEM;
	}
	*out = dom;
	return 0;
}

static void delete_subtree(struct iopgt_domain *dom, struct pt_table *t)
{
	if (t->child) {
		unsigned n = pt_nr_entries(&dom->geo, t->level);
		for (unsigned i = 0; i < n; i++) {
			struct pt_table *c = atomic_load_explicit(
				&t->child[i], memory_order_relaxed);
			if (c)
				delete_subtree(dom, c);
		}
	}
	if (t != dom->root)
		pt_table_delete(dom, t);
}

void iopgt_domain_destroy(struct iopgt_domain *dom)
{
	struct pt_table *t;

	if (!dom)
		return;
	delete_subtree(dom, dom->root);
	t = atomic_exchange_explicit(&dom->waiting, NULL, memory_order_acquire);
	while (t) {
		struct pt_table *next = t->next;
		pt_table_delete(dom, t);
		t = next;
	}
	pt_cache_trim(dom);
	pt_root_free(dom, dom->root);
	free(dom);
}

void iopgt_domain_info(const struct iopgt_domain *dom, struct iopgt_info *info)
{
	memset(info, 0, sizeof(*info));
	info->format = dom->cfg.format;
	info->ias = dom->geo.ias;
	info->oas = dom->geo.oas;
	info->granule = dom->geo.granule;
	info->levels = dom->geo.levels;
	info->start_level = dom->geo.start_level;
	info->root_tables = dom->geo.root_tables;
	info->root_pa = dom->root->pa;
	for (unsigned l = 0; l < dom->geo.levels; l++)
		if (dom->geo.leaf_levels & (1u << l))
			info->leaf_sizes |= UINT64_C(1) << pt_shift(&dom->geo, l);
	info->options = dom->cfg.options;
}

/* ------------------------------------------------------------------------
 * The checks in front of the engine
 */

/* [iova, iova + size) as iova/last inside the input space. */
static int check_range(const struct iopgt_domain *dom, uint64_t iova,
		       uint64_t size, uint64_t *last)
{
	if (!size || ((iova | size) & dom->granule_mask))
		return -EINVAL;
	*last = iova + (size - 1);
	if (*last < iova)
		return -EINVAL; /* wraps around */
	if (*last & dom->ias_mask)
		return -ERANGE;
	return 0;
}

int iopgt_map(struct iopgt_domain *dom, uint64_t iova, uint64_t pa,
	      uint64_t size, unsigned prot, struct iopgt_gather *g)
{
	uint64_t last, pa_last;
	int r = check_range(dom, iova, size, &last);

	if (r)
		return r;
	if (pa & dom->granule_mask)
		return -EINVAL;
	pa_last = pa + (size - 1);
	if (pa_last < pa || (pa_last & dom->oas_mask))
		return -ERANGE;
	/* The engine checks prot (-EINVAL) before it changes anything. */
	return dom->eng->map(dom, iova, pa, last, prot, g);
}

int64_t iopgt_unmap(struct iopgt_domain *dom, uint64_t iova, uint64_t size,
		    struct iopgt_gather *g)
{
	uint64_t last;
	int r = check_range(dom, iova, size, &last);

	if (r)
		return r;
	return dom->eng->unmap(dom, iova, last, g);
}

int iopgt_lookup(struct iopgt_domain *dom, uint64_t iova,
		 struct iopgt_translation *out)
{
	if (iova & dom->ias_mask)
		return -ERANGE;
	return dom->eng->lookup(dom, iova, out);
}

int iopgt_read_and_clear_dirty(struct iopgt_domain *dom, uint64_t iova,
			       uint64_t size, unsigned flags,
			       int (*fn)(void *arg, uint64_t iova, uint64_t size),
			       void *arg, struct iopgt_gather *g)
{
	uint64_t last;
	int r = check_range(dom, iova, size, &last);

	if (r)
		return r;
	if (!fn || (flags & ~(unsigned)IOPGT_DIRTY_NO_CLEAR))
		return -EINVAL;
	return dom->eng->dirty(dom, iova, last, flags, fn, arg, g);
}

/* ------------------------------------------------------------------------
 * Statistics and inspection
 */

static uint64_t rd(const _Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

void iopgt_get_stats(const struct iopgt_domain *dom, struct iopgt_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->table_pages_live = rd(&dom->st.pages_live);
	st->table_bytes_live = rd(&dom->st.bytes_live);
	st->table_pages_peak = rd(&dom->st.pages_peak);
	st->table_bytes_peak = rd(&dom->st.bytes_peak);
	st->table_pages_alloc = rd(&dom->st.pages_alloc);
	st->table_pages_freed = rd(&dom->st.pages_freed);
	st->table_pages_cached = rd(&dom->st.pages_cached);
	st->table_pages_waiting = rd(&dom->st.pages_waiting);
	st->meta_bytes_live = rd(&dom->st.meta_bytes);
	for (unsigned k = 0; k < IOPGT_FLUSH_KINDS; k++)
		st->flushes[k] = rd(&dom->st.flushes[k]);
	st->flush_all = rd(&dom->st.flush_all);
	st->coalesced = rd(&dom->st.coalesced);
	st->split = rd(&dom->st.split);
}

static int each_table(struct iopgt_domain *dom, struct pt_table *t,
		      int (*fn)(void *, const struct iopgt_table_info *),
		      void *arg)
{
	struct iopgt_table_info ti;
	int r;

	ti.level = t->level;
	ti.iova = t->iova;
	ti.span = pt_table_span(&dom->geo, t->level);
	if (t == dom->root)
		ti.span = UINT64_C(1) << dom->geo.ias;
	ti.pa = t->pa;
	ti.va = (const void *)t->va;
	ti.entries = pt_nr_entries(&dom->geo, t->level);
	ti.used = atomic_load_explicit(&t->used, memory_order_relaxed) &
		  ~PT_DEAD;
	r = fn(arg, &ti);
	if (r || !t->child)
		return r;
	for (unsigned i = 0; i < ti.entries; i++) {
		struct pt_table *c = pt_child(t, i);
		if (c && (r = each_table(dom, c, fn, arg)))
			return r;
	}
	return 0;
}

int iopgt_for_each_table(struct iopgt_domain *dom,
			 int (*fn)(void *arg, const struct iopgt_table_info *t),
			 void *arg)
{
	return each_table(dom, dom->root, fn, arg);
}

struct dump_ctx {
	struct iopgt_domain *dom;
	FILE *out;
	unsigned flags;
};

static void prot_str(unsigned prot, char buf[8])
{
	buf[0] = prot & IOPGT_PROT_READ ? 'r' : '-';
	buf[1] = prot & IOPGT_PROT_WRITE ? 'w' : '-';
	buf[2] = prot & IOPGT_PROT_EXEC ? 'x' : '-';
	buf[3] = prot & IOPGT_PROT_USER ? 'u' : '-';
	buf[4] = prot & IOPGT_PROT_MMIO ? 'm' : '-';
	buf[5] = 0;
}

static int dump_table(void *arg, const struct iopgt_table_info *ti)
{
	struct dump_ctx *dc = arg;
	const struct pt_geo *geo = &dc->dom->geo;
	int depth = (int)(geo->levels - 1 - ti->level) * 2;
	const pt_entry_t *va = ti->va;
	uint64_t esz = UINT64_C(1) << pt_shift(geo, ti->level);

	if (fprintf(dc->out,
		    "%*sL%u table iova 0x%016" PRIx64 " span 0x%" PRIx64
		    " pa 0x%" PRIx64 " used %u/%u\n",
		    depth, "", ti->level, ti->iova, ti->span, ti->pa, ti->used,
		    ti->entries) < 0)
		return -EIO;
	if (!(dc->flags & IOPGT_DUMP_ENTRIES))
		return 0;
	for (unsigned i = 0; i < ti->entries; i++) {
		uint64_t e = atomic_load_explicit(&va[i], memory_order_relaxed);
		uint64_t iova = ti->iova + i * esz;
		int n;

		if (!e)
			continue;
		if (dc->dom->eng->is_table(e, ti->level)) {
			n = fprintf(dc->out,
				    "%*s  [%4u] 0x%016" PRIx64 " iova 0x%016" PRIx64
				    " table pa 0x%" PRIx64 "\n",
				    depth, "", i, e, iova,
				    dc->dom->eng->table_pa(e));
		} else {
			struct iopgt_translation tr;
			char p[8];

			dc->dom->eng->decode_leaf(e, ti->level, geo, &tr);
			prot_str(tr.prot, p);
			n = fprintf(dc->out,
				    "%*s  [%4u] 0x%016" PRIx64 " iova 0x%016" PRIx64
				    " leaf 0x%" PRIx64 " pa 0x%" PRIx64
				    " %s%s\n",
				    depth, "", i, e, iova, tr.leaf_size, tr.pa,
				    p, tr.dirty ? " dirty" : "");
		}
		if (n < 0)
			return -EIO;
	}
	return 0;
}

int iopgt_dump(struct iopgt_domain *dom, FILE *out, unsigned flags)
{
	struct dump_ctx dc = { dom, out, flags };

	if (fprintf(out,
		    "domain %s ias %u oas %u granule %u levels %u start_level "
		    "%u root_tables %u root_pa 0x%" PRIx64 "\n",
		    dom->eng->name, dom->geo.ias, dom->geo.oas,
		    dom->geo.granule, dom->geo.levels, dom->geo.start_level,
		    dom->geo.root_tables, dom->root->pa) < 0)
		return -EIO;
	return iopgt_for_each_table(dom, dump_table, &dc);
}

/* ------------------------------------------------------------------------
 * Test hooks
 */

void iopgt__set_test_hooks(struct iopgt_domain *dom, unsigned hooks)
{
	dom->hooks = hooks;
}

void iopgt__set_walk_hook(struct iopgt_domain *dom,
			  void (*fn)(void *arg, const void *table), void *arg)
{
	dom->walk_hook_arg = arg;
	dom->walk_hook = fn;
}

uint64_t iopgt__table_pa(const void *table)
{
	return ((const struct pt_table *)table)->pa;
}
