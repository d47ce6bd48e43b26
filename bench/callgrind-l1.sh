#!/bin/sh
# SPDX-License-Identifier: MIT
#
# L1 misses per lookup from the callgrind files of
#
#   valgrind --tool=callgrind --cache-sim=yes --instr-atstart=no \
#       --callgrind-out-file=FILE iopgt bench lookup --set 64G --lookups N
#
# `iopgt bench lookup` instruments only its N lookups and dumps them with
# CALLGRIND_DUMP_STATS_AT, so valgrind writes FILE.1 (the lookups) and FILE
# (the rest of the run, which is not instrumented: all zero). Give all of
# them: the "totals:" lines are added event by event.
#
#   bench/callgrind-l1.sh N FILE...
#
# Prints, per lookup: L1 misses = (D1mr + D1mw + I1mr) / N, then Ir,
# D1mr, D1mw, I1mr and the last-level misses (DLmr + DLmw + ILmr) / N, and
# the caches valgrind simulated.
set -eu

[ $# -ge 2 ] || {
	echo "usage: $0 LOOKUPS CALLGRIND_FILE..." >&2
	exit 2
}
n=$1
shift
case $n in '' | *[!0-9]* | 0)
	echo "$0: LOOKUPS must be a positive number, not '$n'" >&2
	exit 2 ;;
esac
for f in "$@"; do
	[ -r "$f" ] || { echo "$0: cannot read $f" >&2; exit 1; }
done

awk -v n="$n" '
/^desc: (I1|D1|LL) cache:/ { if (!seen[$0]++) caches = caches "  " substr($0, 7) "\n" }
/^events:/ { nev = split(substr($0, 9), ev, " ") }
/^totals:/ {
	found = 1
	k = split(substr($0, 9), v, " ")
	for (i = 1; i <= k && i <= nev; i++)
		tot[ev[i]] += v[i]
}
END {
	if (!found) { print "no totals: line in the files" > "/dev/stderr"; exit 1 }
	if (!("D1mr" in tot) || !("I1mr" in tot)) {
		print "no cache events: run valgrind with --cache-sim=yes" > "/dev/stderr"
		exit 1
	}
	if (tot["Ir"] == 0) {
		print "callgrind counted nothing: was iopgt built with <valgrind/callgrind.h>, and run with --instr-atstart=no?" > "/dev/stderr"
		exit 1
	}
	l1 = tot["D1mr"] + tot["D1mw"] + tot["I1mr"]
	ll = tot["DLmr"] + tot["DLmw"] + tot["ILmr"]
	printf "L1 misses per lookup: %.3f  ((D1mr %d + D1mw %d + I1mr %d) / %d)\n", l1 / n, tot["D1mr"], tot["D1mw"], tot["I1mr"], n
	printf "  instructions per lookup (Ir): %.1f\n", tot["Ir"] / n
	printf "  data reads per lookup (Dr): %.1f, D1 read misses %.3f, D1 write misses %.3f, I1 misses %.4f\n", tot["Dr"] / n, tot["D1mr"] / n, tot["D1mw"] / n, tot["I1mr"] / n
	printf "  last-level misses per lookup (DLmr + DLmw + ILmr): %.3f\n", ll / n
	printf "simulated caches:\n%s", caches
}' "$@"
