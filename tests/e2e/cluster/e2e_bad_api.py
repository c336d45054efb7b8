"""Bad input on the HTTP API of a real 3-node cluster, through the leader
and through a follower: each answer is a JSON {"error": ...} with the
right status, and a refused write is not applied.

- a namespace outside [A-Za-z0-9_.-]{1,64}, a key over 512 bytes: 400
- a value over 1 MiB: 413
- no token, a malformed header, a wrong token: 401
- PUT/DELETE with ?cas= on a wrong revision: 409 with the current revision
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from cluster_util import Cluster, check, run  # noqa: E402


def json_error(n, status, method, path, body=None, what="", **kw):
    st, h, data = n.req(method, path, body=body, **kw)
    try:
        j = json.loads(data)
    except ValueError:
        j = None
    ok = st == status and isinstance(j, dict) and isinstance(j.get("error"), str) and j["error"]
    check(ok, "%s via %s: %d with a JSON error (got %d %r)" % (what, n.name, status, st, data[:160]))
    check("json" in h.get("content-type", ""), "%s via %s: Content-Type is JSON (%s)"
          % (what, n.name, h.get("content-type")))
    return j


def main():
    with Cluster("badapi") as cl:
        cl.form(3)
        leader = cl.wait_leader()
        follower = [n for n in cl.nodes if n is not leader][0]
        for n in (leader, follower):
            # Key/namespace shapes.
            json_error(n, 400, "PUT", "/api/v1/kv/bad%21ns/k", b"v", what="namespace with '!'")
            json_error(n, 400, "PUT", "/api/v1/kv/" + "n" * 65 + "/k", b"v", what="65-byte namespace")
            json_error(n, 400, "PUT", "/api/v1/kv/ns/" + "k" * 513, b"v", what="513-byte key")
            json_error(n, 400, "GET", "/api/v1/kv/sp%20ace/k", what="namespace with a space")
            json_error(n, 404, "GET", "/api/v1/kv/ns/absent-" + n.name, what="absent key")
            # Oversized value: nothing is written.
            json_error(n, 413, "PUT", "/api/v1/kv/ns/big-" + n.name, b"x" * (1024 * 1024 + 1),
                       what="1 MiB + 1 value")
            st, _, _ = n.kv_get("ns", "big-" + n.name)
            check(st == 404, "the oversized value was not written (%d)" % st)
            rev = cl.put_ok(n, "ns", "max-" + n.name, b"y" * (1024 * 1024))
            check(rev > 0, "a value of exactly 1 MiB is accepted via %s" % n.name)
            # Tokens.
            json_error(n, 401, "PUT", "/api/v1/kv/ns/t", b"v", token=None, what="no token")
            json_error(n, 401, "GET", "/api/v1/kv/ns/t", token=None, what="no token (read)")
            json_error(n, 401, "PUT", "/api/v1/kv/ns/t", b"v", token=None,
                       headers={"Authorization": "Basic dXNlcjpwdw=="}, what="not a bearer token")
            json_error(n, 401, "PUT", "/api/v1/kv/ns/t", b"v", token="0" * 16 + "." + "A" * 43,
                       what="wrong token")
            json_error(n, 401, "GET", "/api/v1/cluster/raft", token="garbage", what="garbage token")
            st, _, _ = n.kv_get("ns", "t")
            check(st == 404, "no write with a refused token was applied (%d)" % st)
            # CAS.
            key = "cas-" + n.name
            r1 = cl.put_ok(n, "ns", key, b"one")
            j = json_error(n, 409, "PUT", "/api/v1/kv/ns/%s?cas=%d" % (key, r1 + 1000), b"two",
                           what="PUT with a wrong cas")
            check(j.get("revision") == r1, "the 409 names the current revision %d (%s)" % (r1, j))
            json_error(n, 409, "PUT", "/api/v1/kv/ns/%s?cas=0" % key, b"two",
                       what="PUT cas=0 on an existing key")
            json_error(n, 409, "DELETE", "/api/v1/kv/ns/%s?cas=%d" % (key, r1 + 1), what="DELETE with a wrong cas")
            st, h, body = n.kv_get("ns", key)
            check(st == 200 and body == b"one" and int(h["x-clusterd-revision"]) == r1,
                  "the refused CAS writes changed nothing")
            st, _, body = n.put("ns", key, b"two", cas=r1)
            check(st == 200 and json.loads(body)["revision"] > r1, "the right cas writes (%d)" % st)
            json_error(n, 400, "PUT", "/api/v1/kv/ns/%s?cas=abc" % key, b"x", what="a non-numeric cas")


if __name__ == "__main__":
    run(main)
