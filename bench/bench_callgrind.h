/* SPDX-License-Identifier: MIT */
/*
 * Callgrind's client requests where <valgrind/callgrind.h> is installed,
 * and no-ops where it is not (HAVE_CALLGRIND_H says which). Shared by the
 * benchmarks and bench/peer/peer_bench.c, hence a header and nothing that
 * needs libiopgt.
 */
#ifndef IOPGT_BENCH_CALLGRIND_H
#define IOPGT_BENCH_CALLGRIND_H

#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define HAVE_CALLGRIND_H 1
#endif
#endif
#ifndef HAVE_CALLGRIND_H
#define CALLGRIND_START_INSTRUMENTATION do { } while (0)
#define CALLGRIND_STOP_INSTRUMENTATION do { } while (0)
#define CALLGRIND_ZERO_STATS do { } while (0)
#define CALLGRIND_DUMP_STATS_AT(s) do { (void)(s); } while (0)
#define RUNNING_ON_VALGRIND 0
#endif

#endif
