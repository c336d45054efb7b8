#!/usr/bin/env bash
# Gossip benchmark: clusterd's gossip core (in tests/sim/gossip/gossip-sim,
# virtual time, LAN defaults) against HashiCorp memberlist 0.2.2 (LAN
# defaults, N nodes in one Go process on loopback, built from Debian's
# golang-github-hashicorp-memberlist-dev). Prints, per metric and N,
#   bench <name>: clusterd=<v> memberlist=<v> ratio=<clusterd/memberlist> <unit> (...)
#
#   bench/gossip/run.sh [build-dir]      # default: ./build
#   REPS=3 NS="10 50 100" bench/gossip/run.sh build
#   ML=run bench/gossip/run.sh build     # measure memberlist now (about
#                                        # 40 s per fail trial, 2 min per
#                                        # steady trial), else its figures
#                                        # from BENCH.md / RESULTS.md
#   BIG=1 ...                            # also the 1,000-node 5%-loss run
#
# Metrics: detect_all = crash until every survivor declares it dead (ms);
# bytes = payload bytes sent per node per second in steady state (UDP +
# reliable/TCP, no headers; memberlist's push-pull is LZW-compressed, ours
# is not); join = last join until every node lists all N (ms).
# clusterd values are medians over REPS repetitions of SEEDS seeds each;
# the spread (min-max of the repetitions) is printed after the unit.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-build}
SIM=$BUILD/tests/sim/gossip/gossip-sim
REPS=${REPS:-3}
SEEDS=${SEEDS:-20}
NS=${NS:-10 50 100}
ML=${ML:-ref}
MLBIN=${MLBIN:-/tmp/mlbench-build/mlbench}
MLPORT=${MLPORT:-31000}
[ -x "$SIM" ] || { echo "no $SIM; build first" >&2; exit 2; }

# memberlist 0.2.2 DefaultLANConfig on this machine, median of 3 runs
# (RESULTS.md, 2026-11-21): all removed, steady bytes, join convergence.
ref_ml() { # metric n
	case "$1:$2" in
	detect_all:10) echo 5756 ;; detect_all:50) echo 8895 ;; detect_all:100) echo 10829 ;;
	bytes:10) echo 106 ;; bytes:50) echo 110 ;; bytes:100) echo 107 ;;
	join:10) echo 255 ;; join:50) echo 976 ;; join:100) echo 1745 ;;
	*) echo "" ;;
	esac
}

field() { # line key
	sed -n "s/.*[ ]$2=\([-0-9.]*\).*/\1/p" <<<"$1"
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print ""; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
spread() { sort -g | awk 'NR==1{lo=$1} {hi=$1} END {printf "%s-%s", lo, hi}'; }

ml_run() { # mode n -> prints the JSON line
	if [ "$1" = fail ]; then
		"$MLBIN" -baseport "$MLPORT" -mode fail -cfg lan -n "$2" -resync -settle 5s \
			-timeout 120s -maxrun 240s 2>/dev/null
	else
		"$MLBIN" -baseport "$MLPORT" -mode steady -cfg lan -n "$2" -resync -ppwin \
			-settle 5s -dur 30s -maxrun 240s 2>/dev/null
	fi
}

ml_value() { # metric n
	local key mode line
	if [ "$ML" != run ] || [ ! -x "$MLBIN" ]; then ref_ml "$1" "$2"; return; fi
	case $1 in
	detect_all) mode=fail key=all_dead_ms ;;
	join) mode=fail key=conv_after_last_join_ms ;;
	bytes) mode=steady key=total_Bps_per_node ;;
	esac
	line=$(ml_run $mode "$2")
	python3 -c 'import json,sys; print(round(json.loads(sys.argv[1])[sys.argv[2]]))' "$line" "$key" 2>/dev/null
}

emit() { # name clusterd memberlist unit spread
	local ratio=na
	if [ -n "$3" ] && [ -n "$2" ]; then
		ratio=$(awk -v a="$2" -v b="$3" 'BEGIN{ if (b > 0) printf "%.2f", a/b; else print "na" }')
	fi
	echo "bench $1: clusterd=$2 memberlist=${3:-na} ratio=$ratio $4 (clusterd over $REPS reps: $5)"
}

for n in $NS; do
	det=() byt=() joi=()
	for r in $(seq 1 "$REPS"); do
		base=$(( (r - 1) * SEEDS + 1 ))
		# the crash run (detection, join), then a quiet run for bytes:
		# 90 s window 5 s after the views are complete.
		out=$("$SIM" --nodes "$n" --seed "$base" --seeds "$SEEDS" 2>/dev/null)
		last=$(tail -1 <<<"$out")
		detail=$(grep '^detail:' <<<"$out")
		det+=("$(field "$last" detect_all_p50_ms)")
		joi+=("$(field "$detail" join_conv_p50_ms)")
		out=$("$SIM" --nodes "$n" --seed "$base" --seeds "$SEEDS" --no-crash --settle-ms 5000 \
			--duration-ms 90000 2>/dev/null)
		byt+=("$(field "$(tail -1 <<<"$out")" bytes_per_node_s)")
	done
	d=$(printf '%s\n' "${det[@]}" | median); ds=$(printf '%s\n' "${det[@]}" | spread)
	b=$(printf '%s\n' "${byt[@]}" | median); bs=$(printf '%s\n' "${byt[@]}" | spread)
	j=$(printf '%s\n' "${joi[@]}" | median); js=$(printf '%s\n' "${joi[@]}" | spread)
	emit "gossip_detect_all_n$n" "$d" "$(ml_value detect_all "$n")" ms "$ds"
	emit "gossip_bytes_per_node_n$n" "$b" "$(ml_value bytes "$n")" B/s "$bs"
	emit "gossip_join_conv_n$n" "$j" "$(ml_value join "$n")" ms "$js"
done

if [ "${BIG:-0}" = 1 ]; then
	# 1,000 nodes, 5% loss on the unreliable channel. memberlist has no
	# figure at this size here (one Go process with 1,000 nodes on 2 shared
	# cores broke down already at 200 in the pilot), so the ratio is
	# against its N=100 loss-free figure and says so.
	out=$("$SIM" --nodes 1000 --seeds 1 --loss 0.05 --settle-ms 20000 --duration-ms 60000 2>&1)
	last=$(tail -1 <<<"$out")
	echo "# $last"
	emit "gossip_detect_all_n1000_loss5_vs_ml_n100" "$(field "$last" detect_all_p50_ms)" \
		"$(ref_ml detect_all 100)" ms "1 seed"
	emit "gossip_bytes_per_node_n1000_loss5_vs_ml_n100" "$(field "$last" bytes_per_node_s)" \
		"$(ref_ml bytes 100)" B/s "1 seed"
fi
