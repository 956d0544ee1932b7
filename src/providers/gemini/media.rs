//! Media references in OpenAI messages (`image_url`, `file`) as Gemini parts.
//!
//! A `data:` URL travels inline (`inline_data`); an http(s) or `gs://` URL is handed to Google
//! to fetch (`file_data`). Gemini wants a MIME type with every file, so one is taken from the
//! client's `format`, else guessed from the URL's extension, else `image/jpeg`: the gateway
//! does not download files to look (LiteLLM does for unknown types; that would put a fetch of
//! an arbitrary URL on the request path).

use serde_json::{json, Value};

/// The Gemini part for a media URL, or why it cannot be sent.
pub(super) fn part_for_url(url: &str, format: Option<&str>) -> Result<Value, String> {
    if let Some(rest) = url.strip_prefix("data:") {
        let Some((header, data)) = rest.split_once(',') else {
            return Err("data: URLs need a comma before the data".into());
        };
        let Some(media_type) = header.strip_suffix(";base64") else {
            return Err("data: URLs must be base64-encoded".into());
        };
        let media_type = media_type.split(';').next().unwrap_or_default();
        let mime_type = format.filter(|f| !f.is_empty()).unwrap_or(media_type);
        if mime_type.is_empty() {
            return Err("data: URLs must name a media type".into());
        }
        return Ok(json!({"inline_data": {"mime_type": mime_type, "data": data}}));
    }
    let remote = ["https://", "http://", "gs://"]
        .iter()
        .any(|scheme| url.starts_with(scheme));
    if !remote {
        return Err("media URLs must be data:, http(s):// or gs:// URLs".into());
    }
    let mime_type = format
        .filter(|f| !f.is_empty())
        .or_else(|| mime_type_from_extension(url))
        .unwrap_or("image/jpeg");
    Ok(json!({"file_data": {"mime_type": mime_type, "file_uri": url}}))
}

/// The MIME type for a URL's file extension, for the types Gemini accepts.
pub(super) fn mime_type_from_extension(url: &str) -> Option<&'static str> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let file = path.rsplit('/').next().unwrap_or(path);
    let (_, extension) = file.rsplit_once('.')?;
    Some(match extension.to_ascii_lowercase().as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "webp" => "image/webp",
        "heic" => "image/heic",
        "heif" => "image/heif",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "mp3" => "audio/mp3",
        "wav" => "audio/wav",
        "aac" => "audio/aac",
        "ogg" => "audio/ogg",
        "flac" => "audio/flac",
        "mp4" => "video/mp4",
        "mov" => "video/mov",
        "mpeg" | "mpg" => "video/mpeg",
        "avi" => "video/avi",
        "wmv" => "video/wmv",
        "flv" => "video/flv",
        "webm" => "video/webm",
        "3gp" | "3gpp" => "video/3gpp",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_urls_go_inline() {
        assert_eq!(
            part_for_url("data:image/png;base64,iVBORw0KGgo=", None).unwrap(),
            json!({"inline_data": {"mime_type": "image/png", "data": "iVBORw0KGgo="}})
        );
        assert_eq!(
            part_for_url(
                "data:application/octet-stream;base64,AAAA",
                Some("audio/wav")
            )
            .unwrap()["inline_data"]["mime_type"],
            "audio/wav"
        );
    }

    #[test]
    fn remote_urls_become_file_data_with_a_guessed_type() {
        assert_eq!(
            part_for_url("https://example.com/cat.PNG?size=large#top", None).unwrap(),
            json!({"file_data": {"mime_type": "image/png", "file_uri": "https://example.com/cat.PNG?size=large#top"}})
        );
        let gcs = part_for_url("gs://bucket/report.pdf", None).unwrap();
        assert_eq!(gcs["file_data"]["mime_type"], "application/pdf");
        let unknown = part_for_url("https://example.com/photo", None).unwrap();
        assert_eq!(unknown["file_data"]["mime_type"], "image/jpeg");
        let hinted = part_for_url("https://example.com/v", Some("video/mp4")).unwrap();
        assert_eq!(hinted["file_data"]["mime_type"], "video/mp4");
        let dotted_host = part_for_url("https://cdn.example.com/image", None).unwrap();
        assert_eq!(dotted_host["file_data"]["mime_type"], "image/jpeg");
    }

    #[test]
    fn other_urls_are_refused() {
        for url in [
            "ftp://x/y.png",
            "file:///etc/passwd",
            "data:image/png,notbase64",
            "data:nocomma",
            "data:;base64,AAAA",
            "",
        ] {
            assert!(part_for_url(url, None).is_err(), "{url}");
        }
    }
}
