"""kill -9 and restart in a 3-node cluster.

- kill -9 of the leader: another node becomes leader and a write through a
  survivor is acknowledged and readable through the other survivor.
- The killed node restarts with `clusterd run --data-dir D` alone and
  catches up (reads the writes made while it was down from its own copy).
- A follower killed while more than a snapshot's worth of entries (raftd
  snapshots every 10,000 applied entries) is written: the leader takes a
  snapshot and compacts; the restarted follower catches up by installing a
  snapshot (its clusterd_raft_snapshots_installed_total grows) and then
  serves the newest writes from its copy.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from cluster_util import (Cluster, bulk_put, check, log, metric, run,  # noqa: E402
                          wait_for)


def caught_up(node, ns, key, value):
    st, _, body = node.kv_get(ns, key, stale=True, timeout=5)
    return st == 200 and body == value


def main():
    with Cluster("failover") as cl:
        cl.form(3)
        cl.put_ok(cl.nodes[0], "fo", "before", b"v0")

        # ---- kill -9 the leader ----
        old = cl.wait_leader()
        old.kill9()
        t0 = time.monotonic()
        survivors = [n for n in cl.nodes if n is not old]
        new = cl.wait_leader(exclude=old)
        check(new is not old and new.alive(), "a new leader after kill -9 of %s: %s"
              % (old.name, new.name))
        w = [n for n in survivors if n is not new][0]  # write through a follower
        rev = cl.put_ok(w, "fo", "after-kill", b"v1")
        log("kill -9 -> acknowledged write through %s: %.2f s" % (w.name, time.monotonic() - t0))
        st, _, body = new.kv_get("fo", "after-kill")
        check(st == 200 and body == b"v1", "the write through %s (revision %d) is read through %s"
              % (w.name, rev, new.name))

        # ---- the killed node restarts with --data-dir alone and catches up ----
        old.start(flags=False)
        wait_for(lambda: caught_up(old, "fo", "after-kill", b"v1"),
                 "%s to catch up after restart" % old.name)
        check(True, "%s restarted with --data-dir alone and reads the write made while it was down"
              % old.name)
        st, _, body = old.kv_get("fo", "before")
        check(st == 200 and body == b"v0", "%s still has the write from before its kill" % old.name)

        # ---- a follower behind a compacted log catches up by snapshot ----
        leader = cl.wait_leader()
        victim = [n for n in cl.nodes if n is not leader][0]
        others = [n for n in cl.nodes if n is not victim]
        snaps_before = metric(leader.metrics(), "clusterd_raft_snapshots_total")
        inst_before = metric(victim.metrics(), "clusterd_raft_snapshots_installed_total")
        victim.kill9()
        log("killed follower %s; writing until the leader snapshots" % victim.name)
        written = 0
        t0 = time.monotonic()
        # 10,500 entries pass one snapshot interval even if none were applied
        # before; then more batches until the snapshot is seen (bounded).
        batch = 10500
        while True:
            written += bulk_put(cl, others, "bulk", written, batch)
            snaps = min(metric(n.metrics(), "clusterd_raft_snapshots_total") for n in others)
            if snaps > snaps_before:
                break
            if written >= 40000:
                raise AssertionError("no snapshot after %d writes" % written)
            batch = 1000
        log("%d writes in %.1f s (%.0f/s)" % (written, time.monotonic() - t0,
                                              written / (time.monotonic() - t0)))
        check(snaps > snaps_before, "the survivors took a snapshot (%d writes)" % written)
        last = "k%d" % (written - 1)
        cl.put_ok(others[0], "fo", "newest", b"v2")
        victim.start(flags=False)
        wait_for(lambda: caught_up(victim, "fo", "newest", b"v2"),
                 "%s to catch up after %d writes" % (victim.name, written))
        inst = metric(victim.metrics(), "clusterd_raft_snapshots_installed_total")
        check(inst > inst_before, "%s caught up by installing a snapshot "
              "(clusterd_raft_snapshots_installed_total %d -> %d)"
              % (victim.name, inst_before, inst))
        st, _, body = victim.kv_get("bulk", last, stale=True)
        check(st == 200 and body == b"x", "%s serves %s from its own copy" % (victim.name, last))
        st, _, body = victim.kv_get("fo", "before", stale=True)
        check(st == 200 and body == b"v0", "%s keeps the oldest write through the snapshot"
              % victim.name)
        # And it takes part again: a write through it is acknowledged.
        cl.put_ok(victim, "fo", "through-victim", b"v3")
        st, _, body = leader.kv_get("fo", "through-victim")
        check(st == 200 and body == b"v3", "a write through the restarted %s is committed"
              % victim.name)


if __name__ == "__main__":
    run(main)
