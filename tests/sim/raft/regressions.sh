#!/usr/bin/env bash
# Seeds that once failed (tests/sim/FINDINGS.md), and seeds that reach the
# rare recovery paths of the driver's restart (node/raftd, store.c): each
# must pass, and the recovery seeds must still reach their path.
#   regressions.sh <raft-sim>
set -uo pipefail
sim=$1
fail=0
# 1, 20394, 31127: the seeds of the journal-era findings (a snapshot codec
# field count, a snapshot install discarding acknowledged entries,
# persisted reports lost at journal compaction); the journal is gone, the
# seeds still run the same fault schedule through raftd.
for s in 1 20394 31127; do
  if out=$("$sim" --seed "$s" --quiet); then
    echo "regression: seed $s ok"
  else
    echo "regression: seed $s FAILS: $out"; fail=1
  fi
done
# 335: the configuration meta record is repaired after a crash between an
# apply and its stor_conf_save (787 until the clients' routing changed
# with the oracles of issue 18); 1245: the log is reset to the applied
# index after a crash between a snapshot install and its log reset (no
# seed of 1-2600 reaches it since that change: the note below says so).
for run in "335:meta record repaired" "1245:log reset to the applied"; do
  s=${run%%:*}; what=${run#*:}
  if ! out=$("$sim" --seed "$s" --quiet); then
    echo "regression: seed $s FAILS: $out"; fail=1
  elif ! grep -q "$what" <<<"$("$sim" --seed "$s" --raft-trace)"; then
    echo "regression: note: seed $s no longer reaches '$what'"
  else
    echo "regression: seed $s ok ($what)"
  fi
done
exit $fail
