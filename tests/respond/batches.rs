//! Batches of messages: a backlog judged per batch, a Lambda batch with unreadable messages and an
//! invocation out of time, chunks of a message naming many objects, a stop, and a chunk that cannot be
//! stored.

use super::*;

/// A backlog (every object put before the consumer starts) is judged and stored once per receive, not
/// once per object, and finds what a scan of the same objects finds.
#[tokio::test(flavor = "multi_thread")]
async fn a_backlog_is_judged_once_per_batch_and_finds_what_a_scan_finds() {
    let env = Env::new("th-backlog").await;
    env.notify_queue().await;
    let role = uniq("th-backlog-role");
    let local = tempfile::tempdir().unwrap();
    for n in 0..4 {
        env.put_and_keep(&chain_objects_n(&role, n), local.path()).await;
    }
    let r = env.respond(&[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let stopped = r.stderr.lines().find(|l| l.contains("stopped: ")).unwrap_or_default();
    assert!(stopped.contains("12 objects read"), "{stopped}");
    let stores: u64 =
        stopped.rsplit("state stored ").next().and_then(|t| t.split(' ').next()).unwrap().parse().unwrap();
    assert!((1..12).contains(&stores), "12 objects in at most 10 a receive: {stopped}");
    assert_eq!(r.stderr.matches(" records, ").count(), 12, "one line per object: {}", r.stderr);
    let s = scan(&[&path_str(local.path()), "-q", "--format", "json"]);
    let from_scan: Vec<Value> = serde_json::from_str(&s.stdout).unwrap();
    assert_eq!(from_scan.len(), 4, "{}", s.stdout);
    assert_eq!(findings_of(&env.state()), from_scan);
    assert_eq!(env.state().processed.len(), 12);
    assert_eq!(env.queue_len().await, (0, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn lambda_batch_returns_unreadable_messages_as_item_failures() {
    use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
    let env = Env::new("th-lambda").await;
    let table = make_table(&env.cfg).await;
    let objs = chain_objects(&uniq("th-lambda-role"));
    env.put(&objs[0].0, objs[0].1.clone()).await;
    let mut event = SqsEvent::default();
    for (id, body) in [
        ("good", s3_message(&env.bucket, &[&objs[0].0])),
        ("missing", s3_message(&env.bucket, &[&trail_key("20261120T0915Z", "gone")])),
        ("garbage", "not json".to_owned()),
    ] {
        let mut m = SqsMessage::default();
        m.message_id = Some(id.into());
        m.body = Some(body);
        m.attributes.insert("ApproximateReceiveCount".into(), "1".into());
        event.records.push(m);
    }
    let opts = library_opts(&env, trailhound::respond::store::StateLocation::Dynamo(table.clone()));
    let mut c = trailhound::respond::consumer(&env.cfg, &opts, 0).await.unwrap();
    let event_again = event.records.clone();
    let resp = trailhound::respond::lambda::handle_batch(&mut c, event, None).await;
    let failed: Vec<&str> = resp.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
    assert_eq!(failed, vec!["missing"]);
    let json = serde_json::to_value(&resp).unwrap();
    assert_eq!(json, json!({"batchItemFailures": [{"itemIdentifier": "missing"}]}));
    // The state is in the table: a fresh consumer (another instance of the function) sees the object.
    drop(c);
    let mut c2 = trailhound::respond::consumer(&env.cfg, &opts, 0).await.unwrap();
    assert!(c2.state.processed.contains_key(&format!("s3://{}/{}", env.bucket, objs[0].0)));
    // An invocation out of time reads its first message (something always progresses) and returns
    // the rest unread.
    let mut late = SqsEvent::default();
    late.records = event_again;
    let resp = trailhound::respond::lambda::handle_batch(&mut c2, late, Some(std::time::SystemTime::now())).await;
    let failed: Vec<&str> = resp.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
    assert_eq!(failed, vec!["missing", "garbage"]);
    assert_eq!((c2.stats.messages, c2.stats.objects_repeated), (1, 1), "{:?}", c2.stats);
}

/// Options for a consumer driven by the test itself (no queue), with its state at `state`.
fn library_opts(env: &Env, state: trailhound::respond::store::StateLocation) -> trailhound::respond::RespondOptions {
    trailhound::respond::RespondOptions {
        queue_url: String::new(),
        policy: None,
        state,
        apply: false,
        audit_log: Some(env.dir.path().join("audit.jsonl")),
        aws: Default::default(),
        detect: Default::default(),
        accounts: vec![],
        regions: vec![],
        max_input_bytes: 0,
        max_receives: 5,
        exit_when_empty: true,
        wait_seconds: 1,
    }
}

/// A batch is stored in chunks of at most 64 objects; what is not read on a stop is handed back; and a
/// chunk whose state cannot be stored is kept, then read again on its redelivery, never deleted unstored.
#[tokio::test(flavor = "multi_thread")]
async fn batches_are_stored_in_chunks_and_an_unstored_chunk_is_read_again() {
    use trailhound::respond::batch::{Fate, Message};
    let env = Env::new("th-chunks").await;
    let mut keys = Vec::new();
    for i in 0..70 {
        let key = trail_key("20261120T0915Z", &format!("K{i:03}"));
        env.put(&key, gz(&chain_n("th-chunks-role", i)[..2])).await;
        keys.push(key);
    }
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let (many, one) = (s3_message(&env.bucket, &refs[..69]), s3_message(&env.bucket, &refs[69..]));
    let msg = |id, body| Message { id, body, receives: 1 };
    let state = trailhound::respond::store::StateLocation::File(env.dir.path().join("chunks.redb"));
    let mut c = trailhound::respond::consumer(&env.cfg, &library_opts(&env, state), 0).await.unwrap();
    // A stop after the first message: the second is handed back unread.
    let batch = [msg("many", many.as_str()), msg("one", one.as_str())];
    let fates = c.drain(&batch, std::time::Instant::now(), || true).await;
    assert_eq!(fates, [Fate::Delete, Fate::Unread]);
    assert_eq!((c.stats.objects_read, c.stats.stores), (69, 2), "69 objects in chunks of 64: {:?}", c.stats);
    assert_eq!(c.state.processed.len(), 69);
    drop(c);

    // DynamoDB state whose table is gone: the chunk is not stored, so its message is kept, and the
    // redelivery reads the object again instead of skipping it as processed and deleting the message.
    let table = make_table(&env.cfg).await;
    let mut d = trailhound::respond::consumer(
        &env.cfg,
        &library_opts(&env, trailhound::respond::store::StateLocation::Dynamo(table.clone())),
        0,
    )
    .await
    .unwrap();
    aws_sdk_dynamodb::Client::new(&env.cfg).delete_table().table_name(&table).send().await.unwrap();
    for delivery in 1..=2 {
        let fates = d.drain(&[msg("one", one.as_str())], std::time::Instant::now(), || false).await;
        assert!(matches!(&fates[..], [Fate::Keep(_)]), "delivery {delivery}: {fates:?}");
        assert_eq!(d.stats.objects_read, delivery, "read again: {:?}", d.stats);
        assert_eq!(d.stats.objects_repeated, 0, "{:?}", d.stats);
    }
    assert!(d.state.processed.is_empty(), "{:?}", d.state.processed);
}

/// Two consumers on one DynamoDB state, the same objects: the one that stores second finds every object
/// already processed on its reload, and still stores the decisions it made (and announced) on them.
#[tokio::test(flavor = "multi_thread")]
async fn a_consumer_that_loses_the_race_still_stores_its_decisions() {
    use trailhound::respond::batch::{Fate, Message};
    use trailhound::respond::store::StateLocation;
    let env = Env::new("th-race").await;
    let role = uniq("th-race-role");
    make_role(&aws_sdk_iam::Client::new(&env.cfg), &role).await;
    let mut keys = Vec::new();
    for (key, body) in chain_objects(&role) {
        env.put(&key, body).await;
        keys.push(key);
    }
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let body = s3_message(&env.bucket, &refs);
    let batch = [Message { id: "m", body: body.as_str(), receives: 1 }];
    let table = make_table(&env.cfg).await;
    // Each consumer holds its own audit log (locked while it runs).
    let opts = |n: &str| trailhound::respond::RespondOptions {
        audit_log: Some(env.dir.path().join(format!("audit-{n}.jsonl"))),
        ..library_opts(&env, StateLocation::Dynamo(table.clone()))
    };
    let mut first = trailhound::respond::consumer(&env.cfg, &opts("first"), 0).await.unwrap();
    // Loaded before `first` stores: its save conflicts, and its reload finds every object processed.
    let mut second = trailhound::respond::consumer(&env.cfg, &opts("second"), 0).await.unwrap();
    assert_eq!(first.drain(&batch, std::time::Instant::now(), || false).await, [Fate::Delete]);
    assert_eq!(second.drain(&batch, std::time::Instant::now(), || false).await, [Fate::Delete]);
    let ids = |c: &trailhound::respond::process::Consumer| -> Vec<String> {
        c.state.ledger.entries.iter().map(|a| a.decision_id.clone()).collect()
    };
    let (a, b) = (ids(&first), ids(&second));
    assert_eq!((a.len(), b.len()), (1, 2), "each decided on the theft in a dry run: {a:?} {b:?}");
    assert_eq!(second.stats.stores, 1, "{:?}", second.stats);
    let stored = trailhound::respond::consumer(&env.cfg, &opts("stored"), 0).await.unwrap();
    assert_eq!(ids(&stored), b, "the second consumer's decision is in the stored ledger");
}

/// A revocation held by the hourly limit stays owed: the next batch decides it again though its
/// finding did not change (its thief may make no more calls while the session stays valid), and the
/// key already revoked is not decided again.
#[tokio::test(flavor = "multi_thread")]
async fn a_revocation_held_by_the_hourly_limit_is_decided_again_at_the_next_batch() {
    let env = Env::new("th-owed").await;
    env.notify_queue().await;
    let iam = aws_sdk_iam::Client::new(&env.cfg);
    let (a, b) = (uniq("th-owed-a"), uniq("th-owed-b"));
    make_role(&iam, &a).await;
    make_role(&iam, &b).await;
    let guard = env.dir.path().join("guard.toml");
    std::fs::write(&guard, "max_per_hour = 1\n").unwrap();
    let guard = path_str(&guard);
    for (k, body) in chain_objects_n(&a, 1).into_iter().chain(chain_objects_n(&b, 2)) {
        env.put(&k, body).await;
    }
    let keys = ["ASIAVICTIM0010000001", "ASIAVICTIM0020000001"];
    let r = env.respond(&["--apply", "--policy", &guard]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let acted = |out: &str, verdict: &str| keys.iter().filter(|k| decisions(out, k, verdict) > 0).count();
    assert_eq!((acted(&r.stdout, "act"), acted(&r.stdout, "held")), (1, 1), "{}", r.stdout);
    let owed = *keys.iter().find(|k| decisions(&r.stdout, k, "held") > 0).unwrap();
    let line = r.stdout.lines().find(|l| l.contains(owed) && l.contains("\"held\"")).unwrap();
    assert!(line.contains("max_per_hour"), "{line}");
    assert_eq!(env.state().unsettled.iter().collect::<Vec<_>>(), [owed]);
    // An object that changes no finding: the owed key is decided again (still within the hour: held).
    env.put(&trail_key("20261120T1100Z", "quiet"), gz(&[])).await;
    let r = env.respond(&["--apply", "--policy", &guard]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(decisions(&r.stdout, owed, "held"), 1, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.stdout.lines().filter(|l| !l.trim().is_empty()).count(), 1, "{}", r.stdout);
}
