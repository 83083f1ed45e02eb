//! A finding from a judged key: score, kind, severity and the evidence in words.

use super::baseline::Group;
use super::judge::{Judged, Signal};
use super::state::{KeyId, KeyState, Sym, flag};
use super::{Detector, Finding};
use crate::time::format_ms;
use rustc_hash::FxHashSet;

#[allow(clippy::too_many_arguments)]
pub(super) fn finding(
    d: &Detector,
    g: &Group<'_>,
    key: KeyId,
    st: &KeyState,
    judged: &[Judged<'_>],
    expected: &[String],
    evidence: &[String],
    region: Sym,
) -> Finding {
    let mut reasons: Vec<String> = Vec::new();
    let mut seen = FxHashSet::default();
    for j in judged {
        for s in &j.signals {
            if seen.insert(s.reason.as_str()) {
                reasons.push(s.reason.clone());
            }
        }
    }
    // Score each kind of evidence once (its strongest form), however many origins show it.
    let mut codes: Vec<(&'static str, f64)> = Vec::new();
    for s in judged.iter().flat_map(|j| &j.signals) {
        match codes.iter_mut().find(|(c, _)| *c == s.code) {
            Some((_, w)) => *w = w.max(s.weight),
            None => codes.push((s.code, s.weight)),
        }
    }
    let score: f64 = codes.iter().map(|(_, w)| w).sum();
    let score = (score.min(1.0) * 100.0).round() / 100.0;
    let outside = judged.iter().any(|j| j.outside || j.signals.iter().any(|s| s.code == "foreign_vpc_endpoint"));
    let human = judged.iter().any(|j| j.human && !j.own);
    let same = judged.iter().all(|j| j.own);
    let writes: u64 = judged.iter().map(|j| j.origin.writes as u64).sum();
    let kind = if judged.iter().any(|j| j.outside) {
        "exfiltration.outside_aws"
    } else if same {
        "exfiltration.same_origin"
    } else {
        "exfiltration.inside_aws"
    };
    // Only redeemed signatures (presigned links, identity proofs): most likely the workload's own
    // links opened by their recipients; the kind still says where they were opened, and uploads
    // through links keep some weight.
    let redeemed = judged.iter().all(|j| j.signals.iter().all(|s| s.code == "redeemed_signature"));
    let severity = if redeemed && writes > 0 {
        "medium"
    } else if redeemed {
        "low"
    } else if (outside || human) && writes > 0 {
        "critical"
    } else if outside || human {
        "high"
    } else if same && !judged.iter().any(|j| j.signals.iter().any(|s| s.code == AFTER_TERMINATION)) {
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
    // A set beside the list: a key used from thousands of addresses has thousands of ids to check.
    let mut seen_ids = FxHashSet::default();
    let event_ids: Vec<String> = judged
        .iter()
        .flat_map(|j| j.origin.event_ids.iter().flatten())
        .filter(|id| seen_ids.insert(**id))
        .map(|id| id.text(&d.syms))
        .collect();
    let del = st.delivery.as_ref();
    Finding {
        kind: kind.into(),
        severity: severity.into(),
        confidence: confidence.into(),
        score,
        access_key_id: key.text(&d.syms),
        account_id: d.syms.name(st.account).to_owned(),
        role_arn: d.syms.name(st.role_arn).to_owned(),
        role_id: d.syms.name(st.role_id).to_owned(),
        session_name: d.syms.name(st.session).to_owned(),
        workload: g.kind.as_str().into(),
        workload_region: (region != 0).then(|| d.syms.name(region).to_owned()),
        source_ips: judged.iter().map(|j| j.label.clone()).collect(),
        source_classes: judged.iter().map(|j| j.class.clone()).collect(),
        expected_origins: expected.to_vec(),
        baseline_evidence: evidence.to_vec(),
        first_seen: first.map(format_ms),
        last_seen: last.map(format_ms),
        event_count: judged.iter().map(|j| j.origin.count as u64).sum(),
        error_count: judged.iter().map(|j| j.origin.errors as u64).sum(),
        session_issued_at: st.issued_ms.or_else(|| st.delivery.as_ref().and_then(|d| d.time_ms)).map(format_ms),
        delivery_event_id: del.map(|x| x.event_id.text(&d.syms)),
        signals: codes.iter().map(|(c, _)| (*c).to_owned()).collect(),
        reasons,
        event_ids,
        minted_sessions: st.minted.as_ref().map(|m| m.kept.clone()).unwrap_or_default(),
        minted_sessions_truncated: st.minted.as_ref().is_some_and(|m| m.more),
    }
}

/// An origin where the key's signatures were only redeemed (every call a presigned URL opened or a
/// `GetCallerIdentity` sent on): a browser or a customer's server opening a link the workload
/// signed, or a third party checking its identity (EKS's authenticator, Vault's or MongoDB Atlas's
/// AWS IAM auth). A thief with the key can presign too, so it is reported, at low confidence, for a
/// person: `respond` acts on nothing below its confidence floor.
pub(super) fn judged_redeemed<'o>(mut j: Judged<'o>, clients: &str) -> Judged<'o> {
    let o = j.origin;
    let what = match (o.has(flag::LINK_OPENED), o.writes) {
        (false, _) => "identity proofs (GetCallerIdentity) sent on",
        (true, 0) => "presigned URLs opened, or identity proofs sent on,",
        (true, _) => "presigned URLs opened (some to write), or identity proofs sent on,",
    };
    let reason = format!(
        "{} ({}): only {what} here, by client {clients}; whoever holds a link or a signed request can send it, so \
         this shows where the key's signatures went, not where the key is",
        j.label, j.class
    );
    j.signals = vec![Signal { code: "redeemed_signature", reason, weight: 0.25, decisive: true }];
    j
}

/// The signal of a key used after its instance was terminated.
pub(super) const AFTER_TERMINATION: &str = "used_after_termination";

/// A key signing from here after its instance was terminated. Once its shutdown is over nothing on
/// the instance signs, so whoever signs holds a copy of the key: enough alone, from any address but
/// the instance's own. From its own address it may still be the instance, as a shutdown script can
/// hold it in `shutting-down` for longer (EC2 forces it only after hours): medium, for a person.
pub(super) fn after_termination(d: &Detector, instance: Sym, ended_ms: i64, last_ms: i64, own: bool) -> Signal {
    let minutes = (last_ms - ended_ms) / 60_000;
    Signal {
        code: AFTER_TERMINATION,
        reason: format!(
            "used until {} from here, {} after its instance {} was terminated ({}){}",
            format_ms(last_ms),
            if minutes >= 120 { format!("{} hours", minutes / 60) } else { format!("{minutes} minutes") },
            d.syms.name(instance),
            format_ms(ended_ms),
            if own {
                ", from the instance's own origin (a long shutdown script, or another host behind it)"
            } else {
                ""
            }
        ),
        weight: if own { 0.6 } else { 0.75 },
        decisive: true,
    }
}
