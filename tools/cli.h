/* SPDX-License-Identifier: MIT */
/* Option parsing shared by the iopgt tool's commands. */
#ifndef IOPGT_CLI_H
#define IOPGT_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "iopgt.h"

/* The format options every command takes:
 *   --format x86_64|arm_s2   --levels 4|5 (x86_64)   --granule 4k|16k|64k
 *   --ias N   --oas N
 * If argv[*i] is one of them, apply it to cfg, advance *i past its value and
 * return 1; return 0 if it is not a format option, -1 (after printing why)
 * if its value is bad. Call cli_format_begin() first and cli_format_end()
 * after the last option. */
void cli_format_begin(struct iopgt_config *cfg);
int cli_format_opt(int argc, char **argv, int *i, struct iopgt_config *cfg);
int cli_format_end(struct iopgt_config *cfg);

/* "4k", "2M", "1G", "1T", "0x1000", "4096" -> bytes; false if malformed,
 * negative or 2^64 or more. */
bool cli_parse_size(const char *s, uint64_t *out);

/* A short description of cfg, e.g. "x86_64 4-level" or "arm_s2 16k ias 48". */
const char *cli_format_desc(const struct iopgt_config *cfg);

extern const char cli_format_help[];

/* An iopgt_dump() output callback writing to the FILE * arg. */
int cli_print_line(void *arg, const char *line);

#endif
