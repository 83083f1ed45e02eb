//! Hive partition names: `account=.../region=.../date=YYYY-MM-DD`.
//!
//! Accounts and regions come from the logs, so they are attacker-controlled: every byte other than
//! ASCII letters, digits, `-` and `_` is percent-encoded (as Hive escapes partition values), so a
//! value can never climb out of the export folder (`..`, `/`) or hide a control character in a name.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// What Hive, Athena and Spark call a missing partition value.
pub const DEFAULT_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";

/// Longest value kept in a folder name (a valid account or region is far shorter).
const MAX_VALUE: usize = 64;

const ESCAPED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_');

/// A partition value as it appears in a folder name.
pub fn value(v: &str) -> String {
    if v.is_empty() {
        return DEFAULT_PARTITION.to_owned();
    }
    let mut cut = v.len().min(MAX_VALUE);
    while !v.is_char_boundary(cut) {
        cut -= 1;
    }
    utf8_percent_encode(&v[..cut], ESCAPED).to_string()
}

/// The UTC date of an event time, or the default partition when the event has none.
pub fn date(time_ms: Option<i64>) -> String {
    match time_ms.and_then(|t| chrono::DateTime::from_timestamp_millis(t)) {
        Some(t) => t.format("%Y-%m-%d").to_string(),
        None => DEFAULT_PARTITION.to_owned(),
    }
}

/// The relative folder of a partition.
pub fn folder(account: &str, region: &str, time_ms: Option<i64>) -> String {
    format!("account={}/region={}/date={}", value(account), value(region), date(time_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_partition_values_stay_inside_the_export() {
        assert_eq!(value("012345678901"), "012345678901");
        assert_eq!(value("us-east-1"), "us-east-1");
        assert_eq!(value(".."), "%2E%2E");
        assert_eq!(value("a/../b"), "a%2F%2E%2E%2Fb");
        assert_eq!(value("x\u{1b}[31m"), "x%1B%5B31m");
        assert_eq!(value(""), DEFAULT_PARTITION);
        assert!(value(&"9".repeat(500)).len() <= MAX_VALUE);
    }

    #[test]
    fn dates_are_utc_days() {
        assert_eq!(date(Some(1_700_000_000_000)), "2023-11-14");
        assert_eq!(date(None), DEFAULT_PARTITION);
        assert_eq!(folder("1", "eu-west-1", Some(0)), "account=1/region=eu-west-1/date=1970-01-01");
    }
}
