"""Shared pieces of the native-provider tests (Anthropic, Gemini, Vertex AI, Bedrock, Cohere):
configs, the get_weather tool, a tiny PNG, stream collectors, the tool-call round trip,
the Vertex service-account file and a SigV4 verifier."""

import hashlib
import hmac
import json
import pathlib
import time
import urllib.parse

import httpx
import openai
import pytest

from conftest import MASTER_KEY

REPLY = "Hello from the mock provider."
FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures"

# A 1x1 transparent PNG.
PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
PNG_DATA_URL = f"data:image/png;base64,{PNG_B64}"

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string"}},
            "required": ["location"],
        },
    },
}
TOOL_RESULT = '{"temperature_c": 21, "sky": "sunny"}'


def deployment(name, model, **params):
    return {"model_name": name, "litellm_params": {"model": model, **params}}


def config(*deployments, router=None):
    cfg = {"model_list": list(deployments), "general_settings": {"master_key": MASTER_KEY}}
    # No retries: an injected error must come back from exactly one attempt.
    cfg["router_settings"] = {"num_retries": 0, **(router or {})}
    return cfg


def user(text):
    return [{"role": "user", "content": text}]


def g(obj, camel, snake):
    """A Google JSON field by its camelCase or snake_case name (Google accepts both)."""
    if camel in obj:
        return obj[camel]
    return obj[snake]


def provider_requests(mock, contains):
    """The recorded requests whose path contains `contains` (skips e.g. OAuth token calls)."""
    return [r for r in mock.requests() if contains in r["path"]]


def last_request(mock, contains):
    reqs = provider_requests(mock, contains)
    assert reqs, f"no request to a path containing {contains!r}: {[r['path'] for r in mock.requests()]}"
    return reqs[-1]


def assert_no_master_key(rec):
    for name, value in rec["headers"].items():
        assert MASTER_KEY not in value, f"the gateway key leaked upstream in {name}"


def assert_text_completion(resp, alias):
    assert resp.choices[0].message.content == REPLY
    assert resp.model == alias
    assert resp.choices[0].finish_reason == "stop"
    assert resp.object == "chat.completion"
    u = resp.usage
    assert u is not None
    assert u.prompt_tokens > 0 and u.completion_tokens > 0
    assert u.total_tokens == u.prompt_tokens + u.completion_tokens


def stream_text(client, alias, text="hi", **kw):
    """Streams a completion with usage; returns (joined text, chunks)."""
    chunks = list(
        client.chat.completions.create(
            model=alias, messages=user(text), stream=True, stream_options={"include_usage": True}, **kw
        )
    )
    joined = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    return joined, chunks


def assert_stream_text(client, alias):
    joined, chunks = stream_text(client, alias)
    assert joined == REPLY
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 1, "streamed in pieces"
    assert all(c.model == alias for c in chunks)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    last = chunks[-1]
    assert last.usage is not None, "include_usage: the last chunk has usage"
    assert last.usage.prompt_tokens > 0 and last.usage.completion_tokens > 0
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens
    return chunks


def assert_weather_call(resp):
    choice = resp.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.type == "function"
    assert call.id
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"location": "Paris"}
    return call


def tool_round_trip(client, alias, text="What is the weather in Paris?"):
    """First turn forces get_weather; second sends the result back. Returns (call, answer)."""
    messages = user(text)
    first = client.chat.completions.create(model=alias, messages=messages, tools=[WEATHER_TOOL], tool_choice="required")
    call = assert_weather_call(first)
    messages = messages + [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": call.id, "type": "function", "function": {"name": "get_weather", "arguments": call.function.arguments}}
            ],
        },
        {"role": "tool", "tool_call_id": call.id, "content": TOOL_RESULT},
    ]
    second = client.chat.completions.create(model=alias, messages=messages, tools=[WEATHER_TOOL])
    assert second.choices[0].message.content == REPLY
    assert second.choices[0].finish_reason == "stop"
    assert not second.choices[0].message.tool_calls
    return call, second


def stream_tool_call(client, alias, marker=False):
    """Streams a forced get_weather call; checks the OpenAI delta shape; returns the chunks."""
    text = "weather? [mock:tool=get_weather]" if marker else "weather?"
    extra = {} if marker else {"tool_choice": "required"}
    chunks = list(
        client.chat.completions.create(model=alias, messages=user(text), tools=[WEATHER_TOOL], stream=True, **extra)
    )
    deltas = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert deltas, "no tool-call deltas"
    head = deltas[0]
    assert head.index == 0 and head.id and head.type == "function"
    assert head.function.name == "get_weather"
    assert all(d.index == 0 for d in deltas)
    assert all(d.id in (None, head.id) for d in deltas[1:]), "the id comes once"
    args = "".join(d.function.arguments or "" for d in deltas if d.function)
    assert json.loads(args) == {"location": "Paris"}
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["tool_calls"]
    return deltas


def image_messages():
    return [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in this image?"},
                {"type": "image_url", "image_url": {"url": PNG_DATA_URL}},
            ],
        }
    ]


def assert_rate_limited(client, alias):
    with pytest.raises(openai.RateLimitError) as e:
        client.chat.completions.create(model=alias, messages=user("hi [mock:status=429]"))
    assert e.value.status_code == 429
    assert f"Received Model Group={alias}" in str(e.value.message), e.value.message


def assert_bad_request(client, alias):
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model=alias, messages=user("hi [mock:status=400]"))
    assert e.value.status_code == 400
    assert alias in str(e.value.message), e.value.message


# --- Vertex AI ---------------------------------------------------------------------------


def vertex_credentials(mock, tmp_path):
    sa = json.loads((FIXTURES / "gemini" / "test_only_service_account.json").read_text())
    sa["token_uri"] = f"{mock.base}/token"
    path = tmp_path / "service_account.json"
    path.write_text(json.dumps(sa))
    return str(path)


def tokens_issued(mock):
    return httpx.get(f"{mock.base}/__mock/stats", timeout=5).json()["tokens_issued"]


def wait_for_token(mock, before, timeout=5.0):
    """Waits (bounded) until the gateway's background token fetch reached the mock."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if tokens_issued(mock) > before:
            return
        time.sleep(0.05)
    raise AssertionError(f"the gateway fetched no Vertex access token in {timeout} s")


# --- AWS SigV4 -----------------------------------------------------------------------------


def _hmac(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def parse_sigv4(authorization):
    algo, _, rest = authorization.partition(" ")
    assert algo == "AWS4-HMAC-SHA256", authorization
    fields = dict(f.strip().split("=", 1) for f in rest.split(","))
    assert set(fields) == {"Credential", "SignedHeaders", "Signature"}, fields
    return fields


def _canonical_query(query):
    if not query:
        return ""
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    enc = lambda s: urllib.parse.quote(s, safe="-_.~")  # noqa: E731
    return "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(pairs))


def expected_signature(rec, secret, region, service):
    """Recomputes the SigV4 signature of a recorded request from scratch."""
    fields = parse_sigv4(rec["headers"]["authorization"])
    _akid, date, cred_region, cred_service, term = fields["Credential"].split("/")
    assert (cred_region, cred_service, term) == (region, service, "aws4_request")
    signed = fields["SignedHeaders"].split(";")
    # Non-S3 services sign each path segment URI-encoded once more.
    canonical_uri = "/".join(urllib.parse.quote(seg, safe="-_.~") for seg in rec["path"].split("/"))
    canonical_headers = "".join(f"{h}:{' '.join(rec['headers'][h].split())}\n" for h in signed)
    canonical_request = "\n".join(
        [rec["method"], canonical_uri, _canonical_query(rec["query"]), canonical_headers, fields["SignedHeaders"], rec["body_sha256"]]
    )
    amz_date = rec["headers"]["x-amz-date"]
    assert amz_date.startswith(date)
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()])
    key = _hmac(f"AWS4{secret}".encode(), date)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
