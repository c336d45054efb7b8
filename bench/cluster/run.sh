#!/usr/bin/env bash
# Cluster benchmark: clusterd against etcd 3.4 (Debian etcd-server), each 3
# members on loopback, measured in one run with the same clients.
#
#   bench/cluster/run.sh [build-dir] [all|steady|failover|spurious] [bench.py options]
#
# all (default): writes at 64 clients, latency at 1 client, idle and loaded RSS
# (REPS fresh clusters of each, interleaved), then failover + inflight over 10
# kill -9 of the leader per system. spurious: elections counted while the
# cluster idles 120 s under busy loops on every core. See bench/cluster/README.md.
#
# Exits 1 (and prints no figure in its place) when clusterd or etcd cannot run.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-build}
MODE=${2:-all}
shift $(( $# > 2 ? 2 : $# ))
ETCD=${ETCD:-/usr/bin/etcd}

fail() { echo "bench cluster: FAILED: $*"; exit 1; }
for b in bin/clusterd bin/clusterctl bench/cluster/kvload; do
	[ -x "$BUILD/$b" ] || fail "no $BUILD/$b; build first (cmake --build $BUILD)"
done
need_peer=1
case $MODE in
profile) need_peer=0 ;;
spurious) printf '%s\n' "$@" | grep -qx -- --no-peer && need_peer=0 ;;
esac
if [ $need_peer = 1 ]; then
	[ -x "$ETCD" ] || fail "the peer cannot run: no $ETCD (scripts/setup --bench installs etcd-server)"
	"$ETCD" --version 2>/dev/null | grep -q '^etcd Version: 3\.4\.' ||
		fail "the peer cannot run: $ETCD is not etcd 3.4"
fi
exec python3 "$HERE/bench.py" "$MODE" --bin "$BUILD/bin" --kvload "$BUILD/bench/cluster/kvload" \
	--etcd "$ETCD" "$@"
