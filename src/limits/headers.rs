//! The headers a limited call answers with, as LiteLLM and OpenAI name them: per limit
//! `x-ratelimit-{descriptor}-{remaining|limit}-{requests|tokens}`; the tightest requests and
//! tokens limits as OpenAI's `x-ratelimit-{limit|remaining|reset}-{requests|tokens}`; a key's
//! per-model room as `x-litellm-key-remaining-{requests|tokens}-{model}`; `retry-after` on a
//! refusal.

use super::window::WINDOW_SECS;
use super::{Denied, Kind, Limit, Taken, Usage};

pub type Headers = Vec<(String, String)>;

/// Headers for a call that was admitted.
pub fn admitted(taken: &Taken) -> Headers {
    let mut out = Headers::new();
    let mut tightest: [Option<(u64, u64, u64)>; 2] = [None, None];
    for (limit, usage, amount) in &taken.entries {
        if matches!(limit.descriptor, "deployment" | "global") {
            continue;
        }
        let remaining = limit.max.saturating_sub(usage.used.saturating_add(*amount));
        describe(&mut out, limit, remaining);
        if let Some(slot) = tightest_slot(limit.kind) {
            let reset = reset_in(usage, taken.at);
            if tightest[slot].is_none_or(|(_, r, _)| remaining < r) {
                tightest[slot] = Some((limit.max, remaining, reset));
            }
        }
    }
    for (slot, kind) in [(0, Kind::Requests), (1, Kind::Tokens)] {
        if let Some((max, remaining, reset)) = tightest[slot] {
            openai_style(&mut out, kind, max, remaining, reset);
        }
    }
    out
}

/// Headers for a refused call.
pub fn refused(denied: &Denied) -> Headers {
    let mut out = vec![("retry-after".to_string(), denied.retry_after().to_string())];
    if let Denied::Over { limit, .. } = denied {
        describe(&mut out, limit, 0);
        if tightest_slot(limit.kind).is_some() {
            openai_style(&mut out, limit.kind, limit.max, 0, denied.retry_after());
        }
    }
    out
}

fn tightest_slot(kind: Kind) -> Option<usize> {
    match kind {
        Kind::Requests => Some(0),
        Kind::Tokens => Some(1),
        Kind::Parallel => None,
    }
}

fn describe(out: &mut Headers, limit: &Limit, remaining: u64) {
    let word = limit.kind.header_word();
    let d = limit.descriptor;
    out.push((
        format!("x-ratelimit-{d}-remaining-{word}"),
        remaining.to_string(),
    ));
    out.push((
        format!("x-ratelimit-{d}-limit-{word}"),
        limit.max.to_string(),
    ));
    if d == "model_per_key" && limit.kind != Kind::Parallel {
        if let Some((_, model)) = limit.value.split_once(':') {
            out.push((
                format!("x-litellm-key-remaining-{word}-{}", header_safe(model)),
                remaining.to_string(),
            ));
        }
    }
}

fn openai_style(out: &mut Headers, kind: Kind, max: u64, remaining: u64, reset: u64) {
    let word = kind.header_word();
    out.push((format!("x-ratelimit-limit-{word}"), max.to_string()));
    out.push((
        format!("x-ratelimit-remaining-{word}"),
        remaining.to_string(),
    ));
    out.push((format!("x-ratelimit-reset-{word}"), format!("{reset}s")));
}

/// Seconds until the window's oldest counted second leaves it.
fn reset_in(usage: &Usage, now: u64) -> u64 {
    let oldest = usage.oldest.unwrap_or(now);
    (oldest + WINDOW_SECS).saturating_sub(now)
}

/// A model name as a header-name part: token characters kept, others as `-`.
fn header_safe(model: &str) -> String {
    model
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}
