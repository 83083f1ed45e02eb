//! The Lambda entry point: one SQS batch per invocation, the same processing as the long-running
//! consumer, messages whose objects cannot be read yet returned in `batchItemFailures` (the event
//! source mapping must have `ReportBatchItemFailures`), the state in DynamoDB (a function's instances
//! share nothing else). Messages not listed as failures are deleted by Lambda.

use super::batch::{Fate, Message};
use super::process::{Consumer, say};
use super::store::StateLocation;
use super::{RespondOptions, consumer};
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// Time kept back from an invocation's timeout to judge and store what was read.
const MARGIN: Duration = Duration::from_secs(15);

/// Handles one batch. Every message is attempted (a standard queue has no order to keep); the state is
/// reloaded first, since other instances of the function may have stored since. `deadline` is when the
/// invocation times out (None: no limit).
pub async fn handle_batch(c: &mut Consumer, event: SqsEvent, deadline: Option<SystemTime>) -> SqsBatchResponse {
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
    // The batch's objects are read, judged and stored in chunks; a message is reported as processed
    // only once the state that records its objects is stored. Messages not reached while more than
    // `MARGIN` of the invocation is left go back to the queue, so what was read is stored in time.
    let msgs: Vec<Message<'_>> = event
        .records
        .iter()
        .map(|m| Message {
            id: m.message_id.as_deref().unwrap_or(""),
            body: m.body.as_deref().unwrap_or(""),
            receives: m.attributes.get("ApproximateReceiveCount").and_then(|n| n.parse().ok()).unwrap_or(1),
        })
        .collect();
    let late = || deadline.is_some_and(|d| d.duration_since(SystemTime::now()).unwrap_or_default() < MARGIN);
    let quiet = c.responder.holds_repeated();
    let fates = c.drain(&msgs, Instant::now(), late).await;
    // A function has no closing line: the holds not announced again are counted per invocation.
    let repeated = c.responder.holds_repeated() - quiet;
    if repeated > 0 {
        say(&format!("{repeated} repeated holds not announced (the same key, rule and reason within the hour)"));
    }
    for (m, fate) in msgs.iter().zip(fates) {
        let id = m.id;
        match fate {
            Fate::Delete => {}
            Fate::Keep(why) => {
                say(&format!("message {id}: returned for a redelivery: {why}"));
                fail(id);
            }
            Fate::Unread => {
                say(&format!(
                    "message {id}: not read before the invocation's time ran short: returned for a redelivery"
                ));
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
    // Only /tmp is writable in Lambda, and it goes with the instance: the decisions, and every line of
    // the audit log, also go to the function's log (stdout), from which the log can be rebuilt.
    let mut opts = opts.clone();
    opts.audit_log.get_or_insert_with(|| "/tmp/trailhound-audit.jsonl".into());
    let opts = &opts;
    // Unreadable objects are left to the queue's redrive policy (the template sets a dead-letter queue).
    let mut c = consumer(&cfg, opts, 0).await?;
    c.responder.echo_audit_to(Box::new(std::io::stdout()));
    let c = Arc::new(tokio::sync::Mutex::new(c));
    let handler = lambda_runtime::service_fn(move |ev: lambda_runtime::LambdaEvent<SqsEvent>| {
        let c = c.clone();
        async move {
            let mut c = c.lock().await;
            Ok::<_, lambda_runtime::Error>(handle_batch(&mut c, ev.payload, Some(ev.context.deadline())).await)
        }
    });
    lambda_runtime::run(handler).await.map_err(|e| anyhow::anyhow!("Lambda runtime: {e}"))
}
