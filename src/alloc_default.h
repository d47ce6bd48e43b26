/* SPDX-License-Identifier: MIT */
/*
 * The default table allocator of a hosted build: table pages carved from
 * larger mmap'd chunks (see src/alloc_default.c for how and why). Internal
 * to the library; the functions have the signatures of table_alloc and
 * table_free of struct iopgt_mem_ops, with a struct iopgt__chunks as arg.
 */
#ifndef IOPGT_ALLOC_DEFAULT_H
#define IOPGT_ALLOC_DEFAULT_H

#include <stddef.h>
#include <stdint.h>

/* Allocator state, one per domain. */
struct iopgt__chunks;

/* A new, empty allocator whose memory ends at or below limit (pa = va:
 * 2^oas for a domain's tables; 0: anywhere); NULL if out of memory. */
struct iopgt__chunks *iopgt__chunks_create(uint64_t limit);

/* Unmap everything and free c. Call once every page was freed; NULL is
 * ignored. */
void iopgt__chunks_destroy(struct iopgt__chunks *c);

/* arg: the struct iopgt__chunks. size: a power of two, at least 4096.
 * Returns memory aligned to size, not necessarily zeroed, and sets
 * *pa = (uint64_t)(uintptr_t)va; NULL if out of memory, of address space
 * below the limit, or a bad size.
 * Thread-safe. */
void *iopgt__chunks_alloc(void *arg, size_t size, uint64_t *pa);

/* Give back a page from iopgt__chunks_alloc with the same size.
 * Thread-safe. */
void iopgt__chunks_free(void *arg, void *va, uint64_t pa, size_t size);

/* Bytes of address space c holds mapped now (chunks and large pages); for
 * tests and statistics. */
size_t iopgt__chunks_mapped_bytes(struct iopgt__chunks *c);

#endif /* IOPGT_ALLOC_DEFAULT_H */
