/* SPDX-License-Identifier: MIT */
/*
 * What io-pgtable.h and io-pgtable-arm.c need of <linux/iommu.h>: the
 * protection bits of a mapping and the gather that unmap_pages fills
 * through the tlb_add_page callback. The gather is the benchmark's own
 * (bench/peer/peer_bench.c merges each page into one range, as an IOMMU
 * driver's tlb_add_page does, and empties it at its sync).
 */
#ifndef PEER_SHIM_IOMMU_H
#define PEER_SHIM_IOMMU_H

#include "../peer_shim.h"

#define IOMMU_READ (1 << 0)
#define IOMMU_WRITE (1 << 1)
#define IOMMU_CACHE (1 << 2)
#define IOMMU_NOEXEC (1 << 3)
#define IOMMU_MMIO (1 << 4)
#define IOMMU_PRIV (1 << 5)

struct iommu_iotlb_gather {
	unsigned long start; /* ULONG_MAX when empty */
	unsigned long end;   /* last byte, inclusive */
	size_t pgsize;
	bool queued;         /* a flush queue will flush later: never here */
};

static inline bool iommu_iotlb_gather_queued(struct iommu_iotlb_gather *g)
{
	return g && g->queued;
}

#endif
