"""Measurements for issue 10's closing note (reported, not asserted; not a
ctest entry). Run: CLUSTERD_BUILD=build python3 tests/e2e/cluster/measure.py

- failover: kill -9 of the leader to the next acknowledged write through a
  survivor, over KILLS kills (default 10); p50 and p99 (nearest rank);
- idle RSS (VmRSS) of each node of a 3-node cluster after 30 s idle;
- time for a 5-node cluster to reach 5 voters after the last join returned.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from cluster_util import Cluster, log, wait_for  # noqa: E402


def pct(xs, p):
    xs = sorted(xs)
    return xs[max(0, min(len(xs) - 1, int(round(p / 100.0 * len(xs) + 0.5)) - 1))]


def vmrss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def failover(kills):
    out = []
    with Cluster("measure-fo") as cl:
        cl.form(3)
        for i in range(kills):
            leader = cl.wait_leader()
            survivor = [n for n in cl.nodes if n is not leader][0]
            cl.put_ok(survivor, "m", "warm", b"x")
            leader.kill9()
            t0 = time.monotonic()
            j = 0
            while True:
                j += 1
                try:
                    st, _, _ = survivor.put("m", "k%d-%d" % (i, j), b"v", timeout=5)
                except OSError:
                    st = -1
                if st == 200:
                    break
                time.sleep(0.01)
            dt = time.monotonic() - t0
            out.append(dt)
            log("kill %d of %s: next acknowledged write through %s after %.3f s"
                % (i + 1, leader.name, survivor.name, dt))
            leader.start(flags=False)
            wait_for(lambda: leader.kv_get("m", "k%d-%d" % (i, j), stale=True)[0] == 200,
                     "the restarted node to catch up")
            cl.wait_voters(3)
    return out


def idle_rss():
    with Cluster("measure-rss") as cl:
        cl.form(3)
        cl.put_ok(cl.nodes[0], "m", "k", b"v")
        time.sleep(30)  # the measurement is "after 30 s idle"
        return {n.name: vmrss_kib(n.proc.pid) for n in cl.nodes}


def five_voters():
    with Cluster("measure-5") as cl:
        cl.bootstrap("n1")
        for i in range(2, 6):
            cl.add("n%d" % i)
        t0 = time.monotonic()
        cl.wait_voters(5, timeout=300)
        return time.monotonic() - t0


def main():
    kills = int(os.environ.get("KILLS", "10"))
    fo = failover(kills)
    rss = idle_rss()
    t5 = five_voters()
    print("failover over %d kills: p50 %.3f s, p99 %.3f s, min %.3f s, max %.3f s; all: %s"
          % (len(fo), pct(fo, 50), pct(fo, 99), min(fo), max(fo), ["%.3f" % x for x in fo]))
    print("idle RSS after 30 s (KiB): %s" % rss)
    print("5 voters %.1f s after the last join returned" % t5)


if __name__ == "__main__":
    main()
