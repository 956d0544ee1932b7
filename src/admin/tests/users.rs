use crate::admin::testing::Harness;
use crate::store::Table;
use serde_json::{json, Value};

#[tokio::test]
async fn user_new_makes_a_key_unless_told_not_to() {
    let h = Harness::new();
    let a = h
        .master("POST", "/user/new", json!({"user_id": "u1", "user_email": "u1@x.io", "user_role": "internal_user",
                                             "max_budget": 20, "models": ["gpt-4o"], "budget_duration": "30d"}))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    for k in [
        "key",
        "user_id",
        "user_email",
        "user_role",
        "max_budget",
        "teams",
        "key_name",
        "expires",
        "models",
        "token",
        "token_id",
    ] {
        assert!(a.body.get(k).is_some(), "missing {k}");
    }
    let raw = a.body["key"].as_str().unwrap();
    assert!(raw.starts_with("sk-"));
    let key = h
        .directory
        .get(Table::Keys, &crate::auth::hash_key(raw))
        .unwrap();
    assert_eq!(key.str_field("user_id"), Some("u1"));
    // The budget is the user's, not the key's.
    assert!(key.doc["max_budget"].is_null());
    let user = h.directory.get(Table::Users, "u1").unwrap();
    assert_eq!(user.doc["max_budget"], json!(20.0));
    assert!(user.budget_reset_at.is_some());

    let no_key = h
        .master(
            "POST",
            "/user/new",
            json!({"user_id": "u2", "auto_create_key": false}),
        )
        .await;
    assert_eq!(no_key.status, 200);
    assert_eq!(no_key.body["key"], "");
    assert_eq!(h.directory.len(Table::Keys), 1);

    let dup = h
        .master("POST", "/user/new", json!({"user_id": "u1"}))
        .await;
    assert_eq!(dup.status, 409);
    assert_eq!(
        dup.body["error"]["message"],
        "{'error': 'User with id u1 already exists'}"
    );
    let dup_mail = h
        .master("POST", "/user/new", json!({"user_email": "U1@x.io"}))
        .await;
    assert_eq!(dup_mail.status, 409);
    assert_eq!(
        h.master("POST", "/user/new", json!({"user_role": "god"}))
            .await
            .status,
        422
    );
    let generated = h.master("POST", "/user/new", json!({})).await;
    assert_eq!(generated.status, 200);
    assert_eq!(generated.body["user_id"].as_str().unwrap().len(), 36);
}

#[tokio::test]
async fn user_info_update_list_delete() {
    let h = Harness::new();
    let raw = h.user_with_key("u1", "internal_user").await;
    h.accounts.set_spend(Table::Users, "u1", 3.5);
    let info = h.master("GET", "/user/info?user_id=u1", Value::Null).await;
    assert_eq!(info.status, 200, "{}", info.body);
    assert_eq!(info.body["user_id"], "u1");
    assert_eq!(info.body["user_info"]["spend"], json!(3.5));
    assert_eq!(
        info.body["keys"][0]["token"],
        json!(crate::auth::hash_key(&raw))
    );
    assert!(info.body["teams"].is_array());
    assert_eq!(
        h.master("GET", "/user/info?user_id=ghost", Value::Null)
            .await
            .status,
        404
    );

    let up = h
        .master(
            "POST",
            "/user/update",
            json!({"user_id": "u1", "max_budget": 9, "user_alias": "Una"}),
        )
        .await;
    assert_eq!(up.status, 200, "{}", up.body);
    assert_eq!(up.body["user_id"], "u1");
    assert_eq!(up.body["data"]["user_alias"], "Una");
    assert_eq!(
        h.master("POST", "/user/update", json!({"max_budget": 1}))
            .await
            .status,
        422
    );
    assert_eq!(
        h.master("POST", "/user/update", json!({"user_id": "ghost"}))
            .await
            .status,
        404
    );

    h.user_with_key("u2", "internal_user").await;
    let list = h.master("GET", "/user/list?page_size=1", Value::Null).await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body["total"], 2);
    assert_eq!(list.body["total_pages"], 2);
    assert_eq!(list.body["users"][0]["key_count"], 1);
    for k in ["users", "total", "page", "page_size", "total_pages"] {
        assert!(list.body.get(k).is_some());
    }
    let del = h
        .master("POST", "/user/delete", json!({"user_ids": ["u1"]}))
        .await;
    assert_eq!(del.status, 200);
    assert_eq!(del.body, json!(1));
    assert!(h.directory.get(Table::Users, "u1").is_none());
    assert_eq!(
        h.master("POST", "/user/delete", json!({"user_ids": ["u1"]}))
            .await
            .status,
        404
    );
}
