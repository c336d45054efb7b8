#!/usr/bin/env bash
# End to end (issue 12, first slice): three clusterd nodes on loopback with
# the Factorio stand-in as their install. An instance created through B,
# assigned to C and started, runs; RCON through A reaches it; kill -9 of
# the server brings it back with the crash counted; stop saves. Bad input
# gets 404/409/400, and a node without factorio_dir says so in
# `instance show` without touching the other instance. kill -9 of the node
# and its restart bring the instance back; a dead node's instance shows
# `unknown`; a node stopped with SIGTERM stops its servers.
source "$(dirname "$0")/../../lib/e2e.sh"

INSTALL=$CLUSTERD_BUILD/factorio-standin
CTL=$BIN/clusterctl

# ports_block N: the first of N consecutive ports that are free now.
ports_block() {
  python3 - "$1" <<'PY'
import random, socket, sys
n = int(sys.argv[1])
for _ in range(200):
    base = random.randrange(20000, 60000 - n)
    socks = []
    try:
        for p in range(base, base + n):
            s = socket.socket(); s.bind(("127.0.0.1", p)); socks.append(s)
    except OSError:
        continue
    finally:
        for s in socks: s.close()
    print(base); break
PY
}

# wait_for SECONDS COMMAND...: polls until the command succeeds.
# wait_for SECS CMD...: polls CMD until it succeeds or SECS of wall time
# have passed (each poll may itself take a while on a loaded machine, so
# the limit is on time, not on the number of polls).
wait_for() {
  local end=$((SECONDS + $1)); shift
  while ((SECONDS < end)); do "$@" && return 0; sleep 0.1; done
  return 1
}
declare -A BIND HTTP URL NPID
for n in n1 n2 n3; do
  BIND[$n]=127.0.0.1:$(free_port)
  HTTP[$n]=127.0.0.1:$(free_port)
  URL[$n]=http://${HTTP[$n]}
  mkdir -p "$E2E_TMP/$n"
  base=$(ports_block 10)
  fdir=""
  [[ $n != n1 ]] && fdir=$INSTALL   # n1 has no Factorio install
  python3 - "$E2E_TMP/$n/clusterd.json" "$n" "${BIND[$n]}" "${HTTP[$n]}" "$fdir" "$base" <<'PY'
import json, sys
path, name, bind, http, fdir, base = sys.argv[1:]
cfg = {"node_name": name, "bind": bind, "http": http,
       "instance_ports": "%d-%d" % (int(base), int(base) + 9)}
if fdir:
    cfg["factorio_dir"] = fdir
json.dump(cfg, open(path, "w"))
PY
done

"$BIN/clusterd" init --data-dir "$E2E_TMP/n1" --name n1 --bind "${BIND[n1]}" \
  --http "${HTTP[n1]}" --json >"$E2E_TMP/init.json" 2>"$E2E_TMP/init.err" ||
  { cat "$E2E_TMP/init.err"; fail "init"; e2e_finish; exit 1; }
ADMIN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["admin_token"])' "$E2E_TMP/init.json")
JOIN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["join_token"])' "$E2E_TMP/init.json")
for n in n1 n2 n3; do
  "$BIN/clusterd" run --data-dir "$E2E_TMP/$n" --log-level debug 2>>"$E2E_TMP/$n.log" &
  NPID[$n]=$!
  E2E_PIDS+=($!)
done
for n in n1 n2 n3; do
  for _ in $(seq 200); do curl -sf "${URL[$n]}/api/v1/status" >/dev/null && break; sleep 0.05; done
done
# n1 serves joins once it has applied its first entries (it elects itself).
for n in n2 n3; do
  wait_for 30 "$CTL" --node "${URL[$n]}" join "${BIND[n1]}" --token "$JOIN" >/dev/null 2>&1 ||
    { fail "$n joins"; cat "$E2E_TMP/n1.log" "$E2E_TMP/$n.log"; e2e_finish; exit 1; }
done
A=("$CTL" --node "${URL[n1]}" --token "$ADMIN")
B=("$CTL" --node "${URL[n2]}" --token "$ADMIN")
C=("$CTL" --node "${URL[n3]}" --token "$ADMIN")

# field NODE_URL INSTANCE KEY: a field of `instance show --json`.
field() {
  "$CTL" --node "$1" --token "$ADMIN" --json instance show "$2" 2>/dev/null |
    python3 -c 'import json,sys; v=json.load(sys.stdin).get(sys.argv[1]); print("" if v is None else v)' "$3"
}
members_alive() {
  [[ $("${A[@]}" --json members | python3 -c '
import json,sys; print(sum(1 for m in json.load(sys.stdin)["members"] if m["state"]=="alive" and m["http"]))') == 3 ]]
}
check "three members alive with HTTP addresses" wait_for 30 members_alive
# The node kills below need a quorum that survives losing any one node:
# wait for autopilot's third voter (its stabilisation time is 10 s).
three_voters() {
  [[ $("${A[@]}" --json raft status | python3 -c '
import json,sys; print(sum(1 for s in json.load(sys.stdin)["servers"] if s["suffrage"]=="voter"))') == 3 ]]
}
check "autopilot made three voters" wait_for 90 three_voters

check "create through B" "${B[@]}" instance create alpha
check "assign to n3 through B" "${B[@]}" instance assign alpha n3
ports_set() { [[ $(field "${URL[n3]}" alpha game_port) != 0 ]]; }
check "n3 allocates ports from its range" wait_for 20 ports_set
t0=$(date +%s%N)
check "start through B" "${B[@]}" instance start alpha
# The measurement polls n3 directly with curl every 10 ms.
for _ in $(seq 6000); do
  curl -s -H "Authorization: Bearer $ADMIN" "${URL[n3]}/api/v1/instances/alpha" |
    grep -q '"status":"running"' && break
  sleep 0.01
done
t1=$(date +%s%N)
running_via_a() { [[ $(field "${URL[n1]}" alpha status) == running ]]; }
check "alpha runs (instance show through A, forwarded to C)" wait_for 60 running_via_a
echo "measure: clusterctl instance start (through B) -> running on C: $(( (t1 - t0) / 1000000 )) ms" \
  "(manager: first reconcile -> InGame line, save creation included: $(field "${URL[n3]}" alpha start_to_running_ms) ms)"
check "the instance folder holds config.ini and server-settings.json" \
  test -s "$E2E_TMP/n3/instances/alpha/config.ini" -a -s "$E2E_TMP/n3/instances/alpha/server-settings.json"
check "the save was created" test -s "$E2E_TMP/n3/instances/alpha/saves/alpha.zip"

out=$("${A[@]}" instance send-rcon alpha '/sc rcon.print(1+1)')
check "RCON through A reaches the server on C: 1+1 = 2" test "$out" = 2
out=$("${B[@]}" instance send-rcon alpha '/sc rcon.print(game.tick >= 0)')
check "RCON through B too" test "$out" = true

# The in-game module (issue 12): the save was patched before the start,
# and a player who joins is listed by `instance show` on another node;
# the replicated counters count the join and the session's time.
zipped() {
  python3 - "$E2E_TMP/n3/instances/alpha/saves/alpha.zip" <<'PY'
import json, sys, zipfile
z = zipfile.ZipFile(sys.argv[1]); names = set(z.namelist())
assert "alpha/modules/clusterd/main.lua" in names, names
assert 'require("modules/clusterd/main")' in z.read("alpha/control.lua").decode()
assert json.loads(z.read("alpha/clusterd.json"))["modules"][0]["name"] == "clusterd"
PY
}
check "the save holds the patched modules, control.lua and clusterd.json" zipped
out=$("${A[@]}" instance send-rcon alpha '/standin join alice')
check "a stand-in player joins (RCON through A)" test "$out" = ok
lists_alice() { "${B[@]}" instance show alpha | grep -qE '^players +alice$'; }
check "instance show through B lists alice" wait_for 30 lists_alice
check "the API lists her too" bash -c "curl -s -H 'Authorization: Bearer $ADMIN' '${URL[n1]}/api/v1/instances/alpha' | grep -q '\"players\":\\[\"alice\"\\]'"
"${A[@]}" instance send-rcon alpha '/standin tick 120' >/dev/null
"${A[@]}" instance send-rcon alpha '/standin leave alice' >/dev/null
nobody() { "${B[@]}" instance show alpha | grep -qE '^players +-$'; }
check "after she leaves nobody is listed" wait_for 30 nobody
counted() {
  curl -s -H "Authorization: Bearer $ADMIN" "${URL[n2]}/api/v1/players" | python3 -c '
import json, sys
p = {x["name"]: x for x in json.load(sys.stdin)["players"]}
assert p["alice"]["joins"] == 1 and p["alice"]["online_ms"] >= 2000, p'
}
check "GET /api/v1/players through B: alice joined once, online >= 2 s" wait_for 30 counted
pw=$(tr '\0' '\n' <"/proc/$(field "${URL[n3]}" alpha pid)/cmdline" | grep -A1 -x -- --rcon-password | tail -1)
check "the server got a generated RCON password" test "${#pw}" = 32
check "the RCON password is in no node log (debug level)" bash -c "! grep -rqF -- '$pw' '$E2E_TMP'/n1.log '$E2E_TMP'/n2.log '$E2E_TMP'/n3.log"
check "the API does not show it" bash -c "! '$CTL' --node '${URL[n3]}' --token '$ADMIN' --json instance show alpha | grep -qF -- '$pw'"

# Bad input.
code() { curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ADMIN" "$@"; }
check "unknown instance: 404" test "$(code "${URL[n1]}/api/v1/instances/nope")" = 404
check "unknown instance via clusterctl: exit 3" bash -c "'$CTL' --node '${URL[n2]}' --token '$ADMIN' instance start nope 2>/dev/null; [[ \$? == 3 ]]"
check "duplicate name: 409" test "$(code -X POST -d '{"name":"alpha"}' "${URL[n2]}/api/v1/instances")" = 409
check "name with ../: 400" test "$(code -X POST -d '{"name":"../x"}' "${URL[n2]}/api/v1/instances")" = 400
check "create unassigned 'idle'" "${A[@]}" instance create idle
check "start of an unassigned instance: 409" test "$(code -X POST "${URL[n2]}/api/v1/instances/idle/start")" = 409
out=$("${C[@]}" instance list)
check "instance list shows alpha running on n3 and idle unassigned" \
  bash -c "grep -qE '^[0-9]+ +alpha +n3 +running +running ' <<<'$out' && grep -qE ' idle +- +stopped +unassigned ' <<<'$out'"
check "port taken on that node: 409" \
  test "$(code -X POST -d "{\"name\":\"clash\",\"node\":\"n3\",\"game_port\":$(field "${URL[n3]}" alpha game_port),\"rcon_port\":1}" "${URL[n2]}/api/v1/instances")" = 409

# A node without factorio_dir: a clear error, and alpha is unaffected.
check "create beta on n1 (no install)" "${A[@]}" instance create beta n1
check "start beta" "${A[@]}" instance start beta
beta_error() { field "${URL[n2]}" beta error | grep -q "factorio_dir is not set"; }
check "beta shows the missing factorio_dir (through B, forwarded to A)" wait_for 20 beta_error
check "alpha still runs" running_via_a

# kill -9 the server: the manager restarts it and counts the crash.
pid=$(field "${URL[n3]}" alpha pid)
kill -9 "$pid"
restarted() {
  [[ $(field "${URL[n3]}" alpha status) == running && $(field "${URL[n3]}" alpha crashes) == 1 &&
     $(field "${URL[n3]}" alpha pid) != "$pid" ]]
}
check "after kill -9 it runs again with crashes = 1" wait_for 60 restarted
echo "measure: restart after kill -9 (1 s backoff): spawn -> InGame $(field "${URL[n3]}" alpha start_to_running_ms) ms"
out=$("${A[@]}" instance send-rcon alpha '/sc rcon.print(6*7)')
check "RCON works after the restart" test "$out" = 42

# kill -9 the node that runs it, then restart the node: the instance
# returns to its desired state (the orphaned server is stopped first, so
# its ports are free again).
pid=$(field "${URL[n3]}" alpha pid)
kill -9 "${NPID[n3]}"; wait "${NPID[n3]}" 2>/dev/null
"$BIN/clusterd" run --data-dir "$E2E_TMP/n3" --log-level debug 2>>"$E2E_TMP/n3.log" &
NPID[n3]=$!
E2E_PIDS+=($!)
back() {
  [[ $(field "${URL[n3]}" alpha status) == running && $(field "${URL[n3]}" alpha pid) != "$pid" &&
     $(field "${URL[n3]}" alpha pid) != 0 ]] && ! kill -0 "$pid" 2>/dev/null
}
check "after kill -9 and restart of n3, alpha runs again (a new process)" wait_for 60 back
echo "info: orphaned servers n3 stopped at restart: $(grep -c 'left by an earlier run' "$E2E_TMP/n3.log")"
out=$("${A[@]}" instance send-rcon alpha '/sc rcon.print(2+3)')
check "RCON through A works after the node restart" test "$out" = 5
pid=$(field "${URL[n3]}" alpha pid)

# Stop: the server saves and exits.
save=$E2E_TMP/n3/instances/alpha/saves/alpha.zip
before=$(stat -c %Y.%s "$save")
saves0=$(field "${URL[n3]}" alpha saves)
sleep 1.1  # the save's mtime has 1 s resolution on some file systems
check "stop through A" "${A[@]}" instance stop alpha
stopped() { [[ $(field "${URL[n3]}" alpha status) == stopped ]]; }
check "alpha stops" wait_for 60 stopped
check "the stop wrote the save (Saving finished seen)" test "$(field "${URL[n3]}" alpha saves)" -gt "$saves0"
check "the save file changed" test "$(stat -c %Y.%s "$save")" != "$before"
check "no server process left" test "$(field "${URL[n3]}" alpha pid)" = 0
check "delete alpha" "${B[@]}" instance delete alpha
check "alpha is gone: 404" test "$(code "${URL[n3]}/api/v1/instances/alpha")" = 404

# The node of an instance dies: the others say `unknown`.
check "create gamma on n3" "${B[@]}" instance create gamma n3
kill -9 "${NPID[n3]}"
unknown() { [[ $(field "${URL[n1]}" gamma status) == unknown ]]; }
check "gamma's status is unknown once n3 is dead" wait_for 60 unknown
out=$("${A[@]}" instance send-rcon gamma '/sc rcon.print(1)' 2>&1)
check "RCON to an instance on a dead node fails clearly" grep -q "unreachable\|did not answer" <<<"$out"

# A node that stops (SIGTERM) stops its servers first, and exits cleanly
# (under ASan: without leaks).
check "create and start delta on n2" bash -c "'$CTL' --node '${URL[n1]}' --token '$ADMIN' instance create delta n2 >/dev/null &&
  '$CTL' --node '${URL[n1]}' --token '$ADMIN' instance start delta >/dev/null"
delta_running() { [[ $(field "${URL[n2]}" delta status) == running ]]; }
check "delta runs on n2" wait_for 60 delta_running
dpid=$(field "${URL[n2]}" delta pid)
for n in n2 n1; do
  kill -TERM "${NPID[$n]}"
  wait_exit "${NPID[$n]}" 60
  check "$n exits 0 on SIGTERM" test "$EXIT_CODE" = 0
done
check "n2 stopped delta's server" bash -c "! kill -0 $dpid 2>/dev/null"
check "delta saved on the way out" grep -q "Saving finished" <(grep -a "delta" "$E2E_TMP/n2.log")
check "no sanitizer report in the node logs" bash -c "! grep -q 'Sanitizer' '$E2E_TMP'/n*.log"
e2e_finish
