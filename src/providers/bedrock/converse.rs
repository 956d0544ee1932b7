//! An OpenAI chat completion request into a Bedrock Converse request body, parameter by
//! parameter as LiteLLM's `AmazonConverseConfig` maps them. The model id travels in the path
//! (`/model/{id}/converse`), not the body.
//!
//! Mapped: `max_tokens`/`max_completion_tokens` → `inferenceConfig.maxTokens`, `temperature`,
//! `top_p` → `topP`, `stop` → `stopSequences`; `tools` → `toolConfig.tools[].toolSpec`,
//! `tool_choice` → `toolChoice` (`auto`, `any`, `tool`); `top_k`, `thinking` and (Claude)
//! `reasoning_effort` → `additionalModelRequestFields`; `service_tier` → `serviceTier`.
//! JSON mode is LiteLLM's forced `json_tool_call` tool (the response side turns it back into
//! content). Bedrock's own `guardrailConfig`, `performanceConfig` and `requestMetadata` pass
//! through. Other OpenAI parameters are a 400 in LiteLLM's words, or dropped with
//! `drop_params`; the gateway's own fields are never forwarded.
//!
//! `tool_choice: "none"`: Converse has no such choice. The tools are left out so the model
//! cannot call them, unless the history already holds tool calls or results, which Bedrock
//! rejects without a `toolConfig`; then the tools stay and no choice is sent. (LiteLLM instead
//! refuses `none` unless `drop_params`, and then only drops the choice.)

use super::converse_messages;
use crate::canonical::params::{self, FunctionTool, UnsupportedParams};
use crate::error::GatewayError;
use crate::providers::anthropic::request::{thinking_for_effort, JSON_MODE_TOOL};
use serde_json::{json, Map, Value};

pub struct RequestOptions<'a> {
    /// The Bedrock model id; some parameters depend on the model family.
    pub model: &'a str,
    pub drop_params: bool,
}

/// `max_tokens` when thinking is on and the client set none, on top of the thinking budget
/// (LiteLLM's `DEFAULT_MAX_TOKENS`): Claude wants `max_tokens` above the budget.
const DEFAULT_MAX_TOKENS: u64 = 4096;

/// OpenAI parameters Converse has no place for.
const UNSUPPORTED: &[&str] = &[
    "audio",
    "frequency_penalty",
    "function_call",
    "functions",
    "logit_bias",
    "logprobs",
    "modalities",
    "n",
    "parallel_tool_calls",
    "prediction",
    "presence_penalty",
    "seed",
    "store",
    "top_logprobs",
    "web_search_options",
];

/// Converse's own top-level fields, passed through as given.
const NATIVE: &[&str] = &["guardrailConfig", "performanceConfig", "requestMetadata"];

pub fn to_converse_request(openai: &Value, opts: &RequestOptions) -> Result<Value, GatewayError> {
    let req = params::request_object(openai)?;
    check_unsupported(req, opts)?;
    let messages = params::messages(req)?;
    let converted = converse_messages::convert(messages)?;
    if converted.messages.is_empty() {
        return Err(GatewayError::bad_request(
            "Invalid Message bedrock requires at least one non-system message",
        )
        .with_param("messages"));
    }

    let mut additional = Map::new();
    if let Some(top_k) = present(req, "top_k") {
        if opts.model.contains("amazon.nova") {
            additional.insert("inferenceConfig".into(), json!({"topK": top_k}));
        } else {
            additional.insert("top_k".into(), top_k.clone());
        }
    }
    if let Some(thinking) = present(req, "thinking") {
        additional.insert("thinking".into(), thinking.clone());
    } else if let Some(effort) = present(req, "reasoning_effort") {
        if let Some(thinking) = thinking_for_effort(effort)? {
            additional.insert("thinking".into(), thinking);
        }
    }
    let thinking_budget = additional
        .get("thinking")
        .filter(|t| t.get("type").and_then(Value::as_str) == Some("enabled"))
        .map(|t| t.get("budget_tokens").and_then(Value::as_u64).unwrap_or(0));

    let mut body = Map::new();
    body.insert("messages".into(), Value::Array(converted.messages));
    if !converted.system.is_empty() {
        body.insert("system".into(), Value::Array(converted.system));
    }
    let inference = inference_config(req, thinking_budget, opts.drop_params)?;
    if !inference.is_empty() {
        body.insert("inferenceConfig".into(), Value::Object(inference));
    }
    let tools = ToolsAsked {
        req,
        model: opts.model,
        thinking: thinking_budget.is_some(),
        history_has_tools: converted.has_tool_blocks,
    };
    if let Some(tool_config) = tools.tool_config()? {
        body.insert("toolConfig".into(), tool_config);
    }
    if !additional.is_empty() {
        body.insert(
            "additionalModelRequestFields".into(),
            Value::Object(additional),
        );
    }
    for name in NATIVE {
        if let Some(v) = present(req, name) {
            body.insert((*name).into(), v.clone());
        }
    }
    if let Some(tier) = req.get("service_tier").and_then(Value::as_str) {
        // Bedrock's tiers are OpenAI's minus `auto`, which is its default.
        let tier = if tier == "auto" { "default" } else { tier };
        body.insert("serviceTier".into(), json!({ "type": tier }));
    }
    Ok(Value::Object(body))
}

fn present<'a>(req: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    req.get(name).filter(|v| !v.is_null())
}

fn check_unsupported(req: &Map<String, Value>, opts: &RequestOptions) -> Result<(), GatewayError> {
    let claude = opts.model.contains("anthropic.");
    let names = UNSUPPORTED
        .iter()
        .copied()
        .chain((!claude).then_some("reasoning_effort"));
    let unsupported = UnsupportedParams {
        provider: "bedrock",
        model: opts.model,
        drop_params: opts.drop_params,
    };
    unsupported.check(req, names, is_harmless)?;
    Ok(())
}

/// Values that ask for nothing Converse would not do anyway.
fn is_harmless(name: &str, value: &Value) -> bool {
    match name {
        "n" => value.is_null() || value.as_u64() == Some(1),
        "logprobs" | "store" => value.is_null() || value == &json!(false),
        // Models behind Converse may call tools in parallel already.
        "parallel_tool_calls" => value.is_null() || value == &json!(true),
        _ => value.is_null(),
    }
}

fn inference_config(
    req: &Map<String, Value>,
    thinking_budget: Option<u64>,
    drop_params: bool,
) -> Result<Map<String, Value>, GatewayError> {
    let mut config = Map::new();
    let mut max_tokens = None;
    for name in ["max_completion_tokens", "max_tokens"] {
        if let Some(v) = present(req, name) {
            let n = v.as_u64().filter(|n| *n > 0).ok_or_else(|| {
                GatewayError::bad_request(format!("{name} must be a positive integer"))
                    .with_param(name)
            })?;
            max_tokens = Some(n);
            break;
        }
    }
    let max_tokens = max_tokens.or(thinking_budget.map(|b| b.saturating_add(DEFAULT_MAX_TOKENS)));
    if let Some(n) = max_tokens {
        config.insert("maxTokens".into(), json!(n));
    }
    if let Some(t) = present(req, "temperature") {
        config.insert("temperature".into(), t.clone());
    }
    if let Some(p) = present(req, "top_p") {
        config.insert("topP".into(), p.clone());
    }
    if let Some(stop) = stop_sequences(present(req, "stop"), drop_params)? {
        config.insert("stopSequences".into(), stop);
    }
    Ok(config)
}

/// `stop` as a list. Converse rejects empty sequences, which LiteLLM leaves out.
fn stop_sequences(stop: Option<&Value>, drop_params: bool) -> Result<Option<Value>, GatewayError> {
    let given: Vec<&Value> = match stop {
        None => return Ok(None),
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
        if !(s.is_empty() || drop_params && s.trim().is_empty()) {
            kept.push(json!(s));
        }
    }
    Ok((!kept.is_empty()).then_some(Value::Array(kept)))
}

/// What the request says about tools, to build `toolConfig` from.
struct ToolsAsked<'a> {
    req: &'a Map<String, Value>,
    model: &'a str,
    thinking: bool,
    history_has_tools: bool,
}

impl ToolsAsked<'_> {
    fn tool_config(&self) -> Result<Option<Value>, GatewayError> {
        let mut tools = Vec::new();
        for tool in self
            .req
            .get("tools")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            tools.push(tool_spec(tool)?);
        }
        let mut choice = match present(self.req, "tool_choice") {
            None => None,
            Some(c) if c.as_str() == Some("none") => {
                if !self.history_has_tools {
                    tools.clear();
                }
                None
            }
            Some(c) => Some(tool_choice(c)?),
        };
        if let Some((schema, description)) = json_mode(present(self.req, "response_format"))? {
            let mut spec = json!({"name": JSON_MODE_TOOL, "inputSchema": {"json": schema}});
            if let Some(d) = description {
                spec["description"] = json!(d);
            }
            tools.push(json!({ "toolSpec": spec }));
            // Forcing a tool is refused while thinking, and by models without tool choice.
            if !self.thinking && supports_tool_choice(self.model) {
                choice = Some(json!({"tool": {"name": JSON_MODE_TOOL}}));
            }
        }
        if tools.is_empty() {
            if self.history_has_tools {
                return Err(GatewayError::bad_request(
                    "Bedrock doesn't support tool calling without `tools=` param specified. Pass `tools=` param.",
                )
                .with_param("tools"));
            }
            return Ok(None);
        }
        let mut config = json!({ "tools": tools });
        if let Some(choice) = choice {
            config["toolChoice"] = choice;
        }
        Ok(Some(config))
    }
}

/// Converse's `toolChoice` works with Claude, Mistral Large and Nova models.
fn supports_tool_choice(model: &str) -> bool {
    ["anthropic.", "mistral.", "amazon.nova"]
        .iter()
        .any(|family| model.contains(family))
}

fn tool_spec(tool: &Value) -> Result<Value, GatewayError> {
    let function = FunctionTool::read(tool)?;
    let mut spec = function.named();
    spec.insert("inputSchema".into(), json!({ "json": function.parameters }));
    Ok(json!({ "toolSpec": spec }))
}

fn tool_choice(choice: &Value) -> Result<Value, GatewayError> {
    Ok(match choice.as_str() {
        Some("auto") => json!({"auto": {}}),
        Some("required") => json!({"any": {}}),
        _ => match choice.pointer("/function/name").and_then(Value::as_str) {
            Some(name) => json!({"tool": {"name": name}}),
            None => {
                return Err(GatewayError::bad_request(format!(
                    "Bedrock doesn't support tool_choice={choice}. Supported tool_choice values=['auto', 'required', json object]. To drop it from the call, set `litellm.drop_params = True."
                ))
                .with_param("tool_choice"))
            }
        },
    })
}

/// `(schema, description)` for JSON mode's tool, or `None` for plain text answers.
fn json_mode(format: Option<&Value>) -> Result<Option<(Value, Option<&str>)>, GatewayError> {
    let any_object = || json!({"type": "object", "properties": {}, "additionalProperties": true});
    let Some(format) = format else {
        return Ok(None);
    };
    match format.get("type").and_then(Value::as_str) {
        Some("text") => Ok(None),
        Some("json_object") => Ok(Some((any_object(), None))),
        Some("json_schema") => {
            let schema = format
                .pointer("/json_schema/schema")
                .filter(|s| s.is_object())
                .cloned()
                .unwrap_or_else(any_object);
            let description = format
                .pointer("/json_schema/description")
                .and_then(Value::as_str);
            Ok(Some((schema, description)))
        }
        _ => Err(GatewayError::bad_request(
            "response_format.type must be \"text\", \"json_object\" or \"json_schema\"",
        )
        .with_param("response_format")),
    }
}

#[cfg(test)]
mod tests;
