//! Detection on small hand-built trails: one test per class of the detection issue, thefts and their
//! benign look-alikes, each written from how AWS records the behaviour (not from the generator).

use super::*;
use crate::decode::Decoder;
use crate::decode::normalize::{Filter, normalize};
use crate::event::Batch;
use serde_json::{Value, json};

pub(super) const ACCT: &str = "111122223333";
pub(super) const ROLE_ID: &str = "AROAEXAMPLEROLEID0001";
/// EC2 addresses (from the built-in ranges): us-east-1, us-east-1, us-west-2; outside AWS.
pub(super) const EC2_USE1: &str = "3.225.16.109";
pub(super) const EC2_USE1_B: &str = "3.225.16.200";
pub(super) const EC2_USW2: &str = "52.42.146.205";
pub(super) const OUTSIDE: &str = "45.33.32.156";
pub(super) const BOTO: &str = "Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#5.10 lang/python#3.11";
pub(super) const SSM_AGENT: &str = "aws-sdk-go/1.44.0 (go1.20; linux; amd64) amazon-ssm-agent/3.2.0";
pub(super) const THIEF_CLI: &str = "aws-cli/2.15.0 Python/3.11.6 Darwin/23.1.0 exe/x86_64";

pub(super) fn t(min: i64) -> String {
    crate::time::format_ms(1_764_000_000_000 + min * 60_000)
}

fn uuid(n: u64) -> String {
    format!("00000000-0000-4000-8000-{n:012x}")
}

/// A trail under construction.
#[derive(Default)]
pub(super) struct Trail {
    pub(super) records: Vec<Value>,
    n: u64,
}

impl Trail {
    pub(super) fn id(&mut self) -> String {
        self.n += 1;
        uuid(self.n)
    }

    pub(super) fn role_arn(role: &str) -> String {
        format!("arn:aws:iam::{ACCT}:role/{role}")
    }

    /// An `AssumeRole` delivery by a service principal.
    pub(super) fn deliver(&mut self, by: &str, role: &str, session: &str, key: &str, region: &str, min: i64) {
        let id = self.id();
        self.records.push(json!({
            "eventVersion": "1.08", "eventTime": t(min), "eventID": id, "eventSource": "sts.amazonaws.com",
            "eventName": "AssumeRole", "awsRegion": region, "sourceIPAddress": by, "userAgent": by,
            "recipientAccountId": ACCT,
            "userIdentity": {"type": "AWSService", "invokedBy": by},
            "requestParameters": {"roleArn": Self::role_arn(role), "roleSessionName": session},
            "responseElements": {"credentials": {"accessKeyId": key, "expiration": "x"},
                "assumedRoleUser": {"assumedRoleId": format!("{ROLE_ID}:{session}"),
                    "arn": format!("arn:aws:sts::{ACCT}:assumed-role/{role}/{session}")}}
        }));
    }

    /// A call made with a temporary key.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn call(
        &mut self,
        key: &str,
        role: &str,
        session: &str,
        ip: &str,
        ua: &str,
        source: &str,
        name: &str,
        min: i64,
    ) {
        let id = self.id();
        self.records.push(json!({
            "eventVersion": "1.08", "eventTime": t(min), "eventID": id, "eventSource": source,
            "eventName": name, "awsRegion": "us-east-1", "sourceIPAddress": ip, "userAgent": ua,
            "recipientAccountId": ACCT, "readOnly": true,
            "userIdentity": {"type": "AssumedRole", "principalId": format!("{ROLE_ID}:{session}"),
                "arn": format!("arn:aws:sts::{ACCT}:assumed-role/{role}/{session}"), "accountId": ACCT,
                "accessKeyId": key,
                "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": ROLE_ID,
                    "arn": Self::role_arn(role), "accountId": ACCT, "userName": role},
                    "attributes": {"creationDate": t(0), "mfaAuthenticated": "false"},
                    "ec2RoleDelivery": "2.0"}}
        }));
        if !session.starts_with("i-") {
            // Only instance credentials carry ec2RoleDelivery.
            if let Some(ctx) = self.last()["userIdentity"]["sessionContext"].as_object_mut() {
                ctx.remove("ec2RoleDelivery");
            }
        }
    }

    pub(super) fn last(&mut self) -> &mut Value {
        self.records.last_mut().expect("a record")
    }

    pub(super) fn run(&self, opts: DetectOptions) -> Detection {
        let batch = batch_of(&self.records);
        let mut d = Detector::new(DetectConfig::load(&opts).unwrap());
        for ev in batch.iter() {
            d.observe(&ev);
        }
        let one_by_one = d.finish();
        // The scan hands events on in blocks, whose keys are looked up ahead: the same findings,
        // whatever the blocks' sizes (a key new in a block may come again later in it).
        let events: Vec<_> = batch.iter().collect();
        for sizes in [&[16][..], &[1, 2, 3, 5, 7, 11, 13, 17, 40]] {
            let mut d = Detector::new(DetectConfig::load(&opts).unwrap());
            let (mut at, mut i) = (0, 0);
            while at < events.len() {
                let end = (at + sizes[i % sizes.len()]).min(events.len());
                d.observe_block(&events[at..end]);
                (at, i) = (end, i + 1);
            }
            let blocks = d.finish();
            let json = |d: &Detection| serde_json::to_string(&(&d.findings, &d.warnings)).unwrap();
            assert_eq!(json(&blocks), json(&one_by_one), "blocks of {sizes:?}");
        }
        one_by_one
    }
}

/// The records decoded and normalized, as the scan does.
pub(super) fn batch_of(records: &[Value]) -> Batch {
    let text = serde_json::to_vec(&json!({ "Records": records })).unwrap();
    let mut batch = Batch::default();
    let filter = Filter::default();
    Decoder::new().decode(&text, &mut |rec| {
        normalize(rec, &filter, &mut batch);
    });
    batch
}

/// `run`, also through grouped facts (what Athena's queries return), split in two and absorbed in
/// either order: the same findings every way.
pub(super) fn run_both_ways(tr: &Trail) -> Detection {
    let direct = tr.run(DetectOptions::default());
    let json = |d: &Detection| serde_json::to_string(&(&d.findings, &d.warnings)).unwrap();
    let mid = tr.records.len() / 2;
    let halves = [&tr.records[..mid], &tr.records[mid..]];
    let facts: Vec<_> = halves
        .iter()
        .map(|records| {
            let batch = batch_of(records);
            let mut sink = super::facts::FactSink::new();
            for ev in batch.iter() {
                sink.observe(&ev);
            }
            sink.into_facts()
        })
        .collect();
    for order in [[0, 1], [1, 0]] {
        let mut d = Detector::new(DetectConfig::load(&DetectOptions::default()).unwrap());
        for i in order {
            d.absorb(&facts[i]);
        }
        assert_eq!(json(&d.finish()), json(&direct), "facts absorbed in order {order:?}");
    }
    direct
}

/// An Identity Center user's call from `ip`.
pub(super) fn person(tr: &mut Trail, ip: &str, name: &str, min: i64) {
    let id = tr.id();
    let role = "AWSReservedSSO_Admin_0123456789abcdef";
    tr.records.push(json!({
        "eventVersion": "1.08", "eventTime": t(min), "eventID": id, "eventSource": "sts.amazonaws.com",
        "eventName": name, "awsRegion": "us-east-1", "sourceIPAddress": ip,
        "userAgent": "Go-http-client/1.1", "recipientAccountId": ACCT, "readOnly": true,
        "userIdentity": {"type": "AssumedRole", "principalId": "AROAEXAMPLESSOADMIN01:alice@example.com",
            "arn": format!("arn:aws:sts::{ACCT}:assumed-role/{role}/alice@example.com"),
            "accountId": ACCT, "accessKeyId": "ASIAEXAMPLEALICE0001",
            "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLESSOADMIN01",
                "arn": format!("arn:aws:iam::{ACCT}:role/aws-reserved/sso.amazonaws.com/{role}"),
                "accountId": ACCT, "userName": role}}}
    }));
}

pub(super) fn key(n: usize) -> String {
    format!("ASIA{n:016}")
}

pub(super) fn flagged(d: &Detection) -> Vec<&str> {
    d.findings.iter().map(|f| f.access_key_id.as_str()).collect()
}

/// An instance with hourly keys, each used from `own` with the SDK and the SSM agent.
pub(super) fn instance(tr: &mut Trail, inst: &str, first_key: usize, hours: usize, own: &str) -> Vec<String> {
    let mut keys = Vec::new();
    for h in 0..hours {
        let k = key(first_key + h);
        let m = h as i64 * 60;
        tr.deliver("ec2.amazonaws.com", "app-role", inst, &k, "us-east-1", m);
        tr.call(&k, "app-role", inst, own, BOTO, "s3.amazonaws.com", "GetObject", m + 2);
        tr.call(&k, "app-role", inst, own, SSM_AGENT, "ssm.amazonaws.com", "UpdateInstanceInformation", m + 3);
        keys.push(k);
    }
    keys
}

#[test]
fn persistent_thief_on_every_hourly_key_is_flagged_on_every_key() {
    let mut tr = Trail::default();
    let keys = instance(&mut tr, "i-0aaaaaaaaaaaaaaa1", 0, 12, EC2_USE1);
    // From the third hour the thief takes each new key and uses it from his own EC2 host.
    for (h, k) in keys.iter().enumerate().skip(2) {
        tr.call(
            k,
            "app-role",
            "i-0aaaaaaaaaaaaaaa1",
            EC2_USE1_B,
            THIEF_CLI,
            "s3.amazonaws.com",
            "ListBuckets",
            h as i64 * 60 + 10,
        );
    }
    let d = tr.run(DetectOptions::default());
    assert_eq!(flagged(&d).len(), 10, "{:#?}", d.findings);
    for f in &d.findings {
        assert_eq!(f.source_ips, [EC2_USE1_B]);
        assert_eq!(f.expected_origins, [EC2_USE1]);
        let h: usize = keys.iter().position(|k| *k == f.access_key_id).unwrap();
        assert_eq!(f.first_seen.as_deref(), Some(t(h as i64 * 60 + 10).as_str()), "first_seen at his first call");
        assert!(f.signals.iter().any(|s| s == "not_workload_origin"));
        assert!(f.baseline_evidence[0].contains("better placed"), "{:?}", f.baseline_evidence);
    }
}

#[test]
fn thief_present_on_every_key_of_the_window_still_loses_to_the_workload() {
    // The foothold predates the window: both origins are on every key; the thief never uses the
    // workload's clients, the workload is busier and recurs with its own clients.
    let mut tr = Trail::default();
    let keys = instance(&mut tr, "i-0aaaaaaaaaaaaaaa2", 100, 6, EC2_USE1);
    for (h, k) in keys.iter().enumerate() {
        tr.call(
            k,
            "app-role",
            "i-0aaaaaaaaaaaaaaa2",
            EC2_USE1_B,
            THIEF_CLI,
            "s3.amazonaws.com",
            "ListBuckets",
            h as i64 * 60 + 1,
        );
    }
    let d = tr.run(DetectOptions::default());
    assert_eq!(flagged(&d).len(), 6, "{:#?}", d.findings);
    assert!(d.findings.iter().all(|f| f.source_ips == [EC2_USE1_B]));
}

#[test]
fn one_attacker_address_across_two_instances_is_not_their_nat() {
    let mut tr = Trail::default();
    let a = instance(&mut tr, "i-0bbbbbbbbbbbbbbb1", 200, 6, EC2_USE1);
    let b = instance(&mut tr, "i-0bbbbbbbbbbbbbbb2", 300, 6, "3.225.16.110");
    for k in a.iter().chain(&b).skip(3) {
        let inst = if a.contains(k) { "i-0bbbbbbbbbbbbbbb1" } else { "i-0bbbbbbbbbbbbbbb2" };
        tr.call(k, "app-role", inst, EC2_USE1_B, THIEF_CLI, "s3.amazonaws.com", "ListBuckets", 500);
    }
    let d = tr.run(DetectOptions::default());
    assert!(!d.findings.is_empty());
    for f in &d.findings {
        assert_eq!(f.source_ips, [EC2_USE1_B], "the instances' own addresses are never flagged: {f:#?}");
    }
}

#[test]
fn nat_shared_by_instances_of_a_role_is_quiet() {
    let mut tr = Trail::default();
    for i in 0..4 {
        instance(&mut tr, &format!("i-0ccccccccccccccc{i}"), 400 + i * 10, 4, EC2_USE1);
    }
    assert!(tr.run(DetectOptions::default()).findings.is_empty());
}

#[test]
fn endpoint_traffic_from_many_pod_addresses_is_one_origin() {
    let mut tr = Trail::default();
    let inst = "i-0ddddddddddddddd1";
    for h in 0..5 {
        let k = key(500 + h);
        tr.deliver("ec2.amazonaws.com", "eks-NodeRole", inst, &k, "us-east-1", h as i64 * 60);
        for pod in 0..20 {
            tr.call(&k, "eks-NodeRole", inst, &format!("10.0.{h}.{pod}"), BOTO, "s3.amazonaws.com", "GetObject", 5);
            tr.last()["vpcEndpointId"] = json!("vpce-0123456789abcdef0");
            tr.last()["vpcEndpointAccountId"] = json!(ACCT);
        }
        // One key's pods also reach STS through a shared-services account's endpoint.
        tr.call(&k, "eks-NodeRole", inst, "10.9.0.1", BOTO, "sts.amazonaws.com", "GetCallerIdentity", 6);
        tr.last()["vpcEndpointId"] = json!("vpce-0shared00000000000");
        tr.last()["vpcEndpointAccountId"] = json!("444455556666");
    }
    let d = tr.run(DetectOptions { trusted_accounts: vec!["444455556666".into()], ..Default::default() });
    assert!(d.findings.is_empty(), "{:#?}", d.findings);
}

#[test]
fn a_thiefs_own_endpoint_is_a_strong_signal() {
    let mut tr = Trail::default();
    let keys = instance(&mut tr, "i-0eeeeeeeeeeeeeee1", 600, 3, EC2_USE1);
    tr.call(&keys[1], "app-role", "i-0eeeeeeeeeeeeeee1", "172.31.5.9", THIEF_CLI, "s3.amazonaws.com", "GetObject", 70);
    tr.last()["vpcEndpointId"] = json!("vpce-0attacker0000000000");
    tr.last()["vpcEndpointAccountId"] = json!("999988887777");
    let d = tr.run(DetectOptions::default());
    assert_eq!(flagged(&d), [keys[1].as_str()]);
    let f = &d.findings[0];
    assert!(f.signals.iter().any(|s| s == "foreign_vpc_endpoint"), "{f:#?}");
    assert_eq!(f.source_ips, ["vpce-0attacker0000000000"]);
    assert_eq!(f.confidence, "high");
}

#[test]
fn short_lived_instances_calling_another_region_are_quiet() {
    let mut tr = Trail::default();
    for i in 0..20 {
        let (k, inst) = (key(700 + i), format!("i-0f{i:015x}"));
        tr.deliver("ec2.amazonaws.com", "ci-runner", &inst, &k, "us-east-1", i as i64);
        for api in ["eu-west-1", "ap-southeast-2"] {
            tr.call(&k, "ci-runner", &inst, EC2_USE1, BOTO, "ec2.amazonaws.com", "DescribeImages", i as i64 + 1);
            tr.last()["awsRegion"] = json!(api);
        }
    }
    assert!(tr.run(DetectOptions::default()).findings.is_empty());
}

#[test]
fn an_address_of_another_region_than_the_delivery_is_flagged() {
    let mut tr = Trail::default();
    let (k, inst) = (key(800), "i-0a0000000000000f1");
    tr.deliver("ec2.amazonaws.com", "ci-runner", inst, &k, "us-east-1", 0);
    tr.call(&k, "ci-runner", inst, EC2_USE1, BOTO, "ec2.amazonaws.com", "DescribeImages", 1);
    tr.call(&k, "ci-runner", inst, EC2_USW2, THIEF_CLI, "s3.amazonaws.com", "ListBuckets", 2);
    let d = tr.run(DetectOptions::default());
    assert_eq!(flagged(&d), [k.as_str()]);
    assert!(d.findings[0].signals.iter().any(|s| s == "region_mismatch"));
    assert_eq!(d.findings[0].workload_region.as_deref(), Some("us-east-1"));
}

#[test]
fn forged_execution_environment_does_not_silence() {
    let mut tr = Trail::default();
    let forged = "Boto3/1.34.0 md/Botocore#1.34.0 exec-env/AWS_Lambda_python3.12";
    for i in 0..10 {
        let k = key(900 + i);
        tr.deliver("lambda.amazonaws.com", "fn-role", "resize", &k, "us-east-1", i as i64);
        tr.call(
            &k,
            "fn-role",
            "resize",
            &format!("3.225.16.{}", 10 + i),
            forged,
            "s3.amazonaws.com",
            "GetObject",
            i as i64,
        );
    }
    tr.call(&key(905), "fn-role", "resize", OUTSIDE, forged, "s3.amazonaws.com", "ListBuckets", 30);
    tr.call(&key(906), "fn-role", "resize", EC2_USW2, forged, "s3.amazonaws.com", "ListBuckets", 31);
    let d = tr.run(DetectOptions::default());
    assert_eq!(flagged(&d), [key(905).as_str(), key(906).as_str()], "{:#?}", d.findings);
    assert!(d.findings[1].signals.iter().any(|s| s == "region_mismatch"));
}

#[test]
fn forged_ssm_heartbeat_does_not_make_an_origin_the_instances() {
    let mut tr = Trail::default();
    let keys = instance(&mut tr, "i-0a0000000000000e1", 1000, 4, EC2_USE1);
    for k in &keys[1..] {
        tr.call(
            k,
            "app-role",
            "i-0a0000000000000e1",
            EC2_USE1_B,
            SSM_AGENT,
            "ssm.amazonaws.com",
            "UpdateInstanceInformation",
            200,
        );
        tr.call(k, "app-role", "i-0a0000000000000e1", EC2_USE1_B, THIEF_CLI, "s3.amazonaws.com", "ListBuckets", 201);
    }
    let d = tr.run(DetectOptions::default());
    assert_eq!(d.findings.len(), 3, "{:#?}", d.findings);
    assert!(d.findings.iter().all(|f| f.source_ips == [EC2_USE1_B]));
}

#[test]
fn ssm_channels_from_elsewhere_are_session_hijacking() {
    let mut tr = Trail::default();
    let keys = instance(&mut tr, "i-0a0000000000000d1", 1100, 3, EC2_USE1);
    tr.call(
        &keys[2],
        "app-role",
        "i-0a0000000000000d1",
        EC2_USE1,
        SSM_AGENT,
        "ec2messages.amazonaws.com",
        "GetMessages",
        125,
    );
    tr.call(
        &keys[2],
        "app-role",
        "i-0a0000000000000d1",
        EC2_USE1_B,
        SSM_AGENT,
        "ssmmessages.amazonaws.com",
        "CreateControlChannel",
        126,
    );
    let d = tr.run(DetectOptions::default());
    assert_eq!(flagged(&d), [keys[2].as_str()]);
    assert!(d.findings[0].signals.iter().any(|s| s == "ssm_session_hijack"));
    assert!(d.findings[0].reasons.iter().any(|r| r.contains("SSM session hijacking")));
}

#[test]
fn service_delivered_workloads_are_judged() {
    let mut tr = Trail::default();
    let cases = [
        ("codebuild.amazonaws.com", "AWSCodeBuild-6a8f2c1e-0000-4000-8000-000000000001"),
        ("glue.amazonaws.com", "GlueJobRunnerSession"),
        ("sagemaker.amazonaws.com", "SageMaker"),
        ("states.amazonaws.com", "run-1"),
        ("pods.eks.amazonaws.com", "eks-prod-api-5d8f7-0000"),
        ("airflow-env.amazonaws.com", "AmazonMWAA-airflow"),
        ("kinesisanalytics.amazonaws.com", "flink-app-session"),
        ("amplify.amazonaws.com", "amplify-build-1"),
        ("bedrock-agentcore.amazonaws.com", "agent-runtime-1"),
    ];
    for (i, (by, session)) in cases.iter().enumerate() {
        let (own, stolen) = (key(1200 + 2 * i), key(1201 + 2 * i));
        for k in [&own, &stolen] {
            tr.deliver(by, "svc-role", session, k, "us-east-1", 0);
            tr.call(k, "svc-role", session, EC2_USE1, BOTO, "s3.amazonaws.com", "GetObject", 1);
        }
        tr.call(&stolen, "svc-role", session, OUTSIDE, THIEF_CLI, "s3.amazonaws.com", "ListBuckets", 2);
    }
    let d = tr.run(DetectOptions::default());
    let kinds: Vec<&str> = d.findings.iter().map(|f| f.workload.as_str()).collect();
    assert_eq!(d.findings.len(), cases.len(), "{:#?}", d.findings);
    for k in [
        "codebuild",
        "glue",
        "sagemaker",
        "stepfunctions",
        "eks-pod-identity",
        "mwaa",
        "flink",
        "amplify",
        "bedrock-agentcore",
    ] {
        assert!(kinds.contains(&k), "{kinds:?}");
    }
}

#[test]
fn eks_web_identity_keys_are_a_workload_and_github_ones_are_not() {
    let mut tr = Trail::default();
    for (i, issuer) in
        ["oidc.eks.eu-west-1.amazonaws.com/id/ABCDEF", "token.actions.githubusercontent.com"].iter().enumerate()
    {
        let k = key(1300 + i);
        let id = tr.id();
        tr.records.push(json!({
            "eventTime": t(0), "eventID": id, "eventSource": "sts.amazonaws.com",
            "eventName": "AssumeRoleWithWebIdentity", "awsRegion": "us-east-1", "sourceIPAddress": "10.1.2.3",
            "recipientAccountId": ACCT,
            "userIdentity": {"type": "WebIdentityUser", "principalId": format!("arn:aws:iam::{ACCT}:oidc-provider/{issuer}:sts.amazonaws.com:system:serviceaccount:app:api"),
                "userName": "system:serviceaccount:app:api",
                "identityProvider": format!("arn:aws:iam::{ACCT}:oidc-provider/{issuer}")},
            "requestParameters": {"roleArn": Trail::role_arn("pod-role"), "roleSessionName": "botocore-session-1"},
            "responseElements": {"credentials": {"accessKeyId": k},
                "assumedRoleUser": {"assumedRoleId": format!("{ROLE_ID}:botocore-session-1")}}
        }));
        tr.call(&k, "pod-role", "botocore-session-1", OUTSIDE, THIEF_CLI, "s3.amazonaws.com", "ListBuckets", 3);
    }
    let d = tr.run(DetectOptions::default());
    assert_eq!(flagged(&d), [key(1300).as_str()], "GitHub Actions runners are outside AWS by design");
    assert_eq!(d.findings[0].workload, "eks-web-identity");
    assert_eq!(d.findings[0].workload_region.as_deref(), Some("eu-west-1"), "the cluster's region, from the issuer");
}

#[test]
fn ipv4_mapped_addresses_are_ipv4_and_match_trusted_cidrs() {
    let mut tr = Trail::default();
    let keys = instance(&mut tr, "i-0a0000000000000c1", 1400, 2, EC2_USE1);
    tr.call(
        &keys[0],
        "app-role",
        "i-0a0000000000000c1",
        "::ffff:45.33.32.156",
        THIEF_CLI,
        "s3.amazonaws.com",
        "ListBuckets",
        5,
    );
    let d = tr.run(DetectOptions::default());
    assert_eq!(d.findings.len(), 1);
    assert_eq!(d.findings[0].source_classes, ["outside AWS"]);
    assert_eq!(d.findings[0].source_ips, [OUTSIDE]);
    let d = tr.run(DetectOptions { trusted_cidrs: vec!["45.33.32.0/24".into()], ..Default::default() });
    assert!(d.findings.is_empty(), "{:#?}", d.findings);
}

#[test]
fn unparsable_addresses_are_warned_and_the_rest_judged() {
    let mut tr = Trail::default();
    let keys = instance(&mut tr, "i-0a0000000000000b1", 1500, 2, EC2_USE1);
    tr.call(&keys[1], "app-role", "i-0a0000000000000b1", "not an address", BOTO, "s3.amazonaws.com", "GetObject", 69);
    tr.call(&keys[1], "app-role", "i-0a0000000000000b1", "fe80::1%eth0", BOTO, "s3.amazonaws.com", "GetObject", 70);
    tr.call(
        &keys[0],
        "app-role",
        "i-0a0000000000000b1",
        "45.33.32.156:443",
        THIEF_CLI,
        "s3.amazonaws.com",
        "GetObject",
        71,
    );
    tr.call(&keys[1], "app-role", "i-0a0000000000000b1", OUTSIDE, BOTO, "s3.amazonaws.com", "GetObject", 72);
    let d = tr.run(DetectOptions::default());
    let mut keys_flagged = flagged(&d);
    keys_flagged.sort();
    assert_eq!(keys_flagged, [keys[0].as_str(), keys[1].as_str()], "{:#?}", d.findings);
    // The repaired link-local address is judged too (a private address that is not the instance's).
    assert!(d.findings.iter().all(|f| f.source_ips.iter().any(|s| s == OUTSIDE)), "{:#?}", d.findings);
    assert_eq!(d.warnings.len(), 2, "{:?}", d.warnings);
    assert!(d.warnings[0].contains("\"not an address\"") && d.warnings[0].contains("not judged"), "{:?}", d.warnings);
    assert!(d.warnings[1].contains("45.33.32.156:443") && d.warnings[1].contains("fe80::1%eth0"), "{:?}", d.warnings);
}

#[test]
fn bastion_where_people_work_beside_the_instance_is_quiet() {
    let mut tr = Trail::default();
    instance(&mut tr, "i-0a0000000000000a1", 1600, 6, EC2_USE1);
    for m in [5, 65, 125] {
        let id = tr.id();
        tr.records.push(json!({
            "eventTime": t(m), "eventID": id, "eventSource": "ec2.amazonaws.com", "eventName": "DescribeInstances",
            "awsRegion": "us-east-1", "sourceIPAddress": EC2_USE1, "userAgent": THIEF_CLI, "recipientAccountId": ACCT,
            "userIdentity": {"type": "IAMUser", "arn": format!("arn:aws:iam::{ACCT}:user/alice"), "userName": "alice",
                "accessKeyId": "AKIAEXAMPLEALICE0001"}
        }));
    }
    assert!(tr.run(DetectOptions::default()).findings.is_empty());
}

#[test]
fn a_key_that_mints_more_sessions_than_are_kept_says_so() {
    // A thief assumes a role again and again under new names, to push the session he uses out of
    // the finding's list: the list keeps the earliest, and the finding says it was cut.
    for (n, cut) in [(16, false), (17, true), (40, true)] {
        let mut tr = Trail::default();
        let inst = "i-0a9800000000000a1";
        let keys = instance(&mut tr, inst, 5000, 3, EC2_USE1);
        // Latest first: which sessions are kept must not depend on the order they arrive in.
        for i in (0..n).rev() {
            tr.call(&keys[1], "app-role", inst, OUTSIDE, THIEF_CLI, "sts.amazonaws.com", "AssumeRole", 70 + i as i64);
            let (minted, name) = (key(5100 + i), format!("s{i:02}"));
            let r = tr.last();
            r["requestParameters"] = json!({"roleArn": Trail::role_arn("admin"), "roleSessionName": name});
            r["responseElements"] = json!({"credentials": {"accessKeyId": minted, "expiration": "x"},
                "assumedRoleUser": {"assumedRoleId": format!("AROAEXAMPLEADMIN:{name}"),
                    "arn": format!("arn:aws:sts::{ACCT}:assumed-role/admin/{name}")}});
        }
        let d = tr.run(DetectOptions::default());
        assert_eq!(flagged(&d), [keys[1].as_str()], "{:#?}", d.findings);
        let f = &d.findings[0];
        let names: Vec<&str> = f.minted_sessions.iter().map(|m| m.session_name.as_str()).collect();
        let want: Vec<String> = (0..n.min(state::MAX_MINTED)).map(|i| format!("s{i:02}")).collect();
        assert_eq!(names, want, "{n} sessions");
        assert_eq!(f.minted_sessions_truncated, cut, "{n} sessions");
        assert_eq!(serde_json::to_value(f).unwrap().get("minted_sessions_truncated").is_some(), cut);
    }
}

#[test]
fn an_instance_that_moved_when_it_switched_to_imdsv2_is_one_holder() {
    // An IMDSv1-only application; the SDK is upgraded to IMDSv2 and the instance stopped and started
    // (a new public address). IMDSv2 ranks an address only among keys of one delivery: ranked before
    // time, it made the earlier address a rival "over the same hours" of the later one.
    let mut tr = Trail::default();
    let inst = "i-0a9f00000000000a1";
    for h in 0..12usize {
        let (k, m) = (key(5200 + h), h as i64 * 60);
        tr.deliver("ec2.amazonaws.com", "app-role", inst, &k, "us-east-1", m);
        let (ip, v) = if h < 6 { (EC2_USE1, "1.0") } else { (EC2_USE1_B, "2.0") };
        for at in [2, 40] {
            tr.call(&k, "app-role", inst, ip, BOTO, "s3.amazonaws.com", "GetObject", m + at);
            tr.last()["userIdentity"]["sessionContext"]["ec2RoleDelivery"] = json!(v);
        }
    }
    let d = tr.run(DetectOptions::default());
    assert!(d.findings.is_empty(), "{:#?}", d.findings);
}
