//! The scan pipeline: listed inputs -> parallel decode/normalize -> ordered merge (de-duplication,
//! accounting) -> event sinks (detection, event dump).
//!
//! Workers (a rayon pool) take inputs from the feed one at a time, as the listers produce them, and
//! decode them in parallel; results are merged in input order, one worker at a time (whichever finds
//! the next input ready), so the output does not depend on the thread count. Workers stay a bounded
//! number of inputs ahead of the merge, which bounds memory.

use crate::decode::inflate::{human_size, max_input};
use crate::decode::normalize::{Filter, Normalized, normalize};
use crate::decode::raw::RawRecord;
use crate::decode::{Decoder, Outcome, Report};
use crate::dedup::Dedup;
use crate::event::{Batch, Event};
use crate::source::{Feed, Input, Reader};
use crate::summary::{InputWarning, PartialInput, SkippedInput, Summary};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

/// A consumer of distinct, filtered events in input order.
pub trait EventSink: Send {
    /// Called once per kept event (through [`Self::observe_block`], unless a sink replaces that), by
    /// one thread at a time (the worker holding the merge), in input order; duplicates and filtered
    /// records never reach it.
    fn observe(&mut self, ev: &Event<'_>);

    /// Called with a few consecutive kept events at a time, in input order; the same as observing
    /// each in turn, which is what it does unless a sink can use the look ahead.
    fn observe_block(&mut self, evs: &[Event<'_>]) {
        for ev in evs {
            self.observe(ev);
        }
    }

    /// Called once after the last event, with every account the listing's layout names, read or
    /// pruned (`--account` leaves the others unread, not unknown). Nothing by default.
    fn trail_accounts(&mut self, accounts: &std::collections::BTreeSet<String>) {
        let _ = accounts;
    }
}

/// Options of one scan.
#[derive(Clone, Default)]
pub struct ScanOptions {
    /// Which records to keep (time, account, region) and which keys keep their raw parameters.
    pub filter: Filter,
    /// Worker threads; 0 = one per core.
    pub threads: usize,
    /// Draw a progress bar on stderr (the CLI sets it only when stderr is a terminal and not `--quiet`).
    pub progress: bool,
    /// Where bytes come from (local files, the S3 prefetcher) and the Ctrl-C flag.
    pub reader: Reader,
    /// Most bytes read from one input, compressed or decompressed (`--max-input-size`); 0 = the
    /// default, [`crate::decode::inflate::DEFAULT_MAX_INPUT`].
    pub max_input_bytes: u64,
    /// Most decompressed bytes the workers hold decoded ahead of the merge, beyond the input it waits
    /// for; 0 = the default, [`HELD_BYTES`].
    pub max_held_bytes: u64,
}

/// The result of decoding one input.
struct Decoded {
    report: Report,
    batches: Vec<Batch>,
    filtered: u64,
    read_error: Option<String>,
    bytes_compressed: u64,
}

impl Decoded {
    /// An input skipped whole, for `why`.
    fn unread(why: String) -> Self {
        let report = Report {
            format: "unread",
            outcome: Outcome::Skipped(why.clone()),
            records: 0,
            rejected: 0,
            bytes_decompressed: 0,
            warnings: Vec::new(),
        };
        Decoded { report, batches: Vec::new(), filtered: 0, read_error: Some(why), bytes_compressed: 0 }
    }
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
    // Enough for every input in flight (the merge window).
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

fn decode_input(input: &Input, opts: &ScanOptions, pool: &BatchPool) -> Decoded {
    let cap = max_input(opts.max_input_bytes);
    BUFFERS.with(|cell| {
        let mut guard = cell.borrow_mut();
        let (raw, decoder) = &mut *guard;
        if let Err(e) = opts.reader.read_into(input, raw, cap) {
            return Decoded::unread(e);
        }
        decode_raw(raw, decoder, opts, pool)
    })
}

/// Decodes bytes already read (`raw` may be cut to the cap; it is left allocated for reuse unless large).
fn decode_raw(raw: &mut Vec<u8>, decoder: &mut Decoder, opts: &ScanOptions, pool: &BatchPool) -> Decoded {
    let filter = &opts.filter;
    let cap = max_input(opts.max_input_bytes);
    {
        let bytes_compressed = raw.len() as u64;
        // A file longer than the cap is read up to it; its end is missing, and the summary says so.
        let cut = raw.len() as u64 > cap;
        if cut {
            raw.truncate(cap as usize);
        }
        decoder.set_max_input(cap);
        let mut batches = Vec::new();
        let mut batch = pool.take();
        let mut filtered = 0u64;
        let mut bad_times = BadTimes::default();
        let mut report = decoder.decode(raw, &mut |rec| {
            match normalize(rec, filter, &mut batch) {
                Normalized::Filtered => filtered += 1,
                Normalized::Kept => {}
                Normalized::BadTime => bad_times.note(rec),
            }
            if batch.arena_bytes() >= Batch::FLUSH_BYTES {
                batches.push(std::mem::replace(&mut batch, pool.take()));
            }
        });
        if cut {
            report.add_problem(&format!(
                "larger than the --max-input-size cap of {}: only that much was read",
                human_size(cap)
            ));
        }
        report.warnings.extend(bad_times.warning());
        if batch.is_empty() {
            pool.give(vec![batch]);
        } else {
            batches.push(batch);
        }
        if raw.capacity() > 256 << 20 {
            *raw = Vec::new();
        }
        Decoded { report, batches, filtered, read_error: None, bytes_compressed }
    }
}

/// Decodes one input already in memory (an object a notification named) and feeds its distinct events
/// to `sinks`, as [`run`] does for each listed input: the same decoding, filters, de-duplication within
/// the input and accounting. `raw` is consumed (cut to the cap when larger).
pub fn scan_bytes(name: &str, raw: &mut Vec<u8>, opts: &ScanOptions, sinks: &mut [&mut dyn EventSink]) -> Summary {
    let started = Instant::now();
    let pool = BatchPool::default();
    let input = Input {
        name: name.to_owned(),
        location: crate::source::Location::Local(name.into()),
        size: raw.len() as u64,
        layout: crate::source::layout::parse_key(name),
    };
    let run = std::panic::AssertUnwindSafe(|| decode_raw(raw, &mut Decoder::new(), opts, &pool));
    let d = std::panic::catch_unwind(run)
        .unwrap_or_else(|_| Decoded::unread("internal error while decoding (please report)".to_owned()));
    let mut summary = Summary { threads: 1, inputs_total: 1, ..Summary::default() };
    merge(&input, &d, &mut Dedup::default(), &mut summary, sinks);
    summary.elapsed_ms = started.elapsed().as_millis() as u64;
    summary
}

/// Decodes one input; a panic while decoding (a bug, on input nobody foresaw) costs that input, named
/// in the summary, not the run: the scan goes on with fresh buffers on this thread.
fn decode_guarded(input: &Input, opts: &ScanOptions, pool: &BatchPool) -> Decoded {
    let run = std::panic::AssertUnwindSafe(|| decode_input(input, opts, pool));
    std::panic::catch_unwind(run).unwrap_or_else(|panic| {
        BUFFERS.with(|cell| {
            if let Ok(mut b) = cell.try_borrow_mut() {
                *b = (Vec::new(), Decoder::new());
            }
        });
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Decoded::unread(format!("internal error while decoding (please report): {what}"))
    })
}

/// Records of one input whose time is present but not a real time (`2026-02-31T00:00:00Z`): they
/// count as records without time, and one warning per input names the first.
#[derive(Default)]
struct BadTimes {
    count: u64,
    first: String,
}

impl BadTimes {
    fn note(&mut self, rec: &RawRecord<'_>) {
        self.count += 1;
        if self.first.is_empty() {
            let t: &str = if rec.event_time.is_empty() { &rec.at_timestamp } else { &rec.event_time };
            // Attacker-controlled: keep it short (the summary's serializer escapes it).
            self.first = t.chars().take(40).collect();
        }
    }

    fn warning(&self) -> Option<String> {
        (self.count > 0).then(|| {
            format!(
                "{} records with an invalid time (first: {:?}), counted as records without time",
                self.count, self.first
            )
        })
    }
}

fn progress_bar(enabled: bool) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    // indicatif draws nothing when stderr is not a terminal. The length grows as inputs are listed.
    let pb = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    pb.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {bytes}/{total_bytes} read, {msg} ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    pb.set_message("listing");
    pb
}

/// Runs the scan over the inputs `feed` lists, feeding every distinct event to `sinks` in input order.
pub fn run(feed: &Feed, opts: &ScanOptions, sinks: &mut [&mut dyn EventSink]) -> anyhow::Result<Summary> {
    let started = Instant::now();
    let threads =
        if opts.threads == 0 { std::thread::available_parallelism().map_or(2, |n| n.get()) } else { opts.threads };
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build()?;

    let mut summary = Summary { threads, ..Summary::default() };
    let pb = progress_bar(opts.progress);
    let decompressed = std::sync::atomic::AtomicU64::new(0);
    let done_files = AtomicUsize::new(0);
    let batch_pool = BatchPool::default();
    let batch_pool = &batch_pool;
    // Workers take the next input as soon as they are free (no barrier between groups of inputs), and
    // stay at most WINDOW inputs ahead of the merge, which bounds the decoded events held in memory.
    let window = (threads * 24).max(48);
    // And at most HELD_BYTES decompressed ahead of it: 48 inputs of a forged trail's 64 MB records
    // each would hold gigabytes. Real inputs (well under a megabyte of JSON each) never reach it.
    let held = AtomicU64::new(0);
    let held_max = if opts.max_held_bytes == 0 { HELD_BYTES } else { opts.max_held_bytes };
    let merged = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let pending: Mutex<BTreeMap<usize, (Input, Decoded)>> = Mutex::new(BTreeMap::new());
    let merger = Mutex::new(Merger {
        dedup: Dedup::default(),
        want: 0,
        summary: &mut summary,
        sinks: &mut *sinks,
        failed: false,
    });
    let turn =
        MergeTurn { pending: &pending, merger: &merger, merged: &merged, held: &held, stop: &stop, pool: batch_pool };

    pool.scope(|s| {
        for _ in 0..threads {
            let (pb, decompressed, done_files, turn) = (&pb, &decompressed, &done_files, &turn);
            let (merged, stop) = (turn.merged, turn.stop);
            s.spawn(move |_| {
                while let Some((i, input)) = feed.pop() {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    // The next input to merge never waits, so the merge always has one to take.
                    while !stop.load(Ordering::Relaxed) && {
                        let next = merged.load(Ordering::Acquire);
                        i >= next + window || (i > next && turn.held.load(Ordering::Acquire) > held_max)
                    } {
                        turn.take();
                        std::thread::sleep(std::time::Duration::from_micros(200));
                    }
                    let d = decode_guarded(&input, opts, batch_pool);
                    let (listed, listed_bytes, listing_done) = feed.progress();
                    pb.set_length(listed_bytes);
                    pb.inc(input.size);
                    let total = decompressed.fetch_add(d.report.bytes_decompressed, Ordering::Relaxed)
                        + d.report.bytes_decompressed;
                    let done = done_files.fetch_add(1, Ordering::Relaxed) + 1;
                    let secs = started.elapsed().as_secs_f64().max(0.001);
                    pb.set_message(format!(
                        "{done}/{listed}{} files, {:.0} MB decompressed, {:.0} MB/s",
                        if listing_done { "" } else { "+ (listing)" },
                        total as f64 / 1e6,
                        total as f64 / 1e6 / secs
                    ));
                    turn.held.fetch_add(d.report.bytes_decompressed, Ordering::AcqRel);
                    lock(turn.pending).insert(i, (input, d));
                    turn.take();
                }
            });
        }
    });
    turn.take();
    let m = merger.into_inner().unwrap_or_else(|e| e.into_inner());
    if m.failed {
        anyhow::bail!("internal error: the merge panicked (please report)");
    }
    let merged_count = m.want;
    // The exact de-duplication's cost, for the README's figures (TRAILHOUND_LOG=debug).
    tracing::debug!(ids = m.dedup.held(), table_bytes = m.dedup.table_bytes(), "de-duplication table");
    drop(m);
    pb.finish_and_clear();
    let listed = feed.totals();
    for s in sinks.iter_mut() {
        s.trail_accounts(&listed.accounts);
    }
    // A worker that died leaves a gap: never report a partial merge as complete.
    if merged_count < listed.listed {
        anyhow::bail!("internal error: {merged_count} of {} inputs were merged", listed.listed);
    }
    summary.inputs_total = (listed.listed as u64) + listed.pruned + listed.failed.len() as u64;
    summary.inputs_pruned = listed.pruned;
    summary.pruned_by_reason = listed.pruned_by_reason;
    // Names that could not be listed come first: they are the widest holes in the run.
    let mut skipped: Vec<SkippedInput> =
        listed.failed.into_iter().map(|(input, reason)| SkippedInput { input, reason }).collect();
    skipped.append(&mut summary.inputs_skipped);
    summary.inputs_skipped = skipped;
    summary.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(summary)
}

/// The merge's state: one worker at a time holds it and merges every input that is next in order.
struct Merger<'s, 'k> {
    dedup: Dedup,
    /// The next input to merge, in input order.
    want: usize,
    summary: &'s mut Summary,
    sinks: &'s mut [&'k mut dyn EventSink],
    /// A sink or the accounting panicked: the scan stops and says so.
    failed: bool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The merge, taken in turn by the workers. A separate merge thread made three busy threads on two
/// cores: the detector's share of the work then came with a context switch that evicted a worker's
/// buffers. Here a worker that has just decoded an input merges whatever is next in order (often
/// that input, still in its cache) while the other workers go on decoding.
struct MergeTurn<'a, 's, 'k> {
    pending: &'a Mutex<BTreeMap<usize, (Input, Decoded)>>,
    merger: &'a Mutex<Merger<'s, 'k>>,
    merged: &'a AtomicUsize,
    /// Decompressed bytes of the inputs decoded and not merged yet.
    held: &'a AtomicU64,
    stop: &'a AtomicBool,
    pool: &'a BatchPool,
}

impl MergeTurn<'_, '_, '_> {
    /// Merges every ready input unless another worker is merging. That worker looks again after it
    /// lets go, so an input put in `pending` while it held the merge is not left behind.
    fn take(&self) {
        loop {
            let Ok(mut m) = self.merger.try_lock() else { return };
            while !m.failed {
                let Some((input, mut d)) = lock(self.pending).remove(&m.want) else { break };
                let m = &mut *m;
                let run = std::panic::AssertUnwindSafe(|| merge(&input, &d, &mut m.dedup, m.summary, m.sinks));
                if std::panic::catch_unwind(run).is_err() {
                    m.failed = true;
                    self.stop.store(true, Ordering::Relaxed);
                    break;
                }
                self.pool.give(std::mem::take(&mut d.batches));
                self.held.fetch_sub(d.report.bytes_decompressed, Ordering::AcqRel);
                m.want += 1;
                self.merged.store(m.want, Ordering::Release);
            }
            let failed = m.failed;
            drop(m);
            if failed || !lock(self.pending).contains_key(&self.merged.load(Ordering::Acquire)) {
                return;
            }
        }
    }
}

/// Decompressed bytes decoded ahead of the merge, at most (beyond the input it waits for), by default.
pub const HELD_BYTES: u64 = 256 << 20;

/// Events handed to the sinks at a time ([`EventSink::observe_block`]).
const BLOCK: usize = 16;

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
        Outcome::Ignored(why) => {
            summary.inputs_ignored.push(SkippedInput { input: input.name.clone(), reason: why.clone() })
        }
    }
    let mut block: Vec<Event<'_>> = Vec::with_capacity(BLOCK);
    for batch in &d.batches {
        for ev in batch.iter() {
            if dedup.is_duplicate(&ev) {
                summary.duplicates += 1;
                continue;
            }
            summary.records += 1;
            if ev.time_ms().is_none() {
                summary.records_without_time += 1;
            }
            block.push(ev);
            if block.len() == BLOCK {
                for sink in sinks.iter_mut() {
                    sink.observe_block(&block);
                }
                block.clear();
            }
        }
    }
    if !block.is_empty() {
        for sink in sinks.iter_mut() {
            sink.observe_block(&block);
        }
    }
}
