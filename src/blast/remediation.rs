//! The remediation checklist: what to do follows what each key is (an IAM user's long-term key, a
//! key created by the attacker, a role session of an instance, a function, a task, or a session a
//! user's key minted) and what the chain did.
//!
//! Names in commands come from the logs: they go through [`shell`] quoting.

use super::impact::Impact;
use super::{ChainKey, ReportEvent};
use crate::report::escape::shell;
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// What the checklist looks up, indexed once: a chain thousands of keys deep, or a key that made
/// thousands of calls, must not make each step search every key and event.
struct Lookup<'a> {
    /// Chain keys, then upstream keys, by id (the chain's own first).
    keys: HashMap<&'a str, &'a ChainKey>,
    /// Ids of the chain's own keys.
    chain: HashSet<&'a str>,
    /// Each key's first event, and the first IAM user its events name.
    first: HashMap<&'a str, &'a ReportEvent>,
    user: HashMap<&'a str, &'a str>,
    /// Events by id (the first of each id).
    by_id: HashMap<&'a str, &'a ReportEvent>,
}

impl<'a> Lookup<'a> {
    fn new(keys: &'a [ChainKey], upstream: &'a [ChainKey], events: &'a [ReportEvent]) -> Self {
        let mut l = Lookup {
            keys: HashMap::new(),
            chain: keys.iter().map(|k| k.access_key_id.as_str()).collect(),
            first: HashMap::new(),
            user: HashMap::new(),
            by_id: HashMap::new(),
        };
        for k in keys.iter().chain(upstream) {
            l.keys.entry(k.access_key_id.as_str()).or_insert(k);
        }
        for e in events {
            l.first.entry(e.access_key_id.as_str()).or_insert(e);
            l.by_id.entry(e.event_id.as_str()).or_insert(e);
            if let Some(u) = user_name(&e.principal_arn) {
                l.user.entry(e.access_key_id.as_str()).or_insert(u);
            }
        }
        l
    }

    fn find(&self, key: &str) -> Option<&'a ChainKey> {
        self.keys.get(key).copied()
    }
}

/// The steps in order, each once.
#[derive(Default)]
struct Steps {
    list: Vec<String>,
    seen: HashSet<String>,
}

impl Steps {
    fn push(&mut self, step: String) {
        if self.seen.insert(step.clone()) {
            self.list.push(step);
        }
    }
}

/// Where a session key was delivered, followed up its provenance.
#[derive(Clone, Debug, PartialEq)]
enum Source {
    /// An EC2 instance profile (the session name is the instance id).
    Ec2,
    Lambda,
    Ecs,
    /// Minted by an IAM user's long-term key.
    UserKey(String),
    Unknown,
}

fn looks_like_instance(session: &str) -> bool {
    session.strip_prefix("i-").is_some_and(|h| (8..=17).contains(&h.len()) && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Follows provenance from `k` up to the service or user key that started it; also returns the key
/// the service delivered (its session names the instance, function or task).
fn source<'k>(k: &'k ChainKey, look: &Lookup<'k>) -> (Source, &'k ChainKey) {
    let mut cur = k;
    // The upstream and the chain are finite and cycle-free by construction; the bound is a guard.
    for _ in 0..=look.keys.len() {
        if cur.kind == "long_term" {
            return (Source::UserKey(cur.access_key_id.clone()), cur);
        }
        let Some(p) = &cur.provenance else { break };
        match p.invoked_by.as_deref() {
            Some("ec2.amazonaws.com") => return (Source::Ec2, cur),
            Some("lambda.amazonaws.com") => return (Source::Lambda, cur),
            Some("ecs-tasks.amazonaws.com") => return (Source::Ecs, cur),
            _ => {}
        }
        match p.access_key_id.as_deref().and_then(|a| look.find(a)) {
            Some(parent) => cur = parent,
            None => match p.access_key_id.as_deref() {
                Some(a) if a.starts_with("AKIA") => return (Source::UserKey(a.to_owned()), cur),
                _ => break,
            },
        }
    }
    if cur.session_name.as_deref().is_some_and(looks_like_instance) {
        return (Source::Ec2, cur);
    }
    (Source::Unknown, cur)
}

/// `arn:aws:iam::<acct>:user/<path>/<name>` -> `<name>`.
fn user_name(arn: &str) -> Option<&str> {
    arn.split_once(":user/").map(|(_, rest)| rest.rsplit('/').next().unwrap_or(rest))
}

/// The IAM user a long-term key belongs to: from its own calls, or from the call that created it.
fn owner(k: &ChainKey, look: &Lookup) -> Option<String> {
    if let Some(n) = look.user.get(k.access_key_id.as_str()) {
        return Some((*n).to_owned());
    }
    let p = k.provenance.as_ref()?;
    if let Some(e) = look.by_id.get(p.event_id.as_str()) {
        let named = |v: &Option<Value>, path: &[&str]| {
            let mut cur = v.as_ref()?;
            for seg in path {
                cur = cur.get(seg)?;
            }
            cur.as_str().filter(|s| !s.is_empty()).map(str::to_owned)
        };
        if let Some(n) = named(&e.request_parameters, &["userName"])
            .or_else(|| named(&e.response_elements, &["accessKey", "userName"]))
        {
            return Some(n);
        }
    }
    // CreateAccessKey without a user name creates a key for the caller.
    user_name(&p.principal_arn).map(str::to_owned)
}

fn role_of(k: &ChainKey, look: &Lookup) -> Option<String> {
    k.role_arn.clone().or_else(|| {
        look.first.get(k.access_key_id.as_str()).and_then(|e| {
            // arn:aws:sts::<acct>:assumed-role/<role>/<session>
            e.principal_arn.split(":assumed-role/").nth(1).map(|r| r.split('/').next().unwrap_or(r).to_owned())
        })
    })
}

fn long_term_steps(k: &ChainKey, look: &Lookup, out: &mut Steps) {
    let key = &k.access_key_id;
    let user = owner(k, look);
    let user_arg = user.as_deref().map(|u| shell(u).into_owned()).unwrap_or_else(|| "<user>".into());
    if k.via.as_deref() == Some("CreateAccessKey") {
        let (by, at) = k.provenance.as_ref().map_or(("?", "?"), |p| {
            (p.access_key_id.as_deref().unwrap_or("?"), p.event_time.as_deref().unwrap_or("?"))
        });
        out.push(
            format!(
                "Delete access key {key} of user {}, created by {by} at {at} (CreateAccessKey): aws iam delete-access-key --user-name {user_arg} --access-key-id {key}",
                user.as_deref().unwrap_or("?")
            ),
        );
        return;
    }
    out.push(format!("Deactivate long-term key {key}: trailhound revoke --access-key {key} --apply"));
    out.push(
        format!(
            "Delete key {key} once nothing legitimate depends on it: aws iam delete-access-key --user-name {user_arg} --access-key-id {key}"
        ),
    );
    if let Some(u) = &user {
        out.push(
            format!(
                "Check user {u}'s other access keys and console password: aws iam list-access-keys --user-name {user_arg}; aws iam get-login-profile --user-name {user_arg}"
            ),
        );
    }
}

fn session_steps(k: &ChainKey, look: &Lookup, out: &mut Steps) {
    let key = &k.access_key_id;
    let Some(role) = role_of(k, look) else {
        // GetSessionToken / GetFederationToken sessions act as their user and are not role sessions.
        let user = k
            .provenance
            .as_ref()
            .and_then(|p| user_name(&p.principal_arn))
            .or_else(|| look.user.get(key.as_str()).copied());
        if let Some(u) = user {
            out.push(
                format!(
                    "Session {key} acts as user {u}: deactivating the user's keys does not end it; deny it with an inline policy on the user (aws iam put-user-policy --user-name {}) denying everything when aws:TokenIssueTime is before now",
                    shell(u)
                ),
            );
        }
        return;
    };
    let name = role.rsplit('/').next().unwrap_or(&role).to_owned();
    let session = k
        .session_name
        .clone()
        .or_else(|| look.first.get(key.as_str()).and_then(|e| e.principal_arn.rsplit('/').next().map(str::to_owned)));
    out.push(match session {
        Some(s) => format!(
            "Revoke sessions of role {name} for {s} (key {key}): trailhound revoke --role {} --session {} --apply",
            shell(&name),
            shell(&s)
        ),
        None => format!(
            "Revoke sessions of role {name} (key {key}): trailhound revoke --role {} --all-sessions --apply",
            shell(&name)
        ),
    });
}

/// Steps for where a root session came from (the workload it was taken from, or the user key that
/// minted it).
fn source_steps(k: &ChainKey, look: &Lookup, out: &mut Steps) {
    let (source, delivered) = source(k, look);
    let role =
        role_of(delivered, look).map(|r| r.rsplit('/').next().unwrap_or(&r).to_owned()).unwrap_or_else(|| "?".into());
    let session = delivered.session_name.clone().unwrap_or_default();
    match source {
        Source::Ec2 => {
            let inst =
                if looks_like_instance(&session) { shell(&session).into_owned() } else { "<instance-id>".into() };
            out.push(
                format!(
                    "Require IMDSv2 on instance {inst} whose credentials were taken: aws ec2 modify-instance-metadata-options --instance-id {inst} --http-tokens required"
                ),
            );
            out.push(
                format!(
                    "Limit where role {role}'s credentials work (data perimeter): deny calls when aws:ec2InstanceSourceVPC or aws:SourceVpc is not the instance's"
                ),
            );
        }
        Source::Lambda => out.push(
            format!(
                "Find how Lambda function {session}'s credentials leaked (its code and dependencies, environment variables, server-side request forgery), rotate what its environment holds, and narrow role {role}"
            ),
        ),
        Source::Ecs => out.push(
            format!(
                "Find how ECS task {session}'s role credentials leaked (any process in the task can read the container credentials endpoint), review its task definition, and narrow role {role}"
            ),
        ),
        Source::UserKey(user_key) if !look.chain.contains(user_key.as_str()) => {
            let p = k.provenance.as_ref().filter(|p| p.access_key_id.as_deref() == Some(user_key.as_str()));
            let how = p.map_or_else(String::new, |p| {
                format!(
                    " ({} {} from {} at {})",
                    if p.principal_arn.is_empty() { "?" } else { &p.principal_arn },
                    p.event_name,
                    if p.source_ip.is_empty() { "?" } else { &p.source_ip },
                    p.event_time.as_deref().unwrap_or("?")
                )
            });
            out.push(
                format!(
                    "Session {} was minted by long-term key {user_key}{how}: treat that key as compromised too: trailhound report --key {user_key}; trailhound revoke --access-key {user_key} --apply",
                    k.access_key_id
                ),
            );
        }
        Source::UserKey(_) => {}
        Source::Unknown => out.push(
            format!(
                "Find who was issued session {} of role {role} (the role's trust policy names who may assume it) and limit where the role's credentials work (data perimeter: aws:SourceIp, aws:SourceVpc)",
                k.access_key_id
            ),
        ),
    }
}

fn impact_step(i: &Impact, created: &HashSet<&str>) -> Option<String> {
    let at = i.event_time.as_deref().unwrap_or("?");
    Some(match i.event_name.as_str() {
        // Keys the chain holds get their own step, with the delete command.
        "CreateAccessKey" if created.contains(i.event_id.as_str()) => return None,
        "CreateAccessKey" => format!("Delete the access key created at {at} ({})", i.detail),
        "CreateUser" => format!("Delete the user created at {at} ({}) after reviewing what it did", i.detail),
        "CreateLoginProfile" | "UpdateLoginProfile" => {
            format!("Remove or reset the console password set by {} ({})", i.event_name, i.detail)
        }
        "AttachUserPolicy" | "AttachRolePolicy" | "AttachGroupPolicy" | "PutUserPolicy" | "PutRolePolicy"
        | "PutGroupPolicy" => format!("Undo {} ({})", i.event_name, i.detail),
        "CreateRole" | "UpdateAssumeRolePolicy" => {
            format!("Review or delete the role changed by {} ({})", i.event_name, i.detail)
        }
        "StopLogging" | "DeleteTrail" | "UpdateTrail" | "PutEventSelectors" => format!(
            "Restore CloudTrail logging ({} {}): StartLogging, recreate the trail or its selectors",
            i.event_name, i.detail
        ),
        "DeleteDetector" | "UpdateDetector" | "CreateFilter" => {
            format!("Restore GuardDuty ({} {})", i.event_name, i.detail)
        }
        "ModifySnapshotAttribute" | "ModifyImageAttribute" | "ModifyDBSnapshotAttribute" => {
            format!("Unshare what {} shared ({})", i.event_name, i.detail)
        }
        "PutBucketPolicy"
        | "PutBucketAcl"
        | "PutObjectAcl"
        | "DeletePublicAccessBlock"
        | "DeleteBucketPublicAccessBlock" => {
            format!("Check the bucket exposure changed by {} ({})", i.event_name, i.detail)
        }
        "RunInstances" => format!("Terminate or inspect the instances launched at {at} ({})", i.detail),
        "GetSecretValue" | "BatchGetSecretValue" | "GetPasswordData" | "GetParameter" | "GetParameters" | "Decrypt" => {
            format!("Rotate the secret read by {} ({})", i.event_name, i.detail)
        }
        _ => return None,
    })
}

/// The checklist: one step per key by what it is, then one per lasting action, then where the
/// compromised keys came from.
pub fn steps(keys: &[ChainKey], upstream: &[ChainKey], events: &[ReportEvent], impact: &[Impact]) -> Vec<String> {
    let look = Lookup::new(keys, upstream, events);
    let mut out = Steps::default();
    for k in keys {
        match k.kind {
            "long_term" => long_term_steps(k, &look, &mut out),
            _ => session_steps(k, &look, &mut out),
        }
    }
    let created: HashSet<&str> = keys
        .iter()
        .filter(|k| k.via.as_deref() == Some("CreateAccessKey"))
        .filter_map(|k| k.provenance.as_ref().map(|p| p.event_id.as_str()))
        .collect();
    for i in impact.iter().filter(|i| i.error_code.is_none()) {
        if let Some(step) = impact_step(i, &created) {
            out.push(step);
        }
    }
    for k in keys.iter().filter(|k| k.minted_by.is_none() && k.kind != "long_term") {
        source_steps(k, &look, &mut out);
    }
    out.list
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blast::Provenance;

    fn key(id: &str, session: &str, by_key: Option<&str>, by_service: Option<&str>) -> ChainKey {
        ChainKey {
            access_key_id: id.into(),
            kind: if id.starts_with("AKIA") { "long_term" } else { "session" },
            minted_by: None,
            via: None,
            role_arn: Some("arn:aws:iam::1:role/app".into()),
            session_name: Some(session.into()),
            provenance: Some(Provenance {
                access_key_id: by_key.map(str::to_owned),
                principal_arn: String::new(),
                invoked_by: by_service.map(str::to_owned),
                event_name: "AssumeRole".into(),
                event_time: None,
                source_ip: String::new(),
                event_id: format!("e-{id}"),
            }),
        }
    }

    #[test]
    fn remediation_follows_the_workload_a_service_delivered_to() {
        let cases = [
            ("lambda.amazonaws.com", "my-fn", "Lambda function my-fn"),
            (
                "ecs-tasks.amazonaws.com",
                "0123456789abcdef0123456789abcdef",
                "ECS task 0123456789abcdef0123456789abcdef",
            ),
            ("ec2.amazonaws.com", "i-0123456789abcdef0", "IMDSv2 on instance i-0123456789abcdef0"),
        ];
        for (service, session, want) in cases {
            let steps = steps(&[key("ASIAROOT", session, None, Some(service))], &[], &[], &[]);
            let all = steps.join("\n");
            assert!(all.contains(want), "{service}: {all}");
            assert_eq!(all.contains("IMDS"), service == "ec2.amazonaws.com", "{service}: {all}");
        }
        // Unknown origin: no instance advice, a pointer to the trust policy.
        let all = steps(&[key("ASIAROOT", "someone", None, None)], &[], &[], &[]).join("\n");
        assert!(!all.contains("IMDS") && all.contains("trust policy"), "{all}");
    }
}
