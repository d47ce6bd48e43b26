/* SPDX-License-Identifier: MIT */
/*
 * Internal definitions shared by every source file of libiopgt.
 *
 * Vocabulary (one name for one idea throughout the engine):
 *   level    0 is the lowest level (4K leaves at a 4K granule); the root is
 *            level geo.levels - 1. Architecture numbering (ARM level 3 is
 *            our level 0) appears only in the format headers and in info.
 *   iova/last  an IOVA range with last inclusive.
 *   entry    one 64-bit hardware entry. Zero is the only empty value.
 *   table    one hardware table page, reached from its parent's entry
 *            alone: its CPU address is pt_p2v() of the address in the entry,
 *            and its descriptor (struct pt_table, 64 bytes: the state word
 *            and what writers keep) is pt_desc() of that address. Walkers
 *            read entries only; writers also read the descriptor of each
 *            table they change.
 *   st       the table's state word: the count of non-empty entries, the
 *            writers inside it and the frozen flag (see "The state word"
 *            below). A frozen table is being unlinked (emptied, coalesced
 *            or replaced by a superpage) and no entry may change any more.
 *   walker   any call that loads table pointers from the tree (map, unmap,
 *            lookup). A walker is counted, for its whole call, in one of
 *            two counters: the one of the domain's epoch's parity when it
 *            entered (see pt_walk_enter and gather.c).
 *   epoch    a counter that advances only when no walker of the epoch
 *            before it remains. A table unlinked in epoch T (read after the
 *            unlink) is reused once the epoch is T + 2, or at once if no
 *            walker at all is counted.
 */
#ifndef IOPGT_PT_H
#define IOPGT_PT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compat.h"
#include "iopgt.h"
#include "testhook.h"

#define PT_MAX_LEVELS 6
#define PT_CACHE_SLOTS 32 /* the largest table_cache honoured */
#define PT_IDLE_SLOTS PT_CACHE_SLOTS

/* Shards of the per-operation counters (struct pt_shard): a power of two. */
#define PT_SHARDS 16

typedef _Atomic uint64_t pt_entry_t;

/* ------------------------------------------------------------------------
 * Descriptors
 */

enum {
	PT_F_DIRTY = 1u << 0, /* entries may be non-zero: zero the page
	                       * before it is reused */
	/* Bits 7:2: PT_F_STALE(L), leaves of level L may still be cached
	 * for addresses of the table's span: a leaf of level L was split
	 * into it (or into a table above it), or a table of level-L leaves
	 * was coalesced into one of its entries, and that invalidation may
	 * still wait in another gather. Flush ranges of leaves changed here
	 * report those sizes too (iopgt_flush_range.leaf_sizes). Set when
	 * the split table is made and, atomically, by a coalesce; kept
	 * until the table is freed. */
	PT_F_STALE_SHIFT = 2,
};
#define PT_F_STALE(level) (1u << (PT_F_STALE_SHIFT + (level)))


/* The descriptor of a table page: 64 bytes in its segment's descriptor
 * pages (table.c), found from the page's CPU address by pt_desc(). Only
 * writers read it; walkers read entries alone. */
struct pt_table {
	_Atomic uint64_t st; /* { count, writers inside, frozen }: see below */
	uint8_t level;
	_Atomic uint8_t flags;
	uint8_t shift;  /* of an entry's IOVA span: geo.shift[level] */
	/* A root: the domain's, or one that a growing domain's walks
	 * started from before it grew (iopgt__grow). Never unlinked,
	 * coalesced or freed before destroy. Written before the table is
	 * published, never after (so read without a section), and not a
	 * bit of flags, which writers change in their sections. */
	uint8_t pinned;
	uint32_t mask;  /* index mask: geo.mask[level] */
	uint64_t pa;
	pt_entry_t *va;
	struct pt_table *next; /* gather, waiting and free lists */
	uint64_t owner;        /* the map call that created it */
	uint64_t iova;         /* first IOVA of its span (set when linked) */
	uint64_t epoch;        /* when it began to wait */
};

/* A segment's header: the descriptor slot of the segment's first
 * descriptor page (which describes no table). */
struct pt_seg {
	uint64_t pa;
	struct pt_seg *next, *prev; /* segments with a page to give */
	struct pt_seg *all;         /* every segment of the domain */
	struct pt_table *free;      /* released pages, zeroed */
	uint32_t bump;              /* next never-used page */
	uint32_t used;              /* pages in use */
	uint32_t nfree;             /* pages on free */
	uint8_t on_avail;
};

static inline bool pt_pinned(const struct pt_table *t)
{
	return t->pinned;
}

_Static_assert(sizeof(struct pt_table) == 64,
	       "a table page's bookkeeping is 64 bytes");
_Static_assert(sizeof(struct pt_seg) <= sizeof(struct pt_table),
	       "a segment's header fits in one descriptor");

/* A protection bit the library adds itself, never a caller: the domain
 * was created with IOPGT_OPT_FORCE_SNOOP. A format that cannot express it
 * refuses it in fmt_prot_attrs, like any protection it cannot express. */
#define PT_PROT_SNOOP (1u << 16)

/* Geometry of one domain: fixed at create. */
struct pt_geo {
	unsigned levels;      /* root is level levels - 1 */
	unsigned granule;     /* log2 bytes of a level-0 leaf */
	unsigned bits;        /* index bits of a non-root table */
	unsigned root_bits;   /* index bits of the root (concatenation) */
	unsigned root_tables; /* concatenated root tables */
	unsigned start_level; /* architecture number of the root level */
	unsigned ias, oas;
	unsigned leaf_levels; /* bit L: one-item leaves at level L in use */
	unsigned max_leaf_level;
	/* Per level, the multi-item leaves in use (leaf spans): bit k set
	 * means a leaf of 2^k items (k >= 1) of that level's tables. Only at
	 * levels of leaf_levels; 0 for formats without them. */
	unsigned spans[PT_MAX_LEVELS];
	unsigned span_levels; /* bit L: spans[L] is not 0 */
	size_t table_size;    /* bytes of a non-root table */
	size_t root_size;     /* bytes of the root allocation */
	/* Per level, derived from the above by pt_geo_finish(): the shift of
	 * an entry's IOVA span and the index mask of a table. */
	unsigned shift[PT_MAX_LEVELS];
	unsigned mask[PT_MAX_LEVELS];
	uint64_t leaf_mask[PT_MAX_LEVELS]; /* bytes of a leaf there, minus 1 */
};

static inline void pt_geo_finish(struct pt_geo *geo)
{
	for (unsigned l = 0; l < geo->levels; l++) {
		unsigned b = l == geo->levels - 1 ? geo->root_bits : geo->bits;
		geo->shift[l] = geo->granule + geo->bits * l;
		geo->mask[l] = (1u << b) - 1;
		geo->leaf_mask[l] = (UINT64_C(1) << geo->shift[l]) - 1;
	}
}

static inline unsigned pt_shift(const struct pt_geo *geo, unsigned level)
{
	return geo->shift[level];
}

static inline unsigned pt_nr_entries(const struct pt_geo *geo, unsigned level)
{
	return geo->mask[level] + 1;
}

static inline unsigned pt_index(const struct pt_geo *geo, unsigned level,
				uint64_t iova)
{
	return (unsigned)(iova >> geo->shift[level]) & geo->mask[level];
}

/* Index of iova in t, from the descriptor alone (one cache line). */
static inline unsigned pt_tindex(const struct pt_table *t, uint64_t iova)
{
	return (unsigned)(iova >> t->shift) & t->mask;
}

/* Bytes of IOVA that one whole table at this level covers. */
static inline uint64_t pt_table_span(const struct pt_geo *geo, unsigned level)
{
	unsigned lg2 = pt_shift(geo, level) +
		       (level == geo->levels - 1 ? geo->root_bits : geo->bits);
	return lg2 >= 64 ? 0 : UINT64_C(1) << lg2; /* 0: the whole space */
}

/* ------------------------------------------------------------------------
 * The domain
 */

/* The paths of map and unmap (dom->top.map_path and unmap_path): the hot
 * path compiled for the default domain (plain: without counts, reclaiming
 * and coalescing), which tests none of those options; the same path
 * testing them, out of line; the plain path compiled without a walker,
 * out of line, for a plain domain of a strategy without one (after-flush
 * without concurrent walkers), and with the calls of one whose walker is
 * a call (RCU), neither of which otherwise has anything of pt_top_other;
 * or, for the other domains of pt_top_other (for map also caching mode,
 * so that the hot single page makes no call, the gather of what it adds,
 * and saves no registers), the out-of-line paths. One test on the hot
 * path tells the first from the others. */
enum {
	PT_PATH_PLAIN = 0,
	PT_PATH_OPTS = 1,
	PT_PATH_OTHER = 2,
	PT_PATH_NOWALK = 3,
	PT_PATH_CALL = 4,
	PT_PATHS
};

/* The single-page map and unmap, and the lookup, that a domain calls
 * directly (iopgt_domain.hot): one page of the smallest size at iova,
 * iova and pa checked by the caller; size is that page's (granule_mask +
 * 1), there so that iopgt_map and iopgt_unmap pass their arguments on
 * where they came in. */
typedef int pt_map_page_fn(struct iopgt_domain *dom, uint64_t iova,
			   uint64_t pa, uint64_t size, unsigned prot,
			   struct iopgt_gather *g);
typedef int64_t pt_unmap_page_fn(struct iopgt_domain *dom, uint64_t iova,
				 uint64_t size, struct iopgt_gather *g);
typedef int pt_lookup_fn(struct iopgt_domain *dom, uint64_t iova,
			 struct iopgt_translation *out);

/* Per-format entry points: one instance per compiled engine (a format and
 * granule), from engine.h; the registry (src/fmt/registry.c) lists them. */
struct pt_engine {
	enum iopgt_format format;
	unsigned granule;  /* FMT_GRANULE */
	unsigned max_oas;  /* FMT_MAX_OAS */
	int (*geometry)(const struct iopgt_config *cfg, struct pt_geo *geo);
	/* fmt_leaf_sizes: bit k set if a leaf at level may be 2^k bytes. */
	uint64_t (*leaf_sizes)(unsigned level, const struct pt_geo *geo);
	int (*prot_attrs)(unsigned prot, uint64_t *attrs);
	int (*map)(struct iopgt_domain *dom, uint64_t iova, uint64_t pa,
		   uint64_t last, unsigned prot, struct iopgt_gather *g);
	int64_t (*unmap)(struct iopgt_domain *dom, uint64_t iova,
			 uint64_t last, struct iopgt_gather *g);
	int (*lookup)(struct iopgt_domain *dom, uint64_t iova,
		      struct iopgt_translation *out);
	/* The hot single-page functions (pt_map_page_fn above) for each
	 * path of pt_set_paths(), PT_PATH_*: the options' and the others'
	 * are one function, which dispatches as map and unmap do; the
	 * lookup's are indexed by its own path (pt_set_paths()). The _whole
	 * ones take PT_PATH_PLAIN's place in a domain whose root is a whole
	 * table at level 3 or 4 ([0], [1]; pt_root_whole()): its walk's
	 * start in constants. */
	pt_map_page_fn *map_page[PT_PATHS], *map_page_whole[2];
	pt_unmap_page_fn *unmap_page[PT_PATHS], *unmap_page_whole[2];
	pt_lookup_fn *lookup_path[PT_PATHS], *lookup_whole[2];
	bool (*is_table)(uint64_t e, unsigned level);
	void (*decode_leaf)(uint64_t e, unsigned level,
			    const struct pt_geo *geo,
			    struct iopgt_translation *out);
	uint64_t (*table_pa)(uint64_t e, unsigned level);
	/* fmt_entry_valid: the hardware accepts e at level (for a
	 * simulated walker). */
	bool (*entry_valid)(uint64_t e, unsigned level);
	int (*dirty)(struct iopgt_domain *dom, uint64_t iova, uint64_t last,
		     unsigned flags,
		     int (*fn)(void *arg, uint64_t iova, uint64_t size),
		     void *arg, struct iopgt_gather *g);
	/* Unlink the table kept idle under key (see iopgt_domain.idle) if it
	 * is still empty, into g. A walker of its own. */
	void (*evict)(struct iopgt_domain *dom, uint64_t key,
		      struct iopgt_gather *g);
	/* Leaf bits the hardware sets itself (0: none): accessed on any
	 * access, dirty on a write. For a simulated walker. */
	uint64_t hw_accessed, hw_dirty;
	/* FMT_SW_BITS: leaf bits the hardware ignores (test hooks). */
	uint64_t sw_bits;
	/* fmt_hw_config: the driver-facing values (iopgt_hw_config). */
	void (*hw_config)(const struct pt_geo *geo, uint64_t root,
			  struct iopgt_hw_config *hw);
	/* FMT_IAS_WITHIN_OAS: the ias may not exceed the oas. */
	bool ias_within_oas;
	/* FMT_INPUT_SIGN_EXTEND: input addresses are sign-extended from bit
	 * ias - 1 (an upper half at the top of the 64-bit space). */
	bool input_sign_extend;
	/* FMT_GROWS: the root level may grow (pt_grow); make_table is then
	 * fmt_make_table, for the entry that links the old root. */
	bool grows;
	uint64_t (*make_table)(uint64_t pa, unsigned level);
};

/* The format registry (src/fmt/registry.c): the one table of formats. */
struct pt_format {
	enum iopgt_format format;
	const char *name;        /* iopgt_format_name(), the tool's --format */
	const char *description; /* one line */
	/* The granules offered (log2) and the engine of each; the first is
	 * the default; a zero granule ends the list. */
	struct {
		unsigned granule;
		const struct pt_engine *eng;
	} granules[4];
	unsigned ias_min, ias_max, oas_min, oas_max;
	uint64_t oas_values;     /* bit n: oas n accepted; 0: every value of
	                          * [oas_min, oas_max] */
	/* What iopgt_config_init() fills in for the format. */
	unsigned ias_default, oas_default;
	/* The IOMMU whose table it is (enum iopgt_iommu), and whether it is
	 * a first-stage table there: the defaults of
	 * iopgt_inval_config_init() and iopgt_format_info(). */
	unsigned iommu;
	bool first_stage;
};

extern const struct pt_format iopgt__formats[];
extern const unsigned iopgt__nformats;
/* The registry entry of fmt, or NULL. */
const struct pt_format *iopgt__format(enum iopgt_format fmt);
/* The engine of fmt with that granule, or NULL. */
const struct pt_engine *iopgt__engine(enum iopgt_format fmt, unsigned granule);

/* A root that walks start from (iopgt_domain.top): its CPU address,
 * level, the shift and index mask of its entries, its descriptor and the
 * last IOVA under it. */
struct pt_topv {
	pt_entry_t *va;
	unsigned level, shift, mask;
	struct pt_table *t;
	uint64_t last;
};

/* The root walks start from now. Acquire: its entries, written before it
 * was published (pt_grow). */
#define pt_top(dom) atomic_load_explicit(&(dom)->top.v, memory_order_acquire)

/* Counters that every operation writes, one line per shard (see
 * iopgt_domain.shards). */
struct pt_shard {
	_Atomic long walkers[2] __attribute__((aligned(16)));
	_Atomic uint64_t flushes[IOPGT_FLUSH_KINDS], flush_all;
} __attribute__((aligned(64)));

struct iopgt_domain {
	const struct pt_engine *eng;
	/* Unique in the process, never 0: what a bound gather records of
	 * its domain (PT_G_STAMP). Read by every call, beside eng, in a
	 * line nobody writes after create. */
	uint64_t stamp;
	/* What a single page's map and unmap, and a lookup, call: the
	 * engine's function for the domain's paths (pt_set_paths()), so
	 * that the call goes to the path with no test on the way. In the
	 * line of eng and stamp, which the same calls read. */
	struct {
		pt_map_page_fn *map_page;
		pt_unmap_page_fn *unmap_page;
		pt_lookup_fn *lookup;
	} hot;
	struct pt_geo geo;
	struct iopgt_config cfg;
	/* The root the domain was created with: &root_desc, or, in a
	 * growing domain, a table page of a segment (so that pt_desc()
	 * finds it once a grown root links it). Pinned. */
	struct pt_table *root;
	/* Table memory: CPU address = hardware address + va_off, unless
	 * cfg.phys_to_virt is given; segments of seg_mask + 1 bytes with
	 * seg_pages pages of 2^table_shift bytes, the last seg_meta_pages of
	 * which (from seg_desc_off on) hold the descriptors. */
	uintptr_t va_off;
	/* Where every walk starts: the root (tops[]) that v names; and
	 * whether the domain keeps no counts (pt_counted), which every
	 * writer asks. v changes only in a growing domain (pt_grow), to a
	 * root whose entry 0 names the one before. */
	struct {
		_Atomic(const struct pt_topv *) v;
		/* The root the domain was created with, which v names
		 * unless the domain grew: in the same line as v, so that a
		 * walk's start reads one line. */
		struct pt_topv first;
		bool uncounted;
		uint8_t walk; /* enum pt_walk_kind: the strategy's walker */
		/* Not the common case: a walker other than the epoch's, the
		 * embedder's phys_to_virt, a growing root or a test's walk
		 * hook. pt_set_paths() sends these domains' calls to the
		 * out-of-line paths (iopgt_domain.hot), and the engine's own
		 * dispatch tests it. */
		bool other;
		/* The paths of map and unmap (PT_PATH_*, pt_set_paths). */
		uint8_t map_path, unmap_path;
	} top __attribute__((aligned(64)));
	/* A growing domain's roots above the first, by level (each written
	 * once, before v names it). */
	struct pt_topv tops[PT_MAX_LEVELS];
	/* Growing domains: held by the one thread that grows the domain
	 * (pt_grow); ias_max as configured, 0 for a domain that does not
	 * grow. */
	_Atomic unsigned grow_lock;
	unsigned ias_max;
	/* The reclaim strategy (reclaim.c) and its state: a walker that
	 * calls the strategy calls these (RCU: the flavor's read_lock and
	 * read_unlock, set by the strategy's setup). */
	const struct pt_strategy *strat;
	struct {
		void (*enter)(void);
		void (*leave)(void);
	} walk_call;
	void *strat_state; /* what the strategy's setup took, or NULL */
	uint64_t (*clock_ns)(void); /* hosted: a monotonic clock; else NULL */
	uintptr_t seg_mask;
	uintptr_t seg_desc_off;
	unsigned table_shift;
	unsigned seg_pages, seg_meta_pages;
	/* The arg of the table callbacks: cfg.mem.arg, or the built-in
	 * allocator's state (hosted) when the caller gave none. */
	void *table_arg;
	void *hosted_mem; /* that state, freed with the domain; or NULL */
	/* Ids for map calls that allocate tables, so a failed call can find
	 * the tables it created. */
	_Atomic uint64_t next_owner;
	/* IOPGT_OPT_ONE_GATHER: the gather whose batch is open (bound since
	 * its last sync), or NULL. The caller serializes its gathers, so a
	 * plain field; a gather is unbound at its sync and opened again by
	 * its next use (iopgt__gather_open). */
	const struct iopgt_gather *one_g;

	/* The epoch; see the vocabulary above. The walkers inside the tree
	 * are counted in shards[], by the parity of the epoch they entered
	 * in. */
	_Atomic uint64_t epoch __attribute__((aligned(64)));
	/* Flushed tables that must wait for walkers to leave. */
	_Atomic(struct pt_table *) waiting;

	/* Segments (table.c), under seg_lock. */
	_Atomic int seg_lock __attribute__((aligned(64)));
	struct pt_seg *seg_avail; /* with a free or never-used page */
	struct pt_seg *seg_all;
	unsigned seg_empty;       /* segments with no page in use */
	struct pt_table root_desc;

	struct {
		_Atomic uint64_t pages_live, bytes_live, pages_peak, bytes_peak;
		_Atomic uint64_t pages_alloc, pages_freed;
		/* Flushed and not yet freed: on the epoch's waiting list,
		 * in RCU callbacks or on the worker's queues (the strategies
		 * that free elsewhere wait on this count). */
		_Atomic uint64_t pages_waiting;
		_Atomic uint64_t coalesced, split, segments;
		_Atomic uint64_t sync_waits; /* iopgt_stats.reclaim_waits */
		_Atomic uint64_t deferred; /* iopgt_stats.deferred_batches */
		_Atomic uint64_t freed_by[2], free_ns[2]; /* PT_BY_* */
	} st __attribute__((aligned(64)));

	/* Counters every operation writes, spread over cache lines so that
	 * threads on different CPUs do not write one line: a thread uses the
	 * shard of its stack (pt_shard()). Walkers of a shard leave where
	 * they entered; readers of a count sum the shards. */
	struct pt_shard shards[PT_SHARDS];

	unsigned cache_limit; /* cfg.table_cache, at most PT_CACHE_SLOTS */

	/* Tables an unmap emptied that stay linked, empty, for the next map
	 * to reuse (the first cache_limit slots): each slot holds the table's
	 * first IOVA | (level + 1), or 0. A full set evicts the oldest, which
	 * is then unlinked; iopgt_reclaim() unlinks them all. */
	_Atomic uint64_t idle[PT_IDLE_SLOTS] __attribute__((aligned(64)));
	_Atomic unsigned idle_clock;
	/* Leaf attributes for each protection value (0: not expressible),
	 * so map does not convert on every call. */
	uint64_t prot_attrs[32];
	uint64_t granule_mask; /* bytes of the smallest leaf, minus 1 */
	/* The input space: an IOVA is taken if iova + in_bias has no bit
	 * of ias_mask (the bits at or above ias) set. in_bias is 0, or, for
	 * a format that sign-extends its input from bit ias - 1, 2^(ias-1):
	 * that moves both halves, [0, 2^(ias-1)) and [2^64 - 2^(ias-1),
	 * 2^64), into [0, 2^ias) with one addition, the hole out of it. */
	uint64_t ias_mask;
	uint64_t in_bias;
	uint64_t oas_mask;     /* output address bits at or above oas */
	/* 64 minus the bits the root's entries span (the hardware's walk
	 * width) if the format sign-extends its input, else 0: pt_sext(). */
	unsigned in_sext;

	/* Tables in gathers not yet synced: counted in debug builds only,
	 * to catch a destroy with a gather still holding tables. */
	_Atomic long gathered;

	/* Test hooks (src/testhook.h); zero in normal use. */
	unsigned hooks;
	/* iopgt_sync's general path for every sync (pt_set_sync()): test
	 * hooks, the embedder's flush_ranges, or IOPGT_OPT_ONE_GATHER (an
	 * open gather to close). One test on the common paths. */
	bool sync_other;
	void (*walk_hook)(void *arg, const void *table);
	void *walk_hook_arg;
	void (*yield_hook)(void *arg, unsigned point, unsigned level,
			   uint64_t iova);
	void *yield_arg;
};

/* A named point for test schedulers (testhook.h): nothing unless this is a
 * debug build and a test set the hook. */
#if IOPGT_DEBUG
#define PT_YIELD(dom, point, level, iova)                                   \
	do {                                                                \
		if (__builtin_expect((dom)->yield_hook != NULL, 0))         \
			(dom)->yield_hook((dom)->yield_arg, (point),        \
					  (unsigned)(level), (iova));       \
	} while (0)
#else
#define PT_YIELD(dom, point, level, iova) ((void)0)
#endif

/* A rule a test breaks on purpose (PT_HOOK_BREAK_*, testhook.h): debug
 * builds only, so it costs nothing in a release build. */
#if IOPGT_DEBUG
#define PT_BROKEN(dom, hook) (__builtin_expect(((dom)->hooks & (hook)) != 0, 0))
#else
#define PT_BROKEN(dom, hook) 0
#endif

/* A writer found a table frozen: let the freezer finish. */
#define PT_WAIT_FROZEN(dom, level, iova)                                    \
	do {                                                                \
		PT_YIELD(dom, PT_Y_WAIT_FROZEN, level, iova);               \
		pt_relax();                                                 \
	} while (0)

static inline void pt_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#endif
}

/* A table that a map filled (level, and an IOVA inside it): it may
 * coalesce once the whole map has succeeded. */
struct pt_cand {
	unsigned level;
	uint64_t iova;
};

/* One map or unmap call in progress. */
struct pt_op {
	struct iopgt_domain *dom;
	struct iopgt_gather *g;
	uint64_t owner;  /* id of this call once it allocated a table */
	uint64_t attrs;  /* leaf attributes (map) */
	bool rollback;   /* undoing a failed map: reclaim its own tables */
	bool prune;      /* only unlink empty tables this call owns */
	bool spares;     /* spare[] is initialised */
	bool redo;       /* a map redone from the root up to redo_last */
	uint64_t redo_last;
	/* The range an unmap splits the ends of (empty otherwise): a split
	 * leaf's part inside it is gathered with the leaf's size, which the
	 * TLB may hold for it. */
	uint64_t cut_iova, cut_last;
	struct pt_table *spare[PT_MAX_LEVELS]; /* preallocated split tables */
	unsigned ncand;
	struct pt_cand cand[2]; /* filled tables at the ends of a map */
	/* Empty subtrees a map replaced by superpages, linked through next:
	 * gathered once the map succeeds, linked back if it fails. */
	struct pt_table *replaced;
};

static inline void pt_stat_add(_Atomic uint64_t *c, uint64_t v)
{
	atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}

/* ------------------------------------------------------------------------
 * Walkers: enter before loading any table pointer, leave after the last
 * access to any table reached through one, with what enter returned.
 *
 * Why this is enough (the reclaimer's side is in gather.c). A walker
 * counts itself under the parity of the epoch, then reads the epoch again
 * and starts over if the parity changed: so it is counted under the parity
 * of an epoch value E it read after its increment (all seq_cst). The
 * advance from E + 1 to E + 2 checks that parity's counter after reading
 * E + 1, which was written after the walker's read of E, hence after its
 * increment: that advance waits for the walker. A table the walker can
 * reach was unlinked after its read of E, so it was tagged T >= E and is
 * reused only at T + 2 >= E + 2, after the walker left. (Without the
 * re-check, a walker delayed between its read and its increment is counted
 * under a parity whose check may already have been made.) If the parity
 * changed, the walker also counts itself under the other parity rather
 * than starting over (so enter never loops): counted under both, it lets
 * at most one more advance through (one whose check came before its
 * second increment), and any table it can reach was tagged no earlier
 * than the epoch at its fence, so no such table reaches its tag + 2.
 * docs/protocol.md has the argument; the protocol's model checks it.
 */

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define PT_HAS_TSAN 1
#endif
#endif
#ifndef PT_HAS_TSAN
#define PT_HAS_TSAN 0
#endif

/* The calling thread's shard: threads run on stacks of their own, far
 * apart (a thread library maps each its own stack, a kernel each CPU or
 * task), so the stack's address tells concurrent threads apart without
 * thread-local storage, which a freestanding embedder may not have. Two
 * threads that land on one shard are still counted correctly: a shard is
 * a counter like any other; they only share its cache line. */
static inline struct pt_shard *pt_shard(struct iopgt_domain *dom)
{
	char here;
	uint64_t sp = (uint64_t)(uintptr_t)&here;

	return &dom->shards[(sp >> 14) * 0x9e3779b97f4a7c15ull >> 60 &
			    (PT_SHARDS - 1)];
}

/* A sequentially consistent fence, for the halves of the fence pairs of a
 * domain without counts. A function of its own: gcc refuses a fence
 * written directly in an always_inline function under ThreadSanitizer
 * (-Wtsan), but not one inlined from a plain inline function. */
static inline void pt_fence_sc(void)
{
	atomic_thread_fence(memory_order_seq_cst);
}

/* pt_fence_sc() right after a read-modify-write of this thread (a
 * compare-and-swap that succeeded, a fetch-and-add): on x86 that is a
 * locked instruction, which is a full barrier already (Intel SDM vol. 3A,
 * "Memory Ordering in P6 and More Recent Processor Families": reads or
 * writes cannot be reordered with locked instructions; AMD64 APM vol. 1,
 * "Forcing Memory Order": locked instructions are read/write barriers),
 * so only the compiler needs holding back, as Linux's
 * smp_mb__after_atomic() does. 32-bit x86 qualifies only where a 64-bit
 * compare-and-swap is an instruction (cmpxchg8b), not a library call that
 * may take a lock. ThreadSanitizer, which knows nothing of that, gets the
 * fence. */
#if (defined(__x86_64__) ||                                                \
     (defined(__i386__) && defined(__GCC_HAVE_SYNC_COMPARE_AND_SWAP_8))) && \
	!defined(__SANITIZE_THREAD__) && !PT_HAS_TSAN
#define PT_LOCKED_FENCES 1
#else
#define PT_LOCKED_FENCES 0
#endif

static inline void pt_fence_after_locked(void)
{
	if (PT_LOCKED_FENCES)
		atomic_signal_fence(memory_order_seq_cst);
	else
		pt_fence_sc();
}

/* ------------------------------------------------------------------------
 * Reclaim strategies (reclaim.c): how a table that was unlinked and
 * flushed is freed while lock-free walkers may still hold it, chosen per
 * domain (iopgt_config.strategy). Each gives:
 *   walker  how a call marks its time in the tree, once per public call,
 *           never per entry: the epoch's counters (inline, below), none,
 *           or the functions the strategy's setup put in dom->walk_call
 *           (RCU: the flavor's read-side lock);
 *   retire  take a list of n tables whose flush has completed, and free
 *           each once no walker can still hold it;
 *   poll    free what has become free to free (sync, iopgt_reclaim);
 *   barrier wait until every table retired so far is freed (destroy, and
 *           iopgt_reclaim for strategies that free elsewhere).
 */
enum pt_walk_kind {
	PT_WALK_EPOCH = 0, /* the epoch's counters, in line */
	PT_WALK_NONE = 1,  /* no concurrent walker: nothing to mark */
	PT_WALK_CALL = 2,  /* the strategy's enter and leave */
	PT_WALK_ANY = 3,   /* (pt_walk_enter_k only) whichever the domain's */
};

struct pt_strategy {
	const char *name;
	uint8_t walk; /* enum pt_walk_kind */
	/* At create (0 or a negative errno): fill dom->walk_call for
	 * PT_WALK_CALL (its enter and leave, called with nothing, so that
	 * the walker costs the callee alone), start what the strategy runs.
	 * At destroy, after barrier: stop it and free what setup took. */
	int (*setup)(struct iopgt_domain *dom);
	void (*teardown)(struct iopgt_domain *dom);
	void (*retire)(struct iopgt_domain *dom, struct pt_table *list,
		       unsigned long n);
	void (*poll)(struct iopgt_domain *dom);
	void (*barrier)(struct iopgt_domain *dom);
};

/* The strategy of cfg (its strategy and rcu_flavor fields), or NULL with
 * *err set: -EINVAL for an unknown strategy or a missing flavor,
 * -EOPNOTSUPP for one this build lacks. */
const struct pt_strategy *iopgt__strategy(const struct iopgt_config *cfg,
					  int *err);
/* Return a list of tables (linked by next) to their segments, the
 * segment lock taken once per batch of pages (table.c); returns how
 * many. */
unsigned long iopgt__release_list(struct iopgt_domain *dom,
				  struct pt_table *t);
/* Pages that may wait in a domain's RCU callbacks (rcu_max_pending 0),
 * and in its worker's queues, before a sync waits itself: 16 MiB of 4K
 * tables. */
#define PT_PENDING_DEFAULT 4096u
/* The RCU strategy (reclaim_rcu.c, built with liburcu's headers:
 * IOPGT_HAVE_RCU), and what its test-only variant of one callback per
 * page (testhook.c) shares with it: the domain's bound on pages waiting
 * in callbacks, and the queueing of the n pages of list as one callback
 * (false, nothing done, if its record cannot be allocated). */
extern const struct pt_strategy iopgt__strategy_rcu;
uint64_t iopgt__rcu_max_pending(const struct iopgt_domain *dom);
bool iopgt__rcu_defer(struct iopgt_domain *dom, struct pt_table *list,
		      unsigned long n);
/* Who frees (iopgt_stats: freed_by_*, free_ns_*). */
enum { PT_BY_CALLER = 0, PT_BY_WORKER = 1 };
/* iopgt__release_list, counted and timed for who. */
unsigned long iopgt__release_by(struct iopgt_domain *dom, struct pt_table *t,
				unsigned who);
/* The epoch (reclaim.c), for strategies built on it: try to advance it
 * (twice, as a reclaimer does); whether no walker is counted at all
 * (after a seq_cst fence of the caller's). */
void iopgt__epoch_advance(struct iopgt_domain *dom);
bool iopgt__epoch_quiet(struct iopgt_domain *dom);
/* Tag every table of list (linked by next) with the epoch, read now (after
 * the caller's seq_cst fence, which follows the unlinks); returns the
 * last table. */
struct pt_table *iopgt__epoch_tag(struct iopgt_domain *dom,
				  struct pt_table *list);

/* What pt_walk_leave() needs: the address of the counter the walker
 * incremented, | 1 if it incremented the other parity's too (the two are
 * adjacent in their shard, 8-byte aligned, the even one 16-byte aligned,
 * so the other is at address ^ 8). */
typedef uintptr_t pt_walk_t;

/* The walker of a strategy without counts (dom->top.walk not
 * PT_WALK_EPOCH): PT_WALK_NONE has none, PT_WALK_CALL calls the
 * strategy's enter and leave. Both are odd, so that pt_walk_leave() tells
 * them from a counter's address with the test it makes anyway. */
#define PT_WALK_T_NONE ((pt_walk_t)1)
#define PT_WALK_T_CALL ((pt_walk_t)3)

pt_walk_t iopgt__walk_enter_call(struct iopgt_domain *dom);

/* Growing domains (domain.c): grow until the root holds last; 0, or
 * -ENOMEM, or the grow callback's error, with nothing changed. */
int iopgt__grow(struct iopgt_domain *dom, uint64_t last);
/* The driver-facing values for the root tv (iopgt_hw_config()). */
void iopgt__hw_config(const struct iopgt_domain *dom,
		      const struct pt_topv *tv, struct iopgt_hw_config *v);
void iopgt__walk_leave_slow(struct iopgt_domain *dom, pt_walk_t w);

/* The first steps of the epoch walker's enter, counted in shard sh: read
 * the epoch, count the walker under its parity (returned), and read the
 * epoch again; *moved if the parity changed between the two reads. */
static inline __attribute__((always_inline)) uintptr_t
pt_epoch_count(struct iopgt_domain *dom, struct pt_shard *sh, bool *moved)
{
	/* (a word, so that indexing with it needs no extension) */
	const uintptr_t i = (uintptr_t)atomic_load_explicit(
				    &dom->epoch, memory_order_seq_cst) &
			    1;

	PT_YIELD(dom, PT_Y_ENTER_EPOCH_READ, 0, 0);
	atomic_fetch_add_explicit(&sh->walkers[i], 1, memory_order_seq_cst);
	*moved = ((uintptr_t)atomic_load_explicit(&dom->epoch,
						  memory_order_seq_cst) &
		  1) != i;
	return i;
}

/* The epoch's walker of the hot paths (PT_WALK_EPOCH), counted in shard
 * sh: it only tries. Where the epoch advanced between its two reads, it
 * takes its count back and returns false, having read nothing of the
 * tree, and the caller starts over on its general path, which enters with
 * PT_WALK_ANY (counted under both parities, wait-free). So a hot path's
 * section is always under one parity, and its leave
 * (pt_walk_leave_k(PT_WALK_EPOCH)) is one decrement with no test. */
static inline __attribute__((always_inline)) bool
pt_walk_try_epoch(struct iopgt_domain *dom, struct pt_shard *sh,
		  pt_walk_t *w)
{
	bool moved;
	const uintptr_t i = pt_epoch_count(dom, sh, &moved);

	if (__builtin_expect(moved, 0) &&
	    !PT_BROKEN(dom, PT_HOOK_BREAK_TRY_EPOCH)) {
		/* (no access to the tree to order before it) */
		atomic_fetch_sub_explicit(&sh->walkers[i], 1,
					  memory_order_relaxed);
		return false;
	}
	pt_fence_after_locked(); /* as in pt_walk_enter_sk() */
	*w = (pt_walk_t)&sh->walkers[i];
	return true;
}

/* Enter as a walker of kind k, a constant (PT_WALK_NONE, PT_WALK_CALL or
 * PT_WALK_ANY; the hot paths' PT_WALK_EPOCH is pt_walk_try_epoch()),
 * counted in shard sh: the hot paths, compiled once for the epoch and once
 * for no walker, send the rest out of line (dom->top.other); everything
 * else enters with PT_WALK_ANY. */
static inline __attribute__((always_inline)) pt_walk_t
pt_walk_enter_sk(struct iopgt_domain *dom, struct pt_shard *sh,
		 const unsigned k)
{
	if (k == PT_WALK_NONE)
		return PT_WALK_T_NONE;
	if (k == PT_WALK_CALL) {
		dom->walk_call.enter();
		return PT_WALK_T_CALL;
	}
	if (k == PT_WALK_ANY &&
	    __builtin_expect(dom->top.walk != PT_WALK_EPOCH, 0)) {
		if (dom->top.walk == PT_WALK_NONE)
			return PT_WALK_T_NONE;
		return iopgt__walk_enter_call(dom);
	}
	bool moved;
	const uintptr_t i = pt_epoch_count(dom, sh, &moved);
	pt_walk_t w = (pt_walk_t)&sh->walkers[i];

	if (__builtin_expect(moved, 0)) {
		/* The epoch advanced between the two reads: count under the
		 * other parity too instead of starting over, so that enter
		 * is wait-free. Counted under both, the walker stops every
		 * advance until it leaves. */
		atomic_fetch_add_explicit(&sh->walkers[i ^ 1], 1,
					  memory_order_seq_cst);
		w |= 1;
	}
	/* Orders this walker's loads of the tree after its count (pairs
	 * with the reclaimer's fence). */
	pt_fence_after_locked();
	return w;
}

/* The same in the shard of the calling thread's stack (pt_shard()). */
static inline __attribute__((always_inline)) pt_walk_t
pt_walk_enter_k(struct iopgt_domain *dom, const unsigned k)
{
	return pt_walk_enter_sk(dom, pt_shard(dom), k);
}

static inline pt_walk_t pt_walk_enter(struct iopgt_domain *dom)
{
	return pt_walk_enter_k(dom, PT_WALK_ANY);
}

/* Leave what pt_walk_enter_k(dom, k), or for PT_WALK_EPOCH
 * pt_walk_try_epoch(), entered (w), k the same constant. */
static inline __attribute__((always_inline)) void
pt_walk_leave_k(struct iopgt_domain *dom, pt_walk_t w, const unsigned k)
{
	if (k == PT_WALK_NONE)
		return;
	if (k == PT_WALK_CALL) {
		dom->walk_call.leave();
		return;
	}
	if (k == PT_WALK_ANY && __builtin_expect(w & 1, 0)) {
		/* Counted under both parities, or a strategy's own walker
		 * (none at all for PT_WALK_T_NONE). */
		if (w != PT_WALK_T_NONE)
			iopgt__walk_leave_slow(dom, w);
		return;
	}
	pt_assert("a hot path's walker is under one parity",
		  k != PT_WALK_EPOCH || !(w & 1));
	/* The epoch's walker under one parity: PT_WALK_EPOCH always
	 * (pt_walk_try_epoch), PT_WALK_ANY where w is even. Release: every
	 * access to the tree happens before a reclaimer that reads the count
	 * as zero frees anything. */
	atomic_fetch_sub_explicit((_Atomic long *)w, 1, memory_order_release);
}

static inline void pt_walk_leave(struct iopgt_domain *dom, pt_walk_t w)
{
	pt_walk_leave_k(dom, w, PT_WALK_ANY);
}

/* ------------------------------------------------------------------------
 * The state word and the entry helpers: the only code that writes entries.
 *
 * Each table has one atomic state word, st = { C, W, X, F }:
 *   C  (bits 31:0)  its non-empty entries, reservations included;
 *   W  (bits 61:32) writers inside a shared section of the table;
 *   X  (bit 62)     a writer inside the exclusive section;
 *   F  (bit 63)     frozen: being unlinked or coalesced.
 * Every software write of an entry happens inside a section. Shared
 * sections add entries (reserving C first) or replace one present entry
 * by another; the exclusive section clears entries and counts only those
 * it finds non-empty, so C never drops below the entries actually present,
 * even if callers break the API's rule and overlap (C == 0 then still
 * means empty). Opening fails only on F and waits out X (and, for the
 * exclusive section, W); sections are a few stores long and never wait
 * while open. A freeze sets F only when W and X are zero, with one
 * compare-and-swap, and never waits. So no entry of a frozen table is ever
 * written by software, a freezer that rescans the table after freezing
 * sees its final contents, and a writer that finds a table frozen goes
 * back to the parent entry, which the freezer either replaces or leaves as
 * it was (unfreezing the table). The hardware may still set accessed/dirty
 * bits in leaves. docs/protocol.md states the protocol and the invariants
 * its model checks.
 */

/* Counts exist to reclaim emptied tables and to coalesce full ones. A
 * domain that does not ask for them (IOPGT_OPT_COUNTS), or that neither
 * reclaims nor coalesces, keeps none: its writers fill smallest pages,
 * and clear single leaves, without a section and touch no state word,
 * only their entries (a single leaf's clear at a level where groups are
 * merged, pt_uc_excl, by compare-and-swap),
 * so writers of disjoint ranges under one table share no line they write
 * (the state word would be written by every map and unmap). A table entry
 * still changes only by compare-and-swap inside a section that reserves
 * nothing (install, split, coalesce, unlink, a superpage over an empty
 * subtree, which freezes the subtree first), and leaves above level 0 are
 * filled and cleared inside the exclusive section (once per table,
 * counting nothing), so two writers never both own one child and a frozen
 * table never gains one, even when callers overlap. Such a domain's
 * counts stay 0; who needs a table's fill scans it (pt_used).
 *
 * Coalescing there finds a full table by a scan (after a probe of a few
 * entries says it may be full), and meets a clear made without a section
 * by a Dekker pair of sequentially consistent fences: the clearer stores,
 * fences, then reads F; the coalescer freezes, fences, then rescans. One
 * of them sees the other: the rescan finds the cleared entry and gives
 * up, or the clearer finds F, waits for the coalesce to end and, if the
 * table was replaced by a superpage, unmaps again from the root
 * (PT(clear_met_freeze) in engine.h). A fill needs no such pair with a
 * coalescer, though it may land in a table just frozen: the coalescer's
 * rescan reads its entry either empty (and gives up) or holding the leaf.
 *
 * Reclaim there (unless NO_RECLAIM) finds an emptied table the same way,
 * mirrored: after a clear, a probe of a few entries says the table may be
 * empty, and the unlink decides by a scan made after its freeze. The pair
 * of fences is then between the unlinker and a fill made without a
 * section: the filler stores, fences, then reads F; the unlinker freezes,
 * fences, then scans. Either the scan finds the new leaf and the unlink
 * gives up, or the filler finds F, waits until the table is unfrozen (its
 * leaf stands) or no longer linked, and then, unless a coalescer replaced
 * the table by a superpage (whose rescan saw the leaf), maps again from
 * the root (PT(fill_met_freeze) in engine.h). A table unlinked this way is
 * zeroed before reuse, since such a filler may have stored into it after
 * the scan. Two clearers that empty a table together fence between their
 * clear and their probe, so at least one of them finds it empty. */
static inline bool pt_uncounted_options(unsigned options)
{
	return !(options & IOPGT_OPT_COUNTS) ||
	       (options & (IOPGT_OPT_NO_RECLAIM | IOPGT_OPT_NO_COALESCE)) ==
		       (IOPGT_OPT_NO_RECLAIM | IOPGT_OPT_NO_COALESCE);
}

static inline bool pt_counted(const struct iopgt_domain *dom)
{
	return !dom->top.uncounted;
}

/* A domain whose hot paths go out of line (dom->top.other): a walker
 * other than the epoch's, the embedder's phys_to_virt or a test's walk
 * hook. */
static inline bool pt_top_other(const struct iopgt_domain *dom)
{
	return dom->top.walk != PT_WALK_EPOCH || dom->cfg.phys_to_virt ||
	       dom->walk_hook || dom->ias_max;
}

/* Where a hot path's walk starts (the engine's cur_root_k): the published
 * root; the first root, read in place (a domain that never grows), with
 * its level, shift and mask read from it; or that root known to be one
 * whole table at level 3 or 4, the 4- and 5-level walks, with those three
 * the compiler's constants (pt_root_whole()). */
enum {
	PT_ROOT_PUBLISHED = 0,
	PT_ROOT_FIRST = 1,
	PT_ROOT_L3 = 2,
	PT_ROOT_L4 = 3
};

/* 3 or 4 if the domain's first root is one whole table at that level,
 * else 0. */
static inline unsigned pt_root_whole(const struct iopgt_domain *dom)
{
	const struct pt_topv *tv = &dom->top.first;

	if (tv->level != 3 && tv->level != 4)
		return 0;
	return tv->shift == dom->geo.granule + tv->level * dom->geo.bits &&
			       tv->mask == (1u << dom->geo.bits) - 1
		       ? tv->level
		       : 0;
}

static inline bool pt_path_plain(const struct iopgt_domain *dom)
{
	return dom->top.uncounted &&
	       !(dom->cfg.options &
		 (IOPGT_OPT_NO_RECLAIM | IOPGT_OPT_NO_COALESCE));
}

/* Set dom->top.other, the paths of map and unmap, and dom->hot from what
 * the domain is (at create, and when a test sets a walk hook or swaps the
 * engine). */
static inline void pt_set_paths(struct iopgt_domain *dom)
{
	const uint8_t hot = pt_path_plain(dom) ? PT_PATH_PLAIN : PT_PATH_OPTS;
	const bool other = pt_top_other(dom);
	const bool cm = dom->cfg.options & IOPGT_OPT_CACHING_MODE;
	/* In pt_top_other for its walker alone (neither the epoch's nor
	 * growing, hooked or with phys_to_virt), and plain. */
	const bool plain_other = !dom->cfg.phys_to_virt && !dom->walk_hook &&
				 !dom->ias_max && pt_path_plain(dom);
	const uint8_t own = !plain_other ? PT_PATH_OTHER
			    : dom->top.walk == PT_WALK_NONE ? PT_PATH_NOWALK
			    : dom->top.walk == PT_WALK_CALL ? PT_PATH_CALL
							    : PT_PATH_OTHER;

	dom->top.other = other;
	dom->top.unmap_path = other ? own : hot;
	dom->top.map_path = cm ? PT_PATH_OTHER : other ? own : hot;

	const struct pt_engine *e = dom->eng;
	const unsigned whole = pt_root_whole(dom);
	/* The lookup's own path: the plain one unless the domain is of
	 * top.other, and of those, the ones with a copy of their own (as
	 * the engine's lookup would choose), from unmap_path. */
	const uint8_t lp = !other ? PT_PATH_PLAIN
			   : dom->top.unmap_path == PT_PATH_NOWALK ||
					   dom->top.unmap_path == PT_PATH_CALL
				   ? dom->top.unmap_path
				   : PT_PATH_OTHER;

	dom->hot.map_page = dom->top.map_path == PT_PATH_PLAIN && whole
				    ? e->map_page_whole[whole - 3]
				    : e->map_page[dom->top.map_path];
	dom->hot.unmap_page = dom->top.unmap_path == PT_PATH_PLAIN && whole
				      ? e->unmap_page_whole[whole - 3]
				      : e->unmap_page[dom->top.unmap_path];
	dom->hot.lookup = lp == PT_PATH_PLAIN && whole
				  ? e->lookup_whole[whole - 3]
				  : e->lookup_path[lp];
}

/* Set dom->sync_other from what the domain is (at create, and when a
 * test sets hooks). */
static inline void pt_set_sync(struct iopgt_domain *dom)
{
	dom->sync_other = dom->hooks || dom->cfg.flush_ranges ||
			  (dom->cfg.options & IOPGT_OPT_ONE_GATHER);
}

/* A growing domain maps nothing above the span of its root tv: cut
 * [iova, *last] to that span; false if nothing of it is left. A domain
 * that does not grow: true, nothing cut (its input checks come first). */
static inline bool pt_cut_to_root(const struct iopgt_domain *dom,
				  const struct pt_topv *tv, uint64_t iova,
				  uint64_t *last)
{
	if (!dom->ias_max)
		return true;
	if (iova > tv->last)
		return false;
	if (*last > tv->last)
		*last = tv->last;
	return true;
}

/* A domain without counts that coalesces within its tables at level (its
 * leaves there may span several items): a merge rewrites a group of
 * entries in place with the table frozen (PT(merge_spans)), so range
 * clears at that level take the exclusive section, which the freeze
 * keeps out, and a single leaf's clear, which takes none, is a
 * compare-and-swap that looks at its entry again after the fence pair
 * with the freeze (PT(merged_back), PT(clear_met_freeze)); elsewhere a
 * clear without counts is a store and takes no section. */
static inline bool pt_uc_excl(const struct iopgt_domain *dom, unsigned level)
{
	return !pt_counted(dom) && dom->geo.spans[level] &&
	       !(dom->cfg.options & IOPGT_OPT_NO_COALESCE);
}

/* A domain without counts that reclaims emptied tables (above). */
static inline bool pt_uc_reclaim(const struct iopgt_domain *dom)
{
	return !pt_counted(dom) &&
	       !(dom->cfg.options & IOPGT_OPT_NO_RECLAIM);
}

#define PT_ST_W (UINT64_C(1) << 32)
#define PT_ST_X (UINT64_C(1) << 62)
#define PT_ST_F (UINT64_C(1) << 63)

static inline uint32_t pt_st_count(uint64_t st)
{
	return (uint32_t)st;
}

/* The table's count, frozen or not. */
static inline uint32_t pt_count(const struct pt_table *t)
{
	return pt_st_count(atomic_load_explicit(&t->st, memory_order_acquire));
}

/* Open a shared section of t that reserves n entries (0: a replace).
 * False if t is frozen. Acquire: the section reads entries after a
 * freezer's or a clearer's release of them. */
static inline bool pt_open(struct pt_table *t, uint32_t n)
{
	uint64_t old = atomic_load_explicit(&t->st, memory_order_relaxed);
	for (;;) {
		if (__builtin_expect(old >> 62, 0)) {
			if (old & PT_ST_F)
				return false;
			/* X: a clear is under way, a few stores long */
			pt_relax();
			old = atomic_load_explicit(&t->st,
						   memory_order_relaxed);
			continue;
		}
		if (atomic_compare_exchange_weak_explicit(
			    &t->st, &old, old + PT_ST_W + n,
			    memory_order_acquire, memory_order_relaxed))
			return true;
	}
}

/* Close a shared section, giving back `back` reserved slots that were not
 * filled. Release: the section's entry writes happen before a freeze or a
 * clear that sees W drop. Returns the state after the close. */
static inline uint64_t pt_close(struct pt_table *t, uint32_t back)
{
	uint64_t d = PT_ST_W + back;
	return atomic_fetch_sub_explicit(&t->st, d, memory_order_acq_rel) - d;
}

/* Open the exclusive section of t (to clear entries). False if t is
 * frozen; waits while another section is open. */
static inline bool pt_open_excl(struct pt_table *t)
{
	uint64_t old = atomic_load_explicit(&t->st, memory_order_relaxed);
	for (;;) {
		if (old & PT_ST_F)
			return false;
		if (old >> 32) { /* W or X: wait for those sections */
			pt_relax();
			old = atomic_load_explicit(&t->st,
						   memory_order_relaxed);
			continue;
		}
		if (atomic_compare_exchange_weak_explicit(
			    &t->st, &old, old | PT_ST_X, memory_order_acquire,
			    memory_order_relaxed))
			return true;
	}
}

/* Close the exclusive section, having cleared k entries. Returns the state
 * after the close: 0 means empty with nobody inside. */
static inline uint64_t pt_close_excl(struct pt_table *t, uint32_t k)
{
	uint64_t d = PT_ST_X + k;
	return atomic_fetch_sub_explicit(&t->st, d, memory_order_acq_rel) - d;
}

/* Freeze t if its state is exactly `want` (a count, with W, X and F
 * zero): 0 to unlink an empty table, the number of entries to coalesce a
 * full one. */
static inline bool pt_freeze(struct pt_table *t, uint64_t want)
{
	return atomic_compare_exchange_strong_explicit(
		&t->st, &want, want | PT_ST_F, memory_order_acq_rel,
		memory_order_relaxed);
}

/* Freeze t whatever its count, if nobody is inside. */
static inline bool pt_freeze_any(struct pt_table *t)
{
	uint64_t old = atomic_load_explicit(&t->st, memory_order_relaxed);
	do {
		if (old >> 32)
			return false; /* frozen, or writers inside */
	} while (!atomic_compare_exchange_weak_explicit(
		&t->st, &old, old | PT_ST_F, memory_order_acq_rel,
		memory_order_relaxed));
	return true;
}

/* Undo a freeze that did not lead to an unlink. An atomic AND, never a
 * store: a writer may give back a reservation meanwhile. */
static inline void pt_unfreeze(struct pt_table *t)
{
	atomic_fetch_and_explicit(&t->st, ~PT_ST_F, memory_order_release);
}

/* Fill n empty entries idx.. of a table nobody else can see yet (a split's
 * new table) with e, e + step, ..., and set its count to `count`. */
static inline void pt_init_run(struct pt_table *t, unsigned idx, unsigned n,
			       uint64_t e, uint64_t step, uint32_t count)
{
	for (unsigned i = 0; i < n; i++, e += step)
		atomic_store_explicit(&t->va[idx + i], e, memory_order_relaxed);
	atomic_store_explicit(&t->st, count, memory_order_relaxed);
}

/* Fill the empty entries idx.. of t, at most n, with leaves e, e + step,
 * ..., stopping at the first entry that is not empty, inside a section
 * the caller opened with pt_open(t, n). The caller owns these slots (no
 * other writer touches them), so the check and the store need no
 * compare-and-swap. Returns how many were filled; the caller closes with
 * the rest. */
static inline unsigned pt_fill(struct pt_table *t, unsigned idx, unsigned n,
			       uint64_t e, uint64_t step)
{
	pt_entry_t *p = t->va + idx;
	unsigned i = 0;

	/* Four at a time: one test for four loads, then four stores. Relaxed:
	 * a new leaf publishes no memory; the caller's sync orders it before
	 * the device uses it. */
	for (; i + 4 <= n; i += 4, e += 4 * step) {
		if (atomic_load_explicit(&p[i], memory_order_relaxed) |
		    atomic_load_explicit(&p[i + 1], memory_order_relaxed) |
		    atomic_load_explicit(&p[i + 2], memory_order_relaxed) |
		    atomic_load_explicit(&p[i + 3], memory_order_relaxed))
			break;
		atomic_store_explicit(&p[i], e, memory_order_relaxed);
		atomic_store_explicit(&p[i + 1], e + step, memory_order_relaxed);
		atomic_store_explicit(&p[i + 2], e + 2 * step,
				      memory_order_relaxed);
		atomic_store_explicit(&p[i + 3], e + 3 * step,
				      memory_order_relaxed);
	}
	for (; i < n; i++, e += step) {
		if (atomic_load_explicit(&p[i], memory_order_relaxed))
			break;
		atomic_store_explicit(&p[i], e, memory_order_relaxed);
	}
	return i;
}

/* Install a table entry into an empty slot. Returns 0, -EAGAIN if the slot
 * was taken meanwhile (its new value in *cur), -ESTALE if t is frozen. */
static inline int pt_set_table(const struct iopgt_domain *dom,
			       struct pt_table *t, unsigned idx, uint64_t e,
			       uint64_t *cur)
{
	const uint32_t n = pt_counted(dom) ? 1 : 0;
	bool ok;

	/* Without counts the section reserves nothing, but it is still
	 * opened: it keeps the install out of a table that a superpage map
	 * froze (only an overlapping caller's), so a frozen table never
	 * gains a table entry. Installs are rare; what goes without a
	 * section is the fills of smallest pages and single-leaf clears. */
	if (!pt_open(t, n))
		return -ESTALE;
	*cur = 0;
	/* Release: the child's zeroed contents are visible before it is. */
	ok = atomic_compare_exchange_strong_explicit(&t->va[idx], cur, e,
						     memory_order_release,
						     memory_order_acquire);
	pt_close(t, ok ? 0 : n);
	return ok ? 0 : -EAGAIN;
}

/* Replace one present entry by another (split, coalesce, superpage over an
 * empty subtree); the count does not change. Returns 0, -EAGAIN if *old is
 * stale (the current value is in *old), -ESTALE if t is frozen. */
static inline int pt_replace(struct pt_table *t, unsigned idx, uint64_t *old,
			     uint64_t e)
{
	bool ok;

	if (!pt_open(t, 0))
		return -ESTALE;
	ok = atomic_compare_exchange_strong_explicit(
		&t->va[idx], old, e, memory_order_release,
		memory_order_acquire);
	pt_close(t, 0);
	return ok ? 0 : -EAGAIN;
}

/* t's non-empty entries: its count, or (a domain without counts) a scan.
 * For the rare paths (a superpage over a subtree, introspection). */
static inline uint32_t pt_used(const struct iopgt_domain *dom,
			       const struct pt_table *t)
{
	uint32_t k = 0;

	if (pt_counted(dom))
		return pt_count(t);
	for (unsigned i = 0; i <= t->mask; i++)
		k += atomic_load_explicit(&t->va[i], memory_order_relaxed) != 0;
	return k;
}

/* a sign-extended from the top bit of the root's span, in a domain whose
 * format sign-extends its input; a itself otherwise. The first IOVA of
 * entry i of the root is pt_sext(dom, i << shift); any IOVA the domain
 * takes is its own pt_sext. */
static inline uint64_t pt_sext(const struct iopgt_domain *dom, uint64_t a)
{
	return (uint64_t)((int64_t)(a << dom->in_sext) >> dom->in_sext);
}

/* Whether [iova, last] (iova <= last) lies in the domain's input space,
 * within one half of it where the format sign-extends (pt.h, in_bias). */
static inline bool pt_in_space(const struct iopgt_domain *dom, uint64_t iova,
			       uint64_t last)
{
	uint64_t bi = iova + dom->in_bias, bl = last + dom->in_bias;

	return !(bl & dom->ias_mask) && bi <= bl;
}

/* The CPU address of the table page at hardware address pa. */
static inline pt_entry_t *pt_p2v(const struct iopgt_domain *dom, uint64_t pa)
{
	if (__builtin_expect(dom->cfg.phys_to_virt != NULL, 0))
		return dom->cfg.phys_to_virt(dom->cfg.mem.arg, pa);
	return (pt_entry_t *)(pa + dom->va_off);
}

/* The descriptor of the (non-root) table page at CPU address va: its
 * segment's descriptor array, indexed by the page's number. */
static inline struct pt_table *pt_desc(const struct iopgt_domain *dom,
				       const pt_entry_t *va)
{
	uintptr_t a = (uintptr_t)va;
	return (struct pt_table *)((a & ~dom->seg_mask) + dom->seg_desc_off) +
	       ((a & dom->seg_mask) >> dom->table_shift);
}

static inline uint64_t pt_load(const struct pt_table *t, unsigned idx)
{
	return atomic_load_explicit(&t->va[idx], memory_order_acquire);
}

/* ------------------------------------------------------------------------
 * Table memory (table.c)
 */

/* A zeroed table for `level` (from the cache, or fresh), owned by `owner`.
 * NULL if an allocation failed. */
struct pt_table *iopgt__table_alloc(struct iopgt_domain *dom, unsigned level,
				uint64_t owner);
/* Free a table that was never linked into the tree. */
void iopgt__table_free_unpublished(struct iopgt_domain *dom, struct pt_table *t);
/* Return a table page to its segment (zeroing it if it was written).
 * Call only once the flush and walker rules allow reuse. */
void iopgt__table_release(struct iopgt_domain *dom, struct pt_table *t);
/* Allocate / free the root, whose descriptor is dom->root_desc; the root
 * also fixes dom->va_off. NULL with *err: -ENOMEM (table_alloc failed),
 * -EINVAL (not aligned to the root's whole size), -ERANGE (beyond the
 * output address size). */
struct pt_table *iopgt__root_alloc(struct iopgt_domain *dom, int *err);
void iopgt__root_free(struct iopgt_domain *dom, struct pt_table *t);
/* Return the segments with no page in use to table_free. */
void iopgt__cache_trim(struct iopgt_domain *dom);
/* Return every segment to table_free (destroy). */
void iopgt__segments_destroy(struct iopgt_domain *dom);
/* Usable pages in the segments kept with no page in use. */
uint64_t iopgt__pages_cached(struct iopgt_domain *dom);
/* Hosted builds (hosted.c): fill in the built-in allocators where mem has
 * none (the table allocator's memory below 2^oas). If the table callbacks
 * are the built-in ones, *table_arg receives their state, to be given to
 * iopgt__mem_release() once every table page is back; else it is NULL.
 * -ENOMEM if that state cannot be allocated. */
int iopgt__mem_defaults(struct iopgt_mem_ops *mem, void **table_arg,
			unsigned oas);
/* A monotonic clock in nanoseconds (hosted builds). */
uint64_t iopgt__clock_ns(void);
void iopgt__mem_release(void *table_arg);

/* Gather and reclaim (gather.c). */

/* The largest size a caller's growable structure may claim: a larger one
 * was not set up by its init function (and must not make the library read
 * or clear past it). */
#define PT_STRUCT_SIZE_MAX 4096

/* The size of the first version of struct iopgt_gather: what a caller's
 * gather must hold at least. Fields added later come after priv. */
#define PT_GATHER_SIZE_V1                                                   \
	(offsetof(struct iopgt_gather, priv) +                              \
	 sizeof(((struct iopgt_gather *)0)->priv))

/* The size of the second version, which keeps ranges (struct
 * iopgt_flush_range): a gather at least this large has them. */
#define PT_GATHER_SIZE_V2                                                   \
	(offsetof(struct iopgt_gather, ranges) +                            \
	 sizeof(((struct iopgt_gather *)0)->ranges))

/* iopgt_gather.priv_flags, set when the gather is bound to a domain. */
enum {
	/* The gather keeps ranges (it has the second version's size). */
	PT_G_RANGES = 1u << 0,
	/* enum iopgt_gather_policy, in bits 5:4. */
	PT_G_POLICY_SHIFT = 4,
	PT_G_POLICY_MASK = 3u << 4,
};

/* The domain of a gather that never held anything: never NULL, so that a
 * gather iopgt_gather_init never saw (zero) is caught on the slow path. */
extern const char iopgt__unbound;
#define PT_UNBOUND ((const struct iopgt_domain *)(const void *)&iopgt__unbound)

/* The checks behind a gather whose domain is not dom (or NULL arguments):
 * -EINVAL for NULL dom or g, a g not set up by iopgt_gather_init, or a g
 * that holds another domain's state; else binds g to dom and returns 0. */
int iopgt__gather_bind(struct iopgt_domain *dom,
		       struct iopgt_gather *g);

/* The stamp of the domain a gather is bound to (0: none), in the first of
 * its spare words. A domain's stamp is unique in the process
 * (iopgt_domain.stamp), where its address is not: a gather left bound to
 * a destroyed domain must not pass for bound to a new domain that the
 * allocator put at the same address (it would keep the old domain's policy
 * and, with IOPGT_OPT_ONE_GATHER, skip the check of the open gather). */
#define PT_G_STAMP(g) ((g)->priv[0])
/* The shard (pt_shard()) of the thread that bound the gather, in the
 * second: the single-page paths' walker sections and the single flush's
 * count use it instead of hashing the stack address on every call. Set
 * with the stamp, so it is of the domain that the stamp names; taken
 * again by each sync that goes out of line (tables to free, several
 * ranges), so that a gather bound on one thread and then used on another
 * moves to that thread's line. Until then the two share a line: a shard
 * is a counter like any other, so nothing but speed depends on it. */
#define PT_G_SHARD(g) ((g)->priv[1])

static inline struct pt_shard *pt_gshard(const struct iopgt_gather *g)
{
	return (struct pt_shard *)(uintptr_t)PT_G_SHARD(g);
}

/* False if g is not yet bound to dom (or an argument is NULL): the caller
 * then goes through iopgt__gather_bind() on a path of its own, out of line,
 * so that the common path (g already bound to dom) costs one compare and
 * keeps its tail call. */
static inline bool pt_gather_bound(const struct iopgt_domain *dom,
				   const struct iopgt_gather *g)
{
	return __builtin_expect(g && dom && PT_G_STAMP(g) == dom->stamp, 1);
}

/* A caller's gather, unbound: iopgt__gather_bind(), and in a domain with
 * IOPGT_OPT_ONE_GATHER, -EBUSY (g left unbound) if another gather is
 * open, else g becomes the open one. */
int iopgt__gather_open(struct iopgt_domain *dom, struct iopgt_gather *g);
/* After a call failed: if g is the open gather and holds nothing, close
 * it again (a caller need not sync an empty gather). */
void iopgt__gather_unopen(struct iopgt_domain *dom, struct iopgt_gather *g);

/* The same check, binding in line, for the calls that are not hot
 * (dirty tracking, flush_all): 0, or the error of iopgt__gather_open(). */
static inline int pt_gather_use(struct iopgt_domain *dom,
				struct iopgt_gather *g)
{
	return pt_gather_bound(dom, g) ? 0 : iopgt__gather_open(dom, g);
}

/* Whether [a, b] and [c, d] overlap or touch (without overflow). */
static inline bool pt_touch(uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
	return !(c > b && c - b > 1) && !(a > d && a - d > 1);
}

/* Add r to g's ranges, when the last range cannot simply be widened:
 * merging, taking a new range, or, full, applying g's policy (which may
 * flush g's ranges at once). */
void iopgt__gather_add(struct iopgt_gather *g,
		       const struct iopgt_flush_range *r);

/* Add [iova, last], changed as kind (ADDED or MODIFIED), to g: its union
 * and, if it keeps them, its ranges, with the leaf sizes a TLB may hold
 * for it and any (IOPGT_RANGE_ANY_SIZE: other sizes too; always for
 * ADDED). A MODIFIED range is leaf-only, an ADDED one never (a table
 * may have been installed where an empty entry was cached). Always
 * inline: every unmap and every caching-mode map calls it; the first
 * range of a batch and a range that widens the last one stay inline.
 * pt_gather_range_fast() is those cases alone: false when the range needs
 * iopgt__gather_add() (a new range, or g's policy), with only the union
 * widened; pt_gather_range() is both. */
static inline __attribute__((always_inline)) bool
pt_gather_range_fast(struct iopgt_gather *g, uint64_t iova, uint64_t last,
		     enum iopgt_flush_kind kind, uint64_t sizes, uint32_t any)
{
	struct iopgt_flush_range *r;
	uint32_t flags;
	unsigned n;

	const bool ranges = g->priv_flags & PT_G_RANGES;

	n = ranges ? g->nr_ranges : 0;
	if (!ranges || n) {
		if (iova < g->iova)
			g->iova = iova;
		if (last > g->last)
			g->last = last;
		if (kind > g->kind)
			g->kind = kind;
		if (!ranges)
			return true;
	}
	flags = kind == IOPGT_FLUSH_ADDED ? IOPGT_RANGE_ANY_SIZE
					  : IOPGT_RANGE_LEAF_ONLY | any;
	if (!n) {
		/* The batch's first range: the union is empty, so it is
		 * the range. A slot's reserved fields are zero from
		 * iopgt_gather_init and every range written since. */
		r = &g->ranges[0];
		g->iova = iova;
		g->last = last;
		g->kind = kind;
		r->iova = iova;
		r->last = last;
		r->leaf_sizes = sizes;
		r->kind = kind;
		r->flags = flags;
		r->walk_levels = 0;
		g->nr_ranges = 1;
		return true;
	}
	r = &g->ranges[n - 1];
	if (r->kind == kind && pt_touch(r->iova, r->last, iova, last)) {
		r->flags = (r->flags & flags & IOPGT_RANGE_LEAF_ONLY) |
			   ((r->flags | flags) & IOPGT_RANGE_ANY_SIZE);
		if (iova < r->iova)
			r->iova = iova;
		if (last > r->last)
			r->last = last;
		r->leaf_sizes |= sizes;
		return true;
	}
	return false;
}

/* The part of pt_gather_range_fast() for a gather that keeps no ranges or
 * holds none yet (a batch's first range): true if it added the range;
 * false, with g unchanged, for pt_gather_range() to do (out of line: a
 * path that takes no other register for it). */
static inline __attribute__((always_inline)) bool
pt_gather_range_first(struct iopgt_gather *g, uint64_t iova, uint64_t last,
		      enum iopgt_flush_kind kind, uint64_t sizes, uint32_t any)
{
	if ((g->priv_flags & PT_G_RANGES) && g->nr_ranges)
		return false;
	return pt_gather_range_fast(g, iova, last, kind, sizes, any);
}

/* Add [iova, last], changed as kind, to g where pt_gather_range_fast()
 * could not: a new range, or g's policy. */
static inline void pt_gather_range_add(struct iopgt_gather *g, uint64_t iova,
				       uint64_t last,
				       enum iopgt_flush_kind kind,
				       uint64_t sizes, uint32_t any)
{
	iopgt__gather_add(g, &(struct iopgt_flush_range){
				     .iova = iova,
				     .last = last,
				     .leaf_sizes = sizes,
				     .kind = kind,
				     .flags = kind == IOPGT_FLUSH_ADDED
						      ? IOPGT_RANGE_ANY_SIZE
						      : IOPGT_RANGE_LEAF_ONLY |
								any });
}

static inline __attribute__((always_inline)) void
pt_gather_range(struct iopgt_gather *g, uint64_t iova, uint64_t last,
		enum iopgt_flush_kind kind, uint64_t sizes, uint32_t any)
{
	if (!pt_gather_range_fast(g, iova, last, kind, sizes, any))
		pt_gather_range_add(g, iova, last, kind, sizes, any);
}
/* Add an unlinked table (whose span starts at t->iova) to g: its whole span
 * joins the range with a WALK flush. empty: t held no entry when it was
 * unlinked, and every entry it held before was cleared by a change some
 * gather reports (IOPGT_RANGE_WALK_EMPTY). */
void iopgt__gather_table(struct iopgt_domain *dom, struct iopgt_gather *g,
			 struct pt_table *t, bool empty);
/* Free what waits for walkers, if none is left. */
void iopgt__reclaim_waiting(struct iopgt_domain *dom);

#endif /* IOPGT_PT_H */
