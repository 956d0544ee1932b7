"""gemini/ (AI Studio, x-goog-api-key) and vertex_ai/ (OAuth bearer from a service account)
deployments: generateContent / streamGenerateContent in Google's format, translated back to
OpenAI's. Each common test runs against both (`[gemini]`, `[vertex]`); Vertex also serves
Claude through rawPredict."""

import json
import re

import pytest

from provider_helpers import (
    PNG_B64,
    REPLY,
    assert_bad_request,
    assert_no_master_key,
    assert_rate_limited,
    assert_stream_text,
    assert_text_completion,
    config,
    deployment,
    g,
    image_messages,
    last_request,
    stream_tool_call,
    tokens_issued,
    tool_round_trip,
    user,
    vertex_credentials,
    wait_for_token,
)

ALIAS = "gem"
GEMINI_KEY = "AIza-provider-key-42"
VERTEX_PATH = "/v1/projects/p/locations/us-central1/publishers/google/models/gemini-2.0-flash"
TOKEN = re.compile(r"^Bearer mock-access-token-\d+$")


class Google:
    def __init__(self, kind, gw, mock):
        self.kind, self.gw, self.mock = kind, gw, mock

    @property
    def model_path(self):
        return VERTEX_PATH if self.kind == "vertex" else "/v1beta/models/gemini-2.0-flash"

    def last(self):
        return last_request(self.mock, ":")

    def bodies(self):
        return [r["body"] for r in self.mock.requests() if "gemini-2.0-flash:" in r["path"]]

    def check_auth(self, rec):
        assert_no_master_key(rec)
        if self.kind == "vertex":
            assert TOKEN.match(rec["headers"]["authorization"]), rec["headers"]
            assert "x-goog-api-key" not in rec["headers"]
        else:
            assert rec["headers"]["x-goog-api-key"] == GEMINI_KEY
            assert "authorization" not in rec["headers"]


def vertex_params(mock, tmp_path):
    return dict(
        api_base=mock.base,
        vertex_project="p",
        vertex_location="us-central1",
        vertex_credentials=vertex_credentials(mock, tmp_path),
    )


@pytest.fixture(params=["gemini", "vertex"])
def google(request, mock, start_gateway, tmp_path):
    if request.param == "gemini":
        dep = deployment(ALIAS, "gemini/gemini-2.0-flash", api_base=f"{mock.base}/v1beta", api_key=GEMINI_KEY)
        gw = start_gateway(config(dep))
    else:
        before = tokens_issued(mock)
        gw = start_gateway(config(deployment(ALIAS, "vertex_ai/gemini-2.0-flash", **vertex_params(mock, tmp_path))))
        wait_for_token(mock, before)
    mock.clear()
    return Google(request.param, gw, mock)


def test_google_non_stream_text_in_native_format(google):
    resp = google.gw.client().chat.completions.create(
        model=ALIAS,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there"}],
        temperature=0.5,
        max_tokens=50,
    )
    assert_text_completion(resp, ALIAS)
    rec = google.last()
    assert rec["method"] == "POST"
    assert rec["path"] == f"{google.model_path}:generateContent"
    assert not rec["query"], "no key in the URL"
    google.check_auth(rec)
    body = rec["body"]
    assert body["contents"] == [{"role": "user", "parts": [{"text": "Hello there"}]}]
    assert g(body, "systemInstruction", "system_instruction")["parts"] == [{"text": "Be brief."}]
    gen = g(body, "generationConfig", "generation_config")
    assert gen["temperature"] == 0.5
    assert g(gen, "maxOutputTokens", "max_output_tokens") == 50
    assert "messages" not in body and "model" not in body


def test_google_stream_text_with_usage(google):
    assert_stream_text(google.gw.client(), ALIAS)
    rec = google.last()
    assert rec["path"] == f"{google.model_path}:streamGenerateContent"
    assert rec["query"] == "alt=sse"
    google.check_auth(rec)


def test_google_tool_call_round_trip(google):
    call, _ = tool_round_trip(google.gw.client(), ALIAS)
    first, second = google.bodies()[-2:]
    decls = g(first["tools"][0], "functionDeclarations", "function_declarations")
    assert decls[0]["name"] == "get_weather"
    mode = g(g(first, "toolConfig", "tool_config"), "functionCallingConfig", "function_calling_config")["mode"]
    assert mode == "ANY"
    # The second turn: user text, the model's functionCall, then the functionResponse.
    contents = second["contents"]
    assert [c["role"] for c in contents[:2]] == ["user", "model"]
    fc = g(contents[1]["parts"][0], "functionCall", "function_call")
    assert fc["name"] == "get_weather" and fc["args"] == {"location": "Paris"}
    responses = [g(p, "functionResponse", "function_response") for c in contents[2:] for p in c["parts"]
                 if "functionResponse" in p or "function_response" in p]
    assert len(responses) == 1, contents
    assert responses[0]["name"] == "get_weather"
    assert "sunny" in json.dumps(responses[0]["response"])


def test_google_streamed_tool_call(google):
    stream_tool_call(google.gw.client(), ALIAS)
    assert google.last()["path"] == f"{google.model_path}:streamGenerateContent"


def test_google_image_input_is_inline_data(google):
    resp = google.gw.client().chat.completions.create(model=ALIAS, messages=image_messages())
    assert resp.choices[0].message.content == REPLY
    parts = google.last()["body"]["contents"][0]["parts"]
    inline = [g(p, "inlineData", "inline_data") for p in parts if "inlineData" in p or "inline_data" in p]
    assert len(inline) == 1, parts
    assert g(inline[0], "mimeType", "mime_type") == "image/png"
    assert inline[0]["data"] == PNG_B64
    assert {"text": "What is in this image?"} in parts


def test_google_429_is_rate_limit_error(google):
    assert_rate_limited(google.gw.client(), ALIAS)


def test_google_400_is_bad_request(google):
    assert_bad_request(google.gw.client(), ALIAS)


def test_gemini_embeddings_via_batch_embed_contents(mock, start_gateway):
    dep = deployment("gem-embed", "gemini/text-embedding-004", api_base=f"{mock.base}/v1beta", api_key=GEMINI_KEY)
    gw = start_gateway(config(dep))
    mock.clear()
    resp = gw.client().embeddings.create(model="gem-embed", input=["hello world", "bonjour"])
    assert resp.object == "list"
    assert resp.model == "gem-embed"
    assert [d.index for d in resp.data] == [0, 1]
    assert all(d.object == "embedding" and len(d.embedding) == 8 for d in resp.data)
    assert resp.data[0].embedding != resp.data[1].embedding
    assert resp.usage.prompt_tokens > 0
    rec = mock.last()
    assert rec["path"] == "/v1beta/models/text-embedding-004:batchEmbedContents"
    assert rec["headers"]["x-goog-api-key"] == GEMINI_KEY
    assert_no_master_key(rec)
    reqs = rec["body"]["requests"]
    assert [r["content"]["parts"] for r in reqs] == [[{"text": "hello world"}], [{"text": "bonjour"}]]
    assert all(r["model"] == "models/text-embedding-004" for r in reqs)


def test_vertex_fetches_a_token_and_sends_it(mock, start_gateway, tmp_path):
    before = tokens_issued(mock)
    mock.clear()
    gw = start_gateway(config(deployment(ALIAS, "vertex_ai/gemini-2.0-flash", **vertex_params(mock, tmp_path))))
    wait_for_token(mock, before)
    assert tokens_issued(mock) >= 1
    token_calls = [r for r in mock.requests() if r["path"] == "/token"]
    assert token_calls, "the token exchange went to the key file's token_uri"
    assert token_calls[0]["body"]["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    assert token_calls[0]["body"]["assertion"].count(".") == 2
    resp = gw.client().chat.completions.create(model=ALIAS, messages=user("hi"))
    assert resp.choices[0].message.content == REPLY
    rec = last_request(mock, "gemini-2.0-flash:generateContent")
    assert TOKEN.match(rec["headers"]["authorization"])
    issued = int(rec["headers"]["authorization"].rsplit("-", 1)[1])
    assert before < issued <= tokens_issued(mock), "a token this gateway fetched"


def test_vertex_claude_chat_via_raw_predict(mock, start_gateway, tmp_path):
    before = tokens_issued(mock)
    gw = start_gateway(config(deployment("vclaude", "vertex_ai/claude-3-5-sonnet", **vertex_params(mock, tmp_path))))
    wait_for_token(mock, before)
    mock.clear()
    client = gw.client()
    resp = client.chat.completions.create(model="vclaude", messages=user("Hello Claude"))
    assert_text_completion(resp, "vclaude")
    rec = last_request(mock, "claude-3-5-sonnet:")
    assert rec["path"] == "/v1/projects/p/locations/us-central1/publishers/anthropic/models/claude-3-5-sonnet:rawPredict"
    assert TOKEN.match(rec["headers"]["authorization"])
    assert_no_master_key(rec)
    body = rec["body"]
    assert body["anthropic_version"].startswith("vertex-")
    assert "model" not in body, "Vertex names the model in the path"
    assert body["messages"][0]["role"] == "user"
    assert body["max_tokens"] > 0
    # And streamed, through streamRawPredict.
    assert_stream_text(client, "vclaude")
    assert last_request(mock, "claude-3-5-sonnet:")["path"].endswith("claude-3-5-sonnet:streamRawPredict")
