/* SPDX-License-Identifier: MIT */
/* Helpers shared by the benchmarks: clock, medians, sizes. */
#ifndef IOPGT_BENCH_UTIL_H
#define IOPGT_BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t bench_now_ns(void);

/* Median of v[0..n-1] (n >= 1); sorts v. */
double bench_median(double *v, size_t n);

/* Median cost of one bench_now_ns() call, measured as the difference of
 * two back-to-back calls. Reported beside results, never subtracted. */
double bench_clock_ns(void);

/* "4K", "2M", "1G", "512M", "1T": the largest binary unit that divides
 * bytes exactly. Writes into buf (at least 24 bytes) and returns it. */
const char *bench_size_str(uint64_t bytes, char *buf, size_t len);

/* Largest resident set of the process so far, in bytes (0 if unknown). */
uint64_t bench_max_rss_bytes(void);

/* Resident set of the process now, in bytes, from /proc/self/statm (0 if
 * unknown). */
uint64_t bench_rss_bytes(void);

/* splitmix64: the next pseudo-random number of the sequence in *state. */
uint64_t bench_splitmix(uint64_t *state);

/* xorshift64: the next pseudo-random number of the sequence in *s (s != 0). */
uint64_t bench_xorshift(uint64_t *s);

/* The store limit of `bench ops` (and of the peer driver): 256 plain,
 * unvectorised 8-byte stores of leaf-like values (one every `leaf` bytes of
 * address) into each of BENCH_STORE_PAGES warm table pages, exactly the
 * writes of 256 smallest leaves into as many tables; the time per page. */
#define BENCH_STORE_PAGES 8u
#define BENCH_STORE_COUNT 256u
double bench_store_sample(uint64_t *const *pages, uint64_t leaf);

/* The median latency of one cache-missing dependent load, in ns: pointer
 * chasing through a buffer of BENCH_LOAD_MISS_BYTES (one pointer per
 * 64-byte line, one random cycle through all lines, Sattolo's algorithm),
 * on transparent huge pages if the kernel gives them, 201 samples of 4096
 * loads. With thp_kib, also the kilobytes of AnonHugePages the process
 * holds then (-1 if unknown). -1 if the buffer cannot be had. */
#define BENCH_LOAD_MISS_BYTES (UINT64_C(256) << 20)
double bench_load_miss(long *thp_kib);

/* A pseudo-random bijection of [0, 2^bits) (bits <= 63), keyed by a seed:
 * three rounds of xor with a key, multiplication by an odd key and an
 * xorshift, each a bijection modulo 2^bits. {perm(i) : i < n} is then a
 * random-looking set of n distinct values, and perm(i), perm(i + 1) are
 * unrelated, so i -> i + 1 visits them in a random order. Computed, not
 * stored: no memory is touched. */
struct bench_perm {
	uint64_t mask;
	unsigned bits, shift;
	uint64_t key[3], mul[3], inv[3]; /* inv: of mul, modulo 2^64 */
};

void bench_perm_init(struct bench_perm *p, unsigned bits, uint64_t seed);

/* The i with bench_perm(p, i) == x. */
uint64_t bench_perm_inverse(const struct bench_perm *p, uint64_t x);

static inline uint64_t bench_perm(const struct bench_perm *p, uint64_t x)
{
	for (unsigned r = 0; r < 3; r++) {
		x = ((x ^ p->key[r]) * p->mul[r]) & p->mask;
		x ^= x >> p->shift;
	}
	return x;
}

/* A pointer chase for the latency of one cache-missing dependent load:
 * one pointer per 64-byte line of a buffer of `bytes` (a power of two, 128
 * or more), the lines linked in one random cycle (bench_perm order). */
struct bench_chase {
	char *buf;
	size_t bytes;
	void **p;          /* where the chase stands */
	uint64_t thp_bytes; /* of the buffer, on transparent huge pages */
};

/* huge: ask for transparent huge pages (the latency of memory alone), or
 * keep 4K pages (MADV_NOHUGEPAGE: a TLB miss on top, as for memory that
 * is not on huge pages). Returns 0, -EINVAL (bytes) or -ENOMEM. */
int bench_chase_init(struct bench_chase *c, size_t bytes, int huge,
		     uint64_t seed);
/* steps dependent loads; the time per load in ns. */
double bench_chase_run(struct bench_chase *c, unsigned steps);
void bench_chase_free(struct bench_chase *c);

/* Keep the compiler from moving memory accesses across this point. */
#define bench_barrier() __asm__ __volatile__("" ::: "memory")

#endif
