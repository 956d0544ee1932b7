//! Server-sent events, split as they arrive.
//!
//! Upstream reads cut events anywhere: mid-line, mid-UTF-8 character, several events in one
//! read. `EventSplitter` buffers only the unfinished tail and hands out whole events;
//! `SseDecoder` drives one for a stream translator.

use crate::error::GatewayError;
use bytes::{Buf, Bytes, BytesMut};

/// The largest event a provider may send. Real ones are a few KiB; a stream that never sends
/// a blank line must not make the gateway buffer without bound.
pub const MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

/// The longest terminator (`\r\n\r\n`) less one: a terminator may start this far back from
/// the end of what was scanned and still be completed by the next read.
const TERMINATOR_LOOKBACK: usize = 3;

#[derive(Default)]
pub struct EventSplitter {
    buf: BytesMut,
    /// No terminator starts before this offset of `buf`: the next search resumes here, so each
    /// byte is looked at a bounded number of times however the stream is cut into reads.
    scanned: usize,
    /// The unfinished event grew past [`MAX_EVENT_BYTES`]: its bytes were dropped and the
    /// splitter takes no more.
    overflowed: bool,
}

impl EventSplitter {
    /// One upstream read. Call `next_event` until it returns `None` after each push: that is
    /// where the size bound is checked, so at most the bound plus one read is ever buffered.
    pub fn push(&mut self, chunk: &[u8]) {
        if !self.overflowed {
            self.buf.extend_from_slice(chunk);
        }
    }

    /// The next complete event (without its blank-line terminator), if one is buffered.
    pub fn next_event(&mut self) -> Option<Bytes> {
        match find_event_end(&self.buf, self.scanned) {
            Some((end, sep)) => {
                let event = self.buf.split_to(end).freeze();
                self.buf.advance(sep);
                self.scanned = 0;
                Some(event)
            }
            None => {
                if self.buf.len() > MAX_EVENT_BYTES {
                    self.overflowed = true;
                    self.buf = BytesMut::new();
                }
                self.scanned = self.buf.len().saturating_sub(TERMINATOR_LOOKBACK);
                None
            }
        }
    }

    /// Whatever is left when the stream ends (an event missing its final blank line).
    pub fn take_rest(&mut self) -> Option<Bytes> {
        self.scanned = 0;
        let rest = self.buf.split().freeze();
        let trimmed = trim_ascii(&rest);
        (!trimmed.is_empty()).then(|| rest.slice_ref(trimmed))
    }

    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// An event outgrew [`MAX_EVENT_BYTES`]; the stream cannot be read on.
    pub fn overflowed(&self) -> bool {
        self.overflowed
    }

    /// The error a translator reports (through `StreamTranslator::failure`) once overflowed.
    pub fn failure(&self) -> Option<GatewayError> {
        self.overflowed.then(event_too_large)
    }
}

/// An upstream event over [`MAX_EVENT_BYTES`].
pub fn event_too_large() -> GatewayError {
    GatewayError::new(
        502,
        "api_error",
        format!(
            "provider stream event larger than {} MiB",
            MAX_EVENT_BYTES / (1024 * 1024)
        ),
    )
}

/// A translator whose upstream speaks SSE. Turning reads into whole events, and passing over
/// those without data (comments, keep-alives) or arriving after the translator is done, is the
/// same for all of them, so it is written once here: each says only what an event's data
/// means (`on_data`) and what is still owed when the upstream ends (`on_end`).
pub trait SseDecoder {
    fn splitter(&mut self) -> &mut EventSplitter;

    /// The translator has ended the answer: later events are read and dropped.
    fn is_done(&self) -> bool;

    /// The `data:` payload of one whole event.
    fn on_data(&mut self, data: &[u8], out: &mut BytesMut);

    /// The upstream ended: write whatever the client is still owed.
    fn on_end(&mut self, out: &mut BytesMut);

    /// One upstream read: every event it completes is handled, the unfinished tail kept.
    fn feed_sse(&mut self, read: &[u8], out: &mut BytesMut) {
        self.splitter().push(read);
        while let Some(event) = self.splitter().next_event() {
            self.on_event(&event, out);
        }
    }

    /// The upstream ended: a last event missing its blank line still counts, then `on_end`.
    /// After an overflow nothing more is written: the gateway ends the answer with the error.
    fn finish_sse(&mut self, out: &mut BytesMut) {
        if self.splitter().overflowed() {
            return;
        }
        if let Some(rest) = self.splitter().take_rest() {
            self.on_event(&rest, out);
        }
        self.on_end(out);
    }

    /// One whole event: its data, unless the translator is done.
    fn on_event(&mut self, event: &[u8], out: &mut BytesMut) {
        if self.is_done() {
            return;
        }
        if let Some(data) = event_data(event) {
            self.on_data(&data, out);
        }
    }
}

/// The `data:` payload of an event (several `data:` lines joined by `\n`, as the spec says).
pub fn event_data(event: &[u8]) -> Option<Vec<u8>> {
    let mut data: Option<Vec<u8>> = None;
    for line in event.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Some(rest) = line.strip_prefix(b"data:") {
            let rest = rest.strip_prefix(b" ").unwrap_or(rest);
            match &mut data {
                Some(d) => {
                    d.push(b'\n');
                    d.extend_from_slice(rest);
                }
                None => data = Some(rest.to_vec()),
            }
        }
    }
    data
}

/// Where the first event ends and how long its terminator is (`\n\n`, `\r\n\r\n`, `\r\r`),
/// searching from `from` (no terminator starts before it).
fn find_event_end(buf: &[u8], from: usize) -> Option<(usize, usize)> {
    let mut i = from;
    while i + 1 < buf.len() {
        match (buf[i], buf[i + 1]) {
            (b'\n', b'\n') => return Some((i, 2)),
            (b'\r', b'\n') if buf.get(i + 2..i + 4) == Some(b"\r\n") => return Some((i, 4)),
            (b'\r', b'\r') => return Some((i, 2)),
            _ => i += 1,
        }
    }
    None
}

fn trim_ascii(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_events(chunks: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut s = EventSplitter::default();
        let mut out = Vec::new();
        for c in chunks {
            s.push(c);
            while let Some(e) = s.next_event() {
                out.push(e.to_vec());
            }
        }
        out.extend(s.take_rest().map(|b| b.to_vec()));
        out
    }

    #[test]
    fn splits_events_across_and_within_reads() {
        let events = all_events(&[
            b"data: {\"a\"",
            b":1}\n",
            b"\ndata: 2\n\ndata: [DO",
            b"NE]\n\n",
        ]);
        assert_eq!(
            events,
            vec![
                b"data: {\"a\":1}".to_vec(),
                b"data: 2".to_vec(),
                b"data: [DONE]".to_vec()
            ]
        );
    }

    #[test]
    fn handles_crlf_and_a_missing_final_blank_line() {
        let events = all_events(&[b"data: 1\r\n\r\ndata: 2"]);
        assert_eq!(events, vec![b"data: 1".to_vec(), b"data: 2".to_vec()]);
    }

    #[test]
    fn keeps_multibyte_characters_split_across_reads_intact() {
        let text = "data: {\"c\":\"h\u{e9}llo \u{1f600}\"}\n\n".as_bytes();
        let mut chunks = Vec::new();
        for b in text {
            chunks.push(std::slice::from_ref(b));
        }
        let events = all_events(&chunks);
        assert_eq!(events.len(), 1);
        let data = event_data(&events[0]).unwrap();
        assert_eq!(
            std::str::from_utf8(&data).unwrap(),
            "{\"c\":\"h\u{e9}llo \u{1f600}\"}"
        );
    }

    #[test]
    fn terminators_split_across_reads_are_found() {
        for terminator in [&b"\n\n"[..], b"\r\n\r\n", b"\r\r"] {
            let stream = [&b"data: 1"[..], terminator, b"data: 2", terminator].concat();
            for cut in 0..=stream.len() {
                let (a, b) = stream.split_at(cut);
                assert_eq!(
                    all_events(&[a, b]),
                    vec![b"data: 1".to_vec(), b"data: 2".to_vec()],
                    "{terminator:?} cut at {cut}"
                );
            }
            let bytes: Vec<&[u8]> = stream.iter().map(std::slice::from_ref).collect();
            assert_eq!(all_events(&bytes).len(), 2, "{terminator:?} byte by byte");
        }
    }

    #[test]
    fn how_reads_are_cut_does_not_change_the_events() {
        let stream = b"data: a\r\n\r\n: c\r\r\n\ndata: b\r\n\ndata: c\n\r\n\r\r\ndata: d";
        let whole = all_events(&[stream]);
        for cut in 0..=stream.len() {
            for cut2 in cut..=stream.len() {
                let reads = [&stream[..cut], &stream[cut..cut2], &stream[cut2..]];
                assert_eq!(all_events(&reads), whole, "cut at {cut} and {cut2}");
            }
        }
    }

    #[test]
    fn one_byte_reads_through_a_megabyte_event_are_not_quadratic() {
        // Rescanning the whole buffer on each push made this ~5 * 10^11 byte comparisons.
        let mut s = EventSplitter::default();
        s.push(b"data: ");
        for _ in 0..1024 * 1024 {
            s.push(b"x");
            assert!(s.next_event().is_none());
        }
        s.push(b"\n");
        assert!(s.next_event().is_none());
        s.push(b"\n");
        let event = s.next_event().unwrap();
        assert_eq!(event.len(), 6 + 1024 * 1024);
        assert_eq!(s.buffered(), 0);
    }

    #[test]
    fn a_100_mb_event_overflows_and_memory_stays_bounded() {
        let read = vec![b'x'; 64 * 1024];
        let mut s = EventSplitter::default();
        s.push(b"data: ");
        let mut reads = 0;
        while reads * read.len() < 100 * 1024 * 1024 {
            s.push(&read);
            reads += 1;
            assert!(s.next_event().is_none());
            assert!(s.buffered() <= MAX_EVENT_BYTES + read.len());
            if s.overflowed() {
                break;
            }
        }
        assert!(s.overflowed());
        assert_eq!(s.buffered(), 0);
        assert!(reads * read.len() <= MAX_EVENT_BYTES + read.len());
        // Whatever follows, even a whole event, is dropped.
        for _ in 0..16 {
            s.push(&read);
        }
        s.push(b"\n\ndata: 1\n\n");
        assert!(s.next_event().is_none());
        assert_eq!(s.buffered(), 0);
        assert!(s.take_rest().is_none());
        let error = s.failure().unwrap();
        assert_eq!(
            (error.status, error.message.as_str()),
            (502, "provider stream event larger than 16 MiB")
        );
    }

    #[test]
    fn an_event_just_under_the_bound_is_kept() {
        let mut s = EventSplitter::default();
        s.push(&vec![b'x'; MAX_EVENT_BYTES]);
        assert!(s.next_event().is_none());
        s.push(b"\n\n");
        assert_eq!(s.next_event().unwrap().len(), MAX_EVENT_BYTES);
        assert!(!s.overflowed());
    }

    #[test]
    fn joins_multi_line_data() {
        assert_eq!(event_data(b"event: x\ndata: a\ndata: b").unwrap(), b"a\nb");
        assert!(event_data(b": keep-alive").is_none());
    }
}
