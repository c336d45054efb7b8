#!/usr/bin/env python3
"""Benchmark of the cluster-wide /metrics (issue 15), real processes on
loopback: NODES clusterd nodes (default 5), INSTANCES stand-in Factorio
instances on each (default 10).

  1. scrape: once every node's and every instance's series are in n1's
     answer, SCRAPES scrapes of n1's /metrics, one a second (as
     Prometheus would), each timed from request to the last body byte;
     bytes and samples per answer. For comparison, n1's own figures
     (/metrics?scope=node).
  2. gossip: bytes of gossip (clusterd_gossip_sent_bytes_total, UDP +
     TCP) per node per second over WINDOW seconds while n1 is scraped
     every second, with the cluster-wide metrics on; then the same
     cluster with "cluster_metrics": "off" in every node's clusterd.json
     (restarted). Also the pull traffic the scraped node caused
     (clusterd_metrics_pull_bytes_total on n1, served bytes on the
     others): it travels on the transport's RPC channel, not in gossip.

    CLUSTERD_BUILD=build python3 bench/metrics/scrape.py
    NODES=5 INSTANCES=10 SCRAPES=30 WINDOW=60 ...

Output: `bench metrics_<name>: <value> <unit> (...)` lines.
"""
import json
import os
import statistics
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "e2e", "metrics"))
from metrics_util import form_with_standin, instance_status, start_instances  # noqa: E402
from cluster_util import Cluster, log, metric, parse_metrics, wait_for  # noqa: E402

NODES = int(os.environ.get("NODES", "5"))
INSTANCES = int(os.environ.get("INSTANCES", "10"))
SCRAPES = int(os.environ.get("SCRAPES", "30"))
WINDOW = float(os.environ.get("WINDOW", "60"))


def fetch(node, path):
    t0 = time.perf_counter()
    with urllib.request.urlopen("http://%s%s" % (node.http, path), timeout=30) as r:
        body = r.read()
    return time.perf_counter() - t0, body


def samples(text):
    return sum(1 for line in text.splitlines() if line and line[0] != "#")


def complete(n1, want_instances):
    m = parse_metrics(fetch(n1, "/metrics")[1].decode())
    nodes = {dict(ls).get("node") for (name, ls) in m if name == "process_open_fds"}
    ticks = [v for (name, ls), v in m.items() if name == "clusterd_instance_game_tick"]
    return len(nodes) == NODES and len(ticks) == want_instances


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round((len(v) - 1) * p)))]


def scrape_figures(n1):
    times, sizes, counts = [], [], []
    for _ in range(SCRAPES):
        t, body = fetch(n1, "/metrics")
        times.append(t * 1000)
        sizes.append(len(body))
        counts.append(samples(body.decode()))
        time.sleep(max(0.0, 1.0 - t))
    own_t, own = [], 0
    for _ in range(10):
        t, body = fetch(n1, "/metrics?scope=node")
        own_t.append(t * 1000)
        own = len(body)
    print("bench metrics_scrape_time: p50=%.2f p99=%.2f max=%.2f ms "
          "(n1's /metrics, %d nodes x %d instances, %d scrapes 1 s apart; own figures "
          "only (?scope=node): p50=%.2f ms)"
          % (pct(times, 0.5), pct(times, 0.99), max(times), NODES, INSTANCES, SCRAPES,
             pct(own_t, 0.5)))
    print("bench metrics_scrape_bytes: %d bytes (%d samples; own figures only: %d bytes)"
          % (statistics.median(sizes), statistics.median(counts), own))


def gossip_window(cl, n1):
    """Gossip bytes per node per second over WINDOW s, and the pull bytes
    per second the scraped n1 caused, while n1 is scraped every second."""
    def snap():
        out = {}
        for n in cl.nodes:
            m = n.metrics()
            out[n.name] = (metric(m, "clusterd_gossip_sent_bytes_total"),
                           metric(m, "clusterd_metrics_pull_bytes_total"),
                           metric(m, "clusterd_metrics_served_bytes_total"))
        return out
    a, t0 = snap(), time.monotonic()
    while time.monotonic() - t0 < WINDOW:
        fetch(n1, "/metrics")
        time.sleep(1)
    b, dt = snap(), time.monotonic() - t0
    per = [(b[k][0] - a[k][0]) / dt for k in a]
    pulled = (b["n1"][1] - a["n1"][1]) / dt
    served = sum(b[k][2] - a[k][2] for k in a if k != "n1") / dt
    return statistics.mean(per), max(per), pulled, served


def set_metrics(cl, value):
    for n in cl.nodes:
        p = os.path.join(n.dir, "clusterd.json")
        with open(p) as f:
            cfg = json.load(f)
        cfg["cluster_metrics"] = value
        with open(p, "w") as f:
            json.dump(cfg, f)


def main():
    with Cluster("mbench") as cl:
        nodes = form_with_standin(cl, NODES, ports=2 * INSTANCES + 2)
        n1 = nodes[0]
        placement = {"i%d-%d" % (k, j): n.name for k, n in enumerate(nodes, 1)
                     for j in range(1, INSTANCES + 1)}
        t0 = time.monotonic()
        start_instances(cl, n1, placement)
        log("%d instances running after %.1f s" % (len(placement), time.monotonic() - t0))
        fetch(n1, "/metrics")  # the first scrape starts n1's pulls
        wait_for(lambda: complete(n1, len(placement)), "every node and instance in n1's answer")
        scrape_figures(n1)
        on_avg, on_max, pulled, served = gossip_window(cl, n1)
        # The same cluster with the cluster-wide metrics off, restarted.
        set_metrics(cl, "off")
        for n in cl.nodes:
            n.kill9()
        for n in cl.nodes:
            n.start(flags=False)
        cl.wait_voters(5 if NODES >= 5 else 3)
        for name in placement:
            wait_for(lambda: instance_status(n1, name) == "running", "%s back after restart" % name)
        off_avg, off_max, _, _ = gossip_window(cl, n1)
        print("bench metrics_gossip_bytes: on=%.1f off=%.1f B/node/s (+%.1f, +%.0f%%; max node "
              "on=%.1f off=%.1f; %d nodes, measured over %.0f s each, n1 scraped every 1 s)"
              % (on_avg, off_avg, on_avg - off_avg, 100 * (on_avg - off_avg) / off_avg,
                 on_max, off_max, NODES, WINDOW))
        print("bench metrics_pull_bytes: %.1f B/s into the scraped node, %.1f B/s served by the "
              "others (transport RPC channel, not gossip)" % (pulled, served))


if __name__ == "__main__":
    main()
