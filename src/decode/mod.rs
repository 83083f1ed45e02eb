//! Decode: bytes of one input -> raw CloudTrail records.
//!
//! The format is sniffed from the content, never from the name: gzip or zip or plain; then
//! `{"Records":[...]}`, `{"Events":[{"CloudTrailEvent":"..."}]}` (`lookup-events`), a bare array,
//! JSON Lines or concatenated objects, a single event, EventBridge and Panther wrappers.

pub mod lenient;
pub mod normalize;
pub mod raw;

use raw::RawRecord;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;
use std::io::Read;

/// Wrappers nest at most this deep (a lookup-events entry inside an array inside a Records object).
const MAX_DEPTH: u8 = 4;

/// How an input ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every byte was read and understood.
    Read,
    /// Records were read, then something failed: the reason says what and where.
    Partial(String),
    /// Nothing usable: the reason says why.
    Skipped(String),
}

/// Accounting for one input.
#[derive(Clone, Debug)]
pub struct Report {
    pub format: &'static str,
    pub outcome: Outcome,
    /// CloudTrail records handed on (before filters and de-duplication).
    pub records: u64,
    /// JSON objects that were not CloudTrail events (counted, never silently dropped).
    pub rejected: u64,
    pub bytes_decompressed: u64,
    /// Non-fatal remarks, such as invalid UTF-8 replaced.
    pub warnings: Vec<String>,
}

/// Per-thread decoder: owns the decompression buffer that is reused from one input to the next.
pub struct Decoder {
    buf: Vec<u8>,
    member: Vec<u8>,
    inflater: libdeflater::Decompressor,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder { buf: Vec::new(), member: Vec::new(), inflater: libdeflater::Decompressor::new() }
    }
}

struct Ctx<'s> {
    sink: &'s mut dyn FnMut(&RawRecord<'_>),
    records: u64,
    rejected: u64,
    containers: u64,
    digest: bool,
    errors: Vec<String>,
    error_count: u64,
    format: &'static str,
}

impl Ctx<'_> {
    fn error(&mut self, msg: String) {
        self.error_count += 1;
        // Keep the first few: a file with a million broken lines must not hold a million messages.
        if self.errors.len() < 5 {
            self.errors.push(msg);
        } else if self.errors.len() == 5 {
            self.errors.push("further errors not shown (see the count)".into());
        }
    }

    fn dispatch(&mut self, rec: RawRecord<'_>, depth: u8) {
        if !rec.event_name.is_empty() || !rec.event_source.is_empty() {
            self.records += 1;
            (self.sink)(&rec);
            return;
        }
        if depth >= MAX_DEPTH {
            self.rejected += 1;
            return;
        }
        let nested = rec.records.or(rec.events);
        if let Some(raw) = nested {
            self.containers += 1;
            let mut de = serde_json::Deserializer::from_str(raw.get());
            if let Err(e) = de.deserialize_any(SeqSink { ctx: self, depth: depth + 1 }) {
                self.error(format!("in a nested record list: {e}"));
            }
        } else if let Some(raw) = rec.cloudtrail_event {
            // lookup-events carries each event as a JSON string holding JSON.
            match serde_json::from_str::<Cow<'_, str>>(raw.get()) {
                Ok(inner) => self.parse_one(&inner, depth + 1),
                Err(e) => self.error(format!("CloudTrailEvent is not a JSON string: {e}")),
            }
        } else if let Some(raw) = rec.detail.or(rec.log) {
            self.parse_one(raw.get(), depth + 1);
        } else if !rec.digest_start_time.is_empty() {
            self.digest = true;
        } else {
            self.rejected += 1;
        }
    }

    fn parse_one(&mut self, text: &str, depth: u8) {
        match serde_json::from_str::<MaybeRecord<'_>>(text) {
            Ok(MaybeRecord(Some(r))) => self.dispatch(r, depth),
            Ok(MaybeRecord(None)) => self.rejected += 1,
            Err(e) => self.error(format!("embedded event: {e}")),
        }
    }
}

/// A record, or `None` for an element that is not a JSON object.
struct MaybeRecord<'a>(Option<RawRecord<'a>>);

impl<'de> de::Deserialize<'de> for MaybeRecord<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        lenient::object(d).map(MaybeRecord)
    }
}

/// Streams the elements of a JSON array into the context without collecting them.
struct SeqSink<'c, 's> {
    ctx: &'c mut Ctx<'s>,
    depth: u8,
}

impl<'de> DeserializeSeed<'de> for SeqSink<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for SeqSink<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of CloudTrail records")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(MaybeRecord(r)) = seq.next_element::<MaybeRecord<'de>>()? {
            match r {
                Some(r) => self.ctx.dispatch(r, self.depth),
                None => self.ctx.rejected += 1,
            }
        }
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

/// `{"Records": [...]}` or `{"Events": [...]}` streamed element by element; other keys skipped.
struct TopMap<'c, 's> {
    ctx: &'c mut Ctx<'s>,
}

impl<'de> Visitor<'de> for TopMap<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a CloudTrail log object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        while let Some(key) = m.next_key::<Cow<'de, str>>()? {
            if key == "Records" || key == "Events" {
                self.ctx.containers += 1;
                m.next_value_seed(SeqSink { ctx: self.ctx, depth: 1 })?;
            } else {
                m.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// The first key of the object that starts `text` (which starts with `{`), when it is a plain string.
fn first_key(text: &str) -> Option<&str> {
    let rest = text[1..].trim_start();
    let rest = rest.strip_prefix('"')?;
    let end = rest.find('"')?;
    Some(&rest[..end])
}

fn looks_binary(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(4096)];
    let odd = head.iter().filter(|&&c| c == 0 || (c < 0x20 && !matches!(c, b'\n' | b'\r' | b'\t'))).count();
    odd * 50 > head.len().max(1)
}

impl Decoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes one input. `sink` gets every CloudTrail record, in input order.
    pub fn decode(&mut self, bytes: &[u8], sink: &mut dyn FnMut(&RawRecord<'_>)) -> Report {
        if bytes.starts_with(b"PK\x03\x04") {
            return self.decode_zip(bytes, sink);
        }
        let mut buf = std::mem::take(&mut self.buf);
        let report = decode_container(bytes, &mut buf, &mut self.inflater, sink);
        self.buf = buf;
        // Keep the buffer's capacity for the next input, unless a huge input inflated it.
        if self.buf.capacity() > 256 << 20 {
            self.buf = Vec::new();
        }
        report
    }

    fn decode_zip(&mut self, bytes: &[u8], sink: &mut dyn FnMut(&RawRecord<'_>)) -> Report {
        let mut total = Report {
            format: "zip",
            outcome: Outcome::Read,
            records: 0,
            rejected: 0,
            bytes_decompressed: 0,
            warnings: Vec::new(),
        };
        let mut archive = match zip::ZipArchive::new(std::io::Cursor::new(bytes)) {
            Ok(a) => a,
            Err(e) => {
                total.outcome = Outcome::Skipped(format!("unreadable zip archive: {e}"));
                return total;
            }
        };
        let mut problems = Vec::new();
        let mut members = 0;
        for i in 0..archive.len() {
            let mut entry = match archive.by_index(i) {
                Ok(e) => e,
                Err(e) => {
                    problems.push(format!("zip member #{i}: {e}"));
                    continue;
                }
            };
            if entry.is_dir() {
                continue;
            }
            let name = entry.name().map(|n| n.into_owned()).unwrap_or_else(|_| format!("#{i}"));
            self.member.clear();
            if let Err(e) = entry.read_to_end(&mut self.member) {
                problems.push(format!("zip member {name}: {e}"));
                continue;
            }
            drop(entry);
            members += 1;
            let member = std::mem::take(&mut self.member);
            let mut buf = std::mem::take(&mut self.buf);
            let r = decode_container(&member, &mut buf, &mut self.inflater, sink);
            self.buf = buf;
            self.member = member;
            total.records += r.records;
            total.rejected += r.rejected;
            total.bytes_decompressed += r.bytes_decompressed;
            total.warnings.extend(r.warnings.into_iter().map(|w| format!("{name}: {w}")));
            match r.outcome {
                Outcome::Read => {}
                Outcome::Partial(why) | Outcome::Skipped(why) => problems.push(format!("zip member {name}: {why}")),
            }
        }
        total.outcome = if total.records == 0 && !problems.is_empty() {
            Outcome::Skipped(problems.join("; "))
        } else if total.records == 0 && members == 0 {
            Outcome::Skipped("empty zip archive".into())
        } else if !problems.is_empty() {
            Outcome::Partial(problems.join("; "))
        } else {
            Outcome::Read
        };
        total
    }
}

/// Largest output the one-shot inflater sizes a buffer for; larger members stream through flate2.
const ONE_SHOT_MAX: usize = 1 << 30;

/// Inflates a single-member gzip file in one call, sized by its trailer (libdeflate is about twice as
/// fast as streaming zlib). `None` when the input is not that simple (several members, truncated,
/// corrupt, huge): the caller then streams it through flate2, which handles every case and keeps
/// what precedes an error.
fn inflate_fast(bytes: &[u8], buf: &mut Vec<u8>, inflater: &mut libdeflater::Decompressor) -> Option<usize> {
    let trailer = bytes.len().checked_sub(8).map(|at| &bytes[at..])?;
    let crc = u32::from_le_bytes(trailer[0..4].try_into().ok()?);
    let isize = u32::from_le_bytes(trailer[4..8].try_into().ok()?) as usize;
    if isize > ONE_SHOT_MAX {
        return None;
    }
    if buf.len() < isize {
        buf.resize(isize, 0);
    }
    let n = inflater.gzip_decompress(bytes, &mut buf[..isize]).ok()?;
    // libdeflate stops after the first member. The file's trailer belongs to its last member, so a
    // match of both size and checksum means the first member was the whole file.
    (n == isize && libdeflater::crc32(&buf[..n]) == crc).then_some(n)
}

/// Gzip or plain bytes -> records.
fn decode_container(
    bytes: &[u8],
    buf: &mut Vec<u8>,
    inflater: &mut libdeflater::Decompressor,
    sink: &mut dyn FnMut(&RawRecord<'_>),
) -> Report {
    let mut warnings = Vec::new();
    let mut truncated = None;
    let gz = bytes.starts_with(&[0x1f, 0x8b]);
    let content: &[u8] = if gz {
        match inflate_fast(bytes, buf, inflater) {
            Some(n) => &buf[..n],
            None => {
                buf.clear();
                if let Err(e) = flate2::read::MultiGzDecoder::new(bytes).read_to_end(buf) {
                    // read_to_end keeps what it inflated before the error: parse that much.
                    truncated = Some(format!("gzip stream broken after {} bytes: {e}", buf.len()));
                }
                buf
            }
        }
    } else {
        bytes
    };
    let mut report = Report {
        format: if gz { "gzip" } else { "plain" },
        outcome: Outcome::Read,
        records: 0,
        rejected: 0,
        bytes_decompressed: content.len() as u64,
        warnings: Vec::new(),
    };
    let skip = |mut r: Report, why: String| {
        r.outcome = Outcome::Skipped(why);
        r
    };
    if content.iter().all(u8::is_ascii_whitespace) {
        return match truncated {
            Some(t) => skip(report, t),
            None => skip(report, if gz { "empty gzip content".into() } else { "empty file".into() }),
        };
    }
    if looks_binary(content) {
        let what = if gz { "gzip content is binary data, not JSON" } else { "binary data, not JSON" };
        return skip(report, what.into());
    }
    let lossy;
    let text: &str = match simdutf8::basic::from_utf8(content) {
        Ok(t) => t,
        Err(_) => {
            let bad = std::str::from_utf8(content).err().map_or(0, |e| e.valid_up_to());
            warnings.push(format!("invalid UTF-8 at byte {bad} replaced with U+FFFD"));
            lossy = String::from_utf8_lossy(content);
            &lossy
        }
    };
    let text = text.trim_start_matches('\u{feff}').trim_start();
    let Some(&first) = text.as_bytes().first() else {
        // Only a byte-order mark or Unicode spaces.
        return skip(report, "empty file (only white space)".into());
    };
    let mut ctx = Ctx {
        sink,
        records: 0,
        rejected: 0,
        containers: 0,
        digest: false,
        errors: Vec::new(),
        error_count: 0,
        format: "",
    };
    match first {
        b'[' => {
            ctx.format = "json-array";
            ctx.containers += 1;
            let mut de = serde_json::Deserializer::from_str(text);
            let res = SeqSink { ctx: &mut ctx, depth: 1 }.deserialize(&mut de).and_then(|()| de.end());
            if let Err(e) = res {
                ctx.error(format!("JSON error at line {} column {}: {}", e.line(), e.column(), e));
            }
        }
        b'{' if matches!(first_key(text), Some("Records" | "Events")) => {
            ctx.format = if first_key(text) == Some("Records") { "cloudtrail-records" } else { "lookup-events" };
            let mut de = serde_json::Deserializer::from_str(text);
            let res = de.deserialize_map(TopMap { ctx: &mut ctx }).and_then(|()| de.end());
            if let Err(e) = res {
                ctx.error(format!("JSON error at line {} column {}: {}", e.line(), e.column(), e));
            }
        }
        b'{' => stream_objects(text, &mut ctx),
        c => {
            let what = if c == b'<' { "HTML/XML, not JSON" } else { "text, not JSON" };
            let mut r = skip(report, format!("not CloudTrail: {what}"));
            r.warnings = warnings;
            return r;
        }
    }

    report.format = match (gz, ctx.format) {
        (true, "cloudtrail-records") => "cloudtrail-records.gz",
        (true, "json-lines") => "json-lines.gz",
        (true, "json-array") => "json-array.gz",
        (true, "single-event") => "single-event.gz",
        (true, "lookup-events") => "lookup-events.gz",
        (_, f) => f,
    };
    report.records = ctx.records;
    report.rejected = ctx.rejected;
    report.warnings = warnings;
    let mut problems: Vec<String> = truncated.into_iter().collect();
    problems.append(&mut ctx.errors);
    if ctx.error_count > 5 {
        problems.push(format!("{} JSON errors in all", ctx.error_count));
    }
    if ctx.rejected > 0 {
        problems.push(format!("{} JSON objects are not CloudTrail events", ctx.rejected));
    }
    report.outcome = if ctx.records == 0 && ctx.digest {
        Outcome::Skipped("CloudTrail digest file (lists log files, holds no events)".into())
    } else if ctx.records == 0 && ctx.containers == 0 {
        let mut why = String::from("JSON, but no CloudTrail events in it");
        if !problems.is_empty() {
            why = format!("{why}: {}", problems.join("; "));
        }
        Outcome::Skipped(why)
    } else if ctx.records == 0 && !problems.is_empty() {
        Outcome::Skipped(problems.join("; "))
    } else if !problems.is_empty() {
        Outcome::Partial(problems.join("; "))
    } else {
        Outcome::Read
    };
    report
}

/// JSON Lines, concatenated objects or one object. A broken line costs that line only: parsing resumes
/// at the next line that starts an object.
fn stream_objects(text: &str, ctx: &mut Ctx<'_>) {
    let mut start = 0usize;
    let mut values = 0u64;
    while start < text.len() {
        let slice = &text[start..];
        let mut stream = serde_json::Deserializer::from_str(slice).into_iter::<MaybeRecord<'_>>();
        let mut failed = None;
        for item in stream.by_ref() {
            match item {
                Ok(MaybeRecord(Some(r))) => ctx.dispatch(r, 1),
                Ok(MaybeRecord(None)) => ctx.rejected += 1,
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
            values += 1;
        }
        let Some(e) = failed else { break };
        let failed_at = start + stream.byte_offset();
        if ctx.errors.len() < 5 {
            // Line numbers cost a pass over the text: only for the few errors that are shown.
            let line_base = memchr::memchr_iter(b'\n', &text.as_bytes()[..start]).count();
            let value_line = 1
                + memchr::memchr_iter(b'\n', &text.as_bytes()[..failed_at]).count()
                + usize::from(text[failed_at..].starts_with('\n'));
            ctx.error(format!(
                "broken JSON value from line {value_line} (parser stopped at line {}: {e})",
                line_base + e.line()
            ));
        } else {
            ctx.error(String::new());
        }
        // Resume at the first line after the start of the broken value that starts a new object: a
        // value cut in half swallows the next line when the parser looks for its end.
        let mut next =
            failed_at + memchr::memchr(b'\n', &text.as_bytes()[failed_at..]).map_or(text.len() - failed_at, |p| p + 1);
        while next < text.len() {
            let line = &text[next..];
            if line.trim_start_matches([' ', '\t']).starts_with('{') {
                break;
            }
            next += memchr::memchr(b'\n', line.as_bytes()).map_or(line.len(), |p| p + 1);
        }
        start = next;
    }
    ctx.format = if values > 1 { "json-lines" } else { "single-event" };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(bytes: &[u8]) -> (Outcome, u64) {
        let mut n = 0;
        let r = Decoder::new().decode(bytes, &mut |_| n += 1);
        (r.outcome, n)
    }

    #[test]
    fn white_space_only_inputs_are_skipped_not_fatal() {
        for input in ["\u{feff}".as_bytes(), "\u{a0}\u{2003}\n".as_bytes(), b"\n\t "] {
            assert!(matches!(outcome(input).0, Outcome::Skipped(_)), "{input:?}");
        }
    }

    #[test]
    fn every_line_broken_is_counted_and_stays_linear() {
        let line = "{\"eventName\":\"X\",\"eventSource\":\"s\"},\n";
        let text = line.repeat(20_000);
        let (o, n) = outcome(text.as_bytes());
        assert_eq!(n, 20_000);
        match o {
            Outcome::Partial(why) => assert!(why.contains("JSON errors in all"), "{why}"),
            other => panic!("{other:?}"),
        }
    }
}
