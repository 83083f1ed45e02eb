//! Blast radius: the chain of credentials minted from compromised keys, and everything they did.
//!
//! Two streaming passes. The first records every credential-minting edge (a key calling AssumeRole*,
//! GetSessionToken or GetFederationToken, and the key it received) and each involved key's time
//! range; the chain is the transitive closure from the compromised keys. The second pass reads only the
//! chain's time window and keeps the chain's events, with their request parameters.

pub mod impact;

use crate::event::Event;
use crate::scan::EventSink;
use rustc_hash::{FxHashMap, FxHashSet};
use serde::Serialize;

/// One minting call seen in the logs.
#[derive(Clone, Debug)]
pub struct MintEdge {
    pub parent: String,
    pub child: String,
    pub event_name: String,
    pub event_time: Option<i64>,
    pub role_arn: String,
    pub session_name: String,
}

/// Pass 1: minting edges and each key's time range.
#[derive(Default)]
pub struct MintEdges {
    pub edges: Vec<MintEdge>,
    /// Time range of every key that mints or is minted, and of the roots.
    pub ranges: FxHashMap<String, (i64, i64)>,
    roots: FxHashSet<String>,
}

impl MintEdges {
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
        if !ev.minted_key().is_empty() && !key.is_empty() && ev.error_code().is_empty() {
            self.edges.push(MintEdge {
                parent: key.to_owned(),
                child: ev.minted_key().to_owned(),
                event_name: ev.event_name().to_owned(),
                event_time: ev.time_ms(),
                role_arn: ev.minted_role_arn().to_owned(),
                session_name: ev.minted_session_name().to_owned(),
            });
            self.widen(ev.minted_key(), ev.time_ms());
        }
        if !key.is_empty() && (self.roots.contains(key) || self.ranges.contains_key(key)) {
            self.widen(key, ev.time_ms());
        }
    }
}

/// A key of the chain.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct ChainKey {
    pub access_key_id: String,
    /// The key that minted it; `null` for a compromised key the report started from.
    pub minted_by: Option<String>,
    /// The minting call (`AssumeRole`, `GetSessionToken`, ...).
    pub via: Option<String>,
    pub role_arn: Option<String>,
    pub session_name: Option<String>,
}

/// The transitive closure of minting from `roots`, in breadth-first order.
pub fn chain(roots: &[String], edges: &[MintEdge]) -> Vec<ChainKey> {
    let mut out: Vec<ChainKey> = Vec::new();
    let mut seen: FxHashSet<String> = FxHashSet::default();
    for r in roots {
        if seen.insert(r.clone()) {
            out.push(ChainKey {
                access_key_id: r.clone(),
                minted_by: None,
                via: None,
                role_arn: None,
                session_name: None,
            });
        }
    }
    let mut by_parent: FxHashMap<&str, Vec<&MintEdge>> = FxHashMap::default();
    for e in edges {
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
                    out.push(ChainKey {
                        access_key_id: e.child.clone(),
                        minted_by: Some(parent.clone()),
                        via: Some(e.event_name.clone()),
                        role_arn: (!e.role_arn.is_empty()).then(|| e.role_arn.clone()),
                        session_name: (!e.session_name.is_empty()).then(|| e.session_name.clone()),
                    });
                }
            }
        }
        i += 1;
    }
    out
}

/// One event of the chain, owned (the report holds only the chain's events).
#[derive(Serialize, Clone, Debug)]
pub struct ReportEvent {
    pub event_id: String,
    pub event_time: Option<String>,
    #[serde(skip)]
    pub time_ms: Option<i64>,
    pub event_source: String,
    pub event_name: String,
    pub access_key_id: String,
    pub source_ip: String,
    pub user_agent: String,
    pub region: String,
    pub error_code: Option<String>,
    pub read_only: Option<bool>,
    pub principal_arn: String,
    pub resources: Vec<String>,
    /// Request parameters (secrets redacted).
    pub request_parameters: Option<serde_json::Value>,
    /// Response elements (session tokens and secrets redacted).
    pub response_elements: Option<serde_json::Value>,
}

/// Pass 2: the chain's events.
pub struct Collector {
    keys: FxHashSet<String>,
    pub events: Vec<ReportEvent>,
}

impl Collector {
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
        self.events.push(ReportEvent {
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
        });
    }
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
        }
    }

    #[test]
    fn chain_is_transitive_and_ignores_unrelated_keys() {
        // Edges arrive in any order: the grandchild's edge is seen before its parent's.
        let edges = vec![edge("B", "C", 3), edge("X", "Y", 1), edge("A", "B", 2), edge("C", "A", 4)];
        let c = chain(&["A".into()], &edges);
        let ids: Vec<_> = c.iter().map(|k| (k.access_key_id.as_str(), k.minted_by.as_deref())).collect();
        assert_eq!(ids, [("A", None), ("B", Some("A")), ("C", Some("B"))]);
    }
}
