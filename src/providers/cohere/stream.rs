//! Cohere's v2 chat stream into OpenAI `chat.completion.chunk` events.
//!
//! Cohere sends typed events (`message-start`, `content-delta`, `tool-call-start`,
//! `tool-call-delta`, `message-end`, ...). Text and thinking deltas become `content` and
//! `reasoning_content`; each tool call gets its OpenAI `index` in the order its
//! `tool-call-start` arrives, first with id and name, then argument fragments. `message-end`
//! carries the finish reason and usage; the stream then ends with `[DONE]`, exactly once,
//! whether or not Cohere sent a `message-end` (or a `[DONE]` of its own).
//!
//! `tool-plan-delta` (Cohere's reasoning before tool calls), citations and `debug` events have
//! no OpenAI counterpart and are skipped, as LiteLLM does.

use super::response::{finish_reason, openai_usage, token_counts};
use crate::canonical::chunks::ChunkWriter;
use crate::canonical::params::str_field;
use crate::canonical::sse::{EventSplitter, SseDecoder};
use crate::error::GatewayError;
use crate::providers::StreamTranslator;
use bytes::BytesMut;
use serde_json::Value;
use std::collections::HashMap;

/// Cohere's stream has one choice.
const CHOICE: u64 = 0;

pub struct StreamDecoder {
    splitter: EventSplitter,
    chunks: ChunkWriter,
    /// Cohere's usage object from `message-end`.
    usage: Option<Value>,
    /// Cohere's tool-call `index` to the OpenAI `tool_calls[].index`.
    tool_calls: HashMap<u64, usize>,
}

impl StreamDecoder {
    pub fn new(alias: &str, include_usage: bool, created: u64) -> Self {
        StreamDecoder {
            splitter: EventSplitter::default(),
            chunks: ChunkWriter::new(alias, include_usage, created),
            usage: None,
            tool_calls: HashMap::new(),
        }
    }

    /// `(prompt_tokens, completion_tokens)` once Cohere has reported usage.
    pub fn usage(&self) -> Option<(u64, u64)> {
        self.usage.as_ref().map(token_counts)
    }

    fn tool_call_start(&mut self, data: &Value, out: &mut BytesMut) {
        let call = tool_call_of(data.get("delta").unwrap_or(&Value::Null));
        let index = self.openai_index(data);
        let function = call.get("function").unwrap_or(&Value::Null);
        let (id, name) = (str_field(call, "id"), str_field(function, "name"));
        let arguments = arguments_of(call);
        self.chunks
            .tool_call_start(CHOICE, index, id, name, arguments, out);
    }

    /// The OpenAI index for an event's Cohere `index`, numbering calls in order of arrival.
    fn openai_index(&mut self, data: &Value) -> usize {
        let next = self.tool_calls.len();
        let cohere = data
            .get("index")
            .and_then(Value::as_u64)
            .unwrap_or(next as u64);
        *self.tool_calls.entry(cohere).or_insert(next)
    }

    fn message_end(&mut self, delta: &Value, out: &mut BytesMut) {
        if let Some(usage) = delta.get("usage").filter(|u| u.is_object()) {
            self.usage = Some(usage.clone());
        }
        let error = str_field(delta, "error");
        if !error.is_empty() {
            // Cohere failed mid-answer; LiteLLM raises a 500 for it.
            let e = GatewayError::new(500, "internal_server_error", error);
            self.chunks.error(&e, out);
            return;
        }
        let reason = delta
            .get("finish_reason")
            .and_then(Value::as_str)
            .unwrap_or("COMPLETE");
        let mut reason = finish_reason(reason);
        if reason == "stop" && !self.tool_calls.is_empty() {
            reason = "tool_calls";
        }
        self.chunks.finish(CHOICE, reason, out);
        self.on_end(out);
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
        if data.trim_ascii() == b"[DONE]" {
            self.on_end(out);
            return;
        }
        // Not JSON (or not ours): nothing an OpenAI client could use.
        let Ok(data) = serde_json::from_slice::<Value>(data) else {
            return;
        };
        let delta = data.get("delta").unwrap_or(&Value::Null);
        match data.get("type").and_then(Value::as_str) {
            Some("message-start") => {
                if let Some(id) = data.get("id").and_then(Value::as_str) {
                    self.chunks.set_id(id);
                }
                self.chunks.start(CHOICE, out);
            }
            Some("content-start" | "content-delta") => {
                let content = delta.pointer("/message/content").unwrap_or(&Value::Null);
                let thinking = str_field(content, "thinking");
                self.chunks.text(CHOICE, "reasoning_content", thinking, out);
                self.chunks
                    .text(CHOICE, "content", str_field(content, "text"), out);
            }
            Some("tool-call-start") => self.tool_call_start(&data, out),
            Some("tool-call-delta") => {
                let call = tool_call_of(delta);
                let fragment = arguments_of(call);
                // An empty fragment must not number a call it has not seen yet.
                if !fragment.is_empty() {
                    let index = self.openai_index(&data);
                    self.chunks
                        .tool_call_arguments(CHOICE, index, fragment, out);
                }
            }
            Some("message-end") => self.message_end(delta, out),
            // `content-end`, `tool-plan-delta`, `tool-call-end`, citations, `debug` and
            // event types Cohere may add later.
            _ => {}
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

/// `delta.message.tool_calls`: one object in Cohere's stream (a list is taken by its first).
fn tool_call_of(delta: &Value) -> &Value {
    match delta.pointer("/message/tool_calls") {
        Some(Value::Array(calls)) => calls.first().unwrap_or(&Value::Null),
        Some(call) => call,
        None => &Value::Null,
    }
}

fn arguments_of(call: &Value) -> &str {
    call.pointer("/function/arguments")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
