//! The Pingora `ProxyHttp` implementation. Hooks only orchestrate: each step is a call into its
//! own module. LLM calls are answered inside `request_filter` (the body is read once, and the
//! provider call is made with Pingora's pooled client), so retries and cross-provider fallbacks
//! can replay bodies of any size.

mod admit;
mod attempt;
mod batch;
mod body;
mod cached;
mod ctx;
mod deliver;
mod dispatch;
mod group;
mod inbound;
mod llm_call;
mod metrics_route;
mod passthrough;
mod respond;
mod routes;
mod spend_row;

pub use ctx::RequestCtx;

use crate::lifecycle;
use crate::state::Gateway;
use crate::telemetry::traces;
use async_trait::async_trait;
use pingora::prelude::*;
use pingora::proxy::{ProxyHttp, Session};
use std::sync::Arc;

pub struct TollgateProxy {
    pub gateway: Arc<Gateway>,
}

#[async_trait]
impl ProxyHttp for TollgateProxy {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> RequestCtx {
        RequestCtx::counted(&self.gateway.open_requests)
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<bool> {
        // One snapshot for the whole request, even if the config is swapped meanwhile.
        let snapshot = self.gateway.snapshot.load_full();
        // A client that stops reading must not pin the call (and its upstream connection).
        session
            .as_downstream_mut()
            .set_write_timeout(Some(snapshot.client_write_timeout));
        let route = routes::classify(
            &session.req_header().method,
            session.req_header().uri.path(),
        );
        match dispatch::serve(&self.gateway, &snapshot, session, ctx, route).await {
            Ok(dispatch::Next::Answered) => Ok(true),
            Ok(dispatch::Next::ProxyUpstream) => Ok(false),
            // The client is gone; there is no one to answer.
            Err(err) if err.status == 499 => {
                ctx.status = 499;
                Ok(true)
            }
            Err(err) => {
                // Refused before its body was read (401, 404, 405, 413, ...): close instead of
                // draining a body of any size from a client the gateway will not serve.
                if !session.as_downstream_mut().is_body_done() && !session.is_body_empty() {
                    session.set_keepalive(None);
                }
                respond::error(session, ctx, &err, None).await?;
                Ok(true)
            }
        }
    }

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> Result<Box<HttpPeer>> {
        // Only passthrough routes reach the proxy loop; everything else is answered above.
        match &ctx.passthrough {
            Some(target) => Ok(Box::new(target.peer())),
            None => Error::e_explain(ErrorType::HTTPStatus(404), "no upstream for this route"),
        }
    }

    async fn upstream_request_filter(
        &self,
        _session: &mut Session,
        upstream_request: &mut RequestHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        if let Some(target) = &ctx.passthrough {
            target.rewrite(upstream_request)?;
        }
        Ok(())
    }

    /// Passthrough failures (the provider unreachable, too slow): OpenAI's error shape, as on
    /// every other route, instead of Pingora's bare status page.
    async fn fail_to_proxy(
        &self,
        session: &mut Session,
        e: &Error,
        ctx: &mut RequestCtx,
    ) -> pingora::proxy::FailToProxy {
        let error = passthrough::failure_error(e);
        let error_code = match &error {
            Some(err) => {
                session.set_keepalive(None);
                match respond::error(session, ctx, err, None).await {
                    Ok(()) => err.status,
                    Err(_) => 0,
                }
            }
            None => 0,
        };
        pingora::proxy::FailToProxy {
            error_code,
            can_reuse_downstream: false,
        }
    }

    async fn logging(&self, session: &mut Session, e: Option<&Error>, ctx: &mut RequestCtx) {
        ctx.outcome.status = ctx.status;
        ctx.outcome.retries = ctx.retries;
        ctx.outcome.fallbacks = ctx.fallbacks;
        ctx.outcome.duration = ctx.started.elapsed();
        ctx.outcome.upstream_time = ctx.upstream_time;
        if ctx.outcome.error.is_none() {
            if let Some(e) = e {
                ctx.outcome.error = Some(("proxy_error", e.to_string()));
            }
        }
        // Observers see the call before its spend is handed off (they read the key and end
        // user from it); spend and limits read only the outcome's status, usage and commit.
        // An LLM call refused before admission (key, limits, budget, a bad body) is a call
        // too: LiteLLM counts it among the proxy's requests and failures.
        if ctx.admitted || ctx.route != "other" {
            let info = ctx.call_info();
            self.gateway.observers.emit(
                &info,
                &lifecycle::CallEvent::Done {
                    deployment: ctx.deployment.as_ref(),
                    summary: &ctx.outcome,
                },
            );
        }
        if let (Some(trace), Some(sink)) = (ctx.trace.take(), &self.gateway.traces) {
            if !sink.wants_spans() {
                sink.skipped(trace.span_count());
            } else {
                sink.submit(trace.finish(&traces::CallEnd {
                    call_id: &ctx.call_id,
                    route: ctx.route,
                    group: ctx.group.as_deref(),
                    deployment: ctx.deployment.as_ref(),
                    summary: &ctx.outcome,
                    key: ctx.call_info().key,
                    cache_hit: ctx.cache_hit,
                }));
            }
        }
        if lifecycle::access_log::enabled() {
            let header = session.req_header();
            let info = ctx.call_info();
            lifecycle::access_log::write(&lifecycle::access_log::AccessLine {
                request_id: ctx.request_id.as_deref().unwrap_or(&ctx.call_id),
                call_id: &ctx.call_id,
                method: header.method.as_str(),
                path: header.uri.path(),
                key: info.key,
                end_user: info.end_user,
                requested_model: info.requested_model,
                model_group: info.group,
                deployment: ctx.deployment.as_ref(),
                summary: &ctx.outcome,
                cache_hit: ctx.cache_hit,
            });
        }
        if ctx.spend.accounted {
            spend_row::finish(&self.gateway, ctx);
        }
        admit::finish_limits(&self.gateway, ctx);
    }
}
