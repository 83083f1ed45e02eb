//! The revocation policy, built and merged without touching AWS (pure functions, unit-tested).
//!
//! A revocation denies every action to sessions issued before a cutoff:
//! `Deny * on *` with `DateLessThan {"aws:TokenIssueTime": cutoff}`. The surgical form adds
//! `StringLike {"aws:userid": "<role id>:<session name>"}` so only one workload's sessions are denied.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// The IAM limit on all inline policies of one role together, white space not counted.
pub const ROLE_INLINE_LIMIT: usize = 10_240;
/// Same limit for a user's inline policies (user-level denies for sessions minted from a long-term key).
pub const USER_INLINE_LIMIT: usize = 2_048;
/// Longest session life AWS allows; a statement whose cutoff is older protects nothing any more.
pub const MAX_SESSION_HOURS: i64 = 36;
/// Role-wide revocations use the console's name, so "Revoke active sessions" and trailhound agree.
pub const ROLE_WIDE_POLICY: &str = "AWSRevokeOlderSessions";
/// Surgical revocations live in their own policy, never mixed into other people's documents.
pub const SURGICAL_POLICY: &str = "TrailhoundRevokeSessions";
const SID_PREFIX: &str = "TrailhoundRevoke";

/// Whose sessions a statement denies.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Every session of the principal (the console's role-wide revocation).
    AllSessions,
    /// Sessions whose `aws:userid` matches `<role id>:<session name>`.
    Session {
        /// The role's unique id (`AROA...`), not its name: a re-created role gets a new one.
        role_id: String,
        /// The session name (an instance id, a function name...); IAM matches it with `StringLike`.
        session_name: String,
    },
}

/// One deny statement: sessions in `scope` issued before `cutoff` lose every permission.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revocation {
    /// Whose sessions are denied.
    pub scope: Scope,
    /// Sessions whose `aws:TokenIssueTime` is before this are denied (whole seconds in the policy).
    pub cutoff: DateTime<Utc>,
}

impl Revocation {
    /// The `aws:userid` pattern `<role id>:<session name>` of a surgical revocation; `None` for a role-wide one.
    pub fn userid(&self) -> Option<String> {
        match &self.scope {
            Scope::AllSessions => None,
            Scope::Session { role_id, session_name } => Some(format!("{role_id}:{session_name}")),
        }
    }

    /// The inline policy this revocation belongs in: the console's name for role-wide ones, ours for surgical.
    pub fn policy_name(&self) -> &'static str {
        match self.scope {
            Scope::AllSessions => ROLE_WIDE_POLICY,
            Scope::Session { .. } => SURGICAL_POLICY,
        }
    }
}

/// `t` as IAM condition time: RFC 3339 in UTC, whole seconds (`2026-12-05T23:00:00Z`).
pub fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn sid_for(userid: Option<&str>) -> String {
    match userid {
        None => format!("{SID_PREFIX}AllSessions"),
        // Sids allow only [A-Za-z0-9]: a hash of the user id names the statement stably.
        Some(u) => format!("{SID_PREFIX}{:016x}", xxhash_rust::xxh3::xxh3_64(u.as_bytes())),
    }
}

/// The statement for one revocation.
pub fn statement(rev: &Revocation) -> Value {
    let mut cond = Map::new();
    cond.insert("DateLessThan".into(), json!({ "aws:TokenIssueTime": iso(rev.cutoff) }));
    if let Some(u) = rev.userid() {
        cond.insert("StringLike".into(), json!({ "aws:userid": u }));
    }
    json!({
        "Sid": sid_for(rev.userid().as_deref()),
        "Effect": "Deny",
        "Action": ["*"],
        "Resource": ["*"],
        "Condition": Value::Object(cond),
    })
}

/// What a statement revokes, when it is a revocation (ours, or the console's role-wide one).
fn parse_revocation(st: &Value) -> Option<Revocation> {
    let o = st.as_object()?;
    if o.get("Effect")?.as_str()? != "Deny" {
        return None;
    }
    let is_star = |v: Option<&Value>| match v {
        Some(Value::String(s)) => s == "*",
        Some(Value::Array(a)) => a.len() == 1 && a[0] == "*",
        _ => false,
    };
    if !is_star(o.get("Action")) || !is_star(o.get("Resource")) {
        return None;
    }
    let cond = o.get("Condition")?.as_object()?;
    let cutoff = cond.get("DateLessThan")?.get("aws:TokenIssueTime")?.as_str()?;
    let cutoff = DateTime::parse_from_rfc3339(cutoff).ok()?.with_timezone(&Utc);
    let scope = match (cond.len(), cond.get("StringLike").and_then(|s| s.get("aws:userid")).and_then(Value::as_str)) {
        (1, _) => Scope::AllSessions,
        (2, Some(u)) => {
            let (role_id, session_name) = u.split_once(':')?;
            Scope::Session { role_id: role_id.into(), session_name: session_name.into() }
        }
        _ => return None,
    };
    Some(Revocation { scope, cutoff })
}

/// The cutoff of the role-wide revocation an inline policy document holds (the latest, should it hold
/// several: each denies the sessions issued before it); `None` when it holds none or is not a policy.
pub fn all_sessions_cutoff(doc: &str) -> Option<DateTime<Utc>> {
    let v: Value = serde_json::from_str(doc).ok()?;
    let all = statements(&v).ok()?;
    all.into_iter().filter_map(parse_revocation).filter(|r| r.scope == Scope::AllSessions).map(|r| r.cutoff).max()
}

/// A policy document's statements: IAM takes a list or a single statement.
fn statements(doc: &Value) -> Result<Vec<&Value>, String> {
    match doc.get("Statement") {
        Some(Value::Array(a)) => Ok(a.iter().collect()),
        Some(o @ Value::Object(_)) => Ok(vec![o]),
        None => Ok(Vec::new()),
        Some(_) => Err("its Statement is neither a list nor an object".into()),
    }
}

/// The result of merging revocations into one inline policy document.
#[derive(Clone, Debug, PartialEq)]
pub struct Merged {
    /// The new document (pretty JSON), or `None` when nothing would remain (every statement expired).
    pub document: Option<String>,
    /// True when the document differs from what IAM holds (a put or delete is needed).
    pub changed: bool,
    /// Revocations added or whose cutoff moved later.
    pub added: Vec<Revocation>,
    /// Revocations already in place with the same or a later cutoff.
    pub kept: Vec<Revocation>,
    /// Expired revocations removed (cutoff older than the longest session life).
    pub expired: Vec<Revocation>,
    /// Requested revocations not added because every session they would deny has already expired.
    pub moot: Vec<Revocation>,
}

/// Merges `revs` into `existing` (a policy document, or `None` when the policy does not exist).
/// Statements that are not revocations are kept as they are; one statement per scope, the later
/// cutoff winning; revocations older than [`MAX_SESSION_HOURS`] before `now` are dropped.
/// `enough`: an existing statement whose cutoff is at or after it already denies every compromised
/// session, so it is kept as it is (re-running a "now" revocation does not move the cutoff again and
/// deny the workload's fresh credentials once more).
pub fn merge(
    existing: Option<&str>,
    revs: &[Revocation],
    now: DateTime<Utc>,
    enough: Option<DateTime<Utc>>,
) -> Result<Merged, String> {
    let mut doc: Value = match existing {
        Some(text) => serde_json::from_str(text).map_err(|e| format!("the existing policy is not JSON: {e}"))?,
        None => json!({ "Version": "2012-10-17", "Statement": [] }),
    };
    let obj = doc.as_object_mut().ok_or("the existing policy is not a JSON object")?;
    // Taken in place, not removed: `remove` swaps the last key into its slot, so every merge would
    // reorder the document's keys and merging twice would not give the same text.
    let statements = match obj.get_mut("Statement").map(Value::take) {
        Some(Value::Array(a)) => a,
        Some(single @ Value::Object(_)) => vec![single],
        None => Vec::new(),
        Some(_) => return Err("the existing policy's Statement is neither a list nor an object".into()),
    };
    let horizon = now - chrono::Duration::hours(MAX_SESSION_HOURS);
    let mut out: Vec<Value> = Vec::new();
    let mut merged = Merged {
        document: None,
        changed: false,
        added: Vec::new(),
        kept: Vec::new(),
        expired: Vec::new(),
        moot: Vec::new(),
    };
    // Each scope's revocation in the document and its statement's place, found by scope: a plan can
    // carry thousands of sessions.
    let mut current: HashMap<Scope, (Revocation, usize)> = HashMap::new();
    for st in statements {
        match parse_revocation(&st) {
            Some(r) if r.cutoff < horizon => {
                merged.expired.push(r);
                merged.changed = true;
            }
            Some(r) => {
                // A document naming a scope twice: the first statement is the one updated, as before.
                current.entry(r.scope.clone()).or_insert((r, out.len()));
                out.push(st);
            }
            None => out.push(st),
        }
    }
    for rev in revs {
        if rev.cutoff < horizon {
            merged.moot.push(rev.clone());
            continue;
        }
        match current.get_mut(&rev.scope) {
            Some((r, _)) if r.cutoff >= rev.cutoff || enough.is_some_and(|e| r.cutoff >= e) => {
                merged.kept.push(r.clone())
            }
            Some((r, idx)) => {
                out[*idx] = statement(rev);
                *r = rev.clone();
                merged.added.push(rev.clone());
                merged.changed = true;
            }
            None => {
                current.insert(rev.scope.clone(), (rev.clone(), out.len()));
                out.push(statement(rev));
                merged.added.push(rev.clone());
                merged.changed = true;
            }
        }
    }
    if out.is_empty() {
        merged.document = None;
        merged.changed = existing.is_some();
        return Ok(merged);
    }
    obj.insert("Statement".into(), Value::Array(out));
    if !obj.contains_key("Version") {
        obj.insert("Version".into(), json!("2012-10-17"));
    }
    merged.document = Some(serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?);
    Ok(merged)
}

/// What a rollback from `after` back to `before` would do besides moving revocations: the
/// non-revocation statements it would bring back, and those it would drop. trailhound only adds, moves
/// and drops its own deny statements, so for a record it wrote both lists are empty; anything else
/// means the record was edited (an `Allow *` slipped into `before`) or forged. `Err` when a document
/// is not a policy.
pub fn foreign_statements(before: Option<&str>, after: Option<&str>) -> Result<(Vec<String>, Vec<String>), String> {
    let others = |doc: Option<&str>| -> Result<Vec<Value>, String> {
        let Some(doc) = doc else { return Ok(Vec::new()) };
        let v: Value = serde_json::from_str(doc).map_err(|e| format!("not JSON: {e}"))?;
        Ok(statements(&v)?.into_iter().filter(|st| parse_revocation(st).is_none()).cloned().collect())
    };
    let mut dropped = others(after)?;
    let mut back = Vec::new();
    for st in others(before)? {
        match dropped.iter().position(|k| *k == st) {
            Some(i) => {
                dropped.swap_remove(i);
            }
            None => back.push(st.to_string()),
        }
    }
    Ok((back, dropped.iter().map(Value::to_string).collect()))
}

/// How IAM counts a policy against the inline size limit: characters, white space not counted.
pub fn iam_size(doc: &str) -> usize {
    doc.chars().filter(|c| !c.is_whitespace()).count()
}

/// True when two documents say the same thing (IAM may return them re-serialized).
pub fn same_document(a: &str, b: &str) -> bool {
    match (serde_json::from_str::<Value>(a), serde_json::from_str::<Value>(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn surgical(session: &str, cutoff: &str) -> Revocation {
        Revocation {
            scope: Scope::Session { role_id: "AROAEXAMPLEID".into(), session_name: session.into() },
            cutoff: t(cutoff),
        }
    }

    #[test]
    fn exact_json_of_each_form() {
        let s = statement(&surgical("i-0abc", "2026-11-23T12:00:00Z"));
        let expected = json!({
            "Sid": format!("TrailhoundRevoke{:016x}", xxhash_rust::xxh3::xxh3_64(b"AROAEXAMPLEID:i-0abc")),
            "Effect": "Deny", "Action": ["*"], "Resource": ["*"],
            "Condition": {
                "DateLessThan": {"aws:TokenIssueTime": "2026-11-23T12:00:00Z"},
                "StringLike": {"aws:userid": "AROAEXAMPLEID:i-0abc"}
            }
        });
        assert_eq!(s, expected);
        let all = statement(&Revocation { scope: Scope::AllSessions, cutoff: t("2026-11-23T12:00:00Z") });
        assert_eq!(
            all,
            json!({"Sid": "TrailhoundRevokeAllSessions", "Effect": "Deny", "Action": ["*"], "Resource": ["*"],
                   "Condition": {"DateLessThan": {"aws:TokenIssueTime": "2026-11-23T12:00:00Z"}}})
        );
    }

    #[test]
    fn later_cutoff_wins_and_merge_is_idempotent() {
        let now = t("2026-11-23T12:00:00Z");
        let m1 = merge(None, &[surgical("i-1", "2026-11-23T12:05:00Z")], now, None).unwrap();
        assert!(m1.changed);
        let doc1 = m1.document.unwrap();
        let again = merge(Some(&doc1), &[surgical("i-1", "2026-11-23T12:05:00Z")], now, None).unwrap();
        assert!(!again.changed);
        assert_eq!(again.document.as_deref(), Some(doc1.as_str()));
        let earlier = merge(Some(&doc1), &[surgical("i-1", "2026-11-23T11:00:00Z")], now, None).unwrap();
        assert!(!earlier.changed);
        let later = merge(Some(&doc1), &[surgical("i-1", "2026-11-23T13:00:00Z")], now, None).unwrap();
        assert!(later.changed);
        let d: Value = serde_json::from_str(later.document.as_ref().unwrap()).unwrap();
        assert_eq!(d["Statement"].as_array().unwrap().len(), 1);
        assert_eq!(d["Statement"][0]["Condition"]["DateLessThan"]["aws:TokenIssueTime"], "2026-11-23T13:00:00Z");
        let two = merge(Some(&doc1), &[surgical("i-2", "2026-11-23T12:05:00Z")], now, None).unwrap();
        let d: Value = serde_json::from_str(two.document.as_ref().unwrap()).unwrap();
        assert_eq!(d["Statement"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn an_existing_cutoff_that_already_covers_the_theft_is_kept() {
        let now = t("2026-11-23T12:00:00Z");
        let doc = merge(None, &[surgical("i-1", "2026-11-23T12:05:00Z")], now, None).unwrap().document.unwrap();
        // Run again an hour later: the stolen session (issued 11:00) is already denied.
        let later = merge(Some(&doc), &[surgical("i-1", "2026-11-23T13:05:00Z")], now, Some(t("2026-11-23T11:00:01Z")));
        assert!(!later.unwrap().changed);
        // A session stolen after the existing cutoff moves it.
        let newer = merge(Some(&doc), &[surgical("i-1", "2026-11-23T13:05:00Z")], now, Some(t("2026-11-23T12:30:01Z")));
        assert!(newer.unwrap().changed);
    }

    #[test]
    fn keeps_foreign_statements_and_drops_expired_revocations() {
        let existing = r#"{"Version":"2012-10-17","Statement":[
            {"Sid":"Other","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"},
            {"Effect":"Deny","Action":["*"],"Resource":["*"],"Condition":{"DateLessThan":{"aws:TokenIssueTime":"2026-11-20T00:00:00Z"}}}
        ]}"#;
        let now = t("2026-11-23T12:00:00Z");
        let m = merge(Some(existing), &[surgical("i-1", "2026-11-23T12:05:00Z")], now, None).unwrap();
        assert_eq!(m.expired.len(), 1);
        let d: Value = serde_json::from_str(m.document.as_ref().unwrap()).unwrap();
        let st = d["Statement"].as_array().unwrap();
        assert_eq!(st.len(), 2);
        assert_eq!(st[0]["Sid"], "Other");
        // The console's role-wide statement is understood: a later role-wide cutoff replaces it.
        let console = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":["*"],"Resource":["*"],"Condition":{"DateLessThan":{"aws:TokenIssueTime":"2026-11-23T10:00:00Z"}}}]}"#;
        let all = Revocation { scope: Scope::AllSessions, cutoff: t("2026-11-23T12:00:00Z") };
        let m = merge(Some(console), &[all], now, None).unwrap();
        let d: Value = serde_json::from_str(m.document.as_ref().unwrap()).unwrap();
        assert_eq!(d["Statement"].as_array().unwrap().len(), 1);
        assert_eq!(d["Statement"][0]["Condition"]["DateLessThan"]["aws:TokenIssueTime"], "2026-11-23T12:00:00Z");
    }

    #[test]
    fn merge_keeps_the_documents_key_order_so_merging_twice_is_a_no_op() {
        // Found by the policy_merge fuzz target: `Statement` was removed and re-inserted, which moved
        // the document's last key into its place, so the second merge's text differed from the first.
        let now = t("2026-11-23T12:00:00Z");
        let revs = [surgical("i-1", "2026-11-23T12:05:00Z")];
        let doc = merge(Some(r#"{"Statement":[],"Id":"x"}"#), &revs, now, None).unwrap().document.unwrap();
        let keys: Vec<String> = serde_json::from_str::<Map<String, Value>>(&doc).unwrap().keys().cloned().collect();
        assert_eq!(keys, ["Statement", "Id", "Version"]);
        let again = merge(Some(&doc), &revs, now, None).unwrap();
        assert!(!again.changed);
        assert_eq!(again.document.as_deref(), Some(doc.as_str()));
    }

    #[test]
    fn merge_keeps_numbers_in_other_statements_exactly() {
        // Found by the policy_merge fuzz target: without serde_json's `float_roundtrip`, a long number
        // was read imprecisely, so the rewritten document held a different number than the original.
        let existing = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Other","Effect":"Allow","Action":"s3:ListBucket",
            "Resource":"*","Condition":{"NumericLessThan":{"s3:max-keys":222222222222222222222222}}}]}"#;
        let now = t("2026-11-23T12:00:00Z");
        let doc =
            merge(Some(existing), &[surgical("i-1", "2026-11-23T12:05:00Z")], now, None).unwrap().document.unwrap();
        let before: Value = serde_json::from_str(existing).unwrap();
        let after: Value = serde_json::from_str(&doc).unwrap();
        assert_eq!(after["Statement"][0], before["Statement"][0]);
    }

    #[test]
    fn size_counts_non_whitespace_characters() {
        assert_eq!(iam_size("{ \"a\" :\n\t1 }"), 7);
        let doc = merge(None, &[surgical("i-1", "2026-11-23T12:05:00Z")], t("2026-11-23T12:00:00Z"), None)
            .unwrap()
            .document
            .unwrap();
        let compact = serde_json::to_string(&serde_json::from_str::<Value>(&doc).unwrap()).unwrap();
        assert_eq!(iam_size(&doc), compact.len());
    }

    #[test]
    fn a_rollback_may_only_bring_back_what_the_change_kept() {
        let rev = statement(&surgical("i-0abc", "2026-11-23T12:00:00Z"));
        let app = json!({"Sid": "App", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"});
        let before = json!({"Version": "2012-10-17", "Statement": [app.clone()]}).to_string();
        let after = json!({"Version": "2012-10-17", "Statement": [app.clone(), rev.clone()]}).to_string();
        let none = (Vec::<String>::new(), Vec::<String>::new());
        assert_eq!(foreign_statements(Some(&before), Some(&after)).unwrap(), none);
        let allow_all = json!({"Effect": "Allow", "Action": "*", "Resource": "*"});
        let tampered = json!({"Version": "2012-10-17", "Statement": [app, allow_all.clone()]}).to_string();
        assert_eq!(foreign_statements(Some(&tampered), Some(&after)).unwrap(), (vec![allow_all.to_string()], vec![]));
        // A forged record whose `before` lacks someone else's statement would drop it.
        let app_only = serde_json::from_str::<Value>(&before).unwrap()["Statement"][0].to_string();
        assert_eq!(foreign_statements(None, Some(&after)).unwrap(), (vec![], vec![app_only]));
        assert!(foreign_statements(Some("not json"), Some(&after)).is_err());
    }
}
