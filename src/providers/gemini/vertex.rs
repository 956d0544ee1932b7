//! Vertex AI (`vertex_ai/`): Gemini's format on project- and location-scoped URLs,
//! `{api_base}/v1/projects/{project}/locations/{location}/publishers/google/models/{model}:
//! generateContent`, authorized by an OAuth access token (see vertex_auth.rs).
//!
//! `vertex_ai/claude-*` models are Anthropic's, served in Anthropic's Messages format on
//! `publishers/anthropic/models/{model}:rawPredict` (`:streamRawPredict`): the body is the
//! Anthropic request without `model` (it is in the URL) and with `anthropic_version`
//! instead of the header, and answers are Anthropic's, decoded by the anthropic modules.

use super::embeddings::{self, EmbeddingRequest};
use super::stream::StreamDecoder;
use super::vertex_auth::token_cell_for;
use super::{
    chat_body, error, litellm_error, parse_answer, response, to_bytes, unsupported_operation,
};
use crate::canonical::request::Operation;
use crate::error::GatewayError;
use crate::providers::anthropic;
use crate::providers::{
    content_type_json, header, unix_now, Call, Provider, ProviderRequest, StreamTranslator,
};
use crate::router::Deployment;
use bytes::{Bytes, BytesMut};
use http::{HeaderName, HeaderValue};
use serde::Deserialize;
use serde_json::{json, Value};

/// Where calls go when a deployment names no `vertex_location` (LiteLLM's default).
pub const DEFAULT_LOCATION: &str = "us-central1";

/// The `anthropic_version` Claude on Vertex requires in the body.
pub const ANTHROPIC_VERSION: &str = "vertex-2023-10-16";

/// The base URL for a location, to use as a deployment's `api_base` when it sets none: the
/// regional host, or the global one for `global`.
pub fn default_api_base(location: &str) -> String {
    if location == "global" {
        "https://aiplatform.googleapis.com".to_string()
    } else {
        format!("https://{location}-aiplatform.googleapis.com")
    }
}

pub struct VertexAi;

impl Provider for VertexAi {
    fn static_headers(&self, _: &Deployment) -> Result<Vec<(HeaderName, HeaderValue)>, String> {
        // The bearer token changes hourly, so it is added per request, not here.
        Ok(vec![content_type_json()])
    }

    fn build_request(&self, call: &Call<'_>) -> Result<ProviderRequest, GatewayError> {
        let d = call.deployment;
        let token = token_cell_for(&d.id).get().ok_or_else(|| {
            GatewayError::new(
                503,
                "service_unavailable_error",
                format!(
                    "vertex_ai credentials not ready: no access token for deployment {} yet (model group {})",
                    d.id, call.group
                ),
            )
        })?;
        let project = project(d)?;
        let location = d
            .extra_param("vertex_location")
            .filter(|l| !l.is_empty())
            .unwrap_or(DEFAULT_LOCATION);
        let endpoint = d.endpoint()?;
        let model = call.upstream_model;
        let stream = call.body.stream;
        let (publisher, method, query, body) = match call.op {
            Operation::Chat if is_claude(model) => {
                let method = if stream {
                    "streamRawPredict"
                } else {
                    "rawPredict"
                };
                ("anthropic", method, None, claude_body(call)?)
            }
            Operation::Chat if stream => (
                "google",
                "streamGenerateContent",
                Some("alt=sse"),
                chat_body(call, "vertex_ai")?,
            ),
            Operation::Chat => (
                "google",
                "generateContent",
                None,
                chat_body(call, "vertex_ai")?,
            ),
            Operation::Embedding => {
                let request = EmbeddingRequest::from_openai(&call.body.to_value())?;
                ("google", "predict", None, to_bytes(&request.predict_body()))
            }
            Operation::Completion => return Err(unsupported_operation(call)),
        };
        let suffix = format!(
            "/v1/projects/{project}/locations/{location}/publishers/{publisher}/models/{model}:{method}"
        );
        let mut headers = d.headers.clone();
        headers.push(
            header("authorization", &format!("Bearer {token}")).map_err(GatewayError::internal)?,
        );
        Ok(ProviderRequest {
            path_and_query: endpoint.path_for(&suffix, query),
            headers,
            body,
        })
    }

    fn translate_response(&self, call: &Call<'_>, body: Bytes) -> Result<Bytes, GatewayError> {
        let answer = parse_answer(call, &body)?;
        let out = match call.op {
            Operation::Embedding => {
                let request = EmbeddingRequest::from_openai(&call.body.to_value())?;
                embeddings::from_predict_response(&answer, &request, call.alias)
            }
            _ if is_claude(call.upstream_model) => {
                anthropic::response::to_openai_response(&answer, call.alias, unix_now())
            }
            _ => response::to_openai_response(&answer, call.alias, unix_now()),
        };
        Ok(to_bytes(&out))
    }

    fn stream_translator(&self, call: &Call<'_>) -> Box<dyn StreamTranslator> {
        let include_usage = call.body.include_usage;
        if is_claude(call.upstream_model) {
            let decoder =
                anthropic::stream::StreamDecoder::new(call.alias, include_usage, unix_now());
            return Box::new(ClaudeStream(decoder));
        }
        Box::new(StreamDecoder::new(call.alias, include_usage, unix_now()))
    }

    fn translate_error(&self, call: &Call<'_>, status: u16, body: &[u8]) -> GatewayError {
        // Claude's errors come from Anthropic (`{"type": "error", ...}`) unless Vertex itself
        // refused the call first (quota, auth), which answers in Google's shape.
        let anthropic_shaped = serde_json::from_slice::<Value>(body)
            .is_ok_and(|v| v.get("type").and_then(Value::as_str) == Some("error"));
        let (status, message, kind) = if anthropic_shaped {
            anthropic::error::map_error(status, body)
        } else {
            error::map_error(status, body)
        };
        litellm_error(call, status, &message, kind)
    }
}

/// Claude models are Anthropic's on Vertex (`claude-sonnet-4-5@20250929`, ...).
fn is_claude(model: &str) -> bool {
    model.starts_with("claude")
}

/// The Anthropic Messages body as Vertex takes it.
fn claude_body(call: &Call<'_>) -> Result<Bytes, GatewayError> {
    let opts = anthropic::request::RequestOptions {
        drop_params: call.drop_params,
        ..Default::default()
    };
    let openai = call.body.to_value();
    let mut body = anthropic::request::to_anthropic_request(&openai, call.upstream_model, &opts)?;
    if let Some(map) = body.as_object_mut() {
        map.remove("model");
        map.insert("anthropic_version".into(), json!(ANTHROPIC_VERSION));
    }
    Ok(to_bytes(&body))
}

/// The deployment's `vertex_project`, else the `project_id` of inline JSON credentials.
fn project(d: &Deployment) -> Result<String, GatewayError> {
    if let Some(project) = d.extra_param("vertex_project").filter(|p| !p.is_empty()) {
        return Ok(project.to_string());
    }
    #[derive(Deserialize)]
    struct KeyFileProject {
        project_id: Option<String>,
    }
    d.extra_param("vertex_credentials")
        .filter(|c| c.trim_start().starts_with('{'))
        .and_then(|c| serde_json::from_str::<KeyFileProject>(c).ok())
        .and_then(|k| k.project_id)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| {
            GatewayError::internal(format!(
                "deployment {} is misconfigured: vertex_ai needs vertex_project (or credentials naming a project_id)",
                d.id
            ))
        })
}

/// Anthropic's stream decoder behind the provider trait.
struct ClaudeStream(anthropic::stream::StreamDecoder);

impl StreamTranslator for ClaudeStream {
    fn feed(&mut self, chunk: &[u8], out: &mut BytesMut) {
        self.0.feed(chunk, out);
    }

    fn finish(&mut self, out: &mut BytesMut) {
        self.0.finish(out);
    }

    fn failure(&mut self) -> Option<GatewayError> {
        self.0.failure()
    }
}
