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
        if let Some(reason) = never_fires(expr) {
            return Err(err(reason));
        }
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

/// Why a schedule can never fire, if it cannot: a day of the month that no month of it has
/// (`0 0 30 2 *`, `0 0 31 4,6 *`), with the day of the week left open. Found from the fields
/// alone, so such a schedule is refused at once instead of costing a search through centuries
/// of dates each time its next tick is asked for. (The Go server accepts it and never runs it.)
fn never_fires(expr: &str) -> Option<String> {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    let (dom, month, dow) = (fields.get(2)?, fields.get(3)?, fields.get(4)?);
    // With a day of the week given, either day field matches (cron's OR): it fires.
    if !matches!(*dow, "*" | "?") {
        return None;
    }
    let days = values(dom, 1, 31, &[])?;
    const MONTHS: [&str; 12] = [
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ];
    let months = values(month, 1, 12, &MONTHS)?;
    let longest = |m: u32| match m {
        2 => 29,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    let possible = months
        .iter()
        .any(|&m| days.iter().any(|&d| d <= longest(m)));
    (!possible)
        .then(|| "it never fires: no month it names has the day of the month it names".to_string())
}

/// The values of one cron field (`*`, `n`, `a-b`, `*/s`, `a-b/s`, lists, names), or `None`
/// for anything else (`L`, `W`, `#`…), which is taken as able to fire.
fn values(field: &str, min: u32, max: u32, names: &[&str]) -> Option<Vec<u32>> {
    let number = |s: &str| -> Option<u32> {
        s.parse().ok().or_else(|| {
            names
                .iter()
                .position(|n| n.eq_ignore_ascii_case(s))
                .and_then(|i| u32::try_from(i).ok())
                .map(|i| i + min)
        })
    };
    let mut out = Vec::new();
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, s.parse::<u32>().ok().filter(|s| *s > 0)?),
            None => (part, 1),
        };
        let (from, to) = match range {
            "*" | "?" => (min, max),
            _ => match range.split_once('-') {
                Some((a, b)) => (number(a)?, number(b)?),
                None => {
                    let n = number(range)?;
                    (n, if part.contains('/') { max } else { n })
                }
            },
        };
        if from > to || to > max {
            return None;
        }
        out.extend((from..=to).step_by(usize::try_from(step).ok()?));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schedule_that_can_never_fire_is_refused_at_once() {
        for never in [
            "0 0 30 2 *",
            "0 0 31 4,6,9,11 *",
            "0 0 31 FEB *",
            "0 0 30-31 2 ?",
        ] {
            let started = std::time::Instant::now();
            let e = CronSchedule::parse(never).err().map(|e| e.reason);
            assert!(
                e.as_deref()
                    .is_some_and(|r| r.starts_with("it never fires")),
                "{never}: {e:?}"
            );
            assert!(started.elapsed() < std::time::Duration::from_millis(50));
        }
        // Possible, if rarely: Feb 29; any day with a weekday given; the last day.
        for rare in ["0 0 29 2 *", "0 0 30 2 1", "0 0 31 1-12/2 *", "0 0 L 2 *"] {
            let s = CronSchedule::parse(rare);
            assert!(s.is_ok(), "{rare}: {s:?}");
        }
    }

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
