//! The checks behind each fuzz target, one public function per target.
//!
//! The fuzz targets (tests/fuzz/fuzz_targets/) call these functions, and tests/fuzz_regressions.rs
//! compiles this same file to replay the committed inputs under plain `cargo test`, so a crash found
//! by the fuzzer and its regression test exercise the very same code. Each function panics when the
//! library panics or when one of the invariants written here breaks.

use serde_json::Value;
use trailhound::decode::normalize::{Filter, Normalized, normalize};
use trailhound::decode::raw::RawRecord;
use trailhound::decode::{Decoder, Outcome, Report};
use trailhound::event::{Batch, Field};
use trailhound::revoke::policy::{self, Revocation, Scope};

/// The fuzz targets, by name: also the folder names under corpus/ and regressions/.
pub const TARGETS: &[(&str, fn(&[u8]))] = &[
    ("decode_container", decode_container),
    ("record_model", record_model),
    ("lookup_events", lookup_events),
    ("policy_merge", policy_merge),
    ("params", params),
];

/// Longest outcome reason for one non-zip input: errors are capped at a handful, so a file with a
/// million broken lines must not produce a million-line message.
const MAX_REASON: usize = 8 * 1024;

/// What one decode produced, with the records counted by the sink.
struct Decoded {
    report: Report,
    records: u64,
    events: usize,
    /// Every event as JSON, one a line: what the fast path and serde_json alone must agree on.
    json: String,
}

/// Decodes `data` the way a scan does (decode, then normalize every record into a batch), reading
/// every field of every event back so that a bad span would panic.
fn decode_and_normalize(dec: &mut Decoder, data: &[u8]) -> Decoded {
    let mut records = 0u64;
    let mut batch = Batch::default();
    let filter = Filter::default();
    let report = dec.decode(data, &mut |rec| {
        records += 1;
        assert!(
            !rec.event_name.is_empty() || !rec.event_source.is_empty(),
            "a record handed on has neither eventName nor eventSource"
        );
        // An impossible time is kept (as no time), and counted apart.
        assert!(
            matches!(normalize(rec, &filter, &mut batch), Normalized::Kept | Normalized::BadTime),
            "the default filter keeps all"
        );
    });
    let mut events = 0;
    let mut all = String::new();
    for ev in batch.iter() {
        events += 1;
        for &f in Field::ALL {
            let _ = ev.get(f);
        }
        for r in ev.resources() {
            let _ = (r.arn, r.kind, r.account_id);
        }
        let json = serde_json::to_string(&ev).expect("an event serializes");
        assert!(serde_json::from_str::<Value>(&json).is_ok(), "an event serializes to JSON: {json}");
        all.push_str(&json);
        all.push('\n');
    }
    Decoded { report, records, events, json: all }
}

/// The report's accounting agrees with what the sink saw.
fn check_report(d: &Decoded, data: &[u8]) {
    let r = &d.report;
    assert_eq!(r.records, d.records, "report.records counts the records handed to the sink");
    assert_eq!(d.events as u64, d.records, "every record normalized into one event");
    assert!(!r.format.is_empty(), "every report names a format");
    match &r.outcome {
        Outcome::Read => assert_eq!(r.rejected, 0, "rejected objects are reported, never a clean read"),
        Outcome::Partial(why) => {
            assert!(!why.is_empty(), "a partial read says why");
            assert!(r.records > 0 || r.rejected > 0, "partial means something was read: {why}");
        }
        Outcome::Skipped(why) | Outcome::Ignored(why) => {
            assert!(!why.is_empty(), "a skipped or ignored input says why");
            assert_eq!(r.records, 0, "a skipped or ignored input hands on no records: {why}");
        }
    }
    let zip = data.starts_with(b"PK\x03\x04");
    if !zip {
        if let Outcome::Partial(why) | Outcome::Skipped(why) | Outcome::Ignored(why) = &r.outcome {
            assert!(why.len() <= MAX_REASON, "reason of {} bytes", why.len());
        }
    }
    if !zip && !data.starts_with(&[0x1f, 0x8b]) {
        assert_eq!(r.bytes_decompressed, data.len() as u64, "plain input: decompressed size is its size");
    }
}

/// What is salvaged before a corrupt gzip stream's error once depended on the spare capacity of the
/// decoder's buffer (the previous input), so a broken file's records varied from run to run
/// (regressions/decode_container/gzip-salvage-*). The streaming inflate made it deterministic: the
/// regression inputs check it.
const KNOWN_GZIP_SALVAGE_VARIES: bool = false;

/// The input was gzip whose stream broke part-way.
fn gzip_broken(r: &Report) -> bool {
    matches!(&r.outcome, Outcome::Partial(why) | Outcome::Skipped(why) if why.contains("gzip stream broken"))
}

/// Target `decode_container`: any bytes -> [`Decoder::decode`] (sniffing, gzip, zip, JSON formats).
/// The same decoder then decodes the input again: it reuses its buffers from one input to the next in
/// a scan, so state left behind by one input must not change the next one's result.
pub fn decode_container(data: &[u8]) {
    let mut dec = Decoder::new();
    let first = decode_and_normalize(&mut dec, data);
    check_report(&first, data);
    let second = decode_and_normalize(&mut dec, data);
    if KNOWN_GZIP_SALVAGE_VARIES && gzip_broken(&first.report) {
        return;
    }
    assert_eq!(first.records, second.records, "same input, same decoder: same records");
    assert_eq!(first.report.outcome, second.report.outcome, "same input, same decoder: same outcome");
    assert_eq!(first.report.format, second.report.format);
    assert_eq!(first.report.rejected, second.report.rejected);
    // The fast path for `Records` files must change nothing but speed: serde_json alone reads the
    // same events and says the same of the input.
    let slow = decode_and_normalize(&mut Decoder::new().fast_path(false), data);
    assert_eq!(first.report.outcome, slow.report.outcome, "fast path and serde_json: same outcome");
    assert_eq!(first.report.format, slow.report.format);
    assert_eq!((first.records, first.report.rejected), (slow.records, slow.report.rejected));
    assert_eq!(first.report.warnings, slow.report.warnings);
    assert!(first.json == slow.json, "fast path and serde_json: different events");
}

/// Target `params`: one `requestParameters`, `responseElements` or `additionalEventData` text -> the
/// parameters reader. Normalization reads every credential-minting, address and role-policy call's
/// parameters, and every S3 call's additional data, with it first, whether or not the record itself went through the fast path, so `decode_container`'s
/// comparison of the fast path with serde_json never sees it differ: here it is compared with
/// serde_json directly, wherever it takes the text.
pub fn params(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err(e) = trailhound::decode::check_params_reader(text) {
        panic!("{e}");
    }
}

/// Target `record_model`: the JSON text of one record -> the lenient raw model -> normalization.
pub fn record_model(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let rec = match serde_json::from_str::<RawRecord<'_>>(text) {
        Ok(r) => r,
        Err(e) => {
            // The model is lenient: a well-formed JSON object must always parse, whatever its types.
            // Known exception, reported and not yet fixed: a key repeated in one object is refused
            // (serde's derive), which in a `Records` array costs the rest of the file.
            let duplicate = e.to_string().starts_with("duplicate field");
            if let (Ok(Value::Object(_)), false) = (serde_json::from_str::<Value>(text), duplicate) {
                panic!("a well-formed JSON object was rejected by the record model: {e}");
            }
            return;
        }
    };
    let key = rec.user_identity.as_ref().map(|u| u.access_key_id.to_string()).unwrap_or_default();
    let keep: trailhound::hashing::KeyedSet<String> = std::iter::once(key).collect();
    let filter = Filter { keep_raw_for: Some(std::sync::Arc::new(keep)), ..Filter::default() };
    let mut batch = Batch::default();
    assert!(matches!(normalize(&rec, &filter, &mut batch), Normalized::Kept));
    let events: Vec<_> = batch.iter().collect();
    assert_eq!(events.len(), 1, "one record, one event");
    let ev = events[0];
    assert_eq!(ev.event_name(), rec.event_name.as_ref());
    assert_eq!(ev.event_source(), rec.event_source.as_ref());
    assert_eq!(ev.event_id(), rec.event_id.as_ref());
    assert_eq!(ev.region(), rec.aws_region.as_ref());
    assert_eq!(ev.source_ip(), rec.source_ip.as_ref());
    assert_eq!(ev.resources().count(), rec.resources.len());
    if let Some(u) = &rec.user_identity {
        assert_eq!(ev.access_key_id(), u.access_key_id.as_ref());
        assert_eq!(ev.principal_arn(), u.arn.as_ref());
    }
    // Kept raw JSON is capped (16 KiB plus the truncation marker) and never carries secret values.
    for f in [Field::RequestParameters, Field::ResponseElements] {
        let raw = ev.get(f);
        assert!(raw.len() <= 16 * 1024 + 32, "{} of {} bytes", f.name(), raw.len());
        if let Ok(v) = serde_json::from_str::<Value>(raw) {
            assert_no_secret(&v);
        }
    }
    for &f in Field::ALL {
        let _ = ev.get(f);
    }
    let json = serde_json::to_string(&ev).expect("an event serializes");
    assert!(serde_json::from_str::<Value>(&json).is_ok());
}

/// Secret-bearing keys in kept request/response JSON hold only the redaction marker.
fn assert_no_secret(v: &Value) {
    const SECRETS: &[&str] =
        &["sessionToken", "secretAccessKey", "password", "SecretString", "SecretBinary", "plaintext"];
    match v {
        Value::Object(m) => {
            for (k, val) in m {
                if SECRETS.contains(&k.as_str()) {
                    assert_eq!(val, "(redacted by trailhound)", "secret field {k} kept");
                } else {
                    assert_no_secret(val);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(assert_no_secret),
        _ => {}
    }
}

/// Target `lookup_events`: the input, split at 0x01 bytes, becomes the `CloudTrailEvent` strings of
/// an `aws cloudtrail lookup-events` document. Each embedded event is parsed on its own, so the whole
/// document must hand on exactly the records its events give one by one: a broken event costs only
/// itself.
pub fn lookup_events(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let parts: Vec<&str> = text.split('\u{1}').take(64).collect();
    let doc = |parts: &[&str]| {
        let events: Vec<Value> = parts
            .iter()
            .enumerate()
            .map(|(i, p)| serde_json::json!({"EventId": i.to_string(), "EventName": "X", "CloudTrailEvent": p}))
            .collect();
        serde_json::to_vec(&serde_json::json!({ "Events": events })).expect("a document serializes")
    };
    let mut dec = Decoder::new();
    let all_bytes = doc(&parts);
    let all = decode_and_normalize(&mut dec, &all_bytes);
    check_report(&all, &all_bytes);
    assert_eq!(all.report.format, "lookup-events");
    let mut one_by_one = 0;
    for p in &parts {
        let bytes = doc(std::slice::from_ref(p));
        let one = decode_and_normalize(&mut dec, &bytes);
        check_report(&one, &bytes);
        one_by_one += one.records;
    }
    assert_eq!(all.records, one_by_one, "each embedded event is read on its own");
}

/// Control bytes in front of the policy text of a `policy_merge` input.
const POLICY_CONTROL: usize = 16;
/// Sessions names drawn by the control bytes (AWS allows `[\w+=,.@-]`, never `:`).
const SESSIONS: &[&str] = &["i-0abc", "", "fn-name", "web@example.com", "a.b-c_d", "x=y,z+w"];
/// Role ids drawn by the control bytes (AWS role ids are `AROA` and upper-case alphanumerics).
const ROLE_IDS: &[&str] = &["AROAEXAMPLEID", "AROAOTHER0001"];

/// Target `policy_merge`: 16 control bytes (which revocations, cutoffs, `enough`), then an existing
/// inline policy document -> [`policy::merge`]. Cutoffs are whole seconds, as `revoke::request` makes
/// them. Invariants: errors only for a document that is not a JSON object with a list/object
/// Statement; statements other than revocations kept as they were, in order; other top-level keys
/// kept; every live request covered; the result is JSON; the size count ignores layout; merging the
/// result again changes nothing.
pub fn policy_merge(data: &[u8]) {
    if data.len() < POLICY_CONTROL {
        return;
    }
    let (c, rest) = data.split_at(POLICY_CONTROL);
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let now = chrono::DateTime::parse_from_rfc3339("2026-11-23T12:00:00Z").expect("constant").to_utc();
    let existing = (c[0] & 0x80 == 0).then_some(text);
    let revs: Vec<Revocation> = (0..usize::from(c[0] % 5))
        .map(|i| {
            let b = &c[2 + 3 * i..5 + 3 * i];
            let scope = if b[0] & 1 == 0 {
                Scope::AllSessions
            } else {
                Scope::Session {
                    role_id: ROLE_IDS[usize::from(b[0] >> 7)].into(),
                    session_name: SESSIONS[usize::from(b[0] >> 1 & 0x3f) % SESSIONS.len()].into(),
                }
            };
            let offset = i64::from(b[1] as i8) * 3600 + i64::from(b[2]);
            Revocation { scope, cutoff: now + chrono::Duration::seconds(offset) }
        })
        .collect();
    let enough = (c[1] != 0).then(|| now + chrono::Duration::seconds(i64::from(c[1] as i8) * 1800));
    let merged = match policy::merge(existing, &revs, now, enough) {
        Ok(m) => m,
        Err(e) => {
            let doc = existing.expect("merging into no policy cannot fail");
            let ok_shape = match serde_json::from_str::<Value>(doc) {
                Ok(Value::Object(o)) => matches!(o.get("Statement"), None | Some(Value::Array(_) | Value::Object(_))),
                _ => false,
            };
            assert!(!ok_shape, "a well-formed policy was refused: {e}");
            return;
        }
    };
    assert_eq!(merged.added.len() + merged.kept.len() + merged.moot.len(), revs.len(), "every request accounted for");
    let before = existing.map(|t| serde_json::from_str::<Value>(t).expect("merge accepted it"));
    let before_statements: Vec<Value> = match before.as_ref().and_then(|b| b.get("Statement")) {
        Some(Value::Array(a)) => a.clone(),
        Some(o @ Value::Object(_)) => vec![o.clone()],
        _ => Vec::new(),
    };
    let foreign = |sts: &[Value]| sts.iter().filter(|s| revocation_of(s).is_none()).cloned().collect::<Vec<_>>();
    let Some(doc) = &merged.document else {
        assert!(foreign(&before_statements).is_empty(), "a document with other statements was dropped");
        assert_eq!(merged.moot.len(), revs.len(), "no document, yet a live revocation was requested");
        return;
    };
    let after: Value = serde_json::from_str(doc).expect("the merged document is JSON");
    let after_statements = after["Statement"].as_array().expect("Statement is a list").clone();
    assert_eq!(foreign(&after_statements), foreign(&before_statements), "other statements kept, in order");
    assert!(after.get("Version").is_some(), "a Version is always present");
    if let Some(Value::Object(b)) = &before {
        for (k, v) in b.iter().filter(|(k, _)| *k != "Statement") {
            assert_eq!(after.get(k), Some(v), "top-level key {k} kept");
        }
    }
    let horizon = now - chrono::Duration::hours(policy::MAX_SESSION_HOURS);
    for rev in revs.iter().filter(|r| r.cutoff >= horizon) {
        let covered = after_statements
            .iter()
            .filter_map(revocation_of)
            .any(|(scope, cutoff)| scope == rev.scope && (cutoff >= rev.cutoff || enough.is_some_and(|e| cutoff >= e)));
        assert!(covered, "requested revocation not in the document: {rev:?}");
    }
    let compact = serde_json::to_string(&after).expect("serializes");
    assert_eq!(policy::iam_size(doc), policy::iam_size(&compact), "size ignores layout");
    assert!(policy::iam_size(doc) <= compact.chars().count());
    let again = policy::merge(Some(doc), &revs, now, enough).expect("the merged document merges again");
    assert!(!again.changed, "merging the same revocations twice changes the document again");
    assert_eq!(again.document.as_deref(), Some(doc.as_str()), "merging twice is idempotent");
}

/// Scope and cutoff of a revocation statement (ours or the console's), read independently of the
/// library's parser: `Deny` of `*` on `*` with `DateLessThan aws:TokenIssueTime`, optionally
/// `StringLike aws:userid` as the only other condition.
fn revocation_of(st: &Value) -> Option<(Scope, chrono::DateTime<chrono::Utc>)> {
    let star = |v: &Value| v == "*" || v.as_array().is_some_and(|a| a.len() == 1 && a[0] == "*");
    if st.get("Effect")? != "Deny" || !star(st.get("Action")?) || !star(st.get("Resource")?) {
        return None;
    }
    let cond = st.get("Condition")?.as_object()?;
    let cutoff = cond.get("DateLessThan")?.get("aws:TokenIssueTime")?.as_str()?;
    let cutoff = chrono::DateTime::parse_from_rfc3339(cutoff).ok()?.to_utc();
    let scope = match (cond.len(), cond.get("StringLike").and_then(|s| s.get("aws:userid")).and_then(Value::as_str)) {
        (1, _) => Scope::AllSessions,
        (2, Some(u)) => {
            let (role_id, session_name) = u.split_once(':')?;
            Scope::Session { role_id: role_id.into(), session_name: session_name.into() }
        }
        _ => return None,
    };
    Some((scope, cutoff))
}
