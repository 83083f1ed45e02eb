//! Signatures redeemed elsewhere: a presigned S3 URL is opened by whoever was handed it, and a signed
//! `GetCallerIdentity` is sent on by whoever checks the key's identity (EKS's authenticator, Vault's
//! and MongoDB Atlas's AWS IAM auth). CloudTrail writes those calls under the signer's key, from the
//! redeemer's address: where the signature went, not where the key is.

use super::tests::*;
use super::*;
use serde_json::json;

const BROWSER: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Version/18.1";
const VERIFIER: &str = "Go-http-client/1.1";
/// Outside AWS: a customer's browser, another customer's, an on-premises Vault server.
const CUSTOMER: &str = "73.162.91.44";
const CUSTOMER_B: &str = "86.154.23.201";

/// Marks the last call as S3's record of a presigned URL (`AuthenticationMethod` `QueryString`), as
/// S3 writes it, with the query's signing parameters among the request's.
fn presigned(tr: &mut Trail, write: bool) {
    let r = tr.last();
    r["additionalEventData"] = json!({"SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256",
        "bytesTransferredIn": 0, "AuthenticationMethod": "QueryString", "x-amz-id-2": "a/b=", "bytesTransferredOut": 1});
    r["requestParameters"] = json!({"bucketName": "invoices", "key": "2026/11/INV-1.pdf", "X-Amz-Expires": "3600",
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256", "X-Amz-SignedHeaders": "host"});
    r["readOnly"] = json!(!write);
    r["eventCategory"] = json!("Data");
}

/// Low confidence; severity low, or medium where links were used to upload.
fn only_redeemed_at_low(d: &Detection) {
    for f in &d.findings {
        let severity = if f.reasons.iter().any(|r| r.contains("some to write")) { "medium" } else { "low" };
        assert_eq!((f.confidence.as_str(), f.severity.as_str()), ("low", severity), "{f:#?}");
        assert_eq!(f.signals, ["redeemed_signature"], "{f:#?}");
    }
}

#[test]
fn presigned_links_opened_by_customers_are_reported_low_never_as_theft() {
    // A web application on an instance hands out download links; customers open them from home.
    let mut tr = Trail::default();
    let inst = "i-0b1000000000000b1";
    let keys = instance(&mut tr, inst, 4000, 4, EC2_USE1);
    for (h, k) in keys.iter().enumerate() {
        let who = if h % 2 == 0 { CUSTOMER } else { CUSTOMER_B };
        tr.call(k, "app-role", inst, who, BROWSER, "s3.amazonaws.com", "GetObject", h as i64 * 60 + 20);
        presigned(&mut tr, false);
    }
    // A function hands out upload links: the browser's PutObject is a write, under the function's key.
    let k = key(4010);
    tr.deliver("lambda.amazonaws.com", "upload-fn-role", "upload-fn", &k, "us-east-1", 5);
    let lambda_ua = "Boto3/1.34.0 md/Botocore#1.34.0 exec-env/AWS_Lambda_python3.12";
    tr.call(&k, "upload-fn-role", "upload-fn", EC2_USE1_B, lambda_ua, "s3.amazonaws.com", "ListObjectsV2", 6);
    tr.call(&k, "upload-fn-role", "upload-fn", CUSTOMER, BROWSER, "s3.amazonaws.com", "PutObject", 7);
    presigned(&mut tr, true);
    let d = run_both_ways(&tr);
    assert_eq!(d.findings.len(), 5, "{:#?}", d.findings);
    only_redeemed_at_low(&d);
    assert!(d.findings.iter().all(|f| f.kind == "exfiltration.outside_aws"), "{:#?}", d.findings);
}

#[test]
fn a_thief_who_signs_anything_himself_is_judged_in_full() {
    // Presigning from the stolen key changes nothing once the thief also calls with it.
    let mut tr = Trail::default();
    let inst = "i-0b2000000000000b1";
    let keys = instance(&mut tr, inst, 4100, 3, EC2_USE1);
    tr.call(&keys[1], "app-role", inst, OUTSIDE, THIEF_CLI, "s3.amazonaws.com", "GetObject", 80);
    presigned(&mut tr, false);
    tr.call(&keys[1], "app-role", inst, OUTSIDE, THIEF_CLI, "s3.amazonaws.com", "ListBuckets", 81);
    // Any S3 request can be signed in its URL: deletes and a bucket policy made so are no link's.
    for (i, name) in ["DeleteObject", "PutBucketPolicy", "DeleteBucket"].into_iter().enumerate() {
        tr.call(&keys[2], "app-role", inst, OUTSIDE, THIEF_CLI, "s3.amazonaws.com", name, 130 + i as i64);
        presigned(&mut tr, true);
    }
    // Trying the key, then opening a link he signed: judged as any use.
    tr.call(&keys[0], "app-role", inst, CUSTOMER_B, THIEF_CLI, "sts.amazonaws.com", "GetCallerIdentity", 20);
    tr.call(&keys[0], "app-role", inst, CUSTOMER_B, THIEF_CLI, "s3.amazonaws.com", "GetObject", 21);
    presigned(&mut tr, false);
    let d = run_both_ways(&tr);
    assert_eq!(flagged(&d), [keys[0].as_str(), keys[1].as_str(), keys[2].as_str()], "{:#?}", d.findings);
    for f in &d.findings {
        assert_eq!(f.confidence, "high", "{f:#?}");
        assert!(f.signals.iter().any(|s| s == "outside_aws"), "{f:#?}");
    }
}

#[test]
fn a_key_tried_once_with_get_caller_identity_is_judged_like_any_use() {
    // How a thief (or TruffleHog) first tries a key: one identity check, from his own machine.
    let mut tr = Trail::default();
    let inst = "i-0b3000000000000b1";
    let keys = instance(&mut tr, inst, 4200, 4, EC2_USE1);
    tr.call(&keys[2], "app-role", inst, OUTSIDE, THIEF_CLI, "sts.amazonaws.com", "GetCallerIdentity", 150);
    let d = run_both_ways(&tr);
    assert_eq!(flagged(&d), [keys[2].as_str()], "{:#?}", d.findings);
    assert_eq!(d.findings[0].confidence, "high", "{:#?}", d.findings);
}

/// An EKS node's hourly keys, each checked by the cluster's authenticator from `verifier` (the
/// kubelet's token is a presigned `GetCallerIdentity`, about every 14 minutes).
fn checked_node(tr: &mut Trail, inst: &str, first_key: usize, verifier: &str) -> Vec<String> {
    let keys = instance(tr, inst, first_key, 6, EC2_USE1);
    for (h, k) in keys.iter().enumerate() {
        for m in [10, 24, 38] {
            tr.call(
                k,
                "app-role",
                inst,
                verifier,
                VERIFIER,
                "sts.amazonaws.com",
                "GetCallerIdentity",
                h as i64 * 60 + m,
            );
        }
    }
    keys
}

#[test]
fn a_verifier_checking_every_key_is_no_rival_and_nobody_works_there() {
    // EKS's control plane in the node's region, where engineers' kubectl tokens (Identity Center
    // sessions) are checked too: neither the node's rival nor a place people work.
    let mut tr = Trail::default();
    checked_node(&mut tr, "i-0b4000000000000b1", 4300, EC2_USE1_B);
    for m in [15, 75, 135] {
        let id = tr.id();
        tr.records.push(json!({
            "eventVersion": "1.08", "eventTime": t(m), "eventID": id, "eventSource": "sts.amazonaws.com",
            "eventName": "GetCallerIdentity", "awsRegion": "us-east-1", "sourceIPAddress": EC2_USE1_B,
            "userAgent": VERIFIER, "recipientAccountId": ACCT, "readOnly": true,
            "userIdentity": {"type": "AssumedRole", "principalId": "AROAEXAMPLESSOADMIN01:alice@example.com",
                "arn": format!("arn:aws:sts::{ACCT}:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/alice@example.com"),
                "accountId": ACCT, "accessKeyId": "ASIAEXAMPLEALICE0001",
                "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLESSOADMIN01",
                    "arn": format!("arn:aws:iam::{ACCT}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123456789abcdef"),
                    "accountId": ACCT, "userName": "AWSReservedSSO_Admin_0123456789abcdef"}}}
        }));
    }
    let d = run_both_ways(&tr);
    assert!(d.findings.is_empty(), "{:#?}", d.findings);
    // A Vault server on premises checking every key: reported, but low.
    let mut tr = Trail::default();
    checked_node(&mut tr, "i-0b5000000000000b1", 4400, CUSTOMER);
    let d = run_both_ways(&tr);
    assert_eq!(d.findings.len(), 6, "{:#?}", d.findings);
    only_redeemed_at_low(&d);
}

#[test]
fn the_instances_own_health_check_still_places_it() {
    // A monitoring script on the instance checks its identity over the public address on two keys,
    // while everything else goes through the account's endpoints: that address is still its own, so
    // a thief's one-key address in the region is no move of the instance.
    let mut tr = Trail::default();
    let inst = "i-0b6000000000000b1";
    let keys = instance(&mut tr, inst, 4500, 6, "10.0.1.15");
    for r in tr.records.iter_mut().filter(|r| r["sourceIPAddress"] == "10.0.1.15") {
        r["vpcEndpointId"] = json!("vpce-0aa11bb22cc33dd44");
        r["vpcEndpointAccountId"] = json!(ACCT);
    }
    for h in [1, 4] {
        let m = h as i64 * 60 + 9;
        tr.call(&keys[h], "app-role", inst, EC2_USE1, BOTO, "sts.amazonaws.com", "GetCallerIdentity", m);
    }
    tr.call(&keys[3], "app-role", inst, EC2_USE1_B, THIEF_CLI, "s3.amazonaws.com", "ListBuckets", 185);
    let d = run_both_ways(&tr);
    assert_eq!(flagged(&d), [keys[3].as_str()], "{:#?}", d.findings);
}

#[test]
fn a_verifier_is_counted_over_the_roles_instances_and_without_a_delivery_record() {
    // Vault on premises checks each instance of an autoscaling group once, at boot.
    let mut tr = Trail::default();
    for i in 0..3 {
        let inst = format!("i-0b7{i:014x}");
        let keys = instance(&mut tr, &inst, 4600 + 10 * i, 2, EC2_USE1);
        tr.call(&keys[0], "app-role", &inst, CUSTOMER, VERIFIER, "sts.amazonaws.com", "GetCallerIdentity", 1);
    }
    let d = run_both_ways(&tr);
    assert_eq!(d.findings.len(), 3, "{:#?}", d.findings);
    only_redeemed_at_low(&d);
    // EKS's control plane on a node whose deliveries predate the window: the regions its key called
    // stand in for the delivery's.
    let mut tr = Trail::default();
    checked_node(&mut tr, "i-0b8000000000000b1", 4700, EC2_USE1_B);
    tr.records.retain(|r| r["eventName"] != "AssumeRole");
    assert!(run_both_ways(&tr).findings.is_empty());
}

#[test]
fn a_persons_identity_check_places_them_except_at_aws_addresses() {
    // `aws sts get-caller-identity` from the office is where a person works; the same check sent on
    // by EKS for their kubectl token is not.
    let mut tr = Trail::default();
    let inst = "i-0b9000000000000b1";
    let keys = instance(&mut tr, inst, 4800, 3, EC2_USE1);
    person(&mut tr, CUSTOMER, "GetCallerIdentity", 30);
    tr.call(&keys[1], "app-role", inst, CUSTOMER, THIEF_CLI, "s3.amazonaws.com", "ListBuckets", 70);
    let d = run_both_ways(&tr);
    assert_eq!(flagged(&d), [keys[1].as_str()], "{:#?}", d.findings);
    assert!(d.findings[0].signals.iter().any(|s| s == "human_origin"), "{:#?}", d.findings);
    // A young node, one key, checked by EKS where people's tokens are checked too: not a person's.
    let mut tr = Trail::default();
    let node = "i-0ba000000000000b1";
    let keys = instance(&mut tr, node, 4900, 1, EC2_USE1);
    tr.call(&keys[0], "app-role", node, EC2_USE1_B, VERIFIER, "sts.amazonaws.com", "GetCallerIdentity", 10);
    person(&mut tr, EC2_USE1_B, "GetCallerIdentity", 11);
    let d = run_both_ways(&tr);
    assert!(d.findings.iter().all(|f| f.signals.iter().all(|s| s != "human_origin")), "{:#?}", d.findings);
    assert!(d.findings.iter().all(|f| f.confidence != "high"), "{:#?}", d.findings);
}

#[test]
fn an_address_that_signs_with_any_key_of_the_role_is_no_verifier() {
    // A thief who checks every key he holds, and uses one of them: every key he checked is his.
    let mut tr = Trail::default();
    let inst = "i-0bb000000000000b1";
    let keys = instance(&mut tr, inst, 5000, 4, EC2_USE1);
    for (h, k) in keys.iter().enumerate().take(3) {
        tr.call(k, "app-role", inst, OUTSIDE, THIEF_CLI, "sts.amazonaws.com", "GetCallerIdentity", h as i64 * 60 + 30);
    }
    tr.call(&keys[3], "app-role", inst, OUTSIDE, THIEF_CLI, "secretsmanager.amazonaws.com", "GetSecretValue", 200);
    let d = run_both_ways(&tr);
    assert_eq!(d.findings.len(), 4, "{:#?}", d.findings);
    assert!(d.findings.iter().all(|f| f.confidence == "high"), "{:#?}", d.findings);
}

#[test]
fn an_ecr_token_pulled_with_elsewhere_is_low_and_the_same_calls_signed_by_a_thief_are_not() {
    // A build instance runs `aws ecr get-login-password` and hands the token to two on-premises
    // Docker hosts, which pull with it: ECR writes the pulls under the instance's key, from the hosts.
    let mut tr = Trail::default();
    let inst = "i-0ec2000000000ec21";
    let keys = instance(&mut tr, inst, 4100, 3, EC2_USE1);
    tr.call(&keys[1], "app-role", inst, EC2_USE1, BOTO, "ecr.amazonaws.com", "GetAuthorizationToken", 65);
    let docker = "docker/24.0.7 go/go1.20.10 git-commit/311b9ff kernel/6.1.0 os/linux arch/amd64 \
                  UpstreamClient(Docker-Client/24.0.7 \\(linux\\))";
    let pullers = [
        (CUSTOMER, docker),
        (CUSTOMER_B, "containerd/v1.7.13"),
        // A chart stored in ECR, and a tool that names go-containerregistry after itself.
        ("24.5.188.17", "Helm/3.14.2"),
        ("92.40.181.3", "ko/v0.15.2 go-containerregistry/v0.19.1"),
    ];
    for (i, (host, ua)) in pullers.into_iter().enumerate() {
        for (j, name) in ["BatchGetImage", "GetDownloadUrlForLayer", "GetDownloadUrlForLayer"].iter().enumerate() {
            tr.call(&keys[1], "app-role", inst, host, ua, "ecr.amazonaws.com", name, 90 + i as i64 * 5 + j as i64);
        }
    }
    let d = run_both_ways(&tr);
    assert_eq!(flagged(&d), [keys[1].as_str()], "{:#?}", d.findings);
    only_redeemed_at_low(&d);
    // A thief copies an image out with the CLI (no runtime can sign SigV4: the holder signed these),
    // and another pushes a backdoored one with a runtime's agent: both judged like any call.
    let mut copied = Trail::default();
    let keys = instance(&mut copied, inst, 4100, 3, EC2_USE1);
    for (j, name) in ["BatchGetImage", "GetDownloadUrlForLayer"].iter().enumerate() {
        copied.call(&keys[1], "app-role", inst, OUTSIDE, THIEF_CLI, "ecr.amazonaws.com", name, 90 + j as i64);
    }
    for (j, name) in ["InitiateLayerUpload", "CompleteLayerUpload", "PutImage"].iter().enumerate() {
        copied.call(
            &keys[2],
            "app-role",
            inst,
            OUTSIDE,
            "containerd/v1.7.13",
            "ecr.amazonaws.com",
            name,
            150 + j as i64,
        );
    }
    let d = run_both_ways(&copied);
    assert_eq!(flagged(&d), [keys[1].as_str(), keys[2].as_str()], "{:#?}", d.findings);
    for f in &d.findings {
        assert_eq!(f.confidence, "high", "{f:#?}");
        assert!(!f.signals.iter().any(|s| s == "redeemed_signature"), "{f:#?}");
    }
}
