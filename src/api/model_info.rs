//! `/model/info` (and `/v1/model/info`), `/v2/model/info` and `/model_group/info`, in
//! LiteLLM's shapes: every deployment a caller may use, from the config file and the store,
//! with prices and limits from the price table and never a secret. Team models show by their
//! public name.

use crate::config::DeploymentConfig;
use crate::runtime_models::{is_secret_param, StoredModel};
use crate::spend::prices;
use crate::state::Snapshot;
use serde_json::{json, Map, Value};

/// One deployment as these routes list it: the group it routes under (internal for team
/// models), its public name, and its entry.
struct Listed<'a> {
    group: &'a str,
    public: &'a str,
    config: &'a DeploymentConfig,
    stored: Option<&'a StoredModel>,
}

/// The deployments `visible(group, public name)` lets the caller see, config file first.
fn listed<'a>(snapshot: &'a Snapshot, visible: &dyn Fn(&str, &str) -> bool) -> Vec<Listed<'a>> {
    let from_file = snapshot.config.model_list.iter().map(|c| (c, None));
    let from_store = snapshot.stored.models.iter().map(|m| (&m.config, Some(m)));
    from_file
        .chain(from_store)
        .map(|(config, stored)| Listed {
            group: &config.model_name,
            public: stored
                .and_then(|m| m.public_name.as_deref())
                .unwrap_or(&config.model_name),
            config,
            stored,
        })
        .filter(|l| visible(l.group, l.public))
        .collect()
}

/// `GET /model/info[?litellm_model_id=]`: `{"data": [...]}`; an unknown id is a 400.
pub fn v1(
    snapshot: &Snapshot,
    visible: &dyn Fn(&str, &str) -> bool,
    model_id: Option<&str>,
) -> (u16, Value) {
    let all = listed(snapshot, visible);
    match model_id {
        Some(id) => match all.iter().find(|l| l.config.id == id) {
            Some(l) => (200, json!({"data": [entry(l)]})),
            None => (
                400,
                json!({"detail": {"error": format!("Model id = {id} not found on litellm proxy")}}),
            ),
        },
        None => (
            200,
            json!({"data": all.iter().map(entry).collect::<Vec<_>>()}),
        ),
    }
}

/// `GET /v2/model/info[?model=&page=&size=]`: one page of the deployments, with LiteLLM's
/// pagination fields.
pub fn v2(
    snapshot: &Snapshot,
    visible: &dyn Fn(&str, &str) -> bool,
    model: Option<&str>,
    page: usize,
    size: usize,
) -> Value {
    let all: Vec<Listed<'_>> = listed(snapshot, visible)
        .into_iter()
        .filter(|l| model.is_none_or(|m| l.public == m))
        .collect();
    let total = all.len();
    let data: Vec<Value> = all
        .iter()
        .skip(page.saturating_sub(1).saturating_mul(size))
        .take(size)
        .map(entry)
        .collect();
    json!({
        "data": data,
        "total_count": total,
        "current_page": page,
        "total_pages": total.div_ceil(size.max(1)),
        "size": size,
    })
}

/// `GET /model_group/info[?model_group=]`: one row per model group.
pub fn groups(
    snapshot: &Snapshot,
    visible: &dyn Fn(&str, &str) -> bool,
    only: Option<&str>,
) -> Value {
    let mut rows: Vec<(String, Map<String, Value>)> = Vec::new();
    for l in listed(snapshot, visible) {
        if only.is_some_and(|g| g != l.public) {
            continue;
        }
        let info = model_info(&l);
        let at = match rows.iter().position(|(name, _)| name == l.public) {
            Some(at) => at,
            None => {
                let mut row = Map::new();
                row.insert("model_group".into(), json!(l.public));
                row.insert("providers".into(), json!([]));
                rows.push((l.public.to_string(), row));
                rows.len() - 1
            }
        };
        let row = &mut rows[at].1;
        if let Some(Value::Array(p)) = row.get_mut("providers") {
            let name = json!(l.config.provider.name);
            if !p.contains(&name) {
                p.push(name);
            }
        }
        for field in [
            "max_input_tokens",
            "max_output_tokens",
            "input_cost_per_token",
            "output_cost_per_token",
            "mode",
        ] {
            let known = row.get(field).is_some_and(|v| !v.is_null());
            if !known {
                row.insert(
                    field.into(),
                    info.get(field).cloned().unwrap_or(Value::Null),
                );
            }
        }
        for (field, value) in [("tpm", l.config.tpm), ("rpm", l.config.rpm)] {
            if let Some(v) = value {
                let sum = row.get(field).and_then(Value::as_u64).unwrap_or(0);
                row.insert(field.into(), json!(sum.saturating_add(v)));
            } else {
                row.entry(field).or_insert(Value::Null);
            }
        }
    }
    let data: Vec<Value> = rows
        .into_iter()
        .map(|(_, mut row)| {
            row.insert("supported_openai_params".into(), json!([]));
            row.insert("configurable_clientside_auth_params".into(), Value::Null);
            Value::Object(row)
        })
        .collect();
    json!({"data": data})
}

fn entry(l: &Listed<'_>) -> Value {
    json!({
        "model_name": l.public,
        "litellm_params": litellm_params(l),
        "model_info": model_info(l),
    })
}

/// The deployment's params without secrets: a stored model's as given, a config entry's as
/// read.
fn litellm_params(l: &Listed<'_>) -> Value {
    if let Some(m) = l.stored {
        return Value::Object(crate::admin::models::public_params(
            m.entity.doc.get("litellm_params"),
        ));
    }
    let c = l.config;
    let mut p = Map::new();
    p.insert(
        "model".into(),
        json!(format!("{}/{}", c.provider.name, c.model)),
    );
    let mut put = |k: &str, v: Value| {
        if !v.is_null() {
            p.insert(k.into(), v);
        }
    };
    put("api_base", json!(c.api_base));
    put("api_version", json!(c.api_version));
    put("organization", json!(c.organization));
    put("timeout", json!(c.timeout));
    put("stream_timeout", json!(c.stream_timeout));
    put("max_retries", json!(c.max_retries));
    put("rpm", json!(c.rpm));
    put("tpm", json!(c.tpm));
    put("weight", json!(c.weight));
    put("order", json!(c.order));
    let mut extra: Vec<(&String, &String)> = c
        .extra_params
        .iter()
        .filter(|(k, _)| !is_secret_param(k))
        .collect();
    extra.sort();
    for (k, v) in extra {
        put(k, json!(v));
    }
    Value::Object(p)
}

/// `model_info`: what the entry gives (a stored model's whole `model_info`), then the price
/// table's prices and limits where the entry is silent.
fn model_info(l: &Listed<'_>) -> Map<String, Value> {
    let c = l.config;
    let mut info: Map<String, Value> = l
        .stored
        .and_then(|m| m.entity.doc.get("model_info"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let i = &c.model_info;
    let price_model = i.base_model.as_deref().unwrap_or(&c.model);
    let listed = prices::lookup(c.provider.name, price_model);
    let from_table = |f: fn(&prices::ModelPrice) -> Value| listed.map_or(Value::Null, f);
    let fields = [
        ("id", json!(c.id)),
        ("db_model", json!(l.stored.is_some())),
        ("key", json!(c.model)),
        ("litellm_provider", json!(c.provider.name)),
        (
            "mode",
            i.mode.as_ref().map_or_else(
                || from_table(|p| json!(p.mode.as_deref().unwrap_or("chat"))),
                |m| json!(m),
            ),
        ),
        (
            "input_cost_per_token",
            i.input_cost_per_token.map_or_else(
                || from_table(|p| json!(p.input_cost_per_token)),
                |v| json!(v),
            ),
        ),
        (
            "output_cost_per_token",
            i.output_cost_per_token.map_or_else(
                || from_table(|p| json!(p.output_cost_per_token)),
                |v| json!(v),
            ),
        ),
        (
            "max_input_tokens",
            i.max_input_tokens
                .map_or_else(|| from_table(|p| json!(p.max_input_tokens)), |v| json!(v)),
        ),
        (
            "max_output_tokens",
            i.max_output_tokens
                .map_or_else(|| from_table(|p| json!(p.max_output_tokens)), |v| json!(v)),
        ),
        ("base_model", json!(i.base_model)),
    ];
    for (k, v) in fields {
        info.entry(k).or_insert(v);
    }
    let max_output = info
        .get("max_output_tokens")
        .cloned()
        .unwrap_or(Value::Null);
    info.entry("max_tokens").or_insert(max_output);
    if !i.access_groups.is_empty() {
        info.entry("access_groups")
            .or_insert(json!(i.access_groups));
    }
    info
}
