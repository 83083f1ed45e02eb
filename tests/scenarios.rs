//! Detection on generated trails (examples/gen_corpus): hard negatives must stay quiet, planted thefts
//! must all be found, with `first_seen` at the first malicious event. Ground truth comes from the
//! generator's `ground_truth.json`.

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn generator() -> PathBuf {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_trailhound"));
    let g = bin.parent().unwrap().join("examples").join("gen_corpus");
    assert!(
        g.exists(),
        "{} is missing: run the suite with `bash tests/run.sh`, which builds it (cargo build --examples)",
        g.display()
    );
    g
}

fn generate(dir: &std::path::Path, args: &[&str]) -> Value {
    let out = std::process::Command::new(generator()).arg("--out").arg(dir).args(args).output().unwrap();
    assert!(out.status.success(), "generator failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(&std::fs::read_to_string(dir.join("ground_truth.json")).unwrap()).unwrap()
}

/// Scans the corpus with every flag the scenarios ask for and checks each scenario's expectation.
fn check(dir: &std::path::Path, truth: &Value) -> BTreeMap<String, Value> {
    let mut args = vec![path_str(dir), "-q".into(), "--format".into(), "json".into()];
    for s in truth["scenarios"].as_array().unwrap() {
        for f in s["flags"].as_array().unwrap() {
            args.push(f.as_str().unwrap().to_owned());
        }
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = scan(&args);
    // ground_truth.json sits beside the trail: it is the one input that is not CloudTrail.
    let skipped: Vec<&str> =
        r.summary["inputs_skipped"].as_array().unwrap().iter().map(|k| k["input"].as_str().unwrap()).collect();
    assert!(skipped.len() == 1 && skipped[0].ends_with("ground_truth.json"), "{skipped:?}");
    assert_eq!(r.summary["inputs_partial"].as_array().unwrap().len(), 0);
    assert_eq!(r.code, 4, "partial (the ground truth file) with findings: {}", r.stderr);
    let findings: Vec<Value> = serde_json::from_str(&r.stdout).unwrap();
    let by_key: BTreeMap<String, Value> =
        findings.iter().map(|f| (f["access_key_id"].as_str().unwrap().to_owned(), f.clone())).collect();
    let mut explained = 0;
    for s in truth["scenarios"].as_array().unwrap() {
        let name = s["name"].as_str().unwrap();
        let keys: Vec<&str> = s["keys"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        let malicious: Vec<&str> = s["malicious_keys"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        match s["expected"].as_str().unwrap() {
            "none" => {
                for k in keys {
                    assert!(!by_key.contains_key(k), "hard negative {name}: {k} flagged: {}", by_key[k]["reasons"]);
                }
            }
            "finding" => {
                for k in &malicious {
                    let f = by_key.get(*k).unwrap_or_else(|| panic!("planted theft {name}: {k} not found"));
                    assert_eq!(
                        f["first_seen"], s["first_malicious_time"],
                        "{name}: first_seen must be the first malicious event"
                    );
                    explained += 1;
                }
                for k in keys.iter().filter(|k| !malicious.contains(k)) {
                    assert!(
                        !by_key.contains_key(*k),
                        "{name}: the workload's own key {k} flagged: {}",
                        by_key[*k]["reasons"]
                    );
                }
            }
            other => panic!("unknown expectation {other}"),
        }
    }
    assert_eq!(explained, findings.len(), "findings outside the planted thefts: {findings:#?}");
    by_key
}

#[test]
fn scenarios_hard_negatives_quiet_and_thefts_found() {
    let dir = tempfile::tempdir().unwrap();
    let truth = generate(dir.path(), &["--scenarios-only", "--scenario", "all", "--seed", "7"]);
    let by_key = check(dir.path(), &truth);
    let scenario =
        |name: &str| truth["scenarios"].as_array().unwrap().iter().find(|s| s["name"] == name).unwrap().clone();
    let conf = |name: &str| {
        by_key[scenario(name)["malicious_keys"][0].as_str().unwrap()]["confidence"].as_str().unwrap().to_owned()
    };
    // A thief behind the instance's own NAT is found, with less confidence than the others.
    assert_eq!(conf("theft_behind_nat"), "low");
    for name in ["theft_outside_aws", "theft_attacker_first", "theft_lambda", "theft_ecs"] {
        assert_eq!(conf(name), "high", "{name}");
    }
    let other = &by_key[scenario("theft_other_aws")["malicious_keys"][0].as_str().unwrap()];
    assert_eq!(other["kind"], "exfiltration.inside_aws");
    assert!(other["signals"].as_array().unwrap().iter().any(|s| s == "not_workload_origin"));
    let lambda = &by_key[scenario("theft_lambda")["malicious_keys"][0].as_str().unwrap()];
    assert_eq!(lambda["workload"], "lambda");
    assert_eq!(by_key[scenario("theft_ecs")["malicious_keys"][0].as_str().unwrap()]["workload"], "ecs");
}

#[test]
fn background_population_raises_nothing_but_the_thefts() {
    // Six hours of two accounts in two regions (NAT, VPC endpoints, Lambda, ECS, people, services)
    // with every scenario planted into it.
    let dir = tempfile::tempdir().unwrap();
    let truth = generate(dir.path(), &["--size", "30MB", "--scenario", "all", "--seed", "11"]);
    check(dir.path(), &truth);
}

#[test]
fn trusted_cidr_is_what_keeps_onprem_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let truth = generate(dir.path(), &["--scenarios-only", "--scenario", "trusted_onprem", "--seed", "3"]);
    let keys: Vec<String> =
        truth["scenarios"][0]["keys"].as_array().unwrap().iter().map(|k| k.as_str().unwrap().to_owned()).collect();
    let r = scan(&[&path_str(dir.path()), "-q", "--format", "json"]);
    let findings: Vec<Value> = serde_json::from_str(&r.stdout).unwrap();
    assert!(
        findings.iter().any(|f| keys.iter().any(|k| f["access_key_id"] == k.as_str())),
        "without the allow list the on-prem use is reported"
    );
}
