//! The mock's side of a connection: an IO wrapper that resets the connection
//! when a handler asks (`reset_after_read`, the end of a `hang`), and the
//! guard that records work the peer aborted (`/__mock/events`).
//!
//! hyper drops a request's service future when it reads EOF from the peer
//! while the answer is pending, and drops a response body when writing it
//! fails; a guard's `Drop` is therefore the moment the mock noticed.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::json;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::State;

/// Shared between a connection's IO and the handlers of its requests.
#[derive(Default)]
pub struct ConnControl {
    reset: AtomicBool,
}

impl ConnControl {
    /// From now on the connection fails every read and write, so hyper drops
    /// it, and it closes with a RST instead of a FIN.
    pub fn reset(&self) {
        self.reset.store(true, Ordering::Relaxed);
    }
}

pub struct ConnIo {
    stream: TcpStream,
    control: Arc<ConnControl>,
}

impl ConnIo {
    pub fn new(stream: TcpStream, control: Arc<ConnControl>) -> Self {
        ConnIo { stream, control }
    }

    fn reset_requested(&self) -> Option<io::Error> {
        if !self.control.reset.load(Ordering::Relaxed) {
            return None;
        }
        // SO_LINGER 0: the close that follows sends a RST.
        let _ = self.stream.set_zero_linger();
        Some(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "mock: connection reset on request",
        ))
    }
}

impl AsyncRead for ConnIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(e) = this.reset_requested() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for ConnIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Some(e) = this.reset_requested() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Some(e) = this.reset_requested() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(e) = this.reset_requested() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(e) = this.reset_requested() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.stream).poll_shutdown(cx)
    }
}

pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Records an event of `kind` when dropped while still armed: the work it
/// watches was abandoned because the peer went away.
pub struct AbortWatch {
    state: Arc<State>,
    kind: &'static str,
    path: String,
    received_at_ms: u64,
    armed: bool,
}

impl AbortWatch {
    /// `kind` is `cancelled` (no answer yet) or `stream_aborted`.
    pub fn new(state: Arc<State>, kind: &'static str, path: &str, received_at_ms: u64) -> Self {
        AbortWatch {
            state,
            kind,
            path: path.to_string(),
            received_at_ms,
            armed: true,
        }
    }

    /// The work finished (or the mock itself chose to cut it).
    pub fn disarm(&mut self) {
        self.armed = false;
    }

    /// The same request's next stage, watched as `kind`.
    pub fn then(&self, kind: &'static str) -> Self {
        AbortWatch::new(self.state.clone(), kind, &self.path, self.received_at_ms)
    }
}

impl Drop for AbortWatch {
    fn drop(&mut self) {
        if self.armed && self.state.record {
            self.state.events.push(json!({
                "kind": self.kind,
                "path": self.path,
                "at_ms": unix_ms(),
                "received_at_ms": self.received_at_ms,
            }));
        }
    }
}
