//! Stream decoding tests: the same OpenAI output whatever the upstream reads look like. The
//! binary streams are built from the JSON fixtures with `encode_message`, whose framing is
//! checked against an independent implementation in eventstream/tests.rs.

use super::super::eventstream::{encode_message, HeaderValue};
use super::*;
use crate::canonical::chunks::test_support::{self as chunking, translate, Decoded};
use serde_json::json;

const TEXT: &str = include_str!("../../../../tests/fixtures/bedrock/converse_stream_text.json");
const TOOL: &str = include_str!("../../../../tests/fixtures/bedrock/converse_stream_tool_use.json");
const REASONING: &str =
    include_str!("../../../../tests/fixtures/bedrock/converse_stream_reasoning.json");
const EXCEPTION: &str =
    include_str!("../../../../tests/fixtures/bedrock/converse_stream_exception.json");

/// A fixture's frames as the bytes Bedrock sends.
fn binary(fixture: &str) -> Vec<u8> {
    let frames: Vec<Value> = serde_json::from_str(fixture).unwrap();
    let mut out = Vec::new();
    for frame in frames {
        let headers: Vec<(String, HeaderValue)> = frame["headers"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), HeaderValue::String(v.as_str().unwrap().into())))
            .collect();
        let headers: Vec<(&str, HeaderValue)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        let payload = serde_json::to_vec(&frame["payload"]).unwrap();
        out.extend(encode_message(&headers, &payload));
    }
    out
}

fn run(chunks: &[&[u8]], include_usage: bool) -> (String, StreamDecoder) {
    let mut decoder = StreamDecoder::new("my-claude", include_usage, 1_700_000_000);
    (translate(&mut decoder, chunks), decoder)
}

/// The shared decoding, after checking every chunk's envelope; the id (fresh per stream) is
/// left out so that runs compare.
fn decode(output: &str) -> Decoded {
    let id = output
        .split("\"id\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .map(str::to_string);
    let mut d = chunking::decode(output);
    for v in &mut d.chunks {
        assert_eq!(v["object"], "chat.completion.chunk");
        assert_eq!(v["model"], "my-claude");
        assert_eq!(v["created"], 1_700_000_000);
        // One id for the whole stream.
        assert_eq!(v["id"].as_str().map(str::to_string), id);
        v.as_object_mut().unwrap().remove("id");
    }
    d
}

/// Whole, byte by byte, 7-byte pieces: the same client-visible output every time.
fn same_output_for_every_chunking(fixture: &str, include_usage: bool) -> Decoded {
    let run = |reads: &[&[u8]]| run(reads, include_usage).0;
    decode(&chunking::same_output_for_every_chunking(
        &binary(fixture),
        run,
        decode,
    ))
}

#[test]
fn text_stream_becomes_openai_chunks() {
    let d = same_output_for_every_chunking(TEXT, false);
    assert_eq!(
        d.chunks[0]["choices"][0]["delta"],
        json!({"role": "assistant", "content": ""})
    );
    assert_eq!(d.content, "Hello! How can I help you today?");
    assert_eq!(d.finish_reasons, vec!["stop"]);
    assert_eq!(d.usage, None);
    assert_eq!(d.dones, 1);
    assert!(d.errors.is_empty());
}

#[test]
fn usage_chunk_comes_last_when_asked_for() {
    let d = same_output_for_every_chunking(TEXT, true);
    let usage = d.usage.unwrap();
    assert_eq!(usage["prompt_tokens"], 14);
    assert_eq!(usage["completion_tokens"], 12);
    assert_eq!(usage["total_tokens"], 26);
    assert!(d.chunks.last().unwrap().get("usage").is_some());
    let (_, decoder) = run(&[&binary(TEXT)], false);
    assert_eq!(decoder.usage(), Some((14, 12)));
}

#[test]
fn tool_calls_stream_with_index_id_name_then_arguments() {
    let d = same_output_for_every_chunking(TOOL, true);
    assert_eq!(d.content, "Let me look both up.");
    assert_eq!(
        d.tool_calls,
        vec![
            (
                "tooluse_0dnUMSVPQWC2bcx4AZVLOw".to_string(),
                "get_weather".to_string(),
                r#"{"city": "Seattle"}"#.to_string()
            ),
            (
                "tooluse_RmoN3rdzTX2dbdVQ0xTvTw".to_string(),
                "get_time".to_string(),
                r#"{"zone": "America/Los_Angeles"}"#.to_string()
            ),
        ]
    );
    assert_eq!(d.finish_reasons, vec!["tool_calls"]);
    let usage = d.usage.unwrap();
    assert_eq!(usage["prompt_tokens"], 512 + 1024);
    assert_eq!(usage["prompt_tokens_details"]["cached_tokens"], 1024);
    // The first chunk of each call names it; later ones carry only argument text.
    let first = d
        .chunks
        .iter()
        .find(|c| c["choices"][0]["delta"].get("tool_calls").is_some())
        .unwrap();
    assert_eq!(
        first["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"],
        ""
    );
}

#[test]
fn reasoning_streams_as_reasoning_content() {
    let d = same_output_for_every_chunking(REASONING, false);
    assert_eq!(d.reasoning, "The user wants 2+2. That is 4.");
    assert_eq!(d.content, "2 + 2 = 4");
    assert_eq!(d.finish_reasons, vec!["stop"]);
}

#[test]
fn an_exception_becomes_an_error_event_then_done() {
    let d = same_output_for_every_chunking(EXCEPTION, true);
    assert_eq!(d.content, "Once upon");
    assert_eq!(d.errors.len(), 1);
    let error = &d.errors[0];
    assert_eq!(
        error["message"],
        "Too many tokens, please wait before trying again."
    );
    assert_eq!(error["type"], "rate_limit_error");
    assert_eq!(error["code"], "429");
    assert_eq!(d.dones, 1);
    assert!(d.finish_reasons.is_empty());
}

#[test]
fn json_mode_tool_streams_as_content() {
    let frames = json!([
        {"headers": {":event-type": "contentBlockStart", ":message-type": "event"},
         "payload": {"contentBlockIndex": 0, "start": {"toolUse": {"name": "json_tool_call", "toolUseId": "t"}}}},
        {"headers": {":event-type": "contentBlockDelta", ":message-type": "event"},
         "payload": {"contentBlockIndex": 0, "delta": {"toolUse": {"input": "{\"a\":"}}}},
        {"headers": {":event-type": "contentBlockDelta", ":message-type": "event"},
         "payload": {"contentBlockIndex": 0, "delta": {"toolUse": {"input": "1}"}}}},
        {"headers": {":event-type": "messageStop", ":message-type": "event"},
         "payload": {"stopReason": "tool_use"}}
    ]);
    let d = same_output_for_every_chunking(&frames.to_string(), false);
    assert_eq!(d.content, r#"{"a":1}"#);
    assert!(d.tool_calls.is_empty());
    assert_eq!(d.finish_reasons, vec!["stop"]);
}

#[test]
fn a_bad_crc_is_a_failure_and_nothing_more_is_written() {
    let mut bytes = binary(TEXT);
    let at = bytes.len() / 2;
    bytes[at] ^= 0xff;
    let (out, mut decoder) = run(&[&bytes], true);
    let d = decode(&out);
    assert!(d.errors.is_empty());
    assert_eq!(d.dones, 0);
    let failure = decoder.failure().unwrap();
    assert_eq!(failure.status, 502);
    assert!(failure.message.contains("CRC"), "{}", failure.message);
}

#[test]
fn a_frame_over_the_size_bound_is_a_failure_before_it_is_buffered() {
    use super::super::eventstream::MAX_MESSAGE_LEN;
    let mut decoder = StreamDecoder::new("a", false, 0);
    let mut out = BytesMut::new();
    let mut prelude = ((MAX_MESSAGE_LEN + 1) as u32).to_be_bytes().to_vec();
    prelude.extend_from_slice(&0u32.to_be_bytes());
    let crc = crc32fast::hash(&prelude);
    prelude.extend_from_slice(&crc.to_be_bytes());
    decoder.feed(&prelude, &mut out);
    assert!(decoder.failure().unwrap().message.contains("out of bounds"));
    decoder.feed(&vec![0; 1024 * 1024], &mut out);
    assert_eq!(decoder.events.buffered(), 0);
    decoder.finish(&mut out);
    assert!(out.is_empty());
}

#[test]
fn a_cut_off_stream_still_ends_once() {
    let bytes = binary(TEXT);
    let (out, _) = run(&[&bytes[..bytes.len() - 5]], false);
    let d = decode(&out);
    assert_eq!(d.errors.len(), 1);
    assert_eq!(d.dones, 1);
    let (out, _) = run(&[], true);
    assert_eq!(out, "data: [DONE]\n\n");
}

#[test]
fn nothing_after_done_and_no_panic_on_odd_payloads() {
    let mut decoder = StreamDecoder::new("a", true, 0);
    let mut out = BytesMut::new();
    let event = |t: &str, payload: &[u8]| {
        encode_message(
            &[
                (":message-type", HeaderValue::String("event".into())),
                (":event-type", HeaderValue::String(t.into())),
            ],
            payload,
        )
    };
    for (t, payload) in [
        ("contentBlockDelta", &b"not json"[..]),
        ("contentBlockDelta", br#"{"delta": 5}"#),
        (
            "contentBlockDelta",
            br#"{"delta": {"toolUse": {"input": 3}}}"#,
        ),
        ("contentBlockStart", br#"{"start": {"toolUse": 1}}"#),
        ("messageStop", br#"[]"#),
        ("metadata", br#"{"usage": "x"}"#),
        ("somethingNew", br#"{}"#),
    ] {
        decoder.feed(&event(t, payload), &mut out);
    }
    decoder.finish(&mut out);
    decoder.feed(
        &event("contentBlockDelta", br#"{"delta":{"text":"late"}}"#),
        &mut out,
    );
    decoder.finish(&mut out);
    let text = String::from_utf8(out.to_vec()).unwrap();
    assert_eq!(text.matches("[DONE]").count(), 1);
    assert!(!text.contains("late"));
}
