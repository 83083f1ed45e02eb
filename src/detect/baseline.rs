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
//!   from the earliest key, on more keys, fetched through IMDSv2, busier ([`admit`]); the other is a
//!   returning thief. An address shared with people (a bastion) needs three keys and half of the
//!   instance's keys.
//! - When nothing recurs (a young instance, one key each): an address in the instance's region that
//!   no person uses; when several compete, the one whose key came through IMDSv2, then the earliest.
//! - Fleets (Lambda, ECS, CodeBuild, Glue, ...: a new host per cold start, task or build): any AWS
//!   address of the workload's region, private addresses, and the organization's endpoints.

use super::Detector;
use super::origin::OriginClass;
use super::state::{KeyId, KeyState, Origin, Sym, Workload, flag};
use rustc_hash::FxHashMap;

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
    /// A fleet's origin: an address of the workload's region, or a private one.
    Fleet,
}

/// The workload's own origins, and the rivals that recur without its clients.
pub(super) struct Baseline {
    pub own: FxHashMap<Origin, Evidence>,
    /// Origins recurring across the workload's keys but never with its clients: keys used from them.
    pub rivals: FxHashMap<Origin, u32>,
}

/// What is known about one origin across an instance's keys.
#[derive(Default)]
struct Facts {
    keys: u32,
    first_rank: u32,
    clients: Vec<Sym>,
    events: u64,
    v1_only: bool,
    v2: bool,
    call_regions: Vec<Sym>,
    first_ms: i64,
    last_ms: i64,
    /// Keys delivered after this origin was first seen that were used from it.
    fresh_keys: u32,
}

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
            Origin::Ip(a) if matches!(self.cfg.classifier.classify_ip(a), OriginClass::Trusted) => Path::Trusted,
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

    /// An EC2 instance's baseline, from all its keys.
    pub(super) fn instance_baseline(&self, g: &Group<'_>) -> Baseline {
        let mut own: FxHashMap<Origin, Evidence> = FxHashMap::default();
        let mut facts: FxHashMap<Origin, Facts> = FxHashMap::default();
        for (rank, (_, st)) in g.keys.iter().enumerate() {
            for o in &st.origins {
                let f = facts.entry(o.origin).or_insert_with(|| Facts {
                    first_rank: rank as u32,
                    first_ms: i64::MAX,
                    last_ms: i64::MIN,
                    ..Facts::default()
                });
                f.keys += 1;
                f.first_ms = f.first_ms.min(o.first_ms.unwrap_or(i64::MAX));
                f.last_ms = f.last_ms.max(o.last_ms.unwrap_or(i64::MIN));
                f.events += o.count as u64;
                for c in o.clients() {
                    if !f.clients.contains(&c) {
                        f.clients.push(c);
                    }
                }
                for r in o.call_regions.iter().copied().filter(|&r| r != 0) {
                    if !f.call_regions.contains(&r) {
                        f.call_regions.push(r);
                    }
                }
                f.v2 |= o.has(flag::IMDS_V2);
                f.v1_only = (f.v1_only || o.has(flag::IMDS_V1)) && !f.v2;
            }
        }
        for (_, st) in &g.keys {
            let issued = super::judge::issue_time(st);
            for o in &st.origins {
                if let Some(f) = facts.get_mut(&o.origin) {
                    f.fresh_keys += (issued > f.first_ms) as u32;
                }
            }
        }
        let associated: &[std::net::IpAddr] = self.associated.get(&g.session).map_or(&[], |v| v.as_slice());
        let nkeys = g.keys.len() as u32;
        let mut recurring: Vec<Origin> = Vec::new();
        let mut single: Vec<Origin> = Vec::new();
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
                Path::ForeignEndpoint(_) => continue,
                Path::UnknownEndpoint | Path::Address => {}
            }
            if let Origin::Ip(a) = o {
                if associated.contains(a) {
                    own.insert(*o, Evidence::Associated);
                    continue;
                }
            }
            let class = self.cfg.classifier.classify(o);
            let plausible = match &class {
                OriginClass::Private | OriginClass::Endpoint => true,
                c @ OriginClass::Aws(r) => {
                    // Without a delivery record the key's calls stand in for the instance's region.
                    let calls = &f.call_regions;
                    !self.out_of_region(c, g.region)
                        && !(g.region == 0
                            && !calls.is_empty()
                            && !calls.iter().any(|&x| self.syms.name(x) == r.region))
                }
                _ => false,
            };
            if !plausible {
                continue;
            }
            let human = self.humans.contains_key(o);
            if human {
                // A bastion: people and the instance share its address. Only strong recurrence counts.
                if f.keys >= 3 && f.keys * 2 >= nkeys {
                    recurring.push(*o);
                }
            } else if f.keys >= 2 {
                recurring.push(*o);
            } else {
                single.push(*o);
            }
        }
        let mut rivals = FxHashMap::default();
        if !recurring.is_empty() {
            let (admitted, rejected) = admit(&recurring, &facts, |f| {
                (!self.humans.contains_key(&f.0), std::cmp::Reverse(f.1.first_rank), f.1.keys, f.1.v2, f.1.events)
            });
            let contested = !rejected.is_empty();
            for o in admitted {
                own.insert(o, Evidence::Recurring { keys: facts[&o].keys, of: nkeys, rival: contested });
            }
            for o in rejected {
                rivals.insert(o, facts[&o].keys);
            }
        } else if !own.keys().any(|o| matches!(o, Origin::Ip(_))) && !single.is_empty() {
            let (admitted, rejected) =
                admit(&single, &facts, |f| (!f.1.v1_only, std::cmp::Reverse(f.1.first_rank), f.1.v2, f.1.events));
            for o in admitted {
                own.insert(o, Evidence::Sole { competing: !rejected.is_empty() });
            }
        }
        Baseline { own, rivals }
    }
}

/// Admits candidate origins in rank order, best first. An instance egresses through one address at
/// a time, so a candidate used while an admitted one was in use (overlapping first-to-last times) is
/// a rival: someone else holding the same keys. One used only after (an elastic IP moved, a stop
/// and start) is admitted if the workload kept using it on keys delivered after it appeared; a
/// thief using the last keys of a terminated instance gets no new ones. IPv4 and IPv6 are judged
/// apart (a dual-stack instance egresses through one of each). User agents play no part: a thief
/// can copy them.
fn admit<K: Ord>(
    candidates: &[Origin],
    facts: &FxHashMap<Origin, Facts>,
    rank: impl Fn((&Origin, &Facts)) -> K,
) -> (Vec<Origin>, Vec<Origin>) {
    let mut ordered: Vec<&Origin> = candidates.iter().collect();
    ordered.sort_by(|a, b| rank((b, &facts[*b])).cmp(&rank((a, &facts[*a]))).then(a.cmp(b)));
    let (mut admitted, mut rejected): (Vec<Origin>, Vec<Origin>) = (Vec::new(), Vec::new());
    for o in ordered {
        let f = &facts[o];
        // IPv4 and IPv6 are separate egresses: a dual-stack instance uses one of each at once.
        let same_family = |a: &Origin| match (a, o) {
            (Origin::Ip(x), Origin::Ip(y)) => x.is_ipv4() == y.is_ipv4(),
            _ => true,
        };
        let admitted_here: Vec<Origin> = admitted.iter().copied().filter(|a| same_family(a)).collect();
        let overlaps = admitted_here.iter().any(|a| {
            let g = &facts[a];
            f.first_ms < g.last_ms && g.first_ms < f.last_ms
        });
        let later = admitted_here.iter().any(|a| facts[a].last_ms <= f.first_ms);
        if admitted_here.is_empty() || (!overlaps && (!later || f.fresh_keys > 0)) {
            admitted.push(*o);
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
                "{origin}: used on {keys} of the workload's {of} keys, from its earliest keys on (another origin \
                 used the same keys at the same time)"
            ),
            Evidence::Sole { competing: false } => {
                format!("{origin}: an address of the workload's region no person uses (no origin recurs yet)")
            }
            Evidence::Fleet => format!("{origin}: a private address or an AWS address of the workload's region"),
            Evidence::Sole { competing: true } => format!(
                "{origin}: of the workload's one-key origins, the one delivered through IMDSv2 or used earliest"
            ),
        }
    }
}
