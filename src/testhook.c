/* SPDX-License-Identifier: MIT */
/*
 * The setters of the test hooks (testhook.h). Built into a test-only library
 * (libiopgt_testhooks), never into libiopgt: a program linked with the
 * library alone cannot turn a hook on.
 */
#include "pt.h"
#include "testhook.h"

void iopgt__set_test_hooks(struct iopgt_domain *dom, unsigned hooks)
{
	dom->hooks = hooks;
}

void iopgt__set_walk_hook(struct iopgt_domain *dom,
			  void (*fn)(void *arg, const void *table), void *arg)
{
	dom->walk_hook_arg = arg;
	dom->walk_hook = fn;
	dom->top.other = dom->top.walk != PT_WALK_EPOCH ||
			 dom->cfg.phys_to_virt || fn;
}

void iopgt__set_yield_hook(struct iopgt_domain *dom,
			   void (*fn)(void *arg, unsigned point, unsigned level,
				      uint64_t iova),
			   void *arg)
{
	dom->yield_arg = arg;
	dom->yield_hook = fn;
}

uint64_t iopgt__table_pa(const void *table)
{
	return ((const struct pt_table *)table)->pa;
}
