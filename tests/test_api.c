/* SPDX-License-Identifier: MIT */
/*
 * The API's contract with compiled callers: structures that grow (a caller
 * built against an older, smaller header and one built against a newer,
 * larger one both work), the version query, and misuse answered with a
 * clear error that changes nothing: NULL arguments, a configuration not
 * filled by iopgt_config_init, a gather used across domains.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

/* ---- constants ----
 * The ABI baseline (abidw) records enums that appear in prototypes, not
 * the flag values callers compile in: pin every public constant here, so
 * that renumbering one fails the build. Adding one changes nothing. */
/* The format values are pinned in tests/test_formats.c, beside each
 * format's known answers. */
_Static_assert(IOPGT_SZ_4K == 1u << 12 && IOPGT_SZ_16K == 1u << 14 &&
		       IOPGT_SZ_64K == 1u << 16 && IOPGT_SZ_2M == 1u << 21 &&
		       IOPGT_SZ_32M == 1u << 25 && IOPGT_SZ_512M == 1u << 29 &&
		       IOPGT_SZ_1G == 1u << 30,
	       "leaf sizes");
_Static_assert(IOPGT_PROT_READ == 1 && IOPGT_PROT_WRITE == 2 &&
		       IOPGT_PROT_EXEC == 4 && IOPGT_PROT_USER == 8 &&
		       IOPGT_PROT_MMIO == 16,
	       "protection bits");
_Static_assert(IOPGT_FLUSH_NONE == 0 && IOPGT_FLUSH_ADDED == 1 &&
		       IOPGT_FLUSH_MODIFIED == 2 && IOPGT_FLUSH_WALK == 3 &&
		       IOPGT_FLUSH_KINDS == 4,
	       "flush kinds");
_Static_assert(IOPGT_OPT_CACHING_MODE == 1 && IOPGT_OPT_NO_RECLAIM == 2 &&
		       IOPGT_OPT_NO_COALESCE == 4 && IOPGT_OPT_NO_COUNTS == 8 &&
		       IOPGT_OPT_FORCE_SNOOP == 16 && IOPGT_OPT_COUNTS == 32 &&
		       IOPGT_OPT_ONE_GATHER == 64,
	       "options");
_Static_assert(IOPGT_STRATEGY_EPOCH == 0 && IOPGT_STRATEGY_AFTER_FLUSH == 1 &&
		       IOPGT_STRATEGY_RCU == 2 && IOPGT_STRATEGY_WORKER == 3,
	       "reclaim strategy values are ABI");
_Static_assert(IOPGT_DIRTY_NO_CLEAR == 1 && IOPGT_DUMP_ENTRIES == 1,
	       "call flags");
_Static_assert(IOPGT_FORMAT_DIRTY == 1 && IOPGT_FORMAT_IAS_WITHIN_OAS == 2 &&
		       IOPGT_FORMAT_SIGN_EXTEND == 4 &&
		       IOPGT_FORMAT_SNOOP == 8 && IOPGT_FORMAT_GROWS == 16,
	       "format flags");
_Static_assert(sizeof(((struct iopgt_stats *)0)->flushes) == 8 * 8,
	       "room for flush kinds");
_Static_assert(IOPGT_FORMAT_FIRST_STAGE == 32, "format flags");
_Static_assert(IOPGT_GATHER_MERGE == 0 && IOPGT_GATHER_UNION == 1 &&
		       IOPGT_GATHER_EARLY == 2 && IOPGT_GATHER_DISJOINT == 3 &&
		       IOPGT_GATHER_POLICIES == 4 && IOPGT_GATHER_RANGES == 8,
	       "gather policies");
_Static_assert(IOPGT_RANGE_LEAF_ONLY == 1 && IOPGT_RANGE_ANY_SIZE == 2 &&
		       sizeof(struct iopgt_flush_range) == 56,
	       "flush ranges: fixed size, filled through reserved fields");
_Static_assert(IOPGT_IOMMU_VTD == 1 && IOPGT_IOMMU_AMD == 2 &&
		       IOPGT_IOMMU_SMMUV3 == 3 && IOPGT_IOMMU_RISCV == 4,
	       "IOMMUs");
_Static_assert(IOPGT_INVAL_FIRST_STAGE == 1 && IOPGT_INVAL_RANGES == 2 &&
		       IOPGT_INVAL_NESTED == 4 &&
		       sizeof(struct iopgt_inval_cmd) == 32,
	       "invalidation commands");

/* ---- growable structures ---- */

/* A caller built against a newer header: its structure has fields after
 * ours. Zero there is the default and works; anything else is refused. */
struct newer_config {
	struct iopgt_config cfg;
	uint64_t future[4];
};

static void test_config_sizes(void **state)
{
	struct newer_config n;
	struct iopgt_config cfg;
	struct iopgt_domain *dom;

	(void)state;
	/* Too small for the first version, or NULL: refused. */
	assert_int_equal(iopgt_config_init(NULL, sizeof(cfg), IOPGT_FMT_X86_64),
			 -EINVAL);
	assert_int_equal(iopgt_config_init(&cfg, offsetof(struct iopgt_config,
							  mem),
					   IOPGT_FMT_X86_64),
			 -EINVAL);

	/* Larger, zero tail: init zeroes it all, create accepts it. */
	memset(&n, 0xff, sizeof(n));
	assert_int_equal(iopgt_config_init(&n.cfg, sizeof(n), IOPGT_FMT_X86_64),
			 0);
	assert_int_equal(n.cfg.size, sizeof(n));
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(n.future[i], 0);
	assert_int_equal(iopgt_domain_create(&n.cfg, &dom), 0);
	iopgt_domain_destroy(dom);

	/* Larger, with a field this library does not know: -E2BIG. */
	n.future[2] = 1;
	dom = (struct iopgt_domain *)&n;
	assert_int_equal(iopgt_domain_create(&n.cfg, &dom), -E2BIG);
	assert_null(dom);

	/* A size no structure of ours has: never read past the caller's. */
	assert_int_equal(iopgt_config_init(&n.cfg, 4097, IOPGT_FMT_X86_64),
			 -EINVAL);
	assert_int_equal(iopgt_config_init(&cfg, sizeof(cfg), IOPGT_FMT_X86_64),
			 0);
	cfg.size = 8192;
	assert_int_equal(iopgt_domain_create(&cfg, &dom), -EINVAL);

	/* Half a pair of allocator callbacks. */
	assert_int_equal(iopgt_config_init(&cfg, sizeof(cfg), IOPGT_FMT_X86_64),
			 0);
	cfg.mem.table_free = (void (*)(void *, void *, uint64_t, size_t))1;
	assert_int_equal(iopgt_domain_create(&cfg, &dom), -EINVAL);
	cfg.mem.table_free = NULL;
	cfg.mem.meta_alloc = (void *(*)(void *, size_t))1;
	assert_int_equal(iopgt_domain_create(&cfg, &dom), -EINVAL);

	/* Not filled by iopgt_config_init: size 0. */
	memset(&cfg, 0, sizeof(cfg));
	cfg.format = IOPGT_FMT_X86_64;
	cfg.ias = 48;
	cfg.oas = 52;
	cfg.granule = 12;
	assert_int_equal(iopgt_domain_create(&cfg, &dom), -EINVAL);
	assert_int_equal(iopgt_domain_create(NULL, &dom), -EINVAL);
	assert_int_equal(iopgt_config_init(&cfg, sizeof(cfg), IOPGT_FMT_X86_64),
			 0);
	assert_int_equal(iopgt_domain_create(&cfg, NULL), -EINVAL);
}

/* The rule of every structure the library writes out (it grows at its end,
 * the caller says how much it has room for): a caller with an older,
 * smaller structure of part bytes gets exactly those bytes and nothing
 * past them; one with a newer, larger structure gets all of `full`
 * (full_size bytes) and zeros after it. out(arg, buf, size) makes the call
 * and returns its result. */
typedef int (*out_fn)(const void *arg, void *buf, size_t size);

#define OUT_EXTRA 24 /* bytes of a newer structure past the current one */

static void check_out_sizes(out_fn out, const void *arg, const void *full,
			    size_t full_size, size_t part)
{
	union {
		uint64_t align;
		unsigned char b[512];
	} buf;

	assert_true(part < full_size && full_size + OUT_EXTRA <= sizeof(buf));
	memset(buf.b, 0xa5, sizeof(buf.b));
	assert_int_equal(out(arg, buf.b, part), 0);
	assert_memory_equal(buf.b, full, part);
	for (size_t i = part; i < sizeof(buf.b); i++)
		assert_int_equal(buf.b[i], 0xa5);

	memset(buf.b, 0xa5, sizeof(buf.b));
	assert_int_equal(out(arg, buf.b, full_size + OUT_EXTRA), 0);
	assert_memory_equal(buf.b, full, full_size);
	for (size_t i = full_size; i < full_size + OUT_EXTRA; i++)
		assert_int_equal(buf.b[i], 0);
	for (size_t i = full_size + OUT_EXTRA; i < sizeof(buf.b); i++)
		assert_int_equal(buf.b[i], 0xa5);
}

static int out_stats(const void *dom, void *buf, size_t size)
{
	return iopgt_get_stats(dom, buf, size);
}

static int out_info(const void *dom, void *buf, size_t size)
{
	return iopgt_domain_info(dom, buf, size);
}

static int out_format0(const void *arg, void *buf, size_t size)
{
	(void)arg;
	return iopgt_format_info(0, buf, size);
}

/* Stats and info into smaller (older) and larger (newer) structures: only
 * size bytes are written; what the library does not know is zero. */
static void test_out_sizes(void **state)
{
	struct tdom d;
	struct iopgt_stats full;

	(void)state;
	topen(&d, &tcfgs[0], 0, CACHE_DEFAULT, 0);
	tmap_ok(&d, 0, d.pa0, d.s[0], RW);
	assert_int_equal(iopgt_get_stats(d.dom, &full, sizeof(full)), 0);
	assert_true(full.table_pages_live >= 2);
	check_out_sizes(out_stats, d.dom, &full, sizeof(full),
			offsetof(struct iopgt_stats, table_pages_peak));
	check_out_sizes(out_info, d.dom, &d.info, sizeof(d.info),
			offsetof(struct iopgt_info, levels));

	assert_int_equal(iopgt_get_stats(NULL, &full, sizeof(full)), -EINVAL);
	assert_int_equal(iopgt_get_stats(d.dom, NULL, sizeof(full)), -EINVAL);
	assert_int_equal(iopgt_domain_info(NULL, &d.info, sizeof(d.info)),
			 -EINVAL);
	assert_int_equal(iopgt_domain_info(d.dom, NULL, sizeof(d.info)),
			 -EINVAL);
	tunmap_ok(&d, 0, d.s[0], d.s[0]);
	tclose(&d);
}

/* Format descriptions into smaller (older) and larger (newer) structures,
 * as for stats and info; past the last format, -ENOENT. */
static void test_format_info_sizes(void **state)
{
	struct iopgt_format_info full;
	unsigned n;

	(void)state;
	assert_int_equal(iopgt_format_info(0, &full, sizeof(full)), 0);
	check_out_sizes(out_format0, NULL, &full, sizeof(full),
			offsetof(struct iopgt_format_info, granules));
	for (n = 0; !iopgt_format_info(n, &full, sizeof(full)); n++)
		assert_string_equal(iopgt_format_name(full.format), full.name);
	assert_true(n >= 2);
	assert_int_equal(iopgt_format_info(n, &full, sizeof(full)), -ENOENT);
	assert_int_equal(iopgt_format_info(0, NULL, sizeof(full)), -EINVAL);
	assert_int_equal(iopgt_format_info(0, &full, 4097), -EINVAL);
}

static void test_version(void **state)
{
	char want[32];

	(void)state;
	assert_int_equal(iopgt_version(), IOPGT_VERSION);
	snprintf(want, sizeof(want), "%d.%d.%d", IOPGT_VERSION_MAJOR,
		 IOPGT_VERSION_MINOR, IOPGT_VERSION_PATCH);
	assert_string_equal(iopgt_version_string(), want);
}

/* ---- misuse ---- */

static int count_line(void *arg, const char *line)
{
	(void)line;
	++*(unsigned *)arg;
	return 0;
}

static int no_table(void *arg, const struct iopgt_table_info *t)
{
	(void)arg;
	(void)t;
	return 0;
}

static int no_dirty(void *arg, uint64_t iova, uint64_t size)
{
	(void)arg;
	(void)iova;
	(void)size;
	return 0;
}

static void test_null_args(void **state)
{
	struct tdom d;
	struct iopgt_gather g;
	struct iopgt_translation tr;
	unsigned lines = 0;

	(void)state;
	topen(&d, &tcfgs[0], 0, CACHE_DEFAULT, 0);
	assert_int_equal(iopgt_gather_init(NULL, sizeof(g)), -EINVAL);
	assert_int_equal(iopgt_gather_init(&g, offsetof(struct iopgt_gather,
							nr_ranges) - 8),
			 -EINVAL);
	assert_int_equal(iopgt_gather_init(&g, sizeof(g)), 0);

	assert_int_equal(iopgt_map(NULL, 0, 0, d.s[0], RW, &g), -EINVAL);
	assert_int_equal(iopgt_map(d.dom, 0, 0, d.s[0], RW, NULL), -EINVAL);
	assert_int_equal(iopgt_unmap(NULL, 0, d.s[0], &g), -EINVAL);
	assert_int_equal(iopgt_unmap(d.dom, 0, d.s[0], NULL), -EINVAL);
	assert_int_equal(iopgt_lookup(NULL, 0, &tr), -EINVAL);
	assert_int_equal(iopgt_lookup(d.dom, 0, NULL), -EINVAL);
	assert_int_equal(iopgt_sync(NULL, &g), -EINVAL);
	assert_int_equal(iopgt_sync(d.dom, NULL), -EINVAL);
	assert_int_equal(iopgt_flush_all(NULL, &g), -EINVAL);
	assert_int_equal(iopgt_flush_all(d.dom, NULL), -EINVAL);
	assert_int_equal(iopgt_reclaim(NULL), -EINVAL);
	assert_int_equal(iopgt_read_and_clear_dirty(NULL, 0, d.s[0], 0,
						    no_dirty, NULL, &g),
			 -EINVAL);
	assert_int_equal(iopgt_read_and_clear_dirty(d.dom, 0, d.s[0], 0,
						    no_dirty, NULL, NULL),
			 -EINVAL);
	assert_int_equal(iopgt_for_each_table(NULL, no_table, NULL), -EINVAL);
	assert_int_equal(iopgt_for_each_table(d.dom, NULL, NULL), -EINVAL);
	assert_int_equal(iopgt_dump(NULL, count_line, &lines, 0), -EINVAL);
	assert_int_equal(iopgt_dump(d.dom, NULL, NULL, 0), -EINVAL);
	assert_int_equal(iopgt_dump(d.dom, count_line, &lines, 0x80), -EINVAL);
	assert_int_equal(lines, 0);
	assert_int_equal(iopgt_dump(d.dom, count_line, &lines, 0), 0);
	assert_int_equal(lines, 2); /* the domain line and the root */
	iopgt_domain_destroy(NULL);
	/* Nothing above touched the domain. */
	assert_int_equal(tlive(&d), 1);
	assert_int_equal(d.tf.n, 0);
	tclose(&d);
}

/* A gather filled on one domain and synced on another: -EINVAL, nothing
 * flushed or freed on either, and the gather still holds what it held, so
 * that the right sync frees it. Likewise map and unmap with it. */
static void test_gather_domain(void **state)
{
	(void)state;
	for (size_t i = 0; i < n_tcfgs; i++) {
		const struct tcfg *c = &tcfgs[i];
		struct tdom a, b;
		struct iopgt_gather g, empty;
		struct iopgt_stats sa, sb;
		char *dump_a, *dump_b;
		unsigned long nr;

		topen(&a, c, 0, 0, 0);
		topen(&b, c, 0, 0, 0);
		assert_true(a.n >= 2);
		iopgt_gather_init(&g, sizeof(g));
		/* A page, then unmap it: its leaf table (and any table above
		 * it) is unlinked into g. */
		assert_int_equal(iopgt_map(a.dom, a.s[1], a.pa0, a.s[0], RW, &g),
				 0);
		assert_int_equal(iopgt_sync(a.dom, &g), 0);
		assert_int_equal(iopgt_unmap(a.dom, a.s[1], a.s[0], &g),
				 (int64_t)a.s[0]);
		nr = g.nr_tables;
		assert_true(nr >= 1);
		sa = tstats(&a);
		sb = tstats(&b);
		dump_a = tdump(a.dom);
		dump_b = tdump(b.dom);

		assert_int_equal(iopgt_sync(b.dom, &g), -EINVAL);
		assert_int_equal(iopgt_flush_all(b.dom, &g), -EINVAL);
		assert_int_equal(iopgt_map(b.dom, 0, b.pa0, b.s[0], RW, &g),
				 -EINVAL);
		assert_int_equal(iopgt_unmap(b.dom, 0, b.s[0], &g), -EINVAL);
		assert_int_equal(iopgt_read_and_clear_dirty(b.dom, 0, b.s[0], 0,
							    no_dirty, NULL, &g),
				 -EINVAL);
		assert_int_equal(g.nr_tables, nr);
		{
			struct iopgt_stats na = tstats(&a), nb = tstats(&b);
			char *now_a = tdump(a.dom), *now_b = tdump(b.dom);

			assert_memory_equal(&na, &sa, sizeof(sa));
			assert_memory_equal(&nb, &sb, sizeof(sb));
			assert_string_equal(now_a, dump_a);
			assert_string_equal(now_b, dump_b);
			free(now_a);
			free(now_b);
		}
		assert_int_equal(b.tf.n, 0);

		/* The right domain takes it and frees the tables. */
		assert_int_equal(iopgt_sync(a.dom, &g), 0);
		assert_int_equal(g.nr_tables, 0);
		assert_int_equal(tlive(&a), 1);

		/* Once synced, the gather may serve the other domain; so may
		 * an untouched one. */
		assert_int_equal(iopgt_map(b.dom, 0, b.pa0, b.s[0], RW, &g), 0);
		assert_int_equal(iopgt_sync(b.dom, &g), 0);
		iopgt_gather_init(&empty, sizeof(empty));
		assert_int_equal(iopgt_sync(a.dom, &empty), 0);
		assert_int_equal(iopgt_unmap(b.dom, 0, b.s[0], &empty),
				 (int64_t)b.s[0]);
		assert_int_equal(iopgt_sync(b.dom, &empty), 0);

		free(dump_a);
		free(dump_b);
		tclose(&a);
		tclose(&b);
	}
}

/* A caller built against the first version of struct iopgt_gather (no
 * ranges): the union and the highest kind, one flush_range call, and
 * nothing written past the size it gave. */
static void test_gather_v1(void **state)
{
	const size_t v1 = offsetof(struct iopgt_gather, nr_ranges);
	union {
		struct iopgt_gather g;
		unsigned char raw[sizeof(struct iopgt_gather)];
	} u;
	struct tdom d;
	uint64_t p;

	(void)state;
	topen(&d, &tcfgs[0], IOPGT_OPT_CACHING_MODE, CACHE_DEFAULT, 0);
	p = d.s[0];
	memset(&u, 0xa5, sizeof(u));
	assert_int_equal(iopgt_gather_init(&u.g, v1), 0);
	assert_int_equal(iopgt_map(d.dom, 8 * p, 0, p, RW, &u.g), 0);
	assert_int_equal(iopgt_map(d.dom, 64 * p, 0, p, RW, &u.g), 0);
	assert_int_equal(iopgt_unmap(d.dom, 8 * p, p, &u.g), (int64_t)p);
	assert_int_equal(iopgt_sync(d.dom, &u.g), 0);
	assert_int_equal(d.tf.n, 1);
	assert_int_equal(d.tf.recs[0].iova, 8 * p);
	assert_int_equal(d.tf.recs[0].last, 65 * p - 1);
	assert_int_equal(d.tf.recs[0].kind, IOPGT_FLUSH_MODIFIED);
	for (size_t i = v1; i < sizeof(u); i++)
		assert_int_equal(u.raw[i], 0xa5);
	tunmap_ok(&d, 64 * p, p, p);
	tclose(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_sizes),
		cmocka_unit_test(test_out_sizes),
		cmocka_unit_test(test_format_info_sizes),
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_null_args),
		cmocka_unit_test(test_gather_domain),
		cmocka_unit_test(test_gather_v1),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
