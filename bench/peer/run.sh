#!/bin/sh
# SPDX-License-Identifier: MIT
#
# iopgt and the peer (Linux's io-pgtable-arm, built by bench/peer/build.sh
# from Debian's linux-source-6.1) side by side, on this machine, in one run:
#
#   bench/peer/run.sh [--callgrind] [--runs N] [--reps N] [--sets "4M 64M 1G"]
#
# Builds iopgt (Release, in its own build directory, $IOPGT_BUILD) and the
# peer ($PEER_OUT), then prints for the same operations the median ns of
# each side and the ratio iopgt/peer. The two sides run as pairs of short
# processes, one after the other, N pairs (--runs, default 9): each figure
# is the median of the N per-process medians, and the ratio the median of
# the N ratios within a pair, so that the load of a shared machine, which
# changes from one minute to the next, falls alike on both sides.
#   - `iopgt bench ops --format arm_s2 --granule 4k --reps R --json`
#     against `peer-bench ops --reps R --json` (ARM_64_LPAE_S2, 4K granule,
#     48-bit: the same 4-level tables; R = --reps, default 500);
#   - lookups over random sets of 4K mappings (`lookup --set SIZE`,
#     independent and --dependent), both sides by the same driver: iopgt
#     by peer-bench-iopgt (the peer's driver built against libiopgt), and
#     beside it, as a check, `iopgt bench lookup` if the tool has it;
#   - "harness check": iopgt measured by peer-bench-iopgt, beside the
#     tool's own figures, to show that the two harnesses agree.
# With --callgrind also, under valgrind --tool=callgrind --cache-sim=yes
# --instr-atstart=no, instructions per operation (the library alone: the
# program's total minus bench_cg_loop's own cost, as bench/run-all.sh
# computes it) and L1 data misses (D1mr + D1mw) per operation, for the
# operations of `iopgt bench ops --callgrind-op` and for the lookup sets.
#
# Environment: IOPGT_BUILD (default build-peer-iopgt), PEER_OUT (default
# build-peer), OUT (raw outputs, default /tmp/iopgt-peer-out), ITERS
# (default 100000), ITERS256 (default 10000), CG_SETS (sets measured under
# callgrind, default the --sets list), PEER_OPT (see build.sh).
set -eu

cd "$(dirname "$0")/../.."
IOPGT_BUILD=${IOPGT_BUILD:-build-peer-iopgt}
PEER_OUT=${PEER_OUT:-build-peer}
OUT=${OUT:-/tmp/iopgt-peer-out}
ITERS=${ITERS:-100000}
ITERS256=${ITERS256:-10000}
RUNS=9
REPS=500
SETS="4M 64M 1G"
CG=0

usage() {
	sed -n '7s/^# \{0,1\}/usage: /p' "$0" >&2
	exit 2
}

die() {
	echo "bench/peer/run.sh: $*" >&2
	exit 1
}

while [ $# -gt 0 ]; do
	case $1 in
	--callgrind) CG=1 ;;
	--runs) [ $# -ge 2 ] || usage; RUNS=$2; shift ;;
	--reps) [ $# -ge 2 ] || usage; REPS=$2; shift ;;
	--sets) [ $# -ge 2 ] || usage; SETS=$2; shift ;;
	-h | --help) sed -n '3,32s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) usage ;;
	esac
	shift
done
case $RUNS in '' | *[!0-9]* | 0) die "--runs wants a count" ;; esac
case $REPS in '' | *[!0-9]* | 0 | 1 | 2) die "--reps wants a count >= 3" ;; esac
CG_SETS=${CG_SETS:-$SETS}

IOPGT=$IOPGT_BUILD/iopgt
PEER=$PEER_OUT/peer-bench
HARNESS=$PEER_OUT/peer-bench-iopgt
FMT="--format arm_s2 --granule 4k"

# ---- build --------------------------------------------------------------
# valgrind (with <valgrind/callgrind.h>) before the builds, as for
# bench/run-all.sh; cmake and a compiler.
scripts/deps.sh --bench
echo "\$ cmake -S . -B $IOPGT_BUILD -DCMAKE_BUILD_TYPE=Release -DIOPGT_TESTS=OFF"
cmake -S . -B "$IOPGT_BUILD" -DCMAKE_BUILD_TYPE=Release -DIOPGT_TESTS=OFF \
	>/dev/null
echo "\$ cmake --build $IOPGT_BUILD -j2 --target iopgt_tool iopgt_static"
cmake --build "$IOPGT_BUILD" -j2 --target iopgt_tool iopgt_static >/dev/null
echo "\$ bench/peer/build.sh $PEER_OUT $IOPGT_BUILD"
mkdir -p "$PEER_OUT"
bench/peer/build.sh "$PEER_OUT" "$IOPGT_BUILD" >"$PEER_OUT/build.log" 2>&1 || {
	cat "$PEER_OUT/build.log"
	die "bench/peer/build.sh failed"
}
grep -v '^  ' "$PEER_OUT/build.log" || :
if [ "$CG" = 1 ]; then
	case $("$IOPGT" bench ops --callgrind-op none --iters 1) in
	*"built without valgrind/callgrind.h"*)
		die "$IOPGT was built without <valgrind/callgrind.h>: rebuild" \
		    "it (cmake --build $IOPGT_BUILD --clean-first)" ;;
	esac
	case $("$PEER" ops --callgrind-op none --iters 1) in
	*"built without valgrind/callgrind.h"*)
		die "$PEER was built without <valgrind/callgrind.h>" ;;
	esac
fi
mkdir -p "$OUT"
# Results of an earlier run would join the medians.
rm -f "$OUT"/ops.*.json "$OUT"/lookup.*.json "$OUT"/cg.*

# ---- helpers ------------------------------------------------------------
# The value of "key" in a one-line JSON object.
jkey() {
	sed -n "s/.*\"$2\": \([^,}]*\).*/\1/p" "$1"
}

# The median of the numbers on stdin, one a line.
median() {
	sort -g | awk '{ v[NR] = $1 }
		END { if (!NR) print "-"; else if (NR % 2) print v[(NR + 1) / 2];
		      else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a == "-" || b == "-" || b + 0 == 0) print "-";
		else printf "%.2f\n", a / b }'
}

run_json() { # file command...
	f=$1
	shift
	echo "\$ $*"
	"$@" >"$f" || die "failed: $*"
}

# ---- nanoseconds: bench ops ---------------------------------------------
echo
echo "machine: nproc $(nproc), $(grep -m1 'model name' /proc/cpuinfo |
	sed 's/.*: //'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
r=1
while [ "$r" -le "$RUNS" ]; do
	# shellcheck disable=SC2086
	run_json "$OUT/ops.iopgt.$r.json" "$IOPGT" bench ops $FMT \
		--reps "$REPS" --json
	run_json "$OUT/ops.peer.$r.json" "$PEER" ops --reps "$REPS" --json
	run_json "$OUT/ops.harness.$r.json" "$HARNESS" ops --reps "$REPS" \
		--json
	r=$((r + 1))
done

ops_keys="map_4k map_2m map_1g map_256x4k map_256x2m unmap_4k unmap_2m
unmap_1g unmap_256x4k unmap_256x2m lookup store_limit_256x4k load_miss"
med_of() { # impl key
	for f in "$OUT"/ops."$1".*.json; do
		jkey "$f" "$2"
	done | median
}
# The median over the pairs of one run of the ratio a/b within a pair.
pair_ratio() { # prefix-a prefix-b key: files PREFIX.1.json ... .RUNS.json
	i=1
	while [ "$i" -le "$RUNS" ]; do
		ratio "$(jkey "$1.$i.json" "$3")" "$(jkey "$2.$i.json" "$3")"
		i=$((i + 1))
	done | grep -v '^-$' | median
}
echo
echo "median ns per call ($RUNS pairs of processes, $REPS rounds each: the"
echo "median of the processes' medians; iopgt/peer: the median of the ratios"
echo "within a pair); map and unmap include their sync; lookup is a"
echo "dependent chain"
echo
printf '| %-20s | %9s | %9s | %10s | %15s |\n' op iopgt peer iopgt/peer \
	"harness check"
printf '|%s|%s|%s|%s|%s|\n' ---------------------- ----------: \
	----------: -----------: ----------------:
for k in $ops_keys; do
	a=$(med_of iopgt "${k}_ns")
	b=$(med_of peer "${k}_ns")
	h=$(med_of harness "${k}_ns")
	case $k in
	store_limit* | load_miss) rt="" ;; # references, not operations
	*) rt=$(pair_ratio "$OUT/ops.iopgt" "$OUT/ops.peer" "${k}_ns") ;;
	esac
	printf '| %-20s | %9s | %9s | %10s | %15s |\n' "$k" "$a" "$b" "$rt" "$h"
done
echo "(harness check: iopgt measured by peer-bench-iopgt, the peer's driver"
echo "built against libiopgt; store_limit and load_miss are the machine's"
echo "references, measured in each process)"

# ---- nanoseconds: lookup over random sets ---------------------------------
# Both sides by the same driver (peer-bench-iopgt, peer-bench): the same
# set, the same order, the same loop. `iopgt bench lookup`, where this
# build of the tool has it, is run too and printed beside them as a check
# (its own layout of the set may differ).
TOOL_LOOKUP=
if "$IOPGT" bench lookup --help >/dev/null 2>&1; then
	TOOL_LOOKUP=1
fi

echo
for s in $SETS; do
	for mode in independent dependent; do
		dep=
		[ "$mode" = dependent ] && dep=--dependent
		r=1
		while [ "$r" -le "$RUNS" ]; do
			# shellcheck disable=SC2086
			run_json "$OUT/lookup.iopgt.$s.$mode.$r.json" \
				"$HARNESS" lookup --set "$s" $dep --json
			# shellcheck disable=SC2086
			run_json "$OUT/lookup.peer.$s.$mode.$r.json" "$PEER" \
				lookup --set "$s" $dep --json
			if [ -n "$TOOL_LOOKUP" ]; then
				f=$OUT/lookup.tool.$s.$mode.$r.json
				echo "\$ $IOPGT bench lookup $FMT --set $s $dep --json"
				# shellcheck disable=SC2086
				"$IOPGT" bench lookup $FMT --set "$s" $dep \
					--json >"$f" || : >"$f"
			fi
			r=$((r + 1))
		done
	done
done
lookup_med() { # impl set mode
	for f in "$OUT"/lookup."$1"."$2"."$3".*.json; do
		[ -e "$f" ] && jkey "$f" ns_per_lookup
	done | median
}
echo
echo "lookups over a random set of 4K mappings: median ns per lookup,"
echo "$RUNS pairs of processes, both sides measured by the same driver;"
echo "iopgt/peer: the median of the ratios within a pair"
echo
printf '| %-6s | %-11s | %11s | %9s | %9s | %10s | %11s |\n' set lookups \
	"table bytes" iopgt peer iopgt/peer "tool check"
printf '|%s|%s|%s|%s|%s|%s|%s|\n' -------- ------------- ------------: \
	----------: ----------: -----------: ------------:
for s in $SETS; do
	for mode in independent dependent; do
		a=$(lookup_med iopgt "$s" "$mode")
		b=$(lookup_med peer "$s" "$mode")
		t=$(lookup_med tool "$s" "$mode")
		tb=$(jkey "$OUT/lookup.peer.$s.$mode.1.json" table_bytes)
		printf '| %-6s | %-11s | %11s | %9s | %9s | %10s | %11s |\n' \
			"$s" "$mode" "$tb" "$a" "$b" \
			"$(pair_ratio "$OUT/lookup.iopgt.$s.$mode" \
				"$OUT/lookup.peer.$s.$mode" ns_per_lookup)" "$t"
	done
done
echo "(iopgt: peer-bench-iopgt; peer: peer-bench; tool check: \`iopgt bench"
echo "lookup --set SIZE [--dependent] --json\`, '-' if this build of the tool"
echo "has no such benchmark)"

[ "$CG" = 1 ] || exit 0

# ---- callgrind ----------------------------------------------------------
# "total loop" of one event: the sum of every function's own cost and
# bench_cg_loop*'s own. (Not PROGRAM TOTALS: after the CALLGRIND_ZERO_STATS
# of `lookup --callgrind` callgrind 3.19 prints a wrapped-around total,
# while the functions' costs are right.)
cg_event() { # file event
	callgrind_annotate --threshold=100 --auto=no --show="$2" --sort="$2" \
		"$1" | awk '
		/file:function/ { fn = 1; next }
		fn && $1 ~ /^[0-9,]+$/ {
			v = $1; gsub(",", "", v); t += v
			if ($0 ~ /:bench_cg_loop/) l += v
		}
		END { printf "%.0f %.0f\n", t, l }'
}

# Runs one command under callgrind; prints "Ir_per_op D1_per_op" of the
# library alone (total minus the loop's own), over n operations.
cg_run() { # tag n command...
	tag=$1
	n=$2
	shift 2
	file=$OUT/cg.$tag.out
	log=$OUT/cg.$tag.log
	rm -f "$file"
	set -- valgrind --tool=callgrind --cache-sim=yes --instr-atstart=no \
		--callgrind-out-file="$file" "$@"
	echo "\$ $*" >&2
	"$@" >"$log" 2>&1 || {
		cat "$log" >&2
		die "failed: $*"
	}
	[ -s "$file" ] || die "valgrind wrote no $file"
	ir=$(cg_event "$file" Ir)
	mr=$(cg_event "$file" D1mr)
	mw=$(cg_event "$file" D1mw)
	case ${ir%% *} in
	0) die "callgrind counted 0 instructions in $file" ;;
	esac
	echo "$ir $mr $mw" | awk -v n="$n" '{
		printf "%.1f %.3f\n", ($1 - $2) / n, ($3 - $4 + $5 - $6) / n }'
}

echo
rows=$OUT/cg.rows
: >"$rows"
for op in map4k unmap4k lookup map256x4k unmap256x4k; do
	n=$ITERS
	case $op in *256*) n=$ITERS256 ;; esac
	# shellcheck disable=SC2086
	a=$(cg_run "iopgt.$op" "$n" "$IOPGT" bench ops $FMT \
		--callgrind-op "$op" --iters "$n")
	b=$(cg_run "peer.$op" "$n" "$PEER" ops --callgrind-op "$op" \
		--iters "$n")
	printf '| %-16s | %11s | %11s | %10s | %9s | %9s |\n' "$op" \
		"${a%% *}" "${b%% *}" "$(ratio "${a%% *}" "${b%% *}")" \
		"${a#* }" "${b#* }" >>"$rows"
done
for s in $CG_SETS; do
	for mode in independent dependent; do
		dep=
		[ "$mode" = dependent ] && dep=--dependent
		# shellcheck disable=SC2086
		a=$(cg_run "iopgt.set$s.$mode" "$ITERS" "$HARNESS" lookup \
			--set "$s" $dep --callgrind --iters "$ITERS")
		# shellcheck disable=SC2086
		b=$(cg_run "peer.set$s.$mode" "$ITERS" "$PEER" lookup \
			--set "$s" $dep --callgrind --iters "$ITERS")
		printf '| %-16s | %11s | %11s | %10s | %9s | %9s |\n' \
			"lookup $s $(echo $mode | cut -c1-3)" \
			"${a%% *}" "${b%% *}" "$(ratio "${a%% *}" "${b%% *}")" \
			"${a#* }" "${b#* }" >>"$rows"
	done
done
echo
echo "callgrind (--cache-sim=yes): per operation, the library alone (total"
echo "minus bench_cg_loop's own cost); map and unmap include their sync;"
echo "D1 = L1 data misses (reads + writes) in the simulated cache"
echo
printf '| %-16s | %11s | %11s | %10s | %9s | %9s |\n' op "iopgt instr" \
	"peer instr" iopgt/peer "iopgt D1" "peer D1"
printf '|%s|%s|%s|%s|%s|%s|\n' ------------------ ------------: \
	------------: -----------: ----------: ----------:
cat "$rows"
echo "(map4k/unmap4k/lookup: $ITERS operations, 256x: $ITERS256, from"
echo "\`iopgt bench ops --callgrind-op\` and \`peer-bench ops --callgrind-op\`;"
echo "lookup SET ind/dep: $ITERS lookups after as many to warm the simulated"
echo "caches, both sides measured by the same driver, peer-bench-iopgt and"
echo "peer-bench; raw files in $OUT)"
