//! TLS for an `https://` collector, for both transports: the roots a collector's certificate is
//! checked against (the system's, Mozilla's, and `OTEL_EXPORTER_OTLP_CERTIFICATE`) and the
//! client identity a collector may ask for. Files are read once, when the exporter is built; a
//! file that cannot be read or holds no PEM item is an error that says which.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use opentelemetry_http::hyper::HyperClient;
use opentelemetry_otlp::tonic_types::transport::{Certificate, ClientTlsConfig, Identity};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::traces::OtlpTls;

/// The HTTP exporter's client: plain `http://` or `https://`, whichever the endpoint says.
pub fn http_client(
    tls: &OtlpTls,
    timeout: Duration,
) -> Result<HyperClient<HttpsConnector<HttpConnector>>, String> {
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(client_config(tls)?)
        .https_or_http()
        .enable_http1()
        .build();
    Ok(HyperClient::new(connector, timeout, None))
}

fn client_config(tls: &OtlpTls) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    if let Some(path) = &tls.ca_file {
        for cert in certificates(path)? {
            roots
                .add(cert)
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots);
    match identity_files(tls) {
        Some((cert, key)) => {
            let key =
                PrivateKeyDer::from_pem_file(key).map_err(|e| format!("{}: {e}", key.display()))?;
            builder
                .with_client_auth_cert(certificates(cert)?, key)
                .map_err(|e| format!("client certificate {}: {e}", cert.display()))
        }
        None => Ok(builder.with_no_client_auth()),
    }
}

/// The gRPC exporter's TLS settings, for an `https://` endpoint.
pub fn grpc_config(tls: &OtlpTls) -> Result<ClientTlsConfig, String> {
    let mut config = ClientTlsConfig::new().with_webpki_roots();
    // tonic refuses to connect when asked for native roots and the system has none.
    if !rustls_native_certs::load_native_certs().certs.is_empty() {
        config = config.with_native_roots();
    }
    if let Some(path) = &tls.ca_file {
        certificates(path)?;
        config = config.ca_certificate(Certificate::from_pem(read(path)?));
    }
    if let Some((cert, key)) = identity_files(tls) {
        certificates(cert)?;
        PrivateKeyDer::from_pem_file(key).map_err(|e| format!("{}: {e}", key.display()))?;
        config = config.identity(Identity::from_pem(read(cert)?, read(key)?));
    }
    Ok(config)
}

fn identity_files(tls: &OtlpTls) -> Option<(&Path, &Path)> {
    Some((
        tls.client_cert_file.as_deref()?,
        tls.client_key_file.as_deref()?,
    ))
}

/// Every certificate in a PEM file; none is an error.
fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|items| items.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no PEM certificate in it", path.display()));
    }
    Ok(certs)
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn otel_tls_files_that_are_missing_or_not_pem_are_errors_naming_them() {
        let dir = std::env::temp_dir().join(format!("tollgate-otlp-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap(); // ok: test
        let junk = dir.join("junk.pem");
        std::fs::write(&junk, "not a certificate").unwrap(); // ok: test
        let missing = dir.join("missing.pem");
        for ca in [&junk, &missing] {
            let tls = OtlpTls {
                ca_file: Some(ca.clone()),
                ..OtlpTls::default()
            };
            let http = http_client(&tls, Duration::from_secs(1)).err();
            let grpc = grpc_config(&tls).err();
            for err in [http, grpc] {
                let err = err.unwrap_or_default();
                assert!(err.contains(&ca.display().to_string()), "{err}");
            }
        }
        // Without files, both build: the public roots are enough for a public collector.
        assert!(http_client(&OtlpTls::default(), Duration::from_secs(1)).is_ok());
        assert!(grpc_config(&OtlpTls::default()).is_ok());
        std::fs::remove_dir_all(&dir).ok();
    }
}
