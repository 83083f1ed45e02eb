//! Respond: triggered revocation. New trail objects are judged as they arrive and findings that pass
//! the operator's guardrails get the surgical revocation of [`crate::revoke`].
//!
//! [`policy`] reads the guardrails, [`decide`] turns a finding into a decision, [`act`] applies it
//! through `revoke`'s plan/apply/verify/audit, [`announce`] writes each decision out (stdout, audit
//! log, SNS, webhook), but for a key-already-acted-on hold repeated within the hour.
//!
//! The consumer: [`run`] long-polls an SQS queue of S3 notifications ([`notify_parse`]), reads each
//! object through the scan pipeline and keeps the detector's state across objects in a [`store`]
//! ([`state`]); [`process`] judges and hands new findings to the guard; [`lambda`] does the same for
//! one SQS batch in AWS Lambda.

pub mod act;
pub mod announce;
pub mod batch;
pub mod decide;
pub mod lambda;
pub mod notify_parse;
pub mod policy;
pub mod process;
pub mod state;
pub mod store;

use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use process::{Consumer, Stats, say};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use store::{StateLocation, Store};

/// The audit log when `--audit-log` is not given (in the working directory).
pub const DEFAULT_AUDIT_LOG: &str = "trailhound-audit.jsonl";

/// What `trailhound respond` was asked (the CLI converts its arguments into this).
#[derive(Clone, Debug)]
pub struct RespondOptions {
    /// The SQS queue URL.
    pub queue_url: String,
    /// The guardrail policy file; `None` uses the default policy.
    pub policy: Option<std::path::PathBuf>,
    /// Where the state lives.
    pub state: StateLocation,
    /// Change IAM (else decide and record only).
    pub apply: bool,
    /// The audit log (decisions and changes).
    pub audit_log: Option<std::path::PathBuf>,
    /// How to reach AWS.
    pub aws: crate::aws::AwsOptions,
    /// Detection settings.
    pub detect: crate::detect::DetectOptions,
    /// Accounts whose objects are read; empty reads all.
    pub accounts: Vec<String>,
    /// Regions whose objects are read; empty reads all.
    pub regions: Vec<String>,
    /// Most bytes read from one object (0: the default cap).
    pub max_input_bytes: u64,
    /// Receives after which an unreadable object is reported and its message deleted, when the queue
    /// has no redrive policy (with one, the dead-letter queue takes it).
    pub max_receives: u32,
    /// Stop after a long poll that returns nothing (a drained queue), instead of waiting for more.
    pub exit_when_empty: bool,
    /// Long-poll wait, seconds (0 to 20).
    pub wait_seconds: i32,
}

/// Builds the consumer: AWS clients, the state store (loaded), the guard.
pub async fn consumer(
    cfg: &aws_config::SdkConfig,
    opts: &RespondOptions,
    give_up_after: u32,
) -> anyhow::Result<Consumer> {
    let policy = match &opts.policy {
        Some(p) => decide::Policy::load(p)?,
        None => decide::Policy::default(),
    };
    // The detection settings are checked now, not at the first object, and loaded once.
    let detect = std::sync::Arc::new(crate::detect::DetectConfig::load(&opts.detect)?);
    let audit = opts.audit_log.clone().unwrap_or_else(|| DEFAULT_AUDIT_LOG.into());
    let store = Store::open(&opts.state, cfg).await?;
    let state = store.load().await?;
    Ok(Consumer {
        s3: crate::source::s3::S3Source::new(cfg).client,
        store,
        state,
        detect,
        accounts: opts.accounts.clone(),
        regions: opts.regions.clone(),
        max_input_bytes: opts.max_input_bytes,
        give_up_after,
        responder: decide::Responder::new(policy, opts.apply, cfg, &audit)?,
        stats: Stats::default(),
    })
}

/// Sets `stop` on Ctrl-C or SIGTERM: the loop finishes the message in hand, stores what its batch read
/// so far, gives the rest of the batch back to the queue, and returns.
fn watch_signals(stop: Arc<AtomicBool>, wake: Arc<tokio::sync::Notify>) {
    tokio::spawn(async move {
        #[cfg(unix)]
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term => {}
        }
        say("stopping: finishing the message in hand and storing its batch (Ctrl-C/SIGTERM)");
        stop.store(true, Ordering::SeqCst);
        wake.notify_waiters();
    });
}

/// The long-running consumer; returns the run's counts when stopped (a signal, or `exit_when_empty`).
pub async fn run(opts: &RespondOptions) -> anyhow::Result<Stats> {
    let cfg = crate::aws::config(&opts.aws).await;
    let sqs = aws_sdk_sqs::Client::new(&cfg);
    let q = &opts.queue_url;
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(q)
        .attribute_names(QueueAttributeName::VisibilityTimeout)
        .attribute_names(QueueAttributeName::RedrivePolicy)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("--queue {q}: {}", aws_sdk_sqs::error::DisplayErrorContext(&e)))?;
    let attrs = attrs.attributes.unwrap_or_default();
    let visibility: i32 =
        attrs.get(&QueueAttributeName::VisibilityTimeout).and_then(|v| v.parse().ok()).unwrap_or(30).max(1);
    let has_dlq = attrs.contains_key(&QueueAttributeName::RedrivePolicy);
    // With a dead-letter queue, unreadable objects stay until SQS moves them there.
    let give_up_after = if has_dlq { 0 } else { opts.max_receives };
    let mut consumer = consumer(&cfg, opts, give_up_after).await?;
    say(&format!(
        "listening on {q} ({}; {}; visibility {visibility} s; {})",
        consumer.store.describe(),
        if opts.apply { "--apply: IAM is changed" } else { "dry run: IAM is not changed" },
        if has_dlq {
            "unreadable objects go to the queue's dead-letter queue".to_owned()
        } else {
            format!("no dead-letter queue: unreadable objects are given up after {} receives", opts.max_receives)
        }
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let wake = Arc::new(tokio::sync::Notify::new());
    watch_signals(stop.clone(), wake.clone());
    while !stop.load(Ordering::SeqCst) {
        let receive = sqs
            .receive_message()
            .queue_url(q)
            .max_number_of_messages(10)
            .wait_time_seconds(opts.wait_seconds.clamp(0, 20))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send();
        let got = tokio::select! {
            r = receive => r,
            _ = wake.notified() => break,
        };
        let msgs = match got {
            Ok(r) => r.messages.unwrap_or_default(),
            Err(e) => {
                say(&format!("ReceiveMessage {q}: {}; retrying in 5 s", aws_sdk_sqs::error::DisplayErrorContext(&e)));
                tokio::time::sleep(Duration::from_secs(5)).await;
                continue;
            }
        };
        if msgs.is_empty() && opts.exit_when_empty {
            break;
        }
        // The batch's objects are read, judged and stored in chunks; a message is deleted only once
        // the state that records its objects is stored. Every message of the batch stays invisible
        // to other consumers until its fate is known.
        let received = std::time::Instant::now();
        let mut beats: std::collections::HashMap<String, tokio::task::JoinHandle<()>> = msgs
            .iter()
            .filter_map(|m| m.receipt_handle.clone())
            .map(|r| (r.clone(), heartbeat(sqs.clone(), q.clone(), r, visibility)))
            .collect();
        let batch: Vec<batch::Message<'_>> = msgs
            .iter()
            .map(|m| batch::Message {
                id: m.message_id.as_deref().unwrap_or(""),
                body: m.body.as_deref().unwrap_or(""),
                receives: m
                    .attributes
                    .as_ref()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(1),
            })
            .collect();
        let fates = consumer.drain(&batch, received, || stop.load(Ordering::SeqCst)).await;
        for (m, fate) in msgs.iter().zip(fates) {
            let id = m.message_id.as_deref().unwrap_or("");
            let receipt = m.receipt_handle.as_deref().unwrap_or("");
            // Its heartbeat stops first, so it cannot hide again a message handed back below.
            if let Some(beat) = beats.remove(receipt) {
                beat.abort();
            }
            match fate {
                batch::Fate::Delete => match sqs.delete_message().queue_url(q).receipt_handle(receipt).send().await {
                    Ok(_) => consumer.stats.deleted += 1,
                    // The state records the objects: a redelivery is recognized and skipped.
                    Err(e) => say(&format!(
                        "message {id}: DeleteMessage failed ({}): it will come back and be skipped",
                        aws_sdk_sqs::error::DisplayErrorContext(&e)
                    )),
                },
                batch::Fate::Keep(why) => say(&format!("message {id}: kept for a redelivery: {why}")),
                // On a signal, the messages not read go back to the queue at once.
                batch::Fate::Unread => {
                    let back =
                        sqs.change_message_visibility().queue_url(q).receipt_handle(receipt).visibility_timeout(0);
                    let _ = back.send().await;
                }
            }
        }
    }
    for failure in consumer.responder.drain().await {
        say(&format!("notification not sent: {failure}"));
    }
    let s = &consumer.stats;
    say(&format!(
        "stopped: {} messages ({} deleted, {} not notifications, {} test events), {} objects read, {} repeated, {} ignored, {} unreadable, {} decisions ({} repeated holds not announced), state stored {} times",
        s.messages,
        s.deleted,
        s.garbage,
        s.test_events,
        s.objects_read,
        s.objects_repeated,
        s.objects_ignored,
        s.objects_failed,
        s.decisions,
        consumer.responder.holds_repeated(),
        s.stores
    ));
    Ok(consumer.stats)
}

/// Keeps a message invisible while its objects are processed: every third of the visibility timeout,
/// the timeout is set again from now, so a long object is not delivered to another consumer meanwhile.
fn heartbeat(sqs: aws_sdk_sqs::Client, q: String, receipt: String, visibility: i32) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let every = Duration::from_millis((visibility as u64 * 1000 / 3).max(500));
        loop {
            tokio::time::sleep(every).await;
            let r = sqs
                .change_message_visibility()
                .queue_url(&q)
                .receipt_handle(&receipt)
                .visibility_timeout(visibility)
                .send()
                .await;
            if let Err(e) = r {
                tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(&e), "ChangeMessageVisibility failed");
            }
        }
    })
}
