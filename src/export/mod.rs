//! Export: the normalized events as Hive-partitioned Parquet, for DuckDB, Athena and Spark.
//!
//! [`Exporter`] is an [`EventSink`] of the scan pipeline, so an export reads what `scan` reads with
//! the same filters, de-duplication and accounting. Events reach it in input order whatever the thread
//! count, and everything it does depends only on that order: the same input gives the same files.
//!
//! Memory is bounded four ways: rows are gathered per partition and handed to the Parquet writer
//! every few thousand; the rows gathered for all partitions together are bounded in bytes (past it,
//! the largest are handed on); a row group closes at `row_group_bytes` of encoded data, or earlier for
//! the largest open file when all open files together hold more than `memory_bytes`; and at most `max_open` files are open at once (the least recently written is
//! finished, and its partition gets a new file if more events come).
//!
//! Rows wait in their partition's buffer, not in an open file, so an input whose events cycle through
//! more partitions than files may be open (a CloudTrail Lake or `lookup-events` dump mixing accounts)
//! still writes large files, not one file per event.

pub mod dest;
pub mod partition;
pub mod run;
pub mod schema;
pub mod security_hub;
pub mod writer;

use crate::event::Event;
use crate::scan::EventSink;
use anyhow::Context;
use arrow_schema::SchemaRef;
use dest::Dest;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;
use std::collections::BTreeMap;
use std::fs::File;
use std::sync::Arc;
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;

/// Limits of one export.
#[derive(Clone, Debug)]
pub struct ExportOptions {
    /// Encoded bytes at which a row group closes (Athena reads best around 128 MB).
    pub row_group_bytes: usize,
    /// Most files open at once.
    pub max_open: usize,
    /// Most encoded, not yet written bytes held by all open files together.
    pub memory_bytes: usize,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions { row_group_bytes: 128 << 20, max_open: 32, memory_bytes: 1 << 30 }
    }
}

/// Rows handed to the Parquet writer at a time (or fewer, when what they hold passes 4 MiB:
/// [`schema::Rows::held_bytes`]).
const BATCH_ROWS: usize = 4096;
const BATCH_BYTES: usize = 4 << 20;

/// What an export wrote.
#[derive(Debug, Default, serde::Serialize)]
pub struct ExportStats {
    /// Rows written (the distinct events kept by the filters).
    pub rows: u64,
    /// Files written, as their final names, in the order they were finished.
    pub files: Vec<String>,
    /// Bytes of Parquet written.
    pub bytes: u64,
    /// Row groups written.
    pub row_groups: u64,
}

/// The partition of an event, as it came (the folder name is derived once, when a file opens).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct PartKey {
    account: String,
    region: String,
    day: Option<i64>,
}

/// A partition's open file, as the scan's merge sees it.
struct OpenFile {
    id: u64,
    /// When rows were last handed to it (the export's event count then).
    last_used: u64,
}

/// Most bytes held by the rows gathered for all partitions together ([`schema::Rows::held_bytes`],
/// and [`PARTITION_BYTES`] for each partition's builders). Past it, the largest are handed on until
/// half is left, so the partitions that gather most get the largest files.
const BUFFERED_BYTES: usize = 256 << 20;
/// What an empty partition's builders hold.
const PARTITION_BYTES: usize = 4096;
/// A partition with no open file while every file slot is taken keeps gathering rows, up to this many
/// bytes, rather than finish another partition's file early: an input cycling through more partitions
/// than files may be open then writes files of this size, not of one batch.
const WAITING_BYTES: usize = 64 << 20;

/// Record batches queued for the writer thread (a few MB each): bounds memory when it falls behind.
const QUEUE: usize = 8;

/// The export sink: feed it events (as an [`EventSink`]), then [`Exporter::finish`].
///
/// Rows are gathered by the scan's merge (one worker at a time, in input order); encoding,
/// compression and publishing happen on a writer thread ([`writer`]), so the two overlap.
pub struct Exporter {
    opts: ExportOptions,
    schema: SchemaRef,
    dest: Arc<Dest>,
    /// Rows of each partition not yet handed to the writer thread.
    buffers: BTreeMap<PartKey, schema::Rows>,
    /// Bytes held by `buffers` (see [`BUFFERED_BYTES`]).
    buffered: usize,
    files: BTreeMap<PartKey, OpenFile>,
    /// Next file number of each partition folder that had a file.
    next_file: BTreeMap<String, u32>,
    next_id: u64,
    tick: u64,
    rows: u64,
    tx: Option<SyncSender<writer::Msg>>,
    thread: Option<JoinHandle<(ExportStats, Option<anyhow::Error>)>>,
    error: Option<anyhow::Error>,
}

impl Exporter {
    /// An exporter writing to `dest`.
    pub fn new(dest: Dest, opts: ExportOptions) -> Self {
        let mut props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::default()))
            .set_max_row_group_bytes(Some(opts.row_group_bytes.max(1 << 20)))
            .set_max_row_group_row_count(None);
        for c in schema::NO_DICTIONARY {
            props = props.set_column_dictionary_enabled(ColumnPath::from(*c), false);
        }
        let dest = Arc::new(dest);
        let schema = schema::schema();
        let w = writer::Writer {
            dest: dest.clone(),
            schema: schema.clone(),
            props: props.build(),
            memory_bytes: opts.memory_bytes,
        };
        let (tx, rx) = sync_channel(QUEUE);
        let (tx, thread, error) = match std::thread::Builder::new().name("parquet".into()).spawn(move || w.run(rx)) {
            Ok(t) => (Some(tx), Some(t), None),
            Err(e) => (None, None, Some(anyhow::Error::from(e).context("cannot start the Parquet writer thread"))),
        };
        Exporter {
            opts,
            schema,
            dest,
            buffers: BTreeMap::new(),
            buffered: 0,
            files: BTreeMap::new(),
            next_file: BTreeMap::new(),
            next_id: 0,
            tick: 0,
            rows: 0,
            tx,
            thread,
            error,
        }
    }

    fn key(ev: &Event<'_>) -> PartKey {
        PartKey {
            account: ev.account_id().to_owned(),
            region: ev.region().to_owned(),
            day: ev.time_ms().map(|t| t.div_euclid(86_400_000)),
        }
    }

    fn send(&mut self, msg: writer::Msg) -> anyhow::Result<()> {
        match &self.tx {
            // A closed channel means the writer thread stopped: finish says why.
            Some(tx) => tx.send(msg).map_err(|_| anyhow::anyhow!("the Parquet writer thread stopped")),
            None => anyhow::bail!("the Parquet writer thread is not running"),
        }
    }

    fn open_file(&mut self, key: &PartKey) -> anyhow::Result<u64> {
        let folder = partition::folder(&key.account, &key.region, key.day.map(|d| d * 86_400_000));
        // Numbered by folder, not by partition: folder names keep 64 bytes of a value, so two long
        // forged values share a folder, and must not share a file name in it.
        let rel = {
            let n = self.next_file.entry(folder.clone()).or_insert(0);
            *n += 1;
            format!("{folder}/part-{:05}.parquet", *n - 1)
        };
        let tmp = self.dest.temp_path(&rel);
        if let Some(parent) = tmp.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
        }
        // Created here, so the temporary name exists as soon as the file is asked for.
        let file = File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        let id = self.next_id;
        self.next_id += 1;
        self.send(writer::Msg::Open { id, file, tmp, rel })?;
        Ok(id)
    }

    /// Hands the partition's gathered rows to its file, opening one (and finishing the least recently
    /// written file, with its own gathered rows first, when `max_open` are open).
    fn write_out(&mut self, key: &PartKey) -> anyhow::Result<()> {
        let Some(mut rows) = self.buffers.remove(key) else { return Ok(()) };
        self.buffered -= rows.held_bytes() + PARTITION_BYTES;
        if rows.is_empty() {
            return Ok(());
        }
        if !self.files.contains_key(key) {
            if self.files.len() >= self.opts.max_open.max(1) {
                let lru = self.files.iter().min_by_key(|(_, f)| f.last_used).map(|(k, _)| k.clone());
                if let Some(k) = lru {
                    self.close(&k)?;
                }
            }
            let id = self.open_file(key)?;
            self.files.insert(key.clone(), OpenFile { id, last_used: 0 });
        }
        let tick = self.tick;
        let Some(f) = self.files.get_mut(key) else { return Ok(()) };
        f.last_used = tick;
        let (id, batch) = (f.id, rows.take(&self.schema)?);
        self.send(writer::Msg::Write { id, batch })
    }

    /// Finishes the partition's file, after handing it the rows gathered for it.
    fn close(&mut self, key: &PartKey) -> anyhow::Result<()> {
        if self.files.contains_key(key) {
            self.write_out(key)?;
        }
        if let Some(f) = self.files.remove(key) {
            self.send(writer::Msg::Close { id: f.id })?;
        }
        Ok(())
    }

    /// Hands every partition's gathered rows on, in partition order.
    fn write_out_all(&mut self) -> anyhow::Result<()> {
        let keys: Vec<PartKey> = self.buffers.keys().cloned().collect();
        keys.iter().try_for_each(|k| self.write_out(k))
    }

    /// Hands on the largest gathered rows (ties in partition order) until half of
    /// [`BUFFERED_BYTES`] is left.
    fn write_out_largest(&mut self) -> anyhow::Result<()> {
        let mut sizes: Vec<(usize, PartKey)> = self.buffers.iter().map(|(k, r)| (r.held_bytes(), k.clone())).collect();
        sizes.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        for (_, k) in sizes {
            if self.buffered <= BUFFERED_BYTES / 2 {
                break;
            }
            self.write_out(&k)?;
        }
        Ok(())
    }

    fn add(&mut self, ev: &Event<'_>) -> anyhow::Result<()> {
        let key = Self::key(ev);
        self.tick += 1;
        let rows = match self.buffers.get_mut(&key) {
            Some(rows) => rows,
            None => {
                self.buffered += PARTITION_BYTES;
                self.buffers.entry(key.clone()).or_default()
            }
        };
        let before = rows.held_bytes();
        rows.push(ev);
        let (len, held) = (rows.len(), rows.held_bytes());
        self.buffered += held - before;
        self.rows += 1;
        if len >= BATCH_ROWS || held >= BATCH_BYTES {
            let slot = self.files.contains_key(&key) || self.files.len() < self.opts.max_open.max(1);
            if slot || held >= WAITING_BYTES {
                self.write_out(&key)?;
            }
        }
        if self.buffered >= BUFFERED_BYTES {
            self.write_out_largest()?;
        }
        Ok(())
    }

    /// Finishes every open file and returns what was written, or the first error (then no file is
    /// left under a temporary name, and files already published stay).
    pub fn finish(mut self) -> anyhow::Result<ExportStats> {
        let mut res = self.error.take().map_or(Ok(()), Err);
        if res.is_ok() {
            res = self.write_out_all();
        }
        let keys: Vec<PartKey> = self.files.keys().cloned().collect();
        for k in keys {
            if res.is_err() {
                break;
            }
            res = self.close(&k);
        }
        self.tx = None;
        let joined = self.thread.take().map(|t| t.join());
        let (mut stats, werr) = match joined {
            Some(Ok(r)) => r,
            Some(Err(_)) => (ExportStats::default(), Some(anyhow::anyhow!("the Parquet writer thread panicked"))),
            None => (ExportStats::default(), None),
        };
        // The writer's own error says more than "the writer thread stopped".
        if let Some(e) = werr {
            return Err(e);
        }
        res?;
        stats.rows = self.rows;
        Ok(stats)
    }
}

impl EventSink for Exporter {
    fn observe(&mut self, ev: &Event<'_>) {
        if self.error.is_some() {
            return;
        }
        if let Err(e) = self.add(ev) {
            self.error = Some(e);
        }
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        // Abandoned (an error, a panic): closing the channel without Close messages makes the writer
        // thread remove every temporary file; wait for it so nothing is left behind.
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
