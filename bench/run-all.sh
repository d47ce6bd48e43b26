#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Run every measurement that BENCHMARKS.md reports, from the repository
# root, after:
#   scripts/deps.sh --bench
#   cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release
#   cmake --build build-bench -j2
# valgrind must be installed before the build: bench/bench_ops.c needs
# <valgrind/callgrind.h> to mark the measured loop. Without it callgrind
# counts nothing, and this script stops with an error.
# Each command is echoed before it runs; raw callgrind files (and valgrind's
# own output, cg.*.log and cs.*.log) go to $OUT.
#
#   bench/run-all.sh [ops|stress|callgrind|lookup|writers|reclaim|cachesim|peer]...
#                    [--peer]         (default: all but peer)
#
# ops and callgrind: every format, granule and level count (iopgt formats
# --configs). lookup: bench lookup --set $SET, independent and --dependent,
# each format at its defaults. writers: bench writers --threads 1 and 2,
# at the defaults (no counts, reclaim, coalescing), with --no-reclaim,
# with --no-reclaim --no-coalesce, and with --counts (counts, reclaim,
# coalescing), each in both layouts (--layout interleaved, the default,
# and --layout blocks), each format at its defaults; then, under every
# strategy, one writer and one reader (--readers 1). reclaim: bench
# reclaim under every strategy, RCU also with one
# callback per page (--per-page) and with a bound of 256 pages
# (--rcu-max-pending 256), x86_64 at its defaults. cachesim: the lookups of `lookup`
# under callgrind --cache-sim=yes ($CG_LOOKUPS of them), and the L1 misses
# per lookup from the dump (bench/callgrind-l1.sh). `peer` (or --peer, added
# to the default or to the ones named) also runs bench/peer/run.sh
# --callgrind: iopgt beside Linux's io-pgtable-arm, built from Debian's
# linux-source (bench/peer/README.md). It is optional and not part of CI.
set -eu

IOPGT=${IOPGT:-./build-bench/iopgt}
OUT=${OUT:-/tmp/iopgt-bench-out}
ITERS=${ITERS:-100000}
ITERS256=${ITERS256:-10000}
SET=${SET:-64G}
CG_LOOKUPS=${CG_LOOKUPS:-100000}
WRITERS_SECONDS=${WRITERS_SECONDS:-2}
# The formats come from the library's registry (iopgt formats): every
# format at its defaults, and every granule and level count of each.
LOOKUP_FORMATS=$("$IOPGT" formats --defaults 2>/dev/null | tr ' ' ',' || true)
FORMATS=$("$IOPGT" formats --configs 2>/dev/null | tr ' ' ',' || true)

run() {
	echo "\$ $*"
	"$@"
	echo
}

die() {
	echo "bench/run-all.sh: $*" >&2
	exit 1
}

# Before anything is measured: callgrind is there, and $IOPGT was built with
# <valgrind/callgrind.h>, else --instr-atstart=no would count 0 instructions.
callgrind_ready() {
	if ! command -v valgrind >/dev/null ||
		! command -v callgrind_annotate >/dev/null; then
		die "valgrind not installed (callgrind, callgrind_annotate):" \
		    "run scripts/deps.sh --bench, then rebuild $IOPGT"
	fi
	[ -x "$IOPGT" ] || die "no $IOPGT: build it first (see BENCHMARKS.md)"
	probe=$("$IOPGT" bench ops --callgrind-op none --iters 1) ||
		die "$IOPGT bench ops --callgrind-op none --iters 1 failed"
	case $probe in
	*"built without valgrind/callgrind.h"*)
		die "$IOPGT was built without <valgrind/callgrind.h>, so callgrind" \
		    "would count 0 instructions. valgrind is installed now:" \
		    "rebuild from scratch (make does not see the header appear):" \
		    "cmake --build $(dirname "$IOPGT") --clean-first" ;;
	esac
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
	for f in $LOOKUP_FORMATS; do
		# shellcheck disable=SC2046
		run "$IOPGT" bench iova-stress --span 1T --both $(opts "$f")
	done
}

callgrind() {
	mkdir -p "$OUT"
	for f in $FORMATS; do
		tag=$(echo "$f" | tr -d '-' | tr ',=' '__')
		for op in none map4k unmap4k map2m unmap2m lookup map256x4k \
		    unmap256x4k; do
			file="$OUT/cg.$tag.$op.out"
			n=$ITERS
			case $op in *256*) n=$ITERS256 ;; esac
			log="$OUT/cg.$tag.$op.log"
			rm -f "$file"
			# shellcheck disable=SC2046
			set -- valgrind --tool=callgrind --instr-atstart=no \
				--callgrind-out-file="$file" \
				"$IOPGT" bench ops $(opts "$f") \
				--callgrind-op "$op" --iters "$n"
			echo "\$ $*"
			"$@" >"$log" 2>&1 || {
				cat "$log"
				die "failed: $*"
			}
			grep -v '^==' "$log" || :
			echo
			[ -s "$file" ] || die "valgrind wrote no $file"
			ir=$(callgrind_annotate --threshold=100 "$file" |
			     awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
			loop=$(callgrind_annotate --threshold=100 "$file" |
			       awk '/:bench_cg_loop/ { gsub(",", "", $1); print $1 }')
			# callgrind_annotate prints a total of 0 as "."
			case $ir in
			'' | . | 0)
				die "callgrind counted 0 instructions in" \
				    "$file: was $IOPGT built with" \
				    "<valgrind/callgrind.h>?" ;;
			*[!0-9]*)
				die "callgrind_annotate $file: PROGRAM TOTALS" \
				    "'$ir', not a number" ;;
			esac
			case $loop in
			'' | *[!0-9]*)
				die "no bench_cg_loop in $file (a stripped" \
				    "binary?)" ;;
			esac
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

lookup() {
	for f in $LOOKUP_FORMATS; do
		for dep in "" --dependent; do
			# shellcheck disable=SC2046,SC2086
			run "$IOPGT" bench lookup --set "$SET" $(opts "$f") $dep
		done
	done
}

writers() {
	for f in $LOOKUP_FORMATS; do
		for t in 1 2; do
			for rec in "" --no-reclaim "--no-reclaim --no-coalesce" --counts; do
				for l in interleaved blocks; do
					# shellcheck disable=SC2046,SC2086
					run "$IOPGT" bench writers --threads "$t" \
						--seconds "$WRITERS_SECONDS" \
						$(opts "$f") $rec --layout $l
				done
			done
		done
	done
	for s in epoch after-flush worker rcu-memb rcu-mb rcu-qsbr rcu-bp; do
		run "$IOPGT" bench writers --threads 1 --readers 1 \
			--seconds "$WRITERS_SECONDS" --strategy "$s"
	done
}

reclaim() {
	for s in epoch after-flush worker rcu-memb rcu-mb rcu-qsbr rcu-bp; do
		run "$IOPGT" bench reclaim --strategy "$s"
		case $s in
		rcu-*)
			run "$IOPGT" bench reclaim --strategy "$s" --per-page
			run "$IOPGT" bench reclaim --strategy "$s" \
				--rcu-max-pending 256 ;;
		esac
	done
}

# L1 misses per lookup: only the lookups are instrumented (the tool wraps
# them in CALLGRIND_START/STOP_INSTRUMENTATION and dumps them on their own,
# as FILE.1); bench/callgrind-l1.sh adds up the dumps' totals.
cachesim() {
	mkdir -p "$OUT"
	for f in $LOOKUP_FORMATS; do
		for dep in "" --dependent; do
			tag=$(echo "$f$dep" | tr -d '-' | tr ',=' '__')
			file="$OUT/cs.$tag.out"
			log="$OUT/cs.$tag.log"
			rm -f "$file" "$file".*
			# shellcheck disable=SC2046,SC2086
			set -- valgrind --tool=callgrind --cache-sim=yes \
				--instr-atstart=no --callgrind-out-file="$file" \
				"$IOPGT" bench lookup --set "$SET" $(opts "$f") \
				$dep --lookups "$CG_LOOKUPS"
			echo "\$ $*"
			"$@" >"$log" 2>&1 || {
				cat "$log"
				die "failed: $*"
			}
			grep -v '^==' "$log" || :
			[ -s "$file.1" ] || die "valgrind wrote no $file.1 (the" \
				"lookups' dump): was $IOPGT built with" \
				"<valgrind/callgrind.h>?"
			echo "\$ bench/callgrind-l1.sh $CG_LOOKUPS $file $file.1"
			"$(dirname "$0")/callgrind-l1.sh" "$CG_LOOKUPS" "$file" \
				"$file.1"
			echo "\$ callgrind_annotate $file.1 (functions, self cost)"
			callgrind_annotate "$file.1" |
				grep -E '^ *[0-9,]+ \(' | sed 's/ \[.*\]$//' |
				head -6
			echo
		done
	done
}

peer() {
	run "$(dirname "$0")/peer/run.sh" --callgrind
}

with_peer=
whats=
for what in "$@"; do
	case $what in
	--peer) with_peer=1 ;;
	ops | stress | callgrind | lookup | writers | reclaim | cachesim | peer)
		whats="$whats $what" ;;
	*) echo "usage: $0 [ops|stress|callgrind|lookup|writers|reclaim|cachesim|peer]... [--peer]" >&2
	   exit 2 ;;
	esac
done
# shellcheck disable=SC2086
set -- $whats
[ $# -gt 0 ] || set -- ops stress callgrind lookup writers reclaim cachesim
[ -z "$with_peer" ] || set -- "$@" peer
# The packages the runs need (valgrind); a no-op once they are installed.
"$(dirname "$0")/../scripts/deps.sh" --bench
case " $* " in *" callgrind "* | *" cachesim "*) callgrind_ready ;; esac
machine
for what in "$@"; do
	"$what"
done
