use crate::admin::testing::Harness;
use crate::store::{Store, Table};
use serde_json::{json, Value};

async fn setup() -> (Harness, String, String) {
    let h = Harness::new();
    h.master(
        "POST",
        "/team/new",
        json!({"team_id": "t1", "team_alias": "core"}),
    )
    .await;
    let a = h
        .master(
            "POST",
            "/key/generate",
            json!({"team_id": "t1", "user_id": "u1"}),
        )
        .await
        .body["key"]
        .as_str()
        .unwrap()
        .to_string();
    let b = h.master("POST", "/key/generate", json!({})).await.body["key"]
        .as_str()
        .unwrap()
        .to_string();
    let mut r1 = h.spend_row("r1", &a, 1.0);
    r1.team_id = "t1".into();
    r1.user = "u1".into();
    r1.end_user = "cust-1".into();
    let mut r2 = h.spend_row("r2", &a, 2.0);
    r2.team_id = "t1".into();
    r2.user = "u1".into();
    r2.model = "claude".into();
    r2.start_time = "2026-01-13T09:00:00Z".into();
    let r3 = h.spend_row("r3", &b, 0.5);
    h.store.write_spend(&[r1, r2, r3], true).await.unwrap();
    (h, a, b)
}

#[tokio::test]
async fn spend_logs_filters_by_raw_key_or_hash() {
    let (h, a, _) = setup().await;
    let all = h.master("GET", "/spend/logs", Value::Null).await;
    assert_eq!(all.status, 200, "{}", all.body);
    assert_eq!(all.body.as_array().unwrap().len(), 3);
    for k in [
        "request_id",
        "api_key",
        "spend",
        "startTime",
        "endTime",
        "model",
        "user",
        "team_id",
        "end_user",
        "metadata",
        "cache_hit",
        "status",
    ] {
        assert!(all.body[0].get(k).is_some(), "missing {k}");
    }
    let by_raw = h
        .master("GET", &format!("/spend/logs?api_key={a}"), Value::Null)
        .await;
    assert_eq!(by_raw.body.as_array().unwrap().len(), 2);
    let by_hash = h
        .master(
            "GET",
            &format!("/spend/logs?api_key={}", crate::auth::hash_key(&a)),
            Value::Null,
        )
        .await;
    assert_eq!(by_hash.body, by_raw.body);
    let one = h
        .master("GET", "/spend/logs?request_id=r3", Value::Null)
        .await;
    assert_eq!(one.body[0]["request_id"], "r3");
    let by_user = h.master("GET", "/spend/logs?user_id=u1", Value::Null).await;
    assert_eq!(by_user.body.as_array().unwrap().len(), 2);
    let summary = h
        .master(
            "GET",
            "/spend/logs?start_date=2026-01-13&end_date=2026-01-15",
            Value::Null,
        )
        .await;
    assert_eq!(summary.status, 200, "{}", summary.body);
    let days = summary.body.as_array().unwrap();
    assert_eq!(days.len(), 3, "{}", summary.body);
    assert_eq!(days[0]["startTime"], "2026-01-13");
    assert_eq!(days[1]["spend"], json!(1.5));
    assert_eq!(days[1]["models"]["gpt-4o"], json!(1.5));
    assert_eq!(days[2]["spend"], json!(0));
    assert_eq!(
        h.master(
            "GET",
            "/spend/logs?start_date=13/01/2026&end_date=2026-01-15",
            Value::Null
        )
        .await
        .status,
        400
    );
}

#[tokio::test]
async fn spend_report_groups_by_team_customer_and_key() {
    let (h, a, _) = setup().await;
    let q = "/global/spend/report?start_date=2026-01-01&end_date=2026-01-31";
    let teams = h.master("GET", q, Value::Null).await;
    assert_eq!(teams.status, 200, "{}", teams.body);
    let days = teams.body.as_array().unwrap();
    assert_eq!(days.len(), 2);
    assert_eq!(days[0]["group_by_day"], "2026-01-13T00:00:00+00:00");
    let day14: Vec<&Value> = days[1]["teams"].as_array().unwrap().iter().collect();
    let names: Vec<&str> = day14
        .iter()
        .map(|t| t["team_name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"core") && names.contains(&"Unassigned Team"),
        "{names:?}"
    );
    let core = day14.iter().find(|t| t["team_name"] == "core").unwrap();
    assert_eq!(core["total_spend"], json!(1.0));
    assert_eq!(core["metadata"][0]["model"], "gpt-4o");

    let customers = h
        .master("GET", &format!("{q}&group_by=customer"), Value::Null)
        .await;
    let c = &customers.body[1]["customers"];
    assert!(
        c.as_array()
            .unwrap()
            .iter()
            .any(|x| x["customer"] == "cust-1" && x["total_spend"] == json!(1.0)),
        "{c}"
    );

    let keys = h
        .master("GET", &format!("{q}&group_by=api_key"), Value::Null)
        .await;
    let row = keys
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["api_key"] == json!(crate::auth::hash_key(&a)))
        .unwrap()
        .clone();
    assert_eq!(row["total_cost"], json!(3.0));
    assert_eq!(row["model_details"].as_array().unwrap().len(), 2);

    assert_eq!(
        h.master("GET", "/global/spend/report", Value::Null)
            .await
            .status,
        400
    );
    assert_eq!(
        h.master("GET", &format!("{q}&group_by=model"), Value::Null)
            .await
            .status,
        422
    );
}

#[tokio::test]
async fn global_spend_and_reset() {
    let (h, a, _) = setup().await;
    let g = h.master("GET", "/global/spend", Value::Null).await;
    assert_eq!(g.body, json!({"spend": 3.5, "max_budget": 0.0}));
    let logs = h.master("GET", "/global/spend/logs", Value::Null).await;
    assert_eq!(logs.body.as_array().unwrap().len(), 2);
    assert_eq!(
        h.master("GET", "/spend/keys", Value::Null)
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let users = h.master("GET", "/spend/users", Value::Null).await;
    assert!(users.body.is_array());
    let token = crate::auth::hash_key(&a);
    h.accounts.set_spend(Table::Keys, &token, 3.0);
    let r = h.master("POST", "/global/spend/reset", Value::Null).await;
    assert_eq!(
        r.body,
        json!({"message": "Spend for all API Keys and Teams reset successfully", "status": "success"})
    );
    assert_eq!(h.accounts.spend(Table::Keys, &token), Some(0.0));
    assert_eq!(
        h.store
            .get(Table::Keys, &token)
            .await
            .unwrap()
            .unwrap()
            .spend,
        0.0
    );
    // Rows stay.
    assert_eq!(
        h.master("GET", "/spend/logs", Value::Null)
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        3
    );
}
