//! `report` (blast radius) and `timeline` on a fixture with a planted theft, role chaining and
//! persistence, and attacker-controlled strings; plus the invictus acceptance check. The hardening
//! regressions (outputs inert to log content, user keys, provenance) are in `report/hardening.rs`.

mod common;
#[path = "report/hardening.rs"]
mod hardening;

use common::*;
use serde_json::Value;
use std::process::Command;

const STOLEN: &str = "ASIAVICTIMKEY0000001";
const CHAINED: &str = "ASIACHAINEDKEY000001";

fn run(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_trailhound")).args(args).output().expect("run trailhound");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        summary: Value::Null,
    }
}

fn chain_dir() -> String {
    path_str(&fixture("scenarios/chain"))
}

fn report(format: &str) -> Run {
    let r = run(&["report", &chain_dir(), "--key", STOLEN, "--format", format, "-q"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    r
}

#[test]
fn blast_radius_follows_the_chain_and_classifies_impact() {
    let r = report("json");
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let keys: Vec<(String, Value)> = v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["access_key_id"].as_str().unwrap().to_owned(), k["minted_by"].clone()))
        .collect();
    // The access key the chained session created is part of the chain (it has no calls here).
    assert_eq!(
        keys,
        [
            (STOLEN.to_owned(), Value::Null),
            (CHAINED.to_owned(), Value::String(STOLEN.into())),
            ("AKIAPERSISTKEY000001".to_owned(), Value::String(CHAINED.into()))
        ]
    );
    assert_eq!(v["keys"][2]["via"], "CreateAccessKey");
    // The stolen key's provenance: EC2 delivered it to the instance.
    assert_eq!(v["keys"][0]["provenance"]["invoked_by"], "ec2.amazonaws.com");
    assert_eq!(v["keys"][1]["provenance"]["source_ip"], "45.33.32.156");
    assert_eq!(v["window"]["start"], "2026-11-20T09:01:00Z");
    assert_eq!(v["window"]["end"], "2026-11-20T10:25:00Z");
    let events = v["events"].as_array().unwrap();
    for e in events {
        for f in ["event_id", "event_time", "event_source", "event_name", "access_key_id", "source_ip", "error_code"] {
            assert!(e.get(f).is_some(), "event lacks {f}");
        }
        let k = e["access_key_id"].as_str().unwrap();
        assert!(k == STOLEN || k == CHAINED, "an event of another key: {e}");
    }
    assert_eq!(events.len(), 15);
    let impact = v["impact"].as_array().unwrap();
    let has = |cat: &str, name: &str| {
        impact.iter().any(|i| i["category"] == cat && i["event_name"] == name && i["error_code"].is_null())
    };
    for (cat, name) in [
        ("persistence", "CreateUser"),
        ("persistence", "CreateAccessKey"),
        ("persistence", "AttachUserPolicy"),
        ("defense_evasion", "StopLogging"),
        ("exposure", "ModifySnapshotAttribute"),
        ("data_access", "GetSecretValue"),
        ("cost", "RunInstances"),
    ] {
        assert!(has(cat, name), "{cat} {name} missing: {impact:?}");
    }
    let created_key = impact.iter().find(|i| i["event_name"] == "CreateAccessKey").unwrap();
    assert!(created_key["detail"].as_str().unwrap().contains("AKIAPERSISTKEY000001"));
    assert_eq!(created_key["from_flagged_origin"], true);
    assert_eq!(v["instance_types_launched"], serde_json::json!(["p3.16xlarge"]));
    assert_eq!(v["denied_calls"], 4);
    let remediation =
        v["remediation"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect::<Vec<_>>().join("\n");
    for want in [
        "--role web-app-role --session i-0a1b2c3d4e5f60718",
        r#"delete-access-key --user-name '=cmd|'\'' /C calc'\''!A0' --access-key-id AKIAPERSISTKEY000001"#,
        "StartLogging",
        "IMDSv2 on instance i-0a1b2c3d4e5f60718",
        "Unshare",
    ] {
        assert!(remediation.contains(want), "remediation lacks {want}: {remediation}");
    }
    golden("report-chain.json", &r.stdout);
}

#[test]
fn html_is_self_contained_and_golden() {
    let r = report("html");
    assert!(r.stdout.starts_with("<!DOCTYPE html>"));
    assert!(r.stdout.contains("<svg"), "no timeline picture");
    for external in ["src=\"http", "href=\"http", "<script", "<link", "@import", "url("] {
        assert!(!r.stdout.contains(external), "HTML fetches or runs something: {external}");
    }
    golden("report-chain.html", &r.stdout);
}

/// On a laptop screen (1280 px) no table is wider than the window: long cells (ARNs, request
/// parameters) break anywhere, short ones keep their words (screenshot: tests/golden/report-chain.png).
#[test]
fn html_long_cells_wrap_within_the_window() {
    let html = report("html").stdout;
    assert!(html.contains("table{border-collapse:collapse;font-size:13px;margin:.5em 0;max-width:100%}"));
    assert!(html.contains("td.w{overflow-wrap:anywhere"), "no wrap rule for long cells");
    assert!(html.contains("svg{max-width:100%"), "the timeline picture can push the page wider");
    assert!(
        html.contains("<td class=\"w\">arn:aws:sts::111122223333:assumed-role/web-app-role/i-0a1b2c3d4e5f60718</td>"),
        "a principal ARN is not marked long"
    );
    assert!(html.contains("<td>AssumeRole</td>"), "a short cell is marked long");
}

#[test]
fn attacker_strings_are_inert_in_every_format() {
    let html = report("html").stdout;
    // The fixture puts <script>, "><img onerror=...> and =cmd|... into user agents, session names and
    // request parameters.
    assert!(!html.contains("<img"), "raw <img in HTML");
    assert!(!html.contains("<b>"), "raw markup from request parameters in HTML");
    assert!(html.contains("&lt;script&gt;alert(&quot;ua&quot;)&lt;/script&gt;"));
    assert!(html.contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"));
    let md = report("md").stdout;
    assert!(!md.contains("<script") && !md.contains("<img"), "raw markup in Markdown");
    let csv_text = report("csv").stdout;
    let mut rdr = csv::Reader::from_reader(csv_text.as_bytes());
    let mut rows = 0;
    for rec in rdr.records() {
        for cell in rec.unwrap().iter() {
            assert!(!cell.starts_with(['=', '+', '-', '@', '\t', '\r']), "formula cell {cell:?}");
        }
        rows += 1;
    }
    assert_eq!(rows, 15);
    // Session tokens from the delivery and the AssumeRole responses never reach an output.
    let timeline = run(&["timeline", &chain_dir(), "--role", "web-app-role", "--format", "json", "-q"]).stdout;
    let dump = scan(&[&chain_dir(), "--dump-events", "-q"]).stdout;
    for (name, out) in [
        ("html", &html),
        ("md", &md),
        ("csv", &csv_text),
        ("json", &report("json").stdout),
        ("timeline", &timeline),
        ("dump", &dump),
    ] {
        assert!(!out.contains("SECRETTOKEN"), "session token in {name} output");
    }
}

#[test]
fn findings_file_starts_the_same_report() {
    let dir = tempfile::tempdir().unwrap();
    let findings = dir.path().join("f.json");
    let s = scan(&[&chain_dir(), "-q", "--format", "json"]);
    assert_eq!(s.code, 1, "the theft is found: {}", s.stderr);
    std::fs::write(&findings, &s.stdout).unwrap();
    let by_finding = run(&["report", &chain_dir(), "--finding", &path_str(&findings), "--format", "json", "-q"]);
    assert_eq!(by_finding.stdout, report("json").stdout);
}

#[test]
fn timeline_of_the_role() {
    let r = run(&[
        "timeline",
        &chain_dir(),
        "--role",
        "arn:aws:iam::111122223333:role/web-app-role",
        "--format",
        "json",
        "-q",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let t: Value = serde_json::from_str(&r.stdout).unwrap();
    let issued: Vec<&str> =
        t["issued"].as_array().unwrap().iter().map(|i| i["access_key_id"].as_str().unwrap()).collect();
    assert_eq!(issued, [STOLEN, "ASIAVICTIMKEY0000002"]);
    assert!(t["issued"].as_array().unwrap().iter().all(|i| i["issued_by"] == "ec2.amazonaws.com"));
    let flagged: Vec<(&str, &str)> = t["uses"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["flagged"] == true)
        .map(|u| (u["access_key_id"].as_str().unwrap(), u["source_ip"].as_str().unwrap()))
        .collect();
    assert_eq!(flagged, [(STOLEN, "45.33.32.156")]);
    assert_eq!(t["revocations"][0]["policy_name"], "AWSRevokeOlderSessions");
    let denied = t["denied_after_revocation"].as_array().unwrap();
    assert_eq!(denied.len(), 1);
    assert_eq!(denied[0]["event_name"], "ListBuckets");
    let text = run(&["timeline", &chain_dir(), "--session", "i-0a1b2c3d4e5f60718", "-q"]).stdout;
    assert!(text.contains("Flagged keys: ASIAVICTIMKEY0000001"), "{text}");
    assert!(text.contains("!! ASIAVICTIMKEY0000001  from 45.33.32.156"), "{text}");
}

#[test]
fn invictus_report_lists_only_the_stolen_keys_two_calls() {
    let Some(dir) = shared_corpus("invictus-ir-aws-dataset") else { return };
    let r = run(&["report", &path_str(&dir), "--key", "ASIATFQR7NSC36DZQP7P", "--format", "json", "-q"]);
    assert_eq!(r.code, 0, "LICENSE and README are ignored (not CloudTrail): {}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let calls: Vec<(&str, &str)> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["event_name"].as_str().unwrap(), e["access_key_id"].as_str().unwrap()))
        .collect();
    assert_eq!(calls, [("GetCallerIdentity", "ASIATFQR7NSC36DZQP7P"), ("DescribeInstances", "ASIATFQR7NSC36DZQP7P")]);
    assert_eq!(v["keys"].as_array().unwrap().len(), 1);
}
