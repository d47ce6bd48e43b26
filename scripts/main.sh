#!/usr/bin/env bash
# The main job: build iopgt (release) as build-main/iopgt and run `iopgt demo`,
# the library at work on the simulated IOMMU: a VM's guest RAM mapped with
# superpages, a NIC's rings mapped and unmapped at a high rate while device
# threads do DMA, dirty tracking, teardown. Every translation is checked;
# the run ends with a summary and "violations: 0".
# Arguments go to the demo, e.g. scripts/main.sh --format arm_s2 --granule 16k
# (build-main/iopgt demo --help lists them). The benchmarks: iopgt bench
# (README, "The tool"; BENCHMARKS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
# Its own build directory, build-main/, so that it never changes the
# configuration of build/ (the README's build by hand) or build-ci/.
cmake -S . -B build-main -DCMAKE_BUILD_TYPE=Release -DIOPGT_TESTS=OFF >/dev/null
cmake --build build-main -j"$(nproc)" --target iopgt_tool
exec build-main/iopgt demo "$@"
