//! Timestamps as milliseconds since the Unix epoch.
//!
//! CloudTrail writes `eventTime` as `YYYY-MM-DDTHH:MM:SSZ`, Logstash as `...SS.fffZ`, `lookup-events` as
//! `...+00:00`. Parsing those by hand keeps chrono off the hot path; anything else falls back to chrono.

use chrono::{DateTime, NaiveDate, SecondsFormat, TimeZone, Utc};

/// Days from 1970-01-01 to the given civil date (proleptic Gregorian), after H. Hinnant.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days in a month of the proleptic Gregorian calendar.
fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn digits(b: &[u8]) -> Option<i64> {
    let mut v = 0i64;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(c - b'0');
    }
    Some(v)
}

/// Parses an RFC 3339 timestamp into epoch milliseconds. Returns `None` when it is not a timestamp.
pub fn parse_ms(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && (b[10] == b'T' || b[10] == b' ')
        && b[13] == b':'
        && b[16] == b':'
    {
        let (y, mo, d) = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
        let (h, mi, sec) = (digits(&b[11..13])?, digits(&b[14..16])?, digits(&b[17..19])?);
        let mut rest = &b[19..];
        let mut ms = 0i64;
        if rest.first() == Some(&b'.') {
            let n = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
            let frac = &rest[1..1 + n];
            let mut scaled = 0i64;
            for i in 0..3 {
                scaled = scaled * 10 + frac.get(i).map_or(0, |c| i64::from(c - b'0'));
            }
            ms = scaled;
            rest = &rest[1 + n..];
        }
        let valid = (1..=12).contains(&mo) && (1..=days_in_month(y, mo)).contains(&d) && h < 24 && mi < 60 && sec < 61;
        if !valid {
            // February 31st is no time at all, not March 3rd (chrono would say so too, more slowly).
            return None;
        }
        if rest == b"Z" || rest == b"+00:00" || rest == b"z" {
            let days = days_from_civil(y, mo, d);
            return Some(((days * 24 + h) * 60 + mi) * 60_000 + sec * 1000 + ms);
        }
    }
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.timestamp_millis())
}

/// Parses a user-supplied bound: RFC 3339, or a bare date `YYYY-MM-DD` (midnight UTC).
pub fn parse_bound(s: &str) -> Option<i64> {
    if let Some(ms) = parse_ms(s) {
        return Some(ms);
    }
    let date = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    Some(Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0)?).timestamp_millis())
}

/// Formats epoch milliseconds as `YYYY-MM-DDTHH:MM:SSZ` (milliseconds only when non-zero).
pub fn format_ms(ms: i64) -> String {
    match Utc.timestamp_millis_opt(ms).single() {
        Some(t) if ms % 1000 == 0 => t.to_rfc3339_opts(SecondsFormat::Secs, true),
        Some(t) => t.to_rfc3339_opts(SecondsFormat::Millis, true),
        None => format!("@{ms}ms"),
    }
}

/// Start of the UTC day holding `ms`.
pub fn day_start(ms: i64) -> i64 {
    ms.div_euclid(86_400_000) * 86_400_000
}

/// Epoch milliseconds of a civil date at midnight UTC.
pub fn civil_ms(y: i64, m: i64, d: i64) -> i64 {
    days_from_civil(y, m, d) * 86_400_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impossible_dates_are_no_time() {
        for s in [
            "2026-02-31T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "1900-02-29T12:00:00Z",
            "2026-04-31T00:00:00.000Z",
            "2026-06-31T00:00:00+00:00",
            "2026-02-31T00:00:00+02:00",
            "2026-00-10T00:00:00Z",
            "2026-01-00T00:00:00Z",
        ] {
            assert_eq!(parse_ms(s), None, "{s}");
        }
        assert_eq!(parse_ms("2026-12-31T23:59:59Z"), Some(civil_ms(2027, 1, 1) - 1000));
    }

    #[test]
    fn parses_cloudtrail_shapes() {
        let base = parse_ms("2023-07-10T11:55:22Z").unwrap();
        assert_eq!(base, 1_688_990_122_000);
        assert_eq!(parse_ms("2023-07-10T11:55:22.250Z"), Some(base + 250));
        assert_eq!(parse_ms("2023-07-10T11:55:22+00:00"), Some(base));
        assert_eq!(parse_ms("2023-07-10T13:55:22+02:00"), Some(base));
        assert_eq!(parse_ms("2023-13-10T11:55:22Z"), None);
        assert_eq!(parse_ms("yesterday"), None);
        assert_eq!(parse_bound("2023-07-10"), Some(civil_ms(2023, 7, 10)));
        assert_eq!(parse_ms("2024-02-29T00:00:00Z"), Some(civil_ms(2024, 2, 29)));
        assert_eq!(parse_ms("2000-02-29T00:00:00Z"), Some(civil_ms(2000, 2, 29)));
        assert_eq!(format_ms(base), "2023-07-10T11:55:22Z");
        assert_eq!(day_start(base), civil_ms(2023, 7, 10));
    }
}
