//! AWS's binary event stream (`application/vnd.amazon.eventstream`), the body of Bedrock's
//! ConverseStream. Each message is
//!
//! ```text
//! total length u32 BE | headers length u32 BE | prelude CRC32 (of the 8 bytes before)
//! headers | payload | message CRC32 (of everything before it)
//! ```
//!
//! and each header `name length u8 | name | type u8 | value`, the value's shape given by the
//! type (0/1 bool true/false, 2 byte, 3 short, 4 int, 5 long, 6 bytes and 7 string with a u16
//! length, 8 timestamp in ms, 9 uuid). Both CRCs are CRC-32 (IEEE), checked before anything is
//! trusted. A broken frame cannot be skipped (its length is not trustworthy), so the first error
//! ends the stream.

use bytes::{Bytes, BytesMut};

/// Larger messages are refused: Bedrock's are a few KiB, and a corrupt length must not make the
/// decoder buffer without bound.
pub const MAX_MESSAGE_LEN: usize = 16 * 1024 * 1024;
const PRELUDE_LEN: usize = 12;
/// Prelude plus the trailing message CRC.
const OVERHEAD: usize = PRELUDE_LEN + 4;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderValue {
    Bool(bool),
    Byte(i8),
    Short(i16),
    Int(i32),
    Long(i64),
    Bytes(Bytes),
    String(String),
    /// Milliseconds since the Unix epoch.
    Timestamp(i64),
    Uuid([u8; 16]),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub headers: Vec<(String, HeaderValue)>,
    pub payload: Bytes,
}

impl Message {
    /// A string header's value (`:event-type`, `:message-type`, ...).
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.headers.iter().find_map(|(n, v)| match v {
            HeaderValue::String(s) if n == name => Some(s.as_str()),
            _ => None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    PreludeCrc,
    MessageCrc,
    /// A total length below the minimum or above [`MAX_MESSAGE_LEN`], or headers longer than
    /// the message.
    Length {
        total: u32,
        headers: u32,
    },
    Headers(&'static str),
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::PreludeCrc => write!(f, "event stream prelude CRC mismatch"),
            DecodeError::MessageCrc => write!(f, "event stream message CRC mismatch"),
            DecodeError::Length { total, headers } => write!(
                f,
                "event stream message length {total} (headers {headers}) out of bounds"
            ),
            DecodeError::Headers(what) => write!(f, "event stream headers malformed: {what}"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Complete messages out of bytes that arrive in any chunking.
#[derive(Debug, Default)]
pub struct EventStreamDecoder {
    buf: BytesMut,
    error: Option<DecodeError>,
}

impl EventStreamDecoder {
    pub fn push(&mut self, chunk: &[u8]) {
        if self.error.is_none() {
            self.buf.extend_from_slice(chunk);
        }
    }

    /// The next complete message, `Ok(None)` until one has fully arrived. After an error every
    /// call returns that error.
    pub fn next_message(&mut self) -> Result<Option<Message>, DecodeError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let result = self.decode_one();
        if let Err(e) = &result {
            self.error = Some(e.clone());
            self.buf.clear();
        }
        result
    }

    /// Bytes received but not yet part of a complete message (a stream ending with some left
    /// was cut short).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    fn decode_one(&mut self) -> Result<Option<Message>, DecodeError> {
        let Some(prelude) = self.buf.get(..PRELUDE_LEN) else {
            return Ok(None);
        };
        let total = be_u32(&prelude[0..4]);
        let headers_len = be_u32(&prelude[4..8]);
        if crc32fast::hash(&prelude[..8]) != be_u32(&prelude[8..12]) {
            return Err(DecodeError::PreludeCrc);
        }
        let total_len = total as usize;
        // In u64 so that no length a peer sends can overflow the bound check.
        let headers_end = PRELUDE_LEN as u64 + u64::from(headers_len);
        if !(OVERHEAD..=MAX_MESSAGE_LEN).contains(&total_len) || headers_end + 4 > u64::from(total)
        {
            return Err(DecodeError::Length {
                total,
                headers: headers_len,
            });
        }
        let headers_end = headers_end as usize;
        if self.buf.len() < total_len {
            return Ok(None);
        }
        let frame = self.buf.split_to(total_len).freeze();
        let crc_at = total_len - 4;
        if crc32fast::hash(&frame[..crc_at]) != be_u32(&frame[crc_at..]) {
            return Err(DecodeError::MessageCrc);
        }
        Ok(Some(Message {
            headers: parse_headers(&frame, PRELUDE_LEN, headers_end)?,
            payload: frame.slice(headers_end..crc_at),
        }))
    }
}

fn parse_headers(
    frame: &Bytes,
    start: usize,
    end: usize,
) -> Result<Vec<(String, HeaderValue)>, DecodeError> {
    let mut headers = Vec::new();
    let mut at = start;
    let mut take = |n: usize| -> Result<std::ops::Range<usize>, DecodeError> {
        let range = at..at + n;
        if range.end > end {
            return Err(DecodeError::Headers(
                "a header runs past the header section",
            ));
        }
        at = range.end;
        Ok(range)
    };
    while take(0)?.start < end {
        let name_len = frame[take(1)?.start] as usize;
        let name = std::str::from_utf8(&frame[take(name_len)?])
            .map_err(|_| DecodeError::Headers("a header name is not UTF-8"))?
            .to_string();
        let value = match frame[take(1)?.start] {
            0 => HeaderValue::Bool(true),
            1 => HeaderValue::Bool(false),
            2 => HeaderValue::Byte(frame[take(1)?.start] as i8),
            3 => HeaderValue::Short(i16::from_be_bytes(fixed(&frame[take(2)?]))),
            4 => HeaderValue::Int(i32::from_be_bytes(fixed(&frame[take(4)?]))),
            5 => HeaderValue::Long(i64::from_be_bytes(fixed(&frame[take(8)?]))),
            6 => {
                let len = u16::from_be_bytes(fixed(&frame[take(2)?])) as usize;
                HeaderValue::Bytes(frame.slice(take(len)?))
            }
            7 => {
                let len = u16::from_be_bytes(fixed(&frame[take(2)?])) as usize;
                let text = std::str::from_utf8(&frame[take(len)?])
                    .map_err(|_| DecodeError::Headers("a string header is not UTF-8"))?;
                HeaderValue::String(text.to_string())
            }
            8 => HeaderValue::Timestamp(i64::from_be_bytes(fixed(&frame[take(8)?]))),
            9 => HeaderValue::Uuid(fixed(&frame[take(16)?])),
            _ => return Err(DecodeError::Headers("unknown header value type")),
        };
        headers.push((name, value));
    }
    Ok(headers)
}

/// One message's bytes, for tests and mocks. Names longer than 255 bytes and byte or string
/// values longer than 65535 bytes do not fit the format and are cut to those lengths.
pub fn encode_message(headers: &[(&str, HeaderValue)], payload: &[u8]) -> Vec<u8> {
    let mut encoded_headers = Vec::new();
    for (name, value) in headers {
        let name = &name.as_bytes()[..name.len().min(255)];
        encoded_headers.push(name.len() as u8);
        encoded_headers.extend_from_slice(name);
        match value {
            HeaderValue::Bytes(b) => push_with_len(&mut encoded_headers, 6, b),
            HeaderValue::String(s) => push_with_len(&mut encoded_headers, 7, s.as_bytes()),
            HeaderValue::Bool(b) => encoded_headers.push(if *b { 0 } else { 1 }),
            HeaderValue::Byte(b) => encoded_headers.extend_from_slice(&[2, *b as u8]),
            HeaderValue::Short(n) => push_fixed(&mut encoded_headers, 3, &n.to_be_bytes()),
            HeaderValue::Int(n) => push_fixed(&mut encoded_headers, 4, &n.to_be_bytes()),
            HeaderValue::Long(n) => push_fixed(&mut encoded_headers, 5, &n.to_be_bytes()),
            HeaderValue::Timestamp(n) => push_fixed(&mut encoded_headers, 8, &n.to_be_bytes()),
            HeaderValue::Uuid(u) => push_fixed(&mut encoded_headers, 9, u),
        }
    }
    let total = OVERHEAD + encoded_headers.len() + payload.len();
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&(total as u32).to_be_bytes());
    out.extend_from_slice(&(encoded_headers.len() as u32).to_be_bytes());
    let prelude_crc = crc32fast::hash(&out);
    out.extend_from_slice(&prelude_crc.to_be_bytes());
    out.extend_from_slice(&encoded_headers);
    out.extend_from_slice(payload);
    let message_crc = crc32fast::hash(&out);
    out.extend_from_slice(&message_crc.to_be_bytes());
    out
}

fn push_with_len(out: &mut Vec<u8>, kind: u8, bytes: &[u8]) {
    let bytes = &bytes[..bytes.len().min(u16::MAX as usize)];
    out.push(kind);
    out.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
    out.extend_from_slice(bytes);
}

fn push_fixed(out: &mut Vec<u8>, kind: u8, bytes: &[u8]) {
    out.push(kind);
    out.extend_from_slice(bytes);
}

fn be_u32(bytes: &[u8]) -> u32 {
    u32::from_be_bytes(fixed(bytes))
}

/// A fixed-size array from a slice the caller has already cut to length `N`.
fn fixed<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&bytes[..N]);
    out
}

#[cfg(test)]
mod tests;
