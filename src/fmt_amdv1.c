/* SPDX-License-Identifier: MIT */
/* The engine for AMD IOMMU v1 (host) tables (3 to 6 levels). */
#include "fmt/amdv1.h"
#define PT_ENGINE amdv1
#include "engine.h"
