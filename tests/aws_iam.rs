//! `trailhound revoke` against moto's IAM server over real HTTP (started by `tests/run.sh`).

mod common;
#[path = "common/iam.rs"]
mod iam_helpers;

use common::*;
use iam_helpers::*;
use serde_json::{Value, json};

#[tokio::test]
async fn surgical_revocation_keeps_other_policies_and_is_idempotent() {
    let iam = iam().await;
    let role = &uniq("th-surgical");
    let role_id = make_role(&iam, role).await;
    iam.put_role_policy().role_name(role).policy_name("AppAccess").policy_document(OTHER).send().await.unwrap();
    let other_before = policy(&iam, role, "AppAccess").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let f = write(&dir, "f.json", &json!([finding(role, &role_id, "i-0abc1234567890def")]));
    let audit = path_str(&dir.path().join("audit.jsonl"));
    let cutoff = cutoff_soon();

    // Plan first: nothing changes.
    let r = revoke(&["--finding", &f, "--before", &cutoff, "--audit-log", &audit]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains(&format!("aws iam put-role-policy --role-name {role} --policy-name TrailhoundRevokeSessions")),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("Plan only"), "{}", r.stdout);
    assert!(policy(&iam, role, "TrailhoundRevokeSessions").await.is_none());

    let r = revoke(&["--finding", &f, "--before", &cutoff, "--apply", "--yes", "--audit-log", &audit]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let doc: Value =
        serde_json::from_str(&policy(&iam, role, "TrailhoundRevokeSessions").await.expect("policy put")).unwrap();
    let st = &doc["Statement"];
    assert_eq!(st.as_array().unwrap().len(), 1);
    assert_eq!(st[0]["Effect"], "Deny");
    assert_eq!(st[0]["Condition"]["StringLike"]["aws:userid"], format!("{role_id}:i-0abc1234567890def"));
    assert_eq!(st[0]["Condition"]["DateLessThan"]["aws:TokenIssueTime"], cutoff.as_str());
    assert_eq!(
        policy(&iam, role, "AppAccess").await.unwrap(),
        other_before,
        "the other policy must stay byte for byte"
    );
    // The intent is recorded before the change, the outcome after, under one id.
    let recs = audit_records(&audit);
    assert_eq!(recs.len(), 2);
    assert_eq!((recs[0]["phase"].as_str(), recs[0]["verified"].as_bool()), (Some("intent"), Some(false)));
    assert_eq!((recs[1]["phase"].as_str(), recs[1]["verified"].as_bool()), (Some("applied"), Some(true)));
    assert_eq!(recs[0]["id"], recs[1]["id"]);
    for r in &recs {
        assert_eq!(r["before"], Value::Null);
        assert_eq!(r["target"], role.as_str());
    }

    // Applying the same revocation again changes nothing and records nothing.
    let r = revoke(&["--finding", &f, "--before", &cutoff, "--apply", "--yes", "--audit-log", &audit]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("Nothing to apply"), "{}", r.stdout);
    assert_eq!(std::fs::read_to_string(&audit).unwrap().lines().count(), 2);
}

#[tokio::test]
async fn rollback_restores_the_previous_document_exactly() {
    let iam = iam().await;
    let role = &uniq("th-rollback");
    let role_id = make_role(&iam, role).await;
    // An earlier revocation of another instance is already there.
    let earlier = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"TrailhoundRevokeOld","Effect":"Deny","Action":["*"],"Resource":["*"],"Condition":{{"DateLessThan":{{"aws:TokenIssueTime":"{}"}},"StringLike":{{"aws:userid":"{role_id}:i-0000000000000000a"}}}}}}]}}"#,
        cutoff_soon()
    );
    iam.put_role_policy()
        .role_name(role)
        .policy_name("TrailhoundRevokeSessions")
        .policy_document(&earlier)
        .send()
        .await
        .unwrap();
    let before = policy(&iam, role, "TrailhoundRevokeSessions").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let audit = path_str(&dir.path().join("audit.jsonl"));
    let r = revoke(&["--role", role, "--session", "i-0bbbbbbbbbbbbbbbb", "--apply", "--yes", "--audit-log", &audit]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let after: Value = serde_json::from_str(&policy(&iam, role, "TrailhoundRevokeSessions").await.unwrap()).unwrap();
    assert_eq!(after["Statement"].as_array().unwrap().len(), 2, "merged, never clobbered");
    let rec: Value = serde_json::from_str(std::fs::read_to_string(&audit).unwrap().lines().next().unwrap()).unwrap();
    let id = rec["id"].as_str().unwrap();
    let after_apply = policy(&iam, role, "TrailhoundRevokeSessions").await.unwrap();
    // A rollback is a change too: planned, shown with both documents, and never made without
    // confirmation (no terminal here, and no --yes).
    let r = revoke(&["--rollback", id, "--audit-log", &audit]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("refusing to --rollback without --yes"), "{}", r.stderr);
    assert!(r.stdout.contains("document now (what the change wrote):"), "{}", r.stdout);
    assert!(r.stdout.contains("document after the rollback (what the change replaced):"), "{}", r.stdout);
    assert!(r.stdout.contains("i-0000000000000000a") && r.stdout.contains("i-0bbbbbbbbbbbbbbbb"), "{}", r.stdout);
    assert!(r.stdout.contains("\n        \"Statement\": ["), "pretty-printed and indented: {}", r.stdout);
    assert_eq!(policy(&iam, role, "TrailhoundRevokeSessions").await.unwrap(), after_apply, "nothing changed");
    let r = revoke(&["--rollback", id, "--yes", "--audit-log", &audit]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(policy(&iam, role, "TrailhoundRevokeSessions").await.unwrap(), before);
    let lines = std::fs::read_to_string(&audit).unwrap();
    let last: Value = serde_json::from_str(lines.lines().last().unwrap()).unwrap();
    assert_eq!(last["rollback_of"], id);
}

#[tokio::test]
async fn over_budget_role_is_refused_and_unchanged() {
    let iam = iam().await;
    let role = &uniq("th-budget");
    make_role(&iam, role).await;
    // Two inline policies close to the role's 10,240-character aggregate limit.
    for (i, n) in [("Big1", 88), ("Big2", 86)] {
        let resources: Vec<String> =
            (0..n).map(|k| format!("arn:aws:s3:::bucket-number-{k:04}-with-a-long-name/*")).collect();
        let doc = json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":resources}]});
        iam.put_role_policy().role_name(role).policy_name(i).policy_document(doc.to_string()).send().await.unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let audit = path_str(&dir.path().join("audit.jsonl"));
    let sessions: Vec<String> = (0..4).map(|k| format!("i-0{k:016x}")).collect();
    let mut args = vec!["--role", role, "--apply", "--yes", "--audit-log", &audit];
    for s in &sessions {
        args.extend(["--session", s.as_str()]);
    }
    let r = revoke(&args);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("over IAM's limit of 10240"), "{}", r.stderr);
    assert!(policy(&iam, role, "TrailhoundRevokeSessions").await.is_none());
    assert!(!std::path::Path::new(&audit).exists());
}

#[tokio::test]
async fn missing_and_service_linked_roles_give_clear_errors() {
    let iam = iam().await;
    let missing = uniq("th-does-not-exist");
    let r = revoke(&["--role", &missing, "--all-sessions", "--apply", "--yes"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains(&missing) && r.stderr.contains("not found"), "{}", r.stderr);

    let name = match iam.create_service_linked_role().aws_service_name("elasticbeanstalk.amazonaws.com").send().await {
        Ok(out) => out.role().unwrap().role_name().to_owned(),
        // Created by an earlier run against the same server.
        Err(_) => "AWSServiceRoleForElasticBeanstalk".to_owned(),
    };
    assert_eq!(
        iam.get_role().role_name(&name).send().await.unwrap().role().unwrap().path(),
        "/aws-service-role/elasticbeanstalk.amazonaws.com/"
    );
    let r = revoke(&["--role", &name, "--all-sessions", "--apply", "--yes"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("service-linked"), "{}", r.stderr);
    assert!(policy(&iam, &name, "AWSRevokeOlderSessions").await.is_none());
}

#[tokio::test]
async fn role_wide_revocation_uses_the_console_policy_name() {
    let iam = iam().await;
    let role = &uniq("th-rolewide");
    make_role(&iam, role).await;
    let dir = tempfile::tempdir().unwrap();
    let audit = path_str(&dir.path().join("audit.jsonl"));
    let r = revoke(&[
        "--role",
        &format!("arn:aws:iam::123456789012:role/{role}"),
        "--all-sessions",
        "--apply",
        "--yes",
        "--audit-log",
        &audit,
    ]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let doc: Value = serde_json::from_str(&policy(&iam, role, "AWSRevokeOlderSessions").await.unwrap()).unwrap();
    let cond = &doc["Statement"][0]["Condition"];
    assert!(cond.get("StringLike").is_none());
    assert!(
        cond["DateLessThan"]["aws:TokenIssueTime"].as_str().unwrap()
            > chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string().as_str()
    );
}

#[tokio::test]
async fn long_term_key_is_deactivated_never_deleted_and_never_reactivated_without_the_flag() {
    let iam = iam().await;
    let user = &uniq("th-leaky");
    iam.create_user().user_name(user).send().await.unwrap();
    let key = iam.create_access_key().user_name(user).send().await.unwrap();
    let key_id = key.access_key().unwrap().access_key_id().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let audit = path_str(&dir.path().join("audit.jsonl"));
    let r = revoke(&["--access-key", &key_id, "--apply", "--yes", "--audit-log", &audit]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let keys = iam.list_access_keys().user_name(user).send().await.unwrap();
    let meta =
        keys.access_key_metadata().iter().find(|m| m.access_key_id() == Some(key_id.as_str())).expect("key kept");
    assert_eq!(meta.status().unwrap().as_str(), "Inactive");
    let up = iam.get_user_policy().user_name(user).policy_name("TrailhoundRevokeSessions").send().await.unwrap();
    assert!(
        percent_encoding::percent_decode_str(up.policy_document()).decode_utf8_lossy().contains("aws:TokenIssueTime")
    );
    let rec: Value = serde_json::from_str(std::fs::read_to_string(&audit).unwrap().lines().next().unwrap()).unwrap();
    assert_eq!(rec["action"], "deactivate-access-key");
    let id = rec["id"].as_str().unwrap();
    // Rolling back would make the stolen key work again: refused without a flag that says so.
    let r = revoke(&["--rollback", id, "--yes", "--audit-log", &audit]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("--reactivate-compromised-key") && r.stderr.contains("compromised"), "{}", r.stderr);
    let keys = iam.list_access_keys().user_name(user).send().await.unwrap();
    assert_eq!(keys.access_key_metadata()[0].status().unwrap().as_str(), "Inactive");
    let r = revoke(&["--rollback", id, "--reactivate-compromised-key", "--yes", "--audit-log", &audit]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("WARNING: this reactivates a key"), "{}", r.stdout);
    let keys = iam.list_access_keys().user_name(user).send().await.unwrap();
    assert_eq!(keys.access_key_metadata()[0].status().unwrap().as_str(), "Active");
}

#[tokio::test]
async fn denied_iam_call_changes_nothing() {
    // This server enforces IAM authorization after its first 4 actions, which create a user allowed to
    // read IAM but not to write it, its key, and the role.
    let endpoint = moto("TRAILHOUND_TEST_MOTO_AUTH");
    let admin = aws_sdk_iam::Client::new(&sdk(&endpoint, "testing", "testing").await);
    admin.create_user().user_name("reader").send().await.unwrap();
    let read_only = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:Get*","iam:List*","sts:GetCallerIdentity"],"Resource":"*"}]}"#;
    admin.put_user_policy().user_name("reader").policy_name("read").policy_document(read_only).send().await.unwrap();
    let key = admin.create_access_key().user_name("reader").send().await.unwrap();
    let key = key.access_key().unwrap();
    admin.create_role().role_name("th-guarded").assume_role_policy_document(TRUST).send().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let audit = path_str(&dir.path().join("audit.jsonl"));
    let r = run_with_aws(
        &["revoke", "--role", "th-guarded", "--all-sessions", "--apply", "--yes", "--audit-log", &audit],
        &endpoint,
        key.access_key_id(),
        key.secret_access_key(),
    );
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("PutRolePolicy") && r.stderr.to_lowercase().contains("denied"), "{}", r.stderr);
    let reader = aws_sdk_iam::Client::new(&sdk(&endpoint, key.access_key_id(), key.secret_access_key()).await);
    let names = reader.list_role_policies().role_name("th-guarded").send().await.unwrap();
    assert!(names.policy_names().is_empty(), "the role must be unchanged");
    // The attempt is on record: its intent, then its failure.
    let recs = audit_records(&audit);
    assert_eq!(recs.len(), 2);
    assert_eq!((recs[0]["phase"].as_str(), recs[1]["phase"].as_str()), (Some("intent"), Some("failed")));
    assert!(recs[1]["error"].as_str().unwrap().contains("PutRolePolicy"), "{}", recs[1]);
}

#[test]
fn scan_then_emit_names_the_right_role_session_and_cutoff() {
    let dir = tempfile::tempdir().unwrap();
    let r = scan(&[&path_str(&fixture("corpora/invictus-ir")), "-q", "--format", "json"]);
    let findings = dir.path().join("findings.json");
    std::fs::write(&findings, &r.stdout).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_trailhound"))
        .args(["revoke", "--finding", &path_str(&findings), "--emit", "--cutoff", "after-issue"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    // The session was issued 2023-07-10T11:55:22Z: over 36 hours ago, so the tool says there is
    // nothing left to deny rather than writing a useless statement.
    assert!(text.contains("every session issued before it has expired"), "{text}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_trailhound"))
        .args(["revoke", "--finding", &path_str(&findings), "--emit"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(r#""aws:userid": "AROATFQR7NSC6Q6YRQ2Q7:i-0dbc91f429e48eeed""#), "{text}");
    assert!(
        text.contains("--role-name stratus-red-team-ec2-steal-credentials-role --policy-name TrailhoundRevokeSessions"),
        "{text}"
    );
    assert!(text.contains("\"aws:TokenIssueTime\""), "{text}");
}

#[tokio::test]
async fn revocation_from_a_scan_covers_roles_assumed_with_the_stolen_key() {
    let iam = iam().await;
    // The chain fixture's roles (created once per server; the suite starts a fresh one).
    let mut ids = Vec::new();
    for role in ["web-app-role", "admin-role"] {
        let id = match iam.create_role().role_name(role).assume_role_policy_document(TRUST).send().await {
            Ok(out) => out.role().unwrap().role_id().to_owned(),
            Err(_) => iam.get_role().role_name(role).send().await.unwrap().role().unwrap().role_id().to_owned(),
        };
        ids.push(id);
    }
    let dir = tempfile::tempdir().unwrap();
    let audit = path_str(&dir.path().join("audit.jsonl"));
    let cutoff = cutoff_soon();
    // The fixture's role ids are another account's: give the copy moto's ids, or revoke (rightly) refuses.
    let src = fixture(
        "scenarios/chain/AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/20/111122223333_CloudTrail_us-east-1_20261120T1010Z_ChainFixture0001.json",
    );
    let text = std::fs::read_to_string(src)
        .unwrap()
        .replace("AROAWEBAPPROLEID0001", &ids[0])
        .replace("AROAADMINROLEID00001", &ids[1]);
    std::fs::write(dir.path().join("trail.json"), text).unwrap();
    let chain = path_str(&dir.path().join("trail.json"));
    let r = revoke(&["--from-scan", &chain, "--before", &cutoff, "--apply", "--yes", "--audit-log", &audit]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("role chaining"), "{}", r.stdout);
    let web: Value =
        serde_json::from_str(&policy(&iam, "web-app-role", "TrailhoundRevokeSessions").await.unwrap()).unwrap();
    assert_eq!(web["Statement"][0]["Condition"]["StringLike"]["aws:userid"], format!("{}:i-0a1b2c3d4e5f60718", ids[0]));
    let admin: Value =
        serde_json::from_str(&policy(&iam, "admin-role", "TrailhoundRevokeSessions").await.unwrap()).unwrap();
    assert_eq!(
        admin["Statement"][0]["Condition"]["StringLike"]["aws:userid"],
        format!("{}:\"><img src=x onerror=alert(1)>", ids[1])
    );
    assert_eq!(admin["Statement"][0]["Condition"]["DateLessThan"]["aws:TokenIssueTime"], cutoff.as_str());
}

#[tokio::test]
async fn a_finding_for_another_accounts_role_is_refused() {
    let iam = iam().await;
    let role = &uniq("th-elsewhere");
    make_role(&iam, role).await;
    let dir = tempfile::tempdir().unwrap();
    // Same role name, but the logs name another role id: another account's role, or a recreated one.
    let f = write(&dir, "f.json", &json!([finding(role, "AROAOTHERACCOUNTROLE1", "i-0abc1234567890def")]));
    let r = revoke(&["--finding", &f, "--apply", "--yes", "--audit-log", &path_str(&dir.path().join("a.jsonl"))]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("AROAOTHERACCOUNTROLE1") && r.stderr.contains("nothing was changed"), "{}", r.stderr);
    assert!(policy(&iam, role, "TrailhoundRevokeSessions").await.is_none());
}

#[tokio::test]
async fn rollback_refuses_to_undo_later_changes() {
    let iam = iam().await;
    let role = &uniq("th-later");
    make_role(&iam, role).await;
    let dir = tempfile::tempdir().unwrap();
    let audit = path_str(&dir.path().join("audit.jsonl"));
    let r = revoke(&["--role", role, "--session", "i-0aaaaaaaaaaaaaaaa", "--apply", "--yes", "--audit-log", &audit]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let r = revoke(&["--role", role, "--session", "i-0bbbbbbbbbbbbbbbb", "--apply", "--yes", "--audit-log", &audit]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let first: Value = serde_json::from_str(std::fs::read_to_string(&audit).unwrap().lines().next().unwrap()).unwrap();
    let before = policy(&iam, role, "TrailhoundRevokeSessions").await.unwrap();
    let r = revoke(&["--rollback", first["id"].as_str().unwrap(), "--yes", "--audit-log", &audit]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("changed after"), "{}", r.stderr);
    assert_eq!(policy(&iam, role, "TrailhoundRevokeSessions").await.unwrap(), before);
}
