//! The local audit log: JSON Lines, hash-chained. Every change is recorded twice under one id: an
//! `intent` record, written and synced before the IAM call (what is about to change and what it
//! replaces), then its outcome (`applied`, `unverified` or `failed`).
//!
//! The chain: each record's `prev` is `sha256:` and the lowercase hex SHA-256 of the exact bytes of
//! the line before it in the file (without its newline), or of zero bytes for the first line. Editing
//! a record breaks its successor's `prev`; editing a `prev` breaks the record's own link. The chain
//! cannot protect the last line from someone who rewrites it whole: rollback also checks an outcome
//! against its intent (which the outcome's `prev` covers) and what the documents may contain.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

/// Longest line read as a record; longer lines are hashed whole but reported, never parsed (policies
/// are at most 10,240 characters, so a record is far below this).
const MAX_LINE: usize = 1 << 20;

/// Where a record stands in the life of one change.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Written (and synced) before the IAM call: the change may or may not have been made.
    Intent,
    /// Made and read back: IAM holds `after`.
    Applied,
    /// The IAM call succeeded but reading it back failed or did not match: made, not verified.
    Unverified,
    /// The IAM call returned an error (see `error`).
    Failed,
    /// A decision of `trailhound respond` (see `decision`): not a change; its changes have their own ids.
    Decided,
}

/// One line of the audit log.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct AuditRecord {
    /// Shared by a change's intent and outcome records; what `--rollback` takes.
    pub id: String,
    /// When the change was attempted: RFC 3339 UTC, whole seconds.
    pub time: String,
    /// The AWS principal that made the change (STS GetCallerIdentity).
    pub actor: String,
    /// `put-role-policy`, `delete-role-policy`, `put-user-policy`, `delete-user-policy`,
    /// `deactivate-access-key`, `activate-access-key`.
    pub action: String,
    /// Role or user name.
    pub target: String,
    /// The inline policy changed (`AWSRevokeOlderSessions`, `TrailhoundRevokeSessions`); `None` for key changes.
    #[serde(default)]
    pub policy_name: Option<String>,
    /// The long-term key (de)activated; `None` for policy changes.
    #[serde(default)]
    pub access_key_id: Option<String>,
    /// The document (or key status) before the change; `None` when the policy did not exist.
    pub before: Option<String>,
    /// The document (or key status) after the change; `None` when the policy was deleted.
    pub after: Option<String>,
    /// The plan's revocation cutoff (RFC 3339 UTC); `None` for key changes and rollbacks.
    #[serde(default)]
    pub cutoff: Option<String>,
    /// The change was read back from AWS and matched.
    pub verified: bool,
    /// Absent in logs written before intent records existed (those recorded only applied changes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// Why the call or its read-back failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The `id` of the record this change undoes, when it is a rollback.
    #[serde(default)]
    pub rollback_of: Option<String>,
    /// Why the change was made (keys and findings), copied from the plan.
    #[serde(default)]
    pub reasons: Vec<String>,
    /// The decision line of `trailhound respond` (README: Guardrails), on `decided` records only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<serde_json::Value>,
    /// Hash of the previous line (see the module comment); absent in logs written before the chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev: Option<String>,
}

impl Phase {
    /// The name written in the log.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Intent => "intent",
            Phase::Applied => "applied",
            Phase::Unverified => "unverified",
            Phase::Failed => "failed",
            Phase::Decided => "decided",
        }
    }
}

impl AuditRecord {
    /// The phase, reading a record from before phases existed as the applied change it recorded.
    pub fn phase(&self) -> Phase {
        self.phase.unwrap_or(if self.verified { Phase::Applied } else { Phase::Unverified })
    }
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

fn hex_digest(h: Sha256) -> String {
    let mut s = String::from("sha256:");
    for b in h.finalize().iter() {
        s += &format!("{b:02x}");
    }
    s
}

/// The chain value naming a line: `sha256:<hex>` of its exact bytes, without the newline.
pub fn line_hash(bytes: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(bytes);
    hex_digest(h)
}

/// One line as read: its first [`MAX_LINE`] bytes, its full length and hash, and whether a newline
/// ended it (a last line without one is a write that did not finish).
struct RawLine {
    bytes: Vec<u8>,
    len: usize,
    hash: String,
    terminated: bool,
}

/// Reads lines with bounded memory whatever their length.
fn for_each_line(r: impl Read, mut f: impl FnMut(RawLine)) -> std::io::Result<()> {
    let mut r = BufReader::new(r);
    loop {
        let (mut kept, mut hasher, mut len, mut terminated) = (Vec::new(), Sha256::new(), 0usize, false);
        loop {
            let buf = r.fill_buf()?;
            if buf.is_empty() {
                break;
            }
            let (chunk, found) = match memchr::memchr(b'\n', buf) {
                Some(i) => (&buf[..i], true),
                None => (buf, false),
            };
            hasher.update(chunk);
            let room = MAX_LINE.saturating_sub(kept.len());
            kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
            len += chunk.len();
            let used = chunk.len() + usize::from(found);
            r.consume(used);
            if found {
                terminated = true;
                break;
            }
        }
        if len == 0 && !terminated {
            return Ok(());
        }
        f(RawLine { bytes: kept, len, hash: hex_digest(hasher), terminated });
    }
}

/// A line of the log, parsed when it is a record.
#[derive(Debug)]
pub struct Entry {
    /// 1-based line number.
    pub line: usize,
    /// The record; `None` when the line is not one (it is still hashed, so the chain can be checked).
    pub record: Option<AuditRecord>,
    /// `sha256:` and the lowercase hex SHA-256 of the line's exact bytes: what the next record's `prev` must be.
    pub hash: String,
}

/// Whether a record can be trusted to be what was written.
#[derive(Debug, PartialEq, Eq)]
pub enum Integrity {
    /// Its `prev` names the line before it, and the line after it (if any record follows) names it.
    Intact,
    /// Written before the chain existed: nothing vouches for it.
    Unchained,
    /// The chain does not hold around it; why.
    Broken(String),
}

/// The whole log, read once, with what could not be read reported (never silently dropped).
#[derive(Debug, Default)]
pub struct Log {
    /// Every line of the log, in file order.
    pub entries: Vec<Entry>,
    /// Lines that are not records (a torn last write, garbage, over-long lines), in words.
    pub problems: Vec<String>,
}

/// Reads the audit log at `path`.
pub fn read(path: &Path) -> anyhow::Result<Log> {
    let f = File::open(path).map_err(|e| anyhow::anyhow!("cannot read the audit log {}: {e}", path.display()))?;
    let mut log = Log::default();
    let mut n = 0;
    for_each_line(f, |l| {
        n += 1;
        let record = if l.len > MAX_LINE {
            log.problems.push(format!("line {n}: {} bytes, too long to be a record; skipped", l.len));
            None
        } else {
            match serde_json::from_slice::<AuditRecord>(&l.bytes) {
                Ok(r) => Some(r),
                Err(_) if !l.terminated => {
                    log.problems
                        .push(format!("line {n}: torn (its write did not finish, a crash or a full disk); skipped"));
                    None
                }
                Err(e) => {
                    log.problems.push(format!("line {n}: not an audit record ({e}); skipped"));
                    None
                }
            }
        };
        log.entries.push(Entry { line: n, record, hash: l.hash });
    })
    .map_err(|e| anyhow::anyhow!("cannot read the audit log {}: {e}", path.display()))?;
    Ok(log)
}

impl Log {
    /// The chain around entry `i` (which must hold a record).
    pub fn integrity(&self, i: usize) -> Integrity {
        let Some(rec) = self.entries.get(i).and_then(|e| e.record.as_ref()) else {
            return Integrity::Broken("not a record".into());
        };
        let line = self.entries[i].line;
        let Some(prev) = &rec.prev else {
            // Old logs have no chain at all; a record without one after chained records was inserted or
            // had its `prev` removed to pass as old.
            if let Some(e) = self.entries[..i].iter().find(|e| e.record.as_ref().is_some_and(|r| r.prev.is_some())) {
                return Integrity::Broken(format!(
                    "line {line} has no chain field, yet line {} before it has one: it was inserted or edited",
                    e.line
                ));
            }
            return Integrity::Unchained;
        };
        let expected = if i == 0 { line_hash(b"") } else { self.entries[i - 1].hash.clone() };
        if *prev != expected {
            return Integrity::Broken(if i == 0 {
                format!(
                    "line {line} is the first line but its prev does not name an empty log: lines before it were removed, or it was edited"
                )
            } else {
                format!(
                    "line {line}'s prev does not match line {}: one of them was edited, or lines were removed",
                    line - 1
                )
            });
        }
        if let Some(next) = self.entries.get(i + 1).and_then(|e| e.record.as_ref())
            && next.prev.as_deref() != Some(self.entries[i].hash.as_str())
        {
            return Integrity::Broken(format!(
                "line {} does not name line {line} as its predecessor: line {line} was changed after line {} was written",
                line + 1,
                line + 1
            ));
        }
        Integrity::Intact
    }

    /// Indexes of the entries holding records with this id, in file order.
    pub fn find(&self, id: &str) -> Vec<usize> {
        (0..self.entries.len()).filter(|&i| self.entries[i].record.as_ref().is_some_and(|r| r.id == id)).collect()
    }
}

/// The audit log open for appending: locked against other trailhound processes, every record synced
/// to disk before `append` returns.
pub struct Writer {
    path: PathBuf,
    file: File,
    prev: String,
    /// The last line has no newline (a torn write): the next record starts on a new line.
    torn: bool,
    /// Where each line is also written once it is on disk ([`Writer::echo_to`]).
    echo: Option<Box<dyn Write + Send>>,
}

/// What starts each line [`Writer::echo_to`] writes: `sed -n 's/^trailhound-audit //p'` gives back
/// the log itself.
pub const ECHO_PREFIX: &str = "trailhound-audit ";

impl Writer {
    /// Opens (creating it if missing) and checks the log before anything changes: it must be a regular
    /// file, openable for appending, lockable and syncable; the chain continues from its last line.
    pub fn open(path: &Path) -> anyhow::Result<Writer> {
        let show = path.display();
        if let Ok(m) = std::fs::metadata(path)
            && !m.is_file()
        {
            let kind = if m.is_dir() { "a directory" } else { "not a regular file" };
            anyhow::bail!(
                "the audit log {show} is {kind}: a change that cannot be recorded cannot be rolled back, so nothing \
                 was changed. Give --audit-log a regular file"
            );
        }
        let existed = path.exists();
        let file =
            std::fs::OpenOptions::new().read(true).append(true).create(true).open(path).map_err(|e| {
                anyhow::anyhow!("cannot open the audit log {show} for writing ({e}); nothing was changed")
            })?;
        match file.try_lock() {
            Ok(()) => {}
            // A file system without locks (some network mounts) still records; only a held lock stops.
            Err(std::fs::TryLockError::Error(e)) if e.kind() == std::io::ErrorKind::Unsupported => {}
            Err(e) => anyhow::bail!(
                "cannot lock the audit log {show} ({e}): another trailhound is using it; nothing was changed"
            ),
        }
        let (mut prev, mut torn) = (line_hash(b""), false);
        for_each_line(&file, |l| {
            prev = l.hash;
            torn = !l.terminated;
        })
        .map_err(|e| anyhow::anyhow!("cannot read the audit log {show} ({e}); nothing was changed"))?;
        file.sync_all().map_err(|e| anyhow::anyhow!("cannot sync the audit log {show} ({e}); nothing was changed"))?;
        if !existed {
            // A new file's name is durable only once its directory is synced. Some file systems refuse
            // to sync a directory: the record itself is synced either way.
            let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(Writer { path: path.to_owned(), file, prev, torn, echo: None })
    }

    /// Also writes every line, once it is on disk, to `out` after [`ECHO_PREFIX`]. For a log whose file
    /// does not outlive the process (Lambda's /tmp): the function's log then holds every line, in
    /// order, and those lines rebuild a file whose chain verifies, for `revoke --rollback`.
    pub fn echo_to(&mut self, out: Box<dyn Write + Send>) {
        self.echo = Some(out);
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The chain value of the last line written: note it elsewhere to detect a rewritten tail later.
    pub fn head(&self) -> &str {
        &self.prev
    }

    /// Chains, writes and syncs one record; returns only once it is on disk.
    pub fn append(&mut self, rec: &mut AuditRecord) -> anyhow::Result<()> {
        rec.prev = Some(self.prev.clone());
        // Records carry log text (a decision's finding): written inert, so neither the file nor its
        // echo can act on a terminal; the chain hashes the bytes as written.
        let line = crate::report::escape::json_inert(serde_json::to_string(rec)?);
        let mut buf = Vec::with_capacity(line.len() + 2);
        if self.torn {
            buf.push(b'\n');
        }
        buf.extend_from_slice(line.as_bytes());
        buf.push(b'\n');
        let show = self.path.display();
        (&self.file)
            .write_all(&buf)
            .and_then(|()| (&self.file).flush())
            .map_err(|e| anyhow::anyhow!("cannot write the audit log {show}: {e}"))?;
        self.file.sync_data().map_err(|e| anyhow::anyhow!("cannot sync the audit log {show}: {e}"))?;
        self.prev = line_hash(line.as_bytes());
        self.torn = false;
        if let Some(out) = &mut self.echo {
            // The record is on disk: a copy that cannot be written is said, and the change goes on.
            if let Err(e) = writeln!(out, "{ECHO_PREFIX}{line}").and_then(|()| out.flush()) {
                tracing::warn!("the copy of audit record {} was not written: {e}", rec.id);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str, phase: Phase) -> AuditRecord {
        AuditRecord {
            id: id.into(),
            time: "2026-11-23T10:00:00Z".into(),
            actor: "arn:aws:iam::123456789012:user/responder".into(),
            action: "put-role-policy".into(),
            target: "web".into(),
            policy_name: Some("TrailhoundRevokeSessions".into()),
            access_key_id: None,
            before: None,
            after: Some("{}".into()),
            cutoff: None,
            verified: phase == Phase::Applied,
            phase: Some(phase),
            error: None,
            rollback_of: None,
            reasons: vec![],
            decision: None,
            prev: None,
        }
    }

    fn write_log(dir: &tempfile::TempDir, n: usize) -> PathBuf {
        let p = dir.path().join("audit.jsonl");
        let mut w = Writer::open(&p).unwrap();
        for i in 0..n {
            w.append(&mut rec(&format!("rv-{i}"), Phase::Intent)).unwrap();
            w.append(&mut rec(&format!("rv-{i}"), Phase::Applied)).unwrap();
        }
        p
    }

    #[test]
    fn chain_holds_across_writers_and_names_the_previous_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = write_log(&dir, 2);
        // A second process continues the chain from the last line.
        Writer::open(&p).unwrap().append(&mut rec("rv-9", Phase::Intent)).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let first: AuditRecord = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(first.prev.unwrap(), "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        let third: AuditRecord = serde_json::from_str(lines[2]).unwrap();
        assert_eq!(third.prev.unwrap(), line_hash(lines[1].as_bytes()));
        let log = read(&p).unwrap();
        assert!(log.problems.is_empty());
        assert!((0..5).all(|i| log.integrity(i) == Integrity::Intact));
        assert_eq!(log.find("rv-1"), vec![2, 3]);
    }

    #[test]
    fn an_edited_record_breaks_the_chain_on_both_sides() {
        let dir = tempfile::tempdir().unwrap();
        let p = write_log(&dir, 2);
        let text = std::fs::read_to_string(&p).unwrap();
        let edited = text.replacen(r#""after":"{}""#, r#""after":"{\"Effect\":\"Allow\"}""#, 2);
        std::fs::write(&p, edited).unwrap();
        let log = read(&p).unwrap();
        // Lines 1 and 2 were edited: line 1 is refused by line 2's link, line 2 by its own and line 3's.
        assert!(matches!(log.integrity(0), Integrity::Broken(m) if m.contains("line 2 does not name line 1")));
        assert!(matches!(log.integrity(1), Integrity::Broken(_)));
        assert!(matches!(log.integrity(2), Integrity::Broken(m) if m.contains("does not match line 2")));
        assert_eq!(log.integrity(3), Integrity::Intact);
    }

    #[test]
    fn a_torn_last_line_is_reported_and_skipped_and_the_next_record_starts_a_new_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = write_log(&dir, 1);
        let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(br#"{"id":"rv-torn","time":"2026-"#).unwrap();
        let log = read(&p).unwrap();
        assert_eq!(log.problems.len(), 1);
        assert!(log.problems[0].contains("line 3: torn"), "{:?}", log.problems);
        assert_eq!(log.integrity(1), Integrity::Intact);
        Writer::open(&p).unwrap().append(&mut rec("rv-next", Phase::Intent)).unwrap();
        let log = read(&p).unwrap();
        assert_eq!(log.entries.len(), 4);
        assert!(log.problems[0].contains("line 3: not an audit record"), "{:?}", log.problems);
        assert_eq!(log.integrity(3), Integrity::Intact, "the chain runs over the torn line's exact bytes");
    }

    #[test]
    fn old_records_are_unchained_and_a_record_stripped_of_its_chain_is_broken() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("old.jsonl");
        let old = serde_json::to_string(&AuditRecord { phase: None, ..rec("rv-old", Phase::Applied) }).unwrap();
        std::fs::write(&p, format!("{old}\n")).unwrap();
        assert_eq!(read(&p).unwrap().integrity(0), Integrity::Unchained);
        Writer::open(&p).unwrap().append(&mut rec("rv-new", Phase::Intent)).unwrap();
        let log = read(&p).unwrap();
        assert_eq!(log.integrity(1), Integrity::Intact);
        assert_eq!(log.entries[0].record.as_ref().unwrap().phase(), Phase::Applied);
        let mut stripped = std::fs::read_to_string(&p).unwrap();
        stripped += &old;
        stripped += "\n";
        std::fs::write(&p, stripped).unwrap();
        assert!(matches!(read(&p).unwrap().integrity(2), Integrity::Broken(m) if m.contains("no chain field")));
    }

    #[test]
    fn a_directory_or_device_is_refused_before_anything_changes() {
        let dir = tempfile::tempdir().unwrap();
        let e = Writer::open(dir.path()).err().unwrap().to_string();
        assert!(e.contains("is a directory") && e.contains("nothing was changed"), "{e}");
        let e = Writer::open(Path::new("/dev/full")).err().unwrap().to_string();
        assert!(e.contains("not a regular file"), "{e}");
    }
}
