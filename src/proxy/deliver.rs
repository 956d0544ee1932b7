//! The commit point. Until the first byte of an answer is written to the client, a call may be
//! retried or fall back; once it is written, the call is over whatever happens next. That rule
//! is a type: `Committed` is made only here, by writing to the client (or finding it gone), and
//! the retry and fallback loops only ever see `Failure`, the attempt that sent nothing.

use super::attempt::{failure_error, Failure};
use super::ctx::RequestCtx;
use super::respond;
use crate::canonical::Usage;
use crate::deployment::Deployment;
use crate::error::GatewayError;
use crate::lifecycle::{CallEvent, UsageSource};
use crate::providers::{self, Call, StreamTranslator};
use crate::state::Gateway;
use crate::upstream::UpstreamResponse;
use bytes::{Bytes, BytesMut};
use pingora::proxy::Session;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The call is over: some of its answer reached the client, or the client left. Nothing may be
/// retried or sent after it but the rest of that one answer.
#[must_use]
pub struct Committed(());

/// The client left while the gateway was working for it: the call is over, with nobody to tell.
pub fn client_left(ctx: &mut RequestCtx) -> Committed {
    ctx.outcome.client_gone = true;
    ctx.status = 499;
    Committed(())
}

/// Resolves when the client goes away (FIN, reset, HTTP/2 stream reset); pending while it stays.
/// Racing upstream work against this is what cancels that work when nobody waits for it.
pub async fn client_gone(session: &mut Session) {
    if session
        .as_downstream_mut()
        .read_body_or_idle(true)
        .await
        .is_err()
    {
        return;
    }
    // Bytes of a pipelined next request: the client is still there.
    std::future::pending::<()>().await
}

/// Sends a whole answer. `usage` is the provider's count, read before any translation for the
/// client's format.
pub async fn whole(
    gateway: &Gateway,
    session: &mut Session,
    ctx: &mut RequestCtx,
    status: u16,
    body: Bytes,
    response: Option<UpstreamResponse>,
    usage: Option<Usage>,
) -> Committed {
    if let Some(usage) = usage {
        record_usage(gateway, ctx, usage, UsageSource::Provider);
    }
    let head = response.as_ref().map(|r| r.header());
    let written = respond::json(session, ctx, status, body, head).await;
    if let Some(response) = response {
        gateway.upstream.release(response).await;
    }
    match written {
        Ok(()) => committed(ctx),
        Err(_) => client_left(ctx),
    }
}

/// What `stream` needs besides the session.
pub struct StreamJob<'a, 'c> {
    pub call: &'a Call<'c>,
    pub deployment: &'a Arc<Deployment>,
    pub translator: Box<dyn StreamTranslator>,
    /// Longest wait for the next upstream read (`stream_timeout`).
    pub idle_timeout: Duration,
    /// When the attempt's request was sent, for time to first byte.
    pub sent_at: Instant,
}

/// Passes a provider's stream to the client event by event. The head goes out with the first
/// translated bytes, not before: an upstream that fails before producing any (a cut, a stall, an
/// oversized event) is still a `Failure`, retried or fallen back like any other. After that
/// first write, failures end the stream with one error event and `[DONE]`.
pub async fn stream(
    gateway: &Gateway,
    session: &mut Session,
    ctx: &mut RequestCtx,
    job: StreamJob<'_, '_>,
    mut response: UpstreamResponse,
) -> Result<Committed, Failure> {
    let StreamJob {
        call,
        deployment,
        mut translator,
        idle_timeout,
        sent_at,
    } = job;
    let mut out = BytesMut::with_capacity(4096);
    let mut head_sent = false;
    loop {
        let read = tokio::select! {
            read = tokio::time::timeout(idle_timeout, response.next_chunk()) => read,
            () = client_gone(session) => return Ok(client_left(ctx)),
        };
        let failure = match read {
            Ok(Ok(Some(chunk))) => {
                translator.feed(&chunk, &mut out);
                translator.failure()
            }
            Ok(Ok(None)) => break,
            Ok(Err(f)) => {
                let err = failure_error(f, call, idle_timeout);
                Some(GatewayError::new(
                    err.status,
                    err.kind,
                    format!("stream interrupted: {}", err.message),
                ))
            }
            Err(_) => Some(GatewayError::timeout(
                call.group,
                call.deployment.provider.display,
                idle_timeout.as_secs_f64(),
            )),
        };
        if let Some(err) = failure {
            if !head_sent {
                return Err(err.into());
            }
            let usage = translator.usage();
            finish_usage(gateway, ctx, usage, call);
            respond::error(session, ctx, &err, None).await.ok();
            return Ok(committed(ctx));
        }
        if out.is_empty() {
            continue;
        }
        if !head_sent {
            head_sent = true;
            first_byte(gateway, ctx, deployment, sent_at);
            if respond::stream_head(session, ctx, Some(response.header()))
                .await
                .is_err()
            {
                return Ok(client_left(ctx));
            }
        }
        if session
            .write_response_body(Some(out.split().freeze()), false)
            .await
            .is_err()
        {
            return Ok(client_left(ctx));
        }
    }
    translator.finish(&mut out);
    if let Some(err) = translator.failure() {
        if !head_sent {
            return Err(err.into());
        }
    }
    if !head_sent {
        if out.is_empty() {
            return Err(GatewayError::new(
                502,
                "api_error",
                format!(
                    "litellm.APIError: {} - the provider's stream ended before any event. Received Model Group={}",
                    call.deployment.provider.display, call.group
                ),
            )
            .into());
        }
        first_byte(gateway, ctx, deployment, sent_at);
        if respond::stream_head(session, ctx, Some(response.header()))
            .await
            .is_err()
        {
            return Ok(client_left(ctx));
        }
    }
    finish_usage(gateway, ctx, translator.usage(), call);
    let last = session
        .write_response_body(Some(out.split().freeze()), true)
        .await;
    gateway.upstream.release(response).await;
    Ok(match last {
        Ok(()) => committed(ctx),
        Err(_) => client_left(ctx),
    })
}

/// A local answer (`mock_response`), whole or as a stream of events.
pub async fn local_stream(
    session: &mut Session,
    ctx: &mut RequestCtx,
    events: Vec<Bytes>,
    mut translator: Box<dyn StreamTranslator>,
) -> Committed {
    if respond::stream_head(session, ctx, None).await.is_err() {
        return client_left(ctx);
    }
    let mut out = BytesMut::new();
    for e in events {
        translator.feed(&e, &mut out);
    }
    translator.finish(&mut out);
    match session.write_response_body(Some(out.freeze()), true).await {
        Ok(()) => committed(ctx),
        Err(_) => client_left(ctx),
    }
}

/// The error the client sees when nothing else succeeded; nothing was sent before it.
pub async fn failure(session: &mut Session, ctx: &mut RequestCtx, failure: &Failure) -> Committed {
    ctx.outcome.error = Some((failure.error.kind, failure.error.message.clone()));
    match respond::error(session, ctx, &failure.error, failure.upstream_head.as_ref()).await {
        Ok(()) => Committed(()),
        Err(_) => client_left(ctx),
    }
}

fn committed(ctx: &mut RequestCtx) -> Committed {
    ctx.outcome.committed = true;
    Committed(())
}

fn first_byte(
    gateway: &Gateway,
    ctx: &mut RequestCtx,
    deployment: &Arc<Deployment>,
    sent_at: Instant,
) {
    let ttft = sent_at.elapsed();
    deployment.state.record_latency(ttft, true);
    ctx.outcome.time_to_first_byte = Some(ttft);
    ctx.emit(
        &gateway.observers,
        CallEvent::FirstByte {
            deployment,
            time_to_first_byte: ttft,
        },
    );
}

/// The stream's usage as the provider reported it, else the gateway's estimate (a stream cut
/// short still used tokens).
fn finish_usage(gateway: &Gateway, ctx: &mut RequestCtx, usage: Option<Usage>, call: &Call<'_>) {
    match usage {
        Some(u) => record_usage(gateway, ctx, u, UsageSource::Provider),
        None => {
            let prompt = (call.body.raw().len() / 4) as u64;
            let estimate = Usage {
                prompt_tokens: prompt,
                total_tokens: prompt,
                ..Usage::default()
            };
            record_usage(gateway, ctx, estimate, UsageSource::Estimate);
        }
    }
}

pub fn record_usage(gateway: &Gateway, ctx: &mut RequestCtx, usage: Usage, source: UsageSource) {
    ctx.outcome.usage = Some(usage);
    ctx.outcome.usage_source = source;
    ctx.emit(&gateway.observers, CallEvent::UsageKnown { usage, source });
}

/// For the router's provider-format translator choice (kept here so `group` stays short).
pub fn translator_for(
    call: &Call<'_>,
    outer: Option<Box<dyn StreamTranslator>>,
) -> Box<dyn StreamTranslator> {
    let provider = providers::for_wire(call.deployment.provider.wire);
    let inner = provider.stream_translator(call);
    match outer {
        Some(outer) => Box::new(providers::Chained::new(inner, outer)),
        None => inner,
    }
}
