//! The export's writer thread: encodes and compresses record batches into Parquet files, and
//! publishes each file when it is finished, while the scan's merge goes on building rows.
//!
//! Messages arrive in the order the merge sent them, so what is written depends only on the
//! input. Files still open when the channel closes without [`Msg::Close`] (an export abandoned on an
//! error or a panic) are removed: nothing half-written stays, not even under a temporary name.

use super::ExportStats;
use super::dest::Dest;
use anyhow::Context;
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::Receiver;

/// What the merge asks of the writer thread.
pub enum Msg {
    /// A new file, already created under its temporary name.
    Open {
        /// The file's number in this export.
        id: u64,
        /// The temporary file.
        file: File,
        /// Its temporary path.
        tmp: PathBuf,
        /// Its final name, relative to the target.
        rel: String,
    },
    /// Rows for an open file.
    Write {
        /// The file.
        id: u64,
        /// The rows.
        batch: RecordBatch,
    },
    /// Finish the file and publish it under its final name.
    Close {
        /// The file.
        id: u64,
    },
}

struct Writing {
    writer: ArrowWriter<BufWriter<File>>,
    tmp: PathBuf,
    rel: String,
}

/// The writer thread's state.
pub struct Writer {
    /// Where finished files go.
    pub dest: Arc<Dest>,
    /// The export's schema.
    pub schema: SchemaRef,
    /// Parquet settings (zstd, dictionaries, row group size).
    pub props: WriterProperties,
    /// Most unwritten encoded bytes held by all open files together.
    pub memory_bytes: usize,
}

impl Writer {
    /// Runs until the channel closes; returns what was written and the first error.
    pub fn run(self, rx: Receiver<Msg>) -> (ExportStats, Option<anyhow::Error>) {
        let mut open: BTreeMap<u64, Writing> = BTreeMap::new();
        let mut stats = ExportStats::default();
        let mut error = None;
        for msg in rx {
            if error.is_some() {
                // After a failure only the cleanup matters: files opened later are removed too.
                if let Msg::Open { tmp, .. } = msg {
                    let _ = std::fs::remove_file(tmp);
                }
                continue;
            }
            if let Err(e) = self.handle(msg, &mut open, &mut stats) {
                error = Some(e);
                for w in std::mem::take(&mut open).into_values() {
                    let _ = std::fs::remove_file(&w.tmp);
                }
            }
        }
        for w in open.into_values() {
            let _ = std::fs::remove_file(&w.tmp);
        }
        self.dest.cleanup();
        (stats, error)
    }

    fn handle(&self, msg: Msg, open: &mut BTreeMap<u64, Writing>, stats: &mut ExportStats) -> anyhow::Result<()> {
        match msg {
            Msg::Open { id, file, tmp, rel } => {
                let buf = BufWriter::with_capacity(1 << 20, file);
                let writer = ArrowWriter::try_new(buf, self.schema.clone(), Some(self.props.clone()));
                let writer = match writer {
                    Ok(w) => w,
                    Err(e) => {
                        let _ = std::fs::remove_file(&tmp);
                        return Err(e.into());
                    }
                };
                open.insert(id, Writing { writer, tmp, rel });
            }
            Msg::Write { id, batch } => {
                if let Some(w) = open.get_mut(&id) {
                    w.writer.write(&batch).with_context(|| format!("writing {}", w.tmp.display()))?;
                }
                self.bound_memory(open)?;
            }
            Msg::Close { id } => {
                if let Some(w) = open.remove(&id) {
                    self.close(w, stats)?;
                }
            }
        }
        Ok(())
    }

    /// When the open files hold more than the memory bound, the largest ends its row group early.
    fn bound_memory(&self, open: &mut BTreeMap<u64, Writing>) -> anyhow::Result<()> {
        let held: usize = open.values().map(|w| w.writer.in_progress_size()).sum();
        if held <= self.memory_bytes {
            return Ok(());
        }
        if let Some(w) = open.values_mut().max_by_key(|w| w.writer.in_progress_size()) {
            w.writer.flush().with_context(|| format!("writing {}", w.tmp.display()))?;
        }
        Ok(())
    }

    /// Finishes one file and publishes it under its final name.
    fn close(&self, mut w: Writing, stats: &mut ExportStats) -> anyhow::Result<()> {
        let res = (|| {
            w.writer.flush().with_context(|| format!("writing {}", w.tmp.display()))?;
            let row_groups = w.writer.flushed_row_groups().len() as u64;
            // into_inner writes the footer (finish would write it a second time).
            let buf = w.writer.into_inner().with_context(|| format!("finishing {}", w.tmp.display()))?;
            let file = buf.into_inner().map_err(|e| e.into_error())?;
            file.sync_data().with_context(|| format!("writing {}", w.tmp.display()))?;
            let bytes = file.metadata().map_or(0, |m| m.len());
            drop(file);
            self.dest.publish(&w.tmp, &w.rel)?;
            anyhow::Ok((row_groups, bytes))
        })();
        match res {
            Ok((row_groups, bytes)) => {
                stats.row_groups += row_groups;
                stats.bytes += bytes;
                stats.files.push(self.dest.target().display(&w.rel));
                Ok(())
            }
            Err(e) => {
                let _ = std::fs::remove_file(&w.tmp);
                Err(e)
            }
        }
    }
}
