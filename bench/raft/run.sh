#!/usr/bin/env bash
# bench raft: the Raft core's cost and the simulator's speed.
#
#  1. Instructions per committed entry: valgrind --tool=callgrind over one
#     fixed simulator run (a seed, 60 simulated seconds, faults included),
#     the inclusive instruction count of raft_step plus the codec
#     (raft_encode, raft_decode) on all nodes, divided by the entries the
#     cluster committed. It is a whole-cluster figure: every entry is
#     handled by every node (3-5) and under faults (retransmissions,
#     elections, snapshots). Instruction counts are repeatable on this
#     noisy machine, unlike time.
#     (Until issue 10 the profile ran on the simulator's journal disk;
#     raft_step does not see the disk, so the figures compare.)
#  2. Simulated seconds per wall second: median of three runs of SEEDS
#     seeds in one process, every node running the node's driver
#     (node/raftd) on the storage module's in-memory disk.
#
# There is no peer for either figure (etcd's raft is Go and has no such
# simulator), so the peer field is omitted and the ratio is n/a.
#   bench/raft/run.sh [build-dir]     (default: $CLUSTERD_BUILD or build)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-${CLUSTERD_BUILD:-$root/build}}
sim=$build/tests/sim/raft-sim
seed=${SEED:-7}
seeds=${SEEDS:-20}
[[ -x $sim ]] || { echo "bench raft: $sim not built" >&2; exit 1; }
command -v valgrind >/dev/null || { echo "bench raft: valgrind missing" >&2; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# 1. instructions per committed entry, in the steady state (--calm: no
#    faults) and under the full fault schedule
ir_of() { # annotate file, function name -> inclusive Ir (0 if absent)
  awk -v f="$2" '$0 ~ (":" f " ") || $0 ~ (":" f "$") {gsub(",", "", $1); print $1; exit}' "$1" | grep . || echo 0
}
profile() { # name, extra raft-sim args...
  local name=$1; shift
  valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.$name" \
    "$sim" --seed "$seed" --quiet "$@" >"$tmp/sim.$name" 2>"$tmp/vg.$name"
  callgrind_annotate --inclusive=yes --threshold=100 "$tmp/cg.$name" >"$tmp/ann.$name"
  local committed step enc dec
  committed=$(grep -o 'committed=[0-9]*' "$tmp/sim.$name" | head -1 | cut -d= -f2)
  step=$(ir_of "$tmp/ann.$name" raft_step)
  enc=$(ir_of "$tmp/ann.$name" raft_encode)
  dec=$(ir_of "$tmp/ann.$name" raft_decode)
  if [[ -z $committed || $committed == 0 || $step == 0 ]]; then
    echo "bench raft: could not read the callgrind profile" >&2; cat "$tmp/sim.$name" >&2; exit 1
  fi
  echo "# $name, seed $seed: committed=$committed raft_step=$step raft_encode=$enc raft_decode=$dec Ir"
  echo "# $(cat "$tmp/sim.$name")"
  echo "bench raft_${name}_instructions_per_entry: clusterd=$(( (step + enc + dec) / committed )) ratio=n/a instructions (raft_step+codec, all nodes, per committed entry)"
  echo "bench raft_${name}_step_instructions_per_entry: clusterd=$((step / committed)) ratio=n/a instructions (raft_step only, all nodes, per committed entry)"
}
profile calm --calm
profile faults

# 2. simulator speed
speed() { # label, metric name
  local speeds=() line sim_s wall_s sorted
  for rep in 1 2 3; do
    line=$("$sim" --seeds "$seeds" --first 1000 | tail -n 1)
    sim_s=$(grep -o 'sim_s=[0-9.]*' <<<"$line" | cut -d= -f2)
    wall_s=$(grep -o 'wall_s=[0-9.]*' <<<"$line" | cut -d= -f2)
    speeds+=("$(awk -v a="$sim_s" -v b="$wall_s" 'BEGIN { printf "%.0f", a / (b > 0 ? b : 0.001) }')")
    echo "# $1 run $rep: $line"
  done
  sorted=($(printf '%s\n' "${speeds[@]}" | sort -n))
  echo "# $1 spread: ${sorted[0]}..${sorted[2]} simulated s per wall s"
  echo "bench $2: clusterd=${sorted[1]} ratio=n/a simulated_s_per_wall_s (one process, median of 3, $1)"
}
speed raftd-on-stor raft_sim_speed
