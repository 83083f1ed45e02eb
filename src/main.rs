//! The `trailhound` command: parses arguments and wires the library's stages.

use anyhow::Context;
use clap::Parser;
use std::io::{IsTerminal, Write};
use trailhound::cli::{Cli, Command, Format, ScanArgs};
use trailhound::decode::normalize::Filter;
use trailhound::detect::{DetectConfig, Detector};
use trailhound::report::{self, EventDump};
use trailhound::scan::{self, EventSink, ScanOptions};
use trailhound::source::{self, Listing, Prune};
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
    };
    std::process::exit(code.unwrap_or_else(|e| {
        eprintln!("trailhound: error: {}", report::escape::term(&format!("{e:#}")));
        exit::ERROR
    }));
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
    let mut listing = Listing::default();
    for path in &inp.inputs {
        source::local::list(path, &prune, &mut listing);
    }
    let opts = ScanOptions { filter, threads: inp.threads, progress: !args.output.quiet && std::io::stderr().is_terminal() };
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
        anyhow::bail!("no inputs found in {}", inp.inputs.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "));
    }
    Ok(exit::status(summary.findings > 0, summary.is_partial()))
}
