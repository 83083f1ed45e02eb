//! Regression tests from a hostile review of detection on trails its authors never saw: each benign
//! look-alike that was reported (an outage in triggered mode) and each theft that was missed.

use super::tests::*;
use super::*;
use serde_json::json;

#[test]
fn one_key_instances_behind_a_nat_people_also_use_are_quiet() {
    // Autoscaling instances with one key each, behind a NAT an IAM user's service also calls from.
    let mut tr = Trail::default();
    for i in 0..6 {
        let (k, inst) = (key(3000 + i), format!("i-0a1{i:014x}"));
        tr.deliver("ec2.amazonaws.com", "asg-role", &inst, &k, "us-east-1", i as i64 * 7);
        tr.call(&k, "asg-role", &inst, EC2_USE1, BOTO, "s3.amazonaws.com", "GetObject", i as i64 * 7 + 1);
    }
    let id = tr.id();
    tr.records.push(json!({
        "eventTime": t(3), "eventID": id, "eventSource": "s3.amazonaws.com", "eventName": "PutObject",
        "awsRegion": "us-east-1", "sourceIPAddress": EC2_USE1, "userAgent": BOTO, "recipientAccountId": ACCT,
        "userIdentity": {"type": "IAMUser", "arn": format!("arn:aws:iam::{ACCT}:user/legacy-batch-svc"),
            "userName": "legacy-batch-svc", "accessKeyId": "AKIAEXAMPLELEGACY001"}
    }));
    let d = tr.run(DetectOptions::default());
    assert!(d.findings.is_empty(), "{:#?}", d.findings);
}

#[test]
fn an_endpoint_without_owner_beside_a_public_address_is_no_rival() {
    // An S3 gateway endpoint on records that predate vpcEndpointAccountId, beside the public address.
    let mut tr = Trail::default();
    let keys = instance(&mut tr, "i-0a2000000000000a1", 3100, 6, EC2_USE1);
    for (h, k) in keys.iter().enumerate() {
        tr.call(
            k,
            "app-role",
            "i-0a2000000000000a1",
            "10.0.3.77",
            BOTO,
            "s3.amazonaws.com",
            "GetObject",
            h as i64 * 60 + 5,
        );
        tr.last()["vpcEndpointId"] = json!("vpce-f40dc59d");
    }
    assert!(tr.run(DetectOptions::default()).findings.is_empty());
}

#[test]
fn a_replaced_nat_with_draining_connections_is_a_handover() {
    let mut tr = Trail::default();
    let inst = "i-0a3000000000000a1";
    for h in 0..6 {
        let k = key(3200 + h);
        let m = h as i64 * 60;
        tr.deliver("ec2.amazonaws.com", "app-role", inst, &k, "us-east-1", m);
        // The NAT is replaced at 150 min; the old one's connection drains for four minutes.
        let (a, b) = if m + 2 < 150 { (EC2_USE1, EC2_USE1) } else { (EC2_USE1_B, EC2_USE1_B) };
        tr.call(&k, "app-role", inst, a, BOTO, "s3.amazonaws.com", "GetObject", m + 2);
        tr.call(&k, "app-role", inst, b, SSM_AGENT, "ssm.amazonaws.com", "UpdateInstanceInformation", m + 30);
    }
    tr.call(&key(3202), "app-role", inst, EC2_USE1, SSM_AGENT, "ssm.amazonaws.com", "UpdateInstanceInformation", 154);
    tr.call(&key(3202), "app-role", inst, EC2_USE1_B, BOTO, "s3.amazonaws.com", "GetObject", 151);
    let d = tr.run(DetectOptions::default());
    assert!(d.findings.is_empty(), "{:#?}", d.findings);
}

#[test]
fn a_new_address_after_stop_and_start_is_the_instances() {
    let mut tr = Trail::default();
    let inst = "i-0a4000000000000a1";
    instance(&mut tr, inst, 3300, 3, EC2_USE1);
    // Stopped after 3 h; started at 200 min with a new public address and a fresh key.
    let k = key(3303);
    tr.deliver("ec2.amazonaws.com", "app-role", inst, &k, "us-east-1", 200);
    tr.call(&k, "app-role", inst, EC2_USE1_B, BOTO, "s3.amazonaws.com", "GetObject", 202);
    let d = tr.run(DetectOptions::default());
    assert!(d.findings.is_empty(), "{:#?}", d.findings);
}

#[test]
fn shared_services_endpoints_used_from_the_first_key_are_infrastructure() {
    // A single-account trail: the shared-services account never appears as a recipient.
    let mut tr = Trail::default();
    let keys = instance(&mut tr, "i-0a5000000000000a1", 3400, 6, EC2_USE1);
    for (h, k) in keys.iter().enumerate() {
        tr.call(
            k,
            "app-role",
            "i-0a5000000000000a1",
            "10.8.0.9",
            SSM_AGENT,
            "kms.amazonaws.com",
            "Decrypt",
            h as i64 * 60 + 4,
        );
        tr.last()["vpcEndpointId"] = json!("vpce-0shared0000000001");
        tr.last()["vpcEndpointAccountId"] = json!("444455556666");
    }
    let d = tr.run(DetectOptions::default());
    assert!(d.findings.is_empty(), "{:#?}", d.findings);
    assert!(d.warnings.iter().any(|w| w.contains("--trusted-account 444455556666")), "{:?}", d.warnings);
}

#[test]
fn a_warm_lambda_whose_delivery_predates_the_window_is_not_judged_by_another_region() {
    let mut tr = Trail::default();
    for i in 0..5 {
        let k = key(3500 + i);
        tr.deliver("lambda.amazonaws.com", "fn-role", "resize", &k, "us-east-1", i as i64);
        tr.call(
            &k,
            "fn-role",
            "resize",
            EC2_USE1,
            "Boto3/1.34 exec-env/AWS_Lambda_python3.12",
            "s3.amazonaws.com",
            "GetObject",
            i as i64,
        );
    }
    // The same function in us-west-2, its environment started before the window.
    let k = key(3510);
    tr.call(
        &k,
        "fn-role",
        "resize",
        EC2_USW2,
        "Boto3/1.34 exec-env/AWS_Lambda_python3.12",
        "s3.amazonaws.com",
        "GetObject",
        9,
    );
    let d = tr.run(DetectOptions::default());
    assert!(d.findings.is_empty(), "{:#?}", d.findings);
}

#[test]
fn an_ecs_key_used_without_its_execution_environment_from_the_region_is_flagged() {
    let mut tr = Trail::default();
    for i in 0..5 {
        let k = key(3600 + i);
        tr.deliver("ecs-tasks.amazonaws.com", "task-role", &format!("task-{i}"), &k, "us-east-1", i as i64);
        tr.call(
            &k,
            "task-role",
            &format!("task-{i}"),
            &format!("3.225.16.{}", 30 + i),
            "aws-sdk-java/2.20 exec-env/AWS_ECS_FARGATE",
            "s3.amazonaws.com",
            "GetObject",
            i as i64,
        );
    }
    tr.call(&key(3602), "task-role", "task-2", EC2_USE1_B, THIEF_CLI, "s3.amazonaws.com", "ListBuckets", 20);
    let d = tr.run(DetectOptions::default());
    assert_eq!(flagged(&d), [key(3602).as_str()], "{:#?}", d.findings);
    assert!(d.findings[0].signals.iter().any(|s| s == "no_execution_environment"));
}

#[test]
fn a_busier_thief_on_every_key_is_still_the_one_reported() {
    // Both origins on every key from the first; the thief makes more calls. The instance's agent
    // heartbeat breaks the tie (either way every key is reported; this is about naming the thief).
    let mut tr = Trail::default();
    let keys = instance(&mut tr, "i-0a7000000000000a1", 3700, 6, EC2_USE1);
    for (h, k) in keys.iter().enumerate() {
        for j in 0..40 {
            tr.call(
                k,
                "app-role",
                "i-0a7000000000000a1",
                EC2_USE1_B,
                THIEF_CLI,
                "s3.amazonaws.com",
                "GetObject",
                h as i64 * 60 + 1 + j % 50,
            );
        }
    }
    let d = tr.run(DetectOptions::default());
    assert_eq!(d.findings.len(), 6);
    assert!(
        d.findings.iter().all(|f| f.source_ips == [EC2_USE1_B] && f.expected_origins == [EC2_USE1]),
        "{:#?}",
        d.findings
    );
}
