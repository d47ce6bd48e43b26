/* SPDX-License-Identifier: MIT */
/*
 * The hosted part of the library: what needs a C library. The built-in
 * allocators used when the configuration gives none, and the assertion
 * message of debug builds. A freestanding build leaves this file out (and
 * dump.c); the embedder then passes its own allocators (compat.h).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "alloc_default.h"
#include "pt.h"

static void *default_meta_alloc(void *arg, size_t size)
{
	(void)arg;
	return malloc(size);
}

static void default_meta_free(void *arg, void *ptr, size_t size)
{
	(void)arg;
	(void)size;
	free(ptr);
}

/* Table pages come from the domain's own chunk allocator (alloc_default.c):
 * page-aligned pages carved from mmap'd chunks cost their own size in
 * memory, where aligned_alloc(4096, 4096) costs about twice that. */
int iopgt__mem_defaults(struct iopgt_mem_ops *mem, void **table_arg,
			unsigned oas)
{
	*table_arg = NULL;
	if (!mem->meta_alloc || !mem->meta_free) {
		mem->meta_alloc = default_meta_alloc;
		mem->meta_free = default_meta_free;
	}
	if (!mem->table_alloc || !mem->table_free) {
		/* pa = va: the tables must lie below 2^oas. */
		*table_arg = iopgt__chunks_create(
			oas < 64 ? UINT64_C(1) << oas : 0);
		if (!*table_arg)
			return -ENOMEM;
		mem->table_alloc = iopgt__chunks_alloc;
		mem->table_free = iopgt__chunks_free;
	}
	return 0;
}

void iopgt__mem_release(void *table_arg)
{
	iopgt__chunks_destroy(table_arg);
}

uint64_t iopgt__clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

_Noreturn void iopgt__assert_fail(const char *what, const char *expr,
				  const char *file, int line)
{
	fprintf(stderr, "iopgt: %s:%d: invariant violated: %s (%s)\n", file,
		line, what, expr);
	fflush(stderr);
	abort();
}
