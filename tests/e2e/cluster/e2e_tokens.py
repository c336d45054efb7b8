"""Join tokens: a join sent the moment the first node starts (before it
has elected itself and applied the log holding the token) waits for it and
succeeds; a node with a wrong, an expired or a revoked join token is
refused, each with a clear message and a non-zero exit, and stays
unjoined; the refusal is counted on the cluster's node; a valid token
then works.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from cluster_util import Cluster, check, log, metric, run, wait_for  # noqa: E402


def refusals(n):
    """Handshakes n refused, whatever the reason."""
    m = n.metrics()
    return (metric(m, "clusterd_transport_rejected_total")
            + metric(m, "clusterd_transport_handshakes_failed_total"))


def refused(seed, joiner, token, what, words):
    before = refusals(seed)
    r = joiner.ctl("join", seed.bind, "--token", token, token=None)
    msg = (r.stdout + r.stderr).strip()
    log("%s token: exit %d, %r" % (what, r.returncode, msg))
    check(r.returncode != 0, "join with a %s token exits non-zero (%d)" % (what, r.returncode))
    check(any(w in msg.lower() for w in words),
          "join with a %s token says why (%r names one of %s)" % (what, msg, words))
    # A refusal is final at once: not retried until the deadline.
    check("catching up" not in msg.lower() and "time" not in msg.lower(),
          "join with a %s token is refused, not retried (%r)" % (what, msg))
    st = json.loads(joiner.get("/api/v1/status", token=None)[2])
    check(st.get("joined") is False, "after the %s token %s is still unjoined" % (what, joiner.name))
    return before


def early_join(cl):
    """Starts n1 from init and joins n3 through it at once, without
    waiting for n1 to lead: n1 does not know the token yet and tells n3 to
    try again, which n3 does until n1 has caught up."""
    early = cl.node("n3").start()
    seed = cl.node("n1")
    j = seed.init()
    cl.admin_token = j["admin_token"]
    cl.join_token = j["join_token"]
    seed.start(flags=False)
    r = early.ctl("join", seed.bind, "--token", cl.join_token, token=None)
    msg = (r.stdout + r.stderr).strip()
    retried = "this node is catching up" in seed.log_text()
    log("join right after start: exit %d, %r; n1 told n3 to retry: %s"
        % (r.returncode, msg, retried))
    check(r.returncode == 0, "a join sent as n1 starts succeeds (%r)" % msg)
    wait_for(lambda: (seed.raft().get("leader") or {}).get("name") == "n1",
             "n1 to lead")
    return seed


def main():
    with Cluster("tokens") as cl:
        seed = early_join(cl)
        joiner = cl.node("n2").start()

        # A wrong token: the real token's id with another secret, and an
        # id the cluster never issued.
        tid, secret = cl.join_token.split(".")
        wrong_secret = tid + "." + ("0" if secret[0] != "0" else "1") + secret[1:]
        before = refused(seed, joiner, wrong_secret, "wrong-secret",
                         ["token", "refused", "auth"])
        other_id = ("f" if tid[0] != "f" else "e") + tid[1:]
        unknown = other_id + "." + secret
        refused(seed, joiner, unknown, "unknown", ["token", "refused", "auth"])
        wait_for(lambda: refusals(seed) >= before + 2,
                 "the seed to count the two refused handshakes")
        m = seed.metrics()
        log("seed: rejected %s, handshakes failed %d" % (
            dict((dict(ls)["reason"], v) for (nm, ls), v in m.items()
                 if nm == "clusterd_transport_rejected_total" and v),
            metric(m, "clusterd_transport_handshakes_failed_total")))
        check(True, "the seed counted both refused join handshakes")
        r = joiner.ctl("join", seed.bind, "--token", "not-a-token", token=None)
        check(r.returncode != 0 and "token" in (r.stdout + r.stderr).lower(),
              "a malformed token is refused before dialling (%r)" % (r.stdout + r.stderr).strip())

        # An expired token: ttl 1 s; wait until the cluster lists it expired.
        r = seed.ctl("token", "create", "join", "--ttl", "1", "--json")
        check(r.returncode == 0, "token create join --ttl 1 (%s)" % r.stderr.strip())
        exp = json.loads(r.stdout)

        def expired():
            lst = json.loads(seed.ctl("token", "list", "--json").stdout)
            toks = lst if isinstance(lst, list) else lst.get("tokens", [])
            return any(t["id"] == exp["id"] and t.get("expired") for t in toks)
        wait_for(expired, "the 1 s token to be listed as expired", interval=0.2)
        refused(seed, joiner, exp["token"], "expired", ["token", "expired", "refused", "auth"])

        # A revoked token.
        r = seed.ctl("token", "create", "join", "--json")
        check(r.returncode == 0, "token create join")
        rev = json.loads(r.stdout)
        r = seed.ctl("token", "revoke", rev["id"])
        check(r.returncode == 0, "token revoke %s (%s)" % (rev["id"], r.stderr.strip()))
        refused(seed, joiner, rev["token"], "revoked", ["token", "revoked", "refused", "auth"])

        # A valid token still works for the same node.
        r = seed.ctl("token", "create", "join", "--json")
        good = json.loads(r.stdout)
        cl.join(joiner, seed, good["token"])
        wait_for(lambda: "n2" in [s["name"] for s in seed.raft()["servers"]],
                 "n2 in the Raft configuration")
        check(True, "a fresh join token lets n2 join after the refusals")
        # A node that just joined knows the API tokens only once it has
        # applied the log that holds them; until then it answers 503 (try
        # again), never 401.
        seen = set()

        def admin_ok():
            st = joiner.get("/api/v1/cluster/raft")[0]
            seen.add(st)
            return st == 200
        wait_for(admin_ok, "n2 to accept the admin token")
        log("n2 answered the admin token with %s" % sorted(seen))
        check(401 not in seen, "n2 never refused the valid admin token (%s)" % sorted(seen))
        cl.put_ok(joiner, "tok", "k", b"v")
        st, _, body = seed.kv_get("tok", "k")
        check(st == 200 and body == b"v", "a write through the joined n2 is read through n1")


if __name__ == "__main__":
    run(main)
