//! Acceptance on real logs written by others: committed excerpts in `fixtures/corpora` (always) and the
//! full corpora in `../shared/corpora` (required under `CI=true`). Ground truth: `../shared/corpora/README.md`.

mod common;

use common::*;

fn findings(args: &[&str]) -> (Vec<serde_json::Value>, Run) {
    let mut a = args.to_vec();
    a.extend(["-q", "--format", "json"]);
    let r = scan(&a);
    let f: Vec<serde_json::Value> = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout));
    (f, r)
}

/// The run-independent part of a findings document, for golden comparison.
fn golden_json(f: &[serde_json::Value]) -> String {
    serde_json::to_string_pretty(f).unwrap() + "\n"
}

#[test]
fn invictus_excerpt_flags_only_the_imdsv1_key() {
    let (f, r) = findings(&[&path_str(&fixture("corpora/invictus-ir"))]);
    assert_eq!(keys_of(&f), ["ASIATFQR7NSC36DZQP7P"], "{}", r.stdout);
    let x = &f[0];
    assert_eq!(x["workload"], "ec2");
    assert_eq!(x["session_name"], "i-0dbc91f429e48eeed");
    assert_eq!(x["source_ips"], serde_json::json!(["192.168.10.20"]));
    assert_eq!(x["expected_origins"], serde_json::json!(["3.225.16.109"]));
    assert_eq!(x["first_seen"], "2023-07-10T11:57:22Z");
    assert_eq!(x["event_count"], 2);
    assert_eq!(x["session_issued_at"], "2023-07-10T11:55:22Z");
    assert_eq!(x["confidence"], "high");
    let signals: Vec<&str> = x["signals"].as_array().unwrap().iter().filter_map(|s| s.as_str()).collect();
    for s in ["human_origin", "not_workload_origin", "client_differs", "imds_v1", "never_used_by_workload"] {
        assert!(signals.contains(&s), "missing signal {s}: {signals:?}");
    }
    assert!(x["role_id"].as_str().unwrap().starts_with("AROA"));
    golden("findings-invictus-excerpt.json", &golden_json(&f));
}

#[test]
fn license_files_beside_logs_are_ignored_not_partial() {
    // The README's first screen: the committed corpora hold LICENSE and NOTICE.md files beside the logs.
    let (f, r) = findings(&[&path_str(&fixture("corpora"))]);
    assert_eq!(r.code, 1, "findings, complete run: {}", r.stderr);
    assert!(!f.is_empty());
    let s = &r.summary;
    assert_eq!(s["inputs_skipped"].as_array().unwrap().len(), 0, "{s}");
    assert_eq!(s["inputs_partial"].as_array().unwrap().len(), 0, "{s}");
    let ignored: Vec<&str> = s["inputs_ignored"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["input"].as_str().unwrap().rsplit('/').next().unwrap())
        .collect();
    assert!(!ignored.is_empty(), "{s}");
    for name in &ignored {
        assert!(["LICENSE", "NOTICE.md", "EXPECTED.md"].contains(name), "{name} ignored: {s}");
    }
    assert_eq!(s["inputs_read"].as_u64().unwrap() + ignored.len() as u64, s["inputs_total"].as_u64().unwrap());
}

#[test]
fn stratus_and_otrf_thefts_are_found() {
    let (f, _) =
        findings(&[&path_str(&fixture("corpora/stratus/aws.credential-access.ec2-steal-instance-credentials.json"))]);
    assert_eq!(keys_of(&f), ["ASIAP5CT9NN8EYVU1FXV"]);
    assert!(f[0]["signals"].as_array().unwrap().iter().any(|s| s == "human_origin"));
    golden("findings-stratus.json", &golden_json(&f));

    let (f, _) = findings(&[&path_str(&fixture("corpora/otrf/ec2_proxy_s3_exfiltration_2020-09-14011940.json"))]);
    assert_eq!(keys_of(&f), ["ASIA5FLZVX4OPVKKVBMX"]);
    assert_eq!(f[0]["kind"], "exfiltration.outside_aws");
    assert_eq!(f[0]["event_count"], 11);
    assert_eq!(f[0]["session_name"], "i-0317f6c6b66ae9c40");
    golden("findings-otrf.json", &golden_json(&f));
}

#[test]
fn panther_labelled_events_one_by_one() {
    // Each test event stands alone: the same example key is reused across unrelated tests.
    let text =
        std::fs::read_to_string(fixture("corpora/panther/aws_imds_credential_exfiltration_tests.jsonl")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for (i, line) in text.lines().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let expected = v["expected_result"].as_bool().unwrap();
        let path = dir.path().join(format!("{i}.jsonl"));
        std::fs::write(&path, line).unwrap();
        let (f, r) = findings(&[&path_str(&path)]);
        assert_eq!(!f.is_empty(), expected, "panther test {:?}: {}", v["test_name"], r.stdout);
        checked += 1;
    }
    assert_eq!(checked, 10);
}

struct Expect {
    folder: &'static str,
    records: u64,
    duplicates: u64,
    keys: &'static [&'static str],
    /// Inputs that are not CloudTrail: the only ones listed, as ignored (none skipped).
    ignored: &'static [&'static str],
}

const SHARED: &[Expect] = &[
    Expect {
        folder: "invictus-ir-aws-dataset",
        records: 2900,
        duplicates: 0,
        keys: &["ASIATFQR7NSC36DZQP7P"],
        ignored: &["LICENSE", "README.md"],
    },
    Expect {
        folder: "stratus-red-team-detonation-logs",
        records: 310,
        duplicates: 0,
        keys: &["ASIAP5CT9NN8EYVU1FXV"],
        ignored: &[],
    },
    // The zip holds the same JSON Lines file as the folder: its 103 records are read and counted as duplicates.
    Expect {
        folder: "otrf-security-datasets",
        records: 103,
        duplicates: 103,
        keys: &["ASIA5FLZVX4OPVKKVBMX"],
        ignored: &["SDAWS-200914011940.yaml"],
    },
    Expect { folder: "traildiscover", records: 314, duplicates: 249, keys: &[], ignored: &[] },
];

#[test]
fn shared_corpora_counts_and_findings() {
    for e in SHARED {
        let Some(dir) = shared_corpus(e.folder) else { continue };
        let (f, r) = findings(&[&path_str(&dir)]);
        let s = &r.summary;
        assert_eq!(s["records"], e.records, "{}: {s}", e.folder);
        assert_eq!(s["duplicates"], e.duplicates, "{}: {s}", e.folder);
        assert_eq!(s["inputs_partial"].as_array().unwrap().len(), 0, "{}: {s}", e.folder);
        assert_eq!(s["inputs_skipped"].as_array().unwrap().len(), 0, "{}: {s}", e.folder);
        let mut ignored: Vec<&str> = s["inputs_ignored"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["input"].as_str().unwrap().rsplit('/').next().unwrap())
            .collect();
        ignored.sort();
        assert_eq!(ignored, e.ignored, "{}: only non-CloudTrail files are ignored", e.folder);
        assert_eq!(keys_of(&f), e.keys, "{}: {}", e.folder, r.stdout);
    }
    // The stolen invictus key's siblings stay quiet.
    if let Some(dir) = shared_corpus("invictus-ir-aws-dataset") {
        let (f, _) = findings(&[&path_str(&dir)]);
        for benign in ["ASIATFQR7NSCSHSEVYP5", "ASIATFQR7NSCWFKWOWVD"] {
            assert!(!keys_of(&f).iter().any(|k| k == benign), "{benign} flagged");
        }
    }
}

#[test]
fn shared_panther_rule_tests_parse() {
    let Some(dir) = shared_corpus("panther-analysis-tests") else { return };
    let r = scan(&[&path_str(&dir.join("aws_cloudtrail_rule_test_events.jsonl")), "-q", "--no-detect"]);
    // 475 wrapped hand-written events; some are deliberately odd (lowercase keys, no event name).
    let s = &r.summary;
    let kept = s["records"].as_u64().unwrap() + s["duplicates"].as_u64().unwrap();
    assert_eq!(kept + s["records_rejected"].as_u64().unwrap(), 475, "{s}");
    assert!(kept > 400, "{s}");
}
