use super::testing::TempCluster;
use super::PostgresStore;
use crate::store::conformance::{self, spend_row};
use crate::store::{Store, StoreError, Table};
use serde_json::json;
use std::time::{Duration, Instant};

/// Runs raw SQL on a database (test setup the store's API has no call for).
async fn execute(url: &str, sql: &str) -> Result<u64, String> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .map_err(|e| e.to_string())?;
    let connection_task = tokio::spawn(connection);
    let outcome = client
        .execute(sql, &[])
        .await
        .map_err(|e| super::describe_error(&e));
    drop(client);
    let _ = connection_task.await;
    outcome
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_conformance_suite() {
    let Some(cluster) = TempCluster::start_or_skip() else {
        return;
    };
    for (name, case) in conformance::CASES {
        let url = cluster.create_database(name).await.expect("database");
        let store = PostgresStore::connect(&url, 4).await.expect("connect");
        assert_eq!(store.backend(), "postgres");
        eprintln!("postgres conformance case: {name}");
        case(&store).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_migrations_are_idempotent() {
    let Some(cluster) = TempCluster::start_or_skip() else {
        return;
    };
    let url = cluster.create_database("twice").await.expect("database");
    let first = PostgresStore::connect(&url, 2).await.expect("connect");
    let key = conformance::entity("k", json!({"key_alias": "kept"}));
    assert!(first.insert(Table::Keys, &key).await.expect("insert"));
    let second = PostgresStore::connect(&url, 2)
        .await
        .expect("connect again");
    assert!(second.get(Table::Keys, "k").await.expect("get").is_some());
    let count = execute(&url, "SELECT version FROM tollgate_schema_migrations").await;
    let expected = crate::store::migrate::POSTGRES_MIGRATIONS.len() as u64;
    assert_eq!(count, Ok(expected));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_nodes_migrate_at_once() {
    let Some(cluster) = TempCluster::start_or_skip() else {
        return;
    };
    let url = cluster.create_database("fresh").await.expect("database");
    let (left, right) = tokio::join!(
        PostgresStore::connect(&url, 2),
        PostgresStore::connect(&url, 2)
    );
    let (left, right) = (left.expect("first node"), right.expect("second node"));
    let key = conformance::entity("k", json!({}));
    assert!(left.insert(Table::Keys, &key).await.expect("insert"));
    assert!(!right.insert(Table::Keys, &key).await.expect("insert"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_then_recovery() {
    let Some(mut cluster) = TempCluster::start_or_skip() else {
        return;
    };
    let url = cluster.create_database("outage").await.expect("database");
    let store = PostgresStore::connect(&url, 4).await.expect("connect");
    let key = conformance::entity("k", json!({}));
    assert!(store.insert(Table::Keys, &key).await.expect("insert"));

    cluster.stop().expect("stop");
    for attempt in 0..3 {
        let started = Instant::now();
        let outcome = store.get(Table::Keys, "k").await;
        assert!(
            matches!(outcome, Err(StoreError::Unavailable(_))),
            "{outcome:?}"
        );
        let written = store.write_spend(&[spend_row("r1", "k", 0.5)], true).await;
        assert!(
            matches!(written, Err(StoreError::Unavailable(_))),
            "{written:?}"
        );
        let waited = started.elapsed();
        assert!(
            waited < Duration::from_secs(8),
            "attempt {attempt} took {waited:?}"
        );
    }

    cluster.start_server().expect("start again");
    let back = store.get(Table::Keys, "k").await;
    assert!(back.as_ref().is_ok_and(Option::is_some), "{back:?}");
    let written = store.write_spend(&[spend_row("r1", "k", 0.5)], true).await;
    assert_eq!(
        written,
        Ok(1),
        "the batch failed in the outage is written once"
    );
    let key = store
        .get(Table::Keys, "k")
        .await
        .expect("get")
        .expect("key");
    assert_eq!(key.spend, 0.5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_failed_batch_leaves_nothing() {
    let Some(cluster) = TempCluster::start_or_skip() else {
        return;
    };
    let url = cluster.create_database("rollback").await.expect("database");
    let store = PostgresStore::connect(&url, 2).await.expect("connect");
    assert!(store
        .insert(Table::Keys, &conformance::entity("k", json!({})))
        .await
        .expect("insert"));
    let refuse = "CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF NEW.model = 'boom' THEN RAISE EXCEPTION 'boom refused'; END IF;
        RETURN NEW; END $$";
    execute(&url, refuse).await.expect("function");
    let trigger = "CREATE TRIGGER refuse_boom BEFORE INSERT ON daily_spend
        FOR EACH ROW EXECUTE FUNCTION refuse_boom()";
    execute(&url, trigger).await.expect("trigger");
    let good = spend_row("r1", "k", 0.5);
    let mut bad = spend_row("r2", "k", 1.0);
    bad.model = "boom".into();
    let failed = store.write_spend(&[good.clone(), bad], true).await;
    let message = match failed {
        Err(StoreError::Unavailable(message)) => message,
        other => panic!("{other:?}"),
    };
    assert!(message.contains("boom refused"), "{message}");
    let key = store
        .get(Table::Keys, "k")
        .await
        .expect("get")
        .expect("key");
    assert_eq!(key.spend, 0.0, "rolled back");
    assert_eq!(store.write_spend(&[good], true).await, Ok(1));
}

#[tokio::test]
async fn postgres_connect_to_nothing_fails_fast() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let started = Instant::now();
    let url = format!("postgres://postgres@127.0.0.1:{port}/none");
    let refused = PostgresStore::connect(&url, 2)
        .await
        .err()
        .unwrap_or_default();
    assert!(refused.contains("connecting"), "{refused}");
    assert!(started.elapsed() < Duration::from_secs(8));
    let bad_url = PostgresStore::connect("postgres://[", 2)
        .await
        .err()
        .unwrap_or_default();
    assert!(bad_url.contains("not a PostgreSQL URL"), "{bad_url}");
}

#[test]
fn nul_is_replaced_in_text_and_json() {
    assert_eq!(super::pg_text("a\0b"), "a\u{FFFD}b");
    assert_eq!(
        super::pg_json(&json!({"k\u{0}": ["\u{0}"], "s": "\\u0000"})),
        "{\"k\u{FFFD}\":[\"\u{FFFD}\"],\"s\":\"\\\\u0000\"}"
    );
}

/// Two nodes (two pools) holding one key's budget at once: never more holds than fit; a
/// written row ends its hold and its spend counts instead; an expired hold stops counting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_budget_holds_are_shared_by_every_node() {
    use crate::store::{now_ms, BudgetHold, HoldOutcome};
    let Some(cluster) = TempCluster::start_or_skip() else {
        return;
    };
    let url = cluster.create_database("holds").await.expect("database");
    let nodes = [
        std::sync::Arc::new(PostgresStore::connect(&url, 4).await.expect("connect")),
        std::sync::Arc::new(PostgresStore::connect(&url, 4).await.expect("connect")),
    ];
    assert!(nodes[0].shares_budgets());
    let key = conformance::entity("k", json!({"max_budget": 1.0}));
    assert!(nodes[0].insert(Table::Keys, &key).await.expect("insert"));
    let hold = |id: String, amount: f64, expires_ms: i64| BudgetHold {
        request_id: id,
        amount,
        expires_ms,
        owners: vec![(Table::Keys, "k".to_string(), 1.0)],
    };
    let far = now_ms() + 600_000;
    let mut tasks = Vec::new();
    for i in 0..40 {
        let node = std::sync::Arc::clone(&nodes[i % 2]);
        let h = hold(format!("r{i}"), 0.1 + 1e-9, far);
        tasks.push(tokio::spawn(
            async move { (i, node.hold_budgets(&h).await) },
        ));
    }
    let mut held = Vec::new();
    for t in tasks {
        let (i, outcome) = t.await.expect("task");
        match outcome.expect("hold") {
            HoldOutcome::Held => held.push(i),
            HoldOutcome::Refused { index, committed } => {
                assert_eq!(index, 0);
                assert!(committed > 0.89, "{committed}");
            }
        }
    }
    assert_eq!(
        held.len(),
        9,
        "0.1 (a hair over) fits 9 times in 1.0: {held:?}"
    );

    // Three calls end, costing 0.05 each: their holds go, their spend stays.
    let rows: Vec<_> = held[..3]
        .iter()
        .map(|i| spend_row(&format!("r{i}"), "k", 0.05))
        .collect();
    assert_eq!(nodes[1].write_spend(&rows, true).await.expect("write"), 3);
    // Committed now: 0.15 spent + 6 holds (≈0.6): room for 2 more, not 3.
    let outcomes = [
        nodes[0].hold_budgets(&hold("a".into(), 0.1, far)).await,
        nodes[1].hold_budgets(&hold("b".into(), 0.1, far)).await,
        nodes[0].hold_budgets(&hold("c".into(), 0.1, far)).await,
    ];
    let outcomes: Vec<_> = outcomes.into_iter().map(|o| o.expect("hold")).collect();
    assert_eq!(outcomes[..2], [HoldOutcome::Held, HoldOutcome::Held]);
    assert!(matches!(outcomes[2], HoldOutcome::Refused { .. }));

    // An expired hold (its node died) no longer counts.
    let dead = execute(&url, "UPDATE budget_holds SET expires_ms = 0").await;
    assert!(dead.expect("expire") > 0);
    let again = nodes[1].hold_budgets(&hold("d".into(), 0.8, far)).await;
    assert_eq!(again.expect("hold"), HoldOutcome::Held);
}
