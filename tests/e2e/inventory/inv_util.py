"""Helpers for the inventory-sync end-to-end tests (issue 14): a cluster
of clusterd nodes with the Factorio stand-in as their install, one
instance per node, and a player driven with /standin over RCON."""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "cluster"))
from cluster_util import (BUILD, Cluster, Failed, check, log, wait_for,  # noqa: E402,F401
                          free_port, metric)

INSTALL = os.path.join(BUILD, "factorio-standin")


def use_version(version, tmp):
    """Makes the nodes run a stand-in install of another Factorio version
    (the build's copied by make-install), e.g. "1.1.110"."""
    global INSTALL
    import subprocess
    src = os.path.join(os.environ.get("CLUSTERD_SRC", os.path.join(HERE, "..", "..", "..")),
                       "tools", "factorio-standin", "make-install")
    dst = os.path.join(tmp, "factorio-" + version)
    subprocess.run([src, INSTALL, dst, version], check=True, capture_output=True)
    INSTALL = dst


def ports_block(n=10):
    """n consecutive ports, free right now (TCP and UDP)."""
    import random
    import socket
    for _ in range(200):
        base = random.randrange(20000, 32000 - n)
        socks = []
        try:
            for p in range(base, base + n):
                t = socket.socket()
                t.bind(("127.0.0.1", p))
                socks.append(t)
                u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                u.bind(("127.0.0.1", p))
                socks.append(u)
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise Failed("no free port block")


def write_config(node):
    path = os.path.join(node.dir, "clusterd.json")
    cfg = {}
    if os.path.exists(path):
        cfg = json.load(open(path))
    base = ports_block()
    cfg.update({"node_name": node.name, "bind": node.bind, "http": node.http,
                "factorio_dir": globals()["INSTALL"],
                "instance_ports": "%d-%d" % (base, base + 9)})
    os.makedirs(node.dir, exist_ok=True)
    json.dump(cfg, open(path, "w"))


def form(c, count=3):
    """A cluster of count nodes, each with the stand-in as its install."""
    n1 = c.node("n1")
    j = n1.init()
    c.admin_token = j["admin_token"]
    c.join_token = j["join_token"]
    write_config(n1)
    n1.start(flags=False)
    wait_for(lambda: (n1.raft().get("leader") or {}).get("name") == "n1", "n1 to lead")
    for i in range(2, count + 1):
        n = c.node("n%d" % i)
        write_config(n)
        n.start(flags=False)
        c.join(n, n1)
    c.wait_voters(min(count, 3))
    return c.nodes


def ctl_ok(node, *args, timeout=60):
    r = node.ctl(*args, timeout=timeout)
    if r.returncode != 0:
        raise Failed("clusterctl %s: %s%s" % (" ".join(args), r.stdout, r.stderr))
    return r.stdout


def instance_status(node, name):
    st, _, body = node.get("/api/v1/instances/" + name)
    if st != 200:
        return None
    return json.loads(body).get("status")


def start_instance(via, name, on):
    ctl_ok(via, "instance", "create", name, on.name)
    ctl_ok(via, "instance", "start", name)
    wait_for(lambda: instance_status(via, name) == "running", "%s to run" % name)
    # The node's IPC handshake (hello) is done once the framework answers.
    wait_for(lambda: rcon(via, name, "/sc rcon.print('ok')").strip() == "ok",
             "%s to answer Lua commands" % name)
    st, _, body = via.get("/api/v1/instances/" + name)
    return json.loads(body)["id"]


def rcon(via, name, cmd):
    r = via.ctl("instance", "send-rcon", name, cmd)
    if r.returncode != 0:
        raise ValueError("send-rcon %s %r: %s" % (name, cmd, r.stderr))
    return r.stdout


def lock(via, player):
    st, _, body = via.get("/api/v1/inventories/" + player)
    if st == 404:
        return None
    if st != 200:
        raise ValueError("inventory show %d: %r" % (st, body[:200]))
    return json.loads(body)


def dump(via, inst, player):
    return json.loads(rcon(via, inst, "/standin dump " + player))


def controller(via, inst, player):
    return int(rcon(via, inst, "/standin controller " + player).strip())


def lua_long(s):
    """s as a Lua long string literal."""
    level = "=" * 3
    while ("]" + level + "]") in s:
        level += "="
    return "[" + level + "[" + s + "]" + level + "]"


def synced_on(via, inst, inst_id, player="alice"):
    """A predicate: the lock is held by inst_id and the player plays there
    (character controller, no inventory-sync GUI)."""
    def ok():
        l = lock(via, player)
        return (l and l["held"] and l["instance"] == inst_id and
                controller(via, inst, player) == 1 and
                rcon(via, inst, "/standin gui " + player).strip() == "")
    return ok


def released(via, gen, player="alice"):
    """A predicate: the lock is free and the stored record has gen."""
    def ok():
        l = lock(via, player)
        return l and not l["held"] and l.get("stored_gen") == gen and l
    return ok


def ipc(via, inst, msg):
    """Prints an IPC line in the game as a module would (a crafted one)."""
    rcon(via, inst, "/sc print('\\f$ipc:inventory?j' .. %s)" % lua_long(json.dumps(msg)))


def same(want, got, what):
    """Checks two /standin dumps are equal, logging what differs."""
    if want != got:
        for k in want:
            if want.get(k) != got.get(k):
                log("differs in %s:\n  want %s\n  got  %s" % (k, want[k], got.get(k)))
        raise Failed(what)
    log("ok: " + what)


def run(main):
    """Runs a test's main: exit 1 with the reason on a failed check."""
    try:
        main()
    except Failed as e:
        print("FAIL:", e)
        sys.exit(1)
    print("PASS")
