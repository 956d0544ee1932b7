//! Tool translation tests: declarations, built-in tools, tool choice and parallel calls.

use super::super::request::{to_gemini_request, RequestOptions};
use crate::error::GatewayError;
use serde_json::{json, Value};

fn translate(req: Value) -> Value {
    to_gemini_request(&req, &RequestOptions::default()).unwrap()
}

fn refuse(req: Value) -> GatewayError {
    to_gemini_request(&req, &RequestOptions::default()).unwrap_err()
}

fn user(text: &str) -> Value {
    json!({"role": "user", "content": text})
}

#[test]
fn tools_become_function_declarations_with_clean_schemas() {
    let out = translate(json!({"messages": [user("x")], "tools": [
        {"type": "function", "function": {"name": "get_weather", "description": "Weather", "strict": true,
            "parameters": {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
                "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": false}}},
        {"type": "function", "function": {"name": "now", "parameters": {"type": "object", "properties": {}}}},
        {"type": "function", "function": {"name": "ping"}},
        {"googleSearch": {}},
        {"type": "web_search"},
    ]}));
    assert_eq!(
        out["tools"],
        json!([
            {"functionDeclarations": [
                {"name": "get_weather", "description": "Weather", "parameters": {"type": "object",
                    "properties": {"city": {"type": "string"}}, "required": ["city"]}},
                {"name": "now"},
                {"name": "ping"},
            ]},
            {"googleSearch": {}},
            {"googleSearch": {}},
        ])
    );
    let search = translate(json!({"messages": [user("x")], "web_search_options": {}}));
    assert_eq!(search["tools"], json!([{"googleSearch": {}}]));
    let e = refuse(json!({"messages": [user("x")], "tools": [{"type": "retrieval"}]}));
    assert_eq!(e.param.as_deref(), Some("tools"));
}

#[test]
fn tool_choice_maps_to_function_calling_modes() {
    for (choice, config) in [
        (json!("auto"), json!({"mode": "AUTO"})),
        (json!("none"), json!({"mode": "NONE"})),
        (json!("required"), json!({"mode": "ANY"})),
        (
            json!({"type": "function", "function": {"name": "get_weather"}}),
            json!({"mode": "ANY", "allowedFunctionNames": ["get_weather"]}),
        ),
    ] {
        let out = translate(json!({"messages": [user("x")], "tool_choice": choice}));
        assert_eq!(
            out["toolConfig"],
            json!({ "functionCallingConfig": config })
        );
    }
    let e = refuse(json!({"messages": [user("x")], "tool_choice": "sometimes"}));
    assert!(e
        .message
        .starts_with("litellm.UnsupportedParamsError: VertexAI doesn't support tool_choice="));
    let opts = RequestOptions {
        drop_params: true,
        ..Default::default()
    };
    let out = to_gemini_request(
        &json!({"messages": [user("x")], "tool_choice": "sometimes"}),
        &opts,
    )
    .unwrap();
    assert!(out.get("toolConfig").is_none());
}

#[test]
fn parallel_tool_calls_false_needs_a_single_tool() {
    let tool = |name: &str| json!({"type": "function", "function": {"name": name}});
    let two = json!({"messages": [user("x")], "tools": [tool("a"), tool("b")], "parallel_tool_calls": false});
    assert_eq!(
        refuse(two.clone()).param.as_deref(),
        Some("parallel_tool_calls")
    );
    let opts = RequestOptions {
        drop_params: true,
        ..Default::default()
    };
    assert!(to_gemini_request(&two, &opts).is_ok());
    let one = json!({"messages": [user("x")], "tools": [tool("a")], "parallel_tool_calls": false});
    assert!(translate(one).get("toolConfig").is_none());
}
