/* SPDX-License-Identifier: MIT */
/* Benchmarks run by `iopgt bench`. */
#ifndef IOPGT_BENCH_H
#define IOPGT_BENCH_H

/* argv[0] is the benchmark's name ("ops", "iova-stress", "lookup",
 * "writers", "reclaim"); returns the exit status. */
int bench_ops_main(int argc, char **argv);
int bench_stress_main(int argc, char **argv);
int bench_lookup_main(int argc, char **argv);
int bench_writers_main(int argc, char **argv);
int bench_reclaim_main(int argc, char **argv);

#endif
