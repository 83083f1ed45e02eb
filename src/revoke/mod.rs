//! Revoke: plan, show, apply, verify and record the time-bounded deny of compromised sessions.
//!
//! Every change is planned from what IAM holds now, shown with the exact policy JSON, applied only
//! when asked, read back, and appended to the audit log with what it replaced.

pub mod audit;
pub mod iam;
pub mod policy;
pub mod request;

pub use request::{CutoffChoice, read_findings, request};

use audit::AuditRecord;
use chrono::{DateTime, Utc};
use iam::{Holder, Iam, RoleInfo};
use policy::{Merged, Revocation, Scope, iam_size, merge};
use std::fmt::Write as _;

/// One role's requested revocations, before IAM is read.
#[derive(Clone, Debug, Default)]
pub struct RoleRequest {
    /// Role name (ARNs are reduced to the name).
    pub role: String,
    /// Sessions to deny surgically, with the role id the logs showed (IAM's current id is used).
    pub sessions: Vec<String>,
    pub all_sessions: bool,
    /// Role id from the logs, needed only by `--emit`, which reads nothing from IAM.
    pub role_id_hint: Option<String>,
    /// Why (which keys, which findings).
    pub reasons: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct Request {
    pub roles: Vec<RoleRequest>,
    pub access_keys: Vec<String>,
    pub cutoff: DateTime<Utc>,
    /// How the cutoff was chosen, in words, shown with every plan.
    pub cutoff_reason: String,
    /// With a "now" cutoff: an existing deny at or after this time already covers every compromised
    /// session (see [`policy::merge`]).
    pub enough: Option<DateTime<Utc>>,
}

/// One change a plan makes.
#[derive(Clone, Debug)]
pub enum Change {
    RolePolicy {
        role: RoleInfo,
        policy_name: String,
        before: Option<String>,
        merged: Merged,
        size_before: usize,
        size_after: usize,
    },
    UserPolicy {
        user: String,
        policy_name: String,
        before: Option<String>,
        merged: Merged,
        size_after: usize,
    },
    DeactivateKey {
        user: String,
        key: String,
        status: String,
    },
}

impl Change {
    pub fn is_noop(&self) -> bool {
        match self {
            Change::RolePolicy { merged, .. } | Change::UserPolicy { merged, .. } => !merged.changed,
            Change::DeactivateKey { status, .. } => status == "Inactive",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Plan {
    pub changes: Vec<Change>,
    pub cutoff: DateTime<Utc>,
    pub cutoff_reason: String,
    pub reasons: Vec<String>,
}

fn revocations(req: &RoleRequest, role_id: &str, cutoff: DateTime<Utc>) -> Vec<Revocation> {
    let mut out: Vec<Revocation> = req
        .sessions
        .iter()
        .map(|s| Revocation { scope: Scope::Session { role_id: role_id.to_owned(), session_name: s.clone() }, cutoff })
        .collect();
    if req.all_sessions {
        out.push(Revocation { scope: Scope::AllSessions, cutoff });
    }
    out
}

/// Reads IAM and computes every change; fails (changing nothing) on the first role that cannot be
/// revoked: missing, service-linked, Identity Center, or over IAM's inline size limit.
pub async fn plan(iam: &Iam, req: &Request, max_roles: usize, now: DateTime<Utc>) -> anyhow::Result<Plan> {
    let mut changes = Vec::new();
    let mut reasons = Vec::new();
    for rr in &req.roles {
        let role = iam.role(&rr.role).await?;
        if let Some(why) = role.refusal() {
            anyhow::bail!("refusing {}: {why}", role.name);
        }
        if let Some(hint) = rr.role_id_hint.as_deref().filter(|h| !h.is_empty() && *h != role.role_id) {
            // Another account's role of the same name, or a role recreated since: denying here would
            // report success while the compromised sessions stay valid.
            anyhow::bail!(
                "refusing {}: the logs name role id {hint}, but {} in this account has id {}. It is another account's \
                 role of the same name (use --profile for that account), or it was recreated (its old sessions are \
                 already invalid); nothing was changed",
                role.name,
                role.arn,
                role.role_id
            );
        }
        reasons.extend(rr.reasons.iter().cloned());
        let existing = iam.role_policies(&role.name).await?;
        let revs = revocations(rr, &role.role_id, req.cutoff);
        let mut by_policy: Vec<(&'static str, Vec<Revocation>)> = Vec::new();
        for r in revs {
            match by_policy.iter_mut().find(|(n, _)| *n == r.policy_name()) {
                Some((_, v)) => v.push(r),
                None => by_policy.push((r.policy_name(), vec![r])),
            }
        }
        let size_before: usize = existing.iter().map(|(_, d)| iam_size(d)).sum();
        let mut size_after = size_before;
        let mut role_changes = Vec::new();
        for (name, revs) in by_policy {
            let before = existing.iter().find(|(n, _)| n == name).map(|(_, d)| d.clone());
            let merged = merge(before.as_deref(), &revs, now, req.enough)
                .map_err(|e| anyhow::anyhow!("{}/{name}: {e}", role.name))?;
            size_after =
                size_after - before.as_deref().map_or(0, iam_size) + merged.document.as_deref().map_or(0, iam_size);
            role_changes.push((name, before, merged));
        }
        if size_after > policy::ROLE_INLINE_LIMIT {
            anyhow::bail!(
                "refusing {}: its inline policies would total {size_after} characters (white space not counted), over IAM's limit of {}; nothing was changed. Remove stale inline policies from the role or use --all-sessions (one statement) instead of many sessions.",
                role.name,
                policy::ROLE_INLINE_LIMIT
            );
        }
        for (name, before, merged) in role_changes {
            changes.push(Change::RolePolicy {
                role: role.clone(),
                policy_name: name.to_owned(),
                before,
                merged,
                size_before,
                size_after,
            });
        }
    }
    let mut roles_changed: Vec<&str> = changes
        .iter()
        .filter(|c| !c.is_noop())
        .filter_map(|c| match c {
            Change::RolePolicy { role, .. } => Some(role.name.as_str()),
            _ => None,
        })
        .collect();
    roles_changed.sort_unstable();
    roles_changed.dedup();
    let roles_changed = roles_changed.len();
    if roles_changed > max_roles {
        anyhow::bail!("the plan changes {roles_changed} roles, more than --max-roles {max_roles}; nothing was changed");
    }
    for key in &req.access_keys {
        let user = iam.key_owner(key).await?;
        let status = iam.key_status(&user, key).await?.unwrap_or_else(|| "unknown".into());
        changes.push(Change::DeactivateKey { user: user.clone(), key: key.clone(), status });
        // Sessions minted from the key (GetSessionToken, GetFederationToken) outlive its deactivation.
        let before = iam.user_policy(&user, policy::SURGICAL_POLICY).await?;
        let rev = Revocation { scope: Scope::AllSessions, cutoff: req.cutoff };
        let merged = merge(before.as_deref(), &[rev], now, None).map_err(|e| anyhow::anyhow!("{user}: {e}"))?;
        let size_after = merged.document.as_deref().map_or(0, iam_size);
        if size_after > policy::USER_INLINE_LIMIT {
            anyhow::bail!(
                "refusing user {user}: the session deny would exceed IAM's user inline limit; nothing was changed"
            );
        }
        changes.push(Change::UserPolicy {
            user,
            policy_name: policy::SURGICAL_POLICY.into(),
            before,
            merged,
            size_after,
        });
    }
    Ok(Plan { changes, cutoff: req.cutoff, cutoff_reason: req.cutoff_reason.clone(), reasons })
}

fn shell_quote(s: &str) -> String {
    crate::report::escape::shell(s).into_owned()
}

fn compact(doc: &str) -> String {
    serde_json::from_str::<serde_json::Value>(doc).map(|v| v.to_string()).unwrap_or_else(|_| doc.to_owned())
}

/// The AWS CLI command equivalent to one change.
pub fn cli_command(change: &Change) -> String {
    match change {
        Change::RolePolicy { role, policy_name, merged, .. } => match &merged.document {
            Some(d) => format!(
                "aws iam put-role-policy --role-name {} --policy-name {policy_name} --policy-document {}",
                shell_quote(&role.name),
                shell_quote(&compact(d))
            ),
            None => format!(
                "aws iam delete-role-policy --role-name {} --policy-name {policy_name}",
                shell_quote(&role.name)
            ),
        },
        Change::UserPolicy { user, policy_name, merged, .. } => match &merged.document {
            Some(d) => format!(
                "aws iam put-user-policy --user-name {} --policy-name {policy_name} --policy-document {}",
                shell_quote(user),
                shell_quote(&compact(d))
            ),
            None => format!("aws iam delete-user-policy --user-name {} --policy-name {policy_name}", shell_quote(user)),
        },
        Change::DeactivateKey { user, key, .. } => {
            format!(
                "aws iam update-access-key --user-name {} --access-key-id {} --status Inactive",
                shell_quote(user),
                shell_quote(key)
            )
        }
    }
}

/// What the tool cannot do itself, printed with every plan.
pub fn follow_up() -> String {
    "Follow-up (trailhound cannot do these for you):
  1. Refresh the instance's credentials so it stops using denied sessions: disassociate and re-associate
     its instance profile (aws ec2 replace-iam-instance-profile-association), or stop and start it.
  2. Require IMDSv2 on the instance (aws ec2 modify-instance-metadata-options --http-tokens required),
     which stops SSRF-style theft through the metadata service.
  3. Add the data-perimeter policy that makes EC2 role credentials useless outside their VPC: deny when
     aws:Ec2InstanceSourceVpc does not match aws:SourceVpc, or aws:Ec2InstanceSourcePrivateIPv4 does not
     match aws:VpcSourceIp (with exceptions for calls made by AWS services).
  4. IAM is eventually consistent: the deny takes seconds to minutes to apply everywhere. Watch for
     AccessDenied on the revoked sessions in CloudTrail to confirm it took effect.
"
    .to_owned()
}

fn describe(rev: &Revocation) -> String {
    match &rev.scope {
        Scope::AllSessions => format!("every session issued before {}", policy::iso(rev.cutoff)),
        Scope::Session { role_id, session_name } => {
            format!("sessions {role_id}:{session_name} issued before {}", policy::iso(rev.cutoff))
        }
    }
}

/// The plan for a person: what changes, the exact documents and commands, and the follow-up.
pub fn render(plan: &Plan) -> String {
    use crate::report::escape::term;
    let mut s = String::new();
    let _ = writeln!(s, "Cutoff: {} ({})", policy::iso(plan.cutoff), plan.cutoff_reason);
    for r in &plan.reasons {
        let _ = writeln!(s, "  {}", term(r));
    }
    for c in &plan.changes {
        s.push('\n');
        match c {
            Change::RolePolicy { role, policy_name, before, merged, size_before, size_after } => {
                let _ = writeln!(s, "Role {} ({}), inline policy {policy_name}:", role.name, role.role_id);
                if !merged.changed {
                    let _ = writeln!(s, "  no change: already in place");
                }
                for a in &merged.added {
                    let _ = writeln!(s, "  + deny {}", term(&describe(a)));
                }
                for k in &merged.kept {
                    let _ = writeln!(s, "  = deny {} (already in place)", term(&describe(k)));
                }
                for e in &merged.expired {
                    let _ = writeln!(s, "  - drop expired deny of {}", term(&describe(e)));
                }
                for m in &merged.moot {
                    let _ = writeln!(
                        s,
                        "  ! not added: {} (over {} hours ago, every such session has expired)",
                        term(&describe(m)),
                        policy::MAX_SESSION_HOURS
                    );
                }
                let _ = writeln!(
                    s,
                    "  policy {}; role inline size {size_before} -> {size_after} of {} characters",
                    if before.is_some() { "exists, merged (other statements kept)" } else { "is new" },
                    policy::ROLE_INLINE_LIMIT
                );
                if let Some(d) = &merged.document {
                    let _ = writeln!(
                        s,
                        "  document after:\n{}",
                        term(d).lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")
                    );
                }
            }
            Change::UserPolicy { user, policy_name, merged, .. } => {
                let _ =
                    writeln!(s, "User {}, inline policy {policy_name} (sessions minted from its keys):", term(user));
                for a in &merged.added {
                    let _ = writeln!(s, "  + deny {}", describe(a));
                }
                if !merged.changed {
                    let _ = writeln!(s, "  no change: already in place");
                }
            }
            Change::DeactivateKey { user, key, status } => {
                let _ = writeln!(s, "Access key {key} of user {}: {status} -> Inactive (never deleted)", term(user));
            }
        }
        if !c.is_noop() {
            let _ = writeln!(s, "  command: {}", term(&cli_command(c)));
        }
    }
    s.push('\n');
    s += &follow_up();
    s
}

/// `--emit`: documents and commands from the request alone, without reading or changing IAM.
pub fn emit(req: &Request, now: DateTime<Utc>) -> anyhow::Result<String> {
    let mut s = format!("Cutoff: {} ({})\n", policy::iso(req.cutoff), req.cutoff_reason);
    s += "These documents do not include statements already in the roles' policies: run without --emit to merge.\n";
    for rr in &req.roles {
        let role_id = match (&rr.role_id_hint, rr.sessions.is_empty()) {
            (Some(id), _) if !id.is_empty() => id.clone(),
            (_, true) => String::new(),
            _ => anyhow::bail!(
                "--emit needs the role id of {} for a surgical statement: pass a finding, or plan without --emit",
                rr.role
            ),
        };
        let revs = revocations(rr, &role_id, req.cutoff);
        let mut names: Vec<&str> = revs.iter().map(|r| r.policy_name()).collect();
        names.dedup();
        for name in names {
            let group: Vec<Revocation> = revs.iter().filter(|r| r.policy_name() == name).cloned().collect();
            let merged = merge(None, &group, now, None).map_err(|e| anyhow::anyhow!(e))?;
            let Some(doc) = merged.document.clone() else {
                let _ = writeln!(
                    s,
                    "\nRole {}: nothing to deny, the cutoff is over {} hours ago and every session issued before it has expired.",
                    rr.role,
                    policy::MAX_SESSION_HOURS
                );
                continue;
            };
            let role =
                RoleInfo { name: rr.role.clone(), arn: String::new(), role_id: role_id.clone(), path: "/".into() };
            let change = Change::RolePolicy {
                role,
                policy_name: name.into(),
                before: None,
                merged,
                size_before: 0,
                size_after: 0,
            };
            let _ = writeln!(s, "\nRole {} policy {name}:\n{doc}\n{}", rr.role, cli_command(&change));
        }
    }
    for key in &req.access_keys {
        let _ = writeln!(
            s,
            "\naws iam update-access-key --access-key-id {} --status Inactive   # add --user-name <owner>",
            shell_quote(key)
        );
    }
    s.push('\n');
    s += &follow_up();
    Ok(s)
}

/// Applies every change of the plan in order, verifies each by reading it back, and records it.
/// Stops at the first failure; what was applied before it stays applied and recorded.
pub async fn apply(
    iam: &Iam,
    plan: &Plan,
    audit_log: &std::path::Path,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<AuditRecord>> {
    let actor = iam.caller().await.unwrap_or_else(|e| format!("unknown ({e})"));
    let time = policy::iso(now);
    let cutoff = Some(policy::iso(plan.cutoff));
    let mut records = Vec::new();
    for c in plan.changes.iter().filter(|c| !c.is_noop()) {
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
                let verified = iam.set_inline_policy(holder, policy_name, merged.document.as_deref()).await?;
                let verb = if merged.document.is_some() { "put" } else { "delete" };
                AuditRecord {
                    id: audit::new_id(&time, name, &format!("{}-{policy_name}", holder.kind())),
                    time: time.clone(),
                    actor: actor.clone(),
                    action: format!("{verb}-{}-policy", holder.kind()),
                    target: name.clone(),
                    policy_name: Some(policy_name.clone()),
                    access_key_id: None,
                    before: before.clone(),
                    after: merged.document.clone(),
                    cutoff: cutoff.clone(),
                    verified,
                    rollback_of: None,
                    reasons: plan.reasons.clone(),
                }
            }
            Change::DeactivateKey { user, key, status } => {
                iam.set_key_status(user, key, false).await?;
                let verified = iam.key_status(user, key).await?.as_deref() == Some("Inactive");
                AuditRecord {
                    id: audit::new_id(&time, user, key),
                    time: time.clone(),
                    actor: actor.clone(),
                    action: "deactivate-access-key".into(),
                    target: user.clone(),
                    policy_name: None,
                    access_key_id: Some(key.clone()),
                    before: Some(status.clone()),
                    after: Some("Inactive".into()),
                    cutoff: None,
                    verified,
                    rollback_of: None,
                    reasons: plan.reasons.clone(),
                }
            }
        };
        audit::append(audit_log, &rec)?;
        if !rec.verified {
            anyhow::bail!(
                "applied {} on {} but reading it back did not match (audit id {}); check it by hand",
                rec.action,
                rec.target,
                rec.id
            );
        }
        records.push(rec);
    }
    Ok(records)
}

/// Restores what an audited change replaced, verifies it and records the rollback.
pub async fn rollback(
    iam: &Iam,
    audit_log: &std::path::Path,
    id: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<AuditRecord> {
    let rec = audit::find(audit_log, id)?;
    let actor = iam.caller().await.unwrap_or_else(|e| format!("unknown ({e})"));
    let policy = rec.policy_name.clone().unwrap_or_default();
    let (action, current, verified) = match rec.action.as_str() {
        a @ ("put-role-policy" | "delete-role-policy" | "put-user-policy" | "delete-user-policy") => {
            let holder =
                if a.ends_with("-role-policy") { Holder::Role(&rec.target) } else { Holder::User(&rec.target) };
            let current = iam.inline_policy(holder, &policy).await?;
            let still = match (&current, &rec.after) {
                (None, None) => true,
                (Some(a), Some(b)) => policy::same_document(a, b),
                _ => false,
            };
            if !still {
                anyhow::bail!(
                    "{} {} policy {policy} changed after {id}: restoring the old document would undo those later \
                     changes too; nothing was changed. Compare the audit record with IAM and restore by hand",
                    holder.kind(),
                    rec.target
                );
            }
            let ok = iam.set_inline_policy(holder, &policy, rec.before.as_deref()).await?;
            let verb = if rec.before.is_some() { "put" } else { "delete" };
            (format!("{verb}-{}-policy", holder.kind()), current, ok)
        }
        "deactivate-access-key" => {
            let key = rec.access_key_id.clone().unwrap_or_default();
            iam.set_key_status(&rec.target, &key, true).await?;
            let ok = iam.key_status(&rec.target, &key).await?.as_deref() == Some("Active");
            ("activate-access-key".to_owned(), Some("Inactive".into()), ok)
        }
        other => anyhow::bail!("audit record {id} ({other}) cannot be rolled back"),
    };
    let time = policy::iso(now);
    let out = AuditRecord {
        id: audit::new_id(&time, &rec.target, &format!("rollback {id}")),
        time,
        actor,
        action,
        target: rec.target.clone(),
        policy_name: rec.policy_name.clone(),
        access_key_id: rec.access_key_id.clone(),
        before: current,
        after: rec.before.clone(),
        cutoff: None,
        verified,
        rollback_of: Some(id.to_owned()),
        reasons: vec![format!("rollback of {id}")],
    };
    audit::append(audit_log, &out)?;
    if !verified {
        anyhow::bail!("rolled back {id} but reading it back did not match; check it by hand");
    }
    Ok(out)
}
