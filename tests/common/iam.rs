//! Helpers for the `revoke` tests: moto's IAM, the command, roles, policies, findings, the audit log.
#![allow(dead_code)]

use crate::common::*;
use serde_json::{Value, json};

pub const MOTO: &str = "TRAILHOUND_TEST_MOTO";

pub async fn iam() -> aws_sdk_iam::Client {
    aws_sdk_iam::Client::new(&sdk(&moto(MOTO), "testing", "testing").await)
}

pub fn revoke(args: &[&str]) -> Run {
    let mut a = vec!["revoke"];
    a.extend_from_slice(args);
    run_with_aws(&a, &moto(MOTO), "testing", "testing")
}

pub const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
pub const OTHER: &str = r#"{"Version": "2012-10-17", "Statement": [{"Sid": "AppReads", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::app-bucket/*"}]}"#;

pub async fn make_role(iam: &aws_sdk_iam::Client, name: &str) -> String {
    let out = iam.create_role().role_name(name).assume_role_policy_document(TRUST).send().await.expect("create role");
    out.role().unwrap().role_id().to_owned()
}

pub async fn policy(iam: &aws_sdk_iam::Client, role: &str, name: &str) -> Option<String> {
    iam.get_role_policy()
        .role_name(role)
        .policy_name(name)
        .send()
        .await
        .ok()
        .map(|o| percent_encoding::percent_decode_str(o.policy_document()).decode_utf8_lossy().into_owned())
}

/// A high-confidence theft of `role`'s session, issued 15 minutes ago and used since (`respond` holds
/// a key issued more than 13 hours before now: it has expired).
pub fn finding(role: &str, role_id: &str, session: &str) -> Value {
    let ago = |m: i64| (chrono::Utc::now() - chrono::Duration::minutes(m)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    json!({
        "kind": "exfiltration.outside_aws", "severity": "high", "confidence": "high", "score": 0.9,
        "access_key_id": "ASIAEXAMPLEKEY000001", "account_id": "123456789012",
        "role_arn": format!("arn:aws:iam::123456789012:role/{role}"), "role_id": role_id,
        "session_name": session, "workload": "ec2", "source_ips": ["45.33.32.156"], "source_classes": ["outside AWS"],
        "expected_origins": ["3.225.16.109"], "first_seen": ago(10), "last_seen": ago(5),
        "event_count": 3, "error_count": 0, "session_issued_at": ago(15), "delivery_event_id": null,
        "signals": ["outside_aws"], "reasons": ["used from 45.33.32.156, outside AWS"], "event_ids": []
    })
}

pub fn write(dir: &tempfile::TempDir, name: &str, v: &Value) -> String {
    let p = dir.path().join(name);
    std::fs::write(&p, serde_json::to_string(v).unwrap()).unwrap();
    path_str(&p)
}

pub fn cutoff_soon() -> String {
    (chrono::Utc::now() + chrono::Duration::minutes(10)).format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The audit log's records, one per line (every line must be a record).
pub fn audit_records(path: &str) -> Vec<Value> {
    std::fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// `trailhound revoke ARGS...` against another endpoint (a fault-injecting proxy).
pub fn revoke_via(endpoint: &str, args: &[&str]) -> Run {
    let mut a = vec!["revoke"];
    a.extend_from_slice(args);
    run_with_aws(&a, endpoint, "testing", "testing")
}
