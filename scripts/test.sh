#!/usr/bin/env bash
# Build and run every test: all of them under AddressSanitizer and
# UndefinedBehaviorSanitizer with gcc (at -Og, with every assertion of the
# debug build on), the unit tests again with clang (optimized) with the fuzzer's
# short runs (label fuzz, about twenty seconds), and the tests that run threads
# under ThreadSanitizer. Then the build checks: symbol hygiene, the
# freestanding core, the ABI against its baseline. Then the demo (the main
# job) on each format under the sanitizers: it must find no violation. Then
# the release tool, and the model of the protocol (scripts/model.sh): it
# must verify, and each of its broken variants must fail.
# Build directories: build-ci/* (never build/, which is yours, nor
# build-main/, which scripts/main.sh uses).
#
# The tests run at the unit tier's size (labels unit and stress, not long;
# tests/CMakeLists.txt): every check, configuration and option set, with
# fewer random operations, and each stress test for at most 1 s per
# configuration (IOPGT_STRESS_SECONDS, IOPGT_RACE_SECONDS). Each takes
# under a third of its CTest timeout, even with a second copy of this
# script running beside it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --test
jobs=$(nproc)
ci=build-ci
start=$SECONDS
step() { echo "== $* ($((SECONDS - start)) s)"; }

# configure DIR ARGS...: a fresh cache each time, so that nothing left from
# an earlier run decides how this one builds.
configure() {
	local dir=$1
	shift
	rm -f "$ci/$dir/CMakeCache.txt"
	cmake -S . -B "$ci/$dir" "$@" >/dev/null
	cmake --build "$ci/$dir" -j"$jobs"
}

# The CI slice, whatever the caller's environment says.
export IOPGT_TEST_SCALE=1 IOPGT_STRESS_SECONDS=1 IOPGT_RACE_SECONDS=1
unset IOPGT_TEST_ITERS IOPGT_STRESS_OPS IOPGT_STRESS_CONFIGS IOPGT_TEST_CFG

step "gcc, ASan+UBSan, expensive assertions: all tests"
# At -Og rather than the debug build's -O0: the sanitizers and every
# assertion check the same, and the tests take about half the time.
configure asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG="-Og -g" \
	-DIOPGT_SANITIZE=ON -DIOPGT_DEBUG=EXPENSIVE
(cd "$ci/asan" && ctest --output-on-failure -j"$jobs" -L 'unit|stress')

step "clang, ASan+UBSan, optimized, assertions on: unit tests and the fuzzer's short runs"
# One clang build serves both: the libFuzzer target (tests/fuzz) and the
# unit tests, at -O2 where gcc's run is at -Og. The randomized tests take
# one configuration per format and granule here (IOPGT_TEST_CFG): gcc's
# run above takes every one. The short fuzz runs at 40% of their inputs
# (IOPGT_FUZZ_RUNS), about twenty seconds on two cores. Not test_cli: the
# tool's command line is the same code whichever compiler built it, and
# gcc's step checks it.
CC=clang configure clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIOPGT_FUZZ=ON \
	-DIOPGT_SANITIZE=ON -DIOPGT_DEBUG=ON -DIOPGT_FUZZ_RUNS=40
(cd "$ci/clang" && IOPGT_TEST_CFG=representative \
	ctest --output-on-failure -j"$jobs" -L 'unit|fuzz' -E '^test_cli$')

step "gcc, TSan: the tests that run threads"
# Every test that runs threads: the stress tests, the allocator's, the
# walker-grace tests and the simulator's (device threads beside the
# mapper). Not the tests labelled no_tsan: the stress tests under an RCU
# flavor (liburcu is not built for TSan, which would take its call_rcu
# thread's frees for races with the readers) and, for time, the
# coalesce-split runs (stress_concurrent's default mode coalesces and
# splits under TSan too); the ASan step above runs them. As in clang's
# step, the randomized tests take one configuration per format and granule:
# this step looks for races, gcc's ASan step covers the configurations.
configure tsan -DCMAKE_BUILD_TYPE=Debug -DIOPGT_TSAN=ON
(cd "$ci/tsan" && IOPGT_TEST_CFG=representative \
	ctest --output-on-failure -j"$jobs" -LE 'long|no_tsan' \
	-R '^(stress_.*|races_.*|test_alloc|test_reclaim|test_sim|test_sim_model)$')

step "gcc, release with debug info: symbols, freestanding core, ABI"
configure rel -DCMAKE_BUILD_TYPE=RelWithDebInfo
scripts/check-symbols.sh "$ci/rel"
scripts/check-abi.sh "$ci/rel"
scripts/check-symbols.sh "$ci/clang"
scripts/check-embed.sh "$ci/embed" "$ci/rel"

# One demo run; fails unless it exits 0 and reports "violations": 0.
json_num() { grep -o "\"$1\": [0-9.]*" | sed 's/.*: //'; }
demo() {
	local bin=$1 out
	shift
	if ! out=$("$bin/iopgt" demo --json "$@"); then
		echo "$out"
		echo "FAILED: $bin/iopgt demo --json $*"
		return 1
	fi
	if [ "$(json_num violations <<<"$out")" != 0 ]; then
		echo "$out"
		echo "FAILED (violations): $bin/iopgt demo --json $*"
		return 1
	fi
	printf '%-72s %9s translations, %7s maps, violations: 0\n' \
		"$bin/iopgt demo $*" "$(json_num translations <<<"$out")" \
		"$(json_num maps <<<"$out")"
}

step "the demo on the simulated IOMMU, under ASan+UBSan and TSan"
# The formats come from the library's registry: every granule and level
# count of each format under ASan, each format's defaults under TSan, a
# sixth of the full demo's map and unmap calls each (scripts/main.sh runs
# the whole demo).
mapfile -t configs < <("$ci/asan/iopgt" formats --configs)
mapfile -t defaults < <("$ci/asan/iopgt" formats --defaults)
[ "${#configs[@]}" -gt 0 ] && [ "${#defaults[@]}" -gt 0 ] ||
	{ echo "FAILED: iopgt formats listed no format"; exit 1; }
for fmt in "${configs[@]}"; do
	# shellcheck disable=SC2086
	demo "$ci/asan" --small --ops 50000 $fmt
done
for fmt in "${defaults[@]}"; do
	# shellcheck disable=SC2086
	demo "$ci/tsan" --small --ops 50000 $fmt
done
# The other reclaim strategies, under ASan (liburcu is not built for TSan,
# which would take its grace periods for races).
for s in after-flush worker rcu-memb rcu-mb rcu-qsbr rcu-bp; do
	demo "$ci/asan" --small --ops 50000 --strategy "$s"
done
demo "$ci/tsan" --small --ops 50000 --strategy worker
# A root that grows while the devices translate (every format that can),
# under both.
mapfile -t growing < <("$ci/asan/iopgt" formats --growing)
for fmt in "${growing[@]}"; do
	# shellcheck disable=SC2086
	if ! out=$("$ci/asan/iopgt" demo --json --small --ops 50000 $fmt) ||
		[ "$(json_num violations <<<"$out")" != 0 ] ||
		[ "$(json_num grown <<<"$out")" -lt 1 ]; then
		echo "$out"
		echo "FAILED: $ci/asan/iopgt demo $fmt did not grow without violations"
		exit 1
	fi
	echo "$ci/asan/iopgt demo --small --ops 50000 $fmt: grew $(json_num grown <<<"$out") times, 0 violations"
	# shellcheck disable=SC2086
	demo "$ci/tsan" --small --ops 50000 $fmt
done
# The check has teeth: with the library's flushes skipped on purpose, the
# same run must report violations and exit 1.
if out=$("$ci/asan/iopgt" demo --json --small --break skip-flush) ||
	[ "$(json_num violations <<<"$out")" = 0 ]; then
	echo "FAILED: the demo did not catch a library that skips its flushes"
	exit 1
fi
echo "$ci/asan/iopgt demo --small --break skip-flush: $(json_num violations <<<"$out") violations, as it must"

step "the built-in allocator's memory: RSS within 1.1x of the table bytes"
# 32768 leaf tables without reclaim, in the release build (a sanitizer's
# shadow memory would count in RSS).
out=$("$ci/rel/iopgt" bench iova-stress --span 64G --no-reclaim --json)
ratio=$(json_num rss_growth_per_table_byte <<<"$out")
echo "iova-stress --span 64G --no-reclaim: RSS growth / table bytes = $ratio"
if ! awk "BEGIN { exit !($ratio > 0 && $ratio <= 1.1) }"; then
	echo "$out"
	echo "FAILED: the built-in allocator costs more than 1.1x the table bytes"
	exit 1
fi

step "the release tool"
"$ci/rel/iopgt" --help >/dev/null
"$ci/rel/iopgt" dump >/dev/null
"$ci/rel/iopgt" dump --demo >/dev/null

step "the protocol model: every property verified, every witness reached"
scripts/model.sh --quick
# The model has teeth: each broken variant of the protocol must give a
# counterexample (scripts/model.sh --list names them).
for v in $(scripts/model.sh --list | awk '{ print $1 }'); do
	step "the protocol model, broken variant $v: it must fail"
	scripts/model.sh --broken "$v"
done
step "all tests passed"
