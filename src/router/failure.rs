//! Failed attempts: what kind of failure each is, and what the router does about it (retry,
//! cool the deployment down, fall back), following LiteLLM's rules.

use crate::error::GatewayError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureClass {
    /// Connect errors, 5xx: the deployment is unwell.
    InternalServer,
    Timeout,
    RateLimit,
    /// 401/403: bad provider credentials.
    Authentication,
    NotFound,
    ContextWindowExceeded,
    ContentPolicyViolation,
    /// Any other 4xx: the request itself is wrong; another deployment would say the same.
    BadRequest,
}

impl FailureClass {
    pub fn of(err: &GatewayError) -> FailureClass {
        let lower = err.message.to_ascii_lowercase();
        match err.status {
            408 => FailureClass::Timeout,
            429 => FailureClass::RateLimit,
            401 | 403 => FailureClass::Authentication,
            404 => FailureClass::NotFound,
            400 | 413 | 422 if is_context_window(&lower) => FailureClass::ContextWindowExceeded,
            400 | 422 if is_content_policy(&lower) => FailureClass::ContentPolicyViolation,
            400..=499 => FailureClass::BadRequest,
            _ => FailureClass::InternalServer,
        }
    }

    /// The key naming this class in `retry_policy`.
    pub fn retry_policy_key(self) -> &'static str {
        match self {
            FailureClass::InternalServer => "InternalServerErrorRetries",
            FailureClass::Timeout => "TimeoutErrorRetries",
            FailureClass::RateLimit => "RateLimitErrorRetries",
            FailureClass::Authentication => "AuthenticationErrorRetries",
            FailureClass::ContentPolicyViolation => "ContentPolicyViolationErrorRetries",
            FailureClass::NotFound
            | FailureClass::ContextWindowExceeded
            | FailureClass::BadRequest => "BadRequestErrorRetries",
        }
    }

    /// The key naming this class in `allowed_fails_policy`.
    pub fn allowed_fails_key(self) -> &'static str {
        match self {
            FailureClass::InternalServer => "InternalServerErrorAllowedFails",
            FailureClass::Timeout => "TimeoutErrorAllowedFails",
            FailureClass::RateLimit => "RateLimitErrorAllowedFails",
            FailureClass::Authentication => "AuthenticationErrorAllowedFails",
            FailureClass::ContentPolicyViolation => "ContentPolicyViolationErrorAllowedFails",
            FailureClass::NotFound
            | FailureClass::ContextWindowExceeded
            | FailureClass::BadRequest => "BadRequestErrorAllowedFails",
        }
    }

    /// Retried by default (up to `num_retries`): failures another attempt can cure.
    pub fn retried_by_default(self) -> bool {
        matches!(
            self,
            FailureClass::InternalServer
                | FailureClass::Timeout
                | FailureClass::RateLimit
                | FailureClass::Authentication
                | FailureClass::NotFound
        )
    }

    /// Cools a deployment down at the first occurrence (bad key, rate limited, wrong model),
    /// rather than after `allowed_fails` per minute.
    pub fn cools_down_at_once(self) -> bool {
        matches!(
            self,
            FailureClass::RateLimit | FailureClass::Authentication | FailureClass::NotFound
        )
    }

    /// Counts against the deployment at all (a bad request is the client's fault).
    pub fn counts_against_deployment(self) -> bool {
        !matches!(
            self,
            FailureClass::BadRequest
                | FailureClass::ContextWindowExceeded
                | FailureClass::ContentPolicyViolation
        )
    }
}

/// Provider wordings of "the prompt is too long", as LiteLLM recognises them.
fn is_context_window(msg: &str) -> bool {
    [
        "context length",
        "context_length_exceeded",
        "context window",
        "maximum context",
        "prompt is too long",
        "too many tokens",
        "input is too long",
        "reduce the length",
        "exceeds the maximum number of tokens",
    ]
    .iter()
    .any(|p| msg.contains(p))
}

fn is_content_policy(msg: &str) -> bool {
    [
        "content_policy_violation",
        "content management policy",
        "content_filter",
        "safety system",
    ]
    .iter()
    .any(|p| msg.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(status: u16, msg: &str) -> FailureClass {
        FailureClass::of(&GatewayError::new(status, "x", msg))
    }

    #[test]
    fn classifies_by_status_and_wording() {
        assert_eq!(class(500, "boom"), FailureClass::InternalServer);
        assert_eq!(class(502, "unreachable"), FailureClass::InternalServer);
        assert_eq!(class(429, "slow down"), FailureClass::RateLimit);
        assert_eq!(class(408, "timeout"), FailureClass::Timeout);
        assert_eq!(class(401, "bad key"), FailureClass::Authentication);
        assert_eq!(
            class(400, "This model's maximum context length is 8192 tokens"),
            FailureClass::ContextWindowExceeded
        );
        assert_eq!(
            class(400, "prompt is too long: 210000 tokens"),
            FailureClass::ContextWindowExceeded
        );
        assert_eq!(
            class(400, "code: content_policy_violation"),
            FailureClass::ContentPolicyViolation
        );
        assert_eq!(
            class(400, "temperature must be <= 2"),
            FailureClass::BadRequest
        );
    }

    #[test]
    fn retry_and_cooldown_rules() {
        assert!(
            FailureClass::RateLimit.retried_by_default()
                && FailureClass::RateLimit.cools_down_at_once()
        );
        assert!(
            FailureClass::InternalServer.retried_by_default()
                && !FailureClass::InternalServer.cools_down_at_once()
        );
        assert!(
            !FailureClass::BadRequest.retried_by_default()
                && !FailureClass::BadRequest.counts_against_deployment()
        );
        assert!(!FailureClass::ContextWindowExceeded.retried_by_default());
    }
}
