"""The example plugin, plugins/chat-relay, in a 3-node cluster with one
stand-in server per node: a chat message typed in the instance on n1
appears in the instances on n2 and n3 (a connected player there receives
it, shown by the plugin's own Lua module, which the instance manager
patched into every save), and the relayed line is not relayed again. Prints the relay latency
(chat line typed -> seen by the other servers' players)."""
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..", "..")
sys.path.insert(0, os.path.join(HERE, "..", "cluster"))
from cluster_util import BUILD, Cluster, check, log, run, wait_for  # noqa: E402

RELAY = os.path.abspath(os.path.join(ROOT, "plugins", "chat-relay", "relay.py"))
RELAY_LUA = os.path.abspath(os.path.join(ROOT, "plugins", "chat-relay", "lua"))
INSTALL = os.path.join(BUILD, "factorio-standin")


def free_block(count):
    """count consecutive ports free now, below the kernel's ephemeral range
    (so no outgoing connection takes one meanwhile), TCP and UDP."""
    import random
    import socket
    while True:
        base = random.randrange(20000, 32000 - count)
        try:
            for p in range(base, base + count):
                for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                    with socket.socket(socket.AF_INET, kind) as sk:
                        sk.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue


def configure(n):
    base = free_block(10)
    os.makedirs(n.dir, exist_ok=True)
    with open(os.path.join(n.dir, "clusterd.json"), "w") as f:
        json.dump({"node_name": n.name, "bind": n.bind, "http": n.http,
                   "factorio_dir": INSTALL,
                   "instance_ports": "%d-%d" % (base, base + 9)}, f)


def rcon(n, inst, cmd):
    st, _, body = n.req("POST", "/api/v1/instances/%s/rcon" % inst,
                        body=json.dumps({"command": cmd}).encode(), timeout=30)
    return json.loads(body).get("reply", "") if st == 200 else None


def status(n, inst):
    st, _, body = n.get("/api/v1/instances/%s" % inst)
    return json.loads(body).get("status") if st == 200 else None


def main():
    with Cluster("chat") as cl:
        n1 = cl.node("n1")
        configure(n1)
        j = n1.init()
        cl.admin_token, cl.join_token = j["admin_token"], j["join_token"]
        n1.start(flags=False)
        wait_for(lambda: (n1.raft().get("leader") or {}).get("name") == "n1", "n1 to lead")
        for name in ("n2", "n3"):
            n = cl.node(name)
            configure(n)
            n.start(flags=False)
            cl.join(n, n1)
        cl.wait_voters(3)
        nodes = {"a": n1, "b": cl.nodes[1], "c": cl.nodes[2]}
        # Registered before the servers start, so its game side (--lua) is
        # patched into their saves.
        r = cl.nodes[1].ctl("plugin", "add", "chat-relay", "--perms",
                            "events.read,instance.read,instance.write", "--lua", RELAY_LUA,
                            "--", sys.executable, RELAY)
        check(r.returncode == 0, "plugin add: %s%s" % (r.stdout, r.stderr))
        for inst, n in nodes.items():
            st, _, body = n1.req("POST", "/api/v1/instances",
                                 body=json.dumps({"name": inst, "node": n.name}).encode())
            check(st == 201, "create %s on %s: %d %r" % (inst, n.name, st, body))
            st, _, body = n1.req("POST", "/api/v1/instances/%s/start" % inst)
            check(st == 200, "start %s: %d %r" % (inst, st, body))
        for inst in nodes:
            wait_for(lambda inst=inst: status(n1, inst) == "running", "%s to run" % inst)
        # A player on each server: alice types, bob reads what reaches him.
        wait_for(lambda: "alice" in (rcon(n1, "a", "/standin join alice") or ""), "alice joins a")
        for inst in ("b", "c"):
            wait_for(lambda inst=inst: "bob" in (rcon(n1, inst, "/standin join bob") or ""),
                     "bob to join %s" % inst)

        for n in cl.nodes:
            wait_for(lambda n=n: "following %s's events" % n.name in n.log_text(),
                     "the relay on %s to follow its events" % n.name)

        lat = []
        for i in range(5):
            text = "hello-%d-%d" % (i, time.time_ns() % 100000)
            t0 = time.monotonic()
            check(rcon(n1, "a", "/standin chat alice %s" % text) is not None,
                  "alice chats in a")
            for inst in ("b", "c"):
                wait_for(lambda inst=inst: "[a] alice: %s" % text in
                         (rcon(n1, inst, "/standin messages bob") or ""),
                         "the message to reach bob in %s" % inst, interval=0.02)
            lat.append(time.monotonic() - t0)
        # Nothing relayed twice: each of b and c got each message once, and
        # a got none back.
        for inst in ("b", "c"):
            got = rcon(n1, inst, "/standin messages bob") or ""
            check(got.count("] alice: hello-") == 5,
                  "bob in %s got each message once: %r" % (inst, got))
        # The plugin's game side was patched in and showed each message.
        for inst in ("b", "c"):
            st = rcon(n1, inst, "/sc rcon.print(remote.call('clusterd', 'chat_relay_status'))")
            check((st or "").strip() == "5", "the plugin's Lua module in %s showed 5 (%r)"
                  % (inst, st))
        got = rcon(n1, "a", "/standin messages alice") or ""
        check("[a] alice" not in got, "a did not get its own chat back: %r" % got)
        lat.sort()
        log("chat relay latency a -> b and c (both received), 5 messages: "
            "p50 %.0f ms, max %.0f ms" % (lat[2] * 1000, lat[-1] * 1000))


if __name__ == "__main__":
    run(main)
