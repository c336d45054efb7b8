"""The stand-in driven as Clusterio's host drives a server, on a Factorio 1.1
install and on a 2.0 install:

- the instance folder is write-data and holds server-settings.json
  (auto_pause false); --server-settings is not passed;
- the save is patched as Clusterio patches saves: a module under modules/
  loaded through event_handler, using on_tick and that version's API;
- a mod (zip, info.json, control.lua) sits in <write-data>/mods, enabled by
  mod-list.json, and another one depending on it is a folder.

Checks: ticks advance with nobody online, the module's on_tick ran (its IPC
lines and its persisted counter), the mods' control.lua ran (in their own
Lua states, in dependency order), active_mods names them, and a module
written for one version fails on the other with the game's Lua error.
A mod whose dependency is missing stops the start with an Error line."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile

sys.path.insert(0, os.path.dirname(__file__))
from standin_util import INSTALL, Rcon, free_port, Server  # noqa: E402

MAKE_INSTALL = os.path.join(os.path.dirname(__file__), "../../../tools/factorio-standin/make-install")

CONTROL = '''local handler = require("event_handler")
handler.add_lib(require("freeplay"))
handler.add_lib(require("silo-script"))
handler.add_lib(require("modules/probe/main"))
'''

# The same module for each version: the persisted table and the JSON helper
# have other names on 2.0.
MODULE_1_1 = '''local probe = {}
probe.on_init = function() game.disable_replay() end
probe.events = {
  [defines.events.on_tick] = function(event)
    global.ticks = (global.ticks or 0) + 1
    if event.tick % 30 == 0 then
      print("\\f$ipc:probe?j" .. game.table_to_json({tick = event.tick, ticks = global.ticks}))
    end
  end,
}
return probe
'''
MODULE = {
    "1.1": MODULE_1_1,
    "2.0": MODULE_1_1.replace("global.", "storage.").replace("game.table_to_json", "helpers.table_to_json"),
}
assert "global" not in MODULE["2.0"] and "helpers.table_to_json" in MODULE["2.0"]

# What the other version answers when the module runs there.
WRONG_API_ERROR = {
    "1.1": "attempt to index global 'global' (a nil value)",   # 1.1 module on 2.0
    "2.0": "attempt to index global 'storage' (a nil value)",  # 2.0 module on 1.1
}

LIB_CONTROL = '''local data = function() return storage or global end
print("lib_mod control.lua ran as " .. script.mod_name)
script.on_init(function() data().ticks = 0 end)
script.on_event(defines.events.on_tick, function() data().ticks = data().ticks + 1 end)
remote.add_interface("lib_mod", { hello = function(who) return "hello " .. who end })
'''

USER_CONTROL = '''print("user_mod control.lua ran, lib_mod loaded: " .. tostring(script.active_mods["lib_mod"]))
'''


def make_install(root, version):
    dest = os.path.join(root, "factorio-" + version)
    subprocess.run([MAKE_INSTALL, INSTALL, dest, version], check=True)
    return dest


def make_instance(root, install, name):
    inst = os.path.join(root, name)
    os.makedirs(os.path.join(inst, "saves"))
    with open(os.path.join(inst, "config.ini"), "w") as f:
        f.write("[path]\nread-data=%s/data\nwrite-data=%s\n" % (install, inst))
    with open(os.path.join(inst, "server-settings.json"), "w") as f:
        json.dump({"name": "probe instance", "description": "", "auto_pause": False,
                   "autosave_interval": 10, "max_players": 0}, f)
    return inst


def add_mods(inst, missing_dep=False):
    mods = os.path.join(inst, "mods")
    os.makedirs(mods)
    info = {"name": "lib_mod", "version": "1.2.3", "title": "lib", "author": "t",
            "factorio_version": "1.1", "dependencies": ["base >= 1.1.0"]}
    with zipfile.ZipFile(os.path.join(mods, "lib_mod_1.2.3.zip"), "w") as z:
        z.writestr("lib_mod_1.2.3/info.json", json.dumps(info))
        z.writestr("lib_mod_1.2.3/control.lua", LIB_CONTROL)
    user = os.path.join(mods, "user_mod_0.1.0")
    os.makedirs(user)
    deps = ["lib_mod >= 1.0.0"] + (["absent_mod >= 2.0"] if missing_dep else [])
    with open(os.path.join(user, "info.json"), "w") as f:
        json.dump({"name": "aaa_user_mod", "version": "0.1.0", "dependencies": deps}, f)
    with open(os.path.join(user, "control.lua"), "w") as f:
        f.write(USER_CONTROL)
    # Disabled: must not load.
    with zipfile.ZipFile(os.path.join(mods, "off_mod_1.0.0.zip"), "w") as z:
        z.writestr("off_mod_1.0.0/info.json", json.dumps({"name": "off_mod", "version": "1.0.0"}))
        z.writestr("off_mod_1.0.0/control.lua", 'print("off_mod ran")')
    with open(os.path.join(mods, "mod-list.json"), "w") as f:
        json.dump({"mods": [{"name": "base", "enabled": True},
                            {"name": "lib_mod", "enabled": True},
                            {"name": "aaa_user_mod", "enabled": True},
                            {"name": "off_mod", "enabled": False}]}, f)


def patch_save(inst, install, module):
    save = os.path.join(inst, "saves", "world.zip")
    out = subprocess.run([os.path.join(install, "bin/x64/factorio"), "--config",
                          os.path.join(inst, "config.ini"), "--create", save],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stdout + out.stderr
    with zipfile.ZipFile(save) as z:
        files = {n: z.read(n) for n in z.namelist()}
    files["world/control.lua"] = CONTROL.encode()
    files["world/modules/probe/main.lua"] = module.encode()
    files["world/clusterio.json"] = json.dumps({"modules": {"probe": "1.0.0"}}).encode()
    with zipfile.ZipFile(save, "w") as z:
        for n, data in files.items():
            z.writestr(n, data)
    return save


class HostServer(Server):
    """Started with the arguments Clusterio's host passes: no --server-settings."""

    def __init__(self, install, inst, save, extra=()):
        self.rcon_port = free_port()
        self.password = "pw"
        args = [os.path.join(install, "bin/x64/factorio"), "--config",
                os.path.join(inst, "config.ini"), "--start-server", save,
                "--port", str(free_port(2)), "--rcon-port", str(self.rcon_port),
                "--rcon-password", "pw", *extra]
        self._start(args)


def lua(r, code):
    return r.cmd("/sc " + code).rstrip("\n")


def ipc_lines(srv):
    with srv.cond:
        return [json.loads(l.split("?j", 1)[1]) for l in srv.lines if l.startswith("\f$ipc:probe?j")]


def run_matching(root, version, api):
    install = make_install(root, version)
    inst = make_instance(root, install, "inst-" + version)
    add_mods(inst)
    save = patch_save(inst, install, MODULE[api])
    srv = HostServer(install, inst, save)
    srv.wait_ready()
    out = srv.output()
    assert "Factorio %s (build" % version in out, out
    assert '"--rcon-password" <private> ' in out, out
    assert ("Config path: " in out) == (api == "2.0"), out
    # Mod start lines, in dependency order (lib_mod before aaa_user_mod
    # although it sorts after it), and the disabled mod absent.
    lib = srv.wait_line("Checksum of lib_mod: ")
    user = srv.wait_line("Checksum of aaa_user_mod: ")
    assert lib < user, out
    assert "off_mod" not in out, out
    i = srv.wait_line("lib_mod control.lua ran as lib_mod")
    j = srv.wait_line("user_mod control.lua ran, lib_mod loaded: 1.2.3")
    assert i < j, out
    r = Rcon(srv.rcon_port, "pw")
    r.cmd("/sc rcon.print('disabled')")  # the achievements warning
    assert lua(r, "rcon.print('disabled')") == "disabled"
    assert lua(r, "game.disable_replay() rcon.print('replay off')") == "replay off"
    # Nobody is online: with auto_pause from write-data's settings false,
    # ticks advance and the module's on_tick runs.
    first = int(lua(r, "rcon.print(game.tick)"))
    deadline = time.time() + 30
    while len(ipc_lines(srv)) < 3:
        assert time.time() < deadline, srv.output()
        time.sleep(0.05)
    later = int(lua(r, "rcon.print(game.tick)"))
    assert later > first, (first, later)
    msgs = ipc_lines(srv)
    assert all(m["tick"] % 30 == 0 for m in msgs), msgs
    assert msgs[-1]["ticks"] > msgs[0]["ticks"], msgs
    persisted = "global" if api == "1.1" else "storage"
    assert int(lua(r, "rcon.print(%s.ticks)" % persisted)) >= msgs[-1]["ticks"]
    # The mod's handlers run in its own state, with its own storage.
    assert int(lua(r, "__lib_mod__ rcon.print((storage or global).ticks)")) > 0
    assert lua(r, "rcon.print(%s.ticks == nil)" % ("global" if api == "1.1" else "storage")) == "false"
    assert lua(r, "rcon.print(remote.call('lib_mod', 'hello', 'level'))") == "hello level"
    assert lua(r, "rcon.print(script.active_mods.base)") == version
    assert lua(r, "rcon.print(script.active_mods.lib_mod)") == "1.2.3"
    if api == "1.1":
        assert lua(r, "rcon.print(game.active_mods.aaa_user_mod)") == "0.1.0"
    else:
        assert "LuaGameScript doesn't contain key active_mods." in r.cmd("/sc rcon.print(game.active_mods)")
    srv.proc.terminate()
    assert srv.wait_exit() == 0, srv.output()
    # The mods' storage is saved with the map and restored on the next start.
    srv = HostServer(install, inst, save)
    srv.wait_ready()
    r = Rcon(srv.rcon_port, "pw")
    before = int(lua(r, "__lib_mod__ rcon.print((storage or global).ticks)"))
    assert before > 0, before
    srv.proc.terminate()
    assert srv.wait_exit() == 0, srv.output()


def run_mismatched(root, version, api):
    """The module written for `api` on an install of the other version."""
    install = os.path.join(root, "factorio-" + version)
    inst = make_instance(root, install, "wrong-%s-on-%s" % (api, version))
    save = patch_save(inst, install, MODULE[api])
    srv = HostServer(install, inst, save)
    rc = srv.wait_exit(30)
    out = srv.output()
    assert rc == 1, out
    assert "The scenario level caused a non-recoverable error." in out, out
    assert "Error while running event level::on_tick (ID 0)" in out, out
    assert "__level__/modules/probe/main.lua:5: " + WRONG_API_ERROR[api] in out, out


def run_settings_sources(root):
    """Which server-settings.json applies: write-data's without the flag,
    the flag's file when given, defaults (auto_pause true) with neither."""
    install = os.path.join(root, "factorio-2.0.28")
    for case in ("write-data", "flag", "none"):
        inst = make_instance(root, install, "settings-" + case)
        save = patch_save(inst, install, MODULE["2.0"])
        settings = os.path.join(inst, "server-settings.json")
        if case == "flag":
            other = os.path.join(inst, "elsewhere.json")
            os.rename(settings, other)
            with open(settings, "w") as f:
                f.write('{"auto_pause": true}')  # must be ignored
        elif case == "none":
            os.remove(settings)
        extra = ["--server-settings", other] if case == "flag" else []
        srv = HostServer(install, inst, save, extra)
        srv.wait_ready()
        r = Rcon(srv.rcon_port, "pw")
        paused = "paused true" in r.cmd("/standin state")
        assert paused == (case == "none"), (case, srv.output())
        srv.proc.terminate()
        assert srv.wait_exit() == 0, srv.output()


def main():
    root = tempfile.mkdtemp(prefix="standin-host-")
    try:
        run_matching(root, "1.1.110", "1.1")
        run_matching(root, "2.0.28", "2.0")
        run_mismatched(root, "2.0.28", "1.1")
        run_mismatched(root, "1.1.110", "2.0")
        run_settings_sources(root)
        # A mod whose required dependency is absent stops the start.
        install = os.path.join(root, "factorio-2.0.28")
        inst = make_instance(root, install, "missing-dep")
        add_mods(inst, missing_dep=True)
        out = subprocess.run([os.path.join(install, "bin/x64/factorio"), "--config",
                              os.path.join(inst, "config.ini"), "--create",
                              os.path.join(inst, "saves", "x.zip")],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 1, out.stdout
        assert ("Failed to load mods: Mod aaa_user_mod (0.1.0) is missing required "
                "dependency absent_mod >= 2.0.") in out.stdout, out.stdout
        assert "Goodbye" in out.stdout, out.stdout
        assert not os.path.exists(os.path.join(inst, "saves", "x.zip"))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print("e2e_host: ok")


if __name__ == "__main__":
    main()
