//! The OTLP exporter behind the `otel` callback, off the request path. A finished call's spans
//! go into a bounded queue with `try_send`: a full queue drops them (counted in
//! `tollgate_otel_spans_dropped_total`), it never makes a call wait. One thread of its own, with
//! its own single-threaded Tokio runtime, takes them in batches and exports them (OTLP over
//! HTTP/protobuf or gRPC), each export bounded in time, so a dead or slow collector costs the
//! gateway at most a full queue.
//!
//! The thread is started by a background service (`TraceExporter`), after Pingora has
//! daemonized: a thread started before the fork would not exist in the daemon.

use crate::config::traces::{OtlpProtocol, TraceSettings};
use async_trait::async_trait;
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig, WithTonicConfig};
use opentelemetry_sdk::trace::{SpanData, SpanExporter as _};
use opentelemetry_sdk::Resource;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use prometheus::IntCounter;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Calls whose spans may wait for the exporter; past that, new ones are dropped.
pub const QUEUE_CALLS: usize = 4096;
/// Spans in one export request, at most.
const MAX_BATCH_SPANS: usize = 512;
/// How long the first spans of a batch wait for more before they are sent.
const BATCH_DELAY: Duration = Duration::from_millis(500);
/// One export, retries included; a collector slower than this loses that batch.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);
/// At shutdown, how long the last spans may take to go out.
const FINAL_FLUSH: Duration = Duration::from_secs(3);

/// Where the request path hands finished spans (held by the `Gateway` when `otel` is on).
pub struct SpanSink {
    tx: mpsc::Sender<Vec<SpanData>>,
    rx: Mutex<Option<mpsc::Receiver<Vec<SpanData>>>>,
    settings: TraceSettings,
    dropped: IntCounter,
    exported: IntCounter,
    failed_exports: IntCounter,
    /// The exporter has sent what the last calls queued (the drain before exit waits for it).
    flushed: AtomicBool,
}

impl SpanSink {
    pub fn new(
        settings: TraceSettings,
        dropped: IntCounter,
        exported: IntCounter,
        failed_exports: IntCounter,
    ) -> SpanSink {
        let (tx, rx) = mpsc::channel(QUEUE_CALLS);
        SpanSink {
            tx,
            rx: Mutex::new(Some(rx)),
            settings,
            dropped,
            exported,
            failed_exports,
            flushed: AtomicBool::new(false),
        }
    }

    pub fn flushed(&self) -> bool {
        self.flushed.load(Ordering::Acquire)
    }

    /// Queues one call's spans, or drops them when the queue is full (or the exporter is gone).
    /// Never blocks, never awaits.
    pub fn submit(&self, spans: Vec<SpanData>) {
        if spans.is_empty() {
            return;
        }
        if let Err(e) = self.tx.try_send(spans) {
            let lost = match e {
                mpsc::error::TrySendError::Full(s) | mpsc::error::TrySendError::Closed(s) => s,
            };
            self.dropped.inc_by(lost.len() as u64);
        }
    }

    pub fn dropped(&self) -> u64 {
        self.dropped.get()
    }

    /// The queue's receiving end, once (for the exporter thread, or a test).
    pub fn take_receiver(&self) -> Option<mpsc::Receiver<Vec<SpanData>>> {
        self.rx.lock().ok().and_then(|mut r| r.take())
    }
}

/// The background service that runs the exporter thread and, at shutdown, once the calls in
/// flight are done, has it send what they queued.
pub struct TraceExporter {
    pub sink: Arc<SpanSink>,
    /// The gateway's open requests: their spans are still to come.
    pub open_requests: Arc<AtomicUsize>,
}

#[async_trait]
impl BackgroundService for TraceExporter {
    async fn start(&self, shutdown: ShutdownWatch) {
        self.run(shutdown).await;
        self.sink.flushed.store(true, Ordering::Release);
    }
}

impl TraceExporter {
    async fn run(&self, mut shutdown: ShutdownWatch) {
        let Some(rx) = self.sink.take_receiver() else {
            return;
        };
        let (stop_tx, stop_rx) = watch::channel(false);
        let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
        let sink = Arc::clone(&self.sink);
        let spawned = std::thread::Builder::new()
            .name("otel-export".into())
            .spawn(move || {
                export_thread(&sink, rx, stop_rx);
                let _ = done_tx.send(());
            });
        if let Err(e) = spawned {
            log::error!("otel: the exporter thread could not start ({e}); no traces are sent");
            return;
        }
        let _ = shutdown.changed().await;
        while self.open_requests.load(Ordering::Acquire) > 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = stop_tx.send(true);
        if tokio::time::timeout(FINAL_FLUSH, done_rx).await.is_err() {
            log::warn!("otel: the last spans were not all sent before shutdown");
        }
    }
}

fn export_thread(sink: &SpanSink, rx: mpsc::Receiver<Vec<SpanData>>, stop: watch::Receiver<bool>) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            log::error!("otel: no runtime for the exporter ({e}); no traces are sent");
            return;
        }
    };
    runtime.block_on(async {
        let exporter = match build_exporter(&sink.settings) {
            Ok(e) => e,
            Err(e) => {
                log::error!(
                    "otel: the exporter to {} could not be built ({e}); no traces are sent",
                    sink.settings.endpoint
                );
                return;
            }
        };
        log::info!(
            "otel: exporting traces to {} ({})",
            sink.settings.endpoint,
            match sink.settings.protocol {
                OtlpProtocol::HttpProtobuf => "http/protobuf",
                OtlpProtocol::Grpc => "grpc",
            }
        );
        run_batches(&exporter, rx, stop, sink).await;
        let _ = exporter.shutdown_with_timeout(Duration::from_millis(200));
    });
}

/// Batches of at most `MAX_BATCH_SPANS`, each sent `BATCH_DELAY` after its first spans came
/// (or as soon as it is full); at `stop`, what is queued goes out once more.
async fn run_batches(
    exporter: &opentelemetry_otlp::SpanExporter,
    mut rx: mpsc::Receiver<Vec<SpanData>>,
    mut stop: watch::Receiver<bool>,
    sink: &SpanSink,
) {
    let mut batch: Vec<SpanData> = Vec::new();
    let mut stopping = false;
    while !stopping {
        tokio::select! {
            got = rx.recv() => match got {
                Some(spans) => batch.extend(spans),
                None => stopping = true,
            },
            _ = stop.changed() => stopping = true,
        }
        let deadline = tokio::time::Instant::now() + BATCH_DELAY;
        while !stopping && batch.len() < MAX_BATCH_SPANS {
            tokio::select! {
                got = rx.recv() => match got {
                    Some(spans) => batch.extend(spans),
                    None => stopping = true,
                },
                _ = tokio::time::sleep_until(deadline) => break,
                _ = stop.changed() => stopping = true,
            }
        }
        if stopping {
            while let Ok(spans) = rx.try_recv() {
                batch.extend(spans);
            }
        }
        while !batch.is_empty() {
            let rest = batch.split_off(batch.len().min(MAX_BATCH_SPANS));
            let n = batch.len() as u64;
            let sent = tokio::time::timeout(EXPORT_TIMEOUT, exporter.export(batch)).await;
            match sent {
                Ok(Ok(())) => sink.exported.inc_by(n),
                Ok(Err(e)) => {
                    sink.failed_exports.inc();
                    log::debug!("otel: an export of {n} spans failed: {e}");
                }
                Err(_) => {
                    sink.failed_exports.inc();
                    log::debug!("otel: an export of {n} spans timed out");
                }
            }
            batch = rest;
        }
    }
}

fn build_exporter(s: &TraceSettings) -> Result<opentelemetry_otlp::SpanExporter, String> {
    let mut exporter = match s.protocol {
        OtlpProtocol::HttpProtobuf => {
            let headers = s
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), v.expose().to_string()))
                .collect();
            let client = opentelemetry_http::hyper::HyperClient::with_default_connector(
                EXPORT_TIMEOUT,
                None,
            );
            opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_http_client(client)
                .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                .with_endpoint(s.endpoint.clone())
                .with_timeout(EXPORT_TIMEOUT)
                .with_headers(headers)
                .build()
        }
        OtlpProtocol::Grpc => {
            let mut headers = http::HeaderMap::new();
            for (k, v) in &s.headers {
                let name = http::HeaderName::from_bytes(k.to_ascii_lowercase().as_bytes());
                let value = http::HeaderValue::from_str(v.expose());
                if let (Ok(name), Ok(value)) = (name, value) {
                    headers.insert(name, value);
                }
            }
            let metadata =
                opentelemetry_otlp::tonic_types::metadata::MetadataMap::from_headers(headers);
            opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_protocol(opentelemetry_otlp::Protocol::Grpc)
                .with_endpoint(s.endpoint.clone())
                .with_timeout(EXPORT_TIMEOUT)
                .with_metadata(metadata)
                .build()
        }
    }
    .map_err(|e| e.to_string())?;
    exporter.set_resource(&resource(&s.service_name));
    Ok(exporter)
}

/// `service.name` and the SDK's own attributes; nothing read from the host.
pub fn resource(service_name: &str) -> Resource {
    Resource::builder_empty()
        .with_service_name(service_name.to_string())
        .with_attributes([
            opentelemetry::KeyValue::new("telemetry.sdk.name", "opentelemetry"),
            opentelemetry::KeyValue::new("telemetry.sdk.language", "rust"),
            opentelemetry::KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
        ])
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sink() -> SpanSink {
        let c = |n: &str| IntCounter::new(n, "test").unwrap(); // ok: test
        SpanSink::new(TraceSettings::default(), c("d"), c("e"), c("f"))
    }

    fn one_span() -> Vec<SpanData> {
        let t = crate::telemetry::traces::CallTrace::start(
            &http::HeaderMap::new(),
            std::time::Instant::now(),
            crate::canonical::request::Operation::Chat,
        );
        let summary = crate::lifecycle::CallSummary::default();
        t.finish(&crate::telemetry::traces::CallEnd {
            call_id: "c",
            route: "/v1/chat/completions",
            group: None,
            deployment: None,
            summary: &summary,
            key: None,
            cache_hit: false,
        })
    }

    #[test]
    fn otel_a_full_queue_drops_and_counts_without_waiting() {
        let s = sink();
        let started = std::time::Instant::now();
        for _ in 0..QUEUE_CALLS + 10 {
            s.submit(one_span());
        }
        assert_eq!(s.dropped(), 10);
        assert!(started.elapsed() < Duration::from_secs(5));
        // The exporter gone: every span dropped, still no wait.
        drop(s.take_receiver());
        s.submit(one_span());
        assert_eq!(s.dropped(), 11);
        s.submit(Vec::new());
        assert_eq!(s.dropped(), 11);
    }

    #[test]
    fn otel_exporters_build_for_both_protocols() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap(); // ok: test
        rt.block_on(async {
            let mut s = TraceSettings {
                enabled: true,
                endpoint: "http://127.0.0.1:9/v1/traces".into(),
                ..TraceSettings::default()
            };
            assert!(build_exporter(&s).is_ok());
            s.protocol = OtlpProtocol::Grpc;
            s.endpoint = "http://127.0.0.1:9".into();
            assert!(build_exporter(&s).is_ok());
            s.protocol = OtlpProtocol::HttpProtobuf;
            s.endpoint = "not a url".into();
            assert!(build_exporter(&s).is_err());
        });
    }
}
