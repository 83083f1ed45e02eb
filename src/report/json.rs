//! JSON writers for every JSON output (findings, reports, timelines, event dumps, summaries).
//!
//! JSON allows C1 controls and bidi characters raw; a `cat` of the file would then let them act on
//! the terminal or reorder what it shows. These writers escape them as `\uXXXX` (still valid JSON
//! that parses back to the same strings).

use super::escape::is_bidi;
use serde::Serialize;
use serde_json::ser::{Formatter, PrettyFormatter};
use std::io::{self, Write};

fn needs_escape(c: char) -> bool {
    ('\u{7f}'..='\u{9f}').contains(&c) || is_bidi(c) || matches!(c, '\u{2028}' | '\u{2029}')
}

/// Writes a string fragment (already free of what JSON itself escapes), escaping the rest.
fn write_fragment<W: ?Sized + Write>(w: &mut W, fragment: &str) -> io::Result<()> {
    let mut start = 0;
    for (i, c) in fragment.char_indices() {
        if needs_escape(c) {
            w.write_all(&fragment.as_bytes()[start..i])?;
            write!(w, "\\u{:04x}", c as u32)?;
            start = i + c.len_utf8();
        }
    }
    w.write_all(&fragment.as_bytes()[start..])
}

/// One JSON value per line.
struct Compact;

impl Formatter for Compact {
    fn write_string_fragment<W: ?Sized + Write>(&mut self, w: &mut W, fragment: &str) -> io::Result<()> {
        write_fragment(w, fragment)
    }
}

/// Indented; the layout methods are [`PrettyFormatter`]'s.
struct Pretty(PrettyFormatter<'static>);

impl Formatter for Pretty {
    fn write_string_fragment<W: ?Sized + Write>(&mut self, w: &mut W, fragment: &str) -> io::Result<()> {
        write_fragment(w, fragment)
    }
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
}

/// Compact JSON (one line) with C1 and bidi characters escaped.
pub fn to_writer<W: Write, T: Serialize + ?Sized>(w: W, value: &T) -> serde_json::Result<()> {
    value.serialize(&mut serde_json::Serializer::with_formatter(w, Compact))
}

/// Indented JSON with C1 and bidi characters escaped.
pub fn to_writer_pretty<W: Write, T: Serialize + ?Sized>(w: W, value: &T) -> serde_json::Result<()> {
    value.serialize(&mut serde_json::Serializer::with_formatter(w, Pretty(PrettyFormatter::new())))
}

/// [`to_writer_pretty`] into a string.
pub fn to_string_pretty<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    let mut buf = Vec::new();
    to_writer_pretty(&mut buf, value)?;
    // Only valid UTF-8 goes in: strings are copied whole or escaped.
    String::from_utf8(buf).map_err(|e| serde_json::Error::io(io::Error::new(io::ErrorKind::InvalidData, e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c1_and_bidi_are_escaped_and_parse_back() {
        let s = "a\u{85}b\u{9b}31m\u{202e}c\u{61c}\u{2066}d\u{200f}\x1be\u{7f}é✓";
        let v = serde_json::json!({ "k\u{202e}": [s] });
        let mut compact = Vec::new();
        to_writer(&mut compact, &v).unwrap();
        for text in [String::from_utf8(compact).unwrap(), to_string_pretty(&v).unwrap()] {
            assert!(!text.chars().any(|c| (c.is_control() && c != '\n') || is_bidi(c)), "{text:?}");
            assert!(text.contains("\\u0085") && text.contains("\\u202e") && text.contains("\\u061c"), "{text}");
            assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap(), v);
        }
    }
}
