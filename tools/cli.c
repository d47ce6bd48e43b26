/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
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

void cli_opts_begin(void)
{
	optind = 0;	/* glibc: a full reset */
	opterr = 0;	/* cli_getopt() reports errors itself */
}

/* The long option "--name..." of the command line, or NULL. */
static const struct option *find_long(const struct option *longopts,
				      const char *arg, int *nmatch)
{
	const struct option *o, *found = NULL;
	size_t len;

	*nmatch = 0;
	if (strncmp(arg, "--", 2))
		return NULL;
	arg += 2;
	len = strcspn(arg, "=");
	for (o = longopts; o->name; o++) {
		if (strncmp(o->name, arg, len))
			continue;
		if (strlen(o->name) == len) {
			*nmatch = 1;
			return o;
		}
		found = o;
		++*nmatch;
	}
	return found;
}

int cli_getopt(int argc, char **argv, const char *shortopts,
	       const struct option *longopts, const char *cmd)
{
	const struct option *o;
	const char *arg;
	int c, n;

	c = getopt_long(argc, argv, shortopts, longopts, NULL);
	if (c != '?' && c != ':')
		return c;
	/* glibc has stepped past a long option in error; a short one is
	 * optopt. */
	arg = optind > 0 && optind <= argc ? argv[optind - 1] : "";
	o = find_long(longopts, arg, &n);
	if (c == ':') {
		if (o && n == 1)
			fprintf(stderr, "%s: option '--%s' needs a value\n",
				cmd, o->name);
		else
			fprintf(stderr, "%s: option '-%c' needs a value\n",
				cmd, optopt);
	} else if (o && n == 1 && optopt) {
		fprintf(stderr, "%s: option '--%s' takes no value\n", cmd,
			o->name);
	} else if (n > 1) {
		fprintf(stderr, "%s: ambiguous option '%.*s'\n", cmd,
			(int)strcspn(arg, "="), arg);
	} else if (!optopt) {
		fprintf(stderr, "%s: unknown option '%.*s'\n", cmd,
			(int)strcspn(arg, "="), arg);
	} else {
		fprintf(stderr, "%s: unknown option '-%c'\n", cmd, optopt);
	}
	return '?';
}

int cli_usage_error(const char *cmd)
{
	fprintf(stderr, "Run '%s --help' for the options.\n", cmd);
	return 2;
}

void cli_format_begin(struct iopgt_config *cfg)
{
	iopgt_config_init(cfg, sizeof(*cfg), IOPGT_FMT_X86_64);
	levels_opt = ias_opt = oas_opt = 0;
}

static int bad(const char *cmd, const char *opt, const char *val,
	       const char *why)
{
	fprintf(stderr, "%s: bad value for %s: '%s' (%s)\n", cmd, opt,
		val ? val : "", why);
	return -1;
}

int cli_format_opt(const char *cmd, int opt, const char *val,
		   struct iopgt_config *cfg)
{
	uint64_t v;

	switch (opt) {
	case CLI_OPT_FORMAT: {
		unsigned granule = cfg->granule;
		if (val && !strcmp(val, "x86_64"))
			iopgt_config_init(cfg, sizeof(*cfg), IOPGT_FMT_X86_64);
		else if (val && !strcmp(val, "arm_s2"))
			iopgt_config_init(cfg, sizeof(*cfg), IOPGT_FMT_ARM_S2);
		else
			return bad(cmd, "--format", val, "x86_64 or arm_s2");
		cfg->granule = granule;
		break;
	}
	case CLI_OPT_LEVELS:
		if (!val || (strcmp(val, "4") && strcmp(val, "5")))
			return bad(cmd, "--levels", val, "4 or 5");
		levels_opt = atoi(val);
		break;
	case CLI_OPT_GRANULE:
		if (val && !strcmp(val, "4k"))
			cfg->granule = 12;
		else if (val && !strcmp(val, "16k"))
			cfg->granule = 14;
		else if (val && !strcmp(val, "64k"))
			cfg->granule = 16;
		else
			return bad(cmd, "--granule", val, "4k, 16k or 64k");
		break;
	case CLI_OPT_IAS:
	case CLI_OPT_OAS:
		if (cli_count_arg(cmd, opt == CLI_OPT_IAS ? "--ias" : "--oas",
				  val, 1, 64, &v))
			return -1;
		if (opt == CLI_OPT_IAS)
			ias_opt = (int)v;
		else
			oas_opt = (int)v;
		break;
	default:
		return 0;
	}
	return 1;
}

int cli_format_end(const char *cmd, struct iopgt_config *cfg)
{
	if (cfg->format == IOPGT_FMT_X86_64) {
		if (cfg->granule != 12) {
			fprintf(stderr,
				"%s: --granule applies to arm_s2 only\n", cmd);
			return -1;
		}
		if (levels_opt)
			cfg->ias = levels_opt == 5 ? 57 : 48;
	} else if (levels_opt) {
		fprintf(stderr, "%s: --levels applies to x86_64 only; arm_s2 "
				"takes its levels from --ias and --granule\n",
			cmd);
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

bool cli_parse_count(const char *s, uint64_t min, uint64_t max,
		     uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

const char *cli_size_why(const char *s)
{
	uint64_t v;

	if (cli_parse_size(s, &v))
		return NULL;
	if (s && *s == '-')
		return "negative";
	if (s && *s >= '0' && *s <= '9') {
		char *end;

		errno = 0;
		strtoull(s, &end, 0);
		if (errno == ERANGE || (end != s && strchr("kKMGT", *end) &&
					*end && !end[1]))
			return "2^64 bytes or more";
	}
	return "not a size: a number with an optional k, M, G or T suffix";
}

/* "4096", "4k", "128T": the largest suffix that divides b exactly. */
static const char *size_str(uint64_t b, char *buf, size_t len)
{
	static const char suffix[] = "kMGT";
	int u = -1;

	while (u < 3 && b && !(b & 1023)) {
		b >>= 10;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%" PRIu64, b);
	else
		snprintf(buf, len, "%" PRIu64 "%c", b, suffix[u]);
	return buf;
}

int cli_size_arg(const char *cmd, const char *opt, const char *val,
		 uint64_t min, uint64_t max, uint64_t *out)
{
	char why[96], b0[24], b1[24];
	uint64_t v;

	if (!cli_parse_size(val, &v))
		return bad(cmd, opt, val, cli_size_why(val));
	if (v < min || v > max) {
		if (max == UINT64_MAX)
			snprintf(why, sizeof(why), "at least %s",
				 size_str(min, b0, sizeof(b0)));
		else
			snprintf(why, sizeof(why), "from %s to %s",
				 size_str(min, b0, sizeof(b0)),
				 size_str(max, b1, sizeof(b1)));
		return bad(cmd, opt, val, why);
	}
	*out = v;
	return 0;
}

int cli_count_arg(const char *cmd, const char *opt, const char *val,
		  uint64_t min, uint64_t max, uint64_t *out)
{
	char why[64];

	if (cli_parse_count(val, min, max, out))
		return 0;
	snprintf(why, sizeof(why), "a decimal number from %" PRIu64
		 " to %" PRIu64, min, max);
	return bad(cmd, opt, val, why);
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
