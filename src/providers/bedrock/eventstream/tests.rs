//! Event stream framing: known encodings, every chunking, and broken input.

use super::*;

/// Published examples of the format (hex.pm `event_stream` 0.1.0, `EventStream.encode!`),
/// computed independently of this code: they pin the prelude layout and both CRCs.
#[test]
fn encodes_like_an_independent_implementation() {
    let payload = br#"{"foo": "bar"}"#;
    let mut want = vec![0, 0, 0, 30, 0, 0, 0, 0, 186, 242, 246, 138];
    want.extend_from_slice(payload);
    want.extend_from_slice(&[174, 114, 88, 228]);
    assert_eq!(encode_message(&[], payload), want);

    let mut want = vec![0, 0, 0, 62, 0, 0, 0, 32, 64, 93, 249, 70, 12];
    want.extend_from_slice(b"content-type");
    want.extend_from_slice(&[7, 0, 16]);
    want.extend_from_slice(b"application/json");
    want.extend_from_slice(payload);
    want.extend_from_slice(&[111, 162, 191, 59]);
    let header = (
        "content-type",
        HeaderValue::String("application/json".into()),
    );
    assert_eq!(encode_message(&[header], payload), want);
}

fn every_header_type() -> Vec<(&'static str, HeaderValue)> {
    vec![
        ("t", HeaderValue::Bool(true)),
        ("f", HeaderValue::Bool(false)),
        ("byte", HeaderValue::Byte(-3)),
        ("short", HeaderValue::Short(-300)),
        ("int", HeaderValue::Int(70_000)),
        ("long", HeaderValue::Long(-5_000_000_000)),
        (
            "bytes",
            HeaderValue::Bytes(Bytes::from_static(&[0, 1, 255])),
        ),
        (
            ":event-type",
            HeaderValue::String("contentBlockDelta".into()),
        ),
        ("ts", HeaderValue::Timestamp(1_700_000_000_123)),
        ("id", HeaderValue::Uuid([7; 16])),
    ]
}

/// A message's headers and payload, before encoding.
type Spec = (Vec<(&'static str, HeaderValue)>, &'static [u8]);

fn three_messages() -> (Vec<u8>, Vec<Message>) {
    let specs: Vec<Spec> = vec![
        (every_header_type(), br#"{"delta":{"text":"Hi"}}"#),
        (vec![], b""),
        (
            vec![(":message-type", HeaderValue::String("event".into()))],
            &[0u8, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        ),
    ];
    let mut bytes = Vec::new();
    let mut messages = Vec::new();
    for (headers, payload) in specs {
        bytes.extend(encode_message(&headers, payload));
        messages.push(Message {
            headers: headers
                .into_iter()
                .map(|(n, v)| (n.to_string(), v))
                .collect(),
            payload: Bytes::copy_from_slice(payload),
        });
    }
    (bytes, messages)
}

fn decode_in_pieces(bytes: &[u8], size: usize) -> (Vec<Message>, EventStreamDecoder) {
    let mut decoder = EventStreamDecoder::default();
    let mut out = Vec::new();
    for piece in bytes.chunks(size.max(1)) {
        decoder.push(piece);
        while let Some(m) = decoder.next_message().unwrap() {
            out.push(m);
        }
    }
    (out, decoder)
}

#[test]
fn decodes_the_same_messages_in_every_chunking() {
    let (bytes, want) = three_messages();
    for size in [bytes.len(), 1, 7, 12, 13, 64] {
        let (got, decoder) = decode_in_pieces(&bytes, size);
        assert_eq!(got, want, "chunks of {size}");
        assert_eq!(decoder.buffered(), 0);
    }
    assert_eq!(want[0].header_str(":event-type"), Some("contentBlockDelta"));
    assert_eq!(want[0].header_str("int"), None);
}

#[test]
fn a_partial_message_waits_for_the_rest() {
    let (bytes, _) = three_messages();
    let mut decoder = EventStreamDecoder::default();
    decoder.push(&bytes[..20]);
    assert_eq!(decoder.next_message(), Ok(None));
    assert_eq!(decoder.buffered(), 20);
}

#[test]
fn bad_crcs_are_errors_that_stick() {
    let good = encode_message(&[], b"payload");
    let mut bad_prelude = good.clone();
    bad_prelude[9] ^= 1;
    let mut bad_message = good.clone();
    bad_message[13] ^= 1;
    for (bytes, want) in [
        (bad_prelude, DecodeError::PreludeCrc),
        (bad_message, DecodeError::MessageCrc),
    ] {
        let mut decoder = EventStreamDecoder::default();
        decoder.push(&bytes);
        assert_eq!(decoder.next_message(), Err(want.clone()));
        decoder.push(&good);
        assert_eq!(decoder.next_message(), Err(want));
    }
}

/// A prelude with a valid CRC, so only the lengths are wrong.
fn prelude(total: u32, headers: u32) -> Vec<u8> {
    let mut out = total.to_be_bytes().to_vec();
    out.extend_from_slice(&headers.to_be_bytes());
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

#[test]
fn impossible_lengths_are_errors() {
    for (total, headers) in [
        (MAX_MESSAGE_LEN as u32 + 1, 0),
        (u32::MAX, 0),
        (15, 0),
        (40, 30),
        (16, u32::MAX),
    ] {
        let mut decoder = EventStreamDecoder::default();
        decoder.push(&prelude(total, headers));
        assert_eq!(
            decoder.next_message(),
            Err(DecodeError::Length { total, headers }),
            "{total}/{headers}"
        );
    }
}

/// A frame with valid CRCs around a malformed header section.
fn frame_with_raw_headers(headers: &[u8]) -> Vec<u8> {
    let total = (16 + headers.len()) as u32;
    let mut out = prelude(total, headers.len() as u32);
    out.extend_from_slice(headers);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

#[test]
fn malformed_headers_are_errors() {
    for raw in [
        &[5, b'a'][..],                      // name longer than the section
        &[1, b'a', 7, 0, 9, b'x'][..],       // string longer than the section
        &[1, b'a', 42][..],                  // unknown type
        &[1, b'a', 5, 0, 0][..],             // long cut short
        &[1, 0xff, 0][..],                   // name not UTF-8
        &[1, b'a', 7, 0, 2, 0xc3, 0x28][..], // value not UTF-8
    ] {
        let mut decoder = EventStreamDecoder::default();
        decoder.push(&frame_with_raw_headers(raw));
        assert!(
            matches!(decoder.next_message(), Err(DecodeError::Headers(_))),
            "{raw:?}"
        );
    }
}

#[test]
fn garbage_never_panics() {
    // A small deterministic generator: the same bytes every run.
    let mut state: u32 = 0x1234_5678;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state
    };
    for _ in 0..200 {
        let len = (next() % 300) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        let mut decoder = EventStreamDecoder::default();
        decoder.push(&bytes);
        for _ in 0..4 {
            let _ = decoder.next_message();
        }
    }
    // Valid framing around random headers exercises the header parser.
    for _ in 0..500 {
        let len = (next() % 40) as usize;
        let raw: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        let mut decoder = EventStreamDecoder::default();
        decoder.push(&frame_with_raw_headers(&raw));
        let _ = decoder.next_message();
    }
}

#[test]
fn overlong_names_and_values_are_cut_not_panicked_on() {
    let name = "n".repeat(300);
    let value = "v".repeat(70_000);
    let bytes = encode_message(&[(&name, HeaderValue::String(value))], b"");
    let mut decoder = EventStreamDecoder::default();
    decoder.push(&bytes);
    let message = decoder.next_message().unwrap().unwrap();
    let (n, v) = &message.headers[0];
    assert_eq!(n.len(), 255);
    assert_eq!(v, &HeaderValue::String("v".repeat(65_535)));
}
