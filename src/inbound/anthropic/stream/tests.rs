//! OpenAI chunks → Anthropic events: the exact sequence, whatever the reads look like.

use super::*;
use serde_json::json;

const STREAM: &str =
    include_str!("../../../../tests/fixtures/inbound_anthropic/openai_stream_text_tool_usage.sse");
const EXPECTED: &str = include_str!(
    "../../../../tests/fixtures/inbound_anthropic/anthropic_stream_text_tool_usage.sse"
);

fn run(chunks: &[&[u8]]) -> String {
    let mut t = OpenAiToAnthropicStream::new("claude-sonnet-4-5");
    let mut out = BytesMut::new();
    for chunk in chunks {
        t.feed(chunk, &mut out);
    }
    t.finish(&mut out);
    String::from_utf8(out.to_vec()).unwrap()
}

/// `(event name, data)` per event, checking each `event:` line names its data's `type`.
fn events(output: &str) -> Vec<(String, Value)> {
    output
        .split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| {
            let (name, data) = e.split_once('\n').unwrap();
            let name = name.strip_prefix("event: ").unwrap().to_string();
            let data: Value = serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
            assert_eq!(data["type"], name.as_str());
            (name, data)
        })
        .collect()
}

fn names(output: &str) -> Vec<String> {
    events(output).into_iter().map(|(n, _)| n).collect()
}

#[test]
fn the_same_events_for_every_chunking() {
    let bytes = STREAM.as_bytes();
    let whole = run(&[bytes]);
    for size in [1, 2, 7, 64] {
        let pieces: Vec<&[u8]> = bytes.chunks(size).collect();
        assert_eq!(run(&pieces), whole, "{size}-byte reads");
    }
    // Cut inside the multi-byte `—` and `☀`.
    let dash = STREAM.find('—').unwrap() + 1;
    let sun = STREAM.find('☀').unwrap() + 2;
    assert_eq!(
        run(&[&bytes[..dash], &bytes[dash..sun], &bytes[sun..]]),
        whole
    );
}

#[test]
fn output_matches_the_recorded_anthropic_stream() {
    assert_eq!(run(&[STREAM.as_bytes()]), EXPECTED);
}

#[test]
fn events_come_in_anthropic_order() {
    let out = run(&[STREAM.as_bytes()]);
    let mut want = vec!["message_start", "content_block_start"];
    want.extend(["content_block_delta"; 4]);
    want.extend(["content_block_stop", "content_block_start"]);
    want.extend(["content_block_delta"; 10]);
    want.extend(["content_block_stop", "content_block_start"]);
    want.extend(["content_block_delta"; 2]);
    want.extend(["content_block_stop", "message_delta", "message_stop"]);
    assert_eq!(names(&out), want);
}

#[test]
fn every_field_of_the_converted_stream() {
    let events = events(&run(&[STREAM.as_bytes()]));
    assert_eq!(
        events[0].1,
        json!({"type": "message_start", "message": {
            "id": "msg_chatcmpl-BHd7e2lhJmu8o7TqfbM0W5JtDzRVz", "type": "message", "role": "assistant",
            "model": "claude-sonnet-4-5", "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 0, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 0}
        }})
    );
    assert_eq!(
        events[1].1,
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
    );
    let text: String = events
        .iter()
        .filter(|(_, d)| d["index"] == 0 && d["delta"]["type"] == "text_delta")
        .map(|(_, d)| d["delta"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(text, "Tomorrow in Paris — let me check ☀️.");
    assert_eq!(
        events[6].1,
        json!({"type": "content_block_stop", "index": 0})
    );
    assert_eq!(
        events[7].1,
        json!({"type": "content_block_start", "index": 1, "content_block":
               {"type": "tool_use", "id": "call_DdmO9pD3xa9XTPNJ32zg2hcA", "name": "get_forecast", "input": {}}})
    );
    let json_of = |index: u64| -> String {
        events
            .iter()
            .filter(|(_, d)| d["index"] == index && d["delta"]["type"] == "input_json_delta")
            .map(|(_, d)| d["delta"]["partial_json"].as_str().unwrap())
            .collect()
    };
    assert_eq!(json_of(1), r#"{"location":"Paris, France","days":1}"#);
    assert_eq!(json_of(2), r#"{"tz":"Europe/Paris"}"#);
    assert_eq!(events[19].1["content_block"]["name"], "get_time");
    let n = events.len();
    assert_eq!(
        events[n - 2].1,
        json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null},
               "usage": {"input_tokens": 56, "cache_read_input_tokens": 256, "output_tokens": 41}})
    );
    assert_eq!(events[n - 1].1, json!({"type": "message_stop"}));
}

#[test]
fn usage_is_reported_for_accounting() {
    let mut t = OpenAiToAnthropicStream::new("m");
    let mut out = BytesMut::new();
    t.feed(STREAM.as_bytes(), &mut out);
    assert_eq!(t.usage(), Some((312, 41)));
}

#[test]
fn message_delta_waits_for_usage_then_done_or_end() {
    let finish = "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":\"length\"}]}\n\n";
    let mut t = OpenAiToAnthropicStream::new("m");
    let mut out = BytesMut::new();
    t.feed(finish.as_bytes(), &mut out);
    let so_far = String::from_utf8(out.to_vec()).unwrap();
    assert_eq!(
        names(&so_far),
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_stop"
        ]
    );
    // No usage chunk came (the client did not ask for it): [DONE] ends the message.
    t.feed(b"data: [DONE]\n\n", &mut out);
    t.finish(&mut out);
    let out = String::from_utf8(out.to_vec()).unwrap();
    let ended = events(&out);
    assert_eq!(ended.len(), 6);
    assert_eq!(ended[4].1["delta"]["stop_reason"], "max_tokens");
    assert_eq!(
        ended[4].1["usage"],
        json!({"input_tokens": 0, "output_tokens": 0})
    );

    // Usage on the finish chunk itself ends the message at once.
    let with_usage = "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}\n\n";
    let out = run(&[
        with_usage.as_bytes(),
        b"data: {\"choices\":[{\"delta\":{\"content\":\"late\"}}]}\n\n",
    ]);
    assert_eq!(
        names(&out),
        ["message_start", "message_delta", "message_stop"]
    );
    assert_eq!(
        events(&out)[1].1["usage"],
        json!({"input_tokens": 3, "output_tokens": 4})
    );
}

#[test]
fn an_empty_or_cut_stream_still_ends_the_message() {
    assert_eq!(
        names(&run(&[])),
        ["message_start", "message_delta", "message_stop"]
    );
    let cut = "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hal\"}}]}";
    let events = events(&run(&[cut.as_bytes()]));
    assert_eq!(events.len(), 6, "the unterminated last event counts");
    assert_eq!(events[4].1["delta"]["stop_reason"], "end_turn");
}

#[test]
fn reasoning_becomes_a_thinking_block_before_the_text() {
    let stream = concat!(
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"reasoning_content\":\"Let me\"}}]}\n\n",
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\" think.\"}}]}\n\n",
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"42\"},\"finish_reason\":\"stop\"}]}\n\n",
    );
    let events = events(&run(&[stream.as_bytes()]));
    assert_eq!(
        events[1].1["content_block"],
        json!({"type": "thinking", "thinking": "", "signature": ""})
    );
    assert_eq!(
        events[2].1["delta"],
        json!({"type": "thinking_delta", "thinking": "Let me"})
    );
    assert_eq!(
        events[4].1,
        json!({"type": "content_block_stop", "index": 0})
    );
    assert_eq!(
        events[5].1["content_block"],
        json!({"type": "text", "text": ""})
    );
    assert_eq!(
        events[6].1["delta"],
        json!({"type": "text_delta", "text": "42"})
    );
    assert_eq!(
        events[7].1,
        json!({"type": "content_block_stop", "index": 1})
    );
    assert_eq!(events[8].1["delta"]["stop_reason"], "end_turn");
}

#[test]
fn a_tool_call_with_arguments_in_its_first_chunk_and_interleaved_fragments() {
    let stream = concat!(
        "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call a\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]}}]}\n\n",
        "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"b\",\"function\":{\"name\":\"g\",\"arguments\":\"\"}}]}}]}\n\n",
        "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"lost\"}}]}}]}\n\n",
        "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":1,\"function\":{\"arguments\":\"{}\"}}]},\"finish_reason\":\"tool_calls\"}]}\n\n",
    );
    let events = events(&run(&[stream.as_bytes()]));
    assert_eq!(
        events[1].1["content_block"],
        json!({"type": "tool_use", "id": "call_a", "name": "f", "input": {}})
    );
    assert_eq!(
        events[2].1["delta"],
        json!({"type": "input_json_delta", "partial_json": "{}"})
    );
    assert_eq!(events[3].1["type"], "content_block_stop");
    assert_eq!(events[4].1["content_block"]["name"], "g");
    assert_eq!(events[5].1["delta"]["partial_json"], "{}");
    assert!(!events
        .iter()
        .any(|(_, d)| d["delta"]["partial_json"] == "lost"));
    assert_eq!(events[7].1["delta"]["stop_reason"], "tool_use");
}

#[test]
fn an_openai_error_event_becomes_an_anthropic_error_event() {
    let stream = concat!(
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hal\"}}]}\n\n",
        "data: {\"error\":{\"message\":\"litellm.RateLimitError: slow down\",\"type\":\"rate_limit_error\",\"param\":null,\"code\":\"429\"}}\n\n",
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"late\"}}]}\n\n",
        "data: [DONE]\n\n",
    );
    let out = run(&[stream.as_bytes()]);
    let converted = events(&out);
    assert_eq!(
        names(&out),
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "error"
        ]
    );
    assert_eq!(
        converted[3].1,
        json!({"type": "error", "error": {"type": "rate_limit_error", "message": "litellm.RateLimitError: slow down"}})
    );
    for (error, want) in [
        (json!({"message": "m", "code": 529}), "overloaded_error"),
        (
            json!({"message": "m", "type": "authentication_error"}),
            "authentication_error",
        ),
        (json!({"message": "m", "code": "boom"}), "api_error"),
        (json!("plain text"), "api_error"),
    ] {
        let event = format!("data: {}\n\n", json!({"error": error}));
        let converted = events(&run(&[event.as_bytes()]));
        assert_eq!(converted.len(), 1);
        assert_eq!(converted[0].1["error"]["type"], want, "{error}");
    }
}

#[test]
fn junk_is_skipped_without_panicking() {
    let stream = concat!(
        ": keep-alive\n\n",
        "data: not json\n\n",
        "data: [1]\n\n",
        "data: {\"choices\":\"x\"}\n\n",
        "data: {\"choices\":[{\"delta\":{\"content\":5,\"tool_calls\":[null,{\"index\":\"a\"}]}}]}\n\n",
        "data: {\"choices\":[{\"delta\":{\"content\":\"ok\"},\"finish_reason\":7}],\"usage\":[]}\n\n",
    );
    let out = run(&[stream.as_bytes(), b"\xff\xfe"]);
    let names = names(&out);
    assert_eq!(names.first().map(String::as_str), Some("message_start"));
    assert_eq!(names.last().map(String::as_str), Some("message_stop"));
}

#[test]
fn works_as_a_boxed_stream_translator() {
    let mut t: Box<dyn StreamTranslator> =
        Box::new(OpenAiToAnthropicStream::new("claude-sonnet-4-5"));
    let mut out = BytesMut::new();
    t.feed(STREAM.as_bytes(), &mut out);
    t.finish(&mut out);
    assert_eq!(String::from_utf8(out.to_vec()).unwrap(), EXPECTED);
}
