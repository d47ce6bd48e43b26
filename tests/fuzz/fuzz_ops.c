/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: one domain, a sequence of calls with adversarial
 * arguments, every answer checked against the reference model
 * (tests/refmodel.h).
 *
 * Input. Every byte string decodes to a run; missing bytes read as zero.
 *   byte 0   configuration: an index into tcfgs[] (modulo the number of
 *            configurations, counting only those whose name contains
 *            $IOPGT_FUZZ_CONFIG if that is set)
 *   byte 1   options: bits 0-2 IOPGT_OPT_*; bits 3, 6 and 7 all set adds
 *            an option bit the library does not know
 *   byte 2   table_cache: below 128, the byte modulo 4; else byte - 128
 *   byte 3   leaf_sizes: 0 for all; else bits 0-5 choose among the sizes
 *            the configuration offers (smallest first), and bit 7 adds
 *            the size 2^(byte 4 % 64), offered or not
 *   byte 4   see byte 3; bits 0-1 (if non-zero): that allocation of the
 *            first create attempt fails
 *   byte 5   seed of the random points the model's checks look up
 *   then operations, each an opcode byte and its arguments: the low 4 bits
 *   choose the call (see op_kind()), bit 4 makes an allocation of the call
 *   fail (which one: the next byte), bits 5 and 6 both set pass a bad
 *   pointer or a gather of another domain instead, bit 7 syncs after it.
 *   Addresses, sizes and protections come from gen_*(): values derived
 *   from the domain's geometry as it reports it, from the model's ranges
 *   and from earlier values, or raw 64-bit values.
 *
 * Checks. Each call's return value is predicted: the front checks
 * (-EINVAL, -ERANGE) in the order the header gives them, then the model
 * (-EEXIST, bytes unmapped, translations). A call that makes an allocation
 * fail must return -ENOMEM; one that fails otherwise, or returns negative
 * at all, must leave the dump exactly as before (a map in a domain without
 * counts, NO_RECLAIM | NO_COALESCE: its leaves). Statistics must agree with
 * the recording allocator and flush fake, map/unmap never flush, sync
 * flushes exactly what the gather holds, and at the end, with everything
 * unmapped and synced, only the root is left and nothing leaks.
 *
 * A mismatch prints the operation's index and the steps before it, then
 * aborts (cmocka's failures abort too: CMOCKA_TEST_ABORT=1), so libFuzzer
 * keeps the input.
 *
 * Environment: IOPGT_FUZZ_CONFIG (only the configurations whose name
 * contains it), IOPGT_FUZZ_PART=K/N (only configurations K, K + N, K + 2N,
 * ... of tests/common.c's list: CTest's short runs split the list so, with
 * no format named), IOPGT_FUZZ_VERBOSE (print what each input did).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "refmodel.h"

#define MAX_OPS 256       /* operations decoded from one input */
#define MAP_LEAVES 4096   /* leaves a single map may write */
#define DOM_LEAVES 16384  /* leaves the domain may hold (estimated) */
#define COUNT_EVERY 4     /* operations between recounts of every table */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ------------------------------------------------------------------------
 * Input
 */

struct in {
	const uint8_t *p;
	size_t n;
};

static unsigned in_u8(struct in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

/* k bytes, little-endian. */
static uint64_t in_bytes(struct in *in, unsigned k)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < k; i++)
		v |= (uint64_t)in_u8(in) << (8 * i);
	return v;
}

/* ------------------------------------------------------------------------
 * State of one run
 */

enum op_kind {
	OP_MAP, OP_UNMAP, OP_LOOKUP, OP_SYNC, OP_FLUSH_ALL, OP_DIRTY,
	OP_RECLAIM, OP_STATS, OP_INFO, OP_COMPARE, OP_KINDS
};

static const char *const op_names[OP_KINDS] = {
	"map", "unmap", "lookup", "sync", "flush_all", "dirty", "reclaim",
	"stats", "info", "compare",
};

struct fz {
	struct in in;
	const struct tcfg *c;
	struct iopgt_config cfg;
	struct talloc ta;
	struct tflush tf;
	struct iopgt_domain *dom;
	struct iopgt_gather g;
	struct iopgt_info info;
	struct rm_work w;      /* the model and the domain's geometry */
	bool dirty_ok;         /* the format keeps dirty state */
	long op;
	struct rm_log log;
	char *dump;            /* dump of the current state; NULL: stale */
	uint64_t est;          /* estimated leaves in the domain */
	uint64_t hist[16];     /* earlier addresses and sizes */
	unsigned nhist;
	unsigned long dirty_calls;

	/* A second domain whose gather holds state: misuse of a gather. */
	struct talloc ta2;
	struct iopgt_domain *dom2;
	struct iopgt_gather g2;

	/* What the run did (IOPGT_FUZZ_VERBOSE). */
	unsigned long nops[OP_KINDS], nfail[OP_KINDS], enomem, skipped;
};

static size_t cfg_pick[64];   /* configurations in play */
static size_t n_cfg_pick;
static uint64_t cfg_offered[64]; /* leaf sizes each offers; 0: not known */
static bool verbose;

static void print_context(FILE *out, void *arg)
{
	struct fz *F = arg;

	fprintf(out, "  config %s, options 0x%x, table_cache %u, leaf_sizes "
		"0x%" PRIx64 "\n", F->c ? F->c->name : "?", F->cfg.options,
		F->cfg.table_cache, F->cfg.leaf_sizes);
	rm_log_print(&F->log, out);
}

/* A mismatch: say which operation, then abort for libFuzzer. */
#define FAIL(F, ...)                                                        \
	rm_report(__FILE__, __LINE__, "fuzz check", __VA_ARGS__)

/* ------------------------------------------------------------------------
 * Values
 */

static void remember(struct fz *F, uint64_t v)
{
	F->hist[F->nhist++ % 16] = v;
}

static uint64_t pick_size(struct fz *F)
{
	return F->w.sizes[in_u8(&F->in) % F->w.nsizes];
}

static const struct rm_range *pick_range(struct fz *F)
{
	unsigned k = in_u8(&F->in);

	return F->w.m.n ? &F->w.m.r[k % F->w.m.n] : NULL;
}

/* Somewhere useful in the input space: its bottom, middle, top; the
 * bottom and the top of the upper half where there is one. */
static uint64_t anchor(struct fz *F)
{
	uint64_t end = F->w.lo_end, top = F->w.top;

	switch (in_u8(&F->in) % 4) {
	case 0:
		return 0;
	case 1:
		return end / 2;
	case 2:
		return end > 8 * top ? end - 8 * top : 0;
	default:
		if (F->w.hi_base)
			return in_u8(&F->in) & 1 ? F->w.hi_base : 0 - 8 * top;
		return end / 4 * 3;
	}
}

static uint64_t gen_iova(struct fz *F)
{
	struct rm_work *W = &F->w;
	const struct rm_range *r;
	uint64_t g = W->gran, v, s;
	unsigned k = in_u8(&F->in);

	switch (k % 12) {
	case 0: case 1: case 2: case 3: /* aligned, near an anchor */
		v = anchor(F);
		s = pick_size(F);
		v += s * (in_u8(&F->in) % 16);
		v += g * (in_u8(&F->in) % 4);
		break;
	case 4: case 5: /* at, in or next to a model range */
		r = pick_range(F);
		if (!r)
			return anchor(F);
		switch (in_u8(&F->in) % 4) {
		case 0:
			v = r->iova;
			break;
		case 1:
			v = rm_end(r);
			break;
		case 2:
			v = r->iova + g * (in_u8(&F->in) % (r->size / g));
			break;
		default:
			v = r->iova - g * (1 + in_u8(&F->in) % 8);
			break;
		}
		break;
	case 6:
		v = F->hist[in_u8(&F->in) % 16];
		break;
	case 7: /* at the top of the input space, or past it; at the
		 * bottom of the upper half, or below it (the hole) */
		v = in_u8(&F->in) & 1 && W->hi_base ? W->hi_base : W->lo_end;
		v += g * ((int)(in_u8(&F->in) % 8) - 4);
		break;
	case 8:
		v = in_bytes(&F->in, 8);
		break;
	case 9: /* unaligned */
		v = anchor(F);
		s = pick_size(F);
		v += s * (in_u8(&F->in) % 8);
		v += 1 + in_u8(&F->in);
		break;
	case 10: /* near 2^64 */
		v = UINT64_MAX - g * (in_u8(&F->in) % 4) + 1;
		break;
	default:
		v = W->top * in_bytes(&F->in, 2);
		break;
	}
	remember(F, v);
	return v;
}

static uint64_t gen_size(struct fz *F, uint64_t iova)
{
	struct rm_work *W = &F->w;
	const struct rm_range *r;
	uint64_t g = W->gran, v;
	unsigned k = in_u8(&F->in);

	switch (k % 12) {
	case 0: case 1:
		v = g * (1 + in_u8(&F->in));
		break;
	case 2: case 3:
		v = pick_size(F);
		v *= 1 + in_u8(&F->in) % 4;
		break;
	case 4: /* a superpage and a bit, or a bit less */
		v = pick_size(F);
		v *= 1 + in_u8(&F->in) % 4;
		v += g * ((int)(in_u8(&F->in) % 8) - 4);
		break;
	case 5:
		v = W->top * (in_u8(&F->in) % 3);
		v += W->s1 * (in_u8(&F->in) % 4);
		v += g * (in_u8(&F->in) % 4);
		break;
	case 6: /* to the end of a model range, or its size */
		r = pick_range(F);
		if (r && rm_end(r) > iova && in_u8(&F->in) % 2)
			v = rm_end(r) - iova;
		else
			v = r ? r->size : g;
		break;
	case 7:
		v = 0;
		break;
	case 8:
		v = in_bytes(&F->in, 8);
		break;
	case 9: /* to the top of the input space, or past it */
		v = W->lo_end - iova + g * ((int)(in_u8(&F->in) % 4) - 2);
		break;
	case 10: /* unaligned */
		v = g * (in_u8(&F->in) % 8);
		v += 1 + in_u8(&F->in);
		break;
	default: /* wraps past 2^64 */
		v = UINT64_MAX - iova + 1 + g * (in_u8(&F->in) % 4);
		break;
	}
	remember(F, v);
	return v;
}

static uint64_t gen_pa(struct fz *F, uint64_t iova, uint64_t size)
{
	struct rm_work *W = &F->w;
	const struct rm_range *r;
	uint64_t base = W->oas_end / 2, s;
	unsigned k = in_u8(&F->in);

	switch (k % 10) {
	case 0: case 1: case 2: case 3: /* congruent up to a leaf size */
		s = pick_size(F);
		return base + (iova & (s - 1)) + W->top * (in_u8(&F->in) % 16);
	case 4: case 5: /* continuing the model range before iova */
		r = iova ? rm_find(&W->m, iova - 1) : NULL;
		if (r)
			return r->pa + (iova - r->iova);
		return base + (iova & (W->top - 1));
	case 6:
		return W->gran * in_bytes(&F->in, 3);
	case 7:
		return in_bytes(&F->in, 8);
	case 8: /* at the top of the output space, or past it */
		return W->oas_end - size +
		       W->gran * ((int)(in_u8(&F->in) % 4) - 2);
	default:
		return base + W->gran * (1 + in_u8(&F->in));
	}
}

static bool prot_valid(const struct fz *F, unsigned prot)
{
	for (unsigned i = 0; i < F->w.nprots; i++)
		if (F->w.prots[i] == prot)
			return true;
	return false;
}

static unsigned gen_prot(struct fz *F)
{
	unsigned k = in_u8(&F->in);

	if (k < 192)
		return F->w.prots[k % F->w.nprots];
	if (k < 250)
		return k & 0x3f;
	return (unsigned)in_bytes(&F->in, 4);
}

/* ------------------------------------------------------------------------
 * Predictions
 */

/* The front checks of a range ([iova, iova + size)), as map, unmap and
 * read_and_clear_dirty make them: 0, -EINVAL or -ERANGE. */
static int range_err(const struct fz *F, uint64_t iova, uint64_t size)
{
	uint64_t gm = F->w.gran - 1, last = iova + (size - 1);

	if (!size || ((iova | size) & gm) || last < iova)
		return -EINVAL;
	/* Both ends in the input space, in one half of it. */
	if (!rm_in_space(&F->w, iova) || !rm_in_space(&F->w, last) ||
	    (iova < F->w.lo_end) != (last < F->w.lo_end))
		return -ERANGE;
	return 0;
}

/* A range for a call, its first IOVA in *iova, its size returned: the
 * model cannot hold one that ends at 2^64 (the top of an upper half), so
 * such a range ends a page earlier. */
static uint64_t gen_range(struct fz *F, uint64_t *iova)
{
	uint64_t size;

	*iova = gen_iova(F);
	size = gen_size(F, *iova);
	if (size && *iova + size == 0 && !range_err(F, *iova, size)) {
		if (size > F->w.gran)
			size -= F->w.gran;
		else
			*iova -= F->w.gran;
	}
	return size;
}

static int map_err(const struct fz *F, uint64_t iova, uint64_t pa,
		   uint64_t size, unsigned prot)
{
	uint64_t pa_last = pa + (size - 1);
	int r = range_err(F, iova, size);

	if (r)
		return r;
	if (pa & (F->w.gran - 1))
		return -EINVAL;
	if (pa_last < pa || pa_last >= F->w.oas_end)
		return -ERANGE;
	if (!prot_valid(F, prot))
		return -EINVAL;
	return 0;
}

/* Leaves a map of [iova, iova + size) -> pa writes, choosing the largest
 * leaf at each step as the header says. */
static uint64_t est_leaves(const struct rm_work *W, uint64_t iova,
			   uint64_t size, uint64_t pa)
{
	uint64_t x = iova, end = iova + size, d = pa - iova, n = 0;

	while (x < end) {
		unsigned i = W->nsizes - 1;
		uint64_t s, lim = end, k;

		for (; i > 0; i--) {
			s = W->sizes[i];
			if (!(x & (s - 1)) && !(d & (s - 1)) && s <= end - x)
				break;
		}
		s = W->sizes[i];
		if (i + 1 < W->nsizes && !(d & (W->sizes[i + 1] - 1))) {
			uint64_t up = (x | (W->sizes[i + 1] - 1)) + 1;
			if (up > x && up < lim)
				lim = up;
		}
		k = (lim - x) / s;
		if (!k)
			k = 1;
		n += k;
		x += k * s;
	}
	return n;
}

static uint64_t est_model(const struct rm_work *W)
{
	uint64_t n = 0;

	for (size_t i = 0; i < W->m.n; i++)
		n += est_leaves(W, W->m.r[i].iova, W->m.r[i].size,
				W->m.r[i].pa);
	return n;
}

/* Bytes the model has mapped in [iova, iova + size). */
static uint64_t model_bytes_in(const struct rm_model *m, uint64_t iova,
			       uint64_t size)
{
	uint64_t end = iova + size, n = 0;

	for (size_t i = 0; i < m->n; i++) {
		const struct rm_range *r = &m->r[i];
		uint64_t lo = r->iova > iova ? r->iova : iova;
		uint64_t hi = rm_end(r) < end ? rm_end(r) : end;

		if (lo < hi)
			n += hi - lo;
	}
	return n;
}

/* ------------------------------------------------------------------------
 * Checks
 */

static void dump_now(struct fz *F)
{
	if (!F->dump)
		F->dump = tdump(F->dom);
}

static void state_changed(struct fz *F)
{
	free(F->dump);
	F->dump = NULL;
}

/* A call returned ret < 0: the domain must be exactly as before it (a
 * failed map in a domain without counts: its leaves, and every table it
 * had; the call's new tables stay). */
static void check_unchanged(struct fz *F, const char *call, int64_t ret)
{
	char *now = tdump(F->dom);
	bool leaves = !strcmp(call, "map") &&
		      toptions_uncounted(F->cfg.options);

	if (leaves) {
		char msg[256];

		if (tcheck_kept_tables(F->dump, now, msg, sizeof(msg)))
			FAIL(F, "map failed with %" PRId64 ": %s", ret, msg);
		tleaf_lines(F->dump);
		tleaf_lines(now);
	}
	if (strcmp(F->dump, now)) {
		tdump_diff(stderr, F->dump, now);
		FAIL(F, "%s failed with %" PRId64 " but changed the tables "
		     "(see the difference above)", call, ret);
	}
	free(now);
	if (leaves)
		state_changed(F); /* the tables may differ */
}

/* Statistics against the recording allocator and the flush fake. */
static void check_stats(struct fz *F, const struct iopgt_stats *st)
{
	uint64_t kinds[IOPGT_FLUSH_KINDS + 1] = { 0 };

	for (size_t i = 0; i < F->tf.n; i++)
		kinds[F->tf.recs[i].kind]++;
	/* One table page a segment (tcfg_config): each allocation is the
	 * root or one page's segment, in use or kept empty. */
	CHECK_EQ(st->table_pages_live + st->table_pages_cached,
		 F->ta.table_allocs - F->ta.table_frees,
		 "table pages live and kept against the allocator");
	CHECK_EQ(F->ta.live_bytes, theld_bytes(F->dom),
		 "bytes the allocator holds against the root and segments");
	CHECK_EQ(st->table_pages_alloc - st->table_pages_freed,
		 st->table_pages_live, "pages taken and given back");
	CHECK(st->table_pages_peak >= st->table_pages_live &&
	      st->table_bytes_peak >= st->table_bytes_live,
	      "peak below live");
	CHECK(st->table_pages_waiting <= st->table_pages_live,
	      "more pages waiting than live");
	for (unsigned k = 0; k < IOPGT_FLUSH_KINDS; k++)
		CHECK_EQ(st->flushes[k], kinds[k], "flushes of one kind");
	CHECK_EQ(st->flush_all, kinds[IOPGT_FLUSH_KINDS], "flush_all calls");
	if (F->cfg.options & IOPGT_OPT_NO_COALESCE)
		CHECK_EQ(st->coalesced, 0, "coalesced with NO_COALESCE");
}

static struct iopgt_stats stats(struct fz *F)
{
	struct iopgt_stats st;

	CHECK_EQ(iopgt_get_stats(F->dom, &st, sizeof(st)), 0, "get_stats");
	return st;
}

static void check_cheap(struct fz *F)
{
	struct iopgt_stats st = stats(F);

	check_stats(F, &st);
	/* Recounting every entry of every table is the costliest check
	 * after the dumps: every few operations places a miscount. */
	if (F->op % COUNT_EVERY == 0)
		CHECK_EQ(tcheck_counts(F->dom), 0,
			 "tables whose count is wrong");
	CHECK(F->g.nr_tables == 0 || F->g.kind == IOPGT_FLUSH_WALK,
	      "gather holds %lu tables but needs a flush of kind %d only",
	      F->g.nr_tables, F->g.kind);
}

static void check_full(struct fz *F)
{
	unsigned empty;

	rm_verify(&F->w.m);
	rm_compare_domain(&F->w);
	CHECK_EQ(tcheck_counts(F->dom), 0, "tables whose count is wrong");
	tcount_tables(F->dom, &empty);
	/* Up to table_cache emptied tables stay linked for reuse. */
	if (!(F->cfg.options & IOPGT_OPT_NO_RECLAIM))
		CHECK(empty <= (F->cfg.table_cache < 32 ? F->cfg.table_cache
							  : 32),
		      "empty tables left in the tree: %u, table_cache %u",
		      empty, F->cfg.table_cache);
	check_cheap(F);
}

/* The gather covers [iova, iova + size) with at least kind. */
static void check_gather_covers(struct fz *F, uint64_t iova, uint64_t size,
				enum iopgt_flush_kind kind, const char *why)
{
	CHECK(F->g.kind >= kind && F->g.iova <= iova &&
	      F->g.last >= iova + size - 1,
	      "%s: gather [0x%" PRIx64 ", 0x%" PRIx64 "] kind %d does not "
	      "cover [0x%" PRIx64 ", +0x%" PRIx64 ") with kind %d", why,
	      F->g.iova, F->g.last, F->g.kind, iova, size, kind);
}

/* ------------------------------------------------------------------------
 * Operations
 */

/* Which allocation of the call fails (1 = its first), if the opcode asks
 * for one; 0 for none. */
static long gen_failure(struct fz *F, unsigned opc)
{
	return opc & 0x10 ? 1 + (long)(in_u8(&F->in) % 6) : 0;
}

static void arm_failure(struct fz *F, long fail_after)
{
	F->ta.failures = 0;
	F->ta.fail_after = fail_after;
}

/* The call is over: nothing more fails. Returns true if an allocation
 * was refused. */
static bool disarm(struct fz *F)
{
	F->ta.fail_after = 0;
	return F->ta.failures != 0;
}

/* Bad-argument variants (opcode bits 5 and 6 both set). */
static bool bad_args(unsigned opc)
{
	return (opc & 0x60) == 0x60;
}

/* A gather that holds state of another domain. */
static struct iopgt_gather *foreign_gather(struct fz *F)
{
	if (!F->dom2) {
		struct iopgt_config cfg = F->cfg;

		talloc_init(&F->ta2);
		talloc_ops(&F->ta2, &cfg.mem);
		cfg.flush.flush_range = NULL;
		cfg.flush.flush_all = NULL;
		CHECK_EQ(iopgt_domain_create(&cfg, &F->dom2), 0,
			 "create the second domain");
		iopgt_gather_init(&F->g2, sizeof(F->g2));
		CHECK_EQ(iopgt_map(F->dom2, 0, 0, F->w.gran, F->w.prots[0],
				   &F->g2), 0, "map on the second domain");
		CHECK_EQ(iopgt_unmap(F->dom2, 0, F->w.gran, &F->g2),
			 F->w.gran, "unmap on the second domain");
	}
	return &F->g2;
}

/* The misuse bad chooses (1: a NULL domain, 2: a gather holding another
 * domain's state), applied to the call's arguments; the call must then
 * fail with -EINVAL. Returns the words for the step's description. */
static const char *apply_bad(struct fz *F, unsigned bad,
			     struct iopgt_domain **dom,
			     struct iopgt_gather **g)
{
	if (bad == 1) {
		*dom = NULL;
		return " NULL dom";
	}
	if (bad == 2) {
		*g = foreign_gather(F);
		return " foreign gather";
	}
	return "";
}

/* The answer of a map or unmap (what): it flushed nothing, and it is
 * -ENOMEM if an allocation was refused (counted), else want. */
static void check_answer(struct fz *F, const char *what, size_t nflush,
			 bool failed, int64_t ret, int64_t want)
{
	char msg[64];

	snprintf(msg, sizeof(msg), "flushes issued by %s", what);
	CHECK_EQ(F->tf.n, nflush, msg);
	if (failed) {
		F->enomem++;
		snprintf(msg, sizeof(msg), "%s with an allocation refused",
			 what);
		CHECK_EQ(ret, -ENOMEM, msg);
	} else {
		CHECK_EQ(ret, want, what);
	}
}

static void op_map(struct fz *F, unsigned opc)
{
	struct rm_work *W = &F->w;
	uint64_t iova, size, pa, coalesced;
	unsigned prot, bad;
	long fail_after;
	struct iopgt_domain *dom = F->dom;
	struct iopgt_gather *g = &F->g;
	size_t nflush = F->tf.n;
	int want, ret;
	const char *misuse;
	bool failed;

	size = gen_range(F, &iova);
	pa = gen_pa(F, iova, size);
	prot = gen_prot(F);
	bad = bad_args(opc) ? in_u8(&F->in) % 3 : 0;
	fail_after = gen_failure(F, opc);
	want = map_err(F, iova, pa, size, prot);
	if (!want) {
		/* Keep the tables small enough to dump after every call. */
		uint64_t n = est_leaves(W, iova, size, pa);

		if (n > MAP_LEAVES || F->est + n > DOM_LEAVES) {
			rm_step(&F->log, F->op, "map iova 0x%" PRIx64 " size 0x%"
				PRIx64 " pa 0x%" PRIx64 ": skipped, %" PRIu64
				" leaves", iova, size, pa, n);
			F->skipped++;
			return;
		}
		if (rm_overlaps(&W->m, iova, size))
			want = -EEXIST;
	}
	misuse = apply_bad(F, bad, &dom, &g);
	if (bad)
		want = -EINVAL;
	rm_step(&F->log, F->op, "map%s iova 0x%" PRIx64 " size 0x%" PRIx64
		" pa 0x%" PRIx64 " prot 0x%x (expect %d)",
		misuse, iova, size, pa, prot, want);
	dump_now(F);
	coalesced = stats(F).coalesced;
	arm_failure(F, fail_after);
	ret = iopgt_map(dom, iova, pa, size, prot, g);
	failed = disarm(F);
	check_answer(F, "map", nflush, failed, ret, want);
	if (ret < 0) {
		check_unchanged(F, "map", ret);
		if (!failed && want == -EEXIST)
			rm_check_failed_map(W, iova, size);
		return;
	}
	{
		struct rm_range nr = { iova, size, pa, prot };

		state_changed(F);
		rm_insert(&W->m, &nr);
		F->est = est_model(W);
		rm_check_new_range(W, iova, size, pa, 4);
	}
	if (F->cfg.options & IOPGT_OPT_CACHING_MODE)
		check_gather_covers(F, iova, size, IOPGT_FLUSH_ADDED,
				    "map in caching mode");
	if (stats(F).coalesced != coalesced)
		CHECK_EQ(F->g.kind, IOPGT_FLUSH_WALK,
			 "gather kind after a map that coalesced");
}

static void op_unmap(struct fz *F, unsigned opc)
{
	struct rm_work *W = &F->w;
	uint64_t iova, size = gen_range(F, &iova);
	unsigned bad = bad_args(opc) ? in_u8(&F->in) % 3 : 0;
	long fail_after = gen_failure(F, opc);
	struct iopgt_domain *dom = F->dom;
	struct iopgt_gather *g = &F->g;
	size_t nflush = F->tf.n;
	int64_t want = range_err(F, iova, size), ret;
	const char *misuse;
	bool failed;

	if (!want) {
		/* Cutting ranges may split superpages into many leaves. */
		const struct rm_range *l = rm_find(&W->m, iova);
		const struct rm_range *r = rm_find(&W->m, iova + size - 1);
		uint64_t n = 0;

		if (l && l->iova < iova)
			n += est_leaves(W, l->iova, iova - l->iova, l->pa);
		if (r && rm_end(r) > iova + size)
			n += est_leaves(W, iova + size,
					rm_end(r) - (iova + size),
					r->pa + (iova + size - r->iova));
		if (F->est + n > DOM_LEAVES) {
			rm_step(&F->log, F->op, "unmap iova 0x%" PRIx64
				" size 0x%" PRIx64 ": skipped", iova, size);
			F->skipped++;
			return;
		}
		want = (int64_t)model_bytes_in(&W->m, iova, size);
	}
	misuse = apply_bad(F, bad, &dom, &g);
	if (bad)
		want = -EINVAL;
	rm_step(&F->log, F->op, "unmap%s iova 0x%" PRIx64 " size 0x%" PRIx64
		" (expect %" PRId64 ")",
		misuse, iova, size, want);
	dump_now(F);
	arm_failure(F, fail_after);
	ret = iopgt_unmap(dom, iova, size, g);
	failed = disarm(F);
	check_answer(F, "unmap", nflush, failed, ret, want);
	if (ret < 0) {
		check_unchanged(F, "unmap", ret);
		return;
	}
	state_changed(F);
	/* Every byte that was mapped needs a flush. */
	for (size_t i = 0; i < W->m.n; i++) {
		const struct rm_range *r = &W->m.r[i];
		uint64_t lo = r->iova > iova ? r->iova : iova;
		uint64_t hi = rm_end(r) < iova + size ? rm_end(r) : iova + size;

		if (lo < hi)
			check_gather_covers(F, lo, hi - lo,
					    IOPGT_FLUSH_MODIFIED, "unmap");
	}
	rm_remove(&W->m, iova, size);
	F->est = est_model(W);
	rm_check_unmapped(W, iova, size);
}

static void op_lookup(struct fz *F, unsigned opc)
{
	struct iopgt_translation tr;
	unsigned k = in_u8(&F->in);
	uint64_t iova = gen_iova(F);
	int ret;

	if (k % 4 == 0) /* anywhere in a page */
		iova += in_u8(&F->in);

	if (bad_args(opc)) {
		rm_step(&F->log, F->op, "lookup 0x%" PRIx64 " NULL out", iova);
		CHECK_EQ(iopgt_lookup(F->dom, iova, NULL), -EINVAL,
			 "lookup, NULL out");
		CHECK_EQ(iopgt_lookup(NULL, iova, &tr), -EINVAL,
			 "lookup, NULL dom");
		return;
	}
	rm_step(&F->log, F->op, "lookup 0x%" PRIx64, iova);
	dump_now(F);
	if (rm_in_space(&F->w, iova)) {
		/* -ENOENT is a failed call too. */
		if (!rm_check_lookup(&F->w, iova, "lookup"))
			check_unchanged(F, "lookup", -ENOENT);
		return;
	}
	ret = iopgt_lookup(F->dom, iova, &tr);
	CHECK_EQ(ret, -ERANGE, "lookup outside the input space");
	check_unchanged(F, "lookup", ret);
}

static void op_sync(struct fz *F, unsigned opc, bool all)
{
	struct iopgt_gather before = F->g;
	size_t nflush = F->tf.n;
	const char *name = all ? "flush_all" : "sync";
	int ret;

	if (bad_args(opc)) {
		struct iopgt_gather *g2 = foreign_gather(F);
		unsigned k = in_u8(&F->in) % 3;

		rm_step(&F->log, F->op, "%s with %s", name,
			k == 0 ? "NULL dom" : k == 1 ? "NULL gather"
						     : "foreign gather");
		dump_now(F);
		ret = (all ? iopgt_flush_all : iopgt_sync)(
			k == 0 ? NULL : F->dom,
			k == 1 ? NULL : k == 2 ? g2 : &F->g);
		CHECK_EQ(ret, -EINVAL, name);
		CHECK_EQ(F->tf.n, nflush, "flushes issued by a failed call");
		check_unchanged(F, name, ret);
		return;
	}
	rm_step(&F->log, F->op, "%s (gather [0x%" PRIx64 ", 0x%" PRIx64
		"] kind %d, %lu tables)", name, before.iova, before.last,
		before.kind, before.nr_tables);
	ret = (all ? iopgt_flush_all : iopgt_sync)(F->dom, &F->g);
	CHECK_EQ(ret, 0, name);
	state_changed(F);
	CHECK(F->g.kind == IOPGT_FLUSH_NONE && F->g.nr_tables == 0 &&
	      F->g.tables == NULL && F->g.iova == UINT64_MAX,
	      "%s left the gather holding state", name);
	if (all) {
		CHECK_EQ(F->tf.n, nflush + 1, "flushes issued by flush_all");
		CHECK_EQ(F->tf.recs[nflush].kind, IOPGT_FLUSH_KINDS,
			 "flush_all issued a range flush");
	} else if (before.kind != IOPGT_FLUSH_NONE &&
		   before.iova <= before.last) {
		/* One flush_range call per range, each the range, inside
		 * the union, the highest kind among them. */
		const unsigned nr = before.nr_ranges;
		enum iopgt_flush_kind top = IOPGT_FLUSH_NONE;

		CHECK(nr >= 1 && nr <= IOPGT_GATHER_RANGES &&
		      (F->cfg.gather_policy != IOPGT_GATHER_UNION || nr == 1),
		      "sync of a gather of %u ranges", nr);
		CHECK_EQ(F->tf.n, nflush + nr, "flushes issued by sync");
		for (unsigned i = 0; i < nr; i++) {
			const struct tflush_rec *r = &F->tf.recs[nflush + i];
			const struct iopgt_flush_range *x = &before.ranges[i];

			CHECK(r->iova == x->iova && r->last == x->last &&
			      r->kind == (enum iopgt_flush_kind)x->kind &&
			      r->iova >= before.iova && r->last <= before.last,
			      "sync flushed [0x%" PRIx64 ", 0x%" PRIx64 "] "
			      "kind %d for range %u", r->iova, r->last,
			      r->kind, i);
			if (r->kind > top)
				top = r->kind;
		}
		CHECK_EQ(top, before.kind, "the union's kind");
	} else {
		CHECK_EQ(F->tf.n, nflush, "flushes issued by sync of nothing");
	}
	if (!F->cfg.table_cache && !(F->cfg.options & IOPGT_OPT_NO_RECLAIM)) {
		struct iopgt_stats st = stats(F);

		CHECK_EQ(st.table_pages_live, tcount_tables(F->dom, NULL),
			 "tables live after sync without a table cache");
	}
}

/* No device writes here, so a run reported dirty must be one that reads
 * dirty with no device access: writable leaves, which a coalesce may have
 * made into a superpage that starts dirty (rm_may_start_dirty()). Mapped
 * read-only, or not mapped at all, is a failure. */
static int dirty_fn(void *arg, uint64_t iova, uint64_t size)
{
	struct fz *F = arg;
	uint64_t a = iova;

	F->dirty_calls++;
	while (a - iova < size) {
		const struct rm_range *r = rm_find(&F->w.m, a);

		if (!r || !rm_may_start_dirty(0, r->prot, F->w.gran)) {
			FAIL(F, "read_and_clear_dirty reported [0x%" PRIx64
			     ", +0x%" PRIx64 ") dirty, but no device ever "
			     "wrote, and 0x%" PRIx64 " is %s",
			     iova, size, a, r ? "read-only" : "not mapped");
			return 1;
		}
		a = rm_end(r);
	}
	return 0;
}

static void op_dirty(struct fz *F, unsigned opc)
{
	uint64_t iova, size = gen_range(F, &iova);
	unsigned k = in_u8(&F->in);
	unsigned flags = k & 0x80 ? k & 0x7f : k & IOPGT_DIRTY_NO_CLEAR;
	int (*fn)(void *, uint64_t, uint64_t) = dirty_fn;
	struct iopgt_domain *dom = F->dom;
	struct iopgt_gather *g = &F->g;
	size_t nflush = F->tf.n;
	int want = range_err(F, iova, size), ret;

	if (!want && (flags & ~(unsigned)IOPGT_DIRTY_NO_CLEAR))
		want = -EINVAL;
	if (!want && !F->dirty_ok)
		want = -EOPNOTSUPP;
	if (bad_args(opc)) {
		switch (in_u8(&F->in) % 4) {
		case 0:
			dom = NULL;
			break;
		case 1:
			g = NULL;
			break;
		case 2:
			g = foreign_gather(F);
			break;
		default:
			fn = NULL;
			break;
		}
		if (fn || !range_err(F, iova, size))
			want = -EINVAL;
	}
	rm_step(&F->log, F->op, "read_and_clear_dirty iova 0x%" PRIx64
		" size 0x%" PRIx64 " flags 0x%x%s%s%s (expect %d)", iova, size,
		flags, dom ? "" : " NULL dom", g ? "" : " NULL gather",
		fn ? "" : " NULL fn", want);
	dump_now(F);
	ret = iopgt_read_and_clear_dirty(dom, iova, size, flags, fn, F, g);
	CHECK_EQ(ret, want, "read_and_clear_dirty");
	CHECK_EQ(F->tf.n, nflush, "flushes issued by read_and_clear_dirty");
	if (ret < 0)
		check_unchanged(F, "read_and_clear_dirty", ret);
	else
		state_changed(F);
}

static void op_reclaim(struct fz *F, unsigned opc)
{
	struct iopgt_stats st;

	if (bad_args(opc)) {
		rm_step(&F->log, F->op, "reclaim NULL");
		CHECK_EQ(iopgt_reclaim(NULL), -EINVAL, "reclaim NULL");
		return;
	}
	rm_step(&F->log, F->op, "reclaim");
	CHECK_EQ(iopgt_reclaim(F->dom), 0, "reclaim");
	state_changed(F);
	st = stats(F);
	CHECK_EQ(st.table_pages_cached, 0, "cached tables after reclaim");
	CHECK_EQ(st.table_pages_waiting, 0, "waiting tables after reclaim");
	/* What is left: the tree and the tables the gather holds. */
	CHECK_EQ(st.table_pages_live,
		 tcount_tables(F->dom, NULL) + F->g.nr_tables,
		 "tables live after reclaim");
}

/* get_stats and domain_info into a structure of a given size: what lies
 * past it is not written. */
static void op_stats(struct fz *F, unsigned opc, bool info)
{
	unsigned char buf[sizeof(struct iopgt_stats) + 64];
	size_t full = info ? sizeof(struct iopgt_info)
			   : sizeof(struct iopgt_stats);
	size_t size = in_u8(&F->in) % 2 ? full : in_u8(&F->in) % (full + 1);
	int ret;

	_Static_assert(sizeof(struct iopgt_info) <= sizeof(struct iopgt_stats),
		       "buf holds either");
	if (bad_args(opc)) {
		rm_step(&F->log, F->op, "%s NULL", info ? "info" : "stats");
		ret = info ? iopgt_domain_info(F->dom, NULL, full)
			   : iopgt_get_stats(F->dom, NULL, full);
		CHECK_EQ(ret, -EINVAL, "NULL structure");
		ret = info ? iopgt_domain_info(NULL, (void *)buf, full)
			   : iopgt_get_stats(NULL, (void *)buf, full);
		CHECK_EQ(ret, -EINVAL, "NULL domain");
		return;
	}
	rm_step(&F->log, F->op, "%s, size %zu", info ? "info" : "stats", size);
	memset(buf, 0xa5, sizeof(buf));
	ret = info ? iopgt_domain_info(F->dom, (void *)buf, size)
		   : iopgt_get_stats(F->dom, (void *)buf, size);
	CHECK_EQ(ret, 0, info ? "domain_info" : "get_stats");
	for (size_t i = size; i < sizeof(buf); i++)
		CHECK(buf[i] == 0xa5, "byte %zu written past size %zu", i,
		      size);
	if (size == full && info)
		CHECK(!memcmp(buf, &F->info, full), "domain_info changed");
	else if (size == full)
		check_stats(F, (const struct iopgt_stats *)(void *)buf);
	else if (info)
		CHECK(!memcmp(buf, &F->info, size),
		      "domain_info of size %zu differs", size);
}

static void op_compare(struct fz *F)
{
	rm_step(&F->log, F->op, "compare the domain with the model");
	check_full(F);
}

/* Opcode bits 0-3 to a call; maps and unmaps most often. */
static enum op_kind op_kind(unsigned opc)
{
	static const enum op_kind kinds[16] = {
		OP_MAP, OP_MAP, OP_MAP, OP_MAP, OP_MAP,
		OP_UNMAP, OP_UNMAP, OP_UNMAP,
		OP_LOOKUP, OP_LOOKUP,
		OP_SYNC, OP_FLUSH_ALL, OP_DIRTY, OP_RECLAIM,
		OP_STATS, OP_INFO,
	};

	return kinds[opc & 15];
}

static void run_op(struct fz *F, unsigned opc)
{
	enum op_kind k = op_kind(opc);

	F->nops[k]++;
	switch (k) {
	case OP_MAP:
		op_map(F, opc);
		break;
	case OP_UNMAP:
		op_unmap(F, opc);
		break;
	case OP_LOOKUP:
		op_lookup(F, opc);
		break;
	case OP_SYNC:
	case OP_FLUSH_ALL:
		op_sync(F, opc, k == OP_FLUSH_ALL);
		break;
	case OP_DIRTY:
		op_dirty(F, opc);
		break;
	case OP_RECLAIM:
		op_reclaim(F, opc);
		break;
	case OP_STATS:
	case OP_INFO:
		/* Every other info is a full comparison instead. */
		if (k == OP_INFO && (opc & 0x20) && !bad_args(opc)) {
			F->nops[k]--;
			F->nops[OP_COMPARE]++;
			op_compare(F);
		} else {
			op_stats(F, opc, k == OP_INFO);
		}
		break;
	default:
		break;
	}
	if (opc & 0x80 && k != OP_SYNC && k != OP_FLUSH_ALL) {
		rm_step(&F->log, F->op, "sync after the call");
		op_sync(F, 0, false);
	}
	check_cheap(F);
}

/* ------------------------------------------------------------------------
 * Setup and teardown
 */

/* The leaf sizes configuration ci offers, from a domain created with all
 * of them. */
static uint64_t offered_sizes(size_t ci)
{
	struct iopgt_domain *dom;
	struct iopgt_config cfg;
	struct iopgt_info info;
	struct talloc ta;

	if (cfg_offered[ci])
		return cfg_offered[ci];
	talloc_init(&ta);
	tcfg_config(&tcfgs[ci], &cfg);
	cfg.leaf_sizes = 0;
	talloc_ops(&ta, &cfg.mem);
	CHECK_EQ(iopgt_domain_create(&cfg, &dom), 0, "create, all sizes");
	iopgt_domain_info(dom, &info, sizeof(info));
	iopgt_domain_destroy(dom);
	talloc_fini(&ta);
	cfg_offered[ci] = info.leaf_sizes;
	return info.leaf_sizes;
}

/* leaf_sizes from the input, and whether create must accept it. */
static uint64_t gen_leaf_sizes(size_t ci, unsigned b3, unsigned b4,
			       bool *valid)
{
	uint64_t off = offered_sizes(ci), want = 0, extra;
	unsigned i = 0;

	*valid = true;
	if (!b3)
		return 0;
	for (unsigned b = 0; b < 64; b++) {
		if (!(off & (UINT64_C(1) << b)))
			continue;
		if (i < 6 && (b3 & (1u << i)))
			want |= UINT64_C(1) << b;
		i++;
	}
	if (b3 & 0x80) {
		extra = UINT64_C(1) << (b4 % 64);
		want |= extra;
		if (!(off & extra))
			*valid = false;
	}
	/* Per level, its one-item size (an entry's size) and its spans
	 * (the sizes above it, up to the next level's): the smallest level's
	 * item, then every next level's up to the largest wanted, without a
	 * gap; a span only with its level's item. */
	if (want && *valid) {
		const unsigned g = tcfgs[ci].granule, bits = g - 3;
		bool gap = false;

		for (unsigned l = 0; g + bits * l < 64; l++) {
			uint64_t item = UINT64_C(1) << (g + bits * l);
			uint64_t level = (g + bits * (l + 1) < 64
						  ? (UINT64_C(1) << (g + bits * (l + 1)))
						  : 0) -
					 item;

			if (!(off & item))
				continue;
			if (!(want & item)) {
				gap = true;
				if (want & level)
					*valid = false;
			} else if (gap) {
				*valid = false;
			}
		}
		if (!(want & off & -off))
			*valid = false;
	}
	return want;
}

static void setup(struct fz *F)
{
	unsigned b[6];
	uint64_t fails;
	size_t ci;
	bool valid;
	int ret;

	for (int i = 0; i < 6; i++)
		b[i] = in_u8(&F->in);
	ci = cfg_pick[b[0] % n_cfg_pick];
	F->c = &tcfgs[ci];
	tcfg_config(F->c, &F->cfg);
	F->cfg.options = b[1] & 15;
	if ((b[1] & 0xc8) == 0xc8)
		F->cfg.options |= 1u << (4 + (b[1] >> 4 & 3));
	F->cfg.table_cache = b[2] < 128 ? b[2] % 4 : b[2] - 128;
	/* The policies that never flush before sync (map and unmap must
	 * not: check_answer). */
	F->cfg.gather_policy = b[5] >> 7 ? IOPGT_GATHER_UNION
					 : IOPGT_GATHER_MERGE;
	F->cfg.leaf_sizes = gen_leaf_sizes(ci, b[3], b[4], &valid);
	/* Options 0..3 always exist; FORCE_SNOOP where the format can;
	 * ONE_GATHER (this driver keeps one gather per domain, and syncs
	 * it); anything else is refused (COUNTS comes with NO_COUNTS here,
	 * which is refused too). */
	if (F->cfg.options &
	    ~(15u | (unsigned)IOPGT_OPT_ONE_GATHER |
	      (tformat(F->c->format)->flags & IOPGT_FORMAT_SNOOP
		       ? (unsigned)IOPGT_OPT_FORCE_SNOOP
		       : 0u)))
		valid = false;
	talloc_init(&F->ta);
	talloc_ops(&F->ta, &F->cfg.mem);
	tflush_init(&F->tf, NULL);
	tflush_ops(&F->tf, &F->cfg.flush);
	rm_step(&F->log, -1, "create %s options 0x%x table_cache %u "
		"gather policy %u "
		"leaf_sizes 0x%" PRIx64 " (%s), allocation %u failing",
		F->c->name, F->cfg.options, F->cfg.table_cache,
		F->cfg.gather_policy,
		F->cfg.leaf_sizes, valid ? "valid" : "invalid", b[4] & 3);

	F->ta.fail_after = b[4] & 3;
	F->dom = (struct iopgt_domain *)(uintptr_t)1;
	ret = iopgt_domain_create(&F->cfg, &F->dom);
	fails = F->ta.failures;
	F->ta.fail_after = 0;
	if (!valid) {
		CHECK_EQ(ret, -EINVAL, "create with an invalid configuration");
		CHECK_EQ(F->ta.table_allocs + F->ta.meta_allocs, 0,
			 "allocations by a create that failed its checks");
		/* Go on with what is valid. */
		F->cfg.options &= 7;
		F->cfg.leaf_sizes = 0;
	} else if (fails) {
		CHECK_EQ(ret, -ENOMEM, "create with an allocation refused");
	} else {
		CHECK_EQ(ret, 0, "create");
	}
	if (ret) {
		CHECK(F->dom == NULL, "create failed but set *out");
		CHECK(F->ta.table_allocs == F->ta.table_frees &&
		      F->ta.meta_allocs == F->ta.meta_frees &&
		      F->ta.live_bytes == 0, "a failed create leaked");
		rm_step(&F->log, -1, "create again, options 0x%x leaf_sizes "
			"0x%" PRIx64, F->cfg.options, F->cfg.leaf_sizes);
		CHECK_EQ(iopgt_domain_create(&F->cfg, &F->dom), 0, "create");
	}
	iopgt_gather_init(&F->g, sizeof(F->g));
	iopgt_domain_info(F->dom, &F->info, sizeof(F->info));

	/* The geometry, as the domain reports it. */
	F->w.rng = b[5];
	F->w.dom = F->dom;
	F->w.nsizes = tcfg_all_sizes(F->dom, F->w.sizes);
	CHECK(F->w.nsizes >= 1, "no leaf size");
	CHECK(!F->cfg.leaf_sizes || F->info.leaf_sizes == F->cfg.leaf_sizes,
	      "leaf sizes 0x%" PRIx64 " in use, 0x%" PRIx64 " asked for",
	      F->info.leaf_sizes, F->cfg.leaf_sizes);
	CHECK(F->info.ias == F->cfg.ias && F->info.oas == F->cfg.oas &&
	      F->info.options == F->cfg.options,
	      "domain_info does not give the configuration");
	F->w.gran = F->w.sizes[0];
	{
		uint64_t lv[8];

		F->w.s1 = tcfg_leaf_sizes(F->dom, lv) > 1 ? lv[1] : lv[0];
	}
	F->w.top = F->w.sizes[F->w.nsizes - 1];
	/* The input space: [0, lo_end), and the upper half from hi_base
	 * where the format sign-extends. */
	F->w.lo_end = F->info.iova_last + 1;
	F->w.hi_base = F->info.iova_upper;
	F->w.oas_end = UINT64_C(1) << F->info.oas;
	F->w.win_size = F->w.lo_end / 2;
	F->w.win_base[0] = 0;
	F->w.win_base[1] = F->w.lo_end / 2;
	F->w.nwin = 2;
	F->w.one_range = (F->cfg.options & IOPGT_OPT_NO_COALESCE) != 0;
	F->w.clean = true;
	/* Protections and dirty state are the format's, as the registry
	 * lists them (iopgt_format_info()): x86-64 has no write-only, ARM
	 * stage 2 no USER and no dirty state. */
	for (unsigned p = 0; p < 32; p++)
		if (tformat(F->info.format)->prots & (UINT32_C(1) << p))
			F->w.prots[F->w.nprots++] = p;
	F->dirty_ok = (tformat(F->info.format)->flags & IOPGT_FORMAT_DIRTY) != 0;
	for (int i = 0; i < 16; i++)
		F->hist[i] = F->w.sizes[i % F->w.nsizes] * (uint64_t)i;
	check_cheap(F);
}

static void teardown(struct fz *F)
{
	struct iopgt_stats st;
	unsigned tables, empty;
	int64_t ret;

	F->op = -1;
	rm_step(&F->log, -1, "final: sync, unmap everything, sync");
	CHECK_EQ(iopgt_sync(F->dom, &F->g), 0, "final sync");
	check_full(F);
	ret = iopgt_unmap(F->dom, 0, F->w.lo_end, &F->g);
	if (ret >= 0 && F->w.hi_base) {
		int64_t up = iopgt_unmap(F->dom, F->w.hi_base,
					 0 - F->w.hi_base, &F->g);
		ret = up < 0 ? up : ret + up;
	}
	CHECK_EQ(ret, F->w.m.bytes, "unmap of the whole input space");
	rm_remove(&F->w.m, 0, F->w.lo_end);
	if (F->w.hi_base) /* no model range reaches 2^64 (gen_range) */
		rm_remove(&F->w.m, F->w.hi_base,
			  0 - F->w.hi_base - F->w.gran);
	CHECK_EQ(iopgt_sync(F->dom, &F->g), 0, "final sync");
	check_full(F);
	tables = tcount_tables(F->dom, &empty);
	/* Left: the root, and empty tables kept for reuse (an unmap whose
	 * range covered a table's whole span, such as a half of the input
	 * space that is one root entry, keeps it). */
	if (!(F->cfg.options & IOPGT_OPT_NO_RECLAIM))
		CHECK(tables == 1 || (tables - 1 == empty &&
				      tables - 1 <= F->cfg.table_cache),
		      "tables left in the tree: %u, %u of them empty",
		      tables, empty);
	st = stats(F);
	if (!F->cfg.table_cache && !(F->cfg.options & IOPGT_OPT_NO_RECLAIM))
		CHECK_EQ(st.table_pages_live, 1,
			 "tables live with no table cache");
	CHECK_EQ(iopgt_reclaim(F->dom), 0, "final reclaim");
	st = stats(F);
	/* reclaim unlinks the tables kept for reuse; under NO_RECLAIM the
	 * emptied tables stay. */
	CHECK_EQ(st.table_pages_live,
		 F->cfg.options & IOPGT_OPT_NO_RECLAIM ? tables : 1,
		 "tables live after reclaim");
	CHECK_EQ(st.table_pages_cached + st.table_pages_waiting, 0,
		 "tables cached or waiting after reclaim");

	rm_destroy_checked(&F->dom, &F->ta);
	tflush_fini(&F->tf);
	if (F->dom2) {
		CHECK_EQ(iopgt_sync(F->dom2, &F->g2), 0, "sync, second domain");
		iopgt_domain_destroy(F->dom2);
		CHECK_EQ(F->ta2.live_bytes, 0, "second domain leaked");
		talloc_fini(&F->ta2);
	}
	rm_free(&F->w.m);
	free(F->dump);
	F->dump = NULL;
}

static void report(const struct fz *F)
{
	fprintf(stderr, "%-17s opt 0x%x cache %2u sizes 0x%09" PRIx64 ":",
		F->c->name, F->cfg.options, F->cfg.table_cache,
		F->info.leaf_sizes);
	for (unsigned k = 0; k < OP_KINDS; k++)
		if (F->nops[k])
			fprintf(stderr, " %s %lu", op_names[k], F->nops[k]);
	fprintf(stderr, "; -ENOMEM %lu, skipped %lu\n", F->enomem,
		F->skipped);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *only = getenv("IOPGT_FUZZ_CONFIG");
	const char *part = getenv("IOPGT_FUZZ_PART");
	unsigned pk = 0, pn = 1;

	(void)argc;
	(void)argv;
	/* A failed cmocka check (in the shared test code) aborts too. */
	setenv("CMOCKA_TEST_ABORT", "1", 1);
	verbose = getenv("IOPGT_FUZZ_VERBOSE") != NULL;
	if (part && *part &&
	    (sscanf(part, "%u/%u", &pk, &pn) != 2 || !pn || pk >= pn)) {
		fprintf(stderr, "IOPGT_FUZZ_PART=%s: want K/N, K < N\n", part);
		exit(1);
	}
	for (size_t i = 0; i < n_tcfgs && i < 64; i++)
		if ((!only || !*only || strstr(tcfgs[i].name, only)) &&
		    i % pn == pk)
			cfg_pick[n_cfg_pick++] = i;
	if (!n_cfg_pick) {
		fprintf(stderr, "IOPGT_FUZZ_CONFIG=%s matches no configuration\n",
			only);
		exit(1);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz *F = calloc(1, sizeof(*F));

	if (!F)
		abort();
	F->in.p = data;
	F->in.n = size;
	rm_set_context(print_context, F);
	F->op = -1;
	setup(F);
	for (F->op = 0; F->in.n && F->op < MAX_OPS; F->op++)
		run_op(F, in_u8(&F->in));
	if (verbose)
		report(F);
	teardown(F);
	rm_set_context(NULL, NULL);
	free(F);
	return 0;
}
