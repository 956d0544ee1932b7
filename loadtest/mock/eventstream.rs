//! AWS event stream encoding (`application/vnd.amazon.eventstream`), the
//! framing of Bedrock's streamed answers. A message is:
//!
//! ```text
//! total length   u32 BE   (the whole message, these 4 bytes included)
//! headers length u32 BE
//! prelude CRC32  u32 BE   (of the 8 bytes above)
//! headers        name length u8, name, value type u8, value
//!                (type 7 = string: length u16 BE, UTF-8 bytes)
//! payload
//! message CRC32  u32 BE   (of everything before it)
//! ```

use bytes::Bytes;

/// Header value type 7: a UTF-8 string with a u16 length.
const STRING: u8 = 7;

/// One message with string headers.
pub fn frame(headers: &[(&str, &str)], payload: &[u8]) -> Bytes {
    let mut head = Vec::with_capacity(96);
    for (name, value) in headers {
        // Header names are at most 255 bytes, values at most 32767: ours are
        // short constants and event names.
        head.push(name.len() as u8);
        head.extend_from_slice(name.as_bytes());
        head.push(STRING);
        head.extend_from_slice(&(value.len() as u16).to_be_bytes());
        head.extend_from_slice(value.as_bytes());
    }
    let total = 12 + head.len() + payload.len() + 4;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&(total as u32).to_be_bytes());
    out.extend_from_slice(&(head.len() as u32).to_be_bytes());
    let prelude_crc = crc32fast::hash(&out);
    out.extend_from_slice(&prelude_crc.to_be_bytes());
    out.extend_from_slice(&head);
    out.extend_from_slice(payload);
    let message_crc = crc32fast::hash(&out);
    out.extend_from_slice(&message_crc.to_be_bytes());
    Bytes::from(out)
}

/// An event message as Bedrock sends it: `:event-type`, `:content-type:
/// application/json` and `:message-type: event`, with a JSON payload.
pub fn event(event_type: &str, payload: &serde_json::Value) -> Bytes {
    let payload = serde_json::to_vec(payload).unwrap_or_default();
    frame(
        &[
            (":event-type", event_type),
            (":content-type", "application/json"),
            (":message-type", "event"),
        ],
        &payload,
    )
}

/// A decoded message: its headers, its payload.
#[cfg(test)]
pub type Decoded = (Vec<(String, String)>, Vec<u8>);

/// Decodes the first message of `buf`, checking both CRCs; returns it and
/// the bytes it took.
#[cfg(test)]
pub fn decode(buf: &[u8]) -> Result<(Decoded, usize), String> {
    let u32_at = |i: usize| -> Result<u32, String> {
        let b = buf.get(i..i + 4).ok_or("truncated")?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let total = u32_at(0)? as usize;
    let headers_len = u32_at(4)? as usize;
    if total < 16 + headers_len || buf.len() < total {
        return Err(format!(
            "bad lengths {total}/{headers_len} of {}",
            buf.len()
        ));
    }
    if crc32fast::hash(&buf[..8]) != u32_at(8)? {
        return Err("prelude CRC mismatch".into());
    }
    if crc32fast::hash(&buf[..total - 4]) != u32_at(total - 4)? {
        return Err("message CRC mismatch".into());
    }
    let mut headers = Vec::new();
    let mut h = &buf[12..12 + headers_len];
    while !h.is_empty() {
        let name_len = h[0] as usize;
        let name = String::from_utf8(h.get(1..1 + name_len).ok_or("bad name")?.to_vec())
            .map_err(|e| e.to_string())?;
        h = &h[1 + name_len..];
        if h.first() != Some(&STRING) || h.len() < 3 {
            return Err(format!("header {name}: not a string value"));
        }
        let value_len = u16::from_be_bytes([h[1], h[2]]) as usize;
        let value = String::from_utf8(h.get(3..3 + value_len).ok_or("bad value")?.to_vec())
            .map_err(|e| e.to_string())?;
        h = &h[3 + value_len..];
        headers.push((name, value));
    }
    let payload = buf[12 + headers_len..total - 4].to_vec();
    Ok(((headers, payload), total))
}

/// Decodes a whole stream into its messages.
#[cfg(test)]
pub fn decode_all(mut buf: &[u8]) -> Result<Vec<Decoded>, String> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let (message, used) = decode(buf)?;
        out.push(message);
        buf = &buf[used..];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_is_the_ieee_crc32() {
        assert_eq!(crc32fast::hash(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn empty_frame_is_sixteen_bytes() {
        let f = frame(&[], b"");
        assert_eq!(f.len(), 16);
        assert_eq!(&f[..8], &[0, 0, 0, 16, 0, 0, 0, 0]);
        assert_eq!(decode(&f).unwrap(), ((vec![], vec![]), 16));
    }

    #[test]
    fn matches_a_known_encoding() {
        // The AWS event stream test vector: payload {'foo':'bar'} with one
        // string header content-type: application/json.
        let f = frame(&[("content-type", "application/json")], b"{'foo':'bar'}");
        assert_eq!(
            &f[..12],
            &[0, 0, 0, 61, 0, 0, 0, 32, 0x07, 0xFD, 0x83, 0x96]
        );
        assert_eq!(&f[f.len() - 4..], &[0x8D, 0x9C, 0x08, 0xB1]);
        // And the one in the Elixir event_stream package's docs.
        let f = frame(
            &[("content-type", "application/json")],
            br#"{"foo": "bar"}"#,
        );
        assert_eq!(&f[..12], &[0, 0, 0, 62, 0, 0, 0, 32, 64, 93, 249, 70]);
        assert_eq!(&f[f.len() - 4..], &[111, 162, 191, 59]);
    }

    #[test]
    fn round_trip_and_corruption() {
        let payload = serde_json::json!({"contentBlockIndex": 0, "delta": {"text": "Hé"}});
        let mut stream = event("contentBlockDelta", &payload).to_vec();
        stream.extend_from_slice(&event(
            "messageStop",
            &serde_json::json!({"stopReason": "end_turn"}),
        ));
        let messages = decode_all(&stream).unwrap();
        assert_eq!(messages.len(), 2);
        let (headers, body) = &messages[0];
        assert_eq!(
            headers,
            &[
                (":event-type".to_string(), "contentBlockDelta".to_string()),
                (":content-type".to_string(), "application/json".to_string()),
                (":message-type".to_string(), "event".to_string()),
            ]
        );
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(body).unwrap(),
            payload
        );

        let mut bad = stream.clone();
        bad[20] ^= 1;
        assert!(decode(&bad).unwrap_err().contains("message CRC"));
        let mut bad = stream;
        bad[3] ^= 1;
        assert!(decode(&bad).is_err());
    }
}
