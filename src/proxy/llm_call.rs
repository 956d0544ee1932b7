//! One LLM call, top to bottom: read and parse the body once → resolve the model group → the
//! attempt loop (choose a deployment → translate → send → read the head → retry, or fall back
//! to another group) → stream or return the answer. Each step is a call into its own module.

use super::attempt::{self, Answer, Deadlines, Failure};
use super::ctx::RequestCtx;
use super::inbound::{self, Bodies};
use super::{body, respond};
use crate::canonical::request::Operation;
use crate::canonical::RequestBody;
use crate::error::GatewayError;
use crate::providers::{mock_response, Call, Chained, StreamTranslator, Wire};
use crate::router::policy::MAX_RETRY_AFTER_WAIT;
use crate::router::strategy::PickInput;
use crate::router::{self, Deployment, FailureClass, Resolved};
use crate::state::{Gateway, Snapshot};
use bytes::BytesMut;
use pingora::proxy::Session;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What every attempt of one call shares.
struct Job<'a> {
    gateway: &'a Gateway,
    snapshot: &'a Snapshot,
    op: Operation,
    bodies: Bodies,
    estimated_tokens: u64,
}

pub async fn handle(
    gateway: &Gateway,
    snapshot: &Snapshot,
    session: &mut Session,
    ctx: &mut RequestCtx,
    op: Operation,
) -> Result<(), GatewayError> {
    let raw = body::read_bounded(session, snapshot.max_request_bytes).await?;
    let bodies = inbound::parse(raw, op, ctx.inbound)?;
    let request = &bodies.canonical;
    let mut resolved = snapshot.models.resolve(&request.model)?;
    let job = Job {
        gateway,
        snapshot,
        op,
        estimated_tokens: estimate_tokens(request),
        bodies,
    };
    let mut fallback_queue: Option<Vec<String>> = None;
    loop {
        let failure = match run_group(&job, session, ctx, &resolved).await {
            Ok(()) => return Ok(()),
            Err(f) => f,
        };
        let class = FailureClass::of(&failure.error);
        // Fallbacks come from the group the client asked for, as in LiteLLM: a per-request
        // `fallbacks` list, else the configured ones for this kind of failure.
        let queue = fallback_queue.get_or_insert_with(|| {
            let per_request: Option<Vec<String>> =
                job.bodies.canonical.get("fallbacks").ok().flatten();
            let mut q = per_request.unwrap_or_else(|| {
                snapshot
                    .policy
                    .fallbacks_for(&resolved.group.name, class)
                    .to_vec()
            });
            q.reverse();
            q
        });
        let next =
            std::iter::from_fn(|| queue.pop()).find_map(|name| snapshot.models.resolve(&name).ok());
        match next {
            Some(r) if class != FailureClass::BadRequest => {
                ctx.fallbacks += 1;
                resolved = r;
            }
            _ => {
                respond::error(session, ctx, &failure.error, failure.upstream_head.as_ref())
                    .await
                    .ok();
                return Ok(());
            }
        }
    }
}

/// Attempts within one model group: retries go to a different deployment while one is left.
async fn run_group(
    job: &Job<'_>,
    session: &mut Session,
    ctx: &mut RequestCtx,
    resolved: &Resolved,
) -> Result<(), Failure> {
    let (snapshot, policy, request) = (job.snapshot, &job.snapshot.policy, &job.bodies.canonical);
    let group = &resolved.group;
    ctx.group = Some(Arc::clone(&resolved.group_name));
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
    let mut retries = 0;
    loop {
        let input = PickInput {
            stream: request.stream,
            estimated_tokens: job.estimated_tokens,
            now: Instant::now(),
        };
        let deployment = router::choose(group, policy, &tried, &input)
            .map_err(|none| router::no_deployment_error(&request.model, policy, &none))?;
        ctx.deployment = Some(Arc::clone(&deployment));
        if let Some(text) = &deployment.mock_response {
            return answer_locally(session, ctx, job.op, request, text)
                .await
                .map_err(Failure::from);
        }
        let upstream_model = match &resolved.wildcard {
            Some(captured) => deployment.model.replacen('*', captured, 1),
            None => deployment.model.clone(),
        };
        // An Anthropic client calling an Anthropic deployment: its body goes as it is.
        let native = job
            .bodies
            .native
            .as_ref()
            .filter(|_| deployment.provider.wire == Wire::Anthropic);
        let call = Call {
            op: job.op,
            body: native.unwrap_or(request),
            deployment: &deployment,
            upstream_model: &upstream_model,
            alias: &request.model,
            group: &group.name,
            drop_params: drop_params(request, &deployment, snapshot),
            native: native.is_some(),
        };
        let timeout = deployment.timeout.unwrap_or(snapshot.default_timeout);
        let deadlines = Deadlines {
            total: timeout,
            stream: deployment
                .stream_timeout
                .or(snapshot.default_stream_timeout)
                .unwrap_or(timeout),
        };
        let state = &deployment.state;
        let _in_flight = state.start_call();
        state.record_request(input.now);
        state.record_tokens(job.estimated_tokens, input.now);
        let sent_at = Instant::now();
        let outcome = attempt::call(job.gateway, &call, request.stream, &deadlines).await;
        ctx.upstream_time += sent_at.elapsed();
        let translate_back = !call.native;
        match outcome {
            Ok(Answer::Whole {
                status,
                body,
                response,
            }) => {
                state.record_latency(sent_at.elapsed(), false);
                let body = if translate_back {
                    inbound::whole_answer(ctx.inbound, body, &request.model)?
                } else {
                    body
                };
                return attempt::send_whole(job.gateway, session, ctx, status, body, response)
                    .await
                    .map_err(Failure::from);
            }
            Ok(Answer::Stream { response }) => {
                let outer = if translate_back {
                    inbound::outer_stream(ctx.inbound, &request.model)
                } else {
                    None
                };
                let result = attempt::stream_back(
                    job.gateway,
                    session,
                    ctx,
                    &call,
                    response,
                    deadlines.stream,
                    outer,
                )
                .await;
                return result.map_err(Failure::from);
            }
            Err(failure) => {
                let class = FailureClass::of(&failure.error);
                policy.record_failure(state, class, group.deployments.len(), Instant::now());
                log::debug!(
                    "call {}: deployment {} failed: {}",
                    ctx.call_id,
                    deployment.id,
                    failure.error
                );
                if retries >= policy.retries_for(class) {
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
                if !wait.is_zero() {
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
}

/// The request's `drop_params`, else the deployment's, else `litellm_settings`'.
fn drop_params(request: &RequestBody, deployment: &Deployment, snapshot: &Snapshot) -> bool {
    request
        .get::<bool>("drop_params")
        .ok()
        .flatten()
        .or(deployment.drop_params)
        .unwrap_or(snapshot.config.litellm.drop_params)
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

/// Prompt bytes / 4 (tokenizers average about four bytes a token) plus the requested output.
fn estimate_tokens(request: &RequestBody) -> u64 {
    let prompt = request.raw().len() as u64 / 4;
    let output: u64 = request
        .get::<u64>("max_tokens")
        .ok()
        .flatten()
        .or_else(|| request.get::<u64>("max_completion_tokens").ok().flatten())
        .unwrap_or(0);
    prompt + output
}

async fn answer_locally(
    session: &mut Session,
    ctx: &mut RequestCtx,
    op: Operation,
    request: &RequestBody,
    text: &str,
) -> Result<(), GatewayError> {
    match mock_response::answer(op, request, &request.model, text, &ctx.call_id) {
        mock_response::MockAnswer::Whole(body) => {
            let body = inbound::whole_answer(ctx.inbound, body, &request.model)?;
            respond::json(session, ctx, 200, body, None)
                .await
                .map_err(attempt::client_gone)
        }
        mock_response::MockAnswer::Stream(events) => {
            respond::stream_head(session, ctx, None)
                .await
                .map_err(attempt::client_gone)?;
            let mut translator: Box<dyn StreamTranslator> =
                match inbound::outer_stream(ctx.inbound, &request.model) {
                    Some(outer) => {
                        Box::new(Chained::new(Box::new(crate::providers::Untouched), outer))
                    }
                    None => Box::new(crate::providers::Untouched),
                };
            let mut out = BytesMut::new();
            for e in events {
                translator.feed(&e, &mut out);
            }
            translator.finish(&mut out);
            session
                .write_response_body(Some(out.freeze()), true)
                .await
                .map_err(attempt::client_gone)
        }
    }
}
