#!/usr/bin/env bash
# Group-commit appends vs this disk's fdatasync rate, same run, same dir.
#   bench/storage/run.sh [build-dir] [extra bench_storage args]
# Prints the bench lines (median of 3 runs each, spread in brackets).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-${CLUSTERD_BUILD:-$root/build}}
shift || true
exec "$build/bench/storage/bench_storage" --dir "${BENCH_DIR:-/tmp}" \
  --seconds 3 --reps 3 --entry 100 --proposers 1,64 "$@"
