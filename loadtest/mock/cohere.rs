//! Cohere API v2: `POST .../v2/chat` (whole, or streamed as named SSE
//! events) and `POST .../v2/embed`, behind `authorization: Bearer <key>`.

use bytes::Bytes;
use serde_json::{json, Map, Value};

use crate::logic::{self, Behaviour};
use crate::markers;
use crate::reply::{self, Ctx, Resp, EVENT_STREAM};
use crate::stream::named_sse;

pub const TOOL_CALL_ID: &str = "get_weather_mock_1";

/// A Cohere error: `{"id", "message"}`.
pub fn error(ctx: &Ctx<'_>, status: u16, message: &str) -> Resp {
    reply::json(
        status,
        &json!({"id": format!("mock-error-{}", ctx.n), "message": message}),
    )
}

fn check_auth(ctx: &Ctx<'_>) -> Result<(), Resp> {
    let token = ctx.header("authorization").and_then(|a| {
        let (scheme, token) = a.split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then_some(token.trim())
    });
    match token {
        Some(t) if !t.is_empty() => Ok(()),
        _ => Err(error(ctx, 401, "no api key supplied")),
    }
}

/// `tool_choice: "REQUIRED"` forces the first tool.
fn forced_tool(body: &Map<String, Value>) -> Option<String> {
    if body.get("tool_choice")?.as_str()? != "REQUIRED" {
        return None;
    }
    body.get("tools")?.as_array()?.first()?["function"]["name"]
        .as_str()
        .map(str::to_string)
}

/// What one chat answer says.
pub struct Chat {
    pub id: String,
    pub text: String,
    pub tool: Option<String>,
    pub finish: &'static str,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub usage: Option<Value>,
}

impl Chat {
    pub fn build(n: u64, body: &Map<String, Value>, b: &Behaviour) -> Chat {
        let max = body.get("max_tokens").and_then(Value::as_u64);
        let tool = b.tool.clone().or_else(|| forced_tool(body));
        let (text, cut) = reply::reply_within(b, max);
        let (finish, output_tokens) = match &tool {
            Some(_) => ("TOOL_CALL", logic::completion_tokens(logic::TOOL_ARGS)),
            None => (
                if cut { "MAX_TOKENS" } else { "COMPLETE" },
                logic::completion_tokens(&text),
            ),
        };
        let (input_tokens, output_tokens) = b.usage_tokens.unwrap_or((
            reply::text_tokens(&Value::Object(body.clone())),
            output_tokens,
        ));
        Chat {
            id: format!("mock-chat-{n}"),
            text,
            tool,
            finish,
            input_tokens,
            output_tokens,
            usage: b.usage.clone(),
        }
    }

    fn usage(&self) -> Value {
        self.usage.clone().unwrap_or_else(|| {
            let tokens =
                json!({"input_tokens": self.input_tokens, "output_tokens": self.output_tokens});
            json!({"billed_units": tokens, "tokens": tokens})
        })
    }

    fn tool_plan(name: &str) -> String {
        format!("I will call {name}.")
    }

    pub fn response(&self) -> Value {
        let message = match &self.tool {
            Some(name) => json!({"role": "assistant", "tool_plan": Self::tool_plan(name),
                "tool_calls": [{"id": TOOL_CALL_ID, "type": "function",
                    "function": {"name": name, "arguments": logic::TOOL_ARGS}}]}),
            None => json!({"role": "assistant", "content": [{"type": "text", "text": self.text}]}),
        };
        json!({"id": self.id, "finish_reason": self.finish, "message": message, "usage": self.usage()})
    }

    /// The stream events (each names itself in `type`), the index of the
    /// first content delta and the number of deltas.
    pub fn events(&self, b: &Behaviour) -> (Vec<Value>, usize, usize) {
        let mut events = vec![
            json!({"id": self.id, "type": "message-start", "delta": {"message":
            {"role": "assistant", "content": [], "tool_plan": "", "tool_calls": [], "citations": []}}}),
        ];
        let (pieces, end) = match &self.tool {
            Some(name) => {
                events.push(json!({"type": "tool-plan-delta",
                    "delta": {"message": {"tool_plan": Self::tool_plan(name)}}}));
                events.push(
                    json!({"type": "tool-call-start", "index": 0, "delta": {"message":
                    {"tool_calls": {"id": TOOL_CALL_ID, "type": "function",
                        "function": {"name": name, "arguments": ""}}}}}),
                );
                (
                    reply::tool_arg_pieces(b),
                    json!({"type": "tool-call-end", "index": 0}),
                )
            }
            None => {
                events.push(json!({"type": "content-start", "index": 0,
                    "delta": {"message": {"content": {"type": "text", "text": ""}}}}));
                (
                    logic::stream_pieces(&self.text, b.chunks),
                    json!({"type": "content-end", "index": 0}),
                )
            }
        };
        let first = events.len();
        for piece in &pieces {
            events.push(match self.tool {
                Some(_) => json!({"type": "tool-call-delta", "index": 0,
                    "delta": {"message": {"tool_calls": {"function": {"arguments": piece}}}}}),
                None => json!({"type": "content-delta", "index": 0,
                    "delta": {"message": {"content": {"text": piece}}}}),
            });
        }
        events.push(end);
        events.push(json!({"type": "message-end",
            "delta": {"finish_reason": self.finish, "usage": self.usage()}}));
        (events, first, pieces.len())
    }
}

pub async fn chat(ctx: &Ctx<'_>) -> Resp {
    if let Err(resp) = check_auth(ctx) {
        return resp;
    }
    let Some(body) = ctx.object() else {
        return error(ctx, 400, "invalid request: the body is not a JSON object");
    };
    let model = body.get("model").and_then(Value::as_str);
    if model.is_none() {
        return error(ctx, 400, "invalid request: model must be specified");
    }
    let text = markers::last_user_text(body.get("messages"), "content", &["tool"]);
    let b = match reply::behaviour(ctx, body, model, text.as_deref(), error).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let c = Chat::build(ctx.n, body, &b);
    if body.get("stream").and_then(Value::as_bool) != Some(true) {
        return reply::ok_json(&b, &c.response());
    }
    let (events, first, count) = c.events(&b);
    let events: Vec<Bytes> = events
        .iter()
        .map(|e| named_sse(e["type"].as_str().unwrap_or_default(), e))
        .collect();
    reply::events(EVENT_STREAM, events, first, count, &b)
}

/// The v2 embed answer for `texts`, as `embeddings_by_type` with `float`.
pub fn embed_response(n: u64, texts: &[&str]) -> Value {
    let vectors: Vec<_> = texts
        .iter()
        .map(|t| logic::embedding_vector(t.as_bytes()))
        .collect();
    let tokens = reply::text_tokens(&json!({"texts": texts}));
    json!({"id": format!("mock-embed-{n}"), "embeddings": {"float": vectors}, "texts": texts,
        "meta": {"api_version": {"version": "2"}, "billed_units": {"input_tokens": tokens}},
        "response_type": "embeddings_by_type"})
}

pub async fn embed(ctx: &Ctx<'_>) -> Resp {
    if let Err(resp) = check_auth(ctx) {
        return resp;
    }
    let Some(body) = ctx.object() else {
        return error(ctx, 400, "invalid request: the body is not a JSON object");
    };
    let texts: Vec<&str> = match body.get("texts").and_then(Value::as_array) {
        Some(texts) if !texts.is_empty() => texts.iter().filter_map(Value::as_str).collect(),
        _ => {
            return error(
                ctx,
                400,
                "invalid request: texts must be a non-empty list of strings",
            )
        }
    };
    let model = body.get("model").and_then(Value::as_str);
    let b = match reply::behaviour(ctx, body, model, texts.last().copied(), error).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    reply::ok_json(&b, &embed_response(ctx.n, &texts))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn chat_response_fields() {
        let body = obj(
            json!({"model": "command-r", "messages": [{"role": "user", "content": "Hello mock!"}]}),
        );
        let v = Chat::build(4, &body, &Behaviour::default()).response();
        assert_eq!(
            v,
            json!({"id": "mock-chat-4", "finish_reason": "COMPLETE",
                "message": {"role": "assistant", "content": [{"type": "text", "text": logic::DEFAULT_REPLY}]},
                "usage": {"billed_units": {"input_tokens": 2, "output_tokens": 5},
                    "tokens": {"input_tokens": 2, "output_tokens": 5}}})
        );
        let body = obj(
            json!({"tools": [{"type": "function", "function": {"name": "lookup"}}],
            "tool_choice": "REQUIRED"}),
        );
        let v = Chat::build(1, &body, &Behaviour::default()).response();
        assert_eq!(v["finish_reason"], "TOOL_CALL");
        assert_eq!(
            v["message"]["tool_calls"],
            json!([{"id": TOOL_CALL_ID, "type": "function",
                "function": {"name": "lookup", "arguments": "{\"location\":\"Paris\"}"}}])
        );
    }

    #[test]
    fn stream_events() {
        let b = Behaviour::default();
        let (events, first, count) = Chat::build(1, &obj(json!({})), &b).events(&b);
        let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(
            types[..3],
            ["message-start", "content-start", "content-delta"]
        );
        assert_eq!(types[types.len() - 2..], ["content-end", "message-end"]);
        assert_eq!((first, count), (2, 5));
        assert_eq!(events[2]["delta"]["message"]["content"]["text"], "Hello ");
        assert_eq!(events.last().unwrap()["delta"]["finish_reason"], "COMPLETE");
        let sse = named_sse("content-end", &events[events.len() - 2]);
        assert!(sse.starts_with(b"event: content-end\ndata: {") && sse.ends_with(b"}\n\n"));

        let b = Behaviour {
            tool: Some("get_weather".into()),
            ..Default::default()
        };
        let (events, first, count) = Chat::build(1, &obj(json!({})), &b).events(&b);
        let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(
            types,
            [
                "message-start",
                "tool-plan-delta",
                "tool-call-start",
                "tool-call-delta",
                "tool-call-delta",
                "tool-call-delta",
                "tool-call-end",
                "message-end"
            ]
        );
        assert_eq!((first, count), (3, 3));
        assert_eq!(
            events[2]["delta"]["message"]["tool_calls"]["function"]["name"],
            "get_weather"
        );
        assert_eq!(events[7]["delta"]["finish_reason"], "TOOL_CALL");
    }

    #[test]
    fn embed_fields() {
        let v = embed_response(2, &["hello", "world"]);
        assert_eq!(v["embeddings"]["float"].as_array().unwrap().len(), 2);
        assert_eq!(v["texts"], json!(["hello", "world"]));
        assert_eq!(v["meta"]["billed_units"]["input_tokens"], 2);
        assert_eq!(v["response_type"], "embeddings_by_type");
    }

    #[test]
    fn usage_marker_sets_the_counts_whole_and_streamed() {
        let b = Behaviour {
            usage_tokens: Some((123, 45)),
            ..Default::default()
        };
        let chat = Chat::build(1, &obj(json!({})), &b);
        let want = json!({"input_tokens": 123, "output_tokens": 45});
        assert_eq!(chat.response()["usage"]["tokens"], want);
        let (events, _, _) = chat.events(&b);
        assert_eq!(events.last().unwrap()["delta"]["usage"]["tokens"], want);
    }
}
