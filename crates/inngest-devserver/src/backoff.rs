//! Retry policy: how many attempts a step gets and how long to wait between them.
//!
//! As the Inngest server (`pkg/consts`, `pkg/backoff`): a function without `retries` gets
//! [`DEFAULT_RETRIES`] = 4 retries, i.e. 5 attempts (the runtime's constant, so the SDK side and
//! the server side cannot disagree); retries are clamped to 20. The delay
//! before retry *n* is the n-th entry of a fixed table (15 s … 2 h) plus up to 30 s of jitter,
//! unless the SDK answered with `Retry-After`.

use std::time::Duration;

use inngest_runtime::app::DEFAULT_RETRIES;
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

#[cfg(test)]
mod tests {
    use super::*;

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
