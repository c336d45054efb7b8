#!/usr/bin/env python3
"""Cluster benchmark: clusterd against etcd 3.4, 3 members each on loopback,
measured in one run with the same clients (bench/cluster/README.md).

Modes:
  all       writes (64 clients), latency1 (1 client), rss_idle, rss_loaded,
            then failover + inflight (KILLS kills of the leader per system).
  spurious  clusterd (and etcd, unless --no-peer) idle for --idle-s seconds
            while --busy busy-loop processes saturate the cores; elections and
            leader changes counted from /metrics before and after.

Every process is started here, kept by PID and stopped by PID. Every wait is
bounded. Exits 1 when a system cannot run; a figure that was not measured is
never printed.
"""
import argparse
import asyncio
import base64
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

# Free loopback ports (TCP and UDP): the gossip harness's helper.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "gossip"))
from real_cluster import free_ports, stop_procs  # noqa: E402


class Fail(Exception):
    pass


def log(msg):
    print(f"# [{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def http(method, url, body=None, headers=None, timeout=3.0):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def wait_for(what, cond, timeout_s, every_s=0.2):
    end = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < end:
        try:
            if cond():
                return
        except (OSError, urllib.error.URLError, ValueError, KeyError, TypeError) as e:
            last = e
        time.sleep(every_s)
    raise Fail(f"{what}: not within {timeout_s:.0f} s" + (f" (last error: {last})" if last else ""))


def rss_kib(pid, field="VmRSS:"):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_jiffies(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            w = f.read().rsplit(")", 1)[1].split()
        return int(w[11]) + int(w[12])
    except OSError:
        return 0


def b64(s):
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


class System:
    """Three members on loopback; subclasses know how to start and ask them."""
    names = ["n1", "n2", "n3"]

    def __init__(self, a, label):
        self.a = a
        self.label = label
        self.dir = tempfile.mkdtemp(prefix=f"clusterbench-{label}-")
        self.procs = {}

    def alive(self, i):
        p = self.procs.get(i)
        return p is not None and p.poll() is None

    def pid(self, i):
        return self.procs[i].pid

    def spawn(self, i, cmd):
        logf = open(os.path.join(self.dir, f"{self.names[i]}.log"), "ab")
        self.procs[i] = subprocess.Popen(cmd, stdout=logf, stderr=logf, stdin=subprocess.DEVNULL)
        logf.close()

    def kill9(self, i):
        self.procs[i].send_signal(signal.SIGKILL)
        self.procs[i].wait()

    def stop(self):
        stop_procs(list(self.procs.values()))
        if self.a.keep:
            log(f"kept {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def metrics(self, i):
        """/metrics of member i as {sample with labels: value}."""
        st, body = http("GET", self.url(i, "/metrics?scope=node"))
        out = {}
        for line in body.decode().splitlines():
            if line and not line.startswith("#"):
                k, _, v = line.rpartition(" ")
                try:
                    out[k] = float(v)
                except ValueError:
                    pass
        return out

    def leader(self):
        """Index of the leader as the first member that answers knows it, or None."""
        for i in range(3):
            if not self.alive(i):
                continue
            try:
                li = self.leader_seen_by(i)
            except (OSError, urllib.error.URLError, ValueError):
                continue
            if li is not None:
                return li
        return None

    def rss_mib(self):
        return [rss_kib(self.pid(i)) / 1024 for i in range(3)]


class Clusterd(System):
    def __init__(self, a):
        super().__init__(a, "clusterd")
        ports = free_ports(6)
        self.cport, self.hport = ports[:3], ports[3:]
        self.token = None

    def addr(self, i):
        return f"127.0.0.1:{self.hport[i]}"

    def url(self, i, path):
        return f"http://{self.addr(i)}{path}"

    def ddir(self, i):
        return os.path.join(self.dir, self.names[i])

    def run_member(self, i, first):
        cmd = [os.path.join(self.a.bin, "clusterd"), "run", "--data-dir", self.ddir(i)]
        if self.a.callgrind and i == 0:
            cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={self.a.callgrind}"] + cmd
        if first:
            cmd += ["--name", self.names[i], "--bind", f"127.0.0.1:{self.cport[i]}",
                    "--http", f"127.0.0.1:{self.hport[i]}"]
        self.spawn(i, cmd)
        wait_for(f"clusterd {self.names[i]} answering", lambda: self.alive(i) and
                 http("GET", self.url(i, "/api/v1/status"))[0] == 200, 120)

    def start(self):
        p = subprocess.run([os.path.join(self.a.bin, "clusterd"), "init", "--data-dir", self.ddir(0),
                            "--name", "n1", "--bind", f"127.0.0.1:{self.cport[0]}",
                            "--http", f"127.0.0.1:{self.hport[0]}", "--json"],
                           capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            raise Fail(f"clusterd init failed: {(p.stderr or p.stdout).strip()[:300]}")
        j = json.loads(p.stdout)
        self.token, join_token = j["admin_token"], j["join_token"]
        for i in range(3):
            self.run_member(i, i > 0)
        for i in (1, 2):
            p = subprocess.run([os.path.join(self.a.bin, "clusterctl"), "--node", self.url(i, ""),
                                "join", f"127.0.0.1:{self.cport[0]}", "--token", join_token],
                               capture_output=True, text=True, timeout=120)
            if p.returncode != 0:
                raise Fail(f"clusterctl join {self.names[i]}: {(p.stderr or p.stdout).strip()[:300]}")
        wait_for("clusterd: 3 voters and a leader", self.formed, 90, 0.5)

    def raft(self, i):
        st, body = http("GET", self.url(i, "/api/v1/cluster/raft"),
                        headers={"Authorization": f"Bearer {self.token}"}, timeout=2)
        return json.loads(body) if st == 200 else None

    def formed(self):
        r = self.raft(0)
        return r and r["leader"] and sum(s["suffrage"] == "voter" for s in r["servers"]) == 3

    def leader_seen_by(self, i):
        r = self.raft(i)
        return self.names.index(r["leader"]["name"]) if r and r["leader"] else None

    def caught_up(self):
        li = self.leader()
        if li is None or not all(self.alive(i) for i in range(3)):
            return False
        r = self.raft(li)
        m = {s["match_index"] for s in r["servers"]}
        leaders = set()
        for i in range(3):
            ri = self.raft(i)
            leaders.add(ri["leader"]["name"] if ri and ri["leader"] else None)
        return len(m) == 1 and len(leaders) == 1 and None not in leaders

    def restart(self, i):
        self.run_member(i, False)

    def put_request(self, key, value):
        return ("PUT", f"/api/v1/kv/bench/{key}", value.encode(),
                {"Authorization": f"Bearer {self.token}"})

    def kvload_args(self, i):
        return ["--kind", "clusterd", "--target", self.addr(i), "--token", self.token]


class Etcd(System):
    def __init__(self, a):
        super().__init__(a, "etcd")
        ports = free_ports(6)
        self.cport, self.pport = ports[:3], ports[3:]
        self.ids = {}

    def addr(self, i):
        return f"127.0.0.1:{self.cport[i]}"

    def url(self, i, path):
        return f"http://{self.addr(i)}{path}"

    def run_member(self, i):
        ic = ",".join(f"{n}=http://127.0.0.1:{self.pport[k]}" for k, n in enumerate(self.names))
        self.spawn(i, [self.a.etcd, "--name", self.names[i],
                       "--data-dir", os.path.join(self.dir, self.names[i]),
                       "--listen-client-urls", self.url(i, ""),
                       "--advertise-client-urls", self.url(i, ""),
                       "--listen-peer-urls", f"http://127.0.0.1:{self.pport[i]}",
                       "--initial-advertise-peer-urls", f"http://127.0.0.1:{self.pport[i]}",
                       "--initial-cluster", ic, "--initial-cluster-token", os.path.basename(self.dir),
                       "--initial-cluster-state", "new", "--logger", "zap", "--log-outputs", "stderr"])

    def status(self, i):
        st, body = http("POST", self.url(i, "/v3/maintenance/status"), b"{}", timeout=2)
        return json.loads(body) if st == 200 else None

    def start(self):
        for i in range(3):
            self.run_member(i)
        wait_for("etcd: 3 members and a leader", self.formed, 60, 0.3)

    def formed(self):
        for i in range(3):
            s = self.status(i)
            if not s or not s.get("leader"):
                return False
            self.ids[s["header"]["member_id"]] = i
        return len(self.ids) == 3

    def leader_seen_by(self, i):
        s = self.status(i)
        return self.ids[s["leader"]] if s and s.get("leader") in self.ids else None

    def caught_up(self):
        if not all(self.alive(i) for i in range(3)):
            return False
        sts = [self.status(i) for i in range(3)]
        return (all(sts) and len({s.get("raftIndex") for s in sts}) == 1
                and len({s.get("leader") for s in sts}) == 1)

    def restart(self, i):
        self.run_member(i)
        wait_for(f"etcd {self.names[i]} answering", lambda: self.alive(i) and self.status(i), 30)

    def put_request(self, key, value):
        body = json.dumps({"key": b64(key), "value": b64(value)}).encode()
        return ("POST", "/v3/kv/put", body, {"Content-Type": "application/json"})

    def kvload_args(self, i):
        return ["--kind", "etcd", "--target", self.addr(i)]


def kvload(a, sysm, i, conns, secs, tag):
    cmd = [a.kvload, *sysm.kvload_args(i), "--conns", str(conns), "--seconds", str(secs),
           "--warmup", str(a.warmup), "--tag", tag]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=secs + a.warmup + 60)
    line = [x for x in p.stdout.splitlines() if x.startswith("RESULT")]
    if p.returncode != 0 or not line:
        raise Fail(f"kvload against {sysm.label}: {p.stderr.strip()[:300] or p.stdout.strip()[:300]}")
    r = {}
    for w in line[0].split()[1:]:
        k, _, v = w.partition("=")
        r[k] = v
    return r


def sampler(sysm, out, stop):
    """Peak RSS per member, every 0.25 s until stop is set (bounded by the caller)."""
    while not stop.is_set():
        for i, m in enumerate(sysm.rss_mib()):
            out[i] = max(out[i], m)
        stop.wait(0.25)


def cpu_pct(sysm, fn):
    j0 = [cpu_jiffies(sysm.pid(i)) for i in range(3)]
    t0 = time.monotonic()
    res = fn()
    el = time.monotonic() - t0
    hz = os.sysconf("SC_CLK_TCK")
    return res, [round(100 * (cpu_jiffies(sysm.pid(i)) - j0[i]) / hz / el) for i in range(3)]


def steady_round(a, cls, rep, res):
    """One fresh cluster: idle RSS, 1-client latency, 64-client writes with RSS peak."""
    s = cls(a)
    try:
        t0 = time.monotonic()
        s.start()
        log(f"{s.label} rep {rep}: formed in {time.monotonic() - t0:.1f} s; load {loadavg()}")
        time.sleep(a.idle_s)
        idle = []
        for _ in range(5):
            idle.append(sum(s.rss_mib()) / 3)
            time.sleep(0.2)
        res.setdefault("rss_idle", []).append(statistics.mean(idle))
        res.setdefault("rss_idle_anon", []).append(
            statistics.mean(rss_kib(s.pid(i), "RssAnon:") / 1024 for i in range(3)))
        li = s.leader()
        r1 = kvload(a, s, li, 1, a.lat_s, f"l{rep}")
        res.setdefault("latency1", []).append(float(r1["p50_ms"]))
        res.setdefault("latency1_p99", []).append(float(r1["p99_ms"]))
        peak = [0.0, 0.0, 0.0]
        stop = threading.Event()
        th = threading.Thread(target=sampler, args=(s, peak, stop), daemon=True)
        th.start()
        try:
            r64, cpu = cpu_pct(s, lambda: kvload(a, s, li, 64, a.write_s, f"w{rep}"))
        finally:
            stop.set()
            th.join(5)
        res.setdefault("writes", []).append(float(r64["rps"]))
        res.setdefault("writes_p50", []).append(float(r64["p50_ms"]))
        res.setdefault("writes_p99", []).append(float(r64["p99_ms"]))
        res.setdefault("rss_loaded", []).append(sum(peak) / 3)
        log(f"{s.label} rep {rep}: idle_rss={res['rss_idle'][-1]:.1f} MiB lat1 p50={r1['p50_ms']} "
            f"p99={r1['p99_ms']} ms; 64c {r64['rps']} w/s p50={r64['p50_ms']} p99={r64['p99_ms']} "
            f"err={r64['err']} cpu%={cpu} peak_rss={[round(x, 1) for x in peak]} load {loadavg()}")
    finally:
        s.stop()


async def one_put(host, port, req, timeout):
    method, path, body, headers = req
    hdr = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    raw = (f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{hdr}"
           f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body
    r, w = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    try:
        w.write(raw)
        await w.drain()
        data = await asyncio.wait_for(r.read(), timeout)
    finally:
        w.close()
    head = data.split(b"\r\n", 1)[0]
    return int(head.split()[1]) if head.startswith(b"HTTP/") else -1


async def failover_once(a, s, kill_i, tag):
    """Open-loop writes every --interval-ms to the survivors (a new connection
    each, so one hung write does not hold the next); kill -9 of kill_i after
    --pre-s; writes go on for --post-s. Returns (failover_ms, ok, n) where n is
    the writes sent during the outage and ok those that got 200."""
    surv = [i for i in range(3) if i != kill_i]
    recs = []
    t_kill = None
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    n_total = int((a.pre_s + a.post_s) * 1000 / a.interval_ms)

    async def go(seq, i):
        host, port = s.addr(i).split(":")
        rec = {"send": loop.time()}
        try:
            rec["status"] = await one_put(host, int(port), s.put_request(f"{tag}-k{seq:06d}", "v" * 64),
                                          a.write_timeout_s)
        except (OSError, asyncio.TimeoutError, ValueError, IndexError):
            rec["status"] = -1
        rec["ack"] = loop.time()
        recs.append(rec)

    tasks = []
    for seq in range(n_total):
        due = t0 + seq * a.interval_ms / 1000
        if t_kill is None and due >= t0 + a.pre_s:
            s.procs[kill_i].send_signal(signal.SIGKILL)
            t_kill = loop.time()
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(go(seq, surv[seq % 2])))
    await asyncio.wait(tasks, timeout=a.write_timeout_s + 5)
    for t in tasks:
        t.cancel()
    s.procs[kill_i].wait()
    after = [r for r in recs if r["send"] >= t_kill]
    ok_after = [r for r in after if r["status"] == 200]
    if not ok_after:
        return None, 0, len(after)
    t_first = min(r["ack"] for r in ok_after)
    outage = [r for r in after if r["send"] < t_first]
    return (t_first - t_kill) * 1000, sum(r["status"] == 200 for r in outage), len(outage)


def failover_series(a, cls, res):
    s = cls(a)
    try:
        s.start()
        li = s.leader()
        kvload(a, s, li, 4, 2, "warm")
        for k in range(a.kills):
            wait_for(f"{s.label}: members caught up before kill {k + 1}", s.caught_up, 60, 0.3)
            time.sleep(a.settle_s)
            li = s.leader()
            if li is None:
                raise Fail(f"{s.label}: no leader before kill {k + 1}")
            ms, ok, n = asyncio.run(failover_once(a, s, li, f"f{k}"))
            if ms is None:
                raise Fail(f"{s.label}: no write acknowledged within {a.post_s} s of kill {k + 1}")
            res.setdefault("failover", []).append(ms)
            res.setdefault("inflight_ok", []).append(ok)
            res.setdefault("inflight_n", []).append(n)
            log(f"{s.label} kill {k + 1}/{a.kills}: {s.names[li]} -> next ack {ms:.0f} ms; "
                f"outage writes ok {ok}/{n}; load {loadavg()}")
            s.restart(li)
    finally:
        s.stop()


def med_spread(xs, fmt="{:.0f}"):
    return fmt.format(statistics.median(xs)), f"{fmt.format(min(xs))}-{fmt.format(max(xs))}"


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def report(a, C, E):
    def line(name, key, unit, fmt):
        c, cs = med_spread(C[key], fmt)
        e, es = med_spread(E[key], fmt)
        ratio = float(c) / float(e) if float(e) else float("nan")
        print(f"bench {name}: clusterd={c} etcd={e} ratio={ratio:.2f} {unit} "
              f"(median of {len(C[key])}/{len(E[key])}; spread clusterd {cs}, etcd {es})", flush=True)
    if "writes" in C:
        line("writes", "writes", "writes/s", "{:.0f}")
        print(f"# 64-client latency p50/p99 ms: clusterd {statistics.median(C['writes_p50']):.1f}/"
              f"{statistics.median(C['writes_p99']):.1f} etcd {statistics.median(E['writes_p50']):.1f}/"
              f"{statistics.median(E['writes_p99']):.1f}")
        line("latency1", "latency1", "ms", "{:.2f}")
    if "failover" in C:
        c, cs = med_spread(C["failover"])
        e, es = med_spread(E["failover"])
        print(f"bench failover: clusterd={c} etcd={e} ratio={float(c) / float(e):.2f} ms "
              f"(p50 of {len(C['failover'])}/{len(E['failover'])} kills; clusterd p99={pct(C['failover'], 99):.0f} "
              f"spread {cs}; etcd p99={pct(E['failover'], 99):.0f} spread {es})", flush=True)
        print(f"bench inflight: clusterd={sum(C['inflight_ok'])}/{sum(C['inflight_n'])} "
              f"etcd={sum(E['inflight_ok'])}/{sum(E['inflight_n'])} (writes sent during the outages "
              f"that got 200, over all kills)", flush=True)
    if "rss_idle" in C:
        line("rss_idle", "rss_idle", "MiB", "{:.1f}")
        line("rss_loaded", "rss_loaded", "MiB", "{:.1f}")
        print(f"# idle RssAnon (private heap, stacks; the rest of RSS is mapped file pages, mostly "
              f"shared libraries): clusterd {statistics.median(C['rss_idle_anon']):.1f} MiB, "
              f"etcd {statistics.median(E['rss_idle_anon']):.1f} MiB", flush=True)


def thread_cpu(pid):
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                head, _, rest = f.read().rpartition(")")
            w = rest.split()
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                run_ns, wait_ns, _ = (int(x) for x in f.read().split())
            out[tid] = (head.split("(", 1)[1], int(w[11]) + int(w[12]), run_ns, wait_ns)
        except OSError:
            pass
    return out


def state_sampler(pid, tid, counts, stop):
    """The leader's loop thread: its scheduler state sampled every 10 ms."""
    while not stop.is_set():
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                st = f.read().rpartition(")")[2].split()[0]
            counts[st] = counts.get(st, 0) + 1
        except OSError:
            pass
        stop.wait(0.01)


def profile(a):
    """Where the leader's time goes at 64 clients: per-thread CPU, the loop
    thread's scheduler states, and the Raft/storage counters (fsyncs per
    write). With --callgrind FILE, n1 runs under valgrind's callgrind."""
    s = Clusterd(a)
    try:
        s.start()
        wait_for("clusterd: caught up", s.caught_up, 120, 0.5)
        li = s.leader()
        pid = s.pid(li)
        log(f"leader {s.names[li]} pid {pid}; load {loadavg()}")
        m0, c0, t0 = s.metrics(li), thread_cpu(pid), time.monotonic()
        counts, stop = {}, threading.Event()
        th = threading.Thread(target=state_sampler, args=(pid, str(pid), counts, stop), daemon=True)
        th.start()
        r = kvload(a, s, li, 64, a.write_s, "p")
        stop.set()
        th.join(5)
        m1, c1, el = s.metrics(li), thread_cpu(pid), time.monotonic() - t0
        print(f"# leader memory after the load: VmRSS {rss_kib(pid) / 1024:.1f} MiB, RssAnon "
              f"{rss_kib(pid, 'RssAnon:') / 1024:.1f} MiB, RssFile {rss_kib(pid, 'RssFile:') / 1024:.1f} MiB")
        hz = os.sysconf("SC_CLK_TCK")
        print(f"# profile: {r['rps']} writes/s p50={r['p50_ms']} ms at 64 clients; load {loadavg()}")
        for tid, (name, j, run_ns, wait_ns) in sorted(c1.items()):
            b = c0.get(tid, (name, 0, 0, 0))
            print(f"#   thread {tid} {name}: {100 * (j - b[1]) / hz / el:.0f}% of a core; on cpu "
                  f"{100 * (run_ns - b[2]) / 1e9 / el:.0f}% of the time, runnable but waiting for a cpu "
                  f"{100 * (wait_ns - b[3]) / 1e9 / el:.0f}%")
        tot = sum(counts.values()) or 1
        print("#   loop thread states: " + " ".join(f"{k}={100 * v / tot:.0f}%" for k, v in sorted(counts.items())))
        def d(k):
            return m1.get(k, 0) - m0.get(k, 0)
        props = d("clusterd_raft_proposals_total")
        appends = d("clusterd_raft_append_seconds_count")
        asum = d("clusterd_raft_append_seconds_sum")
        print(f"#   proposals {props:.0f}; append_seconds: {appends:.0f} entries, mean {1000 * asum / max(appends, 1):.2f} ms "
              f"from an entry's write to its fsync; frames sent {d('clusterd_transport_frames_sent_total'):.0f}, "
              f"bytes sent {d('clusterd_transport_bytes_sent_total'):.0f}")
    finally:
        s.stop()


def spurious(a, cls):
    s = cls(a)
    busy = []
    try:
        s.start()
        wait_for(f"{s.label}: caught up", s.caught_up, 60, 0.3)
        time.sleep(a.settle_s)
        keys = (["clusterd_raft_elections_total", "clusterd_raft_leader_changes_total", "clusterd_raft_term"]
                if cls is Clusterd else ["etcd_server_leader_changes_seen_total"])
        before = [s.metrics(i) for i in range(3)]
        for _ in range(a.busy):
            busy.append(subprocess.Popen(["nice", "-n", "0", "sh", "-c", "while :; do :; done"]))
        log(f"{s.label}: {a.busy} busy loops for {a.idle_spurious_s} s; load {loadavg()}")
        time.sleep(a.idle_spurious_s)
        la = loadavg()
        after = [s.metrics(i) for i in range(3)]
        alive = all(s.alive(i) for i in range(3))
        parts = []
        for k in keys:
            d = sum(after[i].get(k, 0) - before[i].get(k, 0) for i in range(3))
            parts.append(f"{k.replace('clusterd_raft_', '').replace('etcd_server_', '')}={d:.0f}")
        print(f"bench spurious_{s.label}: {' '.join(parts)} over {a.idle_spurious_s} s idle, "
              f"3 members, {a.busy} busy loops (load average at the end {la}; members alive {alive})",
              flush=True)
    finally:
        for p in busy:
            p.kill()
            p.wait()
        s.stop()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["all", "steady", "failover", "spurious", "profile"])
    p.add_argument("--bin", required=True)
    p.add_argument("--kvload", required=True)
    p.add_argument("--etcd", default="/usr/bin/etcd")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--kills", type=int, default=10)
    p.add_argument("--idle-s", type=float, default=8)
    p.add_argument("--lat-s", type=float, default=5)
    p.add_argument("--write-s", type=float, default=10)
    p.add_argument("--warmup", type=float, default=1)
    p.add_argument("--interval-ms", type=float, default=10)
    p.add_argument("--pre-s", type=float, default=1.0)
    p.add_argument("--post-s", type=float, default=5.0)
    p.add_argument("--write-timeout-s", type=float, default=10.0)
    p.add_argument("--settle-s", type=float, default=1.0)
    p.add_argument("--busy", type=int, default=4)
    p.add_argument("--idle-spurious-s", type=float, default=120)
    p.add_argument("--no-peer", action="store_true")
    p.add_argument("--keep", action="store_true")
    p.add_argument("--callgrind", default=None, help="profile mode: run n1 under callgrind, output here")
    a = p.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    print(f"# load average at start: {loadavg()} (2 cores shared with other work)", flush=True)
    C, E = {}, {}
    try:
        if a.mode == "profile":
            profile(a)
            return 0
        if a.mode == "spurious":
            spurious(a, Clusterd)
            if not a.no_peer:
                spurious(a, Etcd)
            return 0
        if a.mode in ("all", "steady"):
            for r in range(1, a.reps + 1):  # interleaved, so both see the same weather
                steady_round(a, Clusterd, r, C)
                steady_round(a, Etcd, r, E)
        if a.mode in ("all", "failover"):
            failover_series(a, Clusterd, C)
            failover_series(a, Etcd, E)
    except (Fail, OSError, subprocess.TimeoutExpired, json.JSONDecodeError) as e:
        print(f"bench cluster: FAILED: {e}", flush=True)
        return 1
    report(a, C, E)
    print(f"# load average at end: {loadavg()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
