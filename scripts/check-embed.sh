#!/usr/bin/env bash
# Check the three ways a project takes iopgt in, from this source tree:
#  1. add_subdirectory: iopgt's warnings-as-errors and tests stay out of the
#     embedding project (its own code has a warning and must still build);
#  2. cmake --install, then find_package(iopgt) and iopgt::iopgt;
#  3. the same install through pkg-config.
# Each consumer creates a domain, maps, syncs and reads the version.
# Usage: scripts/check-embed.sh WORK_DIR [BUILD_DIR]
#   BUILD_DIR: an existing build of this tree to install from (default: a
#   new Release build in WORK_DIR/lib).
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
w=${1:?usage: scripts/check-embed.sh WORK_DIR [BUILD_DIR]}
b=${2:-}
rm -rf "$w"
mkdir -p "$w/app"
w=$(cd "$w" && pwd)
# Run a command, showing its output only if it fails.
quiet() {
	"$@" >"$w/log" 2>&1 || { cat "$w/log"; return 1; }
}

cat >"$w/app/app.c" <<'C'
#include <stdio.h>
#include <iopgt.h>

int main(void)
{
	struct iopgt_config cfg;
	struct iopgt_domain *dom;
	struct iopgt_gather g;
	int unused; /* a warning in the embedding project's own code */

	if (iopgt_config_init(&cfg, sizeof(cfg), IOPGT_FMT_X86_64) ||
	    iopgt_domain_create(&cfg, &dom))
		return 1;
	iopgt_gather_init(&g, sizeof(g));
	if (iopgt_map(dom, 0, 0x100000, 4096, IOPGT_PROT_READ, &g) ||
	    iopgt_sync(dom, &g))
		return 1;
	iopgt_domain_destroy(dom);
	printf("iopgt %s\n", iopgt_version_string());
	return iopgt_version() == IOPGT_VERSION ? 0 : 1;
}
C

# 1. add_subdirectory
cat >"$w/app/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.18)
project(app C)
add_compile_options(-Wall)
add_subdirectory("$src" iopgt)
add_executable(app app.c)
target_link_libraries(app PRIVATE iopgt_static)
if(TARGET test_map)
  message(FATAL_ERROR "iopgt's tests were built inside the embedding project")
endif()
CM
quiet cmake -S "$w/app" -B "$w/sub"
quiet cmake --build "$w/sub" -j"$(nproc)" --target app
"$w/sub/app"
if grep -q -- '-Werror' "$w/sub/CMakeFiles/app.dir/flags.make"; then
	echo "check-embed: -Werror reached the embedding project's own target"
	exit 1
fi

# 2. install, find_package
if [ -z "$b" ]; then
	b=$w/lib
	quiet cmake -S . -B "$b" -DCMAKE_BUILD_TYPE=Release -DIOPGT_TESTS=OFF
	quiet cmake --build "$b" -j"$(nproc)"
fi
quiet cmake --install "$b" --prefix "$w/prefix"
cat >"$w/app/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.18)
project(app C)
find_package(iopgt REQUIRED)
add_executable(app app.c)
target_link_libraries(app PRIVATE iopgt::iopgt)
CM
quiet cmake -S "$w/app" -B "$w/pkg" -DCMAKE_PREFIX_PATH="$w/prefix"
quiet cmake --build "$w/pkg"
LD_LIBRARY_PATH="$w/prefix/lib:$w/prefix/lib64" "$w/pkg/app"

# 3. pkg-config
pc=$(ls -d "$w"/prefix/lib*/pkgconfig | head -n1)
# shellcheck disable=SC2046
quiet cc -o "$w/app-pc" "$w/app/app.c" $(PKG_CONFIG_PATH=$pc pkg-config --cflags --libs iopgt)
LD_LIBRARY_PATH="$w/prefix/lib:$w/prefix/lib64" "$w/app-pc"
echo "check-embed: add_subdirectory, find_package and pkg-config consumers build and run"
