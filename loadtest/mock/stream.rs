//! The body of a streamed (server-sent events) answer.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame};
use serde_json::Value;
use tokio::sync::mpsc;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// One server-sent event: `data: <json>\n\n`.
pub fn sse(value: &Value) -> Bytes {
    sse_event(None, value, b"\n\n")
}

/// A named server-sent event (Anthropic, Cohere): `event: <name>\ndata: <json>\n\n`.
pub fn named_sse(event: &str, value: &Value) -> Bytes {
    sse_event(Some(event), value, b"\n\n")
}

/// An event as Google's `alt=sse` streams send it: `data: <json>\r\n\r\n`.
pub fn sse_crlf(value: &Value) -> Bytes {
    sse_event(None, value, b"\r\n\r\n")
}

fn sse_event(event: Option<&str>, value: &Value, end: &[u8]) -> Bytes {
    let mut buf = Vec::with_capacity(256);
    if let Some(event) = event {
        buf.extend_from_slice(b"event: ");
        buf.extend_from_slice(event.as_bytes());
        buf.push(b'\n');
    }
    buf.extend_from_slice(b"data: ");
    // Writing a Value into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut buf, value);
    buf.extend_from_slice(end);
    Bytes::from(buf)
}

/// Yields each event as its own frame. Without delays or a break the events
/// are served straight from memory; otherwise a task feeds them through a
/// channel so the delays are real on the wire.
pub enum EventBody {
    Ready(VecDeque<Bytes>),
    Channel {
        rx: mpsc::Receiver<Result<Bytes, BoxError>>,
        pending_error: Option<BoxError>,
    },
}

impl EventBody {
    /// `break_at`: index of the event at which the stream is cut instead.
    pub fn new(events: Vec<Bytes>, chunk_delay_ms: u64, break_at: Option<usize>) -> Self {
        if chunk_delay_ms == 0 && break_at.is_none() {
            return EventBody::Ready(events.into());
        }
        let (tx, rx) = mpsc::channel(8);
        tokio::spawn(async move {
            for (i, event) in events.into_iter().enumerate() {
                if i > 0 && chunk_delay_ms > 0 {
                    tokio::time::sleep(Duration::from_millis(chunk_delay_ms)).await;
                }
                if break_at == Some(i) {
                    // A body error makes hyper drop the connection without
                    // the final chunk: the client sees a truncated stream.
                    let _ = tx.send(Err("mock: break_after_chunks".into())).await;
                    return;
                }
                if tx.send(Ok(event)).await.is_err() {
                    return; // the client went away
                }
            }
        });
        EventBody::Channel {
            rx,
            pending_error: None,
        }
    }
}

impl Body for EventBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            EventBody::Ready(events) => Poll::Ready(events.pop_front().map(|e| Ok(Frame::data(e)))),
            EventBody::Channel { rx, pending_error } => {
                if let Some(e) = pending_error.take() {
                    return Poll::Ready(Some(Err(e)));
                }
                match ready!(rx.poll_recv(cx)) {
                    // hyper drops what it has buffered but not yet written
                    // when a body fails; answering Pending once first lets it
                    // flush the head and the events sent so far.
                    Some(Err(e)) => {
                        *pending_error = Some(e);
                        cx.waker().wake_by_ref();
                        Poll::Pending
                    }
                    next => Poll::Ready(next.map(|r| r.map(Frame::data))),
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, EventBody::Ready(events) if events.is_empty())
    }
}
