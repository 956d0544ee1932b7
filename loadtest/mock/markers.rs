//! In-band controls: `[mock:key=value]` markers in the text of the last user
//! message. Gateways translate requests between formats and drop unknown
//! fields and client headers, but the prompt text always reaches the
//! provider, so a marker is the one control every route can honour.
//!
//! Keys: `status` (200..=599; a 3xx is a redirect with an empty body),
//! `delay_ms`, `chunks` (1..=MAX_CHUNKS), `chunk_delay_ms`,
//! `break_after_chunks`, `tool` (a function name: answer with a call to it),
//! `usage` (`PROMPT,COMPLETION`: the token counts to report, each provider in
//! its own shape), `reply` (the rest of the marker up to `]`) and the fault modes:
//! `header=name:value` (an extra response header; repeatable),
//! `reset_after_read=1` (read the request, then reset the connection),
//! `hang=1` (read the request, never answer), `huge_event_mb` (1..=200: a
//! stream whose next event is that many MB of `a`, never terminated),
//! `huge_event_after_chunks` (normal chunks sent before it) and
//! `chunk_bytes` (1..=MAX_CHUNK_BYTES: every content piece is that many
//! bytes of `a`). Several markers may appear anywhere in the text; a later
//! one overrides an earlier one. A malformed marker is an error (answered
//! 400), so a typo in a test shows at once instead of silently doing nothing.

use serde_json::Value;

use crate::logic::{MAX_CHUNKS, MAX_CHUNK_BYTES};

const OPEN: &str = "[mock:";
/// Upper bound on `huge_event_mb`.
pub const MAX_HUGE_EVENT_MB: usize = 200;

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Markers {
    pub status: Option<u16>,
    pub delay_ms: Option<u64>,
    pub chunks: Option<usize>,
    pub chunk_delay_ms: Option<u64>,
    pub break_after_chunks: Option<usize>,
    pub tool: Option<String>,
    pub reply: Option<String>,
    /// `(prompt, completion)` tokens to report instead of the counted ones.
    pub usage: Option<(u64, u64)>,
    /// `header=name:value` markers, in order.
    pub headers: Vec<(String, String)>,
    pub reset_after_read: Option<bool>,
    pub hang: Option<bool>,
    pub huge_event_mb: Option<usize>,
    pub huge_event_after_chunks: Option<usize>,
    pub chunk_bytes: Option<usize>,
}

/// Reads every `[mock:key=value]` marker in `text`.
pub fn parse(text: &str) -> Result<Markers, String> {
    let mut m = Markers::default();
    let mut rest = text;
    while let Some(start) = rest.find(OPEN) {
        let after = &rest[start + OPEN.len()..];
        let end = after
            .find(']')
            .ok_or_else(|| format!("unterminated marker {:?}", &rest[start..]))?;
        let (key, value) = after[..end].split_once('=').ok_or_else(|| {
            format!(
                "invalid marker [mock:{}]: expected key=value",
                &after[..end]
            )
        })?;
        let (key, value) = (key.trim(), value.trim());
        let bad = |what: &str| format!("invalid marker [mock:{key}={value}]: expected {what}");
        let int = || value.parse::<u64>().map_err(|_| bad("an integer"));
        let flag = || match value {
            "1" | "true" => Ok(true),
            "0" | "false" => Ok(false),
            _ => Err(bad("1 or 0")),
        };
        let ranged = |max: usize| match int()? {
            n @ 1.. if n <= max as u64 => Ok(n as usize),
            _ => Err(bad(&format!("1..={max}"))),
        };
        match key {
            "status" => {
                m.status = Some(
                    u16::try_from(int()?)
                        .ok()
                        .filter(|s| (200..=599).contains(s))
                        .ok_or_else(|| bad("200..=599"))?,
                )
            }
            "delay_ms" => m.delay_ms = Some(int()?),
            "chunk_delay_ms" => m.chunk_delay_ms = Some(int()?),
            "chunks" => {
                let n = int()?;
                if n == 0 || n > MAX_CHUNKS as u64 {
                    return Err(bad(&format!("1..={MAX_CHUNKS}")));
                }
                m.chunks = Some(n as usize);
            }
            "break_after_chunks" => {
                m.break_after_chunks = Some(usize::try_from(int()?).unwrap_or(usize::MAX))
            }
            "tool" => {
                let ok = !value.is_empty()
                    && value
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_-.:".contains(c));
                if !ok {
                    return Err(bad("a function name"));
                }
                m.tool = Some(value.to_string());
            }
            "reply" => m.reply = Some(value.to_string()),
            "usage" => {
                let (prompt, completion) = value
                    .split_once(',')
                    .ok_or_else(|| bad("PROMPT,COMPLETION"))?;
                let count = |n: &str| {
                    n.trim()
                        .parse::<u64>()
                        .map_err(|_| bad("PROMPT,COMPLETION"))
                };
                m.usage = Some((count(prompt)?, count(completion)?));
            }
            "header" => {
                let (name, v) = value.split_once(':').ok_or_else(|| bad("name:value"))?;
                m.headers
                    .push((name.trim().to_string(), v.trim().to_string()));
            }
            "reset_after_read" => m.reset_after_read = Some(flag()?),
            "hang" => m.hang = Some(flag()?),
            "huge_event_mb" => m.huge_event_mb = Some(ranged(MAX_HUGE_EVENT_MB)?),
            "huge_event_after_chunks" => {
                m.huge_event_after_chunks = Some(usize::try_from(int()?).unwrap_or(usize::MAX))
            }
            "chunk_bytes" => m.chunk_bytes = Some(ranged(MAX_CHUNK_BYTES)?),
            _ => {
                return Err(format!(
                    "unknown marker key {key:?} in [mock:{key}={value}]"
                ))
            }
        }
        rest = &after[end + 1..];
    }
    Ok(m)
}

/// The text of a message content in any provider's shape: a string, or the
/// `text` of its parts (`[{type: "text", text}]`, Gemini `parts`, Bedrock
/// content blocks). Other parts (images, tool results) add nothing.
pub fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        Value::Object(part) => part
            .get("text")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        _ => String::new(),
    }
}

/// The text of the last user message in `messages`, read through
/// `content_key` (`content`, or `parts` for Gemini). A message from a tool
/// (`tool_roles`) after it means the conversation is answering a tool call:
/// no text then, so a `[mock:tool=..]` turn does not call the tool again.
pub fn last_user_text(
    messages: Option<&Value>,
    content_key: &str,
    tool_roles: &[&str],
) -> Option<String> {
    for msg in messages?.as_array()?.iter().rev() {
        // Gemini allows omitting the role of a single-turn request.
        let role = msg.get("role").and_then(Value::as_str).unwrap_or("user");
        if tool_roles.contains(&role) {
            return None;
        }
        if role == "user" {
            return Some(content_text(msg.get(content_key).unwrap_or(&Value::Null)));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_every_key() {
        let m = parse(
            "hi [mock:status=429] and [mock:tool=get_weather][mock:chunks=5] \
             [mock:delay_ms=300] [mock:break_after_chunks=2] [mock:chunk_delay_ms=7] \
             [mock:usage=123, 45] [mock:reply=Bonjour, le monde]",
        )
        .unwrap();
        assert_eq!(
            m,
            Markers {
                status: Some(429),
                delay_ms: Some(300),
                chunks: Some(5),
                chunk_delay_ms: Some(7),
                break_after_chunks: Some(2),
                tool: Some("get_weather".into()),
                reply: Some("Bonjour, le monde".into()),
                usage: Some((123, 45)),
                ..Default::default()
            }
        );
        let m = parse(
            "[mock:header=retry-after: 1e20][mock:header=x-a:b:c][mock:reset_after_read=1] \
             [mock:hang=true][mock:huge_event_mb=100][mock:huge_event_after_chunks=2] \
             [mock:chunk_bytes=65536]",
        )
        .unwrap();
        assert_eq!(
            m,
            Markers {
                headers: vec![
                    ("retry-after".into(), "1e20".into()),
                    ("x-a".into(), "b:c".into())
                ],
                reset_after_read: Some(true),
                hang: Some(true),
                huge_event_mb: Some(100),
                huge_event_after_chunks: Some(2),
                chunk_bytes: Some(65536),
                ..Default::default()
            }
        );
        assert_eq!(parse("no markers [mock] here").unwrap(), Markers::default());
        assert_eq!(
            parse("[mock:status=500][mock:status=503]").unwrap().status,
            Some(503)
        );
    }

    #[test]
    fn rejects_malformed_markers() {
        for bad in [
            "[mock:status=99]",
            "[mock:status=abc]",
            "[mock:chunks=0]",
            "[mock:delay_ms=-1]",
            "[mock:tool=]",
            "[mock:tool=a b]",
            "[mock:colour=red]",
            "[mock:status]",
            "[mock:status=429",
            "[mock:usage=12]",
            "[mock:usage=1,x]",
            "[mock:header=no-colon]",
            "[mock:hang=yes]",
            "[mock:huge_event_mb=0]",
            "[mock:huge_event_mb=201]",
            "[mock:chunk_bytes=0]",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn last_user_text_in_each_shape() {
        let openai = json!([
            {"role": "system", "content": "[mock:status=500]"},
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "image_url"}, {"type": "text", "text": "b"}]},
        ]);
        assert_eq!(
            last_user_text(Some(&openai), "content", &["tool"]).as_deref(),
            Some("a\nb")
        );
        let gemini = json!([{"parts": [{"text": "[mock:chunks=2]"}]}]);
        assert_eq!(
            last_user_text(Some(&gemini), "parts", &["function"]).as_deref(),
            Some("[mock:chunks=2]")
        );
        let bedrock = json!([{"role": "user", "content": [{"text": "x"}, {"image": {}}]}]);
        assert_eq!(
            last_user_text(Some(&bedrock), "content", &[]).as_deref(),
            Some("x")
        );
        // After a tool result: no markers.
        let looped = json!([
            {"role": "user", "content": "[mock:tool=f]"},
            {"role": "assistant", "tool_calls": []},
            {"role": "tool", "content": "sunny"},
        ]);
        assert_eq!(last_user_text(Some(&looped), "content", &["tool"]), None);
        assert_eq!(last_user_text(None, "content", &[]), None);
        assert_eq!(content_text(&json!({"text": "t"})), "t");
    }
}
