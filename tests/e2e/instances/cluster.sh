# Shared by the instance e2e tests (sourced after tests/lib/e2e.sh): a
# three-node cluster on loopback with the Factorio stand-in as the install
# (n1 without one unless NO_INSTALL_N1=0), the clusterctl shortcuts A, B,
# C, and polling helpers. Waits for three voters, so any one node may die.
INSTALL=$CLUSTERD_BUILD/factorio-standin
CTL=$BIN/clusterctl

# ports_block N: the first of N consecutive ports that are free now, below
# the kernel's ephemeral range (32768 and up), so that no outgoing connection
# takes one of them while the test runs (a game port taken so crash-loops).
ports_block() {
  python3 - "$1" <<'PY'
import random, socket, sys
n = int(sys.argv[1])
for _ in range(200):
    base = random.randrange(20000, 32000 - n)
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
  [[ $n != n1 || ${NO_INSTALL_N1:-1} == 0 ]] && fdir=$INSTALL   # n1: no install by default
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
    python3 -c 'import json,sys; v=json.load(sys.stdin).get(sys.argv[1]); print("" if v is None else v)' "$3" 2>/dev/null
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

