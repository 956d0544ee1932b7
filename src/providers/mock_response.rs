//! LiteLLM's `mock_response`: a deployment that answers locally with fixed text, streamed or
//! not, so a config works with no provider key at all.

use crate::canonical::request::Operation;
use crate::canonical::RequestBody;
use bytes::Bytes;
use serde_json::{json, Value};
use std::time::{SystemTime, UNIX_EPOCH};

pub enum MockAnswer {
    Whole(Bytes),
    /// SSE events, each a complete `data: ...\n\n`.
    Stream(Vec<Bytes>),
}

pub fn answer(
    op: Operation,
    body: &RequestBody,
    alias: &str,
    text: &str,
    call_id: &str,
) -> MockAnswer {
    let created = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let prompt_tokens = estimate_tokens(body.raw().len());
    let completion_tokens = text.split_whitespace().count().max(1) as u64;
    let usage = json!({
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    });
    match op {
        Operation::Embedding => MockAnswer::Whole(to_bytes(&json!({
            "object": "list",
            "model": alias,
            "data": [{"object": "embedding", "index": 0, "embedding": [0.0, 0.0, 0.0]}],
            "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
        }))),
        Operation::Completion if !body.stream => MockAnswer::Whole(to_bytes(&json!({
            "id": format!("cmpl-{call_id}"),
            "object": "text_completion",
            "created": created,
            "model": alias,
            "choices": [{"text": text, "index": 0, "logprobs": null, "finish_reason": "stop"}],
            "usage": usage,
        }))),
        Operation::Chat if !body.stream => MockAnswer::Whole(to_bytes(&json!({
            "id": format!("chatcmpl-{call_id}"),
            "object": "chat.completion",
            "created": created,
            "model": alias,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": usage,
        }))),
        _ => MockAnswer::Stream(stream_events(
            op, body, alias, text, call_id, created, usage,
        )),
    }
}

fn stream_events(
    op: Operation,
    body: &RequestBody,
    alias: &str,
    text: &str,
    call_id: &str,
    created: u64,
    usage: Value,
) -> Vec<Bytes> {
    let chat = op == Operation::Chat;
    let (id, object) = if chat {
        (format!("chatcmpl-{call_id}"), "chat.completion.chunk")
    } else {
        (format!("cmpl-{call_id}"), "text_completion")
    };
    let chunk = |choice: Value| json!({"id": id, "object": object, "created": created, "model": alias, "choices": [choice]});
    let mut events = Vec::new();
    if chat {
        events.push(event(&chunk(json!({"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}))));
    }
    for piece in text.split_inclusive(' ') {
        let choice = if chat {
            json!({"index": 0, "delta": {"content": piece}, "finish_reason": null})
        } else {
            json!({"index": 0, "text": piece, "finish_reason": null})
        };
        events.push(event(&chunk(choice)));
    }
    let last = if chat {
        json!({"index": 0, "delta": {}, "finish_reason": "stop"})
    } else {
        json!({"index": 0, "text": "", "finish_reason": "stop"})
    };
    events.push(event(&chunk(last)));
    if body.include_usage {
        events.push(event(&json!({"id": id, "object": object, "created": created, "model": alias, "choices": [], "usage": usage})));
    }
    events.push(Bytes::from_static(b"data: [DONE]\n\n"));
    events
}

/// About four bytes a token, as tokenizers average on English text.
fn estimate_tokens(bytes: usize) -> u64 {
    (bytes as u64 / 4).max(1)
}

fn to_bytes(v: &Value) -> Bytes {
    Bytes::from(v.to_string())
}

fn event(v: &Value) -> Bytes {
    Bytes::from(format!("data: {v}\n\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(s: &str) -> RequestBody {
        RequestBody::parse(Bytes::copy_from_slice(s.as_bytes()), Operation::Chat).unwrap()
    }

    #[test]
    fn stream_joins_to_the_text_and_ends_with_usage_and_done() {
        let b = body(
            r#"{"model":"m","messages":[],"stream":true,"stream_options":{"include_usage":true}}"#,
        );
        let MockAnswer::Stream(events) =
            answer(Operation::Chat, &b, "m", "Hello there friend", "x")
        else {
            panic!("expected a stream")
        };
        let mut text = String::new();
        let mut usage_seen = false;
        for e in &events[..events.len() - 1] {
            let v: Value = serde_json::from_slice(&e[6..e.len() - 2]).unwrap();
            if let Some(c) = v["choices"][0]["delta"]["content"].as_str() {
                text.push_str(c);
            }
            usage_seen |= v["usage"]["completion_tokens"] == 3;
        }
        assert_eq!(text, "Hello there friend");
        assert!(usage_seen);
        assert_eq!(&events.last().unwrap()[..], b"data: [DONE]\n\n");
    }

    #[test]
    fn whole_answer_carries_alias_and_text() {
        let MockAnswer::Whole(b) = answer(
            Operation::Chat,
            &body(r#"{"model":"m","messages":[]}"#),
            "alias",
            "hi",
            "x",
        ) else {
            panic!("expected a whole answer")
        };
        let v: Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v["model"], "alias");
        assert_eq!(v["choices"][0]["message"]["content"], "hi");
    }
}
