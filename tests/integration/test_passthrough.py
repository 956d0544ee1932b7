"""Passthrough routes: the rest of the path goes to the provider with the gateway's credentials
for it; the client's body is untouched and the gateway key never forwarded."""

import hashlib
import json

from conftest import MASTER_KEY, PROVIDER_KEY, assert_openai_error, basic_config


def test_openai_passthrough_forwards_path_body_and_provider_key(mock, start_gateway):
    gw = start_gateway(basic_config(mock))
    mock.clear()
    raw = json.dumps({"model": "client-chosen-model", "messages": [{"role": "user", "content": "hi"}], "extra": [1, 2]}).encode()
    r = gw.post("/openai/v1/chat/completions?trace=1", raw, headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"] == "Hello from the mock provider."
    rec = mock.last()
    assert rec["path"] == "/v1/chat/completions"
    assert rec["query"] == "trace=1"
    assert rec["headers"]["authorization"] == f"Bearer {PROVIDER_KEY}"
    assert all(MASTER_KEY not in v for v in rec["headers"].values())
    assert rec["body_sha256"] == hashlib.sha256(raw).hexdigest(), "the body passes untouched"


def test_passthrough_streams(mock, start_gateway):
    gw = start_gateway(basic_config(mock))
    r = gw.post("/openai/v1/chat/completions", {"model": "m", "stream": True, "messages": [{"role": "user", "content": "x"}]})
    assert r.status_code == 200
    assert r.text.rstrip().endswith("data: [DONE]")


def test_passthrough_needs_the_gateway_key(mock, start_gateway):
    gw = start_gateway(basic_config(mock))
    before = mock.count()
    assert_openai_error(gw.post("/openai/v1/chat/completions", {"model": "m"}, key=None), 401)
    assert_openai_error(gw.post("/openai/v1/chat/completions", {"model": "m"}, key="sk-wrong"), 401)
    assert mock.count() == before


def gemini_config(mock):
    return {
        "model_list": [
            {"model_name": "gem", "litellm_params": {"model": "gemini/gemini-2.0-flash", "api_base": f"{mock.base}/v1beta", "api_key": "google-key-1"}}
        ],
        "general_settings": {"master_key": MASTER_KEY},
    }


def test_gemini_passthrough_uses_the_gateway_google_key(mock, start_gateway):
    gw = start_gateway(gemini_config(mock))
    mock.clear()
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    r = gw.post("/gemini/v1beta/models/gemini-2.0-flash:generateContent", body)
    assert r.status_code == 200, r.text
    assert r.json()["candidates"][0]["content"]["parts"][0]["text"] == "Hello from the mock provider."
    rec = mock.last()
    assert rec["path"] == "/v1beta/models/gemini-2.0-flash:generateContent"
    assert rec["headers"]["x-goog-api-key"] == "google-key-1"
    assert "authorization" not in rec["headers"]
    assert rec["body"] == body


def test_anthropic_passthrough_uses_the_gateway_anthropic_key(mock, start_gateway):
    cfg = {
        "model_list": [
            {"model_name": "claude", "litellm_params": {"model": "anthropic/claude-x", "api_base": mock.base, "api_key": "anthropic-key-1"}}
        ],
        "general_settings": {"master_key": MASTER_KEY},
    }
    gw = start_gateway(cfg)
    mock.clear()
    # Any path but /v1/messages (which routes by alias) is forwarded as it is.
    r = gw.post("/anthropic/v1/complete", {"model": "claude-2", "prompt": "x"}, headers={"anthropic-version": "2023-06-01"})
    rec = mock.last()
    assert rec["path"] == "/v1/complete"
    assert rec["headers"]["x-api-key"] == "anthropic-key-1"
    assert rec["headers"]["anthropic-version"] == "2023-06-01"
    assert all(MASTER_KEY not in v for v in rec["headers"].values())
    assert r.status_code == 404  # the mock has no such route; the gateway forwarded it


def test_gemini_routes_take_the_gateway_key_as_google_clients_send_it(mock, start_gateway):
    """`x-goog-api-key` or `?key=`, as Google's SDKs send a key; neither reaches Google."""
    gw = start_gateway(gemini_config(mock))
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    path = "/gemini/v1beta/models/gemini-2.0-flash:generateContent"
    mock.clear()
    r = gw.post(path, body, key=None, headers={"x-goog-api-key": MASTER_KEY})
    assert r.status_code == 200, r.text
    assert mock.last()["headers"]["x-goog-api-key"] == "google-key-1"
    mock.clear()
    r = gw.post(f"{path}?alt=sse&key={MASTER_KEY}", body, key=None)
    assert r.status_code == 200, r.text
    rec = mock.last()
    assert rec["query"] == "alt=sse" and rec["headers"]["x-goog-api-key"] == "google-key-1"
    assert gw.post(path, body, key=None, headers={"x-goog-api-key": "sk-wrong"}).status_code == 401
    # Only on Gemini routes: elsewhere `x-goog-api-key` is not a gateway key.
    r = gw.post("/v1/chat/completions", {"model": "gem", "messages": [{"role": "user", "content": "hi"}]},
                key=None, headers={"x-goog-api-key": MASTER_KEY})
    assert r.status_code == 401
