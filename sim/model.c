/* SPDX-License-Identifier: MIT */
/*
 * The reference model and the violation records.
 *
 * The model is a sorted array of disjoint segments [iova, last]. IOVAs in
 * no segment are unmapped and have been for ever. A segment is stable
 * (mapped to pa with prot, or unmapped) or in transition: then `acc` lists
 * every state a translation may legitimately see (the state before the
 * first begin and the one announced by each begin since), and `cur` is the
 * state the range takes at the end. A segment's output address is that of
 * its first byte; splitting a segment shifts it.
 *
 * The sequence number `seq` advances at every begin, end and cancel. A
 * translation reads it when it starts; a segment records in `since` the
 * sequence at which it became stable. A fault is held against the model
 * only if the segment was stably mapped before the translation began
 * (since <= v0): a map completed while a walk was on its way may have been
 * missed by that walk. A success is checked against the model as it is
 * when the translation ends, under the invalidation lock: an unmap is
 * completed (end) only after its flush, which waited for every
 * translation that started before it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "sim_int.h"

int sim_model_init(struct iopgt_sim *sim)
{
	pthread_rwlockattr_t a;

	pthread_rwlockattr_init(&a);
	pthread_rwlockattr_setkind_np(
		&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&sim->model.lock, &a);
	pthread_rwlockattr_destroy(&a);
	pthread_mutex_init(&sim->rep_mu, NULL);
	sim->reps = calloc(sim->cfg.max_reports ? sim->cfg.max_reports : 1,
			   sizeof(*sim->reps));
	return sim->reps ? 0 : -ENOMEM;
}

void sim_model_fini(struct iopgt_sim *sim)
{
	free(sim->model.segs);
	free(sim->reps);
	pthread_rwlock_destroy(&sim->model.lock);
	pthread_mutex_destroy(&sim->rep_mu);
}

/* Index of the first segment with last >= iova (n if none). */
static size_t seg_find(const struct sim_model *m, uint64_t iova)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->segs[mid].last < iova)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int seg_insert(struct sim_model *m, size_t i, const struct sim_seg *s)
{
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 64;
		struct sim_seg *n = realloc(m->segs, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		m->segs = n;
		m->cap = cap;
	}
	memmove(&m->segs[i + 1], &m->segs[i], (m->n - i) * sizeof(*m->segs));
	m->segs[i] = *s;
	m->n++;
	return 0;
}

static void st_shift(struct sim_st *s, uint64_t off)
{
	if (s->mapped)
		s->pa += off;
}

/* Split segment i so that a new one starts at `at` (inside it). */
static int seg_split(struct sim_model *m, size_t i, uint64_t at)
{
	struct sim_seg r = m->segs[i];
	uint64_t off = at - r.iova;

	r.iova = at;
	st_shift(&r.cur, off);
	st_shift(&r.prev, off);
	for (unsigned k = 0; k < r.nacc; k++)
		st_shift(&r.acc[k], off);
	if (seg_insert(m, i + 1, &r))
		return -ENOMEM;
	m->segs[i].last = at - 1;
	return 0;
}

/* Make [iova, last] exactly the segments [*first, *end), filling holes
 * with stable unmapped segments. On -ENOMEM the model means what it meant
 * before (splits do not change meaning). */
static int carve(struct sim_model *m, uint64_t iova, uint64_t last,
		 size_t *first, size_t *end)
{
	size_t i = seg_find(m, iova);
	uint64_t cur = iova;

	if (i < m->n && m->segs[i].iova < iova) {
		if (seg_split(m, i, iova))
			return -ENOMEM;
		i++;
	}
	*first = i;
	for (;;) {
		if (i < m->n && m->segs[i].iova == cur) {
			if (m->segs[i].last > last && seg_split(m, i, last + 1))
				return -ENOMEM;
		} else {
			struct sim_seg hole;

			memset(&hole, 0, sizeof(hole));
			hole.iova = cur;
			hole.last = i < m->n && m->segs[i].iova <= last
					    ? m->segs[i].iova - 1
					    : last;
			if (seg_insert(m, i, &hole))
				return -ENOMEM;
		}
		cur = m->segs[i].last + 1;
		i++;
		if (m->segs[i - 1].last == last)
			break;
	}
	*end = i;
	return 0;
}

/* Drop stable unmapped segments: the default needs no record. */
static void compact(struct sim_model *m)
{
	size_t j = 0;

	for (size_t i = 0; i < m->n; i++)
		if (m->segs[i].trans || m->segs[i].cur.mapped)
			m->segs[j++] = m->segs[i];
	m->n = j;
}

static bool st_equal(const struct sim_st *a, const struct sim_st *b)
{
	return a->mapped == b->mapped &&
	       (!a->mapped || (a->pa == b->pa && a->prot == b->prot));
}

static int range_ok(uint64_t iova, uint64_t size)
{
	return size && iova + (size - 1) >= iova ? 0 : -EINVAL;
}

static int begin(struct iopgt_sim *sim, uint64_t iova, uint64_t size,
		 const struct sim_st *st)
{
	struct sim_model *m = &sim->model;
	size_t first, end;
	int rc = range_ok(iova, size);

	if (rc)
		return rc;
	pthread_rwlock_wrlock(&m->lock);
	rc = carve(m, iova, iova + (size - 1), &first, &end);
	for (size_t i = first; !rc && i < end; i++) {
		struct sim_seg *s = &m->segs[i];
		struct sim_st n = *st;
		bool known = false;

		st_shift(&n, s->iova - iova);
		if (!s->trans) {
			s->prev = s->cur;
			s->acc[0] = s->cur;
			s->nacc = 1;
			s->any = 0;
			s->trans = 1;
		}
		for (unsigned k = 0; k < s->nacc; k++)
			known |= st_equal(&s->acc[k], &n);
		if (!known) {
			if (s->nacc < SIM_ACC)
				s->acc[s->nacc++] = n;
			else
				s->any = 1;
		}
		s->cur = n;
	}
	atomic_fetch_add_explicit(&m->seq, 1, memory_order_release);
	pthread_rwlock_unlock(&m->lock);
	return rc;
}

static int finish(struct iopgt_sim *sim, uint64_t iova, uint64_t size,
		  bool cancel)
{
	struct sim_model *m = &sim->model;
	size_t first, end;
	uint64_t seq;
	int rc = range_ok(iova, size);

	if (rc)
		return rc;
	pthread_rwlock_wrlock(&m->lock);
	rc = carve(m, iova, iova + (size - 1), &first, &end);
	seq = atomic_fetch_add_explicit(&m->seq, 1, memory_order_release) + 1;
	for (size_t i = first; !rc && i < end; i++) {
		struct sim_seg *s = &m->segs[i];

		if (cancel && s->trans)
			s->cur = s->prev;
		s->trans = 0;
		s->nacc = 0;
		s->any = 0;
		s->since = seq;
	}
	compact(m);
	pthread_rwlock_unlock(&m->lock);
	return rc;
}

int iopgt_sim_model_begin_map(struct iopgt_sim *sim, uint64_t iova,
			      uint64_t size, uint64_t pa, unsigned prot)
{
	struct sim_st st = { .mapped = 1, .prot = prot, .pa = pa };

	return begin(sim, iova, size, &st);
}

int iopgt_sim_model_begin_unmap(struct iopgt_sim *sim, uint64_t iova,
				uint64_t size)
{
	struct sim_st st = { .mapped = 0 };

	return begin(sim, iova, size, &st);
}

int iopgt_sim_model_end(struct iopgt_sim *sim, uint64_t iova, uint64_t size)
{
	return finish(sim, iova, size, false);
}

int iopgt_sim_model_cancel(struct iopgt_sim *sim, uint64_t iova,
			   uint64_t size)
{
	return finish(sim, iova, size, true);
}

int iopgt_sim_model_mapped(struct iopgt_sim *sim, uint64_t iova,
			   uint64_t size, uint64_t pa, unsigned prot)
{
	int rc = iopgt_sim_model_begin_map(sim, iova, size, pa, prot);

	return rc ? rc : iopgt_sim_model_end(sim, iova, size);
}

int iopgt_sim_model_unmapped(struct iopgt_sim *sim, uint64_t iova,
			     uint64_t size)
{
	int rc = iopgt_sim_model_begin_unmap(sim, iova, size);

	return rc ? rc : iopgt_sim_model_end(sim, iova, size);
}

/* ------------------------------------------------------------------------
 * The check of each translation
 */

static bool st_translates(const struct sim_st *st, uint64_t seg_iova,
			  uint64_t iova, const struct iopgt_sim_result *res)
{
	return st->mapped && st->pa + (iova - seg_iova) == res->pa &&
	       st->prot == res->prot;
}

static bool prot_allows(unsigned prot, unsigned access)
{
	return !((access & IOPGT_SIM_READ) && !(prot & IOPGT_PROT_READ)) &&
	       !((access & IOPGT_SIM_WRITE) && !(prot & IOPGT_PROT_WRITE));
}

static const char *acc_name(unsigned access)
{
	return access & IOPGT_SIM_WRITE ? "write" : "read";
}

void sim_model_check(struct iopgt_sim *sim, uint64_t iova, unsigned access,
		     int rc, const struct iopgt_sim_result *res, uint64_t v0)
{
	struct sim_model *m = &sim->model;
	const struct sim_seg *s = NULL;
	const char *via = res->iotlb_hit ? "the IOTLB" : "a walk";
	size_t i;

	/* A violation was reported already. A range fault reaches here only
	 * from a walk (iopgt_sim_translate refuses the IOVAs beyond the
	 * domain before): the root the device was given has too few levels
	 * for an IOVA the domain may map, which is a lost mapping if the
	 * model says mapped. */
	if (rc && res->fault == IOPGT_SIM_FAULT_VIOLATION)
		return;
	pthread_rwlock_rdlock(&m->lock);
	i = seg_find(m, iova);
	if (i < m->n && m->segs[i].iova <= iova)
		s = &m->segs[i];
	if (!rc) {
		if (!s || (!s->trans && !s->cur.mapped)) {
			sim_violation(sim, IOPGT_SIM_V_STALE_TRANSLATION, iova,
				      0, access,
				      "%s translated to 0x%" PRIx64
				      " (leaf 0x%" PRIx64 ", prot 0x%x) by %s, "
				      "but the unmap and its sync completed",
				      acc_name(access), res->pa, res->leaf_size,
				      res->prot, via);
		} else if (s->trans) {
			bool ok = s->any;

			for (unsigned k = 0; !ok && k < s->nacc; k++)
				ok = st_translates(&s->acc[k], s->iova, iova,
						   res);
			if (!ok)
				sim_violation(
					sim, IOPGT_SIM_V_WRONG_TRANSLATION,
					iova, 0, access,
					"%s translated to 0x%" PRIx64
					" prot 0x%x by %s during a map/unmap, "
					"matching neither the old nor the new "
					"state",
					acc_name(access), res->pa, res->prot,
					via);
		} else if (!st_translates(&s->cur, s->iova, iova, res)) {
			sim_violation(sim, IOPGT_SIM_V_WRONG_TRANSLATION, iova,
				      0, access,
				      "%s translated to 0x%" PRIx64
				      " prot 0x%x by %s; the model says 0x%" PRIx64
				      " prot 0x%x",
				      acc_name(access), res->pa, res->prot, via,
				      s->cur.pa + (iova - s->iova),
				      s->cur.prot);
		}
	} else if (s && !s->trans && s->cur.mapped && s->since <= v0 &&
		   !(res->fault == IOPGT_SIM_FAULT_PERMISSION &&
		     !prot_allows(s->cur.prot, access))) {
		sim_violation(sim, IOPGT_SIM_V_LOST_MAPPING, iova, 0, access,
			      "%s faulted (%s, level %u, by %s) but the model "
			      "says mapped to 0x%" PRIx64 " prot 0x%x since "
			      "before the translation began",
			      acc_name(access), iopgt_sim_fault_name(res->fault),
			      res->level,
			      res->iotlb_hit ? "a cached non-present result"
					     : "a walk",
			      s->cur.pa + (iova - s->iova), s->cur.prot);
	}
	pthread_rwlock_unlock(&m->lock);
}

uint64_t sim_model_sample(struct iopgt_sim *sim, uint64_t *rng,
			  unsigned unmapped_pct)
{
	struct sim_model *m = &sim->model;
	uint64_t r = sim_rand(rng), r2 = sim_rand(rng), iova;
	/* Into the input space: below 2^ias, or, where the format
	 * sign-extends, into a half of it (biased, masked, unbiased). */
	uint64_t space_mask = ~sim->ias_mask;

	pthread_rwlock_rdlock(&m->lock);
	if (!m->n) {
		iova = r2;
	} else {
		const struct sim_seg *s = &m->segs[r % m->n];
		uint64_t len = s->last - s->iova + 1; /* 0: all of 2^64 */

		if (r2 % 100 < unmapped_pct) {
			/* Just past the segment: often unmapped. */
			uint64_t near = (r2 >> 8) %
					(UINT64_C(16) << sim->geo.granule);
			iova = r2 & 128 ? s->last + 1 + near : s->iova - 1 - near;
		} else {
			iova = s->iova + (len ? (r2 >> 8) % len : r2 >> 8);
		}
	}
	pthread_rwlock_unlock(&m->lock);
	return ((iova + sim->in_bias) & space_mask) - sim->in_bias;
}

/* ------------------------------------------------------------------------
 * Violations
 */

static const unsigned rule_of[IOPGT_SIM_V_KINDS] = {
	[IOPGT_SIM_V_STALE_TRANSLATION] = 1,
	[IOPGT_SIM_V_WRONG_TRANSLATION] = 0,
	[IOPGT_SIM_V_LOST_MAPPING] = 0,
	[IOPGT_SIM_V_USE_AFTER_FREE] = 2,
	[IOPGT_SIM_V_STALE_WALK_CACHE] = 2,
	[IOPGT_SIM_V_BAD_FREE] = 0,
	[IOPGT_SIM_V_BAD_COMMAND] = 0,
};

static void print_one(FILE *out, const struct iopgt_sim_violation *v)
{
	fprintf(out, "iopgt_sim: %s (rule %u): iova 0x%" PRIx64, 
		iopgt_sim_violation_name(v->kind), v->rule, v->iova);
	if (v->page_pa)
		fprintf(out, " page 0x%" PRIx64, v->page_pa);
	fprintf(out, ": %s\n", v->what);
}

void sim_violation(struct iopgt_sim *sim, enum iopgt_sim_violation_kind kind,
		   uint64_t iova, uint64_t page_pa, unsigned access,
		   const char *fmt, ...)
{
	struct iopgt_sim_violation *v;
	va_list ap;

	sim_count(&sim->st.viol[kind]);
	pthread_mutex_lock(&sim->rep_mu);
	if (sim->nreps < sim->cfg.max_reports) {
		v = &sim->reps[sim->nreps++];
		v->kind = kind;
		v->rule = rule_of[kind];
		v->iova = iova;
		v->page_pa = page_pa;
		v->access = access;
		va_start(ap, fmt);
		vsnprintf(v->what, sizeof(v->what), fmt, ap);
		va_end(ap);
		if (sim->cfg.report)
			print_one(sim->cfg.report, v);
	}
	pthread_mutex_unlock(&sim->rep_mu);
}

uint64_t iopgt_sim_violations(const struct iopgt_sim *sim)
{
	uint64_t n = 0;

	for (unsigned k = 0; k < IOPGT_SIM_V_KINDS; k++)
		n += atomic_load_explicit(&sim->st.viol[k],
					  memory_order_relaxed);
	return n;
}

int iopgt_sim_violation_get(struct iopgt_sim *sim, unsigned idx,
			    struct iopgt_sim_violation *v)
{
	int rc = -ENOENT;

	pthread_mutex_lock(&sim->rep_mu);
	if (idx < sim->nreps) {
		*v = sim->reps[idx];
		rc = 0;
	}
	pthread_mutex_unlock(&sim->rep_mu);
	return rc;
}

void iopgt_sim_print_violations(struct iopgt_sim *sim, FILE *out)
{
	fprintf(out, "iopgt_sim: %" PRIu64 " violations\n",
		iopgt_sim_violations(sim));
	for (unsigned k = 0; k < IOPGT_SIM_V_KINDS; k++) {
		uint64_t n = atomic_load_explicit(&sim->st.viol[k],
						  memory_order_relaxed);
		if (n)
			fprintf(out, "  %-22s %" PRIu64 "\n",
				iopgt_sim_violation_name(k), n);
	}
	pthread_mutex_lock(&sim->rep_mu);
	for (unsigned i = 0; i < sim->nreps; i++)
		print_one(out, &sim->reps[i]);
	pthread_mutex_unlock(&sim->rep_mu);
}

const char *iopgt_sim_violation_name(enum iopgt_sim_violation_kind kind)
{
	static const char *const names[IOPGT_SIM_V_KINDS] = {
		[IOPGT_SIM_V_STALE_TRANSLATION] = "stale translation",
		[IOPGT_SIM_V_WRONG_TRANSLATION] = "wrong translation",
		[IOPGT_SIM_V_LOST_MAPPING] = "lost mapping",
		[IOPGT_SIM_V_USE_AFTER_FREE] = "use after free",
		[IOPGT_SIM_V_STALE_WALK_CACHE] = "stale walk cache",
		[IOPGT_SIM_V_BAD_FREE] = "bad free",
		[IOPGT_SIM_V_BAD_COMMAND] = "bad command",
	};
	return (unsigned)kind < IOPGT_SIM_V_KINDS ? names[kind] : "?";
}

const char *iopgt_sim_fault_name(enum iopgt_sim_fault fault)
{
	static const char *const names[IOPGT_SIM_FAULTS] = {
		[IOPGT_SIM_FAULT_NONE] = "none",
		[IOPGT_SIM_FAULT_NOT_PRESENT] = "not present",
		[IOPGT_SIM_FAULT_PERMISSION] = "permission",
		[IOPGT_SIM_FAULT_RESERVED] = "reserved",
		[IOPGT_SIM_FAULT_RANGE] = "range",
		[IOPGT_SIM_FAULT_VIOLATION] = "violation",
		[IOPGT_SIM_FAULT_ACCESS_FLAG] = "access flag",
	};
	return (unsigned)fault < IOPGT_SIM_FAULTS ? names[fault] : "?";
}
