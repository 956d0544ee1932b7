//! Cohere's v2 API (`cohere/`, `cohere_chat/`): chat at `{api_base}/v2/chat` and embeddings at
//! `{api_base}/v2/embed`, keyed by `Authorization: Bearer`. The translation itself is pure
//! (`request`, `response`, `stream`, `embed`, `error`); this file only wires it to a call.

pub mod embed;
pub mod error;
mod messages;
pub mod request;
pub mod response;
pub mod stream;

use super::{
    content_type_json, header, provider_error, unix_now, Call, Provider, ProviderRequest,
    StreamTranslator,
};
use crate::canonical::request::Operation;
use crate::deployment::Deployment;
use crate::error::GatewayError;
use crate::upstream::Endpoint;
use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use request::RequestOptions;
use serde_json::Value;

/// The base URL the provider is registered with.
pub const DEFAULT_API_BASE: &str = "https://api.cohere.com";

pub struct Cohere;

impl Provider for Cohere {
    fn static_headers(&self, d: &Deployment) -> Result<Vec<(HeaderName, HeaderValue)>, String> {
        let mut h = vec![content_type_json()];
        if let Some(key) = &d.api_key {
            h.push(header(
                "authorization",
                &format!("Bearer {}", key.expose()),
            )?);
        }
        Ok(h)
    }

    fn build_request(&self, call: &Call<'_>) -> Result<ProviderRequest, GatewayError> {
        let endpoint = call.deployment.endpoint()?;
        let openai = call.body.to_value();
        let (resource, body) = match call.op {
            Operation::Chat => {
                let opts = RequestOptions {
                    drop_params: call.drop_params,
                };
                let body = request::to_cohere_request(&openai, call.upstream_model, &opts)?;
                ("chat", body)
            }
            Operation::Embedding => (
                "embed",
                embed::to_cohere_embed_request(&openai, call.upstream_model)?,
            ),
            Operation::Completion => {
                return Err(GatewayError::bad_request(format!(
                    "{} does not support text completions (/completions); model group {} cannot serve this endpoint",
                    call.deployment.provider.name, call.group
                )))
            }
        };
        Ok(ProviderRequest {
            path_and_query: path_and_query(endpoint, resource),
            headers: call.deployment.headers.clone(),
            body: Bytes::from(body.to_string()),
        })
    }

    fn translate_response(&self, call: &Call<'_>, body: Bytes) -> Result<Bytes, GatewayError> {
        let cohere: Value = serde_json::from_slice(&body).map_err(|e| {
            GatewayError::new(
                502,
                "api_error",
                format!("invalid response from Cohere: {e}"),
            )
        })?;
        let openai = match call.op {
            Operation::Embedding => {
                let base64 = call.body.get::<String>("encoding_format").ok().flatten();
                embed::to_openai_embeddings(
                    &cohere,
                    call.alias,
                    base64.as_deref() == Some("base64"),
                )?
            }
            _ => response::to_openai_response(&cohere, call.alias, unix_now()),
        };
        Ok(Bytes::from(openai.to_string()))
    }

    fn stream_translator(&self, call: &Call<'_>) -> Box<dyn StreamTranslator> {
        Box::new(stream::StreamDecoder::new(
            call.alias,
            call.body.include_usage,
            unix_now(),
        ))
    }

    /// Worded as LiteLLM words it: `litellm.RateLimitError: RateLimitError: CohereException -
    /// {message}. Received Model Group={group}`.
    fn translate_error(&self, call: &Call<'_>, status: u16, body: &[u8]) -> GatewayError {
        let (status, message, kind) = error::map_error(status, body);
        provider_error(
            call.deployment.provider.display,
            call.group,
            status,
            &message,
            kind,
        )
    }
}

/// The request target for `resource` (`chat` or `embed`). LiteLLM configs often give the full
/// URL (`https://api.cohere.com/v2/chat`) or stop at `/v2`; both work, as does a bare host.
fn path_and_query(endpoint: &Endpoint, resource: &str) -> String {
    let mut path = v2_path(&endpoint.base_path, resource);
    if let Some(query) = &endpoint.base_query {
        path.push('?');
        path.push_str(query);
    }
    path
}

fn v2_path(base_path: &str, resource: &str) -> String {
    let base = base_path.trim_end_matches('/');
    let base = ["/v2/chat", "/v2/embed"]
        .iter()
        .find_map(|full| base.strip_suffix(full))
        .or_else(|| base.strip_suffix("/v2"))
        .unwrap_or(base);
    format!("{base}/v2/{resource}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_paths_from_bare_versioned_and_full_bases() {
        for base in ["", "/", "/v2", "/v2/", "/v2/chat", "/v2/embed"] {
            assert_eq!(v2_path(base, "chat"), "/v2/chat", "{base:?}");
            assert_eq!(v2_path(base, "embed"), "/v2/embed", "{base:?}");
        }
        assert_eq!(v2_path("/cohere", "chat"), "/cohere/v2/chat");
        assert_eq!(v2_path("/proxy/v2/chat", "embed"), "/proxy/v2/embed");
    }

    #[test]
    fn keeps_the_base_query() {
        let endpoint = Endpoint::parse("https://api.cohere.com/v2?x=1").unwrap();
        assert_eq!(path_and_query(&endpoint, "chat"), "/v2/chat?x=1");
        let endpoint = Endpoint::parse(DEFAULT_API_BASE).unwrap();
        assert_eq!(path_and_query(&endpoint, "embed"), "/v2/embed");
    }

    #[test]
    fn errors_read_like_litellm() {
        let fixture = include_str!("../../../tests/fixtures/cohere/error_invalid_token.json");
        let (status, message, kind) = error::map_error(401, fixture.as_bytes());
        let e = provider_error("Cohere", "command", status, &message, kind);
        assert_eq!(e.status, 401);
        assert_eq!(e.kind, "authentication_error");
        assert!(
            e.message.starts_with(
                "litellm.AuthenticationError: AuthenticationError: CohereException - invalid api token."
            ),
            "{}",
            e.message
        );
        assert!(e.message.contains("Received Model Group=command"));
    }
}
