//! One attempt on one deployment: translate, send, and read the head (a whole non-stream answer
//! is read too), so that a failure here can still be retried elsewhere. Writing the answer to
//! the client happens only after an attempt succeeded.

use super::ctx::RequestCtx;
use super::respond;
use crate::canonical::RequestBody;
use crate::error::GatewayError;
use crate::providers::{self, Call, Chained, StreamTranslator};
use crate::state::Gateway;
use crate::upstream::{UpstreamFailure, UpstreamRequest, UpstreamResponse};
use bytes::{Bytes, BytesMut};
use pingora::http::ResponseHeader;
use pingora::proxy::Session;
use std::time::{Duration, Instant};

/// Provider error bodies are read whole to re-shape them; bound that.
const MAX_ERROR_BODY: usize = 1024 * 1024;
/// Bound on a non-stream answer read into memory.
const MAX_RESPONSE_BODY: usize = 256 * 1024 * 1024;

pub enum Answer {
    /// A complete, translated answer, not yet sent.
    Whole {
        status: u16,
        body: Bytes,
        response: UpstreamResponse,
    },
    /// A stream whose head arrived; its body is passed through by `stream_back`.
    Stream { response: UpstreamResponse },
}

/// A failed attempt, with what the client should see if nothing else succeeds.
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

pub struct Deadlines {
    /// The whole attempt (`timeout`).
    pub total: Duration,
    /// To a stream's first byte (`stream_timeout`), and between its events.
    pub stream: Duration,
}

pub async fn call(
    gateway: &Gateway,
    call: &Call<'_>,
    stream: bool,
    deadlines: &Deadlines,
) -> Result<Answer, Failure> {
    let provider = providers::for_wire(call.deployment.provider.wire);
    if !stream {
        if let Some(parts) = provider.split(call)? {
            return call_in_parts(gateway, call, &parts, deadlines).await;
        }
    }
    let (response, body) = exchange(gateway, call, stream, deadlines).await?;
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
    deadlines: &Deadlines,
) -> Result<Answer, Failure> {
    let mut answers = Vec::with_capacity(parts.len());
    let mut last: Option<UpstreamResponse> = None;
    for part in parts {
        let part_call = Call {
            body: part,
            ..*call
        };
        let (response, body) = exchange(gateway, &part_call, false, deadlines).await?;
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
    stream: bool,
    deadlines: &Deadlines,
) -> Result<(UpstreamResponse, Option<Bytes>), Failure> {
    let d = call.deployment;
    let provider = providers::for_wire(d.provider.wire);
    let built = provider.build_request(call)?;
    let endpoint = d.endpoint()?;
    let deadline = Instant::now() + deadlines.total;
    let head_timeout = if stream {
        deadlines.stream.min(deadlines.total)
    } else {
        deadlines.total
    };
    let name = d.provider.display;

    let send = gateway.upstream.send(
        UpstreamRequest {
            endpoint,
            path_and_query: &built.path_and_query,
            headers: &built.headers,
            body: built.body,
        },
        Some(deadlines.total),
    );
    let mut response = match tokio::time::timeout(head_timeout, send).await {
        Ok(Ok(r)) => r,
        Ok(Err(f)) => return Err(failure_error(f, call, head_timeout).into()),
        Err(_) => {
            return Err(GatewayError::timeout(call.group, name, head_timeout.as_secs_f64()).into())
        }
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
    if stream {
        return Ok((response, None));
    }
    let body =
        match tokio::time::timeout_at(deadline.into(), response.read_to_end(MAX_RESPONSE_BODY))
            .await
        {
            Ok(Ok(b)) => b,
            Ok(Err(f)) => return Err(failure_error(f, call, deadlines.total).into()),
            Err(_) => {
                return Err(
                    GatewayError::timeout(call.group, name, deadlines.total.as_secs_f64()).into(),
                )
            }
        };
    Ok((response, Some(body)))
}

/// Passes a provider's stream to the client event by event as it arrives. Failures from here
/// on reach the client as an SSE error event: its bytes are already on the way.
pub async fn stream_back(
    gateway: &Gateway,
    session: &mut Session,
    ctx: &mut RequestCtx,
    call: &Call<'_>,
    mut response: UpstreamResponse,
    idle_timeout: Duration,
    outer: Option<Box<dyn StreamTranslator>>,
) -> Result<(), GatewayError> {
    let provider = providers::for_wire(call.deployment.provider.wire);
    let mut translator = provider.stream_translator(call);
    if let Some(outer) = outer {
        translator = Box::new(Chained::new(translator, outer));
    }
    respond::stream_head(session, ctx, Some(response.header()))
        .await
        .map_err(client_gone)?;
    let mut out = BytesMut::with_capacity(4096);
    let mut first = true;
    loop {
        let chunk = match tokio::time::timeout(idle_timeout, response.next_chunk()).await {
            Ok(Ok(Some(chunk))) => chunk,
            Ok(Ok(None)) => break,
            Ok(Err(failure)) => {
                let err = failure_error(failure, call, idle_timeout);
                return Err(GatewayError::new(
                    err.status,
                    err.kind,
                    format!("stream interrupted: {}", err.message),
                ));
            }
            Err(_) => {
                let secs = idle_timeout.as_secs_f64();
                return Err(GatewayError::timeout(
                    call.group,
                    call.deployment.provider.display,
                    secs,
                ));
            }
        };
        if first {
            first = false;
            call.deployment
                .state
                .record_latency(ctx.started.elapsed(), true);
        }
        translator.feed(&chunk, &mut out);
        if !out.is_empty() {
            session
                .write_response_body(Some(out.split().freeze()), false)
                .await
                .map_err(client_gone)?;
        }
    }
    translator.finish(&mut out);
    session
        .write_response_body(Some(out.split().freeze()), true)
        .await
        .map_err(client_gone)?;
    gateway.upstream.release(response).await;
    Ok(())
}

/// Sends a successful whole answer.
pub async fn send_whole(
    gateway: &Gateway,
    session: &mut Session,
    ctx: &mut RequestCtx,
    status: u16,
    body: Bytes,
    response: UpstreamResponse,
) -> Result<(), GatewayError> {
    respond::json(session, ctx, status, body, Some(response.header()))
        .await
        .map_err(client_gone)?;
    gateway.upstream.release(response).await;
    Ok(())
}

/// The client went away while being answered: nobody is left to tell.
pub fn client_gone(e: Box<pingora::Error>) -> GatewayError {
    GatewayError::new(499, "client_closed", format!("client went away: {e}"))
}

fn failure_error(failure: UpstreamFailure, call: &Call<'_>, timeout: Duration) -> GatewayError {
    let provider = call.deployment.provider.display;
    match failure {
        UpstreamFailure::Timeout => {
            GatewayError::timeout(call.group, provider, timeout.as_secs_f64())
        }
        UpstreamFailure::Unreachable(detail) => {
            GatewayError::upstream_unreachable(call.group, provider, &detail)
        }
    }
}

/// `retry-after` in seconds (HTTP dates are rare from LLM providers and are ignored).
fn retry_after(head: &ResponseHeader) -> Option<Duration> {
    let v = head.headers.get("retry-after")?.to_str().ok()?;
    let secs: f64 = v.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}
