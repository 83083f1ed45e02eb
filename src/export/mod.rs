//! Export: the normalized events as Hive-partitioned Parquet, for DuckDB, Athena and Spark.
//!
//! [`Exporter`] is an [`EventSink`] of the scan pipeline, so an export reads what `scan` reads with
//! the same filters, de-duplication and accounting. Events reach it in input order whatever the thread
//! count, and everything it does depends only on that order: the same input gives the same files.
//!
//! Memory is bounded three ways: rows are handed to the Parquet writer every few thousand; a row
//! group closes at `row_group_bytes` of encoded data, or earlier for the largest open file when all
//! open files together hold more than `memory_bytes`; and at most `max_open` files are open at once
//! (the least recently used is finished, and its partition gets a new file if more events come).

pub mod dest;
pub mod partition;
pub mod run;
pub mod schema;
pub mod security_hub;

use crate::event::Event;
use crate::scan::EventSink;
use anyhow::Context;
use arrow_schema::SchemaRef;
use dest::Dest;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;

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

/// Rows handed to the Parquet writer at a time (or fewer, when their text passes 4 MiB).
const BATCH_ROWS: usize = 4096;
const BATCH_TEXT: usize = 4 << 20;

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

struct Open {
    rows: schema::Rows,
    writer: ArrowWriter<BufWriter<File>>,
    tmp: PathBuf,
    rel: String,
    last_used: u64,
}

/// The export sink: feed it events (as an [`EventSink`]), then [`Exporter::finish`].
pub struct Exporter {
    opts: ExportOptions,
    schema: SchemaRef,
    props: WriterProperties,
    dest: Dest,
    open: BTreeMap<PartKey, Open>,
    /// Next file number of each partition that had a file.
    next_file: BTreeMap<PartKey, u32>,
    tick: u64,
    stats: ExportStats,
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
        Exporter {
            schema: schema::schema(),
            props: props.build(),
            dest,
            open: BTreeMap::new(),
            next_file: BTreeMap::new(),
            tick: 0,
            stats: ExportStats::default(),
            error: None,
            opts,
        }
    }

    fn key(ev: &Event<'_>) -> PartKey {
        PartKey {
            account: ev.account_id().to_owned(),
            region: ev.region().to_owned(),
            day: ev.time_ms().map(|t| t.div_euclid(86_400_000)),
        }
    }

    fn open_file(&mut self, key: &PartKey) -> anyhow::Result<Open> {
        let n = self.next_file.entry(key.clone()).or_insert(0);
        let folder = partition::folder(&key.account, &key.region, key.day.map(|d| d * 86_400_000));
        let rel = format!("{folder}/part-{n:05}.parquet");
        *n += 1;
        let tmp = self.dest.temp_path(&rel);
        if let Some(parent) = tmp.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
        }
        let file = File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        let writer = ArrowWriter::try_new(
            BufWriter::with_capacity(1 << 20, file),
            self.schema.clone(),
            Some(self.props.clone()),
        )?;
        Ok(Open { rows: schema::Rows::default(), writer, tmp, rel, last_used: 0 })
    }

    fn write_rows(schema: &SchemaRef, o: &mut Open) -> anyhow::Result<()> {
        if o.rows.is_empty() {
            return Ok(());
        }
        let batch = o.rows.take(schema)?;
        o.writer.write(&batch).with_context(|| format!("writing {}", o.tmp.display()))
    }

    /// Finishes one file and publishes it under its final name.
    fn close(&mut self, mut o: Open) -> anyhow::Result<()> {
        Self::write_rows(&self.schema, &mut o)?;
        o.writer.flush().with_context(|| format!("writing {}", o.tmp.display()))?;
        self.stats.row_groups += o.writer.flushed_row_groups().len() as u64;
        // into_inner writes the footer (finish would write it a second time).
        let file = o.writer.into_inner().with_context(|| format!("finishing {}", o.tmp.display()))?;
        let file = file.into_inner().map_err(|e| e.into_error())?;
        file.sync_data().with_context(|| format!("writing {}", o.tmp.display()))?;
        self.stats.bytes += file.metadata().map_or(0, |m| m.len());
        drop(file);
        self.dest.publish(&o.tmp, &o.rel)?;
        self.stats.files.push(self.dest.target().display(&o.rel));
        Ok(())
    }

    /// When the open files hold more than the memory bound, the largest ends its row group early.
    fn bound_memory(&mut self) -> anyhow::Result<()> {
        let held: usize = self.open.values().map(|o| o.writer.in_progress_size()).sum();
        if held <= self.opts.memory_bytes {
            return Ok(());
        }
        if let Some(o) = self.open.values_mut().max_by_key(|o| o.writer.in_progress_size()) {
            o.writer.flush().with_context(|| format!("writing {}", o.tmp.display()))?;
        }
        Ok(())
    }

    fn add(&mut self, ev: &Event<'_>) -> anyhow::Result<()> {
        let key = Self::key(ev);
        self.tick += 1;
        if !self.open.contains_key(&key) {
            if self.open.len() >= self.opts.max_open.max(1) {
                let lru = self.open.iter().min_by_key(|(_, o)| o.last_used).map(|(k, _)| k.clone());
                if let Some(o) = lru.and_then(|k| self.open.remove(&k)) {
                    self.close(o)?;
                }
            }
            let o = self.open_file(&key)?;
            self.open.insert(key.clone(), o);
        }
        let Some(o) = self.open.get_mut(&key) else { return Ok(()) };
        o.last_used = self.tick;
        o.rows.push(ev);
        self.stats.rows += 1;
        if o.rows.len() >= BATCH_ROWS || o.rows.text_bytes() >= BATCH_TEXT {
            Self::write_rows(&self.schema, o)?;
            self.bound_memory()?;
        }
        Ok(())
    }

    /// Finishes every open file and returns what was written, or the first error (then no file is
    /// left under a temporary name, and files already published stay).
    pub fn finish(mut self) -> anyhow::Result<ExportStats> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        while let Some((_, o)) = self.open.pop_first() {
            self.close(o)?;
        }
        self.dest.cleanup();
        Ok(std::mem::take(&mut self.stats))
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
        // An export that failed or was abandoned removes its temporary files.
        for o in self.open.values() {
            let _ = std::fs::remove_file(&o.tmp);
        }
        self.dest.cleanup();
    }
}
