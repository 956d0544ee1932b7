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
use crate::canonical::sse::{event_data, EventSplitter};
use crate::error::GatewayError;
use crate::providers::StreamTranslator;
use bytes::BytesMut;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// What has been written for one choice.
#[derive(Default)]
struct ChoiceState {
    /// The first chunk (`delta.role`) has been written.
    started: bool,
    /// The chunk carrying `finish_reason` has been written.
    finished: bool,
    tool_calls: usize,
}

pub struct StreamDecoder {
    splitter: EventSplitter,
    alias: String,
    include_usage: bool,
    created: u64,
    /// The upstream's `responseId` once seen (else a generated one).
    id: Option<String>,
    choices: BTreeMap<u64, ChoiceState>,
    /// The latest `usageMetadata`.
    usage: Option<Value>,
    /// `data: [DONE]` has been written; everything after is ignored.
    done: bool,
}

impl StreamDecoder {
    pub fn new(alias: &str, include_usage: bool, created: u64) -> Self {
        StreamDecoder {
            splitter: EventSplitter::default(),
            alias: alias.to_string(),
            include_usage,
            created,
            id: None,
            choices: BTreeMap::new(),
            usage: None,
            done: false,
        }
    }

    pub fn feed(&mut self, chunk: &[u8], out: &mut BytesMut) {
        self.splitter.push(chunk);
        while let Some(event) = self.splitter.next_event() {
            self.handle_event(&event, out);
        }
    }

    pub fn finish(&mut self, out: &mut BytesMut) {
        if let Some(rest) = self.splitter.take_rest() {
            self.handle_event(&rest, out);
        }
        self.close(out);
    }

    /// `(prompt_tokens, completion_tokens)` once the upstream has reported any usage.
    pub fn usage(&self) -> Option<(u64, u64)> {
        self.usage.as_ref().map(token_counts)
    }

    fn handle_event(&mut self, event: &[u8], out: &mut BytesMut) {
        if self.done {
            return;
        }
        let Some(data) = event_data(event) else {
            return;
        };
        // Not JSON (or not an object): nothing an OpenAI client could use.
        let Ok(response) = serde_json::from_slice::<Value>(&data) else {
            return;
        };
        if !response.is_object() {
            return;
        }
        if response.get("error").is_some() {
            let (status, message, kind) = map_error(200, &data);
            out.extend_from_slice(&GatewayError::new(status, kind, message).to_sse_event());
            self.write_done(out);
            return;
        }
        if self.id.is_none() {
            self.id = Some(response_id(&response));
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
            self.write_finish(0, "content_filter", out);
        }
    }

    fn handle_candidate(&mut self, index: u64, candidate: &Value, out: &mut BytesMut) {
        let parts = read_parts(candidate);
        if let Some(reasoning) = parts.reasoning.filter(|r| !r.is_empty()) {
            self.write_delta(index, json!({ "reasoning_content": reasoning }), out);
        }
        if let Some(text) = parts.text.filter(|t| !t.is_empty()) {
            self.write_delta(index, json!({ "content": text }), out);
        }
        for part in parts.calls {
            let state = self.choices.entry(index).or_default();
            let call = tool_call(part, Some(state.tool_calls));
            state.tool_calls += 1;
            self.write_delta(index, json!({ "tool_calls": [call] }), out);
        }
        if let Some(reason) = candidate.get("finishReason").and_then(Value::as_str) {
            let called = self.choices.get(&index).is_some_and(|s| s.tool_calls > 0);
            let reason = if called {
                "tool_calls"
            } else {
                finish_reason(Some(reason))
            };
            self.write_finish(index, reason, out);
        }
    }

    fn write_delta(&mut self, index: u64, delta: Value, out: &mut BytesMut) {
        self.ensure_started(index, out);
        let chunk = self.chunk(index, delta, None);
        write_data(&chunk, out);
    }

    fn ensure_started(&mut self, index: u64, out: &mut BytesMut) {
        let state = self.choices.entry(index).or_default();
        if !state.started {
            state.started = true;
            let chunk = self.chunk(index, json!({"role": "assistant", "content": ""}), None);
            write_data(&chunk, out);
        }
    }

    fn write_finish(&mut self, index: u64, reason: &str, out: &mut BytesMut) {
        if self.choices.get(&index).is_some_and(|s| s.finished) {
            return;
        }
        self.ensure_started(index, out);
        self.choices.entry(index).or_default().finished = true;
        let chunk = self.chunk(index, json!({}), Some(reason));
        write_data(&chunk, out);
    }

    /// The end of the answer: the usage chunk if asked for, then `[DONE]`, once.
    fn close(&mut self, out: &mut BytesMut) {
        if self.done {
            return;
        }
        if self.include_usage {
            if let Some(usage) = &self.usage {
                let chunk = json!({
                    "id": self.id.as_deref().unwrap_or_default(),
                    "object": "chat.completion.chunk",
                    "created": self.created,
                    "model": self.alias,
                    "choices": [],
                    "usage": openai_usage(usage),
                });
                write_data(&chunk, out);
            }
        }
        self.write_done(out);
    }

    fn write_done(&mut self, out: &mut BytesMut) {
        self.done = true;
        out.extend_from_slice(b"data: [DONE]\n\n");
    }

    fn chunk(&self, index: u64, delta: Value, finish_reason: Option<&str>) -> Value {
        json!({
            "id": self.id.as_deref().unwrap_or_default(),
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.alias,
            "choices": [{"index": index, "delta": delta, "finish_reason": finish_reason}],
        })
    }
}

impl StreamTranslator for StreamDecoder {
    fn feed(&mut self, chunk: &[u8], out: &mut BytesMut) {
        StreamDecoder::feed(self, chunk, out);
    }

    fn finish(&mut self, out: &mut BytesMut) {
        StreamDecoder::finish(self, out);
    }
}

fn write_data(chunk: &Value, out: &mut BytesMut) {
    out.extend_from_slice(b"data: ");
    // Serializing a `Value` into a Vec cannot fail.
    out.extend_from_slice(&serde_json::to_vec(chunk).unwrap_or_default());
    out.extend_from_slice(b"\n\n");
}

#[cfg(test)]
mod tests;
