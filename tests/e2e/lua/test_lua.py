"""The Lua test suite of lua/clusterd (issue 12), run in the Factorio
stand-in on a 2.0 install and on a 1.1 install (make-install). A fresh
save gets the framework and a test module (tests/e2e/lua/selftest) patched in
as the node patches saves; the test drives it over RCON and reads its
stdout as the node does. It checks: player events on channel "clusterd"
with increasing ids, version detection and the api helpers on each
version, JSON calls through call_json, file payloads of 4000 bytes or
more, re-sending of unacknowledged messages on the cadence and after a
load, acknowledgement, the persisted counter across a restart, and hello."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "../../.."))
sys.path.insert(0, os.path.join(ROOT, "tests/e2e/standin"))
import standin_util as su  # noqa: E402

PREFIX = "\f$ipc:"


def lua_string(text):
    """text as a Lua string literal (decimal escapes for anything odd)."""
    out = []
    for b in text.encode():
        if b < 32 or b >= 127 or b in (34, 92):
            out.append("\\%03d" % b)
        else:
            out.append(chr(b))
    return '"' + "".join(out) + '"'


def call(r, fn, args=None):
    body = r.cmd("/sc rcon.print(remote.call(\"clusterd\", \"call_json\", %s, %s))"
                 % (lua_string(fn), lua_string(json.dumps(args)) if args is not None else "nil"))
    assert not body.startswith("Cannot execute"), body
    return json.loads(body)


def module_files():
    """(path inside the save's root, source file) for every module."""
    out = []
    for name, src in (("clusterd", os.path.join(ROOT, "lua/clusterd")),
                      ("selftest", os.path.join(HERE, "selftest"))):
        for f in sorted(os.listdir(src)):
            if f.endswith(".lua"):
                out.append(("modules/%s/%s" % (name, f), os.path.join(src, f)))
    return out


def patch(save):
    """Adds the modules and loads them from control.lua (what patch.c does
    in the node; done here independently of it)."""
    root = os.path.splitext(os.path.basename(save))[0]
    tmp = save + ".tmp"
    with zipfile.ZipFile(save) as zin, zipfile.ZipFile(tmp, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == root + "/control.lua":
                data += (b'handler.add_lib(require("modules/clusterd/main"))\n'
                         b'handler.add_lib(require("modules/selftest/main"))\n')
            zout.writestr(item, data)
        for inner, src in module_files():
            zout.write(src, root + "/" + inner)
    os.replace(tmp, save)


class Ipc:
    """The IPC lines of a server's stdout, parsed as the node parses them."""

    def __init__(self, srv):
        self.srv = srv
        self.pos = 0
        self.seen = set()

    def next(self, channel=None, timeout=10, fresh=True):
        """The next message (on channel); with fresh, ids seen before (the
        module's re-sends while a player keeps the game running) are
        skipped, as the node drops them."""
        while True:
            i = self.srv.wait_line(PREFIX, timeout=timeout, start=self.pos)
            self.pos = i + 1
            line = self.srv.lines[i]
            assert line.startswith(PREFIX), repr(line)
            chan, rest = line[len(PREFIX):].split("?", 1)
            if rest[0] == "j":
                msg = json.loads(rest[1:])
            else:
                assert rest[0] == "f", line
                assert "/" not in rest[1:] and ".." not in rest[1:], rest
                path = os.path.join(self.srv.inst, "script-output", rest[1:])
                with open(path) as f:
                    text = f.read()
                assert len(text) >= 4000, len(text)
                msg = json.loads(text)
                msg["_file"] = rest[1:]
            assert len(line) < 4096, len(line)
            if fresh and msg["id"] in self.seen:
                continue
            self.seen.add(msg["id"])
            if channel is None or chan == channel:
                return chan, msg

    def none_pending(self):
        with self.srv.cond:
            return not any(PREFIX in l for l in self.srv.lines[self.pos:])


def start(inst, save):
    srv = su.Server(inst, save)
    srv.wait_ready()
    r = su.Rcon(srv.rcon_port, "pw")
    r.cmd("/sc rcon.print('disabled')")
    assert r.cmd("/sc rcon.print('disabled')") == "disabled\n"
    return srv, r


def quit(srv, r):
    r.send(99, 2, "/quit")
    r.recv()
    assert srv.wait_exit() == 0, srv.output()


def run(install, family, game_version):
    su.INSTALL = install
    su.BINARY = os.path.join(install, "bin", "x64", "factorio")
    inst = su.make_instance('{"auto_pause": true, "autosave_interval": 0}')
    save = su.create_save(inst)
    patch(save)
    srv, r = start(inst, save)
    ipc = Ipc(srv)

    # Version detection and helpers, from inside the game.
    assert call(r, "selftest_versions", {"family": family, "game": game_version}) == "ok"
    assert call(r, "selftest_register_late") == "ok"
    res = call(r, "selftest_json", {"echo": "hé \"quoted\""})
    assert res == {"calls": 1, "echo": "hé \"quoted\""}, res
    hello = call(r, "hello")
    assert hello["next_id"] == 1 and hello["version"] == family, hello
    assert hello["game_version"] == game_version, hello

    # Player events, ids increasing from 1.
    assert r.cmd("/standin join alice") == "ok\n"
    ch, m = ipc.next("clusterd")
    assert m["type"] == "join" and m["player"] == "alice" and m["id"] == 1, m
    assert call(r, "selftest_contents", {"player": "alice"}) == "ok"
    r.cmd("/standin chat alice hello there")
    _, m = ipc.next("clusterd")
    assert m == {"type": "chat", "player": "alice", "message": "hello there", "id": 2,
                 "tick": m["tick"]}, m
    r.cmd("/promote alice")
    _, m = ipc.next("clusterd")
    assert (m["type"], m["player"], m["id"]) == ("promote", "alice", 3), m
    r.cmd("/demote alice")
    _, m = ipc.next("clusterd")
    assert (m["type"], m["player"], m["id"]) == ("demote", "alice", 4), m
    r.cmd("/standin tick 120")
    r.cmd("/standin leave alice")
    _, m = ipc.next("clusterd")
    assert (m["type"], m["player"], m.get("reason"), m["id"]) == ("leave", "alice", "quit", 5), m
    assert m["session_ticks"] >= 120, m
    r.cmd("/ban bob griefing")
    _, m = ipc.next("clusterd")
    assert (m["type"], m["player"], m["id"]) == ("ban", "bob", 6), m
    assert "griefing" in m.get("reason", ""), m
    r.cmd("/unban bob")
    _, m = ipc.next("clusterd")
    assert (m["type"], m["player"], m["id"]) == ("unban", "bob", 7), m

    # A payload of 4000 bytes or more comes through a file.
    ids = call(r, "selftest_send", {"n": 2, "size": 5000})
    assert ids == [8, 9], ids
    for want in ids:
        ch, m = ipc.next()
        assert ch == "selftest" and m["id"] == want and len(m["pad"]) == 5000, (ch, m.get("id"))
        os.unlink(os.path.join(inst, "script-output", m["_file"]))  # as the node does
    small = call(r, "selftest_send", {"n": 3, "size": 10})
    assert small == [10, 11, 12], small
    for want in small:
        _, m = ipc.next("selftest")
        assert m["id"] == want, m

    # Acknowledge some; the rest come again after RESEND_AFTER ticks, in
    # order, with the same ids and content. Nobody is online now, so the
    # game is paused (auto_pause) and only /standin tick moves time.
    assert call(r, "ack", list(range(1, 8)) + [10, 12, 999]) == 9
    assert call(r, "selftest_outbox") == {"count": 3, "low": 8, "next_id": 13}
    assert ipc.none_pending()
    r.cmd("/standin tick 400")
    again = [ipc.next(fresh=False)[1]["id"] for _ in range(3)]
    assert again == [8, 9, 11], again
    assert call(r, "ack", [8, 9]) == 2
    assert call(r, "ack", [8]) == 0  # a second ack is harmless
    # resend(): everything unacknowledged, now.
    assert call(r, "resend") == 1
    assert ipc.next("selftest", fresh=False)[1]["id"] == 11

    # The counter and the outbox survive a save and restart; after the
    # load, the first resend pass prints what is unacknowledged.
    quit(srv, r)
    srv, r = start(inst, save)
    ipc = Ipc(srv)
    hello = call(r, "hello")
    assert hello["next_id"] == 13 and hello["outbox"] == 1, hello
    r.cmd("/standin tick 61")
    assert ipc.next("selftest", fresh=False)[1]["id"] == 11
    assert call(r, "ack", [11]) == 1
    r.cmd("/standin join carol")
    _, m = ipc.next("clusterd")
    assert (m["type"], m["player"], m["id"]) == ("join", "carol", 13), m
    res = call(r, "selftest_json", {"echo": "hé \"quoted\""})
    assert res["calls"] == 2, res  # api.data persisted
    # An unknown function is an error reply, not a crash.
    body = r.cmd('/sc rcon.print(remote.call("clusterd", "call_json", "nope", nil))')
    assert body.startswith("Cannot execute command") and "no remote function nope" in body, body
    assert r.cmd("/sc rcon.print('alive')") == "alive\n"
    quit(srv, r)
    shutil.rmtree(inst)
    print("lua suite on %s (%s): ok" % (family, game_version))


def main():
    build = su.BUILD
    install20 = os.path.join(build, "factorio-standin")
    tmp = tempfile.mkdtemp(prefix="lua-suite-")
    try:
        install11 = os.path.join(tmp, "factorio-1.1")
        subprocess.run([os.path.join(ROOT, "tools/factorio-standin/make-install"), install20,
                        install11, "1.1.110"], check=True)
        with open(os.path.join(install20, "data/changelog.txt")) as f:
            v20 = next(l.split()[1] for l in f if l.startswith("Version:"))
        run(install20, "2.0", v20)
        run(install11, "1.1", "1.1.110")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("test_lua: ok")


if __name__ == "__main__":
    main()
