//! Response translation tests against recorded Gemini answers.

use super::*;

const TEXT: &str = include_str!("../../../../tests/fixtures/gemini/generate_text.json");
const CALL: &str = include_str!("../../../../tests/fixtures/gemini/generate_function_call.json");
const BLOCKED: &str =
    include_str!("../../../../tests/fixtures/gemini/generate_safety_blocked.json");

fn parse(s: &str) -> Value {
    serde_json::from_str(s).unwrap()
}

#[test]
fn text_answer_becomes_chat_completion() {
    let out = to_openai_response(&parse(TEXT), "flash", 1700000000);
    assert_eq!(out["id"], "CF1yaM2hC5KtnvgP7pT8mAs");
    assert_eq!(out["object"], "chat.completion");
    assert_eq!(out["created"], 1700000000);
    assert_eq!(out["model"], "flash");
    let choice = &out["choices"][0];
    assert_eq!(choice["index"], 0);
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(
        choice["message"]["content"],
        "AI learns patterns from data to make predictions or decisions without being explicitly programmed for each task."
    );
    assert!(choice["message"].get("tool_calls").is_none());
    assert!(choice["message"].get("reasoning_content").is_none());
    assert_eq!(choice["finish_reason"], "stop");
}

#[test]
fn thinking_tokens_count_as_completion_and_reasoning_tokens() {
    // 8 + 19 != 1046: the thoughts are not in candidatesTokenCount, so they are added.
    let usage = &to_openai_response(&parse(TEXT), "a", 0)["usage"];
    assert_eq!(
        usage,
        &json!({"prompt_tokens": 8, "completion_tokens": 19 + 1019, "total_tokens": 1046,
                "prompt_tokens_details": {"cached_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 1019}})
    );
    // When prompt + candidates = total, the thoughts are already inside candidates.
    let inclusive = json!({"promptTokenCount": 10, "candidatesTokenCount": 30,
                           "thoughtsTokenCount": 20, "totalTokenCount": 40});
    assert_eq!(token_counts(&inclusive), (10, 30));
    assert_eq!(
        openai_usage(&json!({"promptTokenCount": 3, "candidatesTokenCount": 4}))["total_tokens"],
        7
    );
}

#[test]
fn function_call_becomes_tool_call_with_json_arguments() {
    let out = to_openai_response(&parse(CALL), "flash", 0);
    let choice = &out["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert!(choice["message"]["content"].is_null());
    let calls = choice["message"]["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!(call["type"], "function");
    assert!(call.get("index").is_none());
    assert_eq!(call["function"]["name"], "schedule_meeting");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(
        args,
        json!({"attendees": ["Bob", "Alice"], "date": "2025-03-14", "time": "10:00", "topic": "Q3 planning"})
    );
    // A fresh id, carrying the thought signature for the next turn.
    let id = call["id"].as_str().unwrap();
    let (base, signature) = id.split_once("__thought__").unwrap();
    assert!(base.starts_with("call_") && base.len() == 5 + 28, "{base}");
    assert_eq!(
        signature,
        "CiQBVKhc7wGm2Lq3uX9qkJ0rYcdGsSAmF6WvHzMvNQyR8o0sE1wKXwFUqFzv"
    );
    assert_eq!(out["usage"]["prompt_tokens_details"]["cached_tokens"], 64);
    assert_eq!(out["usage"]["completion_tokens"], 42);
}

#[test]
fn tool_call_ids_are_unique_and_args_default_to_an_object() {
    let part = json!({"functionCall": {"name": "f"}});
    let a = tool_call(&part, Some(3));
    let b = tool_call(&part, None);
    assert_ne!(a["id"], b["id"]);
    assert_eq!(a["index"], 3);
    assert_eq!(a["function"]["arguments"], "{}");
}

#[test]
fn thought_parts_become_reasoning_content() {
    let answer = json!({"candidates": [{"content": {"role": "model", "parts": [
        {"text": "Considering the options. ", "thought": true},
        {"text": "Then deciding.", "thought": true},
        {"text": "Take the train."},
        {"text": " It is faster."}
    ]}, "finishReason": "STOP"}]});
    let message = &to_openai_response(&answer, "a", 0)["choices"][0]["message"];
    assert_eq!(
        message["reasoning_content"],
        "Considering the options. Then deciding."
    );
    assert_eq!(message["content"], "Take the train. It is faster.");
}

#[test]
fn maps_every_finish_reason() {
    for (gemini, want) in [
        ("STOP", "stop"),
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("BLOCKLIST", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("SPII", "content_filter"),
        ("IMAGE_SAFETY", "content_filter"),
        ("OTHER", "content_filter"),
        ("MALFORMED_FUNCTION_CALL", "stop"),
        ("FINISH_REASON_UNSPECIFIED", "stop"),
        ("SOMETHING_NEW", "stop"),
    ] {
        let mut answer = parse(TEXT);
        answer["candidates"][0]["finishReason"] = json!(gemini);
        let out = to_openai_response(&answer, "a", 0);
        assert_eq!(out["choices"][0]["finish_reason"], want, "{gemini}");
    }
}

#[test]
fn blocked_prompt_is_an_empty_content_filtered_answer() {
    let out = to_openai_response(&parse(BLOCKED), "a", 0);
    assert_eq!(
        out["choices"],
        json!([{"index": 0, "message": {"role": "assistant", "content": null}, "finish_reason": "content_filter"}])
    );
    assert_eq!(out["usage"]["prompt_tokens"], 12);
    assert_eq!(out["usage"]["completion_tokens"], 0);
}

#[test]
fn several_candidates_become_several_choices() {
    let answer = json!({"candidates": [
        {"index": 0, "content": {"parts": [{"text": "A"}]}, "finishReason": "STOP"},
        {"index": 1, "content": {"parts": [{"text": "B"}]}, "finishReason": "MAX_TOKENS"}
    ]});
    let out = to_openai_response(&answer, "a", 0);
    assert_eq!(out["choices"][1]["index"], 1);
    assert_eq!(out["choices"][1]["message"]["content"], "B");
    assert_eq!(out["choices"][1]["finish_reason"], "length");
    assert!(out["id"].as_str().unwrap().starts_with("chatcmpl-"));
}

#[test]
fn logprobs_become_openai_logprobs() {
    let answer = json!({"candidates": [{"content": {"parts": [{"text": "Hi"}]}, "finishReason": "STOP",
        "logprobsResult": {
            "topCandidates": [{"candidates": [{"token": "Hi", "logProbability": -0.1}, {"token": "Hello", "logProbability": -2.5}]}],
            "chosenCandidates": [{"token": "Hi", "logProbability": -0.1}]}}]});
    let out = to_openai_response(&answer, "a", 0);
    assert_eq!(
        out["choices"][0]["logprobs"],
        json!({"content": [{"token": "Hi", "logprob": -0.1, "top_logprobs": [
            {"token": "Hi", "logprob": -0.1}, {"token": "Hello", "logprob": -2.5}]}]})
    );
}

#[test]
fn odd_bodies_do_not_panic() {
    for body in [
        json!(null),
        json!([]),
        json!({"candidates": "x", "usageMetadata": 3}),
        json!({"candidates": [null, {"content": {"parts": [null, {"functionCall": 1}, {"text": 5}]}}]}),
        json!({"candidates": [{"content": {"parts": [{"functionCall": {"name": 7, "args": [1]}}]}}]}),
    ] {
        let out = to_openai_response(&body, "a", 0);
        assert_eq!(out["object"], "chat.completion");
        assert!(out["choices"].as_array().is_some_and(|c| !c.is_empty()));
    }
}
