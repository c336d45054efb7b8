#!/usr/bin/env python3
"""Fan-out of the event stream: N clients on one node of a 3-node cluster
(default 200), then writes through another node; prints how long until every
client has each write's domain event (median and worst over the writes),
and the node's RSS before and after the clients connected.

    CLUSTERD_BUILD=build python3 tests/web/ui/measure_events.py [N] [WRITES]
"""
import os
import selectors
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "e2e", "cluster"))
from cluster_util import Cluster, log, wait_for  # noqa: E402


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    writes = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    with Cluster("evfan") as cl:
        a, b, _ = cl.form(3)
        host, port = a.http.rsplit(":", 1)
        before = rss_kib(a.proc.pid)
        sel = selectors.DefaultSelector()
        socks = []
        req = ("GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n"
               % cl.admin_token).encode()
        for _ in range(n):
            s = socket.create_connection((host, int(port)))
            s.sendall(req)
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ, bytearray())
            socks.append(s)
        def pump(until):
            for key, _ in sel.select(timeout=0.05):
                try:
                    data = key.fileobj.recv(65536)
                except BlockingIOError:
                    continue
                key.data.extend(data)
            return all(until(k.data) for k in sel.get_map().values())
        wait_for(lambda: pump(lambda d: b'"type":"hello"' in d), "every client's hello")
        after = rss_kib(a.proc.pid)
        lat = []
        for i in range(writes):
            rev = cl.put_ok(b, "fan", "k%d" % i, b"v")
            t0 = time.monotonic()
            needle = b'"index":%d}' % rev
            wait_for(lambda: pump(lambda d: needle in d), "write %d on every stream" % i)
            lat.append((time.monotonic() - t0) * 1000)
        lat.sort()
        log("measure: %d clients on one node: RSS %d KiB before, %d KiB with them "
            "(%.1f KiB per client); a write acknowledged through another node -> its "
            "event read by all %d clients: median %.1f ms, worst %.1f ms over %d writes"
            % (n, before, after, (after - before) / n, n, lat[len(lat) // 2], lat[-1], writes))
        for s in socks:
            s.close()


if __name__ == "__main__":
    main()
