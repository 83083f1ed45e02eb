//! Findings in the AWS Security Finding Format (ASFF), as Security Hub's `BatchImportFindings` takes
//! them.
//!
//! The product is the account's own default product (`product/<account>/default`), the only one a
//! customer may import into without a partner integration. `CreatedAt` and `UpdatedAt` are the first
//! and last offending times, so the same logs give the same document, and a later scan that saw more
//! use updates the finding (same `Id`) with a later `UpdatedAt`.

use super::ocsf::{finding_uid, remediation_text, strip_nulls, title};
use crate::detect::Finding;
use serde_json::{Value, json};

/// The ASFF schema version.
pub const SCHEMA_VERSION: &str = "2018-10-08";

/// Fields `BatchImportFindings` requires in every finding.
pub const REQUIRED: &[&str] = &[
    "AwsAccountId",
    "CreatedAt",
    "Description",
    "GeneratorId",
    "Id",
    "ProductArn",
    "Resources",
    "SchemaVersion",
    "Severity",
    "Title",
    "Types",
    "UpdatedAt",
];

fn label(severity: &str) -> &'static str {
    match severity {
        "critical" => "CRITICAL",
        "high" => "HIGH",
        "medium" => "MEDIUM",
        "low" => "LOW",
        _ => "INFORMATIONAL",
    }
}

fn confidence(c: &str) -> u8 {
    match c {
        "high" => 90,
        "medium" => 60,
        "low" => 30,
        _ => 0,
    }
}

/// ASFF wants ISO 8601 with milliseconds or seconds; our times are already RFC 3339 in UTC.
fn time(t: &Option<String>, fallback: &str) -> String {
    t.clone().unwrap_or_else(|| fallback.to_owned())
}

/// Security Hub limits a description to 1024 characters.
fn description(f: &Finding) -> String {
    let text = if f.reasons.is_empty() { title(f) } else { f.reasons.join(" ") };
    match text.char_indices().nth(1020) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    }
}

/// One finding as ASFF; `region` is where Security Hub receives it (the product ARN's region).
pub fn finding(f: &Finding, region: &str) -> Value {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let created = time(&f.first_seen, &now);
    let updated = time(&f.last_seen, &created);
    let partition = super::ocsf::partition(&f.role_arn);
    let account = &f.account_id;
    let mut resources = vec![json!({
        "Type": "AwsIamAccessKey",
        "Id": format!("AWS::IAM::AccessKey:{}", f.access_key_id),
        "Partition": partition,
        "Region": region,
        "Details": {"AwsIamAccessKey": {
            "PrincipalId": f.role_id,
            "PrincipalType": "AssumedRole",
            "SessionContext": {"SessionIssuer": {"Arn": f.role_arn, "PrincipalId": f.role_id, "Type": "Role", "AccountId": account}},
        }},
    })];
    if !f.role_arn.is_empty() {
        resources.push(json!({"Type": "AwsIamRole", "Id": f.role_arn, "Partition": partition, "Region": region}));
    }
    let mut v = json!({
        "SchemaVersion": SCHEMA_VERSION,
        "Id": finding_uid(f),
        "ProductArn": format!("arn:{partition}:securityhub:{region}:{account}:product/{account}/default"),
        "ProductName": "trailhound",
        "CompanyName": "trailhound",
        "GeneratorId": format!("trailhound/{}", f.kind),
        "AwsAccountId": account,
        "Types": ["TTPs/Credential Access", "Unusual Behaviors/User"],
        "FirstObservedAt": f.first_seen,
        "LastObservedAt": f.last_seen,
        "CreatedAt": created,
        "UpdatedAt": updated,
        "Severity": {"Label": label(&f.severity), "Original": f.severity},
        "Confidence": confidence(&f.confidence),
        "Title": title(f),
        "Description": description(f),
        "Remediation": {"Recommendation": {
            "Text": remediation_text(f),
            "Url": "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_revoke-sessions.html",
        }},
        "ProductFields": {
            "trailhound/kind": f.kind,
            "trailhound/workload": f.workload,
            "trailhound/session_name": f.session_name,
            "trailhound/source_ips": f.source_ips.join(","),
            "trailhound/signals": f.signals.join(","),
            "trailhound/event_count": f.event_count.to_string(),
        },
        "Network": f.source_ips.iter().find(|ip| ip.parse::<std::net::IpAddr>().is_ok()).map(|ip| {
            if ip.contains(':') { json!({"Direction": "IN", "SourceIpV6": ip}) } else { json!({"Direction": "IN", "SourceIpV4": ip}) }
        }),
        "Resources": resources,
        "RecordState": "ACTIVE",
        "Workflow": {"Status": "NEW"},
    });
    strip_nulls(&mut v);
    v
}

/// The required fields `v` lacks (empty when it is a complete ASFF finding).
pub fn missing_fields(v: &Value) -> Vec<&'static str> {
    REQUIRED.iter().copied().filter(|k| v.get(*k).is_none_or(Value::is_null)).collect()
}
