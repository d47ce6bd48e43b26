/* SPDX-License-Identifier: MIT */
/*
 * Domains: configuration, create and destroy, the checks every public call
 * makes before it reaches a format's engine, statistics and inspection.
 */
#include "pt.h"

#define DEFAULT_TABLE_CACHE 8

/* The sizes of the first version of each growable structure: a caller's
 * structure must hold at least these. Later fields are optional. */
#define CONFIG_SIZE_V1 \
	(offsetof(struct iopgt_config, mem) + sizeof(struct iopgt_mem_ops))

#define STR_(x) #x
#define STR(x) STR_(x)

unsigned iopgt_version(void)
{
	return IOPGT_VERSION;
}

const char *iopgt_version_string(void)
{
	return STR(IOPGT_VERSION_MAJOR) "." STR(IOPGT_VERSION_MINOR) "." STR(
		IOPGT_VERSION_PATCH);
}

/* Copy a structure the library filled to the caller's, of size bytes:
 * what does not fit is dropped, what the library does not have is zero. */
static void copy_out(void *dst, size_t size, const void *src, size_t have)
{
	pt_memcpy(dst, src, size < have ? size : have);
	if (size > have)
		pt_memset((unsigned char *)dst + have, 0, size - have);
}

const char *iopgt_format_name(enum iopgt_format fmt)
{
	const struct pt_format *f = iopgt__format(fmt);

	return f ? f->name : "unknown";
}

const char *iopgt_flush_kind_name(enum iopgt_flush_kind kind)
{
	static const char *const names[] = { "none", "added", "modified",
					     "walk" };
	return (unsigned)kind < IOPGT_FLUSH_KINDS ? names[kind] : "unknown";
}

int iopgt_config_init(struct iopgt_config *cfg, size_t size,
		      enum iopgt_format fmt)
{
	if (!cfg || size < CONFIG_SIZE_V1 || size > PT_STRUCT_SIZE_MAX)
		return -EINVAL;
	/* Fields past our own structure belong to a newer header: zero is
	 * their default, which create accepts. */
	const struct pt_format *f = iopgt__format(fmt);

	pt_memset(cfg, 0, size);
	cfg->size = (uint32_t)size;
	cfg->format = fmt;
	cfg->table_cache = DEFAULT_TABLE_CACHE;
	if (!f) {
		cfg->granule = 12;
		return -EINVAL;
	}
	/* The registry's defaults: the first granule listed. */
	cfg->granule = f->granules[0].granule;
	cfg->ias = f->ias_default;
	cfg->oas = f->oas_default;
	return 0;
}

static uint64_t offered_sizes(const struct pt_engine *eng,
			      const struct pt_geo *geo);

int iopgt_format_info(unsigned index, struct iopgt_format_info *user_info,
		      size_t size)
{
	struct iopgt_format_info i, *info = &i;
	const struct pt_format *f;
	const struct pt_engine *eng;
	struct iopgt_config cfg;
	struct pt_geo geo;

	if (!user_info || size > PT_STRUCT_SIZE_MAX)
		return -EINVAL;
	if (index >= iopgt__nformats)
		return -ENOENT;
	f = &iopgt__formats[index];
	eng = f->granules[0].eng;
	pt_memset(info, 0, sizeof(*info));
	info->format = f->format;
	info->name = f->name;
	info->description = f->description;
	for (unsigned k = 0; k < 4 && f->granules[k].granule; k++)
		info->granules |= UINT64_C(1) << f->granules[k].granule;
	info->ias_min = f->ias_min;
	info->ias_max = f->ias_max;
	info->oas_min = f->oas_min;
	info->oas_max = f->oas_max;
	if (f->oas_values)
		info->oas_values = f->oas_values;
	else
		for (unsigned n = f->oas_min; n <= f->oas_max && n < 64; n++)
			info->oas_values |= UINT64_C(1) << n;
	iopgt_config_init(&cfg, sizeof(cfg), f->format);
	info->ias_default = cfg.ias;
	info->oas_default = cfg.oas;
	info->granule_default = cfg.granule;
	/* The defaults' geometry, as iopgt_domain_create() finds it. */
	pt_memset(&geo, 0, sizeof(geo));
	if (!eng->geometry(&cfg, &geo)) {
		pt_geo_finish(&geo);
		info->leaf_sizes = offered_sizes(eng, &geo);
		info->levels_default = geo.levels;
	}
	for (unsigned prot = 0; prot < 32; prot++) {
		uint64_t attrs;
		if (!eng->prot_attrs(prot, &attrs))
			info->prots |= UINT32_C(1) << prot;
	}
	if (eng->hw_dirty)
		info->flags |= IOPGT_FORMAT_DIRTY;
	if (eng->ias_within_oas)
		info->flags |= IOPGT_FORMAT_IAS_WITHIN_OAS;
	if (eng->input_sign_extend)
		info->flags |= IOPGT_FORMAT_SIGN_EXTEND;
	if (eng->grows)
		info->flags |= IOPGT_FORMAT_GROWS;
	if (f->first_stage)
		info->flags |= IOPGT_FORMAT_FIRST_STAGE;
	info->iommu = f->iommu;
	{
		uint64_t attrs;
		if (!eng->prot_attrs(IOPGT_PROT_READ | PT_PROT_SNOOP, &attrs))
			info->flags |= IOPGT_FORMAT_SNOOP;
	}
	copy_out(user_info, size, info, sizeof(*info));
	return 0;
}

/* The sizes a leaf at level may have, if that level has leaves at all: its
 * entry size, and spans of 2^k entries short of the table's size (fewer
 * index bits in a partial root). */
static uint64_t level_sizes(const struct pt_geo *geo, unsigned level)
{
	unsigned b = level == geo->levels - 1 && geo->root_bits < geo->bits
			     ? geo->root_bits
			     : geo->bits;
	unsigned sh = pt_shift(geo, level);

	return ((UINT64_C(1) << b) - 1) << sh;
}

/* The leaf sizes a geometry offers: one-item leaves of each level whose
 * fmt_leaf_sizes holds the level's entry size, and the multi-item sizes
 * (leaf spans) of those levels: a span is split into smaller spans and
 * single items, so a level offers spans only with its one-item leaf. */
static uint64_t offered_sizes(const struct pt_engine *eng,
			      const struct pt_geo *geo)
{
	uint64_t sizes = 0;

	for (unsigned level = 0; level < geo->levels; level++) {
		uint64_t at = eng->leaf_sizes(level, geo) &
			      level_sizes(geo, level);

		if (at & (UINT64_C(1) << pt_shift(geo, level)))
			sizes |= at;
	}
	return sizes;
}

/* Leaf levels from cfg->leaf_sizes: sizes the format offers at levels that
 * exist, every level from 0 up to the largest, no gaps; and the spans
 * chosen at each of those levels. */
static int pick_leaf_levels(const struct pt_engine *eng,
			    const struct iopgt_config *cfg, struct pt_geo *geo)
{
	uint64_t offered = offered_sizes(eng, geo);
	unsigned mask = 0, level;
	uint64_t sizes = cfg->leaf_sizes, known = 0;

	geo->span_levels = 0;
	for (level = 0; level < geo->levels; level++) {
		unsigned sh = pt_shift(geo, level);
		uint64_t sz = UINT64_C(1) << sh;
		uint64_t at = offered & level_sizes(geo, level);

		geo->spans[level] = 0;
		if (!(offered & sz))
			continue;
		known |= at;
		if (sizes && !(sizes & sz)) {
			if (sizes & at)
				return -EINVAL; /* a span without its item */
			continue;
		}
		mask |= 1u << level;
		geo->spans[level] =
			(unsigned)(((sizes ? sizes : offered) & at) >> sh) & ~1u;
		if (geo->spans[level])
			geo->span_levels |= 1u << level;
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

/* The caller's configuration as this library's structure: fields the
 * caller's (older) structure lacks take their defaults; fields of a newer
 * structure that this library does not know must be zero. */
static int config_copy(struct iopgt_config *c, const struct iopgt_config *cfg)
{
	size_t size = cfg->size;

	if (size < CONFIG_SIZE_V1 || size > PT_STRUCT_SIZE_MAX)
		return -EINVAL; /* not filled by iopgt_config_init() */
	pt_memset(c, 0, sizeof(*c));
	if (size > sizeof(*c)) {
		const unsigned char *p = (const unsigned char *)cfg;
		for (size_t i = sizeof(*c); i < size; i++)
			if (p[i])
				return -E2BIG;
		size = sizeof(*c);
	}
	pt_memcpy(c, cfg, size);
	c->size = sizeof(*c);
	return 0;
}

/* Fill in the allocators the caller left NULL; *hosted_mem receives the
 * built-in table allocator's state, if used. A freestanding build has no
 * built-in allocators: the caller must give them. */
static int mem_defaults(struct iopgt_mem_ops *mem, void **hosted_mem,
			unsigned oas)
{
#if __STDC_HOSTED__
	return iopgt__mem_defaults(mem, hosted_mem, oas);
#else
	(void)oas;
	*hosted_mem = NULL;
	return mem->table_alloc && mem->table_free && mem->meta_alloc &&
		       mem->meta_free
		       ? 0
		       : -EINVAL;
#endif
}

static void mem_release(void *hosted_mem)
{
#if __STDC_HOSTED__
	iopgt__mem_release(hosted_mem);
#else
	(void)hosted_mem;
#endif
}

/* The domains' stamps (iopgt_domain.stamp): 2^64 creations before one
 * repeats. */
static _Atomic uint64_t stamps;

/* The domain is aligned to a cache line (its counters are); meta_alloc
 * promises only what malloc does, so allocate a line more and align. The
 * pointer to free sits just before the domain. */
static struct iopgt_domain *domain_alloc(const struct iopgt_mem_ops *mem)
{
	size_t size = sizeof(struct iopgt_domain) + 64 + sizeof(void *);
	unsigned char *raw = mem->meta_alloc(mem->arg, size);
	uintptr_t p;

	if (!raw)
		return NULL;
	p = ((uintptr_t)raw + sizeof(void *) + 63) & ~(uintptr_t)63;
	((void **)p)[-1] = raw;
	pt_memset((void *)p, 0, sizeof(struct iopgt_domain));
	((struct iopgt_domain *)p)->stamp =
		atomic_fetch_add_explicit(&stamps, 1, memory_order_relaxed) + 1;
	return (struct iopgt_domain *)p;
}

static void domain_free(struct iopgt_domain *dom)
{
	struct iopgt_mem_ops mem = dom->cfg.mem;

	mem.meta_free(mem.arg, ((void **)dom)[-1],
		      sizeof(struct iopgt_domain) + 64 + sizeof(void *));
}

/* The last IOVA under a root at level top (a growing domain's roots below
 * its largest fill their tables). */
static uint64_t top_last(const struct iopgt_domain *dom, unsigned top)
{
	if (top < dom->geo.levels - 1)
		return (UINT64_C(1) << (dom->geo.shift[top] + dom->geo.bits)) - 1;
	return dom->geo.ias >= 64 ? UINT64_MAX
				 : (UINT64_C(1) << dom->geo.ias) - 1;
}

int iopgt_domain_create(const struct iopgt_config *user_cfg,
			struct iopgt_domain **out)
{
	const struct pt_engine *eng;
	const struct pt_strategy *strat;
	struct iopgt_domain *dom;
	struct iopgt_config c, *cfg = &c;
	void *hosted_mem = NULL;
	struct pt_geo geo;
	unsigned top;
	int r;

	if (!user_cfg || !out)
		return -EINVAL;
	*out = NULL;
	r = config_copy(cfg, user_cfg);
	if (r)
		return r;
	eng = iopgt__engine(cfg->format, cfg->granule);
	if (!eng)
		return -EINVAL;
	if (cfg->options & ~(unsigned)(IOPGT_OPT_CACHING_MODE |
				       IOPGT_OPT_NO_RECLAIM |
				       IOPGT_OPT_NO_COALESCE |
				       IOPGT_OPT_NO_COUNTS |
				       IOPGT_OPT_FORCE_SNOOP |
				       IOPGT_OPT_COUNTS |
				       IOPGT_OPT_ONE_GATHER))
		return -EINVAL;
	if ((cfg->options & IOPGT_OPT_COUNTS) &&
	    (cfg->options & IOPGT_OPT_NO_COUNTS))
		return -EINVAL;
	if (cfg->gather_policy >= IOPGT_GATHER_POLICIES)
		return -EINVAL;
	/* The policies that flush from inside map and unmap call the flush
	 * callbacks inside the walker's section, which under RCU is the
	 * application's read-side critical section: a callback that blocks,
	 * or takes a lock a thread waiting for a grace period holds, would
	 * deadlock. */
	if ((cfg->gather_policy == IOPGT_GATHER_EARLY ||
	     cfg->gather_policy == IOPGT_GATHER_DISJOINT) &&
	    cfg->strategy == IOPGT_STRATEGY_RCU)
		return -EINVAL;
	if (cfg->options & IOPGT_OPT_FORCE_SNOOP) {
		uint64_t attrs;

		r = eng->prot_attrs(IOPGT_PROT_READ | PT_PROT_SNOOP, &attrs);
		if (r)
			return r; /* the format cannot force snooping */
	}
	strat = iopgt__strategy(cfg, &r);
	if (!strat)
		return r;
	pt_memset(&geo, 0, sizeof(geo));
	r = eng->geometry(cfg, &geo);
	if (r)
		return r;
	top = geo.levels - 1;
	if (cfg->ias_max || cfg->grow || cfg->grow_arg) {
		/* A growing domain: the geometry of its largest input size,
		 * of which it first walks the levels that ias fills. */
		struct iopgt_config mc = *cfg;

		if (!eng->grows || !cfg->grow || cfg->ias_max <= cfg->ias ||
		    geo.root_bits != geo.bits || geo.root_tables != 1)
			return -EINVAL;
		mc.ias = cfg->ias_max;
		pt_memset(&geo, 0, sizeof(geo));
		r = eng->geometry(&mc, &geo);
		if (r)
			return r;
		geo.ias = cfg->ias_max;
	} else {
		geo.ias = cfg->ias;
	}
	geo.oas = cfg->oas;
	pt_geo_finish(&geo);
	r = pick_leaf_levels(eng, cfg, &geo);
	if (r)
		return r;
	/* A growing domain's first root must never be replaced by a leaf
	 * of the root above it (it is pinned): no leaves above its level. */
	if (cfg->ias_max && (geo.leaf_levels >> (top + 1)))
		return -EINVAL;

	/* Segments: two table pages at least (one for the descriptors). */
	if (!cfg->segment_size) {
		cfg->segment_size = UINT64_C(1) << 21;
		if (cfg->segment_size < 2 * geo.table_size)
			cfg->segment_size = 2 * geo.table_size;
	}
	if ((cfg->segment_size & (cfg->segment_size - 1)) ||
	    cfg->segment_size < 2 * geo.table_size ||
	    cfg->segment_size > (UINT64_C(1) << 30))
		return -EINVAL;

	/* Half a pair of callbacks would mix the caller's pages with ours. */
	if (!cfg->mem.table_alloc != !cfg->mem.table_free ||
	    !cfg->mem.meta_alloc != !cfg->mem.meta_free)
		return -EINVAL;
	r = mem_defaults(&cfg->mem, &hosted_mem, geo.oas);
	if (r)
		return r;
	dom = domain_alloc(&cfg->mem);
	if (!dom) {
		mem_release(hosted_mem);
		return -ENOMEM;
	}
	dom->eng = eng;
	dom->strat = strat;
	dom->geo = geo;
	dom->cfg = *cfg;
	dom->hosted_mem = hosted_mem;
#if __STDC_HOSTED__
	dom->clock_ns = iopgt__clock_ns;
#endif
	dom->table_arg = hosted_mem ? hosted_mem : cfg->mem.arg;
	if (!dom->cfg.flush.flush_range)
		dom->cfg.flush.flush_range = noop_flush_range;
	if (!dom->cfg.flush.flush_all)
		dom->cfg.flush.flush_all = noop_flush_all;
	dom->cache_limit = cfg->table_cache < PT_CACHE_SLOTS ? cfg->table_cache
							      : PT_CACHE_SLOTS;
	dom->table_shift = (unsigned)__builtin_ctzll(geo.table_size);
	dom->seg_mask = (uintptr_t)cfg->segment_size - 1;
	dom->seg_pages = (unsigned)(cfg->segment_size >> dom->table_shift);
	dom->seg_meta_pages =
		(unsigned)((dom->seg_pages * sizeof(struct pt_table) +
			    geo.table_size - 1) >> dom->table_shift);
	dom->seg_desc_off = (uintptr_t)(dom->seg_pages - dom->seg_meta_pages)
			    << dom->table_shift;
	dom->granule_mask = (UINT64_C(1) << geo.granule) - 1;
	dom->ias_mask = ~((UINT64_C(1) << geo.ias) - 1);
	dom->oas_mask = ~((UINT64_C(1) << geo.oas) - 1);
	if (eng->input_sign_extend) {
		/* The root spans the hardware's walk width, of which the ias
		 * takes the sign-extended part (fmt_geometry, contract.h). */
		unsigned width = geo.shift[geo.levels - 1] + geo.root_bits;

		pt_assert("a sign-extending format's root spans at least the "
			  "ias",
			  width >= geo.ias && width <= 64);
		dom->in_bias = UINT64_C(1) << (geo.ias - 1);
		dom->in_sext = 64 - width;
	}
	for (unsigned prot = 0; prot < 32; prot++) {
		uint64_t attrs;
		unsigned p = prot;

		if (cfg->options & IOPGT_OPT_FORCE_SNOOP)
			p |= PT_PROT_SNOOP;
		if (!eng->prot_attrs(p, &attrs))
			dom->prot_attrs[prot] = attrs; /* never 0 */
	}
	dom->ias_max = cfg->ias_max;
	dom->top.uncounted = pt_uncounted_options(dom->cfg.options);
	dom->top.walk = strat->walk;
	if (dom->ias_max) {
		/* A table page of a segment (whose first fixes va_off), so
		 * that it is found like any other once a grown root links
		 * it; reachable and aligned as every segment is. */
		dom->root = iopgt__table_alloc(dom, top, 0);
		if (dom->root)
			dom->root->pinned = 1;
		r = -ENOMEM;
	} else {
		dom->root = iopgt__root_alloc(dom, &r);
	}
	if (!dom->root) {
		iopgt__segments_destroy(dom);
		goto fail;
	}
	dom->top.first = (struct pt_topv){
		.va = dom->root->va,
		.level = top,
		.shift = geo.shift[top],
		.mask = geo.mask[top],
		.t = dom->root,
		.last = top_last(dom, top),
	};
	atomic_store_explicit(&dom->top.v, &dom->top.first,
			      memory_order_relaxed);
	pt_set_paths(dom);
	pt_set_sync(dom);
	r = strat->setup ? strat->setup(dom) : 0;
	if (r) {
		iopgt__segments_destroy(dom);
		if (!dom->ias_max)
			iopgt__root_free(dom, dom->root);
		goto fail;
	}
	*out = dom;
	return 0;
fail:
	domain_free(dom);
	mem_release(hosted_mem);
	return r;
}

/* The descriptor of the table that table entry e of a table at `level`
 * names. */
static struct pt_table *child_of(const struct iopgt_domain *dom, uint64_t e,
				 unsigned level)
{
	return pt_desc(dom, pt_p2v(dom, dom->eng->table_pa(e, level)));
}

/* Every live table's count equals its non-empty entries (no writer runs:
 * destroy's precondition). */
static void check_counts(struct iopgt_domain *dom, struct pt_table *t)
{
	unsigned n = pt_nr_entries(&dom->geo, t->level), used = 0;

	for (unsigned i = 0; i < n; i++) {
		uint64_t e = atomic_load_explicit(&t->va[i],
						  memory_order_relaxed);
		if (!e)
			continue;
		used++;
		if (dom->eng->is_table(e, t->level))
			check_counts(dom, child_of(dom, e, t->level));
	}
	pt_assert_expensive(
		"a table's count equals its non-empty entries",
		!pt_counted(dom) || used == pt_count(t));
	pt_assert_expensive(
		"no linked table is frozen or has a writer inside at destroy",
		(atomic_load_explicit(&t->st, memory_order_relaxed) >> 32) ==
			0);
}

void iopgt_domain_destroy(struct iopgt_domain *dom)
{
	void *hosted_mem;

	if (!dom)
		return;
	pt_assert("every gather of the domain was synced before destroy",
		  atomic_load_explicit(&dom->gathered, memory_order_relaxed) ==
			  0);
	if (IOPGT_DEBUG >= 2 && !(dom->hooks & PT_HOOK_OVERLAP))
		check_counts(dom, pt_top(dom)->t);
	/* Tables the strategy still holds elsewhere (RCU callbacks) come
	 * back first; then every table page, in the tree or waiting, lies in
	 * a segment. */
	dom->strat->barrier(dom);
	if (dom->strat->teardown)
		dom->strat->teardown(dom);
	atomic_store_explicit(&dom->waiting, NULL, memory_order_relaxed);
	iopgt__segments_destroy(dom); /* a growing domain's roots too */
	if (!dom->ias_max)
		iopgt__root_free(dom, dom->root);
	hosted_mem = dom->hosted_mem;
	domain_free(dom);
	mem_release(hosted_mem); /* every table page is back */
}

/* Grow the domain until its root's span holds last (iopgt_config.ias_max):
 * make the roots needed above the current one, entry 0 of each naming the
 * one below, so that the new root translates exactly as the old one did
 * and a walk or writer still going down from the old root works on the
 * same tree; hand the new root to the hardware (the grow callback); and
 * only then let walks start from it (dom->top.v, release: its entries
 * before it). One thread grows at a time (grow_lock); the others that
 * need a larger root wait for it and find it grown. The roots passed over
 * stay pinned (never unlinked, coalesced or freed before destroy): a
 * cursor that started from one takes it as the top of its path
 * (docs/design.md, "A root that grows"; model/grow.pml checks the
 * order). */
int iopgt__grow(struct iopgt_domain *dom, uint64_t last)
{
	struct pt_table *made[PT_MAX_LEVELS];
	const struct pt_topv *tv, *below;
	struct iopgt_hw_config hw;
	unsigned n = 0, l;
	int r = 0;

	while (atomic_exchange_explicit(&dom->grow_lock, 1,
					memory_order_acquire))
		pt_relax();
	tv = pt_top(dom);
	if (last <= tv->last)
		goto out; /* grown meanwhile */
	below = tv;
	for (l = tv->level + 1; l < dom->geo.levels; l++) {
		struct pt_table *t = iopgt__table_alloc(dom, l, 0);

		if (!t) {
			r = -ENOMEM;
			goto undo;
		}
		made[n++] = t;
		t->flags = PT_F_DIRTY;
		t->pinned = 1;
		atomic_store_explicit(&t->st, pt_counted(dom) ? 1 : 0,
				      memory_order_relaxed);
		if (n > 1 || !PT_BROKEN(dom, PT_HOOK_BREAK_GROW_LINK))
			atomic_store_explicit(
				&t->va[0],
				dom->eng->make_table(below->t->pa, l),
				memory_order_release);
		dom->tops[l] = (struct pt_topv){
			.va = t->va,
			.level = l,
			.shift = dom->geo.shift[l],
			.mask = dom->geo.mask[l],
			.t = t,
			.last = top_last(dom, l),
		};
		below = &dom->tops[l];
		if (last <= below->last)
			break;
	}
	pt_assert("a map within ias_max finds a root that holds it",
		  n && last <= below->last);
	if (PT_BROKEN(dom, PT_HOOK_BREAK_GROW_ORDER))
		atomic_store_explicit(&dom->top.v, below, memory_order_release);
	PT_YIELD(dom, PT_Y_GROW_CALL, below->level, 0);
	iopgt__hw_config(dom, below, &hw);
	r = dom->cfg.grow(dom->cfg.grow_arg, &hw);
	if (PT_BROKEN(dom, PT_HOOK_BREAK_GROW_LINK))
		atomic_store_explicit(&made[0]->va[0],
				      dom->eng->make_table(tv->t->pa,
							   tv->level + 1),
				      memory_order_release);
	if (r) {
		if (r > 0)
			r = -EIO; /* not a negative errno: still a failure */
		atomic_store_explicit(&dom->top.v, tv, memory_order_relaxed);
		goto undo;
	}
	atomic_store_explicit(&dom->top.v, below, memory_order_release);
	goto out;
undo:
	while (n--) {
		atomic_store_explicit(&made[n]->va[0], 0, memory_order_relaxed);
		atomic_store_explicit(&made[n]->st, 0, memory_order_relaxed);
		iopgt__table_free_unpublished(dom, made[n]);
	}
out:
	atomic_store_explicit(&dom->grow_lock, 0, memory_order_release);
	return r;
}

/* The geometry the hardware walks with the root tv: the domain's, or, in
 * a growing domain, that of the input size tv's levels cover. */
static void walked_geo(const struct iopgt_domain *dom,
		       const struct pt_topv *tv, struct pt_geo *g)
{
	struct iopgt_config c = dom->cfg;

	*g = dom->geo;
	if (!dom->ias_max || tv->level == dom->geo.levels - 1)
		return;
	int r;

	c.ias = tv->shift + dom->geo.bits;
	r = dom->eng->geometry(&c, g);
	pt_assert("a grown root's input size has a geometry",
		  r == 0 && g->levels == tv->level + 1);
	(void)r;
	g->ias = c.ias;
	g->oas = dom->geo.oas;
}

int iopgt_domain_info(const struct iopgt_domain *dom,
		      struct iopgt_info *user_info, size_t size)
{
	struct iopgt_info i, *info = &i;
	const struct pt_topv *tv;
	struct pt_geo g;

	if (!dom || !user_info)
		return -EINVAL;
	tv = pt_top(dom);
	walked_geo(dom, tv, &g);
	pt_memset(info, 0, sizeof(*info));
	info->format = dom->cfg.format;
	info->ias = g.ias;
	info->oas = dom->geo.oas;
	info->granule = dom->geo.granule;
	info->levels = g.levels;
	info->start_level = g.start_level;
	info->root_tables = dom->geo.root_tables;
	info->root_pa = tv->t->pa;
	info->ias_max = dom->ias_max;
	for (unsigned l = 0; l < dom->geo.levels; l++)
		if (dom->geo.leaf_levels & (1u << l))
			info->leaf_sizes |=
				(uint64_t)(dom->geo.spans[l] | 1u)
				<< pt_shift(&dom->geo, l);
	info->options = dom->cfg.options;
	info->strategy = dom->cfg.strategy;
	/* The lower part ends below 2^ias, or 2^(ias-1) when the format
	 * sign-extends; the upper half starts 2^(ias-1) below 2^64. */
	info->iova_last = (UINT64_C(1) << dom->geo.ias) - dom->in_bias - 1;
	info->iova_upper = dom->in_bias ? 0 - dom->in_bias : 0;
	copy_out(user_info, size, info, sizeof(*info));
	return 0;
}

/* ------------------------------------------------------------------------
 * The checks in front of the engine
 */

/* [iova, iova + size) as iova/last inside the input space: below 2^ias,
 * or, where the format sign-extends, canonical and within one half. In
 * line: map and unmap are hot. */
static inline __attribute__((always_inline)) int
check_range(const struct iopgt_domain *dom, uint64_t iova, uint64_t size,
	    uint64_t *last)
{
	uint64_t bl;

	if (!size || ((iova | size) & dom->granule_mask))
		return -EINVAL;
	*last = iova + (size - 1);
	if (*last < iova)
		return -EINVAL; /* wraps around */
	/* pt_in_space(dom, iova, *last), written for the hot path: the
	 * biased last lies below 2^ias, and the biased range does not wrap
	 * (its last is at least its length less one), which one across
	 * the hole between the halves would. */
	bl = *last + dom->in_bias;
	if ((bl & dom->ias_mask) || bl < size - 1)
		return -ERANGE;
	return 0;
}

static inline int map_checked(struct iopgt_domain *dom, uint64_t iova,
			      uint64_t pa, uint64_t size, unsigned prot,
			      struct iopgt_gather *g)
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

/* check_range for one smallest page (size is granule_mask + 1), the
 * common call: the same checks in the same order, less those that the
 * length passes by itself (aligned, a page at an aligned address does not
 * wrap around). */
static inline __attribute__((always_inline)) int
check_page(const struct iopgt_domain *dom, uint64_t iova)
{
	const uint64_t m = dom->granule_mask;
	const uint64_t bl = iova + m + dom->in_bias;

	if (iova & m)
		return -EINVAL;
	if ((bl & dom->ias_mask) || bl < m)
		return -ERANGE;
	return 0;
}

/* map_checked for one smallest page (check_page). */
static inline __attribute__((always_inline)) int
map_page_checked(struct iopgt_domain *dom, uint64_t iova, uint64_t pa,
		 uint64_t size, unsigned prot, struct iopgt_gather *g)
{
	const uint64_t m = dom->granule_mask;
	int r = check_page(dom, iova);

	if (r)
		return r;
	if (pa & m)
		return -EINVAL;
	if ((pa + m) & dom->oas_mask)
		return -ERANGE;
	return dom->hot.map_page(dom, iova, pa, size, prot, g);
}

static __attribute__((noinline)) int
map_bind(struct iopgt_domain *dom, uint64_t iova, uint64_t pa, uint64_t size,
	 unsigned prot, struct iopgt_gather *g)
{
	int r = iopgt__gather_open(dom, g);

	if (r)
		return r;
	r = map_checked(dom, iova, pa, size, prot, g);
	if (r)
		iopgt__gather_unopen(dom, g);
	return r;
}

int iopgt_map(struct iopgt_domain *dom, uint64_t iova, uint64_t pa,
	      uint64_t size, unsigned prot, struct iopgt_gather *g)
{
	if (!pt_gather_bound(dom, g))
		return map_bind(dom, iova, pa, size, prot, g);
	if (size - 1 == dom->granule_mask)
		return map_page_checked(dom, iova, pa, size, prot, g);
	return map_checked(dom, iova, pa, size, prot, g);
}

static inline int64_t unmap_checked(struct iopgt_domain *dom, uint64_t iova,
				    uint64_t size, struct iopgt_gather *g)
{
	uint64_t last;
	int r = check_range(dom, iova, size, &last);

	if (r)
		return r;
	return dom->eng->unmap(dom, iova, last, g);
}

/* unmap_checked for one smallest page (check_page). */
static inline __attribute__((always_inline)) int64_t
unmap_page_checked(struct iopgt_domain *dom, uint64_t iova, uint64_t size,
		   struct iopgt_gather *g)
{
	int r = check_page(dom, iova);

	if (r)
		return r;
	return dom->hot.unmap_page(dom, iova, size, g);
}

static __attribute__((noinline)) int64_t
unmap_bind(struct iopgt_domain *dom, uint64_t iova, uint64_t size,
	   struct iopgt_gather *g)
{
	int r = iopgt__gather_open(dom, g);
	int64_t n;

	if (r)
		return r;
	n = unmap_checked(dom, iova, size, g);
	if (n < 0)
		iopgt__gather_unopen(dom, g);
	return n;
}

int64_t iopgt_unmap(struct iopgt_domain *dom, uint64_t iova, uint64_t size,
		    struct iopgt_gather *g)
{
	if (!pt_gather_bound(dom, g))
		return unmap_bind(dom, iova, size, g);
	if (size - 1 == dom->granule_mask)
		return unmap_page_checked(dom, iova, size, g);
	return unmap_checked(dom, iova, size, g);
}

int iopgt_lookup(struct iopgt_domain *dom, uint64_t iova,
		 struct iopgt_translation *out)
{
	if (!dom || !out)
		return -EINVAL;
	if ((iova + dom->in_bias) & dom->ias_mask)
		return -ERANGE; /* beyond the input size, or not canonical */
	return dom->hot.lookup(dom, iova, out);
}

int iopgt_read_and_clear_dirty(struct iopgt_domain *dom, uint64_t iova,
			       uint64_t size, unsigned flags,
			       int (*fn)(void *arg, uint64_t iova, uint64_t size),
			       void *arg, struct iopgt_gather *g)
{
	uint64_t last;
	int r = pt_gather_use(dom, g);

	if (r)
		return r;
	r = check_range(dom, iova, size, &last);
	if (!r && (!fn || (flags & ~(unsigned)IOPGT_DIRTY_NO_CLEAR)))
		r = -EINVAL;
	if (!r)
		r = dom->eng->dirty(dom, iova, last, flags, fn, arg, g);
	if (r < 0)
		iopgt__gather_unopen(dom, g);
	return r;
}

/* ------------------------------------------------------------------------
 * Statistics and inspection
 */

static uint64_t rd(const _Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

int iopgt_get_stats(const struct iopgt_domain *dom,
		    struct iopgt_stats *user_st, size_t size)
{
	struct iopgt_stats s, *st = &s;

	if (!dom || !user_st)
		return -EINVAL;
	pt_memset(st, 0, sizeof(*st));
	st->table_pages_live = rd(&dom->st.pages_live);
	st->table_bytes_live = rd(&dom->st.bytes_live);
	st->table_pages_peak = rd(&dom->st.pages_peak);
	st->table_bytes_peak = rd(&dom->st.bytes_peak);
	st->table_pages_alloc = rd(&dom->st.pages_alloc);
	st->table_pages_freed = rd(&dom->st.pages_freed);
	st->table_pages_cached = iopgt__pages_cached(
		(struct iopgt_domain *)(uintptr_t)dom);
	st->table_pages_waiting = rd(&dom->st.pages_waiting);
	st->reclaim_waits = rd(&dom->st.sync_waits);
	st->freed_by_callers = rd(&dom->st.freed_by[PT_BY_CALLER]);
	st->freed_by_worker = rd(&dom->st.freed_by[PT_BY_WORKER]);
	st->free_ns_callers = rd(&dom->st.free_ns[PT_BY_CALLER]);
	st->free_ns_worker = rd(&dom->st.free_ns[PT_BY_WORKER]);
	st->deferred_batches = rd(&dom->st.deferred);
	st->segment_bytes_live = rd(&dom->st.segments) *
				 ((uint64_t)dom->seg_mask + 1);
	st->meta_bytes_live = rd(&dom->st.segments) *
				      ((uint64_t)dom->seg_meta_pages
				       << dom->table_shift) +
			      sizeof(struct iopgt_domain);
	for (unsigned i = 0; i < PT_SHARDS; i++) {
		const struct pt_shard *sh = &dom->shards[i];

		for (unsigned k = 0; k < IOPGT_FLUSH_KINDS; k++)
			st->flushes[k] += rd(&sh->flushes[k]);
		st->flush_all += rd(&sh->flush_all);
	}
	st->coalesced = rd(&dom->st.coalesced);
	st->split = rd(&dom->st.split);
	copy_out(user_st, size, st, sizeof(*st));
	return 0;
}

int iopgt_hw_config(const struct iopgt_domain *dom, struct iopgt_hw_config *hw,
		    size_t size)
{
	struct iopgt_hw_config v;

	if (!dom || !hw)
		return -EINVAL;
	iopgt__hw_config(dom, pt_top(dom), &v);
	copy_out(hw, size, &v, sizeof(v));
	return 0;
}

void iopgt__hw_config(const struct iopgt_domain *dom, const struct pt_topv *tv,
		  struct iopgt_hw_config *v)
{
	struct pt_geo g;

	walked_geo(dom, tv, &g);
	pt_memset(v, 0, sizeof(*v));
	v->format = dom->cfg.format;
	v->levels = g.levels;
	v->root = tv->t->pa;
	dom->eng->hw_config(&g, v->root, v);
}

static int each_table(struct iopgt_domain *dom, const struct pt_topv *tv,
		      struct pt_table *t, uint64_t iova,
		      int (*fn)(void *, const struct iopgt_table_info *),
		      void *arg)
{
	struct iopgt_table_info ti;
	int r;

	ti.level = t->level;
	ti.iova = iova;
	ti.span = pt_table_span(&dom->geo, t->level);
	if (t == tv->t)
		ti.span = tv->last + 1; /* 0 for 2^64 */
	ti.pa = t->pa;
	ti.va = (const void *)t->va;
	ti.entries = pt_nr_entries(&dom->geo, t->level);
	ti.used = pt_used(dom, t);
	r = fn(arg, &ti);
	if (r || !t->level)
		return r;
	for (unsigned i = 0; i < ti.entries; i++) {
		uint64_t e = pt_load(t, i);
		if (dom->eng->is_table(e, t->level) &&
		    (r = each_table(dom, tv, child_of(dom, e, t->level),
				    pt_sext(dom, iova + ((uint64_t)i
							 << t->shift)),
				    fn, arg)))
			return r;
	}
	return 0;
}

int iopgt_for_each_table(struct iopgt_domain *dom,
			 int (*fn)(void *arg, const struct iopgt_table_info *t),
			 void *arg)
{
	const struct pt_topv *tv;

	if (!dom || !fn)
		return -EINVAL;
	tv = pt_top(dom); /* read once: a growth meanwhile changes nothing
			   * below this root */
	return each_table(dom, tv, tv->t, 0, fn, arg);
}

#if !__STDC_HOSTED__
/* The text dump needs snprintf (dump.c): not in a freestanding build. */
int iopgt_dump(struct iopgt_domain *dom,
	       int (*out)(void *arg, const char *line), void *arg,
	       unsigned flags)
{
	(void)dom;
	(void)out;
	(void)arg;
	(void)flags;
	return -EOPNOTSUPP;
}
#endif

