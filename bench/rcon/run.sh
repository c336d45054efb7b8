#!/usr/bin/env bash
# RCON round trips/s and bytes/s into the Factorio stand-in: clusterd's
# client against npm's rcon-client 4.2.5 (scripts/setup --bench installs
# it), in one run, one server process.
#   bench/rcon/run.sh [build-dir] [repetitions]
# Prints `bench rcon_rtt: clusterd=<v> rcon-client=<v> ratio=<r> ops/s`
# and the sequential and bytes/s lines likewise.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-${CLUSTERD_BUILD:-$src/build}}" && pwd)
reps=${2:-3}
bin=${FACTORIO_BIN:-$(find "$build" -path '*/bin/x64/factorio' -not -path '*/fake-install/*' -type f -perm -u+x | head -n 1)}
[[ -n $bin ]] || { echo "bench rcon: no stand-in binary (bin/x64/factorio) under $build" >&2; exit 1; }
[[ -x $build/bench/rcon/bench_rcon ]] || { echo "bench rcon: build bench_rcon first" >&2; exit 1; }
npm_dir=$src/.deps/npm-rcon-client
[[ -f $npm_dir/node_modules/rcon-client/package.json ]] ||
  { echo "bench rcon: npm's rcon-client is missing: run scripts/setup --bench" >&2; exit 1; }
scratch=$(mktemp -d /tmp/bench-rcon.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
"$build/bench/rcon/bench_rcon" "$bin" "$scratch/inst" "$src/bench/rcon/rcon_client_bench.js" \
  "$npm_dir/node_modules" "$reps"
