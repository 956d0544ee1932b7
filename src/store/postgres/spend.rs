//! Spend on PostgreSQL: the batch write (idempotency ledger, spend rows, entity totals,
//! daily aggregates, all in one transaction) and the two reads.

use super::{pg_error, pg_json, pg_text};
use crate::store::columns::{finite_spend, from_sql_int, spend_day, spend_targets, to_sql_int};
use crate::store::{now_ms, DailySpend, SpendQuery, SpendRow, StoreError, StoreResult};
use deadpool_postgres::Client;
use serde_json::Value;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

const INSERT_ID: &str = "INSERT INTO spend_log_ids (request_id, created_ms) VALUES ($1, $2)
    ON CONFLICT DO NOTHING";

const INSERT_ROW: &str = "INSERT INTO spend_logs (request_id, call_type, api_key, spend,
        total_tokens, prompt_tokens, completion_tokens, start_time, end_time, model,
        model_group, model_id, api_base, custom_llm_provider, \"user\", team_id,
        organization_id, end_user, metadata, cache_hit, request_tags, status, messages,
        response)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
        $19::text::jsonb, $20, $21::text::jsonb, $22, $23::text::jsonb, $24::text::jsonb)
    ON CONFLICT DO NOTHING";

const UPSERT_DAY: &str = "INSERT INTO daily_spend (date, api_key, model, model_group,
        custom_llm_provider, user_id, team_id, organization_id, end_user, spend,
        prompt_tokens, completion_tokens, total_tokens, requests, upserted_ms)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 1, $14)
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
    api_base, custom_llm_provider, \"user\", team_id, organization_id, end_user,
    metadata::text AS metadata, cache_hit, request_tags::text AS request_tags, status,
    messages::text AS messages, response::text AS response";

/// A spend row's text fields, NUL-free, in the order of `SpendRow`'s text columns.
struct CleanRow {
    request_id: String,
    call_type: String,
    api_key: String,
    start_time: String,
    end_time: String,
    model: String,
    model_group: String,
    model_id: String,
    api_base: String,
    custom_llm_provider: String,
    user: String,
    team_id: String,
    organization_id: String,
    end_user: String,
    cache_hit: String,
    status: String,
}

impl CleanRow {
    fn of(row: &SpendRow) -> CleanRow {
        let clean = |s: &str| pg_text(s).into_owned();
        CleanRow {
            request_id: clean(&row.request_id),
            call_type: clean(&row.call_type),
            api_key: clean(&row.api_key),
            start_time: clean(&row.start_time),
            end_time: clean(&row.end_time),
            model: clean(&row.model),
            model_group: clean(&row.model_group),
            model_id: clean(&row.model_id),
            api_base: clean(&row.api_base),
            custom_llm_provider: clean(&row.custom_llm_provider),
            user: clean(&row.user),
            team_id: clean(&row.team_id),
            organization_id: clean(&row.organization_id),
            end_user: clean(&row.end_user),
            cache_hit: clean(&row.cache_hit),
            status: clean(&row.status),
        }
    }
}

pub async fn write_spend(
    client: &mut Client,
    rows: &[SpendRow],
    keep_rows: bool,
) -> StoreResult<usize> {
    let tx = client.transaction().await.map_err(pg_error)?;
    let insert_id = tx.prepare_cached(INSERT_ID).await.map_err(pg_error)?;
    let insert_row = tx.prepare_cached(INSERT_ROW).await.map_err(pg_error)?;
    let upsert_day = tx.prepare_cached(UPSERT_DAY).await.map_err(pg_error)?;
    let now = now_ms();
    let mut new_rows = 0;
    for row in rows {
        let clean = CleanRow::of(row);
        let recorded = tx
            .execute(&insert_id, &[&clean.request_id, &now])
            .await
            .map_err(pg_error)?;
        if recorded == 0 {
            continue;
        }
        new_rows += 1;
        let spend = finite_spend(row.spend);
        let (prompt, completion, total) = (
            to_sql_int(row.prompt_tokens),
            to_sql_int(row.completion_tokens),
            to_sql_int(row.total_tokens),
        );
        if keep_rows {
            let (metadata, tags) = (pg_json(&row.metadata), pg_json(&row.request_tags));
            let (messages, response) = (pg_json(&row.messages), pg_json(&row.response));
            let params: [&(dyn ToSql + Sync); 24] = [
                &clean.request_id,
                &clean.call_type,
                &clean.api_key,
                &spend,
                &total,
                &prompt,
                &completion,
                &clean.start_time,
                &clean.end_time,
                &clean.model,
                &clean.model_group,
                &clean.model_id,
                &clean.api_base,
                &clean.custom_llm_provider,
                &clean.user,
                &clean.team_id,
                &clean.organization_id,
                &clean.end_user,
                &metadata,
                &clean.cache_hit,
                &tags,
                &clean.status,
                &messages,
                &response,
            ];
            tx.execute(&insert_row, &params).await.map_err(pg_error)?;
        }
        for (table, id) in spend_targets(row) {
            let sql = format!(
                "UPDATE {} SET spend = spend + $1, updated_ms = GREATEST($2, updated_ms + 1)
                 WHERE id = $3",
                table.sql_name()
            );
            let id = pg_text(id);
            let id: &str = &id;
            let statement = tx.prepare_cached(&sql).await.map_err(pg_error)?;
            tx.execute(&statement, &[&spend, &now, &id])
                .await
                .map_err(pg_error)?;
        }
        let day = pg_text(spend_day(&row.start_time));
        let day: &str = &day;
        let params: [&(dyn ToSql + Sync); 14] = [
            &day,
            &clean.api_key,
            &clean.model,
            &clean.model_group,
            &clean.custom_llm_provider,
            &clean.user,
            &clean.team_id,
            &clean.organization_id,
            &clean.end_user,
            &spend,
            &prompt,
            &completion,
            &total,
            &now,
        ];
        tx.execute(&upsert_day, &params).await.map_err(pg_error)?;
    }
    let request_ids: Vec<String> = rows.iter().map(|r| r.request_id.clone()).collect();
    super::holds::end_holds(&tx, &request_ids).await?;
    tx.commit().await.map_err(pg_error)?;
    Ok(new_rows)
}

fn json_column<T: serde::de::DeserializeOwned>(row: &Row, name: &str) -> StoreResult<T> {
    let text: String = row.try_get(name).map_err(pg_error)?;
    serde_json::from_str(&text)
        .map_err(|e| StoreError::Unavailable(format!("postgres: stored {name}: {e}")))
}

fn spend_row_from_row(row: &Row) -> StoreResult<SpendRow> {
    let text = |name: &str| row.try_get::<_, String>(name).map_err(pg_error);
    let count = |name: &str| {
        row.try_get::<_, i64>(name)
            .map(from_sql_int)
            .map_err(pg_error)
    };
    Ok(SpendRow {
        request_id: text("request_id")?,
        call_type: text("call_type")?,
        api_key: text("api_key")?,
        spend: row.try_get("spend").map_err(pg_error)?,
        total_tokens: count("total_tokens")?,
        prompt_tokens: count("prompt_tokens")?,
        completion_tokens: count("completion_tokens")?,
        start_time: text("start_time")?,
        end_time: text("end_time")?,
        model: text("model")?,
        model_group: text("model_group")?,
        model_id: text("model_id")?,
        api_base: text("api_base")?,
        custom_llm_provider: text("custom_llm_provider")?,
        user: text("user")?,
        team_id: text("team_id")?,
        organization_id: text("organization_id")?,
        end_user: text("end_user")?,
        metadata: json_column::<Value>(row, "metadata")?,
        cache_hit: text("cache_hit")?,
        request_tags: json_column(row, "request_tags")?,
        status: text("status")?,
        messages: json_column::<Value>(row, "messages")?,
        response: json_column::<Value>(row, "response")?,
        budget_ids: Vec::new(),
    })
}

pub async fn spend_logs(client: &Client, query: &SpendQuery) -> StoreResult<Vec<SpendRow>> {
    let mut conditions: Vec<String> = Vec::new();
    let mut values: Vec<String> = Vec::new();
    let equal_filters = [
        ("api_key", &query.api_key),
        ("\"user\"", &query.user_id),
        ("team_id", &query.team_id),
        ("request_id", &query.request_id),
    ];
    for (column, wanted) in equal_filters {
        if let Some(wanted) = wanted {
            values.push(pg_text(wanted).into_owned());
            conditions.push(format!("{column} = ${}", values.len()));
        }
    }
    if let Some(start) = &query.start_date {
        values.push(pg_text(start).into_owned());
        conditions.push(format!("start_time >= ${}::text", values.len()));
    }
    if let Some(end) = &query.end_date {
        // Inclusive of the whole end day: compare only as many characters as it has.
        values.push(pg_text(end).into_owned());
        let n = values.len();
        conditions.push(format!(
            "left(start_time, length(${n}::text)) <= ${n}::text"
        ));
    }
    let where_clause = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    let limit = query.limit.map(to_sql_int).unwrap_or(i64::MAX);
    let sql = format!(
        "SELECT {SPEND_ROW_COLUMNS} FROM spend_logs {where_clause}
         ORDER BY start_time DESC, request_id DESC LIMIT ${}",
        values.len() + 1
    );
    let mut params: Vec<&(dyn ToSql + Sync)> =
        values.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
    params.push(&limit);
    let statement = client.prepare_cached(&sql).await.map_err(pg_error)?;
    let rows = client.query(&statement, &params).await.map_err(pg_error)?;
    rows.iter().map(spend_row_from_row).collect()
}

pub async fn daily_spend(
    client: &Client,
    start_date: &str,
    end_date: &str,
) -> StoreResult<Vec<DailySpend>> {
    let statement = client
        .prepare_cached(
            "SELECT date, api_key, model, model_group, custom_llm_provider, user_id, team_id,
                 organization_id, end_user, spend, prompt_tokens, completion_tokens,
                 total_tokens, requests
             FROM daily_spend WHERE date >= $1 AND date <= $2
             ORDER BY date, api_key, model, model_group, custom_llm_provider, user_id,
                 team_id, organization_id, end_user",
        )
        .await
        .map_err(pg_error)?;
    let (start, end) = (pg_text(start_date), pg_text(end_date));
    let (start, end): (&str, &str) = (&start, &end);
    let rows = client
        .query(&statement, &[&start, &end])
        .await
        .map_err(pg_error)?;
    rows.iter()
        .map(|r| {
            let text = |i: usize| r.try_get::<_, String>(i).map_err(pg_error);
            let count = |i: usize| r.try_get::<_, i64>(i).map(from_sql_int).map_err(pg_error);
            Ok(DailySpend {
                date: text(0)?,
                api_key: text(1)?,
                model: text(2)?,
                model_group: text(3)?,
                custom_llm_provider: text(4)?,
                user_id: text(5)?,
                team_id: text(6)?,
                organization_id: text(7)?,
                end_user: text(8)?,
                spend: r.try_get(9).map_err(pg_error)?,
                prompt_tokens: count(10)?,
                completion_tokens: count(11)?,
                total_tokens: count(12)?,
                requests: count(13)?,
            })
        })
        .collect()
}
