//! OpenAI `chat.completion.chunk` events into Anthropic's Messages stream.
//!
//! Anthropic's stream is a strict sequence: `message_start`; per content block a
//! `content_block_start`, its deltas and a `content_block_stop`; then `message_delta` (stop
//! reason and usage) and `message_stop`. OpenAI interleaves text and tool-call deltas freely,
//! so the converter keeps one block open at a time and closes it when the kind of delta
//! changes (text, thinking, or a new tool call). The stop reason arrives before the usage
//! chunk (`stream_options.include_usage`), so `message_delta` waits for the usage, `[DONE]`
//! or the end of the stream, as LiteLLM's adapter does.
//!
//! Fragments for a tool call whose block was already closed (parallel calls streamed
//! interleaved, which OpenAI does not do) cannot be placed in Anthropic's sequence; they are
//! dropped.

mod events;

use super::error_type;
use super::response::{anthropic_usage, message_id, stop_reason, tool_use_id, Usage};
use crate::canonical::sse::{event_data, EventSplitter};
use crate::error::GatewayError;
use crate::providers::StreamTranslator;
use bytes::BytesMut;
use events::{write_event, Block, Delta, ErrorBody, Event, MessageStart, StopDelta};
use serde_json::{Map, Value};
use std::collections::HashSet;

/// What the open content block holds.
#[derive(Clone, Copy, PartialEq)]
enum Open {
    Text,
    Thinking,
    /// A tool call, by its OpenAI `tool_calls[].index`.
    Tool(u64),
}

pub struct OpenAiToAnthropicStream {
    splitter: EventSplitter,
    model: String,
    /// `message_start` has been written.
    started: bool,
    /// The open block and its Anthropic index.
    open: Option<(usize, Open)>,
    next_index: usize,
    /// OpenAI tool-call indexes that have had a block.
    tools_seen: HashSet<u64>,
    stop_reason: Option<&'static str>,
    /// The latest OpenAI `usage` object.
    usage: Option<Value>,
    /// `message_stop` or `error` has been written; everything after is ignored.
    done: bool,
}

impl OpenAiToAnthropicStream {
    pub fn new(requested_model: &str) -> Self {
        OpenAiToAnthropicStream {
            splitter: EventSplitter::default(),
            model: requested_model.to_string(),
            started: false,
            open: None,
            next_index: 0,
            tools_seen: HashSet::new(),
            stop_reason: None,
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

    /// The upstream ended: close whatever is open and end the message.
    pub fn finish(&mut self, out: &mut BytesMut) {
        if self.splitter.overflowed() {
            return;
        }
        if let Some(rest) = self.splitter.take_rest() {
            self.handle_event(&rest, out);
        }
        self.end_message(out);
    }

    /// `(prompt_tokens, completion_tokens)` once the provider has reported usage.
    pub fn usage(&self) -> Option<(u64, u64)> {
        let usage = anthropic_usage(self.usage.as_ref()?);
        let prompt = usage
            .input_tokens
            .saturating_add(usage.cache_read_input_tokens.unwrap_or(0))
            .saturating_add(usage.cache_creation_input_tokens.unwrap_or(0));
        Some((prompt, usage.output_tokens))
    }

    fn handle_event(&mut self, event: &[u8], out: &mut BytesMut) {
        if self.done {
            return;
        }
        let Some(data) = event_data(event) else {
            return;
        };
        if data.trim_ascii() == b"[DONE]" {
            self.end_message(out);
            return;
        }
        let Ok(chunk) = serde_json::from_slice::<Value>(&data) else {
            return;
        };
        if let Some(error) = chunk.get("error").filter(|e| !e.is_null()) {
            self.write_error(error, out);
            return;
        }
        self.start_message(&chunk, out);
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            self.usage = Some(usage.clone());
        }
        let choice = chunk.pointer("/choices/0").unwrap_or(&Value::Null);
        let delta = choice.get("delta").unwrap_or(&Value::Null);
        self.write_text(Open::Thinking, str_field(delta, "reasoning_content"), out);
        self.write_text(Open::Text, str_field(delta, "content"), out);
        self.write_text(Open::Text, str_field(delta, "refusal"), out);
        for call in delta
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            self.write_tool_call(call, out);
        }
        if let Some(finish) = choice.get("finish_reason").and_then(Value::as_str) {
            self.close_block(out);
            self.stop_reason = Some(stop_reason(finish));
        }
        // Usage with (or after) the stop reason is all `message_delta` waits for.
        if self.stop_reason.is_some() && self.usage.is_some() {
            self.end_message(out);
        }
    }

    fn start_message(&mut self, chunk: &Value, out: &mut BytesMut) {
        if self.started {
            return;
        }
        self.started = true;
        let id = message_id(str_field(chunk, "id"));
        // Anthropic reports the cache fields from the start; OpenAI streams know the counts
        // only at the end, so they start at zero (input tokens too, unless already known).
        let known = chunk.get("usage").map(anthropic_usage).unwrap_or_default();
        let usage = Usage {
            input_tokens: known.input_tokens,
            cache_creation_input_tokens: Some(0),
            cache_read_input_tokens: Some(0),
            output_tokens: 0,
        };
        let message = MessageStart {
            id: &id,
            kind: "message",
            role: "assistant",
            model: &self.model,
            content: [],
            stop_reason: None,
            stop_sequence: None,
            usage,
        };
        write_event(&Event::MessageStart { message }, out);
    }

    fn write_text(&mut self, kind: Open, text: &str, out: &mut BytesMut) {
        if text.is_empty() {
            return;
        }
        let index = self.ensure_block(kind, out, |kind| match kind {
            Open::Thinking => Block::Thinking {
                thinking: "",
                signature: "",
            },
            _ => Block::Text { text: "" },
        });
        let delta = match kind {
            Open::Thinking => Delta::Thinking { thinking: text },
            _ => Delta::Text { text },
        };
        write_event(&Event::ContentBlockDelta { index, delta }, out);
    }

    fn write_tool_call(&mut self, call: &Value, out: &mut BytesMut) {
        let tool = call.get("index").and_then(Value::as_u64).unwrap_or(0);
        let is_open = matches!(self.open, Some((_, Open::Tool(t))) if t == tool);
        if !is_open && !self.tools_seen.insert(tool) {
            // Its block is closed: Anthropic blocks cannot be reopened.
            return;
        }
        let function = call.get("function").unwrap_or(&Value::Null);
        let id = tool_use_id(str_field(call, "id"));
        let name = str_field(function, "name");
        let index = self.ensure_block(Open::Tool(tool), out, |_| Block::ToolUse {
            id: &id,
            name,
            input: Map::new(),
        });
        let fragment = str_field(function, "arguments");
        if !fragment.is_empty() {
            let delta = Delta::InputJson {
                partial_json: fragment,
            };
            write_event(&Event::ContentBlockDelta { index, delta }, out);
        }
    }

    /// The index of an open block of `kind`, opening one (and closing another) if needed.
    fn ensure_block<'b>(
        &mut self,
        kind: Open,
        out: &mut BytesMut,
        block: impl FnOnce(Open) -> Block<'b>,
    ) -> usize {
        if let Some((index, open)) = self.open {
            if open == kind {
                return index;
            }
        }
        self.close_block(out);
        let index = self.next_index;
        self.next_index += 1;
        self.open = Some((index, kind));
        let content_block = block(kind);
        write_event(
            &Event::ContentBlockStart {
                index,
                content_block,
            },
            out,
        );
        index
    }

    fn close_block(&mut self, out: &mut BytesMut) {
        if let Some((index, _)) = self.open.take() {
            write_event(&Event::ContentBlockStop { index }, out);
        }
    }

    /// `message_delta` and `message_stop`, once.
    fn end_message(&mut self, out: &mut BytesMut) {
        if self.done {
            return;
        }
        self.start_message(&Value::Null, out);
        self.close_block(out);
        self.done = true;
        let usage = self.usage.as_ref().map(anthropic_usage).unwrap_or_default();
        let delta = StopDelta {
            stop_reason: self.stop_reason.unwrap_or("end_turn"),
            stop_sequence: None,
        };
        write_event(&Event::MessageDelta { delta, usage }, out);
        write_event(&Event::MessageStop, out);
    }

    /// An OpenAI error event (`{"error": {message, type, code}}`) as Anthropic's `error` event,
    /// which ends the stream as Anthropic's does.
    fn write_error(&mut self, error: &Value, out: &mut BytesMut) {
        self.done = true;
        let status = match error.get("code") {
            Some(Value::String(s)) => s.parse().ok(),
            Some(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
            None => None,
        };
        let kind = match status {
            Some(status) => error_type(status),
            None => match str_field(error, "type") {
                "rate_limit_error" => "rate_limit_error",
                "authentication_error" => "authentication_error",
                "invalid_request_error" => "invalid_request_error",
                _ => "api_error",
            },
        };
        let message = match (error.get("message"), error.as_str()) {
            (Some(Value::String(m)), _) => m.as_str(),
            (_, Some(text)) => text,
            _ => "The provider's stream failed.",
        };
        let error = ErrorBody { kind, message };
        write_event(&Event::Error { error }, out);
    }
}

impl StreamTranslator for OpenAiToAnthropicStream {
    fn feed(&mut self, chunk: &[u8], out: &mut BytesMut) {
        OpenAiToAnthropicStream::feed(self, chunk, out);
    }

    fn finish(&mut self, out: &mut BytesMut) {
        OpenAiToAnthropicStream::finish(self, out);
    }

    fn failure(&mut self) -> Option<GatewayError> {
        self.splitter.failure()
    }
}

fn str_field<'a>(v: &'a Value, field: &str) -> &'a str {
    v.get(field).and_then(Value::as_str).unwrap_or_default()
}

#[cfg(test)]
mod tests;
