#!/usr/bin/env bash
# Backup and restore, end to end (issue 11): a 3-node cluster under a
# running write load; `clusterctl snapshot save` from a follower; the file
# restored into a new data dir and started as a new one-node cluster. The
# restored state must equal the saved one: the keys written before the
# save exactly (values and revisions), and the live cluster's keys with a
# revision up to the snapshot's index (the load writes each key once, so
# that filter IS the state at the index). A truncated file and a file
# with one flipped byte are refused with a clear message, exit non-zero,
# and write nothing into the data dir.
source "$(dirname "$0")/../../lib/e2e.sh"
HELP="python3 $(dirname "$0")/snapshot_load.py"
T=$E2E_TMP

# The cluster: n1 initialised, n2 and n3 joined.
declare -A BINDP HTTPP URL PID
for n in n1 n2 n3 r1; do BINDP[$n]=$(free_port); HTTPP[$n]=$(free_port); done
for n in n1 n2 n3 r1; do URL[$n]=http://127.0.0.1:${HTTPP[$n]}; done
"$BIN/clusterd" init --data-dir "$T/n1" --name n1 --bind "127.0.0.1:${BINDP[n1]}" \
  --http "127.0.0.1:${HTTPP[n1]}" --json >"$T/init.json" || { fail "init"; exit 1; }
ADMIN=$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['admin_token'])" "$T/init.json")
JOIN=$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['join_token'])" "$T/init.json")

run_node() { # NAME [flags]
  local n=$1; shift
  "$BIN/clusterd" run --data-dir "$T/$n" --name "$n" --bind "127.0.0.1:${BINDP[$n]}" \
    --http "127.0.0.1:${HTTPP[$n]}" "$@" 2>>"$T/$n.log" &
  PID[$n]=$!
  E2E_PIDS+=("${PID[$n]}")
}
wait_url() { # URL: until it serves status
  for _ in $(seq 200); do curl -sf "$1/api/v1/status" >/dev/null && return 0; sleep 0.05; done
  return 1
}
# until NODE's raft view (JSON) satisfies a Python expression over r.
wait_raft() { # URL EXPR SECONDS
  local deadline=$((SECONDS + $3))
  while ((SECONDS < deadline)); do
    if curl -sf -H "Authorization: Bearer $ADMIN" "$1/api/v1/cluster/raft" 2>/dev/null |
      python3 -c "import json,sys; r=json.load(sys.stdin); sys.exit(0 if ($2) else 1)" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  return 1
}

for n in n1 n2 n3; do run_node $n; done
for n in n1 n2 n3; do wait_url "${URL[$n]}" || { fail "$n serves"; exit 1; }; done
wait_raft "${URL[n1]}" "r['role']=='leader'" 20 || { fail "n1 leads"; cat "$T/n1.log"; exit 1; }
for n in n2 n3; do
  "$BIN/clusterctl" --node "${URL[$n]}" join "127.0.0.1:${BINDP[n1]}" --token "$JOIN" >/dev/null ||
    { fail "$n joins"; cat "$T/$n.log"; exit 1; }
done
check "3 Raft servers, n3's log caught up" \
  wait_raft "${URL[n3]}" "len(r['servers'])==3 and r['applied_index']>=r['commit_index']>0" 30

# Before the save: namespace fixed (several 256 KiB chunks of state).
URLS="${URL[n1]},${URL[n2]},${URL[n3]}"
check "namespace fixed written" $HELP fixed "$URLS" "$ADMIN" "$T/fixed.json"

# The load runs through the save.
$HELP load "$URLS" "$ADMIN" "$T/load.log" "$T/stop" &
LOAD=$!
E2E_PIDS+=("$LOAD")
until (($(wc -l <"$T/load.log" 2>/dev/null || echo 0) >= 40)); do sleep 0.05; done
T_SAVE=$($HELP now)
"$BIN/clusterctl" --node "${URL[n3]}" --token "$ADMIN" snapshot save "$T/backup.snap" --progress \
  >"$T/save.out" 2>"$T/save.err"
RC=$?
cat "$T/save.out"
check "snapshot save from follower n3 exits 0" test $RC -eq 0
check "save showed progress on stderr" grep -q "snapshot: [0-9]* bytes" "$T/save.err"
check "no .part file left" test ! -e "$T/backup.snap.part"
LINES=$(wc -l <"$T/load.log")
until (($(wc -l <"$T/load.log") >= LINES + 40)); do sleep 0.05; done
touch "$T/stop"
wait "$LOAD"
INDEX=$("$BIN/clusterctl" --json snapshot inspect "$T/backup.snap" |
  python3 -c "import json,sys;print(json.load(sys.stdin)['index'])")
check "inspect reads the index ($INDEX)" test "${INDEX:-0}" -gt 0
check "backup is mode 0600" test "$(stat -c %a "$T/backup.snap")" = 600
check "live state dumped" $HELP dump "${URL[n1]}" "$ADMIN" load "$T/live_load.json"

# Damaged copies: refused, nothing written, even into an existing dir.
SIZE=$(stat -c %s "$T/backup.snap")
head -c $((SIZE / 2)) "$T/backup.snap" >"$T/trunc.snap"
cp "$T/backup.snap" "$T/flip.snap"
python3 -c "import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[len(b)//3]^=0x04; open(p,'wb').write(b)" "$T/flip.snap"
"$BIN/clusterctl" snapshot restore "$T/trunc.snap" --data-dir "$T/x1" --name x1 2>"$T/x1.err"
RC=$?
cat "$T/x1.err"
check "truncated file: exit non-zero" test $RC -ne 0
check "truncated file: the message says truncated" grep -q "refused: truncated" "$T/x1.err"
check "truncated file: no data dir created" test ! -e "$T/x1"
mkdir "$T/x2"
"$BIN/clusterctl" snapshot restore "$T/flip.snap" --data-dir "$T/x2" --name x2 2>"$T/x2.err"
RC=$?
cat "$T/x2.err"
check "flipped byte: exit non-zero" test $RC -ne 0
check "flipped byte: the message says damaged" grep -Eq "refused: (damaged|truncated)" "$T/x2.err"
check "flipped byte: the data dir stays empty" test -z "$(ls -A "$T/x2")"

# Restore into a new data dir and start it.
"$BIN/clusterctl" --json snapshot restore "$T/backup.snap" --data-dir "$T/r1" --name r1 \
  --bind "127.0.0.1:${BINDP[r1]}" --http "127.0.0.1:${HTTPP[r1]}" >"$T/restore.json" 2>"$T/restore.err"
check "restore exits 0" test $? -eq 0
cat "$T/restore.json" "$T/restore.err"
# What the old members refused (datagrams and handshakes): r1 must not
# dial them, even before the entries that delete their records apply.
old_refusals() {
  local sum=0 v n
  for n in n1 n2 n3; do
    v=$(curl -sf "${URL[$n]}/metrics?scope=node" | awk '
      /^clusterd_transport_rejected_total\{kind="datagram"/ || /^clusterd_transport_handshakes_failed_total / { s += $2 }
      END { printf "%d", s }')
    sum=$((sum + ${v:-0}))
  done
  echo "$sum"
}
REFUSED_BEFORE=$(old_refusals)
"$BIN/clusterd" run --data-dir "$T/r1" 2>>"$T/r1.log" &
R1=$!
E2E_PIDS+=("$R1")
wait_url "${URL[r1]}" || fail "r1 serves"
check "r1 leads a cluster of one voter" \
  wait_raft "${URL[r1]}" "r['role']=='leader' and len(r['servers'])==1 and r['commit_index']>$INDEX" 20
check "restored fixed dumped (the old admin token works)" \
  $HELP dump "${URL[r1]}" "$ADMIN" fixed "$T/r_fixed.json"
check "restored load dumped" $HELP dump "${URL[r1]}" "$ADMIN" load "$T/r_load.json"
if ! $HELP compare "$INDEX" "$T_SAVE" "$T/fixed.json" "$T/load.log" "$T/live_load.json" \
  "$T/r_fixed.json" "$T/r_load.json"; then
  fail "restored state equals the saved one"
fi
REFUSED_AFTER=$(old_refusals)
check "r1 never dialled the old members (their refusals: $REFUSED_BEFORE before r1 ran, $REFUSED_AFTER after)" \
  test "$REFUSED_AFTER" -eq "$REFUSED_BEFORE"
MEMBERS=$(curl -sf -H "Authorization: Bearer $ADMIN" "${URL[r1]}/api/v1/cluster/members")
check "members: r1 alone ($MEMBERS)" python3 -c "
import json,sys; m=json.loads(sys.argv[1])['members']; sys.exit(0 if [x['name'] for x in m]==['r1'] else 1)" "$MEMBERS"
REV=$(curl -sf -X PUT -H "Authorization: Bearer $ADMIN" --data-binary new "${URL[r1]}/api/v1/kv/after/k" |
  python3 -c "import json,sys;print(json.load(sys.stdin)['revision'])")
check "a write on the restored cluster gets a revision past the snapshot ($REV > $INDEX)" \
  test "${REV:-0}" -gt "$INDEX"

# A backup in flight when the node stops (the client reads nothing for
# 5 s): the node still stops cleanly (exit 0, not killed by SIGPIPE when
# its socket is shut), and the client holds a cut stream, not a file.
$HELP stalled "${HTTPP[r1]}" "$ADMIN" 5 "$T/stalled.out" &
STALL=$!
E2E_PIDS+=("$STALL")
for _ in $(seq 200); do [[ -e $T/stalled.out.started ]] && break; sleep 0.05; done
kill -TERM "$R1"
wait_exit "$R1" 30
check "r1 stops cleanly during a stalled backup (exit $EXIT_CODE)" test "$EXIT_CODE" -eq 0
wait "$STALL"
SIZE_STALLED=$(stat -c %s "$T/stalled.out" 2>/dev/null || echo 0)
check "the stalled client got a cut stream ($SIZE_STALLED bytes of about $SIZE)" \
  test "$SIZE_STALLED" -lt "$SIZE"
e2e_finish
