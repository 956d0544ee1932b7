//! Every SSE-based translator reports an event over the splitter's bound through `failure()`
//! and writes nothing more, `finish` included.

use super::*;
use crate::canonical::sse::MAX_EVENT_BYTES;
use crate::inbound::anthropic::OpenAiToAnthropicStream;

/// Each translator with an event it answers with output of its own.
fn sse_translators() -> Vec<(&'static str, Box<dyn StreamTranslator>, &'static [u8])> {
    const OPENAI: &[u8] = br#"{"model":"m","choices":[{"delta":{"content":"hi"}}]}"#;
    vec![
        (
            "openai",
            Box::new(openai::PassthroughStream::new("a")),
            OPENAI,
        ),
        (
            "text_completion",
            Box::new(text_completion::CompletionToChatStream::new("a")),
            OPENAI,
        ),
        (
            "anthropic",
            Box::new(anthropic::stream::StreamDecoder::new("a", true, 0)),
            br#"{"type":"message_start","message":{"id":"x"}}"#,
        ),
        (
            "gemini",
            Box::new(gemini::stream::StreamDecoder::new("a", true, 0)),
            br#"{"candidates":[{"content":{"parts":[{"text":"hi"}]}}]}"#,
        ),
        (
            "cohere",
            Box::new(cohere::stream::StreamDecoder::new("a", true, 0)),
            br#"{"type":"message-start","id":"x"}"#,
        ),
        (
            "inbound anthropic",
            Box::new(OpenAiToAnthropicStream::new("a")),
            OPENAI,
        ),
        (
            "chained",
            Box::new(Chained::new(
                Box::new(openai::PassthroughStream::new("a")),
                Box::new(OpenAiToAnthropicStream::new("a")),
            )),
            OPENAI,
        ),
    ]
}

#[test]
fn an_oversized_event_is_a_failure_and_nothing_more_is_written() {
    let read = vec![b'x'; 1024 * 1024];
    for (name, mut translator, first) in sse_translators() {
        let mut out = BytesMut::new();
        translator.feed(&[b"data: ", first, b"\n\ndata: "].concat(), &mut out);
        assert!(!out.is_empty(), "{name}: the first event is translated");
        assert!(translator.failure().is_none(), "{name}");
        let written = out.len();
        for _ in 0..=MAX_EVENT_BYTES / read.len() {
            translator.feed(&read, &mut out);
        }
        let failure = translator.failure().unwrap_or_else(|| panic!("{name}"));
        assert_eq!(failure.status, 502, "{name}");
        assert_eq!(
            failure.message, "provider stream event larger than 16 MiB",
            "{name}"
        );
        translator.feed(b"\n\ndata: {\"model\":\"m\"}\n\n", &mut out);
        translator.finish(&mut out);
        assert_eq!(out.len(), written, "{name}: nothing after the failure");
    }
}

#[test]
fn ordinary_streams_report_no_failure() {
    for (name, mut translator, first) in sse_translators() {
        let mut out = BytesMut::new();
        translator.feed(
            &[b"data: ", first, b"\n\ndata: [DONE]\n\n"].concat(),
            &mut out,
        );
        translator.finish(&mut out);
        assert!(translator.failure().is_none(), "{name}");
    }
}
