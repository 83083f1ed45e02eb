//! The Lambda entry point: one SQS batch per invocation, the same processing as the long-running
//! consumer, messages whose objects cannot be read yet returned in `batchItemFailures` (the event
//! source mapping must have `ReportBatchItemFailures`), the state in DynamoDB (a function's instances
//! share nothing else). Messages not listed as failures are deleted by Lambda.

use super::process::{Consumer, Disposition, Pending, say};
use super::store::StateLocation;
use super::{RespondOptions, consumer};
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use std::sync::Arc;

/// Handles one batch. Every message is attempted (a standard queue has no order to keep); the state is
/// reloaded first, since other instances of the function may have stored since.
pub async fn handle_batch(c: &mut Consumer, event: SqsEvent) -> SqsBatchResponse {
    let mut resp = SqsBatchResponse::default();
    let mut fail = |id: &str| {
        let mut f = BatchItemFailure::default();
        f.item_identifier = id.to_owned();
        resp.batch_item_failures.push(f);
    };
    match c.store.load().await {
        Ok(s) => c.state = s,
        Err(e) => {
            say(&format!("{e:#}: the whole batch is returned for a retry"));
            for m in &event.records {
                fail(m.message_id.as_deref().unwrap_or(""));
            }
            return resp;
        }
    }
    // Every message is read, then the batch is judged and stored once; a message is reported as
    // processed only once the state that records its objects is stored.
    let mut pending = Pending::default();
    let mut read = Vec::with_capacity(event.records.len());
    for m in &event.records {
        let id = m.message_id.as_deref().unwrap_or("");
        let receives = m.attributes.get("ApproximateReceiveCount").and_then(|n| n.parse().ok()).unwrap_or(1);
        read.push((id, c.read_message(id, m.body.as_deref().unwrap_or(""), receives, &mut pending).await));
    }
    let committed = c.commit(pending).await;
    for (id, disposition) in read {
        match (&committed, disposition) {
            (Ok(_), Disposition::Delete) => {}
            (Ok(_), Disposition::Retry(why)) => {
                say(&format!("message {id}: returned for a redelivery: {why}"));
                fail(id);
            }
            (Err(e), _) => {
                say(&format!("message {id}: {e:#}; returned for a redelivery"));
                fail(id);
            }
        }
    }
    // The function may be frozen after it returns: notifications still in flight are sent now.
    for failure in c.responder.drain().await {
        say(&format!("notification not sent: {failure}"));
    }
    resp
}

/// Runs the function: `trailhound lambda` is what the function's `bootstrap` executes.
pub async fn run(opts: &RespondOptions) -> anyhow::Result<()> {
    if !matches!(opts.state, StateLocation::Dynamo(_)) {
        anyhow::bail!("in Lambda the state must be shared: set --state dynamodb://TABLE (TRAILHOUND_STATE)");
    }
    let cfg = crate::aws::config(&opts.aws).await;
    // Only /tmp is writable in Lambda; the decisions also go to the function's log (stdout).
    let mut opts = opts.clone();
    opts.audit_log.get_or_insert_with(|| "/tmp/trailhound-audit.jsonl".into());
    let opts = &opts;
    // Unreadable objects are left to the queue's redrive policy (the template sets a dead-letter queue).
    let c = Arc::new(tokio::sync::Mutex::new(consumer(&cfg, opts, 0).await?));
    let handler = lambda_runtime::service_fn(move |ev: lambda_runtime::LambdaEvent<SqsEvent>| {
        let c = c.clone();
        async move {
            let mut c = c.lock().await;
            Ok::<_, lambda_runtime::Error>(handle_batch(&mut c, ev.payload).await)
        }
    });
    lambda_runtime::run(handler).await.map_err(|e| anyhow::anyhow!("Lambda runtime: {e}"))
}
