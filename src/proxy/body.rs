//! Reading the client's request body, bounded by `max_request_size_mb` and by a deadline for the
//! whole of it (a client trickling a byte a minute must not hold a connection forever).

use crate::error::GatewayError;
use bytes::{Bytes, BytesMut};
use pingora::proxy::Session;
use std::time::Duration;

pub async fn read_bounded(
    session: &mut Session,
    limit: usize,
    deadline: Duration,
) -> Result<Bytes, GatewayError> {
    match tokio::time::timeout(deadline, read(session, limit)).await {
        Ok(read) => read,
        Err(_) => {
            session.set_keepalive(None);
            Err(GatewayError::new(
                408,
                "timeout",
                format!(
                    "the request body did not arrive within {} seconds",
                    deadline.as_secs_f64()
                ),
            ))
        }
    }
}

async fn read(session: &mut Session, limit: usize) -> Result<Bytes, GatewayError> {
    let declared = session
        .req_header()
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        // Refuse before reading a byte; the unread body makes the connection unusable.
        session.set_keepalive(None);
        return Err(GatewayError::too_large(limit));
    }
    let expects_continue = session
        .req_header()
        .headers
        .get(http::header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    if expects_continue {
        session
            .as_downstream_mut()
            .write_continue_response()
            .await
            .map_err(|e| GatewayError::bad_request(format!("cannot read the request body: {e}")))?;
    }
    let mut buf = BytesMut::with_capacity(declared.unwrap_or(0).min(limit));
    loop {
        let chunk = session
            .read_request_body()
            .await
            .map_err(|e| GatewayError::bad_request(format!("cannot read the request body: {e}")))?;
        let Some(chunk) = chunk else { break };
        if buf.len().saturating_add(chunk.len()) > limit {
            session.set_keepalive(None);
            return Err(GatewayError::too_large(limit));
        }
        if buf.is_empty() && declared == Some(chunk.len()) {
            // The whole body arrived in one read: no copy.
            return Ok(chunk);
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}
