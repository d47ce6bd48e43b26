/* SPDX-License-Identifier: MIT */
/*
 * What the core needs from its environment, in one place, so that it builds
 * hosted (a normal C library) and freestanding (a kernel, a hypervisor,
 * firmware: -ffreestanding, no C library).
 *
 * The core uses only the compiler's own headers (<stddef.h>, <stdint.h>,
 * <stdbool.h>, <stdatomic.h>), memset and memcpy (which compilers may emit
 * calls to anyway), and compiler atomics. Everything else that needs a C
 * library lives in the hosted sources (hosted.c: the built-in allocators
 * and the assertion message; alloc_default.c: the built-in table
 * allocator; dump.c: the text dump), which a freestanding build leaves
 * out.
 *
 * Assertions come in two levels, chosen by IOPGT_DEBUG (the CMake option
 * of the same name): 1 checks preconditions and cheap invariants (a count
 * in range, a table's level), 2 adds expensive ones (a whole page is zero,
 * a table's count matches its entries). Each names the invariant it checks.
 */
#ifndef IOPGT_COMPAT_H
#define IOPGT_COMPAT_H

#include <stddef.h>

/* Negative errno values. A hosted build takes the C library's. A kernel
 * defines IOPGT_ERRNO_HEADER (e.g. "<linux/errno.h>") to take its own;
 * otherwise a freestanding build uses the Linux and POSIX numbers. */
#if defined(IOPGT_ERRNO_HEADER)
#include IOPGT_ERRNO_HEADER
#elif __STDC_HOSTED__
#include <errno.h>
#else
#define ENOENT 2
#define EIO 5
#define E2BIG 7
#define EAGAIN 11
#define ENOMEM 12
#define EBUSY 16
#define EEXIST 17
#define EINVAL 22
#define ENOSPC 28
#define ERANGE 34
#define EOPNOTSUPP 95
#define ESTALE 116
#endif

/* memset and memcpy: what every embedder has, and what compilers call for
 * large copies in any case. */
static inline void *pt_memset(void *p, int c, size_t n)
{
	return __builtin_memset(p, c, n);
}

static inline void *pt_memcpy(void *d, const void *s, size_t n)
{
	return __builtin_memcpy(d, s, n);
}

#ifndef IOPGT_DEBUG
#define IOPGT_DEBUG 0
#endif

#if __STDC_HOSTED__
/* Print "iopgt: <file>:<line>: invariant violated: <what> (<expr>)" and
 * abort (hosted.c). */
_Noreturn void iopgt__assert_fail(const char *what, const char *expr,
				  const char *file, int line);
#define PT_ASSERT_FAIL(what, expr) \
	iopgt__assert_fail(what, expr, __FILE__, __LINE__)
#else
/* No way to print: stop at the failing instruction. */
#define PT_ASSERT_FAIL(what, expr) __builtin_trap()
#endif

/* Check cond, named what, in debug builds of at least level `lvl`. The
 * condition is compiled (and type-checked) in every build. */
#define PT_ASSERT_LEVEL(lvl, what, cond)                                    \
	do {                                                                \
		if (IOPGT_DEBUG >= (lvl) && !(cond))                        \
			PT_ASSERT_FAIL(what, #cond);                        \
	} while (0)

/* Preconditions and cheap invariants. */
#define pt_assert(what, cond) PT_ASSERT_LEVEL(1, what, cond)
/* Invariants that cost a scan of a table or more. */
#define pt_assert_expensive(what, cond) PT_ASSERT_LEVEL(2, what, cond)

#endif /* IOPGT_COMPAT_H */
