//! Duplicate records (same `eventID`) are counted once, in bounded memory.
//!
//! For files named by CloudTrail's layout, inputs are read in key order, so within one
//! account/region the delivery time only moves forward. A duplicate is recognized when both copies are
//! delivered within [`WINDOW_MS`] of the event; ids of older events are forgotten, which bounds memory
//! by the event rate, not by the bytes scanned (and by [`KEEP_PARTITIONS`] account/region pairs). For other inputs (exports, single files) every id is
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
    last_use: u64,
}

/// Partitions kept at once. Inputs come sorted by key, so a partition is normally finished when the
/// next begins; a few are kept so that a second trail of the same account and region (an organization
/// trail beside an account trail) is still de-duplicated against the first.
const KEEP_PARTITIONS: usize = 64;

#[derive(Default)]
pub struct Dedup {
    /// The partition being read, out of the map so each event reaches it without a lookup.
    current: Option<(String, String)>,
    part: Partition,
    /// Other recent layout partitions `(account, region)`.
    parts: FxHashMap<(String, String), Partition>,
    tick: u64,
    /// Emptied buckets kept for the next hours: a busy hour's table is large, and growing a fresh one
    /// again every hour costs rehashing and page faults.
    spare: Vec<FxHashSet<u128>>,
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
    fn recycle(spare: &mut Vec<FxHashSet<u128>>, mut b: FxHashSet<u128>) {
        if spare.len() < 8 {
            b.clear();
            spare.push(b);
        }
    }

    /// Called before the events of each input, in input order.
    pub fn enter(&mut self, origin: &Origin<'_>) {
        let Some((acct, region)) = origin.partition else { return };
        self.tick += 1;
        let same = self.current.as_ref().is_some_and(|(a, r)| a == acct && r == region);
        if !same {
            let key = (acct.to_owned(), region.to_owned());
            if let Some(prev) = self.current.take() {
                self.parts.insert(prev, std::mem::take(&mut self.part));
            }
            if !self.parts.contains_key(&key) && self.parts.len() >= KEEP_PARTITIONS {
                let oldest = self.parts.iter().min_by_key(|(_, p)| p.last_use).map(|(k, _)| k.clone());
                if let Some(p) = oldest.and_then(|k| self.parts.remove(&k)) {
                    for (_, b) in p.buckets {
                        Self::recycle(&mut self.spare, b);
                    }
                }
            }
            self.part = self.parts.remove(&key).unwrap_or_default();
            self.current = Some(key);
        }
        let part = &mut self.part;
        part.last_use = self.tick;
        if origin.delivered_ms > part.watermark {
            part.watermark = origin.delivered_ms;
            let horizon = part.watermark - WINDOW_MS;
            while let Some((&hour, _)) = part.buckets.first_key_value() {
                if hour + BUCKET_MS > horizon {
                    break;
                }
                if let Some((_, b)) = part.buckets.pop_first() {
                    Self::recycle(&mut self.spare, b);
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
                let part = &mut self.part;
                // Outside the window the id is neither checked nor stored, so the answer does not depend
                // on when older buckets happened to be evicted.
                if t <= part.watermark - WINDOW_MS {
                    return false;
                }
                let hour = t.div_euclid(BUCKET_MS) * BUCKET_MS;
                let spare = &mut self.spare;
                let fresh = || {
                    // Sized for a busy hour of one account and region: growing by doubling rehashes.
                    spare.pop().unwrap_or_else(|| FxHashSet::with_capacity_and_hasher(1 << 14, Default::default()))
                };
                !part.buckets.entry(hour).or_insert_with(fresh).insert(key)
            }
            None => !self.untimed.entry((acct.to_owned(), region.to_owned())).or_default().insert(key),
        }
    }

    /// Ids currently held (for memory accounting in tests and benchmarks).
    pub fn held(&self) -> usize {
        let held = |p: &Partition| p.buckets.values().map(|b| b.len()).sum::<usize>();
        self.unbounded.len() + held(&self.part) + self.parts.values().map(held).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Batch;

    fn batch(ids: &[(u128, i64)]) -> Batch {
        let mut b = Batch::default();
        for &(id, t) in ids {
            let mut e = b.begin();
            e.dedup_key(Some(id));
            e.time(Some(t), None, None);
            e.finish();
        }
        b
    }

    fn dups(d: &mut Dedup, part: (&str, &str), delivered: i64, b: &Batch) -> usize {
        let o = Origin { partition: Some(part), delivered_ms: delivered };
        d.enter(&o);
        b.iter().filter(|e| d.is_duplicate(&o, e)).count()
    }

    #[test]
    fn a_second_trail_of_the_same_partition_is_still_deduplicated() {
        let h = 3_600_000;
        let mut d = Dedup::default();
        let b = batch(&[(1, 10 * h), (2, 10 * h + 5)]);
        assert_eq!(dups(&mut d, ("111", "us-east-1"), 10 * h + 60_000, &b), 0);
        assert_eq!(dups(&mut d, ("222", "us-east-1"), 10 * h + 60_000, &batch(&[(9, 10 * h)])), 0);
        // The organization trail's copy of account 111, read after account 222.
        assert_eq!(dups(&mut d, ("111", "us-east-1"), 10 * h + 120_000, &b), 2);
    }

    #[test]
    fn ids_beyond_the_window_are_neither_checked_nor_kept() {
        let h = 3_600_000;
        let mut d = Dedup::default();
        assert_eq!(dups(&mut d, ("1", "r"), 2 * h, &batch(&[(7, 2 * h)])), 0);
        // Twelve hours later the old event's id is forgotten, and a late copy of it counts again.
        assert_eq!(dups(&mut d, ("1", "r"), 14 * h, &batch(&[(8, 14 * h)])), 0);
        assert_eq!(dups(&mut d, ("1", "r"), 14 * h, &batch(&[(7, 2 * h)])), 0);
        assert!(d.held() <= 2);
    }
}
