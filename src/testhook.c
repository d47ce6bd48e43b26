/* SPDX-License-Identifier: MIT */
/*
 * The setters of the test hooks (testhook.h). Built into a test-only library
 * (libiopgt_testhooks), never into libiopgt: a program linked with the
 * library alone cannot turn a hook on.
 */
#include <errno.h>

#include "pt.h"
#include "testhook.h"

#if IOPGT_HAVE_RCU
/* PT_HOOK_RCU_PER_PAGE: the RCU strategy with one callback per table page,
 * the alternative to one per batch that `iopgt bench reclaim --per-page`
 * measures. The table descriptor has no room for an rcu_head that no
 * walker reads (a walker that entered before the unlink may still read
 * the descriptor during the grace period), so each page takes a batch's
 * record of its own from meta_alloc. Over rcu_max_pending, or without a
 * record, the rest of the list goes to the strategy's own retire, which
 * then waits for a grace period. */
static void retire_per_page(struct iopgt_domain *dom, struct pt_table *list,
			    unsigned long n)
{
	while (list &&
	       atomic_load_explicit(&dom->st.pages_waiting,
				    memory_order_relaxed) + n <=
		       iopgt__rcu_max_pending(dom)) {
		struct pt_table *t = list;

		list = t->next;
		t->next = NULL;
		if (!iopgt__rcu_defer(dom, t, 1)) {
			t->next = list;
			list = t;
			break;
		}
		n--;
	}
	if (list)
		iopgt__strategy_rcu.retire(dom, list, n);
}

static const struct pt_strategy *rcu_per_page(void)
{
	static struct pt_strategy s;

	if (!s.retire) {
		s = iopgt__strategy_rcu;
		s.name = "rcu, one callback per page (test only)";
		s.retire = retire_per_page;
	}
	return &s;
}
#endif

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
#if IOPGT_HAVE_RCU
	if (s->retire == retire_per_page)
		return &iopgt__strategy_rcu;
#endif
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


/* PT_HOOK_SWAP_WRITE_BIT is an encoding bug the library's own lookup
 * cannot see: the domain's tabulated leaf attributes carry write
 * permission in a bit the hardware ignores instead of the format's bit,
 * and the domain's engine becomes a test-only copy of its own whose lookup
 * and decode_leaf map it back. Maps, splits and coalescing carry the attributes as
 * they are; only the hardware, reading the format's bit, sees read-only
 * leaves. Format-generic: the write bit is what the tabulated attributes
 * of READ|WRITE and of READ differ by, and the bit it moves to is the
 * lowest of the format's FMT_SW_BITS, which the hardware ignores. One
 * copy per engine, made on first use. */
#define SWAP_SLOTS 8

static struct swapped {
	struct pt_engine e; /* first: dom->eng points here */
	const struct pt_engine *orig;
	uint64_t wbit, sbit; /* the write bit, and where it went */
} swapped[SWAP_SLOTS];

static uint64_t unswap(const struct swapped *s, uint64_t e)
{
	return e & s->sbit ? (e & ~s->sbit) | s->wbit : e;
}

static void swapped_decode(const struct swapped *s, uint64_t e,
			   unsigned level, const struct pt_geo *geo,
			   struct iopgt_translation *out)
{
	s->orig->decode_leaf(unswap(s, e), level, geo, out);
}

/* decode_leaf is given no domain, so each copy has one of its own. */
#define SWAPPED_DECODE(i)                                                   \
	static void swapped_decode_##i(uint64_t e, unsigned level,          \
				       const struct pt_geo *geo,            \
				       struct iopgt_translation *out)       \
	{                                                                   \
		swapped_decode(&swapped[i], e, level, geo, out);            \
	}
SWAPPED_DECODE(0)
SWAPPED_DECODE(1)
SWAPPED_DECODE(2)
SWAPPED_DECODE(3)
SWAPPED_DECODE(4)
SWAPPED_DECODE(5)
SWAPPED_DECODE(6)
SWAPPED_DECODE(7)

static void (*const swapped_decodes[SWAP_SLOTS])(
	uint64_t e, unsigned level, const struct pt_geo *geo,
	struct iopgt_translation *out) = {
	swapped_decode_0, swapped_decode_1, swapped_decode_2,
	swapped_decode_3, swapped_decode_4, swapped_decode_5,
	swapped_decode_6, swapped_decode_7,
};

/* The engine's lookup, with the leaf decoded by the copy: the walk of the
 * hardware (one entry a level), inside the domain's walker. */
static int swapped_lookup(struct iopgt_domain *dom, uint64_t iova,
			  struct iopgt_translation *out)
{
	const struct swapped *s =
		(const struct swapped *)(const void *)dom->eng;
	const struct pt_geo *geo = &dom->geo;
	const struct pt_topv *tv = pt_top(dom);
	const pt_entry_t *va = tv->va;
	unsigned l = tv->level;
	pt_walk_t w = pt_walk_enter(dom);
	uint64_t e;

	for (;;) {
		e = atomic_load_explicit(&va[pt_index(geo, l, iova)],
					 memory_order_acquire);
		if (!e || !s->orig->is_table(e, l))
			break;
		va = pt_p2v(dom, s->orig->table_pa(e, l));
		l--;
	}
	pt_walk_leave(dom, w);
	if (!e)
		return -ENOENT;
	swapped_decode(s, e, l, geo, out);
	out->pa |= iova & (out->leaf_size - 1);
	return 0;
}

static struct swapped *swapped_of(const struct pt_engine *eng)
{
	for (unsigned i = 0; i < SWAP_SLOTS; i++)
		if (eng == &swapped[i].e)
			return &swapped[i];
	return NULL;
}

static void swap_write_bit(struct iopgt_domain *dom, bool on)
{
	struct swapped *s = swapped_of(dom->eng);
	const struct pt_engine *o = s ? s->orig : dom->eng;
	uint64_t wbit = dom->prot_attrs[IOPGT_PROT_READ | IOPGT_PROT_WRITE] ^
			dom->prot_attrs[IOPGT_PROT_READ];
	uint64_t sbit = o->sw_bits & -o->sw_bits;
	unsigned i;

	if (!on) {
		if (!s)
			return;
		dom->eng = o;
		pt_set_paths(dom);
		for (unsigned p = 0; p < 32; p++) {
			uint64_t a;
			dom->prot_attrs[p] = o->prot_attrs(p, &a) ? 0 : a;
		}
		return;
	}
	if (s)
		return; /* on already */
	/* A format whose write permission is not one bit, or without a bit
	 * free for software, cannot have this bug: the hook is not
	 * installed (and a test that checks its effect fails). */
	if (!sbit || !dom->prot_attrs[IOPGT_PROT_READ] ||
	    !dom->prot_attrs[IOPGT_PROT_READ | IOPGT_PROT_WRITE] ||
	    __builtin_popcountll(wbit) != 1)
		return;
	for (unsigned p = 0; p < 32; p++)
		if (dom->prot_attrs[p] & sbit)
			return;
	for (i = 0; i < SWAP_SLOTS; i++) {
		if (swapped[i].orig == o)
			break;
		if (!swapped[i].orig) {
			swapped[i].e = *o;
			swapped[i].e.lookup = swapped_lookup;
			for (unsigned k = 0; k < PT_PATHS; k++)
				swapped[i].e.lookup_path[k] = swapped_lookup;
			swapped[i].e.lookup_whole[0] = swapped_lookup;
			swapped[i].e.lookup_whole[1] = swapped_lookup;
			swapped[i].e.decode_leaf = swapped_decodes[i];
			swapped[i].wbit = wbit;
			swapped[i].sbit = sbit;
			swapped[i].orig = o;
			break;
		}
	}
	if (i == SWAP_SLOTS)
		return;
	for (unsigned p = 0; p < 32; p++)
		if (dom->prot_attrs[p] & wbit)
			dom->prot_attrs[p] = (dom->prot_attrs[p] & ~wbit) |
					     sbit;
	dom->eng = &swapped[i].e;
	pt_set_paths(dom);
}

void iopgt__set_test_hooks(struct iopgt_domain *dom, unsigned hooks)
{
	const struct pt_strategy *o = original(dom->strat);

	dom->hooks = hooks;
	pt_set_sync(dom);
	dom->strat = (hooks & PT_HOOK_IGNORE_WALKERS) ? broken_of(o) : o;
#if IOPGT_HAVE_RCU
	if ((hooks & PT_HOOK_RCU_PER_PAGE) && o == &iopgt__strategy_rcu &&
	    dom->strat == o)
		dom->strat = rcu_per_page();
#endif
	swap_write_bit(dom, (hooks & PT_HOOK_SWAP_WRITE_BIT) != 0);
}

void iopgt__set_walk_hook(struct iopgt_domain *dom,
			  void (*fn)(void *arg, const void *table), void *arg)
{
	dom->walk_hook_arg = arg;
	dom->walk_hook = fn;
	pt_set_paths(dom);
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
