#!/usr/bin/env bash
# Symbol hygiene, checked on a build directory:
#  - libiopgt.a and libiopgt.so define no global symbol outside the public
#    prefix iopgt_ and the reserved internal prefix iopgt__;
#  - the shared library exports exactly the functions the public header
#    declares, and nothing internal;
#  - the test hooks live only in libiopgt_testhooks.a;
#  - the core built freestanding (-ffreestanding -nostdinc) needs nothing
#    from outside but memset, memcpy and compiler atomics;
#  - the public header builds in a kernel-like translation unit whose own
#    header defines the fixed-width types (IOPGT_TYPES_HEADER).
# Usage: scripts/check-symbols.sh BUILD_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
b=$(cd "${1:?usage: scripts/check-symbols.sh BUILD_DIR}" && pwd)
cc=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$b/CMakeCache.txt")
fail=0
bad() { echo "check-symbols: $*"; fail=1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The functions the header declares: what the preprocessor leaves of it.
"${cc:-cc}" -E -P include/iopgt.h | grep -o '\biopgt_[a-z0-9_]*[[:space:]]*(' |
	sed 's/[[:space:]]*($//' | sort -u >"$tmp/header"
[ -s "$tmp/header" ] || bad "no function found in include/iopgt.h"

# Static archive: every defined global is iopgt_ or iopgt__; the internal
# ones are not in the header, the public ones are.
# (A sanitizer build adds its own globals, __odr_asan.*: not ours.)
nm -g --defined-only "$b/libiopgt.a" | awk 'NF == 3 { print $3 }' |
	grep -v '^__odr_asan' | sort -u >"$tmp/static"
if grep -v '^iopgt_' "$tmp/static" >"$tmp/x"; then
	bad "libiopgt.a defines symbols outside iopgt_/iopgt__: $(tr '\n' ' ' <"$tmp/x")"
fi
if grep '^iopgt_[a-z0-9]' "$tmp/static" | comm -23 - "$tmp/header" >"$tmp/x" &&
	[ -s "$tmp/x" ]; then
	bad "libiopgt.a has public-looking symbols the header lacks: $(tr '\n' ' ' <"$tmp/x")"
fi
if grep -q 'set_test_hooks\|set_walk_hook' "$tmp/static"; then
	bad "libiopgt.a contains the test hooks' setters"
fi

# Shared library: exports exactly the header's functions. Local entries of
# the dynamic symbol table (lower-case types) bind nothing: a coverage
# build's linker may list the __start_/__stop_ bounds of its __sancov_*
# sections there, depending on the objects it links.
so=$(ls "$b"/libiopgt.so.[0-9]* | head -n1)
nm -D --defined-only "$so" | awk 'NF == 3 && $2 ~ /^[A-Z]$/ { print $3 }' |
	sort -u >"$tmp/shared"
if ! diff -u "$tmp/header" "$tmp/shared" >"$tmp/x"; then
	cat "$tmp/x"
	bad "$so exports differ from the functions of include/iopgt.h (- header, + library)"
fi

# The test hooks' library defines only internal names.
nm -g --defined-only "$b/libiopgt_testhooks.a" | awk 'NF == 3 { print $3 }' |
	grep -v '^iopgt__' >"$tmp/x" &&
	bad "libiopgt_testhooks.a defines: $(tr '\n' ' ' <"$tmp/x")"

# The freestanding core: link its objects into one and list what it needs.
cmake --build "$b" --target iopgt_freestanding >/dev/null
(cd "$tmp" && ar x "$b/libiopgt_freestanding.a")
ld -r -o "$tmp/core.o" "$tmp"/*.o
nm -u "$tmp/core.o" | awk '{ print $2 }' | sort -u >"$tmp/undef"
echo "freestanding core needs: $(tr '\n' ' ' <"$tmp/undef")"
if grep -v -E '^(memset|memcpy|__atomic_.*)$' "$tmp/undef" >"$tmp/x"; then
	bad "the freestanding core needs more than memset, memcpy and atomics: $(tr '\n' ' ' <"$tmp/x")"
fi

# The public header in a kernel's translation unit: its own fixed-width
# types (here unsigned long long, as Linux's), no C library headers.
cat >"$tmp/ktypes.h" <<'H'
typedef unsigned int uint32_t;
typedef unsigned long long uint64_t;
typedef long long int64_t;
typedef __SIZE_TYPE__ size_t;
H
printf '#include "ktypes.h"\n#include <iopgt.h>\nuint64_t k(void) { return IOPGT_SZ_2M; }\n' >"$tmp/k.c"
if ! "${cc:-cc}" -std=c11 -Wall -Wextra -Werror -ffreestanding -nostdinc \
	-DIOPGT_TYPES_HEADER='"ktypes.h"' -I"$tmp" -Iinclude -c "$tmp/k.c" \
	-o "$tmp/k.o"; then
	bad "include/iopgt.h does not build with IOPGT_TYPES_HEADER and no C library"
fi

if ((fail)); then
	exit 1
fi
echo "check-symbols: $(wc -l <"$tmp/static") global symbols in libiopgt.a, $(wc -l <"$tmp/shared") exported, all prefixed; the freestanding core is self-contained"
