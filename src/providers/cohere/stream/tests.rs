//! Stream decoding tests: the same OpenAI output whatever the upstream reads look like.

use super::*;
use crate::canonical::chunks::test_support::{self as chunking, decode, translate};
use serde_json::json;

const TEXT: &str = include_str!("../../../../tests/fixtures/cohere/stream_text.sse");
const TOOL: &str = include_str!("../../../../tests/fixtures/cohere/stream_tool_call.sse");
const ERROR: &str = include_str!("../../../../tests/fixtures/cohere/stream_error.sse");

fn run(chunks: &[&[u8]], include_usage: bool) -> (String, StreamDecoder) {
    let mut decoder = StreamDecoder::new("my-command", include_usage, 1700000000);
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
    assert_eq!(d.content, "It is currently 24°C in Madrid.");
    assert_eq!(d.finish_reasons, vec!["stop"]);
    assert_eq!(d.dones, 1);
    assert!(d.errors.is_empty());
    let first = &d.chunks[0];
    assert_eq!(
        first["choices"][0]["delta"],
        json!({"role": "assistant", "content": ""})
    );
    for chunk in &d.chunks {
        assert_eq!(chunk["id"], "e8f9afc1-0888-46f0-a9ed-eb0e5a51e17f");
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["created"], 1700000000);
        assert_eq!(chunk["model"], "my-command");
    }
    assert_eq!(d.chunks.last().unwrap()["choices"], json!([]));
}

#[test]
fn a_multibyte_character_split_across_reads_survives() {
    let bytes = TEXT.as_bytes();
    let degree = TEXT.find('°').unwrap() + 1;
    let whole = run(&[bytes], true).0;
    assert_eq!(run(&[&bytes[..degree], &bytes[degree..]], true).0, whole);
    assert!(decode(&whole).content.contains("24°C"));
}

#[test]
fn usage_comes_from_message_end_tokens() {
    let (out, decoder) = run(&[TEXT.as_bytes()], true);
    assert_eq!(
        decoder
            .usage()
            .map(|u| (u.prompt_tokens, u.completion_tokens)),
        Some((1061, 59))
    );
    let usage = decode(&out).usage.unwrap();
    assert_eq!(
        usage,
        json!({"prompt_tokens": 1061, "completion_tokens": 59, "total_tokens": 1120})
    );
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
        Some((1061, 59))
    );
}

#[test]
fn tool_call_stream_yields_indexed_tool_call_deltas() {
    let d = decode(&same_output_for_every_chunking(TOOL));
    assert_eq!(d.content, "", "the tool plan is not content");
    assert_eq!(
        d.tool_calls,
        vec![
            (
                "get_weather_p1t92w7gfgq7".to_string(),
                "get_weather".to_string(),
                "{\n    \"location\": \"Madrid\"\n}".to_string()
            ),
            (
                "get_weather_ay6nmvjgp9vn".to_string(),
                "get_weather".to_string(),
                "{\n    \"location\": \"Brasília\"\n}".to_string()
            ),
        ]
    );
    assert_eq!(d.finish_reasons, vec!["tool_calls"]);
    let starts: Vec<Value> = d
        .chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"].get(0).cloned())
        .filter(|call| call.get("id").is_some())
        .collect();
    assert_eq!(
        starts[0],
        json!({"index": 0, "id": "get_weather_p1t92w7gfgq7", "type": "function",
               "function": {"name": "get_weather", "arguments": ""}})
    );
    assert_eq!(starts[1]["index"], 1);
    assert_eq!(d.usage.unwrap()["completion_tokens"], 83);
}

#[test]
fn tool_indexes_follow_arrival_not_cohere_numbers() {
    let stream = concat!(
        "data: {\"type\":\"tool-call-start\",\"index\":5,\"delta\":{\"message\":{\"tool_calls\":{\"id\":\"a\",\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"x\\\":\"}}}}}\n\n",
        "data: {\"type\":\"tool-call-delta\",\"index\":5,\"delta\":{\"message\":{\"tool_calls\":{\"function\":{\"arguments\":\"1}\"}}}}}\n\n",
        "data: {\"type\":\"tool-call-delta\",\"index\":9,\"delta\":{\"message\":{\"tool_calls\":[{\"function\":{\"arguments\":\"{}\"}}]}}}\n\n",
        "data: {\"type\":\"message-end\",\"delta\":{\"finish_reason\":\"COMPLETE\"}}\n\n",
    );
    let d = decode(&run(&[stream.as_bytes()], true).0);
    assert_eq!(
        d.tool_calls,
        vec![
            ("a".into(), "f".into(), r#"{"x":1}"#.into()),
            (String::new(), String::new(), "{}".into())
        ]
    );
    // Calls were made, so a COMPLETE still tells the client to run them.
    assert_eq!(d.finish_reasons, vec!["tool_calls"]);
    assert!(d.usage.is_none(), "no usage reported, none invented");
}

#[test]
fn thinking_deltas_become_reasoning_content() {
    let stream = concat!(
        "event: content-start\ndata: {\"type\":\"content-start\",\"index\":0,\"delta\":{\"message\":{\"content\":{\"type\":\"thinking\",\"thinking\":\"\"}}}}\n\n",
        "event: content-delta\ndata: {\"type\":\"content-delta\",\"index\":0,\"delta\":{\"message\":{\"content\":{\"thinking\":\"Let me think.\"}}}}\n\n",
        "event: content-delta\ndata: {\"type\":\"content-delta\",\"index\":1,\"delta\":{\"message\":{\"content\":{\"text\":\"Done.\"}}}}\n\n",
        "event: message-end\ndata: {\"type\":\"message-end\",\"delta\":{\"finish_reason\":\"MAX_TOKENS\"}}\n\n",
    );
    let d = decode(&run(&[stream.as_bytes()], false).0);
    assert_eq!(d.reasoning, "Let me think.");
    assert_eq!(d.content, "Done.");
    assert_eq!(d.finish_reasons, vec!["length"]);
}

#[test]
fn an_error_at_message_end_becomes_an_openai_error_event() {
    let d = decode(&same_output_for_every_chunking(ERROR));
    assert_eq!(d.content, "Partial");
    assert_eq!(d.errors.len(), 1);
    assert_eq!(
        d.errors[0]["message"],
        "internal server error, please try again"
    );
    assert_eq!(d.errors[0]["code"], "500");
    assert!(d.finish_reasons.is_empty());
    assert_eq!(d.dones, 1);
}

#[test]
fn done_is_written_once_with_or_without_message_end_or_upstream_done() {
    let with_done = format!("{TEXT}data: [DONE]\n\n");
    let d = decode(&run(&[with_done.as_bytes()], true).0);
    assert_eq!(d.dones, 1);
    assert_eq!(d.finish_reasons, vec!["stop"]);

    // Cut off before message-end: the answer so far, then [DONE].
    let cut = &TEXT[..TEXT.find("event: message-end").unwrap()];
    let d = decode(&run(&[cut.as_bytes()], true).0);
    assert_eq!(d.content, "It is currently 24°C in Madrid.");
    assert!(d.finish_reasons.is_empty());
    assert_eq!(d.dones, 1);

    // A final event without its blank line still counts.
    let unterminated = TEXT.trim_end();
    let d = decode(&run(&[unterminated.as_bytes()], true).0);
    assert_eq!(d.finish_reasons, vec!["stop"]);
}

#[test]
fn malformed_events_are_skipped_without_panicking() {
    let stream = concat!(
        ": keep-alive\n\n",
        "data: not json\n\n",
        "data: [1,2]\n\n",
        "data: {\"type\":\"content-delta\",\"delta\":\"x\"}\n\n",
        "data: {\"type\":\"content-delta\",\"delta\":{\"message\":{\"content\":{\"text\":5}}}}\n\n",
        "data: {\"type\":\"tool-call-start\",\"index\":\"zero\"}\n\n",
        "data: {\"type\":\"message-end\",\"delta\":{\"finish_reason\":7,\"usage\":\"lots\",\"error\":\"\"}}\n\n",
        "data: {\"type\":\"content-delta\",\"delta\":{\"message\":{\"content\":{\"text\":\"late\"}}}}\n\n",
    );
    let d = decode(&run(&[stream.as_bytes()], true).0);
    assert!(!d.content.contains("late"), "nothing after the end");
    assert_eq!(d.finish_reasons, vec!["tool_calls"]);
    assert_eq!(d.dones, 1);
    let d = decode(&run(&[b"\xff\xfe garbage", b""], true).0);
    assert_eq!(d.dones, 1);
}

#[test]
fn works_as_a_boxed_stream_translator() {
    let mut t: Box<dyn StreamTranslator> = Box::new(StreamDecoder::new("m", false, 0));
    let mut out = BytesMut::new();
    t.feed(TEXT.as_bytes(), &mut out);
    t.finish(&mut out);
    let d = decode(std::str::from_utf8(&out).unwrap());
    assert_eq!(d.content, "It is currently 24°C in Madrid.");
    assert_eq!(d.dones, 1);
}

#[test]
fn usage_is_the_fixtures_whether_or_not_the_client_asked() {
    // `tokens`, not `billed_units`: what the model read and wrote.
    let want = Usage {
        prompt_tokens: 1061,
        completion_tokens: 59,
        total_tokens: 1120,
        ..Usage::default()
    };
    let make = |include_usage| Box::new(StreamDecoder::new("my-command", include_usage, 0));
    chunking::usage_either_way(TEXT.as_bytes(), make, want);
}
