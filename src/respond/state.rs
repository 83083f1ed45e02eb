//! The consumer's state between objects: the detector's facts, the findings as of the last object,
//! the guard's ledger of decisions, and the objects already processed.
//!
//! How long things are kept (README: Triggered response):
//! - facts: [`FACTS_HORIZON_MS`] behind the newest event seen (the trail's clock, not the wall
//!   clock, so replaying old objects judges them as `scan` would). A role session lives at most 12 h
//!   (a role's `MaxSessionDuration` tops at 12 h; EC2 instance credentials ~6 h; role chaining 1 h),
//!   so a key first seen more than 12 h ago has expired and nothing new can be said of it; an hour
//!   more covers CloudTrail's delivery delay (a file holds records from the minutes, rarely hours,
//!   before it). Baselines learned from expired keys go with them: a running instance's fresh keys
//!   (hourly rotation) show its origins again.
//! - decisions: [`LEDGER_HORIZON_MS`] of wall-clock time: the hourly limits need one hour; never
//!   acting twice on a key needs the key's life.
//! - processed objects: [`PROCESSED_HORIZON_MS`], longer than SQS keeps a message (14 days at most),
//!   so a redelivery always finds its object recorded.

use super::decide::MemoryLedger;
use crate::detect::Finding;
use crate::detect::facts::Facts;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Facts older than this behind the newest event are dropped.
pub const FACTS_HORIZON_MS: i64 = 13 * 3600 * 1000;
/// Decisions are kept this long.
pub const LEDGER_HORIZON_MS: i64 = 24 * 3600 * 1000;
/// Processed-object records are kept this long.
pub const PROCESSED_HORIZON_MS: i64 = 15 * 24 * 3600 * 1000;

/// An object already read: a redelivery of its notification reads it again only if its ETag changed.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Processed {
    /// The ETag the notification stated (empty when none).
    pub etag: String,
    /// When it was processed (wall clock, epoch ms).
    pub at_ms: i64,
    /// `read`, `partial: ...`, `skipped: ...`, `ignored: ...`, `outside: ...`, `poison: ...`.
    pub outcome: String,
}

/// Everything the consumer keeps between objects.
#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct State {
    /// The stored version this state was read at (kept beside the state by the stores, not in it).
    #[serde(skip)]
    pub version: u64,
    /// The newest event time seen (epoch ms): the clock facts expire by.
    pub clock_ms: i64,
    /// The detector's facts across objects.
    pub facts: Facts,
    /// Findings as of the last object: what the next object's findings are compared with.
    pub findings: Vec<Finding>,
    /// The guard's record of decisions (idempotence, hourly limits).
    pub ledger: MemoryLedger,
    /// Keys of findings whose revocation failed or was held by what may lift: decided again at the
    /// next batch whether or not they changed.
    #[serde(default)]
    pub unsettled: BTreeSet<String>,
    /// `s3://bucket/key` -> how it was processed.
    pub processed: BTreeMap<String, Processed>,
}

impl State {
    /// Drops what is past its horizon.
    pub fn expire(&mut self, now_ms: i64) {
        if self.clock_ms > 0 {
            self.facts.expire(self.clock_ms - FACTS_HORIZON_MS);
        }
        self.ledger.entries.retain(|d| d.at_ms >= now_ms - LEDGER_HORIZON_MS);
        self.processed.retain(|_, p| p.at_ms >= now_ms - PROCESSED_HORIZON_MS);
    }

    /// True when this object (with this ETag) was processed already.
    pub fn is_processed(&self, url: &str, etag: &str) -> bool {
        self.processed.get(url).is_some_and(|p| p.etag == etag)
    }
}

/// Findings of `now` that are new or changed since `before` (compared by key), or `unsettled`.
pub fn changed(before: &[Finding], now: &[Finding], unsettled: &BTreeSet<String>) -> Vec<Finding> {
    let old: BTreeMap<&str, &Finding> = before.iter().map(|f| (f.access_key_id.as_str(), f)).collect();
    now.iter()
        .filter(|f| unsettled.contains(&f.access_key_id) || old.get(f.access_key_id.as_str()) != Some(f))
        .cloned()
        .collect()
}
