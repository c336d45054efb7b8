"""Plugins (issue 15): the registry is replicated and every node runs what
it says. A plugin registered for every node runs on each, with a token and
URL that work (it reports through its own KV namespace); a plugin process
killed with SIGKILL is restarted; a change of the record restarts it; a
plugin for one node runs only there; disable stops every process; remove
unregisters. A plugin whose permissions are only reads cannot write. Bad
records, a duplicate name and writes to the reserved namespace are refused
with clear errors."""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "cluster"))
from cluster_util import Cluster, check, log, run, wait_for  # noqa: E402

PROBE = os.path.join(HERE, "probe_plugin.py")


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its node) counts as gone.
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def reported(n, ns, node_name):
    st, _, body = n.kv_get(ns, node_name)
    return int(body) if st == 200 else None


def plugins(n):
    st, _, body = n.get("/api/v1/plugins")
    check(st == 200, "plugin list answers 200 (%d)" % st)
    return {p["name"]: p for p in json.loads(body)["plugins"]}


def ctl_ok(n, *args):
    r = n.ctl(*args)
    check(r.returncode == 0, "clusterctl %s: %s%s" % (" ".join(args), r.stdout, r.stderr))
    return r


def main():
    with Cluster("plugins") as cl:
        cl.form(3)
        n1, n2, n3 = cl.nodes
        names = [n.name for n in cl.nodes]

        # Registered through n2, for every node.
        ctl_ok(n2, "plugin", "add", "probe", "--perms", "kv.read,kv.write", "--",
               sys.executable, PROBE)
        pids = {}
        for n in cl.nodes:
            wait_for(lambda n=n: reported(n1, "plugin.probe", n.name),
                     "the probe to report from %s" % n.name)
            pids[n.name] = reported(n1, "plugin.probe", n.name)
            check(pid_alive(pids[n.name]), "probe on %s runs (pid %d)" % (n.name, pids[n.name]))
        log("probe runs on every node: %s" % pids)
        p = plugins(n3)["probe"]
        check(p["local"]["status"] == "running" and p["local"]["pid"] == pids["n3"],
              "n3 lists its own probe process: %r" % p)
        r = ctl_ok(n1, "plugin", "list")
        check("probe" in r.stdout and "running" in r.stdout, "plugin list shows it: %r" % r.stdout)

        # SIGKILL of the plugin process on n2: restarted.
        os.kill(pids["n2"], 9)
        wait_for(lambda: (reported(n1, "plugin.probe", "n2") or pids["n2"]) != pids["n2"],
                 "n2's probe to be restarted")
        new = reported(n1, "plugin.probe", "n2")
        check(pid_alive(new), "the restarted probe runs (pid %d)" % new)
        check(plugins(n2)["probe"]["local"]["restarts"] >= 1, "n2 counts the restart")
        log("SIGKILLed probe on n2 came back as pid %d" % new)
        pids["n2"] = new

        # Disable: every process stops, the record stays.
        ctl_ok(n3, "plugin", "disable", "probe")
        for name, pid in pids.items():
            wait_for(lambda pid=pid: not pid_alive(pid), "probe on %s to stop" % name)
        check(plugins(n1)["probe"]["enabled"] is False, "the record says disabled")
        log("disable stopped the probe on every node")

        # Remove; then one for n3 only, with read permissions only.
        ctl_ok(n1, "plugin", "remove", "probe")
        check("probe" not in plugins(n2), "remove unregisters it")
        ctl_ok(n1, "plugin", "add", "reader", "--on", "n3", "--perms", "kv.read", "--",
               sys.executable, PROBE)
        wait_for(lambda: "probe n3: write refused: 403" in n3.log_text(),
                 "the read-only plugin on n3 to be refused its write")
        check("lacks the permission 'kv.write'" in n3.log_text(),
              "the refusal names the permission")
        for n in (n1, n2):
            check("plugin reader:" not in n.log_text(),
                  "the n3-only plugin does not run on %s" % n.name)
        log("a plugin for n3 with read permissions runs only there and cannot write")

        # Bad input.
        for body, words in ((b'{"name":"../x","command":["x"]}', "bad name"),
                            (b'{"name":"x","command":[]}', "bad command"),
                            (b'{"name":"x","command":["a"],"permissions":["everything"]}',
                             "bad permission"),
                            (b'not json', "not a JSON object")):
            st, _, out = n1.req("POST", "/api/v1/plugins", body=body)
            check(st == 400 and words in out.decode(), "bad record %r: %d %r" % (body, st, out))
        r = n1.ctl("plugin", "add", "reader", "--", "true")
        check(r.returncode == 4 and "exists" in r.stderr, "duplicate: exit 4 (%d %r)"
              % (r.returncode, r.stderr))
        st, _, out = n1.put("_plugins", "evil", b'{"name":"evil","command":["sh"]}')
        check(st == 403 and b"reserved" in out, "kv put into _plugins refused (%d %r)" % (st, out))
        st, _, out = n1.req("POST", "/api/v1/plugins/nosuch/enable")
        check(st == 404, "enable of an unknown plugin: 404 (%d)" % st)
        log("bad records, duplicates and the reserved namespace are refused")
        _ = names


if __name__ == "__main__":
    run(main)
