//! Request translation tests: every mapped field, message shapes, tools and refusals.

use super::*;

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
fn minimal_request_is_contents_only() {
    let out = translate(
        json!({"model": "alias", "messages": [user("Hello")], "stream": true,
        "stream_options": {"include_usage": true}, "metadata": {"a": 1}, "fallbacks": ["x"],
        "mock_response": "hi", "user": "u-1", "drop_params": false}),
    );
    assert_eq!(
        out,
        json!({"contents": [{"role": "user", "parts": [{"text": "Hello"}]}]})
    );
}

#[test]
fn system_messages_become_system_instruction() {
    let out = translate(json!({"messages": [
        {"role": "system", "content": "Be brief."},
        user("Hi"),
        {"role": "developer", "content": [{"type": "text", "text": "Answer in "}, {"type": "text", "text": "French."}]},
    ]}));
    assert_eq!(
        out["system_instruction"],
        json!({"parts": [{"text": "Be brief."}, {"text": "Answer in French."}]})
    );
    assert_eq!(out["contents"].as_array().unwrap().len(), 1);
}

#[test]
fn assistant_is_model_and_same_role_turns_merge() {
    let out = translate(json!({"messages": [
        user("One"), user("Two"),
        {"role": "assistant", "content": "Three"},
        {"role": "assistant", "content": [{"type": "text", "text": "Four"}]},
        user("Five"),
    ]}));
    assert_eq!(
        out["contents"],
        json!([
            {"role": "user", "parts": [{"text": "One"}, {"text": "Two"}]},
            {"role": "model", "parts": [{"text": "Three"}, {"text": "Four"}]},
            {"role": "user", "parts": [{"text": "Five"}]},
        ])
    );
}

#[test]
fn images_become_inline_or_file_data() {
    let out = translate(json!({"messages": [{"role": "user", "content": [
        {"type": "text", "text": "Compare"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.webp"}},
        {"type": "image_url", "image_url": "https://example.com/noext"},
        {"type": "image_url", "image_url": {"url": "gs://bucket/v.mp4", "format": "video/mp4"}},
    ]}]}));
    assert_eq!(
        out["contents"][0]["parts"],
        json!([
            {"text": "Compare"},
            {"inline_data": {"mime_type": "image/png", "data": "iVBORw0KGgo="}},
            {"file_data": {"mime_type": "image/webp", "file_uri": "https://example.com/a.webp"}},
            {"file_data": {"mime_type": "image/jpeg", "file_uri": "https://example.com/noext"}},
            {"file_data": {"mime_type": "video/mp4", "file_uri": "gs://bucket/v.mp4"}},
        ])
    );
}

#[test]
fn audio_and_files_are_parts_and_media_alone_gets_a_blank_text() {
    let out = translate(json!({"messages": [{"role": "user", "content": [
        {"type": "input_audio", "input_audio": {"data": "UklGR", "format": "mp3"}},
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBER"}},
        {"type": "file", "file": {"file_id": "gs://b/doc.pdf"}},
    ]}]}));
    assert_eq!(
        out["contents"][0]["parts"],
        json!([
            {"inline_data": {"mime_type": "audio/mp3", "data": "UklGR"}},
            {"inline_data": {"mime_type": "application/pdf", "data": "JVBER"}},
            {"file_data": {"mime_type": "application/pdf", "file_uri": "gs://b/doc.pdf"}},
            {"text": " "},
        ])
    );
}

#[test]
fn tool_calls_and_results_round_trip_by_name() {
    let out = translate(json!({"messages": [
        user("Weather in Paris and Rome?"),
        {"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}},
            {"id": "call_2__thought__c2lnbmF0dXJl", "type": "function", "function": {"name": "get_time", "arguments": ""}},
        ]},
        {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
        {"role": "tool", "tool_call_id": "call_2__thought__c2lnbmF0dXJl", "content": [{"type": "text", "text": "12:00"}]},
        user("Thanks"),
    ]}));
    assert_eq!(
        out["contents"],
        json!([
            {"role": "user", "parts": [{"text": "Weather in Paris and Rome?"}]},
            {"role": "model", "parts": [
                {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
                {"functionCall": {"name": "get_time", "args": {}}, "thoughtSignature": "c2lnbmF0dXJl"},
            ]},
            {"role": "user", "parts": [
                {"functionResponse": {"name": "get_weather", "response": {"content": "18C"}}},
                {"functionResponse": {"name": "get_time", "response": {"content": "12:00"}}},
                {"text": "Thanks"},
            ]},
        ])
    );
}

#[test]
fn tool_results_need_a_known_call() {
    let e = refuse(
        json!({"messages": [user("x"), {"role": "tool", "tool_call_id": "nope", "content": "r"}]}),
    );
    assert_eq!((e.status, e.param.as_deref()), (400, Some("messages")));
    assert!(e.message.starts_with("messages[1]:"));
    // A legacy `function` message names itself.
    let out = translate(
        json!({"messages": [user("x"), {"role": "function", "name": "f", "content": "r"}]}),
    );
    assert_eq!(
        out["contents"][0]["parts"][1]["functionResponse"]["name"],
        "f"
    );
}

#[test]
fn bad_messages_are_400s() {
    for messages in [
        json!([{"role": "wizard", "content": "x"}]),
        json!([{"role": "user", "content": 5}]),
        json!([{"role": "user", "content": [{"type": "video", "url": "x"}]}]),
        json!([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "ftp://x"}}]}]),
        json!([{"role": "assistant", "tool_calls": [{"id": "a", "function": {"name": "f", "arguments": "[1]"}}]}]),
        json!([{"role": "assistant", "tool_calls": [{"id": "a", "function": {"arguments": "{}"}}]}]),
    ] {
        let e = refuse(json!({ "messages": messages }));
        assert_eq!(
            (e.status, e.param.as_deref()),
            (400, Some("messages")),
            "{messages}"
        );
    }
    assert_eq!(
        refuse(json!({"model": "m"})).param.as_deref(),
        Some("messages")
    );
    assert_eq!(refuse(json!([1])).status, 400);
}

#[test]
fn generation_config_maps_every_sampling_field() {
    let out = translate(json!({"messages": [user("x")],
        "max_tokens": 100, "temperature": 0.2, "top_p": 0.9, "top_k": 40, "stop": ["END", "STOP"],
        "n": 2, "presence_penalty": 0.5, "frequency_penalty": -0.5, "seed": 7,
        "logprobs": true, "top_logprobs": 3, "modalities": ["text", "image"]}));
    assert_eq!(
        out["generationConfig"],
        json!({"maxOutputTokens": 100, "temperature": 0.2, "topP": 0.9, "topK": 40,
               "stopSequences": ["END", "STOP"], "candidateCount": 2, "presencePenalty": 0.5,
               "frequencyPenalty": -0.5, "seed": 7, "responseLogprobs": true, "logprobs": 3,
               "responseModalities": ["TEXT", "IMAGE"]})
    );
}

#[test]
fn max_completion_tokens_wins_and_stop_may_be_a_string() {
    let out = translate(json!({"messages": [user("x")], "max_tokens": 10,
        "max_completion_tokens": 20, "stop": "END"}));
    assert_eq!(out["generationConfig"]["maxOutputTokens"], 20);
    assert_eq!(out["generationConfig"]["stopSequences"], json!(["END"]));
    for (body, param) in [
        (json!({"max_tokens": 0}), "max_tokens"),
        (
            json!({"max_completion_tokens": "lots"}),
            "max_completion_tokens",
        ),
        (json!({"stop": [1]}), "stop"),
    ] {
        let mut req = body.clone();
        req["messages"] = json!([user("x")]);
        assert_eq!(refuse(req).param.as_deref(), Some(param), "{body}");
    }
}

#[test]
fn json_modes_set_mime_type_and_schema() {
    let object =
        translate(json!({"messages": [user("x")], "response_format": {"type": "json_object"}}));
    assert_eq!(
        object["generationConfig"],
        json!({"responseMimeType": "application/json"})
    );
    let schema = translate(
        json!({"messages": [user("x")], "response_format": {"type": "json_schema",
        "json_schema": {"name": "city", "strict": true, "schema": {"type": "object",
            "properties": {"name": {"type": "string"}}, "required": ["name"], "additionalProperties": false}}}}),
    );
    assert_eq!(
        schema["generationConfig"],
        json!({"responseMimeType": "application/json", "responseSchema": {"type": "object",
               "properties": {"name": {"type": "string"}}, "required": ["name"]}})
    );
    let text = translate(json!({"messages": [user("x")], "response_format": {"type": "text"}}));
    assert_eq!(text["generationConfig"]["responseMimeType"], "text/plain");
    let e = refuse(json!({"messages": [user("x")], "response_format": {"type": "yaml"}}));
    assert_eq!(e.param.as_deref(), Some("response_format"));
}

#[test]
fn unsupported_params_are_litellms_400_or_dropped() {
    let req = json!({"messages": [user("x")], "logit_bias": {"1": 2}, "functions": [{"name": "f"}], "store": false});
    let opts = RequestOptions {
        drop_params: false,
        provider: "vertex_ai",
        model: "gemini-2.0-flash",
    };
    let e = to_gemini_request(&req, &opts).unwrap_err();
    assert_eq!(e.status, 400);
    assert_eq!(e.param.as_deref(), Some("functions"));
    assert_eq!(
        e.message,
        "litellm.UnsupportedParamsError: vertex_ai does not support parameters: ['functions', 'logit_bias'], \
         for model=gemini-2.0-flash. To drop these, set `litellm.drop_params=True` or for proxy:\n\n\
         `litellm_settings:\n drop_params: true`\n"
    );
    let dropped = to_gemini_request(
        &req,
        &RequestOptions {
            drop_params: true,
            ..opts
        },
    )
    .unwrap();
    assert_eq!(
        dropped,
        json!({"contents": [{"role": "user", "parts": [{"text": "x"}]}]})
    );
}

#[test]
fn gemini_3_refuses_penalties() {
    let req = json!({"messages": [user("x")], "presence_penalty": 0.1, "temperature": 1});
    let opts = RequestOptions {
        drop_params: false,
        provider: "gemini",
        model: "gemini-3-pro-preview",
    };
    assert_eq!(
        to_gemini_request(&req, &opts).unwrap_err().param.as_deref(),
        Some("presence_penalty")
    );
    let out = to_gemini_request(
        &req,
        &RequestOptions {
            drop_params: true,
            ..opts
        },
    )
    .unwrap();
    assert_eq!(out["generationConfig"], json!({"temperature": 1}));
}

#[test]
fn reasoning_effort_and_thinking_become_thinking_config() {
    let with = |extra: Value, model: &str| {
        let mut req = json!({"messages": [user("x")]});
        for (k, v) in extra.as_object().unwrap() {
            req[k] = v.clone();
        }
        let opts = RequestOptions {
            model,
            ..Default::default()
        };
        to_gemini_request(&req, &opts).map(|v| v["generationConfig"]["thinkingConfig"].clone())
    };
    let flash = "gemini-2.5-flash";
    assert_eq!(
        with(json!({"reasoning_effort": "low"}), flash).unwrap(),
        json!({"thinkingBudget": 1024, "includeThoughts": true})
    );
    assert_eq!(
        with(json!({"reasoning_effort": "medium"}), flash).unwrap()["thinkingBudget"],
        2048
    );
    assert_eq!(
        with(json!({"reasoning_effort": "high"}), flash).unwrap()["thinkingBudget"],
        4096
    );
    assert_eq!(
        with(json!({"reasoning_effort": "minimal"}), "gemini-2.5-pro").unwrap()["thinkingBudget"],
        128
    );
    assert_eq!(
        with(json!({"reasoning_effort": "none"}), flash).unwrap(),
        json!({"thinkingBudget": 0, "includeThoughts": false})
    );
    assert_eq!(
        with(
            json!({"reasoning_effort": "medium"}),
            "gemini-3-pro-preview"
        )
        .unwrap(),
        json!({"thinkingLevel": "high", "includeThoughts": true})
    );
    assert_eq!(
        with(
            json!({"reasoning_effort": "minimal"}),
            "gemini-3-flash-preview"
        )
        .unwrap()["thinkingLevel"],
        "minimal"
    );
    assert_eq!(
        with(json!({"thinking": {"type": "enabled", "budget_tokens": 5000}, "reasoning_effort": "low"}), flash).unwrap(),
        json!({"thinkingBudget": 5000, "includeThoughts": true})
    );
    assert_eq!(
        with(json!({"reasoning_effort": "extreme"}), flash)
            .unwrap_err()
            .param
            .as_deref(),
        Some("reasoning_effort")
    );
}

#[test]
fn google_passthrough_fields_are_kept() {
    let settings = json!([{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]);
    let out = translate(json!({"messages": [user("x")], "safety_settings": settings,
        "cached_content": "cachedContents/abc"}));
    assert_eq!(out["safetySettings"], settings);
    assert_eq!(out["cachedContent"], "cachedContents/abc");
}

#[test]
fn odd_input_never_panics() {
    for body in [
        json!(null),
        json!({}),
        json!({"messages": null}),
        json!({"messages": [null, 1, "x"]}),
        json!({"messages": [{"role": "user", "content": [null, {"type": "image_url"}]}]}),
        json!({"messages": [{"role": "assistant", "tool_calls": "x"}]}),
        json!({"messages": [], "tools": "x", "tool_choice": 5, "stop": {}, "n": "two"}),
        json!({"messages": [], "response_format": {"type": "json_schema", "json_schema": 3}}),
    ] {
        let _ = to_gemini_request(&body, &RequestOptions::default());
    }
}
