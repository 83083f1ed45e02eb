//! The Athena engine, offline. The queries of `queries/` run for real: transpiled Trino -> DuckDB by
//! sqlglot (tests/athena/trailtable.py documents every construct DuckDB spells differently), over a
//! DuckDB table shaped like AWS's documented CloudTrail table built from the fixtures and corpora.
//! Their rows, mapped to facts and absorbed by the detector, must give the local engine's findings.
//! End to end, the real aws-sdk-athena client talks to tests/athena/endpoint.py, which executes each
//! query in DuckDB the same way, pages by 1,000 rows and can fail or be slow on demand.

mod common;

use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use trailhound::athena::client::ResultTable;
use trailhound::detect::facts::Facts;
use trailhound::detect::{DetectConfig, DetectOptions, Detector};

/// Python with duckdb, sqlglot: see `common::test_python`.
fn python() -> PathBuf {
    test_python("duckdb, sqlglot")
}

/// The window both engines read: everything from 2000 to 2100, so records without a time drop
/// out of both alike.
const SINCE: &str = "2000-01-01";
const UNTIL: &str = "2100-01-01";
const SINCE_MS: i64 = 946_684_800_000;
const UNTIL_MS: i64 = 4_102_444_800_000;

fn window() -> trailhound::athena::Window {
    trailhound::athena::Window {
        since_ms: SINCE_MS,
        until_ms: UNTIL_MS,
        margin_ms: 0,
        accounts: vec![],
        regions: vec![],
    }
}

/// Runs every query over `inputs` in DuckDB; returns the JSON of tests/athena/run_queries.py.
fn duck_rows_in(inputs: &[&Path], w: &trailhound::athena::Window) -> Value {
    let params = serde_json::to_string(&w.parameters()).unwrap();
    let out = Command::new(python())
        .arg(root().join("tests/athena/run_queries.py"))
        .arg(root().join("queries"))
        .arg(params)
        .args(inputs)
        .output()
        .expect("run run_queries.py");
    assert!(out.status.success(), "run_queries.py failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("run_queries.py prints JSON")
}

fn facts_of(rows: &Value) -> Facts {
    let mut facts = Facts::default();
    for q in trailhound::athena::QUERIES {
        let r = &rows[q.name];
        let table = ResultTable {
            columns: serde_json::from_value(r["columns"].clone()).unwrap(),
            rows: serde_json::from_value(r["rows"].clone()).unwrap(),
        };
        trailhound::athena::rows::add(q.name, &table, &mut facts).unwrap();
    }
    facts.normalized()
}

fn athena_findings(inputs: &[&Path]) -> Vec<Value> {
    athena_findings_in(inputs, &window())
}

fn athena_findings_in(inputs: &[&Path], w: &trailhound::athena::Window) -> Vec<Value> {
    let facts = facts_of(&duck_rows_in(inputs, w));
    let mut d = Detector::new(DetectConfig::load(&DetectOptions::default()).unwrap());
    d.absorb(&facts);
    d.finish().findings.iter().map(|f| serde_json::to_value(f).unwrap()).collect()
}

fn local_findings(inputs: &[&Path], extra: &[&str]) -> Vec<Value> {
    let mut args: Vec<String> = inputs.iter().map(|p| path_str(p)).collect();
    args.extend(["-q", "--format", "json", "--since", SINCE, "--until", UNTIL].map(String::from));
    args.extend(extra.iter().map(|s| s.to_string()));
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = scan(&a);
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {} {}", r.stdout, r.stderr))
}

fn assert_same_findings(inputs: &[&Path]) -> usize {
    let local = local_findings(inputs, &[]);
    let athena = athena_findings(inputs);
    assert_eq!(
        serde_json::to_string_pretty(&athena).unwrap(),
        serde_json::to_string_pretty(&local).unwrap(),
        "Athena's facts judged differently from the local scan of {inputs:?}"
    );
    local.len()
}

#[test]
fn sql_gives_the_local_findings_on_invictus() {
    let n = assert_same_findings(&[&fixture("corpora/invictus-ir")]);
    assert_eq!(n, 1, "the excerpt's one theft");
}

#[test]
fn sql_gives_the_local_findings_on_otrf() {
    let n = assert_same_findings(&[&fixture("corpora/otrf")]);
    assert!(n >= 1, "the OTRF proxy exfiltration is found");
}

#[test]
fn sql_gives_the_local_findings_on_stratus() {
    let n = assert_same_findings(&[&fixture("corpora/stratus")]);
    assert!(n >= 1, "Stratus' stolen instance credentials are found");
}

#[test]
fn sql_gives_the_local_findings_on_the_scenario_fixtures() {
    assert_same_findings(&[&fixture("scenarios/chain"), &fixture("scenarios/userkey")]);
    // Presigned links and identity checks: the `auth_method` and `replayed` columns.
    let n = assert_same_findings(&[&fixture("scenarios/redeemed")]);
    assert_eq!(n, 4, "the thief's key and three keys whose signatures were redeemed");
    // Instances terminated (a TerminateInstances naming two): the head's `target_instance_id` list.
    let n = assert_same_findings(&[&fixture("scenarios/terminated")]);
    assert_eq!(n, 2, "the key used after its instance was terminated, and a link opened after");
}

#[test]
fn sql_gives_the_local_findings_on_the_shared_corpora() {
    for name in ["invictus-ir-aws-dataset", "stratus-red-team-detonation-logs"] {
        if let Some(dir) = shared_corpus(name) {
            assert_same_findings(&[&dir]);
        }
    }
}

#[test]
fn every_query_reads_only_the_window_s_partitions() {
    // One day of the invictus excerpt, then a window on another day: pruning reads nothing.
    let params = |since: &str, until: &str| {
        let w = trailhound::athena::Window {
            since_ms: trailhound::time::parse_bound(since).unwrap(),
            until_ms: trailhound::time::parse_bound(until).unwrap(),
            ..window()
        };
        serde_json::to_string(&w.parameters()).unwrap()
    };
    for (since, until, expect_zero) in [("2023-07-10", "2023-07-11", false), ("2023-07-12", "2023-07-13", true)] {
        let out = Command::new(python())
            .arg(root().join("tests/athena/run_queries.py"))
            .arg(root().join("queries"))
            .arg(params(since, until))
            .arg(fixture("corpora/invictus-ir"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        for q in trailhound::athena::QUERIES {
            let scanned = v[q.name]["bytes_scanned"].as_u64().unwrap();
            let all = v[q.name]["bytes_unpruned"].as_u64().unwrap();
            assert!(all > 0);
            if expect_zero {
                assert_eq!(scanned, 0, "{}: a window on another day reads nothing", q.name);
                assert!(v[q.name]["rows"].as_array().unwrap().is_empty());
            } else {
                assert_eq!(scanned, all, "{}: the excerpt is all one day", q.name);
            }
        }
    }
}

/// The generator's scenario suite (every planted theft and hard negative), whole and for one account
/// and region.
#[test]
fn sql_gives_the_local_findings_on_the_generated_scenarios() {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_trailhound"));
    let generator = bin.parent().unwrap().join("examples").join("gen_corpus");
    assert!(generator.exists(), "{} is missing: run `bash tests/run.sh` (it builds the examples)", generator.display());
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(&generator)
        .arg("--out")
        .arg(dir.path())
        .args(["--scenarios-only", "--scenario", "all", "--seed", "7"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let exact = |v: Vec<Value>| serde_json::to_string_pretty(&v).unwrap();
    let local = local_findings(&[dir.path()], &[]);
    assert!(local.len() > 20, "the planted thefts are found: {}", local.len());
    assert_eq!(exact(athena_findings(&[dir.path()])), exact(local));

    // One account and one region: the partitions and the records are kept alike.
    let mut accounts: Vec<String> = std::fs::read_dir(dir.path().join("AWSLogs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    accounts.sort();
    let w = trailhound::athena::Window {
        accounts: vec![accounts[0].clone()],
        regions: vec!["us-east-1".into()],
        ..window()
    };
    let local = local_findings(&[dir.path()], &["--account", &accounts[0], "--region", "us-east-1"]);
    let athena = athena_findings_in(&[dir.path()], &w);
    assert!(!local.is_empty() && local.len() < 57, "a part of the findings: {}", local.len());
    assert_eq!(exact(athena), exact(local));
}
