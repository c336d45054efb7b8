#!/usr/bin/env bash
# scripts/demo starts every server on a port the kernel picks, never on a
# fixed one that a real Factorio server (34197) or another service on the
# machine may hold. A static check: running the demo takes a minute.
set -uo pipefail
demo=${CLUSTERD_SRC:?}/scripts/demo
hits=$(grep -nE -- '--(port|rcon-port)[ =]+"?[0-9]+\b|[0-9]\.[0-9]+:[1-9][0-9]*\b|\[::1?\]:[1-9]|34197' "$demo" |
       grep -vE '^[0-9]+:\s*#')
if [[ -n $hits ]]; then
  echo "FAIL: scripts/demo uses fixed ports:"; echo "$hits"; exit 1
fi
echo "ok: scripts/demo uses no fixed port"
