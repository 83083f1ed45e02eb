//! `trailhound export`: the scan pipeline with the Parquet writer as its sink.

use crate::Session;
use anyhow::Context;
use std::io::IsTerminal;
use trailhound::exit;
use trailhound::report;
use trailhound::scan::ScanOptions;

/// Exports the inputs' normalized events as Parquet; the exit status says whether every input was read.
pub(crate) fn run_export(args: trailhound::cli::export::ExportArgs) -> anyhow::Result<i32> {
    let (mut filter, prune) = args.input.filter_and_prune()?;
    filter.keep_raw_all = true;
    let session = Session::new()?;
    let opened = session.open(&args.input, &prune, &args.aws);
    let progress = !args.quiet && std::io::stderr().is_terminal();
    let (threads, reader, max_input_bytes) = (args.input.threads, opened.reader.clone(), args.input.max_input_size);
    let opts = ScanOptions { filter, threads, progress, reader, max_input_bytes, max_held_bytes: 0 };
    let (summary, stats) = trailhound::export::run::run(&args, &opened.feed, &opts, session.rt())?;
    if let Some(path) = &args.summary {
        let text = report::json::to_string_pretty(&trailhound::export::run::summary_json(&summary, &stats)?)?;
        std::fs::write(path, text + "\n").with_context(|| format!("cannot write --summary {}", path.display()))?;
    }
    if !args.quiet {
        eprint!("{}", summary.human());
        eprintln!("exported {} rows into {} Parquet files ({} bytes)", stats.rows, stats.files.len(), stats.bytes);
    }
    let listed = opened.feed.totals();
    if listed.listed == 0 && listed.pruned == 0 {
        anyhow::bail!("no inputs found in {}", args.input.inputs.join(", "));
    }
    Ok(exit::status(false, summary.is_partial()))
}
