//! The server's clock: wall time plus an offset that tests move forward.
//!
//! Every time the server uses (event timestamps, sleeps, wait timeouts, retry backoff, cron
//! ticks) is read from one [`Clock`], so advancing it makes a `sleep("3d")` elapse at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, TimeZone, Utc};

/// Wall time plus an adjustable offset. Cheap to clone; clones share the offset.
///
/// ```
/// use std::time::Duration;
/// let clock = inngest_devserver::Clock::default();
/// let before = clock.now_ms();
/// clock.advance(Duration::from_secs(3 * 86_400))?;
/// assert!(clock.now_ms() - before >= 3 * 86_400_000);
/// // Past the year 9999 is refused, not wrapped around.
/// assert!(clock.advance(Duration::from_secs(u64::MAX)).is_err());
/// # Ok::<(), inngest_devserver::ClockError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
    /// A frozen clock's base instead of wall time: it moves only when advanced.
    frozen_at_ms: Option<i64>,
}

fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The latest time the clock may show: 9999-12-31T23:59:59.999Z.
pub const MAX_MS: i64 = 253_402_300_799_999;

/// Why the clock cannot move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClockError {
    /// The clock would pass the year 9999.
    #[error("the clock cannot move past the year 9999")]
    TooFar,
}

impl Clock {
    /// A clock that shows `at_ms` and moves only when advanced, whatever the wall clock does
    /// (the test engine's: nothing becomes due while a test merely runs slowly).
    pub fn frozen_at(at_ms: i64) -> Self {
        Self {
            offset_ms: Arc::default(),
            frozen_at_ms: Some(at_ms.clamp(0, MAX_MS)),
        }
    }

    fn base_ms(&self) -> i64 {
        self.frozen_at_ms.unwrap_or_else(wall_ms)
    }

    /// Milliseconds since the Unix epoch, as the server sees them.
    pub fn now_ms(&self) -> i64 {
        self.base_ms()
            .saturating_add(self.offset_ms.load(Ordering::SeqCst))
    }

    /// The server's current time.
    pub fn now(&self) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(self.now_ms())
            .single()
            .unwrap_or_default()
    }

    /// Moves the clock forward.
    ///
    /// # Errors
    ///
    /// [`ClockError::TooFar`] when the clock would pass the year 9999; it is left as it was.
    pub fn advance(&self, by: Duration) -> Result<(), ClockError> {
        let ms = i64::try_from(by.as_millis()).map_err(|_| ClockError::TooFar)?;
        let wall = self.base_ms();
        self.offset_ms
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |offset| {
                let next = offset.checked_add(ms)?;
                (wall.checked_add(next)? <= MAX_MS).then_some(next)
            })
            .map(|_| ())
            .map_err(|_| ClockError::TooFar)
    }

    /// How far the clock is ahead of wall time.
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::SeqCst)
    }

    pub(crate) fn set_offset_ms(&self, offset: i64) {
        self.offset_ms.store(offset, Ordering::SeqCst);
    }
}

/// Milliseconds to an RFC 3339 string with milliseconds, UTC.
pub(crate) fn rfc3339(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
