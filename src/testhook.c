/* SPDX-License-Identifier: MIT */
/*
 * The setters of the test hooks (testhook.h). Built into a test-only library
 * (libiopgt_testhooks), never into libiopgt: a program linked with the
 * library alone cannot turn a hook on.
 */
#include "pt.h"
#include "testhook.h"

/* PT_HOOK_IGNORE_WALKERS is a test-only strategy: the domain's own, with
 * a retire that frees at once, without waiting for walkers (rule 5 broken
 * on purpose), so that no production path tests for it. One per strategy
 * a test breaks, made on first use (tests set hooks from one thread). */
static struct broken {
	struct pt_strategy s;
	const struct pt_strategy *orig;
} broken[8];

static void retire_at_once(struct iopgt_domain *dom, struct pt_table *list,
			   unsigned long n)
{
	(void)n;
	iopgt__release_list(dom, list);
}

static const struct pt_strategy *original(const struct pt_strategy *s)
{
	for (unsigned i = 0; i < sizeof(broken) / sizeof(broken[0]); i++)
		if (s == &broken[i].s)
			return broken[i].orig;
	return s;
}

static const struct pt_strategy *broken_of(const struct pt_strategy *o)
{
	for (unsigned i = 0; i < sizeof(broken) / sizeof(broken[0]); i++) {
		if (broken[i].orig == o)
			return &broken[i].s;
		if (!broken[i].orig) {
			broken[i].s = *o;
			broken[i].s.name = "broken: frees at once";
			broken[i].s.retire = retire_at_once;
			broken[i].orig = o;
			return &broken[i].s;
		}
	}
	return o;
}

void iopgt__set_test_hooks(struct iopgt_domain *dom, unsigned hooks)
{
	const struct pt_strategy *o = original(dom->strat);

	dom->hooks = hooks;
	dom->strat = (hooks & PT_HOOK_IGNORE_WALKERS) ? broken_of(o) : o;
}

void iopgt__set_walk_hook(struct iopgt_domain *dom,
			  void (*fn)(void *arg, const void *table), void *arg)
{
	dom->walk_hook_arg = arg;
	dom->walk_hook = fn;
	dom->top.other = pt_top_other(dom);
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
