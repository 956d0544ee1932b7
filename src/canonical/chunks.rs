//! OpenAI `chat.completion.chunk` events, written the same way for every provider's stream.
//!
//! Whatever the upstream speaks, the client sees the same shape: every chunk carries the
//! stream's `id`, `object`, `created` and `model`; a choice's first chunk gives its `role`; a
//! choice finishes once; the usage chunk (when asked for with `include_usage`) comes last with
//! no choices; and `data: [DONE]` ends the stream exactly once, after which nothing is written.
//! The usage is kept whether or not the client asked for it: the gateway bills from it.
//! `ChunkWriter` keeps those rules so that the provider decoders only say what each upstream
//! event means.

use super::Usage;
use crate::error::GatewayError;
use bytes::BytesMut;
use serde_json::{json, Value};
use std::collections::BTreeSet;

pub struct ChunkWriter {
    id: String,
    /// The name the client asked for (the alias), not the upstream's model.
    model: String,
    created: u64,
    include_usage: bool,
    /// Choices whose first chunk (`delta.role`) has been written.
    started: BTreeSet<u64>,
    /// Choices whose `finish_reason` chunk has been written.
    finished: BTreeSet<u64>,
    /// `data: [DONE]` has been written; everything after is ignored.
    done: bool,
    /// The usage given to `close`, written to the client or not.
    usage: Option<Usage>,
}

impl ChunkWriter {
    pub fn new(model: &str, include_usage: bool, created: u64) -> Self {
        ChunkWriter {
            id: String::new(),
            model: model.to_string(),
            created,
            include_usage,
            started: BTreeSet::new(),
            finished: BTreeSet::new(),
            done: false,
            usage: None,
        }
    }

    /// The id every chunk carries from now on (upstreams name it in their first event).
    pub fn set_id(&mut self, id: impl Into<String>) {
        self.id = id.into();
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// `[DONE]` has been written: the upstream's later events mean nothing to the client.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The choice's role chunk, unless it was already written.
    pub fn start(&mut self, choice: u64, out: &mut BytesMut) {
        if self.done || !self.started.insert(choice) {
            return;
        }
        let chunk = self.chunk(choice, json!({"role": "assistant", "content": ""}), None);
        write_data(&chunk, out);
    }

    /// A chunk with `delta` for the choice, after its role chunk.
    pub fn delta(&mut self, choice: u64, delta: Value, out: &mut BytesMut) {
        if self.done {
            return;
        }
        self.start(choice, out);
        let chunk = self.chunk(choice, delta, None);
        write_data(&chunk, out);
    }

    /// A `{field: text}` delta (`content`, `reasoning_content`); empty text is not worth one.
    pub fn text(&mut self, choice: u64, field: &str, text: &str, out: &mut BytesMut) {
        if !text.is_empty() {
            self.delta(choice, json!({ field: text }), out);
        }
    }

    /// A tool call's first delta: its OpenAI `index` among the choice's calls, its id and name,
    /// and the arguments known so far (often none yet).
    pub fn tool_call_start(
        &mut self,
        choice: u64,
        call: usize,
        id: &str,
        name: &str,
        arguments: &str,
        out: &mut BytesMut,
    ) {
        let delta = json!({"tool_calls": [{
            "index": call,
            "id": id,
            "type": "function",
            "function": {"name": name, "arguments": arguments},
        }]});
        self.delta(choice, delta, out);
    }

    /// More of a tool call's arguments; an empty fragment is not worth a chunk.
    pub fn tool_call_arguments(
        &mut self,
        choice: u64,
        call: usize,
        fragment: &str,
        out: &mut BytesMut,
    ) {
        if fragment.is_empty() {
            return;
        }
        let delta = json!({"tool_calls": [{
            "index": call,
            "function": {"arguments": fragment},
        }]});
        self.delta(choice, delta, out);
    }

    /// The choice's `finish_reason` chunk, once: upstreams may repeat their stop signal.
    pub fn finish(&mut self, choice: u64, reason: &str, out: &mut BytesMut) {
        if self.done || self.finished.contains(&choice) {
            return;
        }
        self.start(choice, out);
        self.finished.insert(choice);
        let chunk = self.chunk(choice, json!({}), Some(reason));
        write_data(&chunk, out);
    }

    /// The end of the answer: the usage chunk if the client asked for it and `usage` has one,
    /// then `[DONE]`; once, however often the stream is closed. `usage` (OpenAI's object) is
    /// kept either way, for [`ChunkWriter::usage`].
    pub fn close(&mut self, usage: impl FnOnce() -> Option<Value>, out: &mut BytesMut) {
        if self.done {
            return;
        }
        let usage = usage();
        self.usage = usage.as_ref().and_then(Usage::from_openai);
        if let Some(usage) = usage.filter(|_| self.include_usage) {
            let chunk = json!({
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": [],
                "usage": usage,
            });
            write_data(&chunk, out);
        }
        self.write_done(out);
    }

    /// The usage the stream was closed with, once `close` has run.
    pub fn usage(&self) -> Option<Usage> {
        self.usage
    }

    /// An OpenAI-shaped error event, then `[DONE]`: the HTTP status was already 200, so this is
    /// the only way left to tell the client the answer failed.
    pub fn error(&mut self, error: &GatewayError, out: &mut BytesMut) {
        if self.done {
            return;
        }
        out.extend_from_slice(&error.to_sse_event());
        self.write_done(out);
    }

    fn write_done(&mut self, out: &mut BytesMut) {
        self.done = true;
        out.extend_from_slice(b"data: [DONE]\n\n");
    }

    fn chunk(&self, choice: u64, delta: Value, finish_reason: Option<&str>) -> Value {
        json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": choice, "delta": delta, "finish_reason": finish_reason}],
        })
    }
}

fn write_data(chunk: &Value, out: &mut BytesMut) {
    out.extend_from_slice(b"data: ");
    // Serializing a `Value` into a Vec cannot fail.
    out.extend_from_slice(&serde_json::to_vec(chunk).unwrap_or_default());
    out.extend_from_slice(b"\n\n");
}

/// The harness every provider's stream tests share: a translator must write the same output
/// however the upstream's bytes are cut into reads, and the output is read back the way an
/// OpenAI client would assemble it.
#[cfg(test)]
pub mod test_support {
    use crate::canonical::Usage;
    use crate::providers::StreamTranslator;
    use bytes::BytesMut;
    use serde_json::{json, Value};
    use std::fmt::Debug;

    /// Feeds `reads` to the translator one by one, then ends the stream: the output as text.
    pub fn translate(translator: &mut (impl StreamTranslator + ?Sized), reads: &[&[u8]]) -> String {
        let mut out = BytesMut::new();
        for read in reads {
            translator.feed(read, &mut out);
        }
        translator.finish(&mut out);
        String::from_utf8(out.to_vec()).expect("a translator writes UTF-8")
    }

    /// `bytes` cut into reads of `size` bytes (the last one shorter).
    pub fn pieces(bytes: &[u8], size: usize) -> Vec<&[u8]> {
        bytes.chunks(size).collect()
    }

    /// Runs `run` (a fresh translator over the given reads) on `bytes` whole, byte by byte and
    /// in 7-byte pieces, asserts the outputs agree once `normalize`d (to blank out what is fresh
    /// per stream, such as generated ids), and returns the output of the whole read.
    pub fn same_output_for_every_chunking<N: PartialEq + Debug>(
        bytes: &[u8],
        run: impl Fn(&[&[u8]]) -> String,
        normalize: impl Fn(&str) -> N,
    ) -> String {
        let whole = run(&[bytes]);
        let want = normalize(&whole);
        for size in [1, 7] {
            let got = normalize(&run(&pieces(bytes, size)));
            assert_eq!(got, want, "reads of {size} bytes");
        }
        whole
    }

    /// Runs a fresh translator (`make(include_usage)`) over `bytes` without and with
    /// `include_usage`: its `usage()` is `want` both times; without, no event has a `usage`
    /// member; with, exactly one chunk has a non-null one, the usage-only chunk, last before
    /// the one `[DONE]`.
    pub fn usage_either_way<T: StreamTranslator + ?Sized>(
        bytes: &[u8],
        make: impl Fn(bool) -> Box<T>,
        want: Usage,
    ) {
        for include_usage in [false, true] {
            let mut translator = make(include_usage);
            let out = translate(&mut *translator, &[bytes]);
            assert_eq!(
                translator.usage(),
                Some(want),
                "include_usage {include_usage}"
            );
            let events: Vec<&str> = out.split("\n\n").filter(|e| !e.is_empty()).collect();
            assert_eq!(events.last(), Some(&"data: [DONE]"), "{out}");
            let chunks: Vec<Value> = events[..events.len() - 1]
                .iter()
                .map(|e| serde_json::from_str(e.strip_prefix("data: ").unwrap()).unwrap())
                .collect();
            if !include_usage {
                assert!(chunks.iter().all(|c| c.get("usage").is_none()), "{out}");
                continue;
            }
            let with_usage: Vec<&Value> = chunks
                .iter()
                .filter(|c| c.get("usage").is_some_and(|u| !u.is_null()))
                .collect();
            assert_eq!(with_usage.len(), 1, "{out}");
            let last = chunks.last().unwrap();
            assert_eq!(with_usage[0], last, "{out}");
            assert_eq!(last["choices"], json!([]));
            assert_eq!(Usage::from_openai(&last["usage"]), Some(want));
        }
    }

    /// What an OpenAI client would assemble from a translator's output.
    #[derive(Debug, Default, PartialEq)]
    pub struct Decoded {
        pub chunks: Vec<Value>,
        pub content: String,
        pub reasoning: String,
        /// `(id, name, arguments)` per tool-call index.
        pub tool_calls: Vec<(String, String, String)>,
        pub finish_reasons: Vec<String>,
        pub usage: Option<Value>,
        pub errors: Vec<Value>,
        pub dones: usize,
    }

    /// Reads every event of `output`; panics (failing the test) on anything that is not an
    /// OpenAI chunk, error or `[DONE]`.
    pub fn decode(output: &str) -> Decoded {
        let mut d = Decoded::default();
        for event in output.split("\n\n").filter(|e| !e.is_empty()) {
            let data = event.strip_prefix("data: ").unwrap();
            if data == "[DONE]" {
                d.dones += 1;
                continue;
            }
            let v: Value = serde_json::from_str(data).unwrap();
            if let Some(error) = v.get("error") {
                d.errors.push(error.clone());
                continue;
            }
            if let Some(usage) = v.get("usage") {
                assert_eq!(v["choices"], json!([]));
                d.usage = Some(usage.clone());
            }
            if let Some(choice) = v["choices"].get(0) {
                read_choice(&mut d, choice);
            }
            d.chunks.push(v);
        }
        d
    }

    fn read_choice(d: &mut Decoded, choice: &Value) {
        let delta = &choice["delta"];
        d.content += delta["content"].as_str().unwrap_or_default();
        d.reasoning += delta["reasoning_content"].as_str().unwrap_or_default();
        for call in delta["tool_calls"].as_array().into_iter().flatten() {
            let i = call["index"].as_u64().unwrap() as usize;
            if d.tool_calls.len() <= i {
                d.tool_calls.resize(i + 1, Default::default());
            }
            let entry = &mut d.tool_calls[i];
            entry.0 += call["id"].as_str().unwrap_or_default();
            entry.1 += call["function"]["name"].as_str().unwrap_or_default();
            entry.2 += call["function"]["arguments"].as_str().unwrap_or_default();
        }
        if let Some(reason) = choice["finish_reason"].as_str() {
            d.finish_reasons.push(reason.to_string());
        }
    }
}

#[cfg(test)]
mod tests;
