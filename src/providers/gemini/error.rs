//! Google's error answers, `{"error": {"code": 429, "message": "..", "status":
//! "RESOURCE_EXHAUSTED", "details": [..]}}` (google.rpc.Status as JSON), into the status,
//! message and OpenAI error `type` the gateway reports.
//!
//! The HTTP status passes through: Google already maps each canonical code to one. The
//! canonical code (`status`) picks the error type, since it is more precise than the HTTP
//! status (400 covers INVALID_ARGUMENT, FAILED_PRECONDITION and OUT_OF_RANGE).

use crate::canonical::error_text::raw_error_message;
use crate::error::kind_for_status;
use serde_json::Value;

/// `(status, message, openai_type)` for a Google error answer.
pub fn map_error(status: u16, body: &[u8]) -> (u16, String, &'static str) {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let error = parsed.as_ref().and_then(error_object);
    let code = error.and_then(|e| e.get("status")).and_then(Value::as_str);
    let message = error
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| raw_error_message(status, body));
    let status = if (400..=599).contains(&status) {
        status
    } else {
        // A 2xx with an error body (a stream's error event) or an odd status: take the
        // status the body names, else call it a server error.
        error
            .and_then(|e| e.get("code"))
            .and_then(Value::as_u64)
            .and_then(|c| u16::try_from(c).ok())
            .filter(|c| (400..=599).contains(c))
            .or_else(|| code.map(status_for_code))
            .unwrap_or(500)
    };
    let kind = code
        .and_then(openai_kind)
        .unwrap_or_else(|| kind_for_status(status));
    (status, message, kind)
}

/// The `error` object, whether the body is one Status or a one-element array of them (the
/// JSON-array framing streaming endpoints use without `alt=sse`).
fn error_object(v: &Value) -> Option<&Value> {
    match v {
        Value::Array(items) => items.first().and_then(|i| i.get("error")),
        _ => v.get("error"),
    }
    .filter(|e| e.is_object())
}

/// The HTTP status Google documents for a canonical code (google.rpc.Code).
fn status_for_code(code: &str) -> u16 {
    match code {
        "INVALID_ARGUMENT" | "FAILED_PRECONDITION" | "OUT_OF_RANGE" => 400,
        "UNAUTHENTICATED" => 401,
        "PERMISSION_DENIED" => 403,
        "NOT_FOUND" => 404,
        "ABORTED" | "ALREADY_EXISTS" => 409,
        "RESOURCE_EXHAUSTED" => 429,
        "CANCELLED" => 499,
        "UNIMPLEMENTED" => 501,
        "UNAVAILABLE" => 503,
        "DEADLINE_EXCEEDED" => 504,
        // INTERNAL, UNKNOWN, DATA_LOSS and anything new.
        _ => 500,
    }
}

/// The canonical code as the gateway names error types (the names `kind_for_status` uses).
fn openai_kind(code: &str) -> Option<&'static str> {
    Some(match code {
        "INVALID_ARGUMENT" | "FAILED_PRECONDITION" | "OUT_OF_RANGE" => "invalid_request_error",
        "UNAUTHENTICATED" => "authentication_error",
        "PERMISSION_DENIED" => "permission_denied_error",
        "NOT_FOUND" => "not_found_error",
        "RESOURCE_EXHAUSTED" => "rate_limit_error",
        "DEADLINE_EXCEEDED" => "timeout",
        "UNAVAILABLE" => "service_unavailable_error",
        "INTERNAL" | "UNKNOWN" | "DATA_LOSS" => "internal_server_error",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVALID: &str =
        include_str!("../../../tests/fixtures/gemini/error_invalid_argument.json");
    const QUOTA: &str =
        include_str!("../../../tests/fixtures/gemini/error_resource_exhausted.json");

    #[test]
    fn invalid_argument_keeps_status_and_message() {
        assert_eq!(
            map_error(400, INVALID.as_bytes()),
            (
                400,
                "API key not valid. Please pass a valid API key.".to_string(),
                "invalid_request_error"
            )
        );
    }

    #[test]
    fn resource_exhausted_is_a_rate_limit() {
        let (status, message, kind) = map_error(429, QUOTA.as_bytes());
        assert_eq!(status, 429);
        assert!(message.starts_with("You exceeded your current quota"));
        assert_eq!(kind, "rate_limit_error");
    }

    #[test]
    fn maps_every_canonical_code() {
        let cases = [
            (401, "UNAUTHENTICATED", "authentication_error"),
            (403, "PERMISSION_DENIED", "permission_denied_error"),
            (404, "NOT_FOUND", "not_found_error"),
            (400, "FAILED_PRECONDITION", "invalid_request_error"),
            (400, "OUT_OF_RANGE", "invalid_request_error"),
            (500, "INTERNAL", "internal_server_error"),
            (503, "UNAVAILABLE", "service_unavailable_error"),
            (504, "DEADLINE_EXCEEDED", "timeout"),
            (409, "ABORTED", "api_error"),
        ];
        for (status, code, kind) in cases {
            let body =
                format!(r#"{{"error":{{"code":{status},"message":"m","status":"{code}"}}}}"#);
            assert_eq!(
                map_error(status, body.as_bytes()),
                (status, "m".to_string(), kind),
                "{code}"
            );
        }
    }

    #[test]
    fn array_framed_errors_are_read() {
        let body =
            br#"[{"error":{"code":404,"message":"models/x is not found","status":"NOT_FOUND"}}]"#;
        assert_eq!(
            map_error(404, body),
            (404, "models/x is not found".to_string(), "not_found_error")
        );
    }

    #[test]
    fn errors_inside_a_200_stream_take_the_status_from_the_body() {
        let body = br#"{"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}"#;
        assert_eq!(map_error(200, body).0, 503);
        let no_code = br#"{"error":{"message":"m","status":"RESOURCE_EXHAUSTED"}}"#;
        assert_eq!(map_error(200, no_code).0, 429);
        assert_eq!(map_error(200, b"{}").0, 500);
    }

    #[test]
    fn non_json_and_odd_bodies_do_not_panic() {
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
        for body in [
            &b"[]"[..],
            b"null",
            b"{\"error\":\"text\"}",
            b"\xff\xfe",
            b"[1]",
        ] {
            let (status, _, _) = map_error(400, body);
            assert_eq!(status, 400);
        }
    }
}
