// Test code only: the module is declared under #[cfg(test)] in its parent.
//! One behaviour suite for every backend: each case is an async fn taking `&dyn Store` on a
//! fresh, empty store. `sqlite::tests` runs each as its own test; `postgres::tests` runs
//! them all against one throwaway cluster, a new database per case.

mod spend_cases;

pub use spend_cases::*;

use super::{now_ms, Document, Entity, ListFilter, Store, Table};
use serde_json::{json, Value};
use std::future::Future;
use std::pin::Pin;

pub type CaseFuture<'a> = Pin<Box<dyn Future<Output = ()> + 'a>>;
pub type Case = for<'a> fn(&'a dyn Store) -> CaseFuture<'a>;

/// Calls `$callback! { case, case, ... }` with every case's name: the one list of cases.
macro_rules! conformance_cases {
    ($callback:ident) => {
        $callback! {
            entity_crud,
            list_filters_and_paging,
            tombstones_in_changed_since,
            insert_over_tombstone,
            write_spend_idempotent,
            spend_attribution,
            daily_aggregates,
            keep_rows_false,
            reset_spend_compare_and_set,
            reset_all_spend,
            spend_logs_filters,
            text_with_nul_is_stored,
        }
    };
}
pub(crate) use conformance_cases;

macro_rules! case_table {
    ($($name:ident),* $(,)?) => {
        /// Every case, by name.
        pub const CASES: &[(&str, Case)] = &[$((stringify!($name), {
            fn boxed(store: &dyn Store) -> CaseFuture<'_> {
                Box::pin($name(store))
            }
            boxed as Case
        })),*];
    };
}
conformance_cases!(case_table);

pub fn doc(value: Value) -> Document {
    match value {
        Value::Object(fields) => fields,
        other => panic!("not an object: {other}"),
    }
}

pub fn entity(id: &str, fields: Value) -> Entity {
    Entity {
        id: id.to_owned(),
        doc: doc(fields),
        spend: 0.0,
        budget_reset_at: None,
        updated_ms: 0,
        deleted: false,
    }
}

async fn ids(store: &dyn Store, table: Table, filter: ListFilter) -> (Vec<String>, u64) {
    let (entities, total) = store.list(table, &filter).await.expect("list");
    (entities.into_iter().map(|e| e.id).collect(), total)
}

fn names(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

pub async fn entity_crud(store: &dyn Store) {
    let fields = json!({"key_alias": "a", "user_id": "u1", "models": ["gpt-4o"],
        "metadata": {"nested": {"n": 1.5, "list": [1, "x", null, true]}}, "note": "héllo ✓"});
    let mut key = entity("k1", fields.clone());
    key.spend = 1.5;
    key.budget_reset_at = Some(100);
    assert!(store.insert(Table::Keys, &key).await.expect("insert"));
    assert!(!store.insert(Table::Keys, &key).await.expect("insert again"));

    let stored = store
        .get(Table::Keys, "k1")
        .await
        .expect("get")
        .expect("present");
    assert_eq!(stored.doc, doc(fields));
    assert_eq!(stored.spend, 1.5);
    assert_eq!(stored.budget_reset_at, Some(100));
    assert!(!stored.deleted);
    assert!(stored.updated_ms > 0);
    assert_eq!(store.get(Table::Users, "k1").await.expect("get"), None);

    let changed = doc(json!({"key_alias": "b", "max_budget": 10}));
    assert!(store
        .update(Table::Keys, "k1", &changed, Some(200))
        .await
        .expect("update"));
    let updated = store
        .get(Table::Keys, "k1")
        .await
        .expect("get")
        .expect("present");
    assert_eq!(updated.doc, changed);
    assert_eq!(updated.spend, 1.5, "update leaves spend alone");
    assert_eq!(updated.budget_reset_at, Some(200));
    assert!(updated.updated_ms > stored.updated_ms);
    assert!(!store
        .update(Table::Keys, "nope", &changed, None)
        .await
        .expect("update"));

    assert!(store.delete(Table::Keys, "k1").await.expect("delete"));
    assert!(!store.delete(Table::Keys, "k1").await.expect("delete again"));
    assert_eq!(store.get(Table::Keys, "k1").await.expect("get"), None);
    assert!(!store
        .update(Table::Keys, "k1", &changed, None)
        .await
        .expect("update"));
    assert!(!store.delete(Table::Keys, "never").await.expect("delete"));
}

pub async fn list_filters_and_paging(store: &dyn Store) {
    let keys = [
        ("k0", json!({"user_id": "u1", "team_id": "t1"})),
        ("k1", json!({"user_id": "u1"})),
        ("k2", json!({"user_id": "u1", "key_alias": "alias-2"})),
        ("k3", json!({"user_id": "u2", "team_id": "t1"})),
        ("k4", json!({"user_id": "u2", "organization_id": "o1"})),
    ];
    for (id, fields) in keys {
        assert!(store
            .insert(Table::Keys, &entity(id, fields))
            .await
            .expect("insert"));
    }
    let all = ListFilter::default();
    assert_eq!(
        ids(store, Table::Keys, all.clone()).await,
        (names(&["k0", "k1", "k2", "k3", "k4"]), 5)
    );
    let by_user = ListFilter {
        user_id: Some("u1".into()),
        ..all.clone()
    };
    assert_eq!(
        ids(store, Table::Keys, by_user.clone()).await,
        (names(&["k0", "k1", "k2"]), 3)
    );
    let by_team = ListFilter {
        team_id: Some("t1".into()),
        ..all.clone()
    };
    assert_eq!(
        ids(store, Table::Keys, by_team).await,
        (names(&["k0", "k3"]), 2)
    );
    let by_org = ListFilter {
        organization_id: Some("o1".into()),
        ..all.clone()
    };
    assert_eq!(ids(store, Table::Keys, by_org).await, (names(&["k4"]), 1));
    let by_alias = ListFilter {
        key_alias: Some("alias-2".into()),
        ..all.clone()
    };
    assert_eq!(ids(store, Table::Keys, by_alias).await, (names(&["k2"]), 1));
    let both = ListFilter {
        user_id: Some("u1".into()),
        team_id: Some("t1".into()),
        ..all.clone()
    };
    assert_eq!(ids(store, Table::Keys, both).await, (names(&["k0"]), 1));
    let none = ListFilter {
        user_id: Some("nobody".into()),
        ..all.clone()
    };
    assert_eq!(ids(store, Table::Keys, none).await, (vec![], 0));

    let page = ListFilter {
        offset: 1,
        limit: Some(2),
        ..all.clone()
    };
    assert_eq!(
        ids(store, Table::Keys, page).await,
        (names(&["k1", "k2"]), 5)
    );
    let past_end = ListFilter {
        offset: 10,
        ..all.clone()
    };
    assert_eq!(ids(store, Table::Keys, past_end).await, (vec![], 5));
    let empty_page = ListFilter {
        limit: Some(0),
        ..all.clone()
    };
    assert_eq!(ids(store, Table::Keys, empty_page).await, (vec![], 5));

    assert!(store.delete(Table::Keys, "k1").await.expect("delete"));
    assert_eq!(
        ids(store, Table::Keys, by_user).await,
        (names(&["k0", "k2"]), 2)
    );
    // The owner columns follow the document.
    let moved = doc(json!({"user_id": "u2"}));
    assert!(store
        .update(Table::Keys, "k0", &moved, None)
        .await
        .expect("update"));
    let by_u2 = ListFilter {
        user_id: Some("u2".into()),
        ..all.clone()
    };
    assert_eq!(
        ids(store, Table::Keys, by_u2).await,
        (names(&["k0", "k3", "k4"]), 3)
    );

    let member = entity("user-a", json!({"organization_id": "o9"}));
    assert!(store.insert(Table::Users, &member).await.expect("insert"));
    assert!(store
        .insert(Table::Users, &entity("user-b", json!({})))
        .await
        .expect("insert"));
    let by_org = ListFilter {
        organization_id: Some("o9".into()),
        ..all.clone()
    };
    assert_eq!(
        ids(store, Table::Users, by_org).await,
        (names(&["user-a"]), 1)
    );
    assert_eq!(ids(store, Table::Teams, all).await, (vec![], 0));
}

pub async fn tombstones_in_changed_since(store: &dyn Store) {
    let since = now_ms();
    assert!(store
        .insert(Table::Teams, &entity("t", json!({"team_alias": "x"})))
        .await
        .expect("insert"));
    let member = entity("u", json!({"user_email": "u@example.com"}));
    assert!(store.insert(Table::Users, &member).await.expect("insert"));
    let inserted = store
        .get(Table::Users, "u")
        .await
        .expect("get")
        .expect("present");
    assert!(store.delete(Table::Users, "u").await.expect("delete"));

    let changed = store.changed_since(since).await.expect("changed_since");
    let team = changed
        .iter()
        .find(|(t, e)| *t == Table::Teams && e.id == "t");
    assert!(team.is_some_and(|(_, e)| !e.deleted), "{changed:?}");
    let tombstone = changed
        .iter()
        .find(|(t, e)| *t == Table::Users && e.id == "u");
    let (_, tombstone) = tombstone.expect("the tombstone is listed");
    assert!(tombstone.deleted);
    assert_eq!(tombstone.doc, member.doc, "a tombstone keeps its document");
    assert!(tombstone.updated_ms > inserted.updated_ms);
    assert_eq!(changed.len(), 2, "{changed:?}");

    let later = store
        .changed_since(tombstone.updated_ms + 1)
        .await
        .expect("changed_since");
    assert!(later.is_empty(), "{later:?}");
}

pub async fn insert_over_tombstone(store: &dyn Store) {
    let mut first = entity("k", json!({"key_alias": "old"}));
    first.spend = 5.0;
    assert!(store.insert(Table::Keys, &first).await.expect("insert"));
    assert!(store.delete(Table::Keys, "k").await.expect("delete"));
    let second = entity("k", json!({"key_alias": "new"}));
    assert!(store
        .insert(Table::Keys, &second)
        .await
        .expect("insert over the tombstone"));
    let stored = store
        .get(Table::Keys, "k")
        .await
        .expect("get")
        .expect("present");
    assert_eq!(stored.doc, second.doc);
    assert_eq!(stored.spend, 0.0);
    assert!(!stored.deleted);
    let by_alias = ListFilter {
        key_alias: Some("new".into()),
        ..ListFilter::default()
    };
    assert_eq!(ids(store, Table::Keys, by_alias).await, (names(&["k"]), 1));
    let old_alias = ListFilter {
        key_alias: Some("old".into()),
        ..ListFilter::default()
    };
    assert_eq!(ids(store, Table::Keys, old_alias).await, (vec![], 0));
}
