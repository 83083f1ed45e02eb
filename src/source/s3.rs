//! `s3://bucket/prefix` inputs: listed level by level along CloudTrail's layout so that account,
//! region and date filters prune whole prefixes before anything is fetched, then fetched concurrently
//! ahead of the decoders with bounded memory.

use super::{Input, Listing, Location, Prune, layout};
use crate::time::civil_ms;
use aws_sdk_s3::error::ProvideErrorMetadata;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use tokio::sync::Semaphore;

/// `s3://bucket/prefix` -> `(bucket, prefix)`.
pub fn parse_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("s3://")?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    (!bucket.is_empty()).then(|| (bucket.to_owned(), prefix.to_owned()))
}

fn s3_error<E: ProvideErrorMetadata>(
    op: &str,
    what: &str,
    err: &aws_sdk_s3::error::SdkError<E, aws_smithy_runtime_api::client::orchestrator::HttpResponse>,
) -> String
where
    E: std::error::Error + 'static,
{
    // S3 answers HEAD-like denials with a bare 403 and no error body: use the status when there is no code.
    let status = err.raw_response().map(|r| r.status().as_u16());
    let code = err.code().or(match status {
        Some(403) => Some("AccessDenied"),
        Some(404) => Some("NoSuchKey"),
        _ => None,
    });
    let msg = err.message();
    let fallback = {
        let mut s = err.to_string();
        let mut src = std::error::Error::source(err);
        while let Some(e) = src {
            s = format!("{s}: {e}");
            src = e.source();
        }
        s
    };
    match code {
        Some("AccessDenied") => format!("{op} {what}: access denied (check s3:{op} on it, and the bucket policy)"),
        Some("NoSuchKey") => format!("{op} {what}: the object was deleted after it was listed"),
        Some("NoSuchBucket") => format!("{op} {what}: no such bucket"),
        Some(c) => format!("{op} {what}: {c}: {}", msg.unwrap_or("")),
        None => format!("{op} {what}: {fallback}"),
    }
}

/// Whether a folder under the layout can hold records the filters keep, judged from its name alone.
/// `rel` is the folder's path after `AWSLogs/`, as segments.
fn keep_folder(rel: &[&str], prune: &Prune) -> Result<(), &'static str> {
    let mut segs = rel;
    if segs.first().is_some_and(|s| s.starts_with("o-")) {
        segs = &segs[1..];
    }
    let Some((account, rest)) = segs.split_first() else { return Ok(()) };
    if !prune.accounts.is_empty() && !prune.accounts.iter().any(|a| a == account) {
        return Err("account not selected (--account)");
    }
    let Some((kind, rest)) = rest.split_first() else { return Ok(()) };
    if *kind == "CloudTrail-Digest" {
        return Err("CloudTrail-Digest folder (digests hold no events)");
    }
    if *kind != "CloudTrail" {
        return Err("not a CloudTrail log folder (Insights, digests or other data)");
    }
    let Some((region, rest)) = rest.split_first() else { return Ok(()) };
    if !prune.regions.is_empty() && !prune.regions.iter().any(|r| r == region) {
        return Err("region not selected (--region)");
    }
    // The date folders are delivery dates: the folder spans [start, end) of delivery time.
    let num = |s: &str| s.parse::<i64>().ok();
    let (start, end) = match rest {
        [y] => match num(y) {
            Some(y) => (civil_ms(y, 1, 1), civil_ms(y + 1, 1, 1)),
            None => return Ok(()),
        },
        [y, m] => match (num(y), num(m)) {
            (Some(y), Some(m)) => {
                (civil_ms(y, m, 1), if m == 12 { civil_ms(y + 1, 1, 1) } else { civil_ms(y, m + 1, 1) })
            }
            _ => return Ok(()),
        },
        [y, m, d, ..] => match (num(y), num(m), num(d)) {
            (Some(y), Some(m), Some(d)) => (civil_ms(y, m, d), civil_ms(y, m, d) + 86_400_000),
            _ => return Ok(()),
        },
        [] => return Ok(()),
    };
    if prune.since_ms.is_some_and(|s| end <= s) {
        return Err("delivered before --since");
    }
    if prune.until_ms.is_some_and(|u| start - prune.margin_ms >= u) {
        return Err("delivered after --until plus the delivery margin");
    }
    Ok(())
}

pub struct S3Source {
    pub client: aws_sdk_s3::Client,
}

impl S3Source {
    pub fn new(cfg: &aws_config::SdkConfig) -> Self {
        let conf = aws_sdk_s3::config::Builder::from(cfg)
            // moto and LocalStack serve buckets as paths; real S3 accepts both.
            .force_path_style(cfg.endpoint_url().is_some())
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(8))
            .build();
        S3Source { client: aws_sdk_s3::Client::from_conf(conf) }
    }

    /// Lists `s3://bucket/prefix` into `out`, descending only into folders the filters keep. Sibling
    /// folders (accounts, regions, days) are listed concurrently, so an organization trail's thousands
    /// of prefixes cost a few round trips of latency, not thousands.
    pub async fn list(&self, url: &str, prune: &Prune, out: &mut Listing) {
        let Some((bucket, prefix)) = parse_url(url) else {
            out.failed.push((url.to_owned(), "not an s3://bucket/prefix URL".into()));
            return;
        };
        let mut found: Vec<Input> = Vec::new();
        // A prefix that ends mid-name (s3://b/AWSLogs/1111) lists like a folder without the delimiter.
        let flat = !prefix.is_empty() && !prefix.ends_with('/');
        let mut frontier = vec![prefix];
        let limit = std::sync::Arc::new(Semaphore::new(32));
        while !frontier.is_empty() {
            let mut set = tokio::task::JoinSet::new();
            for (i, p) in frontier.drain(..).enumerate() {
                let (client, bucket, limit) = (self.client.clone(), bucket.clone(), limit.clone());
                set.spawn(async move {
                    let _permit = limit.acquire_owned().await;
                    (i, p.clone(), list_level(&client, &bucket, &p, !flat).await)
                });
            }
            let mut results = Vec::new();
            while let Some(r) = set.join_next().await {
                if let Ok(r) = r {
                    results.push(r);
                }
            }
            // Deterministic order whatever finished first.
            results.sort_by_key(|(i, _, _)| *i);
            for (_, p, (objects, prefixes, error)) in results {
                if let Some(e) = error {
                    out.failed.push((format!("s3://{bucket}/{p}"), e));
                }
                for (key, size) in objects {
                    let layout = layout::parse_key(&key);
                    found.push(Input {
                        name: format!("s3://{bucket}/{key}"),
                        location: Location::S3 { bucket: bucket.clone(), key, seq: 0 },
                        size,
                        layout,
                    });
                }
                for sub in prefixes {
                    let verdict = match sub.find("AWSLogs/") {
                        Some(pos) => {
                            let rel: Vec<&str> = sub[pos + 8..].split('/').filter(|s| !s.is_empty()).collect();
                            keep_folder(&rel, prune)
                        }
                        None => Ok(()),
                    };
                    match verdict {
                        Ok(()) => frontier.push(sub),
                        Err(why) => out.pruned.push((format!("s3://{bucket}/{sub}"), why.into())),
                    }
                }
            }
        }
        found.sort_by(|a, b| a.name.cmp(&b.name));
        for i in found {
            out.offer(i, prune);
        }
    }
}

type Level = (Vec<(String, u64)>, Vec<String>, Option<String>);

/// One folder: its objects and sub-folders (all pages), or the error that stopped the listing.
async fn list_level(client: &aws_sdk_s3::Client, bucket: &str, prefix: &str, delimited: bool) -> Level {
    let mut req = client.list_objects_v2().bucket(bucket).prefix(prefix);
    if delimited {
        req = req.delimiter("/");
    }
    let mut pages = req.into_paginator().send();
    let (mut objects, mut prefixes) = (Vec::new(), Vec::new());
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(pg) => pg,
            Err(e) => {
                return (objects, prefixes, Some(s3_error("ListObjectsV2", &format!("s3://{bucket}/{prefix}"), &e)));
            }
        };
        for obj in page.contents() {
            if let Some(key) = obj.key().filter(|k| !k.ends_with('/')) {
                objects.push((key.to_owned(), obj.size().unwrap_or(0).max(0) as u64));
            }
        }
        prefixes.extend(page.common_prefixes().iter().filter_map(|cp| cp.prefix().map(str::to_owned)));
    }
    (objects, prefixes, None)
}

/// The longest one object may take, retries included.
const FETCH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// Objects fetched ahead of the decoders: at most `window` objects and `budget` bytes held at once,
/// so a slow consumer stops the downloads instead of piling them up.
pub struct Prefetcher {
    slots: Mutex<HashMap<usize, Result<Vec<u8>, String>>>,
    ready: Condvar,
    permits: Arc<Semaphore>,
    held: Mutex<HashMap<usize, u32>>,
    cancel: Arc<AtomicBool>,
    pub fetched: std::sync::atomic::AtomicU64,
}

fn permits_for(size: u64, budget_kb: u32) -> u32 {
    ((size / 1024) as u32).clamp(1, budget_kb)
}

impl Prefetcher {
    /// Starts fetching `inputs` (their `Location::S3` ones, in `seq` order) on `rt`.
    pub fn start(
        rt: &tokio::runtime::Handle,
        client: aws_sdk_s3::Client,
        inputs: &[Input],
        concurrency: usize,
        budget_bytes: u64,
        cancel: Arc<AtomicBool>,
    ) -> Arc<Self> {
        let budget_kb = ((budget_bytes / 1024) as u32).max(1024);
        let me = Arc::new(Prefetcher {
            slots: Mutex::new(HashMap::new()),
            ready: Condvar::new(),
            permits: Arc::new(Semaphore::new(budget_kb as usize)),
            held: Mutex::new(HashMap::new()),
            cancel,
            fetched: std::sync::atomic::AtomicU64::new(0),
        });
        let jobs: Vec<(usize, String, String, u64)> = inputs
            .iter()
            .filter_map(|i| match &i.location {
                Location::S3 { bucket, key, seq } => Some((*seq, bucket.clone(), key.clone(), i.size)),
                _ => None,
            })
            .collect();
        let this = me.clone();
        rt.spawn(async move {
            let in_flight = Arc::new(Semaphore::new(concurrency.max(1)));
            for (seq, bucket, key, size) in jobs {
                if this.cancel.load(Ordering::Relaxed) {
                    break;
                }
                let need = permits_for(size, budget_kb);
                let Ok(mem) = this.permits.clone().acquire_many_owned(need).await else { break };
                mem.forget();
                if let Ok(mut h) = this.held.lock() {
                    h.insert(seq, need);
                }
                let Ok(slot) = in_flight.clone().acquire_owned().await else { break };
                let (client, this) = (client.clone(), this.clone());
                tokio::spawn(async move {
                    // Every object ends in its slot, whatever happens: a hung transfer times out and a
                    // failed task is reported, so the decoder waiting for it never hangs.
                    let what = format!("s3://{bucket}/{key}");
                    let task = tokio::spawn(async move {
                        tokio::time::timeout(FETCH_TIMEOUT, fetch(&client, &bucket, &key)).await
                    });
                    let res = match task.await {
                        Ok(Ok(r)) => r,
                        Ok(Err(_)) => Err(format!("GetObject {what}: no answer within {} s", FETCH_TIMEOUT.as_secs())),
                        Err(e) => Err(format!("GetObject {what}: the fetch failed: {e}")),
                    };
                    drop(slot);
                    if let Ok(b) = &res {
                        this.fetched.fetch_add(b.len() as u64, Ordering::Relaxed);
                    }
                    if let Ok(mut s) = this.slots.lock() {
                        s.insert(seq, res);
                    }
                    this.ready.notify_all();
                });
            }
        });
        me
    }

    /// Waits for object `seq` and moves its bytes into `buf`.
    pub fn take(&self, seq: usize, buf: &mut Vec<u8>) -> Result<(), String> {
        let mut slots = self.slots.lock().map_err(|_| "prefetch state poisoned".to_owned())?;
        loop {
            if let Some(res) = slots.remove(&seq) {
                drop(slots);
                if let Some(n) = self.held.lock().ok().and_then(|mut h| h.remove(&seq)) {
                    self.permits.add_permits(n as usize);
                }
                let bytes = res?;
                *buf = bytes;
                return Ok(());
            }
            if self.cancel.load(Ordering::Relaxed) {
                return Err("interrupted (Ctrl-C) before it was fetched".into());
            }
            let (s, _) = self
                .ready
                .wait_timeout(slots, std::time::Duration::from_millis(200))
                .map_err(|_| "prefetch state poisoned".to_owned())?;
            slots = s;
        }
    }
}

/// One object, with a few whole-object retries for bodies cut mid-transfer (the SDK already retries
/// throttling such as `SlowDown` and transient errors on the request itself, with backoff).
async fn fetch(client: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<Vec<u8>, String> {
    let what = format!("s3://{bucket}/{key}");
    let mut last = String::new();
    for attempt in 0..3u32 {
        if attempt > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(200 << attempt)).await;
        }
        let resp = match client.get_object().bucket(bucket).key(key).send().await {
            Ok(r) => r,
            Err(e) => return Err(s3_error("GetObject", &what, &e)),
        };
        match resp.body.collect().await {
            // One contiguous buffer; `Vec::from` reuses it instead of copying when it can.
            Ok(data) => return Ok(Vec::from(data.into_bytes())),
            Err(e) => last = format!("GetObject {what}: transfer failed: {e}"),
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_folders() {
        assert_eq!(parse_url("s3://b/AWSLogs/"), Some(("b".into(), "AWSLogs/".into())));
        assert_eq!(parse_url("s3://b"), Some(("b".into(), "".into())));
        assert_eq!(parse_url("/tmp/x"), None);
        let day = civil_ms(2026, 11, 1);
        let p = Prune {
            accounts: vec!["111122223333".into()],
            regions: vec!["us-east-1".into()],
            since_ms: Some(day),
            until_ms: Some(day + 86_400_000),
            margin_ms: 7_200_000,
        };
        assert!(keep_folder(&["o-abc", "111122223333"], &p).is_ok());
        assert!(keep_folder(&["999999999999"], &p).is_err());
        assert!(keep_folder(&["111122223333", "CloudTrail-Digest"], &p).is_err());
        assert!(keep_folder(&["111122223333", "CloudTrail", "eu-west-1"], &p).is_err());
        assert!(keep_folder(&["111122223333", "CloudTrail", "us-east-1", "2026", "11", "01"], &p).is_ok());
        // The next day's first deliveries may hold records of the selected day.
        assert!(keep_folder(&["111122223333", "CloudTrail", "us-east-1", "2026", "11", "02"], &p).is_ok());
        assert!(keep_folder(&["111122223333", "CloudTrail", "us-east-1", "2026", "11", "03"], &p).is_err());
        assert!(keep_folder(&["111122223333", "CloudTrail", "us-east-1", "2026", "10"], &p).is_err());
        assert!(keep_folder(&["111122223333", "CloudTrail", "us-east-1", "2025"], &p).is_err());
    }
}
