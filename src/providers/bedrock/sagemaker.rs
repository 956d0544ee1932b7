//! SageMaker real-time endpoints, `POST /endpoints/{name}/invocations` on
//! `runtime.sagemaker.{region}.amazonaws.com`, signed for service `sagemaker`.
//!
//! - [`Sagemaker`] (`sagemaker/`): Hugging Face TGI / LMI containers. The messages become one
//!   prompt (contents joined by spaces, LiteLLM's default template) sent as
//!   `{"inputs", "parameters": {"max_new_tokens", "temperature", "top_p", "stop", "details"}}`;
//!   the answer, `[{"generated_text", "details"}]` or `{"generated_text"}` (JumpStart:
//!   `{"generation"}`), becomes a chat completion.
//! - [`SagemakerChat`] (`sagemaker_chat/`): containers that speak OpenAI's messages API take
//!   the OpenAI body as is.
//!
//! Streaming is simulated, as LiteLLM long did for SageMaker: the call is made without streaming
//! and the whole answer is replayed as `chat.completion.chunk` events when it has arrived.

use super::aws_error;
use super::converse_response::completion_id;
use super::credentials::{self, SAGEMAKER_RUNTIME};
use super::error::map_error;
use super::sigv4::encode_path_segment;
use crate::canonical::params::unsupported_params_error;
use crate::canonical::request::Operation;
use crate::error::GatewayError;
use crate::providers::{
    content_type_json, unix_now, Call, Provider, ProviderRequest, StreamTranslator,
};
use crate::router::Deployment;
use bytes::{Bytes, BytesMut};
use http::{HeaderName, HeaderValue};
use serde_json::{json, Map, Value};

pub struct Sagemaker;
pub struct SagemakerChat;

/// OpenAI parameters a TGI endpoint has no place for.
const TGI_UNSUPPORTED: &[&str] = &[
    "frequency_penalty",
    "presence_penalty",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "seed",
    "tools",
    "tool_choice",
    "functions",
    "function_call",
    "response_format",
];

/// Bound on an answer buffered for simulated streaming.
pub const MAX_BUFFERED: usize = 64 * 1024 * 1024;

/// LiteLLM's default prompt template: the message contents joined by spaces.
pub fn prompt(openai: &Value) -> String {
    let messages = openai.get("messages").and_then(Value::as_array);
    messages
        .into_iter()
        .flatten()
        .map(|m| match m.get("content") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(parts)) => parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect(),
            _ => String::new(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The TGI request body, parameters mapped as LiteLLM's `SagemakerConfig` maps them.
pub fn to_tgi_request(openai: &Value, drop_params: bool) -> Result<Value, GatewayError> {
    let used: Vec<&str> = TGI_UNSUPPORTED
        .iter()
        .copied()
        .filter(|name| openai.get(*name).is_some_and(|v| !v.is_null()))
        .collect();
    if !used.is_empty() && !drop_params {
        let model = openai
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or_default();
        return Err(unsupported_params_error("sagemaker", model, &used));
    }
    let mut parameters = Map::new();
    let given = |name: &str| openai.get(name).filter(|v| !v.is_null());
    if let Some(n) = given("max_completion_tokens").or(given("max_tokens")) {
        // TGI refuses 0 new tokens.
        parameters.insert(
            "max_new_tokens".into(),
            json!(n.as_u64().unwrap_or(1).max(1)),
        );
    }
    if let Some(t) = given("temperature") {
        // TGI wants a strictly positive temperature; LiteLLM sends 0.01 for 0.
        let zero = t.as_f64() == Some(0.0);
        parameters.insert(
            "temperature".into(),
            if zero { json!(0.01) } else { t.clone() },
        );
    }
    if let Some(p) = given("top_p") {
        parameters.insert("top_p".into(), p.clone());
    }
    if let Some(stop) = given("stop") {
        let stop = if stop.is_string() {
            json!([stop])
        } else {
            stop.clone()
        };
        parameters.insert("stop".into(), stop);
    }
    if let Some(n) = given("n").filter(|n| n.as_u64().is_some_and(|n| n > 1)) {
        parameters.insert("best_of".into(), n.clone());
        parameters.insert("do_sample".into(), json!(true));
    }
    parameters.insert("details".into(), json!(true));
    Ok(json!({"inputs": prompt(openai), "parameters": parameters}))
}

/// A TGI (or JumpStart) answer as a chat completion.
pub fn tgi_to_openai(answer: &Value, prompt: &str, alias: &str, created: u64) -> Value {
    let first = answer.as_array().and_then(|a| a.first()).unwrap_or(answer);
    let text = first
        .get("generated_text")
        .or_else(|| first.get("generation"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    // Containers that echo the prompt (`return_full_text`) would repeat it to the client.
    let text = match text.strip_prefix(prompt) {
        Some(rest) if !prompt.is_empty() => rest,
        _ => text,
    };
    let details = first.get("details").unwrap_or(&Value::Null);
    let finish = match details.get("finish_reason").and_then(Value::as_str) {
        Some("length") => "length",
        _ => "stop",
    };
    let completion_tokens = details
        .get("generated_tokens")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    json!({
        "id": completion_id(),
        "object": "chat.completion",
        "created": created,
        "model": alias,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": text},
            "finish_reason": finish,
        }],
        // TGI reports no prompt token count.
        "usage": {"prompt_tokens": 0, "completion_tokens": completion_tokens,
                  "total_tokens": completion_tokens},
    })
}

/// A whole chat completion replayed as `chat.completion.chunk` events and `[DONE]`.
pub fn completion_to_sse(completion: &Value, include_usage: bool) -> Vec<u8> {
    let base = |choices: Value| {
        json!({
            "id": completion.get("id").cloned().unwrap_or(Value::Null),
            "object": "chat.completion.chunk",
            "created": completion.get("created").cloned().unwrap_or(json!(0)),
            "model": completion.get("model").cloned().unwrap_or(Value::Null),
            "choices": choices,
        })
    };
    let message = completion
        .pointer("/choices/0/message")
        .unwrap_or(&Value::Null);
    let mut chunks = vec![base(json!([{"index": 0, "finish_reason": null, "delta": {
        "role": "assistant",
        "content": message.get("content").cloned().unwrap_or(json!("")),
    }}]))];
    if let Some(calls) = message.get("tool_calls").and_then(Value::as_array) {
        let calls: Vec<Value> = calls
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut c = c.clone();
                c["index"] = json!(i);
                c
            })
            .collect();
        chunks.push(base(
            json!([{"index": 0, "finish_reason": null, "delta": {"tool_calls": calls}}]),
        ));
    }
    let finish = completion
        .pointer("/choices/0/finish_reason")
        .cloned()
        .unwrap_or(json!("stop"));
    chunks.push(base(
        json!([{"index": 0, "finish_reason": finish, "delta": {}}]),
    ));
    if let (true, Some(usage)) = (include_usage, completion.get("usage")) {
        let mut chunk = base(json!([]));
        chunk["usage"] = usage.clone();
        chunks.push(chunk);
    }
    let mut out = Vec::new();
    for chunk in chunks {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(chunk.to_string().as_bytes());
        out.extend_from_slice(b"\n\n");
    }
    out.extend_from_slice(b"data: [DONE]\n\n");
    out
}

/// Turns a whole upstream answer into a chat completion, `None` when it is not one.
pub type ToCompletion = Box<dyn Fn(&[u8]) -> Option<Value> + Send>;

/// Simulated streaming: buffers the non-stream answer, replays it at the end.
pub struct BufferedStream {
    buf: Vec<u8>,
    /// The answer outgrew [`MAX_BUFFERED`]: what was buffered is dropped, the rest ignored,
    /// and the gateway ends the answer with [`StreamTranslator::failure`].
    overflow: bool,
    include_usage: bool,
    to_completion: ToCompletion,
}

impl BufferedStream {
    pub fn new(include_usage: bool, to_completion: ToCompletion) -> Self {
        BufferedStream {
            buf: Vec::new(),
            overflow: false,
            include_usage,
            to_completion,
        }
    }

    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
}

impl StreamTranslator for BufferedStream {
    fn feed(&mut self, chunk: &[u8], _out: &mut BytesMut) {
        if self.overflow {
            return;
        }
        if self.buf.len() + chunk.len() > MAX_BUFFERED {
            self.overflow = true;
            self.buf = Vec::new();
        } else {
            self.buf.extend_from_slice(chunk);
        }
    }

    fn finish(&mut self, out: &mut BytesMut) {
        if self.overflow {
            return;
        }
        match (self.to_completion)(&self.buf) {
            Some(completion) => {
                out.extend_from_slice(&completion_to_sse(&completion, self.include_usage))
            }
            None => {
                let e = GatewayError::new(502, "api_error", "invalid answer from SageMaker");
                out.extend_from_slice(&e.to_sse_event());
                out.extend_from_slice(b"data: [DONE]\n\n");
            }
        }
    }
    fn failure(&mut self) -> Option<GatewayError> {
        self.overflow.then(|| {
            let bound = MAX_BUFFERED / (1024 * 1024);
            GatewayError::new(
                502,
                "api_error",
                format!("SageMaker answer larger than {bound} MiB"),
            )
        })
    }
}

fn invocations_request(call: &Call<'_>, body: &Value) -> Result<ProviderRequest, GatewayError> {
    if call.op != Operation::Chat {
        return Err(GatewayError::bad_request(
            "sagemaker deployments serve /chat/completions only",
        ));
    }
    let name = encode_path_segment(call.upstream_model);
    let body = serde_json::to_vec(body).map_err(|e| GatewayError::internal(e.to_string()))?;
    credentials::signed_request(
        call.deployment,
        &SAGEMAKER_RUNTIME,
        call.upstream_model,
        &format!("/endpoints/{name}/invocations"),
        body,
        Some("application/json"),
    )
}

fn invalid_answer(e: serde_json::Error) -> GatewayError {
    GatewayError::new(
        502,
        "api_error",
        format!("invalid answer from SageMaker: {e}"),
    )
}

impl Provider for Sagemaker {
    fn static_headers(&self, _: &Deployment) -> Result<Vec<(HeaderName, HeaderValue)>, String> {
        credentials::load_env();
        Ok(vec![content_type_json()])
    }

    fn build_request(&self, call: &Call<'_>) -> Result<ProviderRequest, GatewayError> {
        let body = to_tgi_request(&call.body.to_value(), call.drop_params)?;
        invocations_request(call, &body)
    }

    fn translate_response(&self, call: &Call<'_>, body: Bytes) -> Result<Bytes, GatewayError> {
        let answer: Value = serde_json::from_slice(&body).map_err(invalid_answer)?;
        let prompt = prompt(&call.body.to_value());
        let out = tgi_to_openai(&answer, &prompt, call.alias, unix_now());
        Ok(Bytes::from(out.to_string()))
    }

    fn stream_translator(&self, call: &Call<'_>) -> Box<dyn StreamTranslator> {
        let (prompt, alias) = (prompt(&call.body.to_value()), call.alias.to_string());
        Box::new(BufferedStream::new(
            call.body.include_usage,
            Box::new(move |bytes| {
                let answer: Value = serde_json::from_slice(bytes).ok()?;
                Some(tgi_to_openai(&answer, &prompt, &alias, unix_now()))
            }),
        ))
    }

    fn translate_error(&self, call: &Call<'_>, status: u16, body: &[u8]) -> GatewayError {
        aws_error(call, map_error(status, body))
    }
}

/// The OpenAI body with the endpoint's name as `model` and streaming off (it is simulated).
fn chat_body(call: &Call<'_>) -> Value {
    let mut body = call.body.to_value();
    if let Some(obj) = body.as_object_mut() {
        obj.insert("model".into(), json!(call.upstream_model));
        obj.remove("stream");
        obj.remove("stream_options");
    }
    body
}

fn chat_answer(bytes: &[u8], alias: &str) -> Option<Value> {
    let mut answer: Value = serde_json::from_slice(bytes).ok()?;
    answer.as_object_mut()?.insert("model".into(), json!(alias));
    Some(answer)
}

impl Provider for SagemakerChat {
    fn static_headers(&self, d: &Deployment) -> Result<Vec<(HeaderName, HeaderValue)>, String> {
        Sagemaker.static_headers(d)
    }

    fn build_request(&self, call: &Call<'_>) -> Result<ProviderRequest, GatewayError> {
        invocations_request(call, &chat_body(call))
    }

    fn translate_response(&self, call: &Call<'_>, body: Bytes) -> Result<Bytes, GatewayError> {
        let answer = chat_answer(&body, call.alias).ok_or_else(|| {
            GatewayError::new(502, "api_error", "invalid chat completion from SageMaker")
        })?;
        Ok(Bytes::from(answer.to_string()))
    }

    fn stream_translator(&self, call: &Call<'_>) -> Box<dyn StreamTranslator> {
        let alias = call.alias.to_string();
        Box::new(BufferedStream::new(
            call.body.include_usage,
            Box::new(move |bytes| chat_answer(bytes, &alias)),
        ))
    }

    fn translate_error(&self, call: &Call<'_>, status: u16, body: &[u8]) -> GatewayError {
        aws_error(call, map_error(status, body))
    }
}

#[cfg(test)]
mod tests;
