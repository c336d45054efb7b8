#!/usr/bin/env bash
# Interop with an RCON client nobody here wrote: npm's rcon-client@4.2.5
# (the library Clusterio's hosts use) authenticates against the stand-in,
# runs /sc rcon.print(...) and reads the reply; a wrong password is refused.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# Installed by scripts/setup --test, never at test time.
npm_dir=${CLUSTERD_SRC:?}/.deps/npm-rcon-client
if [[ ! -f $npm_dir/node_modules/rcon-client/package.json ]]; then
  echo "FAIL: npm's rcon-client is not installed in $npm_dir: run scripts/setup --test"
  exit 1
fi
NODE_PATH=$npm_dir/node_modules exec python3 "$here/e2e_rcon_client.py"
