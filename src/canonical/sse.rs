//! Server-sent events, split as they arrive.
//!
//! Upstream reads cut events anywhere: mid-line, mid-UTF-8 character, several events in one
//! read. `EventSplitter` buffers only the unfinished tail and hands out whole events;
//! `SseDecoder` drives one for a stream translator.

use bytes::{Buf, Bytes, BytesMut};

#[derive(Default)]
pub struct EventSplitter {
    buf: BytesMut,
}

impl EventSplitter {
    pub fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// The next complete event (without its blank-line terminator), if one is buffered.
    pub fn next_event(&mut self) -> Option<Bytes> {
        let (end, sep) = find_event_end(&self.buf)?;
        let event = self.buf.split_to(end).freeze();
        self.buf.advance(sep);
        Some(event)
    }

    /// Whatever is left when the stream ends (an event missing its final blank line).
    pub fn take_rest(&mut self) -> Option<Bytes> {
        let rest = self.buf.split().freeze();
        let trimmed = trim_ascii(&rest);
        (!trimmed.is_empty()).then(|| rest.slice_ref(trimmed))
    }

    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
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
    fn finish_sse(&mut self, out: &mut BytesMut) {
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

/// Where the first event ends and how long its terminator is (`\n\n`, `\r\n\r\n`, `\r\r`).
fn find_event_end(buf: &[u8]) -> Option<(usize, usize)> {
    let mut i = 0;
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
    fn joins_multi_line_data() {
        assert_eq!(event_data(b"event: x\ndata: a\ndata: b").unwrap(), b"a\nb");
        assert!(event_data(b": keep-alive").is_none());
    }
}
