//! One LLM call, top to bottom: parse → choose a deployment → translate → send → stream or
//! return the answer. Each step is a call into its own module; this file only sequences them.

use super::ctx::RequestCtx;
use super::{body, respond};
use crate::canonical::request::Operation;
use crate::canonical::RequestBody;
use crate::error::GatewayError;
use crate::providers::{self, mock_response, Call};
use crate::state::{Gateway, Snapshot};
use crate::upstream::{UpstreamFailure, UpstreamRequest, UpstreamResponse};
use bytes::BytesMut;
use pingora::proxy::Session;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Provider error bodies are read whole to re-shape them; bound that.
const MAX_ERROR_BODY: usize = 1024 * 1024;
/// Bound on a non-stream answer read into memory.
const MAX_RESPONSE_BODY: usize = 256 * 1024 * 1024;

pub async fn handle(
    gateway: &Gateway,
    snapshot: &Snapshot,
    session: &mut Session,
    ctx: &mut RequestCtx,
    op: Operation,
) -> Result<(), GatewayError> {
    let raw = body::read_bounded(session, snapshot.max_request_bytes).await?;
    let request = RequestBody::parse(raw, op)?;
    let selection = snapshot.models.select(&request.model)?;
    ctx.group = Some(Arc::from(request.model.as_str()));
    ctx.deployment = Some(Arc::clone(&selection.deployment));
    let deployment = &*selection.deployment;

    if let Some(text) = &deployment.mock_response {
        return answer_locally(session, ctx, op, &request, text).await;
    }

    let provider = providers::for_wire(deployment.provider.wire);
    let call = Call {
        op,
        body: &request,
        deployment,
        upstream_model: &selection.upstream_model,
        alias: &request.model,
        group: &selection.group.name,
    };
    let built = provider.build_request(&call)?;
    let endpoint = deployment.endpoint()?;
    let timeout = deployment.timeout.unwrap_or(snapshot.default_timeout);
    // A stream's first byte may come sooner than a whole answer; `stream_timeout` bounds it.
    let head_timeout = if request.stream {
        deployment.stream_timeout.unwrap_or(timeout)
    } else {
        timeout
    };
    let deadline = Instant::now() + timeout;
    let provider_name = deployment.provider.display;

    let sent_at = Instant::now();
    let send = gateway.upstream.send(
        UpstreamRequest {
            endpoint,
            path_and_query: &built.path_and_query,
            headers: &built.headers,
            body: built.body,
        },
        Some(timeout),
    );
    let mut response = match tokio::time::timeout(head_timeout, send).await {
        Ok(Ok(r)) => r,
        Ok(Err(failure)) => return Err(failure_error(failure, &call, provider_name, head_timeout)),
        Err(_) => {
            return Err(GatewayError::timeout(
                call.group,
                provider_name,
                head_timeout.as_secs_f64(),
            ))
        }
    };

    let status = response.status();
    if status >= 400 {
        let body = tokio::time::timeout_at(deadline.into(), response.read_to_end(MAX_ERROR_BODY))
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        ctx.upstream_time = sent_at.elapsed();
        let err = provider.translate_error(&call, status, &body);
        respond::error(session, ctx, &err, Some(&response.header))
            .await
            .ok();
        gateway.upstream.release(response).await;
        return Ok(());
    }

    if request.stream {
        ctx.upstream_time = sent_at.elapsed();
        stream_back(gateway, session, ctx, &call, response, timeout).await
    } else {
        let body =
            match tokio::time::timeout_at(deadline.into(), response.read_to_end(MAX_RESPONSE_BODY))
                .await
            {
                Ok(Ok(b)) => b,
                Ok(Err(failure)) => {
                    return Err(failure_error(failure, &call, provider_name, timeout))
                }
                Err(_) => {
                    return Err(GatewayError::timeout(
                        call.group,
                        provider_name,
                        timeout.as_secs_f64(),
                    ))
                }
            };
        ctx.upstream_time = sent_at.elapsed();
        let body = provider.translate_response(&call, body)?;
        respond::json(session, ctx, status, body, Some(&response.header))
            .await
            .map_err(|e| GatewayError::internal(format!("writing the response failed: {e}")))?;
        gateway.upstream.release(response).await;
        Ok(())
    }
}

/// Passes the provider's stream to the client event by event as it arrives.
async fn stream_back(
    gateway: &Gateway,
    session: &mut Session,
    ctx: &mut RequestCtx,
    call: &Call<'_>,
    mut response: UpstreamResponse,
    idle_timeout: Duration,
) -> Result<(), GatewayError> {
    let provider = providers::for_wire(call.deployment.provider.wire);
    let mut translator = provider.stream_translator(call);
    respond::stream_head(session, ctx, Some(&response.header))
        .await
        .map_err(|e| GatewayError::internal(format!("writing the response failed: {e}")))?;
    let mut out = BytesMut::with_capacity(4096);
    loop {
        let chunk = match tokio::time::timeout(idle_timeout, response.next_chunk()).await {
            Ok(Ok(Some(chunk))) => chunk,
            Ok(Ok(None)) => break,
            Ok(Err(failure)) => {
                let err = failure_error(
                    failure,
                    call,
                    call.deployment.provider.display,
                    idle_timeout,
                );
                return Err(GatewayError::new(
                    err.status,
                    err.kind,
                    format!("stream interrupted: {}", err.message),
                ));
            }
            Err(_) => {
                return Err(GatewayError::timeout(
                    call.group,
                    call.deployment.provider.display,
                    idle_timeout.as_secs_f64(),
                ))
            }
        };
        translator.feed(&chunk, &mut out);
        if !out.is_empty() {
            // A client that went away ends the call; the upstream connection is dropped, not pooled.
            session
                .write_response_body(Some(out.split().freeze()), false)
                .await
                .map_err(|e| {
                    GatewayError::new(499, "client_closed", format!("client went away: {e}"))
                })?;
        }
    }
    translator.finish(&mut out);
    session
        .write_response_body(Some(out.split().freeze()), true)
        .await
        .map_err(|e| GatewayError::new(499, "client_closed", format!("client went away: {e}")))?;
    gateway.upstream.release(response).await;
    Ok(())
}

async fn answer_locally(
    session: &mut Session,
    ctx: &mut RequestCtx,
    op: Operation,
    request: &RequestBody,
    text: &str,
) -> Result<(), GatewayError> {
    let write_err = |e: Box<pingora::Error>| {
        GatewayError::internal(format!("writing the response failed: {e}"))
    };
    match mock_response::answer(op, request, &request.model, text, &ctx.call_id) {
        mock_response::MockAnswer::Whole(body) => respond::json(session, ctx, 200, body, None)
            .await
            .map_err(write_err),
        mock_response::MockAnswer::Stream(events) => {
            respond::stream_head(session, ctx, None)
                .await
                .map_err(write_err)?;
            let last = events.len() - 1;
            for (i, e) in events.into_iter().enumerate() {
                session
                    .write_response_body(Some(e), i == last)
                    .await
                    .map_err(write_err)?;
            }
            Ok(())
        }
    }
}

fn failure_error(
    failure: UpstreamFailure,
    call: &Call<'_>,
    provider: &str,
    timeout: Duration,
) -> GatewayError {
    match failure {
        UpstreamFailure::Timeout => {
            GatewayError::timeout(call.group, provider, timeout.as_secs_f64())
        }
        UpstreamFailure::Unreachable(detail) => {
            GatewayError::upstream_unreachable(call.group, provider, &detail)
        }
    }
}
