//! The `anthropic/` provider: Anthropic's Messages API at `{api_base}/v1/messages`, keyed by
//! `x-api-key` with `anthropic-version`, using the pure translations beside this file.

use super::{error, request, response, stream, API_VERSION};
use crate::canonical::request::Operation;
use crate::error::GatewayError;
use crate::providers::{
    content_type_json, header, provider_error, unix_now, Call, Provider, ProviderRequest,
    StreamTranslator, Untouched,
};
use crate::router::Deployment;
use crate::upstream::Endpoint;
use bytes::{Bytes, BytesMut};
use http::{HeaderName, HeaderValue};
use serde_json::Value;

pub struct Anthropic;

/// `max_tokens` when the client sets none: Anthropic requires one; LiteLLM sends 4096.
const DEFAULT_MAX_TOKENS: u64 = 4096;

impl Provider for Anthropic {
    fn static_headers(&self, d: &Deployment) -> Result<Vec<(HeaderName, HeaderValue)>, String> {
        let mut h = vec![
            content_type_json(),
            header("anthropic-version", API_VERSION)?,
        ];
        if let Some(key) = &d.api_key {
            h.push(header("x-api-key", key)?);
        }
        Ok(h)
    }

    fn build_request(&self, call: &Call<'_>) -> Result<ProviderRequest, GatewayError> {
        if call.op != Operation::Chat {
            return Err(unsupported_operation(call));
        }
        if call.native {
            return Ok(ProviderRequest {
                path_and_query: messages_path(call.deployment.endpoint()?),
                headers: call.deployment.headers.clone(),
                body: call.body.with_model(call.upstream_model),
            });
        }
        let opts = request::RequestOptions {
            drop_params: call.drop_params,
            default_max_tokens: DEFAULT_MAX_TOKENS,
        };
        let body =
            request::to_anthropic_request(&call.body.to_value(), call.upstream_model, &opts)?;
        Ok(ProviderRequest {
            path_and_query: messages_path(call.deployment.endpoint()?),
            headers: call.deployment.headers.clone(),
            body: Bytes::from(
                serde_json::to_vec(&body).map_err(|e| GatewayError::internal(e.to_string()))?,
            ),
        })
    }

    fn translate_response(&self, call: &Call<'_>, body: Bytes) -> Result<Bytes, GatewayError> {
        if call.native {
            return Ok(body);
        }
        let v: Value = serde_json::from_slice(&body).map_err(|e| {
            GatewayError::new(
                502,
                "api_error",
                format!("invalid answer from Anthropic: {e}"),
            )
        })?;
        let out = response::to_openai_response(&v, call.alias, unix_now());
        Ok(Bytes::from(out.to_string()))
    }

    fn stream_translator(&self, call: &Call<'_>) -> Box<dyn StreamTranslator> {
        if call.native {
            return Box::new(Untouched);
        }
        Box::new(stream::StreamDecoder::new(
            call.alias,
            call.body.include_usage,
            unix_now(),
        ))
    }

    fn translate_error(&self, call: &Call<'_>, status: u16, body: &[u8]) -> GatewayError {
        let (status, message, kind) = error::map_error(status, body);
        provider_error("Anthropic", call.group, status, &message, kind)
    }
}

impl StreamTranslator for stream::StreamDecoder {
    fn feed(&mut self, chunk: &[u8], out: &mut BytesMut) {
        stream::StreamDecoder::feed(self, chunk, out)
    }
    fn finish(&mut self, out: &mut BytesMut) {
        stream::StreamDecoder::finish(self, out)
    }
    fn failure(&mut self) -> Option<GatewayError> {
        stream::StreamDecoder::failure(self)
    }
}

/// LiteLLM configs give Anthropic's `api_base` without a version (`https://api.anthropic.com`),
/// sometimes with `/v1`, sometimes as the full `/v1/messages` URL; all three work.
pub fn messages_path(endpoint: &Endpoint) -> String {
    let base = endpoint.base_path.as_str();
    let suffix = if base.ends_with("/v1/messages") {
        ""
    } else if base.ends_with("/v1") {
        "/messages"
    } else {
        "/v1/messages"
    };
    endpoint.path_for(suffix, None)
}

pub fn unsupported_operation(call: &Call<'_>) -> GatewayError {
    let what = match call.op {
        Operation::Chat => "chat completions",
        Operation::Completion => "text completions (/completions)",
        Operation::Embedding => "embeddings",
    };
    GatewayError::bad_request(format!(
        "{} does not support {what}; model group {} cannot serve this endpoint",
        call.deployment.provider.name, call.group
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_base_with_or_without_version() {
        for (base, path) in [
            ("https://api.anthropic.com", "/v1/messages"),
            ("https://api.anthropic.com/", "/v1/messages"),
            (
                "https://proxy.example/anthropic/v1",
                "/anthropic/v1/messages",
            ),
            ("https://proxy.example/v1/messages", "/v1/messages"),
        ] {
            assert_eq!(
                messages_path(&Endpoint::parse(base).unwrap()),
                path,
                "{base}"
            );
        }
    }
}
