#!/usr/bin/env python3
"""Gossip over real UDP: N clusterd processes on loopback.

Forms a cluster with `clusterd init` and `clusterctl join` (one process per
node, each with its own cluster port, UDP and TCP, and HTTP port, all picked
free on 127.0.0.1), waits until every node lists all N members alive, then:

  1. bytes: scrapes every node's /metrics at the start and the end of a
     quiet window and reports the gossip payload bytes sent per node per
     second (the counter family --metric, summed over its labels);
  2. detection: kill -9 of one node (never the first, as the memberlist
     peer never kills its seed) and polls every survivor's /metrics
     (clusterd_gossip_members by state) until each counts a dead member;
     reports the time to the first and to the last.

With --gnode PATH it runs bench/gossip's gnode processes instead (the
node's gossip driver alone on plain UDP and TCP, no encryption, no Raft):
the members' changes and byte counters come stamped with CLOCK_MONOTONIC on
their stdout, so no polling is involved.

Prints one JSON line on stdout; progress goes to stderr. Exits 1, with
{"error": ...} on stdout, when any step fails (for example a clusterd
without `init`). Stops every process it started, by PID, and removes its
data directories unless --keep.
"""
import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor


class Fail(Exception):
    pass


def log(msg):
    print(f"# {msg}", file=sys.stderr, flush=True)


def free_ports(n):
    """n ports free for TCP and UDP on 127.0.0.1 (held until all are
    picked, so they differ)."""
    held, ports = [], []
    while len(ports) < n:
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.bind(("127.0.0.1", 0))
        port = t.getsockname()[1]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", port))
        except OSError:
            t.close()
            u.close()
            continue
        held += [t, u]
        ports.append(port)
    for s in held:
        s.close()
    return ports


def stop_procs(procs, grace_s=10):
    """SIGTERM to each process still running, then SIGKILL to any that has
    not exited after grace_s in all."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    end = time.monotonic() + grace_s
    for p in procs:
        try:
            p.wait(timeout=max(0.1, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def http_get(url, token=None, timeout=2.0):
    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.read()


def wait_for(what, cond, timeout_s, every_s=0.1):
    end = time.monotonic() + timeout_s
    last_err = None
    while time.monotonic() < end:
        try:
            if cond():
                return
        except (OSError, urllib.error.URLError, ValueError) as e:
            last_err = e
        time.sleep(every_s)
    raise Fail(f"{what}: not within {timeout_s:.0f} s" +
               (f" (last error: {last_err})" if last_err else ""))


class Cluster:
    def __init__(self, a):
        self.a = a
        self.bin = a.bin
        self.dir = tempfile.mkdtemp(prefix="clusterd-gossip-bench-")
        self.procs = {}
        ports = free_ports(2 * a.nodes)
        self.cport = ports[: a.nodes]
        self.hport = ports[a.nodes:]
        self.token = None
        self.join_token = None
        self.join_retries = 0

    def name(self, i):
        return f"g{i}"

    def url(self, i, path):
        return f"http://127.0.0.1:{self.hport[i]}{path}"

    def start(self, i, extra):
        logf = open(os.path.join(self.dir, f"{self.name(i)}.log"), "wb")
        cmd = [os.path.join(self.bin, "clusterd"), "run", "--data-dir",
               os.path.join(self.dir, self.name(i))] + extra
        self.procs[i] = subprocess.Popen(cmd, stdout=logf, stderr=logf,
                                         stdin=subprocess.DEVNULL)
        logf.close()

    def wait_up(self, i):
        def up():
            if self.procs[i].poll() is not None:
                raise Fail(f"{self.name(i)} exited with {self.procs[i].returncode}"
                           f" (log: {self.dir}/{self.name(i)}.log)")
            http_get(self.url(i, "/api/v1/status"))
            return True
        wait_for(f"{self.name(i)} answering /api/v1/status", up, 30)

    def init_first(self):
        cmd = [os.path.join(self.bin, "clusterd"), "init", "--data-dir",
               os.path.join(self.dir, self.name(0)), "--name", self.name(0),
               "--bind", f"127.0.0.1:{self.cport[0]}",
               "--http", f"127.0.0.1:{self.hport[0]}", "--json"]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            raise Fail("`clusterd init` failed (exit %d): %s" %
                       (p.returncode, (p.stderr or p.stdout).strip()[:300]))
        try:
            j = json.loads(p.stdout)
            self.token, self.join_token = j["admin_token"], j["join_token"]
        except (ValueError, KeyError) as e:
            raise Fail(f"`clusterd init --json` printed no admin_token/join_token: {e}")
        self.start(0, [])
        self.wait_up(0)
        # The first node answers status before its replicated state (with
        # the join token) is applied; a join sent then is refused as a bad
        # token (403). Wait until it leads its one-voter cluster.
        def leads():
            j = json.loads(http_get(self.url(0, "/api/v1/cluster/raft"), self.token))
            return j.get("leader") is not None
        wait_for(f"{self.name(0)} electing itself leader", leads, 30)

    def join(self, i):
        self.start(i, ["--name", self.name(i), "--bind",
                       f"127.0.0.1:{self.cport[i]}", "--http",
                       f"127.0.0.1:{self.hport[i]}"])
        self.wait_up(i)
        cmd = [os.path.join(self.bin, "clusterctl"), "--node",
               self.url(i, ""), "join", f"127.0.0.1:{self.cport[0]}",
               "--token", self.join_token]
        # A join that timed out (503, "try again") is retried, as its
        # message asks, a few times; any other failure ends the run.
        for attempt in range(4):
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
            if p.returncode == 0 or "(HTTP 503)" not in (p.stderr + p.stdout):
                break
            self.join_retries += 1
            log(f"join of {self.name(i)} timed out (attempt {attempt + 1}); retrying")
            time.sleep(1)
        if p.returncode != 0:
            raise Fail(f"`clusterctl join` of {self.name(i)} failed (exit "
                       f"{p.returncode}): {(p.stderr or p.stdout).strip()[:300]}")

    def states(self, i):
        """Members by gossip state as node i counts them, from its /metrics
        (clusterd_gossip_members{state=...}). /metrics needs no token, so
        this also reads the nodes past RAFT_NODES_MAX, which hold no
        replicated state and refuse the token on /api/v1/cluster/members."""
        text = http_get(self.url(i, "/metrics?scope=node")).decode()
        out = {}
        for line in text.splitlines():
            if line.startswith('clusterd_gossip_members{state="'):
                st = line.split('"', 2)[1]
                out[st] = int(float(line.rsplit(" ", 1)[1]))
        if "alive" not in out:
            raise Fail(f"{self.name(i)}'s /metrics has no clusterd_gossip_members")
        return out

    def all_alive(self):
        want = self.a.nodes
        for i in range(want):
            if self.states(i).get("alive") != want:
                return False
        return True

    def gossip_bytes(self, i):
        text = http_get(self.url(i, "/metrics?scope=node")).decode()
        total, seen = 0.0, False
        for line in text.splitlines():
            if line.startswith("#"):
                continue
            name = line.split("{", 1)[0].split(" ", 1)[0]
            if name == self.a.metric:
                total += float(line.rsplit(" ", 1)[1])
                seen = True
        if not seen:
            raise Fail(f"{self.name(i)}'s /metrics has no {self.a.metric}")
        return total

    def stop(self):
        stop_procs(self.procs.values())
        if not self.a.keep:
            shutil.rmtree(self.dir, ignore_errors=True)
        else:
            log(f"kept {self.dir}")


class Gnodes:
    """N gnode processes: gossipd on plain sockets, events on stdout."""

    def __init__(self, a):
        self.a = a
        self.ports = free_ports(a.nodes)
        self.procs = {}
        self.lock = threading.Lock()
        self.status = [dict() for _ in range(a.nodes)]  # name -> (t_ms, st)
        self.bytes = [[] for _ in range(a.nodes)]       # (t_ms, total)

    def name(self, i):
        return f"g{i}"

    def reader(self, i, f):
        for line in f:
            w = line.split()
            with self.lock:
                if len(w) == 4 and w[1] == "member":
                    self.status[i][w[2]] = (int(w[0]), w[3])
                elif len(w) == 3 and w[1] == "bytes":
                    self.bytes[i].append((int(w[0]), int(w[2])))

    def start_all(self):
        for i in range(self.a.nodes):
            cmd = [self.a.gnode, "--name", self.name(i), "--port", str(self.ports[i])]
            if i > 0:
                cmd += ["--seed-port", str(self.ports[0])]
            p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True,
                                 stdin=subprocess.DEVNULL)
            self.procs[i] = p
            threading.Thread(target=self.reader, args=(i, p.stdout),
                             daemon=True).start()
            if i == 0:
                time.sleep(0.2)
            else:  # separate processes start apart anyway; keep it so
                time.sleep(random.uniform(0, 1.0 / self.a.nodes))

    def all_alive(self):
        for i, p in self.procs.items():
            if p.poll() is not None:
                raise Fail(f"{self.name(i)} exited with {p.returncode}")
        with self.lock:
            return all(sum(1 for _, st in self.status[i].values() if st == "alive")
                       == self.a.nodes - 1 for i in range(self.a.nodes))

    def rate(self, t0_ms, t1_ms):
        """Mean over nodes of bytes/s between the reports nearest t0, t1."""
        rates = []
        with self.lock:
            for i in range(self.a.nodes):
                r0 = [x for x in self.bytes[i] if x[0] >= t0_ms]
                r1 = [x for x in self.bytes[i] if x[0] <= t1_ms]
                if not r0 or not r1 or r1[-1][0] <= r0[0][0]:
                    raise Fail(f"{self.name(i)} reported no bytes in the window")
                rates.append((r1[-1][1] - r0[0][1]) * 1000.0 / (r1[-1][0] - r0[0][0]))
        return sum(rates) / len(rates)

    def stop(self):
        for p in self.procs.values():
            if p.poll() is None:
                p.kill()
            p.wait()


def run_gnodes(a, out):
    g = Gnodes(a)
    try:
        g.start_all()
        tj = time.monotonic()
        wait_for(f"every gnode listing {a.nodes - 1} alive peers", g.all_alive,
                 a.timeout, 0.1)
        out["join_conv_ms"] = round((time.monotonic() - tj) * 1000)
        time.sleep(a.settle)
        t0 = time.monotonic() * 1000
        time.sleep(a.window)
        t1 = time.monotonic() * 1000
        out["bytes_per_node_s"] = round(g.rate(t0, t1), 1)
        out["window_s"] = round((t1 - t0) / 1000, 1)
        victim = random.Random(a.seed).randrange(1, a.nodes)
        vname = g.name(victim)
        log(f"kill -9 {vname} (pid {g.procs[victim].pid})")
        t_kill = time.monotonic() * 1000
        g.procs[victim].kill()
        g.procs[victim].wait()

        def dead_times():
            with g.lock:
                return [g.status[i][vname][0] for i in range(a.nodes)
                        if i != victim and g.status[i].get(vname, (0, ""))[1] == "dead"]
        wait_for(f"every survivor seeing {vname} dead",
                 lambda: len(dead_times()) == a.nodes - 1, a.timeout, 0.05)
        t = sorted(dead_times())
        out["first_dead_ms"] = round(t[0] - t_kill)
        out["all_dead_ms"] = round(t[-1] - t_kill)
    finally:
        g.stop()


def detect(c, victim, pool):
    """Polls every survivor until each shows victim dead; returns the
    times (s after the kill) and the longest poll round."""
    survivors = [i for i in range(c.a.nodes) if i != victim]
    seen = {}
    c.procs[victim].send_signal(signal.SIGKILL)
    t_kill = time.monotonic()
    c.procs[victim].wait()
    round_max = 0.0

    # Every survivor counted all N alive and none dead just before the
    # kill (all_alive), so its first dead or left member is the victim.
    def check(i):
        try:
            st = c.states(i)
            return i, "dead" if st.get("dead", 0) + st.get("left", 0) > 0 else "alive"
        except (OSError, urllib.error.URLError, ValueError, Fail):
            return i, None

    while len(seen) < len(survivors):
        t0 = time.monotonic()
        if t0 - t_kill > c.a.timeout:
            raise Fail(f"only {len(seen)} of {len(survivors)} survivors saw "
                       f"{c.name(victim)} dead within {c.a.timeout} s")
        todo = [i for i in survivors if i not in seen]
        for i, state in pool.map(check, todo):
            if state in ("dead", "left"):
                seen[i] = time.monotonic() - t_kill
        round_max = max(round_max, time.monotonic() - t0)
        time.sleep(0.05)
    return sorted(seen.values()), round_max


def run(a, out):
    c = Cluster(a)
    try:
        t0 = time.monotonic()
        log(f"init {c.name(0)} in {c.dir}")
        c.init_first()
        for i in range(1, a.nodes):
            c.join(i)
        log(f"{a.nodes} nodes joined in {time.monotonic() - t0:.1f} s")
        out["join_retries"] = c.join_retries
        tj = time.monotonic()
        wait_for(f"every node listing {a.nodes} alive members", c.all_alive,
                 a.timeout, 0.5)
        out["join_conv_ms"] = round((time.monotonic() - tj) * 1000)
        time.sleep(a.settle)
        with ThreadPoolExecutor(max_workers=8) as pool:
            b0 = sum(pool.map(c.gossip_bytes, range(a.nodes)))
            s0 = time.monotonic()
            time.sleep(a.window)
            b1 = sum(pool.map(c.gossip_bytes, range(a.nodes)))
            el = time.monotonic() - s0
            out["bytes_per_node_s"] = round((b1 - b0) / a.nodes / el, 1)
            out["window_s"] = round(el, 1)
            victim = random.Random(a.seed).randrange(1, a.nodes)
            if not c.all_alive():
                raise Fail("not every node counted all members alive just before the kill")
            log(f"kill -9 {c.name(victim)} (pid {c.procs[victim].pid})")
            times, rmax = detect(c, victim, pool)
        out["first_dead_ms"] = round(times[0] * 1000)
        out["all_dead_ms"] = round(times[-1] * 1000)
        out["poll_round_max_ms"] = round(rmax * 1000)
    finally:
        c.stop()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bin", default=None, help="folder of clusterd and clusterctl")
    p.add_argument("--nodes", type=int, default=50)
    p.add_argument("--settle", type=float, default=5.0)
    p.add_argument("--window", type=float, default=60.0)
    p.add_argument("--timeout", type=float, default=120.0)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--metric", default="clusterd_gossip_sent_bytes_total")
    p.add_argument("--keep", action="store_true")
    p.add_argument("--gnode", default=None,
                   help="run these gossip-only processes instead of clusterd")
    a = p.parse_args()
    if a.nodes < 3:
        p.error("--nodes must be at least 3")
    if not a.bin and not a.gnode:
        p.error("--bin or --gnode is required")
    # A TERM from run.sh's trap still runs the cleanup (finally in run).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    out = {"n": a.nodes}
    if a.gnode:
        try:
            run_gnodes(a, out)
        except (Fail, OSError) as e:
            out["error"] = str(e)
            print(json.dumps(out))
            return 1
        print(json.dumps(out))
        return 0
    for b in ("clusterd", "clusterctl"):
        if not os.access(os.path.join(a.bin, b), os.X_OK):
            out["error"] = f"no executable {b} in {a.bin}; build first"
            print(json.dumps(out))
            return 1
    try:
        run(a, out)
    except (Fail, subprocess.TimeoutExpired, OSError) as e:
        out["error"] = str(e)
        print(json.dumps(out))
        return 1
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
