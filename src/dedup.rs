//! Duplicate records (same `eventID`) are counted once, exactly, whatever the folders.
//!
//! CloudTrail copies global events into several regions' folders, an organization trail and an
//! account trail deliver the same events under different prefixes, and deliveries can be late: no
//! window of time or folder is safe to forget. So every id is kept for the whole run, as a 128-bit
//! key (the UUID's own bits, or a 128-bit hash of a non-UUID id) in one open-addressing table, hashed
//! under a seed drawn for the run, since a forged trail chooses its ids ([`crate::hashing`]):
//! 16 bytes a slot, about 18-37 bytes per distinct record with the table's load factor, and up to
//! 1.5 times that for a moment while it grows. That is the cost of exactness, measured in the README.

use crate::event::Event;
use crate::hashing::KeyedSet;

/// The ids seen so far.
#[derive(Default)]
pub struct Dedup {
    seen: KeyedSet<u128>,
}

impl Dedup {
    /// True when this event was seen before (and so must not be counted again). Records without an
    /// `eventID` cannot be matched and are always kept.
    pub fn is_duplicate(&mut self, ev: &Event<'_>) -> bool {
        let Some(key) = ev.dedup_key() else { return false };
        !self.seen.insert(key)
    }

    /// Ids currently held (for memory accounting in tests and benchmarks).
    pub fn held(&self) -> usize {
        self.seen.len()
    }

    /// Bytes the id table holds (its slots and control bytes), for memory accounting. The table keeps
    /// a power-of-two number of slots, at most 7/8 of them full.
    pub fn table_bytes(&self) -> usize {
        let slots = if self.seen.capacity() == 0 { 0 } else { (self.seen.capacity() * 8 / 7).next_power_of_two() };
        slots * (std::mem::size_of::<u128>() + 1)
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

    fn dups(d: &mut Dedup, b: &Batch) -> usize {
        b.iter().filter(|e| d.is_duplicate(e)).count()
    }

    #[test]
    fn global_event_copies_and_late_deliveries_are_deduplicated_exactly() {
        let h = 3_600_000;
        let mut d = Dedup::default();
        // A global event (IAM, STS) in us-east-1's folder, then thousands of other events, then its
        // copy in another region's folder, delivered a day late: still a duplicate.
        assert_eq!(dups(&mut d, &batch(&[(1, 10 * h), (2, 10 * h + 5)])), 0);
        let others: Vec<(u128, i64)> = (100..20_100).map(|i| (i, 10 * h + i as i64 * 60_000)).collect();
        assert_eq!(dups(&mut d, &batch(&others)), 0);
        assert_eq!(dups(&mut d, &batch(&[(1, 10 * h), (3, 40 * h)])), 1);
        // The same file under an organization trail's prefix: every record is a duplicate.
        assert_eq!(dups(&mut d, &batch(&others)), others.len());
        assert_eq!(d.held(), 20_003);
        assert!(d.table_bytes() >= 20_003 * 17, "{}", d.table_bytes());
    }
}
