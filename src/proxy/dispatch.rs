//! What each route does, once classified: the gateway's own endpoints answer here, LLM calls go
//! to `llm_call`, passthrough routes are handed back to Pingora's proxy loop.

use super::ctx::{Inbound, RequestCtx};
use super::routes::Route;
use super::{body, cached, inbound, llm_call, metrics_route, passthrough, respond};
use crate::admin;
use crate::api;
use crate::auth;
use crate::canonical::request::Operation;
use crate::error::GatewayError;
use crate::state::{Gateway, Snapshot};
use crate::telemetry::traces::CallTrace;
use pingora::proxy::Session;

pub enum Next {
    /// The response has been written.
    Answered,
    /// Pingora's proxy loop forwards the request (`ctx.passthrough` says where).
    ProxyUpstream,
}

pub async fn serve(
    gateway: &Gateway,
    snapshot: &Snapshot,
    session: &mut Session,
    ctx: &mut RequestCtx,
    route: Route,
) -> Result<Next, GatewayError> {
    if matches!(
        route,
        Route::AnthropicMessages | Route::AnthropicCountTokens
    ) {
        ctx.inbound = Inbound::Anthropic;
    }
    ctx.route = crate::telemetry::labels::route_label(session.req_header().uri.path());
    ctx.request_id = super::ctx::client_request_id(&session.req_header().headers);
    if gateway.traces.is_some() {
        let op = match route {
            Route::Llm(op) => Some(op),
            Route::AnthropicMessages => Some(Operation::Chat),
            _ => None,
        };
        ctx.trace = op.map(|op| {
            Box::new(CallTrace::start(
                &session.req_header().headers,
                ctx.started,
                op,
            ))
        });
    }
    if route.needs_key() {
        let uri = &session.req_header().uri;
        let places = auth::KeyPlaces {
            google: (route == Route::Passthrough && uri.path().starts_with("/gemini/"))
                .then(|| uri.query()),
        };
        let caller = auth::authenticate(
            snapshot.master_key.as_ref(),
            &gateway.directory,
            &session.req_header().headers,
            places,
            crate::store::now_ms(),
        )?;
        ctx.master_caller = caller == auth::Caller::Admin;
        ctx.caller = caller;
    }
    let answer = match route {
        Route::Liveliness | Route::Readiness => {
            let (status, body) = if route == Route::Liveliness {
                api::probes::liveliness(gateway)
            } else {
                api::probes::readiness(gateway).await
            };
            respond::json(session, ctx, status, body, None)
                .await
                .map_err(respond::client_gone)?;
            return Ok(Next::Answered);
        }
        Route::Metrics => {
            metrics_route::serve(gateway, snapshot, session, ctx).await?;
            return Ok(Next::Answered);
        }
        Route::Health => {
            let query = admin::Query::new(session.req_header().uri.query());
            // A team's key names its team model by the public name.
            let model = query.get("model").map(|m| {
                snapshot
                    .stored
                    .team_group(ctx.caller_team(), m)
                    .unwrap_or(m)
            });
            api::health(&snapshot.models, model)
        }
        Route::ModelInfo | Route::ModelInfoV2 | Route::ModelGroupInfo => {
            let query = admin::Query::new(session.req_header().uri.query());
            let visible = |group: &str, public: &str| match &ctx.caller {
                auth::Caller::Key(key) => {
                    snapshot.group_visible_to(key.team_id(), group)
                        && auth::keys::may_use_model(&gateway.directory, key, public, |g| {
                            snapshot.access_groups_of(g)
                        })
                        .is_ok()
                }
                _ => true,
            };
            let (status, body) = match route {
                Route::ModelInfo => {
                    api::model_info::v1(snapshot, &visible, query.get("litellm_model_id"))
                }
                Route::ModelInfoV2 => {
                    let number = |name: &str, default: usize| {
                        query
                            .get(name)
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .filter(|n| *n >= 1)
                            .unwrap_or(default)
                            .min(1_000_000)
                    };
                    let (page, size) = (number("page", 1), number("size", 50));
                    let body =
                        api::model_info::v2(snapshot, &visible, query.get("model"), page, size);
                    (200, body)
                }
                _ => (
                    200,
                    api::model_info::groups(snapshot, &visible, query.get("model_group")),
                ),
            };
            respond::json(
                session,
                ctx,
                status,
                bytes::Bytes::from(body.to_string()),
                None,
            )
            .await
            .map_err(respond::client_gone)?;
            return Ok(Next::Answered);
        }
        Route::Models => {
            let team = ctx.caller_team();
            let aliases = snapshot.models.aliases().iter().map(|a| &**a);
            match &ctx.caller {
                auth::Caller::Key(key) => api::models_list(
                    aliases
                        .filter(|a| snapshot.group_visible_to(team, a))
                        .chain(snapshot.stored.team_public_names(team))
                        .filter(|m| {
                            auth::keys::may_use_model(&gateway.directory, key, m, |g| {
                                snapshot.access_groups_of(g)
                            })
                            .is_ok()
                        }),
                ),
                _ => api::models_list(aliases),
            }
        }
        Route::Llm(op) => {
            return answered(llm_call::handle(gateway, snapshot, session, ctx, op).await)
        }
        Route::AnthropicMessages => {
            return answered(
                llm_call::handle(gateway, snapshot, session, ctx, Operation::Chat).await,
            )
        }
        Route::AnthropicCountTokens => {
            let raw =
                body::read_bounded(session, snapshot.max_request_bytes, snapshot.body_timeout)
                    .await?;
            return answered(inbound::count_tokens(gateway, snapshot, session, ctx, raw).await);
        }
        Route::Passthrough => {
            let uri = session.req_header().uri.clone();
            let (provider, rest) = passthrough::split_path(uri.path()).ok_or_else(|| {
                GatewayError::not_found(format!("Route {} not found", uri.path()))
            })?;
            ctx.passthrough =
                Some(passthrough::target(gateway, snapshot, provider, rest, uri.query()).await?);
            return Ok(Next::ProxyUpstream);
        }
        Route::Admin => return admin_route(gateway, snapshot, session, ctx).await,
        Route::CacheAdmin => return cached::admin_route(gateway, snapshot, session, ctx).await,
        Route::NotFound => {
            let path = session.req_header().uri.path();
            return Err(GatewayError::not_found(format!("Route {path} not found")));
        }
        Route::MethodNotAllowed => {
            return Err(GatewayError::new(
                405,
                "invalid_request_error",
                "Method Not Allowed",
            ))
        }
    };
    respond::json(session, ctx, 200, answer, None)
        .await
        .map_err(respond::client_gone)?;
    Ok(Next::Answered)
}

fn answered(outcome: Result<(), GatewayError>) -> Result<Next, GatewayError> {
    outcome.map(|()| Next::Answered)
}

/// The admin API: the body read (bounded), the caller's role resolved by `admin`, the answer
/// in LiteLLM's shapes.
async fn admin_route(
    gateway: &Gateway,
    snapshot: &Snapshot,
    session: &mut Session,
    ctx: &mut RequestCtx,
) -> Result<Next, GatewayError> {
    let Some(store) = gateway.store.as_deref() else {
        return Err(GatewayError::new(
            503,
            "service_unavailable",
            "No store connected: the admin API needs the database",
        ));
    };
    let raw =
        body::read_bounded(session, snapshot.max_request_bytes, snapshot.body_timeout).await?;
    let caller = match &ctx.caller {
        auth::Caller::Key(k) => admin::AdminCaller::Key {
            token: k.token.clone(),
            entity: std::sync::Arc::clone(&k.key),
        },
        auth::Caller::Admin | auth::Caller::Anonymous => admin::AdminCaller::Master,
    };
    let header = session.req_header();
    let (method, path, query) = (
        header.method.to_string(),
        header.uri.path().to_string(),
        header.uri.query().map(str::to_string),
    );
    let answer = admin::handle(
        &admin::AdminContext {
            store,
            directory: &gateway.directory,
            accounts: &gateway.accountant.accounts,
            caller: &caller,
            now_ms: crate::store::now_ms(),
            models: Some(gateway),
        },
        admin::AdminRequest {
            method: &method,
            path: &path,
            query: query.as_deref(),
            body: &raw,
        },
    )
    .await;
    let body = bytes::Bytes::from(answer.body.to_string());
    respond::json(session, ctx, answer.status, body, None)
        .await
        .map_err(respond::client_gone)?;
    Ok(Next::Answered)
}
