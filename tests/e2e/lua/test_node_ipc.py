"""The game -> node channel through a real node and the stand-in (issue
12): one node runs one instance. A player who joins is listed in
`instance show`; the join is counted once in /api/v1/players although the
game's module re-sends and the node sees duplicates. Then the server is
saved, a second player joins (an id after the save), and the server is
killed with SIGKILL: the manager restarts it from the save, whose module
uses that id again for the next event. The node must learn this through
hello and handle the new event (a third player is listed), not drop it as
a duplicate. The online list starts empty after the restart. Runs on a 2.0
install and on a 1.1 install (make-install)."""
import json
import os
import signal
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "../../.."))
sys.path.insert(0, os.path.join(ROOT, "tests/e2e/cluster"))
sys.path.insert(0, HERE)
from cluster_util import BUILD, Cluster, check, log, wait_for  # noqa: E402
import lua_util  # noqa: E402
from lua_util import port_pair  # noqa: E402


def run(install, family, version):
    with Cluster("luaipc") as cl:
        n1 = cl.node("n1")
        os.makedirs(n1.dir)
        base = port_pair()
        with open(os.path.join(n1.dir, "clusterd.json"), "w") as f:
            json.dump({"factorio_dir": install,
                       "instance_ports": "%d-%d" % (base, base + 1)}, f)
        cl.admin_token = n1.init()["admin_token"]
        n1.start()

        def ctl(*args):
            r = n1.ctl(*args)
            if r.returncode != 0:
                raise ValueError(r.stderr)
            return r.stdout

        def show():
            st, _, body = n1.get("/api/v1/instances/w")
            return json.loads(body) if st == 200 else {}

        def rcon(cmd):
            return ctl("instance", "send-rcon", "w", cmd).strip()

        def players():
            st, _, body = n1.get("/api/v1/players")
            return {p["name"]: p for p in json.loads(body)["players"]} if st == 200 else {}

        for args in (["instance", "create", "w"], ["instance", "assign", "w", "n1"],
                     ["instance", "start", "w"]):
            wait_for(lambda: n1.ctl(*args).returncode == 0, " ".join(args))
        wait_for(lambda: show().get("status") == "running", "the instance to run")
        check(show().get("factorio_version") == version,
              "instance show names the install's version (%s)" % version)
        # The default lua_dir is found next to the binaries.
        check("/bin/../share/clusterd/lua into w.zip" in n1.log_text(),
              "the node patched the save from <bin>/../share/clusterd/lua (no lua_dir set)")

        check(rcon("/standin join alice") == "ok", "alice joins")
        wait_for(lambda: show().get("players") == ["alice"], "alice listed")
        check(show()["players"] == ["alice"], "instance show lists alice")
        # Time passes with alice online: the module re-sends nothing that
        # was acknowledged, and a re-send that crosses an ack is dropped.
        rcon("/standin tick 700")
        wait_for(lambda: players().get("alice", {}).get("joins") == 1, "alice counted")
        check(players()["alice"]["joins"] == 1, "alice's join counted once")

        # Save; bob joins after the save; the server dies without saving.
        def next_id():
            return json.loads(rcon('/sc rcon.print(remote.call("clusterd","call_json","hello",nil))'))["next_id"]
        saves = show().get("saves", 0)
        rcon("/server-save")
        wait_for(lambda: show().get("saves", 0) > saves, "the save to finish")
        k = next_id()
        check(rcon("/standin join bob") == "ok", "bob joins after the save")
        # (other modules, inventory sync for one, may send on a join too)
        check(next_id() > k, "bob's join took id %d (and maybe more)" % k)
        wait_for(lambda: sorted(show().get("players", [])) == ["alice", "bob"], "bob listed")
        pid = show()["pid"]
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: show().get("status") == "running" and show().get("pid") not in (pid, 0),
                 "the restart after SIGKILL")
        check(show().get("players") == [], "nobody is online in the restarted server")
        # The game never said they left: the node ended their sessions
        # when the process died.
        wait_for(lambda: all(players().get(n, {}).get("online_ms", 0) > 0 for n in ("alice", "bob")),
                 "alice's and bob's time recorded at the crash")
        check(players()["bob"]["online_ms"] > 0, "bob's session ended with the process")
        # The restarted game's next id is the one bob's join had: carol's
        # join reuses it and must still be handled.
        wait_for(lambda: next_id() == k, "the restarted game's hello")
        check(next_id() == k, "the restarted game's next id is bob's (%d)" % k)
        check(rcon("/standin join carol") == "ok", "carol joins the restarted server")
        check(next_id() > k, "carol's join reused id %d" % k)
        wait_for(lambda: show().get("players") == ["carol"], "carol listed")
        check(show()["players"] == ["carol"], "carol is listed (a reused id after the crash was not dropped)")
        wait_for(lambda: players().get("carol", {}).get("joins") == 1, "carol counted")
        p = players()
        check(p["carol"]["joins"] == 1 and p["bob"]["joins"] == 1 and p["alice"]["joins"] == 1,
              "each join counted once: %s" % {k: v["joins"] for k, v in p.items()})
        out = ctl("player", "list").splitlines()
        check(out[0].split()[:3] == ["NAME", "JOINS", "ONLINE"] and
              [l.split()[0] for l in out[1:]] == ["alice", "bob", "carol"] and
              all(l.split()[1] == "1" for l in out[1:]),
              "clusterctl player list: alice, bob, carol, one join each")
        rcon("/standin tick 120")
        check(rcon("/standin leave carol") == "ok", "carol leaves")
        wait_for(lambda: players().get("carol", {}).get("online_ms", 0) >= 2000, "carol's time")
        check(show().get("players") == [], "nobody listed after carol left")
        check(show().get("ipc_received", 0) >= 1, "ipc counters in instance show")
        ctl("instance", "stop", "w")
        wait_for(lambda: show().get("status") == "stopped", "the stop")
        log("test_node_ipc on %s (%s): ok" % (family, version))


def main():
    lua_util.on_both_versions(BUILD, run)
    log("test_node_ipc: ok")


if __name__ == "__main__":
    main()
