#!/usr/bin/env bash
# The main job: build iopgt (release) as build/iopgt and run it.
# For now that is the benchmark of the core operations on each format and the
# iova-stress pattern with and without reclaim of emptied tables.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DIOPGT_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)"
for fmt in "--format x86_64 --levels 4" "--format arm_s2 --granule 4k"; do
	echo "== iopgt bench ops $fmt"
	build/iopgt bench ops $fmt
	echo
done
echo "== iopgt bench iova-stress --span 1T --both"
build/iopgt bench iova-stress --span 1T --both
