"""Helpers for the cluster end-to-end tests: real clusterd processes on
loopback, formed with `clusterd init` and `clusterctl join`.

Every process a test starts is recorded by PID and killed when the Cluster
is closed (use it as a context manager), whatever happens. Waits poll for a
condition under a generous overall limit; nothing asserts on a fixed sleep.
"""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

BUILD = os.environ.get("CLUSTERD_BUILD")
if not BUILD:
    sys.exit("run through ctest, or set CLUSTERD_BUILD")
CLUSTERD = os.path.join(BUILD, "bin", "clusterd")
CLUSTERCTL = os.path.join(BUILD, "bin", "clusterctl")

# Overall limit of a wait; generous for a loaded 2-core machine.
WAIT_S = float(os.environ.get("CLUSTERD_E2E_WAIT_S", "120"))


class Failed(Exception):
    pass


def log(msg):
    print("%s %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def check(cond, what):
    if not cond:
        raise Failed(what)
    log("ok: " + what)


def wait_for(pred, what, timeout=WAIT_S, interval=0.1):
    """Polls pred() until it returns something truthy; returns that."""
    end = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            v = pred()
            if v:
                return v
        except (OSError, http.client.HTTPException, ValueError, KeyError) as e:
            last_exc = e
        if time.monotonic() > end:
            raise Failed("timed out after %.0f s waiting for %s (last error: %r)"
                         % (timeout, what, last_exc))
        time.sleep(interval)


_taken = set()


def free_port():
    """A port free for TCP and UDP on 127.0.0.1 right now, not handed out
    before by this process."""
    while True:
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.bind(("127.0.0.1", 0))
        port = t.getsockname()[1]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            t.close()
            u.close()
        if port not in _taken:
            _taken.add(port)
            return port


def http_req(url_hostport, method, path, body=None, token=None, timeout=10,
             headers=None):
    """One HTTP request on a fresh connection: (status, headers, body)."""
    host, port = url_hostport.rsplit(":", 1)
    c = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        h = dict(headers or {})
        if token is not None:
            h["Authorization"] = "Bearer " + token
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data
    finally:
        c.close()


def parse_metrics(text):
    """{(name, frozenset(labels)): value} from the Prometheus text format."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        sample, _, value = line.rpartition(" ")
        if "{" in sample:
            name, rest = sample.split("{", 1)
            labels = []
            for part in rest.rstrip("}").split(","):
                if part:
                    k, v = part.split("=", 1)
                    labels.append((k, v.strip('"')))
            key = (name, frozenset(labels))
        else:
            key = (sample, frozenset())
        out[key] = float(value)
    return out


def metric(m, name, **labels):
    """Sum of the samples of name whose labels include labels."""
    want = set(labels.items())
    return sum(v for (n, ls), v in m.items() if n == name and want <= set(ls))


class Node:
    def __init__(self, cluster, name):
        self.cluster = cluster
        self.name = name
        self.dir = os.path.join(cluster.tmp, name)
        self.bind = "127.0.0.1:%d" % free_port()
        self.http = "127.0.0.1:%d" % free_port()
        self.proc = None
        self.logf = None
        self.started_once = False

    # ---- processes ----
    def init(self):
        """clusterd init; returns its JSON (join_token, admin_token...)."""
        r = subprocess.run([CLUSTERD, "init", "--data-dir", self.dir, "--name", self.name,
                            "--bind", self.bind, "--http", self.http, "--json"],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise Failed("init %s: %s" % (self.name, r.stderr))
        return json.loads(r.stdout)

    def start(self, flags=True):
        """clusterd run; with flags=False only --data-dir (a restart)."""
        assert self.proc is None or self.proc.poll() is not None
        args = [CLUSTERD, "run", "--data-dir", self.dir]
        if flags:
            args += ["--name", self.name, "--bind", self.bind, "--http", self.http]
        os.makedirs(self.cluster.tmp, exist_ok=True)
        self.logf = open(os.path.join(self.cluster.tmp, self.name + ".log"), "ab")
        self.proc = subprocess.Popen(args, stdout=self.logf, stderr=self.logf)
        self.cluster.procs.append(self.proc)
        self.started_once = True
        wait_for(lambda: self.status_ok(), "%s to serve HTTP" % self.name)
        return self

    def status_ok(self):
        if self.proc.poll() is not None:
            raise Failed("%s exited with %s; log:\n%s" % (self.name, self.proc.returncode,
                                                           self.log_text()[-3000:]))
        return self.get("/api/v1/status", token=None, timeout=2)[0] == 200

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def log_text(self):
        try:
            with open(os.path.join(self.cluster.tmp, self.name + ".log"), "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    # ---- HTTP ----
    def req(self, method, path, body=None, token="admin", timeout=10, headers=None):
        if token == "admin":
            token = self.cluster.admin_token
        return http_req(self.http, method, path, body, token, timeout, headers)

    def get(self, path, **kw):
        return self.req("GET", path, **kw)

    def put(self, ns, key, value, cas=None, **kw):
        path = "/api/v1/kv/%s/%s" % (ns, key)
        if cas is not None:
            path += "?cas=%d" % cas
        return self.req("PUT", path, body=value, **kw)

    def kv_get(self, ns, key, stale=False, **kw):
        return self.get("/api/v1/kv/%s/%s%s" % (ns, key, "?stale=1" if stale else ""), **kw)

    def raft(self, timeout=5):
        st, _, body = self.get("/api/v1/cluster/raft", timeout=timeout)
        if st != 200:
            raise ValueError("raft status %d: %r" % (st, body[:200]))
        return json.loads(body)

    def members(self):
        st, _, body = self.get("/api/v1/cluster/members")
        if st != 200:
            raise ValueError("members %d" % st)
        return json.loads(body)

    def metrics_text(self, scope="node"):
        """/metrics?scope=node (this node's own figures, unlabelled), or
        with scope=None the cluster-wide /metrics (a node label on each
        sample)."""
        st, _, body = self.get("/metrics" + ("?scope=" + scope if scope else ""),
                               token=None)
        if st != 200:
            raise ValueError("metrics %d" % st)
        return body.decode()

    def metrics(self):
        return parse_metrics(self.metrics_text())

    def ctl(self, *args, token="admin", timeout=60):
        """clusterctl against this node: CompletedProcess (text)."""
        cmd = [CLUSTERCTL, "--node", "http://" + self.http]
        if token == "admin":
            token = self.cluster.admin_token
        if token:
            cmd += ["--token", token]
        env = dict(os.environ)
        env.pop("CLUSTERD_TOKEN", None)
        return subprocess.run(cmd + list(args), capture_output=True, text=True,
                              timeout=timeout, env=env)


class Cluster:
    def __init__(self, prefix="cl"):
        self.tmp = tempfile.mkdtemp(prefix="clusterd-e2e-%s." % prefix)
        self.procs = []
        self.nodes = []
        self.admin_token = None
        self.join_token = None

    def __enter__(self):
        return self

    def __exit__(self, et, ev, tb):
        if et is not None:
            for n in self.nodes:
                t = n.log_text()
                if t:
                    print("---- last lines of %s's log ----" % n.name)
                    print("\n".join(t.splitlines()[-25:]))
        self.close()
        return False

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        if os.environ.get("CLUSTERD_E2E_KEEP"):
            log("kept " + self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def node(self, name):
        n = Node(self, name)
        self.nodes.append(n)
        return n

    def bootstrap(self, name="n1"):
        """init + run the first node; waits until it leads."""
        n = self.node(name)
        j = n.init()
        self.admin_token = j["admin_token"]
        self.join_token = j["join_token"]
        n.start(flags=False)
        wait_for(lambda: (n.raft().get("leader") or {}).get("name") == name,
                 "%s to lead its one-node cluster" % name)
        return n

    def add(self, name, via=None, token=None):
        """Starts an unjoined node and joins it through via (default: the
        first node)."""
        n = self.node(name).start()
        self.join(n, via or self.nodes[0], token)
        return n

    def join(self, n, via, token=None):
        r = n.ctl("join", via.bind, "--token", token or self.join_token, token=None)
        if r.returncode != 0:
            raise Failed("join %s via %s: %s%s" % (n.name, via.name, r.stdout, r.stderr))
        return r

    def form(self, count):
        """init + (count-1) joins; waits for min(count, 5 or 3) voters."""
        self.bootstrap("n1")
        for i in range(2, count + 1):
            self.add("n%d" % i)
        want = 5 if count >= 5 else min(count, 3)
        self.wait_voters(want)
        return self.nodes

    def alive(self):
        return [n for n in self.nodes if n.alive()]

    def raft_any(self):
        for n in self.alive():
            try:
                return n.raft(timeout=3)
            except (OSError, http.client.HTTPException, ValueError):
                continue
        raise ValueError("no node answers raft status")

    def voters(self, st=None):
        st = st or self.raft_any()
        return sorted(s["name"] for s in st["servers"] if s["suffrage"] == "voter")

    def wait_voters(self, want, timeout=WAIT_S):
        def ok():
            st = self.raft_any()
            return st.get("leader") and len(self.voters(st)) == want and st
        return wait_for(ok, "%d voters" % want, timeout)

    def leader(self):
        """The leader's Node, as every alive node that knows one says."""
        st = self.raft_any()
        name = (st.get("leader") or {}).get("name")
        for n in self.alive():
            if n.name == name:
                return n
        return None

    def wait_leader(self, exclude=None, timeout=WAIT_S):
        def ok():
            ld = self.leader()
            return ld if ld is not None and ld is not exclude else None
        return wait_for(ok, "a leader" + (" other than %s" % exclude.name if exclude else ""),
                        timeout)

    def put_ok(self, node, ns, key, value, timeout=WAIT_S):
        """Writes through node, retrying 503s (no leader yet); returns the
        revision."""
        def once():
            st, _, body = node.put(ns, key, value)
            if st == 200:
                return json.loads(body)["revision"]
            if st == 503:
                return None
            raise Failed("PUT %s/%s via %s: %d %r" % (ns, key, node.name, st, body[:200]))
        return wait_for(once, "a write through %s" % node.name, timeout, interval=0.05)


def run(main):
    """Runs a test's main(); exit status 0 on success."""
    t0 = time.monotonic()
    try:
        main()
    except Failed as e:
        log("FAIL: %s" % e)
        sys.exit(1)
    log("passed in %.1f s" % (time.monotonic() - t0))


def bulk_put(cl, nodes, ns, start, count, threads=32, value=b"x"):
    """Writes keys k<start>..k<start+count-1> through nodes (round-robin
    per thread) with `threads` keep-alive clients; retries 503s. Returns the
    number of acknowledged writes (all of them, or raises)."""
    import threading
    lock = threading.Lock()
    nxt = [start]
    done = [0]
    errors = []

    def worker(i):
        node = nodes[i % len(nodes)]
        host, port = node.http.rsplit(":", 1)
        conn = None
        hdr = {"Authorization": "Bearer " + cl.admin_token}
        while True:
            with lock:
                if nxt[0] >= start + count or errors:
                    break
                k = nxt[0]
                nxt[0] += 1
            tries = 0
            while True:
                tries += 1
                try:
                    if conn is None:
                        conn = http.client.HTTPConnection(host, int(port), timeout=15)
                    conn.request("PUT", "/api/v1/kv/%s/k%d" % (ns, k), body=value, headers=hdr)
                    r = conn.getresponse()
                    r.read()
                    if r.status == 200:
                        break
                    if r.status != 503 or tries > 200:
                        errors.append("PUT k%d: %d" % (k, r.status))
                        return
                    time.sleep(0.05)
                except (OSError, http.client.HTTPException) as e:
                    if conn is not None:
                        conn.close()
                    conn = None
                    if tries > 200:
                        errors.append("PUT k%d: %r" % (k, e))
                        return
                    time.sleep(0.05)
            with lock:
                done[0] += 1
        if conn is not None:
            conn.close()

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise Failed("bulk writes failed: %s" % errors[:5])
    return done[0]
