//! ECS tasks beside their program: FireLens' log router (Fluent Bit, `aws-fluent-bit-plugin`) signs
//! with the task's role and names no execution environment. Where it calls from (a NAT the team's
//! VPN also leaves through, say) is the fleet's own path.

use super::tests::*;

const NAT: &str = EC2_USE1_B;
const APP: &str = "Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#5.10 lang/python#3.11 exec-env/AWS_ECS_FARGATE";
const FLUENT_BIT: &str = "aws-fluent-bit-plugin";

/// Six tasks: the program reads DynamoDB through the VPC's gateway endpoint, the log router creates
/// its streams through the NAT, where engineers on the VPN work too.
fn service(tr: &mut Trail) -> Vec<String> {
    let mut keys = Vec::new();
    for i in 0..6 {
        let (k, task, m) = (key(9000 + i), format!("5f3c9a1b2d4e6f7081{i:014x}"), i as i64 * 30);
        tr.deliver("ecs-tasks.amazonaws.com", "orders-task-role", &task, &k, "us-east-1", m);
        tr.call(&k, "orders-task-role", &task, NAT, FLUENT_BIT, "logs.amazonaws.com", "CreateLogStream", m + 1);
        for j in 0..3 {
            tr.call(&k, "orders-task-role", &task, "10.40.1.20", APP, "dynamodb.amazonaws.com", "GetItem", m + 2 + j);
            let r = tr.last();
            r["vpcEndpointId"] = "vpce-0d1d2d3d4d5d6d7d8".into();
            r["vpcEndpointAccountId"] = ACCT.into();
        }
        keys.push(k);
    }
    for m in (0..200).step_by(25) {
        person(tr, NAT, "DecodeAuthorizationMessage", m);
    }
    keys
}

#[test]
fn a_log_router_in_every_task_is_the_fleets_own_and_a_laptop_on_one_key_is_not() {
    let mut tr = Trail::default();
    let keys = service(&mut tr);
    let d = run_both_ways(&tr);
    assert!(d.findings.is_empty(), "{:#?}", d.findings);
    // An engineer on the VPN uses one task's key with the AWS CLI: from the same NAT.
    let task = "5f3c9a1b2d4e6f708100000000000002";
    tr.call(&keys[2], "orders-task-role", task, NAT, THIEF_CLI, "dynamodb.amazonaws.com", "Scan", 75);
    let d = run_both_ways(&tr);
    assert_eq!(flagged(&d), [keys[2].as_str()], "{:#?}", d.findings);
    assert_eq!(d.findings[0].confidence, "high");
}

const TASK_SDK: &str =
    "aws-sdk-js/3.668.0 ua/2.1 os/linux#5.10 lang/js md/nodejs#20.18.0 exec-env/AWS_ECS_EC2 api/sqs#3.668.0";
const HOST: &str = "i-0c33d44e55f667a88";

/// A container instance on its public address (the ECS and SSM agents) whose tasks, with no role of
/// their own, use its keys from the VPC's NAT, where engineers on the VPN work too.
fn container_instance(tr: &mut Trail) -> Vec<String> {
    let mut keys = Vec::new();
    for h in 0..5 {
        let (k, m) = (key(9100 + h), h as i64 * 60);
        tr.deliver("ec2.amazonaws.com", "ecsInstanceRole", HOST, &k, "us-east-1", m);
        tr.call(&k, "ecsInstanceRole", HOST, EC2_USE1, BOTO, "ecs.amazonaws.com", "SubmitTaskStateChange", m + 1);
        tr.call(
            &k,
            "ecsInstanceRole",
            HOST,
            EC2_USE1,
            SSM_AGENT,
            "ssm.amazonaws.com",
            "UpdateInstanceInformation",
            m + 2,
        );
        tr.call(&k, "ecsInstanceRole", HOST, NAT, TASK_SDK, "sqs.amazonaws.com", "DeleteMessage", m + 3);
        keys.push(k);
    }
    for m in (0..300).step_by(25) {
        person(tr, NAT, "DecodeAuthorizationMessage", m);
    }
    keys
}

#[test]
fn a_container_instances_tasks_on_its_keys_through_a_nat_are_its_own_path() {
    let mut tr = Trail::default();
    let keys = container_instance(&mut tr);
    assert!(run_both_ways(&tr).findings.is_empty());
    // An engineer on the VPN with one of its keys and the CLI, from that NAT: his alone.
    tr.call(&keys[2], "ecsInstanceRole", HOST, NAT, THIEF_CLI, "s3.amazonaws.com", "ListBuckets", 150);
    let d = run_both_ways(&tr);
    assert_eq!(flagged(&d), [keys[2].as_str()], "{:#?}", d.findings);
    assert_eq!(d.findings[0].confidence, "high");
}

#[test]
fn an_ssrf_through_imdsv1_on_every_key_of_a_container_instance_is_still_a_second_holder() {
    let mut tr = Trail::default();
    let keys = container_instance(&mut tr);
    // Without the agent's own address, or through IMDSv1 (an SSRF), the NAT is no tasks' path.
    for (h, k) in keys.iter().enumerate() {
        tr.call(k, "ecsInstanceRole", HOST, EC2_USE1_B, TASK_SDK, "s3.amazonaws.com", "GetObject", h as i64 * 60 + 30);
        tr.last()["userIdentity"]["sessionContext"]["ec2RoleDelivery"] = "1.0".into();
    }
    let d = run_both_ways(&tr);
    assert_eq!(d.findings.len(), keys.len(), "{:#?}", d.findings);
}
