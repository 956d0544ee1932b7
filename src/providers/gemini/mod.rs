//! Google's models: the Gemini API on AI Studio (`gemini/`, this file) and Vertex AI
//! (`vertex_ai/`, vertex.rs). Both speak the same `generateContent` format, translated by
//! the pure modules here (request, response, stream, error, embeddings); Vertex also serves
//! Anthropic's Claude models in Anthropic's own format (`rawPredict`).
//!
//! Wiring, for whoever registers these providers (`Wire::Gemini` / `Wire::VertexAi` in
//! registry.rs, `pub mod gemini;` and the `for_wire` arms in providers/mod.rs):
//! - `gemini/`: the default `api_base` is [`DEFAULT_API_BASE`] (it carries the version path),
//!   the key env var `GEMINI_API_KEY`; the key goes in `x-goog-api-key`.
//! - `vertex_ai/`: the default `api_base` depends on the deployment's `vertex_location`; see
//!   [`vertex::default_api_base`]. Requests carry `Authorization: Bearer <token>` from
//!   `deployment.state.access_token`, which this module only reads: a
//!   background refresher must fill it (sign with [`vertex_auth::jwt_assertion`], POST
//!   [`vertex_auth::token_request_body`] to the key's `token_uri`, read the answer with
//!   [`vertex_auth::parse_token_response`], refresh well before `expires_in`). Until a token
//!   is there, calls fail fast with a 503 ("vertex_ai credentials not ready"). Set
//!   `vertex_project` from the key file's `project_id` at load when the credentials are a
//!   file path; only inline JSON credentials are read for it here.
//! - `drop_params` is `Call.drop_params` (the request's, else the deployment's, else
//!   `litellm_settings`').

pub mod embeddings;
pub mod error;
mod media;
mod messages;
pub mod request;
pub mod response;
mod schema;
pub mod stream;
mod tools;
pub mod vertex;
pub mod vertex_auth;

pub use vertex::VertexAi;

use super::{
    content_type_json, header, provider_error, unix_now, Call, Provider, ProviderRequest,
    StreamTranslator,
};
use crate::canonical::request::Operation;
use crate::canonical::Usage;
use crate::deployment::Deployment;
use crate::error::GatewayError;
use bytes::Bytes;
use embeddings::EmbeddingRequest;
use http::{HeaderName, HeaderValue};
use request::{to_gemini_request, RequestOptions};
use serde_json::Value;
use stream::StreamDecoder;

/// AI Studio's base URL, version path included.
pub const DEFAULT_API_BASE: &str = "https://generativelanguage.googleapis.com/v1beta";

/// The Gemini API on Google AI Studio.
pub struct Gemini;

impl Provider for Gemini {
    fn static_headers(&self, d: &Deployment) -> Result<Vec<(HeaderName, HeaderValue)>, String> {
        let mut h = vec![content_type_json()];
        if let Some(key) = &d.api_key {
            h.push(header("x-goog-api-key", key.expose())?);
        }
        Ok(h)
    }

    fn build_request(&self, call: &Call<'_>) -> Result<ProviderRequest, GatewayError> {
        let endpoint = call.deployment.endpoint()?;
        let model = model_path(call.upstream_model);
        let (suffix, query, body) = match call.op {
            Operation::Chat if call.body.stream => (
                format!("/{model}:streamGenerateContent"),
                Some("alt=sse"),
                chat_body(call, "gemini")?,
            ),
            Operation::Chat => (
                format!("/{model}:generateContent"),
                None,
                chat_body(call, "gemini")?,
            ),
            Operation::Embedding => {
                let request = EmbeddingRequest::from_openai(&call.body.to_value())?;
                (
                    format!("/{model}:batchEmbedContents"),
                    None,
                    to_bytes(&request.batch_embed_body(call.upstream_model)),
                )
            }
            Operation::Completion => return Err(unsupported_operation(call)),
        };
        Ok(ProviderRequest {
            path_and_query: endpoint.path_for(&suffix, query),
            headers: call.deployment.headers.clone(),
            body,
        })
    }

    fn translate_response(&self, call: &Call<'_>, body: Bytes) -> Result<Bytes, GatewayError> {
        let answer = parse_answer(call, &body)?;
        if call.op == Operation::Embedding {
            let request = EmbeddingRequest::from_openai(&call.body.to_value())?;
            let out = embeddings::from_batch_embed_response(&answer, &request, call.alias);
            return Ok(to_bytes(&out));
        }
        let out = response::to_openai_response(&answer, call.alias, unix_now());
        Ok(to_bytes(&out))
    }

    fn stream_translator(&self, call: &Call<'_>) -> Box<dyn StreamTranslator> {
        Box::new(StreamDecoder::new(
            call.alias,
            call.body.include_usage,
            unix_now(),
        ))
    }

    fn translate_error(&self, call: &Call<'_>, status: u16, body: &[u8]) -> GatewayError {
        let (status, message, kind) = error::map_error(status, body);
        litellm_error(call, status, &message, kind)
    }

    /// `batchEmbedContents` reports no token counts: the answer's usage is an estimate.
    fn answer_usage(&self, call: &Call<'_>, answer: &[u8]) -> Option<Usage> {
        if call.op == Operation::Embedding {
            return None;
        }
        Usage::from_openai_body(answer)
    }
}

/// The resource name of a model: `models/{model}` for a bare name; names that already carry
/// a collection (`models/...`, `tunedModels/...`) are kept.
fn model_path(model: &str) -> String {
    if model.contains('/') {
        model.to_string()
    } else {
        format!("models/{model}")
    }
}

/// The `generateContent` body for a chat call.
fn chat_body(call: &Call<'_>, provider: &str) -> Result<Bytes, GatewayError> {
    let opts = RequestOptions {
        drop_params: call.drop_params,
        provider,
        model: call.upstream_model,
    };
    Ok(to_bytes(&to_gemini_request(&call.body.to_value(), &opts)?))
}

/// A 200 body as JSON; anything else is the provider's fault, a 502.
fn parse_answer(call: &Call<'_>, body: &[u8]) -> Result<Value, GatewayError> {
    serde_json::from_slice(body).map_err(|e| {
        GatewayError::new(
            502,
            "api_error",
            format!(
                "invalid answer from {}: {e}. Received Model Group={}",
                call.deployment.provider.display, call.group
            ),
        )
    })
}

/// An upstream error as LiteLLM words it, e.g. `litellm.RateLimitError: RateLimitError:
/// GeminiException - Resource exhausted. Received Model Group=gemini-flash`.
fn litellm_error(call: &Call<'_>, status: u16, message: &str, kind: &'static str) -> GatewayError {
    provider_error(
        call.deployment.provider.display,
        call.group,
        status,
        message,
        kind,
    )
}

fn unsupported_operation(call: &Call<'_>) -> GatewayError {
    GatewayError::bad_request(format!(
        "{} does not serve {}; use /chat/completions (model group {})",
        call.deployment.provider.name,
        call.op.path(),
        call.group
    ))
}

fn to_bytes(v: &Value) -> Bytes {
    // Serializing a `Value` cannot fail.
    Bytes::from(serde_json::to_vec(v).unwrap_or_default())
}

#[cfg(test)]
mod tests;
