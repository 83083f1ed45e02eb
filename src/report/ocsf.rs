//! Findings as OCSF 1.1 Detection Findings (class 2004), for SIEMs and security lakes.
//!
//! Each finding becomes one event: `finding_info` names it (a stable uid, the kind as its type,
//! first and last offending times), `evidences` hold the offending origins with the key and the
//! session, `resources` the role and the key, `confidence_id` the detector's confidence, and
//! `remediation` the revocation to run. What OCSF has no attribute for (signals, event ids, the
//! workload's expected origins) goes into `unmapped`, as the schema intends.

use crate::detect::Finding;
use serde_json::{Value, json};

/// The OCSF version the output follows.
pub const OCSF_VERSION: &str = "1.1.0";

/// A finding's stable id, shared by the OCSF and ASFF forms (same key, same kind: same id, so a
/// re-import updates the finding instead of adding one).
pub fn finding_uid(f: &Finding) -> String {
    format!("trailhound/{}/{}/{}", f.kind, f.account_id, f.access_key_id)
}

/// A short title for the finding.
pub fn title(f: &Finding) -> String {
    let what = match f.kind.as_str() {
        "exfiltration.outside_aws" => "used outside AWS",
        "exfiltration.inside_aws" => "used from another AWS network",
        "exfiltration.same_origin" => "used by another principal from the workload's own origin",
        _ => "used off its workload",
    };
    let workload = if f.workload.is_empty() { "workload" } else { f.workload.as_str() };
    format!("Temporary {workload} credentials {what}")
}

/// What to do about the finding, in words (the README's response section says more).
pub fn remediation_text(f: &Finding) -> String {
    let role = if f.role_arn.is_empty() { "the role" } else { f.role_arn.as_str() };
    format!(
        "Revoke the sessions of {role} issued before now (trailhound revoke --role {role} --session {} --apply), then \
         find out how the credentials left the workload (trailhound report).",
        if f.session_name.is_empty() { "<session>" } else { f.session_name.as_str() }
    )
}

fn severity_id(s: &str) -> (u8, &'static str) {
    match s {
        "critical" => (5, "Critical"),
        "high" => (4, "High"),
        "medium" => (3, "Medium"),
        "low" => (2, "Low"),
        _ => (99, "Other"),
    }
}

fn confidence_id(s: &str) -> (u8, &'static str) {
    match s {
        "high" => (3, "High"),
        "medium" => (2, "Medium"),
        "low" => (1, "Low"),
        _ => (0, "Unknown"),
    }
}

/// RFC 3339 text -> epoch milliseconds (OCSF's timestamp type).
fn ms(t: &Option<String>) -> Option<i64> {
    t.as_deref().and_then(crate::time::parse_ms)
}

/// The partition of an ARN (`aws`, `aws-cn`, `aws-us-gov`); `aws` when there is none.
pub fn partition(arn: &str) -> &str {
    arn.split(':').nth(1).filter(|p| !p.is_empty()).unwrap_or("aws")
}

/// Removes null members (absent values are left out rather than typed null, which schemas reject).
pub fn strip_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, x| !x.is_null());
            m.values_mut().for_each(strip_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

/// One finding as an OCSF Detection Finding.
pub fn finding(f: &Finding) -> Value {
    let mut v = finding_raw(f);
    strip_nulls(&mut v);
    v
}

fn finding_raw(f: &Finding) -> Value {
    let (sev, sev_name) = severity_id(&f.severity);
    let (conf, conf_name) = confidence_id(&f.confidence);
    let first = ms(&f.first_seen);
    let last = ms(&f.last_seen).or(first);
    // One evidence per offending origin. OCSF 1.1 also defines `actor` and `src_endpoint` here, but
    // py-ocsf-models (the validator the tests use) does not model them yet: the origin, the key and
    // the session go into the evidence's `data`.
    let evidences: Vec<Value> = f
        .source_ips
        .iter()
        .enumerate()
        .map(|(i, origin)| {
            json!({
                "name": format!("use of {} from {origin}", f.access_key_id),
                "data": {
                    "src_endpoint": origin,
                    "origin_class": f.source_classes.get(i),
                    "access_key_id": f.access_key_id,
                    "session_name": f.session_name,
                    "role_arn": f.role_arn,
                    "role_id": f.role_id,
                },
            })
        })
        .collect();
    let mut resources = vec![json!({
        "uid": f.access_key_id,
        "type": "AWS::IAM::AccessKey",
        "cloud_partition": partition(&f.role_arn),
        "region": f.workload_region,
    })];
    if !f.role_arn.is_empty() {
        resources.push(json!({
            "uid": f.role_arn,
            "name": f.role_arn.rsplit('/').next(),
            "type": "AWS::IAM::Role",
            "cloud_partition": partition(&f.role_arn),
        }));
    }
    json!({
        "class_uid": 2004,
        "class_name": "Detection Finding",
        "category_uid": 2,
        "category_name": "Findings",
        "activity_id": 1,
        "activity_name": "Create",
        "type_uid": 200401,
        "type_name": "Detection Finding: Create",
        "time": last.unwrap_or(0),
        "severity_id": sev,
        "severity": sev_name,
        "status_id": 1,
        "status": "New",
        "confidence_id": conf,
        "confidence": conf_name,
        "confidence_score": (f.score.clamp(0.0, 1.0) * 100.0).round() as i64,
        "message": title(f),
        "metadata": {
            "version": OCSF_VERSION,
            "product": {"name": "trailhound", "vendor_name": "trailhound", "version": env!("CARGO_PKG_VERSION")},
        },
        "cloud": {
            "provider": "AWS",
            "account": {"uid": f.account_id, "name": f.account_id, "type": "AWS Account", "type_id": 10},
            "region": f.workload_region,
        },
        "finding_info": {
            "uid": finding_uid(f),
            "title": title(f),
            "desc": f.reasons.join(" "),
            "types": [f.kind],
            "first_seen_time": first,
            "last_seen_time": last,
            "analytic": {"uid": f.kind, "name": f.kind, "type": "Rule", "type_id": 1},
            "data_sources": ["AWS CloudTrail"],
        },
        "evidences": evidences,
        "resources": resources,
        "remediation": {
            "desc": remediation_text(f),
            "references": ["https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_revoke-sessions.html"],
        },
        "unmapped": {
            "workload": f.workload,
            "signals": f.signals,
            "event_ids": f.event_ids,
            "event_count": f.event_count,
            "error_count": f.error_count,
            "expected_origins": f.expected_origins,
            "session_issued_at": f.session_issued_at,
            "delivery_event_id": f.delivery_event_id,
        },
    })
}
