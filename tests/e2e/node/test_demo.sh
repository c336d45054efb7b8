#!/usr/bin/env bash
# End to end: scripts/demo, as the README's first command runs it (with the
# binaries already built: --use-build), with no stdin. It must exit 0 after
# forming the cluster, reading every write through every node, two game
# servers exchanging items, a failover meanwhile and a catch-up, and leave
# no process and no temporary directory behind.
# Then once more, stopped with SIGTERM while its cluster runs: it must stop
# every process it started and remove its directory.
source "$(dirname "$0")/../../lib/e2e.sh"

SRC=${CLUSTERD_SRC:?run through ctest, or set CLUSTERD_SRC}
out=$E2E_TMP/demo.out

# demo_dir FILE: the temporary directory a demo run printed.
demo_dir() { sed -n 's|.*data in \(/tmp/clusterd-demo\.[A-Za-z0-9]*\)/n1.*|\1|p' "$1" | head -n 1; }
# nothing_left DIR: DIR is gone and no process names it any more.
nothing_left() { [[ ! -e $1 ]] && ! pgrep -f "$1" >/dev/null; }

"$SRC/scripts/demo" --use-build "$CLUSTERD_BUILD" </dev/null >"$out" 2>&1 &
demo_pid=$!
E2E_PIDS+=("$demo_pid")
wait_exit "$demo_pid" 240
check "the demo exits 0 (status $EXIT_CODE)" test "$EXIT_CODE" = 0
((EXIT_CODE == 0)) || { echo "--- demo output"; cat "$out"; }

check "n1 elects itself, n2 and n3 join" \
  bash -c "grep -q 'n1 leads its one-voter cluster' '$out' && [[ \$(grep -c '^     joined: ' '$out') == 2 ]]"
check "every node reads every node's write" \
  bash -c "[[ \$(grep -c '^   via n[123]: hello from n1 | hello from n2 | hello from n3$' '$out') == 3 ]]"
check "autopilot makes 3 voters" \
  bash -c "[[ \$(grep -cE '^     [0-9a-f]{16} n[123] +voter ' '$out') == 3 ]]"
check "two instances run, on n2 and n3" \
  bash -c "grep -qE '^   north: running on n2, ' '$out' && grep -qE '^   south: running on n3, ' '$out'"
check "items put into north's export chest arrive in south's import chest" \
  grep -qE "^   south's import chest: 400 iron-plate, 200 copper-plate, " "$out"
check "a write is acknowledged after the leader's kill -9, with its time" \
  grep -qE '^   failover: a write through n[123] was acknowledged [0-9]+ ms after the kill; new leader: n[123]$' "$out"
check "the items sent during the failover arrive, once" \
  grep -qE "^   south's import chest: 1000 iron-plate, 200 copper-plate \(all of it, once\)$" "$out"
check "the ledger adds up" grep -q '^   the ledger: exported = stock + delivered + in flight for every item; 1,200 delivered$' "$out"
check "the killed node's applied index equals the leader's" \
  grep -qE '^   applied index: (n[123]) ([0-9]+), leader n[123] \2 ' "$out"
check "the restarted node has the write made while it was dead" \
  grep -q 'after-failover = written while n[123] was dead' "$out"
check "the three nodes stop with status 0" \
  bash -c "[[ \$(grep -c '^   n[123] exited with status 0$' '$out') == 3 ]]"
check "no port is hard-coded" bash -c "! grep -qE '34197|7946|8081' '$SRC/scripts/demo'"
dir=$(demo_dir "$out")
check "the demo printed its directory" test -n "$dir"
[[ -n $dir ]] && check "nothing is left behind (processes, $dir)" nothing_left "$dir"

# Stopped midway: SIGTERM while the three nodes run.
"$SRC/scripts/demo" --use-build "$CLUSTERD_BUILD" </dev/null >"$out.2" 2>&1 &
demo_pid=$!
E2E_PIDS+=("$demo_pid")
for _ in $(seq 1200); do
  grep -q '^== writes through every node' "$out.2" && break
  kill -0 "$demo_pid" 2>/dev/null || break
  sleep 0.05
done
dir=$(demo_dir "$out.2")
check "the second run got its cluster going" test -n "$dir"
kill -TERM "$demo_pid"
wait_exit "$demo_pid" 60
check "SIGTERM stops the demo with status 143 (status $EXIT_CODE)" test "$EXIT_CODE" = 143
if [[ -n $dir ]]; then
  for _ in $(seq 600); do nothing_left "$dir" && break; sleep 0.1; done
  check "after SIGTERM nothing is left behind (processes, $dir)" nothing_left "$dir"
fi
e2e_finish
