//! What a new user meets first: shell completions, the man page, `--help` and `--version`, and the AWS
//! environment variables honoured as the AWS CLI and SDKs do (against two moto servers started by
//! `tests/run.sh`, one playing S3 and the other IAM).

mod common;

use common::*;
use serde_json::{Value, json};
use std::io::Write;
use std::process::{Command, Output};

const SUBCOMMANDS: [&str; 10] =
    ["scan", "report", "timeline", "export", "revoke", "respond", "lambda", "athena", "completions", "man"];

fn trailhound(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trailhound")).args(args).output().expect("run trailhound")
}

fn stdout(o: &Output) -> String {
    assert!(o.status.success(), "exit {:?}: {}", o.status.code(), String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout.clone()).expect("UTF-8 output")
}

#[test]
fn bash_completions_parse_and_name_every_subcommand_and_flag() {
    let script = stdout(&trailhound(&["completions", "bash"]));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trailhound.bash");
    std::fs::write(&path, &script).unwrap();
    let check = Command::new("bash").arg("-n").arg(&path).output().expect("run bash -n");
    assert!(check.status.success(), "bash -n: {}", String::from_utf8_lossy(&check.stderr));
    for sub in SUBCOMMANDS {
        assert!(script.contains(&format!("cmd=\"trailhound__subcmd__{sub}\"")), "no completion for {sub}");
    }
    for flag in ["--aws-region", "--endpoint-url", "--profile", "--since", "--trusted-cidr", "--apply", "--dir"] {
        assert!(script.contains(flag), "no completion for {flag}");
    }
    // Sourcing it registers the completion function for the command.
    let loaded = Command::new("bash")
        .arg("-c")
        .arg(format!("source {} && complete -p trailhound", path.display()))
        .output()
        .expect("run bash");
    assert!(String::from_utf8_lossy(&loaded.stdout).contains("_trailhound"), "{loaded:?}");
}

#[test]
fn completions_for_every_shell_name_the_subcommands() {
    for (shell, marker) in [
        ("zsh", "#compdef trailhound"),
        ("fish", "complete -c trailhound"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let script = stdout(&trailhound(&["completions", shell]));
        assert!(script.contains(marker), "{shell}: no {marker:?}");
        for sub in SUBCOMMANDS {
            assert!(script.contains(sub), "{shell}: no {sub}");
        }
        assert!(script.contains("aws-region"), "{shell}: no --aws-region");
    }
    let bad = trailhound(&["completions", "tcsh"]);
    assert_eq!(bad.status.code(), Some(2), "an unknown shell is an argument error");
}

#[test]
fn man_page_is_roff_and_renders() {
    let page = stdout(&trailhound(&["man"]));
    assert!(page.contains(".TH trailhound 1"), "no title");
    for section in [".SH NAME", ".SH SYNOPSIS", ".SH SUBCOMMANDS", ".SH \"EXIT STATUS\"", ".SH EXAMPLE", ".SH VERSION"]
    {
        assert!(page.contains(section), "no {section}");
    }
    // groff is on the project's machines (groff-base); it renders the page as man(1) would.
    let mut groff = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("groff (Debian package groff-base) renders man pages");
    groff.stdin.take().unwrap().write_all(page.as_bytes()).unwrap();
    let out = groff.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && err.trim().is_empty(), "groff: {err}");
    // Bold is drawn by overstriking: keep the plain letters.
    let plain = strip_overstrike(&String::from_utf8_lossy(&out.stdout));
    assert!(plain.contains("EXIT STATUS"), "{plain}");
    assert!(plain.contains("trailhound-scan(1)"), "{plain}");
    assert!(plain.contains("AWS ip-ranges snapshot"), "{plain}");
}

/// `a\bb` (overstrike) -> `b`.
fn strip_overstrike(s: &str) -> String {
    let mut out: Vec<char> = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{8}' {
            out.pop();
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out.into_iter().collect()
}

#[test]
fn man_dir_writes_a_page_per_command() {
    let dir = tempfile::tempdir().unwrap();
    let o = trailhound(&["man", "--dir", &path_str(dir.path())]);
    stdout(&o);
    for name in ["trailhound"].into_iter().chain(SUBCOMMANDS.iter().map(|s| s.to_owned())) {
        let file = if name == "trailhound" { "trailhound.1".to_owned() } else { format!("trailhound-{name}.1") };
        let page = std::fs::read_to_string(dir.path().join(&file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(page.contains(".SH \"EXIT STATUS\"") && page.contains(".SH EXAMPLE"), "{file}");
    }
}

#[test]
fn every_help_ends_with_exit_status_and_an_example() {
    let mut helps = vec![("trailhound".to_owned(), stdout(&trailhound(&["--help"])))];
    for sub in SUBCOMMANDS {
        helps.push((sub.to_owned(), stdout(&trailhound(&[sub, "--help"]))));
    }
    for (name, help) in helps {
        let status = help.find("Exit status:\n").unwrap_or_else(|| panic!("{name}: no exit status\n{help}"));
        let example = help.find("\nExample:\n  trailhound ").unwrap_or_else(|| panic!("{name}: no example\n{help}"));
        assert!(status < example, "{name}: the example comes last");
        let tail = &help[example + "\nExample:\n".len()..];
        assert_eq!(tail.trim_end().lines().count(), 1, "{name}: one example, and it ends the help:\n{tail}");
        assert!(help[status..example].contains("  0  ") && help[status..example].contains("  2  "), "{name}");
    }
}

#[test]
fn version_names_the_ip_ranges_snapshot_date() {
    let v = stdout(&trailhound(&["--version"]));
    // The snapshot's createDate, src/detect/ip-ranges.json.gz.
    let gz = std::fs::read(root().join("src/detect/ip-ranges.json.gz")).unwrap();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut text).unwrap();
    let date = serde_json::from_str::<Value>(&text).unwrap()["createDate"].as_str().unwrap().to_owned();
    let day = &date[..10];
    assert!(v.starts_with(&format!("trailhound {} ", env!("CARGO_PKG_VERSION"))), "{v}");
    assert!(v.contains(&format!("AWS ip-ranges snapshot {day} ")), "{v} does not name {date}");
}

// AWS environment, as the CLI and SDKs read it.

/// Runs `trailhound ARGS` with only the AWS variables given (no `--endpoint-url`), debug logs on.
fn run_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trailhound"));
    cmd.args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("TRAILHOUND_LOG", "trailhound::aws=debug");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run trailhound");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        summary: Value::Null,
    }
}

/// A trail bucket on `endpoint` holding one file of two records; returns its URL.
async fn trail_bucket(endpoint: &str) -> String {
    let cfg = sdk(endpoint, "testing", "testing").await;
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&cfg).force_path_style(true).build());
    let bucket = uniq("split");
    s3.create_bucket().bucket(&bucket).send().await.expect("create bucket");
    let recs: Vec<Value> = (0..2)
        .map(|i| {
            json!({"eventVersion": "1.08", "eventTime": format!("2026-11-01T11:0{i}:00Z"), "eventSource": "ec2.amazonaws.com",
                "eventName": "DescribeInstances", "awsRegion": "us-east-1", "sourceIPAddress": "3.225.16.109",
                "recipientAccountId": "111122223333", "eventID": format!("{bucket}-{i}"),
                "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/ops", "accountId": "111122223333"}})
        })
        .collect();
    let body = serde_json::to_vec(&json!({ "Records": recs })).unwrap();
    s3.put_object().bucket(&bucket).key("trail.json").body(body.into()).send().await.expect("put object");
    format!("s3://{bucket}/")
}

/// The region the debug log says the SDK configuration resolved.
fn resolved_region(r: &Run) -> String {
    let line = r.stderr.lines().find(|l| l.contains("AWS configuration")).unwrap_or_else(|| panic!("{}", r.stderr));
    let start = line.find("region=Some(Region(\"").unwrap_or_else(|| panic!("{line}")) + "region=Some(Region(\"".len();
    line[start..].split('"').next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn service_specific_endpoint_variables_are_honoured() {
    let s3_moto = moto("TRAILHOUND_TEST_MOTO");
    let iam_moto = moto("TRAILHOUND_TEST_MOTO_IAM");
    let url = trail_bucket(&s3_moto).await;
    let role = uniq("split-role");
    let iam = aws_sdk_iam::Client::new(&sdk(&iam_moto, "testing", "testing").await);
    iam.create_role()
        .role_name(&role)
        .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[]}"#)
        .send()
        .await
        .expect("create role");
    // Everything not named goes to a dead endpoint: only the service-specific variables can work.
    let env = [
        ("AWS_REGION", "us-east-1"),
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
        ("AWS_ENDPOINT_URL_S3", s3_moto.as_str()),
        ("AWS_ENDPOINT_URL_IAM", iam_moto.as_str()),
        ("AWS_ENDPOINT_URL_STS", iam_moto.as_str()),
    ];
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("s.json");
    let scan = run_env(&["scan", &url, "-q", "--no-detect", "--summary", &path_str(&summary)], &env);
    assert_eq!(scan.code, 0, "scan via AWS_ENDPOINT_URL_S3: {}", scan.stderr);
    let s: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    assert_eq!((s["inputs_read"].as_u64(), s["records"].as_u64()), (Some(1), Some(2)), "{s}");
    let plan = run_env(&["revoke", "--role", &role, "--all-sessions"], &env);
    assert_eq!(plan.code, 0, "revoke plan via AWS_ENDPOINT_URL_IAM: {}", plan.stderr);
    assert!(plan.stdout.contains(&role) && plan.stdout.contains("Plan only"), "{}", plan.stdout);
    // The role exists only on the IAM server, the bucket only on the S3 one: each went where it was sent.
    let swapped = [("AWS_ENDPOINT_URL_S3", iam_moto.as_str()), ("AWS_ENDPOINT_URL_IAM", s3_moto.as_str())];
    let mut env2 = env.to_vec();
    env2.retain(|(k, _)| !k.starts_with("AWS_ENDPOINT_URL_S3") && *k != "AWS_ENDPOINT_URL_IAM");
    env2.extend(swapped);
    let plan = run_env(&["revoke", "--role", &role, "--all-sessions"], &env2);
    assert_eq!(plan.code, 2, "the role is not on the S3 server: {}{}", plan.stdout, plan.stderr);
    // --endpoint-url still sends every service to one place.
    let forced = run_env(&["scan", &url, "-q", "--no-detect", "--endpoint-url", &s3_moto], &env);
    assert_eq!(forced.code, 0, "{}", forced.stderr);
}

/// `scan` of a moto bucket with a config file of two profiles: the region the SDK resolved.
async fn region_scanner() -> impl Fn(&[&str], &[(&str, &str)]) -> String {
    let s3_moto = moto("TRAILHOUND_TEST_MOTO");
    let url = trail_bucket(&s3_moto).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::write(&config, "[profile ir]\nregion = eu-north-1\n[default]\nregion = sa-east-1\n").unwrap();
    move |extra: &[&str], env: &[(&str, &str)]| {
        let cfg = path_str(&config);
        let _keep = &dir;
        let mut args = vec!["scan", url.as_str(), "-q", "--no-detect", "--endpoint-url", s3_moto.as_str()];
        args.extend_from_slice(extra);
        let mut e = vec![("AWS_CONFIG_FILE", cfg.as_str())];
        e.extend_from_slice(env);
        let r = run_env(&args, &e);
        assert_eq!(r.code, 0, "{extra:?} {env:?}: {}", r.stderr);
        resolved_region(&r)
    }
}

/// `--profile ir` used to take the region of AWS_PROFILE's profile (or of [default]).
#[tokio::test]
async fn profile_flag_gives_its_own_region_whatever_aws_profile_says() {
    let scan = region_scanner().await;
    assert_eq!(scan(&["--profile", "ir"], &[("AWS_PROFILE", "nosuch")]), "eu-north-1");
    assert_eq!(scan(&["--profile", "ir"], &[]), "eu-north-1");
}

#[tokio::test]
async fn region_and_profile_follow_the_aws_cli() {
    let scan = region_scanner().await;
    // AWS_REGION before AWS_DEFAULT_REGION, both before the profile's region.
    assert_eq!(scan(&[], &[("AWS_REGION", "eu-west-3"), ("AWS_DEFAULT_REGION", "ap-south-1")]), "eu-west-3");
    assert_eq!(scan(&[], &[("AWS_DEFAULT_REGION", "ap-south-1")]), "ap-south-1");
    assert_eq!(scan(&[], &[("AWS_PROFILE", "ir"), ("AWS_DEFAULT_REGION", "ap-south-1")]), "ap-south-1");
    // AWS_PROFILE picks the profile; without it, [default].
    assert_eq!(scan(&[], &[("AWS_PROFILE", "ir")]), "eu-north-1");
    assert_eq!(scan(&[], &[]), "sa-east-1");
    // --aws-region beats them all (`--region` is the record filter, not the client's region).
    assert_eq!(scan(&["--aws-region", "ca-central-1"], &[("AWS_REGION", "eu-west-3")]), "ca-central-1");
}
