#!/usr/bin/env python3
"""A stand-in for clusterd and clusterctl, only for testing real_cluster.py.

Installed under the names clusterd and clusterctl (symlinks to this file),
it speaks the few forms the harness uses: `clusterd init ... --json`,
`clusterd run --data-dir D [--name --bind --http]`, `clusterctl --node URL
join PEER --token T`. Its "gossip" is deliberately trivial and honest: a
node lists the nodes whose data directories sit beside its own and marked
joined, and calls a member dead once its process is gone (checked every
200 ms). /metrics exports a byte counter that grows with time.
"""
import json
import os
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def conf_path(d):
    return os.path.join(d, "fake.json")


def load(d):
    with open(conf_path(d)) as f:
        return json.load(f)


def save(d, c):
    tmp = conf_path(d) + ".tmp"
    with open(tmp, "w") as f:
        json.dump(c, f)
    os.replace(tmp, conf_path(d))


def opts(argv):
    o, i = {}, 0
    while i < len(argv):
        if argv[i].startswith("--") and i + 1 < len(argv) and not argv[i + 1].startswith("--"):
            o[argv[i][2:]] = argv[i + 1]
            i += 2
        else:
            o[argv[i].lstrip("-")] = True
            i += 1
    return o


def alive(pid):
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:  # a zombie (killed, not yet reaped) is dead too
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def serve(d):
    c = load(d)
    c["pid"] = os.getpid()
    save(d, c)
    parent = os.path.dirname(d)
    dead, t0 = set(), time.monotonic()

    def watch():
        while True:
            for sib in os.listdir(parent):
                p = os.path.join(parent, sib)
                try:
                    sc = load(p)
                except (OSError, ValueError):
                    continue
                if sc.get("joined") and "pid" in sc and not alive(sc["pid"]):
                    dead.add(sc["name"])
            time.sleep(0.2)

    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def reply(self, body, ctype="application/json"):
            b = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(b)))
            self.end_headers()
            self.wfile.write(b)

        def members(self):
            ms = []
            for sib in sorted(os.listdir(parent)):
                try:
                    sc = load(os.path.join(parent, sib))
                except (OSError, ValueError):
                    continue
                if sc.get("joined"):
                    ms.append({"name": sc["name"], "addr": sc["bind"],
                               "state": "dead" if sc["name"] in dead else "alive"})
            return ms

        def do_GET(self):
            authorized = self.headers.get("Authorization") == "Bearer admintok"
            if self.path == "/api/v1/status":
                return self.reply("{}")
            if self.path.split("?", 1)[0] == "/metrics":
                n = int((time.monotonic() - t0) * 100)
                states = {"alive": 0, "suspect": 0, "dead": 0, "left": 0}
                for m in self.members():
                    states[m["state"]] += 1
                return self.reply("# TYPE clusterd_gossip_sent_bytes_total counter\n"
                                  f'clusterd_gossip_sent_bytes_total{{channel="udp"}} {n}\n'
                                  f'clusterd_gossip_sent_bytes_total{{channel="tcp"}} {n // 10}\n'
                                  "# TYPE clusterd_gossip_members gauge\n" +
                                  "".join(f'clusterd_gossip_members{{state="{k}"}} {v}\n'
                                          for k, v in states.items()),
                                  "text/plain")
            if not authorized and self.path.startswith("/api/v1/cluster/"):
                self.send_response(401)
                self.end_headers()
                return
            if self.path == "/api/v1/cluster/raft":
                return self.reply(json.dumps({"leader": {"id": "1", "name": c["name"]}}))
            if self.path == "/api/v1/cluster/members":
                return self.reply(json.dumps({"members": self.members()}))
            self.send_response(404)
            self.end_headers()

        def do_POST(self):  # join
            c2 = load(d)
            c2["joined"] = True
            save(d, c2)
            self.reply("{}")

    threading.Thread(target=watch, daemon=True).start()
    host, port = c["http"].rsplit(":", 1)
    ThreadingHTTPServer((host, int(port)), H).serve_forever()


def main():
    prog = os.path.basename(sys.argv[0])
    cmd, o = (sys.argv[1] if len(sys.argv) > 1 else ""), opts(sys.argv[2:])
    if prog == "clusterd" and cmd == "init":
        os.makedirs(o["data-dir"], exist_ok=True)
        save(o["data-dir"], {"name": o["name"], "bind": o["bind"],
                             "http": o["http"], "joined": True})
        print(json.dumps({"admin_token": "admintok", "join_token": "jointok"}))
        return 0
    if prog == "clusterd" and cmd == "run":
        d = o["data-dir"]
        if not os.path.exists(conf_path(d)):
            os.makedirs(d, exist_ok=True)
            save(d, {"name": o["name"], "bind": o["bind"], "http": o["http"]})
        serve(d)
    if prog == "clusterctl" and cmd == "--node":
        url, rest = sys.argv[2], opts(sys.argv[3:])
        if rest.get("token") != "jointok" or "join" not in sys.argv:
            print("refused", file=sys.stderr)
            return 1
        urllib.request.urlopen(urllib.request.Request(url + "/api/v1/cluster/join", data=b"{}"))
        return 0
    print(f"fake {prog}: unsupported {sys.argv[1:]}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
