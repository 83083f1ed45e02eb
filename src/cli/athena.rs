//! The Athena engine's options (`scan --engine athena`) and the `athena` command.

use clap::{Args, Subcommand, ValueEnum};

/// Where detection's inputs are computed.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Engine {
    /// Stream the logs through this machine (files, folders, s3:// prefixes).
    #[default]
    Local,
    /// Let Athena compute the detector's facts where the trail lies; the same judge decides.
    Athena,
}

/// Options of the Athena engine.
#[derive(Args, Debug, Clone, Default)]
pub struct AthenaArgs {
    /// Where detection's inputs come from: the logs themselves, or Athena's aggregates.
    #[arg(long, value_enum, default_value_t = Engine::Local)]
    pub engine: Engine,
    /// The Glue database holding the CloudTrail table (with --engine athena).
    #[arg(long, value_name = "NAME", required_if_eq("engine", "athena"))]
    pub athena_database: Option<String>,
    /// The CloudTrail table (`trailhound athena ddl` creates one).
    #[arg(long, value_name = "NAME", required_if_eq("engine", "athena"))]
    pub athena_table: Option<String>,
    /// The Athena workgroup (its output location and limits apply).
    #[arg(long, value_name = "NAME")]
    pub athena_workgroup: Option<String>,
    /// Where Athena writes query results (s3://...), when the workgroup does not set it.
    #[arg(long, value_name = "S3_URL")]
    pub athena_output: Option<String>,
    /// Reuse Athena's result of the same query computed within this many minutes (nothing scanned).
    #[arg(long, value_name = "MINUTES")]
    pub athena_reuse_minutes: Option<i32>,
    /// Give up on a query (and stop it) after this many minutes.
    #[arg(long, value_name = "MINUTES", default_value_t = 30)]
    pub athena_timeout_minutes: u64,
    /// Stop once the queries have scanned more than this many GB (10^9 bytes), at $5 per TB.
    #[arg(long, value_name = "GB")]
    pub max_scan_gb: Option<f64>,
}

impl AthenaArgs {
    /// The library's Athena options (`None` for the local engine).
    pub fn options(&self) -> anyhow::Result<Option<crate::athena::AthenaOptions>> {
        if self.engine != Engine::Athena {
            return Ok(None);
        }
        if let Some(gb) = self.max_scan_gb {
            if !(gb.is_finite() && gb > 0.0) {
                anyhow::bail!("--max-scan-gb {gb} must be a positive number");
            }
        }
        if let Some(o) = &self.athena_output {
            if !o.starts_with("s3://") {
                anyhow::bail!("--athena-output {o:?} is not an s3:// URL");
            }
        }
        Ok(Some(crate::athena::AthenaOptions {
            database: self.athena_database.clone().unwrap_or_default(),
            table: self.athena_table.clone().unwrap_or_default(),
            workgroup: self.athena_workgroup.clone(),
            output: self.athena_output.clone(),
            reuse_minutes: self.athena_reuse_minutes,
            max_scan_bytes: self.max_scan_gb.map(|gb| (gb * 1e9) as u64),
            timeout_secs: self.athena_timeout_minutes.max(1) * 60,
        }))
    }
}

/// What `revoke --from-scan` reads: the same window, account and region options as `scan`.
#[derive(Args, Debug, Clone, Default)]
pub struct ScanWindow {
    /// With --from-scan: keep records at or after this time (RFC 3339, or YYYY-MM-DD meaning midnight
    /// UTC); required with --engine athena.
    #[arg(long, value_name = "TIME", requires = "from_scan")]
    pub since: Option<String>,
    /// With --from-scan: keep records before this time (RFC 3339, or YYYY-MM-DD).
    #[arg(long, value_name = "TIME", requires = "from_scan")]
    pub until: Option<String>,
    /// With --from-scan: keep only these accounts (repeatable, or comma-separated).
    #[arg(long, value_name = "ID", value_delimiter = ',', requires = "from_scan")]
    pub account: Vec<String>,
    /// With --from-scan: keep only these regions (repeatable, or comma-separated).
    #[arg(long, value_name = "REGION", value_delimiter = ',', requires = "from_scan")]
    pub region: Vec<String>,
    /// How long after an event CloudTrail may deliver it (widens the days read).
    #[arg(long, value_name = "MINUTES", default_value_t = 120)]
    pub delivery_margin_minutes: i64,
}

impl ScanWindow {
    /// These options as `scan`'s, reading `inputs`, to get the same filter and pruning.
    pub fn input(&self, inputs: &[String]) -> super::InputArgs {
        super::InputArgs {
            inputs: inputs.to_vec(),
            since: self.since.clone(),
            until: self.until.clone(),
            account: self.account.clone(),
            region: self.region.clone(),
            delivery_margin_minutes: self.delivery_margin_minutes,
            threads: 0,
            s3_concurrency: 128,
            s3_buffer_mb: 512,
            max_input_size: 1 << 30,
        }
    }
}

/// Arguments of `athena`.
#[derive(Args, Debug)]
pub struct AthenaCmdArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: AthenaCommand,
}

/// Subcommands of `athena`.
#[derive(Subcommand, Debug)]
pub enum AthenaCommand {
    /// Print (or --apply) the CloudTrail table DDL for a trail bucket, with partition projection.
    Ddl(DdlArgs),
}

/// Arguments of `athena ddl`.
#[derive(Args, Debug)]
pub struct DdlArgs {
    /// s3://bucket[/prefix]: the folder holding AWSLogs/.
    #[arg(long, value_name = "S3_URL")]
    pub location: String,
    /// The organization id of an organization trail (AWSLogs/o-.../<account>/...).
    #[arg(long, value_name = "o-...")]
    pub org: Option<String>,
    /// Accounts the table reads (repeatable, or comma-separated).
    #[arg(long, value_name = "ID", value_delimiter = ',', required = true)]
    pub account: Vec<String>,
    /// Regions the table reads (repeatable, or comma-separated; default: every commercial region).
    #[arg(long, value_name = "REGION", value_delimiter = ',')]
    pub region: Vec<String>,
    /// The first day of logs (yyyy/MM/dd or YYYY-MM-DD).
    #[arg(long, value_name = "DAY", default_value = "2020/01/01")]
    pub start: String,
    /// The table's name.
    #[arg(long, value_name = "NAME", default_value = "cloudtrail_logs")]
    pub athena_table: String,
    /// Run the DDL in Athena (needs --athena-database) instead of printing it.
    #[arg(long, requires = "athena_database")]
    pub apply: bool,
    /// The Glue database to create the table in (with --apply).
    #[arg(long, value_name = "NAME")]
    pub athena_database: Option<String>,
    /// The Athena workgroup (with --apply).
    #[arg(long, value_name = "NAME")]
    pub athena_workgroup: Option<String>,
    /// Where Athena writes the DDL's result (with --apply), when the workgroup does not set it.
    #[arg(long, value_name = "S3_URL")]
    pub athena_output: Option<String>,
    /// AWS connection options (with --apply).
    #[command(flatten)]
    pub aws: super::AwsArgs,
}

impl DdlArgs {
    /// The table these options describe.
    pub fn spec(&self) -> crate::athena::ddl::TableSpec {
        crate::athena::ddl::TableSpec {
            table: self.athena_table.clone(),
            location: self.location.clone(),
            org: self.org.clone(),
            accounts: self.account.clone(),
            regions: self.region.clone(),
            start: self.start.replace('-', "/"),
        }
    }
}
