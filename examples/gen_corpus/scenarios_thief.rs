//! Scenarios about thieves that look like the workload: a returning thief on his own EC2 host,
//! thieves inside the workload's region, with its exact user agent, with fields that claim trust
//! (`exec-env/AWS_Lambda`, the SSM agent's heartbeat), SSM session hijacking, a human's host.
use crate::emit::Ov;
use crate::scenarios::{P, RECON, UA_CLI_EC2_HOST, attack};
use crate::scenarios_network::UA_THIEF_EC2;
use crate::truth::Truth;
use crate::world::*;

/// Scenario names, in canonical order (after `scenarios_network::NAMES`).
pub const NAMES: &[&str] = &[
    "theft_persistent_host",
    "theft_persistent_two_instances",
    "theft_same_region_host",
    "theft_workload_user_agent",
    "theft_fake_lambda_user_agent",
    "theft_fake_ssm_heartbeat",
    "theft_ssm_hijack",
    "ssm_channels_own",
    "theft_from_human_host",
];

/// Plants `name` if it is one of this module's; false otherwise.
pub fn plant(p: &mut P, tr: &mut Truth, name: &str) -> bool {
    match name {
        "theft_persistent_host" => persistent(p, tr, 1),
        "theft_persistent_two_instances" => persistent(p, tr, 2),
        "theft_same_region_host" => same_region_host(p, tr),
        "theft_workload_user_agent" => workload_user_agent(p, tr),
        "theft_fake_lambda_user_agent" => fake_lambda_user_agent(p, tr),
        "theft_fake_ssm_heartbeat" => fake_ssm_heartbeat(p, tr),
        "theft_ssm_hijack" => ssm_hijack(p, tr),
        "ssm_channels_own" => ssm_channels_own(p, tr),
        "theft_from_human_host" => from_human_host(p, tr),
        _ => return false,
    }
    true
}

const SSM_FULL: &[&str] = &[
    "ssm:UpdateInstanceInformation",
    "ssm:ListInstanceAssociations",
    "ec2messages:GetMessages",
    "ec2messages:AcknowledgeMessage",
    "ssmmessages:CreateControlChannel",
];

/// A thief with code execution on the instances takes every hourly key from key #1 on and uses
/// it minutes later from his own EC2 host in the same region, with his own client.
fn persistent(p: &mut P, tr: &mut Truth, n: usize) {
    let role = p.b.cfn_role(p.a, if n == 1 { "prod-render-InstanceRole" } else { "prod-pricing-InstanceRole" });
    let region = p.region();
    let thief = p.b.spare_ip(&region);
    let mut idx = Vec::new();
    for _ in 0..n {
        let ip = p.b.public_ip(p.r);
        idx.push(p.inst(&role, Origin::Ip(ip), UA_GO_V2, CALLS_WEB, 12.0));
    }
    let end = p.b.ctx.end;
    let mut total = 0;
    for &wi in &idx {
        let w = p.b.workloads[wi].clone();
        for k in 1..w.key_count() {
            let t0 = w.delivery_time(k) + p.rng.range(120, 900);
            if t0 + 400 >= end {
                break;
            }
            let ov = Ov { ip: Some(&thief), ua: Some(UA_THIEF_EC2), key_index: Some(k), ..Ov::default() };
            let steps: &[(i64, &str)] = &[
                (0, "s3:ListBuckets"),
                (30, "secretsmanager:GetSecretValue"),
                (70, "dynamodb:DescribeTable"),
                (300, "kms:Decrypt"),
            ];
            let first = attack(p, wi, t0, steps, &ov);
            tr.mal(w.key(p.b.seed(), k, 0), first);
            total += 1;
        }
    }
    tr.keys = p.keys(&idx);
    let sessions: Vec<String> = idx.iter().map(|&i| p.b.workloads[i].session.clone()).collect();
    tr.notes = format!(
        "{} of role {} ({}), each from its own public address. A thief with code execution takes every hourly key from key #1 on and uses it 2-15 minutes after delivery from his own EC2 host {} ({}, the same region) with aws-cli on Ubuntu: {} stolen keys, one malicious key per hourly key; his address shows on many keys but never with the workload's own clients.",
        if n == 1 { "Instance" } else { "Two instances" },
        role.name,
        sessions.join(", "),
        thief,
        region,
        total
    );
}

fn same_region_host(p: &mut P, tr: &mut Truth) {
    let role = p.b.cfn_role(p.a, "prod-orders-InstanceRole");
    let ip = p.b.public_ip(p.r);
    let wi = p.inst(&role, Origin::Ip(ip.clone()), UA_JAVA, CALLS_OPS, 12.0);
    let region = p.region();
    let thief = p.b.spare_ip(&region);
    let w = p.b.workloads[wi].clone();
    let k = w.key_index(p.t).expect("key at T");
    let ov = Ov { ip: Some(&thief), ua: Some(UA_CLI_EC2_HOST), key_index: Some(k), ..Ov::default() };
    let first = attack(p, wi, p.t, RECON, &ov);
    tr.keys = p.keys(&[wi]);
    tr.mal(w.key(p.b.seed(), k, 0), first);
    tr.notes = format!(
        "Instance {} (role {}) in {} uses its keys from {}. Its key #{} is also used from {}, an EC2 address of the same region, with aws-cli on Amazon Linux 2023 (IMDSv2 delivery): no region mismatch to go by.",
        w.session, role.name, region, ip, k, thief
    );
}

fn workload_user_agent(p: &mut P, tr: &mut Truth) {
    let role = p.b.cfn_role(p.a, "prod-quotes-InstanceRole");
    let ip = p.b.public_ip(p.r);
    let wi = p.inst(&role, Origin::Ip(ip.clone()), UA_GO_V2, CALLS_WEB, 12.0);
    let region = p.region();
    let thief = p.b.spare_ip(&region);
    let w = p.b.workloads[wi].clone();
    let k = w.key_index(p.t).expect("key at T");
    let ov = Ov { ip: Some(&thief), ua: Some(UA_GO_V2), key_index: Some(k), ..Ov::default() };
    let steps: &[(i64, &str)] = &[
        (0, "secretsmanager:GetSecretValue"),
        (20, "kms:Decrypt"),
        (75, "dynamodb:DescribeTable"),
        (160, "s3:GetBucketLocation"),
        (330, "secretsmanager:GetSecretValue"),
    ];
    let first = attack(p, wi, p.t, steps, &ov);
    tr.keys = p.keys(&[wi]);
    tr.mal(w.key(p.b.seed(), k, 0), first);
    tr.notes = format!(
        "Instance {} (role {}) uses its keys from {} with {}. Its key #{} is also used from {} (EC2, same region) with that exact user agent string, IMDSv2 delivery and the workload's usual calls: only the origin differs.",
        w.session, role.name, ip, UA_GO_V2, k, thief
    );
}

fn fake_lambda_user_agent(p: &mut P, tr: &mut Truth) {
    let role = p.b.cfn_role(p.a, "prod-thumbs-InstanceRole");
    let ip = p.b.public_ip(p.r);
    let wi = p.inst(&role, Origin::Ip(ip.clone()), UA_BOTO_EC2, CALLS_BATCH, 12.0);
    let region = p.region();
    let thief = p.b.spare_ip(&region);
    let w = p.b.workloads[wi].clone();
    let k = w.key_index(p.t).expect("key at T");
    let ov = Ov { ip: Some(&thief), ua: Some(UA_LAMBDA), key_index: Some(k), ..Ov::default() };
    let first = attack(p, wi, p.t, RECON, &ov);
    tr.keys = p.keys(&[wi]);
    tr.mal(w.key(p.b.seed(), k, 0), first);
    tr.notes = format!(
        "Instance {} (role {}) uses its keys from {}. Its key #{} is also used from {} (EC2, same region) by a thief whose user agent claims exec-env/AWS_Lambda_python3.12: a field he controls must not make the EC2 key look like a Lambda's.",
        w.session, role.name, ip, k, thief
    );
}

fn fake_ssm_heartbeat(p: &mut P, tr: &mut Truth) {
    let role = p.b.cfn_role(p.a, "prod-ledger-InstanceRole");
    let ip = p.b.public_ip(p.r);
    let wi = p.inst(&role, Origin::Ip(ip.clone()), UA_GO_V2, CALLS_WEB, 12.0);
    let region = p.region();
    let thief = p.b.spare_ip(&region);
    let w = p.b.workloads[wi].clone();
    let k = w.key_index(p.t).expect("key at T");
    let hb = Ov { ip: Some(&thief), ua: Some(UA_SSM), key_index: Some(k), ..Ov::default() };
    p.script_use(wi, p.t, "ssm:UpdateInstanceInformation", &hb);
    let ov = Ov { ip: Some(&thief), ua: Some(UA_THIEF_EC2), key_index: Some(k), ..Ov::default() };
    attack(p, wi, p.t + 45, RECON, &ov);
    tr.keys = p.keys(&[wi]);
    tr.mal(w.key(p.b.seed(), k, 0), p.t);
    tr.notes = format!(
        "Instance {} (role {}) uses its keys from {}. A thief first sends one ssm:UpdateInstanceInformation with the SSM agent's user agent from his EC2 host {} (same region) with its key #{}, then runs recon from there with aws-cli: the heartbeat must not make {} the instance's.",
        w.session, role.name, ip, thief, k, thief
    );
}

fn ssm_hijack(p: &mut P, tr: &mut Truth) {
    let role = p.b.cfn_role(p.a, "prod-admin-InstanceRole");
    let ip = p.b.public_ip(p.r);
    let wi = p.inst(&role, Origin::Ip(ip.clone()), UA_GO_V2, CALLS_WEB, 12.0);
    p.b.workloads[wi].clients[1] = Client::new(UA_SSM, SSM_FULL, 0.25);
    let w = p.b.workloads[wi].clone();
    let k = w.key_index(p.t).expect("key at T");
    let thief = "45.33.33.20";
    let ov = Ov { ip: Some(thief), ua: Some(UA_SSM), key_index: Some(k), ..Ov::default() };
    let steps: &[(i64, &str)] = &[
        (0, "ec2messages:GetMessages"),
        (2, "ssmmessages:CreateControlChannel"),
        (21, "ec2messages:GetMessages"),
        (22, "ec2messages:AcknowledgeMessage"),
        (41, "ec2messages:GetMessages"),
    ];
    let first = attack(p, wi, p.t, steps, &ov);
    tr.keys = p.keys(&[wi]);
    tr.mal(w.key(p.b.seed(), k, 0), first);
    tr.notes = format!(
        "Instance {} (role {}) runs the SSM agent (ec2messages/ssmmessages channels) from {}. Its key #{} is used from {} (outside AWS) with the SSM agent's user agent, calling only ec2messages:GetMessages/AcknowledgeMessage and ssmmessages:CreateControlChannel: SSM session hijacking.",
        w.session, role.name, ip, k, thief
    );
}

fn ssm_channels_own(p: &mut P, tr: &mut Truth) {
    let role = p.b.cfn_role(p.a, "prod-fleet-InstanceRole");
    let mut idx = Vec::new();
    for _ in 0..2 {
        let ip = p.b.public_ip(p.r);
        let wi = p.inst(&role, Origin::Ip(ip), UA_NODE, CALLS_BATCH, 20.0);
        p.b.workloads[wi].clients[1] = Client::new(UA_SSM, SSM_FULL, 0.5);
        idx.push(wi);
    }
    tr.keys = p.keys(&idx);
    tr.notes = format!(
        "2 instances of role {} whose SSM agents poll ec2messages and open ssmmessages control channels (plus the UpdateInstanceInformation heartbeat) from the instances' own addresses.",
        role.name
    );
}

fn from_human_host(p: &mut P, tr: &mut Truth) {
    let role = p.b.cfn_role(p.a, "prod-payroll-InstanceRole");
    let ip = p.b.public_ip(p.r);
    let wi = p.inst(&role, Origin::Ip(ip.clone()), UA_JAVA, CALLS_OPS, 12.0);
    let region = p.region();
    let desk = p.b.spare_ip(&region);
    p.b.iam_user(p.a, "dev-ana", &[desk.as_str()], &[UA_CLI_LINUX], CALLS_HUMAN_CLI, 8.0, false, Some(p.r));
    let w = p.b.workloads[wi].clone();
    let k = w.key_index(p.t).expect("key at T");
    let ov = Ov { ip: Some(&desk), ua: Some(UA_CLI_LINUX), key_index: Some(k), ..Ov::default() };
    let first = attack(p, wi, p.t, RECON, &ov);
    tr.keys = p.keys(&[wi]);
    tr.mal(w.key(p.b.seed(), k, 0), first);
    tr.notes = format!(
        "Instance {} (role {}) uses its keys from {}. Its key #{} is also used from {}, a cloud desktop (EC2 address, same region) where IAM user dev-ana works all day with the same aws-cli.",
        w.session, role.name, ip, k, desk
    );
}
