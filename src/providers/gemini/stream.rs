//! Gemini's `streamGenerateContent?alt=sse` into OpenAI `chat.completion.chunk` events.
//!
//! Each SSE event carries a whole `GenerateContentResponse` holding the next piece of each
//! candidate: text and thought parts become `content` / `reasoning_content` deltas, and a
//! `functionCall` part arrives complete, so it becomes one complete tool-call delta (id,
//! name, all arguments) numbered per choice from 0. `usageMetadata` is cumulative; the last
//! one seen is the answer's usage. The stream ends with `[DONE]` exactly once, whether or not
//! the upstream finished cleanly.

use super::error::map_error;
use super::response::{
    blocked, candidate_index, finish_reason, openai_usage, read_parts, response_id, token_counts,
    tool_call,
};
use crate::canonical::chunks::ChunkWriter;
use crate::canonical::sse::{EventSplitter, SseDecoder};
use crate::error::GatewayError;
use crate::providers::StreamTranslator;
use bytes::BytesMut;
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub struct StreamDecoder {
    splitter: EventSplitter,
    /// Its id is the upstream's `responseId` once seen (else a generated one).
    chunks: ChunkWriter,
    /// Tool calls written so far, per choice: each choice numbers its calls from 0.
    tool_calls: BTreeMap<u64, usize>,
    /// The latest `usageMetadata`.
    usage: Option<Value>,
}

impl StreamDecoder {
    pub fn new(alias: &str, include_usage: bool, created: u64) -> Self {
        StreamDecoder {
            splitter: EventSplitter::default(),
            chunks: ChunkWriter::new(alias, include_usage, created),
            tool_calls: BTreeMap::new(),
            usage: None,
        }
    }

    /// `(prompt_tokens, completion_tokens)` once the upstream has reported any usage.
    pub fn usage(&self) -> Option<(u64, u64)> {
        self.usage.as_ref().map(token_counts)
    }

    fn handle_candidate(&mut self, index: u64, candidate: &Value, out: &mut BytesMut) {
        let parts = read_parts(candidate);
        if let Some(reasoning) = &parts.reasoning {
            self.chunks.text(index, "reasoning_content", reasoning, out);
        }
        if let Some(text) = &parts.text {
            self.chunks.text(index, "content", text, out);
        }
        for part in parts.calls {
            let calls = self.tool_calls.entry(index).or_default();
            let call = tool_call(part, Some(*calls));
            *calls += 1;
            self.chunks
                .delta(index, json!({ "tool_calls": [call] }), out);
        }
        if let Some(reason) = candidate.get("finishReason").and_then(Value::as_str) {
            let called = self.tool_calls.get(&index).is_some_and(|n| *n > 0);
            let reason = if called {
                "tool_calls"
            } else {
                finish_reason(Some(reason))
            };
            self.chunks.finish(index, reason, out);
        }
    }
}

impl SseDecoder for StreamDecoder {
    fn splitter(&mut self) -> &mut EventSplitter {
        &mut self.splitter
    }

    fn is_done(&self) -> bool {
        self.chunks.is_done()
    }

    fn on_data(&mut self, data: &[u8], out: &mut BytesMut) {
        // Not JSON (or not an object): nothing an OpenAI client could use.
        let Ok(response) = serde_json::from_slice::<Value>(data) else {
            return;
        };
        if !response.is_object() {
            return;
        }
        if response.get("error").is_some() {
            let (status, message, kind) = map_error(200, data);
            self.chunks
                .error(&GatewayError::new(status, kind, message), out);
            return;
        }
        // `response_id` is never empty, so an empty id means none was taken yet.
        if self.chunks.id().is_empty() {
            self.chunks.set_id(response_id(&response));
        }
        if let Some(usage) = response.get("usageMetadata").filter(|u| u.is_object()) {
            self.usage = Some(usage.clone());
        }
        let candidates = response
            .get("candidates")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for (position, candidate) in candidates.iter().enumerate() {
            self.handle_candidate(candidate_index(candidate, position), candidate, out);
        }
        if candidates.is_empty() && blocked(&response) {
            self.chunks.finish(0, "content_filter", out);
        }
    }

    /// The end of the answer: the usage chunk if asked for, then `[DONE]`, once.
    fn on_end(&mut self, out: &mut BytesMut) {
        self.chunks
            .close(|| self.usage.as_ref().map(openai_usage), out);
    }
}

impl StreamTranslator for StreamDecoder {
    fn feed(&mut self, chunk: &[u8], out: &mut BytesMut) {
        self.feed_sse(chunk, out);
    }

    fn finish(&mut self, out: &mut BytesMut) {
        self.finish_sse(out);
    }

    fn failure(&mut self) -> Option<GatewayError> {
        self.splitter.failure()
    }
}

#[cfg(test)]
mod tests;
