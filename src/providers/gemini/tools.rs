//! OpenAI `tools`, `tool_choice`, `parallel_tool_calls` and `web_search_options` as Gemini's
//! `tools` (`functionDeclarations` plus built-in tools) and `toolConfig`, as LiteLLM maps them.

use super::request::{present, RequestOptions};
use super::schema;
use crate::error::GatewayError;
use serde_json::{json, Map, Value};

/// Gemini's built-in tools, accepted as `{"googleSearch": {}}` (or snake_case) in `tools`.
const BUILT_IN_TOOLS: &[(&str, &str)] = &[
    ("googleSearch", "googleSearch"),
    ("google_search", "googleSearch"),
    ("googleSearchRetrieval", "googleSearchRetrieval"),
    ("google_search_retrieval", "googleSearchRetrieval"),
    ("codeExecution", "codeExecution"),
    ("code_execution", "codeExecution"),
    ("urlContext", "urlContext"),
    ("url_context", "urlContext"),
    ("enterpriseWebSearch", "enterpriseWebSearch"),
    ("enterprise_web_search", "enterpriseWebSearch"),
];

/// `tools`, `web_search_options`, `tool_choice` and `parallel_tool_calls`.
pub(super) fn add_tools(
    req: &Map<String, Value>,
    body: &mut Map<String, Value>,
    opts: &RequestOptions,
) -> Result<(), GatewayError> {
    let mut declarations = Vec::new();
    let mut built_ins = Vec::new();
    let tools = present(req, "tools").and_then(Value::as_array);
    for (i, tool) in tools.into_iter().flatten().enumerate() {
        match tool.get("function") {
            Some(function) => declarations.push(function_declaration(function, i)?),
            None => built_ins.push(built_in_tool(tool, i)?),
        }
    }
    if present(req, "web_search_options").is_some_and(Value::is_object) {
        built_ins.push(json!({"googleSearch": {}}));
    }
    if present(req, "parallel_tool_calls") == Some(&json!(false))
        && declarations.len() > 1
        && !opts.drop_params
    {
        return Err(GatewayError::bad_request(
            "litellm.UnsupportedParamsError: `parallel_tool_calls=False` is not supported by Gemini when multiple tools are provided. \
             Specify a single tool, or set `parallel_tool_calls=True`. If you want to drop this param, set `litellm.drop_params = True` \
             or pass in `(.., drop_params=True)` in the requst - https://docs.litellm.ai/docs/completion/drop_params",
        )
        .with_param("parallel_tool_calls"));
    }
    let mut gemini_tools = Vec::new();
    if !declarations.is_empty() {
        gemini_tools.push(json!({ "functionDeclarations": declarations }));
    }
    gemini_tools.extend(built_ins);
    if !gemini_tools.is_empty() {
        body.insert("tools".into(), Value::Array(gemini_tools));
    }
    if let Some(choice) = present(req, "tool_choice") {
        if let Some(config) = tool_config(choice, opts)? {
            body.insert("toolConfig".into(), config);
        }
    }
    Ok(())
}

fn function_declaration(function: &Value, i: usize) -> Result<Value, GatewayError> {
    let name = function
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            GatewayError::bad_request(format!("tools[{i}].function.name is required"))
                .with_param("tools")
        })?;
    let mut out = Map::new();
    out.insert("name".into(), json!(name));
    if let Some(description) = function.get("description").and_then(Value::as_str) {
        out.insert("description".into(), json!(description));
    }
    // Gemini rejects an object schema with no properties ("should be non-empty for OBJECT
    // type"); a function without parameters simply has none.
    let parameters = function.get("parameters").filter(|p| {
        p.get("properties")
            .and_then(Value::as_object)
            .is_some_and(|m| !m.is_empty())
    });
    if let Some(parameters) = parameters {
        out.insert("parameters".into(), schema::for_gemini(parameters));
    }
    Ok(Value::Object(out))
}

/// Gemini's own tools, and OpenAI's `web_search` tool as Google Search, as LiteLLM maps them.
fn built_in_tool(tool: &Value, i: usize) -> Result<Value, GatewayError> {
    let kind = tool.get("type").and_then(Value::as_str);
    if matches!(kind, Some("web_search" | "web_search_preview")) {
        return Ok(json!({"googleSearch": {}}));
    }
    let fields: Vec<(&String, &Value)> = tool
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| k.as_str() != "type")
        .collect();
    if let [(key, value)] = fields.as_slice() {
        if let Some((_, name)) = BUILT_IN_TOOLS.iter().find(|(k, _)| k == key) {
            let mut out = Map::new();
            out.insert((*name).into(), (*value).clone());
            return Ok(Value::Object(out));
        }
    }
    Err(GatewayError::bad_request(format!(
        "tools[{i}]: only function tools and Gemini's built-in tools (googleSearch, codeExecution, urlContext, ...) are supported"
    ))
    .with_param("tools"))
}

/// `tool_choice` as Gemini's function calling mode; anything else is LiteLLM's 400, or
/// dropped with `drop_params`.
fn tool_config(choice: &Value, opts: &RequestOptions) -> Result<Option<Value>, GatewayError> {
    let config = match choice.as_str() {
        Some("auto") => json!({"mode": "AUTO"}),
        Some("none") => json!({"mode": "NONE"}),
        Some("required") => json!({"mode": "ANY"}),
        _ => match choice.pointer("/function/name").and_then(Value::as_str) {
            Some(name) => json!({"mode": "ANY", "allowedFunctionNames": [name]}),
            None if opts.drop_params => return Ok(None),
            None => {
                return Err(GatewayError::bad_request(format!(
                    "litellm.UnsupportedParamsError: VertexAI doesn't support tool_choice={choice}. Supported tool_choice values=['auto', 'required', json object]. \
                     To drop it from the call, set `litellm.drop_params = True."
                ))
                .with_param("tool_choice"))
            }
        },
    };
    Ok(Some(json!({ "functionCallingConfig": config })))
}

#[cfg(test)]
mod tests;
