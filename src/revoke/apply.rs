//! Making changes: each one recorded before it is made (intent), made, read back, and its outcome
//! recorded. Shared by `--apply` and `--rollback`.

use super::audit::{AuditRecord, Phase, Writer};
use super::iam::{Holder, Iam, RoleInfo};
use super::{Change, Plan, policy};
use crate::aws::AwsError;
use chrono::{DateTime, Utc};

/// A change that was made in IAM but could not be confirmed (its read-back failed or did not match,
/// or its outcome could not be recorded): the caller exits with [`crate::exit::UNVERIFIED`].
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unverified(pub String);

/// What `apply` did: the changes made and verified, and the failure that stopped it, if any (changes
/// after a failure are not attempted).
pub struct Applied {
    /// Outcome records of the changes made and verified, in order.
    pub records: Vec<AuditRecord>,
    /// What stopped it ([`Unverified`] when a change was made but not confirmed).
    pub failure: Option<anyhow::Error>,
}

/// One IAM change.
#[derive(Clone, Copy)]
pub(super) enum Step<'a> {
    /// Put `doc` as the inline policy, or delete the policy for `None`.
    Policy {
        holder: Holder<'a>,
        policy_name: &'a str,
        doc: Option<&'a str>,
    },
    KeyStatus {
        user: &'a str,
        key: &'a str,
        active: bool,
    },
}

impl Step<'_> {
    fn describe(&self, action: &str) -> String {
        match self {
            Step::Policy { holder, policy_name, .. } => {
                format!("{action} on {} {} (policy {policy_name})", holder.kind(), holder.name())
            }
            Step::KeyStatus { user, key, .. } => format!("{action} of key {key} (user {user})"),
        }
    }

    fn check_command(&self) -> String {
        match self {
            Step::Policy { holder, policy_name, .. } => format!(
                "aws iam get-{0}-policy --{0}-name {1} --policy-name {2}",
                holder.kind(),
                crate::report::escape::shell(holder.name()),
                crate::report::escape::shell(policy_name)
            ),
            Step::KeyStatus { user, .. } => {
                format!("aws iam list-access-keys --user-name {}", crate::report::escape::shell(user))
            }
        }
    }
}

/// Whether IAM holds what the step writes.
async fn read_back(iam: &Iam, step: Step<'_>) -> Result<bool, AwsError> {
    match step {
        Step::Policy { holder, policy_name, doc } => {
            iam.inline_policy(holder, policy_name).await.map(|now| match (now.as_deref(), doc) {
                (Some(a), Some(b)) => policy::same_document(a, b),
                (None, None) => true,
                _ => false,
            })
        }
        Step::KeyStatus { user, key, active } => {
            iam.key_status(user, key).await.map(|s| s.as_deref() == Some(if active { "Active" } else { "Inactive" }))
        }
    }
}

/// An AWS error without the "nothing was changed by this call" of a refused call: after a change that
/// succeeded, it would read as if the change had not been made.
fn read_back_error(e: &AwsError) -> String {
    let msg = e.message.trim_end_matches("; nothing was changed by this call");
    format!("{} on {}: {msg}", e.operation, e.target)
}

/// Records the intent, makes the change, reads it back and records the outcome. `rec` describes the
/// change (its `phase`, `verified`, `error` and `prev` are set here).
pub(super) async fn execute(
    iam: &Iam,
    log: &mut Writer,
    mut rec: AuditRecord,
    step: Step<'_>,
) -> anyhow::Result<AuditRecord> {
    let what = step.describe(&rec.action);
    let (id, path) = (rec.id.clone(), log.path().display().to_string());
    rec.phase = Some(Phase::Intent);
    rec.verified = false;
    rec.error = None;
    log.append(&mut rec.clone()).map_err(|e| anyhow::anyhow!("{e}; {what} was not applied"))?;
    let made = match step {
        Step::Policy { holder, policy_name, doc: Some(d) } => iam.put_inline_policy(holder, policy_name, d).await,
        Step::Policy { holder, policy_name, doc: None } => iam.delete_inline_policy(holder, policy_name).await,
        Step::KeyStatus { user, key, active } => iam.set_key_status(user, key, active).await,
    };
    let read = match made {
        Ok(()) => read_back(iam, step).await,
        Err(e) => {
            // No answer (a timeout, a dropped connection): IAM may have made the change. What it
            // holds now tells: made, or not (a failure, tried again later). Unreadable, it is
            // unverified, so nothing retries it blindly (a retry after a person rolled it back would
            // apply it again).
            let now = if e.code.is_empty() { Some(read_back(iam, step).await) } else { None };
            if let Some(Ok(true)) = now {
                Ok(true)
            } else {
                let mut out = AuditRecord { phase: Some(Phase::Failed), error: Some(e.to_string()), ..rec };
                let noted = match log.append(&mut out) {
                    Ok(()) => format!("recorded as failed in {path} (audit id {id})"),
                    Err(le) => {
                        format!("the failure could not be recorded ({le}); the intent is in {path} (audit id {id})")
                    }
                };
                if let Some(Err(re)) = now {
                    return Err(Unverified(format!(
                        "{e}; {noted}. The request did not complete and reading back failed too ({}), so IAM may \
                         or may not have made the change: check with {}",
                        read_back_error(&re),
                        step.check_command()
                    ))
                    .into());
                }
                anyhow::bail!("{e}; {noted}");
            }
        }
    };
    let (verified, error) = match read {
        Ok(true) => (true, None),
        Ok(false) => (false, Some("read back, IAM holds something other than what was written".to_owned())),
        Err(e) => (false, Some(format!("reading it back failed: {}", read_back_error(&e)))),
    };
    let phase = if verified { Phase::Applied } else { Phase::Unverified };
    let mut out = AuditRecord { phase: Some(phase), verified, error: error.clone(), ..rec };
    if let Err(e) = log.append(&mut out) {
        return Err(Unverified(format!(
            "{what}: the change was made{} but its outcome could not be recorded ({e}). The intent record (audit id \
             {id}) in {path} holds what it replaced: undo with trailhound revoke --rollback {id}",
            if verified { " and verified" } else { ", not verified," }
        ))
        .into());
    }
    if let Some(why) = error {
        return Err(Unverified(format!(
            "{what}: applied, NOT verified ({why}). The change was made; recorded in {path} as audit id {id} (phase \
             unverified). Check it with: {}; undo with: trailhound revoke --rollback {id}",
            step.check_command()
        ))
        .into());
    }
    Ok(out)
}

/// Applies every change of the plan in order: re-reads what it replaces (to not overwrite a change
/// made since the plan), records the intent, makes the change, reads it back and records the outcome.
/// Stops at the first failure; what was applied before it stays applied and recorded.
pub async fn apply(iam: &Iam, plan: &Plan, log: &mut Writer, now: DateTime<Utc>) -> Applied {
    let mut records = Vec::new();
    let failure = apply_each(iam, plan, log, now, &mut records).await.err().map(|e| {
        let left = plan.changes.iter().filter(|c| !c.is_noop()).count().saturating_sub(records.len() + 1);
        if left == 0 { e } else { e.context(format!("the plan's {left} later change(s) were not attempted")) }
    });
    Applied { records, failure }
}

async fn apply_each(
    iam: &Iam,
    plan: &Plan,
    log: &mut Writer,
    now: DateTime<Utc>,
    records: &mut Vec<AuditRecord>,
) -> anyhow::Result<()> {
    let actor = iam.caller().await.unwrap_or_else(|e| format!("unknown ({e})"));
    let time = policy::iso(now);
    let cutoff = Some(policy::iso(plan.cutoff));
    for c in plan.changes.iter().filter(|c| !c.is_noop()) {
        let base = AuditRecord {
            id: String::new(),
            time: time.clone(),
            actor: actor.clone(),
            action: String::new(),
            target: String::new(),
            policy_name: None,
            access_key_id: None,
            before: None,
            after: None,
            cutoff: cutoff.clone(),
            verified: false,
            phase: None,
            error: None,
            rollback_of: None,
            reasons: plan.reasons.clone(),
            decision: None,
            prev: None,
        };
        let rec = match c {
            Change::RolePolicy { role: RoleInfo { name, .. }, policy_name, before, merged, .. }
            | Change::UserPolicy { user: name, policy_name, before, merged, .. } => {
                let holder =
                    if matches!(c, Change::RolePolicy { .. }) { Holder::Role(name) } else { Holder::User(name) };
                // Someone else may have changed the policy since the plan read it (another responder,
                // the console): writing the planned document would drop their statements.
                let now_there = iam.inline_policy(holder, policy_name).await?;
                let unchanged = match (&now_there, before) {
                    (None, None) => true,
                    (Some(a), Some(b)) => policy::same_document(a, b),
                    _ => false,
                };
                if !unchanged {
                    anyhow::bail!(
                        "{} {name} policy {policy_name} changed since the plan was made; nothing more was applied. Run the \
                         command again to plan from what is there now",
                        holder.kind()
                    );
                }
                let verb = if merged.document.is_some() { "put" } else { "delete" };
                let rec = AuditRecord {
                    id: super::audit::new_id(&time, name, &format!("{}-{policy_name}", holder.kind())),
                    action: format!("{verb}-{}-policy", holder.kind()),
                    target: name.clone(),
                    policy_name: Some(policy_name.clone()),
                    before: before.clone(),
                    after: merged.document.clone(),
                    ..base
                };
                let step = Step::Policy { holder, policy_name, doc: merged.document.as_deref() };
                execute(iam, log, rec, step).await?
            }
            Change::DeactivateKey { user, key, status } => {
                let rec = AuditRecord {
                    id: super::audit::new_id(&time, user, key),
                    action: "deactivate-access-key".into(),
                    target: user.clone(),
                    access_key_id: Some(key.clone()),
                    before: Some(status.clone()),
                    after: Some("Inactive".into()),
                    cutoff: None,
                    ..base
                };
                execute(iam, log, rec, Step::KeyStatus { user, key, active: false }).await?
            }
        };
        records.push(rec);
    }
    Ok(())
}
