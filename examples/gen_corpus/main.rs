//! Deterministic synthetic CloudTrail corpus generator for trailhound.
//!
//! Writes gzipped CloudTrail files in the S3 layout with a benign background population (EC2
//! instances, Lambda functions, ECS tasks, IAM users, SSO sessions, services acting on behalf of
//! principals) and, on request, labelled scenarios (hard negatives and planted credential thefts),
//! plus `ground_truth.json`. Output is byte-identical for the same arguments whatever the number
//! of threads. Does not use the trailhound library.
//!
//! cargo run --release --example gen_corpus -- --out /tmp/corpus --size 1GB --scenario all
//! cargo run --release --example gen_corpus -- --out /tmp/keys --shape many-keys --accounts 40

mod emit;
mod json;
mod population;
mod records;
mod rng;
mod scenario_kit;
mod scenarios;
mod scenarios_network;
mod scenarios_services;
mod scenarios_thief;
mod shapes;
mod truth;
mod world;

use clap::Parser;
use rayon::prelude::*;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Parser, Debug)]
#[command(about = "Generate a deterministic synthetic CloudTrail corpus (S3 layout, gzipped) with ground truth")]
struct Args {
    /// Output directory (AWSLogs/... and ground_truth.json are written inside).
    #[arg(long)]
    out: PathBuf,
    /// Total decompressed size, approximate: 500MB, 1GB, 10GB (decimal), 1GiB (binary), or bytes.
    #[arg(long, default_value = "1GB")]
    size: String,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Number of AWS accounts.
    #[arg(long, default_value_t = 2)]
    accounts: usize,
    /// Comma-separated regions.
    #[arg(long, default_value = "us-east-1,eu-west-1", value_delimiter = ',')]
    regions: Vec<String>,
    /// Start of the time span (RFC 3339).
    #[arg(long, default_value = "2026-11-01T00:00:00Z")]
    start: String,
    /// Length of the time span in hours (a larger --size raises the event rate, not the span).
    #[arg(long, default_value_t = 6)]
    hours: u32,
    /// Plant a labelled scenario (repeatable); "all" = every one.
    #[arg(long = "scenario", value_name = "NAME")]
    scenarios: Vec<String>,
    /// Write only the scenarios' records and their workloads' normal activity (ignores --size).
    #[arg(long)]
    scenarios_only: bool,
    /// Worker threads (default: all cores). Output does not depend on it.
    #[arg(long)]
    threads: Option<usize>,
    /// Delete an existing DIR/AWSLogs first.
    #[arg(long)]
    force: bool,
    /// Population shape. default: the mixed background scaled to --size. lambda-heavy: four busy
    /// Lambda functions (about 2,700 keys each per day, one per cold start, each from its own
    /// Lambda egress address), ignores --size. many-keys: about --keys distinct keys (hourly EC2
    /// keys and Lambda cold starts, spread over every account and region, one or two uses per key),
    /// ignores --size; e.g. `--shape many-keys --accounts 40` gives over 1,000,000 keys in 6 hours.
    #[arg(long, value_enum, default_value = "default")]
    shape: Shape,
    /// Target number of distinct keys for --shape many-keys.
    #[arg(long, default_value_t = 1_050_000)]
    keys: u64,
    /// Print the number of workload keys the arguments give and write nothing.
    #[arg(long)]
    plan: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    Default,
    LambdaHeavy,
    ManyKeys,
}

/// Floor for the background rate multiplier: every background workload keeps using its keys
/// several times an hour even when --size is too small for the population (output then exceeds
/// --size).
const MIN_MULT: f64 = 0.5;

fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim().to_ascii_uppercase();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("bad size {:?}", s))?;
    let m: f64 = match unit.trim() {
        "" | "B" => 1.0,
        "K" | "KB" => 1e3,
        "M" | "MB" => 1e6,
        "G" | "GB" => 1e9,
        "T" | "TB" => 1e12,
        "KIB" => 1024.0,
        "MIB" => 1048576.0,
        "GIB" => 1073741824.0,
        "TIB" => 1099511627776.0,
        u => return Err(format!("bad size unit {:?}", u)),
    };
    Ok((n * m) as u64)
}

fn main() {
    if let Err(e) = run() {
        eprintln!("gen_corpus: error: {}", e);
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let args = Args::parse();
    let t_start = Instant::now();
    let size = parse_size(&args.size)?;
    if args.accounts == 0 || args.regions.is_empty() {
        return Err("need at least one account and one region".into());
    }
    for r in &args.regions {
        if !world::known_region(r) {
            let known: Vec<&str> = world::EC2_PREFIXES.iter().map(|x| x.0).collect();
            return Err(format!("unknown region {:?}; known: {}", r, known.join(",")));
        }
    }
    let start =
        chrono::DateTime::parse_from_rfc3339(&args.start).map_err(|e| format!("bad --start: {}", e))?.timestamp();
    if args.hours == 0 {
        return Err("--hours must be at least 1".into());
    }
    let end = start + args.hours as i64 * 3600;
    let names = scenarios::resolve(&args.scenarios)?;
    if !names.is_empty() && args.hours < 3 {
        return Err("scenarios need --hours 3 or more".into());
    }
    if args.scenarios_only && names.is_empty() {
        return Err("--scenarios-only needs at least one --scenario".into());
    }
    if let Some(n) = args.threads {
        rayon::ThreadPoolBuilder::new().num_threads(n).build_global().map_err(|e| e.to_string())?;
    }
    let logs = args.out.join("AWSLogs");
    if logs.exists() && !args.plan {
        if !args.force {
            return Err(format!("{} exists; pass --force to replace it", logs.display()));
        }
        std::fs::remove_dir_all(&logs).map_err(|e| e.to_string())?;
    }
    if !args.plan {
        std::fs::create_dir_all(&args.out).map_err(|e| e.to_string())?;
    }

    let accounts: Vec<String> = (0..args.accounts)
        .map(|i| {
            format!("{}", 100_000_000_000 + rng::hash(&[args.seed, rng::tag("account"), i as u64]) % 900_000_000_000)
        })
        .collect();
    let global_region = args.regions.iter().position(|r| r == "us-east-1");
    let ctx = records::Ctx { seed: args.seed, accounts, regions: args.regions.clone(), start, end, global_region };
    let nstreams = ctx.accounts.len() * ctx.regions.len();
    let hours = args.hours as f64;

    // Population.
    let mut b = population::Builder::new(&ctx);
    let est_bytes_per_record = 1300.0;
    let target_records = size as f64 / est_bytes_per_record;
    let background = args.shape == Shape::Default && !args.scenarios_only;
    match args.shape {
        Shape::Default if background => population::background(&mut b, target_records / nstreams as f64 / hours),
        Shape::Default => {}
        Shape::LambdaHeavy => shapes::lambda_heavy(&mut b),
        Shape::ManyKeys => shapes::many_keys(&mut b, args.keys),
    }
    let mut scripted = vec![Vec::new(); nstreams];
    let mut truths = Vec::new();
    for name in &names {
        truths.push(scenarios::plant(&mut b, &mut scripted, name));
    }
    let population::Builder { workloads, humans, .. } = b;
    let mut world = emit::World {
        ctx,
        workloads,
        humans,
        scripted,
        mult: 1.0,
        window: Vec::new(),
        by_stream: Vec::new(),
        by_acct: Vec::new(),
    };
    world.index();
    if args.plan {
        let keys: usize = world.workloads.iter().map(|w| w.all_keys(world.ctx.seed).len()).sum();
        println!("workloads: {}\nworkload keys: {}", world.workloads.len(), keys);
        return Ok(());
    }

    // Rate multiplier: scale the background so the total reaches --size.
    if background {
        let rate_at = |w: &mut emit::World, m: f64| {
            w.mult = m;
            (0..nstreams).map(|s| w.expected_rate(s)).sum::<f64>() * hours
        };
        let fixed = rate_at(&mut world, 0.0);
        let at_one = rate_at(&mut world, 1.0);
        // Calibrate bytes per record on a sample of the first stream.
        world.mult = ((target_records - fixed) / (at_one - fixed)).max(MIN_MULT);
        let sample_len = ((3600.0 * 4000.0 / world.expected_rate(0).max(1.0)) as i64).clamp(10, 3600);
        let mid = start + (end - start) / 2;
        let sample = emit::chunk_events(&world, 0, u64::MAX, mid, (mid + sample_len).min(end));
        let avg = if sample.is_empty() {
            est_bytes_per_record
        } else {
            sample.iter().map(|e| e.json.len() as f64 + 1.0).sum::<f64>() / sample.len() as f64
        };
        let target_records = size as f64 / avg;
        world.mult = ((target_records - fixed) / (at_one - fixed)).max(MIN_MULT);
    }
    world.window = (0..nstreams)
        .map(|s| {
            let rate = world.expected_rate(s).max(1.0);
            ((3600.0 * 1200.0 / rate) as i64).clamp(10, end - start)
        })
        .collect();

    // Chunks: (stream, window index, from, to).
    let mut chunks = Vec::new();
    for s in 0..nstreams {
        // Equal windows covering the span exactly (no short tail).
        let span = end - start;
        let n = ((span + world.window[s] - 1) / world.window[s]).max(1);
        for i in 0..n {
            chunks.push((s, i as u64, start + span * i / n, start + span * (i + 1) / n));
        }
    }
    let out = args.out.clone();
    let stats = chunks
        .par_iter()
        .map(|&(s, i, w0, w1)| emit::write_chunk(&world, &out, s, i, w0, w1))
        .try_reduce(emit::Stats::default, |a, b| Ok(a + b))
        .map_err(|e| e.to_string())?;

    scenarios::write_truth(&args.out.join("ground_truth.json"), &truths, &stats).map_err(|e| e.to_string())?;
    let secs = t_start.elapsed().as_secs_f64();
    println!("files: {}", stats.files);
    println!("records: {}", stats.records);
    println!("decompressed bytes: {}", stats.bytes);
    println!("compressed bytes: {}", stats.gz_bytes);
    println!("scenarios: {}", names.len());
    let keys: i64 = world.workloads.iter().map(|w| w.all_keys(world.ctx.seed).len() as i64).sum();
    println!("workload keys: {}", keys);
    println!("elapsed: {:.1}s ({:.0} MB/s decompressed)", secs, stats.bytes as f64 / 1e6 / secs.max(1e-9));
    Ok(())
}
