#!/usr/bin/env bash
# End to end (issue 12, ops): three clusterd nodes on loopback, the
# Factorio stand-in as the install. Configuration get/set with checks;
# the log followed through a node that does not run the instance sees a
# line the game prints; kill -9 of the server brings it back with the
# crash counted; kill -9 of the Raft leader changes nothing for it; kill
# -9 of its node (and of the leader meanwhile) and a restart of the node
# adopt the running server; restart; stop
# saves; kill does not; start-all/stop-all honour exclude_from_start_all;
# bad input (unknown instance, duplicate, ../, port taken, damaged save)
# gets a clear error and leaves the other instances alone.
source "$(dirname "$0")/../../lib/e2e.sh"
NO_INSTALL_N1=0
source "$(dirname "$0")/cluster.sh"

code() { curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ADMIN" "$@"; }
status_is() { [[ $(field "$1" "$2" status) == "$3" ]]; }
# Servers are in sessions of their own (they outlive their node): stop
# every one this test started, whatever happens.
server_pids() { pgrep -f -- "$E2E_TMP/n[123]/instances" || true; }
trap 'for p in $(server_pids); do kill -9 $p 2>/dev/null; done; e2e_cleanup' EXIT

# --- configuration ---
check "create web on n3" "${B[@]}" instance create web n3
check "config set settings.max_players 7" "${A[@]}" instance config set web settings.max_players 7
check "config set settings.visibility.lan false" "${A[@]}" instance config set web settings.visibility.lan false
check "config get through C shows max_players 7" test "$("${C[@]}" instance config get web settings.max_players)" = 7
check "auto_pause defaults to false (Clusterio's default)" test "$("${C[@]}" instance config get web settings.auto_pause)" = false
out=$("${A[@]}" instance config set web settings.max_playerz 7 2>&1)
check "an unknown setting is refused by name" grep -q 'unknown server setting "max_playerz"' <<<"$out"
out=$("${A[@]}" instance config set web settings.auto_pause yes 2>&1)
check "a setting of the wrong type is refused" grep -q 'auto_pause" must be true or false' <<<"$out"
out=$("${A[@]}" instance config set web stop_timeout_s 0 2>&1)
check "stop_timeout_s 0 is refused" grep -q "stop_timeout_s must be" <<<"$out"
check "config set stop_timeout_s 30" "${A[@]}" instance config set web stop_timeout_s 30
check "show has stop_timeout_s 30" test "$(field "${URL[n1]}" web stop_timeout_s)" = 30
check "config get of an unknown instance: exit 3" bash -c "'$CTL' --node '${URL[n2]}' --token '$ADMIN' instance config get nope 2>/dev/null; [[ \$? == 3 ]]"

check "start web" "${A[@]}" instance start web
check "web runs" wait_for 180 status_is "${URL[n3]}" web running
check "server-settings.json has the override and the defaults" python3 -c '
import json,sys; s=json.load(open(sys.argv[1]))
assert s["max_players"]==7 and s["auto_pause"] is False and s["visibility"]["lan"] is False and s["name"]=="web", s' \
  "$E2E_TMP/n3/instances/web/server-settings.json"

# --- logs: follow through n1 (the instance runs on n3) ---
"$CTL" --node "${URL[n1]}" --token "$ADMIN" log follow --instance web >"$E2E_TMP/follow.out" 2>&1 &
FPID=$!; E2E_PIDS+=($FPID)
# Said again until the stream shows it: the follow may take a moment to
# reach the server's node (waiting on the event, not on a sleep).
said_through_n1() {
  grep -q "\[CHAT\] <server>: hello-through-n1" "$E2E_TMP/follow.out" && return 0
  "${B[@]}" instance send-rcon web 'hello-through-n1' >/dev/null
  sleep 1
  grep -q "\[CHAT\] <server>: hello-through-n1" "$E2E_TMP/follow.out"
}
check "log follow through n1 sees the game's chat line" wait_for 120 said_through_n1
check "log query through n2 has it too" bash -c "'$CTL' --node '${URL[n2]}' --token '$ADMIN' log query --instance web | grep -q 'hello-through-n1'"
check "the log file has it" grep -q "hello-through-n1" "$E2E_TMP/n3/instances/web/log"
check "log of an unknown instance: 404" test "$(code "${URL[n1]}/api/v1/instances/nope/log")" = 404

# --- kill -9 the server: it comes back, counted ---
pid=$(field "${URL[n3]}" web pid)
[[ $pid -gt 1 ]] && kill -9 "$pid"   # never 0: that is our process group
crashed_back() { [[ $(field "${URL[n3]}" web status) == running && $(field "${URL[n3]}" web crashes) == 1 && $(field "${URL[n3]}" web pid) != "$pid" ]]; }
check "after kill -9 of the server it runs again, crashes = 1" wait_for 180 crashed_back
"${B[@]}" instance send-rcon web 'after-crash' >/dev/null
check "the follow goes on across the server's restart" wait_for 20 grep -q "after-crash" "$E2E_TMP/follow.out"

# --- kill -9 the Raft leader: nothing changes for the instance ---
pid=$(field "${URL[n3]}" web pid)
leader=$("${A[@]}" --json raft status | python3 -c 'import json,sys; print(json.load(sys.stdin).get("leader", {}).get("name", ""))' 2>/dev/null)
[[ -z $leader || $leader == None ]] && leader=n1
kill -9 "${NPID[$leader]}"; wait "${NPID[$leader]}" 2>/dev/null
echo "info: killed the Raft leader $leader"
other=n1; [[ $leader == n1 ]] && other=n2
[[ $leader == n3 ]] && other=n1
if [[ $leader != n3 ]]; then
  check "web still runs, the same process, after the leader died" bash -c "kill -0 $pid && [[ \$('$CTL' --node '${URL[n3]}' --token '$ADMIN' --json instance show web | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"pid\"])') == $pid ]]"
else
  check "web's server outlives its node, the leader" kill -0 "$pid"
fi
"$BIN/clusterd" run --data-dir "$E2E_TMP/$leader" --log-level debug 2>>"$E2E_TMP/$leader.log" &
NPID[$leader]=$!; E2E_PIDS+=($!)
check "the old leader is back" wait_for 180 members_alive

# --- kill -9 the node running it, and the Raft leader meanwhile; restart
# the node: the server is adopted ---
pid=$(field "${URL[n3]}" web pid)
kill -9 "${NPID[n3]}"; wait "${NPID[n3]}" 2>/dev/null
check "web shows unknown while n3 is dead" wait_for 180 status_is "${URL[n1]}" web unknown
leader_of() { "$CTL" --node "$1" --token "$ADMIN" --json raft status 2>/dev/null |
  python3 -c 'import json,sys; print(json.load(sys.stdin).get("leader", {}).get("name", ""))' 2>/dev/null; }
has_leader() { leader=$(leader_of "${URL[n1]}"); [[ $leader == n1 || $leader == n2 ]]; }
check "n1 and n2 have a leader" wait_for 30 has_leader
kill -9 "${NPID[$leader]}"; wait "${NPID[$leader]}" 2>/dev/null
echo "info: killed the Raft leader $leader while n3 was down (one node of three left)"
check "the server outlives its node and the leader" kill -0 "$pid"
"$BIN/clusterd" run --data-dir "$E2E_TMP/n3" --log-level debug 2>>"$E2E_TMP/n3.log" &
NPID[n3]=$!; E2E_PIDS+=($!)
adopted() { [[ $(field "${URL[n3]}" web status) == running && $(field "${URL[n3]}" web pid) == "$pid" ]]; }
check "restarted n3 adopts the running server (same pid)" wait_for 180 adopted
check "n3 says so in its log" grep -q "web: adopted server pid $pid" "$E2E_TMP/n3.log"
"$BIN/clusterd" run --data-dir "$E2E_TMP/$leader" --log-level debug 2>>"$E2E_TMP/$leader.log" &
NPID[$leader]=$!; E2E_PIDS+=($!)
check "the old leader is back" wait_for 180 members_alive
check "still the same server" test "$(field "${URL[n3]}" web pid)" = "$pid"
out=$("${A[@]}" instance send-rcon web '/sc rcon.print(20+22)')
check "RCON to the adopted server works" test "$out" = 42
follow2() {
  "$CTL" --node "${URL[n2]}" --token "$ADMIN" log follow --instance web --lines 1 >>"$E2E_TMP/follow2.out" 2>&1 &
  F2PID=$!; E2E_PIDS+=($F2PID)
}
follow2
# The follow may take a moment to reach the server's node, and n2, just
# restarted, may not know n3's address yet (the follow then ends with an
# error, and a client follows again): say the line again until the stream
# shows it (waiting on the event, not on a sleep).
said_and_seen() {
  grep -q "after-adoption" "$E2E_TMP/follow2.out" && return 0
  kill -0 "$F2PID" 2>/dev/null || follow2
  "${A[@]}" instance send-rcon web 'after-adoption' >/dev/null
  sleep 1
  grep -q "after-adoption" "$E2E_TMP/follow2.out"
}
check "its output is followed after the adoption (through n2)" wait_for 120 said_and_seen
grep -q "after-adoption" "$E2E_TMP/follow2.out" ||
  { echo "--- follow2.out:"; tail -n 20 "$E2E_TMP/follow2.out"; }

# --- restart, stop (saves), kill (does not) ---
pid=$(field "${URL[n3]}" web pid)
crashes=$(field "${URL[n3]}" web crashes)
check "restart web" "${B[@]}" instance restart web
restarted() { [[ $(field "${URL[n3]}" web status) == running && $(field "${URL[n3]}" web pid) != "$pid" ]]; }
check "after restart it runs as a new process" wait_for 180 restarted
check "the restart is not a crash" test "$(field "${URL[n3]}" web crashes)" = "$crashes"
save=$E2E_TMP/n3/instances/web/saves/web.zip
before=$(stat -c %Y.%s "$save"); sleep 1.1
check "stop web" "${A[@]}" instance stop web
check "web stops" wait_for 180 status_is "${URL[n3]}" web stopped
check "the stop wrote the save" test "$(stat -c %Y.%s "$save")" != "$before"
check "start web again" "${A[@]}" instance start web
check "web runs again" wait_for 180 status_is "${URL[n3]}" web running
pid=$(field "${URL[n3]}" web pid)
before=$(stat -c %Y.%s "$save"); sleep 1.1
check "kill web" "${B[@]}" instance kill web
check "killed: the process is gone" wait_for 20 bash -c "! kill -0 $pid 2>/dev/null"
check "killed: desired stopped, status stopped" wait_for 20 bash -c "[[ \$('$CTL' --node '${URL[n1]}' --token '$ADMIN' --json instance show web | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j[\"desired\"], j[\"status\"])') == 'stopped stopped' ]]"
check "kill wrote no save" test "$(stat -c %Y.%s "$save")" = "$before"
check "a kill is not a crash" test "$(field "${URL[n3]}" web crashes)" = "$crashes"

# --- start-all / stop-all with an excluded instance ---
check "create x1 on n2" "${A[@]}" instance create x1 n2
check "create x2 on n2" "${A[@]}" instance create x2 n2
check "exclude x1 from start-all" "${A[@]}" instance config set x1 exclude_from_start_all true
out=$("${C[@]}" instance start-all)
check "start-all starts web and x2, skips x1" bash -c "grep -q 'starting web' <<<'$out' && grep -q 'starting x2' <<<'$out' && grep -q 'skipped x1' <<<'$out'"
check "x2 runs" wait_for 180 status_is "${URL[n2]}" x2 running
check "web runs" wait_for 180 status_is "${URL[n3]}" web running
check "x1 stays stopped" test "$(field "${URL[n2]}" x1 desired)" = stopped
check "x1 can still be started by hand" "${A[@]}" instance start x1
check "x1 runs" wait_for 180 status_is "${URL[n2]}" x1 running
check "stop-all" "${B[@]}" instance stop-all
for i in web x1 x2; do
  n=n2; [[ $i == web ]] && n=n3
  check "stop-all stopped $i" wait_for 180 status_is "${URL[$n]}" $i stopped
done

# --- bad input: each a clear error, nothing else touched ---
check "start web for the bad-input checks" "${A[@]}" instance start web
check "web runs" wait_for 180 status_is "${URL[n3]}" web running
wpid=$(field "${URL[n3]}" web pid)
check "kill of an unknown instance: exit 3" bash -c "'$CTL' --node '${URL[n1]}' --token '$ADMIN' instance kill nope 2>/dev/null; [[ \$? == 3 ]]"
check "duplicate name: 409" test "$(code -X POST -d '{"name":"web"}' "${URL[n2]}/api/v1/instances")" = 409
check "name with ../: 400" test "$(code -X POST -d '{"name":"../web"}' "${URL[n2]}/api/v1/instances")" = 400
check "a port already taken on that node: 409" \
  test "$(code -X POST -d "{\"name\":\"clash\",\"node\":\"n3\",\"game_port\":$(field "${URL[n3]}" web game_port),\"rcon_port\":1}" "${URL[n2]}/api/v1/instances")" = 409
check "create bad on n2" "${A[@]}" instance create bad n2
mkdir -p "$E2E_TMP/n2/instances/bad/saves"
head -c 3000 /dev/urandom >"$E2E_TMP/n2/instances/bad/saves/bad.zip"
check "start bad (a damaged save)" "${A[@]}" instance start bad
given_up() { [[ $(field "${URL[n2]}" bad given_up) == True ]]; }
# The save patcher refuses it before a start (without the patcher, the
# game's "Failed to load map" after 5 crashes: unit_node_instances).
check "bad is given up" wait_for 120 given_up
check "its cause names the damaged save" bash -c "'$CTL' --node '${URL[n1]}' --token '$ADMIN' instance show bad | grep -qE 'damaged or unreadable save|not a readable zip'"
"${A[@]}" instance show bad | grep -E "crashes|error" | sed 's/^/info: /'
check "web was not touched (same process, running)" bash -c "[[ \$('$CTL' --node '${URL[n3]}' --token '$ADMIN' --json instance show web | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j[\"status\"], j[\"pid\"])') == 'running $wpid' ]]"

# --- the nodes stop (SIGTERM) with their servers ---
for n in n3 n2 n1; do
  kill -TERM "${NPID[$n]}"; wait_exit "${NPID[$n]}" 60
  check "$n exits 0 on SIGTERM" test "$EXIT_CODE" = 0
done
check "no server process is left" test -z "$(server_pids)"
check "no sanitizer report in the node logs" bash -c "! grep -q 'Sanitizer' '$E2E_TMP'/n*.log"
e2e_finish
