//! Anthropic Messages API: `POST .../v1/messages` (whole or streamed),
//! `POST .../v1/messages/count_tokens`, and the same bodies for Claude on
//! Vertex AI (`:rawPredict` / `:streamRawPredict`) and on Bedrock
//! (`InvokeModel`), whose request names the model in the path and carries
//! `anthropic_version` in the body instead.

use bytes::Bytes;
use serde_json::{json, Map, Value};

use crate::logic::{self, Behaviour};
use crate::markers;
use crate::reply::{self, Ctx, Resp, EVENT_STREAM};
use crate::stream::named_sse;
use crate::{gemini, google_oauth};

pub const TOOL_USE_ID: &str = "toolu_mock_1";

/// Where a Messages request came in: it decides the auth check.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Via {
    /// api.anthropic.com: `x-api-key` and `anthropic-version` headers.
    Direct,
    /// Vertex AI: a bearer token from the mock's token endpoint.
    Vertex,
}

/// What one answer says.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub id: String,
    pub model: String,
    /// The text, or `None` for a tool call.
    pub text: Option<String>,
    pub tool: Option<String>,
    pub stop_reason: &'static str,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// `mock.usage` replaces the computed usage.
    pub usage: Option<Value>,
}

impl Reply {
    /// The reply a request asks for under behaviour `b`.
    pub fn build(n: u64, model: &str, body: &Map<String, Value>, b: &Behaviour) -> Reply {
        let tool = b.tool.clone().or_else(|| forced_tool(body));
        let max = body.get("max_tokens").and_then(Value::as_u64);
        let (text, cut) = reply::reply_within(b, max);
        let (stop_reason, output_tokens) = match &tool {
            Some(_) => ("tool_use", logic::completion_tokens(logic::TOOL_ARGS)),
            None if cut => ("max_tokens", logic::completion_tokens(&text)),
            None => ("end_turn", logic::completion_tokens(&text)),
        };
        let (input_tokens, output_tokens) = b.usage_tokens.unwrap_or((
            reply::text_tokens(&Value::Object(body.clone())),
            output_tokens,
        ));
        Reply {
            id: format!("msg_mock_{n}"),
            model: model.to_string(),
            text: tool.is_none().then_some(text),
            tool,
            stop_reason,
            input_tokens,
            output_tokens,
            usage: b.usage.clone(),
        }
    }

    fn usage(&self) -> Value {
        self.usage.clone().unwrap_or_else(|| {
            json!({"input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
                "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0})
        })
    }

    /// The non-streamed Message object.
    pub fn message(&self) -> Value {
        let block = match (&self.tool, &self.text) {
            (Some(name), _) => {
                let input: Value = serde_json::from_str(logic::TOOL_ARGS).unwrap_or_default();
                json!({"type": "tool_use", "id": TOOL_USE_ID, "name": name, "input": input})
            }
            (None, text) => json!({"type": "text", "text": text}),
        };
        json!({"id": self.id, "type": "message", "role": "assistant", "model": self.model,
            "content": [block], "stop_reason": self.stop_reason, "stop_sequence": null,
            "usage": self.usage()})
    }

    /// The stream events (each has its name in `type`) and the index of the
    /// first content delta; `ping` adds the ping Anthropic sends after the
    /// first block starts (Bedrock's stream has none).
    pub fn events(&self, pieces: &[&str], ping: bool) -> (Vec<Value>, usize) {
        let mut start = self.message();
        start["content"] = json!([]);
        start["stop_reason"] = Value::Null;
        start["usage"]["output_tokens"] = json!(1);
        let block = match &self.tool {
            Some(name) => json!({"type": "tool_use", "id": TOOL_USE_ID, "name": name, "input": {}}),
            None => json!({"type": "text", "text": ""}),
        };
        let mut events = vec![
            json!({"type": "message_start", "message": start}),
            json!({"type": "content_block_start", "index": 0, "content_block": block}),
        ];
        if ping {
            events.push(json!({"type": "ping"}));
        }
        let first_content = events.len();
        for piece in pieces {
            let delta = match self.tool {
                Some(_) => json!({"type": "input_json_delta", "partial_json": piece}),
                None => json!({"type": "text_delta", "text": piece}),
            };
            events.push(json!({"type": "content_block_delta", "index": 0, "delta": delta}));
        }
        let output_tokens = match &self.usage {
            Some(u) => u
                .get("output_tokens")
                .cloned()
                .unwrap_or(json!(self.output_tokens)),
            None => json!(self.output_tokens),
        };
        events.extend([
            json!({"type": "content_block_stop", "index": 0}),
            json!({"type": "message_delta",
                "delta": {"stop_reason": self.stop_reason, "stop_sequence": null},
                "usage": {"output_tokens": output_tokens}}),
            json!({"type": "message_stop"}),
        ]);
        (events, first_content)
    }
}

/// The stream pieces of a reply: text pieces, or tool-input JSON fragments.
pub fn pieces<'a>(r: &'a Reply, b: &Behaviour) -> Vec<&'a str> {
    match &r.text {
        Some(text) => logic::stream_pieces(text, b.chunks),
        None => reply::tool_arg_pieces(b),
    }
}

/// The tool a request forces: `tool_choice` `{"type": "any"}` (the first
/// tool) or `{"type": "tool", "name"}`.
fn forced_tool(body: &Map<String, Value>) -> Option<String> {
    let choice = body.get("tool_choice")?;
    match choice.get("type")?.as_str()? {
        "tool" => choice.get("name")?.as_str().map(str::to_string),
        "any" => body.get("tools")?.as_array()?.first()?["name"]
            .as_str()
            .map(str::to_string),
        _ => None,
    }
}

/// The last user message's text (tool results add none).
pub fn user_text(body: &Map<String, Value>) -> Option<String> {
    markers::last_user_text(body.get("messages"), "content", &[])
}

/// The Anthropic error type of a status.
pub fn error_type(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        504 => "timeout_error",
        529 => "overloaded_error",
        s if s >= 500 => "api_error",
        _ => "invalid_request_error",
    }
}

/// An Anthropic error: `{"type": "error", "error": {type, message},
/// "request_id"}`, with the `request-id` header.
pub fn error(ctx: &Ctx<'_>, status: u16, message: &str) -> Resp {
    let request_id = format!("req_mock_{}", ctx.n);
    let body = json!({"type": "error", "error": {"type": error_type(status), "message": message},
        "request_id": request_id});
    let mut resp = reply::json(status, &body);
    reply::set(&mut resp, "request-id", &request_id);
    resp
}

fn check_headers(ctx: &Ctx<'_>, via: Via) -> Result<(), Resp> {
    match via {
        Via::Direct => {
            if ctx.header("x-api-key").map_or(true, str::is_empty) {
                return Err(error(ctx, 401, "x-api-key header is required"));
            }
            if ctx.header("anthropic-version").map_or(true, str::is_empty) {
                return Err(error(ctx, 400, "anthropic-version: header is required"));
            }
        }
        Via::Vertex => {
            google_oauth::check_bearer(ctx).map_err(|msg| gemini::error(ctx, 401, &msg))?
        }
    }
    Ok(())
}

fn body_of<'a>(ctx: &Ctx<'a>) -> Result<&'a Map<String, Value>, Resp> {
    ctx.object()
        .ok_or_else(|| error(ctx, 400, "The request body is not valid JSON."))
}

/// `POST .../v1/messages`, or Vertex `:rawPredict` (`path_model` set,
/// `stream_route` for `:streamRawPredict`).
pub async fn messages(
    ctx: &Ctx<'_>,
    via: Via,
    path_model: Option<&str>,
    stream_route: bool,
) -> Resp {
    if let Err(resp) = check_headers(ctx, via) {
        return resp;
    }
    let body = match body_of(ctx) {
        Ok(body) => body,
        Err(resp) => return resp,
    };
    if via == Via::Vertex && body.get("anthropic_version").is_none() {
        return error(ctx, 400, "anthropic_version: Field required");
    }
    let model = path_model.or_else(|| body.get("model").and_then(Value::as_str));
    let Some(model) = model else {
        return error(ctx, 400, "model: Field required");
    };
    let text = user_text(body);
    let b = match reply::behaviour(ctx, body, Some(model), text.as_deref(), error).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let r = Reply::build(ctx.n, model, body, &b);
    let streamed = stream_route || body.get("stream").and_then(Value::as_bool) == Some(true);
    let mut resp = if streamed {
        let pieces = pieces(&r, &b);
        let (events, first) = r.events(&pieces, true);
        let events: Vec<Bytes> = events
            .iter()
            .map(|e| named_sse(e["type"].as_str().unwrap_or_default(), e))
            .collect();
        reply::events(EVENT_STREAM, events, first, pieces.len(), &b)
    } else {
        reply::ok_json(&b, &r.message())
    };
    reply::set(&mut resp, "request-id", &format!("req_mock_{}", ctx.n));
    resp
}

/// `POST .../v1/messages/count_tokens`: `{"input_tokens": N}`.
pub async fn count_tokens(ctx: &Ctx<'_>) -> Resp {
    if let Err(resp) = check_headers(ctx, Via::Direct) {
        return resp;
    }
    let body = match body_of(ctx) {
        Ok(body) => body,
        Err(resp) => return resp,
    };
    let model = body.get("model").and_then(Value::as_str);
    let text = user_text(body);
    let b = match reply::behaviour(ctx, body, model, text.as_deref(), error).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let tokens = reply::text_tokens(&Value::Object(body.clone()));
    reply::ok_json(&b, &json!({"input_tokens": tokens}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn message_has_the_documented_fields() {
        let body = obj(json!({"model": "claude-x", "max_tokens": 100,
            "messages": [{"role": "user", "content": "Hello there, model"}]}));
        let r = Reply::build(7, "claude-x", &body, &Behaviour::default());
        let m = r.message();
        assert_eq!(m["id"], "msg_mock_7");
        assert_eq!(m["type"], "message");
        assert_eq!(m["role"], "assistant");
        assert_eq!(m["model"], "claude-x");
        assert_eq!(
            m["content"],
            json!([{"type": "text", "text": logic::DEFAULT_REPLY}])
        );
        assert_eq!(m["stop_reason"], "end_turn");
        assert_eq!(m["stop_sequence"], Value::Null);
        assert_eq!(
            m["usage"],
            json!({"input_tokens": 4, "output_tokens": 5,
                "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0})
        );
    }

    #[test]
    fn tool_use_from_marker_or_tool_choice() {
        let tools = json!([{"name": "lookup", "input_schema": {"type": "object"}}]);
        let body = obj(json!({"tools": tools, "tool_choice": {"type": "any"}}));
        let r = Reply::build(1, "m", &body, &Behaviour::default());
        let m = r.message();
        assert_eq!(m["stop_reason"], "tool_use");
        assert_eq!(
            m["content"][0],
            json!({"type": "tool_use", "id": "toolu_mock_1", "name": "lookup",
                "input": {"location": "Paris"}})
        );
        let body = obj(json!({"tool_choice": {"type": "tool", "name": "named"}}));
        assert_eq!(
            Reply::build(1, "m", &body, &Behaviour::default())
                .tool
                .as_deref(),
            Some("named")
        );
        let b = Behaviour {
            tool: Some("get_weather".into()),
            ..Default::default()
        };
        assert_eq!(
            Reply::build(1, "m", &obj(json!({})), &b).tool.as_deref(),
            Some("get_weather")
        );
        let body = obj(json!({"tools": tools, "tool_choice": {"type": "auto"}}));
        assert_eq!(
            Reply::build(1, "m", &body, &Behaviour::default()).tool,
            None
        );
    }

    #[test]
    fn max_tokens_cuts_the_reply() {
        let body = obj(json!({"max_tokens": 2}));
        let r = Reply::build(1, "m", &body, &Behaviour::default());
        assert_eq!(
            (r.text.as_deref(), r.stop_reason),
            (Some("Hello from"), "max_tokens")
        );
        assert_eq!(r.output_tokens, 2);
    }

    #[test]
    fn stream_events_in_order() {
        let r = Reply::build(1, "m", &obj(json!({})), &Behaviour::default());
        let pieces = pieces(&r, &Behaviour::default());
        let (events, first) = r.events(&pieces, true);
        let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(
            types,
            [
                "message_start",
                "content_block_start",
                "ping",
                "content_block_delta",
                "content_block_delta",
                "content_block_delta",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        assert_eq!(first, 3);
        assert_eq!(events[0]["message"]["content"], json!([]));
        assert_eq!(events[0]["message"]["stop_reason"], Value::Null);
        assert_eq!(
            events[3]["delta"],
            json!({"type": "text_delta", "text": "Hello "})
        );
        assert_eq!(events[9]["delta"]["stop_reason"], "end_turn");
        assert_eq!(events[9]["usage"]["output_tokens"], 5);
        let sse = named_sse("ping", &events[2]);
        assert_eq!(&sse[..], b"event: ping\ndata: {\"type\":\"ping\"}\n\n");

        let b = Behaviour {
            tool: Some("f".into()),
            chunks: Some(2),
            ..Default::default()
        };
        let r = Reply::build(1, "m", &obj(json!({})), &b);
        let pieces = super::pieces(&r, &b);
        let (events, first) = r.events(&pieces, false);
        assert_eq!(first, 2);
        assert_eq!(events[1]["content_block"]["type"], "tool_use");
        let json: String = events[2..4]
            .iter()
            .map(|e| e["delta"]["partial_json"].as_str().unwrap())
            .collect();
        assert_eq!(json, logic::TOOL_ARGS);
        assert_eq!(events[2]["delta"]["type"], "input_json_delta");
    }

    #[test]
    fn error_types_follow_the_status() {
        assert_eq!(error_type(429), "rate_limit_error");
        assert_eq!(error_type(529), "overloaded_error");
        assert_eq!(error_type(500), "api_error");
        assert_eq!(error_type(400), "invalid_request_error");
        assert_eq!(error_type(422), "invalid_request_error");
    }

    #[test]
    fn usage_marker_sets_the_counts_whole_and_streamed() {
        let b = Behaviour {
            usage_tokens: Some((123, 45)),
            ..Default::default()
        };
        let r = Reply::build(1, "claude-x", &Map::new(), &b);
        assert_eq!(r.message()["usage"]["input_tokens"], 123);
        assert_eq!(r.message()["usage"]["output_tokens"], 45);
        let (events, _) = r.events(&["a", "b"], true);
        assert_eq!(events[0]["message"]["usage"]["input_tokens"], 123);
        let delta = events
            .iter()
            .find(|e| e["type"] == "message_delta")
            .unwrap();
        assert_eq!(delta["usage"]["output_tokens"], 45);
    }
}
