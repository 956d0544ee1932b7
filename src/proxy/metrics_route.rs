//! `GET /metrics`: values kept elsewhere (queues, atomics, budgets) are read at scrape time,
//! off the request path, then the gateway's registry is encoded.

use super::ctx::RequestCtx;
use super::respond;
use crate::auth;
use crate::error::GatewayError;
use crate::state::{Gateway, Snapshot};
use crate::store::Table;
use crate::telemetry::metrics::Metrics;
use pingora::proxy::Session;
use std::sync::atomic::Ordering;

/// `GET /metrics`: 404 unless the `prometheus` callback is configured (as on a LiteLLM proxy
/// without it); a key (any the gateway accepts) unless `require_auth_for_metrics_endpoint`
/// is false.
pub async fn serve(
    gateway: &Gateway,
    snapshot: &Snapshot,
    session: &mut Session,
    ctx: &mut RequestCtx,
) -> Result<(), GatewayError> {
    if !snapshot.metrics_enabled {
        let path = session.req_header().uri.path();
        return Err(GatewayError::not_found(format!("Route {path} not found")));
    }
    if snapshot.metrics_require_auth {
        auth::authenticate(
            snapshot.master_key.as_ref(),
            &gateway.directory,
            &session.req_header().headers,
            auth::KeyPlaces::default(),
            crate::store::now_ms(),
        )?;
    }
    let body = bytes::Bytes::from(scrape(gateway));
    respond::whole(session, ctx, 200, CONTENT_TYPE, body, None)
        .await
        .map_err(respond::client_gone)?;
    Ok(())
}

const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

fn scrape(gateway: &Gateway) -> String {
    let m = &*gateway.metrics;
    // Scrapes one at a time, so two never bring the same counter up to its total twice.
    let _one_at_a_time = m.scrape_lock.lock();
    let queue = &gateway.accountant.queue;
    m.spend_queue_depth.set(queue.depth() as i64);
    Metrics::catch_up(&m.spend_rows_dropped, queue.dropped());
    if let Some(redis) = &gateway.redis {
        Metrics::catch_up(&m.redis_fallbacks, redis.fallbacks.load(Ordering::Relaxed));
    }
    m.calls_in_flight
        .set(gateway.in_flight.load(Ordering::Relaxed) as i64);
    m.requests_open
        .set(gateway.open_requests.load(Ordering::Relaxed) as i64);
    remaining_budgets(gateway);
    m.encode()
}

/// LiteLLM's budget gauges for every key, user and team with a `max_budget`: the budget, and
/// what is left of it after the spend settled so far (this node's and the store's). Rebuilt
/// each scrape, so a deleted key's series goes away.
fn remaining_budgets(gateway: &Gateway) {
    let m = &*gateway.metrics;
    let accounts = &gateway.accountant.accounts;
    let sets = [
        (
            Table::Keys,
            &m.remaining_api_key_budget,
            &m.api_key_max_budget,
            Some("key_alias"),
        ),
        (
            Table::Teams,
            &m.remaining_team_budget,
            &m.team_max_budget,
            Some("team_alias"),
        ),
        (
            Table::Users,
            &m.remaining_user_budget,
            &m.user_max_budget,
            None,
        ),
    ];
    for (table, remaining, maximum, alias_field) in sets {
        remaining.reset();
        maximum.reset();
        for entity in gateway.directory.all(table) {
            let Some(max) = entity.doc.get("max_budget").and_then(|v| v.as_f64()) else {
                continue;
            };
            let spent = accounts.spend(table, &entity.id).unwrap_or(entity.spend);
            let alias = alias_field.map(|f| entity.str_field(f).unwrap_or(""));
            let labels: &[&str] = match &alias {
                Some(alias) => &[entity.id.as_str(), alias],
                None => &[entity.id.as_str()],
            };
            remaining.with_label_values(labels).set(max - spent);
            maximum.with_label_values(labels).set(max);
        }
    }
}
