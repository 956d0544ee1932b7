//! LiteLLM's admin API (`/key/*`, `/user/*`, `/team/*`, `/organization/*`, `/customer/*`,
//! `/spend/*`): its routes, request fields and answers, so its admin scripts work unchanged.
//! Writes go to the store first, then to this node's in-memory directory; reads come from the
//! directory (and the live accounts for spend).

mod entities;
mod keys;
mod spend;

use crate::auth::directory::Directory;
use crate::error::GatewayError;
use crate::spend::accounts::Accounts;
use crate::store::{Entity, Store, StoreError, Table};
use serde_json::{Map, Value};
use std::sync::Arc;

pub struct AdminRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub body: &'a [u8],
}

pub struct AdminAnswer {
    pub status: u16,
    pub body: Value,
}

pub enum AdminCaller {
    /// The master key (or an open gateway).
    Master,
    Key {
        token: String,
        entity: Arc<Entity>,
    },
}

pub struct AdminContext<'a> {
    pub store: &'a dyn Store,
    pub directory: &'a Directory,
    pub accounts: &'a Accounts,
    pub caller: &'a AdminCaller,
    pub now_ms: i64,
}

/// What a caller may do on the admin routes (LiteLLM's `LitellmUserRoles`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    ProxyAdmin,
    ProxyAdminViewer,
    /// Any other key: its own `/key/info` only.
    Member,
}

const PREFIXES: &[&str] = &[
    "/key/",
    "/user/",
    "/team/",
    "/organization/",
    "/customer/",
    "/end_user/",
    "/spend/",
    "/global/spend",
];

pub fn is_admin_route(path: &str) -> bool {
    PREFIXES.iter().any(|p| path.starts_with(p))
}

type AdminResult = Result<Value, GatewayError>;

pub async fn handle(ctx: &AdminContext<'_>, req: AdminRequest<'_>) -> AdminAnswer {
    match route(ctx, &req).await {
        Ok(body) => AdminAnswer { status: 200, body },
        Err(e) => AdminAnswer {
            status: e.status,
            body: serde_json::from_slice(&e.to_json()).unwrap_or(Value::Null),
        },
    }
}

async fn route(ctx: &AdminContext<'_>, req: &AdminRequest<'_>) -> AdminResult {
    let role = role(ctx);
    let path = req.path.trim_end_matches('/');
    let path = path
        .strip_prefix("/end_user")
        .map_or(path.to_string(), |rest| format!("/customer{rest}"));
    let read_only = matches!(
        path.as_str(),
        "/key/info"
            | "/key/list"
            | "/user/info"
            | "/user/list"
            | "/team/info"
            | "/team/list"
            | "/organization/info"
            | "/organization/list"
            | "/customer/info"
            | "/customer/list"
            | "/spend/logs"
            | "/global/spend/logs"
            | "/global/spend/report"
            | "/global/spend"
            | "/spend/keys"
            | "/spend/users"
    );
    match role {
        Role::ProxyAdmin => {}
        Role::ProxyAdminViewer if read_only => {}
        Role::Member if path == "/key/info" => {}
        _ => return Err(forbidden(&path)),
    }
    let q = Query(req.query.unwrap_or_default());
    let body = || parse_body(req.body);
    match path.as_str() {
        "/key/generate" => keys::generate(ctx, body()?).await,
        "/key/info" => keys::info(ctx, &q, role),
        "/key/update" => keys::update(ctx, body()?).await,
        "/key/delete" => keys::delete(ctx, body()?).await,
        "/key/block" => keys::set_blocked(ctx, body()?, true).await,
        "/key/unblock" => keys::set_blocked(ctx, body()?, false).await,
        "/key/list" => keys::list(ctx, &q),
        "/user/new" => entities::new_user(ctx, body()?).await,
        "/team/new" => entities::new_entity(ctx, Table::Teams, body()?).await,
        "/organization/new" => entities::new_entity(ctx, Table::Organizations, body()?).await,
        "/customer/new" => entities::new_entity(ctx, Table::Customers, body()?).await,
        "/user/info" => entities::info(ctx, Table::Users, q.get("user_id")),
        "/team/info" => entities::info(ctx, Table::Teams, q.get("team_id")),
        "/organization/info" => entities::info(ctx, Table::Organizations, q.get("organization_id")),
        "/customer/info" => entities::info(ctx, Table::Customers, q.get("end_user_id")),
        "/spend/logs" => spend::logs(ctx, &q).await,
        "/global/spend/report" => spend::report(ctx, &q).await,
        "/team/member_add" => entities::member_add(ctx, body()?).await,
        _ => Err(GatewayError::not_found(format!(
            "Route {} not found",
            req.path
        ))),
    }
}

fn role(ctx: &AdminContext<'_>) -> Role {
    let AdminCaller::Key { entity, .. } = ctx.caller else {
        return Role::ProxyAdmin;
    };
    let user_role = entity
        .str_field("user_id")
        .and_then(|u| ctx.directory.get(Table::Users, u))
        .and_then(|u| u.str_field("user_role").map(str::to_string));
    match user_role.as_deref() {
        Some("proxy_admin") => Role::ProxyAdmin,
        Some("proxy_admin_viewer") => Role::ProxyAdminViewer,
        _ => Role::Member,
    }
}

fn forbidden(path: &str) -> GatewayError {
    GatewayError::new(
        403,
        "auth_error",
        format!("Only proxy admin can be used to generate, delete, update info for new keys/users/teams. Route={path}. Your role=internal_user"),
    )
}

fn parse_body(raw: &[u8]) -> Result<Map<String, Value>, GatewayError> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(raw) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(GatewayError::bad_request(
            "Request body must be a JSON object",
        )),
        Err(e) => Err(GatewayError::bad_request(format!("Invalid JSON body: {e}"))),
    }
}

fn store_error(e: StoreError) -> GatewayError {
    match e {
        StoreError::Unavailable(m) => GatewayError::new(
            503,
            "service_unavailable",
            format!("Database not reachable: {m}"),
        ),
        StoreError::Conflict(m) => GatewayError::bad_request(m),
    }
}

/// A URL query, read by name (values percent-decoded).
struct Query<'a>(&'a str);

impl Query<'_> {
    fn get(&self, name: &str) -> Option<String> {
        self.0.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == name).then(|| percent_decode(v))
        })
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |at: usize| bytes.get(at).and_then(|c| (*c as char).to_digit(16));
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (hex(i + 1), hex(i + 2)) {
                (Some(hi), Some(lo)) => {
                    out.push((hi * 16 + lo) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The entity's answer form: its document with `spend` (live) and `budget_reset_at`.
fn with_spend(ctx: &AdminContext<'_>, table: Table, e: &Entity) -> Map<String, Value> {
    let mut doc = e.doc.clone();
    let spend = ctx.accounts.spend(table, &e.id).unwrap_or(e.spend);
    doc.insert("spend".into(), Value::from(spend));
    doc.insert(
        "budget_reset_at".into(),
        e.budget_reset_at.map_or(Value::Null, |ms| {
            Value::from(crate::spend::time::rfc3339(ms))
        }),
    );
    doc
}
