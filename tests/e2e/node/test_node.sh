#!/usr/bin/env bash
# End to end: one clusterd on loopback, queried with clusterctl and curl,
# /metrics checked by promtool, every bad configuration refused clearly,
# SIGTERM clean (under ASan: no leak), kill -9 leaves no stale lock.
source "$(dirname "$0")/../../lib/e2e.sh"

check "--version prints the version" \
  bash -c "'$BIN/clusterd' --version | grep -qE '^clusterd [0-9]+\.[0-9]+\.[0-9]+$'"
check "--help names the run command" bash -c "'$BIN/clusterd' --help | grep -q 'run'"
check "run --help names --data-dir" bash -c "'$BIN/clusterd' run --help | grep -q -- '--data-dir'"
check "--help documents the exit codes" bash -c "'$BIN/clusterd' --help | grep -q '^Exit status: 0 on success, 1 when'"
check "run --help documents exit codes and SIGHUP" \
  bash -c "'$BIN/clusterd' run --help | grep -q 'SIGHUP is ignored' && '$BIN/clusterd' run --help | grep -q '2 on a usage'"
"$BIN/clusterd" frobnicate 2>"$E2E_TMP/err"; rc=$?
check "unknown command exits 2 and says so" \
  bash -c "[[ $rc == 2 ]] && grep -q \"unknown command 'frobnicate'\" '$E2E_TMP/err'"

start_node n1 || { fail "node starts"; e2e_finish; exit 1; }
ok "node starts and serves /api/v1/status"
id=$(cat "$E2E_TMP/n1/node-id")

out=$("$BIN/clusterctl" --node "$NODE_URL" status)
check "clusterctl status shows the node id" grep -q "$id" <<<"$out"
check "clusterctl status shows the data dir" grep -q "$E2E_TMP/n1" <<<"$out"
json=$("$BIN/clusterctl" --node "$NODE_URL" --json status)
check "clusterctl --json status is JSON with the same id" python3 -c '
import json, sys
j = json.loads(sys.argv[1])
assert j["node_id"] == sys.argv[2], j
assert j["version"] and j["uptime_s"] >= 0 and j["data_dir"]
' "$json" "$id"
out=$(CLUSTERD_NODE=$NODE_URL "$BIN/clusterctl" status)
check "CLUSTERD_NODE selects the node" grep -q "$id" <<<"$out"

# A node outside a cluster answers /metrics with its own figures, as
# /metrics?scope=node does on any node.
curl -s "$NODE_URL/metrics" >"$E2E_TMP/metrics-cluster.txt"
check "promtool accepts /metrics" promtool check metrics <"$E2E_TMP/metrics-cluster.txt"
check "/metrics of an unjoined node is unlabelled" \
  grep -qE '^process_resident_memory_bytes [0-9]+$' "$E2E_TMP/metrics-cluster.txt"
curl -s "$NODE_URL/metrics?scope=node" >"$E2E_TMP/metrics.txt"
check "promtool accepts /metrics?scope=node" promtool check metrics <"$E2E_TMP/metrics.txt"
check "/metrics has process RSS" grep -qE '^process_resident_memory_bytes [0-9]+$' "$E2E_TMP/metrics.txt"
check "/metrics has open fds" grep -qE '^process_open_fds [0-9]+$' "$E2E_TMP/metrics.txt"
code=$(curl -s -o /dev/null -w '%{http_code}' "$NODE_URL/no/such/path")
check "unknown path is 404" test "$code" = 404
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$NODE_URL/api/v1/status")
check "wrong method is 405" test "$code" = 405

"$BIN/clusterd" run --data-dir "$E2E_TMP/n1" --http 127.0.0.1:0 --bind 127.0.0.1:0 2>"$E2E_TMP/err"; rc=$?
check "second node on the same data dir refuses (exit $rc)" test $rc -ne 0
check "...naming the owner's pid" grep -q "in use by another clusterd (pid $NODE_PID)" "$E2E_TMP/err"

kill -HUP "$NODE_PID"
check "SIGHUP is ignored: the node still serves" curl -sf "$NODE_URL/api/v1/status" -o /dev/null
check "http.addr names the bound address" test "http://$(cat "$E2E_TMP/n1/http.addr")" = "$NODE_URL"
check "no temporary http.addr is left" test ! -e "$E2E_TMP/n1/http.addr.tmp"

# An idle keep-alive connection must not hold shutdown up.
exec 3<>"/dev/tcp/127.0.0.1/${NODE_URL##*:}"
kill -TERM "$NODE_PID"
wait_exit "$NODE_PID" 10
exec 3>&-
check "SIGTERM exits 0 within 10 s (ASan: no leak) [exit $EXIT_CODE]" test "$EXIT_CODE" -eq 0
check "a clean stop removes http.addr" test ! -e "$E2E_TMP/n1/http.addr"
"$BIN/clusterctl" --node "$NODE_URL" status 2>"$E2E_TMP/err"; rc=$?
check "clusterctl against a stopped node exits 1" test $rc -eq 1
check "...with one line naming the node" \
  bash -c "[[ \$(wc -l <'$E2E_TMP/err') == 1 ]] && grep -q 'cannot reach node at $NODE_URL' '$E2E_TMP/err'"

start_node n1 || fail "restart after SIGTERM"
kill -INT "$NODE_PID"; wait_exit "$NODE_PID" 10
check "SIGINT exits 0 [exit $EXIT_CODE]" test "$EXIT_CODE" -eq 0

start_node n1 || fail "restart"
kill -9 "$NODE_PID"; wait "$NODE_PID" 2>/dev/null
# A killed node leaves http.addr behind; the next start removes it when
# it takes the lock and writes its own once it listens.
echo "127.0.0.1:1" >"$E2E_TMP/n1/http.addr"
"$BIN/clusterd" run --data-dir "$E2E_TMP/n1" --http 127.0.0.1:0 --bind 127.0.0.1:0 2>>"$E2E_TMP/n1.log" &
NODE_PID=$!; E2E_PIDS+=("$NODE_PID")
addr=""
for _ in $(seq 200); do
  [[ -s $E2E_TMP/n1/http.addr ]] && addr=$(cat "$E2E_TMP/n1/http.addr") && [[ $addr != 127.0.0.1:1 ]] && break
  sleep 0.05
done
NODE_URL="http://$addr"
check "restart after kill -9: no stale lock, a fresh http.addr" curl -sf "$NODE_URL/api/v1/status" -o /dev/null
check "node id survives restarts" test "$(cat "$E2E_TMP/n1/node-id")" = "$id"
kill -TERM "$NODE_PID"; wait_exit "$NODE_PID" 10

# start_node makes the directory itself; here clusterd must.
"$BIN/clusterd" run --data-dir "$E2E_TMP/deep/er/n2" --http 127.0.0.1:0 --bind 127.0.0.1:0 2>>"$E2E_TMP/n2.log" &
NODE_PID=$!; E2E_PIDS+=("$NODE_PID")
for _ in $(seq 200); do [[ -s $E2E_TMP/deep/er/n2/http.addr ]] && break; sleep 0.05; done
check "a data dir whose parents are missing is created" test -s "$E2E_TMP/deep/er/n2/node-id"
kill -TERM "$NODE_PID"; wait_exit "$NODE_PID" 10

# The log escapes control characters: a data dir named with a newline and
# an escape code cannot forge a log line or drive the terminal.
odd=$E2E_TMP/$'odd\n2026-01-01T00:00:00.000Z info  node: forged\e[31m'
"$BIN/clusterd" run --data-dir "$odd" --http 127.0.0.1:0 --bind 127.0.0.1:0 2>"$E2E_TMP/odd.log" &
NODE_PID=$!; E2E_PIDS+=("$NODE_PID")
for _ in $(seq 200); do [[ -s $odd/http.addr ]] && break; sleep 0.05; done
kill -TERM "$NODE_PID"; wait_exit "$NODE_PID" 10
check "the log escapes a newline and an escape code [$(head -c 300 "$E2E_TMP/odd.log")]" \
  bash -c "grep -qF 'odd\\n2026-01-01T00:00:00.000Z info  node: forged\\x1b[31m' '$E2E_TMP/odd.log' &&
    ! grep -q '^2026-01-01T00:00:00.000Z info  node: forged' '$E2E_TMP/odd.log' &&
    ! grep -q \$'\\e' '$E2E_TMP/odd.log'"

# A name with a newline or an escape code is refused on the command line.
bad_name=$'evil\n2026-01-01T00:00:00.000Z info  node: forged'
"$BIN/clusterd" run --data-dir "$E2E_TMP/n3" --http 127.0.0.1:0 --bind 127.0.0.1:0 --node-name "$bad_name" 2>"$E2E_TMP/err"; rc=$?
check "a node name with a newline is refused (exit $rc)" \
  bash -c "[[ $rc == 2 && \$(wc -l <'$E2E_TMP/err') == 1 ]] && grep -q 'character 5 (0x0a) is not allowed; use 1 to 63' '$E2E_TMP/err'"

# Bad configuration: a one-line error naming the problem, non-zero exit.
bad() { # description, expected text, clusterd args...
  local desc=$1 want=$2; shift 2
  timeout -s KILL 10 "$BIN/clusterd" "$@" >/dev/null 2>"$E2E_TMP/err"; local rc=$?
  if [[ $rc -ne 0 && $(wc -l <"$E2E_TMP/err") -eq 1 ]] && grep -qF -- "$want" "$E2E_TMP/err"; then
    ok "$desc (exit $rc): $(cat "$E2E_TMP/err")"
  else
    fail "$desc: exit $rc, stderr: $(cat "$E2E_TMP/err")"
  fi
}
mkdir -p "$E2E_TMP/c1"
echo '{"http": "127.0.0.1:0", "htpp": "x"}' >"$E2E_TMP/c1/clusterd.json"
bad "unknown config key" 'unknown key "htpp"' run --data-dir "$E2E_TMP/c1"
echo '{"http": 8081}' >"$E2E_TMP/c1/clusterd.json"
bad "ill-typed config value" '"http" must be a string' run --data-dir "$E2E_TMP/c1"
echo '{"http": ' >"$E2E_TMP/c1/clusterd.json"
bad "config that is not JSON, with line and column" 'clusterd.json:2:1: invalid JSON' run --data-dir "$E2E_TMP/c1"
: >"$E2E_TMP/c1/clusterd.json"
bad "empty config" 'clusterd.json is empty' run --data-dir "$E2E_TMP/c1"
echo '{"http": "127.0.0.1:0", "http": "127.0.0.1:1"}' >"$E2E_TMP/c1/clusterd.json"
bad "duplicated key" 'key "http" is given twice' run --data-dir "$E2E_TMP/c1"
rm "$E2E_TMP/c1/clusterd.json"; mkdir "$E2E_TMP/c1/clusterd.json"
bad "config that is a directory" 'clusterd.json is a directory' run --data-dir "$E2E_TMP/c1"
rmdir "$E2E_TMP/c1/clusterd.json"; ln -s "$E2E_TMP/none.json" "$E2E_TMP/c1/clusterd.json"
bad "config that is a dangling symlink" 'clusterd.json is a symlink to nothing' run --data-dir "$E2E_TMP/c1"
rm "$E2E_TMP/c1/clusterd.json"
bad "overlong --http names flag and limit" '--http value is longer than 127 bytes' \
  run --data-dir "$E2E_TMP/c1" --http "$(printf '1%.0s' $(seq 200))"
bad "bad address" 'invalid HTTP address "localhost"' run --data-dir "$E2E_TMP/c1" --http localhost
bad "bad port" 'invalid HTTP address "127.0.0.1:99999"' run --data-dir "$E2E_TMP/c1" --http 127.0.0.1:99999
bad "bad log level" '--log-level must be one of' run --data-dir "$E2E_TMP/c1" --log-level loud
bad "missing data dir" '--data-dir is required' run
bad "unknown flag" "unknown or incomplete option '--frob'" run --frob --data-dir "$E2E_TMP/c1"
touch "$E2E_TMP/afile"
bad "data dir is a file" "is not a directory" run --data-dir "$E2E_TMP/afile" --http 127.0.0.1:0
bad "data dir cannot be created, named" "cannot create data dir /proc/clusterd-e2e/x: cannot create /proc/clusterd-e2e" \
  run --data-dir /proc/clusterd-e2e/x --http 127.0.0.1:0
if [[ $(id -u) -ne 0 ]]; then
  mkdir -p "$E2E_TMP/ro"; chmod 500 "$E2E_TMP/ro"
  bad "unwritable data dir" "is not writable" run --data-dir "$E2E_TMP/ro" --http 127.0.0.1:0
else
  # root ignores permission bits; a read-only bind mount is the honest test.
  mkdir -p "$E2E_TMP/ro"
  if mount --bind "$E2E_TMP/ro" "$E2E_TMP/ro" 2>/dev/null &&
     mount -o remount,bind,ro "$E2E_TMP/ro" 2>/dev/null; then
    bad "unwritable data dir" "is not writable" run --data-dir "$E2E_TMP/ro" --http 127.0.0.1:0
    umount "$E2E_TMP/ro"
  else
    umount "$E2E_TMP/ro" 2>/dev/null
    echo "skip: cannot make a read-only mount here"
  fi
fi
# The blocker binds a port of its own choosing and reports it, so no other
# test can take the port between choosing and binding.
python3 -u -c 'import socket,sys,time
s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen()
print(s.getsockname()[1]); time.sleep(60)' >"$E2E_TMP/blocker.port" &
E2E_PIDS+=($!)
for _ in $(seq 100); do [[ -s $E2E_TMP/blocker.port ]] && break; sleep 0.05; done
port=$(cat "$E2E_TMP/blocker.port")
bad "port in use" "cannot listen on 127.0.0.1:$port: address already in use" \
  run --data-dir "$E2E_TMP/c1" --http "127.0.0.1:$port"

e2e_finish
