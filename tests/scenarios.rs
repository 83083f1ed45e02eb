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

/// An origin as an address, however it was written: `ip|vpce-...` (through an endpoint),
/// `::ffff:a.b.c.d`, `a.b.c.d:port`, `fe80::1%eth0`.
fn origin(s: &str) -> String {
    let s = s.split('|').next().unwrap_or(s);
    let s = s.split('%').next().unwrap_or(s);
    let lower = s.to_ascii_lowercase();
    let s = lower.strip_prefix("::ffff:").filter(|v| v.contains('.')).unwrap_or(&lower);
    match s.split_once(':') {
        Some((v4, port)) if v4.contains('.') && port.chars().all(|c| c.is_ascii_digit()) => v4.to_owned(),
        _ => s.to_owned(),
    }
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
    // ground_truth.json sits beside the trail: it is the one input that is not CloudTrail (ignored).
    let ignored: Vec<&str> =
        r.summary["inputs_ignored"].as_array().unwrap().iter().map(|k| k["input"].as_str().unwrap()).collect();
    assert!(ignored.len() == 1 && ignored[0].ends_with("ground_truth.json"), "{ignored:?}");
    assert_eq!(r.summary["inputs_skipped"].as_array().unwrap().len(), 0);
    assert_eq!(r.summary["inputs_partial"].as_array().unwrap().len(), 0);
    assert_eq!(r.code, 1, "complete (the ground truth file ignored) with findings: {}", r.stderr);
    let findings: Vec<Value> = serde_json::from_str(&r.stdout).unwrap();
    let by_key: BTreeMap<String, Value> =
        findings.iter().map(|f| (f["access_key_id"].as_str().unwrap().to_owned(), f.clone())).collect();
    // Every expectation is checked and every failure listed before failing: one run shows the
    // whole picture of a detector under change.
    let mut fails: Vec<String> = Vec::new();
    for s in truth["scenarios"].as_array().unwrap() {
        let name = s["name"].as_str().unwrap();
        let keys: Vec<&str> = s["keys"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        let malicious: Vec<&str> = s["malicious_keys"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        match s["expected"].as_str().unwrap() {
            "none" => {
                for k in keys.iter().filter(|k| by_key.contains_key(**k)) {
                    fails.push(format!("hard negative {name}: {k} flagged: {}", by_key[*k]["reasons"]));
                }
            }
            "finding" => {
                assert!(!malicious.is_empty(), "{name}: a theft scenario without malicious keys");
                for k in &malicious {
                    let Some(f) = by_key.get(*k) else {
                        fails.push(format!("planted theft {name}: {k} not found"));
                        continue;
                    };
                    // Per key: a returning thief's keys each have their own first malicious event.
                    let want = &s["first_malicious_times"][*k];
                    assert!(want.is_string(), "{name}: ground truth lacks first_malicious_times[{k}]");
                    // The offending origins are the thief's, never the workload's own addresses.
                    let thief: Vec<String> = s["malicious_origins"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter_map(Value::as_str)
                        .map(origin)
                        .collect();
                    let named: Vec<String> =
                        f["source_ips"].as_array().unwrap().iter().filter_map(Value::as_str).map(origin).collect();
                    if !thief.is_empty() && named.iter().any(|o| !thief.contains(o)) {
                        fails.push(format!("{name}: {k} names origins {named:?}; the thief's are {thief:?}"));
                    }
                    if f["first_seen"] != *want {
                        fails.push(format!(
                            "{name}: {k} first_seen {} is not the first malicious event {want}",
                            f["first_seen"]
                        ));
                    }
                }
                for k in keys.iter().filter(|k| !malicious.contains(k) && by_key.contains_key(**k)) {
                    fails.push(format!("{name}: the workload's own key {k} flagged: {}", by_key[*k]["reasons"]));
                }
            }
            other => panic!("unknown expectation {other}"),
        }
    }
    let scenario_keys: std::collections::BTreeSet<&str> = truth["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["keys"].as_array().unwrap().iter().filter_map(Value::as_str))
        .collect();
    for (k, f) in &by_key {
        if !scenario_keys.contains(k.as_str()) {
            fails.push(format!("finding outside the scenarios: {k}: {}", f["reasons"]));
        }
    }
    assert!(fails.is_empty(), "{} expectation(s) failed:\n{}", fails.len(), fails.join("\n"));
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

/// Distinct ASIA keys that make calls, and distinct source addresses, from `--dump-events`.
fn keys_and_addresses(dir: &std::path::Path) -> (usize, usize, usize) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_trailhound"))
        .args(["scan", &path_str(dir), "-q", "--dump-events"])
        .output()
        .unwrap();
    let events = lines(&String::from_utf8_lossy(&out.stdout));
    let mut keys = std::collections::BTreeSet::new();
    let mut ips = std::collections::BTreeSet::new();
    for e in &events {
        if let Some(k) = e["access_key_id"].as_str().filter(|k| k.starts_with("ASIA")) {
            keys.insert(k.to_owned());
            ips.insert(e["source_ip"].as_str().unwrap_or("").to_owned());
        }
    }
    (keys.len(), ips.len(), events.len())
}

#[test]
fn mapped_ipv6_is_judged_as_its_ipv4_address() {
    // The proxy written `::ffff:198.18.7.10` is outside AWS: reported without the allow list, quiet
    // with `--trusted-cidr 198.18.7.0/24` (checked with every other scenario by `check`).
    let dir = tempfile::tempdir().unwrap();
    let truth = generate(dir.path(), &["--scenarios-only", "--scenario", "addr_mapped_ipv6", "--seed", "5"]);
    assert_eq!(truth["scenarios"][0]["flags"][1], "198.18.7.0/24");
    let r = scan(&[&path_str(dir.path()), "-q", "--format", "json"]);
    let findings: Vec<Value> = serde_json::from_str(&r.stdout).unwrap();
    let role = |f: &Value, stem: &str| f["role_arn"].as_str().unwrap_or("").contains(stem);
    assert!(findings.iter().any(|f| role(f, "hybrid-mapped")), "the mapped on-prem address is outside AWS");
    let own: Vec<&Value> = findings.iter().filter(|f| role(f, "dualstack-api")).collect();
    assert!(own.is_empty(), "::ffff:<its own EC2 address> is the instance's own address: {own:#?}");
}

#[test]
fn lambda_heavy_shape_has_a_key_per_cold_start_and_raises_nothing() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), &["--shape", "lambda-heavy", "--hours", "3", "--seed", "9"]);
    // Four functions, 2,700 cold starts a day each: about 1,350 keys in 3 hours, each used from
    // its own Lambda egress address (a key whose environment made no call is not counted).
    let (keys, ips, _) = keys_and_addresses(dir.path());
    assert!((1000..=1400).contains(&keys), "{keys} keys");
    assert!(ips >= 1000, "{ips} distinct addresses");
    let r = scan(&[&path_str(dir.path()), "-q", "--format", "json"]);
    let findings: Vec<Value> = serde_json::from_str(&r.stdout).unwrap();
    assert!(findings.is_empty(), "busy functions are benign: {:#?}", &findings[..findings.len().min(3)]);
}

#[test]
fn many_keys_shape_reaches_its_key_target_with_few_events_per_key() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), &["--shape", "many-keys", "--keys", "4000", "--accounts", "2", "--hours", "3"]);
    let (keys, _, events) = keys_and_addresses(dir.path());
    // Keys never used (an environment that made no call) appear only in their delivery record.
    assert!(keys >= 3000, "{keys} keys used");
    assert!(events <= keys * 4, "{events} events for {keys} keys");
}
