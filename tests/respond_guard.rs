//! `respond`'s guardrails and action (issue 12) against moto's IAM over real HTTP (started by
//! `tests/run.sh`), and the policy file's validation.

/// Chained sessions seen after a revocation, repeated holds, the echoed audit log.
#[path = "respond_guard/after.rs"]
mod after;
mod common;
#[path = "common/iam.rs"]
mod iam_helpers;

use chrono::{Duration, Utc};
use common::*;
use iam_helpers::*;
use serde_json::Value;
use std::io::Write;
use std::sync::{Arc, Mutex};
use trailhound::detect::Finding;
use trailhound::respond::decide::{Decision, Ledger, MemoryLedger, Outcome, Policy, Responder, Verdict};

/// Decision lines written by the responder.
#[derive(Clone, Default)]
struct Out(Arc<Mutex<Vec<u8>>>);

impl Write for Out {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Out {
    fn lines(&self) -> Vec<Value> {
        lines(&String::from_utf8(self.0.lock().unwrap().clone()).unwrap())
    }
}

struct Setup {
    responder: Responder,
    out: Out,
    audit: String,
    _dir: tempfile::TempDir,
}

async fn responder(policy: Policy, apply: bool) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let audit = path_str(&dir.path().join("audit.jsonl"));
    let cfg = sdk(&moto(MOTO), "testing", "testing").await;
    let out = Out::default();
    let responder = Responder::new(policy, apply, &cfg, std::path::Path::new(&audit))
        .expect("responder")
        .with_output(Box::new(out.clone()));
    Setup { responder, out, audit, _dir: dir }
}

fn stolen(role: &str, role_id: &str, session: &str, key: &str) -> Finding {
    let mut f: Finding = serde_json::from_value(finding(role, role_id, session)).unwrap();
    f.access_key_id = key.to_owned();
    f
}

fn held_by(d: &Decision) -> &str {
    match &d.verdict {
        Verdict::Held { rule, .. } => rule,
        v => panic!("expected a held decision, got {v:?}: {d:?}"),
    }
}

fn records_with_phase(audit: &str, phase: &str) -> Vec<Value> {
    audit_records(audit).into_iter().filter(|r| r["phase"] == phase).collect()
}

#[tokio::test]
async fn an_acted_decision_leaves_the_surgical_deny_and_the_audit_records() {
    let iam = iam().await;
    let role = &uniq("th-rg-act");
    let role_id = make_role(&iam, role).await;
    let mut s = responder(Policy::default(), true).await;
    let mut ledger = MemoryLedger::default();
    let f = stolen(role, &role_id, "i-0abc1234567890def", "ASIARGACT00000000001");
    let ds = s.responder.handle(std::slice::from_ref(&f), &mut ledger, Utc::now()).await;
    assert_eq!(ds.len(), 1);
    let d = &ds[0];
    assert_eq!((&d.verdict, d.outcome, d.error.as_deref()), (&Verdict::Act, Some(Outcome::Applied), None), "{d:?}");
    assert_eq!(d.form, "surgical");
    let doc = policy(&iam, role, "TrailhoundRevokeSessions").await.expect("the deny is on the role");
    let st: Value = serde_json::from_str(&doc).unwrap();
    assert_eq!(st["Statement"][0]["Effect"], "Deny");
    assert_eq!(st["Statement"][0]["Condition"]["StringLike"]["aws:userid"], format!("{role_id}:i-0abc1234567890def"));
    assert!(policy(&iam, role, "AWSRevokeOlderSessions").await.is_none(), "surgical only");
    // The decision shows the exact document written.
    let plan = d.plan.as_ref().unwrap();
    assert_eq!(plan.len(), 1);
    let planned: Value = serde_json::from_str(plan[0].after.as_deref().unwrap()).unwrap();
    assert_eq!(planned, st);
    // Audit log: the decision before the change, the change's intent and outcome, the decision after.
    let recs = audit_records(&s.audit);
    let phases: Vec<&str> = recs.iter().map(|r| r["phase"].as_str().unwrap()).collect();
    assert_eq!(phases, ["decided", "intent", "applied", "decided"]);
    assert_eq!(recs[0]["id"], d.id.as_str());
    assert_eq!(recs[0]["decision"]["outcome"], "pending");
    assert_eq!(recs[3]["decision"]["outcome"], "applied");
    assert_eq!(d.audit_ids, vec![recs[2]["id"].as_str().unwrap().to_owned()]);
    assert!(recs[1]["reasons"].as_array().unwrap().iter().any(|r| r.as_str().unwrap().contains(&d.id)));
    let log = trailhound::revoke::audit::read(std::path::Path::new(&s.audit)).unwrap();
    assert!(log.problems.is_empty(), "{:?}", log.problems);
    assert!((0..4).all(|i| log.integrity(i) == trailhound::revoke::audit::Integrity::Intact));
    // The line on stdout is the decision.
    let out = s.out.lines();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0]["id"], d.id.as_str());
    assert_eq!(out[0]["verdict"], "act");
    assert_eq!(out[0]["outcome"], "applied");
    assert_eq!(out[0]["access_key_id"], "ASIARGACT00000000001");
    assert_eq!(ledger.revocations_since(0, None), 1);
    // A decision is not a change: rollback names the ids to use instead. (The responder holds the
    // log's lock while it runs.)
    let Setup { responder, audit, _dir, .. } = s;
    drop(responder);
    let r = revoke(&["--rollback", &d.id, "--audit-log", &audit]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("a decision of trailhound respond"), "{}", r.stderr);
    let r = revoke(&["--rollback", &d.audit_ids[0], "--yes", "--audit-log", &audit]);
    assert_eq!(r.code, 0, "its change can be rolled back: {}{}", r.stdout, r.stderr);
    assert!(policy(&iam, role, "TrailhoundRevokeSessions").await.is_none(), "rolled back");
}

#[tokio::test]
async fn the_same_finding_twice_makes_one_change() {
    let iam = iam().await;
    let role = &uniq("th-rg-twice");
    let role_id = make_role(&iam, role).await;
    let mut s = responder(Policy::default(), true).await;
    let mut ledger = MemoryLedger::default();
    let f = stolen(role, &role_id, "i-0twice", "ASIARGTWICE000000001");
    let first = s.responder.handle(std::slice::from_ref(&f), &mut ledger, Utc::now()).await;
    assert_eq!(first[0].outcome, Some(Outcome::Applied), "{:?}", first[0]);
    let doc = policy(&iam, role, "TrailhoundRevokeSessions").await.unwrap();
    // Delivered again (at-least-once): the ledger holds it.
    let again = s.responder.handle(std::slice::from_ref(&f), &mut ledger, Utc::now()).await;
    assert_eq!(held_by(&again[0]), "already_acted");
    // The ledger lost (a crash before it was stored): the plan finds the deny in place, changes nothing.
    let mut fresh = MemoryLedger::default();
    let later = Utc::now() + Duration::minutes(3);
    let replay = s.responder.handle(std::slice::from_ref(&f), &mut fresh, later).await;
    assert_eq!((&replay[0].verdict, replay[0].outcome), (&Verdict::Act, Some(Outcome::Unchanged)), "{:?}", replay[0]);
    assert_eq!(policy(&iam, role, "TrailhoundRevokeSessions").await.unwrap(), doc, "IAM unchanged");
    assert_eq!(records_with_phase(&s.audit, "intent").len(), 1, "one change recorded");
    assert_eq!(fresh.revocations_since(0, None), 0, "an unchanged deny does not count toward the limits");
}

#[tokio::test]
async fn a_dry_run_decides_and_records_but_changes_nothing() {
    let iam = iam().await;
    let role = &uniq("th-rg-dry");
    let role_id = make_role(&iam, role).await;
    let mut s = responder(Policy::default(), false).await;
    let mut ledger = MemoryLedger::default();
    let f = stolen(role, &role_id, "i-0dry", "ASIARGDRY00000000001");
    let d = &s.responder.handle(std::slice::from_ref(&f), &mut ledger, Utc::now()).await[0];
    assert_eq!((&d.verdict, d.outcome), (&Verdict::DryRun, None), "{d:?}");
    let after = d.plan.as_ref().unwrap()[0].after.as_deref().unwrap();
    assert!(after.contains(&format!("{role_id}:i-0dry")), "{after}");
    assert!(policy(&iam, role, "TrailhoundRevokeSessions").await.is_none(), "a dry run changes nothing");
    let recs = audit_records(&s.audit);
    assert_eq!(recs.len(), 1);
    assert_eq!(
        (recs[0]["phase"].as_str(), recs[0]["decision"]["verdict"].as_str()),
        (Some("decided"), Some("dry-run"))
    );
    assert_eq!(s.out.lines()[0]["verdict"], "dry-run");
    // A dry run is decided once per key; `--apply` later acts on it.
    let again = s.responder.handle(std::slice::from_ref(&f), &mut ledger, Utc::now()).await;
    assert_eq!(held_by(&again[0]), "already_acted");
    let mut applying = responder(Policy::default(), true).await;
    let d = &applying.responder.handle(std::slice::from_ref(&f), &mut ledger, Utc::now()).await[0];
    assert_eq!(d.outcome, Some(Outcome::Applied), "{d:?}");
}

#[tokio::test]
async fn a_role_tagged_protect_is_never_touched() {
    let iam = iam().await;
    let role = &uniq("th-rg-protected");
    let role_id = make_role(&iam, role).await;
    let tag = aws_sdk_iam::types::Tag::builder().key("trailhound:protect").value("break-glass").build().unwrap();
    iam.tag_role().role_name(role).tags(tag).send().await.unwrap();
    let mut s = responder(Policy::default(), true).await;
    let mut ledger = MemoryLedger::default();
    let f = stolen(role, &role_id, "i-0prot", "ASIARGPROT0000000001");
    let d = &s.responder.handle(std::slice::from_ref(&f), &mut ledger, Utc::now()).await[0];
    assert_eq!(held_by(d), "protect_tag");
    assert!(policy(&iam, role, "TrailhoundRevokeSessions").await.is_none());
    assert!(records_with_phase(&s.audit, "intent").is_empty());
    assert_eq!(records_with_phase(&s.audit, "decided")[0]["decision"]["rule"], "protect_tag");
}

#[tokio::test]
async fn role_and_account_lists_hold() {
    let iam = iam().await;
    let role = &uniq("th-rg-lists");
    let role_id = make_role(&iam, role).await;
    let f = stolen(role, &role_id, "i-0lists", "ASIARGLISTS000000001");
    let cases = [
        (format!("deny_roles = [\"arn:aws:iam::*:role/{}\"]", role.to_uppercase()), Some("deny_roles")),
        ("allow_roles = [\"arn:aws:iam::*:role/payments-*\"]".to_owned(), Some("allow_roles")),
        ("deny_accounts = [\"123456789012\"]".to_owned(), Some("deny_accounts")),
        ("allow_accounts = [\"999999999999\"]".to_owned(), Some("allow_accounts")),
        (
            format!(
                "allow_roles = [\"arn:aws:iam::123456789012:role/th-rg-lists-*\"]\nallow_accounts = [\"1234567890??\"]"
            ),
            None,
        ),
    ];
    for (text, rule) in cases {
        let mut s = responder(Policy::parse(&text).unwrap(), true).await;
        let d = &s.responder.handle(std::slice::from_ref(&f), &mut MemoryLedger::default(), Utc::now()).await[0];
        match rule {
            Some(rule) => {
                assert_eq!(held_by(d), rule, "{text}");
                assert!(policy(&iam, role, "TrailhoundRevokeSessions").await.is_none(), "{text}");
            }
            None => assert_eq!(d.outcome, Some(Outcome::Applied), "{text}: {d:?}"),
        }
    }
}

#[tokio::test]
async fn minimum_confidence_and_severity_hold() {
    let iam = iam().await;
    let role = &uniq("th-rg-levels");
    let role_id = make_role(&iam, role).await;
    let mut s = responder(Policy::default(), true).await;
    let mut f = stolen(role, &role_id, "i-0levels", "ASIARGLEVELS00000001");
    f.confidence = "medium".into();
    let d = &s.responder.handle(std::slice::from_ref(&f), &mut MemoryLedger::default(), Utc::now()).await[0];
    assert_eq!(held_by(d), "min_confidence");
    let mut s = responder(Policy::parse("min_severity = \"critical\"").unwrap(), true).await;
    f.confidence = "high".into();
    let d = &s.responder.handle(std::slice::from_ref(&f), &mut MemoryLedger::default(), Utc::now()).await[0];
    assert_eq!(held_by(d), "min_severity");
    // A key that assumed more sessions than the finding lists: naming only those would leave the rest.
    let mut s = responder(Policy::default(), true).await;
    f.minted_sessions_truncated = true;
    let d = &s.responder.handle(std::slice::from_ref(&f), &mut MemoryLedger::default(), Utc::now()).await[0];
    assert_eq!(held_by(d), "chain_truncated");
    assert!(policy(&iam, role, "TrailhoundRevokeSessions").await.is_none());
}

#[tokio::test]
async fn hourly_limits_hold_overall_and_per_role() {
    let iam = iam().await;
    let mut roles = Vec::new();
    for n in ["a", "b", "c"] {
        let role = uniq(&format!("th-rg-limit-{n}"));
        let id = make_role(&iam, &role).await;
        roles.push((role, id));
    }
    let policy_text = "max_per_hour = 2\nmax_per_role_per_hour = 1";
    let mut s = responder(Policy::parse(policy_text).unwrap(), true).await;
    let mut ledger = MemoryLedger::default();
    let now = Utc::now();
    let f = |i: usize, s: &str, k: &str| stolen(&roles[i].0, &roles[i].1, s, k);
    let batch = [
        f(0, "i-01", "ASIARGLIMIT000000001"),
        f(0, "i-02", "ASIARGLIMIT000000002"),
        f(1, "i-03", "ASIARGLIMIT000000003"),
        f(2, "i-04", "ASIARGLIMIT000000004"),
    ];
    let ds = s.responder.handle(&batch, &mut ledger, now).await;
    assert_eq!(ds[0].outcome, Some(Outcome::Applied), "{:?}", ds[0]);
    assert_eq!(held_by(&ds[1]), "max_per_role_per_hour");
    assert_eq!(ds[2].outcome, Some(Outcome::Applied), "{:?}", ds[2]);
    assert_eq!(held_by(&ds[3]), "max_per_hour");
    assert!(policy(&iam, &roles[2].0, "TrailhoundRevokeSessions").await.is_none());
    // An hour later the window has moved on.
    let ds = s.responder.handle(&batch[3..], &mut ledger, now + Duration::minutes(61)).await;
    assert_eq!(ds[0].outcome, Some(Outcome::Applied), "{:?}", ds[0]);
    assert!(policy(&iam, &roles[2].0, "TrailhoundRevokeSessions").await.is_some());
}

#[tokio::test]
async fn a_dry_run_shows_what_the_hourly_limit_would_hold() {
    let iam = iam().await;
    let role = uniq("th-rg-drylimit");
    let id = make_role(&iam, &role).await;
    let mut s = responder(Policy::parse("max_per_hour = 1").unwrap(), false).await;
    let batch =
        [stolen(&role, &id, "i-01", "ASIARGDRYLIM00000001"), stolen(&role, &id, "i-02", "ASIARGDRYLIM00000002")];
    let ds = s.responder.handle(&batch, &mut MemoryLedger::default(), Utc::now()).await;
    assert_eq!(ds[0].verdict, Verdict::DryRun);
    assert_eq!(held_by(&ds[1]), "max_per_hour");
}

#[tokio::test]
async fn the_role_wide_form_is_refused_unless_the_policy_allows_it() {
    let iam = iam().await;
    let role = &uniq("th-rg-rolewide");
    let role_id = make_role(&iam, role).await;
    // A finding that names no session: only the role-wide form could revoke it.
    let f = stolen(role, &role_id, "", "ASIARGWIDE0000000001");
    let mut s = responder(Policy::default(), true).await;
    let d = &s.responder.handle(std::slice::from_ref(&f), &mut MemoryLedger::default(), Utc::now()).await[0];
    assert_eq!(held_by(d), "role_wide");
    assert!(policy(&iam, role, "AWSRevokeOlderSessions").await.is_none());
    let mut s = responder(Policy::parse("role_wide = \"fallback\"").unwrap(), true).await;
    let d = &s.responder.handle(std::slice::from_ref(&f), &mut MemoryLedger::default(), Utc::now()).await[0];
    assert_eq!((d.outcome, d.form.as_str()), (Some(Outcome::Applied), "role-wide"), "{d:?}");
    let doc: Value = serde_json::from_str(&policy(&iam, role, "AWSRevokeOlderSessions").await.unwrap()).unwrap();
    let cutoff = doc["Statement"][0]["Condition"]["DateLessThan"]["aws:TokenIssueTime"].as_str().unwrap();
    // The ledger keeps the deny's cutoff: a session of the role seen later is covered by it.
    assert_eq!(d.summary().unwrap().role_wide_before_ms, trailhound::time::parse_ms(cutoff), "{cutoff}");
    assert!(d.summary().unwrap().role_wide_before_ms.is_some());
}

/// A role-wide deny already on the role that covers the key is kept with its earlier cutoff, and the
/// ledger keeps that cutoff, not the plan's: a session minted between the two is not counted as covered.
#[tokio::test]
async fn a_role_wide_deny_already_in_place_gives_the_ledger_its_cutoff() {
    let iam = iam().await;
    let role = &uniq("th-rg-widekept");
    let role_id = make_role(&iam, role).await;
    let now = Utc::now();
    let at = |t: chrono::DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let mut f = stolen(role, &role_id, "i-0widekept", "ASIARGWIDEKEPT000001");
    f.session_issued_at = Some(at(now - Duration::minutes(10)));
    let kept = at(now - Duration::minutes(5));
    let doc = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": ["*"],
        "Resource": ["*"], "Condition": {"DateLessThan": {"aws:TokenIssueTime": kept}}}]});
    iam.put_role_policy()
        .role_name(role)
        .policy_name("AWSRevokeOlderSessions")
        .policy_document(doc.to_string())
        .send()
        .await
        .unwrap();
    let mut s = responder(Policy::parse("role_wide = \"always\"").unwrap(), true).await;
    let d = &s.responder.handle(std::slice::from_ref(&f), &mut MemoryLedger::default(), now).await[0];
    assert_eq!((d.outcome, d.form.as_str()), (Some(Outcome::Unchanged), "role-wide"), "{d:?}");
    assert!(d.cutoff.as_deref().is_some_and(|c| c > kept.as_str()), "the plan's own cutoff is later: {d:?}");
    assert_eq!(d.summary().unwrap().role_wide_before_ms, trailhound::time::parse_ms(&kept), "{kept}");
}

#[tokio::test]
async fn roles_chained_into_are_guarded_and_revoked_too() {
    let iam = iam().await;
    let (role, target) = (uniq("th-rg-chain-src"), uniq("th-rg-chain-dst"));
    let role_id = make_role(&iam, &role).await;
    let target_id = make_role(&iam, &target).await;
    let mut f = stolen(&role, &role_id, "i-0chain", "ASIARGCHAIN000000001");
    f.minted_sessions = vec![trailhound::detect::MintedSession {
        access_key_id: "ASIARGCHAIN000000002".into(),
        role_arn: format!("arn:aws:iam::123456789012:role/{target}"),
        role_id: target_id.clone(),
        session_name: "pivot".into(),
        event_time: Some((Utc::now() - Duration::minutes(9)).format("%Y-%m-%dT%H:%M:%SZ").to_string()),
    }];
    // The key's own role denied (the other too): held, every session shown, nothing revoked.
    let text = format!("deny_roles = [\"arn:aws:iam::*:role/{role}\", \"arn:aws:iam::*:role/{target}\"]");
    let mut s = responder(Policy::parse(&text).unwrap(), true).await;
    let d = &s.responder.handle(std::slice::from_ref(&f), &mut MemoryLedger::default(), Utc::now()).await[0];
    assert_eq!(held_by(d), "deny_roles");
    assert!(matches!(&d.verdict, Verdict::Held { why, .. } if why.contains(&role)), "{d:?}");
    assert_eq!((d.finding.minted_sessions.len(), d.left_out.len()), (1, 0), "{d:?}");
    assert!(policy(&iam, &role, "TrailhoundRevokeSessions").await.is_none(), "nothing revoked");
    // A role it chained into denied: left out, named for a person; the stolen key is revoked (it
    // would mint more sessions meanwhile).
    let text = format!("deny_roles = [\"arn:aws:iam::*:role/{target}\"]");
    let mut s = responder(Policy::parse(&text).unwrap(), true).await;
    let mut ledger = MemoryLedger::default();
    let d = &s.responder.handle(std::slice::from_ref(&f), &mut ledger, Utc::now()).await[0];
    assert_eq!((d.outcome, d.roles.len()), (Some(Outcome::Applied), 1), "{d:?}");
    assert_eq!(d.left_out.len(), 1, "{d:?}");
    assert!(d.left_out[0].contains("\"pivot\"") && d.left_out[0].contains("deny_roles"), "{:?}", d.left_out);
    assert!(policy(&iam, &role, "TrailhoundRevokeSessions").await.unwrap().contains(&format!("{role_id}:i-0chain")));
    assert!(policy(&iam, &target, "TrailhoundRevokeSessions").await.is_none(), "the denied role untouched");
    assert_eq!(s.out.lines()[0]["left_out"][0].as_str(), Some(d.left_out[0].as_str()));
    // Decided again (the finding changed): the session left out is named for a person, not revoked.
    let mut more = f.clone();
    more.event_count += 1;
    let d = &s.responder.handle(std::slice::from_ref(&more), &mut ledger, Utc::now()).await[0];
    assert_eq!(held_by(d), "chain_not_covered");
    assert!(policy(&iam, &target, "TrailhoundRevokeSessions").await.is_none());
    // A role of another account it chained into: this responder cannot change it, so it is left out
    // from the start (planning it failed, and held the key's own revocation at every retry).
    f.minted_sessions.push(trailhound::detect::MintedSession {
        access_key_id: "ASIARGCHAIN000000003".into(),
        role_arn: "arn:aws:iam::999988887777:role/OrganizationAccountAccessRole".into(),
        role_id: "AROAFOREIGNROLE00001".into(),
        session_name: "pivot2".into(),
        event_time: Some((Utc::now() - Duration::minutes(8)).format("%Y-%m-%dT%H:%M:%SZ").to_string()),
    });
    let mut s = responder(Policy::default(), true).await;
    let d = &s.responder.handle(std::slice::from_ref(&f), &mut MemoryLedger::default(), Utc::now()).await[0];
    assert_eq!((d.outcome, d.roles.len()), (Some(Outcome::Applied), 2), "{d:?}");
    assert!(d.left_out.len() == 1 && d.left_out[0].contains("999988887777"), "{:?}", d.left_out);
    assert!(policy(&iam, &target, "TrailhoundRevokeSessions").await.unwrap().contains(&format!("{target_id}:pivot")));
    assert!(policy(&iam, &role, "TrailhoundRevokeSessions").await.unwrap().contains(&format!("{role_id}:i-0chain")));
}

#[tokio::test]
async fn a_failing_webhook_or_topic_is_reported_and_never_blocks_the_revocation() {
    let iam = iam().await;
    let role = &uniq("th-rg-notify");
    let role_id = make_role(&iam, role).await;
    // A webhook that receives, and one that refuses the connection.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = sock.read(&mut chunk).await.unwrap();
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf).to_string();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                if body.len() >= len {
                    sock.write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n").await.unwrap();
                    return (head.to_owned(), body.to_owned());
                }
            }
            assert!(n > 0, "connection closed early: {text}");
        }
    });
    let sns = aws_sdk_sns::Client::new(&sdk(&moto(MOTO), "testing", "testing").await);
    let topic = sns.create_topic().name(uniq("th-rg-decisions")).send().await.unwrap().topic_arn().unwrap().to_owned();
    let text = format!(
        "[notify]\nwebhook = \"http://127.0.0.1:{port}/hooks/SECRET-TOKEN\"\nsns_topic = \"{topic}\"\ntimeout_ms = 3000"
    );
    let mut s = responder(Policy::parse(&text).unwrap(), true).await;
    let f = stolen(role, &role_id, "i-0notify", "ASIARGNOTIFY00000001");
    let d = s.responder.handle(std::slice::from_ref(&f), &mut MemoryLedger::default(), Utc::now()).await.remove(0);
    assert_eq!(d.outcome, Some(Outcome::Applied));
    let failures = s.responder.drain().await;
    assert!(failures.is_empty(), "webhook and topic both reached: {failures:?}");
    let (head, body) = received.await.unwrap();
    assert!(head.starts_with("POST /hooks/SECRET-TOKEN HTTP/1.1"), "{head}");
    let sent: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((sent["id"].as_str(), sent["outcome"].as_str()), (Some(d.id.as_str()), Some("applied")));

    // Refused connection and a topic that does not exist: reported, naming the decision, the revocation made.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = closed.local_addr().unwrap().port();
    drop(closed);
    let text = format!(
        "[notify]\nwebhook = \"http://127.0.0.1:{dead}/hooks/SECRET-TOKEN\"\nsns_topic = \"arn:aws:sns:us-east-1:123456789012:{}\"",
        uniq("missing")
    );
    let role2 = &uniq("th-rg-notify2");
    let role2_id = make_role(&iam, role2).await;
    let mut s = responder(Policy::parse(&text).unwrap(), true).await;
    let f = stolen(role2, &role2_id, "i-0notify2", "ASIARGNOTIFY00000002");
    let d = s.responder.handle(std::slice::from_ref(&f), &mut MemoryLedger::default(), Utc::now()).await.remove(0);
    assert_eq!(d.outcome, Some(Outcome::Applied), "{d:?}");
    assert!(policy(&iam, role2, "TrailhoundRevokeSessions").await.is_some());
    let failures = s.responder.drain().await;
    assert_eq!(failures.len(), 2, "{failures:?}");
    assert!(failures.iter().all(|e| e.contains(&d.id)), "{failures:?}");
    assert!(failures.iter().any(|e| e.contains("webhook http://127.0.0.1:")), "{failures:?}");
    assert!(failures.iter().any(|e| e.contains("SNS topic")), "{failures:?}");
    assert!(!failures.iter().any(|e| e.contains("SECRET-TOKEN")), "the URL's path may be a secret: {failures:?}");
}

#[test]
fn attacker_strings_in_a_decision_line_are_escaped_for_terminals() {
    let mut f = stolen("web", "AROAEXAMPLE", "i-0\u{1b}[2J\u{202e}evil\u{85}\u{7f}", "ASIAESCAPE0000000001");
    f.reasons = vec!["client \u{1b}]8;;http://x\u{7}".into()];
    let d = Decision::new(&f, Utc::now());
    let line = trailhound::respond::announce::line(&d);
    assert!(!line.chars().any(|c| c.is_control() || ('\u{202a}'..='\u{202e}').contains(&c)), "{line:?}");
    assert!(line.contains(r"\u001b[2J\u202eevil\u0085\u007f"), "{line}");
    let back: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(back["finding"]["session_name"], f.session_name.as_str(), "the JSON still says exactly what was seen");
}

// The policy file's validation (no AWS).

#[test]
fn no_policy_file_means_high_confidence_surgical_five_an_hour() {
    let p = Policy::default();
    assert_eq!(Policy::parse("").unwrap(), p);
    assert_eq!((p.min_confidence.as_str(), p.max_per_hour, p.max_per_role_per_hour), ("high", 5, None));
    assert_eq!(p.role_wide, trailhound::respond::policy::RoleWide::Never);
    assert_eq!(p.protect_tag, "trailhound:protect");
}

#[test]
fn an_unknown_key_is_an_error_naming_the_key_and_the_line() {
    let e = Policy::parse("min_confidence = \"high\"\nmax_per_hours = 3\n").unwrap_err().to_string();
    assert!(e.contains("max_per_hours") && e.contains("line 2"), "{e}");
    let e = Policy::parse("[notify]\nwebhok = \"https://example.com\"\n").unwrap_err().to_string();
    assert!(e.contains("webhok") && e.contains("line 2"), "{e}");
}

#[test]
fn bad_values_are_errors_naming_the_key_and_the_line() {
    let cases = [
        ("min_confidence = \"critical\"", "`min_confidence` (line 1)"),
        ("min_severity = \"urgent\"", "line 1"),
        ("\n\ndeny_roles = [\"web-*\"]", "`deny_roles` (line 3)"),
        ("allow_accounts = [\"12345\"]", "`allow_accounts` (line 1)"),
        ("max_per_hour = 0", "`max_per_hour` (line 1)"),
        ("max_per_hour = 2\nmax_per_role_per_hour = 3", "`max_per_role_per_hour` (line 2)"),
        ("margin_minutes = -1", "`margin_minutes` (line 1)"),
        ("protect_tag = \"\"", "`protect_tag` (line 1)"),
        ("\nretry_seconds = 7200", "`retry_seconds` (line 2)"),
        ("retry_seconds = 0", "`retry_seconds` (line 1)"),
        ("role_wide = \"sometimes\"", "line 1"),
        ("[notify]\nwebhook = \"ftp://example.com/x\"", "`notify.webhook` (line 2)"),
        ("[notify]\nsns_topic = \"arn:aws:sqs:us-east-1:123456789012:q\"", "`notify.sns_topic` (line 2)"),
        ("notify.timeout_ms = 0", "`notify.timeout_ms` (line 1)"),
    ];
    for (text, want) in cases {
        let e = Policy::parse(text).map(|_| ()).unwrap_err().to_string();
        assert!(e.contains(want), "{text:?}: {e}");
    }
}

#[test]
fn load_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("guard.toml");
    std::fs::write(&p, "max_per_hour = \"five\"\n").unwrap();
    let e = Policy::load(&p).unwrap_err().to_string();
    assert!(e.contains("guard.toml") && e.contains("max_per_hour") && e.contains("line 1"), "{e}");
    let e = Policy::load(&dir.path().join("missing.toml")).unwrap_err().to_string();
    assert!(e.contains("missing.toml") && e.contains("cannot read"), "{e}");
}

#[test]
fn role_globs_match_like_iam_and_deny_ignores_case() {
    use trailhound::respond::policy::glob;
    assert!(glob("arn:aws:iam::*:role/app-*", "arn:aws:iam::123456789012:role/app-web"));
    assert!(glob("arn:aws:iam::*:role/*", "arn:aws:iam::123456789012:role/path/app"));
    assert!(!glob("arn:aws:iam::*:role/app-?", "arn:aws:iam::123456789012:role/app-web"));
    assert!(glob("*a*a*a*a*b", &"a".repeat(60).replace("aaaa", "aaab")));
    assert!(!glob("*a*a*a*a*a*a*c", &"a".repeat(5000)), "no blow-up on a hostile ARN");
    let p = Policy::parse("deny_roles = [\"arn:aws:iam::*:role/Admin*\"]").unwrap();
    assert_eq!(p.role_allowed("arn:aws:iam::123456789012:role/ADMIN-ops").unwrap_err().0, "deny_roles");
    assert!(p.role_allowed("arn:aws:iam::123456789012:role/web").is_ok());
}

#[test]
fn the_memory_ledger_keeps_one_entry_per_decision_and_expires() {
    let now = Utc::now();
    let f = stolen("web", "AROAEXAMPLE", "i-0ledger", "ASIARGLEDGER00000001");
    let mut d = Decision::new(&f, now);
    let mut ledger = MemoryLedger::default();
    ledger.record(&d).unwrap();
    assert!(ledger.acted_on("ASIARGLEDGER00000001").is_none(), "a held decision is not an action");
    d.verdict = Verdict::Act;
    d.outcome = Some(Outcome::Pending);
    ledger.record(&d).unwrap();
    assert_eq!(ledger.revocations_since(now.timestamp_millis(), None), 1, "a pending change counts");
    d.outcome = Some(Outcome::Applied);
    ledger.record(&d).unwrap();
    assert_eq!(ledger.entries.len(), 1, "the outcome replaces the pending record");
    assert_eq!(ledger.acted_on("ASIARGLEDGER00000001").unwrap().outcome, Some(Outcome::Applied));
    assert_eq!(ledger.revocations_since(now.timestamp_millis(), Some("arn:aws:iam::123456789012:role/web")), 1);
    assert_eq!(ledger.revocations_since(now.timestamp_millis(), Some("arn:aws:iam::123456789012:role/db")), 0);
    assert_eq!(ledger.revocations_since(now.timestamp_millis() + 1, None), 0);
    ledger.expire(now.timestamp_millis() + 1);
    assert!(ledger.entries.is_empty());
}

/// Thirty findings on thirty roles, one after another, each revoked (the latency figures are
/// `benches/respond.rs`'s; tests assert behaviour, not time).
#[tokio::test]
async fn thirty_findings_in_a_row_are_each_revoked_once() {
    let iam = iam().await;
    let mut s = responder(Policy::parse("max_per_hour = 100").unwrap(), true).await;
    let mut ledger = MemoryLedger::default();
    for i in 0..30 {
        let role = uniq("th-rg-latency");
        let id = make_role(&iam, &role).await;
        let f = stolen(&role, &id, &format!("i-0lat{i}"), &format!("ASIARGLATENCY{i:07}"));
        let d = s.responder.handle(std::slice::from_ref(&f), &mut ledger, Utc::now()).await.remove(0);
        assert_eq!(d.outcome, Some(Outcome::Applied), "{d:?}");
        let again = s.responder.handle(std::slice::from_ref(&f), &mut ledger, Utc::now()).await.remove(0);
        assert_ne!(again.outcome, Some(Outcome::Applied), "acted twice on one key: {again:?}");
    }
}
