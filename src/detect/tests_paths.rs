//! Network paths AWS allows that put a workload's own calls somewhere a thief's could be: egress
//! through another region's central VPC.

use super::tests::*;
use super::*;
use serde_json::json;

#[test]
fn egress_through_another_regions_central_vpc_is_not_high() {
    // An instance in us-west-2 whose default route leads to a central egress VPC in us-east-1 (a
    // Transit Gateway peering, Cloud WAN's inspection), S3 through its own gateway endpoint.
    let mut tr = Trail::default();
    let inst = "i-0c1000000000000c1";
    let mut keys = Vec::new();
    for h in 0..6 {
        let (k, m) = (key(5100 + h), h as i64 * 60);
        tr.deliver("ec2.amazonaws.com", "app-role", inst, &k, "us-west-2", m);
        tr.call(&k, "app-role", inst, "10.1.2.3", BOTO, "s3.amazonaws.com", "GetObject", m + 2);
        tr.last()["vpcEndpointId"] = json!("vpce-0a1b2c3d4e5f60789");
        tr.last()["vpcEndpointAccountId"] = json!(ACCT);
        tr.call(&k, "app-role", inst, EC2_USE1, SSM_AGENT, "ssm.amazonaws.com", "UpdateInstanceInformation", m + 3);
        keys.push(k);
    }
    // A thief on another region's host, on one key, is still reported at high confidence.
    tr.call(
        &keys[3],
        "app-role",
        inst,
        "18.200.71.9",
        THIEF_CLI,
        "secretsmanager.amazonaws.com",
        "GetSecretValue",
        200,
    );
    let d = tr.run(DetectOptions::default());
    let thief: Vec<&Finding> = d.findings.iter().filter(|f| f.source_ips.iter().any(|s| s == "18.200.71.9")).collect();
    assert_eq!(thief.len(), 1, "{:#?}", d.findings);
    assert_eq!(thief[0].confidence, "high", "{:#?}", thief);
    let others = d.findings.iter().filter(|f| f.source_ips.iter().all(|s| s != "18.200.71.9"));
    assert!(others.clone().all(|f| f.confidence != "high"), "{:#?}", d.findings);
    assert_eq!(others.count(), 5, "{:#?}", d.findings);
}

#[test]
fn a_cross_account_call_delivered_to_both_accounts_is_judged_the_same_in_any_order() {
    // The instance reads a data lake's bucket in another account; S3 delivers each data event to both
    // accounts (`recipientAccountId` differs, the event is the same). A thief uses one key from home.
    let mut tr = Trail::default();
    let keys = instance(&mut tr, "i-0c10000000000c101", 0, 3, EC2_USE1);
    let copies: Vec<serde_json::Value> = tr
        .records
        .iter()
        .filter(|r| r["eventSource"] == "s3.amazonaws.com")
        .map(|r| {
            let mut c = r.clone();
            c["recipientAccountId"] = serde_json::json!("333344445555");
            c
        })
        .collect();
    tr.call(&keys[2], "app-role", "i-0c10000000000c101", OUTSIDE, THIEF_CLI, "s3.amazonaws.com", "GetObject", 150);
    let mut thief = tr.last().clone();
    thief["recipientAccountId"] = serde_json::json!("333344445555");
    let json = |d: &Detection| serde_json::to_string(&d.findings).unwrap();
    let ours_first = tr.run(DetectOptions::default());
    let mut theirs_first = Trail::default();
    // The scan keeps one copy of each event (by eventID): here, the other account's.
    let rest = tr.records.iter().filter(|r| r["eventSource"] != "s3.amazonaws.com").cloned();
    theirs_first.records = copies.into_iter().chain([thief]).chain(rest).collect();
    let other = theirs_first.run(DetectOptions::default());
    // The bucket owner's copies without the caller's session issuer (no role ARN) read first: the
    // role's ARN, once read, still names the key's account.
    let mut bare = Trail::default();
    bare.records = theirs_first.records.clone();
    for r in bare.records.iter_mut().filter(|r| r["recipientAccountId"] == "333344445555") {
        if let Some(ctx) = r["userIdentity"]["sessionContext"].as_object_mut() {
            ctx.remove("sessionIssuer");
        }
    }
    assert_eq!(json(&bare.run(DetectOptions::default())), json(&ours_first));
    for (a, b) in other.findings.iter().zip(&ours_first.findings) {
        let (a, b) = (serde_json::to_value(a).unwrap(), serde_json::to_value(b).unwrap());
        for (k, v) in a.as_object().unwrap() {
            assert_eq!(v, &b[k], "{k}");
        }
    }
    assert_eq!(json(&other), json(&ours_first));
    assert_eq!(flagged(&ours_first), [keys[2].as_str()]);
    assert_eq!(ours_first.findings[0].account_id, ACCT, "the role's account");
}
