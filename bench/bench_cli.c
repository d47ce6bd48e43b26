/* SPDX-License-Identifier: MIT */
#include <stdio.h>

#include "bench_cli.h"
#include "cli.h"
#include "strategy.h"

void bench_opts_begin(struct iopgt_config *cfg)
{
	cli_opts_begin();
	cli_format_begin(cfg);
}

int bench_getopt(int argc, char **argv, const struct option *longopts,
		 const char *cmd, const char *usage, struct iopgt_config *cfg)
{
	int opt, f;

	while ((opt = cli_getopt(argc, argv, ":h", longopts, cmd)) != -1) {
		f = cli_format_opt(cmd, opt, optarg, cfg);
		if (f < 0)
			return BENCH_OPT_BAD;
		if (f)
			continue;
		if (opt == 'h') {
			printf("%s%s\nreclaim strategy:\n%s", usage,
			       cli_format_help(), cli_strategy_help());
			return BENCH_OPT_HELP;
		}
		return opt;
	}
	return -1;
}

int bench_opts_end(int argc, char **argv, const char *cmd,
		   struct iopgt_config *cfg)
{
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", cmd,
			argv[optind]);
		return -1;
	}
	return cli_format_end(cmd, cfg) ? -1 : 0;
}
