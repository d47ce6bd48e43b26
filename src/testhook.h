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
	PT_HOOK_IGNORE_WALKERS = 1u << 1,    /* reclaim while walkers run */
	PT_HOOK_SKIP_FLUSH = 1u << 2,        /* sync issues no flush */
	PT_HOOK_LEAF_ONLY_FLUSH = 1u << 3,   /* WALK flushes sent as MODIFIED */
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

#endif
