/* SPDX-License-Identifier: MIT */
/*
 * iopgt_sim: a simulated IOMMU, the test oracle for the safety rules of
 * iopgt (docs/sim.md).
 *
 *   memory   an arena of simulated physical memory for table pages, with a
 *            state (free/allocated) and a generation per 4K frame; freed
 *            blocks are poisoned and held in a FIFO quarantine.
 *   walker   translates an IOVA by reading the hardware tables in that
 *            memory, from the root PA down, like the hardware: atomic
 *            loads, entries decoded by the simulator's own code from the
 *            specifications (never the library's), permissions ANDed down
 *            the walk, accessed/dirty bits set where the format has them,
 *            faults for non-present entries, permissions, bad entries.
 *   caches   an IOTLB of leaf translations (optionally of non-present
 *            results: caching mode) and a paging-structure cache of table
 *            pointers per level; both are dropped only by the domain's
 *            flush callbacks, which the simulator provides: abstract
 *            ranges, or one IOMMU's invalidation commands, decoded by
 *            the simulator's own code.
 *   checker  a reference model of what is mapped, kept by the driver (the
 *            code calling map/unmap/sync); every translation is checked
 *            against it, and every table read against the page states.
 *   devices  threads that translate random IOVAs until stopped.
 *
 * One simulator serves one domain. The simulator must outlive the domain:
 * destroy the domain (which frees its tables into the arena) first.
 *
 * Calls return 0 (or a count) or a negative errno. Each states its
 * concurrency contract.
 */
#ifndef IOPGT_SIM_H
#define IOPGT_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "iopgt.h"

#ifdef __cplusplus
extern "C" {
#endif

struct iopgt_sim;

/* ------------------------------------------------------------------------
 * Creation
 */

struct iopgt_sim_config {
	uint64_t arena_size;  /* bytes of simulated memory reserved (pages are
	                       * touched on demand); multiple of 1 MiB */
	uint64_t base_pa;     /* simulated PA of the arena's first byte;
	                       * aligned to 1 MiB */
	unsigned quarantine;  /* freed blocks held per size before one is
	                       * handed out again (0: reuse at once) */
	unsigned iotlb_sets;  /* power of two */
	unsigned iotlb_ways;
	unsigned psc_entries; /* paging-structure cache entries per level */
	bool caching_mode;    /* also cache non-present results */
	unsigned max_reports; /* violations described in full (all counted) */
	FILE *report;         /* if set, each described violation is printed
	                       * here as it is found */
};

/* Defaults: 1 GiB at PA 0x100000000, quarantine 64, 64 sets x 8 ways,
 * 16 entries per level, no caching mode, 32 reports, no printing. */
void iopgt_sim_config_init(struct iopgt_sim_config *cfg);

/* Create a simulator (cfg NULL: the defaults). -EINVAL for a bad
 * configuration, -ENOMEM if the arena cannot be reserved. Thread-safe. */
int iopgt_sim_create(const struct iopgt_sim_config *cfg,
		     struct iopgt_sim **out);

/* Stop the devices if they run, and free everything. The domain that used
 * this simulator must be destroyed already. NULL is ignored. */
void iopgt_sim_destroy(struct iopgt_sim *sim);

/* Fill mem (table_alloc/table_free/arg; meta_* left NULL) and ops
 * (flush_range/flush_all/arg) of a domain's configuration, so that its
 * tables live in the arena and its invalidations reach the caches. Call
 * before iopgt_domain_create. The callbacks are thread-safe. */
void iopgt_sim_mem_ops(struct iopgt_sim *sim, struct iopgt_mem_ops *mem);
void iopgt_sim_flush_ops(struct iopgt_sim *sim, struct iopgt_flush_ops *ops);

/* Both of the above, and a segment size of two table pages (cfg->granule
 * must be set already): each table page then comes from the arena and
 * goes back to it on its own, so the simulator sees every table page's
 * lifetime (with larger segments the library reuses pages inside a segment
 * without the arena knowing). */
void iopgt_sim_domain_config(struct iopgt_sim *sim, struct iopgt_config *cfg);

/* Give the walker the domain (root PA, geometry, and which format it is:
 * the simulator decodes entries with its own code, from the
 * specifications). -ENOTSUP for a format (or granule) the simulator cannot
 * decode, -EINVAL if its root is not in the arena or its geometry is not
 * one the format's hardware walks, -EBUSY if a domain is attached. Call
 * with no translation or device running. */
int iopgt_sim_attach(struct iopgt_sim *sim, struct iopgt_domain *dom);

/* The driver pointed the device at another root of the attached domain
 * (a growing domain's grow callback: for AMD v1, the device table entry's
 * Mode and root written in one store and the entry invalidated): walks
 * that start after this call start from hw->root with hw->levels levels.
 * The caches stay: the new root translates as the old one did. Safe with
 * translations and devices running. -EINVAL if hw is not for the attached
 * domain's format, its levels exceed the domain's geometry, or its root
 * is not an allocated table page of the arena. */
int iopgt_sim_set_root(struct iopgt_sim *sim,
		       const struct iopgt_hw_config *hw);

/* Forget the domain and empty the caches; stops the devices. Call before
 * destroying the domain if the simulator is to be reused. */
void iopgt_sim_detach(struct iopgt_sim *sim);

/* ------------------------------------------------------------------------
 * IOMMU invalidation commands
 *
 * The simulator executes the invalidation commands of the IOMMUs that
 * iopgt_inval_encode() writes for (enum iopgt_iommu), decoded from the
 * command words by its own code, written from each specification (never
 * by the library's encoder, never from cmd->iova and cmd->last), under
 * that IOMMU's caching rules (docs/sim.md, "Invalidation commands"): the
 * IOTLB entries and paging-structure entries a command drops are the ones
 * its fields name, no more, so that a wrong field, a missing non-leaf
 * flag or a range that misses a page leaves a translation stale.
 */

/* Execute the n commands cmd[0 .. n - 1] of the IOMMU c->iommu against
 * the caches, in order, as one batch followed by a completion wait: the
 * call returns once every translation that started before it has ended,
 * and none that starts after it can use what the commands dropped. c
 * describes the attached domain as the IOMMU knows it: its ids (a command
 * for another domain id, PASID, ASID, VMID, GSCID or PSCID has no
 * effect), its stage (IOPGT_INVAL_FIRST_STAGE: which commands reach its
 * tables), its capabilities (IOPGT_INVAL_RANGES: the fields that are
 * otherwise reserved), max_addr_mask (VT-d), granule and levels (0: the
 * attached domain's). A malformed command (unknown opcode or
 * granularity, a reserved bit set, an address not aligned to its mask, a
 * size no encoding gives) is a violation (IOPGT_SIM_V_BAD_COMMAND) and
 * has no effect. Each well-formed command is counted (stats
 * inval_commands). Returns 0, -EINVAL for NULL c (or cmd with n), an
 * unknown IOMMU, or ids wider than the IOMMU's fields, or -ENODEV if no
 * domain is attached and c leaves granule or levels 0. Thread-safe: any
 * number of translations and devices may run; invalidations are
 * serialized. */
int iopgt_sim_invalidate(struct iopgt_sim *sim,
			 const struct iopgt_inval_config *c,
			 const struct iopgt_inval_cmd *cmd, unsigned n);

/* Configure a domain so that its syncs reach the simulator as commands of
 * the IOMMU *c: cfg->flush_ranges (every range of a sync, written by
 * iopgt_inval_encode() and executed by iopgt_sim_invalidate() as one
 * batch), cfg->flush.flush_range (one range, as a flush_ranges range
 * of any size, not leaf-only and, for WALK, with every level below the
 * root in walk_levels) and cfg->flush.flush_all (the IOMMU's command for
 * everything of the domain: what the encoder writes for two WALK pages
 * far apart with max_commands 1); cfg->flush.arg is sim. Call
 * after iopgt_sim_domain_config() (or iopgt_sim_flush_ops()) and before
 * iopgt_domain_create. The simulator keeps a copy of *c (c->size bytes
 * of it, as iopgt_inval_config_init sets size). Its granule and levels
 * may be 0: they are then taken from the domain at iopgt_sim_attach
 * (iopgt_inval_config_init needs a domain, which does not exist yet);
 * if given, they must match
 * the domain, or iopgt_sim_attach fails with -EINVAL. A sync before the
 * attach issues no command (nothing is cached then). An encoder error,
 * or commands that do not decode, are violations
 * (IOPGT_SIM_V_BAD_COMMAND). The flush hook, if set, is called for each
 * range before its commands are written. The callbacks are
 * thread-safe. */
void iopgt_sim_inval_ops(struct iopgt_sim *sim,
			 const struct iopgt_inval_config *c,
			 struct iopgt_config *cfg);

/* Called by the callbacks of iopgt_sim_inval_ops on the commands written
 * for a sync (or a flush_all), before they execute: fn may rewrite them
 * and lower *n (to leave the last ones out), never raise it. For tests
 * that corrupt the commands on purpose. NULL: none. Call with nothing
 * running. */
void iopgt_sim_set_cmd_hook(struct iopgt_sim *sim,
			    void (*fn)(void *arg, struct iopgt_inval_cmd *cmd,
				       unsigned *n),
			    void *arg);

/* Called at the start of every invalidation, before it takes effect, with
 * its range and kind (IOPGT_FLUSH_KINDS for flush_all). For tests that
 * must act at the moment a flush is issued (e.g. translate from inside a
 * sync). fn may call iopgt_sim_translate. Call with nothing running. */
void iopgt_sim_set_flush_hook(struct iopgt_sim *sim,
			      void (*fn)(void *arg, uint64_t iova,
					 uint64_t last, unsigned kind),
			      void *arg);

/* ------------------------------------------------------------------------
 * Translation
 */

enum iopgt_sim_access {
	IOPGT_SIM_READ = 1,
	IOPGT_SIM_WRITE = 2,
};

enum iopgt_sim_fault {
	IOPGT_SIM_FAULT_NONE = 0,
	IOPGT_SIM_FAULT_NOT_PRESENT, /* an empty / non-present entry (or a
	                              * cached non-present result) */
	IOPGT_SIM_FAULT_PERMISSION,  /* the leaf forbids the access */
	IOPGT_SIM_FAULT_RESERVED,    /* malformed entry: a leaf where the
	                              * level allows none, an output address
	                              * beyond oas, a table address beyond
	                              * oas, outside the arena or
	                              * misaligned */
	IOPGT_SIM_FAULT_RANGE,       /* IOVA outside the input space: beyond
	                              * the input size, or not canonical
	                              * where the format sign-extends (x86:
	                              * bits 63:ias-1 not all equal) */
	IOPGT_SIM_FAULT_VIOLATION,   /* walk stopped at a rule violation
	                              * (reported separately) */
	IOPGT_SIM_FAULT_ACCESS_FLAG, /* ARM: a leaf with the Access flag
	                              * clear (hardware management of it is
	                              * off) */
	IOPGT_SIM_FAULTS
};

struct iopgt_sim_result {
	uint64_t pa;         /* output address of the IOVA */
	uint64_t leaf_size;  /* size of the leaf it lies in */
	unsigned prot;       /* IOPGT_PROT_* of that leaf */
	enum iopgt_sim_fault fault;
	unsigned level;      /* level of the leaf, or where the walk faulted */
	bool iotlb_hit;      /* answered from the IOTLB, without a walk */
};

/* Translate one access of a device. Returns 0 with res filled, -EFAULT
 * with res->fault set, -ENODEV if no domain is attached. Every result is
 * checked against the model and the page states; violations are recorded,
 * not returned. Thread-safe: any number of translations run at once, and
 * concurrently with map, unmap and sync; an invalidation waits for the
 * translations that started before it. */
int iopgt_sim_translate(struct iopgt_sim *sim, uint64_t iova,
			enum iopgt_sim_access access,
			struct iopgt_sim_result *res);

/* Walk without caches and without side effects (no accessed/dirty bits, no
 * checks recorded): the raw leaf entry for iova and its level. Returns 0,
 * -ENOENT if unmapped, -EFAULT if the walk met a bad or freed table,
 * -ENODEV. Thread-safe. For tests and debugging. */
int iopgt_sim_peek(struct iopgt_sim *sim, uint64_t iova, uint64_t *entry,
		   unsigned *level);

/* ------------------------------------------------------------------------
 * The reference model. The driver announces each map and unmap before the
 * call and completes it after the sync that flushed it; between the two
 * the range is in transition and a translation may see the old or the new
 * state. Sizes and addresses need no alignment; size > 0, no wrap.
 * Thread-safe; the driver must not announce overlapping operations from
 * two threads at once (as the library requires of map/unmap callers).
 */

/* Before iopgt_map(iova, pa, size, prot): the range will map to pa. */
int iopgt_sim_model_begin_map(struct iopgt_sim *sim, uint64_t iova,
			      uint64_t size, uint64_t pa, unsigned prot);
/* Before iopgt_unmap(iova, size). */
int iopgt_sim_model_begin_unmap(struct iopgt_sim *sim, uint64_t iova,
				uint64_t size);
/* After the sync that completed every call begun on the range: the range
 * takes the state its last begin announced. */
int iopgt_sim_model_end(struct iopgt_sim *sim, uint64_t iova, uint64_t size);
/* After the sync of a call that failed: the range goes back to the state
 * before its first begin. */
int iopgt_sim_model_cancel(struct iopgt_sim *sim, uint64_t iova,
			   uint64_t size);
/* Begin and end at once, for set-up with no device running. */
int iopgt_sim_model_mapped(struct iopgt_sim *sim, uint64_t iova,
			   uint64_t size, uint64_t pa, unsigned prot);
int iopgt_sim_model_unmapped(struct iopgt_sim *sim, uint64_t iova,
			     uint64_t size);

/* ------------------------------------------------------------------------
 * Violations
 */

enum iopgt_sim_violation_kind {
	/* A translation succeeded where the model says unmapped (the unmap
	 * and its sync completed): a missing or too narrow flush (rule 1). */
	IOPGT_SIM_V_STALE_TRANSLATION,
	/* A translation succeeded with another PA or permission than the
	 * model's (e.g. a walk through another table's data, rule 5). */
	IOPGT_SIM_V_WRONG_TRANSLATION,
	/* A translation faulted where the model says mapped since before it
	 * began (e.g. a cached non-present result never flushed). */
	IOPGT_SIM_V_LOST_MAPPING,
	/* The walker read a table page that is not allocated (rule 2). */
	IOPGT_SIM_V_USE_AFTER_FREE,
	/* The paging-structure cache pointed at a page freed or reused since
	 * it was cached: a missing WALK flush (rule 2). */
	IOPGT_SIM_V_STALE_WALK_CACHE,
	/* table_free of a page not allocated, or with a wrong size. */
	IOPGT_SIM_V_BAD_FREE,
	/* An invalidation command that does not decode (iopgt_sim_invalidate:
	 * unknown opcode, reserved bits set, a misaligned address mask, ...),
	 * or commands the encoder could not write for a sync. */
	IOPGT_SIM_V_BAD_COMMAND,
	IOPGT_SIM_V_KINDS
};

struct iopgt_sim_violation {
	enum iopgt_sim_violation_kind kind;
	unsigned rule;        /* the DESIGN.md rule it points at (0: none) */
	uint64_t iova;
	uint64_t page_pa;     /* the table page involved, or 0 */
	unsigned access;      /* enum iopgt_sim_access, or 0 */
	char what[200];       /* how it was reached, in words */
};

/* Violations found so far, all kinds. Thread-safe. */
uint64_t iopgt_sim_violations(const struct iopgt_sim *sim);
/* The idx-th described violation (idx < min(violations, max_reports)).
 * Returns 0 or -ENOENT. Thread-safe. */
int iopgt_sim_violation_get(struct iopgt_sim *sim, unsigned idx,
			    struct iopgt_sim_violation *v);
/* Print the counts by kind and each described violation. Thread-safe. */
void iopgt_sim_print_violations(struct iopgt_sim *sim, FILE *out);
const char *iopgt_sim_violation_name(enum iopgt_sim_violation_kind kind);
const char *iopgt_sim_fault_name(enum iopgt_sim_fault fault);

/* ------------------------------------------------------------------------
 * Statistics
 */

struct iopgt_sim_stats {
	uint64_t translations;
	uint64_t iotlb_hits;      /* answered without a walk */
	uint64_t negative_hits;   /* cached non-present results used */
	double iotlb_hit_rate;    /* iotlb_hits / translations */
	uint64_t psc_hits;        /* walks started below the root */
	uint64_t walks;
	uint64_t ad_updates;      /* accessed/dirty bits set in a leaf */
	uint64_t faults[IOPGT_SIM_FAULTS];
	uint64_t invalidations[IOPGT_FLUSH_KINDS]; /* flush_range by kind */
	uint64_t invalidate_all;  /* flush_all */
	uint64_t violations[IOPGT_SIM_V_KINDS];
	uint64_t pages_alloc;     /* table_alloc calls served (blocks) */
	uint64_t pages_freed;     /* table_free calls */
	uint64_t pages_live, pages_peak;
	uint64_t bytes_live, bytes_peak;
	uint64_t inval_commands;  /* well-formed IOMMU commands executed
	                           * (iopgt_sim_invalidate), whether or not
	                           * they named this domain */
};

/* Read the counters; not a snapshot while devices run. Thread-safe. */
void iopgt_sim_get_stats(const struct iopgt_sim *sim,
			 struct iopgt_sim_stats *st);
void iopgt_sim_print_stats(const struct iopgt_sim *sim, FILE *out);

/* ------------------------------------------------------------------------
 * Devices
 */

struct iopgt_sim_pattern {
	uint64_t seed;          /* 0: a fixed default */
	unsigned write_pct;     /* share of writes, 0..100 */
	unsigned unmapped_pct;  /* share of IOVAs drawn outside the model's
	                         * ranges (mostly next to them), 0..100 */
	uint64_t max_translations; /* per thread; 0: until stopped */
};

/* Start nthreads (1..64) device threads translating IOVAs drawn from the
 * model until iopgt_sim_device_stop. -EBUSY if devices run, -ENODEV if no
 * domain is attached, -EINVAL for a bad pattern. Call from the driver
 * thread; the driver may map, unmap and sync meanwhile. */
int iopgt_sim_device_start(struct iopgt_sim *sim, unsigned nthreads,
			   const struct iopgt_sim_pattern *p);
/* Stop and join the device threads; no-op if none run. */
void iopgt_sim_device_stop(struct iopgt_sim *sim);

/* ------------------------------------------------------------------------
 * Memory inspection
 */

/* State of the 4K frame holding pa: 1 allocated, 0 free (or never
 * allocated), -ERANGE outside the arena; *gen (if given) receives its
 * generation, bumped on every free. Thread-safe. */
int iopgt_sim_page_state(const struct iopgt_sim *sim, uint64_t pa,
			 uint32_t *gen);

#ifdef __cplusplus
}
#endif
#endif /* IOPGT_SIM_H */
