"""The stand-in as a process: command line, install layout, stdout lines,
RCON (auth, pipelining, several clients, bad packets, tick pacing), port
clashes, autosave, /quit, SIGINT saving, SIGKILL losing unsaved state."""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from standin_util import BINARY, INSTALL, Rcon, Server, create_save, make_instance, packet  # noqa: E402


def check_install():
    with open(os.path.join(INSTALL, "data", "changelog.txt")) as f:
        versions = [l for l in f if l.startswith("Version:")]
    assert versions[0].startswith("Version: 2.0."), versions
    out = subprocess.run([BINARY, "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("Version: 2.0."), out.stdout
    out = subprocess.run([BINARY, "--frobnicate"], capture_output=True, text=True)
    assert out.returncode == 1 and "unrecognised option '--frobnicate'" in out.stdout, out
    out = subprocess.run([BINARY, "--port"], capture_output=True, text=True)
    assert out.returncode == 1 and "required argument" in out.stdout, out
    # --help lists the options, one per line, and starts nothing.
    for flag in ("--help", "-h"):
        out = subprocess.run([BINARY, flag], capture_output=True, text=True)
        assert out.returncode == 0, out
        assert "unrecognised" not in out.stdout, out.stdout
        lines = out.stdout.splitlines()
        for opt in ("--start-server FILE", "--rcon-password PASSWORD", "--mod-directory PATH",
                    "--server-settings FILE", "--create FILE", "--version"):
            assert any(l.strip().startswith(opt) for l in lines), (opt, out.stdout)


def check_rcon(inst, save):
    srv = Server(inst, save, extra=["--standin-autosave-ticks", "90"])
    srv.wait_ready()
    srv.wait_line("changing state from(CreatingGame) to(InGame)")
    # Wrong password answers id -1; the connection stays usable.
    r = Rcon(srv.rcon_port)
    assert r.auth("nope")[0] == -1
    pid, ptype, _ = r.auth("pw")
    assert pid != -1 and ptype == 2
    first = r.cmd("/sc rcon.print('disabled')")
    assert "disable achievements" in first, first
    assert r.cmd("/sc rcon.print('disabled')") == "disabled\n"
    assert r.cmd("/standin join alice") == "ok\n"
    srv.wait_line("[JOIN] alice joined the game")
    assert r.cmd("/players online") == "Online players (1):\n  alice (online)\n"
    r.cmd("/c rcon.print(1)")
    srv.wait_line("[COMMAND] <server> (command): rcon.print(1)")
    # Pipelined: 500 commands in one write, answered in order, ids matched.
    n = 500
    r.sock.sendall(b"".join(packet(1000 + i, 2, "/sc rcon.print(%d)" % i) for i in range(n)))
    for i in range(n):
        pid, ptype, body = r.recv()
        assert (pid, ptype, body) == (1000 + i, 0, "%d\n" % i), (pid, body)
    # Commands run between ticks: each round trip waits for the next tick.
    t1 = int(r.cmd("/sc rcon.print(game.tick)"))
    t2 = int(r.cmd("/sc rcon.print(game.tick)"))
    assert t2 > t1, (t1, t2)
    # A second client works alongside; bad clients are closed alone.
    r2 = Rcon(srv.rcon_port, "pw")
    assert r2.cmd("/sc rcon.print(#game.players)") == "1\n"
    for bad in (b"\x05\x00\x00\x00" + b"\0" * 5,          # length below 10
                packet(1, 2, "/players"),                   # exec before auth
                b"\xff\xff\xff\x7f",                        # absurd length
                packet(1, 3, "pw")[:-2] + b"xx"):           # no terminator
        b = Rcon(srv.rcon_port)
        b.sock.sendall(bad)
        assert b.closed_by_peer(), bad
        b.close()
    big = Rcon(srv.rcon_port, "pw")
    big.sock.sendall(packet(9, 2, "/sc --" + "x" * 70000))
    assert big.closed_by_peer()
    assert r.cmd("/sc rcon.print('still here')") == "still here\n"
    assert r2.cmd("/standin give alice iron-plate 100") == "100\n"
    # Autosave every 90 ticks (a stand-in option).
    i = srv.wait_line("Saving to _autosave1 (non-blocking).", timeout=10)
    srv.wait_line("Saving finished", start=i)
    assert os.path.exists(os.path.join(inst, "saves", "_autosave1.zip"))
    # Port clashes: the same RCON port, then the same game port.
    clash = Server(inst, save, rcon_port=srv.rcon_port)
    assert clash.wait_exit() == 1
    assert "Can't bind socket: Address already in use" in clash.output(), clash.output()
    assert clash.lines[-1].endswith(" Goodbye"), clash.output()
    clash = Server(inst, save, game_port=srv.game_port)
    assert clash.wait_exit() == 1
    assert "Error ServerMultiplayerManager.cpp:93: MultiplayerManager failed: Host address is " \
        "already in use." in clash.output(), clash.output()
    r.cmd("/sc storage.mark = 'saved-by-quit'")
    r.send(77, 2, "/quit")
    assert r.recv()[0] == 77
    assert srv.wait_exit() == 0
    out = srv.output()
    assert "Saving map as %s" % save in out and out.rstrip().endswith("Goodbye"), out
    q = srv.wait_line("Quitting: remote-quit.")
    assert srv.lines[q].split(None, 1)[1] == "Quitting: remote-quit.", srv.lines[q]
    h = srv.wait_line("Hosting game at IP ADDR:({0.0.0.0:%d})" % srv.game_port)
    assert srv.lines[h].split(None, 1)[1].startswith("Hosting game"), srv.lines[h]
    r.close()
    r2.close()


def check_sigint_and_sigkill(inst, save):
    srv = Server(inst, save)
    srv.wait_ready()
    r = Rcon(srv.rcon_port, "pw")
    assert r.cmd("/sc rcon.print(storage.mark)") == "saved-by-quit\n"
    r.cmd("/standin join alice")
    assert r.cmd("/standin inventory alice").count("iron-plate 108") == 1
    r.cmd("/sc storage.mark = 'saved-by-sigint'")
    srv.proc.send_signal(signal.SIGINT)
    assert srv.wait_exit() == 0
    srv.wait_line("Received SIGINT, shutting down")
    srv.wait_line("Quitting: signal.")
    srv.wait_line("Saving finished")
    srv.wait_line("Goodbye")
    # SIGKILL: what was not saved is lost.
    srv = Server(inst, save)
    srv.wait_ready()
    r = Rcon(srv.rcon_port, "pw")
    assert r.cmd("/sc rcon.print(storage.mark)") == "saved-by-sigint\n"
    r.cmd("/sc storage.mark = 'lost'")
    srv.proc.send_signal(signal.SIGKILL)
    srv.wait_exit()
    srv = Server(inst, save)
    srv.wait_ready()
    r = Rcon(srv.rcon_port, "pw")
    assert r.cmd("/sc rcon.print(storage.mark)") == "saved-by-sigint\n"
    srv.proc.send_signal(signal.SIGTERM)
    assert srv.wait_exit() == 0
    # --start-server-load-latest picks the newest save of the saves folder.
    os.utime(os.path.join(inst, "saves", "_autosave1.zip"), (1, 1))
    srv = Server(inst, None, extra=["--start-server-load-latest"])
    srv.wait_ready()
    srv.wait_line("Loading map %s" % save)
    srv.proc.send_signal(signal.SIGTERM)
    assert srv.wait_exit() == 0


def check_scenario(inst):
    """--start-server-load-scenario: a folder scenario, no file to save to."""
    scen = os.path.join(inst, "scenarios", "hello")
    os.makedirs(os.path.join(scen, "lib"))
    with open(os.path.join(scen, "control.lua"), "w") as f:
        f.write("local lib = require('lib.greet')\n"
                "script.on_init(function() print(lib.text) end)\n")
    with open(os.path.join(scen, "lib", "greet.lua"), "w") as f:
        f.write("return {text = 'scenario on_init ran'}\n")
    srv = Server(inst, None, extra=["--start-server-load-scenario", "hello"])
    srv.wait_ready()
    srv.wait_line("scenario on_init ran")
    srv.proc.send_signal(signal.SIGTERM)
    assert srv.wait_exit() == 0
    srv.wait_line("Can't save to default location: Default location not known")
    # A Lua error in an event handler stops the server, as in the game.
    scen = os.path.join(inst, "scenarios", "broken")
    os.makedirs(scen)
    with open(os.path.join(scen, "control.lua"), "w") as f:
        f.write("script.on_event(defines.events.on_player_joined_game, "
                "function() error('broken handler') end)\n")
    srv = Server(inst, None, extra=["--start-server-load-scenario", "broken"])
    srv.wait_ready()
    r = Rcon(srv.rcon_port, "pw")
    r.cmd("/standin join alice")
    assert srv.wait_exit() == 1
    i = srv.wait_line("Error MainLoop.cpp:1429: Exception at tick")
    srv.wait_line("__level__/control.lua:1: broken handler", start=i)
    srv.wait_line("Goodbye", start=i)
    srv = Server(inst, None, extra=["--start-server-load-scenario", "broken",
                                    "--standin-continue-on-script-error"])
    srv.wait_ready()
    r = Rcon(srv.rcon_port, "pw")
    r.cmd("/standin join alice")
    assert r.cmd("/players online") == "Online players (1):\n  alice (online)\n"
    srv.proc.send_signal(signal.SIGTERM)
    assert srv.wait_exit() == 0


def check_stdin_console(inst, save):
    """Console commands typed on stdin, answers on stdout, --console-log."""
    log = os.path.join(inst, "console.log")
    srv = Server(inst, save, stdin=subprocess.PIPE, extra=["--console-log", log])
    srv.wait_ready()
    srv.proc.stdin.write("/standin join carol\n/players online\n")
    srv.proc.stdin.flush()
    srv.wait_line("[JOIN] carol joined the game")
    i = srv.wait_line("Online players (1):")
    srv.wait_line("  carol (online)", start=i)
    r = Rcon(srv.rcon_port, "pw")
    big = r.cmd("/sc rcon.print(string.rep('x', 200000))")
    big = r.cmd("/sc rcon.print(string.rep('x', 200000))")
    assert big == "x" * 200000 + "\n", len(big)
    srv.proc.stdin.write("/quit\n")
    srv.proc.stdin.flush()
    assert srv.wait_exit() == 0
    with open(log) as f:
        text = f.read()
    assert "[JOIN] carol joined the game" in text and "Goodbye" in text, text


def main():
    check_install()
    inst = make_instance()
    save = create_save(inst)
    check_rcon(inst, save)
    check_sigint_and_sigkill(inst, save)
    check_scenario(inst)
    inst2 = make_instance()
    check_stdin_console(inst2, create_save(inst2))
    subprocess.run(["rm", "-rf", inst2])
    subprocess.run(["rm", "-rf", inst])
    print("e2e_rcon: ok")


if __name__ == "__main__":
    main()
