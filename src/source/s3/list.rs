//! Listing `s3://bucket/prefix` along CloudTrail's layout: folders above the region level one level at a
//! time (pruned by name), region folders flat and by key range (pruned by delivery day), streamed into
//! the feed in a fixed order while later folders are still being listed.

use super::{S3Source, s3_error};
use crate::source::feed::Feed;
use crate::source::{Input, Listing, Location, Prune, layout};
use crate::time::civil_ms;
use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::{Semaphore, mpsc};

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
    let (start, end) = match rest {
        [y] => match year(y) {
            Some(y) => (civil_ms(y, 1, 1), civil_ms(y + 1, 1, 1)),
            None => return Ok(()),
        },
        [y, m] => match (year(y), month(m)) {
            (Some(y), Some(m)) => {
                (civil_ms(y, m, 1), if m == 12 { civil_ms(y + 1, 1, 1) } else { civil_ms(y, m + 1, 1) })
            }
            _ => return Ok(()),
        },
        [y, m, d, ..] => match (year(y), month(m), day(d)) {
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

/// Flat listings running ahead of the one being fed, each holding at most a few pages.
const FOLDERS_AHEAD: usize = 32;

fn s3_input(bucket: &str, key: String, size: u64) -> Input {
    let layout = layout::parse_key(&key);
    Input {
        name: format!("s3://{bucket}/{key}"),
        location: Location::S3 { bucket: bucket.to_owned(), key, seq: 0 },
        size,
        layout,
    }
}

impl S3Source {
    /// Lists `s3://bucket/prefix` into `feed`. Folders above the region level are listed with a
    /// delimiter, concurrently, and pruned by name (accounts, regions, digests); each region folder is
    /// then listed flat, starting at the first delivery day the filters keep and stopping after the
    /// last, so a date window costs no year/month/day round trips and no keys outside it. Region
    /// folders are fed one after the other in name order (objects above them first), while the next
    /// ones are listed ahead.
    pub async fn list(&self, url: &str, prune: &Prune, feed: &Feed, cancel: &AtomicBool) {
        let Some((bucket, prefix)) = super::parse_url(url) else {
            return feed.fail(url.to_owned(), "not an s3://bucket/prefix URL".to_owned());
        };
        // A prefix that ends mid-name (s3://b/AWSLogs/1111) lists like a folder without the delimiter.
        let first = if !prefix.is_empty() && !prefix.ends_with('/') {
            Walk::Flat { start_after: None, stop_ms: None }
        } else {
            walk_for(&prefix, prune)
        };
        let mut out = Listing::default();
        let mut leaves = Vec::new();
        let mut found: Vec<Input> = Vec::new();
        let mut queued: HashSet<String> = HashSet::from([prefix.clone()]);
        let mut frontier = Vec::new();
        match first {
            Walk::Delimited => frontier.push(prefix.clone()),
            flat => leaves.push((prefix.clone(), flat)),
        }
        let limit = std::sync::Arc::new(Semaphore::new(32));
        while !frontier.is_empty() && !cancel.load(Ordering::Relaxed) {
            let mut set = tokio::task::JoinSet::new();
            for (i, p) in frontier.drain(..).enumerate() {
                let (client, bucket, limit) = (self.client.clone(), bucket.clone(), limit.clone());
                set.spawn(async move {
                    let _permit = limit.acquire_owned().await;
                    let level = list_level(&client, &bucket, &p).await;
                    (i, p, level)
                });
            }
            let mut results = Vec::new();
            while let Some(r) = set.join_next().await {
                match r {
                    Ok(r) => results.push(r),
                    Err(e) => out.failed.push((format!("s3://{bucket}/{prefix}"), format!("listing stopped: {e}"))),
                }
            }
            // Deterministic order whatever finished first.
            results.sort_by_key(|(i, _, _)| *i);
            for (_, p, (objects, prefixes, error)) in results {
                if let Some(e) = error {
                    out.failed.push((format!("s3://{bucket}/{p}"), e));
                }
                found.extend(objects.into_iter().map(|(key, size)| s3_input(&bucket, key, size)));
                for sub in prefixes {
                    let verdict = match sub.find("AWSLogs/") {
                        Some(pos) => keep_folder(&segments(&sub[pos + 8..]), prune),
                        None => Ok(()),
                    };
                    if let Err(why) = verdict {
                        out.pruned.push((format!("s3://{bucket}/{sub}"), why.into()));
                        continue;
                    }
                    // An account's `CloudTrail/` folder is listed in the same round trip as the
                    // account's own folder (which still tells what else it holds): one round trip
                    // less before the first object can be fetched.
                    let guess = is_account_folder(&sub).then(|| format!("{sub}CloudTrail/"));
                    for p in std::iter::once(sub).chain(guess) {
                        if queued.insert(p.clone()) {
                            match walk_for(&p, prune) {
                                Walk::Delimited => frontier.push(p),
                                flat => leaves.push((p, flat)),
                            }
                        }
                    }
                }
            }
        }
        found.sort_by(|a, b| a.name.cmp(&b.name));
        for i in found {
            out.offer(i, prune);
        }
        let interrupted = "not listed to the end: interrupted (Ctrl-C)";
        if cancel.load(Ordering::Relaxed) {
            let unlisted = frontier.drain(..).chain(leaves.drain(..).map(|(p, _)| p));
            out.failed.extend(unlisted.map(|p| (format!("s3://{bucket}/{p}"), interrupted.to_owned())));
        }
        if !feed.push(out).await {
            return;
        }

        leaves.sort_by(|a, b| a.0.cmp(&b.0));
        let mut leaves = leaves.into_iter();
        let mut ahead: VecDeque<(String, mpsc::Receiver<Page>)> = VecDeque::new();
        let mut start_next = |ahead: &mut VecDeque<_>| {
            if let Some((p, walk)) = leaves.next() {
                let (tx, rx) = mpsc::channel(2);
                tokio::spawn(list_flat(self.client.clone(), bucket.clone(), p.clone(), walk, tx));
                ahead.push_back((p, rx));
            }
        };
        for _ in 0..FOLDERS_AHEAD {
            start_next(&mut ahead);
        }
        while let Some((p, mut rx)) = ahead.pop_front() {
            let mut ended = false;
            while let Some(page) = rx.recv().await {
                let mut chunk = Listing::default();
                match page {
                    Page::Objects(objects) => {
                        for (key, size) in objects {
                            chunk.offer(s3_input(&bucket, key, size), prune);
                        }
                    }
                    Page::Skipped(range, why) => chunk.pruned.push((format!("s3://{bucket}/{p}{range}"), why.into())),
                    Page::Failed(e) => chunk.failed.push((format!("s3://{bucket}/{p}"), e)),
                    Page::End => ended = true,
                }
                if !feed.push(chunk).await {
                    return;
                }
                if cancel.load(Ordering::Relaxed) {
                    break;
                }
            }
            if cancel.load(Ordering::Relaxed) {
                let this = (!ended).then_some(p);
                let unlisted =
                    this.into_iter().chain(ahead.drain(..).map(|(p, _)| p)).chain(leaves.by_ref().map(|(p, _)| p));
                for p in unlisted {
                    feed.fail(format!("s3://{bucket}/{p}"), interrupted.to_owned());
                }
                return;
            }
            if !ended {
                feed.fail(format!("s3://{bucket}/{p}"), "listing stopped before the end".to_owned());
            }
            start_next(&mut ahead);
        }
    }
}

/// The folder names after `AWSLogs/[o-org/]`: `[account, "CloudTrail", region, ...]`.
fn account_segments(prefix: &str) -> Option<Vec<&str>> {
    let pos = prefix.find("AWSLogs/")?;
    let mut segs = segments(&prefix[pos + 8..]);
    if segs.first().is_some_and(|s| s.starts_with("o-")) {
        segs.remove(0);
    }
    Some(segs)
}

/// `.../AWSLogs/[o-org/]123456789012/`
fn is_account_folder(prefix: &str) -> bool {
    account_segments(prefix)
        .is_some_and(|s| s.len() == 1 && s[0].len() == 12 && s[0].bytes().all(|c| c.is_ascii_digit()))
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
    let Some(segs) = account_segments(prefix) else { return Walk::Delimited };
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
    Some(civil_ms(year(y)?, month(m)?, day(d)?))
}

/// A date folder's number, only in range: names are attacker-chosen, and a huge one must not overflow.
fn date_part(s: &str, digits: usize, range: std::ops::RangeInclusive<i64>) -> Option<i64> {
    (s.len() == digits && s.bytes().all(|c| c.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
        .filter(|n| range.contains(n))
}

fn year(s: &str) -> Option<i64> {
    date_part(s, 4, 1970..=9999)
}

fn month(s: &str) -> Option<i64> {
    date_part(s, 2, 1..=12)
}

fn day(s: &str) -> Option<i64> {
    date_part(s, 2, 1..=31)
}

/// One folder, one level: its objects and sub-folders (all pages), or the error that stopped it.
type Level = (Vec<(String, u64)>, Vec<String>, Option<String>);

async fn list_level(client: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Level {
    let mut pages = client.list_objects_v2().bucket(bucket).prefix(prefix).delimiter("/").into_paginator().send();
    let (mut objects, mut prefixes) = (Vec::new(), Vec::new());
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(pg) => pg,
            Err(e) => {
                let e = s3_error("ListObjectsV2", &format!("s3://{bucket}/{prefix}"), &e);
                return (objects, prefixes, Some(e));
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

/// What a flat listing sends, page by page; `End` says it finished (a channel closed without it means
/// the task died, and the folder is reported as not fully listed).
enum Page {
    Objects(Vec<(String, u64)>),
    /// A key range left out by date: `(range, reason)`, the range named after the folder.
    Skipped(String, &'static str),
    Failed(String),
    End,
}

/// Lists one folder flat into `tx`, a page at a time; stops early when the receiver is gone.
async fn list_flat(client: aws_sdk_s3::Client, bucket: String, prefix: String, walk: Walk, tx: mpsc::Sender<Page>) {
    let mut req = client.list_objects_v2().bucket(&bucket).prefix(&prefix);
    let mut stop_ms = None;
    if let Walk::Flat { start_after, stop_ms: s } = walk {
        if let Some(sa) = start_after {
            // `start_after` is always `<region folder>YYYY/MM/DD`.
            let day = sa.get(sa.len().saturating_sub(10)..).unwrap_or(&sa).to_owned();
            req = req.start_after(sa);
            if tx.send(Page::Skipped(format!(" (days before {day})"), "delivered before --since")).await.is_err() {
                return;
            }
        }
        stop_ms = s;
    }
    let region = region_folder_len(&prefix).unwrap_or(usize::MAX);
    let mut pages = req.into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(pg) => pg,
            Err(e) => {
                let _ = tx.send(Page::Failed(s3_error("ListObjectsV2", &format!("s3://{bucket}/{prefix}"), &e))).await;
                break;
            }
        };
        let mut objects = Vec::with_capacity(page.contents().len());
        let mut stopped = None;
        for obj in page.contents() {
            let Some(key) = obj.key().filter(|k| !k.ends_with('/')) else { continue };
            // Keys sort by delivery day: the first one past the window ends the listing.
            if let (Some(stop), Some(day)) = (stop_ms, key.get(region..).and_then(key_day_ms)) {
                if day >= stop {
                    stopped = Some(day);
                    break;
                }
            }
            objects.push((key.to_owned(), obj.size().unwrap_or(0).max(0) as u64));
        }
        if tx.send(Page::Objects(objects)).await.is_err() {
            return;
        }
        if let Some(day) = stopped {
            let from = crate::time::format_ms(day);
            let why = "delivered after --until plus the delivery margin";
            if tx.send(Page::Skipped(format!(" (days from {})", &from[..10]), why)).await.is_err() {
                return;
            }
            break;
        }
    }
    let _ = tx.send(Page::End).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_folders() {
        assert_eq!(super::super::parse_url("s3://b/AWSLogs/"), Some(("b".into(), "AWSLogs/".into())));
        assert_eq!(super::super::parse_url("s3://b"), Some(("b".into(), "".into())));
        assert_eq!(super::super::parse_url("/tmp/x"), None);
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
        assert_eq!(key_day_ms("99999999999999999/11/01/x"), None);
        assert!(keep_folder(&["111122223333", "CloudTrail", "us-east-1", "9223372036854775807"], &p).is_ok());
        assert!(is_account_folder("AWSLogs/111122223333/") && is_account_folder("x/AWSLogs/o-abc/111122223333/"));
        assert!(!is_account_folder("AWSLogs/o-abc/") && !is_account_folder("AWSLogs/111122223333/CloudTrail/"));
    }
}
