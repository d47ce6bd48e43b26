/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>

#include <urcu/flavor.h>

#include "strategy.h"

/* liburcu's flavor tables (one library each: liburcu-memb, -mb, -qsbr,
 * -bp). Their own headers cannot share one translation unit (each maps
 * rcu_read_lock and the rest to its own names), so the tables are named
 * here as each library exports them. */
extern const struct rcu_flavor_struct urcu_memb_flavor, urcu_mb_flavor,
	urcu_qsbr_flavor, urcu_bp_flavor;

static const struct cli_strategy strategies[] = {
	{ "epoch", IOPGT_STRATEGY_EPOCH, NULL, false },
	{ "after-flush", IOPGT_STRATEGY_AFTER_FLUSH, NULL, false },
	{ "worker", IOPGT_STRATEGY_WORKER, NULL, false },
	{ "rcu-memb", IOPGT_STRATEGY_RCU, &urcu_memb_flavor, false },
	{ "rcu-mb", IOPGT_STRATEGY_RCU, &urcu_mb_flavor, false },
	{ "rcu-qsbr", IOPGT_STRATEGY_RCU, &urcu_qsbr_flavor, true },
	{ "rcu-bp", IOPGT_STRATEGY_RCU, &urcu_bp_flavor, false },
};
#define N_STRATEGIES (sizeof(strategies) / sizeof(strategies[0]))

const struct cli_strategy *cli_strategies(unsigned *n)
{
	*n = N_STRATEGIES;
	return strategies;
}

const struct cli_strategy *cli_strategy_find(const char *name)
{
	if (!strcmp(name, "rcu"))
		name = "rcu-memb";
	for (unsigned i = 0; i < N_STRATEGIES; i++)
		if (!strcmp(strategies[i].name, name))
			return &strategies[i];
	return NULL;
}

int cli_strategy_arg(const char *cmd, const char *val,
		     const struct cli_strategy **out)
{
	*out = cli_strategy_find(val);
	if (*out)
		return 0;
	fprintf(stderr, "%s: bad value for --strategy: '%s' (one of epoch, "
			"after-flush, worker, rcu, rcu-memb, rcu-mb, rcu-qsbr, "
			"rcu-bp)\n",
		cmd, val);
	return -1;
}

void cli_strategy_apply(const struct cli_strategy *s, struct iopgt_config *cfg)
{
	cfg->strategy = s->strategy;
	cfg->rcu_flavor = s->flavor;
}

void cli_strategy_thread_begin(const struct cli_strategy *s)
{
	if (s->flavor)
		s->flavor->register_thread();
}

void cli_strategy_thread_end(const struct cli_strategy *s)
{
	if (s->flavor)
		s->flavor->unregister_thread();
}

void cli_strategy_quiescent(const struct cli_strategy *s)
{
	if (s->qsbr)
		s->flavor->read_quiescent_state();
}

void cli_strategy_offline(const struct cli_strategy *s)
{
	if (s->qsbr)
		s->flavor->thread_offline();
}

void cli_strategy_online(const struct cli_strategy *s)
{
	if (s->qsbr)
		s->flavor->thread_online();
}

void cli_strategy_barrier(const struct cli_strategy *s)
{
	if (s->flavor)
		s->flavor->barrier();
}

const char *cli_strategy_help(void)
{
	return "  --strategy S      how unlinked tables are freed: epoch "
	       "(default),\n"
	       "                    after-flush (callers serialize every "
	       "call), worker\n"
	       "                    (a thread of the domain frees), or RCU\n"
	       "                    with liburcu's flavor: rcu-memb (or rcu), "
	       "rcu-mb,\n"
	       "                    rcu-qsbr, rcu-bp\n";
}
