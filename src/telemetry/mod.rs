//! What the gateway tells operators about itself: the Prometheus exporter on `/metrics`, with
//! LiteLLM's metric and label names; OpenTelemetry traces over OTLP (the `otel` callback).

pub mod labels;
pub mod logs;
pub mod metrics;
pub mod names;
pub mod observer;
pub mod otlp;
pub mod otlp_tls;
pub mod traces;
