//! Budget holds on PostgreSQL, shared by every node: a call's worst-case cost held against
//! each capped owner in one transaction, all or none. Each owner's row is locked first
//! (`FOR UPDATE`), in one global order so two calls never wait on each other in a cycle, and
//! only then are its live holds summed: under READ COMMITTED that later statement sees every
//! hold committed by whoever held the lock before, so two nodes can never both take the last
//! room.

use super::{pg_error, pg_text};
use crate::store::columns::finite_spend;
use crate::store::{now_ms, BudgetHold, HoldOutcome, StoreResult};
use deadpool_postgres::Client;

const SUM_HOLDS: &str = "SELECT COALESCE(SUM(amount), 0)::DOUBLE PRECISION FROM budget_holds
    WHERE owner_table = $1 AND owner_id = $2 AND expires_ms > $3";

const INSERT_HOLD: &str = "INSERT INTO budget_holds (request_id, owner_table, owner_id, amount,
        expires_ms)
    VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (request_id, owner_table, owner_id) DO UPDATE SET amount = excluded.amount,
        expires_ms = excluded.expires_ms";

/// Expired holds are kept this long before they are deleted (they no longer count).
const EXPIRED_KEPT_MS: i64 = 60_000;

pub async fn hold(client: &mut Client, hold: &BudgetHold) -> StoreResult<HoldOutcome> {
    let amount = finite_spend(hold.amount).max(0.0);
    let now = now_ms();
    let mut order: Vec<usize> = (0..hold.owners.len()).collect();
    order.sort_by(|&a, &b| {
        let (ta, ia, _) = &hold.owners[a];
        let (tb, ib, _) = &hold.owners[b];
        (ta.sql_name(), ia).cmp(&(tb.sql_name(), ib))
    });
    let tx = client.transaction().await.map_err(pg_error)?;
    let sum_holds = tx.prepare_cached(SUM_HOLDS).await.map_err(pg_error)?;
    let insert_hold = tx.prepare_cached(INSERT_HOLD).await.map_err(pg_error)?;
    let request_id = pg_text(&hold.request_id);
    let request_id: &str = &request_id;
    for index in order {
        let (table, id, max_budget) = &hold.owners[index];
        let id = pg_text(id);
        let id: &str = &id;
        let lock = format!(
            "SELECT spend FROM {} WHERE id = $1 AND NOT deleted FOR UPDATE",
            table.sql_name()
        );
        let lock = tx.prepare_cached(&lock).await.map_err(pg_error)?;
        let Some(row) = tx.query_opt(&lock, &[&id]).await.map_err(pg_error)? else {
            // Not stored (deleted meanwhile): nothing shared to hold against.
            continue;
        };
        let spend: f64 = row.try_get(0).map_err(pg_error)?;
        let owner_table = table.sql_name();
        let held: f64 = tx
            .query_one(&sum_holds, &[&owner_table, &id, &now])
            .await
            .and_then(|r| r.try_get(0))
            .map_err(pg_error)?;
        let committed = spend + held;
        if spend >= *max_budget || committed + amount > *max_budget {
            // Dropping the transaction rolls back the holds already taken.
            return Ok(HoldOutcome::Refused { index, committed });
        }
        tx.execute(
            &insert_hold,
            &[&request_id, &owner_table, &id, &amount, &hold.expires_ms],
        )
        .await
        .map_err(pg_error)?;
    }
    tx.commit().await.map_err(pg_error)?;
    Ok(HoldOutcome::Held)
}

/// Ends the holds of calls whose rows are being written, in the caller's transaction.
pub async fn end_holds(
    tx: &deadpool_postgres::Transaction<'_>,
    request_ids: &[String],
) -> StoreResult<()> {
    let now = now_ms();
    let statement = tx
        .prepare_cached("DELETE FROM budget_holds WHERE request_id = ANY($1) OR expires_ms < $2")
        .await
        .map_err(pg_error)?;
    let ids: Vec<String> = request_ids
        .iter()
        .map(|r| pg_text(r).into_owned())
        .collect();
    tx.execute(&statement, &[&ids, &(now - EXPIRED_KEPT_MS)])
        .await
        .map_err(pg_error)?;
    Ok(())
}
