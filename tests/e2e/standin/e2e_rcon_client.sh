#!/usr/bin/env bash
# Interop with an RCON client nobody here wrote: npm's rcon-client@4.2.5
# (the library Clusterio's hosts use) authenticates against the stand-in,
# runs /sc rcon.print(...) and reads the reply; a wrong password is refused.
set -euo pipefail
build=${CLUSTERD_BUILD:?}
here=$(cd "$(dirname "$0")" && pwd)
npm_dir=$build/npm-rcon-client
if [[ ! -f $npm_dir/node_modules/rcon-client/package.json ]]; then
  mkdir -p "$npm_dir"
  npm install --no-audit --no-fund --prefix "$npm_dir" rcon-client@4.2.5 >/dev/null
fi
NODE_PATH=$npm_dir/node_modules exec python3 "$here/e2e_rcon_client.py"
