//! The Athena engine: the detector's inputs computed where the trail lies.
//!
//! Athena narrows, trailhound judges. The queries in `queries/` (Trino SQL, embedded here, runnable
//! by hand in the console) compute, with partition pruning by day, account and region, the grouped
//! facts the detector's state is made of ([`crate::detect::facts::Facts`]); [`Detector::absorb`]
//! takes them and the same judge as the local engine decides. Findings are then the local engine's
//! by construction, which the tests check on every labelled corpus.
//!
//! [`Detector::absorb`]: crate::detect::Detector::absorb

pub mod catalogue;
pub mod client;
pub mod ddl;
pub mod engine;
pub mod objects;
pub mod rows;

pub use catalogue::{QUERIES, Query, Window};
pub use client::{AthenaRun, QueryStats, run_facts};

/// Where and how to query: the library's terms for the `--athena-*` flags.
#[derive(Clone, Debug, Default)]
pub struct AthenaOptions {
    /// The Glue database holding the table.
    pub database: String,
    /// The CloudTrail table (`trailhound athena ddl` prints one).
    pub table: String,
    /// The Athena workgroup (its own output location and limits apply).
    pub workgroup: Option<String>,
    /// Where Athena writes results (`s3://...`), when the workgroup does not say.
    pub output: Option<String>,
    /// Reuse a result Athena computed for the same query within this many minutes.
    pub reuse_minutes: Option<i32>,
    /// Refuse to go on once the queries have scanned more than this many bytes.
    pub max_scan_bytes: Option<u64>,
    /// Give up on a query that has not finished after this long, in seconds.
    pub timeout_secs: u64,
}

/// Athena's on-demand price: $5 per TB scanned (10^12 bytes), at least 10 MB billed per query.
pub const USD_PER_TB: f64 = 5.0;

/// The price of scanning `bytes` in one query.
pub fn cost_usd(bytes: u64) -> f64 {
    const MIN_BILLED: u64 = 10_000_000;
    bytes.max(MIN_BILLED) as f64 / 1e12 * USD_PER_TB
}

/// Checks a table or database name before it is written into a query: a name cannot be an
/// `ExecutionParameters` value, so only plain identifiers are accepted.
pub fn check_identifier(what: &str, name: &str) -> anyhow::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 255
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit();
    if ok {
        Ok(())
    } else {
        anyhow::bail!("{what} {name:?} is not a plain identifier (letters, digits and _, not starting with a digit)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_has_a_ten_megabyte_minimum() {
        assert_eq!(cost_usd(0), cost_usd(10_000_000));
        assert!((cost_usd(1_000_000_000_000) - 5.0).abs() < 1e-9);
    }

    #[test]
    fn identifiers_are_plain() {
        assert!(check_identifier("table", "cloudtrail_logs").is_ok());
        for bad in ["", "a b", "t\"; DROP", "1t", "x.y"] {
            assert!(check_identifier("table", bad).is_err(), "{bad}");
        }
    }
}
