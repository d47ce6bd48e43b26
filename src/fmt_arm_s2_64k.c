/* SPDX-License-Identifier: MIT */
/* The engine for ARM LPAE stage 2 with the 64k granule. */
#define ARM_S2_GRANULE 16
#include "fmt/arm_s2.h"
#define PT_ENGINE arm_s2_64k
#include "engine.h"
