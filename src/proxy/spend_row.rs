//! A call's end, for spend: hands what the request path knows to the accountant (which prices
//! it, settles its budgets and queues its row) and lets the flusher know one fewer call is out.

use super::ctx::RequestCtx;
use crate::spend::recorder::CallEnd;
use crate::state::Gateway;
use std::sync::atomic::Ordering;

pub fn finish(gateway: &Gateway, ctx: &mut RequestCtx) {
    let call = std::mem::take(&mut ctx.spend);
    let success = ctx.outcome.committed && (200..300).contains(&ctx.status);
    gateway.accountant.finish(
        call,
        CallEnd {
            request_id: &ctx.call_id,
            group: ctx.group.as_deref(),
            deployment: ctx.deployment.as_ref(),
            usage: ctx.outcome.usage,
            success,
            cache_hit: ctx.cache_hit,
        },
    );
    gateway.in_flight.fetch_sub(1, Ordering::AcqRel);
}
