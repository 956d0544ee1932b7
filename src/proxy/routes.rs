//! Which endpoint a request is for.

use crate::canonical::request::Operation;
use http::Method;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Llm(Operation),
    /// Anthropic's Messages API (`/v1/messages`), routed like chat.
    AnthropicMessages,
    AnthropicCountTokens,
    Models,
    /// `/model/info`, `/v1/model/info`.
    ModelInfo,
    ModelInfoV2,
    ModelGroupInfo,
    Health,
    Liveliness,
    Readiness,
    /// Prometheus' scrape (`prometheus` callback); its key check depends on the config.
    Metrics,
    /// `/anthropic/*`, `/gemini/*`, `/openai/*`: forwarded untouched.
    Passthrough,
    /// LiteLLM's admin API (`/key/*`, `/team/*`, `/spend/*`, ...).
    Admin,
    /// `/cache/ping`, `/cache/delete`, `/cache/flushall`.
    CacheAdmin,
    NotFound,
    MethodNotAllowed,
}

impl Route {
    /// Everything but liveness and readiness probes needs a gateway key (when one is set).
    pub fn needs_key(self) -> bool {
        !matches!(
            self,
            Route::Liveliness
                | Route::Readiness
                | Route::Metrics
                | Route::NotFound
                | Route::MethodNotAllowed
        )
    }
}

pub fn classify(method: &Method, path: &str) -> Route {
    // Clients differ on the `/v1` prefix and trailing slashes; LiteLLM serves both forms.
    let path = path
        .strip_prefix("/v1")
        .filter(|p| p.starts_with('/'))
        .unwrap_or(path);
    let path = path.trim_end_matches('/');
    let (route, allowed) = match path {
        "/chat/completions" | "/engines/chat/completions" => {
            (Route::Llm(Operation::Chat), Method::POST)
        }
        "/completions" => (Route::Llm(Operation::Completion), Method::POST),
        "/messages" | "/anthropic/v1/messages" => (Route::AnthropicMessages, Method::POST),
        "/messages/count_tokens" | "/anthropic/v1/messages/count_tokens" => {
            (Route::AnthropicCountTokens, Method::POST)
        }
        "/embeddings" => (Route::Llm(Operation::Embedding), Method::POST),
        "/models" => (Route::Models, Method::GET),
        "/model/info" => (Route::ModelInfo, Method::GET),
        "/v2/model/info" => (Route::ModelInfoV2, Method::GET),
        "/model_group/info" => (Route::ModelGroupInfo, Method::GET),
        "/health" => (Route::Health, Method::GET),
        "/health/liveliness" | "/health/liveness" => (Route::Liveliness, Method::GET),
        "/health/readiness" => (Route::Readiness, Method::GET),
        "/cache/ping" => (Route::CacheAdmin, Method::GET),
        "/cache/delete" | "/cache/flushall" => (Route::CacheAdmin, Method::POST),
        "/metrics" => (Route::Metrics, Method::GET),
        _ if crate::admin::is_admin_route(path) => return Route::Admin,
        _ if super::passthrough::split_path(path).is_some() => return Route::Passthrough,
        _ => return Route::NotFound,
    };
    if *method == allowed || (*method == Method::HEAD && allowed == Method::GET) {
        route
    } else {
        Route::MethodNotAllowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_and_without_v1() {
        for p in [
            "/v1/chat/completions",
            "/chat/completions",
            "/v1/chat/completions/",
        ] {
            assert_eq!(
                classify(&Method::POST, p),
                Route::Llm(Operation::Chat),
                "{p}"
            );
        }
        assert_eq!(classify(&Method::GET, "/v1/models"), Route::Models);
        assert_eq!(classify(&Method::GET, "/models"), Route::Models);
        assert_eq!(classify(&Method::GET, "/v1/model/info"), Route::ModelInfo);
        assert_eq!(classify(&Method::GET, "/v2/model/info"), Route::ModelInfoV2);
        assert_eq!(
            classify(&Method::GET, "/model_group/info"),
            Route::ModelGroupInfo
        );
        assert_eq!(
            classify(&Method::POST, "/v1/embeddings"),
            Route::Llm(Operation::Embedding)
        );
        assert_eq!(
            classify(&Method::GET, "/health/liveness"),
            Route::Liveliness
        );
        assert_eq!(
            classify(&Method::GET, "/v1chat/completions"),
            Route::NotFound
        );
        assert_eq!(
            classify(&Method::GET, "/v1/chat/completions"),
            Route::MethodNotAllowed
        );
    }
}
