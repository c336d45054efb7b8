#!/usr/bin/env bash
# End to end (issue 12, saves): three nodes on loopback, the stand-in as
# the install of n2 and n3. Instance alpha runs on n3, beta on n2; n1 owns
# no instance, so every request through it is forwarded.
#   - create a save with a seed through A: the game's --create ran with it;
#   - upload through A for alpha (on C), download through B: same sha256;
#   - a corrupt zip and a zip that is no save are refused, nothing changes;
#   - a name with ../ is refused; an upload through a 50 KB/s link works;
#   - rename, copy, delete; the save a running instance loaded can be
#     copied but not renamed or deleted;
#   - transfer alpha -> beta (n3 -> n2) through A, as a move and a copy,
#     and alpha -> gamma on the same node;
#   - a big save (SAVES_BIG_MIB, default 200) uploaded through A and
#     downloaded through B: the peak RSS (VmHWM) of A, B and C stays far
#     below its size; MB/s printed as "measure:" lines.
source "$(dirname "$0")/../../lib/e2e.sh"

INSTALL=$CLUSTERD_BUILD/factorio-standin
CTL=$BIN/clusterctl
BIG_MIB=${SAVES_BIG_MIB:-200}
# The bound asserted on a node's peak RSS during the big transfers: what a
# node takes anyway (~20-40 MiB) plus a few parts and buffers in flight.
# It proves something only for a save well above it (the default is).
RSS_BOUND_MIB=${SAVES_RSS_BOUND_MIB:-96}
((BIG_MIB >= 2 * RSS_BOUND_MIB)) ||
  echo "note: SAVES_BIG_MIB=$BIG_MIB is not above twice the RSS bound: the RSS check proves little"

wait_for() {
  local end=$((SECONDS + $1)); shift
  while ((SECONDS < end)); do "$@" && return 0; sleep 0.1; done
  return 1
}

# game_ports: the first of 10 ports, TCP and UDP free now, below the
# kernel's ephemeral range (from 32768), which outgoing connections of
# tests running alongside take from: a server must not find its port in use.
game_ports() {
  python3 - <<'PY'
import random, socket
for _ in range(500):
    base = random.randrange(20000, 32000 - 10)
    try:
        for p in range(base, base + 10):
            for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                s = socket.socket(socket.AF_INET, kind)
                try:
                    s.bind(("127.0.0.1", p))
                finally:
                    s.close()
    except OSError:
        continue
    print(base)
    break
PY
}

declare -A BIND HTTP URL NPID
for n in n1 n2 n3; do
  BIND[$n]=127.0.0.1:$(free_port)
  HTTP[$n]=127.0.0.1:$(free_port)
  URL[$n]=http://${HTTP[$n]}
  mkdir -p "$E2E_TMP/$n"
  lo=$(game_ports)
  fdir=$INSTALL
  [[ $n == n1 ]] && fdir=""
  printf '{"node_name":"%s","bind":"%s","http":"%s","instance_ports":"%d-%d"%s}\n' \
    "$n" "${BIND[$n]}" "${HTTP[$n]}" "$lo" $((lo + 9)) \
    "${fdir:+,\"factorio_dir\":\"$fdir\"}" >"$E2E_TMP/$n/clusterd.json"
done
"$BIN/clusterd" init --data-dir "$E2E_TMP/n1" --name n1 --bind "${BIND[n1]}" \
  --http "${HTTP[n1]}" --json >"$E2E_TMP/init.json" 2>"$E2E_TMP/init.err" ||
  { cat "$E2E_TMP/init.err"; fail "init"; e2e_finish; exit 1; }
ADMIN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["admin_token"])' "$E2E_TMP/init.json")
JOIN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["join_token"])' "$E2E_TMP/init.json")
for n in n1 n2 n3; do
  "$BIN/clusterd" run --data-dir "$E2E_TMP/$n" 2>>"$E2E_TMP/$n.log" &
  NPID[$n]=$!
  E2E_PIDS+=($!)
done
for n in n1 n2 n3; do
  for _ in $(seq 200); do curl -sf "${URL[$n]}/api/v1/status" >/dev/null && break; sleep 0.05; done
done
for n in n2 n3; do
  wait_for 30 "$CTL" --node "${URL[$n]}" join "${BIND[n1]}" --token "$JOIN" >/dev/null 2>&1 ||
    { fail "$n joins"; cat "$E2E_TMP/n1.log" "$E2E_TMP/$n.log"; e2e_finish; exit 1; }
done
A=("$CTL" --node "${URL[n1]}" --token "$ADMIN")
B=("$CTL" --node "${URL[n2]}" --token "$ADMIN")
C=("$CTL" --node "${URL[n3]}" --token "$ADMIN")
members_alive() {
  [[ $("${A[@]}" --json members | python3 -c '
import json,sys; print(sum(1 for m in json.load(sys.stdin)["members"] if m["state"]=="alive" and m["http"]))') == 3 ]]
}
check "three members alive with HTTP addresses" wait_for 30 members_alive
check "create alpha on n3" "${B[@]}" instance create alpha n3
check "create beta on n2" "${B[@]}" instance create beta n2

# names INSTANCE VIA: the save names and sizes, sorted.
names() {
  "$CTL" --node "$2" --token "$ADMIN" --json save list "$1" |
    python3 -c 'import json,sys; print(" ".join("%s:%d" % (s["name"], s["size"]) for s in json.load(sys.stdin)["saves"]))'
}
has() { [[ " $(names "$1" "$2" | sed 's/:[0-9]*//g') " == *" $3 "* ]]; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
# mkzip FILE [ENTRY] [MIB]: a save-shaped zip: ENTRY (default w/level.dat0)
# holding MIB MiB of random bytes (default a few KiB), stored.
mkzip() {
  python3 - "$1" "${2:-w/level.dat0}" "${3:-0}" <<'PY'
import os, sys, zipfile
path, entry, mib = sys.argv[1], sys.argv[2], int(sys.argv[3])
with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as z:
    z.writestr(entry.split("/")[0] + "/control.lua", "-- test\n")
    with z.open(entry, "w", force_zip64=True) as f:
        if mib == 0:
            f.write(os.urandom(5000))
        for _ in range(mib):
            f.write(os.urandom(1 << 20))
PY
}

# ---- create with a seed, through A (forwarded to n3, which runs --create)
check "save create world --seed 4242 through A" "${A[@]}" save create alpha world --seed 4242
check "world.zip listed through B" has alpha "${URL[n2]}" world.zip
check "download world through B" "${B[@]}" save download alpha world.zip "$E2E_TMP/world.zip"
seed=$(python3 - "$E2E_TMP/world.zip" <<'PY'
import json, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
name = [n for n in z.namelist() if n.endswith("level.dat0")][0]
text = z.read(name).decode()
print("4242" if "4242" in text else "absent")
PY
)
check "the new map was made with seed 4242" test "$seed" = 4242
"${A[@]}" save create alpha world >/dev/null 2>&1
check "a second create of the same name is refused (409: exit 4)" test $? -eq 4

# ---- upload through A, download through B: equal bytes
mkzip "$E2E_TMP/small.zip"
check "upload small.zip for alpha through A" "${A[@]}" save upload alpha "$E2E_TMP/small.zip"
check "download small.zip through B" "${B[@]}" save download alpha small.zip "$E2E_TMP/small.back.zip"
check "the bytes are equal (sha256)" test "$(sha "$E2E_TMP/small.zip")" = "$(sha "$E2E_TMP/small.back.zip")"
check "the file is on n3, in alpha's saves folder" test -f "$E2E_TMP/n3/instances/alpha/saves/small.zip"

# ---- bad input: nothing changes
before=$(names alpha "${URL[n2]}")
head -c 300000 /dev/urandom >"$E2E_TMP/bad.zip"
out=$("${A[@]}" save upload alpha "$E2E_TMP/bad.zip" 2>&1); rc=$?
check "a corrupt zip is refused (exit $rc)" test $rc -ne 0
check "...with a clear error ($out)" grep -q "not a zip file" <<<"$out"
mkzip "$E2E_TMP/nosave.zip" "w/readme.txt"
out=$("${A[@]}" save upload alpha "$E2E_TMP/nosave.zip" 2>&1); rc=$?
check "a zip without level.dat is refused (exit $rc)" test $rc -ne 0
check "...saying it is not a Factorio save" grep -q "not a Factorio save" <<<"$out"
check "the other saves are unchanged" test "$(names alpha "${URL[n2]}")" = "$before"
check "no work file is left behind on n3" \
  test -z "$(ls -A "$E2E_TMP/n3/instances/alpha/saves" | grep '^\.')"
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Authorization: Bearer $ADMIN" \
  --data-binary @"$E2E_TMP/small.zip" "${URL[n1]}/api/v1/instances/alpha/saves/..%2Fevil.zip")
check "a name with ../ is refused (HTTP $code)" test "$code" = 400
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Authorization: Bearer $ADMIN" \
  --data-binary @"$E2E_TMP/small.zip" "${URL[n1]}/api/v1/instances/alpha/saves/.hidden.zip")
check "a name starting with . is refused (HTTP $code)" test "$code" = 400
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Authorization: Bearer $ADMIN" \
  --data-binary @"$E2E_TMP/small.zip" "${URL[n1]}/api/v1/instances/nosuch/saves/x.zip")
check "an unknown instance is 404 (HTTP $code)" test "$code" = 404
check "the saves are still unchanged" test "$(names alpha "${URL[n2]}")" = "$before"

# ---- rename, copy, delete (through A, B and C)
check "rename small -> small2 through A" "${A[@]}" save rename alpha small.zip small2
check "copy small2 -> small3 through B" "${B[@]}" save copy alpha small2.zip small3.zip
check "delete small2 through C" "${C[@]}" save delete alpha small2.zip
check "small3 is listed" has alpha "${URL[n1]}" small3.zip
check "small and small2 are gone" bash -c '! grep -q "small.zip\|small2.zip" <<<"$1"' _ "$(names alpha "${URL[n1]}")"
"${A[@]}" save download alpha small3.zip "$E2E_TMP/small3.zip" >/dev/null
check "the copy holds the same bytes" test "$(sha "$E2E_TMP/small.zip")" = "$(sha "$E2E_TMP/small3.zip")"
"${A[@]}" save delete alpha nosuch.zip >/dev/null 2>&1
check "deleting a missing save is exit 3 (404)" test $? -eq 3

# ---- transfer across nodes: alpha (n3) -> beta (n2), through A
check "transfer small3 alpha -> beta (move) through A" "${A[@]}" save transfer alpha small3.zip beta
check "beta has small3" has beta "${URL[n3]}" small3.zip
check "alpha no longer has small3" bash -c '! grep -q small3 <<<"$1"' _ "$(names alpha "${URL[n2]}")"
"${B[@]}" save download beta small3.zip "$E2E_TMP/small3.beta.zip" >/dev/null
check "the transferred bytes are equal" test "$(sha "$E2E_TMP/small.zip")" = "$(sha "$E2E_TMP/small3.beta.zip")"
check "transfer back as a copy named back.zip" "${C[@]}" save transfer beta small3.zip alpha back --copy
check "alpha has back.zip" has alpha "${URL[n1]}" back.zip
check "beta kept small3" has beta "${URL[n1]}" small3.zip
check "create gamma on n3, beside alpha" "${B[@]}" instance create gamma n3
check "transfer back.zip alpha -> gamma (same node) through B" "${B[@]}" save transfer alpha back.zip gamma
check "download it from gamma through C (the owner itself)" \
  "${C[@]}" save download gamma back.zip "$E2E_TMP/back.gamma.zip"
check "the bytes are equal" test "$(sha "$E2E_TMP/small.zip")" = "$(sha "$E2E_TMP/back.gamma.zip")"
check "alpha no longer has back.zip" bash -c '! grep -q back.zip <<<"$1"' _ "$(names alpha "${URL[n2]}")"

# ---- a slow link: parts shrink to what arrives within the node's 5 s
# request timeout (the first, of 256 KiB, takes over 5 s at 50 KB/s, is
# cut, and is sent again at half the size)
cat >"$E2E_TMP/slow.py" <<'PY'
import socket, sys, threading, time
lport, dport, rate = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", lport)); ls.listen(16)
def pipe(a, b, slow):
    try:
        while True:
            d = a.recv(4096 if slow else 65536)
            if not d: break
            b.sendall(d)
            if slow: time.sleep(len(d) / rate)
    except OSError: pass
    finally:
        try: b.shutdown(socket.SHUT_WR)
        except OSError: pass
while True:
    c, _ = ls.accept()
    s = socket.create_connection(("127.0.0.1", dport))
    threading.Thread(target=pipe, args=(c, s, True), daemon=True).start()
    threading.Thread(target=pipe, args=(s, c, False), daemon=True).start()
PY
SLOW_PORT=$(free_port)
python3 "$E2E_TMP/slow.py" "$SLOW_PORT" "${HTTP[n1]##*:}" 50000 &
E2E_PIDS+=($!)
python3 -c 'import os,sys,zipfile
with zipfile.ZipFile(sys.argv[1],"w",zipfile.ZIP_STORED) as z: z.writestr("w/level.dat0", os.urandom(600000))' "$E2E_TMP/slow.zip"
wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$SLOW_PORT" 2>/dev/null
check "upload through a 50 KB/s link" "$CTL" --node "http://127.0.0.1:$SLOW_PORT" --token "$ADMIN" \
  save upload alpha "$E2E_TMP/slow.zip"
"${B[@]}" save download alpha slow.zip "$E2E_TMP/slow.back.zip" >/dev/null
check "...arrives whole" test "$(sha "$E2E_TMP/slow.zip")" = "$(sha "$E2E_TMP/slow.back.zip")"

# ---- the save a running instance loaded is kept from under it
field() {
  "${A[@]}" --json instance show "$1" 2>/dev/null |
    python3 -c 'import json,sys; v=json.load(sys.stdin).get(sys.argv[1]); print("" if v is None else v)' "$2"
}
loaded_flag() {
  "${A[@]}" --json save list alpha |
    python3 -c 'import json,sys; print([s["loaded"] for s in json.load(sys.stdin)["saves"] if s["name"]=="alpha.zip"])'
}
running() { [[ $(field alpha status) == running ]]; }
stopped() { [[ $(field alpha status) == stopped ]]; }
check "start alpha (its save alpha.zip is created first)" "${A[@]}" instance start alpha
if wait_for 60 running; then ok "alpha runs"; else
  fail "alpha runs"; "${A[@]}" instance show alpha; tail -20 "$E2E_TMP/n3.log"
fi
check "alpha.zip is listed as loaded" test "$(loaded_flag)" = "[True]"
check "the table says so too" bash -c '"$@" | grep -q "^alpha.zip .*loaded"' _ "${C[@]}" save list alpha
out=$("${B[@]}" save delete alpha alpha.zip 2>&1); rc=$?
check "deleting the loaded save of a running instance is refused (exit $rc)" test $rc -eq 4
check "...saying to stop it first" grep -q "stop it first" <<<"$out"
"${B[@]}" save rename alpha alpha.zip other.zip >/dev/null 2>&1
check "renaming it is refused too" test $? -eq 4
check "copying it is fine" "${B[@]}" save copy alpha alpha.zip alpha-copy.zip
check "stop alpha" "${A[@]}" instance stop alpha
check "alpha stops" wait_for 60 stopped
check "now the loaded save may be renamed" "${B[@]}" save rename alpha alpha.zip alpha-old.zip

# ---- a big save through non-owners, with bounded memory
hwm() { awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$1/status"; }
mkzip "$E2E_TMP/big.zip" "big/level.dat0" "$BIG_MIB"
size=$(stat -c %s "$E2E_TMP/big.zip")
t0=$(date +%s%N)
check "upload a ${BIG_MIB} MiB save through A (non-owner)" "${A[@]}" save upload alpha "$E2E_TMP/big.zip" \
  --progress 2>"$E2E_TMP/progress.txt"
check "--progress reported the end ($(tail -1 "$E2E_TMP/progress.txt"))" grep -q "$size/$size bytes (100%)" "$E2E_TMP/progress.txt"
t1=$(date +%s%N)
check "download it through B (non-owner)" "${B[@]}" save download alpha big.zip "$E2E_TMP/big.back.zip"
t2=$(date +%s%N)
check "the big save's bytes are equal (sha256)" test "$(sha "$E2E_TMP/big.zip")" = "$(sha "$E2E_TMP/big.back.zip")"
for n in n1 n2 n3; do
  peak=$(hwm "${NPID[$n]}")
  check "peak RSS of $n ${peak} MiB <= ${RSS_BOUND_MIB} MiB (save: $((size >> 20)) MiB)" \
    test "$peak" -le "$RSS_BOUND_MIB"
done
mbps() { python3 -c "print('%.1f' % ($1 / 1e6 / (($2) / 1e9)))"; }
echo "measure: upload ${BIG_MIB} MiB through a non-owner: $(mbps "$size" $((t1 - t0))) MB/s;" \
  "download through another non-owner: $(mbps "$size" $((t2 - t1))) MB/s;" \
  "peak RSS n1 $(hwm "${NPID[n1]}") MiB, n2 $(hwm "${NPID[n2]}") MiB, n3 (owner) $(hwm "${NPID[n3]}") MiB"

e2e_finish
