/* SPDX-License-Identifier: MIT */
/*
 * The debug build's assertions (-DIOPGT_DEBUG=ON or EXPENSIVE) stop the
 * program with a message naming the invariant: each case breaks one
 * precondition or invariant on purpose in a child process and checks that
 * the child aborts and says which. In a build without assertions the cases
 * are skipped (the same misuse is then undefined behaviour, as documented).
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

#ifndef IOPGT_DEBUG
#define IOPGT_DEBUG 0
#endif

/* Run fn in a child with stderr captured; the child must die of SIGABRT and
 * have printed `what`. */
static void expect_abort(void (*fn)(void), const char *what)
{
	int fds[2], status;
	char buf[4096];
	size_t n = 0;
	ssize_t r;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(fds[1], 2);
		close(fds[0]);
		fn();
		_exit(0); /* no abort: the parent reports it */
	}
	close(fds[1]);
	while (n < sizeof(buf) - 1 &&
	       (r = read(fds[0], buf + n, sizeof(buf) - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = 0;
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT ||
	    !strstr(buf, what)) {
		print_error("expected an abort naming \"%s\"; the child %s %d "
			    "and printed:\n%s\n",
			    what,
			    WIFSIGNALED(status) ? "died of signal"
						: "exited with",
			    WIFSIGNALED(status) ? WTERMSIG(status)
						: WEXITSTATUS(status),
			    buf);
		fail();
	}
}

static struct iopgt_domain *open_dom(void)
{
	struct iopgt_config cfg;
	struct iopgt_domain *dom;

	tcfg_config(&tcfgs[0], &cfg);
	cfg.table_cache = 0; /* an emptied table is unlinked at once */
	cfg.options = IOPGT_OPT_COUNTS; /* for the count's check */
	if (iopgt_domain_create(&cfg, &dom))
		abort();
	return dom;
}

/* A domain with one page mapped at 0 and synced; g is empty again. */
static struct iopgt_domain *open_mapped(struct iopgt_gather *g)
{
	struct iopgt_domain *dom = open_dom();

	iopgt_gather_init(g, sizeof(*g));
	iopgt_map(dom, 0, 0, 4096, IOPGT_PROT_READ, g);
	iopgt_sync(dom, g);
	return dom;
}

/* Destroy while a gather still holds unlinked tables of the domain. */
static void destroy_unsynced(void)
{
	struct iopgt_gather g;
	struct iopgt_domain *dom = open_mapped(&g);

	iopgt_unmap(dom, 0, 4096, &g); /* the leaf table goes into g */
	iopgt_domain_destroy(dom);
}

/* A gather that iopgt_gather_init never saw. */
static void uninitialised_gather(void)
{
	struct iopgt_domain *dom = open_dom();
	struct iopgt_gather g;

	memset(&g, 0, sizeof(g));
	g.iova = UINT64_MAX;
	iopgt_map(dom, 0, 0, 4096, IOPGT_PROT_READ, &g);
}

/* An entry written behind the library's back: a table's count no longer
 * matches its entries (found when destroy recounts every table). */
static int poke(void *arg, const struct iopgt_table_info *t)
{
	(void)arg;
	if (t->level == 0) {
		((uint64_t *)t->va)[7] = ((const uint64_t *)t->va)[0];
		return 1;
	}
	return 0;
}

static void count_mismatch(void)
{
	struct iopgt_gather g;
	struct iopgt_domain *dom = open_mapped(&g);

	iopgt_for_each_table(dom, poke, NULL);
	iopgt_domain_destroy(dom);
}

static void test_cheap(void **state)
{
	(void)state;
	if (IOPGT_DEBUG < 1)
		skip();
	expect_abort(destroy_unsynced,
		     "every gather of the domain was synced before destroy");
	expect_abort(uninitialised_gather,
		     "the gather was set up by iopgt_gather_init");
}

static void test_expensive(void **state)
{
	(void)state;
	if (IOPGT_DEBUG < 2)
		skip();
	expect_abort(count_mismatch,
		     "a table's count equals its non-empty entries");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cheap),
		cmocka_unit_test(test_expensive),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
