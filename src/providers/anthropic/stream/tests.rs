//! Stream decoding tests: the same OpenAI output whatever the upstream reads look like.

use super::*;
use crate::canonical::chunks::test_support::{self as chunking, decode, translate};

const TEXT: &str = include_str!("../../../../tests/fixtures/anthropic/stream_text.sse");
const TOOL: &str = include_str!("../../../../tests/fixtures/anthropic/stream_tool_use.sse");
const THINKING: &str = include_str!("../../../../tests/fixtures/anthropic/stream_thinking.sse");
const ERROR: &str = include_str!("../../../../tests/fixtures/anthropic/stream_error.sse");

fn run(chunks: &[&[u8]], include_usage: bool) -> (String, StreamDecoder) {
    let mut decoder = StreamDecoder::new("my-claude", include_usage, 1700000000);
    (translate(&mut decoder, chunks), decoder)
}

/// The same output whatever the reads look like: whole, byte by byte, 7-byte pieces.
fn same_output_for_every_chunking(fixture: &str) -> String {
    let run = |reads: &[&[u8]]| run(reads, true).0;
    chunking::same_output_for_every_chunking(fixture.as_bytes(), run, str::to_string)
}

#[test]
fn text_stream_decodes_identically_for_every_chunking() {
    let d = decode(&same_output_for_every_chunking(TEXT));
    assert_eq!(d.content, "Hello!");
    assert_eq!(d.finish_reasons, vec!["stop"]);
    assert_eq!(d.dones, 1);
    let first = &d.chunks[0];
    assert_eq!(first["choices"][0]["delta"]["role"], "assistant");
    for chunk in &d.chunks {
        assert_eq!(chunk["id"], "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY");
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["created"], 1700000000);
        assert_eq!(chunk["model"], "my-claude");
    }
    let last = d.chunks.last().unwrap();
    assert_eq!(last["choices"], json!([]));
}

#[test]
fn usage_accumulates_from_message_start_and_message_delta() {
    let (out, decoder) = run(&[TEXT.as_bytes()], true);
    assert_eq!(
        decoder
            .usage()
            .map(|u| (u.prompt_tokens, u.completion_tokens)),
        Some((25, 15))
    );
    let usage = decode(&out).usage.unwrap();
    assert_eq!(usage["prompt_tokens"], 25);
    assert_eq!(usage["completion_tokens"], 15);
    assert_eq!(usage["total_tokens"], 40);
    assert!(out.ends_with("data: [DONE]\n\n"));
}

#[test]
fn no_usage_chunk_unless_asked() {
    let (out, decoder) = run(&[TEXT.as_bytes()], false);
    assert!(decode(&out).usage.is_none());
    assert_eq!(
        decoder
            .usage()
            .map(|u| (u.prompt_tokens, u.completion_tokens)),
        Some((25, 15))
    );
}

#[test]
fn tool_use_stream_yields_indexed_tool_call_deltas() {
    let d = decode(&same_output_for_every_chunking(TOOL));
    assert_eq!(
        d.content,
        "Okay, let's check the weather for San Francisco, CA:"
    );
    assert_eq!(
        d.tool_calls,
        vec![(
            "toolu_01T1x1fJ34qAmk2tNTrN7Up6".to_string(),
            "get_weather".to_string(),
            r#"{"location": "San Francisco, CA", "unit": "fahrenheit"}"#.to_string()
        )]
    );
    assert_eq!(d.finish_reasons, vec!["tool_calls"]);
    // The tool call's first delta carries id, type, name and empty arguments.
    let start = d
        .chunks
        .iter()
        .find_map(|c| c["choices"][0]["delta"]["tool_calls"].get(0).cloned())
        .unwrap();
    assert_eq!(
        start,
        json!({"index": 0, "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "type": "function",
               "function": {"name": "get_weather", "arguments": ""}})
    );
    assert_eq!(d.usage.unwrap()["completion_tokens"], 89);
}

#[test]
fn tool_call_indexes_count_tool_calls_not_content_blocks() {
    let stream = concat!(
        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"m\"}}\n\n",
        "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"a\",\"name\":\"f\",\"input\":{}}}\n\n",
        "data: {\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":\"tool_use\",\"id\":\"b\",\"name\":\"g\",\"input\":{}}}\n\n",
        "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{}\"}}\n\n",
        "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"x\\\":1}\"}}\n\n",
    );
    let d = decode(&run(&[stream.as_bytes()], false).0);
    assert_eq!(
        d.tool_calls,
        vec![
            ("a".into(), "f".into(), r#"{"x":1}"#.into()),
            ("b".into(), "g".into(), "{}".into())
        ]
    );
}

#[test]
fn thinking_deltas_become_reasoning_content_even_split_mid_character() {
    let bytes = THINKING.as_bytes();
    let whole = same_output_for_every_chunking(THINKING);
    // Cut inside the 4-byte emoji and inside the 2-byte `×`.
    let emoji = THINKING.find('🙂').unwrap() + 2;
    let times = THINKING.find('×').unwrap() + 1;
    let cuts: [&[u8]; 3] = [&bytes[..times], &bytes[times..emoji], &bytes[emoji..]];
    assert_eq!(run(&cuts, true).0, whole);
    let d = decode(&whole);
    assert!(d.reasoning.starts_with("I need to find the GCD"));
    assert!(d
        .reasoning
        .contains("1071 = 2 × 462 + 147\n462 = 3 × 147 + 21"));
    assert_eq!(
        d.content,
        "The greatest common divisor of 1071 and 462 is **21** — café ☕ 🙂."
    );
    assert_eq!(d.finish_reasons, vec!["stop"]);
    // No usage was reported in this stream, so there is none to pass on.
    assert!(d.usage.is_none());
}

#[test]
fn several_events_in_one_read_and_events_split_across_reads() {
    let whole = run(&[TOOL.as_bytes()], true).0;
    let bytes = TOOL.as_bytes();
    let third = bytes.len() / 3;
    let reads: [&[u8]; 3] = [
        &bytes[..third],
        &bytes[third..2 * third],
        &bytes[2 * third..],
    ];
    assert_eq!(run(&reads, true).0, whole);
}

#[test]
fn error_event_becomes_openai_error_then_done() {
    let d = decode(&same_output_for_every_chunking(ERROR));
    assert_eq!(d.content, "Hello");
    assert_eq!(d.errors.len(), 1);
    assert_eq!(d.errors[0]["message"], "Overloaded");
    assert_eq!(d.errors[0]["type"], "internal_server_error");
    assert_eq!(d.errors[0]["code"], "500");
    assert!(d.finish_reasons.is_empty());
    assert_eq!(d.dones, 1);
}

#[test]
fn done_is_written_once_even_if_the_upstream_stops_early() {
    let cut = TEXT.find("event: message_delta").unwrap();
    let (out, decoder) = run(&[&TEXT.as_bytes()[..cut]], true);
    let d = decode(&out);
    assert_eq!(d.content, "Hello!");
    assert!(d.finish_reasons.is_empty());
    assert_eq!(d.dones, 1);
    assert_eq!(
        decoder
            .usage()
            .map(|u| (u.prompt_tokens, u.completion_tokens)),
        Some((25, 1))
    );

    let mut decoder = StreamDecoder::new("a", false, 0);
    let mut out = BytesMut::new();
    decoder.feed(TEXT.as_bytes(), &mut out);
    decoder.finish(&mut out);
    decoder.finish(&mut out);
    assert_eq!(decode(std::str::from_utf8(&out).unwrap()).dones, 1);
}

#[test]
fn json_mode_tool_streams_as_content() {
    let stream = concat!(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\"}}\n\n",
        "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"json_tool_call\",\"input\":{}}}\n\n",
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"a\\\":\"}}\n\n",
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\" 1}\"}}\n\n",
        "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_tokens\":3}}\n\n",
    );
    let d = decode(&run(&[stream.as_bytes()], false).0);
    assert_eq!(d.content, r#"{"a": 1}"#);
    assert!(d.tool_calls.is_empty());
    assert_eq!(d.finish_reasons, vec!["stop"]);
}

#[test]
fn garbage_is_ignored_without_panicking() {
    let (out, _) = run(&[b"data: {not json\n\n: comment\n\ndata: [1,2]\n\ndata: {\"type\":\"content_block_delta\"}\n\n"], true);
    assert_eq!(out, "data: [DONE]\n\n");
}

#[test]
fn usage_is_the_fixtures_whether_or_not_the_client_asked() {
    let want = Usage {
        prompt_tokens: 25,
        completion_tokens: 15,
        total_tokens: 40,
        ..Usage::default()
    };
    let make = |include_usage| Box::new(StreamDecoder::new("my-claude", include_usage, 0));
    chunking::usage_either_way(TEXT.as_bytes(), make, want);
}

#[test]
fn cache_reads_and_writes_are_kept_in_the_usage() {
    let sse = concat!(
        "event: message_start\n",
        r#"data: {"type":"message_start","message":{"id":"msg_c","usage":{"input_tokens":10,"cache_read_input_tokens":20,"cache_creation_input_tokens":5,"output_tokens":1}}}"#,
        "\n\nevent: message_delta\n",
        r#"data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":7}}"#,
        "\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
    );
    let want = Usage {
        prompt_tokens: 35,
        completion_tokens: 7,
        total_tokens: 42,
        cached_prompt_tokens: 20,
        cache_creation_tokens: 5,
        reasoning_tokens: 0,
    };
    let make = |include_usage| Box::new(StreamDecoder::new("my-claude", include_usage, 0));
    chunking::usage_either_way(sse.as_bytes(), make, want);
}
