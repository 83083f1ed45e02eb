//! Inputs: where CloudTrail bytes come from, listed and pruned before anything is read.

pub mod feed;
pub mod layout;
pub mod local;
pub mod s3;

pub use feed::Feed;

use layout::LayoutKey;
use std::path::PathBuf;

/// Where one input lives.
#[derive(Clone, Debug)]
pub enum Location {
    /// A file on disk.
    Local(PathBuf),
    /// An S3 object; `seq` is its place in the fetch order.
    S3 {
        /// The bucket name, from the `s3://bucket/prefix` argument.
        bucket: String,
        /// The object key, as listed.
        key: String,
        /// Index into the prefetcher's queue, which fetches objects in listing order.
        seq: usize,
    },
}

/// One file (or object) to read.
#[derive(Clone, Debug)]
pub struct Input {
    /// How the input is named in the summary and in errors.
    pub name: String,
    /// Where its bytes are.
    pub location: Location,
    /// Size in bytes as listed (on disk, or S3's `Size`): compressed size for gzipped logs.
    pub size: u64,
    /// Set when the name follows CloudTrail's S3 layout.
    pub layout: Option<LayoutKey>,
}

/// Listing filters that can be decided from names alone.
#[derive(Clone, Debug, Default)]
pub struct Prune {
    /// Accounts to keep (`--account`); empty keeps all.
    pub accounts: Vec<String>,
    /// Regions to keep (`--region`); empty keeps all.
    pub regions: Vec<String>,
    /// Keep inputs delivered at or after this time (epoch milliseconds, `--since`).
    pub since_ms: Option<i64>,
    /// Keep inputs delivered before this time plus `margin_ms` (epoch milliseconds, `--until`).
    pub until_ms: Option<i64>,
    /// How long after an event CloudTrail may deliver it, in milliseconds: a file named for a delivery
    /// after `--until` may still hold records from before it.
    pub margin_ms: i64,
}

/// The result of listing: what to read, and what was left out with the reason.
#[derive(Debug, Default)]
pub struct Listing {
    /// What to read, in listing order.
    pub inputs: Vec<Input>,
    /// Left out by name (digests, pruned by layout): `(name, reason)`.
    pub pruned: Vec<(String, String)>,
    /// Could not be listed at all: `(name, reason)`.
    pub failed: Vec<(String, String)>,
}

impl Listing {
    /// Applies layout pruning to one candidate and files it.
    pub fn offer(&mut self, input: Input, prune: &Prune) {
        if layout::is_digest_path(&input.name) {
            self.pruned.push((input.name, "CloudTrail-Digest folder (digests hold no events)".into()));
            return;
        }
        if let Some(k) = &input.layout {
            if let Some(why) = layout::prune_reason(
                k,
                &prune.accounts,
                &prune.regions,
                prune.since_ms,
                prune.until_ms,
                prune.margin_ms,
            ) {
                self.pruned.push((input.name, why.into()));
                return;
            }
        }
        self.inputs.push(input);
    }
}

/// Where inputs' bytes come from while a scan runs.
#[derive(Clone, Default)]
pub struct Reader {
    /// The S3 prefetcher, when any input is on S3.
    pub s3: Option<std::sync::Arc<s3::Prefetcher>>,
    /// Set on Ctrl-C: inputs not yet read fail with "interrupted" instead of being read.
    pub cancel: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Reader {
    /// Reads an input's bytes into `buf` (replacing its content); the error names what failed. Local
    /// files are read up to `limit` bytes and one more (the caller cuts them and says so).
    pub fn read_into(&self, input: &Input, buf: &mut Vec<u8>, limit: u64) -> Result<(), String> {
        if self.cancel.load(std::sync::atomic::Ordering::Relaxed) {
            return Err("interrupted (Ctrl-C) before it was read".into());
        }
        buf.clear();
        match &input.location {
            Location::Local(path) => local::read_into(path, buf, limit).map_err(|e| format!("cannot read: {e}")),
            Location::S3 { seq, .. } => match &self.s3 {
                Some(p) => p.take(*seq, buf),
                None => Err("S3 input without an S3 client".into()),
            },
        }
    }
}

/// Inputs being listed, and where their bytes come from. Dropping it stops the listers.
pub struct Opened {
    /// The inputs as listers find them.
    pub feed: std::sync::Arc<Feed>,
    /// Where their bytes come from.
    pub reader: Reader,
}

impl Drop for Opened {
    fn drop(&mut self) {
        self.feed.close();
    }
}

/// Ends the feed however the lister ends, so a scan never waits for a lister that died; a lister that
/// did not reach its end leaves a failed entry naming where it stopped, so nothing vanishes silently.
struct ListerGuard {
    feed: std::sync::Arc<Feed>,
    current: String,
    completed: bool,
}

impl ListerGuard {
    fn complete(&mut self) {
        self.completed = true;
    }
}

impl Drop for ListerGuard {
    fn drop(&mut self) {
        if !self.completed {
            let why = "listing stopped unexpectedly here: this and the later inputs were not (all) listed";
            self.feed.fail(std::mem::take(&mut self.current), why.to_owned());
        }
        self.feed.finish();
    }
}

/// How S3 objects are fetched ahead of the decoders.
#[derive(Clone, Copy, Debug)]
pub struct FetchOptions {
    /// Objects downloaded at once.
    pub concurrency: usize,
    /// Bytes of downloaded objects the decoders have not taken yet, at most.
    pub buffer_bytes: u64,
    /// The bytes of an object read at most, as `--max-input-size` holds a local file to it (0 = the
    /// decoders' default). A larger object is read up to it, and the scan says it was cut.
    pub max_object_bytes: u64,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions { concurrency: 64, buffer_bytes: 256 << 20, max_object_bytes: 0 }
    }
}

/// Starts listing every input (local paths and `s3://` URLs, in the order given) into a feed, and
/// fetching the S3 objects ahead of the decoders, in the background on `rt`.
pub fn open(
    inputs: &[String],
    prune: &Prune,
    aws: &crate::aws::AwsOptions,
    rt: &tokio::runtime::Runtime,
    cancel: std::sync::Arc<std::sync::atomic::AtomicBool>,
    fetch: FetchOptions,
) -> Opened {
    use std::sync::atomic::Ordering;
    let mut reader = Reader { s3: None, cancel: cancel.clone() };
    let mut src = None;
    let mut jobs = None;
    if inputs.iter().any(|i| i.starts_with("s3://")) {
        let started = std::time::Instant::now();
        let s = s3::S3Source::new(&rt.block_on(crate::aws::config(aws)));
        tracing::debug!(ms = started.elapsed().as_millis() as u64, "AWS configuration loaded");
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let p = s3::Prefetcher::start(rt.handle(), s.client.clone(), rx, fetch, cancel.clone());
        reader.s3 = Some(p);
        (src, jobs) = (Some(s), Some(tx));
    }
    let feed = std::sync::Arc::new(Feed::new(jobs));
    let (inputs, prune) = (inputs.to_vec(), prune.clone());
    let mut guard = ListerGuard { feed: feed.clone(), current: String::new(), completed: false };
    rt.spawn(async move {
        let interrupted = "not listed (to the end): interrupted (Ctrl-C)";
        for input in inputs {
            guard.current.clone_from(&input);
            if cancel.load(Ordering::Relaxed) {
                guard.feed.fail(input, interrupted.to_owned());
                continue;
            }
            let started = std::time::Instant::now();
            match &src {
                Some(src) if input.starts_with("s3://") => src.list(&input, &prune, &guard.feed, &cancel).await,
                _ => {
                    let (path, prune, to, stop) = (input.clone(), prune.clone(), guard.feed.clone(), cancel.clone());
                    let rt = tokio::runtime::Handle::current();
                    // The walk runs on a blocking thread and hands over chunks as it goes; it stops when
                    // the feed is closed or on Ctrl-C.
                    let walked = tokio::task::spawn_blocking(move || {
                        local::list(std::path::Path::new(&path), &prune, &mut |chunk| {
                            rt.block_on(to.push(chunk)) && !stop.load(Ordering::Relaxed)
                        })
                    })
                    .await;
                    match walked {
                        Ok(true) => {}
                        Ok(false) if cancel.load(Ordering::Relaxed) => {
                            guard.feed.fail(input.clone(), interrupted.to_owned())
                        }
                        Ok(false) => {}
                        Err(e) => guard.feed.fail(input.clone(), format!("listing stopped: {e}")),
                    }
                }
            }
            tracing::debug!(input, ms = started.elapsed().as_millis() as u64, "listed");
        }
        guard.complete();
    });
    Opened { feed, reader }
}
