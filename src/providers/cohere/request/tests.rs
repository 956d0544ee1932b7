//! Request translation tests: every OpenAI field Cohere takes, and every one it refuses.

use super::*;

fn convert(openai: Value) -> Result<Value, GatewayError> {
    to_cohere_request(&openai, "command-a-03-2025", &RequestOptions::default())
}

fn user(text: &str) -> Value {
    json!({"role": "user", "content": text})
}

#[test]
fn maps_every_sampling_parameter() {
    let body = convert(json!({
        "model": "alias",
        "messages": [user("hi")],
        "max_tokens": 100,
        "temperature": 0.3,
        "top_p": 0.9,
        "k": 40,
        "stop": ["END", "STOP"],
        "seed": 7,
        "frequency_penalty": 0.1,
        "presence_penalty": 0.2,
        "stream": true,
        "stream_options": {"include_usage": true},
        "user": "someone",
        "metadata": {"a": "b"},
        "safety_mode": "OFF",
    }))
    .unwrap();
    assert_eq!(
        body,
        json!({
            "model": "command-a-03-2025",
            "messages": [{"role": "user", "content": "hi"}],
            "max_tokens": 100,
            "temperature": 0.3,
            "p": 0.9,
            "k": 40,
            "stop_sequences": ["END", "STOP"],
            "seed": 7,
            "frequency_penalty": 0.1,
            "presence_penalty": 0.2,
            "stream": true,
            "safety_mode": "OFF",
        })
    );
}

#[test]
fn max_completion_tokens_wins_and_a_single_stop_becomes_a_list() {
    let body = convert(json!({
        "messages": [user("hi")], "max_tokens": 5, "max_completion_tokens": 9, "stop": "END",
        "stream": false,
    }))
    .unwrap();
    assert_eq!(body["max_tokens"], 9);
    assert_eq!(body["stop_sequences"], json!(["END"]));
    assert!(body.get("stream").is_none());
    let bare = convert(json!({"messages": [user("hi")]})).unwrap();
    assert!(bare.get("max_tokens").is_none());
}

#[test]
fn messages_of_every_role() {
    let body = convert(json!({"messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": [{"type": "text", "text": "Use "}, {"type": "text", "text": "tools."}]},
        {"role": "user", "content": [
            {"type": "text", "text": "What is in this image?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}},
            {"type": "image_url", "image_url": "https://example.com/cat.png"}
        ]},
        {"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{\"q\":\"cat\"}"}},
            {"id": "call_2", "type": "function", "function": {"name": "now", "arguments": ""}}
        ]},
        {"role": "tool", "tool_call_id": "call_1", "content": "A cat."},
        {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "noon"}]},
        {"role": "assistant", "content": "It is a cat."}
    ]}))
    .unwrap();
    assert_eq!(
        body["messages"],
        json!([
            {"role": "system", "content": "Be brief."},
            {"role": "system", "content": "Use tools."},
            {"role": "user", "content": [
                {"type": "text", "text": "What is in this image?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}},
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
            ]},
            {"role": "assistant", "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{\"q\":\"cat\"}"}},
                {"id": "call_2", "type": "function", "function": {"name": "now", "arguments": "{}"}}
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "A cat."},
            {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "noon"}]},
            {"role": "assistant", "content": "It is a cat."}
        ])
    );
}

#[test]
fn assistant_extras_and_empty_turns() {
    let body = convert(json!({"messages": [
        user("hi"),
        {"role": "assistant", "content": "Let me look.", "tool_plan": "I will look.",
         "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": {"a": 1}}}]},
        {"role": "assistant", "content": ""},
        {"role": "assistant", "content": null, "tool_plan": "orphan"},
    ]}))
    .unwrap();
    let messages = body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2, "empty assistant turns are left out");
    assert_eq!(messages[1]["content"], "Let me look.");
    assert_eq!(messages[1]["tool_plan"], "I will look.");
    assert_eq!(
        messages[1]["tool_calls"][0]["function"]["arguments"],
        "{\"a\":1}"
    );
}

#[test]
fn tools_keep_only_cohere_fields() {
    let body = convert(json!({
        "messages": [user("hi")],
        "tools": [
            {"type": "function", "function": {"name": "get_weather", "description": "Weather.",
             "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
             "strict": true}},
            {"type": "function", "function": {"name": "now"}}
        ],
        "tool_choice": "auto"
    }))
    .unwrap();
    assert_eq!(
        body["tools"],
        json!([
            {"type": "function", "function": {"name": "get_weather", "description": "Weather.",
             "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}},
            {"type": "function", "function": {"name": "now", "parameters": {"type": "object", "properties": {}}}}
        ])
    );
    assert!(
        body.get("tool_choice").is_none(),
        "auto is Cohere's default"
    );
}

#[test]
fn tool_choice_required_none_and_named() {
    let tools = json!([
        {"type": "function", "function": {"name": "a"}},
        {"type": "function", "function": {"name": "b"}}
    ]);
    let with = |choice: Value| {
        convert(json!({"messages": [user("x")], "tools": tools, "tool_choice": choice}))
    };
    assert_eq!(with(json!("required")).unwrap()["tool_choice"], "REQUIRED");
    assert_eq!(with(json!("none")).unwrap()["tool_choice"], "NONE");
    let named = with(json!({"type": "function", "function": {"name": "b"}})).unwrap();
    assert_eq!(named["tool_choice"], "REQUIRED");
    assert_eq!(named["tools"].as_array().unwrap().len(), 1);
    assert_eq!(named["tools"][0]["function"]["name"], "b");
    for bad in [
        json!("sometimes"),
        json!({"type": "function"}),
        json!({"type": "function", "function": {"name": "zzz"}}),
    ] {
        let e = with(bad).unwrap_err();
        assert_eq!((e.status, e.param.as_deref()), (400, Some("tool_choice")));
    }
    let no_tools = convert(json!({"messages": [user("x")], "tool_choice": "none"})).unwrap();
    assert!(no_tools.get("tool_choice").is_none());
}

#[test]
fn response_format_json_object_and_schema() {
    let with = |format: Value| convert(json!({"messages": [user("x")], "response_format": format}));
    assert!(with(json!({"type": "text"}))
        .unwrap()
        .get("response_format")
        .is_none());
    assert_eq!(
        with(json!({"type": "json_object"})).unwrap()["response_format"],
        json!({"type": "json_object"})
    );
    let schema =
        json!({"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]});
    assert_eq!(
        with(json!({"type": "json_schema", "json_schema": {"name": "x", "schema": schema, "strict": true}}))
            .unwrap()["response_format"],
        json!({"type": "json_object", "json_schema": schema})
    );
    let e = with(json!({"type": "yaml"})).unwrap_err();
    assert_eq!(e.param.as_deref(), Some("response_format"));
}

#[test]
fn unsupported_params_are_400_in_litellm_words() {
    let e = convert(json!({
        "messages": [user("x")], "logit_bias": {"1": 2}, "n": 2, "parallel_tool_calls": false
    }))
    .unwrap_err();
    assert_eq!(e.status, 400);
    assert_eq!(e.param.as_deref(), Some("logit_bias"));
    assert!(e.message.starts_with(
        "litellm.UnsupportedParamsError: cohere_chat does not support parameters: ['logit_bias', 'n', 'parallel_tool_calls'], for model=command-a-03-2025."
    ), "{}", e.message);
    assert!(e.message.contains("drop_params: true"));
}

#[test]
fn harmless_values_pass_and_drop_params_drops() {
    let body = convert(json!({
        "messages": [user("x")], "n": 1, "logprobs": false, "store": false,
        "parallel_tool_calls": true, "audio": null
    }))
    .unwrap();
    for name in ["n", "logprobs", "store", "parallel_tool_calls", "audio"] {
        assert!(body.get(name).is_none(), "{name}");
    }
    let opts = RequestOptions { drop_params: true };
    let body = to_cohere_request(
        &json!({"messages": [user("x")], "logit_bias": {"1": 2}, "reasoning_effort": "low"}),
        "m",
        &opts,
    )
    .unwrap();
    assert!(body.get("logit_bias").is_none());
    assert!(body.get("reasoning_effort").is_none());
}

#[test]
fn malformed_requests_are_400_naming_the_param() {
    let cases = [
        (json!(null), None),
        (json!([]), None),
        (json!({}), Some("messages")),
        (json!({"messages": "hi"}), Some("messages")),
        (
            json!({"messages": [{"role": "wizard", "content": "x"}]}),
            Some("messages"),
        ),
        (json!({"messages": [{"content": "x"}]}), Some("messages")),
        (json!({"messages": [{"role": "user"}]}), Some("messages")),
        (
            json!({"messages": [{"role": "user", "content": 5}]}),
            Some("messages"),
        ),
        (
            json!({"messages": [{"role": "user", "content": [{"type": "input_audio"}]}]}),
            Some("messages"),
        ),
        (
            json!({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}),
            Some("messages"),
        ),
        (
            json!({"messages": [{"role": "system", "content": [{"type": "image_url"}]}]}),
            Some("messages"),
        ),
        (
            json!({"messages": [{"role": "tool", "content": "x"}]}),
            Some("messages"),
        ),
        (
            json!({"messages": [{"role": "tool", "tool_call_id": "c", "content": [{"type": "image_url"}]}]}),
            Some("messages"),
        ),
        (json!({"messages": [], "max_tokens": 0}), Some("max_tokens")),
        (
            json!({"messages": [], "max_completion_tokens": "9"}),
            Some("max_completion_tokens"),
        ),
        (json!({"messages": [], "stop": [1]}), Some("stop")),
        (
            json!({"messages": [], "tools": [{"type": "retrieval"}]}),
            Some("tools"),
        ),
        (
            json!({"messages": [], "tools": [{"type": "function", "function": {}}]}),
            Some("tools"),
        ),
    ];
    for (body, param) in cases {
        let e = convert(body.clone()).unwrap_err();
        assert_eq!(e.status, 400, "{body}");
        assert_eq!(e.param.as_deref(), param, "{body}");
    }
}
