//! Detect: temporary workload credentials used somewhere other than their workload.
//!
//! Events feed per-key state ([`state::KeyState`]): the delivery record, the identity, and for each
//! origin (an address, or the VPC endpoint it came through) the count, times, clients and IMDS
//! version. At the end keys are grouped by workload, each workload's baseline of origins is built
//! from evidence a key holder cannot forge ([`baseline`]), and every key is judged against it
//! ([`judge`]).

pub mod baseline;
pub mod config;
mod delivery;
mod evid;
pub mod facts;
pub mod ipranges;
pub mod judge;
mod judge_finding;
mod judge_signals;
mod keep;
mod label;
mod observe;
pub mod origin;
mod prefetch;
mod profile;
pub mod state;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_ecs;
#[cfg(test)]
mod tests_egress;
#[cfg(test)]
mod tests_hostile;
#[cfg(test)]
mod tests_paths;
#[cfg(test)]
mod tests_redeemed;
#[cfg(test)]
mod tests_spoof;
#[cfg(test)]
mod tests_terminated;
mod workload;

use crate::event::Event;
use crate::hashing::KeyedMap;
use crate::scan::EventSink;
pub use config::{ConfigFile, DetectConfig, DetectOptions};
use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};
use serde::Serialize;
pub use state::MintedSession;
use state::{Interner, KeyId, KeyTable, Origin, OriginMap, Sym, Workload};
use std::net::IpAddr;

/// One finding per key. Field names are stable (documented in the README).
#[derive(Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
pub struct Finding {
    /// `exfiltration.outside_aws`, `exfiltration.inside_aws` or `exfiltration.same_origin`.
    pub kind: String,
    /// `critical`, `high`, `medium` or `low`.
    pub severity: String,
    /// `high`, `medium` or `low`.
    pub confidence: String,
    /// The evidence score behind `confidence` (0 to 1).
    pub score: f64,
    /// The key.
    pub access_key_id: String,
    /// Its account.
    pub account_id: String,
    /// The role (`sessionContext.sessionIssuer`).
    pub role_arn: String,
    /// The role's id `AROA...` (what a surgical revocation names).
    pub role_id: String,
    /// Instance id, function name, task or build id.
    pub session_name: String,
    /// `ec2`, `lambda`, `ecs`, `codebuild`, ... (README: delivery paths).
    pub workload: String,
    /// Where the workload runs: the region its credentials were delivered in, when known.
    #[serde(default)]
    pub workload_region: Option<String>,
    /// The offending origins: addresses, or `vpce-...` endpoints.
    pub source_ips: Vec<String>,
    /// Classes of the offending origins (`outside AWS`, `AWS EC2 us-west-2`, ...), in the same order.
    pub source_classes: Vec<String>,
    /// The workload's own origins, from all its keys.
    pub expected_origins: Vec<String>,
    /// Why each expected origin is the workload's own (association, recurrence, endpoint owner...).
    #[serde(default)]
    pub baseline_evidence: Vec<String>,
    /// First and last offending event (RFC 3339).
    pub first_seen: Option<String>,
    /// See `first_seen`.
    pub last_seen: Option<String>,
    /// Offending events.
    pub event_count: u64,
    /// Offending events that failed (AccessDenied storms are reconnaissance).
    pub error_count: u64,
    /// `sessionContext.attributes.creationDate`: what a revocation's `aws:TokenIssueTime` compares.
    pub session_issued_at: Option<String>,
    /// The delivery record of the key, when it is in the scanned logs.
    pub delivery_event_id: Option<String>,
    /// Stable names of the evidence (README: signals).
    pub signals: Vec<String>,
    /// The evidence in words, naming addresses, principals and clients.
    pub reasons: Vec<String>,
    /// The first offending events' `eventID`s.
    pub event_ids: Vec<String>,
    /// Sessions of other roles assumed with this key (role chaining): revoke them too.
    #[serde(default)]
    pub minted_sessions: Vec<MintedSession>,
    /// The key assumed more sessions than `minted_sessions` lists ([`state::MAX_MINTED`], the
    /// earliest): a revocation naming only those would leave the rest working.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub minted_sessions_truncated: bool,
}

impl Finding {
    /// The offending origins as events name them: an address or a `vpce-...` endpoint, without any
    /// `|`-separated qualifier a label carries.
    pub fn origins(&self) -> impl Iterator<Item = &str> {
        self.source_ips.iter().map(|o| o.split('|').next().unwrap_or(o))
    }
}

/// What detection found, and what it could not judge.
#[derive(Debug, Default)]
pub struct Detection {
    /// One finding per key, ordered by `first_seen` then key.
    pub findings: Vec<Finding>,
    /// Things a reader must know (addresses that do not parse), for the run summary.
    pub warnings: Vec<String>,
}

/// Human principals' addresses: a workload key used where a person works is a strong signal.
#[derive(Default)]
pub(crate) struct HumanUse {
    /// The alphabetically first few.
    principals: Vec<Sym>,
}

/// Addresses that did not parse: counted and named in the run summary, never silently dropped.
#[derive(Default)]
struct Unparsable {
    events: u64,
    distinct: usize,
    keys: FxHashSet<KeyId>,
    /// The alphabetically first few, whatever the order they are read in.
    examples: Vec<String>,
}

impl Unparsable {
    fn note_example(&mut self, addr: &str) {
        if self.examples.iter().any(|e| e == addr) {
            return;
        }
        let pos = self.examples.partition_point(|e| e.as_str() < addr);
        if pos < 5 {
            self.examples.insert(pos, addr.to_owned());
            self.examples.truncate(5);
        }
    }
}

/// The streaming detector: feed it every event ([`EventSink`]), then [`Detector::finish`].
pub struct Detector {
    pub(crate) cfg: std::sync::Arc<DetectConfig>,
    pub(crate) syms: Interner,
    pub(crate) keys: KeyTable,
    pub(crate) humans: OriginMap<Origin, HumanUse>,
    /// Instance id -> addresses associated with it (`AssociateAddress`).
    pub(crate) associated: FxHashMap<Sym, Vec<IpAddr>>,
    /// Allocation id -> public address (`AllocateAddress`), to resolve `AssociateAddress` by allocation.
    allocations: KeyedMap<Box<str>, IpAddr>,
    pending_assoc: Vec<(Sym, Box<str>)>,
    /// Instance id -> the first successful `TerminateInstances` naming it (epoch ms): the instance
    /// ended then, and a later call on it (a retry, a thief's) succeeds too without moving its end.
    pub(crate) terminated: FxHashMap<Sym, i64>,
    /// User agent -> client family and the execution environments it names (Lambda, ECS): user
    /// agents repeat across millions of events.
    ua_families: KeyedMap<Box<str>, (Sym, (bool, bool))>,
    /// Bytes of user agent held by `ua_families`.
    ua_cached_bytes: usize,
    /// Accounts the trail names (`recipientAccountId`): the organization's, for endpoint ownership.
    pub(crate) accounts: FxHashSet<Sym>,
    last_account: (Box<str>, Sym),
    /// (account, role, session) -> workload, from delivery records: keys whose own delivery is outside
    /// the window are recognized by an earlier delivery to the same session.
    pub(crate) delivered_sessions: FxHashMap<(Sym, Sym, Sym), Workload>,
    /// (key slot, origin) -> the origin's index, for keys with more than [`ORIGINS_SCANNED`] origins:
    /// searching the list on every call made a key used from thousands of addresses quadratic.
    many_origins: OriginMap<(u32, Origin), u16>,
    /// Slots of keys whose signed identity checks were sent on from some origin: only their roles
    /// can have verifiers ([`profile::Verifiers`]), and looking for them in every key's state read the
    /// whole state once more after the scan.
    pub(crate) checked: Vec<u32>,
    unparsable: Unparsable,
    /// Addresses read without their port or zone.
    repaired: Unparsable,
}

/// How many distinct unparsable strings are kept as origins; past that they share one symbol.
pub(crate) const MAX_UNPARSABLE_NAMES: usize = 1_000;
/// User agents remembered with their client family, and the bytes they may hold together.
pub(crate) const UA_CACHE_ENTRIES: usize = 100_000;
pub(crate) const UA_CACHE_BYTES: usize = 32 << 20;
/// Elastic addresses kept per instance (the smallest, whatever the order they were associated in):
/// a large instance holds hundreds (tens of interfaces of up to 50 addresses each), so a real
/// instance's every elastic address is its own, while a forged trail's thousands stay bounded.
pub(crate) const MAX_ASSOCIATED: usize = 1024;

/// How long after a `TerminateInstances` its instance's keys may still be seen signing. The OS
/// shuts down first (minutes, unless a shutdown script holds it: then only its own address is
/// spared a high finding), and a signature made before may be sent on within its 15 minutes of
/// validity (an identity check); later, nothing on the instance signs. Presigned links and ECR
/// tokens live as long as the key and are never counted.
pub(crate) const TERMINATION_GRACE_MS: i64 = 30 * 60_000;
/// Origins of one key searched in turn; past that many they are indexed ([`Detector::many_origins`]).
pub(crate) const ORIGINS_SCANNED: usize = 16;

impl Detector {
    /// A detector with these settings.
    pub fn new(cfg: DetectConfig) -> Self {
        Self::with_config(std::sync::Arc::new(cfg))
    }

    /// A detector sharing settings already loaded: a long-running consumer judges after every object
    /// and must not read AWS's address ranges again each time.
    pub fn with_config(cfg: std::sync::Arc<DetectConfig>) -> Self {
        let mut syms = Interner::default();
        // Symbol 0 is the empty string, so `== 0` reads as "not known yet".
        syms.intern("");
        Detector {
            cfg,
            syms,
            keys: KeyTable::default(),
            humans: OriginMap::default(),
            associated: FxHashMap::default(),
            allocations: KeyedMap::default(),
            pending_assoc: Vec::new(),
            terminated: FxHashMap::default(),
            ua_families: KeyedMap::default(),
            ua_cached_bytes: 0,
            accounts: FxHashSet::default(),
            last_account: ("".into(), 0),
            delivered_sessions: FxHashMap::default(),
            many_origins: OriginMap::default(),
            checked: Vec::new(),
            unparsable: Unparsable::default(),
            repaired: Unparsable::default(),
        }
    }

    /// Judges every key and returns the findings in a stable order, with the warnings a reader needs.
    pub fn finish(mut self) -> Detection {
        let started = std::time::Instant::now();
        for (inst, alloc) in std::mem::take(&mut self.pending_assoc) {
            if let Some(&ip) = self.allocations.get(&alloc) {
                // The same few as an association by address keeps: an instance given thousands of
                // addresses must not make each a search of all the others.
                state::keep_smallest(self.associated.entry(inst).or_default(), ip, MAX_ASSOCIATED);
            }
        }
        // Origins in a canonical order (first use, then name), not the order they were read in:
        // findings list them so, and must not depend on how the input was split or ordered.
        // Names are made only to break a tie in time, which is rare: making one per origin cost more
        // than the judging on a trail of short-lived keys.
        let syms = &self.syms;
        self.keys.par_states_mut().filter(|st| st.origins.len() > 1).for_each(|st| {
            st.origins.sort_by(|a, b| {
                let time = |o: &state::OriginUse| o.first_ms.unwrap_or(i64::MAX);
                time(a).cmp(&time(b)).then_with(|| a.origin.cmp_label(&b.origin, syms))
            });
            st.last_hash = 0;
        });
        let t = std::time::Instant::now();
        tracing::debug!(ms = started.elapsed().as_millis() as u64, "origins put in canonical order");
        let (findings, notes) = judge::judge(&self);
        tracing::debug!(keys = self.keys.len(), ms = t.elapsed().as_millis() as u64, "judged");
        let mut warnings = notes;
        let u = &self.unparsable;
        if u.events > 0 {
            let quoted: Vec<String> = u.examples.iter().map(|e| format!("{e:?}")).collect();
            warnings.push(format!(
                "{} calls with {} temporary keys came from addresses that do not parse ({}): those calls \
                 were not judged; the keys were judged on their other origins",
                u.events,
                u.keys.len(),
                quoted.join(", ")
            ));
        }
        let r = &self.repaired;
        if r.events > 0 {
            let quoted: Vec<String> = r.examples.iter().map(|e| format!("{e:?}")).collect();
            warnings.push(format!(
                "{} calls came from addresses written with a port or an IPv6 zone ({}): judged as the address \
                 alone",
                r.events,
                quoted.join(", ")
            ));
        }
        // Freeing per-key state of a large scan takes a noticeable moment; nothing waits for it.
        std::thread::spawn(move || drop(self));
        Detection { findings, warnings }
    }

    pub(crate) fn human_principals(&self, origin: &Origin) -> Option<Vec<&str>> {
        self.humans.get(origin).map(|h| h.principals.iter().map(|&p| self.syms.name(p)).collect())
    }
}

impl EventSink for Detector {
    fn observe(&mut self, ev: &Event<'_>) {
        self.observe_event(ev, None);
    }

    fn observe_block(&mut self, evs: &[Event<'_>]) {
        self.observe_events(evs);
    }

    /// The organization's accounts include those whose logs the scan was told to skip: a VPC
    /// endpoint of the organization's network account stays the organization's under `--account`.
    fn trail_accounts(&mut self, accounts: &std::collections::BTreeSet<String>) {
        for a in accounts {
            self.note_account(a);
        }
    }
}
