//! Team membership: `/team/member_add` (member as an object or a list; users that do not exist
//! are created, as LiteLLM does), `/team/member_delete`, `/team/member_update`. Members live in
//! the team's `members_with_roles`; each member user's `teams` lists the team.

use super::body::{self, str_of};
use super::entities::{self, check_budget_duration, render, rfc3339};
use super::error::{python_repr, AdminError, AdminResult};
use super::roles::{self, Caller};
use super::Call;
use crate::store::{Document, Entity, Table};
use serde_json::{json, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct NewMember {
    pub user_id: Option<String>,
    pub user_email: Option<String>,
    pub role: String,
}

/// One `Member` object: `user_id` or `user_email`, and `role` (`admin` or `user`).
pub fn parse_member(value: &Value, loc: &[&str]) -> AdminResult<NewMember> {
    let Some(obj) = value.as_object() else {
        return Err(AdminError::validation(
            loc,
            "value_error",
            "Value error, input needs to be a dictionary",
        ));
    };
    let text = |name: &str| -> AdminResult<Option<String>> {
        match obj.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(AdminError::validation(
                loc,
                "string_type",
                "Input should be a valid string",
            )),
        }
    };
    let user_id = text("user_id")?;
    let user_email = text("user_email")?;
    if user_id.is_none() && user_email.is_none() {
        return Err(AdminError::validation(
            loc,
            "value_error",
            "Value error, Either user id or user email must be provided",
        ));
    }
    let role = match obj.get("role") {
        None | Some(Value::Null) => return Err(AdminError::missing(&[loc, &["role"]].concat())),
        Some(Value::String(r)) if r == "admin" || r == "user" => r.clone(),
        Some(_) => {
            return Err(AdminError::validation(
                &[loc, &["role"]].concat(),
                "literal_error",
                "Input should be 'admin' or 'user'",
            ))
        }
    };
    Ok(NewMember {
        user_id,
        user_email,
        role,
    })
}

/// `member` as an object or a list of objects.
pub fn parse_members(value: Option<&Value>, loc: &[&str]) -> AdminResult<(Vec<NewMember>, bool)> {
    match value {
        None | Some(Value::Null) => Err(AdminError::missing(loc)),
        Some(Value::Array(items)) => Ok((
            items
                .iter()
                .map(|m| parse_member(m, loc))
                .collect::<AdminResult<Vec<_>>>()?,
            true,
        )),
        Some(one) => Ok((vec![parse_member(one, loc)?], false)),
    }
}

fn members_of(team: &Entity) -> Vec<Value> {
    team.doc
        .get("members_with_roles")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// Python's repr of the team's members, as LiteLLM's duplicate errors print them.
fn members_repr(team: &Entity) -> String {
    let shown: Vec<String> = members_of(team)
        .iter()
        .map(|m| {
            format!(
                "Member(user_id={}, user_email={}, role={})",
                python_repr(m.get("user_id").unwrap_or(&Value::Null)),
                python_repr(m.get("user_email").unwrap_or(&Value::Null)),
                python_repr(m.get("role").unwrap_or(&Value::Null)),
            )
        })
        .collect();
    format!("[{}]", shown.join(", "))
}

/// Adds members to a team, creating missing users; answers the team and the member users.
pub async fn add_members(
    call: &Call<'_>,
    team_id: &str,
    members: &[NewMember],
    _route: &str,
) -> AdminResult<(Entity, Vec<Entity>)> {
    let ctx = call.ctx;
    let team = entities::load(ctx, Table::Teams, team_id)
        .await?
        .ok_or_else(|| {
            AdminError::detail_error(404, format!("Team not found for team_id={team_id}"))
        })?;
    let mut roster = members_of(&team);
    let mut users = Vec::new();
    for member in members {
        let user = ensure_user(call, member).await?;
        let already = roster
            .iter()
            .any(|m| m.get("user_id").and_then(Value::as_str) == Some(user.id.as_str()));
        if !already {
            roster.push(json!({
                "user_id": user.id,
                "user_email": member.user_email.clone().or_else(|| user.str_field("user_email").map(str::to_string)),
                "role": member.role,
            }));
        }
        users.push(join_team(call, &user, team_id).await?);
    }
    let mut doc = team.doc.clone();
    doc.insert("members_with_roles".into(), Value::Array(roster));
    doc.insert("updated_at".into(), Value::String(rfc3339(ctx.now_ms)));
    let saved = entities::save(ctx, Table::Teams, &team, doc, team.budget_reset_at)
        .await?
        .ok_or_else(|| {
            AdminError::detail_error(404, format!("Team not found for team_id={team_id}"))
        })?;
    Ok((saved, users))
}

/// The member's user, created (role `internal_user`) when it does not exist.
async fn ensure_user(call: &Call<'_>, member: &NewMember) -> AdminResult<Entity> {
    let ctx = call.ctx;
    if let Some(id) = &member.user_id {
        if let Some(u) = entities::load(ctx, Table::Users, id).await? {
            return Ok((*u).clone());
        }
    } else if let Some(email) = &member.user_email {
        let wanted = email.to_lowercase();
        if let Some(u) = entities::all(ctx, Table::Users)
            .await?
            .into_iter()
            .find(|u| u.str_field("user_email").map(str::to_lowercase) == Some(wanted.clone()))
        {
            return Ok(u);
        }
    }
    let id = member.user_id.clone().unwrap_or_else(entities::new_id);
    let now = Value::String(rfc3339(ctx.now_ms));
    let mut doc = Document::new();
    doc.insert("user_id".into(), Value::String(id.clone()));
    doc.insert(
        "user_email".into(),
        member.user_email.clone().map_or(Value::Null, Value::String),
    );
    doc.insert(
        "user_role".into(),
        Value::String(roles::INTERNAL_USER.into()),
    );
    doc.insert("teams".into(), json!([]));
    doc.insert("models".into(), json!([]));
    doc.insert("max_budget".into(), Value::Null);
    doc.insert("metadata".into(), json!({}));
    doc.insert("created_at".into(), now.clone());
    doc.insert("updated_at".into(), now);
    match entities::create(ctx, Table::Users, &id, doc, None).await? {
        Some(u) => Ok(u),
        None => entities::load(ctx, Table::Users, &id)
            .await?
            .map(|u| (*u).clone())
            .ok_or_else(|| AdminError::detail_error(500, "Failed to create user")),
    }
}

/// Adds `team_id` to the user's `teams`.
async fn join_team(call: &Call<'_>, user: &Entity, team_id: &str) -> AdminResult<Entity> {
    let mut teams = body::str_list_of(&user.doc, "teams");
    if teams.iter().any(|t| t == team_id) {
        return Ok(user.clone());
    }
    teams.push(team_id.to_string());
    let mut doc = user.doc.clone();
    doc.insert("teams".into(), json!(teams));
    Ok(
        entities::save(call.ctx, Table::Users, user, doc, user.budget_reset_at)
            .await?
            .unwrap_or_else(|| user.clone()),
    )
}

async fn leave_team(call: &Call<'_>, user_id: &str, team_id: &str) -> AdminResult<()> {
    let Some(user) = entities::load(call.ctx, Table::Users, user_id).await? else {
        return Ok(());
    };
    let teams: Vec<String> = body::str_list_of(&user.doc, "teams")
        .into_iter()
        .filter(|t| t != team_id)
        .collect();
    let mut doc = user.doc.clone();
    doc.insert("teams".into(), json!(teams));
    entities::save(call.ctx, Table::Users, &user, doc, user.budget_reset_at).await?;
    Ok(())
}

fn membership(user_id: &str, team_id: &str) -> Value {
    json!({"user_id": user_id, "team_id": team_id, "budget_id": null, "spend": 0.0, "total_spend": 0.0, "litellm_budget_table": null})
}

/// Loads the team named by the request and checks the caller may manage its members.
async fn managed_team(
    call: &Call<'_>,
    team_id: &str,
    route: &str,
    missing: AdminError,
) -> AdminResult<Entity> {
    let team = entities::load(call.ctx, Table::Teams, team_id)
        .await?
        .ok_or(missing)?;
    if !call.caller.is_admin() && !call.caller.is_team_admin(&team) {
        return Err(Caller::not_team_admin_error(route, team_id));
    }
    Ok((*team).clone())
}

pub async fn add(call: &Call<'_>) -> AdminResult<Value> {
    let ctx = call.ctx;
    let req = body::parse_object(call.body)?;
    let team_id = body::required_str(&req, "team_id")?;
    let (members, listed) = parse_members(req.get("member"), &["body", "member"])?;
    check_budget_duration(&req, "budget_duration")?;
    let missing = AdminError::detail_error(404, format!("Team not found for team_id={team_id}"));
    let team = entities::load(ctx, Table::Teams, &team_id)
        .await?
        .ok_or(missing.clone())?;
    let roster = members_of(&team);
    let duplicate = |m: &NewMember| {
        roster.iter().any(|e| {
            (m.user_id.is_some()
                && e.get("user_id").and_then(Value::as_str) == m.user_id.as_deref())
                || (m.user_email.is_some()
                    && e.get("user_email").and_then(Value::as_str) == m.user_email.as_deref())
        })
    };
    let duplicates = members.iter().filter(|m| duplicate(m)).count();
    if listed && !members.is_empty() && duplicates == members.len() {
        return Err(AdminError::proxy(
            400,
            format!(
                "All users are already in team. Existing members={}",
                members_repr(&team)
            ),
            "team_member_already_in_team",
            Some("member"),
        ));
    }
    if !listed && duplicates == 1 {
        let m = &members[0];
        return Err(AdminError::proxy(
            400,
            format!(
                "User already in team. Member: user_id={}, user_email={}. Existing members={}",
                m.user_id.as_deref().unwrap_or("None"),
                m.user_email.as_deref().unwrap_or("None"),
                members_repr(&team)
            ),
            "team_member_already_in_team",
            Some("member"),
        ));
    }
    managed_team(call, &team_id, "/team/member_add", missing).await?;
    let fresh: Vec<NewMember> = members.into_iter().filter(|m| !duplicate(m)).collect();
    let (team, users) = add_members(call, &team_id, &fresh, "/team/member_add").await?;
    let mut out = super::teams::team_row(ctx, &team);
    out.insert(
        "updated_users".into(),
        Value::Array(
            users
                .iter()
                .map(|u| Value::Object(render(ctx, Table::Users, u)))
                .collect(),
        ),
    );
    out.insert(
        "updated_team_memberships".into(),
        Value::Array(users.iter().map(|u| membership(&u.id, &team_id)).collect()),
    );
    Ok(Value::Object(out))
}

/// The member a delete or update names: its user id, from `user_id` or `user_email`.
fn named_member(team: &Entity, req: &Document) -> Option<String> {
    let by_id = str_of(req, "user_id");
    let by_email = str_of(req, "user_email");
    members_of(team).iter().find_map(|m| {
        let id = m.get("user_id").and_then(Value::as_str);
        let email = m.get("user_email").and_then(Value::as_str);
        let hit = (by_id.is_some() && id == by_id)
            || (by_id.is_none() && by_email.is_some() && email == by_email);
        hit.then(|| id.unwrap_or_default().to_string())
    })
}

fn require_member_id(req: &Document) -> AdminResult<()> {
    if str_of(req, "user_id").is_none() && str_of(req, "user_email").is_none() {
        return Err(AdminError::validation(
            &["body"],
            "value_error",
            "Value error, Either user id or user email must be provided",
        ));
    }
    Ok(())
}

pub async fn delete(call: &Call<'_>) -> AdminResult<Value> {
    let ctx = call.ctx;
    let req = body::parse_object(call.body)?;
    let team_id = body::required_str(&req, "team_id")?;
    require_member_id(&req)?;
    let missing = AdminError::detail_error(400, format!("Team id={team_id} does not exist in db"));
    let team = managed_team(call, &team_id, "/team/member_delete", missing).await?;
    let removed = named_member(&team, &req);
    let roster: Vec<Value> = members_of(&team)
        .into_iter()
        .filter(|m| {
            removed.is_none() || m.get("user_id").and_then(Value::as_str) != removed.as_deref()
        })
        .collect();
    let mut doc = team.doc.clone();
    doc.insert("members_with_roles".into(), Value::Array(roster));
    doc.insert("updated_at".into(), Value::String(rfc3339(ctx.now_ms)));
    let saved = entities::save(ctx, Table::Teams, &team, doc, team.budget_reset_at)
        .await?
        .ok_or_else(|| {
            AdminError::detail_error(400, format!("Team id={team_id} does not exist in db"))
        })?;
    if let Some(user_id) = &removed {
        leave_team(call, user_id, &team_id).await?;
    }
    Ok(Value::Object(super::teams::team_row(ctx, &saved)))
}

pub async fn update(call: &Call<'_>) -> AdminResult<Value> {
    let ctx = call.ctx;
    let mut req = body::parse_object(call.body)?;
    body::check_fields(
        &mut req,
        &[
            ("max_budget_in_team", body::Kind::Float),
            ("tpm_limit", body::Kind::Int),
            ("rpm_limit", body::Kind::Int),
        ],
    )?;
    let team_id = body::required_str(&req, "team_id")?;
    require_member_id(&req)?;
    if let Some(r) = str_of(&req, "role") {
        if r != "admin" && r != "user" {
            return Err(AdminError::validation(
                &["body", "role"],
                "literal_error",
                "Input should be 'admin' or 'user'",
            ));
        }
    }
    check_budget_duration(&req, "budget_duration")?;
    let missing = AdminError::detail_error(400, format!("Team id={team_id} does not exist in db"));
    let team = managed_team(call, &team_id, "/team/member_update", missing).await?;
    let Some(user_id) = named_member(&team, &req) else {
        return Err(AdminError::detail_error(
            404,
            format!(
                "User {} is not a member of team {team_id}",
                str_of(&req, "user_id")
                    .or(str_of(&req, "user_email"))
                    .unwrap_or_default()
            ),
        ));
    };
    let mut email = Value::Null;
    let roster: Vec<Value> = members_of(&team)
        .into_iter()
        .map(|mut m| {
            if m.get("user_id").and_then(Value::as_str) == Some(user_id.as_str()) {
                email = m.get("user_email").cloned().unwrap_or(Value::Null);
                if let (Some(role), Some(obj)) = (str_of(&req, "role"), m.as_object_mut()) {
                    obj.insert("role".into(), Value::String(role.into()));
                }
            }
            m
        })
        .collect();
    let mut doc = team.doc.clone();
    doc.insert("members_with_roles".into(), Value::Array(roster));
    doc.insert("updated_at".into(), Value::String(rfc3339(ctx.now_ms)));
    entities::save(ctx, Table::Teams, &team, doc, team.budget_reset_at).await?;
    Ok(json!({
        "user_id": user_id,
        "user_email": email,
        "team_id": team_id,
        "max_budget_in_team": req.get("max_budget_in_team").cloned().unwrap_or(Value::Null),
        "tpm_limit": req.get("tpm_limit").cloned().unwrap_or(Value::Null),
        "rpm_limit": req.get("rpm_limit").cloned().unwrap_or(Value::Null),
        "budget_duration": req.get("budget_duration").cloned().unwrap_or(Value::Null),
        "allowed_models": req.get("allowed_models").cloned().unwrap_or(Value::Null),
    }))
}

/// Takes a deleted user off every team it is on.
pub async fn remove_from_all_teams(call: &Call<'_>, user_id: &str) -> AdminResult<()> {
    let ctx = call.ctx;
    for team in entities::all(ctx, Table::Teams).await? {
        if roles::member_role(&team, user_id).is_none() {
            continue;
        }
        let roster: Vec<Value> = members_of(&team)
            .into_iter()
            .filter(|m| m.get("user_id").and_then(Value::as_str) != Some(user_id))
            .collect();
        let mut doc = team.doc.clone();
        doc.insert("members_with_roles".into(), Value::Array(roster));
        entities::save(ctx, Table::Teams, &team, doc, team.budget_reset_at).await?;
    }
    Ok(())
}
