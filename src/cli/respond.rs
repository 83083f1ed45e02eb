//! Arguments of `respond` (the long-running consumer) and `lambda` (the same for one SQS batch per
//! Lambda invocation). Every option can come from the environment (`TRAILHOUND_*`), which is how the
//! Lambda function is configured.

use super::{AwsArgs, DetectArgs, parse_size};
use clap::Args;
use std::path::PathBuf;

/// Shown by `trailhound respond --help`.
pub const RESPOND_HELP: &str = "Exit status:
  0  stopped by Ctrl-C/SIGTERM (after the message in hand) or, with --exit-when-empty, a drained queue
  2  error at start (queue, state store, policy or detection settings): nothing was read

Example:
  trailhound respond --queue https://sqs.us-east-1.amazonaws.com/111122223333/trail-objects --state respond.redb";

/// Shown by `trailhound lambda --help`.
pub const LAMBDA_HELP: &str = "Exit status:
  0  the Lambda runtime stopped
  2  error at start (not in Lambda, state not in DynamoDB, bad policy): the function fails its init

Example:
  trailhound lambda --state dynamodb://trailhound-respond     # as the function's bootstrap";

/// Options of both `respond` and `lambda`.
#[derive(Args, Debug)]
pub struct ConsumerArgs {
    /// Guardrail policy file (TOML); without it: act on high-confidence findings, surgical form only,
    /// at most 5 revocations an hour.
    #[arg(long, value_name = "FILE", env = "TRAILHOUND_POLICY")]
    pub policy: Option<PathBuf>,
    /// Change IAM; without it decisions are made and recorded, and nothing is changed.
    #[arg(long, env = "TRAILHOUND_APPLY")]
    pub apply: bool,
    /// Append every decision and change to this audit log (JSON lines, hash-chained).
    #[arg(long, value_name = "FILE", env = "TRAILHOUND_AUDIT_LOG")]
    pub audit_log: Option<PathBuf>,
    /// Read only objects of these accounts (from the key's CloudTrail layout); others are reported and
    /// not read. Repeatable, or comma-separated.
    #[arg(long, value_name = "ID", value_delimiter = ',', env = "TRAILHOUND_ACCOUNTS")]
    pub account: Vec<String>,
    /// Read only objects of these regions (from the key's CloudTrail layout).
    #[arg(long, value_name = "REGION", value_delimiter = ',', env = "TRAILHOUND_REGIONS")]
    pub region: Vec<String>,
    /// Largest object read (KiB, MiB, GiB suffixes); a larger one is read up to it and reported.
    #[arg(long, value_name = "SIZE", default_value = "1GiB", value_parser = parse_size)]
    pub max_input_size: u64,
    /// Detection settings.
    #[command(flatten)]
    pub detect: DetectArgs,
    /// AWS connection options.
    #[command(flatten)]
    pub aws: AwsArgs,
}

/// Arguments of `respond`.
#[derive(Args, Debug)]
pub struct RespondArgs {
    /// The SQS queue URL the trail bucket's notifications go to (directly, through SNS or EventBridge).
    #[arg(long, value_name = "URL", env = "TRAILHOUND_QUEUE")]
    pub queue: String,
    /// Where the state is kept: a file (redb, created when missing) or dynamodb://TABLE (shared by
    /// several consumers).
    #[arg(
        long,
        value_name = "PATH|dynamodb://TABLE",
        default_value = "trailhound-respond.redb",
        env = "TRAILHOUND_STATE"
    )]
    pub state: String,
    /// Without a dead-letter queue (no redrive policy), give up an unreadable object after this many
    /// receives: reported and its message deleted.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub max_receives: u32,
    /// Stop when a long poll returns nothing (a drained queue), for scheduled runs.
    #[arg(long)]
    pub exit_when_empty: bool,
    /// Long-poll wait in seconds (0 to 20).
    #[arg(long, value_name = "SECONDS", default_value_t = 20, value_parser = clap::value_parser!(i32).range(0..=20))]
    pub wait_seconds: i32,
    /// Policy, audit, filters, detection and AWS options.
    #[command(flatten)]
    pub common: ConsumerArgs,
}

/// Arguments of `lambda`.
#[derive(Args, Debug)]
pub struct LambdaArgs {
    /// The shared state table: dynamodb://TABLE.
    #[arg(long, value_name = "dynamodb://TABLE", env = "TRAILHOUND_STATE")]
    pub state: String,
    /// Policy, audit, filters, detection and AWS options.
    #[command(flatten)]
    pub common: ConsumerArgs,
}

impl ConsumerArgs {
    /// The library's options (the queue is the caller's: Lambda has none).
    pub fn options(&self, queue_url: String, state: &str) -> anyhow::Result<crate::respond::RespondOptions> {
        Ok(crate::respond::RespondOptions {
            queue_url,
            policy: self.policy.clone(),
            state: crate::respond::store::StateLocation::parse(state)?,
            apply: self.apply,
            audit_log: self.audit_log.clone(),
            aws: self.aws.options(),
            detect: self.detect.options(),
            accounts: self.account.clone(),
            regions: self.region.clone(),
            max_input_bytes: self.max_input_size,
            max_receives: 5,
            exit_when_empty: false,
            wait_seconds: 20,
        })
    }
}

impl RespondArgs {
    /// The library's options.
    pub fn options(&self) -> anyhow::Result<crate::respond::RespondOptions> {
        let mut o = self.common.options(self.queue.clone(), &self.state)?;
        o.max_receives = self.max_receives;
        o.exit_when_empty = self.exit_when_empty;
        o.wait_seconds = self.wait_seconds;
        Ok(o)
    }
}
