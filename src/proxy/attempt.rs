//! One attempt on one deployment, up to the point where its answer could be delivered:
//! translate, send, read the head (and a whole non-stream answer). Nothing here touches the
//! client, so a failure is always "failed, nothing sent" and may be retried elsewhere.

use crate::canonical::RequestBody;
use crate::error::GatewayError;
use crate::providers::{self, Call};
use crate::state::Gateway;
use crate::upstream::{UpstreamFailure, UpstreamRequest, UpstreamResponse};
use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use pingora::http::ResponseHeader;
use std::time::{Duration, Instant};

/// Provider error bodies are read whole to re-shape them; bound that.
const MAX_ERROR_BODY: usize = 1024 * 1024;
/// At most this many upstream calls for one fanned-out request (Titan: one per input).
pub const MAX_FANOUT_PARTS: usize = 256;

pub enum Answer {
    /// A complete, translated answer, not yet sent.
    Whole {
        status: u16,
        body: Bytes,
        response: UpstreamResponse,
    },
    /// A stream whose head arrived; its body is read by `deliver::stream`.
    Stream { response: UpstreamResponse },
}

/// A failed attempt that sent the client nothing, with what the client should see if nothing
/// else succeeds.
pub struct Failure {
    pub error: GatewayError,
    pub upstream_head: Option<ResponseHeader>,
    /// The provider's `retry-after`, when it gave one.
    pub retry_after: Option<Duration>,
}

impl From<GatewayError> for Failure {
    fn from(error: GatewayError) -> Self {
        Failure {
            error,
            upstream_head: None,
            retry_after: None,
        }
    }
}

/// The time and size bounds of one attempt.
pub struct Limits {
    /// The whole attempt (`timeout`), already cut to what is left of the call's deadline.
    pub total: Duration,
    /// To a stream's first byte (`stream_timeout`), and between its events.
    pub stream: Duration,
    /// A non-stream answer larger than this fails (`max_response_size_mb`).
    pub max_response_bytes: usize,
}

/// `trace_headers`: the attempt's `traceparent` (and `tracestate`) when traces are on.
pub async fn call(
    gateway: &Gateway,
    call: &Call<'_>,
    limits: &Limits,
    trace_headers: &[(HeaderName, HeaderValue)],
) -> Result<Answer, Failure> {
    let provider = providers::for_wire(call.deployment.provider.wire);
    let stream = call.body.stream;
    if !stream {
        if let Some(parts) = provider.split(call)? {
            return call_in_parts(gateway, call, &parts, limits, trace_headers).await;
        }
    }
    let (response, body) = exchange(gateway, call, limits, trace_headers).await?;
    match body {
        None => Ok(Answer::Stream { response }),
        Some(body) => Ok(Answer::Whole {
            status: response.status(),
            body: provider.translate_response(call, body)?,
            response,
        }),
    }
}

/// A call the provider takes one part at a time (e.g. Titan embeddings, one input per request):
/// the parts in order, then their answers combined into one.
async fn call_in_parts(
    gateway: &Gateway,
    call: &Call<'_>,
    parts: &[RequestBody],
    limits: &Limits,
    trace_headers: &[(HeaderName, HeaderValue)],
) -> Result<Answer, Failure> {
    if parts.len() > MAX_FANOUT_PARTS {
        return Err(GatewayError::bad_request(format!(
            "this deployment takes one input per upstream call; {} inputs is more than the {MAX_FANOUT_PARTS} a request may carry",
            parts.len()
        ))
        .with_param("input")
        .into());
    }
    let deadline = Instant::now() + limits.total;
    let mut answers = Vec::with_capacity(parts.len());
    let mut last: Option<UpstreamResponse> = None;
    for part in parts {
        let part_call = Call {
            body: part,
            ..*call
        };
        let part_limits = Limits {
            total: deadline.saturating_duration_since(Instant::now()),
            ..*limits
        };
        let (response, body) = exchange(gateway, &part_call, &part_limits, trace_headers).await?;
        answers.push(body.unwrap_or_default());
        if let Some(previous) = last.replace(response) {
            gateway.upstream.release(previous).await;
        }
    }
    let response =
        last.ok_or_else(|| GatewayError::bad_request("nothing to send").with_param("input"))?;
    let provider = providers::for_wire(call.deployment.provider.wire);
    Ok(Answer::Whole {
        status: response.status(),
        body: provider.combine(call, answers)?,
        response,
    })
}

/// Sends one request and reads its head; a non-stream success body is read whole (untranslated).
async fn exchange(
    gateway: &Gateway,
    call: &Call<'_>,
    limits: &Limits,
    trace_headers: &[(HeaderName, HeaderValue)],
) -> Result<(UpstreamResponse, Option<Bytes>), Failure> {
    let d = call.deployment;
    let stream = call.body.stream;
    let provider = providers::for_wire(d.provider.wire);
    let mut built = provider.build_request(call)?;
    if !trace_headers.is_empty() {
        // The attempt's own trace context, never one a client or a provider module put there.
        built
            .headers
            .retain(|(name, _)| name != "traceparent" && name != "tracestate");
        built.headers.extend_from_slice(trace_headers);
    }
    let endpoint = d.endpoint()?;
    let deadline = Instant::now() + limits.total;
    let head_timeout = if stream {
        limits.stream.min(limits.total)
    } else {
        limits.total
    };
    let name = d.provider.display;
    let timed_out = |t: Duration| GatewayError::timeout(call.group, name, t.as_secs_f64());

    let send = gateway.upstream.send(
        UpstreamRequest {
            endpoint,
            path_and_query: &built.path_and_query,
            headers: &built.headers,
            body: built.body,
        },
        Some(limits.total),
    );
    let mut response = match tokio::time::timeout(head_timeout, send).await {
        Ok(Ok(r)) => r,
        Ok(Err(f)) => return Err(failure_error(f, call, head_timeout).into()),
        Err(_) => return Err(timed_out(head_timeout).into()),
    };

    let status = response.status();
    if status >= 400 {
        let body = tokio::time::timeout_at(deadline.into(), response.read_to_end(MAX_ERROR_BODY))
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        let retry_after = retry_after(response.header());
        let error = provider.translate_error(call, status, &body);
        let upstream_head = Some(response.header().clone());
        gateway.upstream.release(response).await;
        return Err(Failure {
            error,
            upstream_head,
            retry_after,
        });
    }
    if !(200..300).contains(&status) {
        // A redirect or an informational head is no answer: passing it on would point the
        // client elsewhere (or at nothing); another deployment may do better.
        return Err(GatewayError::new(
            502,
            "api_error",
            format!(
                "litellm.APIError: {name} - the provider answered with HTTP {status}, which is not an answer. Received Model Group={}",
                call.group
            ),
        )
        .into());
    }
    if stream {
        return Ok((response, None));
    }
    let read = response.read_to_end(limits.max_response_bytes);
    let body = match tokio::time::timeout_at(deadline.into(), read).await {
        Ok(Ok(b)) => b,
        Ok(Err(UpstreamFailure::TooLarge(limit))) => {
            return Err(GatewayError::new(
                502,
                "api_error",
                format!(
                    "litellm.APIError: {name} - the answer is larger than max_response_size_mb ({} MB). Received Model Group={}",
                    limit / (1024 * 1024),
                    call.group
                ),
            )
            .into())
        }
        Ok(Err(f)) => return Err(failure_error(f, call, limits.total).into()),
        Err(_) => return Err(timed_out(limits.total).into()),
    };
    Ok((response, Some(body)))
}

pub fn failure_error(failure: UpstreamFailure, call: &Call<'_>, timeout: Duration) -> GatewayError {
    let provider = call.deployment.provider.display;
    match failure {
        UpstreamFailure::Timeout => {
            GatewayError::timeout(call.group, provider, timeout.as_secs_f64())
        }
        UpstreamFailure::Unreachable(detail) => {
            GatewayError::upstream_unreachable(call.group, provider, &detail)
        }
        UpstreamFailure::TooLarge(limit) => GatewayError::new(
            502,
            "api_error",
            format!(
                "litellm.APIError: {provider} - the answer is larger than {limit} bytes. Received Model Group={}",
                call.group
            ),
        ),
    }
}

/// `retry-after` in seconds (HTTP dates are rare from LLM providers and are ignored); absurd
/// values are clamped, never trusted to build a `Duration` that panics.
fn retry_after(head: &ResponseHeader) -> Option<Duration> {
    let v = head.headers.get("retry-after")?.to_str().ok()?;
    crate::duration::parse_retry_after(v)
}
