//! Revoke: plan, show, apply, verify and record the time-bounded deny of compromised sessions.
//!
//! Every change is planned from what IAM holds now, shown with the exact policy JSON, applied only
//! when asked, read back, and appended to the audit log with what it replaced.

pub mod apply;
pub mod audit;
pub mod iam;
pub mod policy;
pub mod render;
pub mod request;
pub mod rollback;

pub use apply::{Applied, Unverified, apply};
pub use render::{cli_command, emit, follow_up, render};
pub use request::{CutoffChoice, read_findings, request};
pub use rollback::{RollbackOptions, plan_rollback};

use chrono::{DateTime, Utc};
use iam::{Iam, RoleInfo};
use policy::{Merged, Revocation, Scope, iam_size, merge};

/// One role's requested revocations, before IAM is read.
#[derive(Clone, Debug, Default)]
pub struct RoleRequest {
    /// Role name (ARNs are reduced to the name).
    pub role: String,
    /// Sessions to deny surgically, with the role id the logs showed (IAM's current id is used).
    pub sessions: Vec<String>,
    /// Deny every session of the role issued before the cutoff (role-wide).
    pub all_sessions: bool,
    /// Role id from the logs, needed only by `--emit`, which reads nothing from IAM.
    pub role_id_hint: Option<String>,
    /// Why (which keys, which findings).
    pub reasons: Vec<String>,
}

/// Everything asked for, before IAM is read.
#[derive(Clone, Debug)]
pub struct Request {
    /// Roles whose sessions to deny.
    pub roles: Vec<RoleRequest>,
    /// Long-term keys to deactivate.
    pub access_keys: Vec<String>,
    /// Sessions issued before this are denied.
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
    /// Put (or delete) one of the role's inline revocation policies.
    RolePolicy {
        /// The role, as `GetRole` returned it while planning.
        role: RoleInfo,
        /// `AWSRevokeOlderSessions` (role-wide) or `TrailhoundRevokeSessions` (surgical).
        policy_name: String,
        /// The policy document IAM held when the plan was made; `None` when the policy did not exist.
        before: Option<String>,
        /// The document to write, and which revocations it adds, keeps or drops.
        merged: Merged,
        /// Size of all the role's inline policies now, white space not counted (IAM's measure).
        size_before: usize,
        /// Size of all the role's inline policies after the plan, checked against IAM's limit.
        size_after: usize,
    },
    /// Put (or delete) the user's inline deny of sessions minted from its keys.
    UserPolicy {
        /// The IAM user owning the compromised long-term key.
        user: String,
        /// Always `TrailhoundRevokeSessions`.
        policy_name: String,
        /// The policy document IAM held when the plan was made; `None` when the policy did not exist.
        before: Option<String>,
        /// The document to write, and which revocations it adds, keeps or drops.
        merged: Merged,
        /// Size of this policy after the plan, white space not counted, checked against IAM's user limit.
        size_after: usize,
    },
    /// Deactivate a long-term access key (never deleted).
    DeactivateKey {
        /// The IAM user owning the key (`GetAccessKeyLastUsed`).
        user: String,
        /// The long-term key id (`AKIA...`).
        key: String,
        /// The key's status when planned: `Active`, `Inactive` (then a no-op) or `unknown`.
        status: String,
    },
}

impl Change {
    /// True when IAM already holds what this change would write.
    pub fn is_noop(&self) -> bool {
        match self {
            Change::RolePolicy { merged, .. } | Change::UserPolicy { merged, .. } => !merged.changed,
            Change::DeactivateKey { status, .. } => status == "Inactive",
        }
    }
}

/// The changes to make, computed from what IAM holds now.
#[derive(Clone, Debug)]
pub struct Plan {
    /// In the order they are applied; no-ops included (shown, skipped).
    pub changes: Vec<Change>,
    /// Sessions issued before this are denied.
    pub cutoff: DateTime<Utc>,
    /// How the cutoff was chosen, in words.
    pub cutoff_reason: String,
    /// Why (which keys, which findings), recorded with every change.
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
