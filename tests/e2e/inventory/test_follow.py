"""End to end (issue 14): a player's inventory follows them A -> B -> C -> A
across three clusterd nodes with stand-ins, unchanged, with a blueprint in
the main inventory, a blueprint book in the cursor and the other things
inventory sync moves (trash, armor, guns, ammo, quick bar, crafting queue,
logistic requests, tag, colour). On the second server the player waits as
a spectator with a progress bar until the download ends. Then bad input
from a game: a forged generation, an upload from a non-holder, a truncated
and an oversized chunk and malformed inventory JSON are each refused with
a log line, and the stored inventory stays as it was. Also checks the API,
clusterctl inventory and the metrics. An argument names another Factorio
version for the stand-in (the 1.1 API: `global`, game.* helpers)."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from inv_util import (Cluster, check, run, ctl_ok, dump, form, ipc, lock,  # noqa: E402
                      log, metric, rcon, released, same, start_instance, synced_on,
                      use_version, wait_for)

BP = "0eNqrVkrKKU0tKMrMK1GyqlZKLi0qys9LVbIyMjA0NrA0MDIwNjAzNqgFAL5+DwY=" * 40
BOOK = "0eNrtXW1v2zgS/isCP9uBSL0ZxgKX5AIcYKcpkF6x" * 120
# Non-ASCII data, long enough to span several download chunks, so chunk
# boundaries fall next to multi-byte characters.
LABEL = "ünïcødé✓-" * 300

SETUP = """/sc local p = game.players.alice
p.get_inventory(defines.inventory.character_trash).insert{name="coal", count=7}
p.get_inventory(defines.inventory.character_armor).insert{name="heavy-armor", count=1}
p.get_inventory(defines.inventory.character_guns).insert{name="submachine-gun", count=1}
p.get_inventory(defines.inventory.character_ammo).insert{name="piercing-rounds-magazine", count=150}
p.set_quick_bar_slot(1, "iron-plate"); p.set_quick_bar_slot(7, "inserter")
p.begin_crafting{count=5, recipe="iron-gear-wheel"}
p.set_personal_logistic_slot(3, {name="coal", min=50, max=200})
p.tag = "[e2e] ✓"; p.color = {r=0.1, g=0.2, b=0.3, a=1}
rcon.print("set")"""


def held_by(via, inst_id):
    def ok():
        l = lock(via, "alice")
        return l and l["held"] and l["instance"] == inst_id and l
    return ok


def main():
    with Cluster("inv") as c:
        if len(sys.argv) > 1:
            use_version(sys.argv[1], c.tmp)
            log("Factorio " + sys.argv[1])
        n1, n2, n3 = form(c, 3)
        ids = {}
        for name, node in (("ia", n1), ("ib", n2), ("ic", n3)):
            ids[name] = start_instance(n1, name, node)
        log("instances ia, ib, ic run on n1, n2, n3")

        # A: no stored inventory, the current one becomes the synced one.
        check(rcon(n1, "ia", "/standin join alice").strip() == "ok", "alice joins A")
        wait_for(held_by(n2, ids["ia"]), "alice's lock held by A")
        rcon(n1, "ia", "/standin give alice iron-plate 300")
        check(rcon(n1, "ia", "/standin data alice main blueprint " + BP).strip().isdigit(),
              "a blueprint in the main inventory")
        check(rcon(n1, "ia", "/standin data alice cursor blueprint-book " + BOOK).strip() == "1",
              "a blueprint book in the cursor")
        check(rcon(n1, "ia", SETUP).strip() == "set", "trash, armor, guns, quick bar ... set")
        check(rcon(n1, "ia", "/standin data alice trash blueprint " + LABEL).strip().isdigit(),
              "a blueprint with non-ASCII data in the trash")
        want = dump(n1, "ia", "alice")
        check(len(want["main"]) > 3 and want["cursor"][0][3] == BOOK and want["trash"]
              and want["logistics"] and want["crafting"] and want["tag"] == "[e2e] ✓",
              "the dump on A holds everything")
        rcon(n1, "ia", "/standin leave alice")
        first = wait_for(released(n3, 1), "the upload from A (gen 1) and the release")
        check(first["stored_instance"] == ids["ia"], "stored from A")
        exported = json.loads(ctl_ok(n2, "inventory", "export", "alice"))
        check(exported["inventories"]["main"] and exported["cursor"]["export"] == BOOK,
              "clusterctl inventory export gives the JSON with the book whole")

        gen = 1
        for inst, node in (("ib", n2), ("ic", n3), ("ia", n1)):
            check(rcon(n1, inst, "/standin join alice").strip() == "ok", "alice joins " + inst)
            wait_for(synced_on(n1, inst, ids[inst]), "alice synced on " + inst)
            same(want, dump(n1, inst, "alice"),
                 "alice's inventory on %s equals the one she left A with" % inst)
            gen += 1
            rcon(n1, inst, "/standin leave alice")
            wait_for(released(n1, gen), "the upload from %s (gen %d)" % (inst, gen))

        m = {n.name: n.metrics() for n in (n1, n2, n3)}
        downloads = sum(metric(v, "clusterd_inventory_downloads_total") for v in m.values())
        uploads = sum(metric(v, "clusterd_inventory_uploads_total") for v in m.values())
        check(downloads == 3, "3 downloads counted (B, C, A again): %s" % downloads)
        check(uploads == 4, "4 uploads counted: %s" % uploads)
        out = ctl_ok(n3, "inventory", "list")
        check("alice" in out and "free" in out, "clusterctl inventory list shows alice")

        bad_input(c, n1, n2, ids)


def bad_input(c, n1, n2, ids):
    stored = ctl_ok(n1, "inventory", "export", "alice")
    before = lock(n1, "alice")
    # B holds the lock from here on.
    rcon(n1, "ib", "/standin join alice")
    wait_for(synced_on(n1, "ib", ids["ib"]), "alice synced on B")
    held = lock(n1, "alice")
    nid = 900000  # ids far above the module's own
    cases = [
        ("forged generation", "ib", {"gen": held["gen"] + 5}, "another generation than the lock's"),
        ("upload from a non-holder", "ia", {"gen": held["gen"]}, "not the lock's holder"),
        ("truncated chunk", "ib", {"gen": held["gen"], "len": 500}, "truncated"),
        ("oversized chunk", "ib", {"gen": held["gen"], "len": 5 << 20}, "oversized"),
        ("malformed JSON", "ib", {"gen": held["gen"], "data": "{\"main\": [1, 2"},
         "malformed inventory"),
    ]
    logs_before = {n.name: len(n.log_text()) for n in c.nodes}
    for what, inst, over, needle in cases:
        nid += 1
        data = over.get("data", "{\"inventories\": {}}")
        msg = {"id": nid, "op": "upload", "player": "alice", "seq": 1, "n": 1,
               "len": len(data), "release": False, "data": data}
        msg.update({k: v for k, v in over.items() if k != "data"})
        node = n1 if inst == "ia" else n2

        def refused():
            t = node.log_text()[logs_before[node.name]:]
            return needle in t and "alice" in t
        ipc(n1, inst, msg)
        wait_for(refused, "a log line refusing the %s" % what)
        logs_before[node.name] = len(node.log_text())
        check(ctl_ok(n1, "inventory", "export", "alice") == stored,
              "%s refused, stored inventory unchanged" % what)
    after = lock(n1, "alice")
    check(after["stored_gen"] == before["stored_gen"] and after["held"] and
          after["instance"] == ids["ib"], "the lock is still B's, the record unchanged")
    refusals = sum(metric(n.metrics(), "clusterd_inventory_refusals_total") for n in (n1, n2))
    check(refusals == 5, "5 refusals counted: %s" % refusals)
    # An admin's release is logged with the token's name.
    ctl_ok(n2, "inventory", "release", "alice")
    l = wait_for(lambda: (lambda x: x if not x["held"] else None)(lock(n2, "alice")),
                 "the admin release")
    check(l.get("freed") == "admin" and l.get("by"), "freed by an admin, named: %s" % l.get("by"))


if __name__ == "__main__":
    run(main)
