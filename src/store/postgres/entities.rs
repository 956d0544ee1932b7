//! Entity tables on PostgreSQL. Every change stamps `updated_ms` with
//! GREATEST(now, previous + 1), so each change of one entity has a later stamp than the last.

use super::{pg_error, pg_json, pg_text};
use crate::store::columns::{finite_spend, page, OwnerColumns};
use crate::store::{now_ms, Document, Entity, ListFilter, StoreError, StoreResult, Table};
use deadpool_postgres::Client;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

const ENTITY_COLUMNS: &str = "id, doc::text AS doc, spend, budget_reset_at, updated_ms, deleted";

pub(super) fn entity_from_row(row: &Row) -> StoreResult<Entity> {
    let doc_text: String = row.try_get("doc").map_err(pg_error)?;
    let doc: Document = serde_json::from_str(&doc_text)
        .map_err(|e| StoreError::Unavailable(format!("postgres: stored document: {e}")))?;
    Ok(Entity {
        id: row.try_get("id").map_err(pg_error)?,
        doc,
        spend: row.try_get("spend").map_err(pg_error)?,
        budget_reset_at: row.try_get("budget_reset_at").map_err(pg_error)?,
        updated_ms: row.try_get("updated_ms").map_err(pg_error)?,
        deleted: row.try_get("deleted").map_err(pg_error)?,
    })
}

/// The owner columns, NUL-free.
fn owner_values(doc: &Document) -> [Option<String>; 4] {
    let owners = OwnerColumns::from_doc(doc);
    [
        owners.user_id,
        owners.team_id,
        owners.organization_id,
        owners.key_alias,
    ]
    .map(|v| v.map(|s| pg_text(&s).into_owned()))
}

pub async fn insert(client: &Client, table: Table, entity: &Entity) -> StoreResult<bool> {
    let name = table.sql_name();
    // A live row with the id is left alone (0 rows changed); a tombstone is replaced whole.
    let sql = format!(
        "INSERT INTO {name} (id, doc, spend, budget_reset_at, user_id, team_id,
             organization_id, key_alias, created_ms, updated_ms, deleted)
         VALUES ($1, $2::text::jsonb, $3, $4, $5, $6, $7, $8, $9, $9, FALSE)
         ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, spend = excluded.spend,
             budget_reset_at = excluded.budget_reset_at, user_id = excluded.user_id,
             team_id = excluded.team_id, organization_id = excluded.organization_id,
             key_alias = excluded.key_alias, created_ms = excluded.created_ms,
             updated_ms = GREATEST(excluded.updated_ms, {name}.updated_ms + 1), deleted = FALSE
         WHERE {name}.deleted"
    );
    let id = pg_text(&entity.id);
    let id: &str = &id;
    let doc = pg_json(&entity.doc);
    let spend = finite_spend(entity.spend);
    let [user_id, team_id, organization_id, key_alias] = owner_values(&entity.doc);
    let statement = client.prepare_cached(&sql).await.map_err(pg_error)?;
    let changed = client
        .execute(
            &statement,
            &[
                &id,
                &doc,
                &spend,
                &entity.budget_reset_at,
                &user_id,
                &team_id,
                &organization_id,
                &key_alias,
                &now_ms(),
            ],
        )
        .await
        .map_err(pg_error)?;
    Ok(changed == 1)
}

pub async fn update(
    client: &Client,
    table: Table,
    id: &str,
    doc: &Document,
    budget_reset_at: Option<i64>,
) -> StoreResult<bool> {
    let sql = format!(
        "UPDATE {} SET doc = $1::text::jsonb, budget_reset_at = $2, user_id = $3,
             team_id = $4, organization_id = $5, key_alias = $6,
             updated_ms = GREATEST($7, updated_ms + 1)
         WHERE id = $8 AND NOT deleted",
        table.sql_name()
    );
    let doc_text = pg_json(doc);
    let [user_id, team_id, organization_id, key_alias] = owner_values(doc);
    let id = pg_text(id);
    let id: &str = &id;
    let statement = client.prepare_cached(&sql).await.map_err(pg_error)?;
    let changed = client
        .execute(
            &statement,
            &[
                &doc_text,
                &budget_reset_at,
                &user_id,
                &team_id,
                &organization_id,
                &key_alias,
                &now_ms(),
                &id,
            ],
        )
        .await
        .map_err(pg_error)?;
    Ok(changed == 1)
}

/// The live entity with this id; a tombstone reads as absent.
pub async fn get(client: &Client, table: Table, id: &str) -> StoreResult<Option<Entity>> {
    let sql = format!(
        "SELECT {ENTITY_COLUMNS} FROM {} WHERE id = $1 AND NOT deleted",
        table.sql_name()
    );
    let id = pg_text(id);
    let id: &str = &id;
    let statement = client.prepare_cached(&sql).await.map_err(pg_error)?;
    let row = client
        .query_opt(&statement, &[&id])
        .await
        .map_err(pg_error)?;
    row.as_ref().map(entity_from_row).transpose()
}

pub async fn delete(client: &Client, table: Table, id: &str) -> StoreResult<bool> {
    let sql = format!(
        "UPDATE {} SET deleted = TRUE, updated_ms = GREATEST($1, updated_ms + 1)
         WHERE id = $2 AND NOT deleted",
        table.sql_name()
    );
    let id = pg_text(id);
    let id: &str = &id;
    let statement = client.prepare_cached(&sql).await.map_err(pg_error)?;
    let changed = client
        .execute(&statement, &[&now_ms(), &id])
        .await
        .map_err(pg_error)?;
    Ok(changed == 1)
}

pub async fn list(
    client: &mut Client,
    table: Table,
    filter: &ListFilter,
) -> StoreResult<(Vec<Entity>, u64)> {
    let mut conditions = vec!["NOT deleted".to_owned()];
    let mut values: Vec<String> = Vec::new();
    let owner_filters = [
        ("user_id", &filter.user_id),
        ("team_id", &filter.team_id),
        ("organization_id", &filter.organization_id),
        ("key_alias", &filter.key_alias),
    ];
    for (column, wanted) in owner_filters {
        if let Some(wanted) = wanted {
            values.push(pg_text(wanted).into_owned());
            conditions.push(format!("{column} = ${}", values.len()));
        }
    }
    let name = table.sql_name();
    let where_clause = conditions.join(" AND ");
    let (limit, offset) = page(filter.offset, filter.limit);
    let mut params: Vec<&(dyn ToSql + Sync)> =
        values.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
    let count_sql = format!("SELECT COUNT(*) FROM {name} WHERE {where_clause}");
    let page_sql = format!(
        "SELECT {ENTITY_COLUMNS} FROM {name} WHERE {where_clause}
         ORDER BY created_ms, id LIMIT ${} OFFSET ${}",
        values.len() + 1,
        values.len() + 2
    );
    // One snapshot for the count and the page.
    let tx = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(pg_error)?;
    let count_statement = tx.prepare_cached(&count_sql).await.map_err(pg_error)?;
    let total: i64 = tx
        .query_one(&count_statement, &params)
        .await
        .map_err(pg_error)?
        .try_get(0)
        .map_err(pg_error)?;
    params.push(&limit);
    params.push(&offset);
    let page_statement = tx.prepare_cached(&page_sql).await.map_err(pg_error)?;
    let rows = tx.query(&page_statement, &params).await.map_err(pg_error)?;
    tx.commit().await.map_err(pg_error)?;
    let entities = rows
        .iter()
        .map(entity_from_row)
        .collect::<StoreResult<Vec<Entity>>>()?;
    Ok((entities, u64::try_from(total).unwrap_or(0)))
}

pub async fn changed_since(
    client: &mut Client,
    since_ms: i64,
) -> StoreResult<Vec<(Table, Entity)>> {
    let tx = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(pg_error)?;
    let mut changed = Vec::new();
    for table in Table::ALL {
        let sql = format!(
            "SELECT {ENTITY_COLUMNS} FROM {} WHERE updated_ms >= $1 ORDER BY updated_ms, id",
            table.sql_name()
        );
        let statement = tx.prepare_cached(&sql).await.map_err(pg_error)?;
        for row in tx.query(&statement, &[&since_ms]).await.map_err(pg_error)? {
            changed.push((table, entity_from_row(&row)?));
        }
    }
    tx.commit().await.map_err(pg_error)?;
    Ok(changed)
}

pub async fn reset_spend(
    client: &Client,
    table: Table,
    id: &str,
    expected_reset_at: Option<i64>,
    next_reset_at: Option<i64>,
) -> StoreResult<bool> {
    let sql = format!(
        "UPDATE {} SET spend = 0, budget_reset_at = $1,
             updated_ms = GREATEST($2, updated_ms + 1)
         WHERE id = $3 AND NOT deleted AND budget_reset_at IS NOT DISTINCT FROM $4",
        table.sql_name()
    );
    let id = pg_text(id);
    let id: &str = &id;
    let statement = client.prepare_cached(&sql).await.map_err(pg_error)?;
    let changed = client
        .execute(
            &statement,
            &[&next_reset_at, &now_ms(), &id, &expected_reset_at],
        )
        .await
        .map_err(pg_error)?;
    Ok(changed == 1)
}

pub async fn reset_all_spend(client: &mut Client) -> StoreResult<()> {
    let tx = client.transaction().await.map_err(pg_error)?;
    let now = now_ms();
    for table in Table::ALL {
        let sql = format!(
            "UPDATE {} SET spend = 0, updated_ms = GREATEST($1, updated_ms + 1)
             WHERE spend <> 0",
            table.sql_name()
        );
        let statement = tx.prepare_cached(&sql).await.map_err(pg_error)?;
        tx.execute(&statement, &[&now]).await.map_err(pg_error)?;
    }
    tx.commit().await.map_err(pg_error)
}
