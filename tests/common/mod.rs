//! Helpers shared by the integration test binaries: run the real binary, read its outputs, golden files.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Python of the test virtualenv (tests/run.sh installs tests/requirements.txt into
/// target/moto-venv), or TRAILHOUND_TEST_PYTHON; fails with what to do when it cannot import `modules`
/// (comma-separated, as Python's `import` takes them).
pub fn test_python(modules: &str) -> PathBuf {
    let p = std::env::var_os("TRAILHOUND_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/moto-venv/bin/python"));
    let ok = Command::new(&p).args(["-c", &format!("import {modules}")]).output().is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "{} cannot import {modules}: run the suite with `bash tests/run.sh` (it installs \
         tests/requirements.txt into target/moto-venv), or set TRAILHOUND_TEST_PYTHON",
        p.display()
    );
    p
}

pub fn fixture(rel: &str) -> PathBuf {
    root().join("fixtures").join(rel)
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub summary: serde_json::Value,
}

/// Runs `trailhound scan ARGS... --summary <tmp>` and returns its outputs.
pub fn scan(args: &[&str]) -> Run {
    let dir = tempfile::tempdir().expect("temp dir");
    let summary_path = dir.path().join("summary.json");
    let out = Command::new(env!("CARGO_BIN_EXE_trailhound"))
        .arg("scan")
        .args(args)
        .arg("--summary")
        .arg(&summary_path)
        .output()
        .expect("run trailhound");
    let summary = std::fs::read_to_string(&summary_path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(serde_json::Value::Null);
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        summary,
    }
}

pub fn lines(s: &str) -> Vec<serde_json::Value> {
    s.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).expect("JSON line")).collect()
}

pub fn keys_of(findings: &[serde_json::Value]) -> Vec<String> {
    let mut v: Vec<String> = findings.iter().map(|f| f["access_key_id"].as_str().unwrap_or("").to_owned()).collect();
    v.sort();
    v
}

/// Compares `actual` with `tests/golden/<name>`; `UPDATE_GOLDEN=1` rewrites the file instead.
pub fn golden(name: &str, actual: &str) {
    let path = root().join("tests/golden").join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).expect("write golden");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("golden file {} missing ({e}); run with UPDATE_GOLDEN=1 to create it", path.display())
    });
    assert_eq!(
        actual,
        expected,
        "output differs from {}; rerun with UPDATE_GOLDEN=1 if the change is intended",
        path.display()
    );
}

/// `../shared/corpora/<name>`, or `None` when absent outside CI. Under `CI=true` a missing corpus fails.
pub fn shared_corpus(name: &str) -> Option<PathBuf> {
    let p = root().join("../shared/corpora").join(name);
    if p.is_dir() {
        return Some(p);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true but the shared corpus {} is missing", p.display());
    }
    eprintln!("note: {} is absent; this acceptance check needs it (it is required under CI=true)", p.display());
    None
}

pub fn path_str(p: &Path) -> String {
    p.display().to_string()
}

/// The moto server started by `tests/run.sh`; a test that needs it fails (never skips) without it.
pub fn moto(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is not set: this test needs moto's server. Run the suite with `bash tests/run.sh`, which installs moto in target/moto-venv and starts it.")
    })
}

/// Runs `trailhound ARGS...` against an endpoint with the given credentials.
pub fn run_with_aws(args: &[&str], endpoint: &str, key: &str, secret: &str) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_trailhound"))
        .args(args)
        .arg("--endpoint-url")
        .arg(endpoint)
        .env("AWS_ACCESS_KEY_ID", key)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("run trailhound");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        summary: serde_json::Value::Null,
    }
}

/// An SDK configuration for seeding and checking moto directly.
pub async fn sdk(endpoint: &str, key: &str, secret: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_iam::config::Credentials::new(key, secret, None, None, "test"))
        .load()
        .await
}

/// Names unique to this run, so the suite can run again against the same server.
pub fn uniq(name: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() % 1_000_000_000;
    format!("{name}-{t}-{}-{}", std::process::id() % 10_000, N.fetch_add(1, Ordering::Relaxed))
}
