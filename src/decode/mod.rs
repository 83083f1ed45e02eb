//! Decode: bytes of one input -> raw CloudTrail records.
//!
//! The format is sniffed from the content, never from the name: gzip or zip or plain; then
//! `{"Records":[...]}`, `{"Events":[{"CloudTrailEvent":"..."}]}` (`lookup-events`), a bare array,
//! JSON Lines or concatenated objects, a single event, EventBridge and Panther wrappers; and Parquet
//! written by `trailhound export` ([`parquet`]).

mod archive;
mod documents;
mod fast;
pub mod inflate;
pub mod lenient;
pub mod normalize;
pub mod parquet;
mod parquet_pages;
pub mod raw;

use raw::RawRecord;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// Wrappers nest at most this deep (a lookup-events entry inside an array inside a Records object).
const MAX_DEPTH: u8 = 4;

/// How an input ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every byte was read and understood.
    Read,
    /// Records were read, then something failed: the reason says what and where.
    Partial(String),
    /// Nothing usable in what claims to be CloudTrail (a broken container, invalid JSON): the reason says
    /// why. The run is partial.
    Skipped(String),
    /// Not CloudTrail at all (valid JSON without CloudTrail records, text, a digest): listed with the
    /// reason, and the run stays complete.
    Ignored(String),
}

/// Accounting for one input.
#[derive(Clone, Debug)]
pub struct Report {
    /// The shape detected (`cloudtrail-records`, `json-lines`, `json-array`, `single-event`, `lookup-events`,
    /// `zip`...; `.gz` appended when gzipped): counted by format in the summary.
    pub format: &'static str,
    /// Whether it was read in full, in part, skipped or ignored, and why.
    pub outcome: Outcome,
    /// CloudTrail records handed on (before filters and de-duplication).
    pub records: u64,
    /// JSON objects that were not CloudTrail events (counted, never silently dropped).
    pub rejected: u64,
    /// Bytes after decompression (the input's size when not compressed).
    pub bytes_decompressed: u64,
    /// Non-fatal remarks, such as invalid UTF-8 replaced.
    pub warnings: Vec<String>,
}

impl Report {
    /// Adds a problem found outside the parser (the input cut at the cap): a complete read becomes
    /// partial, an ignored one skipped, since the part not read may have held CloudTrail.
    pub fn add_problem(&mut self, why: &str) {
        self.outcome = match std::mem::replace(&mut self.outcome, Outcome::Read) {
            Outcome::Read if self.records > 0 => Outcome::Partial(why.to_owned()),
            Outcome::Read => Outcome::Skipped(why.to_owned()),
            Outcome::Partial(w) => Outcome::Partial(format!("{why}; {w}")),
            Outcome::Skipped(w) | Outcome::Ignored(w) => Outcome::Skipped(format!("{why}; {w}")),
        };
    }
}

/// Per-thread decoder: owns the decompression buffer that is reused from one input to the next.
pub struct Decoder {
    buf: Vec<u8>,
    member: Vec<u8>,
    inflater: inflate::Inflater,
    /// Most decompressed bytes read from one input (`--max-input-size`).
    max_input: u64,
    /// Read `Records` files with [`fast`] first (off only to compare it with serde_json in tests).
    fast: bool,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder {
            buf: Vec::new(),
            member: Vec::new(),
            inflater: inflate::Inflater::default(),
            max_input: inflate::DEFAULT_MAX_INPUT,
            fast: true,
        }
    }
}

struct Ctx<'s> {
    sink: &'s mut dyn FnMut(&RawRecord<'_>),
    records: u64,
    rejected: u64,
    containers: u64,
    /// A `Records` or `Events` list was found: the input claims to be CloudTrail.
    claimed: bool,
    digest: bool,
    errors: Vec<String>,
    error_count: u64,
    format: &'static str,
    fast: bool,
    /// Records the fast path already handed on, which serde_json's second reading of the same
    /// document must not hand on again.
    replay: u64,
}

impl Ctx<'_> {
    /// The format is the first document's.
    fn set_format(&mut self, f: &'static str) {
        if self.format.is_empty() {
            self.format = f;
        }
    }

    fn error(&mut self, msg: String) {
        self.error_count += 1;
        // Keep the first few: a file with a million broken lines must not hold a million messages.
        if self.errors.len() < 5 {
            self.errors.push(msg);
        } else if self.errors.len() == 5 {
            self.errors.push("further errors not shown (see the count)".into());
        }
    }

    fn dispatch(&mut self, rec: &RawRecord<'_>, depth: u8) {
        if !rec.event_name.is_empty() || !rec.event_source.is_empty() {
            if self.replay > 0 {
                self.replay -= 1;
                return;
            }
            self.records += 1;
            (self.sink)(rec);
            return;
        }
        if depth >= MAX_DEPTH {
            self.rejected += 1;
            return;
        }
        let nested = rec.records.or(rec.events);
        if let Some(raw) = nested {
            self.containers += 1;
            self.claimed = true;
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
            Ok(MaybeRecord(Some(r))) => self.dispatch(&r, depth),
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
        while seq.next_element_seed(ElemSeed { ctx: &mut *self.ctx, depth: self.depth })?.is_some() {}
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

/// One element of a record list, dispatched where it is parsed (never copied out of the parser).
struct ElemSeed<'c, 's> {
    ctx: &'c mut Ctx<'s>,
    depth: u8,
}

impl<'de> DeserializeSeed<'de> for ElemSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        let ElemSeed { ctx, depth } = self;
        lenient::object_then(d, |r: Option<RawRecord<'de>>| match r {
            Some(r) => ctx.dispatch(&r, depth),
            None => ctx.rejected += 1,
        })
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
                self.ctx.claimed = true;
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
    /// A decoder with empty buffers and the default size cap.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether `Records` files are read by the fast path first (the default) or by serde_json alone.
    /// Both give the same records and reports; serde_json alone is there to compare them (tests, fuzzing).
    pub fn fast_path(mut self, on: bool) -> Self {
        self.fast = on;
        self
    }

    /// Sets the cap on one input's decompressed size (0 = the default).
    pub fn set_max_input(&mut self, max: u64) {
        self.max_input = inflate::max_input(max);
    }

    /// Decodes one input. `sink` gets every CloudTrail record, in input order.
    pub fn decode(&mut self, bytes: &[u8], sink: &mut dyn FnMut(&RawRecord<'_>)) -> Report {
        if parquet::sniff(bytes) {
            return parquet::decode(bytes, self.max_input, sink);
        }
        if bytes.starts_with(b"PK\x03\x04") {
            let report = self.decode_zip(bytes, sink);
            if self.member.capacity() > 256 << 20 {
                self.member = Vec::new();
            }
            if self.buf.capacity() > 256 << 20 {
                self.buf = Vec::new();
            }
            return report;
        }
        let mut buf = std::mem::take(&mut self.buf);
        let report = decode_container(bytes, &mut buf, &mut self.inflater, self.max_input, false, self.fast, sink);
        self.buf = buf;
        // Keep the buffer's capacity for the next input, unless a huge input inflated it.
        if self.buf.capacity() > 256 << 20 {
            self.buf = Vec::new();
        }
        report
    }
}

/// Compression formats trailhound does not read: such a file claims to hold something, so it is
/// skipped (the run is partial), never ignored.
fn foreign_compression(bytes: &[u8]) -> Option<&'static str> {
    [(&b"BZh"[..], "bzip2"), (b"\xfd7zXZ\x00", "xz"), (b"\x28\xb5\x2f\xfd", "zstd"), (b"7z\xbc\xaf\x27\x1c", "7-Zip")]
        .into_iter()
        .find_map(|(magic, name)| bytes.starts_with(magic).then_some(name))
}

/// Gzip or plain bytes -> records. `cap` bounds the decompressed size. `in_zip`: the bytes are a zip
/// member, which, like gzip content, was packed on purpose: binary or text there is skipped, not ignored.
fn decode_container(
    bytes: &[u8],
    buf: &mut Vec<u8>,
    inflater: &mut inflate::Inflater,
    cap: u64,
    in_zip: bool,
    fast: bool,
    sink: &mut dyn FnMut(&RawRecord<'_>),
) -> Report {
    let mut warnings = Vec::new();
    // Problems of the container itself: the input claims more than was read.
    let mut broken: Vec<String> = Vec::new();
    let mut binary = false;
    // Held until the content is parsed, when the buffer is large (see inflate::SOLO).
    let mut _solo = None;
    let gz = bytes.starts_with(&[0x1f, 0x8b]);
    let packed = gz || in_zip;
    let content: &[u8] = if gz {
        match inflate::inflate_fast(bytes, buf, inflater, cap) {
            Some(n) => &buf[..n],
            None => {
                let inf = inflate::inflate_stream(bytes, buf, cap, looks_binary);
                broken.extend(inf.broken);
                binary = inf.binary;
                _solo = inf.solo;
                if inf.over_cap {
                    broken.push(format!(
                        "decompressed content exceeds the --max-input-size cap of {}: only that much was read",
                        inflate::human_size(cap)
                    ));
                    // Whole lines only: the line cut at the cap is not one more error.
                    let keep = memchr::memrchr(b'\n', buf).map_or(buf.len(), |p| p + 1);
                    buf.truncate(keep);
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
    let ignore = |mut r: Report, why: String| {
        r.outcome = Outcome::Ignored(why);
        r
    };
    if !gz {
        if let Some(what) = foreign_compression(content) {
            return skip(report, format!("{what}-compressed, which trailhound does not read: decompress it first"));
        }
    }
    if content.iter().all(u8::is_ascii_whitespace) {
        // An empty file where logs lie is more likely a failed copy than a stray note: it stays skipped.
        return match broken.is_empty() {
            false => skip(report, broken.join("; ")),
            true => skip(report, if gz { "empty gzip content".into() } else { "empty file".into() }),
        };
    }
    if binary || looks_binary(content) {
        return match (gz, in_zip) {
            (true, _) => skip(report, "gzip content is binary data, not JSON".into()),
            (false, true) => skip(report, "binary data, not JSON".into()),
            (false, false) => ignore(report, "not CloudTrail: binary data, not JSON".into()),
        };
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
    if first != b'{' && first != b'[' {
        let what = if first == b'<' { "HTML/XML, not JSON" } else { "text, not JSON" };
        // Text in a gzip or zip was packed on purpose, next to the logs: it stays skipped.
        let mut r = if packed {
            let mut why: Vec<String> = broken;
            why.push(format!("{} is {what}", if gz { "gzip content" } else { "content" }));
            skip(report, why.join("; "))
        } else {
            ignore(report, format!("not CloudTrail: {what}"))
        };
        r.warnings = warnings;
        return r;
    }
    let mut ctx = Ctx {
        sink,
        records: 0,
        rejected: 0,
        containers: 0,
        claimed: false,
        digest: false,
        errors: Vec::new(),
        error_count: 0,
        format: "",
        fast,
        replay: 0,
    };
    documents::parse_documents(text, &mut ctx);

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
    // Whatever the content, a container that broke or was cut may have held more: never ignored.
    let sound = broken.is_empty() && ctx.error_count == 0;
    let mut problems = broken;
    problems.append(&mut ctx.errors);
    if ctx.error_count > 5 {
        problems.push(format!("{} JSON errors in all", ctx.error_count));
    }
    if ctx.rejected > 0 {
        problems.push(format!("{} JSON objects are not CloudTrail events", ctx.rejected));
    }
    report.outcome = if ctx.records == 0 && ctx.digest && sound {
        Outcome::Ignored("CloudTrail digest file (lists log files, holds no events)".into())
    } else if ctx.records == 0 && sound && !ctx.claimed && (ctx.containers == 0 || ctx.rejected > 0) {
        // Objects, or arrays of objects, none of them CloudTrail (an empty array stays a read file).
        Outcome::Ignored("not CloudTrail: valid JSON, but no CloudTrail events in it".into())
    } else if ctx.records == 0 && ctx.containers == 0 {
        Outcome::Skipped(format!("JSON, but no CloudTrail events in it: {}", problems.join("; ")))
    } else if ctx.records == 0 && !problems.is_empty() {
        Outcome::Skipped(problems.join("; "))
    } else if !problems.is_empty() {
        Outcome::Partial(problems.join("; "))
    } else {
        Outcome::Read
    };
    report
}

/// The contract of the reader of `requestParameters`, `responseElements` and S3's
/// `additionalEventData` (normalization reads them with it first, whatever [`Decoder::fast_path`]
/// says), checked on one text: wherever it takes the text, it reads the fields serde_json reads.
/// `Ok(true)` when it took the text all three ways, `Err` with both readings where they differ. For the `params` fuzz target
/// (tests/fuzz) and its replay under `cargo test`; nothing else calls it.
#[doc(hidden)]
pub fn check_params_reader(raw: &str) -> Result<bool, String> {
    fast::params::agrees_with_serde(raw)
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
