//! Anthropic's Messages API as an inbound format (`POST /v1/messages`), for the Anthropic SDK
//! and Claude Code talking to non-Anthropic deployments: the client's request becomes the
//! canonical OpenAI chat request, and the OpenAI answer (whole, streamed or an error) becomes
//! what Anthropic would have sent.

mod request;
mod response;
mod stream;

pub use request::messages_to_openai;
pub use response::openai_to_message;
pub use stream::OpenAiToAnthropicStream;

use crate::error::GatewayError;
use serde_json::{json, Value};

/// The gateway's error as Anthropic's error body, `{"type": "error", "error": {type, message}}`.
pub fn error_to_anthropic(err: &GatewayError) -> Value {
    json!({
        "type": "error",
        "error": {"type": error_type(err.status), "message": err.message},
    })
}

/// Anthropic's error `type` for an HTTP status.
pub(crate) fn error_type(status: u16) -> &'static str {
    match status {
        400 => "invalid_request_error",
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        408 | 504 => "timeout_error",
        503 | 529 => "overloaded_error",
        s if (400..500).contains(&s) => "invalid_request_error",
        // 500 and anything else.
        _ => "api_error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_has_anthropic_shape_and_type_per_status() {
        let e = GatewayError::bad_request("max_tokens: Field required").with_param("max_tokens");
        assert_eq!(
            error_to_anthropic(&e),
            json!({"type": "error", "error": {"type": "invalid_request_error", "message": "max_tokens: Field required"}})
        );
        for (status, want) in [
            (400, "invalid_request_error"),
            (401, "authentication_error"),
            (402, "billing_error"),
            (403, "permission_error"),
            (404, "not_found_error"),
            (408, "timeout_error"),
            (413, "request_too_large"),
            (422, "invalid_request_error"),
            (429, "rate_limit_error"),
            (500, "api_error"),
            (501, "api_error"),
            (502, "api_error"),
            (503, "overloaded_error"),
            (504, "timeout_error"),
            (529, "overloaded_error"),
        ] {
            let e = GatewayError::new(status, "x", "m");
            assert_eq!(error_to_anthropic(&e)["error"]["type"], want, "{status}");
        }
    }
}
