//! Every provider's stream translator on any upstream bytes in any reads, then `finish`: no
//! panic, and what the client gets is well-formed SSE of the client's format. OpenAI clients:
//! `data:` events of JSON chunks (or errors), `[DONE]` once and last. Anthropic clients:
//! `event:`/`data:` pairs naming the same type, ending in `message_stop` or `error`. After a
//! `failure()` nothing more is written.
#![no_main]

#[path = "../common/mod.rs"]
mod common;

use bytes::BytesMut;
use common::{lossy, read_gateway_sse, ClientEvent};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tollgate::inbound::anthropic::OpenAiToAnthropicStream;
use tollgate::providers::bedrock::converse_stream;
use tollgate::providers::bedrock::sagemaker::BufferedStream;
use tollgate::providers::openai::PassthroughStream;
use tollgate::providers::text_completion::CompletionToChatStream;
use tollgate::providers::{anthropic, cohere, gemini, Chained, StreamTranslator};

#[derive(Clone, Copy, PartialEq)]
enum Client {
    /// OpenAI chunks the gateway wrote itself: every data is JSON.
    OpenAi,
    /// Upstream OpenAI SSE passed on: data is whatever the upstream sent.
    OpenAiPassthrough,
    Anthropic,
}

fn translator(selector: u8) -> (Box<dyn StreamTranslator>, Client, bool) {
    let usage = selector & 0x80 != 0;
    let (alias, created) = ("alias", 1_700_000_000);
    let anthropic = || Box::new(OpenAiToAnthropicStream::new("claude-x"));
    match selector & 0x7f {
        0 => (
            Box::new(PassthroughStream::new(alias, usage)),
            Client::OpenAiPassthrough,
            false,
        ),
        1 => (
            Box::new(anthropic::stream::StreamDecoder::new(alias, usage, created)),
            Client::OpenAi,
            false,
        ),
        2 => (
            Box::new(gemini::stream::StreamDecoder::new(alias, usage, created)),
            Client::OpenAi,
            false,
        ),
        3 => (
            Box::new(cohere::stream::StreamDecoder::new(alias, usage, created)),
            Client::OpenAi,
            false,
        ),
        4 => (
            Box::new(converse_stream::StreamDecoder::new(alias, usage, created)),
            Client::OpenAi,
            true,
        ),
        5 => (
            Box::new(converse_stream::StreamDecoder::new(alias, usage, created)),
            Client::OpenAi,
            false,
        ),
        6 => (
            Box::new(CompletionToChatStream::new(alias, usage)),
            Client::OpenAi,
            false,
        ),
        7 => (anthropic(), Client::Anthropic, false),
        8 => (
            Box::new(Chained::new(
                Box::new(PassthroughStream::new(alias, usage)),
                anthropic(),
            )),
            Client::Anthropic,
            false,
        ),
        9 => (
            Box::new(Chained::new(
                Box::new(gemini::stream::StreamDecoder::new(alias, true, created)),
                anthropic(),
            )),
            Client::Anthropic,
            false,
        ),
        10 => (
            Box::new(Chained::new(
                Box::new(converse_stream::StreamDecoder::new(alias, true, created)),
                anthropic(),
            )),
            Client::Anthropic,
            true,
        ),
        _ => (
            Box::new(BufferedStream::new(
                usage,
                Box::new(|b| {
                    serde_json::from_slice::<Value>(b)
                        .ok()
                        .filter(Value::is_object)
                }),
            )),
            Client::OpenAi,
            false,
        ),
    }
}

fn check_openai(events: &[ClientEvent], passthrough: bool, failed: bool, out: &[u8]) {
    let datas: Vec<&[u8]> = events.iter().filter_map(|e| e.data.as_deref()).collect();
    let dones = datas.iter().filter(|d| *d == b"[DONE]").count();
    if failed {
        assert!(dones <= 1);
    } else {
        assert_eq!(dones, 1, "[DONE] not written once: {:?}", lossy(out));
        assert_eq!(
            datas.last(),
            Some(&&b"[DONE]"[..]),
            "[DONE] is not last: {:?}",
            lossy(out)
        );
    }
    for e in events {
        assert!(
            e.event.is_none(),
            "an event: line to an OpenAI client: {:?}",
            lossy(out)
        );
        if !passthrough {
            let data = e.data.as_deref().expect("an event without data");
            if data == b"[DONE]" {
                continue;
            }
            let v: Value = serde_json::from_slice(data)
                .unwrap_or_else(|err| panic!("data is not JSON ({err}): {:?}", lossy(data)));
            assert!(
                v.get("object").and_then(Value::as_str) == Some("chat.completion.chunk")
                    || v.get("error").is_some(),
                "neither a chunk nor an error: {v}"
            );
        }
    }
}

fn check_anthropic(events: &[ClientEvent], failed: bool, out: &[u8]) {
    for e in events {
        let name = e
            .event
            .as_deref()
            .expect("an Anthropic event without a name");
        let data = e.data.as_deref().expect("an Anthropic event without data");
        let v: Value = serde_json::from_slice(data)
            .unwrap_or_else(|err| panic!("data is not JSON ({err}): {:?}", lossy(data)));
        assert_eq!(
            v.get("type").and_then(Value::as_str).map(str::as_bytes),
            Some(name)
        );
    }
    let ends = events
        .iter()
        .filter(|e| matches!(e.event.as_deref(), Some(b"message_stop" | b"error")))
        .count();
    if !failed {
        assert_eq!(ends, 1, "not one message_stop or error: {:?}", lossy(out));
        let last = events.last().and_then(|e| e.event.as_deref());
        assert!(
            matches!(last, Some(b"message_stop" | b"error")),
            "{:?}",
            lossy(out)
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let [selector, seed, input @ ..] = data else {
        return;
    };
    let (mut translator, client, fix_crcs) = translator(*selector);
    let mut input = input.to_vec();
    if fix_crcs {
        common::fix_event_stream_crcs(&mut input);
    }
    let mut out = BytesMut::new();
    let mut written_at_failure = None;
    for read in common::reads(*seed, &input) {
        translator.feed(read, &mut out);
        if written_at_failure.is_none() && translator.failure().is_some() {
            written_at_failure = Some(out.len());
        }
    }
    let _ = translator.usage();
    translator.finish(&mut out);
    if let Some(len) = written_at_failure {
        assert_eq!(out.len(), len, "written after the failure");
    }
    let failed = written_at_failure.is_some();
    let events = read_gateway_sse(&out);
    match client {
        Client::OpenAi => check_openai(&events, false, failed, &out),
        Client::OpenAiPassthrough => check_openai(&events, true, failed, &out),
        Client::Anthropic => check_anthropic(&events, failed, &out),
    }
});
