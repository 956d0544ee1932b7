//! OpenAI's legacy `/completions` API (`text-completion-openai/`). Completion and embedding
//! requests pass through; chat requests become a prompt, and the text answers become chat
//! messages again, streamed or not.

use super::openai::{OpenAi, PassthroughStream};
use super::{Call, Provider, ProviderRequest, StreamTranslator};
use crate::canonical::request::Operation;
use crate::canonical::sse::{event_data, EventSplitter};
use crate::error::GatewayError;
use crate::router::Deployment;
use bytes::{Bytes, BytesMut};
use http::{HeaderName, HeaderValue};
use serde_json::{json, Map, Value};

pub struct TextCompletion;

/// Chat-only params the completions API rejects.
const CHAT_ONLY: &[&str] = &[
    "messages",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
    "functions",
    "function_call",
    "modalities",
    "audio",
];

impl Provider for TextCompletion {
    fn static_headers(&self, d: &Deployment) -> Result<Vec<(HeaderName, HeaderValue)>, String> {
        OpenAi.static_headers(d)
    }

    fn build_request(&self, call: &Call<'_>) -> Result<ProviderRequest, GatewayError> {
        if call.op != Operation::Chat {
            return OpenAi.build_request(call);
        }
        let endpoint = call.deployment.endpoint()?;
        Ok(ProviderRequest {
            path_and_query: endpoint.path_for(Operation::Completion.path(), None),
            headers: call.deployment.headers.clone(),
            body: Bytes::from(chat_to_completion(
                &call.body.to_value(),
                call.upstream_model,
            )?),
        })
    }

    fn translate_response(&self, call: &Call<'_>, body: Bytes) -> Result<Bytes, GatewayError> {
        if call.op != Operation::Chat {
            return OpenAi.translate_response(call, body);
        }
        let v: Value = serde_json::from_slice(&body).map_err(|e| {
            GatewayError::new(
                502,
                "api_error",
                format!("invalid completion from provider: {e}"),
            )
        })?;
        Ok(Bytes::from(
            completion_to_chat(&v, call.alias, false).to_string(),
        ))
    }

    fn stream_translator(&self, call: &Call<'_>) -> Box<dyn StreamTranslator> {
        if call.op != Operation::Chat {
            return Box::new(PassthroughStream::new(call.alias));
        }
        Box::new(CompletionToChatStream::new(call.alias))
    }
}

pub fn chat_to_completion(chat: &Value, model: &str) -> Result<Vec<u8>, GatewayError> {
    let obj = chat.as_object().cloned().unwrap_or_default();
    let messages = obj
        .get("messages")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut prompt = String::new();
    for m in &messages {
        let text = message_text(m.get("content").unwrap_or(&Value::Null));
        if !prompt.is_empty() {
            prompt.push('\n');
        }
        prompt.push_str(&text);
    }
    let mut out: Map<String, Value> = obj
        .into_iter()
        .filter(|(k, _)| !CHAT_ONLY.contains(&k.as_str()))
        .collect();
    out.insert("model".into(), Value::String(model.to_string()));
    out.insert("prompt".into(), Value::String(prompt));
    serde_json::to_vec(&out).map_err(|e| GatewayError::internal(e.to_string()))
}

/// A message's text: a string, or the text parts of a content list.
fn message_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

fn completion_to_chat(v: &Value, alias: &str, chunk: bool) -> Value {
    let choices: Vec<Value> = v
        .get("choices")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .map(|c| {
                    let text = c.get("text").and_then(Value::as_str).unwrap_or("");
                    let mut out = json!({
                        "index": c.get("index").cloned().unwrap_or(json!(0)),
                        "finish_reason": c.get("finish_reason").cloned().unwrap_or(Value::Null),
                    });
                    let key = if chunk { "delta" } else { "message" };
                    out[key] = json!({"role": "assistant", "content": text});
                    out
                })
                .collect()
        })
        .unwrap_or_default();
    let mut out = json!({
        "id": v.get("id").cloned().unwrap_or(Value::Null),
        "object": if chunk { "chat.completion.chunk" } else { "chat.completion" },
        "created": v.get("created").cloned().unwrap_or(json!(0)),
        "model": alias,
        "choices": choices,
    });
    if let Some(u) = v.get("usage").filter(|u| !u.is_null()) {
        out["usage"] = u.clone();
    }
    out
}

/// A `/completions` stream as `chat.completion.chunk` events.
pub struct CompletionToChatStream {
    splitter: EventSplitter,
    alias: String,
    done: bool,
}

impl CompletionToChatStream {
    pub fn new(alias: &str) -> Self {
        CompletionToChatStream {
            splitter: EventSplitter::default(),
            alias: alias.to_string(),
            done: false,
        }
    }

    fn emit(&mut self, event: &[u8], out: &mut BytesMut) {
        if self.done {
            return;
        }
        let Some(data) = event_data(event) else {
            return;
        };
        if data.trim_ascii() == b"[DONE]" {
            self.done = true;
            out.extend_from_slice(b"data: [DONE]\n\n");
            return;
        }
        if let Ok(v) = serde_json::from_slice::<Value>(&data) {
            out.extend_from_slice(b"data: ");
            out.extend_from_slice(
                completion_to_chat(&v, &self.alias, true)
                    .to_string()
                    .as_bytes(),
            );
            out.extend_from_slice(b"\n\n");
        }
    }
}

impl StreamTranslator for CompletionToChatStream {
    fn feed(&mut self, chunk: &[u8], out: &mut BytesMut) {
        self.splitter.push(chunk);
        while let Some(e) = self.splitter.next_event() {
            self.emit(&e, out);
        }
    }

    fn finish(&mut self, out: &mut BytesMut) {
        if self.splitter.overflowed() {
            return;
        }
        if let Some(rest) = self.splitter.take_rest() {
            self.emit(&rest, out);
        }
        if !self.done {
            out.extend_from_slice(b"data: [DONE]\n\n");
        }
    }

    fn failure(&mut self) -> Option<GatewayError> {
        self.splitter.failure()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_becomes_a_prompt_without_chat_only_params() {
        let chat = json!({"model":"a","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"Hi"}]}],"tools":[],"max_tokens":5});
        let out: Value =
            serde_json::from_slice(&chat_to_completion(&chat, "gpt-3.5-turbo-instruct").unwrap())
                .unwrap();
        assert_eq!(out["prompt"], "Be brief.\nHi");
        assert_eq!(out["model"], "gpt-3.5-turbo-instruct");
        assert_eq!(out["max_tokens"], 5);
        assert!(out.get("messages").is_none() && out.get("tools").is_none());
    }

    #[test]
    fn text_answer_becomes_a_chat_message() {
        let v = json!({"id":"cmpl-1","created":1,"choices":[{"text":"Hello","index":0,"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}});
        let c = completion_to_chat(&v, "alias", false);
        assert_eq!(c["object"], "chat.completion");
        assert_eq!(c["model"], "alias");
        assert_eq!(c["choices"][0]["message"]["content"], "Hello");
        assert_eq!(c["usage"]["total_tokens"], 2);
    }
}
