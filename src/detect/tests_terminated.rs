//! Keys used after their instance was terminated. EC2 writes every `TerminateInstances` (Auto
//! Scaling's scale-in, a person's, a fleet's); once the instance has shut down nothing on it signs,
//! so its key signing later is in someone else's hands, wherever that is. Thieves who ship a key out
//! of an instance about to be scaled in (an implant, an SSRF) keep using it for its remaining hours.

use super::tests::*;
use super::*;
use serde_json::json;

const INST: &str = "i-0c1600000000000c1";
/// Outside AWS: a customer's browser.
const CUSTOMER: &str = "73.162.91.44";

/// A successful `TerminateInstances` of `instances`, by Auto Scaling's service-linked role.
fn terminate(tr: &mut Trail, instances: &[&str], min: i64) {
    let id = tr.id();
    let items: Vec<_> = instances.iter().map(|i| json!({"instanceId": i})).collect();
    let done: Vec<_> = instances
        .iter()
        .map(|i| {
            json!({"instanceId": i, "currentState": {"code": 32, "name": "shutting-down"},
            "previousState": {"code": 16, "name": "running"}})
        })
        .collect();
    let role = "AWSServiceRoleForAutoScaling";
    tr.records.push(json!({
        "eventVersion": "1.09", "eventTime": t(min), "eventID": id, "eventSource": "ec2.amazonaws.com",
        "eventName": "TerminateInstances", "awsRegion": "us-east-1",
        "sourceIPAddress": "autoscaling.amazonaws.com", "userAgent": "autoscaling.amazonaws.com",
        "recipientAccountId": ACCT, "readOnly": false,
        "userIdentity": {"type": "AssumedRole", "principalId": "AROAAUTOSCALING00001:AutoScaling",
            "arn": format!("arn:aws:sts::{ACCT}:assumed-role/{role}/AutoScaling"), "accountId": ACCT,
            "invokedBy": "autoscaling.amazonaws.com",
            "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROAAUTOSCALING00001",
                "arn": format!("arn:aws:iam::{ACCT}:role/aws-service-role/autoscaling.amazonaws.com/{role}"),
                "accountId": ACCT, "userName": role}}},
        "requestParameters": {"instancesSet": {"items": items}},
        "responseElements": {"requestId": "r", "instancesSet": {"items": done}}
    }));
}

/// Five hours of an instance, then its last key: delivered, never used by it, the instance scaled in.
fn scaled_in(tr: &mut Trail) -> String {
    instance(tr, INST, 0, 5, EC2_USE1);
    let last = key(5);
    tr.deliver("ec2.amazonaws.com", "app-role", INST, &last, "us-east-1", 300);
    terminate(tr, &[INST], 304);
    last
}

fn signals(d: &Detection, k: &str) -> Vec<String> {
    d.findings.iter().filter(|f| f.access_key_id == k).flat_map(|f| f.signals.clone()).collect()
}

#[test]
fn a_key_used_from_a_host_of_the_region_after_its_instance_was_scaled_in_is_high() {
    // The implant shipped the last key before the scale-in; the thief's own EC2 host in the same
    // region uses it for an hour. Before, the instance was thought to have moved there.
    let mut tr = Trail::default();
    let last = scaled_in(&mut tr);
    for (i, name) in ["GetCallerIdentity", "ListBuckets", "GetSecretValue", "CreateDBSnapshot"].iter().enumerate() {
        let source = if i == 0 { "sts.amazonaws.com" } else { "s3.amazonaws.com" };
        tr.call(&last, "app-role", INST, EC2_USE1_B, THIEF_CLI, source, name, 321 + i as i64 * 15);
    }
    // A link he signs and opens himself does not make his address a link's recipient.
    tr.call(&last, "app-role", INST, EC2_USE1_B, "curl/8.5.0", "s3.amazonaws.com", "GetObject", 380);
    tr.last()["additionalEventData"] = json!({"AuthenticationMethod": "QueryString"});
    let d = run_both_ways(&tr);
    assert_eq!(flagged(&d), [last.as_str()], "{:#?}", d.findings);
    let f = &d.findings[0];
    assert_eq!(f.confidence, "high", "{f:#?}");
    assert!(f.signals.iter().any(|s| s == "used_after_termination"), "{f:#?}");
    assert!(f.reasons.iter().any(|r| r.contains(INST) && r.contains("terminated")), "{f:#?}");
    // The thief's address is no longer offered as where the instance went.
    assert!(!f.expected_origins.iter().any(|o| o == EC2_USE1_B), "{f:#?}");
}

#[test]
fn the_instance_shutting_down_and_links_it_handed_out_are_not_theft() {
    let mut tr = Trail::default();
    let keys = instance(&mut tr, INST, 0, 3, EC2_USE1);
    terminate(&mut tr, &[INST], 130);
    // Its shutdown script ships the logs within the grace EC2's shutdown takes.
    tr.call(&keys[2], "app-role", INST, EC2_USE1, BOTO, "s3.amazonaws.com", "PutObject", 133);
    tr.call(&keys[2], "app-role", INST, EC2_USE1, BOTO, "s3.amazonaws.com", "PutObject", 150);
    // A download link it signed at 125 is opened by a customer two hours after (links live as long
    // as the key does).
    tr.call(&keys[2], "app-role", INST, CUSTOMER, "Mozilla/5.0", "s3.amazonaws.com", "GetObject", 250);
    tr.last()["additionalEventData"] = json!({"AuthenticationMethod": "QueryString"});
    let d = run_both_ways(&tr);
    for f in &d.findings {
        assert_eq!(f.signals, ["redeemed_signature"], "{f:#?}");
    }
}

#[test]
fn a_thief_behind_the_instances_own_nat_after_its_termination_is_medium() {
    // Lateral movement: another host of the VPC, behind the same NAT, signs with the dead instance's
    // key with the instance's own SDK. Only the time tells, and a person decides.
    let mut tr = Trail::default();
    let keys = instance(&mut tr, INST, 0, 4, EC2_USE1);
    terminate(&mut tr, &[INST, "i-0c1600000000000c2", "i-0c1600000000000c3"], 215);
    tr.call(&keys[3], "app-role", INST, EC2_USE1, BOTO, "s3.amazonaws.com", "GetObject", 260);
    let d = run_both_ways(&tr);
    assert_eq!(flagged(&d), [keys[3].as_str()], "{:#?}", d.findings);
    let f = &d.findings[0];
    // Medium: from the instance's own origin it may also be a shutdown script taking long.
    assert_eq!((f.confidence.as_str(), f.kind.as_str()), ("medium", "exfiltration.same_origin"), "{f:#?}");
    assert_eq!(f.severity, "medium", "{f:#?}");
    assert_eq!(signals(&d, &keys[3]), ["used_after_termination"]);
}

#[test]
fn only_a_successful_termination_of_the_keys_own_instance_by_awss_word_counts() {
    let mut tr = Trail::default();
    let keys = instance(&mut tr, INST, 0, 4, EC2_USE1);
    // A dry run, and a termination refused: the instance runs on.
    terminate(&mut tr, &[INST], 200);
    tr.last()["errorCode"] = json!("Client.DryRunOperation");
    terminate(&mut tr, &[INST], 201);
    tr.last()["errorCode"] = json!("Client.OperationNotPermitted");
    // Another instance, terminated; and a name that is no instance's.
    terminate(&mut tr, &["i-0c1600000000000c9", "I-0C16000000000C1"], 202);
    tr.call(&keys[3], "app-role", INST, EC2_USE1, BOTO, "s3.amazonaws.com", "GetObject", 260);
    // A person's session named after the instance, used from its address after it was terminated:
    // no delivery, no `ec2RoleDelivery`, so nothing says the key was the instance's.
    let mut later = Trail::default();
    instance(&mut later, INST, 0, 2, EC2_USE1);
    terminate(&mut later, &[INST], 100);
    later.call(&key(50), "app-role", INST, EC2_USE1, BOTO, "s3.amazonaws.com", "GetObject", 200);
    if let Some(ctx) = later.last()["userIdentity"]["sessionContext"].as_object_mut() {
        ctx.remove("ec2RoleDelivery");
    }
    for tr in [&tr, &later] {
        let d = run_both_ways(tr);
        assert!(d.findings.iter().all(|f| !f.signals.iter().any(|s| s == "used_after_termination")), "{:#?}", d);
        assert!(d.findings.is_empty(), "{:#?}", d.findings);
    }
}

#[test]
fn the_first_termination_ends_the_instance() {
    // Terraform retries the destroy three hours on (the terminated instance's call succeeds again):
    // the thief's hour in between is still after the instance's end.
    let mut tr = Trail::default();
    let last = scaled_in(&mut tr);
    tr.call(&last, "app-role", INST, EC2_USE1_B, THIEF_CLI, "s3.amazonaws.com", "ListBuckets", 340);
    tr.call(&last, "app-role", INST, EC2_USE1_B, THIEF_CLI, "s3.amazonaws.com", "GetObject", 400);
    terminate(&mut tr, &[INST], 500);
    let d = run_both_ways(&tr);
    assert_eq!(flagged(&d), [last.as_str()], "{:#?}", d.findings);
    assert_eq!(signals(&d, &last).iter().filter(|s| *s == "used_after_termination").count(), 1, "{d:#?}");
    assert!(d.findings[0].reasons.iter().any(|r| r.contains(&t(304)[..16])), "{:#?}", d.findings);
}
