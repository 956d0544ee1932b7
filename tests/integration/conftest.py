"""Shared fixtures: the built gateway and the mock provider, each on a free 127.0.0.1 port.

Every test talks to real processes over loopback: `tollgate-mock` plays the provider and
records what it received; `tollgate` is started with a config written for the test.
"""

import json
import os
import pathlib
import signal
import socket
import subprocess
import tempfile
import time
import uuid

import httpx
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
TARGET = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / os.environ.get(
    "TOLLGATE_PROFILE", "debug"
)
GATEWAY_BIN = TARGET / "tollgate"
MOCK_BIN = TARGET / "tollgate-mock"
MASTER_KEY = "sk-test-master-1234"
PROVIDER_KEY = "sk-provider-secret-abc"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError as e:  # not up yet
            last = e
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up: {last}")


class Mock:
    """The mock provider process and its recorded requests."""

    def __init__(self, proc: subprocess.Popen, port: int):
        self.proc = proc
        self.port = port
        self.base = f"http://127.0.0.1:{port}"

    def requests(self) -> list:
        return httpx.get(f"{self.base}/__mock/requests", timeout=5).json()

    def last(self) -> dict:
        reqs = self.requests()
        assert reqs, "the mock received no request"
        return reqs[-1]

    def clear(self) -> None:
        httpx.delete(f"{self.base}/__mock/requests", timeout=5)

    def count(self) -> int:
        return httpx.get(f"{self.base}/__mock/stats", timeout=5).json()["requests"]


@pytest.fixture(scope="session")
def mock():
    proc = subprocess.Popen(
        [str(MOCK_BIN), "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    line = proc.stdout.readline().strip()
    assert line.startswith("listening on "), f"mock said {line!r}"
    port = int(line.rsplit(":", 1)[1])
    m = Mock(proc, port)
    wait_http(f"{m.base}/__mock/health")
    yield m
    proc.terminate()
    proc.wait(timeout=10)


class Gateway:
    def __init__(self, proc, port, log_path, config_path):
        self.proc = proc
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self.config_path = config_path

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def log(self) -> str:
        return pathlib.Path(self.log_path).read_text(errors="replace")

    def client(self, key: str = MASTER_KEY, **kw):
        import openai

        return openai.OpenAI(api_key=key, base_url=f"{self.base}/v1", max_retries=0, timeout=60, **kw)

    def post(self, path: str, body, key: str | None = MASTER_KEY, **kw) -> httpx.Response:
        headers = kw.pop("headers", {})
        if key is not None:
            headers.setdefault("Authorization", f"Bearer {key}")
        if isinstance(body, (dict, list)):
            kw["json"] = body
        else:
            kw["content"] = body
        return httpx.post(self.url(path), headers=headers, timeout=60, **kw)


def write_config(config) -> str:
    fd, path = tempfile.mkstemp(suffix=".yaml", prefix="tollgate-test-")
    with os.fdopen(fd, "w") as f:
        if isinstance(config, str):
            f.write(config)
        else:
            json.dump(config, f)  # JSON is YAML
    return path


def run_check(config) -> subprocess.CompletedProcess:
    """`tollgate --config FILE -t`."""
    path = write_config(config)
    return subprocess.run(
        [str(GATEWAY_BIN), "--config", path, "-t"], capture_output=True, text=True, timeout=30
    )


# Cloud metadata services default to link-local addresses (169.254.169.254, ...); a gateway
# under test never reaches them: unless a test points them at the mock, they point at a
# closed loopback port.
CLOSED_METADATA_ENDPOINTS = {
    "AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:9",
    "GCE_METADATA_HOST": "127.0.0.1:9",
    "AZURE_POD_IDENTITY_AUTHORITY_HOST": "http://127.0.0.1:9",
}


@pytest.fixture
def start_gateway():
    """Starts a gateway with the given config (a dict or YAML text); stops it after the test."""
    started = []

    def start(config, env=None) -> Gateway:
        path = write_config(config)
        env = dict(env or {})
        # Each gateway gets its own embedded store unless the test shares one (restarts).
        env.setdefault("TOLLGATE_DB_PATH", os.path.join(tempfile.mkdtemp(prefix="tollgate-db-"), "tollgate.db"))
        port = free_port()
        log_fd, log_path = tempfile.mkstemp(suffix=".log", prefix="tollgate-test-")
        proc = subprocess.Popen(
            [str(GATEWAY_BIN), "--config", path, "--port", str(port), "--host", "127.0.0.1"],
            stdout=log_fd,
            stderr=log_fd,
            env={**os.environ, **CLOSED_METADATA_ENDPOINTS, "RUST_LOG": "info", **env},
        )
        os.close(log_fd)
        gw = Gateway(proc, port, log_path, path)
        gw.db_path = env["TOLLGATE_DB_PATH"]
        started.append(gw)
        try:
            wait_http(gw.url("/health/liveliness"))
        except RuntimeError:
            raise RuntimeError(f"gateway did not start:\n{gw.log()}")
        return gw

    yield start
    for gw in started:
        # SIGINT is Pingora's fast shutdown; SIGTERM would wait out the graceful-stop period.
        gw.proc.send_signal(signal.SIGINT)
        try:
            gw.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            gw.proc.kill()


def openai_deployment(mock: Mock, name: str, model: str = "upstream-model", **params) -> dict:
    return {
        "model_name": name,
        "litellm_params": {
            "model": f"openai/{model}",
            "api_base": f"{mock.base}/v1",
            "api_key": PROVIDER_KEY,
            **params,
        },
    }


def basic_config(mock: Mock, *deployments, **general) -> dict:
    return {
        "model_list": list(deployments) or [openai_deployment(mock, "gpt-test")],
        "general_settings": {"master_key": MASTER_KEY, **general},
    }


def assert_openai_error(resp: httpx.Response, status: int, param=None, contains=None) -> dict:
    assert resp.status_code == status, f"{resp.status_code}: {resp.text}"
    body = resp.json()
    err = body["error"]
    assert set(err) >= {"message", "type", "param", "code"}, body
    assert err["code"] == str(status)
    assert isinstance(err["message"], str) and err["message"]
    if param is not None:
        assert err["param"] == param, body
    if contains is not None:
        assert contains in err["message"], err["message"]
    return err


# --- Helpers for the request-path integrity tests (test_integrity, test_bounds, test_cancellation)


def now_ms() -> int:
    return int(time.time() * 1000)


def mock_events(mock: Mock, since_ms: int = 0) -> list:
    """Work the gateway abandoned at the mock (`cancelled`, `stream_aborted`), for requests that
    reached the mock at or after `since_ms`."""
    events = httpx.get(f"{mock.base}/__mock/events", timeout=5).json()
    return [e for e in events if e["received_at_ms"] >= since_ms]


def wait_for_mock_event(mock: Mock, kind: str, since_ms: int, timeout: float) -> dict | None:
    """The first `kind` event for a request received since `since_ms`, waiting up to `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        found = [e for e in mock_events(mock, since_ms) if e["kind"] == kind]
        if found or time.monotonic() >= deadline:
            return found[0] if found else None
        time.sleep(0.05)


def sse_data(text: str) -> list:
    """The `data:` payloads of an SSE body, in order."""
    out = []
    for event in text.replace("\r\n", "\n").split("\n\n"):
        lines = [line[5:].lstrip(" ") for line in event.split("\n") if line.startswith("data:")]
        if lines:
            out.append("\n".join(lines))
    return out


def http_request(method: str, path: str, body: bytes = b"", key: str | None = MASTER_KEY, headers=None) -> bytes:
    """An HTTP/1.1 request as bytes, for tests that drive the gateway over a raw socket."""
    lines = [f"{method} {path} HTTP/1.1", "host: 127.0.0.1", "content-type: application/json"]
    if key is not None:
        lines.append(f"authorization: Bearer {key}")
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if not any(k.lower() == "content-length" for k in (headers or {})):
        lines.append(f"content-length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def read_from(sock: socket.socket, timeout: float, stop=None) -> tuple:
    """Reads until the peer closes, `timeout` s pass, or `stop(data)` is true; returns (data,
    whether the peer closed the connection: EOF or a reset)."""
    deadline = time.monotonic() + timeout
    data = b""
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            piece = sock.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            return data, True
        if not piece:
            return data, True
        data += piece
        if stop is not None and stop(data):
            break
    return data, False


def read_until_closed(sock: socket.socket, timeout: float, stop=None) -> bytes:
    """The data `read_from` got."""
    return read_from(sock, timeout, stop)[0]


def status_of(raw: bytes) -> int | None:
    """The status code of a raw HTTP/1.1 answer, if it has a status line."""
    first = raw.split(b"\r\n", 1)[0].split(b" ")
    if len(first) >= 2 and first[0].startswith(b"HTTP/") and first[1].isdigit():
        return int(first[1])
    return None


def peak_rss_kib(pid: int) -> int:
    """VmHWM (peak resident set) of a process, in KiB."""
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmHWM for pid {pid}")


CHAT_PATH = "/v1/chat/completions"
REPLY = "Hello from the mock provider."


def user(text: str) -> list:
    """One user message."""
    return [{"role": "user", "content": text}]


def assert_healthy(gw: Gateway, model: str = "gpt-test") -> None:
    """A normal call still answers with the mock's reply (after whatever the test did)."""
    r = gw.post(CHAT_PATH, {"model": model, "messages": user("hi")})
    assert r.status_code == 200, f"a normal call fails afterwards: {r.status_code} {r.text}"
    assert r.json()["choices"][0]["message"]["content"] == REPLY


@pytest.fixture(scope="session")
def pg_cluster():
    """One throwaway PostgreSQL cluster for the session; each test takes its own database."""
    from pg_cluster import PgCluster

    cluster = PgCluster()
    yield cluster
    cluster.close()


@pytest.fixture(params=["sqlite", "postgres"])
def store_env(request):
    """The gateway's store backend for a test: the embedded default (a fresh file per gateway,
    from `start_gateway`) or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return {}
    cluster = request.getfixturevalue("pg_cluster")
    name = "t_" + uuid.uuid4().hex[:16]
    return {"DATABASE_URL": cluster.create_database(name)}


class RedisServer:
    """A throwaway `redis-server` on a free loopback port, without persistence."""

    def __init__(self, port: int | None = None):
        import shutil

        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed (.ci/run installs it)")
        self.dir = tempfile.mkdtemp(prefix="tollgate-redis-")
        self.port = port or free_port()
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.dir],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        self.close()
        raise RuntimeError("redis-server did not come up")

    def command(self, *args: str) -> bytes:
        """One command, its raw RESP reply."""
        parts = [f"*{len(args)}\r\n".encode()]
        for a in args:
            parts.append(f"${len(a.encode())}\r\n{a}\r\n".encode())
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
            s.sendall(b"".join(parts))
            return s.recv(65536)

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="session")
def redis_server():
    server = RedisServer()
    yield server
    server.close()
