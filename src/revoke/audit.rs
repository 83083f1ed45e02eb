//! The local audit log: one JSON line per applied change, with what it replaced, so it can be undone.

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct AuditRecord {
    pub id: String,
    pub time: String,
    /// The AWS principal that made the change (STS GetCallerIdentity).
    pub actor: String,
    /// `put-role-policy`, `delete-role-policy`, `put-user-policy`, `delete-user-policy`,
    /// `deactivate-access-key`, `activate-access-key`.
    pub action: String,
    /// Role or user name.
    pub target: String,
    #[serde(default)]
    pub policy_name: Option<String>,
    #[serde(default)]
    pub access_key_id: Option<String>,
    /// The document (or key status) before the change; `None` when the policy did not exist.
    pub before: Option<String>,
    /// The document (or key status) after the change; `None` when the policy was deleted.
    pub after: Option<String>,
    #[serde(default)]
    pub cutoff: Option<String>,
    /// The change was read back from AWS and matched.
    pub verified: bool,
    #[serde(default)]
    pub rollback_of: Option<String>,
    #[serde(default)]
    pub reasons: Vec<String>,
}

/// An id unique to one change: its time, target and what changed (policy or key), plus the process
/// and a counter, so two changes in the same second never share an id.
pub fn new_id(time: &str, target: &str, detail: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let compact: String = time.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    let nonce = (std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed), std::time::SystemTime::now());
    let h = xxhash_rust::xxh3::xxh3_64(format!("{time}|{target}|{detail}|{nonce:?}").as_bytes());
    format!("rv-{compact}-{h:016x}")
}

pub fn append(path: &Path, rec: &AuditRecord) -> anyhow::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| anyhow::anyhow!("cannot open the audit log {}: {e}", path.display()))?;
    let line = serde_json::to_string(rec)? + "\n";
    f.write_all(line.as_bytes()).map_err(|e| anyhow::anyhow!("cannot write the audit log {}: {e}", path.display()))?;
    f.sync_data().ok();
    Ok(())
}

pub fn find(path: &Path, id: &str) -> anyhow::Result<AuditRecord> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read the audit log {}: {e}", path.display()))?;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let rec: AuditRecord = serde_json::from_str(line)
            .map_err(|e| anyhow::anyhow!("audit log {} line {}: {e}", path.display(), i + 1))?;
        if rec.id == id {
            return Ok(rec);
        }
    }
    anyhow::bail!("no audit record {id} in {}", path.display())
}
