//! Entity tables on SQLite. Every change stamps `updated_ms` with max(now, previous + 1), so
//! each change of one entity has a later stamp than the one before it.

use crate::store::columns::{page, OwnerColumns};
use crate::store::{now_ms, Document, Entity, ListFilter, Table};
use rusqlite::types::Type;
use rusqlite::{params, Connection, Row, ToSql};

const ENTITY_COLUMNS: &str = "id, doc, spend, budget_reset_at, updated_ms, deleted";

/// Reads a row selected with `ENTITY_COLUMNS`.
fn entity_from_row(row: &Row<'_>) -> rusqlite::Result<Entity> {
    let doc_text: String = row.get(1)?;
    let doc: Document = serde_json::from_str(&doc_text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(1, Type::Text, Box::new(e)))?;
    Ok(Entity {
        id: row.get(0)?,
        doc,
        spend: row.get(2)?,
        budget_reset_at: row.get(3)?,
        updated_ms: row.get(4)?,
        deleted: row.get(5)?,
    })
}

fn doc_text(doc: &Document) -> String {
    // ok: a Map of Values always serializes.
    serde_json::to_string(doc).unwrap_or_else(|_| "{}".to_owned())
}

pub fn insert(conn: &mut Connection, table: Table, entity: &Entity) -> rusqlite::Result<bool> {
    let name = table.sql_name();
    let owners = OwnerColumns::from_doc(&entity.doc);
    let now = now_ms();
    // A live row with the id is left alone (0 rows changed); a tombstone is replaced whole.
    let sql = format!(
        "INSERT INTO {name} (id, doc, spend, budget_reset_at, user_id, team_id,
             organization_id, key_alias, created_ms, updated_ms, deleted)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, 0)
         ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, spend = excluded.spend,
             budget_reset_at = excluded.budget_reset_at, user_id = excluded.user_id,
             team_id = excluded.team_id, organization_id = excluded.organization_id,
             key_alias = excluded.key_alias, created_ms = excluded.created_ms,
             updated_ms = MAX(excluded.updated_ms, {name}.updated_ms + 1), deleted = 0
         WHERE {name}.deleted <> 0"
    );
    let changed = conn.prepare_cached(&sql)?.execute(params![
        entity.id,
        doc_text(&entity.doc),
        crate::store::columns::finite_spend(entity.spend),
        entity.budget_reset_at,
        owners.user_id,
        owners.team_id,
        owners.organization_id,
        owners.key_alias,
        now,
    ])?;
    Ok(changed == 1)
}

pub fn update(
    conn: &mut Connection,
    table: Table,
    id: &str,
    doc: &Document,
    budget_reset_at: Option<i64>,
) -> rusqlite::Result<bool> {
    let owners = OwnerColumns::from_doc(doc);
    let sql = format!(
        "UPDATE {} SET doc = ?1, budget_reset_at = ?2, user_id = ?3, team_id = ?4,
             organization_id = ?5, key_alias = ?6, updated_ms = MAX(?7, updated_ms + 1)
         WHERE id = ?8 AND deleted = 0",
        table.sql_name()
    );
    let changed = conn.prepare_cached(&sql)?.execute(params![
        doc_text(doc),
        budget_reset_at,
        owners.user_id,
        owners.team_id,
        owners.organization_id,
        owners.key_alias,
        now_ms(),
        id,
    ])?;
    Ok(changed == 1)
}

/// The live entity with this id; a tombstone reads as absent.
pub fn get(conn: &mut Connection, table: Table, id: &str) -> rusqlite::Result<Option<Entity>> {
    let sql = format!(
        "SELECT {ENTITY_COLUMNS} FROM {} WHERE id = ?1 AND deleted = 0",
        table.sql_name()
    );
    let mut statement = conn.prepare_cached(&sql)?;
    let mut rows = statement.query([id])?;
    match rows.next()? {
        Some(row) => Ok(Some(entity_from_row(row)?)),
        None => Ok(None),
    }
}

pub fn delete(conn: &mut Connection, table: Table, id: &str) -> rusqlite::Result<bool> {
    let sql = format!(
        "UPDATE {} SET deleted = 1, updated_ms = MAX(?1, updated_ms + 1)
         WHERE id = ?2 AND deleted = 0",
        table.sql_name()
    );
    let changed = conn.prepare_cached(&sql)?.execute(params![now_ms(), id])?;
    Ok(changed == 1)
}

pub fn list(
    conn: &mut Connection,
    table: Table,
    filter: &ListFilter,
) -> rusqlite::Result<(Vec<Entity>, u64)> {
    let mut conditions = vec!["deleted = 0".to_owned()];
    let mut values: Vec<&str> = Vec::new();
    let owner_filters = [
        ("user_id", &filter.user_id),
        ("team_id", &filter.team_id),
        ("organization_id", &filter.organization_id),
        ("key_alias", &filter.key_alias),
    ];
    for (column, wanted) in owner_filters {
        if let Some(wanted) = wanted {
            values.push(wanted);
            conditions.push(format!("{column} = ?{}", values.len()));
        }
    }
    let name = table.sql_name();
    let where_clause = conditions.join(" AND ");
    let tx = conn.transaction()?;
    let total: i64 = {
        let sql = format!("SELECT COUNT(*) FROM {name} WHERE {where_clause}");
        let params: Vec<&dyn ToSql> = values.iter().map(|v| v as &dyn ToSql).collect();
        tx.prepare_cached(&sql)?
            .query_row(params.as_slice(), |r| r.get(0))?
    };
    let (limit, offset) = page(filter.offset, filter.limit);
    let entities = {
        let sql = format!(
            "SELECT {ENTITY_COLUMNS} FROM {name} WHERE {where_clause}
             ORDER BY created_ms, id LIMIT ?{} OFFSET ?{}",
            values.len() + 1,
            values.len() + 2
        );
        let mut params: Vec<&dyn ToSql> = values.iter().map(|v| v as &dyn ToSql).collect();
        params.push(&limit);
        params.push(&offset);
        let mut statement = tx.prepare_cached(&sql)?;
        let rows = statement.query_map(params.as_slice(), entity_from_row)?;
        rows.collect::<rusqlite::Result<Vec<Entity>>>()?
    };
    tx.commit()?;
    Ok((entities, u64::try_from(total).unwrap_or(0)))
}

pub fn changed_since(
    conn: &mut Connection,
    since_ms: i64,
) -> rusqlite::Result<Vec<(Table, Entity)>> {
    let tx = conn.transaction()?;
    let mut changed = Vec::new();
    for table in Table::ALL {
        let sql = format!(
            "SELECT {ENTITY_COLUMNS} FROM {} WHERE updated_ms >= ?1 ORDER BY updated_ms, id",
            table.sql_name()
        );
        let mut statement = tx.prepare_cached(&sql)?;
        let rows = statement.query_map([since_ms], entity_from_row)?;
        for entity in rows {
            changed.push((table, entity?));
        }
    }
    tx.commit()?;
    Ok(changed)
}

pub fn reset_spend(
    conn: &mut Connection,
    table: Table,
    id: &str,
    expected_reset_at: Option<i64>,
    next_reset_at: Option<i64>,
) -> rusqlite::Result<bool> {
    // `IS` compares NULL with NULL as equal: an entity never reset matches `None`.
    let sql = format!(
        "UPDATE {} SET spend = 0, budget_reset_at = ?1, updated_ms = MAX(?2, updated_ms + 1)
         WHERE id = ?3 AND deleted = 0 AND budget_reset_at IS ?4",
        table.sql_name()
    );
    let changed = conn.prepare_cached(&sql)?.execute(params![
        next_reset_at,
        now_ms(),
        id,
        expected_reset_at
    ])?;
    Ok(changed == 1)
}

pub fn reset_all_spend(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    let now = now_ms();
    for table in Table::ALL {
        let sql = format!(
            "UPDATE {} SET spend = 0, updated_ms = MAX(?1, updated_ms + 1) WHERE spend <> 0",
            table.sql_name()
        );
        tx.prepare_cached(&sql)?.execute([now])?;
    }
    tx.commit()
}
