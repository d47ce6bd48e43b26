/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double bench_median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n & 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double bench_clock_ns(void)
{
	enum { N = 2001 };
	static double d[N];

	for (unsigned i = 0; i < N; i++) {
		uint64_t t0 = bench_now_ns();
		uint64_t t1 = bench_now_ns();
		d[i] = (double)(t1 - t0);
	}
	return bench_median(d, N);
}

const char *bench_size_str(uint64_t bytes, char *buf, size_t len)
{
	static const char units[] = "KMGTPE";
	unsigned u = 0;

	if (!bytes || bytes & 1023) {
		snprintf(buf, len, "%" PRIu64, bytes);
		return buf;
	}
	bytes >>= 10;
	while (!(bytes & 1023) && units[u + 1]) {
		bytes >>= 10;
		u++;
	}
	snprintf(buf, len, "%" PRIu64 "%c", bytes, units[u]);
	return buf;
}

uint64_t bench_max_rss_bytes(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return 0;
	return (uint64_t)ru.ru_maxrss * 1024; /* Linux: kilobytes */
}

uint64_t bench_rss_bytes(void)
{
	unsigned long long size, resident;
	long page = sysconf(_SC_PAGESIZE);
	FILE *f = fopen("/proc/self/statm", "r");
	int n;

	if (!f)
		return 0;
	n = fscanf(f, "%llu %llu", &size, &resident);
	fclose(f);
	if (n != 2 || page <= 0)
		return 0;
	return (uint64_t)resident * (uint64_t)page;
}

uint64_t bench_splitmix(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15u);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

uint64_t bench_xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

double bench_store_sample(uint64_t *const *pages, uint64_t leaf)
{
	uint64_t t0, t1;

	/* The eight values of a round are each one add from the round's
	 * base: computed as a chain (e + leaf, + leaf, ...), which is what
	 * a compiler makes of e + k * leaf when leaf is not a constant, the
	 * adds and not the stores would set the pace. The offsets pass
	 * through an empty asm so that they stay eight registers. */
	uint64_t o1 = leaf, o2 = 2 * leaf, o3 = 3 * leaf, o4 = 4 * leaf;
	uint64_t o5 = 5 * leaf, o6 = 6 * leaf, o7 = 7 * leaf, o8 = 8 * leaf;

	__asm__ volatile("" : "+r"(o1), "+r"(o2), "+r"(o3), "+r"(o4),
			 "+r"(o5), "+r"(o6), "+r"(o7), "+r"(o8));
	t0 = bench_now_ns();
	for (unsigned b = 0; b < BENCH_STORE_PAGES; b++) {
		volatile uint64_t *p = pages[b];
		uint64_t e = ((uint64_t)b << 30) | 0x67;
		/* Unrolled by 8 so that loop overhead does not hide the
		 * store throughput; volatile keeps them 8-byte stores. */
		for (unsigned i = 0; i < BENCH_STORE_COUNT; i += 8, e += o8) {
			p[i + 0] = e;
			p[i + 1] = e + o1;
			p[i + 2] = e + o2;
			p[i + 3] = e + o3;
			p[i + 4] = e + o4;
			p[i + 5] = e + o5;
			p[i + 6] = e + o6;
			p[i + 7] = e + o7;
		}
	}
	t1 = bench_now_ns();
	return (double)(t1 - t0) / BENCH_STORE_PAGES;
}

/* Kilobytes of AnonHugePages the process holds (-1 if unknown). */
static long thp_kib(void)
{
	FILE *f = fopen("/proc/self/smaps_rollup", "r");
	char line[256];
	long kib = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "AnonHugePages: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

#define LOAD_MISS_STEPS 4096u
#define LOAD_MISS_SAMPLES 201u

double bench_load_miss(long *thp)
{
	size_t bytes = BENCH_LOAD_MISS_BYTES, n = bytes / 64;
	static double s[LOAD_MISS_SAMPLES];
	uint32_t *perm;
	uint64_t seed = 0x9e3779b97f4a7c15u;
	char *buf;
	void **p;

	buf = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		return -1;
	madvise(buf, bytes, MADV_HUGEPAGE);
	perm = malloc(n * sizeof(*perm));
	if (!perm) {
		munmap(buf, bytes);
		return -1;
	}
	/* Sattolo's algorithm: i -> perm[i] is one cycle through all lines. */
	for (size_t i = 0; i < n; i++)
		perm[i] = (uint32_t)i;
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = bench_xorshift(&seed) % i;
		uint32_t t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}
	for (size_t i = 0; i < n; i++)
		*(void **)(buf + i * 64) = buf + (size_t)perm[i] * 64;
	free(perm);
	if (thp)
		*thp = thp_kib();

	p = (void **)buf;
	for (unsigned i = 0; i < 100000; i++) /* warm the TLB, the branch */
		p = *p;
	for (unsigned k = 0; k < LOAD_MISS_SAMPLES; k++) {
		uint64_t t0 = bench_now_ns(), t1;
		for (unsigned i = 0; i < LOAD_MISS_STEPS; i++)
			p = *p;
		t1 = bench_now_ns();
		s[k] = (double)(t1 - t0) / LOAD_MISS_STEPS;
	}
	/* Make the chain's result observable. */
	*(void *volatile *)buf = p;
	munmap(buf, bytes);
	return bench_median(s, LOAD_MISS_SAMPLES);
}

void bench_perm_init(struct bench_perm *p, unsigned bits, uint64_t seed)
{
	uint64_t s = seed;

	p->mask = bits ? (UINT64_C(1) << bits) - 1 : 0;
	p->bits = bits;
	p->shift = bits > 2 ? (bits + 1) / 2 : 1;
	for (unsigned r = 0; r < 3; r++) {
		uint64_t m = bench_splitmix(&s) | 1, inv = m;

		/* Newton: each step doubles the correct low bits (3 -> 96). */
		for (unsigned k = 0; k < 5; k++)
			inv *= 2 - m * inv;
		p->key[r] = bench_splitmix(&s) & p->mask;
		p->mul[r] = m;
		p->inv[r] = inv;
	}
}

uint64_t bench_perm_inverse(const struct bench_perm *p, uint64_t x)
{
	for (unsigned r = 3; r-- > 0;) {
		/* y ^= y >> shift, undone: each pass fixes shift more bits. */
		uint64_t y = x;

		for (unsigned k = 0; k < p->bits; k += p->shift)
			y = x ^ (y >> p->shift);
		x = ((y * p->inv[r]) & p->mask) ^ p->key[r];
	}
	return x;
}

/* Bytes of the mapping at addr that are on huge pages (/proc/self/smaps). */
static uint64_t thp_bytes_at(const void *addr)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[256];
	unsigned long lo, hi, kib;
	int in = 0;
	uint64_t r = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			in = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
			continue;
		}
		if (in && sscanf(line, "AnonHugePages: %lu kB", &kib) == 1) {
			r = (uint64_t)kib * 1024;
			break;
		}
	}
	fclose(f);
	return r;
}

int bench_chase_init(struct bench_chase *c, size_t bytes, int huge,
		     uint64_t seed)
{
	struct bench_perm perm;
	size_t lines = bytes / 64;
	unsigned bits = 0;

	memset(c, 0, sizeof(*c));
	if (lines < 2 || (lines & (lines - 1)))
		return -EINVAL;
	while (((size_t)1 << bits) < lines)
		bits++;
	c->buf = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (c->buf == MAP_FAILED) {
		c->buf = NULL;
		return -ENOMEM;
	}
	c->bytes = bytes;
#if defined(MADV_HUGEPAGE) && defined(MADV_NOHUGEPAGE)
	madvise(c->buf, bytes, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
#else
	(void)huge;
#endif
	/* Line perm(i) points to line perm(i + 1): one cycle through all.
	 * Written in address order (fast first touch), through the inverse. */
	bench_perm_init(&perm, bits, seed);
	for (size_t x = 0; x < lines; x++) {
		size_t i = bench_perm_inverse(&perm, x);
		size_t to = bench_perm(&perm, (i + 1) & (lines - 1));

		*(void **)(c->buf + x * 64) = c->buf + to * 64;
	}
	c->p = (void **)c->buf;
	c->thp_bytes = thp_bytes_at(c->buf);
	return 0;
}

double bench_chase_run(struct bench_chase *c, unsigned steps)
{
	void **p = c->p;
	uint64_t t0, t1;

	t0 = bench_now_ns();
	for (unsigned i = 0; i < steps; i++)
		p = *p;
	t1 = bench_now_ns();
	c->p = p;
	return (double)(t1 - t0) / steps;
}

void bench_chase_free(struct bench_chase *c)
{
	if (c->buf)
		munmap(c->buf, c->bytes);
	c->buf = NULL;
}
