#!/usr/bin/env bash
# Hold the shared library's ABI to the committed baseline, abi/libiopgt.abi,
# with libabigail: any difference (a function or a type changed, added or
# removed) fails. An intended change regenerates the baseline with --update
# in the same commit, and, if it would break a compiled caller, raises the
# SONAME (IOPGT_SOVERSION in CMakeLists.txt; README, "ABI and versions").
# The library must be built with debug info (RelWithDebInfo or Debug) by gcc.
# Usage: scripts/check-abi.sh BUILD_DIR [--update]
set -euo pipefail
cd "$(dirname "$0")/.."
b=${1:?usage: scripts/check-abi.sh BUILD_DIR [--update]}
so=$(ls "$b"/libiopgt.so.[0-9]* | head -n1)
base=abi/libiopgt.abi
new=$(mktemp)
trap 'rm -f "$new"' EXIT
abidw --headers-dir include --drop-private-types --no-corpus-path \
	--no-comp-dir-path --short-locs --out-file "$new" "$so"
if [ "${2:-}" = --update ]; then
	cp "$new" "$base"
	echo "check-abi: $base updated from $so"
	exit 0
fi
if ! grep -q '<elf-symbol name=.iopgt_map.' "$new" ||
	! grep -q "name='iopgt_config'" "$new"; then
	echo "check-abi: no debug info for the public types in $so (build with -g)"
	exit 1
fi
if ! abidiff "$base" "$new"; then
	echo "check-abi: $so differs from $base; if intended, run"
	echo "  scripts/check-abi.sh $b --update"
	echo "and raise IOPGT_SOVERSION if a compiled caller would break."
	exit 1
fi
echo "check-abi: $so matches $base ($(grep -c '<elf-symbol' "$base") functions)"
