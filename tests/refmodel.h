/* SPDX-License-Identifier: MIT */
/*
 * The reference model of the randomized tests (test_model.c,
 * test_sim_model.c) and the random workload they drive against it.
 *
 * The model is a sorted array of disjoint mapped ranges (iova, size, pa,
 * prot), one entry per successful map call, cut by unmaps; it is never
 * merged.
 *
 * A workload (struct rm_work) holds the model, the random state and the
 * geometry of one domain: its leaf sizes, two IOVA windows where ranges
 * collide often, its valid protections. The generators draw from the
 * random state in a fixed order, so a seed names one sequence of
 * operations. The checks compare the domain with the model and report a
 * mismatch through rm_report, which prints the test's context and fails.
 */
#ifndef IOPGT_TEST_REFMODEL_H
#define IOPGT_TEST_REFMODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "common.h"

/* ---- failure reports ---- */

/* The test's context (configuration, seed, last operations): printed after
 * the message of every failed check; fn NULL for none. */
void rm_set_context(void (*fn)(FILE *out, void *arg), void *arg);

void rm_report(const char *file, int line, const char *what,
	       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define CHECK(cond, ...)                                                    \
	do {                                                                \
		if (!(cond))                                                \
			rm_report(__FILE__, __LINE__, #cond, __VA_ARGS__);  \
	} while (0)

#define CHECK_EQ(a, b, what)                                                \
	do {                                                                \
		int64_t a_ = (int64_t)(a), b_ = (int64_t)(b);               \
		if (a_ != b_)                                               \
			rm_report(__FILE__, __LINE__, #a " == " #b,         \
				  "%s: got %" PRId64 " (0x%" PRIx64         \
				  "), expected %" PRId64 " (0x%" PRIx64 ")",  \
				  what, a_, (uint64_t)a_, b_, (uint64_t)b_);  \
	} while (0)

/* ---- the steps before a failure ---- */

struct rm_log {
	char desc[192];    /* the current step */
	long desc_op;      /* the operation it belongs to */
	char hist[8][192]; /* the steps before it, newest first */
	long hist_op[8];
};

/* Begin a step (of operation op), described by fmt. */
void rm_step(struct rm_log *L, long op, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The current step and the ones before it, oldest first. */
void rm_log_print(const struct rm_log *L, FILE *out);

/* ---- the model ---- */

struct rm_range {
	uint64_t iova, size, pa;
	unsigned prot;
};

struct rm_model {
	struct rm_range *r; /* sorted by iova, disjoint */
	size_t n, cap;
	uint64_t bytes;     /* sum of the sizes */
};

static inline uint64_t rm_end(const struct rm_range *r)
{
	return r->iova + r->size;
}

/* The range holding iova, or NULL. */
const struct rm_range *rm_find(const struct rm_model *m, uint64_t iova);
bool rm_overlaps(const struct rm_model *m, uint64_t iova, uint64_t size);
/* Add a range that overlaps none. */
void rm_insert(struct rm_model *m, const struct rm_range *nr);
/* Remove [iova, iova + size), cutting the ranges it overlaps; returns the
 * bytes that were mapped in it. */
uint64_t rm_remove(struct rm_model *m, uint64_t iova, uint64_t size);
/* The model itself is sorted and disjoint, and its bytes add up. */
void rm_verify(const struct rm_model *m);
void rm_free(struct rm_model *m);

/* ---- one workload on one domain ---- */

struct rm_work {
	struct rm_model m;
	uint64_t rng;
	struct iopgt_domain *dom;  /* the domain under test (not owned) */
	bool one_range;  /* NO_COALESCE: each leaf lies in one map's range,
			    and is exactly the largest that range allows */
	bool clean;      /* no device: nothing may be dirty */

	uint64_t sizes[TCFG_MAX_SIZES]; /* every leaf size, spans included */
	unsigned nsizes;
	uint64_t gran, s1, top; /* smallest, level 1's and largest leaf */
	/* Where ranges are made: nwin windows of win_size bytes. */
	uint64_t win_base[3], win_size;
	unsigned nwin;
	/* The input space: [0, lo_end) and, if hi_base is not 0 (a format
	 * that sign-extends its input), [hi_base, 2^64). */
	uint64_t lo_end, hi_base;
	uint64_t oas_end; /* 2^oas */
	unsigned prots[32], nprots;

	unsigned long lookups; /* made by the checks */
};

/* Whether a lies in the domain's input space (a lookup of it answers
 * -ENOENT or a translation, never -ERANGE). */
static inline bool rm_in_space(const struct rm_work *W, uint64_t a)
{
	return a < W->lo_end || (W->hi_base && a >= W->hi_base);
}

/* A leaf that may read dirty with no device access: a superpage over
 * writable leaves that coalesced starts dirty (the library cannot know
 * whether the device dirtied a leaf of the replaced table before its
 * flush), and the leaves a split makes of it inherit that. So any
 * writable leaf may; a read-only one never. */
static inline bool rm_may_start_dirty(uint64_t leaf_size, unsigned prot,
				      uint64_t gran)
{
	(void)leaf_size;
	(void)gran;
	return (prot & IOPGT_PROT_WRITE) != 0;
}

/* The seed of configuration ci in variant vi of a test run from base. */
uint64_t rm_config_seed(uint64_t base, size_t ci, unsigned vi);

/* Set W up for dom, created from configuration c; the random state starts
 * at seed. */
void rm_work_init(struct rm_work *W, const struct tcfg *c,
		  struct iopgt_domain *dom, uint64_t seed);
void rm_work_fini(struct rm_work *W);

/* Destroy *dom (then NULL) and check through ta, its recording allocator,
 * that every table page, descriptor and byte went back; then free ta's
 * quarantine. */
void rm_destroy_checked(struct iopgt_domain **dom, struct talloc *ta);

uint64_t rm_below(struct rm_work *W, uint64_t n); /* 0 if n is 0 */
bool rm_chance(struct rm_work *W, unsigned pct);

/* The operations, in the mix both tests draw them. */
enum rm_op { RM_MAP, RM_UNMAP, RM_PROBE, RM_REMAP };
enum rm_op rm_pick_op(struct rm_work *W);

/* Arguments of a map: single pages, runs, superpages, ranges that split
 * superpages, neighbours of a model range (often continuing its output
 * addresses), ranges overlapping one. */
void rm_gen_map(struct rm_work *W, uint64_t *iova, uint64_t *size,
		uint64_t *pa, unsigned *prot);
/* Arguments of an unmap: a model range, part of one, one with its
 * surroundings, a random range or a whole window; returns which. */
const char *rm_gen_unmap(struct rm_work *W, uint64_t *iova, uint64_t *size);
/* A point to probe: mostly in a model range (pct percent of the time, if
 * there is one), otherwise anywhere in a window. */
uint64_t rm_gen_point(struct rm_work *W, unsigned pct);
/* A piece of a model range, to unmap and map back as it was; false if no
 * range has two pages. */
bool rm_gen_hole(struct rm_work *W, struct rm_range *piece);

/* The largest leaf size whose aligned block around x lies in
 * [iova, iova + size) with pa congruent to iova modulo that size. */
uint64_t rm_best_leaf(const struct rm_work *W, uint64_t x, uint64_t iova,
		      uint64_t size, uint64_t pa);

/* ---- checks of the domain against the model ---- */

/* A leaf [iova, iova + size) -> pa with prot lies in mapped model ranges
 * with one pa offset and one prot (with one_range, in a single range). */
void rm_check_leaf(struct rm_work *W, uint64_t iova, uint64_t size,
		   uint64_t pa, unsigned prot, const char *where);
/* Look x up and compare with the model; returns the leaf size (0 if
 * unmapped). */
uint64_t rm_check_lookup(struct rm_work *W, uint64_t x, const char *where);
/* After a successful map of [iova, iova + size) -> pa: at npoints points
 * of the range (its ends, then random ones), the model matches and the
 * leaf is at least as large as the range allows there (exactly that with
 * one_range). */
void rm_check_new_range(struct rm_work *W, uint64_t iova, uint64_t size,
			uint64_t pa, int npoints);
/* After a map of [iova, iova + size) failed with -EEXIST: lookups at its
 * ends and four random points agree with the model. */
void rm_check_failed_map(struct rm_work *W, uint64_t iova, uint64_t size);
/* After an unmap of [iova, iova + size): lookups at its ends, a random
 * point and the bytes on either side agree with the model. */
void rm_check_unmapped(struct rm_work *W, uint64_t iova, uint64_t size);
/* The whole domain against the model, both ways: every model range is
 * looked up (ends, middle, neighbours), and every leaf in the tables is in
 * the model, their sizes summing to the model's bytes. Call with no writer
 * running on the domain. */
void rm_compare_domain(struct rm_work *W);

#endif
