//! Whether a caller may make this call, before any provider is called: a virtual key's model
//! access, then a hold on every budget the call counts toward (the worst case it may cost).
//! What the call's spend row will need is noted in `ctx.spend` here.

use super::ctx::RequestCtx;
use crate::auth::{keys, Caller};
use crate::canonical::request::Operation;
use crate::canonical::RequestBody;
use crate::error::GatewayError;
use crate::limits::headers;
use crate::limits::plan::{self, GatewayLimits};
use crate::router::Resolved;
use crate::spend::ledger;
use crate::state::{Gateway, Snapshot};
use std::sync::atomic::Ordering;

/// Output tokens assumed for a model whose longest answer is unknown and the request sets no
/// `max_tokens`.
const UNKNOWN_MAX_OUTPUT_TOKENS: u64 = 4096;

pub async fn admit(
    gateway: &Gateway,
    snapshot: &Snapshot,
    ctx: &mut RequestCtx,
    client: &RequestBody,
    resolved: &Resolved,
    op: Operation,
    prompt_tokens: u64,
    estimated_tokens: u64,
) -> Result<(), GatewayError> {
    let key = match &ctx.caller {
        Caller::Key(k) => Some(k.clone()),
        _ => None,
    };
    if let Some(k) = &key {
        keys::may_use_model(&gateway.directory, k, &client.model, |g| {
            snapshot.access_groups_of(g)
        })?;
    }
    let end_user: Option<String> = client.get("user").ok().flatten();
    take_limits(
        gateway,
        snapshot,
        ctx,
        client,
        end_user.as_deref(),
        estimated_tokens,
    )
    .await?;
    let owners = match &key {
        Some(k) => ledger::owners(&gateway.directory, Some(&k.key), end_user.as_deref()),
        None => ledger::owners(&gateway.directory, None, end_user.as_deref()),
    };
    let reservation = if owners.is_empty() {
        None
    } else {
        let amount = worst_case_cost(client, resolved, op, prompt_tokens);
        let status = snapshot.config.litellm.budget_exceeded_status_code;
        let held = ledger::reserve(&gateway.accountant.accounts, owners, amount, status);
        let held = match held {
            Ok(held) => held,
            Err(e) => return Err(give_back_limits(gateway, ctx, e)),
        };
        // This node's memory admits it; other nodes' calls are seen only in a shared store.
        if let Some(shared) = &gateway.accountant.shared {
            let hold = shared.hold(&ctx.call_id, held.owners(), amount, status);
            if let Err(e) = hold.await {
                return Err(give_back_limits(gateway, ctx, e));
            }
        }
        Some(held)
    };
    gateway.in_flight.fetch_add(1, Ordering::AcqRel);
    let spend = &mut ctx.spend;
    spend.key = key;
    spend.reservation = reservation;
    spend.end_user = end_user;
    spend.tags = client.gateway.tags.clone().unwrap_or_default();
    spend.metadata = client.gateway.metadata.clone();
    spend.call_type = match op {
        Operation::Chat => "acompletion",
        Operation::Completion => "atext_completion",
        Operation::Embedding => "aembedding",
    };
    spend.started_ms = crate::store::now_ms();
    if snapshot.config.general.store.store_prompts_in_spend_logs {
        spend.keep_prompts = true;
        spend.messages = ["messages", "prompt", "input"]
            .iter()
            .find_map(|k| client.get::<serde_json::Value>(k).ok().flatten());
    }
    if let Some(k) = &spend.key {
        spend.key_spend_before = gateway
            .accountant
            .accounts
            .get(crate::store::Table::Keys, &k.token)
            .spent();
    }
    spend.accounted = true;
    Ok(())
}

/// Takes the caller's rate limits (one Redis round trip when shared); a refusal's headers go
/// on its answer.
async fn take_limits(
    gateway: &Gateway,
    snapshot: &Snapshot,
    ctx: &mut RequestCtx,
    client: &RequestBody,
    end_user: Option<&str>,
    estimated_tokens: u64,
) -> Result<(), GatewayError> {
    let key = match &ctx.caller {
        Caller::Key(k) => Some(k),
        _ => None,
    };
    let gateway_limits = GatewayLimits {
        max_parallel_requests: snapshot.config.general.max_parallel_requests,
    };
    let limits = plan::for_call(
        &gateway.directory,
        key,
        end_user,
        &client.model,
        &gateway_limits,
    );
    if limits.is_empty() {
        return Ok(());
    }
    let hold_ms = (snapshot.call_timeout + LIMIT_HOLD_MARGIN).as_millis() as u64;
    match gateway
        .limiter
        .take(&ctx.call_id, limits, estimated_tokens, hold_ms)
        .await
    {
        Ok(taken) => {
            ctx.limits.headers = headers::admitted(&taken);
            ctx.limits.taken = Some(taken);
            Ok(())
        }
        Err(denied) => {
            ctx.limits.headers = headers::refused(&denied);
            Err(denied.error())
        }
    }
}

/// A call refused after its limits were taken gives them back.
fn give_back_limits(gateway: &Gateway, ctx: &mut RequestCtx, e: GatewayError) -> GatewayError {
    if let Some(taken) = ctx.limits.taken.take() {
        gateway.limiter.release(taken);
    }
    ctx.limits.headers.clear();
    e
}

/// At the call's end: its slots in flight back, its token estimates replaced by its usage.
pub fn finish_limits(gateway: &Gateway, ctx: &mut RequestCtx) {
    let used = ctx.outcome.usage.map(|u| u.total_tokens);
    if let Some(taken) = ctx.limits.taken.take() {
        gateway.limiter.finish(taken, used);
    }
    if let Some(taken) = ctx.limits.deployment.take() {
        gateway.limiter.finish(taken, used);
    }
}

/// A call in flight whose node died stops counting this long after its deadline.
const LIMIT_HOLD_MARGIN: std::time::Duration = std::time::Duration::from_secs(30);

/// The most this call may cost on the priciest deployment of its group: the prompt estimate
/// plus its longest possible answer (`max_tokens`, else the model's limit).
fn worst_case_cost(client: &RequestBody, resolved: &Resolved, op: Operation, prompt: u64) -> f64 {
    let requested: Option<u64> = ["max_tokens", "max_completion_tokens", "max_output_tokens"]
        .iter()
        .find_map(|k| client.get::<u64>(k).ok().flatten());
    resolved
        .group
        .deployments
        .iter()
        .map(|d| {
            let output = match op {
                Operation::Embedding => 0,
                _ => requested
                    .or(d.price.max_output_tokens)
                    .unwrap_or(UNKNOWN_MAX_OUTPUT_TOKENS),
            };
            d.price.worst_case(prompt, output)
        })
        .fold(0.0, f64::max)
}
