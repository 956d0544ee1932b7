//! `GET /metrics`: values kept elsewhere (queues, atomics, budgets) are read at scrape time,
//! off the request path, then the registry is encoded.

use crate::state::Gateway;
use crate::store::Table;
use std::sync::atomic::Ordering;

pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub fn scrape(gateway: &Gateway) -> String {
    let m = &*gateway.metrics;
    let queue = &gateway.accountant.queue;
    m.spend_queue_depth.set(queue.depth() as i64);
    super::metrics::Metrics::catch_up(&m.spend_rows_dropped, queue.dropped());
    if let Some(redis) = &gateway.redis {
        super::metrics::Metrics::catch_up(
            &m.redis_fallbacks,
            redis.fallbacks.load(Ordering::Relaxed),
        );
    }
    m.calls_in_flight
        .set(gateway.in_flight.load(Ordering::Relaxed) as i64);
    remaining_budgets(gateway);
    m.encode()
}

/// LiteLLM's remaining-budget gauges for every key and team with a `max_budget`: what is
/// left of it after the spend settled so far (this node's and the store's). Rebuilt each
/// scrape, so a deleted key's series goes away.
fn remaining_budgets(gateway: &Gateway) {
    let m = &*gateway.metrics;
    let accounts = &gateway.accountant.accounts;
    let sets = [
        (Table::Keys, &m.remaining_api_key_budget, "key_alias"),
        (Table::Teams, &m.remaining_team_budget, "team_alias"),
    ];
    for (table, gauge, alias_field) in sets {
        gauge.reset();
        for entity in gateway.directory.all(table) {
            let Some(max) = entity.doc.get("max_budget").and_then(|v| v.as_f64()) else {
                continue;
            };
            let spent = accounts.spend(table, &entity.id).unwrap_or(entity.spend);
            let alias = entity.str_field(alias_field).unwrap_or("");
            gauge
                .with_label_values(&[entity.id.as_str(), alias])
                .set(max - spent);
        }
    }
}
