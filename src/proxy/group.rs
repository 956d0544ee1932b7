//! Attempts within one model group: choose a deployment, try it, and on a failure that sent the
//! client nothing, retry on another while the policy allows. Returns `Committed` once an answer
//! (or part of one) reached the client, else the last `Failure` for the fallback loop.

use super::attempt::{self, Answer, Failure, Limits};
use super::ctx::RequestCtx;
use super::deliver::{self, Committed, StreamJob};
use super::inbound::{self, Bodies};
use crate::canonical::request::Operation;
use crate::canonical::Usage;
use crate::error::GatewayError;
use crate::lifecycle::{CallEvent, ProviderRemaining, UsageSource};
use crate::limits;
use crate::providers::{self, mock_response, Call, Wire};
use crate::router::policy::MAX_RETRY_AFTER_WAIT;
use crate::router::strategy::PickInput;
use crate::router::{self, Deployment, FailureClass, Resolved};
use crate::state::{Gateway, Snapshot};
use crate::telemetry::observer;
use pingora::proxy::Session;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What every attempt of one call shares.
pub struct Job<'a> {
    pub gateway: &'a Gateway,
    pub snapshot: &'a Snapshot,
    pub op: Operation,
    pub bodies: Bodies,
    pub estimated_tokens: u64,
    /// The end of the whole call, over all attempts, retries and fallbacks.
    pub deadline: Instant,
    /// This call's own `timeout` (body, or the `x-litellm-timeout` header), over the
    /// deployment's.
    pub timeout: Option<Duration>,
    /// LiteLLM's test switches, when this caller may use them.
    pub mock_testing: MockTesting,
}

/// LiteLLM's request params that make a call fail on purpose, to test fallbacks and retries.
#[derive(Default, Clone, Copy)]
pub struct MockTesting {
    /// The asked-for group fails (every attempt), so its fallbacks run.
    pub fallbacks: bool,
    /// The first attempt gets a 429, so it is retried.
    pub rate_limit_error: bool,
    /// Every attempt times out.
    pub timeout: bool,
}

/// Counts this attempt against its deployment's `rpm` / `tpm` (on the shared Redis when there
/// is one); `false` when the deployment is at its limit and another must be chosen. The
/// previous attempt's count ends here: it used no tokens.
async fn take_deployment_limits(
    job: &Job<'_>,
    ctx: &mut RequestCtx,
    deployment: &Deployment,
) -> bool {
    let limiter = &job.gateway.limiter;
    if let Some(previous) = ctx.limits.deployment.take() {
        limiter.finish(previous, Some(0));
    }
    let limits = limits::plan::for_deployment(&deployment.id, deployment.rpm, deployment.tpm);
    if limits.is_empty() {
        return true;
    }
    match limiter
        .take(&ctx.call_id, limits, job.estimated_tokens, 0)
        .await
    {
        Ok(taken) => {
            ctx.limits.deployment = Some(taken);
            true
        }
        Err(_) => false,
    }
}

pub async fn run(
    job: &Job<'_>,
    session: &mut Session,
    ctx: &mut RequestCtx,
    resolved: &Resolved,
) -> Result<Committed, Failure> {
    let (snapshot, policy) = (job.snapshot, &job.snapshot.policy);
    let client = job.bodies.client();
    let group = &resolved.group;
    ctx.group = Some(Arc::clone(&resolved.group_name));
    if ctx.requested_group.is_none() {
        ctx.requested_group = Some(Arc::clone(&resolved.group_name));
    }
    if group.deployments.is_empty() {
        return Err(no_usable_deployment(&client.model, group).into());
    }
    if policy.pre_call_checks
        && group
            .deployments
            .iter()
            .all(|d| !d.fits(job.estimated_tokens))
    {
        return Err(GatewayError::bad_request(format!(
            "Context Window Exceeded: the request's estimated {} tokens exceed the max_input_tokens of every deployment of model group {}",
            job.estimated_tokens, group.name
        ))
        .into());
    }
    let mut tried: Vec<Arc<Deployment>> = Vec::new();
    let mut full: Vec<Arc<Deployment>> = Vec::new();
    let mut retries = 0;
    loop {
        let input = PickInput {
            stream: client.stream,
            estimated_tokens: job.estimated_tokens,
            now: Instant::now(),
        };
        let deployment = router::choose_among(group, policy, &tried, &full, &input)
            .map_err(|none| router::no_deployment_error(&client.model, policy, &none))?;
        if !take_deployment_limits(job, ctx, &deployment).await {
            full.push(deployment);
            continue;
        }
        ctx.deployment = Some(Arc::clone(&deployment));
        let requested_mock = client
            .gateway
            .mock_response
            .as_ref()
            .and_then(|v| v.as_str());
        if let Some(text) = requested_mock.or(deployment.mock_response.as_deref()) {
            return answer_locally(job, session, ctx, text).await;
        }
        let left = job.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(call_deadline_passed(job, &group.name).into());
        }
        let wire = deployment.provider.wire;
        let upstream_model = upstream_model(&deployment, resolved, wire)?;
        let (body, native) = job.bodies.for_wire(wire)?;
        let call = Call {
            op: job.op,
            body,
            deployment: &deployment,
            upstream_model: &upstream_model,
            alias: &client.model,
            group: &group.name,
            drop_params: body
                .gateway
                .drop_params
                .or(deployment.drop_params)
                .unwrap_or(snapshot.config.litellm.drop_params),
            native,
        };
        let timeout = job
            .timeout
            .or(deployment.timeout)
            .unwrap_or(snapshot.default_timeout);
        ctx.timeout_used = Some(timeout);
        ctx.max_retries_used = Some(client.gateway.num_retries.unwrap_or(policy.num_retries));
        let limits = Limits {
            total: timeout.min(left),
            stream: deployment
                .stream_timeout
                .or(snapshot.default_stream_timeout)
                .unwrap_or(timeout)
                .min(left),
            max_response_bytes: snapshot.max_response_bytes,
        };
        let state = &deployment.state;
        let _in_flight = state.start_call();
        state.record_request(input.now);
        state.record_tokens(job.estimated_tokens, input.now);
        ctx.outcome.attempts = ctx.outcome.attempts.saturating_add(1);
        ctx.emit(
            &job.gateway.observers,
            CallEvent::AttemptStarted {
                deployment: &deployment,
            },
        );
        // The attempt's span, and the `traceparent` naming it for the provider.
        let trace_headers = match ctx.trace.as_mut() {
            Some(trace) => {
                let retry = u32::try_from(retries).unwrap_or(u32::MAX);
                let (group_name, fallback) = (&resolved.group_name, ctx.fallbacks);
                trace.attempt_started(&deployment, &upstream_model, group_name, retry, fallback);
                trace.upstream_headers()
            }
            None => Vec::new(),
        };
        let sent_at = Instant::now();
        let mocked = mock_failure(job, ctx, retries, &call);
        let is_mock = mocked.is_some();
        let outcome = match mocked {
            Some(failure) => Err(failure),
            None => tokio::select! {
                outcome = attempt::call(job.gateway, &call, &limits, &trace_headers) => outcome,
                () = deliver::client_gone(session) => return Ok(deliver::client_left(ctx)),
            },
        };
        ctx.upstream_time += sent_at.elapsed();
        if let Ok(Answer::Whole { response, .. } | Answer::Stream { response }) = &outcome {
            ctx.outcome.provider_remaining =
                ProviderRemaining::from_headers(&response.header().headers);
        }
        let result = match outcome {
            Ok(Answer::Whole {
                status,
                body,
                response,
            }) => {
                state.record_latency(sent_at.elapsed(), false);
                attempt_ended(job, ctx, &deployment, None, status, sent_at);
                let usage = match providers::for_wire(wire).answer_usage(&call, &body) {
                    Some(u) => (u, UsageSource::Provider),
                    None => (deliver::estimated_usage(&call), UsageSource::Estimate),
                };
                let body = if native {
                    body
                } else {
                    inbound::whole_answer(ctx.inbound, body, &client.model)?
                };
                let committed = deliver::whole(
                    job.gateway,
                    session,
                    ctx,
                    status,
                    body,
                    Some(response),
                    Some(usage),
                )
                .await;
                return Ok(committed);
            }
            Ok(Answer::Stream { response }) => {
                let outer = (!native)
                    .then(|| inbound::outer_stream(ctx.inbound, &client.model))
                    .flatten();
                let translator = if native {
                    providers::native_stream(wire)
                } else {
                    deliver::translator_for(&call, outer)
                };
                let stream_job = StreamJob {
                    call: &call,
                    deployment: &deployment,
                    translator,
                    idle_timeout: limits.stream,
                    sent_at,
                };
                deliver::stream(job.gateway, session, ctx, stream_job, response).await
            }
            Err(failure) => Err(failure),
        };
        let failure = match result {
            Ok(committed) => {
                attempt_ended(job, ctx, &deployment, None, 200, sent_at);
                return Ok(committed);
            }
            Err(failure) => failure,
        };
        let class = FailureClass::of(&failure.error);
        attempt_ended(
            job,
            ctx,
            &deployment,
            Some(class),
            failure.error.status,
            sent_at,
        );
        // A failure asked for by the test params says nothing about the deployment.
        if !is_mock {
            let size = group.deployments.len();
            if policy.record_failure(state, class, size, Instant::now()) {
                observer::count_cooldown(&job.gateway.metrics, &deployment, failure.error.status);
            }
        }
        log::debug!(
            "call {}: deployment {} failed: {}",
            ctx.call_id,
            deployment.id,
            failure.error
        );
        let allowed = client
            .gateway
            .num_retries
            .unwrap_or_else(|| policy.retries_for(class));
        if retries >= allowed {
            return Err(failure);
        }
        retries += 1;
        ctx.retries += 1;
        tried.push(Arc::clone(&deployment));
        let wait = retry_wait(
            group.deployments.len(),
            &tried,
            &failure,
            retries,
            policy.retry_after_min,
        );
        if Instant::now() + wait >= job.deadline {
            return Err(failure);
        }
        if !wait.is_zero() {
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = deliver::client_gone(session) => return Ok(deliver::client_left(ctx)),
            }
        }
    }
}

/// The failure LiteLLM's test params ask for on this attempt, if any (never sent upstream).
fn mock_failure(job: &Job<'_>, ctx: &RequestCtx, retries: u64, call: &Call<'_>) -> Option<Failure> {
    let m = job.mock_testing;
    let (group, model) = (call.group, call.alias);
    let error = if m.timeout {
        GatewayError::timeout(group, "mock_timeout", 0.0)
    } else if m.fallbacks && ctx.fallbacks == 0 {
        GatewayError::new(
            500,
            "internal_server_error",
            format!("litellm.InternalServerError: This is a mock exception for model={model}, to trigger a fallback. Received Model Group={group}"),
        )
    } else if m.rate_limit_error && retries == 0 && ctx.fallbacks == 0 {
        GatewayError::new(
            429,
            "rate_limit_error",
            format!("litellm.RateLimitError: This is a mock rate limit error for model={model}. Received Model Group={group}"),
        )
    } else {
        return None;
    };
    Some(error.into())
}

fn attempt_ended(
    job: &Job<'_>,
    ctx: &mut RequestCtx,
    deployment: &Arc<Deployment>,
    failure: Option<FailureClass>,
    status: u16,
    sent_at: Instant,
) {
    if let Some(trace) = ctx.trace.as_mut() {
        trace.attempt_ended(status, failure);
    }
    ctx.emit(
        &job.gateway.observers,
        CallEvent::AttemptEnded {
            deployment,
            failure,
            status,
            latency: sent_at.elapsed(),
        },
    );
}

/// A group whose every entry was left out by the config: the caller learns why, as a 400.
fn no_usable_deployment(alias: &str, group: &router::ModelGroup) -> GatewayError {
    let reasons: Vec<&str> = group.left_out.iter().map(|l| l.reason.as_str()).collect();
    GatewayError::bad_request(format!(
        "model={alias} has no usable deployment: {}",
        reasons.join("; ")
    ))
    .with_param("model")
}

pub fn call_deadline_passed(job: &Job<'_>, group: &str) -> GatewayError {
    let total = job.snapshot.call_timeout.as_secs_f64();
    GatewayError::timeout(group, "Router", total)
}

/// The provider's model name for this call: a wildcard deployment's `*` filled with what the
/// client asked for. Where the provider puts the model in its URL, what the client sent must be
/// a plain name: no path segments, query or fragment reach the provider from a client.
fn upstream_model(
    deployment: &Deployment,
    resolved: &Resolved,
    wire: Wire,
) -> Result<String, GatewayError> {
    let Some(captured) = &resolved.wildcard else {
        return Ok(deployment.model.clone());
    };
    if wire.model_in_url() && !crate::upstream::path::is_plain_name(captured) {
        return Err(GatewayError::bad_request(format!(
            "Invalid model name passed in model={captured}: this model group's provider takes a plain model name (letters, digits, '.', '-', '_', ':', '@')"
        ))
        .with_param("model"));
    }
    Ok(deployment.model.replacen('*', captured, 1))
}

/// How long to wait before the next attempt: nothing when another deployment is left to try;
/// otherwise the provider's short `retry-after`, or a brief exponential backoff.
fn retry_wait(
    group_size: usize,
    tried: &[Arc<Deployment>],
    failure: &Failure,
    retries: u64,
    min: Duration,
) -> Duration {
    let untried_left = tried.len() < group_size;
    if untried_left {
        return min;
    }
    let backoff = Duration::from_millis(50 << retries.min(4));
    let wait = match failure.retry_after {
        Some(ra) if ra <= MAX_RETRY_AFTER_WAIT => ra,
        _ => backoff,
    };
    wait.max(min)
}

async fn answer_locally(
    job: &Job<'_>,
    session: &mut Session,
    ctx: &mut RequestCtx,
    text: &str,
) -> Result<Committed, Failure> {
    let request = job.bodies.canonical()?;
    let model = &job.bodies.client().model;
    match mock_response::answer(job.op, request, model, text, &ctx.call_id) {
        mock_response::MockAnswer::Whole(body) => {
            let usage = Usage::from_openai_body(&body).map(|u| (u, UsageSource::Provider));
            let body = inbound::whole_answer(ctx.inbound, body, model)?;
            Ok(deliver::whole(job.gateway, session, ctx, 200, body, None, usage).await)
        }
        mock_response::MockAnswer::Stream(events) => {
            let outer = inbound::outer_stream(ctx.inbound, model);
            let translator: Box<dyn providers::StreamTranslator> = match outer {
                Some(outer) => Box::new(providers::Chained::new(
                    Box::new(providers::Untouched),
                    outer,
                )),
                None => Box::new(providers::Untouched),
            };
            ctx.outcome.usage_source = UsageSource::Provider;
            Ok(deliver::local_stream(session, ctx, events, translator).await)
        }
    }
}
