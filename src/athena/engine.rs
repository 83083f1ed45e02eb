//! `scan --engine athena`: Athena's facts, absorbed by the detector, judged as the local engine judges.

use super::{AthenaOptions, AthenaRun, QueryStats, Window};
use crate::detect::{DetectConfig, Detection, Detector};
use std::sync::atomic::AtomicBool;

/// Runs the aggregate queries over `window` and judges their facts. `progress` hears of each query.
pub async fn detect(
    aws: &crate::aws::AwsOptions,
    opts: &AthenaOptions,
    window: &Window,
    cfg: DetectConfig,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(&QueryStats),
) -> anyhow::Result<(Detection, AthenaRun)> {
    let sdk = crate::aws::config(aws).await;
    let client = aws_sdk_athena::Client::new(&sdk);
    let (facts, run) = super::run_facts(&client, opts, window, cancel, progress).await?;
    let mut detector = Detector::new(cfg);
    detector.absorb(&facts);
    Ok((detector.finish(), run))
}

/// One line per query for the terminal: bytes, cost, time, rows.
pub fn describe(q: &QueryStats) -> String {
    let reused = if q.reused { ", reused result" } else { "" };
    format!(
        "trailhound: athena {}: {:.1} MB scanned (${:.4}), {:.1} s, {} rows{} [{}]",
        q.name,
        q.bytes_scanned as f64 / 1e6,
        q.cost_usd,
        q.elapsed_ms as f64 / 1000.0,
        q.rows,
        reused,
        q.query_execution_id
    )
}

/// The closing line: every query together.
pub fn describe_run(r: &AthenaRun) -> String {
    format!(
        "trailhound: athena: {} queries, {:.1} MB scanned, ${:.4} at $5/TB, {:.1} s\n",
        r.queries.len(),
        r.bytes_scanned as f64 / 1e6,
        r.cost_usd,
        r.elapsed_ms as f64 / 1000.0
    )
}
