//! An Anthropic Messages request into the canonical OpenAI chat request, as LiteLLM's
//! `/v1/messages` adapter converts it.
//!
//! - `system` (a string or text blocks) is the first message, role `system`.
//! - A user turn's `tool_result` blocks become `role: tool` messages placed before the rest of
//!   the turn: OpenAI wants tool answers right after the assistant's calls.
//! - An assistant turn's `tool_use` blocks become `tool_calls`, the input as a JSON string.
//! - `thinking` blocks are dropped: their signatures mean nothing to other providers.
//! - With `stream: true` the request asks for `stream_options.include_usage`, so the final
//!   `message_delta` can report token counts as Anthropic does.
//!
//! Anthropic-only knobs without an OpenAI counterpart (`top_k`, `thinking`, `service_tier`,
//! `container`, `mcp_servers`, `cache_control` marks) are not forwarded.

mod tools;

use crate::error::GatewayError;
use serde_json::{json, Map, Value};

pub fn messages_to_openai(anthropic: &Value) -> Result<Value, GatewayError> {
    let Some(req) = anthropic.as_object() else {
        return Err(GatewayError::bad_request(
            "the request body must be a JSON object",
        ));
    };
    let model = req
        .get("model")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| required("model"))?;
    let turns = req
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| required("messages"))?;
    let max_tokens = match req.get("max_tokens") {
        None | Some(Value::Null) => return Err(required("max_tokens")),
        Some(v) => v.as_u64().filter(|n| *n >= 1).ok_or_else(|| {
            GatewayError::bad_request("max_tokens: Input should be a positive integer")
                .with_param("max_tokens")
        })?,
    };

    let mut messages = Vec::with_capacity(turns.len() + 1);
    if let Some(system) = system_text(req.get("system"))? {
        messages.push(json!({"role": "system", "content": system}));
    }
    for (i, turn) in turns.iter().enumerate() {
        match turn.get("role").and_then(Value::as_str) {
            Some("user") => user_turn(turn, i, &mut messages)?,
            Some("assistant") => messages.extend(assistant_turn(turn, i)?),
            _ => return Err(invalid(i, "role: Input should be 'user' or 'assistant'")),
        }
    }

    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    body.insert("messages".into(), Value::Array(messages));
    body.insert("max_tokens".into(), json!(max_tokens));
    for name in ["temperature", "top_p"] {
        if let Some(v) = req.get(name).filter(|v| !v.is_null()) {
            body.insert(name.into(), v.clone());
        }
    }
    if let Some(stop) = stop_sequences(req.get("stop_sequences"))? {
        body.insert("stop".into(), stop);
    }
    if req.get("stream").and_then(Value::as_bool) == Some(true) {
        body.insert("stream".into(), json!(true));
        body.insert("stream_options".into(), json!({"include_usage": true}));
    }
    if let Some(user) = anthropic
        .pointer("/metadata/user_id")
        .and_then(Value::as_str)
    {
        body.insert("user".into(), json!(user));
    }
    tools::add_tools(req, &mut body)?;
    Ok(Value::Object(body))
}

/// `system` as one string: Anthropic's text blocks are read as one prompt.
fn system_text(system: Option<&Value>) -> Result<Option<String>, GatewayError> {
    let text = match system {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(blocks)) => {
            let mut texts = Vec::with_capacity(blocks.len());
            for block in blocks {
                if block.get("type").and_then(Value::as_str) != Some("text") {
                    return Err(GatewayError::bad_request(
                        "system: only text blocks are supported",
                    )
                    .with_param("system"));
                }
                texts.push(str_field(block, "text"));
            }
            texts.join("\n")
        }
        Some(_) => {
            return Err(
                GatewayError::bad_request("system: Input should be a valid string or list")
                    .with_param("system"),
            )
        }
    };
    Ok((!text.is_empty()).then_some(text))
}

fn user_turn(turn: &Value, i: usize, out: &mut Vec<Value>) -> Result<(), GatewayError> {
    let blocks = match turn.get("content") {
        Some(Value::String(text)) => {
            out.push(json!({"role": "user", "content": text}));
            return Ok(());
        }
        Some(Value::Array(blocks)) => blocks,
        _ => {
            return Err(invalid(
                i,
                "content: Input should be a valid string or list",
            ))
        }
    };
    let mut parts = Vec::new();
    for block in blocks {
        match block.get("type").and_then(Value::as_str) {
            Some("tool_result") => out.push(tool_message(block, i)?),
            Some("thinking" | "redacted_thinking") => {}
            _ => parts.push(content_part(block, i)?),
        }
    }
    let content = match parts.as_slice() {
        [] => return Ok(()),
        [only] if only.get("type").and_then(Value::as_str) == Some("text") => {
            json!(str_field(only, "text"))
        }
        _ => Value::Array(parts),
    };
    out.push(json!({"role": "user", "content": content}));
    Ok(())
}

/// A text, image or document block as an OpenAI content part.
fn content_part(block: &Value, i: usize) -> Result<Value, GatewayError> {
    let source = block.get("source").unwrap_or(&Value::Null);
    match block.get("type").and_then(Value::as_str) {
        Some("text") => Ok(json!({"type": "text", "text": str_field(block, "text")})),
        Some("image") => {
            let url = source_url(source).ok_or_else(|| {
                invalid(
                    i,
                    "image.source must be {type: base64, media_type, data} or {type: url, url}",
                )
            })?;
            Ok(json!({"type": "image_url", "image_url": {"url": url}}))
        }
        Some("document") => match source.get("type").and_then(Value::as_str) {
            Some("text") => Ok(json!({"type": "text", "text": str_field(source, "data")})),
            Some("base64") => {
                let url = source_url(source).unwrap_or_default();
                Ok(json!({"type": "file", "file": {"file_data": url}}))
            }
            _ => Err(invalid(
                i,
                "document.source must be base64 or text for non-Anthropic models",
            )),
        },
        other => Err(invalid(
            i,
            format!(
                "content block type {:?} is not supported for non-Anthropic models",
                other.unwrap_or("(none)")
            ),
        )),
    }
}

/// A base64 source as a `data:` URL, or the URL of a url source.
fn source_url(source: &Value) -> Option<String> {
    match source.get("type").and_then(Value::as_str) {
        Some("base64") => {
            let media_type = source
                .get("media_type")
                .and_then(Value::as_str)
                .unwrap_or("image/jpeg");
            let data = source.get("data").and_then(Value::as_str)?;
            Some(format!("data:{media_type};base64,{data}"))
        }
        Some("url") => source
            .get("url")
            .and_then(Value::as_str)
            .map(str::to_string),
        _ => None,
    }
}

/// A `tool_result` block as a `role: tool` message: its text (blocks joined), images as parts
/// beside it. OpenAI has no error flag, so an error result says so in its text.
fn tool_message(block: &Value, i: usize) -> Result<Value, GatewayError> {
    let id = block
        .get("tool_use_id")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(i, "tool_result.tool_use_id: Field required"))?;
    let mut texts = Vec::new();
    let mut images = Vec::new();
    match block.get("content") {
        None | Some(Value::Null) => {}
        Some(Value::String(text)) => texts.push(text.as_str()),
        Some(Value::Array(items)) => {
            for item in items {
                match item.get("type").and_then(Value::as_str) {
                    Some("text") => texts.push(str_field(item, "text")),
                    Some("image") => images.push(content_part(item, i)?),
                    _ => {
                        return Err(invalid(
                            i,
                            "tool_result content may hold text and image blocks",
                        ))
                    }
                }
            }
        }
        Some(_) => return Err(invalid(i, "tool_result.content must be a string or a list")),
    }
    let mut text = texts.join("\n");
    if block.get("is_error").and_then(Value::as_bool) == Some(true) {
        text = format!("Error: {text}");
    }
    let content = if images.is_empty() {
        json!(text)
    } else {
        let mut parts = Vec::with_capacity(images.len() + 1);
        if !text.is_empty() {
            parts.push(json!({"type": "text", "text": text}));
        }
        parts.extend(images);
        Value::Array(parts)
    };
    Ok(json!({"role": "tool", "tool_call_id": id, "content": content}))
}

/// An assistant turn with neither text nor tool calls (only thinking) is left out.
fn assistant_turn(turn: &Value, i: usize) -> Result<Option<Value>, GatewayError> {
    let mut text = String::new();
    let mut calls = Vec::new();
    match turn.get("content") {
        Some(Value::String(s)) => text.push_str(s),
        Some(Value::Array(blocks)) => {
            for block in blocks {
                match block.get("type").and_then(Value::as_str) {
                    Some("text") => text.push_str(str_field(block, "text")),
                    Some("tool_use") => {
                        let input = block.get("input").cloned().unwrap_or_else(|| json!({}));
                        calls.push(json!({
                            "id": str_field(block, "id"),
                            "type": "function",
                            "function": {"name": str_field(block, "name"), "arguments": input.to_string()},
                        }));
                    }
                    Some("thinking" | "redacted_thinking") => {}
                    other => {
                        return Err(invalid(
                            i,
                            format!(
                                "content block type {:?} is not supported in assistant turns for non-Anthropic models",
                                other.unwrap_or("(none)")
                            ),
                        ))
                    }
                }
            }
        }
        _ => {
            return Err(invalid(
                i,
                "content: Input should be a valid string or list",
            ))
        }
    }
    if text.is_empty() && calls.is_empty() {
        return Ok(None);
    }
    let mut message = Map::new();
    message.insert("role".into(), json!("assistant"));
    let content = if text.is_empty() {
        Value::Null
    } else {
        json!(text)
    };
    message.insert("content".into(), content);
    if !calls.is_empty() {
        message.insert("tool_calls".into(), Value::Array(calls));
    }
    Ok(Some(Value::Object(message)))
}

fn stop_sequences(stop: Option<&Value>) -> Result<Option<Value>, GatewayError> {
    match stop {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(list)) if list.iter().all(Value::is_string) => {
            Ok((!list.is_empty()).then(|| Value::Array(list.clone())))
        }
        Some(_) => Err(GatewayError::bad_request(
            "stop_sequences: Input should be a valid list of strings",
        )
        .with_param("stop_sequences")),
    }
}

/// Anthropic's wording for a missing field.
fn required(field: &str) -> GatewayError {
    GatewayError::bad_request(format!("{field}: Field required")).with_param(field)
}

fn invalid(i: usize, what: impl std::fmt::Display) -> GatewayError {
    GatewayError::bad_request(format!("messages.{i}.{what}")).with_param("messages")
}

fn str_field<'a>(v: &'a Value, field: &str) -> &'a str {
    v.get(field).and_then(Value::as_str).unwrap_or_default()
}

#[cfg(test)]
mod tests;
