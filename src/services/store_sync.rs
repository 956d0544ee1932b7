//! Keeps the request path's view of the store fresh, and the store fed, in one background
//! service: spend rows flushed in batches (each one transaction, idempotent by `request_id`),
//! the in-memory directory refreshed from changes other nodes made, budgets reset when their
//! period ends. On shutdown it keeps flushing until every admitted call has queued its row.

use crate::auth::directory::Directory;
use crate::spend::accounts::Accounts;
use crate::spend::period;
use crate::store::columns::spend_targets;
use crate::store::{now_ms, SpendRow, Store, StoreError, Table};
use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// Rows per transaction.
const BATCH_ROWS: usize = 500;
const FLUSH_EVERY: Duration = Duration::from_secs(1);
const REFRESH_EVERY: Duration = Duration::from_secs(1);
/// Changes are re-read this far back: a transaction that committed late (on another node)
/// with an earlier `updated_ms` is still seen.
const REFRESH_OVERLAP_MS: i64 = 5_000;

pub struct StoreSync {
    pub store: Arc<dyn Store>,
    pub directory: Arc<Directory>,
    pub accounts: Arc<Accounts>,
    /// Taken once, when the service starts.
    pub rows: Mutex<Option<mpsc::Receiver<SpendRow>>>,
    /// Admitted calls that have not yet queued their row.
    pub in_flight: Arc<AtomicUsize>,
    /// Requests still being served: one may yet be admitted and queue a row.
    pub open_requests: Arc<AtomicUsize>,
    pub keep_rows: bool,
    pub max_pending: usize,
    /// Longest the service waits at shutdown for in-flight calls to queue their rows (the
    /// process's whole drain).
    pub max_drain: Duration,
    /// Set once the last rows are written at shutdown.
    pub flushed: Arc<std::sync::atomic::AtomicBool>,
    /// `tollgate_store_flush_failures_total`.
    pub flush_failures: prometheus::IntCounter,
    /// `tollgate_spend_flush_lag_seconds`: how long rows have been waiting for the store.
    pub flush_lag: prometheus::Gauge,
    /// `tollgate_spend_pending_rows`: taken from the queue, not yet written.
    pub pending_rows: prometheus::IntGauge,
    /// Called when a refresh brought a stored model's change (another node's model API write),
    /// to rebuild the snapshot.
    pub models_changed: Box<dyn Fn() + Send + Sync>,
}

/// Fills the directory and the accounts from the store (at start-up, before serving).
pub async fn load(
    store: &dyn Store,
    directory: &Directory,
    accounts: &Accounts,
) -> Result<i64, StoreError> {
    let mut newest = 0;
    for table in Table::ALL {
        let (entities, _) = store.list(table, &Default::default()).await?;
        for e in entities {
            newest = newest.max(e.updated_ms);
            accounts.set_spend(table, &e.id, e.spend);
            directory.apply(table, e);
        }
    }
    Ok(newest)
}

#[async_trait]
impl BackgroundService for StoreSync {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let Some(mut rx) = self.rows.lock().ok().and_then(|mut r| r.take()) else {
            return;
        };
        let mut pending: Vec<SpendRow> = Vec::new();
        let mut last_seen = now_ms();
        let mut flush_tick = tokio::time::interval(FLUSH_EVERY);
        let mut refresh_tick = tokio::time::interval(REFRESH_EVERY);
        // Since when rows have been pending without a break (an outage shows as a growing lag).
        let mut pending_since: Option<std::time::Instant> = None;
        loop {
            self.pending_rows.set(pending.len() as i64);
            let lag = if pending.is_empty() {
                pending_since = None;
                0.0
            } else {
                pending_since
                    .get_or_insert_with(std::time::Instant::now)
                    .elapsed()
                    .as_secs_f64()
            };
            self.flush_lag.set(lag);
            let room = pending.len() < self.max_pending;
            tokio::select! {
                row = rx.recv(), if room => match row {
                    Some(row) => {
                        pending.push(row);
                        if pending.len() >= BATCH_ROWS {
                            self.flush(&mut pending).await;
                        }
                    }
                    None => break,
                },
                _ = flush_tick.tick() => self.flush(&mut pending).await,
                _ = refresh_tick.tick() => {
                    last_seen = self.refresh(last_seen).await;
                    self.reset_due_budgets().await;
                }
                _ = shutdown.changed() => break,
            }
        }
        self.drain(&mut rx, &mut pending).await;
    }
}

impl StoreSync {
    /// Writes what is pending, a batch at a time; on failure keeps it for the next tick.
    async fn flush(&self, pending: &mut Vec<SpendRow>) {
        while !pending.is_empty() {
            let n = pending.len().min(BATCH_ROWS);
            match self.store.write_spend(&pending[..n], self.keep_rows).await {
                Ok(_) => {
                    // Every row of the batch is in the store now (new, or written by an
                    // earlier attempt whose answer was lost).
                    for row in pending.drain(..n) {
                        for (table, id) in spend_targets(&row) {
                            self.accounts.flushed(table, id, row.spend);
                        }
                    }
                }
                Err(e) => {
                    self.flush_failures.inc();
                    log::warn!(
                        "spend flush failed, {} rows kept for retry: {e}",
                        pending.len()
                    );
                    return;
                }
            }
        }
    }

    /// At shutdown: collect every row still coming from calls in flight, and flush them all.
    async fn drain(&self, rx: &mut mpsc::Receiver<SpendRow>, pending: &mut Vec<SpendRow>) {
        let deadline = tokio::time::Instant::now() + self.max_drain;
        loop {
            while let Ok(row) = rx.try_recv() {
                pending.push(row);
            }
            self.flush(pending).await;
            let done = self.in_flight.load(Ordering::Acquire) == 0
                && self.open_requests.load(Ordering::Acquire) == 0
                && rx.is_empty();
            if (done && pending.is_empty()) || tokio::time::Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if !pending.is_empty() {
            log::error!(
                "shutting down with {} spend rows unwritten: the store is unreachable",
                pending.len()
            );
        } else {
            log::info!("spend rows flushed");
        }
        self.flushed.store(true, Ordering::Release);
    }

    /// Takes what changed in the store since the last look; returns the new high-water mark.
    async fn refresh(&self, last_seen: i64) -> i64 {
        let changes = match self
            .store
            .changed_since(last_seen - REFRESH_OVERLAP_MS)
            .await
        {
            Ok(c) => c,
            Err(e) => {
                log::debug!("directory refresh failed: {e}");
                return last_seen;
            }
        };
        let mut newest = last_seen;
        let mut models_changed = false;
        for (table, entity) in changes {
            newest = newest.max(entity.updated_ms);
            // Other nodes' flushed spend is in the store's total.
            self.accounts.set_stored(table, &entity.id, entity.spend);
            let changed = self.directory.apply(table, entity);
            models_changed |= changed && table == Table::Models;
        }
        if models_changed {
            (self.models_changed)();
        }
        newest
    }

    /// Resets spend of every entity whose budget period has ended; two nodes resetting at once
    /// reset once (the store compares the old reset time).
    async fn reset_due_budgets(&self) {
        let now = now_ms();
        for table in [
            Table::Keys,
            Table::Users,
            Table::Teams,
            Table::Organizations,
            Table::Customers,
        ] {
            for entity in self.directory.all(table) {
                let Some(due) = entity.budget_reset_at.filter(|at| *at <= now) else {
                    continue;
                };
                let duration = entity
                    .str_field("budget_duration")
                    .map(str::to_string)
                    .or_else(|| {
                        let budget = self
                            .directory
                            .get(Table::Budgets, entity.str_field("budget_id")?)?;
                        budget.str_field("budget_duration").map(str::to_string)
                    });
                let next = duration
                    .as_deref()
                    .and_then(|d| period::next_reset_ms(d, now));
                match self
                    .store
                    .reset_spend(table, &entity.id, Some(due), next)
                    .await
                {
                    Ok(true) => {
                        self.accounts.set_spend(table, &entity.id, 0.0);
                        let mut reset = (*entity).clone();
                        reset.spend = 0.0;
                        reset.budget_reset_at = next;
                        reset.updated_ms = reset.updated_ms.max(now);
                        self.directory.apply(table, reset);
                        log::info!("budget reset: {} {}", table.sql_name(), entity.id);
                    }
                    // Another node reset it: take the stored state.
                    Ok(false) => {
                        if let Ok(Some(stored)) = self.store.get(table, &entity.id).await {
                            if stored.budget_reset_at != Some(due) {
                                self.accounts.set_spend(table, &stored.id, stored.spend);
                                self.directory.apply(table, stored);
                            }
                        }
                    }
                    Err(e) => log::debug!("budget reset deferred: {e}"),
                }
            }
        }
    }
}
