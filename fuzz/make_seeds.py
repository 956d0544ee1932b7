#!/usr/bin/env python3
"""Writes fuzz/seeds/<target>/ from tests/fixtures/: each seed in its target's input format
(a selector byte and/or a read-cutting byte first, see fuzz_targets/*.rs). Run from anywhere."""
import json, os, pathlib, struct, zlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIX = ROOT / "tests" / "fixtures"
SEEDS = ROOT / "fuzz" / "seeds"


def fixture(path):
    return (FIX / path).read_bytes()


def frames(path):
    """A Bedrock JSON fixture as the binary event stream Bedrock sends."""
    out = b""
    for frame in json.loads(fixture(path)):
        headers = b""
        for name, value in frame["headers"].items():
            n, v = name.encode(), value.encode()
            headers += bytes([len(n)]) + n + b"\x07" + struct.pack(">H", len(v)) + v
        payload = json.dumps(frame["payload"]).encode()
        total = 16 + len(headers) + len(payload)
        prelude = struct.pack(">II", total, len(headers))
        message = prelude + struct.pack(">I", zlib.crc32(prelude)) + headers + payload
        out += message + struct.pack(">I", zlib.crc32(message))
    return out


OPENAI_SSE = fixture("inbound_anthropic/openai_stream_text_tool_usage.sse")
COMPLETIONS_SSE = (
    b'data: {"id":"cmpl-1","object":"text_completion","created":1,"choices":[{"text":"Hel","index":0,"finish_reason":null}]}\n\n'
    b'data: {"id":"cmpl-1","object":"text_completion","created":1,"choices":[{"text":"lo","index":0,"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}\n\n'
    b"data: [DONE]\n\n"
)
CHAT_COMPLETION = (
    b'{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,'
    b'"message":{"role":"assistant","content":"Hi","tool_calls":[{"id":"t","type":"function",'
    b'"function":{"name":"f","arguments":"{}"}}]},"finish_reason":"tool_calls"}],'
    b'"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}'
)
REQUESTS = [
    b'{"model":"gpt-4o","messages":[{"role":"user","content":"hi \\"there\\" \\u00e9"}],"stream":true,"stream_options":{"include_usage":true}}',
    b'{"messages":[],"model":"a","fallbacks":["b"],"num_retries":2,"temperature":0.5}',
    b'{"model":"text-embedding-3-small","input":["a","b"],"encoding_format":"float"}',
    b'{"model":"gpt-3.5-turbo-instruct","prompt":"Say hi","max_tokens":5}',
    b' { "model" : "m" , "messages" : [ { "content" : [ { "type" : "text" , "text" : "x" } ] } ] } ',
]
CONFIG = b"""model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
      api_key: os.environ/OPENAI_API_KEY
      rpm: 100
      timeout: 30
  - model_name: claude
    litellm_params:
      model: anthropic/claude-sonnet-4-5
      api_key: sk-ant-x
    model_info:
      id: claude-1
  - model_name: gemini
    litellm_params:
      model: gemini/gemini-2.0-flash
      api_key: k
  - model_name: bedrock
    litellm_params:
      model: bedrock/anthropic.claude-3-haiku
      aws_region_name: us-east-1
      aws_access_key_id: AKIA
      aws_secret_access_key: s
  - model_name: "openai/*"
    litellm_params:
      model: "openai/*"
router_settings:
  routing_strategy: simple-shuffle
  num_retries: 2
  fallbacks: [{"gpt-4o": ["claude"]}]
litellm_settings:
  drop_params: true
  request_timeout: 600
general_settings:
  master_key: sk-1234
  max_request_size_mb: 100
"""

STREAM_SELECTORS = {  # stream_translators: selector byte -> the upstream bytes it expects
    0: OPENAI_SSE,
    1: fixture("anthropic/stream_tool_use.sse"),
    0x81: fixture("anthropic/stream_thinking.sse"),
    2: fixture("gemini/stream_function_call.sse"),
    0x82: fixture("gemini/stream_text.sse"),
    3: fixture("cohere/stream_tool_call.sse"),
    0x83: fixture("cohere/stream_error.sse"),
    4: frames("bedrock/converse_stream_tool_use.json"),
    0x85: frames("bedrock/converse_stream_exception.json"),
    6: COMPLETIONS_SSE,
    7: OPENAI_SSE,
    8: OPENAI_SSE,
    9: fixture("gemini/stream_text.sse"),
    10: frames("bedrock/converse_stream_reasoning.json"),
    11: CHAT_COMPLETION,
}


def write(target, name, data):
    d = SEEDS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


def main():
    for cut in (0, 1, 9):
        write("sse_splitter", f"openai_cut{cut}", bytes([cut]) + OPENAI_SSE)
        write("sse_splitter", f"anthropic_cut{cut}", bytes([cut]) + fixture("anthropic/stream_text.sse"))
    write("sse_splitter", "crlf_cut2", b"\x02" + OPENAI_SSE.replace(b"\n", b"\r\n"))
    write("sse_splitter", "cr_cut3", b"\x03" + OPENAI_SSE.replace(b"\n", b"\r"))
    for i, body in enumerate(REQUESTS):
        write("json_scan", f"request{i}", bytes([i * 0x41 & 0xff]) + body)
    write("json_scan", "anthropic_request", b"\x00" + fixture("inbound_anthropic/request_sdk.json"))
    for name in ("text", "tool_use", "exception"):
        bytes_ = frames(f"bedrock/converse_stream_{name}.json")
        write("bedrock_eventstream", f"{name}_cut0", b"\x00\x00" + bytes_)
        write("bedrock_eventstream", f"{name}_cut5_fixcrc", b"\x01\x05" + bytes_)
    for selector, upstream in STREAM_SELECTORS.items():
        for cut in (0, 7):
            write("stream_translators", f"sel{selector:02x}_cut{cut}", bytes([selector, cut]) + upstream)
    # whole_responses: deployment index (see fuzz_targets/whole_responses.rs) -> answers.
    answers = {
        0: [CHAT_COMPLETION], 1: [CHAT_COMPLETION],
        2: [COMPLETIONS_SSE.split(b"\n\n")[1][6:]],
        3: [fixture("anthropic/message_tool_use.json"), fixture("anthropic/error_overloaded.json")],
        4: [fixture("gemini/generate_function_call.json"), fixture("gemini/generate_safety_blocked.json")],
        5: [fixture("gemini/batch_embed_contents.json")],
        6: [fixture("gemini/generate_text.json"), fixture("gemini/error_resource_exhausted.json")],
        7: [fixture("anthropic/message_text.json")],
        8: [fixture("gemini/vertex_predict_embeddings.json")],
        9: [fixture("bedrock/converse_tool_use.json"), fixture("bedrock/error_validation.json")],
        10: [fixture("bedrock/titan_embedding.json")],
        11: [fixture("bedrock/cohere_embedding.json")],
        12: [fixture("bedrock/tgi_response.json"), fixture("bedrock/sagemaker_model_error.json")],
        13: [CHAT_COMPLETION],
        14: [fixture("cohere/chat_tool_call.json"), fixture("cohere/error_too_many_tokens.json")],
        15: [fixture("cohere/embed_float.json")],
    }
    for selector, bodies in answers.items():
        for i, answer in enumerate(bodies):
            write("whole_responses", f"dep{selector:02}_{i}", bytes([selector, 29 * i]) + answer)
    write("config_loader", "example", (ROOT / "conf" / "tollgate.yaml").read_bytes())
    write("config_loader", "providers", CONFIG)


if __name__ == "__main__":
    main()
