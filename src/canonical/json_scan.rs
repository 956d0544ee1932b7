//! Byte-level edits of JSON documents that pass through the gateway mostly unchanged.
//!
//! Rewriting a 5 MB prompt to change its `model` must not parse and re-serialize 5 MB, and a
//! streamed chunk's `model` is rewritten on every event. These functions find a top-level field
//! by scanning (strings and nesting are respected, so a `"model"` inside a message is never
//! touched) and splice the new value in.

use bytes::Bytes;
use std::ops::Range;

/// The span of the value of top-level `key` in a JSON object, if present and simple to skip
/// (any JSON value).
pub fn find_top_level_value(json: &[u8], key: &str) -> Option<Range<usize>> {
    let mut i = skip_ws(json, 0);
    if json.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    loop {
        i = skip_ws(json, i);
        match json.get(i)? {
            b'}' => return None,
            b',' => {
                i += 1;
                continue;
            }
            b'"' => {}
            _ => return None,
        }
        let key_end = skip_string(json, i)?;
        let this_key = &json[i + 1..key_end - 1];
        i = skip_ws(json, key_end);
        if json.get(i) != Some(&b':') {
            return None;
        }
        i = skip_ws(json, i + 1);
        let value_end = skip_value(json, i)?;
        if this_key == key.as_bytes() {
            return Some(i..value_end);
        }
        i = value_end;
    }
}

/// `json` with the value at `span` replaced by `replacement`.
pub fn splice(json: &[u8], span: Range<usize>, replacement: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(json.len() - span.len() + replacement.len());
    out.extend_from_slice(&json[..span.start]);
    out.extend_from_slice(replacement);
    out.extend_from_slice(&json[span.end..]);
    Bytes::from(out)
}

/// A JSON string literal for `s`, quotes included.
pub fn quote(s: &str) -> Vec<u8> {
    serde_json::to_vec(s).unwrap_or_else(|_| b"\"\"".to_vec())
}

/// Sets top-level `"model"` to `model` if the document has one; otherwise returns it unchanged.
pub fn replace_model(json: &[u8], model: &[u8]) -> Option<Bytes> {
    let span = find_top_level_value(json, "model")?;
    Some(splice(json, span, model))
}

fn skip_ws(json: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\r' | b'\t') = json.get(i) {
        i += 1;
    }
    i
}

/// From an opening quote, the index just past the closing quote.
fn skip_string(json: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    loop {
        // memchr-like scan for the next quote or backslash.
        let rest = json.get(i..)?;
        let off = rest.iter().position(|&b| b == b'"' || b == b'\\')?;
        i += off;
        if json[i] == b'\\' {
            i += 2;
        } else {
            return Some(i + 1);
        }
    }
}

/// From the first byte of a value, the index just past it.
fn skip_value(json: &[u8], start: usize) -> Option<usize> {
    match json.get(start)? {
        b'"' => skip_string(json, start),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = start;
            while i < json.len() {
                match json[i] {
                    b'"' => {
                        i = skip_string(json, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            None
        }
        _ => {
            let mut i = start;
            while let Some(&b) = json.get(i) {
                if matches!(b, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t') {
                    break;
                }
                i += 1;
            }
            (i > start).then_some(i)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_only_the_top_level_key() {
        let j = br#"{"messages":[{"role":"user","content":"\"model\": \"x\"","model":"inner"}], "model" : "gpt-4o","n":1}"#;
        let span = find_top_level_value(j, "model").unwrap();
        assert_eq!(&j[span], br#""gpt-4o""#);
    }

    #[test]
    fn replaces_model_keeping_everything_else() {
        let j = br#"{"model":"alias","stream":true}"#;
        let out = replace_model(j, &quote("gpt-4o-mini")).unwrap();
        assert_eq!(&out[..], br#"{"model":"gpt-4o-mini","stream":true}"#);
    }

    #[test]
    fn handles_escapes_and_numbers() {
        let j = br#"{"a":"x\\","b":12.5e3,"c":null,"model":"m\"q"}"#;
        assert_eq!(&j[find_top_level_value(j, "b").unwrap()], b"12.5e3");
        assert_eq!(&j[find_top_level_value(j, "c").unwrap()], b"null");
        assert_eq!(&j[find_top_level_value(j, "model").unwrap()], br#""m\"q""#);
    }

    #[test]
    fn absent_or_malformed_gives_none() {
        assert!(find_top_level_value(br#"{"a":1}"#, "model").is_none());
        assert!(find_top_level_value(br#"{"a":"#, "model").is_none());
        assert!(find_top_level_value(b"[1,2]", "model").is_none());
        assert!(find_top_level_value(b"", "model").is_none());
    }
}
