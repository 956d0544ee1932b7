use crate::admin::testing::{Harness, NOW_MS};
use crate::admin::AdminCaller;
use crate::store::Table;
use serde_json::json;

const GENERATE_RESPONSE_KEYS: &[&str] = &[
    "key",
    "key_name",
    "token",
    "token_id",
    "expires",
    "user_id",
    "team_id",
    "max_budget",
    "models",
    "metadata",
    "key_alias",
    "budget_duration",
    "spend",
    "tpm_limit",
    "rpm_limit",
    "soft_budget",
    "organization_id",
    "created_at",
    "updated_at",
    "created_by",
    "blocked",
    "budget_id",
    "tags",
    "aliases",
    "permissions",
    "allowed_routes",
];

#[tokio::test]
async fn generate_answers_litellm_shape_and_stores_only_the_hash() {
    let h = Harness::new();
    let a = h
        .master(
            "POST",
            "/key/generate",
            json!({"key_alias": "k1", "models": ["gpt-4o"], "max_budget": 10, "duration": "30d",
                   "budget_duration": "1d", "metadata": {"env": "test"}, "unknown_extra": 1}),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    for k in GENERATE_RESPONSE_KEYS {
        assert!(a.body.get(*k).is_some(), "missing {k}: {}", a.body);
    }
    let raw = a.body["key"].as_str().unwrap();
    assert!(raw.starts_with("sk-") && raw.len() >= 40);
    let token = crate::auth::hash_key(raw);
    assert_eq!(a.body["token"], json!(token));
    assert_eq!(a.body["token_id"], json!(token));
    assert_eq!(
        a.body["key_name"],
        json!(format!("sk-...{}", &raw[raw.len() - 4..]))
    );
    assert_eq!(a.body["max_budget"], json!(10.0));
    assert_eq!(a.body["expires"], json!("2026-02-14T00:00:00.000000Z"));
    let stored = h.store.all_docs();
    assert_eq!(stored.len(), 1);
    let (table, entity) = &stored[0];
    assert_eq!(*table, Table::Keys);
    assert_eq!(entity.id, token);
    assert_eq!(entity.budget_reset_at, Some(NOW_MS + 86_400_000));
    let doc_text = serde_json::to_string(&entity.doc).unwrap();
    assert!(!doc_text.contains(raw), "raw key stored: {doc_text}");
    assert!(h.directory.get(Table::Keys, &token).is_some());
}

#[tokio::test]
async fn custom_key_is_used_as_given_and_checked() {
    let h = Harness::new();
    let a = h
        .master(
            "POST",
            "/key/generate",
            json!({"key": "sk-my-custom-key-123456"}),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["key"], "sk-my-custom-key-123456");
    assert_eq!(
        a.body["token"],
        json!(crate::auth::hash_key("sk-my-custom-key-123456"))
    );
    let again = h
        .master(
            "POST",
            "/key/generate",
            json!({"key": "sk-my-custom-key-123456"}),
        )
        .await;
    assert_eq!(again.status, 400);
    let bad = h
        .master(
            "POST",
            "/key/generate",
            json!({"key": "nosk-prefix-1234567"}),
        )
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("must start with 'sk-'"));
    let short = h
        .master("POST", "/key/generate", json!({"key": "sk-short"}))
        .await;
    assert_eq!(short.status, 400);
}

#[tokio::test]
async fn duplicate_alias_is_litellms_400() {
    let h = Harness::new();
    assert_eq!(
        h.master("POST", "/key/generate", json!({"key_alias": "dup"}))
            .await
            .status,
        200
    );
    let a = h
        .master("POST", "/key/generate", json!({"key_alias": "dup"}))
        .await;
    assert_eq!(a.status, 400);
    assert_eq!(
        a.body,
        json!({"error": {
            "message": "Key with alias 'dup' already exists. Unique key aliases across all keys are required.",
            "type": "bad_request_error", "param": "key_alias", "code": "400"}})
    );
}

#[tokio::test]
async fn bad_input_is_rejected_without_500() {
    let h = Harness::new();
    let cases = [
        (json!({"max_budget": "lots"}), 422),
        (json!({"key_alias": 5}), 422),
        (json!({"models": "gpt-4o"}), 422),
        (json!({"budget_duration": "fortnight"}), 400),
        (json!({"duration": "3y"}), 400),
        (json!({"max_budget": -1}), 400),
        (json!({"team_id": "t-missing", "key_alias": "ok"}), 200),
    ];
    for (body, status) in cases {
        let a = h.master("POST", "/key/generate", body.clone()).await;
        assert_eq!(a.status, status, "{body} → {}", a.body);
    }
    let a = h
        .master(
            "POST",
            "/key/generate",
            json!({"budget_duration": "fortnight"}),
        )
        .await;
    assert_eq!(
        a.body["error"]["message"],
        "{'error': \"Invalid budget_duration 'fortnight'. Use a format like '1h', '24h', '7d', or '30d'.\"}"
    );
    let ctx_body = b"{not json";
    let ctx = crate::admin::AdminContext {
        store: &h.store,
        directory: &h.directory,
        accounts: &h.accounts,
        caller: &AdminCaller::Master,
        now_ms: h.now_ms,
        models: None,
    };
    let a = crate::admin::handle(
        &ctx,
        crate::admin::AdminRequest {
            method: "POST",
            path: "/key/generate",
            query: None,
            body: ctx_body,
        },
    )
    .await;
    assert_eq!(a.status, 422);
}

#[tokio::test]
async fn info_reads_live_spend_and_hides_the_hash() {
    let h = Harness::new();
    let a = h
        .master("POST", "/key/generate", json!({"key_alias": "spendy"}))
        .await;
    let raw = a.body["key"].as_str().unwrap().to_string();
    let token = crate::auth::hash_key(&raw);
    h.accounts.set_spend(Table::Keys, &token, 1.25);
    for query in [
        format!("/key/info?key={raw}"),
        format!("/key/info?key={token}"),
    ] {
        let info = h.master("GET", &query, serde_json::Value::Null).await;
        assert_eq!(info.status, 200, "{}", info.body);
        assert_eq!(info.body["info"]["spend"], json!(1.25));
        assert_eq!(info.body["info"]["key_alias"], "spendy");
        assert_eq!(info.body["info"]["status"], "active");
        assert!(info.body["info"].get("token").is_none());
        assert!(info.body.get("key").is_some());
    }
    // A key reads its own info without naming itself.
    let own = h
        .call(
            &h.key_caller(&raw),
            "GET",
            "/key/info",
            serde_json::Value::Null,
        )
        .await;
    assert_eq!(own.status, 200, "{}", own.body);
    assert_eq!(own.body["key"], json!(token));
    let missing = h
        .master("GET", "/key/info?key=sk-nope", serde_json::Value::Null)
        .await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.body["error"]["message"],
        "Key not found in database"
    );
}

#[tokio::test]
async fn update_block_regenerate_delete() {
    let h = Harness::new();
    let a = h
        .master(
            "POST",
            "/key/generate",
            json!({"key_alias": "a1", "max_budget": 5}),
        )
        .await;
    let raw = a.body["key"].as_str().unwrap().to_string();
    let up = h
        .master(
            "POST",
            "/key/update",
            json!({"key": raw, "max_budget": 7, "metadata": {"x": 1}}),
        )
        .await;
    assert_eq!(up.status, 200, "{}", up.body);
    assert_eq!(up.body["max_budget"], json!(7.0));
    assert_eq!(up.body["key"], json!(raw));
    let by_alias = h
        .master(
            "POST",
            "/key/update",
            json!({"key_alias": "a1", "tpm_limit": 100}),
        )
        .await;
    assert_eq!(by_alias.status, 200, "{}", by_alias.body);
    let none = h
        .master("POST", "/key/update", json!({"max_budget": 1}))
        .await;
    assert_eq!(none.status, 422);
    let missing = h
        .master("POST", "/key/update", json!({"key": "sk-missing-key-000"}))
        .await;
    assert_eq!(missing.status, 404);

    let blocked = h.master("POST", "/key/block", json!({"key": raw})).await;
    assert_eq!(blocked.status, 200, "{}", blocked.body);
    assert_eq!(blocked.body["blocked"], json!(true));
    let info = h
        .master(
            "GET",
            &format!("/key/info?key={raw}"),
            serde_json::Value::Null,
        )
        .await;
    assert_eq!(info.body["info"]["status"], "revoked");
    assert_eq!(
        h.master("POST", "/key/unblock", json!({"key": raw}))
            .await
            .body["blocked"],
        json!(false)
    );
    assert_eq!(
        h.master("POST", "/key/block", json!({"key": "bad key!"}))
            .await
            .status,
        400
    );

    h.accounts
        .set_spend(Table::Keys, &crate::auth::hash_key(&raw), 2.0);
    let re = h
        .master("POST", &format!("/key/{raw}/regenerate"), json!({}))
        .await;
    assert_eq!(re.status, 200, "{}", re.body);
    let new_raw = re.body["key"].as_str().unwrap().to_string();
    assert_ne!(new_raw, raw);
    assert_eq!(re.body["token_id"], json!(crate::auth::hash_key(&new_raw)));
    assert!(h
        .directory
        .get(Table::Keys, &crate::auth::hash_key(&raw))
        .is_none());
    let info = h
        .master(
            "GET",
            &format!("/key/info?key={new_raw}"),
            serde_json::Value::Null,
        )
        .await;
    assert_eq!(info.body["info"]["spend"], json!(2.0));
    assert_eq!(info.body["info"]["key_alias"], "a1");

    let del = h
        .master("POST", "/key/delete", json!({"keys": [new_raw]}))
        .await;
    assert_eq!(del.status, 200, "{}", del.body);
    assert_eq!(del.body, json!({"deleted_keys": [new_raw]}));
    let again = h
        .master("POST", "/key/delete", json!({"keys": [new_raw]}))
        .await;
    assert_eq!(again.status, 404);
    assert_eq!(again.body["error"]["message"], "{'error': 'No keys found'}");
    assert_eq!(h.master("POST", "/key/delete", json!({})).await.status, 422);
}

#[tokio::test]
async fn delete_by_alias_and_list_pages() {
    let h = Harness::new();
    for i in 0..5 {
        let a = h
            .master(
                "POST",
                "/key/generate",
                json!({"key_alias": format!("k{i}"), "user_id": "u1"}),
            )
            .await;
        assert_eq!(a.status, 200);
    }
    let page = h
        .master("GET", "/key/list?page=2&size=2", serde_json::Value::Null)
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.body["total_count"], 5);
    assert_eq!(page.body["current_page"], 2);
    assert_eq!(page.body["total_pages"], 3);
    assert_eq!(page.body["keys"].as_array().unwrap().len(), 2);
    assert!(page.body["keys"][0].is_string());
    let full = h
        .master(
            "GET",
            "/key/list?key_alias=k3&return_full_object=true",
            serde_json::Value::Null,
        )
        .await;
    assert_eq!(full.body["keys"][0]["key_alias"], "k3");
    assert_eq!(
        h.master("GET", "/key/list?size=101", serde_json::Value::Null)
            .await
            .status,
        422
    );
    let del = h
        .master("POST", "/key/delete", json!({"key_aliases": ["k0", "k1"]}))
        .await;
    assert_eq!(del.body, json!({"deleted_keys": ["k0", "k1"]}));
    let left = h
        .master("GET", "/key/list?user_id=u1", serde_json::Value::Null)
        .await;
    assert_eq!(left.body["total_count"], 3);
    let health = h.master("POST", "/key/health", json!({})).await;
    assert_eq!(health.body["key"], "healthy");
}

#[tokio::test]
async fn store_down_is_503() {
    let h = Harness::new();
    h.store
        .down
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let a = h.master("POST", "/key/generate", json!({})).await;
    assert_eq!(a.status, 503);
    assert_eq!(a.body["error"]["type"], "no_db_connection");
}
