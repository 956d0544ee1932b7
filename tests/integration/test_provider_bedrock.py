"""bedrock/ deployments: the Converse API (`/model/{id}/converse`, `/converse-stream` as a
binary AWS event stream) and InvokeModel embeddings (Titan, Cohere), every request SigV4-signed
with the deployment's keys, which the tests re-derive from the recorded request."""

import json
import re

import httpx
import pytest

from conftest import MASTER_KEY
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
    expected_signature,
    image_messages,
    last_request,
    parse_sigv4,
    stream_tool_call,
    tool_round_trip,
)

ALIAS = "bedrock-claude"
MODEL_ID = "anthropic.claude-3-5-sonnet-20240620-v1:0"
MODEL_PATH = "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0"
AKID = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
REGION = "us-east-1"
AUTH = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/(\d{8})/us-east-1/bedrock/aws4_request, "
    r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$"
)


def aws(mock):
    return dict(api_base=mock.base, aws_access_key_id=AKID, aws_secret_access_key=SECRET, aws_region_name=REGION)


@pytest.fixture
def gw(mock, start_gateway):
    gw = start_gateway(config(deployment(ALIAS, f"bedrock/{MODEL_ID}", **aws(mock))))
    mock.clear()
    return gw


def assert_signed(rec):
    """The request carries a SigV4 signature that verifies with the deployment's secret."""
    assert_no_master_key(rec)
    m = AUTH.match(rec["headers"]["authorization"])
    assert m, rec["headers"]["authorization"]
    signed = m.group(2).split(";")
    assert {"host", "x-amz-date"} <= set(signed), signed
    assert rec["headers"]["x-amz-date"].startswith(m.group(1))
    assert m.group(3) == expected_signature(rec, SECRET, REGION, "bedrock"), "SigV4 signature does not verify"


def test_bedrock_non_stream_text_via_converse(gw, mock):
    resp = gw.client().chat.completions.create(
        model=ALIAS,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there"}],
        temperature=0.5,
        max_tokens=50,
    )
    assert_text_completion(resp, ALIAS)
    rec = last_request(mock, "/model/")
    assert rec["method"] == "POST"
    assert rec["path"] == f"{MODEL_PATH}/converse"
    assert_signed(rec)
    body = rec["body"]
    assert body["messages"] == [{"role": "user", "content": [{"text": "Hello there"}]}]
    assert body["system"] == [{"text": "Be brief."}]
    assert body["inferenceConfig"]["temperature"] == 0.5
    assert body["inferenceConfig"]["maxTokens"] == 50
    assert "model" not in body, "Bedrock names the model in the path"


def test_bedrock_sigv4_signature_verifies_and_binds_the_request(gw, mock):
    gw.client().chat.completions.create(model=ALIAS, messages=[{"role": "user", "content": "sign me"}])
    rec = last_request(mock, "/converse")
    fields = parse_sigv4(rec["headers"]["authorization"])
    assert fields["Credential"].startswith(f"{AKID}/")
    assert fields["Signature"] == expected_signature(rec, SECRET, REGION, "bedrock")
    # The verifier is not vacuous: another secret, body or path gives another signature.
    assert fields["Signature"] != expected_signature(rec, SECRET + "x", REGION, "bedrock")
    assert fields["Signature"] != expected_signature(dict(rec, body_sha256="0" * 64), SECRET, REGION, "bedrock")
    single = dict(rec, path=rec["path"].replace("%3A", ":"))
    assert fields["Signature"] != expected_signature(single, SECRET, REGION, "bedrock")


def test_bedrock_stream_decodes_the_binary_event_stream(gw, mock):
    chunks = assert_stream_text(gw.client(), ALIAS)
    rec = last_request(mock, "/model/")
    assert rec["path"] == f"{MODEL_PATH}/converse-stream"
    assert_signed(rec)
    assert chunks[0].choices[0].delta.role == "assistant"
    # On the wire to the client: plain OpenAI SSE, nothing of the binary frames left.
    with httpx.stream(
        "POST",
        gw.url("/v1/chat/completions"),
        headers={"Authorization": f"Bearer {MASTER_KEY}"},
        json={"model": ALIAS, "stream": True, "messages": [{"role": "user", "content": "hi [mock:chunks=4]"}]},
        timeout=30,
    ) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in r.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    assert all(line.startswith("data: ") for line in lines), lines
    events = [json.loads(line[6:]) for line in lines[:-1]]
    text = "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e["choices"])
    assert text == REPLY
    assert len([e for e in events if e["choices"] and e["choices"][0]["delta"].get("content")]) == 4


def test_bedrock_tool_call_round_trip(gw, mock):
    call, _ = tool_round_trip(gw.client(), ALIAS)
    first, second = [r["body"] for r in mock.requests() if r["path"].endswith("/converse")][-2:]
    spec = first["toolConfig"]["tools"][0]["toolSpec"]
    assert spec["name"] == "get_weather"
    assert spec["inputSchema"]["json"] == WEATHER_TOOL["function"]["parameters"]
    assert "any" in first["toolConfig"]["toolChoice"]
    msgs = second["messages"]
    assert [m["role"] for m in msgs] == ["user", "assistant", "user"]
    tool_use = [b["toolUse"] for b in msgs[1]["content"] if "toolUse" in b]
    assert tool_use == [{"toolUseId": call.id, "name": "get_weather", "input": {"location": "Paris"}}]
    result = msgs[2]["content"][0]["toolResult"]
    assert result["toolUseId"] == call.id
    assert result["content"] in ([{"text": TOOL_RESULT}], [{"json": json.loads(TOOL_RESULT)}]), result
    assert "toolConfig" in second, "Bedrock wants toolConfig when the history has tool blocks"


def test_bedrock_streamed_tool_call(gw, mock):
    deltas = stream_tool_call(gw.client(), ALIAS)
    assert len([d for d in deltas if d.function and d.function.arguments]) > 1, "arguments arrive in fragments"
    assert last_request(mock, "/model/")["path"] == f"{MODEL_PATH}/converse-stream"


def test_bedrock_image_input_is_an_image_block(gw, mock):
    resp = gw.client().chat.completions.create(model=ALIAS, messages=image_messages())
    assert resp.choices[0].message.content == REPLY
    content = last_request(mock, "/converse")["body"]["messages"][0]["content"]
    assert {"text": "What is in this image?"} in content
    assert {"image": {"format": "png", "source": {"bytes": PNG_B64}}} in content


def test_bedrock_429_is_rate_limit_error(gw):
    assert_rate_limited(gw.client(), ALIAS)


def test_bedrock_400_is_bad_request(gw):
    assert_bad_request(gw.client(), ALIAS)


def test_bedrock_titan_embeddings(mock, start_gateway):
    gw = start_gateway(config(deployment("titan", "bedrock/amazon.titan-embed-text-v2:0", **aws(mock))))
    mock.clear()
    resp = gw.client().embeddings.create(model="titan", input="hello world")
    assert resp.object == "list" and resp.model == "titan"
    assert len(resp.data) == 1 and resp.data[0].index == 0
    assert len(resp.data[0].embedding) == 8
    assert resp.usage.prompt_tokens > 0
    rec = mock.last()
    assert rec["path"] == "/model/amazon.titan-embed-text-v2%3A0/invoke"
    assert rec["body"]["inputText"] == "hello world"
    assert_signed(rec)


def test_bedrock_cohere_embeddings(mock, start_gateway):
    gw = start_gateway(config(deployment("bcohere", "bedrock/cohere.embed-english-v3", **aws(mock))))
    mock.clear()
    resp = gw.client().embeddings.create(model="bcohere", input=["hello", "world"])
    assert resp.model == "bcohere"
    assert [d.index for d in resp.data] == [0, 1]
    assert all(len(d.embedding) == 8 for d in resp.data)
    assert resp.data[0].embedding != resp.data[1].embedding
    rec = mock.last()
    assert rec["path"] == "/model/cohere.embed-english-v3/invoke"
    assert rec["body"]["texts"] == ["hello", "world"]
    assert rec["body"]["input_type"] == "search_document"
    assert_signed(rec)


def test_bedrock_runtime_endpoint_is_used_and_still_signed_for_the_region(mock, start_gateway):
    keys = dict(aws_access_key_id=AKID, aws_secret_access_key=SECRET, aws_region_name=REGION)
    gw = start_gateway(config(deployment(ALIAS, f"bedrock/{MODEL_ID}", aws_bedrock_runtime_endpoint=mock.base, **keys)))
    mock.clear()
    resp = gw.client().chat.completions.create(model=ALIAS, messages=[{"role": "user", "content": "via a VPC endpoint"}])
    assert_text_completion(resp, ALIAS)
    rec = last_request(mock, "/model/")
    assert rec["path"] == f"{MODEL_PATH}/converse"
    assert_signed(rec)
    # The same through the environment variable.
    gw2 = start_gateway(config(deployment(ALIAS, f"bedrock/{MODEL_ID}", **keys)),
                        env={"AWS_BEDROCK_RUNTIME_ENDPOINT": mock.base})
    mock.clear()
    assert_text_completion(gw2.client().chat.completions.create(model=ALIAS, messages=[{"role": "user", "content": "x"}]), ALIAS)
    assert_signed(last_request(mock, "/model/"))
