"""Bounds the gateway keeps whatever the client or the provider sends: absurd `max_tokens`,
fifty per-request fallbacks, a 100 MB SSE event, redirects, oversized answers and response
heads the gateway cannot pass on. Faults come from `[mock:..]` markers and `status-N` models."""

import json

import httpx
import pytest

from conftest import (
    CHAT_PATH,
    MASTER_KEY,
    REPLY,
    assert_healthy,
    assert_openai_error,
    basic_config,
    openai_deployment,
    peak_rss_kib,
    sse_data,
    user,
)


def post(gw, body, timeout=20.0, path=CHAT_PATH):
    headers = {"Authorization": f"Bearer {MASTER_KEY}", "content-type": "application/json"}
    data = {"json": body} if isinstance(body, dict) else {"content": body}
    return httpx.post(gw.url(path), headers=headers, timeout=timeout, **data)


# --- 7 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("max_tokens", ["18446744073709551615", "1e30", str(2**63)])
def test_huge_max_tokens_does_not_break_accounting(mock, start_gateway, max_tokens):
    gw = start_gateway(basic_config(mock, openai_deployment(mock, "gpt-test", tpm=100000)))
    raw = '{"model":"gpt-test","messages":[{"role":"user","content":"hi"}],"max_tokens":%s}' % max_tokens
    try:
        r = post(gw, raw.encode())
    except httpx.HTTPError as e:
        pytest.fail(f"max_tokens {max_tokens}: the connection was dropped: {e!r}")
    assert r.status_code in (200, 400), f"max_tokens {max_tokens}: {r.status_code} {r.text}"
    if r.status_code == 400:
        assert_openai_error(r, 400)
    # The deployment's tpm window must not have wrapped into "full".
    for _ in range(3):
        assert_healthy(gw)


# --- 8 ----------------------------------------------------------------------------------------

GROUPS = [f"g{i}" for i in range(51)]


def failing_groups_config(mock, router=None):
    deployments = [openai_deployment(mock, g, f"status-500-{g}") for g in GROUPS]
    cfg = basic_config(mock, *deployments)
    cfg["router_settings"] = {"num_retries": 0, **(router or {})}
    return cfg


@pytest.mark.parametrize("router, most", [(None, 6), ({"max_fallbacks": 2}, 3)], ids=["default-5", "max_fallbacks-2"])
def test_fifty_per_request_fallbacks_are_capped(mock, start_gateway, router, most):
    gw = start_gateway(failing_groups_config(mock, router))
    before = mock.count()
    r = post(gw, {"model": "g0", "messages": user("hi"), "fallbacks": GROUPS[1:]}, timeout=30)
    sent = mock.count() - before
    assert r.status_code >= 400, r.text
    assert_openai_error(r, r.status_code)
    assert 2 <= sent <= most, f"{sent} upstream requests for one call (cap: {most})"
    attempted = int(r.headers.get("x-litellm-attempted-fallbacks", "0"))
    assert attempted <= most - 1, attempted


# --- 9 ----------------------------------------------------------------------------------------


def test_sse_event_of_100_mb_is_refused_with_bounded_memory(mock, start_gateway):
    gw = start_gateway(basic_config(mock))
    assert_healthy(gw)
    rss_before = peak_rss_kib(gw.proc.pid)
    body = {"model": "gpt-test", "stream": True, "messages": user("[mock:huge_event_mb=100]")}
    try:
        r = post(gw, body, timeout=15)
    except httpx.HTTPError as e:
        pytest.fail(f"no answer for a 100 MB event: {e!r}")
    assert_openai_error(r, 502)
    grown_mib = (peak_rss_kib(gw.proc.pid) - rss_before) / 1024
    assert grown_mib < 64, f"the gateway's peak RSS grew by {grown_mib:.0f} MiB"
    assert_healthy(gw)


def test_sse_event_of_100_mb_after_two_chunks_ends_the_stream_with_an_error(mock, start_gateway):
    gw = start_gateway(basic_config(mock))
    assert_healthy(gw)
    rss_before = peak_rss_kib(gw.proc.pid)
    body = {"model": "gpt-test", "stream": True, "messages": user("[mock:huge_event_mb=100][mock:huge_event_after_chunks=2]")}
    headers = {"Authorization": f"Bearer {MASTER_KEY}"}
    text = ""
    with httpx.stream("POST", gw.url(CHAT_PATH), json=body, headers=headers, timeout=15) as r:
        assert r.status_code == 200
        try:
            for piece in r.iter_text():
                text += piece
        except httpx.HTTPError as e:
            pytest.fail(f"the stream was dropped instead of ended with an error event: {e!r}")
    payloads = sse_data(text)
    assert payloads and payloads[-1] == "[DONE]", payloads[-3:]
    events = [json.loads(p) for p in payloads[:-1]]
    assert "error" in events[-1], events[-1]
    chunks = events[:-1]
    content = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices"))
    assert content == "Hello from ", chunks
    grown_mib = (peak_rss_kib(gw.proc.pid) - rss_before) / 1024
    assert grown_mib < 64, f"the gateway's peak RSS grew by {grown_mib:.0f} MiB"
    assert_healthy(gw)


# --- 10 ---------------------------------------------------------------------------------------


def test_upstream_redirect_is_a_failed_attempt(mock, start_gateway):
    cfg = basic_config(mock)
    cfg["router_settings"] = {"num_retries": 0}
    gw = start_gateway(cfg)
    r = post(gw, {"model": "gpt-test", "messages": user("[mock:status=302]")})
    assert "location" not in r.headers, dict(r.headers)
    assert_openai_error(r, 502)


def test_upstream_redirect_is_retried_on_another_deployment(mock, start_gateway):
    cfg = basic_config(mock, openai_deployment(mock, "g", "status-302-a"), openai_deployment(mock, "g", "ok-b"))
    cfg["router_settings"] = {"num_retries": 1, "routing_strategy": "simple-shuffle"}
    gw = start_gateway(cfg)
    statuses = [post(gw, {"model": "g", "messages": user("hi")}).status_code for _ in range(10)]
    assert statuses == [200] * 10, statuses


# --- 11 ---------------------------------------------------------------------------------------


def test_max_response_size_is_enforced(mock, start_gateway):
    gw = start_gateway(basic_config(mock, max_response_size_mb=1))
    # 32 pieces of 64 KiB: a 2 MB answer.
    r = post(gw, {"model": "gpt-test", "messages": user("[mock:chunk_bytes=65536][mock:chunks=32]")})
    err = assert_openai_error(r, 502)
    msg = err["message"]
    assert "max_response_size_mb" in msg or ("1" in msg and "MB" in msg), msg
    assert_healthy(gw)


# --- 12 ---------------------------------------------------------------------------------------


def test_invalid_upstream_header_value_does_not_drop_the_answer(mock, start_gateway):
    gw = start_gateway(basic_config(mock))
    # A valid header name that is too long once prefixed `llm_provider-` (http's limit is 65535).
    name = "x-" + "n" * 65525
    r = post(gw, {"model": "gpt-test", "messages": user(f"[mock:header={name}:v]")})
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"] == REPLY
