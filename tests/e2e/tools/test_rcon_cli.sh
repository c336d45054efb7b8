#!/usr/bin/env bash
# clusterd-rcon against the Factorio stand-in: ordered replies, stdin mode,
# the first-Lua-command warning, and clear failures for a wrong password
# and an unreachable server.
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
"$BIN/clusterd-rcon" --port "$RCON_PORT" --password wrong "/players" 2>"$E2E_TMP/err"; rc=$?
check "wrong password exits 1 and says so" bash -c "[[ $rc == 1 ]] && grep -q 'wrong RCON password' '$E2E_TMP/err'"
"$BIN/clusterd-rcon" --port "$(free_port)" --password e2e "/players" 2>"$E2E_TMP/err"; rc=$?
check "unreachable server exits 1 ($(head -1 "$E2E_TMP/err"))" bash -c "[[ $rc == 1 ]] && grep -q 'refused' '$E2E_TMP/err'"
"$BIN/clusterd-rcon" "/players" 2>"$E2E_TMP/err"; rc=$?
check "missing --port is a usage error" bash -c "[[ $rc == 2 ]] && grep -q -- '--port' '$E2E_TMP/err'"
kill -TERM "$GAME_PID"; wait_exit "$GAME_PID" 10
check "the stand-in saves and exits 0 on SIGTERM [exit $EXIT_CODE]" test "$EXIT_CODE" -eq 0
e2e_finish
