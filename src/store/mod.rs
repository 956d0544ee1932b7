//! Where keys, users, teams, organizations, end users, budgets and spend live: one interface,
//! two backends. The embedded default is a local SQLite file (`sqlite`); several nodes share
//! PostgreSQL (`postgres`). Entities are LiteLLM's records kept as JSON documents (so every
//! field LiteLLM's admin API takes round-trips unchanged), beside the few columns the store
//! itself must filter or add on: `spend`, `budget_reset_at`, the owner ids, `updated_ms`.
//! The request path never calls the store: it reads the in-memory directory (`auth::directory`)
//! and queues spend for the flusher (`spend::flusher`).

pub mod columns;
#[cfg(test)]
mod conformance;
pub mod migrate;
pub mod open;
pub mod postgres;
pub mod sqlite;

pub use open::{open, StoreSettings};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub type Document = Map<String, Value>;

/// The kinds of entity, one table each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    /// `id` is the SHA-256 hex of the key (LiteLLM's `token`).
    Keys,
    Users,
    Teams,
    Organizations,
    /// End users (LiteLLM's customers, `LiteLLM_EndUserTable`).
    Customers,
    /// Shared budget objects (`budget_id`).
    Budgets,
    /// Deployments added through the model API (`/model/new`), keyed by model id.
    Models,
}

impl Table {
    pub const ALL: [Table; 7] = [
        Table::Keys,
        Table::Users,
        Table::Teams,
        Table::Organizations,
        Table::Customers,
        Table::Budgets,
        Table::Models,
    ];

    /// The SQL table name (the same in both backends).
    pub fn sql_name(self) -> &'static str {
        match self {
            Table::Keys => "keys",
            Table::Users => "users",
            Table::Teams => "teams",
            Table::Organizations => "organizations",
            Table::Customers => "customers",
            Table::Budgets => "budgets",
            Table::Models => "models",
        }
    }
}

/// One stored entity.
#[derive(Debug, Clone, PartialEq)]
pub struct Entity {
    pub id: String,
    /// LiteLLM's fields, minus `spend` and `budget_reset_at`, which are the columns below.
    pub doc: Document,
    /// What the store has counted (flushed spend rows), in USD.
    pub spend: f64,
    /// Unix milliseconds at which `spend` next resets to 0, for entities with a
    /// `budget_duration`.
    pub budget_reset_at: Option<i64>,
    /// Unix milliseconds of the last change (document, spend or deletion).
    pub updated_ms: i64,
    /// Deleted entities stay as tombstones so other nodes' refresh sees the deletion.
    pub deleted: bool,
}

impl Entity {
    /// A document field as a string (`user_id`, `team_id`, ...).
    pub fn str_field(&self, name: &str) -> Option<&str> {
        self.doc.get(name).and_then(Value::as_str)
    }
}

/// Filters for `list`: equality on the owner columns, then a page. Only live entities.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub user_id: Option<String>,
    pub team_id: Option<String>,
    pub organization_id: Option<String>,
    pub key_alias: Option<String>,
    /// Rows to skip, then at most `limit` rows (all when `None`), ordered by creation.
    pub offset: u64,
    pub limit: Option<u64>,
}

/// One call's row in LiteLLM's `LiteLLM_SpendLogs` shape (field names as LiteLLM's JSON).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SpendRow {
    pub request_id: String,
    pub call_type: String,
    /// The key's SHA-256 hex (empty for master-key and open calls).
    pub api_key: String,
    pub spend: f64,
    pub total_tokens: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// RFC 3339, UTC.
    #[serde(rename = "startTime")]
    pub start_time: String,
    #[serde(rename = "endTime")]
    pub end_time: String,
    pub model: String,
    pub model_group: String,
    pub model_id: String,
    pub api_base: String,
    pub custom_llm_provider: String,
    /// The key's `user_id`, as LiteLLM fills it.
    pub user: String,
    pub team_id: String,
    pub organization_id: String,
    /// The request's `user` field (the end user / customer).
    pub end_user: String,
    pub metadata: Value,
    /// `"True"` / `"False"`, as LiteLLM stores it.
    pub cache_hit: String,
    pub request_tags: Vec<String>,
    /// `success` or `failure`.
    pub status: String,
    /// Prompt and answer, only with `store_prompts_in_spend_logs`.
    pub messages: Value,
    pub response: Value,
    /// Shared budget ids the call counts against (key's, user's, team's, org's, end user's).
    #[serde(skip)]
    pub budget_ids: Vec<String>,
}

/// Filters for `/spend/logs`. Times are RFC 3339 prefixes (`2026-12-01`), compared as text.
#[derive(Debug, Clone, Default)]
pub struct SpendQuery {
    pub api_key: Option<String>,
    pub user_id: Option<String>,
    pub team_id: Option<String>,
    pub request_id: Option<String>,
    pub start_date: Option<String>,
    /// Inclusive: rows whose `startTime` begins with a day ≤ this one.
    pub end_date: Option<String>,
    pub limit: Option<u64>,
}

/// One day's spend for one (key, model, team, end user, ...), from the daily aggregate table.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DailySpend {
    /// `YYYY-MM-DD`, UTC.
    pub date: String,
    pub api_key: String,
    pub model: String,
    pub model_group: String,
    pub custom_llm_provider: String,
    pub user_id: String,
    pub team_id: String,
    pub organization_id: String,
    pub end_user: String,
    pub spend: f64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
    pub requests: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StoreError {
    /// The store cannot be reached or failed (retry later).
    Unavailable(String),
    /// The request conflicts with what is stored (a duplicate id, say).
    Conflict(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Unavailable(m) => write!(f, "store unavailable: {m}"),
            StoreError::Conflict(m) => write!(f, "{m}"),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

#[async_trait]
pub trait Store: Send + Sync {
    /// `"sqlite"` or `"postgres"`.
    fn backend(&self) -> &'static str;

    /// Creates an entity; `Ok(false)` when a live one with that id exists (a tombstone is
    /// replaced).
    async fn insert(&self, table: Table, entity: &Entity) -> StoreResult<bool>;

    /// Replaces a live entity's document (and `budget_reset_at`); `spend` is left alone.
    /// `Ok(false)` when there is none.
    async fn update(
        &self,
        table: Table,
        id: &str,
        doc: &Document,
        budget_reset_at: Option<i64>,
    ) -> StoreResult<bool>;

    /// The live entity with this id; a tombstone reads as `None` (it is seen through
    /// `changed_since`).
    async fn get(&self, table: Table, id: &str) -> StoreResult<Option<Entity>>;

    /// Marks an entity deleted; `Ok(false)` when there was no live one.
    async fn delete(&self, table: Table, id: &str) -> StoreResult<bool>;

    /// Live entities matching the filter, and how many match in all (before the page).
    async fn list(&self, table: Table, filter: &ListFilter) -> StoreResult<(Vec<Entity>, u64)>;

    /// Everything changed (tombstones included) at or after `since_ms`, for the background
    /// refresh of the in-memory directory.
    async fn changed_since(&self, since_ms: i64) -> StoreResult<Vec<(Table, Entity)>>;

    /// Writes a batch of spend rows in one transaction. Idempotent by `request_id`: a row
    /// already stored is skipped and its spend is not added again. For each new row, adds
    /// its spend to the key (`api_key`), user (`user`), team, organization and end user
    /// (`end_user`) and to each of `budget_ids`, and to the daily aggregates. Rows are kept
    /// in `spend_logs` unless `keep_rows` is false (`disable_spend_logs`); the idempotency
    /// record is kept either way. Returns how many rows were new.
    async fn write_spend(&self, rows: &[SpendRow], keep_rows: bool) -> StoreResult<usize>;

    /// Sets an entity's spend to 0 and its next reset time, only if its reset time is still
    /// `expected_reset_at` (so two nodes resetting at once reset once). `Ok(false)` otherwise.
    async fn reset_spend(
        &self,
        table: Table,
        id: &str,
        expected_reset_at: Option<i64>,
        next_reset_at: Option<i64>,
    ) -> StoreResult<bool>;

    /// Spend rows, newest first.
    async fn spend_logs(&self, query: &SpendQuery) -> StoreResult<Vec<SpendRow>>;

    /// Daily aggregates between two `YYYY-MM-DD` days, inclusive.
    async fn daily_spend(&self, start_date: &str, end_date: &str) -> StoreResult<Vec<DailySpend>>;

    /// Sets every entity's spend to 0 (`/global/spend/reset`); spend rows stay.
    async fn reset_all_spend(&self) -> StoreResult<()>;

    /// Whether other nodes may share this store, so budgets must be held through it rather
    /// than in one node's memory (PostgreSQL; an embedded file is one node's).
    fn shares_budgets(&self) -> bool {
        false
    }

    /// Holds `hold.amount` against every owner's budget at once, or none: an owner whose
    /// stored spend plus live holds plus this amount passes its `max_budget` refuses the whole
    /// hold. A hold ends when `write_spend` writes the row of the same `request_id` (in the
    /// same transaction that adds its spend), or at `expires_ms` (a node that died mid-call).
    async fn hold_budgets(&self, _hold: &BudgetHold) -> StoreResult<HoldOutcome> {
        Ok(HoldOutcome::Held)
    }
}

/// A call's hold on the budgets it counts toward, for stores shared by several nodes.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetHold {
    pub request_id: String,
    pub amount: f64,
    pub expires_ms: i64,
    /// (table, id, max_budget) of each capped owner.
    pub owners: Vec<(Table, String, f64)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum HoldOutcome {
    Held,
    /// `owners[index]` has no room: its spend plus live holds were `committed`.
    Refused {
        index: usize,
        committed: f64,
    },
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
