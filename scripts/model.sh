#!/usr/bin/env bash
# Check the model of the page-table protocol, model/protocol.pml, of the
# reclaim strategies that free on a thread of their own, model/reclaim.pml
# (runs with -DMODEL_RECLAIM), and of a growing root, model/grow.pml (runs
# with -DMODEL_GROW), with spin (docs/protocol.md describes the
# protocol, the checks and the scenarios).
#
#   scripts/model.sh [--quick | --full] [-j JOBS] [--trail]
#   scripts/model.sh --broken NAME|all [-j JOBS] [--trail]
#   scripts/model.sh --list
#
# --quick (the default; what CI runs, about a minute on two cores):
#   every scenario at its small size must verify: no check fails, no
#   deadlock (an invalid end state), and the search is complete (not cut
#   by the depth limit or the memory limit); then each witness must be
#   reached, to show that the interleavings of interest are explored.
# --full: the scenarios with more operations and lookups (several
#   minutes on two cores, and up to 2 x 3 GB of memory), and the quick
#   runs' witnesses.
# --broken NAME: a broken variant of the protocol, which must FAIL: once
#   with every check (the first rule it breaks) and once with the checks
#   of the protocol's own rules off (END_TO_END: where breaking it leads,
#   which must be the consequence listed below). Exits 0 only when both
#   counterexamples are found. `all`: every variant.
# --trail: print the replay of each counterexample (spin -t).
# -j JOBS: runs at once (default: the number of CPUs).
#
# Needs spin and a C compiler (CC, default cc); installs nothing (Debian:
# scripts/deps.sh --test). Works in a temporary directory, removed at the
# end. Exit status: 0 all as expected, 1 a check failed, a search was
# incomplete or a broken variant was not caught, 2 usage or missing tools.
set -euo pipefail
cd "$(dirname "$0")/.."

me=scripts/model.sh
mode=quick
broken=()
trail=0
njobs=$(nproc 2>/dev/null || echo 2)
list=0

usage() {
	sed -n '5,7s/^#   /usage: /p' "$0" >&2
	exit 2
}

while (($#)); do
	case $1 in
	--quick) mode=quick ;;
	--full) mode=full ;;
	--broken)
		[ $# -ge 2 ] || usage
		mode=broken
		broken+=("$2")
		shift
		;;
	--broken=*)
		mode=broken
		broken+=("${1#--broken=}")
		;;
	--trail) trail=1 ;;
	-j)
		[ $# -ge 2 ] || usage
		njobs=$2
		shift
		;;
	-j*) njobs=${1#-j} ;;
	--list) list=1 ;;
	-h | --help)
		sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//p}' "$0"
		exit 0
		;;
	*)
		echo "$me: unknown argument $1" >&2
		usage
		;;
	esac
	shift
done
[[ $njobs =~ ^[1-9][0-9]*$ ]] || usage

# ---------------------------------------------------------------------
# The runs. One line each, fields separated by '|':
#   kind      verify: must find nothing; witness: must reach the witness;
#             rules, e2e: a broken variant, must find a counterexample
#   name      what the output calls it
#   defines   the model's macros (spin -D...)
#   expect    witness, e2e: the check that must fail first ("deadlock" for
#             an invalid end state); verify: "long" for a search of more
#             than a second, whose verifier is compiled optimized (-O2, in
#             every --full run too); the others' at -O0, which compiles
#             four times faster than -O2 and searches at most a second
#   what      one line for the output

# Scenarios (model/protocol.pml, SCEN): 1 coalesce-split, 2 unlink with a
# frozen parent, 3 epoch, 4 mixed from the root alone, 5 two overlapping
# unmaps of one page (a caller bug), 6 coalesce-unmap, 7 reclaim-map (a
# map into a table that another writer's unmap empties and unlinks); OPS
# operations per writer, LOOKUPS by the walker. UNCOUNTED: a domain
# without counts; UC_COALESCE: one that coalesces; UC_RECLAIM: one that
# reclaims emptied tables (the default domain, without counts: both);
# WAIT_STEPS: their
# waits after a single page's store as loops of loads.
quick_verify=(
	"verify|coalesce-split|-DSCEN=1 -DOPS=1 -DLOOKUPS=1|long|"
	"verify|unlink-frozen-parent|-DSCEN=2 -DOPS=1 -DLOOKUPS=1|long|"
	"verify|unlink-frozen-parent, no prescan|-DSCEN=2 -DOPS=1 -DLOOKUPS=1 -DNO_PRESCAN|long|"
	"verify|epoch|-DSCEN=3 -DOPS=1 -DLOOKUPS=1 -DADVANCES=3||"
	"verify|epoch, retrying enter|-DSCEN=3 -DOPS=1 -DLOOKUPS=1 -DADVANCES=3 -DENTER_RETRY||"
	"verify|mixed|-DSCEN=4 -DOPS=2 -DLOOKUPS=0||"
	"verify|overlap|-DSCEN=5 -DOPS=1 -DLOOKUPS=1||"
	"verify|epoch, walker counts in two shards|-DSCEN=3 -DOPS=1 -DLOOKUPS=1 -DADVANCES=3 -DSHARDS=2||"
	"verify|unlink-frozen-parent, two shards|-DSCEN=2 -DOPS=1 -DLOOKUPS=1 -DSHARDS=2|long|"
	"verify|without counts, coalesce-split|-DSCEN=1 -DOPS=1 -DLOOKUPS=1 -DUNCOUNTED||"
	"verify|without counts, mixed|-DSCEN=4 -DOPS=2 -DLOOKUPS=0 -DUNCOUNTED||"
	"verify|without counts, overlap|-DSCEN=5 -DOPS=1 -DLOOKUPS=1 -DUNCOUNTED||"
	"verify|coalesce-unmap|-DSCEN=6 -DOPS=1 -DLOOKUPS=1||"
	"verify|without counts, coalescing: coalesce-unmap|-DSCEN=6 -DOPS=1 -DLOOKUPS=1 -DUNCOUNTED -DUC_COALESCE||"
	"verify|without counts, coalescing: coalesce-split|-DSCEN=1 -DOPS=1 -DLOOKUPS=1 -DUNCOUNTED -DUC_COALESCE|long|"
	"verify|without counts, coalescing: mixed|-DSCEN=4 -DOPS=2 -DLOOKUPS=0 -DUNCOUNTED -DUC_COALESCE||"
	"verify|without counts, coalescing: overlap|-DSCEN=5 -DOPS=1 -DLOOKUPS=1 -DUNCOUNTED -DUC_COALESCE||"
	"verify|without counts, reclaiming: reclaim-map|-DSCEN=7 -DOPS=1 -DLOOKUPS=1 -DUNCOUNTED -DUC_RECLAIM||"
	"verify|without counts, reclaiming: reclaim-map, 2 ops|-DSCEN=7 -DOPS=2 -DLOOKUPS=1 -DUNCOUNTED -DUC_RECLAIM|long|"
	"verify|without counts, reclaiming: coalesce-split|-DSCEN=1 -DOPS=1 -DLOOKUPS=1 -DUNCOUNTED -DUC_RECLAIM|long|"
	"verify|without counts, reclaiming: mixed|-DSCEN=4 -DOPS=2 -DLOOKUPS=0 -DUNCOUNTED -DUC_RECLAIM||"
	"verify|without counts, coalescing and reclaiming: reclaim-map|-DSCEN=7 -DOPS=1 -DLOOKUPS=1 -DUNCOUNTED -DUC_COALESCE -DUC_RECLAIM||"
	"verify|without counts, coalescing and reclaiming: mixed|-DSCEN=4 -DOPS=2 -DLOOKUPS=0 -DUNCOUNTED -DUC_COALESCE -DUC_RECLAIM||"
	"verify|reclaim strategies: RCU, bound 1|-DMODEL_RECLAIM -DSTRAT=1||"
	"verify|reclaim strategies: RCU, bound 2 (callbacks only)|-DMODEL_RECLAIM -DSTRAT=1 -DBOUND=2||"
	"verify|reclaim strategies: worker|-DMODEL_RECLAIM -DSTRAT=2|long|"
	"verify|a root that grows|-DMODEL_GROW||"
)
# COARSE_EPOCH: the writers' enter and sync in one step each (the epoch
# protocol itself is checked step by step in the other runs), to reach
# two operations per writer on the shared tables.
full_verify=(
	"verify|coalesce-split, 2 lookups|-DSCEN=1 -DOPS=1 -DLOOKUPS=2||"
	"verify|coalesce-split, 1 unmapper, 2 ops|-DSCEN=1 -DOPS=2 -DLOOKUPS=1 -DUNMAPPERS=1||"
	"verify|coalesce-split, 2 ops, coarse epoch|-DSCEN=1 -DOPS=2 -DLOOKUPS=0 -DCOARSE_EPOCH||"
	"verify|unlink-frozen-parent, 2 lookups|-DSCEN=2 -DOPS=1 -DLOOKUPS=2||"
	"verify|unlink-frozen-parent, no prescan, 2 lookups|-DSCEN=2 -DOPS=1 -DLOOKUPS=2 -DNO_PRESCAN||"
	"verify|unlink-frozen-parent, 2 ops, coarse epoch|-DSCEN=2 -DOPS=2 -DLOOKUPS=0 -DCOARSE_EPOCH||"
	"verify|epoch, 2 ops, 2 lookups|-DSCEN=3 -DOPS=2 -DLOOKUPS=2 -DADVANCES=4||"
	"verify|epoch, retrying enter, 2 ops, 2 lookups|-DSCEN=3 -DOPS=2 -DLOOKUPS=2 -DADVANCES=4 -DENTER_RETRY||"
	"verify|mixed, 2 lookups|-DSCEN=4 -DOPS=2 -DLOOKUPS=2||"
	"verify|mixed, 3 ops|-DSCEN=4 -DOPS=3 -DLOOKUPS=0 -DMAXT=16||"
	"verify|overlap, 2 lookups|-DSCEN=5 -DOPS=1 -DLOOKUPS=2||"
	"verify|without counts, mixed, 3 ops, 1 lookup|-DSCEN=4 -DOPS=3 -DLOOKUPS=1 -DMAXT=16 -DUNCOUNTED||"
	"verify|without counts, coalesce-split, 2 lookups|-DSCEN=1 -DOPS=1 -DLOOKUPS=2 -DUNCOUNTED||"
	"verify|coalesce-unmap, 2 ops|-DSCEN=6 -DOPS=2 -DLOOKUPS=1||"
	"verify|without counts, coalescing: coalesce-unmap, 2 ops|-DSCEN=6 -DOPS=2 -DLOOKUPS=1 -DUNCOUNTED -DUC_COALESCE||"
	"verify|without counts, coalescing: coalesce-split, 2 lookups|-DSCEN=1 -DOPS=1 -DLOOKUPS=2 -DUNCOUNTED -DUC_COALESCE||"
	"verify|without counts, coalescing: mixed, 3 ops, 1 lookup|-DSCEN=4 -DOPS=3 -DLOOKUPS=1 -DMAXT=16 -DUNCOUNTED -DUC_COALESCE||"
	"verify|without counts, reclaiming: unlink-frozen-parent|-DSCEN=2 -DOPS=1 -DLOOKUPS=1 -DUNCOUNTED -DUC_RECLAIM||"
	"verify|without counts, coalescing and reclaiming: coalesce-unmap|-DSCEN=6 -DOPS=1 -DLOOKUPS=1 -DUNCOUNTED -DUC_COALESCE -DUC_RECLAIM||"
	"verify|without counts, coalescing and reclaiming: mixed, waits as loads|-DSCEN=4 -DOPS=2 -DLOOKUPS=0 -DUNCOUNTED -DUC_COALESCE -DUC_RECLAIM -DWAIT_STEPS||"
	"verify|without counts, reclaiming: reclaim-map, 2 ops, 2 lookups|-DSCEN=7 -DOPS=2 -DLOOKUPS=2 -DUNCOUNTED -DUC_RECLAIM||"
	"verify|without counts, reclaiming: coalesce-split, 2 lookups|-DSCEN=1 -DOPS=1 -DLOOKUPS=2 -DUNCOUNTED -DUC_RECLAIM||"
	"verify|without counts, reclaiming: mixed, 3 ops|-DSCEN=4 -DOPS=3 -DLOOKUPS=0 -DMAXT=16 -DUNCOUNTED -DUC_RECLAIM||"
	"verify|without counts, reclaiming: overlap|-DSCEN=5 -DOPS=1 -DLOOKUPS=1 -DUNCOUNTED -DUC_RECLAIM||"
	"verify|without counts, coalescing and reclaiming: reclaim-map, 2 ops|-DSCEN=7 -DOPS=2 -DLOOKUPS=1 -DUNCOUNTED -DUC_COALESCE -DUC_RECLAIM||"
	"verify|without counts, coalescing and reclaiming: coalesce-split|-DSCEN=1 -DOPS=1 -DLOOKUPS=1 -DUNCOUNTED -DUC_COALESCE -DUC_RECLAIM||"
	"verify|without counts, coalescing and reclaiming: unlink-frozen-parent|-DSCEN=2 -DOPS=1 -DLOOKUPS=1 -DUNCOUNTED -DUC_COALESCE -DUC_RECLAIM||"
	"verify|without counts, coalescing and reclaiming: coalesce-unmap, 2 ops|-DSCEN=6 -DOPS=2 -DLOOKUPS=1 -DUNCOUNTED -DUC_COALESCE -DUC_RECLAIM||"
	"verify|without counts, coalescing and reclaiming: overlap|-DSCEN=5 -DOPS=1 -DLOOKUPS=1 -DUNCOUNTED -DUC_COALESCE -DUC_RECLAIM||"
	"verify|without counts, coalescing and reclaiming: mixed, 3 ops|-DSCEN=4 -DOPS=3 -DLOOKUPS=0 -DMAXT=16 -DUNCOUNTED -DUC_COALESCE -DUC_RECLAIM||"
	"verify|without counts, coalescing and reclaiming: reclaim-map, 2 ops, waits as loads|-DSCEN=7 -DOPS=2 -DLOOKUPS=1 -DUNCOUNTED -DUC_COALESCE -DUC_RECLAIM -DWAIT_STEPS||"
	"verify|without counts, coalescing: coalesce-unmap, waits as loads|-DSCEN=6 -DOPS=1 -DLOOKUPS=1 -DUNCOUNTED -DUC_COALESCE -DWAIT_STEPS||"
	"verify|reclaim-map|-DSCEN=7 -DOPS=2 -DLOOKUPS=1||"
	"verify|reclaim strategies: worker, two batches a syncer, one walker|-DMODEL_RECLAIM -DSTRAT=2 -DWALKERS=1 -DPER=2||"
	"verify|reclaim strategies: RCU, two batches a syncer|-DMODEL_RECLAIM -DSTRAT=1 -DPER=2||"
	"verify|reclaim strategies: RCU, two batches a syncer, bound 2|-DMODEL_RECLAIM -DSTRAT=1 -DPER=2 -DBOUND=2||"
)
witnesses=(
	"witness|W1|-DSCEN=1 -DWITNESS=1|witness|a split finds the level-1 table frozen by a coalescer"
	"witness|W2|-DSCEN=1 -DWITNESS=2|witness|a split of the level-2 leaf a coalescer made"
	"witness|W3|-DSCEN=1 -DWITNESS=3|witness|a coalescer freezes A while its unlinker holds a child of A frozen"
	"witness|W3b|-DSCEN=2 -DNO_PRESCAN -DWITNESS=3|witness|the same in scenario 2, the coalescer freezing before any scan"
	"witness|W4|-DSCEN=2 -DWITNESS=4|witness|a map finds its table frozen by an unlinker and relaxes"
	"witness|W5|-DSCEN=3 -DWITNESS=5|witness|a walker increments after the epoch moved past the value it read"
	"witness|W6|-DSCEN=3 -DWITNESS=6|witness|a walker's re-check fails and it counts itself under both parities"
	"witness|W7|-DSCEN=3 -DWITNESS=7|witness|a table waits for two advances before it is freed"
	"witness|W8|-DSCEN=3 -DWITNESS=8|witness|an advance succeeds on a counter that changed after its check"
	"witness|W9|-DSCEN=4 -DWITNESS=9|witness|an install loses the CAS and frees its table"
	"witness|W10|-DSCEN=2 -DWITNESS=10|witness|a coalescer's rescan under the freeze fails and it unfreezes"
	"witness|W11|-DSCEN=4 -DOPS=2 -DLOOKUPS=0 -DWITNESS=11|witness|after a lost install, the winner's table is already unlinked: install again"
	"witness|W12|-DSCEN=5 -DWITNESS=12|witness|an overlapping clear finds its entry already empty and counts nothing"
	"witness|W13|-DSCEN=3 -DSHARDS=2 -DWITNESS=13|witness|an advance finds shard 0 of the parity empty and a walker in shard 1"
	"witness|W14|-DSCEN=1 -DUNCOUNTED -DWITNESS=14|witness|without counts, a page's store lands in a table while another writer's split holds the parent's shared section"
	"witness|W15|-DSCEN=6 -DUNCOUNTED -DUC_COALESCE -DWITNESS=15|witness|without counts, a clear finds its table frozen by a coalescer after its store"
	"witness|W16|-DSCEN=6 -DUNCOUNTED -DUC_COALESCE -DWITNESS=16|witness|without counts, the coalescer replaced the table a clear found frozen: unmap again from the root"
	"witness|W17|-DSCEN=7 -DUNCOUNTED -DUC_RECLAIM -DWITNESS=17|witness|without counts, reclaiming, a map finds its table frozen after its store, and the table is then unlinked: map again from the root"
	"witness|W18|-DSCEN=7 -DUNCOUNTED -DUC_RECLAIM -DWITNESS=18|witness|without counts, reclaiming, an unlinker's rescan under the freeze finds a map's entry: it unfreezes"
	"witness|W19|-DSCEN=4 -DOPS=2 -DLOOKUPS=0 -DUNCOUNTED -DUC_COALESCE -DUC_RECLAIM -DWITNESS=19|witness|without counts, coalescing and reclaiming, a map finds its table frozen after its store, then replaced by a coalescer's leaf: done"
	"witness|W20|-DSCEN=4 -DOPS=2 -DLOOKUPS=0 -DUNCOUNTED -DUC_COALESCE -DUC_RECLAIM -DWITNESS=20|witness|without counts, coalescing and reclaiming, a clear finds its table frozen, then unlinked: the unmap again from the root finds no entry"
	"witness|W21|-DSCEN=7 -DUNCOUNTED -DUC_RECLAIM -DWITNESS=21|witness|without counts, reclaiming, an unlink cascades: the emptied level-1 table is unlinked from the root"
	"witness|W22|-DSCEN=4 -DOPS=2 -DLOOKUPS=0 -DUNCOUNTED -DUC_COALESCE -DUC_RECLAIM -DWITNESS=22|witness|without counts, coalescing and reclaiming, a map finds its table coalesced and the leaf split again: the map again from the root finds its own leaf"
	"witness|R1|-DMODEL_RECLAIM -DSTRAT=1 -DWITNESS=1|witness|RCU: a walker reads a table retired under it (its callback waits)"
	"witness|R2|-DMODEL_RECLAIM -DSTRAT=1 -DWITNESS=2|witness|RCU: a sync over the bound waits for a grace period itself"
	"witness|R3|-DMODEL_RECLAIM -DSTRAT=2 -DWITNESS=3|witness|worker: a thread exits with pages on its queue, spliced onto the orphans"
	"witness|R4|-DMODEL_RECLAIM -DSTRAT=2 -DWITNESS=4|witness|worker: nothing it holds is due yet (a walker holds the grace period back)"
	"witness|R5|-DMODEL_RECLAIM -DSTRAT=2 -DWITNESS=1|witness|worker: a walker reads a table retired under it"
	"witness|G1|-DMODEL_GROW -DWITNESS=1|witness|a growing root: a mapper that waited for the lock finds the root grown meanwhile"
	"witness|W23|-DSCEN=7 -DUNCOUNTED -DUC_RECLAIM -DWITNESS=23|witness|without counts, reclaiming, a table is freed with a leaf in it: a map stored into it after the unlink (it must be zeroed before reuse)"
)
# Broken variants: name|scenario defines|the consequence the end-to-end run
# must show|what is broken.
variants=(
	"no-recheck|-DSCEN=3 -DNO_RECHECK|walker_no_freed|walker enter without the epoch re-check"
	"split-no-open|-DSCEN=1 -DUNMAPPERS=1 -DLOOKUPS=0 -DSPLIT_NO_OPEN|lost_unmap|split replaces the parent entry without open/close (no W)"
	"unfreeze-store|-DSCEN=2 -DUNFREEZE_STORE|final_counts|unfreeze by a plain store of the word read before the freeze"
	"unlink-ignore-open|-DSCEN=1 -DUNLINK_IGNORE_OPEN|final_counts|unlink goes on when its open of the parent fails"
	"no-rescan|-DSCEN=1 -DNO_RESCAN|lost_unmap|coalesce trusts its scan made before the freeze"
	"retire-now|-DSCEN=3 -DRETIRE_NOW|walker_no_freed|retire frees at once, ignoring the walker counters"
	"split-wait|-DSCEN=1 -DSPLIT_WAIT|deadlock|split waits for a frozen parent instead of reloading the entry above it"
	"clear-count-intended|-DSCEN=5 -DCLEAR_COUNT_INTENDED|lost_map|a clear counts the entries it meant to clear, not those found non-empty"
	"leave-other-shard|-DSCEN=3 -DSHARDS=2 -DLEAVE_OTHER_SHARD|final_walkers|a walker leaves by decrementing another shard's counter than the one it entered in"
	"ins-store|-DSCEN=4 -DOPS=1 -DLOOKUPS=0 -DUNCOUNTED -DINS_STORE|lost_map|without counts, install by a plain store of the table entry instead of a compare-and-swap"
	"uc-no-check|-DSCEN=6 -DUNCOUNTED -DUC_COALESCE -DUC_NO_CHECK|lost_unmap|without counts, a clear does not read its table's F after its store"
	"uc-no-map-check|-DSCEN=7 -DUNCOUNTED -DUC_RECLAIM -DUC_NO_MAP_CHECK|lost_map|without counts, reclaiming, a map does not read its table's F after its store"
	"uc-unlink-no-rescan|-DSCEN=7 -DUNCOUNTED -DUC_RECLAIM -DUC_UNLINK_NO_RESCAN|lost_map|without counts, reclaiming, an unlinker decides from its probe before the freeze, with no scan under it"
	"rcu-no-grace|-DMODEL_RECLAIM -DSTRAT=1 -DRCU_NO_GRACE|walker_no_freed|RCU: the batch's callback frees without waiting for a grace period"
	"worker-no-wait|-DMODEL_RECLAIM -DSTRAT=2 -DWORKER_NO_WAIT|walker_no_freed|worker: frees what it takes without waiting for walkers"
	"worker-lost-exit|-DMODEL_RECLAIM -DSTRAT=2 -DWORKER_LOST_EXIT|final_freed|worker: a thread that exits drops its queue"
	"worker-wake-unlocked|-DMODEL_RECLAIM -DSTRAT=2 -DWORKER_WAKE_UNLOCKED|deadlock|worker: a sync wakes the worker without the mutex, before its pages are counted (a lost wake-up)"
	"grow-link-late|-DMODEL_GROW -DLINK_LATE|lost_map|a growing root: the new root's entry 0 is written after the hardware is given it"
	"grow-publish-early|-DMODEL_GROW -DPUBLISH_EARLY|lost_map|a growing root: walks start from the new root before the hardware is given it"
	"uc-thaw-give-up|-DSCEN=4 -DOPS=2 -DLOOKUPS=0 -DUNCOUNTED -DUC_RECLAIM -DUC_THAW_GIVE_UP|final_no_empty|without counts, reclaiming, an unlinker whose rescan finds an entry unfreezes and gives up without probing again"
)

if ((list)); then
	for v in "${variants[@]}"; do
		IFS='|' read -r name _ cons what <<<"$v"
		printf '%-20s %s (end to end: %s)\n' "$name" "$what" "$cons"
	done
	exit 0
fi

runs=()
case $mode in
quick) runs=("${quick_verify[@]}" "${witnesses[@]}") ;;
full) runs=("${quick_verify[@]}" "${full_verify[@]}" "${witnesses[@]}") ;;
broken)
	names=()
	for b in "${broken[@]}"; do
		if [ "$b" = all ]; then
			for v in "${variants[@]}"; do names+=("${v%%|*}"); done
		else
			names+=("$b")
		fi
	done
	for b in "${names[@]}"; do
		found=
		for v in "${variants[@]}"; do
			IFS='|' read -r name defs cons what <<<"$v"
			[ "$name" = "$b" ] || continue
			found=1
			runs+=("rules|$name|$defs||$what")
			runs+=("e2e|$name|$defs -DEND_TO_END|$cons|$what")
		done
		if [ -z "$found" ]; then
			echo "$me: no broken variant $b (--list names them)" >&2
			exit 2
		fi
	done
	;;
esac

# ---------------------------------------------------------------------
# Tools: nothing is installed here.
cc=${CC:-cc}
missing=()
command -v spin >/dev/null || missing+=("spin (Debian package spin)")
command -v "$cc" >/dev/null || missing+=("a C compiler ($cc; Debian package gcc)")
if ((${#missing[@]})); then
	for m in "${missing[@]}"; do echo "$me: not found: $m" >&2; done
	echo "$me: install them with scripts/deps.sh --test, or as root:" >&2
	echo "  apt-get install --no-install-recommends spin gcc libc6-dev" >&2
	exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/iopgt-model.XXXXXX")
# On the way out, also when interrupted: stop the runs still going and
# their verifiers (each run records its pan's process id), then remove the
# directory.
cleanup() {
	local f
	# shellcheck disable=SC2046
	kill $(jobs -p) 2>/dev/null || true
	for f in "$work"/*/pan.pid; do
		[ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
	done
	wait 2>/dev/null || true
	# A compiler stopped by the same signal may still be writing there.
	rm -rf "$work" 2>/dev/null || { sleep 1; rm -rf "$work"; }
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cp model/*.pml "$work/"

# pan: a safety search (assertions and invalid end states; every wait of
# the protocol is a blocking step, so a wait that never ends is an invalid
# end state and needs no cycle search), states stored compressed without
# loss (COLLAPSE), a memory limit that ends the search with a message
# rather than the machine's memory, and a depth limit far beyond the
# deepest path (about 250 steps at the full size). The hash table has
# 2^hash slots for the long searches (run_one) and 2^20 for the others,
# whose tables would take longer to allocate than they take to search
# (the storage is exact either way: a small table only chains more).
if [ "$mode" = full ]; then memlim=3072 hash=26; else memlim=1536 hash=24; fi
depth=100000

# run_one N LINE: run LINE in $work/N; leaves N/result: "ok|..." or
# "FAIL|...", and N/summary.
run_one() {
	local n=$1 kind name defs expect what
	IFS='|' read -r kind name defs expect what <<<"$2"
	local d=$work/$n
	# Not -p: after an interrupt, $work is gone and the run must not
	# create it again.
	mkdir "$d" 2>/dev/null || return 0
	cp "$work"/*.pml "$d/" && cd "$d" || return 0
	# The reclaim strategies have a model of their own.
	local model=protocol.pml
	case " $defs " in *" -DMODEL_RECLAIM "*) model=reclaim.pml ;; esac
	case " $defs " in *" -DMODEL_GROW "*) model=grow.pml ;; esac
	local opt=-O0 w=20
	if [ "$kind" = verify ] && { [ "$mode" = full ] || [ "$expect" = long ]; }; then
		opt=-O2 w=$hash
	fi
	# shellcheck disable=SC2086
	if ! spin -a $defs "$model" >spin.log 2>&1; then
		echo "FAIL|spin -a $defs failed: $(head -n 3 spin.log)" >result
		return
	fi
	if ! "$cc" $opt -w -DSAFETY -DCOLLAPSE -DMEMLIM=$memlim -o pan pan.c \
		>cc.log 2>&1; then
		echo "FAIL|$cc could not build pan: $(head -n 3 cc.log)" >result
		return
	fi
	./pan -m$depth -w$w >pan.out 2>&1 &
	echo $! >pan.pid
	wait $! || true
	rm -f pan.pid
	local errors states secs first check depthat steps=
	errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' pan.out | head -n 1)
	states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' pan.out | head -n 1)
	secs=$(sed -n 's/^pan: elapsed time \([0-9.e+]*\) seconds.*/\1/p' pan.out | head -n 1)
	states=$(awk -v s="${states:-0}" 'BEGIN { printf "%d", s }')
	first=$(grep -m1 -E '^pan:1: ' pan.out || true)
	case $first in
	*"assertion violated"*) check=$(sed -n 's/.*||\([a-z_0-9]*\)) (at depth.*/\1/p' <<<"$first") ;;
	*"invalid end state"*) check=deadlock ;;
	*) check=$first ;;
	esac
	depthat=$(sed -n 's/.*(at depth \([0-9]*\)).*/\1/p' <<<"$first")
	if [ -f "$model.trail" ]; then
		# shellcheck disable=SC2086
		spin -t -T $defs "$model" >trail.txt 2>&1 || true
		steps=$(sed -n 's/^spin: trail ends after \([0-9]*\) steps.*/\1/p' trail.txt)
	fi
	local cut=
	if grep -qE 'max search depth too small|out of memory|reached -DMEMLIM bound|Search not completed' pan.out &&
		[ "${errors:-x}" = 0 ]; then
		cut=$(grep -m1 -E 'max search depth too small|out of memory|reached -DMEMLIM bound|Search not completed' pan.out)
	fi
	local stat="$states states, ${secs:-?} s"
	case $kind in
	verify)
		if [ "${errors:-x}" = 0 ] && [ -z "$cut" ]; then
			echo "ok|verified: $stat" >result
		elif [ -n "$cut" ]; then
			echo "FAIL|search incomplete ($cut): $stat" >result
		else
			echo "FAIL|$check at depth $depthat (${steps:-?} steps): $stat" >result
		fi
		;;
	witness)
		if [ "$check" = witness ]; then
			echo "ok|reached after ${steps:-?} steps" >result
		else
			echo "FAIL|not reached (${first:-no error}): $stat" >result
		fi
		;;
	rules | e2e)
		if [ "${errors:-0}" = 0 ]; then
			echo "FAIL|no counterexample found: $stat" >result
		elif [ "$kind" = e2e ] && [ "$check" != "$expect" ]; then
			echo "FAIL|first counterexample is $check (${steps:-?} steps), not $expect" >result
		else
			echo "ok|counterexample: $check, ${steps:-?} steps" >result
		fi
		;;
	esac
}

label() {
	local kind name defs expect what
	IFS='|' read -r kind name defs expect what <<<"$1"
	case $kind in
	verify) echo "verify  $name (${defs//-D/})" ;;
	witness) echo "witness $name: $what" ;;
	rules) echo "broken  $name, every check" ;;
	e2e) echo "broken  $name, end to end" ;;
	esac
}

echo "$me --$mode: ${#runs[@]} runs, $njobs at a time, spin $(spin -V | sed -n 's/^Spin Version \([^ ]*\).*/\1/p')"
start=$SECONDS
for i in "${!runs[@]}"; do
	while (($(jobs -rp | wc -l) >= njobs)); do wait -n || true; done
	(run_one "$i" "${runs[$i]}") &
done
wait

fail=0
for i in "${!runs[@]}"; do
	res=$(cat "$work/$i/result" 2>/dev/null || echo "FAIL|the run died")
	status=${res%%|*}
	printf '%-4s %s: %s\n' "$status" "$(label "${runs[$i]}")" "${res#*|}"
	[ "$status" = ok ] || fail=1
	if ((trail)) && [ -f "$work/$i/trail.txt" ]; then
		# The steps, then where each process stands at the end.
		sed -e 's/^/     | /' -e '/| spin: trail ends/q' "$work/$i/trail.txt"
		grep -E '^ *[0-9]+:[[:space:]]+proc ' "$work/$i/trail.txt" |
			sed 's/^ */     | at the end: /'
	fi
	if [ "$status" != ok ] && [ -f "$work/$i/pan.out" ]; then
		grep -E 'pan:|error|Warning' "$work/$i/pan.out" | head -n 5 | sed 's/^/     | /'
	fi
done
echo "$me --$mode: $((SECONDS - start)) s"
if ((fail)); then
	echo "$me: FAILED"
	exit 1
fi
case $mode in
broken) echo "$me: every broken variant gives its counterexample, as it must" ;;
*) echo "$me: every property verified, every witness reached" ;;
esac
