//! Anthropic request → OpenAI request: every field, and the 400s Anthropic would give.

use super::*;

const SDK_REQUEST: &str =
    include_str!("../../../../tests/fixtures/inbound_anthropic/request_sdk.json");

fn minimal(messages: Value) -> Value {
    json!({"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": messages})
}

#[test]
fn sdk_request_converts_field_by_field() {
    let anthropic: Value = serde_json::from_str(SDK_REQUEST).unwrap();
    let openai = messages_to_openai(&anthropic).unwrap();
    assert_eq!(
        openai,
        json!({
            "model": "claude-sonnet-4-5",
            "max_tokens": 1024,
            "messages": [
                {"role": "system", "content": "You are a helpful weather assistant.\nAnswer briefly."},
                {"role": "user", "content": [
                    {"type": "text", "text": "What's the weather where this photo was taken?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="}}
                ]},
                {"role": "assistant", "content": "That looks like Paris. Let me check the weather.", "tool_calls": [
                    {"id": "toolu_01A09q90qw90lq917835lq9", "type": "function",
                     "function": {"name": "get_weather", "arguments": "{\"location\":\"Paris, France\",\"unit\":\"celsius\"}"}}
                ]},
                {"role": "tool", "tool_call_id": "toolu_01A09q90qw90lq917835lq9", "content": "18°C, partly cloudy"},
                {"role": "user", "content": "And tomorrow?"}
            ],
            "tools": [{"type": "function", "function": {
                "name": "get_weather",
                "description": "Get the current weather in a given location",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "location": {"type": "string", "description": "The city and country, e.g. Paris, France"},
                        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}
                    },
                    "required": ["location"]
                }
            }}],
            "tool_choice": "auto",
            "temperature": 0.7,
            "top_p": 0.9,
            "stop": ["\n\nHuman:"],
            "user": "user_2x9kD8",
            "stream": true,
            "stream_options": {"include_usage": true}
        })
    );
}

#[test]
fn string_content_and_string_system() {
    let mut body = minimal(json!([
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Bye"}
    ]));
    body["system"] = json!("Be kind.");
    body["stream"] = json!(false);
    let openai = messages_to_openai(&body).unwrap();
    assert_eq!(
        openai["messages"],
        json!([
            {"role": "system", "content": "Be kind."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": "Bye"}
        ])
    );
    assert!(openai.get("stream").is_none());
    assert!(openai.get("stream_options").is_none());
    assert!(openai.get("tools").is_none());
}

#[test]
fn tool_results_come_first_and_keep_errors_and_images() {
    let openai = messages_to_openai(&minimal(json!([
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "toolu_a", "name": "read", "input": {}},
            {"type": "tool_use", "id": "toolu_b", "name": "shot", "input": {"x": 1}}
        ]},
        {"role": "user", "content": [
            {"type": "text", "text": "Here you go."},
            {"type": "tool_result", "tool_use_id": "toolu_a", "is_error": true, "content": "file not found"},
            {"type": "tool_result", "tool_use_id": "toolu_b", "content": [
                {"type": "text", "text": "Screenshot:"},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/s.png"}}
            ]},
            {"type": "tool_result", "tool_use_id": "toolu_c"}
        ]}
    ])))
    .unwrap();
    assert_eq!(
        openai["messages"],
        json!([
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "toolu_a", "type": "function", "function": {"name": "read", "arguments": "{}"}},
                {"id": "toolu_b", "type": "function", "function": {"name": "shot", "arguments": "{\"x\":1}"}}
            ]},
            {"role": "tool", "tool_call_id": "toolu_a", "content": "Error: file not found"},
            {"role": "tool", "tool_call_id": "toolu_b", "content": [
                {"type": "text", "text": "Screenshot:"},
                {"type": "image_url", "image_url": {"url": "https://example.com/s.png"}}
            ]},
            {"role": "tool", "tool_call_id": "toolu_c", "content": ""},
            {"role": "user", "content": "Here you go."}
        ])
    );
}

#[test]
fn documents_thinking_only_turns_and_multiple_text_blocks() {
    let openai = messages_to_openai(&minimal(json!([
        {"role": "user", "content": [
            {"type": "text", "text": "Read these."},
            {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0x"}},
            {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "plain words"}}
        ]},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "hm", "signature": "s"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "Part one, "}, {"type": "text", "text": "part two."}]}
    ])))
    .unwrap();
    assert_eq!(
        openai["messages"],
        json!([
            {"role": "user", "content": [
                {"type": "text", "text": "Read these."},
                {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0x"}},
                {"type": "text", "text": "plain words"}
            ]},
            {"role": "assistant", "content": "Part one, part two."}
        ])
    );
}

#[test]
fn tool_choice_of_every_kind() {
    let with = |choice: Value| {
        let mut body = minimal(json!([{"role": "user", "content": "x"}]));
        body["tools"] = json!([{"name": "f", "input_schema": {"type": "object"}}]);
        body["tool_choice"] = choice;
        messages_to_openai(&body)
    };
    assert_eq!(
        with(json!({"type": "auto"})).unwrap()["tool_choice"],
        "auto"
    );
    assert_eq!(
        with(json!({"type": "any"})).unwrap()["tool_choice"],
        "required"
    );
    assert_eq!(
        with(json!({"type": "none"})).unwrap()["tool_choice"],
        "none"
    );
    let named =
        with(json!({"type": "tool", "name": "f", "disable_parallel_tool_use": true})).unwrap();
    assert_eq!(
        named["tool_choice"],
        json!({"type": "function", "function": {"name": "f"}})
    );
    assert_eq!(named["parallel_tool_calls"], false);
    assert_eq!(
        named["tools"],
        json!([{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}])
    );
    for bad in [
        json!({"type": "tool"}),
        json!({"type": "sometimes"}),
        json!("auto"),
    ] {
        let e = with(bad).unwrap_err();
        assert_eq!((e.status, e.param.as_deref()), (400, Some("tool_choice")));
    }
}

#[test]
fn server_tools_web_search_and_custom_type() {
    let mut body = minimal(json!([{"role": "user", "content": "x"}]));
    body["tools"] = json!([
        {"type": "custom", "name": "g", "description": "G."},
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 3}
    ]);
    let openai = messages_to_openai(&body).unwrap();
    assert_eq!(openai["web_search_options"], json!({}));
    assert_eq!(
        openai["tools"],
        json!([{"type": "function", "function": {"name": "g", "description": "G.",
                "parameters": {"type": "object", "properties": {}}}}])
    );
    body["tools"] = json!([{"type": "bash_20250124", "name": "bash"}]);
    let e = messages_to_openai(&body).unwrap_err();
    assert_eq!(e.param.as_deref(), Some("tools"));
}

#[test]
fn missing_required_fields_are_400_in_anthropic_words() {
    let full = minimal(json!([{"role": "user", "content": "x"}]));
    for field in ["model", "messages", "max_tokens"] {
        let mut body = full.clone();
        body.as_object_mut().unwrap().remove(field);
        let e = messages_to_openai(&body).unwrap_err();
        assert_eq!(e.status, 400);
        assert_eq!(e.message, format!("{field}: Field required"));
        assert_eq!(e.param.as_deref(), Some(field));
    }
}

#[test]
fn malformed_requests_are_400_naming_the_param() {
    let cases = [
        (json!(null), None),
        (json!("hi"), None),
        (
            json!({"model": "", "max_tokens": 1, "messages": []}),
            Some("model"),
        ),
        (
            json!({"model": "m", "max_tokens": 0, "messages": []}),
            Some("max_tokens"),
        ),
        (
            json!({"model": "m", "max_tokens": "9", "messages": []}),
            Some("max_tokens"),
        ),
        (
            json!({"model": "m", "max_tokens": 1, "messages": {}}),
            Some("messages"),
        ),
        (
            minimal(json!([{"role": "system", "content": "x"}])),
            Some("messages"),
        ),
        (minimal(json!([{"content": "x"}])), Some("messages")),
        (minimal(json!([{"role": "user"}])), Some("messages")),
        (
            minimal(json!([{"role": "user", "content": 5}])),
            Some("messages"),
        ),
        (
            minimal(
                json!([{"role": "user", "content": [{"type": "image", "source": {"type": "file", "file_id": "f"}}]}]),
            ),
            Some("messages"),
        ),
        (
            minimal(
                json!([{"role": "user", "content": [{"type": "document", "source": {"type": "url", "url": "u"}}]}]),
            ),
            Some("messages"),
        ),
        (
            minimal(json!([{"role": "user", "content": [{"type": "search_result"}]}])),
            Some("messages"),
        ),
        (
            minimal(json!([{"role": "user", "content": [{"type": "tool_result"}]}])),
            Some("messages"),
        ),
        (
            minimal(
                json!([{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": 3}]}]),
            ),
            Some("messages"),
        ),
        (
            minimal(
                json!([{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": [{"type": "document"}]}]}]),
            ),
            Some("messages"),
        ),
        (
            minimal(json!([{"role": "assistant", "content": [{"type": "server_tool_use"}]}])),
            Some("messages"),
        ),
        (minimal(json!([{"role": "assistant"}])), Some("messages")),
    ];
    for (body, param) in cases {
        let e = messages_to_openai(&body).unwrap_err();
        assert_eq!(e.status, 400, "{body}");
        assert_eq!(e.param.as_deref(), param, "{body}");
    }
    let mut body = minimal(json!([]));
    body["system"] = json!([{"type": "image"}]);
    assert_eq!(
        messages_to_openai(&body).unwrap_err().param.as_deref(),
        Some("system")
    );
    body["system"] = json!(5);
    assert_eq!(
        messages_to_openai(&body).unwrap_err().param.as_deref(),
        Some("system")
    );
    let mut body = minimal(json!([]));
    body["stop_sequences"] = json!("END");
    assert_eq!(
        messages_to_openai(&body).unwrap_err().param.as_deref(),
        Some("stop_sequences")
    );
    let mut body = minimal(json!([]));
    body["tools"] = json!([{"description": "nameless"}]);
    assert_eq!(
        messages_to_openai(&body).unwrap_err().param.as_deref(),
        Some("tools")
    );
}
