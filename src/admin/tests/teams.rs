use crate::admin::testing::Harness;
use crate::store::Table;
use serde_json::{json, Value};

#[tokio::test]
async fn team_new_info_update_list_delete() {
    let h = Harness::new();
    let t = h
        .master(
            "POST",
            "/team/new",
            json!({"team_id": "t1", "team_alias": "core", "max_budget": 100,
            "budget_duration": "30d", "models": ["gpt-4o"],
            "members_with_roles": [{"role": "admin", "user_id": "lead"}]}),
        )
        .await;
    assert_eq!(t.status, 200, "{}", t.body);
    for k in [
        "team_id",
        "team_alias",
        "members_with_roles",
        "max_budget",
        "models",
        "spend",
        "blocked",
        "budget_reset_at",
    ] {
        assert!(t.body.get(k).is_some(), "missing {k}");
    }
    assert_eq!(t.body["members_with_roles"][0]["user_id"], "lead");
    // The member's user was created and lists the team.
    let lead = h.directory.get(Table::Users, "lead").unwrap();
    assert_eq!(lead.doc["teams"], json!(["t1"]));

    let dup = h
        .master("POST", "/team/new", json!({"team_id": "t1"}))
        .await;
    assert_eq!(dup.status, 400);
    assert!(dup.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Team id = t1 already exists"));
    assert_eq!(
        h.master(
            "POST",
            "/team/new",
            json!({"members_with_roles": [{"user_id": "x"}]})
        )
        .await
        .status,
        422
    );
    assert_eq!(
        h.master("POST", "/team/new", json!({"budget_duration": "nope"}))
            .await
            .status,
        400
    );

    let k = h
        .master("POST", "/key/generate", json!({"team_id": "t1"}))
        .await;
    assert_eq!(k.status, 200);
    h.accounts.set_spend(Table::Teams, "t1", 4.0);
    let info = h.master("GET", "/team/info?team_id=t1", Value::Null).await;
    assert_eq!(info.status, 200, "{}", info.body);
    for k in ["team_id", "team_info", "keys", "team_memberships"] {
        assert!(info.body.get(k).is_some(), "missing {k}");
    }
    assert_eq!(info.body["team_info"]["spend"], json!(4.0));
    assert_eq!(info.body["keys"].as_array().unwrap().len(), 1);
    assert_eq!(info.body["team_memberships"][0]["user_id"], "lead");
    assert_eq!(
        h.master("GET", "/team/info?team_id=nope", Value::Null)
            .await
            .status,
        404
    );
    assert_eq!(h.master("GET", "/team/info", Value::Null).await.status, 422);

    let up = h
        .master(
            "POST",
            "/team/update",
            json!({"team_id": "t1", "team_alias": "core2"}),
        )
        .await;
    assert_eq!(up.status, 200, "{}", up.body);
    assert_eq!(up.body["data"]["team_alias"], "core2");
    assert_eq!(
        h.master("POST", "/team/update", json!({"team_id": "nope"}))
            .await
            .status,
        404
    );
    let blocked = h
        .master("POST", "/team/block", json!({"team_id": "t1"}))
        .await;
    assert_eq!(blocked.body["blocked"], json!(true));
    assert_eq!(
        h.master("POST", "/team/unblock", json!({"team_id": "t1"}))
            .await
            .body["blocked"],
        json!(false)
    );

    let list = h.master("GET", "/team/list", Value::Null).await;
    assert_eq!(list.body.as_array().unwrap().len(), 1);
    assert!(list.body[0].get("keys").is_some() && list.body[0].get("team_memberships").is_some());

    let del = h
        .master("POST", "/team/delete", json!({"team_ids": ["t1"]}))
        .await;
    assert_eq!(del.status, 200, "{}", del.body);
    assert_eq!(
        h.directory.len(Table::Keys),
        0,
        "the team's keys go with it"
    );
    assert_eq!(
        h.directory.get(Table::Users, "lead").unwrap().doc["teams"],
        json!([])
    );
    assert_eq!(
        h.master("POST", "/team/delete", json!({"team_ids": ["t1"]}))
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn member_add_delete_update() {
    let h = Harness::new();
    assert_eq!(
        h.master("POST", "/team/new", json!({"team_id": "t1"}))
            .await
            .status,
        200
    );
    let one = h
        .master(
            "POST",
            "/team/member_add",
            json!({"team_id": "t1", "member": {"role": "user", "user_id": "a"}}),
        )
        .await;
    assert_eq!(one.status, 200, "{}", one.body);
    assert_eq!(one.body["updated_users"][0]["user_id"], "a");
    assert_eq!(one.body["updated_team_memberships"][0]["team_id"], "t1");
    let many = h
        .master(
            "POST",
            "/team/member_add",
            json!({"team_id": "t1", "member": [
            {"role": "admin", "user_email": "b@x.io"}, {"role": "user", "user_id": "c"}]}),
        )
        .await;
    assert_eq!(many.status, 200, "{}", many.body);
    assert_eq!(many.body["members_with_roles"].as_array().unwrap().len(), 3);
    let dup = h
        .master(
            "POST",
            "/team/member_add",
            json!({"team_id": "t1", "member": {"role": "user", "user_id": "a"}}),
        )
        .await;
    assert_eq!(dup.status, 400);
    assert_eq!(dup.body["error"]["type"], "team_member_already_in_team");
    assert!(dup.body["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("User already in team. Member: user_id=a"));
    assert_eq!(
        h.master(
            "POST",
            "/team/member_add",
            json!({"team_id": "nope", "member": {"role": "user", "user_id": "a"}})
        )
        .await
        .status,
        404
    );
    assert_eq!(
        h.master(
            "POST",
            "/team/member_add",
            json!({"team_id": "t1", "member": {"user_id": "z"}})
        )
        .await
        .status,
        422
    );
    assert_eq!(
        h.master("POST", "/team/member_add", json!({"team_id": "t1"}))
            .await
            .status,
        422
    );

    let up = h
        .master(
            "POST",
            "/team/member_update",
            json!({"team_id": "t1", "user_id": "a", "role": "admin"}),
        )
        .await;
    assert_eq!(up.status, 200, "{}", up.body);
    assert_eq!(up.body["user_id"], "a");
    let team = h.directory.get(Table::Teams, "t1").unwrap();
    assert_eq!(crate::admin::roles::member_role(&team, "a"), Some("admin"));

    let del = h
        .master(
            "POST",
            "/team/member_delete",
            json!({"team_id": "t1", "user_id": "a"}),
        )
        .await;
    assert_eq!(del.status, 200, "{}", del.body);
    assert_eq!(del.body["members_with_roles"].as_array().unwrap().len(), 2);
    assert_eq!(
        h.directory.get(Table::Users, "a").unwrap().doc["teams"],
        json!([])
    );
    assert_eq!(
        h.master(
            "POST",
            "/team/member_delete",
            json!({"team_id": "nope", "user_id": "a"})
        )
        .await
        .status,
        400
    );
    assert_eq!(
        h.master("POST", "/team/member_delete", json!({"team_id": "t1"}))
            .await
            .status,
        422
    );
}
