//! The `trailhound` command: parses arguments and wires the library's stages.

use anyhow::Context;
use clap::FromArgMatches;
use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use trailhound::cli::{
    AwsArgs, Cli, Command, Format, InputArgs, ReportArgs, ReportFormat, ScanArgs, TimelineArgs, TimelineFormat,
};
use trailhound::detect::{DetectConfig, Detector};
use trailhound::exit;
use trailhound::report::{self, EventDump};
use trailhound::revoke;
use trailhound::scan::{self, EventSink, ScanOptions};
use trailhound::source::{self, Prune};

mod athena_cmds;
mod export_cmd;
mod revoke_cmd;

// Decoding allocates a batch arena per input on every worker: mimalloc keeps that off the kernel.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Keeps this process on 4 KiB pages. mimalloc's arenas otherwise fault in 2 MiB transparent huge
/// pages that are zeroed whole and used sparsely: the S3 path (buffers allocated on the network
/// threads, freed on the decoders) spent up to a third of its CPU in the kernel zeroing them, and the
/// local scan held twice the memory for no speed (measured in benches/s3.sh and benches/scan.sh).
fn no_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes plain integers and touches no memory of ours.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

fn main() {
    no_huge_pages();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("TRAILHOUND_LOG"))
        .with_writer(std::io::stderr)
        // Colour codes only where they are drawn, not into a log file or a test's capture.
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let cli = Cli::from_arg_matches(&trailhound::cli::help::command().get_matches()).unwrap_or_else(|e| e.exit());
    let code = match cli.command {
        Command::Scan(args) => run_scan(args),
        Command::Export(args) => export_cmd::run_export(args),
        Command::Revoke(args) => revoke_cmd::run_revoke(args),
        Command::Report(args) => run_report(args),
        Command::Timeline(args) => run_timeline(args),
        Command::Respond(args) => args.options().and_then(|o| {
            runtime()?.block_on(trailhound::respond::run(&o))?;
            Ok(exit::CLEAN)
        }),
        Command::Lambda(args) => args.common.options(String::new(), &args.state).and_then(|o| {
            runtime()?.block_on(trailhound::respond::lambda::run(&o))?;
            Ok(exit::CLEAN)
        }),
        Command::Completions(args) => run_completions(args),
        Command::Man(args) => run_man(args),
        Command::Athena(args) => athena_cmds::run_athena(args),
    };
    exit_now(code.unwrap_or_else(|e| {
        eprintln!("trailhound: error: {}", report::escape::term(&format!("{e:#}")));
        exit::ERROR
    }));
}

/// Ends the process once everything is written. Every command has dropped (so flushed and closed)
/// its files by now; only standard output may still hold bytes. `_exit` then skips the C library's
/// exit handlers, where mimalloc would hand every page it holds back to the kernel one `madvise` at
/// a time (over 300 calls, several milliseconds, after a week of Lambda-heavy trail) just before the
/// kernel takes the whole address space back anyway.
fn exit_now(code: i32) -> ! {
    let _ = std::io::stdout().lock().flush();
    // SAFETY: `_exit` takes a plain integer; nothing of ours runs after it.
    unsafe { libc::_exit(code) }
}

fn run_completions(args: trailhound::cli::CompletionsArgs) -> anyhow::Result<i32> {
    let mut out = std::io::stdout().lock();
    out.write_all(&trailhound::cli::help::completions(args.shell)).context("writing the completion script")?;
    out.flush().context("writing the completion script")?;
    Ok(exit::CLEAN)
}

fn run_man(args: trailhound::cli::ManArgs) -> anyhow::Result<i32> {
    let mut out = std::io::BufWriter::new(std::io::stdout());
    trailhound::cli::help::man(args.dir.as_deref(), &mut out)?;
    out.flush().context("writing the man page")?;
    if let Some(dir) = &args.dir {
        eprintln!("trailhound: man pages written to {}", dir.display());
    }
    Ok(exit::CLEAN)
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

fn output(path: &Option<std::path::PathBuf>) -> anyhow::Result<Box<dyn Write + Send>> {
    Ok(match path {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout())),
    })
}

/// Writes a whole document to `path`, or to standard output; on a terminal, whatever control or bidi
/// characters the document holds are shown as `\u{..}` rather than acting on it.
fn write_document(path: &Option<std::path::PathBuf>, doc: Vec<u8>) -> anyhow::Result<()> {
    let mut out = output(path)?;
    if path.is_none() && std::io::stdout().is_terminal() {
        out.write_all(report::escape::term_document(&String::from_utf8_lossy(&doc)).as_bytes())?;
    } else {
        out.write_all(&doc)?;
    }
    out.flush()?;
    Ok(())
}

/// Everything a command needs to read its inputs: runtime, Ctrl-C flag, listing, reader.
pub(crate) struct Session {
    /// Always `Some` until dropped.
    rt: Option<tokio::runtime::Runtime>,
    pub(crate) cancel: Arc<AtomicBool>,
}

impl Drop for Session {
    fn drop(&mut self) {
        // A command that ends early (an error) must not wait for listers or fetches still under way.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

impl Session {
    fn new() -> anyhow::Result<Self> {
        let rt = runtime()?;
        let cancel = Arc::new(AtomicBool::new(false));
        watch_ctrl_c(&rt, cancel.clone());
        Ok(Session { rt: Some(rt), cancel })
    }

    fn rt(&self) -> &tokio::runtime::Runtime {
        self.rt.as_ref().expect("the runtime lives as long as the session")
    }

    fn open(&self, inp: &InputArgs, prune: &Prune, aws: &AwsArgs) -> source::Opened {
        source::open(
            &inp.inputs,
            prune,
            &aws.options(),
            self.rt(),
            self.cancel.clone(),
            source::FetchOptions {
                concurrency: inp.s3_concurrency,
                buffer_bytes: inp.s3_buffer_mb.max(16) << 20,
                max_object_bytes: inp.max_input_size,
            },
        )
    }
}

/// Detection's warnings (addresses that do not parse) go into the run summary beside the inputs'.
fn add_warnings(summary: &mut trailhound::summary::Summary, warnings: Vec<String>) {
    for warning in warnings {
        summary.warnings.push(trailhound::summary::InputWarning { input: "(detection)".into(), warning });
    }
}

fn write_summary(path: &Option<std::path::PathBuf>, summary: &trailhound::summary::Summary) -> anyhow::Result<()> {
    if let Some(path) = path {
        let text = report::json::to_string_pretty(summary)?;
        std::fs::write(path, text + "\n").with_context(|| format!("cannot write --summary {}", path.display()))?;
    }
    Ok(())
}

fn run_scan(args: ScanArgs) -> anyhow::Result<i32> {
    let inp = &args.input;
    let (filter, prune) = inp.filter_and_prune()?;
    if let Some(opts) = args.athena.options()? {
        return athena_cmds::run_scan_athena(&args, opts, &filter, &prune);
    }
    inp.require_inputs()?;
    // Everything that can fail on the arguments fails before the listing starts.
    let detect =
        if args.dump_events || args.no_detect { None } else { Some(DetectConfig::load(&args.detect.options())?) };
    let session = Session::new()?;
    let opened = session.open(inp, &prune, &args.aws);
    let feed = &opened.feed;
    let opts = ScanOptions {
        filter,
        threads: inp.threads,
        progress: !args.output.quiet && std::io::stderr().is_terminal(),
        reader: opened.reader.clone(),
        max_input_bytes: inp.max_input_size,
        max_held_bytes: 0,
    };
    let format =
        args.output.format.unwrap_or(if std::io::stdout().is_terminal() { Format::Table } else { Format::Ndjson });

    let mut summary;
    if args.dump_events {
        let mut dump = EventDump::new(output(&args.output.output)?);
        summary = scan::run(feed, &opts, &mut [&mut dump as &mut dyn EventSink])?;
        dump.finish().context("writing events")?;
    } else if let Some(cfg) = detect {
        let mut detector = Detector::new(cfg);
        summary = scan::run(feed, &opts, &mut [&mut detector as &mut dyn EventSink])?;
        let detection = detector.finish();
        add_warnings(&mut summary, detection.warnings);
        let findings = detection.findings;
        summary.findings = findings.len() as u64;
        let mut doc = Vec::new();
        let region = args.aws.region.clone().or_else(|| std::env::var("AWS_REGION").ok()).unwrap_or("us-east-1".into());
        report::write_findings_in(&findings, format.into(), &region, &mut doc).context("writing findings")?;
        write_document(&args.output.output, doc).context("writing findings")?;
        if args.to_security_hub {
            trailhound::export::security_hub::import(&findings, &args.aws.options(), session.rt())?;
        }
    } else {
        summary = scan::run(feed, &opts, &mut [])?;
    }

    write_summary(&args.output.summary, &summary)?;
    if !args.output.quiet {
        eprint!("{}", summary.human());
    }
    let listed = feed.totals();
    if listed.listed == 0 && listed.pruned == 0 {
        anyhow::bail!("no inputs found in {}", inp.inputs.join(", "));
    }
    Ok(exit::status(summary.findings > 0, summary.is_partial()))
}

fn run_report(args: ReportArgs) -> anyhow::Result<i32> {
    let (filter, prune) = args.input.filter_and_prune()?;
    let mut roots: Vec<String> = args.key.clone();
    for f in &args.finding {
        roots.extend(revoke::read_findings(f)?.into_iter().map(|f| f.access_key_id));
    }
    roots.dedup();
    if roots.is_empty() {
        anyhow::bail!("report needs --key KEY or --finding FILE");
    }
    let session = Session::new()?;
    let flags = athena_cmds::Flags {
        athena: &args.athena,
        input: &args.input,
        aws: &args.aws,
        detect: &args.detect,
        quiet: args.out.quiet,
    };
    let (athena_input, narrowed) =
        athena_cmds::narrow(&flags, &session, &filter, &prune, athena_cmds::Target::Chain(&roots))?.unzip();
    let inp = athena_input.as_ref().unwrap_or(&args.input);
    let progress = !args.out.quiet && std::io::stderr().is_terminal();

    // Pass 1: minting edges (the chain) and detection (attacker origins), over everything selected.
    // Each pass draws scan's progress bar; a line before each says which one is running.
    if progress {
        eprintln!("trailhound: pass 1 of 2: the credential chain and detection, over every input selected");
    }
    let opened = session.open(inp, &prune, &args.aws);
    let opts = ScanOptions {
        filter: filter.clone(),
        threads: inp.threads,
        progress,
        reader: opened.reader.clone(),
        max_input_bytes: inp.max_input_size,
        max_held_bytes: 0,
    };
    let mut edges = trailhound::blast::MintEdges::new(&roots);
    // With --engine athena, Athena's aggregates gave the findings over the whole window.
    let mut detector = match &narrowed {
        Some(_) => None,
        None => Some(Detector::new(DetectConfig::load(&args.detect.options())?)),
    };
    let mut sinks: Vec<&mut dyn EventSink> = vec![&mut edges];
    sinks.extend(detector.as_mut().map(|d| d as &mut dyn EventSink));
    let first = scan::run(&opened.feed, &opts, &mut sinks)?;
    let chain = trailhound::blast::chain(&roots, &edges.edges);
    let (detection, athena) = match (detector, narrowed) {
        (_, Some(n)) => (n.detection, Some(n.run)),
        (Some(d), None) => (d.finish(), None),
        (None, None) => anyhow::bail!("internal: neither Athena nor a detector gave findings"),
    };
    let findings = detection.findings;

    // Pass 2: only the chain's time window (sessions live at most 36 hours after they are minted).
    // Keys created with CreateAccessKey live until deleted: their window has no end.
    let mut start = i64::MAX;
    let mut end = i64::MIN;
    for k in &chain {
        if let Some(&(a, b)) = edges.ranges.get(&k.access_key_id) {
            start = start.min(a);
            end = end.max(match k.via.as_deref() {
                Some("CreateAccessKey") => i64::MAX - 60_000,
                Some(_) => b.max(a + 36 * 3_600_000),
                None => b,
            });
        }
    }
    let upstream = trailhound::blast::upstream(&chain, &edges.edges);
    let (mut filter2, mut prune2) = (filter, prune);
    if start <= end {
        let (s, e) = (start - 60_000, end + 60_000);
        filter2.since_ms = Some(filter2.since_ms.map_or(s, |x| x.max(s)));
        filter2.until_ms =
            if end >= i64::MAX - 60_000 { filter2.until_ms } else { Some(filter2.until_ms.map_or(e, |x| x.min(e))) };
        prune2.since_ms = filter2.since_ms;
        prune2.until_ms = filter2.until_ms;
    }
    filter2.keep_raw_for = Some(Arc::new(chain.iter().map(|k| k.access_key_id.clone()).collect()));
    if progress {
        eprintln!("trailhound: pass 2 of 2: the events of {} chained keys, within their time window", chain.len());
    }
    let opened = session.open(inp, &prune2, &args.aws);
    let opts = ScanOptions {
        filter: filter2,
        threads: inp.threads,
        progress,
        reader: opened.reader.clone(),
        max_input_bytes: inp.max_input_size,
        max_held_bytes: 0,
    };
    let mut collector = trailhound::blast::Collector::new(&chain);
    let mut summary = scan::run(&opened.feed, &opts, &mut [&mut collector as &mut dyn EventSink])?;
    add_warnings(&mut summary, detection.warnings);
    summary.athena = athena;
    let chained: std::collections::HashSet<&str> = chain.iter().map(|k| k.access_key_id.as_str()).collect();
    let flagged: Vec<String> = findings
        .iter()
        .filter(|f| chained.contains(f.access_key_id.as_str()))
        .flat_map(|f| f.origins().map(str::to_owned))
        .collect();
    let blast = trailhound::blast::impact::build(chain, upstream, collector.events, &flagged);
    let mut doc = Vec::new();
    match args.format {
        ReportFormat::Json => report::blast::json(&blast, &mut doc)?,
        ReportFormat::Csv => report::blast::csv(&blast, &mut doc)?,
        ReportFormat::Md => report::blast::markdown(&blast, &mut doc)?,
        ReportFormat::Html => doc.extend_from_slice(report::html::render(&blast).as_bytes()),
    }
    write_document(&args.out.output, doc).context("writing the report")?;
    write_summary(&args.out.summary, &summary)?;
    if !args.out.quiet {
        eprint!("{}", summary.human());
        eprintln!(
            "trailhound: chain of {} keys, {} events, {} lasting actions",
            blast.keys.len(),
            blast.events.len(),
            blast.impact.len()
        );
    }
    Ok(exit::status(false, summary.is_partial() || first.is_partial()))
}

fn run_timeline(args: TimelineArgs) -> anyhow::Result<i32> {
    let (filter, prune) = args.input.filter_and_prune()?;
    let session = Session::new()?;
    let role = args.role.as_deref().map(|r| revoke::iam::role_name(r).to_owned());
    let flags = athena_cmds::Flags {
        athena: &args.athena,
        input: &args.input,
        aws: &args.aws,
        detect: &args.detect,
        quiet: args.out.quiet,
    };
    let sel = trailhound::athena::objects::Selection {
        keys: args.key.iter().cloned().collect(),
        roles: role.iter().cloned().collect(),
        sessions: args.session.iter().cloned().collect(),
    };
    let (athena_input, narrowed) =
        athena_cmds::narrow(&flags, &session, &filter, &prune, athena_cmds::Target::Records(sel))?.unzip();
    let inp = athena_input.as_ref().unwrap_or(&args.input);
    let opened = session.open(inp, &prune, &args.aws);
    let opts = ScanOptions {
        filter,
        threads: inp.threads,
        progress: !args.out.quiet && std::io::stderr().is_terminal(),
        reader: opened.reader.clone(),
        max_input_bytes: inp.max_input_size,
        max_held_bytes: 0,
    };
    let sel = trailhound::timeline::Selector { role, session: args.session.clone(), key: args.key.clone() };
    let mut sink = trailhound::timeline::TimelineSink::new(sel);
    let mut summary;
    let detection = match narrowed {
        // Athena's aggregates gave the findings over the whole window.
        Some(n) => {
            summary = scan::run(&opened.feed, &opts, &mut [&mut sink as &mut dyn EventSink])?;
            summary.athena = Some(n.run);
            n.detection
        }
        None => {
            let mut detector = Detector::new(DetectConfig::load(&args.detect.options())?);
            summary = scan::run(&opened.feed, &opts, &mut [&mut sink as &mut dyn EventSink, &mut detector])?;
            detector.finish()
        }
    };
    add_warnings(&mut summary, detection.warnings);
    let t = sink.finish(&detection.findings);
    let mut doc = Vec::new();
    match args.format {
        TimelineFormat::Json => {
            report::json::to_writer_pretty(&mut doc, &t)?;
            doc.push(b'\n');
        }
        TimelineFormat::Table => doc.extend_from_slice(trailhound::timeline::render_text(&t).as_bytes()),
    }
    write_document(&args.out.output, doc).context("writing the timeline")?;
    write_summary(&args.out.summary, &summary)?;
    if !args.out.quiet {
        eprint!("{}", summary.human());
    }
    Ok(exit::status(false, summary.is_partial()))
}
