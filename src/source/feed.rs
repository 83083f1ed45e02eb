//! The ordered stream of inputs from the listers to the scan.
//!
//! Listing runs ahead of the decoders, but only so far: an organization trail can hold tens of millions
//! of objects, whose names alone would not fit in memory, and the first objects can be fetched while
//! later folders are still being listed. Inputs come out in the order they went in, which is the
//! order the S3 prefetcher fetches them in and the order the scan merges them in.

use super::{Input, Listing, Location};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
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
    /// Total listed size of those inputs, in bytes (compressed, as listed).
    pub listed_bytes: u64,
    /// Inputs left out by name (digests, outside the account, region or date filters).
    pub pruned: u64,
    /// The same, counted by reason (the reason text as the summary shows it).
    pub pruned_by_reason: BTreeMap<String, u64>,
    /// Names that could not be listed, with the reason.
    pub failed: Vec<(String, String)>,
    /// True once every argument has been listed.
    pub done: bool,
    /// Every account the listed layout names (`AWSLogs/[o-.../]<account>/`), its inputs read or
    /// pruned: the accounts the trail is about, which `--account` leaves unread but not unknown.
    pub accounts: BTreeSet<String>,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Input>,
    taken: usize,
    next_seq: usize,
    totals: Totals,
}

/// The bounded, ordered queue of inputs between the listers and the scan, with running totals.
pub struct Feed {
    state: Mutex<State>,
    ready: Condvar,
    room: Semaphore,
    /// Set when nobody will read the feed any more: listers stop instead of waiting for room.
    closed: AtomicBool,
    jobs: Option<mpsc::UnboundedSender<Job>>,
}

impl Feed {
    /// A feed whose S3 inputs are also sent, numbered, to `jobs`.
    pub fn new(jobs: Option<mpsc::UnboundedSender<Job>>) -> Self {
        Feed {
            state: Mutex::new(State::default()),
            ready: Condvar::new(),
            room: Semaphore::new(CAPACITY),
            closed: AtomicBool::new(false),
            jobs,
        }
    }

    fn account(t: &mut Totals, pruned: Vec<(String, String)>, failed: Vec<(String, String)>) {
        t.pruned += pruned.len() as u64;
        for (name, why) in pruned {
            // A folder under the layout names its account; so does a file named in CloudTrail's
            // way, wherever it sits (logs copied out of S3 into one flat folder).
            let account = super::layout::account_of(&name)
                .map(str::to_owned)
                .or_else(|| super::layout::parse_key(&name).map(|k| k.account));
            if let Some(a) = account {
                t.accounts.insert(a);
            }
            *t.pruned_by_reason.entry(why).or_default() += 1;
        }
        t.failed.extend(failed);
    }

    /// Appends `listing`, waiting while the feed is full; false once the feed is closed (stop listing).
    pub async fn push(&self, listing: Listing) -> bool {
        let Listing { inputs, pruned, failed } = listing;
        if let Ok(mut st) = self.state.lock() {
            Self::account(&mut st.totals, pruned, failed);
        }
        for mut input in inputs {
            let Ok(permit) = self.room.acquire().await else { return false };
            permit.forget();
            let Ok(mut st) = self.state.lock() else { return false };
            if let Location::S3 { bucket, key, seq } = &mut input.location {
                *seq = st.next_seq;
                st.next_seq += 1;
                if let Some(jobs) = &self.jobs {
                    let _ = jobs.send((*seq, bucket.clone(), key.clone(), input.size));
                }
            }
            st.totals.listed += 1;
            st.totals.listed_bytes += input.size;
            if let Some(k) = &input.layout {
                st.totals.accounts.insert(k.account.clone());
            }
            st.queue.push_back(input);
            drop(st);
            self.ready.notify_one();
        }
        !self.closed.load(Ordering::Relaxed)
    }

    /// Records a name that could not be listed.
    pub fn fail(&self, name: String, reason: String) {
        if let Ok(mut st) = self.state.lock() {
            st.totals.failed.push((name, reason));
        }
    }

    /// Nobody will read the feed any more: listers waiting for room, or pushing later, stop.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
        self.room.close();
        self.finish();
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

    /// `(listed, listed_bytes, done)`, cheaply, for the progress bar.
    pub fn progress(&self) -> (usize, u64, bool) {
        self.state.lock().map(|st| (st.totals.listed, st.totals.listed_bytes, st.totals.done)).unwrap_or_default()
    }

    /// A snapshot of what the listers have found so far.
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
                    assert!(lister.push(Listing { inputs, pruned, failed: Vec::new() }).await);
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

    #[test]
    fn a_closed_feed_stops_a_waiting_lister() {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let feed = std::sync::Arc::new(Feed::new(None));
        let lister = feed.clone();
        // More than the feed holds, with nobody reading: the lister waits for room until the close.
        let producer = std::thread::spawn(move || {
            let inputs = (0..CAPACITY + 10).map(|i| s3(&format!("k{i}"))).collect();
            rt.block_on(lister.push(Listing { inputs, ..Listing::default() }))
        });
        while feed.progress().0 < CAPACITY {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        feed.close();
        assert!(!producer.join().unwrap(), "push reports the feed closed");
        assert_eq!(feed.progress().0, CAPACITY);
    }
}
