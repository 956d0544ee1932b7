//! Picks and opens the configured backend.

use super::postgres::PostgresStore;
use super::sqlite::SqliteStore;
use super::Store;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct StoreSettings {
    /// `postgres://` or `postgresql://`: the shared PostgreSQL store. Unset: SQLite.
    pub database_url: Option<String>,
    /// The SQLite file, when `database_url` is unset.
    pub database_path: PathBuf,
    /// Most PostgreSQL connections this node holds.
    pub pool_size: usize,
}

/// Opens the store the settings name and brings its schema up to date.
pub async fn open(settings: &StoreSettings) -> Result<Arc<dyn Store>, String> {
    match settings.database_url.as_deref().map(str::trim) {
        Some(url) if !url.is_empty() => {
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                return Err("database_url must start with postgres:// or postgresql://".to_owned());
            }
            let store = PostgresStore::connect(url, settings.pool_size).await?;
            Ok(Arc::new(store))
        }
        _ => {
            let path = settings.database_path.clone();
            let store = tokio::task::spawn_blocking(move || SqliteStore::open(&path))
                .await
                .map_err(|e| format!("opening the SQLite store: {e}"))??;
            Ok(Arc::new(store))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sqlite_when_no_url_and_refuses_other_schemes() {
        let dir = std::env::temp_dir().join(format!("tollgate-open-{}", uuid::Uuid::new_v4()));
        let mut settings = StoreSettings {
            database_url: None,
            database_path: dir.join("state.db"),
            pool_size: 2,
        };
        let store = open(&settings).await.expect("sqlite opens");
        assert_eq!(store.backend(), "sqlite");
        settings.database_url = Some("mysql://localhost/db".to_owned());
        let refused = open(&settings).await.err().unwrap_or_default();
        assert!(refused.contains("postgres://"), "{refused}");
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
