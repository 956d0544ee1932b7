"""anthropic/ deployments: the OpenAI SDK talks to the gateway, the gateway talks Anthropic's
Messages API (x-api-key, anthropic-version, /v1/messages) to the mock, and translates back."""

import json

import openai
import pytest

from conftest import MASTER_KEY, openai_deployment
from provider_helpers import (
    PNG_B64,
    REPLY,
    TOOL_RESULT,
    WEATHER_TOOL,
    assert_bad_request,
    assert_no_master_key,
    assert_rate_limited,
    assert_stream_text,
    assert_text_completion,
    config,
    deployment,
    image_messages,
    last_request,
    stream_tool_call,
    tool_round_trip,
    user,
)

ALIAS = "claude"
KEY = "sk-ant-provider-key-42"


@pytest.fixture
def gw(mock, start_gateway):
    gw = start_gateway(config(deployment(ALIAS, "anthropic/claude-x", api_base=mock.base, api_key=KEY)))
    mock.clear()
    return gw


def text_of(content):
    """An Anthropic content (string or blocks) as text."""
    if isinstance(content, str):
        return content
    return "".join(b.get("text", "") for b in content if b.get("type") == "text")


def test_anthropic_non_stream_text_in_native_format(gw, mock):
    resp = gw.client().chat.completions.create(
        model=ALIAS,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there"}],
        temperature=0.5,
    )
    assert_text_completion(resp, ALIAS)
    rec = last_request(mock, "/messages")
    assert rec["method"] == "POST"
    assert rec["path"] == "/v1/messages"
    assert rec["headers"]["x-api-key"] == KEY
    assert rec["headers"]["anthropic-version"]
    assert "authorization" not in rec["headers"]
    assert_no_master_key(rec)
    body = rec["body"]
    assert body["model"] == "claude-x"
    assert text_of(body["system"]) == "Be brief."
    assert [m["role"] for m in body["messages"]] == ["user"], "the system message leaves messages"
    assert text_of(body["messages"][0]["content"]) == "Hello there"
    assert isinstance(body["max_tokens"], int) and body["max_tokens"] > 0, "Anthropic requires max_tokens"
    assert body["temperature"] == 0.5
    assert "stream" not in body or body["stream"] is False


def test_anthropic_stream_text_with_usage(gw, mock):
    assert_stream_text(gw.client(), ALIAS)
    rec = last_request(mock, "/messages")
    assert rec["body"]["stream"] is True
    assert "stream_options" not in rec["body"], "gateway-only fields are not forwarded"


def test_anthropic_tool_call_round_trip(gw, mock):
    call, _ = tool_round_trip(gw.client(), ALIAS)
    first, second = [r["body"] for r in mock.requests() if r["path"] == "/v1/messages"][-2:]
    assert first["tools"][0]["name"] == "get_weather"
    assert first["tools"][0]["input_schema"] == WEATHER_TOOL["function"]["parameters"]
    assert first["tool_choice"]["type"] == "any"
    # The second turn carries the assistant's tool_use and the result as a tool_result block.
    roles = [m["role"] for m in second["messages"]]
    assert roles == ["user", "assistant", "user"], roles
    tool_use = [b for b in second["messages"][1]["content"] if b["type"] == "tool_use"]
    assert tool_use == [{"type": "tool_use", "id": call.id, "name": "get_weather", "input": {"location": "Paris"}}]
    result = second["messages"][2]["content"][0]
    assert result["type"] == "tool_result"
    assert result["tool_use_id"] == call.id
    assert text_of(result["content"]) == TOOL_RESULT


def test_anthropic_streamed_tool_call(gw, mock):
    deltas = stream_tool_call(gw.client(), ALIAS)
    assert len([d for d in deltas if d.function and d.function.arguments]) > 1, "arguments arrive in fragments"
    assert last_request(mock, "/messages")["body"]["tool_choice"]["type"] == "any"


def test_anthropic_image_input_is_a_base64_image_block(gw, mock):
    resp = gw.client().chat.completions.create(model=ALIAS, messages=image_messages())
    assert resp.choices[0].message.content == REPLY
    content = last_request(mock, "/messages")["body"]["messages"][0]["content"]
    images = [b for b in content if b["type"] == "image"]
    assert images == [{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64}}]
    assert any(b["type"] == "text" and b["text"] == "What is in this image?" for b in content)


def test_anthropic_429_is_rate_limit_error(gw):
    assert_rate_limited(gw.client(), ALIAS)


def test_anthropic_400_is_bad_request(gw):
    assert_bad_request(gw.client(), ALIAS)


def test_anthropic_missing_provider_key_is_401(mock, start_gateway):
    # No api_key and no ANTHROPIC_API_KEY: the mock refuses the call without x-api-key.
    gw = start_gateway(
        config(deployment(ALIAS, "anthropic/claude-x", api_base=mock.base)), env={"ANTHROPIC_API_KEY": ""}
    )
    with pytest.raises(openai.AuthenticationError) as e:
        gw.client().chat.completions.create(model=ALIAS, messages=user("hi"))
    assert e.value.status_code == 401
    assert "x-api-key" in str(e.value.message)
    # The gateway's own key never stands in for the provider's.
    for rec in mock.requests():
        assert MASTER_KEY not in json.dumps(rec["headers"])


def test_fallback_from_openai_to_anthropic_group(mock, start_gateway):
    primary = openai_deployment(mock, "primary", model="status-500-x")
    backup = deployment("claude-backup", "anthropic/claude-x", api_base=mock.base, api_key=KEY)
    gw = start_gateway(config(primary, backup, router={"fallbacks": [{"primary": ["claude-backup"]}]}))
    mock.clear()
    raw = gw.client().chat.completions.with_raw_response.create(model="primary", messages=user("hi"))
    assert raw.headers["x-litellm-attempted-fallbacks"] == "1"
    assert raw.headers["x-litellm-model-group"] == "claude-backup"
    resp = raw.parse()
    assert resp.choices[0].message.content == REPLY
    assert resp.choices[0].finish_reason == "stop"
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens
    paths = [r["path"] for r in mock.requests()]
    assert paths == ["/v1/chat/completions", "/v1/messages"], paths
    rec = mock.last()
    assert rec["headers"]["x-api-key"] == KEY
    assert rec["body"]["model"] == "claude-x"
