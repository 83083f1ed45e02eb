//! From findings and flags to a revocation request: which roles, which sessions, which cutoff.

use super::{Request, RoleRequest, iam};
use chrono::{DateTime, Timelike as _, Utc};
use std::collections::{HashMap, HashSet};

/// The roles asked for, in the order first named, each session once: indexed, as a scan can hand
/// over tens of thousands of findings on one role.
#[derive(Default)]
struct Roles {
    list: Vec<RoleRequest>,
    by_name: HashMap<String, usize>,
    sessions: HashSet<(usize, String)>,
}

impl Roles {
    /// The request for role `name`, made by `new` (without sessions: they go through
    /// [`Roles::add_session`]) when the role is not asked for yet.
    fn entry(&mut self, name: String, new: impl FnOnce(String) -> RoleRequest) -> usize {
        match self.by_name.get(&name) {
            Some(&i) => i,
            None => {
                let i = self.list.len();
                self.by_name.insert(name.clone(), i);
                self.list.push(new(name));
                i
            }
        }
    }

    fn add_session(&mut self, i: usize, session: &str) {
        if self.sessions.insert((i, session.to_owned())) {
            self.list[i].sessions.push(session.to_owned());
        }
    }

    /// Adds one session to deny (surgically) to its role's request.
    fn add(&mut self, role_arn: &str, role_id: &str, session: &str, why: String) {
        let i = self.entry(iam::role_name(role_arn).to_owned(), |role| RoleRequest {
            role,
            role_id_hint: Some(role_id.to_owned()),
            ..RoleRequest::default()
        });
        self.add_session(i, session);
        self.list[i].reasons.push(why);
    }
}

/// How the cutoff is chosen.
#[derive(Clone, Copy, Debug)]
pub enum CutoffChoice {
    /// `--before`: the given time, rounded up to a whole second (IAM compares whole seconds).
    Explicit(DateTime<Utc>),
    /// `--cutoff now` (the default): now plus `--margin-minutes`, to also deny keys fetched that the logs do
    /// not show yet and keys fetched while the deny propagates.
    NowPlus {
        /// `--margin-minutes`; negative values count as 0.
        minutes: i64,
    },
    /// `--cutoff after-issue`: one second after the newest compromised session was issued, so the
    /// workload's newer sessions keep working; needs findings carrying issue times.
    AfterIssue,
}

/// Reads findings written by `scan --format json` (an array) or `--format ndjson` (one per line).
pub fn read_findings(path: &std::path::Path) -> anyhow::Result<Vec<crate::detect::Finding>> {
    let text =
        std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("cannot read --finding {}: {e}", path.display()))?;
    let t = text.trim_start();
    if t.starts_with('[') {
        return serde_json::from_str(t)
            .map_err(|e| anyhow::anyhow!("--finding {}: not a findings document: {e}", path.display()));
    }
    t.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| anyhow::anyhow!("--finding {} line {}: {e}", path.display(), i + 1))
        })
        .collect()
}

/// A session name from the logs goes into `StringLike aws:userid`, where `*` and `?` are wildcards:
/// `AROA...:*` would deny every session of the role, a role-wide revocation passed off as surgical.
/// STS never issues such names (`[\w+=,.@-]`), so a record carrying one is forged: refuse it.
fn check_session_name(name: &str, key: &str) -> anyhow::Result<()> {
    if name.contains(['*', '?']) {
        anyhow::bail!(
            "finding for {key} names session {:?}, which no STS session can have: as an aws:userid pattern \
             its wildcard would deny other sessions too; revoke explicitly with --role and --session or \
             --all-sessions",
            crate::report::escape::term(name)
        );
    }
    Ok(())
}

/// Builds the request: roles and sessions from findings and explicit flags, and the cutoff.
pub fn request(
    findings: &[crate::detect::Finding],
    explicit: Option<RoleRequest>,
    access_keys: &[String],
    choice: CutoffChoice,
    now: DateTime<Utc>,
) -> anyhow::Result<Request> {
    let mut roles = Roles::default();
    let mut newest_issue: Option<DateTime<Utc>> = None;
    for f in findings {
        if f.role_arn.is_empty() || f.session_name.is_empty() {
            anyhow::bail!(
                "finding for {} names no role or session: revoke it explicitly with --role and --session",
                f.access_key_id
            );
        }
        for name in std::iter::once(&f.session_name).chain(f.minted_sessions.iter().map(|m| &m.session_name)) {
            check_session_name(name, &f.access_key_id)?;
        }
        let why = format!(
            "{} ({} {}, {} confidence) used from {}",
            f.access_key_id,
            f.workload,
            f.session_name,
            f.confidence,
            f.source_ips.join(", ")
        );
        roles.add(&f.role_arn, &f.role_id, &f.session_name, why);
        if f.minted_sessions_truncated {
            // Planned, shown and recorded with the change: a person confirms the plan knowing it is
            // not the whole chain. (`respond` holds such a finding instead: nobody reads its plan.)
            let why = format!(
                "WARNING: {} assumed more sessions of other roles than its finding lists ({}): this plan does not \
                 reach the rest; `trailhound report` lists them all, and --role/--session revoke them",
                f.access_key_id,
                f.minted_sessions.len()
            );
            roles.add(&f.role_arn, &f.role_id, &f.session_name, why);
        }
        // Role chaining: sessions the stolen key assumed keep working after its own role is revoked.
        for m in f.minted_sessions.iter().filter(|m| !m.role_arn.is_empty() && !m.session_name.is_empty()) {
            let why = format!(
                "{} assumed {} as session {} with stolen key {} (role chaining)",
                m.access_key_id,
                iam::role_name(&m.role_arn),
                m.session_name,
                f.access_key_id
            );
            roles.add(&m.role_arn, &m.role_id, &m.session_name, why);
            // The chained session was issued when it was assumed: the cutoff must come after it too.
            if let Some(t) = m.event_time.as_deref().and_then(|t| DateTime::parse_from_rfc3339(t).ok()) {
                let t = t.with_timezone(&Utc);
                newest_issue = Some(newest_issue.map_or(t, |n: DateTime<Utc>| n.max(t)));
            }
        }
        if let Some(t) = f.session_issued_at.as_deref().and_then(|t| DateTime::parse_from_rfc3339(t).ok()) {
            let t = t.with_timezone(&Utc);
            newest_issue = Some(newest_issue.map_or(t, |n: DateTime<Utc>| n.max(t)));
        }
    }
    if let Some(mut e) = explicit {
        let sessions = std::mem::take(&mut e.sessions);
        let all_sessions = e.all_sessions;
        let i = roles.entry(iam::role_name(&e.role).to_owned(), |role| RoleRequest { role, ..e });
        roles.list[i].all_sessions |= all_sessions;
        for s in &sessions {
            roles.add_session(i, s);
        }
    }
    let roles = roles.list;
    if roles.is_empty() && access_keys.is_empty() {
        anyhow::bail!(
            "nothing to revoke: give --finding, --from-scan, --role with --session/--all-sessions, or --access-key"
        );
    }
    if let Some(r) = roles.iter().find(|r| r.sessions.is_empty() && !r.all_sessions) {
        anyhow::bail!("--role {} needs --session NAME (surgical) or --all-sessions (role-wide)", r.role);
    }
    let (cutoff, cutoff_reason) = match choice {
        CutoffChoice::Explicit(t) => {
            // IAM compares whole seconds: round a fractional cutoff up, so applying it twice is a no-op.
            let whole = t.with_nanosecond(0).unwrap_or(t);
            (if whole < t { whole + chrono::Duration::seconds(1) } else { whole }, "given with --before".to_owned())
        }
        CutoffChoice::NowPlus { minutes } => (
            (now + chrono::Duration::minutes(minutes.max(0))).with_nanosecond(0).unwrap_or(now),
            format!(
                "now plus {minutes} minutes, the default: it also denies keys the thief fetched that the logs do not show yet and keys fetched while the deny spreads through IAM; the denied workload needs fresh credentials (see the follow-up). Use --cutoff after-issue to keep its newer sessions working"
            ),
        ),
        CutoffChoice::AfterIssue => {
            let t = newest_issue.ok_or_else(|| {
                anyhow::anyhow!(
                    "--cutoff after-issue needs the compromised sessions' issue time: pass findings, or give --before"
                )
            })?;
            (
                t + chrono::Duration::seconds(1),
                "one second after the newest compromised session was issued: the workload's newer sessions keep working, but keys the thief fetched later are not denied".to_owned(),
            )
        }
    };
    let enough = match choice {
        CutoffChoice::NowPlus { .. } => newest_issue.map(|t| t + chrono::Duration::seconds(1)),
        _ => None,
    };
    // A cutoff before the compromised session's issue does not deny it: this host's clock is behind
    // the trail's (AWS's). Up to an hour behind, the cutoff moves to just after the issue; more is
    // refused, as a trail claiming sessions from the future cannot be taken at its word.
    let (cutoff, cutoff_reason) = match enough {
        Some(e) if e > cutoff && e - now <= chrono::Duration::hours(1) => (
            e,
            format!(
                "one second after the newest compromised session was issued ({}), as this host's clock is \
                 behind the trail's: now plus the margin would not deny it",
                e - chrono::Duration::seconds(1)
            ),
        ),
        Some(e) if e > cutoff => anyhow::bail!(
            "the newest compromised session was issued at {}, {} minutes after this host's clock: check the \
             clock (or the trail) before revoking",
            e - chrono::Duration::seconds(1),
            (e - now).num_minutes()
        ),
        _ => (cutoff, cutoff_reason),
    };
    Ok(Request { roles, access_keys: access_keys.to_vec(), cutoff, cutoff_reason, enough })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wildcard_session_name_from_the_logs_is_refused_not_widened() {
        let mut f: crate::detect::Finding = serde_json::from_value(serde_json::json!({
            "kind": "exfiltration.outside_aws", "severity": "high", "confidence": "high", "score": 1.0,
            "access_key_id": "ASIAEXAMPLEKEY000001", "account_id": "111122223333",
            "role_arn": "arn:aws:iam::111122223333:role/app", "role_id": "AROAEXAMPLEROLEID0001",
            "session_name": "*", "workload": "ec2", "source_ips": [], "source_classes": [],
            "expected_origins": [], "first_seen": null, "last_seen": null, "event_count": 1,
            "error_count": 0, "session_issued_at": null, "delivery_event_id": null, "signals": [],
            "reasons": [], "event_ids": []
        }))
        .unwrap();
        let now = Utc::now();
        let choice = CutoffChoice::NowPlus { minutes: 5 };
        let e = request(std::slice::from_ref(&f), None, &[], choice, now).unwrap_err();
        assert!(e.to_string().contains("no STS session can have"), "{e}");
        f.session_name = "i-0a1b2c3d4e5f60718".into();
        assert!(request(std::slice::from_ref(&f), None, &[], choice, now).is_ok());
        f.minted_sessions.push(crate::detect::MintedSession {
            access_key_id: "ASIACHAINED000000001".into(),
            role_arn: "arn:aws:iam::111122223333:role/admin".into(),
            role_id: "AROAEXAMPLEROLEID0002".into(),
            session_name: "adm?n".into(),
            event_time: None,
        });
        assert!(request(std::slice::from_ref(&f), None, &[], choice, now).is_err(), "chained sessions too");
        f.minted_sessions[0].session_name = "admin".into();
        assert!(request(std::slice::from_ref(&f), None, &[], choice, now).is_ok());
        // A cut list of chained sessions is planned with a warning a person reads before applying,
        // without holding back the other findings of the same run.
        f.minted_sessions_truncated = true;
        let req = request(std::slice::from_ref(&f), None, &[], choice, now).unwrap();
        assert_eq!(req.cutoff, (now + chrono::Duration::minutes(5)).with_nanosecond(0).unwrap());
        let reasons: Vec<&String> = req.roles.iter().flat_map(|r| &r.reasons).collect();
        assert!(reasons.iter().any(|r| r.starts_with("WARNING: ") && r.contains("more sessions")), "{reasons:?}");
        assert_eq!(req.roles.len(), 2, "the key's role and the chained one are still planned");
    }

    #[test]
    fn the_cutoff_always_comes_after_the_stolen_sessions_issue() {
        // The host's clock 20 minutes behind the trail's: now plus 5 minutes is before the session.
        let now = Utc::now().with_nanosecond(0).unwrap();
        let issued = now + chrono::Duration::minutes(20);
        let f: crate::detect::Finding = serde_json::from_value(serde_json::json!({
            "kind": "exfiltration.outside_aws", "severity": "high", "confidence": "high", "score": 1.0,
            "access_key_id": "ASIAEXAMPLEKEY000001", "account_id": "111122223333",
            "role_arn": "arn:aws:iam::111122223333:role/app", "role_id": "AROAEXAMPLEROLEID0001",
            "session_name": "i-0a1b2c3d4e5f60718", "workload": "ec2", "source_ips": [], "source_classes": [],
            "expected_origins": [], "first_seen": null, "last_seen": null, "event_count": 1,
            "error_count": 0, "session_issued_at": crate::time::format_ms(issued.timestamp_millis()),
            "delivery_event_id": null, "signals": [], "reasons": [], "event_ids": []
        }))
        .unwrap();
        let choice = CutoffChoice::NowPlus { minutes: 5 };
        let req = request(std::slice::from_ref(&f), None, &[], choice, now).unwrap();
        assert_eq!(req.cutoff, issued + chrono::Duration::seconds(1));
        assert!(req.cutoff_reason.contains("behind the trail's"), "{}", req.cutoff_reason);
        // Hours ahead is no clock to trust.
        let e = request(std::slice::from_ref(&f), None, &[], choice, now - chrono::Duration::hours(2)).unwrap_err();
        assert!(e.to_string().contains("check the clock"), "{e}");
    }
}
