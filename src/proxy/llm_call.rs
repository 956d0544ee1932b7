//! One LLM call, top to bottom: read and parse the body once → resolve the model group → the
//! group's attempts (`group::run`: choose a deployment → translate → send → read the head →
//! retry) → fall back to other groups while nothing has been sent → deliver. The commit point
//! (`deliver::Committed`) ends the call: nothing is retried once the client got a byte.

use super::ctx::RequestCtx;
use super::group::{self, Job};
use super::{body, deliver, inbound};
use crate::canonical::request::Operation;
use crate::canonical::RequestBody;
use crate::error::GatewayError;
use crate::lifecycle::CallEvent;
use crate::router::{FailureClass, Resolved};
use crate::state::{Gateway, Snapshot};
use pingora::proxy::Session;
use std::time::Instant;

pub async fn handle(
    gateway: &Gateway,
    snapshot: &Snapshot,
    session: &mut Session,
    ctx: &mut RequestCtx,
    op: Operation,
) -> Result<(), GatewayError> {
    let raw =
        body::read_bounded(session, snapshot.max_request_bytes, snapshot.body_timeout).await?;
    let bodies = inbound::parse(raw, op, ctx.inbound)?;
    let client = bodies.client();
    let mut resolved = snapshot.models.resolve(&client.model)?;
    ctx.admitted = true;
    ctx.emit(&gateway.observers, CallEvent::Admitted);
    let job = Job {
        gateway,
        snapshot,
        op,
        estimated_tokens: estimate_tokens(client),
        deadline: Instant::now() + snapshot.call_timeout,
        bodies,
    };
    let mut fallbacks: Option<Vec<String>> = None;
    loop {
        let failure = match group::run(&job, session, ctx, &resolved).await {
            Ok(_committed) => return Ok(()),
            Err(failure) => failure,
        };
        let class = FailureClass::of(&failure.error);
        let next = next_fallback(&job, ctx, &mut fallbacks, &resolved, class);
        match next {
            Some(r) => {
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

/// The next group to fall back to, if the failure allows one and the call has fallbacks and time
/// left. Fallbacks come from the group the client asked for, as in LiteLLM: the request's own
/// list, else the configured ones for this kind of failure; at most `max_fallbacks` of them.
fn next_fallback(
    job: &Job<'_>,
    ctx: &RequestCtx,
    queue: &mut Option<Vec<String>>,
    first: &Resolved,
    class: FailureClass,
) -> Option<Resolved> {
    let policy = &job.snapshot.policy;
    if class == FailureClass::BadRequest
        || ctx.fallbacks as usize >= policy.max_fallbacks
        || Instant::now() >= job.deadline
    {
        return None;
    }
    let queue = queue.get_or_insert_with(|| {
        let params = &job.bodies.client().gateway;
        let per_request = match class {
            FailureClass::ContextWindowExceeded => params
                .context_window_fallbacks
                .as_ref()
                .or(params.fallbacks.as_ref()),
            FailureClass::ContentPolicyViolation => params
                .content_policy_fallbacks
                .as_ref()
                .or(params.fallbacks.as_ref()),
            _ => params.fallbacks.as_ref(),
        };
        let mut q: Vec<String> = match per_request {
            Some(list) => list.clone(),
            None => policy.fallbacks_for(&first.group.name, class).to_vec(),
        };
        q.truncate(policy.max_fallbacks);
        q.reverse();
        q
    });
    std::iter::from_fn(|| queue.pop()).find_map(|name| job.snapshot.models.resolve(&name).ok())
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
