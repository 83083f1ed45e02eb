//! Scenarios about where calls come from: VPC endpoints (own, shared-services, a thief's), short-lived
//! CI runners calling other regions, bastions shared with IAM users, address spellings
//! (`::ffff:a.b.c.d`, unparseable values).
use crate::emit::Ov;
use crate::json::ts;
use crate::scenarios::{P, RECON, UA_CLI_EC2_HOST, attack};
use crate::truth::Truth;
use crate::world::*;

/// Scenario names, in canonical order (appended to `scenarios::ALL`).
pub const NAMES: &[&str] = &[
    "vpce_eks_pods",
    "vpce_shared_services",
    "theft_sneaky_endpoint",
    "ci_runners_cross_region",
    "theft_ci_runner",
    "bastion_shared_address",
    "addr_mapped_ipv6",
    "theft_mapped_ipv6",
    "theft_unparseable_address",
    "addr_ipv6_dualstack",
    "theft_ipv6_outside",
    "addr_unparseable_own",
];

/// Plants `name` if it is one of this module's; false otherwise.
pub fn plant(p: &mut P, tr: &mut Truth, name: &str) -> bool {
    match name {
        "vpce_eks_pods" => vpce_eks_pods(p, tr),
        "vpce_shared_services" => vpce_shared_services(p, tr),
        "theft_sneaky_endpoint" => theft_sneaky_endpoint(p, tr),
        "ci_runners_cross_region" => ci_runners(p, tr, false),
        "theft_ci_runner" => ci_runners(p, tr, true),
        "bastion_shared_address" => bastion_shared_address(p, tr),
        "addr_mapped_ipv6" => addr_mapped_ipv6(p, tr),
        "theft_mapped_ipv6" => theft_mapped_ipv6(p, tr),
        "theft_unparseable_address" => theft_unparseable_address(p, tr),
        "addr_ipv6_dualstack" => ipv6(p, tr, false),
        "theft_ipv6_outside" => ipv6(p, tr, true),
        "addr_unparseable_own" => addr_unparseable_own(p, tr),
        _ => return false,
    }
    true
}

/// An account outside the organization (the thief's own), never one of the generated accounts.
pub const OUTSIDE_ACCOUNT: &str = "444455556666";
const POD_S3: &[&str] = &["s3:GetBucketLocation", "s3:GetBucketVersioning"];
/// A thief's aws-cli on his own Ubuntu EC2 host.
pub const UA_THIEF_EC2: &str = "aws-cli/2.13.25 Python/3.11.5 Linux/6.2.0-1012-aws exe/x86_64.ubuntu.22 prompt/off";

fn private_ips(p: &mut P, n: usize) -> Vec<String> {
    (0..n).map(|_| p.b.alloc.private_ip()).collect()
}

fn vpce_eks_pods(p: &mut P, tr: &mut Truth) {
    let hex = p.rng.hex(12);
    let role = p.b.role(p.a, &format!("eks-private-NodeInstanceRole-{}", hex));
    let nat = p.b.public_ip(p.r);
    let vpce = p.b.vpce_id(p.a, p.r, 300);
    let mut idx = Vec::new();
    for _ in 0..3 {
        let wi = p.inst(&role, Origin::Ip(nat.clone()), UA_VPC_CNI, CALLS_VPC_CNI, 40.0);
        let pods = Origin::Endpoint { vpce: vpce.clone(), owner: None, ips: private_ips(p, 30) };
        let pod = |ua: &str, weight: f64| Client {
            ua: ua.to_string(),
            calls: POD_S3.to_vec(),
            weight,
            v1: false,
            origin: Some(pods.clone()),
        };
        p.b.workloads[wi].clients = vec![
            Client::new(UA_VPC_CNI, CALLS_VPC_CNI, 0.2),
            Client::new(UA_KUBELET, CALLS_KUBELET, 0.1),
            Client::new(UA_SSM, CALLS_SSM_AGENT, 0.1),
            pod(UA_POD_JAVA, 0.2),
            pod(UA_POD_PY, 0.2),
            pod(UA_POD_GO, 0.1),
            pod("aws-sdk-rust/1.3.0 os/linux lang/rust/1.79.0", 0.1),
        ];
        idx.push(wi);
    }
    tr.keys = p.keys(&idx);
    tr.notes = format!(
        "3 EKS nodes (role {}) in private subnets: node agents (VPC CNI, kubelet, SSM) egress through NAT {}; their pods call S3 with the node's hourly keys through gateway endpoint {} from 30 pod addresses per node (private sourceIPAddress, one vpcEndpointId, vpcEndpointAccountId = own account), with Java, Python, Go and Rust SDKs.",
        role.name, nat, vpce
    );
}

fn vpce_shared_services(p: &mut P, tr: &mut Truth) {
    let role = p.b.cfn_role(p.a, "spoke-app-InstanceRole");
    let na = p.b.ctx.accounts.len();
    let shared = p.b.ctx.accounts[(p.a + 1) % na].clone();
    let vpce = p.b.vpce_id((p.a + 1) % na, p.r, 301);
    let mut idx = Vec::new();
    for _ in 0..4 {
        // Each instance's own private address; the endpoint's ENIs sit in the shared VPC.
        let ips = private_ips(p, 1);
        let wi = p.inst(
            &role,
            Origin::Endpoint { vpce: vpce.clone(), owner: Some(shared.clone()), ips },
            UA_GO_V2,
            CALLS_VPCE,
            12.0,
        );
        p.b.workloads[wi].global_sts = 0.0;
        idx.push(wi);
    }
    tr.keys = p.keys(&idx);
    tr.notes = format!(
        "4 instances of role {} reach AWS only through interface endpoint {} centralized in the shared-services account {} (another account of this organization, vpcEndpointAccountId = {}), each from its own private address, on every hourly key.{}",
        role.name,
        vpce,
        shared,
        shared,
        if na == 1 { " (Only one account generated: the endpoint is then the workload's own.)" } else { "" }
    );
}

fn theft_sneaky_endpoint(p: &mut P, tr: &mut Truth) {
    let role = p.b.cfn_role(p.a, "private-ledger-InstanceRole");
    let vpce = p.b.vpce_id(p.a, p.r, 302);
    let ips = private_ips(p, 1);
    let wi = p.inst(&role, Origin::Endpoint { vpce: vpce.clone(), owner: None, ips }, UA_JAVA, CALLS_VPCE, 12.0);
    p.b.workloads[wi].global_sts = 0.0;
    let w = p.b.workloads[wi].clone();
    let k = w.key_index(p.t).expect("key at T");
    let thief_vpce = format!("vpce-{}", p.rng.hex(17));
    let ov = Ov {
        ip: Some("172.31.44.201"),
        vpce: Some((&thief_vpce, OUTSIDE_ACCOUNT)),
        ua: Some(UA_THIEF_EC2),
        key_index: Some(k),
        ..Ov::default()
    };
    let steps: &[(i64, &str)] = &[
        (0, "s3:ListBuckets"),
        (35, "secretsmanager:GetSecretValue"),
        (80, "kms:Decrypt"),
        (150, "s3:GetBucketLocation"),
        (260, "dynamodb:DescribeTable"),
    ];
    let first = attack(p, wi, p.t, steps, &ov);
    tr.keys = p.keys(&[wi]);
    tr.mal(w.key(p.b.seed(), k, 0), first);
    tr.notes = format!(
        "Instance {} (role {}) uses its keys only through its own account's endpoint {}. Its key #{} is also used through {} owned by account {} (outside the organization: the SneakyEndpoints technique), from 172.31.44.201 with aws-cli on Ubuntu: ListBuckets, GetSecretValue, Decrypt...",
        w.session, role.name, vpce, k, thief_vpce, OUTSIDE_ACCOUNT
    );
}

/// Short-lived CI runners (one key each) calling another region's APIs from their own address;
/// with `theft`, one runner's key is also used by a thief from an EC2 host of the other region.
fn ci_runners(p: &mut P, tr: &mut Truth, theft: bool) {
    let role = p.b.cfn_role(p.a, if theft { "ci-deploy-RunnerRole" } else { "ci-build-RunnerRole" });
    let nr = p.b.ctx.regions.len();
    let other = (p.r + 1) % nr;
    let other_name = p.b.ctx.regions[other].clone();
    let mut idx = Vec::new();
    let n = if theft { 6 } else { 20 };
    for j in 0..n {
        let ip = p.b.public_ip(p.r);
        // Odd runners call only the other region (a deploy job); even ones both.
        let rate = if j % 2 == 0 { 30.0 } else { 0.0 };
        let wi = p.inst(&role, Origin::Ip(ip), UA_GO_V2, CALLS_BATCH, rate);
        let first = p.t - 3600 + j as i64 * 420;
        {
            let w = &mut p.b.workloads[wi];
            w.first = first;
            w.end = first + 1500;
            w.global_sts = 0.0;
            w.clients.truncate(1);
        }
        for (dt, call) in [
            (40, "s3:ListBuckets"),
            (95, "ec2:DescribeInstances"),
            (300, "sqs:GetQueueUrl"),
            (610, "ec2:DescribeSecurityGroups"),
            (900, "s3:GetBucketLocation"),
            (1300, "ec2:DescribeInstances"),
        ] {
            p.script_use_in(wi, first + dt, call, other, &Ov::default());
        }
        idx.push(wi);
    }
    tr.keys = p.keys(&idx);
    tr.notes = format!(
        "{} CI runners of role {} launched 7 minutes apart, each living 25 minutes with one key (delivered in its own region {}), each calling {} APIs (odd runners nothing else, even ones also their own region's) from its own EC2 address, without an SSM agent.",
        n,
        role.name,
        p.region(),
        other_name
    );
    if theft {
        let wi = idx[2];
        let w = p.b.workloads[wi].clone();
        let thief = p.b.spare_ip(&other_name);
        let ov = Ov { ip: Some(&thief), ua: Some(UA_THIEF_EC2), key_index: Some(0), ..Ov::default() };
        let steps: &[(i64, &str)] = &[
            (0, "s3:ListBuckets"),
            (40, "secretsmanager:GetSecretValue"),
            (95, "ec2:DescribeInstances"),
            (400, "s3:GetBucketLocation"),
        ];
        let t0 = w.first + 1200;
        p.origins.push(thief.clone());
        for (dt, call) in steps {
            p.script_use_in(wi, t0 + dt, call, other, &ov);
        }
        tr.mal(w.key(p.b.seed(), 0, 0), t0);
        tr.notes.push_str(&format!(
            " Runner {}'s key is also used from {} (an EC2 address of {}, not the runner's) with aws-cli on Ubuntu from {} on, partly after the runner terminated.",
            w.session,
            thief,
            other_name,
            ts(t0)
        ));
    }
}

fn bastion_shared_address(p: &mut P, tr: &mut Truth) {
    let role = p.b.cfn_role(p.a, "ops-bastion-InstanceRole");
    let ip = p.b.public_ip(p.r);
    let wi = p.inst(&role, Origin::Ip(ip.clone()), UA_CLI_EC2_HOST, CALLS_HUMAN_CLI, 15.0);
    let r = Some(p.r);
    for name in ["bastion-alice", "bastion-bob"] {
        p.b.iam_user(p.a, name, &[ip.as_str()], &[UA_CLI_EC2_HOST], CALLS_HUMAN_CLI, 6.0, false, r);
    }
    tr.keys = p.keys(&[wi]);
    tr.notes = format!(
        "Bastion instance {} (role {}) at {}: engineers run aws-cli there both with the instance role and with their IAM users' keys (bastion-alice, bastion-bob), so the role's keys share their address with IAM users.",
        p.b.workloads[wi].session, role.name, ip
    );
}

fn addr_mapped_ipv6(p: &mut P, tr: &mut Truth) {
    let role = p.b.cfn_role(p.a, "dualstack-api-InstanceRole");
    let ip = p.b.public_ip(p.r);
    let mapped = format!("::ffff:{}", ip);
    let a = p.inst(&role, Origin::Ips(vec![ip.clone(), mapped.clone()]), UA_GO_V2, CALLS_WEB, 15.0);
    let proxy = "::ffff:198.18.7.10";
    let role2 = p.b.cfn_role(p.a, "hybrid-mapped-InstanceRole");
    let b = p.inst(&role2, Origin::Ip(proxy.into()), UA_BOTO_EC2, CALLS_BATCH, 12.0);
    tr.keys = p.keys(&[a, b]);
    tr.flags = vec!["--trusted-cidr".into(), "198.18.7.0/24".into()];
    tr.notes = format!(
        "Instance {} (role {}) is logged from {} and, on other calls, from {} (the same address, IPv4-mapped IPv6). Instance {} (role {}) egresses through the on-premises proxy written {}, inside the trusted 198.18.7.0/24.",
        p.b.workloads[a].session, role.name, ip, mapped, p.b.workloads[b].session, role2.name, proxy
    );
}

fn theft_mapped_ipv6(p: &mut P, tr: &mut Truth) {
    let role = p.b.cfn_role(p.a, "prod-search-InstanceRole");
    let ip = p.b.public_ip(p.r);
    let wi = p.inst(&role, Origin::Ip(ip.clone()), UA_GO_V2, CALLS_WEB, 12.0);
    let w = p.b.workloads[wi].clone();
    let k = w.key_index(p.t).expect("key at T");
    let thief = "::ffff:45.33.33.10";
    let ov = Ov { ip: Some(thief), ua: Some(UA_CLI_DARWIN), key_index: Some(k), ..Ov::default() };
    let first = attack(p, wi, p.t, RECON, &ov);
    tr.keys = p.keys(&[wi]);
    tr.mal(w.key(p.b.seed(), k, 0), first);
    tr.notes = format!(
        "Instance {} (role {}) uses its keys from {}. Its key #{} is also used from {} (45.33.33.10, outside AWS, written as IPv4-mapped IPv6) with a laptop aws-cli.",
        w.session, role.name, ip, k, thief
    );
}

fn theft_unparseable_address(p: &mut P, tr: &mut Truth) {
    let role = p.b.cfn_role(p.a, "prod-media-InstanceRole");
    let ip = p.b.public_ip(p.r);
    let wi = p.inst(&role, Origin::Ip(ip.clone()), UA_GO_V2, CALLS_WEB, 12.0);
    let w = p.b.workloads[wi].clone();
    let k = w.key_index(p.t).expect("key at T");
    let mut first = None;
    p.origins = vec!["45.33.33.11:443".into(), "fe80::1%eth0".into()];
    for (dt, call, addr) in [
        (0, "sts:GetCallerIdentity", "45.33.33.11:443"),
        (50, "s3:ListBuckets", "fe80::1%eth0"),
        (120, "secretsmanager:GetSecretValue", "45.33.33.11:443"),
        (240, "ec2:DescribeInstances", "fe80::1%eth0"),
    ] {
        let ov = Ov { ip: Some(addr), ua: Some(UA_CLI_LINUX), key_index: Some(k), ..Ov::default() };
        p.script_use(wi, p.t + dt, call, &ov);
        first.get_or_insert(p.t + dt);
    }
    tr.keys = p.keys(&[wi]);
    tr.mal(w.key(p.b.seed(), k, 0), first.expect("steps"));
    tr.notes = format!(
        "Instance {} (role {}) uses its keys from {}. Its key #{} is also used with aws-cli on Ubuntu from addresses that do not parse as IP addresses (45.33.33.11:443, fe80::1%eth0): the key must still be judged.",
        w.session, role.name, ip, k
    );
}

/// Dual-stack instances calling AWS over IPv4 and IPv6 (an EC2 IPv6 prefix of their region); with
/// `theft`, one key is also used from an IPv6 address outside AWS.
fn ipv6(p: &mut P, tr: &mut Truth, theft: bool) {
    let role = p.b.cfn_role(p.a, if theft { "dualstack-ingest-InstanceRole" } else { "dualstack-web-InstanceRole" });
    let region = p.region();
    let mut idx = Vec::new();
    for j in 0..2u64 {
        let v4 = p.b.public_ip(p.r);
        let v6 = v6_addr(&region, p.rng.next_u64() ^ j);
        idx.push(p.inst(&role, Origin::Ips(vec![v4, v6]), UA_JAVA, CALLS_WEB, 15.0));
    }
    tr.keys = p.keys(&idx);
    tr.notes = format!(
        "2 dual-stack instances of role {} calling AWS from their IPv4 address and from their IPv6 address in {}'s EC2 IPv6 range.",
        role.name, region
    );
    if theft {
        let w = p.b.workloads[idx[0]].clone();
        let k = w.key_index(p.t).expect("key at T");
        let thief = "2a01:7e00::f03c:94ff:fe3d:8e21";
        let ov = Ov { ip: Some(thief), ua: Some(UA_CLI_DARWIN), key_index: Some(k), ..Ov::default() };
        let first = attack(p, idx[0], p.t, RECON, &ov);
        tr.mal(w.key(p.b.seed(), k, 0), first);
        tr.notes.push_str(&format!(
            " Instance {}'s key #{} is also used from {} (IPv6 outside AWS) with a laptop aws-cli.",
            w.session, k, thief
        ));
    }
}

/// Instances whose own address is always written zero-padded (`052.048.7.4`, as anonymizers write
/// them; the stratus corpus has such values): unparseable, but the same on every key.
fn addr_unparseable_own(p: &mut P, tr: &mut Truth) {
    let role = p.b.cfn_role(p.a, "legacy-export-InstanceRole");
    let mut idx = Vec::new();
    for _ in 0..2 {
        let ip = p.b.public_ip(p.r);
        let padded =
            ip.split('.').map(|o| format!("{:03}", o.parse::<u32>().unwrap_or(0))).collect::<Vec<_>>().join(".");
        idx.push(p.inst(&role, Origin::Ip(padded), UA_BOTO_EC2, CALLS_BATCH, 12.0));
    }
    tr.keys = p.keys(&idx);
    let shown: Vec<String> = idx
        .iter()
        .filter_map(|&i| match &p.b.workloads[i].origin {
            Origin::Ip(a) => Some(a.clone()),
            _ => None,
        })
        .collect();
    tr.notes = format!(
        "2 instances of role {} whose every call (all keys, from the start) carries its address zero-padded, as anonymized trails write them ({}): an address that does not parse, but the instance's own, stable origin; nothing else differs.",
        role.name,
        shown.join(", ")
    );
}
