"""Every bad input and every upstream failure gets OpenAI's error shape with the right status."""

import time

import httpx
import openai
import pytest

from conftest import MASTER_KEY, assert_openai_error, basic_config, openai_deployment

CHAT = {"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def gw(mock, start_gateway):
    return start_gateway(basic_config(mock, max_request_size_mb=1))


def test_no_key_is_401(gw):
    assert_openai_error(gw.post("/v1/chat/completions", CHAT, key=None), 401)


def test_wrong_key_is_401(gw):
    assert_openai_error(gw.post("/v1/chat/completions", CHAT, key="sk-wrong"), 401)
    with pytest.raises(openai.AuthenticationError):
        gw.client(key="sk-wrong").chat.completions.create(**CHAT)


def test_models_needs_a_key(gw):
    assert_openai_error(httpx.get(gw.url("/v1/models")), 401)


def test_unknown_model_is_400_naming_it(gw):
    err = assert_openai_error(
        gw.post("/v1/chat/completions", dict(CHAT, model="no-such-model")), 400, param="model"
    )
    assert "no-such-model" in err["message"] and "/v1/models" in err["message"]
    with pytest.raises(openai.BadRequestError):
        gw.client().chat.completions.create(model="no-such-model", messages=CHAT["messages"])


def test_malformed_json_is_400(gw):
    assert_openai_error(gw.post("/v1/chat/completions", b'{"model": "gpt-test", "messages": ['), 400)


def test_non_object_body_is_400(gw):
    for body in (b"[1, 2]", b'"text"', b"42", b""):
        assert_openai_error(gw.post("/v1/chat/completions", body), 400)


def test_missing_messages_is_400_naming_the_param(gw):
    assert_openai_error(gw.post("/v1/chat/completions", {"model": "gpt-test"}), 400, param="messages")


def test_non_list_messages_is_400_naming_the_param(gw):
    assert_openai_error(
        gw.post("/v1/chat/completions", {"model": "gpt-test", "messages": "hello"}), 400, param="messages"
    )


def test_missing_model_is_400(gw):
    assert_openai_error(gw.post("/v1/chat/completions", {"messages": []}), 400, param="model")


def test_embeddings_without_input_is_400(gw):
    assert_openai_error(gw.post("/v1/embeddings", {"model": "gpt-test"}), 400, param="input")


def test_body_over_max_request_size_is_413(gw, mock):
    before = mock.count()
    big = b'{"model":"gpt-test","messages":[{"role":"user","content":"' + b"x" * (1024 * 1024 + 10) + b'"}]}'
    assert_openai_error(gw.post("/v1/chat/completions", big), 413)
    assert mock.count() == before, "an oversized body must not reach the provider"
    # The gateway still serves afterwards.
    assert gw.post("/v1/chat/completions", CHAT).status_code == 200


def test_unknown_route_is_404(gw):
    assert_openai_error(gw.post("/v1/nothing-here", CHAT), 404)


def test_upstream_unreachable_is_502(mock, start_gateway):
    from conftest import free_port

    dead = {
        "model_name": "dead",
        "litellm_params": {"model": "openai/x", "api_base": f"http://127.0.0.1:{free_port()}/v1", "api_key": "k"},
    }
    gw = start_gateway(basic_config(mock, dead))
    err = assert_openai_error(gw.post("/v1/chat/completions", dict(CHAT, model="dead")), 502)
    assert "dead" in err["message"]


@pytest.mark.parametrize("status", [400, 401, 429, 500, 503])
def test_upstream_errors_pass_through_reshaped(gw, status):
    r = gw.post(
        "/v1/chat/completions",
        dict(CHAT, mock={"status": status, "error_body": {"error": {"message": f"provider says {status}", "type": "some_type"}}}),
    )
    err = assert_openai_error(r, status)
    assert f"provider says {status}" in err["message"]
    assert "Received Model Group=gpt-test" in err["message"]
    assert r.headers["llm_provider-x-request-id"].startswith("mock-")


def test_upstream_429_retry_after_reaches_the_client(gw):
    r = gw.post("/v1/chat/completions", dict(CHAT, mock={"status": 429}))
    assert_openai_error(r, 429)
    assert r.headers["llm_provider-retry-after"] == "1"
    assert r.headers["x-ratelimit-remaining-requests"] == "9999"
    with pytest.raises(openai.RateLimitError):
        gw.client().chat.completions.create(**CHAT, extra_body={"mock": {"status": 429}})


def test_deployment_timeout_is_408(mock, start_gateway):
    slow = openai_deployment(mock, "slow", timeout=1)
    gw = start_gateway(dict(basic_config(mock, slow), router_settings={"num_retries": 0}))
    t0 = time.monotonic()
    r = gw.post("/v1/chat/completions", dict(CHAT, model="slow", mock={"delay_ms": 5000}))
    elapsed = time.monotonic() - t0
    assert_openai_error(r, 408)
    assert elapsed < 4, f"the 1 s timeout took {elapsed:.1f} s"


def test_stream_timeout_bounds_time_to_first_byte(mock, start_gateway):
    slow = openai_deployment(mock, "slow-stream", stream_timeout=1)
    gw = start_gateway(dict(basic_config(mock, slow), router_settings={"num_retries": 0}))
    r = gw.post(
        "/v1/chat/completions", dict(CHAT, model="slow-stream", stream=True, mock={"delay_ms": 5000})
    )
    assert_openai_error(r, 408)


def test_stream_broken_midway_ends_with_an_error_event(gw):
    with httpx.stream(
        "POST",
        gw.url("/v1/chat/completions"),
        headers={"Authorization": f"Bearer {MASTER_KEY}"},
        json=dict(CHAT, stream=True, mock={"chunks": 6, "break_after_chunks": 2}),
        timeout=30,
    ) as r:
        assert r.status_code == 200
        events = [line for line in r.iter_lines() if line]
    assert any('"error"' in e for e in events), events
    assert events[-1] == "data: [DONE]"
    # The gateway is still healthy.
    assert gw.post("/v1/chat/completions", CHAT).status_code == 200


def test_garbage_never_crashes_the_gateway(gw):
    junk = [b"\x00\xff\xfe", b"{" * 10000, b'{"model": 5, "messages": []}', b'{"model":"gpt-test","messages":[],"stream":"yes"}',
            b'{"model":"gpt-test","messages":[],"stream_options":[]}', "{\"model\":\"\u00e9\",\"messages\":[]}".encode()]
    for body in junk:
        r = gw.post("/v1/chat/completions", body)
        assert 400 <= r.status_code < 500, (body[:40], r.status_code, r.text)
        assert "error" in r.json()
    assert gw.proc.poll() is None
    assert gw.post("/v1/chat/completions", CHAT).status_code == 200
