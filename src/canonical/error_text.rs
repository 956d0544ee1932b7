//! The message for an upstream error answer whose body is not the provider's error JSON: an
//! HTML page from a proxy in front of it, a bare string, or nothing at all. Every provider's
//! error mapper falls back to this, so the client sees the same text whichever it was.

/// The longest provider text kept: enough to tell what went wrong, not a whole HTML page.
const MAX_RAW_MESSAGE_CHARS: usize = 2000;

/// The body as text (invalid UTF-8 replaced), trimmed and cut to `MAX_RAW_MESSAGE_CHARS`
/// characters; `HTTP {status}` when there is none.
pub fn raw_error_message(status: u16, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        format!("HTTP {status}")
    } else {
        text.chars().take(MAX_RAW_MESSAGE_CHARS).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_trimmed_text_or_names_the_status() {
        assert_eq!(
            raw_error_message(502, b"  <html>bad gateway</html>\n"),
            "<html>bad gateway</html>"
        );
        assert_eq!(raw_error_message(503, b""), "HTTP 503");
        assert_eq!(raw_error_message(503, b" \r\n "), "HTTP 503");
        assert_eq!(raw_error_message(400, b"\xff\xfeok"), "\u{fffd}\u{fffd}ok");
    }

    #[test]
    fn long_bodies_are_cut_by_characters_not_bytes() {
        let long = "\u{e9}".repeat(MAX_RAW_MESSAGE_CHARS + 10);
        let message = raw_error_message(500, long.as_bytes());
        assert_eq!(message.chars().count(), MAX_RAW_MESSAGE_CHARS);
        assert!(message.chars().all(|c| c == '\u{e9}'));
    }
}
