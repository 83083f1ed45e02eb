//! What a responder reads and approves: the plan, the exact documents and the AWS CLI commands.
//!
//! Documents are shown as JSON with every non-ASCII character written as a JSON escape: the same
//! document to IAM, but nothing in it (bidi overrides, look-alikes from a session name in the logs)
//! can act on a terminal or hide in a pasted command.

use super::policy::{self, Revocation, Scope, merge};
use super::{Change, Plan, Request, iam::RoleInfo, revocations};
use crate::report::escape::term;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::fmt::Write as _;

/// `v` as JSON, pretty or compact, with non-ASCII characters and DEL written as `\uXXXX` escapes.
pub fn ascii_json(v: &Value, pretty: bool) -> String {
    let s = if pretty { serde_json::to_string_pretty(v) } else { serde_json::to_string(v) }.unwrap_or_default();
    if s.chars().all(|c| c.is_ascii() && c != '\x7f') {
        return s;
    }
    let mut out = String::with_capacity(s.len() + 16);
    // Outside strings JSON is plain ASCII, so every such character is inside a string, where an
    // escape means the same character.
    for c in s.chars() {
        if c.is_ascii() && c != '\x7f' {
            out.push(c);
        } else {
            for u in c.encode_utf16(&mut [0; 2]) {
                let _ = write!(out, "\\u{u:04x}");
            }
        }
    }
    out
}

/// A policy document for approval: pretty-printed, one escaped line per line, each indented.
pub fn show_document(doc: &str, indent: &str) -> String {
    let text = match serde_json::from_str::<Value>(doc) {
        Ok(v) => ascii_json(&v, true),
        Err(_) => doc.to_owned(),
    };
    text.lines().map(|l| format!("{indent}{}", term(l))).collect::<Vec<_>>().join("\n")
}

fn shell_quote(s: &str) -> String {
    crate::report::escape::shell(s).into_owned()
}

/// The document as one shell word: compact ASCII JSON in single quotes (`'` as `'\''`).
fn document_arg(doc: &str) -> String {
    match serde_json::from_str::<Value>(doc) {
        Ok(v) => shell_quote(&ascii_json(&v, false)),
        Err(_) => shell_quote(doc),
    }
}

/// The AWS CLI command that sets (or, for `None`, deletes) an inline policy.
pub fn policy_command(kind: &str, name: &str, policy_name: &str, doc: Option<&str>) -> String {
    match doc {
        Some(d) => format!(
            "aws iam put-{kind}-policy --{kind}-name {} --policy-name {} --policy-document {}",
            shell_quote(name),
            shell_quote(policy_name),
            document_arg(d)
        ),
        None => format!(
            "aws iam delete-{kind}-policy --{kind}-name {} --policy-name {}",
            shell_quote(name),
            shell_quote(policy_name)
        ),
    }
}

/// The AWS CLI command that sets a key's status.
pub fn key_command(user: &str, key: &str, status: &str) -> String {
    format!(
        "aws iam update-access-key --user-name {} --access-key-id {} --status {status}",
        shell_quote(user),
        shell_quote(key)
    )
}

/// The AWS CLI command equivalent to one change.
pub fn cli_command(change: &Change) -> String {
    match change {
        Change::RolePolicy { role, policy_name, merged, .. } => {
            policy_command("role", &role.name, policy_name, merged.document.as_deref())
        }
        Change::UserPolicy { user, policy_name, merged, .. } => {
            policy_command("user", user, policy_name, merged.document.as_deref())
        }
        Change::DeactivateKey { user, key, .. } => key_command(user, key, "Inactive"),
    }
}

/// What the tool cannot do itself, printed with every plan.
pub fn follow_up() -> String {
    "Follow-up (trailhound cannot do these for you):
  1. Refresh the instance's credentials so it stops using denied sessions: disassociate and re-associate
     its instance profile (aws ec2 replace-iam-instance-profile-association), or stop and start it.
  2. Require IMDSv2 on the instance (aws ec2 modify-instance-metadata-options --http-tokens required),
     which stops SSRF-style theft through the metadata service.
  3. Add the data-perimeter policy that makes EC2 role credentials useless outside their VPC: deny when
     aws:Ec2InstanceSourceVpc does not match aws:SourceVpc, or aws:Ec2InstanceSourcePrivateIPv4 does not
     match aws:VpcSourceIp (with exceptions for calls made by AWS services).
  4. IAM is eventually consistent: the deny takes seconds to minutes to apply everywhere. Watch for
     AccessDenied on the revoked sessions in CloudTrail to confirm it took effect.
"
    .to_owned()
}

fn describe(rev: &Revocation) -> String {
    match &rev.scope {
        Scope::AllSessions => format!("every session issued before {}", policy::iso(rev.cutoff)),
        Scope::Session { role_id, session_name } => {
            format!("sessions {role_id}:{session_name} issued before {}", policy::iso(rev.cutoff))
        }
    }
}

/// The plan for a person: what changes, the exact documents and commands, and the follow-up.
pub fn render(plan: &Plan) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Cutoff: {} ({})", policy::iso(plan.cutoff), plan.cutoff_reason);
    for r in &plan.reasons {
        let _ = writeln!(s, "  {}", term(r));
    }
    for c in &plan.changes {
        s.push('\n');
        match c {
            Change::RolePolicy { role, policy_name, before, merged, size_before, size_after } => {
                let _ = writeln!(s, "Role {} ({}), inline policy {policy_name}:", role.name, role.role_id);
                if !merged.changed {
                    let _ = writeln!(s, "  no change: already in place");
                }
                for a in &merged.added {
                    let _ = writeln!(s, "  + deny {}", term(&describe(a)));
                }
                for k in &merged.kept {
                    let _ = writeln!(s, "  = deny {} (already in place)", term(&describe(k)));
                }
                for e in &merged.expired {
                    let _ = writeln!(s, "  - drop expired deny of {}", term(&describe(e)));
                }
                for m in &merged.moot {
                    let _ = writeln!(
                        s,
                        "  ! not added: {} (over {} hours ago, every such session has expired)",
                        term(&describe(m)),
                        policy::MAX_SESSION_HOURS
                    );
                }
                let _ = writeln!(
                    s,
                    "  policy {}; role inline size {size_before} -> {size_after} of {} characters",
                    if before.is_some() { "exists, merged (other statements kept)" } else { "is new" },
                    policy::ROLE_INLINE_LIMIT
                );
                if let Some(d) = merged.document.as_deref().filter(|_| merged.changed) {
                    let _ = writeln!(s, "  document after:\n{}", show_document(d, "    "));
                }
            }
            Change::UserPolicy { user, policy_name, merged, .. } => {
                let _ =
                    writeln!(s, "User {}, inline policy {policy_name} (sessions minted from its keys):", term(user));
                for a in &merged.added {
                    let _ = writeln!(s, "  + deny {}", term(&describe(a)));
                }
                if !merged.changed {
                    let _ = writeln!(s, "  no change: already in place");
                }
                if let Some(d) = merged.document.as_deref().filter(|_| merged.changed) {
                    let _ = writeln!(s, "  document after:\n{}", show_document(d, "    "));
                }
            }
            Change::DeactivateKey { user, key, status } => {
                let _ = writeln!(
                    s,
                    "Access key {} of user {}: {} -> Inactive (never deleted)",
                    term(key),
                    term(user),
                    term(status)
                );
            }
        }
        if !c.is_noop() {
            let _ = writeln!(s, "  command: {}", term(&cli_command(c)));
        }
    }
    s.push('\n');
    s += &follow_up();
    s
}

/// `--emit`: documents and commands from the request alone, without reading or changing IAM.
pub fn emit(req: &Request, now: DateTime<Utc>) -> anyhow::Result<String> {
    let mut s = format!("Cutoff: {} ({})\n", policy::iso(req.cutoff), req.cutoff_reason);
    s += "These documents do not include statements already in the roles' policies: run without --emit to merge.\n";
    for rr in &req.roles {
        let role_id = match (&rr.role_id_hint, rr.sessions.is_empty()) {
            (Some(id), _) if !id.is_empty() => id.clone(),
            (_, true) => String::new(),
            _ => anyhow::bail!(
                "--emit needs the role id of {} for a surgical statement: pass a finding, or plan without --emit",
                rr.role
            ),
        };
        let revs = revocations(rr, &role_id, req.cutoff);
        let mut names: Vec<&str> = revs.iter().map(|r| r.policy_name()).collect();
        names.dedup();
        for name in names {
            let group: Vec<Revocation> = revs.iter().filter(|r| r.policy_name() == name).cloned().collect();
            let merged = merge(None, &group, now, None).map_err(|e| anyhow::anyhow!(e))?;
            let Some(doc) = merged.document.clone() else {
                let _ = writeln!(
                    s,
                    "\nRole {}: nothing to deny, the cutoff is over {} hours ago and every session issued before it has expired.",
                    rr.role,
                    policy::MAX_SESSION_HOURS
                );
                continue;
            };
            let role =
                RoleInfo { name: rr.role.clone(), arn: String::new(), role_id: role_id.clone(), path: "/".into() };
            let change = Change::RolePolicy {
                role,
                policy_name: name.into(),
                before: None,
                merged,
                size_before: 0,
                size_after: 0,
            };
            let _ =
                writeln!(s, "\nRole {} policy {name}:\n{}\n{}", rr.role, show_document(&doc, ""), cli_command(&change));
        }
    }
    for key in &req.access_keys {
        let _ = writeln!(
            s,
            "\naws iam update-access-key --access-key-id {} --status Inactive   # add --user-name <owner>",
            shell_quote(key)
        );
    }
    s.push('\n');
    s += &follow_up();
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_multi_line_ascii_and_commands_quote_single_quotes() {
        let doc = serde_json::json!({"Statement": [{"Sid": "x", "Condition": {"StringLike": {"aws:userid": "AROA:i-0'$(id)\n\u{202e}é"}}}]});
        let shown = show_document(&doc.to_string(), "  ");
        assert!(shown.lines().count() > 5, "{shown}");
        assert!(!shown.contains("\\u{"), "escaped before the lines were split: {shown}");
        assert!(shown.contains(r"i-0'$(id)\n\u202e\u00e9"), "{shown}");
        let back: Value = serde_json::from_str(&shown).unwrap();
        assert_eq!(back, doc);
        let cmd = policy_command("role", "web", "P", Some(&doc.to_string()));
        assert!(
            cmd.contains(r#"'{"Statement":[{"Sid":"x","Condition":{"StringLike":{"aws:userid":"AROA:i-0'\''$(id)"#),
            "{cmd}"
        );
        assert!(cmd.is_ascii());
    }
}
