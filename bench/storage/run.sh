#!/usr/bin/env bash
# Group-commit appends vs this disk's fdatasync rate, same run, same dir.
#   bench/storage/run.sh [build-dir] [extra bench_storage args]
# Prints the bench lines (median of 5 runs each, spread in brackets). The
# default is the loop model with paired slices (see bench_storage.c;
# at 64 proposers a third line compares with a batch-sized probe);
# --model threads and --spin 1 give the other variants.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-${CLUSTERD_BUILD:-$root/build}}
shift || true
exec "$build/bench/storage/bench_storage" --dir "${BENCH_DIR:-/tmp}" \
  --seconds 3 --reps 5 --entry 100 --proposers 1,64 --model loop --spin 0 "$@"
