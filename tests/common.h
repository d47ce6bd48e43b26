/* SPDX-License-Identifier: MIT */
/*
 * Shared test harness: the table of format configurations every
 * per-format test loops over, a recording table allocator (counts, failure
 * injection, poisoning of freed pages), a recording flush fake, dumps, and
 * a domain fixture built on them with checks that name the step on failure.
 */
#ifndef IOPGT_TEST_COMMON_H
#define IOPGT_TEST_COMMON_H

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "iopgt.h"


/* Fill a freed table page with garbage that a walker still inside it must
 * not follow into unmapped memory: each word reads as a leaf (or as
 * invalid) in every format the registry has, never as a table entry: bit
 * 0 set and bit 1 clear (ARM: a block, or invalid at the last level), bit
 * 7 set (x86-64 and VT-d second stage: PS, a page), bits 11:9 clear (AMD
 * v1: NextLevel 0, a page). test_formats holds every format to it. */
#define TPOISON_FREED UINT64_C(0xa5a5a5a5a5a5a0a5)
void tpoison_freed(void *va, size_t size);

/* TSAN, ASAN: 1 in a build under that sanitizer (gcc and clang), else 0. */
#if defined(__SANITIZE_THREAD__)
#define TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TSAN 1
#endif
#endif
#ifndef TSAN
#define TSAN 0
#endif
#if defined(__SANITIZE_ADDRESS__)
#define ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASAN 1
#endif
#endif
#ifndef ASAN
#define ASAN 0
#endif

/* ---- format configurations ----
 * Derived from the library's format registry (iopgt_format_info()) on
 * first use: every format, granule and level count, and each granule's
 * smallest input space; tests/common.c states the rule and the names. */

struct tcfg {
	const char *name;          /* e.g. "x86_64/4lvl", "arm_s2/16k/ias40" */
	enum iopgt_format format;
	unsigned ias, oas, granule;
};

const struct tcfg *tcfg_table(void);
size_t tcfg_count(void);
/* Whether configuration c can start a growing domain (iopgt_config.ias_max
 * up to its format's largest ias): its format grows (IOPGT_FORMAT_GROWS)
 * and its ias fills its levels. */
bool tcfg_grows(const struct tcfg *c);
/* Whether tcfgs[i] is the first configuration of its format that
 * tcfg_grows(): the randomized tests run a growing domain once a
 * format. */
bool tcfg_grows_first(size_t i);
/* A grow callback that accepts every growth (no hardware to point). */
int tgrow_none(void *arg, const struct iopgt_hw_config *hw);

/* The names, comma-separated, of one configuration per format and
 * granule: the format's defaults, and for each other granule the one with
 * the most concatenated root tables ("x86_64/4lvl,arm_s2/4k/ias48,
 * arm_s2/16k/ias40,arm_s2/64k/ias44" today). The concurrency tests' default
 * selection. */
const char *tcfg_representative(void);
/* Whether IOPGT_TEST_CFG selects configuration c: unset or empty, every
 * one; else a comma-separated list of substrings of names, where the word
 * "representative" stands for tcfg_representative()'s list. */
bool tcfg_wanted(const struct tcfg *c);
/* The configurations, as an array, and how many. */
#define tcfgs (tcfg_table())
#define n_tcfgs (tcfg_count())

/* The registry's description of a format (iopgt_format_info()): its
 * protections (prots), whether it keeps dirty state (flags), ... */
const struct iopgt_format_info *tformat(enum iopgt_format format);

/* Fill cfg from c with defaults for the rest: one table page a segment,
 * so that the recording allocators see each table page come and go, and
 * leaf_sizes the one-item sizes (tcfg_item_sizes). */
void tcfg_config(const struct tcfg *c, struct iopgt_config *cfg);

/* The bytes dom should hold from its table allocator: the root and its
 * segments. */
uint64_t theld_bytes(struct iopgt_domain *dom);

/* The one-item leaf sizes of the domain, smallest first: sizes[i] is the
 * size of an entry at level i; returns how many (from iopgt_domain_info
 * of a created domain). Multi-item sizes (leaf spans) are left out. */
unsigned tcfg_leaf_sizes(struct iopgt_domain *dom, uint64_t sizes[8]);

/* The one-item leaf sizes of c's domains (each level's entry size, where
 * it is a leaf size): what tcfg_config puts in leaf_sizes. */
uint64_t tcfg_item_sizes(const struct tcfg *c);

/* Every leaf size the domain uses, spans included, smallest first (at
 * most 64); returns how many. */
#define TCFG_MAX_SIZES 64
unsigned tcfg_all_sizes(struct iopgt_domain *dom,
			uint64_t sizes[TCFG_MAX_SIZES]);

/* ---- recording table allocator ----
 * Pages come from aligned_alloc; a freed page is filled with 0xA5 and kept
 * (quarantined) until talloc_fini, so a later read of it is detectable
 * (talloc_is_freed) and ASan-clean. fail_after: the Nth allocation from now
 * (table or meta, counted together, 1 = the next) fails; 0 = never. */
struct talloc {
	uint64_t table_allocs, table_frees;
	uint64_t meta_allocs, meta_frees;
	uint64_t live_bytes;       /* table bytes held now */
	long fail_after;           /* see above */
	uint64_t failures;         /* allocations refused so far */
	uint64_t seq;              /* event clock shared with tflush */
	uint64_t *clock;           /* if set, events take times from here */
	struct tpage *pages;       /* every page ever handed out */
	/* If set before the first allocation: a table allocation's pa is not
	 * its va plus a constant (each one's moves by a different multiple
	 * of 2^44), and the domain needs cfg.phys_to_virt = talloc_p2v. */
	bool remap;
	/* If pa_next is not 0, a table allocation's pa is pa_next rounded up
	 * to the allocation's size, plus pa_skew, and pa_next moves past it:
	 * hardware addresses chosen by the test (never reused), which need
	 * cfg.phys_to_virt = talloc_p2v. */
	uint64_t pa_next, pa_skew;
	/* Called on every table_free (after the page is poisoned). */
	void (*on_free)(void *arg, uint64_t pa, size_t size, uint64_t when);
	void *on_free_arg;
};

/* The domain keeps no per-table counts with these options (as the
 * library decides: NO_COUNTS, or both NO_RECLAIM and NO_COALESCE). */
static inline bool toptions_uncounted(unsigned options)
{
	return !(options & IOPGT_OPT_COUNTS) ||
	       (options & (IOPGT_OPT_NO_RECLAIM | IOPGT_OPT_NO_COALESCE)) ==
		       (IOPGT_OPT_NO_RECLAIM | IOPGT_OPT_NO_COALESCE);
}

void talloc_init(struct talloc *ta);
void talloc_fini(struct talloc *ta);       /* frees the quarantine */
void talloc_ops(struct talloc *ta, struct iopgt_mem_ops *mem);
/* phys_to_virt for a talloc with remap set (arg: the talloc). */
void *talloc_p2v(void *arg, uint64_t pa);
/* True if pa is a page that was freed and not handed out again. */
int talloc_is_freed(struct talloc *ta, uint64_t pa);

/* ---- recording flush fake ---- */

struct tflush_rec {
	uint64_t iova, last;
	enum iopgt_flush_kind kind; /* kind == IOPGT_FLUSH_KINDS: flush_all */
	uint64_t when;              /* event time (shared clock) */
};

struct tflush {
	struct tflush_rec *recs;
	size_t n, cap;
	uint64_t *clock;            /* shared event clock; may be NULL */
	uint64_t own_clock;
};

void tflush_init(struct tflush *tf, uint64_t *clock);
void tflush_fini(struct tflush *tf);
void tflush_ops(struct tflush *tf, struct iopgt_flush_ops *ops);
/* True if a flush of kind WALK (or flush_all) covering [iova, last] was
 * recorded at a time in (after, before). */
int tflush_walk_covers(const struct tflush *tf, uint64_t iova, uint64_t last,
		       uint64_t after, uint64_t before);

/* ---- dumps ---- */

/* The full dump (IOPGT_DUMP_ENTRIES) as a malloc'd string, with table
 * physical addresses masked out so that two dumps of the same contents
 * compare equal even if pages were reallocated. */
char *tdump(struct iopgt_domain *dom);

/* Recount every table's non-empty entries from the raw memory and compare
 * with the library's count; returns the number of mismatches. Each entry is
 * read with a relaxed atomic load, so a device (the simulated IOMMU's
 * walker) may set accessed/dirty bits meanwhile. In a domain without
 * counts (NO_RECLAIM | NO_COALESCE) every table's state word must be 0
 * instead. Call with no writer running. */
unsigned tcheck_counts(struct iopgt_domain *dom);
/* The descriptor (src/pt.h) of the table page at CPU address va, the root
 * included. */
struct pt_table;
const struct pt_table *tdesc(struct iopgt_domain *dom, const void *va);

/* The value of environment variable name (decimal, 0x hex or 0 octal), or
 * dflt if it is unset or empty. */
long tenv_long(const char *name, long dflt);

/* Whether name is one of a comma-separated list of names, or the list is
 * "all" (the configuration filters of the stress and race tests). */
int tname_in_list(const char *list, const char *name);

/* Test tiers: a randomized test runs `unit` random operations (the unit
 * tier's size) times IOPGT_TEST_SCALE (default 1; the long tier sets it);
 * environment variable name, if set, gives the count exactly instead. */
#define TSCALE_ENV "IOPGT_TEST_SCALE"
long titers(const char *name, long unit);

/* Print the seed of a randomized test so a failure can be replayed. */
#define TSEED_ENV "IOPGT_SEED"
uint64_t tseed(uint64_t dflt);
uint64_t trand(uint64_t *state); /* splitmix64 */

/* ---- leaves and tables, read back through the public API ---- */

struct tleaf {
	uint64_t iova, size; /* the leaf's span */
	uint64_t pa;         /* output address of its first byte */
	unsigned prot;       /* IOPGT_PROT_* */
	int dirty;
};

/* Call fn for each leaf of the domain (in dump order, not IOVA order), as
 * iopgt_dump(IOPGT_DUMP_ENTRIES) decodes it; stop when fn returns non-zero
 * and return that value. Call with no writer running on the domain. */
int tfor_each_leaf(struct iopgt_domain *dom,
		   int (*fn)(void *arg, const struct tleaf *l), void *arg);

/* Tables in the tree, root included; *empty (if not NULL) receives how many
 * non-root tables have no non-empty entry. */
unsigned tcount_tables(struct iopgt_domain *dom, unsigned *empty);

/* Keep only the leaf lines of a tdump() output, in place; returns it. (A
 * domain without counts keeps the tables a failed map created: its leaves
 * are as before, its tables may not be.) */
char *tleaf_lines(char *dump);
/* The tables after a failed map in a domain without counts, from two
 * tdump() outputs: every table of `before` (by level, IOVA and span) is
 * still there (tables only in `after` are the call's, holding no leaf:
 * compare tleaf_lines() for that). NULL if so, else what is wrong, in
 * msg. */
const char *tcheck_kept_tables(const char *before, const char *after,
			       char *msg, size_t n);
/* Print where two dumps first differ, with a few lines of context. */
void tdump_diff(FILE *out, const char *before, const char *after);
/* An iopgt_dump() output callback writing to the FILE * arg. */
int tfile_line(void *arg, const char *line);

/* ---- thread-safe recording allocator ----
 * For tests with several threads (talloc is not thread-safe): one mutex
 * around everything, counts only. A freed table page is filled with 0xA5
 * and kept until `quarantine` later frees have pushed it out (0: until
 * tsalloc_fini), so a walker that reads a table after it was freed reads
 * the poison (and ASan stays quiet) instead of another table's data. The
 * library must zero what it gets: fresh pages come filled with 0x5A. */
struct tsalloc {
	pthread_mutex_t mu;
	uint64_t table_allocs, table_frees;
	uint64_t meta_allocs, meta_frees;
	uint64_t live_bytes;       /* table bytes held now */
	size_t quarantine;
	void **q;                  /* ring of quarantined pages */
	size_t qhead, qn, qcap;
};

void tsalloc_init(struct tsalloc *ta, size_t quarantine);
void tsalloc_fini(struct tsalloc *ta); /* frees the quarantine */
void tsalloc_ops(struct tsalloc *ta, struct iopgt_mem_ops *mem);

/* ---- checks that name the step on failure ----
 * CTX(printf-style) names the step; a failed check prints it with the file
 * and line of the check, then fails the test. The *_AT forms take the line
 * (of the caller, in helpers that check on its behalf). */

extern char tctx[256];
#define CTX(...) snprintf(tctx, sizeof(tctx), __VA_ARGS__)

#define EQ_AT(a, b, line)                                                     \
	do {                                                                  \
		uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b);              \
		if (a_ != b_) {                                               \
			fprintf(stderr,                                       \
				"[%s] %s:%d: %s = 0x%" PRIx64 " (%" PRId64    \
				"), expected %s = 0x%" PRIx64 " (%" PRId64    \
				")\n",                                        \
				tctx, __FILE__, line, #a, a_, (int64_t)a_,    \
				#b, b_, (int64_t)b_);                         \
			_fail(__FILE__, line);                                \
		}                                                             \
	} while (0)
#define EQ(a, b) EQ_AT(a, b, __LINE__)

#define EXPECT_AT(c, line)                                                    \
	do {                                                                  \
		if (!(c)) {                                                   \
			fprintf(stderr, "[%s] %s:%d: %s is false\n", tctx,    \
				__FILE__, line, #c);                          \
			_fail(__FILE__, line);                                \
		}                                                             \
	} while (0)
#define EXPECT(c) EXPECT_AT(c, __LINE__)

/* Two dumps must be the same string; if not, print where they differ. */
void tstreq_at(const char *a, const char *b, const char *file, int line);
#define STREQ(a, b) tstreq_at(a, b, __FILE__, __LINE__)

/* ---- a domain on the recording allocator and flush fake ---- */

#define RW (IOPGT_PROT_READ | IOPGT_PROT_WRITE)
#define CACHE_DEFAULT (-1) /* topen: keep the default table cache */

struct tdom {
	const struct tcfg *c;
	struct iopgt_config cfg;
	struct iopgt_domain *dom;
	struct iopgt_info info;
	struct talloc ta;
	struct tflush tf;
	uint64_t s[8];  /* leaf sizes in use, smallest first (s[i]: level i) */
	unsigned n;
	uint64_t top;   /* largest leaf size */
	uint64_t end;   /* the end of the lower part of the input space:
	                 * 2^ias, or 2^(ias-1) where the format sign-extends
	                 * (info.iova_last + 1) */
	uint64_t upper; /* the first IOVA of the upper half where the format
	                 * sign-extends (info.iova_upper), else 0 */
	uint64_t pa0;   /* a PA aligned to top, high bits set */
};

/* Create the domain of configuration c with these options, table_cache
 * (CACHE_DEFAULT: the library's) and leaf_sizes (0: every level's one-item
 * leaf, tcfg_item_sizes; TSIZES_ALL: every size, leaf spans included);
 * every count is right from the start. */
#define TSIZES_ALL UINT64_MAX
void topen(struct tdom *d, const struct tcfg *c, unsigned options,
	   int table_cache, uint64_t leaf_sizes);
/* Destroy it; every count was right and nothing leaks. */
void tclose(struct tdom *d);

/* A PA for iova that keeps its alignment up to the largest leaf. */
uint64_t tpa_for(const struct tdom *d, uint64_t iova);
struct iopgt_stats tstats(const struct tdom *d);
uint64_t tlive(const struct tdom *d); /* table pages live */

/* map/unmap that check they issued no flush and (map: if recount) kept
 * every count right; they return what the library returned. */
int tmap_g(struct tdom *d, uint64_t iova, uint64_t pa, uint64_t size,
	   unsigned prot, struct iopgt_gather *g, int recount);
int64_t tunmap_g(struct tdom *d, uint64_t iova, uint64_t size,
		 struct iopgt_gather *g);
/* Sync g; it is empty again and every count is right. */
void tsync(struct tdom *d, struct iopgt_gather *g);
/* A map that succeeds / an unmap that returns expect, each synced. */
void tmap_ok(struct tdom *d, uint64_t iova, uint64_t pa, uint64_t size,
	     unsigned prot);
void tunmap_ok(struct tdom *d, uint64_t iova, uint64_t size, uint64_t expect);

/* Lookup of iova finds pa in a leaf of that size and prot, not dirty. */
void texpect_tr_at(struct tdom *d, uint64_t iova, uint64_t pa, uint64_t leaf,
		   unsigned prot, const char *file, int line);
#define EXPECT_TR(d, iova, pa, leaf, prot) \
	texpect_tr_at(d, iova, pa, leaf, prot, __FILE__, __LINE__)
/* Lookup of iova returns err. */
void texpect_err_at(struct tdom *d, uint64_t iova, int err, const char *file,
		    int line);
#define EXPECT_ERR(d, iova, err) \
	texpect_err_at(d, iova, err, __FILE__, __LINE__)
#define EXPECT_NOENT(d, iova) EXPECT_ERR(d, iova, -ENOENT)

#endif
