#!/usr/bin/env python3
"""chat-relay: a clusterd plugin (docs/plugins.md). A message typed in one
instance appears in every other running instance of the cluster.

Every node runs a copy. Each copy follows its own node's event stream,
which carries the chat of that node's instances only, and sends each
message to every other running instance through the API. The relayed line
is printed with game.print, which is not chat, so it is never relayed
again. Standard library only."""
import http.client
import json
import os
import signal
import sys
import time
import urllib.parse

NODE = urllib.parse.urlparse(os.environ["CLUSTERD_NODE"])
TOKEN = os.environ["CLUSTERD_TOKEN"]
NS = os.environ.get("CLUSTERD_PLUGIN_NS", "plugin.chat-relay")
ME = os.environ.get("CLUSTERD_NODE_NAME", "?")
HEADERS = {"Authorization": "Bearer " + TOKEN}
relayed = 0


def log(msg):
    print(msg, flush=True)


def request(method, path, body=None, timeout=15):
    c = http.client.HTTPConnection(NODE.hostname, NODE.port, timeout=timeout)
    try:
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        c.request(method, path, body=data, headers=HEADERS)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def lua_string(s):
    """s as a Lua 5.2 string literal."""
    out = []
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ord(ch) < 32:
            out.append("\\%d" % ord(ch))
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def relay(ev):
    global relayed
    src = ev.get("instance_name") or str(ev.get("instance"))
    text = "[%s] %s: %s" % (src, ev.get("player", "?"), ev.get("message", ""))
    st, body = request("GET", "/api/v1/instances")
    if st != 200:
        log("cannot list instances: %d %s" % (st, body[:200]))
        return
    for inst in json.loads(body).get("instances", []):
        if inst.get("name") == src or inst.get("desired") != "running":
            continue
        # The game side (lua/chat_relay) prints it and counts it; a save
        # without it (the plugin registered without --lua) gets a plain
        # game.print.
        show = ("/sc local ok, r = pcall(remote.call, 'clusterd', 'chat_relay_show', "
                "{from = %s, player = %s, message = %s}) "
                "if not ok then game.print(%s) r = 'plain' end rcon.print(r)"
                % (lua_string(src), lua_string(ev.get("player", "?")),
                   lua_string(ev.get("message", "")), lua_string(text)))
        st, body = request("POST", "/api/v1/instances/%s/rcon" %
                           urllib.parse.quote(inst["name"], safe=""),
                           {"command": show})
        if st == 200:
            relayed += 1
        else:
            log("relay to %s: %d %s" % (inst["name"], st, body[:200].decode(errors="replace")))
    request("PUT", "/api/v1/kv/%s/%s" % (NS, urllib.parse.quote(ME, safe="")),
            str(relayed).encode())


def follow():
    """Reads the event stream until it ends; relays chat events."""
    c = http.client.HTTPConnection(NODE.hostname, NODE.port, timeout=60)
    c.request("GET", "/api/v1/events", headers=HEADERS)
    r = c.getresponse()
    if r.status != 200:
        raise OSError("events: %d %s" % (r.status, r.read()[:200]))
    log("following %s's events" % ME)
    data = []
    while True:
        line = r.readline()
        if not line:
            return
        line = line.decode(errors="replace").rstrip("\r\n")
        if line.startswith("data:"):
            data.append(line[5:].lstrip())
        elif line == "" and data:
            try:
                ev = json.loads("\n".join(data))
            except ValueError:
                ev = {}
            data = []
            if ev.get("type") == "chat" and ev.get("player") != "<server>":
                relay(ev)


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    delay = 0.5
    while True:
        try:
            follow()
            delay = 0.5
        except (OSError, http.client.HTTPException) as e:
            log("event stream: %s; reconnecting in %.1f s" % (e, delay))
            time.sleep(delay)
            delay = min(delay * 2, 10)


if __name__ == "__main__":
    main()
