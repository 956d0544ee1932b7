use super::SqliteStore;
use crate::store::conformance::{self, conformance_cases, spend_row};
use crate::store::{Store, StoreError, Table};
use std::path::PathBuf;

/// A store in a fresh directory under the system temp dir, removed on drop.
struct TempSqlite {
    dir: PathBuf,
    store: SqliteStore,
}

impl TempSqlite {
    fn new() -> TempSqlite {
        let dir = std::env::temp_dir().join(format!("tollgate-sqlite-{}", uuid::Uuid::new_v4()));
        let store = SqliteStore::open(&dir.join("nested").join("state.db")).expect("open");
        TempSqlite { dir, store }
    }

    fn path(&self) -> PathBuf {
        self.dir.join("nested").join("state.db")
    }
}

impl Drop for TempSqlite {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

macro_rules! sqlite_cases {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let temp = TempSqlite::new();
                conformance::$name(&temp.store).await;
            }
        )*
    };
}
conformance_cases!(sqlite_cases);

#[tokio::test]
async fn every_case_is_run() {
    // The case table and the tests above come from one list; this keeps it non-empty.
    assert!(conformance::CASES.len() >= 12);
}

#[test]
fn open_creates_a_private_wal_file() {
    use std::os::unix::fs::PermissionsExt;
    let temp = TempSqlite::new();
    let mode = std::fs::metadata(temp.path())
        .expect("file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let conn = temp.store.conn.lock().expect("lock");
    let journal: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("pragma");
    assert_eq!(journal, "wal");
}

#[tokio::test]
async fn migrations_are_idempotent() {
    let temp = TempSqlite::new();
    let key = conformance::entity("k", serde_json::json!({}));
    assert!(temp.store.insert(Table::Keys, &key).await.expect("insert"));
    // Opened again (a restart) and twice at once (two processes): nothing re-applied.
    let path = temp.path();
    let again = SqliteStore::open(&path).expect("reopen");
    let (left, right) = (path.clone(), path.clone());
    let first = std::thread::spawn(move || SqliteStore::open(&left).map(|_| ()));
    let second = std::thread::spawn(move || SqliteStore::open(&right).map(|_| ()));
    assert_eq!(first.join().expect("thread"), Ok(()));
    assert_eq!(second.join().expect("thread"), Ok(()));
    assert!(again.get(Table::Keys, "k").await.expect("get").is_some());
    let conn = again.conn.lock().expect("lock");
    let versions: i64 = conn
        .query_row("SELECT COUNT(*) FROM tollgate_schema_migrations", [], |r| {
            r.get(0)
        })
        .expect("count");
    assert_eq!(
        versions,
        crate::store::migrate::SQLITE_MIGRATIONS.len() as i64
    );
}

#[tokio::test]
async fn a_failed_batch_leaves_nothing() {
    let temp = TempSqlite::new();
    let key = conformance::entity("k", serde_json::json!({}));
    assert!(temp.store.insert(Table::Keys, &key).await.expect("insert"));
    temp.store
        .conn
        .lock()
        .expect("lock")
        .execute_batch(
            "CREATE TRIGGER refuse_boom BEFORE INSERT ON daily_spend
             WHEN NEW.model = 'boom' BEGIN SELECT RAISE(ABORT, 'boom refused'); END;",
        )
        .expect("trigger");
    let good = spend_row("r1", "k", 0.5);
    let mut bad = spend_row("r2", "k", 1.0);
    bad.model = "boom".into();
    let failed = temp.store.write_spend(&[good.clone(), bad], true).await;
    assert!(
        matches!(failed, Err(StoreError::Unavailable(_))),
        "{failed:?}"
    );
    let key = temp
        .store
        .get(Table::Keys, "k")
        .await
        .expect("get")
        .expect("key");
    assert_eq!(key.spend, 0.0, "rolled back");
    // The retry without the bad row counts r1 (its id was not kept by the failed batch).
    assert_eq!(
        temp.store.write_spend(&[good], true).await.expect("retry"),
        1
    );
}

#[test]
fn open_reports_an_unusable_path() {
    let file = std::env::temp_dir().join(format!("tollgate-notdir-{}", uuid::Uuid::new_v4()));
    std::fs::write(&file, b"x").expect("write");
    let refused = SqliteStore::open(&file.join("state.db"))
        .err()
        .unwrap_or_default();
    assert!(refused.contains("creating"), "{refused}");
    let _ = std::fs::remove_file(&file);
}
