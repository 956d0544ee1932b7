//! Pure helpers of the mock provider: behaviour parsing, reply splitting,
//! token counting and embedding vectors. Nothing here does I/O, so it is
//! all unit-tested below.

use http::{HeaderName, HeaderValue};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::markers;

pub const DEFAULT_REPLY: &str = "Hello from the mock provider.";
/// Upper bound on `mock.chunks`, so a typo cannot make the mock allocate
/// gigabytes of repeated reply text.
pub const MAX_CHUNKS: usize = 100_000;
/// Upper bound on `chunk_bytes`.
pub const MAX_CHUNK_BYTES: usize = 16 << 20;
/// A whole (not streamed) `chunk_bytes` reply is cut to this many bytes.
const MAX_SIZED_REPLY: usize = 256 << 20;
/// Delays are clamped to one day; anything longer is surely a mistake.
const MAX_DELAY_MS: u64 = 24 * 60 * 60 * 1000;

/// How one request should be answered, merged from the `mock` body object,
/// the `x-mock-*` headers and the model name (in that priority).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Behaviour {
    pub status: Option<u16>,
    pub error_body: Option<Value>,
    pub delay_ms: u64,
    pub chunk_delay_ms: u64,
    pub chunks: Option<usize>,
    pub reply: Option<String>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub break_after_chunks: Option<usize>,
    pub usage: Option<Value>,
    /// `(prompt, completion)` tokens every provider reports in its own shape
    /// (the `usage` marker), in place of the counted ones.
    pub usage_tokens: Option<(u64, u64)>,
    /// Answer with a call to this function (arguments [`TOOL_ARGS`]).
    pub tool: Option<String>,
    /// Read the request, then reset the connection without an answer.
    pub reset_after_read: bool,
    /// Read the request and never answer.
    pub hang: bool,
    /// A stream's next event is this many MB of `a`, never terminated.
    pub huge_event_mb: Option<usize>,
    /// Content chunks sent before the huge event.
    pub huge_event_after_chunks: usize,
    /// Every content piece is this many bytes of `a`.
    pub chunk_bytes: Option<usize>,
}

/// The arguments of every mock tool call.
pub const TOOL_ARGS: &str = r#"{"location":"Paris"}"#;

/// Builds the behaviour of a request from the `mock` body object, the
/// `x-mock-*` headers, `[mock:..]` markers in `user_text` (the last user
/// message) and the model name, in that priority. `Err` carries a message
/// for a 400 answer: malformed control input is reported rather than
/// silently ignored, so a typo in a test shows up at once.
pub fn parse_behaviour(
    mock: Option<&Value>,
    header_status: Option<&str>,
    header_delay_ms: Option<&str>,
    model: Option<&str>,
    user_text: Option<&str>,
) -> Result<Behaviour, String> {
    let mut b = Behaviour::default();
    let (model_status, model_delay) = model.map(model_directives).unwrap_or_default();
    let marks = user_text
        .map(markers::parse)
        .transpose()?
        .unwrap_or_default();

    let mut mock_status = None;
    let mut mock_delay = None;
    let mut mock_chunk_delay = None;
    match mock {
        None | Some(Value::Null) => {}
        Some(Value::Object(fields)) => {
            for (key, value) in fields {
                let field = |what: &str| format!("invalid mock.{key}: expected {what}");
                match key.as_str() {
                    "status" => {
                        let s = value.as_u64().ok_or_else(|| field("an integer"))?;
                        mock_status = Some(check_status(s)?);
                    }
                    "error_body" => b.error_body = Some(value.clone()),
                    "delay_ms" => mock_delay = Some(value.as_u64().ok_or_else(|| field("ms"))?),
                    "chunk_delay_ms" => {
                        mock_chunk_delay = Some(value.as_u64().ok_or_else(|| field("ms"))?)
                    }
                    "tool" => {
                        b.tool = Some(value.as_str().ok_or_else(|| field("a string"))?.into())
                    }
                    "chunks" => {
                        let n = value.as_u64().ok_or_else(|| field("an integer"))?;
                        if n == 0 || n > MAX_CHUNKS as u64 {
                            return Err(field(&format!("1..={MAX_CHUNKS}")));
                        }
                        b.chunks = Some(n as usize);
                    }
                    "reply" => {
                        b.reply = Some(value.as_str().ok_or_else(|| field("a string"))?.into())
                    }
                    "headers" => {
                        let map = value.as_object().ok_or_else(|| field("an object"))?;
                        for (name, v) in map {
                            let v = v.as_str().ok_or_else(|| field("string values"))?;
                            let name = HeaderName::from_bytes(name.as_bytes())
                                .map_err(|_| format!("invalid mock.headers name {name:?}"))?;
                            let v = HeaderValue::from_str(v)
                                .map_err(|_| format!("invalid mock.headers value {v:?}"))?;
                            b.headers.push((name, v));
                        }
                    }
                    "break_after_chunks" => {
                        let n = value.as_u64().ok_or_else(|| field("an integer"))?;
                        b.break_after_chunks = Some(usize::try_from(n).unwrap_or(usize::MAX));
                    }
                    "usage" => {
                        if !value.is_object() {
                            return Err(field("an object"));
                        }
                        b.usage = Some(value.clone());
                    }
                    _ => return Err(format!("unknown mock field {key:?}")),
                }
            }
        }
        Some(_) => return Err("invalid mock: expected an object".into()),
    }

    let header_status = match header_status {
        Some(s) => Some(
            s.trim()
                .parse::<u64>()
                .map_err(|_| format!("invalid x-mock-status {s:?}"))
                .and_then(check_status)?,
        ),
        None => None,
    };
    let header_delay = match header_delay_ms {
        Some(s) => Some(
            s.trim()
                .parse::<u64>()
                .map_err(|_| format!("invalid x-mock-delay-ms {s:?}"))?,
        ),
        None => None,
    };

    b.status = mock_status
        .or(header_status)
        .or(marks.status)
        .or(model_status);
    b.delay_ms = mock_delay
        .or(header_delay)
        .or(marks.delay_ms)
        .or(model_delay)
        .unwrap_or(0);
    b.delay_ms = b.delay_ms.min(MAX_DELAY_MS);
    b.chunk_delay_ms = mock_chunk_delay
        .or(marks.chunk_delay_ms)
        .unwrap_or(0)
        .min(MAX_DELAY_MS);
    b.chunks = b.chunks.or(marks.chunks);
    b.break_after_chunks = b
        .break_after_chunks
        .or(marks.break_after_chunks)
        .or(model.and_then(model_break_after));
    b.tool = b.tool.or(marks.tool);
    b.reply = b.reply.or(marks.reply);
    b.usage_tokens = marks.usage;
    b.reset_after_read = marks.reset_after_read.unwrap_or(false);
    b.hang = marks.hang.unwrap_or(false);
    b.huge_event_mb = marks.huge_event_mb;
    b.huge_event_after_chunks = marks.huge_event_after_chunks.unwrap_or(0);
    b.chunk_bytes = marks.chunk_bytes;
    // Marker headers go first so the `mock.headers` ones win.
    let mut headers = Vec::with_capacity(marks.headers.len() + b.headers.len());
    for (name, v) in &marks.headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("invalid [mock:header] name {name:?}"))?;
        let v =
            HeaderValue::from_str(v).map_err(|_| format!("invalid [mock:header] value {v:?}"))?;
        headers.push((name, v));
    }
    headers.append(&mut b.headers);
    b.headers = headers;
    Ok(b)
}

fn check_status(s: u64) -> Result<u16, String> {
    match u16::try_from(s) {
        Ok(s) if (200..=599).contains(&s) => Ok(s),
        _ => Err(format!("invalid mock status {s}: expected 200..=599")),
    }
}

/// Reads `status-503` / `slow-250` from a model name. Only the last `/`
/// segment counts (gateways often prefix a provider), and trailing text after
/// the digits is allowed so several deployments can share a directive
/// (`slow-100-a`, `slow-100-b`).
pub fn model_directives(model: &str) -> (Option<u16>, Option<u64>) {
    let name = model.rsplit('/').next().unwrap_or(model);
    let digits = |rest: &str| {
        let end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        rest[..end].parse::<u64>().ok()
    };
    if let Some(rest) = name.strip_prefix("status-") {
        let status = digits(rest).and_then(|s| check_status(s).ok());
        return (status, None);
    }
    if let Some(rest) = name.strip_prefix("slow-") {
        return (None, digits(rest).map(|ms| ms.min(MAX_DELAY_MS)));
    }
    (None, None)
}

/// Reads `break-2` (a stream cut after 2 content chunks, `break_after_chunks`)
/// from a model name, like [`model_directives`]: one deployment of a group
/// can break while the others answer the same prompt.
pub fn model_break_after(model: &str) -> Option<usize> {
    let rest = model.rsplit('/').next()?.strip_prefix("break-")?;
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// The assistant text: `reply` if given; `chunks` pieces of `chunk_bytes`
/// bytes of `a`; otherwise the default reply, repeated when `chunks` asks for
/// more pieces than it has words.
pub fn reply_text(b: &Behaviour) -> String {
    if let (None, Some(piece)) = (&b.reply, b.chunk_bytes) {
        let total = piece.saturating_mul(b.chunks.unwrap_or(1));
        return "a".repeat(total.min(MAX_SIZED_REPLY));
    }
    match (&b.reply, b.chunks) {
        (Some(reply), _) => reply.clone(),
        (None, Some(chunks)) => {
            let words = DEFAULT_REPLY.split_whitespace().count();
            let repeats = chunks.div_ceil(words).max(1);
            vec![DEFAULT_REPLY; repeats].join(" ")
        }
        (None, None) => DEFAULT_REPLY.to_string(),
    }
}

/// The one content piece a `chunk_bytes` stream repeats `chunks` times
/// (built once: such streams can be gigabytes long).
pub fn sized_piece(b: &Behaviour) -> Option<String> {
    match (&b.reply, b.chunk_bytes) {
        (None, Some(n)) => Some("a".repeat(n)),
        _ => None,
    }
}

/// The content pieces of a stream: `chunks` roughly equal pieces when given,
/// else one per word with its trailing whitespace.
pub fn stream_pieces(reply: &str, chunks: Option<usize>) -> Vec<&str> {
    match chunks {
        Some(n) => split_even(reply, n),
        None => split_words(reply),
    }
}

/// Splits into words, each keeping the whitespace after it (leading
/// whitespace stays with the first word), so the pieces concatenate back to
/// the input.
pub fn split_words(s: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let (mut prev_space, mut seen_word) = (false, false);
    for (i, c) in s.char_indices() {
        let space = c.is_whitespace();
        // A word after whitespace starts a new piece, unless no word came
        // yet (leading whitespace).
        if !space && prev_space && seen_word {
            pieces.push(&s[start..i]);
            start = i;
        }
        seen_word |= !space;
        prev_space = space;
    }
    if start < s.len() {
        pieces.push(&s[start..]);
    }
    pieces
}

/// Splits into exactly `n` pieces (at least one) of nearly equal char
/// counts, on char boundaries. Pieces may be empty when `s` has fewer
/// chars than `n`: the chunk count is what a test asks for.
pub fn split_even(s: &str, n: usize) -> Vec<&str> {
    let n = n.max(1);
    let bounds: Vec<usize> = s.char_indices().map(|(i, _)| i).chain([s.len()]).collect();
    let chars = bounds.len() - 1;
    (0..n)
        .map(|i| &s[bounds[i * chars / n]..bounds[(i + 1) * chars / n]])
        .collect()
}

/// Characters of the text a request sends: chat message contents (plain or
/// as text parts), a completion `prompt` or an embeddings `input`. A token id
/// counts as 4 characters, i.e. one token.
pub fn prompt_chars(body: &serde_json::Map<String, Value>) -> usize {
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .map(|m| m.iter().map(|msg| text_chars(&msg["content"])).sum())
        .unwrap_or(0);
    let prompt = body.get("prompt").map(text_chars).unwrap_or(0);
    let input = body.get("input").map(text_chars).unwrap_or(0);
    messages + prompt + input
}

fn text_chars(v: &Value) -> usize {
    match v {
        Value::String(s) => s.chars().count(),
        Value::Number(_) => 4,
        Value::Array(items) => items.iter().map(text_chars).sum(),
        // A content part such as {"type":"text","text":"..."}; images count 0.
        Value::Object(part) => part.get("text").map(text_chars).unwrap_or(0),
        _ => 0,
    }
}

pub fn prompt_tokens(body: &serde_json::Map<String, Value>) -> u64 {
    (prompt_chars(body) / 4).max(1) as u64
}

pub fn completion_tokens(reply: &str) -> u64 {
    reply.split_whitespace().count() as u64
}

/// The items to embed, as the bytes their vectors derive from: the text of a
/// string, or the JSON of a token-id list.
pub fn embedding_inputs(input: &Value) -> Result<Vec<Vec<u8>>, String> {
    let bad = || {
        "input must be a string, a list of strings, a list of token ids or a list of lists of token ids".to_string()
    };
    let tokens = |v: &Value| match v.as_array() {
        Some(ids) if ids.iter().all(Value::is_u64) => Ok(v.to_string().into_bytes()),
        _ => Err(bad()),
    };
    match input {
        Value::String(s) => Ok(vec![s.clone().into_bytes()]),
        Value::Array(items) if items.iter().all(Value::is_string) => Ok(items
            .iter()
            .map(|s| s.as_str().unwrap_or_default().as_bytes().to_vec())
            .collect()),
        Value::Array(items) if items.iter().all(Value::is_u64) => Ok(vec![tokens(input)?]),
        Value::Array(items) => items.iter().map(tokens).collect(),
        _ => Err(bad()),
    }
}

/// Eight deterministic floats from the input's SHA-256, scaled to a unit
/// vector like real embeddings.
pub fn embedding_vector(input: &[u8]) -> [f32; 8] {
    let digest = Sha256::digest(input);
    let mut v = [0f32; 8];
    for (x, word) in v.iter_mut().zip(digest.chunks_exact(4)) {
        let u = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
        *x = (u as f64 / u32::MAX as f64 * 2.0 - 1.0) as f32;
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

/// `encoding_format: "base64"`: the little-endian f32 array in base64, as
/// OpenAI answers it.
pub fn embedding_base64(v: &[f32]) -> String {
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    crate::encoding::base64(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> serde_json::Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn split_words_keeps_trailing_space() {
        let pieces = split_words(DEFAULT_REPLY);
        assert_eq!(pieces, ["Hello ", "from ", "the ", "mock ", "provider."]);
        assert_eq!(split_words("  a  b\n"), ["  a  ", "b\n"]);
        assert!(split_words("").is_empty());
    }

    #[test]
    fn split_even_gives_exact_count_on_char_boundaries() {
        assert_eq!(split_even("abcdefghij", 3), ["abc", "def", "ghij"]);
        let s = "héllo wörld ✓";
        for n in 1..20 {
            let pieces = split_even(s, n);
            assert_eq!(pieces.len(), n);
            assert_eq!(pieces.concat(), s);
        }
        assert_eq!(split_even("ab", 0), ["ab"]);
    }

    #[test]
    fn reply_repeats_default_for_many_chunks() {
        let b = Behaviour {
            chunks: Some(12),
            ..Default::default()
        };
        let reply = reply_text(&b);
        assert!(reply.split_whitespace().count() >= 12);
        assert_eq!(stream_pieces(&reply, b.chunks).len(), 12);
        assert_eq!(reply_text(&Behaviour::default()), DEFAULT_REPLY);
    }

    #[test]
    fn sized_replies() {
        let b = parse_behaviour(
            None,
            None,
            None,
            None,
            Some("[mock:chunk_bytes=4][mock:chunks=3][mock:header=retry-after:1e20]"),
        )
        .unwrap();
        assert_eq!(reply_text(&b), "a".repeat(12));
        assert_eq!(sized_piece(&b).as_deref(), Some("aaaa"));
        assert_eq!(b.headers[0].1, "1e20");
        assert_eq!(sized_piece(&Behaviour::default()), None);
        assert!(parse_behaviour(None, None, None, None, Some("[mock:header=a b:c]")).is_err());
    }

    #[test]
    fn token_counts() {
        let body = obj(json!({"messages": [
            {"role": "system", "content": "12345678"},
            {"role": "user", "content": [{"type": "text", "text": "abcd"}, {"type": "image_url"}]},
        ]}));
        assert_eq!(prompt_tokens(&body), 3);
        assert_eq!(prompt_tokens(&obj(json!({"messages": []}))), 1);
        assert_eq!(prompt_tokens(&obj(json!({"input": [[1, 2, 3], [4]]}))), 4);
        assert_eq!(prompt_tokens(&obj(json!({"prompt": "ab"}))), 1);
        assert_eq!(completion_tokens(DEFAULT_REPLY), 5);
    }

    #[test]
    fn behaviour_priority_mock_then_header_then_model() {
        let mock = json!({"status": 429, "delay_ms": 5});
        let b = parse_behaviour(
            Some(&mock),
            Some("500"),
            Some("7"),
            Some("status-503"),
            None,
        )
        .unwrap();
        assert_eq!((b.status, b.delay_ms), (Some(429), 5));
        let b = parse_behaviour(None, Some("500"), Some("7"), Some("status-503"), None).unwrap();
        assert_eq!((b.status, b.delay_ms), (Some(500), 7));
        let b = parse_behaviour(None, None, None, Some("openai/status-503"), None).unwrap();
        assert_eq!(b.status, Some(503));
        let b = parse_behaviour(None, None, None, Some("slow-250-a"), None).unwrap();
        assert_eq!((b.status, b.delay_ms), (None, 250));
        let b = parse_behaviour(None, None, None, Some("gpt-4o"), None).unwrap();
        assert_eq!(b, Behaviour::default());
        let b = parse_behaviour(None, None, None, Some("openai/break-0-primary"), None).unwrap();
        assert_eq!(b.break_after_chunks, Some(0));
        let text = Some("[mock:break_after_chunks=3]");
        let b = parse_behaviour(None, None, None, Some("break-2"), text).unwrap();
        assert_eq!(b.break_after_chunks, Some(3));
        assert_eq!(model_break_after("break-x"), None);
    }

    #[test]
    fn behaviour_fields_and_errors() {
        let mock = json!({"reply": "hi there", "chunks": 3, "chunk_delay_ms": 10,
            "headers": {"x-extra": "1"}, "break_after_chunks": 2, "usage": {"total_tokens": 1},
            "error_body": {"oops": true}});
        let b = parse_behaviour(Some(&mock), None, None, None, None).unwrap();
        assert_eq!(b.reply.as_deref(), Some("hi there"));
        assert_eq!(
            (b.chunks, b.chunk_delay_ms, b.break_after_chunks),
            (Some(3), 10, Some(2))
        );
        assert_eq!(b.headers[0].0.as_str(), "x-extra");
        assert_eq!(b.usage, Some(json!({"total_tokens": 1})));
        assert_eq!(b.error_body, Some(json!({"oops": true})));

        for bad in [
            json!({"status": "429"}),
            json!({"status": 99}),
            json!({"status": 1000}),
            json!({"delay_ms": -1}),
            json!({"chunks": 0}),
            json!({"headers": {"bad name": "x"}}),
            json!({"usage": 3}),
            json!({"delay": 5}),
            json!("status"),
        ] {
            assert!(
                parse_behaviour(Some(&bad), None, None, None, None).is_err(),
                "{bad}"
            );
        }
        assert!(parse_behaviour(None, Some("abc"), None, None, None).is_err());
        assert!(parse_behaviour(None, None, Some("-5"), None, None).is_err());
        assert!(parse_behaviour(Some(&Value::Null), None, None, None, None).is_ok());
    }

    #[test]
    fn embeddings() {
        assert_eq!(embedding_inputs(&json!("a")).unwrap().len(), 1);
        assert_eq!(embedding_inputs(&json!(["a", "b"])).unwrap().len(), 2);
        assert_eq!(embedding_inputs(&json!([1, 2, 3])).unwrap().len(), 1);
        assert_eq!(embedding_inputs(&json!([[1], [2, 3]])).unwrap().len(), 2);
        assert!(embedding_inputs(&json!([1, "a"])).is_err());
        assert!(embedding_inputs(&json!({"a": 1})).is_err());
        let v = embedding_vector(b"hello");
        assert_eq!(v, embedding_vector(b"hello"));
        assert_ne!(v, embedding_vector(b"world"));
        let norm: f32 = v.iter().map(|x| x * x).sum();
        assert!((norm - 1.0).abs() < 1e-5);
    }

    #[test]
    fn encodings() {
        assert_eq!(embedding_base64(&[1.0]), "AACAPw==");
    }

    #[test]
    fn markers_rank_below_mock_and_headers_above_model() {
        let text = Some("hi [mock:status=429][mock:delay_ms=9][mock:chunks=3][mock:tool=f]");
        let b = parse_behaviour(None, None, None, Some("status-503"), text).unwrap();
        assert_eq!((b.status, b.delay_ms, b.chunks), (Some(429), 9, Some(3)));
        assert_eq!(b.tool.as_deref(), Some("f"));
        let b = parse_behaviour(None, Some("500"), None, None, text).unwrap();
        assert_eq!(b.status, Some(500));
        let mock = json!({"chunks": 2, "tool": "g", "chunk_delay_ms": 4});
        let b = parse_behaviour(
            Some(&mock),
            None,
            None,
            None,
            Some("[mock:chunk_delay_ms=8]"),
        )
        .unwrap();
        assert_eq!((b.chunks, b.chunk_delay_ms), (Some(2), 4));
        assert_eq!(b.tool.as_deref(), Some("g"));
        assert!(parse_behaviour(None, None, None, None, Some("[mock:nope=1]")).is_err());
    }
}
