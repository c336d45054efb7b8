# Shared helpers for end-to-end tests (sourced). Every process a test
# starts is recorded by PID and stopped on exit, whatever happens.
set -uo pipefail

BIN=${CLUSTERD_BUILD:?run through ctest, or set CLUSTERD_BUILD}/bin
E2E_TMP=$(mktemp -d /tmp/clusterd-e2e.XXXXXX)
E2E_PIDS=()
E2E_FAILS=0
E2E_PASSES=0

e2e_cleanup() {
  local pid
  for pid in "${E2E_PIDS[@]+"${E2E_PIDS[@]}"}"; do
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  # Game servers run in sessions of their own and outlive a node killed
  # with SIGKILL: stop, by PID, every process whose command line names a
  # path under this test's directory.
  local p
  for p in /proc/[0-9]*; do
    [[ ${p#/proc/} == "$$" ]] && continue
    tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF -- "$E2E_TMP" &&
      kill -9 "${p#/proc/}" 2>/dev/null
  done
  rm -rf "$E2E_TMP"
}
trap e2e_cleanup EXIT

ok() { E2E_PASSES=$((E2E_PASSES + 1)); echo "ok: $*"; }
fail() { E2E_FAILS=$((E2E_FAILS + 1)); echo "FAIL: $*"; }
# check DESCRIPTION COMMAND...: passes when the command succeeds.
check() { local d=$1; shift; if "$@"; then ok "$d"; else fail "$d"; fi; }

# start_node NAME [clusterd run flags...]: starts a node on a free port,
# sets NODE_PID and NODE_URL, waits until it serves.
start_node() {
  local name=$1; shift
  local dir=$E2E_TMP/$name
  mkdir -p "$dir"
  rm -f "$dir/http.addr"
  "$BIN/clusterd" run --data-dir "$dir" --http 127.0.0.1:0 --bind 127.0.0.1:0 "$@" \
    2>>"$E2E_TMP/$name.log" &
  NODE_PID=$!
  E2E_PIDS+=("$NODE_PID")
  for _ in $(seq 100); do
    if [[ -s $dir/http.addr ]]; then
      NODE_URL="http://$(cat "$dir/http.addr")"
      curl -sf "$NODE_URL/api/v1/status" >/dev/null && return 0
    fi
    kill -0 "$NODE_PID" 2>/dev/null || break
    sleep 0.05
  done
  echo "node $name did not start; its log:"; cat "$E2E_TMP/$name.log"
  return 1
}

# wait_exit PID SECONDS: waits for a child; sets EXIT_CODE (124 = timeout).
wait_exit() {
  local pid=$1 secs=$2
  for _ in $(seq $((secs * 20))); do
    if ! kill -0 "$pid" 2>/dev/null; then
      wait "$pid"; EXIT_CODE=$?; return 0
    fi
    sleep 0.05
  done
  EXIT_CODE=124
}

# free_port: a TCP port nothing listens on right now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

e2e_finish() {
  echo "$E2E_PASSES passed, $E2E_FAILS failed"
  ((E2E_FAILS == 0))
}

# start_standin NAME: creates a save and starts the Factorio stand-in with
# auto-pause off and RCON on a free port; sets GAME_PID, RCON_PORT and
# GAME_LOG. Waits for "Starting RCON interface" (the port accepts by then).
STANDIN=${CLUSTERD_BUILD}/factorio-standin/bin/x64/factorio
start_standin() {
  local name=$1 dir=$E2E_TMP/$1
  mkdir -p "$dir"
  # Its own write-data, as a real instance has: the install's shared one
  # would carry ban lists and saves from one test into the next.
  printf '[path]\nread-data=%s\nwrite-data=%s\n' \
    "$(dirname "$(dirname "$(dirname "$STANDIN")")")/data" "$dir" >"$dir/config.ini"
  "$STANDIN" --config "$dir/config.ini" --create "$dir/world.zip" >/dev/null 2>&1 || return 1
  echo '{"auto_pause": false}' >"$dir/server-settings.json"
  for _ in 1 2 3 4 5; do
    RCON_PORT=$(free_port)
    GAME_LOG=$dir/stdout.log
    "$STANDIN" --config "$dir/config.ini" --start-server "$dir/world.zip" --port "$(free_port)" \
      --rcon-port "$RCON_PORT" --rcon-password e2e \
      --server-settings "$dir/server-settings.json" >"$GAME_LOG" 2>&1 &
    GAME_PID=$!
    E2E_PIDS+=("$GAME_PID")
    for _ in $(seq 100); do
      grep -q "Starting RCON interface at port $RCON_PORT" "$GAME_LOG" && return 0
      kill -0 "$GAME_PID" 2>/dev/null || break
      sleep 0.05
    done
    kill -9 "$GAME_PID" 2>/dev/null; wait "$GAME_PID" 2>/dev/null
  done
  echo "stand-in $name did not start; its output:"; cat "$GAME_LOG"
  return 1
}
