"""IPC from game to node (issue 12): messages per second and latency.

One clusterd node runs one instance on the Factorio stand-in, with the Lua
dir (config key lua_dir) holding lua/clusterd and a bench module
(bench/instances/lua/ipcbench). Over the instance's RCON the bench:
- makes the game send a burst of N messages in one tick (inline JSON, or
  payloads of 5,000 bytes through script-output files) and polls the
  module's outbox until the node has acknowledged them all: N / time is
  the rate (game print -> node parse, dedup, dispatch -> batched RCON ack
  -> removed from the outbox);
- sends one message at a time, TRIALS times, and times each from the RCON
  command to the outbox being empty again: the round trip a single event
  takes (it includes the game's tick pacing of RCON, 16.7 ms a step).
Figures are printed, not asserted.

Run: CLUSTERD_BUILD=build python3 bench/instances/ipc_bench.py [TRIALS]
"""
import json
import os
import shutil
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "../.."))
sys.path.insert(0, os.path.join(ROOT, "tests/e2e/cluster"))
sys.path.insert(0, os.path.join(ROOT, "tests/e2e/standin"))
sys.path.insert(0, os.path.join(ROOT, "tests/e2e/lua"))
from cluster_util import BUILD, Cluster, log, wait_for  # noqa: E402
import standin_util as su  # noqa: E402
from lua_util import port_pair  # noqa: E402


def call(r, fn, args):
    body = r.cmd('/sc rcon.print(remote.call("clusterd","%s",%s))' % (fn, args))
    return json.loads(body)


def pct(xs, p):
    xs = sorted(xs)
    return xs[max(0, min(len(xs) - 1, int(round(p / 100.0 * len(xs) + 0.5)) - 1))]


def main():
    trials = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    with Cluster("ipcbench") as cl:
        n1 = cl.node("n1")
        lua = os.path.join(cl.tmp, "lua")
        shutil.copytree(os.path.join(ROOT, "lua/clusterd"), os.path.join(lua, "clusterd"))
        shutil.copytree(os.path.join(HERE, "lua/ipcbench"), os.path.join(lua, "ipcbench"))
        os.makedirs(n1.dir)
        base = port_pair()
        with open(os.path.join(n1.dir, "clusterd.json"), "w") as f:
            json.dump({"factorio_dir": os.path.join(BUILD, "factorio-standin"),
                       "lua_dir": lua, "log_level": os.environ.get("BENCH_LOG", "info"), "instance_ports": "%d-%d" % (base, base + 1)}, f)
        init = n1.init()
        cl.admin_token = init["admin_token"]
        n1.start()
        for args in (["instance", "create", "bench"], ["instance", "assign", "bench", "n1"],
                     ["instance", "start", "bench"]):
            wait_for(lambda: n1.ctl(*args).returncode == 0, " ".join(args))

        def show():
            st, _, body = n1.get("/api/v1/instances/bench")
            return json.loads(body) if st == 200 else {}
        wait_for(lambda: show().get("status") == "running", "the instance to run")
        inst = show()
        with open("/proc/%d/cmdline" % inst["pid"], "rb") as f:
            argv = f.read().split(b"\0")
        pw = argv[argv.index(b"--rcon-password") + 1].decode()
        r = su.Rcon(inst["rcon_port"], pw)
        r.cmd("/sc rcon.print('disabled')")
        wait_for(lambda: r.cmd("/sc rcon.print('x')") == "x\n", "Lua commands")
        wait_for(lambda: show().get("ipc_received", 0) >= 0 and call(r, "bench_outbox", "nil") == 0,
                 "an empty outbox")
        for n, size in ((1000, 0), (10000, 0), (10000, 100), (300, 5000)):
            rates = []
            for _ in range(3):
                t0 = time.monotonic()
                call(r, "bench_send", "{n=%d,size=%d}" % (n, size))
                while call(r, "bench_outbox", "nil") != 0:
                    pass
                rates.append(n / (time.monotonic() - t0))
            print("bench ipc_burst n=%d payload=%dB%s: median %.0f msg/s (runs %s)"
                  % (n, size, " (files)" if size >= 4000 else "", statistics.median(rates),
                     ", ".join("%.0f" % x for x in rates)), flush=True)
        lat = []
        for _ in range(trials):
            t0 = time.monotonic()
            call(r, "bench_send", "{n=1,size=0}")
            while call(r, "bench_outbox", "nil") != 0:
                pass
            lat.append((time.monotonic() - t0) * 1000)
        print("bench ipc_latency: one message, RCON command -> acknowledged in the game: "
              "p50 %.1f ms p90 %.1f ms max %.1f ms over %d (RCON alone: one tick, 16.7 ms, per command)"
              % (pct(lat, 50), pct(lat, 90), max(lat), len(lat)), flush=True)
        inst = show()
        print("node counters: ipc_received %d ipc_duplicates %d" %
              (inst.get("ipc_received", -1), inst.get("ipc_duplicates", -1)))
        r.close()
        n1.ctl("instance", "stop", "bench")
        wait_for(lambda: show().get("status") == "stopped", "the instance to stop")
        log("done")


if __name__ == "__main__":
    main()
