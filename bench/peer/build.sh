#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Build the peer, Linux's io-pgtable-arm, as a userspace benchmark:
#
#   bench/peer/build.sh OUTDIR [IOPGT_BUILD_DIR]
#
# 1. Installs Debian 12's linux-source-6.1 if it is missing (the kernel
#    source as a tarball, /usr/src/linux-source-6.1.tar.xz), and valgrind if
#    <valgrind/callgrind.h> is missing.
# 2. Extracts four files of it into OUTDIR/linux/ (never into the
#    repository: they are GPL-2.0, the repository is MIT):
#    drivers/iommu/io-pgtable-arm.c, io-pgtable.c, io-pgtable-arm.h and
#    include/linux/io-pgtable.h. They are compiled as they are, unchanged.
# 3. Compiles them with the shim headers of bench/peer/shim/ and the driver
#    bench/peer/peer_bench.c into OUTDIR/peer-bench.
# 4. With IOPGT_BUILD_DIR (a CMake build of this repository holding
#    libiopgt.a), also builds the same driver against libiopgt:
#    OUTDIR/peer-bench-iopgt.
#
# Environment: CC (default gcc), PEER_OPT (default -O3, the level of
# iopgt's Release build, so that both sides get the same compiler and
# optimisation; the kernel itself builds with -O2, where the peer's
# 256-page map takes 28% more instructions), PEER_TARBALL (default
# the package's tarball).
set -eu

die() {
	echo "bench/peer/build.sh: $*" >&2
	exit 1
}

if [ $# -lt 1 ] || [ $# -gt 2 ] || [ -z "$1" ]; then
	die "usage: bench/peer/build.sh OUTDIR [IOPGT_BUILD_DIR]"
fi
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
mkdir -p "$1"
OUT=$(cd "$1" && pwd)
IOPGT_BUILD=${2:-}
CC=${CC:-gcc}
PEER_OPT=${PEER_OPT:--O3}
PKG=linux-source-6.1
TARBALL=${PEER_TARBALL:-/usr/src/$PKG.tar.xz}
TOP=$PKG # the tarball's top directory

# The GPL files must never land where git would track them.
case $OUT/ in
"$ROOT"/*)
	if ! git -C "$ROOT" check-ignore -q "$OUT" 2>/dev/null; then
		die "OUTDIR $OUT is inside the repository and not ignored" \
		    "by git: use a build directory (build-peer/, or one" \
		    "outside the tree)"
	fi ;;
esac

as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null; then
		sudo "$@"
	else
		return 1
	fi
}

apt_install() {
	echo "bench/peer/build.sh: installing $*"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends -o DPkg::Lock::Timeout=600 "$@"
}

installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null |
		grep -q "install ok installed"
}

if [ -z "${PEER_TARBALL:-}" ] && ! installed "$PKG"; then
	apt_install "$PKG" || die "could not install $PKG, Debian 12's" \
		"package of the Linux 6.1 source, which holds the peer" \
		"(drivers/iommu/io-pgtable-arm.c). As root, with access to a" \
		"Debian mirror: apt-get update && apt-get install" \
		"--no-install-recommends $PKG"
fi
[ -r "$TARBALL" ] || die "no $TARBALL (is $PKG installed?)"

# <valgrind/callgrind.h>: without it the driver still builds, but
# callgrind would count nothing.
if ! echo '#include <valgrind/callgrind.h>' |
	"$CC" -E -x c - >/dev/null 2>&1; then
	apt_install valgrind || echo "bench/peer/build.sh: warning: valgrind" \
		"not installed; --callgrind runs will count nothing" >&2
fi

# Extract, once per tarball (its size and time stand for its version).
SRC=$OUT/linux
stamp="$TARBALL $(stat -c '%s %Y' "$TARBALL")"
files="drivers/iommu/io-pgtable-arm.c drivers/iommu/io-pgtable.c
drivers/iommu/io-pgtable-arm.h include/linux/io-pgtable.h"
if [ "$(cat "$SRC/.extracted" 2>/dev/null || :)" != "$stamp" ]; then
	echo "bench/peer/build.sh: extracting from $TARBALL into $SRC"
	rm -rf "$SRC" "$OUT/extract.tmp"
	mkdir -p "$OUT/extract.tmp"
	members=
	for f in $files; do
		members="$members $TOP/$f"
	done
	# shellcheck disable=SC2086
	tar -xJf "$TARBALL" -C "$OUT/extract.tmp" $members ||
		die "could not extract$members from $TARBALL"
	mv "$OUT/extract.tmp/$TOP" "$SRC"
	rmdir "$OUT/extract.tmp"
	echo "$stamp" >"$SRC/.extracted"
fi
for f in $files; do
	[ -s "$SRC/$f" ] || die "$SRC/$f missing after extraction"
done
grep -q 'arm_lpae_map_pages' "$SRC/drivers/iommu/io-pgtable-arm.c" ||
	die "$SRC/drivers/iommu/io-pgtable-arm.c has no map_pages: not" \
	    "the 6.1 file this driver is written for"

# The kernel's code-generation flags that change what C means (aliasing,
# overflow, NULL checks), GNU C as the kernel is written in, no -Werror:
# the files are compiled as Linux ships them.
KFLAGS="-std=gnu11 $PEER_OPT -g -fno-strict-aliasing -fno-strict-overflow
-fno-delete-null-pointer-checks -fno-common -DNDEBUG -Wall
-Wno-unused-function -Wno-unused-variable"
INC="-I$SRC/include -I$HERE/shim"
OBJ=$OUT/obj
mkdir -p "$OBJ"
run() {
	echo "  $*"
	"$@"
}
# shellcheck disable=SC2086
{
	run "$CC" $KFLAGS $INC -c "$SRC/drivers/iommu/io-pgtable-arm.c" \
		-o "$OBJ/io-pgtable-arm.o"
	run "$CC" $KFLAGS $INC -DCONFIG_IOMMU_IO_PGTABLE_LPAE \
		-c "$SRC/drivers/iommu/io-pgtable.c" -o "$OBJ/io-pgtable.o"
	run "$CC" $KFLAGS $INC -c "$HERE/shim/peer_shim.c" \
		-o "$OBJ/peer_shim.o"
	run "$CC" $KFLAGS -c "$ROOT/bench/bench_util.c" -o "$OBJ/bench_util.o"
	run "$CC" $KFLAGS $INC -I"$ROOT/bench" -c "$HERE/peer_bench.c" \
		-o "$OBJ/peer_bench.o"
	run "$CC" -o "$OUT/peer-bench" "$OBJ/peer_bench.o" \
		"$OBJ/io-pgtable-arm.o" "$OBJ/io-pgtable.o" \
		"$OBJ/peer_shim.o" "$OBJ/bench_util.o"
}
echo "bench/peer/build.sh: built $OUT/peer-bench"

if [ -n "$IOPGT_BUILD" ]; then
	lib=$IOPGT_BUILD/libiopgt.a
	[ -r "$lib" ] || die "no $lib: build the library first" \
		"(cmake -S . -B $IOPGT_BUILD -DCMAKE_BUILD_TYPE=Release &&" \
		"cmake --build $IOPGT_BUILD)"
	# shellcheck disable=SC2086
	{
		run "$CC" $KFLAGS -DPB_IOPGT -I"$ROOT/include" -I"$ROOT/bench" \
			-c "$HERE/peer_bench.c" -o "$OBJ/peer_bench_iopgt.o"
		run "$CC" -o "$OUT/peer-bench-iopgt" "$OBJ/peer_bench_iopgt.o" \
			"$OBJ/bench_util.o" "$lib" -lpthread
	}
	echo "bench/peer/build.sh: built $OUT/peer-bench-iopgt"
fi
