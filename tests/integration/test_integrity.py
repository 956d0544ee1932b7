"""Request-path integrity (issue 13): a cut stream is never spliced with another answer, a
stream that never started may fall back, hostile `retry-after` values, duplicate JSON keys and
model names cannot steer the gateway, and a client that leaves cancels the upstream work.

Faults come from the mock: `[mock:..]` markers in the prompt (every deployment sees them) or a
`break-N` / `status-N` provider model name (one deployment only). `/__mock/events` tells when
the mock saw the gateway abandon a request (`cancelled`) or a stream (`stream_aborted`).
"""

import http.client
import json
import socket
import time
import urllib.parse

import httpx
import pytest

from conftest import (
    CHAT_PATH,
    REPLY,
    user,
    MASTER_KEY,
    assert_openai_error,
    basic_config,
    http_request,
    mock_events,
    now_ms,
    openai_deployment,
    read_until_closed,
    sse_data,
    wait_for_mock_event,
)
from provider_helpers import tokens_issued, vertex_credentials, wait_for_token


def post(gw, path, body, timeout=15.0, **kw):
    """POST with the master key and a bounded timeout; a dict body is sent as JSON."""
    headers = {"Authorization": f"Bearer {MASTER_KEY}", **kw.pop("headers", {})}
    data = {"json": body} if isinstance(body, dict) else {"content": body}
    return httpx.post(gw.url(path), headers=headers, timeout=timeout, **data, **kw)


def stream_chat(gw, body, timeout=15.0):
    """Streams a chat completion; returns (response, body text, transport error or None)."""
    headers = {"Authorization": f"Bearer {MASTER_KEY}"}
    with httpx.stream("POST", gw.url(CHAT_PATH), json=body, headers=headers, timeout=timeout) as r:
        text, error = "", None
        try:
            for piece in r.iter_text():
                text += piece
        except httpx.HTTPError as e:  # the gateway cut the stream without ending it
            error = e
        return r, text, error


def split_stream(text):
    """(chunks, error events, whether [DONE] is the last payload) of an OpenAI SSE body."""
    payloads = sse_data(text)
    done_last = bool(payloads) and payloads[-1] == "[DONE]"
    events = [json.loads(p) for p in payloads if p != "[DONE]"]
    chunks = [e for e in events if "error" not in e]
    errors = [e for e in events if "error" in e]
    return chunks, errors, done_last, payloads


def content_of(chunks):
    return "".join((c["choices"][0]["delta"].get("content") or "") for c in chunks if c.get("choices"))


def fallback_config(mock, primary_model):
    return {
        "model_list": [openai_deployment(mock, "primary", primary_model), openai_deployment(mock, "backup", "backup-up")],
        "general_settings": {"master_key": MASTER_KEY},
        "router_settings": {"fallbacks": [{"primary": ["backup"]}], "num_retries": 2},
    }


def models_sent(mock):
    return [r["body"]["model"] for r in mock.requests() if r["path"] == CHAT_PATH and r.get("body")]


# --- 1, 2: a stream is one answer -------------------------------------------------------------


def test_stream_cut_after_chunks_is_not_spliced_with_a_fallback(mock, start_gateway):
    gw = start_gateway(fallback_config(mock, "break-2-primary"))
    mock.clear()
    body = {"model": "primary", "stream": True, "messages": user("[mock:chunks=5]")}
    r, text, error = stream_chat(gw, body)
    assert r.status_code == 200
    assert error is None, f"the stream was dropped instead of ended: {error!r}\n{text}"
    chunks, errors, done_last, payloads = split_stream(text)
    # The primary's role chunk and its first 2 content pieces ("Hello ", "from "), then one
    # error event, then [DONE]: nothing from a retry or from the backup group.
    assert content_of(chunks) == "Hello from ", payloads
    assert len(errors) == 1, payloads
    assert len(payloads) >= 2 and "error" in json.loads(payloads[-2]), "the error event comes last, before [DONE]"
    assert done_last, payloads
    assert set(errors[0]["error"]) >= {"message"}, errors
    assert len({c["id"] for c in chunks}) == 1, [c["id"] for c in chunks]
    assert models_sent(mock) == ["break-2-primary"], "one request, no retry, no fallback"


def test_stream_that_fails_before_its_first_event_falls_back(mock, start_gateway):
    gw = start_gateway(fallback_config(mock, "break-0-primary"))
    mock.clear()
    body = {"model": "primary", "stream": True, "messages": user("hi")}
    r, text, error = stream_chat(gw, body)
    assert r.status_code == 200, text
    assert error is None, f"the stream was dropped: {error!r}\n{text}"
    chunks, errors, done_last, payloads = split_stream(text)
    assert errors == [], payloads
    assert done_last, payloads
    assert content_of(chunks) == REPLY, payloads
    assert len({c["id"] for c in chunks}) == 1, [c["id"] for c in chunks]
    assert r.headers.get("x-litellm-attempted-fallbacks") == "1", dict(r.headers)
    sent = models_sent(mock)
    assert sent[0] == "break-0-primary" and sent[-1] == "backup-up", sent


# --- 3: retry-after ---------------------------------------------------------------------------


@pytest.mark.parametrize("retry_after", ["1e20", "99999999999999999999", "-5", "NaN", "inf"])
def test_absurd_retry_after_is_a_clean_429(mock, start_gateway, retry_after):
    cfg = basic_config(mock)
    cfg["router_settings"] = {"num_retries": 1}
    gw = start_gateway(cfg)
    body = {"model": "gpt-test", "messages": user(f"[mock:status=429][mock:header=retry-after:{retry_after}]")}
    started = time.monotonic()
    try:
        r = post(gw, CHAT_PATH, body)
    except httpx.HTTPError as e:
        pytest.fail(f"no answer for retry-after {retry_after}: {e!r}")
    assert time.monotonic() - started < 10
    assert_openai_error(r, 429)
    ok = post(gw, CHAT_PATH, {"model": "gpt-test", "messages": user("hi")})
    assert ok.status_code == 200, f"the gateway is unhealthy after retry-after {retry_after}: {ok.text}"


# --- 4: duplicate keys ------------------------------------------------------------------------

MSGS = '[{"role":"user","content":"hi"}]'


@pytest.mark.parametrize(
    "raw, param",
    [
        ('{"model":"gpt-test","messages":%s,"model":"expensive"}' % MSGS, "model"),
        ('{"model":"gpt-test","messages":%s,"messages":[{"role":"user","content":"other"}]}' % MSGS, "messages"),
        ('{"model":"gpt-test","messages":%s,"mo\\u0064el":"expensive"}' % MSGS, "model"),
    ],
    ids=["model", "messages", "escaped-model"],
)
def test_duplicate_top_level_keys_are_400(mock, start_gateway, raw, param):
    gw = start_gateway(basic_config(mock))
    before = mock.count()
    r = post(gw, CHAT_PATH, raw.encode(), headers={"content-type": "application/json"})
    err = assert_openai_error(r, 400, param=param)
    assert param in err["message"] and "duplicate" in err["message"].lower(), err
    assert mock.count() == before, "nothing may reach the provider"


def test_duplicate_top_level_keys_are_400_on_anthropic_messages(mock, start_gateway):
    gw = start_gateway(basic_config(mock))
    before = mock.count()
    raw = '{"model":"gpt-test","max_tokens":10,"messages":%s,"model":"expensive"}' % MSGS
    r = post(gw, "/v1/messages", raw.encode(), headers={"content-type": "application/json"})
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["type"] == "error", body
    assert body["error"]["type"] == "invalid_request_error", body
    message = body["error"]["message"]
    assert "model" in message and "duplicate" in message.lower(), message
    assert mock.count() == before, "nothing may reach the provider"


# --- 5: model names and passthrough paths -----------------------------------------------------

EVIL_MODELS = ["gem/../../evil", "x/..%2f..%2fevil", "a?b=c", "a#frag", "a/b"]
BASELINE_MODEL = "plainmodel"
AWS = dict(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", aws_region_name="us-east-1")


def wildcard_deployment(provider, mock, tmp_path):
    params = {
        "gemini": dict(api_base=f"{mock.base}/v1beta", api_key="google-key"),
        "vertex_ai": dict(api_base=mock.base, vertex_project="p", vertex_location="us-central1", vertex_credentials=vertex_credentials(mock, tmp_path)),
        "azure": dict(api_base=mock.base, api_key="az-key", api_version="2024-10-21"),
        "bedrock": dict(api_base=mock.base, **AWS),
        "sagemaker": dict(api_base=mock.base, **AWS),
    }[provider]
    return {"model_name": "*", "litellm_params": {"model": f"{provider}/*", **params}}


def unquoted(s):
    """Percent-decoded until stable (catches double encoding)."""
    for _ in range(3):
        s = urllib.parse.unquote(s)
    return s


def provider_calls(mock):
    return [r for r in mock.requests() if r["path"] != "/token"]


@pytest.mark.parametrize("provider", ["gemini", "vertex_ai", "azure", "bedrock", "sagemaker"])
def test_model_name_cannot_walk_the_provider_path(mock, start_gateway, tmp_path, provider):
    """A wildcard deployment (`*` → `{provider}/*`) puts the client's model name in the URL. Each
    hostile name is either refused (400, param model) or reaches the mock inside the one path
    segment a plain name takes, with no dot segment and no `?`/`#` from it, decoded or not."""
    before_tokens = tokens_issued(mock)
    gw = start_gateway({"model_list": [wildcard_deployment(provider, mock, tmp_path)], "general_settings": {"master_key": MASTER_KEY}, "router_settings": {"num_retries": 0}})
    if provider == "vertex_ai":
        wait_for_token(mock, before_tokens)
    mock.clear()
    ok = post(gw, CHAT_PATH, {"model": BASELINE_MODEL, "messages": user("hi")})
    assert ok.status_code == 200, ok.text
    [base] = provider_calls(mock)
    assert BASELINE_MODEL in base["path"], base["path"]
    prefix, suffix = base["path"].split(BASELINE_MODEL, 1)

    problems = []
    for name in EVIL_MODELS:
        mock.clear()
        r = post(gw, CHAT_PATH, {"model": name, "messages": user("hi")})
        calls = provider_calls(mock)
        for rec in calls:
            path, query = rec["path"], rec["query"]
            middle = path[len(prefix) : len(path) - len(suffix)]
            # An encoded `/` inside one segment is allowed (Bedrock ARNs need it); a dot
            # segment, raw or once decoded, and a `?`/`#` from the name, raw or decoded, are not.
            clean = (
                path.startswith(prefix)
                and path.endswith(suffix)
                and "/" not in middle
                and ".." not in unquoted(middle).split("/")
                and not any(c in unquoted(middle) for c in "?#")
                and ".." not in path.split("/")
                and query == base["query"]
            )
            if not clean:
                problems.append(f"model {name!r} reached the mock as {path!r} ?{query!r}")
        if not calls and not (r.status_code == 400 and r.json().get("error", {}).get("param") == "model"):
            problems.append(f"model {name!r}: nothing sent, yet not a 400 on param model: {r.status_code} {r.text}")
    assert not problems, f"baseline {base['path']!r} ?{base['query']!r}:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    "path, base",
    [("/gemini/v1beta/../../../evil", "/v1beta/"), ("/openai/v1/%2e%2e/%2e%2e/evil", "/v1/")],
    ids=["gemini-dotdot", "openai-encoded-dotdot"],
)
def test_passthrough_path_cannot_walk_out_of_the_provider(mock, start_gateway, path, base):
    gemini = {"model_name": "gem", "litellm_params": {"model": "gemini/gemini-2.0-flash", "api_base": f"{mock.base}/v1beta", "api_key": "google-key"}}
    gw = start_gateway(basic_config(mock, openai_deployment(mock, "gpt-test"), gemini))
    mock.clear()
    conn = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=10)
    try:
        # http.client sends the path as it is (httpx would resolve the dot segments itself).
        conn.request("POST", path, body=b'{"model":"m"}', headers={"Authorization": f"Bearer {MASTER_KEY}", "content-type": "application/json"})
        status = conn.getresponse().status
    finally:
        conn.close()
    calls = mock.requests()
    for rec in calls:
        where = f"{path!r} reached the mock as {rec['path']!r}"
        assert ".." not in rec["path"] and ".." not in unquoted(rec["path"]), where
        assert rec["path"].startswith(base), where
    if not calls:
        assert status in (400, 404), status


# --- 6: a client that leaves cancels the upstream call ---------------------------------------


def open_request(gw, body):
    sock = socket.create_connection(("127.0.0.1", gw.port), timeout=10)
    sock.sendall(http_request("POST", CHAT_PATH, json.dumps(body).encode()))
    return sock


def test_client_disconnect_cancels_the_upstream_call(mock, start_gateway):
    gw = start_gateway(basic_config(mock))
    since = now_ms()
    sock = open_request(gw, {"model": "gpt-test", "messages": user("[mock:delay_ms=5000]")})
    time.sleep(0.5)
    sock.close()
    closed_at = now_ms()
    event = wait_for_mock_event(mock, "cancelled", since, timeout=3)
    assert event is not None, f"the upstream call went on after the client left: {mock_events(mock, since)}"
    assert event["path"] == CHAT_PATH
    assert event["at_ms"] - closed_at <= 1000, event


def test_client_disconnect_mid_stream_aborts_the_upstream_stream(mock, start_gateway):
    gw = start_gateway(basic_config(mock))
    since = now_ms()
    body = {"model": "gpt-test", "stream": True, "messages": user("[mock:chunks=50][mock:chunk_delay_ms=200]")}
    sock = open_request(gw, body)
    got = read_until_closed(sock, timeout=10, stop=lambda d: d.count(b"data: ") >= 2)
    assert got.count(b"data: ") >= 2, got
    sock.close()
    closed_at = now_ms()
    event = wait_for_mock_event(mock, "stream_aborted", since, timeout=3)
    assert event is not None, f"the upstream stream went on after the client left: {mock_events(mock, since)}"
    assert event["at_ms"] - closed_at <= 1000, event


def test_client_disconnect_during_a_retry_pause_stops_the_retry(mock, start_gateway):
    cfg = basic_config(mock)
    cfg["router_settings"] = {"num_retries": 1}
    gw = start_gateway(cfg)
    before = mock.count()
    sock = open_request(gw, {"model": "gpt-test", "messages": user("[mock:status=429][mock:header=retry-after:3]")})
    time.sleep(0.5)
    sock.close()
    assert mock.count() - before == 1
    time.sleep(4)
    assert mock.count() - before == 1, "the gateway retried for a client that had left"
