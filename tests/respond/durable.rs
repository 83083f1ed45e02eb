//! State that outlives a consumer: DynamoDB shared between consumers, and a consumer killed mid-batch.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn dynamodb_state_is_conditional_chunked_and_shared_between_consumers() {
    use trailhound::respond::store::{DynamoStore, Saved};
    let env = Env::new("th-ddb").await;
    let table = make_table(&env.cfg).await;
    let store = DynamoStore::open(&env.cfg, &table).await.unwrap();
    let mut a = store.load().await.unwrap();
    assert_eq!(a.version, 0);
    // Large enough for several 350 KB chunks once gzipped (random-looking ETags do not compress).
    for i in 0..40_000u32 {
        let etag = format!("{:032x}", (i as u128).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835));
        let p = trailhound::respond::state::Processed { etag, at_ms: 1, outcome: "read".into() };
        a.processed.insert(format!("s3://b/k{i}"), p);
    }
    let b = a.clone();
    assert_eq!(store.save(&a).await.unwrap(), Saved::Stored);
    // Another consumer computed from version 0 too: refused.
    assert_eq!(store.save(&b).await.unwrap(), Saved::Conflict);
    let back = store.load().await.unwrap();
    assert_eq!(back.version, 1);
    assert_eq!(back.processed, a.processed);
    let ddb = aws_sdk_dynamodb::Client::new(&env.cfg);
    let items = ddb.scan().table_name(&table).send().await.unwrap().items.unwrap();
    assert!(items.len() > 2, "chunked: {} items", items.len());
    for it in &items {
        assert!(it.contains_key("ttl"), "every item has a TTL");
        let size: usize = it.values().map(|v| v.as_b().map(|b| b.as_ref().len()).unwrap_or(16)).sum();
        assert!(size < 400_000, "{size}");
    }

    // Two consumers, one after the other, on one table: the second sees the first's objects.
    let env = Env::new("th-ddb2").await;
    let table = make_table(&env.cfg).await;
    let objs = chain_objects(&uniq("th-ddb-role"));
    let state = format!("dynamodb://{table}");
    for (k, b) in &objs {
        env.put(k, b.clone()).await;
        env.send(&s3_message(&env.bucket, &[k])).await;
        let r = env.respond_on(&env.queue, &state, &[]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let st = DynamoStore::open(&env.cfg, &table).await.unwrap().load().await.unwrap();
    assert_eq!(st.processed.len(), 3);
    assert_eq!(st.findings.len(), 1, "the delivery (first run) and the theft (second run) were judged together");
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_mid_batch_then_restart_loses_nothing_and_applies_nothing_twice() {
    use std::io::BufRead;
    let env = Env::new("th-kill").await;
    env.sqs
        .set_queue_attributes()
        .queue_url(&env.queue)
        .attributes(aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout, "2")
        .send()
        .await
        .unwrap();
    env.notify_queue().await;
    let iam = aws_sdk_iam::Client::new(&env.cfg);
    let mut all = Vec::new();
    let mut roles = Vec::new();
    for i in 0..8 {
        let role = uniq(&format!("th-kill-role{i}"));
        make_role(&iam, &role).await;
        all.extend(chain_objects_n(&role, i));
        roles.push(role);
    }
    let policy = path_str(&env.dir.path().join("policy.toml"));
    std::fs::write(&policy, "max_per_hour = 100\n").unwrap();
    for (k, b) in &all {
        env.put(k, b.clone()).await;
    }
    let (state, audit) = (env.state_path(), env.audit());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_trailhound"))
        .args([
            "respond",
            "--queue",
            &env.queue,
            "--state",
            &state,
            "--audit-log",
            &audit,
            "--endpoint-url",
            &env.endpoint,
            "--apply",
            "--policy",
            &policy,
        ])
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Killed (SIGKILL) once about a third of the objects are stored.
    let mut seen = 0;
    for line in std::io::BufReader::new(child.stderr.take().unwrap()).lines() {
        if line.unwrap().contains(" records, ") {
            seen += 1;
            if seen == all.len() / 3 {
                break;
            }
        }
    }
    child.kill().unwrap();
    let first = child.wait_with_output().unwrap();
    assert!(!first.status.success(), "killed");
    let stored = env.state().processed.len();
    assert!(stored >= all.len() / 3 && stored < all.len(), "killed mid-batch: {stored} of {} stored", all.len());
    // The messages in flight come back after the visibility timeout.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let r = env.respond(&["--apply", "--policy", &policy]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let st = env.state();
    // Every role denied once: one statement, and one applied change in the audit log per role.
    let records = audit_records(&audit);
    for (i, role) in roles.iter().enumerate() {
        let Some(doc) = policy_doc(&iam, role).await else {
            panic!("{role}: no deny\n{}\n{}", String::from_utf8_lossy(&first.stdout), r.stdout)
        };
        let doc: Value = serde_json::from_str(&doc).unwrap();
        assert_eq!(doc["Statement"].as_array().unwrap().len(), 1, "{role}: {doc}");
        let applied = records.iter().filter(|r| r["phase"] == "applied" && r["target"] == role.as_str()).count();
        assert_eq!(applied, 1, "{role} (workload {i}): applied once\n{}", String::from_utf8_lossy(&first.stdout));
    }
    for (k, _) in &all {
        assert_eq!(st.processed[&format!("s3://{}/{k}", env.bucket)].outcome, "read", "{k}: {}", r.stderr);
    }
    assert_eq!(st.findings.len(), 8, "every theft found once: {}", r.stderr);
    assert_eq!(env.queue_len().await, (0, 0));
}
