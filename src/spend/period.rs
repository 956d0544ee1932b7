//! `budget_duration` as LiteLLM writes it (`30s`, `30m`, `1h`, `1d`, `7d`, `30d`, `1mo`), and
//! the time a budget next resets.

/// A budget period in milliseconds; `None` for text that is not one. Months count 30 days, as
/// LiteLLM's `duration_in_seconds` does for `mo`.
pub fn parse_ms(text: &str) -> Option<i64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (digits, unit) = text.split_at(split);
    let n: i64 = digits.parse().ok().filter(|n| *n > 0)?;
    let unit_ms: i64 = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        "mo" => 30 * 86_400_000,
        _ => return None,
    };
    n.checked_mul(unit_ms)
}

/// When a budget with this period, starting now, resets.
pub fn next_reset_ms(period: &str, now_ms: i64) -> Option<i64> {
    parse_ms(period).and_then(|p| now_ms.checked_add(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn litellm_periods() {
        assert_eq!(parse_ms("30s"), Some(30_000));
        assert_eq!(parse_ms("30m"), Some(1_800_000));
        assert_eq!(parse_ms("1h"), Some(3_600_000));
        assert_eq!(parse_ms("7d"), Some(604_800_000));
        assert_eq!(parse_ms("1mo"), Some(2_592_000_000));
        for bad in ["", "d", "0d", "-1d", "1y", "1.5h", "99999999999999999999d"] {
            assert_eq!(parse_ms(bad), None, "{bad}");
        }
    }
}
