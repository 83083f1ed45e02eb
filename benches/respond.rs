//! Triggered response against moto: message received -> PutRolePolicy sent, p50 and p99 of
//! trailhound's own time, and objects per second sustained.
//!
//! `TRAILHOUND_TEST_MOTO=http://127.0.0.1:PORT cargo bench --bench respond [-- WORKLOADS]` (default 100
//! workloads: 300 objects). Each workload is the chain fixture with its own role and keys, in three
//! objects: the delivery and the workload's own calls, the theft, the rest. Every object is put in a
//! bucket whose ObjectCreated notifications go to an SQS queue (moto delivers them), then
//! `respond --apply --exit-when-empty` drains the queue with a policy allowing every revocation. The
//! latency is measured inside the consumer, from the receipt of the first message of the batch that
//! made the decision to the state stored after the guard's return (the deny sent and read back), so
//! queue delivery and polling are not counted; moto's own response time is (it stands for AWS's).

use serde_json::{Value, json};
use std::io::Write;
use std::time::{Duration, Instant};

const FIXTURE: &str = "fixtures/scenarios/chain/AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/20/111122223333_CloudTrail_us-east-1_20261120T1010Z_ChainFixture0001.json";
const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

fn gz(recs: &[Value]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(&serde_json::to_vec(&json!({ "Records": recs })).unwrap_or_default()).unwrap_or_default();
    e.finish().unwrap_or_default()
}

fn objects(fixture: &str, role: &str, ids: &[String], n: u32) -> Vec<(String, Vec<u8>)> {
    let text = fixture
        .replace("AROAWEBAPPROLEID0001", &ids[0])
        .replace("AROAADMINROLEID00001", &ids[1])
        .replace("web-app-role", role)
        .replace("admin-role", &format!("{role}-adm"))
        .replace("\"111122223333\"", "\"123456789012\"")
        .replace("arn:aws:iam::111122223333:", "arn:aws:iam::123456789012:")
        .replace("arn:aws:sts::111122223333:", "arn:aws:sts::123456789012:")
        .replace("VICTIMKEY", &format!("VICTIM{n:03}"))
        .replace("CHAINEDKEY", &format!("CHAINE{n:04}"))
        .replace("00000000-0000-4000-8000-", &format!("00000000-0000-4000-{n:04}-"));
    let v: Value = serde_json::from_str(&text).expect("fixture");
    let mut recs = v["Records"].as_array().cloned().unwrap_or_default();
    recs.sort_by(|a, b| a["eventTime"].as_str().cmp(&b["eventTime"].as_str()));
    let cut = |from: &str, to: &str| -> Vec<Value> {
        recs.iter().filter(|r| r["eventTime"].as_str().is_some_and(|t| t >= from && t < to)).cloned().collect()
    };
    let key = |stamp: &str, tag: String| {
        format!(
            "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/20/111122223333_CloudTrail_us-east-1_{stamp}_{tag}.json.gz"
        )
    };
    vec![
        (key("20261120T0915Z", format!("A{n}")), gz(&cut("", "2026-11-20T09:30"))),
        (key("20261120T0950Z", format!("B{n}")), gz(&cut("2026-11-20T09:30", "2026-11-20T09:50"))),
        (key("20261120T1030Z", format!("C{n}")), gz(&cut("2026-11-20T09:50", "9"))),
    ]
}

fn pct(v: &mut [Duration], p: f64) -> f64 {
    v.sort();
    if v.is_empty() {
        return f64::NAN;
    }
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i].as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let workloads: u32 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(100);
    let endpoint = std::env::var("TRAILHOUND_TEST_MOTO")
        .map_err(|_| anyhow::anyhow!("set TRAILHOUND_TEST_MOTO to a moto server (tests/run.sh shows how)"))?;
    // SAFETY: set before any thread reads the environment (the runtime's workers do not).
    unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    }
    let aws = trailhound::aws::AwsOptions {
        profile: None,
        region: Some("us-east-1".into()),
        endpoint_url: Some(endpoint.clone()),
    };
    let cfg = trailhound::aws::config(&aws).await;
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&cfg).force_path_style(true).build());
    let sqs = aws_sdk_sqs::Client::new(&cfg);
    let iam = aws_sdk_iam::Client::new(&cfg);
    let tag = std::process::id();
    let bucket = format!("th-bench-{tag}");
    s3.create_bucket().bucket(&bucket).send().await?;
    let queue = sqs.create_queue().queue_name(format!("th-bench-{tag}")).send().await?.queue_url.unwrap_or_default();
    let arn_attr = aws_sdk_sqs::types::QueueAttributeName::QueueArn;
    let attrs = sqs.get_queue_attributes().queue_url(&queue).attribute_names(arn_attr.clone()).send().await?;
    let queue_arn = attrs.attributes.and_then(|mut a| a.remove(&arn_attr)).unwrap_or_default();
    let q = aws_sdk_s3::types::QueueConfiguration::builder()
        .queue_arn(queue_arn)
        .events(aws_sdk_s3::types::Event::S3ObjectCreated)
        .build()?;
    let n = aws_sdk_s3::types::NotificationConfiguration::builder().queue_configurations(q).build();
    s3.put_bucket_notification_configuration().bucket(&bucket).notification_configuration(n).send().await?;
    let fixture = std::fs::read_to_string(FIXTURE)?;
    let mut count = 0;
    for i in 0..workloads {
        let role = format!("th-bench-{tag}-{i}");
        let mut ids = Vec::new();
        for name in [role.clone(), format!("{role}-adm")] {
            let out = iam.create_role().role_name(name).assume_role_policy_document(TRUST).send().await?;
            ids.push(out.role().map(|r| r.role_id().to_owned()).unwrap_or_default());
        }
        for (key, body) in objects(&fixture, &role, &ids, i) {
            s3.put_object().bucket(&bucket).key(&key).body(body.into()).send().await?;
            count += 1;
        }
    }
    let dir = tempfile::tempdir()?;
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, "max_per_hour = 100000\n")?;
    let opts = trailhound::respond::RespondOptions {
        queue_url: queue,
        policy: Some(policy),
        state: trailhound::respond::store::StateLocation::File(dir.path().join("state.redb")),
        apply: true,
        audit_log: Some(dir.path().join("audit.jsonl")),
        aws,
        detect: Default::default(),
        accounts: vec![],
        regions: vec![],
        max_input_bytes: 0,
        max_receives: 5,
        exit_when_empty: true,
        wait_seconds: 1,
    };
    let started = Instant::now();
    let mut stats = trailhound::respond::run(&opts).await?;
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "respond bench: {count} objects, {} read, {} decisions, {} revocations in {secs:.1} s: {:.1} objects/s sustained",
        stats.objects_read,
        stats.decisions,
        stats.act_latencies.len(),
        stats.objects_read as f64 / secs
    );
    eprintln!(
        "  message received -> PutRolePolicy sent and read back: p50 {:.1} ms, p99 {:.1} ms (n = {})",
        pct(&mut stats.act_latencies, 0.5),
        pct(&mut stats.act_latencies, 0.99),
        stats.act_latencies.len()
    );
    eprintln!(
        "  message received -> state stored (every message): p50 {:.1} ms, p99 {:.1} ms",
        pct(&mut stats.latencies, 0.5),
        pct(&mut stats.latencies, 0.99)
    );
    Ok(())
}
