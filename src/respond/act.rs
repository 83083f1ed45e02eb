//! Applying a decided revocation through [`crate::revoke`]: the same request, plan, policy JSON,
//! apply, read-back and audit records as `trailhound revoke --apply`.

use super::decide::{
    Decision, Form, Hold, Ledger, Outcome, PlannedPolicy, ROLE_RULES, Responder, Verdict, already, limits, screen,
};
use crate::aws::AwsError;
use crate::detect::Finding;
use crate::revoke::audit::{AuditRecord, Phase, Writer};
use crate::revoke::iam::{Iam, account_of, role_name};
use crate::revoke::{self, Change, CutoffChoice, Plan, RoleRequest};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// IAM clients and the audit log, held for the life of the responder.
pub struct Actor {
    pub(super) iam: Iam,
    pub(super) log: Writer,
    /// Role name -> (when read, carries the protect tag).
    tags: HashMap<String, (Instant, bool)>,
    /// Who makes the changes (STS), asked once.
    caller: Option<String>,
}

impl Actor {
    /// Opens the audit log (refusing a directory, a locked or unwritable file) and the IAM clients.
    pub fn new(aws: &aws_config::SdkConfig, audit_log: &std::path::Path) -> anyhow::Result<Actor> {
        let log = Writer::open(audit_log)?;
        Ok(Actor { iam: Iam::new(aws), log, tags: HashMap::new(), caller: None })
    }

    /// Whether the role carries `tag` (any value; keys compared without case, as IAM keeps them
    /// unique), from a cache younger than `ttl`.
    async fn protected(&mut self, role: &str, tag: &str, ttl: Duration) -> Result<bool, AwsError> {
        if let Some((when, v)) = self.tags.get(role)
            && when.elapsed() < ttl
        {
            return Ok(*v);
        }
        let (mut found, mut marker) = (false, None);
        loop {
            let out = self
                .iam
                .client
                .list_role_tags()
                .role_name(role)
                .set_marker(marker.take())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("ListRoleTags", role, &e))?;
            found |= out.tags().iter().any(|t| t.key().eq_ignore_ascii_case(tag));
            marker = out.marker().map(str::to_owned);
            if !out.is_truncated() || marker.is_none() {
                break;
            }
        }
        self.tags.insert(role.to_owned(), (Instant::now(), found));
        Ok(found)
    }

    /// Who makes the changes. A failure to ask is not kept: the `self` guardrail and the account of
    /// the roles this responder may change depend on the answer, so the next decision asks again.
    async fn caller(&mut self) -> String {
        if let Some(c) = &self.caller {
            return c.clone();
        }
        match self.iam.caller().await {
            Ok(c) => {
                self.caller = Some(c.clone());
                c
            }
            Err(e) => format!("unknown ({e})"),
        }
    }

    /// [`Actor::caller`] when it is known (an ARN); what stands in its place otherwise.
    async fn caller_arn(&mut self) -> Result<String, String> {
        let c = self.caller().await;
        if c.starts_with("arn:") { Ok(c) } else { Err(c) }
    }

    /// Appends the decision to the audit log as a `decided` record.
    async fn record(&mut self, d: &Decision) -> anyhow::Result<()> {
        let why = match &d.verdict {
            Verdict::Held { rule, why } => format!("held by {rule}: {why}"),
            v => format!("{}: {} revocation", if *v == Verdict::Act { "act" } else { "dry run" }, d.form),
        };
        let mut rec = AuditRecord {
            id: d.id.clone(),
            time: d.at.clone(),
            actor: self.caller().await,
            action: "respond-decision".into(),
            target: role_name(&d.finding.role_arn).to_owned(),
            policy_name: None,
            access_key_id: Some(d.access_key_id.clone()),
            before: None,
            after: None,
            cutoff: d.cutoff.clone(),
            verified: false,
            phase: Some(Phase::Decided),
            error: d.error.clone(),
            rollback_of: None,
            reasons: vec![why],
            decision: Some(serde_json::to_value(d)?),
            prev: None,
        };
        self.log.append(&mut rec)
    }
}

/// The planned policies, with the exact documents.
fn planned(plan: &Plan) -> Vec<PlannedPolicy> {
    plan.changes
        .iter()
        .filter_map(|c| match c {
            Change::RolePolicy { role, policy_name, before, merged, .. } => Some(PlannedPolicy {
                role: role.name.clone(),
                policy_name: policy_name.clone(),
                before: before.clone(),
                after: merged.document.clone(),
                unchanged: !merged.changed,
            }),
            _ => None,
        })
        .collect()
}

impl Responder {
    /// Decides on each finding (new or changed since the last call), applies the revocations that
    /// pass the guardrails (with `apply`), and announces and returns every decision but the holds that
    /// repeat one announced within the hour ([`Responder::holds_repeated`] counts those). Never acts
    /// twice on a key.
    pub async fn handle(&mut self, findings: &[Finding], ledger: &mut dyn Ledger, now: DateTime<Utc>) -> Vec<Decision> {
        let mut out = Vec::with_capacity(findings.len());
        // Waits older than a day are forgotten: the keys behind them have expired.
        let stale = now.timestamp_millis() - super::state::LEDGER_HORIZON_MS;
        self.retry_at.retain(|_, (t, _, _)| *t >= stale);
        for f in findings {
            out.extend(self.one(f, ledger, now).await);
        }
        for e in self.announce.reap().await {
            eprintln!("respond: {}", crate::report::escape::term(&e));
        }
        out
    }

    /// The guardrails, cheapest first; the form when none holds.
    async fn guard(&mut self, d: &Decision, ledger: &mut dyn Ledger) -> Result<Form, Hold> {
        if let Some(h) = already(ledger.acted_on(&d.access_key_id).as_ref(), &d.finding, self.apply) {
            return Err(h);
        }
        let form = screen(&self.policy, &d.finding, &d.roles)?;
        expired(&d.finding, d.at_ms)?;
        // A guardrail that cannot be checked holds, as unreadable tags do.
        let caller = self.act.caller_arn().await.map_err(|unknown| {
            let why = format!("cannot tell which role this responder runs as ({unknown}): it must never deny its own");
            ("caller_unknown".to_owned(), why)
        })?;
        if let Some(r) = d.roles.iter().find(|r| is_callers_role(&caller, r)) {
            return Err((
                "self".into(),
                format!(
                    "{} is the role this responder runs as ({caller}): denying it would leave the responder unable \
                     to read, record or check anything until its credentials rotate; revoke it by hand",
                    role_name(r)
                ),
            ));
        }
        let ttl = Duration::from_secs(self.policy.tag_cache_seconds);
        for r in &d.roles {
            let name = role_name(r);
            match self.act.protected(name, &self.policy.protect_tag, ttl).await {
                Ok(false) => {}
                Ok(true) => {
                    return Err((
                        "protect_tag".into(),
                        format!("role {name} carries the tag {}: it is never touched", self.policy.protect_tag),
                    ));
                }
                // Unknown protection counts as protected: a guardrail that cannot be checked holds.
                Err(e) => {
                    return Err((
                        "protect_tag_unread".into(),
                        format!("cannot read the tags of role {name} ({e}): held, as it may be protected"),
                    ));
                }
            }
        }
        limits(&self.policy, &*ledger, &self.dry_runs, &d.roles, d.at_ms)?;
        Ok(form)
    }

    /// Of `roles` (roles the key chained into), those a role guardrail keeps out, with why.
    async fn kept_out(&mut self, roles: &[String]) -> Vec<(String, String)> {
        let caller = self.act.caller().await;
        let ttl = Duration::from_secs(self.policy.tag_cache_seconds);
        let mut out = Vec::new();
        for r in roles {
            let why = if let Err((rule, why)) = self.policy.role_allowed(r) {
                Some(format!("{rule}: {why}"))
            } else if is_callers_role(&caller, r) {
                Some("self: the role this responder runs as".to_owned())
            } else {
                // Tags that cannot be read now leave nothing out: the hold is retried whole.
                match self.act.protected(role_name(r), &self.policy.protect_tag, ttl).await {
                    Ok(true) => Some(format!("protect_tag: carries the tag {}", self.policy.protect_tag)),
                    Ok(false) | Err(_) => None,
                }
            };
            if let Some(why) = why {
                out.push((r.clone(), why));
            }
        }
        out
    }

    /// Of `roles`, those of another account than the responder's (when it knows its own).
    async fn foreign(&mut self, roles: &[String]) -> Vec<(String, String)> {
        let Ok(caller) = self.act.caller_arn().await else { return Vec::new() };
        let mine = account_of(&caller);
        if mine.is_empty() {
            return Vec::new();
        }
        roles
            .iter()
            .filter_map(|r| {
                let theirs = account_of(r);
                (theirs != mine).then(|| {
                    (r.clone(), format!("another account ({theirs}) than this responder's ({mine}): revoke it there"))
                })
            })
            .collect()
    }

    /// The same request and plan `trailhound revoke` makes for this finding.
    async fn plan(&self, f: &Finding, form: Form, now: DateTime<Utc>) -> anyhow::Result<Plan> {
        let choice = CutoffChoice::NowPlus { minutes: self.policy.margin_minutes };
        let req = match form {
            Form::Surgical => revoke::request(std::slice::from_ref(f), None, &[], choice, now)?,
            Form::RoleWide => {
                let whole = RoleRequest {
                    role: role_name(&f.role_arn).to_owned(),
                    sessions: Vec::new(),
                    all_sessions: true,
                    role_id_hint: Some(f.role_id.clone()).filter(|r| !r.is_empty()),
                    reasons: vec![format!(
                        "{} ({} confidence): every session of the role",
                        f.access_key_id, f.confidence
                    )],
                };
                let with_sessions = if f.session_name.is_empty() { &[][..] } else { std::slice::from_ref(f) };
                let mut req = revoke::request(with_sessions, Some(whole), &[], choice, now)?;
                // The role-wide deny covers the role's own sessions; chained roles stay surgical.
                for r in req.roles.iter_mut().filter(|r| r.all_sessions) {
                    r.sessions.clear();
                }
                req
            }
        };
        revoke::plan(&self.act.iam, &req, req.roles.len(), now).await
    }

    async fn one(&mut self, f: &Finding, ledger: &mut dyn Ledger, now: DateTime<Utc>) -> Option<Decision> {
        let key = &f.access_key_id;
        // An unsettled finding comes back at every batch; unchanged, it is decided again once its
        // wait is over.
        let at_ms = now.timestamp_millis();
        let last = self.retry_at.get(key).filter(|(_, seen, _)| seen == f).map(|(t, _, rule)| (*t, rule.clone()));
        if last.as_ref().is_some_and(|(t, _)| at_ms < *t) {
            self.unsettled.push(key.clone());
            return None;
        }
        let d = self.decide(f, ledger, now, last.map(|(_, rule)| rule)).await;
        match &d {
            Some(d) if d.unsettled() => {
                let rule = match &d.verdict {
                    Verdict::Held { rule, .. } => rule.as_str(),
                    _ => "",
                };
                self.owe(f, d.at_ms, rule);
            }
            Some(_) => {
                self.retry_at.remove(key);
            }
            // Not announced: a repeated hold (`decide` keeps a retried one owed).
            None => {}
        }
        d
    }

    /// Decides `f` again `retry_seconds` after `at_ms`; `rule` is the hold's (empty for a failure).
    fn owe(&mut self, f: &Finding, at_ms: i64, rule: &str) {
        let wait = i64::try_from(self.policy.retry_seconds).unwrap_or(3600).saturating_mul(1000);
        self.retry_at.insert(f.access_key_id.clone(), (at_ms.saturating_add(wait), f.clone(), rule.to_owned()));
        self.unsettled.push(f.access_key_id.clone());
    }

    /// `again` is the hold rule of the last decision on this same finding, when it is decided again
    /// only because its wait is over: the same hold then is counted, not announced again.
    async fn decide(
        &mut self,
        f: &Finding,
        ledger: &mut dyn Ledger,
        now: DateTime<Utc>,
        again: Option<String>,
    ) -> Option<Decision> {
        let mut d = Decision::new(f, now);
        // This responder changes IAM in its own account only: a role of another account the key
        // chained into is left out from the start (planning it would fail at every retry).
        let foreign = self.foreign(&d.roles[1..]).await;
        if !foreign.is_empty() {
            d = without(f, &foreign, now);
        }
        let mut guarded = self.guard(&d, ledger).await;
        // A role the key chained into that the policy keeps out is left out: holding everything would
        // leave the stolen key working, free to mint more sessions, until a person acts.
        if let Err((rule, _)) = &guarded
            && ROLE_RULES.contains(&rule.as_str())
        {
            let mut out = self.kept_out(&d.roles[1..]).await;
            if !out.is_empty() {
                out.extend(foreign);
                let partial = without(f, &out, now);
                let again = self.guard(&partial, ledger).await;
                // Held by a role rule still (the key's own role): the hold stands on the whole
                // finding, every session shown.
                if !matches!(&again, Err((rule, _)) if ROLE_RULES.contains(&rule.as_str())) {
                    (d, guarded) = (partial, again);
                }
            }
        }
        let form = match guarded {
            Ok(form) => form,
            Err((rule, why)) => {
                // The same hold on the same finding, retried once its wait was over: still owed.
                if again.as_deref() == Some(rule.as_str()) {
                    self.holds_repeated += 1;
                    self.owe(f, d.at_ms, &rule);
                    return None;
                }
                if self.repeated_hold(&d.access_key_id, &rule, &why, d.at_ms) {
                    return None;
                }
                d.verdict = Verdict::Held { rule, why };
                self.finish(&mut d, ledger).await;
                return Some(d);
            }
        };
        self.held.remove(&d.access_key_id);
        // Planned from the decision's finding: without the sessions left out.
        let decided = d.finding.clone();
        Some(self.act_on(&decided, d, form, ledger, now).await)
    }

    /// Plans, and with `apply` makes, the revocation the guardrails let through.
    async fn act_on(
        &mut self,
        f: &Finding,
        mut d: Decision,
        form: Form,
        ledger: &mut dyn Ledger,
        now: DateTime<Utc>,
    ) -> Decision {
        d.form = form.as_str().into();
        d.verdict = if self.apply { Verdict::Act } else { Verdict::DryRun };
        let plan = match self.plan(f, form, now).await {
            Ok(p) => p,
            Err(e) => {
                d.error = Some(format!("{e:#}; nothing was changed"));
                if self.apply {
                    d.outcome = Some(Outcome::Failed);
                }
                self.finish(&mut d, ledger).await;
                return d;
            }
        };
        d.cutoff = Some(revoke::policy::iso(plan.cutoff));
        d.plan = Some(planned(&plan));
        if !self.apply {
            // Only the last hour matters to the limits: keeps a long dry run's memory bounded.
            self.dry_runs.retain(|(t, _)| *t >= d.at_ms - 3_600_000);
            self.dry_runs.push((d.at_ms, d.roles.clone()));
            self.finish(&mut d, ledger).await;
            return d;
        }
        if plan.changes.iter().all(Change::is_noop) {
            d.outcome = Some(Outcome::Unchanged);
            self.finish(&mut d, ledger).await;
            return d;
        }
        // Recorded before the change, in the ledger (idempotence, limits) and the audit log.
        d.outcome = Some(Outcome::Pending);
        let before = match ledger.record(&d) {
            Ok(()) => self.act.record(&d).await.map_err(|e| format!("the audit log: {e:#}")),
            Err(e) => Err(format!("the ledger: {e:#}")),
        };
        if let Err(e) = before {
            d.outcome = Some(Outcome::Failed);
            d.error = Some(format!("the decision could not be recorded in {e}; nothing was changed"));
            self.finish(&mut d, ledger).await;
            return d;
        }
        let mut plan = plan;
        plan.reasons.push(format!("trailhound respond decision {}", d.id));
        let applied = revoke::apply(&self.act.iam, &plan, &mut self.act.log, now).await;
        d.audit_ids = applied.records.iter().map(|r| r.id.clone()).collect();
        d.outcome = Some(match &applied.failure {
            None => Outcome::Applied,
            // Made (in part, or without read-back): check by hand; never retried blindly.
            Some(e) if e.is::<revoke::Unverified>() || !d.audit_ids.is_empty() => Outcome::Unverified,
            Some(_) => Outcome::Failed,
        });
        d.error = applied.failure.map(|e| format!("{e:#}"));
        self.finish(&mut d, ledger).await;
        d
    }

    /// Records the decision (ledger, audit log), writes its line and sends its notifications.
    /// Recording failures are reported in the decision and on stderr, never dropped.
    async fn finish(&mut self, d: &mut Decision, ledger: &mut dyn Ledger) {
        let mut problems = Vec::new();
        if let Err(e) = ledger.record(d) {
            problems.push(format!("not recorded in the ledger: {e:#}"));
        }
        if let Err(e) = self.act.record(d).await {
            problems.push(format!("not recorded in the audit log: {e:#}"));
        }
        if !problems.is_empty() {
            let p = problems.join("; ");
            eprintln!("respond: decision {}: {}", d.id, crate::report::escape::term(&p));
            d.error = Some(d.error.take().map_or(p.clone(), |e| format!("{e}; {p}")));
        }
        self.announce.emit(d);
        self.announce.notify(d);
    }
}

/// How long after its key was issued nothing it was or made can still work: a role session lives 12
/// hours at most, and a session it chained into one hour more.
pub const SESSIONS_LIVE_MS: i64 = 13 * 3_600_000;

/// `expired`: the key was issued (or, without an issue time, first used) more than
/// [`SESSIONS_LIVE_MS`] before now. An old object delivered late (a dead-letter queue redriven, a
/// copy, a replayed notification) must not deny the sessions the workload holds today.
fn expired(f: &Finding, now_ms: i64) -> Result<(), Hold> {
    let at = |t: &Option<String>| t.as_deref().and_then(crate::time::parse_ms);
    let Some(issued) = at(&f.session_issued_at).or_else(|| at(&f.first_seen)) else { return Ok(()) };
    if now_ms - issued <= SESSIONS_LIVE_MS {
        return Ok(());
    }
    Err((
        "expired".into(),
        format!(
            "the key was issued by {}, {} hours ago: it and every session it chained into have expired, so a \
             deny now would only reach the sessions its workload holds today",
            crate::time::format_ms(issued),
            (now_ms - issued) / 3_600_000
        ),
    ))
}

/// A decision on `f` without the sessions it chained into of the roles in `out` (role, why), which
/// its `left_out` names.
fn without(f: &Finding, out: &[(String, String)], now: DateTime<Utc>) -> Decision {
    let mut rest = f.clone();
    let mut left_out = Vec::new();
    rest.minted_sessions.retain(|m| match out.iter().find(|(r, _)| *r == m.role_arn) {
        Some((_, why)) => {
            left_out.push(format!("session {:?} of {} (key {}): {why}", m.session_name, m.role_arn, m.access_key_id));
            false
        }
        None => true,
    });
    let mut d = Decision::new(&rest, now);
    d.left_out = left_out;
    d
}

/// Whether `role_arn` is the role of `caller` (`arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION`).
fn is_callers_role(caller: &str, role_arn: &str) -> bool {
    let Some(rest) = caller.strip_prefix("arn:") else { return false };
    let Some(resource) = rest.splitn(5, ':').nth(4) else { return false };
    let Some(name) = resource.strip_prefix("assumed-role/").and_then(|r| r.split('/').next()) else { return false };
    account_of(role_arn) == account_of(caller) && role_name(role_arn) == name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_responders_own_role_is_known_by_its_caller_arn() {
        let caller = "arn:aws:sts::111122223333:assumed-role/responder-role/i-0e5e0e5e0e5e0e5e0";
        assert!(is_callers_role(caller, "arn:aws:iam::111122223333:role/responder-role"));
        assert!(is_callers_role(caller, "arn:aws:iam::111122223333:role/ops/responder-role"));
        assert!(!is_callers_role(caller, "arn:aws:iam::444455556666:role/responder-role"));
        assert!(!is_callers_role(caller, "arn:aws:iam::111122223333:role/responder-role-2"));
        assert!(!is_callers_role("arn:aws:iam::111122223333:user/ops", "arn:aws:iam::111122223333:role/ops"));
        assert!(!is_callers_role("unknown (no credentials)", "arn:aws:iam::111122223333:role/x"));
    }
}
