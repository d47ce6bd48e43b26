/* SPDX-License-Identifier: MIT */
/*
 * iopgt: the command-line tool. Commands:
 *   demo                      the main job: the library on the simulated
 *                             IOMMU with devices running (demo.c)
 *   bench ops | iova-stress | lookup | writers | reclaim
 *                             measure the library (bench/)
 *   dump                      run a few operations and print the tables
 */
#include <stdbool.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "cli.h"
#include "demo.h"
#include "iopgt.h"

static const char usage[] =
	"usage: iopgt COMMAND [OPTIONS]\n"
	"\n"
	"I/O page tables in real hardware formats.\n"
	"\n"
	"commands:\n"
	"  demo               the main job: a VM's guest RAM with superpages and a\n"
	"                     NIC's rings mapped and unmapped at a high rate on the\n"
	"                     simulated IOMMU while device threads do DMA; every\n"
	"                     translation is checked; ends with 'violations: N'\n"
	"  bench ops          median cost of map/unmap/lookup, with the store\n"
	"                     limit and a cache-missing load measured alongside\n"
	"  bench iova-stress  map and unmap one 4K page every 2 MiB over a span;\n"
	"                     time per pair, table memory, and what its\n"
	"                     syncs cost the format's IOMMU in commands\n"
	"  bench lookup       lookups in a large random set of 4K mappings,\n"
	"                     independent or dependent, against a cache-missing\n"
	"                     load measured alongside\n"
	"  bench writers      N threads mapping and unmapping pages that share\n"
	"                     their tables: ops/s, table allocations per op and\n"
	"                     scaling against 1 thread\n"
	"  bench reclaim      an unmap storm: what the reclaim strategy makes the\n"
	"                     unmapping thread pay, how long pages wait to be\n"
	"                     freed, and how many wait\n"
	"  dump               apply map/unmap operations to a new domain (or\n"
	"                     build the demo's state: --demo) and print its\n"
	"                     table tree\n"
	"  formats            the formats the library offers: granules, address\n"
	"                     sizes, defaults, leaf sizes\n"
	"  help [COMMAND]     this text, or a command's own (the same as\n"
	"                     'iopgt COMMAND --help')\n"
	"  version            print the version (also: iopgt --version)\n"
	"\n"
	"Run 'iopgt COMMAND --help' for a command's options. An option's value\n"
	"may follow it as the next argument or after '=': --ram 2G, --ram=2G;\n"
	"a long option may be shortened to any unique prefix.\n";

static const char bench_usage[] =
	"usage: iopgt bench ops [OPTIONS]\n"
	"       iopgt bench iova-stress [OPTIONS]\n"
	"       iopgt bench lookup --set SIZE [OPTIONS]\n"
	"       iopgt bench writers [OPTIONS]\n"
	"       iopgt bench reclaim [OPTIONS]\n"
	"\n"
	"Measure the library (BENCHMARKS.md has results and the commands that\n"
	"produced them). The texts of the five benchmarks follow; 'iopgt bench\n"
	"BENCHMARK --help' prints one of them.\n"
	"\n";

static const char version_usage[] =
	"usage: iopgt version\n"
	"\n"
	"Print the version of iopgt.\n";

static const char dump_usage[] =
	"usage: iopgt dump [FORMAT OPTIONS] [--entries] [OP...]\n"
	"       iopgt dump --demo [FORMAT OPTIONS] [--entries]\n"
	"\n"
	"Create a domain, apply each OP in order (syncing after each), and print\n"
	"the table tree: one line per table with its level, IOVA span and how\n"
	"many entries are in use; with --entries, one line per non-empty entry.\n"
	"\n"
	"operations (sizes take k, M, G, T suffixes or 0x hex):\n"
	"  map:IOVA:PA:SIZE[:PROT]   PROT letters r w x u m (default rw)\n"
	"  unmap:IOVA:SIZE\n"
	"Without OPs: map 1G+6M at IOVA 1G to PA 2G, then unmap one 4K page at\n"
	"1G+2M+4K (which splits a 2M leaf).\n"
	"\n"
	"--demo: instead of OPs, build a small state of 'iopgt demo' on the\n"
	"simulated IOMMU and print its tables: guest RAM of 1G+4M at IOVA 0\n"
	"mapped with superpages, 8 RX and 3 TX ring buffers of one page each\n"
	"at the middle of the IOVA space (at the start of its upper half where\n"
	"IOVAs are sign-extended). Table addresses are simulated PAs.\n"
	"\n"
	"options:\n"
	"  --entries         also print every non-empty entry\n"
	"  --demo            print the tables of a small demo state (no OPs)\n"
	"  -h, --help        this text\n"
	"\n"
	"format options:\n";

static int parse_prot(const char *s, unsigned *prot)
{
	*prot = 0;
	for (; *s; s++) {
		switch (*s) {
		case 'r': *prot |= IOPGT_PROT_READ; break;
		case 'w': *prot |= IOPGT_PROT_WRITE; break;
		case 'x': *prot |= IOPGT_PROT_EXEC; break;
		case 'u': *prot |= IOPGT_PROT_USER; break;
		case 'm': *prot |= IOPGT_PROT_MMIO; break;
		default: return -1;
		}
	}
	return 0;
}

/* Split "a:b:c" in place into at most n fields. */
static int split_fields(char *s, char **f, int n)
{
	int k = 0;

	while (k < n) {
		f[k++] = s;
		s = strchr(s, ':');
		if (!s)
			break;
		*s++ = 0;
	}
	return s ? -1 : k;
}

/* One operation of `iopgt dump`. */
struct dump_op {
	const char *arg;
	bool map;
	uint64_t iova, pa, size;
	unsigned prot;
};

static int bad_field(const char *what, const char *arg, const char *val,
		     const char *why)
{
	fprintf(stderr, "iopgt dump: bad %s in operation '%s': '%s' (%s)\n",
		what, arg, val, why);
	return -1;
}

/* Parse "map:IOVA:PA:SIZE[:PROT]" or "unmap:IOVA:SIZE" into op; -1 after
 * printing what is wrong. */
static int parse_op(const char *arg, struct dump_op *op)
{
	char buf[256], *f[5];
	int n;

	op->arg = arg;
	op->prot = IOPGT_PROT_READ | IOPGT_PROT_WRITE;
	if (strlen(arg) >= sizeof(buf))
		goto bad;
	snprintf(buf, sizeof(buf), "%s", arg);
	n = split_fields(buf, f, 5);
	if (n >= 4 && n <= 5 && !strcmp(f[0], "map")) {
		op->map = true;
		if (!cli_parse_size(f[1], &op->iova))
			return bad_field("IOVA", arg, f[1],
					 cli_size_why(f[1]));
		if (!cli_parse_size(f[2], &op->pa))
			return bad_field("PA", arg, f[2],
					 cli_size_why(f[2]));
		if (!cli_parse_size(f[3], &op->size))
			return bad_field("SIZE", arg, f[3],
					 cli_size_why(f[3]));
		if (n == 5 && parse_prot(f[4], &op->prot))
			return bad_field("PROT", arg, f[4],
					 "letters r w x u m");
		return 0;
	}
	if (n == 3 && !strcmp(f[0], "unmap")) {
		op->map = false;
		if (!cli_parse_size(f[1], &op->iova))
			return bad_field("IOVA", arg, f[1],
					 cli_size_why(f[1]));
		if (!cli_parse_size(f[2], &op->size))
			return bad_field("SIZE", arg, f[2],
					 cli_size_why(f[2]));
		return 0;
	}
bad:
	fprintf(stderr, "iopgt dump: bad operation '%s' (map:IOVA:PA:SIZE"
			"[:PROT] or unmap:IOVA:SIZE)\n",
		arg);
	return -1;
}

static int run_op(struct iopgt_domain *dom, const struct dump_op *op)
{
	struct iopgt_gather g;
	int r;

	iopgt_gather_init(&g, sizeof(g));
	if (op->map) {
		r = iopgt_map(dom, op->iova, op->pa, op->size, op->prot, &g);
		iopgt_sync(dom, &g);
		if (r) {
			fprintf(stderr, "iopgt: %s: %s\n", op->arg,
				strerror(-r));
			return 1;
		}
	} else {
		int64_t u = iopgt_unmap(dom, op->iova, op->size, &g);
		iopgt_sync(dom, &g);
		if (u < 0) {
			fprintf(stderr, "iopgt: %s: %s\n", op->arg,
				strerror((int)-u));
			return 1;
		}
		printf("# %s: %" PRId64 " bytes unmapped\n", op->arg, u);
	}
	return 0;
}

enum { OPT_ENTRIES = CLI_OPT_CMD, OPT_DEMO, OPT_VERSION };

static int cmd_dump(int argc, char **argv)
{
	static const char *const dflt[] = { "map:1G:2G:0x40600000",
					    "unmap:0x40201000:4k" };
	static const struct option longopts[] = {
		CLI_OPTIONS_FORMAT,
		{ "entries", no_argument, NULL, OPT_ENTRIES },
		{ "demo", no_argument, NULL, OPT_DEMO },
		CLI_OPTION_HELP,
		CLI_OPTIONS_END,
	};
	static const char cmd[] = "iopgt dump";
	struct iopgt_config cfg;
	struct iopgt_domain *dom;
	struct dump_op *ops;
	unsigned flags = 0;
	bool demo = false;
	int c, nops = 0, r = 0;

	cli_opts_begin();
	cli_format_begin(&cfg);
	while ((c = cli_getopt(argc, argv, ":h", longopts, cmd)) != -1) {
		int k = cli_format_opt(cmd, c, optarg, &cfg);

		if (k < 0)
			return cli_usage_error(cmd);
		if (k)
			continue;
		switch (c) {
		case OPT_ENTRIES:
			flags |= IOPGT_DUMP_ENTRIES;
			break;
		case OPT_DEMO:
			demo = true;
			break;
		case 'h':
			printf("%s%s", dump_usage, cli_format_help());
			return 0;
		default:
			return cli_usage_error(cmd);
		}
	}
	if (cli_format_end(cmd, &cfg))
		return cli_usage_error(cmd);
	if (demo) {
		if (optind < argc) {
			fprintf(stderr, "iopgt dump: --demo takes no OPs\n");
			return cli_usage_error(cmd);
		}
		return demo_dump(&cfg, flags);
	}
	ops = calloc((size_t)argc + 2, sizeof(*ops));
	if (!ops)
		return 1;
	for (int i = optind; i < argc; i++)
		if (parse_op(argv[i], &ops[nops++]))
			goto usage;
	if (!nops) {
		parse_op(dflt[0], &ops[0]);
		parse_op(dflt[1], &ops[1]);
		nops = 2;
	}
	r = iopgt_domain_create(&cfg, &dom);
	if (r) {
		fprintf(stderr, "iopgt: cannot create a %s domain: %s\n",
			cli_format_desc(&cfg), strerror(-r));
		free(ops);
		return 1;
	}
	for (int i = 0; i < nops && !r; i++)
		r = run_op(dom, &ops[i]);
	if (!r && iopgt_dump(dom, cli_print_line, stdout, flags))
		r = 1;
	iopgt_domain_destroy(dom);
	free(ops);
	return r;
usage:
	free(ops);
	return cli_usage_error(cmd);
}

static int run_command(int argc, char **argv);

/* iopgt help [COMMAND [BENCHMARK]]: COMMAND [BENCHMARK] --help. */
static int cmd_help(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_OPTION_HELP,
		CLI_OPTIONS_END,
	};
	char *sub[4];
	int c, n = 0;

	cli_opts_begin();
	while ((c = cli_getopt(argc, argv, "+:h", longopts, "iopgt help")) !=
	       -1) {
		if (c != 'h')
			return cli_usage_error("iopgt help");
		break;
	}
	if (c != -1 || optind >= argc) {
		fputs(usage, stdout);
		return 0;
	}
	if (argc - optind > 2) {
		fprintf(stderr, "iopgt help: too many arguments\n");
		return cli_usage_error("iopgt help");
	}
	for (int i = optind; i < argc; i++)
		sub[n++] = argv[i];
	sub[n++] = "--help";
	sub[n] = NULL;
	return run_command(n, sub);
}

static const char formats_usage[] =
	"usage: iopgt formats [--configs | --defaults | --growing]\n"
	"\n"
	"List the formats the library offers, from its format registry\n"
	"(iopgt_format_info()): name, granules, input and output address\n"
	"sizes with their defaults, the leaf sizes and levels of the default\n"
	"configuration, the protections iopgt_map() accepts (r read, w write,\n"
	"x exec, u user, m mmio), whether the hardware keeps dirty state and\n"
	"whether a domain's root can grow (--ias-max).\n"
	"\n"
	"options:\n"
	"  --configs         instead, one line of format options per granule\n"
	"                    and level count each format offers (the largest\n"
	"                    ias, then the largest multiple of 4 below it at\n"
	"                    which the levels drop), for scripts that loop\n"
	"                    over configurations\n"
	"  --defaults        instead, one line of format options per format, at\n"
	"                    its defaults\n"
	"  --growing         instead, one line of format options per format\n"
	"                    whose root can grow: from the fewest levels to\n"
	"                    the largest ias\n"
	"  -h, --help        this text\n";

/* "4k, 16k, 64k" from a bitmap of log2 sizes. */
static const char *lg2_set(uint64_t set, char *buf, size_t len)
{
	static const char suffix[] = "kMGTPE";
	size_t at = 0;

	buf[0] = 0;
	for (unsigned b = 0; b < 64 && at < len; b++)
		if (set & (UINT64_C(1) << b))
			at += (size_t)snprintf(
				buf + at, len - at, "%s%u%c", at ? ", " : "",
				1u << (b % 10), b < 10 ? ' ' : suffix[b / 10 - 1]);
	return buf;
}

/* The option line of `iopgt formats --growing` for one format, if its
 * root can grow: its default granule, the fewest levels, up to its
 * largest ias. */
static void print_growing(const struct iopgt_format_info *f)
{
	struct iopgt_config cfg;

	if (!(f->flags & IOPGT_FORMAT_GROWS))
		return;
	iopgt_config_init(&cfg, sizeof(cfg), f->format);
	for (unsigned ias = f->ias_min; ias < f->ias_max; ias++) {
		cfg.ias = ias;
		if (ias == cfg.granule + (cfg.granule - 3) * cli_levels(&cfg)) {
			printf("--format %s --ias %u --ias-max %u\n", f->name,
			       ias, f->ias_max);
			return;
		}
	}
}

/* The option lines of `iopgt formats --configs` for one format. */
static void print_configs(const struct iopgt_format_info *f)
{
	for (unsigned g = 0; g < 64; g++) {
		struct iopgt_config cfg;
		unsigned last = 0;

		if (!(f->granules & (UINT64_C(1) << g)))
			continue;
		iopgt_config_init(&cfg, sizeof(cfg), f->format);
		cfg.granule = g;
		for (unsigned ias = f->ias_max; ias >= f->ias_min; ias--) {
			unsigned l;

			if (ias != f->ias_max && ias % 4)
				continue;
			cfg.ias = ias;
			l = cli_levels(&cfg);
			if (!l || (last && l >= last))
				continue;
			last = l;
			printf("--format %s --granule %uk --ias %u\n", f->name,
			       (1u << g) >> 10, ias);
		}
	}
}

static int cmd_formats(int argc, char **argv)
{
	enum { OPT_CONFIGS = CLI_OPT_CMD, OPT_DEFAULTS, OPT_GROWING };
	static const struct option longopts[] = {
		CLI_OPTION_HELP,
		{ "configs", no_argument, NULL, OPT_CONFIGS },
		{ "defaults", no_argument, NULL, OPT_DEFAULTS },
		{ "growing", no_argument, NULL, OPT_GROWING },
		CLI_OPTIONS_END,
	};
	const struct iopgt_format_info *f;
	unsigned n = cli_formats(&f);
	int c, mode = 0;

	cli_opts_begin();
	while ((c = cli_getopt(argc, argv, ":h", longopts, "iopgt formats")) !=
	       -1) {
		if (c == 'h') {
			fputs(formats_usage, stdout);
			return 0;
		}
		if (c != OPT_CONFIGS && c != OPT_DEFAULTS && c != OPT_GROWING)
			return cli_usage_error("iopgt formats");
		if (mode && mode != c) {
			fprintf(stderr, "iopgt formats: --configs, --defaults "
					"and --growing exclude each other\n");
			return cli_usage_error("iopgt formats");
		}
		mode = c;
	}
	if (optind < argc) {
		fprintf(stderr, "iopgt formats: unexpected argument '%s'\n",
			argv[optind]);
		return cli_usage_error("iopgt formats");
	}
	for (unsigned i = 0; i < n; i++) {
		char g[96], l[160], p[256];
		size_t at = 0;
		bool some;

		if (mode == OPT_CONFIGS) {
			print_configs(&f[i]);
			continue;
		}
		if (mode == OPT_DEFAULTS) {
			printf("--format %s\n", f[i].name);
			continue;
		}
		if (mode == OPT_GROWING) {
			print_growing(&f[i]);
			continue;
		}
		p[0] = 0;
		for (unsigned prot = 1; prot < 32 && at + 8 < sizeof(p); prot++) {
			if (!(f[i].prots & (UINT32_C(1) << prot)))
				continue;
			if (at)
				p[at++] = ' ';
			for (unsigned b = 0; b < 5; b++)
				if (prot & (1u << b))
					p[at++] = "rwxum"[b];
			p[at] = 0;
		}
		printf("%s: %s\n", f[i].name, f[i].description);
		printf("  granules     %s (default %uk)\n",
		       lg2_set(f[i].granules, g, sizeof(g)),
		       (1u << f[i].granule_default) >> 10);
		printf("  ias          %u..%u (default %u)%s\n", f[i].ias_min,
		       f[i].ias_max, f[i].ias_default,
		       f[i].flags & IOPGT_FORMAT_IAS_WITHIN_OAS
			       ? ", at most the oas"
			       : "");
		at = 0;
		g[0] = 0;
		for (unsigned b = 0; b < 64 && at < sizeof(g); b++)
			if (f[i].oas_values & (UINT64_C(1) << b))
				at += (size_t)snprintf(g + at, sizeof(g) - at,
						       "%s%u", at ? " " : "", b);
		some = (unsigned)__builtin_popcountll(f[i].oas_values) !=
		       f[i].oas_max - f[i].oas_min + 1;
		printf("  oas          %u..%u (default %u)%s%s\n", f[i].oas_min,
		       f[i].oas_max, f[i].oas_default, some ? ", only " : "",
		       some ? g : "");
		printf("  default      %u levels, leaves %s\n",
		       f[i].levels_default,
		       lg2_set(f[i].leaf_sizes, l, sizeof(l)));
		printf("  prots        %s\n", p);
		printf("  dirty        %s\n", f[i].flags & IOPGT_FORMAT_DIRTY
						   ? "tracked by the hardware"
						   : "not kept");
		printf("  snoop        %s\n",
		       f[i].flags & IOPGT_FORMAT_SNOOP
			       ? "forced in every leaf on request "
				 "(IOPGT_OPT_FORCE_SNOOP)"
			       : "not expressed");
		printf("  grows        %s\n",
		       f[i].flags & IOPGT_FORMAT_GROWS
			       ? "the root, as maps need (--ias-max, "
				 "iopgt_config.ias_max)"
			       : "no: the levels are fixed");
		printf("  iommu        %s, %s stage (its invalidation commands: "
		       "iopgt_inval_encode, demo --iommu)\n",
		       iopgt_iommu_name((enum iopgt_iommu)f[i].iommu),
		       f[i].flags & IOPGT_FORMAT_FIRST_STAGE ? "first"
							     : "second");
	}
	return 0;
}

static int cmd_version(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_OPTION_HELP,
		CLI_OPTIONS_END,
	};
	int c;

	cli_opts_begin();
	while ((c = cli_getopt(argc, argv, ":h", longopts, "iopgt version")) !=
	       -1) {
		if (c != 'h')
			return cli_usage_error("iopgt version");
		fputs(version_usage, stdout);
		return 0;
	}
	if (optind < argc) {
		fprintf(stderr, "iopgt version: unexpected argument '%s'\n",
			argv[optind]);
		return cli_usage_error("iopgt version");
	}
	printf("iopgt %d.%d\n", IOPGT_VERSION_MAJOR, IOPGT_VERSION_MINOR);
	return 0;
}

static int cmd_bench(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_OPTION_HELP,
		CLI_OPTIONS_END,
	};
	char *ops[] = { "ops", "--help", NULL };
	char *stress[] = { "iova-stress", "--help", NULL };
	char *lookup[] = { "lookup", "--help", NULL };
	char *writers[] = { "writers", "--help", NULL };
	char *reclaim[] = { "reclaim", "--help", NULL };
	const char *name;
	int c, r;

	cli_opts_begin();
	while ((c = cli_getopt(argc, argv, "+:h", longopts, "iopgt bench")) !=
	       -1) {
		if (c != 'h')
			return cli_usage_error("iopgt bench");
		fputs(bench_usage, stdout);
		r = bench_ops_main(2, ops);
		putchar('\n');
		r |= bench_stress_main(2, stress);
		putchar('\n');
		r |= bench_lookup_main(2, lookup);
		putchar('\n');
		r |= bench_writers_main(2, writers);
		putchar('\n');
		return r | bench_reclaim_main(2, reclaim);
	}
	if (optind >= argc) {
		fprintf(stderr, "iopgt bench: which benchmark? ops, "
				"iova-stress, lookup, writers or reclaim\n");
		return cli_usage_error("iopgt bench");
	}
	name = argv[optind];
	argc -= optind;
	argv += optind;
	if (!strcmp(name, "ops"))
		return bench_ops_main(argc, argv);
	if (!strcmp(name, "iova-stress"))
		return bench_stress_main(argc, argv);
	if (!strcmp(name, "lookup"))
		return bench_lookup_main(argc, argv);
	if (!strcmp(name, "writers"))
		return bench_writers_main(argc, argv);
	if (!strcmp(name, "reclaim"))
		return bench_reclaim_main(argc, argv);
	fprintf(stderr, "iopgt bench: unknown benchmark '%s' (ops, "
			"iova-stress, lookup, writers or reclaim)\n",
		name);
	return cli_usage_error("iopgt bench");
}

/* argv[0] is the command. */
static int run_command(int argc, char **argv)
{
	const char *cmd = argv[0];

	if (!strcmp(cmd, "help"))
		return cmd_help(argc, argv);
	if (!strcmp(cmd, "version"))
		return cmd_version(argc, argv);
	if (!strcmp(cmd, "demo"))
		return demo_main(argc, argv);
	if (!strcmp(cmd, "dump"))
		return cmd_dump(argc, argv);
	if (!strcmp(cmd, "formats"))
		return cmd_formats(argc, argv);
	if (!strcmp(cmd, "bench"))
		return cmd_bench(argc, argv);
	fprintf(stderr, "iopgt: unknown command '%s'\n", cmd);
	fprintf(stderr, "Run 'iopgt --help' for the commands.\n");
	return 2;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_OPTION_HELP,
		{ "version", no_argument, NULL, OPT_VERSION },
		CLI_OPTIONS_END,
	};
	char *version[] = { "version", NULL };
	int c;

	cli_opts_begin();
	while ((c = cli_getopt(argc, argv, "+:h", longopts, "iopgt")) != -1) {
		if (c == 'h') {
			fputs(usage, stdout);
			return 0;
		}
		if (c == OPT_VERSION)
			return run_command(1, version);
		fprintf(stderr, "Run 'iopgt --help' for the commands.\n");
		return 2;
	}
	if (optind >= argc) {
		fputs(usage, stderr);
		return 2;
	}
	return run_command(argc - optind, argv + optind);
}
