//! Checks on pieces of an upstream URL that a client chose: a model name filled into a
//! wildcard, the rest of a passthrough path. Whatever a client sends, the request stays under
//! the provider base the operator configured.

/// A model name fit to stand as one URL path segment as it is: letters, digits and `.-_:@~+`,
/// not `.` or `..`, not empty, at most 256 bytes.
pub fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 256
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-:@~+".contains(&b))
}

/// A client's passthrough path: absolute, no `.` or `..` segment (raw or percent-encoded), no
/// backslash, no encoded slash, no control characters or spaces.
pub fn is_safe_passthrough_path(path: &str) -> bool {
    if !path.starts_with('/') {
        return false;
    }
    let lower = path.to_ascii_lowercase();
    if lower.contains("%2e") || lower.contains("%2f") || lower.contains("%5c") {
        return false;
    }
    path.bytes().all(|b| b.is_ascii_graphic() && b != b'\\')
        && path
            .split('/')
            .all(|segment| segment != "." && segment != "..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names() {
        for ok in [
            "gemini-1.5-pro",
            "anthropic.claude-3-5-sonnet-20240620-v1:0",
            "gpt-4o@2024",
        ] {
            assert!(is_plain_name(ok), "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            "gem/../../evil",
            "a?b=c",
            "a#frag",
            "a/b",
            "x%2f..",
            "a b",
            "a\nb",
        ] {
            assert!(!is_plain_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn passthrough_paths() {
        assert!(is_safe_passthrough_path(
            "/v1beta/models/gemini-pro:generateContent"
        ));
        assert!(is_safe_passthrough_path("/v1/messages"));
        for bad in [
            "/v1beta/../../../evil",
            "/v1/%2e%2e/%2E%2E/evil",
            "/v1/./x",
            "/v1/..",
            "/v1/a%2fb",
            "/v1\\..\\x",
            "v1/x",
        ] {
            assert!(!is_safe_passthrough_path(bad), "{bad}");
        }
    }
}
