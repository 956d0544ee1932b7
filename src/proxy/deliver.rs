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
use crate::telemetry::metrics::StreamInFlight;
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
    usage: Option<(Usage, UsageSource)>,
) -> Committed {
    if let Some((usage, source)) = usage {
        record_usage(gateway, ctx, usage, source);
    }
    if ctx.spend.keep_prompts {
        ctx.spend.response = serde_json::from_slice(&body).ok();
    }
    let body = match &mut ctx.cache {
        Some(cache) => cache.on_whole(status, body),
        None => body,
    };
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
        translator,
        idle_timeout,
        sent_at,
    } = job;
    let mut gate = StreamGate::new(translator);
    let _in_flight = StreamInFlight::start(&gateway.metrics.streams_in_flight);
    loop {
        let read = tokio::select! {
            read = tokio::time::timeout(idle_timeout, response.next_chunk()) => read,
            () = client_gone(session) => return Ok(client_left(ctx)),
        };
        let read = match read {
            Ok(Ok(chunk)) => Ok(chunk),
            Ok(Err(f)) => {
                let err = failure_error(f, call, idle_timeout);
                Err(GatewayError::new(
                    err.status,
                    err.kind,
                    format!("stream interrupted: {}", err.message),
                ))
            }
            Err(_) => Err(GatewayError::timeout(
                call.group,
                call.deployment.provider.display,
                idle_timeout.as_secs_f64(),
            )),
        };
        let (bytes, last) = match gate.step(read) {
            Step::Wait => continue,
            Step::Retryable(err) => return Err(err.into()),
            Step::Empty => return Err(empty_stream(call).into()),
            Step::Abort(err) => {
                finish_usage(gateway, ctx, gate.usage(), call);
                respond::error(session, ctx, &err, None).await.ok();
                return Ok(committed(ctx));
            }
            Step::Send { first, bytes } => {
                if first && !send_head(gateway, session, ctx, deployment, sent_at, &response).await
                {
                    return Ok(client_left(ctx));
                }
                (bytes, false)
            }
            Step::End { first, bytes } => {
                if first && !send_head(gateway, session, ctx, deployment, sent_at, &response).await
                {
                    return Ok(client_left(ctx));
                }
                finish_usage(gateway, ctx, gate.usage(), call);
                (bytes, true)
            }
        };
        if let Some(cache) = &mut ctx.cache {
            cache.on_stream(&bytes);
        }
        if session
            .write_response_body(Some(bytes), last)
            .await
            .is_err()
        {
            return Ok(client_left(ctx));
        }
        if last {
            gateway.upstream.release(response).await;
            return Ok(committed(ctx));
        }
    }
}

/// What to do after one upstream read of a stream.
#[derive(Debug)]
pub enum Step {
    /// Nothing for the client yet.
    Wait,
    /// Bytes to write; `first`: the head goes before them (the commit point).
    Send { first: bool, bytes: Bytes },
    /// The stream ended cleanly: the last bytes, the head first if nothing was sent yet.
    End { first: bool, bytes: Bytes },
    /// Failed before anything was sent: the attempt may be retried or fall back.
    Retryable(GatewayError),
    /// Ended before producing anything at all.
    Empty,
    /// Failed after the client got bytes: end the answer with this error.
    Abort(GatewayError),
}

/// The commit rule of a stream, apart from any I/O: the client gets nothing until the
/// translator has produced bytes; before that a failure is retryable, after it an error event.
pub struct StreamGate {
    translator: Box<dyn StreamTranslator>,
    out: BytesMut,
    sent: bool,
}

impl StreamGate {
    pub fn new(translator: Box<dyn StreamTranslator>) -> Self {
        StreamGate {
            translator,
            out: BytesMut::with_capacity(4096),
            sent: false,
        }
    }

    /// One upstream read: a chunk, the end (`None`), or why reading failed.
    pub fn step(&mut self, read: Result<Option<Bytes>, GatewayError>) -> Step {
        let failure = match read {
            Ok(Some(chunk)) => {
                self.translator.feed(&chunk, &mut self.out);
                self.translator.failure()
            }
            Ok(None) => {
                self.translator.finish(&mut self.out);
                match self.translator.failure() {
                    Some(err) => Some(err),
                    None if !self.sent && self.out.is_empty() => return Step::Empty,
                    None => {
                        let first = !std::mem::replace(&mut self.sent, true);
                        return Step::End {
                            first,
                            bytes: self.out.split().freeze(),
                        };
                    }
                }
            }
            Err(err) => Some(err),
        };
        match failure {
            Some(err) if self.sent => Step::Abort(err),
            Some(err) => Step::Retryable(err),
            None if self.out.is_empty() => Step::Wait,
            None => {
                let first = !std::mem::replace(&mut self.sent, true);
                Step::Send {
                    first,
                    bytes: self.out.split().freeze(),
                }
            }
        }
    }

    pub fn usage(&self) -> Option<Usage> {
        self.translator.usage()
    }
}

fn empty_stream(call: &Call<'_>) -> GatewayError {
    GatewayError::new(
        502,
        "api_error",
        format!(
            "litellm.APIError: {} - the provider's stream ended before any event. Received Model Group={}",
            call.deployment.provider.display, call.group
        ),
    )
}

/// The stream's head (the commit point); `false` when the client is gone.
async fn send_head(
    gateway: &Gateway,
    session: &mut Session,
    ctx: &mut RequestCtx,
    deployment: &Arc<Deployment>,
    sent_at: Instant,
    response: &UpstreamResponse,
) -> bool {
    first_byte(gateway, ctx, deployment, sent_at);
    respond::stream_head(session, ctx, Some(response.header()))
        .await
        .is_ok()
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
        None => record_usage(gateway, ctx, estimated_usage(call), UsageSource::Estimate),
    }
}

/// When the provider gave no counts: the prompt at four bytes a token, no output known.
pub fn estimated_usage(call: &Call<'_>) -> Usage {
    let prompt = (call.body.raw().len() / 4) as u64;
    Usage {
        prompt_tokens: prompt,
        total_tokens: prompt,
        ..Usage::default()
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Passes reads on as they are; fails on a read that says so.
    struct Echo;
    impl StreamTranslator for Echo {
        fn feed(&mut self, chunk: &[u8], out: &mut BytesMut) {
            if chunk != b"silent" {
                out.extend_from_slice(chunk);
            }
        }
        fn finish(&mut self, _: &mut BytesMut) {}
    }

    fn chunk(b: &'static [u8]) -> Result<Option<Bytes>, GatewayError> {
        Ok(Some(Bytes::from_static(b)))
    }

    fn cut() -> Result<Option<Bytes>, GatewayError> {
        Err(GatewayError::new(502, "api_error", "cut"))
    }

    #[test]
    fn a_failure_before_the_first_byte_is_retryable() {
        let mut gate = StreamGate::new(Box::new(Echo));
        assert!(matches!(gate.step(chunk(b"silent")), Step::Wait));
        assert!(matches!(gate.step(cut()), Step::Retryable(_)));
    }

    #[test]
    fn after_the_first_byte_a_failure_ends_the_answer_and_is_never_retried() {
        let mut gate = StreamGate::new(Box::new(Echo));
        assert!(matches!(
            gate.step(chunk(b"a")),
            Step::Send { first: true, .. }
        ));
        assert!(matches!(
            gate.step(chunk(b"b")),
            Step::Send { first: false, .. }
        ));
        assert!(matches!(gate.step(cut()), Step::Abort(_)));
    }

    #[test]
    fn the_head_goes_out_once_and_an_empty_stream_is_a_failure() {
        let mut gate = StreamGate::new(Box::new(Echo));
        assert!(matches!(gate.step(Ok(None)), Step::Empty));
        let mut gate = StreamGate::new(Box::new(Echo));
        assert!(matches!(
            gate.step(chunk(b"a")),
            Step::Send { first: true, .. }
        ));
        assert!(matches!(
            gate.step(Ok(None)),
            Step::End { first: false, .. }
        ));
    }

    /// A translator that reports an oversized event after its first bytes.
    struct Overflow(bool);
    impl StreamTranslator for Overflow {
        fn feed(&mut self, chunk: &[u8], out: &mut BytesMut) {
            if chunk == b"huge" {
                self.0 = true;
            } else {
                out.extend_from_slice(chunk);
            }
        }
        fn finish(&mut self, _: &mut BytesMut) {}
        fn failure(&mut self) -> Option<GatewayError> {
            self.0
                .then(|| GatewayError::new(502, "api_error", "event too large"))
        }
    }

    #[test]
    fn translator_failures_follow_the_same_rule() {
        let mut gate = StreamGate::new(Box::new(Overflow(false)));
        assert!(matches!(gate.step(chunk(b"huge")), Step::Retryable(_)));
        let mut gate = StreamGate::new(Box::new(Overflow(false)));
        assert!(matches!(gate.step(chunk(b"x")), Step::Send { .. }));
        assert!(matches!(gate.step(chunk(b"huge")), Step::Abort(_)));
    }
}
