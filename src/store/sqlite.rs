//! The embedded store: one SQLite file (WAL), one connection behind a mutex, each call on a
//! blocking thread so the async runtime never waits on disk.

mod entities;
mod spend;

use super::{
    DailySpend, Document, Entity, ListFilter, SpendQuery, SpendRow, Store, StoreError, StoreResult,
    Table,
};
use async_trait::async_trait;
use rusqlite::Connection;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a call waits for another process holding the file's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

impl SqliteStore {
    /// Opens (creating when absent, with its directory, mode 0600) the database file and
    /// brings its schema up to date.
    pub fn open(path: &Path) -> Result<SqliteStore, String> {
        let shown = path.display();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        }
        create_private_file(path).map_err(|e| format!("creating {shown}: {e}"))?;
        let mut conn = Connection::open(path).map_err(|e| format!("opening {shown}: {e}"))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| format!("opening {shown}: {e}"))?;
        let journal: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(|e| format!("opening {shown}: {e}"))?;
        if !journal.eq_ignore_ascii_case("wal") {
            return Err(format!(
                "{shown}: WAL journal not available (got {journal})"
            ));
        }
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| format!("opening {shown}: {e}"))?;
        super::migrate::migrate_sqlite(&mut conn).map_err(|e| format!("{shown}: {e}"))?;
        Ok(SqliteStore {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `work` with the connection on a blocking thread.
    async fn run<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        let joined = tokio::task::spawn_blocking(move || {
            // A panic while holding the lock leaves the connection usable (SQLite rolls an
            // open transaction back when the next one begins), so poisoning is ignored.
            let mut conn = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            work(&mut conn)
        })
        .await;
        match joined {
            Ok(result) => result.map_err(sqlite_error),
            Err(e) => Err(StoreError::Unavailable(format!("sqlite task failed: {e}"))),
        }
    }
}

/// Creates the file with mode 0600 when absent (SQLite gives its -wal and -shm files the
/// same mode); an existing file is left as it is.
fn create_private_file(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

fn sqlite_error(e: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(format!("sqlite: {e}"))
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn insert(&self, table: Table, entity: &Entity) -> StoreResult<bool> {
        let entity = entity.clone();
        self.run(move |conn| entities::insert(conn, table, &entity))
            .await
    }

    async fn update(
        &self,
        table: Table,
        id: &str,
        doc: &Document,
        budget_reset_at: Option<i64>,
    ) -> StoreResult<bool> {
        let (id, doc) = (id.to_owned(), doc.clone());
        self.run(move |conn| entities::update(conn, table, &id, &doc, budget_reset_at))
            .await
    }

    async fn get(&self, table: Table, id: &str) -> StoreResult<Option<Entity>> {
        let id = id.to_owned();
        self.run(move |conn| entities::get(conn, table, &id)).await
    }

    async fn delete(&self, table: Table, id: &str) -> StoreResult<bool> {
        let id = id.to_owned();
        self.run(move |conn| entities::delete(conn, table, &id))
            .await
    }

    async fn list(&self, table: Table, filter: &ListFilter) -> StoreResult<(Vec<Entity>, u64)> {
        let filter = filter.clone();
        self.run(move |conn| entities::list(conn, table, &filter))
            .await
    }

    async fn changed_since(&self, since_ms: i64) -> StoreResult<Vec<(Table, Entity)>> {
        self.run(move |conn| entities::changed_since(conn, since_ms))
            .await
    }

    async fn write_spend(&self, rows: &[SpendRow], keep_rows: bool) -> StoreResult<usize> {
        if rows.is_empty() {
            return Ok(0);
        }
        let rows = rows.to_vec();
        self.run(move |conn| spend::write_spend(conn, &rows, keep_rows))
            .await
    }

    async fn reset_spend(
        &self,
        table: Table,
        id: &str,
        expected_reset_at: Option<i64>,
        next_reset_at: Option<i64>,
    ) -> StoreResult<bool> {
        let id = id.to_owned();
        self.run(move |conn| {
            entities::reset_spend(conn, table, &id, expected_reset_at, next_reset_at)
        })
        .await
    }

    async fn spend_logs(&self, query: &SpendQuery) -> StoreResult<Vec<SpendRow>> {
        let query = query.clone();
        self.run(move |conn| spend::spend_logs(conn, &query)).await
    }

    async fn daily_spend(&self, start_date: &str, end_date: &str) -> StoreResult<Vec<DailySpend>> {
        let (start, end) = (start_date.to_owned(), end_date.to_owned());
        self.run(move |conn| spend::daily_spend(conn, &start, &end))
            .await
    }

    async fn reset_all_spend(&self) -> StoreResult<()> {
        self.run(entities::reset_all_spend).await
    }
}

#[cfg(test)]
mod tests;
