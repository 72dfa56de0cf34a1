//! Inngest duration strings: `"3d"`, `"1h30m"`, `"500ms"`, `"1.5h"`, `"2w"`.
//!
//! The units are Go's (`ns`, `us`/`µs`, `ms`, `s`, `m`, `h`) plus `d` (24h) and `w` (7d), as
//! the Inngest server parses them.

use std::time::Duration;

/// A duration string that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {input:?}: {reason}")]
pub struct DurationError {
    /// The string given.
    pub input: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// Parses an Inngest duration string.
///
/// ```
/// use std::time::Duration;
/// use inngest_runtime::duration::parse;
/// assert_eq!(parse("3d").unwrap(), Duration::from_secs(3 * 86_400));
/// assert_eq!(parse("1h30m").unwrap(), Duration::from_secs(5_400));
/// assert_eq!(parse("1.5s").unwrap(), Duration::from_millis(1_500));
/// assert!(parse("3 days").is_err());
/// ```
pub fn parse(input: &str) -> Result<Duration, DurationError> {
    let err = |reason| DurationError {
        input: input.to_string(),
        reason,
    };
    let s = input.trim();
    if s.is_empty() {
        return Err(err("empty"));
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total_nanos: f64 = 0.0;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(err("expected a number"));
        }
        let number: f64 = rest[..num_len].parse().map_err(|_| err("bad number"))?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let nanos_per_unit: f64 = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3_600e9,
            "d" => 86_400e9,
            "w" => 604_800e9,
            "" => return Err(err("missing unit (ns, us, ms, s, m, h, d, w)")),
            _ => return Err(err("unknown unit (use ns, us, ms, s, m, h, d, w)")),
        };
        total_nanos += number * nanos_per_unit;
    }
    if !total_nanos.is_finite() || total_nanos > u64::MAX as f64 {
        return Err(err("too large"));
    }
    Ok(Duration::from_nanos(total_nanos.round() as u64))
}

/// Formats a duration the way Inngest reads it, largest units first: `1h30m`, `3d`, `250ms`.
///
/// ```
/// use std::time::Duration;
/// use inngest_runtime::duration::format;
/// assert_eq!(format(Duration::from_secs(5_400)), "1h30m");
/// assert_eq!(format(Duration::from_secs(3 * 86_400)), "3d");
/// assert_eq!(format(Duration::from_millis(1_250)), "1s250ms");
/// assert_eq!(format(Duration::ZERO), "0s");
/// ```
pub fn format(d: Duration) -> String {
    let mut out = String::new();
    let mut secs = d.as_secs();
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if secs >= size {
            out.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    let millis = d.subsec_millis();
    if millis > 0 {
        out.push_str(&format!("{millis}ms"));
    }
    if out.is_empty() { "0s".into() } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit() {
        assert_eq!(parse("10ns").unwrap(), Duration::from_nanos(10));
        assert_eq!(parse("10us").unwrap(), Duration::from_micros(10));
        assert_eq!(parse("10µs").unwrap(), Duration::from_micros(10));
        assert_eq!(parse("10ms").unwrap(), Duration::from_millis(10));
        assert_eq!(parse("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse("2w").unwrap(), Duration::from_secs(14 * 86_400));
        assert_eq!(
            parse("1d2h3m4s").unwrap(),
            Duration::from_secs(86_400 + 7_200 + 184)
        );
        assert_eq!(parse("0").unwrap(), Duration::ZERO);
    }

    #[test]
    fn refuses_garbage() {
        for bad in ["", "3", "h", "3x", "3 d", "-1s", "1..2s"] {
            assert!(parse(bad).is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn format_round_trips() {
        for d in [1, 59, 61, 3_600, 86_399, 86_401, 1_000_000] {
            let d = Duration::from_secs(d);
            assert_eq!(parse(&format(d)).unwrap(), d);
        }
    }
}
