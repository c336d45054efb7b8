#!/usr/bin/env bash
# The transport on loopback: handshake CPU against a TLS 1.3 handshake
# (OpenSSL, in memory, the same way), connection+handshake latency, and
# one-way frame throughput, repeated.
#   bench/transport/run.sh [build-dir] [repetitions]
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-${CLUSTERD_BUILD:-$src/build}}" && pwd)
reps=${2:-3}
bin=$build/bench/transport/bench_transport
[[ -x $bin ]] || { echo "bench transport: build bench_transport first" >&2; exit 1; }
for ((i = 0; i < reps; i++)); do
  "$bin" 200 200000 4000
done
