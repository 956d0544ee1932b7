//! One call's label values, by LiteLLM's label names: every metric picks its own set from
//! the same borrowed values, so recording allocates nothing but what the metric's series
//! lookup needs. Labels Tollgate has no value for (`client_ip`, `user_agent`, `user_email`,
//! `service_tier`, `org_alias`) are empty strings, which keeps their cardinality at one.

use crate::router::FailureClass;
use std::borrow::Cow;

#[derive(Debug, Default, Clone)]
pub struct CallLabels<'a> {
    pub end_user: &'a str,
    pub hashed_api_key: &'a str,
    pub api_key_alias: &'a str,
    pub team: &'a str,
    pub team_alias: &'a str,
    pub user: &'a str,
    pub org_id: &'a str,
    pub requested_model: &'a str,
    pub model_group: &'a str,
    /// The deployment's model, LiteLLM's `model` and `litellm_model_name`.
    pub model: &'a str,
    pub model_id: &'a str,
    pub api_base: &'a str,
    pub api_provider: &'a str,
    pub route: &'a str,
    pub status_code: &'a str,
    pub exception_status: &'a str,
    pub exception_class: &'a str,
    pub fallback_model: &'a str,
}

impl<'a> CallLabels<'a> {
    /// The value of LiteLLM's label `name`; unknown names read empty.
    pub fn get(&self, name: &str) -> &'a str {
        match name {
            "end_user" => self.end_user,
            "hashed_api_key" => self.hashed_api_key,
            "api_key_alias" => self.api_key_alias,
            "team" => self.team,
            "team_alias" => self.team_alias,
            "user" => self.user,
            "org_id" => self.org_id,
            "requested_model" => self.requested_model,
            "model_group" => self.model_group,
            "model" | "litellm_model_name" => self.model,
            "model_id" => self.model_id,
            "api_base" => self.api_base,
            "api_provider" => self.api_provider,
            "route" => self.route,
            "status_code" => self.status_code,
            "exception_status" => self.exception_status,
            "exception_class" => self.exception_class,
            "fallback_model" => self.fallback_model,
            _ => "",
        }
    }

    /// The values of `names`, in order, for `with_label_values`.
    pub fn pick<const N: usize>(&self, names: &[&str; N]) -> [&'a str; N] {
        std::array::from_fn(|i| self.get(names[i]))
    }
}

/// A status as label text: the common ones without an allocation.
pub fn status_text(status: u16) -> Cow<'static, str> {
    Cow::Borrowed(match status {
        200 => "200",
        201 => "201",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        408 => "408",
        413 => "413",
        422 => "422",
        429 => "429",
        499 => "499",
        500 => "500",
        502 => "502",
        503 => "503",
        504 => "504",
        other => return Cow::Owned(other.to_string()),
    })
}

/// The OpenAI-SDK exception LiteLLM raises for a status (its `exception_class` label names the
/// class, after the provider when a deployment answered: `Openai.RateLimitError`).
pub fn exception_class_name(status: u16, class: Option<FailureClass>) -> &'static str {
    match class {
        Some(FailureClass::ContextWindowExceeded) => return "ContextWindowExceededError",
        Some(FailureClass::ContentPolicyViolation) => return "ContentPolicyViolationError",
        Some(FailureClass::Timeout) => return "Timeout",
        _ => {}
    }
    match status {
        400 | 413 => "BadRequestError",
        401 => "AuthenticationError",
        403 => "PermissionDeniedError",
        404 => "NotFoundError",
        408 => "Timeout",
        422 => "UnprocessableEntityError",
        429 => "RateLimitError",
        500 => "InternalServerError",
        502 => "BadGatewayError",
        503 => "ServiceUnavailableError",
        _ => "APIError",
    }
}

/// `Openai.RateLimitError`: the provider capitalised as LiteLLM writes it, then the class.
/// Without a provider (the gateway refused the call itself), the class alone.
pub fn exception_class(provider: Option<&str>, class: &'static str) -> Cow<'static, str> {
    match provider.filter(|p| !p.is_empty()) {
        Some(p) => {
            let mut out = String::with_capacity(p.len() + 1 + class.len());
            let mut chars = p.chars();
            if let Some(first) = chars.next() {
                out.extend(first.to_uppercase());
                out.push_str(chars.as_str());
            }
            out.push('.');
            out.push_str(class);
            Cow::Owned(out)
        }
        None => Cow::Borrowed(class),
    }
}

/// The route label: the LLM paths as the client wrote them, anything else folded into one
/// value so a scanner probing paths cannot grow the series.
pub fn route_label(path: &str) -> &'static str {
    const ROUTES: &[&str] = &[
        "/v1/chat/completions",
        "/chat/completions",
        "/engines/chat/completions",
        "/v1/completions",
        "/completions",
        "/v1/embeddings",
        "/embeddings",
        "/v1/messages",
        "/anthropic/v1/messages",
    ];
    let path = path.trim_end_matches('/');
    ROUTES
        .iter()
        .find(|r| **r == path)
        .copied()
        .unwrap_or("other")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::names;

    #[test]
    fn every_litellm_label_name_reads_its_field() {
        let l = CallLabels {
            end_user: "eu",
            hashed_api_key: "hash",
            api_key_alias: "alias",
            team: "t1",
            team_alias: "ta",
            user: "u1",
            org_id: "o1",
            requested_model: "gpt-4o",
            model_group: "gpt-4o-group",
            model: "gpt-4o-2024",
            model_id: "id1",
            api_base: "http://b",
            api_provider: "openai",
            route: "/v1/chat/completions",
            status_code: "200",
            exception_status: "429",
            exception_class: "Openai.RateLimitError",
            fallback_model: "fb",
        };
        assert_eq!(
            l.pick(&names::FALLBACKS_LABELS),
            [
                "gpt-4o",
                "fb",
                "hash",
                "alias",
                "t1",
                "ta",
                "429",
                "Openai.RateLimitError",
                "id1"
            ]
        );
        assert_eq!(
            l.pick(&names::DEPLOYMENT_STATE_LABELS),
            ["gpt-4o-2024", "id1", "http://b", "openai"]
        );
        let total = l.pick(&names::PROXY_TOTAL_REQUESTS_LABELS);
        assert_eq!(total[0], "eu");
        assert_eq!(total[7], "200");
        assert_eq!(total[9], "/v1/chat/completions");
        // No value known to Tollgate: one empty series, not one per client.
        assert_eq!(total[8], "");
        assert_eq!(total[10], "");
        assert_eq!(l.get("no_such_label"), "");
    }

    #[test]
    fn label_sets_have_no_duplicates_and_only_known_names() {
        let sets: &[&[&str]] = &[
            &names::PROXY_TOTAL_REQUESTS_LABELS,
            &names::PROXY_FAILED_REQUESTS_LABELS,
            &names::REQUESTS_LABELS,
            &names::SPEND_LABELS,
            &names::TOKENS_LABELS,
            &names::DEPLOYMENT_REQUESTS_LABELS,
            &names::DEPLOYMENT_FAILURE_LABELS,
            &names::FALLBACKS_LABELS,
            &names::REQUEST_TOTAL_LATENCY_LABELS,
            &names::LLM_API_LATENCY_LABELS,
            &names::OVERHEAD_LATENCY_LABELS,
            &names::DEPLOYMENT_STATE_LABELS,
        ];
        let empty_by_design = [
            "client_ip",
            "user_agent",
            "user_email",
            "service_tier",
            "org_alias",
        ];
        let l = CallLabels::default();
        let probe = every_label("x");
        for set in sets {
            for (i, name) in set.iter().enumerate() {
                assert!(!set[..i].contains(name), "{name} twice");
                let known = empty_by_design.contains(name) || probe.get(name) == "x";
                assert!(known, "label {name} has no source");
                assert_eq!(l.get(name), "");
            }
        }
    }

    fn every_label(v: &str) -> CallLabels<'_> {
        CallLabels {
            end_user: v,
            hashed_api_key: v,
            api_key_alias: v,
            team: v,
            team_alias: v,
            user: v,
            org_id: v,
            requested_model: v,
            model_group: v,
            model: v,
            model_id: v,
            api_base: v,
            api_provider: v,
            route: v,
            status_code: v,
            exception_status: v,
            exception_class: v,
            fallback_model: v,
        }
    }

    #[test]
    fn exception_classes_as_litellm_names_them() {
        assert_eq!(
            exception_class(Some("openai"), exception_class_name(429, None)),
            "Openai.RateLimitError"
        );
        assert_eq!(
            exception_class(Some("anthropic"), exception_class_name(500, None)),
            "Anthropic.InternalServerError"
        );
        assert_eq!(
            exception_class(None, exception_class_name(401, None)),
            "AuthenticationError"
        );
        assert_eq!(
            exception_class_name(400, Some(FailureClass::ContextWindowExceeded)),
            "ContextWindowExceededError"
        );
        assert_eq!(status_text(429), "429");
        assert_eq!(status_text(418), "418");
    }

    #[test]
    fn routes_are_bounded() {
        assert_eq!(route_label("/v1/chat/completions/"), "/v1/chat/completions");
        assert_eq!(route_label("/chat/completions"), "/chat/completions");
        assert_eq!(route_label("/v1/anything/../../etc"), "other");
    }
}
