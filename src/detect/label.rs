//! Ordering origins by their names without writing them out.

use super::state::{Interner, Origin};

impl Origin {
    /// Orders origins as their labels ([`Origin::label`]) would be ordered, without allocating them:
    /// the canonical order of a key's origins breaks ties in time by name, for every key of a scan.
    pub fn cmp_label(&self, other: &Origin, syms: &Interner) -> std::cmp::Ordering {
        let (mut a, mut b) = (LabelBuf::default(), LabelBuf::default());
        a.text(self, syms).cmp(b.text(other, syms))
    }
}

/// Room for an address's text (the longest, an IPv4-mapped IPv6 address, is 45 bytes).
struct LabelBuf {
    bytes: [u8; 48],
    len: usize,
}

impl Default for LabelBuf {
    fn default() -> Self {
        LabelBuf { bytes: [0; 48], len: 0 }
    }
}

impl std::fmt::Write for LabelBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        self.bytes.get_mut(self.len..end).ok_or(std::fmt::Error)?.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

impl LabelBuf {
    fn text<'a>(&'a mut self, o: &Origin, syms: &'a Interner) -> &'a str {
        match *o {
            Origin::Ip(a) => {
                use std::fmt::Write;
                // An address always fits; were it not to, its prefix still orders it.
                let _ = write!(self, "{a}");
                std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
            }
            Origin::Endpoint { id, .. } => syms.name(id),
            Origin::Unparsable(s) => syms.name(s),
        }
    }
}
