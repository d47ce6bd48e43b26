#!/usr/bin/env bash
# Build and run every test: all of them under AddressSanitizer and
# UndefinedBehaviorSanitizer, and the concurrency stress tests again under
# ThreadSanitizer. Then run the demo (the main job) on each format under
# both sanitizers: it must find no violation. Then build the release tool
# and check it runs.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --test
jobs=$(nproc)

echo "== ASan+UBSan build, all tests"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DIOPGT_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"
(cd build-asan && ctest --output-on-failure -j"$jobs")

echo "== TSan build, concurrency tests"
# Every test that runs threads: the stress tests, the walker-grace tests and
# the simulator's (device threads beside the mapper).
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DIOPGT_TSAN=ON >/dev/null
cmake --build build-tsan -j"$jobs"
(cd build-tsan && ctest --output-on-failure -j"$jobs" \
	-R '^(stress_.*|test_reclaim|test_sim|test_sim_model)$')

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

echo "== the demo on the simulated IOMMU, under ASan+UBSan and TSan"
for fmt in "--format x86_64" "--format x86_64 --levels 5" \
	"--format arm_s2 --granule 4k" "--format arm_s2 --granule 16k" \
	"--format arm_s2 --granule 64k"; do
	demo build-asan --small $fmt
done
for fmt in "--format x86_64" "--format arm_s2 --granule 4k"; do
	demo build-tsan --small --ops 100000 $fmt
done
# The check has teeth: with the library's flushes skipped on purpose, the
# same run must report violations and exit 1.
if out=$(build-asan/iopgt demo --json --small --break skip-flush) ||
	[ "$(json_num violations <<<"$out")" = 0 ]; then
	echo "FAILED: the demo did not catch a library that skips its flushes"
	exit 1
fi
echo "build-asan/iopgt demo --small --break skip-flush: $(json_num violations <<<"$out") violations, as it must"

echo "== release build of the tool"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$jobs"
build/iopgt --help >/dev/null
build/iopgt dump >/dev/null
build/iopgt dump --demo >/dev/null
echo "all tests passed"
