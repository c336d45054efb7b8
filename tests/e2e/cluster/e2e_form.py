"""Forming clusters of real processes with init + join.

- A 3-node cluster reaches 3 voters; a write through each node is read back
  through each node, linearizably (at once, it must see it) and with
  ?stale=1 (eventually); the linearizable read names the revision.
- /metrics of a cluster node passes `promtool check metrics` and carries
  clusterd_raft_*, clusterd_gossip_* and clusterd_transport_* series.
- A 5-node cluster with 5 healthy nodes reaches 5 voters (autopilot's
  target once 5 are healthy), and the same write/read matrix holds.
"""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from cluster_util import Cluster, check, log, run, wait_for  # noqa: E402


def write_read_matrix(cl, tag):
    nodes = cl.nodes
    for w in nodes:
        key = "%s-from-%s" % (tag, w.name)
        value = ("value written through %s" % w.name).encode()
        rev = cl.put_ok(w, "form", key, value)
        for r in nodes:
            st, h, body = r.kv_get("form", key)
            check(st == 200 and body == value and int(h["x-clusterd-revision"]) == rev,
                  "%s: linearizable read of %s through %s sees revision %d" % (tag, key, r.name, rev))
            wait_for(lambda: r.kv_get("form", key, stale=True)[2] == value,
                     "stale read of %s through %s" % (key, r.name))
            log("ok: %s: stale read of %s through %s" % (tag, key, r.name))
    # Listing through any node shows every key.
    st, _, body = nodes[-1].get("/api/v1/kv/form?prefix=%s-" % tag)
    for w in nodes:
        check(st == 200 and ("%s-from-%s" % (tag, w.name)).encode() in body,
              "%s: list through %s shows the key written through %s" % (tag, nodes[-1].name, w.name))


def check_metrics(n):
    text = n.metrics_text()
    for prefix in ("clusterd_raft_", "clusterd_gossip_", "clusterd_transport_"):
        check(any(line.startswith(prefix) for line in text.splitlines()),
              "/metrics of %s has %s* series" % (n.name, prefix))
    promtool = shutil.which("promtool")
    if promtool is None:
        log("promtool not installed: check skipped")
        return
    r = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=60)
    check(r.returncode == 0, "promtool check metrics accepts %s's /metrics (%s)"
          % (n.name, (r.stdout + r.stderr).strip()[:500]))


def main():
    with Cluster("form3") as cl:
        cl.form(3)
        st = cl.raft_any()
        check(len(cl.voters(st)) == 3 and len(st["servers"]) == 3,
              "3-node cluster: 3 servers, all voters")
        write_read_matrix(cl, "three")
        for n in cl.nodes:
            check_metrics(n)
    with Cluster("form5") as cl:
        cl.bootstrap("n1")
        for i in range(2, 6):
            cl.add("n%d" % i)
        st = cl.wait_voters(5)
        check(sorted(cl.voters(st)) == ["n1", "n2", "n3", "n4", "n5"],
              "5-node cluster: autopilot reached 5 voters")
        write_read_matrix(cl, "five")
        members = cl.nodes[2].members()
        ms = members if isinstance(members, list) else members.get("members", [])
        alive = [m["name"] for m in ms if m.get("state") == "alive"]
        check(sorted(alive) == ["n1", "n2", "n3", "n4", "n5"],
              "gossip view through n3 has the 5 nodes alive (%s)" % alive)


if __name__ == "__main__":
    run(main)
