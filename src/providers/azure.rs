//! Azure OpenAI: the OpenAI body on a deployment URL,
//! `{api_base}/openai/deployments/{deployment}/chat/completions?api-version=...`, keyed by the
//! `api-key` header, or an Entra ID token as `Authorization: Bearer`: a static `azure_ad_token`,
//! else the token `crate::credentials::azure` keeps fresh in `deployment.state.access_token`
//! (client credentials or a managed identity), added per request.

use super::openai::{asking_stream_usage, OpenAi, PassthroughStream};
use super::{content_type_json, header, Call, Provider, ProviderRequest, StreamTranslator};
use crate::deployment::Deployment;
use crate::error::GatewayError;
use bytes::Bytes;
use http::{HeaderName, HeaderValue};

/// Used when a deployment names no `api_version` (the latest GA version at the time of writing).
pub const DEFAULT_API_VERSION: &str = "2024-10-21";

pub struct Azure;

impl Provider for Azure {
    fn static_headers(&self, d: &Deployment) -> Result<Vec<(HeaderName, HeaderValue)>, String> {
        let mut h = vec![content_type_json()];
        if let Some(key) = &d.api_key {
            h.push(header("api-key", key.expose())?);
        } else if let Some(token) = d.extra_param("azure_ad_token") {
            h.push(header("authorization", &format!("Bearer {token}"))?);
        }
        Ok(h)
    }

    fn build_request(&self, call: &Call<'_>) -> Result<ProviderRequest, GatewayError> {
        let d = call.deployment;
        let endpoint = d.endpoint()?;
        let version = d.api_version.as_deref().unwrap_or(DEFAULT_API_VERSION);
        let suffix = format!(
            "/openai/deployments/{}{}",
            call.upstream_model,
            call.op.path()
        );
        let mut headers = d.headers.clone();
        if d.api_key.is_none() && d.extra_param("azure_ad_token").is_none() {
            let token = d.state.access_token.get().ok_or_else(|| {
                GatewayError::new(
                    503,
                    "service_unavailable_error",
                    format!(
                        "azure credentials not ready: no api_key, no azure_ad_token, and no Entra ID token for deployment {} yet (see the gateway's log)",
                        d.id
                    ),
                )
            })?;
            headers.push(
                header("authorization", &format!("Bearer {token}"))
                    .map_err(GatewayError::internal)?,
            );
        }
        Ok(ProviderRequest {
            path_and_query: endpoint.path_for(&suffix, Some(&format!("api-version={version}"))),
            headers,
            body: asking_stream_usage(call, call.body.with_model(call.upstream_model)),
        })
    }

    fn translate_response(&self, call: &Call<'_>, body: Bytes) -> Result<Bytes, GatewayError> {
        OpenAi.translate_response(call, body)
    }

    fn stream_translator(&self, call: &Call<'_>) -> Box<dyn StreamTranslator> {
        let stream = PassthroughStream::new(call.alias, call.body.include_usage);
        Box::new(stream.dropping_choiceless_chunks())
    }
}
