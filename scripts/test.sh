#!/usr/bin/env bash
# Build and run every test: all of them under AddressSanitizer and
# UndefinedBehaviorSanitizer, and the concurrency stress tests again under
# ThreadSanitizer. Then build the release tool and check it runs.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
jobs=$(nproc)

echo "== ASan+UBSan build, all tests"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DIOPGT_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"
(cd build-asan && ctest --output-on-failure -j"$jobs")

echo "== TSan build, concurrency tests"
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DIOPGT_TSAN=ON >/dev/null
cmake --build build-tsan -j"$jobs"
(cd build-tsan && ctest --output-on-failure -L stress)

echo "== release build of the tool"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$jobs"
build/iopgt --help >/dev/null
build/iopgt dump >/dev/null
echo "all tests passed"
