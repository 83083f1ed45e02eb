//! Blast radius: the chain of credentials minted from compromised keys, and everything they did.
//!
//! Two streaming passes. The first records every credential-making edge (a key calling AssumeRole*,
//! GetSessionToken, GetFederationToken or CreateAccessKey, and the key it received; or an AWS service
//! delivering a key to a workload) and each involved key's time range; the chain is the transitive
//! closure from the compromised keys, and the upstream is how the compromised keys themselves came to
//! be. The second pass reads only the chain's time window and keeps the chain's events, with their
//! request parameters.

pub mod impact;
pub mod remediation;

use crate::event::Event;
use crate::scan::EventSink;
use rustc_hash::{FxHashMap, FxHashSet};
use serde::Serialize;

/// One call that made a key, seen in the logs.
#[derive(Clone, Debug)]
pub struct MintEdge {
    /// The calling key; empty when an AWS service delivered the key (instance profile, Lambda, ECS).
    pub parent: String,
    /// The key that was made (`responseElements.credentials.accessKeyId`, or the new key of `CreateAccessKey`).
    pub child: String,
    /// The minting call (`AssumeRole`, `GetSessionToken`, `CreateAccessKey`...).
    pub event_name: String,
    /// Epoch milliseconds of the call; `None` when the event had no readable time.
    pub event_time: Option<i64>,
    /// The role assumed (`requestParameters.roleArn`); empty for calls that assume no role.
    pub role_arn: String,
    /// The session name asked for (`requestParameters.roleSessionName`); empty when none.
    pub session_name: String,
    /// The caller's principal ARN.
    pub principal_arn: String,
    /// The AWS service that made the call on the workload's behalf (`ec2.amazonaws.com`...).
    pub invoked_by: String,
    /// The caller's `sourceIPAddress`.
    pub source_ip: String,
    /// `eventID` of the call.
    pub event_id: String,
}

/// Pass 1: minting edges and each key's time range.
#[derive(Default)]
pub struct MintEdges {
    /// Every successful minting edge seen, in log order.
    pub edges: Vec<MintEdge>,
    /// Time range of every key that mints or is minted, and of the roots.
    pub ranges: FxHashMap<String, (i64, i64)>,
    roots: FxHashSet<String>,
}

impl MintEdges {
    /// Collects edges for a report on `roots`.
    pub fn new(roots: &[String]) -> Self {
        MintEdges { roots: roots.iter().cloned().collect(), ..Self::default() }
    }

    fn widen(&mut self, key: &str, t: Option<i64>) {
        let Some(t) = t else { return };
        let r = self.ranges.entry(key.to_owned()).or_insert((t, t));
        r.0 = r.0.min(t);
        r.1 = r.1.max(t);
    }
}

impl EventSink for MintEdges {
    fn observe(&mut self, ev: &Event<'_>) {
        let key = ev.access_key_id();
        let child = if ev.minted_key().is_empty() { ev.created_key() } else { ev.minted_key() };
        // A key made by nobody's key is kept only when a service delivered it: that is the start of
        // an upstream chain (which instance, function or task the key belonged to).
        if !child.is_empty() && ev.error_code().is_empty() && (!key.is_empty() || !ev.invoked_by().is_empty()) {
            self.edges.push(MintEdge {
                parent: key.to_owned(),
                child: child.to_owned(),
                event_name: ev.event_name().to_owned(),
                event_time: ev.time_ms(),
                role_arn: ev.minted_role_arn().to_owned(),
                session_name: ev.minted_session_name().to_owned(),
                principal_arn: ev.principal_arn().to_owned(),
                invoked_by: ev.invoked_by().to_owned(),
                source_ip: ev.source_ip().to_owned(),
                event_id: ev.event_id().to_owned(),
            });
            if !key.is_empty() {
                self.widen(child, ev.time_ms());
            }
        }
        if !key.is_empty() && (self.roots.contains(key) || self.ranges.contains_key(key)) {
            self.widen(key, ev.time_ms());
        }
    }
}

/// Where a key came from: the call that minted, created or delivered it.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct Provenance {
    /// The key that made the call; `null` when an AWS service delivered the key.
    pub access_key_id: Option<String>,
    /// The caller's principal ARN (a user, a role session); empty for a service delivery.
    pub principal_arn: String,
    /// The AWS service that delivered the key to its workload (`ec2.amazonaws.com`,
    /// `lambda.amazonaws.com`, `ecs-tasks.amazonaws.com`), when one did.
    pub invoked_by: Option<String>,
    /// `AssumeRole`, `GetSessionToken`, `CreateAccessKey`...
    pub event_name: String,
    /// When the call was made (`YYYY-MM-DDTHH:MM:SSZ`, UTC); `null` when the event had no readable time.
    pub event_time: Option<String>,
    /// The caller's source address.
    pub source_ip: String,
    /// `eventID` of the call, to find it in the raw logs.
    pub event_id: String,
}

impl Provenance {
    fn of(e: &MintEdge) -> Self {
        Provenance {
            access_key_id: (!e.parent.is_empty()).then(|| e.parent.clone()),
            principal_arn: e.principal_arn.clone(),
            invoked_by: (!e.invoked_by.is_empty()).then(|| e.invoked_by.clone()),
            event_name: e.event_name.clone(),
            event_time: e.event_time.map(crate::time::format_ms),
            source_ip: e.source_ip.clone(),
            event_id: e.event_id.clone(),
        }
    }
}

/// A key of the chain (or of its upstream).
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct ChainKey {
    /// The key (`AKIA...` or `ASIA...`).
    pub access_key_id: String,
    /// `long_term` (`AKIA...`, an IAM user's key), `session` (`ASIA...`) or `other`.
    pub kind: &'static str,
    /// The key that minted it; `null` for a compromised key the report started from.
    pub minted_by: Option<String>,
    /// The minting call (`AssumeRole`, `GetSessionToken`, `CreateAccessKey`...).
    pub via: Option<String>,
    /// The role this session key belongs to, when known from the minting call or the key's own events.
    pub role_arn: Option<String>,
    /// The session name, when known from the minting call or the key's own events.
    pub session_name: Option<String>,
    /// The call that made this key, when the logs hold it; for the report's own keys this is the
    /// upstream link (which key, principal, call and address minted the compromised key).
    pub provenance: Option<Provenance>,
}

fn kind_of(key: &str) -> &'static str {
    if key.starts_with("AKIA") {
        "long_term"
    } else if key.starts_with("ASIA") {
        "session"
    } else {
        "other"
    }
}

fn key_from(e: &MintEdge, minted_by: Option<String>) -> ChainKey {
    ChainKey {
        access_key_id: e.child.clone(),
        kind: kind_of(&e.child),
        minted_by,
        via: Some(e.event_name.clone()),
        role_arn: (!e.role_arn.is_empty()).then(|| e.role_arn.clone()),
        session_name: (!e.session_name.is_empty()).then(|| e.session_name.clone()),
        provenance: Some(Provenance::of(e)),
    }
}

/// The edge that made each key: the earliest one when the logs hold several (duplicates across
/// trails).
fn made_by(edges: &[MintEdge]) -> FxHashMap<&str, &MintEdge> {
    let mut by_child: FxHashMap<&str, &MintEdge> = FxHashMap::default();
    for e in edges {
        let slot = by_child.entry(e.child.as_str()).or_insert(e);
        if (e.event_time, &e.event_id) < (slot.event_time, &slot.event_id) {
            *slot = e;
        }
    }
    by_child
}

/// The transitive closure of minting from `roots`, in breadth-first order.
pub fn chain(roots: &[String], edges: &[MintEdge]) -> Vec<ChainKey> {
    let by_child = made_by(edges);
    let mut out: Vec<ChainKey> = Vec::new();
    let mut seen: FxHashSet<String> = FxHashSet::default();
    for r in roots {
        if seen.insert(r.clone()) {
            let made = by_child.get(r.as_str());
            let nonempty = |s: &String| (!s.is_empty()).then(|| s.clone());
            out.push(ChainKey {
                access_key_id: r.clone(),
                kind: kind_of(r),
                minted_by: None,
                via: None,
                role_arn: made.and_then(|e| nonempty(&e.role_arn)),
                session_name: made.and_then(|e| nonempty(&e.session_name)),
                provenance: made.map(|e| Provenance::of(e)),
            });
        }
    }
    let mut by_parent: FxHashMap<&str, Vec<&MintEdge>> = FxHashMap::default();
    for e in edges.iter().filter(|e| !e.parent.is_empty()) {
        by_parent.entry(e.parent.as_str()).or_default().push(e);
    }
    let mut i = 0;
    while i < out.len() {
        let parent = out[i].access_key_id.clone();
        if let Some(children) = by_parent.get(parent.as_str()) {
            let mut children = children.clone();
            children.sort_by_key(|e| (e.event_time, e.child.clone()));
            for e in children {
                if seen.insert(e.child.clone()) {
                    out.push(key_from(e, Some(parent.clone())));
                }
            }
        }
        i += 1;
    }
    out
}

/// How the report's keys came to be: the keys that minted them, transitively, nearest first (the
/// chain's own keys are left out). Their calls are not part of the report; they show where the
/// compromise may have started.
pub fn upstream(chain: &[ChainKey], edges: &[MintEdge]) -> Vec<ChainKey> {
    let by_child = made_by(edges);
    let mut seen: FxHashSet<&str> = chain.iter().map(|k| k.access_key_id.as_str()).collect();
    let mut out = Vec::new();
    for root in chain.iter().filter(|k| k.minted_by.is_none()) {
        let mut cur = root.provenance.as_ref().and_then(|p| p.access_key_id.as_deref());
        while let Some(key) = cur {
            if !seen.insert(key) {
                break;
            }
            let e = by_child.get(key);
            let parent = e.map(|e| e.parent.as_str()).filter(|p| !p.is_empty());
            out.push(match e {
                Some(e) => key_from(e, parent.map(str::to_owned)),
                None => ChainKey {
                    access_key_id: key.to_owned(),
                    kind: kind_of(key),
                    minted_by: None,
                    via: None,
                    role_arn: None,
                    session_name: None,
                    provenance: None,
                },
            });
            cur = parent;
        }
    }
    out
}

/// One event of the chain, owned (the report holds only the chain's events).
#[derive(Serialize, Clone, Debug)]
pub struct ReportEvent {
    /// `eventID`.
    pub event_id: String,
    /// `eventTime` normalised to `YYYY-MM-DDTHH:MM:SSZ` (UTC); `null` when unreadable.
    pub event_time: Option<String>,
    /// Epoch milliseconds, for ordering (not serialised).
    #[serde(skip)]
    pub time_ms: Option<i64>,
    /// `eventSource`, e.g. `s3.amazonaws.com`.
    pub event_source: String,
    /// `eventName`.
    pub event_name: String,
    /// `userIdentity.accessKeyId`: the chain key that made the call.
    pub access_key_id: String,
    /// `sourceIPAddress`.
    pub source_ip: String,
    /// `userAgent` (token-shaped strings redacted; attacker-controlled).
    pub user_agent: String,
    /// `awsRegion`.
    pub region: String,
    /// `errorCode`; `null` when the call succeeded.
    pub error_code: Option<String>,
    /// `readOnly`; `null` when the event does not say.
    pub read_only: Option<bool>,
    /// `userIdentity.arn` (token-shaped strings redacted).
    pub principal_arn: String,
    /// ARNs from `resources[]`, empty ones dropped.
    pub resources: Vec<String>,
    /// Request parameters (secrets redacted).
    pub request_parameters: Option<serde_json::Value>,
    /// Response elements (session tokens and secrets redacted).
    pub response_elements: Option<serde_json::Value>,
}

/// Pass 2: the chain's events.
pub struct Collector {
    keys: FxHashSet<String>,
    /// The chain's events, in log order (sorted later by the report).
    pub events: Vec<ReportEvent>,
}

impl Collector {
    /// A collector for the events of the keys in `chain`.
    pub fn new(chain: &[ChainKey]) -> Self {
        Collector { keys: chain.iter().map(|k| k.access_key_id.clone()).collect(), events: Vec::new() }
    }
}

impl EventSink for Collector {
    fn observe(&mut self, ev: &Event<'_>) {
        if !self.keys.contains(ev.access_key_id()) {
            return;
        }
        let parse = |s: &str| {
            (!s.is_empty()).then(|| serde_json::from_str(s).unwrap_or(serde_json::Value::String(s.to_owned())))
        };
        self.events.push(redacted(ReportEvent {
            event_id: ev.event_id().to_owned(),
            event_time: ev.time_ms().map(crate::time::format_ms),
            time_ms: ev.time_ms(),
            event_source: ev.event_source().to_owned(),
            event_name: ev.event_name().to_owned(),
            access_key_id: ev.access_key_id().to_owned(),
            source_ip: ev.source_ip().to_owned(),
            user_agent: ev.user_agent().to_owned(),
            region: ev.region().to_owned(),
            error_code: (!ev.error_code().is_empty()).then(|| ev.error_code().to_owned()),
            read_only: ev.read_only(),
            principal_arn: ev.principal_arn().to_owned(),
            resources: ev.resources().map(|r| r.arn.to_owned()).filter(|a| !a.is_empty()).collect(),
            request_parameters: parse(ev.request_parameters()),
            response_elements: parse(ev.response_elements()),
        }));
    }
}

/// The event with secrets redacted once more, whatever decoding kept: credential fields by name, and
/// token-shaped strings in any field.
fn redacted(mut e: ReportEvent) -> ReportEvent {
    use crate::report::redact::{redact_tokens, scrub};
    for v in [&mut e.request_parameters, &mut e.response_elements].into_iter().flatten() {
        scrub(v);
    }
    for s in [&mut e.user_agent, &mut e.principal_arn] {
        if let std::borrow::Cow::Owned(r) = redact_tokens(s) {
            *s = r;
        }
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge(p: &str, c: &str, t: i64) -> MintEdge {
        MintEdge {
            parent: p.into(),
            child: c.into(),
            event_name: "AssumeRole".into(),
            event_time: Some(t),
            role_arn: "arn:aws:iam::1:role/r".into(),
            session_name: "s".into(),
            principal_arn: String::new(),
            invoked_by: String::new(),
            source_ip: "192.0.2.1".into(),
            event_id: format!("e{t}"),
        }
    }

    #[test]
    fn chain_is_transitive_and_ignores_unrelated_keys() {
        // Edges arrive in any order: the grandchild's edge is seen before its parent's.
        let edges = vec![edge("B", "C", 3), edge("X", "Y", 1), edge("A", "B", 2), edge("C", "A", 4)];
        let c = chain(&["A".into()], &edges);
        let ids: Vec<_> = c.iter().map(|k| (k.access_key_id.as_str(), k.minted_by.as_deref())).collect();
        assert_eq!(ids, [("A", None), ("B", Some("A")), ("C", Some("B"))]);
        // A's own maker (C, in the cycle) is in the chain already: no upstream.
        assert!(upstream(&c, &edges).is_empty());
    }

    #[test]
    fn upstream_walks_to_the_first_unknown_maker() {
        let edges = vec![edge("U", "S1", 1), edge("S1", "S2", 2), edge("S2", "X", 3)];
        let c = chain(&["S2".into()], &edges);
        assert_eq!(c[0].provenance.as_ref().and_then(|p| p.access_key_id.as_deref()), Some("S1"));
        let up: Vec<_> = upstream(&c, &edges).into_iter().map(|k| (k.access_key_id, k.minted_by)).collect();
        assert_eq!(up, [("S1".to_owned(), Some("U".to_owned())), ("U".to_owned(), None)]);
    }
}
