#!/usr/bin/env bash
# Tests real_cluster.py itself against fake_node.py (a stand-in that speaks
# the harness's forms of clusterd and clusterctl): the cluster forms, the
# byte counters are read, the kill -9 is seen by every survivor, and
# nothing the harness started is left running.
set -u
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ln -s "$here/fake_node.py" "$tmp/clusterd"
ln -s "$here/fake_node.py" "$tmp/clusterctl"
out=$(python3 "$here/../real_cluster.py" --bin "$tmp" --nodes 5 --settle 0.5 \
	--window 1 --timeout 60 --seed 3)
rc=$?
echo "$out"
[ $rc -eq 0 ] || { echo "harness failed"; exit 1; }
python3 - "$out" <<'PY' || exit 1
import json, sys
r = json.loads(sys.argv[1])
assert "error" not in r, r
assert r["n"] == 5
assert 0 < r["first_dead_ms"] <= r["all_dead_ms"] < 60000, r
# fake counters: 110 bytes per second per node
assert 50 < r["bytes_per_node_s"] < 200, r
PY
# No fake node may survive the harness.
if pgrep -f "$tmp/clusterd run" >/dev/null; then echo "processes left running"; exit 1; fi
# The harness must fail, and say why, when a join is refused.
sed 's/"jointok"}/"other"}/' "$here/fake_node.py" >"$tmp/bad.py"
chmod +x "$tmp/bad.py"
ln -sf "$tmp/bad.py" "$tmp/clusterd"; ln -sf "$tmp/bad.py" "$tmp/clusterctl"
out=$(python3 "$here/../real_cluster.py" --bin "$tmp" --nodes 3 --window 1 --timeout 20)
[ $? -eq 1 ] && grep -q 'clusterctl join' <<<"$out" || { echo "refused join not reported: $out"; exit 1; }
echo "harness self-test: ok"
