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
use crate::canonical::chunks::ChunkWriter;
use crate::canonical::params::str_field;
use crate::error::{kind_for_status, GatewayError};
use crate::providers::anthropic::stream::ToolBlocks;
use crate::providers::StreamTranslator;
use bytes::BytesMut;
use serde_json::Value;

/// Converse streams one choice.
const CHOICE: u64 = 0;

pub struct StreamDecoder {
    events: EventStreamDecoder,
    chunks: ChunkWriter,
    /// Converse's usage object from the `metadata` event.
    usage: Option<Value>,
    /// Converse's content blocks are Anthropic's, tool use and JSON mode alike.
    tool_blocks: ToolBlocks,
    /// A frame could not be decoded (bad CRC, length over the bound): nothing more is read
    /// or written, and the gateway ends the answer with this.
    failure: Option<GatewayError>,
}

impl StreamDecoder {
    pub fn new(alias: &str, include_usage: bool, created: u64) -> Self {
        let mut chunks = ChunkWriter::new(alias, include_usage, created);
        // Converse names no id for the answer.
        chunks.set_id(completion_id());
        StreamDecoder {
            events: EventStreamDecoder::default(),
            chunks,
            usage: None,
            tool_blocks: ToolBlocks::default(),
            failure: None,
        }
    }

    pub fn feed(&mut self, chunk: &[u8], out: &mut BytesMut) {
        if self.chunks.is_done() || self.failure.is_some() {
            return;
        }
        self.events.push(chunk);
        loop {
            match self.events.next_message() {
                Ok(Some(message)) => self.handle_message(&message, out),
                Ok(None) => break,
                Err(e) => {
                    let text = format!("malformed event stream from Bedrock: {e}");
                    self.failure = Some(GatewayError::new(502, "api_error", text));
                    break;
                }
            }
            if self.chunks.is_done() {
                break;
            }
        }
    }

    pub fn finish(&mut self, out: &mut BytesMut) {
        if self.failure.is_some() {
            return;
        }
        if !self.chunks.is_done() && self.events.buffered() > 0 {
            let text = "Bedrock stream ended inside an event";
            self.write_error(502, "api_error", text, out);
        }
        self.chunks
            .close(|| self.usage.as_ref().map(openai_usage), out);
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
            Some("messageStart") => self.chunks.start(CHOICE, out),
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
        let (id, name) = (str_field(tool, "toolUseId"), str_field(tool, "name"));
        self.tool_blocks
            .start(index, id, name, &mut self.chunks, out);
    }

    fn block_delta(&mut self, payload: &Value, out: &mut BytesMut) {
        let delta = payload.get("delta").unwrap_or(&Value::Null);
        if let Some(text) = delta.get("text").and_then(Value::as_str) {
            self.chunks.text(CHOICE, "content", text, out);
        } else if let Some(reasoning) = delta.get("reasoningContent") {
            // Signatures and redacted reasoning have no OpenAI delta.
            let text = str_field(reasoning, "text");
            self.chunks.text(CHOICE, "reasoning_content", text, out);
        } else if let Some(tool) = delta.get("toolUse") {
            let fragment = str_field(tool, "input");
            let block = block_index(payload);
            self.tool_blocks
                .write_input(block, fragment, &mut self.chunks, out);
        }
    }

    fn write_finish(&mut self, stop_reason: &str, out: &mut BytesMut) {
        let reason = self.tool_blocks.finish_reason(finish_reason(stop_reason));
        self.chunks.finish(CHOICE, reason, out);
    }

    fn write_error(&mut self, status: u16, kind: &'static str, text: &str, out: &mut BytesMut) {
        self.chunks
            .error(&GatewayError::new(status, kind, text), out);
    }
}

impl StreamTranslator for StreamDecoder {
    fn feed(&mut self, chunk: &[u8], out: &mut BytesMut) {
        StreamDecoder::feed(self, chunk, out);
    }

    fn finish(&mut self, out: &mut BytesMut) {
        StreamDecoder::finish(self, out);
    }

    fn failure(&mut self) -> Option<GatewayError> {
        self.failure.clone()
    }
}

fn block_index(payload: &Value) -> u64 {
    payload
        .get("contentBlockIndex")
        .and_then(Value::as_u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests;
