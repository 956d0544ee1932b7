//! The admin API: LiteLLM's management routes for keys, users, teams, organizations, end users
//! (customers), budgets and spend, with LiteLLM's request fields, response shapes, statuses and
//! messages, so LiteLLM's admin scripts work unchanged. Writes go to the store and at once to
//! the in-memory directory; reads come from the directory (falling back to the store) and from
//! the live spend accounts.
//!
//! Entry points: [`is_admin_route`] and [`handle`]; the proxy authenticates the caller first
//! (a bad key is its 401) and passes an [`AdminContext`].

mod body;
mod budgets;
mod customers;
mod entities;
pub mod error;
mod key_fields;
mod key_reads;
mod keys;
pub mod models;
mod organizations;
mod roles;
mod spend;
mod spend_report;
mod team_members;
mod teams;
mod users;

#[cfg(test)]
pub mod testing;
#[cfg(test)]
mod tests;

pub use body::Query;

use crate::auth::directory::Directory;
use crate::spend::accounts::Accounts;
use crate::store::{Entity, Store};
use error::{AdminError, AdminResult};
use roles::Caller;
use serde_json::{json, Value};
use std::sync::Arc;

pub struct AdminRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub body: &'a [u8],
}

#[derive(Debug, Clone, PartialEq)]
pub struct AdminAnswer {
    pub status: u16,
    pub body: Value,
}

pub enum AdminCaller {
    Master,
    Key {
        /// SHA-256 hex of the presented key.
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
    /// The model API's view of the gateway (`None`: models cannot be stored here).
    pub models: Option<&'a dyn models::ModelHost>,
}

/// One admin route, with the methods LiteLLM serves it on.
struct Route {
    path: &'static str,
    methods: &'static [&'static str],
}

const GET: &[&str] = &["GET"];
const POST: &[&str] = &["POST"];

const ROUTES: &[Route] = &[
    Route {
        path: "/key/generate",
        methods: POST,
    },
    Route {
        path: "/key/info",
        methods: GET,
    },
    Route {
        path: "/key/update",
        methods: POST,
    },
    Route {
        path: "/key/delete",
        methods: POST,
    },
    Route {
        path: "/key/list",
        methods: GET,
    },
    Route {
        path: "/key/regenerate",
        methods: POST,
    },
    Route {
        path: "/key/block",
        methods: POST,
    },
    Route {
        path: "/key/unblock",
        methods: POST,
    },
    Route {
        path: "/key/health",
        methods: POST,
    },
    Route {
        path: "/user/new",
        methods: POST,
    },
    Route {
        path: "/user/info",
        methods: GET,
    },
    Route {
        path: "/user/update",
        methods: POST,
    },
    Route {
        path: "/user/delete",
        methods: POST,
    },
    Route {
        path: "/user/list",
        methods: GET,
    },
    Route {
        path: "/team/new",
        methods: POST,
    },
    Route {
        path: "/team/info",
        methods: GET,
    },
    Route {
        path: "/team/update",
        methods: POST,
    },
    Route {
        path: "/team/delete",
        methods: POST,
    },
    Route {
        path: "/team/list",
        methods: GET,
    },
    Route {
        path: "/team/member_add",
        methods: POST,
    },
    Route {
        path: "/team/member_delete",
        methods: POST,
    },
    Route {
        path: "/team/member_update",
        methods: POST,
    },
    Route {
        path: "/team/block",
        methods: POST,
    },
    Route {
        path: "/team/unblock",
        methods: POST,
    },
    Route {
        path: "/organization/new",
        methods: POST,
    },
    Route {
        path: "/organization/info",
        methods: &["GET", "POST"],
    },
    Route {
        path: "/organization/update",
        methods: &["PATCH"],
    },
    Route {
        path: "/organization/delete",
        methods: &["DELETE"],
    },
    Route {
        path: "/organization/list",
        methods: GET,
    },
    Route {
        path: "/organization/member_add",
        methods: POST,
    },
    Route {
        path: "/customer/new",
        methods: POST,
    },
    Route {
        path: "/customer/info",
        methods: GET,
    },
    Route {
        path: "/customer/update",
        methods: POST,
    },
    Route {
        path: "/customer/delete",
        methods: POST,
    },
    Route {
        path: "/customer/list",
        methods: GET,
    },
    Route {
        path: "/customer/block",
        methods: POST,
    },
    Route {
        path: "/customer/unblock",
        methods: POST,
    },
    Route {
        path: "/budget/new",
        methods: POST,
    },
    Route {
        path: "/budget/info",
        methods: POST,
    },
    Route {
        path: "/budget/update",
        methods: POST,
    },
    Route {
        path: "/budget/delete",
        methods: POST,
    },
    Route {
        path: "/budget/list",
        methods: GET,
    },
    Route {
        path: "/model/new",
        methods: POST,
    },
    Route {
        path: "/model/update",
        methods: POST,
    },
    Route {
        path: "/model/delete",
        methods: POST,
    },
    Route {
        path: "/model/{model_id}/update",
        methods: &["PATCH"],
    },
    Route {
        path: "/spend/logs",
        methods: GET,
    },
    Route {
        path: "/spend/keys",
        methods: GET,
    },
    Route {
        path: "/spend/users",
        methods: GET,
    },
    Route {
        path: "/global/spend",
        methods: GET,
    },
    Route {
        path: "/global/spend/logs",
        methods: GET,
    },
    Route {
        path: "/global/spend/report",
        methods: GET,
    },
    Route {
        path: "/global/spend/reset",
        methods: POST,
    },
];

/// Routes with one parameter in the path: its prefix, its suffix, and the route.
const PARAM_ROUTES: &[(&str, &str, &str)] = &[
    ("/key/", "/regenerate", "/key/regenerate"),
    ("/model/", "/update", "/model/{model_id}/update"),
];

/// A request path resolved to its route, and the parameter in its path (the key of
/// `/key/{key}/regenerate`, the id of `/model/{model_id}/update`).
struct Resolved {
    route: &'static Route,
    path_param: Option<String>,
}

fn resolve(path: &str) -> Option<Resolved> {
    let path = path.split('?').next().unwrap_or(path);
    let path = if path.len() > 1 {
        path.trim_end_matches('/')
    } else {
        path
    };
    // `/end_user/*` is LiteLLM's other name for `/customer/*`.
    let aliased;
    let path = match path.strip_prefix("/end_user/") {
        Some(rest) => {
            aliased = format!("/customer/{rest}");
            aliased.as_str()
        }
        None => path,
    };
    if let Some(route) = ROUTES.iter().find(|r| r.path == path) {
        return Some(Resolved {
            route,
            path_param: None,
        });
    }
    PARAM_ROUTES.iter().find_map(|(prefix, suffix, route)| {
        let param = path.strip_prefix(prefix)?.strip_suffix(suffix)?;
        if param.is_empty() || param.contains('/') {
            return None;
        }
        Some(Resolved {
            route: ROUTES.iter().find(|r| r.path == *route)?,
            path_param: Some(crate::percent::decode(param, false)),
        })
    })
}

pub fn is_admin_route(path: &str) -> bool {
    resolve(path).is_some()
}

pub async fn handle(ctx: &AdminContext<'_>, req: AdminRequest<'_>) -> AdminAnswer {
    let Some(resolved) = resolve(req.path) else {
        return AdminAnswer {
            status: 404,
            body: json!({"detail": "Not Found"}),
        };
    };
    let method = req.method.to_ascii_uppercase();
    if !resolved.route.methods.contains(&method.as_str()) {
        return AdminAnswer {
            status: 405,
            body: json!({"detail": "Method Not Allowed"}),
        };
    }
    let caller = Caller::resolve(ctx);
    if let Err(e) = roles::gate(&caller, &method, resolved.route.path) {
        return e.into_answer();
    }
    let call = Call {
        ctx,
        caller: &caller,
        method: &method,
        query: body::Query::new(req.query),
        body: req.body,
        path_param: resolved.path_param,
    };
    match dispatch(&call, resolved.route.path).await {
        Ok(body) => AdminAnswer { status: 200, body },
        Err(e) => e.into_answer(),
    }
}

/// One admin call as the handlers see it.
pub(crate) struct Call<'a> {
    pub ctx: &'a AdminContext<'a>,
    pub caller: &'a Caller,
    pub method: &'a str,
    pub query: body::Query,
    pub body: &'a [u8],
    /// The parameter in the path, for the routes that have one.
    pub path_param: Option<String>,
}

impl Call<'_> {
    /// Who changed something, as LiteLLM records it (`created_by`, `updated_by`).
    pub fn changed_by(&self) -> String {
        self.caller
            .user_id
            .clone()
            .unwrap_or_else(|| "default_user_id".to_string())
    }
}

async fn dispatch(call: &Call<'_>, route: &str) -> AdminResult<Value> {
    match route {
        "/key/generate" => keys::generate(call).await,
        "/key/info" => key_reads::info(call).await,
        "/key/update" => keys::update(call).await,
        "/key/delete" => keys::delete(call).await,
        "/key/list" => key_reads::list(call).await,
        "/key/regenerate" => keys::regenerate(call).await,
        "/key/block" => keys::set_blocked(call, true).await,
        "/key/unblock" => keys::set_blocked(call, false).await,
        "/key/health" => key_reads::health(call).await,
        "/user/new" => users::new(call).await,
        "/user/info" => users::info(call).await,
        "/user/update" => users::update(call).await,
        "/user/delete" => users::delete(call).await,
        "/user/list" => users::list(call).await,
        "/team/new" => teams::new(call).await,
        "/team/info" => teams::info(call).await,
        "/team/update" => teams::update(call).await,
        "/team/delete" => teams::delete(call).await,
        "/team/list" => teams::list(call).await,
        "/team/block" => teams::set_blocked(call, true).await,
        "/team/unblock" => teams::set_blocked(call, false).await,
        "/team/member_add" => team_members::add(call).await,
        "/team/member_delete" => team_members::delete(call).await,
        "/team/member_update" => team_members::update(call).await,
        "/organization/new" => organizations::new(call).await,
        "/organization/info" => organizations::info(call).await,
        "/organization/update" => organizations::update(call).await,
        "/organization/delete" => organizations::delete(call).await,
        "/organization/list" => organizations::list(call).await,
        "/organization/member_add" => organizations::member_add(call).await,
        "/customer/new" => customers::new(call).await,
        "/customer/info" => customers::info(call).await,
        "/customer/update" => customers::update(call).await,
        "/customer/delete" => customers::delete(call).await,
        "/customer/list" => customers::list(call).await,
        "/customer/block" => customers::set_blocked(call, true).await,
        "/customer/unblock" => customers::set_blocked(call, false).await,
        "/budget/new" => budgets::new(call).await,
        "/budget/info" => budgets::info(call).await,
        "/budget/update" => budgets::update(call).await,
        "/budget/delete" => budgets::delete(call).await,
        "/budget/list" => budgets::list(call).await,
        "/model/new" => models::new(call).await,
        "/model/update" => models::update(call).await,
        "/model/delete" => models::delete(call).await,
        "/model/{model_id}/update" => models::patch(call).await,
        "/spend/logs" => spend::logs(call).await,
        "/spend/keys" => spend::keys(call).await,
        "/spend/users" => spend::users(call).await,
        "/global/spend" => spend::global(call).await,
        "/global/spend/logs" => spend::global_logs(call).await,
        "/global/spend/report" => spend_report::report(call).await,
        "/global/spend/reset" => spend::reset(call).await,
        _ => Err(AdminError::proxy(404, "Not Found", "not_found_error", None)),
    }
}

#[cfg(test)]
mod route_tests {
    use super::*;

    #[test]
    fn routes_resolve() {
        assert!(is_admin_route("/key/generate"));
        assert!(is_admin_route("/key/generate/"));
        assert!(is_admin_route("/end_user/info"));
        assert!(is_admin_route("/key/sk-abc/regenerate"));
        assert!(!is_admin_route("/key/a/b/regenerate"));
        let model = resolve("/model/a%2Fb/update").map(|r| (r.route.path, r.path_param));
        assert_eq!(
            model,
            Some(("/model/{model_id}/update", Some("a/b".to_string())))
        );
        assert_eq!(
            resolve("/model/update").map(|r| r.route.path),
            Some("/model/update")
        );
        assert!(!is_admin_route("/model//update"));
        assert!(!is_admin_route("/v1/chat/completions"));
        assert!(!is_admin_route("/key"));
    }
}
