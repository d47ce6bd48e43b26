/* SPDX-License-Identifier: MIT */
/*
 * The hosted part of the library: what needs a C library. The built-in
 * allocators used when the configuration gives none, and the assertion
 * message of debug builds. A freestanding build leaves this file out (and
 * dump.c); the embedder then passes its own allocators (compat.h).
 */
#include <stdio.h>
#include <stdlib.h>

#include "pt.h"

static void *default_table_alloc(void *arg, size_t size, uint64_t *pa)
{
	void *va = aligned_alloc(size, size);

	(void)arg;
	if (va)
		*pa = (uint64_t)(uintptr_t)va;
	return va;
}

static void default_table_free(void *arg, void *va, uint64_t pa, size_t size)
{
	(void)arg;
	(void)pa;
	(void)size;
	free(va);
}

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

void iopgt__mem_defaults(struct iopgt_mem_ops *mem)
{
	if (!mem->table_alloc || !mem->table_free) {
		mem->table_alloc = default_table_alloc;
		mem->table_free = default_table_free;
	}
	if (!mem->meta_alloc || !mem->meta_free) {
		mem->meta_alloc = default_meta_alloc;
		mem->meta_free = default_meta_free;
	}
}

_Noreturn void iopgt__assert_fail(const char *what, const char *expr,
				  const char *file, int line)
{
	fprintf(stderr, "iopgt: %s:%d: invariant violated: %s (%s)\n", file,
		line, what, expr);
	fflush(stderr);
	abort();
}
