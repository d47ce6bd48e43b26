/* SPDX-License-Identifier: MIT */
/*
 * Internals of the simulated IOMMU, shared by its source files:
 *   mem.c     the arena, its allocator and the page states
 *   decode.c  the decoding of table entries, per format, from the
 *             specifications
 *   walk.c    the walker, the IOTLB, the paging-structure cache and the
 *             invalidations
 *   inval.c   the IOMMUs' invalidation commands, decoded from the
 *             specifications, and the flush callbacks that send them
 *   model.c   the reference model and the violation records
 *   device.c  the device threads
 *   sim.c     creation, attach, statistics
 *
 * Locks, always taken in this order: inv (shared by translations,
 * exclusive by invalidations), then model.lock (read by translations,
 * written by the driver), then a cache lock (per IOTLB set, one for the
 * paging-structure cache), or rep_mu. mem.mu (the allocator) is taken
 * alone.
 */
#ifndef IOPGT_SIM_INT_H
#define IOPGT_SIM_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "iopgt_sim.h"
#include "pt.h"

#define SIM_FRAME_SHIFT 12
#define SIM_MAX_ORDER 8 /* blocks of 4K << 0..8: up to 1 MiB */

/* Frame state word: bit 0 allocated, bits 31:1 the generation. */
#define SIM_ALLOCATED 1u

/* ---- memory ---- */

struct sim_fifo {
	uint64_t *off; /* block offsets, oldest first from head */
	size_t head, n, cap;
};

struct sim_mem {
	unsigned char *va;  /* the arena */
	uint64_t size, base_pa;
	uint64_t nframes;
	_Atomic uint32_t *state; /* per frame */
	uint8_t *order;          /* per frame: order + 1 at a block head */
	pthread_mutex_t mu;      /* allocator: bump, fifos, order[] */
	uint64_t bump;
	unsigned quarantine;
	struct sim_fifo freed[SIM_MAX_ORDER + 1];
};

/* ---- caches ---- */

struct sim_tlb_ent {
	uint64_t tag;    /* iova >> shift[level] */
	uint64_t pa;     /* output address of the first byte of the span
	                  * the tag covers (the leaf's first byte, unless the
	                  * leaf spans several entries of its level) */
	uint64_t stamp;  /* LRU */
	unsigned prot;
	uint8_t level;
	uint8_t size_log2; /* log2 of the leaf's size: shift[level], or more
	                    * for a page that spans several entries */
	uint8_t valid, neg, dirty; /* neg: cached non-present result;
	                            * dirty: the leaf's dirty bit is known set
	                            * (or the format keeps none) */
};

struct sim_tlb_set {
	pthread_mutex_t mu;
	uint64_t clock;
	struct sim_tlb_ent *ways;
} __attribute__((aligned(64)));

struct sim_psc_ent {
	uint64_t prefix; /* iova >> shift[level + 1] */
	uint64_t pa;     /* the table at `level` */
	uint64_t stamp;
	uint32_t state;  /* its page's state word when cached */
	unsigned allow;  /* IOPGT_PROT_* the table entries above it grant */
	uint8_t valid;
};

/* ---- model ---- */

struct sim_st {
	uint8_t mapped;
	unsigned prot;
	uint64_t pa; /* output address of the segment's first byte */
};

#define SIM_ACC 4

struct sim_seg {
	uint64_t iova, last;
	struct sim_st cur;   /* stable state, or the state after the end */
	struct sim_st prev;  /* state before the first begin (cancel) */
	struct sim_st acc[SIM_ACC]; /* states a translation may see */
	uint8_t trans, nacc, any;
	uint64_t since;      /* model sequence when it became stable */
};

struct sim_model {
	pthread_rwlock_t lock;
	struct sim_seg *segs;
	size_t n, cap;
	_Atomic uint64_t seq;
};

/* ---- the decoder (decode.c) ---- */

/* How the hardware reads the entries of one format and granule, written
 * from its specification, never from the library's format code. Levels
 * are the walker's: 0 is the smallest leaf's level. Each function gets
 * its descriptor first (the ARM granules share functions). */
struct sim_fmt {
	enum iopgt_format format;
	unsigned granule;     /* log2 bytes of a table page and of a level-0
	                       * leaf */
	unsigned bits;        /* index bits of a non-root table */
	unsigned max_levels;  /* the most levels the hardware walks */
	unsigned leaf_levels; /* bit L: the specification allows a leaf at
	                       * level L */
	const char *name;
	/* The hardware takes e at level as an entry at all; if not, the
	 * walk faults not present. */
	bool (*valid)(const struct sim_fmt *f, uint64_t e, unsigned level);
	/* A valid e sets a bit reserved at level: the walk faults
	 * reserved. */
	bool (*reserved)(const struct sim_fmt *f, uint64_t e, unsigned level);
	/* A valid e names a table of the level below (else it is a leaf). */
	bool (*is_table)(const struct sim_fmt *f, uint64_t e, unsigned level);
	uint64_t (*table_pa)(const struct sim_fmt *f, uint64_t e,
			     unsigned level);
	/* The IOPGT_PROT_* a table entry leaves to the levels below it (the
	 * walker ANDs them down the walk, as the hardware does). */
	unsigned (*table_prot)(const struct sim_fmt *f, uint64_t e,
			       unsigned level);
	/* Leaf e: the output address of its first byte, its size and its
	 * protection. The size may exceed the span of an entry of the
	 * level: a page written in several entries of it (AMD v1's Next
	 * Level 7). IOPGT_SIM_FAULT_NONE, or the fault it makes. */
	enum iopgt_sim_fault (*leaf)(const struct sim_fmt *f, uint64_t e,
				     unsigned level, uint64_t *pa,
				     uint64_t *size, unsigned *prot);
	/* The bits the hardware sets in leaf e for an access it allowed
	 * (IOPGT_SIM_READ or WRITE); 0: none. */
	uint64_t (*hw_bits)(const struct sim_fmt *f, uint64_t e,
			    unsigned level, unsigned access);
};

/* The decoder of format with that granule (log2), or NULL. */
const struct sim_fmt *sim_fmt_find(enum iopgt_format format,
				   unsigned granule);

/* ---- the simulator ---- */

struct sim_dev;

struct iopgt_sim {
	struct iopgt_sim_config cfg;
	struct sim_mem mem;

	/* The attached domain, as the walker sees it. */
	struct iopgt_domain *dom;
	const struct sim_fmt *fmt; /* the decoder */
	struct pt_geo geo;         /* levels, shifts, index masks */
	unsigned leaf_levels;      /* fmt->leaf_levels, within geo.levels */
	unsigned max_leaf_level;   /* the highest of them */
	/* Where walks start, as the device table entry (or base register)
	 * gives it, read once a walk: the root's hardware address | the
	 * levels walked (the root is 4K-aligned at least). A growing
	 * domain's driver rewrites it (iopgt_sim_set_root). */
	_Atomic uint64_t root;
	unsigned oas;
	enum iopgt_format format;
	/* The input space, as the domain's (pt_in_space): an IOVA is taken
	 * if iova + in_bias has no bit of ias_mask set. */
	uint64_t in_bias, ias_mask;

	pthread_rwlock_t inv;
	struct sim_tlb_set *tlb;
	unsigned tlb_bits;
	pthread_mutex_t psc_mu;
	struct sim_psc_ent *psc; /* [level * psc_entries + i] */
	uint64_t psc_clock;

	void (*flush_hook)(void *arg, uint64_t iova, uint64_t last,
			   unsigned kind);
	void *flush_hook_arg;

	/* The IOMMU whose commands the domain's flushes become
	 * (iopgt_sim_inval_ops): as given, and as used (granule and levels,
	 * where given as 0, from the domain attached). */
	struct iopgt_inval_config inval_given, inval;
	bool inval_on;
	void (*cmd_hook)(void *arg, struct iopgt_inval_cmd *cmd, unsigned *n);
	void *cmd_hook_arg;

	struct sim_model model;

	pthread_mutex_t rep_mu;
	struct iopgt_sim_violation *reps;
	unsigned nreps;

	struct sim_dev *dev;

	struct {
		_Atomic uint64_t translations, iotlb_hits, negative_hits;
		_Atomic uint64_t psc_hits, walks, ad_updates;
		_Atomic uint64_t faults[IOPGT_SIM_FAULTS];
		_Atomic uint64_t inval[IOPGT_FLUSH_KINDS], inval_all;
		_Atomic uint64_t viol[IOPGT_SIM_V_KINDS];
		_Atomic uint64_t pages_alloc, pages_freed, pages_live;
		_Atomic uint64_t pages_peak, bytes_live, bytes_peak;
		_Atomic uint64_t inval_cmds;
	} st;
};

static inline void sim_count(_Atomic uint64_t *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* mem.c */
int sim_mem_init(struct iopgt_sim *sim);
void sim_mem_fini(struct iopgt_sim *sim);
void *sim_table_alloc(void *arg, size_t size, uint64_t *pa);
void sim_table_free(void *arg, void *va, uint64_t pa, size_t size);
/* The frame of pa, or -1 outside the arena. */
static inline int64_t sim_frame(const struct iopgt_sim *sim, uint64_t pa)
{
	uint64_t off = pa - sim->mem.base_pa;

	if (pa < sim->mem.base_pa || off >= sim->mem.size)
		return -1;
	return (int64_t)(off >> SIM_FRAME_SHIFT);
}
static inline uint32_t sim_frame_state(const struct iopgt_sim *sim,
				       int64_t f)
{
	return atomic_load_explicit(&sim->mem.state[f], memory_order_acquire);
}
static inline _Atomic uint64_t *sim_entry_ptr(const struct iopgt_sim *sim,
					      uint64_t pa)
{
	return (_Atomic uint64_t *)(void *)(sim->mem.va +
					    (pa - sim->mem.base_pa));
}

/* walk.c */
int sim_caches_init(struct iopgt_sim *sim);
void sim_caches_fini(struct iopgt_sim *sim);
void sim_caches_drop_all(struct iopgt_sim *sim);
void sim_flush_range(void *arg, uint64_t iova, uint64_t last,
		     enum iopgt_flush_kind kind);
void sim_flush_all(void *arg);
/* Drop IOTLB entries overlapping [iova, last] whose level is in levels
 * (bit l: level l; negative entries count as level 0) and, with whole,
 * only the present leaves that lie wholly inside it; paging-structure
 * entries whose table's span overlaps it; or everything. Call with inv
 * held exclusively. */
void sim_drop_iotlb(struct iopgt_sim *sim, uint64_t iova, uint64_t last,
		    unsigned levels, bool whole);
void sim_drop_psc(struct iopgt_sim *sim, uint64_t iova, uint64_t last);
void sim_drop_everything(struct iopgt_sim *sim);

/* inval.c */
/* At attach: complete the invalidation configuration from the domain's
 * geometry (granule and levels given as 0), or refuse one that does not
 * match it (-EINVAL). */
int sim_inval_attach(struct iopgt_sim *sim);

/* model.c */
int sim_model_init(struct iopgt_sim *sim);
void sim_model_fini(struct iopgt_sim *sim);
/* Check one finished translation against the model; v0 is the model
 * sequence read when the translation began. Call with inv held shared. */
void sim_model_check(struct iopgt_sim *sim, uint64_t iova, unsigned access,
		     int rc, const struct iopgt_sim_result *res, uint64_t v0);
/* Draw an IOVA for a device (under the model's read lock). */
uint64_t sim_model_sample(struct iopgt_sim *sim, uint64_t *rng,
			  unsigned unmapped_pct);
void sim_violation(struct iopgt_sim *sim, enum iopgt_sim_violation_kind kind,
		   uint64_t iova, uint64_t page_pa, unsigned access,
		   const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* device.c */
uint64_t sim_rand(uint64_t *state);

#endif /* IOPGT_SIM_INT_H */
