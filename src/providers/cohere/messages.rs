//! OpenAI chat messages into Cohere v2 messages.
//!
//! The roles match (`developer` is Cohere's `system`); content parts become Cohere's
//! `{type: "text"}` and `{type: "image_url"}` items; assistant `tool_calls` keep OpenAI's shape
//! with arguments as a JSON string; tool answers stay `role: tool` with `tool_call_id`.

use crate::canonical::params::str_field;
use crate::error::GatewayError;
use serde_json::{json, Map, Value};

pub(super) fn convert(messages: &[Value]) -> Result<Vec<Value>, GatewayError> {
    let mut out = Vec::with_capacity(messages.len());
    for (i, message) in messages.iter().enumerate() {
        let role = message.get("role").and_then(Value::as_str).unwrap_or("");
        let converted = match role {
            "system" | "developer" => {
                Some(json!({"role": "system", "content": plain_text(message, i)?}))
            }
            "user" => Some(user(message, i)?),
            "assistant" => assistant(message, i)?,
            "tool" => Some(tool(message, i)?),
            _ => return Err(invalid(i, format!("role {role:?} is not supported"))),
        };
        out.extend(converted);
    }
    Ok(out)
}

/// A message's content as one string: the string itself or its text parts joined.
fn plain_text(message: &Value, i: usize) -> Result<String, GatewayError> {
    match message.get("content") {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(text)) => Ok(text.clone()),
        Some(Value::Array(parts)) => {
            let mut text = String::new();
            for part in parts {
                if part.get("type").and_then(Value::as_str) != Some("text") {
                    return Err(invalid(i, "only text parts are supported in this role"));
                }
                text.push_str(str_field(part, "text"));
            }
            Ok(text)
        }
        Some(_) => Err(invalid(i, "content must be a string or a list of parts")),
    }
}

fn user(message: &Value, i: usize) -> Result<Value, GatewayError> {
    let content = match message.get("content") {
        Some(Value::String(text)) => json!(text),
        Some(Value::Array(parts)) => {
            let mut items = Vec::with_capacity(parts.len());
            for part in parts {
                items.push(content_item(part, i)?);
            }
            Value::Array(items)
        }
        None | Some(Value::Null) => return Err(invalid(i, "user messages need content")),
        Some(_) => return Err(invalid(i, "content must be a string or a list of parts")),
    };
    Ok(json!({"role": "user", "content": content}))
}

fn content_item(part: &Value, i: usize) -> Result<Value, GatewayError> {
    match part.get("type").and_then(Value::as_str) {
        Some("text") => Ok(json!({"type": "text", "text": str_field(part, "text")})),
        Some("image_url") => {
            let image = part.get("image_url");
            let url = image
                .and_then(|u| u.get("url"))
                .or(image)
                .and_then(Value::as_str)
                .ok_or_else(|| invalid(i, "image_url.url is required"))?;
            let mut image_url = Map::new();
            image_url.insert("url".into(), json!(url));
            if let Some(detail) = image.and_then(|u| u.get("detail")).and_then(Value::as_str) {
                image_url.insert("detail".into(), json!(detail));
            }
            Ok(json!({"type": "image_url", "image_url": Value::Object(image_url)}))
        }
        other => Err(invalid(
            i,
            format!(
                "content part type {:?} is not supported by Cohere",
                other.unwrap_or("(none)")
            ),
        )),
    }
}

/// An assistant turn with neither text nor tool calls says nothing Cohere could use; it is
/// left out rather than sent empty.
fn assistant(message: &Value, i: usize) -> Result<Option<Value>, GatewayError> {
    let mut out = Map::new();
    out.insert("role".into(), json!("assistant"));
    let text = plain_text(message, i)?;
    if !text.is_empty() {
        out.insert("content".into(), json!(text));
    }
    let calls = message.get("tool_calls").and_then(Value::as_array);
    let calls: Vec<Value> = calls.into_iter().flatten().map(tool_call).collect();
    if !calls.is_empty() {
        out.insert("tool_calls".into(), Value::Array(calls));
        // A plan sent back as given keeps Cohere's own reasoning in the history.
        if let Some(plan) = message.get("tool_plan").filter(|p| p.is_string()) {
            out.insert("tool_plan".into(), plan.clone());
        }
    }
    Ok((out.len() > 1).then_some(Value::Object(out)))
}

/// Arguments travel as a JSON string, as in OpenAI; an object is serialized, none is `{}`.
fn tool_call(call: &Value) -> Value {
    let function = call.get("function").unwrap_or(&Value::Null);
    let arguments = match function.get("arguments") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        None | Some(Value::Null) | Some(Value::String(_)) => "{}".to_string(),
        Some(other) => other.to_string(),
    };
    json!({
        "id": str_field(call, "id"),
        "type": "function",
        "function": {"name": str_field(function, "name"), "arguments": arguments},
    })
}

fn tool(message: &Value, i: usize) -> Result<Value, GatewayError> {
    let id = message
        .get("tool_call_id")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(i, "tool messages need tool_call_id"))?;
    let content = match message.get("content") {
        Some(Value::Array(parts)) => {
            let mut items = Vec::with_capacity(parts.len());
            for part in parts {
                if part.get("type").and_then(Value::as_str) != Some("text") {
                    return Err(invalid(i, "tool results may only hold text parts"));
                }
                items.push(json!({"type": "text", "text": str_field(part, "text")}));
            }
            Value::Array(items)
        }
        _ => json!(plain_text(message, i)?),
    };
    Ok(json!({"role": "tool", "tool_call_id": id, "content": content}))
}

fn invalid(i: usize, what: impl std::fmt::Display) -> GatewayError {
    GatewayError::bad_request(format!("messages[{i}]: {what}")).with_param("messages")
}
