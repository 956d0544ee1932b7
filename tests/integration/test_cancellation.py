"""Point 5 of issue 13: nothing a slow, silent or stalled peer does holds the gateway's
resources. A client that stops reading, an upstream that never answers, a connection reset after
the request was written, a request body that never arrives, and an early error with a large body
pending are each bounded in time, and the upstream is released (`/__mock/events`)."""

import json
import socket
import time

import httpx

from conftest import (
    CHAT_PATH,
    assert_healthy,
    user,
    MASTER_KEY,
    assert_openai_error,
    basic_config,
    http_request,
    mock_events,
    now_ms,
    openai_deployment,
    read_from,
    status_of,
    wait_for_mock_event,
)


def post(gw, path, body, timeout=15.0):
    headers = {"Authorization": f"Bearer {MASTER_KEY}"}
    return httpx.post(gw.url(path), json=body, headers=headers, timeout=timeout)


def connect(gw, rcvbuf=None):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        # Before connect, so the advertised window stays small.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", gw.port))
    return sock


def test_client_that_stops_reading_releases_the_upstream(mock, start_gateway):
    gw = start_gateway(basic_config(mock, client_write_timeout=2))
    since = now_ms()
    # 2000 pieces of 64 KiB: 128 MB that no buffer on the way can hold.
    body = {"model": "gpt-test", "stream": True, "messages": user("[mock:chunks=2000][mock:chunk_bytes=65536]")}
    sock = connect(gw, rcvbuf=4096)
    try:
        sock.sendall(http_request("POST", CHAT_PATH, json.dumps(body).encode()))
        head, _ = read_from(sock, timeout=10, stop=lambda d: b"\r\n\r\n" in d)
        assert status_of(head) == 200, head[:300]
        stopped = time.monotonic()
        # The client now reads nothing more.
        event = wait_for_mock_event(mock, "stream_aborted", since, timeout=2 + 3)
        assert event is not None, (
            f"the upstream stream still runs {time.monotonic() - stopped:.1f} s after the client "
            f"stopped reading (client_write_timeout 2 s): {mock_events(mock, since)}"
        )
    finally:
        sock.close()
    assert_healthy(gw)


def test_passthrough_upstream_that_never_answers_times_out(mock, start_gateway):
    gw = start_gateway(basic_config(mock, openai_deployment(mock, "gpt-test", timeout=2)))
    since = now_ms()
    started = time.monotonic()
    try:
        r = post(gw, "/openai/v1/chat/completions", {"model": "m", "messages": user("[mock:hang=1]")}, timeout=10)
    except httpx.TimeoutException:
        r = None
    elapsed = time.monotonic() - started
    assert r is not None, "no answer in 10 s from a passthrough whose deployment has timeout: 2"
    assert r.status_code in (408, 504), f"{r.status_code} {r.text}"
    assert_openai_error(r, r.status_code)
    assert elapsed < 6, f"answered after {elapsed:.1f} s"
    answered_at = now_ms()
    event = wait_for_mock_event(mock, "cancelled", since, timeout=2)
    assert event is not None, f"the upstream connection is still held: {mock_events(mock, since)}"
    assert event["at_ms"] - answered_at <= 1000, event


def test_reset_after_the_request_was_written_is_not_resent(mock, start_gateway):
    cfg = basic_config(mock)
    cfg["router_settings"] = {"num_retries": 0}
    gw = start_gateway(cfg)
    assert_healthy(gw)  # leaves a pooled upstream connection
    before = mock.count()
    r = post(gw, CHAT_PATH, {"model": "gpt-test", "messages": user("[mock:reset_after_read=1]")})
    assert_openai_error(r, 502)
    assert mock.count() - before == 1, "the request was sent again after the reset"


def test_request_body_read_has_a_deadline(mock, start_gateway):
    gw = start_gateway(basic_config(mock, request_body_timeout=2))
    sock = connect(gw)
    try:
        head = http_request("POST", CHAT_PATH, headers={"content-length": "1000"})
        sock.sendall(head + b'{"model":"')  # 10 of the 1000 bytes announced
        started = time.monotonic()
        data, closed = read_from(sock, timeout=2 + 3 + 1)
        elapsed = time.monotonic() - started
    finally:
        sock.close()
    answered = status_of(data) == 408
    assert closed or answered, f"still waiting for the body after {elapsed:.1f} s: {data[:200]!r}"
    assert elapsed <= 2 + 3, f"the gateway gave up only after {elapsed:.1f} s"


def test_early_error_closes_instead_of_draining(mock, start_gateway):
    gw = start_gateway(basic_config(mock))
    before = mock.count()
    sock = connect(gw)
    try:
        head = http_request("POST", CHAT_PATH, key="sk-wrong", headers={"content-length": "100000000"})
        sock.sendall(head + b'{"model":"gpt-test","messages":[')
        started = time.monotonic()
        data, closed = read_from(sock, timeout=5)
        elapsed = time.monotonic() - started
    finally:
        sock.close()
    assert status_of(data) == 401, data[:300]
    body = data.split(b"\r\n\r\n", 1)[1]
    assert b'"error"' in body, body[:300]
    assert closed, f"the connection stayed open {elapsed:.1f} s after the 401, waiting for 100 MB of body"
    assert mock.count() == before
