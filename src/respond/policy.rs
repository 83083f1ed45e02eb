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
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
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

impl Default for Notify {
    fn default() -> Self {
        Notify { sns_topic: None, webhook: None, timeout_ms: default_timeout_ms() }
    }
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
    /// How long after a revocation failed, or was held by a limit or by tags that could not be read,
    /// its finding is decided again, changed or not.
    #[serde(default = "default_retry_seconds")]
    pub retry_seconds: u64,
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
fn default_retry_seconds() -> u64 {
    300
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
            retry_seconds: default_retry_seconds(),
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

    /// Parses and validates a policy document (errors name the key and the line).
    pub fn parse(text: &str) -> anyhow::Result<Policy> {
        // toml's message already names the line, the column and, for unknown keys, the keys allowed.
        let p: Policy = toml::from_str(text).map_err(|e| anyhow::anyhow!("{}", e.to_string().trim_end()))?;
        p.validate().map_err(|(table, key, why)| {
            let at = line_of(text, table, key).map(|n| format!(" (line {n})")).unwrap_or_default();
            let key = table.map_or_else(|| key.to_owned(), |t| format!("{t}.{key}"));
            anyhow::anyhow!("key `{key}`{at}: {why}")
        })?;
        Ok(p)
    }

    /// Checks what serde cannot: patterns, ranges, URLs. Errors are (table, key, why).
    fn validate(&self) -> Result<(), (Option<&'static str>, &'static str, String)> {
        let top = |key: &'static str, why: String| (None, key, why);
        if self.min_confidence == Level::Critical {
            return Err(top(
                "min_confidence",
                "confidence is `low`, `medium` or `high`; `critical` is a severity".into(),
            ));
        }
        for (key, pats) in [("allow_roles", &self.allow_roles), ("deny_roles", &self.deny_roles)] {
            if let Some(p) = pats.iter().find(|p| !is_role_pattern(p)) {
                return Err(top(
                    key,
                    format!(
                        "{p:?} is not a role ARN pattern: arn:aws:iam::ACCOUNT:role/NAME, with * (any run) and ? (one \
                         character) as wildcards, or \"*\""
                    ),
                ));
            }
        }
        for (key, pats) in [("allow_accounts", &self.allow_accounts), ("deny_accounts", &self.deny_accounts)] {
            if let Some(p) = pats.iter().find(|p| !is_account_pattern(p)) {
                return Err(top(key, format!("{p:?} is not an account id (12 digits; * and ? as wildcards)")));
            }
        }
        let tag = self.protect_tag.as_str();
        if tag.is_empty() || tag.chars().count() > 128 || tag.chars().any(|c| c.is_control()) {
            return Err(top("protect_tag", format!("{tag:?} is not an IAM tag key (1 to 128 printable characters)")));
        }
        if self.tag_cache_seconds > 3600 {
            return Err(top(
                "tag_cache_seconds",
                format!("{} is over 3600: a protection added must count within the hour", self.tag_cache_seconds),
            ));
        }
        if !(60..=3600).contains(&self.retry_seconds) {
            return Err(top(
                "retry_seconds",
                format!(
                    "{} is not 60 to 3600: a failed revocation is tried again within the hour, and not at every batch",
                    self.retry_seconds
                ),
            ));
        }
        if self.max_per_hour == 0 {
            return Err(top("max_per_hour", "0 would never act: leave out --apply for a dry run instead".into()));
        }
        if let Some(n) = self.max_per_role_per_hour {
            if n == 0 {
                return Err(top(
                    "max_per_role_per_hour",
                    "0 would never act: use deny_roles to leave roles alone".into(),
                ));
            }
            if n > self.max_per_hour {
                return Err(top(
                    "max_per_role_per_hour",
                    format!("{n} is over max_per_hour ({}), which always limits first", self.max_per_hour),
                ));
            }
        }
        if !(0..=60).contains(&self.margin_minutes) {
            return Err(top("margin_minutes", format!("{} is outside 0 to 60", self.margin_minutes)));
        }
        let n = &self.notify;
        let in_notify = |key: &'static str, why: String| (Some("notify"), key, why);
        if let Some(t) = &n.sns_topic {
            let parts: Vec<&str> = t.split(':').collect();
            if parts.len() != 6 || parts[0] != "arn" || parts[2] != "sns" || parts[5].is_empty() {
                return Err(in_notify(
                    "sns_topic",
                    format!("{t:?} is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)"),
                ));
            }
        }
        if let Some(u) = &n.webhook {
            webhook_uri(u).map_err(|why| in_notify("webhook", why))?;
        }
        if !(1..=30_000).contains(&n.timeout_ms) {
            return Err(in_notify("timeout_ms", format!("{} is outside 1 to 30000", n.timeout_ms)));
        }
        Ok(())
    }

    /// Whether the role may be touched: (rule, why) of the first rule that forbids it.
    pub fn role_allowed(&self, role_arn: &str) -> Result<(), (&'static str, String)> {
        let account = crate::revoke::iam::account_of(role_arn);
        if let Some(p) = self.deny_accounts.iter().find(|p| glob(p, account)) {
            return Err(("deny_accounts", format!("account {account} of {role_arn} matches {p:?}")));
        }
        if !self.allow_accounts.is_empty() && !self.allow_accounts.iter().any(|p| glob(p, account)) {
            return Err(("allow_accounts", format!("account {account} of {role_arn} is not in allow_accounts")));
        }
        // IAM role names are unique regardless of case: a deny-list entry must not be dodged by case.
        let lower = role_arn.to_ascii_lowercase();
        if let Some(p) = self.deny_roles.iter().find(|p| glob(&p.to_ascii_lowercase(), &lower)) {
            return Err(("deny_roles", format!("{role_arn} matches {p:?}")));
        }
        if !self.allow_roles.is_empty() && !self.allow_roles.iter().any(|p| glob(p, role_arn)) {
            return Err(("allow_roles", format!("{role_arn} matches no allow_roles pattern")));
        }
        Ok(())
    }
}

/// The webhook URL, checked: `http` or `https`, with a host.
pub fn webhook_uri(u: &str) -> Result<hyper::Uri, String> {
    let uri: hyper::Uri = u.parse().map_err(|e| format!("not a URL ({e})"))?;
    match uri.scheme_str() {
        Some("http" | "https") if uri.host().is_some_and(|h| !h.is_empty()) => Ok(uri),
        _ => Err("not an http:// or https:// URL with a host".into()),
    }
}

fn is_role_pattern(p: &str) -> bool {
    p == "*" || (p.starts_with("arn:") && p.chars().all(|c| c.is_ascii_graphic()))
}

fn is_account_pattern(p: &str) -> bool {
    !p.is_empty()
        && p.chars().all(|c| c.is_ascii_digit() || c == '*' || c == '?')
        && (p.contains(['*', '?']) || p.len() == 12)
}

/// IAM-style wildcard match: `*` any run of characters (`/` and `:` included), `?` one character.
/// Linear backtracking on the last `*`, so a hostile ARN cannot make it blow up.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while j < t.len() {
        if i < p.len() && (p[i] == '?' || p[i] == t[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(s) = star {
            i = s + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    p[i..].iter().all(|&c| c == '*')
}

/// The 1-based line where `key` is set, inside `[table]` when given.
fn line_of(text: &str, table: Option<&str>, key: &str) -> Option<usize> {
    let mut current: Option<String> = None;
    for (n, line) in text.lines().enumerate() {
        let l = line.trim();
        if let Some(t) = l.strip_prefix('[') {
            current = Some(t.trim_end_matches(']').trim().to_owned());
            continue;
        }
        let dotted = table.map(|t| format!("{t}.{key}"));
        let name = l.split('=').next().unwrap_or("").trim().trim_matches('"');
        let here = match table {
            None => current.is_none() && name == key,
            Some(t) => {
                (current.as_deref() == Some(t) && name == key) || (current.is_none() && Some(name) == dotted.as_deref())
            }
        };
        if here && l.contains('=') {
            return Some(n + 1);
        }
    }
    None
}
