"""LiteLLM's per-request controls, in the body or as headers: `timeout` / `x-litellm-timeout`,
`num_retries`, `mock_response`, and the test switches `mock_testing_fallbacks`,
`mock_testing_rate_limit_error`, `mock_timeout` (for the master key, or for everyone with
`dangerously_allow_mock_testing_request_params`; never forwarded upstream)."""

import time

from conftest import MASTER_KEY, assert_openai_error
from test_router import CHAT, config, dep, models_hit


def chat(gw, model="g", key=MASTER_KEY, headers=None, **extra):
    return gw.post("/v1/chat/completions", dict(CHAT, model=model, **extra), key=key, headers=headers or {})


SLOW = [{"role": "user", "content": "[mock:delay_ms=1500] hi"}]


def test_header_and_body_timeout_override_the_deployments(mock, start_gateway):
    gw = start_gateway(config([dep(mock, "g", "m", timeout=30)], router={"num_retries": 0}))
    t0 = time.monotonic()
    r = gw.post("/v1/chat/completions", {"model": "g", "messages": SLOW}, headers={"x-litellm-timeout": "0.5"})
    assert_openai_error(r, 408)
    assert time.monotonic() - t0 < 1.4
    assert r.headers["x-litellm-timeout"] == "0.5"
    r = chat(gw, messages=SLOW, timeout=0.5)
    assert_openai_error(r, 408)
    assert r.headers["x-litellm-timeout"] == "0.5"
    r = chat(gw, headers={"x-litellm-timeout": "10"})
    assert r.status_code == 200 and r.headers["x-litellm-timeout"] == "10.0"
    # Without an override, the deployment's own; and the retry count in effect.
    r = chat(gw)
    assert r.headers["x-litellm-timeout"] == "30.0" and r.headers["x-litellm-max-retries"] == "0"
    assert "timeout" not in mock.last()["body"]


def test_num_retries_zero_in_the_body_means_one_attempt(mock, start_gateway):
    gw = start_gateway(config([dep(mock, "g", "status-500-a"), dep(mock, "g", "status-500-b")], router={"num_retries": 3}))
    mock.clear()
    r = chat(gw, num_retries=0)
    assert_openai_error(r, 500)
    assert len(mock.requests()) == 1
    assert r.headers["x-litellm-attempted-retries"] == "0" and r.headers["x-litellm-max-retries"] == "0"


def test_mock_response_in_the_body_answers_locally(mock, start_gateway):
    gw = start_gateway(config([dep(mock, "g", "m")]))
    mock.clear()
    r = chat(gw, mock_response="canned answer")
    assert r.status_code == 200
    assert r.json()["choices"][0]["message"]["content"] == "canned answer"
    assert len(mock.requests()) == 0


def test_mock_testing_rate_limit_error_is_retried_on_the_other_deployment(mock, start_gateway):
    gw = start_gateway(config([dep(mock, "g", "a"), dep(mock, "g", "b")]))
    mock.clear()
    r = chat(gw, mock_testing_rate_limit_error=True)
    assert r.status_code == 200, r.text
    assert r.headers["x-litellm-attempted-retries"] == "1"
    assert len(mock.requests()) == 1
    assert "mock_testing_rate_limit_error" not in mock.last()["body"]
    # A mocked 429 does not cool the deployment down: both keep serving.
    for _ in range(10):
        assert chat(gw).status_code == 200
    assert set(models_hit(mock)) == {"a", "b"}


def test_mock_testing_fallbacks_moves_to_the_configured_fallback(mock, start_gateway):
    gw = start_gateway(config([dep(mock, "g", "primary"), dep(mock, "backup", "backup-model")],
                              router={"fallbacks": [{"g": ["backup"]}], "num_retries": 0}))
    mock.clear()
    r = chat(gw, mock_testing_fallbacks=True)
    assert r.status_code == 200, r.text
    assert r.headers["x-litellm-attempted-fallbacks"] == "1"
    assert models_hit(mock) == {"backup-model": 1}


def test_mock_timeout_gives_the_timeout_error(mock, start_gateway):
    gw = start_gateway(config([dep(mock, "g", "m")]))
    mock.clear()
    r = chat(gw, mock_timeout=True)
    assert_openai_error(r, 408)
    assert len(mock.requests()) == 0


def test_without_the_switch_other_callers_are_not_mocked_and_nothing_is_forwarded(mock, start_gateway):
    deployments = [dep(mock, "g", "a"), dep(mock, "backup", "backup-model")]
    open_gw = start_gateway({"model_list": deployments, "router_settings": {"fallbacks": [{"g": ["backup"]}]}})
    mock.clear()
    r = chat(open_gw, key=None, mock_testing_fallbacks=True, mock_timeout=True, mock_testing_rate_limit_error=True)
    assert r.status_code == 200, r.text
    assert r.headers["x-litellm-attempted-fallbacks"] == "0" and r.headers["x-litellm-attempted-retries"] == "0"
    body = mock.last()["body"]
    assert not {"mock_testing_fallbacks", "mock_timeout", "mock_testing_rate_limit_error"} & set(body), body
    # With the switch on, anyone's test params are honoured.
    allowed = start_gateway({"model_list": deployments, "router_settings": {"fallbacks": [{"g": ["backup"]}]},
                             "general_settings": {"dangerously_allow_mock_testing_request_params": True}})
    r = chat(allowed, key=None, mock_timeout=True)
    assert_openai_error(r, 408)


def test_a_comma_separated_model_returns_one_completion_per_alias(mock, start_gateway):
    gw = start_gateway(config([dep(mock, "g", "first-model"), dep(mock, "h", "second-model"),
                               dep(mock, "broken", "status-500-x")], router={"num_retries": 0}))
    mock.clear()
    r = chat(gw, model="g,h")
    assert r.status_code == 200, r.text
    answers = r.json()
    assert isinstance(answers, list) and [a["model"] for a in answers] == ["g", "h"]
    assert all(a["object"] == "chat.completion" and a["choices"][0]["message"]["content"] for a in answers)
    assert sorted(models_hit(mock)) == ["first-model", "second-model"]
    # A failing alias has its error in its place; an unknown one is a 400; streams are refused.
    mixed = chat(gw, model="g, broken").json()
    assert mixed[0]["object"] == "chat.completion" and mixed[1]["error"]["code"] == "500"
    assert_openai_error(chat(gw, model="g,nope"), 400, param="model")
    assert_openai_error(chat(gw, model="g,h", stream=True), 400, param="stream")
