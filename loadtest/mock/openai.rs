//! OpenAI-compatible routes: chat completions, legacy completions,
//! embeddings and models, on any path prefix (`/v1`, Azure deployments,
//! Cloudflare accounts, none at all).

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method};
use serde_json::{json, Map, Value};

use crate::logic::{self, Behaviour};
use crate::markers;
use crate::reply::{self, Ctx, Resp, APPLICATION_JSON, EVENT_STREAM};
use crate::stream::sse;

const DEFAULT_MODEL: &str = "mock-model";
const MODELS_JSON: &[u8] =
    br#"{"object":"list","data":[{"id":"mock-model","object":"model","created":0,"owned_by":"mock"}]}"#;
const DONE_EVENT: &[u8] = b"data: [DONE]\n\n";
const TOOL_CALL_ID: &str = "call_mock_1";

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Route {
    Chat,
    Completions,
    Embeddings,
    Models,
}

/// Routes by path suffix so any provider prefix works.
pub fn route_of(method: &Method, path: &str) -> Option<Route> {
    match *method {
        Method::POST if path.ends_with("/chat/completions") => Some(Route::Chat),
        Method::POST if path.ends_with("/completions") => Some(Route::Completions),
        Method::POST if path.ends_with("/embeddings") => Some(Route::Embeddings),
        Method::GET if path.ends_with("/models") => Some(Route::Models),
        _ => None,
    }
}

pub async fn handle(ctx: &Ctx<'_>, route: Route) -> Resp {
    let empty = Map::new();
    let body = match (route, ctx.json) {
        (Route::Models, _) => &empty,
        (_, Some(Value::Object(body))) => body,
        (_, Some(_)) => {
            let msg = "request body must be a JSON object";
            return error_response(ctx.n, 400, &invalid_request(msg), &[]);
        }
        (_, None) => {
            let msg = "We could not parse the JSON body of your request.";
            return error_response(ctx.n, 400, &invalid_request(msg), &[]);
        }
    };

    let model = body.get("model").and_then(Value::as_str);
    let user_text = match route {
        Route::Chat => markers::last_user_text(body.get("messages"), "content", &["tool"]),
        _ => None,
    };
    let behaviour = match logic::parse_behaviour(
        body.get("mock"),
        ctx.header("x-mock-status"),
        ctx.header("x-mock-delay-ms"),
        model,
        user_text.as_deref(),
    ) {
        Ok(b) => b,
        Err(msg) => return error_response(ctx.n, 400, &invalid_request(&msg), &[]),
    };
    if let Some(resp) = reply::faults(ctx, &behaviour).await {
        return resp;
    }
    let status = behaviour.status.unwrap_or(200);
    if status >= 400 {
        let body = behaviour.error_body.clone().unwrap_or_else(|| {
            let message = format!("mock error {status}");
            json!({"error": {"message": message, "type": "mock_error", "param": null, "code": status.to_string()}})
        });
        return error_response(ctx.n, status, &body, &behaviour.headers);
    }

    let answer = Answer {
        n: ctx.n,
        status,
        model: model.unwrap_or(DEFAULT_MODEL),
        created: now(),
        body,
        behaviour: &behaviour,
        azure: ctx.parts.uri.path().contains("/openai/deployments/"),
    };
    match route {
        Route::Chat => answer.completion(true),
        Route::Completions => answer.completion(false),
        Route::Embeddings => answer.embeddings(),
        Route::Models => answer.bytes(APPLICATION_JSON, Bytes::from_static(MODELS_JSON)),
    }
}

/// A whole chat completion for an OpenAI chat body (SageMaker endpoints
/// that speak the messages API answer this too).
pub fn chat_completion(n: u64, body: &Map<String, Value>, behaviour: &Behaviour) -> Value {
    let answer = Answer {
        n,
        status: 200,
        model: body
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or(DEFAULT_MODEL),
        created: now(),
        body,
        behaviour,
        azure: false,
    };
    answer.whole(true)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The function a chat request forces: `tool_choice: "required"` (the first
/// tool) or `{"type": "function", "function": {"name"}}`.
fn forced_tool(body: &Map<String, Value>) -> Option<String> {
    let first = || {
        let tools = body.get("tools")?.as_array()?;
        tools.first()?["function"]["name"]
            .as_str()
            .map(str::to_string)
    };
    match body.get("tool_choice")? {
        Value::String(s) if s == "required" => first(),
        Value::Object(choice) => choice
            .get("function")
            .and_then(|f| f.get("name"))
            .and_then(Value::as_str)
            .map(str::to_string),
        _ => None,
    }
}

/// What a successful answer is built from.
struct Answer<'a> {
    n: u64,
    status: u16,
    model: &'a str,
    created: u64,
    body: &'a Map<String, Value>,
    behaviour: &'a Behaviour,
    /// An Azure deployment path: streams open with Azure's content-filter chunk.
    azure: bool,
}

impl Answer<'_> {
    fn usage(&self, completion_tokens: Option<u64>) -> Value {
        if let Some(usage) = &self.behaviour.usage {
            return usage.clone();
        }
        let prompt = logic::prompt_tokens(self.body);
        let (prompt, completion_tokens) = match self.behaviour.usage_tokens {
            Some((p, c)) => (p, completion_tokens.map(|_| c)),
            None => (prompt, completion_tokens),
        };
        match completion_tokens {
            Some(c) => {
                json!({"prompt_tokens": prompt, "completion_tokens": c, "total_tokens": prompt + c})
            }
            None => json!({"prompt_tokens": prompt, "total_tokens": prompt}),
        }
    }

    fn bytes(&self, content_type: &'static str, bytes: Bytes) -> Resp {
        let mut resp = reply::plain(self.status, content_type, bytes);
        provider_headers(&mut resp, self.n, &self.behaviour.headers);
        resp
    }

    fn json(&self, value: &Value) -> Resp {
        self.bytes(
            APPLICATION_JSON,
            Bytes::from(serde_json::to_vec(value).unwrap_or_default()),
        )
    }

    /// A chat completion (`chat`) or a legacy text completion, whole or streamed.
    /// What a completion says: the tool it calls (chat only), its text,
    /// usage, id and finish reason.
    fn content(
        &self,
        chat: bool,
        reply: String,
    ) -> (Option<String>, String, Value, String, &'static str) {
        let tool = chat
            .then(|| {
                self.behaviour
                    .tool
                    .clone()
                    .or_else(|| forced_tool(self.body))
            })
            .flatten();
        let completion_tokens = match tool {
            Some(_) => logic::completion_tokens(logic::TOOL_ARGS),
            None => logic::completion_tokens(&reply),
        };
        let usage = self.usage(Some(completion_tokens));
        let id = format!("{}-mock-{}", if chat { "chatcmpl" } else { "cmpl" }, self.n);
        let finish = if tool.is_some() { "tool_calls" } else { "stop" };
        (tool, reply, usage, id, finish)
    }

    /// A whole chat completion (`chat`) or legacy text completion.
    fn whole(&self, chat: bool) -> Value {
        let reply = logic::reply_text(self.behaviour);
        let (tool, reply, usage, id, finish) = self.content(chat, reply);
        let (model, created) = (self.model, self.created);
        if chat {
            let message = match &tool {
                Some(name) => json!({"role": "assistant", "content": null, "tool_calls": [
                    {"id": TOOL_CALL_ID, "type": "function",
                     "function": {"name": name, "arguments": logic::TOOL_ARGS}}]}),
                None => json!({"role": "assistant", "content": reply}),
            };
            json!({"id": id, "object": "chat.completion", "created": created, "model": model,
                "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
                "usage": usage, "system_fingerprint": "fp_mock"})
        } else {
            json!({"id": id, "object": "text_completion", "created": created, "model": model,
                "choices": [{"text": reply, "index": 0, "logprobs": null, "finish_reason": "stop"}],
                "usage": usage})
        }
    }

    /// A chat completion (`chat`) or a legacy text completion, whole or streamed.
    fn completion(&self, chat: bool) -> Resp {
        if self.body.get("stream").and_then(Value::as_bool) != Some(true) {
            return self.json(&self.whole(chat));
        }
        // A `chunk_bytes` stream repeats one piece: its whole text is never built.
        let sized = logic::sized_piece(self.behaviour);
        let reply = sized
            .clone()
            .unwrap_or_else(|| logic::reply_text(self.behaviour));
        let (tool, reply, usage, id, finish) = self.content(chat, reply);
        let (model, created) = (self.model, self.created);

        let chunk = |choices: Value| {
            if chat {
                json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
                    "system_fingerprint": "fp_mock", "choices": choices})
            } else {
                json!({"id": id, "object": "text_completion", "created": created, "model": model,
                    "choices": choices})
            }
        };
        let piece = |text: &str, finish: Value| {
            if chat {
                let delta = match (&tool, finish.is_null()) {
                    (_, false) => json!({}),
                    (Some(_), true) => {
                        json!({"tool_calls": [{"index": 0, "function": {"arguments": text}}]})
                    }
                    (None, true) => json!({"content": text}),
                };
                json!([{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}])
            } else {
                json!([{"text": text, "index": 0, "logprobs": null, "finish_reason": finish}])
            }
        };

        let pieces = match (&tool, &sized) {
            (Some(_), _) => reply::tool_arg_pieces(self.behaviour),
            (None, Some(piece)) => vec![piece.as_str(); self.behaviour.chunks.unwrap_or(1)],
            (None, None) => logic::stream_pieces(&reply, self.behaviour.chunks),
        };
        let mut events = Vec::with_capacity(pieces.len() + 5);
        if self.azure && chat {
            // Azure's first event: no id, no choices, the prompt's content-filter results.
            events.push(sse(&json!({
                "id": "", "object": "", "created": 0, "model": "", "choices": [],
                "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {
                    "hate": {"filtered": false, "severity": "safe"}}}],
            })));
        }
        if chat {
            let delta = match &tool {
                Some(name) => json!({"role": "assistant", "content": null, "tool_calls": [
                    {"index": 0, "id": TOOL_CALL_ID, "type": "function",
                     "function": {"name": name, "arguments": ""}}]}),
                None => json!({"role": "assistant", "content": ""}),
            };
            events.push(sse(&chunk(
                json!([{"index": 0, "delta": delta, "logprobs": null, "finish_reason": null}]),
            )));
        }
        let before_content = events.len();
        // A repeated piece is serialized once and its event shared.
        let mut last: Option<(&str, Bytes)> = None;
        for p in &pieces {
            let event = match &last {
                Some((prev, event)) if std::ptr::eq(*prev, *p) => event.clone(),
                _ => sse(&chunk(piece(p, Value::Null))),
            };
            last = Some((p, event.clone()));
            events.push(event);
        }
        events.push(sse(&chunk(piece("", json!(finish)))));
        let include_usage = self
            .body
            .get("stream_options")
            .and_then(|o| o.get("include_usage"))
            .and_then(Value::as_bool)
            == Some(true);
        if include_usage {
            let mut last = chunk(json!([]));
            last["usage"] = usage;
            events.push(sse(&last));
        }
        events.push(Bytes::from_static(DONE_EVENT));

        let mut resp = reply::events(
            EVENT_STREAM,
            events,
            before_content,
            pieces.len(),
            self.behaviour,
        );
        provider_headers(&mut resp, self.n, &self.behaviour.headers);
        resp
    }

    fn embeddings(&self) -> Resp {
        let headers = &self.behaviour.headers;
        let inputs = match self.body.get("input").map(logic::embedding_inputs) {
            Some(Ok(inputs)) => inputs,
            Some(Err(msg)) => return error_response(self.n, 400, &invalid_request(&msg), headers),
            None => {
                let msg = "'input' is a required property";
                return error_response(self.n, 400, &invalid_request(msg), headers);
            }
        };
        let base64 = self.body.get("encoding_format").and_then(Value::as_str) == Some("base64");
        let data: Vec<Value> = inputs
            .iter()
            .enumerate()
            .map(|(index, input)| {
                let v = logic::embedding_vector(input);
                let embedding = if base64 {
                    json!(logic::embedding_base64(&v))
                } else {
                    json!(v)
                };
                json!({"object": "embedding", "index": index, "embedding": embedding})
            })
            .collect();
        self.json(&json!({"object": "list", "data": data, "model": self.model, "usage": self.usage(None)}))
    }
}

pub fn invalid_request(message: &str) -> Value {
    json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": null}})
}

pub fn not_found(method: &Method, path: &str) -> Value {
    let message = format!("Invalid URL ({method} {path})");
    json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": "not_found"}})
}

pub fn error_response(
    n: u64,
    status: u16,
    body: &Value,
    extra: &[(HeaderName, HeaderValue)],
) -> Resp {
    let mut resp = reply::json(status, body);
    provider_headers(&mut resp, n, extra);
    resp
}

/// The rate-limit and request-id headers every OpenAI answer carries, then
/// the `mock.headers` overrides.
fn provider_headers(resp: &mut Resp, n: u64, extra: &[(HeaderName, HeaderValue)]) {
    for (name, value) in [
        ("x-ratelimit-limit-requests", "10000"),
        ("x-ratelimit-remaining-requests", "9999"),
        ("x-ratelimit-limit-tokens", "1000000"),
        ("x-ratelimit-remaining-tokens", "999000"),
    ] {
        resp.headers_mut()
            .insert(name, HeaderValue::from_static(value));
    }
    reply::set(resp, "x-request-id", &format!("mock-{n}"));
    reply::extend(resp, extra);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_any_prefix() {
        let post = |p: &str| route_of(&Method::POST, p);
        assert_eq!(post("/v1/chat/completions"), Some(Route::Chat));
        assert_eq!(
            post("/openai/deployments/d/chat/completions"),
            Some(Route::Chat)
        );
        assert_eq!(post("/v1/completions"), Some(Route::Completions));
        assert_eq!(post("/embeddings"), Some(Route::Embeddings));
        assert_eq!(post("/v1/models"), None);
        assert_eq!(route_of(&Method::GET, "/v1/models"), Some(Route::Models));
        assert_eq!(route_of(&Method::GET, "/v1/chat/completions"), None);
    }

    #[test]
    fn forced_tools() {
        let body = |v: Value| v.as_object().cloned().unwrap_or_default();
        let tools = json!([{"type": "function", "function": {"name": "get_weather"}}]);
        assert_eq!(
            forced_tool(&body(json!({"tools": tools, "tool_choice": "required"}))).as_deref(),
            Some("get_weather")
        );
        assert_eq!(
            forced_tool(&body(
                json!({"tool_choice": {"type": "function", "function": {"name": "f"}}})
            ))
            .as_deref(),
            Some("f")
        );
        assert_eq!(
            forced_tool(&body(json!({"tools": tools, "tool_choice": "auto"}))),
            None
        );
    }

    #[test]
    fn usage_marker_sets_the_counts() {
        let b = Behaviour {
            usage_tokens: Some((123, 45)),
            ..Default::default()
        };
        let body = json!({"messages": [{"role": "user", "content": "hi"}]});
        let v = chat_completion(1, body.as_object().unwrap(), &b);
        assert_eq!(
            v["usage"],
            json!({"prompt_tokens": 123, "completion_tokens": 45, "total_tokens": 168})
        );
    }
}
