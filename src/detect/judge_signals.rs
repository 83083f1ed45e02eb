//! The signals an origin off a workload's own origins raises ([`signals_off_workload`]), and a
//! fleet's egress through another region, which is off its region but not off its origins.

use super::Detector;
use super::baseline::{Baseline, Group, Path};
use super::judge::{Judged, Signal};
use super::origin::OriginClass;
use super::profile::KeyWide;
use super::state::{KeyState, Origin, OriginMap, OriginUse, Sym, Workload, flag};
use rustc_hash::{FxHashMap, FxHashSet};

#[allow(clippy::too_many_arguments)]
pub(super) fn signals_off_workload(
    d: &Detector,
    g: &Group<'_>,
    key: &KeyWide<'_>,
    o: &OriginUse,
    class: &OriginClass<'_>,
    path: &Path,
    region: Sym,
    baseline: &Baseline,
    expected: &[String],
    j: &mut Judged<'_>,
) {
    let name = j.label.clone();
    let mut push = |code, reason: String, weight, decisive| j.signals.push(Signal { code, reason, weight, decisive });
    if *class == OriginClass::Outside {
        push("outside_aws", format!("used from {name}, outside AWS"), 0.6, true);
    }
    if let Path::ForeignEndpoint(owner) = path {
        push(
            "foreign_vpc_endpoint",
            format!(
                "used through VPC endpoint {name} of account {}, which is neither the workload's nor one the \
                 organization or the operator trusts: the thief's own endpoint (SneakyEndpoints)",
                d.syms.name(*owner)
            ),
            0.6,
            true,
        );
    }
    if let Some(people) = d.human_principals(&o.origin) {
        let people = people.join(", ");
        if baseline.rivals.contains_key(&o.origin) {
            // An address recurring on the workload's keys beside its own, where people also work: a
            // second egress they share (a proxy, a VPN), not a laptop; the recurrence is judged below.
            push(
                "human_origin",
                format!("{name} is also used by human principal {people}: a second egress people share"),
                0.1,
                true,
            );
        } else {
            push("human_origin", format!("{name} is also used by human principal {people}"), 0.5, true);
        }
    }
    if let Some(&keys) = baseline.rivals.get(&o.origin) {
        push(
            "not_workload_origin",
            format!(
                "{name} ({}) recurs on {keys} of the workload's keys while the workload used its own origin over \
                 the same hours: a second holder of the same keys, back for each new one",
                j.class
            ),
            0.45,
            true,
        );
    } else if g.kind.is_fleet() && d.out_of_region(class, region) && !baseline.far_egress.contains_key(&o.origin) {
        // A fleet runs where its credentials were delivered: another region's AWS address is off its
        // origins, as it is off an instance's (a thief's own cloud host, holding a function's keys).
        push(
            "not_workload_origin",
            format!(
                "{name} ({}) is not an origin of the {} fleet, whose key was delivered in {}",
                j.class,
                g.kind.as_str(),
                d.syms.name(region)
            ),
            0.4,
            true,
        );
    } else if *class != OriginClass::Outside
        && !matches!(path, Path::ForeignEndpoint(_))
        && !baseline.own.is_empty()
        && !baseline.far_egress.contains_key(&o.origin)
    {
        let expected: Vec<&str> = expected.iter().take(5).map(String::as_str).collect();
        push(
            "not_workload_origin",
            format!("{name} ({}) is not an origin of the workload (expected {})", j.class, expected.join(", ")),
            0.4,
            true,
        );
    }
    if region == 0 && g.kind == Workload::Ec2 {
        // No delivery record names the instance's region: the regions it called stand in, weakly (a
        // workload calls other regions' APIs, so only an address in none of them counts).
        if let OriginClass::Aws(r) = class {
            if !key.called.is_empty() && r.region != "GLOBAL" && !key.called.contains(r.region.as_str()) {
                push(
                    "region_mismatch",
                    format!(
                        "{name} is an AWS address in {}, but the key only called {} and no delivery record names the \
                         instance's region",
                        r.region,
                        key.regions_named()
                    ),
                    0.35,
                    true,
                );
            }
        }
    }
    if d.out_of_region(class, region) {
        push(
            "region_mismatch",
            format!(
                "{name} is an AWS address in {}, but the workload runs in {} (where its credentials were delivered)",
                match class {
                    OriginClass::Aws(r) => r.region.as_str(),
                    _ => "",
                },
                d.syms.name(region)
            ),
            0.35,
            true,
        );
    }
    if matches!(g.kind, Workload::Lambda | Workload::Ecs) && o.has(flag::NO_EXEC_ENV) && key.role_exec {
        let kind = g.kind.as_str();
        if key.function_exec || key.exec {
            push(
                "no_execution_environment",
                format!("no {kind} execution environment in the user agent from {name}"),
                0.45,
                true,
            );
        } else {
            // An OS-only runtime names none; nor do keys only a thief used. Weak alone: a person decides.
            push(
                "no_execution_environment",
                format!(
                    "no {kind} execution environment in the user agent from {name}; its function names none on any of \
                     its keys (an OS-only runtime, or keys only a thief used), while other functions of the role do"
                ),
                0.2,
                true,
            );
        }
    }
    if o.has(flag::SSM_CHANNEL) && baseline.agent_at_own {
        push(
            "ssm_session_hijack",
            format!(
                "SSM's agent channels (ec2messages/ssmmessages) called from {name}, not from the instance: SSM \
                 session hijacking (the thief receives or answers Run Command and Session Manager traffic)"
            ),
            0.3,
            true,
        );
    }
}

/// A fleet's egress through another region (a central egress VPC over a Transit Gateway peering):
/// an AWS address out of its keys' delivery region used on two keys or more, from the first key of
/// a function (or task) that uses it, and on half the keys of the functions that use it. A thief
/// holding one function's key, or a few of thousands, is not; a holder of every key from the first
/// is, as for an instance ([`super::baseline`]'s `far_egress`): such an address is still reported as
/// out of the region, alone at low confidence.
pub(super) fn fleet_far_egress(
    d: &Detector,
    g: &Group<'_>,
    owns: &[bool],
    key_region: impl Fn(&KeyState) -> Sym,
) -> OriginMap<Origin, u32> {
    let mut uses: OriginMap<Origin, Vec<usize>> = OriginMap::default();
    let mut owns = owns;
    for (i, (_, st)) in g.keys.iter().enumerate() {
        let (key_owns, rest) = owns.split_at(st.origins.len().min(owns.len()));
        owns = rest;
        for (o, _) in st.origins.iter().zip(key_owns).filter(|(o, own)| !**own && matches!(o.origin, Origin::Ip(_))) {
            if d.out_of_region(&d.cfg.classifier.classify(&o.origin), key_region(st)) {
                uses.entry(o.origin).or_default().push(i);
            }
        }
    }
    uses.retain(|_, keys| keys.len() >= 2);
    if uses.is_empty() {
        return OriginMap::default();
    }
    // Each session's first key (keys are in issue order) and its number of keys.
    let mut sessions: FxHashMap<Sym, (usize, u32)> = FxHashMap::default();
    for (i, (_, st)) in g.keys.iter().enumerate() {
        sessions.entry(st.session).or_insert((i, 0)).1 += 1;
    }
    let session = |i: usize| sessions.get(&g.keys[i].1.session).copied().unwrap_or((usize::MAX, 0));
    uses.into_iter()
        .filter_map(|(o, keys)| {
            let of: FxHashSet<Sym> = keys.iter().map(|&i| g.keys[i].1.session).collect();
            let total: u32 = of.iter().map(|s| sessions.get(s).map_or(0, |x| x.1)).sum();
            let from_first = keys.iter().any(|&i| session(i).0 == i);
            let n = keys.len() as u32;
            (from_first && n * 2 >= total).then_some((o, n))
        })
        .collect()
}
