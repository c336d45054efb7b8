#!/usr/bin/env bash
# clusterd-rcon against the Factorio stand-in: ordered replies, stdin mode,
# the first-Lua-command warning, long piped scripts, and clear failures for
# bad options, a wrong password, a wrong port, a server that is not RCON.
source "$(dirname "$0")/../../lib/e2e.sh"

start_standin game || { fail "stand-in starts"; e2e_finish; exit 1; }
R="$BIN/clusterd-rcon --port $RCON_PORT --password e2e"

out=$($R "/sc rcon.print('first')" "/sc rcon.print('second')" "/standin join alice" "/players online")
check "replies come in command order" python3 -c '
import sys
lines = sys.argv[1].splitlines()
assert "disable achievements" in lines[0], lines
assert lines[1] == "second", lines
assert lines[2] == "ok", lines
assert lines[3] == "Online players (1):" and lines[4] == "  alice (online)", lines
' "$out"
check "the join reached the game's log" grep -q "\[JOIN\] alice joined the game" "$GAME_LOG"
out=$(printf '/sc rcon.print(6*7)\n\n/sc rcon.print(#game.connected_players)\n' | $R)
check "stdin mode runs each line ($out)" test "$out" = $'42\n1'

# A deadline starts when its command goes on the wire, not when it is
# read: at the game's ~60 answers a second, 1,000 lines take ~17 s, far
# past a 3 s timeout that each single command easily meets. (Counted from
# reading, about 800 of them would expire.) test_rcon_cli_10k.sh pipes 10,000.
seq 1000 | sed 's|.*|/sc rcon.print(&)|' >"$E2E_TMP/script"
$R --timeout 3000 <"$E2E_TMP/script" >"$E2E_TMP/out" 2>"$E2E_TMP/err"; rc=$?
check "1,000 piped lines all answered in order with --timeout 3000 [exit $rc, $(wc -l <"$E2E_TMP/out") lines, $(head -c 200 "$E2E_TMP/err")]" \
  bash -c "[[ $rc == 0 ]] && seq 1000 | cmp -s - '$E2E_TMP/out'"

# expect DESC RC TEXT ARGS...: clusterd-rcon ARGS exits RC, stderr has TEXT.
expect() {
  local desc=$1 want_rc=$2 want=$3; shift 3
  timeout -s KILL 30 "$BIN/clusterd-rcon" "$@" >"$E2E_TMP/out" 2>"$E2E_TMP/err" </dev/null; local rc=$?
  if [[ $rc == "$want_rc" ]] && grep -qF -- "$want" "$E2E_TMP/err" "$E2E_TMP/out"; then
    ok "$desc (exit $rc): $(head -1 "$E2E_TMP/err")"
  else
    fail "$desc: exit $rc (want $want_rc), out: $(cat "$E2E_TMP/out") err: $(cat "$E2E_TMP/err")"
  fi
}
expect "wrong password" 1 "wrong RCON password for 127.0.0.1:$RCON_PORT" --port "$RCON_PORT" --password wrong "/players"
port=$(free_port)
expect "wrong port names host and port" 1 "cannot connect to 127.0.0.1:$port: connection refused" --port "$port" --password e2e "/players"
expect "a host name is resolved" 0 "Online players" --host localhost --port "$RCON_PORT" --password e2e "/players online"
expect "an unknown host is named" 1 "cannot resolve --host no-such-host.invalid" --host no-such-host.invalid --port "$RCON_PORT" "/players"
expect "missing --port is a usage error" 2 "--port PORT (1-65535) is required" "/players"
expect "--timeout -5 is refused" 2 "--timeout must be a number of milliseconds from 1 to" --port "$RCON_PORT" --timeout -5 "/players"
expect "--timeout abc is refused" 2 '(got "abc")' --port "$RCON_PORT" --timeout abc "/players"
expect "--port 80x is refused" 2 "--port must be a number from 1 to 65535" --port 80x "/players"
expect "--version" 0 "clusterd-rcon 0." --version
expect "--help documents exit status 2" 0 "2 on a usage error" --help

# A server that answers the login with HTTP, and one that says nothing.
python3 -u -c 'import socket, threading
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
q = socket.socket(); q.bind(("127.0.0.1", 0)); q.listen()
print(s.getsockname()[1], q.getsockname()[1])
def quiet():
    held = []
    while True: held.append(q.accept()[0])
threading.Thread(target=quiet, daemon=True).start()
while True:
    c, _ = s.accept(); c.recv(4096)
    c.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"); c.close()
' >"$E2E_TMP/http.port" 2>/dev/null &
E2E_PIDS+=($!)
for _ in $(seq 200); do [[ -s $E2E_TMP/http.port ]] && break; sleep 0.05; done
read -r hport qport <"$E2E_TMP/http.port"
expect "an HTTP answer is named as not RCON" 1 "127.0.0.1:$hport is not an RCON server: it answered the login with something that is not RCON" \
  --port "$hport" --password e2e "/players"
expect "a silent server is named" 1 "127.0.0.1:$qport did not answer the login in time (is it an RCON server?)" \
  --port "$qport" --password e2e "/players"

kill -TERM "$GAME_PID"; wait_exit "$GAME_PID" 10
check "the stand-in saves and exits 0 on SIGTERM [exit $EXIT_CODE]" test "$EXIT_CODE" -eq 0
e2e_finish
