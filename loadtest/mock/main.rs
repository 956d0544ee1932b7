//! tollgate-mock: an OpenAI-compatible mock LLM provider for integration and
//! load tests. It answers chat/completions/embeddings/models on any path
//! prefix, injects faults on request, and records what it received under
//! `/__mock/requests` so tests can assert on what the gateway sent upstream.
//!
//! It must never be the bottleneck of a load test, hence: hyper http1 with
//! keep-alive, static bytes where possible, no per-request logging, and the
//! record ring's lock held only for a push or a snapshot.

mod logic;

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::io::Write;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use clap::Parser;
use http::{header, request, HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Either, Full, LengthLimitError, Limited};
use hyper::body::{Body, Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

use logic::Behaviour;

/// Request bodies above this are refused with 413 (tests send up to ~5 MB).
const MAX_BODY: usize = 64 << 20;
/// Recorded bodies above this are kept as `null` (the hash is still kept).
const MAX_RECORDED_BODY: usize = 64 << 10;
/// The record ring keeps this many most recent requests.
const MAX_RECORDS: usize = 10_000;
const DEFAULT_MODEL: &str = "mock-model";

const MODELS_JSON: &[u8] =
    br#"{"object":"list","data":[{"id":"mock-model","object":"model","created":0,"owned_by":"mock"}]}"#;
const DONE_EVENT: &[u8] = b"data: [DONE]\n\n";
const APPLICATION_JSON: &str = "application/json";
const EVENT_STREAM: &str = "text/event-stream";

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type MockBody = Either<Full<Bytes>, EventBody>;

#[derive(Parser, Debug)]
#[command(
    name = "tollgate-mock",
    about = "OpenAI-compatible mock LLM provider for tests"
)]
struct Cli {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on; 0 picks a free one (printed on stdout).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Tokio worker threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Do not record requests (for load tests); /__mock/stats still counts.
    #[arg(long)]
    no_record: bool,
}

struct State {
    record: bool,
    /// Provider requests since start; also numbers the response ids.
    requests: AtomicU64,
    /// Each record is serialized once when received, so a snapshot is only
    /// a clone of refcounted buffers under the lock.
    records: Mutex<VecDeque<Bytes>>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.threads.max(1))
        .enable_all()
        .build();
    let result = match runtime {
        Ok(rt) => rt.block_on(run(cli)),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tollgate-mock: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> std::io::Result<()> {
    let listener = TcpListener::bind((cli.host.as_str(), cli.port)).await?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on {}", listener.local_addr()?)?;
    stdout.flush()?;
    drop(stdout);

    let state = Arc::new(State {
        record: !cli.no_record,
        requests: AtomicU64::new(0),
        records: Mutex::new(VecDeque::new()),
    });
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sigint = signal(SignalKind::interrupt())?;
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => serve(stream, state.clone()),
                // Typically EMFILE under load: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            _ = sigterm.recv() => return Ok(()),
            _ = sigint.recv() => return Ok(()),
        }
    }
}

fn serve(stream: TcpStream, state: Arc<State>) {
    // Stream events must leave at once, not wait for Nagle.
    let _ = stream.set_nodelay(true);
    tokio::spawn(async move {
        let service = service_fn(move |req| {
            let state = state.clone();
            async move { Ok::<_, Infallible>(handle(state, req).await) }
        });
        // Errors are client disconnects or deliberate aborts
        // (break_after_chunks): nothing to report.
        let _ = http1::Builder::new()
            .keep_alive(true)
            .serve_connection(TokioIo::new(stream), service)
            .await;
    });
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Response<MockBody> {
    if let Some(control) = req.uri().path().strip_prefix("/__mock/") {
        return control_route(&state, req.method(), control);
    }
    let n = state.requests.fetch_add(1, Ordering::Relaxed) + 1;
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<LengthLimitError>() => {
            let msg = format!("request body exceeds {MAX_BODY} bytes");
            return error_response(n, 413, &invalid_request(&msg), &[]);
        }
        // The client went away mid-body; this answer will likely not arrive.
        Err(_) => return error_response(n, 400, &invalid_request("incomplete body"), &[]),
    };
    let parsed = (!body.is_empty()).then(|| serde_json::from_slice::<Value>(&body));
    if state.record {
        let json = parsed.as_ref().and_then(|p| p.as_ref().ok());
        state.push_record(record_bytes(&parts, &body, json));
    }
    provider_route(n, &parts, parsed).await
}

fn control_route(state: &State, method: &Method, route: &str) -> Response<MockBody> {
    let json = |value: Value| plain(200, APPLICATION_JSON, Bytes::from(value.to_string()));
    match (method, route) {
        (&Method::GET, "health") => plain(200, "text/plain", Bytes::from_static(b"ok")),
        (&Method::GET, "stats") => {
            json(json!({"requests": state.requests.load(Ordering::Relaxed)}))
        }
        (&Method::GET, "requests") => {
            let snapshot: Vec<Bytes> = state.lock_records().iter().cloned().collect();
            let mut out =
                Vec::with_capacity(2 + snapshot.iter().map(|r| r.len() + 1).sum::<usize>());
            out.push(b'[');
            for (i, record) in snapshot.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(record);
            }
            out.push(b']');
            plain(200, APPLICATION_JSON, Bytes::from(out))
        }
        (&Method::DELETE, "requests") => {
            let cleared = std::mem::take(&mut *state.lock_records()).len();
            json(json!({"cleared": cleared}))
        }
        _ => plain(
            404,
            APPLICATION_JSON,
            Bytes::from(not_found(method, route).to_string()),
        ),
    }
}

impl State {
    fn lock_records(&self) -> std::sync::MutexGuard<'_, VecDeque<Bytes>> {
        // A panic elsewhere must not take the recorder down with it.
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn push_record(&self, record: Bytes) {
        let mut records = self.lock_records();
        if records.len() >= MAX_RECORDS {
            records.pop_front();
        }
        records.push_back(record);
    }
}

#[derive(Serialize)]
struct Record<'a> {
    method: &'a str,
    path: &'a str,
    query: Option<&'a str>,
    headers: BTreeMap<&'a str, String>,
    body_len: usize,
    body: Option<&'a Value>,
    body_sha256: String,
}

fn record_bytes(parts: &request::Parts, body: &[u8], json: Option<&Value>) -> Bytes {
    let mut headers: BTreeMap<&str, String> = BTreeMap::new();
    for (name, value) in &parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes());
        headers
            .entry(name.as_str())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert_with(|| value.into_owned());
    }
    let record = Record {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query(),
        headers,
        body_len: body.len(),
        body: json.filter(|_| body.len() < MAX_RECORDED_BODY),
        body_sha256: logic::hex(&Sha256::digest(body)),
    };
    Bytes::from(serde_json::to_vec(&record).unwrap_or_default())
}

#[derive(Clone, Copy)]
enum Route {
    Chat,
    Completions,
    Embeddings,
    Models,
}

/// Routes by path suffix so any provider prefix works (`/v1`, Azure
/// deployments, Cloudflare accounts, none at all).
fn route_of(method: &Method, path: &str) -> Option<Route> {
    let path = path.trim_end_matches('/');
    match *method {
        Method::POST if path.ends_with("/chat/completions") => Some(Route::Chat),
        Method::POST if path.ends_with("/completions") => Some(Route::Completions),
        Method::POST if path.ends_with("/embeddings") => Some(Route::Embeddings),
        Method::GET if path.ends_with("/models") => Some(Route::Models),
        _ => None,
    }
}

async fn provider_route(
    n: u64,
    parts: &request::Parts,
    parsed: Option<serde_json::Result<Value>>,
) -> Response<MockBody> {
    let Some(route) = route_of(&parts.method, parts.uri.path()) else {
        return error_response(n, 404, &not_found(&parts.method, parts.uri.path()), &[]);
    };
    let body = match (route, parsed) {
        (Route::Models, _) => Map::new(),
        (_, Some(Ok(Value::Object(body)))) => body,
        (_, Some(Ok(_))) => {
            return error_response(
                n,
                400,
                &invalid_request("request body must be a JSON object"),
                &[],
            )
        }
        (_, _) => {
            let msg = "We could not parse the JSON body of your request.";
            return error_response(n, 400, &invalid_request(msg), &[]);
        }
    };

    let header = |name: &str| parts.headers.get(name).map(|v| v.to_str().unwrap_or("?"));
    let model = body.get("model").and_then(Value::as_str);
    let behaviour = match logic::parse_behaviour(
        body.get("mock"),
        header("x-mock-status"),
        header("x-mock-delay-ms"),
        model,
    ) {
        Ok(b) => b,
        Err(msg) => return error_response(n, 400, &invalid_request(&msg), &[]),
    };
    if behaviour.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(behaviour.delay_ms)).await;
    }
    let status = behaviour.status.unwrap_or(200);
    if status >= 400 {
        let body = behaviour.error_body.clone().unwrap_or_else(|| {
            let message = format!("mock error {status}");
            json!({"error": {"message": message, "type": "mock_error", "param": null, "code": status.to_string()}})
        });
        return error_response(n, status, &body, &behaviour.headers);
    }

    let reply = Answer {
        n,
        status,
        model: model.unwrap_or(DEFAULT_MODEL),
        created: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        body: &body,
        behaviour: &behaviour,
    };
    match route {
        Route::Chat => reply.completion(true),
        Route::Completions => reply.completion(false),
        Route::Embeddings => reply.embeddings(),
        Route::Models => respond(
            n,
            status,
            APPLICATION_JSON,
            Either::Left(Full::new(Bytes::from_static(MODELS_JSON))),
            &behaviour.headers,
        ),
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
}

impl Answer<'_> {
    fn usage(&self, completion_tokens: Option<u64>) -> Value {
        if let Some(usage) = &self.behaviour.usage {
            return usage.clone();
        }
        let prompt = logic::prompt_tokens(self.body);
        match completion_tokens {
            Some(c) => {
                json!({"prompt_tokens": prompt, "completion_tokens": c, "total_tokens": prompt + c})
            }
            None => json!({"prompt_tokens": prompt, "total_tokens": prompt}),
        }
    }

    fn json(&self, value: &Value) -> Response<MockBody> {
        let bytes = Bytes::from(serde_json::to_vec(value).unwrap_or_default());
        respond(
            self.n,
            self.status,
            APPLICATION_JSON,
            Either::Left(Full::new(bytes)),
            &self.behaviour.headers,
        )
    }

    /// A chat completion (`chat`) or a legacy text completion, whole or streamed.
    fn completion(&self, chat: bool) -> Response<MockBody> {
        let reply = logic::reply_text(self.behaviour);
        let usage = self.usage(Some(logic::completion_tokens(&reply)));
        let id = format!("{}-mock-{}", if chat { "chatcmpl" } else { "cmpl" }, self.n);
        let (model, created) = (self.model, self.created);
        let streamed = self.body.get("stream").and_then(Value::as_bool) == Some(true);

        if !streamed {
            let value = if chat {
                json!({"id": id, "object": "chat.completion", "created": created, "model": model,
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": reply},
                        "logprobs": null, "finish_reason": "stop"}],
                    "usage": usage, "system_fingerprint": "fp_mock"})
            } else {
                json!({"id": id, "object": "text_completion", "created": created, "model": model,
                    "choices": [{"text": reply, "index": 0, "logprobs": null, "finish_reason": "stop"}],
                    "usage": usage})
            };
            return self.json(&value);
        }

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
                let delta = if finish.is_null() {
                    json!({"content": text})
                } else {
                    json!({})
                };
                json!([{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}])
            } else {
                json!([{"text": text, "index": 0, "logprobs": null, "finish_reason": finish}])
            }
        };

        let pieces = logic::stream_pieces(&reply, self.behaviour.chunks);
        let mut events = Vec::with_capacity(pieces.len() + 4);
        if chat {
            events.push(sse(&chunk(
                json!([{"index": 0, "delta": {"role": "assistant", "content": ""},
                "logprobs": null, "finish_reason": null}]),
            )));
        }
        let before_content = events.len();
        events.extend(pieces.iter().map(|p| sse(&chunk(piece(p, Value::Null)))));
        events.push(sse(&chunk(piece("", json!("stop")))));
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

        // Index of the event at which the stream is cut instead of sent.
        let break_at = self
            .behaviour
            .break_after_chunks
            .map(|k| before_content + k.min(pieces.len()));
        let body = EventBody::new(events, self.behaviour.chunk_delay_ms, break_at);
        let mut resp = respond(
            self.n,
            self.status,
            EVENT_STREAM,
            Either::Right(body),
            &self.behaviour.headers,
        );
        resp.headers_mut()
            .entry(header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-cache"));
        resp
    }

    fn embeddings(&self) -> Response<MockBody> {
        let inputs = match self.body.get("input").map(logic::embedding_inputs) {
            Some(Ok(inputs)) => inputs,
            Some(Err(msg)) => {
                return error_response(self.n, 400, &invalid_request(&msg), &self.behaviour.headers)
            }
            None => {
                return error_response(
                    self.n,
                    400,
                    &invalid_request("'input' is a required property"),
                    &self.behaviour.headers,
                )
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

/// One server-sent event: `data: <json>\n\n`.
fn sse(value: &Value) -> Bytes {
    let mut buf = Vec::with_capacity(256);
    buf.extend_from_slice(b"data: ");
    // Writing a Value into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut buf, value);
    buf.extend_from_slice(b"\n\n");
    Bytes::from(buf)
}

fn invalid_request(message: &str) -> Value {
    json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": null}})
}

fn not_found(method: &Method, path: &str) -> Value {
    let message = format!("Invalid URL ({method} {path})");
    json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": "not_found"}})
}

fn error_response(
    n: u64,
    status: u16,
    body: &Value,
    extra: &[(HeaderName, HeaderValue)],
) -> Response<MockBody> {
    let bytes = Bytes::from(serde_json::to_vec(body).unwrap_or_default());
    let mut resp = respond(
        n,
        status,
        APPLICATION_JSON,
        Either::Left(Full::new(bytes)),
        extra,
    );
    if status == 429 {
        resp.headers_mut()
            .entry(header::RETRY_AFTER)
            .or_insert(HeaderValue::from_static("1"));
    }
    resp
}

/// A provider response: status, content type, the rate-limit and request-id
/// headers every provider answer carries, then the `mock.headers` overrides.
fn respond(
    n: u64,
    status: u16,
    content_type: &'static str,
    body: MockBody,
    extra: &[(HeaderName, HeaderValue)],
) -> Response<MockBody> {
    let mut resp = plain(status, content_type, Bytes::new());
    *resp.body_mut() = body;
    let headers = resp.headers_mut();
    headers.insert(
        "x-ratelimit-limit-requests",
        HeaderValue::from_static("10000"),
    );
    headers.insert(
        "x-ratelimit-remaining-requests",
        HeaderValue::from_static("9999"),
    );
    headers.insert(
        "x-ratelimit-limit-tokens",
        HeaderValue::from_static("1000000"),
    );
    headers.insert(
        "x-ratelimit-remaining-tokens",
        HeaderValue::from_static("999000"),
    );
    if let Ok(id) = HeaderValue::try_from(format!("mock-{n}")) {
        headers.insert("x-request-id", id);
    }
    for (name, value) in extra {
        headers.insert(name.clone(), value.clone());
    }
    resp
}

fn plain(status: u16, content_type: &'static str, body: Bytes) -> Response<MockBody> {
    let mut resp = Response::new(Either::Left(Full::new(body)));
    // Statuses are validated to 200..=599 before they get here.
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// A stream body that yields each event as its own frame. Without delays or
/// a break the events are served straight from memory; otherwise a task
/// feeds them through a channel so the delays are real on the wire.
enum EventBody {
    Ready(VecDeque<Bytes>),
    Channel(mpsc::Receiver<Result<Bytes, BoxError>>),
}

impl EventBody {
    fn new(events: Vec<Bytes>, chunk_delay_ms: u64, break_at: Option<usize>) -> Self {
        if chunk_delay_ms == 0 && break_at.is_none() {
            return EventBody::Ready(events.into());
        }
        let (tx, rx) = mpsc::channel(8);
        tokio::spawn(async move {
            for (i, event) in events.into_iter().enumerate() {
                if i > 0 && chunk_delay_ms > 0 {
                    tokio::time::sleep(Duration::from_millis(chunk_delay_ms)).await;
                }
                if break_at == Some(i) {
                    // A body error makes hyper drop the connection without
                    // the final chunk: the client sees a truncated stream.
                    let _ = tx.send(Err("mock: break_after_chunks".into())).await;
                    return;
                }
                if tx.send(Ok(event)).await.is_err() {
                    return; // the client went away
                }
            }
        });
        EventBody::Channel(rx)
    }
}

impl Body for EventBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            EventBody::Ready(events) => Poll::Ready(events.pop_front().map(|e| Ok(Frame::data(e)))),
            EventBody::Channel(rx) => rx
                .poll_recv(cx)
                .map(|next| next.map(|r| r.map(Frame::data))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, EventBody::Ready(events) if events.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_any_prefix() {
        let post = |p: &str| route_of(&Method::POST, p).map(|r| r as u8);
        assert_eq!(post("/v1/chat/completions"), Some(Route::Chat as u8));
        assert_eq!(
            post("/openai/deployments/d/chat/completions"),
            Some(Route::Chat as u8)
        );
        assert_eq!(
            post("/client/v4/accounts/x/ai/v1/chat/completions/"),
            Some(Route::Chat as u8)
        );
        assert_eq!(post("/v1/completions"), Some(Route::Completions as u8));
        assert_eq!(post("/embeddings"), Some(Route::Embeddings as u8));
        assert_eq!(post("/v1/models"), None);
        assert_eq!(
            route_of(&Method::GET, "/v1/models").map(|r| r as u8),
            Some(Route::Models as u8)
        );
        assert_eq!(
            route_of(&Method::GET, "/v1/chat/completions").map(|r| r as u8),
            None
        );
    }
}
