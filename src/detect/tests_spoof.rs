//! Names chosen by callers. A role that trusts its account (`arn:aws:iam::ACCT:root`) as well as EC2
//! may be assumed by anyone allowed to, with any session name: named after the role's production
//! instance, such a session was judged as that instance's key, and `respond` denied the instance's
//! own sessions (its deny names the role and the session).

use super::tests::*;
use crate::scan::EventSink;
use serde_json::json;

const INST: &str = "i-0d5e55104000000d5";

/// An `AssumeRole` of `app-role` by an IAM user, with the session name `session`.
fn assumed_by_user(tr: &mut Trail, key: &str, session: &str, min: i64) {
    let id = tr.id();
    tr.records.push(json!({
        "eventVersion": "1.08", "eventTime": t(min), "eventID": id, "eventSource": "sts.amazonaws.com",
        "eventName": "AssumeRole", "awsRegion": "us-east-1", "sourceIPAddress": OUTSIDE, "userAgent": THIEF_CLI,
        "recipientAccountId": ACCT,
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAMALLORY000000001",
            "arn": format!("arn:aws:iam::{ACCT}:user/mallory"), "accountId": ACCT,
            "accessKeyId": "AKIAMALLORY000000001", "userName": "mallory"},
        "requestParameters": {"roleArn": Trail::role_arn("app-role"), "roleSessionName": session},
        "responseElements": {"credentials": {"accessKeyId": key, "expiration": "x"},
            "assumedRoleUser": {"assumedRoleId": format!("{ROLE_ID}:{session}"),
                "arn": format!("arn:aws:sts::{ACCT}:assumed-role/app-role/{session}")}}
    }));
}

#[test]
fn a_session_a_user_named_after_the_roles_instance_is_the_users_not_the_instances() {
    let mut tr = Trail::default();
    let keys = instance(&mut tr, INST, 0, 4, EC2_USE1);
    // Mallory, allowed to assume the role, names her session after the instance and works from home.
    let hers = key(70);
    assumed_by_user(&mut tr, &hers, INST, 90);
    for m in [91, 95, 120] {
        tr.call(&hers, "app-role", INST, OUTSIDE, THIEF_CLI, "s3.amazonaws.com", "ListBuckets", m);
        if let Some(ctx) = tr.last()["userIdentity"]["sessionContext"].as_object_mut() {
            ctx.remove("ec2RoleDelivery");
        }
    }
    // A thief with the instance's own key, from the same place, is still the instance's theft.
    tr.call(&keys[3], "app-role", INST, OUTSIDE, THIEF_CLI, "s3.amazonaws.com", "ListBuckets", 200);
    let d = run_both_ways(&tr);
    assert_eq!(flagged(&d), [keys[3].as_str()], "{:#?}", d.findings);
    assert_eq!(d.findings[0].workload, "ec2");
}

#[test]
fn a_new_user_agent_on_every_call_does_not_grow_the_facts() {
    // A thief (his key revoked or not: refused calls land in the trail too) sends a new agent with
    // every call. `respond` stores the facts, and each one was kept: its state grew with the calls.
    let mut tr = Trail::default();
    let keys = instance(&mut tr, INST, 0, 2, EC2_USE1);
    for j in 0..500 {
        let ua = format!("aws-cli/2.{j} Python/3.11.6 Darwin/23.1.0 exe/x86_64 {}", "x".repeat(j % 7));
        tr.call(&keys[1], "app-role", INST, OUTSIDE, &ua, "sts.amazonaws.com", "GetCallerIdentity", 70);
    }
    let batch = batch_of(&tr.records);
    let mut sink = super::facts::FactSink::new();
    for ev in batch.iter() {
        sink.observe(&ev);
    }
    let facts = sink.into_facts();
    let thief: Vec<_> = facts.uses.iter().filter(|u| u.source_ip == OUTSIDE).collect();
    assert_eq!(thief.len(), 1, "one group for one client family");
    assert_eq!(thief[0].count, 500);
    assert!(thief[0].user_agent.starts_with("aws-cli/2.0 "), "the least agent: {}", thief[0].user_agent);
    // And the findings are the ones the events give.
    let d = run_both_ways(&tr);
    assert_eq!(flagged(&d), [keys[1].as_str()]);
}

#[test]
fn a_role_a_workloads_key_chains_into_is_still_judged_by_its_name() {
    // The instance assumes a reporting role every hour under its own id (its key signs the
    // AssumeRole): a thief with one of those keys is the instance's theft, as before.
    let mut tr = Trail::default();
    let keys = instance(&mut tr, INST, 0, 3, EC2_USE1);
    let mut chained = Vec::new();
    for (h, k) in keys.iter().enumerate() {
        let c = key(80 + h);
        let m = h as i64 * 60 + 5;
        tr.call(k, "app-role", INST, EC2_USE1, BOTO, "sts.amazonaws.com", "AssumeRole", m);
        let r = tr.last();
        r["requestParameters"] = json!({"roleArn": Trail::role_arn("report-role"), "roleSessionName": INST});
        r["responseElements"] = json!({"credentials": {"accessKeyId": c, "expiration": "x"},
            "assumedRoleUser": {"assumedRoleId": format!("AROAREPORTROLE000001:{INST}"),
                "arn": format!("arn:aws:sts::{ACCT}:assumed-role/report-role/{INST}")}});
        tr.call(&c, "report-role", INST, EC2_USE1, BOTO, "athena.amazonaws.com", "StartQueryExecution", m + 1);
        chained_call(&mut tr);
        chained.push(c);
    }
    tr.call(&chained[2], "report-role", INST, OUTSIDE, THIEF_CLI, "s3.amazonaws.com", "ListBuckets", 170);
    chained_call(&mut tr);
    let d = run_both_ways(&tr);
    assert_eq!(flagged(&d), [chained[2].as_str()], "{:#?}", d.findings);
}

#[test]
fn a_session_minted_by_a_key_only_its_agent_places_is_the_minters() {
    // Mallory's own session (its mint is not in the trail: SSO) writes a Lambda runtime into its user
    // agent once, then names a session of the instance's role after the instance and works from home:
    // only AWS's records place a minter, so her session is never the instance's to revoke.
    let mut tr = Trail::default();
    instance(&mut tr, INST, 0, 3, EC2_USE1);
    let (hers, minted) = (key(71), key(72));
    let lambda_ua = "aws-cli/2.15.0 md/awscrt#0.19 ua/2.0 os/linux#5.10 exec-env/AWS_Lambda_python3.12";
    tr.call(&hers, "dev-role", "mallory@example.com", OUTSIDE, lambda_ua, "sts.amazonaws.com", "AssumeRole", 100);
    let r = tr.last();
    r["requestParameters"] = json!({"roleArn": Trail::role_arn("app-role"), "roleSessionName": INST});
    r["responseElements"] = json!({"credentials": {"accessKeyId": minted, "expiration": "x"},
        "assumedRoleUser": {"assumedRoleId": format!("{ROLE_ID}:{INST}"),
            "arn": format!("arn:aws:sts::{ACCT}:assumed-role/app-role/{INST}")}});
    chained_call(&mut tr);
    for m in [101, 110, 130] {
        tr.call(&minted, "app-role", INST, OUTSIDE, THIEF_CLI, "s3.amazonaws.com", "ListBuckets", m);
        chained_call(&mut tr);
    }
    let d = run_both_ways(&tr);
    assert!(!flagged(&d).contains(&minted.as_str()), "{:#?}", d.findings);
    assert!(d.findings.iter().all(|f| f.workload != "ec2"), "{:#?}", d.findings);
}

#[test]
fn sessions_a_central_function_names_after_the_instances_it_patches_are_not_theirs() {
    // A patch orchestrator (a Lambda in another region) assumes an automation role once per target
    // instance, each session named after the instance, and calls from its own hosts: were they
    // judged as the instances' keys, every one would be high (never from the instance, another
    // region).
    let mut tr = Trail::default();
    instance(&mut tr, INST, 0, 3, EC2_USE1);
    let lambda = key(90);
    tr.deliver("lambda.amazonaws.com", "orchestrator-role", "patch-orchestrator", &lambda, "us-west-2", 10);
    let ua = "Boto3/1.34.0 md/Botocore#1.34.0 exec-env/AWS_Lambda_python3.12";
    for (i, target) in [INST, "i-0d5e55104000000d6", "i-0d5e55104000000d7"].iter().enumerate() {
        let (chained, m) = (key(91 + i), 20 + i as i64 * 20);
        tr.call(&lambda, "orchestrator-role", "patch-orchestrator", EC2_USW2, ua, "sts.amazonaws.com", "AssumeRole", m);
        let r = tr.last();
        r["requestParameters"] = json!({"roleArn": Trail::role_arn("app-role"), "roleSessionName": target});
        r["responseElements"] = json!({"credentials": {"accessKeyId": chained, "expiration": "x"},
            "assumedRoleUser": {"assumedRoleId": format!("{ROLE_ID}:{target}"),
                "arn": format!("arn:aws:sts::{ACCT}:assumed-role/app-role/{target}")}});
        chained_call(&mut tr);
        for name in ["DescribeInstances", "SendCommand"] {
            tr.call(&chained, "app-role", target, EC2_USW2, ua, "ec2.amazonaws.com", name, m + 1);
            chained_call(&mut tr);
        }
    }
    let d = run_both_ways(&tr);
    assert!(d.findings.is_empty(), "{:#?}", d.findings);
}

/// A chained session's call carries no `ec2RoleDelivery`: only the instance's own credentials do.
fn chained_call(tr: &mut Trail) {
    if let Some(ctx) = tr.last()["userIdentity"]["sessionContext"].as_object_mut() {
        ctx.remove("ec2RoleDelivery");
    }
}
