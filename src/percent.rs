//! Percent-decoding (RFC 3986 `%XX`), for query strings, OTLP header values and URL paths
//! re-encoded for signing. Never fails: a `%` not followed by two hex digits stays as it is, and
//! bytes that do not form UTF-8 become U+FFFD.

/// `%XX` decoded; in a form-encoded query (`plus_is_space`) `+` is also a space.
pub fn decode(text: &str, plus_is_space: bool) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => match bytes.get(i + 1..i + 3).and_then(hex_pair) {
                Some(b) => {
                    out.push(b);
                    i += 3;
                    continue;
                }
                None => out.push(b'%'),
            },
            b'+' if plus_is_space => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_pair(pair: &[u8]) -> Option<u8> {
    let digit = |c: u8| (c as char).to_digit(16);
    match pair {
        [h, l] => Some((digit(*h)? * 16 + digit(*l)?) as u8),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn percent_decodes_and_keeps_what_is_not_an_escape() {
        assert_eq!(decode("caf%C3%A9", false), "café");
        assert_eq!(decode("a%2Fb%3a", false), "a/b:");
        assert_eq!(decode("%zz%4", false), "%zz%4");
        assert_eq!(decode("%", false), "%");
        assert_eq!(decode("%%41", false), "%A");
        assert_eq!(decode("a+b", false), "a+b");
        assert_eq!(decode("a+b%2B", true), "a b+");
        assert_eq!(decode("%FF", false), "\u{FFFD}");
        assert_eq!(decode("é%e9", false), "é\u{FFFD}");
    }
}
