//! A batch of notifications at a time: their objects read through the scan pipeline, their facts
//! merged into the state, the detector run over the state once, new or changed findings handed to the
//! guard, and the state stored, before the caller may delete the messages.

use super::batch::Pending;
use super::decide::{Decision, Ledger, Responder, Verdict};
use super::notify_parse::{self, ObjectRef};
use super::state::{Processed, State, changed};
use super::store::{Saved, Store};
use crate::decode::inflate::max_input;
use crate::detect::DetectConfig;
use crate::detect::Detector;
use crate::detect::facts::{FactSink, Facts};
use crate::report::escape::term;
use crate::scan::{ScanOptions, scan_bytes};
use std::time::{Duration, Instant};

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
    /// Times the state was judged and stored (once per batch of messages that read an object).
    pub stores: u64,
    /// Per decision to act: time from the receipt of the first message of its batch to the state
    /// stored after the guard's return (the revocation sent and checked), for the benchmark.
    pub act_latencies: Vec<Duration>,
    /// Per message: time from receipt to the state stored.
    pub latencies: Vec<Duration>,
}

/// An object read but not yet merged into the state.
pub(super) struct ReadObject {
    pub(super) url: String,
    pub(super) etag: String,
    facts: Facts,
    outcome: String,
    records: u64,
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
    /// The objects one message body names (none for garbage, reported: it never parses on a
    /// redelivery, so it is deleted with its batch).
    pub(super) fn open_message(&mut self, id: &str, body: &str) -> Vec<ObjectRef> {
        self.stats.messages += 1;
        let notice = match notify_parse::parse(body) {
            Ok(n) => n,
            Err(why) => {
                self.stats.garbage += 1;
                let head: String = body.chars().take(120).collect();
                say(&format!("message {id}: not an S3 notification ({why}), deleted; it began {head:?}"));
                return Vec::new();
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
        notice.objects
    }

    /// Reads one object into `pending`; false when it must be retried (the message stays). `receives`
    /// is its message's ApproximateReceiveCount (1 on first delivery).
    pub(super) async fn read_object(&mut self, obj: &ObjectRef, receives: u32, pending: &mut Pending) -> bool {
        let url = obj.url();
        if crate::source::layout::is_digest_path(&obj.key) {
            self.stats.objects_ignored += 1;
            say(&format!("{url}: CloudTrail digest, ignored"));
            return true;
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
                return true;
            }
        }
        let raw_url = obj.raw_key.as_ref().map(|k| format!("s3://{}/{k}", obj.bucket));
        let done = |u: &str| self.state.is_processed(u, &obj.etag) || pending.has(u, &obj.etag);
        if done(&url) || raw_url.as_deref().is_some_and(done) {
            self.stats.objects_repeated += 1;
            say(&format!("{url}: already processed (a redelivery): skipped"));
            return true;
        }
        let cap = max_input(self.max_input_bytes);
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
                pending.push(ReadObject { url, etag: obj.etag.clone(), facts: Facts::default(), outcome, records: 0 });
                return true;
            }
            Err(e) => {
                self.stats.objects_failed += 1;
                say(&format!("{e}; the message stays on the queue (receive {receives})"));
                return false;
            }
        };
        if crate::decode::parquet::sniff(&bytes) {
            // CloudTrail never writes Parquet; a planted one must not reach a decoder whose memory a
            // crafted dictionary page can blow up, in a consumer that runs unattended.
            self.stats.objects_failed += 1;
            say(&format!("{url}: a Parquet file, not a CloudTrail object: not read"));
            let outcome = "skipped: Parquet in a trail bucket".to_owned();
            pending.push(ReadObject { url, etag: obj.etag.clone(), facts: Facts::default(), outcome, records: 0 });
            return true;
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
        let records = summary.records;
        pending.push(ReadObject { url, etag: obj.etag.clone(), facts, outcome, records });
        true
    }

    /// Merges the facts of the objects in `pending` into the state, judges once, hands new findings
    /// to the guard and stores the state; on a conflict with another consumer, reloads and does it
    /// again on the newer state, without the objects it has processed meanwhile (decisions already
    /// made are recorded first, so the guard never acts twice on a key).
    /// `received` is when the batch arrived, for the latencies.
    pub async fn commit(&mut self, mut pending: Pending, received: Instant) -> anyhow::Result<Vec<Decision>> {
        let mut made: Vec<Decision> = Vec::new();
        if let Err(e) = self.try_commit(&mut pending, &mut made).await {
            self.restore(&pending, &made).await;
            return Err(e);
        }
        // Each revocation and each message counts from the batch's receipt: the longest wait.
        let acts = made.iter().filter(|d| matches!(d.verdict, Verdict::Act)).count();
        self.stats.act_latencies.extend(std::iter::repeat_n(received.elapsed(), acts));
        for _ in 0..pending.messages {
            if self.stats.latencies.len() < 1_000_000 {
                self.stats.latencies.push(received.elapsed());
            }
        }
        Ok(made)
    }

    /// After a failed commit the state in memory holds the chunk's objects as processed though the
    /// store does not: their redelivery would be skipped and deleted. So it goes back to the state as
    /// stored, with the decisions made (the guard never acts twice on a key); if that cannot be read
    /// either, the chunk's objects at least are no longer marked processed, so they are read again.
    async fn restore(&mut self, pending: &Pending, made: &[Decision]) {
        match self.store.load().await {
            Ok(s) => {
                self.state = s;
                for d in made {
                    if let Err(e) = self.state.ledger.record(d) {
                        say(&format!("decision {} not recorded again: {e:#}", d.id));
                    }
                }
            }
            Err(e) => {
                say(&format!("{e:#}: the objects of the batch will be read again on their redelivery"));
                for o in &pending.objects {
                    self.state.processed.remove(&o.url);
                }
            }
        }
    }

    async fn try_commit(&mut self, pending: &mut Pending, made: &mut Vec<Decision>) -> anyhow::Result<()> {
        // Keys left unsettled by an attempt stay owed on the state reloaded after a conflict.
        let mut owed = std::collections::BTreeSet::new();
        for attempt in 0..8 {
            if attempt > 0 {
                self.state = self.store.load().await?;
                self.state.unsettled.append(&mut owed);
                let st = &self.state;
                pending.objects.retain(|o| !st.is_processed(&o.url, &o.etag));
                for d in made.iter() {
                    self.state.ledger.record(d)?;
                }
            }
            if pending.objects.is_empty() {
                // Another consumer stored every object first; the decisions this one made on them
                // (announced, in the audit log) still go into the stored ledger. Holds are not in the
                // ledger: they alone need no store.
                if made.iter().all(|d| d.summary().is_none()) {
                    return Ok(());
                }
                match self.store.save(&mut self.state).await? {
                    Saved::Stored => {
                        self.stats.stores += 1;
                        return Ok(());
                    }
                    Saved::Conflict => continue,
                }
            }
            let at = chrono::Utc::now();
            let now = at.timestamp_millis();
            let st = &mut self.state;
            for o in &pending.objects {
                // The trail's clock, but never ahead of the wall clock by more than an hour: one forged
                // record dated 2099 must not expire every fact for good.
                st.clock_ms = st.clock_ms.max(newest_ms(&o.facts).min(now + 3_600_000));
                st.facts.merge(o.facts.clone());
            }
            st.expire(now);
            let cfg = self.detect.clone();
            let findings = tokio::task::block_in_place(|| {
                let mut d = Detector::with_config(cfg);
                d.absorb(&st.facts);
                d.finish().findings
            });
            let new = changed(&st.findings, &findings, &st.unsettled);
            st.findings = findings;
            if !new.is_empty() {
                let decisions = self.responder.handle(&new, &mut self.state.ledger, at).await;
                self.stats.decisions += decisions.len() as u64;
                made.extend(decisions);
            }
            // Findings whose revocation failed, or was held by what may lift, are offered again by
            // the next batch, changed or not (every such finding still there was in `new`).
            self.state.unsettled = self.responder.take_unsettled().into_iter().collect();
            owed.clone_from(&self.state.unsettled);
            for o in &pending.objects {
                let p = Processed { etag: o.etag.clone(), at_ms: now, outcome: o.outcome.clone() };
                self.state.processed.insert(o.url.clone(), p);
            }
            match self.store.save(&mut self.state).await? {
                Saved::Stored => {
                    self.stats.stores += 1;
                    let n = pending.objects.len();
                    for o in &pending.objects {
                        say(&format!("{}: {} records, judged and stored with {n} objects", o.url, o.records));
                    }
                    return Ok(());
                }
                Saved::Conflict => tracing::debug!(attempt, "state changed by another consumer: reloading"),
            }
        }
        anyhow::bail!(
            "{}: kept changing under this consumer (8 attempts) for {}",
            self.store.describe(),
            pending.objects.first().map_or("the decisions made on objects another consumer stored", |o| o.url.as_str())
        )
    }
}

/// The newest event time in an object's facts (epoch ms; 0 when none): the trail's clock.
fn newest_ms(f: &Facts) -> i64 {
    let uses = f.uses.iter().filter_map(|u| u.last_ms);
    let deliveries = f.deliveries.iter().filter_map(|d| d.time_ms);
    let minted = f.minted.iter().filter_map(|m| m.time_ms);
    uses.chain(deliveries).chain(minted).max().unwrap_or(0)
}
