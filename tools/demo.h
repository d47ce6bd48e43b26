/* SPDX-License-Identifier: MIT */
/* `iopgt demo`: the library at work on the simulated IOMMU (demo.c). */
#ifndef IOPGT_DEMO_H
#define IOPGT_DEMO_H

#include "iopgt.h"

/* argv[0] is "demo"; returns the exit status (1 if a violation was found). */
int demo_main(int argc, char **argv);

/* Build the demo's state in small (guest RAM of 1G+4M with superpages, a
 * few ring buffers) in a domain of cfg on a simulator and print its table
 * tree with iopgt_dump(flags). Returns the exit status. */
int demo_dump(const struct iopgt_config *cfg, unsigned flags);

#endif
