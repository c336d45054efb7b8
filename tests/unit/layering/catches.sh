#!/usr/bin/env bash
# Plants each kind of violation in a scratch tree and expects the layering
# check to fail on it, and to pass on the clean tree.
set -u
check=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/raft" "$tmp/storage" "$tmp/base" "$tmp/node/api" "$tmp/node/raftd" \
  "$tmp/node/gossipd" "$tmp/node/autopilot"
echo 'add_library(storage STATIC s.c)' > "$tmp/storage/CMakeLists.txt"
echo '#include "raft/raft.h"' > "$tmp/node/raftd/ok.c"
echo 'int f(void) { return 0; }' > "$tmp/raft/ok.c"
"$check" "$tmp" >/dev/null || { echo "clean tree rejected"; exit 1; }
expect_fail() { # description, file, content
  echo "$3" > "$tmp/$2"
  if "$check" "$tmp" >/dev/null; then echo "not caught: $1"; exit 1; fi
  rm "$tmp/$2"
}
expect_fail "uv.h in raft" raft/bad.c '#include <uv.h>'
expect_fail "rocksdb in raft" raft/bad.c '#include "rocksdb/c.h"'
expect_fail "socket header in a codec" base/bad.c '#include <sys/socket.h>'
expect_fail "clock_gettime in storage" storage/bad.c 'void f(void) { clock_gettime(0, 0); }'
expect_fail "rand in raft" raft/bad.c 'int f(void) { return rand(); }'
expect_fail "time in base" base/bad.c 'long f(void) { return time(0); }'
expect_fail "printf in storage" storage/bad.c 'void f(void) { printf("x"); }'
expect_fail "stderr in raft" raft/bad.c 'void f(void) { fputs("x", stderr); }'
expect_fail "uv.h in node/gossipd" node/gossipd/bad.c '#include <uv.h>'
expect_fail "clock_gettime in node/autopilot" node/autopilot/bad.c 'void f(void) { clock_gettime(0, 0); }'
# Wrong arrows between modules, by #include and by CMake link.
expect_fail "raft includes storage" raft/bad.c '#include "storage/storage.h"'
expect_fail "node/api includes raft directly" node/api/bad.c '#include "raft/raft.h"'
expect_fail "node/api includes storage directly" node/api/bad.h '#include "storage/storage.h"'
expect_fail "base includes node" base/bad.h '#include "node/log.h"'
expect_fail "raft links storage" raft/CMakeLists.txt 'add_library(raft STATIC r.c)
target_link_libraries(raft PUBLIC base
  storage)'
echo "layering check catches all 15 planted violations"
