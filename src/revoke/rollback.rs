//! Rollback: a change too. Planned from an audit record whose integrity is checked and from what IAM
//! holds now, shown with both documents, confirmed, then made like any other change (intent, call,
//! read-back, outcome).

use super::apply::{Step, execute};
use super::audit::{self, AuditRecord, Integrity, Phase, Writer};
use super::iam::{Holder, Iam};
use super::policy;
use super::render::{key_command, policy_command, show_document};
use crate::report::escape::term;
use chrono::{DateTime, Utc};
use std::fmt::Write as _;
use std::path::Path;

/// Explicit consents a rollback may need.
#[derive(Clone, Copy, Debug, Default)]
pub struct RollbackOptions {
    /// Undoing a `deactivate-access-key` reactivates a key deactivated because it was compromised.
    pub reactivate_compromised_key: bool,
    /// Roll back a record from before the audit log had a hash chain (nothing vouches for it).
    pub accept_unverifiable_record: bool,
}

/// What a rollback restores.
#[derive(Clone, Debug)]
pub enum Undo {
    /// Put back (or delete) an inline policy.
    Policy {
        /// `role` or `user`.
        kind: &'static str,
        /// The inline policy the change wrote or deleted.
        policy_name: String,
        /// What IAM holds now (what the change wrote).
        current: Option<String>,
        /// What the change replaced, to be put back (`None`: delete the policy).
        restore: Option<String>,
    },
    /// Set a key's status back.
    Key {
        /// The long-term key (`AKIA...`) whose status the change set.
        key: String,
        /// The status to set back.
        active: bool,
    },
}

/// A rollback, planned and not yet made.
#[derive(Clone, Debug)]
pub struct RollbackPlan {
    /// The record of the change to undo (its outcome, or its intent when no outcome was recorded).
    pub record: AuditRecord,
    /// Its line in the log.
    pub line: usize,
    /// Things the responder must know before confirming (unverifiable record, unknown outcome).
    pub notes: Vec<String>,
    /// Lines of the log that could not be read (reported, skipped).
    pub log_problems: Vec<String>,
    /// The change that undoes it.
    pub undo: Undo,
}

fn rec_at(log: &audit::Log, i: usize) -> Option<&AuditRecord> {
    log.entries.get(i).and_then(|e| e.record.as_ref())
}

/// Reads the record `id` from the log, checks it and what IAM holds now, and plans its undoing.
/// Changes nothing.
pub async fn plan_rollback(iam: &Iam, path: &Path, id: &str, opts: &RollbackOptions) -> anyhow::Result<RollbackPlan> {
    let log = audit::read(path)?;
    let show = path.display();
    let found = log.find(id);
    let intent = found.iter().copied().find(|&i| rec_at(&log, i).is_some_and(|r| r.phase() == Phase::Intent));
    let outcome = found.iter().copied().rev().find(|&i| rec_at(&log, i).is_some_and(|r| r.phase() != Phase::Intent));
    let Some(chosen) = outcome.or(intent) else {
        let skipped = if log.problems.is_empty() {
            String::new()
        } else {
            format!(" (lines not read: {})", log.problems.join("; "))
        };
        anyhow::bail!("no audit record {id} in {show}{skipped}");
    };
    let mut notes = Vec::new();
    for i in [Some(chosen), intent].into_iter().flatten() {
        let line = log.entries[i].line;
        match log.integrity(i) {
            Integrity::Intact => {}
            Integrity::Unchained if opts.accept_unverifiable_record => notes.push(format!(
                "line {line} was written before the audit log had a hash chain: unverifiable, rolled back only because \
                 of --accept-unverifiable-record"
            )),
            Integrity::Unchained => anyhow::bail!(
                "audit record {id} (line {line} of {show}) was written before the audit log had a hash chain: nothing \
                 shows it is what was written. Compare its documents with a copy you trust, then add \
                 --accept-unverifiable-record to roll it back anyway; nothing was changed"
            ),
            Integrity::Broken(why) => anyhow::bail!(
                "audit record {id} (line {line} of {show}) fails the audit log's hash chain: {why}. Refusing to roll \
                 back from a record that may have been edited; nothing was changed. Restore by hand from a copy of the \
                 log you trust"
            ),
        }
    }
    let rec = rec_at(&log, chosen).cloned().ok_or_else(|| anyhow::anyhow!("audit record {id} vanished"))?;
    if let Some(int) = intent.and_then(|i| rec_at(&log, i)).filter(|_| intent != Some(chosen)) {
        // The intent is covered by the chain of every line after it; the outcome may be the last line,
        // which nothing covers: they must say the same.
        let same = int.action == rec.action
            && int.target == rec.target
            && int.policy_name == rec.policy_name
            && int.access_key_id == rec.access_key_id
            && int.before == rec.before
            && int.after == rec.after;
        if !same {
            anyhow::bail!(
                "audit record {id}: its outcome (line {}) does not describe the change its intent (line {}) announced: \
                 one was edited. Refusing; nothing was changed",
                log.entries[chosen].line,
                intent.map_or(0, |i| log.entries[i].line)
            );
        }
    }
    match rec.phase() {
        Phase::Failed => anyhow::bail!(
            "audit record {id} records a change IAM refused ({}): there is nothing to roll back",
            rec.error.as_deref().unwrap_or("no error recorded")
        ),
        Phase::Intent => notes.push(
            "the outcome of this change was never recorded (a crash, or the log could not be written): planned from \
             what IAM holds now"
                .into(),
        ),
        Phase::Unverified => notes.push("the change was made but never verified".into()),
        Phase::Decided => anyhow::bail!(
            "audit record {id} records a decision of trailhound respond, not a change: roll back its changes by the \
             ids in its audit_ids"
        ),
        Phase::Applied => {}
    }
    let undo = match rec.action.as_str() {
        a @ ("put-role-policy" | "delete-role-policy" | "put-user-policy" | "delete-user-policy") => {
            let policy_name =
                rec.policy_name.clone().ok_or_else(|| anyhow::anyhow!("audit record {id} names no policy"))?;
            let holder =
                if a.ends_with("-role-policy") { Holder::Role(&rec.target) } else { Holder::User(&rec.target) };
            let (back, dropped) = policy::foreign_statements(rec.before.as_deref(), rec.after.as_deref())
                .map_err(|e| anyhow::anyhow!("audit record {id}: a document in it is not a policy ({e}); refusing"))?;
            if !back.is_empty() || !dropped.is_empty() {
                let mut what = Vec::new();
                if !back.is_empty() {
                    what.push(format!("put back statements the change did not keep: {}", back.join(", ")));
                }
                if !dropped.is_empty() {
                    what.push(format!("drop statements the change did not add: {}", dropped.join(", ")));
                }
                anyhow::bail!(
                    "audit record {id}: restoring its before document would {}. trailhound only adds and drops its \
                     own deny statements, so the record was edited; refusing to change {} {}; nothing was changed",
                    term(&what.join("; and ")),
                    holder.kind(),
                    rec.target
                );
            }
            let current = iam.inline_policy(holder, &policy_name).await?;
            let matches = |doc: &Option<String>| match (&current, doc) {
                (None, None) => true,
                (Some(a), Some(b)) => policy::same_document(a, b),
                _ => false,
            };
            if !matches(&rec.after) {
                if rec.phase() == Phase::Intent && matches(&rec.before) {
                    anyhow::bail!("the change {id} announced was never made: IAM holds what it would have replaced");
                }
                anyhow::bail!(
                    "{} {} policy {policy_name} changed after {id}: restoring the old document would undo those later \
                     changes too; nothing was changed. Compare the audit record with IAM and restore by hand",
                    holder.kind(),
                    rec.target
                );
            }
            Undo::Policy { kind: holder.kind(), policy_name, current, restore: rec.before.clone() }
        }
        a @ ("deactivate-access-key" | "activate-access-key") => {
            let key = rec.access_key_id.clone().ok_or_else(|| anyhow::anyhow!("audit record {id} names no key"))?;
            let reactivate = a == "deactivate-access-key";
            if reactivate && !opts.reactivate_compromised_key {
                anyhow::bail!(
                    "audit record {id} deactivated access key {key} of user {} because it was compromised: rolling it \
                     back would make the stolen key work again. Rotate it instead (create a new key, move the workload \
                     to it, delete this one). If you really mean to reactivate it, add --reactivate-compromised-key; \
                     nothing was changed",
                    rec.target
                );
            }
            let now = iam.key_status(&rec.target, &key).await?;
            let left = if reactivate { "Inactive" } else { "Active" };
            if now.as_deref() != Some(left) {
                anyhow::bail!(
                    "access key {key} of user {} is {} now, not {left} as {id} left it; nothing was changed",
                    rec.target,
                    now.as_deref().unwrap_or("gone")
                );
            }
            Undo::Key { key, active: reactivate }
        }
        other => anyhow::bail!("audit record {id} ({other}) cannot be rolled back"),
    };
    Ok(RollbackPlan { record: rec, line: log.entries[chosen].line, notes, log_problems: log.problems, undo })
}

/// The rollback for a person: the record, both documents pretty-printed, the command.
pub fn render(plan: &RollbackPlan, path: &Path) -> String {
    let r = &plan.record;
    let mut s = String::new();
    let _ = writeln!(s, "Rollback of audit id {} (line {} of {}):", term(&r.id), plan.line, path.display());
    let _ = writeln!(
        s,
        "  the change: {} on {} at {} by {} ({}{})",
        term(&r.action),
        term(&r.target),
        term(&r.time),
        term(&r.actor),
        r.phase().as_str(),
        if r.verified { ", verified" } else { "" }
    );
    for why in &r.reasons {
        let _ = writeln!(s, "  its reason: {}", term(why));
    }
    if plan.notes.is_empty() {
        let _ = writeln!(s, "  record integrity: the hash chain holds around it");
    }
    for n in &plan.notes {
        let _ = writeln!(s, "  note: {}", term(n));
    }
    match &plan.undo {
        Undo::Policy { kind, policy_name, current, restore } => {
            let _ = writeln!(s, "  {} {}, inline policy {}:", kind, term(&r.target), term(policy_name));
            match current {
                Some(d) => {
                    let _ = writeln!(s, "    document now (what the change wrote):\n{}", show_document(d, "      "));
                }
                None => s += "    document now: none (the change deleted the policy)\n",
            }
            match restore {
                Some(d) => {
                    let _ = writeln!(
                        s,
                        "    document after the rollback (what the change replaced):\n{}",
                        show_document(d, "      ")
                    );
                }
                None => s += "    after the rollback: the policy is deleted (it did not exist before the change)\n",
            }
            let _ =
                writeln!(s, "  command: {}", term(&policy_command(kind, &r.target, policy_name, restore.as_deref())));
        }
        Undo::Key { key, active } => {
            let (from, to) = if *active { ("Inactive", "Active") } else { ("Active", "Inactive") };
            let _ = writeln!(s, "  access key {} of user {}: {from} -> {to}", term(key), term(&r.target));
            if *active {
                s += "  WARNING: this reactivates a key that was deactivated because it was compromised.\n";
            }
            let _ = writeln!(s, "  command: {}", term(&key_command(&r.target, key, to)));
        }
    }
    s
}

/// Makes the planned rollback (after checking IAM still holds what the plan saw) and records it.
pub async fn apply_rollback(
    iam: &Iam,
    plan: &RollbackPlan,
    log: &mut Writer,
    now: DateTime<Utc>,
) -> anyhow::Result<AuditRecord> {
    let r = &plan.record;
    let actor = iam.caller().await.unwrap_or_else(|e| format!("unknown ({e})"));
    let time = policy::iso(now);
    let mut rec = AuditRecord {
        id: audit::new_id(&time, &r.target, &format!("rollback {}", r.id)),
        time,
        actor,
        action: String::new(),
        target: r.target.clone(),
        policy_name: r.policy_name.clone(),
        access_key_id: r.access_key_id.clone(),
        before: None,
        after: None,
        cutoff: None,
        verified: false,
        phase: None,
        error: None,
        rollback_of: Some(r.id.clone()),
        reasons: vec![format!("rollback of {}", r.id)],
        decision: None,
        prev: None,
    };
    match &plan.undo {
        Undo::Policy { kind, policy_name, current, restore } => {
            let holder = if *kind == "role" { Holder::Role(&r.target) } else { Holder::User(&r.target) };
            let now_there = iam.inline_policy(holder, policy_name).await?;
            let unchanged = match (&now_there, current) {
                (None, None) => true,
                (Some(a), Some(b)) => policy::same_document(a, b),
                _ => false,
            };
            if !unchanged {
                anyhow::bail!(
                    "{kind} {} policy {policy_name} changed since the rollback was planned; nothing was changed",
                    r.target
                );
            }
            rec.action = format!("{}-{kind}-policy", if restore.is_some() { "put" } else { "delete" });
            rec.before = current.clone();
            rec.after = restore.clone();
            execute(iam, log, rec, Step::Policy { holder, policy_name, doc: restore.as_deref() }).await
        }
        Undo::Key { key, active } => {
            let (from, to) = if *active { ("Inactive", "Active") } else { ("Active", "Inactive") };
            rec.action = format!("{}-access-key", if *active { "activate" } else { "deactivate" });
            rec.before = Some(from.into());
            rec.after = Some(to.into());
            execute(iam, log, rec, Step::KeyStatus { user: &r.target, key, active: *active }).await
        }
    }
}
