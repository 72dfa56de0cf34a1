//! Cron schedules as Inngest reads them: five fields (minute hour day-of-month month
//! day-of-week), optionally prefixed by `TZ=<IANA zone> ` or `CRON_TZ=<IANA zone> `.

use chrono::{DateTime, TimeZone, Utc};
use croner::Cron;

/// A schedule that Inngest would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid cron {input:?}: {reason}")]
pub struct CronError {
    /// The schedule given.
    pub input: String,
    /// What is wrong with it.
    pub reason: String,
}

/// A parsed, validated cron schedule.
///
/// ```
/// use inngest_runtime::cron::CronSchedule;
/// let s = CronSchedule::parse("TZ=Europe/Paris 0 9 * * 1-5").unwrap();
/// assert_eq!(s.timezone(), Some("Europe/Paris"));
/// assert!(CronSchedule::parse("0 9 * *").is_err());          // four fields
/// assert!(CronSchedule::parse("TZ=Mars/Base 0 9 * * *").is_err()); // unknown zone
/// ```
#[derive(Debug, Clone)]
pub struct CronSchedule {
    source: String,
    tz: Option<chrono_tz::Tz>,
    cron: Cron,
}

impl CronSchedule {
    /// Parses and validates a schedule.
    pub fn parse(input: &str) -> Result<Self, CronError> {
        let err = |reason: String| CronError {
            input: input.to_string(),
            reason,
        };
        let trimmed = input.trim();
        let (tz, expr) = match trimmed.split_once(' ') {
            Some((first, rest)) if first.starts_with("TZ=") || first.starts_with("CRON_TZ=") => {
                let zone = first.split_once('=').map(|(_, z)| z).unwrap_or_default();
                let tz: chrono_tz::Tz = zone
                    .parse()
                    .map_err(|_| err(format!("unknown time zone {zone:?}")))?;
                (Some(tz), rest.trim())
            }
            _ => (None, trimmed),
        };
        let fields = expr.split_whitespace().count();
        if fields != 5 {
            return Err(err(format!(
                "expected 5 fields (minute hour day-of-month month day-of-week), found {fields}"
            )));
        }
        let cron = expr.parse::<Cron>().map_err(|e| err(e.to_string()))?;
        Ok(Self {
            source: input.to_string(),
            tz,
            cron,
        })
    }

    /// The schedule as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The time zone of a `TZ=` prefix.
    pub fn timezone(&self) -> Option<&'static str> {
        self.tz.map(|tz| tz.name())
    }

    /// The first tick strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self.tz {
            Some(tz) => {
                let local = tz.from_utc_datetime(&after.naive_utc());
                self.cron
                    .find_next_occurrence(&local, false)
                    .ok()
                    .map(|t| t.with_timezone(&Utc))
            }
            None => self.cron.find_next_occurrence(&after, false).ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_tick_honours_the_zone() {
        let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let utc = CronSchedule::parse("0 9 * * *").unwrap();
        assert_eq!(
            utc.next_after(start).unwrap(),
            Utc.with_ymd_and_hms(2026, 1, 1, 9, 0, 0).unwrap()
        );
        let paris = CronSchedule::parse("TZ=Europe/Paris 0 9 * * *").unwrap();
        // 09:00 in Paris is 08:00 UTC in winter.
        assert_eq!(
            paris.next_after(start).unwrap(),
            Utc.with_ymd_and_hms(2026, 1, 1, 8, 0, 0).unwrap()
        );
    }

    #[test]
    fn refuses_bad_fields() {
        for bad in ["", "* * * * * *", "61 * * * *", "0 25 * * *", "a b c d e"] {
            assert!(
                CronSchedule::parse(bad).is_err(),
                "{bad:?} should be refused"
            );
        }
    }
}
