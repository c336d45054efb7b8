#!/usr/bin/env python3
"""End-to-end test of exactly-once writes across failover (issue 11), with
three real clusterd processes on loopback.

1. Idempotency-Key: a repeat (through another node) returns the first
   result, status and body; 64 newer sequence numbers later, the first one
   gets 409 "was not applied ... no longer known" and changes nothing.
2. A write held in flight across a leader kill, with its first answer
   lost: the leader applies a forwarded write but does not answer (the
   CLUSTERD_TEST_DROP_WRITE_ANSWERS hook), is SIGSTOPped and killed -9;
   the follower retries with the same session and seq to the next leader,
   whose state machine deduplicates it: 200 with the ORIGINAL revision,
   the key written once, and the dedup counters in /metrics moved.
3. The leader is SIGSTOPped, a write is sent through a follower, the
   leader is killed -9: the write succeeds soon after the new leader is
   elected, and is applied once.
Every process is stopped by PID at the end, whatever happens.
"""
import json
import os
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

BUILD = os.environ["CLUSTERD_BUILD"]
BIN = os.path.join(BUILD, "bin")
TMP = tempfile.mkdtemp(prefix="clusterd-sessions.")
DROP = os.path.join(TMP, "drop-answers")
PROCS = {}
FAILS = []


def check(what, cond, detail=""):
    if cond:
        print("ok:", what)
    else:
        print("FAIL:", what, detail)
        FAILS.append(what)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_for(what, fn, limit=60.0):
    """Polls fn until it returns a true value (events, not fixed sleeps);
    the limit only bounds a hang."""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        try:
            v = fn()
            if v:
                return v
        except (OSError, ValueError, KeyError, TypeError):
            pass
        time.sleep(0.05)
    raise SystemExit("timed out waiting for " + what)


class Node:
    def __init__(self, name):
        self.name = name
        self.dir = os.path.join(TMP, name)
        self.bind = "127.0.0.1:%d" % free_port()
        self.http = "127.0.0.1:%d" % free_port()
        self.url = "http://" + self.http
        self.id = None

    def start(self, first=True):
        args = [os.path.join(BIN, "clusterd"), "run", "--data-dir", self.dir]
        if first:
            args += ["--name", self.name, "--bind", self.bind,
                     "--http", self.http]
        env = dict(os.environ, CLUSTERD_TEST_DROP_WRITE_ANSWERS=DROP)
        log = open(os.path.join(TMP, self.name + ".log"), "ab")
        PROCS[self.name] = subprocess.Popen(args, stderr=log, env=env)
        wait_for(self.name + " serving",
                 lambda: req("GET", self.url + "/api/v1/status")[0] == 200)

    def kill(self):
        p = PROCS.pop(self.name)
        p.send_signal(signal.SIGKILL)
        p.wait()

    def pid(self):
        return PROCS[self.name].pid


TOKEN = None


def req(method, url, body=None, headers=None, timeout=20.0):
    h = {"Authorization": "Bearer " + TOKEN} if TOKEN else {}
    h.update(headers or {})
    data = body.encode() if isinstance(body, str) else body
    r = urllib.request.Request(url, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(r, timeout=timeout) as resp:
            return resp.status, resp.read().decode(), dict(resp.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), dict(e.headers)


def raft(node):
    st, body, _ = req("GET", node.url + "/api/v1/cluster/raft", timeout=2)
    return json.loads(body) if st == 200 else None


def metric(node, name):
    st, body, _ = req("GET", node.url + "/metrics?scope=node", timeout=5)
    for line in body.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def leader_of(nodes):
    """The node every live node names as leader, once they agree."""
    ids = set()
    for n in nodes:
        r = raft(n)
        if r is None or r.get("leader") is None:
            return None
        ids.add(r["leader"]["id"])
    if len(ids) != 1:
        return None
    lid = ids.pop()
    for n in nodes:
        if n.id == lid:
            return n
    return None


def voters(node):
    r = raft(node)
    if r is None or r.get("leader") is None:
        return 0
    return sum(1 for s in r.get("servers", []) if s["suffrage"] == "voter")


def kv_url(node, key, query=""):
    return node.url + "/api/v1/kv/e2e/" + key + query


def start_cluster():
    global TOKEN
    nodes = [Node("n%d" % i) for i in (1, 2, 3)]
    n1 = nodes[0]
    out = subprocess.run(
        [os.path.join(BIN, "clusterd"), "init", "--data-dir", n1.dir,
         "--name", "n1", "--bind", n1.bind, "--http", n1.http, "--json"],
        check=True, capture_output=True, text=True).stdout
    init = json.loads(out)
    TOKEN = init["admin_token"]
    for n in nodes:
        n.start()
    n1.id = wait_for("n1 id", lambda: raft(n1)["id"])
    wait_for("n1 leads", lambda: leader_of([n1]))
    for n in nodes[1:]:
        r = subprocess.run([os.path.join(BIN, "clusterctl"), "--node", n.url,
                            "join", n1.bind, "--token", init["join_token"]],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit("join of %s failed: %s %s" %
                             (n.name, r.stdout, r.stderr))
    for n in nodes:
        n.id = wait_for(n.name + " id", lambda n=n: raft(n)["id"])
    # Autopilot promotes the learners after 10 s of health.
    wait_for("3 voters", lambda: voters(n1) == 3, 90)
    return nodes


def test_idempotency_key(nodes):
    lead = wait_for("a leader", lambda: leader_of(nodes))
    f1, f2 = [n for n in nodes if n is not lead]
    hdr = {"Idempotency-Key": "e2e-client:1"}
    before = sum(metric(n, "clusterd_sessions_deduplicated_total")
                 for n in nodes)
    st1, b1, h1 = req("PUT", kv_url(f1, "idem", "?cas=0"), "one", hdr)
    check("first PUT with a key: 200", st1 == 200, b1)
    rev = json.loads(b1)["revision"]
    # The repeat would fail its cas=0 condition if it were applied again.
    for n in (f2, lead):
        st, b, h = req("PUT", kv_url(n, "idem", "?cas=0"), "one", hdr)
        check("repeat via %s: same status and body" % n.name,
              st == st1 and b == b1, "%d %s vs %d %s" % (st, b, st1, b1))
    st, b, h = req("GET", kv_url(f2, "idem"))
    check("the key was written once", st == 200 and b == "one" and
          h.get("X-Clusterd-Revision") == str(rev), "%s %s" % (b, h))
    wait_for("every node applied the repeats", lambda: sum(
        metric(n, "clusterd_sessions_deduplicated_total")
        for n in nodes) >= before + 2 * 3)
    check("dedup counted on every node", True)
    for seq in range(2, 66):
        st, b, _ = req("PUT", kv_url(f1, "idem2"), "v%d" % seq,
                       {"Idempotency-Key": "e2e-client:%d" % seq})
        if st != 200:
            check("PUT seq %d" % seq, False, b)
    st, b, _ = req("PUT", kv_url(f1, "idem", "?cas=0"), "one", hdr)
    err = json.loads(b).get("error", "") if st == 409 else b
    check("a seq older than the last 64: 409 'not applied ... no longer "
          "known'", st == 409 and "was not applied" in err and
          "no longer known" in err, "%d %s" % (st, b))
    st, b, h = req("GET", kv_url(f2, "idem"))
    check("and nothing changed", h.get("X-Clusterd-Revision") == str(rev))
    st, b, _ = req("PUT", kv_url(f1, "idem"), "x",
                   {"Idempotency-Key": "bad key:1"})
    check("a malformed Idempotency-Key: 400", st == 400, b)


def put_async(node, key, body, out):
    def run():
        t0 = time.monotonic()
        out["res"] = req("PUT", kv_url(node, key, "?cas=0"), body,
                         timeout=30)
        out["t"] = time.monotonic()
        out["took"] = out["t"] - t0
    th = threading.Thread(target=run)
    th.start()
    return th


def test_lost_answer_then_leader_kill(nodes):
    lead = wait_for("a leader", lambda: leader_of(nodes))
    f1, f2 = [n for n in nodes if n is not lead]
    open(DROP, "w").close()
    out = {}
    th = put_async(f1, "inflight", "x", out)
    # Applied on a follower while its answer is held back.
    rev = wait_for("the write applied", lambda: int(req(
        "GET", kv_url(f2, "inflight", "?stale=1"), timeout=2)[2].get(
        "X-Clusterd-Revision", "0")))
    wait_for("a resend answered from the record", lambda: metric(
        f2, "clusterd_sessions_deduplicated_total") >= 1 and
        metric(f1, "clusterd_writes_resent_total") >= 1, 10)
    check("the write is still in flight", "res" not in out)
    os.kill(lead.pid(), signal.SIGSTOP)
    os.kill(lead.pid(), signal.SIGKILL)
    t_kill = time.monotonic()
    lead.kill()
    os.unlink(DROP)
    th.join(30)
    st, b, _ = out.get("res", (0, "no answer", {}))
    check("the in-flight write succeeds after the kill", st == 200, b)
    if st == 200:
        check("with the ORIGINAL revision (the retry was deduplicated)",
              json.loads(b)["revision"] == rev, "%s vs %d" % (b, rev))
        print("  answered %.0f ms after the kill" %
              ((out["t"] - t_kill) * 1000))
    st, b, h = req("GET", kv_url(f2, "inflight"))
    check("the key holds the first write", st == 200 and b == "x" and
          h.get("X-Clusterd-Revision") == str(rev), "%s %s" % (b, h))
    check("the asking node saw its write answered from the record",
          metric(f1, "clusterd_writes_deduplicated_total") >= 1)
    check("it retried to the next leader",
          metric(f1, "clusterd_writes_retried_total") >= 1)
    return lead


def test_stopped_leader_then_kill(nodes):
    lead = wait_for("a leader", lambda: leader_of(nodes))
    f1, f2 = [n for n in nodes if n is not lead]
    os.kill(lead.pid(), signal.SIGSTOP)
    out = {}
    th = put_async(f1, "stopped", "y", out)
    # The forward sits in the stopped leader's socket, or the followers
    # elect first: either way the write is in flight at the kill.
    time.sleep(0.1)
    os.kill(lead.pid(), signal.SIGKILL)
    t_kill = time.monotonic()
    lead.kill()
    th.join(30)
    st, b, _ = out.get("res", (0, "no answer", {}))
    check("a write sent to a stopped leader succeeds after its kill",
          st == 200, b)
    if st == 200:
        rev = json.loads(b)["revision"]
        print("  answered %.0f ms after the kill (request took %.0f ms)" %
              ((out["t"] - t_kill) * 1000, out["took"] * 1000))
        st, b, h = req("GET", kv_url(f2, "stopped"))
        check("applied once, at the answered revision",
              b == "y" and h.get("X-Clusterd-Revision") == str(rev),
              "%s %s" % (b, h))


def main():
    try:
        nodes = start_cluster()
        test_idempotency_key(nodes)
        dead = test_lost_answer_then_leader_kill(nodes)
        dead.start(first=False)
        wait_for("3 voters again", lambda: leader_of(nodes) is not None and
                 all(raft(n) for n in nodes), 60)
        test_stopped_leader_then_kill(nodes)
    finally:
        for p in PROCS.values():
            try:
                p.send_signal(signal.SIGKILL)
            except OSError:
                pass
            p.wait()
        if FAILS:
            for f in os.listdir(TMP):
                if f.endswith(".log"):
                    print("---", f)
                    with open(os.path.join(TMP, f), errors="replace") as fh:
                        print("".join(fh.readlines()[-30:]))
        shutil.rmtree(TMP, ignore_errors=True)
    print("%d failed" % len(FAILS))
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
