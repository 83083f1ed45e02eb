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

// --- Facts: the detector's inputs, grouped (what Athena's queries return, what `respond` keeps). ---

use trailhound::detect::facts::{FactSink, Facts};
use trailhound::detect::{DetectConfig, DetectOptions, Detector, Finding};

/// Scans `inputs` through the library's pipeline, feeding a detector and a fact collector at once.
fn detect_and_collect(inputs: &[String]) -> (Vec<Finding>, Facts) {
    let (findings, facts, _) = scan_with(inputs, 2, 0);
    (findings, facts)
}

/// [`detect_and_collect`] on `threads` workers that hold at most `held` decoded bytes ahead of the
/// merge (0 = the default), with the run's summary.
fn scan_with(inputs: &[String], threads: usize, held: u64) -> (Vec<Finding>, Facts, trailhound::summary::Summary) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let cancel = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let opened = trailhound::source::open(
        inputs,
        &trailhound::source::Prune::default(),
        &trailhound::aws::AwsOptions::default(),
        &rt,
        cancel,
        trailhound::source::FetchOptions { concurrency: 1, buffer_bytes: 16 << 20, max_object_bytes: 0 },
    );
    let opts = trailhound::scan::ScanOptions {
        filter: Default::default(),
        threads,
        progress: false,
        reader: opened.reader.clone(),
        max_input_bytes: 1 << 30,
        max_held_bytes: held,
    };
    let mut detector = Detector::new(DetectConfig::load(&DetectOptions::default()).unwrap());
    let mut facts = FactSink::new();
    let summary = trailhound::scan::run(&opened.feed, &opts, &mut [&mut detector, &mut facts]).unwrap();
    (detector.finish().findings, facts.into_facts(), summary)
}

/// Equal findings, or the first difference in a readable form.
fn same_findings(got: &[Finding], want: &[Finding], what: &str) {
    let keys = |f: &[Finding]| f.iter().map(|x| x.access_key_id.clone()).collect::<Vec<_>>();
    assert_eq!(keys(got), keys(want), "{what}: keys differ");
    for (g, w) in got.iter().zip(want) {
        let (g, w) = (serde_json::to_value(g).unwrap(), serde_json::to_value(w).unwrap());
        for (k, v) in w.as_object().unwrap() {
            assert_eq!(&g[k], v, "{what}: {} differs in {k}", w["access_key_id"]);
        }
    }
}

fn absorbed(parts: &[&Facts]) -> Vec<Finding> {
    let mut d = Detector::new(DetectConfig::load(&DetectOptions::default()).unwrap());
    for f in parts {
        d.absorb(f);
    }
    d.finish().findings
}

/// The files under `dir`, sorted, split in two halves (as two consumers, or two days, would see them).
fn halves(dir: &std::path::Path) -> (Vec<String>, Vec<String>) {
    let mut files: Vec<String> = walk(dir);
    files.sort();
    let second = files.split_off(files.len() / 2);
    (files, second)
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if !p.ends_with("ground_truth.json") {
            out.push(path_str(&p));
        }
    }
    out
}

/// Absorbing the facts of a trail gives the findings observing its events gives: whole, split in two
/// and merged (later half first), absorbed part by part in reverse, and through JSON.
fn assert_facts_equivalent(dir: &std::path::Path) {
    let (findings, facts) = detect_and_collect(&[path_str(dir)]);
    assert!(!facts.uses.is_empty(), "{}: no calls with temporary keys read", dir.display());
    same_findings(&absorbed(&[&facts]), &findings, &format!("{}: absorbing the facts", dir.display()));
    let json = serde_json::to_string(&facts).unwrap();
    let back: Facts = serde_json::from_str(&json).unwrap();
    assert_eq!(back, facts, "facts survive JSON");
    let (a, b) = halves(dir);
    if a.is_empty() || b.is_empty() {
        return;
    }
    let (_, fa) = detect_and_collect(&a);
    let (_, fb) = detect_and_collect(&b);
    same_findings(&absorbed(&[&fb, &fa]), &findings, &format!("{}: halves absorbed in reverse", dir.display()));
    let mut merged = fb.clone();
    merged.merge(fa.clone());
    assert_eq!(merged, facts, "{}: merged halves are the whole's facts", dir.display());
    same_findings(&absorbed(&[&merged]), &findings, &format!("{}: merged halves", dir.display()));
}

#[test]
fn facts_give_the_same_findings_on_generated_scenarios() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), &["--scenarios-only", "--scenario", "all", "--seed", "7"]);
    let (findings, _) = detect_and_collect(&[path_str(dir.path())]);
    assert!(findings.len() > 20, "the scenario suite plants thefts: {}", findings.len());
    assert_facts_equivalent(dir.path());
}

#[test]
fn decoding_ahead_within_a_byte_budget_changes_nothing() {
    // Workers stop decoding ahead once the inputs waiting for the merge hold the budget; the input
    // the merge waits for never waits. A budget of one byte makes every other input wait, on any
    // number of workers: the scan must end, with the same findings, facts and accounting.
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), &["--scenarios-only", "--scenario", "all", "--seed", "7"]);
    let inputs = [path_str(dir.path())];
    let (want, want_facts, want_summary) = scan_with(&inputs, 2, 0);
    assert!(want_summary.inputs_read > 20, "{} inputs", want_summary.inputs_read);
    let counts = |s: &trailhound::summary::Summary| {
        (s.inputs_read, s.records, s.duplicates, s.bytes_decompressed, s.inputs_skipped.len())
    };
    for threads in [1, 2, 8] {
        let (got, facts, summary) = scan_with(&inputs, threads, 1);
        same_findings(&got, &want, &format!("{threads} workers, a budget of one byte"));
        assert_eq!(facts, want_facts, "{threads} workers");
        assert_eq!(counts(&summary), counts(&want_summary), "{threads} workers");
    }
}

#[test]
fn facts_give_the_same_findings_on_committed_corpora() {
    for d in [
        "corpora/invictus-ir",
        "corpora/otrf",
        "corpora/stratus",
        "corpora/panther",
        "scenarios/chain",
        "scenarios/userkey",
        "scenarios/redeemed",
        "scenarios/terminated",
    ] {
        assert_facts_equivalent(&fixture(d));
    }
}

#[test]
fn facts_stay_as_many_as_groups_and_expire() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), &["--size", "8MB", "--scenario", "all", "--seed", "11"]);
    let (_, facts) = detect_and_collect(&[path_str(dir.path())]);
    let calls: u64 = facts.uses.iter().map(|u| u.count).sum();
    assert!((facts.uses.len() as u64) < calls, "{} groups for {calls} calls", facts.uses.len());
    // Merging facts with themselves doubles counts, never groups.
    let mut twice = facts.clone();
    twice.merge(facts.clone());
    assert_eq!(twice.uses.len(), facts.uses.len());
    assert_eq!(twice.uses.iter().map(|u| u.count).sum::<u64>(), 2 * calls);
    // Expiry keeps keys still in use and drops the rest with their deliveries.
    let last = facts.uses.iter().filter_map(|u| u.last_ms).max().unwrap();
    let mut recent = facts.clone();
    recent.expire(last - 3_600_000);
    assert!(!recent.uses.is_empty() && recent.uses.len() < facts.uses.len());
    for u in &recent.uses {
        let key_last =
            recent.uses.iter().filter(|x| x.access_key_id == u.access_key_id).filter_map(|x| x.last_ms).max();
        assert!(key_last.unwrap() >= last - 3_600_000, "{} kept though it ended before the cutoff", u.access_key_id);
    }
    let mut all_gone = facts.clone();
    all_gone.expire(last + 1);
    assert!(all_gone.uses.is_empty() && all_gone.deliveries.iter().all(|d| d.time_ms.is_none()));
}
