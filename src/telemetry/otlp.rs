//! The OTLP exporter behind the `otel` callback, off the request path. A finished call's spans
//! go into a bounded queue with `try_send`: a full queue drops them (counted in
//! `tollgate_otel_spans_dropped_total`), it never makes a call wait. One thread of its own, with
//! its own single-threaded Tokio runtime, takes them in batches and exports them (OTLP over
//! HTTP/protobuf or gRPC), each export bounded in time, so a dead or slow collector costs the
//! gateway at most a full queue.
//!
//! A failed export marks the collector down for a backoff (1 s, doubling to 30 s): calls then
//! build no spans at all (they are counted as dropped), so a dead collector costs a call one
//! atomic load rather than spans built and encoded only to be thrown away. When the backoff
//! ends the next call's spans are sent at once, as the probe; success restores batching.
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
use prometheus::{IntCounter, IntGauge};
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
/// After a failed export, how long calls build no spans; doubled on each failed probe.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The exporter's metrics (`tollgate_otel_*`).
pub struct ExportCounters {
    pub dropped: IntCounter,
    pub exported: IntCounter,
    pub failed_exports: IntCounter,
    /// 1 while the collector takes exports (or has not been tried), 0 while backing off.
    pub collector_up: IntGauge,
}

/// Where the request path hands finished spans (held by the `Gateway` when `otel` is on).
pub struct SpanSink {
    tx: mpsc::Sender<Vec<SpanData>>,
    rx: Mutex<Option<mpsc::Receiver<Vec<SpanData>>>>,
    settings: TraceSettings,
    counters: ExportCounters,
    /// The last export failed and its backoff has not ended: calls build no spans.
    collector_down: AtomicBool,
    /// The exporter has sent what the last calls queued (the drain before exit waits for it).
    flushed: AtomicBool,
}

impl SpanSink {
    pub fn new(settings: TraceSettings, counters: ExportCounters) -> SpanSink {
        let (tx, rx) = mpsc::channel(QUEUE_CALLS);
        counters.collector_up.set(1);
        SpanSink {
            tx,
            rx: Mutex::new(Some(rx)),
            settings,
            counters,
            collector_down: AtomicBool::new(false),
            flushed: AtomicBool::new(false),
        }
    }

    /// Whether a finished call should build its spans: not while the collector is down or the
    /// queue is full, when they could only be dropped.
    pub fn wants_spans(&self) -> bool {
        !self.collector_down.load(Ordering::Relaxed) && self.tx.capacity() > 0
    }

    /// A call's `spans` not built (`wants_spans` said no): counted as dropped.
    pub fn skipped(&self, spans: usize) {
        self.counters.dropped.inc_by(spans as u64);
    }

    fn set_collector_down(&self, down: bool) {
        self.collector_down.store(down, Ordering::Relaxed);
        self.counters.collector_up.set(i64::from(!down));
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
            self.counters.dropped.inc_by(lost.len() as u64);
        }
    }

    pub fn dropped(&self) -> u64 {
        self.counters.dropped.get()
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
/// (or as soon as it is full); at `stop`, what is queued goes out once more. A failed export
/// starts a backoff during which calls build no spans; the first spans after it are the probe.
async fn run_batches(
    exporter: &opentelemetry_otlp::SpanExporter,
    mut rx: mpsc::Receiver<Vec<SpanData>>,
    mut stop: watch::Receiver<bool>,
    sink: &SpanSink,
) {
    let mut batch: Vec<SpanData> = Vec::new();
    let mut backoff = FIRST_BACKOFF;
    let mut probing = false;
    let mut stopping = false;
    while !stopping {
        let delay = if probing { Duration::ZERO } else { BATCH_DELAY };
        stopping = collect_batch(&mut rx, &mut stop, &mut batch, delay).await;
        let sent = send_batch(exporter, &mut batch, sink).await;
        if let Ok(()) = sent {
            if probing {
                log::info!(
                    "otel: the collector at {} takes spans again",
                    sink.settings.endpoint
                );
            }
            probing = false;
            backoff = FIRST_BACKOFF;
            continue;
        }
        if stopping {
            break;
        }
        if let (false, Err(why)) = (probing, sent) {
            log::warn!(
                "otel: exports to {} fail ({why}); no spans are built until it answers (retried after {} s, then less often)",
                sink.settings.endpoint,
                backoff.as_secs()
            );
        }
        sink.set_collector_down(true);
        stopping = drop_for(&mut rx, &mut stop, backoff, sink).await;
        sink.set_collector_down(false);
        backoff = (backoff * 2).min(MAX_BACKOFF);
        probing = true;
    }
}

/// Waits for the first spans (or `stop`), then up to `delay` for more, until a batch is full.
/// True when the exporter is to stop (what was queued is in `batch`).
async fn collect_batch(
    rx: &mut mpsc::Receiver<Vec<SpanData>>,
    stop: &mut watch::Receiver<bool>,
    batch: &mut Vec<SpanData>,
    delay: Duration,
) -> bool {
    let mut stopping = false;
    tokio::select! {
        got = rx.recv() => match got {
            Some(spans) => batch.extend(spans),
            None => stopping = true,
        },
        _ = stop.changed() => stopping = true,
    }
    let deadline = tokio::time::Instant::now() + delay;
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
    if stopping || delay.is_zero() {
        while let Ok(spans) = rx.try_recv() {
            batch.extend(spans);
        }
    }
    stopping
}

/// Sends `batch` in exports of at most `MAX_BATCH_SPANS`; after a failure the rest is dropped
/// rather than sent to a collector that just failed. False when an export failed.
async fn send_batch(
    exporter: &opentelemetry_otlp::SpanExporter,
    batch: &mut Vec<SpanData>,
    sink: &SpanSink,
) -> Result<(), String> {
    while !batch.is_empty() {
        let rest = batch.split_off(batch.len().min(MAX_BATCH_SPANS));
        let n = std::mem::replace(batch, rest);
        let count = n.len() as u64;
        let failure = match tokio::time::timeout(EXPORT_TIMEOUT, exporter.export(n)).await {
            Ok(Ok(())) => {
                sink.counters.exported.inc_by(count);
                continue;
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no answer in {} s", EXPORT_TIMEOUT.as_secs()),
        };
        log::debug!("otel: an export of {count} spans failed: {failure}");
        export_failed(count, batch, sink);
        return Err(failure);
    }
    Ok(())
}

/// The `lost` spans of the failed export and the `rest` not sent are dropped.
fn export_failed(lost: u64, rest: &mut Vec<SpanData>, sink: &SpanSink) {
    sink.counters.failed_exports.inc();
    sink.counters.dropped.inc_by(lost + rest.len() as u64);
    rest.clear();
}

/// The backoff: for `wait`, spans that still arrive (queued before it began) are dropped.
/// True when the exporter is to stop.
async fn drop_for(
    rx: &mut mpsc::Receiver<Vec<SpanData>>,
    stop: &mut watch::Receiver<bool>,
    wait: Duration,
    sink: &SpanSink,
) -> bool {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        tokio::select! {
            got = rx.recv() => match got {
                Some(spans) => sink.counters.dropped.inc_by(spans.len() as u64),
                None => return true,
            },
            _ = tokio::time::sleep_until(deadline) => return false,
            _ = stop.changed() => return true,
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
            let client = super::otlp_tls::http_client(&s.tls, EXPORT_TIMEOUT)?;
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
            let mut builder = opentelemetry_otlp::SpanExporter::builder().with_tonic();
            if s.endpoint.starts_with("https://") {
                builder = builder.with_tls_config(super::otlp_tls::grpc_config(&s.tls)?);
            }
            builder
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
        let counters = ExportCounters {
            dropped: c("d"),
            exported: c("e"),
            failed_exports: c("f"),
            collector_up: IntGauge::new("u", "test").unwrap(), // ok: test
        };
        SpanSink::new(TraceSettings::default(), counters)
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
    fn otel_a_failed_export_stops_span_building_until_the_backoff_ends() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap(); // ok: test
        rt.block_on(async {
            // A port nothing listens on: every export is refused at once.
            let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap(); // ok: test
            let port = closed.local_addr().unwrap().port(); // ok: test
            drop(closed);
            let mut s = sink();
            s.settings.endpoint = format!("http://127.0.0.1:{port}/v1/traces");
            let s = Arc::new(s);
            let exporter = build_exporter(&s.settings).unwrap(); // ok: test
            let rx = s.take_receiver().unwrap(); // ok: test
            let (stop_tx, stop_rx) = watch::channel(false);
            let runner = Arc::clone(&s);
            let task = tokio::spawn(async move {
                run_batches(&exporter, rx, stop_rx, &runner).await;
            });
            assert!(s.wants_spans());
            assert_eq!(s.counters.collector_up.get(), 1);
            s.submit(one_span());
            let started = tokio::time::Instant::now();
            while s.wants_spans() && started.elapsed() < Duration::from_secs(5) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            assert!(!s.wants_spans(), "the collector is marked down");
            assert_eq!(s.counters.collector_up.get(), 0);
            assert_eq!(s.counters.failed_exports.get(), 1);
            assert_eq!(s.dropped(), 1);
            // The backoff ends: calls build spans again, and the next ones are the probe.
            while !s.wants_spans() && started.elapsed() < Duration::from_secs(5) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            assert!(s.wants_spans(), "the backoff ended");
            s.submit(one_span());
            while s.counters.failed_exports.get() < 2 && started.elapsed() < Duration::from_secs(5)
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            assert_eq!(
                s.counters.failed_exports.get(),
                2,
                "the probe was sent at once"
            );
            assert!(!s.wants_spans(), "a failed probe backs off again");
            let _ = stop_tx.send(true);
            task.await.unwrap(); // ok: test
            assert_eq!(s.counters.exported.get(), 0);
        });
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
