//! Credentials AWS services deliver for a role (CodeBuild, Glue, SageMaker, Batch, EMR, App Runner,
//! Step Functions, EKS Pod Identity, IRSA): each used from the service's own addresses (benign,
//! `svc_*`) and, in `theft_svc_*`, one of its keys also used from a laptop outside AWS.
//!
//! Record shapes follow AWS's documentation where it says them (trust principals, `AWSService`
//! callers, `AssumeRoleWithWebIdentity` by a `WebIdentityUser`). Session names of CodeBuild
//! (`AWSCodeBuild-<build uuid>`), Glue (`GlueJobRunnerSession`), SageMaker (`SageMaker`) and Step
//! Functions (32 letters) match public error messages quoting them; App Runner's session names and
//! the services' user agents are best knowledge, not checked against real trails: notes say so.
use crate::emit::Ov;
use crate::population::Spec;
use crate::rng::Rng;
use crate::scenarios::{P, RECON, attack};
use crate::truth::Truth;
use crate::world::*;

/// Scenario names, in canonical order (after `scenarios_thief::NAMES`).
pub const NAMES: &[&str] = &[
    "svc_codebuild",
    "svc_glue",
    "svc_sagemaker",
    "svc_batch",
    "svc_emr",
    "svc_apprunner",
    "svc_stepfunctions",
    "svc_pod_identity",
    "svc_irsa",
    "theft_svc_codebuild",
    "theft_svc_glue",
    "theft_svc_sagemaker",
    "theft_svc_batch",
    "theft_svc_emr",
    "theft_svc_apprunner",
    "theft_svc_stepfunctions",
    "theft_svc_pod_identity",
    "theft_svc_irsa",
];

/// Plants `name` if it is one of this module's; false otherwise.
pub fn plant(p: &mut P, tr: &mut Truth, name: &str) -> bool {
    let (theft, svc) = match (name.strip_prefix("theft_svc_"), name.strip_prefix("svc_")) {
        (Some(s), _) => (true, s),
        (None, Some(s)) => (false, s),
        _ => return false,
    };
    let (idx, how) = match svc {
        "codebuild" => codebuild(p),
        "glue" => glue(p),
        "sagemaker" => sagemaker(p),
        "batch" => batch(p),
        "emr" => emr(p),
        "apprunner" => apprunner(p),
        "stepfunctions" => stepfunctions(p),
        "pod_identity" => pod_identity(p),
        "irsa" => irsa(p),
        _ => return false,
    };
    tr.keys = p.keys(&idx);
    tr.notes = how;
    if theft {
        // The workload whose key is current at T (batch jobs and runners live briefly).
        let wi = *idx.iter().find(|&&i| p.b.workloads[i].key_index(p.t).is_some()).expect("a key at T");
        let w = p.b.workloads[wi].clone();
        let k = w.key_index(p.t).expect("key at T");
        let laptop = "45.33.34.77";
        let ov = Ov { ip: Some(laptop), ua: Some(UA_CLI_DARWIN), key_index: Some(k), ..Ov::default() };
        let first = attack(p, wi, p.t, RECON, &ov);
        tr.mal(w.key(p.b.seed(), k, 0), first);
        tr.notes.push_str(&format!(
            " Theft: key #{} (session {}) is also used from {} (outside AWS) with a laptop aws-cli: recon, GetSecretValue.",
            k,
            w.session_for(p.b.seed(), k),
            laptop
        ));
    }
    true
}

fn add(p: &mut P, kind: Kind, role: &Role, origin: Origin, ua: &str, calls: &[&'static str], rot: i64) -> usize {
    let mut rng = Rng::new(p.rng.next_u64());
    let first = p.b.ctx.start + rng.range(0, 600);
    p.b.add(Spec {
        kind,
        acct: p.a,
        region: p.r,
        role: role.clone(),
        origin,
        clients: vec![Client::new(ua, calls, 1.0)],
        rate: 3600.0 / rot as f64 * 4.0,
        scaled: false,
        first,
        rot,
        global_sts: 0.0,
    })
}

fn delegated(
    p: &mut P,
    role: &Role,
    issuer: &str,
    session: &str,
    origin: Origin,
    ua: &str,
    calls: &[&'static str],
    rot: i64,
) -> usize {
    let wi = add(p, Kind::Delegated, role, origin, ua, calls, rot);
    let w = &mut p.b.workloads[wi];
    w.issuer = Some(issuer.to_string());
    if session.contains('{') {
        w.per_key_session = Some(session.to_string());
    } else {
        w.session = session.to_string();
    }
    wi
}

const UA_CODEBUILD: &str =
    "aws-cli/2.15.30 Python/3.11.8 Linux/5.10.219-208.866.amzn2.x86_64 exe/x86_64.amzn.2 prompt/off command/s3.cp";
const UA_GLUE: &str = "aws-sdk-java/1.12.671 Linux/5.10.219-208.866.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/25.412-b08 java/1.8.0_412 scala/2.12.18 vendor/Amazon.com_Inc. cfg/retry-mode/standard";
const UA_SAGEMAKER: &str = "Boto3/1.34.101 md/Botocore#1.34.101 ua/2.0 os/linux#5.10.219-208.866.amzn2.x86_64 md/arch#x86_64 lang/python#3.10.14 md/pyimpl#CPython cfg/retry-mode#standard Botocore/1.34.101";
const UA_BATCH: &str = "Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#5.10 md/arch#x86_64 lang/python#3.12.1 exec-env/AWS_ECS_EC2 cfg/retry-mode#legacy Botocore/1.34.0";
const UA_EMR: &str = "aws-sdk-java/1.12.569 Linux/5.10.219-208.866.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.11+9-LTS java/17.0.11 scala/2.12.17 vendor/Amazon.com_Inc. cfg/retry-mode/standard";
const CALLS_BUILD: &[&str] =
    &["s3:GetBucketLocation", "ecr:GetAuthorizationToken", "logs:CreateLogStream", "ssm:GetParameters"];
const CALLS_DATA: &[&str] = &["s3:GetBucketLocation", "s3:ListBuckets", "kms:GenerateDataKey", "logs:CreateLogStream"];
const CALLS_FLOW: &[&str] = &["dynamodb:DescribeTable", "sqs:GetQueueUrl", "lambda:GetFunction"];

fn codebuild(p: &mut P) -> (Vec<usize>, String) {
    let role = p.b.cfn_role(p.a, "codebuild-app-ServiceRole");
    let wi = delegated(
        p,
        &role,
        "codebuild.amazonaws.com",
        "AWSCodeBuild-{uuid}",
        Origin::PerKey { pool: 0, n: 1 },
        UA_CODEBUILD,
        CALLS_BUILD,
        1200,
    );
    (
        vec![wi],
        format!(
            "CodeBuild project with service role {}: a build every 20 minutes, each a fresh AssumeRole by codebuild.amazonaws.com (session AWSCodeBuild-<build uuid>) and a fresh EC2 address of the region for its container. Unverified: the user agent.",
            role.name
        ),
    )
}

fn glue(p: &mut P) -> (Vec<usize>, String) {
    let role = p.b.cfn_role(p.a, "glue-etl-JobRole");
    let wi = delegated(
        p,
        &role,
        "glue.amazonaws.com",
        "GlueJobRunnerSession",
        Origin::PerKey { pool: 0, n: 4 },
        UA_GLUE,
        CALLS_DATA,
        3600,
    );
    (
        vec![wi],
        format!(
            "Glue job with role {}: hourly AssumeRole by glue.amazonaws.com (session GlueJobRunnerSession), used by the job's Spark executors from 4 EC2 addresses per key (Java SDK). Unverified: the user agent.",
            role.name
        ),
    )
}

fn sagemaker(p: &mut P) -> (Vec<usize>, String) {
    let role = p.b.cfn_role(p.a, "sagemaker-ExecutionRole");
    let ip = p.b.public_ip(p.r);
    let wi = delegated(
        p,
        &role,
        "sagemaker.amazonaws.com",
        "SageMaker",
        Origin::Ip(ip.clone()),
        UA_SAGEMAKER,
        CALLS_DATA,
        3600,
    );
    (
        vec![wi],
        format!(
            "SageMaker notebook instance with execution role {}: hourly AssumeRole by sagemaker.amazonaws.com (session SageMaker), used by boto3 from the notebook's address {}.",
            role.name, ip
        ),
    )
}

fn batch(p: &mut P) -> (Vec<usize>, String) {
    let role = p.b.cfn_role(p.a, "batch-nightly-JobRole");
    let nat = p.b.public_ip(p.r);
    // Jobs start inside the corpus (their delivery records are in it).
    let t0 = (p.t - 3 * 3600 + 600).max(p.b.ctx.start + 300);
    let mut idx = Vec::new();
    for j in 0..10 {
        let wi = add(p, Kind::Ecs, &role, Origin::Ip(nat.clone()), UA_BATCH, CALLS_DATA, 3600);
        let w = &mut p.b.workloads[wi];
        w.first = t0 + j * 1500;
        w.end = w.first + 1800;
        w.rate = 20.0;
        idx.push(wi);
    }
    (
        idx,
        format!(
            "10 AWS Batch jobs (ECS on EC2) with job role {}, one every 25 minutes, each lasting 30 minutes with one key delivered by ecs-tasks.amazonaws.com (session = task id), all behind NAT {} with exec-env/AWS_ECS_EC2.",
            role.name, nat
        ),
    )
}

fn emr(p: &mut P) -> (Vec<usize>, String) {
    let role = p.b.role(p.a, "EMR_EC2_DefaultRole");
    let nat = p.b.public_ip(p.r);
    let idx: Vec<usize> = (0..5).map(|_| p.inst(&role, Origin::Ip(nat.clone()), UA_EMR, CALLS_DATA, 20.0)).collect();
    (
        idx,
        format!(
            "EMR cluster of 5 nodes with instance profile role {} (keys delivered hourly by ec2.amazonaws.com, session = instance id), EMRFS reading S3 with the Java SDK, all behind NAT {}.",
            role.name, nat
        ),
    )
}

fn apprunner(p: &mut P) -> (Vec<usize>, String) {
    let role = p.b.cfn_role(p.a, "apprunner-web-InstanceRole");
    let wi = delegated(
        p,
        &role,
        "tasks.apprunner.amazonaws.com",
        "{hex}",
        Origin::PerKey { pool: 0, n: 2 },
        UA_NODE,
        CALLS_FLOW,
        3600,
    );
    (
        vec![wi],
        format!(
            "App Runner service with instance role {}: hourly AssumeRole by tasks.apprunner.amazonaws.com, used by the Node.js SDK from 2 EC2 addresses per key. Unverified: App Runner's session names (a random id here) and egress addresses.",
            role.name
        ),
    )
}

fn stepfunctions(p: &mut P) -> (Vec<usize>, String) {
    let role = p.b.cfn_role(p.a, "orders-StateMachineRole");
    let wi = p.b.service(p.a, p.r, role.clone(), "", "states.amazonaws.com", CALLS_FLOW, 20.0, false);
    p.b.workloads[wi].per_key_session = Some("{letters}".into());
    (
        vec![wi],
        format!(
            "Step Functions state machine with role {}: keys delivered hourly by states.amazonaws.com (session: 32 random letters, as in public error messages), every call made by the service itself (sourceIPAddress, userAgent and invokedBy states.amazonaws.com).",
            role.name
        ),
    )
}

fn pod_identity(p: &mut P) -> (Vec<usize>, String) {
    let role = p.b.cfn_role(p.a, "payments-api-PodRole");
    let nat = p.b.public_ip(p.r);
    let idx: Vec<usize> = (0..3)
        .map(|j| {
            let session = format!("eks-payments-payments-{}-{{uuid}}", ["a", "b", "c"][j]);
            delegated(
                p,
                &role,
                "pods.eks.amazonaws.com",
                &session,
                Origin::Ip(nat.clone()),
                UA_POD_PY,
                CALLS_DATA,
                3600,
            )
        })
        .collect();
    (
        idx,
        format!(
            "3 pods of an EKS Pod Identity association (role {}, cluster payments): hourly AssumeRole by pods.eks.amazonaws.com with session tags (session eks-<cluster>-<pod>-<uuid>), used with boto3 from the nodes' NAT {}.",
            role.name, nat
        ),
    )
}

fn irsa(p: &mut P) -> (Vec<usize>, String) {
    let role = p.b.cfn_role(p.a, "external-dns-IrsaRole");
    let nat = p.b.public_ip(p.r);
    let provider = format!("oidc.eks.{}.amazonaws.com/id/{}", p.region(), p.rng.hex(32).to_uppercase());
    let subject = "system:serviceaccount:kube-system:external-dns".to_string();
    let idx: Vec<usize> = (0..2)
        .map(|_| {
            let wi = add(p, Kind::Delegated, &role, Origin::Ip(nat.clone()), UA_POD_PY, CALLS_FLOW, 3600);
            let w = &mut p.b.workloads[wi];
            w.per_key_session = Some("botocore-session-{epoch}".into());
            w.web_identity = Some((provider.clone(), subject.clone()));
            wi
        })
        .collect();
    (
        idx,
        format!(
            "2 pods with IRSA (role {}, service account {}): each hour the pod's SDK calls AssumeRoleWithWebIdentity as a WebIdentityUser of {} from the nodes' NAT {} (session botocore-session-<epoch>), then uses the key from there with boto3.",
            role.name, subject, provider, nat
        ),
    )
}
