//! OpenAI chat messages into Gemini's `system_instruction` and `contents`.
//!
//! Gemini has two roles, `user` and `model`. System (and developer) messages become the
//! top-level `system_instruction`; assistant turns are `model` turns carrying `functionCall`
//! parts for their tool calls; tool answers become `functionResponse` parts in a `user` turn,
//! named after the call they answer (Gemini matches results to calls by name, not id).
//! Consecutive turns of one role are merged, as LiteLLM does.

use super::media;
use crate::canonical::params::{push_turn, str_field, tool_call_arguments};
use crate::error::GatewayError;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// Gemini 3 requires a function call's `thoughtSignature` back with the call. OpenAI clients
/// keep only the tool call id, so the signature rides in it after this separator, in the
/// format LiteLLM uses (`call_<hex>__thought__<signature>`).
pub const THOUGHT_SIGNATURE_SEPARATOR: &str = "__thought__";

pub(super) struct Converted {
    pub system_instruction: Option<Value>,
    pub contents: Vec<Value>,
}

pub(super) fn convert(messages: &[Value]) -> Result<Converted, GatewayError> {
    let mut system_parts = Vec::new();
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    // Tool call id → function name, from every assistant turn so far.
    let mut call_names: HashMap<String, String> = HashMap::new();
    for (i, message) in messages.iter().enumerate() {
        let role = message.get("role").and_then(Value::as_str).unwrap_or("");
        match role {
            "system" | "developer" => {
                let text = joined_text(message, i)?;
                if !text.is_empty() {
                    system_parts.push(json!({ "text": text }));
                }
            }
            "user" => push_turn(&mut turns, "user", user_parts(message, i)?),
            "assistant" => {
                let parts = assistant_parts(message, i, &mut call_names)?;
                push_turn(&mut turns, "model", parts);
            }
            "tool" | "function" => {
                let part = function_response(message, i, &call_names)?;
                push_turn(&mut turns, "user", vec![part]);
            }
            _ => return Err(invalid(i, format!("role {role:?} is not supported"))),
        }
    }
    let contents = turns
        .into_iter()
        .map(|(role, parts)| json!({"role": role, "parts": parts}))
        .collect();
    let system_instruction = (!system_parts.is_empty()).then(|| json!({ "parts": system_parts }));
    Ok(Converted {
        system_instruction,
        contents,
    })
}

/// A message's text: the string, or its text parts concatenated (system prompts and tool
/// results, where only text means anything to Gemini).
fn joined_text(message: &Value, i: usize) -> Result<String, GatewayError> {
    match message.get("content") {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(text)) => Ok(text.clone()),
        Some(Value::Array(parts)) => Ok(parts
            .iter()
            .filter(|p| p.get("type").and_then(Value::as_str) == Some("text"))
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect()),
        Some(_) => Err(invalid(i, "content must be a string or a list of parts")),
    }
}

fn user_parts(message: &Value, i: usize) -> Result<Vec<Value>, GatewayError> {
    let mut parts = Vec::new();
    match message.get("content") {
        None | Some(Value::Null) => {}
        Some(Value::String(text)) => parts.extend(text_part(text)),
        Some(Value::Array(items)) => {
            for item in items {
                parts.extend(content_part(item, i)?);
            }
        }
        Some(_) => return Err(invalid(i, "content must be a string or a list of parts")),
    }
    // Vertex rejects a user turn of media alone ("must have a text parameter"); LiteLLM adds
    // a blank text part, and so do we.
    if !parts.is_empty() && !parts.iter().any(|p| p.get("text").is_some()) {
        parts.push(json!({"text": " "}));
    }
    Ok(parts)
}

fn content_part(item: &Value, i: usize) -> Result<Option<Value>, GatewayError> {
    let part = match item.get("type").and_then(Value::as_str) {
        Some("text") => return Ok(text_part(str_field(item, "text"))),
        Some("image_url") => {
            let image = item.get("image_url");
            let url = image
                .and_then(|u| u.get("url"))
                .or(image)
                .and_then(Value::as_str)
                .ok_or_else(|| invalid(i, "image_url.url is required"))?;
            let format = image.and_then(|u| u.get("format")).and_then(Value::as_str);
            media::part_for_url(url, format).map_err(|e| invalid(i, e))?
        }
        Some("input_audio") => {
            let data = item
                .pointer("/input_audio/data")
                .and_then(Value::as_str)
                .ok_or_else(|| invalid(i, "input_audio.data is required"))?;
            let format = item
                .pointer("/input_audio/format")
                .and_then(Value::as_str)
                .unwrap_or("wav");
            json!({"inline_data": {"mime_type": format!("audio/{format}"), "data": data}})
        }
        Some("file") => {
            let file = item.get("file").unwrap_or(&Value::Null);
            let source = file
                .get("file_data")
                .or_else(|| file.get("file_id"))
                .and_then(Value::as_str)
                .ok_or_else(|| invalid(i, "file parts need file.file_data or file.file_id"))?;
            let format = file.get("format").and_then(Value::as_str);
            media::part_for_url(source, format).map_err(|e| invalid(i, e))?
        }
        other => {
            let kind = other.unwrap_or("(none)");
            return Err(invalid(
                i,
                format!("content part type {kind:?} is not supported"),
            ));
        }
    };
    Ok(Some(part))
}

fn text_part(text: &str) -> Option<Value> {
    // Gemini rejects empty text parts.
    (!text.is_empty()).then(|| json!({ "text": text }))
}

fn assistant_parts(
    message: &Value,
    i: usize,
    call_names: &mut HashMap<String, String>,
) -> Result<Vec<Value>, GatewayError> {
    let mut parts: Vec<Value> = text_part(&joined_text(message, i)?).into_iter().collect();
    let calls = message.get("tool_calls").and_then(Value::as_array);
    for (j, call) in calls.into_iter().flatten().enumerate() {
        let function = call.get("function").unwrap_or(&Value::Null);
        let name = str_field(function, "name");
        if name.is_empty() {
            return Err(invalid(
                i,
                format!("tool_calls[{j}].function.name is required"),
            ));
        }
        let id = str_field(call, "id");
        call_names.insert(id.to_string(), name.to_string());
        let mut part = Map::new();
        part.insert(
            "functionCall".into(),
            json!({"name": name, "args": arguments(function, i, j)?}),
        );
        if let Some((_, signature)) = id.split_once(THOUGHT_SIGNATURE_SEPARATOR) {
            if !signature.is_empty() {
                part.insert("thoughtSignature".into(), json!(signature));
            }
        }
        parts.push(Value::Object(part));
    }
    Ok(parts)
}

fn arguments(function: &Value, i: usize, j: usize) -> Result<Value, GatewayError> {
    tool_call_arguments(function).ok_or_else(|| {
        invalid(
            i,
            format!("tool_calls[{j}].function.arguments must be a JSON object"),
        )
    })
}

/// A tool answer as `functionResponse {name, response: {content}}`, LiteLLM's shape: OpenAI
/// cannot say whether a tool failed, so every result is reported as its output.
fn function_response(
    message: &Value,
    i: usize,
    call_names: &HashMap<String, String>,
) -> Result<Value, GatewayError> {
    let by_id = message
        .get("tool_call_id")
        .and_then(Value::as_str)
        .and_then(|id| call_names.get(id))
        .map(String::as_str);
    let name = by_id
        .or_else(|| message.get("name").and_then(Value::as_str))
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            invalid(
                i,
                "no earlier assistant tool call has this tool_call_id, so the function's name is unknown",
            )
        })?;
    let content = joined_text(message, i)?;
    Ok(json!({"functionResponse": {"name": name, "response": {"content": content}}}))
}

fn invalid(i: usize, what: impl std::fmt::Display) -> GatewayError {
    GatewayError::bad_request(format!("messages[{i}]: {what}")).with_param("messages")
}
