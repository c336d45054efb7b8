"""Helpers the Lua tests and bench/instances share: a pair of free ports
for an instance, and the two stand-in installs (2.0 from the build, 1.1
made with make-install) to run a test on each."""
import os
import shutil
import socket
import subprocess
import sys
import tempfile

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../.."))
sys.path.insert(0, os.path.join(ROOT, "tests/e2e/standin"))
import standin_util as su  # noqa: E402


def port_pair():
    """A port P with P and P+1 free now, TCP and UDP (game and RCON)."""
    for _ in range(100):
        base = su.free_port()
        try:
            for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                with socket.socket(socket.AF_INET, kind) as s:
                    s.bind(("127.0.0.1", base + 1))
            return base
        except OSError:
            continue
    raise RuntimeError("no free port pair")


def on_both_versions(build, fn):
    """Calls fn(install, family, version) on the build's 2.0 install, then
    on a 1.1.110 copy of it (removed afterwards)."""
    install20 = os.path.join(build, "factorio-standin")
    with open(os.path.join(install20, "data/changelog.txt")) as f:
        v20 = next(l.split()[1] for l in f if l.startswith("Version:"))
    tmp = tempfile.mkdtemp(prefix="lua-installs-")
    try:
        install11 = os.path.join(tmp, "factorio-1.1")
        subprocess.run([os.path.join(ROOT, "tools/factorio-standin/make-install"), install20,
                        install11, "1.1.110"], check=True)
        fn(install20, "2.0", v20)
        fn(install11, "1.1", "1.1.110")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
