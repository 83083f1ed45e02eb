//! Detect: temporary workload credentials used somewhere other than their workload.
//!
//! Events feed per-key state ([`state::KeyState`]): the delivery record, the identity, and for each
//! origin (an address, or the VPC endpoint it came through) the count, times, clients and IMDS
//! version. At the end keys are grouped by workload, each workload's baseline of origins is built
//! from evidence a key holder cannot forge ([`baseline`]), and every key is judged against it
//! ([`judge`]).

pub mod baseline;
pub mod config;
pub mod ipranges;
pub mod judge;
mod judge_finding;
pub mod origin;
pub mod state;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_hostile;

use crate::event::Event;
use crate::scan::EventSink;
pub use config::{ConfigFile, DetectConfig, DetectOptions};
use origin::{client_family, is_service_call, is_ssm_channel, parse_addr};
use rustc_hash::{FxHashMap, FxHashSet};
use serde::Serialize;
pub use state::MintedSession;
use state::{Delivery, EvId, Interner, KeyId, KeyTable, MAX_MINTED, Origin, OriginUse, Sym, Workload, flag};
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
    principals: Vec<Sym>,
}

/// Addresses that did not parse: counted and named in the run summary, never silently dropped.
#[derive(Default)]
struct Unparsable {
    events: u64,
    distinct: usize,
    keys: FxHashSet<KeyId>,
    examples: Vec<String>,
}

/// The streaming detector: feed it every event ([`EventSink`]), then [`Detector::finish`].
pub struct Detector {
    pub(crate) cfg: DetectConfig,
    pub(crate) syms: Interner,
    pub(crate) keys: KeyTable,
    pub(crate) humans: FxHashMap<Origin, HumanUse>,
    /// Instance id -> addresses associated with it (`AssociateAddress`).
    pub(crate) associated: FxHashMap<Sym, Vec<IpAddr>>,
    /// Allocation id -> public address (`AllocateAddress`), to resolve `AssociateAddress` by allocation.
    allocations: FxHashMap<Box<str>, IpAddr>,
    pending_assoc: Vec<(Sym, Box<str>)>,
    /// User agent -> client family: user agents repeat across millions of events.
    ua_families: FxHashMap<Box<str>, Sym>,
    /// Accounts the trail names (`recipientAccountId`): the organization's, for endpoint ownership.
    pub(crate) accounts: FxHashSet<Sym>,
    last_account: (Box<str>, Sym),
    /// (account, role, session) -> workload, from delivery records: keys whose own delivery is outside
    /// the window are recognized by an earlier delivery to the same session.
    pub(crate) delivered_sessions: FxHashMap<(Sym, Sym, Sym), Workload>,
    unparsable: Unparsable,
    /// Addresses read without their port or zone.
    repaired: Unparsable,
}

/// The workload a delivery record delivers to, when it is one.
fn delivery_workload(ev: &Event<'_>) -> Option<Workload> {
    if ev.minted_key().is_empty() || !ev.error_code().is_empty() {
        return None;
    }
    match ev.event_name() {
        "AssumeRole" => {
            let by = if ev.invoked_by().is_empty() { ev.source_ip() } else { ev.invoked_by() };
            Workload::delivered_by(by)
        }
        // A pod exchanges its service account token; only EKS's OIDC issuers make it a workload
        // (GitHub Actions and other federations run outside AWS by design).
        "AssumeRoleWithWebIdentity" if eks_oidc_region(ev).is_some() => Some(Workload::EksWebIdentity),
        _ => None,
    }
}

/// The region in an EKS OIDC issuer (`oidc.eks.<region>.amazonaws.com/id/...`): where the cluster
/// runs, whatever STS endpoint the pod called.
fn eks_oidc_region<'a>(ev: &Event<'a>) -> Option<&'a str> {
    let p = if ev.identity_provider().is_empty() { ev.principal_id() } else { ev.identity_provider() };
    let rest = &p[p.find("oidc.eks.")? + "oidc.eks.".len()..];
    let region = rest.split('.').next()?;
    (!region.is_empty()).then_some(region)
}

fn is_human(ev: &Event<'_>) -> bool {
    match ev.principal_type() {
        "IAMUser" | "Root" | "IdentityCenterUser" | "FederatedUser" => true,
        "AssumedRole" => ev.role_arn().contains("/AWSReservedSSO_") || ev.principal_arn().contains("/AWSReservedSSO_"),
        _ => false,
    }
}

/// How many distinct unparsable strings are kept as origins; past that they share one symbol.
const MAX_UNPARSABLE_NAMES: usize = 1_000;

impl Detector {
    /// A detector with these settings.
    pub fn new(cfg: DetectConfig) -> Self {
        let mut syms = Interner::default();
        // Symbol 0 is the empty string, so `== 0` reads as "not known yet".
        syms.intern("");
        Detector {
            cfg,
            syms,
            keys: KeyTable::default(),
            humans: FxHashMap::default(),
            associated: FxHashMap::default(),
            allocations: FxHashMap::default(),
            pending_assoc: Vec::new(),
            ua_families: FxHashMap::default(),
            accounts: FxHashSet::default(),
            last_account: ("".into(), 0),
            delivered_sessions: FxHashMap::default(),
            unparsable: Unparsable::default(),
            repaired: Unparsable::default(),
        }
    }

    fn origin_of(&mut self, ev: &Event<'_>) -> Origin {
        if !ev.vpc_endpoint_id().is_empty() {
            return Origin::Endpoint {
                id: self.syms.intern(ev.vpc_endpoint_id()),
                owner: self.syms.intern(ev.vpc_endpoint_account_id()),
            };
        }
        if let Some(a) = parse_addr(ev.source_ip()) {
            return Origin::Ip(a);
        }
        if let Some(a) = origin::repair_addr(ev.source_ip()) {
            let r = &mut self.repaired;
            r.events += 1;
            if r.examples.len() < 5 && !r.examples.iter().any(|x| x == ev.source_ip()) {
                r.examples.push(ev.source_ip().to_owned());
            }
            return Origin::Ip(a);
        }
        let u = &mut self.unparsable;
        u.events += 1;
        if u.examples.len() < 5 && !u.examples.iter().any(|x| x == ev.source_ip()) {
            u.examples.push(ev.source_ip().to_owned());
        }
        let name = if self.syms.get(ev.source_ip()).is_some() {
            ev.source_ip()
        } else if u.distinct < MAX_UNPARSABLE_NAMES {
            u.distinct += 1;
            ev.source_ip()
        } else {
            "(other unparsable addresses)"
        };
        Origin::Unparsable(self.syms.intern(name))
    }

    fn note_account(&mut self, account: &str) {
        if account.is_empty() || *self.last_account.0 == *account {
            return;
        }
        let s = self.syms.intern(account);
        self.accounts.insert(s);
        self.last_account = (account.into(), s);
    }

    fn observe_delivery(&mut self, ev: &Event<'_>, workload: Workload) {
        let session = self.syms.intern(ev.minted_session_name());
        let role_arn = self.syms.intern(ev.minted_role_arn());
        let role_id = self.syms.intern(ev.minted_role_id());
        let account = self.syms.intern(ev.account_id());
        let event_id = EvId::new(ev.event_id(), &mut self.syms);
        let region = match workload {
            Workload::EksWebIdentity => eks_oidc_region(ev).unwrap_or(ev.region()),
            _ => ev.region(),
        };
        let region = self.syms.intern(region);
        let role = if role_id != 0 { role_id } else { role_arn };
        // Only sessions named by the service (an instance id, a function name): a web identity's
        // session name is the caller's choice and must not make other keys judged.
        if workload != Workload::EksWebIdentity {
            self.delivered_sessions.insert((account, role, session), workload);
        }
        let id = KeyId::new(ev.minted_key(), &mut self.syms);
        let st = self.keys.entry(id);
        st.delivery = Some(Box::new(Delivery { workload, region, time_ms: ev.time_ms(), event_id }));
        if st.session == 0 {
            st.session = session;
        }
        if st.role_arn == 0 {
            st.role_arn = role_arn;
        }
        if st.role_id == 0 {
            st.role_id = role_id;
        }
        if st.account == 0 {
            st.account = account;
        }
        if st.issued_ms.is_none() {
            st.issued_ms = ev.time_ms();
        }
    }

    fn observe_address(&mut self, ev: &Event<'_>) {
        if !ev.error_code().is_empty() {
            return;
        }
        let ip = parse_addr(ev.target_public_ip());
        match ev.event_name() {
            "AssociateAddress" if !ev.target_instance_id().is_empty() => {
                let inst = self.syms.intern(ev.target_instance_id());
                if let Some(ip) = ip {
                    let v = self.associated.entry(inst).or_default();
                    if v.len() < 16 && !v.contains(&ip) {
                        v.push(ip);
                    }
                } else if !ev.allocation_id().is_empty() {
                    self.pending_assoc.push((inst, ev.allocation_id().into()));
                }
            }
            "AllocateAddress" if !ev.allocation_id().is_empty() => {
                if let Some(ip) = ip {
                    self.allocations.insert(ev.allocation_id().into(), ip);
                }
            }
            _ => {}
        }
    }

    fn observe_human(&mut self, ev: &Event<'_>) {
        if is_service_call(ev.source_ip(), ev.invoked_by()) || ev.source_ip().is_empty() {
            return;
        }
        // A VPC endpoint is shared network infrastructure (a VPN's users, every instance of a VPC):
        // people working through it say nothing about the keys that use it.
        if !ev.vpc_endpoint_id().is_empty() {
            return;
        }
        // Read like a key's origin, but not counted in the warnings, which speak of keys' calls.
        let Some(a) = parse_addr(ev.source_ip()).or_else(|| origin::repair_addr(ev.source_ip())) else {
            return;
        };
        let origin = Origin::Ip(a);
        let who = if ev.principal_arn().is_empty() { ev.user_name() } else { ev.principal_arn() };
        let who = self.syms.intern(who);
        let h = self.humans.entry(origin).or_default();
        if h.principals.len() < 8 && !h.principals.contains(&who) {
            h.principals.push(who);
        }
    }

    fn observe_key_use(&mut self, ev: &Event<'_>) {
        // The hot path of detection: one key-state lookup, and strings interned only when the state
        // lacks them (a key's role and session never change); client families cached by user agent.
        let id = KeyId::new(ev.access_key_id(), &mut self.syms);
        let service = is_service_call(ev.source_ip(), ev.invoked_by());
        let hash = ev.use_hash();
        let cached = self
            .keys
            .get(&id)
            .filter(|st| st.last_hash == hash && hash != 0 && !st.origins.is_empty())
            .map(|st| (st.last_origin as usize, st.last_family, st.last_env));
        let resolved = match cached {
            _ if service => None,
            Some((idx, family, env)) => Some((idx, family, env, None)),
            None => {
                let ua = ev.user_agent();
                let env = (ua.contains("exec-env/AWS_Lambda"), ua.contains("exec-env/AWS_ECS"));
                let origin = self.origin_of(ev);
                let family = match self.ua_families.get(ua) {
                    Some(&f) => f,
                    None => {
                        let f = self.syms.intern(&client_family(ua));
                        if self.ua_families.len() < 100_000 {
                            self.ua_families.insert(ua.into(), f);
                        }
                        f
                    }
                };
                let region = if origin::is_global_service(ev.event_source()) || ev.region().is_empty() {
                    0
                } else {
                    self.syms.intern(ev.region())
                };
                Some((usize::MAX, family, env, Some((origin, region))))
            }
        };
        let syms = &mut self.syms;
        let st = self.keys.entry(id);
        st.events = st.events.saturating_add(1);
        if st.account == 0 {
            st.account = syms.intern(ev.account_id());
        }
        if st.role_arn == 0 {
            st.role_arn = syms.intern(ev.role_arn());
        }
        if st.role_id == 0 {
            st.role_id = syms.intern(ev.role_id());
        }
        if st.session == 0 {
            st.session = syms.intern(ev.session_name());
        }
        if st.issued_ms.is_none() {
            st.issued_ms = ev.issued_ms();
        }
        st.ec2_field |= !ev.ec2_role_delivery().is_empty();
        let Some((mut idx, family, env, origin)) = resolved else {
            st.service_events = st.service_events.saturating_add(1);
            return;
        };
        let mut call_region = 0;
        if let Some((origin, region)) = origin {
            call_region = region;
            idx = match st.origins.iter().position(|o| o.origin == origin) {
                Some(i) => i,
                None if st.origins.len() < u16::MAX as usize => {
                    // Most keys have one origin: a vector's first growth would reserve four.
                    st.origins.reserve_exact(1);
                    st.origins.push(OriginUse::new(origin));
                    st.origins.len() - 1
                }
                None => st.origins.len() - 1,
            };
            if let Origin::Unparsable(_) = origin {
                self.unparsable.keys.insert(id);
            }
            // A global call records no region: the next call, maybe regional, must not take the shortcut.
            st.last_hash = if region == 0 && !ev.region().is_empty() { 0 } else { hash };
            st.last_origin = idx as u16;
            st.last_family = family;
            st.last_env = env;
        }
        let (lambda_env, ecs_env) = env;
        st.lambda_env |= lambda_env;
        st.ecs_env |= ecs_env;
        let o = &mut st.origins[idx];
        o.touch(ev.time_ms());
        if !ev.error_code().is_empty() {
            o.errors = o.errors.saturating_add(1);
        }
        if ev.read_only() == Some(false) && ev.error_code().is_empty() {
            o.writes = o.writes.saturating_add(1);
        }
        o.add_client(family);
        o.add_call_region(call_region);
        o.flags |= match ev.ec2_role_delivery() {
            "1.0" => flag::IMDS_V1,
            "2.0" => flag::IMDS_V2,
            _ => 0,
        };
        if is_ssm_channel(ev.event_source()) {
            o.flags |= flag::SSM_CHANNEL;
        }
        if ev.event_name() == "UpdateInstanceInformation" && ev.user_agent().contains("amazon-ssm-agent") {
            o.flags |= flag::SSM_HEARTBEAT;
        }
        o.flags |= if lambda_env || ecs_env { flag::EXEC_ENV } else { flag::NO_EXEC_ENV };
        if o.event_ids[state::MAX_EVENT_IDS - 1].is_none() && !ev.event_id().is_empty() {
            o.add_event_id(EvId::new(ev.event_id(), syms));
        }
    }

    /// Judges every key and returns the findings in a stable order, with the warnings a reader needs.
    pub fn finish(mut self) -> Detection {
        for (inst, alloc) in std::mem::take(&mut self.pending_assoc) {
            if let Some(&ip) = self.allocations.get(&alloc) {
                let v = self.associated.entry(inst).or_default();
                if !v.contains(&ip) {
                    v.push(ip);
                }
            }
        }
        let t = std::time::Instant::now();
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
        self.note_account(ev.account_id());
        if let Some(w) = delivery_workload(ev) {
            self.observe_delivery(ev, w);
            // A pod's own exchange is a call too: where it came from is the pod.
            if w != Workload::EksWebIdentity {
                return;
            }
        }
        if matches!(ev.event_name(), "AssociateAddress" | "AllocateAddress") {
            self.observe_address(ev);
        }
        if is_human(ev) {
            self.observe_human(ev);
        }
        if ev.is_temporary_key() {
            self.observe_key_use(ev);
            if !ev.minted_key().is_empty() && ev.error_code().is_empty() {
                let m = MintedSession {
                    access_key_id: ev.minted_key().to_owned(),
                    role_arn: ev.minted_role_arn().to_owned(),
                    role_id: ev.minted_role_id().to_owned(),
                    session_name: ev.minted_session_name().to_owned(),
                    event_time: ev.time_ms().map(crate::time::format_ms),
                };
                let id = KeyId::new(ev.access_key_id(), &mut self.syms);
                let minted = self.keys.entry(id).minted.get_or_insert_with(Default::default);
                if minted.len() < MAX_MINTED && !minted.contains(&m) {
                    minted.push(m);
                }
            }
        }
    }
}
