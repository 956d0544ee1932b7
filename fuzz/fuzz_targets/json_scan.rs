//! The byte-level JSON edits and the request parser on any bytes: no panic; on valid JSON the
//! span found is a valid value and the edited document valid JSON; a body that parses gives a
//! valid JSON body for the provider with its `model` set.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tollgate::canonical::json_scan::{find_top_level_value, quote, replace_model, splice};
use tollgate::canonical::request::Operation;
use tollgate::canonical::RequestBody;

const KEYS: &[&str] = &["model", "stream", "messages", "", "a"];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, json)) = data.split_first() else {
        return;
    };
    let key = KEYS[usize::from(selector) % KEYS.len()];
    let parsed = serde_json::from_slice::<Value>(json).ok();
    let is_object = parsed.as_ref().is_some_and(Value::is_object);

    if let Some(span) = find_top_level_value(json, key) {
        assert!(span.start <= span.end && span.end <= json.len());
        if is_object {
            let value = &json[span.clone()];
            assert!(
                serde_json::from_slice::<Value>(value).is_ok(),
                "the span of {key:?} is no JSON value: {:?}",
                String::from_utf8_lossy(value)
            );
            let edited = splice(json, span, b"[1,\"x\"]");
            assert!(serde_json::from_slice::<Value>(&edited).is_ok());
        }
    }
    if let Some(edited) = replace_model(json, &quote("x\"\u{1}é")) {
        if is_object {
            let v: Value = serde_json::from_slice(&edited).expect("replace_model broke the JSON");
            assert!(v.get("model").is_some());
        }
    }

    let op = match selector >> 6 {
        0 => Operation::Chat,
        1 => Operation::Completion,
        _ => Operation::Embedding,
    };
    if let Ok(body) = RequestBody::parse(Bytes::copy_from_slice(json), op) {
        assert!(!body.model.is_empty());
        let out = body.with_model("x\"y");
        let _ = body.to_value();
        let _ = body.raw_field("messages");
        // The parser skips field values the way serde_json skips them, which lets a lone
        // surrogate escape (`"\ud888"`) through, as JSON's grammar and Python's `json` do; a
        // serde_json tree refuses it. So the output is checked when the input is a tree.
        if parsed.is_none() {
            return;
        }
        let v: Value = serde_json::from_slice(&out).unwrap_or_else(|e| {
            panic!(
                "with_model gave invalid JSON ({e}) for {:?}: {:?}",
                String::from_utf8_lossy(json),
                String::from_utf8_lossy(&out)
            )
        });
        assert_eq!(v.get("model").and_then(Value::as_str), Some("x\"y"));
    }
});
