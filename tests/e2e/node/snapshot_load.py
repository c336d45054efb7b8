#!/usr/bin/env python3
"""Helpers of test_snapshot.sh (real clusterd processes on loopback).

  snapshot_load.py fixed URLS TOKEN OUT
      writes namespace "fixed" through the nodes in turn: 200 puts of 4 KiB,
      10 overwrites, 5 deletes, then 1500 puts of 4 KiB from 8 threads (so
      the snapshot spans many chunks, and a stalled reader stalls the
      node's stream); OUT gets the expected state {key: [value, rev]}.
  snapshot_load.py load URLS TOKEN OUT STOP
      writes fresh keys "l-N" into namespace "load" through the nodes in
      turn until the file STOP exists; each acknowledged write is a line
      "key rev value t_call t_return" (monotonic seconds) in OUT, a failed
      one "? key t_call t_return" (its outcome unknown).
  snapshot_load.py dump URL TOKEN NS OUT
      a linearizable list of NS with every value: {key: [value, rev]}.
  snapshot_load.py compare ...   see main().
URLS is a comma-separated list of http://IP:PORT.
"""
import json
import os
import socket
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request


def req(url, token, method="GET", body=None, timeout=15):
    r = urllib.request.Request(url, data=body, method=method)
    r.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(r, timeout=timeout) as resp:
        return resp.status, resp.read(), resp.headers


def put(url, token, ns, key, value):
    _, body, _ = req(f"{url}/api/v1/kv/{ns}/{key}", token, "PUT",
                     value.encode())
    return json.loads(body)["revision"]


def fixed(urls, token, out):
    state = {}
    for i in range(200):
        k, v = f"f{i:03d}", f"first-{i}-" + "x" * 4096
        state[k] = [v, put(urls[i % len(urls)], token, "fixed", k, v)]
    for i in range(10):
        k, v = f"f{i:03d}", f"second-{i}"
        state[k] = [v, put(urls[(i + 1) % len(urls)], token, "fixed", k, v)]
    for i in range(30, 35):
        k = f"f{i:03d}"
        req(f"{urls[i % len(urls)]}/api/v1/kv/fixed/{k}", token, "DELETE")
        del state[k]
    def bulk(t):
        for i in range(t, 1500, 8):
            k, v = f"b{i:04d}", f"bulk-{i}-" + "y" * 4096
            state[k] = [v, put(urls[i % len(urls)], token, "fixed", k, v)]
    threads = [threading.Thread(target=bulk, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if sum(1 for k in state if k.startswith("b")) != 1500:
        raise SystemExit("bulk writes failed")
    with open(out, "w") as f:
        json.dump(state, f)


def stalled(port, token, hold_s, out):
    """Starts a backup with a 4 KiB receive buffer and reads it slowly, so
    the node's stream stays in flight; writes the bytes received to OUT."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", int(port)))
    s.sendall(f"GET /api/v1/snapshot HTTP/1.1\r\nHost: x\r\n"
              f"Authorization: Bearer {token}\r\n\r\n".encode())
    got = s.recv(65536)
    with open(out + ".started", "w"):
        pass
    time.sleep(float(hold_s))
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            got += b
    except OSError:
        pass
    with open(out, "wb") as f:
        f.write(got)


def load(urls, token, out, stop):
    n = 0
    with open(out, "w", buffering=1) as f:
        while not os.path.exists(stop):
            k, v = f"l-{n:06d}", f"value-{n}"
            t0 = time.monotonic()
            try:
                rev = put(urls[n % len(urls)], token, "load", k, v)
                f.write(f"{k} {rev} {v} {t0:.6f} {time.monotonic():.6f}\n")
            except (urllib.error.URLError, OSError, ValueError):
                f.write(f"? {k} {t0:.6f} {time.monotonic():.6f}\n")
            n += 1


def dump(url, token, ns, out):
    state, after = {}, None
    while True:
        q = {"prefix": "", "limit": "1000"}
        if after is not None:
            q["after"] = after
        _, body, _ = req(f"{url}/api/v1/kv/{ns}?" + urllib.parse.urlencode(q),
                         token)
        page = json.loads(body)
        for item in page["keys"]:
            _, value, hdr = req(f"{url}/api/v1/kv/{ns}/{item['key']}", token)
            rev = int(hdr["X-Clusterd-Revision"])
            if rev != item["revision"]:
                raise SystemExit(f"{item['key']} changed while listed")
            state[item["key"]] = [value.decode(), rev]
            after = item["key"]
        if not page["more"]:
            break
    with open(out, "w") as f:
        json.dump(state, f)


def compare(args):
    """compare INDEX SAVE_T0 FIXED_EXPECTED LOAD_LOG LIVE_LOAD RESTORED_FIXED
    RESTORED_LOAD: prints one line per check, exits 1 if any failed."""
    index, t_save = int(args[0]), float(args[1])
    exp_fixed, log, live, got_fixed, got_load = args[2:7]
    exp_fixed, live = json.load(open(exp_fixed)), json.load(open(live))
    got_fixed, got_load = json.load(open(got_fixed)), json.load(open(got_load))
    acks, unknown = {}, set()
    for line in open(log):
        w = line.split()
        if w[0] == "?":
            unknown.add(w[1])
        else:
            acks[w[0]] = (int(w[1]), w[2], float(w[3]), float(w[4]))
    bad = 0

    def check(ok, what):
        nonlocal bad
        print(("ok: " if ok else "FAIL: ") + what)
        bad += 0 if ok else 1

    before = [k for k, a in acks.items() if a[3] < t_save]
    after = [k for k, a in acks.items() if a[2] > t_save and a[0] > index]
    check(len(before) >= 20 and len(after) >= 20,
          f"writes ran before ({len(before)}) and during/after the save "
          f"({len(after)} with revisions past the snapshot)")
    top_fixed = max(v[1] for v in exp_fixed.values())
    check(index >= top_fixed and all(acks[k][0] <= index for k in before),
          f"the snapshot's index {index} covers every write acknowledged "
          f"before the save started")
    check(got_fixed == exp_fixed,
          f"namespace fixed: {len(got_fixed)} keys restored, values and "
          f"revisions equal to those written ({len(exp_fixed)})")
    want = {k: v for k, v in live.items() if v[1] <= index}
    check(got_load == want,
          f"namespace load: {len(got_load)} keys restored equal the live "
          f"cluster's {len(want)} keys with revision <= {index}")
    stray = [k for k, a in acks.items()
             if (a[0] <= index) != (k in got_load)]
    check(not stray, f"every acknowledged write is restored iff its "
          f"revision <= {index} (mismatches: {stray[:5]})")
    check(all(k in acks or k in unknown for k in got_load),
          "the restored load keys were all written by the test")
    return 1 if bad else 0


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "fixed":
        fixed(args[0].split(","), args[1], args[2])
    elif cmd == "load":
        load(args[0].split(","), args[1], args[2], args[3])
    elif cmd == "dump":
        dump(args[0], args[1], args[2], args[3])
    elif cmd == "compare":
        sys.exit(compare(args))
    elif cmd == "stalled":
        stalled(args[0], args[1], args[2], args[3])
    elif cmd == "now":
        print(f"{time.monotonic():.6f}")
    else:
        raise SystemExit("unknown command " + cmd)


if __name__ == "__main__":
    main()
