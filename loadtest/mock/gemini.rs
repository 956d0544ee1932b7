//! Google Gemini, on AI Studio (`/v1beta/models/{model}:{method}`, key in
//! `x-goog-api-key` or `?key=`) and on Vertex AI
//! (`/v1/projects/{p}/locations/{l}/publishers/google/models/{model}:{method}`,
//! a bearer token from the mock's token endpoint): `generateContent`,
//! `streamGenerateContent` (`?alt=sse`: SSE events ending `\r\n\r\n`;
//! without it, one JSON array sent piece by piece), `countTokens`,
//! `embedContent`, `batchEmbedContents` and Vertex's `predict` (embeddings).

use bytes::Bytes;
use serde_json::{json, Value};

use crate::google_oauth;
use crate::logic::{self, Behaviour};
use crate::markers;
use crate::reply::{self, Ctx, Resp, APPLICATION_JSON, EVENT_STREAM};
use crate::stream::sse_crlf;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Method {
    Generate,
    StreamGenerate,
    CountTokens,
    EmbedContent,
    BatchEmbed,
    Predict,
}

pub fn method_of(name: &str) -> Option<Method> {
    Some(match name {
        "generateContent" => Method::Generate,
        "streamGenerateContent" => Method::StreamGenerate,
        "countTokens" => Method::CountTokens,
        "embedContent" => Method::EmbedContent,
        "batchEmbedContents" => Method::BatchEmbed,
        "predict" => Method::Predict,
        _ => return None,
    })
}

/// The `google.rpc.Code` name Google puts in `error.status` for a status.
pub fn status_name(status: u16) -> &'static str {
    match status {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        501 => "UNIMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        s if s >= 500 => "INTERNAL",
        _ => "FAILED_PRECONDITION",
    }
}

/// A Google API error: `{"error": {code, message, status}}`.
pub fn error(_ctx: &Ctx<'_>, status: u16, message: &str) -> Resp {
    let body =
        json!({"error": {"code": status, "message": message, "status": status_name(status)}});
    reply::json(status, &body)
}

/// A field by its proto JSON name or its original snake_case name (Google
/// accepts both).
fn get<'a>(v: &'a Value, camel: &str, snake: &str) -> Option<&'a Value> {
    v.get(camel).or_else(|| v.get(snake))
}

/// The function a request forces: `toolConfig.functionCallingConfig.mode:
/// ANY`, calling the first allowed function or else the first declared.
fn forced_tool(body: &Value) -> Option<String> {
    let config = get(
        get(body, "toolConfig", "tool_config")?,
        "functionCallingConfig",
        "function_calling_config",
    )?;
    if config.get("mode")?.as_str()? != "ANY" {
        return None;
    }
    let allowed = get(config, "allowedFunctionNames", "allowed_function_names")
        .and_then(|a| a.get(0))
        .and_then(Value::as_str);
    let declared = || {
        body.get("tools")?.as_array()?.iter().find_map(|t| {
            get(t, "functionDeclarations", "function_declarations")?.get(0)?["name"].as_str()
        })
    };
    allowed.or_else(declared).map(str::to_string)
}

/// What one generateContent answer says.
#[derive(Debug, Clone)]
pub struct Reply {
    pub text: String,
    pub tool: Option<String>,
    pub finish: &'static str,
    pub prompt_tokens: u64,
    pub model: String,
    pub response_id: String,
    pub usage: Option<Value>,
    /// The `usage` marker's completion count, reported in place of the counted one.
    pub completion_tokens: Option<u64>,
}

impl Reply {
    pub fn build(n: u64, model: &str, body: &Value, b: &Behaviour) -> Reply {
        let max = get(body, "generationConfig", "generation_config")
            .and_then(|c| get(c, "maxOutputTokens", "max_output_tokens"))
            .and_then(Value::as_u64);
        let tool = b.tool.clone().or_else(|| forced_tool(body));
        let (text, cut) = reply::reply_within(b, max);
        Reply {
            finish: if cut && tool.is_none() {
                "MAX_TOKENS"
            } else {
                "STOP"
            },
            text,
            tool,
            prompt_tokens: b
                .usage_tokens
                .map_or_else(|| reply::text_tokens(body), |(p, _)| p),
            model: model.to_string(),
            response_id: format!("mock-response-{n}"),
            usage: b.usage.clone(),
            completion_tokens: b.usage_tokens.map(|(_, c)| c),
        }
    }

    fn output_tokens(&self) -> u64 {
        match self.tool {
            Some(_) => logic::completion_tokens(logic::TOOL_ARGS),
            None => logic::completion_tokens(&self.text),
        }
    }

    fn usage(&self, output: u64) -> Value {
        // With the marker every chunk reports the final counts (usage is cumulative).
        let output = self.completion_tokens.unwrap_or(output);
        self.usage.clone().unwrap_or_else(|| {
            json!({"promptTokenCount": self.prompt_tokens, "candidatesTokenCount": output,
                "totalTokenCount": self.prompt_tokens + output})
        })
    }

    /// One GenerateContentResponse with `part`, finished when `finish`.
    fn response_with(&self, part: Value, finish: bool, output: u64) -> Value {
        let mut candidate = json!({"content": {"parts": [part], "role": "model"}, "index": 0});
        if finish {
            candidate["finishReason"] = json!(self.finish);
        }
        json!({"candidates": [candidate], "usageMetadata": self.usage(output),
            "modelVersion": self.model, "responseId": self.response_id})
    }

    fn tool_part(name: &str) -> Value {
        let args: Value = serde_json::from_str(logic::TOOL_ARGS).unwrap_or_default();
        json!({"functionCall": {"name": name, "args": args}})
    }

    /// The whole answer.
    pub fn response(&self) -> Value {
        let part = match &self.tool {
            Some(name) => Self::tool_part(name),
            None => json!({"text": self.text}),
        };
        self.response_with(part, true, self.output_tokens())
    }

    /// The streamed answer: one response per text piece (the last carries
    /// `finishReason`; usage is cumulative), or one with the whole call.
    pub fn chunks(&self, b: &Behaviour) -> Vec<Value> {
        if let Some(name) = &self.tool {
            return vec![self.response_with(Self::tool_part(name), true, self.output_tokens())];
        }
        let mut pieces = logic::stream_pieces(&self.text, b.chunks);
        if pieces.is_empty() {
            pieces.push("");
        }
        let last = pieces.len() - 1;
        let mut sent = String::new();
        pieces
            .iter()
            .enumerate()
            .map(|(i, piece)| {
                sent.push_str(piece);
                let output = logic::completion_tokens(&sent);
                self.response_with(json!({"text": piece}), i == last, output)
            })
            .collect()
    }
}

fn check_auth(ctx: &Ctx<'_>, vertex: bool) -> Result<(), Resp> {
    if vertex {
        return google_oauth::check_bearer(ctx).map_err(|msg| error(ctx, 401, &msg));
    }
    let key = ctx
        .header("x-goog-api-key")
        .map(str::to_string)
        .or_else(|| ctx.query("key"));
    match key {
        Some(k) if !k.trim().is_empty() => Ok(()),
        _ => Err(error(
            ctx,
            401,
            "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
        )),
    }
}

/// The texts an embedding request embeds.
fn embed_texts(body: &Value, method: Method) -> Vec<String> {
    let parts_text =
        |content: &Value| markers::content_text(content.get("parts").unwrap_or(&Value::Null));
    let list = |key: &str| {
        body.get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    match method {
        Method::EmbedContent => vec![parts_text(body.get("content").unwrap_or(&Value::Null))],
        Method::BatchEmbed => list("requests")
            .iter()
            .map(|r| parts_text(r.get("content").unwrap_or(&Value::Null)))
            .collect(),
        _ => list("instances")
            .iter()
            .map(|i| markers::content_text(i.get("content").unwrap_or(&Value::Null)))
            .collect(),
    }
}

pub async fn handle(ctx: &Ctx<'_>, model: &str, method: Method, vertex: bool) -> Resp {
    if let Err(resp) = check_auth(ctx, vertex) {
        return resp;
    }
    let Some(body) = ctx.object() else {
        return error(
            ctx,
            400,
            "Invalid JSON payload received. Expected an object.",
        );
    };
    let value = ctx.json.unwrap_or(&Value::Null);
    let embedding = matches!(
        method,
        Method::EmbedContent | Method::BatchEmbed | Method::Predict
    );
    let texts = if embedding {
        embed_texts(value, method)
    } else {
        Vec::new()
    };
    let user_text = match embedding {
        true => texts.last().cloned(),
        false => markers::last_user_text(body.get("contents"), "parts", &["function"]),
    };
    let b = match reply::behaviour(ctx, body, Some(model), user_text.as_deref(), error).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    match method {
        Method::Generate => reply::ok_json(&b, &Reply::build(ctx.n, model, value, &b).response()),
        Method::StreamGenerate => {
            let chunks = Reply::build(ctx.n, model, value, &b).chunks(&b);
            let count = chunks.len();
            if ctx.query("alt").as_deref() == Some("sse") {
                let events = chunks.iter().map(sse_crlf).collect();
                return reply::events(EVENT_STREAM, events, 0, count, &b);
            }
            // A JSON array, one element per piece: "[{..}", ",\r\n{..}", "]".
            let mut events: Vec<Bytes> = chunks
                .iter()
                .enumerate()
                .map(|(i, c)| Bytes::from(format!("{}{c}", if i == 0 { "[" } else { ",\r\n" })))
                .collect();
            events.push(Bytes::from_static(b"]"));
            reply::events(APPLICATION_JSON, events, 0, count, &b)
        }
        Method::CountTokens => {
            let tokens = reply::text_tokens(value);
            reply::ok_json(&b, &json!({"totalTokens": tokens}))
        }
        Method::EmbedContent | Method::BatchEmbed | Method::Predict => {
            if texts.is_empty() {
                return error(
                    ctx,
                    400,
                    "* BatchEmbedContentsRequest.requests: at least one request is required",
                );
            }
            reply::ok_json(&b, &embeddings(method, &texts))
        }
    }
}

/// The embeddings answer of each method.
pub fn embeddings(method: Method, texts: &[String]) -> Value {
    let vector = |t: &String| json!(logic::embedding_vector(t.as_bytes()));
    match method {
        Method::EmbedContent => json!({"embedding": {"values": vector(&texts[0])}}),
        Method::BatchEmbed => {
            let list: Vec<Value> = texts.iter().map(|t| json!({"values": vector(t)})).collect();
            json!({"embeddings": list})
        }
        _ => {
            let list: Vec<Value> = texts
                .iter()
                .map(|t| {
                    let tokens = reply::text_tokens(&json!({"text": t}));
                    json!({"embeddings": {"values": vector(t),
                        "statistics": {"truncated": false, "token_count": tokens}}})
                })
                .collect();
            let chars: usize = texts
                .iter()
                .map(|t| t.chars().filter(|c| !c.is_whitespace()).count())
                .sum();
            json!({"predictions": list, "metadata": {"billableCharacterCount": chars}})
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_has_the_documented_fields() {
        let body = json!({"contents": [{"role": "user", "parts": [{"text": "Hello mock!"}]}]});
        let r = Reply::build(3, "gemini-2.0-flash", &body, &Behaviour::default());
        let v = r.response();
        assert_eq!(
            v["candidates"],
            json!([{"content": {"parts": [{"text": logic::DEFAULT_REPLY}], "role": "model"},
                "finishReason": "STOP", "index": 0}])
        );
        assert_eq!(
            v["usageMetadata"],
            json!({"promptTokenCount": 2, "candidatesTokenCount": 5, "totalTokenCount": 7})
        );
        assert_eq!(v["modelVersion"], "gemini-2.0-flash");
        assert_eq!(v["responseId"], "mock-response-3");
    }

    #[test]
    fn function_call_from_marker_or_mode_any() {
        let b = Behaviour {
            tool: Some("get_weather".into()),
            ..Default::default()
        };
        let v = Reply::build(1, "m", &json!({}), &b).response();
        assert_eq!(
            v["candidates"][0]["content"]["parts"][0],
            json!({"functionCall": {"name": "get_weather", "args": {"location": "Paris"}}})
        );
        assert_eq!(v["candidates"][0]["finishReason"], "STOP");
        let body = json!({"tools": [{"functionDeclarations": [{"name": "first"}, {"name": "second"}]}],
            "toolConfig": {"functionCallingConfig": {"mode": "ANY"}}});
        assert_eq!(forced_tool(&body).as_deref(), Some("first"));
        let body = json!({"tool_config": {"function_calling_config": {"mode": "ANY",
            "allowed_function_names": ["second"]}}});
        assert_eq!(forced_tool(&body).as_deref(), Some("second"));
        let body = json!({"toolConfig": {"functionCallingConfig": {"mode": "AUTO"}}});
        assert_eq!(forced_tool(&body), None);
    }

    #[test]
    fn stream_chunks_accumulate_and_finish_last() {
        let b = Behaviour {
            chunks: Some(3),
            ..Default::default()
        };
        let body = json!({"generationConfig": {"maxOutputTokens": 1}});
        let chunks = Reply::build(1, "m", &body, &b).chunks(&b);
        assert_eq!(chunks.len(), 3);
        assert!(chunks[0]["candidates"][0].get("finishReason").is_none());
        assert_eq!(chunks[2]["candidates"][0]["finishReason"], "STOP");
        let text: String = chunks
            .iter()
            .map(|c| {
                c["candidates"][0]["content"]["parts"][0]["text"]
                    .as_str()
                    .unwrap()
            })
            .collect();
        assert_eq!(text, logic::DEFAULT_REPLY);
        assert_eq!(chunks[2]["usageMetadata"]["candidatesTokenCount"], 5);
        let cut = Reply::build(1, "m", &body, &Behaviour::default());
        assert_eq!((cut.text.as_str(), cut.finish), ("Hello", "MAX_TOKENS"));
        let sse = sse_crlf(&json!({"a": 1}));
        assert_eq!(&sse[..], b"data: {\"a\":1}\r\n\r\n");
    }

    #[test]
    fn embeddings_of_each_method() {
        let texts = vec!["hello world".to_string()];
        let one = embeddings(Method::EmbedContent, &texts);
        assert_eq!(one["embedding"]["values"].as_array().unwrap().len(), 8);
        let batch = embeddings(Method::BatchEmbed, &texts);
        assert_eq!(batch["embeddings"][0]["values"], one["embedding"]["values"]);
        let predict = embeddings(Method::Predict, &texts);
        let p = &predict["predictions"][0]["embeddings"];
        assert_eq!(p["values"], one["embedding"]["values"]);
        assert_eq!(
            p["statistics"],
            json!({"truncated": false, "token_count": 2})
        );
        assert_eq!(predict["metadata"]["billableCharacterCount"], 10);
        let batch_body = json!({"requests": [{"model": "models/e", "content": {"parts": [{"text": "a"}]}},
            {"content": {"parts": [{"text": "b"}]}}]});
        assert_eq!(embed_texts(&batch_body, Method::BatchEmbed), ["a", "b"]);
        let predict_body = json!({"instances": [{"content": "x", "task_type": "RETRIEVAL_QUERY"}]});
        assert_eq!(embed_texts(&predict_body, Method::Predict), ["x"]);
    }

    #[test]
    fn status_names() {
        assert_eq!(status_name(429), "RESOURCE_EXHAUSTED");
        assert_eq!(status_name(401), "UNAUTHENTICATED");
        assert_eq!(status_name(503), "UNAVAILABLE");
        assert_eq!(status_name(502), "INTERNAL");
        assert_eq!(
            method_of("streamGenerateContent"),
            Some(Method::StreamGenerate)
        );
        assert_eq!(method_of("rawPredict"), None);
    }

    #[test]
    fn usage_marker_sets_the_counts_whole_and_streamed() {
        let b = Behaviour {
            usage_tokens: Some((123, 45)),
            chunks: Some(3),
            ..Default::default()
        };
        let r = Reply::build(1, "m", &json!({}), &b);
        let want = json!({"promptTokenCount": 123, "candidatesTokenCount": 45,
            "totalTokenCount": 168});
        assert_eq!(r.response()["usageMetadata"], want);
        assert_eq!(r.chunks(&b).last().unwrap()["usageMetadata"], want);
    }
}
