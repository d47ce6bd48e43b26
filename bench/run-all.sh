#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Run every measurement that BENCHMARKS.md reports, from the repository
# root, after:
#   cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release
#   cmake --build build-bench -j2
# Each command is echoed before it runs; raw callgrind files go to $OUT.
#
#   bench/run-all.sh [ops|stress|callgrind]...   (default: all three)
set -eu

IOPGT=${IOPGT:-./build-bench/iopgt}
OUT=${OUT:-/tmp/iopgt-bench-out}
ITERS=${ITERS:-100000}
ITERS256=${ITERS256:-10000}
FORMATS="--format=x86_64 --levels=5 --format=arm_s2,--granule=4k
--format=arm_s2,--granule=16k --format=arm_s2,--granule=64k"

run() {
	echo "\$ $*"
	"$@"
	echo
}

# "--format=arm_s2,--granule=16k" -> "--format arm_s2 --granule 16k"
opts() {
	echo "$1" | tr ',=' '  '
}

machine() {
	echo "nproc: $(nproc)"
	grep -m1 'model name' /proc/cpuinfo
	echo
}

ops() {
	for f in $FORMATS; do
		# shellcheck disable=SC2046
		run "$IOPGT" bench ops $(opts "$f")
	done
}

stress() {
	run "$IOPGT" bench iova-stress --span 1T --both --format x86_64
	run "$IOPGT" bench iova-stress --span 1T --both --format arm_s2 \
		--granule 4k
}

callgrind() {
	mkdir -p "$OUT"
	for f in $FORMATS; do
		tag=$(echo "$f" | tr -d '-' | tr ',=' '__')
		for op in none map4k unmap4k lookup map256x4k unmap256x4k; do
			file="$OUT/cg.$tag.$op.out"
			n=$ITERS
			case $op in *256*) n=$ITERS256 ;; esac
			# shellcheck disable=SC2046
			run valgrind --tool=callgrind --instr-atstart=no \
				--callgrind-out-file="$file" \
				"$IOPGT" bench ops $(opts "$f") \
				--callgrind-op "$op" --iters "$n" 2>&1 |
				grep -v '^=='
			ir=$(callgrind_annotate --threshold=100 "$file" |
			     awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
			loop=$(callgrind_annotate --threshold=100 "$file" |
			       awk '/:bench_cg_loop/ { gsub(",", "", $1); print $1 }')
			echo "instructions per operation ($op): $ir / $n =" \
			     "$(awk "BEGIN { printf \"%.1f\", $ir / $n }")"
			echo "  of which the benchmark loop's own: $loop / $n =" \
			     "$(awk "BEGIN { printf \"%.1f\", $loop / $n }")"
			echo "  library alone: ($ir - $loop) / $n =" \
			     "$(awk "BEGIN { printf \"%.1f\", ($ir - $loop) / $n }")"
			echo "\$ callgrind_annotate --threshold=100 $file" \
			     "(functions, self cost)"
			callgrind_annotate --threshold=100 "$file" |
				grep -E '^ *[0-9,]+ \(' | sed 's/ \[.*\]$//' |
				head -12
			echo
		done
	done
}

[ $# -gt 0 ] || set -- ops stress callgrind
for what in "$@"; do
	case $what in
	ops | stress | callgrind) ;;
	*) echo "usage: $0 [ops|stress|callgrind]..." >&2; exit 2 ;;
	esac
done
machine
for what in "$@"; do
	"$what"
done
