//! A workload's own origins, learned only from evidence a key holder cannot forge.
//!
//! What a thief controls (user agents, session names he picks, any call he can make, such as the
//! SSM agent's heartbeat) never makes an origin the workload's own. What counts:
//! - AWS's own records: an address `AssociateAddress` attached to the instance; a VPC endpoint owned
//!   by the workload's account, or by an account of the organization (a shared-services account:
//!   `--trusted-account`, or any account the trail itself is about); the operator's trusted CIDRs.
//! - For an EC2 instance: an address that recurs across its keys. A thief with a standing foothold
//!   also recurs, so recurring origins are grouped by the clients they share; when two groups never
//!   share a client, the workload is the group tied to AWS's records, else the one present from the
//!   earliest key, else the one on more keys; the other recurs as a rival (a returning thief).
//!   An address shared with people (a bastion) needs three keys and half of the instance's keys.
//! - When nothing recurs (a young instance, one key each): an address in the instance's region that
//!   no person uses; when several compete, the one whose key came through IMDSv2, then the earliest.
//! - Fleets (Lambda, ECS, CodeBuild, Glue, ...: a new host per cold start, task or build): any AWS
//!   address of the workload's region, private addresses, and the organization's endpoints.

use super::Detector;
use super::origin::OriginClass;
use super::state::{KeyId, KeyState, Origin, Sym, Workload, flag};
use rustc_hash::{FxHashMap, FxHashSet};

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
                let f = facts.entry(o.origin).or_insert_with(|| Facts { first_rank: rank as u32, ..Facts::default() });
                f.keys += 1;
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
        let hard_clients: FxHashSet<Sym> =
            own.keys().filter_map(|o| facts.get(o)).flat_map(|f| f.clients.iter().copied()).collect();
        let mut rivals = FxHashMap::default();
        if !recurring.is_empty() {
            let clusters = cluster(&recurring, &facts);
            let best = pick(&clusters, |c| {
                let f = |o: &Origin| &facts[o];
                (
                    c.iter().any(|o| f(o).clients.iter().any(|x| hard_clients.contains(x))),
                    !c.iter().any(|o| self.humans.contains_key(o)),
                    std::cmp::Reverse(c.iter().map(|o| f(o).first_rank).min().unwrap_or(u32::MAX)),
                    c.iter().map(|o| f(o).keys).max().unwrap_or(0),
                    c.iter().any(|o| f(o).v2),
                    c.iter().map(|o| f(o).events).sum::<u64>(),
                )
            });
            let contested = clusters.len() > 1;
            for (i, c) in clusters.iter().enumerate() {
                for o in c {
                    let keys = facts[o].keys;
                    if i == best {
                        own.insert(*o, Evidence::Recurring { keys, of: nkeys, rival: contested });
                    } else {
                        rivals.insert(*o, keys);
                    }
                }
            }
        } else if !own.keys().any(|o| matches!(o, Origin::Ip(_))) && !single.is_empty() {
            let clusters = cluster(&single, &facts);
            let best = pick(&clusters, |c| {
                let f = |o: &Origin| &facts[o];
                (
                    c.iter().any(|o| f(o).clients.iter().any(|x| hard_clients.contains(x))),
                    !c.iter().any(|o| f(o).v1_only),
                    std::cmp::Reverse(c.iter().map(|o| f(o).first_rank).min().unwrap_or(u32::MAX)),
                    c.iter().any(|o| f(o).v2),
                    c.iter().map(|o| f(o).events).sum::<u64>(),
                )
            });
            for o in &clusters[best] {
                own.insert(*o, Evidence::Sole { competing: clusters.len() > 1 });
            }
        }
        Baseline { own, rivals }
    }
}

/// Groups origins that share a client family (connected components): one workload's paths share
/// its clients; a thief's host shows only his.
fn cluster(origins: &[Origin], facts: &FxHashMap<Origin, Facts>) -> Vec<Vec<Origin>> {
    let mut parent: Vec<usize> = (0..origins.len()).collect();
    fn root(p: &mut [usize], mut i: usize) -> usize {
        while p[i] != i {
            p[i] = p[p[i]];
            i = p[i];
        }
        i
    }
    let mut by_client: FxHashMap<Sym, usize> = FxHashMap::default();
    for (i, o) in origins.iter().enumerate() {
        for &c in &facts[o].clients {
            match by_client.get(&c) {
                Some(&j) => {
                    let (a, b) = (root(&mut parent, i), root(&mut parent, j));
                    parent[a] = b;
                }
                None => {
                    by_client.insert(c, i);
                }
            }
        }
    }
    let mut groups: FxHashMap<usize, Vec<Origin>> = FxHashMap::default();
    for (i, o) in origins.iter().enumerate() {
        let r = root(&mut parent, i);
        groups.entry(r).or_default().push(*o);
    }
    let mut out: Vec<Vec<Origin>> = groups.into_values().collect();
    for g in &mut out {
        g.sort();
    }
    out.sort();
    out
}

/// The index of the cluster with the greatest rank (ties: the first in origin order).
fn pick<K: Ord>(clusters: &[Vec<Origin>], rank: impl Fn(&[Origin]) -> K) -> usize {
    let mut best = 0;
    let mut best_rank = None;
    for (i, c) in clusters.iter().enumerate() {
        let r = rank(c);
        if best_rank.as_ref().is_none_or(|b| r > *b) {
            best = i;
            best_rank = Some(r);
        }
    }
    best
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
                "{origin}: used on {keys} of the workload's {of} keys, with the workload's clients, since its \
                 earliest keys"
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
