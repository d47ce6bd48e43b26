/* SPDX-License-Identifier: MIT */
/* The option parsing the `iopgt bench` commands share (tools/cli.h). */
#ifndef IOPGT_BENCH_CLI_H
#define IOPGT_BENCH_CLI_H

#include <getopt.h>

#include "iopgt.h"

/* What bench_getopt() returns besides an option: help was printed (exit
 * 0); a bad option or value was reported (a usage error, as '?'). */
enum { BENCH_OPT_HELP = -2, BENCH_OPT_BAD = '?' };

/* Start parsing: cli_opts_begin() and cli_format_begin(cfg). */
void bench_opts_begin(struct iopgt_config *cfg);

/* cli_getopt(argc, argv, ":h", longopts, cmd) for a benchmark whose
 * longopts hold CLI_OPTIONS_FORMAT, --strategy and CLI_OPTION_HELP: applies
 * the format options to cfg and answers -h with usage followed by
 * cli_format_help and cli_strategy_help (--strategy is the benchmark's to
 * parse: it applies the strategy after bench_opts_end, which --format's
 * fresh configuration would otherwise undo).
 * Returns the benchmark's own next option (optarg its value), -1 after the
 * last, BENCH_OPT_HELP or BENCH_OPT_BAD. */
int bench_getopt(int argc, char **argv, const struct option *longopts,
		 const char *cmd, const char *usage, struct iopgt_config *cfg);

/* After the last option: no operand may follow, then cli_format_end().
 * 0, or -1 after reporting what is wrong (a usage error). */
int bench_opts_end(int argc, char **argv, const char *cmd,
		   struct iopgt_config *cfg);

#endif
