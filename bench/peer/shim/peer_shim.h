/* SPDX-License-Identifier: MIT */
/*
 * The smallest kernel environment in which Linux's io-pgtable-arm.c and
 * io-pgtable.c compile and run as a userspace program. Written for this
 * benchmark; it is not derived from the kernel's headers. Every header the
 * two files include (linux/types.h, linux/slab.h, asm/barrier.h, ...) is a
 * one-line file in this directory that includes this one, except
 * linux/iommu.h (the gather and the IOMMU_* protection bits).
 *
 * What it stands in for, and how (bench/peer/README.md says why the
 * measurement stays fair):
 *   - table memory: alloc_pages_node/__free_pages/free_pages on top of
 *     aligned_alloc; a struct page * is the page's address itself
 *   - physical addresses: virt_to_phys, __pa and __va are the identity
 *   - DMA API: never reached with cfg.coherent_walk = true; dma_map_single
 *     returns the identity address, the rest do nothing
 *   - barriers: what the kernel uses on x86-64 (wmb = sfence, rmb = lfence,
 *     mb = mfence, dma_wmb/dma_rmb and barrier = compiler barriers)
 *   - cmpxchg64_relaxed: a relaxed __atomic compare-and-exchange
 *   - WARN_ON and printing: stderr, from a function kept off the fast path
 */
#ifndef PEER_SHIM_H
#define PEER_SHIM_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- types ---------------------------------------------------------- */
typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int8_t s8;
typedef int16_t s16;
typedef int32_t s32;
typedef int64_t s64;
typedef u64 phys_addr_t;
typedef u64 dma_addr_t;
typedef unsigned int gfp_t;

struct device {
	int numa_node;
};
struct page; /* never defined: a struct page * is the page's address */

/* ---- compiler and arithmetic helpers --------------------------------- */
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define container_of(ptr, type, member)                                   \
	((type *)((char *)(ptr) - offsetof(type, member)))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define DIV_ROUND_UP(n, d) (((n) + (d) - 1) / (d))
#define min(a, b) ((a) < (b) ? (a) : (b))
#define max(a, b) ((a) > (b) ? (a) : (b))
#define min_t(t, a, b) ((t)(a) < (t)(b) ? (t)(a) : (t)(b))
#define max_t(t, a, b) ((t)(a) > (t)(b) ? (t)(a) : (t)(b))
#define BITS_PER_LONG 64
#define BIT(n) (1UL << (n))
#define BIT_ULL(n) (1ULL << (n))
#define GENMASK(h, l) ((~0UL << (l)) & (~0UL >> (BITS_PER_LONG - 1 - (h))))
#define GENMASK_ULL(h, l) ((~0ULL << (l)) & (~0ULL >> (63 - (h))))
/* Only ever applied to non-zero constants and sizes here. */
#define ilog2(n) (63 - __builtin_clzll((unsigned long long)(n)))

static inline unsigned long __ffs(unsigned long x)
{
	return (unsigned long)__builtin_ctzl(x);
}

static inline unsigned long __fls(unsigned long x)
{
	return (unsigned long)(BITS_PER_LONG - 1 - __builtin_clzl(x));
}

#define SZ_4K 0x00001000UL
#define SZ_16K 0x00004000UL
#define SZ_64K 0x00010000UL
#define SZ_2M 0x00200000UL
#define SZ_32M 0x02000000UL
#define SZ_512M 0x20000000UL
#define SZ_1G 0x40000000UL
#define SZ_2G 0x80000000UL

/* ---- memory ordering (x86-64 kernel definitions) --------------------- */
#define barrier() __asm__ __volatile__("" ::: "memory")
#define mb() __asm__ __volatile__("mfence" ::: "memory")
#define rmb() __asm__ __volatile__("lfence" ::: "memory")
#define wmb() __asm__ __volatile__("sfence" ::: "memory")
#define dma_rmb() barrier()
#define dma_wmb() barrier()
#define smp_mb() mb()
#define smp_rmb() barrier()
#define smp_wmb() barrier()

#define READ_ONCE(x) (*(const volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, v)                                                  \
	do {                                                              \
		*(volatile __typeof__(x) *)&(x) = (v);                   \
	} while (0)

static inline u64 cmpxchg64_relaxed(u64 *p, u64 old, u64 new_)
{
	__atomic_compare_exchange_n(p, &old, new_, false, __ATOMIC_RELAXED,
				    __ATOMIC_RELAXED);
	return old; /* the value found, as the kernel's returns */
}

/* ---- diagnostics ------------------------------------------------------ */
#ifndef pr_fmt
#define pr_fmt(fmt) fmt
#endif

__attribute__((cold, noinline, format(printf, 1, 2))) void
peer_shim_log(const char *fmt, ...);

#define printk(...) peer_shim_log(__VA_ARGS__)
#define pr_err(fmt, ...) peer_shim_log(pr_fmt(fmt), ##__VA_ARGS__)
#define pr_warn(fmt, ...) peer_shim_log(pr_fmt(fmt), ##__VA_ARGS__)
#define pr_info(fmt, ...) peer_shim_log(pr_fmt(fmt), ##__VA_ARGS__)
#define dev_err(dev, fmt, ...) peer_shim_log(pr_fmt(fmt), ##__VA_ARGS__)

/* The warning goes to stderr each time; the value of the condition is
 * returned, as the kernel's WARN_ON does. */
#define WARN_ON(cond)                                                      \
	({                                                                 \
		int __w = !!(cond);                                        \
		if (unlikely(__w))                                         \
			peer_shim_log("WARNING at %s:%d: %s\n", __FILE__,   \
				      __LINE__, #cond);                     \
		unlikely(__w);                                             \
	})
#define WARN(cond, ...)                                                    \
	({                                                                 \
		int __w = !!(cond);                                        \
		if (unlikely(__w))                                         \
			peer_shim_log(__VA_ARGS__);                         \
		unlikely(__w);                                             \
	})
#define WARN_ON_ONCE(cond) WARN_ON(cond)
#define BUG_ON(cond)                                                       \
	do {                                                               \
		if (unlikely(cond))                                        \
			abort();                                           \
	} while (0)
/* As in a kernel without CONFIG_DEBUG_VM: checked by the compiler only. */
#define VM_BUG_ON(cond) ((void)sizeof(!!(cond)))

#define EXPORT_SYMBOL(sym) extern __typeof__(sym) sym
#define EXPORT_SYMBOL_GPL(sym) extern __typeof__(sym) sym

/* ---- pages and allocation --------------------------------------------- */
#define PAGE_SHIFT 12
#define PAGE_SIZE (1UL << PAGE_SHIFT)
#define PAGE_MASK (~(PAGE_SIZE - 1))
#define NUMA_NO_NODE (-1)

#define __GFP_HIGHMEM 0x02u
#define __GFP_ZERO 0x100u
#define GFP_ATOMIC 0x800u
#define GFP_KERNEL 0xcc0u

static inline int get_order(unsigned long size)
{
	int order = 0;

	size = (size - 1) >> PAGE_SHIFT;
	while (size) {
		order++;
		size >>= 1;
	}
	return order;
}

/* Table pages held now (4K units): the benchmark reports them. */
extern unsigned long peer_shim_pages_live;

static inline int dev_to_node(struct device *dev)
{
	return dev ? dev->numa_node : NUMA_NO_NODE;
}

static inline struct page *alloc_pages_node(int nid, gfp_t gfp,
					    unsigned int order)
{
	size_t size = PAGE_SIZE << order;
	void *p = aligned_alloc(size, size);

	(void)nid;
	if (!p)
		return NULL;
	if (gfp & __GFP_ZERO)
		memset(p, 0, size);
	peer_shim_pages_live += 1UL << order;
	return (struct page *)p;
}

static inline void *page_address(const struct page *p)
{
	return (void *)p;
}

static inline void __free_pages(struct page *p, unsigned int order)
{
	if (!p)
		return;
	peer_shim_pages_live -= 1UL << order;
	free(p);
}

static inline void free_pages(unsigned long addr, unsigned int order)
{
	__free_pages((struct page *)addr, order);
}

static inline void *kmalloc(size_t size, gfp_t gfp)
{
	void *p = malloc(size);

	if (p && (gfp & __GFP_ZERO))
		memset(p, 0, size);
	return p;
}

static inline void *kzalloc(size_t size, gfp_t gfp)
{
	return kmalloc(size, gfp | __GFP_ZERO);
}

static inline void kfree(const void *p)
{
	free((void *)p);
}

/* Physical address = virtual address: userspace pointers are below 2^47,
 * inside the 48-bit output space of the format. */
#define virt_to_phys(p) ((phys_addr_t)(uintptr_t)(p))
#define __pa(p) ((phys_addr_t)(uintptr_t)(p))
#define __va(pa) ((void *)(uintptr_t)(pa))

/* ---- DMA API: unused with a coherent walker --------------------------- */
enum dma_data_direction {
	DMA_BIDIRECTIONAL = 0,
	DMA_TO_DEVICE = 1,
	DMA_FROM_DEVICE = 2,
	DMA_NONE = 3,
};

static inline dma_addr_t dma_map_single(struct device *dev, void *p,
					size_t size,
					enum dma_data_direction dir)
{
	(void)dev, (void)size, (void)dir;
	return virt_to_phys(p);
}

static inline int dma_mapping_error(struct device *dev, dma_addr_t a)
{
	(void)dev, (void)a;
	return 0;
}

static inline void dma_unmap_single(struct device *dev, dma_addr_t a,
				    size_t size, enum dma_data_direction dir)
{
	(void)dev, (void)a, (void)size, (void)dir;
}

static inline void dma_sync_single_for_device(struct device *dev,
					      dma_addr_t a, size_t size,
					      enum dma_data_direction dir)
{
	(void)dev, (void)a, (void)size, (void)dir;
}

#endif
