//! A complete Anthropic Message into OpenAI's `chat.completion`, shaped as LiteLLM returns it:
//! text blocks joined into `content`, `tool_use` blocks as `tool_calls`, thinking blocks as
//! `reasoning_content`, cache token counts folded into `prompt_tokens`.

use super::request::JSON_MODE_TOOL;
use crate::canonical::params::str_field;
use serde_json::{json, Map, Value};

/// The OpenAI `chat.completion` for an Anthropic Message. Missing or odd fields degrade to
/// empty content and zero usage rather than failing: the upstream already answered 200.
pub fn to_openai_response(anthropic: &Value, alias: &str, created: u64) -> Value {
    let blocks = anthropic
        .get("content")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut answer = Answer::new("id");
    for block in blocks {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => answer.text.push_str(str_field(block, "text")),
            Some("tool_use") => answer.tool_uses.push(block),
            Some("thinking") => answer.add_thinking(str_field(block, "thinking"), block.clone()),
            Some("redacted_thinking") => answer.thinking_blocks.push(block.clone()),
            _ => {}
        }
    }
    let stop_reason = anthropic
        .get("stop_reason")
        .and_then(Value::as_str)
        .unwrap_or("end_turn");
    let (message, finish) = answer.into_message(finish_reason(stop_reason));
    let usage = anthropic.get("usage").cloned().unwrap_or_else(|| json!({}));
    json!({
        "id": anthropic.get("id").and_then(Value::as_str).unwrap_or_default(),
        "object": "chat.completion",
        "created": created,
        "model": alias,
        "choices": [{
            "index": 0,
            "message": message,
            "finish_reason": finish,
        }],
        "usage": openai_usage(&usage),
    })
}

/// An answer's content blocks, gathered: Anthropic's, or Converse's, which hold the same
/// blocks under other names (converse_response.rs), so both become OpenAI's message here.
pub(crate) struct Answer<'a> {
    pub text: String,
    pub reasoning: Option<String>,
    /// Kept so clients can send them back on the next turn, as Anthropic requires with
    /// thinking and tool use.
    pub thinking_blocks: Vec<Value>,
    /// Tool-use blocks: `name`, `input`, and the call's id under `id_field`.
    pub tool_uses: Vec<&'a Value>,
    id_field: &'static str,
}

impl<'a> Answer<'a> {
    pub fn new(id_field: &'static str) -> Self {
        Answer {
            text: String::new(),
            reasoning: None,
            thinking_blocks: Vec::new(),
            tool_uses: Vec::new(),
            id_field,
        }
    }

    /// A thinking block: its text joins `reasoning_content`, the block itself is kept.
    pub fn add_thinking(&mut self, thought: &str, block: Value) {
        self.reasoning
            .get_or_insert_with(String::new)
            .push_str(thought);
        self.thinking_blocks.push(block);
    }

    /// OpenAI's assistant message and the `finish_reason` to report with it.
    pub fn into_message(mut self, mut finish: &'static str) -> (Value, &'static str) {
        if let [only] = self.tool_uses.as_slice() {
            if str_field(only, "name") == JSON_MODE_TOOL {
                // JSON mode: the forced tool's input is the answer (see request.rs, and
                // converse.rs for Bedrock).
                let input = only.get("input").cloned().unwrap_or_else(|| json!({}));
                self.text = input.to_string();
                self.tool_uses.clear();
                finish = "stop";
            }
        }
        let mut message = Map::new();
        message.insert("role".into(), json!("assistant"));
        let content = if self.text.is_empty() {
            Value::Null
        } else {
            Value::String(self.text)
        };
        message.insert("content".into(), content);
        if !self.tool_uses.is_empty() {
            let id_field = self.id_field;
            let calls = self
                .tool_uses
                .iter()
                .map(|t| tool_call(t, id_field))
                .collect();
            message.insert("tool_calls".into(), Value::Array(calls));
        }
        if let Some(reasoning) = self.reasoning {
            message.insert("reasoning_content".into(), Value::String(reasoning));
        }
        if !self.thinking_blocks.is_empty() {
            message.insert("thinking_blocks".into(), Value::Array(self.thinking_blocks));
        }
        (Value::Object(message), finish)
    }
}

/// OpenAI's `finish_reason` for Anthropic's `stop_reason`, as LiteLLM maps it (unknown → stop).
pub(crate) fn finish_reason(stop_reason: &str) -> &'static str {
    match stop_reason {
        "max_tokens" | "model_context_window_exceeded" | "compaction" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        // `end_turn`, `stop_sequence`, `pause_turn` and anything new.
        _ => "stop",
    }
}

/// `(prompt_tokens, completion_tokens)` of an Anthropic usage object: cache reads and cache
/// writes are prompt tokens too.
pub(crate) fn token_counts(usage: &Value) -> (u64, u64) {
    // Saturating: the counts are the upstream's numbers, any size.
    let prompt = count(usage, "input_tokens")
        .saturating_add(count(usage, "cache_read_input_tokens"))
        .saturating_add(count(usage, "cache_creation_input_tokens"));
    (prompt, count(usage, "output_tokens"))
}

/// OpenAI's `usage` for an Anthropic usage object, with LiteLLM's extra cache fields.
pub(crate) fn openai_usage(usage: &Value) -> Value {
    let (prompt, completion) = token_counts(usage);
    let cache_read = count(usage, "cache_read_input_tokens");
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt.saturating_add(completion),
        "prompt_tokens_details": {"cached_tokens": cache_read},
        "cache_creation_input_tokens": count(usage, "cache_creation_input_tokens"),
        "cache_read_input_tokens": cache_read,
    })
}

fn tool_call(tool: &Value, id_field: &str) -> Value {
    let input = tool.get("input").cloned().unwrap_or_else(|| json!({}));
    json!({
        "id": str_field(tool, id_field),
        "type": "function",
        "function": {"name": str_field(tool, "name"), "arguments": input.to_string()},
    })
}

fn count(usage: &Value, field: &str) -> u64 {
    usage.get(field).and_then(Value::as_u64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_token_counts_saturate() {
        // The same overflow the fuzzer found in Vertex's embedding counts.
        let max = u64::MAX;
        let usage =
            json!({"input_tokens": max, "cache_read_input_tokens": 1, "output_tokens": max});
        assert_eq!(token_counts(&usage), (max, max));
        assert_eq!(openai_usage(&usage)["total_tokens"], max);
    }

    const TEXT: &str = include_str!("../../../tests/fixtures/anthropic/message_text.json");
    const TOOL: &str = include_str!("../../../tests/fixtures/anthropic/message_tool_use.json");

    fn parse(s: &str) -> Value {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn text_message_becomes_chat_completion() {
        let out = to_openai_response(&parse(TEXT), "claude", 1700000000);
        assert_eq!(out["id"], "msg_013Zva2CMHLNnXjNJJKqJ2EF");
        assert_eq!(out["object"], "chat.completion");
        assert_eq!(out["created"], 1700000000);
        assert_eq!(out["model"], "claude");
        let choice = &out["choices"][0];
        assert_eq!(choice["index"], 0);
        assert_eq!(choice["message"]["role"], "assistant");
        assert_eq!(choice["message"]["content"], "Hi! My name is Claude.");
        assert!(choice["message"].get("tool_calls").is_none());
        assert_eq!(choice["finish_reason"], "stop");
    }

    #[test]
    fn usage_counts_cache_reads_and_writes_as_prompt_tokens() {
        let usage = &to_openai_response(&parse(TEXT), "claude", 0)["usage"];
        assert_eq!(usage["prompt_tokens"], 2095 + 2051 + 2051);
        assert_eq!(usage["completion_tokens"], 503);
        assert_eq!(usage["total_tokens"], 2095 + 2051 + 2051 + 503);
        assert_eq!(usage["prompt_tokens_details"]["cached_tokens"], 2051);
        assert_eq!(usage["cache_creation_input_tokens"], 2051);
        assert_eq!(usage["cache_read_input_tokens"], 2051);
    }

    #[test]
    fn tool_use_becomes_tool_calls_with_json_arguments() {
        let out = to_openai_response(&parse(TOOL), "claude", 0);
        let message = &out["choices"][0]["message"];
        assert_eq!(
            message["content"],
            "I'll check the current weather in San Francisco for you."
        );
        let call = &message["tool_calls"][0];
        assert_eq!(call["id"], "toolu_01A09q90qw90lq917835lq9");
        assert_eq!(call["type"], "function");
        assert_eq!(call["function"]["name"], "get_weather");
        let args: Value =
            serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
        assert_eq!(
            args,
            json!({"location": "San Francisco, CA", "unit": "celsius"})
        );
        assert_eq!(out["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(out["usage"]["prompt_tokens"], 384);
        assert_eq!(out["usage"]["completion_tokens"], 95);
    }

    #[test]
    fn content_is_null_when_only_tool_use() {
        let mut msg = parse(TOOL);
        msg["content"].as_array_mut().unwrap().remove(0);
        let out = to_openai_response(&msg, "claude", 0);
        assert!(out["choices"][0]["message"]["content"].is_null());
        assert_eq!(
            out["choices"][0]["message"]["tool_calls"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn maps_every_stop_reason() {
        for (stop, want) in [
            ("end_turn", "stop"),
            ("stop_sequence", "stop"),
            ("max_tokens", "length"),
            ("tool_use", "tool_calls"),
            ("refusal", "content_filter"),
            ("pause_turn", "stop"),
            ("something_new", "stop"),
        ] {
            let mut msg = parse(TEXT);
            msg["stop_reason"] = json!(stop);
            let out = to_openai_response(&msg, "a", 0);
            assert_eq!(out["choices"][0]["finish_reason"], want, "{stop}");
        }
    }

    #[test]
    fn thinking_blocks_become_reasoning_content() {
        let msg = json!({
            "id": "msg_1", "type": "message", "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "Let me think.", "signature": "sig"},
                {"type": "redacted_thinking", "data": "abc"},
                {"type": "text", "text": "Answer."}
            ],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": 5, "output_tokens": 7}
        });
        let message = &to_openai_response(&msg, "a", 0)["choices"][0]["message"];
        assert_eq!(message["content"], "Answer.");
        assert_eq!(message["reasoning_content"], "Let me think.");
        assert_eq!(message["thinking_blocks"].as_array().unwrap().len(), 2);
        assert_eq!(message["thinking_blocks"][0]["signature"], "sig");
    }

    #[test]
    fn json_mode_tool_input_becomes_the_content() {
        let msg = json!({
            "id": "msg_2",
            "content": [{"type": "tool_use", "id": "toolu_1", "name": "json_tool_call",
                         "input": {"city": "Paris"}}],
            "stop_reason": "tool_use",
            "usage": {"input_tokens": 1, "output_tokens": 2}
        });
        let out = to_openai_response(&msg, "a", 0);
        let message = &out["choices"][0]["message"];
        assert_eq!(message["content"], r#"{"city":"Paris"}"#);
        assert!(message.get("tool_calls").is_none());
        assert_eq!(out["choices"][0]["finish_reason"], "stop");
    }

    #[test]
    fn odd_bodies_do_not_panic() {
        for body in [json!(null), json!([]), json!({"content": "x", "usage": 3})] {
            let out = to_openai_response(&body, "a", 0);
            assert!(out["choices"][0]["message"]["content"].is_null());
            assert_eq!(out["usage"]["total_tokens"], 0);
        }
    }
}
