#!/usr/bin/env bash
# End to end: clusterctl's kv, token, cluster and join commands against the
# real HTTP server and API (fake_api_node: an in-memory core, no Raft).
# Checks outputs and exit codes: 0 ok, 2 usage/refused input, 3 not found,
# 4 CAS conflict (current revision on stderr), 5 token refused.
source "$(dirname "$0")/../../lib/e2e.sh"
CTL=$BIN/clusterctl
unset CLUSTERD_TOKEN CLUSTERD_NODE CLUSTERD_CONFIG
export HOME=$E2E_TMP/home

# start_fake NAME [--unjoined]: sets URL, ADMIN, JOIN.
start_fake() {
  "$BIN/fake_api_node" "${@:2}" >"$E2E_TMP/$1.out" 2>"$E2E_TMP/$1.log" &
  E2E_PIDS+=($!)
  for _ in $(seq 200); do [[ -s $E2E_TMP/$1.out ]] && break; sleep 0.05; done
  read -r port ADMIN JOIN <"$E2E_TMP/$1.out"
  URL="http://127.0.0.1:$port"
}

# expect DESC RC TEXT ARGS...: exits RC and stdout or stderr holds TEXT.
expect() {
  local desc=$1 want_rc=$2 want=$3; shift 3
  "$CTL" "$@" >"$E2E_TMP/out" 2>"$E2E_TMP/err" <"${STDIN:-/dev/null}"; local rc=$?
  if [[ $rc == "$want_rc" ]] && grep -qF -- "$want" "$E2E_TMP/err" "$E2E_TMP/out"; then
    ok "$desc (exit $rc)"
  else
    fail "$desc: exit $rc (want $want_rc), out: $(head -c 300 "$E2E_TMP/out") err: $(cat "$E2E_TMP/err")"
  fi
}

start_fake n1
A=(--node "$URL" --token "$ADMIN")

expect "no token: refused" 5 "missing 'Authorization" --node "$URL" kv get app k
expect "a wrong token: refused" 5 "invalid, revoked or expired" --node "$URL" --token "${ADMIN%?}x" kv get app k
expect "put" 0 "revision " "${A[@]}" kv put app greeting hello
rev=$(awk '{print $2}' "$E2E_TMP/out")
expect "get prints the raw value" 0 "hello" "${A[@]}" kv get app greeting
check "...and nothing else" test "$(cat "$E2E_TMP/out")" = hello
expect "get --json" 0 "\"revision\":$rev" "${A[@]}" kv get app greeting --json
expect "get --stale" 0 "hello" "${A[@]}" kv get app greeting --stale
expect "a missing key: 3" 3 "no such key" "${A[@]}" kv get app nothing
expect "cas on a wrong revision: 4 with the current one" 4 "current revision $rev" \
  "${A[@]}" kv put app greeting x --cas 1
expect "cas 0 on an existing key: 4" 4 "current revision $rev" "${A[@]}" kv put app greeting x --cas 0
expect "cas on the right revision" 0 "revision" "${A[@]}" kv put app greeting bye --cas "$rev"
rev2=$(awk '{print $2}' "$E2E_TMP/out")
check "...moves the revision" test "$rev2" -gt "$rev"
expect "a bad namespace: 2" 2 "bad namespace" "${A[@]}" kv put 'a b' k v
expect "--cas not a number: 2" 2 "--cas wants a number" "${A[@]}" kv put app k v --cas x

# Values from stdin, binary and at the bound; keys with odd bytes.
head -c 1048576 /dev/urandom >"$E2E_TMP/big"
STDIN=$E2E_TMP/big expect "a 1 MiB value from stdin" 0 "revision" "${A[@]}" kv put app big -
"$CTL" "${A[@]}" kv get app big >"$E2E_TMP/big.out"
check "...comes back byte for byte" cmp -s "$E2E_TMP/big" "$E2E_TMP/big.out"
head -c 1048577 /dev/zero >"$E2E_TMP/toobig"
STDIN=$E2E_TMP/toobig expect "over 1 MiB: refused" 2 "value over" "${A[@]}" kv put app big
expect "a key with slashes, dots and spaces" 0 "revision" "${A[@]}" kv put app 'dir/../a b%?&' v1
expect "...reads back" 0 "v1" "${A[@]}" kv get app 'dir/../a b%?&'
expect "...is not another key" 3 "no such key" "${A[@]}" kv get app 'a b%?&'

for k in b/1 b/2 b/3 c; do "$CTL" "${A[@]}" kv put app "$k" v >/dev/null; done
expect "list by prefix" 0 "b/3" "${A[@]}" kv list app b/
check "...only the prefix" test "$(grep -c '^b/' "$E2E_TMP/out")" = 3
check "...and no other key" bash -c "! grep -q '^c ' '$E2E_TMP/out'"
expect "list --json" 0 '"keys":[' "${A[@]}" kv list app --json
expect "delete with a stale cas: 4" 4 "revision mismatch" "${A[@]}" kv delete app greeting --cas "$rev"
expect "delete" 0 "revision" "${A[@]}" kv delete app greeting
expect "delete again: 3" 3 "no such key" "${A[@]}" kv delete app greeting

# Tokens: create, use, list without secrets, revoke.
expect "token create api --role read" 0 "." "${A[@]}" token create api --role read --name ci
RO=$(head -1 "$E2E_TMP/out")
expect "the new read token reads" 3 "no such key" --node "$URL" --token "$RO" kv get app greeting
expect "...and may not write: 5" 5 "lacks the permission 'kv.write'" --node "$URL" --token "$RO" kv put app k v
CLUSTERD_TOKEN=$RO expect "\$CLUSTERD_TOKEN is used" 5 "lacks the permission 'kv.write'" --node "$URL" kv put app k v
expect "token list" 0 "ci" "${A[@]}" token list
check "...shows no secret" bash -c "! grep -qF '${RO#*.}' '$E2E_TMP/out'"
expect "token list --json" 0 '"tokens":[' "${A[@]}" token list --json
expect "token revoke" 0 "revoked ${RO%%.*}" "${A[@]}" token revoke "${RO%%.*}"
expect "a revoked token: 5" 5 "revoked" --node "$URL" --token "$RO" kv get app k
expect "revoke an unknown token: 3" 3 "no such token" "${A[@]}" token revoke 0000000000000000
expect "token create join" 0 "." "${A[@]}" token create join
expect "a bad token kind: 2" 2 "kind is 'join' or 'api'" "${A[@]}" token create frob

# The config file init writes: node and token from it, flags win.
mkdir -p "$HOME/.config/clusterd"
printf '{"node":"%s","token":"%s"}\n' "$URL" "$ADMIN" >"$HOME/.config/clusterd/clusterctl.json"
expect "the config file gives node and token" 0 "v1" kv get app 'dir/../a b%?&'
expect "--token beats the file" 5 "malformed bearer token" --token nope kv get app k
printf 'not json' >"$E2E_TMP/bad.json"
expect "a named config that is not JSON: 2" 2 "not a JSON object" --config "$E2E_TMP/bad.json" members
rm "$HOME/.config/clusterd/clusterctl.json"

# Cluster views and operations.
expect "members" 0 "alive" "${A[@]}" members
expect "members --json" 0 '"members":[' "${A[@]}" members --json
expect "raft status" 0 "leader    fake" "${A[@]}" raft status
expect "raft status --json" 0 '"leader":{"id":"0000000000001234","name":"fake"}' "${A[@]}" raft status --json
expect "raft transfer-leader" 0 "leadership transferred" "${A[@]}" raft transfer-leader n2
expect "leave" 0 "left the cluster" "${A[@]}" leave
expect "join on a member: 4" 4 "already a member" "${A[@]}" join 127.0.0.1:7946 --token "$JOIN"

# An unjoined node: join without an API token, from loopback.
start_fake n2 --unjoined
expect "unjoined: everything else is 503" 1 "has not joined" --node "$URL" kv get app k
expect "join needs --token" 2 "missing --token" --node "$URL" join 127.0.0.1:7946
expect "join with a malformed token: 2" 2 "bad token" --node "$URL" join 127.0.0.1:7946 --token abc
expect "join" 0 "joined" --node "$URL" join 127.0.0.1:7946 --token "$JOIN"

e2e_finish
