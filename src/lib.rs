//! trailhound: find AWS temporary credentials used outside the workload they were issued to.
//!
//! The pipeline, one module per stage:
//! `source` (list and read inputs) -> `decode` (sniff, decompress, parse, normalize into [`event`])
//! -> `scan` (parallel decode, ordered merge, `dedup`, `summary`) -> `detect` -> `report`, or `export`
//! (the events as Parquet).

#![warn(missing_docs)]

pub mod athena;
pub mod aws;
pub mod blast;
pub mod cli;
pub mod decode;
pub mod dedup;
pub mod detect;
pub mod event;
pub mod export;
pub mod hashing;
pub mod report;
pub mod respond;
pub mod revoke;
pub mod scan;
pub mod source;
pub mod summary;
pub mod time;
pub mod timeline;

/// Exit statuses, documented in the README.
pub mod exit {
    /// Every input read, nothing found.
    pub const CLEAN: i32 = 0;
    /// Every input read, findings reported.
    pub const FINDINGS: i32 = 1;
    /// Bad arguments or a fatal error: no result.
    pub const ERROR: i32 = 2;
    /// Some inputs were skipped or read only in part (see the summary); nothing found in the rest.
    pub const PARTIAL: i32 = 3;
    /// Some inputs were skipped or read only in part, and findings were reported.
    pub const PARTIAL_FINDINGS: i32 = 4;
    /// `revoke`: a change was made in IAM but not verified (its read-back failed or did not match, or
    /// its outcome could not be recorded): check it by hand.
    pub const UNVERIFIED: i32 = 5;

    /// The exit status of a run: whether findings were reported and whether some input was not read in full.
    pub fn status(findings: bool, partial: bool) -> i32 {
        match (findings, partial) {
            (false, false) => CLEAN,
            (true, false) => FINDINGS,
            (false, true) => PARTIAL,
            (true, true) => PARTIAL_FINDINGS,
        }
    }
}
