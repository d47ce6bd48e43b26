/* SPDX-License-Identifier: MIT */
/*
 * iopgt: I/O page tables in real hardware formats.
 *
 * Vocabulary
 *   domain   one table tree and its configuration.
 *   IOVA     a device (input) address; PA an output (physical) address.
 *   range    given as iova + size in bytes at this API; internally iova/last
 *            with last inclusive, so the top of a 64-bit space is expressible.
 *   leaf     an entry that translates; a superpage is a leaf above the lowest
 *            level. Leaf sizes are given as byte sizes (IOPGT_SZ_*).
 *   gather   what a caller accumulates across map/unmap: the IOVA range to
 *            invalidate, the kind of flush needed and the table pages that
 *            were unlinked. The caller flushes once per batch with sync.
 *
 * Every call that can fail returns 0 (or a byte count) on success and a
 * negative errno on failure. A failed call leaves the domain as it was.
 * Each function states its concurrency contract beside it.
 *
 * Growing the ABI. Every structure the caller allocates and the library
 * reads or fills carries its size: iopgt_config_init() and
 * iopgt_gather_init() record sizeof as the caller's header had it, and
 * iopgt_get_stats() and iopgt_domain_info() take it as an argument. A newer
 * library adds fields only at the end, each designed so that zero means its
 * default, and gives a field the caller's structure does not have that
 * zero; an older library refuses (-E2BIG) a
 * configuration whose fields past its own end are not zero, and zeroes the
 * counters it does not know. Structures the library hands to callbacks may
 * grow at the end. Compiled callers therefore keep working across releases
 * of the same SONAME; see the README, "ABI and versions".
 *
 * Needs only <stddef.h> and <stdint.h> (or IOPGT_TYPES_HEADER, below), so it
 * can be included in a kernel, a hypervisor or firmware.
 */
#ifndef IOPGT_H
#define IOPGT_H

/* A kernel whose own headers define the fixed-width types (Linux:
 * <linux/types.h>) names one header that provides uint32_t, uint64_t,
 * int64_t and size_t. */
#ifdef IOPGT_TYPES_HEADER
#include IOPGT_TYPES_HEADER
#ifndef UINT64_C
#define UINT64_C(c) c##ULL
#endif
#else
#include <stddef.h>
#include <stdint.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Every declaration below is exported from the shared library; the
 * library's internals are built hidden. */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

/* The version of this header. iopgt_version() gives the library's. */
#define IOPGT_VERSION_MAJOR 0
#define IOPGT_VERSION_MINOR 3
#define IOPGT_VERSION_PATCH 0
#define IOPGT_VERSION                                                      \
	((IOPGT_VERSION_MAJOR << 16) | (IOPGT_VERSION_MINOR << 8) |         \
	 IOPGT_VERSION_PATCH)

/* The running library's version, as IOPGT_VERSION encodes it, and as a
 * string ("0.2.0"). Compare with the header's to detect a mismatch. Pure. */
unsigned iopgt_version(void);
const char *iopgt_version_string(void);

/* ------------------------------------------------------------------------
 * Formats, sizes, protection
 */

enum iopgt_format {
	/* x86-64 paging (Intel VT-d first stage, AMD IOMMU v2): 4 levels for
	 * ias <= 48, 5 levels for ias 49..57; 4K, 2M and 1G leaves. IOVAs
	 * are canonical, sign-extended from bit ias - 1: with ias 48, below
	 * 0x800000000000 and from 0xffff800000000000 up. */
	IOPGT_FMT_X86_64 = 1,
	/* ARM VMSAv8-64 LPAE stage 2: 4K, 16K or 64K granule, ias 32..48,
	 * start level and concatenated root tables as the architecture
	 * prescribes. */
	IOPGT_FMT_ARM_S2 = 2,
	/* Intel VT-d second stage (legacy second-level and scalable-mode
	 * second-stage tables): 3, 4 or 5 levels for ias 39, 40..48 and
	 * 49..57; 4K, 2M and 1G leaves; write-only allowed; dirty tracking
	 * with second-stage A/D enabled. */
	IOPGT_FMT_VTDSS = 3,
	/* AMD IOMMU v1 (host) tables: 3 to 6 levels (the device table
	 * entry's Mode) for ias 39, 40..48, 49..57 and 58..63; 4K, 2M and
	 * 1G leaves; write-only allowed; dirty tracking with the hardware's
	 * dirty bit. */
	IOPGT_FMT_AMDV1 = 4,
};

#define IOPGT_SZ_4K   (UINT64_C(1) << 12)
#define IOPGT_SZ_16K  (UINT64_C(1) << 14)
#define IOPGT_SZ_64K  (UINT64_C(1) << 16)
#define IOPGT_SZ_2M   (UINT64_C(1) << 21)
#define IOPGT_SZ_32M  (UINT64_C(1) << 25)
#define IOPGT_SZ_512M (UINT64_C(1) << 29)
#define IOPGT_SZ_1G   (UINT64_C(1) << 30)

/* Protection bits for iopgt_map(). READ or WRITE (or both) is required.
 * x86-64 cannot express write-only; ARM stage 2 cannot express USER, nor
 * EXEC with MMIO (Device memory must be execute-never). A combination the
 * format cannot express is -EINVAL, never silently widened
 * (iopgt_format_info().prots lists those it can). */
enum {
	IOPGT_PROT_READ = 1u << 0,
	IOPGT_PROT_WRITE = 1u << 1,
	IOPGT_PROT_EXEC = 1u << 2,  /* absent: XD (x86) / XN (ARM) set */
	IOPGT_PROT_USER = 1u << 3,  /* x86 U/S=1: user-mode (PASID) access */
	IOPGT_PROT_MMIO = 1u << 4,  /* device memory: x86 PCD|PWT, ARM Device-nGnRE */
};

/* Flush kinds, ordered: a higher kind includes what the lower ones do. */
enum iopgt_flush_kind {
	IOPGT_FLUSH_NONE = 0,     /* only empty entries filled; no caching mode */
	IOPGT_FLUSH_ADDED = 1,    /* empty entries filled, caching mode on */
	IOPGT_FLUSH_MODIFIED = 2, /* a present entry changed or was cleared */
	IOPGT_FLUSH_WALK = 3,     /* a table was unlinked: leaf and paging-
	                           * structure caches over the whole range */
};
#define IOPGT_FLUSH_KINDS 4

/* One range of a gather, as iopgt_sync() hands it to flush_ranges (or, a
 * range at a time, to flush_range) and as iopgt_inval_encode() takes it.
 * Its size is fixed: later versions fill the reserved fields, whose zero
 * means what this version means. */
struct iopgt_flush_range {
	uint64_t iova;       /* first byte to invalidate */
	uint64_t last;       /* last byte to invalidate (inclusive) */
	/* OR of the byte sizes a TLB may hold translations of the range
	 * at: those of the leaf entries changed or cleared, and those of
	 * any leaf they were split from or coalesced out of since their
	 * table was created (whose invalidation may still be pending in
	 * another gather). With IOPGT_RANGE_ANY_SIZE, other sizes too. */
	uint64_t leaf_sizes;
	uint32_t kind;       /* enum iopgt_flush_kind: ADDED, MODIFIED or
	                      * WALK (never NONE) */
	uint32_t flags;      /* IOPGT_RANGE_* */
	/* WALK: bit l set when a table whose entries are at level l was
	 * unlinked (level 0: the table of smallest pages; iopgt_info.levels
	 * counts the levels). Its paging-structure cache entries, and those
	 * of the tables above it for the range, must go. 0 otherwise. */
	uint32_t walk_levels;
	/* WALK with IOPGT_RANGE_WALK_EMPTY: every table the range unlinks
	 * holds [walk_iova, walk_iova + 2^walk_shift - 1], the span of the
	 * smallest of them. 0 otherwise. */
	uint32_t walk_shift;
	uint64_t walk_iova;
	uint64_t reserved[1];
};

/* iopgt_flush_range.flags */
enum {
	/* Only leaf entries were cleared or changed in the range, and no
	 * table entry that a paging-structure cache may hold (a leaf split
	 * into a table counts as a leaf change: no cache held a table entry
	 * there): paging-structure caches may be kept (VT-d IH=1, AMD
	 * PDE=0, SMMUv3 Leaf=1). Never on ADDED or WALK ranges. */
	IOPGT_RANGE_LEAF_ONLY = 1u << 0,
	/* The TLB may hold translations of the range at sizes leaf_sizes
	 * does not list: ADDED ranges (caching mode caches a non-present
	 * result at the size of whatever empty entry the walk stopped at),
	 * WALK ranges, leaves of several entries (AMD v1) and ranges merged
	 * with one of these. An encoder then uses no size hint (SMMUv3 TTL,
	 * a step of one leaf) but still covers the sizes listed (a VT-d
	 * address mask of at least a listed superpage's order). */
	IOPGT_RANGE_ANY_SIZE = 1u << 1,
	/* WALK only: every table the range unlinks was empty when unlinked,
	 * and every entry it ever held was cleared by a change that this
	 * sync or an earlier one reports in another range (or was never
	 * present). What a cache may still hold of the range is then the
	 * entries above that named the tables: all on the path of
	 * walk_iova. One non-leaf invalidation of the page at walk_iova
	 * drops them on every IOMMU here (VT-d IH=0, AMD PDE=1, SMMUv3
	 * Leaf=0, RISC-V NL=1: each drops the paging-structure entries used
	 * to translate the address), where the range itself may span up to
	 * a top-level table's 512 GiB; iopgt_inval_encode() does that. A
	 * caller that ignores the flag and invalidates [iova, last] is
	 * correct too. Set only in a domain with IOPGT_OPT_ONE_GATHER (else
	 * another gather may still hold, unflushed, a clear of one of the
	 * tables), by policies that keep several ranges (MERGE, EARLY);
	 * lost when the range is merged with any range whose tables do not
	 * all hold one page. */
	IOPGT_RANGE_WALK_EMPTY = 1u << 2,
};

/* How a gather keeps what a batch changed (iopgt_config.gather_policy;
 * the tool's --gather-policy). Every policy reports every byte changed,
 * with its kind; they differ in what else they report and when. */
enum iopgt_gather_policy {
	/* Up to IOPGT_GATHER_RANGES ranges: a change that overlaps or
	 * touches a range of the same kind widens it, any other takes a
	 * range of its own; when all are taken, the two ranges of the same
	 * kind class (ADDED apart from MODIFIED and WALK) whose merge adds
	 * the fewest bytes are merged. ADDED ranges are never merged with
	 * the others. Nothing is flushed before sync. The default. */
	IOPGT_GATHER_MERGE = 0,
	/* One range, the union of everything, and the highest kind: the
	 * policy of earlier versions, and of a gather whose caller's
	 * structure has no ranges (sized before they existed). */
	IOPGT_GATHER_UNION = 1,
	/* As MERGE, but instead of merging, a full gather is flushed at once
	 * (its ranges go to the flush callbacks from inside the map, unmap
	 * or dirty call that filled it; its tables still wait for sync).
	 * No ADDED or MODIFIED byte is reported that the batch did not
	 * change (but for an unmap that leaves more than 32 runs of cleared
	 * entries in one table: the last is widened over the holes after
	 * it), at the cost of more flush calls. -EINVAL with the RCU
	 * strategy (struct iopgt_flush_ops). */
	IOPGT_GATHER_EARLY = 2,
	/* One range; a change that neither overlaps nor touches it, or of
	 * another class (ADDED against MODIFIED or WALK), first flushes it
	 * (as EARLY, from inside the call): the rule of Linux's
	 * iommu_iotlb_gather_is_disjoint(). A change inside the range, or
	 * holding it, of a higher kind of its class joins it. -EINVAL with
	 * the RCU strategy. */
	IOPGT_GATHER_DISJOINT = 3,
};
#define IOPGT_GATHER_POLICIES 4
/* Ranges a gather holds. */
#define IOPGT_GATHER_RANGES 8

/* The formats this library offers, as its format registry lists them:
 * everything a tool needs to list them, parse a format name and choose a
 * configuration, without knowing the formats in advance. */
struct iopgt_format_info {
	enum iopgt_format format;
	const char *name;        /* "x86_64": as iopgt_format_name() gives it
	                          * and the tool's --format takes it; static */
	const char *description; /* one line of text; static */
	uint64_t granules;       /* granules offered: bit g for 2^g bytes
	                          * (bit 12: 4K) */
	unsigned ias_min, ias_max; /* input address bits accepted (with
	                            * IOPGT_FORMAT_IAS_WITHIN_OAS, up to
	                            * oas) */
	unsigned oas_min, oas_max; /* output address bits accepted... */
	uint64_t oas_values;     /* ...exactly these: bit n for oas n (ARM
	                          * stage 2 takes its VTCR_EL2.PS sizes
	                          * only) */
	/* What iopgt_config_init() fills in for this format. */
	unsigned ias_default, oas_default, granule_default;
	unsigned levels_default;  /* levels walked in that configuration */
	uint64_t leaf_sizes;      /* its leaf sizes (OR of byte sizes) */
	uint32_t prots;           /* bit p set: iopgt_map() accepts prot p
	                           * (0..31); others are -EINVAL */
	unsigned flags;           /* IOPGT_FORMAT_* */
	/* The IOMMU whose table format this is (enum iopgt_iommu; 0 for
	 * none): iopgt_inval_config_init() writes its commands by default. */
	unsigned iommu;
	/* New fields are added here, at the end. */
};

/* iopgt_format_info.flags */
enum {
	/* The hardware sets dirty bits: iopgt_read_and_clear_dirty() works. */
	IOPGT_FORMAT_DIRTY = 1u << 0,
	/* The input address size may not exceed the output address size:
	 * only configurations with ias <= oas are accepted (ARM stage 2, whose
	 * IPA size the architecture bounds by the PA size). */
	IOPGT_FORMAT_IAS_WITHIN_OAS = 1u << 1,
	/* Input addresses are sign-extended from bit ias - 1 (x86-64:
	 * canonical addresses): a domain takes the IOVAs below 2^(ias-1) and
	 * those from 2^64 - 2^(ias-1) up (the upper half); the ones between
	 * are -ERANGE, and no range may cross from one half to the other.
	 * iopgt_info.iova_last and iova_upper give the two parts. */
	IOPGT_FORMAT_SIGN_EXTEND = 1u << 2,
	/* Leaves can force snooping: IOPGT_OPT_FORCE_SNOOP is accepted. */
	IOPGT_FORMAT_SNOOP = 1u << 3,
	/* A domain's root level can grow while it is in use: the hardware
	 * takes the root and the number of levels in one write (AMD v1: the
	 * device table entry's Mode and root). iopgt_config.ias_max is
	 * accepted. */
	IOPGT_FORMAT_GROWS = 1u << 4,
	/* A first-stage (stage 1) table of its IOMMU: its invalidations are
	 * that IOMMU's first-stage commands (IOPGT_INVAL_FIRST_STAGE). */
	IOPGT_FORMAT_FIRST_STAGE = 1u << 5,
};

/* Describe the index-th format of this library (0, 1, ... in the
 * registry's order, which is stable within a release) in info, of size
 * bytes (sizeof(*info) as the caller sees it): fields past size are not
 * written, fields the library does not know are zeroed. Returns 0, -ENOENT
 * if index is past the last format (so a loop from 0 lists them all), or
 * -EINVAL for a NULL info or a size above 4096. Pure and thread-safe: the
 * answer never changes while the library is loaded. */
int iopgt_format_info(unsigned index, struct iopgt_format_info *info,
		      size_t size);

/* ------------------------------------------------------------------------
 * Configuration
 */

/* Invalidation callbacks. They are called from iopgt_sync(),
 * iopgt_flush_all() and iopgt_reclaim(), never from map or unmap unless
 * the gather policy is IOPGT_GATHER_EARLY or IOPGT_GATHER_DISJOINT, and
 * must not return before the invalidation has completed. They may be
 * called from several threads at once if the caller syncs from several
 * threads. Under EARLY and DISJOINT they are also called from inside map,
 * unmap and iopgt_read_and_clear_dirty(), while the call is inside the
 * walker's section: they must not wait for the library's reclaim (a sync
 * or iopgt_reclaim() on another thread), and those policies are refused
 * with the RCU strategy, whose section is the application's read-side
 * critical section. */
struct iopgt_flush_ops {
	/* Invalidate [iova, last] (last inclusive) as needed by kind. */
	void (*flush_range)(void *arg, uint64_t iova, uint64_t last,
			    enum iopgt_flush_kind kind);
	/* Invalidate everything the hardware caches for this domain. */
	void (*flush_all)(void *arg);
	void *arg;
};

/* Table memory. table_alloc returns size bytes aligned to size and
 * contiguous in hardware addresses, and stores the address the hardware
 * sees in *pa; the memory need not be zeroed. The hardware walks the
 * tables with addresses of at most cfg.oas bits: memory at or above
 * 2^oas (any byte of it) is given back to table_free, and the call that
 * asked for it fails (iopgt_domain_create: -ERANGE for the root; a map or
 * a split: -ENOMEM, as when table_alloc returns NULL). It is asked for the root (one
 * table page, or the concatenated root tables) and for segments of
 * cfg.segment_size bytes, out of which the library carves table pages and
 * keeps, in a segment's last pages, 64 bytes of bookkeeping per page. The
 * library writes entries through the returned pointers only. meta_alloc/
 * meta_free hold the domain structure and may be left NULL (then malloc/
 * free are used). All four may be called concurrently from writers of the
 * same domain. */
struct iopgt_mem_ops {
	void *(*table_alloc)(void *arg, size_t size, uint64_t *pa);
	void (*table_free)(void *arg, void *va, uint64_t pa, size_t size);
	void *(*meta_alloc)(void *arg, size_t size);
	void (*meta_free)(void *arg, void *ptr, size_t size);
	void *arg;
};

/* Options; zero is the sensible default for each. */
enum {
	/* The hardware (or a hypervisor under it) caches non-present entries:
	 * filling an empty entry needs an ADDED flush. */
	IOPGT_OPT_CACHING_MODE = 1u << 0,
	/* Keep tables that unmap empties instead of reclaiming them. */
	IOPGT_OPT_NO_RECLAIM = 1u << 1,
	/* Never replace a full, contiguous table by a superpage. */
	IOPGT_OPT_NO_COALESCE = 1u << 2,
	/* The default: a domain keeps no per-table entry counts unless it
	 * asks for them (IOPGT_OPT_COUNTS); this names the default, which
	 * callers written when counts were the default ask for. Without
	 * counts, single-page maps and unmaps, and every fill of smallest
	 * pages, write nothing but entries, so writers of disjoint ranges
	 * that share tables do not slow each other down (installing a table,
	 * splitting a leaf, filling or range-unmapping larger leaves,
	 * unlinking and coalescing still take the table's state word
	 * briefly, and so do the unmaps of any leaf of a table level whose
	 * leaves may also span several entries, AMD v1's sizes between its
	 * levels, unless NO_COALESCE: those are coalesced within their table
	 * in place). A probe of a few entries stands in for the count, and a
	 * scan decides: unless NO_COALESCE, a table that may have become
	 * full (its first, middle and last entries and the new entry's
	 * neighbours present) is scanned and coalesced; unless NO_RECLAIM, a
	 * table that may have become empty (its first, middle and last
	 * entries and the cleared entry's line of eight empty) is kept for
	 * reuse or unlinked after a scan. A map pays a fence after its
	 * store, and a table that empties a scan. With NO_RECLAIM as well, a
	 * map that fails keeps the (empty) tables it created, until a
	 * superpage is mapped over them or the domain is destroyed.
	 * -EINVAL together with IOPGT_OPT_COUNTS. */
	IOPGT_OPT_NO_COUNTS = 1u << 3,
	/* Every leaf forces the device's accesses to snoop the processors'
	 * caches, whatever the request's no-snoop attribute (VT-d second
	 * stage SNP). -EINVAL at create for a format that cannot express it
	 * (iopgt_format_info: IOPGT_FORMAT_SNOOP). */
	IOPGT_OPT_FORCE_SNOOP = 1u << 4,
	/* Keep a count of the entries in use in each table, in its state
	 * word, updated by every map and unmap (two atomic read-modify-writes
	 * for a single page): emptied tables are found without a probe or a
	 * scan, and a map that fails returns the empty tables it created
	 * even with NO_RECLAIM. It suits a single writer that empties tables
	 * often and keeps none for reuse (table_cache 0). Writers of
	 * disjoint ranges that share a table then take turns owning its
	 * state word's line, and two run slower than one. No effect in a
	 * domain with both NO_RECLAIM and NO_COALESCE, which needs no
	 * counts. */
	IOPGT_OPT_COUNTS = 1u << 5,
	/* The caller keeps at most one gather with a batch not yet synced
	 * on this domain at a time (one thread, or its own lock, syncing
	 * each batch before the next gather is used). Then every entry a
	 * table held was cleared by this batch or by one whose sync has
	 * completed, and the WALK range of a table an unmap empties carries
	 * IOPGT_RANGE_WALK_EMPTY: one page's command instead of its span.
	 * Without it, a table emptied by one gather may hold leaves that
	 * another gather cleared and has not yet flushed, which only a
	 * WALK over the whole span drops before the table is reused, so
	 * the flag is never set. Checked: map, unmap, dirty tracking and
	 * flush_all with a gather other than the one open return -EBUSY
	 * (nothing done) until that one is synced; sync closes it, and so
	 * does a call that fails leaving the gather empty. A sync of another
	 * gather that holds nothing does nothing and returns 0. */
	IOPGT_OPT_ONE_GATHER = 1u << 6,
};

/* Reclaim strategies: how a table page that unmap or a superpage unlinked
 * is freed once the flush that covers it (iopgt_sync) has completed, while
 * lock-free walkers (lookup, dirty tracking, the walks of writers on other
 * ranges) may still be reading it. A call "walks" from its start to its
 * return; iopgt_sync, iopgt_flush_all and iopgt_reclaim do not walk. */
enum iopgt_strategy {
	/* The default: each walking call counts itself, with two atomic
	 * read-modify-writes of a per-thread-group line, under the parity of
	 * the domain's epoch; a flushed table waits until the epoch has
	 * advanced twice (at a later sync or iopgt_reclaim), or is freed at
	 * its sync if no walker is counted. Needs nothing from the caller. */
	IOPGT_STRATEGY_EPOCH = 0,
	/* For callers that serialize every call on the domain (one thread at
	 * a time, a lock of their own): a flushed table is freed at once by
	 * its sync, and a call marks nothing (no walker cost at all). Calls
	 * that overlap in time break rule 5: a walker may read a freed
	 * table. */
	IOPGT_STRATEGY_AFTER_FLUSH = 1,
	/* RCU with the application's liburcu flavor (rcu_flavor below):
	 * each walking call holds the flavor's read-side lock (under QSBR
	 * that costs nothing, and the application's threads must announce
	 * quiescent states as QSBR requires); the tables one sync frees go
	 * to one call_rcu callback. Every thread that calls into the domain
	 * must be registered with the flavor (bp registers by itself), and
	 * iopgt_sync, iopgt_flush_all, iopgt_reclaim and destroy must be
	 * called outside any read-side critical section: they may wait for a
	 * grace period. -EOPNOTSUPP from iopgt_domain_create in a build
	 * without liburcu's headers (freestanding). */
	IOPGT_STRATEGY_RCU = 2,
	/* A deferred worker (hosted builds; -EOPNOTSUPP freestanding): the
	 * walker is the epoch's; a sync tags its flushed tables with the
	 * epoch, puts them on a queue of its own thread and returns, and a
	 * thread of the domain frees them once no walker can hold them, at
	 * most 512 pages at a time, yielding between batches. It is woken
	 * only when a queue gains pages that nothing else waits for. A
	 * thread that exits hands its queue's pages to the domain. A sync
	 * after which more than 4096 pages are queued waits until the worker
	 * has freed enough to bring them back under that bound (counted in
	 * iopgt_stats.reclaim_waits). The worker calls table_free.
	 * iopgt_reclaim and destroy wait until the queued pages are freed. */
	IOPGT_STRATEGY_WORKER = 3,
};

/* liburcu's flavor table (<urcu/flavor.h>): &urcu_memb_flavor,
 * &urcu_qsbr_flavor, &urcu_mb_flavor, &urcu_bp_flavor, ... */
struct rcu_flavor_struct;

struct iopgt_hw_config;

/* Fill with iopgt_config_init(), then change what you need. */
struct iopgt_config {
	uint32_t size;       /* sizeof(struct iopgt_config) of the caller;
	                      * set by iopgt_config_init() */
	enum iopgt_format format;
	unsigned ias;        /* IOVA bits */
	unsigned oas;        /* output address bits */
	unsigned granule;    /* log2 of the smallest page: 12, 14 or 16 */
	uint64_t leaf_sizes; /* OR of byte sizes (IOPGT_SZ_*); 0: all the
	                      * format offers. Must hold the one-entry size of
	                      * every level from the granule up to the largest
	                      * level wanted, without gaps; a size of several
	                      * entries of a level (AMD v1's 8K..1M, 4M..512M,
	                      * 2G..256G) only with that level's one-entry
	                      * size. -EINVAL otherwise. */
	unsigned options;    /* IOPGT_OPT_* */
	unsigned table_cache; /* tables kept for reuse (default 8, at most
	                       * 32): up to this many tables that unmap
	                       * emptied stay linked, empty, until a later
	                       * unmap needs their place or iopgt_reclaim();
	                       * and one segment whose pages are all free is
	                       * kept. 0: unlink every emptied table at once
	                       * and return every free segment. */
	/* The two callback tables below are frozen: a new callback becomes a
	 * field of its own at the end of this structure. */
	struct iopgt_flush_ops flush; /* NULL callbacks: no-ops */
	struct iopgt_mem_ops mem;     /* NULL table callbacks: the built-in
	                               * allocator (aligned memory from mmap,
	                               * pa = va, below 2^oas: placed low
	                               * when oas is smaller than the
	                               * process's address space, -ENOMEM
	                               * when no room is left there; a
	                               * domain's segments after
	                               * its first are advised for
	                               * transparent huge pages, so that a
	                               * large domain's lookups hit the TLB);
	                               * NULL meta callbacks:
	                               * malloc and free. Give both of a pair
	                               * or neither (else -EINVAL). A
	                               * freestanding build has no built-in
	                               * ones: all four must be given. */
	/* Bytes table_alloc is asked for at a time: a power of two of at
	 * least two table pages and at most 1 GiB (else -EINVAL). 0: 2 MiB,
	 * or two table pages if that is more. Smaller segments suit an
	 * allocator that cannot give large contiguous blocks; with two table
	 * pages, each table has a segment of its own. */
	uint64_t segment_size;
	/* The CPU address of the table memory that the hardware sees at pa
	 * (arg: mem.arg). Called on every level of every walk, so keep it
	 * cheap. NULL: pa plus a constant, which must then be the same for
	 * the root and every segment (the built-in allocator has pa = va). */
	void *(*phys_to_virt)(void *arg, uint64_t pa);
	/* The reclaim strategy (enum iopgt_strategy; default epoch). */
	unsigned strategy;
	/* IOPGT_STRATEGY_RCU only (else must be NULL and 0): the flavor,
	 * and the table pages of this domain that may wait in RCU callbacks
	 * (0: 4096). A sync that would pass the bound, or cannot allocate
	 * its batch's record (meta_alloc, 48 bytes), waits for a grace
	 * period itself (synchronize_rcu) and frees its tables directly; a
	 * sync running concurrently with others may pass it by its own
	 * batch. */
	const struct rcu_flavor_struct *rcu_flavor;
	uint64_t rcu_max_pending;
	/* A root level that grows (formats with IOPGT_FORMAT_GROWS: AMD
	 * v1). ias_max 0: the domain takes IOVAs below 2^ias for its whole
	 * life. Else the largest ias it may grow to, above ias and at most
	 * the format's ias_max: the domain takes IOVAs below 2^ias_max, and
	 * starts with the levels that ias needs, which must fill them (AMD
	 * v1: ias 39, 48 or 57; else -EINVAL). A map that reaches above
	 * what the levels walked cover first grows the domain: it adds the
	 * roots needed above the current one (entry 0 of each names the
	 * one below, so every translation stays as it was) and calls grow
	 * with the values for the new root (iopgt_hw_config: levels, root,
	 * amd_dte). Only once grow has returned 0 do the library's walks
	 * start from the new root, so no map into the new range returns
	 * before the hardware can walk it. grow must point every device
	 * attached to the domain at the new root: for AMD v1, write each
	 * device table entry's Mode and root (one 64-bit store) and
	 * invalidate the entry (INVALIDATE_DEVTAB_ENTRY, AMD IOMMU
	 * specification §2.4.2); no IOTLB flush, since no translation
	 * changed. A non-zero return (a negative errno) fails the map with
	 * it and frees the new roots at once: it must mean that no hardware
	 * walks them (grow pointed none at them, or pointed every one back
	 * and invalidated it). Maps that need to grow the domain wait while
	 * one grows it, so grow is called by one thread at a time; it may
	 * not call this domain's functions. A driver attaching a device
	 * while the domain may grow holds the lock its grow takes across
	 * iopgt_hw_config(), the device's entry write and adding the device
	 * to what grow updates, so that no device is left on an old root.
	 * grow is required with ias_max; grow and grow_arg must be NULL
	 * without it (-EINVAL). A growing domain's root pages come from its
	 * segments: a root table_alloc gave beyond 2^oas or misaligned is
	 * -ENOMEM at create, like no memory. arg: grow_arg. */
	unsigned ias_max;
	int (*grow)(void *arg, const struct iopgt_hw_config *hw);
	void *grow_arg;
	/* enum iopgt_gather_policy (default IOPGT_GATHER_MERGE); -EINVAL
	 * past the last, and for EARLY or DISJOINT with the RCU strategy. */
	unsigned gather_policy;
	/* Invalidate the nr ranges of a gather (arg: flush.arg), all before
	 * returning: a sync calls it once with every range it holds, so that
	 * a driver can queue the commands for all of them and wait once
	 * (iopgt_inval_encode() writes them); a gather of the first
	 * version's size comes as one range (its union, of any size, not
	 * leaf-only). NULL: flush_range is called once per range instead.
	 * Called where and as flush_range is (struct iopgt_flush_ops). */
	void (*flush_ranges)(void *arg, const struct iopgt_flush_range *r,
			     unsigned nr);
	/* New fields are added here, at the end. */
};

/* Fill cfg with the defaults for fmt and record size, which must be
 * sizeof(*cfg) as the caller sees it: the format's default granule, ias and
 * oas (iopgt_format_info(): x86-64 48-bit input, 52-bit output; ARM stage
 * 2 4K granule, 48-bit input and output); table_cache 8; no
 * options; no-op flushes; the built-in allocator. Returns -EINVAL for an
 * unknown format, a NULL cfg, or a size smaller than the first version of
 * the structure, or larger than 4096. Pure function. */
int iopgt_config_init(struct iopgt_config *cfg, size_t size,
		      enum iopgt_format fmt);

/* ------------------------------------------------------------------------
 * Domains
 */

struct iopgt_domain;

/* Create a domain. On success stores it in *out and returns 0; -EINVAL for
 * a configuration the format cannot honour (an ias above the oas where
 * the format has IOPGT_FORMAT_IAS_WITHIN_OAS, ...; or one not filled by
 * iopgt_config_init(): its size is below the first version's or above
 * 4096), -E2BIG if cfg has non-zero fields this library does not know,
 * -ENOMEM if the root cannot be allocated, -ERANGE if table_alloc gave a
 * root the hardware cannot reach (any byte at or above 2^oas), -EINVAL if
 * it gave one not aligned to its whole size (a concatenated root: to all
 * its tables). Nothing is kept from a failed call. Thread-safe (touches
 * nothing shared). */
int iopgt_domain_create(const struct iopgt_config *cfg,
			struct iopgt_domain **out);

/* Destroy a domain and return every table page to table_free. Call with no
 * other call on this domain running or to come; hardware must no longer use
 * the tables. Gathers still holding tables of this domain must be synced
 * first (a debug build checks it). With RCU, waits for the domain's
 * callbacks (rcu_barrier): call it outside any read-side critical section
 * and not from an RCU callback. NULL is ignored. */
void iopgt_domain_destroy(struct iopgt_domain *dom);

struct iopgt_info {
	enum iopgt_format format;
	unsigned ias, oas, granule;
	unsigned levels;       /* levels walked, root included */
	unsigned start_level;  /* the architecture's number of the root level
	                        * (x86: 4 or 5 = PML4/PML5; ARM: 0..3) */
	unsigned root_tables;  /* concatenated root tables (ARM), else 1 */
	uint64_t root_pa;      /* what the hardware is given as its table base */
	uint64_t leaf_sizes;   /* leaf sizes in use */
	unsigned options;      /* as configured */
	unsigned strategy;     /* enum iopgt_strategy, as configured */
	/* The IOVAs the domain takes: [0, iova_last] and, if iova_upper is
	 * not 0, [iova_upper, 2^64 - 1] too. iova_last is 2^ias - 1, or,
	 * where the format sign-extends its input
	 * (IOPGT_FORMAT_SIGN_EXTEND), 2^(ias-1) - 1, with the upper half
	 * from iova_upper = 2^64 - 2^(ias-1). */
	uint64_t iova_last;
	uint64_t iova_upper;
	/* A growing domain (iopgt_config.ias_max): ias_max as configured;
	 * ias, levels, start_level and root_pa are those of the root walks
	 * start from at the time of the call, and iova_last is
	 * 2^ias_max - 1. Else 0. */
	unsigned ias_max;
	/* New fields are added here, at the end. */
};

/* Describe the domain in info, of size bytes (sizeof(*info) as the caller
 * sees it): fields past size are not written, fields the library does not
 * know are zeroed. Returns 0, or -EINVAL for NULL pointers. Thread-safe;
 * the answer never changes, but for a growing domain's root (above). */
int iopgt_domain_info(const struct iopgt_domain *dom, struct iopgt_info *info,
		      size_t size);

/* The values a driver writes into the IOMMU's own structures to point a
 * device (or a PASID) at this domain's tables, in the positions the
 * hardware takes them: each word holds the fields the domain decides and
 * zero elsewhere, for the driver to OR in what it decides itself (present
 * bits, domain, VMID and ASID numbers, fault handling, dirty tracking
 * enables). A word that does not apply to the domain's format is zero.
 * Section numbers are those of the specifications named. */
struct iopgt_hw_config {
	enum iopgt_format format;
	unsigned levels;
	uint64_t root;   /* the root table's hardware address (as root_pa) */

	/* Intel VT-d (x86_64: first stage; vtdss: second stage). */
	/* Legacy-mode context entry (VT-d §9.3), vtdss only: [0] SSPTPTR
	 * (bits 63:12); [1] AW (bits 66:64 of the entry, 2:0 of this word):
	 * 1 for 3 levels (39-bit AGAW), 2 for 4 (48), 3 for 5 (57). The
	 * driver adds P, FPD, TT (0b00: untranslated requests translated)
	 * and DID. */
	uint64_t vtd_context[2];
	/* Scalable-mode PASID-table entry (VT-d §9.6), its first four
	 * 64-bit words. vtdss: [0] SSPTPTR (63:12), PGTT 0b010
	 * (second-stage only, bits 8:6), AW (4:2). x86_64: [0] PGTT 0b001
	 * (first-stage only) and AW; [2] FSPTPTR (bits 191:140 of the
	 * entry, 63:12 of the word) and FSPM (bits 131:130: 0 for 4-level,
	 * 1 for 5-level paging). The driver adds P, FPD, DID, SSADE (for
	 * dirty tracking, vtdss), PGSNP, SRE and the rest. */
	uint64_t vtd_pasid[4];

	/* AMD IOMMU (amdv1): the device table entry's bits 63:0 (AMD IOMMU
	 * specification §2.2.2): Mode (11:9) = levels, the page table root
	 * pointer (51:12). The driver adds V, TV, IR, IW, HAD and the
	 * rest. */
	uint64_t amd_dte;

	/* Arm (arm_s2). */
	/* VTTBR_EL2 (Arm ARM D17/D19 "VTTBR_EL2"): BADDR, the root (a
	 * concatenated root is aligned to its whole size). The driver adds
	 * VMID (bits 63:48) and CnP. */
	uint64_t arm_vttbr;
	/* VTCR_EL2: T0SZ (5:0) = 64 - ias, SL0 (7:6) for the start level,
	 * IRGN0 (9:8) and ORGN0 (11:10) 0b01 (Normal Write-Back
	 * Read-Allocate Write-Allocate), SH0 (13:12) 0b11 (Inner
	 * Shareable), TG0 (15:14) the granule (0b00 4K, 0b01 64K, 0b10
	 * 16K), PS (18:16) the oas (0b000 32 bits ... 0b101 48), bit 31
	 * RES1. The walk attributes assume tables in Normal Write-Back
	 * memory and a walker coherent with the CPUs' caches; the library
	 * does no cache maintenance. */
	uint64_t arm_vtcr;
	/* SMMUv3 stream table entry (SMMUv3 §5.2, "Stream Table Entry"),
	 * its words 2 and 3: [0] S2T0SZ, S2SL0, S2IR0, S2OR0, S2SH0, S2TG
	 * and S2PS at bits 50:32 (VTCR_EL2's bits 18:0, in the same
	 * encodings) and S2AA64 (bit 51); [1] S2TTB (bits 51:4). The
	 * driver adds S2VMID, S2R, S2PTW, S2S, S2HA/S2HD and Config. */
	uint64_t smmu_ste[2];
	/* New fields are added here, at the end. */
};

/* Fill hw, of size bytes (sizeof(*hw) as the caller sees it), for dom:
 * fields past size are not written, fields the library does not know are
 * zeroed. Returns 0, -EINVAL for NULL pointers. Thread-safe; the answer
 * never changes, but for a growing domain, whose grow callback is given
 * the values of each new root (iopgt_config.ias_max). */
int iopgt_hw_config(const struct iopgt_domain *dom, struct iopgt_hw_config *hw,
		    size_t size);

/* ------------------------------------------------------------------------
 * Gathers
 */

/* A gather is caller-owned (usually on the stack) and used by one thread at
 * a time. Read its first fields; change them only through this API. While
 * it holds anything it belongs to the domain it was filled on: using it
 * with another domain is -EINVAL. An empty (synced) gather can be used on
 * any domain. A gather iopgt_gather_init() never saw is -EINVAL if it is
 * all zero (a debug build stops with a message instead); other garbage is
 * undefined behaviour. Speed, not correctness: single-page calls count
 * themselves in a cache line picked for the thread that first used the
 * gather on its domain (picked again at a sync that frees tables or
 * flushes several ranges), so a long-lived gather should be first used,
 * or set up again with iopgt_gather_init(), on the thread that uses it. */
struct iopgt_gather {
	uint64_t iova;  /* first byte to invalidate; UINT64_MAX: none
	                 * (the union of the ranges below) */
	uint64_t last;  /* last byte to invalidate (inclusive) */
	enum iopgt_flush_kind kind; /* the highest kind of the ranges */
	unsigned long nr_tables; /* unlinked tables awaiting reclaim */
	/* The library's; do not touch. */
	uint32_t size;           /* sizeof(*g) given to iopgt_gather_init */
	uint32_t priv_flags;
	void *tables;            /* the unlinked tables */
	const struct iopgt_domain *dom; /* the domain it holds state of */
	uint64_t priv[5];        /* room to grow without changing the size */
	/* The first version ended here; a gather of that size keeps the
	 * union above only (IOPGT_GATHER_UNION). */
	unsigned nr_ranges;      /* ranges[0 .. nr_ranges - 1] in use */
	uint32_t priv2;
	struct iopgt_flush_range ranges[IOPGT_GATHER_RANGES];
};

/* Empty a gather before first use; size is sizeof(*g) as the caller sees
 * it. Returns 0, or -EINVAL for NULL or a size smaller than the first
 * version of the structure. Touches nothing but g. */
int iopgt_gather_init(struct iopgt_gather *g, size_t size);

/* ------------------------------------------------------------------------
 * Map, unmap, lookup
 *
 * Writers on disjoint IOVA ranges may call map and unmap on one domain at
 * once, with no lock: the library coordinates on the tables they share. Two
 * calls whose ranges overlap must be serialized by the caller. Neither call
 * ever flushes: each adds to the caller's gather, to be synced once.
 *
 * The input space. An IOVA range must lie below 2^ias or, where the format
 * sign-extends its input (IOPGT_FORMAT_SIGN_EXTEND: x86-64), in one half
 * of it: wholly below 2^(ias-1) or wholly at or above 2^64 - 2^(ias-1)
 * (iopgt_info.iova_last, iova_upper). Anything else is -ERANGE, for every
 * call below that takes an IOVA.
 */

/* Map [iova, iova + size) to [pa, pa + size) with prot. iova, pa and size
 * must be multiples of the smallest leaf size. The largest leaf that IOVA,
 * PA and the remaining length allow is used, re-chosen along the range.
 * Errors: -EINVAL (unaligned, empty, wrapping past 2^64, bad prot, NULL dom
 * or g, g holding state of another domain), -ERANGE
 * (outside the input space, above, or beyond the output address size),
 * -EEXIST (some part is already
 * mapped), -ENOMEM (table allocation failed, or table_alloc returned
 * memory at or above 2^oas, which is given back); in a growing domain
 * (iopgt_config.ias_max), the grow callback's error (a positive return:
 * -EIO).
 * On error the tables are as before the call (a domain without counts,
 * NO_RECLAIM and NO_COALESCE both set, keeps the empty tables the call
 * created; a growing domain keeps a growth that succeeded before the map
 * failed; the mappings are as before); the gather may have grown
 * (entries written and then rolled back must still be flushed). */
int iopgt_map(struct iopgt_domain *dom, uint64_t iova, uint64_t pa,
	      uint64_t size, unsigned prot, struct iopgt_gather *g);

/* Unmap whatever is mapped in [iova, iova + size): holes are fine. A
 * superpage that lies partly inside is split so that the rest stays mapped.
 * Returns the number of bytes unmapped (>= 0), -EINVAL for an unaligned,
 * empty or wrapping request (or NULL dom or g, or g of another domain),
 * -ERANGE outside the input space, or -ENOMEM if a split could not allocate
 * its table (or table_alloc returned memory at or above 2^oas), in which
 * case nothing was unmapped.
 *
 * Overlapping writers. A map and an unmap (or two unmaps) whose ranges
 * overlap must not run at once: the library does not detect it, and what
 * ends up mapped in the overlap is then undefined (memory stays safe: no
 * table is freed twice and no call spins forever, but a table page may
 * drop out of the tree and stay allocated until the domain is destroyed).
 * Serialize them, for example with a lock per IOVA allocation, as an IOVA
 * allocator naturally does. */
int64_t iopgt_unmap(struct iopgt_domain *dom, uint64_t iova, uint64_t size,
		    struct iopgt_gather *g);

struct iopgt_translation {
	uint64_t pa;        /* output address of iova */
	uint64_t leaf_size; /* size of the leaf iova lies in */
	unsigned prot;      /* IOPGT_PROT_* of that leaf */
	unsigned dirty;     /* the hardware dirty state of that leaf, if any */
	uint64_t reserved[2]; /* zero; later versions may fill them */
};

/* Translate iova as the hardware would. Returns 0, -ENOENT if unmapped,
 * -ERANGE if iova is outside the input space (beyond ias, or not
 * canonical), -EINVAL for NULL pointers. Lock-free: may
 * run concurrently with map, unmap and sync of any range (except with the
 * after-flush strategy, whose caller serializes every call); the answer is
 * the state before or after each concurrent change to iova's own range. */
int iopgt_lookup(struct iopgt_domain *dom, uint64_t iova,
		 struct iopgt_translation *out);

/* Dirty tracking. Call fn(arg, iova, size) for each run of leaves in
 * [iova, iova + size) whose hardware dirty bit is set (a leaf that lies
 * partly inside is reported whole), and clear those bits unless flags has
 * IOPGT_DIRTY_NO_CLEAR. The hardware may cache a leaf's dirty state, so
 * every cleared leaf is added to g as a MODIFIED flush: sync g before
 * trusting that later writes are reported. If fn returns non-zero the walk
 * stops and that value is returned: the run given to that call was cleared
 * and counts as reported, nothing after it was touched, so a caller whose
 * bitmap is full resumes after that run. On a format whose hardware sets
 * dirty bits, a superpage the library coalesced from writable leaves
 * starts dirty (the device may have dirtied a leaf of the table it
 * replaced before that table's flush), so a range may be reported once
 * too often, never too rarely. Returns 0, -EINVAL or -ERANGE for a bad
 * range, -EOPNOTSUPP if the format keeps no dirty state (arm_s2 here).
 * Lock-free: may run concurrently with map, unmap and lookup; a leaf
 * unmapped meanwhile may or may not be reported. NULL dom, fn or g, or a g
 * of another domain: -EINVAL. */
enum { IOPGT_DIRTY_NO_CLEAR = 1u << 0 };
int iopgt_read_and_clear_dirty(struct iopgt_domain *dom, uint64_t iova,
			       uint64_t size, unsigned flags,
			       int (*fn)(void *arg, uint64_t iova, uint64_t size),
			       void *arg, struct iopgt_gather *g);

/* ------------------------------------------------------------------------
 * Flushing and reclaim
 */

/* Issue the flushes g needs, then reclaim the tables g holds, and empty g.
 * The flushes: one flush_ranges call with every range g holds, or without
 * that callback one flush_range call per range (a gather of the first
 * version's size: one, over the union). They cover every byte the batch
 * changed, with its kind; the gather policy decides what else. Tables
 * unlinked by the batch are covered by WALK ranges over their spans. A table page is returned to table_free (or to
 * the table cache) only after the flush that covers its whole span has
 * completed and no walker that may have loaded a pointer to it is still
 * running; how that is known is the domain's strategy (enum
 * iopgt_strategy): with the epoch, tables that still have such walkers
 * wait on the domain until a later sync, iopgt_reclaim() or destroy; with
 * after-flush they are freed here; with the worker they go to its queue;
 * with RCU they go to one RCU callback, or this call waits for a grace
 * period and frees them (over rcu_max_pending). Returns 0, or -EINVAL (nothing flushed, g left as it
 * was) for NULL pointers or a g filled on another domain. May run
 * concurrently with map, unmap, lookup and other syncs (each with its own
 * gather), except with after-flush; with RCU, outside any read-side
 * critical section. */
int iopgt_sync(struct iopgt_domain *dom, struct iopgt_gather *g);

/* As iopgt_sync(), but through flush_all: for callers who prefer one
 * whole-domain invalidation. Same errors and concurrency contract. */
int iopgt_flush_all(struct iopgt_domain *dom, struct iopgt_gather *g);

/* Unlink the emptied tables kept linked for reuse (table_cache), with the
 * WALK flushes over them of one sync (a gather of the domain's policy),
 * then return them, the waiting tables
 * whose walkers have left and the segments with no table in use to
 * table_free. With RCU, first waits for every RCU callback queued so far
 * (rcu_barrier), so that the domain's waiting tables are freed: call it
 * outside any read-side critical section; with the worker, waits until
 * it has freed every page queued so far. Returns 0, or -EINVAL for a NULL
 * dom. May run concurrently with any other call but destroy (with
 * after-flush, with none). */
int iopgt_reclaim(struct iopgt_domain *dom);

/* ------------------------------------------------------------------------
 * Invalidation commands
 *
 * iopgt_inval_encode() turns a gather's ranges into the invalidation
 * commands of one IOMMU, written as that IOMMU's command queue takes them,
 * so that a driver copies them into its queue, adds its own completion
 * wait (VT-d Invalidation Wait, AMD COMPLETION_WAIT, SMMUv3 CMD_SYNC,
 * RISC-V IOFENCE.C) and waits once.
 */

enum iopgt_iommu {
	/* Intel VT-d: page-selective IOTLB invalidation (second stage,
	 * descriptor type 2) or PASID-based IOTLB invalidation (first stage,
	 * type 6), with address mask and IH; domain-selective (or all of the
	 * PASID) when the hardware has no page-selective invalidation or
	 * the commands would exceed max_commands. */
	IOPGT_IOMMU_VTD = 1,
	/* AMD IOMMU: INVALIDATE_IOMMU_PAGES with the S (size) and PDE bits
	 * (GN for a guest PASID's tables). */
	IOPGT_IOMMU_AMD = 2,
	/* Arm SMMUv3: CMD_TLBI_S2_IPA (stage 2) or CMD_TLBI_NH_VA (stage 1)
	 * with Leaf and TTL, as ranges (TG, SCALE, NUM) where the SMMU has
	 * range invalidation, else one command per leaf; CMD_TLBI_S12_VMALL
	 * or CMD_TLBI_NH_ASID for everything. */
	IOPGT_IOMMU_SMMUV3 = 3,
	/* RISC-V IOMMU: IOTINVAL.GVMA (second stage) or IOTINVAL.VMA (first
	 * stage) by address, or for the whole address space. */
	IOPGT_IOMMU_RISCV = 4,
};

/* iopgt_inval_config.flags */
enum {
	/* The tables are a first-stage (stage 1) table: VT-d PASID-based
	 * IOTLB invalidation, AMD GN=1 with pasid, SMMUv3 CMD_TLBI_NH_VA
	 * with the ASID, RISC-V IOTINVAL.VMA with the PSCID. Else second
	 * stage: VT-d IOTLB invalidation, SMMUv3 CMD_TLBI_S2_IPA, RISC-V
	 * IOTINVAL.GVMA. */
	IOPGT_INVAL_FIRST_STAGE = 1u << 0,
	/* VT-d: the hardware has page-selective invalidation (CAP_REG.PSI).
	 * SMMUv3: range invalidation (SMMU_IDR3.RIL). RISC-V: the IOMMU
	 * takes the non-leaf bit of IOTINVAL (NL) and address ranges (S).
	 * Without it: VT-d invalidates the whole domain (or PASID); SMMUv3
	 * sends one command per leaf; RISC-V one per page, and the whole
	 * space for a WALK range. */
	IOPGT_INVAL_RANGES = 1u << 1,
	/* SMMUv3 stage 2 with a stage 1 above it (nested): a stage-2
	 * invalidation leaves stage-1 and combined entries, which are then
	 * invalidated with CMD_TLBI_NH_ALL, after a CMD_SYNC (no signal)
	 * that lets the stage-2 commands complete first. */
	IOPGT_INVAL_NESTED = 1u << 2,
	/* RISC-V, with FIRST_STAGE: no G-stage under the first stage (the
	 * device context's iohgatp is Bare): IOTINVAL.VMA with GV=0, which
	 * names the host's address spaces, and no GSCID (domain_id must be
	 * 0). -EINVAL on the other IOMMUs, whose first-stage commands name
	 * such a domain with their usual ids, and without FIRST_STAGE. */
	IOPGT_INVAL_SINGLE_STAGE = 1u << 3,
};

struct iopgt_inval_config {
	uint32_t size;          /* sizeof(*c): set by iopgt_inval_config_init */
	enum iopgt_iommu iommu;
	unsigned flags;         /* IOPGT_INVAL_* */
	unsigned granule;       /* log2 of the smallest page: 12, 14 or 16 */
	unsigned levels;        /* levels the domain walks (SMMUv3 TTL) */
	unsigned max_addr_mask; /* VT-d: CAP_REG.MAMV, the largest address
	                         * mask (log2 pages) a command may carry */
	uint32_t domain_id;     /* VT-d DID, AMD DomainID, SMMUv3 VMID,
	                         * RISC-V GSCID */
	uint32_t pasid;         /* VT-d and AMD PASID, SMMUv3 ASID, RISC-V
	                         * PSCID (first stage) */
	/* Bytes each range's commands may invalidate beyond the range, to
	 * use fewer commands (an address mask or a range that covers more
	 * than asked). 0: exactly the range where the IOMMU can express it. */
	uint64_t slack;
	/* Past this many commands for one call, a single command for the
	 * whole domain (or PASID, ASID, VMID) is written instead. 0: 64;
	 * values above 2^20 count as 2^20. */
	unsigned max_commands;
	/* New fields are added here, at the end. */
};

/* One command, as the IOMMU's queue takes it: VT-d a 128-bit descriptor
 * (dw[0] bits 63:0, dw[1] bits 127:64; a 256-bit queue takes it with
 * the upper half zero), AMD a 128-bit command (dw[0] holds its first two
 * 32-bit words, word 0 in bits 31:0), SMMUv3 and RISC-V 128-bit commands
 * (dw[0] first). iova and last are the bytes it invalidates (all of
 * 0..UINT64_MAX for a command without an address; last < iova, UINT64_MAX
 * and 0, for one that invalidates nothing: SMMUv3's CMD_SYNC between the
 * stage-2 commands and CMD_TLBI_NH_ALL of IOPGT_INVAL_NESTED). */
struct iopgt_inval_cmd {
	uint64_t dw[2];
	uint64_t iova;
	uint64_t last;
};

/* Fill c, of size bytes (sizeof(*c) as the caller sees it), for commands
 * that invalidate dom's translations on iommu: its granule and levels,
 * flags for the stage the format is (IOPGT_FORMAT_FIRST_STAGE: x86_64;
 * vtdss, amdv1 and arm_s2 are second stage to their IOMMUs), range or
 * page-selective invalidation on, max_addr_mask 9 (a 2M block at 4K:
 * raise it to what the hardware reports), ids 0, slack 0. Returns 0, or
 * -EINVAL for NULL pointers, a size too small, or an iommu this library
 * does not know. Thread-safe. */
int iopgt_inval_config_init(const struct iopgt_domain *dom,
			    enum iopgt_iommu iommu,
			    struct iopgt_inval_config *c, size_t size);

/* Write into out[0 .. max - 1] the commands that invalidate the nr ranges
 * r (a gather's, as flush_ranges receives them) on the IOMMU c describes:
 * for each range, the fewest commands that cover it and invalidate at most
 * c->slack bytes beyond it, with the hints it carries (leaf-only, leaf
 * size) where the IOMMU takes them; for a range with
 * IOPGT_RANGE_WALK_EMPTY, the non-leaf command of the page at walk_iova.
 * Returns the number of commands (with out NULL and max 0, the number
 * needed), -ENOSPC if they do not fit in max (out then holds the first
 * max), or -EINVAL (NULL c or r with nr, a range with last < iova or kind
 * NONE, a WALK_EMPTY range that is not a WALK or whose smallest table is
 * unaligned, below a page or outside [iova, last], a c the IOMMU cannot
 * take: an unknown iommu, a granule it has not, an id wider than its
 * field). Pure and thread-safe. */
int iopgt_inval_encode(const struct iopgt_inval_config *c,
		       const struct iopgt_flush_range *r, unsigned nr,
		       struct iopgt_inval_cmd *out, unsigned max);

/* ------------------------------------------------------------------------
 * Statistics and inspection
 */

struct iopgt_stats {
	uint64_t table_pages_live;  /* in use now: in the tree, in gathers or
	                             * waiting (the root counts as one) */
	uint64_t table_bytes_live;
	uint64_t table_pages_peak;
	uint64_t table_bytes_peak;
	uint64_t table_pages_alloc; /* table pages taken into use */
	uint64_t table_pages_freed; /* table pages given back */
	uint64_t table_pages_cached; /* free pages of the segments kept
	                              * with no page in use */
	uint64_t table_pages_waiting; /* flushed, waiting for walkers (the
	                               * epoch's waiting list, or RCU
	                               * callbacks not yet run) */
	uint64_t meta_bytes_live;   /* bookkeeping: the segments' descriptor
	                             * pages and the domain structure */
	uint64_t flushes[8];        /* ranges flushed by kind, through
	                             * flush_range or flush_ranges (index
	                             * IOPGT_FLUSH_*); 8 slots, so that a
	                             * new kind keeps the layout; unused
	                             * slots read 0 */
	uint64_t flush_all;         /* flush_all calls */
	uint64_t coalesced;         /* tables replaced by a superpage */
	uint64_t split;             /* superpages split (and leaves of
	                             * several entries cut in place) */
	uint64_t segment_bytes_live; /* segments held from table_alloc */
	uint64_t reclaim_waits;     /* syncs that waited themselves: for a
	                             * grace period (RCU: over rcu_max_pending,
	                             * or no memory for a batch), or for the
	                             * worker (over its bound of 4096 pages
	                             * queued) */
	/* Who paid for freeing table pages: the caller's threads (sync,
	 * iopgt_reclaim) or the strategy's own thread (RCU's callbacks, the
	 * worker); pages, and nanoseconds spent returning them (hosted
	 * builds; 0 freestanding). */
	uint64_t freed_by_callers;
	uint64_t freed_by_worker;
	uint64_t free_ns_callers;
	uint64_t free_ns_worker;
	/* Batches of table pages handed to the strategy's own thread: RCU
	 * callbacks queued (one per sync that frees tables), pushes on the
	 * worker's queues. Pages freed in the caller's thread count in none. */
	uint64_t deferred_batches;
	/* New counters are added here, at the end. */
};

/* Read the counters into st, of size bytes (sizeof(*st) as the caller sees
 * it): counters past size are not written, counters the library does not
 * know are zeroed. Returns 0, or -EINVAL for NULL pointers. Thread-safe;
 * each counter is read atomically, the set is not a snapshot while writers
 * run. */
int iopgt_get_stats(const struct iopgt_domain *dom, struct iopgt_stats *st,
		    size_t size);

struct iopgt_table_info {
	unsigned level;     /* 0 = lowest (4K) level */
	uint64_t iova;      /* first IOVA of the table's span */
	uint64_t span;      /* bytes of IOVA its entries cover */
	uint64_t pa;
	const void *va;
	unsigned entries;   /* entries in the table (concatenated root: all) */
	unsigned used;      /* non-empty entries: the library's count (in a
	                     * domain without counts, a scan) */
};

/* Call fn for each table in the tree, parents before children, in IOVA
 * order; stop early if fn returns non-zero and return that value (-EINVAL
 * for NULL dom or fn). The structure given to fn may grow at its end. Call
 * with no writer running on the domain. */
int iopgt_for_each_table(struct iopgt_domain *dom,
			 int (*fn)(void *arg, const struct iopgt_table_info *t),
			 void *arg);

/* Describe the table tree as text: one line per table (level, span,
 * occupancy) and, with IOPGT_DUMP_ENTRIES, one per non-empty entry (raw
 * value, decoded; a leaf written in several entries is decoded at its
 * first, and each other entry names its place in it). Each line, ending in a newline, goes to out(arg, line);
 * a non-zero return from out stops the dump and is returned. Returns 0,
 * -EINVAL for NULL dom or out or unknown flags, -EIO if a line does not
 * fit the library's line buffer, or -EOPNOTSUPP in a
 * freestanding build (which has no text formatting). Call with no writer
 * running on the domain. */
enum { IOPGT_DUMP_ENTRIES = 1u << 0 };
int iopgt_dump(struct iopgt_domain *dom,
	       int (*out)(void *arg, const char *line), void *arg,
	       unsigned flags);

/* Name of a format ("x86_64", "arm_s2"; "unknown" for a value the
 * library does not offer) or of a flush kind ("none", "added",
 * "modified", "walk"). Pure. */
const char *iopgt_format_name(enum iopgt_format fmt);
const char *iopgt_flush_kind_name(enum iopgt_flush_kind kind);
/* Name of a reclaim strategy ("epoch", "after-flush", "rcu", "worker";
 * "unknown" otherwise). Pure. */
const char *iopgt_strategy_name(enum iopgt_strategy s);
/* Name of a gather policy ("merge", "union", "early", "disjoint") or of
 * an IOMMU ("vtd", "amd", "smmuv3", "riscv"); "unknown" otherwise.
 * Pure. */
const char *iopgt_gather_policy_name(enum iopgt_gather_policy p);
const char *iopgt_iommu_name(enum iopgt_iommu iommu);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif
#endif /* IOPGT_H */
