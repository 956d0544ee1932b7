//! `/spend/logs`: the spend rows, in LiteLLM's `LiteLLM_SpendLogs` shape.

use super::{store_error, AdminContext, AdminResult, Query};
use crate::auth::hash_key;
use crate::store::SpendQuery;

pub async fn logs(ctx: &AdminContext<'_>, q: &Query<'_>) -> AdminResult {
    let api_key = q.get("api_key").map(|k| {
        if k.starts_with("sk-") {
            hash_key(&k)
        } else {
            k
        }
    });
    let query = SpendQuery {
        api_key,
        user_id: q.get("user_id"),
        team_id: q.get("team_id"),
        request_id: q.get("request_id"),
        start_date: q.get("start_date"),
        end_date: q.get("end_date"),
        limit: None,
    };
    let rows = ctx.store.spend_logs(&query).await.map_err(store_error)?;
    serde_json::to_value(rows).map_err(|e| crate::error::GatewayError::internal(e.to_string()))
}
