#!/usr/bin/env bash
# The simulator runs the node's own gossip driver (node/gossipd): a bug
# planted in that driver must make the checkers fail, each with a
# violation, while the same seeds pass without it.
set -u
sim=$1
"$sim" --nodes 20 --seeds 3 >/dev/null 2>&1 || { echo "clean run failed"; exit 1; }
for bug in drop-reliable first-change-only; do
	out=$("$sim" --nodes 20 --seeds 3 --bug "$bug" 2>&1)
	if [ $? -eq 0 ] || ! grep -q VIOLATION <<<"$out"; then
		echo "planted bug $bug not caught"; exit 1
	fi
	echo "$bug caught: $(grep -m1 VIOLATION <<<"$out")"
done
