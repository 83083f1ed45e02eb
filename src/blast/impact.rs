//! What the chain did: calls by service, resources touched, and the actions that outlive the session.

use super::{ChainKey, ReportEvent};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Kinds of lasting impact, in the order a responder deals with them.
#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// New ways back in: users, access keys, login profiles, roles, policies, key pairs, functions.
    Persistence,
    /// Blinding the defenders: trails, GuardDuty, Config, flow logs, log groups stopped or deleted.
    DefenseEvasion,
    /// Data opened to others: public or shared snapshots, images, buckets, ACLs, security group ingress.
    Exposure,
    /// Reading sensitive data: objects, secrets, parameters, decryption, snapshot copies.
    DataAccess,
    /// Resources that cost money, typically for mining: instances, clusters, training jobs, model calls.
    Cost,
}

impl Category {
    /// The human-readable name used in rendered reports (JSON uses the `snake_case` variant name).
    pub fn label(self) -> &'static str {
        match self {
            Category::Persistence => "persistence",
            Category::DefenseEvasion => "defense evasion",
            Category::Exposure => "exposure",
            Category::DataAccess => "data access",
            Category::Cost => "cost",
        }
    }
}

/// The kind of lasting impact of a call, if it has one.
pub fn classify(event_name: &str, req: Option<&Value>) -> Option<Category> {
    use Category::*;
    Some(match event_name {
        "CreateUser"
        | "CreateAccessKey"
        | "CreateLoginProfile"
        | "UpdateLoginProfile"
        | "CreateRole"
        | "AttachUserPolicy"
        | "AttachRolePolicy"
        | "AttachGroupPolicy"
        | "PutUserPolicy"
        | "PutRolePolicy"
        | "PutGroupPolicy"
        | "CreatePolicy"
        | "CreatePolicyVersion"
        | "SetDefaultPolicyVersion"
        | "UpdateAssumeRolePolicy"
        | "AddUserToGroup"
        | "CreateVirtualMFADevice"
        | "EnableMFADevice"
        | "AddRoleToInstanceProfile"
        | "CreateInstanceProfile"
        | "ImportKeyPair"
        | "CreateKeyPair"
        | "CreateServiceSpecificCredential"
        | "UploadSSHPublicKey"
        | "CreateOpenIDConnectProvider"
        | "CreateSAMLProvider"
        | "UpdateFunctionCode"
        | "CreateFunction"
        | "CreateTrustAnchor"
        | "CreateProfile" => Persistence,
        "StopLogging"
        | "DeleteTrail"
        | "UpdateTrail"
        | "PutEventSelectors"
        | "PutInsightSelectors"
        | "DeleteDetector"
        | "UpdateDetector"
        | "DisassociateFromMasterAccount"
        | "CreateFilter"
        | "DeleteFlowLogs"
        | "StopConfigurationRecorder"
        | "DeleteConfigurationRecorder"
        | "DeleteConfigRule"
        | "DisableSecurityHub"
        | "DeleteLogGroup"
        | "DeleteLogStream"
        | "PutRetentionPolicy"
        | "DeleteResolverQueryLogConfig"
        | "DisableEbsEncryptionByDefault" => DefenseEvasion,
        "ModifySnapshotAttribute"
        | "ModifyImageAttribute"
        | "ModifyDBSnapshotAttribute"
        | "ModifyDBClusterSnapshotAttribute"
        | "PutBucketPolicy"
        | "PutBucketAcl"
        | "PutObjectAcl"
        | "DeletePublicAccessBlock"
        | "DeleteBucketPublicAccessBlock"
        | "PutBucketPublicAccessBlock"
        | "AuthorizeSecurityGroupIngress"
        | "SharedSnapshotCopyInitiated"
        | "PutResourcePolicy"
        | "AddPermission" => Exposure,
        "GetObject"
        | "GetSecretValue"
        | "BatchGetSecretValue"
        | "GetPasswordData"
        | "Decrypt"
        | "GetParameter"
        | "GetParameters"
        | "GetParametersByPath"
        | "CopyObject"
        | "CopySnapshot"
        | "CreateSnapshot"
        | "GetCredentialReport"
        | "GetKeyPair"
        | "DownloadDBLogFilePortion" => DataAccess,
        "RunInstances"
        | "CreateCluster"
        | "CreateNodegroup"
        | "RequestSpotInstances"
        | "RequestSpotFleet"
        | "CreateFleet"
        | "CreateTrainingJob"
        | "CreateNotebookInstance"
        | "InvokeModel"
        | "StartInstances" => Cost,
        "UpdateAccessKey" if req.and_then(|r| r.get("status")).and_then(Value::as_str) == Some("Active") => Persistence,
        _ => return None,
    })
}

/// One lasting action.
#[derive(Serialize, Clone, Debug)]
pub struct Impact {
    /// The kind of lasting impact.
    pub category: Category,
    /// When the call was made (`YYYY-MM-DDTHH:MM:SSZ`, UTC); `None` when the event had no readable time.
    pub event_time: Option<String>,
    /// The API action (`eventName`).
    pub event_name: String,
    /// `eventID` of the call, to find it in the raw logs.
    pub event_id: String,
    /// The chain key that made the call.
    pub access_key_id: String,
    /// What it acted on, from request parameters (user, key, bucket, snapshot, instance type...).
    pub detail: String,
    /// `null` when it succeeded; failed attempts are listed too, as intent.
    pub error_code: Option<String>,
    /// Where the call came from (`sourceIPAddress`).
    pub source_ip: String,
    /// Made from an origin detection flagged (the attacker's), as opposed to the workload's own use.
    pub from_flagged_origin: bool,
}

fn pick<'v>(v: Option<&'v Value>, paths: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let Some(v) = v else { return out };
    for p in paths {
        let mut cur = v;
        let mut ok = true;
        for seg in p.split('.') {
            match cur.get(seg) {
                Some(n) => cur = n,
                None => {
                    ok = false;
                    break;
                }
            }
        }
        if ok {
            match cur {
                Value::String(s) if !s.is_empty() => out.push(format!("{}={s}", p.rsplit('.').next().unwrap_or(p))),
                Value::Number(n) => out.push(format!("{}={n}", p.rsplit('.').next().unwrap_or(p))),
                Value::Bool(b) => out.push(format!("{}={b}", p.rsplit('.').next().unwrap_or(p))),
                Value::Array(a) if !a.is_empty() => {
                    out.push(format!("{}={}", p.rsplit('.').next().unwrap_or(p), Value::Array(a.clone())))
                }
                Value::Object(_) => out.push(format!("{}={cur}", p.rsplit('.').next().unwrap_or(p))),
                _ => {}
            }
        }
    }
    out
}

const DETAIL_PATHS: &[&str] = &[
    "userName",
    "roleName",
    "groupName",
    "policyArn",
    "policyName",
    "bucketName",
    "key",
    "secretId",
    "instanceId",
    "snapshotId",
    "imageId",
    "name",
    "trailName",
    "detectorId",
    "keyId",
    "instanceType",
    "instancesSet.items",
    "createVolumePermission.add",
    "launchPermission.add",
    "attributeName",
    "valuesToAdd",
    "functionName",
    "ipPermissions",
];

const RESPONSE_PATHS: &[&str] = &["accessKey.accessKeyId", "user.arn", "role.arn", "instancesSet.items"];

fn instance_types(req: Option<&Value>) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(r) = req {
        if let Some(t) = r.get("instanceType").and_then(Value::as_str) {
            out.push(t.to_owned());
        }
        if let Some(items) = r.get("instancesSet").and_then(|s| s.get("items")).and_then(Value::as_array) {
            for it in items {
                if let Some(t) = it.get("instanceType").and_then(Value::as_str) {
                    out.push(t.to_owned());
                }
            }
        }
    }
    out
}

/// Calls of one API by the chain, by outcome.
#[derive(Serialize, Clone, Debug, Default)]
pub struct CallCount {
    /// The service endpoint (`eventSource`, e.g. `iam.amazonaws.com`).
    pub event_source: String,
    /// The API action (`eventName`).
    pub event_name: String,
    /// Calls that succeeded (no `errorCode`).
    pub ok: u64,
    /// Calls that failed (any `errorCode`, denials included).
    pub errors: u64,
}

/// First and last event of the chain.
#[derive(Serialize, Clone, Debug)]
pub struct Window {
    /// Time of the chain's first event (`YYYY-MM-DDTHH:MM:SSZ`, UTC); `None` when no event had a time.
    pub start: Option<String>,
    /// Time of the chain's last event (`YYYY-MM-DDTHH:MM:SSZ`, UTC).
    pub end: Option<String>,
}

/// One source address the chain called from.
#[derive(Serialize, Clone, Debug)]
pub struct Origin {
    /// The address (`sourceIPAddress`), or a service name for calls AWS made for the chain.
    pub source_ip: String,
    /// Chain events from this address.
    pub events: u64,
    /// Flagged by detection (an attacker's origin).
    pub flagged: bool,
    /// The first five distinct user agents from this address (attacker-controlled; escape when rendering).
    pub user_agents: Vec<String>,
}

/// The blast-radius report. Field names are stable.
#[derive(Serialize, Clone, Debug)]
pub struct BlastReport {
    /// The compromised keys and every key minted from them, breadth-first.
    pub keys: Vec<ChainKey>,
    /// The keys that minted the report's own keys, nearest first: where the compromise came from.
    /// Their calls are not part of the report.
    pub upstream: Vec<ChainKey>,
    /// Time span of the chain's events.
    pub window: Window,
    /// All events of the chain's keys, by time, secrets redacted.
    pub events: Vec<ReportEvent>,
    /// Calls per service and action, with outcomes.
    pub calls: Vec<CallCount>,
    /// Regions the chain called (`awsRegion`), sorted.
    pub regions: Vec<String>,
    /// Addresses the chain called from, flagged or not.
    pub origins: Vec<Origin>,
    /// Resource ARNs from `resources[]` and names picked from request parameters (buckets, secrets,
    /// users, roles, snapshots, images, instances, functions), sorted.
    pub resources: Vec<String>,
    /// Calls with a lasting effect, by category then time; failed attempts included.
    pub impact: Vec<Impact>,
    /// `AccessDenied`-class errors: many of them are reconnaissance.
    pub denied_calls: u64,
    /// Instance types of successful cost-category launches (`RunInstances` and the like), for spotting mining.
    pub instance_types_launched: Vec<String>,
    /// The responder's checklist, one step per line, derived from the keys and the impact.
    pub remediation: Vec<String>,
}

fn is_denied(code: &str) -> bool {
    code.contains("AccessDenied") || code.contains("UnauthorizedOperation") || code == "Client.UnauthorizedOperation"
}

/// Builds the report from the chain and its events (`flagged_origins`: detection's, as
/// [`crate::detect::Finding::origins`] names them).
pub fn build(
    mut keys: Vec<ChainKey>,
    upstream: Vec<ChainKey>,
    mut events: Vec<ReportEvent>,
    flagged_origins: &[String],
) -> BlastReport {
    events.sort_by(|a, b| (a.time_ms, &a.event_id).cmp(&(b.time_ms, &b.event_id)));
    // Roots name no role: take it from their own events (arn:aws:sts::<acct>:assumed-role/<role>/<session>),
    // the first of each key's, found in one pass however many roots there are.
    let mut assumed: HashMap<&str, &ReportEvent> = HashMap::new();
    for e in events.iter().filter(|e| e.principal_arn.contains(":assumed-role/")) {
        assumed.entry(e.access_key_id.as_str()).or_insert(e);
    }
    for k in keys.iter_mut().filter(|k| k.role_arn.is_none()) {
        if let Some(e) = assumed.get(k.access_key_id.as_str()) {
            let mut parts = e.principal_arn.split(":assumed-role/");
            let acct = parts.next().and_then(|p| p.rsplit(':').next()).unwrap_or("");
            if let Some((role, session)) = parts.next().and_then(|r| r.split_once('/')) {
                k.role_arn = Some(format!("arn:aws:iam::{acct}:role/{role}"));
                k.session_name = Some(session.to_owned());
            }
        }
    }
    let window = Window {
        start: events.iter().find_map(|e| e.event_time.clone()),
        end: events.iter().rev().find_map(|e| e.event_time.clone()),
    };
    let flagged: HashSet<&str> = flagged_origins.iter().map(String::as_str).collect();
    let mut calls: BTreeMap<(String, String), CallCount> = BTreeMap::new();
    let mut regions = std::collections::BTreeSet::new();
    let mut resources = std::collections::BTreeSet::new();
    let mut origins: BTreeMap<String, Origin> = BTreeMap::new();
    let mut impact = Vec::new();
    let mut denied = 0;
    let mut types = Vec::new();
    for e in &events {
        let c = calls.entry((e.event_source.clone(), e.event_name.clone())).or_insert_with(|| CallCount {
            event_source: e.event_source.clone(),
            event_name: e.event_name.clone(),
            ..CallCount::default()
        });
        match &e.error_code {
            Some(code) => {
                c.errors += 1;
                if is_denied(code) {
                    denied += 1;
                }
            }
            None => c.ok += 1,
        }
        if !e.region.is_empty() {
            regions.insert(e.region.clone());
        }
        resources.extend(e.resources.iter().cloned());
        let o = origins.entry(e.source_ip.clone()).or_insert_with(|| Origin {
            source_ip: e.source_ip.clone(),
            events: 0,
            flagged: flagged.contains(e.source_ip.as_str()),
            user_agents: Vec::new(),
        });
        o.events += 1;
        if o.user_agents.len() < 5 && !o.user_agents.contains(&e.user_agent) {
            o.user_agents.push(e.user_agent.clone());
        }
        let req = e.request_parameters.as_ref();
        for d in pick(
            req,
            &["bucketName", "secretId", "userName", "roleName", "snapshotId", "imageId", "instanceId", "functionName"],
        ) {
            resources.insert(d);
        }
        if let Some(cat) = classify(&e.event_name, req) {
            let mut detail = pick(req, DETAIL_PATHS);
            if e.error_code.is_none() {
                detail.extend(
                    pick(e.response_elements.as_ref(), RESPONSE_PATHS).into_iter().map(|d| format!("created {d}")),
                );
            }
            if cat == Category::Cost && e.error_code.is_none() {
                types.extend(instance_types(req));
            }
            let flagged = origins.get(&e.source_ip).is_some_and(|o| o.flagged);
            impact.push(Impact {
                source_ip: e.source_ip.clone(),
                from_flagged_origin: flagged,
                category: cat,
                event_time: e.event_time.clone(),
                event_name: e.event_name.clone(),
                event_id: e.event_id.clone(),
                access_key_id: e.access_key_id.clone(),
                detail: detail.join(", "),
                error_code: e.error_code.clone(),
            });
        }
    }
    impact.sort_by(|a, b| (a.category, &a.event_time, &a.event_id).cmp(&(b.category, &b.event_time, &b.event_id)));
    let remediation = super::remediation::steps(&keys, &upstream, &events, &impact);
    BlastReport {
        keys,
        upstream,
        window,
        calls: calls.into_values().collect(),
        regions: regions.into_iter().collect(),
        origins: origins.into_values().collect(),
        resources: resources.into_iter().collect(),
        impact,
        denied_calls: denied,
        instance_types_launched: types,
        remediation,
        events,
    }
}
