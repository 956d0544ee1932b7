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
use crate::canonical::sse::{event_data, EventSplitter};
use crate::error::GatewayError;
use crate::providers::StreamTranslator;
use bytes::BytesMut;
use serde_json::{json, Value};
use std::collections::HashMap;

pub struct StreamDecoder {
    splitter: EventSplitter,
    alias: String,
    include_usage: bool,
    created: u64,
    id: String,
    /// The first chunk (`delta.role`) has been written.
    started: bool,
    /// The chunk carrying `finish_reason` has been written.
    finished: bool,
    /// `data: [DONE]` has been written; everything after is ignored.
    done: bool,
    /// Cohere's usage object from `message-end`.
    usage: Option<Value>,
    /// Cohere's tool-call `index` to the OpenAI `tool_calls[].index`.
    tool_calls: HashMap<u64, usize>,
}

impl StreamDecoder {
    pub fn new(alias: &str, include_usage: bool, created: u64) -> Self {
        StreamDecoder {
            splitter: EventSplitter::default(),
            alias: alias.to_string(),
            include_usage,
            created,
            id: String::new(),
            started: false,
            finished: false,
            done: false,
            usage: None,
            tool_calls: HashMap::new(),
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

    /// `(prompt_tokens, completion_tokens)` once Cohere has reported usage.
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
        if data.trim_ascii() == b"[DONE]" {
            self.close(out);
            return;
        }
        // Not JSON (or not ours): nothing an OpenAI client could use.
        let Ok(data) = serde_json::from_slice::<Value>(&data) else {
            return;
        };
        let delta = data.get("delta").unwrap_or(&Value::Null);
        match data.get("type").and_then(Value::as_str) {
            Some("message-start") => {
                if let Some(id) = data.get("id").and_then(Value::as_str) {
                    self.id = id.to_string();
                }
                self.ensure_started(out);
            }
            Some("content-start" | "content-delta") => {
                let content = delta.pointer("/message/content").unwrap_or(&Value::Null);
                self.write_text("reasoning_content", str_field(content, "thinking"), out);
                self.write_text("content", str_field(content, "text"), out);
            }
            Some("tool-call-start") => self.tool_call_start(&data, out),
            Some("tool-call-delta") => {
                let call = tool_call_of(delta);
                let fragment = arguments_of(call);
                if !fragment.is_empty() {
                    let index = self.openai_index(&data);
                    let delta = json!({"tool_calls": [{
                        "index": index,
                        "function": {"arguments": fragment},
                    }]});
                    self.write_delta(delta, out);
                }
            }
            Some("message-end") => self.message_end(delta, out),
            // `content-end`, `tool-plan-delta`, `tool-call-end`, citations, `debug` and
            // event types Cohere may add later.
            _ => {}
        }
    }

    fn tool_call_start(&mut self, data: &Value, out: &mut BytesMut) {
        let call = tool_call_of(data.get("delta").unwrap_or(&Value::Null));
        let index = self.openai_index(data);
        let function = call.get("function").unwrap_or(&Value::Null);
        let delta = json!({"tool_calls": [{
            "index": index,
            "id": str_field(call, "id"),
            "type": "function",
            "function": {"name": str_field(function, "name"), "arguments": arguments_of(call)},
        }]});
        self.write_delta(delta, out);
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
            out.extend_from_slice(&e.to_sse_event());
            self.write_done(out);
            return;
        }
        let reason = delta
            .get("finish_reason")
            .and_then(Value::as_str)
            .unwrap_or("COMPLETE");
        self.write_finish(reason, out);
        self.close(out);
    }

    fn ensure_started(&mut self, out: &mut BytesMut) {
        if !self.started {
            self.started = true;
            let chunk = self.chunk(json!({"role": "assistant", "content": ""}), None);
            write_data(&chunk, out);
        }
    }

    fn write_text(&mut self, field: &str, text: &str, out: &mut BytesMut) {
        if !text.is_empty() {
            self.write_delta(json!({ field: text }), out);
        }
    }

    fn write_delta(&mut self, delta: Value, out: &mut BytesMut) {
        self.ensure_started(out);
        let chunk = self.chunk(delta, None);
        write_data(&chunk, out);
    }

    fn write_finish(&mut self, cohere_reason: &str, out: &mut BytesMut) {
        if self.finished {
            return;
        }
        self.ensure_started(out);
        self.finished = true;
        let mut reason = finish_reason(cohere_reason);
        if reason == "stop" && !self.tool_calls.is_empty() {
            reason = "tool_calls";
        }
        let chunk = self.chunk(json!({}), Some(reason));
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
                    "id": self.id,
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

    fn chunk(&self, delta: Value, finish_reason: Option<&str>) -> Value {
        json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.alias,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
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

fn write_data(chunk: &Value, out: &mut BytesMut) {
    out.extend_from_slice(b"data: ");
    // Serializing a `Value` into a Vec cannot fail.
    out.extend_from_slice(&serde_json::to_vec(chunk).unwrap_or_default());
    out.extend_from_slice(b"\n\n");
}

fn str_field<'a>(v: &'a Value, field: &str) -> &'a str {
    v.get(field).and_then(Value::as_str).unwrap_or_default()
}

#[cfg(test)]
mod tests;
