//! Report: findings as a terminal table, JSON, JSON Lines, CSV, OCSF or ASFF.

pub mod asff;
pub mod blast;
pub mod escape;
pub mod html;
pub mod json;
pub mod ocsf;
pub mod redact;

use crate::detect::Finding;
use std::io::{self, Write};

/// How findings are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A table for a person, terminal-safe.
    Table,
    /// One JSON array.
    Json,
    /// One JSON object per line.
    Ndjson,
    /// CSV with a header row, formula-safe.
    Csv,
    /// OCSF 1.1 Detection Findings (class 2004), one JSON object per line.
    Ocsf,
    /// AWS Security Finding Format: one JSON array, as `aws securityhub batch-import-findings` takes it.
    Asff,
}

/// CSV columns, in order (list fields joined with `;`).
pub const CSV_COLUMNS: &[&str] = &[
    "kind",
    "severity",
    "confidence",
    "score",
    "access_key_id",
    "account_id",
    "role_arn",
    "role_id",
    "session_name",
    "workload",
    "source_ips",
    "source_classes",
    "expected_origins",
    "first_seen",
    "last_seen",
    "event_count",
    "error_count",
    "session_issued_at",
    "delivery_event_id",
    "signals",
    "reasons",
    "event_ids",
    "workload_region",
    "baseline_evidence",
];

fn csv_row(f: &Finding) -> Vec<String> {
    let opt = |o: &Option<String>| o.clone().unwrap_or_default();
    vec![
        f.kind.clone(),
        f.severity.clone(),
        f.confidence.clone(),
        format!("{:.2}", f.score),
        f.access_key_id.clone(),
        f.account_id.clone(),
        f.role_arn.clone(),
        f.role_id.clone(),
        f.session_name.clone(),
        f.workload.clone(),
        f.source_ips.join(";"),
        f.source_classes.join(";"),
        f.expected_origins.join(";"),
        opt(&f.first_seen),
        opt(&f.last_seen),
        f.event_count.to_string(),
        f.error_count.to_string(),
        opt(&f.session_issued_at),
        opt(&f.delivery_event_id),
        f.signals.join(";"),
        f.reasons.join(";"),
        f.event_ids.join(";"),
        opt(&f.workload_region),
        f.baseline_evidence.join(";"),
    ]
}

/// Writes findings in `format` (JSON outputs through [`json`], CSV cells formula-safe, the table
/// terminal-safe).
pub fn write_findings(findings: &[Finding], format: Format, out: &mut dyn Write) -> io::Result<()> {
    write_findings_in(findings, format, "us-east-1", out)
}

/// [`write_findings`], with the region ASFF findings are addressed to (their product ARN's).
pub fn write_findings_in(findings: &[Finding], format: Format, region: &str, out: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Ocsf => {
            for f in findings {
                json::to_writer(&mut *out, &ocsf::finding(f))?;
                writeln!(out)?;
            }
            Ok(())
        }
        Format::Asff => {
            let all: Vec<serde_json::Value> = findings.iter().map(|f| asff::finding(f, region)).collect();
            json::to_writer_pretty(&mut *out, &all)?;
            writeln!(out)
        }
        Format::Json => {
            json::to_writer_pretty(&mut *out, findings)?;
            writeln!(out)
        }
        Format::Ndjson => {
            for f in findings {
                json::to_writer(&mut *out, f)?;
                writeln!(out)?;
            }
            Ok(())
        }
        Format::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record(CSV_COLUMNS)?;
            for f in findings {
                w.write_record(csv_row(f).iter().map(|c| escape::csv_cell(c)).map(|c| c.into_owned()))?;
            }
            w.flush()
        }
        Format::Table => table(findings, out),
    }
}

fn table(findings: &[Finding], out: &mut dyn Write) -> io::Result<()> {
    use escape::term;
    if findings.is_empty() {
        return writeln!(out, "No findings.");
    }
    writeln!(
        out,
        "{:<9} {:<6} {:<20} {:<7} {:<26} {:<20} {:>6}  {}",
        "SEVERITY", "CONF", "ACCESS KEY", "WORKLOAD", "KIND", "FIRST SEEN", "EVENTS", "SOURCE"
    )?;
    for f in findings {
        writeln!(
            out,
            "{:<9} {:<6} {:<20} {:<7} {:<26} {:<20} {:>6}  {}",
            f.severity,
            f.confidence,
            term(&f.access_key_id),
            f.workload,
            f.kind,
            f.first_seen.as_deref().unwrap_or("-"),
            f.event_count,
            term(&f.source_ips.join(", "))
        )?;
        writeln!(out, "          role {} session {}", term(&f.role_arn), term(&f.session_name))?;
        for r in &f.reasons {
            writeln!(out, "          - {}", term(r))?;
        }
    }
    Ok(())
}

/// `--dump-events`: every distinct event as one JSON line.
pub struct EventDump<W: Write + Send> {
    out: W,
    /// The first write error; later events are not written, and [`EventDump::finish`] returns it.
    pub error: Option<io::Error>,
}

impl<W: Write + Send> EventDump<W> {
    /// A dump writing JSON Lines to `out`.
    pub fn new(out: W) -> Self {
        EventDump { out, error: None }
    }

    /// Flushes the output; returns the first write error, if any.
    pub fn finish(mut self) -> io::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.out.flush()
    }
}

impl<W: Write + Send> crate::scan::EventSink for EventDump<W> {
    fn observe(&mut self, ev: &crate::event::Event<'_>) {
        if self.error.is_some() {
            return;
        }
        let res = json::to_writer(&mut self.out, ev).map_err(io::Error::from).and_then(|()| self.out.write_all(b"\n"));
        if let Err(e) = res {
            self.error = Some(e);
        }
    }
}
