//! `"otel"` in `litellm_settings.callbacks` (or `success_callback` / `failure_callback`), as on a
//! LiteLLM proxy: OpenTelemetry traces, exported over OTLP. Where to is read from the standard
//! variables (through the config's `environment_variables` too): `OTEL_EXPORTER_OTLP_ENDPOINT`
//! (`/v1/traces` appended for HTTP), `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (as it is),
//! `OTEL_EXPORTER_OTLP_PROTOCOL` (`http/protobuf`, the default, or `grpc`),
//! `OTEL_EXPORTER_OTLP_HEADERS` (`k=v,k=v`), `OTEL_SERVICE_NAME` (`tollgate`). An `https://`
//! endpoint is verified against the system's roots, Mozilla's and `OTEL_EXPORTER_OTLP_CERTIFICATE`
//! (a PEM file); `OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE` / `_CLIENT_KEY` give a client identity
//! (mTLS); `OTEL_EXPORTER_OTLP_INSECURE` decides a schemeless gRPC endpoint's scheme. Each has its
//! `OTEL_EXPORTER_OTLP_TRACES_*` form, which wins. Read once at start: a reload does not start or
//! stop the exporter.

use std::path::PathBuf;

use super::yaml::{Diagnostics, EnvSource};
use crate::secret::Secret;

pub const DEFAULT_SERVICE_NAME: &str = "tollgate";
const DEFAULT_HTTP_ENDPOINT: &str = "http://localhost:4318";
const DEFAULT_GRPC_ENDPOINT: &str = "http://localhost:4317";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OtlpProtocol {
    #[default]
    HttpProtobuf,
    Grpc,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceSettings {
    /// `otel` is among the callbacks.
    pub enabled: bool,
    pub protocol: OtlpProtocol,
    /// The full URL spans are sent to (`.../v1/traces` for HTTP; the collector's base for gRPC).
    pub endpoint: String,
    /// `OTEL_EXPORTER_OTLP_HEADERS` (and `..._TRACES_HEADERS`): often a collector's credential.
    pub headers: Vec<(String, Secret)>,
    pub service_name: String,
    pub tls: OtlpTls,
}

/// PEM files for an `https://` collector; none needed for one with a public certificate.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OtlpTls {
    /// Trusted beside the system's and Mozilla's roots.
    pub ca_file: Option<PathBuf>,
    /// The client certificate chain and its key, for a collector that asks for one.
    pub client_cert_file: Option<PathBuf>,
    pub client_key_file: Option<PathBuf>,
}

impl Default for TraceSettings {
    fn default() -> Self {
        TraceSettings {
            enabled: false,
            protocol: OtlpProtocol::HttpProtobuf,
            endpoint: format!("{DEFAULT_HTTP_ENDPOINT}/v1/traces"),
            headers: Vec::new(),
            service_name: DEFAULT_SERVICE_NAME.to_string(),
            tls: OtlpTls::default(),
        }
    }
}

impl TraceSettings {
    /// The exporter's settings from the environment, once `otel` is on.
    pub fn read_env(&mut self, env: &EnvSource, diag: &mut Diagnostics, at: &str) {
        if !self.enabled {
            return;
        }
        let protocol = env.first_of(&[
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ]);
        self.protocol = match protocol.as_deref().map(str::trim) {
            None | Some("http/protobuf") => OtlpProtocol::HttpProtobuf,
            Some("grpc") => OtlpProtocol::Grpc,
            Some(other) => {
                diag.warn(
                    at,
                    format!("OTEL_EXPORTER_OTLP_PROTOCOL {other:?} is not supported (http/protobuf or grpc); using http/protobuf"),
                );
                OtlpProtocol::HttpProtobuf
            }
        };
        self.endpoint = endpoint(
            self.protocol,
            env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").as_deref(),
            env.get("OTEL_EXPORTER_OTLP_ENDPOINT").as_deref(),
        );
        if self.protocol == OtlpProtocol::Grpc {
            let insecure = env.first_of(&[
                "OTEL_EXPORTER_OTLP_TRACES_INSECURE",
                "OTEL_EXPORTER_OTLP_INSECURE",
            ]);
            let insecure = insecure.is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
            self.endpoint = with_scheme(&self.endpoint, insecure);
        }
        let mut file = |name: &str| {
            let path = env.first_of(&[
                &format!("OTEL_EXPORTER_OTLP_TRACES_{name}"),
                &format!("OTEL_EXPORTER_OTLP_{name}"),
            ])?;
            let path = PathBuf::from(path.trim());
            if !path.is_file() {
                diag.warn(
                    at,
                    format!("OTEL_EXPORTER_OTLP_{name} {} is not a readable file; the exporter will not start", path.display()),
                );
            }
            Some(path)
        };
        self.tls = OtlpTls {
            ca_file: file("CERTIFICATE"),
            client_cert_file: file("CLIENT_CERTIFICATE"),
            client_key_file: file("CLIENT_KEY"),
        };
        if self.tls.client_cert_file.is_some() != self.tls.client_key_file.is_some() {
            diag.warn(
                at,
                "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and OTEL_EXPORTER_OTLP_CLIENT_KEY go together; the one given alone is ignored",
            );
        }
        let headers = env.first_of(&[
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
            "OTEL_EXPORTER_OTLP_HEADERS",
        ]);
        self.headers = headers.as_deref().map(parse_headers).unwrap_or_default();
        if let Some(name) = env.get("OTEL_SERVICE_NAME") {
            self.service_name = name.trim().to_string();
        }
    }
}

/// The URL spans go to: the traces endpoint as given, else the general one with `/v1/traces`
/// (HTTP only; gRPC names the service, not a path), else the collector on localhost.
pub fn endpoint(protocol: OtlpProtocol, traces: Option<&str>, general: Option<&str>) -> String {
    if let Some(t) = traces.map(str::trim).filter(|t| !t.is_empty()) {
        return t.to_string();
    }
    let (default, path) = match protocol {
        OtlpProtocol::HttpProtobuf => (DEFAULT_HTTP_ENDPOINT, "/v1/traces"),
        OtlpProtocol::Grpc => (DEFAULT_GRPC_ENDPOINT, ""),
    };
    let base = general
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .unwrap_or(default);
    format!("{}{path}", base.trim_end_matches('/'))
}

/// A gRPC endpoint without a scheme is `https://` unless the insecure flag says `http://`, as
/// the OTLP exporter spec has it; one with a scheme keeps it.
pub fn with_scheme(endpoint: &str, insecure: bool) -> String {
    if endpoint.contains("://") {
        endpoint.to_string()
    } else if insecure {
        format!("http://{endpoint}")
    } else {
        format!("https://{endpoint}")
    }
}

/// `k=v,k=v` (values may be percent-encoded, as the spec allows); malformed pairs are skipped.
pub fn parse_headers(text: &str) -> Vec<(String, Secret)> {
    text.split(',')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            let (k, v) = (k.trim(), crate::percent::decode(v.trim(), false));
            (!k.is_empty()).then(|| (k.to_string(), Secret::new(v)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn otel_endpoints_follow_the_spec() {
        let http = OtlpProtocol::HttpProtobuf;
        assert_eq!(
            endpoint(http, None, None),
            "http://localhost:4318/v1/traces"
        );
        assert_eq!(
            endpoint(http, None, Some("http://c:4318/")),
            "http://c:4318/v1/traces"
        );
        assert_eq!(
            endpoint(http, Some("http://c/x"), Some("http://d")),
            "http://c/x"
        );
        let grpc = OtlpProtocol::Grpc;
        assert_eq!(endpoint(grpc, None, None), "http://localhost:4317");
        assert_eq!(endpoint(grpc, None, Some("http://c:4317")), "http://c:4317");
        assert_eq!(with_scheme("c:4317", false), "https://c:4317");
        assert_eq!(with_scheme("c:4317", true), "http://c:4317");
        assert_eq!(with_scheme("http://c:4317", false), "http://c:4317");
    }

    #[test]
    fn otel_headers_parse_and_skip_junk() {
        let h = parse_headers("api-key=a%20b, x=1,junk,=v,y==2");
        let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (k.as_str(), v.expose())).collect();
        assert_eq!(h, vec![("api-key", "a b"), ("x", "1"), ("y", "=2")]);
    }
}
