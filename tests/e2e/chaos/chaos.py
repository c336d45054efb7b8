#!/usr/bin/env python3
"""The chaos test: five real clusterd processes on loopback, eight clients
writing, reading and deleting a few keys through random nodes, and a
nemesis that kills -9 the leader, kills random nodes and pairs of nodes,
pauses a node with SIGSTOP, and restarts every killed node on its data
dir. Afterwards every fault is healed and the test checks that

  * the recorded history is linearizable (chaos-check: the simulator's
    Wing & Gong checker, tests/sim/raft/lin.c), and the revisions the
    reads report agree with the revisions the writes were acknowledged at;
  * every node holds the same state (after a linearizable write barrier
    that every node has applied, a local read of each key on each node,
    and the key lists with their revisions, are equal);
  * every acknowledged write is present: each key's final value is the
    acknowledged write with the highest revision, or a write whose
    outcome was unknown (it may have applied later).

The history: each operation's call and return time (monotonic, in
microseconds), what it wrote or read. A 200 is a known outcome with its
revision or value; a 404 on a read or a delete is a known read of "absent";
other 4xx and refused connections are known failures (not applied); a
503, another 5xx, a timeout or a broken connection after the request was
sent is an unknown outcome: a write may or may not have applied, at any
time after its call, and is kept as such. Written values are unique per
write (client and sequence number), so a read names the write it saw.

Environment: CLUSTERD_BUILD (the build dir; ctest sets it),
CLUSTERD_CHAOS_SECONDS (seconds of faults, default 75),
CLUSTERD_CHAOS_LEADER_KILLS (the least number of leader kills; the faults
go on past the seconds until reached, default 3), CLUSTERD_CHAOS_SEED
(the nemesis's and the clients' choices; default from the clock),
CLUSTERD_CHAOS_KEEP=1 (keep the data dirs, logs and history),
CLUSTERD_CHAOS_BUG=stale-reads (a planted bug to show the checks bite:
the clients read with ?stale=1, a local read that may lag).
Ends with one line: chaos: ops=N ok=N failed=N unknown=N leader_kills=N
linearizable=yes|no|unknown converged=yes|no failover_p50_ms=X
failover_p99_ms=Y; exits 1 unless linearizable and converged.
"""
import argparse
import ctypes
import http.client
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

NODES = 5
CLIENTS = 8
KEYS = 5
NS = "chaos"
PROBE_NS = "chaosprobe"
# A client gives up on a request after this long (the node's own API
# deadline is 5 s, so a live node answers first; a paused one does not).
REQUEST_TIMEOUT_S = 6.0
# Generous limits for waiting on the cluster: a loaded 2-core machine.
SETUP_LIMIT_S = 120.0
HEALTH_LIMIT_S = 30.0
FAILOVER_LIMIT_S = 30.0
CONVERGE_LIMIT_S = 120.0
# Each client waits up to this long between requests (uniformly).
THINK_MAX_S = 0.08

T0 = time.monotonic()


def now_us():
    return time.monotonic_ns() // 1000


def log(msg):
    print(f"[{time.monotonic() - T0:7.1f}s] {msg}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_call(port, method, path, token, body=None, timeout=REQUEST_TIMEOUT_S):
    """One request on a fresh connection. Returns (status, body, headers):
    status is an int, or "refused" when nothing was sent (the request
    cannot have applied), or "timeout" / "error" when it was sent and no
    answer came (its outcome is unknown)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.connect()
    except OSError:
        conn.close()
        return "refused", b"", {}
    try:
        headers = {"Authorization": "Bearer " + token}
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, data, dict(resp.getheaders())
    except (socket.timeout, TimeoutError):
        return "timeout", b"", {}
    except (OSError, http.client.HTTPException):
        return "error", b"", {}
    finally:
        conn.close()


def die_with_parent():
    """In the child before exec: SIGKILL when this script dies, however it
    dies (ctest's timeout kills it), so no node outlives the test. Every
    node is started from the main thread, whose exit is what counts."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class Node:
    def __init__(self, idx, root, bindir):
        self.name = f"n{idx}"
        self.dir = os.path.join(root, self.name)
        self.bin = os.path.join(bindir, "clusterd")
        self.bind = free_port()
        self.http = free_port()
        self.proc = None
        self.paused = False
        self.logf = open(os.path.join(root, self.name + ".log"), "ab")

    def start(self, first=False):
        args = [self.bin, "run", "--data-dir", self.dir]
        if first:
            args += ["--name", self.name, "--bind", f"127.0.0.1:{self.bind}",
                     "--http", f"127.0.0.1:{self.http}"]
        self.logf.write(f"=== chaos: start at {time.monotonic() - T0:.1f}s\n".encode())
        self.logf.flush()
        self.proc = subprocess.Popen(args, stdout=self.logf, stderr=self.logf,
                                     preexec_fn=die_with_parent)
        self.paused = False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        if self.alive():
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.paused = False

    def pause(self):
        os.kill(self.proc.pid, signal.SIGSTOP)
        self.paused = True

    def resume(self):
        if self.alive():
            os.kill(self.proc.pid, signal.SIGCONT)
        self.paused = False

    def serving(self):
        return self.alive() and not self.paused


class Cluster:
    def __init__(self, root, bindir):
        self.root = root
        self.bindir = bindir
        self.nodes = [Node(i + 1, root, bindir) for i in range(NODES)]
        self.token = None

    def call(self, node, method, path, body=None, timeout=REQUEST_TIMEOUT_S):
        return http_call(node.http, method, path, self.token, body, timeout)

    def init(self):
        n1 = self.nodes[0]
        out = subprocess.run(
            [os.path.join(self.bindir, "clusterd"), "init", "--data-dir", n1.dir,
             "--name", n1.name, "--bind", f"127.0.0.1:{n1.bind}",
             "--http", f"127.0.0.1:{n1.http}", "--json"],
            check=True, capture_output=True, timeout=60)
        info = json.loads(out.stdout)
        self.token = info["admin_token"]
        for n in self.nodes:
            n.start(first=True)
        for n in self.nodes:
            wait_for(lambda n=n: self.status_ok(n), SETUP_LIMIT_S, f"{n.name} serves")
        # The join token is in n1's replicated state: it answers joins once
        # it leads and has applied its log.
        wait_for(lambda: self.leads_applied(n1), SETUP_LIMIT_S, "n1 leads")
        for n in self.nodes[1:]:
            body = json.dumps({"peer": f"127.0.0.1:{n1.bind}", "token": info["join_token"]})
            st, data, _ = http_call(n.http, "POST", "/api/v1/cluster/join", "", body, 60)
            if st != 200:
                raise RuntimeError(f"join of {n.name}: {st} {data!r}")
        log("4 nodes joined; waiting for autopilot to make 5 voters (about 10 s)")
        wait_for(lambda: self.voters() == NODES, SETUP_LIMIT_S, "5 voters")

    def status_ok(self, node):
        st, _, _ = http_call(node.http, "GET", "/api/v1/status", "", timeout=2)
        return st == 200

    def raft(self, node, timeout=2.0):
        st, data, _ = self.call(node, "GET", "/api/v1/cluster/raft", timeout=timeout)
        if st != 200:
            return None
        try:
            return json.loads(data)
        except ValueError:
            return None

    def leads_applied(self, node):
        r = self.raft(node)
        return bool(r) and r.get("role") == "leader" and r["applied_index"] >= r["last_index"]

    def voters(self):
        best = 0
        for n in self.nodes:
            r = self.raft(n) if n.serving() else None
            if r and r.get("role") == "leader":
                best = max(best, sum(1 for s in r["servers"] if s["suffrage"] == "voter"))
        return best

    def leader(self):
        """The serving node that says it leads, with the highest term."""
        best, term = None, -1
        for n in self.nodes:
            r = self.raft(n, 1.0) if n.serving() else None
            if r and r.get("role") == "leader" and r["term"] > term:
                best, term = n, r["term"]
        return best

    def healthy(self):
        """Every node runs and names the same leader, which says it leads."""
        ids = set()
        for n in self.nodes:
            r = self.raft(n, 1.0) if n.serving() else None
            if r is None or r.get("leader") is None:
                return False
            ids.add(r["leader"]["id"])
        if len(ids) != 1:
            return False
        ld = self.leader()
        r = self.raft(ld, 1.0) if ld is not None else None
        return r is not None and r["id"] in ids

    def stop_all(self):
        for n in self.nodes:
            if n.proc is not None and n.alive():
                n.resume()
                n.kill()


def wait_for(cond, limit_s, what):
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.1)
    raise RuntimeError(f"timed out after {limit_s:.0f} s waiting for: {what}")


def poll(cond, limit_s, step_s=0.1):
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(step_s)
    return False


class History:
    def __init__(self):
        self.ops = []
        self.lock = threading.Lock()

    def add(self, op):
        with self.lock:
            self.ops.append(op)


def classify(kind, st):
    """ok (a known answer), failed (known: not applied) or unknown."""
    if st == 200 or (st == 404 and kind in ("get", "del")):
        return "ok"
    if st == "refused" or (isinstance(st, int) and 400 <= st < 500):
        return "failed"
    return "unknown"


def do_op(cluster, node, kind, key, value, stale_read=False):
    path = f"/api/v1/kv/{NS}/k{key}"
    op = {"node": node.name, "kind": kind, "key": key, "value": value,
          "call_us": now_us()}
    if kind == "put":
        st, data, hdr = cluster.call(node, "PUT", path, str(value).encode())
    elif kind == "del":
        st, data, hdr = cluster.call(node, "DELETE", path)
    else:
        st, data, hdr = cluster.call(node, "GET", path + ("?stale=1" if stale_read else ""))
    op["ret_us"] = now_us()
    op["status"] = st
    op["outcome"] = classify(kind, st)
    op["rev"] = None
    if st == 200 and kind in ("put", "del"):
        op["rev"] = json.loads(data)["revision"]
    elif st == 200:
        op["read"] = data.decode(errors="replace")
        op["rev"] = int(hdr.get("X-Clusterd-Revision", "0"))
    elif st == 404 and kind == "get":
        op["read"] = ""
    elif isinstance(st, int) and st != 404:
        op["error"] = data[:200].decode(errors="replace")
    return op


def client(cid, cluster, hist, stop, seed, up_hint, stale_reads):
    rng = random.Random(seed * 1000 + cid)
    seq = 0
    while not stop.is_set():
        cands = [n for n in cluster.nodes if n.name in up_hint] or cluster.nodes
        node = rng.choice(cands)
        key = rng.randrange(KEYS)
        r = rng.random()
        value = 0
        if r < 0.45:
            kind = "put"
            seq += 1
            value = (cid + 1) * 1_000_000_000 + seq  # unique, non-zero
        elif r < 0.9:
            kind = "get"
        else:
            kind = "del"
        op = do_op(cluster, node, kind, key, value, stale_reads)
        op["client"] = cid
        hist.add(op)
        # A pause between requests keeps the history small enough for the
        # checker (its cache entries grow with a key's operations) and
        # leaves the shared machine some CPU; concurrency comes from the
        # eight clients and requests held up by the faults.
        time.sleep(rng.uniform(0.0, THINK_MAX_S))


class Nemesis:
    def __init__(self, cluster, rng, up_hint):
        self.c = cluster
        self.rng = rng
        self.up = up_hint
        self.leader_kills = 0
        self.failovers_ms = []
        self.problems = []
        self.actions = {}

    def note(self, action):
        self.actions[action] = self.actions.get(action, 0) + 1

    def kill(self, node):
        self.up.discard(node.name)
        node.kill()

    def restart(self, node):
        node.start()
        if not poll(lambda: self.c.status_ok(node), HEALTH_LIMIT_S):
            self.problems.append(f"{node.name} did not serve within {HEALTH_LIMIT_S:.0f} s of a restart")
        self.up.add(node.name)

    def failover(self, t_kill, dead):
        """Time from the kill to the next write acknowledged by a survivor."""
        i = 0
        end = time.monotonic() + FAILOVER_LIMIT_S
        while time.monotonic() < end:
            live = [n for n in self.c.nodes if n.serving() and n not in dead]
            if not live:
                time.sleep(0.05)
                continue
            n = live[i % len(live)]
            i += 1
            st, _, _ = self.c.call(n, "PUT", f"/api/v1/kv/{PROBE_NS}/p", b"x", timeout=2.0)
            if st == 200:
                return (now_us() - t_kill) / 1000.0
            time.sleep(0.01)
        self.problems.append(f"no write acknowledged within {FAILOVER_LIMIT_S:.0f} s of a leader kill")
        return FAILOVER_LIMIT_S * 1000.0

    def kill_leader(self):
        ld = self.c.leader()
        if ld is None:
            return
        t_kill = now_us()
        self.kill(ld)
        self.leader_kills += 1
        ms = self.failover(t_kill, [ld])
        self.failovers_ms.append(ms)
        log(f"nemesis: kill -9 leader {ld.name} (#{self.leader_kills}); next write acknowledged after {ms:.0f} ms")
        time.sleep(self.rng.uniform(0.0, 2.0))
        self.restart(ld)

    def kill_some(self, count):
        victims = self.rng.sample(self.c.nodes, count)
        for v in victims:
            self.kill(v)
        log(f"nemesis: kill -9 {' '.join(v.name for v in victims)}")
        time.sleep(self.rng.uniform(0.5, 3.0))
        for v in victims:
            self.restart(v)

    def pause_one(self):
        """SIGSTOP the leader half the time (a leader that wakes up
        deposed must not answer reads from its old state), else any node."""
        ld = self.c.leader()
        v = ld if ld is not None and self.rng.random() < 0.5 else self.rng.choice(self.c.nodes)
        secs = self.rng.uniform(1.0, 4.0)
        log(f"nemesis: SIGSTOP {v.name}{' (leader)' if v is ld else ''} for {secs:.1f} s")
        v.pause()
        time.sleep(secs)
        v.resume()

    def step(self, only_leader=False):
        r = 0.0 if only_leader else self.rng.random()
        if r < 0.4:
            self.note("leader_kill")
            self.kill_leader()
        elif r < 0.6:
            self.note("kill_one")
            self.kill_some(1)
        elif r < 0.75:
            self.note("kill_pair")
            self.kill_some(2)
        else:
            self.note("pause")
            self.pause_one()

    def settle(self):
        """All nodes back, and one leader that all of them name."""
        for n in self.c.nodes:
            if n.paused:
                n.resume()
            if not n.alive():
                self.restart(n)
        if not poll(self.c.healthy, HEALTH_LIMIT_S, 0.2):
            self.problems.append(f"no common leader within {HEALTH_LIMIT_S:.0f} s with every node up")
            log("nemesis: the cluster did not settle; going on")

    def run(self, seconds, min_leader_kills):
        end = time.monotonic() + seconds
        hard_end = time.monotonic() + 4 * seconds + 300
        while time.monotonic() < hard_end:
            late = time.monotonic() >= end
            if late and self.leader_kills >= min_leader_kills:
                break
            self.settle()
            time.sleep(self.rng.uniform(0.5, 2.0))
            self.step(only_leader=late)
        self.settle()


def percentile(xs, p):
    if not xs:
        return 0.0
    s = sorted(xs)
    k = max(0, min(len(s) - 1, int(-(-p * len(s) // 100)) - 1))
    return s[k]


def write_history(ops, path):
    """The checker's input: KEY put|get known|unknown ARG OUT CALL RET."""
    n = 0
    with open(path, "w") as f:
        f.write("# chaos history: key kind known arg out call_us ret_us\n")
        for op in ops:
            line = lin_line(op)
            if line:
                f.write(line + "\n")
                n += 1
    return n


def lin_line(op):
    k, kind, oc = op["key"], op["kind"], op["outcome"]
    call, ret = op["call_us"], op["ret_us"]
    if oc == "failed":
        return None  # not applied, and observed nothing
    if kind == "get":
        if oc != "ok":
            return None  # a read that never answered constrains nothing
        val = int(op["read"]) if op["read"] else 0
        return f"{k} get known 0 {val} {call} {ret}"
    if kind == "del" and op["status"] == 404:
        # A delete that found no key read "absent" at its linearization
        # point, through the log.
        return f"{k} get known 0 0 {call} {ret}"
    arg = op["value"] if kind == "put" else 0
    if oc == "ok":
        return f"{k} put known {arg} 0 {call} {ret}"
    return f"{k} put unknown {arg} 0 {call} 0"


def revision_anomalies(ops):
    """Reads must report the revision their value was written at, and no
    two acknowledged writes share a revision."""
    out = []
    put_rev = {}
    by_rev = {}
    for op in ops:
        if op["kind"] in ("put", "del") and op["outcome"] == "ok" and op["rev"]:
            if op["rev"] in by_rev:
                out.append(f"two writes acknowledged at revision {op['rev']}: {by_rev[op['rev']]} and {op}")
            by_rev[op["rev"]] = op
            if op["kind"] == "put":
                put_rev[op["value"]] = op["rev"]
    for op in ops:
        if op["kind"] == "get" and op["outcome"] == "ok" and op.get("read"):
            try:
                v = int(op["read"])
            except ValueError:
                out.append(f"read a value no client writes: {op}")
                continue
            if v in put_rev and put_rev[v] != op["rev"]:
                out.append(f"read {v} at revision {op['rev']}, written at {put_rev[v]}: {op}")
    return out


def check_lin(checker, ops, path):
    n = write_history(ops, path)
    res = subprocess.run([checker, path], capture_output=True, text=True, timeout=1800)
    line = (res.stdout.strip() or res.stderr.strip())
    log(f"checker on {n} operations: {line}")
    verdict = {0: "yes", 1: "no", 2: "unknown"}.get(res.returncode)
    if verdict is None:
        raise RuntimeError(f"chaos-check failed (exit {res.returncode}): {res.stderr}")
    bad, bad_us = None, None
    if "bad_key=" in line:
        bad = int(line.split("bad_key=")[1].split()[0])
    if "first_bad_us=" in line:
        bad_us = int(line.split("first_bad_us=")[1].split()[0])
    return verdict, bad, bad_us


def barrier(cluster):
    """A linearizable write through some node; its revision."""
    end = time.monotonic() + CONVERGE_LIMIT_S
    i = 0
    while time.monotonic() < end:
        n = cluster.nodes[i % NODES]
        i += 1
        st, data, _ = cluster.call(n, "PUT", f"/api/v1/kv/{PROBE_NS}/barrier", b"b")
        if st == 200:
            return json.loads(data)["revision"]
        time.sleep(0.2)
    raise RuntimeError("no write acknowledged after healing")


def final_state(cluster, node):
    """What node holds, read locally: each key's (value, revision), and the
    key lists of both namespaces."""
    vals = {}
    for k in range(KEYS):
        st, data, hdr = cluster.call(node, "GET", f"/api/v1/kv/{NS}/k{k}?stale=1")
        if st == 200:
            vals[k] = (data.decode(errors="replace"), int(hdr.get("X-Clusterd-Revision", "0")))
        elif st == 404:
            vals[k] = None
        else:
            raise RuntimeError(f"stale read on {node.name}: {st}")
    lists = []
    for ns in (NS, PROBE_NS):
        st, data, _ = cluster.call(node, "GET", f"/api/v1/kv/{ns}?prefix=&stale=1")
        if st != 200:
            raise RuntimeError(f"stale list on {node.name}: {st}")
        lists.append(json.loads(data)["keys"])
    return vals, lists


def applied(cluster, node):
    r = cluster.raft(node)
    return r["applied_index"] if r else -1


def check_converged(cluster, hist):
    """Every node the same; every acknowledged write present. Appends the
    final linearizable reads to the history. Returns (ok, reasons)."""
    reasons = []
    b = barrier(cluster)
    for n in cluster.nodes:
        if not poll(lambda n=n: applied(cluster, n) >= b, CONVERGE_LIMIT_S, 0.2):
            reasons.append(f"{n.name} did not apply the barrier at {b} (applied {applied(cluster, n)})")
    states = {n.name: final_state(cluster, n) for n in cluster.nodes}
    ref = states[cluster.nodes[0].name]
    for name, s in states.items():
        if s != ref:
            reasons.append(f"{name} differs from n1: {s} vs {ref}")
    # Linearizable reads of every key, recorded in the history too.
    finals = {}
    for k in range(KEYS):
        for _ in range(50):
            op = do_op(cluster, random.choice(cluster.nodes), "get", k, 0)
            op["client"] = "final"
            if op["outcome"] == "ok":
                hist.add(op)
                finals[k] = op
                break
            time.sleep(0.2)
        else:
            reasons.append(f"no linearizable read of k{k} after healing")
    reasons += acknowledged_present(hist.ops, ref[0])
    present = sum(1 for v in ref[0].values() if v is not None)
    log(f"after the barrier at revision {b}: {len(states)} nodes compared, "
        f"{present} of {KEYS} keys present, {len(reasons)} problems")
    return not reasons, reasons


def acknowledged_present(ops, vals):
    """Each key's final value: the acknowledged write with the highest
    revision, unless a write with an unknown outcome came later (its
    value, or absence for a delete, with a revision at least as high)."""
    out = []
    for k in range(KEYS):
        acked = [o for o in ops if o["key"] == k and o["kind"] in ("put", "del")
                 and o["outcome"] == "ok" and o["status"] == 200]
        unknown = [o for o in ops if o["key"] == k and o["kind"] in ("put", "del")
                   and o["outcome"] == "unknown"]
        top = max(acked, key=lambda o: o["rev"]) if acked else None
        final = vals.get(k)
        if final is None:
            if top is None or top["kind"] == "del" or any(o["kind"] == "del" for o in unknown):
                continue
            out.append(f"k{k} is absent, but {top} was acknowledged last and no delete of unknown outcome exists")
            continue
        value, rev = final
        if top is not None and rev < top["rev"]:
            out.append(f"k{k} holds revision {rev}, older than the acknowledged {top}")
        elif top is not None and rev == top["rev"]:
            if top["kind"] != "put" or str(top["value"]) != value:
                out.append(f"k{k} holds {value}@{rev}, but {top} was acknowledged at that revision")
        elif not any(o["kind"] == "put" and str(o["value"]) == value for o in unknown):
            out.append(f"k{k} holds {value}@{rev}, newer than every acknowledged write and "
                       f"written by no write of unknown outcome")
    return out


def excerpt(ops, key, bad_us, limit=40):
    """The operations on key around the point where its history stopped
    being linearizable (the last `limit` called by then that were still
    running or had returned within the last second), times relative."""
    end = bad_us if bad_us is not None else max(o["call_us"] for o in ops)
    sub = sorted((o for o in ops if o["key"] == key and o["call_us"] <= end
                  and (o["outcome"] != "ok" or o["ret_us"] >= end - 1_000_000)),
                 key=lambda o: o["call_us"])[-limit:]
    log(f"k{key} is not linearizable by t={end}; the operations around then (times in ms before it):")
    for o in sub:
        ret = f"{(o['ret_us'] - end) / 1000:+.1f}" if o["outcome"] != "unknown" else "never"
        what = {"put": f"put {o['value']}", "del": "delete", "get": "get"}[o["kind"]]
        got = f" -> {o.get('read', '')!r}" if o["kind"] == "get" else ""
        print(f"    client {o['client']} via {o['node']}: {what}{got} status {o['status']} "
              f"rev {o['rev']} call {(o['call_us'] - end) / 1000:+.1f} ret {ret}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checker", required=True, help="the chaos-check program")
    args = ap.parse_args()
    build = os.environ.get("CLUSTERD_BUILD")
    if not build:
        sys.exit("chaos: set CLUSTERD_BUILD to the build dir (ctest sets it)")
    seconds = float(os.environ.get("CLUSTERD_CHAOS_SECONDS", "75"))
    min_kills = int(os.environ.get("CLUSTERD_CHAOS_LEADER_KILLS", "3"))
    seed = int(os.environ.get("CLUSTERD_CHAOS_SEED", str(int(time.time()) % 1_000_000)))
    keep = os.environ.get("CLUSTERD_CHAOS_KEEP") == "1"
    bug = os.environ.get("CLUSTERD_CHAOS_BUG", "")
    if bug not in ("", "stale-reads"):
        sys.exit(f"chaos: unknown CLUSTERD_CHAOS_BUG {bug!r} (known: stale-reads)")
    root = tempfile.mkdtemp(prefix="clusterd-chaos.")
    log(f"seed={seed} seconds={seconds:.0f} min_leader_kills={min_kills} dir={root}"
        + (f" planted bug: {bug}" if bug else ""))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(124))

    cluster = Cluster(root, os.path.join(build, "bin"))
    ok = False
    try:
        ok = run(cluster, args.checker, seconds, min_kills, seed, root, bug)
    finally:
        cluster.stop_all()
        if ok and not keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"chaos: data dirs, node logs and history kept in {root}")
    sys.exit(0 if ok else 1)


def run(cluster, checker, seconds, min_kills, seed, root, bug):
    cluster.init()
    log("5 voters; starting 8 clients and the nemesis")
    hist = History()
    stop = threading.Event()
    up_hint = {n.name for n in cluster.nodes}
    threads = [threading.Thread(target=client, args=(i, cluster, hist, stop, seed, up_hint, bug == "stale-reads"),
                                daemon=True) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    nem = Nemesis(cluster, random.Random(seed), up_hint)
    nem.run(seconds, min_kills)
    log(f"faults over ({nem.actions}); clients go on 3 s on the healed cluster")
    time.sleep(3)
    stop.set()
    for t in threads:
        t.join()

    conv, reasons = check_converged(cluster, hist)
    for r in reasons:
        print("chaos: not converged:", r)
    ops = hist.ops
    with open(os.path.join(root, "history.jsonl"), "w") as f:
        for o in ops:
            f.write(json.dumps(o, sort_keys=True) + "\n")
    lin, bad, bad_us = check_lin(checker, ops, os.path.join(root, "history.txt"))
    anomalies = revision_anomalies(ops)
    for a in anomalies[:20]:
        print("chaos: revision anomaly:", a)
    if anomalies and lin == "yes":
        lin = "no"
    if bad is not None:
        excerpt(ops, bad, bad_us)
    for p in nem.problems:
        print("chaos: note:", p)

    count = {"ok": 0, "failed": 0, "unknown": 0}
    for o in ops:
        count[o["outcome"]] += 1
    if nem.leader_kills < min_kills:
        print(f"chaos: only {nem.leader_kills} leader kills, want {min_kills}")
    print(f"chaos: ops={len(ops)} ok={count['ok']} failed={count['failed']} "
          f"unknown={count['unknown']} leader_kills={nem.leader_kills} "
          f"linearizable={lin} converged={'yes' if conv else 'no'} "
          f"failover_p50_ms={percentile(nem.failovers_ms, 50):.0f} "
          f"failover_p99_ms={percentile(nem.failovers_ms, 99):.0f}", flush=True)
    return lin == "yes" and conv and nem.leader_kills >= min_kills


if __name__ == "__main__":
    main()
