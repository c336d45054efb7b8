#!/usr/bin/env bash
# Every global symbol a module's library defines carries the module's
# prefix (raft_ public, raft__ internal), so no internal helper of one
# module can clash with another's at link time.
#   symbols.sh PREFIX LIBRARY [PREFIX LIBRARY]...
set -uo pipefail
fail=0
while (($# >= 2)); do
  prefix=$1 lib=$2; shift 2
  bad=$(nm -g --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | grep -v "^${prefix}_" | sort -u)
  if [[ -n $bad ]]; then
    echo "$(basename "$lib"): global symbols without the ${prefix}_ prefix:"; echo "$bad"; fail=1
  else
    echo "$(basename "$lib"): every global symbol starts with ${prefix}_"
  fi
done
exit $fail
