#!/usr/bin/env bash
# A real Prometheus server scrapes a real node: the target must be up and
# the node's own metrics must be queryable through Prometheus's API.
source "$(dirname "$0")/../../lib/e2e.sh"

command -v prometheus >/dev/null || { fail "prometheus is not installed (scripts/setup installs it)"; e2e_finish; exit 1; }
start_node n1 || { fail "node starts"; e2e_finish; exit 1; }
target=${NODE_URL#http://}
pport=$(free_port)
cat >"$E2E_TMP/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 900ms
scrape_configs:
  - job_name: clusterd
    static_configs:
      - targets: ['$target']
YML
prometheus --config.file="$E2E_TMP/prometheus.yml" --storage.tsdb.path="$E2E_TMP/tsdb" \
  --web.listen-address="127.0.0.1:$pport" >"$E2E_TMP/prometheus.log" 2>&1 &
E2E_PIDS+=($!)
ppid_=$!

query() { curl -s "http://127.0.0.1:$pport/api/v1/query" --data-urlencode "query=$1"; }
# The first scrape lands within a few scrape intervals of startup.
up=""
for _ in $(seq 150); do
  up=$(query 'up{job="clusterd"}' | python3 -c 'import json,sys
try:
  r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")
except Exception: print("")' 2>/dev/null)
  [[ $up == 1 ]] && break
  sleep 0.2
done
check "prometheus scrapes the node: up == 1 (got '$up')" test "$up" = 1
rss=$(query 'process_resident_memory_bytes{job="clusterd"}' | python3 -c 'import json,sys
r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)')
check "node RSS is queryable through prometheus ($rss bytes)" test "${rss%.*}" -gt 0
health=$(curl -s "http://127.0.0.1:$pport/api/v1/targets" | python3 -c 'import json,sys
t=json.load(sys.stdin)["data"]["activeTargets"]; print(t[0]["health"], t[0]["lastError"] or "-")')
check "target health is up with no scrape error ($health)" test "$health" = "up -"
kill -TERM "$ppid_"; wait_exit "$ppid_" 10
kill -TERM "$NODE_PID"; wait_exit "$NODE_PID" 10
check "node exits 0 after being scraped [exit $EXIT_CODE]" test "$EXIT_CODE" -eq 0
e2e_finish
