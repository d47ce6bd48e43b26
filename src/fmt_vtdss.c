/* SPDX-License-Identifier: MIT */
/* The engine for Intel VT-d second-stage tables (3, 4 and 5 levels). */
#include "fmt/vtdss.h"
#define PT_ENGINE vtdss
#include "engine.h"
