#!/usr/bin/env python3
"""The event stream and the UI's files over real HTTP, on a one-node
cluster (no browser):
  - GET /api/v1/events needs a token (401), answers text/event-stream with
    a hello, then a domain event for a write whose index is its revision;
  - Last-Event-ID resumes: a client that missed an event gets it;
  - a bad ?logs= is 400;
  - CORS: a preflight from a member's origin is 204 with
    Access-Control-Allow-Origin; from any other origin it gets none;
  - `/` serves the UI with its Content-Security-Policy, `/app.js` the
    script, an unknown path 404;
  - SIGTERM with a stream open: the stream ends with a comment saying the
    node stops, and the node exits 0 promptly.
"""
import http.client
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "e2e", "cluster"))
from cluster_util import Cluster, check, run, wait_for  # noqa: E402


class Stream:
    def __init__(self, node, token, last_id=None, query=""):
        host, port = node.http.rsplit(":", 1)
        self.c = http.client.HTTPConnection(host, int(port), timeout=30)
        h = {"Authorization": "Bearer " + token}
        if last_id:
            h["Last-Event-ID"] = last_id
        self.c.request("GET", "/api/v1/events" + query, headers=h)
        self.r = self.c.getresponse()
        self.last_id = None

    def event(self):
        """The next event's JSON text, or a comment ('#...'), or None at
        the end of the stream."""
        data = None
        while True:
            line = self.r.readline()
            if not line:
                return None
            line = line.decode().rstrip("\n")
            if line.startswith("id: "):
                self.last_id = line[4:]
            elif line.startswith("data: "):
                data = line[6:]
            elif line.startswith(": "):
                if data is None and not line.startswith(": clusterd"):
                    return "#" + line[2:]
            elif line == "" and data is not None:
                return data

    def wait(self, needle):
        while True:
            ev = self.event()
            if ev is None:
                raise AssertionError("stream ended before %r" % needle)
            if needle in ev:
                return ev

    def close(self):
        self.c.close()


def main():
    with Cluster("events") as cl:
        n = cl.bootstrap()
        st, _, _ = n.get("/api/v1/events", token=None)
        check(st == 401, "the event stream needs a token (%d)" % st)
        st, _, _ = n.get("/api/v1/events?logs=2")
        check(st == 400, "?logs=2 is refused (%d)" % st)

        s = Stream(n, cl.admin_token)
        check(s.r.status == 200 and s.r.getheader("Content-Type", "").startswith("text/event-stream"),
              "200 text/event-stream")
        hello = s.wait('"type":"hello"')
        check('"resumed":false' in hello, "a hello first: %s" % hello)
        rev = cl.put_ok(n, "ev", "k1", b"v1")
        ev = s.wait('"domain":"kv"')
        check('"index":%d' % rev in ev, "the write's domain event carries its revision %d: %s" % (rev, ev))
        seen = s.last_id
        s.close()

        rev2 = cl.put_ok(n, "ev", "k2", b"v2")  # while nobody listens
        r = Stream(n, cl.admin_token, last_id=seen)
        hello = r.wait('"type":"hello"')
        check('"resumed":true' in hello, "Last-Event-ID %s resumes: %s" % (seen, hello))
        ev = r.wait('"domain":"kv"')
        check('"index":%d' % rev2 in ev, "the event missed while away arrives: %s" % ev)

        own = "http://" + n.http
        st, h, _ = n.req("OPTIONS", "/api/v1/events", token=None,
                         headers={"Origin": own, "Access-Control-Request-Method": "GET",
                                  "Access-Control-Request-Headers": "authorization"})
        check(st == 204 and h.get("access-control-allow-origin") == own,
              "a member's origin passes the preflight (%d, %r)" % (st, h.get("access-control-allow-origin")))
        st, h, _ = n.req("OPTIONS", "/api/v1/events", token=None,
                         headers={"Origin": "http://evil.example:80",
                                  "Access-Control-Request-Method": "GET"})
        check("access-control-allow-origin" not in h, "another origin gets no CORS header (%d)" % st)
        st, h, _ = n.get("/api/v1/cluster/members", headers={"Origin": "http://evil.example:80"})
        check(st == 200 and "access-control-allow-origin" not in h,
              "nor does an answer to another origin")

        st, h, body = n.get("/", token=None)
        check(st == 200 and h.get("content-type", "").startswith("text/html") and b"/app.js" in body,
              "/ serves the UI")
        check("script-src" not in h.get("content-security-policy", "x") and
              h.get("content-security-policy", "").startswith("default-src 'self'"),
              "with a Content-Security-Policy: %s" % h.get("content-security-policy"))
        check(h.get("x-frame-options") == "DENY", "and framing forbidden")
        st, h, body = n.get("/app.js", token=None)
        check(st == 200 and h.get("content-type", "").startswith("text/javascript"), "/app.js")
        st, _, _ = n.get("/no-such-file", token=None)
        check(st == 404, "an unknown path is 404 (%d)" % st)

        t0 = time.monotonic()
        n.proc.send_signal(signal.SIGTERM)
        end = r.wait("stopping")
        check("stopping" in end, "the open stream ends saying the node stops: %r" % end)
        check(r.event() is None, "and then ends")
        wait_for(lambda: n.proc.poll() is not None, "the node to exit", timeout=30)
        check(n.proc.returncode == 0, "the node exits 0 after %.1f s with a stream open"
              % (time.monotonic() - t0))
        r.close()


if __name__ == "__main__":
    run(main)
