//! One HTTP exchange with a provider: connect (or reuse a pooled connection), send the request,
//! read the head, then hand the body out chunk by chunk so streams pass through as they arrive.

use super::{Endpoint, Resolver};
use bytes::{Bytes, BytesMut};
use http::{HeaderName, HeaderValue};
use pingora::connectors::http::Connector;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::protocols::http::client::HttpSession;
use pingora::protocols::http::v1::client::{http_req_header_to_wire, HttpSession as Http1Session};
use pingora::upstreams::peer::HttpPeer;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// How long an idle pooled connection to a provider is kept.
const POOL_IDLE: Duration = Duration::from_secs(90);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub struct UpstreamClient {
    connector: Connector,
    resolver: Arc<Resolver>,
}

pub struct UpstreamRequest<'a> {
    pub endpoint: &'a Endpoint,
    pub path_and_query: &'a str,
    pub headers: &'a [(HeaderName, HeaderValue)],
    pub body: Bytes,
}

/// Why an exchange failed before a response head arrived.
#[derive(Debug)]
pub enum UpstreamFailure {
    /// The provider could not be reached (DNS, connect, TLS, reset before the head).
    Unreachable(String),
    /// The deadline passed.
    Timeout,
    /// The answer is larger than the limit it was read with (bytes).
    TooLarge(usize),
}

pub struct UpstreamResponse {
    session: HttpSession,
    peer: HttpPeer,
}

impl Default for UpstreamClient {
    fn default() -> Self {
        UpstreamClient {
            connector: Connector::new(None),
            resolver: Arc::new(Resolver::default()),
        }
    }
}

impl UpstreamClient {
    /// A client whose connection pool is sized and bound as the server conf says
    /// (`upstream_keepalive_pool_size`, `client_bind_to_ipv4/6`, ...).
    pub fn from_server_conf(conf: &pingora::server::configuration::ServerConf) -> Self {
        UpstreamClient {
            connector: Connector::new(Some(
                pingora::connectors::ConnectorOptions::from_server_conf(conf),
            )),
            resolver: Arc::new(Resolver::default()),
        }
    }

    pub fn resolver(&self) -> &Arc<Resolver> {
        &self.resolver
    }

    pub async fn send(
        &self,
        req: UpstreamRequest<'_>,
        read_timeout: Option<Duration>,
    ) -> Result<UpstreamResponse, UpstreamFailure> {
        let ep = req.endpoint;
        let addr = self
            .resolver
            .resolve(&ep.host, ep.port)
            .await
            .map_err(UpstreamFailure::Unreachable)?;
        let mut peer = HttpPeer::new(addr, ep.tls, ep.host.clone());
        peer.options.connection_timeout = Some(CONNECT_TIMEOUT);
        peer.options.idle_timeout = Some(POOL_IDLE);
        peer.options.read_timeout = read_timeout;

        // A pooled connection may have been closed by the provider while idle. Only a request
        // that could not be written whole is sent again, on a fresh connection: once it was, the
        // provider may be working on it (and billing for it) even if the connection then dies,
        // and a second send would run it twice.
        let mut attempts = 0;
        loop {
            attempts += 1;
            let (session, reused) = self
                .connector
                .get_http_session(&peer)
                .await
                .map_err(|e| classify(&e))?;
            let head = build_head(&req).map_err(|e| UpstreamFailure::Unreachable(e.to_string()))?;
            let outcome = match session {
                HttpSession::H1(h1) if req.body.len() <= COALESCE_LIMIT => {
                    coalesced_exchange(h1, &head, &req.body).await
                }
                mut other => exchange(&mut other, head, req.body.clone())
                    .await
                    .map(|()| other),
            };
            match outcome {
                Ok(session) => return Ok(UpstreamResponse { session, peer }),
                Err(e)
                    if reused && attempts == 1 && e.etype() == &pingora::ErrorType::WriteError =>
                {
                    continue
                }
                Err(e) => return Err(classify(&e)),
            }
        }
    }

    /// Returns a fully read connection to the pool for the next request to that provider.
    pub async fn release(&self, resp: UpstreamResponse) {
        let UpstreamResponse { session, peer, .. } = resp;
        self.connector
            .release_http_session(session, &peer, Some(POOL_IDLE))
            .await;
    }
}

impl UpstreamResponse {
    /// The response head (read before `send` returned).
    pub fn header(&self) -> &ResponseHeader {
        static NONE: std::sync::OnceLock<ResponseHeader> = std::sync::OnceLock::new();
        self.session.response_header().unwrap_or_else(|| {
            NONE.get_or_init(|| ResponseHeader::from(http::Response::new(()).into_parts().0))
        })
    }

    pub fn status(&self) -> u16 {
        self.header().status.as_u16()
    }

    /// The next piece of the body as it arrived, `None` at its end.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>, UpstreamFailure> {
        self.session
            .read_response_body()
            .await
            .map_err(|e| classify(&e))
    }

    /// The whole body, refusing more than `limit` bytes.
    pub async fn read_to_end(&mut self, limit: usize) -> Result<Bytes, UpstreamFailure> {
        let mut buf = BytesMut::new();
        while let Some(chunk) = self.next_chunk().await? {
            if buf.len().saturating_add(chunk.len()) > limit {
                return Err(UpstreamFailure::TooLarge(limit));
            }
            if buf.is_empty() && self.session.response_done() {
                // A body that arrives in one piece needs no copy.
                return Ok(chunk);
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf.freeze())
    }
}

fn build_head(req: &UpstreamRequest<'_>) -> pingora::Result<RequestHeader> {
    let mut head = RequestHeader::build_no_case("POST", req.path_and_query.as_bytes(), Some(8))?;
    head.insert_header(http::header::HOST, req.endpoint.authority.as_str())?;
    head.insert_header(http::header::CONTENT_LENGTH, req.body.len())?;
    for (name, value) in req.headers {
        head.insert_header(name.clone(), value.clone())?;
    }
    Ok(head)
}

/// Requests up to this size go out in one write: head and body together.
const COALESCE_LIMIT: usize = 64 * 1024;

/// Pingora's H1 client flushes the request head before the body, costing a second send (and a
/// second wake-up at the provider) per call. For requests that fit, write both at once on the
/// session's connection, then let a fresh session over the same connection read the answer.
async fn send_coalesced(
    h1: Http1Session,
    head: &RequestHeader,
    body: &Bytes,
) -> pingora::Result<Http1Session> {
    let (read_timeout, write_timeout) = (h1.read_timeout, h1.write_timeout);
    let mut stream = h1.into_inner();
    let mut wire = http_req_header_to_wire(head).ok_or_else(|| {
        pingora::Error::explain(
            pingora::ErrorType::InvalidHTTPHeader,
            "unwritable request head",
        )
    })?;
    wire.extend_from_slice(body);
    let write = async {
        stream.write_all(&wire).await?;
        stream.flush().await
    };
    let written = match write_timeout {
        Some(t) => tokio::time::timeout(t, write)
            .await
            .unwrap_or_else(|_| Err(std::io::Error::from(std::io::ErrorKind::TimedOut))),
        None => write.await,
    };
    written.map_err(|e| {
        let kind = if e.kind() == std::io::ErrorKind::TimedOut {
            pingora::ErrorType::WriteTimedout
        } else {
            pingora::ErrorType::WriteError
        };
        pingora::Error::because(kind, "while writing the request", e)
    })?;
    let mut session = Http1Session::new(stream);
    session.read_timeout = read_timeout;
    session.write_timeout = write_timeout;
    Ok(session)
}

async fn coalesced_exchange(
    h1: Http1Session,
    head: &RequestHeader,
    body: &Bytes,
) -> pingora::Result<HttpSession> {
    let mut session = HttpSession::H1(send_coalesced(h1, head, body).await?);
    session.read_response_header().await?;
    match session.response_header() {
        Some(_) => Ok(session),
        None => pingora::Error::e_explain(
            pingora::ErrorType::InvalidHTTPHeader,
            "no response header from upstream",
        ),
    }
}

async fn exchange(
    session: &mut HttpSession,
    head: RequestHeader,
    body: Bytes,
) -> pingora::Result<()> {
    session.write_request_header(Box::new(head)).await?;
    session.write_request_body(body, true).await?;
    session.finish_request_body().await?;
    session.read_response_header().await?;
    match session.response_header() {
        Some(_) => Ok(()),
        None => pingora::Error::e_explain(
            pingora::ErrorType::InvalidHTTPHeader,
            "no response header from upstream",
        ),
    }
}

fn is_timeout(e: &pingora::Error) -> bool {
    matches!(
        e.etype(),
        pingora::ErrorType::ReadTimedout
            | pingora::ErrorType::WriteTimedout
            | pingora::ErrorType::ConnectTimedout
    )
}

fn classify(e: &pingora::Error) -> UpstreamFailure {
    if is_timeout(e) {
        UpstreamFailure::Timeout
    } else {
        UpstreamFailure::Unreachable(e.to_string())
    }
}
