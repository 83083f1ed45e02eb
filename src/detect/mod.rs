//! Detect: temporary workload credentials used somewhere other than their workload.
//!
//! Events feed per-key state ([`state::KeyState`]): the delivery record, the identity, and for each
//! origin the count, times, clients and IMDS version. At the end keys are grouped by workload (an EC2
//! instance, a Lambda function, an ECS task family's role), each workload's baseline of origins is
//! built from all its keys, and every key's origins are judged against it ([`judge`]).

pub mod ipranges;
pub mod judge;
pub mod origin;
pub mod state;

use crate::event::Event;
use crate::scan::EventSink;
use origin::{Classifier, client_family, is_service_call};
use rustc_hash::FxHashMap;
use serde::Serialize;
pub use state::MintedSession;
use state::{Delivery, Interner, KeyState, MAX_EVENT_IDS, MAX_SMALL, OriginUse, Sym, Workload, push_small};

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
    pub access_key_id: String,
    pub account_id: String,
    pub role_arn: String,
    pub role_id: String,
    pub session_name: String,
    /// `ec2`, `lambda`, `ecs` or `other`.
    pub workload: String,
    /// The offending addresses (with `|vpce-...` when through a VPC endpoint).
    pub source_ips: Vec<String>,
    /// Classes of the offending addresses (`outside AWS`, `AWS EC2 us-west-2`, ...), in the same order.
    pub source_classes: Vec<String>,
    /// The workload's own origins, from all its keys.
    pub expected_origins: Vec<String>,
    /// First and last offending event (RFC 3339).
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    /// Offending events.
    pub event_count: u64,
    /// Offending events that failed (AccessDenied storms are reconnaissance).
    pub error_count: u64,
    /// `sessionContext.attributes.creationDate`: what a revocation's `aws:TokenIssueTime` compares.
    pub session_issued_at: Option<String>,
    /// The delivery record of the key, when it is in the scanned logs.
    pub delivery_event_id: Option<String>,
    /// Stable names of the evidence: `outside_aws`, `human_origin`, `not_workload_origin`,
    /// `region_mismatch`, `no_execution_environment`, `client_differs`, `imds_v1`, `never_used_by_workload`.
    pub signals: Vec<String>,
    /// The evidence in words, naming addresses, principals and clients.
    pub reasons: Vec<String>,
    /// The first offending events' `eventID`s.
    pub event_ids: Vec<String>,
    /// Sessions of other roles assumed with this key (role chaining): revoke them too.
    #[serde(default)]
    pub minted_sessions: Vec<MintedSession>,
}

/// Detection settings.
pub struct DetectConfig {
    pub classifier: Classifier,
}

/// Human principals' addresses: a workload key used where a person works is a strong signal.
#[derive(Default)]
pub(crate) struct HumanUse {
    principals: Vec<Sym>,
    count: u64,
}

pub struct Detector {
    pub(crate) cfg: DetectConfig,
    pub(crate) syms: Interner,
    pub(crate) keys: FxHashMap<Box<str>, KeyState>,
    pub(crate) humans: FxHashMap<Sym, HumanUse>,
    /// Instance id -> addresses associated with it (`AssociateAddress`).
    pub(crate) associated: FxHashMap<Sym, Vec<Sym>>,
    /// Allocation id -> public address (`AllocateAddress`), to resolve `AssociateAddress` by allocation.
    allocations: FxHashMap<Box<str>, Sym>,
    pending_assoc: Vec<(Sym, Box<str>)>,
    /// User agent -> client family: user agents repeat across millions of events.
    ua_families: FxHashMap<Box<str>, Sym>,
}

fn delivery_workload(ev: &Event<'_>) -> Option<Workload> {
    if ev.event_name() != "AssumeRole" || ev.minted_key().is_empty() {
        return None;
    }
    let by = if ev.invoked_by().is_empty() { ev.source_ip() } else { ev.invoked_by() };
    match by {
        "ec2.amazonaws.com" => Some(Workload::Ec2),
        "lambda.amazonaws.com" => Some(Workload::Lambda),
        "ecs-tasks.amazonaws.com" => Some(Workload::Ecs),
        _ => None,
    }
}

fn is_human(ev: &Event<'_>) -> bool {
    match ev.principal_type() {
        "IAMUser" | "Root" | "IdentityCenterUser" | "FederatedUser" => true,
        "AssumedRole" => ev.role_arn().contains("/AWSReservedSSO_") || ev.principal_arn().contains("/AWSReservedSSO_"),
        _ => false,
    }
}

impl Detector {
    pub fn new(cfg: DetectConfig) -> Self {
        let mut syms = Interner::default();
        // Symbol 0 is the empty string, so `== 0` reads as "not known yet".
        syms.intern("");
        Detector {
            cfg,
            syms,
            keys: FxHashMap::default(),
            humans: FxHashMap::default(),
            associated: FxHashMap::default(),
            allocations: FxHashMap::default(),
            pending_assoc: Vec::new(),
            ua_families: FxHashMap::default(),
        }
    }

    fn key_state(&mut self, key: &str) -> &mut KeyState {
        if !self.keys.contains_key(key) {
            self.keys.insert(key.into(), KeyState::default());
        }
        self.keys.get_mut(key).expect("inserted above")
    }

    fn origin_sym(&mut self, ev: &Event<'_>) -> Sym {
        if ev.vpc_endpoint_id().is_empty() {
            self.syms.intern(ev.source_ip())
        } else {
            self.syms.intern(&format!("{}|{}", ev.source_ip(), ev.vpc_endpoint_id()))
        }
    }

    fn observe_delivery(&mut self, ev: &Event<'_>, workload: Workload) {
        let session = self.syms.intern(ev.minted_session_name());
        let role_arn = self.syms.intern(ev.minted_role_arn());
        let role_id = self.syms.intern(ev.minted_role_id());
        let account = self.syms.intern(ev.account_id());
        let event_id = self.syms.intern(ev.event_id());
        let st = self.key_state(ev.minted_key());
        st.delivery = Some(Delivery { workload, session, role_arn, role_id, time_ms: ev.time_ms(), event_id });
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
        match ev.event_name() {
            "AssociateAddress" => {
                let inst = ev.target_instance_id();
                if inst.is_empty() {
                    return;
                }
                let inst = self.syms.intern(inst);
                if !ev.target_public_ip().is_empty() {
                    let ip = self.syms.intern(ev.target_public_ip());
                    push_small(self.associated.entry(inst).or_default(), ip);
                } else if !ev.allocation_id().is_empty() {
                    self.pending_assoc.push((inst, ev.allocation_id().into()));
                }
            }
            _ => {}
        }
        if ev.event_name() == "AllocateAddress" && !ev.allocation_id().is_empty() && !ev.target_public_ip().is_empty() {
            let ip = self.syms.intern(ev.target_public_ip());
            self.allocations.insert(ev.allocation_id().into(), ip);
        }
    }

    fn observe_human(&mut self, ev: &Event<'_>) {
        if is_service_call(ev.source_ip(), ev.invoked_by(), ev.event_source()) || ev.source_ip().is_empty() {
            return;
        }
        let origin = self.origin_sym(ev);
        let who = if ev.principal_arn().is_empty() { ev.user_name() } else { ev.principal_arn() };
        let who = self.syms.intern(who);
        let h = self.humans.entry(origin).or_default();
        h.count += 1;
        push_small(&mut h.principals, who);
    }

    fn observe_key_use(&mut self, ev: &Event<'_>) {
        // The hot path of detection: one key-state lookup, and strings interned only when the state
        // lacks them (a key's role and session never change); client families cached by user agent.
        let service = is_service_call(ev.source_ip(), ev.invoked_by(), ev.event_source());
        let ua = ev.user_agent();
        let Detector { syms, keys, ua_families, .. } = self;
        let st = match keys.get_mut(ev.access_key_id()) {
            Some(st) => st,
            None => keys.entry(ev.access_key_id().into()).or_default(),
        };
        st.events += 1;
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
        st.ec2_delivery_field |= !ev.ec2_role_delivery().is_empty();
        if service {
            st.service_events += 1;
            return;
        }
        let global = origin::is_global_service(ev.event_source()) || ev.region().is_empty();
        let hit = st.last.as_deref().filter(|l| l.hash == ev.use_hash() && ev.use_hash() != 0);
        let (idx, family, region, exec_env) = match hit {
            Some(l) => (l.origin_idx, l.family, if global { None } else { l.region_sym }, l.exec_env),
            None => {
                let exec_env = (ua.contains("exec-env/AWS_Lambda"), ua.contains("exec-env/AWS_ECS"));
                let origin = if ev.vpc_endpoint_id().is_empty() {
                    syms.intern(ev.source_ip())
                } else {
                    syms.intern(&format!("{}|{}", ev.source_ip(), ev.vpc_endpoint_id()))
                };
                let family = match ua_families.get(ua) {
                    Some(&f) => f,
                    None => {
                        let f = syms.intern(&client_family(ua));
                        if ua_families.len() < 100_000 {
                            ua_families.insert(ua.into(), f);
                        }
                        f
                    }
                };
                let region_sym = (!ev.region().is_empty()).then(|| syms.intern(ev.region()));
                let idx = match st.origins.iter().position(|o| o.origin == origin) {
                    Some(i) => i,
                    None => {
                        st.origins.push(OriginUse::new(origin));
                        st.origins.len() - 1
                    }
                };
                st.last = Some(Box::new(state::LastSeen {
                    hash: ev.use_hash(),
                    origin_idx: idx,
                    family,
                    region_sym,
                    exec_env,
                }));
                (idx, family, if global { None } else { region_sym }, exec_env)
            }
        };
        let (lambda_env, ecs_env) = exec_env;
        st.lambda_env |= lambda_env;
        st.ecs_env |= ecs_env;
        let o = &mut st.origins[idx];
        o.touch(ev.time_ms());
        if !ev.error_code().is_empty() {
            o.errors += 1;
        }
        if ev.read_only() == Some(false) && ev.error_code().is_empty() {
            o.writes += 1;
        }
        push_small(&mut o.clients, family);
        match ev.ec2_role_delivery() {
            "1.0" => o.imds_v1 = true,
            "2.0" => o.imds_v2 = true,
            _ => {}
        }
        // The agent's heartbeat, not just its user agent (which anyone can send): only then does an origin
        // count as where the instance itself runs.
        o.ssm_agent |= ev.event_source() == "ssm.amazonaws.com"
            && matches!(
                ev.event_name(),
                "UpdateInstanceInformation" | "ListInstanceAssociations" | "UpdateInstanceAssociationStatus"
            )
            && ua.contains("amazon-ssm-agent");
        if lambda_env || ecs_env {
            o.exec_env += 1;
        }
        if let Some(r) = region {
            push_small(&mut o.api_regions, r);
        }
        if o.event_ids.len() < MAX_EVENT_IDS && !ev.event_id().is_empty() {
            // Only the first few ids per origin are kept as evidence: memory must not follow the event count.
            o.event_ids.push(ev.event_id().into());
        }
    }

    /// Judges every key and returns the findings in a stable order.
    pub fn finish(mut self) -> Vec<Finding> {
        for (inst, alloc) in std::mem::take(&mut self.pending_assoc) {
            if let Some(&ip) = self.allocations.get(&alloc) {
                push_small(self.associated.entry(inst).or_default(), ip);
            }
        }
        let t = std::time::Instant::now();
        let findings = judge::judge(&self);
        tracing::debug!(keys = self.keys.len(), ms = t.elapsed().as_millis() as u64, "judged");
        // Freeing per-key state of a large scan takes a noticeable moment; nothing waits for it.
        std::thread::spawn(move || drop(self));
        findings
    }

    pub(crate) fn human_principals(&self, origin: Sym) -> Option<Vec<&str>> {
        self.humans.get(&origin).map(|h| h.principals.iter().map(|&p| self.syms.name(p)).collect())
    }
}

impl EventSink for Detector {
    fn observe(&mut self, ev: &Event<'_>) {
        if let Some(w) = delivery_workload(ev) {
            self.observe_delivery(ev, w);
            return;
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
                let st = self.key_state(ev.access_key_id());
                if st.minted.len() < MAX_SMALL * 2 && !st.minted.contains(&m) {
                    st.minted.push(m);
                }
            }
        }
    }
}

/// The `--config` file: the same settings as the flags, for teams that keep them in a repository.
#[derive(serde::Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default)]
    pub trusted_cidrs: Vec<String>,
    pub ip_ranges: Option<std::path::PathBuf>,
}

impl DetectConfig {
    /// Builds the detection settings from flags and the optional config file (flags add to the file).
    pub fn from_args(args: &crate::cli::DetectArgs) -> anyhow::Result<Self> {
        let file: ConfigFile = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| anyhow::anyhow!("cannot read --config {}: {e}", path.display()))?;
                toml::from_str(&text).map_err(|e| anyhow::anyhow!("--config {}: {e}", path.display()))?
            }
            None => ConfigFile::default(),
        };
        let mut trusted = Vec::new();
        for c in file.trusted_cidrs.iter().chain(&args.trusted_cidrs) {
            let net =
                c.parse::<ipnet::IpNet>().or_else(|_| c.parse::<std::net::IpAddr>().map(ipnet::IpNet::from)).map_err(
                    |_| anyhow::anyhow!("trusted CIDR {c:?} is not an address or CIDR (example: 203.0.113.0/24)"),
                )?;
            trusted.push(net);
        }
        let ranges = match args.ip_ranges.as_ref().or(file.ip_ranges.as_ref()) {
            Some(p) => ipranges::IpRanges::from_file(p)?,
            None => ipranges::IpRanges::builtin()?,
        };
        Ok(DetectConfig { classifier: Classifier { ranges, trusted } })
    }
}
