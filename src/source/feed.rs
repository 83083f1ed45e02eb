//! The ordered stream of inputs from the listers to the scan.
//!
//! Listing runs ahead of the decoders, but only so far: an organization trail can hold tens of millions
//! of objects, whose names alone would not fit in memory, and the first objects can be fetched while
//! later folders are still being listed. Inputs come out in the order they went in, which is the
//! order the S3 prefetcher fetches them in and the order the scan merges them in.

use super::{Input, Listing, Location};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Condvar, Mutex};
use tokio::sync::{Semaphore, mpsc};

/// How many listed inputs may wait for a decoder (a few hundred bytes each).
pub const CAPACITY: usize = 50_000;

/// One object for the S3 prefetcher: `(seq, bucket, key, size)`.
pub type Job = (usize, String, String, u64);

/// What the listers have found so far.
#[derive(Clone, Debug, Default)]
pub struct Totals {
    /// Inputs listed for reading, and their bytes.
    pub listed: usize,
    pub listed_bytes: u64,
    pub pruned: u64,
    pub pruned_by_reason: BTreeMap<String, u64>,
    /// Names that could not be listed, with the reason.
    pub failed: Vec<(String, String)>,
    /// True once every argument has been listed.
    pub done: bool,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Input>,
    taken: usize,
    next_seq: usize,
    totals: Totals,
}

pub struct Feed {
    state: Mutex<State>,
    ready: Condvar,
    room: Semaphore,
    jobs: Option<mpsc::UnboundedSender<Job>>,
}

impl Feed {
    /// A feed whose S3 inputs are also sent, numbered, to `jobs`.
    pub fn new(jobs: Option<mpsc::UnboundedSender<Job>>) -> Self {
        Feed { state: Mutex::new(State::default()), ready: Condvar::new(), room: Semaphore::new(CAPACITY), jobs }
    }

    fn account(t: &mut Totals, pruned: Vec<(String, String)>, failed: Vec<(String, String)>) {
        t.pruned += pruned.len() as u64;
        for (_, why) in pruned {
            *t.pruned_by_reason.entry(why).or_default() += 1;
        }
        t.failed.extend(failed);
    }

    /// Appends `listing`, waiting while the feed is full.
    pub async fn push(&self, listing: Listing) {
        let Listing { inputs, pruned, failed } = listing;
        if let Ok(mut st) = self.state.lock() {
            Self::account(&mut st.totals, pruned, failed);
        }
        for mut input in inputs {
            // Closed only if the feed is dropped, when nobody reads it any more.
            let Ok(permit) = self.room.acquire().await else { return };
            permit.forget();
            let Ok(mut st) = self.state.lock() else { return };
            if let Location::S3 { bucket, key, seq } = &mut input.location {
                *seq = st.next_seq;
                st.next_seq += 1;
                if let Some(jobs) = &self.jobs {
                    let _ = jobs.send((*seq, bucket.clone(), key.clone(), input.size));
                }
            }
            st.totals.listed += 1;
            st.totals.listed_bytes += input.size;
            st.queue.push_back(input);
            drop(st);
            self.ready.notify_one();
        }
    }

    /// Marks the listing complete: `pop` returns `None` once the queue is empty.
    pub fn finish(&self) {
        if let Ok(mut st) = self.state.lock() {
            st.totals.done = true;
        }
        self.ready.notify_all();
    }

    /// The next input and its place in the order, waiting for the listers; `None` when all are taken.
    pub fn pop(&self) -> Option<(usize, Input)> {
        let mut st = self.state.lock().ok()?;
        loop {
            if let Some(input) = st.queue.pop_front() {
                let i = st.taken;
                st.taken += 1;
                drop(st);
                self.room.add_permits(1);
                return Some((i, input));
            }
            if st.totals.done {
                return None;
            }
            st = self.ready.wait(st).ok()?;
        }
    }

    /// Waits until there is an input to read or the listing is complete; true if anything was listed.
    pub fn wait_any(&self) -> bool {
        let Ok(mut st) = self.state.lock() else { return false };
        while st.queue.is_empty() && !st.totals.done {
            match self.ready.wait(st) {
                Ok(s) => st = s,
                Err(_) => return false,
            }
        }
        st.totals.listed > 0
    }

    pub fn totals(&self) -> Totals {
        self.state.lock().map(|st| st.totals.clone()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3(key: &str) -> Input {
        Input {
            name: format!("s3://b/{key}"),
            location: Location::S3 { bucket: "b".into(), key: key.into(), seq: usize::MAX },
            size: 10,
            layout: None,
        }
    }

    #[test]
    fn inputs_come_out_in_order_numbered_for_the_prefetcher() {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let feed = std::sync::Arc::new(Feed::new(Some(tx)));
        let lister = feed.clone();
        let producer = std::thread::spawn(move || {
            rt.block_on(async {
                for chunk in 0..3 {
                    let inputs = (0..4).map(|i| s3(&format!("k{chunk}{i}"))).collect();
                    let pruned = vec![("x".to_owned(), "digest".to_owned())];
                    lister.push(Listing { inputs, pruned, failed: Vec::new() }).await;
                }
            });
            lister.finish();
        });
        let mut got = Vec::new();
        while let Some((i, input)) = feed.pop() {
            assert_eq!(i, got.len());
            assert!(matches!(input.location, Location::S3 { seq, .. } if seq == i));
            got.push(input.name);
        }
        producer.join().unwrap();
        assert_eq!(got.len(), 12);
        assert_eq!(got[5], "s3://b/k11");
        let jobs: Vec<usize> = std::iter::from_fn(|| rx.try_recv().ok()).map(|j| j.0).collect();
        assert_eq!(jobs, (0..12).collect::<Vec<_>>());
        let t = feed.totals();
        assert!(t.done && t.listed == 12 && t.listed_bytes == 120 && t.pruned == 3);
        assert_eq!(t.pruned_by_reason["digest"], 3);
    }
}
