// Test code only: the module is declared under #[cfg(test)] in its parent.
//! An in-memory `Store` for the admin tests, and a harness that builds an `AdminContext`
//! around it.

use super::{handle, AdminAnswer, AdminCaller, AdminContext, AdminRequest};
use crate::auth::directory::Directory;
use crate::spend::accounts::Accounts;
use crate::store::{
    DailySpend, Document, Entity, ListFilter, SpendQuery, SpendRow, Store, StoreError, StoreResult,
    Table,
};
use async_trait::async_trait;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Inner {
    seq: u64,
    entities: HashMap<(Table, String), (u64, Entity)>,
    rows: Vec<SpendRow>,
    seen: HashSet<String>,
    daily: Vec<DailySpend>,
}

#[derive(Default)]
pub struct MemStore {
    inner: Mutex<Inner>,
    /// Every call fails with `Unavailable` while set.
    pub down: AtomicBool,
}

impl MemStore {
    fn lock(&self) -> StoreResult<std::sync::MutexGuard<'_, Inner>> {
        if self.down.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable("connection refused".into()));
        }
        self.inner
            .lock()
            .map_err(|_| StoreError::Unavailable("poisoned".into()))
    }

    /// Every document stored, of every table (to check what is kept).
    pub fn all_docs(&self) -> Vec<(Table, Entity)> {
        let inner = self.inner.lock().unwrap();
        inner
            .entities
            .iter()
            .map(|((t, _), (_, e))| (*t, e.clone()))
            .collect()
    }
}

fn add_spend(inner: &mut Inner, table: Table, id: &str, spend: f64) {
    if id.is_empty() {
        return;
    }
    if let Some((_, e)) = inner.entities.get_mut(&(table, id.to_string())) {
        e.spend += spend;
    }
}

#[async_trait]
impl Store for MemStore {
    fn backend(&self) -> &'static str {
        "memory"
    }

    async fn insert(&self, table: Table, entity: &Entity) -> StoreResult<bool> {
        let mut inner = self.lock()?;
        let key = (table, entity.id.clone());
        if inner.entities.get(&key).is_some_and(|(_, e)| !e.deleted) {
            return Ok(false);
        }
        inner.seq += 1;
        let seq = inner.seq;
        inner.entities.insert(key, (seq, entity.clone()));
        Ok(true)
    }

    async fn update(
        &self,
        table: Table,
        id: &str,
        doc: &Document,
        budget_reset_at: Option<i64>,
    ) -> StoreResult<bool> {
        let mut inner = self.lock()?;
        match inner.entities.get_mut(&(table, id.to_string())) {
            Some((_, e)) if !e.deleted => {
                e.doc = doc.clone();
                e.budget_reset_at = budget_reset_at;
                e.updated_ms += 1;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn get(&self, table: Table, id: &str) -> StoreResult<Option<Entity>> {
        let inner = self.lock()?;
        Ok(inner
            .entities
            .get(&(table, id.to_string()))
            .map(|(_, e)| e.clone()))
    }

    async fn delete(&self, table: Table, id: &str) -> StoreResult<bool> {
        let mut inner = self.lock()?;
        match inner.entities.get_mut(&(table, id.to_string())) {
            Some((_, e)) if !e.deleted => {
                e.deleted = true;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn list(&self, table: Table, filter: &ListFilter) -> StoreResult<(Vec<Entity>, u64)> {
        let inner = self.lock()?;
        let matches = |e: &Entity, field: &str, want: &Option<String>| {
            want.as_deref()
                .is_none_or(|w| e.str_field(field) == Some(w))
        };
        let mut found: Vec<(u64, Entity)> = inner
            .entities
            .iter()
            .filter(|((t, _), (_, e))| *t == table && !e.deleted)
            .filter(|(_, (_, e))| {
                matches(e, "user_id", &filter.user_id)
                    && matches(e, "team_id", &filter.team_id)
                    && matches(e, "organization_id", &filter.organization_id)
                    && matches(e, "key_alias", &filter.key_alias)
            })
            .map(|(_, (seq, e))| (*seq, e.clone()))
            .collect();
        found.sort_by_key(|(seq, _)| *seq);
        let total = found.len() as u64;
        let page = found
            .into_iter()
            .skip(filter.offset as usize)
            .take(filter.limit.map_or(usize::MAX, |l| l as usize))
            .map(|(_, e)| e)
            .collect();
        Ok((page, total))
    }

    async fn changed_since(&self, since_ms: i64) -> StoreResult<Vec<(Table, Entity)>> {
        let inner = self.lock()?;
        Ok(inner
            .entities
            .iter()
            .filter(|(_, (_, e))| e.updated_ms >= since_ms)
            .map(|((t, _), (_, e))| (*t, e.clone()))
            .collect())
    }

    async fn write_spend(&self, rows: &[SpendRow], keep_rows: bool) -> StoreResult<usize> {
        let mut inner = self.lock()?;
        let mut new = 0;
        for row in rows {
            if !inner.seen.insert(row.request_id.clone()) {
                continue;
            }
            new += 1;
            add_spend(&mut inner, Table::Keys, &row.api_key, row.spend);
            add_spend(&mut inner, Table::Users, &row.user, row.spend);
            add_spend(&mut inner, Table::Teams, &row.team_id, row.spend);
            add_spend(
                &mut inner,
                Table::Organizations,
                &row.organization_id,
                row.spend,
            );
            add_spend(&mut inner, Table::Customers, &row.end_user, row.spend);
            for b in &row.budget_ids {
                add_spend(&mut inner, Table::Budgets, b, row.spend);
            }
            let date = row.start_time.get(..10).unwrap_or_default().to_string();
            let same = |d: &DailySpend| {
                d.date == date
                    && d.api_key == row.api_key
                    && d.model == row.model
                    && d.user_id == row.user
                    && d.team_id == row.team_id
                    && d.end_user == row.end_user
            };
            match inner.daily.iter_mut().find(|d| same(d)) {
                Some(d) => {
                    d.spend += row.spend;
                    d.prompt_tokens += row.prompt_tokens;
                    d.completion_tokens += row.completion_tokens;
                    d.total_tokens += row.total_tokens;
                    d.requests += 1;
                }
                None => inner.daily.push(DailySpend {
                    date,
                    api_key: row.api_key.clone(),
                    model: row.model.clone(),
                    model_group: row.model_group.clone(),
                    custom_llm_provider: row.custom_llm_provider.clone(),
                    user_id: row.user.clone(),
                    team_id: row.team_id.clone(),
                    organization_id: row.organization_id.clone(),
                    end_user: row.end_user.clone(),
                    spend: row.spend,
                    prompt_tokens: row.prompt_tokens,
                    completion_tokens: row.completion_tokens,
                    total_tokens: row.total_tokens,
                    requests: 1,
                }),
            }
            if keep_rows {
                inner.rows.push(row.clone());
            }
        }
        Ok(new)
    }

    async fn reset_spend(
        &self,
        table: Table,
        id: &str,
        expected_reset_at: Option<i64>,
        next_reset_at: Option<i64>,
    ) -> StoreResult<bool> {
        let mut inner = self.lock()?;
        match inner.entities.get_mut(&(table, id.to_string())) {
            Some((_, e)) if e.budget_reset_at == expected_reset_at => {
                e.spend = 0.0;
                e.budget_reset_at = next_reset_at;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn spend_logs(&self, query: &SpendQuery) -> StoreResult<Vec<SpendRow>> {
        let inner = self.lock()?;
        let eq = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        let mut rows: Vec<SpendRow> = inner
            .rows
            .iter()
            .filter(|r| {
                eq(&query.api_key, &r.api_key)
                    && eq(&query.user_id, &r.user)
                    && eq(&query.team_id, &r.team_id)
                    && eq(&query.request_id, &r.request_id)
                    && query
                        .start_date
                        .as_deref()
                        .is_none_or(|s| r.start_time.as_str() >= s)
                    && query
                        .end_date
                        .as_deref()
                        .is_none_or(|e| r.start_time.get(..e.len()).unwrap_or_default() <= e)
            })
            .cloned()
            .collect();
        rows.sort_by(|a, b| b.start_time.cmp(&a.start_time));
        if let Some(limit) = query.limit {
            rows.truncate(limit as usize);
        }
        Ok(rows)
    }

    async fn daily_spend(&self, start_date: &str, end_date: &str) -> StoreResult<Vec<DailySpend>> {
        let inner = self.lock()?;
        Ok(inner
            .daily
            .iter()
            .filter(|d| d.date.as_str() >= start_date && d.date.as_str() <= end_date)
            .cloned()
            .collect())
    }

    async fn reset_all_spend(&self) -> StoreResult<()> {
        let mut inner = self.lock()?;
        for (_, e) in inner.entities.values_mut() {
            e.spend = 0.0;
        }
        Ok(())
    }
}

/// A store, directory and accounts, and calls into `handle` as a given caller.
pub struct Harness {
    pub store: MemStore,
    pub directory: Directory,
    pub accounts: Accounts,
    pub now_ms: i64,
}

/// 2026-01-15T00:00:00Z.
pub const NOW_MS: i64 = 1_768_435_200_000;

impl Harness {
    pub fn new() -> Self {
        Harness {
            store: MemStore::default(),
            directory: Directory::default(),
            accounts: Accounts::default(),
            now_ms: NOW_MS,
        }
    }

    pub async fn call(
        &self,
        caller: &AdminCaller,
        method: &str,
        path_and_query: &str,
        body: Value,
    ) -> AdminAnswer {
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path_and_query, None),
        };
        let bytes = if body.is_null() {
            Vec::new()
        } else {
            body.to_string().into_bytes()
        };
        let ctx = AdminContext {
            store: &self.store,
            directory: &self.directory,
            accounts: &self.accounts,
            caller,
            now_ms: self.now_ms,
            models: None,
        };
        handle(
            &ctx,
            AdminRequest {
                method,
                path,
                query,
                body: &bytes,
            },
        )
        .await
    }

    pub async fn master(&self, method: &str, path: &str, body: Value) -> AdminAnswer {
        self.call(&AdminCaller::Master, method, path, body).await
    }

    /// The caller a raw key authenticates as (it must exist).
    pub fn key_caller(&self, raw_key: &str) -> AdminCaller {
        let token = crate::auth::hash_key(raw_key);
        let entity = self
            .directory
            .get(Table::Keys, &token)
            .unwrap_or_else(|| panic!("no key {raw_key}"));
        AdminCaller::Key { token, entity }
    }

    /// Creates a user with a role and a key for it (as the master key); answers the raw key.
    pub async fn user_with_key(&self, user_id: &str, role: &str) -> String {
        let a = self
            .master(
                "POST",
                "/user/new",
                serde_json::json!({"user_id": user_id, "user_role": role}),
            )
            .await;
        assert_eq!(a.status, 200, "{}", a.body);
        a.body["key"].as_str().unwrap().to_string()
    }

    pub fn spend_row(&self, request_id: &str, raw_key: &str, spend: f64) -> SpendRow {
        SpendRow {
            request_id: request_id.into(),
            call_type: "acompletion".into(),
            api_key: crate::auth::hash_key(raw_key),
            spend,
            total_tokens: 30,
            prompt_tokens: 10,
            completion_tokens: 20,
            start_time: "2026-01-14T10:00:00Z".into(),
            end_time: "2026-01-14T10:00:01Z".into(),
            model: "gpt-4o".into(),
            model_group: "gpt-4o".into(),
            status: "success".into(),
            cache_hit: "False".into(),
            metadata: Value::Object(Default::default()),
            messages: Value::Object(Default::default()),
            response: Value::Object(Default::default()),
            ..SpendRow::default()
        }
    }
}

impl Default for Harness {
    fn default() -> Self {
        Self::new()
    }
}

pub fn arc(entity: Entity) -> Arc<Entity> {
    Arc::new(entity)
}
