#!/usr/bin/env bash
# bench raft-core: instructions per committed entry, fault-free, against
# hashicorp/raft (Go, Debian golang-github-hashicorp-raft-dev).
#
# Both sides run a 3-voter cluster in one process and commit N entries of
# 64 bytes, proposed in pipelined batches of 64: ours through the real
# codec and an in-memory disk (core_bench.c), theirs over InmemTransport
# and InmemStore with a no-op FSM (peer/hraft_bench.go). valgrind
# --tool=callgrind counts the instructions of the whole program for N and
# for 0 entries; (Ir(N) - Ir(0)) / N is the cost per committed entry, all
# three nodes together. Our count is exactly repeatable; the Go peer's
# varies with goroutine scheduling, so it runs three times (median, spread
# printed), with GOMAXPROCS=1 and asynchronous preemption off (callgrind
# aborts on the Go runtime's preemption signals otherwise). Caveat: the
# peer does not serialise messages (its in-memory transport passes Go
# structs) and its timers keep running while valgrind slows it; ours pays
# for msgpack on every message.
#   bench/raft-core/run.sh [build-dir]    (N=20000 unless N is set)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-${CLUSTERD_BUILD:-$root/build}}
n=${N:-20000}
ours=$build/bench/raft-core/raft_core_bench
[[ -x $ours ]] || { echo "bench raft-core: $ours not built" >&2; exit 1; }
command -v valgrind >/dev/null || { echo "bench raft-core: valgrind missing" >&2; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

ir() { # command... -> total instructions
  valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" "$@" \
    >"$tmp/out.txt" 2>"$tmp/vg.txt" || { cat "$tmp/vg.txt" >&2; exit 1; }
  grep -o 'Collected : [0-9]*' "$tmp/vg.txt" | awk '{print $3}'
}
step_ir() { # inclusive Ir of raft_step in the last profile
  callgrind_annotate --inclusive=yes "$tmp/cg.out" 2>/dev/null |
    awk '!done && /raft\/raft.c:raft_step / {gsub(",", "", $1); print $1; done = 1}'
}

base=$(ir "$ours" 0)
full=$(ir "$ours" "$n")
step=$(step_ir)
per=$(( (full - base) / n ))
echo "# clusterd: Ir(0)=$base Ir($n)=$full raft_step=$step ($(head -1 "$tmp/out.txt"))"

peer=n/a; ratio=n/a
if command -v go >/dev/null && [[ -d /usr/share/gocode/src/github.com/hashicorp/raft ]]; then
  mkdir -p "$tmp/go/src/hraftbench"
  cp "$root/bench/raft-core/peer/hraft_bench.go" "$tmp/go/src/hraftbench/main.go"
  (cd "$tmp/go" && GOPATH="$tmp/go:/usr/share/gocode" GO111MODULE=off GOCACHE="$tmp/gocache" \
     go build -o "$tmp/hraft" hraftbench) || { echo "# peer build failed" >&2; }
fi
if [[ -x $tmp/hraft ]]; then
  runs=()
  for rep in 1 2 3; do
    b=$(GOMAXPROCS=1 GODEBUG=asyncpreemptoff=1 ir "$tmp/hraft" 0)
    f=$(GOMAXPROCS=1 GODEBUG=asyncpreemptoff=1 ir "$tmp/hraft" "$n")
    runs+=("$(( (f - b) / n ))")
    echo "# hashicorp/raft run $rep: Ir(0)=$b Ir($n)=$f"
  done
  sorted=($(printf '%s\n' "${runs[@]}" | sort -n))
  peer=${sorted[1]}
  echo "# hashicorp/raft spread: ${sorted[0]}..${sorted[2]} instructions per entry"
  ratio=$(awk -v a="$per" -v b="$peer" 'BEGIN { printf "%.3f", a / b }')
else
  echo "# hashicorp/raft not available (apt-get install golang-go golang-github-hashicorp-raft-dev)"
fi
echo "bench raft_core_instructions_per_entry: clusterd=$per hashicorp_raft=$peer ratio=$ratio instructions (3 voters in one process, fault-free, whole program, per committed entry)"
echo "bench raft_core_step_instructions_per_entry: clusterd=$(( step / n )) ratio=n/a instructions (raft_step alone, 3 nodes, per committed entry)"
