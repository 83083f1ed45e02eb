//! Duplicate records (same `eventID`) are counted once, in bounded memory.
//!
//! For files named by CloudTrail's layout, inputs are read in key order, so within one
//! account/region the delivery time only moves forward. A duplicate is recognized when both copies are
//! delivered within [`WINDOW_MS`] of the event; ids of older events are forgotten, which bounds memory
//! by the event rate, not by the bytes scanned. For other inputs (exports, single files) every id is
//! kept for the whole run: exact, at about 32 bytes per record.

use crate::event::Event;
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::BTreeMap;

/// How long after an event a duplicate delivery is still recognized.
pub const WINDOW_MS: i64 = 6 * 3_600_000;
const BUCKET_MS: i64 = 3_600_000;

#[derive(Default)]
struct Partition {
    /// Ids by event hour.
    buckets: BTreeMap<i64, FxHashSet<u128>>,
    watermark: i64,
    /// Emptied buckets kept for the next hours: a busy hour's table is large, and growing a fresh one
    /// again every hour costs rehashing and page faults.
    spare: Vec<FxHashSet<u128>>,
}

#[derive(Default)]
pub struct Dedup {
    /// The layout partition `(account, region)` currently being read.
    current: Option<(String, String)>,
    part: Partition,
    /// Ids of inputs without a layout name: kept for the whole run.
    unbounded: FxHashSet<u128>,
    /// Ids of events with no readable time in layout files.
    untimed: FxHashMap<(String, String), FxHashSet<u128>>,
}

/// The layout facts the de-duplicator needs about the input an event came from.
pub struct Origin<'a> {
    pub partition: Option<(&'a str, &'a str)>,
    pub delivered_ms: i64,
}

impl Dedup {
    /// Called before the events of each input, in input order.
    pub fn enter(&mut self, origin: &Origin<'_>) {
        let Some((acct, region)) = origin.partition else { return };
        let same = self.current.as_ref().is_some_and(|(a, r)| a == acct && r == region);
        if !same {
            // Inputs are sorted by key: a partition we leave is finished.
            self.current = Some((acct.to_owned(), region.to_owned()));
            let mut spare = std::mem::take(&mut self.part.spare);
            for (_, mut b) in std::mem::take(&mut self.part.buckets) {
                b.clear();
                spare.push(b);
            }
            spare.truncate(8);
            self.part = Partition { spare, ..Partition::default() };
        }
        if origin.delivered_ms > self.part.watermark {
            self.part.watermark = origin.delivered_ms;
            let horizon = self.part.watermark - WINDOW_MS;
            while let Some((&hour, _)) = self.part.buckets.first_key_value() {
                if hour + BUCKET_MS > horizon {
                    break;
                }
                if let Some((_, mut b)) = self.part.buckets.pop_first() {
                    if self.part.spare.len() < 8 {
                        b.clear();
                        self.part.spare.push(b);
                    }
                }
            }
        }
    }

    /// True when this event was seen before (and so must not be counted again).
    pub fn is_duplicate(&mut self, origin: &Origin<'_>, ev: &Event<'_>) -> bool {
        let Some(key) = ev.dedup_key() else { return false };
        let Some((acct, region)) = origin.partition else {
            return !self.unbounded.insert(key);
        };
        match ev.time_ms() {
            Some(t) => {
                // Outside the window the id is neither checked nor stored, so the answer does not depend
                // on when older buckets happened to be evicted.
                if t <= self.part.watermark - WINDOW_MS {
                    return false;
                }
                let hour = t.div_euclid(BUCKET_MS) * BUCKET_MS;
                let Partition { buckets, spare, .. } = &mut self.part;
                !buckets.entry(hour).or_insert_with(|| spare.pop().unwrap_or_default()).insert(key)
            }
            None => !self.untimed.entry((acct.to_owned(), region.to_owned())).or_default().insert(key),
        }
    }

    /// Ids currently held (for memory accounting in tests and benchmarks).
    pub fn held(&self) -> usize {
        self.unbounded.len() + self.part.buckets.values().map(|b| b.len()).sum::<usize>()
    }
}
