/* SPDX-License-Identifier: MIT */
/* The engine for x86-64 paging (4 and 5 levels). */
#include "fmt/x86_64.h"
#define PT_ENGINE x86_64
#include "engine.h"
