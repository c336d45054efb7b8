"""leave and re-join; a removed node's old keys are refused.

- A copy of n3's data dir is taken (n3 stopped with kill -9 for a
  consistent copy, then restarted and caught up).
- `clusterctl leave` on n3: exits 0, the n3 process exits 0, n3 is gone
  from the Raft configuration, and its data dir forgot the cluster: run
  again it is unjoined.
- A node started from the saved copy (new ports) speaks with n3's old key:
  n1 and n2 refuse its handshakes (clusterd_transport_rejected_total
  {reason="unknown_peer"} grows) and it never enters the configuration
  again; the cluster keeps answering writes.
- n3 joins again with a join token and becomes a voter (a new member).
"""
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(__file__))
from cluster_util import (Cluster, Failed, Node, check, free_port, log, metric,  # noqa: E402
                          run, wait_for)


def unknown_peer(n):
    return metric(n.metrics(), "clusterd_transport_rejected_total", reason="unknown_peer")


def main():
    with Cluster("leave") as cl:
        n1, n2, n3 = cl.form(3)
        cl.put_ok(n1, "lv", "a", b"1")
        old_id = json.loads(n3.get("/api/v1/status", token=None)[2])["node_id"]
        old_raft_ids = [s["id"] for s in n1.raft()["servers"] if s["name"] == "n3"]
        check(len(old_raft_ids) == 1, "n3 is in the configuration (raft id %s)" % old_raft_ids)

        # A consistent copy of n3's data dir with its keys.
        n3.kill9()
        saved = os.path.join(cl.tmp, "n3-saved")
        shutil.copytree(n3.dir, saved)
        n3.start(flags=False)
        wait_for(lambda: n3.kv_get("lv", "a", stale=True)[2] == b"1", "n3 back and caught up")
        cl.wait_voters(3)

        # ---- leave ----
        r = n3.ctl("leave")
        if r.returncode != 0:
            log("after the failed leave: raft %s" % n1.raft())
            log("members %s" % n1.members())
            log("n3 alive: %s" % n3.alive())
        check(r.returncode == 0, "clusterctl leave on n3 exits 0 (%s%s)" % (r.stdout, r.stderr))
        rc = n3.proc.wait(timeout=60)
        check(rc == 0, "the n3 process exits 0 after leave (%d)" % rc)

        def gone():
            st = n1.raft()
            return st.get("leader") and all(s["name"] != "n3" for s in st["servers"]) and st
        gone_st = wait_for(gone, "n3 to leave the Raft configuration")
        check(sorted(s["name"] for s in gone_st["servers"]) == ["n1", "n2"],
              "the configuration is n1, n2 after the leave")
        cl.put_ok(n2, "lv", "b", b"2")

        n3.start(flags=False)
        st = json.loads(n3.get("/api/v1/status", token=None)[2])
        check(st.get("joined") is False, "n3 runs again unjoined after leave (%s)" % st)

        # ---- the saved copy: old keys, new ports ----
        before = {n.name: unknown_peer(n) for n in (n1, n2)}
        stale = Node(cl, "n3-stale")
        cl.nodes.append(stale)
        stale.dir = saved
        stale.bind = "127.0.0.1:%d" % free_port()
        stale.http = "127.0.0.1:%d" % free_port()
        stale.start(flags=True)
        # Its elections (it still believes in the old configuration) dial
        # n1 and n2 with the removed key.
        for n in (n1, n2):
            wait_for(lambda: unknown_peer(n) >= before[n.name] + 3,
                     "%s to refuse the removed key's handshakes" % n.name)
            check(True, "%s refused n3's old key (unknown_peer %d -> %d)"
                  % (n.name, before[n.name], unknown_peer(n)))
        cl.put_ok(n1, "lv", "c", b"3")
        for n in (n1, n2):
            st = n.raft()
            check(all(s["id"] not in old_raft_ids and s["name"] != "n3" for s in st["servers"]),
                  "the removed member is not in %s's configuration" % n.name)
            ms = n.members()["members"]
            check(not any(m["id"] in old_raft_ids and m["state"] == "alive" for m in ms),
                  "the removed member is not alive in %s's gossip view (%s)"
                  % (n.name, [(m["name"], m["state"]) for m in ms]))
        # It cannot read the cluster's new writes through its old state.
        s_st, _, s_body = stale.kv_get("lv", "c", stale=True, timeout=5)
        check(s_body != b"3", "the stale copy never received the newest write (%d %r)"
              % (s_st, s_body[:80]))

        # ---- n3 joins again with a token ----
        cl.join(n3, n2)
        wait_for(lambda: n3.get("/api/v1/cluster/raft")[0] == 200, "n3 to accept the admin token")
        try:
            st = cl.wait_voters(3)
        except Failed:
            log("raft: %s" % n1.raft()["decisions"])
            log("n3 members: %s" % n3.members())
            log("members: %s" % n1.members())
            raise
        new_ids = [s["id"] for s in st["servers"] if s["name"] == "n3"]
        check(len(new_ids) == 1 and new_ids[0] not in old_raft_ids,
              "n3 re-joined as a new member (raft id %s, was %s)" % (new_ids, old_raft_ids))
        new_node_id = json.loads(n3.get("/api/v1/status", token=None)[2])["node_id"]
        log("n3 node id %s -> %s" % (old_id, new_node_id))
        for k, v in (("a", b"1"), ("b", b"2"), ("c", b"3")):
            wait_for(lambda: n3.kv_get("lv", k, stale=True)[2] == v, "n3 to read lv/" + k)
        check(True, "the re-joined n3 has every write, including those made while it was out")
        cl.put_ok(n3, "lv", "d", b"4")
        check(n1.kv_get("lv", "d")[2] == b"4", "a write through the re-joined n3 reaches n1")
        check(all(s["id"] not in old_raft_ids for s in n1.raft()["servers"]),
              "the old identity is still not a member at the end")
        check(stale.alive(), "the stale copy ran for the whole test (it was refused, not crashed)")


if __name__ == "__main__":
    run(main)
