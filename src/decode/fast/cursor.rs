//! The cursor the fast path reads with: JSON's grammar, as strictly as serde_json checks it, over one
//! document's text. Every method returns `None` to mean "not taken here": the caller then gives the
//! document to serde_json.

use std::borrow::Cow;

/// Deeper nesting than this in a skipped value is left to serde_json: the open containers' kinds
/// then fit in 128 bits.
const MAX_DEPTH: u32 = 100;

/// A cursor over one document's text. Every method returns `None` to mean "not taken here".
pub(super) struct Cur<'a> {
    pub(super) text: &'a str,
    pub(super) b: &'a [u8],
    pub(super) i: usize,
    /// Per kind of object, which key followed which the last time (see [`Cur::members_in_order`]).
    pub(super) next: [[u8; 64]; KINDS],
}

/// Kinds of object whose keys [`Cur::members_in_order`] guesses.
pub(super) const KINDS: usize = 5;
/// The slot of "before the first key" in a guess table.
const START: u8 = 63;
/// The slot of "a key not in the names" in a guess table.
const UNKNOWN: u8 = 62;
/// No guess yet.
pub(super) const NO_GUESS: u8 = 255;

pub(super) type Text<'a> = Cow<'a, str>;

impl<'a> Cur<'a> {
    #[inline(always)]
    pub(super) fn ws(&mut self) {
        // Asked before every token, and CloudTrail writes none: one comparison settles nearly every
        // call (JSON's white space is all at or below the space).
        if self.b.get(self.i).is_some_and(|&c| c > b' ') {
            return;
        }
        while let Some(&c) = self.b.get(self.i) {
            if !matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
                break;
            }
            self.i += 1;
        }
    }

    #[inline]
    pub(super) fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline]
    pub(super) fn eat(&mut self, c: u8) -> Option<()> {
        self.ws();
        (self.peek()? == c).then(|| self.i += 1)
    }

    /// The end of the string whose opening quote is just before `self.i`: the index of its closing
    /// quote, and whether it holds escapes. Control characters and bad escapes are not taken.
    #[inline]
    pub(super) fn string_end(&mut self) -> Option<(usize, bool)> {
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
    pub(super) fn key(&mut self) -> Option<&'a str> {
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
        self.colon()?;
        Some(&self.text[start..end])
    }

    /// The `:` after a key and the white space around it; compact JSON, `":v`, in one comparison.
    #[inline(always)]
    fn colon(&mut self) -> Option<()> {
        if let Some(&[b':', c]) = self.b.get(self.i..self.i + 2) {
            if c > b' ' {
                self.i += 1;
                return Some(());
            }
        }
        self.eat(b':')?;
        self.ws();
        Some(())
    }

    /// Steps into the object at the cursor: `true` when it is empty (and so already closed).
    fn open_object(&mut self) -> Option<bool> {
        if self.peek()? != b'{' {
            return None;
        }
        self.i += 1;
        self.ws();
        let empty = self.peek()? == b'}';
        self.i += empty as usize;
        Some(empty)
    }

    /// Like [`Cur::members`], for an object whose keys come in a usual order: CloudTrail writes a
    /// record's fields in a fixed order. Each key is first compared with the one that followed the
    /// previous key last time, which spares the scan for the key's end and the search of `names`
    /// (the keys worth guessing, fewer than 62). The key handed to `f` is the same either way.
    pub(super) fn members_in_order(
        &mut self,
        kind: usize,
        names: &'static [&'static str],
        mut f: impl FnMut(&mut Self, &'a str) -> Option<()>,
    ) -> Option<()> {
        if self.open_object()? {
            return Some(());
        }
        let mut prev = START;
        loop {
            let guess = self.next[kind][prev as usize];
            let key = match names.get(guess as usize) {
                Some(name) if self.is_key(name) => {
                    self.i += name.len() + 2;
                    self.colon()?;
                    prev = guess;
                    *name
                }
                _ => {
                    let key = self.key()?;
                    let at = names.iter().position(|n| *n == key).map_or(UNKNOWN, |p| p as u8);
                    self.next[kind][prev as usize] = at;
                    prev = at;
                    key
                }
            };
            f(self, key)?;
            if !self.next_member()? {
                return Some(());
            }
        }
    }

    /// True when the cursor (after white space) is on the key `name`, quotes included. `name` holds
    /// no quote, backslash or control character, so the key is exactly `name`.
    #[inline]
    fn is_key(&mut self, name: &str) -> bool {
        self.ws();
        let at = self.i + 1;
        self.b.get(self.i) == Some(&b'"')
            && self.b.get(at..at + name.len()).is_some_and(|k| same(k, name.as_bytes()))
            && self.b.get(at + name.len()) == Some(&b'"')
    }

    /// A text field read like `lenient::text`: a string, `null` (empty) or a boolean (its name).
    pub(super) fn text(&mut self) -> Option<Text<'a>> {
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

    pub(super) fn literal(&mut self, word: &str) -> Option<()> {
        let end = self.i + word.len();
        (self.b.get(self.i..end)? == word.as_bytes()).then(|| self.i = end)
    }

    /// True when the value here is `null` (and consumes it).
    pub(super) fn null(&mut self) -> Option<bool> {
        if self.peek()? == b'n' {
            self.literal("null")?;
            return Some(true);
        }
        Some(false)
    }

    /// After a member's value: `true` when another member follows, `false` at the closing brace.
    #[inline]
    pub(super) fn next_member(&mut self) -> Option<bool> {
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
    pub(super) fn members(&mut self, mut f: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        if self.open_object()? {
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
    pub(super) fn skip(&mut self) -> Option<&'a str> {
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
    pub(super) fn number(&mut self) -> Option<()> {
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

/// `a == b` for slices of the same length, by overlapping 8- or 4-byte words: keys are 2 to 30
/// bytes, and a call into `memcmp` for each guessed key cost more than the comparison.
#[inline]
fn same(a: &[u8], b: &[u8]) -> bool {
    #[inline]
    fn word8(s: &[u8], at: usize) -> u64 {
        s.get(at..at + 8).and_then(|w| w.try_into().ok()).map_or(0, u64::from_ne_bytes)
    }
    #[inline]
    fn word4(s: &[u8], at: usize) -> u32 {
        s.get(at..at + 4).and_then(|w| w.try_into().ok()).map_or(0, u32::from_ne_bytes)
    }
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n >= 8 {
        let mut i = 0;
        while i + 8 < n {
            if word8(a, i) != word8(b, i) {
                return false;
            }
            i += 8;
        }
        word8(a, n - 8) == word8(b, n - 8)
    } else if n >= 4 {
        word4(a, 0) == word4(b, 0) && word4(a, n - 4) == word4(b, n - 4)
    } else {
        a == b
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn same_is_slice_equality_at_every_length_and_position() {
        let base: Vec<u8> = (0..40u8).map(|i| b'a' + i % 26).collect();
        for n in 0..base.len() {
            let a = &base[..n];
            assert!(super::same(a, a));
            for at in 0..n {
                let mut b = a.to_vec();
                b[at] ^= 0x20;
                assert!(!super::same(a, &b), "length {n}, byte {at}");
            }
            assert!(!super::same(a, &base[..n + 1]));
        }
    }
}
