"""A throwaway `redis-server` for the integration tests: a free loopback port, a temp dir, no
persistence; stopped (and restartable on the same port, for outage tests) by the test."""

import shutil
import socket
import subprocess
import tempfile
import time

from conftest import free_port


class RedisServer:
    def __init__(self):
        binary = shutil.which("redis-server")
        if not binary:
            raise RuntimeError("redis-server not found: install redis-server (.ci/run does)")
        self.binary = binary
        self.dir = tempfile.mkdtemp(prefix="tollgate-redis-")
        self.port = free_port()
        self.proc = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self):
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir, "--protected-mode", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.ping():
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def ping(self) -> bool:
        try:
            return self.command("PING") == b"+PONG\r\n"
        except OSError:
            return False

    def command(self, *args: str) -> bytes:
        """One command over RESP, the raw reply (enough for the tests' few checks)."""
        payload = f"*{len(args)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
            s.sendall(payload.encode())
            return s.recv(65536)

    def stop(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
