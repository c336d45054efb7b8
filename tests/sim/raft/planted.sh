#!/usr/bin/env bash
# Each planted bug of the Raft core (raft.h, RAFT_BUG_*) must be caught by
# the simulator's checkers within a bounded number of seeds: otherwise a
# green run of the simulator would prove nothing.
#   planted.sh <raft-sim> [max_seeds]
set -uo pipefail
sim=$1; max=${2:-200}
fail=0
for bug in double-vote commit-old-term apply-before-commit send-before-persist; do
  out=$("$sim" --bug "$bug" --seeds "$max" --jobs 2 --stop 2>&1)
  rc=$?
  first=$(grep -m1 '^seed .*VIOLATION' <<<"$out")
  if ((rc != 1)) || [[ -z $first ]]; then
    echo "planted: bug $bug NOT caught in $max seeds (exit $rc)"
    tail -n 3 <<<"$out"
    fail=1
  else
    echo "planted: bug $bug caught: $first"
  fi
done
# The bugs that break an end-to-end property must also be caught with the
# single-rule checks off: by Election Safety (two leaders in a term) and by
# Leader Completeness / committed entries changing (lost writes).
for bug in double-vote send-before-persist; do
  out=$("$sim" --bug "$bug" --seeds "$max" --jobs 2 --stop --end-to-end-only 2>&1)
  rc=$?
  first=$(grep -m1 '^seed .*VIOLATION' <<<"$out")
  if ((rc != 1)) || [[ -z $first ]]; then
    echo "planted: bug $bug NOT caught end-to-end in $max seeds (exit $rc)"
    fail=1
  else
    echo "planted: bug $bug caught end-to-end: $first"
  fi
done
exit $fail
