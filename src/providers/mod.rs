//! Provider wire formats. Each file turns the canonical (OpenAI) request into one provider's
//! request and its answers back: pure functions of bytes and JSON, no network.

pub mod anthropic;
mod azure;
pub mod bedrock;
pub mod cohere;
pub mod gemini;
pub mod mock_response;
pub mod openai;
pub mod registry;
pub mod text_completion;
mod upstream_error;

use crate::canonical::request::Operation;
use crate::canonical::{RequestBody, Usage};
use crate::error::GatewayError;
use crate::router::Deployment;
use bytes::{Bytes, BytesMut};
use http::{HeaderName, HeaderValue};
pub use registry::{ProviderSpec, Wire};
pub use upstream_error::{provider_error, upstream_error};

/// Seconds since the Unix epoch, for the `created` field of translated answers.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Everything a provider needs to build one attempt.
#[derive(Clone, Copy)]
pub struct Call<'a> {
    pub op: Operation,
    pub body: &'a RequestBody,
    pub deployment: &'a Deployment,
    /// The provider's model name for this call (wildcards already filled in).
    pub upstream_model: &'a str,
    /// What the client asked for; answers carry it as their `model`.
    pub alias: &'a str,
    /// The model group, for error messages.
    pub group: &'a str,
    /// Drop params the provider cannot take instead of refusing the request.
    pub drop_params: bool,
    /// `body` is already in this provider's own format (an Anthropic client calling an
    /// Anthropic deployment): send it as it is and return the answers untouched.
    pub native: bool,
}

/// The provider-specific part of an upstream request; the client adds host and length.
pub struct ProviderRequest {
    pub path_and_query: String,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Bytes,
}

pub trait Provider: Send + Sync {
    /// Headers sent on every call to a deployment (auth, versions), built once at config load.
    fn static_headers(
        &self,
        deployment: &Deployment,
    ) -> Result<Vec<(HeaderName, HeaderValue)>, String>;

    fn build_request(&self, call: &Call<'_>) -> Result<ProviderRequest, GatewayError>;

    /// A complete (non-stream) success body, into OpenAI's response JSON.
    fn translate_response(&self, call: &Call<'_>, body: Bytes) -> Result<Bytes, GatewayError>;

    /// A streamed success body, into OpenAI's `chat.completion.chunk` SSE events.
    fn stream_translator(&self, call: &Call<'_>) -> Box<dyn StreamTranslator>;

    /// For APIs that take one input per request (Titan embeddings): the call split into
    /// parts, each a whole canonical request of its own. `None`: one request carries it all.
    fn split(&self, _call: &Call<'_>) -> Result<Option<Vec<RequestBody>>, GatewayError> {
        Ok(None)
    }

    /// The (untranslated) answers to the parts from `split`, in order, as one answer.
    fn combine(&self, call: &Call<'_>, _answers: Vec<Bytes>) -> Result<Bytes, GatewayError> {
        Err(GatewayError::internal(format!(
            "provider {} split a call it cannot combine",
            call.deployment.provider.name
        )))
    }

    /// An error answer, into the gateway's error (status kept, message naming the group).
    fn translate_error(&self, call: &Call<'_>, status: u16, body: &[u8]) -> GatewayError {
        upstream_error(call.deployment.provider.display, call.group, status, body)
    }
}

/// Turns upstream stream bytes into the client's SSE bytes, one read at a time.
pub trait StreamTranslator: Send {
    fn feed(&mut self, chunk: &[u8], out: &mut BytesMut);
    /// The upstream stream ended; emit what is still owed (e.g. `data: [DONE]`).
    fn finish(&mut self, out: &mut BytesMut);

    /// The provider's own token counts, once its stream has given them.
    fn usage(&self) -> Option<Usage> {
        None
    }

    /// Set when the upstream's stream cannot be read on (an event over the size bound, a
    /// broken frame): the gateway ends the answer with this error instead of reading more.
    fn failure(&mut self) -> Option<GatewayError> {
        None
    }
}

pub fn for_wire(wire: Wire) -> &'static dyn Provider {
    match wire {
        Wire::OpenAi => &openai::OpenAi,
        Wire::Azure => &azure::Azure,
        Wire::TextCompletion => &text_completion::TextCompletion,
        Wire::Anthropic => &anthropic::Anthropic,
        Wire::Gemini => &gemini::Gemini,
        Wire::VertexAi => &gemini::VertexAi,
        Wire::Bedrock => &bedrock::Bedrock,
        Wire::Sagemaker => &bedrock::Sagemaker,
        Wire::SagemakerChat => &bedrock::SagemakerChat,
        Wire::Cohere => &cohere::Cohere,
    }
}

/// Hands stream bytes on as they are (for native passthrough).
pub struct Untouched;

impl StreamTranslator for Untouched {
    fn feed(&mut self, chunk: &[u8], out: &mut BytesMut) {
        out.extend_from_slice(chunk);
    }
    fn finish(&mut self, _: &mut BytesMut) {}
}

/// Two translations in a row: provider format → OpenAI → the client's inbound format.
pub struct Chained {
    pub inner: Box<dyn StreamTranslator>,
    pub outer: Box<dyn StreamTranslator>,
    between: BytesMut,
}

impl Chained {
    pub fn new(inner: Box<dyn StreamTranslator>, outer: Box<dyn StreamTranslator>) -> Self {
        Chained {
            inner,
            outer,
            between: BytesMut::new(),
        }
    }
}

impl StreamTranslator for Chained {
    fn feed(&mut self, chunk: &[u8], out: &mut BytesMut) {
        self.inner.feed(chunk, &mut self.between);
        if !self.between.is_empty() {
            let mid = self.between.split();
            self.outer.feed(&mid, out);
        }
    }
    fn finish(&mut self, out: &mut BytesMut) {
        // The gateway ends the answer with the failure; the outer translator must not close it.
        if self.failure().is_some() {
            return;
        }
        self.inner.finish(&mut self.between);
        let mid = self.between.split();
        self.outer.feed(&mid, out);
        self.outer.finish(out);
    }
    fn usage(&self) -> Option<Usage> {
        self.inner.usage()
    }
    fn failure(&mut self) -> Option<GatewayError> {
        self.inner.failure().or_else(|| self.outer.failure())
    }
}

#[cfg(test)]
mod stream_failure_tests;

pub(crate) fn header(name: &'static str, value: &str) -> Result<(HeaderName, HeaderValue), String> {
    let v = HeaderValue::from_str(value)
        .map_err(|_| format!("invalid characters in the value for header {name}"))?;
    Ok((HeaderName::from_static(name), v))
}

pub(crate) fn content_type_json() -> (HeaderName, HeaderValue) {
    (
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    )
}
