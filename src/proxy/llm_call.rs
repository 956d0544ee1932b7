//! One LLM call, top to bottom: read and parse the body once → resolve the model group → admit
//! → the response cache (a hit ends the call here) → the group's attempts (`group::run`: choose
//! a deployment → translate → send → read the head → retry) → fall back to other groups while
//! nothing has been sent → deliver. The commit point (`deliver::Committed`) ends the call:
//! nothing is retried once the client got a byte.

use super::ctx::Inbound;
use super::ctx::RequestCtx;
use super::group::{self, Job, MockTesting};
use super::{admit, batch, body, cached, deliver, inbound};
use crate::canonical::gateway_params::GatewayParams;
use crate::canonical::request::Operation;
use crate::canonical::RequestBody;
use crate::error::GatewayError;
use crate::lifecycle::CallEvent;
use crate::router::{FailureClass, Resolved};
use crate::state::{Gateway, Snapshot};
use pingora::proxy::Session;
use std::time::{Duration, Instant};

pub async fn handle(
    gateway: &Gateway,
    snapshot: &Snapshot,
    session: &mut Session,
    ctx: &mut RequestCtx,
    op: Operation,
) -> Result<(), GatewayError> {
    let raw =
        body::read_bounded(session, snapshot.max_request_bytes, snapshot.body_timeout).await?;
    let mut bodies = inbound::parse(raw, op, ctx.inbound)?;
    let client = bodies.client();
    if let Some(trace) = ctx.trace.as_mut() {
        trace.set_requested_model(&client.model);
    }
    if ctx.inbound == Inbound::OpenAi {
        if let Some(aliases) = batch::aliases(snapshot, &client.model) {
            return batch::answer(gateway, snapshot, session, ctx, op, client, aliases).await;
        }
    }
    let team = ctx.caller_team();
    let mut resolved = snapshot.resolve_for(team, ctx.master_caller, &client.model)?;
    let prompt_tokens = client.raw().len() as u64 / 4;
    let estimated_tokens = estimate_tokens(client);
    admit::admit(
        gateway,
        snapshot,
        ctx,
        client,
        &resolved,
        op,
        prompt_tokens,
        estimated_tokens,
    )
    .await?;
    ctx.admitted = true;
    ctx.emit(&gateway.observers, CallEvent::Admitted);
    // A cache hit answers here, before any deployment is chosen.
    if cached::answered(gateway, snapshot, session, ctx, op, &mut bodies, &resolved).await? {
        return Ok(());
    }
    let client = bodies.client();
    let timeout = requested_timeout(session, client)?;
    let mock_testing = mock_testing(snapshot, ctx, client);
    let job = Job {
        gateway,
        snapshot,
        op,
        estimated_tokens,
        deadline: Instant::now() + snapshot.call_timeout.max(timeout.unwrap_or_default()),
        timeout,
        mock_testing,
        bodies,
    };
    let mut fallbacks: Option<Vec<String>> = None;
    loop {
        let outcome = group::run(&job, session, ctx, &resolved).await;
        if let Some(cause) = ctx.outcome.fallback_cause {
            let event = CallEvent::FallbackTried {
                to_group: &resolved.group_name,
                deployment: ctx.deployment.as_ref(),
                succeeded: outcome.is_ok(),
                cause,
            };
            gateway.observers.emit(&ctx.call_info(), &event);
        }
        let failure = match outcome {
            Ok(_committed) => {
                cached::finish(ctx).await;
                return Ok(());
            }
            Err(failure) => failure,
        };
        let class = FailureClass::of(&failure.error);
        let next = next_fallback(&job, ctx, &mut fallbacks, &resolved, class);
        match next {
            Some(r) => {
                if ctx.outcome.fallback_cause.is_none() {
                    let provider = ctx.deployment.as_ref().map(|d| d.provider.name);
                    ctx.outcome.fallback_cause = Some((failure.error.status, class, provider));
                }
                ctx.fallbacks += 1;
                resolved = r;
            }
            None => {
                let _over = deliver::failure(session, ctx, &failure).await;
                return Ok(());
            }
        }
    }
}

/// This call's own timeout: the `x-litellm-timeout` header, else the body's `timeout`.
fn requested_timeout(
    session: &Session,
    client: &RequestBody,
) -> Result<Option<Duration>, GatewayError> {
    let header = session.req_header().headers.get("x-litellm-timeout");
    let secs = match header {
        Some(v) => {
            let secs = v.to_str().ok().and_then(|s| s.trim().parse::<f64>().ok());
            match secs.filter(|s| s.is_finite() && *s > 0.0) {
                Some(s) => Some(s),
                None => {
                    return Err(GatewayError::bad_request(
                        "x-litellm-timeout must be a positive number of seconds",
                    ))
                }
            }
        }
        None => client.gateway.timeout,
    };
    Ok(secs.map(crate::duration::from_secs))
}

/// LiteLLM's test switches, honoured for the master key or when the config allows them for all
/// callers (`dangerously_allow_mock_testing_request_params`); otherwise read and dropped.
fn mock_testing(snapshot: &Snapshot, ctx: &RequestCtx, client: &RequestBody) -> MockTesting {
    let allowed = ctx.master_caller || snapshot.config.general.allow_mock_testing_params;
    let p = &client.gateway;
    let on = |flag: Option<bool>| allowed && flag.unwrap_or(false);
    MockTesting {
        fallbacks: on(p.mock_testing_fallbacks),
        rate_limit_error: on(p.mock_testing_rate_limit_error),
        timeout: on(p.mock_timeout),
    }
}

/// The next group to fall back to, if the failure allows one and the call has fallbacks and time
/// left.
fn next_fallback(
    job: &Job<'_>,
    ctx: &RequestCtx,
    queue: &mut Option<Vec<String>>,
    first: &Resolved,
    class: FailureClass,
) -> Option<Resolved> {
    let policy = &job.snapshot.policy;
    let deadline_passed = Instant::now() >= job.deadline;
    if !may_fall_back(
        class,
        ctx.fallbacks as usize,
        policy.max_fallbacks,
        deadline_passed,
    ) {
        return None;
    }
    let queue = queue.get_or_insert_with(|| {
        let configured = policy.fallbacks_for(&first.group.name, class);
        fallback_queue(
            &job.bodies.client().gateway,
            configured,
            class,
            policy.max_fallbacks,
        )
    });
    std::iter::from_fn(|| queue.pop()).find_map(|name| job.snapshot.models.resolve(&name).ok())
}

/// A bad request fails the same everywhere; otherwise at most `max` fallbacks, within the
/// call's deadline.
fn may_fall_back(class: FailureClass, done: usize, max: usize, deadline_passed: bool) -> bool {
    class != FailureClass::BadRequest && done < max && !deadline_passed
}

/// The groups to try, last first (popped from the end). Fallbacks come from the group the
/// client asked for, as in LiteLLM: the request's own list for this kind of failure, else the
/// configured one; at most `max` of them.
fn fallback_queue(
    params: &GatewayParams,
    configured: &[String],
    class: FailureClass,
    max: usize,
) -> Vec<String> {
    let per_request = match class {
        FailureClass::ContextWindowExceeded => params.context_window_fallbacks.as_ref(),
        FailureClass::ContentPolicyViolation => params.content_policy_fallbacks.as_ref(),
        _ => None,
    }
    .or(params.fallbacks.as_ref());
    let mut q: Vec<String> = per_request.map_or_else(|| configured.to_vec(), Clone::clone);
    q.truncate(max);
    q.reverse();
    q
}

/// Prompt bytes / 4 (tokenizers average about four bytes a token) plus the requested output,
/// saturating: a `max_tokens` near `u64::MAX` must not wrap a usage counter.
fn estimate_tokens(request: &RequestBody) -> u64 {
    let prompt = request.raw().len() as u64 / 4;
    let output = ["max_tokens", "max_completion_tokens"]
        .iter()
        .find_map(|key| {
            let v: serde_json::Value = request.get(key).ok().flatten()?;
            v.as_u64().or_else(|| {
                v.as_f64().filter(|f| f.is_finite() && *f > 0.0).map(|f| {
                    if f >= u64::MAX as f64 {
                        u64::MAX
                    } else {
                        f as u64
                    }
                })
            })
        })
        .unwrap_or(0);
    prompt.saturating_add(output)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn per_request_fallbacks_win_and_are_capped() {
        let params = GatewayParams {
            fallbacks: Some((0..50).map(|i| format!("g{i}")).collect()),
            ..GatewayParams::default()
        };
        let q = fallback_queue(&params, &names(&["configured"]), FailureClass::RateLimit, 5);
        assert_eq!(q, names(&["g4", "g3", "g2", "g1", "g0"]));
        let none = GatewayParams::default();
        let q = fallback_queue(&none, &names(&["a", "b"]), FailureClass::RateLimit, 5);
        assert_eq!(q, names(&["b", "a"]));
    }

    #[test]
    fn failure_kinds_pick_their_own_list() {
        let params = GatewayParams {
            fallbacks: Some(names(&["generic"])),
            context_window_fallbacks: Some(names(&["bigger"])),
            ..GatewayParams::default()
        };
        let q = fallback_queue(&params, &[], FailureClass::ContextWindowExceeded, 5);
        assert_eq!(q, names(&["bigger"]));
        let q = fallback_queue(&params, &[], FailureClass::ContentPolicyViolation, 5);
        assert_eq!(q, names(&["generic"]));
    }

    #[test]
    fn when_a_fallback_may_run() {
        assert!(may_fall_back(FailureClass::RateLimit, 0, 5, false));
        assert!(!may_fall_back(FailureClass::BadRequest, 0, 5, false));
        assert!(!may_fall_back(FailureClass::RateLimit, 5, 5, false));
        assert!(!may_fall_back(FailureClass::Timeout, 0, 5, true));
    }

    #[test]
    fn token_estimates_saturate() {
        let body = |max: &str| {
            RequestBody::parse(
                bytes::Bytes::from(format!(
                    r#"{{"model":"m","messages":[],"max_tokens":{max}}}"#
                )),
                Operation::Chat,
            )
            .unwrap()
        };
        assert_eq!(estimate_tokens(&body("18446744073709551615")), u64::MAX);
        assert_eq!(estimate_tokens(&body("1e30")), u64::MAX);
        assert!(estimate_tokens(&body("-5")) < 100);
    }
}
