//! Whether a caller may make this call, before any provider is called: a virtual key's model
//! access, then a hold on every budget the call counts toward (the worst case it may cost).
//! What the call's spend row will need is noted in `ctx.spend` here.

use super::ctx::RequestCtx;
use crate::auth::{keys, Caller};
use crate::canonical::request::Operation;
use crate::canonical::RequestBody;
use crate::error::GatewayError;
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
) -> Result<(), GatewayError> {
    let key = match &ctx.caller {
        Caller::Key(k) => Some(k.clone()),
        _ => None,
    };
    if let Some(k) = &key {
        keys::may_use_model(&gateway.directory, k, &client.model, |_| &[])?;
    }
    let end_user: Option<String> = client.get("user").ok().flatten();
    let owners = match &key {
        Some(k) => ledger::owners(&gateway.directory, Some(&k.key), end_user.as_deref()),
        None => ledger::owners(&gateway.directory, None, end_user.as_deref()),
    };
    let reservation = if owners.is_empty() {
        None
    } else {
        let amount = worst_case_cost(client, resolved, op, prompt_tokens);
        let status = snapshot.config.litellm.budget_exceeded_status_code;
        let held = ledger::reserve(&gateway.accountant.accounts, owners, amount, status)?;
        // This node's memory admits it; other nodes' calls are seen only in a shared store.
        if let Some(shared) = &gateway.accountant.shared {
            shared
                .hold(&ctx.call_id, held.owners(), amount, status)
                .await?;
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
