#!/usr/bin/env bash
# Install the Debian packages iopgt needs to build and test, if missing.
# Usage: scripts/deps.sh [extra-package...]
set -euo pipefail
pkgs=(cmake make gcc pkg-config libcmocka-dev "$@")
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
if ((${#missing[@]})); then
	echo "installing: ${missing[*]}"
	if [ "$(id -u)" -ne 0 ]; then
		sudo=sudo
	else
		sudo=
	fi
	$sudo apt-get update -q
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}"
fi
