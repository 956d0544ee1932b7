"""The zero-downtime binary upgrade, driven as the systemd unit's ExecReload drives it
(`systemd/upgrade`: check, SIGQUIT the old process, start the new one with `-u -d`), under
steady load with long streams in flight; and the unit file itself."""

import concurrent.futures
import os
import pathlib
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import httpx
import pytest

from conftest import GATEWAY_BIN, ROOT, basic_config, free_port, wait_http, write_config
from keys_helpers import chat, generate_key, priced_deployment, spend_logs

UNIT = ROOT / "systemd" / "tollgate.service"
UPGRADE = ROOT / "systemd" / "upgrade"
STOP = ROOT / "systemd" / "stop"


def test_the_unit_file_verifies():
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.fail("systemd-analyze not found: install systemd (.ci/run does)")
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="tollgate-unit-"))
    unit = UNIT.read_text().replace("/usr/local/bin/tollgate", str(GATEWAY_BIN))
    unit = unit.replace("/usr/local/lib/tollgate/upgrade", str(UPGRADE))
    unit = unit.replace("/usr/local/lib/tollgate/stop", str(STOP))
    (tmp / "tollgate.service").write_text(unit)
    out = subprocess.run([analyze, "verify", str(tmp / "tollgate.service")],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Type=forking" in unit and "PIDFile=" in unit and " -t" in unit


def pingora_conf(tmp: pathlib.Path) -> pathlib.Path:
    conf = tmp / "pingora.yaml"
    conf.write_text(
        "version: 1\nthreads: 2\n"
        f"pid_file: {tmp}/tollgate.pid\nupgrade_sock: {tmp}/upgrade.sock\n"
        "grace_period_seconds: 120\ngraceful_shutdown_timeout_seconds: 5\n"
    )
    return conf


def test_binary_upgrade_under_load_drops_nothing(mock):
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="tollgate-upgrade-"))
    port = free_port()
    args = ["--config", write_config(basic_config(mock, priced_deployment(mock))),
            "--port", str(port), "--host", "127.0.0.1", "-c", str(pingora_conf(tmp))]
    env = {**os.environ, "TOLLGATE_DB_PATH": str(tmp / "tollgate.db"), "TOLLGATE_BIN": str(GATEWAY_BIN)}
    log = open(tmp / "old.log", "w")
    old = subprocess.Popen([str(GATEWAY_BIN), *args], stdout=log, stderr=log, env=env)
    new_pid = None

    class Gw:  # what the key helpers need of a gateway
        def url(self, path):
            return f"http://127.0.0.1:{port}{path}"

        def post(self, path, body, key=None, **kw):
            return httpx.post(self.url(path), json=body, headers={"Authorization": f"Bearer {key}"}, timeout=60)

    gw = Gw()
    try:
        wait_http(gw.url("/health/liveliness"))
        key = generate_key(gw)
        stop = threading.Event()
        answers = []

        def steady():
            while not stop.is_set():
                answers.append(chat(gw, key, "hi [mock:usage=10,10]"))

        def stream(_):
            body = {"model": "gpt-test", "stream": True,
                    "messages": [{"role": "user", "content": "hi [mock:chunks=16] [mock:chunk_delay_ms=250]"}]}
            with httpx.stream("POST", gw.url("/v1/chat/completions"), json=body, timeout=60,
                              headers={"Authorization": f"Bearer {key}"}) as r:
                return r.status_code, r.read().decode(), r.headers.get("x-litellm-call-id")

        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            loaders = [pool.submit(steady) for _ in range(4)]
            streams = [pool.submit(stream, i) for i in range(4)]
            try:
                time.sleep(1.0)
                # What ExecReload runs: `upgrade $MAINPID <the ExecStart arguments>`.
                # Its output to a file, not a pipe: the daemon keeps stdout and stderr (for the
                # journal), so a pipe would stay open after the command returned.
                with open(tmp / "upgrade.log", "w") as up_log:
                    up = subprocess.run([str(UPGRADE), str(old.pid), *args], env=env,
                                        stdout=up_log, stderr=subprocess.STDOUT, timeout=60)
                assert up.returncode == 0, (tmp / "upgrade.log").read_text()[-2000:]
                new_pid = read_pid(tmp / "tollgate.pid")
                assert new_pid != old.pid
                assert old.wait(timeout=60) == 0, "the old process drains and exits 0"
                time.sleep(1.0)  # the new process alone serves for a moment
            finally:
                stop.set()
            for f in loaders:
                f.result()
            streamed = [f.result() for f in streams]
        failed = [a for a in answers if a.status_code != 200]
        assert answers and not failed, [a.text for a in failed[:3]]
        for status, text, _ in streamed:
            assert status == 200 and text.rstrip().endswith("data: [DONE]"), text[-300:]
        served = {a.headers["x-litellm-call-id"] for a in answers} | {s[2] for s in streamed}
        deadline = time.monotonic() + 15
        while not served <= {r["request_id"] for r in spend_logs(gw, api_key=key)}:
            assert time.monotonic() < deadline, "a call that got a 200 has no spend row"
            time.sleep(0.3)
    finally:
        if old.poll() is None:
            old.kill()
        # The daemon is not our child: find it by its PID file (written once it is up).
        new_pid = new_pid or read_pid(tmp / "tollgate.pid", wait=2)
        if new_pid:
            try:
                os.kill(new_pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        log.close()


def read_pid(path: pathlib.Path, wait: float = 15) -> int | None:
    """The daemon writes its PID file a moment after the command that started it returns."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            return int(path.read_text().strip())
        except (FileNotFoundError, ValueError):
            time.sleep(0.05)
    return None


def test_stop_takes_the_node_out_of_rotation_first(mock, start_gateway):
    """As the unit's ExecStop: SIGUSR2 turns the probes to 503 while calls are still served,
    then SIGTERM stops it gracefully (a call in flight finishes, exit 0)."""
    gw = start_gateway(basic_config(mock))
    assert httpx.get(gw.url("/health/liveliness")).status_code == 200
    body = {"model": "gpt-test", "messages": [{"role": "user", "content": "hi [mock:delay_ms=2500]"}]}
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        stopping = pool.submit(subprocess.run, [str(STOP), str(gw.proc.pid), "2"], timeout=30)
        time.sleep(0.5)
        probe = httpx.get(gw.url("/health/liveliness"))
        assert probe.status_code == 503 and probe.json() == {"status": "shutting_down"}, probe.text
        ready = httpx.get(gw.url("/health/readiness"))
        assert ready.status_code == 503, ready.text
        slow = pool.submit(gw.post, "/v1/chat/completions", body)  # still served, and in flight at SIGTERM
        assert stopping.result().returncode == 0
        assert slow.result().status_code == 200
    assert gw.proc.wait(timeout=30) == 0
