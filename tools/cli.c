/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* ---- formats: everything from the library's registry ----
 * (iopgt_format_info(); `iopgt formats` lists it). */

#define MAX_FORMATS 32

/* The registry, read once. */
static struct iopgt_format_info fmts[MAX_FORMATS];
static unsigned nfmts;

unsigned cli_formats(const struct iopgt_format_info **out)
{
	if (!nfmts)
		while (nfmts < MAX_FORMATS &&
		       !iopgt_format_info(nfmts, &fmts[nfmts],
					  sizeof(fmts[nfmts])))
			nfmts++;
	*out = fmts;
	return nfmts;
}

const struct iopgt_format_info *cli_format_find(enum iopgt_format format)
{
	const struct iopgt_format_info *f;
	unsigned n = cli_formats(&f);

	for (unsigned i = 0; i < n; i++)
		if (f[i].format == format)
			return &f[i];
	return NULL;
}

/* "4k", "16k", "64k", "2M": the usual name of 2^lg2 bytes. */
static const char *lg2_str(unsigned lg2, char *buf, size_t len)
{
	static const char suffix[] = "kMGTPE";

	if (lg2 < 10)
		snprintf(buf, len, "%u", 1u << lg2);
	else
		snprintf(buf, len, "%u%c", 1u << (lg2 % 10),
			 suffix[lg2 / 10 - 1]);
	return buf;
}

/* The set bits of a bitmap of log2 sizes, as "4k, 16k or 64k". */
static const char *lg2_list(uint64_t set, char *buf, size_t len)
{
	unsigned n = (unsigned)__builtin_popcountll(set), k = 0;
	size_t at = 0;
	char one[16];

	buf[0] = 0;
	for (unsigned b = 0; b < 64 && at < len; b++) {
		if (!(set & (UINT64_C(1) << b)))
			continue;
		k++;
		at += (size_t)snprintf(buf + at, len - at, "%s%s",
				       k == 1 ? "" : k == n ? " or " : ", ",
				       lg2_str(b, one, sizeof(one)));
	}
	return buf;
}

/* The format names, as "x86_64, arm_s2 or ..." (sep " or " last) or
 * "x86_64|arm_s2" (bar). */
static const char *names_list(bool bar, char *buf, size_t len)
{
	const struct iopgt_format_info *f;
	unsigned n = cli_formats(&f);
	size_t at = 0;

	buf[0] = 0;
	for (unsigned i = 0; i < n && at < len; i++)
		at += (size_t)snprintf(buf + at, len - at, "%s%s",
				       !i ? "" : bar ? "|" : i + 1 == n ? " or " : ", ",
				       f[i].name);
	return buf;
}

const char *cli_format_help(void)
{
	static char help[2048];
	const struct iopgt_format_info *f;
	unsigned n = cli_formats(&f);
	char names[256], g[64];
	size_t at;

	at = (size_t)snprintf(help, sizeof(help),
			      "  --format F        %s (default %s; 'iopgt "
			      "formats' lists them)\n"
			      "  --granule G       the smallest page:",
			      names_list(false, names, sizeof(names)),
			      n ? f[0].name : "none");
	for (unsigned i = 0; i < n && at < sizeof(help); i++)
		at += (size_t)snprintf(help + at, sizeof(help) - at, "%s %s %s",
				       i ? ";" : "", f[i].name,
				       lg2_list(f[i].granules, g, sizeof(g)));
	if (at < sizeof(help))
		snprintf(help + at, sizeof(help) - at,
			 "\n"
			 "                    (the first listed is the default)\n"
			 "  --levels N        levels walked: the largest --ias that "
			 "gives N levels\n"
			 "  --ias N, --oas N  input / output address bits (format "
			 "defaults; where the\n"
			 "                    ias may not exceed the oas, --oas "
			 "alone lowers it)\n"
			 "  --leaf-sizes L    the leaf sizes to use, e.g. "
			 "4k,2M,1G (default: all the\n"
			 "                    format offers; 'iopgt formats' "
			 "lists them)\n"
			 "  --ias-max N       a root that grows, as maps need, "
			 "up to N input bits\n"
			 "                    (formats that grow: 'iopgt "
			 "formats' says so); the ias\n"
			 "                    must fill its levels (amdv1: 39, "
			 "48 or 57)\n"
			 "  --gather-policy P what a gather keeps: merge (up to "
			 "8 ranges, the closest\n"
			 "                    merged when full; default), union "
			 "(one range), early\n"
			 "                    (8 ranges, flushed when full) or "
			 "disjoint (one range,\n"
			 "                    flushed when a change is "
			 "disjoint from it)\n");
	return help;
}

static int levels_opt, ias_opt, oas_opt, granule_opt, ias_max_opt;
static uint64_t leaf_sizes_opt;
static int gather_policy_opt; /* policy + 1; 0: not given */

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
	const struct iopgt_format_info *f;

	/* The registry's first format is the default. */
	if (cli_formats(&f))
		iopgt_config_init(cfg, sizeof(*cfg), f[0].format);
	levels_opt = ias_opt = oas_opt = granule_opt = ias_max_opt = 0;
	leaf_sizes_opt = 0;
	gather_policy_opt = 0;
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
	case CLI_OPT_GATHER_POLICY: {
		unsigned p;

		for (p = 0; p < IOPGT_GATHER_POLICIES; p++)
			if (val && !strcmp(val, iopgt_gather_policy_name(p)))
				break;
		if (p == IOPGT_GATHER_POLICIES)
			return bad(cmd, "--gather-policy", val,
				   "merge, union, early or disjoint");
		gather_policy_opt = (int)p + 1;
		break;
	}
	case CLI_OPT_FORMAT: {
		const struct iopgt_format_info *f;
		unsigned n = cli_formats(&f), i;
		char names[256];

		for (i = 0; i < n; i++)
			if (val && !strcmp(val, f[i].name))
				break;
		if (i == n)
			return bad(cmd, "--format", val,
				   names_list(false, names, sizeof(names)));
		iopgt_config_init(cfg, sizeof(*cfg), f[i].format);
		break;
	}
	case CLI_OPT_LEVELS:
		if (cli_count_arg(cmd, "--levels", val, 1, 8, &v))
			return -1;
		levels_opt = (int)v;
		break;
	case CLI_OPT_GRANULE: {
		const struct iopgt_format_info *f;
		unsigned n = cli_formats(&f);
		uint64_t all = 0;
		char g[64];

		for (unsigned i = 0; i < n; i++)
			all |= f[i].granules;
		if (!cli_parse_size(val, &v) || !v || (v & (v - 1)) ||
		    !(all & (UINT64_C(1) << __builtin_ctzll(v))))
			return bad(cmd, "--granule", val,
				   lg2_list(all, g, sizeof(g)));
		granule_opt = __builtin_ctzll(v);
		break;
	}
	case CLI_OPT_LEAF_SIZES: {
		/* A comma-separated list of powers of two. */
		char buf[256], *tok, *comma;
		uint64_t all = 0;

		if (!val || strlen(val) >= sizeof(buf))
			return bad(cmd, "--leaf-sizes", val,
				   "a list such as 4k,2M,1G");
		strcpy(buf, val);
		for (tok = buf; tok; tok = comma ? comma + 1 : NULL) {
			if ((comma = strchr(tok, ',')))
				*comma = 0;
			if (!cli_parse_size(tok, &v) || !v || (v & (v - 1)))
				return bad(cmd, "--leaf-sizes", val,
					   "each size a power of two, such as "
					   "4k,2M,1G");
			all |= v;
		}
		if (!all)
			return bad(cmd, "--leaf-sizes", val,
				   "a list such as 4k,2M,1G");
		leaf_sizes_opt = all;
		break;
	}
	case CLI_OPT_IAS_MAX:
		if (cli_count_arg(cmd, "--ias-max", val, 1, 64, &v))
			return -1;
		ias_max_opt = (int)v;
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

/* The levels a domain of cfg walks (with the built-in allocator and no
 * callbacks), or 0 if cfg is not accepted. */
unsigned cli_levels(const struct iopgt_config *cfg)
{
	struct iopgt_config c;
	struct iopgt_domain *dom;
	struct iopgt_info info;

	if (iopgt_config_init(&c, sizeof(c), cfg->format))
		return 0;
	c.granule = cfg->granule;
	c.ias = cfg->ias;
	c.oas = cfg->oas;
	c.segment_size = UINT64_C(2) << c.granule;
	if (iopgt_domain_create(&c, &dom))
		return 0;
	iopgt_domain_info(dom, &info, sizeof(info));
	iopgt_domain_destroy(dom);
	return info.levels;
}

int cli_format_end(const char *cmd, struct iopgt_config *cfg)
{
	const struct iopgt_format_info *f = cli_format_find(cfg->format);
	char g[64], why[128];

	if (!f)
		return -1;
	if (granule_opt) {
		if (!(f->granules & (UINT64_C(1) << granule_opt))) {
			fprintf(stderr,
				"%s: --granule %s: %s offers %s\n", cmd,
				lg2_str((unsigned)granule_opt, why, sizeof(why)),
				f->name, lg2_list(f->granules, g, sizeof(g)));
			return -1;
		}
		cfg->granule = (unsigned)granule_opt;
	}
	if (oas_opt)
		cfg->oas = (unsigned)oas_opt;
	cfg->leaf_sizes = leaf_sizes_opt;
	if (gather_policy_opt)
		cfg->gather_policy = (unsigned)gather_policy_opt - 1;
	if (levels_opt) {
		/* The largest ias with that many levels (and that oas). */
		unsigned ias, have = 0, lo = 64, hi = 0;
		for (ias = f->ias_max; ias >= f->ias_min; ias--) {
			unsigned l;
			cfg->ias = ias;
			l = cli_levels(cfg);
			if (l && l < lo)
				lo = l;
			if (l > hi)
				hi = l;
			if (l == (unsigned)levels_opt && !have)
				have = ias;
		}
		if (!have) {
			char v[16];
			snprintf(v, sizeof(v), "%d", levels_opt);
			if (lo == hi)
				snprintf(why, sizeof(why), "%s walks %u levels",
					 f->name, lo);
			else
				snprintf(why, sizeof(why),
					 "%s walks %u to %u levels", f->name,
					 lo, hi);
			bad(cmd, "--levels", v, why);
			return -1;
		}
		cfg->ias = have;
	}
	if (ias_opt)
		cfg->ias = (unsigned)ias_opt;
	else if (!levels_opt && (f->flags & IOPGT_FORMAT_IAS_WITHIN_OAS) &&
		 cfg->ias > cfg->oas && cfg->oas >= f->ias_min)
		cfg->ias = cfg->oas; /* the default ias, bounded by --oas */
	if (ias_max_opt) {
		char v[16];

		snprintf(v, sizeof(v), "%d", ias_max_opt);
		if (!(f->flags & IOPGT_FORMAT_GROWS))
			return bad(cmd, "--ias-max", v,
				   "this format's root cannot grow");
		if ((unsigned)ias_max_opt <= cfg->ias ||
		    (unsigned)ias_max_opt > f->ias_max) {
			snprintf(why, sizeof(why),
				 "above the ias (%u), at most %u", cfg->ias,
				 f->ias_max);
			return bad(cmd, "--ias-max", v, why);
		}
		if (cfg->ias != cfg->granule + (cfg->granule - 3) *
						    cli_levels(cfg)) {
			snprintf(why, sizeof(why),
				 "the ias (%u) must fill its levels to grow",
				 cfg->ias);
			return bad(cmd, "--ias-max", v, why);
		}
		cfg->ias_max = (unsigned)ias_max_opt;
		cfg->grow = cli_grow_none;
		cfg->grow_arg = NULL;
	}
	return 0;
}

int cli_grow_none(void *arg, const struct iopgt_hw_config *hw)
{
	(void)arg;
	(void)hw;
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

/* A format with one granule is told by its levels ("x86_64 4-level"),
 * one with several by granule and ias ("arm_s2 16k ias 48"). */
const char *cli_format_desc(const struct iopgt_config *cfg)
{
	static char buf[96];
	const struct iopgt_format_info *f = cli_format_find(cfg->format);
	unsigned levels;
	char g[16];

	if (!f) {
		snprintf(buf, sizeof(buf), "format %u ias %u",
			 (unsigned)cfg->format, cfg->ias);
	} else if (__builtin_popcountll(f->granules) > 1) {
		snprintf(buf, sizeof(buf), "%s %s ias %u", f->name,
			 lg2_str(cfg->granule, g, sizeof(g)), cfg->ias);
	} else if ((levels = cli_levels(cfg))) {
		snprintf(buf, sizeof(buf), "%s %u-level", f->name, levels);
	} else {
		snprintf(buf, sizeof(buf), "%s ias %u", f->name, cfg->ias);
	}
	return buf;
}

int cli_print_line(void *arg, const char *line)
{
	return fputs(line, arg) < 0 ? -EIO : 0;
}

uint64_t cli_cmd_bytes(const struct iopgt_inval_cmd *cmd, int n,
		       uint64_t *global)
{
	uint64_t bytes = 0;

	for (int j = 0; j < n; j++) {
		if (cmd[j].last < cmd[j].iova)
			continue; /* a sync */
		if (!cmd[j].iova && cmd[j].last == UINT64_MAX) {
			if (global)
				(*global)++;
			continue;
		}
		bytes += cmd[j].last - cmd[j].iova + 1;
	}
	return bytes;
}
