//! The Pingora `ProxyHttp` implementation. Hooks only orchestrate: each step is a call into its
//! own module. LLM calls are answered inside `request_filter` (the body is read once, and the
//! provider call is made with Pingora's pooled client), so retries and cross-provider fallbacks
//! can replay bodies of any size.

mod attempt;
mod body;
mod ctx;
mod inbound;
mod llm_call;
mod passthrough;
mod respond;
mod routes;

pub use ctx::RequestCtx;

use crate::api;
use crate::auth;
use crate::canonical::request::Operation;
use crate::error::GatewayError;
use crate::state::Gateway;
use async_trait::async_trait;
use pingora::prelude::*;
use pingora::proxy::{ProxyHttp, Session};
use routes::Route;
use std::sync::Arc;

pub struct TollgateProxy {
    pub gateway: Arc<Gateway>,
}

#[async_trait]
impl ProxyHttp for TollgateProxy {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> RequestCtx {
        RequestCtx::new()
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<bool> {
        // One snapshot for the whole request, even if the config is swapped meanwhile.
        let snapshot = self.gateway.snapshot.load_full();
        let route = routes::classify(
            &session.req_header().method,
            session.req_header().uri.path(),
        );
        let outcome = match route {
            Route::Liveliness => respond::json(session, ctx, 200, api::liveliness(), None)
                .await
                .map_err(internal),
            Route::Readiness => respond::json(session, ctx, 200, api::readiness(), None)
                .await
                .map_err(internal),
            Route::NotFound => Err(GatewayError::not_found(format!(
                "Route {} not found",
                session.req_header().uri.path()
            ))),
            Route::MethodNotAllowed => Err(GatewayError::new(
                405,
                "invalid_request_error",
                "Method Not Allowed",
            )),
            Route::Passthrough => {
                let headers = &session.req_header().headers;
                if let Err(e) = auth::authenticate(snapshot.master_key.as_ref(), headers) {
                    respond::error(session, ctx, &e, None).await?;
                    return Ok(true);
                }
                let uri = session.req_header().uri.clone();
                let Some((provider, rest)) = passthrough::split_path(uri.path()) else {
                    return Ok(false);
                };
                match passthrough::target(&self.gateway, &snapshot, provider, rest, uri.query())
                    .await
                {
                    Ok(target) => {
                        ctx.passthrough = Some(target);
                        // Pingora's proxy loop takes it from here.
                        return Ok(false);
                    }
                    Err(e) => Err(e),
                }
            }
            Route::Models
            | Route::Health
            | Route::Llm(_)
            | Route::AnthropicMessages
            | Route::AnthropicCountTokens => {
                if matches!(
                    route,
                    Route::AnthropicMessages | Route::AnthropicCountTokens
                ) {
                    ctx.inbound = ctx::Inbound::Anthropic;
                }
                match auth::authenticate(
                    snapshot.master_key.as_ref(),
                    &session.req_header().headers,
                ) {
                    Err(e) => Err(e),
                    Ok(_caller) if route == Route::Health => {
                        let body = api::health(&snapshot.models);
                        respond::json(session, ctx, 200, body, None)
                            .await
                            .map_err(internal)
                    }
                    Ok(_caller) if route == Route::Models => {
                        let body = api::models_list(&snapshot.models);
                        respond::json(session, ctx, 200, body, None)
                            .await
                            .map_err(internal)
                    }
                    Ok(_caller) if route == Route::AnthropicCountTokens => {
                        match body::read_bounded(session, snapshot.max_request_bytes).await {
                            Ok(raw) => {
                                inbound::count_tokens(&self.gateway, &snapshot, session, ctx, raw)
                                    .await
                            }
                            Err(e) => Err(e),
                        }
                    }
                    Ok(_caller) => {
                        let op = match route {
                            Route::Llm(op) => op,
                            _ => Operation::Chat,
                        };
                        llm_call::handle(&self.gateway, &snapshot, session, ctx, op).await
                    }
                }
            }
        };
        if let Err(err) = outcome {
            if err.status == 499 {
                // The client is gone; there is no one to answer.
                ctx.status = 499;
                return Ok(true);
            }
            respond::error(session, ctx, &err, None).await?;
        }
        Ok(true)
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

    async fn logging(&self, session: &mut Session, e: Option<&Error>, ctx: &mut RequestCtx) {
        if log::log_enabled!(log::Level::Debug) {
            log::debug!(
                "call_id={} {} {} status={} group={} deployment={} duration_ms={:.3} error={:?}",
                ctx.call_id,
                session.req_header().method,
                session.req_header().uri.path(),
                ctx.status,
                ctx.group.as_deref().unwrap_or("-"),
                ctx.deployment
                    .as_ref()
                    .map(|d| d.id.as_str())
                    .unwrap_or("-"),
                ctx.started.elapsed().as_secs_f64() * 1000.0,
                e.map(|e| e.to_string()),
            );
        }
    }
}

fn internal(e: Box<Error>) -> GatewayError {
    GatewayError::internal(format!("writing the response failed: {e}"))
}
