//! The one error type of the request path. Every module returns it; the proxy renders it as
//! OpenAI's error JSON, `{"error": {"message", "type", "param", "code"}}`, with `code` the
//! HTTP status as a string, as LiteLLM does.

use bytes::Bytes;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq)]
pub struct GatewayError {
    pub status: u16,
    pub message: String,
    /// OpenAI's `type`: `invalid_request_error`, `auth_error`, `rate_limit_error`, ...
    pub kind: &'static str,
    pub param: Option<String>,
}

impl GatewayError {
    pub fn new(status: u16, kind: &'static str, message: impl Into<String>) -> Self {
        GatewayError {
            status,
            message: message.into(),
            kind,
            param: None,
        }
    }

    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "invalid_request_error", message)
    }

    pub fn auth(message: impl Into<String>) -> Self {
        Self::new(401, "auth_error", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "not_found_error", message)
    }

    pub fn too_large(limit_bytes: usize) -> Self {
        Self::new(
            413,
            "invalid_request_error",
            format!(
                "Request size is too large. Request size is more than max_request_size_mb ({} MB)",
                limit_bytes / (1024 * 1024)
            ),
        )
    }

    pub fn unknown_model(model: &str) -> Self {
        Self::bad_request(format!(
            "Invalid model name passed in model={model}. Call `/v1/models` to view available models for your key."
        ))
        .with_param("model")
    }

    /// The provider could not be reached at all (connect refused, DNS, TLS).
    pub fn upstream_unreachable(group: &str, provider: &str, detail: &str) -> Self {
        Self::new(
            502,
            "api_connection_error",
            format!(
                "litellm.APIConnectionError: {provider} - could not reach the provider: {detail}. Received Model Group={group}"
            ),
        )
    }

    pub fn timeout(group: &str, provider: &str, seconds: f64) -> Self {
        Self::new(
            408,
            "timeout",
            format!(
                "litellm.Timeout: {provider} - request timed out after {seconds} seconds. Received Model Group={group}"
            ),
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "internal_server_error", message)
    }

    /// The error body as OpenAI clients parse it.
    pub fn to_json(&self) -> Bytes {
        #[derive(Serialize)]
        struct Body<'a> {
            error: Inner<'a>,
        }
        #[derive(Serialize)]
        struct Inner<'a> {
            message: &'a str,
            #[serde(rename = "type")]
            kind: &'a str,
            param: Option<&'a str>,
            code: String,
        }
        let body = Body {
            error: Inner {
                message: &self.message,
                kind: self.kind,
                param: self.param.as_deref(),
                code: self.status.to_string(),
            },
        };
        // Serializing plain strings into a Vec cannot fail.
        Bytes::from(serde_json::to_vec(&body).unwrap_or_default())
    }

    /// The same error as one SSE event, for failures after a stream has started.
    pub fn to_sse_event(&self) -> Bytes {
        let json = self.to_json();
        let mut out = Vec::with_capacity(json.len() + 10);
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(&json);
        out.extend_from_slice(b"\n\n");
        Bytes::from(out)
    }
}

impl std::fmt::Display for GatewayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.message)
    }
}

impl std::error::Error for GatewayError {}

/// OpenAI's error `type` for an HTTP status, used when a provider gives none.
pub fn kind_for_status(status: u16) -> &'static str {
    match status {
        400 | 413 | 422 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_denied_error",
        404 => "not_found_error",
        408 => "timeout",
        429 => "rate_limit_error",
        503 => "service_unavailable_error",
        s if s >= 500 => "internal_server_error",
        _ => "api_error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_openai_error_shape_with_code_as_string() {
        let e = GatewayError::bad_request("messages is required").with_param("messages");
        let v: serde_json::Value = serde_json::from_slice(&e.to_json()).unwrap();
        assert_eq!(v["error"]["message"], "messages is required");
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert_eq!(v["error"]["param"], "messages");
        assert_eq!(v["error"]["code"], "400");
    }

    #[test]
    fn param_is_null_when_absent() {
        let v: serde_json::Value =
            serde_json::from_slice(&GatewayError::auth("no key").to_json()).unwrap();
        assert!(v["error"]["param"].is_null());
        assert_eq!(v["error"]["code"], "401");
    }
}
