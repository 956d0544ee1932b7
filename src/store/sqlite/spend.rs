//! Spend on SQLite: the batch write (idempotency ledger, spend rows, entity totals, daily
//! aggregates, all in one transaction) and the two reads.

use crate::store::columns::{finite_spend, from_sql_int, spend_day, spend_targets, to_sql_int};
use crate::store::{now_ms, DailySpend, SpendQuery, SpendRow};
use rusqlite::types::Type;
use rusqlite::{params, Connection, Row, ToSql, TransactionBehavior};
use serde_json::Value;

const INSERT_ID: &str =
    "INSERT INTO spend_log_ids (request_id, created_ms) VALUES (?1, ?2) ON CONFLICT DO NOTHING";

const INSERT_ROW: &str = "INSERT INTO spend_logs (request_id, call_type, api_key, spend,
        total_tokens, prompt_tokens, completion_tokens, start_time, end_time, model,
        model_group, model_id, api_base, custom_llm_provider, \"user\", team_id,
        organization_id, end_user, metadata, cache_hit, request_tags, status, messages,
        response)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
        ?19, ?20, ?21, ?22, ?23, ?24)
    ON CONFLICT DO NOTHING";

const UPSERT_DAY: &str = "INSERT INTO daily_spend (date, api_key, model, model_group,
        custom_llm_provider, user_id, team_id, organization_id, end_user, spend,
        prompt_tokens, completion_tokens, total_tokens, requests, upserted_ms)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, 1, ?14)
    ON CONFLICT (date, api_key, model, model_group, custom_llm_provider, user_id, team_id,
        organization_id, end_user)
    DO UPDATE SET spend = daily_spend.spend + excluded.spend,
        prompt_tokens = daily_spend.prompt_tokens + excluded.prompt_tokens,
        completion_tokens = daily_spend.completion_tokens + excluded.completion_tokens,
        total_tokens = daily_spend.total_tokens + excluded.total_tokens,
        requests = daily_spend.requests + 1,
        upserted_ms = excluded.upserted_ms";

const SPEND_ROW_COLUMNS: &str = "request_id, call_type, api_key, spend, total_tokens,
    prompt_tokens, completion_tokens, start_time, end_time, model, model_group, model_id,
    api_base, custom_llm_provider, \"user\", team_id, organization_id, end_user, metadata,
    cache_hit, request_tags, status, messages, response";

fn json_text(value: &impl serde::Serialize) -> String {
    // ok: Values and string lists always serialize.
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

pub fn write_spend(
    conn: &mut Connection,
    rows: &[SpendRow],
    keep_rows: bool,
) -> rusqlite::Result<usize> {
    // IMMEDIATE takes the write lock up front, so a busy file waits here (busy_timeout)
    // rather than failing half-way through the batch.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let now = now_ms();
    let mut new_rows = 0;
    for row in rows {
        let recorded = tx
            .prepare_cached(INSERT_ID)?
            .execute(params![row.request_id, now])?;
        if recorded == 0 {
            continue;
        }
        new_rows += 1;
        let spend = finite_spend(row.spend);
        if keep_rows {
            insert_row(&tx, row, spend)?;
        }
        for (table, id) in spend_targets(row) {
            let sql = format!(
                "UPDATE {} SET spend = spend + ?1, updated_ms = MAX(?2, updated_ms + 1)
                 WHERE id = ?3",
                table.sql_name()
            );
            tx.prepare_cached(&sql)?.execute(params![spend, now, id])?;
        }
        tx.prepare_cached(UPSERT_DAY)?.execute(params![
            spend_day(&row.start_time),
            row.api_key,
            row.model,
            row.model_group,
            row.custom_llm_provider,
            row.user,
            row.team_id,
            row.organization_id,
            row.end_user,
            spend,
            to_sql_int(row.prompt_tokens),
            to_sql_int(row.completion_tokens),
            to_sql_int(row.total_tokens),
            now,
        ])?;
    }
    tx.commit()?;
    Ok(new_rows)
}

fn insert_row(conn: &Connection, row: &SpendRow, spend: f64) -> rusqlite::Result<()> {
    conn.prepare_cached(INSERT_ROW)?.execute(params![
        row.request_id,
        row.call_type,
        row.api_key,
        spend,
        to_sql_int(row.total_tokens),
        to_sql_int(row.prompt_tokens),
        to_sql_int(row.completion_tokens),
        row.start_time,
        row.end_time,
        row.model,
        row.model_group,
        row.model_id,
        row.api_base,
        row.custom_llm_provider,
        row.user,
        row.team_id,
        row.organization_id,
        row.end_user,
        json_text(&row.metadata),
        row.cache_hit,
        json_text(&row.request_tags),
        row.status,
        json_text(&row.messages),
        json_text(&row.response),
    ])?;
    Ok(())
}

fn json_column<T: serde::de::DeserializeOwned>(row: &Row<'_>, index: usize) -> rusqlite::Result<T> {
    let text: String = row.get(index)?;
    serde_json::from_str(&text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(index, Type::Text, Box::new(e)))
}

fn spend_row_from_row(row: &Row<'_>) -> rusqlite::Result<SpendRow> {
    Ok(SpendRow {
        request_id: row.get(0)?,
        call_type: row.get(1)?,
        api_key: row.get(2)?,
        spend: row.get(3)?,
        total_tokens: from_sql_int(row.get(4)?),
        prompt_tokens: from_sql_int(row.get(5)?),
        completion_tokens: from_sql_int(row.get(6)?),
        start_time: row.get(7)?,
        end_time: row.get(8)?,
        model: row.get(9)?,
        model_group: row.get(10)?,
        model_id: row.get(11)?,
        api_base: row.get(12)?,
        custom_llm_provider: row.get(13)?,
        user: row.get(14)?,
        team_id: row.get(15)?,
        organization_id: row.get(16)?,
        end_user: row.get(17)?,
        metadata: json_column::<Value>(row, 18)?,
        cache_hit: row.get(19)?,
        request_tags: json_column(row, 20)?,
        status: row.get(21)?,
        messages: json_column::<Value>(row, 22)?,
        response: json_column::<Value>(row, 23)?,
        budget_ids: Vec::new(),
    })
}

pub fn spend_logs(conn: &mut Connection, query: &SpendQuery) -> rusqlite::Result<Vec<SpendRow>> {
    let mut conditions: Vec<String> = Vec::new();
    let mut values: Vec<&str> = Vec::new();
    let equal_filters = [
        ("api_key", &query.api_key),
        ("\"user\"", &query.user_id),
        ("team_id", &query.team_id),
        ("request_id", &query.request_id),
    ];
    for (column, wanted) in equal_filters {
        if let Some(wanted) = wanted {
            values.push(wanted);
            conditions.push(format!("{column} = ?{}", values.len()));
        }
    }
    if let Some(start) = &query.start_date {
        values.push(start);
        conditions.push(format!("start_time >= ?{}", values.len()));
    }
    if let Some(end) = &query.end_date {
        // Inclusive of the whole end day: compare only as many characters as it has.
        values.push(end);
        let n = values.len();
        conditions.push(format!("substr(start_time, 1, length(?{n})) <= ?{n}"));
    }
    let where_clause = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    let limit = query.limit.map(to_sql_int).unwrap_or(i64::MAX);
    let sql = format!(
        "SELECT {SPEND_ROW_COLUMNS} FROM spend_logs {where_clause}
         ORDER BY start_time DESC, request_id DESC LIMIT ?{}",
        values.len() + 1
    );
    let mut params: Vec<&dyn ToSql> = values.iter().map(|v| v as &dyn ToSql).collect();
    params.push(&limit);
    let mut statement = conn.prepare_cached(&sql)?;
    let rows = statement.query_map(params.as_slice(), spend_row_from_row)?;
    rows.collect()
}

pub fn daily_spend(
    conn: &mut Connection,
    start_date: &str,
    end_date: &str,
) -> rusqlite::Result<Vec<DailySpend>> {
    let mut statement = conn.prepare_cached(
        "SELECT date, api_key, model, model_group, custom_llm_provider, user_id, team_id,
             organization_id, end_user, spend, prompt_tokens, completion_tokens,
             total_tokens, requests
         FROM daily_spend WHERE date >= ?1 AND date <= ?2
         ORDER BY date, api_key, model, model_group, custom_llm_provider, user_id, team_id,
             organization_id, end_user",
    )?;
    let rows = statement.query_map([start_date, end_date], |r| {
        Ok(DailySpend {
            date: r.get(0)?,
            api_key: r.get(1)?,
            model: r.get(2)?,
            model_group: r.get(3)?,
            custom_llm_provider: r.get(4)?,
            user_id: r.get(5)?,
            team_id: r.get(6)?,
            organization_id: r.get(7)?,
            end_user: r.get(8)?,
            spend: r.get(9)?,
            prompt_tokens: from_sql_int(r.get(10)?),
            completion_tokens: from_sql_int(r.get(11)?),
            total_tokens: from_sql_int(r.get(12)?),
            requests: from_sql_int(r.get(13)?),
        })
    })?;
    rows.collect()
}
