//! The fast path must change nothing but speed: every input decodes to the same records and the
//! same report with it as with serde_json alone.

use super::super::raw::RawRecord;
use super::super::{Decoder, Report};
use std::fmt::Write;
use std::path::{Path, PathBuf};

fn dump(r: &RawRecord<'_>, out: &mut String) {
    let _ = write!(
        out,
        "{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|",
        r.event_time,
        r.at_timestamp,
        r.event_id,
        r.event_source,
        r.event_name,
        r.event_type,
        r.aws_region,
        r.recipient_account_id,
        r.error_code,
        r.read_only,
        r.source_ip,
        r.user_agent,
        r.vpc_endpoint_id,
        r.vpc_endpoint_account_id,
        r.request_parameters,
        r.response_elements,
        r.additional_event_data,
        r.digest_start_time,
    );
    if let Some(u) = &r.user_identity {
        let _ = write!(
            out,
            "U{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|",
            u.kind,
            u.principal_id,
            u.arn,
            u.account_id,
            u.access_key_id,
            u.user_name,
            u.invoked_by,
            u.identity_provider
        );
        if let Some(s) = &u.session_context {
            let _ = write!(out, "S{:?}|{:?}|", s.ec2_role_delivery, s.source_identity);
            if let Some(i) = &s.session_issuer {
                let _ = write!(out, "I{:?}|{:?}|{:?}|{:?}|", i.kind, i.principal_id, i.arn, i.user_name);
            }
            if let Some(a) = &s.attributes {
                let _ = write!(out, "A{:?}|", a.creation_date);
            }
        }
    }
    for x in &r.resources {
        let _ = write!(out, "R{:?}|{:?}|{:?}|", x.arn, x.kind, x.account_id);
    }
    out.push('\n');
}

fn decode(bytes: &[u8], fast: bool) -> (String, String) {
    let mut d = Decoder::new();
    if !fast {
        d = d.fast_path(false);
    }
    let mut out = String::new();
    let r: Report = d.decode(bytes, &mut |rec| dump(rec, &mut out));
    let report = format!("{} {:?} {} {} {:?}", r.format, r.outcome, r.records, r.rejected, r.warnings);
    (out, report)
}

/// Decodes `bytes` both ways and checks they agree; returns the number of records.
fn same(bytes: &[u8], what: &str) -> usize {
    let (fast, fast_report) = decode(bytes, true);
    let (slow, slow_report) = decode(bytes, false);
    assert_eq!(fast_report, slow_report, "{what}: reports differ");
    if fast != slow {
        let (a, b): (Vec<&str>, Vec<&str>) = (fast.lines().collect(), slow.lines().collect());
        let at = a.iter().zip(&b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
        panic!(
            "{what}: record {at} differs ({} vs {} records)\nfast: {:?}\nserde: {:?}",
            a.len(),
            b.len(),
            a.get(at),
            b.get(at)
        );
    }
    fast.lines().count()
}

pub(super) fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn fast_path_reads_every_committed_and_shared_corpus_exactly_like_serde() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut all = Vec::new();
    files(&root.join("fixtures"), &mut all);
    let shared = root.join("../shared/corpora");
    if std::env::var("CI").as_deref() == Ok("true") {
        assert!(shared.is_dir(), "CI=true: {} is missing", shared.display());
    }
    files(&shared, &mut all);
    let (mut records, mut inputs, before) = (0, 0, taken());
    for p in &all {
        let Ok(bytes) = std::fs::read(p) else { continue };
        if bytes.len() > 64 << 20 {
            continue;
        }
        records += same(&bytes, &p.display().to_string());
        inputs += 1;
    }
    let fast_documents = taken() - before;
    assert!(inputs > 50 && records > 5_000, "{inputs} inputs, {records} records");
    // The fast path must carry the common files, or it is not worth its code.
    assert!(fast_documents > 20, "the fast path read only {fast_documents} documents");
}

fn taken() -> u64 {
    super::TAKEN.with(|t| t.get())
}

/// Documents that each stop the fast path at a different point: all must come out as serde_json
/// alone makes them, records handed on before the stop counted once.
#[test]
fn every_kind_of_stop_gives_serde_json_s_records_and_errors() {
    let good = r#"{"eventTime":"2026-01-01T00:00:00Z","eventName":"GetObject","eventSource":"s3.amazonaws.com","userIdentity":{"type":"AssumedRole","accessKeyId":"ASIAXXXXXXXXXXXXXXXX","sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::1:role/r"},"attributes":{"creationDate":"2026-01-01T00:00:00Z","mfaAuthenticated":"false"}}},"requestParameters":{"bucketName":"b","x":[1,-2.5e3,true,null,{"a":"\"q\"\u00e9"}]},"responseElements":null,"readOnly":true,"resources":[{"ARN":"arn:aws:s3:::b","type":"AWS::S3::Bucket"},null],"tlsDetails":{"tlsVersion":"TLSv1.3"}}"#;
    let odd = [
        r#"{"eventName":"A","eventName":"B"}"#,
        r#"{"event\u004eame":"A"}"#,
        r#"{"eventName":1}"#,
        r#"{"eventName":"A","readOnly":"True","userIdentity":"x"}"#,
        r#"{"eventName":"A","userIdentity":[]}"#,
        r#"{"eventName":"A","resources":{}}"#,
        r#"{"eventName":"A","x":01}"#,
        r#"{"eventName":"A","x":1.}"#,
        r#"{"eventName":"A","x":-}"#,
        r#"{"eventName":"A","x":[1,]}"#,
        r#"{"eventName":"A","x":{"a":1,}}"#,
        r#"{"eventName":"A","x":tru}"#,
        r#"{"eventName":"A","x":"bad \x escape"}"#,
        "{\"eventName\":\"A\",\"x\":\"control \u{1} char\"}",
        r#"{"eventName":"A\u00e9\"","userAgent":"a\\b"}"#,
        r#"{"eventName":"A","x":"\ud800"}"#,
        r#"{"eventName":"A","detail":{"eventName":"B"}}"#,
        r#"{"Records":[{"eventName":"nested"}]}"#,
        r#"{"x":1}"#,
        r#"[1,2]"#,
        r#""just a string""#,
        r#"{"eventName":"A","x":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}"#,
        r#"{"eventName":"A","x":[1 2]}"#,
        r#"{"eventName":"A" "x":1}"#,
        r#"{"eventName":"A","x":1"#,
        // From a hostile review: edges the fast path must keep matching.
        r#"{"eventName":"A","x":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}"#,
        r#"{"eventName":"A","requestParameters":{"k":"\udc00\u007f"},"x":"\ud800\ud800"}"#,
        r#"{"eventName":"\u0041\/\t","readOnly":"\u0054rue","userAgent":"\ud83d\ude00"}"#,
        r#"{"eventName":"A","userIdentity":null,"userIdentity":{}}"#,
        r#"{"eventName":"A","resources":[null,{},null]}"#,
    ];
    for (n, o) in odd.iter().enumerate() {
        for doc in [
            format!("{{\"Records\":[{o}]}}"),
            format!("{{\"Records\":[{good},{o},{good}]}}"),
            format!("{{\"Records\":[{good},{good}]}}{{\"Records\":[{o}]}}\n{{\"Records\":[{good}]}}"),
            format!(" {{ \"Records\" : [ {good} , {good} ] , \"more\": {o} }} "),
        ] {
            same(doc.as_bytes(), &format!("case {n}: {doc}"));
        }
    }
    for doc in [
        r#"{"Records":[]}"#.to_owned(),
        format!("{{\"Records\":[{good}]}}"),
        format!("{{\"Records\" :\n[\n{good}\n,\n{good}\n]\n}}\n"),
        format!("{{\"Records\":[{good}]}}trailing"),
        format!("{{\"Records\":[{good}],\"Records\":[{good}]}}"),
        format!("{{\"Records\":[{good}]"),
    ] {
        same(doc.as_bytes(), &doc);
    }
    let before = taken();
    assert_eq!(same(format!("{{\"Records\":[{good},{good}]}}").as_bytes(), "good"), 2);
    assert_eq!(taken() - before, 1, "the plain file was not read by the fast path");
}

/// Real records, mutated byte by byte: whatever the fast path takes, serde_json takes the same way.
#[test]
fn mutated_records_decode_the_same_both_ways() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut all = Vec::new();
    files(&root.join("fixtures/corpora"), &mut all);
    let mut samples: Vec<String> = Vec::new();
    for p in all.iter().filter(|p| p.extension().is_some_and(|e| e == "json")) {
        let Ok(text) = std::fs::read_to_string(p) else { continue };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else { continue };
        if let Some(recs) = v.get("Records").and_then(|r| r.as_array()) {
            samples.extend(recs.iter().take(20).map(|r| r.to_string()));
        }
    }
    assert!(samples.len() >= 20, "only {} sample records", samples.len());
    let mut cases = 0;
    // TRAILHOUND_MUTATIONS=N runs N mutations of each record instead of 60, for a longer hunt.
    let rounds: usize = std::env::var("TRAILHOUND_MUTATIONS").ok().and_then(|n| n.parse().ok()).unwrap_or(60);
    mutants(&samples, rounds, 0x9e37_79b9_7f4a_7c15, |s, m| {
        let doc = format!("{{\"Records\":[{s},{m},{s}]}}");
        same(doc.as_bytes(), &doc);
        cases += 1;
    });
    assert!(cases > rounds * 10, "{cases}");
}

/// Hands `f` each sample with `rounds` mutants of it: one to three bytes removed, inserted or replaced
/// by JSON's structural characters, digits, letters of literals and control characters (xorshift from
/// `seed`, so a failure repeats). Mutants that are not UTF-8 are left out.
pub(super) fn mutants(samples: &[String], rounds: usize, mut seed: u64, mut f: impl FnMut(&str, &str)) {
    let alphabet: &[u8] = b"\"\\{}[],:0-.e1tnfu \x01\t\n";
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for s in samples {
        for _ in 0..rounds {
            let mut b = s.as_bytes().to_vec();
            for _ in 0..1 + next() % 3 {
                let at = (next() as usize) % b.len().max(1);
                match next() % 3 {
                    0 if at < b.len() => {
                        b.remove(at);
                    }
                    2 if at < b.len() => b[at] = alphabet[(next() as usize) % alphabet.len()],
                    _ => b.insert(at.min(b.len()), alphabet[(next() as usize) % alphabet.len()]),
                }
            }
            if let Ok(m) = String::from_utf8(b) {
                f(s, &m);
            }
        }
    }
}
