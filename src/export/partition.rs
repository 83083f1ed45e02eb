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
    utf8_percent_encode(&v[..v.floor_char_boundary(MAX_VALUE)], ESCAPED).to_string()
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
