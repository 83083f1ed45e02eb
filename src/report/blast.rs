//! Blast-radius report writers: JSON, CSV (one row per event), Markdown; HTML is in `html.rs`.

use super::escape::{csv_cell, html};
use crate::blast::impact::{BlastReport, classify};
use std::io::{self, Write};

pub fn json(r: &BlastReport, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, r)?;
    writeln!(out)
}

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

/// Markdown cell: HTML-escaped (renderers pass HTML through) and pipes escaped.
fn md(s: &str) -> String {
    html(s).replace('|', "\\|").replace('\n', " ").replace('`', "\\`")
}

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
            i.category.label(),
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
    writeln!(out, "\n## Credential chain\n\n| key | minted by | via | role |\n|---|---|---|---|")?;
    for k in &r.keys {
        writeln!(
            out,
            "| {} | {} | {} | {} |",
            md(&k.access_key_id),
            md(k.minted_by.as_deref().unwrap_or("(compromised)")),
            md(k.via.as_deref().unwrap_or("")),
            md(k.role_arn.as_deref().unwrap_or(""))
        )?;
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
