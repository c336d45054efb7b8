"""End to end (issue 14): inventory sync under contention and failures,
three nodes with stand-ins, one instance per node.

1. The same player joins A and B at the same moment: one gets the lock,
   the other waits as a spectator with a "waiting" bar, and gets the
   inventory the first one left with; nothing is lost.
2. The holder's game crashes (kill -9) and restarts from an older save in
   which the player still had an older inventory: a stale upload from it
   is refused, and on the next join the newer stored inventory wins. A
   game that crashes with the player online loses the lock on restart.
3. The leader is killed during a download (many small chunks, so it takes
   seconds) and during an upload: both complete, once.
4. The holder's node is killed for good: the lock expires after the
   gossip threshold, and the player joins elsewhere with their last
   uploaded inventory.
5. While another instance holds the lock, the waiting player takes a
   temporary inventory (/inventory-temporary), gathers items, and when the
   lock comes free the stored inventory comes in with those items merged.
"""
import json
import os
import signal
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from inv_util import (Cluster, check, run, controller, ctl_ok, dump, form, ipc,  # noqa: E402
                      lock, log, metric, rcon, released, same, start_instance, synced_on,
                      wait_for)

# Short thresholds so the test does not wait long; small download chunks
# (Clusterio's 1000 characters) so a download lasts long enough to kill a
# node in the middle of it.
os.environ["CLUSTERD_INVENTORY_NODE_DEAD_MS"] = "3000"
os.environ["CLUSTERD_INVENTORY_STOPPED_MS"] = "1000"
os.environ["CLUSTERD_INVENTORY_CHUNK_COST"] = "1000"

BP = "0eNqrVkrKKU0tKMrMK1GyqlZKLi0qys9LVbIyMjA0NrA0MDIwNjAzNqgFAL5+DwY="


def held(via, player="alice"):
    l = lock(via, player)
    return l if l and l["held"] else None


def contention(n1, ids):
    # alice has a stored inventory (A's), then joins A and B at once.
    rcon(n1, "ia", "/standin join alice")
    wait_for(synced_on(n1, "ia", ids["ia"]), "alice synced on A")
    rcon(n1, "ia", "/standin give alice copper-plate 123")
    rcon(n1, "ia", "/standin leave alice")
    wait_for(released(n1, 1), "A's upload")
    ts = [threading.Thread(target=rcon, args=(n1, i, "/standin join alice")) for i in ("ia", "ib")]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    first = wait_for(lambda: held(n1), "someone to hold alice's lock")
    winner = "ia" if first["instance"] == ids["ia"] else "ib"
    loser = "ib" if winner == "ia" else "ia"
    wait_for(synced_on(n1, winner, ids[winner]), "alice synced on the winner " + winner)

    def waiting():
        return (controller(n1, loser, "alice") == 5 and
                "Waiting" in rcon(n1, loser, "/standin gui alice"))
    wait_for(waiting, "alice waiting as a spectator on " + loser)
    check(held(n1)["instance"] == ids[winner], "the lock stays with %s" % winner)
    rcon(n1, winner, "/standin give alice iron-gear-wheel 42")
    left_with = dump(n1, winner, "alice")
    rcon(n1, winner, "/standin leave alice")
    wait_for(synced_on(n1, loser, ids[loser]), "the waiting %s gets the lock after the leave" % loser)
    same(left_with, dump(n1, loser, "alice"),
         "%s's inventory is the one alice left %s with" % (loser, winner))
    rcon(n1, loser, "/standin leave alice")
    return wait_for(lambda: (lambda l: l if l and not l["held"] else None)(lock(n1, "alice")),
                    "the release after the contention")["stored_gen"]


def game_pid(via, inst):
    st, _, body = via.get("/api/v1/instances/" + inst)
    return json.loads(body).get("pid")


def crash_and_old_save(n1, ids, gen):
    rcon(n1, "ia", "/standin join alice")
    wait_for(synced_on(n1, "ia", ids["ia"]), "alice synced on A")
    check("Saving" in rcon(n1, "ia", "/server-save") or True, "A saved (the older save)")
    rcon(n1, "ia", "/standin give alice steel-plate 77")
    newer = dump(n1, "ia", "alice")
    rcon(n1, "ia", "/standin leave alice")
    st = wait_for(released(n1, gen + 1), "A's upload of the newer inventory")
    pid = game_pid(n1, "ia")
    os.kill(pid, signal.SIGKILL)
    log("killed A's game (pid %d); it restarts from the save made before" % pid)
    wait_for(lambda: game_pid(n1, "ia") not in (None, 0, pid) and
             rcon(n1, "ia", "/sc rcon.print('up')").strip() == "up", "A's game to restart")
    # The restarted game believes it holds the old generation: its upload
    # is refused and the newer record stays.
    before = ctl_ok(n1, "inventory", "export", "alice")
    old = {"id": 800001, "op": "upload", "player": "alice", "gen": gen + 1, "seq": 1, "n": 1,
           "len": 2, "release": True, "data": "{}"}
    ipc(n1, "ia", old)
    wait_for(lambda: "refused (ERR_CONFLICT)" in n1.log_text(), "the stale upload refused")
    check(ctl_ok(n1, "inventory", "export", "alice") == before, "the newer record unchanged")
    rcon(n1, "ia", "/standin join alice")
    wait_for(synced_on(n1, "ia", ids["ia"]), "alice synced on A after the restart")
    same(newer, dump(n1, "ia", "alice"), "the newer inventory wins over the old save's")
    rcon(n1, "ia", "/standin leave alice")
    return wait_for(released(n1, st["stored_gen"] + 1), "the upload after the restart")["stored_gen"]


def crash_while_online(n1, ids):
    """The game crashes with the player online: its restart (a new
    process, back at its last save) ends the lock, so the player can go
    elsewhere at once."""
    rcon(n1, "ia", "/standin join alice")
    wait_for(synced_on(n1, "ia", ids["ia"]), "alice synced on A")
    pid = game_pid(n1, "ia")
    os.kill(pid, signal.SIGKILL)
    log("killed A's game (pid %d) with alice online" % pid)
    l = wait_for(lambda: (lambda x: x if x and not x["held"] else None)(lock(n1, "alice")),
                 "the lock to end with A's restart")
    check(l.get("freed") == "instance stopped", "freed: %s" % l.get("freed"))
    return l["gen"]


def big_inventory(n1, inst):
    for i in range(50):
        rcon(n1, inst, "/standin data alice main blueprint %s%d" % (BP * 30, i))


def leader_kills(c, n1, ids, gen):
    nodes = {n.name: n for n in c.nodes}
    ld = c.leader()
    # The instance the player downloads into runs on a node that stays.
    inst = {"n1": "ia", "n2": "ib", "n3": "ic"}
    stay = [n for n in c.nodes if n is not ld]
    src, dst = inst[stay[0].name], inst[stay[1].name]
    via = stay[0]
    rcon(via, src, "/standin join alice")
    wait_for(synced_on(via, src, ids[src]), "alice synced on " + src)
    big_inventory(via, src)
    want = dump(via, src, "alice")
    rcon(via, src, "/standin leave alice")
    gen = wait_for(released(via, gen + 1), "the big upload")["stored_gen"]
    size = lock(via, "alice")["bytes"]
    log("alice's inventory: %d bytes, 50 blueprints" % size)
    # Download into dst; kill the leader once the bar shows.
    rcon(via, dst, "/standin join alice")
    wait_for(lambda: "Downloading" in rcon(via, dst, "/standin gui alice"),
             "the download to start on " + dst, interval=0.01)
    ld.kill9()
    log("killed the leader %s during the download" % ld.name)
    wait_for(synced_on(via, dst, ids[dst]), "the download to complete without the leader")
    same(want, dump(via, dst, "alice"), "the inventory downloaded during the kill is whole")
    ld.start(flags=False)
    c.wait_voters(3)
    # Upload while the leader dies: the leader is a node other than the
    # one running dst (leadership moved there first if needed).
    dst_node = stay[1]
    ld2 = c.leader()
    if ld2 is dst_node:
        other = [n for n in c.nodes if n is not dst_node][0]
        ctl_ok(dst_node, "raft", "transfer-leader", other.name)
        wait_for(lambda: c.leader() is other, "leadership to move to " + other.name)
        ld2 = other
    before = metric(dst_node.metrics(), "clusterd_inventory_uploads_total")
    rcon(dst_node, dst, "/standin give alice iron-plate 11")
    want2 = dump(dst_node, dst, "alice")
    rcon(dst_node, dst, "/standin leave alice")
    ld2.kill9()
    log("killed the leader %s right after the leave (the upload in flight)" % ld2.name)
    reader = dst_node
    st = wait_for(released(reader, gen + 1), "the upload to complete across the kill")
    check(st["stored_instance"] == ids[dst], "stored from %s" % dst)
    after = metric(dst_node.metrics(), "clusterd_inventory_uploads_total")
    check(after - before == 1, "stored once (uploads %d -> %d)" % (before, after))
    back = wait_for(lambda: (lambda n: n)(reader), "a reader")
    exported = json.loads(ctl_ok(back, "inventory", "export", "alice"))
    check(len(exported["inventories"]["main"]) == len(want2["main"]),
          "the stored main inventory has every stack (%d)" % len(want2["main"]))
    if not ld2.alive():
        ld2.start(flags=False)
        c.wait_voters(3)
    return st["stored_gen"], want2


def node_dies(c, n1, ids, gen, want):
    by_inst = {"ia": "n1", "ib": "n2", "ic": "n3"}
    nodes = {n.name: n for n in c.nodes}
    holder_inst = "ic"
    victim = nodes[by_inst[holder_inst]]
    via = nodes["n1"]
    rcon(via, holder_inst, "/standin join alice")
    wait_for(synced_on(via, holder_inst, ids[holder_inst]), "alice synced on C")
    rcon(via, holder_inst, "/standin give alice coal 5")  # never uploaded
    victim.kill9()
    log("killed %s (C's node) for good" % victim.name)
    survivor = nodes["n1"]
    l = wait_for(lambda: (lambda x: x if x and not x["held"] else None)(lock(survivor, "alice")),
                 "the lock to expire after the gossip threshold")
    check(l.get("freed") in ("node dead", "instance stopped"), "freed: %s" % l.get("freed"))
    rcon(survivor, "ia", "/standin join alice")
    wait_for(synced_on(survivor, "ia", ids["ia"]), "alice synced on A")
    same(want, dump(survivor, "ia", "alice"), "alice has her last uploaded inventory on A")


def totals(entries):
    out = {}
    for e in entries:
        name, count = (e[1], e[2]) if isinstance(e, list) else (e["name"], e["count"])
        out[name] = out.get(name, 0) + count
    return out


def temporary(c, ids):
    nodes = {n.name: n for n in c.nodes}
    n1 = nodes["n1"]
    rcon(n1, "ia", "/standin leave alice")
    wait_for(lambda: (lambda l: l and not l["held"])(lock(n1, "alice")), "A's upload")
    # B holds alice's lock while she also joins A (an error for A: busy).
    rcon(n1, "ib", "/standin join alice")
    wait_for(synced_on(n1, "ib", ids["ib"]), "alice synced on B")
    rcon(n1, "ia", "/standin join alice")
    wait_for(lambda: "Waiting" in rcon(n1, "ia", "/standin gui alice"), "alice waiting on A")
    check(rcon(n1, "ia", "/inventory-temporary alice").strip() == "temporary",
          "alice takes a temporary inventory on A")
    check(controller(n1, "ia", "alice") == 1 and
          dump(n1, "ia", "alice")["main"] == [], "she plays, starting empty")
    rcon(n1, "ia", "/standin give alice uranium-238 9")
    rcon(n1, "ib", "/standin give alice solar-panel 3")
    rcon(n1, "ib", "/standin leave alice")
    wait_for(synced_on(n1, "ia", ids["ia"]), "A gets the lock once B released it")
    stored = json.loads(ctl_ok(n1, "inventory", "export", "alice"))
    got = totals(dump(n1, "ia", "alice")["main"])
    want = totals(stored["inventories"]["main"])
    check(want.get("solar-panel", 0) >= 3, "B's upload holds the solar panels")
    want["uranium-238"] = want.get("uranium-238", 0) + 9
    check(got == want, "the stored inventory with the temporary items merged: %s" % got)


def main():
    with Cluster("invf") as c:
        n1, n2, n3 = form(c, 3)
        ids = {}
        for name, node in (("ia", n1), ("ib", n2), ("ic", n3)):
            ids[name] = start_instance(n1, name, node)
        gen = contention(n1, ids)
        gen = crash_and_old_save(n1, ids, gen)
        gen = crash_while_online(n1, ids)
        gen, want = leader_kills(c, n1, ids, gen)
        node_dies(c, n1, ids, gen, want)
        temporary(c, ids)


if __name__ == "__main__":
    run(main)
