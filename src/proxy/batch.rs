//! LiteLLM's batch across models: `"model": "gpt-4o,claude-sonnet"` asks each alias the same
//! question and answers with the list of their completions, in order (an alias that failed has
//! its error object in its place). Non-stream only; each alias gets its group's retries, not its
//! fallbacks.

use super::attempt::{self, Answer, Limits};
use super::ctx::RequestCtx;
use super::respond;
use crate::canonical::request::Operation;
use crate::canonical::RequestBody;
use crate::error::GatewayError;
use crate::providers::{mock_response, Call};
use crate::router::strategy::PickInput;
use crate::router::{self, Deployment};
use crate::state::{Gateway, Snapshot};
use crate::telemetry::observer;
use bytes::Bytes;
use pingora::proxy::Session;
use std::sync::Arc;
use std::time::Instant;

/// At most this many aliases in one batch.
const MAX_MODELS: usize = 16;

/// The aliases of a batch `model`, if it is one (and not itself a configured name).
pub fn aliases<'a>(snapshot: &Snapshot, model: &'a str) -> Option<Vec<&'a str>> {
    if !model.contains(',') || snapshot.models.resolve(model).is_ok() {
        return None;
    }
    Some(
        model
            .split(',')
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .collect(),
    )
}

pub async fn answer(
    gateway: &Gateway,
    snapshot: &Snapshot,
    session: &mut Session,
    ctx: &mut RequestCtx,
    op: Operation,
    client: &RequestBody,
    aliases: Vec<&str>,
) -> Result<(), GatewayError> {
    if client.stream {
        return Err(GatewayError::bad_request(
            "a comma-separated model (batch across models) cannot stream",
        )
        .with_param("stream"));
    }
    if aliases.is_empty() || aliases.len() > MAX_MODELS {
        return Err(
            GatewayError::bad_request(format!("a batch names 1 to {MAX_MODELS} models"))
                .with_param("model"),
        );
    }
    for alias in &aliases {
        snapshot.models.resolve(alias)?;
    }
    let deadline = Instant::now() + snapshot.call_timeout;
    let mut answers = Vec::with_capacity(aliases.len());
    for alias in aliases {
        let body = RequestBody::parse(client.with_model(alias), op)?;
        let answer = match one(gateway, snapshot, ctx, op, &body, alias, deadline).await {
            Ok(bytes) => bytes,
            Err(err) => error_object(&err),
        };
        answers.push(answer);
    }
    let mut out = Vec::with_capacity(answers.iter().map(|a| a.len() + 1).sum::<usize>() + 2);
    out.push(b'[');
    for (i, a) in answers.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(a);
    }
    out.push(b']');
    respond::json(session, ctx, 200, Bytes::from(out), None)
        .await
        .map_err(respond::client_gone)
}

/// One alias's completion, with its group's retries.
async fn one(
    gateway: &Gateway,
    snapshot: &Snapshot,
    ctx: &mut RequestCtx,
    op: Operation,
    body: &RequestBody,
    alias: &str,
    deadline: Instant,
) -> Result<Bytes, GatewayError> {
    let resolved = snapshot.models.resolve(alias)?;
    let policy = &snapshot.policy;
    let mut tried: Vec<Arc<Deployment>> = Vec::new();
    loop {
        let input = PickInput {
            stream: false,
            estimated_tokens: (body.raw().len() / 4) as u64,
            now: Instant::now(),
        };
        let deployment = router::choose(&resolved.group, policy, &tried, &input)
            .map_err(|none| router::no_deployment_error(alias, policy, &none))?;
        if let Some(text) = &deployment.mock_response {
            return match mock_response::answer(op, body, alias, text, &ctx.call_id) {
                mock_response::MockAnswer::Whole(b) => Ok(b),
                mock_response::MockAnswer::Stream(_) => Err(GatewayError::internal("no stream")),
            };
        }
        let upstream_model = match &resolved.wildcard {
            Some(captured) if deployment.provider.wire.model_in_url() => {
                if !crate::upstream::path::is_plain_name(captured) {
                    return Err(GatewayError::unknown_model(alias));
                }
                deployment.model.replacen('*', captured, 1)
            }
            Some(captured) => deployment.model.replacen('*', captured, 1),
            None => deployment.model.clone(),
        };
        let call = Call {
            op,
            body,
            deployment: &deployment,
            upstream_model: &upstream_model,
            alias,
            group: &resolved.group.name,
            drop_params: body
                .gateway
                .drop_params
                .or(deployment.drop_params)
                .unwrap_or(snapshot.config.litellm.drop_params),
            native: false,
        };
        let left = deadline.saturating_duration_since(Instant::now());
        let timeout = deployment
            .timeout
            .unwrap_or(snapshot.default_timeout)
            .min(left);
        let limits = Limits {
            total: timeout,
            stream: timeout,
            max_response_bytes: snapshot.max_response_bytes,
        };
        let state = &deployment.state;
        let _in_flight = state.start_call();
        let started = Instant::now();
        match attempt::call(gateway, &call, &limits, &[]).await {
            Ok(Answer::Whole { body, response, .. }) => {
                state.record_latency(started.elapsed(), false);
                gateway.upstream.release(response).await;
                return Ok(body);
            }
            Ok(Answer::Stream { .. }) => {
                return Err(GatewayError::internal(
                    "a batch call answered with a stream",
                ))
            }
            Err(failure) => {
                let class = router::FailureClass::of(&failure.error);
                let group_size = resolved.group.deployments.len();
                if policy.record_failure(state, class, group_size, Instant::now()) {
                    observer::count_cooldown(&gateway.metrics, &deployment, failure.error.status);
                }
                let allowed = body
                    .gateway
                    .num_retries
                    .unwrap_or_else(|| policy.retries_for(class));
                if tried.len() as u64 >= allowed || Instant::now() >= deadline {
                    return Err(failure.error);
                }
                tried.push(Arc::clone(&deployment));
            }
        }
    }
}

/// A failed alias's place in the list: OpenAI's error object.
fn error_object(err: &GatewayError) -> Bytes {
    err.to_json()
}
