//! Cohere error answers, `{"message": "..."}` (v2 adds an `id`), into the status, message and
//! OpenAI error `type` the gateway reports, following LiteLLM's Cohere exception mapping:
//!
//! - a message saying `invalid api token` or `No API key provided.` is a 401;
//! - 498 (Cohere's blocked/invalid token) is a 400 `BadRequestError`;
//! - 500 is a 503 `ServiceUnavailableError`, as LiteLLM raises it;
//! - everything else keeps its status.

use crate::canonical::error_text::raw_error_message;
use crate::error::kind_for_status;
use serde_json::Value;

/// `(status, message, openai_type)` for a Cohere error answer.
pub fn map_error(status: u16, body: &[u8]) -> (u16, String, &'static str) {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let message = parsed
        .as_ref()
        .and_then(|v| v.get("message").or_else(|| v.pointer("/error/message")))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| raw_error_message(status, body));
    let status = openai_status(status, &message);
    (status, message, kind_for_status(status))
}

fn openai_status(status: u16, message: &str) -> u16 {
    if message.contains("invalid api token") || message.contains("No API key provided.") {
        return 401;
    }
    match status {
        498 => 400,
        500 => 503,
        s if (400..=599).contains(&s) => s,
        _ => 500,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVALID_TOKEN: &str =
        include_str!("../../../tests/fixtures/cohere/error_invalid_token.json");
    const TOO_MANY_TOKENS: &str =
        include_str!("../../../tests/fixtures/cohere/error_too_many_tokens.json");

    #[test]
    fn invalid_token_is_401_authentication_error() {
        assert_eq!(
            map_error(401, INVALID_TOKEN.as_bytes()),
            (401, "invalid api token".to_string(), "authentication_error")
        );
        // Cohere's 498 with the same words is still an authentication problem.
        assert_eq!(map_error(498, INVALID_TOKEN.as_bytes()).0, 401);
    }

    #[test]
    fn too_many_tokens_keeps_400_and_the_message() {
        let (status, message, kind) = map_error(400, TOO_MANY_TOKENS.as_bytes());
        assert_eq!((status, kind), (400, "invalid_request_error"));
        assert!(message.starts_with("too many tokens: total number of tokens"));
    }

    #[test]
    fn statuses_map_as_litellm_raises_them() {
        let body = br#"{"id":"x","message":"m"}"#;
        for (given, want, kind) in [
            (400, 400, "invalid_request_error"),
            (402, 402, "api_error"),
            (404, 404, "not_found_error"),
            (422, 422, "invalid_request_error"),
            (429, 429, "rate_limit_error"),
            (498, 400, "invalid_request_error"),
            (499, 499, "api_error"),
            (500, 503, "service_unavailable_error"),
            (503, 503, "service_unavailable_error"),
            (504, 504, "internal_server_error"),
            (200, 500, "internal_server_error"),
            (302, 500, "internal_server_error"),
        ] {
            assert_eq!(
                map_error(given, body),
                (want, "m".to_string(), kind),
                "{given}"
            );
        }
    }

    #[test]
    fn non_json_and_nested_bodies() {
        assert_eq!(
            map_error(502, b"  <html>bad gateway</html> ").1,
            "<html>bad gateway</html>"
        );
        assert_eq!(map_error(503, b"").1, "HTTP 503");
        assert_eq!(
            map_error(400, br#"{"error":{"message":"nested"}}"#).1,
            "nested"
        );
        assert_eq!(map_error(400, br#"{"message":5}"#).1, r#"{"message":5}"#);
        let long = "x".repeat(5000);
        assert_eq!(map_error(500, long.as_bytes()).1.len(), 2000);
    }
}
