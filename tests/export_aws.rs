//! The export and the findings against moto's server over real HTTP (started by `tests/run.sh`):
//! Parquet uploaded to S3 and scanned back from there, findings imported into Security Hub.

mod common;

use common::*;
use serde_json::Value;

const MOTO: &str = "TRAILHOUND_TEST_MOTO";
const KEY: &str = "testing";
const SECRET: &str = "testing";

async fn s3_client(endpoint: &str) -> aws_sdk_s3::Client {
    let cfg = sdk(endpoint, KEY, SECRET).await;
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&cfg).force_path_style(true).build())
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

fn inputs() -> Vec<String> {
    vec![path_str(&fixture("corpora")), path_str(&fixture("scenarios/chain"))]
}

#[test]
fn export_to_s3_completes_multipart_uploads_and_scans_back_the_same_findings() {
    let endpoint = moto(MOTO);
    let bucket = uniq("th-export");
    let rt = rt();
    let s3 = rt.block_on(s3_client(&endpoint));
    rt.block_on(s3.create_bucket().bucket(&bucket).send()).expect("create bucket");
    let to = format!("s3://{bucket}/lake/cloudtrail");
    let mut args = vec!["export".to_owned()];
    args.extend(inputs());
    args.extend(["--to".into(), to.clone(), "-q".into()]);
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = run_with_aws(&a, &endpoint, KEY, SECRET);
    assert_eq!(r.code, 0, "{}", r.stderr);

    let listed = rt.block_on(s3.list_objects_v2().bucket(&bucket).prefix("lake/cloudtrail/").send()).unwrap();
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert!(!keys.is_empty());
    for k in &keys {
        assert!(k.starts_with("lake/cloudtrail/account=") && k.ends_with(".parquet") && k.contains("/date="), "{k}");
    }
    // No upload left open: every one was completed (or aborted).
    let open = rt.block_on(s3.list_multipart_uploads().bucket(&bucket).send()).unwrap();
    assert!(open.uploads().is_empty(), "{:?}", open.uploads());

    let mut scan_args = inputs();
    scan_args.extend(["-q".into(), "--format".into(), "json".into()]);
    let sa: Vec<&str> = scan_args.iter().map(String::as_str).collect();
    let local = scan(&sa);
    let (back, _) = {
        let r = run_with_aws(&["scan", &to, "-q", "--format", "json"], &endpoint, KEY, SECRET);
        (r, ())
    };
    assert_eq!(back.code, 1, "{}", back.stderr);
    let f1: Value = serde_json::from_str(&local.stdout).unwrap();
    let f2: Value = serde_json::from_str(&back.stdout).unwrap();
    assert_eq!(f2, f1);
}

#[test]
fn findings_are_imported_into_security_hub_in_batches() {
    let endpoint = moto(MOTO);
    let mut args = vec!["scan".to_owned()];
    args.extend(inputs());
    args.extend(["-q".into(), "--format".into(), "asff".into(), "--to-security-hub".into()]);
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = run_with_aws(&a, &endpoint, KEY, SECRET);
    let sent: Vec<Value> = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout));
    assert_eq!(r.code, 1, "findings reported and imported: {}", r.stderr);
    assert!(r.stderr.contains(&format!("{0} of {0} findings imported into Security Hub", sent.len())), "{}", r.stderr);
    let rt = rt();
    let cfg = rt.block_on(sdk(&endpoint, KEY, SECRET));
    let hub = aws_sdk_securityhub::Client::new(&cfg);
    let got = rt.block_on(hub.get_findings().max_results(100).send()).expect("GetFindings");
    let ids: Vec<&str> = got.findings().iter().filter_map(|f| f.id()).collect();
    for f in &sent {
        assert!(ids.contains(&f["Id"].as_str().unwrap()), "{} not in Security Hub: {ids:?}", f["Id"]);
    }
}

#[test]
fn security_hub_refusals_are_reported_batch_by_batch() {
    // 150 findings, so two BatchImportFindings calls; moto refuses a finding without resources (the
    // one rule of the API it checks), and each refusal comes back with its id and reason.
    use trailhound::export::security_hub;
    let endpoint = moto(MOTO);
    let rt = rt();
    let cfg = rt.block_on(sdk(&endpoint, KEY, SECRET));
    let hub = aws_sdk_securityhub::Client::new(&cfg);
    let base: Vec<trailhound::detect::Finding> = {
        let r = scan(&[&path_str(&fixture("scenarios/chain")), "-q", "--format", "json"]);
        serde_json::from_str(&r.stdout).unwrap()
    };
    let tag = uniq("batch");
    let mut docs = Vec::new();
    for i in 0..150 {
        let mut d = trailhound::report::asff::finding(&base[i % base.len()], "us-east-1");
        d["Id"] = format!("{tag}/{i}").into();
        if i == 7 || i == 120 {
            d["Resources"] = serde_json::json!([]);
        }
        docs.push(d);
    }
    let sent = rt.block_on(security_hub::send_documents(&hub, &docs));
    assert_eq!(sent.call_errors, Vec::<String>::new());
    assert_eq!(sent.imported, 148, "{sent:?}");
    let refused: Vec<&str> = sent.failed.iter().map(|(id, _, _)| id.as_str()).collect();
    assert_eq!(refused, [format!("{tag}/7"), format!("{tag}/120")]);
    assert!(sent.failed.iter().all(|(_, code, msg)| code == "InvalidInput" && msg.contains("resource")), "{sent:?}");
}
