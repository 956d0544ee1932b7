//! A complete Gemini `GenerateContentResponse` into OpenAI's `chat.completion`, shaped as
//! LiteLLM returns it: one choice per candidate, text parts joined into `content`, thought
//! parts into `reasoning_content`, `functionCall` parts as `tool_calls`, `usageMetadata` as
//! `usage` (thinking tokens counted as completion tokens, as they are billed).

use super::messages::THOUGHT_SIGNATURE_SEPARATOR;
use serde_json::{json, Map, Value};

/// The OpenAI `chat.completion` for a Gemini answer. Missing or odd fields degrade to empty
/// content and zero usage rather than failing: the upstream already answered 200.
pub fn to_openai_response(gemini: &Value, alias: &str, created: u64) -> Value {
    let candidates = gemini
        .get("candidates")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut choices: Vec<Value> = candidates
        .iter()
        .enumerate()
        .map(|(position, candidate)| choice(candidate, position))
        .collect();
    if choices.is_empty() {
        // No candidates: the prompt itself was blocked (`promptFeedback.blockReason`), or
        // nothing came back. LiteLLM answers with an empty message either way.
        let finish = if blocked(gemini) {
            "content_filter"
        } else {
            "stop"
        };
        choices.push(json!({
            "index": 0,
            "message": {"role": "assistant", "content": null},
            "finish_reason": finish,
        }));
    }
    json!({
        "id": response_id(gemini),
        "object": "chat.completion",
        "created": created,
        "model": alias,
        "choices": choices,
        "usage": openai_usage(gemini.get("usageMetadata").unwrap_or(&Value::Null)),
    })
}

fn choice(candidate: &Value, position: usize) -> Value {
    let parts = read_parts(candidate);
    let mut message = Map::new();
    message.insert("role".into(), json!("assistant"));
    let content = parts.text.map_or(Value::Null, Value::String);
    message.insert("content".into(), content);
    if !parts.calls.is_empty() {
        let calls = parts.calls.iter().map(|c| tool_call(c, None)).collect();
        message.insert("tool_calls".into(), Value::Array(calls));
    }
    if let Some(reasoning) = parts.reasoning {
        message.insert("reasoning_content".into(), Value::String(reasoning));
    }
    let finish = if parts.calls.is_empty() {
        finish_reason(candidate.get("finishReason").and_then(Value::as_str))
    } else {
        "tool_calls"
    };
    let mut choice = json!({
        "index": candidate_index(candidate, position),
        "message": Value::Object(message),
        "finish_reason": finish,
    });
    if let Some(logprobs) = candidate.get("logprobsResult").and_then(openai_logprobs) {
        choice["logprobs"] = logprobs;
    }
    choice
}

/// What one candidate's parts say, sorted by kind.
pub(super) struct Parts<'a> {
    pub text: Option<String>,
    pub reasoning: Option<String>,
    pub calls: Vec<&'a Value>,
}

pub(super) fn read_parts(candidate: &Value) -> Parts<'_> {
    let mut out = Parts {
        text: None,
        reasoning: None,
        calls: Vec::new(),
    };
    let parts = candidate
        .pointer("/content/parts")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for part in parts {
        if part.get("functionCall").is_some_and(Value::is_object) {
            out.calls.push(part);
        } else if let Some(text) = part.get("text").and_then(Value::as_str) {
            let thought = part.get("thought").and_then(Value::as_bool) == Some(true);
            let target = if thought {
                &mut out.reasoning
            } else {
                &mut out.text
            };
            target.get_or_insert_with(String::new).push_str(text);
        }
    }
    out
}

/// A `functionCall` part as an OpenAI tool call, with `index` when it is a stream delta.
/// Gemini gives calls no ids; each gets a fresh one, as LiteLLM does, carrying the part's
/// thought signature (see messages.rs).
pub(super) fn tool_call(part: &Value, index: Option<usize>) -> Value {
    let call = part.get("functionCall").unwrap_or(&Value::Null);
    let args = call.get("args").filter(|a| !a.is_null()).cloned();
    let mut id = format!("call_{}", &uuid::Uuid::new_v4().simple().to_string()[..28]);
    if let Some(signature) = part.get("thoughtSignature").and_then(Value::as_str) {
        id.push_str(THOUGHT_SIGNATURE_SEPARATOR);
        id.push_str(signature);
    }
    let mut out = json!({
        "id": id,
        "type": "function",
        "function": {
            "name": call.get("name").and_then(Value::as_str).unwrap_or_default(),
            "arguments": args.unwrap_or_else(|| json!({})).to_string(),
        },
    });
    if let Some(index) = index {
        out["index"] = json!(index);
    }
    out
}

/// OpenAI's `finish_reason` for Gemini's, as LiteLLM maps them (unknown → stop).
pub(super) fn finish_reason(gemini: Option<&str>) -> &'static str {
    match gemini.unwrap_or_default() {
        "MAX_TOKENS" => "length",
        "SAFETY" | "RECITATION" | "LANGUAGE" | "OTHER" | "BLOCKLIST" | "PROHIBITED_CONTENT"
        | "SPII" | "IMAGE_SAFETY" => "content_filter",
        // STOP, FINISH_REASON_UNSPECIFIED, MALFORMED_FUNCTION_CALL and anything new.
        _ => "stop",
    }
}

pub(super) fn blocked(gemini: &Value) -> bool {
    gemini
        .pointer("/promptFeedback/blockReason")
        .is_some_and(|r| !r.is_null())
}

pub(super) fn response_id(gemini: &Value) -> String {
    match gemini.get("responseId").and_then(Value::as_str) {
        Some(id) if !id.is_empty() => id.to_string(),
        _ => format!("chatcmpl-{}", uuid::Uuid::new_v4()),
    }
}

pub(super) fn candidate_index(candidate: &Value, position: usize) -> u64 {
    candidate
        .get("index")
        .and_then(Value::as_u64)
        .unwrap_or(position as u64)
}

/// `(prompt_tokens, completion_tokens)` of a `usageMetadata`. Thinking tokens are completion
/// tokens; some models already count them in `candidatesTokenCount` (then prompt +
/// candidates = total), and LiteLLM adds them only when they are not.
pub(super) fn token_counts(usage: &Value) -> (u64, u64) {
    let prompt = count(usage, "promptTokenCount");
    let candidates = count(usage, "candidatesTokenCount");
    let thoughts = count(usage, "thoughtsTokenCount");
    let inclusive = prompt + candidates == count(usage, "totalTokenCount");
    let completion = if inclusive {
        candidates
    } else {
        candidates + thoughts
    };
    (prompt, completion)
}

/// OpenAI's `usage` for a `usageMetadata`.
pub(super) fn openai_usage(usage: &Value) -> Value {
    let (prompt, completion) = token_counts(usage);
    let total = match count(usage, "totalTokenCount") {
        0 => prompt + completion,
        total => total,
    };
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": total,
        "prompt_tokens_details": {"cached_tokens": count(usage, "cachedContentTokenCount")},
        "completion_tokens_details": {"reasoning_tokens": count(usage, "thoughtsTokenCount")},
    })
}

/// `logprobsResult` as OpenAI's `logprobs.content`.
fn openai_logprobs(result: &Value) -> Option<Value> {
    let chosen = result.get("chosenCandidates")?.as_array()?;
    let top = result.get("topCandidates").and_then(Value::as_array);
    let content = chosen
        .iter()
        .enumerate()
        .map(|(i, token)| {
            let alternatives = top
                .and_then(|t| t.get(i))
                .and_then(|t| t.get("candidates"))
                .and_then(Value::as_array)
                .map(|list| list.iter().map(token_logprob).collect())
                .unwrap_or_default();
            let mut entry = token_logprob(token);
            entry["top_logprobs"] = Value::Array(alternatives);
            entry
        })
        .collect();
    Some(json!({ "content": Value::Array(content) }))
}

fn token_logprob(token: &Value) -> Value {
    json!({
        "token": token.get("token").and_then(Value::as_str).unwrap_or_default(),
        "logprob": token.get("logProbability").and_then(Value::as_f64).unwrap_or(0.0),
    })
}

fn count(usage: &Value, field: &str) -> u64 {
    usage.get(field).and_then(Value::as_u64).unwrap_or(0)
}

#[cfg(test)]
mod tests;
