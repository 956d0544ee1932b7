//! What every provider route is built from: the request context, the
//! behaviour all routes honour (delay, injected status, error body, extra
//! headers), and whole or streamed responses.

use std::time::Duration;

use bytes::Bytes;
use http::{header, request, HeaderName, HeaderValue, Response, StatusCode};
use http_body_util::{Either, Full};
use serde_json::{Map, Value};

use crate::conn::ConnControl;
use crate::encoding;
use crate::logic::{self, Behaviour};
use crate::stream::EventBody;
use crate::State;

pub type MockBody = Either<Full<Bytes>, EventBody>;
pub type Resp = Response<MockBody>;

pub const APPLICATION_JSON: &str = "application/json";
pub const EVENT_STREAM: &str = "text/event-stream";

/// One provider request as the route handlers see it.
pub struct Ctx<'a> {
    /// Provider requests since start, this one included; numbers ids.
    pub n: u64,
    pub parts: &'a request::Parts,
    pub body: &'a [u8],
    /// The body parsed as JSON; `None` when empty or not JSON.
    pub json: Option<&'a Value>,
    pub state: &'a State,
    /// Resets the connection (`reset_after_read`, the end of a `hang`).
    pub conn: &'a ConnControl,
}

/// A `hang` ends (with a reset) after this long at most.
const MAX_HANG: Duration = Duration::from_secs(120);
/// Where every 3xx answer points: a port nothing listens on.
const REDIRECT_LOCATION: &str = "http://127.0.0.1:1/elsewhere";

impl<'a> Ctx<'a> {
    pub fn header(&self, name: &str) -> Option<&'a str> {
        let value = self.parts.headers.get(name)?;
        Some(value.to_str().unwrap_or("?"))
    }

    /// The body when it is a JSON object.
    pub fn object(&self) -> Option<&'a Map<String, Value>> {
        self.json.and_then(Value::as_object)
    }

    pub fn query(&self, key: &str) -> Option<String> {
        let query = self.parts.uri.query()?;
        encoding::form_pairs(query)
            .into_iter()
            .find_map(|(k, v)| (k == key).then_some(v))
    }
}

/// A provider's error answer for a status and a message, in its format.
pub type ErrorFn = fn(&Ctx<'_>, u16, &str) -> Resp;

/// The behaviour of a provider request (see [`logic::parse_behaviour`]),
/// after its delay. `Err` is the answer to send instead: the provider's 400
/// for malformed controls, or the injected error status.
pub async fn behaviour(
    ctx: &Ctx<'_>,
    body: &Map<String, Value>,
    model: Option<&str>,
    user_text: Option<&str>,
    error: ErrorFn,
) -> Result<Behaviour, Resp> {
    let b = logic::parse_behaviour(
        body.get("mock"),
        ctx.header("x-mock-status"),
        ctx.header("x-mock-delay-ms"),
        model,
        user_text,
    )
    .map_err(|msg| error(ctx, 400, &msg))?;
    if let Some(resp) = faults(ctx, &b).await {
        return Err(resp);
    }
    let status = b.status.unwrap_or(200);
    if status >= 400 {
        let mut resp = match &b.error_body {
            Some(body) => json(status, body),
            None => error(ctx, status, &format!("mock error {status}")),
        };
        extend(&mut resp, &b.headers);
        return Err(resp);
    }
    Ok(b)
}

/// What every route does before answering, in order: a reset right after
/// the request was read, a hang, the delay, a redirect. `Some` is the answer
/// to send instead of the route's own (after a reset it is never written).
pub async fn faults(ctx: &Ctx<'_>, b: &Behaviour) -> Option<Resp> {
    if b.reset_after_read {
        ctx.conn.reset();
        return Some(plain(500, "text/plain", Bytes::new()));
    }
    if b.hang {
        // Dropped here when the peer closes (recorded as `cancelled`).
        tokio::time::sleep(MAX_HANG).await;
        ctx.conn.reset();
        return Some(plain(500, "text/plain", Bytes::new()));
    }
    if b.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(b.delay_ms)).await;
    }
    match b.status {
        Some(status @ 300..=399) => {
            let mut resp = Response::new(Either::Left(Full::new(Bytes::new())));
            *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::FOUND);
            resp.headers_mut().insert(
                header::LOCATION,
                HeaderValue::from_static(REDIRECT_LOCATION),
            );
            extend(&mut resp, &b.headers);
            Some(resp)
        }
        _ => None,
    }
}

/// The status of a successful answer: the injected 2xx/3xx, else 200.
pub fn ok_status(b: &Behaviour) -> u16 {
    b.status.unwrap_or(200)
}

pub fn plain(status: u16, content_type: &'static str, body: Bytes) -> Resp {
    let mut resp = Response::new(Either::Left(Full::new(body)));
    // Statuses are validated to 200..=599 before they get here.
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// A JSON answer; a 429 also says when to retry, as every provider does.
pub fn json(status: u16, value: &Value) -> Resp {
    let bytes = Bytes::from(serde_json::to_vec(value).unwrap_or_default());
    let mut resp = plain(status, APPLICATION_JSON, bytes);
    if status == 429 {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    resp
}

/// A JSON success answer with the `mock.headers`.
pub fn ok_json(b: &Behaviour, value: &Value) -> Resp {
    let mut resp = json(ok_status(b), value);
    extend(&mut resp, &b.headers);
    resp
}

/// A streamed answer of `events`, of which `content` pieces start at
/// `first_content`: `mock.break_after_chunks` cuts the stream after that
/// many of them (0: before any event at all), `mock.chunk_delay_ms` paces every event, `huge_event_mb`
/// replaces what follows `huge_event_after_chunks` of them with one huge
/// unterminated event.
pub fn events(
    content_type: &'static str,
    events: Vec<Bytes>,
    first_content: usize,
    content: usize,
    b: &Behaviour,
) -> Resp {
    let body = match b.huge_event_mb {
        Some(mb) => {
            let mut prefix = events;
            // 0: the huge event is the first of all (no role chunk before it).
            let keep = match b.huge_event_after_chunks {
                0 => 0,
                k => first_content + k.min(content),
            };
            prefix.truncate(keep);
            EventBody::huge(prefix, mb)
        }
        None => {
            // 0 cuts before the first event of any kind: a head, then nothing.
            let break_at = b.break_after_chunks.map(|k| match k {
                0 => 0,
                k => first_content + k.min(content),
            });
            EventBody::new(events, b.chunk_delay_ms, break_at)
        }
    };
    let mut resp = plain(ok_status(b), content_type, Bytes::new());
    *resp.body_mut() = Either::Right(body);
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    extend(&mut resp, &b.headers);
    resp
}

/// Sets a header (an invalid value is skipped: these are mock-made).
pub fn set(resp: &mut Resp, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        resp.headers_mut()
            .insert(HeaderName::from_static(name), value);
    }
}

/// Adds the `mock.headers` overrides (they win over the mock's own).
pub fn extend(resp: &mut Resp, extra: &[(HeaderName, HeaderValue)]) {
    for (name, value) in extra {
        resp.headers_mut().insert(name.clone(), value.clone());
    }
}

/// The text pieces of a tool call's JSON arguments as a stream sends them:
/// `mock.chunks` pieces, else three.
pub fn tool_arg_pieces(b: &Behaviour) -> Vec<&'static str> {
    logic::split_even(logic::TOOL_ARGS, b.chunks.unwrap_or(3))
}

/// The reply text and whether it was cut at the request's token limit
/// (words are tokens). An explicit `mock.chunks` wins over the limit: the
/// chunk count is what the test asks for.
pub fn reply_within(b: &Behaviour, max_tokens: Option<u64>) -> (String, bool) {
    let reply = logic::reply_text(b);
    match max_tokens.filter(|_| b.chunks.is_none()) {
        Some(max) => match truncate_words(&reply, max) {
            Some(cut) => (cut, true),
            None => (reply, false),
        },
        None => (reply, false),
    }
}

/// Keys whose string values (directly or in parts below them) are prompt
/// text, across the providers' request shapes.
const TEXT_KEYS: &[&str] = &[
    "text",
    "content",
    "prompt",
    "input",
    "inputText",
    "inputs",
    "texts",
    "system",
];
/// Keys never counted: controls and tool/generation configuration.
const SKIP_KEYS: &[&str] = &["mock", "tools", "toolConfig", "tool_config", "tool_choice"];

/// Prompt tokens of a request in any provider's shape: the characters of
/// every text under a [`TEXT_KEYS`] key, 4 per token (a token id counts one).
pub fn text_tokens(body: &Value) -> u64 {
    fn chars(v: &Value, counting: bool) -> usize {
        match v {
            Value::String(s) if counting => s.chars().count(),
            Value::Number(_) if counting => 4,
            Value::Array(items) => items.iter().map(|x| chars(x, counting)).sum(),
            Value::Object(map) => map
                .iter()
                .map(|(k, x)| match k.as_str() {
                    k if SKIP_KEYS.contains(&k) => 0,
                    k => chars(x, TEXT_KEYS.contains(&k)),
                })
                .sum(),
            _ => 0,
        }
    }
    (chars(body, false) / 4).max(1) as u64
}

/// The first `max_tokens` words of `reply` (a mock token is a word), or
/// `None` when it already fits.
pub fn truncate_words(reply: &str, max_tokens: u64) -> Option<String> {
    let words: Vec<&str> = reply.split_whitespace().collect();
    (words.len() as u64 > max_tokens).then(|| words[..max_tokens as usize].join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn generic_token_counts_and_truncation() {
        let anthropic = json!({"system": "12345678", "messages": [
            {"role": "user", "content": [{"type": "text", "text": "abcd"}]}],
            "tools": [{"name": "long description ignored"}], "mock": {"reply": "ignored"}});
        assert_eq!(text_tokens(&anthropic), 3);
        let gemini = json!({"contents": [{"parts": [{"text": "12345678"}]}]});
        assert_eq!(text_tokens(&gemini), 2);
        assert_eq!(text_tokens(&json!({"texts": ["abcd", "efgh"]})), 2);
        assert_eq!(text_tokens(&json!({})), 1);
        assert_eq!(truncate_words("a b c", 2).as_deref(), Some("a b"));
        assert_eq!(truncate_words("a b c", 3), None);
    }
}
