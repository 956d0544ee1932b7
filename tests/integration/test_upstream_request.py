"""What the provider receives: model rewritten, provider key set, the gateway key never
forwarded, everything else byte for byte (a 5 MB body too)."""

import hashlib
import json

from conftest import MASTER_KEY, PROVIDER_KEY, basic_config


def test_model_and_auth_rewritten_body_otherwise_intact(mock, start_gateway):
    gw = start_gateway(basic_config(mock))
    mock.clear()
    body = {
        "model": "gpt-test",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": [{"type": "text", "text": "héllo \u2603 \"quoted\" model"}]},
        ],
        "temperature": 0.25,
        "max_tokens": 17,
        "user": "end-user-7",
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        "custom_field": {"nested": [1, 2, {"model": "not-this-one"}]},
    }
    r = gw.post("/v1/chat/completions", body)
    assert r.status_code == 200, r.text
    rec = mock.last()
    assert rec["method"] == "POST"
    assert rec["path"] == "/v1/chat/completions"
    assert rec["headers"]["authorization"] == f"Bearer {PROVIDER_KEY}"
    for value in rec["headers"].values():
        assert MASTER_KEY not in value, "the gateway key must never reach the provider"
    expected = dict(body, model="upstream-model")
    assert rec["body"] == expected


def test_gateway_key_sent_as_x_api_key_is_not_forwarded(mock, start_gateway):
    gw = start_gateway(basic_config(mock))
    mock.clear()
    r = gw.post(
        "/v1/chat/completions",
        {"model": "gpt-test", "messages": [{"role": "user", "content": "x"}]},
        key=None,
        headers={"x-api-key": MASTER_KEY},
    )
    assert r.status_code == 200, r.text
    headers = mock.last()["headers"]
    assert "x-api-key" not in headers
    assert all(MASTER_KEY not in v for v in headers.values())


def test_five_megabyte_body_arrives_intact(mock, start_gateway):
    gw = start_gateway(basic_config(mock))
    mock.clear()
    big = "lorem ipsum dolor sit amet " * (5 * 1024 * 1024 // 27 + 1)
    raw = json.dumps({"model": "gpt-test", "messages": [{"role": "user", "content": big}]}).encode()
    assert len(raw) > 5 * 1024 * 1024
    r = gw.post("/v1/chat/completions", raw, headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text[:500]
    expected = raw.replace(b'"model": "gpt-test"', b'"model": "upstream-model"', 1)
    rec = mock.last()
    assert rec["body_len"] == len(expected)
    assert rec["body_sha256"] == hashlib.sha256(expected).hexdigest()


GATEWAY_ONLY = {
    "fallbacks": ["gpt-test"],
    "num_retries": 1,
    "drop_params": True,
    "metadata": {"team": "a"},
    "litellm_metadata": {"x": 1},
    "tags": ["t1"],
    "cache": {"no-cache": True},
    "caching": False,
    "user_config": {"model_list": []},
    "api_key": "sk-client-side",
    "api_base": "http://127.0.0.1:1/evil",
    "mock_testing_fallbacks": False,
    "mock_timeout": False,
    "timeout": 30,
    "guardrails": [],
}


def test_gateway_only_params_are_read_once_and_never_forwarded(mock, start_gateway):
    gw = start_gateway(basic_config(mock))
    mock.clear()
    body = {"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}], "user": "u1", **GATEWAY_ONLY}
    r = gw.post("/v1/chat/completions", body)
    assert r.status_code == 200, r.text
    sent = mock.last()["body"]
    assert sent == {"model": "upstream-model", "messages": body["messages"], "user": "u1"}
    # The client's api_base was not used to reach anything either.
    assert mock.last()["path"] == "/v1/chat/completions"


def test_a_mistyped_gateway_param_is_a_400_naming_it(mock, start_gateway):
    gw = start_gateway(basic_config(mock))
    mock.clear()
    r = gw.post("/v1/chat/completions", {"model": "gpt-test", "messages": [], "num_retries": "many"})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == "num_retries"
    assert mock.count() == 0 or all("/chat/completions" not in q["path"] for q in mock.requests())
