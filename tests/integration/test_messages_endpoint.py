"""The Anthropic-native inbound endpoint (`POST /v1/messages`, `/anthropic/v1/messages`,
`/v1/messages/count_tokens`) driven by the official Anthropic Python SDK: passed through to
anthropic/ deployments, translated both ways for openai/ and gemini/ ones."""

import json

import anthropic
import httpx
import pytest

from conftest import MASTER_KEY, PROVIDER_KEY, openai_deployment
from provider_helpers import REPLY, config, deployment, last_request

CLAUDE_KEY = "sk-ant-provider-key-7"
SYSTEM = "You are terse."
MESSAGES = [{"role": "user", "content": "Hello there"}]
WEATHER = {
    "name": "get_weather",
    "description": "Current weather in a city",
    "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
}
ORDER = ["message_start", "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop"]


@pytest.fixture
def gw(mock, start_gateway):
    """A gateway with claude (anthropic/), gpt (openai/) and gem (gemini/)."""
    return start_gateway(
        config(
            deployment("claude", "anthropic/claude-x", api_base=mock.base, api_key=CLAUDE_KEY),
            openai_deployment(mock, "gpt", model="gpt-4o-mini"),
            deployment("gem", "gemini/gemini-2.0-flash", api_base=f"{mock.base}/v1beta", api_key="AIza-k"),
        )
    )


@pytest.fixture
def client(gw, mock):
    mock.clear()
    return anthropic.Anthropic(api_key=MASTER_KEY, base_url=gw.base, max_retries=0, timeout=30)


def event_types(events):
    return [e.type for e in events if e.type != "ping"]


def assert_anthropic_order(types):
    assert types[:2] == ORDER[:2], types
    assert types[-3:] == ORDER[-3:], types
    middle = types[2:-3]
    assert middle and set(middle) == {"content_block_delta"}, types


# --- anthropic/ alias: passthrough -------------------------------------------------------


def test_messages_create_passthrough_to_anthropic(client, mock):
    msg = client.messages.create(model="claude", max_tokens=123, system=SYSTEM, messages=MESSAGES)
    assert msg.type == "message" and msg.role == "assistant"
    assert msg.content[0].type == "text" and msg.content[0].text == REPLY
    assert msg.stop_reason == "end_turn"
    assert msg.usage.input_tokens > 0 and msg.usage.output_tokens > 0
    rec = last_request(mock, "/messages")
    assert rec["path"] == "/v1/messages"
    assert rec["headers"]["x-api-key"] == CLAUDE_KEY
    assert all(MASTER_KEY not in v for v in rec["headers"].values())
    # The client's body, untouched but for the model.
    assert rec["body"] == {"model": "claude-x", "max_tokens": 123, "system": SYSTEM, "messages": MESSAGES}


def test_messages_stream_passthrough_to_anthropic(client, mock):
    with client.messages.stream(model="claude", max_tokens=64, system=SYSTEM, messages=MESSAGES) as s:
        events = list(s)
        final = s.get_final_message()
    assert "".join(e.delta.text for e in events if e.type == "content_block_delta") == REPLY
    assert_anthropic_order(event_types(e for e in events if e.type in ORDER + ["ping"]))
    assert final.content[0].text == REPLY and final.stop_reason == "end_turn"
    body = last_request(mock, "/messages")["body"]
    assert body == {"model": "claude-x", "max_tokens": 64, "system": SYSTEM, "messages": MESSAGES, "stream": True}


# --- openai/ and gemini/ aliases: translated ---------------------------------------------


@pytest.mark.parametrize("alias", ["gpt", "gem"])
def test_messages_create_translated(client, mock, alias):
    msg = client.messages.create(model=alias, max_tokens=100, system=SYSTEM, messages=MESSAGES)
    assert msg.content[0].type == "text" and msg.content[0].text == REPLY
    assert msg.stop_reason == "end_turn"
    assert msg.model == alias
    assert msg.usage.input_tokens > 0 and msg.usage.output_tokens > 0
    if alias == "gpt":
        rec = last_request(mock, "/chat/completions")
        assert rec["headers"]["authorization"] == f"Bearer {PROVIDER_KEY}"
        assert rec["body"]["model"] == "gpt-4o-mini"
        assert rec["body"]["messages"][0] == {"role": "system", "content": SYSTEM}
        assert rec["body"]["messages"][1]["role"] == "user"
    else:
        rec = last_request(mock, ":generateContent")
        assert rec["body"]["contents"][0]["parts"] == [{"text": "Hello there"}]


@pytest.mark.parametrize("alias", ["gpt", "gem"])
def test_messages_stream_translated(client, alias):
    raw = list(client.messages.create(model=alias, max_tokens=100, messages=MESSAGES, stream=True))
    assert_anthropic_order(event_types(raw))
    assert "".join(e.delta.text for e in raw if e.type == "content_block_delta") == REPLY
    delta = [e for e in raw if e.type == "message_delta"][0]
    assert delta.delta.stop_reason == "end_turn"
    assert delta.usage.output_tokens > 0
    with client.messages.stream(model=alias, max_tokens=100, messages=MESSAGES) as s:
        assert "".join(s.text_stream) == REPLY
        assert s.get_final_message().content[0].text == REPLY


# --- tool use --------------------------------------------------------------------------------


@pytest.mark.parametrize("alias", ["gpt", "claude"])
def test_messages_tool_use_round_trip(client, mock, alias):
    question = [{"role": "user", "content": "Weather in Paris?"}]
    msg = client.messages.create(model=alias, max_tokens=100, messages=question, tools=[WEATHER], tool_choice={"type": "any"})
    assert msg.stop_reason == "tool_use"
    uses = [b for b in msg.content if b.type == "tool_use"]
    assert len(uses) == 1 and uses[0].name == "get_weather" and uses[0].input == {"location": "Paris"}
    assert uses[0].id
    follow = question + [
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in msg.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": uses[0].id, "content": "sunny, 21 C"}]},
    ]
    answer = client.messages.create(model=alias, max_tokens=100, messages=follow, tools=[WEATHER])
    assert answer.stop_reason == "end_turn"
    assert answer.content[0].text == REPLY
    if alias == "gpt":
        body = last_request(mock, "/chat/completions")["body"]
        tool_msg = body["messages"][-1]
        assert tool_msg["role"] == "tool" and tool_msg["tool_call_id"] == uses[0].id
        assert "sunny, 21 C" in str(tool_msg["content"])
        assert body["messages"][-2]["tool_calls"][0]["function"]["name"] == "get_weather"
    else:
        body = last_request(mock, "/messages")["body"]
        assert body["messages"] == follow, "passthrough keeps the tool_result block as sent"


@pytest.mark.parametrize("alias", ["gpt", "claude"])
def test_messages_streamed_tool_use(client, alias):
    events = list(
        client.messages.create(
            model=alias, max_tokens=100, messages=MESSAGES, tools=[WEATHER], tool_choice={"type": "any"}, stream=True
        )
    )
    assert_anthropic_order(event_types(events))
    start = [e for e in events if e.type == "content_block_start"][0]
    assert start.content_block.type == "tool_use" and start.content_block.name == "get_weather"
    fragments = [e.delta.partial_json for e in events if e.type == "content_block_delta"]
    assert all(e.delta.type == "input_json_delta" for e in events if e.type == "content_block_delta")
    assert len(fragments) > 1
    assert json.loads("".join(fragments)) == {"location": "Paris"}
    assert [e for e in events if e.type == "message_delta"][0].delta.stop_reason == "tool_use"


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize("alias", ["gpt", "claude"])
def test_messages_upstream_429_is_anthropic_rate_limit_error(client, alias):
    with pytest.raises(anthropic.RateLimitError) as e:
        client.messages.create(model=alias, max_tokens=10, messages=[{"role": "user", "content": "hi [mock:status=429]"}])
    assert e.value.status_code == 429
    assert e.value.body["type"] == "error"
    assert e.value.body["error"]["type"] == "rate_limit_error"
    assert e.value.body["error"]["message"]


def test_messages_unknown_model_is_400_invalid_request(client, mock):
    with pytest.raises(anthropic.BadRequestError) as e:
        client.messages.create(model="no-such-model", max_tokens=10, messages=MESSAGES)
    assert e.value.status_code == 400
    assert e.value.body["type"] == "error"
    assert e.value.body["error"]["type"] == "invalid_request_error"
    assert "no-such-model" in e.value.body["error"]["message"]
    assert mock.requests() == []


def test_messages_without_key_is_401_authentication_error(gw, client):
    body = {"model": "claude", "max_tokens": 10, "messages": MESSAGES}
    r = httpx.post(gw.url("/v1/messages"), json=body, headers={"anthropic-version": "2023-06-01"}, timeout=30)
    assert r.status_code == 401
    assert r.json()["type"] == "error" and r.json()["error"]["type"] == "authentication_error"
    bad = anthropic.Anthropic(api_key="sk-wrong", base_url=gw.base, max_retries=0, timeout=30)
    with pytest.raises(anthropic.AuthenticationError):
        bad.messages.create(**body)


# --- count_tokens and the /anthropic prefix ----------------------------------------------------


def test_count_tokens_asks_anthropic(client, mock):
    n = client.messages.count_tokens(model="claude", system=SYSTEM, messages=MESSAGES)
    assert n.input_tokens > 0
    rec = last_request(mock, "/count_tokens")
    assert rec["path"] == "/v1/messages/count_tokens"
    assert rec["headers"]["x-api-key"] == CLAUDE_KEY
    assert rec["body"]["model"] == "claude-x"
    assert rec["body"]["messages"] == MESSAGES


def test_count_tokens_estimates_for_openai(client, mock):
    long = [{"role": "user", "content": "word " * 200}]
    short = client.messages.count_tokens(model="gpt", messages=MESSAGES).input_tokens
    big = client.messages.count_tokens(model="gpt", messages=long).input_tokens
    assert 0 < short < big
    assert mock.requests() == [], "estimated locally"


def test_anthropic_prefixed_route_works_like_v1_messages(gw, mock):
    mock.clear()
    c = anthropic.Anthropic(api_key=MASTER_KEY, base_url=f"{gw.base}/anthropic", max_retries=0, timeout=30)
    msg = c.messages.create(model="gpt", max_tokens=50, messages=MESSAGES)
    assert msg.content[0].text == REPLY and msg.stop_reason == "end_turn"
    msg = c.messages.create(model="claude", max_tokens=50, messages=MESSAGES)
    assert msg.content[0].text == REPLY
    assert last_request(mock, "/messages")["path"] == "/v1/messages"
    with c.messages.stream(model="gpt", max_tokens=50, messages=MESSAGES) as s:
        assert "".join(s.text_stream) == REPLY


# --- a native Anthropic deployment gets what only Anthropic understands, untouched ---------

NATIVE_ONLY = {
    "max_tokens": 200,
    "system": [
        {"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral"}},
        {"type": "search_result", "source": "https://example.invalid/doc", "title": "Doc",
         "content": [{"type": "text", "text": "A fact."}]},
    ],
    "tools": [
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 2},
        {"type": "code_execution_20250522", "name": "code_execution"},
        WEATHER,
    ],
    "messages": [{"role": "user", "content": [
        {"type": "text", "text": "Hello there"},
        {"type": "document", "source": {"type": "url", "url": "https://example.invalid/a.pdf"}},
    ]}],
    "metadata": {"user_id": "user-42"},
    "thinking": {"type": "enabled", "budget_tokens": 1024},
}


def test_native_anthropic_deployment_receives_server_tools_and_system_blocks_untouched(gw, mock):
    mock.clear()
    sent = {"model": "claude", **NATIVE_ONLY}
    r = httpx.post(gw.url("/v1/messages"), json=sent, headers={"x-api-key": MASTER_KEY}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["type"] == "message"
    body = last_request(mock, "/messages")["body"]
    # Byte for byte the client's body as JSON, with only the model rewritten; `metadata` is
    # Anthropic's own field here, not the gateway's.
    assert body == {**sent, "model": "claude-x"}


def test_the_same_body_for_a_non_anthropic_deployment_is_refused_clearly(gw, mock):
    mock.clear()
    r = httpx.post(gw.url("/v1/messages"), json={"model": "gpt", **NATIVE_ONLY},
                   headers={"x-api-key": MASTER_KEY}, timeout=30)
    assert r.status_code == 400, r.text
    err = r.json()
    assert err["type"] == "error" and err["error"]["type"] == "invalid_request_error"
    assert "non-Anthropic" in err["error"]["message"] or "only text blocks" in err["error"]["message"]
    assert not [q for q in mock.requests() if "/chat/completions" in q["path"]]
