"""Not a test: measures the stand-in's RCON pacing and throughput.

    CLUSTERD_BUILD=build python3 tests/e2e/standin/measure_rcon.py

Prints the time for N pipelined /sc commands (all sent at once) and the
mean round trip of sequential commands (one tick each, ~16.7 ms, as with
the game)."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from standin_util import Rcon, Server, create_save, make_instance, packet  # noqa: E402


def main(n=10000, seq=120):
    inst = make_instance()
    srv = Server(inst, create_save(inst))
    srv.wait_ready()
    r = Rcon(srv.rcon_port, "pw")
    r.cmd("/sc rcon.print(1)")
    t = time.time()
    r.sock.sendall(b"".join(packet(i + 10, 2, "/sc rcon.print(%d)" % i) for i in range(n)))
    for i in range(n):
        pid, _, body = r.recv()
        assert pid == i + 10 and body == "%d\n" % i
    dt = time.time() - t
    print("pipelined: %d commands in %.3f s = %.0f commands/s" % (n, dt, n / dt))
    t = time.time()
    for i in range(seq):
        r.cmd("/sc rcon.print(%d)" % i)
    dt = time.time() - t
    print("sequential: %d round trips, %.1f ms each" % (seq, dt * 1000 / seq))
    r.send(1, 2, "/quit")
    r.recv()
    srv.wait_exit()
    os.system("rm -rf '%s'" % inst)


if __name__ == "__main__":
    main()
