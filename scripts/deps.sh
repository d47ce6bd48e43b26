#!/usr/bin/env bash
# Install the Debian packages iopgt needs, if missing. Debian 12 (bookworm);
# the lists are complete without recommended packages, as on a minimal
# system or a container image, and nothing recommended is installed.
# Usage: scripts/deps.sh [--test] [--bench] [extra-package...]
#   (no option)  build the library and the tool: what scripts/main.sh needs
#   --test       also build and run every test: what scripts/test.sh needs,
#                and the tools CI runs beside it (clang build and libFuzzer,
#                ABI check, nm, valgrind, spin for the protocol model)
#   --bench      also what bench/run-all.sh needs (valgrind and its
#                callgrind.h: install before building build-bench)
set -euo pipefail

# gcc only recommends libc6-dev (crt files, libc headers), and cmake only
# recommends gcc and make. liburcu-dev: the RCU reclaim strategy's headers
# (the library links no flavor) and the flavors the tool and the tests
# link for --strategy rcu-*.
build=(gcc libc6-dev make cmake liburcu-dev)
# tests/ finds cmocka through pkg-config. The gcc sanitizer runtimes come
# with gcc (libgcc-12-dev); clang's, and libFuzzer, are in libclang-rt-14-dev,
# which clang only recommends. abigail-tools: abidiff, abidw. binutils: nm.
# spin: the model checker of scripts/model.sh (it compiles its verifier
# with gcc, already in the build list).
test=(pkg-config libcmocka-dev clang libclang-rt-14-dev abigail-tools
	binutils valgrind spin)
# valgrind ships the callgrind tool, callgrind_annotate and
# <valgrind/callgrind.h>, which bench/bench_ops.c needs at build time. The
# build in BENCHMARKS.md configures the tests too: pkg-config, cmocka.
bench=(valgrind pkg-config libcmocka-dev)

pkgs=("${build[@]}")
while (($#)); do
	case $1 in
	--test) pkgs+=("${test[@]}") ;;
	--bench) pkgs+=("${bench[@]}") ;;
	-h | --help)
		sed -n '2,11s/^# \{0,1\}//p' "$0"
		exit 0
		;;
	-*)
		echo "scripts/deps.sh: unknown option $1" >&2
		exit 2
		;;
	*) pkgs+=("$1") ;;
	esac
	shift
done

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
((${#missing[@]})) || exit 0
# Each name once, in order.
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | awk '!seen[$0]++')

echo "installing: ${missing[*]}"
sudo=()
if [ "$(id -u)" -ne 0 ]; then
	if ! command -v sudo >/dev/null; then
		echo "scripts/deps.sh: not root and no sudo; as root run:" >&2
		echo "  apt-get update && apt-get install --no-install-recommends ${missing[*]}" >&2
		exit 1
	fi
	sudo=(sudo)
fi
# Through env: sudo does not pass the caller's environment on.
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
	apt-get install -y -q --no-install-recommends "${missing[@]}"
