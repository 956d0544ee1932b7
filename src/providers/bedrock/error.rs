//! Bedrock and SageMaker error answers into the status, message and OpenAI error `type` the
//! gateway reports.
//!
//! Bedrock's REST-JSON errors carry the message in the body, `{"message": "..."}`, and the error
//! name in the `x-amzn-errortype` header (`ThrottlingException:http://internal.amazon.com/...`);
//! the HTTP status already says which (ValidationException 400, AccessDeniedException 403,
//! ResourceNotFoundException 404, ModelTimeoutException 408, ModelErrorException 424,
//! ThrottlingException and ModelNotReadyException 429, InternalServerException 500,
//! ServiceUnavailableException 503). Signature and key failures come from AWS's front door as
//! `{"Message": "..."}` with a `__type`. SageMaker's model errors add `ErrorCode` and
//! `OriginalMessage`. Statuses pass through, as LiteLLM's BedrockException keeps them.

use crate::canonical::error_text::raw_error_message;
use crate::error::kind_for_status;
use serde_json::Value;

/// `(status, message, openai_type)` for an error answer.
pub fn map_error(status: u16, body: &[u8]) -> (u16, String, &'static str) {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let field = |names: &[&str]| {
        names.iter().find_map(|name| {
            parsed
                .as_ref()
                .and_then(|v| v.get(*name))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        })
    };
    let message = field(&["message", "Message", "OriginalMessage", "errorMessage"])
        .map(str::to_string)
        .unwrap_or_else(|| raw_error_message(status, body));
    let error_type = field(&["__type", "code", "ErrorCode"]).map(short_type_name);
    let status = if (400..=599).contains(&status) {
        status
    } else {
        error_type.and_then(status_for_type).unwrap_or(500)
    };
    let kind = error_type
        .and_then(openai_kind)
        .unwrap_or_else(|| kind_for_status(status));
    (status, message, kind)
}

/// The HTTP status an AWS error name stands for, for errors inside a stream (where the status
/// was already 200). Stream exceptions are named in lowerCamelCase (`throttlingException`), so
/// names compare without case.
pub fn status_for_type(error_type: &str) -> Option<u16> {
    const STATUSES: &[(&str, u16)] = &[
        ("ValidationException", 400),
        ("ServiceQuotaExceededException", 400),
        ("UnrecognizedClientException", 403),
        ("InvalidSignatureException", 403),
        ("ExpiredTokenException", 403),
        ("AccessDeniedException", 403),
        ("ResourceNotFoundException", 404),
        ("ModelTimeoutException", 408),
        ("ConflictException", 409),
        ("ModelErrorException", 424),
        ("ModelStreamErrorException", 424),
        ("ThrottlingException", 429),
        ("ModelNotReadyException", 429),
        ("InternalServerException", 500),
        ("ServiceUnavailableException", 503),
    ];
    STATUSES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(error_type))
        .map(|(_, status)| *status)
}

/// The OpenAI error `type` for an AWS error name, where it says more than the status.
pub fn openai_kind(error_type: &str) -> Option<&'static str> {
    let is = |name: &str| name.eq_ignore_ascii_case(error_type);
    Some(
        if is("UnrecognizedClientException")
            || is("InvalidSignatureException")
            || is("ExpiredTokenException")
        {
            "authentication_error"
        } else if is("ThrottlingException")
            || is("ModelNotReadyException")
            || is("ServiceQuotaExceededException")
        {
            "rate_limit_error"
        } else if is("ModelTimeoutException") {
            "timeout"
        } else if is("ValidationException") {
            "invalid_request_error"
        } else if is("AccessDeniedException") {
            "permission_denied_error"
        } else if is("ResourceNotFoundException") {
            "not_found_error"
        } else if is("ServiceUnavailableException") {
            "service_unavailable_error"
        } else {
            return None;
        },
    )
}

/// `com.amazon.coral.service#UnrecognizedClientException` and
/// `ThrottlingException:http://internal.amazon.com/...` both name `...Exception`.
fn short_type_name(raw: &str) -> &str {
    let after_hash = raw.rsplit('#').next().unwrap_or(raw);
    after_hash.split(':').next().unwrap_or(after_hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALIDATION: &str = include_str!("../../../tests/fixtures/bedrock/error_validation.json");
    const THROTTLING: &str = include_str!("../../../tests/fixtures/bedrock/error_throttling.json");
    const BAD_TOKEN: &str =
        include_str!("../../../tests/fixtures/bedrock/error_unrecognized_client.json");
    const SAGEMAKER: &str =
        include_str!("../../../tests/fixtures/bedrock/sagemaker_model_error.json");

    #[test]
    fn validation_keeps_status_and_message() {
        let (status, message, kind) = map_error(400, VALIDATION.as_bytes());
        assert_eq!(status, 400);
        assert!(message.starts_with("The model returned the following errors: messages"));
        assert_eq!(kind, "invalid_request_error");
    }

    #[test]
    fn throttling_is_a_rate_limit() {
        assert_eq!(
            map_error(429, THROTTLING.as_bytes()),
            (
                429,
                "Too many requests, please wait before trying again.".to_string(),
                "rate_limit_error"
            )
        );
    }

    #[test]
    fn a_bad_token_keeps_403_and_a_named_type_says_authentication() {
        let (status, message, kind) = map_error(403, BAD_TOKEN.as_bytes());
        assert_eq!(status, 403);
        assert_eq!(
            message,
            "The security token included in the request is invalid."
        );
        assert_eq!(kind, "permission_denied_error");
        let typed =
            br#"{"Message":"m","__type":"com.amazon.coral.service#UnrecognizedClientException"}"#;
        assert_eq!(
            map_error(403, typed),
            (403, "m".to_string(), "authentication_error")
        );
    }

    #[test]
    fn sagemaker_model_errors_keep_424_and_the_message() {
        let (status, message, kind) = map_error(424, SAGEMAKER.as_bytes());
        assert_eq!(status, 424);
        assert!(message.starts_with("Received client error (400) from primary"));
        assert_eq!(kind, "api_error");
    }

    #[test]
    fn statuses_map_to_kinds() {
        for (status, kind) in [
            (403, "permission_denied_error"),
            (404, "not_found_error"),
            (408, "timeout"),
            (500, "internal_server_error"),
            (503, "service_unavailable_error"),
        ] {
            assert_eq!(map_error(status, br#"{"message":"m"}"#).2, kind, "{status}");
        }
    }

    #[test]
    fn stream_exception_names_map_to_statuses() {
        assert_eq!(status_for_type("throttlingException"), Some(429));
        assert_eq!(status_for_type("modelStreamErrorException"), Some(424));
        assert_eq!(status_for_type("validationException"), Some(400));
        assert_eq!(status_for_type("internalServerException"), Some(500));
        assert_eq!(status_for_type("serviceUnavailableException"), Some(503));
        assert_eq!(status_for_type("somethingNew"), None);
        assert_eq!(openai_kind("modelTimeoutException"), Some("timeout"));
    }

    #[test]
    fn odd_bodies_and_statuses_do_not_panic() {
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
        assert_eq!(
            map_error(200, br#"{"__type":"ThrottlingException"}"#).0,
            429
        );
        assert_eq!(map_error(400, br#"{"message": 3}"#).1, r#"{"message": 3}"#);
        assert_eq!(map_error(400, &[0xff, 0xfe]).0, 400);
    }
}
