//! What the cache does for one call: decided before routing (`plan`), asked once (`lookup`),
//! fed the answer the client got (`on_whole`, `on_stream`), and told the call ended
//! (`finish`), which stores the answer in the background when it may.

use super::controls::CacheControls;
use super::embeddings::EmbeddingPlan;
use super::entry::{self, AnswerKind, CachedAnswer};
use super::key::CallKind;
use super::CacheBackend;
use crate::canonical::request::Operation;
use crate::canonical::{RequestBody, Usage};
use crate::config::cache::CacheSettings;
use bytes::{Bytes, BytesMut};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// An answer from the cache.
pub enum Hit {
    Whole {
        body: Bytes,
        usage: Option<Usage>,
    },
    /// SSE events, written one by one.
    Stream {
        events: Vec<Bytes>,
    },
}

pub struct CallCache {
    backend: Arc<dyn CacheBackend>,
    /// The request's key (`x-litellm-cache-key`).
    pub key: String,
    call: CallKind,
    controls: CacheControls,
    ttl: Option<Duration>,
    max_entry_bytes: usize,
    stream: bool,
    embedding: Option<EmbeddingPlan>,
    whole: Option<Bytes>,
    streamed: BytesMut,
    overflow: bool,
    entries: Vec<(String, CachedAnswer)>,
}

/// The cache's part in this call, or `None` when it has none (caching off, a call type not
/// cached, a longer conversation than `max_messages`, opt-in mode without opting in, a
/// request-level `mock_response`).
pub fn plan(
    backend: Option<&Arc<dyn CacheBackend>>,
    settings: &CacheSettings,
    op: Operation,
    anthropic: bool,
    client: &RequestBody,
    cache_control_header: Option<&str>,
) -> Option<CallCache> {
    let backend = backend?;
    let call = CallKind::of(op, anthropic);
    let cached = match call {
        CallKind::Chat => settings.calls.chat,
        CallKind::Completion => settings.calls.completion,
        CallKind::Embedding => settings.calls.embedding,
        CallKind::AnthropicMessages => settings.calls.anthropic,
    };
    // A request's own `mock_response` is an answer chosen by the caller, not the model's.
    if !settings.enabled || !cached || client.gateway.mock_response.is_some() {
        return None;
    }
    let controls = CacheControls::read(client.gateway.cache.as_ref(), cache_control_header);
    if settings.opt_in && !controls.use_cache {
        return None;
    }
    let body = client.to_value();
    let body = body.as_object()?;
    if let (Some(max), Some(Value::Array(messages))) = (settings.max_messages, body.get("messages"))
    {
        if messages.len() as u64 > max {
            return None;
        }
    }
    let namespace = controls
        .namespace
        .as_deref()
        .or_else(|| {
            client
                .gateway
                .metadata
                .as_ref()
                .and_then(|m| m.get("redis_namespace"))
                .and_then(Value::as_str)
        })
        .or(settings.namespace.as_deref());
    let key = super::key::cache_key(call, body, None, namespace);
    let embedding = match call {
        CallKind::Embedding => Some(EmbeddingPlan::new(body, namespace)?),
        _ => None,
    };
    let ttl = controls
        .ttl
        .or(settings.ttl)
        .map(crate::duration::from_secs);
    Some(CallCache {
        backend: Arc::clone(backend),
        key,
        call,
        ttl,
        max_entry_bytes: settings.max_entry_bytes as usize,
        stream: client.stream,
        embedding,
        controls,
        whole: None,
        streamed: BytesMut::new(),
        overflow: false,
        entries: Vec::new(),
    })
}

impl CallCache {
    /// The cached answer for `alias`, unless the request said `no-cache` or the entry is
    /// older than its `s-maxage`. For embeddings, notes which inputs are cached.
    pub async fn lookup(&mut self, alias: &str) -> Option<Hit> {
        if self.controls.no_cache {
            return None;
        }
        if let Some(plan) = &mut self.embedding {
            let found = self.backend.get_many(&plan.keys).await;
            plan.found(found, self.controls.max_age);
            if !plan.all_cached() {
                return None;
            }
            let body = Bytes::from(serde_json::to_vec(&plan.cached_answer(alias)?).ok()?);
            let usage = Usage::from_openai_body(&body);
            return Some(Hit::Whole { body, usage });
        }
        let found = self.backend.get(&self.key).await?;
        if !found.younger_than(self.controls.max_age, crate::store::now_ms()) {
            return None;
        }
        let prefix = match self.call {
            CallKind::Completion => "cmpl-",
            CallKind::AnthropicMessages => "msg_",
            _ => "chatcmpl-",
        };
        let id = entry::fresh_id(prefix);
        match (found.kind, self.stream) {
            (AnswerKind::Whole, false) => {
                let (body, _) = entry::whole_for(&found.body, alias, &id)?;
                let usage = Usage::from_openai_body(&body);
                Some(Hit::Whole { body, usage })
            }
            (AnswerKind::Stream, true) => Some(Hit::Stream {
                events: entry::stream_events_for(&found.body, alias, &id),
            }),
            _ => None,
        }
    }

    /// For an embeddings call with some inputs cached: the `input` to ask the provider for.
    pub fn missing_input(&self) -> Option<Value> {
        let plan = self.embedding.as_ref()?;
        plan.any_cached().then(|| plan.missing_input())
    }

    /// A whole answer on its way to the client: kept for storing; for embeddings, the cached
    /// inputs merged back in (the client gets the answer this returns).
    pub fn on_whole(&mut self, status: u16, body: Bytes) -> Bytes {
        if !(200..300).contains(&status) {
            return body;
        }
        if let Some(plan) = &self.embedding {
            return match plan.take_answer(&body) {
                Some((entries, merged)) => {
                    self.entries = entries;
                    match merged.and_then(|m| serde_json::to_vec(&m).ok()) {
                        Some(m) => Bytes::from(m),
                        None => body,
                    }
                }
                None => body,
            };
        }
        if body.len() <= self.max_entry_bytes {
            self.whole = Some(body.clone());
        }
        body
    }

    /// Bytes of a stream as the client got them.
    pub fn on_stream(&mut self, bytes: &[u8]) {
        if self.overflow {
            return;
        }
        if self.streamed.len() + bytes.len() > self.max_entry_bytes {
            self.overflow = true;
            self.streamed = BytesMut::new();
            return;
        }
        self.streamed.extend_from_slice(bytes);
    }

    /// The call ended with a whole answer sent (`success`): stores what it may. The client
    /// already has its answer; its next request on this connection comes after the store (a
    /// shared backend's writes are bounded by its timeout). A stream is stored only whole,
    /// through its end.
    pub async fn finish(self, success: bool) {
        if !success || self.controls.no_store {
            return;
        }
        let mut entries = self.entries;
        if let Some(body) = self.whole {
            entries.push((self.key.clone(), CachedAnswer::new(AnswerKind::Whole, body)));
        }
        let anthropic = self.call == CallKind::AnthropicMessages;
        if !self.overflow
            && !self.streamed.is_empty()
            && entry::ended_cleanly(&self.streamed, anthropic)
        {
            let body = self.streamed.freeze();
            entries.push((self.key, CachedAnswer::new(AnswerKind::Stream, body)));
        }
        if entries.is_empty() {
            return;
        }
        for (key, answer) in entries {
            self.backend.put(&key, answer, self.ttl).await;
        }
    }
}
