//! The body of a streamed (server-sent events) answer.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::conn::AbortWatch;

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

/// 64 KiB of `a`: the frames of a huge event.
static FILLER: [u8; 64 << 10] = [b'a'; 64 << 10];

/// Yields each event as its own frame. A watch, when set, records the body
/// being dropped before its end (the peer went away mid-stream).
pub struct EventBody {
    frames: Frames,
    watch: Option<AbortWatch>,
}

enum Frames {
    /// Without delays or a break the events are served straight from memory.
    Ready(VecDeque<Bytes>),
    /// Otherwise a task feeds them through a channel so the delays are real
    /// on the wire.
    Channel {
        rx: mpsc::Receiver<Result<Bytes, BoxError>>,
        pending_error: Option<BoxError>,
    },
    /// `prefix`, then `data: ` and `filler_left` bytes of `a` in 64 KiB
    /// frames: one event that never ends.
    Huge {
        prefix: VecDeque<Bytes>,
        filler_left: usize,
    },
}

impl EventBody {
    /// `break_at`: index of the event at which the stream is cut instead.
    pub fn new(events: Vec<Bytes>, chunk_delay_ms: u64, break_at: Option<usize>) -> Self {
        if chunk_delay_ms == 0 && break_at.is_none() {
            return EventBody::of(Frames::Ready(events.into()));
        }
        let (tx, rx) = mpsc::channel(8);
        tokio::spawn(async move {
            for (i, event) in events.into_iter().enumerate() {
                if i > 0 && chunk_delay_ms > 0 {
                    let pause = tokio::time::sleep(Duration::from_millis(chunk_delay_ms));
                    tokio::select! {
                        _ = pause => {}
                        _ = tx.closed() => return, // the body was dropped
                    }
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
        EventBody::of(Frames::Channel {
            rx,
            pending_error: None,
        })
    }

    /// `prefix` events, then an event of `mb` MB that is never terminated.
    pub fn huge(prefix: Vec<Bytes>, mb: usize) -> Self {
        let mut prefix: VecDeque<Bytes> = prefix.into();
        prefix.push_back(Bytes::from_static(b"data: "));
        EventBody::of(Frames::Huge {
            prefix,
            filler_left: mb << 20,
        })
    }

    fn of(frames: Frames) -> Self {
        EventBody {
            frames,
            watch: None,
        }
    }

    /// Records `stream_aborted` if the body is dropped before its end.
    pub fn watch(&mut self, watch: AbortWatch) {
        self.watch = Some(watch);
    }

    /// The stream ended as the mock meant it to (fully, or cut on purpose).
    fn finished(&mut self) {
        if let Some(watch) = &mut self.watch {
            watch.disarm();
        }
    }

    fn poll_frames(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, BoxError>>> {
        match &mut self.frames {
            Frames::Ready(events) => Poll::Ready(events.pop_front().map(Ok)),
            Frames::Huge {
                prefix,
                filler_left,
            } => {
                if let Some(event) = prefix.pop_front() {
                    return Poll::Ready(Some(Ok(event)));
                }
                let n = (*filler_left).min(FILLER.len());
                *filler_left -= n;
                Poll::Ready((n > 0).then(|| Ok(Bytes::from_static(&FILLER[..n]))))
            }
            Frames::Channel { rx, pending_error } => {
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
                    next => Poll::Ready(next),
                }
            }
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
        let this = self.get_mut();
        let next = ready!(this.poll_frames(cx));
        // A ready body that is empty now is not polled again.
        if matches!(next, None | Some(Err(_))) || this.is_end_stream() {
            this.finished();
        }
        Poll::Ready(next.map(|r| r.map(Frame::data)))
    }

    fn is_end_stream(&self) -> bool {
        matches!(&self.frames, Frames::Ready(events) if events.is_empty())
    }
}
