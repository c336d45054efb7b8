#!/usr/bin/env bash
# Numbers of the instance manager (issue 12) on one node, the Factorio
# stand-in as the install:
#   - `clusterctl instance start` to status running, seen by polling the
#     node's API every 10 ms: p50/min/max over STARTS starts of a save
#     that exists (the first start, which creates the save, is left out);
#   - RSS (VmRSS) of the node process alone with 10 instances running.
# Usage: bench/instances/run.sh [BUILD_DIR] [STARTS]
set -uo pipefail
BUILD=${1:-build}; STARTS=${2:-15}
BIN=$BUILD/bin; CTL=$BIN/clusterctl
INSTALL=$(cd "$BUILD/factorio-standin" && pwd)
D=$(mktemp -d /tmp/clusterd-bench-inst.XXXXXX)
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
BIND=127.0.0.1:$(port); HTTP=127.0.0.1:$(port); URL=http://$HTTP
base=$(python3 -c 'import random; print(random.randrange(20000, 59000))')
mkdir -p "$D/n1"
printf '{"node_name":"n1","bind":"%s","http":"%s","factorio_dir":"%s","instance_ports":"%d-%d"}\n' \
  "$BIND" "$HTTP" "$INSTALL" "$base" $((base + 99)) >"$D/n1/clusterd.json"
"$BIN/clusterd" init --data-dir "$D/n1" --name n1 --bind "$BIND" --http "$HTTP" --json >"$D/init.json" 2>/dev/null
TOKEN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["admin_token"])' "$D/init.json")
"$BIN/clusterd" run --data-dir "$D/n1" 2>"${NODE_LOG:-$D/n1.log}" &
NODE=$!
cleanup() {
  kill -TERM $NODE 2>/dev/null; wait $NODE 2>/dev/null
  for p in $(pgrep -f -- "$D/n1/instances"); do kill -9 "$p"; done
  rm -rf "$D"
}
trap cleanup EXIT
C=("$CTL" --node "$URL" --token "$TOKEN")
until "${C[@]}" instance list >/dev/null 2>&1; do sleep 0.1; done
status() { curl -s -H "Authorization: Bearer $TOKEN" "$URL/api/v1/instances/$1" |
  python3 -c 'import json,sys; print(json.load(sys.stdin).get("status",""))'; }
wait_status() { until [[ $(status "$1") == "$2" ]]; do sleep 0.01; done; }

"${C[@]}" instance create b0 n1 >/dev/null
"${C[@]}" instance start b0 >/dev/null; wait_status b0 running   # creates the save
# The timing runs in one Python process (urllib), polling every 10 ms: a
# poll through curl and a new python3 per poll costs more than the start.
python3 - "$URL" "$TOKEN" "$STARTS" <<'PY'
import json, sys, time, urllib.request
url, token, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
def call(method, path):
    r = urllib.request.Request(url + path, method=method, data=b"" if method == "POST" else None,
                               headers={"Authorization": "Bearer " + token})
    return json.load(urllib.request.urlopen(r))
def wait(status):
    while call("GET", "/api/v1/instances/b0")["status"] != status:
        time.sleep(0.01)
total, mgr = [], []
for _ in range(n):
    call("POST", "/api/v1/instances/b0/stop"); wait("stopped")
    t0 = time.monotonic()
    call("POST", "/api/v1/instances/b0/start"); wait("running")
    total.append((time.monotonic() - t0) * 1000)
    mgr.append(call("GET", "/api/v1/instances/b0")["start_to_running_ms"])
def p50(v): return sorted(v)[(len(v) - 1) // 2]
print("POST start -> API says running (ms, %d starts): p50 %.0f  min %.0f  max %.0f" %
      (n, p50(total), min(total), max(total)))
print("manager: spawn -> InGame line read (ms): p50 %d  min %d  max %d" % (p50(mgr), min(mgr), max(mgr)))
PY

rss() { awk '/VmRSS/ {print $2}' "/proc/$NODE/status"; }
echo "node RSS with 1 instance: $(rss) kB"
for i in $(seq 1 9); do "${C[@]}" instance create "b$i" n1 >/dev/null; done
"${C[@]}" instance start-all >/dev/null
for i in $(seq 0 9); do wait_status "b$i" running; done
sleep 2
echo "node RSS with 10 instances running: $(rss) kB (the node process only; servers: $(pgrep -f -- "$D/n1/instances" | wc -l) processes)"
