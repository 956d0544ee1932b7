//! Anthropic error answers, `{"type":"error","error":{"type":"overloaded_error","message":".."}}`,
//! into the status, message and OpenAI error `type` the gateway reports.
//!
//! Statuses pass through, except overload: Anthropic's 529 (or any `overloaded_error`) becomes
//! 500, because LiteLLM raises `InternalServerError` (status 500) for it and clients and
//! retry policies written against LiteLLM expect that; 529 is also no standard HTTP status.

use crate::canonical::error_text::raw_error_message;
use crate::error::kind_for_status;
use serde_json::Value;

/// `(status, message, openai_type)` for an Anthropic error answer.
pub fn map_error(status: u16, body: &[u8]) -> (u16, String, &'static str) {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let error = parsed.as_ref().and_then(|v| v.get("error"));
    let anthropic_type = error.and_then(|e| e.get("type")).and_then(Value::as_str);
    let message = error
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| raw_error_message(status, body));
    let status = openai_status(status, anthropic_type);
    let kind = anthropic_type
        .and_then(openai_kind)
        .unwrap_or_else(|| kind_for_status(status));
    (status, message, kind)
}

/// The status the client sees for an Anthropic status and error type.
pub(crate) fn openai_status(status: u16, anthropic_type: Option<&str>) -> u16 {
    if status == 529 || anthropic_type == Some("overloaded_error") {
        return 500;
    }
    if (400..=599).contains(&status) {
        status
    } else {
        500
    }
}

/// The status an error type stands for, for errors that arrive inside a stream (the HTTP
/// status there was already 200).
pub(crate) fn status_for_type(anthropic_type: &str) -> u16 {
    match anthropic_type {
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "billing_error" => 402,
        "permission_error" => 403,
        "not_found_error" => 404,
        "request_too_large" => 413,
        "rate_limit_error" => 429,
        "timeout_error" => 504,
        // `api_error`, `overloaded_error` and anything new.
        _ => 500,
    }
}

/// Anthropic's error type as the gateway names it (the names `kind_for_status` uses).
pub(crate) fn openai_kind(anthropic_type: &str) -> Option<&'static str> {
    Some(match anthropic_type {
        "invalid_request_error" | "request_too_large" => "invalid_request_error",
        "authentication_error" => "authentication_error",
        "permission_error" => "permission_denied_error",
        "not_found_error" => "not_found_error",
        "rate_limit_error" => "rate_limit_error",
        "timeout_error" => "timeout",
        "api_error" | "overloaded_error" => "internal_server_error",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OVERLOADED: &str =
        include_str!("../../../tests/fixtures/anthropic/error_overloaded.json");
    const INVALID: &str =
        include_str!("../../../tests/fixtures/anthropic/error_invalid_request.json");

    #[test]
    fn overloaded_529_becomes_500_internal_server_error() {
        let (status, message, kind) = map_error(529, OVERLOADED.as_bytes());
        assert_eq!(status, 500);
        assert_eq!(message, "Overloaded");
        assert_eq!(kind, "internal_server_error");
    }

    #[test]
    fn invalid_request_keeps_status_and_message() {
        let (status, message, kind) = map_error(400, INVALID.as_bytes());
        assert_eq!(status, 400);
        assert_eq!(
            message,
            "messages: roles must alternate between \"user\" and \"assistant\", but found multiple \"user\" roles in a row"
        );
        assert_eq!(kind, "invalid_request_error");
    }

    #[test]
    fn maps_every_documented_type() {
        let cases = [
            (401, "authentication_error", 401, "authentication_error"),
            (403, "permission_error", 403, "permission_denied_error"),
            (404, "not_found_error", 404, "not_found_error"),
            (413, "request_too_large", 413, "invalid_request_error"),
            (429, "rate_limit_error", 429, "rate_limit_error"),
            (500, "api_error", 500, "internal_server_error"),
            (504, "timeout_error", 504, "timeout"),
        ];
        for (status, anthropic_type, want_status, want_kind) in cases {
            let body = format!(
                r#"{{"type":"error","error":{{"type":"{anthropic_type}","message":"m"}}}}"#
            );
            assert_eq!(
                map_error(status, body.as_bytes()),
                (want_status, "m".to_string(), want_kind),
                "{anthropic_type}"
            );
        }
    }

    #[test]
    fn unknown_type_falls_back_to_the_status() {
        let body = br#"{"type":"error","error":{"type":"billing_error","message":"no credit"}}"#;
        assert_eq!(
            map_error(402, body),
            (402, "no credit".to_string(), "api_error")
        );
    }

    #[test]
    fn non_json_bodies_keep_their_text_and_odd_statuses_become_500() {
        assert_eq!(
            map_error(502, b"  <html>bad gateway</html> "),
            (
                502,
                "<html>bad gateway</html>".to_string(),
                "internal_server_error"
            )
        );
        assert_eq!(
            map_error(503, b""),
            (503, "HTTP 503".to_string(), "service_unavailable_error")
        );
        assert_eq!(map_error(200, b"{}").0, 500);
    }
}
