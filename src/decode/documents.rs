//! The JSON documents of one input, one after another, each read by the shape it starts with: a
//! `Records` object (the fast path first), an array, or JSON Lines and loose objects.

use super::{Ctx, MaybeRecord, SeqSink, TopMap, fast, first_key};
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny};

/// The JSON documents of `text`, one after another: concatenated gzip members (`cat a.json.gz
/// b.json.gz`) and concatenated files hold several, each a `Records` object, an array or JSON Lines.
pub(super) fn parse_documents(text: &str, ctx: &mut Ctx<'_>) {
    let mut at = 0;
    loop {
        let rest = &text[at..];
        let trimmed = rest.trim_start();
        if trimmed.is_empty() {
            return;
        }
        at += rest.len() - trimmed.len();
        let doc = trimmed;
        let mut de = serde_json::Deserializer::from_str(doc);
        let res = match doc.as_bytes()[0] {
            b'[' => {
                ctx.set_format("json-array");
                ctx.containers += 1;
                SeqSink { ctx: &mut *ctx, depth: 1 }.deserialize(&mut de)
            }
            b'{' if matches!(first_key(doc), Some("Records" | "Events")) => {
                let records = first_key(doc) == Some("Records");
                ctx.set_format(if records { "cloudtrail-records" } else { "lookup-events" });
                if records && ctx.fast {
                    match fast::records(doc, &mut |r| ctx.dispatch(r, 1)) {
                        fast::Outcome::Done(end) => {
                            ctx.containers += 1;
                            ctx.claimed = true;
                            at += end;
                            continue;
                        }
                        // serde_json reads the document again, and says what is wrong with it.
                        fast::Outcome::GaveUp(handed) => ctx.replay = handed,
                    }
                }
                let res = de.deserialize_map(TopMap { ctx: &mut *ctx });
                // serde_json takes whatever the fast path took; should it not, nothing is held back.
                ctx.replay = 0;
                res
            }
            b'{' => {
                // JSON Lines or loose objects run to the end, whatever follows.
                stream_objects(doc, ctx);
                return;
            }
            _ => {
                let line = 1 + memchr::memchr_iter(b'\n', &text.as_bytes()[..at]).count();
                ctx.error(format!("data that is not JSON after the last JSON document, from line {line}"));
                return;
            }
        };
        match res {
            // The next document starts where this one's parser stopped.
            Ok(()) => at += de.into_iter::<IgnoredAny>().byte_offset(),
            Err(e) => {
                let base = memchr::memchr_iter(b'\n', &text.as_bytes()[..at]).count();
                ctx.error(format!("JSON error at line {} column {}: {}", base + e.line(), e.column(), e));
                return;
            }
        }
    }
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
                Ok(MaybeRecord(Some(r))) => ctx.dispatch(&r, 1),
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
    ctx.set_format(if values > 1 { "json-lines" } else { "single-event" });
}
