//! Command-line definitions, shared by the binary and its tests. Groups of options that several
//! commands take (inputs and filters, output) are flattened into each command.

pub mod athena;
pub mod export;
pub mod help;
pub mod respond;

pub use athena::{AthenaArgs, AthenaCmdArgs, AthenaCommand, DdlArgs, Engine, ScanWindow};

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "trailhound",
    version,
    about = "Find AWS temporary credentials used outside the workload they were issued to",
    after_help = help::MAIN_HELP
)]
/// The parsed command line of the `trailhound` binary.
pub struct Cli {
    /// The subcommand to run.
    #[command(subcommand)]
    pub command: Command,
}

/// trailhound's subcommands; each variant's doc is its `--help` summary.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Read CloudTrail logs and report workload credentials used off-workload.
    #[command(after_help = help::SCAN_HELP)]
    Scan(ScanArgs),
    /// Blast radius of compromised keys: the credentials minted from them and everything they did.
    #[command(after_help = help::REPORT_HELP)]
    Report(ReportArgs),
    /// The affected role's timeline: sessions issued, uses by key and origin, revocations.
    #[command(after_help = help::TIMELINE_HELP)]
    Timeline(TimelineArgs),
    /// Write the normalized events as Hive-partitioned Parquet (for DuckDB, Athena, Spark).
    #[command(after_help = export::EXPORT_HELP)]
    Export(export::ExportArgs),
    /// Deny compromised sessions issued before a cutoff (plan by default; --emit or --apply).
    #[command(after_help = help::REVOKE_HELP)]
    Revoke(RevokeArgs),
    /// Consume S3 notifications of new trail objects from SQS: judge each, revoke within guardrails.
    #[command(after_help = respond::RESPOND_HELP)]
    Respond(respond::RespondArgs),
    /// `respond` for one SQS batch per AWS Lambda invocation (the function's bootstrap runs it).
    #[command(after_help = respond::LAMBDA_HELP)]
    Lambda(respond::LambdaArgs),
    /// Athena: the CloudTrail table DDL for a trail bucket (`athena ddl`).
    #[command(after_help = help::ATHENA_HELP)]
    Athena(AthenaCmdArgs),
    /// Print the shell completion script for bash, zsh, fish, powershell or elvish.
    #[command(after_help = help::COMPLETIONS_HELP)]
    Completions(CompletionsArgs),
    /// Print the man page trailhound(1), or write one page per command into a folder.
    #[command(after_help = help::MAN_HELP)]
    Man(ManArgs),
}

/// Arguments of `completions`.
#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Arguments of `man`.
#[derive(Args, Debug)]
pub struct ManArgs {
    /// Write trailhound.1 and a page per command (trailhound-scan.1, ...) into this folder instead.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Where a report or timeline goes (their formats differ from `scan`'s).
#[derive(Args, Debug, Clone)]
pub struct DocOutput {
    /// Write it to this file instead of standard output.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Write the run summary (JSON) to this file (for `report`, the second pass's).
    #[arg(long, value_name = "FILE")]
    pub summary: Option<PathBuf>,
    /// No progress bar and no human summary on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Output formats of `report`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportFormat {
    /// A self-contained HTML page (log-derived text escaped, nothing fetched from elsewhere).
    Html,
    /// Markdown (log-derived text escaped).
    Md,
    /// The report document as JSON (stable field names).
    Json,
    /// One CSV row per event of the chain, with its impact category.
    Csv,
}

/// Options of `report`: which keys to start from, and where the report goes.
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Inputs to read and records to keep.
    #[command(flatten)]
    pub input: InputArgs,
    /// A compromised access key (ASIA... or AKIA...); repeatable.
    #[arg(long, value_name = "KEY")]
    pub key: Vec<String>,
    /// Findings from `trailhound scan --format json|ndjson`: their keys are the starting points.
    #[arg(long, value_name = "FILE")]
    pub finding: Vec<PathBuf>,
    /// Report format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Html)]
    pub format: ReportFormat,
    /// Where the report and run summary go.
    #[command(flatten)]
    pub out: DocOutput,
    /// Detection settings: the first pass runs detection to mark which origins are the attacker's.
    #[command(flatten)]
    pub detect: DetectArgs,
    /// AWS connection options (for s3:// inputs).
    #[command(flatten)]
    pub aws: AwsArgs,
    /// `--engine athena`: Athena names the objects holding the chain's records (and computes the
    /// findings); just those are streamed from S3.
    #[command(flatten)]
    pub athena: AthenaArgs,
}

/// Output formats of `timeline`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimelineFormat {
    /// Text for a terminal (log-derived text escaped).
    Table,
    /// The timeline document as JSON (stable field names).
    Json,
}

/// Options of `timeline`: what to select (role, session, key) and where the timeline goes.
#[derive(Args, Debug)]
pub struct TimelineArgs {
    /// Inputs to read and records to keep.
    #[command(flatten)]
    pub input: InputArgs,
    /// The role (name or ARN).
    #[arg(long, value_name = "NAME|ARN", required_unless_present_any = ["session", "key"])]
    pub role: Option<String>,
    /// One session (an instance id, a function name).
    #[arg(long, value_name = "NAME")]
    pub session: Option<String>,
    /// One access key.
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
    /// Timeline format.
    #[arg(long, value_enum, default_value_t = TimelineFormat::Table)]
    pub format: TimelineFormat,
    /// Where the timeline and run summary go.
    #[command(flatten)]
    pub out: DocOutput,
    /// Detection settings (to mark the flagged keys and origins).
    #[command(flatten)]
    pub detect: DetectArgs,
    /// AWS connection options (for s3:// inputs).
    #[command(flatten)]
    pub aws: AwsArgs,
    /// `--engine athena`: Athena names the objects holding the selection's records (and computes
    /// the findings); just those are streamed from S3.
    #[command(flatten)]
    pub athena: AthenaArgs,
}

/// Which inputs to read and which records to keep.
#[derive(Args, Debug, Clone)]
pub struct InputArgs {
    /// Files, folders (walked recursively) or s3://bucket/prefix URLs of CloudTrail logs, in any export
    /// shape, gzipped or not (none with `scan --engine athena`).
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<String>,
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
    /// S3 objects fetched at once (enough to hide request latency).
    #[arg(long, value_name = "N", default_value_t = 128)]
    pub s3_concurrency: usize,
    /// Most fetched-but-not-yet-decoded S3 data held in memory, in MB.
    #[arg(long, value_name = "MB", default_value_t = 512)]
    pub s3_buffer_mb: u64,
    /// Most bytes read from one input, after decompression (such as 1GiB, 4GiB, 500MB); an input
    /// beyond it is read up to it and reported partial. Bounds memory against decompression bombs.
    #[arg(long, value_name = "SIZE", default_value = "1GiB", value_parser = parse_size)]
    pub max_input_size: u64,
}

/// `1GiB`, `512MiB`, `500MB`, `4G`, `1000`: a size in bytes.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| format!("{s:?} is not a size (such as 1GiB, 500MB, 1000000)"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "kb" => 1_000,
        "m" | "mib" => 1 << 20,
        "mb" => 1_000_000,
        "g" | "gib" => 1 << 30,
        "gb" => 1_000_000_000,
        "t" | "tib" => 1 << 40,
        "tb" => 1_000_000_000_000,
        _ => return Err(format!("{s:?}: unknown unit (use B, KB, KiB, MB, MiB, GB, GiB, TB or TiB)")),
    };
    match n.checked_mul(mult) {
        Some(0) => Err("the size must be more than 0".into()),
        Some(v) => Ok(v),
        None => Err(format!("{s:?} is too large")),
    }
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

/// `--format` of `scan`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A table for a person.
    Table,
    /// One JSON array.
    Json,
    /// JSON Lines.
    Ndjson,
    /// CSV with a header.
    Csv,
    /// OCSF 1.1 Detection Findings (class 2004), JSON Lines.
    Ocsf,
    /// AWS Security Finding Format (a JSON array, as Security Hub imports it).
    Asff,
}

impl From<Format> for crate::report::Format {
    fn from(f: Format) -> Self {
        match f {
            Format::Table => crate::report::Format::Table,
            Format::Json => crate::report::Format::Json,
            Format::Ndjson => crate::report::Format::Ndjson,
            Format::Csv => crate::report::Format::Csv,
            Format::Ocsf => crate::report::Format::Ocsf,
            Format::Asff => crate::report::Format::Asff,
        }
    }
}

/// Detection settings.
#[derive(Args, Debug, Clone)]
pub struct DetectArgs {
    /// Trusted egress (on-premises NAT, VPN): use from these CIDRs is never flagged. Repeatable.
    #[arg(long = "trusted-cidr", value_name = "CIDR")]
    pub trusted_cidrs: Vec<String>,
    /// Accounts whose VPC endpoints are the organization's own (a shared-services account), beside
    /// every account the trail itself names. Repeatable, or comma-separated.
    #[arg(long = "trusted-account", value_name = "ID", value_delimiter = ',')]
    pub trusted_accounts: Vec<String>,
    /// AWS's ip-ranges.json to use instead of the snapshot built into the binary.
    #[arg(long, value_name = "FILE")]
    pub ip_ranges: Option<PathBuf>,
    /// Configuration file (TOML: trusted_cidrs, trusted_accounts, ip_ranges; see README).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

impl DetectArgs {
    /// The library's detection options (the library never sees clap's types).
    pub fn options(&self) -> crate::detect::DetectOptions {
        crate::detect::DetectOptions {
            trusted_cidrs: self.trusted_cidrs.clone(),
            trusted_accounts: self.trusted_accounts.clone(),
            ip_ranges: self.ip_ranges.clone(),
            config: self.config.clone(),
        }
    }
}

/// Options of `scan`.
#[derive(Args, Debug)]
pub struct ScanArgs {
    /// Inputs to read and records to keep.
    #[command(flatten)]
    pub input: InputArgs,
    /// Findings format and destination.
    #[command(flatten)]
    pub output: OutputArgs,
    /// Detection settings (trusted networks and accounts, IP ranges, config file).
    #[command(flatten)]
    pub detect: DetectArgs,
    /// AWS connection options (for s3:// inputs).
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Print every normalized event as JSON Lines instead of findings (for debugging and tests).
    #[arg(long)]
    pub dump_events: bool,
    /// Read and account for inputs without running detection (to measure the plain scan).
    #[arg(long, conflicts_with = "dump_events")]
    pub no_detect: bool,
    /// Also send the findings to Security Hub (BatchImportFindings, as ASFF, 100 at a time).
    #[arg(long, conflicts_with_all = ["dump_events", "no_detect"])]
    pub to_security_hub: bool,
    /// The engine, and Athena's options.
    #[command(flatten)]
    pub athena: AthenaArgs,
}

/// AWS connection options shared by every command that calls AWS (the SDK's default credential chain
/// applies: environment, profile, SSO, instance role).
#[derive(Args, Debug, Clone, Default)]
pub struct AwsArgs {
    /// Named profile from the AWS config files.
    #[arg(long, value_name = "NAME", env = "AWS_PROFILE")]
    pub profile: Option<String>,
    /// AWS region to call (the trail bucket's region for S3; IAM is global). `AWS_REGION` works too.
    /// (`--region` is the record filter of `scan`.)
    #[arg(id = "aws_region", long = "aws-region", value_name = "REGION")]
    pub region: Option<String>,
    /// Send AWS calls to this endpoint (LocalStack, moto). `AWS_ENDPOINT_URL` works too.
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
}

impl AwsArgs {
    /// The library's AWS options.
    pub fn options(&self) -> crate::aws::AwsOptions {
        crate::aws::AwsOptions {
            profile: self.profile.clone(),
            region: self.region.clone(),
            endpoint_url: self.endpoint_url.clone(),
        }
    }
}

/// How far the revocation cutoff goes.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cutoff {
    /// Now plus `--margin-minutes`: also denies keys the thief fetched that the logs do not show yet.
    Now,
    /// One second after the newest compromised key was issued: the workload's newer sessions keep working.
    AfterIssue,
}

/// Options of `revoke`: what to revoke, how the cutoff is chosen, and whether to plan, emit or apply.
#[derive(Args, Debug)]
pub struct RevokeArgs {
    /// Findings from `trailhound scan --format json|ndjson` (repeatable).
    #[arg(long, value_name = "FILE")]
    pub finding: Vec<PathBuf>,
    /// Scan these CloudTrail inputs (files, folders, s3:// URLs) first and revoke what the scan finds;
    /// with --engine athena, give no INPUT: Athena's table is scanned over --since/--until.
    #[arg(long, value_name = "INPUT", num_args = 0..)]
    pub from_scan: Option<Vec<String>>,
    /// The window, accounts and regions --from-scan reads.
    #[command(flatten)]
    pub window: athena::ScanWindow,
    /// `--from-scan --engine athena`: the findings come from Athena's aggregate queries.
    #[command(flatten)]
    pub athena: AthenaArgs,
    /// The role to revoke (name or ARN), with --session or --all-sessions.
    #[arg(long, value_name = "NAME|ARN")]
    pub role: Option<String>,
    /// Only this session of the role (an instance id, a function name); repeatable. Surgical form.
    #[arg(long, value_name = "NAME", requires = "role")]
    pub session: Vec<String>,
    /// Every session of the role issued before the cutoff (the console's AWSRevokeOlderSessions).
    #[arg(long, requires = "role", conflicts_with = "session")]
    pub all_sessions: bool,
    /// Long-term access keys to deactivate (never deleted); repeatable.
    #[arg(long, value_name = "AKIA...")]
    pub access_key: Vec<String>,
    /// Explicit cutoff (RFC 3339): sessions issued before it are denied.
    #[arg(long, value_name = "TIME")]
    pub before: Option<String>,
    /// How the cutoff is chosen when --before is not given.
    #[arg(long, value_enum, default_value_t = Cutoff::Now)]
    pub cutoff: Cutoff,
    /// Margin added to "now" for --cutoff now (covers keys fetched while the deny propagates).
    #[arg(long, value_name = "MINUTES", default_value_t = 5)]
    pub margin_minutes: i64,
    /// Print the policy JSON and the exact `aws iam put-role-policy` command; call nothing.
    #[arg(long, conflicts_with = "apply")]
    pub emit: bool,
    /// Apply the plan (asks for confirmation unless --yes).
    #[arg(long)]
    pub apply: bool,
    /// Do not ask for confirmation (with --apply or --rollback).
    #[arg(long)]
    pub yes: bool,
    /// Refuse plans that change more roles than this.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub max_roles: usize,
    /// JSON Lines audit log (hash-chained): every change is recorded before it is made, and its outcome
    /// after. Must be a regular file; nothing is changed when it cannot be written.
    #[arg(long, value_name = "FILE", default_value = "trailhound-audit.jsonl")]
    pub audit_log: PathBuf,
    /// Plan the undoing of an applied change, by its audit id: shows both documents and asks for
    /// confirmation (or --yes).
    #[arg(long, value_name = "AUDIT_ID", conflicts_with_all = ["finding", "from_scan", "role", "access_key", "emit"])]
    pub rollback: Option<String>,
    /// With --rollback of a key deactivation: reactivate the compromised key (refused without it).
    #[arg(long, requires = "rollback")]
    pub reactivate_compromised_key: bool,
    /// With --rollback: accept a record written before the audit log had a hash chain (unverifiable).
    #[arg(long, requires = "rollback")]
    pub accept_unverifiable_record: bool,
    /// Detection settings for --from-scan.
    #[command(flatten)]
    pub detect: DetectArgs,
    /// AWS connection options (for IAM calls, and for s3:// inputs of --from-scan).
    #[command(flatten)]
    pub aws: AwsArgs,
}

#[cfg(test)]
mod tests {
    #[test]
    fn command_line_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}

impl InputArgs {
    /// Fails when no input was given (clap cannot say "required unless --engine athena" for options
    /// shared with commands that have no engine).
    pub fn require_inputs(&self) -> anyhow::Result<()> {
        if self.inputs.is_empty() {
            anyhow::bail!("no INPUT given: name files, folders or s3://bucket/prefix URLs of CloudTrail logs");
        }
        Ok(())
    }

    /// The record filter and the listing pruning these options ask for.
    pub fn filter_and_prune(&self) -> anyhow::Result<(crate::decode::normalize::Filter, crate::source::Prune)> {
        let parse = |flag: &str, v: &Option<String>| -> anyhow::Result<Option<i64>> {
            v.as_deref()
                .map(|s| {
                    crate::time::parse_bound(s)
                        .ok_or_else(|| anyhow::anyhow!("--{flag} {s:?} is not RFC 3339 or YYYY-MM-DD"))
                })
                .transpose()
        };
        let filter = crate::decode::normalize::Filter {
            since_ms: parse("since", &self.since)?,
            until_ms: parse("until", &self.until)?,
            accounts: self.account.clone(),
            regions: self.region.clone(),
            keep_raw_for: None,
            keep_raw_all: false,
        };
        let prune = crate::source::Prune {
            accounts: filter.accounts.clone(),
            regions: filter.regions.clone(),
            since_ms: filter.since_ms,
            until_ms: filter.until_ms,
            margin_ms: self.delivery_margin_minutes.max(0) * 60_000,
        };
        Ok((filter, prune))
    }
}
