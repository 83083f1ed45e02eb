//! From a finding to a decision: act, dry run, or held by a named guardrail; and the [`Responder`]
//! that decides, acts and announces for each batch of findings.

use crate::detect::{Finding, MintedSession};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use super::policy::Policy;
use super::policy::{Level, RoleWide};

/// What was decided for one finding.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Verdict {
    /// The revocation is applied (`--apply`).
    Act,
    /// The revocation would be applied; without `--apply` nothing is changed.
    DryRun,
    /// A guardrail holds the revocation back.
    Held {
        /// The guardrail, by its policy key (`min_confidence`, `deny_roles`, `protect_tag`, ...).
        rule: String,
        /// Why, naming the value that tripped it.
        why: String,
    },
}

/// What happened to an `act` decision's change.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Recorded, not yet applied (the record made before the change).
    Pending,
    /// Applied, read back and recorded in the audit log.
    Applied,
    /// IAM already held the deny: nothing was changed.
    Unchanged,
    /// IAM refused, or planning failed: nothing was changed (see `error`).
    Failed,
    /// Made but not confirmed (see `error`): check it by hand.
    Unverified,
}

/// One inline policy the decision writes (or would write), with the exact documents.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct PlannedPolicy {
    /// Role name.
    pub role: String,
    /// `TrailhoundRevokeSessions` (surgical) or `AWSRevokeOlderSessions` (role-wide).
    pub policy_name: String,
    /// The document IAM holds now; `None` when the role has no such policy.
    pub before: Option<String>,
    /// The document to write (the exact policy JSON).
    pub after: Option<String>,
    /// IAM already holds it: nothing to write.
    pub unchanged: bool,
}

/// One decision: a JSON line on stdout, in the audit log and in notifications (README: Guardrails).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Decision {
    /// Unique id (`rd-...`), shared by the ledger, the audit log and notifications.
    pub id: String,
    /// When it was decided (RFC 3339 UTC).
    pub at: String,
    /// `at` in milliseconds since the epoch (hourly limits count from it).
    pub at_ms: i64,
    /// Act, dry run or held (and by which rule).
    #[serde(flatten)]
    pub verdict: Verdict,
    /// The key (`finding.access_key_id`, repeated for readers that do not open the finding).
    pub access_key_id: String,
    /// Role ARNs the revocation touches: the finding's role and roles it chained into.
    pub roles: Vec<String>,
    /// `surgical` or `role-wide`.
    pub form: String,
    /// Sessions issued before this are denied (RFC 3339 UTC); `None` when held before planning.
    pub cutoff: Option<String>,
    /// The planned policies, from what IAM holds now; `None` when held before planning.
    pub plan: Option<Vec<PlannedPolicy>>,
    /// For `act`: what happened to the change.
    pub outcome: Option<Outcome>,
    /// Audit log ids of the changes made (`trailhound revoke --rollback ID` undoes one).
    pub audit_ids: Vec<String>,
    /// Why planning or applying failed.
    pub error: Option<String>,
    /// Sessions the key chained into that the revocation leaves out, each with the guardrail that
    /// keeps its role out (`deny_roles`, `protect_tag`, ...): a person revokes them, or not.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left_out: Vec<String>,
    /// The finding decided on (without the sessions left out).
    pub finding: Finding,
}

/// What the ledger keeps of an `act` or `dry-run` decision: enough for idempotence and hourly limits.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Acted {
    /// The decision's id.
    pub decision_id: String,
    /// The key acted on.
    pub access_key_id: String,
    /// When it was decided (milliseconds since the epoch).
    pub at_ms: i64,
    /// Decided in a dry run: nothing was changed.
    pub dry_run: bool,
    /// For `act`: what happened to the change.
    pub outcome: Option<Outcome>,
    /// Role ARNs touched.
    pub roles: Vec<String>,
    /// The chained sessions the revocation named ([`chained`], as [`session_id`]s); `None` in ledgers
    /// written before they were kept (those compare by role).
    #[serde(default)]
    pub chained: Option<Vec<String>>,
    /// A role-wide revocation's cutoff (ms): it denies every session of the key's own role (`roles[0]`)
    /// issued before then, whatever its name. `None` for a surgical one, and in older ledgers.
    #[serde(default)]
    pub role_wide_before_ms: Option<i64>,
}

impl Decision {
    /// Whether the decision leaves its finding to be decided again later, changed or not: a change
    /// that failed (nothing was made), or a hold that may lift ([`TRANSIENT_HOLDS`]). Its finding
    /// would otherwise wait for the thief's next call, while the stolen session stays valid.
    pub fn unsettled(&self) -> bool {
        match &self.verdict {
            Verdict::Act => self.outcome == Some(Outcome::Failed),
            Verdict::DryRun => false,
            Verdict::Held { rule, .. } => TRANSIENT_HOLDS.contains(&rule.as_str()),
        }
    }

    /// The ledger's summary of an `act` or `dry-run` decision; `None` for a held one.
    pub fn summary(&self) -> Option<Acted> {
        let dry_run = match self.verdict {
            Verdict::Act => false,
            Verdict::DryRun => true,
            Verdict::Held { .. } => return None,
        };
        Some(Acted {
            decision_id: self.id.clone(),
            access_key_id: self.access_key_id.clone(),
            at_ms: self.at_ms,
            dry_run,
            outcome: self.outcome,
            roles: self.roles.clone(),
            chained: Some(chained(&self.finding).map(session_id).collect()),
            role_wide_before_ms: self.role_wide_cutoff_ms(),
        })
    }

    /// The cutoff of the role-wide deny on the key's own role once this decision's plan is in place:
    /// read from the planned document, as an earlier deny already there is kept when it covers the
    /// key, and its cutoff, not this plan's, is then the one IAM holds. `None` for a surgical one.
    fn role_wide_cutoff_ms(&self) -> Option<i64> {
        if self.form != Form::RoleWide.as_str() {
            return None;
        }
        let own = crate::revoke::iam::role_name(self.roles.first()?);
        let wide = crate::revoke::policy::ROLE_WIDE_POLICY;
        let p = self.plan.as_ref()?.iter().find(|p| p.role == own && p.policy_name == wide)?;
        // No document after the plan means no deny (every statement in it had expired).
        let doc = p.after.as_deref()?;
        crate::revoke::policy::all_sessions_cutoff(doc).map(|t| t.timestamp_millis())
    }
}

/// Decisions already taken, persisted by the consumer's state store with the detector state.
///
/// `record` is called for every decision announced; an `act` decision is recorded twice under one id, before its
/// change is made (outcome `pending`) and with its outcome: the second replaces the first. Keep
/// entries at least as long as a session lives (12 hours) for idempotence, and an hour for the limits.
pub trait Ledger: Send {
    /// The latest `act` or `dry-run` decision recorded for this key.
    fn acted_on(&self, access_key_id: &str) -> Option<Acted>;
    /// `act` decisions (distinct ids, any outcome but `failed` and `unchanged`) decided at or after
    /// `since_ms`, only those touching `role_arn` when given.
    fn revocations_since(&self, since_ms: i64, role_arn: Option<&str>) -> u32;
    /// Records the decision; an error stops its change from being made.
    fn record(&mut self, decision: &Decision) -> anyhow::Result<()>;
}

/// A ledger in memory: for tests, and for one-shot runs that keep no state.
#[derive(Default, Debug, Clone, Serialize, Deserialize)]
pub struct MemoryLedger {
    /// Summaries of `act` and `dry-run` decisions, oldest first, one per decision id.
    pub entries: Vec<Acted>,
}

/// Whether an `act` counts toward the hourly limits: a change that was (or may have been) made.
pub fn counts(a: &Acted) -> bool {
    !a.dry_run && !matches!(a.outcome, Some(Outcome::Failed | Outcome::Unchanged))
}

impl MemoryLedger {
    /// Forgets decisions taken before `before_ms` (keep 12 hours: a session's longest life), so a
    /// long-running process holds a bounded ledger.
    pub fn expire(&mut self, before_ms: i64) {
        self.entries.retain(|a| a.at_ms >= before_ms);
    }
}

impl Ledger for MemoryLedger {
    fn acted_on(&self, access_key_id: &str) -> Option<Acted> {
        self.entries.iter().rev().find(|a| a.access_key_id == access_key_id).cloned()
    }

    fn revocations_since(&self, since_ms: i64, role_arn: Option<&str>) -> u32 {
        let n = self
            .entries
            .iter()
            .filter(|a| a.at_ms >= since_ms && counts(a))
            .filter(|a| role_arn.is_none_or(|r| a.roles.iter().any(|x| x == r)))
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    fn record(&mut self, decision: &Decision) -> anyhow::Result<()> {
        if let Some(s) = decision.summary() {
            match self.entries.iter_mut().find(|a| a.decision_id == s.decision_id) {
                Some(a) => *a = s,
                None => self.entries.push(s),
            }
        }
        Ok(())
    }
}

/// Decides, acts and announces: one per process, holding the audit log open (and locked).
pub struct Responder {
    pub(super) policy: Policy,
    pub(super) apply: bool,
    pub(super) act: super::act::Actor,
    pub(super) announce: super::announce::Announcer,
    /// Dry-run decisions of this process (time, roles): a dry run shows what the hourly limits would hold.
    pub(super) dry_runs: Vec<(i64, Vec<String>)>,
    /// Per key, the last hold announced (rule, why, when): see [`Responder::repeated_hold`].
    pub(super) held: std::collections::HashMap<String, (String, String, i64)>,
    /// Key-already-acted-on holds not announced again (the same rule and reason within
    /// [`REPEAT_HOLD_MS`]).
    pub(super) holds_repeated: u64,
    /// Per key whose last decision was [`Decision::unsettled`], when it may be decided again (ms),
    /// and the finding then decided (a finding that changed is decided at once).
    pub(super) retry_at: std::collections::HashMap<String, (i64, Finding, String)>,
    /// Keys of the findings handled since [`Responder::take_unsettled`] that are still to settle.
    pub(super) unsettled: Vec<String>,
}

/// Hold rules about a role: one of them on a role the key chained into leaves that role out of the
/// revocation instead of holding it (the stolen key would go on minting sessions meanwhile).
pub const ROLE_RULES: [&str; 7] =
    ["deny_accounts", "allow_accounts", "deny_roles", "allow_roles", "self", "protect_tag", "protect_tag_unread"];

/// Hold rules that may lift by themselves: a limit's hour passes, tags or the caller's identity
/// unreadable now may be read.
pub const TRANSIENT_HOLDS: [&str; 4] =
    ["max_per_hour", "max_per_role_per_hour", "protect_tag_unread", "caller_unknown"];

/// The rule of a hold on a key already acted on ([`already`]).
pub const ALREADY_ACTED: &str = "already_acted";
/// The rule of a hold on a key already acted on whose finding now names chained sessions that
/// decision did not ([`already`]).
pub const CHAIN_NOT_COVERED: &str = "chain_not_covered";

/// A key-already-acted-on hold identical to one announced for the same key less than this long ago is
/// not announced again ([`Responder::repeated_hold`]).
pub const REPEAT_HOLD_MS: i64 = 3_600_000;

impl Responder {
    /// Opens the audit log (checked before anything is decided) and the AWS clients. Without `apply`
    /// every decision that would act is a dry run and nothing is changed in IAM.
    pub fn new(
        policy: Policy,
        apply: bool,
        aws: &aws_config::SdkConfig,
        audit_log: &std::path::Path,
    ) -> anyhow::Result<Responder> {
        let act = super::act::Actor::new(aws, audit_log)?;
        let announce = super::announce::Announcer::new(&policy.notify, aws)?;
        Ok(Responder {
            policy,
            apply,
            act,
            announce,
            dry_runs: Vec::new(),
            held: Default::default(),
            holds_repeated: 0,
            retry_at: std::collections::HashMap::new(),
            unsettled: Vec::new(),
        })
    }

    /// Keys whose findings were left to be decided again ([`Decision::unsettled`]), or put off until
    /// their retry time, since the last call: a caller that hands only new or changed findings
    /// hands these again next time.
    pub fn take_unsettled(&mut self) -> Vec<String> {
        std::mem::take(&mut self.unsettled)
    }

    /// Holds not announced because the same key was held by the same rule, for the same reason, less
    /// than [`REPEAT_HOLD_MS`] before.
    pub fn holds_repeated(&self) -> u64 {
        self.holds_repeated
    }

    /// True when this hold says a key was already acted on, as the last one announced for the key said
    /// within [`REPEAT_HOLD_MS`]: a revoked key the thief keeps trying changes its finding at every
    /// batch, and each change is judged again; announcing the same hold each time would bury the
    /// decisions that matter. Only `already_acted` and `chain_not_covered` repeat quietly: any other
    /// hold is on a finding not acted on, whose every change a person may need to see (a severity
    /// that rises, a role chained into behind a role the policy holds). Otherwise the hold is
    /// remembered as announced.
    pub(super) fn repeated_hold(&mut self, key: &str, rule: &str, why: &str, at_ms: i64) -> bool {
        if rule != ALREADY_ACTED && rule != CHAIN_NOT_COVERED {
            return false;
        }
        self.held.retain(|_, (_, _, t)| at_ms - *t < REPEAT_HOLD_MS);
        if self.held.get(key).is_some_and(|(r, w, _)| r == rule && w == why) {
            self.holds_repeated += 1;
            return true;
        }
        self.held.insert(key.to_owned(), (rule.to_owned(), why.to_owned(), at_ms));
        false
    }

    /// Where decision lines go instead of stdout (tests, the Lambda handler's log).
    pub fn with_output(mut self, out: Box<dyn std::io::Write + Send>) -> Responder {
        self.announce.set_output(out);
        self
    }

    /// Also writes each audit log line to `out`, after [`crate::revoke::audit::ECHO_PREFIX`] (the
    /// Lambda function's log, where the log's file in /tmp is lost with the instance).
    pub fn echo_audit_to(&mut self, out: Box<dyn std::io::Write + Send>) {
        self.act.log.echo_to(out);
    }

    /// Waits for notifications still being sent (at shutdown, or the end of a Lambda batch); returns
    /// the failures, each naming the decision and the destination.
    pub async fn drain(&mut self) -> Vec<String> {
        self.announce.drain().await
    }
}

/// The form of a revocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// Deny only the compromised sessions (`TrailhoundRevokeSessions`).
    Surgical,
    /// Deny every session of the role issued before the cutoff (`AWSRevokeOlderSessions`).
    RoleWide,
}

impl Form {
    /// `surgical` or `role-wide`, as in decision lines.
    pub fn as_str(self) -> &'static str {
        match self {
            Form::Surgical => "surgical",
            Form::RoleWide => "role-wide",
        }
    }
}

/// A guardrail that holds a revocation: (rule, why).
pub type Hold = (String, String);

fn hold(rule: &str, why: String) -> Hold {
    (rule.to_owned(), why)
}

/// The sessions the finding's key chained into that a revocation of it names (a role and a session).
pub fn chained(f: &Finding) -> impl Iterator<Item = &MintedSession> {
    f.minted_sessions.iter().filter(|m| !m.role_arn.is_empty() && !m.session_name.is_empty())
}

/// Role ARNs a revocation of the finding touches: its role, then roles it chained into.
pub fn roles_of(f: &Finding) -> Vec<String> {
    let mut out = vec![f.role_arn.clone()];
    for m in chained(f) {
        if !out.contains(&m.role_arn) {
            out.push(m.role_arn.clone());
        }
    }
    out
}

/// A decision already taken for the key, when it makes this one redundant. A change that failed or
/// whose outcome was never recorded (a crash) is tried again: applying the same deny twice changes
/// nothing. A key revoked before the trail showed a session it chained into is held by
/// `chain_not_covered`, naming those sessions: CloudTrail may deliver the `AssumeRole` in a later file
/// than the theft, and only a person can tell whether to revoke again (the first revocation may have
/// been rolled back as a false positive, and a second one must not move its cutoff).
pub fn already(prior: Option<&Acted>, f: &Finding, apply: bool) -> Option<Hold> {
    let a = prior?;
    let why = match a.outcome {
        _ if a.dry_run && apply => return None,
        _ if a.dry_run => format!("decided in a dry run by {}", a.decision_id),
        Some(Outcome::Applied | Outcome::Unchanged) => format!("revoked by decision {}", a.decision_id),
        Some(Outcome::Unverified) => format!(
            "decision {} made a change that was not verified: check it by hand (see its audit ids)",
            a.decision_id
        ),
        Some(Outcome::Pending | Outcome::Failed) | None => return None,
    };
    // A list of chained sessions cut short cannot show that the earlier revocation covered them all.
    if f.minted_sessions_truncated {
        return Some(truncated(f));
    }
    Some(not_covered(a, f).unwrap_or_else(|| hold(ALREADY_ACTED, why)))
}

/// `chain_truncated`: the key assumed more sessions of other roles than the finding lists.
fn truncated(f: &Finding) -> Hold {
    hold(
        "chain_truncated",
        format!(
            "the key assumed more sessions of other roles than the finding lists ({}): a revocation naming only \
             those would leave the rest working; `trailhound report` lists them all",
            f.minted_sessions.len()
        ),
    )
}

/// A chained session as a decision's revocation names it: the deny is on the role and the session
/// name (issued before the cutoff), whatever key the session holds.
pub fn session_id(m: &MintedSession) -> String {
    format!("{}\n{}", m.role_arn, m.session_name)
}

/// `chain_not_covered` when the finding names chained sessions that `a`'s revocation did not: each
/// with the command that plans its revocation, every value from the trail quoted for the shell.
fn not_covered(a: &Acted, f: &Finding) -> Option<Hold> {
    // A session whose mint time is unknown is not counted as issued before the cutoff, nor one minted
    // in the second before it (a token may be issued in the second after its record's time), nor any
    // under a change that was not verified to be in place.
    let role_wide = |m: &MintedSession| {
        a.outcome != Some(Outcome::Unverified)
            && a.role_wide_before_ms.is_some_and(|cutoff| {
                a.roles.first() == Some(&m.role_arn)
                    && m.event_time.as_deref().and_then(crate::time::parse_ms).is_some_and(|t| t + 1000 <= cutoff)
            })
    };
    let missed: Vec<&MintedSession> = chained(f)
        .filter(|m| !role_wide(m))
        .filter(|m| match &a.chained {
            Some(named) => !named.contains(&session_id(m)),
            // A ledger entry from before the sessions were kept: only the roles it chained into (its
            // first role is the key's own, where a new session name is not covered) count.
            None => !a.roles.iter().skip(1).any(|r| *r == m.role_arn),
        })
        .collect();
    if missed.is_empty() {
        return None;
    }
    let shell = |s: &str| crate::report::escape::shell(s).into_owned();
    let each: Vec<String> = missed
        .iter()
        .map(|m| {
            format!(
                "key {} as session {} of {}: trailhound revoke --role {} --session {}",
                shell(&m.access_key_id),
                shell(&m.session_name),
                shell(&m.role_arn),
                shell(&m.role_arn),
                shell(&m.session_name)
            )
        })
        .collect();
    let (what, todo) = if a.dry_run {
        (
            "decided on this key in a dry run",
            "a run with --apply revokes them with the key, unless a guardrail leaves them out",
        )
    } else {
        ("revoked this key", "not revoked automatically (that decision may have been rolled back); revoke by hand")
    };
    Some(hold(
        CHAIN_NOT_COVERED,
        format!(
            "decision {} {what}, and it chained into {} session(s) that decision does not name (the trail showed \
             them later, or a guardrail left them out); {todo}: {}",
            a.decision_id,
            missed.len(),
            each.join(", and ")
        ),
    ))
}

/// The guardrails that need no AWS call: levels, the finding's shape, accounts, roles and the form.
pub fn screen(policy: &Policy, f: &Finding, roles: &[String]) -> Result<Form, Hold> {
    let below = |got: &str, min: Level, what: &str| match Level::parse(got) {
        Some(l) if l >= min => None,
        Some(_) => Some(format!("{what} {got} is below {}", min.as_str())),
        None => Some(format!("{what} {got:?} is not a known level")),
    };
    if let Some(why) = below(&f.severity, policy.min_severity, "severity") {
        return Err(hold("min_severity", why));
    }
    if let Some(why) = below(&f.confidence, policy.min_confidence, "confidence") {
        return Err(hold("min_confidence", why));
    }
    if !f.role_arn.starts_with("arn:") || !f.role_arn.contains(":role/") {
        return Err(hold("finding", format!("the finding names no role ARN ({:?}): nothing to revoke", f.role_arn)));
    }
    if f.minted_sessions_truncated {
        return Err(truncated(f));
    }
    for r in roles {
        policy.role_allowed(r).map_err(|(rule, why)| hold(rule, why))?;
    }
    let surgical_possible = !f.session_name.is_empty();
    match (policy.role_wide, surgical_possible) {
        (RoleWide::Always, _) | (RoleWide::Fallback, false) => Ok(Form::RoleWide),
        (_, true) => Ok(Form::Surgical),
        (RoleWide::Never, false) => Err(hold(
            "role_wide",
            "the finding names no session, so only the role-wide form could revoke it, and the policy does not allow \
             it (role_wide = \"never\")"
                .into(),
        )),
    }
}

/// The hourly limits, counting the ledger's revocations and `extra` (this process's dry runs).
pub fn limits(
    policy: &Policy,
    ledger: &dyn Ledger,
    extra: &[(i64, Vec<String>)],
    roles: &[String],
    now_ms: i64,
) -> Result<(), Hold> {
    let since = now_ms - 3_600_000;
    let extra_for = |role: Option<&str>| {
        let n = extra.iter().filter(|(t, rs)| *t >= since && role.is_none_or(|r| rs.iter().any(|x| x == r))).count();
        u32::try_from(n).unwrap_or(u32::MAX)
    };
    let n = ledger.revocations_since(since, None).saturating_add(extra_for(None));
    if n >= policy.max_per_hour {
        return Err(hold(
            "max_per_hour",
            format!("{n} revocations in the last hour, the limit is {}", policy.max_per_hour),
        ));
    }
    if let Some(max) = policy.max_per_role_per_hour {
        for r in roles {
            let n = ledger.revocations_since(since, Some(r)).saturating_add(extra_for(Some(r)));
            if n >= max {
                return Err(hold(
                    "max_per_role_per_hour",
                    format!("{n} revocations of {r} in the last hour, the limit is {max}"),
                ));
            }
        }
    }
    Ok(())
}

impl Decision {
    /// A decision on `f` taken at `now`, held until a verdict is given.
    pub fn new(f: &Finding, now: DateTime<Utc>) -> Decision {
        let at = now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let id = crate::revoke::audit::new_id(&at, &f.access_key_id, "respond");
        Decision {
            id: format!("rd-{}", id.strip_prefix("rv-").unwrap_or(&id)),
            at,
            at_ms: now.timestamp_millis(),
            verdict: Verdict::Held { rule: String::new(), why: String::new() },
            access_key_id: f.access_key_id.clone(),
            roles: roles_of(f),
            form: Form::Surgical.as_str().into(),
            cutoff: None,
            plan: None,
            outcome: None,
            audit_ids: Vec::new(),
            error: None,
            left_out: Vec::new(),
            finding: f.clone(),
        }
    }

    /// `act`, `dry-run` or `held`.
    pub fn verdict_name(&self) -> &'static str {
        match self.verdict {
            Verdict::Act => "act",
            Verdict::DryRun => "dry-run",
            Verdict::Held { .. } => "held",
        }
    }
}
