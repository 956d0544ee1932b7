//! A complete Cohere v2 chat response into OpenAI's `chat.completion`: text items joined into
//! `content`, thinking items as `reasoning_content`, `tool_calls` kept (arguments as a JSON
//! string), `finish_reason` mapped as LiteLLM does, usage from `usage.tokens` (what the model
//! processed; `billed_units` only when `tokens` is missing).
//!
//! Cohere's `tool_plan` (its reasoning before calling tools) has no OpenAI field and is left
//! out, as LiteLLM does; so are citations.

use crate::canonical::params::str_field;
use serde_json::{json, Map, Value};

/// The OpenAI `chat.completion` for a Cohere chat response. Missing or odd fields degrade to
/// empty content and zero usage rather than failing: the upstream already answered 200.
pub fn to_openai_response(cohere: &Value, alias: &str, created: u64) -> Value {
    let message = cohere.get("message").unwrap_or(&Value::Null);
    let mut text = String::new();
    let mut reasoning: Option<String> = None;
    for item in message
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match item.get("type").and_then(Value::as_str) {
            Some("text") => text.push_str(str_field(item, "text")),
            Some("thinking") => reasoning
                .get_or_insert_with(String::new)
                .push_str(str_field(item, "thinking")),
            _ => {}
        }
    }
    let calls: Vec<Value> = message
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(tool_call)
        .collect();

    let mut out = Map::new();
    out.insert("role".into(), json!("assistant"));
    let content = if text.is_empty() {
        Value::Null
    } else {
        Value::String(text)
    };
    out.insert("content".into(), content);
    if let Some(reasoning) = reasoning {
        out.insert("reasoning_content".into(), Value::String(reasoning));
    }
    let reason = cohere
        .get("finish_reason")
        .and_then(Value::as_str)
        .unwrap_or("COMPLETE");
    let mut finish = finish_reason(reason);
    if !calls.is_empty() {
        out.insert("tool_calls".into(), Value::Array(calls));
        // Calls were made: clients look for `tool_calls` to run them.
        if finish == "stop" {
            finish = "tool_calls";
        }
    }
    let usage = cohere.get("usage").unwrap_or(&Value::Null);
    json!({
        "id": str_field(cohere, "id"),
        "object": "chat.completion",
        "created": created,
        "model": alias,
        "choices": [{"index": 0, "message": Value::Object(out), "finish_reason": finish}],
        "usage": openai_usage(usage),
    })
}

/// OpenAI's `finish_reason` for Cohere's, as LiteLLM maps them, except that `TOOL_CALL` is
/// `tool_calls` (LiteLLM falls back to `stop` there, which hides the calls from clients).
/// `ERROR` and `TIMEOUT` end the answer as it stands: `stop`, as in LiteLLM.
pub(crate) fn finish_reason(cohere: &str) -> &'static str {
    match cohere {
        "MAX_TOKENS" => "length",
        "TOOL_CALL" => "tool_calls",
        "ERROR_TOXIC" => "content_filter",
        // `COMPLETE`, `STOP_SEQUENCE`, `ERROR`, `TIMEOUT` and anything new.
        _ => "stop",
    }
}

/// `(prompt_tokens, completion_tokens)` of a Cohere usage object.
pub(crate) fn token_counts(usage: &Value) -> (u64, u64) {
    let counts = usage
        .get("tokens")
        .filter(|t| t.is_object())
        .or_else(|| usage.get("billed_units"))
        .unwrap_or(&Value::Null);
    (
        count(counts, "input_tokens"),
        count(counts, "output_tokens"),
    )
}

/// OpenAI's `usage`, with Cohere's cached prompt tokens where it reports them.
pub(crate) fn openai_usage(usage: &Value) -> Value {
    let (prompt, completion) = token_counts(usage);
    let mut out = json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt.saturating_add(completion),
    });
    if usage.get("cached_tokens").is_some() {
        out["prompt_tokens_details"] = json!({"cached_tokens": count(usage, "cached_tokens")});
    }
    out
}

fn tool_call(call: &Value) -> Value {
    let function = call.get("function").unwrap_or(&Value::Null);
    let arguments = match function.get("arguments") {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => "{}".to_string(),
        Some(other) => other.to_string(),
    };
    json!({
        "id": str_field(call, "id"),
        "type": "function",
        "function": {"name": str_field(function, "name"), "arguments": arguments},
    })
}

/// Token counts arrive as integers, or as floats (`37.0`) from some Cohere deployments.
pub(crate) fn count(v: &Value, field: &str) -> u64 {
    match v.get(field) {
        Some(n) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
            .unwrap_or(0),
        None => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = include_str!("../../../tests/fixtures/cohere/chat_text.json");
    const TOOL: &str = include_str!("../../../tests/fixtures/cohere/chat_tool_call.json");

    fn parse(s: &str) -> Value {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn text_response_becomes_chat_completion() {
        let out = to_openai_response(&parse(TEXT), "my-command", 1700000000);
        assert_eq!(out["id"], "c14c80c3-18eb-4519-9460-6c92edd8cfb4");
        assert_eq!(out["object"], "chat.completion");
        assert_eq!(out["created"], 1700000000);
        assert_eq!(out["model"], "my-command");
        let choice = &out["choices"][0];
        assert_eq!(choice["index"], 0);
        assert_eq!(choice["message"]["role"], "assistant");
        assert_eq!(
            choice["message"]["content"],
            "LLMs stand for Large Language Models. They are a type of neural network model."
        );
        assert!(choice["message"].get("tool_calls").is_none());
        assert_eq!(choice["finish_reason"], "stop");
    }

    #[test]
    fn usage_comes_from_tokens_not_billed_units() {
        let usage = &to_openai_response(&parse(TEXT), "a", 0)["usage"];
        assert_eq!(usage["prompt_tokens"], 203);
        assert_eq!(usage["completion_tokens"], 19);
        assert_eq!(usage["total_tokens"], 222);
        assert!(usage.get("prompt_tokens_details").is_none());
    }

    #[test]
    fn billed_units_and_cached_tokens_when_that_is_all_there_is() {
        let msg = json!({"message": {"content": []}, "finish_reason": "COMPLETE",
            "usage": {"billed_units": {"input_tokens": 5.0, "output_tokens": 3}, "cached_tokens": 2}});
        let usage = &to_openai_response(&msg, "a", 0)["usage"];
        assert_eq!(usage["prompt_tokens"], 5);
        assert_eq!(usage["completion_tokens"], 3);
        assert_eq!(usage["prompt_tokens_details"]["cached_tokens"], 2);
    }

    #[test]
    fn tool_calls_keep_id_name_and_arguments() {
        let out = to_openai_response(&parse(TOOL), "a", 0);
        let message = &out["choices"][0]["message"];
        assert!(message["content"].is_null());
        let calls = message["tool_calls"].as_array().unwrap();
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0]["id"], "get_weather_776n8ctsgycn");
        assert_eq!(calls[0]["type"], "function");
        assert_eq!(calls[0]["function"]["name"], "get_weather");
        assert_eq!(
            calls[0]["function"]["arguments"],
            "{\"location\":\"Toronto\"}"
        );
        assert_eq!(
            calls[1]["function"]["arguments"],
            "{\"location\":\"Madrid\"}"
        );
        assert_eq!(out["choices"][0]["finish_reason"], "tool_calls");
        assert!(message.get("tool_plan").is_none());
        assert_eq!(out["usage"]["prompt_tokens"], 1436);
        assert_eq!(out["usage"]["completion_tokens"], 54);
    }

    #[test]
    fn maps_every_finish_reason() {
        for (cohere, want) in [
            ("COMPLETE", "stop"),
            ("STOP_SEQUENCE", "stop"),
            ("MAX_TOKENS", "length"),
            ("TOOL_CALL", "tool_calls"),
            ("ERROR", "stop"),
            ("ERROR_TOXIC", "content_filter"),
            ("TIMEOUT", "stop"),
            ("SOMETHING_NEW", "stop"),
        ] {
            let mut msg = parse(TEXT);
            msg["finish_reason"] = json!(cohere);
            let out = to_openai_response(&msg, "a", 0);
            assert_eq!(out["choices"][0]["finish_reason"], want, "{cohere}");
        }
    }

    #[test]
    fn thinking_becomes_reasoning_content_and_object_arguments_a_string() {
        let msg = json!({"id": "x", "finish_reason": "TOOL_CALL", "message": {"role": "assistant",
            "content": [{"type": "thinking", "thinking": "Hmm."}, {"type": "text", "text": "Ok."}],
            "tool_calls": [{"id": "t1", "type": "function", "function": {"name": "f", "arguments": {"a": 1}}},
                           {"id": "t2", "type": "function", "function": {"name": "g"}}]}});
        let message = &to_openai_response(&msg, "a", 0)["choices"][0]["message"];
        assert_eq!(message["reasoning_content"], "Hmm.");
        assert_eq!(message["content"], "Ok.");
        assert_eq!(
            message["tool_calls"][0]["function"]["arguments"],
            "{\"a\":1}"
        );
        assert_eq!(message["tool_calls"][1]["function"]["arguments"], "{}");
    }

    #[test]
    fn odd_bodies_do_not_panic() {
        for body in [
            json!(null),
            json!([]),
            json!({"message": "x", "usage": 3}),
            json!({"message": {"content": [1, null, {"type": 5}], "tool_calls": [null]}}),
            json!({"usage": {"tokens": {"input_tokens": -4, "output_tokens": "7"}}}),
        ] {
            let out = to_openai_response(&body, "a", 0);
            assert_eq!(out["model"], "a");
            assert_eq!(out["usage"]["total_tokens"], 0);
        }
    }
}
