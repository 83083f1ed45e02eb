//! `trailhound scan s3://...` against moto's S3 server over real HTTP (started by `tests/run.sh`).

mod common;

use common::*;
use serde_json::{Value, json};
use std::io::Write;

const MOTO: &str = "TRAILHOUND_TEST_MOTO";

async fn s3_client(endpoint: &str, key: &str, secret: &str) -> aws_sdk_s3::Client {
    let cfg = sdk(endpoint, key, secret).await;
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&cfg).force_path_style(true).build())
}

async fn put(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, body: Vec<u8>) {
    s3.put_object().bucket(bucket).key(key).body(body.into()).send().await.expect("put object");
}

fn scan_s3(args: &[&str], endpoint: &str, key: &str, secret: &str) -> (Run, Value) {
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("s.json");
    let mut a = vec!["scan"];
    a.extend_from_slice(args);
    let sp = path_str(&summary);
    a.extend(["--summary", &sp, "-q"]);
    let r = run_with_aws(&a, endpoint, key, secret);
    let s: Value =
        std::fs::read_to_string(&summary).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or(Value::Null);
    (r, s)
}

/// A CloudTrail file of `n` small records delivered at `day`T12:00Z.
fn trail_file(account: &str, region: &str, day: &str, n: usize, tag: &str) -> Vec<u8> {
    let recs: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "eventVersion": "1.08", "eventTime": format!("{day}T11:{:02}:00Z", 10 + i), "eventSource": "ec2.amazonaws.com",
                "eventName": "DescribeInstances", "awsRegion": region, "sourceIPAddress": "3.225.16.109",
                "userAgent": "aws-cli/2.15.0", "recipientAccountId": account, "readOnly": true,
                "eventID": format!("{tag}-{account}-{region}-{day}-{i}"),
                "userIdentity": {"type": "IAMUser", "arn": format!("arn:aws:iam::{account}:user/ops"), "accountId": account}
            })
        })
        .collect();
    let text = serde_json::to_vec(&json!({ "Records": recs })).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&text).unwrap();
    gz.finish().unwrap()
}

fn trail_key(org: Option<&str>, account: &str, region: &str, day: &str) -> String {
    let (y, m, d) = (&day[0..4], &day[5..7], &day[8..10]);
    let compact = day.replace('-', "");
    let org = org.map(|o| format!("{o}/")).unwrap_or_default();
    format!(
        "AWSLogs/{org}{account}/CloudTrail/{region}/{y}/{m}/{d}/{account}_CloudTrail_{region}_{compact}T1200Z_abcdefgh12345678.json.gz"
    )
}

#[tokio::test]
async fn disk_and_s3_give_identical_findings_and_counts() {
    let endpoint = moto(MOTO);
    let s3 = s3_client(&endpoint, "testing", "testing").await;
    let bucket = uniq("th-same");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let local = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(fixture("corpora/invictus-ir")).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(local.path().join(&name), &bytes).unwrap();
        put(&s3, &bucket, &format!("exports/invictus/{name}"), bytes).await;
    }
    let disk = scan(&[&path_str(local.path()), "-q", "--format", "json"]);
    let url = format!("s3://{bucket}/exports/invictus/");
    let (remote, summary) = scan_s3(&[&url, "--format", "json"], &endpoint, "testing", "testing");
    assert_eq!(remote.code, disk.code, "{}", remote.stderr);
    assert_eq!(remote.stdout, disk.stdout, "findings differ between disk and S3");
    for field in ["records", "duplicates", "inputs_read", "records_rejected", "bytes_compressed", "bytes_decompressed"]
    {
        assert_eq!(summary[field], disk.summary[field], "{field}");
    }
    assert_eq!(
        summary["inputs_skipped"].as_array().unwrap().len(),
        disk.summary["inputs_skipped"].as_array().unwrap().len()
    );
    assert!(remote.stdout.contains("ASIATFQR7NSC36DZQP7P"));
}

#[tokio::test]
async fn window_fetches_only_the_selected_objects() {
    let endpoint = moto(MOTO);
    let s3 = s3_client(&endpoint, "testing", "testing").await;
    let bucket = uniq("th-window");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let days = ["2026-11-01", "2026-11-02", "2026-11-03"];
    for acct in ["111122223333", "444455556666"] {
        for region in ["us-east-1", "eu-west-1"] {
            for day in days {
                put(&s3, &bucket, &trail_key(None, acct, region, day), trail_file(acct, region, day, 3, "w")).await;
            }
        }
        // Past the window by more than the delivery margin: the flat listing stops at the first of them
        // (one pruned key range), where pruning them by name would count three.
        for late in ["2026-11-05", "2026-11-06", "2026-11-07"] {
            put(&s3, &bucket, &trail_key(None, acct, "us-east-1", late), trail_file(acct, "us-east-1", late, 3, "w"))
                .await;
        }
        put(
            &s3,
            &bucket,
            &format!("AWSLogs/{acct}/CloudTrail-Digest/us-east-1/2026/11/02/digest.json.gz"),
            b"{}".to_vec(),
        )
        .await;
    }
    let url = format!("s3://{bucket}/AWSLogs/");
    let (all, s) = scan_s3(&[&url, "--no-detect"], &endpoint, "testing", "testing");
    assert_eq!(all.code, 0, "{}", all.stderr);
    assert_eq!(s["inputs_read"], 18);
    assert_eq!(s["records"], 54);
    let (r, s) = scan_s3(
        &[
            &url,
            "--no-detect",
            "--account",
            "111122223333",
            "--region",
            "us-east-1",
            "--since",
            "2026-11-02",
            "--until",
            "2026-11-03",
        ],
        &endpoint,
        "testing",
        "testing",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(s["inputs_read"], 1, "one day of one account and region: {s}");
    assert_eq!(s["records"], 3);
    // Accounted for, one entry each: the other account, the other region and the digests (by folder),
    // the days before --since and from 2026-11-05 on (key ranges never listed), the 11-03 file (by name,
    // delivered at noon, past --until plus the margin).
    assert_eq!(s["inputs_pruned"], 6, "{s}");
    let reasons = s["pruned_by_reason"].as_object().unwrap();
    assert_eq!(reasons["delivered before --since"], 1, "{s}");
    assert_eq!(reasons["delivered after --until plus the delivery margin"], 2, "{s}");
}

#[tokio::test]
async fn organization_trail_layout() {
    let endpoint = moto(MOTO);
    let s3 = s3_client(&endpoint, "testing", "testing").await;
    let bucket = uniq("th-org");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    for acct in ["111122223333", "444455556666", "777788889999"] {
        put(
            &s3,
            &bucket,
            &trail_key(Some("o-a1b2c3d4e5"), acct, "us-east-1", "2026-11-02"),
            trail_file(acct, "us-east-1", "2026-11-02", 2, "o"),
        )
        .await;
    }
    let (r, s) = scan_s3(
        &[&format!("s3://{bucket}"), "--no-detect", "--account", "444455556666"],
        &endpoint,
        "testing",
        "testing",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(s["inputs_read"], 1, "{s}");
    assert_eq!(s["records"], 2);
}

#[tokio::test]
async fn denied_and_garbage_objects_are_reported_and_the_rest_is_read() {
    // This server enforces authorization after its first 8 actions (the setup below), including the
    // bucket policy that denies one object to everyone.
    let endpoint = moto("TRAILHOUND_TEST_MOTO_S3AUTH");
    let iam = aws_sdk_iam::Client::new(&sdk(&endpoint, "testing", "testing").await);
    let admin = s3_client(&endpoint, "testing", "testing").await;
    iam.create_user().user_name("scanner").send().await.unwrap();
    let allow = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
    iam.put_user_policy().user_name("scanner").policy_name("read").policy_document(allow).send().await.unwrap();
    let key = iam.create_access_key().user_name("scanner").send().await.unwrap();
    let key = key.access_key().unwrap();
    let bucket = "th-guarded-trail";
    admin.create_bucket().bucket(bucket).send().await.unwrap();
    let good = trail_key(None, "111122223333", "us-east-1", "2026-11-01");
    let secret = trail_key(None, "111122223333", "us-east-1", "2026-11-02");
    let garbage = trail_key(None, "111122223333", "us-east-1", "2026-11-03");
    put(&admin, bucket, &good, trail_file("111122223333", "us-east-1", "2026-11-01", 4, "g")).await;
    put(&admin, bucket, &secret, trail_file("111122223333", "us-east-1", "2026-11-02", 4, "s")).await;
    let mut junk = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    junk.write_all(&[0u8, 1, 2, 3, 255, 254].repeat(500)).unwrap();
    put(&admin, bucket, &garbage, junk.finish().unwrap()).await;
    let policy = json!({"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:GetObject",
        "Resource": format!("arn:aws:s3:::{bucket}/{secret}")}]});
    admin.put_bucket_policy().bucket(bucket).policy(policy.to_string()).send().await.unwrap();

    let (r, s) =
        scan_s3(&[&format!("s3://{bucket}/"), "--no-detect"], &endpoint, key.access_key_id(), key.secret_access_key());
    assert_eq!(r.code, 3, "a partial run: {}", r.stderr);
    assert_eq!(s["inputs_read"], 1, "{s}");
    assert_eq!(s["records"], 4);
    let skipped = s["inputs_skipped"].as_array().unwrap();
    let reason = |k: &str| {
        skipped
            .iter()
            .find(|x| x["input"].as_str().unwrap().ends_with(k))
            .map(|x| x["reason"].as_str().unwrap().to_owned())
            .unwrap_or_else(|| panic!("{k} not reported: {s}"))
    };
    assert!(reason(&secret).contains("access denied"), "{s}");
    assert!(reason(&garbage).contains("binary"), "{s}");
}

/// More than one page of keys (S3 pages hold 1,000) in one region folder, plus a local folder and a
/// missing path in the same run: every input is accounted for.
#[tokio::test]
async fn long_folders_stream_and_mixed_inputs_are_all_accounted_for() {
    let endpoint = moto(MOTO);
    let s3 = s3_client(&endpoint, "testing", "testing").await;
    let bucket = uniq("th-long");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let acct = "111122223333";
    let mut keys: Vec<String> = (0..1_003)
        .map(|i| {
            format!(
                "AWSLogs/{acct}/CloudTrail/us-east-1/2026/11/01/{acct}_CloudTrail_us-east-1_20261101T{:02}{:02}Z_{i:016}.json.gz",
                i / 60 % 24,
                i % 60
            )
        })
        .collect();
    keys.push(trail_key(None, acct, "us-east-1", "2026-11-02"));
    let mut tasks = tokio::task::JoinSet::new();
    for (n, chunk) in keys.chunks(64).enumerate() {
        let (s3, bucket, chunk) = (s3.clone(), bucket.clone(), chunk.to_vec());
        tasks.spawn(async move {
            for (i, k) in chunk.iter().enumerate() {
                let day = if k.contains("/2026/11/01/") { "2026-11-01" } else { "2026-11-02" };
                put(&s3, &bucket, k, trail_file(acct, "us-east-1", day, 1, &format!("{n}-{i}"))).await;
            }
        });
    }
    while let Some(t) = tasks.join_next().await {
        t.unwrap();
    }
    let url = format!("s3://{bucket}/AWSLogs/");
    let (r, s) = scan_s3(&[&url, "--no-detect"], &endpoint, "testing", "testing");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!((s["inputs_read"].as_u64(), s["records"].as_u64()), (Some(1_004), Some(1_004)), "{s}");

    // A window past the first page: the 1,003 keys of 11-01 are never listed.
    let (r, s) = scan_s3(&[&url, "--no-detect", "--since", "2026-11-02"], &endpoint, "testing", "testing");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(s["inputs_read"], 1, "{s}");
    assert_eq!(s["pruned_by_reason"]["delivered before --since"], 1, "{s}");

    // Local folder, S3, missing path: in that order, each accounted for.
    let local = fixture("corpora/stratus");
    let missing = "/nonexistent/trailhound-input";
    let (r, s) = scan_s3(&[&path_str(&local), &url, missing, "--no-detect"], &endpoint, "testing", "testing");
    assert_eq!(r.code, 3, "a missing input makes the run partial: {}", r.stderr);
    let local_only = scan(&[&path_str(&local), "-q", "--no-detect"]);
    let local_read = local_only.summary["inputs_read"].as_u64().unwrap();
    assert_eq!(s["inputs_read"].as_u64(), Some(local_read + 1_004), "{s}");
    let skipped = s["inputs_skipped"].as_array().unwrap();
    let local_skipped = local_only.summary["inputs_skipped"].as_array().unwrap().len();
    assert_eq!(skipped.len(), local_skipped + 1, "{s}");
    assert!(skipped.iter().any(|k| k["input"] == missing), "{s}");
    // Nothing is pruned from S3 without filters: the totals are the local run's plus 1,004 plus 1.
    assert_eq!(s["inputs_pruned"], local_only.summary["inputs_pruned"], "{s}");
    let local_total = local_only.summary["inputs_total"].as_u64().unwrap();
    assert_eq!(s["inputs_total"].as_u64(), Some(local_total + 1_004 + 1), "{s}");
}

/// Ctrl-C in the middle of an S3 scan: it stops within seconds, writes the summary, and every object is
/// either read or named as interrupted. Uses the benchmark's endpoint (examples/s3_endpoint.rs) for its
/// added latency, which makes the scan slow enough to interrupt.
#[test]
fn ctrl_c_stops_an_s3_scan_cleanly_and_accounts_for_every_object() {
    let bin = std::path::PathBuf::from(env!("CARGO_BIN_EXE_trailhound"));
    let endpoint_bin = bin.parent().unwrap().join("examples").join("s3_endpoint");
    assert!(
        endpoint_bin.exists(),
        "{} is missing: run the suite with `bash tests/run.sh`, which builds it",
        endpoint_bin.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let acct = "111122223333";
    for i in 0..120 {
        let key = format!(
            "AWSLogs/{acct}/CloudTrail/us-east-1/2026/11/01/{acct}_CloudTrail_us-east-1_20261101T{:02}{:02}Z_{i:016}.json.gz",
            i / 60,
            i % 60
        );
        let path = dir.path().join(&key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, trail_file(acct, "us-east-1", "2026-11-01", 2, &format!("c{i}"))).unwrap();
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    // 300 ms a request, 4 at a time: about 9 s for the whole bucket, interrupted after 8 objects.
    let mut server = std::process::Command::new(&endpoint_bin)
        .args([&path_str(dir.path()), "bench", &port.to_string(), "300"])
        .env("S3_ENDPOINT_LOG", "1")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start the S3 endpoint");
    // Counts the objects the endpoint has served, so the interrupt lands mid-scan however slow CI is.
    let served = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (log, counter) = (server.stdout.take().unwrap(), served.clone());
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(log)).map_while(Result::ok) {
            if line.starts_with("GET ") {
                counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    });
    let up = (0..100).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(50));
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    assert!(up, "the S3 endpoint did not start");
    let summary = dir.path().join("summary.json");
    let mut scan = std::process::Command::new(&bin)
        .args(["scan", "s3://bench/AWSLogs/", "--no-detect", "-q", "--s3-concurrency", "4"])
        .arg("--endpoint-url")
        .arg(format!("http://127.0.0.1:{port}"))
        .arg("--summary")
        .arg(&summary)
        .env("AWS_ACCESS_KEY_ID", "bench")
        .env("AWS_SECRET_ACCESS_KEY", "bench")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run trailhound");
    let waiting = std::time::Instant::now();
    while served.load(std::sync::atomic::Ordering::Relaxed) < 8 {
        assert!(waiting.elapsed().as_secs() < 60, "the scan fetched nothing in 60 s");
        assert!(scan.try_wait().unwrap().is_none(), "the scan ended before it was interrupted");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // The first objects were served 300 ms before the eighth: they are decoded by now.
    std::thread::sleep(std::time::Duration::from_millis(400));
    let interrupted = std::time::Instant::now();
    let sent = std::process::Command::new("kill").args(["-INT", &scan.id().to_string()]).status().unwrap();
    assert!(sent.success());
    let status = loop {
        if let Some(st) = scan.try_wait().unwrap() {
            break st;
        }
        assert!(interrupted.elapsed().as_secs() < 5, "still running 5 s after Ctrl-C");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let _ = server.kill();
    let _ = server.wait();
    let mut stderr = String::new();
    std::io::Read::read_to_string(scan.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(3), "an interrupted run is partial: {stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    let s: Value = serde_json::from_str(&std::fs::read_to_string(&summary).expect("summary written")).unwrap();
    let read = s["inputs_read"].as_u64().unwrap();
    let skipped = s["inputs_skipped"].as_array().unwrap();
    assert!(read > 0 && read < 120, "read {read} of 120 before Ctrl-C: {s}");
    assert!(skipped.iter().all(|k| k["reason"].as_str().unwrap().contains("interrupted")), "{s}");
    assert_eq!(read + skipped.len() as u64, 120, "every object read or named as interrupted: {s}");
    assert_eq!(s["records"].as_u64(), Some(read * 2), "{s}");
}

/// An object larger than `--max-input-size` is read as a local file is, up to the cap and said to be
/// cut, and no more of it is downloaded: one planted 50 GB object costs the cap, not 50 GB of memory.
#[tokio::test]
async fn an_object_over_the_cap_is_fetched_only_up_to_it() {
    let endpoint = moto(MOTO);
    let s3 = s3_client(&endpoint, "testing", "testing").await;
    let bucket = "th-capped-trail";
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    let small = trail_file("111122223333", "us-east-1", "2026-11-01", 3, "s");
    // Records of distinct ids compress poorly: the object is well over the 10 KB cap.
    let big = trail_file("111122223333", "us-east-1", "2026-11-02", 3000, "b");
    assert!(big.len() > 15_000, "{}", big.len());
    let big_key = trail_key(None, "111122223333", "us-east-1", "2026-11-02");
    put(&s3, bucket, &trail_key(None, "111122223333", "us-east-1", "2026-11-01"), small.clone()).await;
    put(&s3, bucket, &big_key, big.clone()).await;
    let url = format!("s3://{bucket}/");
    let (r, s) = scan_s3(&[&url, "--no-detect", "--max-input-size", "10KB"], &endpoint, "testing", "testing");
    assert_eq!(r.code, 3, "a partial run: {}", r.stderr);
    assert_eq!(s["inputs_read"], 1, "{s}");
    let partial = s["inputs_partial"].as_array().unwrap();
    assert_eq!(partial.len(), 1, "{s}");
    assert!(partial[0]["input"].as_str().unwrap().ends_with(&big_key), "{s}");
    assert!(partial[0]["reason"].as_str().unwrap().contains("--max-input-size cap of 10000 bytes"), "{s}");
    assert!(partial[0]["records"].as_u64().unwrap() > 0, "the records within the cap are read: {s}");
    // The cap and one byte more (to know the object is longer), never the whole object.
    assert_eq!(s["bytes_compressed"].as_u64().unwrap(), small.len() as u64 + 10_001, "{s}");

    // Without the cap, the same object is read whole.
    let (r, s) = scan_s3(&[&url, "--no-detect"], &endpoint, "testing", "testing");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(s["records"], 3003, "{s}");
    assert_eq!(s["bytes_compressed"].as_u64().unwrap(), (small.len() + big.len()) as u64, "{s}");
}
