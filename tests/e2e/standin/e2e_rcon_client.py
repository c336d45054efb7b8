"""Runs rcon_client.js (npm rcon-client) against a stand-in."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from standin_util import Server, create_save, make_instance  # noqa: E402


def main():
    inst = make_instance()
    save = create_save(inst)
    srv = Server(inst, save, password="s3cret")
    srv.wait_ready()
    try:
        out = subprocess.run(["node", os.path.join(os.path.dirname(__file__), "rcon_client.js"),
                              str(srv.rcon_port), "s3cret"],
                             capture_output=True, text=True, timeout=60)
        print(out.stdout + out.stderr)
        assert out.returncode == 0, "rcon-client interop failed"
        assert "rcon-client: ok" in out.stdout
    finally:
        srv.proc.terminate()
        srv.wait_exit()
    srv.wait_line("Goodbye")
    subprocess.run(["rm", "-rf", inst])
    print("e2e_rcon_client: ok")


if __name__ == "__main__":
    main()
