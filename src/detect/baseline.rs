//! A workload's own origins, learned only from evidence a key holder cannot forge.
//!
//! What a thief controls (user agents, session names he picks, any call he can make, such as the
//! SSM agent's heartbeat) never makes an origin the workload's own. What counts:
//! - AWS's own records: an address `AssociateAddress` attached to the instance; a VPC endpoint owned
//!   by the workload's account, or by an account of the organization (a shared-services account:
//!   `--trusted-account`, or any account the trail itself is about); the operator's trusted CIDRs.
//! - For an EC2 instance: an address that recurs across its keys. A thief with a standing foothold
//!   also recurs, but an instance egresses through one address at a time: two recurring origins in
//!   use at the same time are rivals, and the workload's is the one not shared with people, present
//!   from the earliest key (keys issued within a minute of each other count as one), fetched through
//!   IMDSv2, on more keys, busier ([`admit`]); the other is a
//!   returning thief. An address shared with people (a bastion) needs three keys and half of the
//!   instance's keys.
//! - When nothing recurs (a young instance, one key each): an address in the instance's region that
//!   no person uses; when several compete, the one whose key came through IMDSv2, then the earliest.
//! - Fleets (Lambda, ECS, CodeBuild, Glue, ...: a new host per cold start, task or build): any AWS
//!   address of the workload's region, private addresses, and the organization's endpoints.

use super::Detector;
use super::judge::{Judged, Signal};
use super::origin::OriginClass;
use super::profile::Verifiers;
use super::state::{KeyId, KeyState, Origin, OriginMap, OriginUse, Sym, Workload, flag};
use rustc_hash::FxHashSet;

/// Keys issued to one workload: one EC2 instance, or one role's fleet.
pub(super) struct Group<'d> {
    pub kind: Workload,
    pub account: Sym,
    pub role: Sym,
    /// The instance id for EC2; 0 for fleets.
    pub session: Sym,
    /// Where the workload runs (the delivery records' region); 0 when unknown.
    pub region: Sym,
    /// Keys in issue order.
    pub keys: Vec<(KeyId, &'d KeyState)>,
}

/// Why an origin is the workload's own.
#[derive(Clone, Debug)]
pub(super) enum Evidence {
    Trusted,
    Associated,
    OwnEndpoint,
    OrgEndpoint(Sym),
    Recurring {
        keys: u32,
        of: u32,
        rival: bool,
    },
    Sole {
        competing: bool,
    },
    /// An address the instance moved to (stop and start, a new NAT, an elastic IP) and kept using on
    /// keys delivered after it left the earlier one.
    Moved,
    /// A VPC endpoint whose owner the record does not name (records before `vpcEndpointAccountId`).
    UnnamedEndpoint,
    /// An endpoint of an account outside the trail that the workload uses on most of its keys from
    /// the first: a shared-services account (name it with `--trusted-account` to be sure).
    SharedEndpoint(Sym),
    /// A fleet's origin: an address of the workload's region, or a private one.
    Fleet,
    /// The egress of a container instance's ECS tasks that use its keys ([`Baseline`]).
    EcsTasks,
}

impl Evidence {
    /// A key's use of an ECS tasks' egress ([`Evidence::EcsTasks`]) that is theirs: every call names
    /// the execution environment, none fetched its key through IMDSv1. Anything else there (a CLI on
    /// the NAT the tasks share with a VPN) is judged.
    pub fn ecs_task_use(o: &OriginUse) -> bool {
        o.has(flag::EXEC_ENV) && !o.has(flag::NO_EXEC_ENV) && !o.has(flag::IMDS_V1)
    }

    /// Whether this evidence makes `o`, one key's use of the origin, the workload's own.
    pub fn covers(&self, o: &OriginUse) -> bool {
        !matches!(self, Evidence::EcsTasks) || Self::ecs_task_use(o)
    }
}

/// The workload's own origins, and the rivals that recur without its clients.
pub(super) struct Baseline {
    pub own: OriginMap<Origin, Evidence>,
    /// Origins recurring across the workload's keys at the same time as its own: keys used from them.
    pub rivals: OriginMap<Origin, u32>,
    /// IPv6 origins used beside the instance's own IPv4 origin on its keys from the first
    /// ([`beside`]): keys used from both.
    pub beside_v4: OriginMap<Origin, u32>,
    /// AWS addresses of another region used from the instance's first key on, on half its keys or
    /// more, when nothing places an address of its own ([`far_egress`]): keys used from them.
    pub far_egress: OriginMap<Origin, u32>,
    /// SSM's agent works from an origin of the workload's own (its heartbeat or its channels,
    /// `ec2messages` and `ssmmessages`, come from there): only then are channel calls from elsewhere
    /// a second agent (a hijack), not the only one reaching SSM its own way (a proxy, a network
    /// account's endpoints, a young instance whose own origin is not yet known). Always true for
    /// fleets, whose own origins are by class.
    pub agent_at_own: bool,
    /// Foreign endpoints used on half the instance's keys or more from its first, on fewer than
    /// [`SHARED_ENDPOINT_KEYS`] (a network account's central endpoints, seen by a young instance):
    /// reported, but the SSM agent's client, where only it uses them, is not new to the instance,
    /// so such a finding stays below high until they are taken as shared.
    pub young_shared: std::collections::HashSet<Origin>,
}

/// What is known about one origin across an instance's keys.
#[derive(Default)]
struct Facts {
    keys: u32,
    /// Rank of the first key used from here, in issue order ([`SAME_ISSUE_MS`]).
    first_rank: u32,
    /// A set: a thief can write a new client on every call.
    clients: FxHashSet<Sym>,
    events: u64,
    v1_only: bool,
    v2: bool,
    /// Keys on which the SSM agent's heartbeat came from here (caller-controlled: a tie-breaker
    /// between rivals only, where either way the keys are reported).
    heartbeat_keys: u32,
    first_ms: i64,
    last_ms: i64,
    /// Issue times of the keys used from here.
    issued: Vec<i64>,
    /// ECS's control plane was called from here (the ECS agent, on a container instance).
    ecs_agent: bool,
    /// Keys on which every call from here named an execution environment (ECS's, in its tasks' SDKs).
    exec_keys: u32,
    /// SSM's agent channels were called from here.
    ssm_channel: bool,
}

/// Keys issued this close after the one before are one delivery for ranking ([`Facts::first_rank`]).
const SAME_ISSUE_MS: i64 = 60_000;

/// Uses of two origins that overlap by less than this are a handover (a NAT replaced, connections
/// draining), not two holders at once.
const HANDOVER_MS: i64 = 15 * 60_000;

/// A foreign endpoint the workload uses on at least this many keys, and half of them, from its
/// first key on, is infrastructure (a shared-services account), not a thief's.
pub(super) const SHARED_ENDPOINT_KEYS: u32 = 3;

/// The class of an origin for a workload, beyond the address itself: endpoints by their owner.
pub(super) enum Path {
    /// The operator's trusted egress.
    Trusted,
    /// A VPC endpoint of the workload's account or of the organization.
    OwnEndpoint(Sym),
    /// A VPC endpoint owned by an account outside the organization.
    ForeignEndpoint(Sym),
    /// A VPC endpoint whose owner the record does not name (records before 2024).
    UnknownEndpoint,
    /// An address (AWS, private or outside) or nothing judgeable.
    Address,
}

impl Detector {
    /// Whose a VPC endpoint is, relative to the workload's account.
    pub(super) fn path_of(&self, o: &Origin, account: Sym) -> Path {
        match *o {
            Origin::Endpoint { owner, .. } if owner == 0 => Path::UnknownEndpoint,
            Origin::Endpoint { owner, .. } => {
                let name = self.syms.name(owner);
                if owner == account
                    || self.accounts.contains(&owner)
                    || self.cfg.trusted_accounts.iter().any(|a| a == name)
                {
                    Path::OwnEndpoint(owner)
                } else {
                    Path::ForeignEndpoint(owner)
                }
            }
            Origin::Ip(a) if self.cfg.classifier.is_trusted(a) => Path::Trusted,
            _ => Path::Address,
        }
    }

    /// True when an AWS address lies in another region than the workload's (never for `GLOBAL`
    /// prefixes, or when the workload's region is unknown).
    pub(super) fn out_of_region(&self, class: &OriginClass<'_>, region: Sym) -> bool {
        match class {
            OriginClass::Aws(r) => region != 0 && r.region != "GLOBAL" && r.region != self.syms.name(region),
            _ => false,
        }
    }

    /// True for an AWS address when the workload's region is known (candidates are already in it).
    fn in_known_region(&self, o: &Origin, region: Sym) -> bool {
        region != 0 && matches!(self.cfg.classifier.classify(o), OriginClass::Aws(_))
    }

    /// Whether a fleet workload's origin is its own by class.
    pub(super) fn fleet_own(&self, o: &Origin, account: Sym, region: Sym) -> Option<Evidence> {
        match self.path_of(o, account) {
            Path::Trusted => Some(Evidence::Trusted),
            Path::OwnEndpoint(owner) if owner == account => Some(Evidence::OwnEndpoint),
            Path::OwnEndpoint(owner) => Some(Evidence::OrgEndpoint(owner)),
            Path::UnknownEndpoint => Some(Evidence::OwnEndpoint),
            Path::ForeignEndpoint(_) => None,
            Path::Address => match self.cfg.classifier.classify(o) {
                OriginClass::Private => Some(Evidence::Fleet),
                ref c @ OriginClass::Aws(_) if !self.out_of_region(c, region) => Some(Evidence::Fleet),
                _ => None,
            },
        }
    }

    /// An EC2 instance's baseline, from all its keys. `shared` collects foreign endpoint owners taken
    /// as shared services, for the run summary.
    pub(super) fn instance_baseline(&self, g: &Group<'_>, verifiers: &Verifiers, shared: &mut Vec<Sym>) -> Baseline {
        let mut own: OriginMap<Origin, Evidence> = OriginMap::default();
        let mut facts: OriginMap<Origin, Facts> = OriginMap::default();
        // Keys issued within a minute of the one before share a rank: EC2 delivers a key for each IMDS
        // version, often in the same second, and an order between them would be their key ids' or a
        // second's, which says nothing (a thief taking every IMDSv1 key would win or lose by them).
        // Keys are in issue order, so the chain is the same whatever the input's order.
        let (mut rank, mut last) = (0, None);
        let ended = self.terminated.get(&g.session).copied();
        for (i, (_, st)) in g.keys.iter().enumerate() {
            let issued = super::judge::issue_time(st);
            if last.is_none_or(|t: i64| issued.saturating_sub(t) > SAME_ISSUE_MS) {
                rank = i;
            }
            last = Some(issued);
            // An address where only the key's signatures were redeemed (presigned links opened, a
            // verifier's identity checks) says nothing of where the instance runs, and is no rival of
            // it. The instance's own occasional `GetCallerIdentity` (a health check) still counts, as
            // do its endpoints and trusted networks, whatever was called through them.
            let redeemed =
                |o: &OriginUse| verifiers.redeemed(o) && matches!(self.path_of(&o.origin, g.account), Path::Address);
            // Nor does one first used once the instance was terminated and signing on after its
            // shutdown: that is someone else with its key (see `TERMINATION_GRACE_MS`).
            let after_end = |o: &OriginUse| {
                ended.is_some_and(|end| {
                    o.first_ms.is_some_and(|f| f > end)
                        && o.last_signed_ms > end.saturating_add(super::TERMINATION_GRACE_MS)
                })
            };
            for o in st.origins.iter().filter(|o| !redeemed(o) && !after_end(o)) {
                let f = facts.entry(o.origin).or_insert_with(|| Facts {
                    first_rank: rank as u32,
                    first_ms: i64::MAX,
                    last_ms: i64::MIN,
                    ..Facts::default()
                });
                f.ecs_agent |= o.has(flag::ECS_AGENT);
                f.exec_keys += Evidence::ecs_task_use(o) as u32;
                f.keys += 1;
                f.issued.push(issued);
                f.first_ms = f.first_ms.min(o.first_ms.unwrap_or(i64::MAX));
                f.last_ms = f.last_ms.max(o.last_ms.unwrap_or(i64::MIN));
                f.events += o.count as u64;
                f.heartbeat_keys += o.has(flag::SSM_HEARTBEAT) as u32;
                f.ssm_channel |= o.has(flag::SSM_CHANNEL);
                f.clients.extend(o.clients());
                f.v2 |= o.has(flag::IMDS_V2);
                f.v1_only = (f.v1_only || o.has(flag::IMDS_V1)) && !f.v2;
            }
        }
        let associated: &[std::net::IpAddr] = self.associated.get(&g.session).map_or(&[], |v| v.as_slice());
        let mut young_shared = std::collections::HashSet::new();
        let nkeys = g.keys.len() as u32;
        // Candidates per IP version: an instance egresses through one address of each at a time.
        let mut candidates: [Vec<Origin>; 2] = [Vec::new(), Vec::new()];
        let mut ordered: Vec<(&Origin, &Facts)> = facts.iter().collect();
        ordered.sort_by_key(|(o, _)| **o);
        for (o, f) in ordered {
            match self.path_of(o, g.account) {
                Path::Trusted => {
                    own.insert(*o, Evidence::Trusted);
                    continue;
                }
                Path::OwnEndpoint(owner) => {
                    let e = if owner == g.account { Evidence::OwnEndpoint } else { Evidence::OrgEndpoint(owner) };
                    own.insert(*o, e);
                    continue;
                }
                Path::UnknownEndpoint => {
                    own.insert(*o, Evidence::UnnamedEndpoint);
                    continue;
                }
                Path::ForeignEndpoint(owner) => {
                    if f.keys >= SHARED_ENDPOINT_KEYS && f.keys * 2 >= nkeys && f.first_rank == 0 {
                        own.insert(*o, Evidence::SharedEndpoint(owner));
                        shared.push(owner);
                    } else if f.keys * 2 >= nkeys && f.first_rank == 0 {
                        young_shared.insert(*o);
                    }
                    continue;
                }
                Path::Address => {}
            }
            let Origin::Ip(a) = o else { continue };
            // Sorted (`keep_smallest`).
            if associated.binary_search(a).is_ok() {
                own.insert(*o, Evidence::Associated);
                continue;
            }
            let plausible = match self.cfg.classifier.classify(o) {
                OriginClass::Private => true,
                ref c @ OriginClass::Aws(_) => !self.out_of_region(c, g.region),
                _ => false,
            };
            if plausible {
                candidates[a.is_ipv6() as usize].push(*o);
            }
        }
        let mut rivals = OriginMap::default();
        let mut admitted_v4: Vec<Origin> = Vec::new();
        let mut beside_v4 = OriginMap::default();
        for (family, list) in candidates.iter().enumerate() {
            // The second address family of a dual-stack instance carries the same programs: a v6
            // origin sharing no client with the instance's v4 addresses is someone else's. Unless it
            // is used on the very keys of the instance's v4 origin from its earliest key on (see
            // [`beside`]): then it is judged apart.
            let list: Vec<Origin> = if family == 1 && !admitted_v4.is_empty() {
                let v4_clients: FxHashSet<Sym> =
                    admitted_v4.iter().flat_map(|o| facts[o].clients.iter().copied()).collect();
                let (shared, apart): (Vec<Origin>, Vec<Origin>) =
                    list.iter().partition(|o| facts[*o].clients.iter().any(|c| v4_clients.contains(c)));
                beside_v4 = beside(g, &facts, &admitted_v4, &apart);
                shared
            } else {
                list.clone()
            };
            let recurring = list.iter().any(|o| facts[o].keys >= 2);
            let (admitted, rejected) = admit(&list, &facts, recurring, |o, f| {
                let human = self.humans.contains_key(o);
                let in_region = self.in_known_region(o, g.region);
                (
                    f.keys >= 2,
                    !human,
                    // Time order first: `admit` reads the ranking as such (an address used after the
                    // first one stopped is a move). Between keys of one delivery, AWS's record of the
                    // IMDS version (an SSRF cannot fetch through IMDSv2), not how many keys an address
                    // used (an SSRF uses every IMDSv1 key where an SDK uses some).
                    std::cmp::Reverse(f.first_rank),
                    f.v2,
                    f.keys,
                    in_region,
                    f.heartbeat_keys,
                    std::cmp::Reverse(f.first_ms),
                    f.events,
                )
            });
            let contested = rejected.iter().any(|o| facts[o].keys >= 2);
            // A container instance (its ECS agent calls from its own address) whose tasks have no
            // role of their own use its keys (through IMDSv2, which an SSRF cannot) from their own
            // egress, a NAT, on every key while they run; their SDKs name ECS's execution
            // environment. That is the instance's second path, not a second holder.
            let ecs_host = admitted.iter().any(|(o, _)| facts[o].ecs_agent);
            let ecs_tasks = |f: &Facts| ecs_host && f.exec_keys >= 2 && f.v2 && !f.v1_only;
            for (o, how) in admitted {
                let f = &facts[&o];
                let e = match how {
                    Admission::First if f.keys >= 2 => {
                        Evidence::Recurring { keys: f.keys, of: nkeys, rival: contested }
                    }
                    Admission::First => Evidence::Sole { competing: list.len() > 1 },
                    Admission::Moved => Evidence::Moved,
                };
                if family == 0 {
                    admitted_v4.push(o);
                }
                own.insert(o, e);
            }
            for o in rejected {
                if ecs_tasks(&facts[&o]) {
                    own.insert(o, Evidence::EcsTasks);
                } else if facts[&o].keys >= 2 {
                    rivals.insert(o, facts[&o].keys);
                }
            }
        }
        // A one-key origin with no positive evidence is no baseline: without a delivery record an
        // IMDSv1 key seen once proves nothing about where the instance runs.
        own.retain(|o, e| match e {
            Evidence::Sole { .. } => {
                let f = &facts[o];
                (self.in_known_region(o, g.region) || f.v2) && !(self.humans.contains_key(o) && f.v1_only)
            }
            _ => true,
        });
        let far_egress = self.far_egress(g, &facts, &own);
        let agent_at_own = own.keys().any(|o| facts.get(o).is_some_and(|f| f.ssm_channel || f.heartbeat_keys > 0));
        Baseline { own, rivals, beside_v4, far_egress, agent_at_own, young_shared }
    }

    /// An instance's egress may leave through another region: a central egress VPC reached over a
    /// Transit Gateway peering, Cloud WAN's inspection in another region. When nothing places an
    /// address of the instance's own of that IP version (its endpoints or trusted networks may), an AWS address of
    /// another region used from its first key on, on half its keys or more (its only key, fetched
    /// through IMDSv2, for a one-key instance), is that egress or a holder of every key: it is not
    /// reported as off the workload's origins as well as out of its region, which together alone
    /// reach high confidence.
    fn far_egress(
        &self,
        g: &Group<'_>,
        facts: &OriginMap<Origin, Facts>,
        own: &OriginMap<Origin, Evidence>,
    ) -> OriginMap<Origin, u32> {
        let mut out = OriginMap::default();
        if g.region == 0 {
            return out;
        }
        // Per IP version: a dual-stack instance's IPv6 may leave in its region, its IPv4 elsewhere.
        let placed = |v6: bool| own.keys().any(|x| matches!(x, Origin::Ip(a) if a.is_ipv6() == v6));
        let nkeys = g.keys.len() as u32;
        for (o, f) in facts {
            let Origin::Ip(a) = o else { continue };
            if placed(a.is_ipv6()) {
                continue;
            }
            let class = self.cfg.classifier.classify(o);
            let recurs = f.keys * 2 >= nkeys && (f.keys >= 2 || (nkeys == 1 && f.v2));
            if f.first_rank == 0 && recurs && !self.humans.contains_key(o) && self.out_of_region(&class, g.region) {
                out.insert(*o, f.keys);
            }
        }
        out
    }
}

/// Of the v6 origins `apart` (no client in common with the instance's v4 ones), those used on the
/// same keys as an admitted v4 origin, from the instance's earliest key on and on half its keys or
/// more, with how many. Dual stack is chosen per program (an SDK's `use_dualstack_endpoint`, the
/// SSM agent's `UseDualStackEndpoint`), so such an origin may be one of the instance's programs, or a
/// second holder of every key since before the window: nothing AWS writes tells them apart, so they
/// are reported at low confidence, for a person, never as the instance's own.
fn beside(g: &Group<'_>, facts: &OriginMap<Origin, Facts>, v4: &[Origin], apart: &[Origin]) -> OriginMap<Origin, u32> {
    // Maps, not lists: a forged trail can name thousands of addresses on one key.
    let mut out: OriginMap<Origin, u32> = apart.iter().filter(|o| facts[*o].first_rank == 0).map(|o| (*o, 0)).collect();
    if out.is_empty() {
        return out;
    }
    let v4: OriginMap<Origin, ()> = v4.iter().map(|o| (*o, ())).collect();
    for (_, st) in &g.keys {
        if !st.origins.iter().any(|o| v4.contains_key(&o.origin)) {
            continue;
        }
        for o in &st.origins {
            if let Some(keys) = out.get_mut(&o.origin) {
                *keys += 1;
            }
        }
    }
    let nkeys = g.keys.len() as u32;
    out.retain(|_, keys| *keys >= 2 && *keys * 2 >= nkeys);
    // An instance egresses through one address of a version at a time: two such origins are not
    // both its programs.
    if out.len() > 1 {
        out.clear();
    }
    out
}

/// Whether `o`, on this key, is the IPv6 origin used beside the instance's own IPv4 origin
/// ([`Baseline::beside_v4`]), and on how many keys: only on a key the instance itself used over IPv4,
/// never where a person works, and not for SSM's agent channels while the agent's heartbeat comes
/// over IPv4 (the agent calls both from one address: channels elsewhere are a hijacker's).
pub(super) fn beside_on_key(d: &Detector, st: &KeyState, owns: &[bool], o: &OriginUse, b: &Baseline) -> Option<u32> {
    let keys = *b.beside_v4.get(&o.origin)?;
    if d.humans.contains_key(&o.origin) {
        return None;
    }
    let v4_own = |x: &OriginUse| matches!(x.origin, Origin::Ip(std::net::IpAddr::V4(_)));
    let mut own_v4 = st.origins.iter().zip(owns).filter(|&(x, &own)| own && v4_own(x)).map(|(x, _)| x).peekable();
    own_v4.peek()?;
    let agent_on_v4 = own_v4.any(|x| x.has(flag::SSM_HEARTBEAT));
    (!(agent_on_v4 && o.has(flag::SSM_CHANNEL))).then_some(keys)
}

/// An IPv6 origin used beside the instance's own IPv4 origin on its keys from the first
/// ([`Baseline::beside_v4`]): one of its programs on dual stack, or a holder of every key since
/// before the window. Reported alone at low confidence, as its own kind of evidence (a finding of
/// the same origin), so a person decides: `respond` acts on nothing below its confidence floor.
pub(super) fn judged_beside_v4<'o>(d: &Detector, o: &'o OriginUse, path: &Path, keys: u32) -> Judged<'o> {
    let label = o.origin.label(&d.syms);
    let reason = format!(
        "{label} (IPv6) is used on {keys} of the instance's keys beside its own IPv4 origin, from its first key, with \
         clients the IPv4 origin never shows: one of the instance's programs on dual stack, or a holder of its keys \
         since before the window"
    );
    Judged {
        origin: o,
        class: super::judge::class_label(d, &d.cfg.classifier.classify(&o.origin), path),
        label,
        outside: false,
        human: false,
        own: true,
        signals: vec![Signal { code: "ipv6_beside_own", reason, weight: 0.3, decisive: true }],
    }
}

/// How a candidate was admitted.
enum Admission {
    /// The best-ranked origin of its address family.
    First,
    /// Used after the admitted ones stopped, on keys delivered after the handover.
    Moved,
}

/// Admits candidate origins in rank order, best first. An instance egresses through one address of a
/// family at a time, so a candidate in use while an admitted one was (overlapping by more than a
/// handover) is a rival: someone else holding the same keys. One used only after (an elastic IP
/// moved, a stop and start, a NAT replaced) is admitted if the instance used it on keys delivered
/// after the handover: a thief using the last keys of a terminated instance gets no new ones. When
/// some origin recurs, a one-key origin is admitted only as a move. User agents play no part: a
/// thief can copy them.
fn admit<K: Ord>(
    candidates: &[Origin],
    facts: &OriginMap<Origin, Facts>,
    recurring: bool,
    rank: impl Fn(&Origin, &Facts) -> K,
) -> (Vec<(Origin, Admission)>, Vec<Origin>) {
    let mut ordered: Vec<&Origin> = candidates.iter().collect();
    ordered.sort_by(|a, b| rank(b, &facts[*b]).cmp(&rank(a, &facts[*a])).then(a.cmp(b)));
    let mut admitted: Vec<(Origin, Admission)> = Vec::new();
    let mut rejected: Vec<Origin> = Vec::new();
    // The last use of any admitted origin.
    let mut handover = i64::MIN;
    for o in ordered {
        let f = &facts[o];
        if admitted.is_empty() {
            if recurring && f.keys < 2 {
                rejected.push(*o);
            } else {
                admitted.push((*o, Admission::First));
                handover = f.last_ms;
            }
            continue;
        }
        // Starting after every admitted origin's last use (less a handover), a candidate overlaps
        // none of them by more than a handover: min(its last, theirs) - max(its first, theirs) is at
        // most their last - its first. So the one running maximum decides, without comparing each
        // candidate with every admitted origin (an instance moving at every key made that quadratic).
        let after = f.first_ms >= handover - HANDOVER_MS;
        // Delivered after the earlier address's last use: the instance itself fetched it after moving.
        let fresh = f.issued.iter().any(|&t| t > handover && t != i64::MAX);
        if after && fresh {
            admitted.push((*o, Admission::Moved));
            handover = handover.max(f.last_ms);
        } else {
            rejected.push(*o);
        }
    }
    (admitted, rejected)
}

impl Evidence {
    /// The evidence in words, for the finding's `baseline_evidence`.
    pub(super) fn describe(&self, d: &Detector, origin: &str) -> String {
        match self {
            Evidence::Trusted => format!("{origin}: a trusted CIDR"),
            Evidence::Associated => format!("{origin}: associated with the instance (AssociateAddress)"),
            Evidence::OwnEndpoint => format!("{origin}: a VPC endpoint of the workload's own account"),
            Evidence::OrgEndpoint(a) => {
                format!("{origin}: a VPC endpoint of account {} (organization or trusted)", d.syms.name(*a))
            }
            Evidence::Recurring { keys, of, rival: false } => {
                format!("{origin}: used on {keys} of the workload's {of} keys")
            }
            Evidence::Recurring { keys, of, rival: true } => format!(
                "{origin}: used on {keys} of the workload's {of} keys, and the better placed of the origins that \
                 used the same keys at the same time (no person, earliest key, IMDSv2, more keys)"
            ),
            Evidence::Sole { competing: false } => {
                format!("{origin}: the instance's one origin so far, in its region or delivered through IMDSv2")
            }
            Evidence::Fleet => format!("{origin}: a private address or an AWS address of the workload's region"),
            Evidence::Moved => format!(
                "{origin}: the instance moved here (its earlier address stopped) and used it on keys delivered after"
            ),
            Evidence::EcsTasks => format!(
                "{origin}: the egress of the instance's ECS tasks (its ECS agent calls from its own address; the \
                 tasks' SDKs name ECS's execution environment and fetch its keys through IMDSv2)"
            ),
            Evidence::UnnamedEndpoint => {
                format!("{origin}: a VPC endpoint (the record does not name its owner account)")
            }
            Evidence::SharedEndpoint(a) => format!(
                "{origin}: a VPC endpoint of account {}, outside the trail, used on most of the workload's keys from \
                 the first: a shared-services account (name it with --trusted-account to be sure)",
                d.syms.name(*a)
            ),
            Evidence::Sole { competing: true } => format!(
                "{origin}: of the workload's one-key origins, the best placed (no person, earliest, IMDSv2 or in \
                 the workload's region)"
            ),
        }
    }
}
