//! Liveness and readiness, as LiteLLM answers them: `/health/liveliness` is `"I'm alive!"`
//! until shutdown begins, then 503 `{"status": "shutting_down"}` so a load balancer stops
//! sending; `/health/readiness` checks the store and the shared Redis for real (each within a
//! second) and is 503 when the store is down and calls need it.

use crate::state::Gateway;
use crate::store::Table;
use bytes::Bytes;
use serde_json::json;
use std::sync::atomic::Ordering;
use std::time::Duration;

const CHECK_WAIT: Duration = Duration::from_secs(1);

fn shutting_down() -> (u16, Bytes) {
    (503, Bytes::from_static(br#"{"status":"shutting_down"}"#))
}

pub fn liveliness(gateway: &Gateway) -> (u16, Bytes) {
    if gateway.draining.load(Ordering::Acquire) {
        return shutting_down();
    }
    (200, Bytes::from_static(b"\"I'm alive!\""))
}

pub async fn readiness(gateway: &Gateway) -> (u16, Bytes) {
    if gateway.draining.load(Ordering::Acquire) {
        return shutting_down();
    }
    let snapshot = gateway.snapshot.load();
    let db_up = match &gateway.store {
        // Any read answers whether the store is there; this id never exists.
        Some(store) => matches!(
            tokio::time::timeout(CHECK_WAIT, store.get(Table::Keys, "-readiness-")).await,
            Ok(Ok(_))
        ),
        None => false,
    };
    let redis =
        match &gateway.redis {
            Some(redis) => Some(
                redis
                    .run(|mut conn| async move {
                        redis::cmd("PING").query_async::<String>(&mut conn).await
                    })
                    .await
                    .is_ok(),
            ),
            None => None,
        };
    let store_needed = !snapshot
        .config
        .general
        .store
        .allow_requests_on_db_unavailable;
    let status = if gateway.store.is_some() && !db_up && store_needed {
        503
    } else {
        200
    };
    let mut body = json!({
        "status": "healthy",
        "db": if db_up { "connected" } else { "Not connected" },
        "cache": gateway.cache.as_ref().map(|c| c.kind()),
        "litellm_version": env!("CARGO_PKG_VERSION"),
        "success_callbacks": [],
    });
    if let Some(up) = redis {
        body["redis"] = json!(if up { "connected" } else { "Not connected" });
    }
    (status, Bytes::from(body.to_string()))
}
