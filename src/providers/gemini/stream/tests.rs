//! Stream decoding tests: the same OpenAI output whatever the upstream reads look like.

use super::*;
use crate::canonical::chunks::test_support::{self as chunking, decode, translate};

const TEXT: &str = include_str!("../../../../tests/fixtures/gemini/stream_text.sse");
const CALLS: &str = include_str!("../../../../tests/fixtures/gemini/stream_function_call.sse");

fn run(chunks: &[&[u8]], include_usage: bool) -> (String, StreamDecoder) {
    let mut decoder = StreamDecoder::new("my-gemini", include_usage, 1700000000);
    (translate(&mut decoder, chunks), decoder)
}

/// The output with tool-call ids (fresh per call, so different on every run) blanked out.
fn without_call_ids(output: &str) -> String {
    let mut out = String::new();
    for event in output.split("\n\n").filter(|e| !e.is_empty()) {
        let data = event.strip_prefix("data: ").unwrap();
        let mut v: Value = serde_json::from_str(data).unwrap_or(json!(data));
        if let Some(calls) = v
            .pointer_mut("/choices/0/delta/tool_calls")
            .and_then(Value::as_array_mut)
        {
            for call in calls {
                call["id"] = json!("call_X");
            }
        }
        out += &format!("data: {v}\n\n");
    }
    out
}

/// The same output whatever the reads look like: whole, byte by byte, 7-byte pieces.
fn same_output_for_every_chunking(fixture: &str) -> String {
    let run = |reads: &[&[u8]]| run(reads, true).0;
    chunking::same_output_for_every_chunking(fixture.as_bytes(), run, without_call_ids)
}

#[test]
fn text_stream_decodes_identically_for_every_chunking() {
    let d = decode(&same_output_for_every_chunking(TEXT));
    assert_eq!(
        d.content,
        "Café culture began in Vienna ☕ and spread to Paris, Tokyo (東京) and beyond 🙂."
    );
    assert_eq!(d.finish_reasons, vec!["stop"]);
    assert_eq!(d.dones, 1);
    assert_eq!(
        d.chunks[0]["choices"][0]["delta"],
        json!({"role": "assistant", "content": ""})
    );
    for chunk in &d.chunks {
        assert_eq!(chunk["id"], "5X9yaPGwN4OmnvgP9Ne0mQk");
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["created"], 1700000000);
        assert_eq!(chunk["model"], "my-gemini");
    }
    // role, three text deltas, finish, usage.
    assert_eq!(d.chunks.len(), 6);
    assert_eq!(d.chunks.last().unwrap()["choices"], json!([]));
}

#[test]
fn multibyte_characters_split_across_reads_survive() {
    let bytes = TEXT.as_bytes();
    let whole = run(&[bytes], true).0;
    for ch in ['é', '☕', '東', '🙂'] {
        let cut = TEXT.find(ch).unwrap() + 1;
        assert_eq!(run(&[&bytes[..cut], &bytes[cut..]], true).0, whole, "{ch}");
    }
}

#[test]
fn usage_is_the_last_usage_metadata() {
    let (out, decoder) = run(&[TEXT.as_bytes()], true);
    // 9 + 24 != 61: thinking tokens are added to the completion.
    assert_eq!(
        decoder
            .usage()
            .map(|u| (u.prompt_tokens, u.completion_tokens)),
        Some((9, 24 + 28))
    );
    assert_eq!(
        decode(&out).usage.unwrap(),
        json!({"prompt_tokens": 9, "completion_tokens": 52, "total_tokens": 61,
               "prompt_tokens_details": {"cached_tokens": 0},
               "completion_tokens_details": {"reasoning_tokens": 28}})
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
        Some((9, 52))
    );
}

#[test]
fn function_calls_stream_as_complete_indexed_tool_calls() {
    let d = decode(&same_output_for_every_chunking(CALLS));
    assert_eq!(d.reasoning, "Let me check both cities.");
    assert_eq!(d.content, "");
    assert_eq!(d.tool_calls.len(), 2);
    let (id, name, args) = &d.tool_calls[0];
    assert!(id.starts_with("call_") && id.ends_with("__thought__CiIBVKhc7zQxYmVkNDQ2NzI0MmE0"));
    assert_eq!(name, "get_weather");
    assert_eq!(
        serde_json::from_str::<Value>(args).unwrap(),
        json!({"location": "Paris", "unit": "celsius"})
    );
    let (id, _, args) = &d.tool_calls[1];
    assert!(id.starts_with("call_") && !id.contains("__thought__"));
    assert_eq!(
        serde_json::from_str::<Value>(args).unwrap(),
        json!({"location": "Zürich"})
    );
    assert_ne!(d.tool_calls[0].0, d.tool_calls[1].0);
    assert_eq!(d.finish_reasons, vec!["tool_calls"]);
    let first_call = d
        .chunks
        .iter()
        .find_map(|c| c["choices"][0]["delta"]["tool_calls"].get(0).cloned())
        .unwrap();
    assert_eq!(first_call["index"], 0);
    assert_eq!(first_call["type"], "function");
    assert_eq!(d.usage.unwrap()["completion_tokens"], 31);
}

#[test]
fn several_candidates_keep_their_own_choices() {
    let stream = concat!(
        "data: {\"candidates\":[{\"index\":0,\"content\":{\"parts\":[{\"text\":\"A\"}]}},{\"index\":1,\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"f\",\"args\":{}}}]}}]}\n\n",
        "data: {\"candidates\":[{\"index\":0,\"finishReason\":\"MAX_TOKENS\"},{\"index\":1,\"finishReason\":\"STOP\"}]}\n\n",
    );
    let out = run(&[stream.as_bytes()], false).0;
    let chunks: Vec<Value> = out
        .split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str(d).ok())
        .collect();
    let finishes: Vec<(u64, &str)> = chunks
        .iter()
        .filter_map(|c| {
            let choice = &c["choices"][0];
            Some((choice["index"].as_u64()?, choice["finish_reason"].as_str()?))
        })
        .collect();
    assert_eq!(finishes, vec![(0, "length"), (1, "tool_calls")]);
    let second_call = chunks
        .iter()
        .find_map(|c| c["choices"][0]["delta"]["tool_calls"].get(0).cloned())
        .unwrap();
    assert_eq!(second_call["index"], 0);
    assert!(chunks[0]["id"].as_str().unwrap().starts_with("chatcmpl-"));
}

#[test]
fn blocked_prompt_ends_with_content_filter() {
    let stream = "data: {\"promptFeedback\":{\"blockReason\":\"PROHIBITED_CONTENT\"},\"usageMetadata\":{\"promptTokenCount\":5,\"totalTokenCount\":5}}\r\n\r\n";
    let d = decode(&run(&[stream.as_bytes()], true).0);
    assert_eq!(d.finish_reasons, vec!["content_filter"]);
    assert_eq!(d.content, "");
    assert_eq!(d.usage.unwrap()["prompt_tokens"], 5);
    assert_eq!(d.dones, 1);
}

#[test]
fn error_event_becomes_openai_error_then_done() {
    let stream = concat!(
        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hel\"}]}}]}\n\n",
        "data: {\"error\":{\"code\":503,\"message\":\"The model is overloaded. Please try again later.\",\"status\":\"UNAVAILABLE\"}}\n\n",
        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"lo\"}]}}]}\n\n",
    );
    let d = decode(&run(&[stream.as_bytes()], true).0);
    assert_eq!(d.content, "Hel");
    assert_eq!(d.errors.len(), 1);
    assert_eq!(
        d.errors[0]["message"],
        "The model is overloaded. Please try again later."
    );
    assert_eq!(d.errors[0]["type"], "service_unavailable_error");
    assert_eq!(d.errors[0]["code"], "503");
    assert!(d.finish_reasons.is_empty());
    assert_eq!(d.dones, 1);
}

#[test]
fn done_is_written_once_even_if_the_upstream_stops_early() {
    // The upstream dies 40 bytes into its second event.
    let (second, _) = TEXT.match_indices("data: ").nth(1).unwrap();
    let (out, decoder) = run(&[&TEXT.as_bytes()[..second + 40]], true);
    let d = decode(&out);
    assert_eq!(d.content, "Café culture ");
    assert!(d.finish_reasons.is_empty());
    assert_eq!(d.dones, 1);
    assert_eq!(
        decoder
            .usage()
            .map(|u| (u.prompt_tokens, u.completion_tokens)),
        Some((9, 0))
    );

    let mut decoder = StreamDecoder::new("a", false, 0);
    let mut out = BytesMut::new();
    decoder.feed(TEXT.as_bytes(), &mut out);
    decoder.finish(&mut out);
    decoder.finish(&mut out);
    decoder.feed(TEXT.as_bytes(), &mut out);
    assert_eq!(decode(std::str::from_utf8(&out).unwrap()).dones, 1);
}

#[test]
fn last_event_without_blank_line_is_still_read() {
    let trimmed = TEXT.trim_end();
    let d = decode(&run(&[trimmed.as_bytes()], false).0);
    assert_eq!(d.finish_reasons, vec!["stop"]);
}

#[test]
fn works_behind_the_provider_trait() {
    let mut translator: Box<dyn StreamTranslator> = Box::new(StreamDecoder::new("t", false, 0));
    let mut out = BytesMut::new();
    translator.feed(TEXT.as_bytes(), &mut out);
    translator.finish(&mut out);
    assert_eq!(decode(std::str::from_utf8(&out).unwrap()).dones, 1);
}

#[test]
fn garbage_is_ignored_without_panicking() {
    let (out, _) = run(
        &[b"data: {not json\n\n: keep-alive\n\ndata: [1,2]\n\ndata: \"x\"\n\ndata: {\"candidates\":\"x\"}\n\ndata: {\"candidates\":[null,{\"content\":{\"parts\":[null,{\"functionCall\":5}]}}]}\n\nevent: ping\n\n\xff\xfe\n\n"],
        true,
    );
    let d = decode(&out);
    assert_eq!(d.dones, 1);
    assert!(d.errors.is_empty());
    assert_eq!(d.content, "");
}

#[test]
fn usage_is_the_fixtures_whether_or_not_the_client_asked() {
    let want = Usage {
        prompt_tokens: 9,
        completion_tokens: 24 + 28,
        total_tokens: 61,
        reasoning_tokens: 28,
        ..Usage::default()
    };
    let make = |include_usage| Box::new(StreamDecoder::new("my-gemini", include_usage, 0));
    chunking::usage_either_way(TEXT.as_bytes(), make, want);
}
