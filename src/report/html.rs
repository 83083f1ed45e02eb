//! The blast-radius report as one self-contained HTML page with an inline SVG timeline.
//! Every log-derived string goes through [`html`] escaping; nothing is fetched from elsewhere.

use super::escape::html;
use crate::blast::impact::{BlastReport, Category};
use std::fmt::Write as _;

fn color(c: Option<Category>) -> &'static str {
    match c {
        Some(Category::Persistence) => "#d62728",
        Some(Category::DefenseEvasion) => "#ff7f0e",
        Some(Category::Exposure) => "#9467bd",
        Some(Category::DataAccess) => "#1f77b4",
        Some(Category::Cost) => "#8c564b",
        None => "#9a9a9a",
    }
}

/// The timeline: one lane per key of the chain, one dot per call, coloured by impact; hollow dots
/// failed; red triangles mark calls from origins that detection flagged.
pub fn svg(r: &BlastReport) -> String {
    let times: Vec<i64> = r.events.iter().filter_map(|e| e.time_ms).collect();
    let (t0, t1) = match (times.iter().min(), times.iter().max()) {
        (Some(&a), Some(&b)) => (a, b.max(a + 1)),
        _ => (0, 1),
    };
    let (left, width, lane) = (260.0, 700.0, 46.0);
    let height = 60.0 + lane * r.keys.len().max(1) as f64;
    let x = |t: i64| left + (t - t0) as f64 / (t1 - t0) as f64 * width;
    // Each key's events and the flagged origins, gathered once: a chain thousands of keys deep draws
    // one lane per key.
    let mut by_key: std::collections::HashMap<&str, Vec<&crate::blast::ReportEvent>> = Default::default();
    for e in &r.events {
        by_key.entry(e.access_key_id.as_str()).or_default().push(e);
    }
    let flagged: std::collections::HashSet<&str> =
        r.origins.iter().filter(|o| o.flagged).map(|o| o.source_ip.as_str()).collect();
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" aria-label="timeline of the compromised credentials" font-family="sans-serif" font-size="12">"#,
        w = left + width + 30.0,
        h = height
    );
    for (i, k) in r.keys.iter().enumerate() {
        let y = 30.0 + lane * i as f64 + lane / 2.0;
        let _ = write!(s, r##"<line x1="{left}" y1="{y}" x2="{}" y2="{y}" stroke="#ddd"/>"##, left + width);
        let label = match &k.minted_by {
            None => format!("{} (compromised)", k.access_key_id),
            Some(p) => format!("{} ← {}", k.access_key_id, p),
        };
        let _ = write!(s, r#"<text x="8" y="{}">{}</text>"#, y - 4.0, html(&label));
        if let Some(role) = &k.role_arn {
            let short = role.rsplit('/').next().unwrap_or(role);
            let _ = write!(s, r##"<text x="8" y="{}" fill="#666" font-size="10">{}</text>"##, y + 10.0, html(short));
        }
        for e in by_key.get(k.access_key_id.as_str()).into_iter().flatten() {
            let Some(t) = e.time_ms else { continue };
            let cx = x(t);
            let cat = crate::blast::impact::classify(&e.event_name, e.request_parameters.as_ref());
            let c = color(cat);
            let (fill, stroke) = if e.error_code.is_some() { ("#fff", c) } else { (c, c) };
            let tip = format!(
                "{} {} from {}{}",
                e.event_time.as_deref().unwrap_or(""),
                e.event_name,
                e.source_ip,
                e.error_code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default()
            );
            let _ = write!(
                s,
                r#"<circle cx="{cx:.1}" cy="{y}" r="5" fill="{fill}" stroke="{stroke}" stroke-width="1.5"><title>{}</title></circle>"#,
                html(&tip)
            );
            if flagged.contains(e.source_ip.as_str()) {
                let _ = write!(s, r##"<path d="M{:.1} {} l4 -7 l-8 0 z" fill="#c00"/>"##, cx, y - 7.0);
            }
        }
    }
    let axis_y = height - 18.0;
    let _ = write!(
        s,
        r##"<line x1="{left}" y1="{}" x2="{}" y2="{}" stroke="#333"/>"##,
        axis_y - 10.0,
        left + width,
        axis_y - 10.0
    );
    for i in 0..=4 {
        let t = t0 + (t1 - t0) * i / 4;
        let anchor = match i {
            0 => "start",
            4 => "end",
            _ => "middle",
        };
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{axis_y}" text-anchor="{anchor}" font-size="10">{}</text>"#,
            left + width * i as f64 / 4.0,
            html(&crate::time::format_ms(t))
        );
    }
    s.push_str("</svg>");
    s
}

fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut s = String::from("<table><thead><tr>");
    for h in headers {
        let _ = write!(s, "<th>{}</th>", html(h));
    }
    s.push_str("</tr></thead><tbody>");
    for r in rows {
        s.push_str("<tr>");
        for c in r {
            // Only long cells may break inside a word: short ones (a time, a call) keep their words.
            let class = if c.chars().count() > LONG_CELL { " class=\"w\"" } else { "" };
            let _ = write!(s, "<td{class}>{}</td>", html(c));
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table>");
    s
}

/// Cells longer than this (ARNs, request parameters, user agents) get class `w`.
const LONG_CELL: usize = 24;

/// Long cells (class `w`) wrap anywhere so that no table is wider than the window
/// (`overflow-wrap:anywhere` also lets the table shrink those columns to fit).
const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}table{border-collapse:collapse;font-size:13px;margin:.5em 0;max-width:100%}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top;overflow-wrap:break-word}td.w{overflow-wrap:anywhere;min-width:8em}svg{max-width:100%;height:auto}th{background:#f4f4f4}.legend span{display:inline-block;margin-right:1em}.dot{display:inline-block;width:10px;height:10px;border-radius:5px;margin-right:4px}.flag{color:#c00;font-weight:bold}code{font-size:12px}";

/// The whole self-contained HTML page.
pub fn render(r: &BlastReport) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\"><title>trailhound blast radius</title><style>{STYLE}</style></head><body>"
    );
    let _ = write!(
        s,
        "<h1>Blast radius of {} compromised credential{}</h1><p>{} keys in the chain, {} calls from {} to {}, {} denied. Regions: {}.</p>",
        r.keys.iter().filter(|k| k.minted_by.is_none()).count(),
        if r.keys.iter().filter(|k| k.minted_by.is_none()).count() == 1 { "" } else { "s" },
        r.keys.len(),
        r.events.len(),
        html(r.window.start.as_deref().unwrap_or("-")),
        html(r.window.end.as_deref().unwrap_or("-")),
        r.denied_calls,
        html(&r.regions.join(", "))
    );
    s.push_str("<h2>Timeline</h2><div class=\"legend\">");
    for (c, label) in [
        (Some(Category::Persistence), "persistence"),
        (Some(Category::DefenseEvasion), "defense evasion"),
        (Some(Category::Exposure), "exposure"),
        (Some(Category::DataAccess), "data access"),
        (Some(Category::Cost), "cost"),
        (None, "other"),
    ] {
        let _ = write!(s, "<span><i class=\"dot\" style=\"background:{}\"></i>{label}</span>", color(c));
    }
    s.push_str("<span class=\"flag\">▼ from an attacker origin</span><span>hollow: failed call</span></div>");
    s.push_str(&svg(r));

    s.push_str("<h2>What outlives the session</h2>");
    let rows: Vec<Vec<String>> = r
        .impact
        .iter()
        .map(|i| {
            vec![
                i.category.label().to_owned(),
                i.event_time.clone().unwrap_or_default(),
                i.event_name.clone(),
                i.access_key_id.clone(),
                if i.from_flagged_origin { format!("{} (attacker)", i.source_ip) } else { i.source_ip.clone() },
                i.detail.clone(),
                i.error_code.clone().unwrap_or_else(|| "succeeded".into()),
            ]
        })
        .collect();
    s.push_str(&table(&["category", "time", "call", "key", "from", "detail", "result"], &rows));

    s.push_str("<h2>Remediation checklist</h2><ol>");
    for step in &r.remediation {
        let _ = write!(s, "<li>{}</li>", html(step));
    }
    s.push_str("</ol>");

    s.push_str("<h2>Credential chain</h2>");
    s.push_str(&table(&super::blast::CHAIN_COLUMNS, &super::blast::chain_rows(r)));

    s.push_str("<h2>Origins</h2>");
    let rows: Vec<Vec<String>> = r
        .origins
        .iter()
        .map(|o| {
            vec![
                o.source_ip.clone(),
                if o.flagged { "attacker".into() } else { String::new() },
                o.events.to_string(),
                o.user_agents.join(" | "),
            ]
        })
        .collect();
    s.push_str(&table(&["address", "flagged", "calls", "user agents"], &rows));

    s.push_str("<h2>Calls</h2>");
    let rows: Vec<Vec<String>> = r
        .calls
        .iter()
        .map(|c| vec![c.event_source.clone(), c.event_name.clone(), c.ok.to_string(), c.errors.to_string()])
        .collect();
    s.push_str(&table(&["service", "call", "succeeded", "failed"], &rows));

    s.push_str("<h2>Resources touched</h2><ul>");
    for res in &r.resources {
        let _ = write!(s, "<li><code>{}</code></li>", html(res));
    }
    s.push_str("</ul><h2>Events</h2>");
    let rows: Vec<Vec<String>> = r
        .events
        .iter()
        .map(|e| {
            vec![
                e.event_time.clone().unwrap_or_default(),
                e.event_name.clone(),
                e.access_key_id.clone(),
                e.source_ip.clone(),
                e.error_code.clone().unwrap_or_default(),
                e.user_agent.clone(),
                e.event_id.clone(),
            ]
        })
        .collect();
    s.push_str(&table(&["time", "call", "key", "source", "error", "user agent", "event id"], &rows));
    s.push_str(
        "<p><small>Generated by trailhound. Session tokens and secrets are never included.</small></p></body></html>\n",
    );
    s
}
