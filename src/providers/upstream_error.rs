//! Provider error bodies, re-shaped as LiteLLM presents them to clients.

use crate::error::{kind_for_status, GatewayError};
use serde_json::Value;

/// LiteLLM's exception class for a status, as its messages name it.
pub fn exception_class(status: u16) -> &'static str {
    match status {
        400 | 422 => "BadRequestError",
        401 => "AuthenticationError",
        403 => "PermissionDeniedError",
        404 => "NotFoundError",
        408 => "Timeout",
        429 => "RateLimitError",
        500 => "InternalServerError",
        502 => "APIConnectionError",
        503 => "ServiceUnavailableError",
        _ => "APIError",
    }
}

/// An upstream error answer: the status passes through, the provider's own message is kept and
/// the model group named, e.g. `litellm.RateLimitError: RateLimitError: OpenAIException - Rate
/// limit reached. Received Model Group=gpt-4o`.
pub fn upstream_error(
    provider_display: &str,
    group: &str,
    status: u16,
    body: &[u8],
) -> GatewayError {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let (message, kind, param) = match parsed.as_ref() {
        Some(v) => extract(v),
        None => (None, None, None),
    };
    let message = message.unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        if text.is_empty() {
            format!("HTTP {status}")
        } else {
            text.chars().take(2000).collect()
        }
    });
    let kind = kind
        .map(leak_kind)
        .unwrap_or_else(|| kind_for_status(status));
    let mut e = provider_error(provider_display, group, status, &message, kind);
    e.param = param;
    e
}

/// A provider's error, already mapped to a status, message and OpenAI error type, worded as
/// LiteLLM words it for clients.
pub fn provider_error(
    provider_display: &str,
    group: &str,
    status: u16,
    message: &str,
    kind: &'static str,
) -> GatewayError {
    let class = exception_class(status);
    let status = if (400..=599).contains(&status) {
        status
    } else {
        500
    };
    GatewayError {
        status,
        message: format!(
            "litellm.{class}: {class}: {provider_display}Exception - {message}. Received Model Group={group}\nAvailable Model Group Fallbacks=None"
        ),
        kind,
        param: None,
    }
}

/// Error bodies come as `{"error": {"message", "type", "param"}}` (OpenAI and most others),
/// `{"error": "text"}`, `{"message": "text"}` or `{"detail": ...}`.
fn extract(v: &Value) -> (Option<String>, Option<String>, Option<String>) {
    let err = v.get("error").unwrap_or(v);
    if let Some(text) = err.as_str() {
        return (Some(text.to_string()), None, None);
    }
    let message = err.get("message").or_else(|| err.get("detail")).map(|m| {
        m.as_str()
            .map(str::to_string)
            .unwrap_or_else(|| m.to_string())
    });
    let kind = err.get("type").and_then(Value::as_str).map(str::to_string);
    let param = err.get("param").and_then(Value::as_str).map(str::to_string);
    (message, kind, param)
}

/// Error types are a small open set; keep the common ones static and map the rest to a
/// generic one rather than allocate per error.
fn leak_kind(kind: String) -> &'static str {
    const KNOWN: &[&str] = &[
        "invalid_request_error",
        "authentication_error",
        "permission_error",
        "not_found_error",
        "rate_limit_error",
        "requests",
        "tokens",
        "insufficient_quota",
        "server_error",
        "api_error",
        "overloaded_error",
        "timeout",
        "mock_error",
    ];
    KNOWN
        .iter()
        .find(|k| **k == kind)
        .copied()
        .unwrap_or("api_error")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_status_and_provider_message() {
        let e = upstream_error(
            "OpenAI",
            "gpt-4o",
            429,
            br#"{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#,
        );
        assert_eq!(e.status, 429);
        assert_eq!(e.kind, "requests");
        assert!(e.message.starts_with(
            "litellm.RateLimitError: RateLimitError: OpenAIException - Rate limit reached."
        ));
        assert!(e.message.contains("Received Model Group=gpt-4o"));
    }

    #[test]
    fn non_json_bodies_are_kept_as_text() {
        let e = upstream_error("Groq", "g", 502, b"<html>bad gateway</html>");
        assert_eq!(e.status, 502);
        assert!(e.message.contains("<html>bad gateway</html>"));
        assert_eq!(e.kind, "internal_server_error");
    }
}
