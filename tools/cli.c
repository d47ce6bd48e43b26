/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const char cli_format_help[] =
	"  --format F        x86_64 (default) or arm_s2\n"
	"  --levels 4|5      x86_64: 4-level (48-bit) or 5-level (57-bit) input\n"
	"  --granule G       arm_s2: 4k (default), 16k or 64k\n"
	"  --ias N, --oas N  input / output address bits (format defaults)\n";

static int levels_opt, ias_opt, oas_opt;

void cli_format_begin(struct iopgt_config *cfg)
{
	iopgt_config_init(cfg, sizeof(*cfg), IOPGT_FMT_X86_64);
	levels_opt = ias_opt = oas_opt = 0;
}

static int bad(const char *opt, const char *val)
{
	fprintf(stderr, "iopgt: bad value for %s: '%s'\n", opt, val ? val : "");
	return -1;
}

int cli_format_opt(int argc, char **argv, int *i, struct iopgt_config *cfg)
{
	const char *opt = argv[*i], *val = *i + 1 < argc ? argv[*i + 1] : NULL;

	if (!strcmp(opt, "--format")) {
		unsigned granule = cfg->granule;
		if (val && !strcmp(val, "x86_64"))
			iopgt_config_init(cfg, sizeof(*cfg), IOPGT_FMT_X86_64);
		else if (val && !strcmp(val, "arm_s2"))
			iopgt_config_init(cfg, sizeof(*cfg), IOPGT_FMT_ARM_S2);
		else
			return bad(opt, val);
		cfg->granule = granule;
	} else if (!strcmp(opt, "--levels")) {
		if (!val || (strcmp(val, "4") && strcmp(val, "5")))
			return bad(opt, val);
		levels_opt = atoi(val);
	} else if (!strcmp(opt, "--granule")) {
		if (val && !strcmp(val, "4k"))
			cfg->granule = 12;
		else if (val && !strcmp(val, "16k"))
			cfg->granule = 14;
		else if (val && !strcmp(val, "64k"))
			cfg->granule = 16;
		else
			return bad(opt, val);
	} else if (!strcmp(opt, "--ias") || !strcmp(opt, "--oas")) {
		char *end;
		long v = val ? strtol(val, &end, 10) : 0;
		if (!val || *end || v < 1 || v > 64)
			return bad(opt, val);
		if (opt[2] == 'i')
			ias_opt = (int)v;
		else
			oas_opt = (int)v;
	} else {
		return 0;
	}
	(*i)++;
	return 1;
}

int cli_format_end(struct iopgt_config *cfg)
{
	if (cfg->format == IOPGT_FMT_X86_64) {
		if (cfg->granule != 12) {
			fprintf(stderr, "iopgt: --granule applies to arm_s2 only\n");
			return -1;
		}
		if (levels_opt)
			cfg->ias = levels_opt == 5 ? 57 : 48;
	} else if (levels_opt) {
		fprintf(stderr, "iopgt: --levels applies to x86_64 only; arm_s2 "
				"takes its levels from --ias and --granule\n");
		return -1;
	}
	if (ias_opt)
		cfg->ias = (unsigned)ias_opt;
	if (oas_opt)
		cfg->oas = (unsigned)oas_opt;
	return 0;
}

bool cli_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	/* strtoull() takes leading blanks and a sign ("-1" is 2^64 - 1). */
	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		return false;
	switch (*end) {
	case 0:
		break;
	case 'k': case 'K':
		shift = 10, end++;
		break;
	case 'M':
		shift = 20, end++;
		break;
	case 'G':
		shift = 30, end++;
		break;
	case 'T':
		shift = 40, end++;
		break;
	default:
		return false;
	}
	if (*end || v > UINT64_MAX >> shift)
		return false;
	*out = (uint64_t)v << shift;
	return true;
}

const char *cli_format_desc(const struct iopgt_config *cfg)
{
	static char buf[64];

	if (cfg->format == IOPGT_FMT_X86_64)
		snprintf(buf, sizeof(buf), "x86_64 %u-level",
			 cfg->ias > 48 ? 5 : 4);
	else
		snprintf(buf, sizeof(buf), "arm_s2 %uk ias %u",
			 (1u << cfg->granule) >> 10, cfg->ias);
	return buf;
}

int cli_print_line(void *arg, const char *line)
{
	return fputs(line, arg) < 0 ? -EIO : 0;
}
