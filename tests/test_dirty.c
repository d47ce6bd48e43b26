/* SPDX-License-Identifier: MIT */
/*
 * Dirty tracking: iopgt_read_and_clear_dirty reports exactly the leaves
 * whose dirty bit the hardware set, merged into runs, clears them (or not,
 * with IOPGT_DIRTY_NO_CLEAR), and asks for a MODIFIED flush over what it
 * cleared. The "hardware" here sets x86 D bits in the table memory directly,
 * with an atomic OR, as a walker would.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define X86_D (UINT64_C(1) << 6)
#define G1 (UINT64_C(1) << 30)
#define M2 (UINT64_C(1) << 21)
#define K4 (UINT64_C(1) << 12)

struct runs {
	uint64_t iova[64], size[64];
	unsigned n;
	unsigned stop_after; /* return non-zero after this many (0: never) */
};

static int record(void *arg, uint64_t iova, uint64_t size)
{
	struct runs *r = arg;

	assert_true(r->n < 64);
	r->iova[r->n] = iova;
	r->size[r->n] = size;
	r->n++;
	return r->stop_after && r->n == r->stop_after ? 42 : 0;
}

/* Set the hardware dirty bit of the leaf that translates iova. */
struct mark {
	uint64_t iova;
	int done;
};

static int mark_cb(void *arg, const struct iopgt_table_info *t)
{
	struct mark *m = arg;
	uint64_t esz = t->span / t->entries;
	_Atomic uint64_t *e;
	uint64_t v;

	if (m->iova < t->iova || m->iova - t->iova >= t->span)
		return 0;
	e = (_Atomic uint64_t *)t->va + (m->iova - t->iova) / esz;
	v = atomic_load(e);
	/* A leaf: present, and PS set above level 0 (x86). */
	if ((v & 1) && (t->level == 0 || (v & (UINT64_C(1) << 7)))) {
		atomic_fetch_or(e, X86_D);
		m->done = 1;
	}
	return 0;
}

static void hw_dirty(struct iopgt_domain *dom, uint64_t iova)
{
	struct mark m = { iova, 0 };

	iopgt_for_each_table(dom, mark_cb, &m);
	assert_int_equal(m.done, 1);
}

static struct iopgt_domain *x86_domain(void)
{
	struct iopgt_config cfg;
	struct iopgt_domain *dom;

	iopgt_config_init(&cfg, sizeof(cfg), IOPGT_FMT_X86_64);
	assert_int_equal(iopgt_domain_create(&cfg, &dom), 0);
	return dom;
}

static void map_ok(struct iopgt_domain *dom, uint64_t iova, uint64_t pa,
		   uint64_t size)
{
	struct iopgt_gather g;

	iopgt_gather_init(&g, sizeof(g));
	assert_int_equal(iopgt_map(dom, iova, pa, size,
				   IOPGT_PROT_READ | IOPGT_PROT_WRITE, &g), 0);
	iopgt_sync(dom, &g);
}

static void test_reports_and_clears(void **state)
{
	struct iopgt_domain *dom = x86_domain();
	struct iopgt_translation tr;
	struct iopgt_gather g;
	struct runs r;

	(void)state;
	/* 4K pages at G1 .. G1+16K, a 2M leaf at G1+2M, a 1G leaf at 2G. */
	map_ok(dom, G1, 0x10000000, 4 * K4);
	map_ok(dom, G1 + M2, 0x20000000, M2);
	map_ok(dom, 2 * G1, 3 * G1, G1);
	hw_dirty(dom, G1 + K4);
	hw_dirty(dom, G1 + 2 * K4);
	hw_dirty(dom, G1 + M2 + 5 * K4); /* inside the 2M leaf */
	hw_dirty(dom, 2 * G1 + 7 * M2);  /* inside the 1G leaf */
	assert_int_equal(iopgt_lookup(dom, G1 + K4, &tr), 0);
	assert_int_equal(tr.dirty, 1);

	/* NO_CLEAR: reported, bits kept, nothing to flush. */
	memset(&r, 0, sizeof(r));
	iopgt_gather_init(&g, sizeof(g));
	assert_int_equal(iopgt_read_and_clear_dirty(dom, G1, 2 * G1,
						    IOPGT_DIRTY_NO_CLEAR,
						    record, &r, &g), 0);
	assert_int_equal(r.n, 3);
	assert_int_equal(r.iova[0], G1 + K4); /* two pages merged */
	assert_int_equal(r.size[0], 2 * K4);
	assert_int_equal(r.iova[1], G1 + M2); /* the whole 2M leaf */
	assert_int_equal(r.size[1], M2);
	assert_int_equal(r.iova[2], 2 * G1); /* the whole 1G leaf */
	assert_int_equal(r.size[2], G1);
	assert_int_equal(g.kind, IOPGT_FLUSH_NONE);

	/* A range that cuts the 1G leaf still reports it whole. */
	memset(&r, 0, sizeof(r));
	assert_int_equal(iopgt_read_and_clear_dirty(dom, 2 * G1 + M2, M2,
						    IOPGT_DIRTY_NO_CLEAR,
						    record, &r, &g), 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.iova[0], 2 * G1);
	assert_int_equal(r.size[0], G1);

	/* Clear: the same report, a MODIFIED flush over what was cleared,
	 * and a second pass finds nothing. */
	memset(&r, 0, sizeof(r));
	assert_int_equal(iopgt_read_and_clear_dirty(dom, G1, 2 * G1, 0, record,
						    &r, &g), 0);
	assert_int_equal(r.n, 3);
	assert_int_equal(g.kind, IOPGT_FLUSH_MODIFIED);
	assert_true(g.iova <= G1 + K4);
	assert_true(g.last >= 3 * G1 - 1);
	iopgt_sync(dom, &g);
	assert_int_equal(iopgt_lookup(dom, G1 + K4, &tr), 0);
	assert_int_equal(tr.dirty, 0);
	memset(&r, 0, sizeof(r));
	assert_int_equal(iopgt_read_and_clear_dirty(dom, 0, UINT64_C(1) << 47,
						    0, record, &r, &g), 0);
	assert_int_equal(r.n, 0);
	assert_int_equal(g.kind, IOPGT_FLUSH_NONE);

	/* Clearing kept the translations and every other bit. */
	assert_int_equal(iopgt_lookup(dom, G1 + M2 + 5 * K4, &tr), 0);
	assert_int_equal(tr.pa, 0x20000000 + 5 * K4);
	assert_int_equal(tr.leaf_size, M2);
	assert_int_equal(tr.prot, IOPGT_PROT_READ | IOPGT_PROT_WRITE);
	assert_int_equal(tcheck_counts(dom), 0);
	iopgt_domain_destroy(dom);
}

static void test_stop_and_errors(void **state)
{
	struct iopgt_domain *dom = x86_domain(), *arm;
	struct iopgt_config cfg;
	struct iopgt_gather g;
	struct runs r;

	(void)state;
	map_ok(dom, G1, 0x10000000, 8 * K4);
	hw_dirty(dom, G1);
	hw_dirty(dom, G1 + 2 * K4);
	hw_dirty(dom, G1 + 4 * K4);
	iopgt_gather_init(&g, sizeof(g));

	/* The callback's non-zero return stops the walk and is returned. */
	memset(&r, 0, sizeof(r));
	r.stop_after = 2;
	assert_int_equal(iopgt_read_and_clear_dirty(dom, G1, 8 * K4, 0, record,
						    &r, &g), 42);
	assert_int_equal(r.n, 2);
	iopgt_sync(dom, &g);

	/* Bad ranges and flags. */
	assert_int_equal(iopgt_read_and_clear_dirty(dom, G1 + 1, K4, 0, record,
						    &r, &g), -EINVAL);
	assert_int_equal(iopgt_read_and_clear_dirty(dom, G1, 0, 0, record, &r,
						    &g), -EINVAL);
	assert_int_equal(iopgt_read_and_clear_dirty(dom, UINT64_C(1) << 48, K4,
						    0, record, &r, &g),
			 -ERANGE);
	assert_int_equal(iopgt_read_and_clear_dirty(dom, G1, K4, 0x80, record,
						    &r, &g), -EINVAL);
	assert_int_equal(iopgt_read_and_clear_dirty(dom, G1, K4, 0, NULL, &r,
						    &g), -EINVAL);
	iopgt_domain_destroy(dom);

	/* ARM stage 2 keeps no dirty state here. */
	iopgt_config_init(&cfg, sizeof(cfg), IOPGT_FMT_ARM_S2);
	assert_int_equal(iopgt_domain_create(&cfg, &arm), 0);
	assert_int_equal(iopgt_read_and_clear_dirty(arm, G1, K4, 0, record, &r,
						    &g), -EOPNOTSUPP);
	iopgt_domain_destroy(arm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reports_and_clears),
		cmocka_unit_test(test_stop_and_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
