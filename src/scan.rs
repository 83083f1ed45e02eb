//! The scan pipeline: listed inputs -> parallel decode/normalize -> ordered merge (de-duplication,
//! accounting) -> event sinks (detection, event dump).
//!
//! Workers decode whole inputs in parallel; results are merged in input order so the output does not
//! depend on the thread count. The merge runs on its own thread while workers decode the next group
//! of inputs, and only a bounded number of groups is in flight.

use crate::decode::normalize::{Filter, Normalized, normalize};
use crate::decode::{Decoder, Outcome, Report};
use crate::dedup::{Dedup, Origin};
use crate::event::{Batch, Event};
use crate::source::{Input, Listing, Reader};
use crate::summary::{InputWarning, PartialInput, SkippedInput, Summary};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use std::cell::RefCell;
use std::sync::mpsc::sync_channel;
use std::time::Instant;

/// A consumer of distinct, filtered events in input order.
pub trait EventSink: Send {
    fn observe(&mut self, ev: &Event<'_>);
}

/// Options of one scan.
#[derive(Clone, Default)]
pub struct ScanOptions {
    pub filter: Filter,
    /// Worker threads; 0 = one per core.
    pub threads: usize,
    pub progress: bool,
    /// Where bytes come from (local files, the S3 prefetcher) and the Ctrl-C flag.
    pub reader: Reader,
}

/// The result of decoding one input.
struct Decoded {
    report: Report,
    batches: Vec<Batch>,
    filtered: u64,
    read_error: Option<String>,
    bytes_compressed: u64,
}

thread_local! {
    // Per-thread buffers, reused across inputs: the raw bytes and the decompression buffer.
    static BUFFERS: RefCell<(Vec<u8>, Decoder)> = RefCell::new((Vec::new(), Decoder::new()));
}

/// Emptied batches handed back by the merger, so workers refill warm memory instead of faulting in
/// fresh pages for every input.
#[derive(Default)]
struct BatchPool(std::sync::Mutex<Vec<Batch>>);

impl BatchPool {
    // Enough for every input in flight: the group decoding, the one queued and the one merging.
    const KEEP: usize = 192;

    fn take(&self) -> Batch {
        let mut b = self.0.lock().ok().and_then(|mut v| v.pop()).unwrap_or_default();
        // Sized for a typical CloudTrail file up front: growing by doubling copies and faults in pages.
        b.reserve(512 << 10, 2048);
        b
    }

    fn give(&self, mut batches: Vec<Batch>) {
        if let Ok(mut v) = self.0.lock() {
            for mut b in batches.drain(..) {
                if v.len() >= Self::KEEP || b.arena_bytes() > Batch::FLUSH_BYTES {
                    break;
                }
                b.clear();
                v.push(b);
            }
        }
    }
}

fn decode_input(input: &Input, filter: &Filter, pool: &BatchPool, reader: &Reader) -> Decoded {
    BUFFERS.with(|cell| {
        let mut guard = cell.borrow_mut();
        let (raw, decoder) = &mut *guard;
        if let Err(e) = reader.read_into(input, raw) {
            return Decoded {
                report: Report {
                    format: "unread",
                    outcome: Outcome::Skipped(e.clone()),
                    records: 0,
                    rejected: 0,
                    bytes_decompressed: 0,
                    warnings: Vec::new(),
                },
                batches: Vec::new(),
                filtered: 0,
                read_error: Some(e),
                bytes_compressed: 0,
            };
        }
        let mut batches = Vec::new();
        let mut batch = pool.take();
        let mut filtered = 0u64;
        let report = decoder.decode(raw, &mut |rec| {
            if let Normalized::Filtered = normalize(rec, filter, &mut batch) {
                filtered += 1;
            }
            if batch.arena_bytes() >= Batch::FLUSH_BYTES {
                batches.push(std::mem::replace(&mut batch, pool.take()));
            }
        });
        if batch.is_empty() {
            pool.give(vec![batch]);
        } else {
            batches.push(batch);
        }
        let bytes_compressed = raw.len() as u64;
        if raw.capacity() > 256 << 20 {
            *raw = Vec::new();
        }
        Decoded { report, batches, filtered, read_error: None, bytes_compressed }
    })
}

/// Groups of inputs decoded together: big enough to keep every worker busy, small enough to bound
/// memory (each group's decoded events are held until merged).
fn groups(inputs: &[Input], threads: usize) -> Vec<&[Input]> {
    const GROUP_BYTES: u64 = 48 << 20;
    let max_files = (threads * 16).max(32);
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, input) in inputs.iter().enumerate() {
        bytes += input.size;
        if bytes >= GROUP_BYTES || i + 1 - start >= max_files {
            out.push(&inputs[start..=i]);
            start = i + 1;
            bytes = 0;
        }
    }
    if start < inputs.len() {
        out.push(&inputs[start..]);
    }
    out
}

fn progress_bar(enabled: bool, total_bytes: u64, files: usize) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    // indicatif draws nothing when stderr is not a terminal.
    let pb = ProgressBar::with_draw_target(Some(total_bytes), ProgressDrawTarget::stderr());
    pb.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {bytes}/{total_bytes} read, {msg} ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    pb.set_message(format!("0/{files} files"));
    pb
}

/// Runs the scan over `listing`, feeding every distinct event to `sinks` in input order.
pub fn run(listing: &Listing, opts: &ScanOptions, sinks: &mut [&mut dyn EventSink]) -> anyhow::Result<Summary> {
    let started = Instant::now();
    let threads =
        if opts.threads == 0 { std::thread::available_parallelism().map_or(2, |n| n.get()) } else { opts.threads };
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build()?;

    let mut summary = Summary { threads, ..Summary::default() };
    summary.inputs_total = (listing.inputs.len() + listing.pruned.len() + listing.failed.len()) as u64;
    summary.inputs_pruned = listing.pruned.len() as u64;
    for (_, why) in &listing.pruned {
        *summary.pruned_by_reason.entry(why.clone()).or_default() += 1;
    }
    for (name, why) in &listing.failed {
        summary.inputs_skipped.push(SkippedInput { input: name.clone(), reason: why.clone() });
    }

    let total_bytes: u64 = listing.inputs.iter().map(|i| i.size).sum();
    let pb = progress_bar(opts.progress, total_bytes, listing.inputs.len());
    let decompressed = std::sync::atomic::AtomicU64::new(0);
    let done_files = std::sync::atomic::AtomicUsize::new(0);
    let filter = &opts.filter;
    let groups = groups(&listing.inputs, threads);
    let batch_pool = BatchPool::default();
    let batch_pool = &batch_pool;

    std::thread::scope(|scope| -> anyhow::Result<()> {
        // Groups decoding while earlier ones merge; a few may wait so a slow merge of one group does
        // not stall the workers.
        let (tx, rx) = sync_channel::<(&[Input], Vec<Decoded>)>(3);
        let summary = &mut summary;
        let merger = scope.spawn(move || {
            let mut dedup = Dedup::default();
            for (inputs, decoded) in rx {
                for (input, mut d) in inputs.iter().zip(decoded) {
                    merge(input, &d, &mut dedup, summary, sinks);
                    batch_pool.give(std::mem::take(&mut d.batches));
                }
            }
        });
        for group in groups {
            let decoded: Vec<Decoded> = pool.install(|| {
                group
                    .par_iter()
                    .map(|input| {
                        let d = decode_input(input, filter, batch_pool, &opts.reader);
                        pb.inc(input.size);
                        let total = decompressed
                            .fetch_add(d.report.bytes_decompressed, std::sync::atomic::Ordering::Relaxed)
                            + d.report.bytes_decompressed;
                        let n = done_files.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                        let secs = started.elapsed().as_secs_f64().max(0.001);
                        pb.set_message(format!(
                            "{n}/{} files, {:.0} MB decompressed, {:.0} MB/s",
                            listing.inputs.len(),
                            total as f64 / 1e6,
                            total as f64 / 1e6 / secs
                        ));
                        d
                    })
                    .collect()
            });
            if tx.send((group, decoded)).is_err() {
                break;
            }
        }
        drop(tx);
        merger.join().map_err(|_| anyhow::anyhow!("the merge thread panicked"))?;
        Ok(())
    })?;
    pb.finish_and_clear();
    summary.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(summary)
}

fn merge(input: &Input, d: &Decoded, dedup: &mut Dedup, summary: &mut Summary, sinks: &mut [&mut dyn EventSink]) {
    summary.bytes_compressed += d.bytes_compressed;
    summary.bytes_decompressed += d.report.bytes_decompressed;
    summary.records_filtered += d.filtered;
    summary.records_rejected += d.report.rejected;
    if d.read_error.is_none() {
        *summary.formats.entry(d.report.format.to_owned()).or_default() += 1;
    }
    for w in &d.report.warnings {
        summary.warnings.push(InputWarning { input: input.name.clone(), warning: w.clone() });
    }
    match &d.report.outcome {
        Outcome::Read => summary.inputs_read += 1,
        Outcome::Partial(why) => summary.inputs_partial.push(PartialInput {
            input: input.name.clone(),
            reason: why.clone(),
            records: d.report.records,
        }),
        Outcome::Skipped(why) => {
            summary.inputs_skipped.push(SkippedInput { input: input.name.clone(), reason: why.clone() })
        }
    }
    let origin = Origin {
        partition: input.layout.as_ref().map(|k| (k.account.as_str(), k.region.as_str())),
        delivered_ms: input.layout.as_ref().map_or(0, |k| k.delivered_ms),
    };
    dedup.enter(&origin);
    for batch in &d.batches {
        for ev in batch.iter() {
            if dedup.is_duplicate(&origin, &ev) {
                summary.duplicates += 1;
                continue;
            }
            summary.records += 1;
            if ev.time_ms().is_none() {
                summary.records_without_time += 1;
            }
            for sink in sinks.iter_mut() {
                sink.observe(&ev);
            }
        }
    }
}
