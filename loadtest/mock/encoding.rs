//! Byte encodings the providers use: base64 (embeddings, Bedrock chunk
//! bytes), base64url (JWTs), hex (hashes), percent-encoding (paths, query
//! strings, form bodies).

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::{Map, Value};

pub fn base64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Decodes base64url as JWTs use it (no padding); trailing `=` are
/// tolerated.
pub fn base64url_decode(s: &str) -> Result<Vec<u8>, String> {
    URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .map_err(|e| format!("invalid base64url: {e}"))
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|b| {
            [
                DIGITS[(b >> 4) as usize] as char,
                DIGITS[(b & 15) as usize] as char,
            ]
        })
        .collect()
}

/// Decodes `%XX` escapes; `plus_is_space` for form bodies. Invalid escapes
/// stay as they are, invalid UTF-8 is replaced.
pub fn percent_decode(s: &str, plus_is_space: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex_at = |j: usize| bytes.get(j).and_then(|b| (*b as char).to_digit(16));
        match bytes[i] {
            b'%' => match (hex_at(i + 1), hex_at(i + 2)) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if plus_is_space => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `application/x-www-form-urlencoded` (or a query string) as pairs.
pub fn form_pairs(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k, true), percent_decode(v, true))
        })
        .collect()
}

/// A form body as a JSON object (the last value of a repeated key wins), so
/// it can be recorded and read like a JSON body.
pub fn form_json(body: &[u8]) -> Option<Value> {
    let text = std::str::from_utf8(body).ok()?;
    let map: Map<String, Value> = form_pairs(text)
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    Some(Value::Object(map))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings() {
        assert_eq!(base64(b"hello"), "aGVsbG8=");
        assert_eq!(base64(b"hi"), "aGk=");
        assert_eq!(base64(b""), "");
        assert_eq!(hex(&[0x00, 0xab, 0x7f]), "00ab7f");
        assert_eq!(base64url_decode("aGk").unwrap(), b"hi");
        assert_eq!(base64url_decode("aGk=").unwrap(), b"hi");
        assert_eq!(base64url_decode("-_8").unwrap(), [0xfb, 0xff]);
        assert!(base64url_decode("a b").is_err());
    }

    #[test]
    fn percent_and_forms() {
        assert_eq!(percent_decode("a%3A0%2Fb", false), "a:0/b");
        assert_eq!(percent_decode("a+b%2", true), "a b%2");
        assert_eq!(percent_decode("a+b", false), "a+b");
        let pairs = form_pairs("grant_type=urn%3Aietf%3Aparams&assertion=x.y.z&&flag");
        assert_eq!(
            pairs,
            [
                ("grant_type".into(), "urn:ietf:params".into()),
                ("assertion".into(), "x.y.z".into()),
                ("flag".into(), String::new()),
            ]
        );
        let json = form_json(b"a=1&b=two+words").unwrap();
        assert_eq!(json, serde_json::json!({"a": "1", "b": "two words"}));
    }
}
