//! The guardrail policy file (TOML): which findings may be acted on, which roles and accounts may be
//! touched, how many revocations an hour, dry run or not. Validated whole at start.

use serde::{Deserialize, Serialize};
use std::path::Path;

/// Ordered levels of a finding's `severity` or `confidence`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// `low`.
    Low,
    /// `medium`.
    Medium,
    /// `high`.
    High,
    /// `critical` (severity only).
    Critical,
}

impl Level {
    /// The level a finding names; `None` for anything else (such a finding is never acted on).
    pub fn parse(s: &str) -> Option<Level> {
        match s {
            "low" => Some(Level::Low),
            "medium" => Some(Level::Medium),
            "high" => Some(Level::High),
            "critical" => Some(Level::Critical),
            _ => None,
        }
    }

    /// The name used in findings and the policy file.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }
}

/// When a revocation may deny every session of the role instead of only the compromised ones.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum RoleWide {
    /// Surgical only: a finding naming no session is held (rule `role_wide`).
    #[default]
    Never,
    /// Role-wide only when the surgical form cannot name the session.
    Fallback,
    /// Always role-wide: the workload's own sessions are denied too (they renew within the hour).
    Always,
}

/// Where decisions are announced besides stdout and the audit log.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Notify {
    /// SNS topic ARN to publish each decision to.
    #[serde(default)]
    pub sns_topic: Option<String>,
    /// URL receiving each decision as an HTTP POST of its JSON.
    #[serde(default)]
    pub webhook: Option<String>,
    /// Give up on a notification after this long; the revocation never waits for it.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

/// The guardrails. Field names are the policy file's keys (README: Guardrails).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Findings below this severity are held.
    #[serde(default = "default_min_severity")]
    pub min_severity: Level,
    /// Findings below this confidence are held.
    #[serde(default = "default_min_confidence")]
    pub min_confidence: Level,
    /// Role ARN globs (`*`, `?`) that may be touched; empty: every role not denied.
    #[serde(default)]
    pub allow_roles: Vec<String>,
    /// Role ARN globs never touched (wins over `allow_roles`).
    #[serde(default)]
    pub deny_roles: Vec<String>,
    /// Account ids (or globs) whose roles may be touched; empty: every account not denied.
    #[serde(default)]
    pub allow_accounts: Vec<String>,
    /// Account ids (or globs) never touched.
    #[serde(default)]
    pub deny_accounts: Vec<String>,
    /// A role carrying this tag (any value) is never touched.
    #[serde(default = "default_protect_tag")]
    pub protect_tag: String,
    /// How long a role's tags are trusted before they are read again.
    #[serde(default = "default_tag_cache_seconds")]
    pub tag_cache_seconds: u64,
    /// At most this many revocations in any hour, all roles together.
    #[serde(default = "default_max_per_hour")]
    pub max_per_hour: u32,
    /// At most this many revocations of one role in any hour; absent: only `max_per_hour`.
    #[serde(default)]
    pub max_per_role_per_hour: Option<u32>,
    /// When the role-wide form (every session of the role) may be used; surgical only by default.
    #[serde(default)]
    pub role_wide: RoleWide,
    /// Minutes added to "now" for the revocation cutoff (as `revoke --margin-minutes`).
    #[serde(default = "default_margin_minutes")]
    pub margin_minutes: i64,
    /// Notifications.
    #[serde(default)]
    pub notify: Notify,
}

fn default_min_severity() -> Level {
    Level::Low
}
fn default_min_confidence() -> Level {
    Level::High
}
fn default_protect_tag() -> String {
    "trailhound:protect".into()
}
fn default_tag_cache_seconds() -> u64 {
    60
}
fn default_max_per_hour() -> u32 {
    5
}
fn default_margin_minutes() -> i64 {
    5
}
fn default_timeout_ms() -> u64 {
    2000
}

impl Default for Policy {
    /// The guardrails without `--policy`: high-confidence findings, surgical only, 5 an hour.
    fn default() -> Self {
        Policy {
            min_severity: default_min_severity(),
            min_confidence: default_min_confidence(),
            allow_roles: Vec::new(),
            deny_roles: Vec::new(),
            allow_accounts: Vec::new(),
            deny_accounts: Vec::new(),
            protect_tag: default_protect_tag(),
            tag_cache_seconds: default_tag_cache_seconds(),
            max_per_hour: default_max_per_hour(),
            max_per_role_per_hour: None,
            role_wide: RoleWide::Never,
            margin_minutes: default_margin_minutes(),
            notify: Notify::default(),
        }
    }
}

impl Policy {
    /// Reads and validates the policy file; errors name the file, the key and the line.
    pub fn load(path: &Path) -> anyhow::Result<Policy> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("--policy {}: cannot read it: {e}", path.display()))?;
        Policy::parse(&text).map_err(|e| anyhow::anyhow!("--policy {}: {e}", path.display()))
    }

    /// Parses and validates a policy document.
    pub fn parse(text: &str) -> anyhow::Result<Policy> {
        let p: Policy = toml::from_str(text).map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(p)
    }
}
