"""Real usage: for every provider the mock speaks, streamed and not, the token counts the
gateway records (its access-log line, target `tollgate::access`) are the ones the provider
sent, not estimates. The `[mock:usage=123,45]` marker makes every mock provider report 123
prompt and 45 completion tokens in its own wire shape.

OpenAI-compatible streams: the gateway always asks the provider for the usage chunk
(`stream_options.include_usage: true`) and hands it to the client only if the client asked."""

import json
import time

import pytest

from conftest import MASTER_KEY, PROVIDER_KEY, openai_deployment
from provider_helpers import config, deployment, last_request, tokens_issued, vertex_credentials, wait_for_token

MARK = "[mock:usage=123,45]"
WANT = {"prompt_tokens": 123, "completion_tokens": 45, "total_tokens": 168}
AWS = dict(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret/key", aws_region_name="us-east-1")

# The model group of each provider's deployment, and the path its calls reach on the mock.
PROVIDERS = {
    "openai": "/chat/completions",
    "azure": "/openai/deployments/my-gpt/chat/completions",
    "anthropic": "/v1/messages",
    "gemini": "gemini-2.0-flash:",
    "vertex": "gemini-2.0-flash:",
    "vertex-claude": "claude-3-5-sonnet:",
    "bedrock": "/model/",
    "cohere": "/v2/chat",
}


def deployments(mock, tmp_path):
    vertex = dict(
        api_base=mock.base,
        vertex_project="p",
        vertex_location="us-central1",
        vertex_credentials=vertex_credentials(mock, tmp_path),
    )
    return [
        openai_deployment(mock, "openai", model="gpt-4o-mini"),
        deployment("azure", "azure/my-gpt", api_base=mock.base, api_key=PROVIDER_KEY, api_version="2024-10-21"),
        deployment("anthropic", "anthropic/claude-x", api_base=mock.base, api_key=PROVIDER_KEY),
        deployment("gemini", "gemini/gemini-2.0-flash", api_base=f"{mock.base}/v1beta", api_key="AIza-k"),
        deployment("vertex", "vertex_ai/gemini-2.0-flash", **vertex),
        deployment("vertex-claude", "vertex_ai/claude-3-5-sonnet", **vertex),
        deployment("bedrock", "bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0", api_base=mock.base, **AWS),
        deployment("cohere", "cohere/command-r-plus", api_base=mock.base, api_key=PROVIDER_KEY),
    ]


@pytest.fixture
def gw(mock, start_gateway, tmp_path):
    before = tokens_issued(mock)
    gw = start_gateway(config(*deployments(mock, tmp_path)))
    wait_for_token(mock, before)
    mock.clear()
    return gw


def access_record(gw, call_id, timeout=5.0):
    """The gateway's access-log line for `call_id`, as JSON; polls the log (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        for line in gw.log().splitlines():
            if "tollgate::access" not in line or "{" not in line:
                continue
            try:
                record = json.loads(line[line.index("{") :])
            except ValueError:
                continue
            if record.get("call_id") == call_id:
                return record
        if time.monotonic() >= deadline:
            tail = "\n".join(gw.log().splitlines()[-30:])
            raise AssertionError(f"no tollgate::access line for call {call_id} within {timeout} s:\n{tail}")
        time.sleep(0.05)


def assert_recorded(gw, resp, want=WANT):
    """The access log of the response's call holds the provider's usage, `want`."""
    call_id = resp.headers["x-litellm-call-id"]
    record = access_record(gw, call_id)
    assert record["status"] == 200, record
    assert record["usage_source"] == "provider", record
    assert {k: record[k] for k in want} == want, record
    return record


def chat(gw, alias, stream, include_usage=None, text=f"Hello {MARK}"):
    body = {"model": alias, "messages": [{"role": "user", "content": text}]}
    if stream:
        body["stream"] = True
    if include_usage is not None:
        body["stream_options"] = {"include_usage": include_usage}
    resp = gw.post("/v1/chat/completions", body)
    assert resp.status_code == 200, resp.text
    return resp


def sse_chunks(resp):
    """The JSON chunks of a raw OpenAI SSE answer; it ends with exactly one `[DONE]`."""
    data = [line[len("data: ") :] for line in resp.text.splitlines() if line.startswith("data: ")]
    assert data and data[-1] == "[DONE]", resp.text
    assert data.count("[DONE]") == 1, resp.text
    return [json.loads(d) for d in data[:-1]]


def usage_chunks(chunks):
    return [c for c in chunks if c.get("usage")]


@pytest.mark.parametrize("provider", list(PROVIDERS))
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_recorded_usage_is_the_providers(gw, mock, provider, stream):
    resp = chat(gw, provider, stream)
    assert last_request(mock, PROVIDERS[provider])
    if stream:
        chunks = sse_chunks(resp)
        assert not usage_chunks(chunks), "the client did not ask for usage"
    else:
        assert {k: resp.json()["usage"][k] for k in WANT} == WANT
    assert_recorded(gw, resp)


@pytest.mark.parametrize("provider", list(PROVIDERS))
def test_a_usage_chunk_only_when_asked_and_then_last(gw, provider):
    chunks = sse_chunks(chat(gw, provider, stream=True, include_usage=True))
    with_usage = usage_chunks(chunks)
    assert len(with_usage) == 1, chunks
    assert with_usage[0] is chunks[-1]
    assert chunks[-1]["choices"] == []
    assert {k: chunks[-1]["usage"][k] for k in WANT} == WANT
    assert len({c["id"] for c in chunks}) == 1, "one id for the whole stream"


@pytest.mark.parametrize("provider", ["openai", "azure"])
def test_openai_compatible_stream_without_include_usage(gw, mock, provider):
    """The provider is asked for usage anyway; the client gets no usage chunk; the gateway
    still records the provider's counts."""
    resp = chat(gw, provider, stream=True)
    sent = last_request(mock, PROVIDERS[provider])["body"]
    assert sent["stream_options"] == {"include_usage": True}
    chunks = sse_chunks(resp)
    assert chunks, resp.text
    assert all("usage" not in c for c in chunks), chunks
    assert all(c["choices"] for c in chunks), "no choiceless chunk reaches the client"
    content = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert content
    assert_recorded(gw, resp)


@pytest.mark.parametrize("asked", [True, False])
def test_openai_stream_with_include_usage_is_passed_as_sent(gw, mock, asked):
    resp = chat(gw, "openai", stream=True, include_usage=asked)
    assert last_request(mock, "/chat/completions")["body"]["stream_options"] == {"include_usage": True}
    assert len(usage_chunks(sse_chunks(resp))) == int(asked)
    assert_recorded(gw, resp)


def test_a_whole_answer_is_not_asked_for_stream_usage(gw, mock):
    assert_recorded(gw, chat(gw, "openai", stream=False))
    assert "stream_options" not in last_request(mock, "/chat/completions")["body"]


def messages(gw, alias, stream):
    body = {"model": alias, "max_tokens": 64, "messages": [{"role": "user", "content": f"Hello {MARK}"}]}
    if stream:
        body["stream"] = True
    resp = gw.post("/v1/messages", body, key=None, headers={"x-api-key": MASTER_KEY})
    assert resp.status_code == 200, resp.text
    return resp


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_native_anthropic_passthrough_records_the_providers_usage(gw, mock, stream):
    resp = messages(gw, "anthropic", stream)
    if stream:
        assert "event: message_start" in resp.text and "event: message_delta" in resp.text
    else:
        assert resp.json()["usage"]["input_tokens"] == 123
        assert resp.json()["usage"]["output_tokens"] == 45
    assert_recorded(gw, resp)


@pytest.mark.parametrize("provider", ["openai", "gemini", "bedrock"])
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_anthropic_clients_of_other_providers_record_the_providers_usage(gw, provider, stream):
    resp = messages(gw, provider, stream)
    if not stream:
        assert resp.json()["usage"]["output_tokens"] == 45
    assert_recorded(gw, resp)
