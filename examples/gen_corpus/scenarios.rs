//! Labelled scenarios: hard negatives and planted thefts, with ground truth.
//!
//! Scenario i (canonical order) lives in account i % A, region (i / A) % R, around a time T_i
//! between 30% and 70% of the span. Scenario workloads are not scaled by --size.
use crate::emit::Ov;
use crate::json::ts;
use crate::population::Builder;
use crate::records::human_custom;
use crate::rng::{Rng, hash, tag};
pub use crate::scenario_kit::{P, RECON, UA_CLI_EC2_HOST, attack};
pub use crate::truth::{Truth, write_truth};
use crate::world::*;

/// The original scenarios; `all()` appends the newer modules' (positions fix placement).
pub const ALL: &[&str] = &[
    "nat_shared",
    "vpce_only",
    "eip_moved",
    "service_on_behalf",
    "console_sso",
    "lambda_scale",
    "ecs_scale",
    "eks_nodes",
    "trusted_onprem",
    "theft_outside_aws",
    "theft_other_aws",
    "theft_attacker_first",
    "theft_lambda",
    "theft_ecs",
    "theft_behind_nat",
];

/// Every scenario, in canonical order (a scenario's position fixes its account, region, time).
pub fn all() -> Vec<&'static str> {
    let mut v = ALL.to_vec();
    v.extend_from_slice(crate::scenarios_network::NAMES);
    v.extend_from_slice(crate::scenarios_thief::NAMES);
    v.extend_from_slice(crate::scenarios_services::NAMES);
    v
}

/// Scenario names from --scenario values (comma lists, "all"), canonical order, no duplicates.
pub fn resolve(names: &[String]) -> Result<Vec<&'static str>, String> {
    let all = all();
    let mut out = Vec::new();
    for n in names {
        for n in n.split(',').filter(|x| !x.is_empty()) {
            if n == "all" {
                out.extend_from_slice(&all);
            } else if let Some(x) = all.iter().find(|x| **x == n) {
                out.push(*x);
            } else {
                return Err(format!("unknown scenario {:?}; known: all,{}", n, all.join(",")));
            }
        }
    }
    // Canonical order, no duplicates: planting does not depend on how they were listed.
    out.sort_by_key(|n| all.iter().position(|x| x == n));
    out.dedup();
    Ok(out)
}

const THIEF_OUTSIDE: &str = "45.33.32.156";
const THIEF_FIRST: &str = "45.33.32.157";
const THIEF_LAMBDA: &str = "45.33.32.158";
const THIEF_ECS: &str = "45.33.32.159";
/// Plants scenario `name` (its workloads and scripted records) and returns its ground truth.
pub fn plant(b: &mut Builder, scripted: &mut [Vec<(i64, String)>], name: &str) -> Truth {
    let i = all().iter().position(|x| *x == name).expect("resolved name");
    let na = b.ctx.accounts.len();
    let nr = b.ctx.regions.len();
    let (a, r) = (i % na, (i / na) % nr);
    b.set_namespace(i as u64 + 1);
    let span = b.ctx.end - b.ctx.start;
    let frac = (hash(&[b.seed(), tag("scn-time"), tag(name)]) % 10_000) as f64 / 10_000.0;
    let t = b.ctx.start + (span as f64 * (0.3 + 0.4 * frac)) as i64;
    let rng = Rng::from(&[b.seed(), tag("scn"), tag(name)]);
    let mut p = P { b, scripted, a, r, t, rng, origins: vec![] };
    let mut truth = Truth {
        name: name.to_string(),
        expected: if name.starts_with("theft_") { "finding" } else { "none" },
        keys: vec![],
        malicious_keys: vec![],
        first_malicious_time: None,
        first_malicious_times: vec![],
        malicious_origins: vec![],
        notes: String::new(),
        flags: vec![],
        account: p.b.ctx.accounts[a].clone(),
        region: p.region(),
    };
    match name {
        "nat_shared" => nat_shared(&mut p, &mut truth),
        "vpce_only" => vpce_only(&mut p, &mut truth),
        "eip_moved" => eip_moved(&mut p, &mut truth),
        "service_on_behalf" => service_on_behalf(&mut p, &mut truth),
        "console_sso" => console_sso(&mut p, &mut truth),
        "lambda_scale" => lambda_scale(&mut p, &mut truth),
        "ecs_scale" => ecs_scale(&mut p, &mut truth),
        "eks_nodes" => eks_nodes(&mut p, &mut truth),
        "trusted_onprem" => trusted_onprem(&mut p, &mut truth),
        "theft_outside_aws" => theft_outside_aws(&mut p, &mut truth),
        "theft_other_aws" => theft_other_aws(&mut p, &mut truth),
        "theft_attacker_first" => theft_attacker_first(&mut p, &mut truth),
        "theft_lambda" => theft_lambda(&mut p, &mut truth),
        "theft_ecs" => theft_ecs(&mut p, &mut truth),
        "theft_behind_nat" => theft_behind_nat(&mut p, &mut truth),
        _ => {
            let done = crate::scenarios_network::plant(&mut p, &mut truth, name)
                || crate::scenarios_thief::plant(&mut p, &mut truth, name)
                || crate::scenarios_services::plant(&mut p, &mut truth, name);
            assert!(done, "scenario {name} has no planter");
        }
    }
    truth.malicious_origins = std::mem::take(&mut p.origins);
    // The old single-key scenarios set `first_malicious_time` only: give it per key too.
    if truth.first_malicious_times.is_empty() {
        if let Some(t) = truth.first_malicious_time {
            truth.first_malicious_times = truth.malicious_keys.iter().map(|k| (k.clone(), t)).collect();
        }
    }
    truth
}

// ---------------------------------------------------------------- hard negatives

fn nat_shared(p: &mut P, tr: &mut Truth) {
    let role = p.b.cfn_role(p.a, "nat-shared-worker-InstanceRole");
    let nat = p.b.public_ip(p.r);
    let idx: Vec<usize> =
        (0..10).map(|_| p.inst(&role, Origin::Ip(nat.clone()), UA_GO_V2, CALLS_BATCH, 15.0)).collect();
    tr.keys = p.keys(&idx);
    tr.notes = format!(
        "10 instances of role {} behind one NAT gateway {} (EC2 range of {}), each rotating about hourly; every key is used only from the shared NAT address.",
        role.name, nat, tr.region
    );
}

fn vpce_only(p: &mut P, tr: &mut Truth) {
    let role = p.b.cfn_role(p.a, "private-etl-InstanceRole");
    let vpce = p.b.vpce_id(p.a, p.r, 100);
    let idx: Vec<usize> = (0..4)
        .map(|_| {
            let ip = p.b.alloc.private_ip();
            p.inst(&role, Origin::Vpce { vpce: vpce.clone(), ip }, UA_BOTO_EC2, CALLS_VPCE, 15.0)
        })
        .collect();
    tr.keys = p.keys(&idx);
    tr.notes = format!(
        "4 instances of role {} reach AWS only through VPC endpoint {}: sourceIPAddress is each instance's private 10.x address, vpcEndpointId set on every call.",
        role.name, vpce
    );
}

fn eip_moved(p: &mut P, tr: &mut Truth) {
    let role = p.b.cfn_role(p.a, "prod-bastion-InstanceRole");
    let old = p.b.public_ip(p.r);
    let wi = p.inst(&role, Origin::Ip(old.clone()), UA_GO_V2, CALLS_OPS, 14.0);
    let region = p.region();
    let new_ip = p.b.spare_ip(&region);
    let hi = p.b.iam_user(
        p.a,
        &format!("netops-{}", region),
        &["192.0.2.45"],
        &[UA_CLI_OFFICE],
        CALLS_HUMAN_CLI,
        2.0,
        false,
        Some(p.r),
    );
    let h = p.b.humans[hi].clone();
    let HumanKind::IamUser { key, .. } = &h.kind else { unreachable!() };
    let acct = p.b.ctx.accounts[p.a].clone();
    let alloc = format!("eipalloc-{}", p.rng.hex(17));
    let assoc = format!("eipassoc-{}", p.rng.hex(17));
    let inst = p.b.workloads[wi].session.clone();
    let ua = "aws-cli/2.15.0 Python/3.11.6 Linux/6.5.0-14-generic exe/x86_64.ubuntu.22 prompt/off command/ec2.allocate-address";
    let rec = human_custom(
        &acct,
        &region,
        &h,
        key,
        0,
        p.t - 180,
        "192.0.2.45",
        ua,
        "ec2:AllocateAddress",
        r#"{"domain":"vpc"}"#,
        &format!(r#"{{"publicIp":"{}","allocationId":"{}","domain":"vpc"}}"#, new_ip, alloc),
        &mut p.rng,
    );
    let s = p.stream(p.r);
    p.scripted[s].push((p.t - 180, rec));
    let ua = "aws-cli/2.15.0 Python/3.11.6 Linux/6.5.0-14-generic exe/x86_64.ubuntu.22 prompt/off command/ec2.associate-address";
    let rec = human_custom(
        &acct,
        &region,
        &h,
        key,
        0,
        p.t,
        "192.0.2.45",
        ua,
        "ec2:AssociateAddress",
        &format!(r#"{{"instanceId":"{}","allocationId":"{}","allowReassociation":false}}"#, inst, alloc),
        &format!(r#"{{"requestId":"{}","_return":true,"associationId":"{}"}}"#, p.rng.uuid(), assoc),
        &mut p.rng,
    );
    p.scripted[s].push((p.t, rec));
    p.b.workloads[wi].moved = Some((p.t + 1, Origin::Ip(new_ip.clone())));
    tr.keys = p.keys(&[wi]);
    tr.notes = format!(
        "Instance {} (role {}) uses its public IP {} until IAM user {} allocates {} ({}) at {} and associates it with the instance at {}; from then on every call of the instance comes from {}. The key current at the move is used from both addresses.",
        inst,
        role.name,
        old,
        h.name,
        new_ip,
        alloc,
        ts(p.t - 180),
        ts(p.t),
        new_ip
    );
}

fn service_on_behalf(p: &mut P, tr: &mut Truth) {
    let role = p.b.cfn_role(p.a, "prod-reporting-InstanceRole");
    let ip = p.b.public_ip(p.r);
    let wi = p.inst(&role, Origin::Ip(ip.clone()), UA_GO_V2, CALLS_WEB, 12.0);
    let w = p.b.workloads[wi].clone();
    let cases: &[(&str, &str, &str)] = &[
        ("kms:Decrypt", "s3.amazonaws.com", "s3.amazonaws.com"),
        ("ec2:DescribeSecurityGroups", "cloudformation.amazonaws.com", "cloudformation.amazonaws.com"),
        ("s3:GetBucketLocation", "AWS Internal", "AWS Internal"),
        ("s3:GetBucketLocation", "athena.amazonaws.com", "athena.amazonaws.com"),
        ("kms:GenerateDataKey", "dynamodb.amazonaws.com", "dynamodb.amazonaws.com"),
    ];
    let mut t = w.first + 300;
    let mut n = 0;
    while t < p.b.ctx.end - 60 {
        let (call, host, ua) = cases[n % cases.len()];
        p.script_use(wi, t, call, &Ov { ip: Some(host), ua: Some(ua), invoked_by: Some(host), ..Ov::default() });
        n += 1;
        t += p.rng.range(600, 1500);
    }
    tr.keys = p.keys(&[wi]);
    tr.notes = format!(
        "Instance {} (role {}, own address {}) plus {} calls made with its keys by services on its behalf: invokedBy and sourceIPAddress are s3/cloudformation/athena/dynamodb.amazonaws.com or AWS Internal.",
        w.session, role.name, ip, n
    );
}

fn console_sso(p: &mut P, tr: &mut Truth) {
    let first = p.t - 3600;
    let r = Some(p.r);
    let h1 = p.b.sso_user(
        p.a,
        "sam.okafor@example.com",
        &["198.51.100.70"],
        &[UA_CHROME],
        CALLS_CONSOLE,
        20.0,
        false,
        first,
        r,
    );
    let h2 = p.b.sso_user(
        p.a,
        "ines.duarte@example.com",
        &["192.0.2.90"],
        &[UA_FIREFOX],
        CALLS_CONSOLE,
        20.0,
        false,
        first + 420,
        r,
    );
    let h3 = p.b.sso_user(
        p.a,
        "tom.becker@example.com",
        &["198.51.100.71", "192.0.2.91"],
        &[UA_CLI_DARWIN, UA_CHROME],
        CALLS_HUMAN_CLI,
        20.0,
        false,
        first + 900,
        r,
    );
    let seed = p.b.seed();
    for h in [h1, h2, h3] {
        tr.keys.extend(p.b.humans[h].sso_keys(seed));
    }
    tr.notes = "Three SSO sessions (role AWSReservedSSO_AdministratorAccess_*) using ASIA keys from office addresses 198.51.100.70/71 and 192.0.2.90/91 (outside AWS) with browsers and a laptop aws-cli; not workloads.".to_string();
}

fn lambda_scale(p: &mut P, tr: &mut Truth) {
    let idx: Vec<usize> = (0..50)
        .map(|i| {
            let mut rng = Rng::new(p.rng.next_u64());
            p.b.lambda(p.a, p.r, &format!("orders-fanout-{:02}", i), 8.0, false, &mut rng)
        })
        .collect();
    tr.keys = p.keys(&idx);
    tr.notes = "50 Lambda functions, each getting a new key every 15-45 minutes, used from many varying Lambda egress addresses in the region's EC2 ranges with exec-env/AWS_Lambda_python3.12.".to_string();
}

fn ecs_scale(p: &mut P, tr: &mut Truth) {
    let role = p.b.cfn_role(p.a, "ecs-checkout-TaskRole");
    let nat = p.b.public_ip(p.r);
    let idx: Vec<usize> = (0..100)
        .map(|_| {
            let mut rng = Rng::new(p.rng.next_u64());
            p.b.ecs_task(p.a, p.r, &role, &nat, UA_ECS_GO, 4.0, false, &mut rng)
        })
        .collect();
    tr.keys = p.keys(&idx);
    tr.notes = format!("100 Fargate tasks of one service (role {}) behind NAT {}, rotating hourly.", role.name, nat);
}

fn eks_nodes(p: &mut P, tr: &mut Truth) {
    let hex = p.rng.hex(12);
    let role = p.b.role(p.a, &format!("eks-cluster-NodeInstanceRole-{}", hex));
    let mut idx = Vec::new();
    for _ in 0..3 {
        let ip = p.b.public_ip(p.r);
        let wi = p.inst(&role, Origin::Ip(ip), UA_VPC_CNI, CALLS_VPC_CNI, 40.0);
        let w = &mut p.b.workloads[wi];
        w.dual = true;
        let pod = |ua: &str, weight: f64, v1: bool| Client {
            ua: ua.to_string(),
            calls: CALLS_PODS.to_vec(),
            weight,
            v1,
            origin: None,
        };
        w.clients = vec![
            Client::new(UA_VPC_CNI, CALLS_VPC_CNI, 0.25),
            Client::new(UA_KUBELET, CALLS_KUBELET, 0.15),
            Client::new(UA_SSM, CALLS_SSM_AGENT, 0.1),
            pod(UA_POD_JAVA, 0.2, false),
            pod(UA_POD_PY, 0.15, true),
            pod(UA_POD_GO, 0.15, true),
        ];
        idx.push(wi);
    }
    tr.keys = p.keys(&idx);
    tr.notes = format!(
        "3 EKS nodes (role {}), each from its own public address. Every rotation delivers two keys (IMDSv2 and IMDSv1, same second): node agents (amazon-vpc-cni-k8s, kubelet, SSM) and some pods use the 2.0 key; other pods use the 1.0 key with their own SDKs, all through the node's address.",
        role.name
    );
}

fn trusted_onprem(p: &mut P, tr: &mut Truth) {
    let role = p.b.cfn_role(p.a, "hybrid-sync-InstanceRole");
    let wi = p.inst(&role, Origin::Ip("203.0.113.10".into()), UA_BOTO_EC2, CALLS_BATCH, 12.0);
    tr.keys = p.keys(&[wi]);
    tr.flags = vec!["--trusted-cidr".into(), "203.0.113.0/24".into()];
    tr.notes = format!(
        "Instance {} (role {}) egresses through the on-premises proxy 203.0.113.10 (outside AWS), which the operator trusts with --trusted-cidr 203.0.113.0/24.",
        p.b.workloads[wi].session, role.name
    );
}

// ---------------------------------------------------------------- thefts

fn theft_outside_aws(p: &mut P, tr: &mut Truth) {
    let role = p.b.cfn_role(p.a, "prod-storefront-InstanceRole");
    let ip = p.b.public_ip(p.r);
    let wi = p.inst(&role, Origin::Ip(ip.clone()), UA_GO_V2, CALLS_WEB, 12.0);
    let w = p.b.workloads[wi].clone();
    let k = w.key_index(p.t).unwrap();
    let ov = Ov {
        ip: Some(THIEF_OUTSIDE),
        ua: Some(UA_CLI_DARWIN),
        delivery: Some(Some("1.0")),
        key_index: Some(k),
        ..Ov::default()
    };
    let first = attack(p, wi, p.t, RECON, &ov);
    tr.keys = p.keys(&[wi]);
    tr.malicious_keys = vec![w.key(p.b.seed(), k, 0)];
    tr.first_malicious_time = Some(first);
    tr.notes = format!(
        "Instance {} (role {}) uses its keys from {}. Its key #{} is also used from {} (outside AWS) with a laptop aws-cli and ec2RoleDelivery 1.0: GetCallerIdentity, DescribeInstances, ListBuckets, GetSecretValue...",
        w.session, role.name, ip, k, THIEF_OUTSIDE
    );
}

fn theft_other_aws(p: &mut P, tr: &mut Truth) {
    let role = p.b.cfn_role(p.a, "prod-inventory-InstanceRole");
    let ip = p.b.public_ip(p.r);
    let wi = p.inst(&role, Origin::Ip(ip.clone()), UA_JAVA, CALLS_OPS, 12.0);
    let w = p.b.workloads[wi].clone();
    let here = p.region();
    let other =
        p.b.ctx
            .regions
            .iter()
            .find(|r| **r != here)
            .cloned()
            .unwrap_or_else(|| if here == "ap-southeast-2" { "us-west-2".into() } else { "ap-southeast-2".into() });
    let thief = p.b.spare_ip(&other);
    let k = w.key_index(p.t).unwrap();
    let steps: &[(i64, &str)] = &[
        (0, "ec2:DescribeInstances"),
        (33, "s3:ListBuckets"),
        (71, "ec2:DescribeSecurityGroups"),
        (140, "s3:GetBucketLocation"),
        (260, "ec2:DescribeVolumes"),
    ];
    let ov = Ov { ip: Some(&thief), ua: Some(UA_CLI_EC2_HOST), key_index: Some(k), ..Ov::default() };
    let first = attack(p, wi, p.t, steps, &ov);
    tr.keys = p.keys(&[wi]);
    tr.malicious_keys = vec![w.key(p.b.seed(), k, 0)];
    tr.first_malicious_time = Some(first);
    tr.notes = format!(
        "Instance {} in {} (role {}) uses its keys from {}. Its key #{} is also used from {}, an EC2 address of {} (inside AWS, another region), calling {}'s ec2 and s3 with aws-cli.",
        w.session, here, role.name, ip, k, thief, other, here
    );
}

fn theft_attacker_first(p: &mut P, tr: &mut Truth) {
    let role = p.b.cfn_role(p.a, "prod-imgproc-InstanceRole");
    let ip = p.b.public_ip(p.r);
    let wi = p.inst(&role, Origin::Ip(ip.clone()), UA_GO_V2, CALLS_WEB, 12.0);
    {
        // The instance starts at T; the attacker (SSRF on boot) uses its first key before it does.
        let w = &mut p.b.workloads[wi];
        w.first = p.t;
        w.quiet_until = p.t + 150;
        w.global_sts = 0.5;
    }
    let w = p.b.workloads[wi].clone();
    let steps: &[(i64, &str)] = &[
        (4, "sts:GetCallerIdentity"),
        (19, "ec2:DescribeInstances"),
        (38, "s3:ListBuckets"),
        (61, "secretsmanager:GetSecretValue"),
        (95, "ssm:GetParameters"),
    ];
    let ov = Ov { ip: Some(THIEF_FIRST), ua: Some(UA_CLI_LINUX), key_index: Some(0), ..Ov::default() };
    let first = attack(p, wi, p.t, steps, &ov);
    tr.keys = p.keys(&[wi]);
    tr.malicious_keys = vec![w.key(p.b.seed(), 0, 0)];
    tr.first_malicious_time = Some(first);
    tr.notes = format!(
        "Instance {} (role {}) launches at {}; its first key is used from {} (outside AWS, aws-cli, ec2RoleDelivery 2.0) within 100 s, before the instance makes any call. From {} on the instance uses that key and all later ones from its own address {}.",
        w.session,
        role.name,
        ts(p.t),
        THIEF_FIRST,
        ts(p.t + 150),
        ip
    );
}

fn theft_lambda(p: &mut P, tr: &mut Truth) {
    let mut rng = Rng::new(p.rng.next_u64());
    let wi = p.b.lambda(p.a, p.r, "payments-webhook-handler", 12.0, false, &mut rng);
    let w = p.b.workloads[wi].clone();
    let k = w.key_index(p.t).unwrap();
    let steps: &[(i64, &str)] = &[
        (0, "sts:GetCallerIdentity"),
        (27, "dynamodb:DescribeTable"),
        (64, "s3:ListBuckets"),
        (120, "secretsmanager:GetSecretValue"),
        (211, "ssm:GetParameters"),
    ];
    let ov = Ov { ip: Some(THIEF_LAMBDA), ua: Some(UA_CLI_DARWIN), key_index: Some(k), ..Ov::default() };
    let first = attack(p, wi, p.t, steps, &ov);
    tr.keys = p.keys(&[wi]);
    tr.malicious_keys = vec![w.key(p.b.seed(), k, 0)];
    tr.first_malicious_time = Some(first);
    tr.notes = format!(
        "Lambda function {} (role {}); its key #{} is also used from {} (outside AWS) with a laptop aws-cli, no exec-env.",
        w.session, w.role.name, k, THIEF_LAMBDA
    );
}

fn theft_ecs(p: &mut P, tr: &mut Truth) {
    let role = p.b.cfn_role(p.a, "ecs-billing-TaskRole");
    let nat = p.b.public_ip(p.r);
    let idx: Vec<usize> = (0..3)
        .map(|_| {
            let mut rng = Rng::new(p.rng.next_u64());
            p.b.ecs_task(p.a, p.r, &role, &nat, UA_ECS_PY, 10.0, false, &mut rng)
        })
        .collect();
    let wi = idx[0];
    let w = p.b.workloads[wi].clone();
    let k = w.key_index(p.t).unwrap();
    let steps: &[(i64, &str)] = &[
        (0, "sts:GetCallerIdentity"),
        (22, "sqs:ListQueues"),
        (58, "secretsmanager:GetSecretValue"),
        (131, "ecr:GetAuthorizationToken"),
        (190, "s3:ListBuckets"),
    ];
    let ov = Ov { ip: Some(THIEF_ECS), ua: Some(UA_BOTO_LAPTOP), key_index: Some(k), ..Ov::default() };
    let first = attack(p, wi, p.t, steps, &ov);
    tr.keys = p.keys(&idx);
    tr.malicious_keys = vec![w.key(p.b.seed(), k, 0)];
    tr.first_malicious_time = Some(first);
    tr.notes = format!(
        "ECS task {} (role {}, 3 tasks behind NAT {}); its key #{} is also used from {} (outside AWS) with boto3 on macOS, no exec-env.",
        w.session, role.name, nat, k, THIEF_ECS
    );
}

fn theft_behind_nat(p: &mut P, tr: &mut Truth) {
    let role = p.b.cfn_role(p.a, "prod-checkout-InstanceRole");
    let nat = p.b.public_ip(p.r);
    let idx: Vec<usize> = (0..3).map(|_| p.inst(&role, Origin::Ip(nat.clone()), UA_GO_V2, CALLS_WEB, 12.0)).collect();
    let wi = idx[0];
    let k = p.b.workloads[wi].key_index(p.t).unwrap() + 1;
    p.b.workloads[wi].extra_v1.push(k);
    let w = p.b.workloads[wi].clone();
    let d = w.delivery_time(k);
    let ov = Ov {
        ip: Some(&nat),
        ua: Some(UA_CLI_DARWIN),
        delivery: Some(Some("1.0")),
        key_variant: Some(1),
        key_index: Some(k),
        ..Ov::default()
    };
    let first = attack(p, wi, d + 30, RECON, &ov);
    tr.keys = p.keys(&idx);
    tr.malicious_keys = vec![w.key(p.b.seed(), k, 1)];
    tr.first_malicious_time = Some(first);
    tr.notes = format!(
        "3 instances of role {} behind NAT {}. At {} instance {} gets two keys in the same second (IMDSv2 and IMDSv1); the IMDSv1 key is used only by a thief behind the same NAT with a laptop aws-cli (Darwin) and ec2RoleDelivery 1.0, while the instance keeps using 2.0 keys with its Go SDK.",
        role.name,
        nat,
        ts(d),
        w.session
    );
}
