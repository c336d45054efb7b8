"""A save whose control.lua loads a module through event_handler, as a
manager patches its modules into saves: the module's print output shows
on stdout when a player joins."""
import json
import os
import subprocess
import sys
import zipfile

sys.path.insert(0, os.path.dirname(__file__))
from standin_util import Rcon, Server, make_instance  # noqa: E402

CONTROL = '''local handler = require("event_handler")
handler.add_lib(require("freeplay"))
handler.add_lib(require("silo-script"))
handler.add_lib(require("modules/greeter/main"))
'''

MODULE = '''local greeter = {}
local util = require("modules/greeter/util")
greeter.on_init = function() storage.greeted = 0 end
greeter.events = {
  [defines.events.on_player_joined_game] = function(event)
    storage.greeted = storage.greeted + 1
    print(util.line(game.get_player(event.player_index).name, storage.greeted))
  end,
}
return greeter
'''

UTIL = '''return { line = function(name, n) return "\\f$ipc:greeter?j" ..
  helpers.table_to_json({ player = name, count = n }) end }
'''


def ipc(srv, expect, start=0):
    """Waits for the IPC line carrying expect; returns its index."""
    i = start
    while True:
        i = srv.wait_line("\f$ipc:greeter?j", start=i)
        if json.loads(srv.lines[i].split("?j", 1)[1]) == expect:
            return i
        i += 1


def main():
    inst = make_instance()
    save = os.path.join(inst, "saves", "patched.zip")
    with zipfile.ZipFile(save, "w") as z:
        z.writestr("patched/control.lua", CONTROL)
        z.writestr("patched/modules/greeter/main.lua", MODULE)
        z.writestr("patched/modules/greeter/util.lua", UTIL)
    srv = Server(inst, save)
    srv.wait_ready()
    r = Rcon(srv.rcon_port, "pw")
    assert r.cmd("/standin join alice") == "ok\n"
    i = srv.wait_line("[JOIN] alice joined the game")
    j = ipc(srv, {"player": "alice", "count": 1}, i)
    assert j > i
    r.cmd("/standin leave alice")
    r.cmd("/standin join alice")
    ipc(srv, {"player": "alice", "count": 2})
    r.send(5, 2, "/quit")
    r.recv()
    assert srv.wait_exit() == 0
    # The save written on quit keeps the scenario files and the count.
    with zipfile.ZipFile(save) as z:
        names = set(z.namelist())
        assert "patched/modules/greeter/main.lua" in names, names
        assert z.read("patched/control.lua").decode() == CONTROL
    srv = Server(inst, save)
    srv.wait_ready()
    r = Rcon(srv.rcon_port, "pw")
    r.cmd("/standin join bob")
    ipc(srv, {"player": "bob", "count": 3})
    r.send(5, 2, "/quit")
    r.recv()
    assert srv.wait_exit() == 0
    subprocess.run(["rm", "-rf", inst])
    print("e2e_module: ok")


if __name__ == "__main__":
    main()
