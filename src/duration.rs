//! Durations from numbers that a config file or a provider controls. `Duration::from_secs_f64`
//! panics on NaN, negatives and values past `u64::MAX` seconds; these never do.

use std::time::Duration;

/// Longer than anything a gateway waits for (ten years): the ceiling for configured seconds.
pub const MAX: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// `secs` seconds, clamped into `0..=MAX`; NaN is zero.
pub fn from_secs(secs: f64) -> Duration {
    if secs.is_nan() || secs <= 0.0 {
        Duration::ZERO
    } else if secs >= MAX.as_secs_f64() {
        MAX
    } else {
        Duration::from_secs_f64(secs)
    }
}

/// A provider's `retry-after` value: delta-seconds (integer or decimal, as some providers send);
/// `None` for anything else (HTTP dates, negatives, NaN, garbage). Huge values are clamped.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let secs: f64 = value.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_seconds_never_panic() {
        assert_eq!(from_secs(f64::NAN), Duration::ZERO);
        assert_eq!(from_secs(-1.0), Duration::ZERO);
        assert_eq!(from_secs(1e20), MAX);
        assert_eq!(from_secs(f64::INFINITY), MAX);
        assert_eq!(from_secs(1.5), Duration::from_millis(1500));
    }

    #[test]
    fn retry_after_values() {
        assert_eq!(parse_retry_after(" 2 "), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(parse_retry_after("1e20"), Some(MAX));
        assert_eq!(parse_retry_after("99999999999999999999"), Some(MAX));
        for bad in ["-5", "NaN", "inf", "Wed, 21 Oct 2015 07:28:00 GMT", ""] {
            assert_eq!(parse_retry_after(bad), None, "{bad}");
        }
    }
}
