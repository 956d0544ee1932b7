//! Request translation tests: every mapped field, message shapes, and parameter refusals.

use super::*;

const CLAUDE: &str = "anthropic.claude-3-5-sonnet-20240620-v1:0";

fn opts(model: &str) -> RequestOptions<'_> {
    RequestOptions {
        model,
        drop_params: false,
    }
}

fn translate(req: Value) -> Value {
    to_converse_request(&req, &opts(CLAUDE)).unwrap()
}

fn refuse(req: Value) -> GatewayError {
    to_converse_request(&req, &opts(CLAUDE)).unwrap_err()
}

fn user(text: &str) -> Value {
    json!({"role": "user", "content": text})
}

#[test]
fn minimal_request_is_just_messages() {
    let out = translate(
        json!({"model": "alias", "messages": [user("Hello")], "stream": true,
                               "user": "u-1", "metadata": {"a": 1}}),
    );
    assert_eq!(
        out,
        json!({"messages": [{"role": "user", "content": [{"text": "Hello"}]}]})
    );
}

#[test]
fn inference_parameters_map_to_inference_config() {
    let out = translate(json!({
        "messages": [user("Hi")],
        "max_tokens": 300, "temperature": 0.2, "top_p": 0.9, "stop": "END", "top_k": 40
    }));
    assert_eq!(
        out["inferenceConfig"],
        json!({"maxTokens": 300, "temperature": 0.2, "topP": 0.9, "stopSequences": ["END"]})
    );
    assert_eq!(out["additionalModelRequestFields"], json!({"top_k": 40}));
    let out = translate(json!({"messages": [user("Hi")], "max_completion_tokens": 5,
                               "max_tokens": 9, "stop": ["", "a"]}));
    assert_eq!(
        out["inferenceConfig"],
        json!({"maxTokens": 5, "stopSequences": ["a"]})
    );
    let nova = to_converse_request(
        &json!({"messages": [user("Hi")], "top_k": 5}),
        &opts("us.amazon.nova-pro-v1:0"),
    )
    .unwrap();
    assert_eq!(
        nova["additionalModelRequestFields"],
        json!({"inferenceConfig": {"topK": 5}})
    );
}

#[test]
fn bad_max_tokens_and_stop_are_400s() {
    for (req, param) in [
        (
            json!({"messages": [user("x")], "max_tokens": 0}),
            "max_tokens",
        ),
        (
            json!({"messages": [user("x")], "max_tokens": "9"}),
            "max_tokens",
        ),
        (json!({"messages": [user("x")], "stop": [1]}), "stop"),
        (json!({"messages": "hi"}), "messages"),
        (
            json!({"messages": [{"role": "system", "content": "s"}]}),
            "messages",
        ),
    ] {
        assert_eq!(refuse(req).param.as_deref(), Some(param));
    }
}

#[test]
fn system_prompts_and_cache_points() {
    let out = translate(json!({"messages": [
        {"role": "system", "content": "Be brief.", "cache_control": {"type": "ephemeral"}},
        {"role": "developer", "content": [{"type": "text", "text": "Use English."}]},
        {"role": "user", "content": [
            {"type": "text", "text": "Long document", "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": "   "},
            {"type": "text", "text": "Question?"}
        ]}
    ]}));
    assert_eq!(
        out["system"],
        json!([{"text": "Be brief."}, {"cachePoint": {"type": "default"}}, {"text": "Use English."}])
    );
    assert_eq!(
        out["messages"],
        json!([{"role": "user", "content": [
            {"text": "Long document"}, {"cachePoint": {"type": "default"}}, {"text": "Question?"}
        ]}])
    );
}

#[test]
fn tool_round_trip_becomes_tool_use_and_tool_results() {
    let out = translate(json!({
        "messages": [
            user("Weather in Paris and Rome?"),
            {"role": "assistant", "content": "Checking.", "tool_calls": [
                {"id": "call_1", "type": "function",
                 "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "call_2", "type": "function",
                 "function": {"name": "get_weather", "arguments": ""}}
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
            {"role": "tool", "tool_call_id": "call_2",
             "content": [{"type": "text", "text": "21"}, {"type": "text", "text": "C"}]},
            user("Thanks")
        ],
        "tools": [{"type": "function", "function": {
            "name": "get_weather", "description": "Weather by city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}
        }}],
        "tool_choice": "auto"
    }));
    assert_eq!(
        out["messages"],
        json!([
            {"role": "user", "content": [{"text": "Weather in Paris and Rome?"}]},
            {"role": "assistant", "content": [
                {"text": "Checking."},
                {"toolUse": {"toolUseId": "call_1", "name": "get_weather", "input": {"city": "Paris"}}},
                {"toolUse": {"toolUseId": "call_2", "name": "get_weather", "input": {}}}
            ]},
            {"role": "user", "content": [
                {"toolResult": {"toolUseId": "call_1", "content": [{"text": "18C"}]}},
                {"toolResult": {"toolUseId": "call_2", "content": [{"text": "21C"}]}},
                {"text": "Thanks"}
            ]}
        ])
    );
    assert_eq!(
        out["toolConfig"],
        json!({
            "tools": [{"toolSpec": {
                "name": "get_weather", "description": "Weather by city",
                "inputSchema": {"json": {"type": "object", "properties": {"city": {"type": "string"}}}}
            }}],
            "toolChoice": {"auto": {}}
        })
    );
}

#[test]
fn consecutive_turns_of_one_role_merge() {
    let out = translate(json!({"messages": [user("a"), user("b"),
        {"role": "assistant", "content": "c"}, {"role": "assistant", "content": null}]}));
    assert_eq!(
        out["messages"],
        json!([
            {"role": "user", "content": [{"text": "a"}, {"text": "b"}]},
            {"role": "assistant", "content": [{"text": "c"}]}
        ])
    );
}

#[test]
fn tool_choices_map_and_none_leaves_tools_out() {
    let tools = json!([{"type": "function", "function": {"name": "f"}}]);
    for (choice, want) in [
        (json!("required"), json!({"any": {}})),
        (
            json!({"type": "function", "function": {"name": "f"}}),
            json!({"tool": {"name": "f"}}),
        ),
    ] {
        let out =
            translate(json!({"messages": [user("x")], "tools": tools, "tool_choice": choice}));
        assert_eq!(out["toolConfig"]["toolChoice"], want);
        assert_eq!(
            out["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"],
            json!({"json": {"type": "object", "properties": {}}})
        );
    }
    let out = translate(json!({"messages": [user("x")], "tools": tools, "tool_choice": "none"}));
    assert!(out.get("toolConfig").is_none());
    // With tool calls in the history Bedrock needs the tools; the choice is left out.
    let history = json!([user("x"),
        {"role": "assistant", "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c", "content": "ok"}]);
    let out = translate(json!({"messages": history, "tools": tools, "tool_choice": "none"}));
    assert_eq!(
        out["toolConfig"],
        json!({"tools": [{"toolSpec": {
        "name": "f", "inputSchema": {"json": {"type": "object", "properties": {}}}}}]})
    );
    let err = refuse(json!({"messages": history}));
    assert_eq!(err.param.as_deref(), Some("tools"));
    let err = refuse(json!({"messages": [user("x")], "tools": tools, "tool_choice": "maybe"}));
    assert!(err
        .message
        .starts_with("Bedrock doesn't support tool_choice=\"maybe\""));
    let err = refuse(json!({"messages": [user("x")], "tools": [{"type": "computer"}]}));
    assert_eq!(err.param.as_deref(), Some("tools"));
}

#[test]
fn images_must_be_base64() {
    let out = translate(json!({"messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ"}},
        {"type": "image_url", "image_url": "data:image/png;base64,iVBORw0K"}
    ]}]}));
    assert_eq!(
        out["messages"][0]["content"],
        json!([
            {"text": "What is this?"},
            {"image": {"format": "jpeg", "source": {"bytes": "/9j/4AAQ"}}},
            {"image": {"format": "png", "source": {"bytes": "iVBORw0K"}}}
        ])
    );
    let err = refuse(json!({"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
    ]}]}));
    assert_eq!(err.status, 400);
    assert_eq!(err.param.as_deref(), Some("messages"));
    assert!(
        err.message.contains("bedrock needs base64 images"),
        "{}",
        err.message
    );
    for url in [
        "data:image/tiff;base64,AAAA",
        "data:image/png,raw",
        "ftp://x",
    ] {
        let err = refuse(json!({"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": url}}]}]}));
        assert_eq!(err.param.as_deref(), Some("messages"), "{url}");
    }
}

#[test]
fn unsupported_params_are_refused_in_litellm_words_or_dropped() {
    let req = json!({"messages": [user("x")], "frequency_penalty": 0.5, "seed": 3, "n": 1,
                     "logprobs": false, "parallel_tool_calls": true});
    let err = refuse(req.clone());
    assert_eq!(err.status, 400);
    assert_eq!(err.param.as_deref(), Some("frequency_penalty"));
    assert!(err.message.starts_with(
        "litellm.UnsupportedParamsError: bedrock does not support parameters: ['frequency_penalty', 'seed'], for model=anthropic.claude-3-5-sonnet-20240620-v1:0."
    ));
    assert!(err.message.contains("drop_params: true"));
    let dropped = RequestOptions {
        model: CLAUDE,
        drop_params: true,
    };
    let out = to_converse_request(&req, &dropped).unwrap();
    assert!(out.get("inferenceConfig").is_none());
    assert!(
        refuse(json!({"messages": [user("x")], "parallel_tool_calls": false})).param
            == Some("parallel_tool_calls".into())
    );
}

#[test]
fn reasoning_effort_is_claude_thinking_with_room_for_an_answer() {
    let out = translate(json!({"messages": [user("x")], "reasoning_effort": "medium"}));
    assert_eq!(
        out["additionalModelRequestFields"],
        json!({"thinking": {"type": "enabled", "budget_tokens": 2048}})
    );
    assert_eq!(out["inferenceConfig"]["maxTokens"], 2048 + 4096);
    let out = translate(json!({"messages": [user("x")], "max_tokens": 9000,
        "thinking": {"type": "enabled", "budget_tokens": 5000}}));
    assert_eq!(out["inferenceConfig"]["maxTokens"], 9000);
    assert_eq!(
        out["additionalModelRequestFields"]["thinking"]["budget_tokens"],
        5000
    );
    assert_eq!(
        refuse(json!({"messages": [user("x")], "reasoning_effort": "max"})).param,
        Some("reasoning_effort".into())
    );
    let llama = to_converse_request(
        &json!({"messages": [user("x")], "reasoning_effort": "low"}),
        &opts("meta.llama3-1-70b-instruct-v1:0"),
    );
    assert!(llama.unwrap_err().message.contains("'reasoning_effort'"));
}

#[test]
fn json_mode_forces_the_json_tool_where_models_allow() {
    let schema = json!({"type": "object", "properties": {"city": {"type": "string"}}});
    let req = json!({"messages": [user("x")], "response_format": {"type": "json_schema",
        "json_schema": {"name": "place", "description": "A place", "schema": schema}}});
    let out = translate(req.clone());
    assert_eq!(
        out["toolConfig"],
        json!({"tools": [{"toolSpec": {"name": "json_tool_call", "description": "A place",
                                       "inputSchema": {"json": schema}}}],
               "toolChoice": {"tool": {"name": "json_tool_call"}}})
    );
    let llama = to_converse_request(&req, &opts("meta.llama3-1-70b-instruct-v1:0")).unwrap();
    assert!(llama["toolConfig"].get("toolChoice").is_none());
    let out = translate(
        json!({"messages": [user("x")], "response_format": {"type": "json_object"},
                               "reasoning_effort": "low"}),
    );
    assert!(out["toolConfig"].get("toolChoice").is_none());
    let out = translate(json!({"messages": [user("x")], "response_format": {"type": "text"}}));
    assert!(out.get("toolConfig").is_none());
    assert!(
        refuse(json!({"messages": [user("x")], "response_format": {"type": "xml"}}))
            .param
            .is_some()
    );
}

#[test]
fn thinking_blocks_go_back_as_reasoning_content_first() {
    let out = translate(
        json!({"messages": [user("x"), {"role": "assistant", "content": "A",
        "thinking_blocks": [
            {"type": "thinking", "thinking": "hmm", "signature": "sig"},
            {"type": "redacted_thinking", "data": "ZGF0YQ=="},
            {"type": "other"}
        ]}]}),
    );
    assert_eq!(
        out["messages"][1]["content"],
        json!([
            {"reasoningContent": {"reasoningText": {"text": "hmm", "signature": "sig"}}},
            {"reasoningContent": {"redactedContent": "ZGF0YQ=="}},
            {"text": "A"}
        ])
    );
}

#[test]
fn native_fields_pass_through_and_service_tier_maps() {
    let out = translate(json!({"messages": [user("x")],
        "guardrailConfig": {"guardrailIdentifier": "g1", "guardrailVersion": "1"},
        "requestMetadata": {"team": "a"}, "service_tier": "auto"}));
    assert_eq!(out["guardrailConfig"]["guardrailIdentifier"], "g1");
    assert_eq!(out["requestMetadata"], json!({"team": "a"}));
    assert_eq!(out["serviceTier"], json!({"type": "default"}));
}

#[test]
fn malformed_requests_are_400s_not_panics() {
    for req in [
        json!(null),
        json!([]),
        json!({"messages": [1, "x", null]}),
        json!({"messages": [{"role": "user", "content": 5}]}),
        json!({"messages": [{"role": "user", "content": [{"type": "audio"}]}]}),
        json!({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}),
        json!({"messages": [{"role": "tool", "content": "x"}]}),
        json!({"messages": [{"role": "assistant", "tool_calls": [{"function": {"arguments": "[1]"}}]}]}),
        json!({"messages": [{"role": "assistant", "tool_calls": [{"function": {"arguments": "{bad"}}]}]}),
        json!({"messages": [user("x")], "tools": "all"}),
        json!({"messages": [user("x")], "tools": [{"type": "function", "function": {}}]}),
    ] {
        let result = to_converse_request(&req, &opts(CLAUDE));
        if let Err(e) = result {
            assert_eq!(e.status, 400, "{req}");
        }
    }
}
