#!/usr/bin/env bash
# The iopgt tool's option parsing: exit statuses and messages for good and
# bad command lines. Usage: cli_test.sh PATH/TO/iopgt
set -u
IOPGT=${1:?usage: cli_test.sh PATH/TO/iopgt}
[ -x "$IOPGT" ] || { echo "FAIL: no tool at $IOPGT"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0

fail() {
	echo "FAIL: iopgt $*"
	fails=$((fails + 1))
}

# run ARGS...: run the tool, status in $rc, output in $out and $err. With
# $limit set, killed after that many seconds (status 124): a hang fails
# the test by name instead of by ctest's timeout.
limit=''
run() {
	if [ -n "$limit" ]; then
		timeout "$limit" "$IOPGT" "$@" >"$tmp/out" 2>"$tmp/err"
	else
		"$IOPGT" "$@" >"$tmp/out" 2>"$tmp/err"
	fi
	rc=$?
	IFS= read -r -d '' out <"$tmp/out"
	IFS= read -r -d '' err <"$tmp/err"
	out=${out%$'\n'}
	err=${err%$'\n'}
}

# has TEXT WORD: TEXT contains WORD (without running a process: the
# machine may be busy).
has() { [[ $1 == *"$2"* ]]; }

# ok ARGS...: exits 0.
ok() {
	run "$@"
	[ "$rc" = 0 ] || { fail "$* (exit $rc, want 0): $err"; return 1; }
}

# usage_error WORD ARGS...: exits 2 with WORD on stderr, followed by the
# hint to run --help, and nothing on stdout.
usage_error() {
	local word=$1
	shift
	run "$@"
	[ "$rc" = 2 ] || { fail "$* (exit $rc, want 2): $err"; return; }
	has "$err" "$word" || fail "$* (stderr does not name '$word'): $err"
	has "$err" "--help" ||
		fail "$* (stderr has no hint to run --help): $err"
	[ -z "$out" ] || fail "$* (wrote to stdout): $out"
}

# help ARGS...: exits 0 and prints a usage text on stdout, nothing on stderr.
help() {
	ok "$@" || return
	[[ $out == "usage: iopgt"* ]] || fail "$* (no usage on stdout)"
	[ -z "$err" ] || fail "$* (wrote to stderr): $err"
}

# json_num KEY: the number after "KEY": in $out.
json_num() {
	local rest=${out#*\""$1"\": }

	[ "$rest" != "$out" ] && echo "${rest%%[!0-9]*}"
}

# json_val KEY: the value after "KEY": in $out, as written (up to the next
# ',' or '}'); empty if the key is missing.
json_val() {
	local rest=${out#*\""$1"\": }

	[ "$rest" != "$out" ] || return 0
	rest=${rest%%[,\}]*}
	echo "$rest"
}

# positive VALUE: a decimal number above zero.
positive() { [[ $1 =~ ^[0-9]+(\.[0-9]+)?$ && $1 =~ [1-9] ]]; }

# --help for every command, and help COMMAND prints the same text.
for cmd in demo dump bench "bench ops" "bench iova-stress" "bench lookup" \
	"bench writers" "bench reclaim" version; do
	# shellcheck disable=SC2086
	help $cmd --help
	text=$out
	# shellcheck disable=SC2086
	help $cmd -h
	[ "$out" = "$text" ] || fail "$cmd -h differs from $cmd --help"
	# shellcheck disable=SC2086
	help help $cmd
	[ "$out" = "$text" ] || fail "help $cmd differs from $cmd --help"
done
help --help
help help
run bench --help
if ! has "$out" --callgrind-op || ! has "$out" --span ||
	! has "$out" --dependent || ! has "$out" --no-reclaim; then
	fail "bench --help (lacks the options of ops, iova-stress, lookup" \
		"or writers)"
fi
run demo --help
if ! has "$out" --small || ! has "$out" "order of the options"; then
	fail "demo --help (does not document the order of the options)"
fi
for cmd in demo "bench ops" "bench iova-stress" "bench lookup" \
	"bench writers" "bench reclaim"; do
	# shellcheck disable=SC2086
	run $cmd --help
	if ! has "$out" "--strategy S" || ! has "$out" rcu-qsbr; then
		fail "$cmd --help (does not document --strategy)"
	fi
	has "$out" "--gather-policy P" ||
		fail "$cmd --help (does not document --gather-policy)"
done
if ok version && [[ $out != "iopgt "[0-9]* ]]; then
	fail "version: $out"
fi

# Unknown commands and options are named; status 2.
usage_error "unknown command 'nope'" nope
usage_error "unknown command 'nope'" help nope
usage_error "'--bogus'" --bogus
usage_error "iopgt dump: unknown option '--bogus'" dump --bogus
usage_error "unknown option '--bogus'" dump --bogus=1
usage_error "unknown option '-x'" dump -x
usage_error "iopgt demo: unknown option '--bogus'" demo --small --bogus
usage_error "unknown option '--bogus'" bench --bogus
usage_error "unknown benchmark 'nope'" bench nope
usage_error "iopgt bench ops: unknown option '--bogus'" bench ops --bogus
usage_error "iopgt bench iova-stress: unknown option '--bogus'" \
	bench iova-stress --bogus
usage_error "iopgt bench lookup: unknown option '--bogus'" \
	bench lookup --set 1M --bogus
usage_error "iopgt bench writers: unknown option '--bogus'" \
	bench writers --bogus
usage_error "'--entries' takes no value" dump --entries=yes
usage_error "unexpected argument 'foo'" demo foo

# Missing and bad values.
usage_error "'--ram' needs a value" demo --ram
usage_error "'--format' needs a value" dump --format
usage_error "'--span' needs a value" bench iova-stress --span
usage_error "--format: 'nope'" dump --format nope
usage_error "--format: 'nope'" dump --format=nope
usage_error "--levels: '6'" dump --levels 6
usage_error "--ias: '-1'" dump --ias -1
usage_error "--ring: '0'" demo --ring 0
usage_error "--ring: '65537'" demo --ring 65537
usage_error "--devices: '65'" demo --devices=65
usage_error "--devices: '-1'" demo --devices -1
usage_error "--ops: '1x'" demo --ops 1x
usage_error "--seed: '18446744073709551616'" demo --seed 18446744073709551616
usage_error "--reps: '2'" bench ops --reps 2
usage_error "--break: 'nope'" demo --break nope
usage_error "iopgt demo: bad value for --strategy: 'bogus'" \
	demo --strategy bogus
usage_error "iopgt bench ops: bad value for --strategy: 'bogus'" \
	bench ops --strategy bogus
usage_error "--strategy: 'bogus'" bench iova-stress --strategy=bogus
usage_error "--strategy: 'bogus'" bench lookup --set 1M --strategy bogus
usage_error "--strategy: 'bogus'" bench writers --strategy bogus
usage_error "--layout: 'rows'" bench writers --layout rows
usage_error "'--layout' needs a value" bench writers --layout
usage_error "'--strategy' needs a value" demo --strategy

# Sizes that overflow 64 bits, are negative or malformed.
usage_error "'16777217T'" dump map:0:0:16777217T
usage_error "'-1'" dump map:0:0:-1
usage_error "'99999999999999999999'" dump unmap:0:99999999999999999999
usage_error "'4q'" dump map:0:0:4q
usage_error "bad operation 'nope'" dump nope
usage_error "--ram: '16777217T'" demo --small --ops 1000 --ram 16777217T
usage_error "--ram: '-1'" demo --small --ops 1000 --ram -1
usage_error "--ram: '-1'" demo --small --ops 1000 --ram=-1
usage_error "--ram: '1Q'" demo --small --ops 1000 --ram 1Q
usage_error "--ram: '0'" demo --small --ops 1000 --ram 0
usage_error "--ram: '5000'" demo --small --ops 1000 --ram 5000
usage_error "--ram: '200T'" demo --small --ops 1000 --ram 200T
usage_error "--span: '16777217T'" bench iova-stress --span 16777217T
usage_error "--span: '-2M'" bench iova-stress --span=-2M
usage_error "--span: '3M'" bench iova-stress --span 3M
usage_error "--set SIZE is required" bench lookup
usage_error "'--set' needs a value" bench lookup --set
usage_error "--set: '1x'" bench lookup --set 1x
usage_error "--set: '0'" bench lookup --set 0
usage_error "not a multiple of the 4K page" bench lookup --set 5000
usage_error "not a multiple of the 16K page" \
	bench lookup --format arm_s2 --granule 16k --set 4k
usage_error "does not fit the 48-bit input" bench lookup --set 128T
usage_error "--lookups: '0'" bench lookup --set 1M --lookups 0
usage_error "--spread: '0'" bench lookup --set 1M --spread 0
usage_error "--miss-buffer: '3M'" bench lookup --set 1M --miss-buffer 3M
usage_error "--readers: '65'" bench writers --readers 65
usage_error "--readers: 'x'" bench writers --readers x
usage_error "--threads: '0'" bench writers --threads 0
usage_error "--threads: '65'" bench writers --threads=65
usage_error "--seconds: 'x'" bench writers --seconds x
usage_error "--seconds: '0'" bench writers --seconds 0
usage_error "--seconds: '-1'" bench writers --seconds -1
usage_error "--ias-max: '57' (this format's root cannot grow)" \
	dump --format x86_64 --ias-max 57
usage_error "--ias-max: '57' (the ias (40) must fill its levels to grow)" \
	dump --format amdv1 --ias 40 --ias-max 57
usage_error "--ias-max: '39' (above the ias (39)" \
	dump --format amdv1 --ias 39 --ias-max 39

# A root that grows: the map above 2^39 adds a level, and the formats that
# can grow are listed.
if ok dump --format amdv1 --ias 39 --ias-max 48 map:0x8000000000:0:4k; then
	has "$out" "ias 48 oas 52 granule 12 levels 4 start_level 4" ||
		fail "dump --ias-max: not grown to 4 levels: $out"
	has "$out" "(grows)" || fail "dump --ias-max: no (grows): $out"
fi
if ok formats --growing; then
	has "$out" "--format amdv1 --ias 39 --ias-max 63" ||
		fail "formats --growing: $out"
	has "$out" "x86_64" && fail "formats --growing lists x86_64: $out"
fi

# --opt=value and --opt value are the same.
a='' b=''
ok dump --format arm_s2 --granule 16k map:0:0:32M && a=$out
ok dump --format=arm_s2 --granule=16k map:0:0:32M && b=$out
# The tables' addresses differ from run to run: compare the shape.
strip() { sed -E 's/pa 0x[0-9a-f]+/pa X/g' <<<"$1"; }
if [ -z "$a" ] || [ "$(strip "$a")" != "$(strip "$b")" ]; then
	fail "dump: --opt=value and --opt value differ"
fi
ok dump --entries map:0:0:4k:r && a=$out
has "$a" "L0 table" || fail "dump map:0:0:4k:r: no L0 table: $a"

# The demo: --small sets defaults, explicit options win on either side.
# (Tiny runs: --ops 1000.)
demo_json() {
	ram='' ring='' devices='' seed='' maps=''
	ok demo --json "$@" || return 1
	ram=$(json_num ram_bytes)
	ring=$(json_num ring)
	devices=$(json_num devices)
	seed=$(json_num seed)
	maps=$(json_num maps)
}
if demo_json --small --ops 1000; then
	if [ "$ram" != 1610612736 ] || [ "$ring" != 64 ]; then
		fail "demo --small: ram $ram ring $ring, want 1536M and 64"
	fi
	[ "$maps" -lt 10000 ] || fail "demo --small --ops 1000: $maps maps"
fi
for args in "--small --ram 1G --ring 32 --ops 1000" \
	"--ram 1G --ring 32 --ops 1000 --small" \
	"--ram=1G --small --ring=32 --ops=1000" \
	"--ram=1G --ring 32 --ops 1000 --small --devices 3 --seed 7"; do
	# shellcheck disable=SC2086
	demo_json $args || continue
	[ "$ram" = 1073741824 ] || fail "demo $args: ram $ram, want 1G"
	[ "$ring" = 32 ] || fail "demo $args: ring $ring, want 32"
	[ "$maps" -lt 10000 ] ||
		fail "demo $args: $maps maps, --ops 1000 was lost"
done
if [ "$devices" != 3 ] || [ "$seed" != 7 ]; then
	fail "demo --devices 3 --seed 7: devices $devices seed $seed"
fi
if demo_json --small --ops 1000 --devices=1 --seed=18446744073709551615 &&
	{ [ "$devices" != 1 ] || [ "$seed" != 18446744073709551615 ]; }; then
	fail "demo --devices=1 --seed=2^64-1: devices $devices seed $seed"
fi

# The demo under each reclaim strategy but the default (which every run
# above used): a short run, no violation, and the strategy reported. A
# thread that holds up grace periods under QSBR would hang: 60 s at most.
limit=60
for strat in after-flush worker rcu-memb rcu-qsbr rcu-bp; do
	ok demo --small --ops 20000 --strategy "$strat" --json || continue
	[ "$(json_val violations)" = 0 ] ||
		fail "demo --strategy $strat: violations $(json_val violations)"
	[ "$(json_val checks_ok)" = true ] ||
		fail "demo --strategy $strat: checks_ok $(json_val checks_ok)"
	[ "$(json_val strategy)" = "\"$strat\"" ] ||
		fail "demo --strategy $strat: strategy $(json_val strategy)"
done
# Each gather policy and each IOMMU's commands: no violation, and the
# JSON names them and has the invalidation figures.
for pol in merge union early disjoint; do
	ok demo --small --ops 5000 --gather-policy "$pol" --json || continue
	[ "$(json_val violations)" = 0 ] ||
		fail "demo --gather-policy $pol: violations $(json_val violations)"
	[ "$(json_val gather_policy)" = "\"$pol\"" ] ||
		fail "demo --gather-policy $pol: $(json_val gather_policy)"
	positive "$(json_val over_invalidation)" ||
		fail "demo --gather-policy $pol: over_invalidation" \
			"$(json_val over_invalidation)"
	positive "$(json_val commands_per_sync)" ||
		fail "demo --gather-policy $pol: commands_per_sync" \
			"$(json_val commands_per_sync)"
done
for io in vtd amd riscv smmuv3 none; do
	ok demo --small --ops 5000 --iommu "$io" --caching-mode --json ||
		continue
	[ "$(json_val violations)" = 0 ] ||
		fail "demo --iommu $io: violations $(json_val violations)"
	[ "$(json_val iommu)" = "\"$io\"" ] ||
		fail "demo --iommu $io: iommu $(json_val iommu)"
done
usage_error "bad value for --gather-policy: 'bogus'" \
	demo --gather-policy bogus
usage_error "bad value for --iommu: 'bogus'" demo --iommu bogus
run demo --small --format arm_s2 --granule 16k --iommu vtd
[ "$rc" = 1 ] && has "$err" "no vtd commands" ||
	fail "demo --granule 16k --iommu vtd (exit $rc): $err"

# "rcu" is rcu-memb; the summary's header names the strategy.
if ok demo --small --ops 1000 --strategy rcu; then
	has "$out" "strategy rcu-memb" ||
		fail "demo --strategy rcu: the header does not name rcu-memb"
fi
limit=''

# The gather policy reaches every bench's domain and its JSON.
if ok bench ops --reps 3 --gather-policy union --json; then
	[ "$(json_val gather_policy)" = '"union"' ] ||
		fail "bench ops --gather-policy union: $(json_val gather_policy)"
fi

# bench iova-stress: what its syncs cost the format's IOMMU. A table
# emptied at every step is one page's command under merge (the page and
# the table: 2 bytes per byte unmapped at most), the table's whole span
# under union.
for pol in merge union; do
	ok bench iova-stress --span 64M --gather-policy "$pol" --json || continue
	[ "$(json_val iommu)" = '"vtd"' ] ||
		fail "bench iova-stress --gather-policy $pol: iommu $(json_val iommu)"
	positive "$(json_val commands_per_sync)" ||
		fail "bench iova-stress --gather-policy $pol: commands_per_sync" \
			"$(json_val commands_per_sync)"
	w=$(json_val over_invalidation_with_walks)
	positive "$w" ||
		fail "bench iova-stress --gather-policy $pol: with walks $w"
	if [ "$pol" = merge ]; then
		awk -v w="$w" 'BEGIN { exit !(w <= 2) }' ||
			fail "bench iova-stress --gather-policy merge: $w > 2"
	else
		awk -v w="$w" 'BEGIN { exit !(w > 1000) }' ||
			fail "bench iova-stress --gather-policy union: $w <= 1000"
	fi
done

# bench ops on a domain without counts: the options reach the domain.
if ok bench ops --no-reclaim --no-coalesce --reps 3 --json; then
	[ "$(json_val options)" = 6 ] ||
		fail "bench ops --no-reclaim --no-coalesce: options $(json_val options)"
	positive "$(json_val map_4k_ns)" ||
		fail "bench ops --no-reclaim --no-coalesce: map_4k_ns $(json_val map_4k_ns)"
fi

# bench lookup and bench writers: tiny runs, every key there and sane.
for dep in "" --dependent; do
	# shellcheck disable=SC2086
	ok bench lookup --set 1M --lookups 3000 --miss-buffer 1M $dep --json ||
		continue
	for key in format set_bytes lookups ns_per_lookup dependent \
		ns_per_miss_load ratio_to_miss_load table_bytes; do
		[ -n "$(json_val $key)" ] ||
			fail "bench lookup $dep --json: no key $key: $out"
	done
	[ "$(json_val set_bytes)" = 1048576 ] ||
		fail "bench lookup --set 1M: set_bytes $(json_val set_bytes)"
	[ "$(json_val lookups)" = 3000 ] ||
		fail "bench lookup --lookups 3000: lookups $(json_val lookups)"
	[ "$(json_val dependent)" = "$([ -n "$dep" ] && echo true || echo false)" ] ||
		fail "bench lookup $dep: dependent $(json_val dependent)"
	for key in ns_per_lookup ns_per_miss_load ratio_to_miss_load \
		table_bytes; do
		positive "$(json_val $key)" ||
			fail "bench lookup $dep: $key $(json_val $key)"
	done
done
if ok bench writers --threads 2 --seconds 0.05 --json; then
	for key in threads ops_per_second table_allocs_per_op \
		tables_created_per_op scaling one_thread; do
		[ -n "$(json_val $key)" ] ||
			fail "bench writers --json: no key $key: $out"
	done
	[ "$(json_val threads)" = 2 ] ||
		fail "bench writers --threads 2: threads $(json_val threads)"
	# On a starved machine a round may count nothing, so only the total
	# must be positive; the rates and ratios must be numbers.
	positive "$(json_val ops)" || fail "bench writers: ops $(json_val ops)"
	for key in ops_per_second scaling tables_created_per_op; do
		case $(json_val $key) in
		[0-9]*) ;;
		*) fail "bench writers: $key $(json_val $key)" ;;
		esac
	done
fi
if ok bench writers --threads 1 --seconds 0.02 --no-reclaim --json; then
	[ "$(json_val scaling)" = 1.000 ] ||
		fail "bench writers --threads 1: scaling $(json_val scaling)"
	[ "$(json_val reclaim)" = false ] ||
		fail "bench writers --no-reclaim: reclaim $(json_val reclaim)"
	[ "$(json_val coalesce)" = true ] ||
		fail "bench writers: coalesce $(json_val coalesce)"
fi
if ok bench writers --threads 2 --seconds 0.02 --no-reclaim --no-coalesce \
	--json; then
	[ "$(json_val coalesce)" = false ] ||
		fail "bench writers --no-coalesce: coalesce $(json_val coalesce)"
	positive "$(json_val ops)" ||
		fail "bench writers --no-coalesce: ops $(json_val ops)"
	[ "$(json_val counts)" = false ] ||
		fail "bench writers --no-coalesce: counts $(json_val counts)"
fi
# bench reclaim: every page the rounds emptied is freed, by the thread the
# strategy names, with one deferred batch per sync (RCU callbacks, worker
# queue pushes) or, with --per-page, one per page; over rcu_max_pending
# every sync waits and frees itself. 10 paced rounds (the least) and 20
# storm rounds of 4 tables: 40 and 80 pages.
# phase_val PHASE KEY: KEY's value inside "PHASE": {...} of $out.
phase_val() {
	local p=${out#*\""$1"\": \{}

	p=${p%%\}*}
	local rest=${p#*\""$2"\": }
	[ "$rest" != "$p" ] || return 0
	echo "${rest%%[,\}]*}"
}
# reclaim_check WHAT PHASE BATCHES CALLERS WORKER WAITS
reclaim_check() {
	local what=$1 ph=$2 want pages kv

	pages=40
	[ "$ph" = storm ] && pages=80
	[ "$(phase_val "$ph" pages)" = $pages ] ||
		fail "$what: $ph pages $(phase_val "$ph" pages), want $pages"
	for kv in deferred_batches:$3 freed_by_callers:$4 freed_by_worker:$5 \
		reclaim_waits:$6; do
		want=${kv#*:}
		[ "$want" = P ] && want=$pages
		[ "$(phase_val "$ph" "${kv%%:*}")" = "$want" ] ||
			fail "$what: $ph ${kv%%:*} $(phase_val "$ph" "${kv%%:*}"), want $want: $out"
	done
}
for s in epoch after-flush worker rcu-memb rcu-qsbr; do
	ok bench reclaim --strategy $s --tables 4 --rounds 20 --json || continue
	for key in tables per_page rcu_max_pending paced storm; do
		[ -n "$(json_val $key)" ] ||
			fail "bench reclaim --json: no key $key: $out"
	done
	for key in rounds pages ns_per_round sync_ns deferred_batches \
		reclaim_waits freed_by_callers freed_by_worker; do
		[ -n "$(phase_val storm $key)" ] && [ -n "$(phase_val paced $key)" ] ||
			fail "bench reclaim --json: no key $key in a phase: $out"
	done
	[ -n "$(phase_val paced latency_ns)" ] &&
		[ -n "$(phase_val storm waiting_peak_pages)" ] ||
		fail "bench reclaim --json: no latency or peak: $out"
	case $s in
	epoch | after-flush)
		reclaim_check "bench reclaim --strategy $s" paced 0 P 0 0
		reclaim_check "bench reclaim --strategy $s" storm 0 P 0 0 ;;
	*)
		reclaim_check "bench reclaim --strategy $s" paced 10 0 P 0
		reclaim_check "bench reclaim --strategy $s" storm 20 0 P 0 ;;
	esac
done
if ok bench reclaim --strategy rcu-memb --per-page --tables 4 --rounds 20 \
	--json; then
	[ "$(json_val per_page)" = true ] ||
		fail "bench reclaim --per-page: per_page $(json_val per_page)"
	reclaim_check "bench reclaim --per-page" paced P 0 P 0
	reclaim_check "bench reclaim --per-page" storm P 0 P 0
fi
if ok bench reclaim --strategy rcu-mb --rcu-max-pending 3 --tables 4 \
	--rounds 20 --json; then
	[ "$(json_val rcu_max_pending)" = 3 ] ||
		fail "bench reclaim: rcu_max_pending $(json_val rcu_max_pending)"
	reclaim_check "bench reclaim --rcu-max-pending 3" paced 0 P 0 10
	reclaim_check "bench reclaim --rcu-max-pending 3" storm 0 P 0 20
fi
usage_error "--per-page needs an RCU strategy" bench reclaim --per-page
usage_error "--rcu-max-pending needs an RCU strategy" \
	bench reclaim --strategy worker --rcu-max-pending 8
usage_error "--tables: '0'" bench reclaim --tables 0
usage_error "--tables: '512' (at most 511" bench reclaim --tables 512
usage_error "--rounds: 'x'" bench reclaim --rounds x

# Readers: lookups alongside the writers, and alone; none by default.
if ok bench writers --threads 2 --seconds 0.02 --json; then
	[ "$(json_val readers)" = 0 ] && [ -z "$(json_val lookups_per_second)" ] ||
		fail "bench writers: readers $(json_val readers) by default: $out"
fi
for s in epoch after-flush rcu-qsbr; do
	ok bench writers --threads 1 --readers 1 --seconds 0.05 --strategy $s \
		--json || continue
	[ "$(json_val readers)" = 1 ] ||
		fail "bench writers --readers 1: readers $(json_val readers)"
	alone=${out#*\"readers_alone\": \{\"lookups_per_second\": }
	[ "$alone" != "$out" ] ||
		fail "bench writers --readers 1 --strategy $s: no readers_alone: $out"
	for v in "$(json_val lookups_per_second)" "${alone%%\}*}"; do
		case $v in
		[0-9]*) ;;
		*) fail "bench writers --readers 1 --strategy $s: $v: $out" ;;
		esac
	done
	positive "$(json_val lookups_per_second)" ||
		fail "bench writers --readers 1 --strategy $s: no lookup: $out"
done
if ok bench writers --threads 2 --readers 1 --seconds 0.02; then
	has "$out" "lookups per second of 1 reader (median)" ||
		fail "bench writers --readers 1: $out"
fi

# Which pages each thread owns: interleaved by default, or one run each.
# Pages owned twice would fail a map with -EEXIST, and the run with it.
for l in "" "--layout interleaved" "--layout blocks"; do
	want=interleaved
	[ "$l" = "--layout blocks" ] && want=blocks
	for n in 2 3; do
		# shellcheck disable=SC2086
		ok bench writers --threads $n --seconds 0.02 $l --json ||
			continue
		[ "$(json_val layout)" = "\"$want\"" ] ||
			fail "bench writers $l: layout $(json_val layout)"
		positive "$(json_val ops)" ||
			fail "bench writers --threads $n $l: ops $(json_val ops)"
	done
done
if ok bench writers --threads 3 --seconds 0.02 --layout blocks; then
	has "$out" "thread t: pages t*170 to t*170+169" ||
		fail "bench writers --layout blocks: $out"
fi
# Counts are asked for (--counts); the default keeps none, and
# --no-counts names the default.
for c in "" --no-counts --counts; do
	want=false
	[ "$c" = --counts ] && want=true
	if ok bench writers --threads 2 --seconds 0.02 $c --json; then
		[ "$(json_val counts)" = $want ] &&
			[ "$(json_val reclaim)" = true ] &&
			[ "$(json_val coalesce)" = true ] ||
			fail "bench writers $c: counts $(json_val counts)," \
				"reclaim $(json_val reclaim)," \
				"coalesce $(json_val coalesce)"
		positive "$(json_val ops)" ||
			fail "bench writers $c: ops $(json_val ops)"
	fi
done
for c in "0 " "8 --no-counts" "32 --counts"; do
	if ok bench ops ${c#* } --reps 3 --json; then
		[ "$(json_val options)" = "${c%% *}" ] ||
			fail "bench ops ${c#* }: options $(json_val options)"
		[ "$(json_val strategy)" = '"epoch"' ] ||
			fail "bench ops: default strategy $(json_val strategy)"
	fi
done
if ok demo --small --ops 2000 --counts --json; then
	[ "$(json_val counts)" = true ] && [ "$(json_num violations)" = 0 ] ||
		fail "demo --counts: counts $(json_val counts)," \
			"violations $(json_val violations)"
fi
# Counts and none at once: the library refuses the domain.
run bench writers --threads 1 --seconds 0.02 --counts --no-counts
[ "$rc" != 0 ] && has "$err" "Invalid argument" ||
	fail "bench writers --counts --no-counts (exit $rc): $err"

# The benchmarks under other strategies: writer threads registered with
# QSBR (a thread that holds up grace periods would hang the run), and a
# serialized domain.
limit=60
if ok bench writers --threads 2 --seconds 0.05 --strategy rcu-qsbr --json
then
	[ "$(json_val strategy)" = '"rcu-qsbr"' ] ||
		fail "bench writers --strategy rcu-qsbr: strategy $(json_val strategy)"
	positive "$(json_val ops)" ||
		fail "bench writers --strategy rcu-qsbr: ops $(json_val ops)"
fi
if ok bench ops --reps 3 --strategy after-flush --json; then
	[ "$(json_val strategy)" = '"after-flush"' ] ||
		fail "bench ops --strategy after-flush: strategy $(json_val strategy)"
	positive "$(json_val map_4k_ns)" ||
		fail "bench ops --strategy after-flush: map_4k_ns $(json_val map_4k_ns)"
fi
limit=''

if [ "$fails" != 0 ]; then
	echo "$fails check(s) failed"
	exit 1
fi
echo "all checks passed"
