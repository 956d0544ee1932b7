//! Schema migrations: the numbered files under `schema/<backend>/`, embedded at build time,
//! each applied once, in order, in its own transaction, and recorded in
//! `tollgate_schema_migrations`. Running again applies nothing, so every start runs it.
//! On PostgreSQL the run holds an advisory lock, so nodes starting at once take turns.

/// (version, SQL) in order. A new migration is a new file and a new line here; a file
/// already shipped is never edited.
pub const SQLITE_MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../schema/sqlite/0001_init.sql")),
    (2, include_str!("../../schema/sqlite/0002_models.sql")),
];

pub const POSTGRES_MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../schema/postgres/0001_init.sql")),
    (
        2,
        include_str!("../../schema/postgres/0002_budget_holds.sql"),
    ),
    (3, include_str!("../../schema/postgres/0003_models.sql")),
];

/// The advisory lock key PostgreSQL nodes take while migrating (any fixed number; this is
/// "tollgate" in ASCII).
pub const POSTGRES_MIGRATION_LOCK: i64 = 0x746f_6c6c_6761_7465;

const CREATE_LEDGER_SQLITE: &str = "CREATE TABLE IF NOT EXISTS tollgate_schema_migrations (
    version INTEGER PRIMARY KEY,
    applied_at INTEGER NOT NULL
)";

const CREATE_LEDGER_POSTGRES: &str = "CREATE TABLE IF NOT EXISTS tollgate_schema_migrations (
    version INTEGER PRIMARY KEY,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)";

/// Applies the SQLite migrations not yet applied. Each runs under `BEGIN IMMEDIATE`, so a
/// second process opening the same file waits (busy_timeout) and then finds it applied.
pub fn migrate_sqlite(conn: &mut rusqlite::Connection) -> Result<(), String> {
    conn.execute_batch(CREATE_LEDGER_SQLITE)
        .map_err(|e| format!("creating the migrations table: {e}"))?;
    for (version, sql) in SQLITE_MIGRATIONS {
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| format!("migration {version}: {e}"))?;
        let applied: bool = tx
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM tollgate_schema_migrations WHERE version = ?1)",
                [version],
                |r| r.get(0),
            )
            .map_err(|e| format!("migration {version}: {e}"))?;
        if applied {
            continue;
        }
        tx.execute_batch(sql)
            .map_err(|e| format!("migration {version}: {e}"))?;
        tx.execute(
            "INSERT INTO tollgate_schema_migrations (version, applied_at) VALUES (?1, ?2)",
            rusqlite::params![version, super::now_ms()],
        )
        .map_err(|e| format!("migration {version}: {e}"))?;
        tx.commit()
            .map_err(|e| format!("migration {version}: {e}"))?;
    }
    Ok(())
}

/// Applies the PostgreSQL migrations not yet applied, holding the advisory lock throughout.
/// Takes its own connection (not a pooled one), so the session lock ends with it even when a
/// migration fails half-way.
pub async fn migrate_postgres(client: &mut tokio_postgres::Client) -> Result<(), String> {
    let describe = |e: tokio_postgres::Error| super::postgres::describe_error(&e);
    client
        .execute("SELECT pg_advisory_lock($1)", &[&POSTGRES_MIGRATION_LOCK])
        .await
        .map_err(|e| format!("taking the migration lock: {}", describe(e)))?;
    let outcome = apply_postgres(client).await;
    // A failed unlock is harmless: the caller drops this connection, which ends the lock.
    let _ = client
        .execute("SELECT pg_advisory_unlock($1)", &[&POSTGRES_MIGRATION_LOCK])
        .await;
    outcome
}

async fn apply_postgres(client: &mut tokio_postgres::Client) -> Result<(), String> {
    let describe = |e: tokio_postgres::Error| super::postgres::describe_error(&e);
    client
        .batch_execute(CREATE_LEDGER_POSTGRES)
        .await
        .map_err(|e| format!("creating the migrations table: {}", describe(e)))?;
    for (version, sql) in POSTGRES_MIGRATIONS {
        let version = *version as i32;
        let fail = |e: tokio_postgres::Error| format!("migration {version}: {}", describe(e));
        let tx = client.transaction().await.map_err(fail)?;
        let applied = tx
            .query_opt(
                "SELECT 1 FROM tollgate_schema_migrations WHERE version = $1",
                &[&version],
            )
            .await
            .map_err(fail)?
            .is_some();
        if applied {
            continue;
        }
        tx.batch_execute(sql).await.map_err(fail)?;
        tx.execute(
            "INSERT INTO tollgate_schema_migrations (version) VALUES ($1)",
            &[&version],
        )
        .await
        .map_err(fail)?;
        tx.commit().await.map_err(fail)?;
    }
    Ok(())
}
