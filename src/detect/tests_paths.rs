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
