/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE /* open_memstream, memmem */
#include <inttypes.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "pt.h" /* the state words, for tcheck_counts */
#include "refmodel.h"

/* ---- format configurations, from the library's format registry ----
 *
 * For each format iopgt_format_info() lists and each granule it offers:
 *   1. ias_max, then, going down through the multiples of 4, the first ias
 *      at which the domain walks fewer levels than every one chosen so
 *      far: every level count the format and granule support, each at
 *      its largest (multiple of 4) ias;
 *   2. ias_min, if not chosen yet and its input space takes fewer root
 *      entries than every configuration chosen so far (a root of a few
 *      entries, or, where the format sign-extends, a few at each end).
 * oas is the format's default. Names (IOPGT_TEST_CFG, stress_concurrent's
 * --configs): the format, then "/<granule>" ("/16k") if the format offers
 * several granules, then "/ias<N>"; a format with one granule names the
 * configurations of step 1 by their levels instead ("/<L>lvl"). Today:
 * x86_64/5lvl, x86_64/4lvl, x86_64/ias40, arm_s2/4k/ias48,
 * arm_s2/4k/ias40, arm_s2/4k/ias32, arm_s2/16k/ias48, arm_s2/16k/ias40,
 * arm_s2/16k/ias32, arm_s2/64k/ias48, arm_s2/64k/ias44, arm_s2/64k/ias32.
 */

#define TCFG_MAX 64

static struct tcfg tcfg_list[TCFG_MAX];
static char tcfg_names[TCFG_MAX][48];
static size_t tcfg_n;
static pthread_once_t tcfg_once = PTHREAD_ONCE_INIT;

/* Levels, and root entries the input space takes (2^ias over one root
 * entry's span), of a domain of this configuration; 0 levels if the
 * library refuses it. */
static unsigned tcfg_probe(enum iopgt_format format, unsigned granule,
			   unsigned ias, unsigned oas, unsigned *root_entries)
{
	struct iopgt_config cfg;
	struct iopgt_domain *dom;
	struct iopgt_info info;

	iopgt_config_init(&cfg, sizeof(cfg), format);
	cfg.granule = granule;
	cfg.ias = ias;
	cfg.oas = oas;
	cfg.segment_size = UINT64_C(2) << granule;
	if (iopgt_domain_create(&cfg, &dom))
		return 0;
	iopgt_domain_info(dom, &info, sizeof(info));
	*root_entries = 1u << (info.ias - info.granule -
			       (info.granule - 3) * (info.levels - 1));
	iopgt_domain_destroy(dom);
	return info.levels;
}

static void tcfg_add(const struct iopgt_format_info *fi, unsigned granule,
		     unsigned ias, unsigned levels)
{
	struct tcfg *c = &tcfg_list[tcfg_n];
	char *name = tcfg_names[tcfg_n];
	int n;

	assert_true(tcfg_n < TCFG_MAX);
	n = snprintf(name, sizeof(tcfg_names[0]), "%s", fi->name);
	if (__builtin_popcountll(fi->granules) > 1)
		n += snprintf(name + n, sizeof(tcfg_names[0]) - (size_t)n,
			      "/%uk", (1u << granule) >> 10);
	if (levels)
		snprintf(name + n, sizeof(tcfg_names[0]) - (size_t)n,
			 "/%ulvl", levels);
	else
		snprintf(name + n, sizeof(tcfg_names[0]) - (size_t)n,
			 "/ias%u", ias);
	c->name = name;
	c->format = fi->format;
	c->ias = ias;
	c->oas = fi->oas_default;
	c->granule = granule;
	tcfg_n++;
}

static void tcfg_build(void)
{
	struct iopgt_format_info fi;

	for (unsigned i = 0; !iopgt_format_info(i, &fi, sizeof(fi)); i++) {
		bool one = __builtin_popcountll(fi.granules) == 1;

		for (unsigned g = 0; g < 64; g++) {
			unsigned last = 0, min_root = UINT_MAX, r = 0, l;
			bool have_min = false;

			if (!(fi.granules & (UINT64_C(1) << g)))
				continue;
			for (unsigned ias = fi.ias_max; ias >= fi.ias_min;
			     ias--) {
				if (ias != fi.ias_max && ias % 4)
					continue;
				l = tcfg_probe(fi.format, g, ias,
					       fi.oas_default, &r);
				if (!l || (last && l >= last))
					continue;
				last = l;
				if (r < min_root)
					min_root = r;
				have_min |= ias == fi.ias_min;
				tcfg_add(&fi, g, ias, one ? l : 0);
			}
			/* The smallest ias, if it walks fewer levels than
			 * any multiple of 4 (named by its levels, as those
			 * are) or has the smallest root. */
			if (!have_min &&
			    (l = tcfg_probe(fi.format, g, fi.ias_min,
					    fi.oas_default, &r)) &&
			    (l < last || r < min_root))
				tcfg_add(&fi, g, fi.ias_min,
					 one && l < last ? l : 0);
		}
	}
}

/* Root tables of a configuration's domain (0 if refused). */
static unsigned tcfg_root_tables(const struct tcfg *c)
{
	struct iopgt_config cfg;
	struct iopgt_domain *dom;
	struct iopgt_info info;

	tcfg_config(c, &cfg);
	if (iopgt_domain_create(&cfg, &dom))
		return 0;
	iopgt_domain_info(dom, &info, sizeof(info));
	iopgt_domain_destroy(dom);
	return info.root_tables;
}

static char tcfg_rep[TCFG_MAX * 48];
static pthread_once_t tcfg_rep_once = PTHREAD_ONCE_INIT;

static void tcfg_rep_build(void)
{
	struct iopgt_format_info fi;
	size_t at = 0;

	for (unsigned i = 0; !iopgt_format_info(i, &fi, sizeof(fi)); i++) {
		for (unsigned g = 0; g < 64; g++) {
			const struct tcfg *best = NULL;
			unsigned most = 0;

			if (!(fi.granules & (UINT64_C(1) << g)))
				continue;
			for (size_t k = 0; k < n_tcfgs; k++) {
				const struct tcfg *c = &tcfgs[k];
				unsigned rt;

				if (c->format != fi.format || c->granule != g)
					continue;
				if (g == fi.granule_default) {
					if (c->ias == fi.ias_default)
						best = c;
					continue;
				}
				rt = tcfg_root_tables(c);
				if (!best || rt > most) {
					best = c;
					most = rt;
				}
			}
			if (best)
				at += (size_t)snprintf(tcfg_rep + at,
						       sizeof(tcfg_rep) - at,
						       "%s%s", at ? "," : "",
						       best->name);
		}
	}
}

const char *tcfg_representative(void)
{
	pthread_once(&tcfg_rep_once, tcfg_rep_build);
	return tcfg_rep;
}

/* Whether name is one of list's comma-separated items, or contains one
 * (each item a substring). */
static bool tcfg_in_list(const char *name, const char *list)
{
	while (*list) {
		const char *end = strchr(list, ',');
		size_t n = end ? (size_t)(end - list) : strlen(list);
		char item[64];

		if (n && n < sizeof(item)) {
			memcpy(item, list, n);
			item[n] = 0;
			if (!strcmp(item, "representative")
				    ? tcfg_in_list(name, tcfg_representative())
				    : strstr(name, item) != NULL)
				return true;
		}
		if (!end)
			break;
		list = end + 1;
	}
	return false;
}

bool tcfg_wanted(const struct tcfg *c)
{
	const char *only = getenv("IOPGT_TEST_CFG");

	return !only || !*only || tcfg_in_list(c->name, only);
}

const struct iopgt_format_info *tformat(enum iopgt_format format)
{
	static struct iopgt_format_info fi[TCFG_MAX];
	static unsigned n;
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	const struct iopgt_format_info *r = NULL;

	pthread_mutex_lock(&mu);
	if (!n)
		while (n < TCFG_MAX && !iopgt_format_info(n, &fi[n],
							   sizeof(fi[n])))
			n++;
	for (unsigned i = 0; i < n; i++)
		if (fi[i].format == format)
			r = &fi[i];
	pthread_mutex_unlock(&mu);
	assert_non_null(r);
	return r;
}

const struct tcfg *tcfg_table(void)
{
	pthread_once(&tcfg_once, tcfg_build);
	return tcfg_list;
}

size_t tcfg_count(void)
{
	pthread_once(&tcfg_once, tcfg_build);
	return tcfg_n;
}

int tgrow_none(void *arg, const struct iopgt_hw_config *hw)
{
	(void)arg;
	(void)hw;
	return 0;
}

bool tcfg_grows(const struct tcfg *c)
{
	const struct iopgt_format_info *f = tformat(c->format);
	struct iopgt_config cfg;
	struct iopgt_domain *dom;

	if (!(f->flags & IOPGT_FORMAT_GROWS) || c->ias >= f->ias_max)
		return false;
	tcfg_config(c, &cfg);
	cfg.ias_max = f->ias_max;
	cfg.grow = tgrow_none;
	if (iopgt_domain_create(&cfg, &dom))
		return false; /* an ias that does not fill its levels */
	iopgt_domain_destroy(dom);
	return true;
}

bool tcfg_grows_first(size_t i)
{
	if (!tcfg_grows(&tcfgs[i]))
		return false;
	for (size_t j = 0; j < i; j++)
		if (tcfgs[j].format == tcfgs[i].format && tcfg_grows(&tcfgs[j]))
			return false;
	return true;
}

uint64_t theld_bytes(struct iopgt_domain *dom)
{
	struct iopgt_info info;
	struct iopgt_stats st;

	iopgt_domain_info(dom, &info, sizeof(info));
	iopgt_get_stats(dom, &st, sizeof(st));
	/* A growing domain's roots are pages of its segments. */
	return (info.ias_max ? 0 : (uint64_t)info.root_tables << info.granule) +
	       st.segment_bytes_live;
}

uint64_t tcfg_item_sizes(const struct tcfg *c)
{
	struct iopgt_config cfg;
	struct iopgt_domain *dom;
	struct iopgt_info info;
	uint64_t sizes = 0;

	iopgt_config_init(&cfg, sizeof(cfg), c->format);
	cfg.ias = c->ias;
	cfg.oas = c->oas;
	cfg.granule = c->granule;
	if (iopgt_domain_create(&cfg, &dom))
		return 0;
	iopgt_domain_info(dom, &info, sizeof(info));
	for (unsigned l = 0; l < info.levels; l++) {
		unsigned b = info.granule + (info.granule - 3) * l;

		if (b < 64 && (info.leaf_sizes & (UINT64_C(1) << b)))
			sizes |= UINT64_C(1) << b;
	}
	iopgt_domain_destroy(dom);
	return sizes;
}

void tcfg_config(const struct tcfg *c, struct iopgt_config *cfg)
{
	iopgt_config_init(cfg, sizeof(*cfg), c->format);
	cfg->ias = c->ias;
	cfg->oas = c->oas;
	cfg->granule = c->granule;
	/* One-item leaves only: the tests that expect given leaves derive
	 * them from the levels. Those of every size (leaf spans included)
	 * set leaf_sizes to 0 (TSIZES_ALL for topen). */
	cfg->leaf_sizes = tcfg_item_sizes(c);
	/* One table page a segment: the recording allocators then see every
	 * table page come and go (tests of larger segments set their own). */
	cfg->segment_size = UINT64_C(2) << c->granule;
}

unsigned tcfg_leaf_sizes(struct iopgt_domain *dom, uint64_t sizes[8])
{
	struct iopgt_info info;
	unsigned n = 0;

	iopgt_domain_info(dom, &info, sizeof(info));
	for (unsigned l = 0; l < info.levels && n < 8; l++) {
		unsigned b = info.granule + (info.granule - 3) * l;

		if (b < 64 && (info.leaf_sizes & (UINT64_C(1) << b)))
			sizes[n++] = UINT64_C(1) << b;
	}
	return n;
}

unsigned tcfg_all_sizes(struct iopgt_domain *dom,
			uint64_t sizes[TCFG_MAX_SIZES])
{
	struct iopgt_info info;
	unsigned n = 0;

	iopgt_domain_info(dom, &info, sizeof(info));
	for (unsigned b = 0; b < 64; b++)
		if (info.leaf_sizes & (UINT64_C(1) << b))
			sizes[n++] = UINT64_C(1) << b;
	return n;
}

/* ---- allocator ---- */

struct tpage {
	struct tpage *next;
	void *va;
	uint64_t pa;
	size_t size;
	int freed;
};

void talloc_init(struct talloc *ta)
{
	memset(ta, 0, sizeof(*ta));
}

void talloc_fini(struct talloc *ta)
{
	struct tpage *p = ta->pages;

	while (p) {
		struct tpage *next = p->next;
		free(p->va);
		free(p);
		p = next;
	}
	ta->pages = NULL;
}

static int should_fail(struct talloc *ta)
{
	if (ta->fail_after > 0 && --ta->fail_after == 0) {
		ta->failures++;
		return 1;
	}
	return 0;
}

static uint64_t tick(struct talloc *ta)
{
	return ta->clock ? ++*ta->clock : ++ta->seq;
}

void tpoison_freed(void *va, size_t size)
{
	uint64_t *w = va;

	for (size_t i = 0; i < size / sizeof(*w); i++)
		w[i] = TPOISON_FREED;
}

static void *t_table_alloc(void *arg, size_t size, uint64_t *pa)
{
	struct talloc *ta = arg;
	struct tpage *p;

	if (should_fail(ta))
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->va = aligned_alloc(size, size);
	if (!p->va) {
		free(p);
		return NULL;
	}
	memset(p->va, 0x5a, size); /* the library must zero it */
	p->size = size;
	p->pa = (uint64_t)(uintptr_t)p->va;
	if (ta->remap) /* freed pages stay allocated: no pa is reused */
		p->pa ^= (1 + ta->table_allocs % 3) << 44;
	if (ta->pa_next) {
		p->pa = ((ta->pa_next + size - 1) & ~(uint64_t)(size - 1)) +
			ta->pa_skew;
		ta->pa_next = p->pa + size;
	}
	p->next = ta->pages;
	ta->pages = p;
	*pa = p->pa;
	ta->table_allocs++;
	ta->live_bytes += size;
	tick(ta);
	return p->va;
}

static void t_table_free(void *arg, void *va, uint64_t pa, size_t size)
{
	struct talloc *ta = arg;
	uint64_t when = tick(ta);

	for (struct tpage *p = ta->pages; p; p = p->next) {
		if (p->va == va) {
			assert_int_equal(p->freed, 0); /* double free */
			assert_int_equal(p->size, size);
			assert_int_equal(p->pa, pa);
			p->freed = 1;
			tpoison_freed(va, size);
			break;
		}
	}
	ta->table_frees++;
	ta->live_bytes -= size;
	if (ta->on_free)
		ta->on_free(ta->on_free_arg, pa, size, when);
}

static void *t_meta_alloc(void *arg, size_t size)
{
	struct talloc *ta = arg;
	void *p;

	if (should_fail(ta))
		return NULL;
	p = malloc(size);
	if (p)
		ta->meta_allocs++;
	return p;
}

static void t_meta_free(void *arg, void *ptr, size_t size)
{
	struct talloc *ta = arg;

	(void)size;
	free(ptr);
	ta->meta_frees++;
}

void talloc_ops(struct talloc *ta, struct iopgt_mem_ops *mem)
{
	mem->table_alloc = t_table_alloc;
	mem->table_free = t_table_free;
	mem->meta_alloc = t_meta_alloc;
	mem->meta_free = t_meta_free;
	mem->arg = ta;
}

void *talloc_p2v(void *arg, uint64_t pa)
{
	struct talloc *ta = arg;

	for (struct tpage *p = ta->pages; p; p = p->next)
		if (pa - p->pa < p->size)
			return (char *)p->va + (pa - p->pa);
	fail_msg("phys_to_virt: 0x%" PRIx64 " is no table page", pa);
	return NULL;
}

int talloc_is_freed(struct talloc *ta, uint64_t pa)
{
	for (struct tpage *p = ta->pages; p; p = p->next)
		if (p->pa == pa)
			return p->freed;
	return 0;
}

/* ---- flush fake ---- */

static void tf_push(struct tflush *tf, uint64_t iova, uint64_t last,
		    enum iopgt_flush_kind kind)
{
	if (tf->n == tf->cap) {
		tf->cap = tf->cap ? tf->cap * 2 : 64;
		tf->recs = realloc(tf->recs, tf->cap * sizeof(*tf->recs));
		assert_non_null(tf->recs);
	}
	tf->recs[tf->n].iova = iova;
	tf->recs[tf->n].last = last;
	tf->recs[tf->n].kind = kind;
	tf->recs[tf->n].when = tf->clock ? ++*tf->clock : ++tf->own_clock;
	tf->n++;
}

static void tf_range(void *arg, uint64_t iova, uint64_t last,
		     enum iopgt_flush_kind kind)
{
	assert_true(iova <= last);
	tf_push(arg, iova, last, kind);
}

static void tf_all(void *arg)
{
	tf_push(arg, 0, UINT64_MAX, IOPGT_FLUSH_KINDS);
}

void tflush_init(struct tflush *tf, uint64_t *clock)
{
	memset(tf, 0, sizeof(*tf));
	tf->clock = clock;
}

void tflush_fini(struct tflush *tf)
{
	free(tf->recs);
	memset(tf, 0, sizeof(*tf));
}

void tflush_ops(struct tflush *tf, struct iopgt_flush_ops *ops)
{
	ops->flush_range = tf_range;
	ops->flush_all = tf_all;
	ops->arg = tf;
}

int tflush_walk_covers(const struct tflush *tf, uint64_t iova, uint64_t last,
		       uint64_t after, uint64_t before)
{
	for (size_t i = 0; i < tf->n; i++) {
		const struct tflush_rec *r = &tf->recs[i];
		if (r->when <= after || r->when >= before)
			continue;
		if ((r->kind == IOPGT_FLUSH_WALK || r->kind == IOPGT_FLUSH_KINDS) &&
		    r->iova <= iova && r->last >= last)
			return 1;
	}
	return 0;
}

/* ---- dumps ---- */

/* Replace the hex digits after the first `tag` in line by '?'. */
static void mask_after(char *line, const char *tag)
{
	char *p = strstr(line, tag);

	if (!p)
		return;
	p += strlen(tag);
	while ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))
		*p++ = '?';
}

char *tdump(struct iopgt_domain *dom)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(iopgt_dump(dom, tfile_line, f, IOPGT_DUMP_ENTRIES), 0);
	fclose(f);
	/* Table addresses name pages, which may differ between two dumps of
	 * the same contents: mask them (headers, and raw table entries). */
	for (char *line = buf; line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = 0;
		if (!strncmp(line, "domain ", 7)) {
			mask_after(line, "root_pa 0x");
		} else if (line[strspn(line, " ")] == 'L') {
			mask_after(line, " pa 0x");
		} else if (strstr(line, " table pa 0x")) {
			mask_after(line, "] 0x");
			mask_after(line, " table pa 0x");
		}
		if (nl)
			*nl = '\n';
		line = nl ? nl + 1 : NULL;
	}
	return buf;
}

/* Keep only the dump's leaf lines (in place). */
char *tleaf_lines(char *dump)
{
	char *out = dump;

	for (char *line = dump; *line;) {
		char *nl = strchr(line, '\n');
		size_t n = nl ? (size_t)(nl + 1 - line) : strlen(line);
		bool leaf;

		if (nl)
			*nl = 0;
		leaf = strstr(line, " leaf ") != NULL;
		if (nl)
			*nl = '\n';
		if (leaf) {
			memmove(out, line, n);
			out += n;
		}
		line += n;
	}
	*out = 0;
	return dump;
}

/* needle in [p, end), or NULL. */
static const char *find_in(const char *p, const char *end, const char *needle)
{
	return memmem(p, (size_t)(end - p), needle, strlen(needle));
}

struct ttab {
	const char *key; /* "L<level> table iova 0x... span 0x..." */
	size_t klen;
	bool seen;
};

/* The table lines of a dump ("  L<level> table iova 0x... span 0x... pa
 * ... used N/M"), keyed by the text before " pa ". Returns the array
 * (malloc'd), its length in *count. */
static struct ttab *table_lines(const char *dump, size_t *count)
{
	struct ttab *t = NULL;
	size_t k = 0, cap = 0;

	for (const char *l = dump; *l;) {
		const char *e = strchr(l, '\n'), *p = l, *pa;
		const char *end = e ? e : l + strlen(l);

		while (p < end && *p == ' ')
			p++;
		if (p < end && *p == 'L' && find_in(p, end, " table iova ") &&
		    (pa = find_in(p, end, " pa "))) {
			if (k == cap) {
				cap = cap ? 2 * cap : 64;
				t = realloc(t, cap * sizeof(*t));
				if (!t)
					abort();
			}
			t[k].key = p;
			t[k].klen = (size_t)(pa - p);
			t[k].seen = false;
			k++;
		}
		l = e ? e + 1 : end;
	}
	*count = k;
	return t;
}

const char *tcheck_kept_tables(const char *before, const char *after,
			       char *msg, size_t n)
{
	size_t nb, na;
	struct ttab *b = table_lines(before, &nb), *a = table_lines(after, &na);
	const char *r = NULL;

	for (size_t i = 0; i < na; i++) {
		for (size_t j = 0; j < nb; j++) {
			if (!b[j].seen && b[j].klen == a[i].klen &&
			    !memcmp(b[j].key, a[i].key, a[i].klen)) {
				b[j].seen = a[i].seen = true;
				break;
			}
		}
	}
	for (size_t j = 0; j < nb && !r; j++) {
		if (!b[j].seen) {
			snprintf(msg, n, "a table went: %.*s", (int)b[j].klen,
				 b[j].key);
			r = msg;
		}
	}
	free(a);
	free(b);
	return r;
}

const struct pt_table *tdesc(struct iopgt_domain *dom, const void *va)
{
	return va == (const void *)dom->root_desc.va && !dom->ias_max
		       ? dom->root
		       : pt_desc(dom, (pt_entry_t *)(uintptr_t)va);
}

struct count_arg {
	struct iopgt_domain *dom;
	unsigned bad;
};

/* Entries are read with relaxed atomic loads: a device (the simulated
 * IOMMU's walker) may set accessed/dirty bits while the tables are
 * recounted, which changes no entry from empty to non-empty or back. A
 * domain without counts reports a scan as `used`, so there the check is
 * that no table's state word (pt.h) was ever left written. */
static int count_one(void *arg, const struct iopgt_table_info *t)
{
	struct count_arg *a = arg;
	unsigned n = 0;
	_Atomic uint64_t *e = (_Atomic uint64_t *)(uintptr_t)t->va;

	for (unsigned i = 0; i < t->entries; i++)
		n += atomic_load_explicit(&e[i], memory_order_relaxed) != 0;
	if (n != t->used) {
		fprintf(stderr, "count mismatch: level %u iova 0x%" PRIx64
				" counted %u recorded %u\n",
			t->level, t->iova, n, t->used);
		a->bad++;
	}
	if (!pt_counted(a->dom)) {
		uint64_t st = atomic_load_explicit(&tdesc(a->dom, t->va)->st,
						   memory_order_relaxed);

		if (st) {
			fprintf(stderr, "domain without counts: level %u iova "
					"0x%" PRIx64 " state word 0x%" PRIx64
					"\n",
				t->level, t->iova, st);
			a->bad++;
		}
	}
	return 0;
}

unsigned tcheck_counts(struct iopgt_domain *dom)
{
	struct count_arg a = { dom, 0 };

	iopgt_for_each_table(dom, count_one, &a);
	return a.bad;
}

long tenv_long(const char *name, long dflt)
{
	const char *s = getenv(name);
	return s && *s ? strtol(s, NULL, 0) : dflt;
}

int tname_in_list(const char *list, const char *name)
{
	size_t n = strlen(name);

	if (!strcmp(list, "all"))
		return 1;
	for (const char *p = list; *p;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len == n && !strncmp(p, name, n))
			return 1;
		p += len + (e != NULL);
	}
	return 0;
}

long titers(const char *name, long unit)
{
	const char *s = getenv(name);
	long scale = tenv_long(TSCALE_ENV, 1);

	if (s && *s)
		return strtol(s, NULL, 0);
	if (scale < 1)
		scale = 1;
	return unit > LONG_MAX / scale ? LONG_MAX : unit * scale;
}

uint64_t tseed(uint64_t dflt)
{
	const char *s = getenv(TSEED_ENV);
	return s ? strtoull(s, NULL, 0) : dflt;
}

uint64_t trand(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* ---- leaves and tables ---- */

static unsigned parse_prot(const char *s)
{
	unsigned prot = 0;

	for (; *s; s++) {
		switch (*s) {
		case 'r': prot |= IOPGT_PROT_READ; break;
		case 'w': prot |= IOPGT_PROT_WRITE; break;
		case 'x': prot |= IOPGT_PROT_EXEC; break;
		case 'u': prot |= IOPGT_PROT_USER; break;
		case 'm': prot |= IOPGT_PROT_MMIO; break;
		}
	}
	return prot;
}

int tfor_each_leaf(struct iopgt_domain *dom,
		   int (*fn)(void *arg, const struct tleaf *l), void *arg)
{
	FILE *f = tmpfile();
	char *line = NULL;
	size_t cap = 0;
	int r = 0;

	assert_non_null(f);
	assert_int_equal(iopgt_dump(dom, tfile_line, f, IOPGT_DUMP_ENTRIES), 0);
	rewind(f);
	while (!r && getline(&line, &cap, f) > 0) {
		const char *p = strstr(line, " iova 0x");
		struct tleaf l;
		char prot[8];

		if (!p || !strstr(p, " leaf 0x"))
			continue;
		memset(&l, 0, sizeof(l));
		assert_int_equal(sscanf(p, " iova 0x%" SCNx64 " leaf 0x%" SCNx64
					   " pa 0x%" SCNx64 " %7s",
					&l.iova, &l.size, &l.pa, prot),
				 4);
		l.prot = parse_prot(prot);
		l.dirty = strstr(p, " dirty") != NULL;
		r = fn(arg, &l);
	}
	free(line);
	fclose(f);
	return r;
}

struct count_tables {
	unsigned tables, empty;
};

static int count_table(void *arg, const struct iopgt_table_info *t)
{
	struct count_tables *c = arg;

	if (c->tables++ && !t->used) /* parents come first: skip the root */
		c->empty++;
	return 0;
}

unsigned tcount_tables(struct iopgt_domain *dom, unsigned *empty)
{
	struct count_tables c = { 0, 0 };

	iopgt_for_each_table(dom, count_table, &c);
	if (empty)
		*empty = c.empty;
	return c.tables;
}

/* Start of the line that holds p. */
static const char *line_start(const char *base, const char *p)
{
	while (p > base && p[-1] != '\n')
		p--;
	return p;
}

/* Print up to n lines from p. */
int tfile_line(void *arg, const char *line)
{
	return fputs(line, arg) < 0 ? -EIO : 0;
}

static void print_lines(FILE *out, const char *tag, const char *p, int n)
{
	while (*p && n-- > 0) {
		const char *nl = strchr(p, '\n');
		int len = nl ? (int)(nl - p) : (int)strlen(p);
		fprintf(out, "%s%.*s\n", tag, len, p);
		p += len + (nl != NULL);
	}
}

void tdump_diff(FILE *out, const char *before, const char *after)
{
	size_t i = 0;
	const char *a, *b;

	while (before[i] && before[i] == after[i])
		i++;
	if (!before[i] && !after[i]) {
		fprintf(out, "dumps are identical\n");
		return;
	}
	a = line_start(before, before + i);
	b = line_start(after, after + i);
	/* Three lines of common context. */
	for (int k = 0; k < 3 && a > before; k++) {
		a = line_start(before, a - 1);
		b = line_start(after, b - 1);
	}
	fprintf(out, "first difference (before, then after):\n");
	print_lines(out, "  - ", a, 10);
	print_lines(out, "  + ", b, 10);
}

/* ---- thread-safe allocator ---- */

void tsalloc_init(struct tsalloc *ta, size_t quarantine)
{
	memset(ta, 0, sizeof(*ta));
	pthread_mutex_init(&ta->mu, NULL);
	ta->quarantine = quarantine;
}

void tsalloc_fini(struct tsalloc *ta)
{
	for (size_t i = 0; i < ta->qn; i++)
		free(ta->q[(ta->qhead + i) % ta->qcap]);
	free(ta->q);
	ta->q = NULL;
	ta->qn = ta->qhead = ta->qcap = 0;
	pthread_mutex_destroy(&ta->mu);
}

static void *ts_table_alloc(void *arg, size_t size, uint64_t *pa)
{
	struct tsalloc *ta = arg;
	void *va = aligned_alloc(size, size);

	if (!va)
		return NULL;
	memset(va, 0x5a, size); /* the library must zero it */
	*pa = (uint64_t)(uintptr_t)va;
	pthread_mutex_lock(&ta->mu);
	ta->table_allocs++;
	ta->live_bytes += size;
	pthread_mutex_unlock(&ta->mu);
	return va;
}

/* Keep va in the quarantine ring; returns a page pushed out, or NULL. */
static void *ts_quarantine(struct tsalloc *ta, void *va)
{
	void *out = NULL;

	if (ta->quarantine && ta->qn == ta->quarantine) {
		out = ta->q[ta->qhead];
		ta->qhead = (ta->qhead + 1) % ta->qcap;
		ta->qn--;
	}
	if (ta->qn == ta->qcap) {
		/* Grow, unrolling the ring to start at 0. */
		size_t cap = ta->qcap ? ta->qcap * 2 : 64;
		void **q = malloc(cap * sizeof(*q));

		if (!q) {
			free(out);
			return va; /* no room: free it now */
		}
		for (size_t i = 0; i < ta->qn; i++)
			q[i] = ta->q[(ta->qhead + i) % ta->qcap];
		free(ta->q);
		ta->q = q;
		ta->qcap = cap;
		ta->qhead = 0;
	}
	ta->q[(ta->qhead + ta->qn) % ta->qcap] = va;
	ta->qn++;
	return out;
}

static void ts_table_free(void *arg, void *va, uint64_t pa, size_t size)
{
	struct tsalloc *ta = arg;
	void *out;

	(void)pa;
	tpoison_freed(va, size);
	pthread_mutex_lock(&ta->mu);
	ta->table_frees++;
	ta->live_bytes -= size;
	out = ts_quarantine(ta, va);
	pthread_mutex_unlock(&ta->mu);
	free(out);
}

static void *ts_meta_alloc(void *arg, size_t size)
{
	struct tsalloc *ta = arg;
	void *p = malloc(size);

	if (p) {
		pthread_mutex_lock(&ta->mu);
		ta->meta_allocs++;
		pthread_mutex_unlock(&ta->mu);
	}
	return p;
}

static void ts_meta_free(void *arg, void *ptr, size_t size)
{
	struct tsalloc *ta = arg;

	(void)size;
	free(ptr);
	pthread_mutex_lock(&ta->mu);
	ta->meta_frees++;
	pthread_mutex_unlock(&ta->mu);
}

void tsalloc_ops(struct tsalloc *ta, struct iopgt_mem_ops *mem)
{
	mem->table_alloc = ts_table_alloc;
	mem->table_free = ts_table_free;
	mem->meta_alloc = ts_meta_alloc;
	mem->meta_free = ts_meta_free;
	mem->arg = ta;
}

/* ---- checks that name the step on failure ---- */

char tctx[256];

void tstreq_at(const char *a, const char *b, const char *file, int line)
{
	const char *p = a, *q = b, *ls = a;

	if (!strcmp(a, b))
		return;
	while (*p && *p == *q) {
		if (*p == '\n')
			ls = p + 1;
		p++;
		q++;
	}
	fprintf(stderr,
		"[%s] %s:%d: dumps differ at byte %zu; line before: %.*s\n"
		"after:  %.*s\n",
		tctx, file, line, (size_t)(p - a), (int)strcspn(ls, "\n"), ls,
		(int)strcspn(b + (ls - a), "\n"), b + (ls - a));
	_fail(file, line);
}

/* ---- a domain on the recording allocator and flush fake ---- */

void topen(struct tdom *d, const struct tcfg *c, unsigned options,
	   int table_cache, uint64_t leaf_sizes)
{
	memset(d, 0, sizeof(*d));
	d->c = c;
	tcfg_config(c, &d->cfg);
	d->cfg.options = options;
	if (table_cache != CACHE_DEFAULT)
		d->cfg.table_cache = (unsigned)table_cache;
	if (leaf_sizes)
		d->cfg.leaf_sizes = leaf_sizes == TSIZES_ALL ? 0 : leaf_sizes;
	talloc_init(&d->ta);
	talloc_ops(&d->ta, &d->cfg.mem);
	tflush_init(&d->tf, NULL);
	tflush_ops(&d->tf, &d->cfg.flush);
	EQ(iopgt_domain_create(&d->cfg, &d->dom), 0);
	EXPECT(d->dom != NULL);
	iopgt_domain_info(d->dom, &d->info, sizeof(d->info));
	d->n = tcfg_leaf_sizes(d->dom, d->s);
	EXPECT(d->n >= 1);
	d->top = d->s[d->n - 1];
	d->end = d->info.iova_last + 1;
	d->upper = d->info.iova_upper;
	d->pa0 = (UINT64_C(1) << (c->oas - 2)) + 5 * d->top;
	EQ(tcheck_counts(d->dom), 0);
}

void tclose(struct tdom *d)
{
	EQ(tcheck_counts(d->dom), 0);
	iopgt_domain_destroy(d->dom);
	d->dom = NULL;
	/* Nothing leaks: every page and descriptor went back. */
	EQ(d->ta.table_allocs, d->ta.table_frees);
	EQ(d->ta.meta_allocs, d->ta.meta_frees);
	EQ(d->ta.live_bytes, 0);
	talloc_fini(&d->ta);
	tflush_fini(&d->tf);
}

uint64_t tpa_for(const struct tdom *d, uint64_t iova)
{
	return d->pa0 + (iova & ((UINT64_C(1) << (d->c->oas - 3)) - 1));
}

struct iopgt_stats tstats(const struct tdom *d)
{
	struct iopgt_stats st;

	iopgt_get_stats(d->dom, &st, sizeof(st));
	return st;
}

uint64_t tlive(const struct tdom *d)
{
	return tstats(d).table_pages_live;
}

int tmap_g(struct tdom *d, uint64_t iova, uint64_t pa, uint64_t size,
	   unsigned prot, struct iopgt_gather *g, int recount)
{
	size_t nf = d->tf.n;
	int r = iopgt_map(d->dom, iova, pa, size, prot, g);

	EQ(d->tf.n, nf); /* map never flushes */
	if (recount)
		EQ(tcheck_counts(d->dom), 0);
	return r;
}

int64_t tunmap_g(struct tdom *d, uint64_t iova, uint64_t size,
		 struct iopgt_gather *g)
{
	size_t nf = d->tf.n;
	int64_t r = iopgt_unmap(d->dom, iova, size, g);

	EQ(d->tf.n, nf); /* unmap never flushes */
	EQ(tcheck_counts(d->dom), 0);
	return r;
}

void tsync(struct tdom *d, struct iopgt_gather *g)
{
	iopgt_sync(d->dom, g);
	EQ(g->nr_tables, 0);
	EQ(g->kind, IOPGT_FLUSH_NONE);
	EQ(tcheck_counts(d->dom), 0);
}

void tmap_ok(struct tdom *d, uint64_t iova, uint64_t pa, uint64_t size,
	     unsigned prot)
{
	struct iopgt_gather g;

	iopgt_gather_init(&g, sizeof(g));
	EQ(tmap_g(d, iova, pa, size, prot, &g, 1), 0);
	tsync(d, &g);
}

void tunmap_ok(struct tdom *d, uint64_t iova, uint64_t size, uint64_t expect)
{
	struct iopgt_gather g;

	iopgt_gather_init(&g, sizeof(g));
	EQ(tunmap_g(d, iova, size, &g), expect);
	tsync(d, &g);
}

void texpect_tr_at(struct tdom *d, uint64_t iova, uint64_t pa, uint64_t leaf,
		   unsigned prot, const char *file, int line)
{
	struct iopgt_translation tr;
	int r;

	memset(&tr, 0xff, sizeof(tr));
	r = iopgt_lookup(d->dom, iova, &tr);
	/* Without a device only a coalesced superpage may read dirty: see
	 * rm_may_start_dirty(). */
	if (r || tr.pa != pa || tr.leaf_size != leaf || tr.prot != prot ||
	    (tr.dirty && !rm_may_start_dirty(leaf, prot, d->s[0]))) {
		fprintf(stderr,
			"[%s] %s:%d: lookup 0x%" PRIx64 " = %d pa 0x%" PRIx64
			" leaf 0x%" PRIx64 " prot 0x%x dirty %u; expected 0 pa "
			"0x%" PRIx64 " leaf 0x%" PRIx64 " prot 0x%x dirty 0\n",
			tctx, file, line, iova, r, tr.pa, tr.leaf_size, tr.prot,
			tr.dirty, pa, leaf, prot);
		_fail(file, line);
	}
}

void texpect_err_at(struct tdom *d, uint64_t iova, int err, const char *file,
		    int line)
{
	struct iopgt_translation tr;
	int r = iopgt_lookup(d->dom, iova, &tr);

	if (r != err) {
		fprintf(stderr,
			"[%s] %s:%d: lookup 0x%" PRIx64 " = %d, expected %d\n",
			tctx, file, line, iova, r, err);
		_fail(file, line);
	}
}
