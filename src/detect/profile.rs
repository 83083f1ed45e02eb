//! A workload's profile over its keys' own origins (clients, IMDS versions, EKS nodes), and one
//! key's share of it: a key is compared with all the others by subtracting its share, instead of
//! walking every other key. Also the origins that only checked the workload's identity (verifiers),
//! and what all of one key's origins show together ([`KeyWide`]).

use super::Detector;
use super::origin::is_eks_node_client;
use super::state::{KeyState, Origin, OriginMap, OriginUse, Sym, flag};
use rustc_hash::{FxHashMap, FxHashSet};

/// Counts over a workload's keys' own origins, so one key can be compared with all the others.
#[derive(Default)]
pub(super) struct Profile {
    clients: FxHashMap<Sym, u32>,
    client_pairs: u32,
    v1: u32,
    v2: u32,
    eks: u32,
    /// The clients in name order, once all keys are added ([`Profile::sort_names`]).
    by_name: Vec<Sym>,
}

/// A few client families, inline: one per key would otherwise be an allocation per key.
#[derive(Default)]
struct ClientSet {
    items: [Sym; 8],
    len: u8,
}

impl ClientSet {
    fn contains(&self, c: &Sym) -> bool {
        self.items[..self.len as usize].contains(c)
    }
    fn push(&mut self, c: Sym) {
        if (self.len as usize) < self.items.len() {
            self.items[self.len as usize] = c;
            self.len += 1;
        }
    }
    fn len(&self) -> usize {
        self.len as usize
    }
    fn iter(&self) -> impl Iterator<Item = &Sym> {
        self.items[..self.len as usize].iter()
    }
}

/// One key's share of a [`Profile`].
#[derive(Default)]
pub(super) struct Share {
    clients: ClientSet,
    v1: bool,
    v2: bool,
    eks: bool,
}

impl Share {
    /// `own[i]` tells whether the key's `i`-th origin is the workload's own.
    pub(super) fn of(st: &KeyState, own: &[bool], d: &Detector) -> Share {
        let mut s = Share::default();
        // An origin where the key's signatures were only redeemed (links opened by browsers, a
        // verifier's identity checks) shows their clients, not the workload's.
        for (o, _) in st.origins.iter().zip(own).filter(|(o, own)| **own && o.has(flag::SIGNED_HERE)) {
            for c in o.clients() {
                if !s.clients.contains(&c) {
                    s.clients.push(c);
                }
                s.eks |= is_eks_node_client(d.syms.name(c));
            }
            s.v1 |= o.has(flag::IMDS_V1);
            s.v2 |= o.has(flag::IMDS_V2);
        }
        s
    }
}

impl Profile {
    pub(super) fn add(&mut self, s: &Share) {
        for &c in s.clients.iter() {
            *self.clients.entry(c).or_default() += 1;
        }
        self.client_pairs += s.clients.len() as u32;
        self.v1 += s.v1 as u32;
        self.v2 += s.v2 as u32;
        self.eks += s.eks as u32;
    }

    /// Puts the clients in name order, once: every finding that names the workload's clients then
    /// reads the first few, instead of sorting all of them (a workload of thousands of keys, each
    /// with a client of its own, made that quadratic).
    pub(super) fn sort_names(&mut self, d: &Detector) {
        self.by_name = self.clients.keys().copied().collect();
        self.by_name.sort_unstable_by(|a, b| d.syms.name(*a).cmp(d.syms.name(*b)));
    }
}

/// What the workload's other keys show, for one key.
pub(super) struct Others<'p> {
    pub p: &'p Profile,
    pub s: &'p Share,
}

impl Others<'_> {
    pub(super) fn any_clients(&self) -> bool {
        self.p.client_pairs > self.s.clients.len() as u32
    }
    pub(super) fn has_client(&self, c: Sym) -> bool {
        self.p.clients.get(&c).copied().unwrap_or(0) > self.s.clients.contains(&c) as u32
    }
    pub(super) fn v1(&self) -> bool {
        self.p.v1 > self.s.v1 as u32
    }
    pub(super) fn v2(&self) -> bool {
        self.p.v2 > self.s.v2 as u32
    }
    pub(super) fn eks(&self) -> bool {
        self.p.eks > self.s.eks as u32
    }
    /// The first 8 of the other keys' clients, by name ([`Profile::sort_names`] first). At most
    /// 8 are passed over: the key's own clients that no other key has.
    pub(super) fn names(&self, d: &Detector) -> String {
        let v: Vec<&str> =
            self.p.by_name.iter().filter(|c| self.has_client(**c)).take(8).map(|c| d.syms.name(*c)).collect();
        v.join(", ")
    }
}

/// Origins that only checked a role's identity (signed `GetCallerIdentity` requests sent on, by EKS,
/// Vault, MongoDB Atlas), over all the role's keys: Vault checks each instance of an autoscaling group
/// once, at boot, and EKS each short-lived node's key or two.
#[derive(Default)]
pub(super) struct Verifiers(OriginMap<Origin, u32>);

/// Keys an origin must check, and do nothing else with, to be a verifier: a thief trying one stolen
/// key is judged like any use of it, as trying it is how he starts.
const VERIFIER_KEYS: u32 = 3;

impl Verifiers {
    /// Every role's verifiers, from its keys as `(account, role, state)` (asked for twice). An origin
    /// that also signed a call with any of the role's keys is no verifier: a thief checking the keys
    /// he uses, or the workload's own address. `candidates` holds every role with a key whose
    /// signed identity checks were sent on (a superset of the roles with verifiers): the states of
    /// other roles' keys are not read.
    pub(super) fn by_role<'a, I>(
        candidates: &FxHashSet<(Sym, Sym)>,
        keys: impl Fn() -> I,
    ) -> FxHashMap<(Sym, Sym), Self>
    where
        I: Iterator<Item = (Sym, Sym, &'a KeyState)>,
    {
        let only_checks =
            |o: &&OriginUse| o.has(flag::IDENTITY_CHECKED) && !o.has(flag::SIGNED_HERE) && !o.has(flag::LINK_OPENED);
        // The keys come grouped by role: a role is looked up once per run of its keys, not per key
        // (a hash lookup for each of a Lambda-heavy trail's keys showed in the judging's wall time).
        if candidates.is_empty() {
            return FxHashMap::default();
        }
        let mut roles: FxHashMap<(Sym, Sym), (u32, OriginMap<Origin, u32>)> = FxHashMap::default();
        // (role, keys so far, whether it is a candidate)
        let mut run: Option<((Sym, Sym), u32, bool)> = None;
        for (account, role, st) in keys() {
            match &mut run {
                Some((r, n, _)) if *r == (account, role) => *n += 1,
                _ => {
                    let candidate = candidates.contains(&(account, role));
                    if let Some((r, n, true)) = run.replace(((account, role), 1, candidate)) {
                        roles.entry(r).or_default().0 += n;
                    }
                }
            }
            if !run.is_some_and(|(_, _, candidate)| candidate) {
                continue;
            }
            if st.origins.iter().any(|o| only_checks(&o)) {
                let checks = &mut roles.entry((account, role)).or_default().1;
                for o in st.origins.iter().filter(only_checks) {
                    *checks.entry(o.origin).or_default() += 1;
                }
            }
        }
        if let Some((r, n, true)) = run {
            roles.entry(r).or_default().0 += n;
        }
        roles.retain(|_, (_, checks)| !checks.is_empty());
        if roles.is_empty() {
            return FxHashMap::default();
        }
        let mut last: Option<((Sym, Sym), bool)> = None;
        for (account, role, st) in keys() {
            let wanted = match last {
                Some((r, w)) if r == (account, role) => w,
                _ => {
                    let w = roles.contains_key(&(account, role));
                    last = Some(((account, role), w));
                    w
                }
            };
            if !wanted {
                continue;
            }
            let Some((_, checks)) = roles.get_mut(&(account, role)) else { continue };
            for o in st.origins.iter().filter(|o| o.has(flag::SIGNED_HERE)) {
                checks.remove(&o.origin);
            }
        }
        roles
            .into_iter()
            .map(|(role, (nkeys, mut checks))| {
                checks.retain(|_, keys| *keys >= VERIFIER_KEYS || (*keys >= 2 && *keys == nkeys));
                (role, Verifiers(checks))
            })
            .collect()
    }

    /// Whether every call from `o` with its key redeemed a signature: presigned links opened, or a
    /// verifier's identity checks. Links and identity checks from one origin are a verifier's only if
    /// it is one (a thief trying his key, then opening links he signed, is judged in full).
    pub(super) fn redeemed(&self, o: &OriginUse) -> bool {
        if o.has(flag::SIGNED_HERE) {
            return false;
        }
        match (o.has(flag::LINK_OPENED), o.has(flag::IDENTITY_CHECKED)) {
            (true, false) => true,
            (_, true) => self.0.contains_key(&o.origin),
            (false, false) => false,
        }
    }
}

/// What all of a key's origins show together, asked once per key: asked per origin, it made judging
/// a key used from thousands of addresses quadratic in them.
pub(super) struct KeyWide<'d> {
    /// Some origin named the execution environment.
    pub(super) exec: bool,
    /// The key's function (a fleet's session name) is expected to name it (see `judge_group`).
    pub(super) function_exec: bool,
    /// Some key of the role named it.
    pub(super) role_exec: bool,
    /// The regions the key called, each once, in the order its origins name them (the trail writes
    /// them, so a hostile one can name thousands).
    pub(super) call_regions: Vec<&'d str>,
    /// The same, to ask about one.
    pub(super) called: FxHashSet<&'d str>,
    /// For a fleet key, when its function was seen leaving from its delivery region's AWS addresses
    /// over IPv4 and over IPv6 (first and last use: [`super::judge_signals::FleetRegions`]); none
    /// for instances.
    pub(super) fleet_span: [Option<(i64, i64)>; 2],
    /// A fleet key itself used from its delivery region's AWS addresses, over IPv4 and IPv6.
    pub(super) fleet_here: [bool; 2],
}

/// Regions a reason names; the rest are counted.
const REGIONS_NAMED: usize = 8;

impl<'d> KeyWide<'d> {
    pub(super) fn of(st: &KeyState, d: &'d Detector, function_exec: bool, role_exec: bool) -> Self {
        let mut call_regions: Vec<&str> = Vec::new();
        let mut called = FxHashSet::default();
        for &r in st.origins.iter().flat_map(|x| x.call_regions.iter()).filter(|&&r| r != 0) {
            if called.insert(d.syms.name(r)) {
                call_regions.push(d.syms.name(r));
            }
        }
        KeyWide {
            exec: st.origins.iter().any(|x| x.has(flag::EXEC_ENV)),
            function_exec,
            role_exec,
            call_regions,
            called,
            fleet_span: [None; 2],
            fleet_here: [false; 2],
        }
    }

    /// The regions called, for a reason: at most [`REGIONS_NAMED`], then how many more.
    pub(super) fn regions_named(&self) -> String {
        let mut s = self.call_regions.iter().take(REGIONS_NAMED).copied().collect::<Vec<_>>().join(", ");
        if self.call_regions.len() > REGIONS_NAMED {
            s.push_str(&format!(" and {} more", self.call_regions.len() - REGIONS_NAMED));
        }
        s
    }
}

/// A fleet's sidecars: client families that sign without the execution environment beside its
/// program on most of a role's keys, from its first. A log router (FireLens' Fluent Bit signs as
/// `aws-fluent-bit-plugin`), a metrics agent or a service mesh runs in every task with the task's
/// role, and names no `AWS_EXECUTION_ENV`: where it calls from on two keys or more (a NAT, an
/// endpoint) is the fleet's own path like the program's, judged by its class. A thief's client on a
/// few keys is none, nor is a thief's host signing as the sidecar with one key.
#[derive(Default)]
pub(super) struct Sidecars {
    families: FxHashSet<Sym>,
    /// Origins where only sidecars called, with the number of keys they did so on.
    paths: OriginMap<Origin, u32>,
}

impl Sidecars {
    /// Over a group's keys, in issue order.
    pub fn of<'a>(keys: impl Iterator<Item = &'a KeyState> + Clone) -> Sidecars {
        let (mut seen, mut n): (FxHashMap<Sym, (u32, bool)>, u32) = (FxHashMap::default(), 0);
        for (rank, st) in keys.clone().enumerate() {
            n += 1;
            let mut on_key = ClientSet::default();
            for o in st.origins.iter().filter(|o| !o.has(flag::EXEC_ENV)) {
                for c in o.clients() {
                    if !on_key.contains(&c) {
                        on_key.push(c);
                    }
                }
            }
            for &c in on_key.iter() {
                seen.entry(c).or_insert((0, rank == 0)).0 += 1;
            }
        }
        let families: FxHashSet<Sym> =
            seen.into_iter().filter(|&(_, (k, first))| first && k >= 2 && k * 2 >= n).map(|(c, _)| c).collect();
        let mut paths: OriginMap<Origin, u32> = OriginMap::default();
        if !families.is_empty() {
            for st in keys {
                for o in st.origins.iter().filter(|o| !o.has(flag::EXEC_ENV) && only_of(&families, o)) {
                    *paths.entry(o.origin).or_default() += 1;
                }
            }
        }
        Sidecars { families, paths }
    }

    /// Every client of the origin is a sidecar, and sidecars called from there on two keys or more.
    pub fn only(&self, o: &OriginUse) -> bool {
        only_of(&self.families, o) && self.paths.get(&o.origin).is_some_and(|&k| k >= 2)
    }
}

/// Every client of the origin is one of `families`.
fn only_of(families: &FxHashSet<Sym>, o: &OriginUse) -> bool {
    o.clients().next().is_some() && o.clients().all(|c| families.contains(&c))
}
