//! `scan --engine athena` end to end: the real aws-sdk-athena client against tests/athena/endpoint.py
//! (Athena's JSON protocol, queries executed in DuckDB, pages of at most 1,000 rows, injectable
//! FAILED and slow states), and against moto's seeded results.

mod common;
/// `report`, `timeline` and `revoke` through Athena.
#[path = "athena_e2e/through.rs"]
mod through;

use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Python with duckdb, sqlglot: see `common::test_python`.
fn python() -> PathBuf {
    test_python("duckdb, sqlglot")
}

/// The test endpoint, stopped when dropped.
struct Endpoint {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Endpoint {
    fn start(inputs: &[&Path], extra: &[&str]) -> Endpoint {
        let dir = tempfile::tempdir().unwrap();
        let port_file = dir.path().join("port");
        let mut child = Command::new(python())
            .arg(root().join("tests/athena/endpoint.py"))
            .arg("--port-file")
            .arg(&port_file)
            .args(extra)
            .args(inputs)
            .stdout(Stdio::null())
            .spawn()
            .expect("start tests/athena/endpoint.py");
        let t = Instant::now();
        let port = loop {
            if let Ok(p) = std::fs::read_to_string(&port_file) {
                break p;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("tests/athena/endpoint.py exited ({status}) before listening");
            }
            assert!(t.elapsed() < Duration::from_secs(120), "tests/athena/endpoint.py did not start");
            std::thread::sleep(Duration::from_millis(50));
        };
        Endpoint { child, url: format!("http://127.0.0.1:{}", port.trim()), _dir: dir }
    }

    fn stats(&self) -> Vec<Value> {
        let out = Command::new(python())
            .args([
                "-c",
                "import sys,urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1]).read().decode())",
            ])
            .arg(format!("{}/__stats", self.url))
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).expect("stats JSON");
        v["executions"].as_array().unwrap().clone()
    }
}

const WINDOW: [&str; 4] = ["--since", "2000-01-01", "--until", "2100-01-01"];

fn athena_cmd(endpoint: &str, region: &str, extra: &[&str]) -> Command {
    let mut c = aws_cmd(endpoint, region);
    c.args(["scan", "--engine", "athena", "--athena-database", "trails", "--athena-table", "cloudtrail_logs"])
        .args(["--athena-output", "s3://athena-results/trailhound/", "--format", "json"])
        .args(WINDOW)
        .args(extra);
    c
}

/// trailhound with fake credentials and Athena at `endpoint`.
fn aws_cmd(endpoint: &str, region: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_trailhound"));
    c.env("AWS_ENDPOINT_URL_ATHENA", endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", region)
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    c
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
    summary: Value,
}

fn run_athena(endpoint: &str, region: &str, extra: &[&str]) -> Out {
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.json");
    let out = athena_cmd(endpoint, region, extra).arg("--summary").arg(&summary).output().unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        summary: std::fs::read_to_string(&summary)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null),
    }
}

fn local(inputs: &[&Path]) -> String {
    let mut args: Vec<String> = inputs.iter().map(|p| path_str(p)).collect();
    args.extend(["-q", "--format", "json"].map(String::from));
    args.extend(WINDOW.map(String::from));
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    scan(&a).stdout
}

#[test]
fn athena_engine_gives_the_local_findings_end_to_end() {
    let inv = fixture("corpora/invictus-ir");
    let ep = Endpoint::start(&[&inv], &["--slow", "2"]);
    let r = run_athena(&ep.url, "us-east-1", &[]);
    assert_eq!(r.code, 1, "findings: {}", r.stderr);
    assert_eq!(r.stdout, local(&[&inv]), "{}", r.stderr);
    // Each query is announced with its bytes and cost; the summary carries the run.
    for q in ["accounts", "deliveries", "addresses", "minted", "humans", "uses"] {
        assert!(r.stderr.contains(&format!("athena {q}: ")), "{}", r.stderr);
    }
    let ath = &r.summary["athena"];
    assert_eq!(ath["queries"].as_array().unwrap().len(), 6, "{}", r.summary);
    let stats = ep.stats();
    assert_eq!(stats.len(), 6);
    let scanned: u64 = stats.iter().map(|s| s["bytes_scanned"].as_u64().unwrap()).sum();
    assert!(scanned > 0);
    assert_eq!(ath["bytes_scanned"].as_u64().unwrap(), scanned);
    let mut tokens: Vec<&str> = stats.iter().map(|s| s["token"].as_str().unwrap()).collect();
    tokens.sort();
    tokens.dedup();
    assert_eq!(tokens.len(), 6, "one idempotency token per query");
    for s in &stats {
        assert_eq!(s["database"], "trails");
        assert_eq!(s["output"], "s3://athena-results/trailhound/");
        let params = s["params"].as_array().unwrap();
        assert_eq!(params.len(), 12, "{s}");
        assert_eq!(params[0], "'2000/01/01'");
    }
}

#[test]
fn results_of_more_than_one_page_are_read_whole() {
    // 2,500 temporary keys, each used once from its own address: 2,500 rows of uses, three pages.
    let dir = tempfile::tempdir().unwrap();
    let day = dir.path().join("AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/20");
    std::fs::create_dir_all(&day).unwrap();
    let records: Vec<Value> = (0..2500)
        .map(|i| {
            serde_json::json!({
                "eventVersion": "1.08", "eventTime": "2026-11-20T10:00:00Z", "eventSource": "s3.amazonaws.com",
                "eventName": "ListBuckets", "awsRegion": "us-east-1", "sourceIPAddress": format!("198.51.{}.{}", i / 250, i % 250),
                "userAgent": "aws-cli/2", "eventID": format!("00000000-0000-4000-8000-{i:012}"), "readOnly": true,
                "recipientAccountId": "111122223333",
                "userIdentity": {"type": "AssumedRole", "accessKeyId": format!("ASIAPAGE{i:012}"),
                    "arn": format!("arn:aws:sts::111122223333:assumed-role/app/i-{i:08x}"),
                    "principalId": "AROAPAGE:x", "accountId": "111122223333"}
            })
        })
        .collect();
    std::fs::write(
        day.join("111122223333_CloudTrail_us-east-1_20261120T1000Z_Pages.json"),
        serde_json::to_string(&serde_json::json!({ "Records": records })).unwrap(),
    )
    .unwrap();
    let ep = Endpoint::start(&[dir.path()], &[]);
    let r = run_athena(&ep.url, "us-east-1", &[]);
    assert!(r.code == 0 || r.code == 1, "{}", r.stderr);
    let uses =
        r.summary["athena"]["queries"].as_array().unwrap().iter().find(|q| q["name"] == "uses").cloned().unwrap();
    assert_eq!(uses["rows"], 2500, "{}", r.summary);
    assert_eq!(r.stdout, local(&[dir.path()]));
}

#[test]
fn a_failed_query_reports_athena_s_reason() {
    let inv = fixture("corpora/invictus-ir");
    let ep = Endpoint::start(&[&inv], &["--fail", "humans", "--reason", "HIVE_BAD_DATA: Error parsing field value"]);
    let r = run_athena(&ep.url, "us-east-1", &[]);
    assert_eq!(r.code, 2, "an error: {}", r.stderr);
    assert!(r.stderr.contains("Athena query humans"), "{}", r.stderr);
    assert!(r.stderr.contains("HIVE_BAD_DATA: Error parsing field value"), "{}", r.stderr);
    assert!(r.stdout.is_empty(), "no findings from part of the facts: {}", r.stdout);
    let names: Vec<String> = ep.stats().iter().map(|s| s["name"].as_str().unwrap().to_owned()).collect();
    assert!(!names.contains(&"uses".to_owned()), "nothing runs after a failure: {names:?}");
}

#[test]
fn the_scan_budget_stops_the_run_once_passed() {
    let inv = fixture("corpora/invictus-ir");
    let ep = Endpoint::start(&[&inv], &[]);
    // The excerpt is 1.9 MB; every query scans all of it: the budget is passed by the first.
    let r = run_athena(
        &ep.url,
        "us-east-1",
        &["--max-scan-gb", "0.001", "--athena-reuse-minutes", "60", "--athena-workgroup", "ir"],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--max-scan-gb"), "{}", r.stderr);
    let stats = ep.stats();
    assert_eq!(stats.len(), 1, "no query starts once the budget is passed");
    assert_eq!(stats[0]["workgroup"], "ir");
    assert_eq!(
        stats[0]["reuse"],
        serde_json::json!({"ResultReuseByAgeConfiguration": {"Enabled": true, "MaxAgeInMinutes": 60}})
    );
}

#[test]
fn ctrl_c_stops_the_running_query() {
    let inv = fixture("corpora/invictus-ir");
    let ep = Endpoint::start(&[&inv], &["--slow", "100000"]);
    let child = athena_cmd(&ep.url, "us-east-1", &[]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let t = Instant::now();
    while ep.stats().is_empty() {
        assert!(t.elapsed() < Duration::from_secs(60), "no query started");
        std::thread::sleep(Duration::from_millis(100));
    }
    let kill = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    let stats = ep.stats();
    assert_eq!(stats.len(), 1, "{stats:?}");
    assert_eq!(stats[0]["stopped"], true, "StopQueryExecution was called: {stats:?}");
}

#[test]
fn athena_engine_needs_a_window_and_no_inputs() {
    let r = run_athena("http://127.0.0.1:9", "us-east-1", &["fixtures"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("not INPUT"), "{}", r.stderr);
    let out = Command::new(env!("CARGO_BIN_EXE_trailhound"))
        .args(["scan", "--engine", "athena", "--athena-database", "d", "--athena-table", "t"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--since"));
}

#[test]
fn moto_seeded_results_give_the_same_findings() {
    let moto_url = moto("TRAILHOUND_TEST_MOTO");
    let inv = fixture("corpora/invictus-ir");
    // The rows each query gives on the excerpt (computed in DuckDB), seeded in the order they run.
    let params = serde_json::to_string(
        &trailhound::athena::Window {
            since_ms: 946_684_800_000,
            until_ms: 4_102_444_800_000,
            margin_ms: 0,
            accounts: vec![],
            regions: vec![],
        }
        .parameters(),
    )
    .unwrap();
    let out = Command::new(python())
        .arg(root().join("tests/athena/run_queries.py"))
        .arg(root().join("queries"))
        .arg(params)
        .arg(&inv)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
    let region = "eu-west-3";
    let results: Vec<Value> = trailhound::athena::QUERIES
        .iter()
        .map(|q| {
            let cols: Vec<String> = serde_json::from_value(rows[q.name]["columns"].clone()).unwrap();
            let mut table = vec![cols.iter().map(|c| serde_json::json!({"VarCharValue": c})).collect::<Vec<_>>()];
            for r in rows[q.name]["rows"].as_array().unwrap() {
                table.push(
                    r.as_array()
                        .unwrap()
                        .iter()
                        .map(|v| if v.is_null() { serde_json::json!({}) } else { serde_json::json!({"VarCharValue": v}) })
                        .collect(),
                );
            }
            serde_json::json!({
                "rows": table.into_iter().map(|d| serde_json::json!({"Data": d})).collect::<Vec<_>>(),
                "column_info": cols.iter().map(|c| serde_json::json!({"Name": c, "Type": "varchar"})).collect::<Vec<_>>(),
            })
        })
        .collect();
    let seed = serde_json::json!({"account_id": "123456789012", "region": region, "results": results});
    let post = Command::new(python())
        .args([
            "-c",
            "import sys,urllib.request; r=urllib.request.Request(sys.argv[1], data=sys.stdin.buffer.read(), \
             headers={'Content-Type':'application/json'}, method='POST'); urllib.request.urlopen(r)",
        ])
        .arg(format!("{moto_url}/moto-api/static/athena/query-results"))
        .stdin(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(seed.to_string().as_bytes())?;
            c.wait()
        })
        .unwrap();
    assert!(post.success());
    let r = run_athena(&moto_url, region, &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.stdout, local(&[&inv]));
}

#[test]
fn athena_ddl_prints_and_applies_the_table() {
    let out = Command::new(env!("CARGO_BIN_EXE_trailhound"))
        .args(["athena", "ddl", "--location", "s3://org-trail/", "--org", "o-abcde12345", "--account", "111122223333"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let ddl = String::from_utf8_lossy(&out.stdout);
    assert!(ddl.contains("CREATE EXTERNAL TABLE IF NOT EXISTS cloudtrail_logs ("), "{ddl}");
    assert!(ddl.contains("s3://org-trail/AWSLogs/o-abcde12345/${account}/CloudTrail/${region}/${timestamp}"), "{ddl}");
    let bad = Command::new(env!("CARGO_BIN_EXE_trailhound"))
        .args(["athena", "ddl", "--location", "s3://org-trail/'x", "--account", "111122223333"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--location"));

    let ep = Endpoint::start(&[&fixture("corpora/stratus")], &[]);
    let applied = aws_cmd(&ep.url, "us-east-1")
        .args(["athena", "ddl", "--location", "s3://trail", "--account", "111122223333", "--apply"])
        .args(["--athena-database", "security", "--athena-output", "s3://athena-results/"])
        .output()
        .unwrap();
    assert_eq!(applied.status.code(), Some(0), "{}", String::from_utf8_lossy(&applied.stderr));
    let stats = ep.stats();
    assert_eq!(stats.len(), 1);
    assert_eq!(stats[0]["name"], "ddl");
    assert_eq!(stats[0]["database"], "security");
    assert!(
        stats[0]["sql"].as_str().unwrap().contains("'s3://trail/AWSLogs/${account}/CloudTrail/${region}/${timestamp}'")
    );
}

#[test]
fn access_denied_is_named_with_the_permissions_needed() {
    let ep = Endpoint::start(&[&fixture("corpora/stratus")], &["--deny"]);
    let r = run_athena(&ep.url, "us-east-1", &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("access denied"), "{}", r.stderr);
    assert!(r.stderr.contains("athena:StartQueryExecution") && r.stderr.contains("glue:GetTable"), "{}", r.stderr);
    assert!(r.stdout.is_empty());
}
