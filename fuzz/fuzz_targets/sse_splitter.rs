//! EventSplitter on any bytes in any reads: the events it hands out, each followed by the
//! terminator it consumed, are exactly the input read so far; the same input cut differently
//! gives the same events; what it buffers stays bounded.
#![no_main]

#[path = "../common/mod.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use tollgate::canonical::sse::{event_data, EventSplitter, MAX_EVENT_BYTES};

/// The first event end in `rest` by the splitter's rules, looked for naively in the whole input.
fn reference_end(rest: &[u8]) -> Option<(usize, usize)> {
    (0..rest.len()).find_map(|i| {
        let at = &rest[i..];
        if at.starts_with(b"\n\n") || at.starts_with(b"\r\r") {
            Some((i, 2))
        } else if at.starts_with(b"\r\n\r\n") {
            Some((i, 4))
        } else {
            None
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&seed, input)) = data.split_first() else {
        return;
    };
    let mut splitter = EventSplitter::default();
    let mut consumed = 0;
    let mut events = Vec::new();
    for read in common::reads(seed, input) {
        splitter.push(read);
        while let Some(event) = splitter.next_event() {
            let rest = &input[consumed..];
            let (end, sep) = reference_end(rest).expect("an event where the input has none");
            assert_eq!(&event[..], &rest[..end], "the event is not the next input");
            consumed += end + sep;
            if let Some(d) = event_data(&event) {
                assert!(d.len() <= event.len());
            }
            events.push(event);
        }
        assert!(splitter.buffered() <= MAX_EVENT_BYTES + read.len());
        assert!(!splitter.overflowed());
    }
    let rest = &input[consumed..];
    assert_eq!(reference_end(rest), None, "an event left unsplit");
    assert_eq!(splitter.buffered(), rest.len());
    let last = splitter.take_rest();
    assert_eq!(
        last.as_deref(),
        Some(rest.trim_ascii()).filter(|r| !r.is_empty())
    );
    assert_eq!(splitter.buffered(), 0);
});
