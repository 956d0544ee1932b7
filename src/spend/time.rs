//! Times as spend rows and admin answers write them: RFC 3339 in UTC.

use chrono::{DateTime, SecondsFormat, Utc};

pub fn rfc3339(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Unix milliseconds of an RFC 3339 time (or a naive `YYYY-MM-DDTHH:MM:SS[.fff]`, taken as
/// UTC, as LiteLLM does).
pub fn parse_rfc3339_ms(text: &str) -> Option<i64> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text.trim()) {
        return Some(t.timestamp_millis());
    }
    chrono::NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%d %H:%M:%S%.f"))
        .ok()
        .map(|t| t.and_utc().timestamp_millis())
}

/// `YYYY-MM-DD` of a time, UTC.
pub fn day(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%d")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let ms = 1_764_547_200_123;
        assert_eq!(parse_rfc3339_ms(&rfc3339(ms)), Some(ms));
        assert_eq!(
            parse_rfc3339_ms("2025-12-01T00:00:00"),
            Some(1_764_547_200_000)
        );
        assert_eq!(parse_rfc3339_ms("not a time"), None);
        assert_eq!(day(ms), "2025-12-01");
    }
}
