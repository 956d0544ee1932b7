//! An OpenAI chat completion request into a Cohere v2 `POST /v2/chat` body.
//!
//! Cohere v2 is close to OpenAI's shape (messages with system/user/assistant/tool roles,
//! function tools, tool calls with ids), so most of the work is renaming: `top_p` is `p`,
//! `stop` is `stop_sequences`, `tool_choice` is `REQUIRED` / `NONE`, JSON mode is
//! `{"type": "json_object", "json_schema": ...}`. OpenAI parameters Cohere cannot take are a
//! 400 in LiteLLM's words, or dropped with `drop_params`; the gateway's own fields (`metadata`,
//! `stream_options`, `user`, `fallbacks`, ...) are never forwarded.

use super::messages;
use crate::canonical::params::{self, FunctionTool, UnsupportedParams};
use crate::error::GatewayError;
use serde_json::{json, Map, Value};

#[derive(Default)]
pub struct RequestOptions {
    pub drop_params: bool,
}

/// OpenAI parameters with no Cohere v2 equivalent.
const UNSUPPORTED: &[&str] = &[
    "audio",
    "function_call",
    "functions",
    "logit_bias",
    "logprobs",
    "modalities",
    "n",
    "parallel_tool_calls",
    "prediction",
    "reasoning_effort",
    "service_tier",
    "store",
    "top_logprobs",
    "web_search_options",
];

/// OpenAI parameters Cohere takes under the same name.
const SAME_NAME: &[&str] = &[
    "temperature",
    "seed",
    "frequency_penalty",
    "presence_penalty",
];

/// Cohere's own parameters, passed through as given.
const NATIVE: &[&str] = &[
    "k",
    "safety_mode",
    "strict_tools",
    "documents",
    "citation_options",
    "thinking",
];

pub fn to_cohere_request(
    openai: &Value,
    upstream_model: &str,
    opts: &RequestOptions,
) -> Result<Value, GatewayError> {
    let req = params::request_object(openai)?;
    let unsupported = UnsupportedParams {
        // LiteLLM routes Cohere chat models through its `cohere_chat` provider and names it so.
        provider: "cohere_chat",
        model: upstream_model,
        drop_params: opts.drop_params,
    };
    unsupported.check(req, UNSUPPORTED.iter().copied(), is_harmless)?;
    let messages = params::messages(req)?;

    let mut body = Map::new();
    body.insert("model".into(), json!(upstream_model));
    body.insert(
        "messages".into(),
        Value::Array(messages::convert(messages)?),
    );
    for name in SAME_NAME.iter().chain(NATIVE) {
        if let Some(v) = req.get(*name).filter(|v| !v.is_null()) {
            body.insert((*name).into(), v.clone());
        }
    }
    if let Some(p) = req.get("top_p").filter(|v| !v.is_null()) {
        body.insert("p".into(), p.clone());
    }
    if let Some(max) = max_tokens(req)? {
        body.insert("max_tokens".into(), json!(max));
    }
    if let Some(stop) = stop_sequences(req.get("stop"))? {
        body.insert("stop_sequences".into(), stop);
    }
    if req.get("stream").and_then(Value::as_bool) == Some(true) {
        body.insert("stream".into(), json!(true));
    }
    if let Some(format) = response_format(req.get("response_format"))? {
        body.insert("response_format".into(), format);
    }
    add_tools(req, &mut body)?;
    Ok(Value::Object(body))
}

/// Values that ask for nothing Cohere would not do anyway.
fn is_harmless(name: &str, value: &Value) -> bool {
    match name {
        "n" => value.is_null() || value.as_u64() == Some(1),
        // Cohere may call tools in parallel; allowing it is the default.
        "parallel_tool_calls" => value.is_null() || value == &json!(true),
        "logprobs" | "store" => value.is_null() || value == &json!(false),
        _ => value.is_null(),
    }
}

/// `max_completion_tokens` (newer) or `max_tokens`; none means Cohere's default.
fn max_tokens(req: &Map<String, Value>) -> Result<Option<u64>, GatewayError> {
    for name in ["max_completion_tokens", "max_tokens"] {
        match req.get(name) {
            None | Some(Value::Null) => continue,
            Some(v) => {
                return v.as_u64().filter(|n| *n > 0).map(Some).ok_or_else(|| {
                    GatewayError::bad_request(format!("{name} must be a positive integer"))
                        .with_param(name)
                })
            }
        }
    }
    Ok(None)
}

fn stop_sequences(stop: Option<&Value>) -> Result<Option<Value>, GatewayError> {
    let given: Vec<&Value> = match stop {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(list)) => list.iter().collect(),
        Some(one) => vec![one],
    };
    if given.iter().any(|s| !s.is_string()) {
        return Err(
            GatewayError::bad_request("stop must be a string or a list of strings")
                .with_param("stop"),
        );
    }
    Ok((!given.is_empty()).then(|| Value::Array(given.into_iter().cloned().collect())))
}

/// JSON mode: `json_object` as is, `json_schema` with the schema as Cohere's `json_schema`.
fn response_format(format: Option<&Value>) -> Result<Option<Value>, GatewayError> {
    let Some(format) = format.filter(|f| !f.is_null()) else {
        return Ok(None);
    };
    match format.get("type").and_then(Value::as_str) {
        Some("text") => Ok(None),
        Some("json_object") => Ok(Some(json!({"type": "json_object"}))),
        Some("json_schema") => {
            let schema = format
                .pointer("/json_schema/schema")
                .filter(|s| s.is_object());
            Ok(Some(match schema {
                Some(schema) => json!({"type": "json_object", "json_schema": schema}),
                None => json!({"type": "json_object"}),
            }))
        }
        _ => Err(GatewayError::bad_request(
            "response_format.type must be \"text\", \"json_object\" or \"json_schema\"",
        )
        .with_param("response_format")),
    }
}

/// `tools` and `tool_choice`. Cohere can force "some tool" (`REQUIRED`) but not a named one, so
/// a named choice sends only that tool, required: the same guarantee by other means.
fn add_tools(req: &Map<String, Value>, body: &mut Map<String, Value>) -> Result<(), GatewayError> {
    let mut tools = Vec::new();
    for tool in req
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        tools.push(cohere_tool(tool)?);
    }
    let choice = match req.get("tool_choice") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => match s.as_str() {
            "auto" => None,
            "required" => Some("REQUIRED"),
            "none" => Some("NONE"),
            _ => return Err(invalid_tool_choice()),
        },
        Some(named) => {
            let name = named
                .pointer("/function/name")
                .and_then(Value::as_str)
                .ok_or_else(invalid_tool_choice)?;
            tools.retain(|t| t.pointer("/function/name").and_then(Value::as_str) == Some(name));
            if tools.is_empty() {
                return Err(GatewayError::bad_request(format!(
                    "tool_choice names {name:?}, which is not among the tools"
                ))
                .with_param("tool_choice"));
            }
            Some("REQUIRED")
        }
    };
    if tools.is_empty() {
        // A tool choice without tools means nothing to Cohere.
        return Ok(());
    }
    body.insert("tools".into(), Value::Array(tools));
    if let Some(choice) = choice {
        body.insert("tool_choice".into(), json!(choice));
    }
    Ok(())
}

fn invalid_tool_choice() -> GatewayError {
    GatewayError::bad_request(
        "tool_choice must be \"auto\", \"required\", \"none\" or {\"type\": \"function\", \"function\": {\"name\": ...}}",
    )
    .with_param("tool_choice")
}

/// Only the fields Cohere defines are sent (OpenAI's `strict` is not one of them).
fn cohere_tool(tool: &Value) -> Result<Value, GatewayError> {
    let function = FunctionTool::read(tool)?;
    let mut out = function.named();
    out.insert("parameters".into(), function.parameters);
    Ok(json!({"type": "function", "function": Value::Object(out)}))
}

#[cfg(test)]
mod tests;
