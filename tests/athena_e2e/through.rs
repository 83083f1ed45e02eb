//! `report`, `timeline` and `revoke` through Athena: the same results as the local commands, on the
//! scenario fixtures, the generated scenarios and the real corpora.

use super::*;

/// The chain and user-key scenario fixtures (three objects over three days).
fn scenario_dirs() -> Vec<PathBuf> {
    vec![fixture("scenarios/chain"), fixture("scenarios/userkey")]
}

/// `dirs` uploaded to a fresh bucket of moto's S3, each file under its path in its folder
/// (`AWSLogs/...`); returns the bucket.
fn trail_in_moto(moto_url: &str, dirs: &[PathBuf]) -> String {
    let bucket = uniq("th-athena-objects");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let cfg = sdk(moto_url, "testing", "testing").await;
        let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&cfg).force_path_style(true).build());
        s3.create_bucket().bucket(&bucket).send().await.expect("create bucket");
        for base in dirs {
            let mut stack = vec![base.clone()];
            while let Some(d) = stack.pop() {
                for e in std::fs::read_dir(&d).unwrap() {
                    let p = e.unwrap().path();
                    if p.is_dir() {
                        stack.push(p);
                    } else {
                        let key = p.strip_prefix(base).unwrap().to_string_lossy().replace('\\', "/");
                        let body = std::fs::read(&p).unwrap();
                        s3.put_object().bucket(&bucket).key(&key).body(body.into()).send().await.expect("put object");
                    }
                }
            }
        }
    });
    bucket
}

/// The endpoint over `dirs`, their files' "$path" being their S3 URLs in `bucket`.
fn endpoint_for(bucket: &str, dirs: &[PathBuf]) -> Endpoint {
    let roots: Vec<String> = dirs.iter().map(|d| format!("{}=s3://{bucket}/", path_str(d))).collect();
    let mut extra = Vec::new();
    for r in &roots {
        extra.extend(["--s3-root", r.as_str()]);
    }
    let inputs: Vec<&Path> = dirs.iter().map(PathBuf::as_path).collect();
    Endpoint::start(&inputs, &extra)
}

/// `trailhound ARGS` with Athena at the endpoint, S3 at moto, and the wide window.
fn with_s3(ep: &Endpoint, moto_url: &str, args: &[&str]) -> std::process::Output {
    let mut c = aws_cmd(&ep.url, "us-east-1");
    c.env("AWS_ENDPOINT_URL_S3", moto_url).args(args).args(WINDOW).arg("-q");
    c.output().unwrap()
}

/// The Athena run succeeded and printed, byte for byte, what the local run printed (not nothing).
fn assert_same(local: &std::process::Output, athena: &std::process::Output, what: &str) {
    assert!(athena.status.success(), "{what}: {}", String::from_utf8_lossy(&athena.stderr));
    assert!(!local.stdout.is_empty(), "{what}");
    assert_eq!(String::from_utf8_lossy(&athena.stdout), String::from_utf8_lossy(&local.stdout), "{what}");
}

const ENGINE: [&str; 6] = ["--engine", "athena", "--athena-database", "trails", "--athena-table", "cloudtrail_logs"];

#[test]
fn report_through_athena_is_the_local_report() {
    let moto_url = moto("TRAILHOUND_TEST_MOTO");
    let bucket = trail_in_moto(&moto_url, &scenario_dirs());
    let ep = endpoint_for(&bucket, &scenario_dirs());
    let whole = format!("s3://{bucket}/");
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.json");
    for format in ["json", "md", "csv", "html"] {
        let local = with_s3(&ep, &moto_url, &["report", &whole, "--key", "ASIAVICTIMKEY0000001", "--format", format]);
        assert!(local.status.success(), "{}", String::from_utf8_lossy(&local.stderr));
        let mut args = vec!["report", "--key", "ASIAVICTIMKEY0000001", "--format", format];
        args.extend(ENGINE);
        let sp = path_str(&summary);
        args.extend(["--summary", &sp]);
        let athena = with_s3(&ep, &moto_url, &args);
        assert_same(&local, &athena, &format!("report --format {format}"));
    }
    // The first round names the chain's object, whose minting edges add two keys; the second round
    // asks for the three, finds no new key and stops.
    // Each round names only the chain's object, one of the trail's three.
    let stats = ep.stats();
    let rounds: Vec<&Value> = stats.iter().filter(|s| s["name"] == "objects").collect();
    assert_eq!(rounds.len(), 4 * 2, "two rounds per report");
    for r in &rounds {
        let rows = r["rows"].as_array().unwrap();
        assert_eq!(rows.len(), 1, "{r}");
        assert!(rows[0][0].as_str().unwrap().contains("ChainFixture0001"), "{r}");
        let params = r["params"].as_array().unwrap();
        assert_eq!(params.len(), 15);
    }
    assert_eq!(rounds[0]["params"][12], "'ASIAVICTIMKEY0000001'");
    // The second round asks for the key minted (AssumeRole) and the key created (CreateAccessKey).
    assert_eq!(rounds[1]["params"][12], "'AKIAPERSISTKEY000001/ASIACHAINEDKEY000001/ASIAVICTIMKEY0000001'");
    let s: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    assert_eq!(s["athena"]["queries"].as_array().unwrap().len(), 8, "six aggregates and two rounds: {s}");
    assert_eq!(s["inputs_read"], 1, "one object streamed: {s}");
}

#[test]
fn timeline_through_athena_is_the_local_timeline() {
    let moto_url = moto("TRAILHOUND_TEST_MOTO");
    let bucket = trail_in_moto(&moto_url, &scenario_dirs());
    let ep = endpoint_for(&bucket, &scenario_dirs());
    let whole = format!("s3://{bucket}/");
    let selections: [&[&str]; 3] =
        [&["--role", "web-app-role"], &["--session", "i-0a1b2c3d4e5f60718"], &["--key", "ASIACHAINEDKEY000001"]];
    for sel in selections {
        for format in ["json", "table"] {
            let mut args = vec!["timeline", &whole, "--format", format];
            args.extend(sel);
            let local = with_s3(&ep, &moto_url, &args);
            assert!(local.status.success(), "{}", String::from_utf8_lossy(&local.stderr));
            let mut args = vec!["timeline", "--format", format];
            args.extend(sel);
            args.extend(ENGINE);
            let athena = with_s3(&ep, &moto_url, &args);
            assert_same(&local, &athena, &format!("timeline {sel:?} --format {format}"));
        }
    }
    for r in ep.stats().iter().filter(|s| s["name"] == "objects") {
        assert_eq!(r["rows"].as_array().unwrap().len(), 1, "one object of three: {r}");
    }
}

#[test]
fn report_and_timeline_through_athena_take_no_input() {
    let mut args = vec!["timeline", "some/folder", "--role", "r"];
    args.extend(ENGINE);
    args.extend(WINDOW);
    let out = Command::new(env!("CARGO_BIN_EXE_trailhound")).args(&args).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not INPUT (some/folder)"));
    let mut args = vec!["report", "--key", "ASIAVICTIMKEY0000001"];
    args.extend(ENGINE);
    let out = Command::new(env!("CARGO_BIN_EXE_trailhound")).args(&args).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs --since"), "{}", String::from_utf8_lossy(&out.stderr));
}

/// The chain fixture with one record per object: each round of the report's narrowing finds
/// objects the previous one could not name.
fn chain_split_by_record(dir: &Path) -> PathBuf {
    let src = fixture(
        "scenarios/chain/AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/20/\
         111122223333_CloudTrail_us-east-1_20261120T1010Z_ChainFixture0001.json",
    );
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(src).unwrap()).unwrap();
    let day = dir.join("split/AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/20");
    std::fs::create_dir_all(&day).unwrap();
    for (i, rec) in doc["Records"].as_array().unwrap().iter().enumerate() {
        let name = format!("111122223333_CloudTrail_us-east-1_20261120T1100Z_Split{i:04}.json");
        std::fs::write(day.join(name), serde_json::to_vec(&serde_json::json!({ "Records": [rec] })).unwrap()).unwrap();
    }
    dir.join("split")
}

#[test]
fn report_through_athena_follows_the_chain_across_objects() {
    let moto_url = moto("TRAILHOUND_TEST_MOTO");
    let tmp = tempfile::tempdir().unwrap();
    let dirs = vec![chain_split_by_record(tmp.path()), fixture("scenarios/userkey")];
    let bucket = trail_in_moto(&moto_url, &dirs);
    let ep = endpoint_for(&bucket, &dirs);
    let whole = format!("s3://{bucket}/");
    // From the chained key: its minting call names the stolen key (upstream), its CreateAccessKey a
    // long-term key (downstream); the stolen key's delivery by EC2 is in yet another object.
    let key = "ASIACHAINEDKEY000001";
    let local = with_s3(&ep, &moto_url, &["report", &whole, "--key", key, "--format", "json"]);
    assert!(local.status.success(), "{}", String::from_utf8_lossy(&local.stderr));
    let mut args = vec!["report", "--key", key, "--format", "json"];
    args.extend(ENGINE);
    let athena = with_s3(&ep, &moto_url, &args);
    assert_same(&local, &athena, "report of the chained key");
    let report: Value = serde_json::from_slice(&athena.stdout).unwrap();
    let upstream = report["upstream"].as_array().unwrap();
    assert_eq!(upstream[0]["access_key_id"], "ASIAVICTIMKEY0000001", "{report}");
    assert_eq!(upstream[0]["provenance"]["invoked_by"], "ec2.amazonaws.com", "found in the second round: {report}");
    let stats = ep.stats();
    let rounds: Vec<&Value> = stats.iter().filter(|s| s["name"] == "objects").collect();
    let named: Vec<usize> = rounds.iter().map(|r| r["rows"].as_array().unwrap().len()).collect();
    // Round 1 (the chained key) names its records and its minting call, which add the stolen key
    // (upstream) and the created key; round 2 names their records too, the stolen key's delivery by
    // EC2 among them, and finds no new key.
    assert_eq!(rounds.len(), 2, "rounds: {named:?}");
    assert!(named[1] > named[0], "the second round names the upstream key's objects too: {named:?}");
    let total = 21 + 2;
    assert!(named[1] < total, "{} of {total} objects", named[1]);
}

#[test]
fn revoke_from_an_athena_scan_plans_what_the_local_scan_plans() {
    let dirs = scenario_dirs();
    let ep = Endpoint::start(&[&dirs[0], &dirs[1]], &[]);
    let emit = ["--emit", "--before", "2026-11-20T10:30:00Z"];
    let mut local = aws_cmd(&ep.url, "us-east-1");
    local.args(["revoke", "--from-scan"]).args(&dirs).args(WINDOW).args(emit);
    let local = local.output().unwrap();
    assert!(local.status.success(), "{}", String::from_utf8_lossy(&local.stderr));
    let mut athena = aws_cmd(&ep.url, "us-east-1");
    athena.args(["revoke", "--from-scan"]).args(ENGINE).args(WINDOW).args(emit);
    let athena = athena.output().unwrap();
    assert!(athena.status.success(), "{}", String::from_utf8_lossy(&athena.stderr));
    let plan = String::from_utf8_lossy(&athena.stdout);
    // The scan's findings name the roles (their sessions expired long ago: nothing is denied, and the
    // explicit cutoff keeps both plans free of "now").
    assert!(plan.contains("Role web-app-role: ") && plan.contains("Role admin-role: "), "{plan}");
    assert_eq!(plan, String::from_utf8_lossy(&local.stdout));
    let names: Vec<String> = ep.stats().iter().map(|s| s["name"].as_str().unwrap().to_owned()).collect();
    assert_eq!(names, ["accounts", "deliveries", "addresses", "minted", "humans", "uses"]);
    // The local --from-scan keeps the same window: from the 21st, the chain of the 20th is left out.
    let mut later = aws_cmd(&ep.url, "us-east-1");
    let later = later.args(["revoke", "--from-scan"]).args(&dirs).args(["--since", "2026-11-21"]).args(emit).output();
    let later = String::from_utf8_lossy(&later.unwrap().stdout).into_owned();
    assert!(later.contains("Role batch") && !later.contains("Role web-app-role"), "{later}");
    // The engine needs --from-scan, and --from-scan with Athena takes no INPUT.
    let mut bad = aws_cmd(&ep.url, "us-east-1");
    let out = bad.args(["revoke", "--role", "r", "--emit"]).args(ENGINE).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("--engine athena goes with --from-scan"));
    let mut bad = aws_cmd(&ep.url, "us-east-1");
    let out = bad.args(["revoke", "--from-scan", "x/y"]).args(ENGINE).args(WINDOW).output().unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not INPUT (x/y)"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The generator's scenario suite (45 objects over 2 accounts and 2 regions, every planted theft):
/// reports and timelines through Athena are the local ones, key by key and role by role.
#[test]
fn reports_and_timelines_through_athena_on_the_generated_scenarios() {
    let moto_url = moto("TRAILHOUND_TEST_MOTO");
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_trailhound"));
    let generator = bin.parent().unwrap().join("examples").join("gen_corpus");
    assert!(generator.exists(), "{} is missing: run `bash tests/run.sh` (it builds the examples)", generator.display());
    let tmp = tempfile::tempdir().unwrap();
    let trail = tmp.path().join("trail");
    let out = Command::new(&generator)
        .arg("--out")
        .arg(&trail)
        .args(["--scenarios-only", "--scenario", "all", "--seed", "7"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::remove_file(trail.join("ground_truth.json")).unwrap();
    let dirs = vec![trail.clone()];
    let bucket = trail_in_moto(&moto_url, &dirs);
    let ep = endpoint_for(&bucket, &dirs);
    let whole = format!("s3://{bucket}/");

    let findings_file = tmp.path().join("findings.json");
    let scan = with_s3(&ep, &moto_url, &["scan", &whole, "--format", "json", "-o", &path_str(&findings_file)]);
    assert_eq!(scan.status.code(), Some(1), "findings: {}", String::from_utf8_lossy(&scan.stderr));
    let findings: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(&findings_file).unwrap()).unwrap();
    assert!(findings.len() > 20, "{}", findings.len());

    let same = |what: &str, local: &[&str], athena: &[&str]| {
        let l = with_s3(&ep, &moto_url, local);
        assert!(l.status.success(), "{what}: {}", String::from_utf8_lossy(&l.stderr));
        let a = with_s3(&ep, &moto_url, athena);
        assert!(a.status.success(), "{what}: {}", String::from_utf8_lossy(&a.stderr));
        assert!(l.stdout.len() > 100, "{what}: {}", String::from_utf8_lossy(&l.stdout));
        assert_eq!(String::from_utf8_lossy(&a.stdout), String::from_utf8_lossy(&l.stdout), "{what}");
    };
    // Every finding's key at once, then a few one by one.
    let ff = path_str(&findings_file);
    let mut athena = vec!["report", "--finding", &ff, "--format", "json"];
    athena.extend(ENGINE);
    same("report of every finding", &["report", &whole, "--finding", &ff, "--format", "json"], &athena);
    let mut roles = Vec::new();
    for f in findings.iter().step_by(19) {
        let key = f["access_key_id"].as_str().unwrap();
        let mut athena = vec!["report", "--key", key, "--format", "json"];
        athena.extend(ENGINE);
        same(&format!("report {key}"), &["report", &whole, "--key", key, "--format", "json"], &athena);
        if let Some(role) = f["role_arn"].as_str().filter(|r| !r.is_empty()) {
            roles.push(role.to_owned());
        }
    }
    roles.sort();
    roles.dedup();
    assert!(roles.len() >= 2, "{roles:?}");
    roles.truncate(2);
    for role in &roles {
        let mut athena = vec!["timeline", "--role", role, "--format", "json"];
        athena.extend(ENGINE);
        same(&format!("timeline {role}"), &["timeline", &whole, "--role", role, "--format", "json"], &athena);
    }
    // One key's report names a few of the trail's objects, not all of them.
    let stats = ep.stats();
    let named: Vec<usize> =
        stats.iter().filter(|s| s["name"] == "objects").map(|s| s["rows"].as_array().unwrap().len()).collect();
    eprintln!("objects named per objects query: {named:?} (of 45)");
    assert!(named.iter().any(|&n| n > 0 && n < 45), "{named:?}");
}

/// The real corpora (invictus-ir, stratus, otrf: exports without CloudTrail's folder layout) in one
/// bucket: each finding's report and its role's timeline through Athena are the local ones.
#[test]
fn reports_and_timelines_through_athena_on_the_real_corpora() {
    let moto_url = moto("TRAILHOUND_TEST_MOTO");
    let tmp = tempfile::tempdir().unwrap();
    let trail = tmp.path().join("trail");
    for corpus in ["invictus-ir", "stratus", "otrf"] {
        let to = trail.join(corpus);
        std::fs::create_dir_all(&to).unwrap();
        for e in std::fs::read_dir(fixture(&format!("corpora/{corpus}"))).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "json") {
                std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
            }
        }
    }
    let dirs = vec![trail.clone()];
    let bucket = trail_in_moto(&moto_url, &dirs);
    let ep = endpoint_for(&bucket, &dirs);
    let whole = format!("s3://{bucket}/");
    let scan = with_s3(&ep, &moto_url, &["scan", &whole, "--format", "json"]);
    let findings: Vec<Value> = serde_json::from_slice(&scan.stdout).expect("findings");
    assert_eq!(findings.len(), 3, "one theft per corpus");
    for f in &findings {
        let key = f["access_key_id"].as_str().unwrap();
        let role = f["role_arn"].as_str().unwrap();
        let runs: [(Vec<&str>, Vec<&str>); 2] = [
            (
                vec!["report", &whole, "--key", key, "--format", "json"],
                vec!["report", "--key", key, "--format", "json"],
            ),
            (
                vec!["timeline", &whole, "--role", role, "--format", "json"],
                vec!["timeline", "--role", role, "--format", "json"],
            ),
        ];
        for (local, mut athena) in runs {
            athena.extend(ENGINE);
            let l = with_s3(&ep, &moto_url, &local);
            assert!(l.status.success(), "{local:?}: {}", String::from_utf8_lossy(&l.stderr));
            let a = with_s3(&ep, &moto_url, &athena);
            assert!(a.status.success(), "{athena:?}: {}", String::from_utf8_lossy(&a.stderr));
            assert!(l.stdout.len() > 100);
            assert_eq!(String::from_utf8_lossy(&a.stdout), String::from_utf8_lossy(&l.stdout), "{athena:?}");
        }
    }
    let named: Vec<usize> =
        ep.stats().iter().filter(|s| s["name"] == "objects").map(|s| s["rows"].as_array().unwrap().len()).collect();
    eprintln!("objects named per objects query: {named:?} (of 15)");
    assert!(named.iter().all(|&n| n > 0 && n < 15), "{named:?}");
}
