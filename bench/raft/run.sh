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
#  2. Simulated seconds per wall second: median of three runs of SEEDS
#     seeds in one process.
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

# 1. instructions per committed entry
valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" \
  "$sim" --seed "$seed" --quiet >"$tmp/sim.txt" 2>"$tmp/vg.txt"
committed=$(grep -o 'committed=[0-9]*' "$tmp/sim.txt" | head -1 | cut -d= -f2)
callgrind_annotate --inclusive=yes --threshold=100 "$tmp/cg.out" >"$tmp/ann.txt"
ir_of() { # function name -> inclusive Ir (0 if absent)
  awk -v f="$1" '$0 ~ (":" f " ") || $0 ~ (":" f "$") {gsub(",", "", $1); print $1; exit}' "$tmp/ann.txt" | grep . || echo 0
}
step=$(ir_of raft_step); enc=$(ir_of raft_encode); dec=$(ir_of raft_decode)
total=$(grep -m1 'PROGRAM TOTALS' "$tmp/ann.txt" | awk '{gsub(",", "", $1); print $1}')
if [[ -z $committed || $committed == 0 || $step == 0 ]]; then
  echo "bench raft: could not read the callgrind profile" >&2; cat "$tmp/sim.txt" >&2; exit 1
fi
per=$(( (step + enc + dec) / committed ))
echo "# seed $seed: committed=$committed raft_step=$step raft_encode=$enc raft_decode=$dec program=$total Ir"
echo "# $(cat "$tmp/sim.txt")"
echo "bench raft_instructions_per_entry: clusterd=$per ratio=n/a instructions (raft_step+codec, all nodes, per committed entry)"
echo "bench raft_step_instructions_per_entry: clusterd=$((step / committed)) ratio=n/a instructions (raft_step only, all nodes, per committed entry)"

# 2. simulator speed
speeds=()
for rep in 1 2 3; do
  line=$("$sim" --seeds "$seeds" --first 1000 | tail -n 1)
  sim_s=$(grep -o 'sim_s=[0-9.]*' <<<"$line" | cut -d= -f2)
  wall_s=$(grep -o 'wall_s=[0-9.]*' <<<"$line" | cut -d= -f2)
  speeds+=("$(awk -v a="$sim_s" -v b="$wall_s" 'BEGIN { printf "%.0f", a / (b > 0 ? b : 0.001) }')")
  echo "# run $rep: $line"
done
sorted=($(printf '%s\n' "${speeds[@]}" | sort -n))
echo "# spread: ${sorted[0]}..${sorted[2]} simulated s per wall s"
echo "bench raft_sim_speed: clusterd=${sorted[1]} ratio=n/a simulated_s_per_wall_s (one process, median of 3)"
