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

/* Keep the compiler from moving memory accesses across this point. */
#define bench_barrier() __asm__ __volatile__("" ::: "memory")

#endif
