//! Which limits one call counts against: its key's, the key's user's, team's and
//! organization's, its end user's (each entity's own fields, else those of its shared
//! `budget_id`, as LiteLLM's budget table carries them), the key's and team's per-model limits
//! (`model_rpm_limit`, `model_tpm_limit`, top level or in `metadata`), and the gateway's own.

use super::{Kind, Limit};
use crate::auth::directory::Directory;
use crate::auth::keys::KeyCaller;
use crate::store::{Entity, Table};
use serde_json::Value;

/// `general_settings.max_parallel_requests` / `global_max_parallel_requests`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GatewayLimits {
    pub max_parallel_requests: Option<u64>,
}

pub fn for_call(
    directory: &Directory,
    key: Option<&KeyCaller>,
    end_user: Option<&str>,
    model: &str,
    gateway: &GatewayLimits,
) -> Vec<Limit> {
    let mut out = Vec::new();
    if let Some(max) = gateway.max_parallel_requests {
        out.push(Limit::new("global", "gateway".into(), Kind::Parallel, max));
    }
    if let Some(k) = key {
        entity_limits(directory, &k.key, "api_key", &k.token, &mut out);
        per_model(&k.key, "model_per_key", &k.token, model, &mut out);
        let related = [
            (Table::Users, "user_id", "user"),
            (Table::Teams, "team_id", "team"),
            (Table::Organizations, "organization_id", "organization"),
        ];
        for (table, field, descriptor) in related {
            let Some(id) = k.key.str_field(field).filter(|i| !i.is_empty()) else {
                continue;
            };
            if let Some(e) = directory.get(table, id) {
                entity_limits(directory, &e, descriptor, id, &mut out);
                if table == Table::Teams {
                    per_model(&e, "model_per_team", id, model, &mut out);
                }
            }
        }
    }
    if let Some(id) = end_user.filter(|i| !i.is_empty()) {
        if let Some(e) = directory.get(Table::Customers, id) {
            entity_limits(directory, &e, "end_user", id, &mut out);
        }
    }
    out
}

/// A deployment's own `rpm` / `tpm`.
pub fn for_deployment(id: &str, rpm: Option<u64>, tpm: Option<u64>) -> Vec<Limit> {
    let mut out = Vec::new();
    for (kind, max) in [(Kind::Requests, rpm), (Kind::Tokens, tpm)] {
        if let Some(max) = max.map(|m| m.min(i64::MAX as u64)) {
            out.push(Limit::new("deployment", id.to_string(), kind, max));
        }
    }
    out
}

fn entity_limits(
    directory: &Directory,
    entity: &Entity,
    descriptor: &'static str,
    id: &str,
    out: &mut Vec<Limit>,
) {
    let budget = entity
        .str_field("budget_id")
        .and_then(|b| directory.get(Table::Budgets, b));
    let fields = [
        ("rpm_limit", Kind::Requests),
        ("tpm_limit", Kind::Tokens),
        ("max_parallel_requests", Kind::Parallel),
    ];
    for (field, kind) in fields {
        let max = count(entity.doc.get(field))
            .or_else(|| budget.as_ref().and_then(|b| count(b.doc.get(field))));
        if let Some(max) = max {
            out.push(Limit::new(descriptor, id.to_string(), kind, max));
        }
    }
}

fn per_model(
    entity: &Entity,
    descriptor: &'static str,
    id: &str,
    model: &str,
    out: &mut Vec<Limit>,
) {
    let metadata = entity.doc.get("metadata");
    for (field, kind) in [
        ("model_rpm_limit", Kind::Requests),
        ("model_tpm_limit", Kind::Tokens),
    ] {
        let map = entity
            .doc
            .get(field)
            .filter(|v| v.is_object())
            .or_else(|| metadata.and_then(|m| m.get(field)));
        if let Some(max) = count(map.and_then(|m| m.get(model))) {
            out.push(Limit::new(descriptor, format!("{id}:{model}"), kind, max));
        }
    }
}

/// A limit as stored: a non-negative whole number (LiteLLM writes them as ints, sometimes as
/// floats); anything else means no limit.
fn count(v: Option<&Value>) -> Option<u64> {
    let v = v?;
    let n = v.as_u64().or_else(|| {
        v.as_f64()
            .filter(|f| f.is_finite() && *f >= 0.0)
            .map(|f| f.min(i64::MAX as f64) as u64)
    })?;
    // Counters are signed in Redis: a limit past i64 is no limit in practice.
    Some(n.min(i64::MAX as u64))
}
