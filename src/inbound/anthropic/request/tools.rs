//! Anthropic `tools` and `tool_choice` as OpenAI's.

use crate::error::GatewayError;
use serde_json::{json, Map, Value};

/// Client tools become function tools; Anthropic's web search server tool becomes OpenAI's
/// `web_search_options` (as in LiteLLM); other server tools cannot run elsewhere.
pub(super) fn add_tools(
    req: &Map<String, Value>,
    body: &mut Map<String, Value>,
) -> Result<(), GatewayError> {
    let mut tools = Vec::new();
    for tool in req
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match tool.get("type").and_then(Value::as_str) {
            None | Some("custom") => tools.push(function_tool(tool)?),
            Some(t) if t.starts_with("web_search") => {
                body.insert("web_search_options".into(), json!({}));
            }
            Some(t) => {
                return Err(GatewayError::bad_request(format!(
                    "tools: server tool type {t:?} is only available on Anthropic models"
                ))
                .with_param("tools"))
            }
        }
    }
    let choice = req.get("tool_choice").filter(|c| !c.is_null());
    if let Some(choice) = choice {
        let mapped = match choice.get("type").and_then(Value::as_str) {
            Some("auto") => json!("auto"),
            Some("any") => json!("required"),
            Some("none") => json!("none"),
            Some("tool") => {
                let name = choice.get("name").and_then(Value::as_str).ok_or_else(|| {
                    GatewayError::bad_request("tool_choice.name: Field required")
                        .with_param("tool_choice")
                })?;
                json!({"type": "function", "function": {"name": name}})
            }
            _ => {
                return Err(GatewayError::bad_request(
                    "tool_choice.type must be \"auto\", \"any\", \"tool\" or \"none\"",
                )
                .with_param("tool_choice"))
            }
        };
        body.insert("tool_choice".into(), mapped);
        if choice
            .get("disable_parallel_tool_use")
            .and_then(Value::as_bool)
            == Some(true)
            && !tools.is_empty()
        {
            body.insert("parallel_tool_calls".into(), json!(false));
        }
    }
    if !tools.is_empty() {
        body.insert("tools".into(), Value::Array(tools));
    }
    Ok(())
}

fn function_tool(tool: &Value) -> Result<Value, GatewayError> {
    let name = tool
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            GatewayError::bad_request("tools.name: Field required").with_param("tools")
        })?;
    let mut function = Map::new();
    function.insert("name".into(), json!(name));
    if let Some(description) = tool.get("description").and_then(Value::as_str) {
        function.insert("description".into(), json!(description));
    }
    let schema = tool
        .get("input_schema")
        .filter(|s| s.is_object())
        .cloned()
        .unwrap_or_else(|| json!({"type": "object", "properties": {}}));
    function.insert("parameters".into(), schema);
    Ok(json!({"type": "function", "function": Value::Object(function)}))
}
