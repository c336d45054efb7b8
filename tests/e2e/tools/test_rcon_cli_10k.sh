#!/usr/bin/env bash
# clusterd-rcon answers every line of a 10,000-line script piped into it
# (issue 16: deadlines counted from reading expired after ~600 lines).
# At the game's pace of one ordered reply per tick this takes ~170 s.
source "$(dirname "$0")/../../lib/e2e.sh"

start_standin game || { fail "stand-in starts"; e2e_finish; exit 1; }
seq 10000 | sed 's|.*|/sc rcon.print(&)|' >"$E2E_TMP/script"
start=$SECONDS
"$BIN/clusterd-rcon" --port "$RCON_PORT" --password e2e <"$E2E_TMP/script" \
  >"$E2E_TMP/out" 2>"$E2E_TMP/err"; rc=$?
# The first Lua command of a game answers with the achievements warning.
sed -i '1s/.*achievements.*/1/' "$E2E_TMP/out"
check "10,000 piped lines all answered in order [exit $rc, $(wc -l <"$E2E_TMP/out") lines in $((SECONDS - start)) s, $(head -c 200 "$E2E_TMP/err")]" \
  bash -c "[[ $rc == 0 ]] && seq 10000 | cmp -s - '$E2E_TMP/out'"
kill -TERM "$GAME_PID"; wait_exit "$GAME_PID" 10
e2e_finish
