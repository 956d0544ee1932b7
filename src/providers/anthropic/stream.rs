//! Anthropic's Messages stream into OpenAI `chat.completion.chunk` events.
//!
//! Anthropic numbers content blocks (text, thinking, tool use) in one sequence; OpenAI numbers
//! tool calls on their own from 0. The decoder keeps that mapping per block, accumulates usage
//! (Anthropic's `message_delta` counts are cumulative), and ends the stream with `[DONE]`
//! exactly once whether or not the upstream said `message_stop`.

use super::error::{openai_kind, openai_status, status_for_type};
use super::request::JSON_MODE_TOOL;
use super::response::{finish_reason, openai_usage, token_counts};
use crate::canonical::sse::{event_data, EventSplitter};
use crate::error::{kind_for_status, GatewayError};
use bytes::BytesMut;
use serde_json::{json, Value};
use std::collections::HashMap;

/// What an Anthropic content block turned into on the OpenAI side.
enum ToolBlock {
    /// A client tool call, with its OpenAI `tool_calls[].index`.
    Call(usize),
    /// The forced JSON-mode tool: its input streams as plain content (see request.rs).
    JsonAnswer,
}

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
    /// Anthropic's usage fields, latest value of each.
    usage: Option<Value>,
    tool_blocks: HashMap<u64, ToolBlock>,
    tool_calls: usize,
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
            tool_blocks: HashMap::new(),
            tool_calls: 0,
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
        // Not JSON (or not ours): nothing an OpenAI client could use.
        let Ok(data) = serde_json::from_slice::<Value>(&data) else {
            return;
        };
        match data.get("type").and_then(Value::as_str) {
            Some("message_start") => {
                let message = data.get("message").unwrap_or(&Value::Null);
                if let Some(id) = message.get("id").and_then(Value::as_str) {
                    self.id = id.to_string();
                }
                self.merge_usage(message.get("usage"));
                self.ensure_started(out);
            }
            Some("content_block_start") => self.block_start(&data, out),
            Some("content_block_delta") => self.block_delta(&data, out),
            Some("message_delta") => {
                self.merge_usage(data.get("usage"));
                let stop = data.pointer("/delta/stop_reason").and_then(Value::as_str);
                if let Some(stop) = stop {
                    self.write_finish(stop, out);
                }
            }
            Some("message_stop") => self.close(out),
            Some("error") => self.write_error(data.get("error"), out),
            // `ping`, `content_block_stop` and event types Anthropic may add later.
            _ => {}
        }
    }

    fn block_start(&mut self, data: &Value, out: &mut BytesMut) {
        let index = data.get("index").and_then(Value::as_u64).unwrap_or(0);
        let block = data.get("content_block").unwrap_or(&Value::Null);
        match block.get("type").and_then(Value::as_str) {
            Some("text") => self.write_text("content", str_field(block, "text"), out),
            Some("thinking") => {
                self.write_text("reasoning_content", str_field(block, "thinking"), out)
            }
            Some("tool_use") if str_field(block, "name") == JSON_MODE_TOOL => {
                self.tool_blocks.insert(index, ToolBlock::JsonAnswer);
            }
            Some("tool_use") => {
                let call = self.tool_calls;
                self.tool_calls += 1;
                self.tool_blocks.insert(index, ToolBlock::Call(call));
                let delta = json!({"tool_calls": [{
                    "index": call,
                    "id": str_field(block, "id"),
                    "type": "function",
                    "function": {"name": str_field(block, "name"), "arguments": ""},
                }]});
                self.write_delta(delta, out);
            }
            // Server tools, redacted thinking: nothing for an OpenAI client.
            _ => {}
        }
    }

    fn block_delta(&mut self, data: &Value, out: &mut BytesMut) {
        let delta = data.get("delta").unwrap_or(&Value::Null);
        match delta.get("type").and_then(Value::as_str) {
            Some("text_delta") => self.write_text("content", str_field(delta, "text"), out),
            Some("thinking_delta") => {
                self.write_text("reasoning_content", str_field(delta, "thinking"), out)
            }
            Some("input_json_delta") => {
                let fragment = str_field(delta, "partial_json");
                let index = data.get("index").and_then(Value::as_u64).unwrap_or(0);
                match self.tool_blocks.get(&index) {
                    Some(ToolBlock::Call(call)) if !fragment.is_empty() => {
                        let delta = json!({"tool_calls": [{
                            "index": call,
                            "function": {"arguments": fragment},
                        }]});
                        self.write_delta(delta, out);
                    }
                    Some(ToolBlock::JsonAnswer) => self.write_text("content", fragment, out),
                    _ => {}
                }
            }
            // `signature_delta`, `citations_delta` and later additions.
            _ => {}
        }
    }

    fn merge_usage(&mut self, usage: Option<&Value>) {
        let Some(fields) = usage.and_then(Value::as_object) else {
            return;
        };
        let merged = self.usage.get_or_insert_with(|| json!({}));
        if let Some(merged) = merged.as_object_mut() {
            for (name, value) in fields.iter().filter(|(_, v)| !v.is_null()) {
                merged.insert(name.clone(), value.clone());
            }
        }
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

    fn write_finish(&mut self, stop_reason: &str, out: &mut BytesMut) {
        if self.finished {
            return;
        }
        self.ensure_started(out);
        self.finished = true;
        let mut reason = finish_reason(stop_reason);
        // Only the JSON-mode tool was used: to the client that is a plain answer.
        if reason == "tool_calls" && self.tool_calls == 0 && !self.tool_blocks.is_empty() {
            reason = "stop";
        }
        let chunk = self.chunk(json!({}), Some(reason));
        write_data(&chunk, out);
    }

    fn write_error(&mut self, error: Option<&Value>, out: &mut BytesMut) {
        let error = error.unwrap_or(&Value::Null);
        let anthropic_type = error
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("api_error");
        let message = error
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("Anthropic stream error");
        let status = openai_status(status_for_type(anthropic_type), Some(anthropic_type));
        let kind = openai_kind(anthropic_type).unwrap_or_else(|| kind_for_status(status));
        out.extend_from_slice(&GatewayError::new(status, kind, message).to_sse_event());
        self.write_done(out);
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
