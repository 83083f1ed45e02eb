//! Judging keys against their workload's baseline ([`super::baseline`]).
//!
//! Cost is linear in keys and origins: each workload's profile (clients, IMDS versions, execution
//! environment) is counted once over its keys, and a key compares itself with the others by
//! subtracting its own share, instead of walking every other key.

use super::baseline::{Baseline, Evidence, Group, Path, SHARED_ENDPOINT_KEYS};
use super::delivery::{minter, placed_by_aws};
use super::origin::OriginClass;
use super::profile::{KeyWide, Others, Profile, Share, Sidecars, Verifiers};
use super::state::{self, KeyId, KeyState, Origin, OriginMap, OriginUse, Sym, Workload, flag};
use super::{Detector, Finding};
use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};

/// Groups keys: one EC2 instance, or one role's fleet.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct GroupId {
    kind: Workload,
    account: Sym,
    role: Sym,
    session: Sym,
}

fn is_instance_id(s: &str) -> bool {
    let hex = s.strip_prefix("i-").unwrap_or("");
    (8..=17).contains(&hex.len()) && hex.bytes().all(|c| c.is_ascii_hexdigit())
}

fn role_of(st: &KeyState) -> Sym {
    if st.role_id != 0 { st.role_id } else { st.role_arn }
}

/// The workload a key belongs to: from its delivery record, an earlier delivery to the same
/// session, or what AWS wrote on its calls (`ec2RoleDelivery`, an instance id as session name). A key
/// whose `AssumeRole` by a principal is in the trail is that principal's, whatever it is named.
/// User agents naming an execution environment come last: a thief can write them, so they only make
/// a key judged, never trusted.
///
/// A key minted by a principal is theirs unless AWS placed its minter with a workload
/// ([`placed_by_aws`]) and the workload named the session after itself (an instance assuming a
/// reporting role under its own id): then it is judged by that name as before. A workload naming
/// sessions after others (a central Lambda patching instances, each session named after the
/// instance it acts on) does not make them those instances' keys.
fn workload_of(st: &KeyState, d: &Detector) -> Workload {
    if let Some(del) = &st.delivery {
        return del.workload;
    }
    if st.minted_by_principal && !minter(st, d).is_some_and(|m| m.session == st.session && placed_by_aws(m, d, 0)) {
        return Workload::Other;
    }
    if let Some(&w) = d.delivered_sessions.get(&(st.account, role_of(st), st.session)) {
        return w;
    }
    if st.ec2_field || is_instance_id(d.syms.name(st.session)) {
        Workload::Ec2
    } else if st.lambda_env {
        Workload::Lambda
    } else if st.ecs_env {
        Workload::Ecs
    } else {
        Workload::Other
    }
}

/// Issue order: the delivery record's time (AWS's own record of the issue), else the session's
/// creation date as its calls carry it, else its first use.
pub(super) fn issue_time(st: &KeyState) -> i64 {
    st.delivery
        .as_ref()
        .and_then(|d| d.time_ms)
        .or(st.issued_ms)
        .or_else(|| st.origins.iter().filter_map(|o| o.first_ms).min())
        .unwrap_or(i64::MAX)
}

pub(super) struct Signal {
    /// Stable name of the evidence (`outside_aws`, `human_origin`, ...).
    pub code: &'static str,
    pub reason: String,
    pub weight: f64,
    /// Enough on its own to report the key.
    pub decisive: bool,
}

pub(super) struct Judged<'a> {
    pub origin: &'a OriginUse,
    pub label: String,
    pub class: String,
    pub outside: bool,
    pub human: bool,
    pub own: bool,
    pub signals: Vec<Signal>,
}

pub(super) fn judge(d: &Detector) -> (Vec<Finding>, Vec<String>) {
    let started = std::time::Instant::now();
    let group_of = |st: &KeyState| -> Option<GroupId> {
        let kind = workload_of(st, d);
        if kind == Workload::Other || st.origins.is_empty() {
            return None;
        }
        let session = if kind.is_fleet() { 0 } else { st.session };
        Some(GroupId { kind, account: st.account, role: role_of(st), session })
    };
    // One sort groups the keys and puts each group in issue order: hashing every key into a map
    // of growing vectors, then sorting each by a time read through its state, cost more than the
    // judging itself on a trail of short-lived keys. The issue time is read once per key.
    // In storage order (the hash index's order jumped to a random state at every key), on every
    // core, each key written in its place of a list sized up front: a vector grown by doubling, or
    // a parallel extend's pieces, would hold twice the memory at its peak. The keys without a group
    // are then dropped in place.
    let mut placed: Vec<Option<(GroupId, i64, KeyId, &KeyState)>> = Vec::with_capacity(d.keys.len());
    d.keys.par_iter().map(|(k, st)| Some((group_of(st)?, issue_time(st), k, st))).collect_into_vec(&mut placed);
    // `filter_map`, not `flatten`: only the first reuses the list's memory (checked on Rust 1.95).
    #[allow(clippy::filter_map_identity)]
    let mut keyed: Vec<(GroupId, i64, KeyId, &KeyState)> = placed.into_iter().filter_map(|x| x).collect();
    keyed.par_sort_unstable_by_key(|&(g, t, k, _)| (g, t, k));
    let ordered: Vec<&[(GroupId, i64, KeyId, &KeyState)]> = keyed.chunk_by(|a, b| a.0 == b.0).collect();
    // The groups run on every core, so the largest bounds the wall time of judging.
    tracing::debug!(
        keys = keyed.len(),
        groups = ordered.len(),
        largest = ordered.iter().map(|g| g.len()).max().unwrap_or(0),
        ms = started.elapsed().as_millis() as u64,
        "keys grouped"
    );
    // Groups are judged apart from each other, so on every core; the results are put back in
    // group order, and sorted below, so the output does not depend on the thread count.
    let candidates = d.checked.iter().map(|&slot| d.keys.at(slot)).map(|st| (st.account, role_of(st))).collect();
    let verifiers = Verifiers::by_role(&candidates, || keyed.iter().map(|&(g, _, _, st)| (g.account, g.role, st)));
    let none = Verifiers::default();
    let judged: Vec<(Vec<Finding>, Vec<Sym>)> = ordered
        .into_par_iter()
        .map(|run| {
            let (mut findings, mut shared) = (Vec::new(), Vec::new());
            let keys = run.iter().map(|&(_, _, k, st)| (k, st)).collect();
            let gid = run[0].0;
            let v = verifiers.get(&(gid.account, gid.role)).unwrap_or(&none);
            judge_one(d, gid, keys, v, &mut findings, &mut shared);
            (findings, shared)
        })
        .collect();
    let mut findings = Vec::new();
    let mut shared: Vec<Sym> = Vec::new();
    for (f, s) in judged {
        findings.extend(f);
        shared.extend(s);
    }
    findings.sort_by(|a, b| (&a.first_seen, &a.access_key_id).cmp(&(&b.first_seen, &b.access_key_id)));
    shared.sort_unstable();
    shared.dedup();
    let notes = shared
        .iter()
        .map(|a| {
            format!(
                "VPC endpoints of account {} (not in the trail) carry most of some workloads' keys from their first: \
                 taken as a shared-services account; if it is one, say so with --trusted-account {}",
                d.syms.name(*a),
                d.syms.name(*a)
            )
        })
        .collect();
    (findings, notes)
}

/// Judges one group; `keys` are in issue order.
fn judge_one<'d>(
    d: &'d Detector,
    gid: GroupId,
    keys: Vec<(KeyId, &'d KeyState)>,
    verifiers: &Verifiers,
    findings: &mut Vec<Finding>,
    shared: &mut Vec<Sym>,
) {
    // The workload's region: the most common region of its delivery records.
    let mut regions: FxHashMap<Sym, u32> = FxHashMap::default();
    for (_, st) in &keys {
        if let Some(del) = &st.delivery {
            *regions.entry(del.region).or_default() += 1;
        }
    }
    let region = regions.iter().max_by_key(|(r, n)| (**n, std::cmp::Reverse(**r))).map_or(0, |(r, _)| *r);
    let g = Group { kind: gid.kind, account: gid.account, role: gid.role, session: gid.session, region, keys };
    judge_group(d, &g, verifiers, findings, shared);
}

fn judge_group(d: &Detector, g: &Group<'_>, verifiers: &Verifiers, findings: &mut Vec<Finding>, shared: &mut Vec<Sym>) {
    let fleet = g.kind.is_fleet();
    let baseline = if fleet {
        Baseline {
            own: OriginMap::default(),
            rivals: OriginMap::default(),
            beside_v4: OriginMap::default(),
            far_egress: OriginMap::default(),
            agent_at_own: true,
            young_shared: Default::default(),
        }
    } else {
        d.instance_baseline(g, verifiers, shared)
    };
    // A fleet key's region is its own delivery's (one role may run in several regions, and a warm
    // environment's delivery may predate the window: then the region is unknown); an instance's is
    // its group's.
    let key_region = |st: &KeyState| match &st.delivery {
        Some(del) => del.region,
        None if fleet => 0,
        None => g.region,
    };
    // Fleets: foreign endpoints on most keys from the first are shared services (as for instances),
    // and a Lambda or ECS workload whose keys show their execution environment runs nowhere without
    // it (the user agent can only take trust away here, never give it). Asked per function (a Lambda
    // key's session name; an ECS task's is its id) as well as per role: one role often serves several
    // functions, and those on an OS-only runtime (`provided.al2023`, where Go and Rust run) have no
    // `AWS_EXECUTION_ENV` for their SDK to name. Such a function's keys are still judged against the
    // role's expectation, but weakly (a person decides): its keys may also be a thief's alone, for a
    // function whose own calls (S3, DynamoDB or SQS data) are not in the trail. A function with one
    // key without it is held to the role's full expectation.
    let mut fleet_endpoints: OriginMap<Origin, (u32, usize)> = OriginMap::default();
    let mut exec_sessions: FxHashSet<Sym> = FxHashSet::default();
    let mut bare_keys: FxHashMap<Sym, u32> = FxHashMap::default();
    if fleet {
        for (rank, (_, st)) in g.keys.iter().enumerate() {
            ask_ahead(&g.keys, rank);
            if st.origins.iter().any(|o| o.has(flag::EXEC_ENV)) {
                exec_sessions.insert(st.session);
            } else if st.origins.iter().any(|o| o.has(flag::SIGNED_HERE)) {
                // A key whose signatures were only redeemed elsewhere (a presigned link) shows
                // nothing of its function's runtime.
                *bare_keys.entry(st.session).or_default() += 1;
            }
            for o in st.origins.iter().filter(|o| matches!(o.origin, Origin::Endpoint { .. })) {
                fleet_endpoints.entry(o.origin).or_insert((0, rank)).0 += 1;
            }
        }
    }
    let nkeys = g.keys.len() as u32;
    let needs_exec = matches!(g.kind, Workload::Lambda | Workload::Ecs);
    let sidecars = if needs_exec { Sidecars::of(g.keys.iter().map(|&(_, st)| st)) } else { Sidecars::default() };
    let function_exec = |session: Sym| {
        exec_sessions.contains(&session)
            || (!exec_sessions.is_empty() && bare_keys.get(&session).copied().unwrap_or(0) < 2)
    };
    // `key_exec`: some origin of the key named the execution environment (asked once per key, not
    // per origin, which made a key used from thousands of addresses quadratic).
    let own_evidence = |st: &KeyState, key_exec: bool, o: &OriginUse| -> Option<Evidence> {
        if !fleet {
            return baseline.own.get(&o.origin).filter(|e| e.covers(o)).cloned();
        }
        if needs_exec && !o.has(flag::EXEC_ENV) && (key_exec || !exec_sessions.is_empty()) && !sidecars.only(o) {
            return None;
        }
        match d.fleet_own(&o.origin, st.account, key_region(st)) {
            Some(e) => Some(e),
            None => match (d.path_of(&o.origin, st.account), fleet_endpoints.get(&o.origin)) {
                (Path::ForeignEndpoint(owner), Some(&(keys, 0)))
                    if keys >= SHARED_ENDPOINT_KEYS && keys * 2 >= nkeys =>
                {
                    Some(Evidence::SharedEndpoint(owner))
                }
                _ => None,
            },
        }
    };
    // Whether each origin of each key is the workload's own, asked once (it classifies the address):
    // the key's share and its judging below both need it.
    let mut owns: Vec<bool> = Vec::with_capacity(g.keys.iter().map(|(_, st)| st.origins.len()).sum());
    let shares: Vec<Share> = g
        .keys
        .iter()
        .enumerate()
        .map(|(i, (_, st))| {
            ask_ahead(&g.keys, i);
            let from = owns.len();
            let key_exec = st.origins.iter().any(|x| x.has(flag::EXEC_ENV));
            owns.extend(st.origins.iter().map(|o| own_evidence(st, key_exec, o).is_some()));
            Share::of(st, &owns[from..], d)
        })
        .collect();
    let fleet_regions = if fleet {
        super::judge_signals::FleetRegions::of(d, g, &owns, key_region)
    } else {
        super::judge_signals::FleetRegions::default()
    };
    let mut profile = Profile::default();
    for s in &shares {
        profile.add(s);
    }
    profile.sort_names(d);
    let eks_role = d.syms.name(g.role).contains("NodeInstanceRole") || d.syms.name(g.role).contains("NodeRole");
    let (expected, evidence) = expected_origins(d, g, &baseline);
    // The instance's termination, when the trail holds it: what its keys sign later, someone else signs.
    let ended = if g.kind == Workload::Ec2 { d.terminated.get(&g.session).copied() } else { None };

    let key_wide = |st: &'_ KeyState, key_owns: &[bool]| {
        let mut w = KeyWide::of(st, d, function_exec(st.session), !exec_sessions.is_empty());
        if fleet {
            w.fleet_span = fleet_regions.span(g, st, key_region(st));
            if key_region(st) != 0 {
                w.fleet_here = super::judge_signals::FleetRegions::left_here(d, st, key_owns);
            }
        }
        w
    };
    let mut owns = owns.as_slice();
    for (i, ((key, st), share)) in g.keys.iter().zip(&shares).enumerate() {
        ask_ahead(&g.keys, i);
        let others = Others { p: &profile, s: share };
        let region = key_region(st);
        let mut judged: Vec<Judged<'_>> = Vec::new();
        let mut used_from_own = false;
        let mut beside_judged = None;
        let mut redeemed: Vec<Judged<'_>> = Vec::new();
        let wide = std::cell::OnceCell::new();
        let (key_owns, rest) = owns.split_at(st.origins.len());
        owns = rest;
        // Only a key AWS itself says is the instance's (its delivery, `ec2RoleDelivery`): a session
        // name is the caller's choice.
        let instance_key = st.ec2_field || st.delivery.as_ref().is_some_and(|del| del.workload == Workload::Ec2);
        let key_end = ended.filter(|_| instance_key);
        for (o, &own) in st.origins.iter().zip(key_owns) {
            if matches!(o.origin, Origin::Unparsable(_)) {
                continue;
            }
            let path = d.path_of(&o.origin, st.account);
            if matches!(path, Path::Trusted) {
                continue;
            }
            used_from_own |= own;
            // Signed here once the instance was gone (links it handed out are opened for as long as
            // the key lives: only calls signed by whoever made them count).
            let late = key_end.and_then(|end| {
                let last = o.last_signed_ms;
                (last > end.saturating_add(super::TERMINATION_GRACE_MS)).then_some((end, last))
            });
            let beside = if own { None } else { super::baseline::beside_on_key(d, st, key_owns, o, &baseline) };
            // The SSM agent alone on a network account's endpoints, before they are taken as shared,
            // is the instance's agent reaching SSM its way: its client is not new (any other is).
            let agent_on_young_shared = baseline.young_shared.contains(&o.origin)
                && o.clients().all(|c| super::origin::is_ssm_agent_family(d.syms.name(c)));
            let new_client =
                others.any_clients() && o.clients().all(|c| !others.has_client(c)) && !agent_on_young_shared;
            // The thief behind the workload's own NAT: only the client and the IMDS version differ.
            let behind_own_nat = g.kind == Workload::Ec2
                && !eks_role
                && !others.eks()
                && new_client
                && o.has(flag::IMDS_V1)
                && others.v2()
                && !others.v1();
            // Nearly every origin is the workload's own and says nothing more: naming and classifying
            // it would be wasted on a fleet of thousands of keys.
            if own && !behind_own_nat && late.is_none() {
                continue;
            }
            let class = d.cfg.classifier.classify(&o.origin);
            let label = o.origin.label(&d.syms);
            let human = d.humans.contains_key(&o.origin);
            let mut j = Judged {
                origin: o,
                class: class_label(d, &class, &path),
                label,
                outside: class == OriginClass::Outside,
                human,
                own,
                signals: Vec::new(),
            };
            let clients = || o.clients().map(|c| d.syms.name(c)).collect::<Vec<_>>().join(", ");
            if !own && late.is_none() && verifiers.redeemed(o) {
                // A verifier's identity checks from AWS addresses of the workload's region are how
                // EKS authenticates every node and kubectl token (about every 14 minutes), and how a
                // service hosted beside the workload checks it: nothing was done with the key there.
                // Without a delivery record, the regions the key called stand in for the workload's.
                let in_region = match &class {
                    OriginClass::Aws(_) if region != 0 => !d.out_of_region(&class, region),
                    OriginClass::Aws(r) => {
                        let key = wide.get_or_init(|| key_wide(st, key_owns));
                        r.region == "GLOBAL" || key.called.contains(r.region.as_str())
                    }
                    _ => false,
                };
                if o.has(flag::LINK_OPENED) || !in_region {
                    redeemed.push(super::judge_finding::judged_redeemed(j, &clients()));
                }
                continue;
            }
            if !own {
                let key = wide.get_or_init(|| key_wide(st, key_owns));
                super::judge_signals::signals_off_workload(
                    d, g, key, o, &class, &path, region, &baseline, &expected, &mut j,
                );
                if new_client {
                    j.signals.push(Signal {
                        code: "client_differs",
                        reason: format!("client {} differs from the workload's ({})", clients(), others.names(d)),
                        weight: 0.15,
                        decisive: false,
                    });
                }
                if o.has(flag::IMDS_V1) {
                    let (reason, weight) = if others.v2() && !others.v1() {
                        ("IMDSv1 delivery while the workload uses IMDSv2", 0.15)
                    } else {
                        ("credentials fetched through IMDSv1", 0.1)
                    };
                    j.signals.push(Signal { code: "imds_v1", reason: reason.into(), weight, decisive: false });
                }
            } else if behind_own_nat {
                j.signals.push(Signal {
                    code: "client_differs",
                    reason: format!(
                        "from the workload's own origin {}, but client {} differs from the workload's ({})",
                        j.label,
                        clients(),
                        others.names(d)
                    ),
                    weight: 0.15,
                    decisive: true,
                });
                j.signals.push(Signal {
                    code: "imds_v1",
                    reason: "IMDSv1 delivery while the workload uses IMDSv2".into(),
                    weight: 0.15,
                    decisive: false,
                });
            }
            if let Some((end, last)) = late {
                j.signals.push(super::judge_finding::after_termination(d, g.session, end, last, own));
            }
            if j.signals.iter().any(|s| s.decisive) {
                if let Some(keys) = beside.filter(|_| late.is_none()) {
                    beside_judged = Some((judged.len(), keys, path));
                }
                judged.push(j);
            }
        }
        // The IPv6 origin beside the instance's own IPv4 one, when it is all the key shows: judged
        // alone, at low confidence. Beside any other evidence it keeps its full signals, so that it
        // never lowers, nor adds to, what the rest shows.
        if let (1, Some((0, keys, path))) = (judged.len(), beside_judged.take()) {
            judged[0] = super::baseline::judged_beside_v4(d, judged[0].origin, &path, keys);
        }
        // Origins where the key's signatures were only redeemed are reported alone, at low
        // confidence; beside any other evidence they add nothing to it.
        let only_redeemed = judged.is_empty();
        if only_redeemed {
            judged = redeemed;
        }
        if judged.is_empty() {
            continue;
        }
        if !used_from_own && !fleet && !baseline.own.is_empty() && !only_redeemed {
            let reason = "the key was never used from the workload's own origins".to_owned();
            judged[0].signals.push(Signal { code: "never_used_by_workload", reason, weight: 0.1, decisive: false });
        }
        findings.push(super::judge_finding::finding(d, g, *key, st, &judged, &expected, &evidence, region));
    }
}

/// Asks a state some keys ahead into the cache, and the first origins of a nearer one (whose state
/// has arrived by then): a group's keys are in issue order, so each is a cache miss in a table of
/// every key, and the group is walked three times. Most keys have one or two origins; a key with
/// thousands gains nothing from asking for them all.
fn ask_ahead(keys: &[(KeyId, &KeyState)], i: usize) {
    if let Some((_, st)) = keys.get(i + 16) {
        state::prefetch_all(*st);
    }
    if let Some((_, st)) = keys.get(i + 8) {
        st.origins.iter().take(2).for_each(state::prefetch_all);
    }
}

pub(super) fn class_label(d: &Detector, class: &OriginClass<'_>, path: &Path) -> String {
    match path {
        Path::OwnEndpoint(a) | Path::ForeignEndpoint(a) => format!("VPC endpoint of account {}", d.syms.name(*a)),
        Path::UnknownEndpoint => "VPC endpoint".into(),
        _ => class.label(),
    }
}

/// The workload's own origins and why, for every finding of the group.
fn expected_origins(d: &Detector, g: &Group<'_>, b: &Baseline) -> (Vec<String>, Vec<String>) {
    if g.kind.is_fleet() {
        let region = if g.region == 0 { "any region".to_owned() } else { d.syms.name(g.region).to_owned() };
        let e = format!(
            "a {} fleet: AWS addresses of {region}, private addresses, and VPC endpoints of the organization",
            g.kind.as_str()
        );
        return (vec![format!("AWS {region}"), "private".into(), "organization VPC endpoints".into()], vec![e]);
    }
    let mut own: Vec<(&Origin, &Evidence)> = b.own.iter().collect();
    own.sort_by_key(|(o, _)| **o);
    let labels: Vec<String> = own.iter().take(10).map(|(o, _)| o.label(&d.syms)).collect();
    let evidence = own.iter().take(10).map(|(o, e)| e.describe(d, &o.label(&d.syms))).collect();
    (labels, evidence)
}
