/* SPDX-License-Identifier: MIT */
/*
 * iopgt: the command-line tool. Commands:
 *   demo                      the main job: the library on the simulated
 *                             IOMMU with devices running (demo.c)
 *   bench ops | iova-stress   measure the library (bench/)
 *   dump                      run a few operations and print the tables
 */
#include <errno.h>
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
	"                     time per pair and table memory\n"
	"  dump               apply map/unmap operations to a new domain (or\n"
	"                     build the demo's state: --demo) and print its\n"
	"                     table tree\n"
	"  help [COMMAND]     this text, or a command's own\n"
	"  version            print the version\n"
	"\n"
	"Run 'iopgt COMMAND --help' for a command's options.\n";

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
	"at the middle of the IOVA space. Table addresses are simulated PAs.\n"
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

static int run_op(struct iopgt_domain *dom, const char *arg)
{
	char buf[256], *f[5];
	struct iopgt_gather g;
	uint64_t iova, pa, size;
	unsigned prot = IOPGT_PROT_READ | IOPGT_PROT_WRITE;
	int n, r;

	snprintf(buf, sizeof(buf), "%s", arg);
	n = split_fields(buf, f, 5);
	iopgt_gather_init(&g, sizeof(g));
	if (n >= 4 && n <= 5 && !strcmp(f[0], "map") &&
	    cli_parse_size(f[1], &iova) && cli_parse_size(f[2], &pa) &&
	    cli_parse_size(f[3], &size) && (n < 5 || !parse_prot(f[4], &prot))) {
		r = iopgt_map(dom, iova, pa, size, prot, &g);
		iopgt_sync(dom, &g);
		if (r) {
			fprintf(stderr, "iopgt: %s: %s\n", arg, strerror(-r));
			return 1;
		}
		return 0;
	}
	if (n == 3 && !strcmp(f[0], "unmap") && cli_parse_size(f[1], &iova) &&
	    cli_parse_size(f[2], &size)) {
		int64_t u = iopgt_unmap(dom, iova, size, &g);
		iopgt_sync(dom, &g);
		if (u < 0) {
			fprintf(stderr, "iopgt: %s: %s\n", arg, strerror((int)-u));
			return 1;
		}
		printf("# %s: %" PRId64 " bytes unmapped\n", arg, u);
		return 0;
	}
	fprintf(stderr, "iopgt: bad operation '%s' (see iopgt dump --help)\n",
		arg);
	return 2;
}

static int cmd_dump(int argc, char **argv)
{
	static const char *const dflt[] = { "map:1G:2G:0x40600000",
					    "unmap:0x40201000:4k" };
	struct iopgt_config cfg;
	struct iopgt_domain *dom;
	const char **ops = NULL;
	unsigned flags = 0;
	bool demo = false;
	int nops = 0, r = 0;

	cli_format_begin(&cfg);
	ops = calloc((size_t)argc + 2, sizeof(*ops));
	if (!ops)
		return 1;
	for (int i = 1; i < argc; i++) {
		int k = cli_format_opt(argc, argv, &i, &cfg);
		if (k < 0)
			goto usage;
		if (k)
			continue;
		if (!strcmp(argv[i], "--entries"))
			flags |= IOPGT_DUMP_ENTRIES;
		else if (!strcmp(argv[i], "--demo"))
			demo = true;
		else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf("%s%s", dump_usage, cli_format_help);
			free(ops);
			return 0;
		} else if (argv[i][0] == '-')
			goto usage;
		else
			ops[nops++] = argv[i];
	}
	if (cli_format_end(&cfg))
		goto usage;
	if (demo) {
		free(ops);
		if (nops) {
			fprintf(stderr, "iopgt: dump --demo takes no OPs\n");
			return 2;
		}
		return demo_dump(&cfg, flags);
	}
	if (!nops) {
		ops[0] = dflt[0];
		ops[1] = dflt[1];
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
		r = run_op(dom, ops[i]);
	if (!r && iopgt_dump(dom, cli_print_line, stdout, flags))
		r = 1;
	iopgt_domain_destroy(dom);
	free(ops);
	return r;
usage:
	fprintf(stderr, "%s%s", dump_usage, cli_format_help);
	free(ops);
	return 2;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	if (!cmd || !strcmp(cmd, "help") || !strcmp(cmd, "--help") ||
	    !strcmp(cmd, "-h")) {
		if (cmd && argc > 2 && !strcmp(cmd, "help")) {
			char *sub[] = { argv[2], "--help", NULL };
			char *ops[] = { "ops", "--help", NULL };
			char *stress[] = { "iova-stress", "--help", NULL };
			if (!strcmp(argv[2], "dump"))
				return cmd_dump(2, sub);
			if (!strcmp(argv[2], "demo"))
				return demo_main(2, sub);
			if (!strcmp(argv[2], "bench")) {
				bench_ops_main(2, ops);
				putchar('\n');
				return bench_stress_main(2, stress);
			}
		}
		fputs(usage, cmd ? stdout : stderr);
		return cmd ? 0 : 2;
	}
	if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
		printf("iopgt %d.%d\n", IOPGT_VERSION_MAJOR, IOPGT_VERSION_MINOR);
		return 0;
	}
	if (!strcmp(cmd, "demo"))
		return demo_main(argc - 1, argv + 1);
	if (!strcmp(cmd, "dump"))
		return cmd_dump(argc - 1, argv + 1);
	if (!strcmp(cmd, "bench")) {
		if (argc > 2 && !strcmp(argv[2], "ops"))
			return bench_ops_main(argc - 2, argv + 2);
		if (argc > 2 && !strcmp(argv[2], "iova-stress"))
			return bench_stress_main(argc - 2, argv + 2);
		fprintf(stderr, "usage: iopgt bench ops|iova-stress [OPTIONS]\n");
		return 2;
	}
	fprintf(stderr, "iopgt: unknown command '%s'\n\n%s", cmd, usage);
	return 2;
}
