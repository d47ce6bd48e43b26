/* SPDX-License-Identifier: MIT */
/*
 * The reclaim strategies as the tool and the tests name them, and what a
 * thread that calls the library owes each: `--strategy NAME` takes
 *   epoch (the default), after-flush, worker,
 *   rcu-memb, rcu-mb, rcu-qsbr, rcu-bp (rcu: rcu-memb),
 * the last four with liburcu's flavor of that name.
 */
#ifndef IOPGT_TOOL_STRATEGY_H
#define IOPGT_TOOL_STRATEGY_H

#include <stdbool.h>

#include "iopgt.h"

struct cli_strategy {
	const char *name;   /* as given to --strategy, canonical */
	unsigned strategy;  /* enum iopgt_strategy */
	const struct rcu_flavor_struct *flavor; /* RCU: the flavor */
	bool qsbr;          /* threads announce quiescent states */
};

/* Every strategy the tool offers, in order (n receives the count). */
const struct cli_strategy *cli_strategies(unsigned *n);
/* The strategy called name, or NULL. */
const struct cli_strategy *cli_strategy_find(const char *name);
/* --strategy's value for command cmd: 0 and *out set, or -1 after
 * printing "CMD: bad value for --strategy: 'VAL' (one of ...)". */
int cli_strategy_arg(const char *cmd, const char *val,
		     const struct cli_strategy **out);
/* Put s into cfg (strategy, rcu_flavor). */
void cli_strategy_apply(const struct cli_strategy *s,
			struct iopgt_config *cfg);
/* A thread that calls into a domain of strategy s: begin before its
 * first call (registers with the RCU flavor), end after its last; between
 * operations, quiescent (QSBR: a quiescent state; else nothing); around a
 * long wait outside the library, offline and online (QSBR). All are
 * no-ops for the strategies without RCU. */
void cli_strategy_thread_begin(const struct cli_strategy *s);
void cli_strategy_thread_end(const struct cli_strategy *s);
void cli_strategy_quiescent(const struct cli_strategy *s);
void cli_strategy_offline(const struct cli_strategy *s);
void cli_strategy_online(const struct cli_strategy *s);
/* Wait for every RCU callback queued so far (rcu_barrier); no-op for
 * the others. */
void cli_strategy_barrier(const struct cli_strategy *s);
/* The --strategy line of a command's --help. */
const char *cli_strategy_help(void);

#endif
