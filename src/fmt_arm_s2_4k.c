/* SPDX-License-Identifier: MIT */
/* The engine for ARM LPAE stage 2 with the 4k granule. */
#define ARM_S2_GRANULE 12
#include "fmt/arm_s2.h"
#define PT_ENGINE arm_s2_4k
#include "engine.h"
