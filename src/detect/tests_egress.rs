//! Second egresses and other regions, from a hostile hunt: a function's key used from another
//! region's AWS host is a thief's cloud host, as an instance's is; a function that leaves through
//! another region on every key is not; an instance reaching SSM its own way (a network account's
//! endpoints, a proxy people share) is no session hijack.

use super::tests::*;
use crate::detect::DetectOptions;

const LAMBDA_UA: &str = "Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#5.10 exec-env/AWS_Lambda_python3.12";
/// Other us-east-1 EC2 addresses (Lambda's egress is from the region's AWS ranges).
const USE1: [&str; 6] = ["3.225.16.10", "3.225.16.11", "3.225.16.12", "3.225.16.13", "3.225.16.14", "3.225.16.15"];

/// A function's cold starts in us-east-1, each key used from its own address of the region; or, with
/// `egress`, every key through that one address.
fn function(tr: &mut Trail, egress: Option<&str>) -> Vec<String> {
    let mut keys = Vec::new();
    for (i, ip) in USE1.iter().enumerate() {
        let k = key(5100 + i);
        let m = i as i64 * 30;
        tr.deliver("lambda.amazonaws.com", "resize-role", "resize", &k, "us-east-1", m);
        let ip = egress.unwrap_or(ip);
        tr.call(&k, "resize-role", "resize", ip, LAMBDA_UA, "s3.amazonaws.com", "GetObject", m + 1);
        tr.call(&k, "resize-role", "resize", ip, LAMBDA_UA, "dynamodb.amazonaws.com", "PutItem", m + 2);
        keys.push(k);
    }
    keys
}

#[test]
fn a_functions_key_used_from_another_regions_aws_host_is_high() {
    let mut tr = Trail::default();
    let keys = function(&mut tr, None);
    assert!(run_both_ways(&tr).findings.is_empty());
    // The thief copied the environment's variables and the function's user agent to his own host
    // in us-west-2.
    tr.call(&keys[3], "resize-role", "resize", EC2_USW2, LAMBDA_UA, "s3.amazonaws.com", "ListBuckets", 200);
    let d = run_both_ways(&tr);
    assert_eq!(flagged(&d), [keys[3].as_str()], "{:#?}", d.findings);
    let f = &d.findings[0];
    assert_eq!(f.confidence, "high", "{f:#?}");
    for s in ["not_workload_origin", "region_mismatch"] {
        assert!(f.signals.iter().any(|x| x == s), "{s}: {f:#?}");
    }
}

#[test]
fn a_function_leaving_through_another_region_on_every_key_is_not_high() {
    // A central egress VPC in us-west-2, reached over a Transit Gateway peering: every key of the
    // function from its first leaves there. Reported as out of its region, alone at low confidence.
    let mut tr = Trail::default();
    function(&mut tr, Some(EC2_USW2));
    let d = run_both_ways(&tr);
    assert!(d.findings.iter().all(|f| f.confidence == "low"), "{:#?}", d.findings);
    assert!(d.findings.iter().all(|f| f.signals == ["region_mismatch"]), "{:#?}", d.findings);
    // A thief with two of the function's keys among many from his host is no such egress.
    let mut tr = Trail::default();
    let keys = function(&mut tr, None);
    for k in &keys[2..4] {
        tr.call(k, "resize-role", "resize", EC2_USW2, LAMBDA_UA, "s3.amazonaws.com", "ListBuckets", 200);
    }
    let d = run_both_ways(&tr);
    assert_eq!(flagged(&d), [keys[2].as_str(), keys[3].as_str()], "{:#?}", d.findings);
    assert!(d.findings.iter().all(|f| f.confidence == "high"), "{:#?}", d.findings);
}

/// A new instance whose SSM agent goes through interface endpoints a network account owns (hub and
/// spoke: the spoke's trail names that account as the endpoints' owner); its program too, or,
/// with `nat`, through the NAT gateway.
fn spoke_instance(tr: &mut Trail, keys: usize, nat: Option<&str>) -> Vec<String> {
    let inst = "i-0c0100000000000c1";
    let mut out = Vec::new();
    for h in 0..keys {
        let k = key(5200 + h);
        let m = h as i64 * 60;
        tr.deliver("ec2.amazonaws.com", "app-role", inst, &k, "us-east-1", m);
        for (ua, source, name, at) in [
            (BOTO, "s3.amazonaws.com", "GetObject", 1),
            (SSM_AGENT, "ssm.amazonaws.com", "UpdateInstanceInformation", 2),
            (SSM_AGENT, "ec2messages.amazonaws.com", "GetMessages", 3),
            (SSM_AGENT, "ssmmessages.amazonaws.com", "CreateControlChannel", 4),
        ] {
            match nat.filter(|_| ua == BOTO) {
                Some(ip) => tr.call(&k, "app-role", inst, ip, ua, source, name, m + at),
                None => {
                    tr.call(&k, "app-role", inst, "10.20.1.15", ua, source, name, m + at);
                    let r = tr.last();
                    r["vpcEndpointId"] = "vpce-0e1e2e3e4e5e6e7e8".into();
                    r["vpcEndpointAccountId"] = "999988887777".into();
                }
            }
        }
        out.push(k);
    }
    out
}

#[test]
fn the_ssm_agent_through_a_network_accounts_endpoints_is_no_hijack() {
    // Reported as the foreign endpoint it is until it is taken as shared (three keys), below high:
    // the agent's channels there are its only ones, and its client is not new to the instance.
    for nat in [None, Some(EC2_USE1)] {
        for keys in [1, 2, 3] {
            let mut tr = Trail::default();
            spoke_instance(&mut tr, keys, nat);
            let d = run_both_ways(&tr);
            assert_eq!(d.findings.len(), if keys < 3 { keys } else { 0 }, "{keys} keys, {nat:?}: {:#?}", d.findings);
            for f in &d.findings {
                assert_eq!(f.signals, ["foreign_vpc_endpoint"], "{keys} keys, {nat:?}: {f:#?}");
                assert_eq!(f.confidence, "medium", "{keys} keys, {nat:?}: {f:#?}");
            }
        }
    }
    // A thief's own endpoint on one key of an established instance is still high.
    let mut tr = Trail::default();
    let keys = instance(&mut tr, "i-0c0100000000000c1", 5250, 6, EC2_USE1);
    tr.call(&keys[4], "app-role", "i-0c0100000000000c1", "10.9.9.9", THIEF_CLI, "s3.amazonaws.com", "ListBuckets", 250);
    let r = tr.last();
    r["vpcEndpointId"] = "vpce-0bad0bad0bad0bad0".into();
    r["vpcEndpointAccountId"] = "999988887777".into();
    let d = run_both_ways(&tr);
    assert_eq!(flagged(&d), [keys[4].as_str()], "{:#?}", d.findings);
    assert_eq!(d.findings[0].confidence, "high", "{:#?}", d.findings);
}

#[test]
fn a_proxy_people_share_on_every_key_beside_the_nat_is_not_high() {
    // The application leaves through the company's proxy (on EC2 in the region), where engineers
    // work too; the SSM agent through the NAT gateway.
    const PROXY: &str = "3.225.16.77";
    let mut tr = Trail::default();
    let inst = "i-0c0200000000000c2";
    let mut keys = Vec::new();
    for h in 0..6 {
        let k = key(5300 + h);
        let m = h as i64 * 60;
        tr.deliver("ec2.amazonaws.com", "app-role", inst, &k, "us-east-1", m);
        tr.call(&k, "app-role", inst, EC2_USE1, SSM_AGENT, "ssm.amazonaws.com", "UpdateInstanceInformation", m + 1);
        tr.call(&k, "app-role", inst, PROXY, BOTO, "s3.amazonaws.com", "GetObject", m + 2);
        person(&mut tr, PROXY, "GetCallerIdentity", m + 5);
        person(&mut tr, PROXY, "DescribeInstances", m + 6);
        keys.push(k);
    }
    let d = run_both_ways(&tr);
    assert!(d.findings.iter().all(|f| f.confidence != "high"), "{:#?}", d.findings);
    // The same proxy on one key only, with the CLI: a person with the instance's key.
    let mut tr = Trail::default();
    let keys = instance(&mut tr, inst, 5400, 6, EC2_USE1);
    for m in [5, 65, 125] {
        person(&mut tr, PROXY, "DescribeInstances", m);
    }
    tr.call(&keys[4], "app-role", inst, PROXY, THIEF_CLI, "s3.amazonaws.com", "ListBuckets", 250);
    let d = run_both_ways(&tr);
    assert_eq!(flagged(&d), [keys[4].as_str()], "{:#?}", d.findings);
    assert_eq!(d.findings[0].confidence, "high", "{:#?}", d.findings);
    let _ = DetectOptions::default();
}

#[test]
fn a_function_naming_its_runtime_flags_a_host_of_the_region_without_it_at_medium() {
    let mut tr = Trail::default();
    let keys = function(&mut tr, None);
    let boto = "Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#5.10";
    tr.call(&keys[1], "resize-role", "resize", "3.225.16.99", boto, "s3.amazonaws.com", "ListBuckets", 200);
    let d = run_both_ways(&tr);
    assert_eq!(flagged(&d), [keys[1].as_str()], "{:#?}", d.findings);
    assert_eq!(d.findings[0].confidence, "medium", "{:#?}", d.findings);
}

/// A function's keys delivered in `region` (key ids from `base`), used from `egress` in turn (a
/// central egress VPC's NAT per zone), after `warm` keys whose delivery predates the window.
fn routed_function(
    tr: &mut Trail,
    (session, region, base): (&str, &str, usize),
    egress: &[&str],
    keys: usize,
    warm: usize,
) -> Vec<String> {
    let mut out = Vec::new();
    for i in 0..warm + keys {
        let k = key(base + out.len());
        let m = i as i64 * 30;
        if i >= warm {
            tr.deliver("lambda.amazonaws.com", "resize-role", session, &k, region, m);
        }
        let ip = egress[i % egress.len()];
        tr.call(&k, "resize-role", session, ip, LAMBDA_UA, "dynamodb.amazonaws.com", "PutItem", m + 1);
        out.push(k);
    }
    out
}

#[test]
fn a_function_that_never_leaves_from_its_own_region_is_not_judged_off_it() {
    let usw2 = ["52.42.146.205", "54.148.10.10", "52.12.10.10"];
    // A NAT per zone in the egress region; one key in the window; keys live before the window.
    for (egress, keys, warm) in [(&usw2[..], 9, 0), (&usw2[..1], 1, 0), (&usw2[..1], 2, 4)] {
        let mut tr = Trail::default();
        routed_function(&mut tr, ("resize", "us-east-1", 5500), egress, keys, warm);
        let d = run_both_ways(&tr);
        assert!(d.findings.iter().all(|f| f.confidence == "low"), "{egress:?} {keys} {warm}: {:#?}", d.findings);
    }
    // A VPC function reaching DynamoDB through its own gateway endpoint, and the rest through
    // another region.
    let mut tr = Trail::default();
    let keys = routed_function(&mut tr, ("resize", "us-east-1", 5500), &usw2[..1], 3, 0);
    for (i, k) in keys.iter().enumerate() {
        tr.call(
            k,
            "resize-role",
            "resize",
            "10.0.3.9",
            LAMBDA_UA,
            "dynamodb.amazonaws.com",
            "GetItem",
            i as i64 * 30 + 2,
        );
        let r = tr.last();
        r["vpcEndpointId"] = "vpce-0a0a0a0a0a0a0a0a0".into();
        r["vpcEndpointAccountId"] = ACCT.into();
    }
    let d = run_both_ways(&tr);
    assert!(d.findings.iter().all(|f| f.confidence == "low"), "{:#?}", d.findings);
    // Moved into such a VPC mid-window: its region's addresses before, the other region's after.
    let mut tr = Trail::default();
    routed_function(&mut tr, ("resize", "us-east-1", 5500), &USE1, 6, 0);
    let moved = routed_function(&mut tr, ("resize", "us-east-1", 5540), &usw2, 6, 0);
    for r in tr.records.iter_mut().filter(|r| moved.iter().any(|k| r.to_string().contains(k.as_str()))) {
        let t = crate::time::parse_ms(r["eventTime"].as_str().unwrap()).unwrap() + 400 * 60_000;
        r["eventTime"] = crate::time::format_ms(t).into();
    }
    let d = run_both_ways(&tr);
    assert!(d.findings.iter().all(|f| f.confidence == "low"), "{:#?}", d.findings);
    // The same name in eu-west-1, leaving from there, says nothing of the us-east-1 function.
    let mut tr = Trail::default();
    routed_function(&mut tr, ("resize", "us-east-1", 5500), &usw2[..1], 3, 0);
    routed_function(&mut tr, ("resize", "eu-west-1", 5520), &["34.240.0.10", "34.241.7.7"], 8, 0);
    let d = run_both_ways(&tr);
    assert!(d.findings.iter().all(|f| f.confidence == "low"), "{:#?}", d.findings);
}

#[test]
fn a_pods_keys_minted_under_new_session_names_from_another_region_are_medium() {
    // A thief with a pod's projected token mints keys under names of his own: a pod's session name
    // is its caller's choice, so the role's pods, seen leaving from us-east-1, stand for them. Only
    // medium: a role's pods may run in node groups with other routes.
    let issuer = "oidc.eks.us-east-1.amazonaws.com/id/ABCDEF";
    let mut tr = Trail::default();
    let mint = |tr: &mut Trail, k: &str, session: &str, ip: &str, m: i64| {
        let id = tr.id();
        tr.records.push(serde_json::json!({
            "eventTime": t(m), "eventID": id, "eventSource": "sts.amazonaws.com",
            "eventName": "AssumeRoleWithWebIdentity", "awsRegion": "us-east-1", "sourceIPAddress": ip,
            "recipientAccountId": ACCT,
            "userIdentity": {"type": "WebIdentityUser", "principalId": format!("arn:aws:iam::{ACCT}:oidc-provider/{issuer}:sts.amazonaws.com:system:serviceaccount:app:api"),
                "userName": "system:serviceaccount:app:api",
                "identityProvider": format!("arn:aws:iam::{ACCT}:oidc-provider/{issuer}")},
            "requestParameters": {"roleArn": Trail::role_arn("pod-role"), "roleSessionName": session},
            "responseElements": {"credentials": {"accessKeyId": k},
                "assumedRoleUser": {"assumedRoleId": format!("{ROLE_ID}:{session}")}}
        }));
    };
    // The role's pods, seen leaving from us-east-1 all along.
    for (i, ip) in USE1.iter().enumerate() {
        let (k, session) = (key(5600 + i), format!("botocore-session-{i}"));
        mint(&mut tr, &k, &session, ip, i as i64 * 30);
        for m in [1, 400] {
            tr.call(&k, "pod-role", &session, ip, BOTO, "s3.amazonaws.com", "GetObject", i as i64 * 30 + m);
        }
    }
    let mut stolen = Vec::new();
    for i in 0..2 {
        let (k, session) = (key(5650 + i), format!("x{i}"));
        mint(&mut tr, &k, &session, EC2_USW2, 300 + i as i64);
        tr.call(&k, "pod-role", &session, EC2_USW2, BOTO, "s3.amazonaws.com", "ListBuckets", 301 + i as i64);
        stolen.push(k);
    }
    let d = run_both_ways(&tr);
    assert_eq!(flagged(&d), [stolen[0].as_str(), stolen[1].as_str()], "{:#?}", d.findings);
    assert!(d.findings.iter().all(|f| f.confidence == "medium"), "{:#?}", d.findings);
}

#[test]
fn a_thiefs_client_on_a_young_foreign_endpoint_is_still_new() {
    // Only the SSM agent's client is excused on a foreign endpoint not yet taken as shared: a thief's
    // CLI through his own endpoint on the first two of four keys is high.
    let mut tr = Trail::default();
    let inst = "i-0c0300000000000c3";
    let keys = instance(&mut tr, inst, 5700, 4, EC2_USE1);
    for (i, k) in keys.iter().take(2).enumerate() {
        tr.call(k, "app-role", inst, "10.9.9.9", THIEF_CLI, "s3.amazonaws.com", "ListBuckets", i as i64 * 60 + 10);
        let r = tr.last();
        r["vpcEndpointId"] = "vpce-0bad0bad0bad0bad0".into();
        r["vpcEndpointAccountId"] = "999988887777".into();
    }
    let d = run_both_ways(&tr);
    assert_eq!(flagged(&d), [keys[0].as_str(), keys[1].as_str()], "{:#?}", d.findings);
    assert!(d.findings.iter().all(|f| f.confidence == "high"), "{:#?}", d.findings);
}

#[test]
fn keys_of_two_tasks_used_from_another_region_while_the_tasks_run_are_high() {
    // Each ECS task is its own session: a thief with two tasks' keys is no egress of theirs.
    let mut tr = Trail::default();
    let ecs = "Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#5.10 exec-env/AWS_ECS_FARGATE";
    let mut keys = Vec::new();
    for (i, ip) in USE1.iter().enumerate() {
        let (k, task) = (key(5800 + i), format!("5f3c9a1b2d4e6f7081000000000000{i:02}"));
        tr.deliver("ecs-tasks.amazonaws.com", "orders-task-role", &task, &k, "us-east-1", i as i64);
        for m in [1, 200] {
            tr.call(&k, "orders-task-role", &task, ip, ecs, "sqs.amazonaws.com", "ReceiveMessage", i as i64 + m);
        }
        keys.push((k, task));
    }
    for (k, task) in &keys[1..3] {
        tr.call(k, "orders-task-role", task, EC2_USW2, ecs, "s3.amazonaws.com", "ListBuckets", 100);
    }
    let d = run_both_ways(&tr);
    assert_eq!(flagged(&d), [keys[1].0.as_str(), keys[2].0.as_str()], "{:#?}", d.findings);
    assert!(d.findings.iter().all(|f| f.confidence == "high"), "{:#?}", d.findings);
}

#[test]
fn a_key_seen_at_home_only_through_others_or_over_another_ip_version_is_not_high() {
    let usw2 = ["52.42.146.205"];
    // Links the function hands out opened by a host of its region, and a verifier of the region
    // checking its keys: neither is the function leaving from there, nor are their clients its.
    let mut tr = Trail::default();
    let keys = routed_function(&mut tr, ("resize", "us-east-1", 5900), &usw2, 4, 0);
    for (i, k) in keys.iter().enumerate() {
        let m = i as i64 * 30 + 5;
        tr.call(k, "resize-role", "resize", EC2_USE1, "Mozilla/5.0", "s3.amazonaws.com", "GetObject", m);
        tr.last()["additionalEventData"] = serde_json::json!({"AuthenticationMethod": "QueryString"});
        tr.call(k, "resize-role", "resize", EC2_USE1_B, "Vault/1.15", "sts.amazonaws.com", "GetCallerIdentity", m);
    }
    let d = run_both_ways(&tr);
    assert!(d.findings.iter().all(|f| f.signals == ["region_mismatch"]), "{:#?}", d.findings);
    // A dual-stack function: IPv6 out at home through an egress-only gateway, IPv4 through
    // another region's NAT, on every key; and a call through AWS's global ranges (Global
    // Accelerator), which are of no region.
    let mut tr = Trail::default();
    let keys = routed_function(&mut tr, ("resize", "us-east-1", 5920), &usw2, 4, 0);
    for (i, k) in keys.iter().enumerate() {
        tr.call(
            k,
            "resize-role",
            "resize",
            super::tests_hostile::EC2_USE1_V6,
            LAMBDA_UA,
            "s3.amazonaws.com",
            "GetObject",
            i as i64 * 30 + 6,
        );
        tr.call(
            k,
            "resize-role",
            "resize",
            "76.223.96.10",
            LAMBDA_UA,
            "s3.amazonaws.com",
            "GetObject",
            i as i64 * 30 + 7,
        );
    }
    let d = run_both_ways(&tr);
    assert!(d.findings.iter().all(|f| f.confidence == "low"), "{:#?}", d.findings);
}

#[test]
fn jobs_sharing_a_session_name_across_networks_are_not_high() {
    // Glue names every job run's session `GlueJobRunnerSession`: jobs without a VPC connection
    // leave from the region, jobs with one through another region.
    let mut tr = Trail::default();
    let glue = "aws-sdk-java/1.12.0 Linux/5.10 OpenJDK_64-Bit_Server_VM/17 java/17";
    for i in 0..8 {
        let k = key(5950 + i);
        let m = i as i64 * 20;
        tr.deliver("glue.amazonaws.com", "etl-role", "GlueJobRunnerSession", &k, "us-east-1", m);
        let ip = if i % 2 == 0 { USE1[i % USE1.len()] } else { EC2_USW2 };
        tr.call(&k, "etl-role", "GlueJobRunnerSession", ip, glue, "s3.amazonaws.com", "ListObjectsV2", m + 1);
    }
    let d = run_both_ways(&tr);
    assert!(!d.findings.is_empty(), "{:#?}", d.findings);
    assert!(d.findings.iter().all(|f| f.confidence != "high"), "{:#?}", d.findings);
}
