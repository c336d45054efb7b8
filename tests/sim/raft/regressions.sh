#!/usr/bin/env bash
# Seeds that once failed (tests/sim/FINDINGS.md): each must pass now.
#   regressions.sh <raft-sim>
set -uo pipefail
sim=$1
fail=0
# 1: snapshot codec field count; 20394: snapshot install discarding
# acknowledged entries; 31127: persisted reports lost at journal compaction.
for s in 1 20394 31127; do
  if out=$("$sim" --seed "$s" --quiet); then
    echo "regression: seed $s ok"
  else
    echo "regression: seed $s FAILS: $out"; fail=1
  fi
done
exit $fail
