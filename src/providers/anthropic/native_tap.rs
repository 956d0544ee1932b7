//! An Anthropic client calling an Anthropic deployment gets Anthropic's stream byte for byte;
//! `NativeTap` passes it on untouched and only reads the usage on the way: `message_start`
//! (`message.usage`: input and cache counts) and `message_delta` (`usage`: the cumulative
//! output count). Whole native answers are read by [`native_usage`].

use super::response::openai_usage;
use super::stream::merge_usage;
use crate::canonical::sse::{event_data, EventSplitter};
use crate::canonical::Usage;
use crate::providers::StreamTranslator;
use bytes::BytesMut;
use serde_json::Value;

/// An unfinished event longer than this is not kept for reading: the events carrying usage
/// are small, and a pass-through must not buffer a huge content delta twice.
const MAX_TAPPED_EVENT: usize = 1 << 20;

#[derive(Default)]
pub struct NativeTap {
    splitter: EventSplitter,
    /// Anthropic's usage fields, latest value of each.
    usage: Option<Value>,
    /// Skipping the rest of an event over `MAX_TAPPED_EVENT`, up to its end.
    skipping: bool,
}

impl NativeTap {
    pub fn new() -> Self {
        NativeTap::default()
    }

    fn read(&mut self, event: &[u8]) {
        if !carries_usage(event) {
            return;
        }
        let Some(data) = event_data(event) else {
            return;
        };
        let Ok(data) = serde_json::from_slice::<Value>(&data) else {
            return;
        };
        match data.get("type").and_then(Value::as_str) {
            Some("message_start") => {
                let usage = data.get("message").and_then(|m| m.get("usage"));
                merge_usage(&mut self.usage, usage);
            }
            Some("message_delta") => merge_usage(&mut self.usage, data.get("usage")),
            _ => {}
        }
    }
}

/// Whether an event may be `message_start` or `message_delta`: by its `event:` name when it
/// has one, else by a look at its bytes, so that content deltas are not parsed for nothing.
fn carries_usage(event: &[u8]) -> bool {
    let name = event
        .split(|&b| b == b'\n')
        .find_map(|line| line.strip_prefix(b"event:"));
    match name {
        Some(name) => matches!(name.trim_ascii(), b"message_start" | b"message_delta"),
        None => contains(event, b"message_start") || contains(event, b"message_delta"),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

impl StreamTranslator for NativeTap {
    fn feed(&mut self, chunk: &[u8], out: &mut BytesMut) {
        out.extend_from_slice(chunk);
        self.splitter.push(chunk);
        while let Some(event) = self.splitter.next_event() {
            if std::mem::take(&mut self.skipping) {
                // The tail of an oversized event: no usage in it.
                continue;
            }
            self.read(&event);
        }
        if self.splitter.buffered() > MAX_TAPPED_EVENT {
            let _ = self.splitter.take_rest();
            self.skipping = true;
        }
    }

    fn finish(&mut self, _: &mut BytesMut) {
        if let Some(rest) = self.splitter.take_rest() {
            if !self.skipping {
                self.read(&rest);
            }
        }
    }

    fn usage(&self) -> Option<Usage> {
        self.usage
            .as_ref()
            .and_then(|u| Usage::from_openai(&openai_usage(u)))
    }
}

/// The usage of a whole native answer (an Anthropic Message, `usage` at its top level).
pub fn native_usage(body: &[u8]) -> Option<Usage> {
    let span = crate::canonical::json_scan::find_top_level_value(body, "usage")?;
    let usage: Value = serde_json::from_slice(&body[span]).ok()?;
    usage
        .is_object()
        .then(|| Usage::from_openai(&openai_usage(&usage)))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::chunks::test_support::pieces;

    const TEXT: &str = include_str!("../../../tests/fixtures/anthropic/stream_text.sse");
    const TOOL: &str = include_str!("../../../tests/fixtures/anthropic/stream_tool_use.sse");
    const MESSAGE: &str = include_str!("../../../tests/fixtures/anthropic/message_text.json");

    fn tap(reads: &[&[u8]]) -> (Vec<u8>, Option<Usage>) {
        let mut tap = NativeTap::new();
        let mut out = BytesMut::new();
        for read in reads {
            tap.feed(read, &mut out);
        }
        tap.finish(&mut out);
        (out.to_vec(), tap.usage())
    }

    fn counts(u: Option<Usage>) -> Option<(u64, u64, u64)> {
        u.map(|u| (u.prompt_tokens, u.completion_tokens, u.total_tokens))
    }

    #[test]
    fn passes_the_stream_untouched_and_reads_its_usage_in_any_chunking() {
        for (fixture, want) in [(TEXT, (25, 15, 40)), (TOOL, (472, 89, 561))] {
            let bytes = fixture.as_bytes();
            for size in [bytes.len(), 1, 7] {
                let (out, usage) = tap(&pieces(bytes, size));
                assert_eq!(out, bytes, "reads of {size}");
                assert_eq!(counts(usage), Some(want), "reads of {size}");
            }
        }
    }

    #[test]
    fn cache_counts_and_events_without_names_are_read() {
        let sse = concat!(
            r#"data: {"type":"message_start","message":{"usage":{"input_tokens":3,"cache_read_input_tokens":40,"cache_creation_input_tokens":2,"output_tokens":1}}}"#,
            "\n\n",
            r#"data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"message_delta"}}"#,
            "\n\n",
            r#"data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":9}}"#
        );
        let (out, usage) = tap(&[sse.as_bytes()]);
        assert_eq!(out, sse.as_bytes());
        let usage = usage.unwrap();
        assert_eq!(counts(Some(usage)), Some((45, 9, 54)));
        assert_eq!(usage.cached_prompt_tokens, 40);
        assert_eq!(usage.cache_creation_tokens, 2);
    }

    #[test]
    fn no_usage_before_message_start_and_huge_events_are_not_buffered() {
        assert_eq!(
            tap(&[b"event: ping\ndata: {\"type\":\"ping\"}\n\n"]).1,
            None
        );
        let mut t = NativeTap::new();
        let mut out = BytesMut::new();
        let big = vec![b'x'; MAX_TAPPED_EVENT + 1];
        t.feed(b"event: content_block_delta\ndata: {\"t\":\"", &mut out);
        t.feed(&big, &mut out);
        assert!(t.splitter.buffered() == 0);
        t.feed(b"\"}\n\n", &mut out);
        t.feed(TEXT.as_bytes(), &mut out);
        t.finish(&mut out);
        assert_eq!(counts(t.usage()), Some((25, 15, 40)));
        assert_eq!(out.len(), 39 + big.len() + 4 + TEXT.len());
    }

    #[test]
    fn whole_native_answers_have_their_usage_read() {
        let usage = native_usage(MESSAGE.as_bytes()).unwrap();
        assert_eq!(counts(Some(usage)), Some((2095 + 2051 + 2051, 503, 6700)));
        assert_eq!(usage.cached_prompt_tokens, 2051);
        assert_eq!(usage.cache_creation_tokens, 2051);
        assert_eq!(native_usage(br#"{"usage":3}"#), None);
        assert_eq!(native_usage(b"not json"), None);
    }
}
