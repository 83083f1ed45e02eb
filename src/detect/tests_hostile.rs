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

#[test]
fn a_key_used_from_thousands_of_addresses_grows_its_origins_geometrically() {
    // Reserving one more origin at a time copied every origin of the key once per new address: a key
    // used from tens of thousands of addresses (a hostile trail) made the scan quadratic in them.
    let mut d = Detector::new(DetectConfig::load(&DetectOptions::default()).unwrap());
    let key = "ASIAEXAMPLEKEY000001";
    let (mut regrowths, mut capacity) = (0, 0);
    for i in 0..5000u32 {
        let source_ip = format!("45.{}.{}.1", i >> 8, i & 255);
        let uses = vec![facts::UseFact { access_key_id: key.into(), source_ip, count: 1, ..Default::default() }];
        d.absorb(&facts::Facts { uses, ..Default::default() });
        let st = d.keys.get(&state::KeyId::lookup(key, &d.syms).unwrap()).unwrap();
        assert_eq!(st.origins.len(), i as usize + 1);
        regrowths += (st.origins.capacity() != capacity) as u32;
        capacity = st.origins.capacity();
    }
    assert!(regrowths <= 16, "{regrowths} regrowths for 5,000 origins");
}

#[test]
fn a_region_reason_names_each_called_region_once_and_counts_the_rest() {
    // The trail writes the regions a key called: a reason listed every origin's, repeats included,
    // so a key called in many regions from thousands of addresses repeated the whole list per origin.
    let mut tr = Trail::default();
    let (k, inst) = (key(4000), "i-0abcdef1234567890");
    let regions = [
        "af-south-1",
        "ap-east-1",
        "ap-northeast-1",
        "ap-south-1",
        "ca-central-1",
        "eu-central-1",
        "eu-north-1",
        "eu-west-3",
        "me-south-1",
        "sa-east-1",
        "ap-southeast-2",
        "il-central-1",
    ];
    for (i, r) in regions.iter().enumerate() {
        let ip = format!("45.33.32.{}", i + 1);
        tr.call(&k, "app", inst, &ip, THIEF_CLI, "ec2.amazonaws.com", "DescribeInstances", i as i64);
        tr.last()["awsRegion"] = json!(r);
    }
    for m in 0..3 {
        tr.call(&k, "app", inst, EC2_USW2, BOTO, "ec2.amazonaws.com", "DescribeInstances", 20 + m);
        // IMDSv1, and no delivery record: nothing makes the us-west-2 address the instance's own.
        tr.last()["userIdentity"]["sessionContext"]["ec2RoleDelivery"] = json!("1.0");
    }
    let d = tr.run(DetectOptions::default());
    let reasons: Vec<&String> = d.findings.iter().flat_map(|f| &f.reasons).collect();
    let reason = reasons.iter().find(|r| r.contains("only called")).unwrap_or_else(|| panic!("{reasons:#?}"));
    let named = regions[..8].join(", ");
    assert!(reason.contains(&format!("only called {named} and 5 more and no delivery")), "{reason}");
}

#[test]
fn distinct_huge_user_agents_are_neither_cached_nor_interned_whole() {
    // A forged trail of distinct 1 MB user agents was kept whole, in the agent cache and again as
    // each agent's client family: 4,000 of them made a 4.5 GB process out of a few MB of gzip.
    let mut d = Detector::new(DetectConfig::load(&DetectOptions::default()).unwrap());
    let filler = "x".repeat(1 << 20);
    for i in 0..48u32 {
        let user_agent = format!("tool{i:02}{filler} (Linux)");
        assert!(origin::client_family(&user_agent).len() <= 64 + " linux".len());
        let uses = vec![facts::UseFact {
            access_key_id: "ASIAEXAMPLEKEY000002".into(),
            source_ip: "45.1.1.1".into(),
            user_agent,
            count: 1,
            ..Default::default()
        }];
        d.absorb(&facts::Facts { uses, ..Default::default() });
    }
    assert!(d.ua_cached_bytes <= UA_CACHE_BYTES, "{} bytes of user agent cached", d.ua_cached_bytes);
    assert!(d.ua_families.len() < 48, "{} agents cached", d.ua_families.len());
    // Short agents are still remembered.
    let family = d.syms.get("aws-cli linux");
    assert_eq!(family, None);
    let uses = vec![facts::UseFact {
        access_key_id: "ASIAEXAMPLEKEY000002".into(),
        source_ip: "45.1.1.2".into(),
        user_agent: "aws-cli/2.15.0 Python/3.11 Linux/6.1".into(),
        count: 1,
        ..Default::default()
    }];
    d.absorb(&facts::Facts { uses, ..Default::default() });
    assert!(d.ua_families.contains_key("aws-cli/2.15.0 Python/3.11 Linux/6.1"));
    assert!(d.syms.get("aws-cli linux").is_some());
}

#[test]
fn an_instance_with_more_than_sixteen_elastic_addresses_owns_them_all() {
    // An instance holds up to hundreds of addresses (tens of interfaces, up to 50 each). Keeping only
    // its 16 smallest elastic addresses reported its own calls from the others as a theft.
    let mut tr = Trail::default();
    let (k, inst) = (key(4100), "i-0abcdef1234567891");
    tr.deliver("ec2.amazonaws.com", "app", inst, &k, "us-east-1", 0);
    let ips: Vec<String> = (0..40).map(|i| format!("3.225.16.{}", 10 + i)).collect();
    for ip in &ips {
        let id = tr.id();
        tr.records.push(json!({
            "eventVersion": "1.08", "eventTime": t(1), "eventID": id, "eventSource": "ec2.amazonaws.com",
            "eventName": "AssociateAddress", "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.7",
            "userAgent": THIEF_CLI, "recipientAccountId": ACCT,
            "userIdentity": {"type": "IAMUser", "arn": format!("arn:aws:iam::{ACCT}:user/admin"),
                "accessKeyId": "AKIAEXAMPLEADMIN0001"},
            "requestParameters": {"instanceId": inst, "publicIp": ip}
        }));
    }
    for (i, ip) in ips.iter().enumerate() {
        tr.call(&k, "app", inst, ip, BOTO, "ec2.amazonaws.com", "DescribeInstances", 2 + i as i64);
    }
    let d = tr.run(DetectOptions::default());
    assert!(d.findings.is_empty(), "{:#?}", d.findings);
    // Past the bound, a forged trail's addresses are not all kept: the list stays sorted and bounded.
    let mut list = Vec::new();
    for i in (0..3 * MAX_ASSOCIATED as u32).rev() {
        state::keep_smallest(&mut list, i, MAX_ASSOCIATED);
        state::keep_smallest(&mut list, i, MAX_ASSOCIATED);
    }
    assert_eq!(list, (0..MAX_ASSOCIATED as u32).collect::<Vec<_>>());
}

/// From a second hostile review (trails written from AWS's behaviour, not the generator's).
pub(super) const EC2_USE1_V6: &str = "2600:1f19:8000:4c00:1a2b:3c4d:5e6f:7081";

#[test]
fn an_imdsv1_thief_delivered_in_the_same_second_as_the_instance_loses_whatever_the_key_ids() {
    // EC2 delivers a key for each IMDS version in the same second; an SSRF takes every IMDSv1 key
    // and uses it from a host of its own in the same region. Which of the two keys sorts first is
    // the ids AWS drew: it must not decide which address is the instance's.
    // The instance's SDK may also keep a key past the next delivery, and so use only some of them,
    // while the SSRF uses every one: how many keys an address used is the holder's choice, the IMDS
    // version is AWS's record.
    for (thief_first, heartbeat, sparse) in [
        (true, true, false),
        (true, false, false),
        (false, true, false),
        (false, false, false),
        (true, false, true),
        (false, false, true),
    ] {
        let mut tr = Trail::default();
        let inst = "i-0a9000000000000a1";
        let mut thief_keys = Vec::new();
        for h in 0..6 {
            let m = h as i64 * 60;
            let (a, b) = (key(4100 + 2 * h), key(4101 + 2 * h));
            let (own, stolen) = if thief_first { (b, a) } else { (a, b) };
            tr.deliver("ec2.amazonaws.com", "app-role", inst, &stolen, "us-east-1", m);
            tr.deliver("ec2.amazonaws.com", "app-role", inst, &own, "us-east-1", m);
            if !sparse || h % 2 == 0 {
                tr.call(&own, "app-role", inst, EC2_USE1, BOTO, "s3.amazonaws.com", "GetObject", m + 2);
            }
            if heartbeat {
                tr.call(
                    &own,
                    "app-role",
                    inst,
                    EC2_USE1,
                    SSM_AGENT,
                    "ssm.amazonaws.com",
                    "UpdateInstanceInformation",
                    m + 3,
                );
            }
            tr.call(
                &stolen,
                "app-role",
                inst,
                EC2_USE1_B,
                THIEF_CLI,
                "secretsmanager.amazonaws.com",
                "GetSecretValue",
                m + 5,
            );
            tr.last()["userIdentity"]["sessionContext"]["ec2RoleDelivery"] = json!("1.0");
            thief_keys.push(stolen);
        }
        let d = tr.run(DetectOptions::default());
        let mut got = flagged(&d);
        got.sort();
        assert_eq!(
            got, thief_keys,
            "thief first {thief_first}, heartbeat {heartbeat}, sparse {sparse}: {:#?}",
            d.findings
        );
        for f in &d.findings {
            assert_eq!(f.source_ips, [EC2_USE1_B]);
            assert_eq!(f.expected_origins, [EC2_USE1]);
        }
    }
}

#[test]
fn a_dual_stack_agent_over_ipv6_beside_the_instance_is_left_to_a_person() {
    // The SSM agent set to dual stack (`UseDualStackEndpoint`) calls over the instance's IPv6
    // address, its application over IPv4: no client in common, on the same keys from the first.
    // A thief holding every key since before the window, over IPv6, looks the same: both are
    // reported at low confidence as one signal, never as session hijacking, and never trusted.
    for thief in [false, true] {
        let mut tr = Trail::default();
        let inst = "i-0a9100000000000a1";
        for h in 0..6 {
            let (k, m) = (key(4200 + h), h as i64 * 60);
            tr.deliver("ec2.amazonaws.com", "app-role", inst, &k, "us-east-1", m);
            tr.call(&k, "app-role", inst, EC2_USE1, BOTO, "s3.amazonaws.com", "GetObject", m + 2);
            let ua = if thief { THIEF_CLI } else { SSM_AGENT };
            tr.call(&k, "app-role", inst, EC2_USE1_V6, ua, "ssm.amazonaws.com", "UpdateInstanceInformation", m + 3);
            tr.call(&k, "app-role", inst, EC2_USE1_V6, ua, "ssmmessages.amazonaws.com", "CreateControlChannel", m + 4);
        }
        let d = tr.run(DetectOptions::default());
        assert_eq!(d.findings.len(), 6, "{:#?}", d.findings);
        for f in &d.findings {
            assert_eq!(f.signals, ["ipv6_beside_own"], "{f:#?}");
            assert_eq!((f.confidence.as_str(), f.severity.as_str()), ("low", "low"));
            assert_eq!(f.kind, "exfiltration.same_origin");
            assert_eq!(f.expected_origins, [EC2_USE1]);
        }
    }
}

/// An instance using each hourly IMDSv2 key from its address, and an SSRF using each IMDSv1 key,
/// delivered `own_after_ms` before the instance's, from `thief_ip`: the thief's keys.
fn ssrf_on_imdsv1_keys(tr: &mut Trail, inst: &str, base: usize, thief_ip: &str, own_after_ms: i64) -> Vec<String> {
    let mut thief_keys = Vec::new();
    for h in 0..6 {
        let m = h as i64 * 60;
        let (own, stolen) = (key(base + 2 * h), key(base + 1 + 2 * h));
        tr.deliver("ec2.amazonaws.com", "app-role", inst, &stolen, "us-east-1", m);
        tr.deliver("ec2.amazonaws.com", "app-role", inst, &own, "us-east-1", m);
        tr.last()["eventTime"] = json!(crate::time::format_ms(1_764_000_000_000 + m * 60_000 + own_after_ms));
        tr.call(&own, "app-role", inst, EC2_USE1, BOTO, "s3.amazonaws.com", "GetObject", m + 2);
        tr.call(&stolen, "app-role", inst, thief_ip, THIEF_CLI, "s3.amazonaws.com", "ListBuckets", m + 5);
        tr.last()["userIdentity"]["sessionContext"]["ec2RoleDelivery"] = json!("1.0");
        thief_keys.push(stolen);
    }
    thief_keys
}

#[test]
fn an_imdsv1_thief_over_ipv6_from_the_first_key_is_not_beside_the_instance() {
    // The SSRF uses every IMDSv1 key over IPv6 from a host of the same region: half the keys, from
    // the first, but never the keys the instance itself uses.
    let mut tr = Trail::default();
    let thief_keys = ssrf_on_imdsv1_keys(&mut tr, "i-0a9400000000000a1", 4600, EC2_USE1_V6, 0);
    let d = tr.run(DetectOptions::default());
    let mut got = flagged(&d);
    got.sort();
    assert_eq!(got, thief_keys, "{:#?}", d.findings);
    assert!(d.findings.iter().all(|f| f.signals.iter().any(|s| s == "not_workload_origin")), "{:#?}", d.findings);
}

#[test]
fn an_ipv6_origin_that_starts_later_with_another_client_is_still_judged() {
    // The same instance over IPv4 only; from the fourth key a host of the same region uses each new
    // key over IPv6 with a client of its own: not there from the start, so no second egress.
    let mut tr = Trail::default();
    let inst = "i-0a9200000000000a1";
    let keys = instance(&mut tr, inst, 4300, 6, EC2_USE1);
    for (h, k) in keys.iter().enumerate().skip(3) {
        tr.call(k, "app-role", inst, EC2_USE1_V6, THIEF_CLI, "s3.amazonaws.com", "ListBuckets", h as i64 * 60 + 10);
    }
    let d = tr.run(DetectOptions::default());
    assert_eq!(flagged(&d), &keys[3..], "{:#?}", d.findings);
}

/// One role serving a Node function (its SDK names `exec-env/AWS_Lambda_nodejs20.x`) and a Go function
/// on `provided.al2023`, where Lambda sets no AWS_EXECUTION_ENV for the SDK to name: four cold starts each.
fn orders_functions() -> Trail {
    let mut tr = Trail::default();
    for i in 0..4 {
        for (n, fun, ua) in [
            (0, "orders-api", "aws-sdk-js/3.600.0 ua/2.0 os/linux lang/js md/nodejs#20 exec-env/AWS_Lambda_nodejs20.x"),
            (1, "orders-worker", "aws-sdk-go-v2/1.30.0 ua/2.0 os/linux lang/go#1.22 md/GOOS#linux"),
        ] {
            let k = key(4400 + 2 * i + n);
            tr.deliver("lambda.amazonaws.com", "orders-role", fun, &k, "us-east-1", i as i64 * 30);
            let ip = format!("3.225.16.{}", 40 + 2 * i + n);
            tr.call(&k, "orders-role", fun, &ip, ua, "dynamodb.amazonaws.com", "PutItem", i as i64 * 30 + 1);
        }
    }
    tr
}

#[test]
fn functions_of_one_role_on_an_os_only_runtime_are_left_to_a_person() {
    // The Go function's keys name no execution environment: an OS-only runtime, or keys only a thief
    // used (its own calls may be data events the trail does not hold). Reported weakly, never missed.
    let d = orders_functions().run(DetectOptions::default());
    assert_eq!(d.findings.len(), 4, "{:#?}", d.findings);
    for f in &d.findings {
        assert_eq!(f.session_name, "orders-worker");
        assert_eq!(f.confidence, "low", "{f:#?}");
        assert!(f.signals.iter().any(|s| s == "no_execution_environment"));
    }
    // The Node function's key used without its execution environment is judged in full.
    let mut tr = orders_functions();
    let stolen = key(4404);
    tr.call(&stolen, "orders-role", "orders-api", EC2_USE1_B, THIEF_CLI, "dynamodb.amazonaws.com", "Scan", 70);
    let d = tr.run(DetectOptions::default());
    let f = d.findings.iter().find(|f| f.access_key_id == stolen).expect("the stolen key");
    assert_eq!(f.confidence, "medium", "{f:#?}");
    assert!(f.signals.iter().any(|s| s == "no_execution_environment"));
}

#[test]
fn a_quiet_function_s_keys_used_by_a_thief_alone_are_reported() {
    // A function of the same role whose own calls are not in the trail (data events): one key used
    // by a thief alone is held to the role's full expectation; two or more are still reported.
    for n in [1, 2, 3] {
        let mut tr = orders_functions();
        let mut stolen = Vec::new();
        for i in 0..n {
            let k = key(4450 + i);
            tr.deliver("lambda.amazonaws.com", "orders-role", "orders-notify", &k, "us-east-1", 80 + i as i64);
            tr.call(
                &k,
                "orders-role",
                "orders-notify",
                EC2_USE1_B,
                THIEF_CLI,
                "secretsmanager.amazonaws.com",
                "ListSecrets",
                85,
            );
            stolen.push(k);
        }
        let d = tr.run(DetectOptions::default());
        let got: Vec<&str> =
            d.findings.iter().filter(|f| f.session_name == "orders-notify").map(|f| f.access_key_id.as_str()).collect();
        assert_eq!(got, stolen, "{n} keys: {:#?}", d.findings);
        let want = if n == 1 { "medium" } else { "low" };
        for f in d.findings.iter().filter(|f| f.session_name == "orders-notify") {
            assert_eq!(f.confidence, want, "{n} keys: {f:#?}");
        }
    }
}

#[test]
fn ssm_channels_over_ipv6_while_the_agent_beats_over_ipv4_are_a_hijack() {
    // The agent's heartbeat comes from the instance's IPv4 address; someone else answers its
    // channels over IPv6 on the same keys from the first: not a dual-stack agent, which calls both
    // from one address.
    let mut tr = Trail::default();
    let inst = "i-0a9500000000000a1";
    let keys = instance(&mut tr, inst, 4700, 6, EC2_USE1);
    for (h, k) in keys.iter().enumerate() {
        tr.call(
            k,
            "app-role",
            inst,
            EC2_USE1_V6,
            THIEF_CLI,
            "ssmmessages.amazonaws.com",
            "OpenDataChannel",
            h as i64 * 60 + 9,
        );
    }
    let d = tr.run(DetectOptions::default());
    assert_eq!(d.findings.len(), 6, "{:#?}", d.findings);
    assert!(d.findings.iter().all(|f| f.signals.iter().any(|s| s == "ssm_session_hijack")), "{:#?}", d.findings);
    assert!(d.findings.iter().all(|f| f.confidence == "high"), "{:#?}", d.findings);
}

#[test]
fn an_ipv6_origin_beside_the_instance_keeps_its_signals_beside_other_evidence() {
    // The dual-stack shape, and on one key also a call from outside AWS: that key's finding keeps
    // every signal of both origins; the low-confidence reading is for an IPv6 origin alone.
    let mut tr = Trail::default();
    let inst = "i-0a9600000000000a1";
    for h in 0..6 {
        let (k, m) = (key(4800 + h), h as i64 * 60);
        tr.deliver("ec2.amazonaws.com", "app-role", inst, &k, "us-east-1", m);
        tr.call(&k, "app-role", inst, EC2_USE1, BOTO, "s3.amazonaws.com", "GetObject", m + 2);
        tr.call(&k, "app-role", inst, EC2_USE1_V6, SSM_AGENT, "ssm.amazonaws.com", "UpdateInstanceInformation", m + 3);
    }
    tr.call(&key(4803), "app-role", inst, OUTSIDE, THIEF_CLI, "s3.amazonaws.com", "ListBuckets", 200);
    let d = tr.run(DetectOptions::default());
    let f = d.findings.iter().find(|f| f.access_key_id == key(4803)).expect("the stolen key");
    assert!(f.signals.iter().any(|s| s == "outside_aws"), "{f:#?}");
    assert!(f.signals.iter().any(|s| s == "not_workload_origin"), "{f:#?}");
    assert!(!f.signals.iter().any(|s| s == "ipv6_beside_own"), "{f:#?}");
    for f in d.findings.iter().filter(|f| f.access_key_id != key(4803)) {
        assert_eq!((f.signals.as_slice(), f.confidence.as_str()), (&["ipv6_beside_own".to_owned()][..], "low"));
    }
}

#[test]
fn an_imdsv1_thief_delivered_a_second_earlier_still_loses() {
    // The SSRF's IMDSv1 key is delivered a second before the instance's IMDSv2 key, so the thief's
    // address is on the earliest key: one delivery for ranking, where the IMDS version (AWS's
    // record) decides.
    let mut tr = Trail::default();
    let thief_keys = ssrf_on_imdsv1_keys(&mut tr, "i-0a9700000000000a1", 4900, EC2_USE1_B, 1_000);
    let d = tr.run(DetectOptions::default());
    let mut got = flagged(&d);
    got.sort();
    assert_eq!(got, thief_keys, "{:#?}", d.findings);
    assert!(d.findings.iter().all(|f| f.source_ips == [EC2_USE1_B]), "{:#?}", d.findings);
}
