"""Measures inventory sync (issue 14's numbers): join-to-playable time for
an empty, a typical and a large inventory, and the bytes per second
streamed into the game, with our chunks (INV_CALL_COST_MAX) and with
Clusterio's 1000-character chunks, in the same stand-in.

One node, two instances on it: the player leaves A (upload), then joins B;
the time is from the node reading B's JOIN line to the node logging the
last chunk applied (the game answers a chunk after applying it), read
from the node log's timestamps. Each case runs `REPS` times; the median is
printed.

  CLUSTERD_BUILD=build python3 tests/e2e/inventory/measure_join.py
"""
import os
import re
import statistics
import sys
from datetime import datetime

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from inv_util import (Cluster, ctl_ok, form, lock, log, rcon, start_instance,  # noqa: E402
                      wait_for, controller)

REPS = int(os.environ.get("REPS", "5"))
BP = "0eNqrVkrKKU0tKMrMK1GyqlZKLi0qys9LVbIyMjA0NrA0MDIwNjAzNqgFAL5+DwY="


def fill(n, inst, kind):
    rcon(n, inst, "/sc local p = game.players.alice; p.get_main_inventory().clear(); "
                  "p.cursor_stack.clear(); rcon.print('ok')")
    if kind == "empty":
        return
    if kind == "typical":
        items = ["iron-plate", "copper-plate", "steel-plate", "coal", "stone", "wood",
                 "iron-gear-wheel", "electronic-circuit", "transport-belt", "inserter"]
        for i, it in enumerate(items):
            rcon(n, inst, "/standin give alice %s %d" % (it, 8 * 100 if it != "coal" else 8 * 50))
        rcon(n, inst, "/sc local p = game.players.alice; "
                      "p.get_inventory(defines.inventory.character_trash).insert{name='stone', count=1000}; "
                      "for i = 1, 100 do p.set_quick_bar_slot(i, 'iron-plate') end; "
                      "for i = 1, 30 do p.set_personal_logistic_slot(i, {name='coal', min=i, max=100}) end; "
                      "rcon.print('ok')")
        return
    for i in range(50):
        rcon(n, inst, "/standin data alice main blueprint %s%d" % (BP * 30, i))


STAMP = re.compile(r"^(\S+Z) ")


def stamp(line):
    return datetime.strptime(STAMP.match(line).group(1), "%Y-%m-%dT%H:%M:%S.%fZ")


def one(n, ids, kind):
    rcon(n, "ia", "/standin join alice")
    wait_for(lambda: (lambda l: l and l["held"] and l["instance"] == ids["ia"])(lock(n, "alice")),
             "A holds")
    wait_for(lambda: controller(n, "ia", "alice") == 1 and
             rcon(n, "ia", "/standin gui alice").strip() == "", "synced on A")
    fill(n, "ia", kind)
    rcon(n, "ia", "/standin leave alice")
    wait_for(lambda: (lambda l: l and not l["held"])(lock(n, "alice")), "A's upload")
    mark = len(n.log_text())
    rcon(n, "ib", "/standin join alice")
    wait_for(lambda: controller(n, "ib", "alice") == 1 and
             rcon(n, "ib", "/standin gui alice").strip() == "" and
             "streamed into" in n.log_text()[mark:], "synced on B")
    text = n.log_text()[mark:].splitlines()
    joined = [l for l in text if "ib: alice joined" in l][0]
    done = [l for l in text if "streamed into" in l][0]
    m = re.search(r"\((\d+) bytes, (\d+) chunks\)", done)
    secs = (stamp(done) - stamp(joined)).total_seconds()
    rcon(n, "ib", "/standin leave alice")
    wait_for(lambda: (lambda l: l and not l["held"])(lock(n, "alice")), "B's upload")
    return secs, int(m.group(1)), int(m.group(2))


def run(cost):
    if cost:
        os.environ["CLUSTERD_INVENTORY_CHUNK_COST"] = str(cost)
    else:
        os.environ.pop("CLUSTERD_INVENTORY_CHUNK_COST", None)
    out = {}
    with Cluster("invm") as c:
        (n,) = form(c, 1)
        ids = {i: start_instance(n, i, n) for i in ("ia", "ib")}
        for kind in ("empty", "typical", "large"):
            rs = [one(n, ids, kind) for _ in range(REPS)]
            t = statistics.median(r[0] for r in rs)
            size, chunks = rs[-1][1], rs[-1][2]
            out[kind] = (t, size, chunks)
            log("chunk budget %s, %s: %d bytes in %d chunks, join to playable median %.0f ms "
                "(%s), %.0f kB/s" % (cost or "default", kind, size, chunks, t * 1000,
                                      ", ".join("%.0f" % (r[0] * 1000) for r in rs),
                                      size / t / 1000 if t > 0 else 0))
    return out


def main():
    ours = run(0)
    theirs = run(1000)
    print("\n| inventory | bytes | chunks (ours / 1000-char) | join to playable, ours | "
          "with 1000-char chunks | bytes/s ours | bytes/s 1000-char |")
    print("|---|---|---|---|---|---|---|")
    for kind in ("empty", "typical", "large"):
        a, b = ours[kind], theirs[kind]
        print("| %s | %d | %d / %d | %.0f ms | %.0f ms | %.0f kB/s | %.0f kB/s |" % (
            kind, a[1], a[2], b[2], a[0] * 1000, b[0] * 1000,
            a[1] / a[0] / 1000, b[1] / b[0] / 1000))


if __name__ == "__main__":
    main()
