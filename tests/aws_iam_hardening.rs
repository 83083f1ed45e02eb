//! Regression tests from the hostile review of `revoke` (moto behind a fault-injecting proxy, crafted
//! audit logs and session names). Each test is named after the defect it pins down.

mod common;
#[path = "common/fault_proxy.rs"]
mod fault_proxy;
#[path = "common/iam.rs"]
mod iam_helpers;

use common::*;
use fault_proxy::{Fault, FaultProxy};
use iam_helpers::*;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const SURGICAL: &str = "TrailhoundRevokeSessions";
const ROLE_WIDE: &str = "AWSRevokeOlderSessions";

/// The chain as the README defines it, computed here independently of the code under test.
fn sha(line: &str) -> String {
    let digest = Sha256::digest(line.as_bytes());
    format!("sha256:{}", digest.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// Every line's `prev` names the line before it (the empty string for the first).
fn assert_chained(path: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut prev = sha("");
    for (i, line) in text.lines().enumerate() {
        if let Ok(rec) = serde_json::from_str::<Value>(line) {
            assert_eq!(rec["prev"].as_str(), Some(prev.as_str()), "line {} of {path}: {line}", i + 1);
        }
        prev = sha(line);
    }
}

fn set_lines(path: &str, lines: &[String]) {
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

fn lines_of(path: &str) -> Vec<String> {
    std::fs::read_to_string(path).unwrap().lines().map(str::to_owned).collect()
}

#[tokio::test]
async fn applied_but_not_recorded_an_unwritable_audit_log_refuses_before_any_change() {
    let iam = iam().await;
    let role = &uniq("th-unwritable");
    make_role(&iam, role).await;
    let dir = tempfile::tempdir().unwrap();
    for log in ["/dev/full".to_owned(), path_str(dir.path())] {
        let r = revoke(&["--role", role, "--all-sessions", "--apply", "--yes", "--audit-log", &log]);
        assert_eq!(r.code, 2, "{log}: {}{}", r.stdout, r.stderr);
        assert!(r.stderr.contains(&log) && r.stderr.contains("nothing was changed"), "{}", r.stderr);
        assert!(policy(&iam, role, ROLE_WIDE).await.is_none(), "{log}: the role must be unchanged");
    }
}

/// Runs revoke with the audit log allowed to grow to `limit` bytes (and SIGXFSZ ignored, so a write
/// past it fails with EFBIG instead of killing the process).
#[cfg(target_os = "linux")]
fn revoke_with_file_limit(args: &[&str], limit: u64) -> Run {
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_trailhound"));
    cmd.arg("revoke")
        .args(args)
        .args(["--endpoint-url", &moto(MOTO)])
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    // SAFETY: between fork and exec, only async-signal-safe calls on plain integers.
    unsafe {
        cmd.pre_exec(move || {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let lim = libc::rlimit { rlim_cur: limit, rlim_max: limit };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().expect("run trailhound");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        summary: Value::Null,
    }
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn applied_but_not_recorded_the_intent_is_on_disk_first_and_rolls_the_change_back() {
    let iam = iam().await;
    let dir = tempfile::tempdir().unwrap();
    // Measure a record of this shape, then let the log hold the intent but not the outcome.
    let probe = &uniq("th-intent-a");
    make_role(&iam, probe).await;
    let probe_log = path_str(&dir.path().join("probe.jsonl"));
    let r = revoke(&["--role", probe, "--all-sessions", "--apply", "--yes", "--audit-log", &probe_log]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let len = lines_of(&probe_log)[0].len() as u64 + 1;

    let role = &uniq("th-intent-b");
    make_role(&iam, role).await;
    let audit = path_str(&dir.path().join("audit.jsonl"));
    let r = revoke_with_file_limit(
        &["--role", role, "--all-sessions", "--apply", "--yes", "--audit-log", &audit],
        len + len / 2,
    );
    assert_eq!(r.code, 5, "made, outcome not recorded: {}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("outcome could not be recorded") && r.stderr.contains("--rollback"), "{}", r.stderr);
    assert!(policy(&iam, role, ROLE_WIDE).await.is_some(), "the change was made");
    let lines = lines_of(&audit);
    assert_eq!(lines.len(), 2, "the intent and a torn outcome: {lines:?}");
    let intent: Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(intent["phase"], "intent");
    assert!(serde_json::from_str::<Value>(&lines[1]).is_err(), "the outcome line is torn");

    // The torn line is reported and skipped; the intent is enough to undo the change.
    let id = intent["id"].as_str().unwrap();
    let r = revoke(&["--rollback", id, "--yes", "--audit-log", &audit]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("line 2: torn"), "{}", r.stderr);
    assert!(r.stdout.contains("outcome of this change was never recorded"), "{}", r.stdout);
    assert!(policy(&iam, role, ROLE_WIDE).await.is_none());
    assert_chained(&audit);
}

#[tokio::test]
async fn read_back_failure_is_reported_as_applied_not_verified() {
    let iam = iam().await;
    let role = &uniq("th-readback");
    make_role(&iam, role).await;
    let dir = tempfile::tempdir().unwrap();
    let audit = path_str(&dir.path().join("audit.jsonl"));
    // A fresh role has no policies to read while planning: GetRolePolicy #1 is apply's check that
    // nothing changed since the plan, #2 (and the SDK's retries) the read-back after PutRolePolicy.
    let proxy = FaultProxy::start(&moto(MOTO), "Action=GetRolePolicy", 2, Fault::Status500);
    let r = revoke_via(
        &proxy.url,
        &["--role", role, "--session", "i-0ccccccccccccccc", "--apply", "--yes", "--audit-log", &audit],
    );
    assert!(proxy.failed.load(std::sync::atomic::Ordering::Relaxed) >= 1, "the proxy failed no read-back");
    drop(proxy);
    assert_eq!(r.code, 5, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("applied, NOT verified") && r.stderr.contains("GetRolePolicy"), "{}", r.stderr);
    assert!(!r.stderr.contains("nothing was changed"), "the change was made: {}", r.stderr);
    assert!(r.stderr.contains("aws iam get-role-policy --role-name"), "{}", r.stderr);
    assert!(policy(&iam, role, SURGICAL).await.is_some(), "PutRolePolicy succeeded");
    let recs = audit_records(&audit);
    assert_eq!(recs.len(), 2);
    assert_eq!((recs[0]["phase"].as_str(), recs[1]["phase"].as_str()), (Some("intent"), Some("unverified")));
    assert_eq!(recs[1]["verified"], false);
    assert!(recs[1]["error"].as_str().unwrap().contains("reading it back failed"), "{}", recs[1]);
    assert_chained(&audit);

    // A rollback's read-back failing (the connection dropped) is reported the same way. Its
    // GetRolePolicy calls: #1 plans, #2 checks nothing changed since, #3 reads back.
    let id = recs[0]["id"].as_str().unwrap();
    let proxy = FaultProxy::start(&moto(MOTO), "Action=GetRolePolicy", 3, Fault::Close);
    let r = revoke_via(&proxy.url, &["--rollback", id, "--yes", "--audit-log", &audit]);
    drop(proxy);
    assert_eq!(r.code, 5, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("applied, NOT verified"), "{}", r.stderr);
    assert!(policy(&iam, role, SURGICAL).await.is_none(), "DeleteRolePolicy succeeded");
    let recs = audit_records(&audit);
    assert_eq!(recs.len(), 4);
    assert_eq!(recs[3]["phase"], "unverified");
    assert_eq!(recs[3]["rollback_of"], id);
}

#[tokio::test]
async fn a_change_iam_never_answered_is_read_back_to_tell_whether_it_was_made() {
    // The connection drops before IAM answers (here it never got the request): what IAM holds says
    // the change was not made, so it is a failure, tried again later, not a change to check by hand.
    let iam = iam().await;
    let role = &uniq("th-noanswer");
    make_role(&iam, role).await;
    let dir = tempfile::tempdir().unwrap();
    let audit = path_str(&dir.path().join("audit.jsonl"));
    let proxy = FaultProxy::start(&moto(MOTO), "Action=PutRolePolicy", 1, Fault::Close);
    let r = revoke_via(
        &proxy.url,
        &["--role", role, "--session", "i-0dddddddddddddddd", "--apply", "--yes", "--audit-log", &audit],
    );
    assert!(proxy.failed.load(std::sync::atomic::Ordering::Relaxed) >= 1, "the proxy dropped no PutRolePolicy");
    drop(proxy);
    assert_ne!(r.code, 5, "not unverified: {}{}", r.stdout, r.stderr);
    assert_ne!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("recorded as failed") && !r.stderr.contains("may or may not"), "{}", r.stderr);
    assert!(policy(&iam, role, SURGICAL).await.is_none(), "nothing was made");
    let recs = audit_records(&audit);
    let phases: Vec<&str> = recs.iter().filter_map(|r| r["phase"].as_str()).collect();
    assert_eq!(phases, ["intent", "failed"]);
    assert_chained(&audit);
}

#[test]
fn revoke_help_documents_the_exit_status() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_trailhound")).args(["revoke", "--help"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Exit status:") && text.contains("5  a change was made but not verified"), "{text}");
    assert!(text.contains("--reactivate-compromised-key") && text.contains("--accept-unverifiable-record"), "{text}");
}

/// Applies a surgical revocation of `session` to a new role; returns the role.
async fn applied(iam: &aws_sdk_iam::Client, audit: &str, session: &str) -> String {
    let role = uniq("th-chain");
    make_role(iam, &role).await;
    iam.put_role_policy().role_name(&role).policy_name(SURGICAL).policy_document(OTHER).send().await.unwrap();
    let r = revoke(&["--role", &role, "--session", session, "--apply", "--yes", "--audit-log", audit]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    role
}

fn with_before(line: &str, before: &str) -> String {
    let mut v: Value = serde_json::from_str(line).unwrap();
    v["before"] = json!(before);
    serde_json::to_string(&v).unwrap()
}

#[tokio::test]
async fn rollback_refuses_a_record_that_fails_the_chain_or_was_edited() {
    let iam = iam().await;
    let dir = tempfile::tempdir().unwrap();
    let audit = path_str(&dir.path().join("audit.jsonl"));
    let a = applied(&iam, &audit, "i-0aaaaaaaaaaaaaaa1").await;
    let b = applied(&iam, &audit, "i-0bbbbbbbbbbbbbbb2").await;
    let original = lines_of(&audit);
    assert_eq!(original.len(), 4);
    assert_chained(&audit);
    let id = |i: usize| serde_json::from_str::<Value>(&original[i]).unwrap()["id"].as_str().unwrap().to_owned();
    let allow_all = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
    let a_now = policy(&iam, &a, SURGICAL).await.unwrap();
    let b_now = policy(&iam, &b, SURGICAL).await.unwrap();

    // A's outcome edited to restore `Allow *`: the next line no longer names it.
    let mut lines = original.clone();
    lines[1] = with_before(&lines[1], allow_all);
    set_lines(&audit, &lines);
    let r = revoke(&["--rollback", &id(1), "--yes", "--audit-log", &audit]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("fails the audit log's hash chain") && r.stderr.contains("line 3 does not name line 2"),
        "{}",
        r.stderr
    );

    // B's outcome is the last line (nothing follows to name it): it must still agree with its intent.
    let mut lines = original.clone();
    lines[3] = with_before(&lines[3], allow_all);
    set_lines(&audit, &lines);
    let r = revoke(&["--rollback", &id(3), "--yes", "--audit-log", &audit]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("does not describe the change its intent"), "{}", r.stderr);

    // Both edited and the chain recomputed: the chain holds, but a rollback only ever brings back
    // statements the change kept, and `Allow *` is not one of them.
    let mut lines = original.clone();
    lines[2] = with_before(&lines[2], allow_all);
    let mut out: Value = serde_json::from_str(&with_before(&lines[3], allow_all)).unwrap();
    out["prev"] = json!(sha(&lines[2]));
    lines[3] = serde_json::to_string(&out).unwrap();
    set_lines(&audit, &lines);
    assert_chained(&audit);
    let r = revoke(&["--rollback", &id(3), "--yes", "--audit-log", &audit]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("statements the change did not keep") && r.stderr.contains("Allow"), "{}", r.stderr);
    assert_eq!(policy(&iam, &a, SURGICAL).await.unwrap(), a_now, "nothing was changed");
    assert_eq!(policy(&iam, &b, SURGICAL).await.unwrap(), b_now, "nothing was changed");

    // The untouched log rolls back fine, and the restored document is the one before.
    set_lines(&audit, &original);
    let r = revoke(&["--rollback", &id(3), "--yes", "--audit-log", &audit]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let restored: Value = serde_json::from_str(&policy(&iam, &b, SURGICAL).await.unwrap()).unwrap();
    assert_eq!(restored, serde_json::from_str::<Value>(OTHER).unwrap());
    assert_chained(&audit);
}

#[tokio::test]
async fn a_torn_last_line_is_reported_and_skipped_not_fatal_to_other_records() {
    let iam = iam().await;
    let dir = tempfile::tempdir().unwrap();
    let audit = path_str(&dir.path().join("audit.jsonl"));
    let role = applied(&iam, &audit, "i-0ddddddddddddddd3").await;
    let id = audit_records(&audit)[0]["id"].as_str().unwrap().to_owned();
    let mut f = std::fs::OpenOptions::new().append(true).open(&audit).unwrap();
    std::io::Write::write_all(&mut f, br#"{"id":"rv-torn","time":"2026-11"#).unwrap();
    drop(f);
    let r = revoke(&["--rollback", &id, "--yes", "--audit-log", &audit]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("line 3: torn") && r.stderr.contains("skipped"), "{}", r.stderr);
    let restored: Value = serde_json::from_str(&policy(&iam, &role, SURGICAL).await.unwrap()).unwrap();
    assert_eq!(restored, serde_json::from_str::<Value>(OTHER).unwrap());
    // The rollback's records start on a line of their own and chain over the torn line's bytes.
    let lines = lines_of(&audit);
    assert_eq!(lines.len(), 5);
    assert_eq!(lines[2], r#"{"id":"rv-torn","time":"2026-11"#);
    assert_chained(&audit);
}

#[tokio::test]
async fn old_logs_without_the_chain_are_unverifiable_and_need_the_flag() {
    let iam = iam().await;
    let dir = tempfile::tempdir().unwrap();
    let audit = path_str(&dir.path().join("audit.jsonl"));
    let role = applied(&iam, &audit, "i-0eeeeeeeeeeeeeee4").await;
    // As the tool wrote it before intent records and the chain: one line per applied change.
    let mut old: Value = serde_json::from_str(&lines_of(&audit)[1]).unwrap();
    let o = old.as_object_mut().unwrap();
    o.remove("prev");
    o.remove("phase");
    set_lines(&audit, &[serde_json::to_string(&old).unwrap()]);
    let id = old["id"].as_str().unwrap();
    let r = revoke(&["--rollback", id, "--yes", "--audit-log", &audit]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("before the audit log had a hash chain") && r.stderr.contains("--accept-unverifiable-record"),
        "{}",
        r.stderr
    );
    assert!(policy(&iam, &role, SURGICAL).await.unwrap().contains("i-0eeeeeeeeeeeeeee4"));
    let r = revoke(&["--rollback", id, "--accept-unverifiable-record", "--yes", "--audit-log", &audit]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("unverifiable"), "{}", r.stdout);
    let restored: Value = serde_json::from_str(&policy(&iam, &role, SURGICAL).await.unwrap()).unwrap();
    assert_eq!(restored, serde_json::from_str::<Value>(OTHER).unwrap());
}

#[tokio::test]
async fn the_plan_is_readable_and_its_command_pastes_into_a_shell() {
    let iam = iam().await;
    let role = &uniq("th-readable");
    let role_id = make_role(&iam, role).await;
    let dir = tempfile::tempdir().unwrap();
    // A session name from the logs: quotes, a command substitution, a newline, a terminal escape and
    // a bidi override.
    let session = "i-0'$(touch pwned)\"\n\u{1b}[31m\u{202e}x";
    let f = write(&dir, "f.json", &json!([finding(role, &role_id, session)]));
    let r = revoke(&["--finding", &f, "--before", &cutoff_soon()]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(!r.stdout.contains('\u{1b}') && !r.stdout.contains('\u{202e}'), "{}", r.stdout);
    // The document is pretty-printed line by line, its strings in JSON escapes (not the terminal
    // escaper's `\u{a}`, which is for one-line descriptions).
    let doc_start = r.stdout.find("  document after:\n    {\n").expect("the document, pretty-printed");
    let doc_end = r.stdout[doc_start..].find("  command: ").map_or(r.stdout.len(), |i| doc_start + i);
    let doc = &r.stdout[doc_start..doc_end];
    assert!(doc.contains("\n          \"Effect\": \"Deny\",\n") && !doc.contains("\\u{"), "{doc}");
    assert!(doc.contains(r#"i-0'$(touch pwned)\"\n\u001b[31m\u202ex"#), "{doc}");
    let cmd = r.stdout.lines().find_map(|l| l.strip_prefix("  command: ")).expect("the command").to_owned();
    assert!(
        cmd.starts_with(&format!(
            "aws iam put-role-policy --role-name {role} --policy-name {SURGICAL} --policy-document '"
        )),
        "{cmd}"
    );
    // Pasted into a POSIX shell, the document is one word and means what the plan says.
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("aws() {{ for a in \"$@\"; do last=$a; done; printf %s \"$last\"; }}\n{cmd}"))
        .current_dir(dir.path())
        .output()
        .expect("run sh");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("the pasted document is JSON");
    assert_eq!(doc["Statement"][0]["Condition"]["StringLike"]["aws:userid"], format!("{role_id}:{session}"));
    assert!(!dir.path().join("pwned").exists(), "the command substitution ran");
    assert!(policy(&iam, role, SURGICAL).await.is_none(), "a plan changes nothing");
}
