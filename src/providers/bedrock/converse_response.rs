//! A Converse answer into OpenAI's `chat.completion`, shaped as LiteLLM returns it: text blocks
//! joined into `content`, `toolUse` blocks as `tool_calls`, `reasoningContent` as
//! `reasoning_content` (and `thinking_blocks`, so clients can send them back), cache token
//! counts folded into `prompt_tokens`.

use crate::canonical::params::str_field;
use crate::providers::anthropic::response as anthropic;
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::{json, Value};

/// The OpenAI `chat.completion` for a Converse answer. Missing or odd fields degrade to empty
/// content and zero usage rather than failing: the upstream already answered 200.
pub fn to_openai_response(converse: &Value, alias: &str, created: u64) -> Value {
    let blocks = converse
        .pointer("/output/message/content")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    // Converse's blocks are Anthropic's under other names; its tool-use ids are `toolUseId`.
    let mut answer = anthropic::Answer::new("toolUseId");
    for block in blocks {
        if let Some(t) = block.get("text").and_then(Value::as_str) {
            answer.text.push_str(t);
        } else if let Some(tool) = block.get("toolUse") {
            answer.tool_uses.push(tool);
        } else if let Some(r) = block.get("reasoningContent") {
            if let Some(rt) = r.get("reasoningText") {
                let thought = str_field(rt, "text");
                let mut b = json!({"type": "thinking", "thinking": thought});
                if let Some(sig) = rt.get("signature").and_then(Value::as_str) {
                    b["signature"] = json!(sig);
                }
                answer.add_thinking(thought, b);
            } else if let Some(data) = r.get("redactedContent").and_then(Value::as_str) {
                let b = json!({"type": "redacted_thinking", "data": data});
                answer.thinking_blocks.push(b);
            }
        }
    }
    let stop_reason = converse
        .get("stopReason")
        .and_then(Value::as_str)
        .unwrap_or("end_turn");
    let (message, finish) = answer.into_message(finish_reason(stop_reason));
    let usage = converse.get("usage").unwrap_or(&Value::Null);
    json!({
        "id": completion_id(),
        "object": "chat.completion",
        "created": created,
        "model": alias,
        "choices": [{
            "index": 0,
            "message": message,
            "finish_reason": finish,
        }],
        "usage": openai_usage(usage),
    })
}

/// OpenAI's `finish_reason` for Converse's `stopReason`, as LiteLLM maps it (unknown → stop).
pub(crate) fn finish_reason(stop_reason: &str) -> &'static str {
    match stop_reason {
        "max_tokens" | "model_context_window_exceeded" => "length",
        "tool_use" => "tool_calls",
        "guardrail_intervened" | "content_filtered" => "content_filter",
        // `end_turn`, `stop_sequence` and anything new.
        _ => "stop",
    }
}

/// Converse's usage in Anthropic's field names, which the Anthropic translation already turns
/// into OpenAI's usage the way LiteLLM does (cache reads and writes count as prompt tokens).
fn as_anthropic_usage(usage: &Value) -> Value {
    let count = |field: &str| usage.get(field).and_then(Value::as_u64).unwrap_or(0);
    json!({
        "input_tokens": count("inputTokens"),
        "output_tokens": count("outputTokens"),
        "cache_read_input_tokens": count("cacheReadInputTokens"),
        "cache_creation_input_tokens": count("cacheWriteInputTokens"),
    })
}

/// OpenAI's `usage` for a Converse usage object.
pub(crate) fn openai_usage(usage: &Value) -> Value {
    anthropic::openai_usage(&as_anthropic_usage(usage))
}

/// A fresh `chatcmpl-...` id: Converse answers carry none.
pub(crate) fn completion_id() -> String {
    let mut bytes = [0u8; 12];
    // The system RNG failing leaves zeros: a duplicate id, not a failed answer.
    let _ = SystemRandom::new().fill(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("chatcmpl-{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = include_str!("../../../tests/fixtures/bedrock/converse_text.json");
    const TOOL: &str = include_str!("../../../tests/fixtures/bedrock/converse_tool_use.json");

    fn parse(s: &str) -> Value {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn text_answer_becomes_a_chat_completion() {
        let out = to_openai_response(&parse(TEXT), "my-claude", 1_700_000_000);
        assert!(out["id"].as_str().unwrap().starts_with("chatcmpl-"));
        assert_eq!(out["object"], "chat.completion");
        assert_eq!(out["created"], 1_700_000_000);
        assert_eq!(out["model"], "my-claude");
        let choice = &out["choices"][0];
        assert_eq!(choice["message"]["role"], "assistant");
        assert_eq!(
            choice["message"]["content"],
            "Hello! I'm Claude. How can I help you today?"
        );
        assert!(choice["message"].get("tool_calls").is_none());
        assert_eq!(choice["finish_reason"], "stop");
        let usage = &out["usage"];
        assert_eq!(usage["prompt_tokens"], 12 + 1024);
        assert_eq!(usage["completion_tokens"], 16);
        assert_eq!(usage["total_tokens"], 12 + 1024 + 16);
        assert_eq!(usage["prompt_tokens_details"]["cached_tokens"], 1024);
        assert_eq!(usage["cache_read_input_tokens"], 1024);
    }

    #[test]
    fn tool_use_becomes_tool_calls_with_json_arguments() {
        let out = to_openai_response(&parse(TOOL), "m", 0);
        let message = &out["choices"][0]["message"];
        assert_eq!(
            message["content"],
            "I'll check the weather in Seattle for you."
        );
        let call = &message["tool_calls"][0];
        assert_eq!(call["id"], "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q");
        assert_eq!(call["type"], "function");
        assert_eq!(call["function"]["name"], "get_weather");
        let args: Value =
            serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
        assert_eq!(args, json!({"city": "Seattle", "unit": "celsius"}));
        assert_eq!(out["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(out["usage"]["prompt_tokens"], 420);
        assert_eq!(out["usage"]["completion_tokens"], 78);
    }

    #[test]
    fn maps_every_stop_reason() {
        for (stop, want) in [
            ("end_turn", "stop"),
            ("stop_sequence", "stop"),
            ("max_tokens", "length"),
            ("model_context_window_exceeded", "length"),
            ("tool_use", "tool_calls"),
            ("guardrail_intervened", "content_filter"),
            ("content_filtered", "content_filter"),
            ("something_new", "stop"),
        ] {
            let mut answer = parse(TEXT);
            answer["stopReason"] = json!(stop);
            let out = to_openai_response(&answer, "a", 0);
            assert_eq!(out["choices"][0]["finish_reason"], want, "{stop}");
        }
    }

    #[test]
    fn reasoning_becomes_reasoning_content_and_thinking_blocks() {
        let answer = json!({
            "output": {"message": {"role": "assistant", "content": [
                {"reasoningContent": {"reasoningText": {"text": "Let me think.", "signature": "sig"}}},
                {"reasoningContent": {"redactedContent": "cmVkYWN0ZWQ="}},
                {"text": "Answer."}
            ]}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": 5, "outputTokens": 7, "totalTokens": 12}
        });
        let message = &to_openai_response(&answer, "a", 0)["choices"][0]["message"];
        assert_eq!(message["content"], "Answer.");
        assert_eq!(message["reasoning_content"], "Let me think.");
        assert_eq!(
            message["thinking_blocks"],
            json!([
                {"type": "thinking", "thinking": "Let me think.", "signature": "sig"},
                {"type": "redacted_thinking", "data": "cmVkYWN0ZWQ="}
            ])
        );
    }

    #[test]
    fn json_mode_tool_input_becomes_the_content() {
        let answer = json!({
            "output": {"message": {"role": "assistant", "content": [
                {"toolUse": {"toolUseId": "t1", "name": "json_tool_call", "input": {"city": "Paris"}}}
            ]}},
            "stopReason": "tool_use",
            "usage": {"inputTokens": 1, "outputTokens": 2, "totalTokens": 3}
        });
        let out = to_openai_response(&answer, "a", 0);
        assert_eq!(
            out["choices"][0]["message"]["content"],
            r#"{"city":"Paris"}"#
        );
        assert!(out["choices"][0]["message"].get("tool_calls").is_none());
        assert_eq!(out["choices"][0]["finish_reason"], "stop");
    }

    #[test]
    fn odd_bodies_do_not_panic() {
        for body in [
            json!(null),
            json!([]),
            json!({"output": {"message": {"content": "x"}}, "usage": 3}),
            json!({"output": {"message": {"content": [{"toolUse": 1}, {"reasoningContent": {}}, 5]}}}),
        ] {
            let out = to_openai_response(&body, "a", 0);
            assert_eq!(out["usage"]["total_tokens"], 0);
            assert_eq!(out["model"], "a");
        }
    }
}
