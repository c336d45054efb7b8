#!/usr/bin/env bash
# Lifeguard must earn its keep: with one CPU-starved node, the run with
# Lifeguard (local health, dynamic suspicion) must see at most half the
# suspicions of healthy members that the same seeds see without it, and
# no false death.
set -u
sim=$1
with=$("$sim" --nodes 50 --seeds 10 --slow-ms 1500 2>&1) || { echo "$with"; exit 1; }
without=$("$sim" --nodes 50 --seeds 10 --slow-ms 1500 --no-lifeguard 2>&1)
healthy() { # false suspicions of members other than the slow one
	local all slow
	all=$(sed -n 's/.*false_suspect=\([0-9]*\) .*/\1/p' <<<"$1" | tail -1)
	slow=$(sed -n 's/.*(of the slow node \([0-9]*\)).*/\1/p' <<<"$1" | tail -1)
	echo $((all - slow))
}
a=$(healthy "$with"); b=$(healthy "$without")
echo "false suspicions of healthy members: lifeguard=$a without=$b"
grep -q 'false_dead=0 ' <<<"$(tail -1 <<<"$with")" || { echo "false death with Lifeguard"; exit 1; }
[ "$b" -gt 0 ] && [ $((a * 2)) -le "$b" ] || { echo "Lifeguard did not halve them"; exit 1; }
