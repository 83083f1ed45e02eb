//! Command-line definitions, shared by the binary and its tests. Groups of options that several
//! commands take (inputs and filters, output) are flattened into each command.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(name = "trailhound", version, about = "Find AWS temporary credentials used outside the workload they were issued to")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Read CloudTrail logs and report workload credentials used off-workload.
    Scan(ScanArgs),
}

/// Which inputs to read and which records to keep.
#[derive(Args, Debug, Clone)]
pub struct InputArgs {
    /// Files or folders (walked recursively) of CloudTrail logs, in any export shape, gzipped or not.
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// Keep records at or after this time (RFC 3339, or a date YYYY-MM-DD meaning midnight UTC).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Keep records before this time (RFC 3339, or a date YYYY-MM-DD meaning midnight UTC).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Keep only these accounts (repeatable, or comma-separated).
    #[arg(long, value_name = "ID", value_delimiter = ',')]
    pub account: Vec<String>,
    /// Keep only these regions (repeatable, or comma-separated).
    #[arg(long, value_name = "REGION", value_delimiter = ',')]
    pub region: Vec<String>,
    /// How long after an event CloudTrail may deliver it; widens the date window when inputs are
    /// pruned by their S3 key's delivery time.
    #[arg(long, value_name = "MINUTES", default_value_t = 120)]
    pub delivery_margin_minutes: i64,
    /// Worker threads (default: one per core).
    #[arg(short = 'j', long, value_name = "N", default_value_t = 0)]
    pub threads: usize,
}

/// How results are written.
#[derive(Args, Debug, Clone)]
pub struct OutputArgs {
    /// Output format (default: table on a terminal, ndjson otherwise).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Write results to this file instead of standard output.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Write the run summary (JSON) to this file.
    #[arg(long, value_name = "FILE")]
    pub summary: Option<PathBuf>,
    /// No progress bar and no human summary on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Ndjson,
    Csv,
}

/// Detection settings.
#[derive(Args, Debug, Clone)]
pub struct DetectArgs {
    /// Trusted egress (on-premises NAT, VPN): use from these CIDRs is never flagged. Repeatable.
    #[arg(long = "trusted-cidr", value_name = "CIDR")]
    pub trusted_cidrs: Vec<String>,
    /// AWS's ip-ranges.json to use instead of the snapshot built into the binary.
    #[arg(long, value_name = "FILE")]
    pub ip_ranges: Option<PathBuf>,
    /// Configuration file (TOML-like `key = value` lines; see README: trusted_cidrs, ip_ranges).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ScanArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub detect: DetectArgs,
    /// Print every normalized event as JSON Lines instead of findings (for debugging and tests).
    #[arg(long)]
    pub dump_events: bool,
    /// Read and account for inputs without running detection (to measure the plain scan).
    #[arg(long, conflicts_with = "dump_events")]
    pub no_detect: bool,
}
