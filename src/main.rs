//! The `trailhound` command: parses arguments and wires the library's stages.

use anyhow::Context;
use clap::Parser;
use std::io::{IsTerminal, Write};
use trailhound::cli::{Cli, Command, Cutoff, Format, RevokeArgs, ScanArgs};
use trailhound::revoke::{self, CutoffChoice, RoleRequest};
use trailhound::decode::normalize::Filter;
use trailhound::detect::{DetectConfig, Detector};
use trailhound::report::{self, EventDump};
use trailhound::scan::{self, EventSink, ScanOptions};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use trailhound::source::s3::{Prefetcher, S3Source};
use trailhound::source::{self, Listing, Prune, Reader};
use trailhound::{exit, time};

// Decoding allocates a batch arena per input on every worker: mimalloc keeps that off the kernel.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("TRAILHOUND_LOG"))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Scan(args) => run_scan(args),
        Command::Revoke(args) => run_revoke(args),
    };
    std::process::exit(code.unwrap_or_else(|e| {
        eprintln!("trailhound: error: {}", report::escape::term(&format!("{e:#}")));
        exit::ERROR
    }));
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?)
}

/// First Ctrl-C: stop reading, finish what is in hand, write the summary (the run is partial).
/// Second Ctrl-C: leave at once.
fn watch_ctrl_c(rt: &tokio::runtime::Runtime, cancel: Arc<AtomicBool>) {
    rt.spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("\ntrailhound: interrupted; finishing the inputs in hand (Ctrl-C again to quit now)");
            cancel.store(true, Ordering::Relaxed);
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
}

fn parse_time(flag: &str, v: &Option<String>) -> anyhow::Result<Option<i64>> {
    v.as_deref()
        .map(|s| time::parse_bound(s).with_context(|| format!("--{flag} {s:?} is not RFC 3339 or YYYY-MM-DD")))
        .transpose()
}

fn output(path: &Option<std::path::PathBuf>) -> anyhow::Result<Box<dyn Write + Send>> {
    Ok(match path {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout())),
    })
}

fn run_scan(args: ScanArgs) -> anyhow::Result<i32> {
    let inp = &args.input;
    let filter = Filter {
        since_ms: parse_time("since", &inp.since)?,
        until_ms: parse_time("until", &inp.until)?,
        accounts: inp.account.clone(),
        regions: inp.region.clone(),
    };
    let prune = Prune {
        accounts: filter.accounts.clone(),
        regions: filter.regions.clone(),
        since_ms: filter.since_ms,
        until_ms: filter.until_ms,
        margin_ms: inp.delivery_margin_minutes.max(0) * 60_000,
    };
    let cancel = Arc::new(AtomicBool::new(false));
    let rt = runtime()?;
    watch_ctrl_c(&rt, cancel.clone());
    let mut listing = Listing::default();
    let mut s3: Option<S3Source> = None;
    for input in &inp.inputs {
        if input.starts_with("s3://") {
            if s3.is_none() {
                s3 = Some(S3Source::new(&rt.block_on(trailhound::aws::config(&args.aws))));
            }
            if let Some(src) = &s3 {
                rt.block_on(src.list(input, &prune, &mut listing));
            }
        } else {
            source::local::list(std::path::Path::new(input), &prune, &mut listing);
        }
    }
    let mut reader = Reader { s3: None, cancel: cancel.clone() };
    if source::number_s3(&mut listing) > 0 {
        if let Some(src) = &s3 {
            let budget = inp.s3_buffer_mb.max(16) << 20;
            reader.s3 = Some(Prefetcher::start(rt.handle(), src.client.clone(), &listing.inputs, inp.s3_concurrency, budget, cancel));
        }
    }
    let opts = ScanOptions { filter, threads: inp.threads, progress: !args.output.quiet && std::io::stderr().is_terminal(), reader };
    let format = args.output.format.unwrap_or(if std::io::stdout().is_terminal() { Format::Table } else { Format::Ndjson });

    let mut summary;
    if args.dump_events {
        let mut dump = EventDump::new(output(&args.output.output)?);
        summary = scan::run(&listing, &opts, &mut [&mut dump as &mut dyn EventSink])?;
        dump.finish().context("writing events")?;
    } else if args.no_detect {
        summary = scan::run(&listing, &opts, &mut [])?;
    } else {
        let mut detector = Detector::new(DetectConfig::from_args(&args.detect)?);
        summary = scan::run(&listing, &opts, &mut [&mut detector as &mut dyn EventSink])?;
        let findings = detector.finish();
        summary.findings = findings.len() as u64;
        let mut out = output(&args.output.output)?;
        report::write_findings(&findings, format, &mut out).context("writing findings")?;
        out.flush().context("writing findings")?;
    }

    if let Some(path) = &args.output.summary {
        let text = serde_json::to_string_pretty(&summary)?;
        std::fs::write(path, text + "\n").with_context(|| format!("cannot write --summary {}", path.display()))?;
    }
    if !args.output.quiet {
        eprint!("{}", summary.human());
    }
    if listing.inputs.is_empty() && listing.pruned.is_empty() {
        anyhow::bail!("no inputs found in {}", inp.inputs.join(", "));
    }
    Ok(exit::status(summary.findings > 0, summary.is_partial()))
}

/// Runs a scan for `revoke --from-scan` and returns its findings.
fn scan_for_findings(inputs: &[std::path::PathBuf]) -> anyhow::Result<Vec<trailhound::detect::Finding>> {
    let mut listing = Listing::default();
    for path in inputs {
        source::local::list(path, &Prune::default(), &mut listing);
    }
    if listing.inputs.is_empty() {
        anyhow::bail!("--from-scan: no inputs found");
    }
    let opts = ScanOptions { progress: std::io::stderr().is_terminal(), ..ScanOptions::default() };
    let mut detector = Detector::new(DetectConfig::from_args(&trailhound::cli::DetectArgs {
        trusted_cidrs: Vec::new(),
        ip_ranges: None,
        config: None,
    })?);
    let summary = scan::run(&listing, &opts, &mut [&mut detector as &mut dyn EventSink])?;
    eprint!("{}", summary.human());
    Ok(detector.finish())
}

fn confirm(args: &RevokeArgs) -> anyhow::Result<bool> {
    if args.yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        anyhow::bail!("refusing to --apply without --yes when standard input is not a terminal; nothing was changed");
    }
    eprint!("Apply these changes? Type 'yes' to continue: ");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(line.trim() == "yes")
}

fn run_revoke(args: RevokeArgs) -> anyhow::Result<i32> {
    let now = chrono::Utc::now();
    let rt = runtime()?;
    if let Some(id) = &args.rollback {
        return rt.block_on(async {
            let iam = revoke::iam::Iam::new(&trailhound::aws::config(&args.aws).await);
            let rec = revoke::rollback(&iam, &args.audit_log, id, now).await?;
            println!("rolled back {id} on {} (audit id {}, verified)", rec.target, rec.id);
            Ok(exit::CLEAN)
        });
    }
    let mut findings = Vec::new();
    for f in &args.finding {
        findings.extend(revoke::read_findings(f)?);
    }
    if !args.from_scan.is_empty() {
        findings.extend(scan_for_findings(&args.from_scan)?);
    }
    let explicit = args.role.as_ref().map(|r| RoleRequest {
        role: r.clone(),
        sessions: args.session.clone(),
        all_sessions: args.all_sessions,
        role_id_hint: None,
        reasons: vec![format!("requested with --role {r}")],
    });
    let choice = match (&args.before, args.cutoff) {
        (Some(t), _) => CutoffChoice::Explicit(
            chrono::DateTime::parse_from_rfc3339(t)
                .with_context(|| format!("--before {t:?} is not RFC 3339"))?
                .with_timezone(&chrono::Utc),
        ),
        (None, Cutoff::Now) => CutoffChoice::NowPlus { minutes: args.margin_minutes },
        (None, Cutoff::AfterIssue) => CutoffChoice::AfterIssue,
    };
    let req = revoke::request(&findings, explicit, &args.access_key, choice, now)?;
    if args.emit {
        print!("{}", revoke::emit(&req, now)?);
        return Ok(exit::CLEAN);
    }
    rt.block_on(async {
        let iam = revoke::iam::Iam::new(&trailhound::aws::config(&args.aws).await);
        let plan = revoke::plan(&iam, &req, args.max_roles, now).await?;
        print!("{}", revoke::render(&plan));
        if !args.apply {
            println!("\nPlan only: nothing was changed. Run again with --apply to make these changes.");
            return Ok(exit::CLEAN);
        }
        if plan.changes.iter().all(|c| c.is_noop()) {
            println!("\nNothing to apply: every revocation is already in place.");
            return Ok(exit::CLEAN);
        }
        if !confirm(&args)? {
            println!("Not applied.");
            return Ok(exit::CLEAN);
        }
        let records = revoke::apply(&iam, &plan, &args.audit_log, now).await?;
        for r in &records {
            println!("applied {} on {} (audit id {}, verified)", r.action, r.target, r.id);
        }
        println!("Recorded in {}. Undo with: trailhound revoke --rollback <audit id>", args.audit_log.display());
        Ok(exit::CLEAN)
    })
}
