//! Amazon Bedrock runtime (`/model/{modelId}/converse`, `/converse-stream`,
//! `/invoke`, `/invoke-with-response-stream`), behind the SigV4 shape check
//! of `aws.rs`. Streams are AWS event stream frames (`eventstream.rs`).

use std::time::Instant;

use bytes::Bytes;
use serde_json::{json, Map, Value};

use crate::anthropic;
use crate::aws::{self, request_id, sigv4};
use crate::encoding;
use crate::eventstream;
use crate::logic::{self, Behaviour};
use crate::markers;
use crate::reply::{self, Ctx, Resp};

pub const EVENTSTREAM: &str = "application/vnd.amazon.eventstream";
pub const TOOL_USE_ID: &str = "tooluse_mock_1";
/// Real streams pad each event payload with a `p` field so that lengths do
/// not reveal the content; clients must ignore it.
const PADDING: &str = "abcdefghijkl";

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Action {
    Converse,
    ConverseStream,
    Invoke,
    InvokeStream,
}

pub fn action_of(name: &str) -> Option<Action> {
    Some(match name {
        "converse" => Action::Converse,
        "converse-stream" => Action::ConverseStream,
        "invoke" => Action::Invoke,
        "invoke-with-response-stream" => Action::InvokeStream,
        _ => return None,
    })
}

/// The function a Converse request forces: `toolConfig.toolChoice` `any`
/// (the first tool) or `tool.name`.
fn forced_tool(body: &Value) -> Option<String> {
    let config = body.get("toolConfig")?;
    let choice = config.get("toolChoice")?;
    if let Some(name) = choice.get("tool").and_then(|t| t.get("name")) {
        return name.as_str().map(str::to_string);
    }
    choice.get("any")?;
    config.get("tools")?.as_array()?.first()?["toolSpec"]["name"]
        .as_str()
        .map(str::to_string)
}

/// What one Converse answer says.
pub struct Converse {
    pub text: String,
    pub tool: Option<String>,
    pub stop_reason: &'static str,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub latency_ms: u64,
    pub usage: Option<Value>,
}

impl Converse {
    pub fn build(body: &Value, b: &Behaviour, latency_ms: u64) -> Converse {
        let max = body
            .pointer("/inferenceConfig/maxTokens")
            .and_then(Value::as_u64);
        let tool = b.tool.clone().or_else(|| forced_tool(body));
        let (text, cut) = reply::reply_within(b, max);
        let (stop_reason, output_tokens) = match &tool {
            Some(_) => ("tool_use", logic::completion_tokens(logic::TOOL_ARGS)),
            None => (
                if cut { "max_tokens" } else { "end_turn" },
                logic::completion_tokens(&text),
            ),
        };
        let (input_tokens, output_tokens) = b
            .usage_tokens
            .unwrap_or((reply::text_tokens(body), output_tokens));
        Converse {
            text,
            tool,
            stop_reason,
            input_tokens,
            output_tokens,
            latency_ms,
            usage: b.usage.clone(),
        }
    }

    fn usage(&self) -> Value {
        self.usage.clone().unwrap_or_else(|| {
            json!({"inputTokens": self.input_tokens, "outputTokens": self.output_tokens,
                "totalTokens": self.input_tokens + self.output_tokens})
        })
    }

    pub fn response(&self) -> Value {
        let block = match &self.tool {
            Some(name) => {
                let input: Value = serde_json::from_str(logic::TOOL_ARGS).unwrap_or_default();
                json!({"toolUse": {"toolUseId": TOOL_USE_ID, "name": name, "input": input}})
            }
            None => json!({"text": self.text}),
        };
        json!({"output": {"message": {"role": "assistant", "content": [block]}},
            "stopReason": self.stop_reason, "usage": self.usage(),
            "metrics": {"latencyMs": self.latency_ms}})
    }

    /// The stream's events as (event type, payload), and the index of the
    /// first content delta.
    pub fn events(&self, b: &Behaviour) -> (Vec<(&'static str, Value)>, usize, usize) {
        let mut events = vec![("messageStart", json!({"role": "assistant"}))];
        if let Some(name) = &self.tool {
            events.push((
                "contentBlockStart",
                json!({"contentBlockIndex": 0, "start": {"toolUse": {"toolUseId": TOOL_USE_ID, "name": name}}}),
            ));
        }
        let first = events.len();
        let pieces = match self.tool {
            Some(_) => reply::tool_arg_pieces(b),
            None => logic::stream_pieces(&self.text, b.chunks),
        };
        for piece in &pieces {
            let delta = match self.tool {
                Some(_) => json!({"toolUse": {"input": piece}}),
                None => json!({"text": piece}),
            };
            events.push((
                "contentBlockDelta",
                json!({"contentBlockIndex": 0, "delta": delta}),
            ));
        }
        events.extend([
            ("contentBlockStop", json!({"contentBlockIndex": 0})),
            ("messageStop", json!({"stopReason": self.stop_reason})),
            (
                "metadata",
                json!({"usage": self.usage(), "metrics": {"latencyMs": self.latency_ms}}),
            ),
        ]);
        (events, first, pieces.len())
    }
}

/// An event frame with the padding real streams carry.
fn padded_event(event_type: &str, mut payload: Value) -> Bytes {
    if let Some(obj) = payload.as_object_mut() {
        obj.insert("p".into(), json!(PADDING));
    }
    eventstream::event(event_type, &payload)
}

/// The last user text of a Converse or Claude-on-Bedrock body, or the
/// input of an embedding body.
fn user_text(body: &Value) -> Option<String> {
    if let Some(text) = body.get("inputText").and_then(Value::as_str) {
        return Some(text.to_string());
    }
    if let Some(texts) = body.get("texts").and_then(Value::as_array) {
        return texts.last().and_then(Value::as_str).map(str::to_string);
    }
    markers::last_user_text(body.get("messages"), "content", &[])
}

pub async fn handle(ctx: &Ctx<'_>, model: &str, action: Action) -> Resp {
    let started = Instant::now();
    if let Err(resp) = sigv4(ctx, "bedrock") {
        return resp;
    }
    let Some(body) = ctx.object() else {
        return aws::error(
            ctx,
            400,
            "Malformed input request, please reformat your input and try again.",
        );
    };
    let value = ctx.json.unwrap_or(&Value::Null);
    let text = user_text(value);
    let b = match reply::behaviour(ctx, body, Some(model), text.as_deref(), aws::error).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let latency = started.elapsed().as_millis() as u64;
    let mut resp = match action {
        Action::Converse => reply::ok_json(&b, &Converse::build(value, &b, latency).response()),
        Action::ConverseStream => {
            let (events, first, count) = Converse::build(value, &b, latency).events(&b);
            let frames = events
                .into_iter()
                .map(|(t, p)| padded_event(t, p))
                .collect();
            reply::events(EVENTSTREAM, frames, first, count, &b)
        }
        Action::Invoke => match invoke(ctx, model, body, &b, latency) {
            Ok(resp) => resp,
            Err(resp) => return resp,
        },
        Action::InvokeStream => {
            if body.get("anthropic_version").is_none() {
                return aws::error(
                    ctx,
                    400,
                    "The mock streams InvokeModel only for Anthropic models.",
                );
            }
            let r = anthropic::Reply::build(ctx.n, model, body, &b);
            let pieces = anthropic::pieces(&r, &b);
            let (mut events, first) = r.events(&pieces, false);
            if let Some(stop) = events.last_mut() {
                stop["amazon-bedrock-invocationMetrics"] = json!({"inputTokenCount": r.input_tokens,
                    "outputTokenCount": r.output_tokens, "invocationLatency": latency, "firstByteLatency": latency});
            }
            let frames = events
                .iter()
                .map(|e| {
                    padded_event(
                        "chunk",
                        json!({"bytes": encoding::base64(e.to_string().as_bytes())}),
                    )
                })
                .collect();
            let mut resp = reply::events(EVENTSTREAM, frames, first, pieces.len(), &b);
            reply::set(&mut resp, "x-amzn-bedrock-content-type", "application/json");
            resp
        }
    };
    reply::set(&mut resp, "x-amzn-requestid", &request_id(ctx.n));
    resp
}

/// InvokeModel: Titan or Cohere embeddings, or a Claude message, by the
/// body's shape.
fn invoke(
    ctx: &Ctx<'_>,
    model: &str,
    body: &Map<String, Value>,
    b: &Behaviour,
    latency: u64,
) -> Result<Resp, Resp> {
    let (value, input, output) = if let Some(text) = body.get("inputText").and_then(Value::as_str) {
        let tokens = reply::text_tokens(&json!({"text": text}));
        let embedding = logic::embedding_vector(text.as_bytes());
        (
            json!({"embedding": embedding, "inputTextTokenCount": tokens}),
            tokens,
            0,
        )
    } else if let Some(texts) = body.get("texts").and_then(Value::as_array) {
        let texts: Vec<&str> = texts.iter().filter_map(Value::as_str).collect();
        let vectors: Vec<_> = texts
            .iter()
            .map(|t| logic::embedding_vector(t.as_bytes()))
            .collect();
        let tokens = reply::text_tokens(&json!({"texts": texts}));
        let value = match body.get("embedding_types") {
            Some(_) => {
                json!({"embeddings": {"float": vectors}, "id": format!("mock-embed-{}", ctx.n),
                "response_type": "embeddings_by_type", "texts": texts})
            }
            None => json!({"embeddings": vectors, "id": format!("mock-embed-{}", ctx.n),
                "response_type": "embeddings_floats", "texts": texts}),
        };
        (value, tokens, 0)
    } else if body.contains_key("anthropic_version") {
        let r = anthropic::Reply::build(ctx.n, model, body, b);
        (r.message(), r.input_tokens, r.output_tokens)
    } else {
        let msg = "The mock's InvokeModel takes Titan ({inputText}) or Cohere ({texts}) embeddings or an Anthropic body.";
        return Err(aws::error(ctx, 400, msg));
    };
    let mut resp = reply::ok_json(b, &value);
    reply::set(
        &mut resp,
        "x-amzn-bedrock-input-token-count",
        &input.to_string(),
    );
    reply::set(
        &mut resp,
        "x-amzn-bedrock-output-token-count",
        &output.to_string(),
    );
    reply::set(
        &mut resp,
        "x-amzn-bedrock-invocation-latency",
        &latency.to_string(),
    );
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converse_response_fields() {
        let body = json!({"messages": [{"role": "user", "content": [{"text": "Hello mock!"}]}]});
        let v = Converse::build(&body, &Behaviour::default(), 12).response();
        assert_eq!(
            v,
            json!({"output": {"message": {"role": "assistant", "content": [{"text": logic::DEFAULT_REPLY}]}},
                "stopReason": "end_turn", "usage": {"inputTokens": 2, "outputTokens": 5, "totalTokens": 7},
                "metrics": {"latencyMs": 12}})
        );
        let body = json!({"toolConfig": {"tools": [{"toolSpec": {"name": "get_weather"}}], "toolChoice": {"any": {}}}});
        let v = Converse::build(&body, &Behaviour::default(), 0).response();
        assert_eq!(v["stopReason"], "tool_use");
        assert_eq!(
            v["output"]["message"]["content"][0],
            json!({"toolUse": {"toolUseId": TOOL_USE_ID, "name": "get_weather", "input": {"location": "Paris"}}})
        );
        let body = json!({"inferenceConfig": {"maxTokens": 3}});
        assert_eq!(
            Converse::build(&body, &Behaviour::default(), 0).response()["stopReason"],
            "max_tokens"
        );
    }

    #[test]
    fn converse_stream_decodes() {
        let b = Behaviour {
            chunks: Some(2),
            ..Default::default()
        };
        let (events, first, count) = Converse::build(&json!({}), &b, 5).events(&b);
        assert_eq!((first, count), (1, 2));
        let mut wire = Vec::new();
        for (t, p) in events {
            wire.extend_from_slice(&padded_event(t, p));
        }
        let decoded = eventstream::decode_all(&wire).unwrap();
        let types: Vec<&str> = decoded.iter().map(|(h, _)| h[0].1.as_str()).collect();
        assert_eq!(
            types,
            [
                "messageStart",
                "contentBlockDelta",
                "contentBlockDelta",
                "contentBlockStop",
                "messageStop",
                "metadata"
            ]
        );
        let payloads: Vec<Value> = decoded
            .iter()
            .map(|(_, p)| serde_json::from_slice(p).unwrap())
            .collect();
        assert_eq!(payloads[0], json!({"role": "assistant", "p": PADDING}));
        let text: String = payloads[1..3]
            .iter()
            .map(|p| p["delta"]["text"].as_str().unwrap())
            .collect();
        assert_eq!(text, logic::DEFAULT_REPLY);
        assert_eq!(payloads[4]["stopReason"], "end_turn");
        assert_eq!(payloads[5]["usage"]["outputTokens"], 5);
        assert_eq!(payloads[5]["metrics"], json!({"latencyMs": 5}));
        assert!(decoded.iter().all(|(h, _)| h[1]
            == (":content-type".into(), "application/json".into())
            && h[2] == (":message-type".into(), "event".into())));

        let b = Behaviour {
            tool: Some("f".into()),
            ..Default::default()
        };
        let (events, first, count) = Converse::build(&json!({}), &b, 0).events(&b);
        assert_eq!((first, count), (2, 3));
        assert_eq!(
            events[1].1["start"]["toolUse"],
            json!({"toolUseId": TOOL_USE_ID, "name": "f"})
        );
        let input: String = events[2..5]
            .iter()
            .map(|(_, p)| p["delta"]["toolUse"]["input"].as_str().unwrap())
            .collect();
        assert_eq!(input, logic::TOOL_ARGS);
    }

    #[test]
    fn actions() {
        assert_eq!(action_of("converse-stream"), Some(Action::ConverseStream));
        assert_eq!(
            action_of("invoke-with-response-stream"),
            Some(Action::InvokeStream)
        );
        assert_eq!(action_of("converse-streams"), None);
    }

    #[test]
    fn usage_marker_sets_the_counts_whole_and_streamed() {
        let b = Behaviour {
            usage_tokens: Some((123, 45)),
            ..Default::default()
        };
        let c = Converse::build(&json!({}), &b, 0);
        let want = json!({"inputTokens": 123, "outputTokens": 45, "totalTokens": 168});
        assert_eq!(c.response()["usage"], want);
        let (events, _, _) = c.events(&b);
        assert_eq!(events.last().unwrap().1["usage"], want);
    }
}
