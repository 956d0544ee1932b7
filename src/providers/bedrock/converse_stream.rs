//! Bedrock's ConverseStream (a binary event stream, see eventstream.rs) into OpenAI
//! `chat.completion.chunk` SSE events.
//!
//! Each message is named by its `:message-type` header: `event` messages carry
//! `:event-type` (`messageStart`, `contentBlockStart`, `contentBlockDelta`, `contentBlockStop`,
//! `messageStop`, `metadata`) and a JSON payload; `exception` messages carry `:exception-type`
//! (`throttlingException`, `modelStreamErrorException`, ...) and `{"message"}`. Converse numbers
//! content blocks (text, reasoning, tool use) in one sequence; OpenAI numbers tool calls on their
//! own from 0, so the decoder keeps that mapping per block. `messageStop` carries the stop reason
//! and the `metadata` event after it the usage, so the usage chunk and `[DONE]` follow when the
//! upstream body ends; `[DONE]` is written exactly once whatever happens.

use super::converse_response::{completion_id, finish_reason, openai_usage, token_counts};
use super::error::{openai_kind, status_for_type};
use super::eventstream::{EventStreamDecoder, Message};
use crate::error::{kind_for_status, GatewayError};
use crate::providers::anthropic::request::JSON_MODE_TOOL;
use crate::providers::StreamTranslator;
use bytes::BytesMut;
use serde_json::{json, Value};
use std::collections::HashMap;

/// What a Converse content block turned into on the OpenAI side.
enum ToolBlock {
    /// A client tool call, with its OpenAI `tool_calls[].index`.
    Call(usize),
    /// The forced JSON-mode tool: its input streams as plain content (see converse.rs).
    JsonAnswer,
}

pub struct StreamDecoder {
    events: EventStreamDecoder,
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
    /// Converse's usage object from the `metadata` event.
    usage: Option<Value>,
    tool_blocks: HashMap<u64, ToolBlock>,
    tool_calls: usize,
}

impl StreamDecoder {
    pub fn new(alias: &str, include_usage: bool, created: u64) -> Self {
        StreamDecoder {
            events: EventStreamDecoder::default(),
            alias: alias.to_string(),
            include_usage,
            created,
            id: completion_id(),
            started: false,
            finished: false,
            done: false,
            usage: None,
            tool_blocks: HashMap::new(),
            tool_calls: 0,
        }
    }

    pub fn feed(&mut self, chunk: &[u8], out: &mut BytesMut) {
        if self.done {
            return;
        }
        self.events.push(chunk);
        loop {
            match self.events.next_message() {
                Ok(Some(message)) => self.handle_message(&message, out),
                Ok(None) => break,
                Err(e) => {
                    let text = format!("malformed event stream from Bedrock: {e}");
                    self.write_error(502, "api_error", &text, out);
                    break;
                }
            }
            if self.done {
                break;
            }
        }
    }

    pub fn finish(&mut self, out: &mut BytesMut) {
        if !self.done && self.events.buffered() > 0 {
            let text = "Bedrock stream ended inside an event";
            self.write_error(502, "api_error", text, out);
        }
        self.close(out);
    }

    /// `(prompt_tokens, completion_tokens)` once the upstream has reported usage.
    pub fn usage(&self) -> Option<(u64, u64)> {
        self.usage.as_ref().map(token_counts)
    }

    fn handle_message(&mut self, message: &Message, out: &mut BytesMut) {
        // Not JSON: nothing an OpenAI client could use.
        let payload: Value = serde_json::from_slice(&message.payload).unwrap_or(Value::Null);
        match message.header_str(":message-type") {
            Some("event") => {}
            Some("exception") => {
                let name = message.header_str(":exception-type").unwrap_or("");
                let status = status_for_type(name).unwrap_or(500);
                let kind = openai_kind(name).unwrap_or_else(|| kind_for_status(status));
                let text = payload
                    .get("message")
                    .or_else(|| payload.get("Message"))
                    .and_then(Value::as_str)
                    .unwrap_or(name);
                let text = if text.is_empty() {
                    "Bedrock stream error"
                } else {
                    text
                };
                return self.write_error(status, kind, text, out);
            }
            Some("error") => {
                let text = message
                    .header_str(":error-message")
                    .or(message.header_str(":error-code"))
                    .unwrap_or("Bedrock stream error");
                return self.write_error(500, "internal_server_error", text, out);
            }
            _ => return,
        }
        match message.header_str(":event-type") {
            Some("messageStart") => self.ensure_started(out),
            Some("contentBlockStart") => self.block_start(&payload, out),
            Some("contentBlockDelta") => self.block_delta(&payload, out),
            Some("messageStop") => {
                let stop = payload.get("stopReason").and_then(Value::as_str);
                self.write_finish(stop.unwrap_or("end_turn"), out);
            }
            Some("metadata") => {
                if let Some(usage) = payload.get("usage").filter(|u| u.is_object()) {
                    self.usage = Some(usage.clone());
                }
            }
            // `contentBlockStop` and event types Bedrock may add later.
            _ => {}
        }
    }

    fn block_start(&mut self, payload: &Value, out: &mut BytesMut) {
        let index = block_index(payload);
        let Some(tool) = payload.pointer("/start/toolUse") else {
            return;
        };
        if str_field(tool, "name") == JSON_MODE_TOOL {
            self.tool_blocks.insert(index, ToolBlock::JsonAnswer);
            return;
        }
        let call = self.tool_calls;
        self.tool_calls += 1;
        self.tool_blocks.insert(index, ToolBlock::Call(call));
        let delta = json!({"tool_calls": [{
            "index": call,
            "id": str_field(tool, "toolUseId"),
            "type": "function",
            "function": {"name": str_field(tool, "name"), "arguments": ""},
        }]});
        self.write_delta(delta, out);
    }

    fn block_delta(&mut self, payload: &Value, out: &mut BytesMut) {
        let delta = payload.get("delta").unwrap_or(&Value::Null);
        if let Some(text) = delta.get("text").and_then(Value::as_str) {
            self.write_text("content", text, out);
        } else if let Some(reasoning) = delta.get("reasoningContent") {
            // Signatures and redacted reasoning have no OpenAI delta.
            self.write_text("reasoning_content", str_field(reasoning, "text"), out);
        } else if let Some(tool) = delta.get("toolUse") {
            let fragment = str_field(tool, "input");
            match self.tool_blocks.get(&block_index(payload)) {
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

    /// An OpenAI-shaped error event, then `[DONE]`: the HTTP status was already 200.
    fn write_error(&mut self, status: u16, kind: &'static str, text: &str, out: &mut BytesMut) {
        if self.done {
            return;
        }
        out.extend_from_slice(&GatewayError::new(status, kind, text).to_sse_event());
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

impl StreamTranslator for StreamDecoder {
    fn feed(&mut self, chunk: &[u8], out: &mut BytesMut) {
        StreamDecoder::feed(self, chunk, out);
    }

    fn finish(&mut self, out: &mut BytesMut) {
        StreamDecoder::finish(self, out);
    }
}

fn block_index(payload: &Value) -> u64 {
    payload
        .get("contentBlockIndex")
        .and_then(Value::as_u64)
        .unwrap_or(0)
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
