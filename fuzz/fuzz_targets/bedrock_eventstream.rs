//! AWS's event-stream decoder on any bytes in any reads: each message it returns, encoded
//! again, is exactly the next frame of the input; after an error it takes nothing more; what it
//! buffers stays bounded. With the selector's low bit set the CRCs are fixed up first, so the
//! fuzzer reaches the header parser.
#![no_main]

#[path = "../common/mod.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use tollgate::providers::bedrock::eventstream::{
    encode_message, EventStreamDecoder, MAX_MESSAGE_LEN,
};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Some((&seed, input)) = rest.split_first() else {
        return;
    };
    let mut input = input.to_vec();
    if selector & 1 == 1 {
        common::fix_event_stream_crcs(&mut input);
    }
    let mut decoder = EventStreamDecoder::default();
    let mut consumed = 0;
    let mut failed = false;
    for read in common::reads(seed, &input) {
        decoder.push(read);
        loop {
            match decoder.next_message() {
                Ok(Some(message)) => {
                    assert!(!failed, "a message after an error");
                    let headers: Vec<(&str, _)> = message
                        .headers
                        .iter()
                        .map(|(n, v)| (n.as_str(), v.clone()))
                        .collect();
                    let frame = encode_message(&headers, &message.payload);
                    assert_eq!(
                        &input[consumed..consumed + frame.len()],
                        &frame[..],
                        "the message is not the next frame"
                    );
                    consumed += frame.len();
                }
                Ok(None) => {
                    assert!(!failed, "Ok after an error");
                    break;
                }
                Err(_) => {
                    failed = true;
                    assert_eq!(decoder.buffered(), 0);
                    assert!(decoder.next_message().is_err(), "the error did not stick");
                    break;
                }
            }
        }
        assert!(decoder.buffered() <= MAX_MESSAGE_LEN + read.len());
    }
    if !failed {
        assert_eq!(decoder.buffered(), input.len() - consumed);
    }
});
