#!/usr/bin/env bash
# Long fuzz runs of tests/fuzz/fuzz_ops.c (libFuzzer, ASan+UBSan, the
# library's assertions on).
#
#   scripts/fuzz.sh [SECONDS] [JOBS] [-- LIBFUZZER-OPTIONS...]
#
# Builds a clang fuzz build in build-fuzz/ (IOPGT_FUZZ=ON, RelWithDebInfo,
# IOPGT_DEBUG=ON), then fuzzes for SECONDS (default 600) with JOBS
# processes (default 1; more run libFuzzer's -jobs/-workers, one log each
# in build-fuzz/fuzz-N.log). The working corpus is build-fuzz/corpus,
# seeded from tests/fuzz/corpus and kept between runs; inputs that fail go
# to build-fuzz/crashes/. At the end it prints the executions, the rate
# and the coverage (libFuzzer's cov: edges, ft: features).
#
# Environment: IOPGT_FUZZ_CONFIG=name limits the run to the configurations
# whose name contains it (e.g. x86_64, arm_s2/64k). To replay an input:
#   build-fuzz/tests/fuzz/fuzz_ops build-fuzz/crashes/crash-...
set -euo pipefail
cd "$(dirname "$0")/.."

secs=600
jobs=1
if [ $# -gt 0 ] && [ "$1" != -- ]; then secs=$1; shift; fi
if [ $# -gt 0 ] && [ "$1" != -- ]; then jobs=$1; shift; fi
[ "${1:-}" = -- ] && shift

CC=${CC:-clang} cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DIOPGT_DEBUG=ON -DIOPGT_FUZZ=ON >/dev/null
cmake --build build-fuzz -j2 --target fuzz_ops
mkdir -p build-fuzz/corpus build-fuzz/crashes

fuzzer=$PWD/build-fuzz/tests/fuzz/fuzz_ops
args=(-max_total_time="$secs" -max_len=1024 -timeout=60 -print_final_stats=1
	-artifact_prefix=crashes/ "$@" corpus ../tests/fuzz/corpus)
rm -f build-fuzz/fuzz-*.log
cd build-fuzz
set +e
if [ "$jobs" -gt 1 ]; then
	# One log per worker: fuzz-N.log.
	"$fuzzer" -jobs="$jobs" -workers="$jobs" "${args[@]}" >/dev/null 2>&1
	rc=$?
	cat fuzz-*.log >fuzz.log
else
	"$fuzzer" "${args[@]}" 2>&1 | tee fuzz.log |
		grep --line-buffered -E 'INITED|pulse|DONE|ERROR|FAILED'
	rc=${PIPESTATUS[0]}
fi
set -e

echo "== $secs s, $jobs process(es), corpus: $(ls corpus | wc -l) inputs"
# The last status line of each process: cov (edges), ft (features).
if [ "$jobs" -gt 1 ]; then
	for f in fuzz-*.log; do
		grep -E '^#[0-9]+[[:space:]]' "$f" | tail -n 1
	done
else
	grep -E '^#[0-9]+[[:space:]]' fuzz.log | tail -n 1
fi
awk -F': *' '/^stat::number_of_executed_units/ { n += $NF }
	/^stat::average_exec_per_sec/ { r += $NF }
	END { printf "executions: %d, %d per second\n", n, r }' fuzz.log
if ls crashes | grep -q .; then
	echo "== failing inputs in build-fuzz/crashes:"
	ls -l crashes
fi
exit "$rc"
