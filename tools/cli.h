/* SPDX-License-Identifier: MIT */
/* Option parsing shared by the iopgt tool's commands. */
#ifndef IOPGT_CLI_H
#define IOPGT_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>

#include "iopgt.h"

/*
 * Every command parses its argv (argv[0] is the command's name, e.g. "demo")
 * with getopt_long(): "--opt VALUE" and "--opt=VALUE" are the same, a long
 * option may be abbreviated to any unique prefix, and "--" ends the options.
 * Errors go to stderr as "iopgt CMD: unknown option '--x'" and the like;
 * cli_usage_error() adds the hint to run --help and gives exit status 2.
 */

/* getopt_long() values of the shared options. A command's own options that
 * have no short form take values from CLI_OPT_CMD up. */
enum {
	CLI_OPT_FORMAT = 0x100,
	CLI_OPT_LEVELS,
	CLI_OPT_GRANULE,
	CLI_OPT_IAS,
	CLI_OPT_OAS,
	CLI_OPT_LEAF_SIZES,
	CLI_OPT_IAS_MAX,
	CLI_OPT_GATHER_POLICY,
	CLI_OPT_CMD,
};

#define CLI_OPTION_HELP { "help", no_argument, NULL, 'h' }
#define CLI_OPTIONS_FORMAT                                              \
	{ "format", required_argument, NULL, CLI_OPT_FORMAT },          \
	{ "levels", required_argument, NULL, CLI_OPT_LEVELS },          \
	{ "granule", required_argument, NULL, CLI_OPT_GRANULE },        \
	{ "ias", required_argument, NULL, CLI_OPT_IAS },                \
	{ "oas", required_argument, NULL, CLI_OPT_OAS },                \
	{ "leaf-sizes", required_argument, NULL, CLI_OPT_LEAF_SIZES },  \
	{ "ias-max", required_argument, NULL, CLI_OPT_IAS_MAX },        \
	{ "gather-policy", required_argument, NULL, CLI_OPT_GATHER_POLICY }
#define CLI_OPTIONS_END { NULL, 0, NULL, 0 }

/* Start parsing a command's argv: resets getopt_long()'s state in full
 * (the tool parses the argv of the command after its own). */
void cli_opts_begin(void);

/* getopt_long(argc, argv, shortopts, longopts) for command cmd ("iopgt
 * demo"). shortopts should start with ':' (or "+:" to stop at the first
 * operand). Returns the option, with optarg its value; -1 after the last
 * option (argv[optind..] are the operands); or '?' after printing
 * "CMD: unknown option 'X'", "CMD: option 'X' needs a value" or "CMD:
 * option 'X' takes no value". */
int cli_getopt(int argc, char **argv, const char *shortopts,
	       const struct option *longopts, const char *cmd);

/* Print "Run 'CMD --help' for the options." to stderr; returns 2, the exit
 * status of a usage error. */
int cli_usage_error(const char *cmd);

/* The formats the library offers (iopgt_format_info(), read once): *out
 * receives the array; returns how many. */
unsigned cli_formats(const struct iopgt_format_info **out);
/* The registry entry of format, or NULL. */
const struct iopgt_format_info *cli_format_find(enum iopgt_format format);
/* The levels a domain of cfg's format, granule, ias and oas walks, or 0 if
 * the library refuses that configuration. */
unsigned cli_levels(const struct iopgt_config *cfg);

/* The format options every command takes, all checked against the
 * library's format registry:
 *   --format NAME   --granule G   --levels N (the largest ias that walks
 *   N levels)   --ias N   --oas N   --leaf-sizes LIST (cfg.leaf_sizes,
 *   which the library checks when the domain is created)   --ias-max N
 *   (a growing root: cfg.ias_max, with cli_grow_none as its callback,
 *   which a command with hardware to point replaces)   --gather-policy P
 *   (cfg.gather_policy: merge, union, early or disjoint)
 * Call cli_format_begin() first, cli_format_opt() with each option
 * cli_getopt() returns (1: it was a format option and is applied; 0: it is
 * not one; -1: bad value, reported) and cli_format_end() after the last
 * (0, or -1 after reporting a bad combination). The result does not depend
 * on the order of the options. */
void cli_format_begin(struct iopgt_config *cfg);
int cli_format_opt(const char *cmd, int opt, const char *val,
		   struct iopgt_config *cfg);
int cli_format_end(const char *cmd, struct iopgt_config *cfg);

/* The grow callback of a domain with no hardware to point at its new
 * root (--ias-max outside the demo): accepts every growth. */
struct iopgt_hw_config;
int cli_grow_none(void *arg, const struct iopgt_hw_config *hw);

/* "4k", "2M", "1G", "1T", "0x1000", "4096" -> bytes; false if malformed,
 * negative or 2^64 or more. */
bool cli_parse_size(const char *s, uint64_t *out);

/* Why cli_parse_size(s) fails ("negative", "2^64 bytes or more", ...), or
 * NULL if it does not. */
const char *cli_size_why(const char *s);

/* A decimal count in [min, max]; false if malformed, negative or out of
 * range. */
bool cli_parse_count(const char *s, uint64_t min, uint64_t max,
		     uint64_t *out);

/* The same, for the value val of option opt of command cmd: on failure,
 * print "CMD: bad value for OPT: 'VAL' (why)" and return -1; else 0. */
int cli_size_arg(const char *cmd, const char *opt, const char *val,
		 uint64_t min, uint64_t max, uint64_t *out);
int cli_count_arg(const char *cmd, const char *opt, const char *val,
		  uint64_t min, uint64_t max, uint64_t *out);

/* A short description of cfg, e.g. "x86_64 4-level" or "arm_s2 16k ias 48". */
const char *cli_format_desc(const struct iopgt_config *cfg);

/* Of the n commands cmd (iopgt_inval_encode's; none if n <= 0): the bytes
 * their addresses cover, leaving out a command for everything (counted in
 * *global, when global is not NULL) and one that invalidates nothing
 * (last < iova: SMMUv3's CMD_SYNC). */
uint64_t cli_cmd_bytes(const struct iopgt_inval_cmd *cmd, int n,
		       uint64_t *global);

/* The format options' --help text, listing the library's formats. */
const char *cli_format_help(void);

/* An iopgt_dump() output callback writing to the FILE * arg. */
int cli_print_line(void *arg, const char *line);

#endif
