//! An OpenAI chat completion request into a Gemini `generateContent` request, parameter by
//! parameter as LiteLLM maps them (`VertexGeminiConfig.map_openai_params`).
//!
//! Sampling parameters go into `generationConfig`; JSON mode is Gemini's own
//! (`responseMimeType: application/json`, plus `responseSchema` for a schema); tools become
//! `functionDeclarations` with their schemas cleaned for Gemini (see schema.rs).
//!
//! OpenAI parameters Gemini cannot take are a 400 in LiteLLM's words, or dropped with
//! `drop_params`. Gemini's own `top_k`, `safety_settings` and `cached_content` pass through.
//! Everything else (the gateway's own fields: `model`, `stream`, `stream_options`,
//! `metadata`, `fallbacks`, `mock_response`, `user`, ...) is never forwarded.

use super::{messages, schema, tools};
use crate::canonical::params::{self, UnsupportedParams};
use crate::error::GatewayError;
use serde_json::{json, Map, Value};

pub struct RequestOptions<'a> {
    pub drop_params: bool,
    /// The provider as LiteLLM's messages name it: `gemini` or `vertex_ai`.
    pub provider: &'a str,
    /// The upstream model, for messages and model-specific mappings (Gemini 3).
    pub model: &'a str,
}

impl Default for RequestOptions<'_> {
    fn default() -> Self {
        RequestOptions {
            drop_params: false,
            provider: "gemini",
            model: "",
        }
    }
}

/// OpenAI parameters with no Gemini equivalent.
const UNSUPPORTED: &[&str] = &[
    "audio",
    "function_call",
    "functions",
    "logit_bias",
    "prediction",
    "service_tier",
    "store",
];

/// Gemini 3 models reject the penalties (LiteLLM leaves them out of their supported list).
const UNSUPPORTED_ON_GEMINI_3: &[&str] = &["frequency_penalty", "presence_penalty"];

/// OpenAI name → `generationConfig` name, values passed as given.
const GENERATION_FIELDS: &[(&str, &str)] = &[
    ("temperature", "temperature"),
    ("top_p", "topP"),
    ("top_k", "topK"),
    ("n", "candidateCount"),
    ("seed", "seed"),
    ("presence_penalty", "presencePenalty"),
    ("frequency_penalty", "frequencyPenalty"),
    ("top_logprobs", "logprobs"),
];

pub fn to_gemini_request(openai: &Value, opts: &RequestOptions) -> Result<Value, GatewayError> {
    let req = params::request_object(openai)?;
    let dropped = check_unsupported(req, opts)?;
    let messages = params::messages(req)?;
    let converted = messages::convert(messages)?;

    let mut body = Map::new();
    body.insert("contents".into(), Value::Array(converted.contents));
    if let Some(system) = converted.system_instruction {
        body.insert("system_instruction".into(), system);
    }
    let config = generation_config(req, opts, &dropped)?;
    if !config.is_empty() {
        body.insert("generationConfig".into(), Value::Object(config));
    }
    tools::add_tools(req, &mut body, opts)?;
    for (from, to) in [
        ("safety_settings", "safetySettings"),
        ("safetySettings", "safetySettings"),
        ("cached_content", "cachedContent"),
    ] {
        if let Some(v) = present(req, from) {
            body.insert(to.into(), v.clone());
        }
    }
    Ok(Value::Object(body))
}

/// The unsupported parameters given: an error, or with `drop_params` the names to leave out.
fn check_unsupported(
    req: &Map<String, Value>,
    opts: &RequestOptions,
) -> Result<Vec<&'static str>, GatewayError> {
    let gemini_3 = is_gemini_3(opts.model);
    let names = UNSUPPORTED
        .iter()
        .chain(if gemini_3 {
            UNSUPPORTED_ON_GEMINI_3
        } else {
            &[]
        })
        .copied();
    let unsupported = UnsupportedParams {
        provider: opts.provider,
        model: opts.model,
        drop_params: opts.drop_params,
    };
    unsupported.check(req, names, is_harmless)
}

/// Values that ask for nothing Gemini would not do anyway.
fn is_harmless(name: &str, value: &Value) -> bool {
    match name {
        "store" => value.is_null() || value == &json!(false),
        _ => value.is_null(),
    }
}

pub(super) fn present<'a>(req: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    req.get(name).filter(|v| !v.is_null())
}

fn generation_config(
    req: &Map<String, Value>,
    opts: &RequestOptions,
    dropped: &[&str],
) -> Result<Map<String, Value>, GatewayError> {
    let mut config = Map::new();
    for (from, to) in GENERATION_FIELDS {
        if let Some(v) = present(req, from).filter(|_| !dropped.contains(from)) {
            config.insert((*to).into(), v.clone());
        }
    }
    if let Some(max) = max_tokens(req)? {
        config.insert("maxOutputTokens".into(), json!(max));
    }
    if let Some(stop) = stop_sequences(present(req, "stop"))? {
        config.insert("stopSequences".into(), stop);
    }
    if present(req, "logprobs").and_then(Value::as_bool) == Some(true) {
        config.insert("responseLogprobs".into(), json!(true));
    }
    if let Some(modalities) = present(req, "modalities").and_then(Value::as_array) {
        let upper: Vec<Value> = modalities
            .iter()
            .filter_map(Value::as_str)
            .map(|m| json!(m.to_ascii_uppercase()))
            .collect();
        config.insert("responseModalities".into(), Value::Array(upper));
    }
    response_format(present(req, "response_format"), &mut config)?;
    if let Some(thinking) = thinking_config(req, opts.model)? {
        config.insert("thinkingConfig".into(), thinking);
    }
    Ok(config)
}

/// `max_completion_tokens` (newer) or `max_tokens`.
fn max_tokens(req: &Map<String, Value>) -> Result<Option<u64>, GatewayError> {
    for name in ["max_completion_tokens", "max_tokens"] {
        if let Some(v) = present(req, name) {
            return v.as_u64().filter(|n| *n > 0).map(Some).ok_or_else(|| {
                GatewayError::bad_request(format!("{name} must be a positive integer"))
                    .with_param(name)
            });
        }
    }
    Ok(None)
}

fn stop_sequences(stop: Option<&Value>) -> Result<Option<Value>, GatewayError> {
    let list = match stop {
        None => return Ok(None),
        Some(Value::String(s)) => vec![json!(s)],
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => items.clone(),
        Some(_) => {
            return Err(
                GatewayError::bad_request("stop must be a string or a list of strings")
                    .with_param("stop"),
            )
        }
    };
    Ok((!list.is_empty()).then_some(Value::Array(list)))
}

fn response_format(
    format: Option<&Value>,
    config: &mut Map<String, Value>,
) -> Result<(), GatewayError> {
    let Some(format) = format else {
        return Ok(());
    };
    let mime = match format.get("type").and_then(Value::as_str) {
        Some("text") => "text/plain",
        Some("json_object") => "application/json",
        Some("json_schema") => {
            if let Some(s) = format
                .pointer("/json_schema/schema")
                .filter(|s| s.is_object())
            {
                config.insert("responseSchema".into(), schema::for_gemini(s));
            }
            "application/json"
        }
        _ => {
            return Err(GatewayError::bad_request(
                "response_format.type must be \"text\", \"json_object\" or \"json_schema\"",
            )
            .with_param("response_format"))
        }
    };
    config.insert("responseMimeType".into(), json!(mime));
    Ok(())
}

/// `thinking` (Anthropic's shape, which LiteLLM accepts for Gemini) or `reasoning_effort`:
/// a thinking budget, or for Gemini 3 a thinking level, with LiteLLM's defaults.
fn thinking_config(req: &Map<String, Value>, model: &str) -> Result<Option<Value>, GatewayError> {
    if let Some(thinking) = present(req, "thinking") {
        return Ok(Some(match thinking.get("type").and_then(Value::as_str) {
            Some("disabled") => json!({"thinkingBudget": 0}),
            _ => match thinking.get("budget_tokens").and_then(Value::as_u64) {
                Some(budget) => json!({"thinkingBudget": budget, "includeThoughts": true}),
                None => json!({"includeThoughts": true}),
            },
        }));
    }
    let Some(effort) = present(req, "reasoning_effort") else {
        return Ok(None);
    };
    let effort = match effort.as_str() {
        Some(e @ ("none" | "disable" | "minimal" | "low" | "medium" | "high")) => e,
        _ => {
            return Err(GatewayError::bad_request(format!(
                "Invalid reasoning_effort: {effort}. Must be one of: 'minimal', 'low', 'medium', 'high', 'none'"
            ))
            .with_param("reasoning_effort"))
        }
    };
    if is_gemini_3(model) {
        // Gemini 3 takes a level; Pro has only low and high.
        let flash = model.contains("flash");
        let level = match effort {
            "none" | "disable" | "minimal" if flash => "minimal",
            "medium" if flash => "medium",
            "none" | "disable" | "minimal" | "low" => "low",
            _ => "high",
        };
        return Ok(Some(
            json!({"thinkingLevel": level, "includeThoughts": true}),
        ));
    }
    let budget = match effort {
        "none" | "disable" => {
            return Ok(Some(json!({"thinkingBudget": 0, "includeThoughts": false})))
        }
        "minimal" if model.contains("gemini-2.5-flash-lite") => 512,
        "minimal" if model.contains("gemini-2.5-flash") => 1,
        "minimal" => 128,
        "low" => 1024,
        "medium" => 2048,
        _ => 4096,
    };
    Ok(Some(
        json!({"thinkingBudget": budget, "includeThoughts": true}),
    ))
}

fn is_gemini_3(model: &str) -> bool {
    model.contains("gemini-3")
}

#[cfg(test)]
mod tests;
