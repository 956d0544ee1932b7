//! Request translation tests: every mapped field, message shapes, and parameter refusals.

use super::*;

fn translate(req: Value) -> Value {
    to_anthropic_request(
        &req,
        "claude-sonnet-4-5-20250929",
        &RequestOptions::default(),
    )
    .unwrap()
}

fn refuse(req: Value) -> GatewayError {
    to_anthropic_request(
        &req,
        "claude-sonnet-4-5-20250929",
        &RequestOptions::default(),
    )
    .unwrap_err()
}

fn user(text: &str) -> Value {
    json!({"role": "user", "content": text})
}

#[test]
fn minimal_request_gets_model_messages_and_default_max_tokens() {
    let out = translate(json!({"model": "my-alias", "messages": [user("Hello")]}));
    assert_eq!(
        out,
        json!({
            "model": "claude-sonnet-4-5-20250929",
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello"}]}],
            "max_tokens": 4096
        })
    );
}

#[test]
fn system_messages_anywhere_become_one_system_string() {
    let out = translate(json!({"messages": [
        {"role": "system", "content": "Be brief."},
        user("Hi"),
        {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
        {"role": "system", "content": [{"type": "text", "text": "No emoji."}]},
    ]}));
    assert_eq!(out["system"], "Be brief.\nAnswer in French.\nNo emoji.");
    assert_eq!(out["messages"].as_array().unwrap().len(), 1);
}

#[test]
fn system_with_cache_control_becomes_text_blocks() {
    let cache = json!({"type": "ephemeral"});
    let out = translate(json!({"messages": [
        {"role": "system", "content": [
            {"type": "text", "text": "Long context", "cache_control": cache},
            {"type": "text", "text": "Rules"}
        ]},
        user("Hi"),
    ]}));
    assert_eq!(
        out["system"],
        json!([
            {"type": "text", "text": "Long context", "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": "Rules"}
        ])
    );
}

#[test]
fn message_level_cache_control_marks_the_last_block() {
    let cache = json!({"type": "ephemeral"});
    let out = translate(json!({"messages": [
        {"role": "user", "content": "Big document", "cache_control": cache},
        {"role": "assistant", "tool_calls": [
            {"id": "t", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "t", "content": "result", "cache_control": cache},
    ]}));
    assert_eq!(out["messages"][0]["content"][0]["cache_control"], cache);
    assert_eq!(out["messages"][2]["content"][0]["cache_control"], cache);
}

#[test]
fn consecutive_turns_of_one_role_are_merged() {
    let out = translate(json!({"messages": [
        user("a"), user("b"),
        {"role": "assistant", "content": "c"},
        {"role": "assistant", "content": [{"type": "text", "text": "d"}]},
        user("e"),
    ]}));
    assert_eq!(
        out["messages"],
        json!([
            {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "c"}, {"type": "text", "text": "d"}]},
            {"role": "user", "content": [{"type": "text", "text": "e"}]},
        ])
    );
}

#[test]
fn image_parts_from_data_and_http_urls() {
    let out = translate(json!({"messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is in these?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg", "detail": "high"}},
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0x"}},
    ]}]}));
    assert_eq!(
        out["messages"][0]["content"],
        json!([
            {"type": "text", "text": "What is in these?"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
            {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0x"}},
        ])
    );
}

#[test]
fn bad_image_urls_are_a_400() {
    for url in [
        "ftp://x/y.png",
        "data:image/png,raw",
        "data:text/plain;base64,aGk=",
    ] {
        let e = refuse(json!({"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": url}}
        ]}]}));
        assert_eq!(
            (e.status, e.param.as_deref()),
            (400, Some("messages")),
            "{url}"
        );
    }
}

#[test]
fn tool_call_round_trip_over_several_turns() {
    let out = translate(json!({
        "messages": [
            {"role": "system", "content": "You can check weather."},
            user("Weather in Paris and Rome?"),
            {"role": "assistant", "content": "Checking.", "tool_calls": [
                {"id": "toolu_1", "type": "function",
                 "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "toolu_2", "type": "function",
                 "function": {"name": "get_weather", "arguments": "{\"city\":\"Rome\"}"}}
            ]},
            {"role": "tool", "tool_call_id": "toolu_1", "content": "18C"},
            {"role": "tool", "tool_call_id": "toolu_2", "content": [{"type": "text", "text": "24C"}]},
            user("And in F?"),
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "toolu_3", "type": "function", "function": {"name": "now", "arguments": ""}}
            ]},
            {"role": "tool", "tool_call_id": "toolu_3", "content": "noon"},
        ],
        "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    }));
    assert_eq!(
        out["messages"],
        json!([
            {"role": "user", "content": [{"type": "text", "text": "Weather in Paris and Rome?"}]},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {"city": "Rome"}},
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"},
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": [{"type": "text", "text": "24C"}]},
                {"type": "text", "text": "And in F?"},
            ]},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "toolu_3", "name": "now", "input": {}},
            ]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_3", "content": "noon"}]},
        ])
    );
}

#[test]
fn tool_results_come_first_in_their_user_turn() {
    let out = translate(json!({"messages": [
        {"role": "assistant", "tool_calls": [
            {"id": "t", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        user("by the way"),
        {"role": "tool", "tool_call_id": "t", "content": "done"},
    ]}));
    let kinds: Vec<&str> = out["messages"][1]["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["tool_result", "text"]);
}

#[test]
fn invalid_tool_arguments_are_a_400() {
    for args in ["{not json", "[1,2]", "\"text\""] {
        let e = refuse(json!({"messages": [{"role": "assistant", "tool_calls": [
            {"id": "t", "type": "function", "function": {"name": "f", "arguments": args}}
        ]}]}));
        assert_eq!(e.status, 400, "{args}");
        assert!(
            e.message.contains("arguments must be a JSON object"),
            "{}",
            e.message
        );
    }
    let e = refuse(json!({"messages": [{"role": "tool", "content": "x"}]}));
    assert!(e.message.contains("tool_call_id"));
}

#[test]
fn sampling_and_control_parameters_map_across() {
    let out = translate(json!({
        "messages": [user("Hi")],
        "max_tokens": 100, "temperature": 0.2, "top_p": 0.9, "top_k": 40,
        "stop": "END", "stream": true, "user": "user-123"
    }));
    assert_eq!(out["max_tokens"], 100);
    assert_eq!(out["temperature"], 0.2);
    assert_eq!(out["top_p"], 0.9);
    assert_eq!(out["top_k"], 40);
    assert_eq!(out["stop_sequences"], json!(["END"]));
    assert_eq!(out["stream"], true);
    assert_eq!(out["metadata"], json!({"user_id": "user-123"}));

    let out = translate(json!({
        "messages": [user("Hi")], "max_tokens": 100, "max_completion_tokens": 200,
        "stop": ["a", "b"], "stream": false, "user": "someone@example.com"
    }));
    assert_eq!(out["max_tokens"], 200);
    assert_eq!(out["stop_sequences"], json!(["a", "b"]));
    assert!(out.get("stream").is_none());
    assert!(out.get("metadata").is_none());

    let e = refuse(json!({"messages": [user("Hi")], "max_tokens": -1}));
    assert_eq!(e.param.as_deref(), Some("max_tokens"));
}

#[test]
fn tools_and_every_tool_choice() {
    let tools = json!([{"type": "function", "function": {
        "name": "get_weather", "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]);
    let cases = [
        (json!("auto"), json!({"type": "auto"})),
        (json!("required"), json!({"type": "any"})),
        (json!("none"), json!({"type": "none"})),
        (
            json!({"type": "function", "function": {"name": "get_weather"}}),
            json!({"type": "tool", "name": "get_weather"}),
        ),
    ];
    for (choice, want) in cases {
        let out =
            translate(json!({"messages": [user("Hi")], "tools": tools, "tool_choice": choice}));
        assert_eq!(out["tool_choice"], want);
        assert_eq!(
            out["tools"],
            json!([{"name": "get_weather", "description": "Weather for a city",
                    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}])
        );
    }
    let e = refuse(json!({"messages": [user("Hi")], "tool_choice": "sometimes"}));
    assert_eq!(e.param.as_deref(), Some("tool_choice"));
}

#[test]
fn parallel_tool_calls_false_disables_parallel_tool_use() {
    let out = translate(json!({"messages": [user("Hi")], "tool_choice": "required",
                               "parallel_tool_calls": false}));
    assert_eq!(
        out["tool_choice"],
        json!({"type": "any", "disable_parallel_tool_use": true})
    );
    let out = translate(json!({"messages": [user("Hi")], "parallel_tool_calls": false}));
    assert_eq!(
        out["tool_choice"],
        json!({"type": "auto", "disable_parallel_tool_use": true})
    );
}

#[test]
fn json_mode_becomes_a_forced_tool() {
    let out =
        translate(json!({"messages": [user("Hi")], "response_format": {"type": "json_object"}}));
    assert_eq!(out["tools"][0]["name"], "json_tool_call");
    assert_eq!(out["tools"][0]["input_schema"]["type"], "object");
    assert_eq!(
        out["tool_choice"],
        json!({"type": "tool", "name": "json_tool_call"})
    );

    let schema =
        json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]});
    let out = translate(json!({"messages": [user("Hi")], "response_format":
        {"type": "json_schema", "json_schema": {"name": "place", "schema": schema}}}));
    assert_eq!(
        out["tools"],
        json!([{"name": "json_tool_call", "input_schema": schema}])
    );

    let out = translate(json!({"messages": [user("Hi")], "response_format": {"type": "text"}}));
    assert!(out.get("tools").is_none());
}

#[test]
fn unsupported_parameters_are_refused_in_litellms_words() {
    let e = refuse(json!({"messages": [user("Hi")], "seed": 1, "frequency_penalty": 0.5}));
    assert_eq!(e.status, 400);
    assert_eq!(e.kind, "invalid_request_error");
    assert_eq!(e.param.as_deref(), Some("frequency_penalty"));
    assert_eq!(
        e.message,
        "litellm.UnsupportedParamsError: anthropic does not support parameters: ['frequency_penalty', 'seed'], \
         for model=claude-sonnet-4-5-20250929. To drop these, set `litellm.drop_params=True` or for proxy:\n\n\
         `litellm_settings:\n drop_params: true`\n"
    );
    for (name, value) in [
        ("n", json!(2)),
        ("logprobs", json!(true)),
        ("presence_penalty", json!(0.1)),
        ("logit_bias", json!({"50256": -100})),
    ] {
        let e = refuse(json!({"messages": [user("Hi")], name: value}));
        assert_eq!(e.param.as_deref(), Some(name));
    }
}

#[test]
fn drop_params_drops_them_and_harmless_values_pass() {
    let opts = RequestOptions {
        drop_params: true,
        default_max_tokens: 1000,
    };
    let req = json!({"messages": [user("Hi")], "n": 3, "seed": 7, "logprobs": true,
                     "presence_penalty": 1, "logit_bias": {}, "stop": ["  ", "X"]});
    let out = to_anthropic_request(&req, "m", &opts).unwrap();
    for name in ["n", "seed", "logprobs", "presence_penalty", "logit_bias"] {
        assert!(out.get(name).is_none(), "{name}");
    }
    assert_eq!(out["max_tokens"], 1000);
    assert_eq!(out["stop_sequences"], json!(["X"]));
    translate(json!({"messages": [user("Hi")], "n": 1, "logprobs": false, "seed": null}));
}

#[test]
fn gateway_parameters_are_never_forwarded() {
    let out = translate(json!({
        "model": "alias", "messages": [user("Hi")], "stream": true,
        "stream_options": {"include_usage": true}, "metadata": {"tags": ["a"]},
        "fallbacks": ["other"], "num_retries": 2, "caching": true, "mock_response": "hi",
        "mock_testing_fallbacks": true, "tags": ["x"]
    }));
    let keys: Vec<&String> = out.as_object().unwrap().keys().collect();
    assert_eq!(keys, vec!["max_tokens", "messages", "model", "stream"]);
    assert_eq!(out["model"], "claude-sonnet-4-5-20250929");
}

#[test]
fn reasoning_effort_becomes_thinking_with_room_for_the_answer() {
    let out = translate(json!({"messages": [user("Hi")], "reasoning_effort": "medium"}));
    assert_eq!(
        out["thinking"],
        json!({"type": "enabled", "budget_tokens": 2048})
    );
    assert_eq!(out["max_tokens"], 4096 + 2048);
    let thinking = json!({"type": "enabled", "budget_tokens": 5000});
    let out = translate(
        json!({"messages": [user("Hi")], "thinking": thinking, "max_tokens": 8000,
                               "response_format": {"type": "json_object"}}),
    );
    assert_eq!(out["thinking"], thinking);
    assert_eq!(out["max_tokens"], 8000);
    // No forced tool while thinking: Anthropic refuses that combination.
    assert!(out.get("tool_choice").is_none());
    let e = refuse(json!({"messages": [user("Hi")], "reasoning_effort": "extreme"}));
    assert_eq!(e.param.as_deref(), Some("reasoning_effort"));
}

#[test]
fn assistant_thinking_blocks_go_back_first() {
    let out = translate(json!({"messages": [
        user("Hi"),
        {"role": "assistant", "content": "Hello", "thinking_blocks": [
            {"type": "thinking", "thinking": "hmm", "signature": "sig"}]},
    ]}));
    assert_eq!(
        out["messages"][1]["content"],
        json!([{"type": "thinking", "thinking": "hmm", "signature": "sig"},
               {"type": "text", "text": "Hello"}])
    );
}

#[test]
fn malformed_requests_are_400s_not_panics() {
    for req in [
        json!([]),
        json!({}),
        json!({"messages": "hi"}),
        json!({"messages": [{"role": "wizard", "content": "x"}]}),
        json!({"messages": [{"role": "user", "content": 5}]}),
        json!({"messages": [{"role": "user", "content": [{"type": "audio"}]}]}),
        json!({"messages": [user("x")], "tools": [{"type": "code_interpreter"}]}),
        json!({"messages": [user("x")], "stop": [1]}),
        json!({"messages": [user("x")], "response_format": {"type": "yaml"}}),
    ] {
        let e = to_anthropic_request(&req, "m", &RequestOptions::default()).unwrap_err();
        assert_eq!(e.status, 400, "{req}");
    }
}
