/* SPDX-License-Identifier: MIT */
/* The out-of-line part of the shim (peer_shim.h). */
#include <stdarg.h>

#include "peer_shim.h"

unsigned long peer_shim_pages_live;

void peer_shim_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}
