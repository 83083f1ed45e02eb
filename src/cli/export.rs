//! Options of `export` (kept out of `cli/mod.rs`, which holds the options every command shares).

use super::{AwsArgs, InputArgs};
use clap::Args;
use std::path::PathBuf;

/// Shown by `trailhound export --help`.
pub const EXPORT_HELP: &str = "Exit status:
  0  every input read, every event exported
  2  error: bad arguments, no inputs found, the target not empty or not writable, an upload refused
  3  some inputs skipped or read in part (see the summary); the export holds the rest

Example:
  trailhound export s3://org-trail/AWSLogs/ --since 2026-11-01 --to evidence/";

/// Options of `export`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Inputs to read and records to keep (as `scan`).
    #[command(flatten)]
    pub input: InputArgs,
    /// Where the Parquet goes: a new (or empty) folder, or s3://bucket/prefix.
    #[arg(long, value_name = "DIR|S3_URL")]
    pub to: String,
    /// Encoded size at which a row group closes, in MB (Athena reads best around 128).
    #[arg(long, value_name = "MB", default_value_t = 128)]
    pub row_group_mb: usize,
    /// Most Parquet files open at once (partitions beyond it get their files finished early).
    #[arg(long, value_name = "N", default_value_t = 32)]
    pub max_open_files: usize,
    /// Write the run summary (JSON, with the files written) to this file.
    #[arg(long, value_name = "FILE")]
    pub summary: Option<PathBuf>,
    /// No progress bar and no human summary on stderr.
    #[arg(short, long)]
    pub quiet: bool,
    /// AWS connection options (for s3:// inputs and an s3:// target).
    #[command(flatten)]
    pub aws: AwsArgs,
}
