// Test code only: the module is declared under #[cfg(test)] in its parent.
//! The spend half of the conformance suite: `write_spend`, its attribution and aggregates,
//! resets, and the spend log reads.

use super::entity;
use crate::store::{DailySpend, SpendQuery, SpendRow, Store, Table};
use serde_json::json;

pub fn spend_row(request_id: &str, api_key: &str, spend: f64) -> SpendRow {
    SpendRow {
        request_id: request_id.to_owned(),
        call_type: "acompletion".to_owned(),
        api_key: api_key.to_owned(),
        spend,
        prompt_tokens: 10,
        completion_tokens: 5,
        total_tokens: 15,
        start_time: "2026-12-01T10:00:00Z".to_owned(),
        end_time: "2026-12-01T10:00:01Z".to_owned(),
        model: "gpt-4o".to_owned(),
        model_group: "gpt-4o".to_owned(),
        status: "success".to_owned(),
        cache_hit: "False".to_owned(),
        ..SpendRow::default()
    }
}

async fn spend_of(store: &dyn Store, table: Table, id: &str) -> f64 {
    let found = store.get(table, id).await.expect("get");
    found
        .unwrap_or_else(|| panic!("{table:?} {id} missing"))
        .spend
}

async fn request_ids(store: &dyn Store, query: SpendQuery) -> Vec<String> {
    let rows = store.spend_logs(&query).await.expect("spend_logs");
    rows.into_iter().map(|r| r.request_id).collect()
}

pub async fn write_spend_idempotent(store: &dyn Store) {
    assert!(store
        .insert(Table::Keys, &entity("k", json!({})))
        .await
        .expect("insert"));
    assert_eq!(store.write_spend(&[], true).await.expect("empty batch"), 0);
    let (r1, r2) = (spend_row("r1", "k", 0.25), spend_row("r2", "k", 0.5));
    let (r3, r4) = (spend_row("r3", "k", 1.0), spend_row("r4", "k", 2.0));
    assert_eq!(
        store
            .write_spend(&[r1, r2.clone()], true)
            .await
            .expect("batch 1"),
        2
    );
    assert_eq!(
        store.write_spend(&[r2, r3], true).await.expect("batch 2"),
        1
    );
    assert_eq!(
        store
            .write_spend(&[r4.clone(), r4], true)
            .await
            .expect("batch 3"),
        1
    );
    assert_eq!(spend_of(store, Table::Keys, "k").await, 3.75);
    let r4_rows = SpendQuery {
        request_id: Some("r4".into()),
        ..SpendQuery::default()
    };
    assert_eq!(request_ids(store, r4_rows).await, vec!["r4"]);
    assert_eq!(request_ids(store, SpendQuery::default()).await.len(), 4);
    let days = store
        .daily_spend("2026-12-01", "2026-12-01")
        .await
        .expect("daily");
    assert_eq!(days.len(), 1);
    assert_eq!((days[0].requests, days[0].spend), (4, 3.75));
}

pub async fn spend_attribution(store: &dyn Store) {
    let owners = [
        (Table::Keys, "k"),
        (Table::Users, "u"),
        (Table::Teams, "t"),
        (Table::Organizations, "o"),
        (Table::Customers, "c"),
        (Table::Budgets, "b1"),
        (Table::Budgets, "b2"),
    ];
    for (table, id) in owners {
        assert!(store
            .insert(table, &entity(id, json!({})))
            .await
            .expect("insert"));
    }
    let before = store
        .get(Table::Teams, "t")
        .await
        .expect("get")
        .expect("team");
    let mut full = spend_row("r1", "k", 0.5);
    full.user = "u".into();
    full.team_id = "t".into();
    full.organization_id = "o".into();
    full.end_user = "c".into();
    // b1 twice (key and team share it) counts once; a missing budget is skipped.
    full.budget_ids = vec!["b1".into(), "b2".into(), "b1".into(), "missing".into()];
    let mut unknown = spend_row("r2", "ghost-key", 4.0);
    unknown.user = "ghost-user".into();
    unknown.budget_ids = vec!["b2".into()];
    let anonymous = spend_row("r3", "", 8.0);
    let written = store.write_spend(&[full, unknown, anonymous], true).await;
    assert_eq!(written.expect("write_spend"), 3);
    for (table, id) in owners {
        let expected = if id == "b2" { 4.5 } else { 0.5 };
        assert_eq!(spend_of(store, table, id).await, expected, "{table:?} {id}");
    }
    assert_eq!(
        store.get(Table::Keys, "ghost-key").await.expect("get"),
        None
    );
    let after = store
        .get(Table::Teams, "t")
        .await
        .expect("get")
        .expect("team");
    assert!(
        after.updated_ms > before.updated_ms,
        "spend bumps updated_ms"
    );
}

pub async fn daily_aggregates(store: &dyn Store) {
    let mut first = spend_row("r1", "k", 0.25);
    first.user = "u".into();
    first.team_id = "t".into();
    first.end_user = "c".into();
    let second = SpendRow {
        request_id: "r2".into(),
        spend: 0.5,
        ..first.clone()
    };
    let other_model = SpendRow {
        request_id: "r3".into(),
        model: "gpt-4o-mini".into(),
        model_group: "mini".into(),
        ..first.clone()
    };
    let next_day = SpendRow {
        request_id: "r4".into(),
        start_time: "2026-12-02T00:00:00Z".into(),
        ..first.clone()
    };
    let batch = [first, second, other_model, next_day];
    assert_eq!(
        store.write_spend(&batch, true).await.expect("write_spend"),
        4
    );

    let day_one = store
        .daily_spend("2026-12-01", "2026-12-01")
        .await
        .expect("daily");
    let merged = DailySpend {
        date: "2026-12-01".into(),
        api_key: "k".into(),
        model: "gpt-4o".into(),
        model_group: "gpt-4o".into(),
        user_id: "u".into(),
        team_id: "t".into(),
        end_user: "c".into(),
        spend: 0.75,
        prompt_tokens: 20,
        completion_tokens: 10,
        total_tokens: 30,
        requests: 2,
        ..DailySpend::default()
    };
    assert_eq!(day_one.len(), 2, "{day_one:?}");
    assert_eq!(day_one[0], merged);
    assert_eq!(
        (day_one[1].model.as_str(), day_one[1].requests),
        ("gpt-4o-mini", 1)
    );
    let both = store
        .daily_spend("2026-12-01", "2026-12-02")
        .await
        .expect("daily");
    assert_eq!(both.len(), 3);
    assert_eq!(both[2].date, "2026-12-02");
    let outside = store
        .daily_spend("2026-11-01", "2026-11-30")
        .await
        .expect("daily");
    assert!(outside.is_empty());
}

pub async fn keep_rows_false(store: &dyn Store) {
    assert!(store
        .insert(Table::Keys, &entity("k", json!({})))
        .await
        .expect("insert"));
    let row = spend_row("r1", "k", 0.5);
    assert_eq!(
        store
            .write_spend(std::slice::from_ref(&row), false)
            .await
            .expect("write"),
        1
    );
    assert!(store
        .spend_logs(&SpendQuery::default())
        .await
        .expect("logs")
        .is_empty());
    assert_eq!(spend_of(store, Table::Keys, "k").await, 0.5);
    let days = store
        .daily_spend("2026-12-01", "2026-12-01")
        .await
        .expect("daily");
    assert_eq!(days.len(), 1);
    // Still idempotent with the row not kept, whatever keep_rows says next time.
    assert_eq!(
        store
            .write_spend(std::slice::from_ref(&row), true)
            .await
            .expect("rewrite"),
        0
    );
    assert_eq!(store.write_spend(&[row], false).await.expect("rewrite"), 0);
    assert!(store
        .spend_logs(&SpendQuery::default())
        .await
        .expect("logs")
        .is_empty());
    assert_eq!(spend_of(store, Table::Keys, "k").await, 0.5);
}

pub async fn reset_spend_compare_and_set(store: &dyn Store) {
    let mut key = entity("k", json!({"budget_duration": "30d"}));
    key.spend = 3.0;
    key.budget_reset_at = Some(1_000);
    assert!(store.insert(Table::Keys, &key).await.expect("insert"));
    let stale = store
        .reset_spend(Table::Keys, "k", Some(999), Some(2_000))
        .await;
    assert!(!stale.expect("reset"));
    assert_eq!(spend_of(store, Table::Keys, "k").await, 3.0);
    assert!(store
        .reset_spend(Table::Keys, "k", Some(1_000), Some(2_000))
        .await
        .expect("reset"));
    let reset = store
        .get(Table::Keys, "k")
        .await
        .expect("get")
        .expect("key");
    assert_eq!((reset.spend, reset.budget_reset_at), (0.0, Some(2_000)));
    let again = store
        .reset_spend(Table::Keys, "k", Some(1_000), Some(3_000))
        .await;
    assert!(
        !again.expect("reset"),
        "a second node's reset finds it done"
    );

    let mut never_reset = entity("t", json!({}));
    never_reset.spend = 1.0;
    assert!(store
        .insert(Table::Teams, &never_reset)
        .await
        .expect("insert"));
    assert!(store
        .reset_spend(Table::Teams, "t", None, Some(5))
        .await
        .expect("reset"));
    assert_eq!(
        store
            .get(Table::Teams, "t")
            .await
            .expect("get")
            .and_then(|t| t.budget_reset_at),
        Some(5)
    );
    assert!(!store
        .reset_spend(Table::Teams, "missing", None, None)
        .await
        .expect("reset"));
}

pub async fn reset_all_spend(store: &dyn Store) {
    for (table, id) in [
        (Table::Keys, "k"),
        (Table::Teams, "t"),
        (Table::Budgets, "b"),
    ] {
        let mut owner = entity(id, json!({}));
        owner.spend = 2.0;
        assert!(store.insert(table, &owner).await.expect("insert"));
    }
    let mut row = spend_row("r1", "k", 0.5);
    row.team_id = "t".into();
    assert_eq!(store.write_spend(&[row], true).await.expect("write"), 1);
    store.reset_all_spend().await.expect("reset_all_spend");
    for (table, id) in [
        (Table::Keys, "k"),
        (Table::Teams, "t"),
        (Table::Budgets, "b"),
    ] {
        assert_eq!(spend_of(store, table, id).await, 0.0, "{table:?}");
    }
    assert_eq!(
        request_ids(store, SpendQuery::default()).await,
        vec!["r1"],
        "rows stay"
    );
    assert_eq!(
        store
            .daily_spend("2026-12-01", "2026-12-01")
            .await
            .expect("daily")
            .len(),
        1
    );
}

pub async fn spend_logs_filters(store: &dyn Store) {
    let mut a = spend_row("a", "k1", 0.25);
    a.user = "u1".into();
    a.team_id = "t1".into();
    a.metadata = json!({"user_api_key_alias": "x", "tags": ["p"], "n": 1});
    a.request_tags = vec!["prod".into(), "batch".into()];
    a.messages = json!([{"role": "user", "content": "hi"}]);
    a.response = json!({"choices": []});
    a.api_base = "https://api.example.com".into();
    a.custom_llm_provider = "openai".into();
    a.model_id = "m-1".into();
    a.organization_id = "o".into();
    a.end_user = "c".into();
    let mut b = spend_row("b", "k1", 0.5);
    b.user = "u2".into();
    b.start_time = "2026-12-02T09:00:00Z".into();
    let mut c = spend_row("c", "k2", 1.0);
    c.user = "u1".into();
    c.team_id = "t2".into();
    c.start_time = "2026-12-03T23:59:59Z".into();
    assert_eq!(
        store
            .write_spend(&[a.clone(), b, c], true)
            .await
            .expect("write"),
        3
    );

    let all = SpendQuery::default();
    assert_eq!(request_ids(store, all.clone()).await, vec!["c", "b", "a"]);
    let q = |f: fn(&mut SpendQuery)| {
        let mut query = all.clone();
        f(&mut query);
        query
    };
    assert_eq!(
        request_ids(store, q(|q| q.api_key = Some("k1".into()))).await,
        vec!["b", "a"]
    );
    assert_eq!(
        request_ids(store, q(|q| q.user_id = Some("u1".into()))).await,
        vec!["c", "a"]
    );
    assert_eq!(
        request_ids(store, q(|q| q.team_id = Some("t1".into()))).await,
        vec!["a"]
    );
    assert_eq!(
        request_ids(store, q(|q| q.request_id = Some("b".into()))).await,
        vec!["b"]
    );
    let from_day_two = q(|q| q.start_date = Some("2026-12-02".into()));
    assert_eq!(request_ids(store, from_day_two).await, vec!["c", "b"]);
    let to_day_two = q(|q| q.end_date = Some("2026-12-02".into()));
    assert_eq!(request_ids(store, to_day_two).await, vec!["b", "a"]);
    let day_two = q(|q| {
        q.start_date = Some("2026-12-02".into());
        q.end_date = Some("2026-12-02".into());
    });
    assert_eq!(request_ids(store, day_two).await, vec!["b"]);
    assert_eq!(
        request_ids(store, q(|q| q.limit = Some(1))).await,
        vec!["c"]
    );
    let nobody = q(|q| q.api_key = Some("k9".into()));
    assert!(request_ids(store, nobody).await.is_empty());

    let stored = store
        .spend_logs(&q(|q| q.request_id = Some("a".into())))
        .await;
    let stored = stored.expect("spend_logs");
    assert_eq!(stored, vec![a], "a row reads back as written");
}

/// NUL cannot be stored in PostgreSQL text: it is replaced there, never a failed batch.
pub async fn text_with_nul_is_stored(store: &dyn Store) {
    let key = entity(
        "k",
        json!({"key_alias": "nul\u{0}here", "metadata": {"a\u{0}": "\u{0}"}}),
    );
    assert!(store.insert(Table::Keys, &key).await.expect("insert"));
    assert!(store.get(Table::Keys, "k").await.expect("get").is_some());
    let mut row = spend_row("r\u{0}1", "k", 0.5);
    row.end_user = "end\u{0}user".into();
    row.messages = json!([{"content": "a\u{0}b"}]);
    assert_eq!(
        store
            .write_spend(std::slice::from_ref(&row), true)
            .await
            .expect("write"),
        1
    );
    assert_eq!(store.write_spend(&[row], true).await.expect("rewrite"), 0);
    assert_eq!(spend_of(store, Table::Keys, "k").await, 0.5);
    assert_eq!(request_ids(store, SpendQuery::default()).await.len(), 1);
}
