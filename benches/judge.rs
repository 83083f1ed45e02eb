//! Detection at organization scale: observe and judge time, and heap bytes per distinct key.
//!
//! `cargo bench --bench judge [-- KEYS]` (default 1,000,000 keys) builds a synthetic month-like mix in
//! memory, without reading files, so the figures are the detector's own: Lambda cold starts (one key
//! each, from a new AWS address of the function's region) and hourly EC2 instance keys (a stable
//! address per instance, the SSM agent beside the application), across 40 accounts, with a few
//! thefts. A counting allocator measures the heap the detector holds at its peak, per key.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;
use trailhound::detect::{DetectConfig, DetectOptions, Detector};
use trailhound::event::{Batch, Field};
use trailhound::scan::EventSink;

struct Counting;
static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(l.size(), Ordering::Relaxed) + l.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        CURRENT.fetch_sub(l.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, l, new) };
        if !q.is_null() {
            if new > l.size() {
                let now = CURRENT.fetch_add(new - l.size(), Ordering::Relaxed) + new - l.size();
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                CURRENT.fetch_sub(l.size() - new, Ordering::Relaxed);
            }
        }
        q
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const BOTO_LAMBDA: &str =
    "Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#5.10 lang/python#3.12 exec-env/AWS_Lambda_python3.12";
const BOTO: &str = "Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#5.10 lang/python#3.11";
const SSM: &str = "aws-sdk-go/1.44.0 (go1.20; linux; amd64) amazon-ssm-agent/3.2.0";
const THIEF: &str = "aws-cli/2.15.0 Python/3.11.6 Darwin/23.1.0 exe/x86_64";

/// A key id of 20 characters from a number.
fn key(n: u64) -> String {
    format!("ASIA{n:016}")
}

struct Gen {
    batch: Batch,
    n: u64,
    events: u64,
    observed: std::time::Duration,
}

impl Gen {
    #[allow(clippy::too_many_arguments)]
    fn ev(&mut self, acct: &str, role: &str, session: &str, key: &str, ip: &str, ua: &str, name: &str, t: i64) {
        self.n += 1;
        self.events += 1;
        let id = format!("00000000-0000-4000-8000-{:012x}", self.n);
        let mut b = self.batch.begin();
        b.set(Field::EventId, &id);
        b.set(Field::AccountId, acct);
        b.set(Field::Region, "us-east-1");
        b.set(Field::EventSource, "s3.amazonaws.com");
        b.set(Field::EventName, name);
        b.set(Field::PrincipalType, "AssumedRole");
        b.set(Field::RoleArn, role);
        b.set(Field::RoleId, "AROAEXAMPLEROLEID0001");
        b.set(Field::SessionName, session);
        b.set(Field::AccessKeyId, key);
        b.set(Field::SourceIp, ip);
        b.set(Field::UserAgent, ua);
        b.time(Some(t), Some(t - 60_000), Some(true));
        b.use_hash(xxhash_rust::xxh3::xxh3_64(format!("{ip}|{ua}").as_bytes()));
        b.finish();
    }

    fn delivery(&mut self, acct: &str, role: &str, session: &str, key: &str, by: &str, t: i64) {
        self.n += 1;
        self.events += 1;
        let id = format!("00000000-0000-4000-8000-{:012x}", self.n);
        let mut b = self.batch.begin();
        b.set(Field::EventId, &id);
        b.set(Field::AccountId, acct);
        b.set(Field::Region, "us-east-1");
        b.set(Field::EventSource, "sts.amazonaws.com");
        b.set(Field::EventName, "AssumeRole");
        b.set(Field::PrincipalType, "AWSService");
        b.set(Field::InvokedBy, by);
        b.set(Field::SourceIp, by);
        b.set(Field::MintedKey, key);
        b.set(Field::MintedRoleArn, role);
        b.set(Field::MintedRoleId, "AROAEXAMPLEROLEID0001");
        b.set(Field::MintedSessionName, session);
        b.time(Some(t), None, None);
        b.finish();
    }

    /// Observes the batch: only this is timed as observing (building the events is not).
    fn flush(&mut self, d: &mut Detector) {
        let evs: Vec<_> = self.batch.iter().collect();
        // In blocks, as the scan hands them over (the look-ahead and its prefetches included).
        let t = Instant::now();
        d.observe_block(&evs);
        self.observed += t.elapsed();
        self.batch.clear();
    }
}

fn main() {
    let keys: u64 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(1_000_000);
    let cfg = DetectConfig::load(&DetectOptions::default()).expect("built-in ranges");
    let base = PEAK.load(Ordering::Relaxed).max(CURRENT.load(Ordering::Relaxed));
    let before = CURRENT.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let mut d = Detector::new(cfg);
    let mut g = Gen { batch: Batch::default(), n: 0, events: 0, observed: Default::default() };
    let t0 = Instant::now();
    let (mut made, mut k) = (0u64, 0u64);
    let start = 1_764_000_000_000i64;
    // 90% Lambda cold starts, 10% hourly EC2 keys; 40 accounts.
    while made < keys {
        let acct = format!("{:012}", 100_000_000_000 + (k % 40));
        if k % 10 != 0 {
            let func = format!("fn-{}", k % 400);
            let role = format!("arn:aws:iam::{acct}:role/{func}-role");
            let key = key(k);
            let t = start + (k as i64) * 2_000;
            let ip = format!("3.{}.{}.{}", 80 + (k >> 16) % 16, (k >> 8) & 255, k & 255);
            g.delivery(&acct, &role, &func, &key, "lambda.amazonaws.com", t);
            g.ev(&acct, &role, &func, &key, &ip, BOTO_LAMBDA, "GetObject", t + 1_000);
            g.ev(&acct, &role, &func, &key, &ip, BOTO_LAMBDA, "PutObject", t + 2_000);
        } else {
            let inst_n = (k / 10) % 4_000;
            let hour = (k / 10) / 4_000;
            let inst = format!("i-0{inst_n:016x}");
            let role = format!("arn:aws:iam::{acct}:role/app-{}", inst_n % 50);
            let ip = format!("3.225.{}.{}", (inst_n >> 8) & 15, inst_n & 255);
            let key = key(k);
            let t = start + hour as i64 * 3_600_000;
            g.delivery(&acct, &role, &inst, &key, "ec2.amazonaws.com", t);
            g.ev(&acct, &role, &inst, &key, &ip, BOTO, "GetObject", t + 60_000);
            g.ev(&acct, &role, &inst, &key, &ip, SSM, "UpdateInstanceInformation", t + 120_000);
            if inst_n % 1_000 == 7 && hour % 3 == 1 {
                g.ev(&acct, &role, &inst, &key, "45.33.32.156", THIEF, "ListBuckets", t + 180_000);
            }
        }
        made += 1;
        k += 1;
        if g.batch.arena_bytes() > 1 << 20 {
            g.flush(&mut d);
        }
    }
    g.flush(&mut d);
    drop(g.batch);
    let observe = g.observed;
    let built = t0.elapsed() - observe;
    let held = CURRENT.load(Ordering::Relaxed) - before;
    let observe_peak = PEAK.load(Ordering::Relaxed) - before;
    let t1 = Instant::now();
    let detection = d.finish();
    let judge = t1.elapsed();
    let peak = PEAK.load(Ordering::Relaxed) - before;
    let _ = base;
    println!("keys: {keys}, events: {}, findings: {}", g.events, detection.findings.len());
    println!(
        "observe: {:.3} s ({:.0} events/s, {:.0} ns per event; building the events took {:.2} s more)",
        observe.as_secs_f64(),
        g.events as f64 / observe.as_secs_f64(),
        observe.as_secs_f64() * 1e9 / g.events as f64,
        built.as_secs_f64()
    );
    println!("judge: {:.2} s ({:.2} µs per key)", judge.as_secs_f64(), judge.as_secs_f64() * 1e6 / keys as f64);
    println!("detector state after observe: {:.0} bytes per key", held as f64 / keys as f64);
    println!("peak heap during observe: {:.0} bytes per key", observe_peak as f64 / keys as f64);
    println!("peak heap during observe + judge: {:.0} bytes per key (goal: under 600)", peak as f64 / keys as f64);
}
