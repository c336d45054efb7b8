#!/usr/bin/env bash
# Each planted bug of the Raft core (raft.h, RAFT_BUG_*) must be caught by
# the simulator's checkers within a bounded number of seeds: otherwise a
# green run of the simulator would prove nothing. So must the bug planted
# in the node's driver (node/raftd, RAFTD_BUG_EARLY_DURABLE) that trusts
# the store's writes before they are durable: otherwise the store's crash
# faults would not be reaching raft through the driver production runs.
#   planted.sh <raft-sim> [max_seeds]
set -uo pipefail
sim=$1; max=${2:-200}
fail=0
caught() { # label, raft-sim args...
  local label=$1; shift
  local out rc first
  out=$("$sim" "$@" --seeds "$max" --jobs 2 --stop 2>&1)
  rc=$?
  first=$(grep -m1 '^seed .*VIOLATION' <<<"$out")
  if ((rc != 1)) || [[ -z $first ]]; then
    echo "planted: $label NOT caught in $max seeds (exit $rc)"
    tail -n 3 <<<"$out"
    fail=1
  else
    echo "planted: $label caught: $first"
  fi
}
for bug in double-vote commit-old-term apply-before-commit send-before-persist; do
  caught "bug $bug" --bug $bug
done
# The bugs that break an end-to-end property must also be caught with the
# single-rule checks off: by Election Safety (two leaders in a term) and
# by Leader Completeness / committed entries changing (lost writes).
for bug in double-vote send-before-persist; do
  caught "bug $bug end-to-end" --bug $bug --end-to-end-only
done
caught "driver bug early-durable (node/raftd) end-to-end" --bug early-durable --end-to-end-only
exit $fail
