//! The signals an origin off a workload's own origins raises ([`signals_off_workload`]), and where
//! a fleet's functions sign from in their delivery region ([`FleetRegions`]), which tells a thief's
//! host of another region from the fleet's own egress through it.

use super::Detector;
use super::baseline::{Baseline, Group, Path};
use super::judge::{Judged, Signal};
use super::origin::OriginClass;
use super::profile::KeyWide;
use super::state::{KeyState, Origin, OriginUse, Sym, Workload, flag};
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
    // A fleet key that itself left from its region over the same IP version, or one used while
    // its function was seen leaving from there (see `FleetRegions`).
    let v6 = is_v6(&o.origin) as usize;
    let key_here = key.fleet_here[v6];
    let function_here = key.fleet_span[v6]
        .is_some_and(|(first, last)| o.first_ms.is_some_and(|f| f <= last) && o.last_ms.is_some_and(|l| l >= first));
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
    } else if g.kind.is_fleet() && (key_here || function_here) && d.out_of_region(class, region) {
        // A fleet runs where its credentials were delivered: another region's AWS address is off its
        // origins (a thief's own cloud host, holding a function's keys) when the key itself left from
        // its region, one environment, task or pod being in one place: as for an instance. Only its
        // function seen leaving from there over the same hours is weaker (medium with the region):
        // jobs and node groups share a session name or a role across networks. See `FleetRegions`.
        let (seen, weight) = if key_here {
            ("the key itself was used from there", 0.4)
        } else {
            ("its function was seen leaving from there over the same hours", 0.25)
        };
        push(
            "not_workload_origin",
            format!(
                "{name} ({}) is not an origin of the {} fleet, whose key was delivered in {}, and {seen}",
                j.class,
                g.kind.as_str(),
                d.syms.name(region)
            ),
            weight,
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

/// Where a fleet's functions leave from, to tell a thief's host of another region from the
/// fleet's own egress through it (a central egress VPC over a Transit Gateway peering, with a NAT
/// per zone). A function (a Lambda key's session name, an ECS task's; for a pod's web identity,
/// whose session name its caller chooses, the role) in a delivery region is local over the hours
/// its keys delivered there are used from AWS addresses of that region (not an endpoint, a trusted
/// or a private network: a VPC function reaching S3 through its gateway endpoint may leave
/// elsewhere for the rest). An address of another region used with a key that itself left from its
/// region, over the same IP version, is a second holder's (high with the region); one used with its
/// function's keys over those hours is weaker (medium: Glue jobs share a session name, a pod's role
/// spans node groups, a function's zones may route differently). One used while the function is not
/// seen leaving from its region (a function whose traffic all goes through another region, one with
/// a single key in the window, one moved into such a VPC mid-window) is reported as out of the
/// region alone, low.
#[derive(Default)]
pub(super) struct FleetRegions {
    /// (function, delivery region, over IPv6) -> first and last use from that region's AWS
    /// addresses over that IP version.
    local: FxHashMap<(Sym, Sym, bool), (i64, i64)>,
}

impl FleetRegions {
    /// `owns` lists whether each origin of each key, in order, is the fleet's own.
    pub(super) fn of(d: &Detector, g: &Group<'_>, owns: &[bool], key_region: impl Fn(&KeyState) -> Sym) -> Self {
        // The functions with a key used from an address of another region than its delivery:
        // usually none, and then nothing else is asked.
        let mut wanted: FxHashSet<(Sym, Sym)> = FxHashSet::default();
        // Each key's share of `owns`, in key order.
        let each = || {
            let mut rest = owns;
            g.keys.iter().map(move |(_, st)| {
                let (key_owns, after) = rest.split_at(st.origins.len().min(rest.len()));
                rest = after;
                (*st, key_owns)
            })
        };
        for (st, key_owns) in each() {
            let region = key_region(st);
            let far = st.origins.iter().zip(key_owns).any(|(o, &own)| {
                !own && matches!(o.origin, Origin::Ip(_))
                    && d.out_of_region(&d.cfg.classifier.classify(&o.origin), region)
            });
            if far {
                wanted.insert((function(g, st), region));
            }
        }
        let mut out = FleetRegions::default();
        if wanted.is_empty() {
            return out;
        }
        for (st, key_owns) in each() {
            let f = (function(g, st), key_region(st));
            if f.1 == 0 || !wanted.contains(&f) {
                continue;
            }
            for (o, _) in st.origins.iter().zip(key_owns).filter(|(o, own)| **own && Self::regional(d, st, o)) {
                let (first, last) = (o.first_ms.unwrap_or(i64::MAX), o.last_ms.unwrap_or(i64::MIN));
                let span = out.local.entry((f.0, f.1, is_v6(&o.origin))).or_insert((first, last));
                *span = (span.0.min(first), span.1.max(last));
            }
        }
        out
    }

    /// An own origin of a fleet key that is an AWS address of a region (its own, being own) where the
    /// key's holder signed: a link opened or an identity checked there is someone else's doing.
    fn regional(d: &Detector, st: &KeyState, o: &OriginUse) -> bool {
        // Not AWS's global ranges (CloudFront, Global Accelerator): an address of no region.
        o.has(flag::SIGNED_HERE)
            && matches!(d.cfg.classifier.classify(&o.origin), OriginClass::Aws(r) if r.region != "GLOBAL")
            && matches!(d.path_of(&o.origin, st.account), Path::Address)
    }

    /// Whether the key itself left from its region's AWS addresses, over IPv4 and over IPv6
    /// (`owns`: its origins' ownness). One Lambda environment, ECS task or pod runs in one place: a
    /// key of one used from there and from another region over the same IP version has a second
    /// holder, whenever he used it (a dual-stack function may leave over IPv6 at home and over IPv4
    /// through another region).
    pub(super) fn left_here(d: &Detector, st: &KeyState, owns: &[bool]) -> [bool; 2] {
        let mut here = [false; 2];
        for (o, _) in st.origins.iter().zip(owns).filter(|(o, own)| **own && Self::regional(d, st, o)) {
            here[is_v6(&o.origin) as usize] = true;
        }
        here
    }

    /// When the function of `st` (delivered in `region`) was seen leaving from that region, over
    /// IPv4 and over IPv6: its first and last use from there.
    pub(super) fn span(&self, g: &Group<'_>, st: &KeyState, region: Sym) -> [Option<(i64, i64)>; 2] {
        if self.local.is_empty() {
            return [None; 2];
        }
        let function = function(g, st);
        [false, true].map(|v6| self.local.get(&(function, region, v6)).copied())
    }
}

/// A key's function: its session name, which the service chose (a Lambda function's name, an ECS
/// task's id); for a pod's web identity, whose session name its caller chooses, the role (0).
fn function(g: &Group<'_>, st: &KeyState) -> Sym {
    if g.kind == Workload::EksWebIdentity { 0 } else { st.session }
}

/// An IPv6 address (the two IP versions of a dual-stack workload may leave by different ways).
fn is_v6(o: &Origin) -> bool {
    matches!(o, Origin::Ip(a) if a.is_ipv6())
}
