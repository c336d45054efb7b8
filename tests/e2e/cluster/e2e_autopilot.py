"""Autopilot with real processes (policy: node/autopilot/autopilot.h).

- A fourth node joins a 3-voter cluster as a learner. With 4 healthy
  servers the target stays 3 voters (5 only once 5 are healthy), so it
  stays a learner: observed caught up and alive for longer than the
  stabilisation time (10 s) with 3 voters throughout.
- A voter is killed with kill -9 for good. Once gossip has seen it dead
  for the threshold (30 s), the learner is promoted FIRST and the dead
  voter removed after: 3 voters again, none of them the dead one.
- The Raft configuration is polled every 200 ms for the whole test; at
  every observed step the voters include a quorum of alive processes, and
  the decisions the leader lists show the promotion before the removal.
"""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from cluster_util import Cluster, Failed, check, log, run, wait_for  # noqa: E402

STABILISATION_S = 10


class Watch(threading.Thread):
    """Polls raft status every 200 ms; records (t, voters, learners, alive
    process names at that time) and any quorum violation."""

    def __init__(self, cl):
        super().__init__(daemon=True)
        self.cl = cl
        self.stop = threading.Event()
        self.obs = []
        self.bad = []

    def run(self):
        while not self.stop.is_set():
            alive = set(n.name for n in self.cl.nodes if n.alive())
            try:
                st = self.cl.raft_any()
            except (OSError, ValueError, Exception):  # noqa: B902 - keep polling
                st = None
            if st is not None:
                voters = [s["name"] for s in st["servers"] if s["suffrage"] == "voter"]
                learners = {s["name"]: s.get("lag") for s in st["servers"]
                            if s["suffrage"] == "learner"}
                # A process is alive only if it was alive before and after
                # the call (a kill in between counts as dead: stricter).
                alive &= set(n.name for n in self.cl.nodes if n.alive())
                n_alive = sum(1 for v in voters if v in alive)
                self.obs.append((time.monotonic(), voters, learners, alive))
                if n_alive * 2 <= len(voters):
                    self.bad.append((voters, sorted(alive)))
            self.stop.wait(0.2)


def main():
    with Cluster("autopilot") as cl:
        cl.form(3)
        w = Watch(cl)
        w.start()
        try:
            n4 = cl.add("n4")
            wait_for(lambda: "n4" in w.obs[-1][2] if w.obs else False, "n4 as a learner")
            check(True, "n4 joined as a learner")

            # n4 healthy and caught up for longer than the stabilisation time,
            # still a learner with 3 voters (target 3 below 5 healthy servers).
            def settled():
                since = None
                for t, voters, learners, _ in w.obs:
                    ok = learners.get("n4") is not None and learners["n4"] <= 250 \
                        and len(voters) == 3
                    since = (since or t) if ok else None
                return since is not None and w.obs[-1][0] - since > STABILISATION_S + 3
            wait_for(settled, "n4 a caught-up learner with 3 voters for %d s" % (STABILISATION_S + 3))
            check(all("n4" not in v for _, v, _, _ in w.obs),
                  "with 4 healthy servers n4 stays a learner (target 3 voters below 5)")

            # ---- kill -9 a voter for good ----
            leader = cl.wait_leader()
            victim = [n for n in cl.nodes if n.name in w.obs[-1][1] and n is not leader][0]
            victim.kill9()
            t0 = time.monotonic()
            log("killed voter %s for good" % victim.name)

            def replaced():
                st = cl.raft_any()
                names = [s["name"] for s in st["servers"]]
                voters = cl.voters(st)
                return victim.name not in names and "n4" in voters and len(voters) == 3 and st
            st = wait_for(replaced, "%s to be replaced by n4" % victim.name, timeout=180)
            log("replaced %.1f s after the kill" % (time.monotonic() - t0))
            check(sorted(cl.voters(st)) == sorted(n.name for n in cl.alive()),
                  "3 voters again, the alive ones: %s" % cl.voters(st))
        finally:
            w.stop.set()
            w.join()
        # The order: never the dead voter removed while n4 was a learner.
        for _, voters, learners, _ in w.obs:
            if victim.name not in voters and "n4" in learners:
                raise Failed("the dead voter was removed before n4 was promoted: %s %s"
                             % (voters, learners))
        check(True, "the dead voter was removed only after n4 was promoted (%d observations)"
              % len(w.obs))
        texts = [d["text"] for d in st.get("decisions", [])]
        log("decisions: %s" % texts)
        ids = {s["name"]: s["id"] for s in st["servers"]}
        i_prom = [i for i, t in enumerate(texts) if t.startswith("promote " + ids["n4"])]
        i_rem = [i for i, t in enumerate(texts) if t.startswith("remove")]
        if i_prom and i_rem:
            check(i_prom[-1] < i_rem[-1], "the leader's decisions list the promotion before the removal")
        check(not w.bad, "a quorum of alive voters at every observed step (%d observations; bad: %s)"
              % (len(w.obs), w.bad[:3]))
        check(len(w.obs) > 100, "the watch observed the whole test (%d observations)" % len(w.obs))
        cl.put_ok(n4, "ap", "k", b"v")
        check(cl.leader().kv_get("ap", "k")[2] == b"v", "writes go on through n4 after the replacement")


if __name__ == "__main__":
    run(main)
