"""End to end (issue 15): a real Prometheus scrapes ONE node of a 3-node
cluster whose nodes run stand-in Factorio instances, and sees the whole
cluster.

- PromQL through Prometheus' HTTP API returns process and Raft series for
  all three nodes (label node), and status, tick, UPS and players series
  for every instance (labels instance, node); a player joining one
  instance shows in clusterd_instance_players_online.
- The game figures come from the game's module lua/metrics over IPC where
  it is installed, and from the node's RCON reading where it is not (n2's
  lua_dir holds only the framework): source="ipc" / "rcon".
- The target is healthy (up == 1, no scrape error) and the scrape passes
  promtool; every family has one HELP and one TYPE.
- kill -9 of n3: clusterd_up{node="n3"} goes 0 and n3's instance series
  leave the output; n1 and n2 stay. n3 restarted: its series return. n3
  leaves the cluster: it is gone from the output altogether, no stale
  clusterd_up for it.
- The scraped node exits 0 on SIGTERM afterwards.
(This replaces the single-node Prometheus test: everything it checked is
checked here on a node of a cluster.)
"""
import os
import shutil
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from metrics_util import (Prometheus, form_with_standin, start_instances)  # noqa: E402
from cluster_util import (BUILD, Cluster, check, log, run, wait_for)  # noqa: E402

PLACEMENT = {"alpha": "n1", "beta": "n2", "gamma": "n3", "delta": "n3"}


def series(prom, promql):
    """{(node, instance): value} of an instant query."""
    return {(m.get("node"), m.get("instance")): v for m, v in prom.query(promql)}


def nodes_of(prom, promql):
    return sorted(set(n for (n, _i) in series(prom, promql)))


def per_node(prom, promql):
    """{node: value} of a query of node-level series (Prometheus adds the
    target address as `instance` to series that have none)."""
    return {m.get("node"): v for m, v in prom.query(promql)}


def check_exposition(n1):
    text = n1.metrics_text(scope=None)
    promtool = shutil.which("promtool")
    if promtool:
        r = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=60)
        check(r.returncode == 0, "promtool accepts the cluster-wide /metrics (%s)"
              % (r.stdout + r.stderr).strip()[:300])
    helps = [line.split()[2] for line in text.splitlines() if line.startswith("# HELP ")]
    types = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")]
    check(len(helps) == len(set(helps)) and len(types) == len(set(types)),
          "one HELP and one TYPE per family (%d families)" % len(set(types)))
    check(all("node=" in line for line in text.splitlines()
              if line and not line.startswith("#")),
          "every sample carries a node label")
    log("cluster-wide /metrics of n1: %d bytes, %d samples"
        % (len(text), sum(1 for line in text.splitlines() if line and line[0] != "#")))


def main():
    with Cluster("metrics") as cl:
        # n2's saves get the framework but not lua/metrics.
        lua = os.path.join(BUILD, "share", "clusterd", "lua")
        bare = os.path.join(cl.tmp, "lua-bare")
        shutil.copytree(os.path.join(lua, "clusterd"), os.path.join(bare, "clusterd"))
        n1, n2, n3 = form_with_standin(cl, 3, extra={"n2": {"lua_dir": os.path.abspath(bare)}})
        start_instances(cl, n2, PLACEMENT)
        r = n2.ctl("instance", "send-rcon", "alpha", "/standin join alice")
        check(r.returncode == 0, "alice joins alpha (%s)" % r.stdout.strip())

        prom = Prometheus(cl.tmp, [n1.http]).start()
        try:
            everything(cl, prom, n1, n3)
        finally:
            prom.stop()
        n1.proc.send_signal(signal.SIGTERM)
        rc = n1.proc.wait(timeout=60)
        check(rc == 0, "the scraped node exits 0 on SIGTERM (exit %d)" % rc)


def everything(cl, prom, n1, n3):
    wait_for(lambda: [v for _, v in prom.query('up{job="clusterd"}')] == [1.0],
             "prometheus to scrape n1 (up == 1)")
    t = prom.targets()
    check(len(t) == 1 and t[0]["health"] == "up" and not t[0]["lastError"],
          "one target, healthy, no scrape error (%s)" % [(x["health"], x["lastError"]) for x in t])
    all3 = ["n1", "n2", "n3"]
    wait_for(lambda: nodes_of(prom, "process_resident_memory_bytes > 0") == all3,
             "RSS series of all three nodes through one target")
    check(nodes_of(prom, "clusterd_raft_term") == all3, "Raft term of all three nodes")
    check([v for _, v in prom.query("sum(clusterd_raft_leader)")] == [1.0],
          "exactly one node says it leads")
    check([v for _, v in prom.query("clusterd_up")] == [1.0] * 3, "clusterd_up is 1 for all three")
    want = {(node, name) for name, node in PLACEMENT.items()}
    wait_for(lambda: set(series(prom, "clusterd_instance_up == 1")) == want,
             "clusterd_instance_up == 1 for every instance, labelled with its node")
    wait_for(lambda: set(series(prom, 'clusterd_instance_status{status="running"}')) == want,
             "clusterd_instance_status running for every instance")
    wait_for(lambda: set(series(prom, "clusterd_instance_game_tick > 0")) == want,
             "a game tick for every instance (sampled over RCON)")
    wait_for(lambda: set(series(prom, "clusterd_instance_updates_per_second")) == want,
             "UPS for every instance")
    wait_for(lambda: series(prom, "clusterd_instance_players_online == 1") ==
             {("n1", "alpha"): 1.0}, "alice online on alpha, nobody elsewhere")
    check(set(series(prom, "clusterd_instance_crashes_total")) == want, "crash counters for all")
    srcs = {i: m.get("source") for m, _ in prom.query("clusterd_instance_figures_age_seconds")
            for i in [m.get("instance")]}
    wait_for(lambda: {m.get("instance"): m.get("source") for m, _ in
                      prom.query("clusterd_instance_figures_age_seconds")} ==
             {"alpha": "ipc", "beta": "rcon", "gamma": "ipc", "delta": "ipc"},
             "figures from lua/metrics over IPC, beta's (no module) over RCON (now %s)" % srcs)
    ups = series(prom, "clusterd_instance_updates_per_second")
    log("UPS as scraped: %s" % {k[1]: round(v, 1) for k, v in ups.items()})
    check(any(v > 0 for v in ups.values()), "some instance advances (UPS > 0)")
    check_exposition(n1)

    # kill -9 of n3: clusterd_up 0, its instance series go, n1/n2 stay.
    n3.kill9()
    wait_for(lambda: per_node(prom, "clusterd_up") == {"n1": 1.0, "n2": 1.0, "n3": 0.0},
             "clusterd_up{node=n3} to go 0")
    wait_for(lambda: nodes_of(prom, "clusterd_instance_up") == ["n1", "n2"],
             "n3's instance series to leave the output")
    check(nodes_of(prom, "process_resident_memory_bytes") == ["n1", "n2"],
          "n3's process series left too; n1 and n2 remain")
    check(sorted(i for _, i in series(prom, "clusterd_instance_up")) == ["alpha", "beta"],
          "alpha and beta remain")

    # Restarted, n3 and its instances come back.
    n3.start(flags=False)
    wait_for(lambda: per_node(prom, "clusterd_up") == {"n1": 1.0, "n2": 1.0, "n3": 1.0},
             "clusterd_up{node=n3} back to 1")
    want = {(node, name) for name, node in PLACEMENT.items()}
    wait_for(lambda: set(series(prom, "clusterd_instance_up == 1")) == want,
             "n3's instances back in the output, running")

    # n3 leaves: no series of it at all (not even clusterd_up).
    r = n3.ctl("leave", timeout=120)
    check(r.returncode == 0, "n3 leaves (%s%s)" % (r.stdout, r.stderr))
    wait_for(lambda: nodes_of(prom, "clusterd_up") == ["n1", "n2"],
             "n3 gone from clusterd_up after it left")
    wait_for(lambda: "n3" not in nodes_of(prom, '{__name__=~"clusterd_.+|process_.+"}'),
             "no series of n3 at all")


if __name__ == "__main__":
    run(main)
