//! Escaping for every output that shows log-derived (attacker-controlled) text.

use std::borrow::Cow;

/// Characters that reorder how text around them is displayed (Trojan Source): a log value holding
/// one can make a key or command read differently from what it is.
pub fn is_bidi(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Control characters (C0, DEL, C1), line and paragraph separators and bidi controls: whatever can
/// act on a terminal or break a line in a table instead of being shown.
pub fn is_unsafe(c: char) -> bool {
    c.is_control() || is_bidi(c) || matches!(c, '\u{2028}' | '\u{2029}')
}

/// Serialized JSON made inert for terminals and log viewers: every [`is_unsafe`] character is written
/// `\uXXXX`. Outside strings JSON holds only ASCII punctuation, digits and letters, so each such
/// character is inside a string, where the escape means the same character (all are in the BMP).
pub fn json_inert(json: String) -> String {
    if !json.chars().any(is_unsafe) {
        return json;
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if is_unsafe(c) {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// For terminals: control characters (ANSI escapes, carriage returns, bidi overrides) are shown as
/// `\u{..}` instead of acting on the terminal.
pub fn term(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_unsafe(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// For a whole document written to a terminal: [`term`] on each line, keeping the line breaks and
/// tabs the writer put there.
pub fn term_document(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, line) in s.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        for (j, part) in line.split('\t').enumerate() {
            if j > 0 {
                out.push('\t');
            }
            out.push_str(&term(part));
        }
    }
    out
}

/// For CSV cells opened by spreadsheets: a cell starting with `=`, `+`, `-`, `@`, tab or CR would be
/// run as a formula, so it gets a leading `'`. (Quoting is the csv writer's job.)
pub fn csv_cell(s: &str) -> Cow<'_, str> {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => Cow::Owned(format!("'{s}")),
        _ => Cow::Borrowed(s),
    }
}

/// For a shell command shown to be copied: single-quoted unless plainly safe (session names are
/// attacker-chosen and may hold quotes, `$(...)` or `;`).
pub fn shell(s: &str) -> Cow<'_, str> {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:@+=,".contains(c)) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(format!("'{}'", s.replace('\'', "'\\''")))
}

/// For HTML text and attribute values. Control and bidi characters are shown as `\u{..}` too: they
/// would otherwise reorder or hide what the page shows.
pub fn html(s: &str) -> Cow<'_, str> {
    if !s.contains(['<', '>', '&', '"', '\'']) && !s.chars().any(|c| is_unsafe(c) && c != '\n') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' => out.push('\n'),
            c if is_unsafe(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// For Markdown text and table cells (CommonMark and GitHub's dialect). Log text must stay text:
/// every ASCII punctuation that can open an inline construct (emphasis, code, links, images, raw
/// HTML, entities, strikethrough, math, table pipes) is backslash-escaped or written as an entity;
/// what opens a block (`#`, `>`, and `-`, `+`, `=` at the start) is escaped; control,
/// line-breaking and bidi characters are shown as `\u{..}`, so nothing ends a table row early; and
/// `://` and `www.` are broken so no renderer turns an address into a link. `'` stays as it is so
/// remediation commands read as written.
pub fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    let chars: Vec<char> = s.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '!' | '#' | '|' | '~' | '$' | '^' => {
                out.push('\\');
                out.push(c);
            }
            '-' | '+' | '=' if i == 0 => {
                out.push('\\');
                out.push(c);
            }
            ':' if chars.get(i + 1) == Some(&'/') && chars.get(i + 2) == Some(&'/') => out.push_str("\\:"),
            '.' if i >= 3 && chars[i - 3..i].iter().collect::<String>().eq_ignore_ascii_case("www") => {
                out.push_str("\\.")
            }
            c if is_unsafe(c) => out.push_str(&format!("\\\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bidi_set_includes_arabic_letter_mark() {
        assert!(is_bidi('\u{61c}'));
        assert_eq!(term("\u{61c}x\u{85}"), "\\u{61c}x\\u{85}");
        assert_eq!(html("\u{61c}"), "\\u{61c}");
    }

    #[test]
    fn markdown_escaping_neutralizes_constructs_and_line_breaks() {
        assert_eq!(md("![t](https://e.x/p.png)"), "\\!\\[t\\]\\(https\\://e.x/p.png\\)");
        assert_eq!(md("a\rb|c"), "a\\\\u{d}b\\|c");
        assert_eq!(md("# h"), "\\# h");
        assert_eq!(md("- x"), "\\- x");
        assert_eq!(md("198.51.100.20"), "198.51.100.20");
        assert_eq!(md("see www.evil.example"), "see www\\.evil.example");
        assert_eq!(md("revoke --session 'a b'"), "revoke --session 'a b'");
    }

    #[test]
    fn escapes() {
        assert_eq!(term("a\x1b[31mb"), "a\\u{1b}[31mb");
        assert_eq!(term("ok"), "ok");
        assert_eq!(term_document("a\x1b\tb\nc\r"), "a\\u{1b}\tb\nc\\u{d}");
        assert_eq!(csv_cell("=cmd|' /C calc'!A0"), "'=cmd|' /C calc'!A0");
        assert_eq!(csv_cell("-2+3"), "'-2+3");
        assert_eq!(csv_cell("aws-cli"), "aws-cli");
        assert_eq!(html("<script>\"'&"), "&lt;script&gt;&quot;&#39;&amp;");
        assert_eq!(html("a\u{202e}b\x1b"), "a\\u{202e}b\\u{1b}");
        assert_eq!(shell("i-0abc"), "i-0abc");
        assert_eq!(shell("a'b; rm -rf /"), "'a'\\''b; rm -rf /'");
    }
}
