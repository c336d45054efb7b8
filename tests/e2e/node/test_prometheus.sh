#!/usr/bin/env bash
# A real Prometheus server scrapes a real node: the target must be up and
# the node's own metrics must be queryable through Prometheus's API.
source "$(dirname "$0")/../../lib/e2e.sh"

command -v prometheus >/dev/null || { fail "prometheus is not installed (scripts/setup installs it)"; e2e_finish; exit 1; }
start_node n1 || { fail "node starts"; e2e_finish; exit 1; }
target=${NODE_URL#http://}
cat >"$E2E_TMP/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 900ms
scrape_configs:
  - job_name: clusterd
    static_configs:
      - targets: ['$target']
YML
# Prometheus cannot report a port it chose, so pick one; should another
# process take it first, Prometheus exits and we try another.
for attempt in 1 2 3 4 5; do
  pport=$(free_port)
  prometheus --config.file="$E2E_TMP/prometheus.yml" --storage.tsdb.path="$E2E_TMP/tsdb" \
    --web.listen-address="127.0.0.1:$pport" >"$E2E_TMP/prometheus.log" 2>&1 &
  ppid_=$!
  E2E_PIDS+=("$ppid_")
  for _ in $(seq 50); do
    curl -sf "http://127.0.0.1:$pport/-/ready" >/dev/null && break 2
    kill -0 "$ppid_" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$ppid_" 2>/dev/null; wait "$ppid_" 2>/dev/null
  echo "prometheus did not come up on port $pport (attempt $attempt)"
done

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
