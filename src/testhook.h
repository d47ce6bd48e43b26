/* SPDX-License-Identifier: MIT */
/*
 * Test hooks: ways to break the safety rules on purpose, so that the tests
 * which check those rules are shown to fail when a rule is broken. Not part
 * of the public API: the setters are in libiopgt_testhooks (testhook.c),
 * which only the tests and the tool link, never in libiopgt.
 */
#ifndef IOPGT_TESTHOOK_H
#define IOPGT_TESTHOOK_H

#include "iopgt.h"

enum {
	PT_HOOK_FREE_BEFORE_FLUSH = 1u << 0, /* reclaim tables before the flush */
	PT_HOOK_IGNORE_WALKERS = 1u << 1,    /* reclaim while walkers run:
	                                      * the domain's strategy with a
	                                      * retire that frees at once */
	PT_HOOK_SKIP_FLUSH = 1u << 2,        /* sync issues no flush */
	PT_HOOK_LEAF_ONLY_FLUSH = 1u << 3,   /* WALK flushes sent as MODIFIED */
	PT_HOOK_OVERLAP = 1u << 4,  /* the test runs overlapping writers on
	                             * purpose: counts may be off, so destroy
	                             * does not check them */
	/* Debug builds only (PT_BROKEN in pt.h): */
	PT_HOOK_BREAK_FILL_CHECK = 1u << 5, /* without counts, a fill made
	                                     * without a section does not
	                                     * read its table's F after its
	                                     * stores */
	PT_HOOK_BREAK_THAW_RETRY = 1u << 6, /* without counts, an unlinker
	                                     * whose scan under the freeze
	                                     * found an entry gives up, not
	                                     * reading the table again */
	PT_HOOK_BREAK_OWN_LEAF = 1u << 7,   /* without counts, a map redone
	                                     * from the root fails with
	                                     * -EEXIST on its own leaf */
	PT_HOOK_BREAK_WAIT_PROBE = 1u << 8, /* without counts, a clear that
	                                     * waited for a freezer to give
	                                     * up does not probe its table
	                                     * for "empty" */
	PT_HOOK_BREAK_UNLINK_SCAN = 1u << 9, /* without counts, an unlinker
	                                      * trusts its probe: no scan
	                                      * under the freeze */
	PT_HOOK_BREAK_HANDOVER = 1u << 10, /* the worker strategy: a thread
	                                    * that exits drops its queue's
	                                    * pages instead of handing them
	                                    * to the domain */
	PT_HOOK_SWAP_WRITE_BIT = 1u << 11, /* leaves encode write permission
	                                    * in another bit (58, which no
	                                    * format reads), and the domain's
	                                    * engine decodes it back: lookup
	                                    * still says writable, the
	                                    * hardware reads read-only. Set it
	                                    * before mapping anything. */
	PT_HOOK_BREAK_SPAN_CUT = 1u << 12, /* an unmap that cuts a leaf of
	                                    * several items (AMD v1 NextLevel
	                                    * 7) clears its own entries of the
	                                    * group and leaves the others
	                                    * naming the whole leaf */
	PT_HOOK_BREAK_GROW_LINK = 1u << 13, /* a growing domain hands the
	                                     * new root to the grow callback
	                                     * before its entry 0 links the
	                                     * old root */
	PT_HOOK_BREAK_GROW_ORDER = 1u << 14, /* a growing domain's walks
	                                      * start from the new root
	                                      * before the grow callback
	                                      * has pointed the hardware
	                                      * at it */
	PT_HOOK_BREAK_WALK_MERGE = 1u << 16, /* a gather merges a WALK range
	                                      * over empty tables with any
	                                      * range and keeps it so, with
	                                      * one table's page: a clear
	                                      * inside, or a table beside */
	PT_HOOK_BREAK_LEAF_CLEAR = 1u << 17, /* an unmap of one leaf clears
	                                      * its entry without checking,
	                                      * inside the section, that it
	                                      * is still a leaf: a table an
	                                      * overlapping caller put there
	                                      * is cut loose */
	PT_HOOK_BREAK_MERGE_RECHECK = 1u << 18, /* without counts, a clear
	                                         * that waited for a merge
	                                         * within its table (leaf
	                                         * spans) does not look
	                                         * whether the merge mapped
	                                         * its range again */
	PT_HOOK_RCU_PER_PAGE = 1u << 19, /* not a break: the RCU strategy
	                                  * queues one callback per table
	                                  * page instead of one per batch
	                                  * (each with a record of its own
	                                  * from meta_alloc), for the
	                                  * benchmark that compares the two;
	                                  * other strategies ignore it */
	PT_HOOK_BREAK_TRY_EPOCH = 1u << 20, /* a hot path's walker that
	                                     * finds the epoch advanced
	                                     * since its read goes on,
	                                     * counted under the old
	                                     * parity */
};

void iopgt__set_test_hooks(struct iopgt_domain *dom, unsigned hooks);

/* Called by lookup for each table of its walk, root first, with the table's
 * descriptor (opaque to tests), after it loaded the pointer to that table
 * and before it reads from it. Lets a test hold a walker inside the tree. */
void iopgt__set_walk_hook(struct iopgt_domain *dom,
			  void (*fn)(void *arg, const void *table), void *arg);

/* Hardware address of the table behind a descriptor given to the walk
 * hook. */
uint64_t iopgt__table_pa(const void *table);

/* Named points in the engine where a debug build (IOPGT_DEBUG >= 1) calls
 * the yield hook, so that a test scheduler can stop a thread there and run
 * an interleaving deterministically. level and iova name the table
 * concerned (iova: the first IOVA of its span), or are 0 where no table
 * is. */
enum pt_yield_point {
	PT_Y_ENTER_EPOCH_READ, /* walker enter: epoch read, not yet counted */
	PT_Y_ADVANCE_CHECKED,  /* epoch advance: counter read, before the CAS */
	PT_Y_COALESCE_SCANNED, /* coalesce: table seen full and contiguous,
	                        * before the freeze */
	PT_Y_COALESCE_FROZEN,  /* coalesce: frozen and rescanned, before the
	                        * parent entry is replaced */
	PT_Y_INSTALL_DONE,     /* map: a new table's entry was published */
	PT_Y_FILL_RESERVED,    /* map: slots reserved, before the stores */
	PT_Y_FILL_BLOCKED,     /* map: a fill stopped at its first entry (not
	                        * empty), section closed, before the entry is
	                        * read again */
	PT_Y_WAIT_FROZEN,      /* any writer: found a table frozen, waits */
	PT_Y_UNLINK_FROZEN,    /* unlink: empty table frozen (without
	                        * counts: and scanned), before the parent
	                        * entry is cleared */
	PT_Y_DIRTY_CLEARED,    /* read_and_clear_dirty: a leaf's D cleared */
	PT_Y_FILL_STORED,      /* map without counts: leaves stored without a
	                        * section, before the table's F is read */
	PT_Y_CLEAR_PROBED,     /* unmap: a clear left its table empty
	                        * (without counts: looking empty), before it
	                        * parks or unlinks it */
	PT_Y_UNLINK_THAW,      /* unlink without counts: the scan under the
	                        * freeze found an entry, before the unfreeze */
	PT_Y_COALESCE_GAVE_UP, /* coalesce: frozen, the rescan failed, before
	                        * the unfreeze */
	PT_Y_GROW_CALL,        /* grow: the new root made, before the grow
	                        * callback (level: the new root's) */
	PT_Y_WORKER_COLLECT,   /* the worker strategy's thread: woken, before
	                        * it takes the queues */
	PT_Y_MERGE_SCANNED,    /* coalesce within a table: a group seen
	                        * contiguous (inside the exclusive section
	                        * with counts; without them, read again
	                        * after the table's freeze), before it is
	                        * rewritten as one leaf */
	PT_Y_LEAF_READ,        /* unmap of one leaf: the walk read it,
	                        * before the clear inside the exclusive
	                        * section (level and iova: its table's) */
	PT_Y_LEAF_CLEARED,     /* unmap of one leaf without a section: its
	                        * compare-and-swap cleared it, before the
	                        * table's F is read (level and iova: its
	                        * table's) */
	PT_Y_COUNT
};

/* Call fn at each named point (debug builds only; NULL turns it off). */
void iopgt__set_yield_hook(struct iopgt_domain *dom,
			   void (*fn)(void *arg, unsigned point, unsigned level,
				      uint64_t iova),
			   void *arg);

#endif
