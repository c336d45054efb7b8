"""Helpers for the metrics tests and the metrics benchmark: a cluster whose
nodes run stand-in Factorio instances, and a real Prometheus server on
loopback (Debian's `prometheus`, installed by `scripts/setup --test`),
started with a config the caller writes and stopped by its PID."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cluster"))
from cluster_util import (BUILD, Failed, free_port, log, wait_for)  # noqa: E402

STANDIN = os.path.abspath(os.path.join(BUILD, "factorio-standin"))


def free_port_block(n):
    """The first of n consecutive loopback ports that are free now."""
    import random
    import socket
    for _ in range(200):
        base = random.randrange(20000, 60000 - n)
        socks = []
        try:
            for p in range(base, base + n):
                s = socket.socket()
                s.bind(("127.0.0.1", p))
                socks.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise Failed("no block of %d free ports" % n)


def configure(node, ports, extra=None):
    """Writes the node's clusterd.json before its first start: the stand-in
    as its Factorio install, `ports` instance ports of its own, and the
    keys of `extra`."""
    os.makedirs(node.dir, exist_ok=True)
    base = free_port_block(ports)
    cfg = {"node_name": node.name, "bind": node.bind, "http": node.http,
           "factorio_dir": STANDIN,
           "instance_ports": "%d-%d" % (base, base + ports - 1)}
    cfg.update(extra or {})
    with open(os.path.join(node.dir, "clusterd.json"), "w") as f:
        json.dump(cfg, f)


def form_with_standin(cl, count, ports=20, extra=None):
    """A cluster of count nodes (n1..nN), each with the stand-in install
    (and extra[name]'s keys in its config); waits for min(count, 3..5)
    voters as Cluster.form does."""
    extra = extra or {}
    n1 = cl.node("n1")
    configure(n1, ports, extra.get("n1"))
    j = n1.init()
    cl.admin_token, cl.join_token = j["admin_token"], j["join_token"]
    n1.start(flags=False)
    wait_for(lambda: (n1.raft().get("leader") or {}).get("name") == "n1", "n1 to lead")
    for i in range(2, count + 1):
        n = cl.node("n%d" % i)
        configure(n, ports, extra.get(n.name))
        n.start()
        cl.join(n, n1)
    cl.wait_voters(5 if count >= 5 else min(count, 3))
    return cl.nodes


def instance_status(node, name):
    st, _, body = node.get("/api/v1/instances/" + name)
    return json.loads(body).get("status") if st == 200 else None


def start_instances(cl, via, placement):
    """Creates, assigns and starts the instances {name: node name}; waits
    until every one runs."""
    for name, where in placement.items():
        for args in (("instance", "create", name, where), ("instance", "start", name)):
            r = via.ctl(*args)
            if r.returncode != 0:
                raise Failed("%s: %s%s" % (" ".join(args), r.stdout, r.stderr))
    for name in placement:
        wait_for(lambda: instance_status(via, name) == "running", "%s to run" % name)


class Prometheus:
    """A Prometheus server on a free loopback port, scraping `targets`
    every second, with a temporary storage directory."""

    def __init__(self, tmp, targets, honor_labels=True):
        self.dir = tempfile.mkdtemp(prefix="prom.", dir=tmp)
        self.proc = None
        self.port = None
        cfg = os.path.join(self.dir, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n"
                    "scrape_configs:\n  - job_name: clusterd\n"
                    "    honor_labels: %s\n    static_configs:\n"
                    "      - targets: [%s]\n"
                    % ("true" if honor_labels else "false",
                       ", ".join("'%s'" % t for t in targets)))
        self.cfg = cfg

    def start(self):
        exe = shutil.which("prometheus")
        if exe is None:
            raise Failed("prometheus is not installed (scripts/setup --test installs it)")
        # Prometheus cannot report a port it chose: pick one, and should
        # another process take it first, try another.
        for attempt in range(5):
            self.port = free_port()
            self.log = open(os.path.join(self.dir, "prometheus.log"), "ab")
            self.proc = subprocess.Popen(
                [exe, "--config.file=" + self.cfg,
                 "--storage.tsdb.path=" + os.path.join(self.dir, "tsdb"),
                 "--web.listen-address=127.0.0.1:%d" % self.port],
                stdout=self.log, stderr=self.log)
            end = time.monotonic() + 60
            while time.monotonic() < end and self.proc.poll() is None:
                try:
                    with urllib.request.urlopen(self.url("/-/ready"), timeout=2) as r:
                        if r.status == 200:
                            return self
                except OSError:
                    pass
                time.sleep(0.1)
            self.stop()
            log("prometheus did not come up on port %d (attempt %d)" % (self.port, attempt + 1))
        raise Failed("prometheus does not start")

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def api(self, path, **params):
        q = urllib.parse.urlencode(params)
        with urllib.request.urlopen(self.url(path + ("?" + q if q else "")), timeout=10) as r:
            j = json.loads(r.read())
        if j.get("status") != "success":
            raise ValueError("prometheus %s: %r" % (path, j))
        return j["data"]

    def query(self, promql):
        """An instant query: [(labels dict, float value)]."""
        return [(r["metric"], float(r["value"][1]))
                for r in self.api("/api/v1/query", query=promql)["result"]]

    def targets(self):
        return self.api("/api/v1/targets")["activeTargets"]

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
