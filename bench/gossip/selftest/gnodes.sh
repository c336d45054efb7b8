#!/usr/bin/env bash
# node/gossipd in real processes on loopback (gnode): 6 members form, a
# kill -9 is seen dead by every survivor, bytes are counted, and no process
# is left behind.
set -u
gnode=$1
here=$(cd "$(dirname "$0")" && pwd)
out=$(python3 "$here/../real_cluster.py" --gnode "$gnode" --nodes 6 --settle 1 \
	--window 3 --timeout 90)
rc=$?
echo "$out"
[ $rc -eq 0 ] || { echo "gnode cluster failed"; exit 1; }
python3 - "$out" <<'PY' || exit 1
import json, sys
r = json.loads(sys.argv[1])
assert 0 < r["first_dead_ms"] <= r["all_dead_ms"] < 90000, r
assert r["bytes_per_node_s"] > 0, r
PY
if pgrep -f "^$gnode " >/dev/null; then echo "gnode processes left running"; exit 1; fi
echo "gnodes: ok"
