"""Bad input on the cluster port of a real 3-node cluster's leader, while
clients keep writing through the other nodes (every write must succeed).

- random bytes, an oversized length prefix, a truncated frame (prefix and
  part of a body, then silence), bytes replayed from a captured join
  connection (recorded with a small TCP proxy, replayed to the leader and
  to a follower), random UDP datagrams;
- 1,000 idle connections at once.
Each bad connection is closed by the node, each is counted in /metrics
(clusterd_transport_rejected_total by reason, handshakes failed,
connections), and the cluster answers writes meanwhile.
"""
import os
import random
import select
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from cluster_util import (Cluster, Failed, check, free_port, log, metric,  # noqa: E402
                          run, wait_for)


def addr(n):
    h, p = n.bind.rsplit(":", 1)
    return h, int(p)


def refused_total(n):
    """Everything the transport counts as refused or failed, any reason."""
    m = n.metrics()
    return (metric(m, "clusterd_transport_rejected_total")
            + metric(m, "clusterd_transport_handshakes_failed_total"))


def closed_by_peer(s, timeout=30):
    """Waits until the node closes s (EOF or reset); True if it did."""
    s.settimeout(timeout)
    try:
        while True:
            d = s.recv(65536)
            if not d:
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def send_and_expect_close(n, payload, what, reason=None):
    before = refused_total(n)
    before_r = metric(n.metrics(), "clusterd_transport_rejected_total", reason=reason) \
        if reason else None
    s = socket.create_connection(addr(n), timeout=10)
    try:
        try:
            s.sendall(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass
        check(closed_by_peer(s), "%s: %s closed the connection" % (what, n.name))
    finally:
        s.close()
    wait_for(lambda: refused_total(n) > before, "%s to be counted on %s" % (what, n.name))
    if reason:
        after_r = metric(n.metrics(), "clusterd_transport_rejected_total", reason=reason)
        check(after_r > before_r, "%s counted as reason=%s on %s (%d -> %d)"
              % (what, reason, n.name, before_r, after_r))
    else:
        check(True, "%s counted on %s" % (what, n.name))


class Writer(threading.Thread):
    """Writes through the given nodes without pause; any failure is kept."""

    def __init__(self, cl, nodes, tag):
        super().__init__(daemon=True)
        self.cl, self.nodes, self.tag = cl, nodes, tag
        self.stop = threading.Event()
        self.ok = 0
        self.errors = []
        self.max_s = 0.0

    def run(self):
        i = 0
        while not self.stop.is_set():
            n = self.nodes[i % len(self.nodes)]
            t = time.monotonic()
            try:
                st, _, body = n.put("port", "%s-%d" % (self.tag, i), b"v", timeout=15)
            except OSError as e:
                st, body = -1, repr(e).encode()
            self.max_s = max(self.max_s, time.monotonic() - t)
            if st == 200:
                self.ok += 1
            else:
                self.errors.append((n.name, st, body[:100]))
            i += 1


class Proxy(threading.Thread):
    """Accepts one connection on a free port, forwards it to target and
    records what the client sent."""

    def __init__(self, target):
        super().__init__(daemon=True)
        self.port = free_port()
        self.ls = socket.socket()
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(("127.0.0.1", self.port))
        self.ls.listen(1)
        self.target = target
        self.sent = bytearray()
        self.done = threading.Event()

    def run(self):
        c, _ = self.ls.accept()
        u = socket.create_connection(self.target)
        try:
            while True:
                r, _, _ = select.select([c, u], [], [], 60)
                if not r:
                    break
                if c in r:
                    d = c.recv(65536)
                    if not d:
                        break
                    self.sent += d
                    u.sendall(d)
                if u in r:
                    d = u.recv(65536)
                    if not d:
                        break
                    c.sendall(d)
        except OSError:
            pass
        finally:
            c.close()
            u.close()
            self.ls.close()
            self.done.set()


def main():
    rnd = random.Random(int(os.environ.get("CLUSTERD_E2E_SEED", "1")))
    with Cluster("badport") as cl:
        cl.form(3)
        target = cl.wait_leader()
        others = [n for n in cl.nodes if n is not target]
        w = Writer(cl, others, "w")
        w.start()
        try:
            # ---- garbage ----
            for i in range(3):
                send_and_expect_close(target, bytes(rnd.getrandbits(8) for _ in range(4096)),
                                      "random bytes #%d" % i)
            send_and_expect_close(target, b"\xff\xff\xff\xff" + b"A" * 64,
                                  "length prefix 4 GiB", reason="too_big")
            send_and_expect_close(target, b"\x01\x00\x00\x01" + b"A" * 64,
                                  "length prefix 16 MiB + 1", reason="too_big")
            send_and_expect_close(target, b"\x00\x00\x00\x00", "zero length prefix",
                                  reason="malformed")
            # A prefix and part of its body, then nothing: dropped by the
            # handshake deadline.
            send_and_expect_close(target, b"\x00\x00\x00\x64" + b"CLTP" + b"\x00" * 6,
                                  "truncated frame (then silence)")
            # A plausible hello with a bad magic.
            send_and_expect_close(target, b"\x00\x00\x00\x29" + b"XXXX" + b"\x00" * 37,
                                  "hello with a bad magic", reason="malformed")

            # ---- UDP garbage ----
            before = metric(target.metrics(), "clusterd_transport_rejected_total", kind="datagram")
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            for i in range(50):
                u.sendto(bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 1400))), addr(target))
            u.sendto(b"\xc7" + b"\x01" * 200, addr(target))  # our magic, garbage after
            u.close()
            wait_for(lambda: metric(target.metrics(), "clusterd_transport_rejected_total",
                                    kind="datagram") >= before + 40,
                     "random datagrams to be counted")
            check(True, "random UDP datagrams dropped and counted (%d -> %d)"
                  % (before, metric(target.metrics(), "clusterd_transport_rejected_total",
                                    kind="datagram")))

            # ---- replay of a captured connection ----
            proxy = Proxy(addr(target))
            proxy.start()
            n4 = cl.node("n4").start()
            r = n4.ctl("join", "127.0.0.1:%d" % proxy.port, "--token", cl.join_token, token=None)
            check(r.returncode == 0, "n4 joined through the capturing proxy (%s)" % r.stderr.strip())
            proxy.done.wait(60)
            capture = bytes(proxy.sent)
            check(len(capture) > 100, "captured %d bytes of a join connection" % len(capture))
            for n in (target, others[0]):
                before_auth = refused_total(n)
                send_and_expect_close(n, capture, "replayed join capture")
                check(refused_total(n) > before_auth, "the replay was refused by %s" % n.name)
            # Replayed in pieces, then the handshake truncated.
            send_and_expect_close(target, capture[:len(capture) // 2], "half a captured connection")
            names = [s["name"] for s in target.raft()["servers"]]
            check(names.count("n4") == 1, "the replays added no member (%s)" % names)

            # ---- 1,000 idle connections ----
            conns_before = metric(target.metrics(), "clusterd_transport_connections")
            ref_before = refused_total(target)
            idle = []
            for _ in range(1000):
                s = socket.socket()
                s.setblocking(True)
                s.connect(addr(target))
                idle.append(s)
            peak = wait_for(lambda: (lambda v: v if v >= conns_before + 900 else None)(
                metric(target.metrics(), "clusterd_transport_connections")),
                "the 1,000 idle connections to show in clusterd_transport_connections")
            check(True, "clusterd_transport_connections %d -> %d with 1,000 idle connections"
                  % (conns_before, peak))
            ok_before = w.ok
            wait_for(lambda: w.ok >= ok_before + 20, "writes to go on with 1,000 idle connections")
            check(True, "writes go on while 1,000 idle connections are open")
            # The handshake deadline drops each one.
            deadline = time.monotonic() + 120
            closed = 0
            for s in idle:
                left = max(1.0, deadline - time.monotonic())
                if closed_by_peer(s, timeout=left):
                    closed += 1
                s.close()
            check(closed == 1000, "the node closed all 1,000 idle connections (%d)" % closed)
            wait_for(lambda: refused_total(target) >= ref_before + 1000,
                     "the 1,000 dropped connections to be counted")
            check(True, "the idle connections were counted as failed handshakes (%d -> %d)"
                  % (ref_before, refused_total(target)))
            wait_for(lambda: metric(target.metrics(), "clusterd_transport_connections")
                     <= conns_before + 10, "the connection gauge to fall back")
            check(True, "clusterd_transport_connections back to %d"
                  % metric(target.metrics(), "clusterd_transport_connections"))
        finally:
            w.stop.set()
            w.join()
        log("writer: %d acknowledged, %d failed, slowest %.2f s" % (w.ok, len(w.errors), w.max_s))
        if w.errors:
            raise Failed("writes failed during the bad input: %s" % w.errors[:5])
        check(w.ok > 50, "writes went on through the whole test (%d)" % w.ok)
        check(target.alive() and cl.leader() is not None, "the attacked node is up and a leader known")
        m = target.metrics()
        log("rejected on %s: %s; handshakes failed %d" % (
            target.name,
            dict(("%s/%s" % (dict(ls)["kind"], dict(ls)["reason"]), v) for (nm, ls), v in m.items()
                 if nm == "clusterd_transport_rejected_total" and v),
            metric(m, "clusterd_transport_handshakes_failed_total")))


if __name__ == "__main__":
    run(main)
