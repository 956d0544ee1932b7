//! tollgate-mock: an OpenAI-compatible mock LLM provider for integration and
//! load tests. It answers chat/completions/embeddings/models on any path
//! prefix, injects faults on request, and records what it received under
//! `/__mock/requests` so tests can assert on what the gateway sent upstream.
//!
//! It must never be the bottleneck of a load test, hence: hyper http1 with
//! keep-alive, static bytes where possible, no per-request logging, and the
//! record ring's lock held only for a push or a snapshot.

mod logic;
mod record;
mod stream;

use std::convert::Infallible;
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use clap::Parser;
use http::{header, request, HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Either, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{json, Map, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{signal, SignalKind};

use logic::Behaviour;
use record::Recorder;
use stream::{sse, EventBody};

/// Request bodies above this are refused with 413 (tests send up to ~5 MB).
const MAX_BODY: usize = 64 << 20;
const DEFAULT_MODEL: &str = "mock-model";

const MODELS_JSON: &[u8] =
    br#"{"object":"list","data":[{"id":"mock-model","object":"model","created":0,"owned_by":"mock"}]}"#;
const DONE_EVENT: &[u8] = b"data: [DONE]\n\n";
const APPLICATION_JSON: &str = "application/json";
const EVENT_STREAM: &str = "text/event-stream";

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
    recorder: Recorder,
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
        recorder: Recorder::default(),
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
    // Control routes are neither counted nor recorded: tests poll them.
    if req.uri().path().starts_with("/__mock/") {
        return control_route(&state, req.method(), req.uri().path());
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
        state.recorder.push(&parts, &body, json);
    }
    provider_route(n, &parts, parsed).await
}

fn control_route(state: &State, method: &Method, path: &str) -> Response<MockBody> {
    let json = |value: Value| plain(200, APPLICATION_JSON, Bytes::from(value.to_string()));
    match (method, path) {
        (&Method::GET, "/__mock/health") => plain(200, "text/plain", Bytes::from_static(b"ok")),
        (&Method::GET, "/__mock/stats") => {
            json(json!({"requests": state.requests.load(Ordering::Relaxed)}))
        }
        (&Method::GET, "/__mock/requests") => {
            plain(200, APPLICATION_JSON, state.recorder.to_json())
        }
        (&Method::DELETE, "/__mock/requests") => json(json!({"cleared": state.recorder.clear()})),
        _ => plain(
            404,
            APPLICATION_JSON,
            Bytes::from(not_found(method, path).to_string()),
        ),
    }
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
