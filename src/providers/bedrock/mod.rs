//! Amazon Bedrock (`bedrock/`) and SageMaker (`sagemaker/`, `sagemaker_chat/`).
//!
//! Chat goes to Bedrock's Converse API, `POST /model/{model id}/converse` (or
//! `/converse-stream`, whose body is AWS's binary event stream); embeddings go to InvokeModel,
//! `/model/{model id}/invoke`, for Titan and Cohere models. The model id is one path segment,
//! percent-encoded (`...-v1:0` → `...-v1%3A0`), and every request is signed with SigV4 when it is
//! built, since the signature covers the body and the time. Pure translation, no network.
//!
//! The host is the deployment's `api_base` when one is configured, else
//! `bedrock-runtime.{region}.amazonaws.com` ([`credentials`] says where region and keys come
//! from). The request is signed for exactly that host: the HTTP client must connect to and send
//! `Host:` the same, so a deployment without `api_base` needs its default filled in at config
//! load ([`credentials::BEDROCK_RUNTIME`]`.default_api_base(region)`).

pub mod converse;
mod converse_messages;
pub mod converse_response;
pub mod converse_stream;
pub mod credentials;
pub mod embeddings;
pub mod error;
pub mod eventstream;
pub mod sagemaker;
pub mod sigv4;

pub use sagemaker::{Sagemaker, SagemakerChat};

use super::openai::PassthroughStream;
use super::{
    content_type_json, provider_error, unix_now, Call, Provider, ProviderRequest, StreamTranslator,
};
use crate::canonical::request::Operation;
use crate::canonical::{RequestBody, Usage};
use crate::deployment::Deployment;
use crate::error::GatewayError;
use bytes::Bytes;
use credentials::BEDROCK_RUNTIME;
use embeddings::{EmbeddingModel, EncodingFormat};
use http::{HeaderName, HeaderValue};
use serde_json::Value;

pub struct Bedrock;

impl Provider for Bedrock {
    fn static_headers(&self, _: &Deployment) -> Result<Vec<(HeaderName, HeaderValue)>, String> {
        // Read the AWS environment now, at config load, not on the first request.
        credentials::load_env();
        Ok(vec![content_type_json()])
    }

    fn build_request(&self, call: &Call<'_>) -> Result<ProviderRequest, GatewayError> {
        let model = model_id(call.upstream_model);
        let request = call.body.to_value();
        let (action, body) =
            match call.op {
                Operation::Chat => {
                    let opts = converse::RequestOptions {
                        model,
                        drop_params: call.drop_params,
                    };
                    let action = if call.body.stream {
                        "converse-stream"
                    } else {
                        "converse"
                    };
                    (action, converse::to_converse_request(&request, &opts)?)
                }
                Operation::Embedding => ("invoke", embedding_request(call, model, &request)?),
                Operation::Completion => return Err(GatewayError::bad_request(
                    "bedrock deployments serve /chat/completions and /embeddings, not /completions",
                )),
            };
        let suffix = format!("/model/{}/{action}", sigv4::encode_path_segment(model));
        let body = serde_json::to_vec(&body).map_err(|e| GatewayError::internal(e.to_string()))?;
        let accept = (call.op == Operation::Embedding).then_some("application/json");
        credentials::signed_request(
            call.deployment,
            &BEDROCK_RUNTIME,
            model,
            &suffix,
            body,
            accept,
        )
    }

    fn translate_response(&self, call: &Call<'_>, body: Bytes) -> Result<Bytes, GatewayError> {
        let answer: Value = serde_json::from_slice(&body).map_err(|e| {
            GatewayError::new(
                502,
                "api_error",
                format!("invalid answer from Bedrock: {e}"),
            )
        })?;
        let out = match call.op {
            Operation::Embedding => {
                let format = EncodingFormat::of_request(&call.body.to_value())?;
                match EmbeddingModel::for_model(model_id(call.upstream_model)) {
                    Some(EmbeddingModel::Cohere) => {
                        embeddings::cohere_response(&answer, call.alias, format)
                    }
                    _ => embeddings::titan_response(&[answer], call.alias, format),
                }
            }
            _ => converse_response::to_openai_response(&answer, call.alias, unix_now()),
        };
        Ok(Bytes::from(out.to_string()))
    }

    fn stream_translator(&self, call: &Call<'_>) -> Box<dyn StreamTranslator> {
        match call.op {
            Operation::Chat => Box::new(converse_stream::StreamDecoder::new(
                call.alias,
                call.body.include_usage,
                unix_now(),
            )),
            // Nothing else streams; pass through whatever comes.
            _ => Box::new(PassthroughStream::new(call.alias, call.body.include_usage)),
        }
    }

    fn translate_error(&self, call: &Call<'_>, status: u16, body: &[u8]) -> GatewayError {
        aws_error(call, error::map_error(status, body))
    }

    /// Cohere's embedding answers on Bedrock carry no token count in the body (Bedrock sends
    /// it in the `x-amzn-bedrock-input-token-count` header): their usage is not the provider's.
    fn answer_usage(&self, call: &Call<'_>, answer: &[u8]) -> Option<Usage> {
        let cohere = matches!(
            EmbeddingModel::for_model(model_id(call.upstream_model)),
            Some(EmbeddingModel::Cohere)
        );
        if call.op == Operation::Embedding && cohere {
            return None;
        }
        Usage::from_openai_body(answer)
    }

    /// Titan takes one input per InvokeModel call: several inputs become several calls.
    fn split(&self, call: &Call<'_>) -> Result<Option<Vec<RequestBody>>, GatewayError> {
        let titan = matches!(
            EmbeddingModel::for_model(model_id(call.upstream_model)),
            Some(EmbeddingModel::Titan { .. })
        );
        if call.op != Operation::Embedding || !titan {
            return Ok(None);
        }
        let request = call.body.to_value();
        let inputs = embeddings::inputs(&request)?;
        if inputs.len() <= 1 {
            return Ok(None);
        }
        let parts = inputs.into_iter().map(|input| {
            let mut one = request.clone();
            one["input"] = Value::String(input);
            let bytes =
                serde_json::to_vec(&one).map_err(|e| GatewayError::internal(e.to_string()))?;
            RequestBody::parse(Bytes::from(bytes), Operation::Embedding)
        });
        parts.collect::<Result<Vec<_>, _>>().map(Some)
    }

    fn combine(&self, call: &Call<'_>, answers: Vec<Bytes>) -> Result<Bytes, GatewayError> {
        let format = EncodingFormat::of_request(&call.body.to_value())?;
        let answers = answers
            .iter()
            .map(|a| serde_json::from_slice::<Value>(a))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                GatewayError::new(
                    502,
                    "api_error",
                    format!("invalid answer from Bedrock: {e}"),
                )
            })?;
        Ok(Bytes::from(
            embeddings::titan_response(&answers, call.alias, format).to_string(),
        ))
    }
}

/// The Bedrock model id without LiteLLM's route prefixes (`bedrock/converse/...`,
/// `bedrock/invoke/...`): Tollgate speaks Converse to every chat model.
fn model_id(upstream_model: &str) -> &str {
    upstream_model
        .strip_prefix("converse/")
        .or_else(|| upstream_model.strip_prefix("invoke/"))
        .unwrap_or(upstream_model)
}

fn embedding_request(call: &Call<'_>, model: &str, request: &Value) -> Result<Value, GatewayError> {
    let drop = call.drop_params;
    match EmbeddingModel::for_model(model) {
        Some(EmbeddingModel::Cohere) => embeddings::cohere_request(request, drop),
        Some(EmbeddingModel::Titan { v2 }) => match embeddings::inputs(request)?.as_slice() {
            [] => Err(GatewayError::bad_request("input must not be empty").with_param("input")),
            [one] => embeddings::titan_request(one, request, v2, drop),
            // Several inputs were split into one call each (see `split`).
            _ => Err(GatewayError::internal("titan embeddings reached the request builder unsplit")),
        },
        None => Err(GatewayError::bad_request(format!(
            "bedrock embeddings support amazon.titan-embed-text and cohere.embed models, not {model}"
        ))
        .with_param("model")),
    }
}

/// An AWS error answer as LiteLLM words it: `litellm.RateLimitError: RateLimitError:
/// BedrockException - Too many requests... Received Model Group=claude`.
pub(crate) fn aws_error(call: &Call<'_>, mapped: (u16, String, &'static str)) -> GatewayError {
    let (status, message, kind) = mapped;
    let display = call.deployment.provider.display;
    provider_error(display, call.group, status, &message, kind)
}

#[cfg(test)]
mod tests;
