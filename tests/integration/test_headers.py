"""The headers LiteLLM clients read."""

import uuid

from conftest import basic_config, openai_deployment

CHAT = {"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}]}


def test_litellm_headers_on_success(mock, start_gateway):
    dep = openai_deployment(mock, "gpt-test")
    dep["model_info"] = {"id": "deployment-one"}
    gw = start_gateway(basic_config(mock, dep))
    r1 = gw.post("/v1/chat/completions", CHAT)
    r2 = gw.post("/v1/chat/completions", CHAT)
    h = r1.headers
    assert r1.status_code == 200
    uuid.UUID(h["x-litellm-call-id"])
    assert h["x-litellm-call-id"] != r2.headers["x-litellm-call-id"]
    assert h["x-litellm-model-id"] == "deployment-one"
    assert h["x-litellm-model-group"] == "gpt-test"
    assert h["x-litellm-model-api-base"] == f"{mock.base}/v1"
    assert h["x-litellm-version"]
    total = float(h["x-litellm-response-duration-ms"])
    overhead = float(h["x-litellm-overhead-duration-ms"])
    assert 0 <= overhead <= total


def test_provider_headers_pass_through(mock, start_gateway):
    gw = start_gateway(basic_config(mock))
    r = gw.post("/v1/chat/completions", dict(CHAT, mock={"headers": {"x-custom-provider": "yes"}}))
    assert r.headers["x-ratelimit-limit-requests"] == "10000"
    assert r.headers["x-ratelimit-remaining-tokens"] == "999000"
    assert r.headers["llm_provider-x-ratelimit-remaining-requests"] == "9999"
    assert r.headers["llm_provider-x-custom-provider"] == "yes"
    assert r.headers["llm_provider-x-request-id"].startswith("mock-")


def test_headers_on_streams(mock, start_gateway):
    gw = start_gateway(basic_config(mock))
    r = gw.post("/v1/chat/completions", dict(CHAT, stream=True))
    assert r.headers["x-litellm-model-group"] == "gpt-test"
    assert r.headers["llm_provider-x-ratelimit-limit-requests"] == "10000"


def test_deployment_id_is_stable_across_restarts(mock, start_gateway):
    cfg = basic_config(mock)
    id1 = start_gateway(cfg).post("/v1/chat/completions", CHAT).headers["x-litellm-model-id"]
    id2 = start_gateway(cfg).post("/v1/chat/completions", CHAT).headers["x-litellm-model-id"]
    assert id1 == id2 and len(id1) == 64
