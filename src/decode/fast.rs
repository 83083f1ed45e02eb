//! The fast path for the shape that is nearly every byte scanned: a CloudTrail log file,
//! `{"Records":[{...},{...}]}`, whose records hold plain strings.
//!
//! serde_json spends most of a scan on generic machinery: a visitor per value, a second look at every
//! key, the lenient deserializers' dispatch. This reader knows the record's fields and reads them
//! straight from the text. It accepts strictly less than serde_json does: at anything it does not
//! take (a key with an escape, a number where text belongs, a wrapper, a duplicate field, a syntax
//! error) it gives up, and the caller reads the document again with serde_json, whose records and
//! error messages then count, unchanged. So for the records it does take, it must build exactly what
//! serde_json builds; `tests` checks this on every committed corpus and on mutated records.
//!
//! Values the pipeline never reads (`tlsDetails`, `additionalEventData`, `requestParameters`...) are
//! skipped, but checked as strictly as serde_json checks them (strings without control characters
//! and with valid escapes, the number grammar, literals), so that what it takes is valid JSON.

use super::raw::{RawAttributes, RawIdentity, RawIssuer, RawRecord, RawResource, RawSessionContext};
use std::borrow::Cow;

/// Deeper nesting than this in a skipped value is left to serde_json (whose own limit is 128).
const MAX_DEPTH: u32 = 100;

/// A cursor over one document's text. Every method returns `None` to mean "not taken here".
struct Cur<'a> {
    text: &'a str,
    b: &'a [u8],
    i: usize,
}

type Text<'a> = Cow<'a, str>;

impl<'a> Cur<'a> {
    #[inline]
    fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            if !matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
                break;
            }
            self.i += 1;
        }
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline]
    fn eat(&mut self, c: u8) -> Option<()> {
        self.ws();
        (self.peek()? == c).then(|| self.i += 1)
    }

    /// The end of the string whose opening quote is just before `self.i`: the index of its closing
    /// quote, and whether it holds escapes. Control characters and bad escapes are not taken.
    #[inline]
    fn string_end(&mut self) -> Option<(usize, bool)> {
        let mut escaped = false;
        loop {
            let at = self.i + special(&self.b[self.i..])?;
            match self.b[at] {
                b'"' => {
                    self.i = at + 1;
                    return Some((at, escaped));
                }
                b'\\' => {
                    escaped = true;
                    self.i = at + 2;
                    match *self.b.get(at + 1)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                        b'u' => {
                            let hex = self.b.get(at + 2..at + 6)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return None;
                            }
                            self.i = at + 6;
                        }
                        _ => return None,
                    }
                }
                // A control character: serde_json refuses it inside a string.
                _ => return None,
            }
        }
    }

    /// A key: a string without escapes, then `:`.
    #[inline]
    fn key(&mut self) -> Option<&'a str> {
        self.ws();
        if self.peek()? != b'"' {
            return None;
        }
        self.i += 1;
        let start = self.i;
        let (end, escaped) = self.string_end()?;
        if escaped {
            return None;
        }
        self.eat(b':')?;
        self.ws();
        Some(&self.text[start..end])
    }

    /// A text field read like `lenient::text`: a string, `null` (empty) or a boolean (its name).
    fn text(&mut self) -> Option<Text<'a>> {
        match self.peek()? {
            b'"' => {
                let start = self.i;
                self.i += 1;
                let (end, escaped) = self.string_end()?;
                if escaped {
                    // Rare in the fields read: serde_json decodes it, so the text is the same.
                    return serde_json::from_str::<String>(&self.text[start..=end]).ok().map(Cow::Owned);
                }
                Some(Cow::Borrowed(&self.text[start + 1..end]))
            }
            b'n' => self.literal("null").map(|_| Cow::Borrowed("")),
            b't' => self.literal("true").map(|_| Cow::Borrowed("true")),
            b'f' => self.literal("false").map(|_| Cow::Borrowed("false")),
            _ => None,
        }
    }

    fn literal(&mut self, word: &str) -> Option<()> {
        let end = self.i + word.len();
        (self.b.get(self.i..end)? == word.as_bytes()).then(|| self.i = end)
    }

    /// True when the value here is `null` (and consumes it).
    fn null(&mut self) -> Option<bool> {
        if self.peek()? == b'n' {
            self.literal("null")?;
            return Some(true);
        }
        Some(false)
    }

    /// After a member's value: `true` when another member follows, `false` at the closing brace.
    #[inline]
    fn next_member(&mut self) -> Option<bool> {
        self.ws();
        let c = self.peek()?;
        self.i += 1;
        match c {
            b',' => Some(true),
            b'}' => Some(false),
            _ => None,
        }
    }

    /// Reads an object's members, handing each key to `f` with the cursor on its value; `f` reads
    /// the value. The cursor starts on `{`.
    fn members(&mut self, mut f: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        if self.peek()? != b'{' {
            return None;
        }
        self.i += 1;
        self.ws();
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(());
        }
        loop {
            let key = self.key()?;
            f(self, key)?;
            if !self.next_member()? {
                return Some(());
            }
        }
    }

    /// Skips any value, checking it as serde_json would; returns the value's text.
    fn skip(&mut self) -> Option<&'a str> {
        let start = self.i;
        let mut depth = 0u32;
        // Bit d - 1 is set when the container open at depth d is an object.
        let mut objects: u128 = 0;
        loop {
            // One value, where the cursor is.
            match self.peek()? {
                b'"' => {
                    self.i += 1;
                    self.string_end()?;
                }
                open @ (b'{' | b'[') => {
                    self.i += 1;
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return None;
                    }
                    let object = open == b'{';
                    let bit = 1u128 << (depth - 1);
                    objects = if object { objects | bit } else { objects & !bit };
                    self.ws();
                    if self.peek()? == if object { b'}' } else { b']' } {
                        self.i += 1;
                        depth -= 1;
                    } else {
                        if object {
                            self.key()?;
                        }
                        continue;
                    }
                }
                b't' => self.literal("true")?,
                b'f' => self.literal("false")?,
                b'n' => self.literal("null")?,
                b'-' | b'0'..=b'9' => self.number()?,
                _ => return None,
            }
            // After a value: close what ends here, or go on to the next element or member.
            loop {
                if depth == 0 {
                    return Some(&self.text[start..self.i]);
                }
                self.ws();
                let object = objects >> (depth - 1) & 1 == 1;
                match self.peek()? {
                    b',' => {
                        self.i += 1;
                        self.ws();
                        if object {
                            self.key()?;
                        }
                        break;
                    }
                    b'}' if object => {
                        self.i += 1;
                        depth -= 1;
                    }
                    b']' if !object => {
                        self.i += 1;
                        depth -= 1;
                    }
                    _ => return None,
                }
            }
        }
    }

    /// A number, by JSON's grammar (serde_json's, which refuses `01`, `1.` and `.5`).
    fn number(&mut self) -> Option<()> {
        let digits = |c: &mut Self| {
            let s = c.i;
            while c.peek().is_some_and(|d| d.is_ascii_digit()) {
                c.i += 1;
            }
            c.i > s
        };
        if self.peek()? == b'-' {
            self.i += 1;
        }
        match self.peek()? {
            b'0' => {
                self.i += 1;
                if self.peek().is_some_and(|d| d.is_ascii_digit()) {
                    return None;
                }
            }
            b'1'..=b'9' => {
                digits(self);
            }
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if !digits(self) {
                return None;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if !digits(self) {
                return None;
            }
        }
        Some(())
    }
}

/// Offset of the first `"`, `\\` or control character in `b`: where a string ends or needs a closer look.
/// Nearly all the time of this reader goes here, so it looks at sixteen bytes at a time.
#[inline]
fn special(b: &[u8]) -> Option<usize> {
    let mut at = 0;
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_max_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
        };
        while at + 16 <= b.len() {
            // SAFETY: the sixteen bytes read, at..at + 16, are inside `b` (checked just above), and an
            // unaligned load has no other requirement. SSE2 is part of every x86_64 processor.
            let hits = unsafe {
                let v = _mm_loadu_si128(b.as_ptr().add(at).cast::<__m128i>());
                let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
                let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
                // A byte is at most 0x1f exactly when the larger of it and 0x1f is 0x1f.
                let control = _mm_cmpeq_epi8(_mm_max_epu8(v, _mm_set1_epi8(0x1f)), _mm_set1_epi8(0x1f));
                _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control))
            };
            if hits != 0 {
                return Some(at + hits.trailing_zeros() as usize);
            }
            at += 16;
        }
    }
    b[at..].iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20).map(|p| at + p)
}

/// Marks a field read once: serde's derived readers refuse a field written twice, so this path
/// must not take such an object.
#[inline]
fn first(seen: &mut u32, bit: u32) -> Option<()> {
    let m = 1u32 << bit;
    (*seen & m == 0).then(|| *seen |= m)
}

/// Fills `r` (which starts empty) from the record object at the cursor. Built in place: a record is
/// about a kilobyte, and returning it by value copies it.
fn record<'a>(c: &mut Cur<'a>, r: &mut RawRecord<'a>) -> Option<()> {
    let mut seen = 0u32;
    c.members(|c, key| {
        match key {
            "eventTime" => {
                first(&mut seen, 0)?;
                r.event_time = c.text()?;
            }
            "@timestamp" => {
                first(&mut seen, 1)?;
                r.at_timestamp = c.text()?;
            }
            "eventID" => {
                first(&mut seen, 2)?;
                r.event_id = c.text()?;
            }
            "eventSource" => {
                first(&mut seen, 3)?;
                r.event_source = c.text()?;
            }
            "eventName" => {
                first(&mut seen, 4)?;
                r.event_name = c.text()?;
            }
            "eventType" => {
                first(&mut seen, 5)?;
                r.event_type = c.text()?;
            }
            "awsRegion" => {
                first(&mut seen, 6)?;
                r.aws_region = c.text()?;
            }
            "recipientAccountId" => {
                first(&mut seen, 7)?;
                r.recipient_account_id = c.text()?;
            }
            "errorCode" => {
                first(&mut seen, 8)?;
                r.error_code = c.text()?;
            }
            "readOnly" => {
                first(&mut seen, 9)?;
                r.read_only = match c.text()?.as_ref() {
                    "true" | "True" | "TRUE" | "1" => Some(true),
                    "false" | "False" | "FALSE" | "0" => Some(false),
                    _ => None,
                };
            }
            "sourceIPAddress" => {
                first(&mut seen, 10)?;
                r.source_ip = c.text()?;
            }
            "userAgent" => {
                first(&mut seen, 11)?;
                r.user_agent = c.text()?;
            }
            "vpcEndpointId" => {
                first(&mut seen, 12)?;
                r.vpc_endpoint_id = c.text()?;
            }
            "vpcEndpointAccountId" => {
                first(&mut seen, 13)?;
                r.vpc_endpoint_account_id = c.text()?;
            }
            "userIdentity" => {
                first(&mut seen, 14)?;
                if !c.null()? {
                    identity(c, r.user_identity.insert(RawIdentity::default()))?;
                }
            }
            "resources" => {
                first(&mut seen, 15)?;
                r.resources = if c.null()? { Vec::new() } else { resources(c)? };
            }
            "requestParameters" => {
                first(&mut seen, 16)?;
                r.request_parameters = if c.null()? { None } else { Some(c.skip()?) };
            }
            "responseElements" => {
                first(&mut seen, 17)?;
                r.response_elements = if c.null()? { None } else { Some(c.skip()?) };
            }
            // Wrappers and digests are the general reader's.
            "Records" | "Events" | "CloudTrailEvent" | "detail" | "log" | "digestStartTime" => return None,
            _ => {
                c.skip()?;
            }
        }
        Some(())
    })?;
    // Something without an event name or source is a wrapper or not CloudTrail: the general reader's.
    (!r.event_name.is_empty() || !r.event_source.is_empty()).then_some(())
}

fn identity<'a>(c: &mut Cur<'a>, u: &mut RawIdentity<'a>) -> Option<()> {
    let mut seen = 0u32;
    c.members(|c, key| {
        match key {
            "type" => {
                first(&mut seen, 0)?;
                u.kind = c.text()?;
            }
            "principalId" => {
                first(&mut seen, 1)?;
                u.principal_id = c.text()?;
            }
            "arn" => {
                first(&mut seen, 2)?;
                u.arn = c.text()?;
            }
            "accountId" => {
                first(&mut seen, 3)?;
                u.account_id = c.text()?;
            }
            "accessKeyId" => {
                first(&mut seen, 4)?;
                u.access_key_id = c.text()?;
            }
            "userName" => {
                first(&mut seen, 5)?;
                u.user_name = c.text()?;
            }
            "invokedBy" => {
                first(&mut seen, 6)?;
                u.invoked_by = c.text()?;
            }
            "identityProvider" => {
                first(&mut seen, 7)?;
                u.identity_provider = c.text()?;
            }
            "sessionContext" => {
                first(&mut seen, 8)?;
                if !c.null()? {
                    session_context(c, u.session_context.insert(RawSessionContext::default()))?;
                }
            }
            _ => {
                c.skip()?;
            }
        }
        Some(())
    })
}

fn session_context<'a>(c: &mut Cur<'a>, s: &mut RawSessionContext<'a>) -> Option<()> {
    let mut seen = 0u32;
    c.members(|c, key| {
        match key {
            "sessionIssuer" => {
                first(&mut seen, 0)?;
                s.session_issuer = if c.null()? { None } else { Some(issuer(c)?) };
            }
            "attributes" => {
                first(&mut seen, 1)?;
                s.attributes = if c.null()? { None } else { Some(attributes(c)?) };
            }
            "ec2RoleDelivery" => {
                first(&mut seen, 2)?;
                s.ec2_role_delivery = c.text()?;
            }
            "sourceIdentity" => {
                first(&mut seen, 3)?;
                s.source_identity = c.text()?;
            }
            _ => {
                c.skip()?;
            }
        }
        Some(())
    })
}

fn issuer<'a>(c: &mut Cur<'a>) -> Option<RawIssuer<'a>> {
    let mut s = RawIssuer::default();
    let mut seen = 0u32;
    c.members(|c, key| {
        match key {
            "type" => {
                first(&mut seen, 0)?;
                s.kind = c.text()?;
            }
            "principalId" => {
                first(&mut seen, 1)?;
                s.principal_id = c.text()?;
            }
            "arn" => {
                first(&mut seen, 2)?;
                s.arn = c.text()?;
            }
            "userName" => {
                first(&mut seen, 3)?;
                s.user_name = c.text()?;
            }
            _ => {
                c.skip()?;
            }
        }
        Some(())
    })?;
    Some(s)
}

fn attributes<'a>(c: &mut Cur<'a>) -> Option<RawAttributes<'a>> {
    let mut s = RawAttributes::default();
    let mut seen = 0u32;
    c.members(|c, key| {
        match key {
            "creationDate" => {
                first(&mut seen, 0)?;
                s.creation_date = c.text()?;
            }
            _ => {
                c.skip()?;
            }
        }
        Some(())
    })?;
    Some(s)
}

fn resources<'a>(c: &mut Cur<'a>) -> Option<Vec<RawResource<'a>>> {
    if c.peek()? != b'[' {
        return None;
    }
    c.i += 1;
    let mut out = Vec::new();
    c.ws();
    if c.peek()? == b']' {
        c.i += 1;
        return Some(out);
    }
    loop {
        c.ws();
        if !c.null()? {
            let mut s = RawResource::default();
            let mut seen = 0u32;
            c.members(|c, key| {
                match key {
                    "ARN" => {
                        first(&mut seen, 0)?;
                        s.arn = c.text()?;
                    }
                    "type" => {
                        first(&mut seen, 1)?;
                        s.kind = c.text()?;
                    }
                    "accountId" => {
                        first(&mut seen, 2)?;
                        s.account_id = c.text()?;
                    }
                    _ => {
                        c.skip()?;
                    }
                }
                Some(())
            })?;
            out.push(s);
        }
        c.ws();
        let d = c.peek()?;
        c.i += 1;
        match d {
            b',' => {}
            b']' => return Some(out),
            _ => return None,
        }
    }
}

/// What the fast path made of one document.
pub(super) enum Outcome {
    /// The whole document was read; it ended at this offset of the text.
    Done(usize),
    /// It gave up after handing on this many records: the document must be read again by serde_json,
    /// which must not hand those on a second time.
    GaveUp(u64),
}

/// Reads the document at the start of `text`, `{"Records":[...]}`, handing each record to `sink`.
pub(super) fn records(text: &str, sink: &mut dyn FnMut(&RawRecord<'_>)) -> Outcome {
    let mut c = Cur { text, b: text.as_bytes(), i: 0 };
    let mut handed = 0u64;
    let done = (|| -> Option<usize> {
        c.eat(b'{')?;
        if c.key()? != "Records" || c.peek()? != b'[' {
            return None;
        }
        c.i += 1;
        c.ws();
        if c.peek()? != b']' {
            loop {
                c.ws();
                let mut rec = RawRecord::default();
                record(&mut c, &mut rec)?;
                sink(&rec);
                handed += 1;
                c.ws();
                let d = c.peek()?;
                c.i += 1;
                match d {
                    b',' => {}
                    b']' => break,
                    _ => return None,
                }
            }
        } else {
            c.i += 1;
        }
        // Another key after the records is the general reader's.
        c.eat(b'}')?;
        Some(c.i)
    })();
    match done {
        Some(end) => {
            #[cfg(test)]
            TAKEN.with(|t| t.set(t.get() + 1));
            Outcome::Done(end)
        }
        None => Outcome::GaveUp(handed),
    }
}

#[cfg(test)]
thread_local! {
    /// Documents this thread read with the fast path, so tests can tell it was used.
    static TAKEN: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

#[cfg(test)]
mod tests;
