/* SPDX-License-Identifier: MIT */
/* See ../peer_shim.h. */
#include "../peer_shim.h"
