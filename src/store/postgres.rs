//! The shared store: PostgreSQL through a deadpool connection pool. Every wait is bounded
//! (pool slot, connect, recycle, the whole call), so an outage answers `Unavailable` within
//! seconds; broken connections are dropped when next checked out, so the pool recovers by
//! itself once the server is back.

mod entities;
mod holds;
mod spend;
#[cfg(test)]
pub mod testing;

use super::{
    BudgetHold, DailySpend, Document, Entity, HoldOutcome, ListFilter, SpendQuery, SpendRow, Store,
    StoreError, StoreResult, Table,
};
use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use serde_json::Value;
use std::borrow::Cow;
use std::future::Future;
use std::time::Duration;
use tokio_postgres::NoTls;

/// Bounds on the pool's waits: for a free slot, for a new connection, for recycling one.
const POOL_WAIT_TIMEOUT: Duration = Duration::from_secs(3);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// A whole call (checkout plus queries): what a blackholed network costs at most.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user:password@host:port/db?...`), brings the schema up
    /// to date and keeps a pool of at most `pool_size` connections.
    pub async fn connect(url: &str, pool_size: usize) -> Result<PostgresStore, String> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| format!("database_url is not a PostgreSQL URL: {e}"))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("tollgate");
        }
        migrate(&config).await?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                // Fast: a connection whose socket closed is seen as closed and replaced.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(POOL_WAIT_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(POOL_WAIT_TIMEOUT))
            .build()
            .map_err(|e| format!("building the PostgreSQL pool: {e}"))?;
        Ok(PostgresStore { pool })
    }

    /// A pooled connection, or `Unavailable`.
    async fn client(&self) -> StoreResult<deadpool_postgres::Client> {
        self.pool
            .get()
            .await
            .map_err(|e| StoreError::Unavailable(format!("postgres: {e}")))
    }
}

/// Runs the migrations on a connection of their own, closed afterwards (which also ends
/// the advisory lock should unlocking have failed).
async fn migrate(config: &tokio_postgres::Config) -> Result<(), String> {
    let (mut client, connection) = config
        .connect(NoTls)
        .await
        .map_err(|e| format!("connecting to PostgreSQL: {}", describe_error(&e)))?;
    let connection_task = tokio::spawn(connection);
    let outcome = super::migrate::migrate_postgres(&mut client).await;
    drop(client);
    // The connection future ends once the client is gone; its result says nothing new.
    let _ = connection_task.await;
    outcome.map_err(|e| format!("migrating the PostgreSQL schema: {e}"))
}

/// A readable message for a PostgreSQL error: the server's SQLSTATE and text when it sent
/// one, else the client's (connection refused, closed, ...).
pub fn describe_error(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

fn pg_error(e: tokio_postgres::Error) -> StoreError {
    StoreError::Unavailable(format!("postgres: {}", describe_error(&e)))
}

/// Bounds one call; a call still waiting then counts as the store being unavailable.
async fn bounded<T>(call: impl Future<Output = StoreResult<T>>) -> StoreResult<T> {
    match tokio::time::timeout(CALL_TIMEOUT, call).await {
        Ok(result) => result,
        Err(_) => Err(StoreError::Unavailable(format!(
            "postgres: no answer within {}s",
            CALL_TIMEOUT.as_secs()
        ))),
    }
}

/// Text as PostgreSQL takes it: it refuses NUL in text and JSON, so a NUL (from a request's
/// `user` field, say) becomes U+FFFD instead of failing the whole batch.
pub(crate) fn pg_text(text: &str) -> Cow<'_, str> {
    if text.contains('\0') {
        Cow::Owned(text.replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// A JSON value as text for a `::jsonb` parameter, NULs replaced as in `pg_text`.
pub(crate) fn pg_json(value: &impl serde::Serialize) -> String {
    // ok: Values, Maps and string lists always serialize.
    let text = serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned());
    if !text.contains("\\u0000") {
        return text;
    }
    match serde_json::from_str::<Value>(&text) {
        Ok(parsed) => serde_json::to_string(&without_nul(parsed)).unwrap_or(text),
        Err(_) => text,
    }
}

fn without_nul(value: Value) -> Value {
    match value {
        Value::String(s) => Value::String(pg_text(&s).into_owned()),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nul).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .into_iter()
                .map(|(k, v)| (pg_text(&k).into_owned(), without_nul(v)))
                .collect(),
        ),
        other => other,
    }
}

#[async_trait]
impl Store for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn insert(&self, table: Table, entity: &Entity) -> StoreResult<bool> {
        bounded(async {
            let client = self.client().await?;
            entities::insert(&client, table, entity).await
        })
        .await
    }

    async fn update(
        &self,
        table: Table,
        id: &str,
        doc: &Document,
        budget_reset_at: Option<i64>,
    ) -> StoreResult<bool> {
        bounded(async {
            let client = self.client().await?;
            entities::update(&client, table, id, doc, budget_reset_at).await
        })
        .await
    }

    async fn get(&self, table: Table, id: &str) -> StoreResult<Option<Entity>> {
        bounded(async {
            let client = self.client().await?;
            entities::get(&client, table, id).await
        })
        .await
    }

    async fn delete(&self, table: Table, id: &str) -> StoreResult<bool> {
        bounded(async {
            let client = self.client().await?;
            entities::delete(&client, table, id).await
        })
        .await
    }

    async fn list(&self, table: Table, filter: &ListFilter) -> StoreResult<(Vec<Entity>, u64)> {
        bounded(async {
            let mut client = self.client().await?;
            entities::list(&mut client, table, filter).await
        })
        .await
    }

    async fn changed_since(&self, since_ms: i64) -> StoreResult<Vec<(Table, Entity)>> {
        bounded(async {
            let mut client = self.client().await?;
            entities::changed_since(&mut client, since_ms).await
        })
        .await
    }

    async fn write_spend(&self, rows: &[SpendRow], keep_rows: bool) -> StoreResult<usize> {
        if rows.is_empty() {
            return Ok(0);
        }
        bounded(async {
            let mut client = self.client().await?;
            spend::write_spend(&mut client, rows, keep_rows).await
        })
        .await
    }

    async fn reset_spend(
        &self,
        table: Table,
        id: &str,
        expected_reset_at: Option<i64>,
        next_reset_at: Option<i64>,
    ) -> StoreResult<bool> {
        bounded(async {
            let client = self.client().await?;
            entities::reset_spend(&client, table, id, expected_reset_at, next_reset_at).await
        })
        .await
    }

    async fn spend_logs(&self, query: &SpendQuery) -> StoreResult<Vec<SpendRow>> {
        bounded(async {
            let client = self.client().await?;
            spend::spend_logs(&client, query).await
        })
        .await
    }

    async fn daily_spend(&self, start_date: &str, end_date: &str) -> StoreResult<Vec<DailySpend>> {
        bounded(async {
            let client = self.client().await?;
            spend::daily_spend(&client, start_date, end_date).await
        })
        .await
    }

    async fn reset_all_spend(&self) -> StoreResult<()> {
        bounded(async {
            let mut client = self.client().await?;
            entities::reset_all_spend(&mut client).await
        })
        .await
    }

    fn shares_budgets(&self) -> bool {
        true
    }

    async fn hold_budgets(&self, hold: &BudgetHold) -> StoreResult<HoldOutcome> {
        bounded(async {
            let mut client = self.client().await?;
            holds::hold(&mut client, hold).await
        })
        .await
    }
}

#[cfg(test)]
mod tests;
