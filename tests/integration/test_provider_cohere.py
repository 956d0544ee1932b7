"""cohere/ deployments: Cohere's v2 API (`/v2/chat`, whole or as named SSE events, and
`/v2/embed`) with `Authorization: Bearer <provider key>`, translated to and from OpenAI's."""

import json

import pytest

from provider_helpers import (
    PNG_DATA_URL,
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
)

ALIAS = "command"
KEY = "co-provider-key-42"


@pytest.fixture
def gw(mock, start_gateway):
    gw = start_gateway(config(deployment(ALIAS, "cohere/command-r-plus", api_base=mock.base, api_key=KEY)))
    mock.clear()
    return gw


def text_of(content):
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content if p.get("type") == "text")


def test_cohere_non_stream_text_in_native_format(gw, mock):
    resp = gw.client().chat.completions.create(
        model=ALIAS,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there"}],
        temperature=0.5,
        max_tokens=50,
    )
    assert_text_completion(resp, ALIAS)
    rec = last_request(mock, "/v2/")
    assert rec["method"] == "POST"
    assert rec["path"] == "/v2/chat"
    assert rec["headers"]["authorization"] == f"Bearer {KEY}"
    assert_no_master_key(rec)
    body = rec["body"]
    assert body["model"] == "command-r-plus"
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert text_of(body["messages"][0]["content"]) == "Be brief."
    assert text_of(body["messages"][1]["content"]) == "Hello there"
    assert body["temperature"] == 0.5
    assert body["max_tokens"] == 50
    assert body.get("stream") in (None, False)


def test_cohere_stream_text_with_usage(gw, mock):
    assert_stream_text(gw.client(), ALIAS)
    rec = last_request(mock, "/v2/chat")
    assert rec["body"]["stream"] is True
    assert "stream_options" not in rec["body"]


def test_cohere_tool_call_round_trip(gw, mock):
    call, _ = tool_round_trip(gw.client(), ALIAS)
    first, second = [r["body"] for r in mock.requests() if r["path"] == "/v2/chat"][-2:]
    assert first["tools"] == [WEATHER_TOOL]
    assert first["tool_choice"] == "REQUIRED"
    msgs = second["messages"]
    assert [m["role"] for m in msgs] == ["user", "assistant", "tool"]
    calls = msgs[1]["tool_calls"]
    assert [(c["id"], c["function"]["name"]) for c in calls] == [(call.id, "get_weather")]
    assert json.loads(calls[0]["function"]["arguments"]) == {"location": "Paris"}
    tool = msgs[2]
    assert tool["tool_call_id"] == call.id
    assert text_of(tool["content"]) == TOOL_RESULT


def test_cohere_streamed_tool_call(gw, mock):
    deltas = stream_tool_call(gw.client(), ALIAS)
    assert len([d for d in deltas if d.function and d.function.arguments]) > 1, "arguments arrive in fragments"
    assert last_request(mock, "/v2/chat")["body"]["tool_choice"] == "REQUIRED"


def test_cohere_image_input_is_an_image_url_part(gw, mock):
    resp = gw.client().chat.completions.create(model=ALIAS, messages=image_messages())
    assert resp.choices[0].message.content == REPLY
    content = last_request(mock, "/v2/chat")["body"]["messages"][0]["content"]
    assert {"type": "text", "text": "What is in this image?"} in content
    images = [p for p in content if p["type"] == "image_url"]
    assert len(images) == 1 and images[0]["image_url"]["url"] == PNG_DATA_URL


def test_cohere_429_is_rate_limit_error(gw):
    assert_rate_limited(gw.client(), ALIAS)


def test_cohere_400_is_bad_request(gw):
    assert_bad_request(gw.client(), ALIAS)


def test_cohere_embeddings_via_v2_embed(mock, start_gateway):
    gw = start_gateway(config(deployment("co-embed", "cohere/embed-english-v3.0", api_base=mock.base, api_key=KEY)))
    mock.clear()
    resp = gw.client().embeddings.create(model="co-embed", input=["hello", "world"])
    assert resp.object == "list" and resp.model == "co-embed"
    assert [d.index for d in resp.data] == [0, 1]
    assert all(d.object == "embedding" and len(d.embedding) == 8 for d in resp.data)
    assert resp.data[0].embedding != resp.data[1].embedding
    assert resp.usage.prompt_tokens > 0
    rec = mock.last()
    assert rec["path"] == "/v2/embed"
    assert rec["headers"]["authorization"] == f"Bearer {KEY}"
    assert_no_master_key(rec)
    body = rec["body"]
    assert body["model"] == "embed-english-v3.0"
    assert body["texts"] == ["hello", "world"]
    assert body["embedding_types"] == ["float"]
    assert body["input_type"]
