//! OpenAI chat messages into Converse's `system` and `messages`.
//!
//! Converse takes system prompts as a top-level list and wants user and assistant turns to
//! alternate, so consecutive turns of one role are merged. Tool calls are `toolUse` blocks in
//! the assistant turn; tool answers are `toolResult` blocks in the next user turn, put first in
//! it (Anthropic models behind Converse require that). Blocks carry no type tag: the key says
//! what a block is. `cache_control` (LiteLLM's prompt-caching extension) becomes a `cachePoint`
//! block after the marked content, as LiteLLM does.

use crate::canonical::params::{push_turn, str_field, tool_call_arguments};
use crate::error::GatewayError;
use serde_json::{json, Map, Value};

pub(super) struct Converted {
    pub system: Vec<Value>,
    pub messages: Vec<Value>,
    /// The history has `toolUse` or `toolResult` blocks: Bedrock then wants a `toolConfig`.
    pub has_tool_blocks: bool,
}

pub(super) fn convert(messages: &[Value]) -> Result<Converted, GatewayError> {
    let mut system = Vec::new();
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for (i, message) in messages.iter().enumerate() {
        let role = message.get("role").and_then(Value::as_str).unwrap_or("");
        match role {
            "system" | "developer" => system.extend(content_blocks(message, i, false)?),
            "user" => push_turn(&mut turns, "user", content_blocks(message, i, true)?),
            "assistant" => push_turn(&mut turns, "assistant", assistant_blocks(message, i)?),
            "tool" => push_turn(&mut turns, "user", vec![tool_result(message, i)?]),
            _ => return Err(invalid(i, format!("role {role:?} is not supported"))),
        }
    }
    let mut has_tool_blocks = false;
    let messages = turns
        .into_iter()
        .map(|(role, mut blocks)| {
            has_tool_blocks |= blocks
                .iter()
                .any(|b| b.get("toolUse").is_some() || b.get("toolResult").is_some());
            blocks.sort_by_key(|b| b.get("toolResult").is_none());
            json!({"role": role, "content": blocks})
        })
        .collect();
    Ok(Converted {
        system,
        messages,
        has_tool_blocks,
    })
}

/// A message's `content` (string, parts or null) as Converse blocks; `media` allows images.
fn content_blocks(message: &Value, i: usize, media: bool) -> Result<Vec<Value>, GatewayError> {
    let mut blocks = Vec::new();
    match message.get("content") {
        None | Some(Value::Null) => {}
        Some(Value::String(text)) => blocks.extend(text_block(text)),
        Some(Value::Array(parts)) => {
            for part in parts {
                blocks.extend(content_part(part, i, media)?);
                if part.get("cache_control").is_some() {
                    blocks.push(cache_point());
                }
            }
        }
        Some(_) => return Err(invalid(i, "content must be a string or a list of parts")),
    }
    if message.get("cache_control").is_some() && !blocks.is_empty() {
        blocks.push(cache_point());
    }
    Ok(blocks)
}

fn content_part(part: &Value, i: usize, media: bool) -> Result<Option<Value>, GatewayError> {
    match part.get("type").and_then(Value::as_str) {
        Some("text") => Ok(text_block(str_field(part, "text"))),
        Some("image_url") if media => {
            let image = part.get("image_url");
            let url = image
                .and_then(|u| u.get("url"))
                .or(image)
                .and_then(Value::as_str)
                .ok_or_else(|| invalid(i, "image_url.url is required"))?;
            image_block(url, i).map(Some)
        }
        other => {
            let kind = other.unwrap_or("(none)");
            Err(invalid(
                i,
                format!("content part type {kind:?} is not supported here"),
            ))
        }
    }
}

/// Converse rejects blank text blocks; LiteLLM leaves them out too.
fn text_block(text: &str) -> Option<Value> {
    (!text.trim().is_empty()).then(|| json!({ "text": text }))
}

fn cache_point() -> Value {
    json!({"cachePoint": {"type": "default"}})
}

/// An image from a `data:` URL. Bedrock takes image bytes only; LiteLLM downloads http(s)
/// URLs first, which a gateway without network access in its translation cannot do.
fn image_block(url: &str, i: usize) -> Result<Value, GatewayError> {
    if url.starts_with("https://") || url.starts_with("http://") {
        return Err(invalid(
            i,
            "bedrock needs base64 images: send the image as a data: URL (data:image/png;base64,...), not an http(s) URL",
        ));
    }
    let parsed = url
        .strip_prefix("data:")
        .and_then(|rest| rest.split_once(','));
    let Some((header, data)) = parsed else {
        return Err(invalid(i, "image URLs must be data: URLs"));
    };
    let Some(media_type) = header.strip_suffix(";base64") else {
        return Err(invalid(i, "data: URLs must be base64-encoded"));
    };
    let format = match media_type.split(';').next().unwrap_or_default() {
        "image/png" => "png",
        "image/jpeg" | "image/jpg" => "jpeg",
        "image/gif" => "gif",
        "image/webp" => "webp",
        other => {
            return Err(invalid(
                i,
                format!("image type {other:?} is not supported (png, jpeg, gif, webp)"),
            ))
        }
    };
    Ok(json!({"image": {"format": format, "source": {"bytes": data}}}))
}

/// Reasoning from an earlier answer first (Claude wants it back with tool use), then text,
/// then one `toolUse` per tool call.
fn assistant_blocks(message: &Value, i: usize) -> Result<Vec<Value>, GatewayError> {
    let mut blocks: Vec<Value> = message
        .get("thinking_blocks")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(reasoning_block)
        .collect();
    blocks.extend(content_blocks(message, i, false)?);
    let calls = message.get("tool_calls").and_then(Value::as_array);
    for (j, call) in calls.into_iter().flatten().enumerate() {
        blocks.push(tool_use(call, i, j)?);
    }
    Ok(blocks)
}

/// LiteLLM's `thinking_blocks` back into Converse `reasoningContent`.
fn reasoning_block(block: &Value) -> Option<Value> {
    match block.get("type").and_then(Value::as_str) {
        Some("thinking") => {
            let mut text = Map::new();
            text.insert("text".into(), json!(str_field(block, "thinking")));
            if let Some(signature) = block.get("signature").and_then(Value::as_str) {
                text.insert("signature".into(), json!(signature));
            }
            Some(json!({"reasoningContent": {"reasoningText": text}}))
        }
        Some("redacted_thinking") => Some(json!({
            "reasoningContent": {"redactedContent": str_field(block, "data")}
        })),
        _ => None,
    }
}

fn tool_use(call: &Value, i: usize, j: usize) -> Result<Value, GatewayError> {
    let function = call.get("function").unwrap_or(&Value::Null);
    let input = tool_call_arguments(function).ok_or_else(|| {
        invalid(
            i,
            format!("tool_calls[{j}].function.arguments must be a JSON object"),
        )
    })?;
    Ok(json!({"toolUse": {
        "toolUseId": str_field(call, "id"),
        "name": str_field(function, "name"),
        "input": input,
    }}))
}

/// A tool answer as one text block, the text parts joined, as LiteLLM sends it.
fn tool_result(message: &Value, i: usize) -> Result<Value, GatewayError> {
    let id = message
        .get("tool_call_id")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(i, "tool messages need tool_call_id"))?;
    let text = match message.get("content") {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter(|p| p.get("type").and_then(Value::as_str) == Some("text"))
            .map(|p| str_field(p, "text"))
            .collect(),
        _ => String::new(),
    };
    Ok(json!({"toolResult": {"toolUseId": id, "content": [{"text": text}]}}))
}

fn invalid(i: usize, what: impl std::fmt::Display) -> GatewayError {
    GatewayError::bad_request(format!("messages[{i}]: {what}")).with_param("messages")
}
