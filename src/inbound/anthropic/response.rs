//! An OpenAI `chat.completion` into an Anthropic Message, shaped as LiteLLM's `/v1/messages`
//! adapter returns it: reasoning first (a `thinking` block), then the text, then one
//! `tool_use` block per tool call with its arguments parsed back into an object.

use serde::Serialize;
use serde_json::{json, Value};

/// Anthropic's `usage`. Cache fields appear when the provider reported any.
#[derive(Serialize, Debug, Default, Clone, Copy, PartialEq)]
pub(super) struct Usage {
    pub input_tokens: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_read_input_tokens: Option<u64>,
    pub output_tokens: u64,
}

/// The Anthropic Message for an OpenAI chat completion. Missing or odd fields degrade to empty
/// content and zero usage rather than failing: the provider already answered 200.
pub fn openai_to_message(openai: &Value, requested_model: &str) -> Value {
    let choice = openai.pointer("/choices/0").unwrap_or(&Value::Null);
    let message = choice.get("message").unwrap_or(&Value::Null);
    let mut content = Vec::new();
    let reasoning = str_field(message, "reasoning_content");
    if !reasoning.is_empty() {
        content.push(json!({"type": "thinking", "thinking": reasoning, "signature": ""}));
    }
    let refusal = str_field(message, "refusal");
    let text = match str_field(message, "content") {
        "" => refusal,
        text => text,
    };
    if !text.is_empty() {
        content.push(json!({"type": "text", "text": text}));
    }
    for call in message
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let function = call.get("function").unwrap_or(&Value::Null);
        content.push(json!({
            "type": "tool_use",
            "id": tool_use_id(str_field(call, "id")),
            "name": str_field(function, "name"),
            "input": parse_arguments(function.get("arguments")),
        }));
    }
    let finish = choice
        .get("finish_reason")
        .and_then(Value::as_str)
        .unwrap_or("stop");
    let stop = if !refusal.is_empty() && str_field(message, "content").is_empty() {
        "refusal"
    } else {
        stop_reason(finish)
    };
    json!({
        "id": message_id(str_field(openai, "id")),
        "type": "message",
        "role": "assistant",
        "model": requested_model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": null,
        "usage": usage_value(openai.get("usage").unwrap_or(&Value::Null)),
    })
}

/// Anthropic's `stop_reason` for OpenAI's `finish_reason`. LiteLLM turns `content_filter`
/// into `end_turn`; Anthropic's own word for a withheld answer is `refusal`, used here.
pub(super) fn stop_reason(finish_reason: &str) -> &'static str {
    match finish_reason {
        "length" => "max_tokens",
        "tool_calls" | "function_call" => "tool_use",
        "content_filter" => "refusal",
        // `stop` and anything else.
        _ => "end_turn",
    }
}

/// Anthropic usage from OpenAI usage: cached prompt tokens (OpenAI's
/// `prompt_tokens_details.cached_tokens`, or LiteLLM's `cache_read_input_tokens` /
/// `cache_creation_input_tokens`) are reported apart from `input_tokens`, as Anthropic does.
pub(super) fn anthropic_usage(openai: &Value) -> Usage {
    let prompt = count(openai.get("prompt_tokens"));
    let cache_read = match count(openai.get("cache_read_input_tokens")) {
        0 => count(openai.pointer("/prompt_tokens_details/cached_tokens")),
        n => n,
    };
    let cache_creation = count(openai.get("cache_creation_input_tokens"));
    Usage {
        input_tokens: prompt.saturating_sub(cache_read.saturating_add(cache_creation)),
        cache_creation_input_tokens: (cache_creation > 0).then_some(cache_creation),
        cache_read_input_tokens: (cache_read > 0).then_some(cache_read),
        output_tokens: count(openai.get("completion_tokens")),
    }
}

fn usage_value(openai: &Value) -> Value {
    serde_json::to_value(anthropic_usage(openai)).unwrap_or_else(|_| json!({}))
}

/// Anthropic message ids start with `msg_`; an OpenAI id is kept after that prefix.
pub(super) fn message_id(openai_id: &str) -> String {
    if openai_id.starts_with("msg_") {
        return safe_id(openai_id);
    }
    let id = if openai_id.is_empty() {
        "gateway"
    } else {
        openai_id
    };
    format!("msg_{}", safe_id(id))
}

/// Anthropic requires tool_use ids of letters, digits, `_` and `-` (clients send them back);
/// other characters become `_`, and a missing id gets a placeholder.
pub(super) fn tool_use_id(openai_id: &str) -> String {
    if openai_id.is_empty() {
        return "toolu_gateway".to_string();
    }
    safe_id(openai_id)
}

fn safe_id(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Tool arguments as the object Anthropic's `input` must be. Arguments that are not a JSON
/// object (cut off by `max_tokens`, or malformed) become `{}` rather than failing the answer.
fn parse_arguments(arguments: Option<&Value>) -> Value {
    let parsed = match arguments {
        Some(Value::String(s)) => serde_json::from_str::<Value>(s).ok(),
        Some(v @ Value::Object(_)) => Some(v.clone()),
        _ => None,
    };
    parsed.filter(Value::is_object).unwrap_or_else(|| json!({}))
}

fn count(v: Option<&Value>) -> u64 {
    v.and_then(|n| {
        n.as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
    })
    .unwrap_or(0)
}

fn str_field<'a>(v: &'a Value, field: &str) -> &'a str {
    v.get(field).and_then(Value::as_str).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn completion(message: Value, finish: &str, usage: Value) -> Value {
        json!({
            "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
            "object": "chat.completion",
            "created": 1741570283,
            "model": "gpt-4o-2024-08-06",
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": usage,
        })
    }

    #[test]
    fn text_answer_becomes_a_message() {
        let openai = completion(
            json!({"role": "assistant", "content": "Hello there."}),
            "stop",
            json!({"prompt_tokens": 19, "completion_tokens": 10, "total_tokens": 29}),
        );
        assert_eq!(
            openai_to_message(&openai, "claude-sonnet-4-5"),
            json!({
                "id": "msg_chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
                "type": "message",
                "role": "assistant",
                "model": "claude-sonnet-4-5",
                "content": [{"type": "text", "text": "Hello there."}],
                "stop_reason": "end_turn",
                "stop_sequence": null,
                "usage": {"input_tokens": 19, "output_tokens": 10},
            })
        );
    }

    #[test]
    fn tool_calls_become_tool_use_blocks_with_parsed_input() {
        let openai = completion(
            json!({"role": "assistant", "content": "Checking.", "tool_calls": [
                {"id": "call_abc.1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "", "type": "function", "function": {"name": "now", "arguments": "{\"cut"}}
            ]}),
            "tool_calls",
            json!({"prompt_tokens": 100, "completion_tokens": 20,
                   "prompt_tokens_details": {"cached_tokens": 60}}),
        );
        let message = openai_to_message(&openai, "m");
        assert_eq!(
            message["content"],
            json!([
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "call_abc_1", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "toolu_gateway", "name": "now", "input": {}}
            ])
        );
        assert_eq!(message["stop_reason"], "tool_use");
        assert_eq!(
            message["usage"],
            json!({"input_tokens": 40, "cache_read_input_tokens": 60, "output_tokens": 20})
        );
    }

    #[test]
    fn maps_every_finish_reason() {
        for (finish, want) in [
            ("stop", "end_turn"),
            ("length", "max_tokens"),
            ("tool_calls", "tool_use"),
            ("function_call", "tool_use"),
            ("content_filter", "refusal"),
            ("something_new", "end_turn"),
        ] {
            let openai = completion(json!({"content": "x"}), finish, json!({}));
            assert_eq!(
                openai_to_message(&openai, "m")["stop_reason"],
                want,
                "{finish}"
            );
        }
    }

    #[test]
    fn reasoning_refusal_and_litellm_cache_fields() {
        let openai = completion(
            json!({"content": "Answer.", "reasoning_content": "Think."}),
            "stop",
            json!({"prompt_tokens": 50, "completion_tokens": 5,
                   "cache_read_input_tokens": 10, "cache_creation_input_tokens": 30}),
        );
        let message = openai_to_message(&openai, "m");
        assert_eq!(
            message["content"][0],
            json!({"type": "thinking", "thinking": "Think.", "signature": ""})
        );
        assert_eq!(message["content"][1]["text"], "Answer.");
        assert_eq!(
            message["usage"],
            json!({"input_tokens": 10, "cache_creation_input_tokens": 30,
                   "cache_read_input_tokens": 10, "output_tokens": 5})
        );
        let refused = completion(
            json!({"content": null, "refusal": "I can't help."}),
            "stop",
            json!({}),
        );
        let message = openai_to_message(&refused, "m");
        assert_eq!(
            message["content"],
            json!([{"type": "text", "text": "I can't help."}])
        );
        assert_eq!(message["stop_reason"], "refusal");
    }

    #[test]
    fn ids_keep_anthropic_prefix_and_charset() {
        assert_eq!(message_id("msg_01AbC"), "msg_01AbC");
        assert_eq!(message_id("abc/def"), "msg_abc_def");
        assert_eq!(message_id(""), "msg_gateway");
        assert_eq!(tool_use_id("functions.Bash:0"), "functions_Bash_0");
    }

    #[test]
    fn odd_bodies_do_not_panic() {
        for body in [
            json!(null),
            json!([]),
            json!({"choices": "x", "usage": 3}),
            json!({"choices": [{"message": {"tool_calls": [null, 5]}}]}),
        ] {
            let message = openai_to_message(&body, "m");
            assert_eq!(message["model"], "m");
            assert_eq!(message["type"], "message");
            assert_eq!(
                message["usage"],
                json!({"input_tokens": 0, "output_tokens": 0})
            );
        }
    }
}
