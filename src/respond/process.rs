//! One notification at a time: its objects read through the scan pipeline, their facts merged into
//! the state, the detector run over the state, new or changed findings handed to the guard, and the
//! state stored, before the caller may delete the message.

use super::decide::{Decision, Ledger, Responder, Verdict};
use super::notify_parse::{self, ObjectRef};
use super::state::{Processed, State, changed};
use super::store::{Saved, Store};
use crate::decode::inflate::DEFAULT_MAX_INPUT;
use crate::detect::DetectConfig;
use crate::detect::Detector;
use crate::detect::facts::{FactSink, Facts};
use crate::report::escape::term;
use crate::scan::{ScanOptions, scan_bytes};
use std::time::{Duration, Instant};

/// What to do with a message once processed.
#[derive(Debug, PartialEq, Eq)]
pub enum Disposition {
    /// Every object it names is processed (or reported and given up) and the state stored: delete it.
    Delete,
    /// An object could not be read yet (denied, unreachable): leave the message for a redelivery (and,
    /// after the queue's maxReceiveCount, its dead-letter queue). The reason names the object.
    Retry(String),
}

/// Counts of a run, for the closing line and the benchmark.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    /// Messages handled.
    pub messages: u64,
    /// Messages deleted.
    pub deleted: u64,
    /// Messages that were not notifications (reported and deleted).
    pub garbage: u64,
    /// `s3:TestEvent` messages.
    pub test_events: u64,
    /// Objects read through the pipeline.
    pub objects_read: u64,
    /// Objects skipped as already processed (a redelivery).
    pub objects_repeated: u64,
    /// Digests, objects outside the configured accounts/regions, non-creation records.
    pub objects_ignored: u64,
    /// Objects that could not be read (a fetch failure, or corrupt: reported).
    pub objects_failed: u64,
    /// Decisions the guard made.
    pub decisions: u64,
    /// Per message that led to a decision to act: time from receipt to the guard's return (the
    /// revocation sent and checked), for the benchmark.
    pub act_latencies: Vec<Duration>,
    /// Per message: time from receipt to the state stored.
    pub latencies: Vec<Duration>,
}

/// How the consumer reads and judges, whatever feeds it messages (the SQS loop or Lambda).
pub struct Consumer {
    /// Reads the objects.
    pub s3: aws_sdk_s3::Client,
    /// Keeps the state.
    pub store: Store,
    /// The state as last stored.
    pub state: State,
    /// Detection settings, loaded once and shared by every judgement.
    pub detect: std::sync::Arc<DetectConfig>,
    /// Accounts whose objects are read (from the key's layout); empty reads all.
    pub accounts: Vec<String>,
    /// Regions whose objects are read (from the key's layout); empty reads all.
    pub regions: Vec<String>,
    /// Most bytes read from one object.
    pub max_input_bytes: u64,
    /// Receives after which an unreadable object is reported and its message deleted; 0 leaves it to
    /// the queue's redrive policy (its dead-letter queue).
    pub give_up_after: u32,
    /// The guard.
    pub responder: Responder,
    /// Counts.
    pub stats: Stats,
}

/// A line on stderr, log-derived text escaped for the terminal.
pub(crate) fn say(line: &str) {
    eprintln!("trailhound: respond: {}", term(line));
}

impl Consumer {
    /// Handles one message body; `receives` is its ApproximateReceiveCount (1 on first delivery).
    pub async fn handle_message(&mut self, id: &str, body: &str, receives: u32) -> anyhow::Result<Disposition> {
        let started = Instant::now();
        self.stats.messages += 1;
        let notice = match notify_parse::parse(body) {
            Ok(n) => n,
            Err(why) => {
                // Garbage never parses on a redelivery: keeping it would only delay the queue.
                self.stats.garbage += 1;
                let head: String = body.chars().take(120).collect();
                say(&format!("message {id}: not an S3 notification ({why}), deleted; it began {head:?}"));
                return Ok(Disposition::Delete);
            }
        };
        self.stats.test_events += u64::from(notice.tests);
        if notice.tests > 0 {
            say(&format!("message {id}: s3:TestEvent (the bucket notification works)"));
        }
        for why in &notice.ignored {
            self.stats.objects_ignored += 1;
            say(&format!("message {id}: {why}: ignored"));
        }
        let mut acted = false;
        for obj in &notice.objects {
            match self.handle_object(obj, receives).await? {
                Some(decisions) => acted |= decisions.iter().any(|d| matches!(d.verdict, Verdict::Act)),
                None => {
                    let why = format!("{} could not be read yet", obj.url());
                    return Ok(Disposition::Retry(why));
                }
            }
        }
        if acted {
            self.stats.act_latencies.push(started.elapsed());
        }
        if self.stats.latencies.len() < 1_000_000 {
            self.stats.latencies.push(started.elapsed());
        }
        Ok(Disposition::Delete)
    }

    /// One object: `None` when it must be retried (the message stays), else the decisions made.
    async fn handle_object(&mut self, obj: &ObjectRef, receives: u32) -> anyhow::Result<Option<Vec<Decision>>> {
        let url = obj.url();
        if crate::source::layout::is_digest_path(&obj.key) {
            self.stats.objects_ignored += 1;
            say(&format!("{url}: CloudTrail digest, ignored"));
            return Ok(Some(Vec::new()));
        }
        if let Some(k) = crate::source::layout::parse_key(&obj.key) {
            let out_acct = !self.accounts.is_empty() && !self.accounts.contains(&k.account);
            let out_region = !self.regions.is_empty() && !self.regions.contains(&k.region);
            if out_acct || out_region {
                self.stats.objects_ignored += 1;
                say(&format!(
                    "{url}: account {} region {} is outside the configured --account/--region: not read",
                    k.account, k.region
                ));
                return Ok(Some(Vec::new()));
            }
        }
        let raw_url = obj.raw_key.as_ref().map(|k| format!("s3://{}/{k}", obj.bucket));
        if self.state.is_processed(&url, &obj.etag)
            || raw_url.as_ref().is_some_and(|u| self.state.is_processed(u, &obj.etag))
        {
            self.stats.objects_repeated += 1;
            say(&format!("{url}: already processed (a redelivery): skipped"));
            return Ok(Some(Vec::new()));
        }
        let cap = if self.max_input_bytes == 0 { DEFAULT_MAX_INPUT } else { self.max_input_bytes };
        let mut got = crate::source::s3::get_object(&self.s3, &obj.bucket, &obj.key, obj.size, cap).await;
        let mut url = url;
        if let (Err(_), Some(raw), Some(raw_url)) = (&got, &obj.raw_key, raw_url) {
            // Senders that do not encode keys (moto's EventBridge events) name the key as it is.
            if let Ok(b) = crate::source::s3::get_object(&self.s3, &obj.bucket, raw, obj.size, cap).await {
                got = Ok(b);
                url = raw_url;
            }
        }
        let mut bytes = match got {
            Ok(b) => b,
            Err(e) if self.give_up_after > 0 && receives >= self.give_up_after => {
                self.stats.objects_failed += 1;
                say(&format!("{e}; received {receives} times: given up (poison object), the message is deleted"));
                let outcome = format!("poison: {e}");
                return self.commit(&url, &obj.etag, Facts::default(), outcome).await.map(Some);
            }
            Err(e) => {
                self.stats.objects_failed += 1;
                say(&format!("{e}; the message stays on the queue (receive {receives})"));
                return Ok(None);
            }
        };
        if crate::decode::parquet::sniff(&bytes) {
            // CloudTrail never writes Parquet; a planted one must not reach a decoder whose memory a
            // crafted dictionary page can blow up, in a consumer that runs unattended.
            self.stats.objects_failed += 1;
            say(&format!("{url}: a Parquet file, not a CloudTrail object: not read"));
            let outcome = "skipped: Parquet in a trail bucket".to_owned();
            return self.commit(&url, &obj.etag, Facts::default(), outcome).await.map(Some);
        }
        let mut sink = FactSink::new();
        let scan_opts = ScanOptions { max_input_bytes: cap, ..ScanOptions::default() };
        let summary = tokio::task::block_in_place(|| scan_bytes(&url, &mut bytes, &scan_opts, &mut [&mut sink]));
        let facts = sink.into_facts();
        let outcome = if summary.inputs_read == 1 {
            "read".to_owned()
        } else if let Some(p) = summary.inputs_partial.first() {
            format!("partial: {}", p.reason)
        } else if let Some(s) = summary.inputs_skipped.first() {
            format!("skipped: {}", s.reason)
        } else if let Some(s) = summary.inputs_ignored.first() {
            format!("ignored: {}", s.reason)
        } else {
            "read".to_owned()
        };
        if outcome == "read" {
            self.stats.objects_read += 1;
        } else {
            // Corrupt or cut: reading it again gives the same bytes; what was read counts.
            self.stats.objects_failed += 1;
            say(&format!("{url}: {outcome}"));
        }
        let decisions = self.commit(&url, &obj.etag, facts, outcome).await?;
        say(&format!("{url}: {} records, {} decisions", summary.records, decisions.len()));
        Ok(Some(decisions))
    }

    /// Merges an object's facts into the state, judges, hands new findings to the guard and stores the
    /// state; on a conflict with another consumer, reloads and does it again on the newer state
    /// (decisions already made are recorded first, so the guard never acts twice on a key).
    async fn commit(&mut self, url: &str, etag: &str, facts: Facts, outcome: String) -> anyhow::Result<Vec<Decision>> {
        let mut made: Vec<Decision> = Vec::new();
        for attempt in 0..8 {
            if attempt > 0 {
                self.state = self.store.load().await?;
                if self.state.is_processed(url, etag) {
                    return Ok(made);
                }
                for d in &made {
                    self.state.ledger.record(d)?;
                }
            }
            let at = chrono::Utc::now();
            let now = at.timestamp_millis();
            let st = &mut self.state;
            // The trail's clock, but never ahead of the wall clock by more than an hour: one forged
            // record dated 2099 must not expire every fact for good.
            st.clock_ms = st.clock_ms.max(newest_ms(&facts).min(now + 3_600_000));
            st.facts.merge(facts.clone());
            st.expire(now);
            let cfg = self.detect.clone();
            let findings = tokio::task::block_in_place(|| {
                let mut d = Detector::with_config(cfg);
                d.absorb(&st.facts);
                d.finish().findings
            });
            let new = changed(&st.findings, &findings);
            st.findings = findings;
            if !new.is_empty() {
                let decisions = self.responder.handle(&new, &mut self.state.ledger, at).await;
                self.stats.decisions += decisions.len() as u64;
                made.extend(decisions);
            }
            let etag = etag.to_owned();
            let outcome = outcome.clone();
            self.state.processed.insert(url.to_owned(), Processed { etag, at_ms: now, outcome });
            match self.store.save(&mut self.state).await? {
                Saved::Stored => return Ok(made),
                Saved::Conflict => {
                    tracing::debug!(url, attempt, "state changed by another consumer: reloading");
                }
            }
        }
        anyhow::bail!("{}: kept changing under this consumer (8 attempts) for {url}", self.store.describe())
    }
}

/// The newest event time in an object's facts (epoch ms; 0 when none): the trail's clock.
fn newest_ms(f: &Facts) -> i64 {
    let uses = f.uses.iter().filter_map(|u| u.last_ms);
    let deliveries = f.deliveries.iter().filter_map(|d| d.time_ms);
    let minted = f.minted.iter().filter_map(|m| m.time_ms);
    uses.chain(deliveries).chain(minted).max().unwrap_or(0)
}
