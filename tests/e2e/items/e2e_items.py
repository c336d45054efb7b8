"""End to end of the item ledger (issue 13): three clusterd nodes on
loopback, the Factorio stand-in as their install, instance A on n1 with an
export chest and instance B on n2 with an import chest (lua/subspace).

1. Items put into A's export chest appear in B's import chest.
2. A steady stream: the test puts items into A's chest and takes what
   arrives out of B's chest, while the leader is killed (kill -9, after
   moving leadership to n3, the node without instances) LEADER_KILLS times,
   the follower n3 is killed NODE_KILLS times, n2 and n3 are frozen so
   that n1 loses its quorum (A's exports wait in n1's local outbox and
   drain afterwards), and B's server is killed
   with SIGKILL while a grant to it is in flight. Then the stream stops,
   the ledger settles, and every chest and the ledger are counted: for each
   item, put in = taken out of B + left in A + left in B + stock + in
   flight; the ledger's exported and delivered totals agree. Nothing lost,
   nothing counted twice.
3. Bad input printed as IPC lines from A's game (a forged export sequence,
   an invalid item name, a huge count, a negative count, garbage): each
   refused and counted, the ledger's stock unchanged.
Numbers: stacks per second game -> ledger -> game (a burst), export to
import latency p50/p99 over the stream.

ITEMS_LEADER_KILLS (default 3), ITEMS_NODE_KILLS (1); ITEMS_LONG=1 makes
them 20 and 5. --v11 runs it all on a Factorio 1.1 install (1 leader kill,
no node kill unless told).
"""
import json
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../cluster"))
from cluster_util import (BUILD, Cluster, Failed, check, log,  # noqa: E402
                          metric, parse_metrics, run, wait_for)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../standin"))
import standin_util as su  # noqa: E402

INSTALL = os.path.join(BUILD, "factorio-standin")
# --v11: the same on a Factorio 1.1 install (make-install), fewer faults.
V11 = "--v11" in sys.argv
LONG = os.environ.get("ITEMS_LONG") == "1"
LEADER_KILLS = int(os.environ.get("ITEMS_LEADER_KILLS",
                                  "20" if LONG else "1" if V11 else "3"))
NODE_KILLS = int(os.environ.get("ITEMS_NODE_KILLS", "5" if LONG else "0" if V11 else "1"))
ITEMS = ("iron-plate", "copper-plate")
STACK = 100  # both stack to 100


TAKEN = set()


def ports_block(n):
    """The first of n consecutive ports free now, not given out before."""
    import random
    import socket
    for _ in range(500):
        base = random.randrange(20000, 32000 - n)
        if any(p in TAKEN for p in range(base, base + n)):
            continue
        socks = []
        try:
            for p in range(base, base + n):
                so = socket.socket()
                so.bind(("127.0.0.1", p))
                socks.append(so)
        except OSError:
            continue
        finally:
            for so in socks:
                so.close()
        TAKEN.update(range(base, base + n))
        return base
    raise Failed("no free port block")


def install(cl):
    """The stand-in install the nodes run: the build's (2.0), or with --v11
    a copy reporting 1.1.110."""
    if not V11:
        return INSTALL
    dest = os.path.join(cl.tmp, "factorio-1.1")
    if not os.path.exists(dest):
        import subprocess
        src = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                            "../../../tools/factorio-standin/make-install"))
        subprocess.run([src, INSTALL, dest, "1.1.110"], check=True)
    return dest


def write_config(node, factorio):
    os.makedirs(node.dir, exist_ok=True)
    cfg = {"node_name": node.name, "bind": node.bind, "http": node.http,
           "items_confirm": "after_save"}
    if factorio:
        lo = ports_block(10)
        cfg["factorio_dir"] = install(node.cluster)
        cfg["instance_ports"] = "%d-%d" % (lo, lo + 9)
    with open(os.path.join(node.dir, "clusterd.json"), "w") as f:
        json.dump(cfg, f)


def api(node, method, path, body=None, timeout=15):
    st, _, out = node.req(method, path, body=json.dumps(body).encode() if body is not None
                          else None, timeout=timeout)
    try:
        return st, json.loads(out) if out else {}
    except ValueError:
        return st, {"raw": out[:200]}


def rcon(node, inst, command, retry_s=60):
    """An RCON command through node's API. A 503 (no leader known, so the
    API refused before running anything) is retried."""
    end = time.monotonic() + retry_s
    while True:
        st, j = api(node, "POST", "/api/v1/instances/%s/rcon" % inst, {"command": command})
        if st == 200:
            return j.get("reply", "")
        if st != 503 or time.monotonic() > end:
            raise Failed("rcon %s %r via %s: %d %s" % (inst, command, node.name, st, j))
        time.sleep(0.2)


def instance(node, inst):
    st, j = api(node, "GET", "/api/v1/instances/" + inst)
    return j if st == 200 else {}


def own_metrics(node):
    """The node's own figures, live (/metrics?scope=node)."""
    return parse_metrics(node.metrics_text(scope="node"))


def ledger(node):
    st, j = api(node, "GET", "/api/v1/items?stale=1")
    if st != 200:
        raise ValueError("items %d" % st)
    return j


def item_row(j, name):
    for it in j.get("items", []):
        if it["name"] == name and it["quality"] == "normal":
            return it
    return {"stock": 0, "exported": 0, "delivered": 0, "in_flight": 0}


def contents(node, inst, unit):
    out = {}
    for line in rcon(node, inst, "/standin chest contents %d" % unit).splitlines():
        parts = line.split()
        if len(parts) == 2:
            out[parts[0]] = out.get(parts[0], 0) + int(parts[1])
    return out


def lua_ready(node, inst):
    def ok():
        try:
            return rcon(node, inst, "/sc rcon.print('ok')").strip() == "ok"
        except Failed:
            return False  # not running yet
    return wait_for(ok, "Lua commands on " + inst)


def direct_rcon(node, inst):
    """An RCON connection straight to the game (no node in the way, so it
    works while the cluster has no leader): port from the instance record,
    password from the server's command line."""
    j = instance(node, inst)
    with open("/proc/%d/cmdline" % j["pid"], "rb") as f:
        args = f.read().split(b"\0")
    pw = args[args.index(b"--rcon-password") + 1].decode()
    return su.Rcon(j["rcon_port"], pw)


class Stream:
    """The producer (into A) and the consumer (out of B), in threads."""

    def __init__(self, a_node, ua, b_node, ub):
        self.a_node, self.ua, self.b_node, self.ub = a_node, ua, b_node, ub
        self.a_rcon = direct_rcon(a_node, "a")
        self.a_lock = threading.Lock()
        self.put = {i: 0 for i in ITEMS}
        self.taken = {i: 0 for i in ITEMS}
        self.produce = threading.Event()
        self.consume = threading.Event()
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.batches = []   # (time, cumulative iron put)
        self.arrivals = []  # (time, cumulative iron arrived: taken + in B)
        self.errors = []

    def a_cmd(self, text):
        with self.a_lock:
            return self.a_rcon.cmd(text)

    def pause_producer(self):
        self.produce.clear()
        with self.a_lock:  # a put under way finishes
            pass

    def resume_producer(self):
        """A may have restarted: a new connection."""
        with self.a_lock:
            try:
                self.a_rcon.close()
            except OSError:
                pass
            self.a_rcon = direct_rcon(self.a_node, "a")
        self.produce.set()

    def producer(self):
        while not self.stop.is_set():
            if self.produce.wait(0.1):
                try:
                    for name, n in (("iron-plate", 50), ("copper-plate", 20)):
                        with self.a_lock:
                            if not self.produce.is_set():
                                break
                            got = int(self.a_rcon.cmd("/standin chest insert %d %s %d"
                                                      % (self.ua, name, n)).strip())
                        with self.lock:
                            self.put[name] += got
                            if name == "iron-plate":
                                self.batches.append((time.monotonic(), self.put[name]))
                except (Failed, OSError, ValueError, AssertionError) as e:
                    self.errors.append("put: %s" % e)
                time.sleep(0.25)

    def take_once(self):
        c = contents(self.b_node, "b", self.ub)
        now = time.monotonic()
        for name in ITEMS:
            if c.get(name, 0) > 0:
                got = int(rcon(self.b_node, "b", "/standin chest remove %d %s %d"
                               % (self.ub, name, c[name])).strip())
                with self.lock:
                    self.taken[name] += got
        with self.lock:
            self.arrivals.append((now, self.taken["iron-plate"]))

    def consumer(self):
        while not self.stop.is_set():
            if self.consume.wait(0.1):
                try:
                    self.take_once()
                except (Failed, OSError, ValueError) as e:
                    self.errors.append("take: %s" % e)
                time.sleep(0.3)

    def start(self):
        self.threads = [threading.Thread(target=self.producer, daemon=True),
                        threading.Thread(target=self.consumer, daemon=True)]
        for t in self.threads:
            t.start()
        self.produce.set()
        self.consume.set()

    def join(self):
        self.stop.set()
        for t in self.threads:
            t.join(30)

    def latencies(self):
        """Seconds from each put batch to the first observation that as
        many iron plates had arrived (FIFO order)."""
        out, j = [], 0
        for t, cum in self.batches:
            while j < len(self.arrivals) and self.arrivals[j][1] < cum:
                j += 1
            if j == len(self.arrivals):
                break
            out.append(max(0.0, self.arrivals[j][0] - t))
        return sorted(out)


def pct(v, p):
    return v[min(len(v) - 1, int(len(v) * p))] if v else float("nan")


def form(cl):
    nodes = {}
    for name in ("n1", "n2", "n3"):
        n = cl.node(name)
        write_config(n, name != "n3")
        nodes[name] = n
    j = nodes["n1"].init()
    cl.admin_token, cl.join_token = j["admin_token"], j["join_token"]
    nodes["n1"].start(flags=False)
    wait_for(lambda: (nodes["n1"].raft().get("leader") or {}).get("name") == "n1", "n1 leads")
    for name in ("n2", "n3"):
        nodes[name].start(flags=False)
        wait_for(lambda: cl.join(nodes[name], nodes["n1"]) is not None, "%s joins" % name)
    cl.wait_voters(3)
    return nodes


def setup_instances(nodes):
    n1 = nodes["n1"]
    for inst, node in (("a", "n1"), ("b", "n2")):
        st, j = api(n1, "POST", "/api/v1/instances", {"name": inst, "node": node})
        check(st == 201, "create %s: %d %s" % (inst, st, j))
        st, j = api(n1, "POST", "/api/v1/instances/%s/start" % inst, {})
        check(st == 200, "start %s: %d %s" % (inst, st, j))
    for inst, node in (("a", "n1"), ("b", "n2")):
        wait_for(lambda: instance(nodes[node], inst).get("status") == "running",
                 "instance %s running" % inst)
        lua_ready(nodes[node], inst)
    st, j = api(n1, "PUT", "/api/v1/items", {"mode": "proportional", "timeout_ms": 30000})
    check(st == 200, "items config: %d %s" % (st, j))


def make_chests(nodes):
    a, b = nodes["n1"], nodes["n2"]
    ua = int(rcon(a, "a", "/standin chest create steel-chest 1 1").strip())
    ub = int(rcon(b, "b", "/standin chest create steel-chest 1 1").strip())
    r = rcon(a, "a", "/sc rcon.print(remote.call('clusterd', 'subspace_chest', "
             "{unit = %d, kind = 'export'}))" % ua)
    check(r.strip() == "ok", "export chest registered: %r" % r)
    wants = ", ".join("{name = '%s', count = 2000}" % i for i in ITEMS)
    r = rcon(b, "b", "/sc rcon.print(remote.call('clusterd', 'subspace_chest', "
             "{unit = %d, kind = 'import', wants = {%s}}))" % (ub, wants))
    check(r.strip() == "ok", "import chest registered: %r" % r)
    return ua, ub


def metrics_check(nodes, want):
    """The cluster-wide /metrics of n1 carries the ledger's figures."""
    def ok():
        m = parse_metrics(nodes["n1"].metrics_text(scope=None))
        return (metric(m, "clusterd_items_delivered_total") == sum(want.values()) and
                all(metric(m, "clusterd_items_stock", item=i) == 0 for i in want) and
                metric(m, "clusterd_items_exported_total") == sum(want.values()))
    wait_for(ok, "/metrics: the ledger's delivered, exported and stock figures")


def first_transfer(nodes, ua, ub):
    a, b = nodes["n1"], nodes["n2"]
    t0 = time.monotonic()
    rcon(a, "a", "/standin chest insert %d iron-plate 300" % ua)
    rcon(a, "a", "/standin chest insert %d copper-plate 120" % ua)
    wait_for(lambda: contents(b, "b", ub) == {"iron-plate": 300, "copper-plate": 120},
             "the first items in B's import chest")
    dt = time.monotonic() - t0
    check(contents(a, "a", ua) == {}, "A's export chest emptied")
    log("first transfer: 420 items A -> B in %.2f s" % dt)
    metrics_check(nodes, {"iron-plate": 300, "copper-plate": 120})
    return dt


def take_all(b, ub, taken):
    for name, c in contents(b, "b", ub).items():
        got = int(rcon(b, "b", "/standin chest remove %d %s %d" % (ub, name, c)).strip())
        taken[name] = taken.get(name, 0) + got


def register(node, inst, unit, kind, wants=None):
    w = ""
    if wants:
        w = ", wants = {%s}" % ", ".join("{name = '%s', count = %d}" % x for x in wants)
    r = rcon(node, inst, "/sc rcon.print(remote.call('clusterd', 'subspace_chest', "
             "{unit = %d, kind = '%s'%s}))" % (unit, kind, w))
    check(r.strip() == "ok", "%s chest %d on %s registered: %r" % (kind, unit, inst, r))


BURST_CHESTS = 3
BURST_STACKS = 45  # per chest; a steel chest holds 48


def burst(nodes, ua, ub, taken, put):
    """BURST_CHESTS export chests of BURST_STACKS stacks each on A at once,
    as many import chests wanting them on B: the time until all arrived."""
    a, b = nodes["n1"], nodes["n2"]
    n = BURST_STACKS * STACK
    ea = [int(rcon(a, "a", "/standin chest create steel-chest %d 5" % (10 + i)).strip())
          for i in range(BURST_CHESTS)]
    eb = [int(rcon(b, "b", "/standin chest create steel-chest %d 5" % (10 + i)).strip())
          for i in range(BURST_CHESTS)]
    for u in eb:
        register(b, "b", u, "import", [("iron-plate", n)])
    take_all(b, ub, taken)
    register(b, "b", ub, "import", [])  # the stream's chest waits
    for u in ea:
        rcon(a, "a", "/standin chest insert %d iron-plate %d" % (u, n))
    put["iron-plate"] = put.get("iron-plate", 0) + n * BURST_CHESTS
    t0 = time.monotonic()
    for u in ea:
        register(a, "a", u, "export")
    wait_for(lambda: sum(contents(b, "b", u).get("iron-plate", 0) for u in eb) >=
             n * BURST_CHESTS, "the burst in B")
    dt = time.monotonic() - t0
    stacks = BURST_CHESTS * BURST_STACKS
    log("burst: %d stacks A -> ledger -> B in %.2f s: %.1f stacks/s" % (stacks, dt, stacks / dt))
    for u in eb:
        register(b, "b", u, "none")
        got = int(rcon(b, "b", "/standin chest remove %d iron-plate %d" % (u, n)).strip())
        taken["iron-plate"] = taken.get("iron-plate", 0) + got
    for u in ea:
        register(a, "a", u, "none")
    register(b, "b", ub, "import", [(i, 2000) for i in ITEMS])
    return stacks / dt


def transfer_leader_to(cl, target):
    def moved():
        ld = cl.leader()
        if ld is target:
            return True
        if ld is not None:
            api(ld, "POST", "/api/v1/cluster/transfer-leader", {"target": target.name})
        return False
    wait_for(moved, "leadership on %s" % target.name)


def restart(cl, n):
    n.start(flags=False)
    wait_for(lambda: n.raft().get("leader") is not None, "%s sees a leader" % n.name)


def faults(cl, nodes, stream):
    n3 = nodes["n3"]
    for i in range(LEADER_KILLS):
        transfer_leader_to(cl, n3)
        time.sleep(1.0)
        n3.kill9()
        ld = cl.wait_leader(exclude=n3)
        log("leader kill %d/%d: n3 killed, %s leads" % (i + 1, LEADER_KILLS, ld.name))
        time.sleep(1.0)
        restart(cl, n3)
    for i in range(NODE_KILLS):
        ld = cl.leader()
        if ld is n3:
            transfer_leader_to(cl, nodes["n1"])
        n3.kill9()
        log("node kill %d/%d: follower n3 killed" % (i + 1, NODE_KILLS))
        time.sleep(2.0)
        restart(cl, n3)
    quorum_loss(cl, nodes, stream)
    kill_b_mid_grant(nodes, stream)


def quorum_loss(cl, nodes, stream):
    """n2 and n3 frozen (SIGSTOP): n1 alone cannot commit, so A's exports
    wait in n1's local outbox. Then n1 itself is killed (kill -9) with the
    exports only in its outbox (A saved after handing them over, so A's
    restart keeps them handed over); n1 restarts, n2 and n3 thaw, and the
    outbox drains from n1's disk."""
    n1, n2, n3 = nodes["n1"], nodes["n2"], nodes["n3"]
    stream.consume.clear()
    time.sleep(1.0)
    for n in (n2, n3):
        n.proc.send_signal(signal.SIGSTOP)
    try:
        wait_for(lambda: metric(own_metrics(n1), "clusterd_items_outbox_exports") >= 3,
                 "exports waiting in n1's outbox")
        stream.pause_producer()
        # The game's own outbox must be empty (every export acknowledged
        # by n1), then a save makes A's side of the hand-over durable.
        wait_for(lambda: "outbox=0" in stream.a_cmd(
            "/sc local h = remote.call('clusterd', 'hello') "
            "rcon.print('outbox=' .. tostring(h.outbox))"), "A's exports acknowledged")
        stream.a_cmd("/server-save")
        held = metric(own_metrics(n1), "clusterd_items_outbox_exports")
        n1.kill9()
        log("quorum lost: %d exports in n1's outbox; n1 killed" % held)
        restart_alone(n1)
    finally:
        for n in (n2, n3):
            n.proc.send_signal(signal.SIGCONT)
    wait_for(lambda: metric(own_metrics(n1), "clusterd_items_outbox_exports") == 0,
             "n1's outbox to drain after its restart")
    log("quorum back: n1's outbox drained from its disk")
    wait_for(lambda: instance(n1, "a").get("status") == "running", "A running again")
    lua_ready(n1, "a")
    stream.resume_producer()
    stream.consume.set()


def restart_alone(n):
    """Starts a killed node without waiting for a leader (it has none)."""
    n.start(flags=False)


def kill_b_mid_grant(nodes, stream):
    """SIGKILL of B's server while a grant to it is in flight. The test's
    own removals from B's chest are paused and B saved first, so what B
    loses to the crash is only what the ledger has not confirmed."""
    n1, n2 = nodes["n1"], nodes["n2"]
    stream.consume.clear()
    time.sleep(1.0)  # a take under way finishes
    saves = instance(n2, "b").get("saves", 0)
    rcon(n2, "b", "/server-save")
    wait_for(lambda: instance(n2, "b").get("saves", 0) > saves, "B saved")
    wait_for(lambda: ledger(n1).get("grants_in_flight", 0) > 0, "a grant in flight")
    pid = instance(n2, "b").get("pid", 0)
    check(pid > 0, "B's pid")
    os.kill(pid, signal.SIGKILL)
    log("B (pid %d) killed with a grant in flight" % pid)
    wait_for(lambda: instance(n2, "b").get("status") == "running" and
             instance(n2, "b").get("pid") not in (0, pid), "B restarted")
    lua_ready(n2, "b")
    stream.consume.set()


def settle(nodes, stream, ua):
    """Stops putting, waits for A's chest, the outbox and the grants to
    drain and the stock to reach B, then stops taking."""
    a = nodes["n1"]
    stream.produce.clear()
    time.sleep(1.0)

    def quiet():
        if contents(a, "a", ua):
            return False
        j = ledger(a)
        if j.get("grants_in_flight", 0) or j.get("items_in_flight", 0):
            return False
        if any(item_row(j, i)["stock"] for i in ITEMS):
            return False
        for n in nodes.values():
            if n.alive() and metric(own_metrics(n), "clusterd_items_outbox_exports"):
                return False
        return True
    wait_for(quiet, "the ledger to settle", timeout=300)
    stream.join()


def count(nodes, stream, ua, ub, extra):
    a, b = nodes["n1"], nodes["n2"]
    ca, cb = contents(a, "a", ua), contents(b, "b", ub)
    j = ledger(a)
    ok = True
    for name in ITEMS:
        it = item_row(j, name)
        put = stream.put[name] + extra["put"].get(name, 0)
        taken = stream.taken[name] + extra["taken"].get(name, 0)
        lhs = put
        rhs = taken + ca.get(name, 0) + cb.get(name, 0) + it["stock"] + it["in_flight"]
        log("%s: put %d = taken %d + A %d + B %d + stock %d + in flight %d (%s)"
            % (name, put, taken, ca.get(name, 0), cb.get(name, 0), it["stock"],
               it["in_flight"], "ok" if lhs == rhs else "DIFFERS by %d" % (lhs - rhs)))
        ok = ok and lhs == rhs
        check(it["exported"] == put - ca.get(name, 0),
              "%s exported %d == put %d - left in A %d" % (name, it["exported"], put,
                                                          ca.get(name, 0)))
        check(it["delivered"] == taken + cb.get(name, 0),
              "%s delivered %d == taken %d + in B %d" % (name, it["delivered"], taken,
                                                         cb.get(name, 0)))
        check(it["exported"] == it["stock"] + it["delivered"] + it["in_flight"],
              "%s: the invariant" % name)
    check(ok, "every item accounted for")
    # Every node applied the same ledger.
    for n in nodes.values():
        jj = ledger(n)
        check([item_row(jj, i) for i in ITEMS] == [item_row(j, i) for i in ITEMS],
              "%s's ledger equals n1's" % n.name)


def ctl_checks(nodes):
    """clusterctl items list | show | history against n3 (no instances)."""
    n3, j = nodes["n3"], ledger(nodes["n1"])
    iron = item_row(j, "iron-plate")
    r = n3.ctl("items", "list")
    check(r.returncode == 0 and "iron-plate" in r.stdout and
          str(iron["delivered"]) in r.stdout, "clusterctl items list:\n" + r.stdout + r.stderr)
    r = n3.ctl("items", "show", "iron-plate:normal")
    check(r.returncode == 0 and "exported   %d" % iron["exported"] in r.stdout,
          "clusterctl items show:\n" + r.stdout + r.stderr)
    r = n3.ctl("items", "history", "copper-plate")
    kinds = {line.split()[1] for line in r.stdout.splitlines()[1:] if line.strip()}
    check(r.returncode == 0 and {"export", "grant", "deliver"} <= kinds,
          "clusterctl items history kinds %s" % kinds)
    r = n3.ctl("items", "show", "no-such-item")
    check(r.returncode == 3, "clusterctl items show of an unknown item exits 3")
    r = n3.ctl("items", "list", token="bogus.token")
    check(r.returncode != 0, "clusterctl items list without a valid token fails")


def permission_checks(nodes):
    """A read token reads the ledger and may not configure it (403 naming
    item.write); a bad mode is 400."""
    n1 = nodes["n1"]
    st, j = api(n1, "POST", "/api/v1/tokens", {"kind": "api", "role": "read", "name": "ro"})
    check(st == 201, "read token: %d %s" % (st, j))
    tok = j["token"]
    st, _, body = n1.req("GET", "/api/v1/items", token=tok)
    check(st == 200, "a read token reads /api/v1/items: %d" % st)
    st, _, body = n1.req("PUT", "/api/v1/items", body=b'{"mode":"simple"}', token=tok)
    check(st == 403 and b"item.write" in body, "a read token may not configure: %d %r"
          % (st, body[:120]))
    st, j = api(n1, "PUT", "/api/v1/items", {"mode": "fastest"})
    check(st == 400, "an unknown mode is 400: %d %s" % (st, j))


def ipc_line(payload):
    text = json.dumps(payload).replace("\\", "\\\\").replace("'", "\\'")
    return "/sc print('\\f$ipc:items?j%s')" % text


def bad_input(nodes):
    a = nodes["n1"]
    j0 = ledger(a)
    r0 = j0["refused"]
    m0 = own_metrics(a)
    base = 10 ** 12
    lines = [
        {"id": base + 1, "type": "export", "seq": 10 ** 9,
         "items": [{"name": "iron-plate", "count": 5, "quality": "normal"}]},
        {"id": base + 2, "type": "export", "seq": 1,
         "items": [{"name": "Iron Plate", "count": 5, "quality": "normal"}]},
        {"id": base + 3, "type": "export", "seq": 1,
         "items": [{"name": "iron-plate", "count": 2 ** 40, "quality": "normal"}]},
        {"id": base + 4, "type": "export", "seq": 1,
         "items": [{"name": "iron-plate", "count": -5, "quality": "normal"}]},
        {"id": base + 5, "type": "nonsense"},
    ]
    for p in lines:
        rcon(a, "a", ipc_line(p))

    def refused():
        r = ledger(a)["refused"]
        m = own_metrics(a)
        return (r["forged_seq"] >= r0["forged_seq"] + 1 and
                r["malformed"] >= r0["malformed"] + 2 and
                metric(m, "clusterd_items_ipc_malformed_total") >=
                metric(m0, "clusterd_items_ipc_malformed_total") + 2 and
                metric(m, "clusterd_items_exports_dead_total") >=
                metric(m0, "clusterd_items_exports_dead_total") + 3)
    wait_for(refused, "the bad input refused and counted")
    j1 = ledger(a)
    check([item_row(j1, i) for i in ITEMS] == [item_row(j0, i) for i in ITEMS],
          "the ledger unchanged by bad input")
    log("bad input refused: %s; node-side malformed %d" % (
        {k: j1["refused"][k] - r0[k] for k in r0},
        metric(own_metrics(a), "clusterd_items_ipc_malformed_total")))


def kill_leftovers(tmp):
    """Game servers of this test's nodes that outlived them (a node killed
    with -9 leaves its servers behind): killed by PID."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                if tmp.encode() in f.read():
                    os.kill(int(pid), signal.SIGKILL)
        except OSError:
            pass


def main():
    with Cluster("items") as cl:
        try:
            run_all(cl)
        finally:
            kill_leftovers(cl.tmp)


def run_all(cl):
    nodes = form(cl)
    setup_instances(nodes)
    ua, ub = make_chests(nodes)
    first_transfer(nodes, ua, ub)
    extra = {"put": {"iron-plate": 300, "copper-plate": 120}, "taken": {}}
    rate = burst(nodes, ua, ub, extra["taken"], extra["put"])
    stream = Stream(nodes["n1"], ua, nodes["n2"], ub)
    stream.start()
    t0 = time.monotonic()
    time.sleep(3.0)
    faults(cl, nodes, stream)
    time.sleep(3.0)
    settle(nodes, stream, ua)
    dur = time.monotonic() - t0
    # A failed put or take may or may not have moved items: the count
    # could not be exact, so any error fails the test.
    check(not stream.errors, "stream errors: %s" % stream.errors[:3])
    count(nodes, stream, ua, ub, extra)
    ctl_checks(nodes)
    permission_checks(nodes)
    lat = stream.latencies()
    log("stream: %d iron + %d copper plates over %.0f s with %d leader kills, %d node "
        "kills, 1 instance kill; export->import latency p50 %.2f s p99 %.2f s (%d batches)"
        % (stream.put["iron-plate"], stream.put["copper-plate"], dur, LEADER_KILLS,
           NODE_KILLS, pct(lat, 0.5), pct(lat, 0.99), len(lat)))
    log("throughput (burst): %.1f stacks/s" % rate)
    # n1 forwards its proposals: a refusal must come back through the
    # forwarding as an answer, not be mistaken for a broken message.
    transfer_leader_to(cl, nodes["n2"])
    bad_input(nodes)


if __name__ == "__main__":
    run(main)
