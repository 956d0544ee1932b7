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
    find_member(json, key).map(|(_, value)| value)
}

/// The top-level member `key`: the span from its key's opening quote to the end of its value,
/// and the span of the value.
fn find_member(json: &[u8], key: &str) -> Option<(Range<usize>, Range<usize>)> {
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
        let key_start = i;
        let key_end = skip_string(json, i)?;
        let this_key = &json[i + 1..key_end - 1];
        i = skip_ws(json, key_end);
        if json.get(i) != Some(&b':') {
            return None;
        }
        i = skip_ws(json, i + 1);
        let value_end = skip_value(json, i)?;
        if this_key == key.as_bytes() {
            return Some((key_start..value_end, i..value_end));
        }
        i = value_end;
    }
}

/// `json` without its top-level member `key` (and the comma that separated it), if it has one.
pub fn remove_top_level(json: &[u8], key: &str) -> Option<Bytes> {
    let (member, _) = find_member(json, key)?;
    let after = skip_ws(json, member.end);
    let cut = if json.get(after) == Some(&b',') {
        member.start..skip_ws(json, after + 1)
    } else {
        // The last member: the comma before it goes instead (none if it was the only one).
        let before = json[..member.start]
            .iter()
            .rposition(|b| !matches!(b, b' ' | b'\n' | b'\r' | b'\t'));
        match before {
            Some(comma) if json[comma] == b',' => comma..member.end,
            _ => member.start..member.end,
        }
    };
    Some(splice(json, cut, b""))
}

/// A request body asking an OpenAI-compatible API to end its stream with the usage chunk:
/// top-level `stream_options.include_usage` set to `true`, every other byte kept. `None` when
/// `json` is not an object or its `stream_options` is neither an object nor null.
pub fn with_stream_usage(json: &[u8]) -> Option<Bytes> {
    if let Some(span) = find_top_level_value(json, "stream_options") {
        let mut options: serde_json::Value = serde_json::from_slice(&json[span.clone()]).ok()?;
        if options.is_null() {
            options = serde_json::Value::Object(serde_json::Map::new());
        }
        options
            .as_object_mut()?
            .insert("include_usage".into(), serde_json::Value::Bool(true));
        let options = serde_json::to_vec(&options).ok()?;
        return Some(splice(json, span, &options));
    }
    let open = skip_ws(json, 0);
    if json.get(open) != Some(&b'{') {
        return None;
    }
    let empty = json.get(skip_ws(json, open + 1)) == Some(&b'}');
    let mut member = br#""stream_options":{"include_usage":true}"#.to_vec();
    if !empty {
        member.push(b',');
    }
    Some(splice(json, open + 1..open + 1, &member))
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
    fn removes_a_member_first_middle_last_or_only() {
        let remove = |j: &[u8]| remove_top_level(j, "usage").map(|b| b.to_vec());
        let j = br#"{"usage":{"a":1}, "id":"x"}"#;
        assert_eq!(remove(j).unwrap(), br#"{"id":"x"}"#);
        let j = br#"{"id":"x","usage":null,"n":1}"#;
        assert_eq!(remove(j).unwrap(), br#"{"id":"x","n":1}"#);
        let j = br#"{"id":"x" , "usage" : {"p":[1,2]} }"#;
        assert_eq!(remove(j).unwrap(), br#"{"id":"x"  }"#);
        assert_eq!(remove(br#"{"usage":1}"#).unwrap(), b"{}");
        let j = br#"{"choices":[{"usage":1}]}"#;
        assert!(remove(j).is_none());
    }

    #[test]
    fn asks_for_stream_usage_keeping_the_rest() {
        let ask = |j: &str| String::from_utf8(with_stream_usage(j.as_bytes()).unwrap().to_vec());
        let want = r#"{"stream_options":{"include_usage":true},"model":"m","stream":true}"#;
        assert_eq!(ask(r#"{"model":"m","stream":true}"#).unwrap(), want);
        assert_eq!(
            ask(r#" { } "#).unwrap(),
            r#" {"stream_options":{"include_usage":true} } "#
        );
        assert_eq!(
            ask(r#"{"stream_options":{"include_usage":false,"x":1},"m":2}"#).unwrap(),
            r#"{"stream_options":{"include_usage":true,"x":1},"m":2}"#
        );
        assert_eq!(
            ask(r#"{"stream_options":null}"#).unwrap(),
            r#"{"stream_options":{"include_usage":true}}"#
        );
        assert!(with_stream_usage(br#"{"stream_options":3}"#).is_none());
        assert!(with_stream_usage(b"[1]").is_none());
    }

    #[test]
    fn absent_or_malformed_gives_none() {
        assert!(find_top_level_value(br#"{"a":1}"#, "model").is_none());
        assert!(find_top_level_value(br#"{"a":"#, "model").is_none());
        assert!(find_top_level_value(b"[1,2]", "model").is_none());
        assert!(find_top_level_value(b"", "model").is_none());
    }
}
