//! `trailhound export` as the binary runs it: the scan pipeline with an [`Exporter`] as its sink.

use super::dest::{Dest, Target};
use super::{ExportOptions, ExportStats, Exporter};
use crate::cli::export::ExportArgs;
use crate::scan::{self, EventSink, ScanOptions};
use crate::source::Feed;
use crate::summary::Summary;

/// Exports what `feed` lists to `args.to`. `rt` drives the S3 uploads of an `s3://` target.
pub fn run(
    args: &ExportArgs,
    feed: &Feed,
    opts: &ScanOptions,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<(Summary, ExportStats)> {
    let target = Target::parse(&args.to)?;
    let s3 = match &target {
        Target::S3 { .. } => {
            let cfg = rt.block_on(crate::aws::config(&args.aws.options()));
            Some((crate::source::s3::S3Source::new(&cfg).client, rt.handle().clone()))
        }
        Target::Dir(_) => None,
    };
    let dest = Dest::new(target, s3)?;
    let eo = ExportOptions {
        row_group_bytes: args.row_group_mb.max(1) << 20,
        max_open: args.max_open_files.max(1),
        ..ExportOptions::default()
    };
    let mut exporter = Exporter::new(dest, eo);
    let summary = scan::run(feed, opts, &mut [&mut exporter as &mut dyn EventSink])?;
    let stats = exporter.finish()?;
    Ok((summary, stats))
}

/// The run summary with what the export wrote, as `--summary` writes it.
pub fn summary_json(summary: &Summary, stats: &ExportStats) -> anyhow::Result<serde_json::Value> {
    let mut v = serde_json::to_value(summary)?;
    if let Some(m) = v.as_object_mut() {
        m.insert("export".into(), serde_json::to_value(stats)?);
    }
    Ok(v)
}
