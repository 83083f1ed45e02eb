//! Blast-radius report writers: JSON, CSV (one row per event), Markdown; HTML is in `html.rs`.

use super::escape::{csv_cell, md};
use crate::blast::ChainKey;
use crate::blast::impact::{BlastReport, classify};
use std::io::{self, Write};

/// The report as indented JSON (C1 and bidi characters escaped).
pub fn json(r: &BlastReport, out: &mut dyn Write) -> io::Result<()> {
    super::json::to_writer_pretty(&mut *out, r)?;
    writeln!(out)
}

/// One CSV row per event of the chain; cells cannot start a formula.
pub fn csv(r: &BlastReport, out: &mut dyn Write) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "event_time",
        "event_id",
        "event_source",
        "event_name",
        "access_key_id",
        "source_ip",
        "user_agent",
        "region",
        "error_code",
        "impact",
        "resources",
    ])?;
    for e in &r.events {
        let cat = classify(&e.event_name, e.request_parameters.as_ref()).map(|c| c.label()).unwrap_or("");
        let row = [
            e.event_time.clone().unwrap_or_default(),
            e.event_id.clone(),
            e.event_source.clone(),
            e.event_name.clone(),
            e.access_key_id.clone(),
            e.source_ip.clone(),
            e.user_agent.clone(),
            e.region.clone(),
            e.error_code.clone().unwrap_or_default(),
            cat.to_owned(),
            e.resources.join(";"),
        ];
        w.write_record(row.iter().map(|c| csv_cell(c).into_owned()))?;
    }
    w.flush()
}

/// Columns of the credential-chain table (Markdown and HTML).
pub const CHAIN_COLUMNS: [&str; 9] =
    ["key", "kind", "in the report as", "made by", "call", "principal", "from", "at", "role / session"];

fn chain_row(k: &ChainKey, relation: &str) -> Vec<String> {
    let p = k.provenance.as_ref();
    let made_by = p
        .and_then(|p| p.access_key_id.clone().or_else(|| p.invoked_by.clone()))
        .or_else(|| k.minted_by.clone())
        .unwrap_or_else(|| "(not in the logs)".into());
    let role = match (&k.role_arn, &k.session_name) {
        (Some(r), Some(s)) => format!("{r} / {s}"),
        (Some(r), None) => r.clone(),
        (None, Some(s)) => s.clone(),
        (None, None) => String::new(),
    };
    vec![
        k.access_key_id.clone(),
        k.kind.replace('_', "-"),
        relation.to_owned(),
        made_by,
        p.map(|p| p.event_name.clone()).or_else(|| k.via.clone()).unwrap_or_default(),
        p.map(|p| p.principal_arn.clone()).unwrap_or_default(),
        p.map(|p| p.source_ip.clone()).unwrap_or_default(),
        p.and_then(|p| p.event_time.clone()).unwrap_or_default(),
        role,
    ]
}

/// The credential chain with provenance, upstream first (farthest first), then the report's keys.
pub fn chain_rows(r: &BlastReport) -> Vec<Vec<String>> {
    let mut rows: Vec<Vec<String>> = r.upstream.iter().rev().map(|k| chain_row(k, "upstream")).collect();
    for k in &r.keys {
        let relation = match (&k.minted_by, k.via.as_deref()) {
            (None, _) => "compromised",
            (Some(_), Some("CreateAccessKey")) => "created by the chain",
            (Some(_), _) => "minted by the chain",
        };
        rows.push(chain_row(k, relation));
    }
    rows
}

/// The report as Markdown; every log-derived string goes through [`md`].
pub fn markdown(r: &BlastReport, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "# Blast radius\n")?;
    writeln!(
        out,
        "{} keys in the chain, {} calls from {} to {}, {} denied. Regions: {}.\n",
        r.keys.len(),
        r.events.len(),
        md(r.window.start.as_deref().unwrap_or("-")),
        md(r.window.end.as_deref().unwrap_or("-")),
        r.denied_calls,
        md(&r.regions.join(", "))
    )?;
    writeln!(
        out,
        "## What outlives the session\n\n| category | time | call | key | detail | result |\n|---|---|---|---|---|---|"
    )?;
    for i in &r.impact {
        writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            md(i.category.label()),
            md(i.event_time.as_deref().unwrap_or("")),
            md(&i.event_name),
            md(&i.access_key_id),
            md(&i.detail),
            md(i.error_code.as_deref().unwrap_or("succeeded"))
        )?;
    }
    writeln!(out, "\n## Remediation checklist\n")?;
    for (n, step) in r.remediation.iter().enumerate() {
        writeln!(out, "{}. {}", n + 1, md(step))?;
    }
    writeln!(out, "\n## Credential chain\n")?;
    writeln!(out, "| {} |\n|{}", CHAIN_COLUMNS.join(" | "), "---|".repeat(CHAIN_COLUMNS.len()))?;
    for row in chain_rows(r) {
        let cells: Vec<String> = row.iter().map(|c| md(c)).collect();
        writeln!(out, "| {} |", cells.join(" | "))?;
    }
    writeln!(out, "\n## Calls\n\n| service | call | succeeded | failed |\n|---|---|---|---|")?;
    for c in &r.calls {
        writeln!(out, "| {} | {} | {} | {} |", md(&c.event_source), md(&c.event_name), c.ok, c.errors)?;
    }
    writeln!(out, "\n## Origins\n\n| address | flagged | calls |\n|---|---|---|")?;
    for o in &r.origins {
        writeln!(out, "| {} | {} | {} |", md(&o.source_ip), if o.flagged { "attacker" } else { "" }, o.events)?;
    }
    Ok(())
}
