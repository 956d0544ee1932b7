//! An OpenAI chat completion request into an Anthropic Messages request, parameter by parameter
//! as LiteLLM maps them.
//!
//! JSON mode: Anthropic has none, so `response_format` `json_object` / `json_schema` becomes a
//! forced tool named `json_tool_call` whose `input_schema` is the schema, as LiteLLM does; the
//! response and stream decoders turn that tool's input back into the message content.
//!
//! OpenAI parameters Anthropic cannot take are a 400 in LiteLLM's words, or dropped with
//! `drop_params`. Anthropic's own `top_k` and `thinking` pass through. Everything else (the
//! gateway's own fields: `metadata`, `stream_options`, `fallbacks`, `mock_response`, ...) is
//! never forwarded: Anthropic rejects fields it does not know.

use super::messages;
use crate::canonical::params::{self, FunctionTool, UnsupportedParams};
use crate::error::GatewayError;
use serde_json::{json, Map, Value};

/// The forced tool that stands in for JSON mode.
pub const JSON_MODE_TOOL: &str = "json_tool_call";

pub struct RequestOptions {
    pub drop_params: bool,
    /// `max_tokens` when the client sets none; Anthropic requires one (LiteLLM uses 4096).
    pub default_max_tokens: u64,
}

impl Default for RequestOptions {
    fn default() -> Self {
        RequestOptions {
            drop_params: false,
            default_max_tokens: 4096,
        }
    }
}

/// OpenAI parameters with no Anthropic equivalent.
const UNSUPPORTED: &[&str] = &[
    "audio",
    "frequency_penalty",
    "function_call",
    "functions",
    "logit_bias",
    "logprobs",
    "modalities",
    "n",
    "prediction",
    "presence_penalty",
    "seed",
    "service_tier",
    "store",
    "top_logprobs",
    "web_search_options",
];

/// Anthropic's own parameters, passed through as given.
const NATIVE: &[&str] = &["top_k", "thinking"];

pub fn to_anthropic_request(
    openai: &Value,
    upstream_model: &str,
    opts: &RequestOptions,
) -> Result<Value, GatewayError> {
    let req = params::request_object(openai)?;
    let unsupported = UnsupportedParams {
        provider: "anthropic",
        model: upstream_model,
        drop_params: opts.drop_params,
    };
    unsupported.check(req, UNSUPPORTED.iter().copied(), is_harmless)?;
    let messages = params::messages(req)?;
    let converted = messages::convert(messages)?;

    let mut body = Map::new();
    body.insert("model".into(), json!(upstream_model));
    if let Some(system) = converted.system {
        body.insert("system".into(), system);
    }
    body.insert("messages".into(), Value::Array(converted.messages));
    for name in ["temperature", "top_p"].iter().chain(NATIVE) {
        if let Some(v) = req.get(*name).filter(|v| !v.is_null()) {
            body.insert((*name).into(), v.clone());
        }
    }
    if req.get("stream").and_then(Value::as_bool) == Some(true) {
        body.insert("stream".into(), json!(true));
    }
    if let Some(stop) = stop_sequences(req.get("stop"), opts.drop_params)? {
        body.insert("stop_sequences".into(), stop);
    }
    if let Some(user) = req.get("user").and_then(Value::as_str) {
        // Anthropic rejects emails and phone numbers as user ids; LiteLLM leaves them out.
        if !looks_like_contact(user) {
            body.insert("metadata".into(), json!({"user_id": user}));
        }
    }
    if let Some(effort) = req.get("reasoning_effort").filter(|v| !v.is_null()) {
        if !body.contains_key("thinking") {
            if let Some(thinking) = thinking_for_effort(effort)? {
                body.insert("thinking".into(), thinking);
            }
        }
    }
    let max_tokens = max_tokens(req, &body, opts)?;
    body.insert("max_tokens".into(), json!(max_tokens));
    add_tools(req, &mut body)?;
    Ok(Value::Object(body))
}

/// Values that ask for nothing Anthropic would not do anyway.
fn is_harmless(name: &str, value: &Value) -> bool {
    match name {
        "n" => value.is_null() || value.as_u64() == Some(1),
        "logprobs" | "store" => value.is_null() || value == &json!(false),
        _ => value.is_null(),
    }
}

/// `max_completion_tokens` (newer) or `max_tokens`; with thinking and no client value, the
/// default plus the thinking budget, as LiteLLM does (Anthropic wants max_tokens > budget).
fn max_tokens(
    req: &Map<String, Value>,
    body: &Map<String, Value>,
    opts: &RequestOptions,
) -> Result<u64, GatewayError> {
    for name in ["max_completion_tokens", "max_tokens"] {
        match req.get(name) {
            None | Some(Value::Null) => continue,
            Some(v) => {
                return v.as_u64().filter(|n| *n > 0).ok_or_else(|| {
                    GatewayError::bad_request(format!("{name} must be a positive integer"))
                        .with_param(name)
                })
            }
        }
    }
    let budget = body
        .get("thinking")
        .filter(|t| t.get("type").and_then(Value::as_str) == Some("enabled"))
        .and_then(|t| t.get("budget_tokens"))
        .and_then(Value::as_u64)
        .unwrap_or(0);
    Ok(opts.default_max_tokens.saturating_add(budget))
}

/// LiteLLM's thinking budgets; `minimal` gets Anthropic's minimum budget. Claude on Bedrock
/// takes the same (converse.rs).
pub(crate) fn thinking_for_effort(effort: &Value) -> Result<Option<Value>, GatewayError> {
    let budget = match effort.as_str() {
        Some("none") => return Ok(None),
        Some("minimal" | "low") => 1024,
        Some("medium") => 2048,
        Some("high") => 4096,
        _ => {
            return Err(GatewayError::bad_request(format!(
                "Invalid reasoning_effort: {effort}. Must be one of: 'minimal', 'low', 'medium', 'high', 'none'"
            ))
            .with_param("reasoning_effort"))
        }
    };
    Ok(Some(json!({"type": "enabled", "budget_tokens": budget})))
}

/// `stop` as a list. Anthropic rejects whitespace-only sequences; with `drop_params` they are
/// left out, as LiteLLM does.
fn stop_sequences(stop: Option<&Value>, drop_params: bool) -> Result<Option<Value>, GatewayError> {
    let given: Vec<&Value> = match stop {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(list)) => list.iter().collect(),
        Some(one) => vec![one],
    };
    let mut kept = Vec::new();
    for s in given {
        let Some(s) = s.as_str() else {
            return Err(
                GatewayError::bad_request("stop must be a string or a list of strings")
                    .with_param("stop"),
            );
        };
        if !(drop_params && s.trim().is_empty()) {
            kept.push(json!(s));
        }
    }
    Ok((!kept.is_empty()).then_some(Value::Array(kept)))
}

fn looks_like_contact(user: &str) -> bool {
    let email = user
        .split_once('@')
        .is_some_and(|(name, domain)| !name.is_empty() && domain.contains('.'));
    let phone = user.chars().filter(char::is_ascii_digit).count() >= 7
        && user
            .chars()
            .all(|c| c.is_ascii_digit() || " ()-+".contains(c));
    email || phone
}

/// `tools`, `tool_choice`, `parallel_tool_calls` and JSON mode's forced tool.
fn add_tools(req: &Map<String, Value>, body: &mut Map<String, Value>) -> Result<(), GatewayError> {
    let mut tools = Vec::new();
    for tool in req
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        tools.push(anthropic_tool(tool)?);
    }
    let mut choice = match req.get("tool_choice") {
        None | Some(Value::Null) => None,
        Some(c) => tool_choice(c)?,
    };
    if let Some(parallel) = req.get("parallel_tool_calls").and_then(Value::as_bool) {
        // Anthropic's flag is the inverse of OpenAI's and lives on the tool choice.
        let disable = json!(!parallel);
        match choice.as_mut().and_then(Value::as_object_mut) {
            Some(c) if c.get("type") == Some(&json!("none")) => {}
            Some(c) => {
                c.insert("disable_parallel_tool_use".into(), disable);
            }
            None => choice = Some(json!({"type": "auto", "disable_parallel_tool_use": disable})),
        }
    }
    if let Some(schema) = json_mode_schema(req.get("response_format"))? {
        tools.push(json!({"name": JSON_MODE_TOOL, "input_schema": schema}));
        // Anthropic does not allow forcing a tool while thinking.
        if !body.contains_key("thinking") {
            choice = Some(json!({"type": "tool", "name": JSON_MODE_TOOL}));
        }
    }
    if !tools.is_empty() {
        body.insert("tools".into(), Value::Array(tools));
    }
    if let Some(choice) = choice {
        body.insert("tool_choice".into(), choice);
    }
    Ok(())
}

fn anthropic_tool(tool: &Value) -> Result<Value, GatewayError> {
    let function = FunctionTool::read(tool)?;
    let mut out = function.named();
    out.insert("input_schema".into(), function.parameters);
    if let Some(cache) = tool.get("cache_control") {
        out.insert("cache_control".into(), cache.clone());
    }
    Ok(Value::Object(out))
}

fn tool_choice(choice: &Value) -> Result<Option<Value>, GatewayError> {
    let mapped = match choice.as_str() {
        Some("auto") => json!({"type": "auto"}),
        Some("required") => json!({"type": "any"}),
        Some("none") => json!({"type": "none"}),
        _ => match choice.pointer("/function/name").and_then(Value::as_str) {
            Some(name) => json!({"type": "tool", "name": name}),
            None => {
                return Err(GatewayError::bad_request(
                    "tool_choice must be \"auto\", \"required\", \"none\" or {\"type\": \"function\", \"function\": {\"name\": ...}}",
                )
                .with_param("tool_choice"))
            }
        },
    };
    Ok(Some(mapped))
}

/// The schema JSON mode's tool takes, or `None` for plain text answers.
fn json_mode_schema(format: Option<&Value>) -> Result<Option<Value>, GatewayError> {
    let any_object = || json!({"type": "object", "properties": {}, "additionalProperties": true});
    let Some(format) = format.filter(|f| !f.is_null()) else {
        return Ok(None);
    };
    match format.get("type").and_then(Value::as_str) {
        Some("text") => Ok(None),
        Some("json_object") => Ok(Some(any_object())),
        Some("json_schema") => Ok(Some(
            format
                .pointer("/json_schema/schema")
                .filter(|s| s.is_object())
                .cloned()
                .unwrap_or_else(any_object),
        )),
        _ => Err(GatewayError::bad_request(
            "response_format.type must be \"text\", \"json_object\" or \"json_schema\"",
        )
        .with_param("response_format")),
    }
}

#[cfg(test)]
mod tests;
