#!/usr/bin/env python3
"""A plugin for the supervision test: it uses exactly what a plugin gets
(its environment, its token, the API) and reports through the KV
namespace it was given: key <node name> = "<pid> <status of a write>".
A token without kv.write cannot report there; the probe then prints the
refusal on stdout, which the node logs."""
import http.client
import os
import signal
import sys
import time
import urllib.parse

url = urllib.parse.urlparse(os.environ["CLUSTERD_NODE"])
token = os.environ["CLUSTERD_TOKEN"]
ns = os.environ["CLUSTERD_PLUGIN_NS"]
node = os.environ["CLUSTERD_NODE_NAME"]
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))


def put(value):
    c = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    c.request("PUT", "/api/v1/kv/%s/%s" % (ns, node), body=value,
              headers={"Authorization": "Bearer " + token})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, body


while True:
    try:
        st, body = put(("%d" % os.getpid()).encode())
    except OSError as e:
        st, body = 0, str(e).encode()
    if st == 200:
        break
    print("probe %s: write refused: %d %s" % (node, st, body.decode(errors="replace").strip()),
          flush=True)
    if st in (401, 403):
        break
    time.sleep(0.5)
if st == 200:
    print("probe %s: reported pid %d" % (node, os.getpid()), flush=True)
while True:
    time.sleep(3600)
