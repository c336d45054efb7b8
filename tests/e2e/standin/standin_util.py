"""Helpers for the stand-in's end-to-end tests: an instance folder laid out
as a manager lays it out, the stand-in process with its stdout collected
line by line, and a minimal Source RCON client written from the protocol
description (docs/factorio.md), independent of rcon/."""
import os
import socket
import struct
import subprocess
import tempfile
import threading
import time

BUILD = os.environ.get("CLUSTERD_BUILD", os.path.join(os.path.dirname(__file__), "../../../build"))
INSTALL = os.path.join(BUILD, "factorio-standin")
BINARY = os.path.join(INSTALL, "bin", "x64", "factorio")


def free_port(kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def make_instance(settings=None):
    """An instance folder with config.ini; returns its path."""
    d = tempfile.mkdtemp(prefix="standin-e2e-")
    os.makedirs(os.path.join(d, "saves"))
    with open(os.path.join(d, "config.ini"), "w") as f:
        f.write("[path]\nread-data=%s/data\nwrite-data=%s\n" % (INSTALL, d))
    with open(os.path.join(d, "server-settings.json"), "w") as f:
        f.write(settings or '{"auto_pause": false, "autosave_interval": 10}')
    return d


def create_save(inst, name="world.zip", seed=7):
    path = os.path.join(inst, "saves", name)
    out = subprocess.run([BINARY, "--config", os.path.join(inst, "config.ini"),
                          "--create", path, "--map-gen-seed", str(seed)],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Goodbye" in out.stdout, out.stdout
    return path


class Server:
    def __init__(self, inst, save, rcon_port=None, game_port=None, password="pw", extra=(),
                 stdin=subprocess.DEVNULL):
        self.inst = inst
        self.rcon_port = rcon_port or free_port()
        self.game_port = game_port or free_port(socket.SOCK_DGRAM)
        self.password = password
        args = [BINARY, "--config", os.path.join(inst, "config.ini"),
                *(["--start-server", save] if save else []), "--port", str(self.game_port),
                "--rcon-port", str(self.rcon_port), "--rcon-password", password,
                "--server-settings", os.path.join(inst, "server-settings.json")]
        args += list(extra)
        self._start(args, stdin)

    def _start(self, args, stdin=subprocess.DEVNULL):
        self.lines = []
        self.cond = threading.Condition()
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     stdin=stdin, text=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def wait_line(self, text, timeout=10, start=0):
        """Index of the first line at or after start containing text."""
        deadline = time.time() + timeout
        with self.cond:
            while True:
                for i in range(start, len(self.lines)):
                    if text in self.lines[i]:
                        return i
                left = deadline - time.time()
                if left <= 0 or (self.proc.poll() is not None and not self.reader.is_alive()):
                    raise AssertionError("no line with %r; output:\n%s" % (text, "\n".join(self.lines)))
                self.cond.wait(min(left, 0.2))

    def wait_ready(self):
        return self.wait_line("Starting RCON interface at port %d" % self.rcon_port)

    def wait_exit(self, timeout=15):
        rc = self.proc.wait(timeout)
        self.reader.join(5)
        return rc

    def output(self):
        with self.cond:
            return "\n".join(self.lines)


def packet(pid, ptype, body):
    b = body.encode() if isinstance(body, str) else body
    return struct.pack("<iii", len(b) + 10, pid, ptype) + b + b"\0\0"


class Rcon:
    def __init__(self, port, password=None, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.next_id = 1
        if password is not None:
            pid, _, _ = self.auth(password)
            assert pid != -1, "authentication failed"

    def send(self, pid, ptype, body):
        self.sock.sendall(packet(pid, ptype, body))

    def recv(self):
        head = self._exact(4)
        n = struct.unpack("<i", head)[0]
        data = self._exact(n)
        pid, ptype = struct.unpack("<ii", data[:8])
        assert data[-2:] == b"\0\0", data
        return pid, ptype, data[8:-2].decode()

    def _exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("closed")
            buf += chunk
        return buf

    def auth(self, password):
        pid = self.next_id
        self.next_id += 1
        self.send(pid, 3, password)
        return self.recv()

    def cmd(self, text):
        pid = self.next_id
        self.next_id += 1
        self.send(pid, 2, text)
        rid, rtype, body = self.recv()
        assert rid == pid and rtype == 0, (rid, pid, rtype)
        return body

    def closed_by_peer(self, timeout=5):
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def close(self):
        self.sock.close()
