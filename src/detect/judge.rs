//! Judging keys against their workload's baseline.
//!
//! A workload's baseline is the set of origins it demonstrably runs from, learned from all its keys:
//! an origin seen on two or more of its keys, where its SSM agent talks, an address associated with the
//! instance, or an address several instances of the same role share (a NAT gateway). An attacker's
//! origin appears on the stolen key only, so it never enters the baseline even when the attacker acts
//! first; addresses outside AWS never enter it (use `--trusted-cidr` for on-premises egress).

use super::origin::{OriginClass, is_eks_node_client};
use super::state::{KeyState, OriginUse, Sym, Workload};
use super::{Detector, Finding};
use crate::time::format_ms;
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::BTreeSet;

/// A group of keys issued to one workload.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct WorkloadId {
    kind: Workload,
    account: Sym,
    role: Sym,
    /// Instance id or function name; 0 for ECS, whose tasks are judged together per role.
    session: Sym,
}

fn is_instance_id(s: &str) -> bool {
    let hex = s.strip_prefix("i-").unwrap_or("");
    (8..=17).contains(&hex.len()) && hex.bytes().all(|c| c.is_ascii_hexdigit())
}

fn workload_of(st: &KeyState, d: &Detector) -> Workload {
    if let Some(del) = &st.delivery {
        return del.workload;
    }
    if st.ec2_delivery_field || is_instance_id(d.syms.name(st.session)) {
        Workload::Ec2
    } else if st.lambda_env {
        Workload::Lambda
    } else if st.ecs_env {
        Workload::Ecs
    } else {
        Workload::Other
    }
}

/// What is known about one origin across a workload's keys.
#[derive(Default)]
struct OriginFacts {
    keys: u32,
    ssm: bool,
    exec_env: bool,
}

struct Signal {
    /// Stable name of the evidence (`outside_aws`, `human_origin`, ...).
    code: &'static str,
    reason: String,
    weight: f64,
    /// Enough on its own to report the key.
    decisive: bool,
}

struct Judged<'a> {
    origin: &'a OriginUse,
    class: OriginClass,
    in_baseline: bool,
    signals: Vec<Signal>,
}

pub(super) fn judge(d: &Detector) -> Vec<Finding> {
    // Group keys by workload.
    let mut groups: FxHashMap<WorkloadId, Vec<(&str, &KeyState)>> = FxHashMap::default();
    for (key, st) in &d.keys {
        let kind = workload_of(st, d);
        if kind == Workload::Other || st.origins.is_empty() {
            continue;
        }
        let role = if st.role_id != 0 { st.role_id } else { st.role_arn };
        let session = if kind == Workload::Ecs { 0 } else { st.session };
        groups.entry(WorkloadId { kind, account: st.account, role, session }).or_default().push((key, st));
    }

    // Origins shared by several workloads of one role: NAT gateways and shared egress.
    let mut role_origins: FxHashMap<(Sym, Sym, Sym), FxHashSet<Sym>> = FxHashMap::default();
    for (w, keys) in &groups {
        for (_, st) in keys {
            for o in &st.origins {
                role_origins.entry((w.account, w.role, o.origin)).or_default().insert(w.session);
            }
        }
    }

    let mut classes: FxHashMap<Sym, OriginClass> = FxHashMap::default();
    let mut class_of = |origin: Sym| -> OriginClass {
        classes
            .entry(origin)
            .or_insert_with(|| {
                let text = d.syms.name(origin);
                let (ip, vpce) = text.split_once('|').unwrap_or((text, ""));
                d.cfg.classifier.classify(ip, vpce)
            })
            .clone()
    };

    let mut findings = Vec::new();
    let mut ordered: Vec<_> = groups.into_iter().collect();
    ordered.sort_by_key(|(w, _)| *w);
    for (w, mut keys) in ordered {
        keys.sort_by_key(|(k, _)| *k);
        let mut facts: FxHashMap<Sym, OriginFacts> = FxHashMap::default();
        for (_, st) in &keys {
            for o in &st.origins {
                let f = facts.entry(o.origin).or_default();
                f.keys += 1;
                f.ssm |= o.ssm_agent;
                f.exec_env |= o.exec_env > 0;
            }
        }
        let associated: &[Sym] = d.associated.get(&w.session).map_or(&[], |v| v.as_slice());
        let nkeys = keys.len() as u32;
        let eks_role = d.syms.name(w.role).contains("NodeInstanceRole");

        let mut baseline: BTreeSet<Sym> = BTreeSet::new();
        for (&origin, f) in &facts {
            let class = class_of(origin);
            let plausible = matches!(class, OriginClass::Aws { .. } | OriginClass::Private | OriginClass::VpcEndpoint);
            if class == OriginClass::Trusted {
                baseline.insert(origin);
                continue;
            }
            if !plausible {
                continue;
            }
            let ip = d.syms.name(origin).split('|').next().unwrap_or("");
            let is_associated = associated.iter().any(|&a| d.syms.name(a) == ip);
            let shared = role_origins.get(&(w.account, w.role, origin)).is_some_and(|s| s.len() >= 2);
            let human = d.humans.contains_key(&origin);
            let ok = if human {
                // A bastion: people and the instance share its address. Only strong evidence counts.
                f.ssm || (f.keys >= 3 && f.keys * 2 >= nkeys) || is_associated
            } else {
                f.ssm || f.exec_env || f.keys >= 2 || is_associated || shared
            };
            if ok {
                baseline.insert(origin);
            }
        }

        for &(key, st) in &keys {
            // The workload's profile from its other keys' baseline use: what it looks like when it is itself.
            let mut profile_clients: FxHashSet<Sym> = FxHashSet::default();
            let (mut other_v1, mut other_v2, mut other_exec) = (false, false, false);
            let mut eks = eks_role;
            for (other, ost) in &keys {
                if *other == key {
                    continue;
                }
                for o in ost.origins.iter().filter(|o| baseline.contains(&o.origin)) {
                    profile_clients.extend(o.clients.iter().copied());
                    other_v1 |= o.imds_v1;
                    other_v2 |= o.imds_v2;
                    other_exec |= o.exec_env > 0;
                    eks |= o.clients.iter().any(|&c| is_eks_node_client(d.syms.name(c)));
                }
            }
            let used_from_baseline = st.origins.iter().any(|o| baseline.contains(&o.origin));
            let expected: Vec<String> = baseline.iter().take(10).map(|&o| d.syms.name(o).to_owned()).collect();

            let mut judged = Vec::new();
            for o in &st.origins {
                let class = class_of(o.origin);
                if matches!(class, OriginClass::Trusted | OriginClass::Service | OriginClass::Unparsable) {
                    continue;
                }
                let in_baseline = baseline.contains(&o.origin);
                let mut signals = Vec::new();
                let name = d.syms.name(o.origin);
                let new_client = !profile_clients.is_empty() && o.clients.iter().all(|c| !profile_clients.contains(c));
                let clients = || o.clients.iter().map(|&c| d.syms.name(c)).collect::<Vec<_>>().join(", ");
                let profile = || {
                    let mut v: Vec<_> = profile_clients.iter().map(|&c| d.syms.name(c)).collect();
                    v.sort_unstable();
                    v.join(", ")
                };
                if !in_baseline {
                    if class == OriginClass::Outside {
                        signals.push(Signal {
                            code: "outside_aws",
                            reason: format!("used from {name}, outside AWS"),
                            weight: 0.6,
                            decisive: true,
                        });
                    }
                    if let Some(people) = d.human_principals(o.origin) {
                        signals.push(Signal {
                            code: "human_origin",
                            reason: format!("{name} is also used by human principal {}", people.join(", ")),
                            weight: 0.5,
                            decisive: true,
                        });
                    }
                    if class != OriginClass::Outside && !baseline.is_empty() {
                        signals.push(Signal {
                            code: "not_workload_origin",
                            reason: format!(
                                "{name} ({}) is not an origin of the workload (expected {})",
                                class.label(),
                                expected.join(", ")
                            ),
                            weight: 0.4,
                            decisive: true,
                        });
                    }
                    if let OriginClass::Aws { region, .. } = &class {
                        let api: Vec<&str> = o.api_regions.iter().map(|&r| d.syms.name(r)).collect();
                        if baseline.is_empty()
                            && w.kind == Workload::Ec2
                            && !api.is_empty()
                            && !api.contains(&region.as_str())
                        {
                            signals.push(Signal {
                                code: "region_mismatch",
                                reason: format!(
                                    "{name} is an AWS address in {region}, but the calls went to {}",
                                    api.join(", ")
                                ),
                                weight: 0.35,
                                decisive: true,
                            });
                        }
                    }
                    if matches!(w.kind, Workload::Lambda | Workload::Ecs)
                        && o.exec_env == 0
                        && (other_exec || st.origins.iter().any(|x| x.exec_env > 0))
                    {
                        signals.push(Signal {
                            code: "no_execution_environment",
                            reason: format!(
                                "no {} execution environment in the user agent ({})",
                                w.kind.as_str(),
                                clients()
                            ),
                            weight: 0.4,
                            decisive: true,
                        });
                    }
                    if new_client {
                        signals.push(Signal {
                            code: "client_differs",
                            reason: format!("client {} differs from the workload's ({})", clients(), profile()),
                            weight: 0.15,
                            decisive: false,
                        });
                    }
                    if o.imds_v1 && other_v2 && !other_v1 {
                        signals.push(Signal {
                            code: "imds_v1",
                            reason: "IMDSv1 delivery while the workload uses IMDSv2".into(),
                            weight: 0.15,
                            decisive: false,
                        });
                    } else if o.imds_v1 {
                        signals.push(Signal {
                            code: "imds_v1",
                            reason: "credentials fetched through IMDSv1".into(),
                            weight: 0.1,
                            decisive: false,
                        });
                    }
                } else if w.kind == Workload::Ec2 && !eks && new_client && o.imds_v1 && other_v2 && !other_v1 {
                    // The thief behind the workload's own NAT: only the client and the IMDS version differ.
                    signals.push(Signal {
                        code: "client_differs",
                        reason: format!(
                            "from the workload's own origin {name}, but client {} differs from the workload's ({})",
                            clients(),
                            profile()
                        ),
                        weight: 0.15,
                        decisive: true,
                    });
                    signals.push(Signal {
                        code: "imds_v1",
                        reason: "IMDSv1 delivery while the workload uses IMDSv2".into(),
                        weight: 0.15,
                        decisive: false,
                    });
                }
                if signals.iter().any(|s| s.decisive) {
                    judged.push(Judged { origin: o, class, in_baseline, signals });
                }
            }
            if judged.is_empty() {
                continue;
            }
            if !used_from_baseline && !baseline.is_empty() {
                let reason = "the key was never used from the workload's own origins".to_owned();
                judged[0].signals.push(Signal { code: "never_used_by_workload", reason, weight: 0.1, decisive: false });
            }
            findings.push(finding(d, w, key, st, &judged, &expected));
        }
    }
    findings.sort_by(|a, b| (&a.first_seen, &a.access_key_id).cmp(&(&b.first_seen, &b.access_key_id)));
    findings
}

fn finding(
    d: &Detector,
    w: WorkloadId,
    key: &str,
    st: &KeyState,
    judged: &[Judged<'_>],
    expected: &[String],
) -> Finding {
    let mut reasons: Vec<String> = Vec::new();
    let mut score = 0.0f64;
    let mut seen_reasons = FxHashSet::default();
    for j in judged {
        for s in &j.signals {
            if seen_reasons.insert(s.reason.clone()) {
                reasons.push(s.reason.clone());
            }
        }
    }
    // Score each kind of evidence once (its strongest form), however many origins show it.
    let mut codes: Vec<(&'static str, f64)> = Vec::new();
    for j in judged {
        for s in &j.signals {
            match codes.iter_mut().find(|(c, _)| *c == s.code) {
                Some((_, w)) => *w = w.max(s.weight),
                None => codes.push((s.code, s.weight)),
            }
        }
    }
    for (_, w) in &codes {
        score += w;
    }
    let score = (score.min(1.0) * 100.0).round() / 100.0;
    let outside = judged.iter().any(|j| j.class == OriginClass::Outside);
    let human = judged.iter().any(|j| d.humans.contains_key(&j.origin.origin) && !j.in_baseline);
    let same = judged.iter().all(|j| j.in_baseline);
    let writes: u64 = judged.iter().map(|j| j.origin.writes).sum();
    let kind = if outside {
        "exfiltration.outside_aws"
    } else if same {
        "exfiltration.same_origin"
    } else {
        "exfiltration.inside_aws"
    };
    let severity = if (outside || human) && writes > 0 {
        "critical"
    } else if outside || human {
        "high"
    } else if same {
        "low"
    } else {
        "medium"
    };
    let confidence = if score >= 0.75 {
        "high"
    } else if score >= 0.45 {
        "medium"
    } else {
        "low"
    };
    let first = judged.iter().filter_map(|j| j.origin.first_ms).min();
    let last = judged.iter().filter_map(|j| j.origin.last_ms).max();
    let mut event_ids: Vec<String> = Vec::new();
    for j in judged {
        for id in &j.origin.event_ids {
            if !event_ids.iter().any(|x| **x == **id) {
                event_ids.push(id.to_string());
            }
        }
    }
    let role_arn = match (&st.delivery, d.syms.name(st.role_arn)) {
        (Some(del), "") => d.syms.name(del.role_arn),
        (_, arn) => arn,
    };
    Finding {
        kind: kind.into(),
        severity: severity.into(),
        confidence: confidence.into(),
        score,
        access_key_id: key.to_owned(),
        account_id: d.syms.name(st.account).to_owned(),
        role_arn: role_arn.to_owned(),
        role_id: match (&st.delivery, d.syms.name(st.role_id)) {
            (Some(del), "") => d.syms.name(del.role_id),
            (_, id) => id,
        }
        .to_owned(),
        session_name: d.syms.name(st.session).to_owned(),
        workload: w.kind.as_str().into(),
        source_ips: judged.iter().map(|j| d.syms.name(j.origin.origin).to_owned()).collect(),
        source_classes: judged.iter().map(|j| j.class.label()).collect(),
        expected_origins: expected.to_vec(),
        first_seen: first.map(format_ms),
        last_seen: last.map(format_ms),
        event_count: judged.iter().map(|j| j.origin.count).sum(),
        error_count: judged.iter().map(|j| j.origin.errors).sum(),
        session_issued_at: st.issued_ms.map(format_ms),
        delivery_event_id: st.delivery.as_ref().map(|del| d.syms.name(del.event_id).to_owned()),
        signals: codes.iter().map(|(c, _)| (*c).to_owned()).collect(),
        reasons,
        event_ids,
        minted_sessions: st.minted.clone(),
    }
}
