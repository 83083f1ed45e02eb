//! `trailhound respond` against moto over HTTP (S3 + SQS + SNS + EventBridge + IAM + DynamoDB), started
//! by `tests/run.sh`.
//!
//! Notifications come from moto itself where it sends them as AWS does: S3 -> SQS, S3 -> SNS -> SQS
//! (envelope and raw delivery) and S3 -> EventBridge -> SQS are all real deliveries configured with
//! PutBucketNotificationConfiguration, SNS subscriptions and EventBridge rules. Hand-made messages, in
//! AWS's shapes, are used where moto differs or cannot produce the case: moto writes S3 keys with `/`
//! encoded (`AWSLogs%2F...`; AWS leaves `/` alone: both decode the same) and EventBridge keys not
//! encoded at all (see `notify_parse`: the raw key is tried when the decoded one is missing); it sends
//! its `s3:TestEvent` only once per bucket; several records in one message, digests, objects of other accounts and garbage
//! bodies are sent by hand.

/// Batches: a backlog, Lambda batches, chunks, and a chunk that cannot be stored.
#[path = "respond/batches.rs"]
mod batches;
#[path = "respond/chain.rs"]
mod chain;
mod common;
/// DynamoDB state shared between consumers; a consumer killed mid-batch.
#[path = "respond/durable.rs"]
mod durable;

use common::*;
use serde_json::{Value, json};
use std::io::Write;
use std::path::Path;
use trailhound::respond::store::FileStore;

const MOTO: &str = "TRAILHOUND_TEST_MOTO";
const FIXTURE: &str = "scenarios/chain/AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/20/111122223333_CloudTrail_us-east-1_20261120T1010Z_ChainFixture0001.json";

struct Env {
    endpoint: String,
    cfg: aws_config::SdkConfig,
    s3: aws_sdk_s3::Client,
    sqs: aws_sdk_sqs::Client,
    bucket: String,
    queue: String,
    queue_arn: String,
    dir: tempfile::TempDir,
}

impl Env {
    async fn new(name: &str) -> Env {
        let endpoint = moto(MOTO);
        let cfg = sdk(&endpoint, "testing", "testing").await;
        let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&cfg).force_path_style(true).build());
        let sqs = aws_sdk_sqs::Client::new(&cfg);
        let bucket = uniq(name);
        s3.create_bucket().bucket(&bucket).send().await.expect("create bucket");
        let (queue, queue_arn) = make_queue(&sqs, &uniq(name)).await;
        Env { endpoint, cfg, s3, sqs, bucket, queue, queue_arn, dir: tempfile::tempdir().unwrap() }
    }

    /// S3 sends its notifications straight to the queue.
    async fn notify_queue(&self) {
        let q = aws_sdk_s3::types::QueueConfiguration::builder()
            .queue_arn(&self.queue_arn)
            .events(aws_sdk_s3::types::Event::S3ObjectCreated)
            .build()
            .unwrap();
        let n = aws_sdk_s3::types::NotificationConfiguration::builder().queue_configurations(q).build();
        self.s3
            .put_bucket_notification_configuration()
            .bucket(&self.bucket)
            .notification_configuration(n)
            .send()
            .await
            .unwrap();
    }

    async fn put(&self, key: &str, body: Vec<u8>) {
        self.s3.put_object().bucket(&self.bucket).key(key).body(body.into()).send().await.expect("put object");
    }

    async fn send(&self, body: &str) {
        self.sqs.send_message().queue_url(&self.queue).message_body(body).send().await.expect("send message");
    }

    fn state_path(&self) -> String {
        path_str(&self.dir.path().join("state.redb"))
    }

    fn audit(&self) -> String {
        path_str(&self.dir.path().join("audit.jsonl"))
    }

    /// `trailhound respond` until the queue is drained.
    fn respond(&self, extra: &[&str]) -> Run {
        self.respond_on(&self.queue, &self.state_path(), extra)
    }

    fn respond_on(&self, queue: &str, state: &str, extra: &[&str]) -> Run {
        let audit = self.audit();
        let mut a = vec!["respond", "--queue", queue, "--state", state, "--exit-when-empty", "--wait-seconds", "1"];
        if !extra.contains(&"--audit-log") {
            a.extend(["--audit-log", &audit]);
        }
        a.extend_from_slice(extra);
        run_with_aws(&a, &self.endpoint, "testing", "testing")
    }

    /// Puts `objects` in the bucket, in order, and writes a copy of each under `local` (for a scan).
    async fn put_and_keep(&self, objects: &[(String, Vec<u8>)], local: &Path) {
        for (key, body) in objects {
            self.put(key, body.clone()).await;
            let p = local.join(key);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, body).unwrap();
        }
    }

    fn state(&self) -> trailhound::respond::state::State {
        state_at(&self.state_path())
    }

    async fn queue_len(&self) -> (u64, u64) {
        queue_len(&self.sqs, &self.queue).await
    }
}

fn state_at(path: &str) -> trailhound::respond::state::State {
    FileStore::open(Path::new(path)).unwrap().load().unwrap()
}

/// Visible and in-flight messages.
async fn queue_len(sqs: &aws_sdk_sqs::Client, queue: &str) -> (u64, u64) {
    {
        let a = sqs
            .get_queue_attributes()
            .queue_url(queue)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap();
        let n = |k| a.get(&k).and_then(|v: &String| v.parse().ok()).unwrap_or(99);
        (
            n(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages),
            n(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        )
    }
}

async fn make_queue(sqs: &aws_sdk_sqs::Client, name: &str) -> (String, String) {
    let url = sqs.create_queue().queue_name(name).send().await.unwrap().queue_url.unwrap();
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    (url, arn)
}

/// The chain fixture's times (2026-11-20, 09:00 to 10:25) moved to end ten minutes ago, as a live
/// trail's do: `respond` holds a key issued more than 13 hours before now (it and every session it
/// chained into have expired), and a cutoff is never before the stolen session's issue.
fn recent(t: &str) -> String {
    static SHIFT: std::sync::LazyLock<chrono::Duration> = std::sync::LazyLock::new(|| {
        let end = chrono::DateTime::parse_from_rfc3339("2026-11-20T10:35:00Z").unwrap().with_timezone(&chrono::Utc);
        let d = chrono::Utc::now() - end;
        chrono::Duration::minutes(d.num_minutes())
    });
    let at = chrono::DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&chrono::Utc) + *SHIFT;
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Every `2026-11-20THH:MM:SSZ` of `text` moved by [`recent`].
fn recent_text(text: &str) -> String {
    let (mut out, mut rest) = (String::new(), text);
    while let Some(i) = rest.find("2026-11-20T") {
        let t = &rest[i..i + 20];
        out.push_str(&rest[..i]);
        out.push_str(&recent(t));
        rest = &rest[i + 20..];
    }
    out.push_str(rest);
    out
}

/// Variant `n` of the chain: its own keys and event ids, so several can share a trail.
fn chain_n(role: &str, n: u32) -> Vec<Value> {
    let ids = IDS.lock().unwrap().get(role).cloned();
    let mut text = recent_text(&std::fs::read_to_string(fixture(FIXTURE)).unwrap());
    // The ids moto gave the roles: revoke refuses a role whose id is not the one the logs name.
    if let Some((id, adm)) = ids {
        text = text.replace("AROAWEBAPPROLEID0001", &id).replace("AROAADMINROLEID00001", &adm);
    }
    let text = text
        .replace("web-app-role", role)
        .replace("admin-role", &format!("{role}-adm"))
        .replace("VICTIMKEY", &format!("VICTIM{n:03}"))
        .replace("CHAINEDKEY", &format!("CHAINE{n:04}"))
        .replace("00000000-0000-4000-8000-", &format!("00000000-0000-4000-{n:04}-"))
        // moto's account, so the revocation's role ARN is one moto holds.
        .replace("\"111122223333\"", "\"123456789012\"")
        .replace("arn:aws:iam::111122223333:", "arn:aws:iam::123456789012:")
        .replace("arn:aws:sts::111122223333:", "arn:aws:sts::123456789012:");
    let mut recs: Vec<Value> = serde_json::from_str::<Value>(&text).unwrap()["Records"].as_array().unwrap().clone();
    recs.sort_by(|a, b| a["eventTime"].as_str().cmp(&b["eventTime"].as_str()));
    recs
}

/// The chain in three objects: the delivery and the workload's own calls (benign), the theft, the rest.
fn chain_objects(role: &str) -> Vec<(String, Vec<u8>)> {
    chain_objects_n(role, 0)
}

fn chain_objects_n(role: &str, n: u32) -> Vec<(String, Vec<u8>)> {
    let recs = chain_n(role, n);
    let cut = |from: &str, to: &str| -> Vec<Value> {
        recs.iter()
            .filter(|r| r["eventTime"].as_str().unwrap() >= from && r["eventTime"].as_str().unwrap() < to)
            .cloned()
            .collect()
    };
    vec![
        (trail_key("20261120T0915Z", &format!("A{n}")), gz(&cut("", &recent("2026-11-20T09:30:00Z")))),
        (
            trail_key("20261120T0950Z", &format!("B{n}")),
            gz(&cut(&recent("2026-11-20T09:30:00Z"), &recent("2026-11-20T09:50:00Z"))),
        ),
        (trail_key("20261120T1030Z", &format!("C{n}")), gz(&cut(&recent("2026-11-20T09:50:00Z"), "9"))),
    ]
}

fn gz(recs: &[Value]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(&serde_json::to_vec(&json!({ "Records": recs })).unwrap()).unwrap();
    e.finish().unwrap()
}

fn trail_key(stamp: &str, tag: &str) -> String {
    let (y, m, d) = (&stamp[0..4], &stamp[4..6], &stamp[6..8]);
    format!(
        "AWSLogs/111122223333/CloudTrail/us-east-1/{y}/{m}/{d}/111122223333_CloudTrail_us-east-1_{stamp}_{tag}.json.gz"
    )
}

/// An S3 notification as AWS writes it (the key form-encoded).
fn s3_message(bucket: &str, keys: &[&str]) -> String {
    let recs: Vec<Value> = keys
        .iter()
        .map(|k| {
            let enc: String = url_form(k);
            json!({"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
                   "eventTime": "2026-11-20T10:30:00.000Z", "eventName": "ObjectCreated:Put",
                   "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": bucket}, "object": {"key": enc, "size": 10}}})
        })
        .collect();
    json!({ "Records": recs }).to_string()
}

fn url_form(k: &str) -> String {
    k.chars()
        .map(|c| match c {
            ' ' => "+".to_owned(),
            'a'..='z' | 'A'..='Z' | '0'..='9' | '/' | '-' | '_' | '.' => c.to_string(),
            _ => format!("%{:02X}", c as u32),
        })
        .collect()
}

fn findings_of(state: &trailhound::respond::state::State) -> Vec<Value> {
    state.findings.iter().map(|f| serde_json::to_value(f).unwrap()).collect()
}

/// One call of an AWS JSON-protocol API (EventBridge) over plain HTTP: the AWS SDK for EventBridge is
/// not a dependency, and moto does not check signatures.
fn aws_json(endpoint: &str, target: &str, body: &Value) -> Value {
    use std::io::Read;
    let hostport = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let body = body.to_string();
    let mut s = std::net::TcpStream::connect(hostport).unwrap();
    write!(
        s,
        "POST / HTTP/1.1\r\nHost: {hostport}\r\nX-Amz-Target: {target}\r\nContent-Type: application/x-amz-json-1.1\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=testing/20261120/us-east-1/events/aws4_request, SignedHeaders=host, Signature=0\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200") || out.starts_with("HTTP/1.0 200"), "{target}: {out}");
    let json = out.split("\r\n\r\n").nth(1).unwrap_or("{}");
    serde_json::from_str(json).unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread")]
async fn notification_shapes_from_moto_and_by_hand_are_all_read() {
    let env = Env::new("th-shapes").await;
    // S3 -> SNS -> SQS: the envelope, and raw delivery, to two more queues.
    let sns = aws_sdk_sns::Client::new(&env.cfg);
    let topic = sns.create_topic().name(uniq("th-topic")).send().await.unwrap().topic_arn.unwrap();
    let (q_env, q_env_arn) = make_queue(&env.sqs, &uniq("th-env")).await;
    let (q_raw, q_raw_arn) = make_queue(&env.sqs, &uniq("th-raw")).await;
    sns.subscribe().topic_arn(&topic).protocol("sqs").endpoint(&q_env_arn).send().await.unwrap();
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(&q_raw_arn)
        .attributes("RawMessageDelivery", "true")
        .send()
        .await
        .unwrap();
    // S3 -> EventBridge -> SQS.
    let (q_eb, q_eb_arn) = make_queue(&env.sqs, &uniq("th-eb")).await;
    let rule = uniq("th-rule");
    let pattern =
        json!({"source": ["aws.s3"], "detail-type": ["Object Created"], "detail": {"bucket": {"name": [env.bucket]}}});
    aws_json(&env.endpoint, "AWSEvents.PutRule", &json!({"Name": rule, "EventPattern": pattern.to_string()}));
    aws_json(&env.endpoint, "AWSEvents.PutTargets", &json!({"Rule": rule, "Targets": [{"Id": "q", "Arn": q_eb_arn}]}));
    let t = aws_sdk_s3::types::TopicConfiguration::builder()
        .topic_arn(&topic)
        .events(aws_sdk_s3::types::Event::S3ObjectCreated)
        .build()
        .unwrap();
    let q = aws_sdk_s3::types::QueueConfiguration::builder()
        .queue_arn(&env.queue_arn)
        .events(aws_sdk_s3::types::Event::S3ObjectCreated)
        .build()
        .unwrap();
    let n = aws_sdk_s3::types::NotificationConfiguration::builder()
        .queue_configurations(q)
        .topic_configurations(t)
        .event_bridge_configuration(aws_sdk_s3::types::EventBridgeConfiguration::builder().build())
        .build();
    env.s3
        .put_bucket_notification_configuration()
        .bucket(&env.bucket)
        .notification_configuration(n)
        .send()
        .await
        .unwrap();
    let objs = chain_objects(&uniq("th-shapes-role"));
    // A key with a space and a plus: S3 encodes it `odd+key%2Bplus`.
    let odd = trail_key("20261120T0915Z", "odd key+plus");
    env.put(&odd, objs[0].1.clone()).await;
    let url = format!("s3://{}/{odd}", env.bucket);
    for (name, q) in [("S3 -> SQS", &env.queue), ("SNS envelope", &q_env), ("SNS raw", &q_raw), ("EventBridge", &q_eb)]
    {
        let state = path_str(&env.dir.path().join(format!("{}.redb", name.replace(' ', "_"))));
        let r = env.respond_on(q, &state, &[]);
        assert_eq!(r.code, 0, "{name}: {}", r.stderr);
        let st = state_at(&state);
        assert_eq!(st.processed.get(&url).map(|p| p.outcome.as_str()), Some("read"), "{name}: {}", r.stderr);
        assert_eq!(queue_len(&env.sqs, q).await, (0, 0), "{name}: every message deleted");
    }

    // By hand, in AWS's shapes: a test event, several records in one message, a digest, another
    // account's object, an object removal, garbage.
    let env = Env::new("th-hand").await;
    let (a, b) = (trail_key("20261120T0915Z", "one"), trail_key("20261120T0916Z", "two"));
    env.put(&a, objs[0].1.clone()).await;
    env.put(&b, objs[2].1.clone()).await;
    env.send(
        &json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-11-20T10:00:00Z", "Bucket": env.bucket})
            .to_string(),
    )
    .await;
    env.send(&s3_message(&env.bucket, &[&a, &b])).await;
    let digest = "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/11/20/111122223333_CloudTrail-Digest_us-east-1_t_us-east-1_20261120T1000Z.json.gz";
    let other = "AWSLogs/444455556666/CloudTrail/us-east-1/2026/11/20/444455556666_CloudTrail_us-east-1_20261120T1000Z_x.json.gz";
    env.send(&s3_message(&env.bucket, &[digest, other])).await;
    let removed = s3_message(&env.bucket, &[&a]).replace("ObjectCreated:Put", "ObjectRemoved:Delete");
    env.send(&removed).await;
    env.send("this is not JSON <script>").await;
    let r = env.respond(&["--account", "111122223333"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let st = env.state();
    for k in [&a, &b] {
        assert_eq!(st.processed[&format!("s3://{}/{k}", env.bucket)].outcome, "read", "{}", r.stderr);
    }
    assert_eq!(st.processed.len(), 2, "digest and other account not read: {:?}", st.processed);
    for needle in [
        "s3:TestEvent",
        "CloudTrail digest, ignored",
        "account 444455556666 region us-east-1 is outside the configured --account/--region: not read",
        "\"ObjectRemoved:Delete\", not an object creation",
        "not an S3 notification (not JSON",
    ] {
        assert!(r.stderr.contains(needle), "no {needle:?} in\n{}", r.stderr);
    }
    assert!(!r.stderr.contains("<script>") || r.stderr.contains("\"this is not JSON <script>\""), "quoted");
    assert!(
        r.stderr.contains("5 messages (5 deleted, 1 not notifications, 1 test events), 2 objects read"),
        "{}",
        r.stderr
    );
    assert_eq!(env.queue_len().await, (0, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn corrupt_object_is_reported_and_the_queue_moves_on() {
    let env = Env::new("th-corrupt").await;
    env.notify_queue().await;
    let objs = chain_objects(&uniq("th-corrupt-role"));
    let bad = trail_key("20261120T0914Z", "corrupt");
    let mut broken = objs[0].1.clone();
    broken.truncate(broken.len() / 2);
    env.put(&bad, broken).await;
    env.put(&objs[0].0, objs[0].1.clone()).await;
    let r = env.respond(&[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let st = env.state();
    let bad_outcome = &st.processed[&format!("s3://{}/{bad}", env.bucket)].outcome;
    assert!(bad_outcome.starts_with("skipped: ") || bad_outcome.starts_with("partial: "), "{bad_outcome}");
    assert!(r.stderr.contains(&bad), "the corrupt object is named: {}", r.stderr);
    assert_eq!(st.processed[&format!("s3://{}/{}", env.bucket, objs[0].0)].outcome, "read");
    assert_eq!(env.queue_len().await, (0, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn unreadable_object_stays_then_is_given_up_after_max_receives() {
    let env = Env::new("th-poison").await;
    env.sqs
        .set_queue_attributes()
        .queue_url(&env.queue)
        .attributes(aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout, "1")
        .send()
        .await
        .unwrap();
    let missing = trail_key("20261120T0915Z", "missing");
    env.send(&s3_message(&env.bucket, &[&missing])).await;
    let r = env.respond(&["--max-receives", "2"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("the message stays on the queue (receive 1)"), "{}", r.stderr);
    assert!(r.stderr.contains(&missing), "named: {}", r.stderr);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let r = env.respond(&["--max-receives", "2"]);
    assert!(r.stderr.contains("received 2 times: given up (poison object), the message is deleted"), "{}", r.stderr);
    assert!(env.state().processed[&format!("s3://{}/{missing}", env.bucket)].outcome.starts_with("poison: "));
    assert_eq!(env.queue_len().await, (0, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn respond_findings_equal_scans_over_the_same_objects_in_arrival_order() {
    let env = Env::new("th-equal").await;
    env.notify_queue().await;
    let role = uniq("th-equal-role");
    let local = tempfile::tempdir().unwrap();
    // The delivery in the first object, the theft in the second.
    env.put_and_keep(&chain_objects(&role), local.path()).await;
    let r = env.respond(&[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = scan(&[&path_str(local.path()), "-q", "--format", "json"]);
    let from_scan: Vec<Value> = serde_json::from_str(&s.stdout).unwrap();
    assert_eq!(from_scan.len(), 1, "{}", s.stdout);
    assert_eq!(findings_of(&env.state()), from_scan);
}

/// Decision lines on stdout for this key with this verdict.
fn decisions(stdout: &str, key: &str, verdict: &str) -> usize {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|d| d["access_key_id"] == key && d["verdict"] == verdict)
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_message_delivered_twice_is_processed_once() {
    let env = Env::new("th-twice").await;
    let role = uniq("th-twice-role");
    make_role(&aws_sdk_iam::Client::new(&env.cfg), &role).await;
    let objs = chain_objects(&role);
    for (k, b) in &objs {
        env.put(k, b.clone()).await;
    }
    let keys: Vec<&str> = objs.iter().map(|(k, _)| k.as_str()).collect();
    let msg = s3_message(&env.bucket, &keys);
    // At-least-once delivery: the same notification twice.
    env.send(&msg).await;
    env.send(&msg).await;
    let r = env.respond(&[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(decisions(&r.stdout, "ASIAVICTIM0000000001", "dry-run"), 1, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.stderr.matches("already processed (a redelivery): skipped").count(), 3, "{}", r.stderr);
    // And again in a later run: the state remembers.
    env.send(&msg).await;
    let r = env.respond(&[]);
    assert_eq!(r.stderr.matches("already processed (a redelivery): skipped").count(), 3, "{}", r.stderr);
    assert_eq!(decisions(&r.stdout, "ASIAVICTIM0000000001", "dry-run"), 0, "{}", r.stdout);
    assert_eq!(env.state().processed.len(), 3);
    assert_eq!(env.queue_len().await, (0, 0));
}

async fn make_table(cfg: &aws_config::SdkConfig) -> String {
    use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType};
    let ddb = aws_sdk_dynamodb::Client::new(cfg);
    let table = uniq("th-state");
    ddb.create_table()
        .table_name(&table)
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("pk").attribute_type(ScalarAttributeType::S).build().unwrap(),
        )
        .key_schema(KeySchemaElement::builder().attribute_name("pk").key_type(KeyType::Hash).build().unwrap())
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    table
}

const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// Role name -> (its id, its `-adm` role's id), for the chain built on it.
static IDS: std::sync::Mutex<std::collections::BTreeMap<String, (String, String)>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

/// The chain's two roles: the workload's, and the one its stolen key assumed.
async fn make_role(iam: &aws_sdk_iam::Client, name: &str) {
    let mut ids = Vec::new();
    for n in [name.to_owned(), format!("{name}-adm")] {
        let out = iam.create_role().role_name(n).assume_role_policy_document(TRUST).send().await.expect("create role");
        ids.push(out.role().unwrap().role_id().to_owned());
    }
    IDS.lock().unwrap().insert(name.to_owned(), (ids[0].clone(), ids[1].clone()));
}

async fn policy_doc(iam: &aws_sdk_iam::Client, role: &str) -> Option<String> {
    let o = iam.get_role_policy().role_name(role).policy_name("TrailhoundRevokeSessions").send().await.ok()?;
    Some(percent_encoding::percent_decode_str(o.policy_document()).decode_utf8_lossy().into_owned())
}

fn audit_records(path: &str) -> Vec<Value> {
    std::fs::read_to_string(path).unwrap_or_default().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn benign_objects_change_nothing_and_a_theft_gets_the_surgical_deny() {
    let env = Env::new("th-theft").await;
    env.notify_queue().await;
    let iam = aws_sdk_iam::Client::new(&env.cfg);
    let role = uniq("th-theft-role");
    make_role(&iam, &role).await;
    let objs = chain_objects(&role);
    // The delivery and the workload's own calls: nothing to do.
    env.put(&objs[0].0, objs[0].1.clone()).await;
    let r = env.respond(&["--apply"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.trim(), "", "no decision on benign objects");
    assert!(policy_doc(&iam, &role).await.is_none(), "IAM unchanged");
    // The theft, in the next objects (its first calls alone give medium confidence: held).
    env.put(&objs[1].0, objs[1].1.clone()).await;
    env.put(&objs[2].0, objs[2].1.clone()).await;
    let r = env.respond(&["--apply"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(decisions(&r.stdout, "ASIAVICTIM0000000001", "act"), 1, "{}\n{}", r.stdout, r.stderr);
    let acted: Vec<Value> = r
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|d| d["verdict"] == "act")
        .collect();
    assert_eq!(acted[0]["outcome"], "applied", "{}", r.stdout);
    let doc: Value = serde_json::from_str(&policy_doc(&iam, &role).await.expect("the deny")).unwrap();
    let st = &doc["Statement"][0];
    assert_eq!(st["Effect"], "Deny");
    let id = IDS.lock().unwrap()[&role].0.clone();
    assert_eq!(st["Condition"]["StringLike"]["aws:userid"], format!("{id}:i-0a1b2c3d4e5f60718"), "surgical: {doc}");
    let applied: Vec<Value> = audit_records(&env.audit()).into_iter().filter(|r| r["phase"] == "applied").collect();
    // The role, and the role the stolen key assumed (its minted session).
    let targets: Vec<&str> = applied.iter().map(|r| r["target"].as_str().unwrap()).collect();
    assert_eq!(targets, [role.clone(), format!("{role}-adm")], "the audit log has the changes");
    // Delivered again: nothing decided, nothing changed.
    env.send(&s3_message(&env.bucket, &[&objs[1].0, &objs[2].0])).await;
    let r = env.respond(&["--apply"]);
    assert_eq!(decisions(&r.stdout, "ASIAVICTIM0000000001", "act"), 0, "{}", r.stdout);
    assert_eq!(audit_records(&env.audit()).iter().filter(|r| r["phase"] == "applied").count(), 2);
}
