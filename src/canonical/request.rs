//! A client's JSON request body, parsed once: validated as a JSON object, its top-level fields
//! located, the ones the gateway routes on read out. The bytes stay as they came.

use super::json_scan;
use crate::error::GatewayError;
use bytes::Bytes;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::ops::Range;

/// Which OpenAI operation a request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Chat,
    Completion,
    Embedding,
}

impl Operation {
    /// The path suffix under an OpenAI-compatible base URL.
    pub fn path(self) -> &'static str {
        match self {
            Operation::Chat => "/chat/completions",
            Operation::Completion => "/completions",
            Operation::Embedding => "/embeddings",
        }
    }
}

pub struct RequestBody {
    raw: Bytes,
    fields: Vec<(String, Range<usize>)>,
    /// A key appeared more than once; `fields` holds its last value, as Python's `json` (and so
    /// LiteLLM) reads it, and `with_model` rebuilds the body so no copy reaches the provider.
    duplicate_keys: bool,
    pub model: String,
    pub stream: bool,
    /// `stream_options.include_usage`
    pub include_usage: bool,
}

impl RequestBody {
    /// Parses and checks a body for `op`, with errors naming the offending param.
    pub fn parse(raw: Bytes, op: Operation) -> Result<RequestBody, GatewayError> {
        let (fields, duplicate_keys) = last_of_each_key(top_level_fields(&raw)?);
        let mut body = RequestBody {
            raw,
            fields,
            duplicate_keys,
            model: String::new(),
            stream: false,
            include_usage: false,
        };
        body.model = match body.get::<String>("model") {
            Ok(Some(m)) if !m.is_empty() => m,
            Ok(_) => {
                return Err(
                    GatewayError::bad_request("model is a required param").with_param("model")
                )
            }
            Err(_) => {
                return Err(GatewayError::bad_request("model must be a string").with_param("model"))
            }
        };
        body.stream = body
            .get::<bool>("stream")
            .map_err(|_| {
                GatewayError::bad_request("stream must be a boolean").with_param("stream")
            })?
            .unwrap_or(false);
        #[derive(Deserialize)]
        struct StreamOptions {
            include_usage: Option<bool>,
        }
        body.include_usage = body
            .get::<StreamOptions>("stream_options")
            .map_err(|_| {
                GatewayError::bad_request("stream_options must be an object")
                    .with_param("stream_options")
            })?
            .and_then(|o| o.include_usage)
            .unwrap_or(false);
        body.check_required(op)?;
        Ok(body)
    }

    fn check_required(&self, op: Operation) -> Result<(), GatewayError> {
        let (param, what) = match op {
            Operation::Chat => ("messages", "a list of messages"),
            Operation::Completion => ("prompt", "a string or a list"),
            Operation::Embedding => ("input", "a string or a list"),
        };
        let Some(raw) = self.raw_field(param) else {
            return Err(
                GatewayError::bad_request(format!("{param} is a required param")).with_param(param),
            );
        };
        let first = raw.first().copied().unwrap_or(b'n');
        let ok = match op {
            Operation::Chat => first == b'[',
            _ => first == b'[' || first == b'"',
        };
        if !ok {
            return Err(
                GatewayError::bad_request(format!("{param} must be {what}")).with_param(param)
            );
        }
        Ok(())
    }

    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    /// The raw JSON text of a top-level field.
    pub fn raw_field(&self, key: &str) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, span)| &self.raw[span.clone()])
    }

    /// A top-level field decoded as `T`: `Ok(None)` when absent or null, `Err` when mistyped.
    pub fn get<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, serde_json::Error> {
        match self.raw_field(key) {
            None | Some(b"null") => Ok(None),
            Some(raw) => serde_json::from_slice(raw).map(Some),
        }
    }

    /// The body for an OpenAI-compatible provider: `model` set to the provider's model name,
    /// the gateway's own params (`fallbacks`, `num_retries`, ...) removed, everything else byte
    /// for byte.
    pub fn with_model(&self, model: &str) -> Bytes {
        let model_json = json_scan::quote(model);
        let has_gateway_params = self.fields.iter().any(|(k, _)| is_gateway_param(k));
        if !has_gateway_params && !self.duplicate_keys {
            return match self.fields.iter().find(|(k, _)| k == "model") {
                Some((_, span)) => json_scan::splice(&self.raw, span.clone(), &model_json),
                None => self.raw.clone(),
            };
        }
        // Rare: rebuild the object from the kept members' original text.
        let mut out = Vec::with_capacity(self.raw.len() + model_json.len());
        out.push(b'{');
        let mut first = true;
        for (key, span) in self.fields.iter().filter(|(k, _)| !is_gateway_param(k)) {
            if !first {
                out.push(b',');
            }
            first = false;
            out.extend_from_slice(&json_scan::quote(key));
            out.push(b':');
            if key == "model" {
                out.extend_from_slice(&model_json);
            } else {
                out.extend_from_slice(&self.raw[span.clone()]);
            }
        }
        out.push(b'}');
        Bytes::from(out)
    }

    /// The whole body as a JSON tree, for providers that translate it.
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::from_slice(&self.raw).unwrap_or(serde_json::Value::Null)
    }
}

/// Params LiteLLM clients send to the gateway itself; providers would reject them.
const GATEWAY_PARAMS: &[&str] = &[
    "fallbacks",
    "context_window_fallbacks",
    "content_policy_fallbacks",
    "num_retries",
    "mock_testing_fallbacks",
    "mock_testing_rate_limit_error",
    "mock_timeout",
    "caching",
    "cache",
    "litellm_metadata",
    "proxy_server_request",
    "guardrails",
];

pub fn is_gateway_param(key: &str) -> bool {
    GATEWAY_PARAMS.contains(&key)
}

/// Each key once, with its last value, and whether any was repeated. Routing on the first
/// `model` while the provider reads the second would let a client pick any upstream model.
fn last_of_each_key(fields: Vec<(String, Range<usize>)>) -> (Vec<(String, Range<usize>)>, bool) {
    let mut seen = std::collections::HashSet::with_capacity(fields.len());
    if fields.iter().all(|(k, _)| seen.insert(k.as_str())) {
        return (fields, false);
    }
    let mut seen = std::collections::HashSet::with_capacity(fields.len());
    let mut kept: Vec<_> = fields
        .iter()
        .rev()
        .filter(|(k, _)| seen.insert(k.as_str()))
        .cloned()
        .collect();
    kept.reverse();
    (kept, true)
}

/// The top-level keys of a JSON object and the byte spans of their values.
fn top_level_fields(raw: &[u8]) -> Result<Vec<(String, Range<usize>)>, GatewayError> {
    struct Fields<'a>(&'a [u8]);
    impl<'de, 'a> Visitor<'de> for Fields<'a> {
        type Value = Vec<(String, Range<usize>)>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let base = self.0.as_ptr() as usize;
            let mut out = Vec::with_capacity(8);
            while let Some((key, value)) = map.next_entry::<String, &'de RawValue>()? {
                let start = value.get().as_ptr() as usize - base;
                out.push((key, start..start + value.get().len()));
            }
            Ok(out)
        }
    }
    let mut de = serde_json::Deserializer::from_slice(raw);
    let fields = de
        .deserialize_map(Fields(raw))
        .and_then(|f| de.end().map(|_| f));
    fields.map_err(|e| {
        let message = if e.is_data() {
            "Invalid request body: expected a JSON object".to_string()
        } else {
            format!("Invalid JSON in request body: {e}")
        };
        GatewayError::bad_request(message)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str, op: Operation) -> Result<RequestBody, GatewayError> {
        RequestBody::parse(Bytes::copy_from_slice(s.as_bytes()), op)
    }

    #[test]
    fn reads_routing_fields() {
        let b = parse(
            r#"{"model":"m","messages":[],"stream":true,"stream_options":{"include_usage":true}}"#,
            Operation::Chat,
        )
        .unwrap();
        assert_eq!(b.model, "m");
        assert!(b.stream && b.include_usage);
    }

    #[test]
    fn rewrites_model_only() {
        let b = parse(
            r#"{"messages":[{"role":"user","content":"hi"}],"model":"alias"}"#,
            Operation::Chat,
        )
        .unwrap();
        assert_eq!(
            &b.with_model("gpt-4o")[..],
            br#"{"messages":[{"role":"user","content":"hi"}],"model":"gpt-4o"}"#
        );
    }

    #[test]
    fn gateway_params_are_not_forwarded() {
        let b = parse(
            r#"{"model":"alias","fallbacks":["x"],"messages":[],"num_retries":3,"temperature":0.5}"#,
            Operation::Chat,
        )
        .unwrap();
        assert_eq!(
            &b.with_model("gpt-4o")[..],
            br#"{"model":"gpt-4o","messages":[],"temperature":0.5}"#
        );
    }

    #[test]
    fn a_repeated_model_is_read_and_replaced_as_one() {
        // Before, the gateway routed on the first `model` and spliced only that one, so the
        // provider (reading the last) got the client's second: any upstream model, unchecked.
        let b = parse(
            r#"{"model":"cheap","messages":[],"model":"gpt-4-32k","n":1,"n":2}"#,
            Operation::Chat,
        )
        .unwrap();
        assert_eq!(b.model, "gpt-4-32k");
        assert_eq!(b.raw_field("n"), Some(&b"2"[..]));
        assert_eq!(
            &b.with_model("upstream")[..],
            br#"{"messages":[],"model":"upstream","n":2}"#
        );
    }

    #[test]
    fn a_lone_surrogate_escape_is_passed_on_untouched() {
        // From the json_scan fuzz target: JSON's grammar (and Python's `json`) allow `\ud888`
        // alone, serde_json's tree does not; the body is forwarded byte for byte all the same.
        let raw = include_bytes!("../../tests/fixtures/fuzz/json_scan_lone_surrogate.json");
        let b = RequestBody::parse(Bytes::from_static(raw), Operation::Chat).unwrap();
        assert_eq!(b.model, "gpt-4o");
        // Its keys repeat too, so the body is rebuilt: each key once, bytes of values kept.
        let out = b.with_model("x");
        assert!(out.starts_with(br#"{"model":"x","mess!ges":"#));
        let surrogate: &[u8] = br#""hi \"th\ud888ere\" \u00e9""#;
        assert!(out.windows(surrogate.len()).any(|w| w == surrogate));
    }

    #[test]
    fn errors_name_the_param() {
        let e = parse(r#"{"model":"m"}"#, Operation::Chat).err().unwrap();
        assert_eq!((e.status, e.param.as_deref()), (400, Some("messages")));
        let e = parse(r#"{"model":"m","messages":"hi"}"#, Operation::Chat)
            .err()
            .unwrap();
        assert_eq!(e.param.as_deref(), Some("messages"));
        let e = parse(r#"{"messages":[]}"#, Operation::Chat).err().unwrap();
        assert_eq!(e.param.as_deref(), Some("model"));
        let e = parse(r#"{"model":"m"}"#, Operation::Embedding)
            .err()
            .unwrap();
        assert_eq!(e.param.as_deref(), Some("input"));
    }

    #[test]
    fn malformed_and_non_object_bodies_are_400() {
        for body in [
            "{",
            "[1]",
            "\"x\"",
            "",
            "{\"model\":\"m\"} trailing",
            "\u{0}",
        ] {
            let e = parse(body, Operation::Chat).err().unwrap();
            assert_eq!(e.status, 400, "{body:?}");
        }
    }

    #[test]
    fn deep_nesting_is_no_stack_overflow() {
        // Field values are skipped, not built, so depth costs no stack; a tree conversion later
        // hits serde_json's depth limit and fails cleanly.
        let deep = format!(
            "{{\"model\":\"m\",\"messages\":{}{}}}",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        let body = parse(&deep, Operation::Chat).unwrap();
        assert_eq!(body.to_value(), serde_json::Value::Null);
        let unbalanced = format!("{{\"model\":\"m\",\"messages\":{}}}", "[".repeat(100_000));
        assert_eq!(
            parse(&unbalanced, Operation::Chat).err().unwrap().status,
            400
        );
    }
}
