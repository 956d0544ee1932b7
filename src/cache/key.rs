//! The cache key: a SHA-256 of the request as normalized JSON (object keys sorted, whole
//! numbers written one way), over the client's model alias and every field that can change the
//! answer. What only the gateway or the caller's bookkeeping reads is left out, so two callers
//! asking the same question share the entry.

use crate::canonical::request::Operation;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Fields that never change the answer: who asks (`user`), bookkeeping (`metadata`), how usage
/// is reported in a stream (`stream_options`), and the cache's own controls.
const NOT_KEYED: &[&str] = &[
    "user",
    "metadata",
    "litellm_metadata",
    "stream_options",
    "cache",
    "caching",
];

/// Which API a request is for: the same JSON asks different things of each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    Chat,
    Completion,
    Embedding,
    /// Anthropic's Messages API (`/v1/messages`), in its own format.
    AnthropicMessages,
}

impl CallKind {
    pub fn of(op: Operation, anthropic: bool) -> CallKind {
        match op {
            Operation::Chat if anthropic => CallKind::AnthropicMessages,
            Operation::Chat => CallKind::Chat,
            Operation::Completion => CallKind::Completion,
            Operation::Embedding => CallKind::Embedding,
        }
    }

    fn name(self) -> &'static [u8] {
        match self {
            CallKind::Chat => b"chat",
            CallKind::Completion => b"completion",
            CallKind::Embedding => b"embedding",
            CallKind::AnthropicMessages => b"anthropic_messages",
        }
    }
}

/// The key of a request body (a JSON object), with `namespace:` in front when one is set, as
/// LiteLLM writes it. `input` replaces the body's own input (one item of an embeddings call).
pub fn cache_key(
    call: CallKind,
    body: &Map<String, Value>,
    input: Option<&Value>,
    namespace: Option<&str>,
) -> String {
    let mut h = Sha256::new();
    h.update(call.name());
    h.update(b"\n");
    let mut keys: Vec<&String> = body
        .keys()
        .filter(|k| !NOT_KEYED.contains(&k.as_str()))
        .collect();
    keys.sort();
    for k in keys {
        let value = match (k.as_str(), input) {
            ("input", Some(item)) => item,
            (_, _) => &body[k],
        };
        // `stream: false` asks the same as no `stream`.
        if k == "stream" && !value.as_bool().unwrap_or(false) || value.is_null() {
            continue;
        }
        write_str(&mut h, k);
        h.update(b":");
        write_value(&mut h, value);
        h.update(b"\n");
    }
    let hex = hex(&h.finalize());
    match namespace {
        Some(ns) if !ns.is_empty() => format!("{ns}:{hex}"),
        _ => hex,
    }
}

/// Canonical JSON, straight into the hash: keys sorted, `1.0` written as `1`.
fn write_value(h: &mut Sha256, v: &Value) {
    match v {
        Value::Null => h.update(b"null"),
        Value::Bool(b) => h.update(if *b { b"true" as &[u8] } else { b"false" }),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => h.update(i.to_string()),
            (_, Some(u), _) => h.update(u.to_string()),
            (_, _, Some(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
                h.update((f as i64).to_string())
            }
            (_, _, Some(f)) => h.update(f.to_string()),
            _ => h.update(n.to_string()),
        },
        Value::String(s) => write_str(h, s),
        Value::Array(items) => {
            h.update(b"[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    h.update(b",");
                }
                write_value(h, item);
            }
            h.update(b"]");
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            h.update(b"{");
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    h.update(b",");
                }
                write_str(h, k);
                h.update(b":");
                write_value(h, &map[k]);
            }
            h.update(b"}");
        }
    }
}

fn write_str(h: &mut Sha256, s: &str) {
    // serde_json's quoting is unambiguous; a string cannot fail to serialize.
    h.update(serde_json::to_string(s).unwrap_or_default());
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

/// Whether a string is a key this cache wrote: 64 hex digits, maybe after `namespace:`.
pub fn looks_like_key(key: &str) -> bool {
    let hash = key.rsplit(':').next().unwrap_or(key);
    hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(v: Value) -> String {
        key_ns(v, None)
    }

    fn key_ns(v: Value, ns: Option<&str>) -> String {
        cache_key(CallKind::Chat, v.as_object().unwrap(), None, ns)
    }

    fn base() -> Value {
        json!({"model": "gpt", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.5})
    }

    fn with(field: &str, value: Value) -> Value {
        let mut v = base();
        v[field] = value;
        v
    }

    #[test]
    fn what_changes_the_answer_changes_the_key() {
        let k = key(base());
        assert_eq!(k.len(), 64);
        for (field, value) in [
            ("model", json!("other")),
            ("messages", json!([{"role": "user", "content": "ho"}])),
            ("temperature", json!(0.7)),
            ("top_p", json!(0.1)),
            ("max_tokens", json!(10)),
            ("n", json!(2)),
            ("stop", json!(["x"])),
            ("seed", json!(1)),
            ("tools", json!([{"type": "function"}])),
            ("tool_choice", json!("auto")),
            ("response_format", json!({"type": "json_object"})),
            ("stream", json!(true)),
            ("some_new_param", json!(1)),
        ] {
            assert_ne!(key(with(field, value.clone())), k, "{field}={value}");
        }
        assert_ne!(
            cache_key(
                CallKind::Completion,
                base().as_object().unwrap(),
                None,
                None
            ),
            k
        );
        let anthropic = cache_key(
            CallKind::AnthropicMessages,
            base().as_object().unwrap(),
            None,
            None,
        );
        assert_ne!(anthropic, k);
    }

    #[test]
    fn what_does_not_change_the_answer_keeps_the_key() {
        let k = key(base());
        for (field, value) in [
            ("user", json!("alice")),
            ("metadata", json!({"a": 1})),
            ("stream_options", json!({"include_usage": true})),
            ("cache", json!({"no-cache": true})),
            ("stream", json!(false)),
            ("seed", Value::Null),
        ] {
            assert_eq!(key(with(field, value.clone())), k, "{field}={value}");
        }
        // Key order and number spelling are normalized.
        let reordered: Value = serde_json::from_str(
            r#"{"temperature":0.5,"messages":[{"content":"hi","role":"user"}],"model":"gpt"}"#,
        )
        .unwrap();
        assert_eq!(key(reordered), k);
        assert_eq!(
            key(with("max_tokens", json!(10))),
            key(with("max_tokens", json!(10.0)))
        );
    }

    #[test]
    fn namespaces_prefix_the_key() {
        let k = key(base());
        assert_eq!(key_ns(base(), Some("team-a")), format!("team-a:{k}"));
        assert!(looks_like_key(&k) && looks_like_key(&format!("ns:{k}")));
        assert!(!looks_like_key("rate-limit:abc"));
    }

    #[test]
    fn one_embedding_input_has_its_own_key() {
        let body = json!({"model": "e", "input": ["a", "b"]});
        let map = body.as_object().unwrap();
        let a = cache_key(CallKind::Embedding, map, Some(&json!("a")), None);
        let b = cache_key(CallKind::Embedding, map, Some(&json!("b")), None);
        let alone = json!({"model": "e", "input": "a"});
        assert_ne!(a, b);
        assert_eq!(
            a,
            cache_key(CallKind::Embedding, alone.as_object().unwrap(), None, None)
        );
    }
}
