#!/usr/bin/env bash
# Gossip benchmark, clusterd against HashiCorp memberlist 0.2.2 (LAN
# defaults), both measured in this run. Two parts:
#
#  real  N_REAL (50) clusterd processes on loopback, real UDP and TCP
#        (real_cluster.py: init + join, kill -9 of one node, every survivor's
#        /metrics (clusterd_gossip_members by state) polled until it counts it dead;
#        gossip bytes from every node's /metrics over a quiet window),
#        against memberlist with as many nodes on loopback (peer/ml_bench.go,
#        one Go process, one port pair per node).
#  proc  the node's gossip driver alone (node/gossipd, bench/gossip/gnode.c)
#        in N_REAL processes on plain loopback UDP and TCP: no encryption, no
#        Raft, no HTTP; events stamped on stdout. Real sockets and processes,
#        but not clusterd: lines gossip_proc_*, value gossipd_proc=.
#  sim   clusterd's gossip core in the simulator (tests/sim/gossip, virtual
#        time, no kernel, the same node/gossipd driver) at NS sizes, against
#        memberlist measured now at the same sizes. These lines are named
#        gossip_sim_* and their value clusterd_sim=: a simulated figure is
#        never printed as if measured on sockets.
#
#   bench/gossip/run.sh [build-dir]            # every part (default ./build)
#   PARTS=real bench/gossip/run.sh build       # only some parts (real proc sim)
#   N_REAL=20 WINDOW=30 ...                    # smaller real run
#   REPS=3 SEEDS=20 NS="10 50 100" ...         # the sim part's sizes
#   ML=skip ...                                # no peer: clusterd only,
#                                              # printed memberlist=skipped
#   BIG=1 ...                                  # also the simulated
#                                              # 1,000-node 5%-loss run
#
# Output lines: bench <name>: clusterd=<v> memberlist=<v> ratio=<r> <unit> (...)
# Metrics: detect_all = crash until every survivor declares it dead (ms);
# bytes = gossip payload bytes sent per node per second in steady state
# (UDP + TCP, no headers; memberlist's push-pull is LZW-compressed, ours is
# not); join = last join until every node lists all N (ms).
#
# Exit status: 0 only if every part ran and every peer figure was measured.
# If clusterd or the peer cannot run, the script says which and why, prints
# no figure in its place, and exits 1.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-build}
SIM=$BUILD/tests/sim/gossip/gossip-sim
PARTS=${PARTS:-real proc sim}
REPS=${REPS:-3}
SEEDS=${SEEDS:-20}
NS=${NS:-10 50 100}
N_REAL=${N_REAL:-50}
WINDOW=${WINDOW:-60}
ML=${ML:-run}
MLPORT=${MLPORT:-31000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Figures are computed in command substitutions (subshells), so failures
# are recorded in a file, and the peer's runs are cached in files: one fail
# run per size gives both detection and join.
say_fail() { echo "bench gossip: FAILED: $*" >&2; echo "$*" >>"$tmp/failed"; }

# ---- the peer ----
MLBIN=$tmp/ml_bench
build_ml() {
	[ "$ML" = skip ] && return 0
	if ! command -v go >/dev/null ||
		[ ! -d /usr/share/gocode/src/github.com/hashicorp/memberlist ]; then
		say_fail "memberlist peer cannot run: needs go and Debian's golang-github-hashicorp-memberlist-dev (scripts/setup --bench)"
		return 0
	fi
	mkdir -p "$tmp/go/src/mlbench"
	cp "$HERE/peer/ml_bench.go" "$tmp/go/src/mlbench/main.go"
	(cd "$tmp/go" && GOPATH="$tmp/go:/usr/share/gocode" GO111MODULE=off \
		GOCACHE="$tmp/gocache" GOFLAGS= GOPROXY=off go build -o "$MLBIN" mlbench) >&2 ||
		say_fail "memberlist peer did not build"
}

# ml_measure metric n -> prints the value, or nothing (the run is then
# marked failed) when the peer could not measure it.
ml_measure() {
	local key mode args cache line v
	[ "$ML" = skip ] && return 0
	case $1 in
	detect_all) key=all_dead_ms mode=fail args="" ;;
	join) key=join_conv_ms mode=fail args="" ;;
	bytes) key=bytes_per_node_s mode=steady args="-dur ${ML_DUR:-60s}" ;;
	esac
	cache=$tmp/ml_${mode}_$2.json
	if [ ! -e "$cache" ]; then
		if [ -x "$MLBIN" ]; then
			timeout 600 "$MLBIN" -baseport "$MLPORT" -n "$2" -settle 5s -mode $mode \
				$args >"$cache" 2>/dev/null
		else
			echo '{"error": "the peer is not built"}' >"$cache"
		fi
	fi
	line=$(cat "$cache")
	v=$(python3 -c 'import json,sys; print(round(json.loads(sys.argv[1])[sys.argv[2]]))' \
		"$line" "$key" 2>/dev/null)
	if [ -z "$v" ]; then
		say_fail "memberlist peer, $1 at n=$2: ${line:-no output}"
		return 0
	fi
	echo "$v"
}

peer_text() { # value -> what to print after memberlist=
	if [ "$ML" = skip ] && [ -z "$1" ]; then echo skipped; else echo "${1:-FAILED}"; fi
}

emit() { # name ours_key ours peer unit note
	local ratio=na
	if [ -n "$3" ] && [ -n "$4" ]; then
		ratio=$(awk -v a="$3" -v b="$4" 'BEGIN{ if (b > 0) printf "%.2f", a/b; else print "na" }')
	fi
	echo "bench $1: $2=$3 memberlist=$(peer_text "$4") ratio=$ratio $5 ($6)"
}

field() { # line key
	sed -n "s/.*[ ]$2=\([-0-9.]*\).*/\1/p" <<<"$1"
}
json_field() { # json key
	python3 -c 'import json,sys; v=json.loads(sys.argv[1]).get(sys.argv[2]); print("" if v is None else v)' \
		"$1" "$2" 2>/dev/null
}
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print ""; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
spread() { sort -g | awk 'NR==1{lo=$1} {hi=$1} END {printf "%s-%s", lo, hi}'; }

# ---- real processes ----
part_real() {
	local out err d b
	echo "# real: $N_REAL clusterd processes on loopback (this takes a few minutes)"
	out=$(python3 "$HERE/real_cluster.py" --bin "$BUILD/bin" --nodes "$N_REAL" \
		--window "$WINDOW")
	err=$(json_field "$out" error)
	if [ -n "$err" ] || [ -z "$out" ]; then
		say_fail "clusterd real-process run did not complete: ${err:-no output}"
		echo "# no clusterd figure for the real part; the memberlist peer is not run for it"
		return
	fi
	echo "# clusterd: $out"
	d=$(json_field "$out" all_dead_ms)
	b=$(json_field "$out" bytes_per_node_s)
	emit "gossip_real_detect_all_n$N_REAL" clusterd "$d" "$(ml_measure detect_all "$N_REAL")" ms \
		"both measured now on loopback UDP: $N_REAL clusterd processes, kill -9; memberlist $N_REAL nodes in one process, Shutdown; clusterd's time includes its HTTP polling, rounds up to $(json_field "$out" poll_round_max_ms) ms"
	emit "gossip_real_bytes_per_node_n$N_REAL" clusterd "$b" "$(ml_measure bytes "$N_REAL")" B/s \
		"both measured now: payload bytes over a ${WINDOW}s quiet window"
}

# ---- gossipd alone in processes ----
part_proc() {
	local out err
	[ -x "$BUILD/bench/gossip/gnode" ] || { say_fail "no $BUILD/bench/gossip/gnode; build first"; return; }
	echo "# proc: node/gossipd alone in $N_REAL processes, plain loopback UDP/TCP (not clusterd: no encryption, no Raft)"
	out=$(python3 "$HERE/real_cluster.py" --gnode "$BUILD/bench/gossip/gnode" \
		--nodes "$N_REAL" --window "$WINDOW")
	err=$(json_field "$out" error)
	if [ -n "$err" ] || [ -z "$out" ]; then
		say_fail "gnode run did not complete: ${err:-no output}"
		return
	fi
	echo "# gnodes: $out"
	emit "gossip_proc_detect_all_n$N_REAL" gossipd_proc "$(json_field "$out" all_dead_ms)" \
		"$(ml_measure detect_all "$N_REAL")" ms \
		"both measured now on loopback UDP: $N_REAL gnode processes, kill -9, times stamped by the nodes; memberlist $N_REAL nodes in one process"
	emit "gossip_proc_bytes_per_node_n$N_REAL" gossipd_proc "$(json_field "$out" bytes_per_node_s)" \
		"$(ml_measure bytes "$N_REAL")" B/s \
		"both measured now: payload bytes over a ${WINDOW}s quiet window, no encryption overhead"
	emit "gossip_proc_join_conv_n$N_REAL" gossipd_proc "$(json_field "$out" join_conv_ms)" \
		"$(ml_measure join "$N_REAL")" ms \
		"gnodes: from the last start; memberlist: from the last Join's return"
}

# ---- the simulator ----
part_sim() {
	local n r base out det byt joi d ds b bs j js
	[ -x "$SIM" ] || { say_fail "no $SIM; build first"; return; }
	echo "# sim: clusterd figures are SIMULATED (virtual time, no kernel); memberlist's are measured now on loopback"
	for n in $NS; do
		det=() byt=() joi=()
		for r in $(seq 1 "$REPS"); do
			base=$(( (r - 1) * SEEDS + 1 ))
			# the crash run (detection, join), then a quiet run for
			# bytes: a 90 s window 5 s after the views are complete.
			out=$("$SIM" --nodes "$n" --seed "$base" --seeds "$SEEDS" 2>/dev/null)
			det+=("$(field "$(tail -1 <<<"$out")" detect_all_p50_ms)")
			joi+=("$(field "$(grep '^detail:' <<<"$out")" join_conv_p50_ms)")
			out=$("$SIM" --nodes "$n" --seed "$base" --seeds "$SEEDS" --no-crash \
				--settle-ms 5000 --duration-ms 90000 2>/dev/null)
			byt+=("$(field "$(tail -1 <<<"$out")" bytes_per_node_s)")
		done
		d=$(printf '%s\n' "${det[@]}" | median); ds=$(printf '%s\n' "${det[@]}" | spread)
		b=$(printf '%s\n' "${byt[@]}" | median); bs=$(printf '%s\n' "${byt[@]}" | spread)
		j=$(printf '%s\n' "${joi[@]}" | median); js=$(printf '%s\n' "${joi[@]}" | spread)
		emit "gossip_sim_detect_all_n$n" clusterd_sim "$d" "$(ml_measure detect_all "$n")" ms \
			"clusterd SIMULATED, median of $REPS reps x $SEEDS seeds, spread $ds; memberlist measured now, 1 run"
		emit "gossip_sim_bytes_per_node_n$n" clusterd_sim "$b" "$(ml_measure bytes "$n")" B/s \
			"clusterd SIMULATED, spread $bs; memberlist measured now, 1 run"
		emit "gossip_sim_join_conv_n$n" clusterd_sim "$j" "$(ml_measure join "$n")" ms \
			"clusterd SIMULATED, spread $js; memberlist measured now, 1 run"
	done
	if [ "${BIG:-0}" = 1 ]; then
		# 1,000 nodes, 5% loss on the unreliable channel: simulated only.
		# memberlist is not run at this size (one Go process with 1,000
		# nodes on 2 shared cores breaks down), so there is no ratio.
		out=$("$SIM" --nodes 1000 --seeds 1 --loss 0.05 --settle-ms 20000 --duration-ms 60000 2>&1)
		echo "# $(tail -1 <<<"$out")"
		echo "bench gossip_sim_detect_all_n1000_loss5: clusterd_sim=$(field "$(tail -1 <<<"$out")" detect_all_p50_ms) memberlist=not-run ratio=na ms (clusterd SIMULATED, 1 seed)"
		echo "bench gossip_sim_bytes_per_node_n1000_loss5: clusterd_sim=$(field "$(tail -1 <<<"$out")" bytes_per_node_s) memberlist=not-run ratio=na B/s (clusterd SIMULATED, 1 seed)"
	fi
}

build_ml
for p in $PARTS; do
	case $p in
	real) part_real ;;
	proc) part_proc ;;
	sim) part_sim ;;
	*) echo "unknown part '$p' (real, proc, sim)" >&2; exit 2 ;;
	esac
done
if [ -e "$tmp/failed" ]; then
	echo "bench gossip: INCOMPLETE, not every figure was measured:"
	sed 's/^/  - /' "$tmp/failed"
	exit 1
fi
