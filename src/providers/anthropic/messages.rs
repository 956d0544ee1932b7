//! OpenAI chat messages into Anthropic's `system` and `messages`.
//!
//! Anthropic takes the system prompt as a top-level field, wants user and assistant turns to
//! alternate, carries tool calls as `tool_use` blocks in the assistant turn and tool answers
//! as `tool_result` blocks in the next user turn (results first in that turn).

use crate::canonical::params::{push_turn, str_field, tool_call_arguments};
use crate::error::GatewayError;
use serde_json::{json, Map, Value};

pub(super) struct Converted {
    pub system: Option<Value>,
    pub messages: Vec<Value>,
}

pub(super) fn convert(messages: &[Value]) -> Result<Converted, GatewayError> {
    let mut system = Vec::new();
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for (i, message) in messages.iter().enumerate() {
        let role = message.get("role").and_then(Value::as_str).unwrap_or("");
        match role {
            "system" | "developer" => system.extend(text_blocks(message, i)?),
            "user" => push_turn(&mut turns, "user", user_blocks(message, i)?),
            "assistant" => push_turn(&mut turns, "assistant", assistant_blocks(message, i)?),
            "tool" => push_turn(&mut turns, "user", vec![tool_result(message, i)?]),
            _ => return Err(invalid(i, format!("role {role:?} is not supported"))),
        }
    }
    let messages = turns
        .into_iter()
        .map(|(role, mut blocks)| {
            // Anthropic wants a user turn's tool results before anything else in it.
            blocks.sort_by_key(|b| b.get("type").and_then(Value::as_str) != Some("tool_result"));
            json!({"role": role, "content": blocks})
        })
        .collect();
    Ok(Converted {
        system: system_field(system),
        messages,
    })
}

/// A plain string when no block asks for caching, else the blocks themselves.
fn system_field(blocks: Vec<Value>) -> Option<Value> {
    if blocks.is_empty() {
        return None;
    }
    if blocks.iter().any(|b| b.get("cache_control").is_some()) {
        return Some(Value::Array(blocks));
    }
    let texts: Vec<&str> = blocks
        .iter()
        .filter_map(|b| b.get("text").and_then(Value::as_str))
        .collect();
    Some(Value::String(texts.join("\n")))
}

fn text_blocks(message: &Value, i: usize) -> Result<Vec<Value>, GatewayError> {
    content_blocks(message, i, false)
}

fn user_blocks(message: &Value, i: usize) -> Result<Vec<Value>, GatewayError> {
    content_blocks(message, i, true)
}

/// A message's `content` (string, parts or null) as Anthropic blocks. A message-level
/// `cache_control` (LiteLLM's extension) applies to the message's last block.
fn content_blocks(message: &Value, i: usize, media: bool) -> Result<Vec<Value>, GatewayError> {
    let mut blocks = Vec::new();
    match message.get("content") {
        None | Some(Value::Null) => {}
        Some(Value::String(text)) => blocks.extend(text_block(text, None)),
        Some(Value::Array(parts)) => blocks = part_blocks(parts, i, media)?,
        Some(_) => return Err(invalid(i, "content must be a string or a list of parts")),
    }
    if let (Some(cache), Some(Value::Object(last))) =
        (message.get("cache_control"), blocks.last_mut())
    {
        last.insert("cache_control".into(), cache.clone());
    }
    Ok(blocks)
}

fn part_blocks(parts: &[Value], i: usize, media: bool) -> Result<Vec<Value>, GatewayError> {
    let mut blocks = Vec::new();
    for part in parts {
        blocks.extend(content_part(part, i, media)?);
    }
    Ok(blocks)
}

fn content_part(part: &Value, i: usize, media: bool) -> Result<Option<Value>, GatewayError> {
    let cache = part.get("cache_control");
    let block = match part.get("type").and_then(Value::as_str) {
        Some("text") => return Ok(text_block(str_field(part, "text"), cache)),
        Some("image_url") if media => {
            let image = part.get("image_url");
            let url = image
                .and_then(|u| u.get("url"))
                .or(image)
                .and_then(Value::as_str)
                .ok_or_else(|| invalid(i, "image_url.url is required"))?;
            media_block(url, i)?
        }
        Some("file") if media => {
            let data = part
                .pointer("/file/file_data")
                .and_then(Value::as_str)
                .ok_or_else(|| invalid(i, "file parts need file.file_data (a data: URL)"))?;
            media_block(data, i)?
        }
        other => {
            let kind = other.unwrap_or("(none)");
            return Err(invalid(
                i,
                format!("content part type {kind:?} is not supported here"),
            ));
        }
    };
    Ok(Some(with_cache(block, cache)))
}

fn text_block(text: &str, cache: Option<&Value>) -> Option<Value> {
    // Anthropic rejects empty text blocks.
    (!text.is_empty()).then(|| with_cache(json!({"type": "text", "text": text}), cache))
}

fn with_cache(mut block: Value, cache: Option<&Value>) -> Value {
    if let (Some(cache), Value::Object(map)) = (cache, &mut block) {
        map.insert("cache_control".into(), cache.clone());
    }
    block
}

/// An image (or PDF) from a `data:` URL, as base64, or an http(s) URL Anthropic fetches itself.
fn media_block(url: &str, i: usize) -> Result<Value, GatewayError> {
    if url.starts_with("https://") || url.starts_with("http://") {
        return Ok(json!({"type": "image", "source": {"type": "url", "url": url}}));
    }
    let parsed = url
        .strip_prefix("data:")
        .and_then(|rest| rest.split_once(','));
    let Some((header, data)) = parsed else {
        return Err(invalid(i, "image URLs must be http(s) or data: URLs"));
    };
    let Some(media_type) = header.strip_suffix(";base64") else {
        return Err(invalid(i, "data: URLs must be base64-encoded"));
    };
    let media_type = media_type.split(';').next().unwrap_or_default();
    let kind = if media_type.starts_with("image/") {
        "image"
    } else if media_type == "application/pdf" {
        "document"
    } else {
        return Err(invalid(
            i,
            format!("media type {media_type:?} is not supported"),
        ));
    };
    Ok(json!({"type": kind, "source": {"type": "base64", "media_type": media_type, "data": data}}))
}

/// Thinking blocks from an earlier answer go back first (Anthropic requires them with tool
/// use), then the text, then one `tool_use` block per tool call.
fn assistant_blocks(message: &Value, i: usize) -> Result<Vec<Value>, GatewayError> {
    let mut blocks: Vec<Value> = message
        .get("thinking_blocks")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|b| {
            matches!(
                b.get("type").and_then(Value::as_str),
                Some("thinking" | "redacted_thinking")
            )
        })
        .cloned()
        .collect();
    blocks.extend(text_blocks(message, i)?);
    let calls = message.get("tool_calls").and_then(Value::as_array);
    for (j, call) in calls.into_iter().flatten().enumerate() {
        blocks.push(tool_use(call, i, j)?);
    }
    Ok(blocks)
}

fn tool_use(call: &Value, i: usize, j: usize) -> Result<Value, GatewayError> {
    let function = call.get("function").unwrap_or(&Value::Null);
    let input = tool_call_arguments(function).ok_or_else(|| {
        invalid(
            i,
            format!("tool_calls[{j}].function.arguments must be a JSON object"),
        )
    })?;
    Ok(json!({
        "type": "tool_use",
        "id": str_field(call, "id"),
        "name": str_field(function, "name"),
        "input": input,
    }))
}

fn tool_result(message: &Value, i: usize) -> Result<Value, GatewayError> {
    let id = message
        .get("tool_call_id")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(i, "tool messages need tool_call_id"))?;
    let mut block = Map::new();
    block.insert("type".into(), json!("tool_result"));
    block.insert("tool_use_id".into(), json!(id));
    match message.get("content") {
        Some(Value::String(text)) if !text.is_empty() => {
            block.insert("content".into(), json!(text));
        }
        Some(Value::Array(parts)) => {
            let blocks = part_blocks(parts, i, true)?;
            block.insert("content".into(), Value::Array(blocks));
        }
        _ => {}
    }
    Ok(with_cache(
        Value::Object(block),
        message.get("cache_control"),
    ))
}

fn invalid(i: usize, what: impl std::fmt::Display) -> GatewayError {
    GatewayError::bad_request(format!("messages[{i}]: {what}")).with_param("messages")
}
