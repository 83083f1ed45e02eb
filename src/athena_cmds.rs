//! The Athena side of the commands: `scan --engine athena`, `athena ddl`, and the narrowing that
//! `report` and `timeline --engine athena` read instead of their INPUT.

use crate::{Session, add_warnings, write_document, write_summary};
use anyhow::Context;
use std::io::IsTerminal;
use trailhound::athena::objects::{self, Narrowed, Selection};
use trailhound::cli::{AthenaArgs, AwsArgs, DetectArgs, Format, InputArgs, ScanArgs};
use trailhound::detect::DetectConfig;
use trailhound::exit;
use trailhound::report;
use trailhound::source::Prune;

/// What `report` or `timeline` reads through Athena.
pub(crate) enum Target<'a> {
    /// A report's chain from these keys.
    Chain(&'a [String]),
    /// A timeline's role, session or key.
    Records(Selection),
}

/// The command's shared options, borrowed.
pub(crate) struct Flags<'a> {
    /// `--engine` and the `--athena-*` options.
    pub athena: &'a AthenaArgs,
    /// INPUT (none with Athena), the window, accounts and regions.
    pub input: &'a InputArgs,
    /// AWS connection (Athena and S3).
    pub aws: &'a AwsArgs,
    /// Detection settings (Athena's findings are judged with them).
    pub detect: &'a DetectArgs,
    /// `-q`: no per-query lines.
    pub quiet: bool,
}

/// With `--engine athena`: runs the aggregate queries (the findings) and the objects query, and
/// returns INPUT replaced by the objects Athena named, with the findings and Athena's costs.
/// Without it: checks that INPUT was given.
pub(crate) fn narrow(
    f: &Flags<'_>,
    session: &Session,
    filter: &trailhound::decode::normalize::Filter,
    prune: &Prune,
    target: Target<'_>,
) -> anyhow::Result<Option<(InputArgs, Narrowed)>> {
    let Some(opts) = f.athena.options()? else {
        f.input.require_inputs()?;
        return Ok(None);
    };
    if !f.input.inputs.is_empty() {
        anyhow::bail!("--engine athena reads the objects Athena names, not INPUT ({})", f.input.inputs.join(", "));
    }
    let window =
        trailhound::athena::Window::from_filter(filter, prune.margin_ms, chrono::Utc::now().timestamp_millis())?;
    let cfg = DetectConfig::load(&f.detect.options())?;
    let aws = f.aws.options();
    let cx = objects::Context { aws: &aws, opts: &opts, window: &window, cancel: session.cancel.clone() };
    let quiet = f.quiet;
    let mut progress = |q: &trailhound::athena::QueryStats| {
        if !quiet {
            eprintln!("{}", trailhound::athena::engine::describe(q));
        }
    };
    let narrowed = match target {
        Target::Chain(roots) => objects::for_chain(session.rt(), &cx, cfg, roots, filter, prune, &mut progress)?,
        Target::Records(sel) => objects::for_selection(session.rt(), &cx, cfg, &sel, &mut progress)?,
    };
    if !quiet {
        eprint!("{}", trailhound::athena::engine::describe_run(&narrowed.run));
        eprintln!("trailhound: athena named {} objects to read", narrowed.inputs.len());
    }
    let input = InputArgs { inputs: narrowed.inputs.clone(), ..f.input.clone() };
    Ok(Some((input, narrowed)))
}

/// `revoke --from-scan --engine athena`: the findings of `scan --engine athena` over the window
/// (`None` with the local engine).
pub(crate) fn findings_for_revoke(
    args: &trailhound::cli::RevokeArgs,
    inputs: &[String],
) -> anyhow::Result<Option<Vec<trailhound::detect::Finding>>> {
    let Some(opts) = args.athena.options()? else { return Ok(None) };
    if !inputs.is_empty() {
        anyhow::bail!("--from-scan --engine athena reads the Athena table, not INPUT ({})", inputs.join(", "));
    }
    let (filter, prune) = args.window.input(&[]).filter_and_prune()?;
    let window =
        trailhound::athena::Window::from_filter(&filter, prune.margin_ms, chrono::Utc::now().timestamp_millis())?;
    let cfg = DetectConfig::load(&args.detect.options())?;
    let session = Session::new()?;
    let (detection, run) = session.rt().block_on(trailhound::athena::engine::detect(
        &args.aws.options(),
        &opts,
        &window,
        cfg,
        &session.cancel,
        &mut |q| eprintln!("{}", trailhound::athena::engine::describe(q)),
    ))?;
    eprint!("{}", trailhound::athena::engine::describe_run(&run));
    for w in &detection.warnings {
        eprintln!("trailhound: warning: {}", report::escape::term(w));
    }
    Ok(Some(detection.findings))
}

/// `scan --engine athena`: the window, accounts and regions become the queries' parameters; the
/// findings are written as the local engine writes them.
pub(crate) fn run_scan_athena(
    args: &ScanArgs,
    opts: trailhound::athena::AthenaOptions,
    filter: &trailhound::decode::normalize::Filter,
    prune: &Prune,
) -> anyhow::Result<i32> {
    use trailhound::athena::engine;
    if !args.input.inputs.is_empty() {
        anyhow::bail!("--engine athena reads the Athena table, not INPUT ({})", args.input.inputs.join(", "));
    }
    if args.dump_events || args.no_detect {
        anyhow::bail!("--engine athena computes detection's facts only (no --dump-events or --no-detect)");
    }
    let window =
        trailhound::athena::Window::from_filter(filter, prune.margin_ms, chrono::Utc::now().timestamp_millis())?;
    let cfg = DetectConfig::load(&args.detect.options())?;
    let session = Session::new()?;
    let quiet = args.output.quiet;
    let started = std::time::Instant::now();
    let (detection, run) =
        session.rt().block_on(engine::detect(&args.aws.options(), &opts, &window, cfg, &session.cancel, &mut |q| {
            if !quiet {
                eprintln!("{}", engine::describe(q));
            }
        }))?;
    let mut summary =
        trailhound::summary::Summary { elapsed_ms: started.elapsed().as_millis() as u64, ..Default::default() };
    add_warnings(&mut summary, detection.warnings);
    summary.findings = detection.findings.len() as u64;
    let format =
        args.output.format.unwrap_or(if std::io::stdout().is_terminal() { Format::Table } else { Format::Ndjson });
    let mut doc = Vec::new();
    report::write_findings(&detection.findings, format.into(), &mut doc).context("writing findings")?;
    write_document(&args.output.output, doc).context("writing findings")?;
    if !quiet {
        eprint!("{}", engine::describe_run(&run));
        eprintln!("trailhound: {} findings", summary.findings);
    }
    summary.athena = Some(run);
    write_summary(&args.output.summary, &summary)?;
    Ok(exit::status(summary.findings > 0, false))
}

/// `athena ddl`: prints the table DDL, or runs it with --apply.
pub(crate) fn run_athena(args: trailhound::cli::AthenaCmdArgs) -> anyhow::Result<i32> {
    let trailhound::cli::AthenaCommand::Ddl(d) = args.command;
    let ddl = trailhound::athena::ddl::render(&d.spec())?;
    if !d.apply {
        print!("{ddl}");
        return Ok(exit::CLEAN);
    }
    let session = Session::new()?;
    let opts = trailhound::athena::AthenaOptions {
        database: d.athena_database.clone().unwrap_or_default(),
        workgroup: d.athena_workgroup.clone(),
        output: d.athena_output.clone(),
        timeout_secs: 600,
        ..Default::default()
    };
    let id = session.rt().block_on(trailhound::athena::client::run_statement(
        &d.aws.options(),
        &opts,
        &ddl,
        &session.cancel,
    ))?;
    eprintln!("trailhound: table {} created in database {} (query {id})", d.athena_table, opts.database);
    Ok(exit::CLEAN)
}
