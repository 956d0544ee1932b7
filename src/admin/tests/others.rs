use crate::admin::testing::Harness;
use crate::store::Table;
use serde_json::{json, Value};

#[tokio::test]
async fn organizations() {
    let h = Harness::new();
    let o = h
        .master(
            "POST",
            "/organization/new",
            json!({"organization_id": "o1", "organization_alias": "acme", "max_budget": 50}),
        )
        .await;
    assert_eq!(o.status, 200, "{}", o.body);
    let budget_id = o.body["budget_id"].as_str().unwrap().to_string();
    assert_eq!(o.body["litellm_budget_table"]["max_budget"], json!(50.0));
    assert!(h.directory.get(Table::Budgets, &budget_id).is_some());
    assert_eq!(
        h.master("POST", "/organization/new", json!({}))
            .await
            .status,
        422
    );
    let info = h
        .master("GET", "/organization/info?organization_id=o1", Value::Null)
        .await;
    assert_eq!(info.body["organization_alias"], "acme");
    let many = h
        .master(
            "POST",
            "/organization/info",
            json!({"organizations": ["o1"]}),
        )
        .await;
    assert_eq!(many.body.as_array().unwrap().len(), 1);
    let up = h
        .master(
            "PATCH",
            "/organization/update",
            json!({"organization_id": "o1", "organization_alias": "acme2", "max_budget": 60}),
        )
        .await;
    assert_eq!(up.status, 200, "{}", up.body);
    assert_eq!(up.body["organization_alias"], "acme2");
    assert_eq!(up.body["litellm_budget_table"]["max_budget"], json!(60.0));
    let m = h
        .master(
            "POST",
            "/organization/member_add",
            json!({"organization_id": "o1", "member": {"user_id": "u9", "role": "org_admin"}}),
        )
        .await;
    assert_eq!(m.status, 200, "{}", m.body);
    assert_eq!(
        m.body["updated_organization_memberships"][0]["user_role"],
        "org_admin"
    );
    let k = h
        .master("POST", "/key/generate", json!({"organization_id": "nope"}))
        .await;
    assert_eq!(k.status, 400);
    assert_eq!(
        h.master("GET", "/organization/list", Value::Null)
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        h.master("POST", "/organization/update", json!({}))
            .await
            .status,
        405
    );
    let del = h
        .master(
            "DELETE",
            "/organization/delete",
            json!({"organization_ids": ["o1"]}),
        )
        .await;
    assert_eq!(del.status, 200);
    assert_eq!(
        h.master("GET", "/organization/info?organization_id=o1", Value::Null)
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn customers_also_under_end_user() {
    let h = Harness::new();
    let c = h
        .master(
            "POST",
            "/customer/new",
            json!({"user_id": "c1", "alias": "Cust", "max_budget": 5}),
        )
        .await;
    assert_eq!(c.status, 200, "{}", c.body);
    for k in [
        "user_id",
        "alias",
        "blocked",
        "spend",
        "budget_id",
        "litellm_budget_table",
        "allowed_model_region",
        "default_model",
    ] {
        assert!(c.body.get(k).is_some(), "missing {k}");
    }
    let dup = h
        .master("POST", "/end_user/new", json!({"user_id": "c1"}))
        .await;
    assert_eq!(dup.status, 400);
    assert_eq!(
        h.master(
            "POST",
            "/customer/new",
            json!({"user_id": "c2", "max_budget": 1, "budget_id": "b"})
        )
        .await
        .status,
        422
    );
    h.accounts.set_spend(Table::Customers, "c1", 0.75);
    let info = h
        .master("GET", "/end_user/info?end_user_id=c1", Value::Null)
        .await;
    assert_eq!(info.body["spend"], json!(0.75));
    assert_eq!(
        h.master("GET", "/customer/info?end_user_id=nope", Value::Null)
            .await
            .status,
        404
    );
    let up = h
        .master(
            "POST",
            "/customer/update",
            json!({"user_id": "c1", "alias": "C", "max_budget": 8}),
        )
        .await;
    assert_eq!(up.body["litellm_budget_table"]["max_budget"], json!(8.0));
    let b = h
        .master("POST", "/customer/block", json!({"user_ids": ["c1"]}))
        .await;
    assert_eq!(b.body["blocked_users"][0]["blocked"], json!(true));
    assert_eq!(
        h.master("POST", "/customer/unblock", json!({"user_ids": ["c1"]}))
            .await
            .body["blocked_users"][0]["blocked"],
        json!(false)
    );
    assert_eq!(
        h.master("GET", "/customer/list", Value::Null)
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let miss = h
        .master(
            "POST",
            "/customer/delete",
            json!({"user_ids": ["c1", "zz"]}),
        )
        .await;
    assert_eq!(miss.status, 404);
    assert_eq!(
        miss.body["error"]["message"],
        "End User Id(s)=zz do not exist in db"
    );
    let del = h
        .master("POST", "/customer/delete", json!({"user_ids": ["c1"]}))
        .await;
    assert_eq!(del.body["deleted_customers"], 1);
}

#[tokio::test]
async fn budgets() {
    let h = Harness::new();
    let b = h
        .master(
            "POST",
            "/budget/new",
            json!({"budget_id": "b1", "max_budget": 10, "budget_duration": "7d"}),
        )
        .await;
    assert_eq!(b.status, 200, "{}", b.body);
    assert_eq!(b.body["budget_id"], "b1");
    assert!(b.body["budget_reset_at"].is_string());
    assert_eq!(
        h.master("POST", "/budget/new", json!({"budget_id": "b1"}))
            .await
            .status,
        400
    );
    assert_eq!(
        h.master("POST", "/budget/new", json!({"budget_duration": "x"}))
            .await
            .status,
        400
    );
    let k = h
        .master("POST", "/key/generate", json!({"budget_id": "b1"}))
        .await;
    assert_eq!(k.status, 200);
    assert_eq!(k.body["budget_id"], "b1");
    let info = h
        .master("POST", "/budget/info", json!({"budgets": ["b1"]}))
        .await;
    assert_eq!(info.body[0]["max_budget"], json!(10.0));
    let up = h
        .master(
            "POST",
            "/budget/update",
            json!({"budget_id": "b1", "max_budget": 12}),
        )
        .await;
    assert_eq!(up.body["max_budget"], json!(12.0));
    assert_eq!(
        h.master("POST", "/budget/update", json!({"max_budget": 12}))
            .await
            .status,
        400
    );
    assert_eq!(
        h.master("GET", "/budget/list", Value::Null)
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        h.master("POST", "/budget/delete", json!({"id": "b1"}))
            .await
            .status,
        200
    );
    assert_eq!(
        h.master("POST", "/budget/delete", json!({"id": "b1"}))
            .await
            .status,
        400
    );
}

#[tokio::test]
async fn unknown_and_wrong_method() {
    let h = Harness::new();
    assert_eq!(
        h.master("GET", "/key/generate", Value::Null).await.status,
        405
    );
    assert_eq!(h.master("GET", "/nope", Value::Null).await.status, 404);
}
