//! The response cache on the request path: after admission, a hit answers without any
//! provider (whole, or a stream replayed event by event); a miss goes on with `ctx.cache` set,
//! which keeps the answer the client gets and stores it once the call ended cleanly.

use super::ctx::{Inbound, RequestCtx};
use super::inbound::Bodies;
use super::{body, deliver, respond};
use crate::cache::call::{self, Hit};
use crate::canonical::request::Operation;
use crate::error::GatewayError;
use crate::lifecycle::UsageSource;
use crate::router::Resolved;
use crate::state::{Gateway, Snapshot};
use pingora::proxy::Session;
use std::sync::Arc;

/// `true` when the cache answered the call.
pub async fn answered(
    gateway: &Gateway,
    snapshot: &Snapshot,
    session: &mut Session,
    ctx: &mut RequestCtx,
    op: Operation,
    bodies: &mut Bodies,
    resolved: &Resolved,
) -> Result<bool, GatewayError> {
    let header = session
        .req_header()
        .headers
        .get(http::header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok());
    let settings = &snapshot.config.litellm.cache;
    let anthropic = ctx.inbound == Inbound::Anthropic;
    let client = bodies.client();
    let Some(mut cache) = call::plan(
        gateway.cache.as_ref(),
        settings,
        op,
        anthropic,
        client,
        header,
    ) else {
        return Ok(false);
    };
    let hit = cache.lookup(&bodies.client().model).await;
    if let Some(input) = cache.missing_input() {
        bodies.narrow_input(&input)?;
    }
    ctx.cache = Some(cache);
    let Some(hit) = hit else {
        return Ok(false);
    };
    ctx.cache_hit = true;
    ctx.group = Some(Arc::clone(&resolved.group_name));
    ctx.outcome.committed = true;
    match hit {
        Hit::Whole { body, usage } => {
            if let Some(u) = usage {
                deliver::record_usage(gateway, ctx, u, UsageSource::Provider);
            }
            respond::json(session, ctx, 200, body, None)
                .await
                .map_err(respond::client_gone)?;
        }
        Hit::Stream { events } => {
            respond::stream_head(session, ctx, None)
                .await
                .map_err(respond::client_gone)?;
            let last = events.len().saturating_sub(1);
            for (i, event) in events.into_iter().enumerate() {
                session
                    .write_response_body(Some(event), i == last)
                    .await
                    .map_err(respond::client_gone)?;
            }
        }
    }
    Ok(true)
}

/// The call is over: its answer is stored if it reached the client whole.
pub async fn finish(ctx: &mut RequestCtx) {
    if let Some(cache) = ctx.cache.take() {
        let whole =
            ctx.outcome.committed && !ctx.outcome.client_gone && (200..300).contains(&ctx.status);
        cache.finish(whole).await;
    }
}

/// `/cache/ping`, `/cache/delete`, `/cache/flushall`: proxy admins only.
pub async fn admin_route(
    gateway: &Gateway,
    snapshot: &Snapshot,
    session: &mut Session,
    ctx: &mut RequestCtx,
) -> Result<super::dispatch::Next, GatewayError> {
    if !crate::cache::admin::may_manage(&gateway.directory, &ctx.caller) {
        return Err(GatewayError::new(
            403,
            "auth_error",
            "Only proxy admins may use the cache routes",
        ));
    }
    let raw =
        body::read_bounded(session, snapshot.max_request_bytes, snapshot.body_timeout).await?;
    let path = session.req_header().uri.path();
    let path = path
        .strip_prefix("/v1")
        .unwrap_or(path)
        .trim_end_matches('/');
    let settings = &snapshot.config.litellm.cache;
    let answer = crate::cache::admin::handle(gateway.cache.as_ref(), settings, path, &raw).await?;
    let body = bytes::Bytes::from(answer.to_string());
    respond::json(session, ctx, 200, body, None)
        .await
        .map_err(respond::client_gone)?;
    Ok(super::dispatch::Next::Answered)
}
