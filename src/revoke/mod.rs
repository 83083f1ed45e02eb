//! Revoke: plan, show, apply, verify and record the time-bounded deny of compromised sessions.
//!
//! Every change is planned from what IAM holds now, shown with the exact policy JSON, applied only
//! when asked, read back, and appended to the audit log with what it replaced.

pub mod audit;
pub mod iam;
pub mod policy;

use audit::AuditRecord;
use chrono::{DateTime, Utc};
use iam::{Iam, RoleInfo};
use policy::{iam_size, merge, same_document, Merged, Revocation, Scope};
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
}

/// One change a plan makes.
#[derive(Clone, Debug)]
pub enum Change {
    RolePolicy { role: RoleInfo, policy_name: String, before: Option<String>, merged: Merged, size_before: usize, size_after: usize },
    UserPolicy { user: String, policy_name: String, before: Option<String>, merged: Merged, size_after: usize },
    DeactivateKey { user: String, key: String, status: String },
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
        if let Some(hint) = &rr.role_id_hint {
            if !hint.is_empty() && *hint != role.role_id {
                reasons.push(format!(
                    "note: the logs name role id {hint} but {} is now {}; the role was recreated, so the old sessions already lost it",
                    role.name, role.role_id
                ));
            }
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
            let merged = merge(before.as_deref(), &revs, now).map_err(|e| anyhow::anyhow!("{}/{name}: {e}", role.name))?;
            size_after = size_after - before.as_deref().map_or(0, iam_size) + merged.document.as_deref().map_or(0, iam_size);
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
            changes.push(Change::RolePolicy { role: role.clone(), policy_name: name.to_owned(), before, merged, size_before, size_after });
        }
    }
    let roles_changed = changes.iter().filter(|c| matches!(c, Change::RolePolicy { .. }) && !c.is_noop()).count();
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
        let merged = merge(before.as_deref(), &[rev], now).map_err(|e| anyhow::anyhow!("{user}: {e}"))?;
        let size_after = merged.document.as_deref().map_or(0, iam_size);
        if size_after > policy::USER_INLINE_LIMIT {
            anyhow::bail!("refusing user {user}: the session deny would exceed IAM's user inline limit; nothing was changed");
        }
        changes.push(Change::UserPolicy { user, policy_name: policy::SURGICAL_POLICY.into(), before, merged, size_after });
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
            None => format!("aws iam delete-role-policy --role-name {} --policy-name {policy_name}", shell_quote(&role.name)),
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
            format!("aws iam update-access-key --user-name {} --access-key-id {key} --status Inactive", shell_quote(user))
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
                    let _ = writeln!(s, "  document after:\n{}", term(d).lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n"));
                }
            }
            Change::UserPolicy { user, policy_name, merged, .. } => {
                let _ = writeln!(s, "User {}, inline policy {policy_name} (sessions minted from its keys):", term(user));
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
            _ => anyhow::bail!("--emit needs the role id of {} for a surgical statement: pass a finding, or plan without --emit", rr.role),
        };
        let revs = revocations(rr, &role_id, req.cutoff);
        let mut names: Vec<&str> = revs.iter().map(|r| r.policy_name()).collect();
        names.dedup();
        for name in names {
            let group: Vec<Revocation> = revs.iter().filter(|r| r.policy_name() == name).cloned().collect();
            let merged = merge(None, &group, now).map_err(|e| anyhow::anyhow!(e))?;
            let Some(doc) = merged.document.clone() else {
                let _ = writeln!(
                    s,
                    "\nRole {}: nothing to deny, the cutoff is over {} hours ago and every session issued before it has expired.",
                    rr.role,
                    policy::MAX_SESSION_HOURS
                );
                continue;
            };
            let role = RoleInfo { name: rr.role.clone(), arn: String::new(), role_id: role_id.clone(), path: "/".into() };
            let change = Change::RolePolicy { role, policy_name: name.into(), before: None, merged, size_before: 0, size_after: 0 };
            let _ = writeln!(s, "\nRole {} policy {name}:\n{doc}\n{}", rr.role, cli_command(&change));
        }
    }
    for key in &req.access_keys {
        let _ = writeln!(s, "\naws iam update-access-key --access-key-id {key} --status Inactive   # add --user-name <owner>");
    }
    s.push('\n');
    s += &follow_up();
    Ok(s)
}

/// Applies every change of the plan in order, verifies each by reading it back, and records it.
/// Stops at the first failure; what was applied before it stays applied and recorded.
pub async fn apply(iam: &Iam, plan: &Plan, audit_log: &std::path::Path, now: DateTime<Utc>) -> anyhow::Result<Vec<AuditRecord>> {
    let actor = iam.caller().await.unwrap_or_else(|e| format!("unknown ({e})"));
    let time = policy::iso(now);
    let cutoff = Some(policy::iso(plan.cutoff));
    let mut records = Vec::new();
    for c in plan.changes.iter().filter(|c| !c.is_noop()) {
        let rec = match c {
            Change::RolePolicy { role, policy_name, before, merged, .. } => {
                let (action, verified) = match &merged.document {
                    Some(d) => {
                        iam.put_role_policy(&role.name, policy_name, d).await?;
                        let back = iam.role_policy(&role.name, policy_name).await?;
                        ("put-role-policy", back.is_some_and(|b| same_document(&b, d)))
                    }
                    None => {
                        iam.delete_role_policy(&role.name, policy_name).await?;
                        ("delete-role-policy", iam.role_policy(&role.name, policy_name).await?.is_none())
                    }
                };
                AuditRecord {
                    id: audit::new_id(&time, &role.name, policy_name),
                    time: time.clone(),
                    actor: actor.clone(),
                    action: action.into(),
                    target: role.name.clone(),
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
            Change::UserPolicy { user, policy_name, before, merged, .. } => {
                let doc = merged.document.clone().unwrap_or_default();
                iam.put_user_policy(user, policy_name, &doc).await?;
                let verified = iam.user_policy(user, policy_name).await?.is_some_and(|b| same_document(&b, &doc));
                AuditRecord {
                    id: audit::new_id(&time, user, policy_name),
                    time: time.clone(),
                    actor: actor.clone(),
                    action: "put-user-policy".into(),
                    target: user.clone(),
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
            anyhow::bail!("applied {} on {} but reading it back did not match (audit id {}); check it by hand", rec.action, rec.target, rec.id);
        }
        records.push(rec);
    }
    Ok(records)
}

/// Restores what an audited change replaced, verifies it and records the rollback.
pub async fn rollback(iam: &Iam, audit_log: &std::path::Path, id: &str, now: DateTime<Utc>) -> anyhow::Result<AuditRecord> {
    let rec = audit::find(audit_log, id)?;
    let actor = iam.caller().await.unwrap_or_else(|e| format!("unknown ({e})"));
    let policy = rec.policy_name.clone().unwrap_or_default();
    let (action, current, verified) = match rec.action.as_str() {
        "put-role-policy" | "delete-role-policy" => {
            let current = iam.role_policy(&rec.target, &policy).await?;
            match &rec.before {
                Some(doc) => {
                    iam.put_role_policy(&rec.target, &policy, doc).await?;
                    let ok = iam.role_policy(&rec.target, &policy).await?.is_some_and(|b| same_document(&b, doc));
                    ("put-role-policy", current, ok)
                }
                None => {
                    iam.delete_role_policy(&rec.target, &policy).await?;
                    ("delete-role-policy", current, iam.role_policy(&rec.target, &policy).await?.is_none())
                }
            }
        }
        "put-user-policy" | "delete-user-policy" => {
            let current = iam.user_policy(&rec.target, &policy).await?;
            match &rec.before {
                Some(doc) => {
                    iam.put_user_policy(&rec.target, &policy, doc).await?;
                    let ok = iam.user_policy(&rec.target, &policy).await?.is_some_and(|b| same_document(&b, doc));
                    ("put-user-policy", current, ok)
                }
                None => {
                    iam.delete_user_policy(&rec.target, &policy).await?;
                    ("delete-user-policy", current, iam.user_policy(&rec.target, &policy).await?.is_none())
                }
            }
        }
        "deactivate-access-key" => {
            let key = rec.access_key_id.clone().unwrap_or_default();
            iam.set_key_status(&rec.target, &key, true).await?;
            let ok = iam.key_status(&rec.target, &key).await?.as_deref() == Some("Active");
            ("activate-access-key", Some("Inactive".into()), ok)
        }
        other => anyhow::bail!("audit record {id} ({other}) cannot be rolled back"),
    };
    let time = policy::iso(now);
    let out = AuditRecord {
        id: audit::new_id(&time, &rec.target, &format!("rollback {id}")),
        time,
        actor,
        action: action.into(),
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

/// How the cutoff is chosen.
#[derive(Clone, Copy, Debug)]
pub enum CutoffChoice {
    Explicit(DateTime<Utc>),
    NowPlus { minutes: i64 },
    AfterIssue,
}

/// Reads findings written by `scan --format json` (an array) or `--format ndjson` (one per line).
pub fn read_findings(path: &std::path::Path) -> anyhow::Result<Vec<crate::detect::Finding>> {
    let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("cannot read --finding {}: {e}", path.display()))?;
    let t = text.trim_start();
    if t.starts_with('[') {
        return serde_json::from_str(t).map_err(|e| anyhow::anyhow!("--finding {}: not a findings document: {e}", path.display()));
    }
    t.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| anyhow::anyhow!("--finding {} line {}: {e}", path.display(), i + 1)))
        .collect()
}

/// Builds the request: roles and sessions from findings and explicit flags, and the cutoff.
pub fn request(
    findings: &[crate::detect::Finding],
    explicit: Option<RoleRequest>,
    access_keys: &[String],
    choice: CutoffChoice,
    now: DateTime<Utc>,
) -> anyhow::Result<Request> {
    let mut roles: Vec<RoleRequest> = Vec::new();
    let mut newest_issue: Option<DateTime<Utc>> = None;
    for f in findings {
        if f.role_arn.is_empty() || f.session_name.is_empty() {
            anyhow::bail!("finding for {} names no role or session: revoke it explicitly with --role and --session", f.access_key_id);
        }
        let name = iam::role_name(&f.role_arn).to_owned();
        let rr = match roles.iter_mut().position(|r| r.role == name) {
            Some(i) => &mut roles[i],
            None => {
                roles.push(RoleRequest { role: name.clone(), role_id_hint: Some(f.role_id.clone()), ..RoleRequest::default() });
                roles.last_mut().expect("pushed")
            }
        };
        if !rr.sessions.contains(&f.session_name) {
            rr.sessions.push(f.session_name.clone());
        }
        rr.reasons.push(format!(
            "{} ({} {}, {} confidence) used from {}",
            f.access_key_id,
            f.workload,
            f.session_name,
            f.confidence,
            f.source_ips.join(", ")
        ));
        // Role chaining: sessions the stolen key assumed keep working after its own role is revoked.
        for m in f.minted_sessions.iter().filter(|m| !m.role_arn.is_empty() && !m.session_name.is_empty()) {
            let name = iam::role_name(&m.role_arn).to_owned();
            let rr = match roles.iter_mut().position(|r| r.role == name) {
                Some(i) => &mut roles[i],
                None => {
                    roles.push(RoleRequest { role: name.clone(), role_id_hint: Some(m.role_id.clone()), ..RoleRequest::default() });
                    roles.last_mut().expect("pushed")
                }
            };
            if !rr.sessions.contains(&m.session_name) {
                rr.sessions.push(m.session_name.clone());
            }
            rr.reasons.push(format!(
                "{} assumed {name} as session {} with stolen key {} (role chaining)",
                m.access_key_id, m.session_name, f.access_key_id
            ));
        }
        if let Some(t) = f.session_issued_at.as_deref().and_then(|t| DateTime::parse_from_rfc3339(t).ok()) {
            let t = t.with_timezone(&Utc);
            newest_issue = Some(newest_issue.map_or(t, |n: DateTime<Utc>| n.max(t)));
        }
    }
    if let Some(e) = explicit {
        let name = iam::role_name(&e.role).to_owned();
        match roles.iter_mut().find(|r| r.role == name) {
            Some(r) => {
                r.all_sessions |= e.all_sessions;
                r.sessions.extend(e.sessions.into_iter().filter(|s| !r.sessions.contains(s)).collect::<Vec<_>>());
            }
            None => roles.push(RoleRequest { role: name, ..e }),
        }
    }
    if roles.is_empty() && access_keys.is_empty() {
        anyhow::bail!("nothing to revoke: give --finding, --from-scan, --role with --session/--all-sessions, or --access-key");
    }
    if let Some(r) = roles.iter().find(|r| r.sessions.is_empty() && !r.all_sessions) {
        anyhow::bail!("--role {} needs --session NAME (surgical) or --all-sessions (role-wide)", r.role);
    }
    let (cutoff, cutoff_reason) = match choice {
        CutoffChoice::Explicit(t) => (t, "given with --before".to_owned()),
        CutoffChoice::NowPlus { minutes } => (
            (now + chrono::Duration::minutes(minutes.max(0))).with_nanosecond(0).unwrap_or(now),
            format!(
                "now plus {minutes} minutes, the default: it also denies keys the thief fetched that the logs do not show yet and keys fetched while the deny spreads through IAM; the denied workload needs fresh credentials (see the follow-up). Use --cutoff after-issue to keep its newer sessions working"
            ),
        ),
        CutoffChoice::AfterIssue => {
            let t = newest_issue.ok_or_else(|| {
                anyhow::anyhow!("--cutoff after-issue needs the compromised sessions' issue time: pass findings, or give --before")
            })?;
            (
                t + chrono::Duration::seconds(1),
                "one second after the newest compromised session was issued: the workload's newer sessions keep working, but keys the thief fetched later are not denied".to_owned(),
            )
        }
    };
    Ok(Request { roles, access_keys: access_keys.to_vec(), cutoff, cutoff_reason })
}

use chrono::Timelike as _;
