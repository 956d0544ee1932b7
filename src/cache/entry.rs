//! What one cache entry holds, how it is written to a shared backend, and how a hit is turned
//! back into an answer: the client's alias as `model`, a fresh `id`.

use bytes::{Bytes, BytesMut};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerKind {
    /// A whole chat or text completion, as the client got it.
    Whole,
    /// A stream, as the client got it: its SSE events, through `data: [DONE]`.
    Stream,
    /// One input's embedding: `{"embedding": ..., "prompt_tokens": n}`.
    Embedding,
}

impl AnswerKind {
    fn tag(self) -> u8 {
        match self {
            AnswerKind::Whole => b'w',
            AnswerKind::Stream => b's',
            AnswerKind::Embedding => b'e',
        }
    }

    fn from_tag(tag: u8) -> Option<AnswerKind> {
        match tag {
            b'w' => Some(AnswerKind::Whole),
            b's' => Some(AnswerKind::Stream),
            b'e' => Some(AnswerKind::Embedding),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct CachedAnswer {
    pub kind: AnswerKind,
    /// Unix ms when stored, for `s-maxage`.
    pub stored_at_ms: i64,
    pub body: Bytes,
}

const MAGIC: &[u8] = b"tg1";

impl CachedAnswer {
    pub fn new(kind: AnswerKind, body: Bytes) -> Self {
        CachedAnswer {
            kind,
            stored_at_ms: crate::store::now_ms(),
            body,
        }
    }

    /// `tg1 <kind> <stored_at_ms>\n<body>`: a small header, the body as it is.
    pub fn encode(&self) -> Vec<u8> {
        let head = format!(" {} {}\n", self.kind.tag() as char, self.stored_at_ms);
        let mut out = Vec::with_capacity(MAGIC.len() + head.len() + self.body.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(head.as_bytes());
        out.extend_from_slice(&self.body);
        out
    }

    /// `None` for anything this cache did not write (another program's key, a newer format).
    pub fn decode(raw: &[u8]) -> Option<CachedAnswer> {
        let rest = raw.strip_prefix(MAGIC)?.strip_prefix(b" ")?;
        let newline = rest.iter().position(|b| *b == b'\n')?;
        let head = std::str::from_utf8(&rest[..newline]).ok()?;
        let (kind, at) = head.split_once(' ')?;
        let kind = AnswerKind::from_tag(*kind.as_bytes().first()?)?;
        Some(CachedAnswer {
            kind,
            stored_at_ms: at.parse().ok()?,
            body: Bytes::copy_from_slice(&rest[newline + 1..]),
        })
    }

    /// Whether the entry is younger than `max_age_secs` (`s-maxage`).
    pub fn younger_than(&self, max_age_secs: Option<f64>, now_ms: i64) -> bool {
        match max_age_secs {
            Some(max) => ((now_ms - self.stored_at_ms) as f64) / 1000.0 <= max,
            None => true,
        }
    }
}

/// A fresh completion id, in OpenAI's shape for the call.
pub fn fresh_id(prefix: &str) -> String {
    use rand::Rng;
    let bytes: [u8; 16] = rand::thread_rng().gen();
    format!("{prefix}{}", super::key::hex(&bytes))
}

/// A whole cached answer for this caller: `id` and `model` replaced. `None` if the stored
/// body is not a JSON object (then it is treated as a miss).
pub fn whole_for(body: &[u8], alias: &str, id: &str) -> Option<(Bytes, Value)> {
    let mut v: Value = serde_json::from_slice(body).ok()?;
    let obj = v.as_object_mut()?;
    obj.insert("id".into(), Value::String(id.to_string()));
    obj.insert("model".into(), Value::String(alias.to_string()));
    let bytes = serde_json::to_vec(&v).ok()?;
    Some((Bytes::from(bytes), v))
}

/// A cached stream's events for this caller, one per item, each with the new `id` and `model`
/// (at the top of OpenAI's chunks, in `message` of Anthropic's `message_start`).
pub fn stream_events_for(body: &[u8], alias: &str, id: &str) -> Vec<Bytes> {
    split_events(body)
        .map(|event| {
            let mut out = BytesMut::with_capacity(event.len() + 16);
            for (i, line) in event.split(|b| *b == b'\n').enumerate() {
                if i > 0 {
                    out.extend_from_slice(b"\n");
                }
                match line
                    .strip_prefix(b"data: ")
                    .and_then(|data| with_identity(data, alias, id))
                {
                    Some(json) => {
                        out.extend_from_slice(b"data: ");
                        out.extend_from_slice(&json);
                    }
                    None => out.extend_from_slice(line),
                }
            }
            out.extend_from_slice(b"\n\n");
            out.freeze()
        })
        .collect()
}

/// One event's JSON with `id` and `model` replaced where it carries them.
fn with_identity(data: &[u8], alias: &str, id: &str) -> Option<Vec<u8>> {
    let mut v: Value = serde_json::from_slice(data).ok()?;
    let obj = v.as_object_mut()?;
    let mut changed = set_identity(obj, alias, id);
    if let Some(Value::Object(message)) = obj.get_mut("message") {
        changed |= set_identity(message, alias, id);
    }
    if !changed {
        return None;
    }
    serde_json::to_vec(&v).ok()
}

fn set_identity(obj: &mut serde_json::Map<String, Value>, alias: &str, id: &str) -> bool {
    let mut changed = false;
    if obj.contains_key("id") {
        obj.insert("id".into(), Value::String(id.to_string()));
        changed = true;
    }
    if obj.contains_key("model") {
        obj.insert("model".into(), Value::String(alias.to_string()));
        changed = true;
    }
    changed
}

/// The events of an SSE body (separated by a blank line), without their separators.
fn split_events(body: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = body;
    std::iter::from_fn(move || loop {
        if rest.is_empty() {
            return None;
        }
        let (event, next) = match rest.windows(2).position(|w| w == b"\n\n") {
            Some(i) => (&rest[..i], &rest[i + 2..]),
            None => (rest, &rest[rest.len()..]),
        };
        rest = next;
        let event = event.strip_prefix(b"\n").unwrap_or(event);
        if !event.is_empty() {
            return Some(event);
        }
    })
}

/// Whether captured stream bytes end the way a clean stream does: a choice finished (a
/// provider that hung up early still gets `[DONE]` from the gateway) and `[DONE]` last; for
/// Anthropic's format, a `stop_reason` and `message_stop` last.
pub fn ended_cleanly(stream: &[u8], anthropic: bool) -> bool {
    let trimmed = stream
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(&stream[..0], |i| &stream[..=i]);
    if anthropic {
        let last = trimmed
            .windows(2)
            .rposition(|w| w == b"\n\n")
            .map_or(trimmed, |i| &trimmed[i..]);
        contains(last, b"message_stop") && has_string_value(stream, b"\"stop_reason\":")
    } else {
        trimmed.ends_with(b"data: [DONE]") && has_string_value(stream, b"\"finish_reason\":")
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A field `name` (with its quotes and colon) followed by a string value somewhere.
fn has_string_value(stream: &[u8], name: &[u8]) -> bool {
    let mut rest = stream;
    while let Some(i) = rest.windows(name.len()).position(|w| w == name) {
        rest = &rest[i + name.len()..];
        let value = rest.iter().position(|b| !b.is_ascii_whitespace());
        if value.is_some_and(|v| rest[v] == b'"') {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_foreign_values_are_misses() {
        let a = CachedAnswer::new(AnswerKind::Stream, Bytes::from_static(b"data: x\n\n"));
        let b = CachedAnswer::decode(&a.encode()).unwrap();
        assert_eq!(b.kind, AnswerKind::Stream);
        assert_eq!(b.stored_at_ms, a.stored_at_ms);
        assert_eq!(b.body, a.body);
        assert!(CachedAnswer::decode(b"{\"timestamp\": 1}").is_none());
        assert!(a.younger_than(Some(5.0), a.stored_at_ms + 4000));
        assert!(!a.younger_than(Some(5.0), a.stored_at_ms + 6000));
    }

    #[test]
    fn a_stream_replays_event_by_event_with_the_new_id() {
        let stored = b"data: {\"id\":\"old\",\"model\":\"up\",\"choices\":[{\"finish_reason\":null}]}\n\ndata: {\"id\":\"old\",\"model\":\"up\",\"choices\":[{\"delta\":{\"content\":\"a\"},\"finish_reason\": \"stop\"}]}\n\ndata: [DONE]\n\n";
        assert!(ended_cleanly(stored, false));
        assert!(!ended_cleanly(&stored[..40], false));
        let unfinished = b"data: {\"choices\":[{\"finish_reason\":null}]}\n\ndata: [DONE]\n\n";
        assert!(
            !ended_cleanly(unfinished, false),
            "no choice finished: cut short"
        );
        let anthropic = b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_old\",\"model\":\"up\"}}\n\nevent: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
        assert!(ended_cleanly(anthropic, true));
        assert!(!ended_cleanly(&anthropic[..120], true));
        let events = stream_events_for(anthropic, "alias", "msg_new");
        assert_eq!(events.len(), 3);
        assert!(events[0].starts_with(b"event: message_start\ndata: {"));
        let data = &events[0][events[0].iter().position(|b| *b == b'{').unwrap()..];
        let v: Value = serde_json::from_slice(data.trim_ascii_end()).unwrap();
        assert_eq!(v["message"]["id"], "msg_new");
        assert_eq!(v["message"]["model"], "alias");
        let events = stream_events_for(stored, "alias", "chatcmpl-new");
        assert_eq!(events.len(), 3);
        assert!(events[1].starts_with(b"data: {"));
        let v: Value = serde_json::from_slice(&events[1][6..]).unwrap();
        assert_eq!(v["id"], "chatcmpl-new");
        assert_eq!(v["model"], "alias");
        assert_eq!(&events[2][..], b"data: [DONE]\n\n");
    }
}
