//! Shared by the fuzz targets: cutting input into reads, and a strict reader of the SSE the
//! gateway writes.

#![allow(dead_code)]

/// `data` cut into reads the way `seed` says: 0 is one read, otherwise lengths drawn from
/// `1..=4 * seed` by a small PRNG, so the fuzzer controls where reads end with one byte.
pub fn reads(seed: u8, data: &[u8]) -> Vec<&[u8]> {
    if seed == 0 || data.is_empty() {
        return vec![data];
    }
    let mut state = 0x9e37_79b9u32 ^ u32::from(seed);
    let mut out = Vec::new();
    let mut at = 0;
    while at < data.len() {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let len = 1 + (state % (4 * u32::from(seed))) as usize;
        let end = (at + len).min(data.len());
        out.push(&data[at..end]);
        at = end;
    }
    out
}

/// One event as a client's SSE parser (the WHATWG rules) sees it.
#[derive(Debug, Default, PartialEq)]
pub struct ClientEvent {
    pub event: Option<Vec<u8>>,
    pub data: Option<Vec<u8>>,
}

/// Everything the gateway writes is `field: value` lines ending in `\n`, events ending in a
/// blank line. This reads `out` by those rules and panics on anything else: a `\r` (a client
/// would take it for a line end), a stray field, a missing final blank line.
pub fn read_gateway_sse(out: &[u8]) -> Vec<ClientEvent> {
    assert!(
        !out.contains(&b'\r'),
        "a \\r in the output: {:?}",
        lossy(out)
    );
    if out.is_empty() {
        return Vec::new();
    }
    assert!(
        out.ends_with(b"\n\n"),
        "output does not end with a blank line: {:?}",
        lossy(out)
    );
    let mut events = Vec::new();
    for raw in
        out[..out.len() - 2]
            .split(|&b| b == b'\n')
            .fold(vec![Vec::new()], |mut acc, line| {
                if line.is_empty() {
                    acc.push(Vec::new());
                } else if let Some(last) = acc.last_mut() {
                    last.push(line);
                }
                acc
            })
    {
        assert!(
            !raw.is_empty(),
            "an empty event (three line ends in a row): {:?}",
            lossy(out)
        );
        let mut event = ClientEvent::default();
        for line in raw {
            if line.starts_with(b":") {
                continue;
            }
            let (field, value) = match line.iter().position(|&b| b == b':') {
                Some(colon) => {
                    let value = &line[colon + 1..];
                    (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
                }
                None => (line, &b""[..]),
            };
            match field {
                b"data" => match &mut event.data {
                    Some(d) => {
                        d.push(b'\n');
                        d.extend_from_slice(value);
                    }
                    None => event.data = Some(value.to_vec()),
                },
                b"event" => event.event = Some(value.to_vec()),
                b"id" | b"retry" => {}
                other => panic!("unknown SSE field {:?} in {:?}", lossy(other), lossy(out)),
            }
        }
        events.push(event);
    }
    events
}

pub fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Bedrock frames with their two CRCs made right, so the fuzzer gets past them to the headers
/// and payloads. Lengths are left as they are: a frame that claims more than is left ends it.
pub fn fix_event_stream_crcs(data: &mut [u8]) {
    let mut at = 0;
    while at + 12 <= data.len() {
        let total =
            u32::from_be_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]) as usize;
        let crc = crc32(&data[at..at + 8]);
        data[at + 8..at + 12].copy_from_slice(&crc.to_be_bytes());
        if total < 16 || at + total > data.len() {
            return;
        }
        let crc = crc32(&data[at..at + total - 4]);
        data[at + total - 4..at + total].copy_from_slice(&crc.to_be_bytes());
        at += total;
    }
}

/// CRC-32 (IEEE), bit by bit: small inputs only.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
