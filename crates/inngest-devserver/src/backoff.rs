//! Retry policy: how many attempts a step gets and how long to wait between them.
//!
//! As the Inngest server (`pkg/consts`, `pkg/backoff`): a function without `retries` gets
//! [`DEFAULT_RETRIES`] = 4 retries, i.e. 5 attempts (the runtime's constant, so the SDK side and
//! the server side cannot disagree); retries are clamped to 20. The delay
//! before retry *n* is the n-th entry of a fixed table (15 s … 2 h) plus up to 30 s of jitter,
//! unless the SDK answered with `Retry-After`.

use std::time::Duration;

use inngest_runtime::app::DEFAULT_RETRIES;
/// The shortest fixed retry interval; shorter ones mean the table (the official dev server's
/// `--retry-interval` counts whole seconds, and 0 means the table).
pub const MIN_FIXED_INTERVAL: Duration = Duration::from_secs(1);

/// The most retries a function may ask for.
pub const MAX_RETRIES: u32 = 20;

const TABLE_SECS: [u64; 10] = [15, 30, 60, 120, 300, 600, 1200, 2400, 3600, 7200];

/// Attempts allowed for a function configured with `retries` (None: the default).
pub fn max_attempts(retries: Option<u32>) -> u32 {
    retries.unwrap_or(DEFAULT_RETRIES).min(MAX_RETRIES) + 1
}

/// The delay after a failed `attempt` (0-based): the table entry plus 0–30 s of jitter, or a
/// fixed interval when the server runs with one (`--retry-interval`).
pub fn delay(attempt: u32, fixed: Option<Duration>) -> Duration {
    if let Some(d) = fixed {
        return d;
    }
    let i = usize::try_from(attempt)
        .unwrap_or(usize::MAX)
        .min(TABLE_SECS.len() - 1);
    Duration::from_secs(TABLE_SECS[i]) + Duration::from_millis(fastrand::u64(0..30_000))
}

/// The shortest and the longest delay a `Retry-After` may ask for (`consts.MinRetryDuration`,
/// `MaxRetryDuration`).
const RETRY_AFTER_MS: (i64, i64) = (1_000, 24 * 3_600_000);

/// When a retry asked for with `Retry-After: value` is due, clamped to 1 s – 24 h from `now_ms`;
/// `None` when the value is neither a number of seconds nor a date (the header is then
/// ignored, as the Go server ignores it).
///
/// As in the Go driver: a positive integer of at most 7 characters is seconds; anything else is
/// read as a date (RFC 3339, `YYYY-MM-DDTHH:MM:SS` in UTC, an HTTP date, `YYYY-MM-DD`).
pub fn retry_at(value: &str, now_ms: i64) -> Option<i64> {
    let value = value.trim();
    let at = match value.parse::<i64>() {
        Ok(secs) if value.len() <= 7 && secs > 0 => {
            now_ms.saturating_add(secs.saturating_mul(1000))
        }
        _ => date_ms(value)?,
    };
    let (min, max) = RETRY_AFTER_MS;
    Some(at.clamp(now_ms.saturating_add(min), now_ms.saturating_add(max)))
}

fn date_ms(value: &str) -> Option<i64> {
    use chrono::{DateTime, NaiveDate, NaiveDateTime};
    DateTime::parse_from_rfc3339(value)
        .or_else(|_| DateTime::parse_from_rfc2822(value))
        .map(|t| t.timestamp_millis())
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S")
                .ok()
                .map(|t| t.and_utc().timestamp_millis())
        })
        .or_else(|| {
            NaiveDate::parse_from_str(value, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| t.and_utc().timestamp_millis())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_seconds_or_a_date_clamped_to_a_second_and_a_day() {
        let now = 1_767_225_600_000; // 2026-01-01T00:00:00Z
        assert_eq!(retry_at("30", now), Some(now + 30_000));
        assert_eq!(retry_at(" 2 ", now), Some(now + 2_000));
        // Zero and negatives are not seconds, and not dates either: ignored.
        assert_eq!(retry_at("0", now), None);
        assert_eq!(retry_at("-5", now), None);
        assert_eq!(retry_at("soon", now), None);
        // Longer than 7 characters: a date or nothing; no overflow however large.
        assert_eq!(retry_at("99999999999999999", now), None);
        assert_eq!(retry_at("9999999", now), Some(now + 24 * 3_600_000));
        assert_eq!(retry_at("2026-01-01T00:00:10Z", now), Some(now + 10_000));
        assert_eq!(
            retry_at("Thu, 01 Jan 2026 00:01:00 GMT", now),
            Some(now + 60_000)
        );
        assert_eq!(retry_at("2026-01-01T00:00:05", now), Some(now + 5_000));
        // In the past: a second from now. Far ahead: a day from now.
        assert_eq!(retry_at("2025-01-01T00:00:00Z", now), Some(now + 1_000));
        assert_eq!(retry_at("2026-02-01", now), Some(now + 24 * 3_600_000));
    }

    #[test]
    fn attempts_are_retries_plus_one_with_the_default_and_the_cap() {
        assert_eq!(max_attempts(None), 5);
        assert_eq!(max_attempts(Some(1)), 2);
        assert_eq!(max_attempts(Some(99)), 21);
    }

    #[test]
    fn the_table_grows_and_caps_at_two_hours() {
        for (attempt, base) in [(0, 15), (1, 30), (2, 60), (9, 7200), (50, 7200)] {
            let d = delay(attempt, None);
            assert!(d >= Duration::from_secs(base), "{attempt}: {d:?}");
            assert!(d < Duration::from_secs(base + 30), "{attempt}: {d:?}");
        }
        assert_eq!(
            delay(3, Some(Duration::from_secs(1))),
            Duration::from_secs(1)
        );
    }
}
