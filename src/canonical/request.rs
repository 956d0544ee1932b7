//! A client's JSON request body, parsed once: validated as a JSON object, its top-level fields
//! located, the ones the gateway routes on read out. The bytes stay as they came.

use super::gateway_params::{is_gateway_param, GatewayParams};
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
    pub model: String,
    pub stream: bool,
    /// `stream_options.include_usage`
    pub include_usage: bool,
    /// What the client said to the gateway itself; already stripped from `raw`.
    pub gateway: GatewayParams,
}

/// The format a body is in, which decides what belongs to the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    OpenAi,
    Anthropic,
}

impl RequestBody {
    /// Parses and checks an OpenAI-format body for `op`, with errors naming the offending param.
    pub fn parse(raw: Bytes, op: Operation) -> Result<RequestBody, GatewayError> {
        Self::parse_as(raw, op, BodyFormat::OpenAi)
    }

    /// The one strict parse of a client body: a JSON object with no key twice (a last-key-wins
    /// provider would otherwise run a different model than the one routed, authorized and
    /// billed), the gateway's own params read and removed, the routing fields read out.
    pub fn parse_as(
        raw: Bytes,
        op: Operation,
        format: BodyFormat,
    ) -> Result<RequestBody, GatewayError> {
        let fields = top_level_fields(&raw)?;
        let anthropic = format == BodyFormat::Anthropic;
        let mut gateway = GatewayParams::default();
        let (raw, fields) = if fields.iter().any(|(k, _)| is_gateway_param(k, anthropic)) {
            for (key, span) in fields
                .iter()
                .filter(|(k, _)| is_gateway_param(k, anthropic))
            {
                gateway.read(key, &raw[span.clone()])?;
            }
            without_gateway_params(&raw, &fields, anthropic)
        } else {
            (raw, fields)
        };
        let mut body = RequestBody {
            raw,
            fields,
            model: String::new(),
            stream: false,
            include_usage: false,
            gateway,
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
    /// everything else byte for byte (the gateway's params were removed at parse).
    pub fn with_model(&self, model: &str) -> Bytes {
        self.with_field("model", &json_scan::quote(model))
    }

    /// The body with one top-level field's value replaced by `value_json`, the rest byte for
    /// byte (unchanged if the field is absent).
    pub fn with_field(&self, key: &str, value_json: &[u8]) -> Bytes {
        match self.fields.iter().find(|(k, _)| k == key) {
            Some((_, span)) => json_scan::splice(&self.raw, span.clone(), value_json),
            None => self.raw.clone(),
        }
    }

    /// The whole body as a JSON tree, for providers that translate it.
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::from_slice(&self.raw).unwrap_or(serde_json::Value::Null)
    }
}

/// Rare: the object rebuilt from the kept members' original text, with their new spans.
fn without_gateway_params(
    raw: &[u8],
    fields: &[(String, Range<usize>)],
    anthropic: bool,
) -> (Bytes, Vec<(String, Range<usize>)>) {
    let mut out = Vec::with_capacity(raw.len());
    let mut kept = Vec::with_capacity(fields.len());
    out.push(b'{');
    for (key, span) in fields
        .iter()
        .filter(|(k, _)| !is_gateway_param(k, anthropic))
    {
        if kept.len() > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&json_scan::quote(key));
        out.push(b':');
        let start = out.len();
        out.extend_from_slice(&raw[span.clone()]);
        kept.push((key.clone(), start..out.len()));
    }
    out.push(b'}');
    (Bytes::from(out), kept)
}

/// Keys per body above which duplicates are found with a set instead of a scan.
const LINEAR_DUPLICATE_CHECK: usize = 32;

/// The top-level keys of a JSON object and the byte spans of their values; a key given twice
/// (as decoded: `"mo\u0064el"` is `model`) is a 400 naming it.
fn top_level_fields(raw: &[u8]) -> Result<Vec<(String, Range<usize>)>, GatewayError> {
    struct Fields<'a>(&'a [u8]);
    impl<'de, 'a> Visitor<'de> for Fields<'a> {
        type Value = Vec<(String, Range<usize>)>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let base = self.0.as_ptr() as usize;
            let mut out: Vec<(String, Range<usize>)> = Vec::with_capacity(8);
            let mut seen: Option<std::collections::HashSet<String>> = None;
            while let Some((key, value)) = map.next_entry::<String, &'de RawValue>()? {
                let duplicate = match &mut seen {
                    Some(set) => !set.insert(key.clone()),
                    None => out.iter().any(|(k, _)| *k == key),
                };
                if duplicate {
                    return Err(serde::de::Error::custom(DuplicateKey(key)));
                }
                if seen.is_none() && out.len() >= LINEAR_DUPLICATE_CHECK {
                    let mut set: std::collections::HashSet<String> =
                        out.iter().map(|(k, _)| k.clone()).collect();
                    set.insert(key.clone());
                    seen = Some(set);
                }
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
        let text = e.to_string();
        if let Some(key) = text
            .strip_prefix(DUPLICATE_PREFIX)
            .and_then(|rest| rest.split(DUPLICATE_SUFFIX).next())
        {
            let key = key.to_string();
            return GatewayError::bad_request(format!(
                "Invalid request body: duplicate key {key:?}; each parameter may appear once"
            ))
            .with_param(key);
        }
        let message = if e.is_data() {
            "Invalid request body: expected a JSON object".to_string()
        } else {
            format!("Invalid JSON in request body: {e}")
        };
        GatewayError::bad_request(message)
    })
}

const DUPLICATE_PREFIX: &str = "duplicate top-level key \u{0}";
const DUPLICATE_SUFFIX: &str = "\u{0}";

/// Carried through serde's error as text: `custom` errors keep only their message.
struct DuplicateKey(String);

impl std::fmt::Display for DuplicateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "{DUPLICATE_PREFIX}{}{DUPLICATE_SUFFIX}", self.0)
    }
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
    fn duplicate_keys_are_400_naming_the_key() {
        for (body, key) in [
            (
                r#"{"model":"cheap","messages":[],"model":"expensive"}"#,
                "model",
            ),
            (r#"{"model":"m","messages":[],"messages":[]}"#, "messages"),
            (r#"{"model":"m","mo\u0064el":"x","messages":[]}"#, "model"),
        ] {
            let e = parse(body, Operation::Chat).err().unwrap();
            assert_eq!((e.status, e.param.as_deref()), (400, Some(key)), "{body}");
            assert!(e.message.contains("duplicate"), "{}", e.message);
        }
        let many: String = (0..200).map(|i| format!("\"k{i}\":1,")).collect();
        let body = format!("{{{many}\"model\":\"m\",\"messages\":[],\"k7\":2}}");
        assert_eq!(
            parse(&body, Operation::Chat)
                .err()
                .unwrap()
                .param
                .as_deref(),
            Some("k7")
        );
    }

    #[test]
    fn gateway_params_are_read_once_and_gone_from_the_body() {
        let b = parse(
            r#"{"model":"a","fallbacks":["x"],"metadata":{"k":"v"},"mock_testing_fallbacks":true,"messages":[],"user":"u"}"#,
            Operation::Chat,
        )
        .unwrap();
        assert_eq!(b.gateway.fallbacks.as_deref(), Some(&["x".to_string()][..]));
        assert_eq!(b.gateway.mock_testing_fallbacks, Some(true));
        assert_eq!(&b.raw()[..], br#"{"model":"a","messages":[],"user":"u"}"#);
        assert!(b.to_value().get("metadata").is_none());
        let a = RequestBody::parse_as(
            Bytes::from_static(
                br#"{"model":"a","messages":[],"metadata":{"user_id":"u"},"fallbacks":["x"]}"#,
            ),
            Operation::Chat,
            BodyFormat::Anthropic,
        )
        .unwrap();
        assert_eq!(
            &a.raw()[..],
            br#"{"model":"a","messages":[],"metadata":{"user_id":"u"}}"#
        );
    }

    #[test]
    fn the_json_scan_fuzzers_lone_surrogate_body_is_refused_cleanly() {
        // From the json_scan fuzz target: a lone `\ud888` escape (JSON to the grammar, not to
        // serde_json's tree) in a body whose keys repeat: a clean 400, never a panic.
        let raw = include_bytes!("../../tests/fixtures/fuzz/json_scan_lone_surrogate.json");
        let e = RequestBody::parse(Bytes::from_static(raw), Operation::Chat)
            .err()
            .unwrap();
        assert_eq!(e.status, 400);
        assert!(e.message.contains("duplicate"), "{}", e.message);
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
