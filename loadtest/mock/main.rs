//! tollgate-mock: a mock LLM provider for integration and load tests. It
//! answers in each provider's own wire format on any path prefix (OpenAI
//! compatible routes, Anthropic, Gemini on AI Studio and Vertex AI with
//! Google's OAuth token endpoint, Bedrock, SageMaker, Cohere), injects faults
//! on request (a `mock` body object, `x-mock-*` headers, `[mock:..]` markers
//! in the last user message, `status-503`/`slow-300`/`break-2` model names), and
//! records what it received under `/__mock/requests` so tests can assert on
//! what the gateway sent upstream, and under `/__mock/events` the work the
//! gateway abandoned (a request it stopped waiting for, a stream it cut).
//! Each provider's routes live in its module.
//!
//! It must never be the bottleneck of a load test, hence: hyper http1 with
//! keep-alive, static bytes where possible, no per-request logging, and the
//! record ring's lock held only for a push or a snapshot.

mod anthropic;
mod aws;
mod bedrock;
mod cloud_creds;
mod cohere;
mod conn;
mod encoding;
mod eventstream;
mod gemini;
mod google_oauth;
mod logic;
mod markers;
mod openai;
mod record;
mod reply;
mod sagemaker;
mod stream;

use std::convert::Infallible;
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use clap::Parser;
use http::{header, Method, Request};
use http_body_util::{BodyExt, Either, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{signal, SignalKind};

use anthropic::Via;
use conn::{AbortWatch, ConnControl, ConnIo};
use openai::{error_response, invalid_request, not_found};
use record::{Events, Recorder};
use reply::{plain, Ctx, Resp, APPLICATION_JSON};

/// Request bodies above this are refused with 413 (tests send up to ~5 MB).
const MAX_BODY: usize = 64 << 20;

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

pub struct State {
    record: bool,
    /// Provider requests since start; also numbers the response ids.
    requests: AtomicU64,
    recorder: Recorder,
    /// Work the peer aborted (see [`conn::AbortWatch`]).
    events: Events,
    /// Access tokens the OAuth token endpoint issued; Vertex routes accept
    /// exactly `mock-access-token-1..=tokens_issued`.
    pub tokens_issued: AtomicU64,
    /// AWS keys the credential endpoints issued (`ASIAMOCK<n>`).
    pub aws_keys_issued: AtomicU64,
    /// IMDSv2 session tokens issued.
    pub imds_tokens: AtomicU64,
    /// Lifetime of the credentials and tokens `cloud_creds` issues.
    pub credential_lifetime_s: AtomicU64,
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
        events: Events::default(),
        tokens_issued: AtomicU64::new(0),
        aws_keys_issued: AtomicU64::new(0),
        imds_tokens: AtomicU64::new(0),
        credential_lifetime_s: AtomicU64::new(3600),
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
    let control = Arc::new(ConnControl::default());
    let io = ConnIo::new(stream, control.clone());
    tokio::spawn(async move {
        let service = service_fn(move |req| {
            let (state, control) = (state.clone(), control.clone());
            async move { Ok::<_, Infallible>(handle(state, control, req).await) }
        });
        // Errors are client disconnects or deliberate aborts
        // (break_after_chunks, reset_after_read): nothing to report.
        let _ = http1::Builder::new()
            .keep_alive(true)
            .serve_connection(TokioIo::new(io), service)
            .await;
    });
}

async fn handle(state: Arc<State>, control: Arc<ConnControl>, req: Request<Incoming>) -> Resp {
    // Control routes are neither counted nor recorded: tests poll them.
    if req.uri().path().starts_with("/__mock/") {
        return control_route(&state, req.method(), req.uri().path());
    }
    let received_at_ms = conn::unix_ms();
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
    let parsed = serde_json::from_slice::<Value>(&body).ok();
    if state.record {
        // A form body (the OAuth token request) is recorded as an object of
        // its fields; any body that is not JSON also as its text.
        let form = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .filter(|ct| ct.starts_with("application/x-www-form-urlencoded"))
            .and_then(|_| encoding::form_json(&body));
        let json = parsed.as_ref().or(form.as_ref());
        state.recorder.push(&parts, &body, json, parsed.is_none());
    }
    let ctx = Ctx {
        n,
        parts: &parts,
        body: &body,
        json: parsed.as_ref(),
        state: &state,
        conn: &control,
    };
    // Dropped with this future if the peer leaves before the answer.
    let mut watch = AbortWatch::new(state.clone(), "cancelled", parts.uri.path(), received_at_ms);
    let mut resp = provider_route(&ctx).await;
    watch.disarm();
    if let Either::Right(stream) = resp.body_mut() {
        stream.watch(watch.then("stream_aborted"));
    }
    resp
}

fn control_route(state: &State, method: &Method, path: &str) -> Resp {
    let json = |value: Value| plain(200, APPLICATION_JSON, Bytes::from(value.to_string()));
    match (method, path) {
        (&Method::GET, "/__mock/health") => plain(200, "text/plain", Bytes::from_static(b"ok")),
        (&Method::GET, "/__mock/stats") => {
            json(json!({"requests": state.requests.load(Ordering::Relaxed),
                "tokens_issued": state.tokens_issued.load(Ordering::Relaxed),
                "aws_keys_issued": state.aws_keys_issued.load(Ordering::Relaxed),
                "imds_tokens": state.imds_tokens.load(Ordering::Relaxed)}))
        }
        (&Method::GET, "/__mock/requests") => {
            plain(200, APPLICATION_JSON, state.recorder.to_json())
        }
        (&Method::DELETE, "/__mock/requests") => json(json!({"cleared": state.recorder.clear()})),
        (&Method::GET, "/__mock/events") => plain(200, APPLICATION_JSON, state.events.to_json()),
        (&Method::DELETE, "/__mock/events") => json(json!({"cleared": state.events.clear()})),
        (&Method::PUT, p) if p.starts_with("/__mock/credential_lifetime/") => {
            match p["/__mock/credential_lifetime/".len()..].parse::<u64>() {
                Ok(s) if s > 0 => {
                    state.credential_lifetime_s.store(s, Ordering::Relaxed);
                    json(json!({"credential_lifetime_s": s}))
                }
                _ => plain(400, "text/plain", Bytes::from_static(b"seconds > 0")),
            }
        }
        _ => plain(
            404,
            APPLICATION_JSON,
            Bytes::from(not_found(method, path).to_string()),
        ),
    }
}

#[derive(Debug, PartialEq)]
enum Route {
    OpenAi(openai::Route),
    AnthropicMessages,
    AnthropicCountTokens,
    VertexAnthropic {
        model: String,
        stream: bool,
    },
    Gemini {
        model: String,
        method: gemini::Method,
        vertex: bool,
    },
    GoogleToken,
    Bedrock {
        model: String,
        action: bedrock::Action,
    },
    SageMaker {
        endpoint: String,
    },
    CohereChat,
    CohereEmbed,
}

/// Routes by path shape, whatever the prefix before it.
fn route_of(method: &Method, path: &str) -> Option<Route> {
    let path = path.trim_end_matches('/');
    if *method != Method::POST {
        return openai::route_of(method, path).map(Route::OpenAi);
    }
    if let Some(route) = google_route(path) {
        return Some(route);
    }
    // The last three segments, last first.
    let tail: Vec<&str> = path.rsplit('/').take(3).collect();
    let decode = |s: &str| encoding::percent_decode(s, false);
    match tail[..] {
        [action, model, "model"] if bedrock::action_of(action).is_some() => {
            return Some(Route::Bedrock {
                model: decode(model),
                action: bedrock::action_of(action)?,
            })
        }
        ["invocations", endpoint, "endpoints"] => {
            return Some(Route::SageMaker {
                endpoint: decode(endpoint),
            })
        }
        _ => {}
    }
    let route = match path {
        p if p.ends_with("/messages/count_tokens") => Route::AnthropicCountTokens,
        p if p.ends_with("/messages") => Route::AnthropicMessages,
        p if p.ends_with("/v2/chat") => Route::CohereChat,
        p if p.ends_with("/v2/embed") => Route::CohereEmbed,
        p if p.ends_with("/token") => Route::GoogleToken,
        p => Route::OpenAi(openai::route_of(method, p)?),
    };
    Some(route)
}

/// `.../models/{model}:{method}` (AI Studio), `.../publishers/{google|
/// anthropic}/models/{model}:{method}` (Vertex AI).
fn google_route(path: &str) -> Option<Route> {
    let (resource, verb) = path.rsplit_once(':')?;
    if verb.contains('/') {
        return None;
    }
    let (parent, model) = resource.rsplit_once("/models/")?;
    let model = encoding::percent_decode(model, false);
    let publisher = parent.rsplit_once("/publishers/").map(|(_, p)| p);
    match (publisher, verb) {
        (Some("anthropic"), "rawPredict" | "streamRawPredict") => Some(Route::VertexAnthropic {
            model,
            stream: verb == "streamRawPredict",
        }),
        (Some("anthropic"), _) => None,
        (publisher, verb) => Some(Route::Gemini {
            model,
            method: gemini::method_of(verb)?,
            vertex: publisher.is_some(),
        }),
    }
}

async fn provider_route(ctx: &Ctx<'_>) -> Resp {
    if let Some(resp) = cloud_creds::route(ctx) {
        return resp;
    }
    let (method, path) = (&ctx.parts.method, ctx.parts.uri.path());
    let Some(route) = route_of(method, path) else {
        return error_response(ctx.n, 404, &not_found(method, path), &[]);
    };
    match route {
        Route::OpenAi(route) => openai::handle(ctx, route).await,
        Route::AnthropicMessages => anthropic::messages(ctx, Via::Direct, None, false).await,
        Route::AnthropicCountTokens => anthropic::count_tokens(ctx).await,
        Route::VertexAnthropic { model, stream } => {
            anthropic::messages(ctx, Via::Vertex, Some(&model), stream).await
        }
        Route::Gemini {
            model,
            method,
            vertex,
        } => gemini::handle(ctx, &model, method, vertex).await,
        Route::GoogleToken => google_oauth::token(ctx).await,
        Route::Bedrock { model, action } => bedrock::handle(ctx, &model, action).await,
        Route::SageMaker { endpoint } => sagemaker::handle(ctx, &endpoint).await,
        Route::CohereChat => cohere::chat(ctx).await,
        Route::CohereEmbed => cohere::embed(ctx).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(path: &str) -> Option<Route> {
        route_of(&Method::POST, path)
    }

    #[test]
    fn openai_routes_keep_working() {
        assert_eq!(
            post("/client/v4/accounts/x/ai/v1/chat/completions/"),
            Some(Route::OpenAi(openai::Route::Chat))
        );
        assert_eq!(
            route_of(&Method::GET, "/v1/models"),
            Some(Route::OpenAi(openai::Route::Models))
        );
        assert_eq!(post("/v1/unknown"), None);
    }

    #[test]
    fn provider_routes_by_shape() {
        assert_eq!(post("/v1/messages"), Some(Route::AnthropicMessages));
        assert_eq!(
            post("/anthropic/v1/messages/count_tokens"),
            Some(Route::AnthropicCountTokens)
        );
        let gemini = |model: &str, method, vertex| {
            Some(Route::Gemini {
                model: model.into(),
                method,
                vertex,
            })
        };
        assert_eq!(
            post("/v1beta/models/gemini-2.0-flash:generateContent"),
            gemini("gemini-2.0-flash", gemini::Method::Generate, false)
        );
        assert_eq!(
            post("/v1/projects/p/locations/us-central1/publishers/google/models/gemini-2.0-flash:streamGenerateContent"),
            gemini("gemini-2.0-flash", gemini::Method::StreamGenerate, true)
        );
        assert_eq!(
            post("/v1beta/models/text-embedding-004:batchEmbedContents"),
            gemini("text-embedding-004", gemini::Method::BatchEmbed, false)
        );
        assert_eq!(
            post("/v1/projects/p/locations/l/publishers/google/models/text-embedding-005:predict"),
            gemini("text-embedding-005", gemini::Method::Predict, true)
        );
        assert_eq!(
            post("/v1/projects/p/locations/l/publishers/anthropic/models/claude-sonnet-4@20250514:streamRawPredict"),
            Some(Route::VertexAnthropic { model: "claude-sonnet-4@20250514".into(), stream: true })
        );
        assert_eq!(post("/v1beta/models/m:unknownVerb"), None);
        assert_eq!(post("/token"), Some(Route::GoogleToken));
        assert_eq!(
            post("/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse-stream"),
            Some(Route::Bedrock {
                model: "anthropic.claude-3-haiku-20240307-v1:0".into(),
                action: bedrock::Action::ConverseStream
            })
        );
        assert_eq!(
            post("/model/amazon.titan-embed-text-v2:0/invoke"),
            Some(Route::Bedrock {
                model: "amazon.titan-embed-text-v2:0".into(),
                action: bedrock::Action::Invoke
            })
        );
        assert_eq!(
            post("/endpoints/my-tgi/invocations"),
            Some(Route::SageMaker {
                endpoint: "my-tgi".into()
            })
        );
        assert_eq!(post("/v2/chat"), Some(Route::CohereChat));
        assert_eq!(post("/cohere/v2/embed"), Some(Route::CohereEmbed));
    }
}
