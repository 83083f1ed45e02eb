//! Run accounting: every input is read, partly read, skipped, ignored or pruned, and the summary says
//! which.

use crate::report::escape::term;
use serde::Serialize;
use std::collections::BTreeMap;

/// An input not read (skipped) or not CloudTrail (ignored), and why.
#[derive(Serialize, Clone, Debug)]
pub struct SkippedInput {
    /// The input's name (path or `s3://` URL), as listed.
    pub input: String,
    /// Why, in words (log-derived parts escaped when printed).
    pub reason: String,
}

/// An input read only in part, and why.
#[derive(Serialize, Clone, Debug)]
pub struct PartialInput {
    /// The input's name (path or `s3://` URL), as listed.
    pub input: String,
    /// What failed (truncated gzip, invalid JSON after some records, size limit reached...).
    pub reason: String,
    /// Records read from it before (or despite) the problem.
    pub records: u64,
}

/// Something odd about an input that did not stop it being read (e.g. invalid UTF-8 replaced).
#[derive(Serialize, Clone, Debug)]
pub struct InputWarning {
    /// The input's name, or `(detection)` for warnings from the detector.
    pub input: String,
    /// The warning, in words.
    pub warning: String,
}

/// The `--summary` document. Every listed input is in exactly one of `inputs_read`, `inputs_partial`,
/// `inputs_skipped`, `inputs_ignored` and `inputs_pruned`. Field names are stable.
#[derive(Serialize, Clone, Debug, Default)]
pub struct Summary {
    /// Inputs listed, before pruning.
    pub inputs_total: u64,
    /// Inputs read completely.
    pub inputs_read: u64,
    /// Inputs read in part: some records were read, then something failed.
    pub inputs_partial: Vec<PartialInput>,
    /// Inputs that claim to be CloudTrail (or a container) but could not be read at all, with the
    /// reason (unreadable, corrupt, truncated, invalid JSON). They make the run partial.
    pub inputs_skipped: Vec<SkippedInput>,
    /// Inputs that are not CloudTrail (valid JSON without CloudTrail records, text, digests), with
    /// the reason. They leave the exit status unchanged.
    pub inputs_ignored: Vec<SkippedInput>,
    /// Inputs left out by name without reading (digests, outside the selected accounts/regions/dates).
    pub inputs_pruned: u64,
    /// Pruned inputs by reason.
    pub pruned_by_reason: BTreeMap<String, u64>,
    /// Distinct records kept (after filters and de-duplication).
    pub records: u64,
    /// Records dropped because an earlier record had the same `eventID`.
    pub duplicates: u64,
    /// Records outside `--since/--until/--account/--region`.
    pub records_filtered: u64,
    /// JSON objects that were not CloudTrail events.
    pub records_rejected: u64,
    /// Kept records with no readable `eventTime`/`@timestamp`.
    pub records_without_time: u64,
    /// Bytes read from inputs as stored (gzipped or not).
    pub bytes_compressed: u64,
    /// Bytes after decompression: the JSON actually parsed.
    pub bytes_decompressed: u64,
    /// Wall-clock time of the scan, in milliseconds.
    pub elapsed_ms: u64,
    /// Inputs by detected format.
    pub formats: BTreeMap<String, u64>,
    /// Warnings that did not stop an input being read.
    pub warnings: Vec<InputWarning>,
    /// Findings reported (0 when detection is off).
    pub findings: u64,
    /// Worker threads the scan used (`--threads`, or one per core).
    pub threads: usize,
    /// `--engine athena`: the queries run, bytes scanned, cost and time (absent for the local engine).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub athena: Option<crate::athena::AthenaRun>,
}

impl Summary {
    /// True when some input could not be read in full: the exit status says so.
    pub fn is_partial(&self) -> bool {
        !self.inputs_partial.is_empty() || !self.inputs_skipped.is_empty()
    }

    /// A few lines for stderr.
    pub fn human(&self) -> String {
        let mb = self.bytes_decompressed as f64 / 1e6;
        let secs = (self.elapsed_ms as f64 / 1000.0).max(0.001);
        let mut s = format!(
            "trailhound: {} inputs: {} read, {} partial, {} skipped, {} ignored, {} pruned; {} records ({} duplicates, {} filtered out); {:.1} MB in {:.2} s ({:.0} MB/s); {} findings\n",
            self.inputs_total,
            self.inputs_read,
            self.inputs_partial.len(),
            self.inputs_skipped.len(),
            self.inputs_ignored.len(),
            self.inputs_pruned,
            self.records,
            self.duplicates,
            self.records_filtered,
            mb,
            secs,
            mb / secs,
            self.findings
        );
        const SHOW: usize = 20;
        // Names and reasons come from the inputs (file names, S3 keys): escape them for the terminal.
        for p in self.inputs_partial.iter().take(SHOW) {
            s += &format!("  partial: {} ({} records read): {}\n", term(&p.input), p.records, term(&p.reason));
        }
        for k in self.inputs_skipped.iter().take(SHOW) {
            s += &format!("  skipped: {}: {}\n", term(&k.input), term(&k.reason));
        }
        // Ignored inputs are named in --summary only: a trail folder's READMEs are not news.
        let hidden = self.inputs_partial.len().saturating_sub(SHOW) + self.inputs_skipped.len().saturating_sub(SHOW);
        if hidden > 0 {
            s += &format!("  ... and {hidden} more (see --summary FILE)\n");
        }
        s
    }
}
