#!/usr/bin/env bash
# End to end: clusterctl's command line against a fake node (a Python HTTP
# server answering whatever the test puts in a file) and a real one.
# Options before or after the command, extra arguments refused (exit 2),
# a trailing slash in --node accepted, answers it cannot read refused with
# the reason (exit 1).
source "$(dirname "$0")/../../lib/e2e.sh"
CTL=$BIN/clusterctl

# The fake node serves $E2E_TMP/body with the status in $E2E_TMP/status,
# for any path but /api/v1/status/ (with a slash, which a real node 404s).
echo 200 >"$E2E_TMP/status"
python3 -u - "$E2E_TMP" >"$E2E_TMP/fake.port" 2>"$E2E_TMP/fake.log" <<'PY' &
import http.server, sys
d = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path != "/api/v1/status":
            self.send_response(404); self.end_headers(); self.wfile.write(b'{"error":"no route"}'); return
        body = open(d + "/body", "rb").read()
        self.send_response(int(open(d + "/status").read()))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1]); s.serve_forever()
PY
E2E_PIDS+=($!)
for _ in $(seq 200); do [[ -s $E2E_TMP/fake.port ]] && break; sleep 0.05; done
FAKE="http://127.0.0.1:$(cat "$E2E_TMP/fake.port")"
good='{"node_id":"abc","node_name":"n","version":"0.1.0","uptime_s":3,"http":"127.0.0.1:1","data_dir":"/d"}'
echo "$good" >"$E2E_TMP/body"

# expect DESC RC TEXT ARGS...: clusterctl ARGS exits RC, stderr has TEXT.
expect() {
  local desc=$1 want_rc=$2 want=$3; shift 3
  "$CTL" "$@" >"$E2E_TMP/out" 2>"$E2E_TMP/err"; local rc=$?
  if [[ $rc == "$want_rc" ]] && grep -qF -- "$want" "$E2E_TMP/err" "$E2E_TMP/out"; then
    ok "$desc (exit $rc)"
  else
    fail "$desc: exit $rc (want $want_rc), out: $(cat "$E2E_TMP/out") err: $(cat "$E2E_TMP/err")"
  fi
}

expect "--node before the command" 0 "node      abc (n)" --node "$FAKE" status
expect "--node after the command" 0 "node      abc (n)" status --node "$FAKE"
expect "--json after the command" 0 '"node_id":"abc"' status --node "$FAKE" --json
expect "a trailing slash in --node" 0 "node      abc (n)" --node "$FAKE/" status
expect "several trailing slashes" 0 "node      abc (n)" status --node="$FAKE//"
expect "an extra argument is refused" 2 "unexpected argument 'extra'" --node "$FAKE" status extra
expect "an unknown command" 2 "unknown command 'frob'" --node "$FAKE" frob
expect "an unknown option after the command" 2 "unknown or incomplete option '--frob'" status --frob
expect "--node without a value" 2 "unknown or incomplete option '--node'" status --node
expect "--node that is not a URL" 2 "--node must be an http:// or https:// URL" --node 127.0.0.1:8081 status
expect "no command prints usage" 2 "usage: clusterctl" --node "$FAKE"
expect "--help lists the commands" 0 "status" --help

echo '[]' >"$E2E_TMP/body"
expect "a JSON array is refused" 1 "JSON that is not an object" --node "$FAKE" status
expect "...also with --json" 1 "JSON that is not an object" --node "$FAKE" --json status
echo '{"node_id":1}' >"$E2E_TMP/body"
expect "an ill-typed field is named" 1 'field "node_id" is a number, expected a string' --node "$FAKE" status
echo '{"node_id":"a","node_name":"n","version":"v","uptime_s":"long","http":"h","data_dir":"d"}' >"$E2E_TMP/body"
expect "a string where a number belongs" 1 'field "uptime_s" is a string, expected a number' --node "$FAKE" status
echo '{"node_id":"a"}' >"$E2E_TMP/body"
expect "a missing field is named" 1 'field "node_name" is missing' --node "$FAKE" status
echo 'not json' >"$E2E_TMP/body"
expect "a body that is not JSON" 1 "a body that is not JSON" --node "$FAKE" status
echo '{"error":"on fire"}' >"$E2E_TMP/body"; echo 500 >"$E2E_TMP/status"
expect "an error status shows the node's message" 1 "HTTP 500: on fire" --node "$FAKE" status
check "...on one line" test "$(wc -l <"$E2E_TMP/err")" = 1
: >"$E2E_TMP/body"; echo 503 >"$E2E_TMP/status"
expect "an error status with no body says so" 1 "HTTP 503: (empty body)" --node "$FAKE" status

start_node n1 || { fail "node starts"; e2e_finish; exit 1; }
expect "a real node with a trailing slash" 0 "$E2E_TMP/n1" status --node "$NODE_URL/"
kill -TERM "$NODE_PID"; wait_exit "$NODE_PID" 10

e2e_finish
