//! Anthropic's Messages stream into OpenAI `chat.completion.chunk` events.
//!
//! Anthropic numbers content blocks (text, thinking, tool use) in one sequence; OpenAI numbers
//! tool calls on their own from 0. The decoder keeps that mapping per block, accumulates usage
//! (Anthropic's `message_delta` counts are cumulative), and ends the stream with `[DONE]`
//! exactly once whether or not the upstream said `message_stop`.

use super::error::{openai_kind, openai_status, status_for_type};
use super::request::JSON_MODE_TOOL;
use super::response::{finish_reason, openai_usage, token_counts};
use crate::canonical::chunks::ChunkWriter;
use crate::canonical::params::str_field;
use crate::canonical::sse::{EventSplitter, SseDecoder};
use crate::error::{kind_for_status, GatewayError};
use bytes::BytesMut;
use serde_json::{json, Value};
use std::collections::HashMap;

/// Anthropic's stream (and Converse's, through `ToolBlocks`) has one choice.
const CHOICE: u64 = 0;

pub struct StreamDecoder {
    splitter: EventSplitter,
    chunks: ChunkWriter,
    /// Anthropic's usage fields, latest value of each.
    usage: Option<Value>,
    tool_blocks: ToolBlocks,
}

impl StreamDecoder {
    pub fn new(alias: &str, include_usage: bool, created: u64) -> Self {
        StreamDecoder {
            splitter: EventSplitter::default(),
            chunks: ChunkWriter::new(alias, include_usage, created),
            usage: None,
            tool_blocks: ToolBlocks::default(),
        }
    }

    pub fn feed(&mut self, chunk: &[u8], out: &mut BytesMut) {
        self.feed_sse(chunk, out);
    }

    pub fn finish(&mut self, out: &mut BytesMut) {
        self.finish_sse(out);
    }

    /// Set once an event outgrew the splitter's bound.
    pub fn failure(&self) -> Option<GatewayError> {
        self.splitter.failure()
    }

    /// `(prompt_tokens, completion_tokens)` once the upstream has reported any usage.
    pub fn usage(&self) -> Option<(u64, u64)> {
        self.usage.as_ref().map(token_counts)
    }

    fn block_start(&mut self, data: &Value, out: &mut BytesMut) {
        let index = data.get("index").and_then(Value::as_u64).unwrap_or(0);
        let block = data.get("content_block").unwrap_or(&Value::Null);
        match block.get("type").and_then(Value::as_str) {
            Some("text") => self.write_text("content", str_field(block, "text"), out),
            Some("thinking") => {
                self.write_text("reasoning_content", str_field(block, "thinking"), out)
            }
            Some("tool_use") => {
                let (id, name) = (str_field(block, "id"), str_field(block, "name"));
                self.tool_blocks
                    .start(index, id, name, &mut self.chunks, out);
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
                self.tool_blocks
                    .write_input(index, fragment, &mut self.chunks, out);
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

    fn write_text(&mut self, field: &str, text: &str, out: &mut BytesMut) {
        self.chunks.text(CHOICE, field, text, out);
    }

    fn write_finish(&mut self, stop_reason: &str, out: &mut BytesMut) {
        let reason = self.tool_blocks.finish_reason(finish_reason(stop_reason));
        self.chunks.finish(CHOICE, reason, out);
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
        let error = GatewayError::new(status, kind, message);
        self.chunks.error(&error, out);
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
        // Not JSON (or not ours): nothing an OpenAI client could use.
        let Ok(data) = serde_json::from_slice::<Value>(data) else {
            return;
        };
        match data.get("type").and_then(Value::as_str) {
            Some("message_start") => {
                let message = data.get("message").unwrap_or(&Value::Null);
                if let Some(id) = message.get("id").and_then(Value::as_str) {
                    self.chunks.set_id(id);
                }
                self.merge_usage(message.get("usage"));
                self.chunks.start(CHOICE, out);
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
            Some("message_stop") => self.on_end(out),
            Some("error") => self.write_error(data.get("error"), out),
            // `ping`, `content_block_stop` and event types Anthropic may add later.
            _ => {}
        }
    }

    /// The end of the answer: the usage chunk if asked for, then `[DONE]`, once.
    fn on_end(&mut self, out: &mut BytesMut) {
        self.chunks
            .close(|| self.usage.as_ref().map(openai_usage), out);
    }
}

/// Tool-use content blocks as OpenAI tool calls. Anthropic numbers content blocks (text,
/// thinking, tool use) in one sequence, and Converse does the same (converse_stream.rs); OpenAI
/// numbers tool calls on their own from 0. The forced JSON-mode tool is no call: its input
/// streams as plain content (see request.rs).
#[derive(Default)]
pub(crate) struct ToolBlocks {
    blocks: HashMap<u64, ToolBlock>,
    calls: usize,
}

/// What a tool-use content block turned into on the OpenAI side.
enum ToolBlock {
    /// A client tool call, with its OpenAI `tool_calls[].index`.
    Call(usize),
    JsonAnswer,
}

impl ToolBlocks {
    /// A tool-use block starts: a client tool's call gets its index, id and name written.
    pub fn start(
        &mut self,
        block: u64,
        id: &str,
        name: &str,
        chunks: &mut ChunkWriter,
        out: &mut BytesMut,
    ) {
        if name == JSON_MODE_TOOL {
            self.blocks.insert(block, ToolBlock::JsonAnswer);
            return;
        }
        let call = self.calls;
        self.calls += 1;
        self.blocks.insert(block, ToolBlock::Call(call));
        chunks.tool_call_start(CHOICE, call, id, name, "", out);
    }

    /// More of a tool-use block's input: argument text of its call, or JSON mode's content.
    pub fn write_input(
        &self,
        block: u64,
        fragment: &str,
        chunks: &mut ChunkWriter,
        out: &mut BytesMut,
    ) {
        match self.blocks.get(&block) {
            Some(ToolBlock::Call(call)) => chunks.tool_call_arguments(CHOICE, *call, fragment, out),
            Some(ToolBlock::JsonAnswer) => chunks.text(CHOICE, "content", fragment, out),
            None => {}
        }
    }

    /// The finish reason to report: when only the JSON-mode tool was used, the client asked
    /// for a plain answer and got one.
    pub fn finish_reason(&self, reason: &'static str) -> &'static str {
        if reason == "tool_calls" && self.calls == 0 && !self.blocks.is_empty() {
            "stop"
        } else {
            reason
        }
    }
}

#[cfg(test)]
mod tests;
