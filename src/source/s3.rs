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

    /// Lists `s3://bucket/prefix` into `out`. Folders above the region level are listed with a
    /// delimiter, concurrently, and pruned by name (accounts, regions, digests); each region folder is
    /// then listed flat, starting at the first delivery day the filters keep and stopping after the
    /// last, so a date window costs no year/month/day round trips and no keys outside it.
    pub async fn list(&self, url: &str, prune: &Prune, out: &mut Listing) {
        let Some((bucket, prefix)) = parse_url(url) else {
            out.failed.push((url.to_owned(), "not an s3://bucket/prefix URL".into()));
            return;
        };
        let mut found: Vec<Input> = Vec::new();
        // A prefix that ends mid-name (s3://b/AWSLogs/1111) lists like a folder without the delimiter.
        let first = if !prefix.is_empty() && !prefix.ends_with('/') {
            Walk::Flat { start_after: None, stop_ms: None }
        } else {
            walk_for(&prefix, prune)
        };
        let mut queued: std::collections::HashSet<String> = std::collections::HashSet::from([prefix.clone()]);
        let mut frontier = vec![(prefix, first)];
        let limit = std::sync::Arc::new(Semaphore::new(32));
        while !frontier.is_empty() {
            let mut set = tokio::task::JoinSet::new();
            for (i, (p, walk)) in frontier.drain(..).enumerate() {
                let (client, bucket, limit) = (self.client.clone(), bucket.clone(), limit.clone());
                set.spawn(async move {
                    let _permit = limit.acquire_owned().await;
                    (i, p.clone(), list_level(&client, &bucket, &p, &walk).await)
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
            for (_, p, (objects, prefixes, error, skipped)) in results {
                if let Some(e) = error {
                    out.failed.push((format!("s3://{bucket}/{p}"), e));
                }
                for (what, why) in skipped {
                    out.pruned.push((format!("s3://{bucket}/{p}{what}"), why.into()));
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
                        Some(pos) => keep_folder(&segments(&sub[pos + 8..]), prune),
                        None => Ok(()),
                    };
                    match verdict {
                        Ok(()) => {
                            // An account's `CloudTrail/` folder is listed in the same round trip as the
                            // account's own folder (which still tells what else it holds): one round
                            // trip less before the first object can be fetched.
                            let guess = is_account_folder(&sub).then(|| format!("{sub}CloudTrail/"));
                            for p in std::iter::once(sub).chain(guess) {
                                if queued.insert(p.clone()) {
                                    let walk = walk_for(&p, prune);
                                    frontier.push((p, walk));
                                }
                            }
                        }
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

/// `.../AWSLogs/[o-org/]123456789012/`
fn is_account_folder(prefix: &str) -> bool {
    let Some(pos) = prefix.find("AWSLogs/") else { return false };
    let mut segs = segments(&prefix[pos + 8..]);
    if segs.first().is_some_and(|s| s.starts_with("o-")) {
        segs.remove(0);
    }
    segs.len() == 1 && segs[0].len() == 12 && segs[0].bytes().all(|c| c.is_ascii_digit())
}

fn segments(rel: &str) -> Vec<&str> {
    rel.split('/').filter(|s| !s.is_empty()).collect()
}

/// How one folder is listed.
#[derive(Clone, Debug, PartialEq)]
enum Walk {
    /// One level: objects and sub-folders, to be judged by name.
    Delimited,
    /// Every key below, in key order: from just after `start_after`, and no further than the first
    /// key in a day folder that starts at or after `stop_ms`.
    Flat { start_after: Option<String>, stop_ms: Option<i64> },
}

/// Region folders (`AWSLogs/[o-org/]account/CloudTrail/region/`) and anything below them are listed flat:
/// nothing under them is worth a round trip per level, and their keys sort by delivery day.
fn walk_for(prefix: &str, prune: &Prune) -> Walk {
    let Some(pos) = prefix.find("AWSLogs/") else { return Walk::Delimited };
    let mut segs = segments(&prefix[pos + 8..]);
    if segs.first().is_some_and(|s| s.starts_with("o-")) {
        segs.remove(0);
    }
    if segs.len() < 3 || segs[1] != "CloudTrail" || !prefix.ends_with('/') {
        return Walk::Delimited;
    }
    // Keys under the region folder are `YYYY/MM/DD/...`: start in the day holding --since (a key sorts
    // after `YYYY/MM/DD` exactly when it is in that day or later).
    let region = region_folder_len(prefix).unwrap_or(prefix.len());
    let start_after =
        prune.since_ms.map(|s| format!("{}{}", &prefix[..region], day_path(s))).filter(|sa| sa.as_str() > prefix);
    Walk::Flat { start_after, stop_ms: prune.until_ms.map(|u| u + prune.margin_ms) }
}

/// Length of the `.../AWSLogs/[o-org/]account/CloudTrail/region/` part of a key or prefix, if it has one.
fn region_folder_len(key: &str) -> Option<usize> {
    let pos = key.find("AWSLogs/")? + 8;
    let want = if key[pos..].starts_with("o-") { 4 } else { 3 };
    let (i, _) = key[pos..].match_indices('/').nth(want - 1)?;
    Some(pos + i + 1)
}

/// `YYYY/MM/DD` of the UTC day holding `ms`.
fn day_path(ms: i64) -> String {
    crate::time::format_ms(crate::time::day_start(ms))[..10].replace('-', "/")
}

/// Start of the delivery day a key's `YYYY/MM/DD/` folder names, given the key after its region folder.
fn key_day_ms(after_region: &str) -> Option<i64> {
    let mut it = after_region.split('/');
    let (y, m, d) = (it.next()?, it.next()?, it.next()?);
    it.next()?;
    let n = |s: &str| (s.len() >= 2 && s.bytes().all(|c| c.is_ascii_digit())).then(|| s.parse::<i64>().ok()).flatten();
    Some(civil_ms(n(y)?, n(m)?, n(d)?))
}

/// Objects, sub-folders, the error that stopped the listing, and the key ranges skipped by date
/// (`(range, reason)`, the range named relative to the folder).
type Level = (Vec<(String, u64)>, Vec<String>, Option<String>, Vec<(String, &'static str)>);

/// One folder: its objects and sub-folders (all pages), or the error that stopped the listing.
async fn list_level(client: &aws_sdk_s3::Client, bucket: &str, prefix: &str, walk: &Walk) -> Level {
    let mut req = client.list_objects_v2().bucket(bucket).prefix(prefix);
    let mut stop_ms = None;
    let mut skipped = Vec::new();
    match walk {
        Walk::Delimited => req = req.delimiter("/"),
        Walk::Flat { start_after, stop_ms: s } => {
            if let Some(sa) = start_after {
                req = req.start_after(sa);
                let day = sa.get(prefix.len()..).unwrap_or(sa);
                skipped.push((format!(" (days before {day})"), "delivered before --since"));
            }
            stop_ms = *s;
        }
    }
    let region = region_folder_len(prefix).unwrap_or(usize::MAX);
    let mut pages = req.into_paginator().send();
    let (mut objects, mut prefixes) = (Vec::new(), Vec::new());
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(pg) => pg,
            Err(e) => {
                let e = s3_error("ListObjectsV2", &format!("s3://{bucket}/{prefix}"), &e);
                return (objects, prefixes, Some(e), skipped);
            }
        };
        for obj in page.contents() {
            let Some(key) = obj.key().filter(|k| !k.ends_with('/')) else { continue };
            // Keys sort by delivery day: the first one past the window ends the listing.
            if let (Some(stop), Some(day)) = (stop_ms, key.get(region..).and_then(key_day_ms)) {
                if day >= stop {
                    let from = crate::time::format_ms(day);
                    skipped.push((
                        format!(" (days from {})", &from[..10]),
                        "delivered after --until plus the delivery margin",
                    ));
                    return (objects, prefixes, None, skipped);
                }
            }
            objects.push((key.to_owned(), obj.size().unwrap_or(0).max(0) as u64));
        }
        prefixes.extend(page.common_prefixes().iter().filter_map(|cp| cp.prefix().map(str::to_owned)));
    }
    (objects, prefixes, None, skipped)
}

/// The longest one object may take, retries included.
const FETCH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// Objects fetched ahead of the decoders: at most `budget` bytes held at once, so a slow consumer stops
/// the downloads instead of piling them up. (A tighter cap, twice the concurrency in objects, cut the
/// memory but cost 10% more CPU in wake-ups per object: the budget is the knob, --s3-buffer-mb.)
pub struct Prefetcher {
    slots: Mutex<HashMap<usize, Result<Vec<u8>, String>>>,
    /// Buffers handed back by the decoders, refilled by the next fetches: fresh buffers cost a page
    /// fault per 4 KiB, which was a fifth of the S3 path's CPU.
    spare: Mutex<Vec<Vec<u8>>>,
    spare_limit: (usize, usize),
    ready: Condvar,
    permits: Arc<Semaphore>,
    held: Mutex<HashMap<usize, u32>>,
    cancel: Arc<AtomicBool>,
    pub fetched: std::sync::atomic::AtomicU64,
    /// Time the decoders spent waiting for objects, for TRAILHOUND_LOG=debug: when it is a large
    /// share of the scan, more concurrency (or a closer region) would help.
    waited_us: std::sync::atomic::AtomicU64,
}

impl Drop for Prefetcher {
    fn drop(&mut self) {
        tracing::debug!(
            fetched_bytes = self.fetched.load(Ordering::Relaxed),
            decoders_waited_ms = self.waited_us.load(Ordering::Relaxed) / 1000,
            "S3 prefetch done"
        );
    }
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
            spare: Mutex::new(Vec::new()),
            // Enough buffers for every fetch in flight, and never more than a quarter of the budget.
            spare_limit: (concurrency.max(1) + 8, (budget_bytes / 4) as usize),
            ready: Condvar::new(),
            permits: Arc::new(Semaphore::new(budget_kb as usize)),
            held: Mutex::new(HashMap::new()),
            cancel,
            fetched: std::sync::atomic::AtomicU64::new(0),
            waited_us: std::sync::atomic::AtomicU64::new(0),
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
                    let buf = this.spare_buffer();
                    let task = tokio::spawn(async move {
                        tokio::time::timeout(FETCH_TIMEOUT, fetch(&client, &bucket, &key, size, buf)).await
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

    fn spare_buffer(&self) -> Vec<u8> {
        self.spare.lock().ok().and_then(|mut v| v.pop()).unwrap_or_default()
    }

    /// Keeps `buf` for a later fetch, within the pool's count and byte limits.
    fn recycle(&self, mut buf: Vec<u8>) {
        let Ok(mut v) = self.spare.lock() else { return };
        let (count, bytes) = self.spare_limit;
        let held: usize = v.iter().map(Vec::capacity).sum();
        if buf.capacity() > 0 && v.len() < count && held + buf.capacity() <= bytes {
            buf.clear();
            v.push(buf);
        }
    }

    /// Waits for object `seq` and moves its bytes into `buf`; what `buf` held goes back to the pool.
    pub fn take(&self, seq: usize, buf: &mut Vec<u8>) -> Result<(), String> {
        let mut slots = self.slots.lock().map_err(|_| "prefetch state poisoned".to_owned())?;
        let asked = std::time::Instant::now();
        loop {
            if let Some(res) = slots.remove(&seq) {
                drop(slots);
                self.waited_us.fetch_add(asked.elapsed().as_micros() as u64, Ordering::Relaxed);
                if let Some(n) = self.held.lock().ok().and_then(|mut h| h.remove(&seq)) {
                    self.permits.add_permits(n as usize);
                }
                let bytes = res?;
                self.recycle(std::mem::replace(buf, bytes));
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

/// One object into `buf`, with a few whole-object retries for bodies cut mid-transfer (the SDK already
/// retries throttling such as `SlowDown` and transient errors on the request itself, with backoff).
async fn fetch(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    size: u64,
    mut buf: Vec<u8>,
) -> Result<Vec<u8>, String> {
    let what = format!("s3://{bucket}/{key}");
    let mut last = String::new();
    for attempt in 0..3u32 {
        if attempt > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(200 << attempt)).await;
        }
        let mut resp = match client.get_object().bucket(bucket).key(key).send().await {
            Ok(r) => r,
            Err(e) => return Err(s3_error("GetObject", &what, &e)),
        };
        buf.clear();
        let expect = resp.content_length().and_then(|n| u64::try_from(n).ok()).unwrap_or(size);
        buf.reserve(usize::try_from(expect).unwrap_or(0));
        // Chunks are copied out as they arrive and dropped at once, so the HTTP client reuses its read
        // buffer instead of allocating a new one per object (collecting first held them all).
        let done = loop {
            match resp.body.try_next().await {
                Ok(Some(chunk)) => buf.extend_from_slice(&chunk),
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        match done {
            Ok(()) => return Ok(buf),
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

    #[test]
    fn region_folders_are_listed_flat_within_the_window() {
        let day = civil_ms(2026, 11, 1);
        let p = Prune {
            since_ms: Some(day + 3_600_000),
            until_ms: Some(day + 86_400_000),
            margin_ms: 7_200_000,
            ..Prune::default()
        };
        let region = "AWSLogs/111122223333/CloudTrail/us-east-1/";
        // Starts in the day holding --since; stops at the first day folder past --until plus the margin.
        let flat = Walk::Flat {
            start_after: Some(format!("{region}2026/11/01")),
            stop_ms: Some(day + 86_400_000 + 7_200_000),
        };
        assert_eq!(walk_for(region, &p), flat);
        let org = "AWSLogs/o-abc123/111122223333/CloudTrail/us-east-1/";
        assert_eq!(region_folder_len(&format!("{org}2026/11/01/x.json.gz")), Some(org.len()));
        assert!(
            matches!(walk_for(org, &p), Walk::Flat { start_after: Some(sa), .. } if sa == format!("{org}2026/11/01"))
        );
        // A deeper folder before the window's first day keeps its own start.
        assert!(matches!(walk_for(&format!("{region}2026/12/"), &p), Walk::Flat { start_after: None, .. }));
        // Above the region level: one level at a time, so accounts, regions and digests are pruned by name.
        for above in ["AWSLogs/", "AWSLogs/111122223333/", "AWSLogs/111122223333/CloudTrail/", "logs/"] {
            assert_eq!(walk_for(above, &p), Walk::Delimited, "{above}");
        }
        assert_eq!(walk_for(region, &Prune::default()), Walk::Flat { start_after: None, stop_ms: None });
        assert_eq!(
            key_day_ms("2026/11/02/111122223333_CloudTrail_us-east-1_20261102T0005Z_a.json.gz"),
            Some(day + 86_400_000)
        );
        assert_eq!(key_day_ms("notes.txt"), None);
        assert!(is_account_folder("AWSLogs/111122223333/") && is_account_folder("x/AWSLogs/o-abc/111122223333/"));
        assert!(!is_account_folder("AWSLogs/o-abc/") && !is_account_folder("AWSLogs/111122223333/CloudTrail/"));
    }
}
