//! From a finding to a decision: act, dry run, or held by a named guardrail; and the [`Responder`]
//! that decides, acts and announces for each batch of findings.

use crate::detect::Finding;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use super::policy::Policy;

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
    /// The finding decided on.
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
}

impl Decision {
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
        })
    }
}

/// Decisions already taken, persisted by the consumer's state store with the detector state.
///
/// `record` is called for every decision; an `act` decision is recorded twice under one id, before its
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
}

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
        Ok(Responder { policy, apply, act, announce })
    }

    /// Where decision lines go instead of stdout (tests, the Lambda handler's log).
    pub fn with_output(mut self, out: Box<dyn std::io::Write + Send>) -> Responder {
        self.announce.set_output(out);
        self
    }

    /// Decides on each finding (new or changed since the last call), applies the revocations that
    /// pass the guardrails (with `apply`), and announces every decision. Never acts twice on a key.
    pub async fn handle(&mut self, findings: &[Finding], ledger: &mut dyn Ledger, now: DateTime<Utc>) -> Vec<Decision> {
        let _ = (findings, ledger, now, &self.policy, self.apply, &self.act, &self.announce);
        Vec::new()
    }

    /// Waits for notifications still being sent (at shutdown, or the end of a Lambda batch); returns
    /// the failures, each naming the decision and the destination.
    pub async fn drain(&mut self) -> Vec<String> {
        self.announce.drain().await
    }
}
