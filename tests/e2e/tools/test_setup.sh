#!/usr/bin/env bash
# scripts/setup's choices without installing anything: stubs for
# dpkg-query (every package missing), id (not root), apt-get and sudo
# (record their arguments) show which packages each job asks for, and what
# it says when there is no sudo.
source "$(dirname "$0")/../../lib/e2e.sh"
SETUP=${CLUSTERD_SRC:?}/scripts/setup
stub=$E2E_TMP/stub
mkdir -p "$stub"
printf '#!/bin/sh\nexit 1\n' >"$stub/dpkg-query"
printf '#!/bin/sh\necho 1000\n' >"$stub/id"
printf '#!/bin/sh\necho "apt-get $*" >>"%s/calls"\n' "$E2E_TMP" >"$stub/apt-get"
printf '#!/bin/sh\necho "sudo $1" >>"%s/calls"\nexec "$@"\n' "$E2E_TMP" >"$stub/sudo"
# npm is stubbed, node is not on PATH: nodejs and npm count as missing.
printf '#!/bin/sh\necho "npm $*" >>"%s/calls"\n' "$E2E_TMP" >"$stub/npm"
chmod +x "$stub"/*
# A PATH with the stubs first and the basic tools linked in, nothing else.
base=$E2E_TMP/base; mkdir -p "$base"
for t in bash sh env sort grep sed cat dirname mkdir printf; do ln -s "$(command -v $t)" "$base/$t"; done

run_setup() { # PATH-dir... -- args
  local path=$1; shift
  : >"$E2E_TMP/calls"
  env -i PATH="$path" CLUSTERD_DEPS="$E2E_TMP/deps" bash "$SETUP" "$@" >"$E2E_TMP/out" 2>&1
}

# No sudo: the command for root, naming only the build set for no flag.
rm "$stub/sudo.off" 2>/dev/null; mv "$stub/sudo" "$stub/sudo.off"
run_setup "$stub:$base"; rc=$?
check "without sudo, setup exits 1 and prints the command for root [$(tr '\n' ' ' <"$E2E_TMP/out")]" \
  bash -c "[[ $rc == 1 ]] && grep -q 'not root and no sudo; as root, run:' '$E2E_TMP/out' &&
    grep -q 'apt-get update && apt-get install -y --no-install-recommends .*libuv1-dev' '$E2E_TMP/out'"
check "...and runs no apt-get" test ! -s "$E2E_TMP/calls"
check "the build set has no prometheus, clang, npm or Go" \
  bash -c "! grep -qE 'prometheus|clang|npm|golang|valgrind' '$E2E_TMP/out'"
run_setup "$stub:$base" --demo
check "--demo adds curl only" bash -c "grep -q ' curl' '$E2E_TMP/out' && ! grep -qE 'prometheus|clang|npm|golang' '$E2E_TMP/out'"
run_setup "$stub:$base" --bench
check "--bench adds the peers" bash -c "grep -q golang-github-hashicorp-raft-dev '$E2E_TMP/out'"
run_setup "$stub:$base" --frob; rc=$?
check "an unknown flag exits 2" bash -c "[[ $rc == 2 ]] && grep -q \"unknown option '--frob'\" '$E2E_TMP/out'"

# With sudo: apt-get update, then install, both through sudo.
mv "$stub/sudo.off" "$stub/sudo"
run_setup "$stub:$base" --demo
check "with sudo: update then install, through sudo [$(tr '\n' ' ' <"$E2E_TMP/calls")]" \
  bash -c "[[ \$(sed -n 1p '$E2E_TMP/calls') == 'sudo apt-get' && \$(sed -n 2p '$E2E_TMP/calls') == 'apt-get update -qq' ]] &&
    grep -q '^apt-get install -y -qq --no-install-recommends .*curl' '$E2E_TMP/calls'"
run_setup "$stub:$base" --test
check "--test adds prometheus and npm, not clang or Go" \
  bash -c "grep -q prometheus '$E2E_TMP/out' && grep -q npm '$E2E_TMP/out' && ! grep -qE 'clang|golang' '$E2E_TMP/out'"
check "--test installs npm's rcon-client into CLUSTERD_DEPS" \
  grep -q "^npm install --no-audit --no-fund --prefix $E2E_TMP/deps/npm-rcon-client rcon-client@4.2.5" "$E2E_TMP/calls"
e2e_finish
