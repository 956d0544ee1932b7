//! OpenAI's wire format, spoken by most providers: the request passes through with only `model`
//! rewritten; answers pass back with `model` set to the client's alias.

use super::{content_type_json, header, Call, Provider, ProviderRequest, StreamTranslator};
use crate::canonical::json_scan;
use crate::canonical::request::Operation;
use crate::canonical::sse::{event_data, EventSplitter};
use crate::canonical::Usage;
use crate::deployment::Deployment;
use crate::error::GatewayError;
use bytes::{Bytes, BytesMut};
use http::{HeaderName, HeaderValue};

pub struct OpenAi;

impl Provider for OpenAi {
    fn static_headers(&self, d: &Deployment) -> Result<Vec<(HeaderName, HeaderValue)>, String> {
        let mut h = vec![content_type_json()];
        if let Some(key) = &d.api_key {
            h.push(header(
                "authorization",
                &format!("Bearer {}", key.expose()),
            )?);
        }
        if let Some(org) = &d.organization {
            h.push(header("openai-organization", org)?);
        }
        Ok(h)
    }

    fn build_request(&self, call: &Call<'_>) -> Result<ProviderRequest, GatewayError> {
        let endpoint = call.deployment.endpoint()?;
        Ok(ProviderRequest {
            path_and_query: endpoint.path_for(call.op.path(), None),
            headers: call.deployment.headers.clone(),
            body: asking_stream_usage(call, call.body.with_model(call.upstream_model)),
        })
    }

    fn translate_response(&self, call: &Call<'_>, body: Bytes) -> Result<Bytes, GatewayError> {
        Ok(json_scan::replace_model(&body, &json_scan::quote(call.alias)).unwrap_or(body))
    }

    fn stream_translator(&self, call: &Call<'_>) -> Box<dyn StreamTranslator> {
        Box::new(PassthroughStream::new(call.alias, call.body.include_usage))
    }
}

/// The upstream body for an OpenAI-compatible provider: when the call streams and the client
/// did not ask for the usage chunk, the provider is asked for it anyway (the gateway bills from
/// it); [`PassthroughStream`] then keeps it from the client.
pub(super) fn asking_stream_usage(call: &Call<'_>, body: Bytes) -> Bytes {
    if !call.body.stream || call.body.include_usage || call.op == Operation::Embedding {
        return body;
    }
    json_scan::with_stream_usage(&body).unwrap_or(body)
}

/// Passes OpenAI SSE through event by event, setting each chunk's `model` to the alias, reading
/// the provider's usage, and making sure the stream ends with `data: [DONE]`.
///
/// When the client did not ask for usage (the gateway did, see [`asking_stream_usage`]) the
/// usage-only chunk (`"choices": []`) is dropped and a `usage` member on any other chunk (some
/// providers put it on the last content chunk, OpenAI sends `"usage": null` on every chunk) is
/// removed: the client sees the stream it asked for.
pub struct PassthroughStream {
    splitter: EventSplitter,
    alias_json: Vec<u8>,
    done: bool,
    /// `stream_options.include_usage` as the client sent it.
    include_usage: bool,
    /// Drop chunks with no choices and no usage (Azure's `prompt_filter_results` chunk, whose
    /// empty id and model would break the one-id-per-stream rule).
    drop_choiceless: bool,
    usage: Option<Usage>,
}

impl PassthroughStream {
    pub fn new(alias: &str, include_usage: bool) -> Self {
        PassthroughStream {
            splitter: EventSplitter::default(),
            alias_json: json_scan::quote(alias),
            done: false,
            include_usage,
            drop_choiceless: false,
            usage: None,
        }
    }

    /// Azure's stream: its choiceless content-filter chunks are dropped.
    pub fn dropping_choiceless_chunks(mut self) -> Self {
        self.drop_choiceless = true;
        self
    }

    fn emit(&mut self, event: &[u8], out: &mut BytesMut) {
        // OpenAI clients stop reading at `[DONE]`; whatever an upstream sends after it is not
        // part of the answer.
        if self.done {
            return;
        }
        let Some(data) = event_data(event) else {
            // Comments (`: keep-alive`) and bare `event:` lines carry nothing for OpenAI clients
            // but keep the connection warm: their comment lines are passed on.
            write_comments(event, out);
            return;
        };
        if data.trim_ascii() == b"[DONE]" {
            self.done = true;
            out.extend_from_slice(b"data: [DONE]\n\n");
            return;
        }
        let Some(data) = self.chunk_for_client(data) else {
            return;
        };
        let (head, model, tail) = match json_scan::find_top_level_value(&data, "model") {
            Some(span) => (&data[..span.start], &self.alias_json[..], &data[span.end..]),
            None => (&data[..], &[][..], &[][..]),
        };
        if data.iter().any(|&b| b == b'\n' || b == b'\r') {
            write_data(&[head, model, tail].concat(), out);
        } else {
            // The usual event: one line, written without a copy.
            for part in [&b"data: "[..], head, model, tail, b"\n\n"] {
                out.extend_from_slice(part);
            }
        }
    }

    /// The chunk as the client gets it, having read its usage; `None`: not for the client.
    fn chunk_for_client(&mut self, data: Vec<u8>) -> Option<Bytes> {
        let data = Bytes::from(data);
        let usage_span = json_scan::find_top_level_value(&data, "usage");
        if usage_span.is_none() && !self.drop_choiceless {
            return Some(data);
        }
        let usage = usage_span.and_then(|span| {
            let value = serde_json::from_slice(&data[span]).ok()?;
            Usage::from_openai(&value)
        });
        if usage.is_some() {
            self.usage = usage;
        }
        let choiceless = json_scan::find_top_level_value(&data, "choices")
            .is_some_and(|span| is_empty_array(&data[span]));
        let unasked_usage_chunk = usage.is_some() && !self.include_usage;
        let filter_chunk = usage.is_none() && self.drop_choiceless;
        if choiceless && (unasked_usage_chunk || filter_chunk) {
            return None;
        }
        if self.include_usage {
            return Some(data);
        }
        Some(json_scan::remove_top_level(&data, "usage").unwrap_or(data))
    }
}

/// One event carrying `data`: a `data:` line per line of it, so that a client reads back the
/// same text. A `\r` would end a line for the client; in JSON it can only be whitespace, so it
/// is written as a space.
fn write_data(data: &[u8], out: &mut BytesMut) {
    for line in data.split(|&b| b == b'\n') {
        out.extend_from_slice(b"data: ");
        out.extend(line.iter().map(|&b| if b == b'\r' { b' ' } else { b }));
        out.extend_from_slice(b"\n");
    }
    out.extend_from_slice(b"\n");
}

/// The comment lines of an event without data, as one event (a bare `:` when it had none).
fn write_comments(event: &[u8], out: &mut BytesMut) {
    let mut any = false;
    for line in event.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.starts_with(b":") {
            out.extend(line.iter().map(|&b| if b == b'\r' { b' ' } else { b }));
            out.extend_from_slice(b"\n");
            any = true;
        }
    }
    if !any {
        out.extend_from_slice(b":\n");
    }
    out.extend_from_slice(b"\n");
}

/// `[]`, whitespace allowed inside.
fn is_empty_array(json: &[u8]) -> bool {
    json.strip_prefix(b"[")
        .and_then(|rest| rest.strip_suffix(b"]"))
        .is_some_and(|inner| inner.trim_ascii().is_empty())
}

impl StreamTranslator for PassthroughStream {
    fn feed(&mut self, chunk: &[u8], out: &mut BytesMut) {
        self.splitter.push(chunk);
        while let Some(event) = self.splitter.next_event() {
            self.emit(&event, out);
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
            self.done = true;
            out.extend_from_slice(b"data: [DONE]\n\n");
        }
    }

    fn usage(&self) -> Option<Usage> {
        self.usage
    }

    fn failure(&mut self) -> Option<GatewayError> {
        self.splitter.failure()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(chunks: &[&[u8]]) -> String {
        let mut t = PassthroughStream::new("my-alias", false);
        let mut out = BytesMut::new();
        for c in chunks {
            t.feed(c, &mut out);
        }
        t.finish(&mut out);
        String::from_utf8(out.to_vec()).unwrap()
    }

    #[test]
    fn rewrites_model_per_event_and_keeps_done() {
        let out = run(&[
            b"data: {\"id\":\"1\",\"model\":\"gpt-4o-2024\",\"choices\":[]}\n\ndata: {\"id\":\"1\",\"mo",
            b"del\":\"gpt-4o-2024\",\"choices\":[]}\n\ndata: [DONE]\n\n",
        ]);
        assert_eq!(
            out,
            "data: {\"id\":\"1\",\"model\":\"my-alias\",\"choices\":[]}\n\n\
             data: {\"id\":\"1\",\"model\":\"my-alias\",\"choices\":[]}\n\n\
             data: [DONE]\n\n"
        );
    }

    #[test]
    fn multi_line_data_and_comments_stay_readable_sse() {
        let out = run(&[
            b"data: {\"a\":\r1,\ndata: \"model\":\"m\"}\n\n: ping\r\nevent: x\nid: 3\n\nretry: 5\n\n",
        ]);
        assert_eq!(
            out,
            "data: {\"a\": 1,\ndata: \"model\":\"my-alias\"}\n\n: ping\n\n:\n\ndata: [DONE]\n\n"
        );
    }

    #[test]
    fn nothing_after_done() {
        let out = run(&[b"data: [DONE]\n\ndata: {\"late\":1}\n\n: ping\n\n"]);
        assert_eq!(out, "data: [DONE]\n\n");
    }

    #[test]
    fn adds_done_when_upstream_omits_it() {
        let out = run(&[b"data: {\"model\":\"x\"}\n\n"]);
        assert!(out.ends_with("data: [DONE]\n\n"));
        assert_eq!(out.matches("[DONE]").count(), 1);
    }
}
