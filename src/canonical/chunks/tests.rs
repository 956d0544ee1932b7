//! `ChunkWriter`: the envelope, the order of chunks and `[DONE]` exactly once.

use super::test_support::decode;
use super::*;

fn text(out: &BytesMut) -> String {
    String::from_utf8(out.to_vec()).unwrap()
}

#[test]
fn every_chunk_carries_the_envelope_and_the_role_comes_first_once() {
    let mut w = ChunkWriter::new("my-model", false, 1_700_000_000);
    let mut out = BytesMut::new();
    w.set_id("abc");
    w.text(0, "content", "Hel", &mut out);
    w.text(0, "content", "", &mut out);
    w.text(0, "reasoning_content", "hm", &mut out);
    w.close(|| None, &mut out);
    let d = decode(&text(&out));
    assert_eq!(
        d.chunks.len(),
        3,
        "role, two deltas; the empty text wrote nothing"
    );
    assert_eq!(
        d.chunks[0]["choices"][0]["delta"],
        json!({"role": "assistant", "content": ""})
    );
    assert_eq!(d.content, "Hel");
    assert_eq!(d.reasoning, "hm");
    for chunk in &d.chunks {
        assert_eq!(chunk["id"], "abc");
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["created"], 1_700_000_000);
        assert_eq!(chunk["model"], "my-model");
        assert_eq!(chunk["choices"][0]["index"], 0);
    }
    assert_eq!(d.dones, 1);
}

#[test]
fn finish_is_written_once_per_choice_and_starts_the_choice_if_needed() {
    let mut w = ChunkWriter::new("m", false, 0);
    let mut out = BytesMut::new();
    w.finish(1, "length", &mut out);
    w.finish(1, "stop", &mut out);
    w.delta(0, json!({"content": "x"}), &mut out);
    w.finish(0, "stop", &mut out);
    let d = decode(&text(&out));
    assert_eq!(d.finish_reasons, vec!["length", "stop"]);
    let indexes: Vec<u64> = d
        .chunks
        .iter()
        .map(|c| c["choices"][0]["index"].as_u64().unwrap())
        .collect();
    // Each choice gets its own role chunk before anything else of it.
    assert_eq!(indexes, vec![1, 1, 0, 0, 0]);
    assert_eq!(d.chunks[2]["choices"][0]["delta"]["role"], "assistant");
}

#[test]
fn tool_calls_start_with_id_and_name_then_stream_their_arguments() {
    let mut w = ChunkWriter::new("m", false, 0);
    let mut out = BytesMut::new();
    w.tool_call_start(0, 0, "call_a", "f", "", &mut out);
    w.tool_call_start(0, 1, "call_b", "g", "{}", &mut out);
    w.tool_call_arguments(0, 0, "{\"x\":", &mut out);
    w.tool_call_arguments(0, 0, "", &mut out);
    w.tool_call_arguments(0, 0, "1}", &mut out);
    w.close(|| None, &mut out);
    let d = decode(&text(&out));
    assert_eq!(d.chunks.len(), 5, "role, two starts, two fragments");
    assert_eq!(
        d.chunks[1]["choices"][0]["delta"],
        json!({"tool_calls": [{"index": 0, "id": "call_a", "type": "function",
                               "function": {"name": "f", "arguments": ""}}]})
    );
    assert_eq!(
        d.tool_calls,
        vec![
            ("call_a".into(), "f".into(), r#"{"x":1}"#.into()),
            ("call_b".into(), "g".into(), "{}".into())
        ]
    );
}

#[test]
fn usage_comes_last_only_when_asked_for_and_done_only_once() {
    let usage = || Some(json!({"prompt_tokens": 1, "completion_tokens": 2}));
    let mut w = ChunkWriter::new("m", true, 0);
    let mut out = BytesMut::new();
    w.text(0, "content", "a", &mut out);
    w.close(usage, &mut out);
    w.close(usage, &mut out);
    w.text(0, "content", "late", &mut out);
    w.finish(0, "stop", &mut out);
    let d = decode(&text(&out));
    assert_eq!(d.usage, usage());
    assert_eq!(d.chunks.last().unwrap()["choices"], json!([]));
    assert_eq!(d.content, "a");
    assert!(d.finish_reasons.is_empty());
    assert_eq!(d.dones, 1);
    assert!(w.is_done());

    assert_eq!(w.usage().map(|u| u.total_tokens), Some(3));

    let mut w = ChunkWriter::new("m", false, 0);
    let mut out = BytesMut::new();
    assert_eq!(w.usage(), None);
    w.close(usage, &mut out);
    assert_eq!(text(&out), "data: [DONE]\n\n");
    let kept = w.usage().unwrap();
    assert_eq!((kept.prompt_tokens, kept.completion_tokens), (1, 2));
}

#[test]
fn an_error_is_one_event_then_done_and_nothing_after() {
    let mut w = ChunkWriter::new("m", true, 0);
    let mut out = BytesMut::new();
    w.text(0, "content", "Hel", &mut out);
    w.error(
        &GatewayError::new(429, "rate_limit_error", "slow down"),
        &mut out,
    );
    w.error(&GatewayError::new(500, "api_error", "again"), &mut out);
    w.close(|| Some(json!({})), &mut out);
    let d = decode(&text(&out));
    assert_eq!(d.errors.len(), 1);
    assert_eq!(d.errors[0]["message"], "slow down");
    assert_eq!(d.errors[0]["code"], "429");
    assert!(d.usage.is_none());
    assert_eq!(d.dones, 1);
    assert!(text(&out).ends_with("data: [DONE]\n\n"));
}
