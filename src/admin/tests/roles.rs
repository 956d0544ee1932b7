use crate::admin::testing::Harness;
use serde_json::{json, Value};

#[tokio::test]
async fn plain_key_reaches_only_its_own() {
    let h = Harness::new();
    let raw = h.user_with_key("alice", "internal_user").await;
    let other = h.user_with_key("bob", "internal_user").await;
    let alice = h.key_caller(&raw);
    let a = h
        .call(&alice, "POST", "/team/new", json!({"team_alias": "x"}))
        .await;
    assert_eq!(a.status, 403, "{}", a.body);
    assert!(a.body["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("Authentication Error, Only proxy admin"));
    for path in [
        "/user/list",
        "/spend/logs",
        "/global/spend/report?start_date=2026-01-01&end_date=2026-01-02",
    ] {
        assert_eq!(
            h.call(&alice, "GET", path, Value::Null).await.status,
            403,
            "{path}"
        );
    }
    assert_eq!(
        h.call(&alice, "POST", "/key/generate", json!({}))
            .await
            .status,
        403
    );
    assert_eq!(
        h.call(&alice, "GET", "/key/list", Value::Null).await.status,
        403
    );
    let own = h
        .call(&alice, "GET", &format!("/key/info?key={raw}"), Value::Null)
        .await;
    assert_eq!(own.status, 200);
    let theirs = h
        .call(
            &alice,
            "GET",
            &format!("/key/info?key={other}"),
            Value::Null,
        )
        .await;
    assert_eq!(theirs.status, 403, "{}", theirs.body);
    assert_eq!(
        h.call(&alice, "GET", "/user/info?user_id=alice", Value::Null)
            .await
            .status,
        200
    );
    assert_eq!(
        h.call(&alice, "GET", "/user/info", Value::Null)
            .await
            .status,
        200
    );
    let bob = h
        .call(&alice, "GET", "/user/info?user_id=bob", Value::Null)
        .await;
    assert_eq!(bob.status, 403);
    assert_eq!(
        bob.body["error"]["message"],
        "key not allowed to access this user's info. user_id=bob, key's user_id=alice"
    );
    assert_eq!(
        h.call(&alice, "POST", "/key/delete", json!({"keys": [other]}))
            .await
            .status,
        403
    );
    assert_eq!(
        h.call(&alice, "POST", "/global/spend/reset", Value::Null)
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn viewer_reads_but_does_not_write() {
    let h = Harness::new();
    let raw = h.user_with_key("viewer", "proxy_admin_viewer").await;
    let viewer = h.key_caller(&raw);
    for path in [
        "/user/list",
        "/team/list",
        "/key/list",
        "/spend/logs",
        "/global/spend",
        "/user/info?user_id=viewer",
    ] {
        let a = h.call(&viewer, "GET", path, Value::Null).await;
        assert_eq!(a.status, 200, "{path}: {}", a.body);
    }
    for path in [
        "/key/generate",
        "/team/new",
        "/user/new",
        "/key/delete",
        "/budget/new",
    ] {
        let a = h.call(&viewer, "POST", path, json!({})).await;
        assert_eq!(a.status, 403, "{path}: {}", a.body);
    }
}

#[tokio::test]
async fn proxy_admin_key_does_everything_but_reset() {
    let h = Harness::new();
    let raw = h.user_with_key("root", "proxy_admin").await;
    let admin = h.key_caller(&raw);
    let t = h
        .call(&admin, "POST", "/team/new", json!({"team_alias": "ops"}))
        .await;
    assert_eq!(t.status, 200, "{}", t.body);
    assert_eq!(
        h.call(&admin, "POST", "/key/generate", json!({}))
            .await
            .status,
        200
    );
    assert_eq!(
        h.call(&admin, "POST", "/global/spend/reset", Value::Null)
            .await
            .status,
        401
    );
    assert_eq!(
        h.master("POST", "/global/spend/reset", Value::Null)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn team_admin_manages_its_team_only() {
    let h = Harness::new();
    let boss = h.user_with_key("boss", "internal_user").await;
    let member = h.user_with_key("member", "internal_user").await;
    let t = h
        .master(
            "POST",
            "/team/new",
            json!({"team_id": "t1", "members_with_roles": [
            {"role": "admin", "user_id": "boss"}, {"role": "user", "user_id": "member"}]}),
        )
        .await;
    assert_eq!(t.status, 200, "{}", t.body);
    assert_eq!(
        h.master("POST", "/team/new", json!({"team_id": "t2"}))
            .await
            .status,
        200
    );
    let boss_c = h.key_caller(&boss);
    let k = h
        .call(
            &boss_c,
            "POST",
            "/key/generate",
            json!({"team_id": "t1", "key_alias": "team-key"}),
        )
        .await;
    assert_eq!(k.status, 200, "{}", k.body);
    let team_key = k.body["key"].as_str().unwrap().to_string();
    // Not a member of t2: LiteLLM's 400 names the user.
    let other_team = h
        .call(&boss_c, "POST", "/key/generate", json!({"team_id": "t2"}))
        .await;
    assert_eq!(other_team.status, 400);
    assert_eq!(
        other_team.body["error"]["message"],
        "User=boss not assigned to team=t2"
    );
    assert_eq!(
        h.call(&boss_c, "GET", "/key/list?team_id=t1", Value::Null)
            .await
            .status,
        200
    );
    assert_eq!(
        h.call(&boss_c, "GET", "/key/list?team_id=t2", Value::Null)
            .await
            .status,
        403
    );
    assert_eq!(
        h.call(
            &boss_c,
            "POST",
            "/key/update",
            json!({"key": team_key, "max_budget": 3})
        )
        .await
        .status,
        200
    );
    let add = h
        .call(
            &boss_c,
            "POST",
            "/team/member_add",
            json!({"team_id": "t1", "member": {"role": "user", "user_id": "new-guy"}}),
        )
        .await;
    assert_eq!(add.status, 200, "{}", add.body);
    let not_theirs = h
        .call(
            &boss_c,
            "POST",
            "/team/member_add",
            json!({"team_id": "t2", "member": {"role": "user", "user_id": "x"}}),
        )
        .await;
    assert_eq!(not_theirs.status, 403);
    assert_eq!(
        not_theirs.body["error"]["message"],
        "{'error': 'Call not allowed. User not proxy admin OR team admin. route=/team/member_add, team_id=t2'}"
    );
    let member_c = h.key_caller(&member);
    assert_eq!(
        h.call(&member_c, "POST", "/key/generate", json!({"team_id": "t1"}))
            .await
            .status,
        403
    );
    assert_eq!(
        h.call(
            &member_c,
            "POST",
            "/team/member_delete",
            json!({"team_id": "t1", "user_id": "boss"})
        )
        .await
        .status,
        403
    );
    // Members read their team's keys' info; others do not.
    assert_eq!(
        h.call(
            &member_c,
            "GET",
            &format!("/key/info?key={team_key}"),
            Value::Null
        )
        .await
        .status,
        200
    );
    assert_eq!(
        h.call(&member_c, "GET", "/team/info?team_id=t1", Value::Null)
            .await
            .status,
        200
    );
    assert_eq!(
        h.call(&member_c, "GET", "/team/info?team_id=t2", Value::Null)
            .await
            .status,
        403
    );
    assert_eq!(
        h.call(&boss_c, "POST", "/key/delete", json!({"keys": [team_key]}))
            .await
            .status,
        200
    );
    assert_eq!(
        h.call(
            &boss_c,
            "POST",
            "/team/member_delete",
            json!({"team_id": "t1", "user_id": "member"})
        )
        .await
        .status,
        200
    );
}
