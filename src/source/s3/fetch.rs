//! Objects fetched concurrently ahead of the decoders, in listing order, with bounded memory.

use super::s3_error;
use crate::decode::inflate::max_input;
use crate::source::FetchOptions;
use crate::source::feed::Job;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use tokio::sync::{Semaphore, mpsc};

/// The longest one object may take, retries included.
const FETCH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// Objects fetched ahead of the decoders: at most `budget` bytes held at once, so a slow consumer stops
/// the downloads instead of piling them up. (A tighter cap, twice the concurrency in objects, cut the
/// memory but cost 10% more CPU in wake-ups per object: the budget is the knob, --s3-buffer-mb.)
pub struct Prefetcher {
    slots: Mutex<HashMap<usize, Result<Vec<u8>, String>>>,
    /// Buffers handed back by the decoders, refilled by the next fetches: fresh buffers cost a page
    /// fault per 4 KiB, which was a fifth of the S3 path's CPU.
    spare: Mutex<Vec<Vec<u8>>>,
    /// At most this many spare buffers, holding at most `spare_bytes` in all.
    spare_count: usize,
    spare_bytes: usize,
    ready: Condvar,
    permits: Arc<Semaphore>,
    held: Mutex<HashMap<usize, u32>>,
    cancel: Arc<AtomicBool>,
    fetched: std::sync::atomic::AtomicU64,
    /// Time the decoders spent waiting for objects, for TRAILHOUND_LOG=debug: when it is a large
    /// share of the scan, more concurrency (or a closer region) would help.
    waited_us: std::sync::atomic::AtomicU64,
}

impl Drop for Prefetcher {
    fn drop(&mut self) {
        tracing::debug!(
            fetched_bytes = self.fetched.load(Ordering::Relaxed),
            decoders_waited_ms = self.waited_us.load(Ordering::Relaxed) / 1000,
            "S3 prefetch done"
        );
    }
}

fn permits_for(size: u64, budget_kb: u32) -> u32 {
    ((size / 1024) as u32).clamp(1, budget_kb)
}

impl Prefetcher {
    /// Starts fetching, on `rt`, the objects `jobs` names as they come (in `seq` order).
    pub fn start(
        rt: &tokio::runtime::Handle,
        client: aws_sdk_s3::Client,
        mut jobs: mpsc::UnboundedReceiver<Job>,
        opts: FetchOptions,
        cancel: Arc<AtomicBool>,
    ) -> Arc<Self> {
        let FetchOptions { concurrency, buffer_bytes: budget_bytes, max_object_bytes } = opts;
        let cap = max_input(max_object_bytes);
        let budget_kb = ((budget_bytes / 1024) as u32).max(1024);
        let me = Arc::new(Prefetcher {
            slots: Mutex::new(HashMap::new()),
            spare: Mutex::new(Vec::new()),
            // Enough buffers for every fetch in flight, and never more than a quarter of the budget.
            spare_count: concurrency.max(1) + 8,
            spare_bytes: (budget_bytes / 4) as usize,
            ready: Condvar::new(),
            permits: Arc::new(Semaphore::new(budget_kb as usize)),
            held: Mutex::new(HashMap::new()),
            cancel,
            fetched: std::sync::atomic::AtomicU64::new(0),
            waited_us: std::sync::atomic::AtomicU64::new(0),
        });
        let this = me.clone();
        rt.spawn(async move {
            let in_flight = Arc::new(Semaphore::new(concurrency.max(1)));
            while let Some((seq, bucket, key, size)) = jobs.recv().await {
                if this.cancel.load(Ordering::Relaxed) {
                    break;
                }
                let want = Want::listed(size, cap);
                let need = permits_for(want.bound, budget_kb);
                let Ok(mem) = this.permits.clone().acquire_many_owned(need).await else { break };
                mem.forget();
                if let Ok(mut h) = this.held.lock() {
                    h.insert(seq, need);
                }
                let Ok(slot) = in_flight.clone().acquire_owned().await else { break };
                let (client, this) = (client.clone(), this.clone());
                tokio::spawn(async move {
                    // Every object ends in its slot, whatever happens: a hung transfer times out and a
                    // failed task is reported, so the decoder waiting for it never hangs.
                    let what = format!("s3://{bucket}/{key}");
                    let buf = this.spare_buffer();
                    let task = tokio::spawn(async move {
                        tokio::time::timeout(FETCH_TIMEOUT, fetch(&client, &bucket, &key, want, buf)).await
                    });
                    let res = match task.await {
                        Ok(Ok(r)) => r,
                        Ok(Err(_)) => Err(format!("GetObject {what}: no answer within {} s", FETCH_TIMEOUT.as_secs())),
                        Err(e) => Err(format!("GetObject {what}: the fetch failed: {e}")),
                    };
                    drop(slot);
                    if let Ok(b) = &res {
                        this.fetched.fetch_add(b.len() as u64, Ordering::Relaxed);
                    }
                    if let Ok(mut s) = this.slots.lock() {
                        s.insert(seq, res);
                    }
                    this.ready.notify_all();
                });
            }
        });
        me
    }

    fn spare_buffer(&self) -> Vec<u8> {
        self.spare.lock().ok().and_then(|mut v| v.pop()).unwrap_or_default()
    }

    /// Keeps `buf` for a later fetch, within the pool's count and byte limits.
    fn recycle(&self, mut buf: Vec<u8>) {
        let Ok(mut v) = self.spare.lock() else { return };
        let held: usize = v.iter().map(Vec::capacity).sum();
        if buf.capacity() > 0 && v.len() < self.spare_count && held + buf.capacity() <= self.spare_bytes {
            buf.clear();
            v.push(buf);
        }
    }

    /// Waits for object `seq` and moves its bytes into `buf`; what `buf` held goes back to the pool.
    pub fn take(&self, seq: usize, buf: &mut Vec<u8>) -> Result<(), String> {
        let mut slots = self.slots.lock().map_err(|_| "prefetch state poisoned".to_owned())?;
        let asked = std::time::Instant::now();
        loop {
            if let Some(res) = slots.remove(&seq) {
                drop(slots);
                self.waited_us.fetch_add(asked.elapsed().as_micros() as u64, Ordering::Relaxed);
                if let Some(n) = self.held.lock().ok().and_then(|mut h| h.remove(&seq)) {
                    self.permits.add_permits(n as usize);
                }
                let bytes = res?;
                self.recycle(std::mem::replace(buf, bytes));
                return Ok(());
            }
            if self.cancel.load(Ordering::Relaxed) {
                return Err("interrupted (Ctrl-C) before it was fetched".into());
            }
            let (s, _) = self
                .ready
                .wait_timeout(slots, std::time::Duration::from_millis(200))
                .map_err(|_| "prefetch state poisoned".to_owned())?;
            slots = s;
        }
    }
}

/// Reads one object whole (a notification named it), within [`FETCH_TIMEOUT`]; refuses one that S3
/// says is larger than `cap` bytes before reading it. The error names the object and what failed.
pub async fn get_object(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    size: u64,
    cap: u64,
) -> Result<Vec<u8>, String> {
    let what = format!("s3://{bucket}/{key}");
    if size > cap {
        return Err(format!("{what}: {size} bytes, larger than the --max-input-size cap of {cap}: not read"));
    }
    let want = Want { bound: cap, over: Over::Cap };
    match tokio::time::timeout(FETCH_TIMEOUT, fetch(client, bucket, key, want, Vec::new())).await {
        Ok(r) => r,
        Err(_) => Err(format!("GetObject {what}: no answer within {} s", FETCH_TIMEOUT.as_secs())),
    }
}

/// What to do with a body larger than `bound` bytes.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Over {
    /// Refuse the object: it is larger than `--max-input-size`.
    Cap,
    /// Refuse the object: it grew after it was listed, past what was set aside for it.
    Listed,
    /// Ask for the first `bound` bytes only (a ranged read) and keep them; the decoder cuts them to
    /// the cap and says so.
    Cut,
}

/// The bytes of one object to read.
#[derive(Clone, Copy, Debug)]
struct Want {
    /// At most this many bytes are kept.
    bound: u64,
    over: Over,
}

impl Want {
    /// A listed object of `size` bytes (0 when unknown), read as a local file is: whole when within
    /// `cap`, else its first `cap + 1` bytes (one more than the cap, so the decoder knows the object is
    /// cut) and no more, so an object planted in the bucket costs no more memory or transfer than the
    /// cap, whatever it claims.
    fn listed(size: u64, cap: u64) -> Want {
        // A store that lists no size (S3-compatible ones may leave `Size` out) lists 0: unknown, so
        // the object is held to the cap, as a notified one is.
        if size == 0 {
            return Want { bound: cap, over: Over::Cap };
        }
        if size > cap {
            Want { bound: cap.saturating_add(1), over: Over::Cut }
        } else {
            Want { bound: size, over: Over::Listed }
        }
    }
}

/// One object into `buf`, with a few whole-object retries for bodies cut mid-transfer (the SDK already
/// retries throttling such as `SlowDown` and transient errors on the request itself, with backoff).
/// The body is held to `want.bound` bytes, whatever S3's answer states.
async fn fetch(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    want: Want,
    mut buf: Vec<u8>,
) -> Result<Vec<u8>, String> {
    let what = format!("s3://{bucket}/{key}");
    let bound = want.bound;
    let too_big = |n: u64| match want.over {
        Over::Listed => format!("{what}: {n} bytes or more, larger than the {bound} listed: changed since; not read"),
        _ => format!("{what}: {n} bytes or more, larger than the --max-input-size cap of {bound}: not read"),
    };
    let mut last = String::new();
    for attempt in 0..3u32 {
        if attempt > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(200 << attempt)).await;
        }
        let mut ask = client.get_object().bucket(bucket).key(key);
        if want.over == Over::Cut {
            ask = ask.range(format!("bytes=0-{}", bound.saturating_sub(1)));
        }
        let mut resp = match ask.send().await {
            Ok(r) => r,
            Err(e) => return Err(s3_error("GetObject", &what, &e)),
        };
        buf.clear();
        // A notification may state no size (CloudTrail's own SNS notice): S3's answer, then the bytes
        // themselves, are held to the bound, so an object never takes more memory than set aside.
        let expect = resp.content_length().and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
        if expect > bound && want.over != Over::Cut {
            return Err(too_big(expect));
        }
        buf.reserve(usize::try_from(expect.min(bound)).unwrap_or(0));
        // Chunks are copied out as they arrive and dropped at once, so the HTTP client reuses its read
        // buffer instead of allocating a new one per object (collecting first held them all).
        let done = loop {
            match resp.body.try_next().await {
                Ok(Some(chunk)) if (buf.len() + chunk.len()) as u64 > bound => {
                    if want.over != Over::Cut {
                        return Err(too_big((buf.len() + chunk.len()) as u64));
                    }
                    // A server that ignored the range: keep the bound and drop the rest of the transfer.
                    let room = (bound as usize).saturating_sub(buf.len());
                    buf.extend_from_slice(&chunk[..room.min(chunk.len())]);
                    break Ok(());
                }
                Ok(Some(chunk)) => buf.extend_from_slice(&chunk),
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        match done {
            Ok(()) => return Ok(buf),
            Err(e) => last = format!("GetObject {what}: transfer failed: {e}"),
        }
    }
    Err(last)
}
